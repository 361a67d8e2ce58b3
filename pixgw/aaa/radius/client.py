"""The RADIUS client on Twisted UDP: RFC 2865/2866 requests to the servers of an ``aaa-server``
group in turn, RFC 5080 §2.2.1 retransmissions (same Identifier and Authenticator), a reply that
fails a check dropped and counted, never raised (the request then times out like an unanswered
one); per-server counters for ``show aaa-server``."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from pyrad.dictionary import Dictionary
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from pixgw.aaa.interfaces import (
    AuthenticationServerUnreachable,
)
from pixgw.aaa.radius.codec import (
    _CODE_NAMES,
    _MAX_PACKET,
    ACCESS_ACCEPT,
    ACCESS_CHALLENGE,
    ACCESS_REJECT,
    ACCESS_REQUEST,
    ACCOUNTING_RESPONSE,
    Attributes,
    RadiusReply,
    UnencodableRequest,
    build_packet,
    check_reply,
    decode_attributes,
    encode_attributes,
    hide_password,
    load_dictionary,
)
from pixgw.aaa.trace import radius_debug_text
from pixgw.syslog import debug, pix_log

_log = Logger(namespace="pixgw.aaa.radius")


def _say_unsigned(server: RadiusServer, why: str) -> None:
    text = (f"RADIUS server {server.label}: Access reply dropped, {why} (Blast-RADIUS, "
            "CVE-2024-3596); its users cannot log in. Make the server sign its replies: "
            "FreeRADIUS >= 3.2.5, or 'update reply { Message-Authenticator := 0x00 }' in its "
            "post-auth section; for a server that cannot, 'aaa-server GROUP "
            "radius-message-authenticator optional'")
    pix_log(113901, text)
    _log.error("{text}", text=text)


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
    # Access replies must carry a valid Message-Authenticator (RFC 3579 §3.2; Blast-RADIUS,
    # CVE-2024-3596); ``aaa-server GROUP radius-message-authenticator optional`` for a server
    # that cannot sign (warned at startup)
    require_message_authenticator: bool = True

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
    unsigned: int = 0  # Access replies dropped: Message-Authenticator missing or wrong


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
        self.unencodable = 0  # requests refused before sending: they cannot be encoded
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
        try:
            datagram, sent_auth = build_packet(
                code,
                ident,
                server.secret,
                random_authenticator,
                encode_attributes(self.dictionary, encoded),
            )
        except UnencodableRequest as e:  # never raised at the caller: it fails the Deferred
            self.unencodable += 1
            return fail(e)
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
        require_ma = (pending.datagram[0] == ACCESS_REQUEST
                      and pending.server.require_message_authenticator)
        why = (
            "unexpected code"
            if code not in expected_codes
            else check_reply(data, pending.server.secret, pending.authenticator, require_ma)
        )
        if why is not None:
            counters.dropped += 1
            debug("radius", f"RADIUS: dropped reply id {ident} from {addr[0]}: {why}")
            if why.endswith("Message-Authenticator"):
                counters.unsigned += 1
                if counters.unsigned == 1:  # once per server, at the default level
                    _say_unsigned(pending.server, why)
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


