"""The coverage-guided fuzz targets (issue 30), one per decoder and two stateful ones, each a
function of one input's bytes that must return or raise only the error its decoder documents
(anything else is a crash), with the seeds its corpus starts from: the annotated vectors in
tests/vectors and messages the testing peers (the same code paths the QEMU clients' captures
exercise) make, and real clients' packets recorded from the QEMU clients (tests/vectors/captures,
read by captures.py). ``scripts/fuzz.py`` runs them under atheris (libFuzzer); the pytest module
test_targets.py runs every target on its seeds.

Stateful targets: ``lns`` feeds a sequence of datagrams to one fresh L2TP LNS (task.Clock
between them); ``gateway`` feeds datagrams from three peers (IKE on 500/4500, L2TP on three
child SAs, IP from the inside, time passing) to one fresh Gateway with the in-memory dataplane,
and checks its invariants after each input: nothing escapes, every PPP link has its L2TP
session, every pool lease its link, no counter below zero.
"""

from __future__ import annotations

import contextlib
import functools
import struct
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"


def annotated_hex(path: Path) -> bytes:
    """An annotated vector: hex left of ``#`` on each line, joined."""
    digits = "".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
    return bytes.fromhex("".join(digits.split()))


# --- decoders ---------------------------------------------------------------------------------


def ike_message(data: bytes) -> None:
    from pixgw.ike.message import decode_message, decode_payloads
    from pixgw.wire import MalformedMessage

    with contextlib.suppress(MalformedMessage):
        decode_message(data)
    if data:
        with contextlib.suppress(MalformedMessage):
            decode_payloads(data[0], data[1:], allow_padding=True)


def ike_responder(data: bytes) -> None:
    """Datagrams to an IKE responder, unencrypted and (after a main mode with the testing
    initiator) encrypted with the IKE SA's keys - the decrypted payload chains are fuzzed - and
    time passing (its timers: retransmissions, expiries). Each piece's first byte says which:
    0xF0 and above, time (that many tens of seconds past 0xEF); odd, encrypted (bit 1: quick
    mode or informational); even, a datagram in clear from one of three addresses (bits 2-3;
    the first is the initiator's) to port 500 or 4500 (bit 1).  The responder's indexes are
    checked after every piece."""
    from pixgw.ike import crypto
    from pixgw.ike.events import Endpoint
    from pixgw.ike.message import Header, encode_message
    from tests.protocol.ike_harness import CLIENT, GATEWAY, main_mode

    path = _ike_path()
    responder = path.responder  # type: ignore[attr-defined]
    now = 1000.0
    for piece in _pieces(data):
        head = piece[0] if piece else 0
        if head >= 0xF0:
            now += 10.0 * (head - 0xEF)
            if (due := responder.get_timer()) is not None and due <= now:
                responder.handle_timer(now)
        elif head & 1:  # encrypted: a quick mode or informational body
            init = path.initiator  # type: ignore[attr-defined]
            if init._cipher is None or init._keys is None:
                main_mode(path, now)  # type: ignore[arg-type]
            cipher, keys = init._cipher, init._keys
            assert cipher is not None and keys is not None
            mid = int.from_bytes((piece[1:] + bytes(4))[:4], "big") or 1
            # piece[5]: the payload after HASH; piece[6:]: those payloads. HASH(1) (RFC 2409
            # §5.5: prf(SKEYID_a, M-ID | the rest)) is made here, with this SA's keys, so the
            # responder goes on to parse and act on what follows
            nxt, rest = (piece + bytes(6))[5], piece[6:]
            assert init.chosen is not None
            h = crypto.prf(init.chosen.hash, keys.skeyid_a, mid.to_bytes(4, "big") + rest)
            body = bytes([nxt, 0]) + (4 + len(h)).to_bytes(2, "big") + h + rest
            pad = (-len(body)) % cipher.block_size
            iv = crypto.phase2_iv(init.chosen.hash, init._iv, mid, cipher.block_size)
            ct = cipher.encrypt(keys.encryption_key, iv, body + bytes(pad))
            exchange = (32, 5)[head >> 1 & 1]  # quick mode or informational
            header = Header(init.cky_i, init.cky_r, 8, 0x10, exchange, 1, mid)
            path.send(encode_message(header, encrypted_body=ct), now)  # type: ignore[attr-defined]
        else:
            port = (500, 4500)[head >> 1 & 1]
            source = (CLIENT, IPv4Address("198.51.100.8"), IPv4Address("203.0.113.9"))[
                head >> 2 & 3 if head >> 2 & 3 < 3 else 0
            ]
            responder.receive_datagram(
                piece[1:], Endpoint(GATEWAY, port), Endpoint(source, port), now
            )
        responder.datagrams_to_send(now)
        while responder.next_event() is not None:
            pass
        check_ike_invariants(responder)
        now += 1.0


def check_ike_invariants(core: Any) -> None:
    """The IKE responder's indexes agree with its SAs both ways (no SA, quick mode or child SA
    without its entries, no entry without its SA), the half-open accounting adds up, no counter
    is below zero."""

    def entries(index: dict[Any, Any]) -> Iterator[tuple[Any, Any]]:
        for key, members in index.items():
            assert members, f"empty index entry {key!r}"
            for member in members:
                yield key, member

    for ike_sa_id, sa in core.sas.items():
        assert sa.ike_sa_id == ike_sa_id
        assert ike_sa_id in core.sas_by_address.get(sa.remote.address, ()), sa.remote
        if sa.peer_id is not None:
            assert ike_sa_id in core.sas_by_peer.get((sa.remote.address, sa.peer_id), ())
    for address, ike_sa_id in entries(core.sas_by_address):
        assert core.sas[ike_sa_id].remote.address == address
    for (address, peer_id), ike_sa_id in entries(core.sas_by_peer):
        assert (core.sas[ike_sa_id].remote.address, core.sas[ike_sa_id].peer_id) == (
            address,
            peer_id,
        )
    for (cky_i, _first), ike_sa_id in core.by_initiator.items():
        assert core.sas[ike_sa_id].cky_i == cky_i
    for ike_sa_id, mid in core.quick:
        assert ike_sa_id in core.sas and mid in core.quick_of_sa.get(ike_sa_id, ())
    for ike_sa_id, mid in entries(core.quick_of_sa):
        assert (ike_sa_id, mid) in core.quick
    for child_id, record in core.children.items():
        e = record.event
        assert child_id in core.children_by_sa.get(e.ike_sa_id, ())
        assert child_id in core.children_by_address.get(e.remote.address, ())
        assert child_id in core.children_by_endpoint.get((e.remote.address, e.remote.port), ())
        assert e.inbound.spi in core.child_spis
    for index in (
        core.children_by_sa,
        core.children_by_address,
        core.children_by_endpoint,
        core.orphans_by_address,
    ):
        for _, child_id in entries(index):
            assert child_id in core.children, child_id
    for _, child_id in entries(core.orphans_by_address):
        assert core.children[child_id].event.ike_sa_id not in core.sas
    for ike_sa_id, source in core.unauthenticated.items():
        assert ike_sa_id in core.sas
        assert ike_sa_id in core.unauthenticated_by_source.get(source, {})
    for source, ike_sa_id in entries(core.unauthenticated_by_source):
        assert core.unauthenticated.get(ike_sa_id) == source
    assert set(core.half_open) <= set(core.unauthenticated)
    assert core.half_open_bytes == sum(core.half_open.values()) >= 0
    for name, value in vars(core.counters).items():  # a property here
        assert value >= 0, name


def _ike_path() -> object:
    from pixgw.config.model import IsakmpPolicy
    from pixgw.ike import constants as c
    from pixgw.testing.ike_initiator import InitiatorProfile, Phase1Offer
    from tests.protocol.ike_harness import make_pair, pix_config

    config = pix_config(policies=(IsakmpPolicy(10, "pre-share", "3des", "sha", 2),))
    profile = InitiatorProfile(
        psk=b"s3cret", phase1=(Phase1Offer(c.ENC_3DES, None, c.HASH_SHA, c.AUTH_PSK, 2),)
    )
    from tests.protocol.test_gateway import counting_random

    return make_pair(config, profile, random_bytes=counting_random())


def esp(data: bytes) -> None:
    """ESP packets to an SA (RFC 4303): *data* as it comes (it fails its ICV, or is too short),
    then *data* sealed by the peer's SA and opened again (the padding and next header that
    decryption parses), which must give back what went in."""
    from pixgw.esp import EspDrop, EspSa
    from pixgw.ike.events import EspSaParameters

    params = EspSaParameters(0x1000, "esp-aes", "esp-sha-hmac", bytes(range(16)), bytes(range(20)))
    inbound = EspSa(params, now=0.0, random_bytes=bytes)
    outbound = EspSa(params, now=0.0, random_bytes=bytes)
    with contextlib.suppress(EspDrop):
        inbound.decrypt(data)
    if data:
        sealed = outbound.encrypt(data[0], data[1:])
        assert inbound.decrypt(sealed) == (data[0], data[1:])


def l2tp_message(data: bytes) -> None:
    from pixgw.l2tp.avp import decode_avps
    from pixgw.l2tp.message import decode
    from pixgw.wire import MalformedMessage

    with contextlib.suppress(MalformedMessage):
        decode(data)
    with contextlib.suppress(MalformedMessage):
        decode_avps(data, secret=b"s3cret")


def ppp(data: bytes) -> None:
    from pixgw.ppp.frame import decode_frame, decode_options, decode_packet
    from pixgw.wire import MalformedMessage

    for decoder in (decode_frame, decode_packet, decode_options):
        with contextlib.suppress(MalformedMessage):
            decoder(data)


def ppp_session(data: bytes) -> None:
    """PPP frames to a PPP session (LCP, then the authentication protocol, then IPCP)."""
    from pixgw.ppp.session import PppSession, PppSettings

    session = PppSession(
        PppSettings(
            interface_id=1,
            authentication=("mschapv2", "chap", "pap"),
            local_address=IPv4Address("203.0.113.1"),
        ),
        random_bytes=bytes,
    )
    now = 1.0
    session.start(now)
    for piece in _pieces(data):
        session.receive_frame(piece, now)
        session.frames_to_send(now)
        while session.next_event() is not None:
            pass
        now += 0.5
        if (deadline := session.get_timer()) is not None and deadline <= now:
            session.handle_timer(now)


def radius_reply(data: bytes) -> None:
    """RADIUS replies: *data* as it comes (check_reply says why it is not genuine, the
    attributes decode or raise ValueError), then, structure-aware, *data*'s attributes in an
    Access-Accept made genuine here (its Response Authenticator and any Message-Authenticator
    computed with the secret, RFC 2865 §3, RFC 3579 §3.2) applied to a login - PAP, MS-CHAP v1
    or v2 by *data*'s second byte - as the RADIUS checker does: the MPPE keys' salt decryption
    (RFC 2548 §2.4.2/§2.4.3), addresses, timeouts; only UnauthorizedLogin may come out."""
    from twisted.cred.error import UnauthorizedLogin

    from pixgw.aaa.radius.authorization import authorization_from_accept
    from pixgw.aaa.radius.codec import RadiusReply, check_reply, decode_attributes

    dictionary = _dictionary()
    check_reply(data, b"secret", bytes(16), True)
    if len(data) >= 20:
        with contextlib.suppress(ValueError):
            decode_attributes(dictionary, data[0], data[20:])
    genuine = _genuine_accept(data[20:], data[1] if len(data) > 1 else 0)
    assert check_reply(genuine, b"secret", bytes(16), True) in (None, "no Message-Authenticator")
    try:
        attributes = decode_attributes(dictionary, 2, genuine[20:])
    except ValueError:
        return
    reply = RadiusReply(2, genuine[1], attributes, bytes(16))
    credentials = _radius_logins()[genuine[1] % 3]
    with contextlib.suppress(UnauthorizedLogin):
        authorization_from_accept(reply, credentials, _radius_server())


def _salt_encrypted(salt: bytes, key: bytes) -> bytes:
    """RFC 2548 §2.4.2 the other way (what the RADIUS server does): the key's length, the key,
    zero padding to 16-byte blocks, each XORed with MD5(secret + R + salt), then MD5(secret +
    the previous cipher block); the request authenticator R is 16 zeros here."""
    import hashlib

    plain = bytes([len(key)]) + key
    plain += bytes(-len(plain) % 16)
    out, last = b"", bytes(16) + salt
    for i in range(0, len(plain), 16):
        b = hashlib.md5(b"secret" + last).digest()
        last = bytes(x ^ y for x, y in zip(plain[i : i + 16], b, strict=True))
        out += last
    return salt + out


def _genuine_accept(attributes: bytes, identifier: int) -> bytes:
    """An Access-Accept carrying *attributes* to the request whose authenticator is 16 zeros,
    signed with the secret ``secret``: its Message-Authenticator, when it has one, then its
    Response Authenticator."""
    import hashlib

    from pixgw.aaa.radius.codec import _find_message_authenticator, message_authenticator

    attributes = attributes[: 4096 - 20]
    packet = bytearray(struct.pack("!BBH", 2, identifier & 0xFF, 20 + len(attributes)))
    packet += bytes(16) + attributes
    at = _find_message_authenticator(attributes)
    if at is not None:
        packet[20 + at : 20 + at + 16] = bytes(16)
        packet[20 + at : 20 + at + 16] = message_authenticator(b"secret", bytes(packet))
    packet[4:20] = hashlib.md5(bytes(packet) + b"secret").digest()
    return bytes(packet)


@functools.cache
def _radius_logins() -> tuple[Any, ...]:
    from pixgw.aaa.credentials import MsChapV1Credentials, MsChapV2Credentials, PapCredentials

    return (
        PapCredentials("alice", "alice-pw"),
        MsChapV1Credentials("alice", bytes(range(8)), bytes(49)),
        MsChapV2Credentials("alice", bytes(16), bytes(range(16)), bytes(24)),
    )


@functools.cache
def _radius_server() -> Any:
    from pixgw.aaa.radius.client import RadiusServer

    return RadiusServer(IPv4Address("127.0.0.1"), b"secret")


@functools.cache
def _dictionary() -> Any:
    from pixgw.aaa.radius.codec import load_dictionary

    return load_dictionary()


def scep(data: bytes) -> None:
    from pixgw.pki import pkcs7, scep

    with contextlib.suppress(scep.ScepError, ValueError):
        scep.parse_ca_certificates("application/x-x509-ca-ra-cert", data)
    with contextlib.suppress(scep.ScepError, ValueError):
        scep.parse_ca_caps(data)
    with contextlib.suppress(scep.ScepError, ValueError):
        pkcs7.parse_certs_only(data)


def cert_rep(data: bytes) -> None:
    """SCEP CertReps (RFC 8894 §3.3.2) answering the PKCSReq the target made: *data* as it
    comes (its signature fails but for the seed's), then - the first byte says which - *data*
    as the pkcsPKIEnvelope, or as the degenerate certificates-only SignedData inside one, of a
    CertRep SUCCESS the RA signs with the transaction ID and nonce echoed: what opening and
    reading a real answer does is fuzzed past the signature. Only ScepError may come out."""
    from pixgw.pki import pkcs7, scep

    b = _scep_bench()
    with contextlib.suppress(scep.ScepError):
        scep.parse_cert_rep(data, b.request, b.cas, b.key)
    if not data or data[0] % 3 == 0:
        return
    content = data[1:]
    if data[0] % 3 == 2:
        content = pkcs7.envelope(content, b.requester, "aes128", b.random)
    with contextlib.suppress(scep.ScepError):
        scep.parse_cert_rep(b.signed(content), b.request, b.cas, b.key)


@functools.cache
def _scep_bench() -> Any:
    """An NDES in RA mode (1024-bit keys: the target signs per input), a PKCSReq to it made
    with a deterministic random source, the CAs its GetCACert names, the requester's key and
    self-signed certificate, a signer of CertReps to that request, and the NDES's real answer."""
    from types import SimpleNamespace

    from asn1crypto import cms, core
    from cryptography import x509

    from pixgw.pki import scep
    from tests.interop.ndes import NdesEmulator, cached_key
    from tests.protocol.test_gateway import counting_random

    keys = [cached_key(20 + i, 1024) for i in range(4)]
    ndes = NdesEmulator(challenge="fuzz", ca_key=keys[0], ra_sig_key=keys[1], ra_enc_key=keys[2])
    random = counting_random()
    csr = scep.build_csr(keys[3], "gw.pixgw.test", "fuzz", "480430455", "192.0.2.1")
    requester = scep.build_self_signed(keys[3], x509.load_der_x509_csr(csr).subject, 7, 1.7e9)
    cas = scep.parse_ca_certificates(*ndes.get_ca_cert())
    caps = scep.parse_ca_caps(ndes.caps)
    request = scep.build_pkcs_req(csr, keys[3], requester, cas, caps, random)
    echoed = [
        cms.CMSAttribute({"type": scep.OID_PKI_STATUS, "values": [core.PrintableString("0")]}),
        cms.CMSAttribute(
            {"type": scep.OID_RECIPIENT_NONCE, "values": [core.OctetString(request.sender_nonce)]}
        ),
    ]

    def signed(content: bytes) -> bytes:
        return scep.sign_message(
            content,
            ndes.ra_sig_cert,
            ndes.ra_sig_key,
            scep.MessageType.CERT_REP,
            request.transaction_id,
            bytes(16),
            "sha256",
            echoed,
            [ndes.ra_sig_cert],
        )

    return SimpleNamespace(
        ndes=ndes,
        request=request,
        cas=cas,
        key=keys[3],
        requester=requester,
        random=random,
        signed=signed,
        answer=ndes.pki_operation(request.message),
    )


def config(data: bytes) -> None:
    from pixgw.config.parser import ConfigError, parse
    from pixgw.config.render import render

    text = data.decode("utf-8", "replace")
    try:
        result = parse(text)
    except ConfigError:
        return
    again = parse(render(result.config))  # what it writes, it reads back
    assert again.config == result.config


# --- stateful ---------------------------------------------------------------------------------


def _pieces(data: bytes) -> Iterator[bytes]:
    """*data* as a sequence of length-prefixed pieces (two length bytes each, big-endian)."""
    i = 0
    while i + 2 <= len(data):
        n = int.from_bytes(data[i : i + 2], "big")
        yield data[i + 2 : i + 2 + n]
        i += 2 + n


def _new_lns() -> tuple[Any, list[Any], Any]:
    """The lns target's LNS (deterministic: the same IDs every time), its three peers, a clock."""
    from twisted.internet.task import Clock

    from pixgw.l2tp.core import L2tpLns, L2tpSettings
    from pixgw.l2tp.peer import L2tpPeer

    core = L2tpLns(L2tpSettings(), random_bytes=lambda n: bytes(i % 256 for i in range(n)))
    peers = [L2tpPeer(i, IPv4Address(f"192.0.2.{i + 2}"), 4500, 1701) for i in range(3)]
    return core, peers, Clock()


def lns(data: bytes) -> None:
    core, peers, clock = _new_lns()
    for piece in _pieces(data):
        if not piece:
            continue
        head = piece[0]
        if head >= 0xF0:
            clock.advance(head - 0xEF)
            core.handle_timer(clock.seconds())
        else:
            core.receive_datagram(piece[1:], peers[head % 3], clock.seconds())
        core.datagrams_to_send(clock.seconds())
        while core.next_event() is not None:
            pass
        check_lns_invariants(core)


def gateway(data: bytes) -> None:
    """Datagrams from three peers into one Gateway (memory dataplane, task.Clock); each piece's
    first byte says what it is: 0 IKE to UDP 500, 1 IKE to 4500, 2..4 L2TP on child SA 1..3,
    5 an IP packet from the inside, 6 time passing (the next byte's seconds)."""
    from pixgw.ike.events import Endpoint
    from tests.protocol.test_gateway import Bench, child_sa

    bench = Bench()
    gw, dp = bench.gateway, bench.dataplane
    try:
        for child in (1, 2, 3):
            dp.install_child_sa(child_sa(child, 4500 + child))
        here = IPv4Address("192.0.2.1")
        for piece in _pieces(data):
            if not piece:
                continue
            kind, body = piece[0] % 7, piece[1:]
            peer = IPv4Address(f"192.0.2.{2 + piece[0] // 7 % 3}")
            if kind in (0, 1):
                port = (500, 4500)[kind]
                gw.ike_received(body, Endpoint(here, port), Endpoint(peer, port))
            elif kind in (2, 3, 4):
                if kind - 1 in dp.child_sas:
                    dp.receive_l2tp(kind - 1, body)
            elif kind == 5:
                dp.receive_ip(body)
            else:
                bench.clock.advance(body[0] if body else 1)
        check_invariants(bench)
    finally:
        bench.close()


def check_invariants(bench: object) -> None:
    gw = bench.gateway  # type: ignore[attr-defined]
    for key, active in gw.sessions.items():
        assert active.key == key
        assert gw.l2tp.session_open(key) or active.closing, key
    leased = sum(1 for a in gw.sessions.values() if a.leased)
    in_use = sum(p.in_use for p in gw.pools.status())
    assert leased == in_use, (leased, in_use)
    check_lns_invariants(gw.l2tp)
    if gw.ike is not None:
        check_ike_invariants(gw.ike)
    installed = bench.dataplane.child_sas  # type: ignore[attr-defined]
    for tunnel in gw.l2tp.tunnels.values():  # a live tunnel rides on an installed SA
        child = tunnel.peer.child_sa_id
        assert tunnel.linger_until is not None or child is None or child in installed, tunnel
    for name, value in vars(bench.dataplane.counters()).items():  # type: ignore[attr-defined]
        assert value >= 0, name


def check_lns_invariants(core: Any) -> None:
    """The LNS's indexes agree with its tunnels (no tunnel without its entry, no entry without
    its tunnel), its bounds hold, no counter is below zero."""
    for child, ids in core.by_child.items():
        assert ids, f"empty by_child entry {child}"
        for tunnel_id in ids:
            assert core.tunnels[tunnel_id].peer.child_sa_id == child, (tunnel_id, child)
    for tunnel_id, tunnel in core.tunnels.items():
        assert tunnel.tunnel_id == tunnel_id
        assert tunnel_id in core.by_child.get(tunnel.peer.child_sa_id, ()), tunnel_id
        assert len(tunnel.sessions) <= core.settings.sessions_per_tunnel, tunnel_id
    for (peer, remote_id), tunnel_id in core.by_remote.items():
        tunnel = core.tunnels[tunnel_id]
        assert (tunnel.peer, tunnel.remote_tunnel_id) == (peer, remote_id), tunnel_id
    assert len(core.tunnels) <= core.settings.max_tunnels
    for name, value in vars(core.counters()).items():
        assert value >= 0, name


# --- seeds ------------------------------------------------------------------------------------


def _recorded(kind: str) -> list[bytes]:
    """Every message of one kind (ike, esp, l2tp, ppp) in the real clients' captures, both ways."""
    from tests.fuzz.captures import conversations, ppp_frame

    found = [
        d.data for c in conversations() for d in c if d.kind == ("l2tp" if kind == "ppp" else kind)
    ]
    if kind == "ppp":
        return [f for f in map(ppp_frame, found) if f]
    return found


def _client_sequences(kind: str, head: Callable[[int], bytes]) -> list[bytes]:
    """Per capture, what its client sent of one kind (ike, l2tp, ppp) as one sequence of
    length-prefixed pieces, each after ``head(port)`` (the target's piece header)."""
    from tests.fuzz.captures import client_of, conversations, ppp_frame

    sequences = []
    for c in conversations():
        client = client_of(c)
        if kind == "ppp":
            pieces = [
                f for d in c if d.src == client and d.kind == "l2tp" if (f := ppp_frame(d.data))
            ]
        else:
            pieces = [head(d.port) + d.data for d in c if d.src == client and d.kind == kind]
        sequences.append(_length_prefixed(pieces))
    return sequences


def _ike_seeds() -> list[bytes]:
    from tests.protocol.ike_harness import main_mode, quick_mode

    seeds = [annotated_hex(VECTORS / "ike" / "windows10_main_mode_1.txt")]
    path = _ike_path()
    sent: list[bytes] = []
    real_send = path.send  # type: ignore[attr-defined]

    def record(data: bytes, now: float) -> list[bytes]:
        sent.append(data)
        replies: list[bytes] = real_send(data, now)
        sent.extend(replies)
        return replies

    path.send = record  # type: ignore[attr-defined]
    main_mode(path)  # type: ignore[arg-type]
    quick_mode(path)  # type: ignore[arg-type]
    return seeds + sent + _recorded("ike")


def _quick_mode_1_plaintext() -> bytes:
    """A quick mode 1 as the responder decrypts it: its message ID, then its payload chain."""
    from pixgw.ike import crypto
    from pixgw.ike.message import decode_header
    from tests.protocol.ike_harness import main_mode

    path = _ike_path()
    main_mode(path)  # type: ignore[arg-type]
    init = path.initiator  # type: ignore[attr-defined]
    iv_after_main_mode = init._iv
    qm1 = init.quick_mode_1()
    header, body = decode_header(qm1)
    cipher, keys = init._cipher, init._keys
    iv = crypto.phase2_iv(
        init.chosen.hash, iv_after_main_mode, header.message_id, cipher.block_size
    )
    plain: bytes = cipher.decrypt(keys.encryption_key, iv, body)
    hash_length = int.from_bytes(plain[2:4], "big")
    return header.message_id.to_bytes(4, "big") + plain[:1] + plain[hash_length:]


def _replayed_l2tp(
    head: bytes = b"\x00", receiver: Callable[[], Callable[[bytes], list[bytes]]] | None = None
) -> list[bytes]:
    """Per capture, what its client sent in L2TP as a stateful target's input (each piece after
    ``head``), readdressed to the target: the recorded gateway's tunnel and session IDs (in the
    client's headers) become the ones the target assigns (its SCCRP's and ICRP's Assigned
    Tunnel / Session ID), so a real xl2tpd's whole control exchange - tunnel, call, data, CDN,
    StopCCN - reaches it.  ``receiver()`` makes a fresh target's ``deliver(message) ->
    replies`` (the lns target's LNS by default)."""
    from pixgw.l2tp.avp import AvpType, decode_avps
    from pixgw.l2tp.message import ControlMessage, decode
    from tests.fuzz.captures import client_of, conversations

    seeds = []
    for c in conversations():
        client = client_of(c)
        sent = [d.data for d in c if d.src == client and d.kind == "l2tp"]
        headers = [decode(m) for m in sent]
        theirs = (
            next((h.tunnel_id for h in headers if h.tunnel_id), 0),
            next((h.session_id for h in headers if h.session_id), 0),
        )
        ours = {theirs[0]: theirs[0], theirs[1]: theirs[1]}
        deliver = (receiver or _lns_receiver)()
        pieces = []
        for message in sent:
            message = _readdressed(
                message, {theirs[0]: ours[theirs[0]]}, {theirs[1]: ours[theirs[1]]}
            )
            pieces.append(head + message)
            for out in deliver(message):
                reply = decode(out)
                if isinstance(reply, ControlMessage) and reply.avp_bytes:
                    for avp in decode_avps(reply.avp_bytes)[0]:
                        if avp.attribute_type == AvpType.ASSIGNED_TUNNEL_ID:
                            ours[theirs[0]] = avp.u16()
                        elif avp.attribute_type == AvpType.ASSIGNED_SESSION_ID:
                            ours[theirs[1]] = avp.u16()
        seeds.append(_length_prefixed(pieces))
    return seeds


def _lns_receiver() -> Callable[[bytes], list[bytes]]:
    core, peers, clock = _new_lns()

    def deliver(message: bytes) -> list[bytes]:
        core.receive_datagram(message, peers[0], clock.seconds())
        replies = [out for out, _ in core.datagrams_to_send(clock.seconds())]
        while core.next_event() is not None:
            pass
        return replies

    return deliver


def _gateway_receiver() -> Callable[[bytes], list[bytes]]:
    """The gateway target's Gateway (child SA 1, as its pieces headed 2 reach it)."""
    from tests.protocol.test_gateway import Bench, child_sa

    bench = Bench()
    bench.close()  # no log observer left behind; the gateway itself works on
    dp = bench.dataplane
    dp.install_child_sa(child_sa(1, 4501))

    def deliver(message: bytes) -> list[bytes]:
        before = len(dp.sent_l2tp)
        dp.receive_l2tp(1, message)
        return [sent.payload for sent in dp.sent_l2tp[before:]]

    return deliver


def _readdressed(message: bytes, tunnels: dict[int, int], sessions: dict[int, int]) -> bytes:
    """An L2TP message with its header's Tunnel ID and Session ID mapped (RFC 2661 §3.1)."""
    at = 4 if message[0] & 0x40 else 2  # the L bit: a Length field first
    tunnel = int.from_bytes(message[at : at + 2], "big")
    session = int.from_bytes(message[at + 2 : at + 4], "big")
    ids = tunnels.get(tunnel, tunnel).to_bytes(2, "big") + sessions.get(session, session).to_bytes(
        2, "big"
    )
    return message[:at] + ids + message[at + 4 :]


def _l2tp_seeds() -> list[bytes]:
    from pixgw.testing.l2tp_lac import L2tpLac

    lac = L2tpLac(random_bytes=lambda n: bytes(n), tunnel_id=7)
    lac.start_tunnel(0.0)
    return [
        annotated_hex(VECTORS / "l2tp" / "sccrq.txt"),
        *lac.datagrams_to_send(0.0),
        *_recorded("l2tp"),
    ]


def _ppp_seeds() -> list[bytes]:
    return [annotated_hex(p) for p in sorted((VECTORS / "ppp").glob("*.hex"))] + _recorded("ppp")


def _length_prefixed(pieces: list[bytes]) -> bytes:
    return b"".join(len(p).to_bytes(2, "big") + p for p in pieces)


def _gateway_seeds() -> list[bytes]:
    """A client's real conversation (the testing LAC and PPP peer, as in the gateway tests),
    as the gateway target reads it: L2TP on child SA 1, with time passing."""
    from tests.protocol.test_gateway import Bench

    bench = Bench()
    sent: list[bytes] = []
    real = bench.dataplane.receive_l2tp

    def record(child: int, payload: bytes, l2tp_port: int = 1701) -> object:
        if child == 1:
            sent.append(bytes([2]) + payload)
        return real(child, payload, l2tp_port)

    bench.dataplane.receive_l2tp = record  # type: ignore[method-assign]
    try:
        bench.client(1).connect()
    finally:
        bench.close()
    return [
        _length_prefixed(sent),
        _length_prefixed([*sent, bytes([6, 61]), bytes([6, 61])]),
        *_replayed_l2tp(bytes([2]), _gateway_receiver),
        *_client_sequences("ike", lambda port: bytes([port == 4500])),
    ]


def _config_seeds() -> list[bytes]:
    seeds = [(VECTORS / "config" / "every-command.conf").read_bytes()]
    seed_config = REFERENCE / "pix63-seed-running-config.txt"
    if seed_config.exists():
        seeds.append(seed_config.read_bytes())
    return seeds


def _radius_seeds() -> list[bytes]:
    import hashlib

    body = bytes([1, 7]) + b"alice" + bytes([18, 6]) + b"Hi!!"
    packet = bytearray(struct.pack("!BBH", 2, 1, 20 + len(body)) + bytes(16) + body)
    packet[4:20] = hashlib.md5(bytes(packet[:4]) + bytes(16) + body + b"secret").digest()
    accept = [
        ("Framed-IP-Address", "198.51.100.20"),
        ("Session-Timeout", 3600),
        ("Idle-Timeout", 600),
        ("Acct-Interim-Interval", 300),
        ("Class", b"class-1"),
        ("MS-CHAP2-Success", b"\x01S=" + b"0123456789ABCDEF0123456789ABCDEF01234567"),
        ("MS-MPPE-Send-Key", _salt_encrypted(b"\x80\x01", bytes(range(16)))),
        ("MS-MPPE-Recv-Key", _salt_encrypted(b"\x80\x02", bytes(range(16, 32)))),
        ("MS-CHAP-MPPE-Keys", bytes(range(32))),
        ("MS-Primary-DNS-Server", "192.0.2.53"),
        ("MS-Primary-NBNS-Server", "192.0.2.137"),
        ("Reply-Message", "welcome"),
    ]
    from pixgw.aaa.radius.codec import encode_attributes

    body = encode_attributes(_dictionary(), accept)
    # what FreeRADIUS grants an MS-CHAP v2 / v1 / PAP login (the second byte picks the login)
    return [bytes(packet), *(_genuine_accept(body, login) for login in (2, 1, 0))]


def _scep_envelope_of(cert_rep: bytes) -> bytes:
    from pixgw.pki import scep

    b = _scep_bench()
    return scep.read_signed_message(cert_rep, b.cas.signer_certs)[1]


def _scep_inner_of(cert_rep: bytes) -> bytes:
    from pixgw.pki import pkcs7

    return pkcs7.open_envelope(_scep_envelope_of(cert_rep), _scep_bench().key)


def _scep_seeds() -> list[bytes]:
    return [
        (VECTORS / "pki" / "getcacert-ndes-ra.der").read_bytes(),
        b"POSTPKIOperation\nSHA-256\nAES\n",
    ]


TARGETS: dict[str, tuple[Callable[[bytes], None], Callable[[], list[bytes]]]] = {
    "ike_message": (ike_message, _ike_seeds),
    "ike_responder": (
        ike_responder,
        lambda: [
            *(_length_prefixed([b"\x00" + s]) for s in _ike_seeds()),
            _length_prefixed([b"\x01" + _quick_mode_1_plaintext()]),
            *_client_sequences("ike", lambda port: b"\x00"),
        ],
    ),
    "esp": (esp, lambda: [annotated_hex(VECTORS / "esp" / "aes128_sha1.hex"), *_recorded("esp")]),
    "l2tp_message": (l2tp_message, _l2tp_seeds),
    "lns": (
        lns,
        lambda: [
            _length_prefixed([b"\x00" + s for s in _l2tp_seeds()]),
            *_replayed_l2tp(),
        ],
    ),
    "ppp": (ppp, _ppp_seeds),
    "ppp_session": (
        ppp_session,
        lambda: [_length_prefixed(_ppp_seeds()), *_client_sequences("ppp", lambda port: b"")],
    ),
    "radius_reply": (radius_reply, _radius_seeds),
    "scep": (scep, _scep_seeds),
    "cert_rep": (
        cert_rep,
        lambda: [
            _scep_bench().answer,  # the NDES's CertRep with the issued certificate, as it comes
            b"\x01" + _scep_envelope_of(_scep_bench().answer),  # its envelope, signed anew
            b"\x02" + _scep_inner_of(_scep_bench().answer),  # its certificates, enveloped anew
        ],
    ),
    "config": (config, _config_seeds),
    "gateway": (gateway, _gateway_seeds),
}

# The pixgw modules each target is about: ``scripts/fuzz.py --lines`` reports the share of their
# lines the target's corpus runs (coverage.py).
MODULES: dict[str, tuple[str, ...]] = {
    "ike_message": ("pixgw/ike/message.py",),
    "ike_responder": ("pixgw/ike/*.py", "pixgw/ike/exchanges/*.py"),
    "esp": ("pixgw/esp/*.py",),
    "l2tp_message": ("pixgw/l2tp/message.py", "pixgw/l2tp/avp.py"),
    "lns": ("pixgw/l2tp/*.py",),
    "ppp": ("pixgw/ppp/frame.py",),
    "ppp_session": ("pixgw/ppp/*.py",),
    "radius_reply": ("pixgw/aaa/radius/codec.py", "pixgw/aaa/radius/authorization.py"),
    "scep": ("pixgw/pki/scep.py", "pixgw/pki/pkcs7.py"),
    "cert_rep": ("pixgw/pki/scep.py", "pixgw/pki/pkcs7.py"),
    "config": ("pixgw/config/*.py", "pixgw/config/families/*.py"),
    "gateway": ("pixgw/gateway.py", "pixgw/l2tp/*.py", "pixgw/ppp/*.py", "pixgw/ike/*.py"),
}
