"""The L2TP network server (LNS): tunnels, sessions and data, sans-I/O.

This module keeps the registry (tunnels by id and by peer, their channels and deadlines), reads
datagrams, runs the timers and dispatches each control message through the tunnel and session
tables to its handler: :mod:`pixgw.l2tp.tunnel_messages` (SCCRQ, SCCCN, StopCCN, HELLO) and
:mod:`pixgw.l2tp.call_messages` (ICRQ, ICCN, CDN, WEN, SLI); the events it gives the gateway are
:mod:`pixgw.l2tp.events`.

RFC 2661, LNS side:

- §5.1 / §6.1-§6.3: control connection establishment (SCCRQ -> SCCRP -> SCCCN), with tunnel
  authentication (§4.4.3 Challenge / Challenge Response, §5.1.1) when a secret is configured;
  the response is MD5(message type || secret || challenge) like CHAP (RFC 1994).
- §5.5 / §6.5: HELLO after ``hello_interval`` seconds without anything from the peer; an
  unacknowledged HELLO ends the tunnel through the retransmission limit of §5.8.
- §5.7 / §6.4: StopCCN with result codes (§4.4.2), sent and received; sessions go with it.
- §5.4.2 / §6.6-§6.8: incoming calls (ICRQ -> ICRP -> ICCN); §5.7 / §6.12: CDN both ways;
  §6.13-§6.14: WEN and SLI are accepted (nothing to do for them on an LNS without HDLC).
- §4.1: an unrecognized AVP with the M bit ends the session (CDN) or the tunnel (StopCCN) with
  result code 2 and error code 8; §4.4.1: an unknown message type with M set ends the tunnel.
- §3.1 / §5.8: data messages with the L, S and O bits; sequencing when the LAC asks for it.
- Tunnels are found by (peer, tunnel id): an SCCRQ by (peer, the peer's Assigned Tunnel ID),
  everything after it by our tunnel id *and* the peer's address and ports, so that two clients
  behind one NAT never meet. The peer's ``child_sa_id`` may change (an IPsec rekey): the tunnel
  follows the newest SA.
- The PIX allows one session per tunnel: a further ICRQ gets a CDN (result 4) and syslog 603110.

Time comes in as ``now`` arguments; randomness (tunnel and session ids, challenges) from the
injected ``random_bytes``. Nothing from the wire raises out of :meth:`L2tpLns.receive_datagram`.

For the gateway: :class:`TunnelKey` is our tunnel id alone (the peer may change on a rekey, see
:meth:`L2tpLns.peer_of`); :class:`SessionKey` is (our tunnel id, our session id). Besides the
four events of the session layer there is :class:`TunnelEstablished` (ignorable).
``tunnel_status``/``session_status`` take an optional ``now`` (default: the last time seen);
``tunnel_keys``, ``peer_of`` and ``counters`` serve ``clear vpdn`` and the drop counters.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address

from pixgw import syslog
from pixgw.config.model import VpdnGroup
from pixgw.deadlines import Deadlines
from pixgw.l2tp import call_messages, teardown, tunnel_messages
from pixgw.l2tp.avp import Avp, AvpType, decode_avps, encode_avps
from pixgw.l2tp.events import (
    Event,
    PppFrameReceived,
    SessionKey,
    TunnelKey,
)
from pixgw.l2tp.message import (
    CdnResult,
    ControlMessage,
    DataMessage,
    ErrorCode,
    MessageType,
    StopCcnResult,
    data_datagram,
    decode,
    encode_control,
    message_name,
)
from pixgw.l2tp.peer import L2tpPeer
from pixgw.l2tp.session import L2tpSession, SessionState
from pixgw.l2tp.snapshot import session_status, tunnel_status
from pixgw.l2tp.teardown import Hangup
from pixgw.l2tp.trace import (
    error_line,
    event_line,
    packet_line,
)
from pixgw.l2tp.tunnel import (
    TUNNEL_TABLE,
    Incoming,
    L2tpTunnel,
    TunnelAction,
    TunnelState,
    control_message_types,
)
from pixgw.l2tp.values import avp_text, challenge_response
from pixgw.status import L2tpCounters, L2tpSessionStatus, L2tpTunnelStatus
from pixgw.syslog import LogSink
from pixgw.wire import MalformedMessage

__all__ = ["L2tpLns", "L2tpSettings", "challenge_response"]

MAX_IDS_TRIES = 64

#: Messages that belong to a session (§4.1: an unknown M AVP in them ends only the session).
SESSION_MESSAGES = frozenset(
    {
        MessageType.OCRQ,
        MessageType.OCRP,
        MessageType.OCCN,
        MessageType.ICRQ,
        MessageType.ICRP,
        MessageType.ICCN,
        MessageType.CDN,
        MessageType.WEN,
        MessageType.SLI,
    }
)


# --- settings, keys, events ------------------------------------------------------------------


@dataclass(frozen=True)
class L2tpSettings:
    """What the LNS does, mostly from the ``vpdn group``."""

    hello_interval: float = 60.0  # ``vpdn group G l2tp tunnel hello S``
    secret: bytes | None = None  # tunnel secret: Challenge AVPs and hidden AVPs
    host_name: str = "pixgw"
    vendor_name: str = "pixgw"
    firmware_revision: int = 0x0603
    receive_window: int = 8  # our RWS
    max_retries: int = 5  # retransmissions before the tunnel is given up
    retransmit_initial: float = 1.0
    retransmit_cap: float = 8.0
    ack_delay: float = 0.25
    sessions_per_tunnel: int = 1  # the PIX allows one
    setup_timeout: float = 30.0  # SCCCN after SCCRP, ICCN after ICRP
    stop_linger: float = 31.0  # keep a stopped tunnel to acknowledge StopCCN retransmissions
    interface: str = "outside"
    local_address: IPv4Address | None = None
    restart_after: float = 10.0  # an SCCRQ this long after SCCCN on the same id: a new tunnel
    max_tunnels: int = 16384  # half-open ones included; SCCRQs beyond are dropped and counted
    # one VPN user (every user holds the group key) may not take what the others need:
    tunnels_per_sa: int = 4  # L2TP tunnels one IPsec SA carries (a client has one)
    peer_window_max: int = 16  # the peer's Receive Window Size is held to this (a PIX uses 16)
    max_unsent: int = 64  # control messages queued for a peer that does not acknowledge them

    @classmethod
    def from_vpdn_group(
        cls, group: VpdnGroup, *, hostname: str | None = None, **overrides: object
    ) -> L2tpSettings:
        values: dict[str, object] = {
            "hello_interval": float(group.l2tp_tunnel_hello),
            "tunnels_per_sa": group.l2tp_tunnel_limit,
            "sessions_per_tunnel": group.l2tp_session_limit,
        }
        if hostname:
            values["host_name"] = hostname
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


# --- state -----------------------------------------------------------------------------------


def _same_client(a: L2tpPeer, b: L2tpPeer) -> bool:
    return a.address == b.address and a.outer_port == b.outer_port and a.l2tp_port == b.l2tp_port


class L2tpLns:
    """The LNS: every tunnel and session, fed datagrams and time, giving datagrams and events."""

    def __init__(
        self, settings: L2tpSettings, *, random_bytes: Callable[[int], bytes], log: LogSink = syslog
    ) -> None:
        self._log = log  # PIX syslog messages and debug vpdn lines (the process's publisher)
        self.settings = settings
        self.random_bytes = random_bytes
        self.tunnels: dict[int, L2tpTunnel] = {}
        self.by_remote: dict[tuple[L2tpPeer, int], int] = {}
        self.by_child: dict[int | None, set[int]] = {}  # child SA id -> tunnel ids
        self.events: deque[Event] = deque()
        self._outgoing: list[tuple[bytes, L2tpPeer]] = []
        # Tunnels whose control channel may have something to send: the ones a message, a queue
        # or an ack touched since the last flush (every tunnel after a timer), so that flushing
        # costs what changed, not the number of tunnels.
        self.dirty: set[int] = set()
        # Timers: one deadline per tunnel (pixgw.deadlines, the structure the gateway keeps its
        # PPP deadlines in). A tunnel's deadline is recomputed only when something that can bring
        # it forward touched the tunnel (a control message in or out, a state change:
        # ``_rearm``); data only pushes the hello later, so a deadline that comes due early
        # costs one look at that tunnel (and is set again), never a scan of all of them.
        self._deadlines: Deadlines[int] = Deadlines()
        self._rearm: set[int] = set()
        self._now = 0.0
        self._counters = {name: 0 for name in L2tpCounters.__dataclass_fields__}

    # --- public API ----------------------------------------------------------------------

    def vpdn_error(self, line: str) -> None:
        self._log.debug("vpdn error", line)

    def vpdn_event(self, line: str) -> None:
        self._log.debug("vpdn event", line)

    def _vpdn_packet(self, line: str) -> None:
        self._log.debug("vpdn packet", line)

    def pix(self, message_id: int, text: str) -> None:
        self._log.pix_log(message_id, text)

    def receive_datagram(self, data: bytes, peer: L2tpPeer, now: float) -> None:
        """One UDP/1701 payload that arrived through *peer*'s SA."""
        self._now = now
        try:
            message = decode(data)
        except MalformedMessage as exc:
            self.count("malformed")
            self.vpdn_error(error_line(None, None, f"Malformed packet from {peer.address}: {exc}"))
            return
        if isinstance(message, DataMessage):
            self._receive_data(message, len(data), peer, now)
        else:
            self._receive_control(message, len(data), peer, now)

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, L2tpPeer]]:
        self._now = now
        if self.dirty:
            dirty, self.dirty = self.dirty, set()
            self._rearm |= dirty  # a flush moves the channel's retransmission/ack deadlines
            for tunnel_id in sorted(dirty):
                tunnel = self.tunnels.get(tunnel_id)
                if tunnel is not None:
                    self._flush(tunnel, now)
        if not self._outgoing:
            return []  # the per-packet case when only data came in
        out, self._outgoing = self._outgoing, []
        return out

    def get_timer(self) -> float | None:
        deadlines = self._deadlines
        if self._rearm or self.dirty:  # touched, or touched and not yet flushed
            for tunnel_id in self._rearm | self.dirty:
                tunnel = self.tunnels.get(tunnel_id)
                if tunnel is not None:
                    deadlines.set(tunnel_id, self._tunnel_deadline(tunnel))
            self._rearm.clear()
        return deadlines.earliest()

    def _tunnel_deadline(self, tunnel: L2tpTunnel) -> float | None:
        deadlines: list[float] = []
        channel_deadline = tunnel.channel.deadline()
        if channel_deadline is not None:
            deadlines.append(max(channel_deadline, self._now))
        if tunnel.linger_until is not None:
            deadlines.append(tunnel.linger_until)
            return min(deadlines)
        if tunnel.state in (TunnelState.IDLE, TunnelState.WAIT_CTL_CONN):
            deadlines.append(tunnel.changed_at + self.settings.setup_timeout)
        elif (
            tunnel.state is TunnelState.ESTABLISHED
            and self.settings.hello_interval > 0
            and tunnel.channel.idle  # else the retransmission timer is the deadline
        ):
            deadlines.append(self._next_hello(tunnel))
        for session in tunnel.sessions.values():
            if session.state is SessionState.WAIT_CONNECT:
                deadlines.append(session.changed_at + self.settings.setup_timeout)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        self._now = now
        self.get_timer()  # hints for whatever changed since the caller last asked
        due = self._deadlines.pop_due(now)
        # retransmissions and delayed acks fall due by time: flush the due tunnels
        self.dirty.update(due)
        self._rearm.update(due)
        for tunnel_id in sorted(due):
            tunnel = self.tunnels.get(tunnel_id)
            if tunnel is None:
                continue
            if tunnel.linger_until is not None:
                if now >= tunnel.linger_until:
                    self.forget(tunnel)
                    continue
            elif tunnel.state is TunnelState.IDLE:
                if now >= tunnel.changed_at + self.settings.setup_timeout:
                    self.forget(tunnel)  # its SCCRQ never became deliverable
                    continue
            elif tunnel.state is TunnelState.WAIT_CTL_CONN:
                if now >= tunnel.changed_at + self.settings.setup_timeout:
                    teardown.stop_tunnel(
                        self,
                        tunnel,
                        Hangup(StopCcnResult.GENERAL_ERROR, None, "no SCCCN in time"),
                        now,
                    )
            elif tunnel.state is TunnelState.ESTABLISHED:
                for session in list(tunnel.sessions.values()):
                    if (
                        session.state is SessionState.WAIT_CONNECT
                        and now >= session.changed_at + self.settings.setup_timeout
                    ):
                        teardown.disconnect(
                            self,
                            tunnel,
                            session,
                            Hangup(CdnResult.NOT_ESTABLISHED_IN_TIME),
                            now,
                        )
                if (
                    self.settings.hello_interval > 0
                    and now >= self._next_hello(tunnel)
                    and tunnel.channel.idle
                ):
                    tunnel.last_hello = now
                    self.send_control(
                        tunnel, 0, [Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.HELLO)]
                    )
                    self.vpdn_event(event_line(tunnel.tunnel_id, None, "O HELLO (keepalive)"))
            if tunnel.tunnel_id in self.tunnels:
                self._flush(tunnel, now)

    def next_event(self) -> Event | None:
        return self.events.popleft() if self.events else None

    def send_ppp(self, session_key: SessionKey, frame: bytes, now: float) -> None:
        """A PPP frame (as given: with or without FF 03) as a data message to the LAC."""
        self._now = now
        tunnel = self.tunnels.get(session_key.tunnel_id)
        if tunnel is None or tunnel.state is not TunnelState.ESTABLISHED:
            return
        session = tunnel.sessions.get(session_key.session_id)
        if session is None or session.state is not SessionState.ESTABLISHED:
            return
        ns = nr = None
        if session.sequencing:
            ns, nr = session.data_ns, session.data_nr
            session.data_ns = (session.data_ns + 1) & 0xFFFF
        datagram = data_datagram(tunnel.remote_tunnel_id, session.remote_session_id, frame, ns, nr)
        session.packets_sent += 1
        session.bytes_sent += len(frame)
        self._emit(tunnel, datagram)

    def close_session(
        self, session_key: SessionKey, result_code: int, now: float, message: str = ""
    ) -> None:
        """Send a CDN (e.g. PPP ended); a :class:`SessionClosed` follows."""
        self._now = now
        tunnel = self.tunnels.get(session_key.tunnel_id)
        if tunnel is None or tunnel.linger_until is not None:
            return
        session = tunnel.sessions.get(session_key.session_id)
        if session is not None:
            teardown.disconnect(self, tunnel, session, Hangup(result_code, None, message), now)

    def close_tunnel(
        self, tunnel_key: TunnelKey, result_code: int, now: float, message: str = ""
    ) -> None:
        """Send a StopCCN (``clear vpdn tunnel``); :class:`SessionClosed` and
        :class:`TunnelClosed` events follow."""
        self._now = now
        tunnel = self.tunnels.get(tunnel_key.tunnel_id)
        if tunnel is not None and tunnel.linger_until is None:
            teardown.stop_tunnel(self, tunnel, Hangup(result_code, None, message), now)

    def tunnel_keys(self) -> tuple[TunnelKey, ...]:
        return tuple(TunnelKey(t.tunnel_id) for t in self._live_tunnels())

    def tunnel_status(self, now: float | None = None) -> tuple[L2tpTunnelStatus, ...]:
        at = self._now if now is None else now
        return tuple(
            tunnel_status(t, at, self.settings.local_address) for t in self._live_tunnels()
        )

    def session_status(self, now: float | None = None) -> tuple[L2tpSessionStatus, ...]:
        at = self._now if now is None else now
        return tuple(
            session_status(t, s, at, self.settings.interface)
            for t in self._live_tunnels()
            for s in t.sessions.values()
        )

    def counters(self) -> L2tpCounters:
        return L2tpCounters(**self._counters)

    def session_open(self, key: SessionKey) -> bool:
        """Whether the session is still there, on a tunnel not shutting down (a lookup)."""
        tunnel = self.tunnels.get(key.tunnel_id)
        return (
            tunnel is not None and tunnel.linger_until is None and key.session_id in tunnel.sessions
        )

    def tunnel_keys_on_child(self, child_sa_id: int) -> tuple[TunnelKey, ...]:
        """The live tunnels riding on one child SA (an index, not a scan)."""
        on_child = sorted(self.by_child.get(child_sa_id, ()))
        return tuple(TunnelKey(t) for t in on_child if self.tunnels[t].linger_until is None)

    def peer_of(self, key: TunnelKey) -> L2tpPeer | None:
        tunnel = self.tunnels.get(key.tunnel_id)
        return tunnel.peer if tunnel is not None else None

    # --- receiving -----------------------------------------------------------------------

    def count(self, name: str) -> None:
        self._counters[name] += 1

    def _live_tunnels(self) -> list[L2tpTunnel]:
        return [t for t in self.tunnels.values() if t.linger_until is None]

    def _find(self, tunnel_id: int, peer: L2tpPeer) -> L2tpTunnel | None:
        tunnel = self.tunnels.get(tunnel_id)
        if tunnel is None:
            return None
        if tunnel.peer is peer:  # the dataplane keeps one L2tpPeer per SA and port: per packet
            return tunnel
        if not _same_client(tunnel.peer, peer):
            return None
        if tunnel.peer != peer:  # same client through a new SA (rekey): follow it
            self.by_remote.pop((tunnel.peer, tunnel.remote_tunnel_id), None)
            self._unindex_child(tunnel)
            self.by_child.setdefault(peer.child_sa_id, set()).add(tunnel.tunnel_id)
            tunnel.peer = peer
            self.by_remote[(peer, tunnel.remote_tunnel_id)] = tunnel.tunnel_id
        return tunnel

    def _receive_data(self, message: DataMessage, size: int, peer: L2tpPeer, now: float) -> None:
        tunnel = self._find(message.tunnel_id, peer)
        if tunnel is None or tunnel.linger_until is not None:
            self.count("unknown_tunnel")
            return
        session = tunnel.sessions.get(message.session_id)
        if session is None or session.state is not SessionState.ESTABLISHED:
            self.count("unknown_session")
            self.vpdn_error(
                error_line(tunnel.tunnel_id, message.session_id, "Data for an unknown session")
            )
            return
        tunnel.packets_received += 1
        tunnel.bytes_received += size
        tunnel.last_heard = now
        if message.ns is not None:
            behind = ((message.ns - session.data_nr) & 0xFFFF) >= 0x8000
            if session.packets_received and behind:
                self.count("data_out_of_order")
                return
            session.data_nr = (message.ns + 1) & 0xFFFF
            session.sequencing = True
        session.packets_received += 1
        session.bytes_received += len(message.payload)
        self.events.append(
            PppFrameReceived(SessionKey(tunnel.tunnel_id, session.session_id), message.payload)
        )

    def _receive_control(
        self, message: ControlMessage, size: int, peer: L2tpPeer, now: float
    ) -> None:
        if message.tunnel_id == 0:
            tunnel = tunnel_messages.tunnel_for_sccrq(self, message, peer, now)
        else:
            tunnel = self._find(message.tunnel_id, peer)
        if tunnel is None:
            return
        tunnel.packets_received += 1
        tunnel.bytes_received += size
        tunnel.last_heard = now
        self.dirty.add(tunnel.tunnel_id)
        for delivered in tunnel.channel.receive(message, now):
            if tunnel.tunnel_id not in self.tunnels:
                break
            self._handle_control(tunnel, delivered, now)

    def new_id(self, used: set[int]) -> int | None:
        for _ in range(MAX_IDS_TRIES):
            candidate = int.from_bytes(self.random_bytes(2), "big")
            if candidate and candidate not in used:
                return candidate
        return next((i for i in range(1, 0x10000) if i not in used), None)

    def _handle_control(self, tunnel: L2tpTunnel, message: ControlMessage, now: float) -> None:
        if tunnel.linger_until is not None:
            return  # shutting down: the channel acknowledges, nothing else happens
        try:
            avps, unrevealed = decode_avps(message.avp_bytes, secret=self.settings.secret)
            if not avps or avps[0].attribute_type != AvpType.MESSAGE_TYPE or avps[0].vendor_id:
                raise MalformedMessage("the first AVP is not the Message Type")
            message_type = avps[0].u16()
        except MalformedMessage as exc:
            self.count("malformed")
            self.vpdn_error(error_line(tunnel.tunnel_id, None, f"Malformed control message: {exc}"))
            return
        by_type: dict[int, Avp] = {}
        unknown_mandatory: list[Avp] = []
        for avp in avps[1:]:
            if avp.recognized and not (avp.hidden and avp.attribute_type in unrevealed):
                by_type.setdefault(avp.attribute_type, avp)
            elif avp.mandatory:
                unknown_mandatory.append(avp)
        session_id = message.session_id
        if message_type == MessageType.SCCRQ and tunnel.state is TunnelState.IDLE:
            tunnel.remote_host_name = avp_text(by_type.get(AvpType.HOST_NAME))[:64]
        self._vpdn_packet(
            packet_line(
                "I",
                message_name(message_type),
                tunnel.tunnel_id,
                session_id or None,
                tunnel.remote_host_name,
                tunnel.remote_tunnel_id,
                message.ns,
                message.nr,
                len(message.avp_bytes) + 12,
            )
        )
        if message_type not in _MESSAGE_TYPES:
            if avps[0].mandatory:
                teardown.stop_tunnel(
                    self,
                    tunnel,
                    Hangup(
                        StopCcnResult.GENERAL_ERROR,
                        ErrorCode.OUT_OF_RANGE,
                        f"unknown message type {message_type}",
                    ),
                    now,
                )
            else:
                self.count("unexpected")
            return
        action = TUNNEL_TABLE[(tunnel.state, message_type)]
        if action is TunnelAction.OUT_OF_ORDER:
            teardown.fsm_error(self, tunnel, message_name(message_type), now)
            return
        if action is TunnelAction.NOT_FOR_LNS:
            self.count("unexpected")
            self.vpdn_error(
                error_line(tunnel.tunnel_id, None, "Unexpected control message ignored")
            )
            return
        try:
            incoming = Incoming(tunnel, message, by_type, unknown_mandatory, now)
            _HANDLERS[message_type](self, incoming)
        except MalformedMessage as exc:
            self.count("malformed")
            self.vpdn_error(error_line(tunnel.tunnel_id, None, f"Bad AVP value: {exc}"))
            if (
                tunnel.state in (TunnelState.IDLE, TunnelState.WAIT_CTL_CONN)
                and tunnel.linger_until is None
            ):
                teardown.stop_tunnel(
                    self,
                    tunnel,
                    Hangup(StopCcnResult.GENERAL_ERROR, ErrorCode.BAD_LENGTH, str(exc)),
                    now,
                )

    # --- sending and state ---------------------------------------------------------------

    def send_control(self, tunnel: L2tpTunnel, remote_session_id: int, avps: list[Avp]) -> None:
        tunnel.channel.queue(remote_session_id, encode_avps(avps))
        self.dirty.add(tunnel.tunnel_id)

    def _flush(self, tunnel: L2tpTunnel, now: float) -> None:
        for message in tunnel.channel.messages_to_send(now):
            datagram = encode_control(message)
            name = "ZLB"
            if message.avp_bytes:
                name = message_name(int.from_bytes(message.avp_bytes[6:8], "big"))
            self._vpdn_packet(
                packet_line(
                    "O",
                    name,
                    tunnel.tunnel_id,
                    None,
                    tunnel.remote_host_name,
                    tunnel.remote_tunnel_id,
                    message.ns,
                    message.nr,
                    len(datagram),
                )
            )
            self._emit(tunnel, datagram)
        if tunnel.channel.failed and tunnel.tunnel_id in self.tunnels:
            overflowed = tunnel.channel.overflowed
            if overflowed:
                self.count("queue_overflow")
            why = (
                "asks more than it acknowledges" if overflowed else "timed out, no acknowledgement"
            )
            self.vpdn_error(
                error_line(tunnel.tunnel_id, None, f"Tunnel to {tunnel.peer.address} {why}")
            )
            if tunnel.linger_until is None:
                teardown.end_tunnel(
                    self,
                    tunnel,
                    Hangup(StopCcnResult.GENERAL_ERROR),
                    now,
                    by_peer=False,
                    reason="control queue overflow" if overflowed else "retransmission limit",
                )
            self.forget(tunnel)
        elif tunnel.stop_sent and tunnel.channel.idle and tunnel.channel.deadline() is None:
            self.forget(tunnel)  # our StopCCN was acknowledged

    def _emit(self, tunnel: L2tpTunnel, datagram: bytes) -> None:
        tunnel.packets_sent += 1
        tunnel.bytes_sent += len(datagram)
        self._outgoing.append((datagram, tunnel.peer))

    def _next_hello(self, tunnel: L2tpTunnel) -> float:
        return max(tunnel.last_heard, tunnel.last_hello) + self.settings.hello_interval

    def set_tunnel_state(self, tunnel: L2tpTunnel, state: TunnelState, now: float) -> None:
        self.vpdn_event(
            event_line(
                tunnel.tunnel_id, None, f"Tunnel state change from {tunnel.state} to {state}"
            )
        )
        tunnel.state = state
        tunnel.changed_at = now
        self._rearm.add(tunnel.tunnel_id)

    def set_session_state(
        self, tunnel: L2tpTunnel, session: L2tpSession, state: SessionState, now: float
    ) -> None:
        self.vpdn_event(
            event_line(
                tunnel.tunnel_id,
                session.session_id,
                f"Session state change from {session.state} to {state}",
            )
        )
        session.state = state
        session.changed_at = now
        self._rearm.add(tunnel.tunnel_id)

    def _unindex_child(self, tunnel: L2tpTunnel) -> None:
        on_child = self.by_child.get(tunnel.peer.child_sa_id)
        if on_child is not None:
            on_child.discard(tunnel.tunnel_id)
            if not on_child:
                del self.by_child[tunnel.peer.child_sa_id]

    def forget(self, tunnel: L2tpTunnel) -> None:
        if self.tunnels.pop(tunnel.tunnel_id, None) is not None:
            self._unindex_child(tunnel)
            self._deadlines.cancel(tunnel.tunnel_id)
        by_remote_key = (tunnel.peer, tunnel.remote_tunnel_id)
        if self.by_remote.get(by_remote_key) == tunnel.tunnel_id:
            del self.by_remote[by_remote_key]


_Handler = Callable[[L2tpLns, Incoming], None]

_MESSAGE_TYPES = frozenset(control_message_types())
# the handler of each message an LNS takes; TUNNEL_TABLE has decided it may run
_HANDLERS: dict[int, _Handler] = {
    MessageType.SCCRQ: tunnel_messages.on_sccrq,
    MessageType.SCCCN: tunnel_messages.on_scccn,
    MessageType.STOPCCN: tunnel_messages.on_stopccn,
    MessageType.HELLO: tunnel_messages.on_hello,
    MessageType.ICRQ: call_messages.on_icrq,
    MessageType.ICCN: call_messages.on_iccn,
    MessageType.CDN: call_messages.on_cdn,
    MessageType.WEN: call_messages.on_session_info,
    MessageType.SLI: call_messages.on_session_info,
}
