"""The sans-I/O IKEv1 responder: RFC 2409 §5 main mode (pre-shared keys §5.4, signatures §5.1),
§5.5 quick mode, §5.7 informational exchanges with RFC 2408 §3.14/§3.15 notify and delete,
RFC 2407 §4.6.3 RESPONDER-LIFETIME and INITIAL-CONTACT, RFC 3947 NAT traversal (and drafts
02/03), RFC 3706 dead peer detection.

The core never touches a socket or a clock: :meth:`IkeResponder.receive_datagram` takes a
datagram with the endpoints it travelled between (``local.port`` 4500 for a datagram that came on
the NAT-T port, non-ESP marker already removed), :meth:`IkeResponder.datagrams_to_send` gives what
to send (the shell adds the marker on port 4500), :meth:`IkeResponder.get_timer` /
:meth:`IkeResponder.handle_timer` drive retransmissions and lifetimes, and
:meth:`IkeResponder.next_event` yields the SAs for the dataplane.

Malformed input is dropped and counted; nothing raises out of ``receive_datagram``. Notifies of
errors are sent only under an authenticated phase-1 SA (except NO-PROPOSAL-CHOSEN to message 1,
which a PIX sends in the clear).

Behaviour worth knowing when wiring it in:

- IKEv1 semantics: deleting or expiring a phase-1 SA leaves its IPsec SAs (the client rekeys
  phase 1 under live SAs); only DPD death and INITIAL-CONTACT take them too, and then every
  :class:`ChildSaDeleted` comes before the :class:`IkeSaDeleted`.
- The responder never starts a quick mode (no rekey towards a client behind NAT, as Windows
  requires); aggressive mode is not answered (the PIX without ``vpngroup``).
- ``isakmp_sa_status(now)`` / ``ipsec_sa_status(now)`` take an optional ``now`` for the
  seconds left; child SA ids are odd (inbound conn id = id, outbound = id + 1, as on the PIX).
- A one-byte ``b"\\xff"`` from :meth:`datagrams_to_send` is a NAT-T keepalive: send it on 4500
  without the non-ESP marker (:class:`pixgw.ike.transport.IkeUdpPorts` does).
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import IPv4Address
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from pixgw import syslog
from pixgw.config.model import PixConfig
from pixgw.deadlines import Deadlines
from pixgw.ike import constants as c
from pixgw.ike import crypto
from pixgw.ike.certauth import IkeCertificateSource, PeerIdentity
from pixgw.ike.events import (
    QUICK_MODE_ABANDONED,
    ChildSaDeleted,
    ChildSaEstablished,
    ChildSaPending,
    Encapsulation,
    Endpoint,
    EspSaParameters,
    IkeEvent,
    IkeSaDeleted,
    TrafficSelector,
)
from pixgw.ike.fragment import THRESHOLD, FragmentReassembly, fragment
from pixgw.ike.message import (
    Attribute,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    FragmentPayload,
    HashPayload,
    Header,
    IdPayload,
    KePayload,
    NatDPayload,
    NatOaPayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
    SigPayload,
    Transform,
    VendorIdPayload,
    decode_header,
    decode_payloads,
    encode_message,
    encode_payload_body,
    encode_payloads,
    payload_spans,
)
from pixgw.ike.natt import choose_variant, detect, nat_d_hash
from pixgw.ike.phase1 import IsakmpSa, MainModeInput, MainModeState, Retransmission, next_state
from pixgw.ike.policy import (
    ENC_NAMES,
    HASH_NAMES,
    choose_phase1,
    choose_phase2,
    esp_cipher_name,
    esp_integrity_name,
)
from pixgw.ike.quickmode import (
    QuickModeExchange,
    QuickModeState,
    keymat_length,
    selector_from_id,
    split_keymat,
)
from pixgw.status import IkeCounters, IpsecSaStatus, IsakmpSaStatus, IsakmpStats
from pixgw.syslog import LogSink
from pixgw.wire import MalformedMessage

__all__ = ["ChildSaRecord", "IkeResponder"]

RandomBytes = Callable[[int], bytes]
Datagram = tuple[bytes, Endpoint, Endpoint]

RETRANSMIT_INTERVAL = 5.0  # the PIX: first packet, then 5 retransmissions 5 s apart
RETRANSMIT_COUNT = 5
HALF_OPEN_LIFETIME = RETRANSMIT_INTERVAL * (RETRANSMIT_COUNT + 1)
QUICK_MODE_LIFETIME = HALF_OPEN_LIFETIME
MAX_PENDING_QUICK_MODES = 16
# Half-open negotiations (main mode 2 sent, 3 not yet in: all a spoofed source can make) are
# bounded apart from authenticated SAs (``isakmp limit half-open``, ``half-open-per-peer``, ``sa``)
# and in the bytes they hold. At the bound the oldest half-open one goes, so that a new first
# message, a real client's among a flood, always gets its answer and a slot that lives
# limit/flood-rate seconds; from half the bound on ("busy") main mode 2 goes once, unrepeated
# (a real client repeats its message 1, which is answered again), and the half-open SA lives
# HALF_OPEN_BUSY_LIFETIME instead of HALF_OPEN_LIFETIME: long enough for a client that repeats
# message 1 three times, short enough that a flood's state goes soon after it stops.
HALF_OPEN_BUSY_LIFETIME = 10.0
HALF_OPEN_MAX_BYTES = 16 * 1024 * 1024
# Retransmissions towards half-open peers (spoofed sources are victims of them): at most this many
# bytes a second in all, over the RETRANSMIT_COUNT each.
HALF_OPEN_RETRANSMIT_BYTES_PER_SECOND = 64 * 1024
# NO-PROPOSAL-CHOSEN answers to first messages (to whatever source they name) in a second; the
# rest are counted, unanswered
REFUSALS_ANSWERED_PER_SECOND = 100
# The largest phase-1 SA payload body kept as SAi_b (RFC 2409 §5: HASH_I/HASH_R cover it) and the
# largest first message: macOS offers 14 transforms (~600 bytes), Windows 5; 8 KB holds ~200.
MAX_SA_PAYLOAD = 8192
MAX_FIRST_MESSAGE = MAX_SA_PAYLOAD + 2048
FIRST_MESSAGE_CACHE = 64
# a refusal log line names at most this many offers or reasons (macOS offers 14: every real
# client's refusal is logged whole, error 789 needs it), then how many more
LOG_ITEMS = 16
DPD_RETRIES = 5
NONCE_BYTES = 32
_ZERO_COOKIE = bytes(8)
N_CONNECTED = 16384
NAT_KEEPALIVE = b"\xff"  # RFC 3948 §2.3; the shell sends it without the non-ESP marker
_ENCAPS_NAMES: dict[int, Encapsulation] = {
    c.ENCAPS_TRANSPORT: "transport", c.ENCAPS_TUNNEL: "tunnel",
    c.ENCAPS_UDP_TRANSPORT: "udp-transport", c.ENCAPS_UDP_TRANSPORT_DRAFT: "udp-transport",
    c.ENCAPS_UDP_TUNNEL: "udp-tunnel", c.ENCAPS_UDP_TUNNEL_DRAFT: "udp-tunnel",
}
_MS_VERSIONS = {2: "MSWIN2K", 3: "MSWINXP", 4: "MSWINXP-SP2", 5: "MSVISTA", 6: "MSWIN7",
                7: "MSWIN7", 8: "MSWIN7", 9: "MSWIN8+"}


class _PerSecond:
    """At most *limit* units (bytes, answers) in each whole second of the core's clock."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._second = 0
        self._used = 0

    def take(self, amount: int, now: float) -> bool:
        second = int(now)
        if second != self._second:
            self._second, self._used = second, 0
        if self._used + amount > self._limit:
            return False
        self._used += amount
        return True


@dataclass
class ChildSaRecord:
    event: ChildSaEstablished
    created: float
    expires_at: float


def _discard(index: dict[Any, set[Any]], key: Any, value: Any) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(value)
        if not members:
            del index[key]


class IkeResponder:
    """The IKEv1 responder for every peer of the gateway."""

    def __init__(self, config: PixConfig, *, random_bytes: RandomBytes,
                 certificates: IkeCertificateSource | None = None,
                 log: LogSink = syslog) -> None:
        self._log = log  # PIX syslog messages and debug lines (the process's publisher)
        self._config = config
        self._random = random_bytes
        self._certificates = certificates
        self._sas: dict[bytes, IsakmpSa] = {}
        self._by_initiator: dict[tuple[bytes, Endpoint], bytes] = {}
        self._quick: dict[tuple[bytes, int], QuickModeExchange] = {}
        self._children: dict[int, ChildSaRecord] = {}
        # quick modes by phase-1 SA, and the inbound SPIs taken (quick modes, child SAs): the
        # pending count, a phase-1 delete and a new SPI look these up instead of scanning
        self._quick_of_sa: dict[bytes, set[int]] = {}
        self._quick_spis: set[int] = set()
        self._child_spis: set[int] = set()
        # Timers: one deadline per phase-1 SA, quick mode and child SA (pixgw.deadlines, the
        # structure the L2TP core and the gateway's PPP sessions use too), set to the item's
        # earliest deadline wherever one is set, so get_timer/handle_timer cost what is due, not
        # the number of SAs; a deleted item's deadline is cancelled.
        self._sa_deadlines: Deadlines[bytes] = Deadlines()
        self._quick_deadlines: Deadlines[tuple[bytes, int]] = Deadlines()
        self._child_deadlines: Deadlines[int] = Deadlines()
        # who is who, for INITIAL-CONTACT and deletes without scanning every SA
        self._sas_by_address: dict[IPv4Address, set[bytes]] = {}
        self._children_by_address: dict[IPv4Address, set[int]] = {}
        self._children_by_sa: dict[bytes, set[int]] = {}
        # INITIAL-CONTACT's questions, indexed (a load generator or a NAT puts thousands of SAs
        # behind one address): authenticated SAs by (address, peer ID), child SAs by outer
        # (address, port), and child SAs whose phase 1 is gone by address
        self._sas_by_peer: dict[tuple[IPv4Address, tuple[int, bytes]], set[bytes]] = {}
        self._children_by_endpoint: dict[tuple[IPv4Address, int], set[int]] = {}
        self._orphans_by_address: dict[IPv4Address, set[int]] = {}
        self._out: list[Datagram] = []
        self._events: deque[IkeEvent] = deque()
        self._next_conn_id = 1
        self._next_child_id = 1
        self._reassembly = FragmentReassembly()
        self._next_fragment_id = 1
        self._counters: dict[str, int] = dict.fromkeys(IkeCounters.__dataclass_fields__, 0)
        # First messages repeat byte for byte after their cookies (every client of one OS sends
        # the same one; so does a flood tool): their decoding and the proposal chosen for them
        # are kept for the last FIRST_MESSAGE_CACHE bodies (the choice only while no one watches
        # debug crypto isakmp, whose lines the choosing writes; forgotten on reconfigure).
        self._first_decoded: dict[tuple[int, bytes], tuple[Any, Any]] = {}
        self._first_choice: dict[bytes, tuple[Any, list[str]]] = {}
        # Unauthenticated SAs (message 1 to 5) -> their source address, and per source, oldest
        # first; the half-open ones (waiting for message 3) -> the bytes they hold, oldest first.
        self._unauthenticated: dict[bytes, IPv4Address] = {}
        self._unauthenticated_by_source: dict[IPv4Address, dict[bytes, None]] = {}
        self._half_open: dict[bytes, int] = {}
        self._half_open_bytes = 0
        self._retransmit_budget = _PerSecond(HALF_OPEN_RETRANSMIT_BYTES_PER_SECOND)
        self._refusal_budget = _PerSecond(REFUSALS_ANSWERED_PER_SECOND)
        self._log_counts: dict[str, int] = {}

    def _debug(self, text: str) -> None:
        self._log.debug("crypto isakmp", text)

    def _ipsec_debug(self, text: str) -> None:
        self._log.debug("crypto ipsec", text)

    def _pix(self, message_id: int, text: str) -> None:
        self._log.pix_log(message_id, text)

    # --- public API -----------------------------------------------------------------------------

    def reconfigure(self, config: PixConfig) -> None:
        """New policies and maps apply to new exchanges; established SAs stay."""
        self._config = config
        self._first_choice.clear()

    @property
    def counters(self) -> IkeCounters:
        return IkeCounters(**self._counters)

    def receive_datagram(self, data: bytes, local: Endpoint, remote: Endpoint, now: float) -> None:
        self._count(received=1)
        try:
            self._receive(data, local, remote, now)
        except MalformedMessage as e:
            self._count(malformed=1)
            self._debug(f"ISAKMP: malformed message from {remote.address}: {e}")
        except ValueError as e:  # a value the crypto library refused (key sizes, points)
            self._count(malformed=1)
            self._debug(f"ISAKMP: unusable message from {remote.address}: {e}")

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> IkeEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        times = [
            t
            for t in (
                self._sa_deadlines.earliest(),
                self._quick_deadlines.earliest(),
                self._child_deadlines.earliest(),
                self._reassembly.next_expiry(),
            )
            if t is not None
        ]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        self._reassembly.expire(now)
        due_sas = self._sa_deadlines.pop_due(now)
        due_quick = self._quick_deadlines.pop_due(now)
        due_children = self._child_deadlines.pop_due(now)
        for ike_sa_id in due_sas:
            sa = self._sas.get(ike_sa_id)
            if sa is None:
                continue
            self._retransmit(sa.last_sent, sa.local, sa.remote, now,
                             budgeted=sa.ike_sa_id in self._half_open)
            if sa.expires_at is not None and sa.expires_at <= now:
                if sa.state is MainModeState.QM_IDLE:
                    self._delete_ike(sa, now, "lifetime expired", notify_peer=True)
                else:
                    self._count(half_open_expired=1)
                    self._debug(f"ISAKMP (0): deleting half-open SA with {sa.remote.address}")
                    self._delete_ike(sa, now, "half-open exchange expired", notify_peer=False,
                                     emit=False)
                continue
            if sa.dpd_next_at is not None and sa.dpd_next_at <= now:
                self._dpd_tick(sa, now)
            if sa.keepalive_next_at is not None and sa.keepalive_next_at <= now:
                self._out.append((NAT_KEEPALIVE, sa.local, sa.remote))
                interval = self._config.isakmp.nat_traversal
                sa.keepalive_next_at = now + interval if interval else None
            if sa.ike_sa_id in self._sas:
                self._arm_sa(sa)
        for key in due_quick:
            ex = self._quick.get(key)
            if ex is None:
                continue
            owner = self._sas.get(key[0])
            if ex.expires_at <= now or owner is None:
                self._drop_quick(key)
                continue
            self._retransmit(ex.last_sent, owner.local, owner.remote, now)
            self._arm_quick(key, ex)
        for child_id in due_children:
            record = self._children.get(child_id)
            if record is not None and record.expires_at <= now:
                self._delete_child(child_id, now, "lifetime expired")
            elif record is not None:
                self._child_deadlines.set(child_id, record.expires_at)

    # --- timers ---------------------------------------------------------------------------------

    def _arm_sa(self, sa: IsakmpSa) -> None:
        """The SA's deadline: the earliest of its retransmission, lifetime, DPD, keepalive."""
        times = [t for t in (sa.last_sent.next_at if sa.last_sent is not None else None,
                             sa.expires_at, sa.dpd_next_at, sa.keepalive_next_at)
                 if t is not None]
        self._sa_deadlines.set(sa.ike_sa_id, min(times) if times else None)

    def _arm_quick(self, key: tuple[bytes, int], ex: QuickModeExchange) -> None:
        retransmit = ex.last_sent.next_at if ex.last_sent is not None else None
        self._quick_deadlines.set(
            key, min(ex.expires_at, retransmit if retransmit is not None else ex.expires_at))

    def _set_endpoints(self, sa: IsakmpSa, local: Endpoint, remote: Endpoint) -> None:
        """Floated to 4500, or a new NAT mapping: the address index follows."""
        if remote.address != sa.remote.address and sa.ike_sa_id in self._sas:
            _discard(self._sas_by_address, sa.remote.address, sa.ike_sa_id)
            self._sas_by_address.setdefault(remote.address, set()).add(sa.ike_sa_id)
            if sa.peer_id is not None:
                _discard(self._sas_by_peer, (sa.remote.address, sa.peer_id), sa.ike_sa_id)
                self._sas_by_peer.setdefault((remote.address, sa.peer_id), set()).add(
                    sa.ike_sa_id)
        sa.local, sa.remote = local, remote

    def delete_ike_sa(self, ike_sa_id: bytes, now: float) -> None:
        """``clear crypto isakmp sa``: Delete to the peer, IkeSaDeleted out."""
        sa = self._sas.get(ike_sa_id)
        if sa is not None:
            self._delete_ike(sa, now, "cleared", notify_peer=True)

    def delete_child_sa(self, child_sa_id: int, now: float) -> None:
        """``clear crypto ipsec sa`` or the L2TP tunnel is gone: Delete to the peer."""
        self._delete_child(child_sa_id, now, "cleared")

    def child_to(self, address: IPv4Address, port: int) -> bool:
        """Whether a child SA to this outer address and port is up (an index, not a scan)."""
        return bool(self._children_by_endpoint.get((address, port)))

    def isakmp_sa_status(self, now: float | None = None) -> tuple[IsakmpSaStatus, ...]:
        out: list[IsakmpSaStatus] = []
        for sa in self._sas.values():
            choice = sa.choice
            pending = sum(1 for mid in self._quick_of_sa.get(sa.ike_sa_id, ())
                          if self._quick[(sa.ike_sa_id, mid)].state
                          is QuickModeState.QM_AUTH_AWAIT)
            left = 0
            if now is not None and sa.expires_at is not None:
                left = max(0, int(sa.expires_at - now))
            out.append(IsakmpSaStatus(
                dst=sa.local.address, src=sa.remote.address, state=sa.state.value,
                pending=pending, created=sa.children_created, ike_sa_id=sa.ike_sa_id,
                src_port=sa.remote.port, dst_port=sa.local.port, conn_id=sa.conn_id,
                encryption=_encryption_name(choice.cipher, choice.key_length) if choice else "",
                hash=HASH_NAMES.get(choice.hash, "") if choice else "",
                group=choice.group if choice else 0,
                authentication=choice.policy.authentication if choice else "",
                lifetime=choice.lifetime if choice else 0, seconds_left=left,
                nat_traversal=sa.natt.name if sa.natt else "",
                peer_behind_nat=sa.peer_behind_nat, peer_vendor=sa.peer_vendor, dpd=sa.peer_dpd,
            ))
        return tuple(out)

    def isakmp_stats(self) -> IsakmpStats:
        limits = self._config.isakmp
        unauthenticated = len(self._unauthenticated)
        return IsakmpStats(
            counters=self.counters, established=len(self._sas) - unauthenticated,
            half_open=len(self._half_open), negotiating=unauthenticated - len(self._half_open),
            half_open_bytes=self._half_open_bytes,
            sources_negotiating=len(self._unauthenticated_by_source),
            limit_half_open=limits.limit_half_open,
            limit_half_open_per_peer=limits.limit_half_open_per_peer, limit_sa=limits.limit_sa,
            fragments_pending=self._reassembly.pending,
            fragments_refused=self._reassembly.refused,
            fragments_evicted=self._reassembly.evicted,
            fragments_expired=self._reassembly.expired,
        )

    def ipsec_sa_status(self, now: float | None = None) -> tuple[IpsecSaStatus, ...]:
        """Snapshots without dataplane counters (the gateway merges :class:`SaCounters`)."""
        out: list[IpsecSaStatus] = []
        for record in self._children.values():
            e = record.event
            left = max(0, int(record.expires_at - now)) if now is not None else 0
            block = 16 if e.inbound.cipher.startswith("esp-aes") else (
                0 if e.inbound.cipher == "esp-null" else 8)
            udp = e.encapsulation.startswith("udp")
            mode = ("Transport" if "transport" in e.encapsulation else "Tunnel") + (
                ", UDP-Encaps" if udp else "")
            overhead = 8 + block + 2 + (12 if e.inbound.integrity else 0) + (8 if udp else 0)
            out.append(IpsecSaStatus(
                interface=_interface_for(self._config, e.local.address),
                crypto_map=e.crypto_map, crypto_map_sequence=e.crypto_map_sequence,
                local_address=e.local.address, remote_address=e.remote.address,
                remote_port=e.remote.port, local_ident=_ident(e.local_selector),
                remote_ident=_ident(e.remote_selector),
                transform=f"{e.inbound.cipher} {e.inbound.integrity or ''} ", mode=mode,
                inbound_spi=e.inbound.spi, outbound_spi=e.outbound.spi,
                inbound_conn_id=e.child_sa_id, outbound_conn_id=e.child_sa_id + 1,
                iv_size=block, ipsec_overhead=overhead + (20 if "tunnel" in e.encapsulation else 0),
                inbound_seconds_left=left, outbound_seconds_left=left,
                inbound_kilobytes_left=e.lifetime_kilobytes,
                outbound_kilobytes_left=e.lifetime_kilobytes,
            ))
        return tuple(out)

    def child_sa(self, child_sa_id: int) -> ChildSaEstablished | None:
        record = self._children.get(child_sa_id)
        return record.event if record else None

    # --- dispatch -------------------------------------------------------------------------------

    def _count(self, **increments: int) -> None:
        counters = self._counters
        for key, value in increments.items():
            counters[key] += value

    def _receive(self, data: bytes, local: Endpoint, remote: Endpoint, now: float) -> None:
        header, body = decode_header(data)
        if header.next_payload == c.PT_FRAGMENT:
            whole = self._fragment_received(header, body, remote, now)
            if whole is None:
                return
            data = whole
            header, body = decode_header(data)
            if header.next_payload == c.PT_FRAGMENT:
                raise MalformedMessage("a fragment inside a fragmented message")
        if header.exchange_type == c.EXCH_MAIN and header.responder_cookie == _ZERO_COOKIE:
            self._main_mode_1(header, body, data, local, remote, now=now)
            return
        if header.exchange_type == c.EXCH_AGGRESSIVE and header.responder_cookie == _ZERO_COOKIE:
            self._debug(f"ISAKMP (0): aggressive mode from {remote.address} not supported, "
                        f"dropped")
            self._count(proposals_refused=1)
            return
        sa = self._sas.get(header.cookies)
        if sa is None:
            self._count(unknown_sa=1)
            return
        if data == sa.last_received and header.exchange_type == c.EXCH_MAIN:
            self._answer_duplicate(sa.last_sent, local, remote)
            return
        if header.exchange_type == c.EXCH_MAIN:
            if sa.state is MainModeState.MM_SA_SETUP:
                self._main_mode_3(sa, header, body, data, local, remote=remote, now=now)
            elif sa.state is MainModeState.MM_KEY_EXCH:
                self._main_mode_5(sa, header, body, data, local, remote=remote, now=now)
            else:
                self._count(malformed=1)
        elif header.exchange_type == c.EXCH_QUICK:
            if next_state(sa.state, MainModeInput.QUICK_MODE) is None:
                self._count(malformed=1)
                return
            self._quick_mode(sa, header, body, data, local, remote=remote, now=now)
        elif header.exchange_type == c.EXCH_INFO:
            self._informational(sa, header, body, local, remote, now=now)
        else:
            self._debug(f"ISAKMP (0): exchange type {header.exchange_type} not supported")
            self._count(malformed=1)

    def _fragment_received(self, header: Header, body: bytes, remote: Endpoint,
                           now: float) -> bytes | None:
        if header.flags & c.FLAG_ENCRYPTION:
            raise MalformedMessage("encrypted fragment")
        payloads = decode_payloads(header.next_payload, body)
        if len(payloads) != 1 or not isinstance(payloads[0], FragmentPayload):
            raise MalformedMessage("a fragment message holds one FRAGMENT payload")
        self._count(fragments_received=1)
        whole = self._reassembly.add(header, payloads[0], remote, now)
        if whole is not None:
            inner, _ = decode_header(whole)
            if inner.cookies != header.cookies:
                raise MalformedMessage("reassembled message of other cookies")
            self._debug(f"ISAKMP (0): reassembled {len(whole)} bytes from "
                        f"{payloads[0].number} fragments of {remote.address}")
        return whole

    def _answer_duplicate(self, last: Retransmission | None, local: Endpoint,
                          remote: Endpoint) -> None:
        self._count(retransmissions_answered=1)
        if last is not None:
            self._debug(f"ISAKMP (0): retransmitting last message to {remote.address}")
            self._out.extend((d, local, remote) for d in last.fragments or (last.data,))

    def _retransmit(self, last: Retransmission | None, local: Endpoint, remote: Endpoint,
                    now: float, *, budgeted: bool = False) -> None:
        if last is None or last.next_at is None or last.next_at > now:
            return
        if budgeted and not self._retransmit_budget.take(len(last.data), now):
            self._count(retransmissions_suppressed=1)
        else:
            self._out.extend((d, local, remote) for d in last.fragments or (last.data,))
            self._count(retransmissions_sent=1)
        last.remaining -= 1
        last.next_at = last.next_at + RETRANSMIT_INTERVAL if last.remaining > 0 else None

    def _send(self, data: bytes, local: Endpoint, remote: Endpoint, now: float, *,
              retransmit: bool, sa: IsakmpSa | None = None) -> Retransmission:
        fragments: tuple[bytes, ...] = ()
        if sa is not None and sa.peer_fragmentation and len(data) > THRESHOLD:
            header, _ = decode_header(data)
            fragments = tuple(fragment(data, header, self._next_fragment_id))
            self._next_fragment_id = self._next_fragment_id % 0xFFFF + 1
        self._out.extend((d, local, remote) for d in fragments or (data,))
        if retransmit:
            return Retransmission(data, now + RETRANSMIT_INTERVAL, RETRANSMIT_COUNT, fragments)
        return Retransmission(data, None, 0, fragments)

    # --- main mode ------------------------------------------------------------------------------

    def _main_mode_1(self, header: Header, body: bytes, data: bytes, local: Endpoint,
                     remote: Endpoint, *, now: float) -> None:
        known = self._by_initiator.get((header.initiator_cookie, remote))
        if known is not None and known in self._sas:
            sa = self._sas[known]
            if sa.last_received == data:
                self._answer_duplicate(sa.last_sent, sa.local, sa.remote)
            else:
                self._count(malformed=1)
            return
        if header.message_id != 0 or header.flags & c.FLAG_ENCRYPTION:
            raise MalformedMessage("main mode message 1 with a message id or encrypted")
        owner = next((i.name for i in self._config.interfaces if i.address == local.address),
                     None)
        if owner is not None and owner not in self._config.isakmp.enabled_interfaces:
            self._debug(f"ISAKMP: isakmp not enabled on interface {owner}, message from "
                        f"{remote.address} dropped")
            self._count(proposals_refused=1)
            return
        decoded = self._first_decoded.get((header.next_payload, body))
        if decoded is None:
            decoded = (decode_payloads(header.next_payload, body),
                       payload_spans(header.next_payload, body))
            if len(self._first_decoded) >= FIRST_MESSAGE_CACHE:
                del self._first_decoded[next(iter(self._first_decoded))]
            self._first_decoded[(header.next_payload, body)] = decoded
        payloads, spans = decoded
        self._debug(f"crypto_isakmp_process_block: src {remote.address}, dest {local.address}")
        self._debug(f"ISAKMP: Created a peer node for {remote.address}")
        self._debug("OAK_MM exchange")
        if not payloads or not isinstance(payloads[0], SaPayload):
            raise MalformedMessage("main mode message 1 without an SA payload first")
        sa_payload = payloads[0]
        self._debug("ISAKMP (0): processing SA payload. message ID = 0")
        if (sa_payload.doi != c.DOI_IPSEC or len(sa_payload.proposals) != 1
                or sa_payload.proposals[0].protocol != c.PROTO_ISAKMP):
            raise MalformedMessage("phase-1 SA payload must hold one ISAKMP proposal")
        sa_body = spans[0][2] - spans[0][1] - 4
        if sa_body > MAX_SA_PAYLOAD or len(data) > MAX_FIRST_MESSAGE:
            self._count(refused_oversized=1)
            self._rate_log("oversized", f"IKE peer {remote.address}: first message of "
                                        f"{len(data)} bytes (SA payload {sa_body}) refused: "
                                        f"larger than any client offers")
            return
        limits = self._config.isakmp
        established = len(self._sas) - len(self._unauthenticated)
        if established >= limits.limit_sa and not any(
            self._sas[i].authenticated_at is not None
            for i in self._sas_by_address.get(remote.address, ())
        ):  # a peer with an SA up may rekey phase 1 at the bound: its old SA goes after
            self._count(refused_capacity=1)
            self._rate_log("capacity", f"IKE peer {remote.address}: refused, {established} "
                                       f"ISAKMP SAs up (isakmp limit sa {limits.limit_sa})")
            return
        proposal = sa_payload.proposals[0]
        sai_b = body[spans[0][1] + 4 : spans[0][2]]
        chosen = self._first_choice.get(sai_b)
        if chosen is None or self._log.debug_enabled("crypto isakmp"):
            chosen = choose_phase1(self._config, proposal, sink=self._log)
            if len(self._first_choice) >= FIRST_MESSAGE_CACHE:
                del self._first_choice[next(iter(self._first_choice))]
            self._first_choice[sai_b] = chosen
        choice, refusals = chosen
        vendor_ids = [p.data for p in payloads if isinstance(p, VendorIdPayload)]
        if choice is None:
            self._count(proposals_refused=1)
            self._pix(713900, f"IKE peer {remote.address}: no offered ISAKMP transform is "
                      f"acceptable ({_bounded(refusals)})")
            if not self._refusal_budget.take(1, now):  # a flood of refused offers: fewer answers
                self._count(refusals_unanswered=1)
                return
            notify = NotifyPayload(c.DOI_IPSEC, c.PROTO_ISAKMP, c.N_NO_PROPOSAL_CHOSEN)
            reply = encode_message(
                Header(header.initiator_cookie, self._cookie(), 0, c.ISAKMP_VERSION,
                       c.EXCH_INFO, 0, 0), (notify,))
            self._out.append((reply, local, remote))
            return
        if not self._admit_half_open(remote.address, now):
            return
        busy = len(self._half_open) >= max(1, limits.limit_half_open // 2)
        sa = IsakmpSa(cky_i=header.initiator_cookie, cky_r=self._cookie(), local=local,
                      remote=remote, created=now, conn_id=self._next_conn_id, choice=choice,
                      last_heard=now, first_remote=remote)
        self._next_conn_id += 1
        sa.cipher = crypto.cipher_spec(choice.cipher, choice.key_length)
        sa.sai_b = sai_b
        for vid in vendor_ids:
            self._debug("ISAKMP (0): processing vendor id payload")
            if vid.startswith(c.VID_MS_NT5_PREFIX) and len(vid) == 20:
                version = int.from_bytes(vid[16:], "big")
                sa.peer_vendor = _MS_VERSIONS.get(version, f"MS NT5 ISAKMPOAKLEY {version}")
                self._debug(f"ISAKMP (0): speaking to a {sa.peer_vendor} client")
            elif vid == c.VID_MS_INITIAL_CONTACT:
                sa.peer_initial_contact = True
            elif vid[:16] == c.VID_FRAGMENTATION:
                sa.peer_fragmentation = True
            elif vid == c.VID_DPD:
                sa.peer_dpd = True
                self._debug("ISAKMP (0): peer supports DPD")
        sa.natt = choose_variant(vendor_ids)
        if sa.natt is not None:
            self._debug(f"ISAKMP (0): peer supports NAT-T ({sa.natt.name})")
        answer: list[Payload] = [SaPayload(
            sa_payload.doi, sa_payload.situation,
            (Proposal(proposal.number, c.PROTO_ISAKMP, b"", (choice.transform,)),),
        )]
        if sa.natt is not None:
            answer.append(VendorIdPayload(sa.natt.vendor_id))
        if sa.peer_dpd:
            answer.append(VendorIdPayload(c.VID_DPD))
        if sa.peer_fragmentation:
            answer.append(VendorIdPayload(c.VID_FRAGMENTATION))
        reply = encode_message(Header(sa.cky_i, sa.cky_r, 0, c.ISAKMP_VERSION, c.EXCH_MAIN, 0, 0),
                               answer)
        sa.last_received = data
        sa.last_sent = self._send(reply, local, remote, now, retransmit=not busy)
        sa.state = next_state(sa.state, MainModeInput.MESSAGE_1) or sa.state
        sa.expires_at = now + (HALF_OPEN_BUSY_LIFETIME if busy else HALF_OPEN_LIFETIME)
        if busy:
            self._count(half_open_busy=1)
        self._sas[sa.ike_sa_id] = sa
        self._by_initiator[(sa.cky_i, remote)] = sa.ike_sa_id
        self._sas_by_address.setdefault(remote.address, set()).add(sa.ike_sa_id)
        held = len(sa.sai_b) + len(data) + len(reply)
        self._half_open[sa.ike_sa_id] = held
        self._half_open_bytes += held
        self._unauthenticated[sa.ike_sa_id] = remote.address
        self._unauthenticated_by_source.setdefault(remote.address, {})[sa.ike_sa_id] = None
        self._arm_sa(sa)
        self._pix(702208, f"ISAKMP Phase 1 exchange started (local {local.address} (responder), "
                  f"remote {remote.address})")

    def _admit_half_open(self, source: IPv4Address, now: float) -> bool:
        """Room for one more half-open SA from *source*: the oldest half-open one of the source
        goes when the source is at its bound (refused when all it holds are past message 3),
        then the oldest of all while the total count or bytes are at theirs."""
        limits = self._config.isakmp
        mine = self._unauthenticated_by_source.get(source)
        if mine is not None and len(mine) >= limits.limit_half_open_per_peer:
            victim = next((i for i in mine if i in self._half_open), None)
            if victim is None:
                self._count(refused_per_peer=1)
                self._rate_log("per-peer", f"IKE peer {source}: refused, {len(mine)} "
                                           f"negotiations in progress (isakmp limit "
                                           f"half-open-per-peer {limits.limit_half_open_per_peer})")
                return False
            self._evict(victim, now)
        while self._half_open and (len(self._half_open) >= limits.limit_half_open
                                   or self._half_open_bytes >= HALF_OPEN_MAX_BYTES):
            self._evict(next(iter(self._half_open)), now)
        return True

    def _evict(self, ike_sa_id: bytes, now: float) -> None:
        sa = self._sas.get(ike_sa_id)
        self._count(half_open_evicted=1)
        self._rate_log("evicted", "ISAKMP: half-open SAs at their bound, the oldest dropped "
                                  f"(isakmp limit half-open {self._config.isakmp.limit_half_open})")
        if sa is None:  # not expected: the indexes follow _sas
            self._leave_unauthenticated(ike_sa_id)
            return
        self._delete_ike(sa, now, "half-open SA evicted", notify_peer=False, emit=False)

    def _leave_half_open(self, ike_sa_id: bytes) -> None:
        held = self._half_open.pop(ike_sa_id, None)
        if held is not None:
            self._half_open_bytes -= held

    def _leave_unauthenticated(self, ike_sa_id: bytes) -> None:
        self._leave_half_open(ike_sa_id)
        source = self._unauthenticated.pop(ike_sa_id, None)
        if source is not None:
            mine = self._unauthenticated_by_source.get(source)
            if mine is not None:
                mine.pop(ike_sa_id, None)
                if not mine:
                    del self._unauthenticated_by_source[source]

    def _rate_log(self, key: str, text: str) -> None:
        """A log line for the 1st, 2nd, 4th, 8th, ... time *key* happens (floods stay quiet)."""
        count = self._log_counts[key] = self._log_counts.get(key, 0) + 1
        if count & (count - 1) == 0:
            self._pix(713900, f"{text} [{count} so far]" if count > 1 else text)

    def _cookie(self) -> bytes:
        cookie = self._random(8)
        return cookie if cookie != _ZERO_COOKIE else b"\x00" * 7 + b"\x01"

    def _main_mode_3(self, sa: IsakmpSa, header: Header, body: bytes, data: bytes,
                     local: Endpoint, *, remote: Endpoint, now: float) -> None:
        if header.flags & c.FLAG_ENCRYPTION or header.message_id != 0:
            raise MalformedMessage("main mode message 3 encrypted or with a message id")
        payloads = decode_payloads(header.next_payload, body)
        choice = sa.choice
        if choice is None or sa.cipher is None:
            return
        self._debug(f"crypto_isakmp_process_block: src {remote.address}, dest {local.address}")
        self._debug("OAK_MM exchange")
        ke = next((p for p in payloads if isinstance(p, KePayload)), None)
        nonce = next((p for p in payloads if isinstance(p, NoncePayload)), None)
        if ke is None or nonce is None:
            raise MalformedMessage("main mode message 3 without KE and nonce")
        if not 8 <= len(nonce.data) <= 256:
            raise MalformedMessage(f"nonce of {len(nonce.data)} bytes")
        self._debug("ISAKMP (0): processing KE payload. message ID = 0")
        dh = crypto.DhPrivate(choice.group, self._random)
        gxy = dh.shared_secret(ke.data)
        self._debug("ISAKMP (0): processing NONCE payload. message ID = 0")
        sa.peer_certreq = any(isinstance(p, CertReqPayload) for p in payloads)
        nr = self._random(NONCE_BYTES)
        if choice.auth == c.AUTH_PSK:
            key = self._config.isakmp.key_for(remote.address)
            if key is None:
                self._pix(713900, f"IKE peer {remote.address}: no pre-shared key configured for "
                          f"this address")
                self._count(authentication_failed=1)
                self._delete_ike(sa, now, "no pre-shared key", notify_peer=False, emit=False)
                return
            skeyid = crypto.skeyid_psk(choice.hash, key.key.encode(), nonce.data, nr)
        else:
            skeyid = crypto.skeyid_sig(choice.hash, nonce.data, nr, gxy)
        sa.dh, sa.gxi, sa.gxr, sa.gxy, sa.ni, sa.nr = dh, ke.data, dh.public, gxy, nonce.data, nr
        sa.keys = crypto.derive_phase1(choice.hash, skeyid, gxy, cky_i=sa.cky_i, cky_r=sa.cky_r,
                                       gxi=sa.gxi, gxr=sa.gxr, cipher=sa.cipher)
        sa.iv = sa.keys.initial_iv
        answer: list[Payload] = [KePayload(dh.public), NoncePayload(nr)]
        if choice.auth == c.AUTH_RSA_SIG:
            subjects = self._certificates.ca_subjects() if self._certificates else ()
            answer.extend(CertReqPayload(c.CERT_X509_SIG, s) for s in subjects)
            if not subjects:
                answer.append(CertReqPayload(c.CERT_X509_SIG, b""))
        nat_d = [p for p in payloads if isinstance(p, NatDPayload)]
        if sa.natt is not None and nat_d:
            received = [p.data for p in nat_d]
            found = detect(choice.hash, sa.cky_i, sa.cky_r, received, local=local, remote=remote)
            sa.peer_behind_nat, sa.local_behind_nat = (found.peer_behind_nat,
                                                       found.local_behind_nat)
            t = sa.natt.nat_d_type
            answer.append(NatDPayload(nat_d_hash(choice.hash, sa.cky_i, sa.cky_r, remote), t))
            answer.append(NatDPayload(nat_d_hash(choice.hash, sa.cky_i, sa.cky_r, local), t))
            if found.detected:
                where = "peer" if found.peer_behind_nat else "this end"
                self._debug(f"ISAKMP (0): NAT-Traversal ({sa.natt.name}): NAT detected, "
                            f"{where} is behind a NAT device")
                self._pix(713901, f"IKE peer {remote.address}/{remote.port}: NAT detected "
                          f"({where} behind NAT, {sa.natt.name}); ESP will use UDP 4500")
            else:
                self._debug(f"ISAKMP (0): NAT-Traversal ({sa.natt.name}): no NAT detected")
        reply = encode_message(Header(sa.cky_i, sa.cky_r, 0, c.ISAKMP_VERSION, c.EXCH_MAIN, 0, 0),
                               answer)
        sa.last_received = data
        sa.last_sent = self._send(reply, local, remote, now, retransmit=True, sa=sa)
        sa.state = next_state(sa.state, MainModeInput.MESSAGE_3) or sa.state
        sa.expires_at = now + HALF_OPEN_LIFETIME
        self._leave_half_open(sa.ike_sa_id)
        self._arm_sa(sa)

    def _main_mode_5(self, sa: IsakmpSa, header: Header, body: bytes, data: bytes,
                     local: Endpoint, *, remote: Endpoint, now: float) -> None:
        choice, cipher, keys = sa.choice, sa.cipher, sa.keys
        if choice is None or cipher is None or keys is None:
            return
        if not header.flags & c.FLAG_ENCRYPTION or header.message_id != 0:
            raise MalformedMessage("main mode message 5 not encrypted")
        plaintext = cipher.decrypt(keys.encryption_key, sa.iv, body)
        self._debug(f"crypto_isakmp_process_block: src {remote.address}, dest {local.address}")
        self._debug("OAK_MM exchange")
        try:
            payloads = decode_payloads(header.next_payload, plaintext, allow_padding=True)
            spans = payload_spans(header.next_payload, plaintext)
            id_index = next(i for i, p in enumerate(payloads) if isinstance(p, IdPayload))
        except (MalformedMessage, StopIteration):
            self._authentication_failed(sa, now, "message 5 does not decrypt to payloads (wrong "
                                                 "pre-shared key?)")
            return
        peer_id = payloads[id_index]
        if not isinstance(peer_id, IdPayload):
            return
        self._debug("ISAKMP (0): processing ID payload. message ID = 0")
        idii_b = plaintext[spans[id_index][1] + 4 : spans[id_index][2]]
        expected = crypto.hash_i(choice.hash, keys.skeyid, gxi=sa.gxi, gxr=sa.gxr, cky_i=sa.cky_i,
                                 cky_r=sa.cky_r, sai_b=sa.sai_b, idii_b=idii_b)
        identity = PeerIdentity(peer_id.id_type, peer_id.data)
        if choice.auth == c.AUTH_PSK:
            got = next((p.data for p in payloads if isinstance(p, HashPayload)), b"")
            self._debug("ISAKMP (0): processing HASH payload. message ID = 0")
            if not hmac.compare_digest(got, expected):
                self._authentication_failed(sa, now, "HASH_I does not verify (pre-shared key "
                                                     "mismatch)")
                return
        elif not self._verify_signature(sa, payloads, identity, expected, now):
            return
        sa.iv = body[-cipher.block_size :]
        if sa.peer_id is not None:
            _discard(self._sas_by_peer, (sa.remote.address, sa.peer_id), sa.ike_sa_id)
        sa.peer_id = (peer_id.id_type, peer_id.data)
        self._sas_by_peer.setdefault((sa.remote.address, sa.peer_id), set()).add(sa.ike_sa_id)
        self._debug("ISAKMP (0): SA has been authenticated")
        our_id = self._our_id(local)
        idir_b = encode_payload_body(our_id)
        hash_r = crypto.hash_r(choice.hash, keys.skeyid, gxi=sa.gxi, gxr=sa.gxr, cky_i=sa.cky_i,
                               cky_r=sa.cky_r, sai_b=sa.sai_b, idir_b=idir_b)
        answer: list[Payload] = [our_id]
        if choice.auth == c.AUTH_PSK:
            answer.append(HashPayload(hash_r))
        else:
            source = self._certificates
            key = source.private_key() if source else None
            if source is None or key is None:
                self._authentication_failed(sa, now, "no certificate enrolled for rsa-sig")
                return
            answer.extend(CertPayload(c.CERT_X509_SIG, der) for der in source.own_chain())
            answer.append(SigPayload(crypto.rsa_sign_raw(key, hash_r)))
        self._debug(f"ISAKMP (0): ID payload next-payload : {answer[1].payload_type} type : "
                    f"{our_id.id_type} protocol : {our_id.protocol} port : {our_id.port} "
                    f"length : {len(idir_b) + 4}")
        plaintext_out = encode_payloads(answer)
        encrypted = cipher.encrypt(keys.encryption_key, sa.iv, plaintext_out)
        sa.iv = encrypted[-cipher.block_size :]
        self._debug(f"ISAKMP (0): Total payload length: {len(plaintext_out)}")
        reply = encode_message(Header(sa.cky_i, sa.cky_r, our_id.payload_type, c.ISAKMP_VERSION,
                                      c.EXCH_MAIN, c.FLAG_ENCRYPTION, 0), encrypted_body=encrypted)
        self._set_endpoints(sa, local, remote)  # floated to 4500, or a new NAT mapping
        sa.last_received = data
        sa.last_sent = self._send(reply, local, remote, now, retransmit=False, sa=sa)
        sa.state = next_state(sa.state, MainModeInput.MESSAGE_5) or sa.state
        sa.authenticated_at = now
        self._leave_unauthenticated(sa.ike_sa_id)
        sa.last_heard = now
        sa.expires_at = now + choice.lifetime
        auth = "pre-share" if choice.auth == c.AUTH_PSK else "rsa-sig"
        self._pix(602201, f"ISAKMP Phase 1 SA created (local {local.address}/{local.port} "
                  f"(responder), remote {remote.address}/{remote.port}, "
                  f"authentication={auth}, "
                  f"encryption={_encryption_name(choice.cipher, choice.key_length)}, "
                  f"hash={HASH_NAMES.get(choice.hash, '?')}, group={choice.group}, "
                  f"lifetime={choice.lifetime}s)")
        keepalive = self._config.isakmp.keepalive
        if sa.peer_dpd and keepalive is not None:
            sa.dpd_next_at = now + keepalive[0]
        nat_keepalive = self._config.isakmp.nat_traversal
        if nat_keepalive and (sa.peer_behind_nat or sa.local_behind_nat):
            sa.keepalive_next_at = now + nat_keepalive
        self._arm_sa(sa)
        if sa.peer_initial_contact or any(
                isinstance(p, NotifyPayload) and p.message_type == c.N_INITIAL_CONTACT
                for p in payloads):
            self._initial_contact(sa, now)

    def _verify_signature(self, sa: IsakmpSa, payloads: Sequence[Payload],
                          identity: PeerIdentity, expected: bytes, now: float) -> bool:
        chain = [p.data for p in payloads
                 if isinstance(p, CertPayload) and p.encoding == c.CERT_X509_SIG]
        sig = next((p.data for p in payloads if isinstance(p, SigPayload)), None)
        for p in payloads:
            if isinstance(p, CertPayload):
                self._debug("ISAKMP (0): processing CERT payload. message ID = 0")
                self._debug("ISAKMP (0): processing a CT_X509_SIGNATURE cert")
        if self._certificates is None or not chain or sig is None:
            self._authentication_failed(sa, now, "no certificate or signature from the peer")
            return False
        verdict = self._certificates.verify_peer(chain, identity,
                                                 datetime.fromtimestamp(now, tz=UTC))
        if not verdict.accepted:
            self._authentication_failed(sa, now, f"certificate refused: {verdict.reason}")
            return False
        self._debug("ISAKMP (0): cert approved" + (" with warning" if verdict.warning else ""))
        try:
            public = x509.load_der_x509_certificate(chain[0]).public_key()
        except ValueError:
            self._authentication_failed(sa, now, "certificate not decodable")
            return False
        self._debug("ISAKMP (0): processing SIG payload. message ID = 0")
        if not isinstance(public, RSAPublicKey) or not crypto.rsa_verify_raw(public, sig,
                                                                             expected):
            self._authentication_failed(sa, now, "signature does not verify")
            return False
        return True

    def _authentication_failed(self, sa: IsakmpSa, now: float, why: str) -> None:
        self._count(authentication_failed=1)
        self._debug(f"ISAKMP (0): SA not authenticated: {why}")
        self._pix(713900, f"IKE peer {sa.remote.address}: phase 1 authentication failed: {why}")
        self._delete_ike(sa, now, why, notify_peer=False, emit=False)

    def _our_id(self, local: Endpoint) -> IdPayload:
        if self._config.isakmp.identity == "hostname":
            name = self._config.hostname
            if self._config.domain_name:
                name = f"{name}.{self._config.domain_name}"
            return IdPayload(c.ID_FQDN, 17, 500, name.encode())
        return IdPayload(c.ID_IPV4_ADDR, 17, 500, local.address.packed)

    def _initial_contact(self, sa: IsakmpSa, now: float) -> None:
        """RFC 2407 §4.6.3.3: the peer rebooted; drop its other SAs. A peer is the same address
        and ID, and behind a NAT also the same port: clients behind one (carrier-grade) NAT may
        share a private address, and one must never tear down another's SAs."""

        def same_peer(remote: Endpoint) -> bool:
            if sa.peer_behind_nat:
                return remote == sa.remote
            return remote.address == sa.remote.address

        address = sa.remote.address
        if sa.peer_id is not None:  # the SAs with the same address and ID, from the index
            same_id = self._sas_by_peer.get((address, sa.peer_id), set())
        else:
            same_id = {i for i in self._sas_by_address.get(address, ())
                       if self._sas[i].peer_id is None}
        gone = {i for i in same_id if i != sa.ike_sa_id and same_peer(self._sas[i].remote)}
        victims: set[int] = set()
        for ike_sa_id in gone:
            victims.update(self._children_by_sa.get(ike_sa_id, ()))
        # child SAs whose phase 1 is already gone: the same peer's if the endpoint matches
        victims.update(i for i in self._orphans_by_address.get(address, ())
                       if same_peer(self._children[i].event.remote))
        for child_id in sorted(victims):  # children first
            self._delete_child(child_id, now, "INITIAL-CONTACT", notify_peer=False)
        for ike_sa_id in gone:
            self._delete_ike(self._sas[ike_sa_id], now, "INITIAL-CONTACT", notify_peer=False)

    # --- quick mode -----------------------------------------------------------------------------

    def _quick_mode(self, sa: IsakmpSa, header: Header, body: bytes, data: bytes,
                    local: Endpoint, *, remote: Endpoint, now: float) -> None:
        if header.message_id == 0 or not header.flags & c.FLAG_ENCRYPTION:
            raise MalformedMessage("quick mode without a message id or not encrypted")
        key = (sa.ike_sa_id, header.message_id)
        ex = self._quick.get(key)
        if ex is not None:
            if data == ex.last_received:
                self._answer_duplicate(ex.last_sent, sa.local, sa.remote)
            elif ex.state is QuickModeState.QM_AUTH_AWAIT:
                self._quick_mode_3(sa, ex, header, body, data, now=now)
            return
        pending = len(self._quick_of_sa.get(sa.ike_sa_id, ()))
        if pending >= MAX_PENDING_QUICK_MODES:
            self._debug("ISAKMP: too many quick modes in progress, dropped")
            return
        self._quick_mode_1(sa, header, body, data, local, remote=remote, now=now)

    def _decrypt(self, sa: IsakmpSa, iv: bytes, header: Header, body: bytes
                 ) -> tuple[tuple[Payload, ...], bytes, list[tuple[int, int, int]]]:
        cipher, keys = sa.cipher, sa.keys
        if cipher is None or keys is None:
            raise MalformedMessage("no keys")
        plaintext = cipher.decrypt(keys.encryption_key, iv, body)
        payloads = decode_payloads(header.next_payload, plaintext, allow_padding=True)
        spans = payload_spans(header.next_payload, plaintext)
        if not payloads or not isinstance(payloads[0], HashPayload):
            raise MalformedMessage("protected message without HASH first")
        return payloads, plaintext, spans

    def _prf_a(self, sa: IsakmpSa, data: bytes) -> bytes:
        if sa.choice is None or sa.keys is None:
            raise MalformedMessage("no keys")
        return crypto.prf(sa.choice.hash, sa.keys.skeyid_a, data)

    def _quick_mode_1(self, sa: IsakmpSa, header: Header, body: bytes, data: bytes,
                      local: Endpoint, *, remote: Endpoint, now: float) -> None:
        choice1, cipher, keys = sa.choice, sa.cipher, sa.keys
        if choice1 is None or cipher is None or keys is None:
            return
        mid = header.message_id
        mid_b = mid.to_bytes(4, "big")
        iv0 = crypto.phase2_iv(choice1.hash, sa.iv, mid, cipher.block_size)
        payloads, plaintext, spans = self._decrypt(sa, iv0, header, body)
        iv = body[-cipher.block_size :]
        rest = plaintext[spans[0][2] : spans[-1][2]]
        self._debug(f"crypto_isakmp_process_block: src {remote.address}, dest {local.address}")
        self._debug("OAK_QM exchange")
        self._debug("oakley_process_quick_mode: OAK_QM_IDLE")
        if not isinstance(payloads[0], HashPayload):
            return
        if not hmac.compare_digest(payloads[0].data, self._prf_a(sa, mid_b + rest)):
            self._count(authentication_failed=1)
            self._debug("ISAKMP (0): quick mode HASH(1) does not verify, message dropped")
            return
        sa.last_heard = now
        sa_payload = next((p for p in payloads if isinstance(p, SaPayload)), None)
        nonce = next((p for p in payloads if isinstance(p, NoncePayload)), None)
        ke = next((p for p in payloads if isinstance(p, KePayload)), None)
        ids = [p for p in payloads if isinstance(p, IdPayload)]
        nat_oa = [p for p in payloads if isinstance(p, NatOaPayload)]
        if sa_payload is None or nonce is None or len(ids) not in (0, 2):
            raise MalformedMessage("quick mode message 1 without SA, nonce or a pair of IDs")
        if not 8 <= len(nonce.data) <= 256:
            raise MalformedMessage(f"nonce of {len(nonce.data)} bytes")
        self._debug(f"ISAKMP (0): processing SA payload. message ID = {mid}")
        if ids:
            remote_sel, local_sel = selector_from_id(ids[0]), selector_from_id(ids[1])
            if sa.local_behind_nat and local_sel.first == local_sel.last != local.address:
                # the client names our public address; we know ourselves by the private one
                local_sel = TrafficSelector(local.address, local.address, local_sel.protocol,
                                            local_sel.port)
        else:
            remote_sel = TrafficSelector(remote.address, remote.address)
            local_sel = TrafficSelector(local.address, local.address)
        natt = sa.natt is not None and (sa.peer_behind_nat or sa.local_behind_nat)
        choice, reason = choose_phase2(
            self._config, local=local.address, proposals=sa_payload.proposals,
            local_selector=local_sel, remote_selector=remote_sel, natt=natt,
            pfs_offered=ke is not None, sink=self._log)
        if choice is None:
            if reason.startswith("invalid transform"):
                self._ipsec_debug(f"IPSEC(validate_proposal): {reason}")
            else:
                self._ipsec_debug(reason)
            self._count(proposals_refused=1)
            self._pix(713900, f"IKE peer {remote.address}: quick mode refused: {reason} (offered: "
                      f"{_describe_offers(sa_payload.proposals)}; selectors "
                      f"{_proxy(remote_sel)} -> {_proxy(local_sel)})")
            code = (c.N_INVALID_ID_INFORMATION if reason.startswith("no IPSEC cryptomap")
                    else c.N_NO_PROPOSAL_CHOSEN)
            self._send_informational(sa, [NotifyPayload(c.DOI_IPSEC, c.PROTO_ESP, code)], now)
            return
        t = choice.transform
        cipher_name = esp_cipher_name(t.transform_id, t.attribute(c.P2_KEY_LENGTH))
        integrity = esp_integrity_name(t.attribute(c.P2_AUTH))
        self._log.debug("crypto ipsec",
              f"IPSEC(validate_proposal_request): proposal part #1, (key eng. msg.) "
              f"dest= {local.address}, src= {remote.address}, "
              f"dest_proxy= {_proxy(local_sel)}, src_proxy= {_proxy(remote_sel)}, "
              f"protocol= ESP, transform= {cipher_name} {integrity or ''} , lifedur= 0s and 0kb, "
              f"spi= 0x0(0), conn_id= 0, keysize= 0, flags= 0x0")
        gxy_qm = b""
        dh = None
        if choice.pfs_group is not None:
            if ke is None:
                raise MalformedMessage("PFS group without KE")
            dh = crypto.DhPrivate(choice.pfs_group, self._random)
            gxy_qm = dh.shared_secret(ke.data)
        elif ke is not None:
            raise MalformedMessage("KE without a PFS group")
        inbound_spi = self._spi()
        spi_int = int.from_bytes(inbound_spi, "big")
        self._ipsec_debug(f"IPSEC(spi_response): getting spi 0x{spi_int:x}({spi_int}) for "
                          f"SA from {remote.address} to {local.address} for prot 3")
        nr = self._random(NONCE_BYTES)
        answer: list[Payload] = [
            SaPayload(sa_payload.doi, sa_payload.situation,
                      (Proposal(choice.proposal.number, c.PROTO_ESP, inbound_spi, (t,)),)),
            NoncePayload(nr),
        ]
        if dh is not None:
            answer.append(KePayload(dh.public))
        answer.extend(ids)
        if choice.responder_lifetime:
            attrs = (Attribute.of(c.P2_LIFE_TYPE, c.LIFE_SECONDS),
                     Attribute.of(c.P2_LIFE_DURATION, choice.lifetime_seconds),
                     Attribute.of(c.P2_LIFE_TYPE, c.LIFE_KILOBYTES),
                     Attribute.of(c.P2_LIFE_DURATION, choice.lifetime_kilobytes))
            answer.append(NotifyPayload(c.DOI_IPSEC, c.PROTO_ESP, c.N_RESPONDER_LIFETIME,
                                        inbound_spi, _encode_attributes(attrs)))
        oa_i = oa_r = None
        if nat_oa:
            oa_i = _nat_oa_address(nat_oa[0])
            oa_r = _nat_oa_address(nat_oa[1]) if len(nat_oa) > 1 else None
            if sa.natt is not None:
                answer.append(NatOaPayload(c.ID_IPV4_ADDR, remote.address.packed,
                                           sa.natt.nat_oa_type))
                if sa.natt.nat_oa_type == c.PT_NAT_OA:
                    answer.append(NatOaPayload(c.ID_IPV4_ADDR, local.address.packed,
                                               sa.natt.nat_oa_type))
        hash2 = self._prf_a(sa, mid_b + nonce.data + encode_payloads(answer))
        plaintext_out = encode_payloads([HashPayload(hash2), *answer])
        encrypted = cipher.encrypt(keys.encryption_key, iv, plaintext_out)
        commit = bool(header.flags & c.FLAG_COMMIT)
        flags = c.FLAG_ENCRYPTION | (c.FLAG_COMMIT if commit else 0)
        reply = encode_message(Header(sa.cky_i, sa.cky_r, c.PT_HASH, c.ISAKMP_VERSION,
                                      c.EXCH_QUICK, flags, mid), encrypted_body=encrypted)
        self._set_endpoints(sa, local, remote)
        ex = QuickModeExchange(
            message_id=mid, iv=encrypted[-cipher.block_size :], ni=nonce.data, nr=nr,
            choice=choice, local_selector=local_sel, remote_selector=remote_sel,
            inbound_spi=inbound_spi, outbound_spi=choice.proposal.spi, gxy=gxy_qm,
            commit=commit, last_received=data,
            last_sent=self._send(reply, local, remote, now, retransmit=True),
            expires_at=now + QUICK_MODE_LIFETIME, nat_oa_initiator=oa_i, nat_oa_responder=oa_r,
            dh=dh,
        )
        self._quick[(sa.ike_sa_id, mid)] = ex
        self._quick_of_sa.setdefault(sa.ike_sa_id, set()).add(mid)
        self._quick_spis.add(int.from_bytes(ex.inbound_spi, "big"))
        self._arm_quick((sa.ike_sa_id, mid), ex)
        ex.child = self._child_sa(sa, ex)
        if ex.child is not None:
            # the initiator may send on the new SA as soon as it reads message 2
            self._events.append(ChildSaPending(ex.child))
        self._pix(702209, f"ISAKMP Phase 2 exchange started (local {local.address} (responder), "
                  f"remote {remote.address})")

    def _drop_quick(self, key: tuple[bytes, int]) -> None:
        ex = self._quick.pop(key, None)
        if ex is None:
            return
        self._quick_deadlines.cancel(key)
        self._quick_spis.discard(int.from_bytes(ex.inbound_spi, "big"))
        _discard(self._quick_of_sa, key[0], key[1])
        if ex.state is not QuickModeState.QM_DONE and ex.child is not None:
            # message 3 never came: the inbound SA installed with message 2 goes again
            e = ex.child
            self._debug(f"ISAKMP (0): quick mode {ex.message_id} with {e.remote.address} not "
                        f"completed, its inbound SA 0x{e.inbound.spi:x} removed")
            self._events.append(ChildSaDeleted(e.ike_sa_id, e.child_sa_id, e.inbound.spi,
                                               e.outbound.spi, QUICK_MODE_ABANDONED))

    def _spi(self) -> bytes:
        for _ in range(16):
            spi = self._random(4)
            value = int.from_bytes(spi, "big")
            if value >= 256 and value not in self._child_spis and value not in self._quick_spis:
                return spi
        raise ValueError("no free SPI")

    def _child_sa(self, sa: IsakmpSa, ex: QuickModeExchange) -> ChildSaEstablished | None:
        """The SA pair quick mode *ex* makes (RFC 2409 §5.5 KEYMAT, one per direction), with a
        fresh child id; None when the transform names no ESP cipher we run."""
        choice1 = sa.choice
        if choice1 is None or sa.keys is None:
            return None
        choice = ex.choice
        t = choice.transform
        cipher_name = esp_cipher_name(t.transform_id, t.attribute(c.P2_KEY_LENGTH))
        integrity = esp_integrity_name(t.attribute(c.P2_AUTH))
        if cipher_name is None:
            return None
        length = keymat_length(cipher_name, integrity)
        km = {}
        for direction, spi in (("in", ex.inbound_spi), ("out", ex.outbound_spi)):
            km[direction] = split_keymat(
                crypto.keymat(choice1.hash, sa.keys.skeyid_d, protocol=c.PROTO_ESP, spi=spi,
                              ni=ex.ni, nr=ex.nr, length=length, gxy_qm=ex.gxy),
                cipher_name, integrity)
        child_id = self._next_child_id
        self._next_child_id += 2
        return ChildSaEstablished(
            ike_sa_id=sa.ike_sa_id, child_sa_id=child_id, local=sa.local, remote=sa.remote,
            inbound=EspSaParameters(int.from_bytes(ex.inbound_spi, "big"), cipher_name, integrity,
                                    km["in"][0], km["in"][1]),
            outbound=EspSaParameters(int.from_bytes(ex.outbound_spi, "big"), cipher_name,
                                     integrity, km["out"][0], km["out"][1]),
            encapsulation=_ENCAPS_NAMES.get(choice.encapsulation, "tunnel"),
            local_selector=ex.local_selector, remote_selector=ex.remote_selector,
            lifetime_seconds=choice.lifetime_seconds,
            lifetime_kilobytes=choice.lifetime_kilobytes, crypto_map=choice.map_name,
            crypto_map_sequence=choice.map_sequence, remote_behind_nat=sa.peer_behind_nat,
            peer_vendor=sa.peer_vendor, nat_oa_initiator=ex.nat_oa_initiator,
            nat_oa_responder=ex.nat_oa_responder,
        )

    def _quick_mode_3(self, sa: IsakmpSa, ex: QuickModeExchange, header: Header, body: bytes,
                      data: bytes, *, now: float) -> None:
        choice1 = sa.choice
        if choice1 is None or sa.cipher is None:
            return
        mid_b = ex.message_id.to_bytes(4, "big")
        payloads, _, _ = self._decrypt(sa, ex.iv, header, body)
        self._debug("oakley_process_quick_mode: OAK_QM_AUTH_AWAIT")
        if not isinstance(payloads[0], HashPayload):
            return
        expected = self._prf_a(sa, b"\x00" + mid_b + ex.ni + ex.nr)
        if not hmac.compare_digest(payloads[0].data, expected):
            self._count(authentication_failed=1)
            self._debug("ISAKMP (0): quick mode HASH(3) does not verify, message dropped")
            return
        sa.last_heard = now
        event = ex.child
        if event is None:
            return
        child_id = event.child_sa_id
        choice = ex.choice
        cipher_name, integrity = event.inbound.cipher, event.inbound.integrity
        self._children[child_id] = ChildSaRecord(event, now, now + choice.lifetime_seconds)
        self._child_deadlines.set(child_id, now + choice.lifetime_seconds)
        self._children_by_address.setdefault(event.remote.address, set()).add(child_id)
        self._children_by_sa.setdefault(event.ike_sa_id, set()).add(child_id)
        self._children_by_endpoint.setdefault(
            (event.remote.address, event.remote.port), set()).add(child_id)
        self._child_spis.add(event.inbound.spi)
        sa.children_created += 1
        ex.state = QuickModeState.QM_DONE
        ex.last_received = data
        ex.last_sent = None
        self._debug("ISAKMP (0): Creating IPSec SAs")
        transform = f"{cipher_name} {integrity or ''} "
        for direction, spi_value, dest, conn in (
            ("inbound", event.inbound.spi, sa.local.address, child_id),
            ("outbound", event.outbound.spi, sa.remote.address, child_id + 1),
        ):
            self._debug(f"        {direction} SA has spi {spi_value} and conn_id {conn} and "
                        f"flags 0")
            self._pix(602301, f"sa created, (sa) sa_dest= {dest}, sa_prot= 50, sa_spi= "
                      f"0x{spi_value:x}({spi_value}), sa_trans= {transform}, "
                      f"sa_conn_id= {conn}")
        self._pix(702211, f"ISAKMP Phase 2 exchange completed (local {sa.local.address} "
                  f"(responder), remote {sa.remote.address})")
        self._events.append(event)
        if ex.commit:
            self._send_informational(sa, [NotifyPayload(c.DOI_IPSEC, c.PROTO_ESP, N_CONNECTED,
                                                        ex.inbound_spi)], now)

    # --- informational --------------------------------------------------------------------------

    def _informational(self, sa: IsakmpSa, header: Header, body: bytes, local: Endpoint,
                       remote: Endpoint, *, now: float) -> None:
        if not header.flags & c.FLAG_ENCRYPTION:
            # not authenticated: logged, never acted on (RFC 2408 §5.7)
            for p in decode_payloads(header.next_payload, body):
                if isinstance(p, NotifyPayload):
                    self._debug(f"ISAKMP (0): processing NOTIFY payload {p.message_type} "
                                f"protocol {p.protocol} (unauthenticated, ignored)")
            return
        if sa.state is not MainModeState.QM_IDLE or sa.choice is None or sa.cipher is None:
            self._count(malformed=1)
            return
        mid = header.message_id
        if mid == 0:
            raise MalformedMessage("informational exchange with message id 0")
        iv = crypto.phase2_iv(sa.choice.hash, sa.iv, mid, sa.cipher.block_size)
        payloads, plaintext, spans = self._decrypt(sa, iv, header, body)
        rest = plaintext[spans[0][2] : spans[-1][2]]
        if not isinstance(payloads[0], HashPayload):
            return
        if not hmac.compare_digest(payloads[0].data, self._prf_a(sa, mid.to_bytes(4, "big")
                                                                 + rest)):
            self._count(authentication_failed=1)
            self._debug("ISAKMP (0): informational HASH does not verify, message dropped")
            return
        sa.last_heard = now
        self._set_endpoints(sa, local, remote)
        for p in payloads[1:]:
            if isinstance(p, NotifyPayload):
                self._notify_received(sa, p, now)
            elif isinstance(p, DeletePayload):
                self._delete_received(sa, p, now)
                if sa.ike_sa_id not in self._sas:
                    return

    def _notify_received(self, sa: IsakmpSa, p: NotifyPayload, now: float) -> None:
        self._debug(f"ISAKMP (0): processing NOTIFY payload {p.message_type} protocol "
                    f"{p.protocol}")
        if p.message_type == c.N_R_U_THERE and len(p.data) == 4:
            self._send_informational(sa, [NotifyPayload(c.DOI_IPSEC, c.PROTO_ISAKMP,
                                                        c.N_R_U_THERE_ACK, sa.ike_sa_id, p.data)],
                                     now)
        elif p.message_type == c.N_R_U_THERE_ACK:
            if int.from_bytes(p.data[:4], "big") == sa.dpd_sequence:
                sa.dpd_unanswered = 0
                keepalive = self._config.isakmp.keepalive
                if keepalive is not None:
                    sa.dpd_next_at = now + keepalive[0]
                    self._arm_sa(sa)
        elif p.message_type == c.N_INITIAL_CONTACT:
            self._initial_contact(sa, now)

    def _delete_received(self, sa: IsakmpSa, p: DeletePayload, now: float) -> None:
        if p.protocol == c.PROTO_ISAKMP:
            if any(spi == sa.ike_sa_id for spi in p.spis):
                self._pix(702201, f"ISAKMP Phase 1 delete received (local {sa.local.address} "
                          f"(responder), remote {sa.remote.address})")
                self._delete_ike(sa, now, "deleted by peer", notify_peer=False)
            return
        if p.protocol != c.PROTO_ESP or p.spi_size != 4:
            return
        for spi_b in p.spis:
            spi = int.from_bytes(spi_b, "big")
            for child_id in sorted(self._children_by_address.get(sa.remote.address, ())):
                e = self._children[child_id].event
                if spi in (e.outbound.spi, e.inbound.spi):
                    self._delete_child(child_id, now, "deleted by peer", notify_peer=False)

    def _send_informational(self, sa: IsakmpSa, payloads: list[Payload], now: float) -> None:
        choice, cipher, keys = sa.choice, sa.cipher, sa.keys
        if choice is None or cipher is None or keys is None or sa.authenticated_at is None:
            return
        mid = 0
        while mid == 0 or mid in sa.info_message_ids:
            mid = int.from_bytes(self._random(4), "big")
        sa.info_message_ids.add(mid)
        if len(sa.info_message_ids) > 64:
            sa.info_message_ids.pop()
        h = self._prf_a(sa, mid.to_bytes(4, "big") + encode_payloads(payloads))
        iv = crypto.phase2_iv(choice.hash, sa.iv, mid, cipher.block_size)
        encrypted = cipher.encrypt(keys.encryption_key, iv,
                                   encode_payloads([HashPayload(h), *payloads]))
        data = encode_message(Header(sa.cky_i, sa.cky_r, c.PT_HASH, c.ISAKMP_VERSION,
                                     c.EXCH_INFO, c.FLAG_ENCRYPTION, mid),
                              encrypted_body=encrypted)
        self._out.append((data, sa.local, sa.remote))

    def _dpd_tick(self, sa: IsakmpSa, now: float) -> None:
        keepalive = self._config.isakmp.keepalive
        if keepalive is None:
            sa.dpd_next_at = None
            return
        if sa.dpd_unanswered >= DPD_RETRIES:
            self._debug(f"ISAKMP (0): DPD: {sa.remote.address} not responding, deleting SA")
            for child_id in sorted(self._children_by_sa.get(sa.ike_sa_id, ())):  # children first
                self._delete_child(child_id, now, "DPD: peer not responding", notify_peer=False)
            self._delete_ike(sa, now, "DPD: peer not responding", notify_peer=False)
            return
        if sa.dpd_unanswered == 0:
            sa.dpd_sequence = (sa.dpd_sequence + 1) & 0xFFFFFFFF or 1
        sa.dpd_unanswered += 1
        self._send_informational(sa, [NotifyPayload(c.DOI_IPSEC, c.PROTO_ISAKMP, c.N_R_U_THERE,
                                                    sa.ike_sa_id,
                                                    sa.dpd_sequence.to_bytes(4, "big"))], now)
        sa.dpd_next_at = now + keepalive[1]

    # --- deletion -------------------------------------------------------------------------------

    def _delete_ike(self, sa: IsakmpSa, now: float, reason: str, *, notify_peer: bool,
                    emit: bool = True) -> None:
        if notify_peer and sa.authenticated_at is not None:
            self._send_informational(sa, [DeletePayload(c.DOI_IPSEC, c.PROTO_ISAKMP, 16,
                                                        (sa.ike_sa_id,))], now)
            self._pix(702202, f"ISAKMP Phase 1 delete sent (local {sa.local.address} (responder), "
                      f"remote {sa.remote.address})")
        sa.state = next_state(sa.state, MainModeInput.DELETE) or MainModeState.MM_DELETED
        self._leave_unauthenticated(sa.ike_sa_id)
        if self._sas.pop(sa.ike_sa_id, None) is not None:
            _discard(self._sas_by_address, sa.remote.address, sa.ike_sa_id)
            if sa.peer_id is not None:
                _discard(self._sas_by_peer, (sa.remote.address, sa.peer_id), sa.ike_sa_id)
            self._sa_deadlines.cancel(sa.ike_sa_id)
            for child_id in self._children_by_sa.get(sa.ike_sa_id, ()):  # they outlive it
                orphan = self._children[child_id].event.remote.address
                self._orphans_by_address.setdefault(orphan, set()).add(child_id)
        first = (sa.cky_i, sa.first_remote or sa.remote)
        if self._by_initiator.get(first) == sa.ike_sa_id:
            del self._by_initiator[first]
        for mid in sorted(self._quick_of_sa.get(sa.ike_sa_id, ())):
            self._drop_quick((sa.ike_sa_id, mid))
        if emit and sa.authenticated_at is not None:
            self._events.append(IkeSaDeleted(sa.ike_sa_id, sa.remote, reason))

    def _delete_child(self, child_id: int, now: float, reason: str, *,
                      notify_peer: bool = True) -> None:
        record = self._children.pop(child_id, None)
        if record is None:
            return
        self._child_deadlines.cancel(child_id)
        e = record.event
        _discard(self._children_by_address, e.remote.address, child_id)
        _discard(self._children_by_sa, e.ike_sa_id, child_id)
        _discard(self._children_by_endpoint, (e.remote.address, e.remote.port), child_id)
        _discard(self._orphans_by_address, e.remote.address, child_id)
        self._child_spis.discard(e.inbound.spi)
        if notify_peer:
            # its own phase 1, else the oldest established one with the same address (indexed:
            # not a scan of every SA, which made tearing down N clients quadratic)
            sa = self._sas.get(e.ike_sa_id) or min(
                (s for i in self._sas_by_address.get(e.remote.address, ())
                 if (s := self._sas[i]).state is MainModeState.QM_IDLE),
                key=lambda s: s.conn_id, default=None)
            if sa is not None:
                self._send_informational(sa, [DeletePayload(
                    c.DOI_IPSEC, c.PROTO_ESP, 4, (e.inbound.spi.to_bytes(4, "big"),))], now)
        transform = f"{e.inbound.cipher} {e.inbound.integrity or ''} "
        for spi, dest, conn in ((e.inbound.spi, e.local.address, e.child_sa_id),
                                (e.outbound.spi, e.remote.address, e.child_sa_id + 1)):
            self._pix(602302, f"deleting SA, (sa) sa_dest= {dest}, sa_prot= 50, "
                      f"sa_spi= 0x{spi:x}({spi}), sa_trans= {transform}, sa_conn_id= {conn}")
        self._events.append(ChildSaDeleted(e.ike_sa_id, child_id, e.inbound.spi, e.outbound.spi,
                                           reason))


# --- helpers ------------------------------------------------------------------------------------


def _encryption_name(cipher: int, key_length: int | None) -> str:
    name = ENC_NAMES.get(cipher, str(cipher))
    if cipher == c.ENC_AES:
        return f"AES-{key_length or 128}-CBC"
    return name


def _bounded(items: Sequence[str], limit: int = LOG_ITEMS) -> str:
    """At most *limit* items of a log line, then how many more there were."""
    shown = "; ".join(item[:200] for item in items[:limit])
    more = len(items) - limit
    return f"{shown}; and {more} more" if more > 0 else shown


def _describe_offers(proposals: Sequence[Proposal]) -> str:
    offers = []
    for p in proposals:
        for t in p.transforms:
            if p.protocol != c.PROTO_ESP:
                offers.append(f"protocol {p.protocol}")
                continue
            cipher = esp_cipher_name(t.transform_id, t.attribute(c.P2_KEY_LENGTH))
            integrity = esp_integrity_name(t.attribute(c.P2_AUTH))
            mode = _ENCAPS_NAMES.get(t.attribute(c.P2_ENCAPSULATION) or c.ENCAPS_TUNNEL, "?")
            group = t.attribute(c.P2_GROUP)
            offers.append(f"{cipher or t.transform_id} {integrity or 'no-auth'} {mode}"
                          + (f" pfs group{group}" if group else ""))
            if len(offers) > LOG_ITEMS:
                break
    total = sum(len(p.transforms) for p in proposals)
    shown = ", ".join(offers[:LOG_ITEMS]) or "nothing"
    return f"{shown}, and {total - LOG_ITEMS} more" if total > LOG_ITEMS else shown


def _encode_attributes(attrs: Sequence[Attribute]) -> bytes:
    t = Transform(0, 0, tuple(attrs))
    body = encode_payload_body(SaPayload(0, c.SIT_IDENTITY_ONLY, (Proposal(0, 0, b"", (t,)),)))
    return body[8 + 8 + 8 :]  # DOI+situation, proposal header, transform header


def _nat_oa_address(p: NatOaPayload) -> IPv4Address | None:
    if p.id_type == c.ID_IPV4_ADDR and len(p.address) == 4:
        return IPv4Address(p.address)
    return None


def _proxy(sel: TrafficSelector) -> str:
    mask = IPv4Address(0xFFFFFFFF ^ (int(sel.last) - int(sel.first))) if (
        (int(sel.last) - int(sel.first)) & (int(sel.last) - int(sel.first) + 1)) == 0 else (
        IPv4Address(0))
    return f"{sel.first}/{mask}/{sel.protocol}/{sel.port} (type=1)"


def _ident(sel: TrafficSelector) -> tuple[IPv4Address, IPv4Address, int, int]:
    span = int(sel.last) - int(sel.first)
    mask = IPv4Address(0xFFFFFFFF ^ span) if span & (span + 1) == 0 else IPv4Address(0)
    return sel.first, mask, sel.protocol, sel.port


def _interface_for(config: PixConfig, address: IPv4Address) -> str:
    for i in config.interfaces:
        if i.address == address:
            return i.name
    maps = [m for m in config.crypto.maps if m.interfaces]
    return maps[0].interfaces[0] if maps else "outside"
