"""One PPP link on the gateway (the LNS side): LCP, then authentication, then IPCP, then IP.

- RFC 1661 §3.2 phases (Link Dead, Establish, Authenticate, Network, Terminate) and §3.5-§3.7:
  NCP and authentication packets arriving in the wrong phase are silently discarded; packets
  of protocols we do not run are answered with LCP Protocol-Reject (§5.8) once LCP is Opened
  (CCP 0x80FD, IPv6CP 0x8057 and anything unknown).
- RFC 1334 / RFC 1994 / RFC 2433 / RFC 2759 authentication (see :mod:`pixgw.ppp.auth`),
  RFC 1332 + RFC 1877 IPCP (see :mod:`pixgw.ppp.ipcp`), RFC 1661 §5.9 echo as liveness.

Sans-I/O: frames in with :meth:`PppSession.receive_frame`, frames out from
:meth:`PppSession.frames_to_send` (L2TP carries them), time as ``now`` arguments, randomness
from the injected ``random_bytes``. The gateway reads events with :meth:`next_event`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Literal

from pixgw import syslog
from pixgw.config.model import VpdnGroup
from pixgw.ppp.auth import AuthenticationRequested, PeerAuthenticator
from pixgw.ppp.frame import (
    MAX_FRAME,
    PROTO_CHAP,
    PROTO_IP,
    PROTO_IPCP,
    PROTO_LCP,
    PROTO_PAP,
    ControlPacket,
    decode_frame,
    decode_packet,
    encode_frame,
    encode_packet,
    frame_header,
)
from pixgw.ppp.fsm import RestartLimits, State
from pixgw.ppp.ipcp import IpcpLayer
from pixgw.ppp.lcp import (
    CODE_DISCARD_REQUEST,
    CODE_ECHO_REPLY,
    CODE_ECHO_REQUEST,
    AuthName,
    LcpLayer,
)
from pixgw.ppp.trace import error_line, io_line, uauth_line
from pixgw.status import PppInterfaceStatus
from pixgw.syslog import LogSink
from pixgw.wire import MalformedMessage

_IP_FRAME_HEADER = b"\xff\x03\x00\x21"  # FF 03, Protocol 0x0021: what clients send IP in
# LCP codes that are the RXR event (RFC 1661 §4.1): no state and no timer changes in any state
_RXR_CODES = frozenset({CODE_ECHO_REQUEST, CODE_ECHO_REPLY, CODE_DISCARD_REQUEST})

__all__ = [
    "DEFAULT_AUTHENTICATION",
    "AuthenticationRequested",
    "IpPacketReceived",
    "LinkDown",
    "LinkUp",
    "PppSession",
    "PppSettings",
]

# What a vpdn group without ``ppp authentication`` lines offers (CHAP first, like the reference).
DEFAULT_AUTHENTICATION: tuple[AuthName, ...] = ("chap", "mschapv2")

Phase = Literal["dead", "establish", "authenticate", "network", "up", "terminate"]


@dataclass(frozen=True)
class PppSettings:
    """What one PPP link is allowed to negotiate (mostly from the ``vpdn group``)."""

    interface_id: int = 1
    authentication: tuple[AuthName, ...] = ("chap",)  # ``ppp authentication`` order; () = none
    mru_cap: int = 1400
    local_address: IPv4Address | None = None  # our end of the link, sent in IPCP
    dns: tuple[IPv4Address, ...] = ()
    wins: tuple[IPv4Address, ...] = ()
    echo_interval: float = 20.0  # LCP Echo-Request period; 0 disables
    echo_failures: int = 3  # unanswered Echo-Requests before the link is declared dead
    restart_interval: float = 3.0  # RFC 1661 §4.6 Restart timer
    max_configure: int = 10
    max_terminate: int = 2
    max_failure: int = 5
    auth_retries: int = 0  # MS-CHAPv2 retries (Failure with R=1) after a rejection

    @classmethod
    def from_vpdn_group(
        cls,
        group: VpdnGroup,
        *,
        interface_id: int,
        local_address: IPv4Address | None = None,
    ) -> PppSettings:
        """Settings from ``vpdn group``; change the rest with :func:`dataclasses.replace`.

        A group without ``ppp authentication`` lines gets :data:`DEFAULT_AUTHENTICATION`,
        never an unauthenticated link."""
        return cls(
            interface_id=interface_id,
            authentication=group.ppp_authentication or DEFAULT_AUTHENTICATION,
            local_address=local_address,
            dns=group.dns,
            wins=group.wins,
        )


@dataclass(frozen=True)
class LinkUp:
    """IPCP is Opened: the peer has ``peer_address``; route it to this session."""

    interface_id: int
    username: str
    peer_address: IPv4Address
    local_address: IPv4Address | None
    authentication: str
    dns: tuple[IPv4Address, ...] = ()
    wins: tuple[IPv4Address, ...] = ()


@dataclass(frozen=True)
class IpPacketReceived:
    packet: bytes


@dataclass(frozen=True)
class LinkDown:
    """The link is finished (once per session): release the address, the tunnel, the SAs."""

    reason: str
    username: str = ""
    peer_address: IPv4Address | None = None
    was_up: bool = False


PppEvent = AuthenticationRequested | LinkUp | IpPacketReceived | LinkDown

_DISPLAY_AUTH = {"pap": "PAP", "chap": "CHAP", "mschap": "MSCHAP", "mschapv2": "MSCHAPV2"}


class PppSession:
    """The gateway's end of one PPP link, as a sans-I/O state machine."""

    def __init__(
        self,
        settings: PppSettings,
        *,
        random_bytes: Callable[[int], bytes],
        log: LogSink = syslog,
    ) -> None:
        self._log = log  # PIX syslog messages and debug ppp lines (the process's publisher)
        self.settings = settings
        self._random_bytes = random_bytes
        self.phase: Phase = "dead"
        # Bumped by everything that may move get_timer() (not by IP packets): the owner asks
        # get_timer() again only when it changed.
        self.timer_epoch = 0
        self._events: deque[PppEvent] = deque()
        self._out: list[bytes] = []
        self._down_reported = False
        self._was_up = False
        self._lcp_opened = False
        self._close_reason = ""
        self.username = ""
        self.peer_address: IPv4Address | None = None
        self.transmitted_packets = 0
        self.received_packets = 0
        self.error_packets = 0
        self.transmitted_bytes = 0
        self.received_bytes = 0
        self.auth: PeerAuthenticator | None = None
        limits = RestartLimits(settings.restart_interval, settings.max_configure,
                               settings.max_terminate, settings.max_failure)
        self.lcp = LcpLayer(
            authentication=settings.authentication,
            random_bytes=random_bytes,
            mru_cap=settings.mru_cap,
            echo_interval=settings.echo_interval,
            echo_failures=settings.echo_failures,
            on_up=self._lcp_up,
            on_down=self._lcp_down,
            on_protocol_rejected=self._protocol_rejected,
            limits=limits,
        )
        self.ipcp = IpcpLayer(
            local_address=settings.local_address,
            dns=settings.dns,
            wins=settings.wins,
            on_up=self._ipcp_up,
            on_down=self._ipcp_down,
            limits=limits,
        )

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """The L2TP session is up: begin LCP (RFC 1661 §3.2 Establish phase)."""
        self.timer_epoch += 1
        if self.phase != "dead" or self._down_reported:
            return
        self.phase = "establish"
        self.lcp.up(now)
        self.lcp.open(now)
        self._collect()

    def close(self, reason: str, now: float) -> None:
        """Terminate the link (``clear vpdn``, CDN, StopCCN, IKE delete, uauth timeout).

        Reports :class:`LinkDown` at once; LCP still sends its Terminate-Request."""
        self.timer_epoch += 1
        if self._down_reported:
            return
        self._close_reason = reason
        self._report_down(reason)
        self.phase = "terminate"
        self.lcp.close(now, reason.encode("utf-8", "replace")[:64])
        self._collect()

    # --- input ---------------------------------------------------------------------------------

    def receive_frame(self, frame: bytes, now: float) -> None:
        self.received_packets += 1
        self.received_bytes += len(frame)
        if frame[:4] == _IP_FRAME_HEADER and len(frame) <= MAX_FRAME:  # the per-packet path
            if self.ipcp.state == State.OPENED and self.phase == "up":
                self._events.append(IpPacketReceived(frame[4:]))
            return  # IP never moves a timer: timer_epoch stays
        try:
            decoded = decode_frame(frame)
        except MalformedMessage:
            self._error("malformed PPP frame dropped")
            return
        protocol, information = decoded.protocol, decoded.information
        if protocol == PROTO_IP:
            if self.ipcp.state == State.OPENED and self.phase == "up":
                self._events.append(IpPacketReceived(information))
            return
        if protocol in (PROTO_LCP, PROTO_PAP, PROTO_CHAP, PROTO_IPCP):
            try:
                packet = decode_packet(information)
            except MalformedMessage:
                self.timer_epoch += 1
                self._error(f"malformed {protocol:#06x} packet dropped")
                return
            if protocol != PROTO_LCP or packet.code not in _RXR_CODES:
                # an echo (the idle link's every-20-s traffic) moves no timer: a looped-back
                # link that ends the session bumps the epoch through close()
                self.timer_epoch += 1
            self._io("I", protocol, packet)
            if protocol == PROTO_LCP:
                self._receive_lcp(packet, now)
            elif protocol == PROTO_IPCP:
                if self.phase in ("network", "up"):
                    self.ipcp.receive(packet, now)
            else:
                self._receive_auth(protocol, packet, now)
            self._collect()
            return
        # CCP, IPv6CP and anything else: RFC 1661 §5.8 Protocol-Reject (Opened only).
        self.timer_epoch += 1
        self.lcp.protocol_reject(protocol, information)
        self._collect()

    def _receive_lcp(self, packet: ControlPacket, now: float) -> None:
        self.lcp.receive(packet, now)
        if self.lcp.fatal_reason is not None and not self._down_reported:
            self.close(self.lcp.fatal_reason, now)

    def _receive_auth(self, protocol: int, packet: ControlPacket, now: float) -> None:
        auth = self.auth
        if auth is None or self.phase != "authenticate" or protocol != auth.ppp_protocol:
            if self.phase in ("network", "up") and auth is not None:
                auth.receive(packet, now)  # a repeated Response: answered with the same result
            return
        request = auth.receive(packet, now)
        if request is not None:
            self.username = request.username
            self._log.pix_log(
                603102,
                f"PPP virtual interface {self.settings.interface_id} - user: "
                f"{request.username} aaa authentication started",
            )
            self._log.debug(
                "ppp uauth",
                uauth_line(
                    self.settings.interface_id,
                    f"user {request.username} {_DISPLAY_AUTH[request.protocol]} "
                    "authentication started",
                ),
            )
            self._events.append(request)

    # --- the gateway's answers -----------------------------------------------------------------

    def authentication_result(
        self,
        accepted: bool,
        now: float,
        *,
        message: str = "",
        mschapv2_authenticator_response: str | None = None,
        address: IPv4Address | None = None,
        failure_code: int = 691,
    ) -> None:
        """AAA decided. On success ``address`` (from AAA) or the pool lease set before with
        :meth:`set_peer_address` is what IPCP gives the peer; ``failure_code`` 648 tells an
        MS-CHAPv2 peer its password expired."""
        self.timer_epoch += 1
        auth = self.auth
        if auth is None or auth.state != "pending" or self._down_reported:
            return
        if address is not None:
            self.set_peer_address(address)
        auth.result(
            accepted,
            now,
            message=message,
            mschapv2_authenticator_response=mschapv2_authenticator_response,
            failure_code=failure_code,
        )
        verdict = "succeed" if accepted else "failed"
        self._log.pix_log(
            603103,
            f"PPP virtual interface {self.settings.interface_id} - user: {self.username} "
            f"aaa authentication {verdict}",
        )
        self._log.debug(
            "ppp uauth",
            uauth_line(
                self.settings.interface_id,
                f"user {self.username} authentication {verdict}",
            ),
        )
        self._collect()
        if auth.state == "succeeded":
            self._network_phase(now)
        elif auth.state == "failed":
            self.close("authentication failed", now)

    def set_peer_address(self, address: IPv4Address) -> None:
        """The address IPCP gives the peer (the pool lease), set before IPCP starts."""
        self.peer_address = address
        self.ipcp.peer_address = address

    # --- output --------------------------------------------------------------------------------

    def send_ip(self, packet: bytes, now: float) -> None:
        if self.phase != "up" or self.ipcp.state != State.OPENED:
            return
        lcp = self.lcp
        self._out.append(frame_header(PROTO_IP, lcp.peer_acfc, lcp.peer_pfc) + packet)

    def frames_to_send(self, now: float) -> list[bytes]:
        self._collect()
        if not self._out:
            return []  # the per-packet case: nothing to send
        frames, self._out = self._out, []
        self.transmitted_packets += len(frames)
        self.transmitted_bytes += sum(len(f) for f in frames)
        return frames

    def next_event(self) -> PppEvent | None:
        return self._events.popleft() if self._events else None

    # --- timers --------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """The earliest of LCP's restart and echo timers, IPCP's, authentication's (asked once
        per timer and per control packet for every session: no lists built)."""
        lcp = self.lcp
        best = lcp.get_timer()
        auth = self.auth
        for t in (
            lcp.echo_deadline,
            self.ipcp.get_timer(),
            auth.get_timer() if auth is not None else None,
        ):
            if t is not None and (best is None or t < best):
                best = t
        return best

    def handle_timer(self, now: float) -> None:
        self.timer_epoch += 1
        self.lcp.handle_timer(now)
        if not self.lcp.handle_echo_timer(now):
            self._log.debug("ppp error", error_line(self.settings.interface_id, "LCP echo timeout"))
            self._report_down("echo timeout")
            self.lcp.down(now)  # the peer is gone: no Terminate exchange
        self.ipcp.handle_timer(now)
        auth = self.auth
        if auth is not None and self.phase == "authenticate":
            auth.handle_timer(now)
            if auth.state == "failed":
                self._collect()
                self.close(auth.failure_reason or "authentication timeout", now)
        self._collect()

    # --- layer callbacks -----------------------------------------------------------------------

    def _lcp_up(self, now: float) -> None:
        self._lcp_opened = True
        if self._down_reported:
            return
        protocol = self.lcp.auth
        if protocol is None:
            self._network_phase(now)
            return
        self.phase = "authenticate"
        self.auth = PeerAuthenticator(
            protocol,
            random_bytes=self._random_bytes,
            interface_id=self.settings.interface_id,
            restart_interval=self.settings.restart_interval,
            max_challenges=self.settings.max_configure,
            max_retries=self.settings.auth_retries,
        )
        self.auth.start(now)

    def _network_phase(self, now: float) -> None:
        if self.peer_address is None:
            self._collect()
            self.close("no address available for the peer", now)
            return
        self.phase = "network"
        self.ipcp.up(now)
        self.ipcp.open(now)

    def _lcp_down(self, now: float, what: str) -> None:
        if self.ipcp.state not in (State.INITIAL, State.STARTING):
            self.ipcp.down(now)
        self.phase = "dead" if self.lcp.state in (State.INITIAL, State.STARTING) else "terminate"
        if self._close_reason:
            reason = self._close_reason
        elif self.lcp.state == State.STOPPING:
            reason = "peer terminated"
        elif not self._lcp_opened:
            reason = "LCP negotiation failed"
        else:
            reason = what
        self._lcp_opened = False
        self._report_down(reason)

    def _ipcp_up(self, now: float) -> None:
        peer = self.peer_address
        if peer is None or self._down_reported:
            return
        self.phase = "up"
        self._was_up = True
        self._events.append(
            LinkUp(
                interface_id=self.settings.interface_id,
                username=self.username,
                peer_address=peer,
                local_address=self.settings.local_address,
                authentication=self._auth_display(),
                dns=self.ipcp.dns,
                wins=self.ipcp.wins,
            )
        )

    def _ipcp_down(self, now: float, what: str) -> None:
        # Without IPCP this link carries nothing: end it (the client hung up its NCP).
        if not self._down_reported and self.lcp.state == State.OPENED:
            self.close(f"{what}", now)

    def _protocol_rejected(self, protocol: int, now: float) -> None:
        if protocol == PROTO_IPCP:
            self.close("peer rejected IPCP", now)

    # --- helpers -------------------------------------------------------------------------------

    def _report_down(self, reason: str) -> None:
        if self._down_reported:
            return
        self._down_reported = True
        self._events.append(
            LinkDown(
                reason=reason,
                username=self.username,
                peer_address=self.peer_address,
                was_up=self._was_up,
            )
        )

    def _collect(self) -> None:
        if not (
            self.lcp.outgoing
            or self.ipcp.outgoing
            or (self.auth is not None and self.auth.outgoing)
        ):
            return  # the per-packet case: no control packet queued
        layers: list[tuple[int, list[ControlPacket]]] = [
            (PROTO_LCP, self.lcp.outgoing),
            (PROTO_IPCP, self.ipcp.outgoing),
        ]
        if self.auth is not None:
            layers.insert(1, (self.auth.ppp_protocol, self.auth.outgoing))
        for protocol, queue in layers:
            for packet in queue:
                self._io("O", protocol, packet)
                self._out.append(
                    encode_frame(
                        protocol,
                        encode_packet(packet),
                        acfc=self.lcp.peer_acfc,
                        pfc=self.lcp.peer_pfc,
                    )
                )
            queue.clear()

    def _io(self, direction: str, protocol: int, packet: ControlPacket) -> None:
        if not self._log.debug_enabled("ppp io"):
            return  # no line formatted when nobody listens (two per echo)
        self._log.debug(
            "ppp io",
            io_line(
                self.settings.interface_id,
                direction,
                protocol,
                code=packet.code,
                identifier=packet.identifier,
                length=4 + len(packet.data),
            ),
        )

    def _error(self, text: str) -> None:
        self.error_packets += 1
        self._log.debug("ppp error", error_line(self.settings.interface_id, text))

    def _auth_display(self) -> str:
        return _DISPLAY_AUTH.get(self.lcp.auth or "", "None")

    def status(self) -> PppInterfaceStatus:
        return PppInterfaceStatus(
            interface_id=self.settings.interface_id,
            authentication=self._auth_display(),
            client_address=self.peer_address,
            transmitted_packets=self.transmitted_packets,
            received_packets=self.received_packets,
            error_packets=self.error_packets + self.lcp.errors + self.ipcp.errors,
            transmitted_bytes=self.transmitted_bytes,
            received_bytes=self.received_bytes,
            username=self.username,
            phase=self.phase,
            lcp_state=self.lcp.state.name,
            ipcp_state=self.ipcp.state.name,
            mru=self.lcp.peer_mru,
        )
