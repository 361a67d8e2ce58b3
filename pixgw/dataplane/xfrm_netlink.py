"""NETLINK_XFRM messages (Linux ``include/uapi/linux/xfrm.h``; RFC 4301 §4.4 SPD/SAD entries,
RFC 4303 ESP, RFC 3948 UDP encapsulation): the structs, their encoders, a request/answer socket
and the kernel probes the XFRM dataplane (:mod:`pixgw.dataplane.xfrm`) is built on.

pyroute2 has no XFRM messages, so they are declared here in its netlink style (``nlmsg``/``nla``
classes with flat ``fields``, explicit ``x`` padding where the C structs have holes); the byte
layout is tested against what iproute2's ``ip xfrm`` sends. Ours are recognised by their reqid
(:data:`REQID_BASE` + child SA id).
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import Any, Final

from pyroute2.netlink import nla, nlmsg

from pixgw.dataplane.interfaces import SaCounters
from pixgw.esp.parameters import EspSaParameters
from pixgw.esp.sa import CIPHERS, INTEGRITIES

NETLINK_XFRM: Final = 6
XFRM_MSG_NEWSA: Final = 0x10
XFRM_MSG_DELSA: Final = 0x11
XFRM_MSG_GETSA: Final = 0x12
XFRM_MSG_NEWPOLICY: Final = 0x13
XFRM_MSG_DELPOLICY: Final = 0x14
XFRM_MSG_GETPOLICY: Final = 0x15
XFRM_MSG_EXPIRE: Final = 0x18
XFRM_MSG_UPDPOLICY: Final = 0x19
XFRM_MSG_UPDSA: Final = 0x1A
XFRM_MSG_FLUSHSA: Final = 0x1C
XFRMNLGRP_EXPIRE: Final = 2

NLM_F_REQUEST: Final = 0x1
NLM_F_ACK: Final = 0x4
NLM_F_DUMP: Final = 0x300
NLM_F_CREATE: Final = 0x400
NLM_F_EXCL: Final = 0x200
NLMSG_ERROR: Final = 0x2
NLMSG_DONE: Final = 0x3

XFRM_INF: Final = 0xFFFFFFFFFFFFFFFF
XFRM_MODE_TRANSPORT: Final = 0
XFRM_MODE_TUNNEL: Final = 1
XFRM_POLICY_IN: Final = 0
XFRM_POLICY_OUT: Final = 1
XFRM_POLICY_ALLOW: Final = 0
IPPROTO_ESP: Final = 50
IPPROTO_UDP: Final = 17
AF_INET: Final = 2
UDP_ENCAP: Final = 100
UDP_ENCAP_ESPINUDP: Final = 2
SOL_UDP: Final = 17

REQID_BASE: Final = 0x50780000  # "Px" << 16: ours
REQID_MASK: Final = 0xFFFF0000

# Kernel crypto API names for the PIX transforms.
KERNEL_CIPHERS: Final = {
    "esp-des": "cbc(des)",
    "esp-3des": "cbc(des3_ede)",
    "esp-aes": "cbc(aes)",
    "esp-aes-192": "cbc(aes)",
    "esp-aes-256": "cbc(aes)",
    "esp-null": "ecb(cipher_null)",
}
KERNEL_INTEGRITIES: Final = {
    "esp-md5-hmac": ("hmac(md5)", 96),
    "esp-sha-hmac": ("hmac(sha1)", 96),
    "esp-sha256-hmac": ("hmac(sha256)", 128),
}

_SELECTOR: Final = (
    ("sel_daddr", "16s"),
    ("sel_saddr", "16s"),
    ("sel_dport", ">H"),
    ("sel_dport_mask", ">H"),
    ("sel_sport", ">H"),
    ("sel_sport_mask", ">H"),
    ("sel_family", "H"),
    ("sel_prefixlen_d", "B"),
    ("sel_prefixlen_s", "B"),
    ("sel_proto", "B"),
    ("__sel_pad", "3x"),
    ("sel_ifindex", "i"),
    ("sel_user", "I"),
)
_LIFETIME_CFG: Final = (
    ("lft_soft_byte_limit", "Q"),
    ("lft_hard_byte_limit", "Q"),
    ("lft_soft_packet_limit", "Q"),
    ("lft_hard_packet_limit", "Q"),
    ("lft_soft_add_expires_seconds", "Q"),
    ("lft_hard_add_expires_seconds", "Q"),
    ("lft_soft_use_expires_seconds", "Q"),
    ("lft_hard_use_expires_seconds", "Q"),
)
_LIFETIME_CUR: Final = (
    ("cur_bytes", "Q"),
    ("cur_packets", "Q"),
    ("cur_add_time", "Q"),
    ("cur_use_time", "Q"),
)


class _xfrm_nlas:
    """The XFRMA_* attributes (``enum xfrm_attr_type_t``) and their payload structs."""

    nla_map: tuple[tuple[str, str], ...] = (
        ("XFRMA_UNSPEC", "none"),
        ("XFRMA_ALG_AUTH", "xfrm_algo"),
        ("XFRMA_ALG_CRYPT", "xfrm_algo"),
        ("XFRMA_ALG_COMP", "xfrm_algo"),
        ("XFRMA_ENCAP", "xfrm_encap_tmpl"),
        ("XFRMA_TMPL", "xfrm_user_tmpl"),
        ("XFRMA_SA", "hex"),
        ("XFRMA_POLICY", "hex"),
        ("XFRMA_SEC_CTX", "hex"),
        ("XFRMA_LTIME_VAL", "hex"),
        ("XFRMA_REPLAY_VAL", "hex"),
        ("XFRMA_REPLAY_THRESH", "uint32"),
        ("XFRMA_ETIMER_THRESH", "uint32"),
        ("XFRMA_SRCADDR", "xfrm_address"),
        ("XFRMA_COADDR", "hex"),
        ("XFRMA_LASTUSED", "uint64"),
        ("XFRMA_POLICY_TYPE", "hex"),
        ("XFRMA_MIGRATE", "hex"),
        ("XFRMA_ALG_AEAD", "hex"),
        ("XFRMA_KMADDRESS", "hex"),
        ("XFRMA_ALG_AUTH_TRUNC", "xfrm_algo_auth"),
        ("XFRMA_MARK", "hex"),
    )

    class xfrm_algo(nla):  # type: ignore[misc]
        """struct xfrm_algo: name, key length in bits, key."""

        fields = (("alg_name", "64s"), ("alg_key_len", "I"), ("alg_key", "s"))

        def decode(self) -> None:
            nla.decode(self)
            start = self.offset + 4 + 68
            self["alg_key"] = bytes(self.data[start : self.offset + self.length])

    class xfrm_algo_auth(nla):  # type: ignore[misc]
        """struct xfrm_algo_auth: name, key length and truncation length in bits, key."""

        fields = (
            ("alg_name", "64s"),
            ("alg_key_len", "I"),
            ("alg_trunc_len", "I"),
            ("alg_key", "s"),
        )

        def decode(self) -> None:
            nla.decode(self)
            start = self.offset + 4 + 72
            self["alg_key"] = bytes(self.data[start : self.offset + self.length])

    class xfrm_encap_tmpl(nla):  # type: ignore[misc]
        """struct xfrm_encap_tmpl: UDP_ENCAP_ESPINUDP and the outer ports (RFC 3948)."""

        fields = (
            ("encap_type", "H"),
            ("encap_sport", ">H"),
            ("encap_dport", ">H"),
            ("__pad", "2x"),
            ("encap_oa", "16s"),
        )

    class xfrm_user_tmpl(nla):  # type: ignore[misc]
        """struct xfrm_user_tmpl: the SA a policy asks for."""

        fields = (
            ("id_daddr", "16s"),
            ("id_spi", ">I"),
            ("id_proto", "B"),
            ("__pad1", "3x"),
            ("family", "H"),
            ("__pad2", "2x"),
            ("saddr", "16s"),
            ("reqid", "I"),
            ("mode", "B"),
            ("share", "B"),
            ("optional", "B"),
            ("__pad3", "x"),
            ("aalgos", "I"),
            ("ealgos", "I"),
            ("calgos", "I"),
        )

    class xfrm_address(nla):  # type: ignore[misc]
        fields = (("addr", "16s"),)


class xfrm_usersa_info(_xfrm_nlas, nlmsg):  # type: ignore[misc]
    """XFRM_MSG_NEWSA/UPDSA (and the answer to GETSA): struct xfrm_usersa_info, 224 bytes."""

    fields = (
        *_SELECTOR,
        ("id_daddr", "16s"),
        ("id_spi", ">I"),
        ("id_proto", "B"),
        ("__id_pad", "3x"),
        ("saddr", "16s"),
        *_LIFETIME_CFG,
        *_LIFETIME_CUR,
        ("stats_replay_window", "I"),
        ("stats_replay", "I"),
        ("stats_integrity_failed", "I"),
        ("seq", "I"),
        ("reqid", "I"),
        ("family", "H"),
        ("mode", "B"),
        ("replay_window", "B"),
        ("flags", "B"),
        ("__pad", "7x"),
    )


class xfrm_usersa_id(_xfrm_nlas, nlmsg):  # type: ignore[misc]
    """XFRM_MSG_DELSA/GETSA: struct xfrm_usersa_id (+ XFRMA_SRCADDR)."""

    fields = (
        ("daddr", "16s"),
        ("spi", ">I"),
        ("family", "H"),
        ("proto", "B"),
        ("__pad", "x"),
    )


class xfrm_usersa_flush(nlmsg):  # type: ignore[misc]
    """XFRM_MSG_FLUSHSA: struct xfrm_usersa_flush."""

    fields = (("proto", "B"),)


class xfrm_userpolicy_info(_xfrm_nlas, nlmsg):  # type: ignore[misc]
    """XFRM_MSG_NEWPOLICY/UPDPOLICY: struct xfrm_userpolicy_info, 168 bytes (+ XFRMA_TMPL)."""

    fields = (
        *_SELECTOR,
        *_LIFETIME_CFG,
        *_LIFETIME_CUR,
        ("priority", "I"),
        ("index", "I"),
        ("dir", "B"),
        ("action", "B"),
        ("flags", "B"),
        ("share", "B"),
        ("__pad", "4x"),
    )


class xfrm_userpolicy_id(_xfrm_nlas, nlmsg):  # type: ignore[misc]
    """XFRM_MSG_DELPOLICY/GETPOLICY: struct xfrm_userpolicy_id."""

    fields = (*_SELECTOR, ("index", "I"), ("dir", "B"), ("__pad", "3x"))


class xfrm_user_expire(_xfrm_nlas, nlmsg):  # type: ignore[misc]
    """XFRM_MSG_EXPIRE: struct xfrm_usersa_info then ``__u8 hard``."""

    fields = (*xfrm_usersa_info.fields, ("hard", "B"), ("__pad_hard", "7x"))


# Offsets inside struct xfrm_usersa_info (checked by the tests against the declared fields).
_CURLFT_OFFSET: Final = 160
_STATS_OFFSET: Final = 192
_REQID_OFFSET: Final = 208

# --- building messages ------------------------------------------------------------------------


def _addr(address: IPv4Address | None) -> bytes:
    return (address.packed if address is not None else b"") + bytes(16 if address is None else 12)


def _selector(
    source: IPv4Address | None,
    source_prefix: int,
    destination: IPv4Address | None,
    destination_prefix: int,
    *,
    protocol: int = 0,
    source_port: int = 0,
    destination_port: int = 0,
) -> dict[str, Any]:
    return {
        "sel_daddr": _addr(destination),
        "sel_saddr": _addr(source),
        "sel_dport": destination_port,
        "sel_dport_mask": 0xFFFF if destination_port else 0,
        "sel_sport": source_port,
        "sel_sport_mask": 0xFFFF if source_port else 0,
        "sel_family": AF_INET,
        "sel_prefixlen_d": destination_prefix,
        "sel_prefixlen_s": source_prefix,
        "sel_proto": protocol,
        "sel_ifindex": 0,
        "sel_user": 0,
    }


def _lifetime(
    soft_bytes: int = XFRM_INF,
    hard_bytes: int = XFRM_INF,
    soft_seconds: int = 0,
    hard_seconds: int = 0,
) -> dict[str, Any]:
    return {
        "lft_soft_byte_limit": soft_bytes,
        "lft_hard_byte_limit": hard_bytes,
        "lft_soft_packet_limit": XFRM_INF,
        "lft_hard_packet_limit": XFRM_INF,
        "lft_soft_add_expires_seconds": soft_seconds,
        "lft_hard_add_expires_seconds": hard_seconds,
        "lft_soft_use_expires_seconds": 0,
        "lft_hard_use_expires_seconds": 0,
    }


def _finish(msg: nlmsg, msg_type: int, flags: int, seq: int) -> bytes:
    msg["header"]["type"] = msg_type
    msg["header"]["flags"] = flags
    msg["header"]["sequence_number"] = seq
    msg["header"]["pid"] = 0
    msg.encode()
    return bytes(msg.data)


def encode_newsa(
    *,
    source: IPv4Address,
    destination: IPv4Address,
    sa: EspSaParameters,
    reqid: int,
    mode: int = XFRM_MODE_TRANSPORT,
    replay_window: int = 32,
    selector: dict[str, Any] | None = None,
    encap: tuple[int, int] | None = None,
    lifetime_seconds: int = 0,
    lifetime_kilobytes: int = 0,
    soft_fraction: float = 0.9,
    seq: int = 0,
    msg_type: int = XFRM_MSG_NEWSA,
    flags: int = NLM_F_REQUEST | NLM_F_ACK,
) -> bytes:
    """XFRM_MSG_NEWSA for one direction of an ESP SA, like ``ip xfrm state add ... proto esp``:
    XFRMA_ALG_AUTH_TRUNC, XFRMA_ALG_CRYPT, then XFRMA_ENCAP when *encap* (sport, dport)."""
    msg = xfrm_usersa_info()
    # No selector: family 0, as ip(8) sends; the kernel then takes the SA's family.
    msg.update(selector or {**_selector(None, 0, None, 0), "sel_family": 0})
    hard_bytes = lifetime_kilobytes * 1024 if lifetime_kilobytes else XFRM_INF
    soft_bytes = int(hard_bytes * soft_fraction) if lifetime_kilobytes else XFRM_INF
    soft_seconds = int(lifetime_seconds * soft_fraction) if lifetime_seconds else 0
    msg.update(_lifetime(soft_bytes, hard_bytes, soft_seconds, lifetime_seconds))
    msg.update(dict.fromkeys((name for name, _ in _LIFETIME_CUR), 0))
    msg.update(
        {
            "id_daddr": _addr(destination),
            "id_spi": sa.spi,
            "id_proto": IPPROTO_ESP,
            "saddr": _addr(source),
            "stats_replay_window": 0,
            "stats_replay": 0,
            "stats_integrity_failed": 0,
            "seq": 0,
            "reqid": reqid,
            "family": AF_INET,
            "mode": mode,
            "replay_window": replay_window,
            "flags": 0,
        }
    )
    attrs: list[list[Any]] = []
    if sa.integrity is not None:
        name, trunc = KERNEL_INTEGRITIES[sa.integrity]
        if sa.integrity == "esp-sha256-hmac" and sa.truncated_sha256:
            trunc = 96
        attrs.append(
            [
                "XFRMA_ALG_AUTH_TRUNC",
                {
                    "alg_name": name.encode(),
                    "alg_key_len": len(sa.integrity_key) * 8,
                    "alg_trunc_len": trunc,
                    "alg_key": sa.integrity_key,
                },
            ]
        )
    key = sa.encryption_key
    attrs.append(
        [
            "XFRMA_ALG_CRYPT",
            {
                "alg_name": KERNEL_CIPHERS[sa.cipher].encode(),
                "alg_key_len": len(key) * 8,
                "alg_key": key,
            },
        ]
    )
    if encap is not None:
        attrs.append(
            [
                "XFRMA_ENCAP",
                {
                    "encap_type": UDP_ENCAP_ESPINUDP,
                    "encap_sport": encap[0],
                    "encap_dport": encap[1],
                    "encap_oa": bytes(16),
                },
            ]
        )
    msg["attrs"] = attrs
    return _finish(msg, msg_type, flags, seq)


def encode_delsa(
    *, source: IPv4Address, destination: IPv4Address, spi: int, seq: int = 0, get: bool = False
) -> bytes:
    """XFRM_MSG_DELSA (or GETSA), like ``ip xfrm state delete src S dst D proto esp spi N``."""
    msg = xfrm_usersa_id()
    msg.update({"daddr": _addr(destination), "spi": spi, "family": AF_INET, "proto": IPPROTO_ESP})
    msg["attrs"] = [["XFRMA_SRCADDR", {"addr": _addr(source)}]]
    return _finish(msg, XFRM_MSG_GETSA if get else XFRM_MSG_DELSA, NLM_F_REQUEST | NLM_F_ACK, seq)


def encode_flushsa(seq: int = 0) -> bytes:
    """XFRM_MSG_FLUSHSA of all ESP SAs, like ``ip xfrm state flush proto esp`` (not used on a
    shared host: :meth:`XfrmDataplane.flush_ours` deletes only ours)."""
    msg = xfrm_usersa_flush()
    msg["proto"] = IPPROTO_ESP
    return _finish(msg, XFRM_MSG_FLUSHSA, NLM_F_REQUEST | NLM_F_ACK, seq)


def encode_dump_sa(seq: int = 0) -> bytes:
    """XFRM_MSG_GETSA with NLM_F_DUMP: every SA."""
    msg = xfrm_usersa_id()
    msg.update({"daddr": bytes(16), "spi": 0, "family": 0, "proto": 0})
    return _finish(msg, XFRM_MSG_GETSA, NLM_F_REQUEST | NLM_F_DUMP, seq)


def encode_newpolicy(
    *,
    selector: dict[str, Any],
    direction: int,
    template_source: IPv4Address | None,
    template_destination: IPv4Address | None,
    reqid: int,
    priority: int = 0,
    mode: int = XFRM_MODE_TRANSPORT,
    seq: int = 0,
    msg_type: int = XFRM_MSG_NEWPOLICY,
) -> bytes:
    """XFRM_MSG_NEWPOLICY with one ESP XFRMA_TMPL, like ``ip xfrm policy add ... tmpl ... proto
    esp reqid R mode transport``."""
    msg = xfrm_userpolicy_info()
    msg.update(selector)
    msg.update(_lifetime())
    msg.update(dict.fromkeys((name for name, _ in _LIFETIME_CUR), 0))
    msg.update(
        {
            "priority": priority,
            "index": 0,
            "dir": direction,
            "action": XFRM_POLICY_ALLOW,
            "flags": 0,
            "share": 0,
        }
    )
    msg["attrs"] = [
        [
            "XFRMA_TMPL",
            {
                "id_daddr": _addr(template_destination),
                "id_spi": 0,
                "id_proto": IPPROTO_ESP,
                "family": AF_INET,
                "saddr": _addr(template_source),
                "reqid": reqid,
                "mode": mode,
                "share": 0,
                "optional": 0,
                "aalgos": 0xFFFFFFFF,
                "ealgos": 0xFFFFFFFF,
                "calgos": 0xFFFFFFFF,
            },
        ]
    ]
    return _finish(msg, msg_type, NLM_F_REQUEST | NLM_F_ACK, seq)


def encode_delpolicy(*, selector: dict[str, Any], direction: int, seq: int = 0) -> bytes:
    """XFRM_MSG_DELPOLICY, like ``ip xfrm policy delete <selector> dir D``."""
    msg = xfrm_userpolicy_id()
    msg.update(selector)
    msg.update({"index": 0, "dir": direction})
    return _finish(msg, XFRM_MSG_DELPOLICY, NLM_F_REQUEST | NLM_F_ACK, seq)


# --- the socket -----------------------------------------------------------------------------


class XfrmError(OSError):
    """The kernel refused a request (errno from NLMSG_ERROR)."""


class XfrmSocket:
    """A NETLINK_XFRM socket doing one request at a time (blocking, bounded by a timeout)."""

    def __init__(self, groups: int = 0) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_XFRM)
        self.sock.settimeout(2.0)
        self.sock.bind((0, groups))
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return self._seq

    def request(self, build: Callable[..., bytes]) -> list[tuple[int, bytes]]:
        """Send one message built for a fresh sequence number; return the (type, body) answers
        up to the ACK or NLMSG_DONE. Raises :class:`XfrmError` on a negative ACK."""
        seq = self.next_seq()
        self.sock.send(build(seq=seq))
        answers: list[tuple[int, bytes]] = []
        for _ in range(10000):
            data = self.sock.recv(65536)
            pos = 0
            while pos + 16 <= len(data):
                length, msg_type, _flags, msg_seq, _pid = struct.unpack_from("=IHHII", data, pos)
                if length < 16:
                    return answers
                body = data[pos + 16 : pos + length]
                pos += (length + 3) & ~3
                if msg_seq != seq:
                    continue
                if msg_type == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", body)[0]
                    if code:
                        raise XfrmError(code, os.strerror(code))
                    return answers
                if msg_type == NLMSG_DONE:
                    return answers
                answers.append((msg_type, body))
        return answers


def decode_usersa_info(body: bytes) -> xfrm_usersa_info:
    """An XFRM_MSG_NEWSA body (header stripped) as the declared message."""
    header = struct.pack("=IHHII", 16 + len(body), XFRM_MSG_NEWSA, 0, 0, 0)
    msg = xfrm_usersa_info(header + body)
    msg.decode()
    return msg


def kernel_has_esp() -> bool:
    """True when the kernel accepts an ESP SA (esp4 present): a throwaway SA towards a
    documentation address (192.0.2.255, never used: no policy points at it) is added and
    deleted again. Used by ``--dataplane auto``."""
    try:
        xs = XfrmSocket()
    except OSError:
        return False
    spi = 0xFFFF0000 | (os.getpid() & 0xFFFF)
    target = IPv4Address("192.0.2.255")
    params = EspSaParameters(spi, "esp-aes", "esp-sha-hmac", bytes(16), bytes(20))
    try:
        xs.request(
            lambda seq: encode_newsa(
                source=target, destination=target, sa=params, reqid=REQID_BASE, seq=seq
            )
        )
    except OSError:
        return False
    else:
        with contextlib.suppress(OSError):
            xs.request(
                lambda seq: encode_delsa(source=target, destination=target, spi=spi, seq=seq)
            )
        return True
    finally:
        xs.close()


def counters_from_kernel(
    inbound: bytes,
    outbound: bytes,
    *,
    now: int,
    lifetime_seconds: int,
    lifetime_kilobytes: int,
) -> SaCounters:
    """:class:`SaCounters` from the two GETSA answers (struct xfrm_usersa_info): packets and
    bytes from ``curlft``, replay and integrity failures from ``stats``, the remaining lifetime
    from ``curlft.add_time`` (wall-clock seconds) and the bytes used."""
    in_bytes, in_packets, in_added = struct.unpack_from("=QQQ", inbound, _CURLFT_OFFSET)
    out_bytes, out_packets, out_added = struct.unpack_from("=QQQ", outbound, _CURLFT_OFFSET)
    _, replay, integrity_failed = struct.unpack_from("=III", inbound, _STATS_OFFSET)

    def seconds_left(added: int) -> int:
        return max(0, lifetime_seconds - max(0, now - added)) if lifetime_seconds else 0

    def kilobytes_left(used: int) -> int:
        return max(0, lifetime_kilobytes - used // 1024) if lifetime_kilobytes else 0

    return SaCounters(
        encaps=out_packets,
        encrypt=out_packets,
        digest=out_packets,
        decaps=in_packets,
        decrypt=in_packets,
        verify=in_packets,
        recv_errors=integrity_failed,
        replay_failures=replay,
        bytes_in=in_bytes,
        bytes_out=out_bytes,
        inbound_seconds_left=seconds_left(in_added),
        outbound_seconds_left=seconds_left(out_added),
        inbound_kilobytes_left=kilobytes_left(in_bytes),
        outbound_kilobytes_left=kilobytes_left(out_bytes),
    )


def esp_overhead(params: EspSaParameters) -> int:
    """What ESP adds to an empty payload (header, IV, pad, trailer, ICV), as the userspace
    SA computes it for ``ipsec overhead``."""
    block = CIPHERS[params.cipher].block_size
    icv = INTEGRITIES[params.integrity].icv_length if params.integrity else 0
    if params.integrity == "esp-sha256-hmac" and params.truncated_sha256:
        icv = 12
    iv = block if block > 1 else 0
    return 8 + iv + (-2 % max(block, 4)) + 2 + icv


def enable_espinudp(sock: socket.socket) -> None:
    """RFC 3948 in the kernel: ESP arriving on this UDP (4500) socket is decapsulated by the
    kernel; IKE (non-ESP marker) and keepalives still reach the socket."""
    sock.setsockopt(SOL_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP)


