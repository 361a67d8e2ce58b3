"""A small client-side PPP core (the dial-in user's end) for back-to-back tests and benchmarks.

- RFC 1661 LCP as the authenticatee: accepts the gateway's Authentication-Protocol when it
  supports it, otherwise Nak's it with its own preference (§6.2); answers echo requests.
- RFC 1334 PAP client, RFC 1994 CHAP-MD5, RFC 2433 MS-CHAPv1 and RFC 2759 MS-CHAPv2 responses
  (the latter checks the authenticator response of the Success packet, §5).
- RFC 1332 / RFC 1877 IPCP asking 0.0.0.0 for its address, DNS and WINS and taking the Naks.

Sans-I/O like :class:`pixgw.ppp.session.PppSession`; never used by the gateway itself.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address
from typing import cast

from pixgw.ppp import mschap
from pixgw.ppp.auth import (
    CHAP_CHALLENGE,
    CHAP_FAILURE,
    CHAP_RESPONSE,
    CHAP_SUCCESS,
    PAP_ACK,
    PAP_NAK,
    PAP_REQUEST,
)
from pixgw.ppp.frame import (
    PROTO_CHAP,
    PROTO_IP,
    PROTO_IPCP,
    PROTO_LCP,
    PROTO_PAP,
    ControlPacket,
    Option,
    decode_frame,
    decode_packet,
    encode_frame,
    encode_packet,
)
from pixgw.ppp.fsm import ControlProtocol, RequestVerdict, RestartLimits, State
from pixgw.ppp.ipcp import (
    OPT_IP_ADDRESS,
    OPT_PRIMARY_DNS,
    OPT_PRIMARY_NBNS,
    OPT_SECONDARY_DNS,
    OPT_SECONDARY_NBNS,
)
from pixgw.ppp.lcp import (
    AUTH_OPTION_DATA,
    CODE_ECHO_REPLY,
    CODE_ECHO_REQUEST,
    CODE_PROTOCOL_REJECT,
    OPT_AUTH,
    OPT_MAGIC,
    OPT_MRU,
    AuthName,
)
from pixgw.wire import MalformedMessage, Reader, Writer

__all__ = ["PppPeer"]

_ZERO = IPv4Address(0)


class _ClientLcp(ControlProtocol):
    name = "LCP"
    protocol = PROTO_LCP
    extra_codes = frozenset({8, 9, 10, 11})

    def __init__(self, peer: PppPeer, *, limits: RestartLimits | None = None) -> None:
        super().__init__(limits=limits)
        self.peer = peer
        self.mru: int | None = peer.mru
        self.magic = int.from_bytes(peer.random_bytes(4), "big") | 1
        self.auth: AuthName | None = None
        self.protocol_rejects: list[int] = []
        self.echo_replies = 0

    def request_options(self) -> list[Option]:
        options = [Option(OPT_MAGIC, self.magic.to_bytes(4, "big"))]
        if self.mru is not None:
            options.insert(0, Option(OPT_MRU, self.mru.to_bytes(2, "big")))
        options.extend(self.peer.extra_lcp_options)
        return options

    def apply_nak(self, options: tuple[Option, ...]) -> None:
        for option in options:
            if option.type == OPT_MRU:
                self.mru = int.from_bytes(option.data, "big")
            elif option.type == OPT_MAGIC:
                self.magic = int.from_bytes(option.data, "big")

    def apply_reject(self, options: tuple[Option, ...]) -> None:
        rejected = {o.type for o in options}
        self.peer.extra_lcp_options = [
            o for o in self.peer.extra_lcp_options if o.type not in rejected
        ]
        if OPT_MRU in rejected:
            self.mru = None

    def check_request(self, options: tuple[Option, ...]) -> RequestVerdict:
        for option in options:
            if option.type == OPT_AUTH:
                offered = next(
                    (n for n, d in AUTH_OPTION_DATA.items() if d == option.data), None
                )
                if offered is None or offered not in self.peer.auth_protocols:
                    preferred = self.peer.auth_protocols[0]
                    return RequestVerdict(
                        "nak", (Option(OPT_AUTH, AUTH_OPTION_DATA[preferred]),)
                    )
                self.auth = offered
        return RequestVerdict("ack")

    def receive_extra(self, packet: ControlPacket, now: float) -> None:
        from pixgw.ppp.fsm import Event  # noqa: PLC0415 - keeps the import list short

        if packet.code == CODE_PROTOCOL_REJECT and len(packet.data) >= 2:
            self.protocol_rejects.append(int.from_bytes(packet.data[:2], "big"))
            return
        if packet.code == CODE_ECHO_REPLY:
            self.echo_replies += 1
        if packet.code == CODE_ECHO_REQUEST and not self.peer.answer_echo:
            return
        self._fire(Event.RXR, now)

    def send_echo_reply(self, request: ControlPacket) -> None:
        if request.code == CODE_ECHO_REQUEST:
            self.outgoing.append(
                ControlPacket(CODE_ECHO_REPLY, request.identifier, self.magic.to_bytes(4, "big"))
            )

    def layer_up(self, now: float) -> None:
        self.peer.lcp_up(now)

    def layer_down(self, now: float) -> None:
        self.peer.terminated = True


class _ClientIpcp(ControlProtocol):
    name = "IPCP"
    protocol = PROTO_IPCP

    def __init__(self, peer: PppPeer, *, limits: RestartLimits | None = None) -> None:
        super().__init__(limits=limits)
        self.peer = peer
        self.wanted: dict[int, IPv4Address] = {OPT_IP_ADDRESS: peer.requested_address}
        if peer.request_dns:
            self.wanted[OPT_PRIMARY_DNS] = _ZERO
            self.wanted[OPT_SECONDARY_DNS] = _ZERO
        if peer.request_wins:
            self.wanted[OPT_PRIMARY_NBNS] = _ZERO
            self.wanted[OPT_SECONDARY_NBNS] = _ZERO
        self.server_address: IPv4Address | None = None
        self.rejected: set[int] = set()

    def request_options(self) -> list[Option]:
        options = [Option(t, a.packed) for t, a in self.wanted.items()]
        return options + list(self.peer.extra_ipcp_options)

    def apply_nak(self, options: tuple[Option, ...]) -> None:
        for option in options:
            if len(option.data) == 4:
                self.wanted[option.type] = IPv4Address(option.data)

    def apply_reject(self, options: tuple[Option, ...]) -> None:
        for option in options:
            self.rejected.add(option.type)
            self.wanted.pop(option.type, None)
        self.peer.extra_ipcp_options = [
            o for o in self.peer.extra_ipcp_options if o.type not in self.rejected
        ]

    def check_request(self, options: tuple[Option, ...]) -> RequestVerdict:
        for option in options:
            if option.type == OPT_IP_ADDRESS and len(option.data) == 4:
                self.server_address = IPv4Address(option.data)
        return RequestVerdict("ack")

    def layer_up(self, now: float) -> None:
        self.peer.up = True


class PppPeer:
    """The client end of a PPP link (what pppd or Windows does), for tests."""

    def __init__(
        self,
        username: str,
        password: str,
        *,
        random_bytes: Callable[[int], bytes],
        auth_protocols: Sequence[AuthName] = ("mschapv2", "chap", "mschap", "pap"),
        mru: int | None = 1500,
        request_dns: bool = True,
        request_wins: bool = True,
        requested_address: IPv4Address = _ZERO,
        answer_echo: bool = True,
        restart_interval: float = 3.0,
    ) -> None:
        self.username = username
        self.password = password
        self.random_bytes = random_bytes
        self.auth_protocols: tuple[AuthName, ...] = tuple(auth_protocols)
        self.mru = mru
        self.request_dns = request_dns
        self.request_wins = request_wins
        self.requested_address = requested_address
        self.answer_echo = answer_echo
        self.extra_lcp_options: list[Option] = []
        self.extra_ipcp_options: list[Option] = []
        self.up = False
        self.terminated = False
        self.auth_result: str | None = None  # "success" | "failure"
        self.auth_messages: list[str] = []
        self.authenticator_verified: bool | None = None
        self.failures = 0
        self.received_ip: list[bytes] = []
        self.restart_interval = restart_interval
        self._out: list[bytes] = []
        self._pap_deadline: float | None = None
        self._pap_identifier = 0
        self._expected_authenticator: str | None = None
        limits = RestartLimits(restart_interval=restart_interval)
        me = cast("PppPeer", weakref.proxy(self))  # the layers' way back: no reference cycle
        self.lcp = _ClientLcp(me, limits=limits)
        self.ipcp = _ClientIpcp(me, limits=limits)

    # --- public API like PppSession -------------------------------------------------------------

    @property
    def address(self) -> IPv4Address | None:
        value = self.ipcp.wanted.get(OPT_IP_ADDRESS)
        return value if self.up else None

    @property
    def dns(self) -> tuple[IPv4Address, ...]:
        return tuple(
            self.ipcp.wanted[t]
            for t in (OPT_PRIMARY_DNS, OPT_SECONDARY_DNS)
            if t in self.ipcp.wanted
        )

    @property
    def wins(self) -> tuple[IPv4Address, ...]:
        return tuple(
            self.ipcp.wanted[t]
            for t in (OPT_PRIMARY_NBNS, OPT_SECONDARY_NBNS)
            if t in self.ipcp.wanted
        )

    def start(self, now: float) -> None:
        self.lcp.up(now)
        self.lcp.open(now)

    def close(self, now: float) -> None:
        self.lcp.close(now, b"User request")

    def send_ip(self, packet: bytes) -> None:
        self._out.append(encode_frame(PROTO_IP, packet))

    def send_raw(self, protocol: int, information: bytes) -> None:
        self._out.append(encode_frame(protocol, information))

    def send_echo_request(self) -> None:
        self.lcp.outgoing.append(ControlPacket(9, 0x42, self.lcp.magic.to_bytes(4, "big") + b"hi"))

    def frames_to_send(self, now: float) -> list[bytes]:
        self._collect()
        frames, self._out = self._out, []
        return frames

    def get_timer(self) -> float | None:
        timers = [self.lcp.get_timer(), self.ipcp.get_timer(), self._pap_deadline]
        present = [t for t in timers if t is not None]
        return min(present) if present else None

    def handle_timer(self, now: float) -> None:
        self.lcp.handle_timer(now)
        self.ipcp.handle_timer(now)
        if self._pap_deadline is not None and now >= self._pap_deadline:
            self._send_pap(now)

    def receive_frame(self, frame: bytes, now: float) -> None:
        try:
            decoded = decode_frame(frame)
            if decoded.protocol == PROTO_IP:
                self.received_ip.append(decoded.information)
                return
            packet = decode_packet(decoded.information)
        except MalformedMessage:
            return
        if decoded.protocol == PROTO_LCP:
            self.lcp.receive(packet, now)
        elif decoded.protocol == PROTO_IPCP:
            self.ipcp.receive(packet, now)
        elif decoded.protocol == PROTO_PAP:
            self._receive_pap(packet, now)
        elif decoded.protocol == PROTO_CHAP:
            self._receive_chap(packet, now)

    # --- authentication -------------------------------------------------------------------------

    def lcp_up(self, now: float) -> None:
        if self.lcp.auth == "pap":
            self._pap_identifier = 1
            self._send_pap(now)
        elif self.lcp.auth is None:
            self._start_ipcp(now)

    def _send_pap(self, now: float) -> None:
        user = self.username.encode()
        password = self.password.encode()
        data = Writer().u8(len(user)).write(user).u8(len(password)).write(password).getvalue()
        request = ControlPacket(PAP_REQUEST, self._pap_identifier, data)
        self._out.append(encode_frame(PROTO_PAP, encode_packet(request)))
        self._pap_deadline = now + self.restart_interval

    def _receive_pap(self, packet: ControlPacket, now: float) -> None:
        self._pap_deadline = None
        message = packet.data[1 : 1 + packet.data[0]].decode() if packet.data else ""
        self.auth_messages.append(message)
        if packet.code == PAP_ACK and self.auth_result is None:
            self.auth_result = "success"
            self._start_ipcp(now)
        elif packet.code == PAP_NAK:
            self.auth_result = "failure"

    def _receive_chap(self, packet: ControlPacket, now: float) -> None:
        if packet.code == CHAP_CHALLENGE:
            r = Reader(packet.data)
            try:
                challenge = r.read(r.u8())
            except MalformedMessage:
                return
            self._respond(packet.identifier, challenge)
        elif packet.code == CHAP_SUCCESS:
            text = packet.data.decode("utf-8", "replace")
            self.auth_messages.append(text)
            if self._expected_authenticator is not None:
                received = text.split(" ", 1)[0]
                self.authenticator_verified = mschap.verify_authenticator_response(
                    self._expected_authenticator, received
                )
                if not self.authenticator_verified:
                    self.auth_result = "failure"
                    return
            if self.auth_result is None:
                self.auth_result = "success"
                self._start_ipcp(now)
        elif packet.code == CHAP_FAILURE:
            text = packet.data.decode("utf-8", "replace")
            self.auth_messages.append(text)
            self.failures += 1
            fields = dict(p.split("=", 1) for p in text.split(" ") if "=" in p)
            if fields.get("R") == "1" and "C" in fields:
                self._respond((packet.identifier + 1) & 0xFF, bytes.fromhex(fields["C"]))
                return
            self.auth_result = "failure"

    def _respond(self, identifier: int, challenge: bytes) -> None:
        name = self.username.encode()
        auth = self.lcp.auth
        password_hash = mschap.nt_password_hash(self.password)
        if auth == "mschapv2":
            peer_challenge = self.random_bytes(16)
            nt = mschap.generate_nt_response(
                challenge, peer_challenge, self.username, password_hash
            )
            value = peer_challenge + bytes(8) + nt + b"\x00"
            self._expected_authenticator = mschap.generate_authenticator_response(
                password_hash, nt, peer_challenge, challenge, self.username
            )
        elif auth == "mschap":
            value = bytes(24) + mschap.mschapv1_nt_response(challenge, password_hash) + b"\x01"
        else:
            secret = self.password.encode()
            value = hashlib.md5(bytes([identifier]) + secret + challenge).digest()  # noqa: S324
        data = Writer().u8(len(value)).write(value).write(name).getvalue()
        response = ControlPacket(CHAP_RESPONSE, identifier, data)
        self._out.append(encode_frame(PROTO_CHAP, encode_packet(response)))

    def _start_ipcp(self, now: float) -> None:
        self.ipcp.up(now)
        self.ipcp.open(now)

    def _collect(self) -> None:
        for protocol, queue in ((PROTO_LCP, self.lcp.outgoing), (PROTO_IPCP, self.ipcp.outgoing)):
            for packet in queue:
                self._out.append(encode_frame(protocol, encode_packet(packet)))
            queue.clear()

    @property
    def lcp_state(self) -> State:
        return self.lcp.state
