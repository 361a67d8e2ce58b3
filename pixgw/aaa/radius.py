"""RADIUS client on Twisted UDP: RFC 2865 (Access-Request/Accept/Reject, §3 authenticators,
§5.2 User-Password hiding, §5.3 CHAP-Password), RFC 2866 (accounting), RFC 2868 (Tunnel-*),
RFC 2869 §5.19 / RFC 3579 §3.2 Message-Authenticator (sent on every request and required on every
Access reply — the Blast-RADIUS defence), RFC 2548 (MS-CHAP v1/v2 attributes, §2.4.2 MPPE key
salt-decryption), RFC 5080 §2.2.1 (retransmits keep Identifier and Authenticator).

pyrad is only the attribute codec (dictionary: ``pixgw/data/dictionary``, package data); the
header, authenticators, hiding and retransmission are here. A reply that fails a check is
dropped and counted, never raised: the request then times out like an unanswered one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from pyrad.dictionary import Dictionary
from pyrad.packet import Packet
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import DatagramProtocol
from zope.interface import implementer

from pixgw.aaa.credentials import (
    ChapMd5Credentials,
    MsChapV1Credentials,
    MsChapV2Credentials,
    PapCredentials,
)
from pixgw.aaa.interfaces import (
    AuthenticationServerUnreachable,
    Authorization,
    ClientInfo,
    IAuthenticator,
)
from pixgw.aaa.trace import radius_debug_text
from pixgw.syslog import debug

__all__ = [
    "ACCESS_ACCEPT",
    "ACCESS_CHALLENGE",
    "ACCESS_REJECT",
    "ACCESS_REQUEST",
    "ACCOUNTING_REQUEST",
    "ACCOUNTING_RESPONSE",
    "RadiusAuthenticator",
    "RadiusClient",
    "RadiusCounters",
    "RadiusReply",
    "RadiusServer",
    "decode_attributes",
    "encode_attributes",
    "hide_password",
    "load_dictionary",
    "message_authenticator",
    "salt_decrypt",
    "unhide",
]

ACCESS_REQUEST = 1
ACCESS_ACCEPT = 2
ACCESS_REJECT = 3
ACCOUNTING_REQUEST = 4
ACCOUNTING_RESPONSE = 5
ACCESS_CHALLENGE = 11
_CODE_NAMES = {
    1: "Access-Request",
    2: "Access-Accept",
    3: "Access-Reject",
    4: "Accounting-Request",
    5: "Accounting-Response",
    11: "Access-Challenge",
}
_MESSAGE_AUTHENTICATOR = 80
_MAX_PACKET = 4096

Attributes = Sequence[tuple[str, Any]]


def default_dictionary_path() -> Path:
    """The dictionary shipped in the package (``pixgw/data/dictionary``, package data), however
    pixgw is installed: a wheel, ``pip install .``, an editable install."""
    return Path(str(resources.files("pixgw").joinpath("data", "dictionary")))


_DICTIONARIES: dict[str, Dictionary] = {}


def load_dictionary(path: str | Path | None = None) -> Dictionary:
    key = str(path or default_dictionary_path())
    if key not in _DICTIONARIES:
        _DICTIONARIES[key] = Dictionary(key)
    return _DICTIONARIES[key]


def encode_attributes(dictionary: Dictionary, attributes: Attributes) -> bytes:
    """Attribute TLVs for ``attributes`` (names from the dictionary), in the order given."""
    out = bytearray()
    for name, value in attributes:
        packet = Packet(dict=dictionary)
        packet.AddAttribute(name, value)
        out += packet._PktEncodeAttributes()
    return bytes(out)


def decode_attributes(dictionary: Dictionary, code: int, body: bytes) -> dict[str, list[Any]]:
    """name -> decoded values, from the attribute section. Raises ValueError when malformed."""
    _check_tlvs(body)
    packet = Packet(dict=dictionary)
    header = struct.pack("!BBH", code, 0, 20 + len(body)) + bytes(16)
    try:
        packet.DecodePacket(header + body)
        result: dict[str, list[Any]] = {}
        for key in packet.keys():  # noqa: SIM118 - pyrad keys() gives names
            name = key if isinstance(key, str) else str(key)
            result[name] = list(packet[key])
    except Exception as e:  # pyrad raises several kinds on bad input
        raise ValueError(f"malformed RADIUS attributes: {e}") from e
    return result


def _check_tlvs(body: bytes) -> None:
    """RFC 2865 §5: every attribute has a length of at least 2 and fits; a Vendor-Specific one
    holds a vendor id and whole sub-attributes (RFC 2865 §5.26)."""
    i = 0
    while i < len(body):
        if i + 2 > len(body):
            raise ValueError("truncated attribute header")
        t, length = body[i], body[i + 1]
        if length < 2 or i + length > len(body):
            raise ValueError(f"attribute {t}: bad length {length}")
        if t == 26:
            if length < 6:
                raise ValueError("Vendor-Specific without a vendor id")
            j, end = i + 6, i + length
            while j < end:
                if j + 2 > end or body[j + 1] < 2 or j + body[j + 1] > end:
                    raise ValueError("bad vendor sub-attribute")
                j += body[j + 1]
        i += length


def hide_password(password: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """RFC 2865 §5.2: pad to 16, XOR with the MD5 chain of secret and Request Authenticator."""
    if len(password) > 128:
        raise ValueError("User-Password longer than 128 bytes")
    padded = password + bytes(-len(password) % 16) if password else bytes(16)
    out = b""
    last = authenticator
    for i in range(0, len(padded), 16):
        b = hashlib.md5(secret + last).digest()  # noqa: S324 - RFC 2865
        block = bytes(x ^ y for x, y in zip(padded[i : i + 16], b, strict=True))
        out += block
        last = block
    return out


def unhide(value: bytes, secret: bytes, request_authenticator: bytes) -> bytes:
    """Reverse of :func:`hide_password` (RFC 2865 §5.2 chaining on the cipher blocks), as
    RFC 2548 §2.4.1 MS-CHAP-MPPE-Keys uses it. Raises ValueError on a bad length."""
    if not value or len(value) % 16:
        raise ValueError("hidden value is not a multiple of 16 bytes")
    out = b""
    last = request_authenticator
    for i in range(0, len(value), 16):
        block = value[i : i + 16]
        b = hashlib.md5(secret + last).digest()  # noqa: S324 - RFC 2865
        out += bytes(x ^ y for x, y in zip(block, b, strict=True))
        last = block
    return out


def salt_decrypt(value: bytes, secret: bytes, request_authenticator: bytes) -> bytes:
    """RFC 2548 §2.4.2 (MS-MPPE-Send-Key/Recv-Key): Salt(2), then blocks of
    MD5(secret + R + salt) / MD5(secret + previous cipher block). The first plaintext byte is
    the key length. Raises ValueError on a bad length or salt."""
    if len(value) < 18 or (len(value) - 2) % 16 or not value[0] & 0x80:
        raise ValueError("bad salt-encrypted value")
    salt, cipher = value[:2], value[2:]
    plain = b""
    last = request_authenticator + salt
    for i in range(0, len(cipher), 16):
        block = cipher[i : i + 16]
        b = hashlib.md5(secret + last).digest()  # noqa: S324 - RFC 2548
        plain += bytes(x ^ y for x, y in zip(block, b, strict=True))
        last = block
    length = plain[0]
    if length + 1 > len(plain):
        raise ValueError("salt-encrypted key length beyond the value")
    return plain[1 : 1 + length]


def message_authenticator(secret: bytes, packet: bytes) -> bytes:
    """RFC 3579 §3.2: HMAC-MD5 over the packet with the Message-Authenticator value zeroed."""
    return hmac.new(secret, packet, hashlib.md5).digest()


def _find_message_authenticator(body: bytes) -> int | None:
    """Offset (in ``body``) of the value of the first Message-Authenticator, or None."""
    i = 0
    while i + 2 <= len(body):
        t, length = body[i], body[i + 1]
        if length < 2 or i + length > len(body):
            return None
        if t == _MESSAGE_AUTHENTICATOR and length == 18:
            return i + 2
        i += length
    return None


def build_packet(
    code: int,
    identifier: int,
    secret: bytes,
    request_authenticator: bytes,
    attributes: bytes,
) -> tuple[bytes, bytes]:
    """A request with a Message-Authenticator first: (datagram, authenticator sent).

    Access-Request: the authenticator is ``request_authenticator`` (random). Accounting-Request:
    the MA is computed over 16 zero bytes, then the Request Authenticator is
    MD5(Code+Id+Length+16 zeros+attributes+secret) (RFC 2866 §3)."""
    body = bytes([_MESSAGE_AUTHENTICATOR, 18]) + bytes(16) + attributes
    length = 20 + len(body)
    if length > _MAX_PACKET:
        raise ValueError("RADIUS packet too long")
    header = struct.pack("!BBH", code, identifier, length)
    seed = request_authenticator if code == ACCESS_REQUEST else bytes(16)
    ma = message_authenticator(secret, header + seed + body)
    body = body[:2] + ma + body[18:]
    if code == ACCESS_REQUEST:
        return header + seed + body, seed
    auth = hashlib.md5(header + bytes(16) + body + secret).digest()  # noqa: S324 - RFC 2866
    return header + auth + body, auth


@dataclass(frozen=True)
class RadiusReply:
    code: int
    identifier: int
    attributes: dict[str, list[Any]]
    request_authenticator: bytes

    def first(self, name: str) -> Any:
        values = self.attributes.get(name)
        return values[0] if values else None


def check_reply(
    data: bytes, secret: bytes, request_authenticator: bytes, require_ma: bool
) -> str | None:
    """Why the reply is not genuine, or None when it is (RFC 2865 §3 Response Authenticator,
    RFC 3579 §3.2 Message-Authenticator)."""
    if len(data) < 20:
        return "short"
    length = struct.unpack("!H", data[2:4])[0]
    if length < 20 or length > len(data):
        return "bad length"
    data = data[:length]
    expected = hashlib.md5(  # noqa: S324 - RFC 2865 §3
        data[:4] + request_authenticator + data[20:] + secret
    ).digest()
    if not hmac.compare_digest(expected, data[4:20]):
        return "bad response authenticator"
    offset = _find_message_authenticator(data[20:])
    if offset is None:
        return "no Message-Authenticator" if require_ma else None
    at = 20 + offset
    zeroed = data[:4] + request_authenticator + data[20:at] + bytes(16) + data[at + 16 :]
    if not hmac.compare_digest(message_authenticator(secret, zeroed), data[at : at + 16]):
        return "bad Message-Authenticator"
    return None


@dataclass(frozen=True)
class RadiusServer:
    """One ``aaa-server GROUP (IF) host ADDRESS KEY timeout S`` with its ports."""

    address: IPv4Address
    secret: bytes = field(repr=False)
    auth_port: int = 1645
    acct_port: int = 1646
    timeout: float = 5.0
    retries: int = 3  # transmissions after the first
    max_failed_attempts: int = 3  # ``aaa-server GROUP max-failed-attempts N``
    deadtime: float = 600.0  # seconds (``aaa-server GROUP deadtime MINUTES``)

    @property
    def label(self) -> str:
        return str(self.address)


@dataclass
class RadiusCounters:
    """Per-server figures for ``show aaa-server``."""

    requests: int = 0
    retransmits: int = 0
    accepts: int = 0
    rejects: int = 0
    challenges: int = 0
    accounting_responses: int = 0
    timeouts: int = 0
    dropped: int = 0  # bad authenticator / Message-Authenticator / malformed / unexpected
    accounting_requests: int = 0
    last_round_trip: float | None = None
    last_failed: bool = False  # the last request went unanswered
    consecutive_failures: int = 0
    dead_until: float = 0.0  # skipped by authentication until then (PIX "FAILED" state)


@dataclass
class _Pending:
    server: RadiusServer
    port: int
    identifier: int
    datagram: bytes
    authenticator: bytes
    deferred: Deferred[RadiusReply]
    sent_at: float
    tries: int = 1
    call: IDelayedCall | None = None


class RadiusClient(DatagramProtocol):
    """One UDP socket for all servers; requests matched by (server, port, Identifier)."""

    def __init__(
        self,
        reactor: Any,
        dictionary: Dictionary | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.reactor = reactor
        self.dictionary = dictionary or load_dictionary()
        self.random_bytes = random_bytes
        self.counters: dict[str, RadiusCounters] = {}
        self._pending: dict[tuple[str, int, int], _Pending] = {}
        self._next_id = random_bytes(1)[0]
        self._port: Any = None

    def start(self, interface: str = "") -> None:
        """Listen on an ephemeral UDP port (idempotent)."""
        if self._port is None:
            self._port = self.reactor.listenUDP(0, self, interface=interface)

    def stop(self) -> Deferred[None] | None:
        for pending in list(self._pending.values()):
            self._finish(pending)
            pending.deferred.errback(AuthenticationServerUnreachable("client stopped"))
        port, self._port = self._port, None
        result: Deferred[None] | None = port.stopListening() if port is not None else None
        return result

    def counter(self, server: RadiusServer) -> RadiusCounters:
        return self.counters.setdefault(server.label, RadiusCounters())

    def _allocate_id(self, server: RadiusServer, port: int) -> int | None:
        for _ in range(256):
            ident = self._next_id
            self._next_id = (self._next_id + 1) & 0xFF
            if (str(server.address), port, ident) not in self._pending:
                return ident
        return None

    def request(
        self, server: RadiusServer, code: int, attributes: Attributes
    ) -> Deferred[RadiusReply]:
        """Send one request; fires with the genuine reply, or fails with
        AuthenticationServerUnreachable after ``1 + retries`` transmissions."""
        self.start()
        port = server.auth_port if code == ACCESS_REQUEST else server.acct_port
        ident = self._allocate_id(server, port)
        if ident is None:
            return fail(AuthenticationServerUnreachable(f"{server.label}: no free Identifier"))
        random_authenticator = self.random_bytes(16)
        encoded: list[tuple[str, Any]] = []
        for name, value in attributes:
            if name == "User-Password":
                encoded.append((name, hide_password(value, server.secret, random_authenticator)))
            else:
                encoded.append((name, value))
        datagram, sent_auth = build_packet(
            code,
            ident,
            server.secret,
            random_authenticator,
            encode_attributes(self.dictionary, encoded),
        )
        d: Deferred[RadiusReply] = Deferred()
        pending = _Pending(server, port, ident, datagram, sent_auth, d, self.reactor.seconds())
        self._pending[(str(server.address), port, ident)] = pending
        if code == ACCESS_REQUEST:
            self.counter(server).requests += 1
        else:
            self.counter(server).accounting_requests += 1
        debug(
            "radius",
            radius_debug_text(
                "send",
                _CODE_NAMES.get(code, str(code)),
                ident,
                peer=server.label,
                port=port,
                attributes=attributes,
            ),
        )
        self._transmit(pending)
        return d

    def _transmit(self, pending: _Pending) -> None:
        if self.transport is not None:
            self.transport.write(pending.datagram, (str(pending.server.address), pending.port))
        pending.call = self.reactor.callLater(pending.server.timeout, self._timed_out, pending)

    def _timed_out(self, pending: _Pending) -> None:
        pending.call = None
        if pending.tries > pending.server.retries:
            self._finish(pending)
            c = self.counter(pending.server)
            c.timeouts += 1
            c.last_failed = True
            c.consecutive_failures += 1
            if c.consecutive_failures >= pending.server.max_failed_attempts:
                c.dead_until = self.reactor.seconds() + pending.server.deadtime
            debug("radius", f"RADIUS: no answer from {pending.server.label}:{pending.port}")
            pending.deferred.errback(
                AuthenticationServerUnreachable(
                    f"{pending.server.label}:{pending.port} did not answer"
                )
            )
            return
        pending.tries += 1
        self.counter(pending.server).retransmits += 1
        self._transmit(pending)

    def _finish(self, pending: _Pending) -> None:
        self._pending.pop((str(pending.server.address), pending.port, pending.identifier), None)
        if pending.call is not None and pending.call.active():
            pending.call.cancel()
        pending.call = None

    def datagramReceived(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self._receive(data, addr)
        except Exception as e:  # nothing from the wire raises into the reactor
            debug("radius", f"RADIUS: dropped a reply from {addr[0]}: {e}")

    def _receive(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 20 or len(data) > _MAX_PACKET:
            return
        code, ident = data[0], data[1]
        pending = self._pending.get((addr[0], addr[1], ident))
        if pending is None:
            return
        counters = self.counter(pending.server)
        expected_codes = (
            (ACCESS_ACCEPT, ACCESS_REJECT, ACCESS_CHALLENGE)
            if pending.datagram[0] == ACCESS_REQUEST
            else (ACCOUNTING_RESPONSE,)
        )
        require_ma = pending.datagram[0] == ACCESS_REQUEST
        why = (
            "unexpected code"
            if code not in expected_codes
            else check_reply(data, pending.server.secret, pending.authenticator, require_ma)
        )
        if why is not None:
            counters.dropped += 1
            debug("radius", f"RADIUS: dropped reply id {ident} from {addr[0]}: {why}")
            return
        length = struct.unpack("!H", data[2:4])[0]
        try:
            attributes = decode_attributes(self.dictionary, code, data[20:length])
        except ValueError as e:
            counters.dropped += 1
            debug("radius", f"RADIUS: dropped reply id {ident} from {addr[0]}: {e}")
            return
        self._finish(pending)
        counters.last_round_trip = self.reactor.seconds() - pending.sent_at
        counters.last_failed = False
        counters.consecutive_failures = 0
        counters.dead_until = 0.0
        if code == ACCESS_ACCEPT:
            counters.accepts += 1
        elif code == ACCESS_REJECT:
            counters.rejects += 1
        elif code == ACCESS_CHALLENGE:
            counters.challenges += 1
        else:
            counters.accounting_responses += 1
        debug(
            "radius",
            radius_debug_text(
                "received",
                _CODE_NAMES.get(code, str(code)),
                ident,
                peer=addr[0],
                port=addr[1],
                attributes=[(n, v) for n, vs in attributes.items() for v in vs],
            ),
        )
        pending.deferred.callback(RadiusReply(code, ident, attributes, pending.authenticator))


def request_attributes(
    credentials: Any, client: ClientInfo, nas_identifier: str = ""
) -> list[tuple[str, Any]]:
    """The Access-Request attributes for one PPP authentication (RFC 2865 §5, RFC 2548 §2.3,
    RFC 2868 §3)."""
    attrs: list[tuple[str, Any]] = [("User-Name", credentials.username)]
    if isinstance(credentials, PapCredentials):
        attrs.append(("User-Password", credentials.password.encode("utf-8")))
    elif isinstance(credentials, ChapMd5Credentials):
        ident = bytes([credentials.identifier & 0xFF])
        attrs.append(("CHAP-Password", ident + credentials.response))
        attrs.append(("CHAP-Challenge", credentials.challenge))
    elif isinstance(credentials, MsChapV1Credentials):
        if len(credentials.response) != 49:
            raise UnauthorizedLogin("MS-CHAP response is not 49 bytes")
        flags = credentials.response[48]
        attrs.append(("MS-CHAP-Challenge", credentials.challenge))
        attrs.append(
            (
                "MS-CHAP-Response",
                bytes([credentials.identifier & 0xFF, flags]) + credentials.response[:48],
            )
        )
    elif isinstance(credentials, MsChapV2Credentials):
        attrs.append(("MS-CHAP-Challenge", credentials.authenticator_challenge))
        attrs.append(
            (
                "MS-CHAP2-Response",
                bytes([credentials.identifier & 0xFF, 0])
                + credentials.peer_challenge
                + bytes(8)
                + credentials.nt_response,
            )
        )
    else:
        raise UnauthorizedLogin("unsupported credentials")
    attrs += client_attributes(client, nas_identifier)
    attrs += [
        ("Service-Type", "Framed-User"),
        ("Framed-Protocol", "PPP"),
    ]
    return attrs


def client_attributes(client: ClientInfo, nas_identifier: str = "") -> list[tuple[str, Any]]:
    attrs: list[tuple[str, Any]] = []
    if client.nas_address is not None:
        attrs.append(("NAS-IP-Address", str(client.nas_address)))
    if nas_identifier:
        attrs.append(("NAS-Identifier", nas_identifier))
    attrs.append(("NAS-Port", client.nas_port))
    attrs.append(("NAS-Port-Type", "Virtual"))
    if client.outer_address is not None:
        attrs.append(("Calling-Station-Id", str(client.outer_address)))
    if client.called_station:
        attrs.append(("Called-Station-Id", client.called_station))
    if client.tunnel_type == "L2TP":
        attrs.append(("Tunnel-Type", "L2TP"))
        attrs.append(("Tunnel-Medium-Type", "IPv4"))
    if client.tunnel_client_endpoint:
        attrs.append(("Tunnel-Client-Endpoint", client.tunnel_client_endpoint))
    if client.tunnel_server_endpoint:
        attrs.append(("Tunnel-Server-Endpoint", client.tunnel_server_endpoint))
    if client.tunnel_assignment_id:
        attrs.append(("Tunnel-Assignment-Id", client.tunnel_assignment_id))
    return attrs


def authorization_from_accept(
    reply: RadiusReply, credentials: Any, server: RadiusServer
) -> Authorization:
    """Apply an Access-Accept (RFC 2865 §5.8/§5.25/§5.27/§5.28, RFC 2548 §2.3.3/§2.4/§2.7)."""

    def address(name: str) -> IPv4Address | None:
        value = reply.first(name)
        return IPv4Address(value) if value is not None else None

    def integer(name: str) -> int | None:
        value = reply.first(name)
        return value if isinstance(value, int) else None

    success: str | None = None
    blob = reply.first("MS-CHAP2-Success")
    if isinstance(credentials, MsChapV2Credentials):
        if not isinstance(blob, bytes) or len(blob) < 43:
            raise UnauthorizedLogin("Access-Accept without MS-CHAP2-Success")
        success = blob[1:43].decode("ascii", "replace")
    keys: list[bytes | None] = []
    for name in ("MS-MPPE-Send-Key", "MS-MPPE-Recv-Key"):
        value = reply.first(name)
        if isinstance(value, bytes):
            try:
                keys.append(salt_decrypt(value, server.secret, reply.request_authenticator))
            except ValueError:
                keys.append(None)
        else:
            keys.append(None)
    v1_keys = reply.first("MS-CHAP-MPPE-Keys")
    if isinstance(credentials, MsChapV1Credentials) and isinstance(v1_keys, bytes):
        try:
            # RFC 2548 §2.4.1: LM key (8), NT key (16, MD4 of the NT hash), padding (8)
            nt_key = unhide(v1_keys, server.secret, reply.request_authenticator)[8:24]
            # RFC 3079 §2.4 GetStartKey from that NT key and the challenge; symmetric
            start = hashlib.sha1(nt_key + nt_key + credentials.challenge).digest()[:16]  # noqa: S324
            keys = [start, start]
        except ValueError:
            pass
    dns = tuple(
        a for a in (address("MS-Primary-DNS-Server"), address("MS-Secondary-DNS-Server")) if a
    )
    wins = tuple(
        a for a in (address("MS-Primary-NBNS-Server"), address("MS-Secondary-NBNS-Server")) if a
    )
    framed = address("Framed-IP-Address")
    if framed is not None and (
        framed == IPv4Address("255.255.255.254") or framed == IPv4Address("255.255.255.255")
    ):
        framed = None  # RFC 2865 §5.8: "the NAS should select" / "let the user select"
    return Authorization(
        username=credentials.username,
        address=framed,
        dns=dns,
        wins=wins,
        session_timeout=integer("Session-Timeout"),
        idle_timeout=integer("Idle-Timeout"),
        class_attribute=tuple(v for v in reply.attributes.get("Class", []) if isinstance(v, bytes)),
        mschapv2_authenticator_response=success,
        mppe_send_key=keys[0],
        mppe_recv_key=keys[1],
        reply_message="".join(str(v) for v in reply.attributes.get("Reply-Message", [])),
        interim_interval=integer("Acct-Interim-Interval"),
        server=f"RADIUS {server.label}",
    )


@implementer(IAuthenticator)
class RadiusAuthenticator:
    """One RADIUS server of a group (a chain over the group's hosts gives failover)."""

    def __init__(
        self,
        client: RadiusClient,
        server: RadiusServer,
        name: str = "RADIUS",
        nas_identifier: str = "",
    ) -> None:
        self.client = client
        self.server = server
        self.name = name
        self.nas_identifier = nas_identifier

    def authenticate(self, credentials: Any, client: ClientInfo) -> Deferred[Authorization]:
        try:
            attrs = request_attributes(credentials, client, self.nas_identifier)
        except UnauthorizedLogin as e:
            return fail(e)
        counters = self.client.counter(self.server)
        if counters.dead_until > self.client.reactor.seconds():
            return fail(
                AuthenticationServerUnreachable(f"{self.server.label} is FAILED (deadtime)")
            )
        d = self.client.request(self.server, ACCESS_REQUEST, attrs)

        def answered(reply: RadiusReply) -> Authorization:
            if reply.code == ACCESS_ACCEPT:
                return authorization_from_accept(reply, credentials, self.server)
            message = "".join(str(v) for v in reply.attributes.get("Reply-Message", []))
            if reply.code == ACCESS_CHALLENGE:
                raise UnauthorizedLogin("Access-Challenge is not supported for PPP")
            raise UnauthorizedLogin(message or "Access-Reject")

        result: Deferred[Authorization] = d.addCallback(answered)
        return result


def servers_of(
    hosts: Iterable[Any],
    auth_port: int,
    acct_port: int,
    retries: int,
    *,
    max_failed_attempts: int = 3,
    deadtime_minutes: int = 10,
) -> list[RadiusServer]:
    return [
        RadiusServer(
            h.address,
            (h.key or "").encode("utf-8"),
            auth_port,
            acct_port,
            float(h.timeout),
            retries,
            max_failed_attempts,
            deadtime_minutes * 60.0,
        )
        for h in hosts
    ]
