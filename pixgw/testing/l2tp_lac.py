"""A small L2TP access concentrator (LAC) core, for back-to-back tests of the LNS.

RFC 2661 from the LAC side: §5.1 / §6.1-§6.3 (SCCRQ, then SCCCN after the SCCRP, with the
§4.4.3 / §5.1.1 Challenge and Challenge Response both ways when given a secret), §6.6-§6.8
incoming calls (ICRQ, then ICCN after the ICRP), data messages (§3.1), HELLO answered by the
reliable channel of §5.8, CDN (§6.12) and StopCCN (§6.4) both ways. Hidden AVPs (§4.3) can be
sent with ``hide`` (Random Vector first, then the Calling Number / Host Name hidden).

Sans-I/O like the LNS; it shares :class:`pixgw.l2tp.channel.ControlChannel`. Not used by the
gateway.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pixgw.l2tp.avp import Avp, AvpType, decode_avps, encode_avps, result_code_value
from pixgw.l2tp.channel import ControlChannel
from pixgw.l2tp.core import challenge_response
from pixgw.l2tp.message import (
    ControlMessage,
    DataMessage,
    MessageType,
    decode,
    encode_control,
    encode_data,
)
from pixgw.wire import MalformedMessage

__all__ = ["L2tpLac", "ReceivedControl"]


@dataclass(frozen=True)
class ReceivedControl:
    message_type: int
    avps: tuple[Avp, ...]
    session_id: int

    def get(self, attribute_type: int) -> Avp | None:
        return next((a for a in self.avps if a.attribute_type == attribute_type), None)

    def require(self, attribute_type: int) -> Avp:
        avp = self.get(attribute_type)
        if avp is None:
            raise KeyError(f"no AVP {attribute_type}")
        return avp


@dataclass
class L2tpLac:
    """One tunnel with (at most) one call, from the LAC side."""

    random_bytes: Callable[[int], bytes]
    secret: bytes | None = None
    host_name: str = "lac"
    tunnel_id: int = 19
    session_id: int = 1
    receive_window: int = 4
    hide: bool = False
    answer_challenge: bool = True
    send_challenge: bool = True
    sequencing: bool = False
    sccrq_extra: Sequence[Avp] = ()
    icrq_extra: Sequence[Avp] = ()
    channel: ControlChannel = field(init=False)
    tunnel_state: str = "idle"
    session_state: str = "idle"
    remote_tunnel_id: int = 0
    remote_session_id: int = 0
    lns_authenticated: bool | None = None
    received: list[ReceivedControl] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)
    stop_result: bytes | None = None
    cdn_result: bytes | None = None
    malformed: int = 0
    _challenge: bytes | None = None
    _data_ns: int = 0
    _outgoing: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.channel = ControlChannel(local_rws=self.receive_window)

    # --- actions -------------------------------------------------------------------------

    def start_tunnel(self, now: float) -> None:
        avps = [
            Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.SCCRQ),
            Avp(AvpType.PROTOCOL_VERSION, b"\x01\x00"),
            Avp.of_u32(AvpType.FRAMING_CAPABILITIES, 3),
            Avp.of_u32(AvpType.BEARER_CAPABILITIES, 0),
            Avp.of_u16(AvpType.FIRMWARE_REVISION, 0x0690, mandatory=False),
        ]
        if self.hide and self.secret is not None:
            avps.append(Avp(AvpType.RANDOM_VECTOR, self.random_bytes(16)))
            avps.append(Avp(AvpType.HOST_NAME, self.host_name.encode(), hidden=True))
        else:
            avps.append(Avp(AvpType.HOST_NAME, self.host_name.encode()))
        avps += [
            Avp(AvpType.VENDOR_NAME, b"testing", mandatory=False),
            Avp.of_u16(AvpType.ASSIGNED_TUNNEL_ID, self.tunnel_id),
            Avp.of_u16(AvpType.RECEIVE_WINDOW_SIZE, self.receive_window),
        ]
        if self.secret is not None and self.send_challenge:
            self._challenge = self.random_bytes(16)
            avps.append(Avp(AvpType.CHALLENGE, self._challenge))
        avps += list(self.sccrq_extra)
        self._queue(0, avps)
        self.tunnel_state = "wait-ctl-reply"

    def place_call(self, now: float, *, calling_number: str = "") -> None:
        avps = [
            Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.ICRQ),
            Avp.of_u16(AvpType.ASSIGNED_SESSION_ID, self.session_id),
            Avp.of_u32(AvpType.CALL_SERIAL_NUMBER, 7),
            Avp.of_u32(AvpType.BEARER_TYPE, 0),
        ]
        if calling_number and self.hide and self.secret is not None:
            avps.append(Avp(AvpType.RANDOM_VECTOR, self.random_bytes(16)))
            avps.append(Avp(AvpType.CALLING_NUMBER, calling_number.encode(), hidden=True))
        elif calling_number:
            avps.append(Avp(AvpType.CALLING_NUMBER, calling_number.encode()))
        avps += list(self.icrq_extra)
        self._queue(0, avps)
        self.session_state = "wait-reply"

    def send_ppp(self, frame: bytes, now: float) -> None:
        ns = nr = None
        if self.sequencing:
            ns, nr = self._data_ns, 0
            self._data_ns += 1
        self._outgoing.append(
            encode_data(DataMessage(self.remote_tunnel_id, self.remote_session_id, frame, ns, nr))
        )

    def disconnect(self, now: float, result: int = 1) -> None:
        self._queue(
            self.remote_session_id,
            [
                Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.CDN),
                Avp(AvpType.RESULT_CODE, result_code_value(result)),
                Avp.of_u16(AvpType.ASSIGNED_SESSION_ID, self.session_id),
            ],
        )
        self.session_state = "idle"

    def stop(self, now: float, result: int = 1) -> None:
        self._queue(
            0,
            [
                Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.STOPCCN),
                Avp.of_u16(AvpType.ASSIGNED_TUNNEL_ID, self.tunnel_id),
                Avp(AvpType.RESULT_CODE, result_code_value(result)),
            ],
        )
        self.tunnel_state = "shutting-down"
        self.session_state = "idle"

    def send_raw_control(self, avps: Sequence[Avp], session_id: int = 0) -> None:
        """Any control message (tests of unknown or unexpected AVPs and messages)."""
        self._queue(session_id, list(avps))

    # --- sans-I/O ------------------------------------------------------------------------

    def receive_datagram(self, data: bytes, now: float) -> None:
        try:
            message = decode(data)
        except MalformedMessage:
            self.malformed += 1
            return
        if isinstance(message, DataMessage):
            if message.session_id == self.session_id:
                self.frames.append(message.payload)
            return
        for delivered in self.channel.receive(message, now):
            self._handle(delivered, now)

    def datagrams_to_send(self, now: float) -> list[bytes]:
        out = [encode_control(m) for m in self.channel.messages_to_send(now)]
        out += self._outgoing
        self._outgoing = []
        return out

    def get_timer(self) -> float | None:
        return self.channel.deadline()

    def handle_timer(self, now: float) -> None:
        self._outgoing += [encode_control(m) for m in self.channel.messages_to_send(now)]

    # --- internals -----------------------------------------------------------------------

    def _queue(self, session_id: int, avps: list[Avp]) -> None:
        self.channel.queue(session_id, encode_avps(avps, secret=self.secret))

    def _handle(self, message: ControlMessage, now: float) -> None:
        try:
            avps, _ = decode_avps(message.avp_bytes, secret=self.secret)
            message_type = avps[0].u16()
        except (MalformedMessage, IndexError):
            self.malformed += 1
            return
        received = ReceivedControl(message_type, avps, message.session_id)
        self.received.append(received)
        if message_type == MessageType.SCCRP:
            self._on_sccrp(received)
        elif message_type == MessageType.ICRP:
            assigned = received.get(AvpType.ASSIGNED_SESSION_ID)
            self.remote_session_id = assigned.u16() if assigned is not None else 0
            avps_out = [
                Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.ICCN),
                Avp.of_u32(AvpType.TX_CONNECT_SPEED, 100_000_000),
                Avp.of_u32(AvpType.FRAMING_TYPE, 1),
            ]
            if self.sequencing:
                avps_out.append(Avp(AvpType.SEQUENCING_REQUIRED))
            self._queue(self.remote_session_id, avps_out)
            self.session_state = "established"
        elif message_type == MessageType.CDN:
            result = received.get(AvpType.RESULT_CODE)
            self.cdn_result = result.value if result is not None else b""
            self.session_state = "idle"
        elif message_type == MessageType.STOPCCN:
            result = received.get(AvpType.RESULT_CODE)
            self.stop_result = result.value if result is not None else b""
            self.tunnel_state = "idle"
            self.session_state = "idle"
            self.channel.ack_now(now)

    def _on_sccrp(self, received: ReceivedControl) -> None:
        assigned = received.get(AvpType.ASSIGNED_TUNNEL_ID)
        self.remote_tunnel_id = assigned.u16() if assigned is not None else 0
        self.channel.remote_tunnel_id = self.remote_tunnel_id
        rws = received.get(AvpType.RECEIVE_WINDOW_SIZE)
        if rws is not None:
            self.channel.peer_rws = rws.u16()
        if self._challenge is not None and self.secret is not None:
            response = received.get(AvpType.CHALLENGE_RESPONSE)
            expected = challenge_response(MessageType.SCCRP, self.secret, self._challenge)
            self.lns_authenticated = response is not None and hmac.compare_digest(
                response.value, expected
            )
        avps = [Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.SCCCN)]
        challenge = received.get(AvpType.CHALLENGE)
        if challenge is not None and self.answer_challenge:
            key = self.secret or b""
            avps.append(
                Avp(
                    AvpType.CHALLENGE_RESPONSE,
                    challenge_response(MessageType.SCCCN, key, challenge.value),
                )
            )
        self._queue(0, avps)
        self.tunnel_state = "established"
