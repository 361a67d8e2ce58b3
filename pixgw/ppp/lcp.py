"""LCP: the Link Control Protocol for the gateway's side of a PPP link.

- RFC 1661 §5.8 Protocol-Reject, §5.9 Echo-Request/Echo-Reply (liveness, loop detection),
  §5.10 Discard-Request; §6.1 Maximum-Receive-Unit (capped: larger values are Nak'ed),
  §6.2 Authentication-Protocol (ours, in the vpdn group's ``ppp authentication`` order; a Nak
  moves to the next allowed protocol), §6.4 Magic-Number (loop detection), §6.5
  Protocol-Field-Compression, §6.6 Address-and-Control-Field-Compression.
- RFC 1662 §7.1 Async-Control-Character-Map (accepted, meaningless over L2TP).
- RFC 1994 §3 / RFC 2433 §2 / RFC 2759 §2: CHAP algorithm 5 (MD5), 0x80 (MS-CHAPv1),
  0x81 (MS-CHAPv2) in the Authentication-Protocol option; RFC 1334 §2 PAP (0xC023).
- Options we do not implement (Quality-Protocol, callback, multilink, ...) are Rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, Literal

from pixgw.ppp.frame import PROTO_CHAP, PROTO_LCP, PROTO_PAP, ControlPacket, Option
from pixgw.ppp.fsm import (
    DEFAULT_LIMITS,
    ControlProtocol,
    Event,
    RequestVerdict,
    RestartLimits,
    State,
    weak_hook,
)
from pixgw.wire import Writer

__all__ = [
    "AUTH_OPTION_DATA",
    "AuthName",
    "LcpLayer",
]

AuthName = Literal["pap", "chap", "mschap", "mschapv2"]

OPT_MRU = 1
OPT_ACCM = 2
OPT_AUTH = 3
OPT_QUALITY = 4
OPT_MAGIC = 5
OPT_PFC = 7
OPT_ACFC = 8

CODE_PROTOCOL_REJECT = 8
CODE_ECHO_REQUEST = 9
CODE_ECHO_REPLY = 10
CODE_DISCARD_REQUEST = 11

# Authentication-Protocol option data for each ``ppp authentication`` keyword.
AUTH_OPTION_DATA: Final[dict[AuthName, bytes]] = {
    "pap": PROTO_PAP.to_bytes(2, "big"),
    "chap": PROTO_CHAP.to_bytes(2, "big") + b"\x05",
    "mschap": PROTO_CHAP.to_bytes(2, "big") + b"\x80",
    "mschapv2": PROTO_CHAP.to_bytes(2, "big") + b"\x81",
}
_AUTH_BY_DATA: Final[dict[bytes, AuthName]] = {
    data: name for name, data in AUTH_OPTION_DATA.items()
}

MIN_MRU = 64
DEFAULT_MRU = 1500


class LcpLayer(ControlProtocol):
    """LCP as the authenticator (the LNS side): we ask the peer to authenticate, never the
    other way round."""

    name = "LCP"
    protocol = PROTO_LCP
    extra_codes = frozenset(
        {CODE_PROTOCOL_REJECT, CODE_ECHO_REQUEST, CODE_ECHO_REPLY, CODE_DISCARD_REQUEST}
    )

    def __init__(
        self,
        *,
        authentication: Sequence[AuthName],
        random_bytes: Callable[[int], bytes],
        mru_cap: int = 1400,
        echo_interval: float = 20.0,
        echo_failures: int = 3,
        on_up: Callable[[float], None] | None = None,
        on_down: Callable[[float, str], None] | None = None,
        on_protocol_rejected: Callable[[int, float], None] | None = None,
        limits: RestartLimits = DEFAULT_LIMITS,
        trace: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(limits=limits, trace=trace)
        self._random_bytes = random_bytes
        self.allowed_auth: tuple[AuthName, ...] = tuple(authentication)
        self._untried_auth: list[AuthName] = list(self.allowed_auth)
        self.auth: AuthName | None = self._untried_auth.pop(0) if self._untried_auth else None
        self.mru_cap = mru_cap
        self.our_mru = mru_cap if mru_cap != DEFAULT_MRU else None
        self.peer_mru = DEFAULT_MRU
        self.magic = self._new_magic()
        self.peer_magic = 0
        self.peer_pfc = False
        self.peer_acfc = False
        self.loops_detected = 0
        self.echo_interval = echo_interval
        self.echo_failures = echo_failures
        self.echo_deadline: float | None = None
        self.echoes_unanswered = 0
        self.fatal_reason: str | None = None
        self._on_up = weak_hook(on_up)
        self._on_down = weak_hook(on_down)
        self._on_protocol_rejected = weak_hook(on_protocol_rejected)

    @property
    def reply_limit(self) -> int:
        return self.peer_mru

    def _new_magic(self) -> int:
        for _ in range(8):
            value = int.from_bytes(self._random_bytes(4), "big")
            if value:
                return value
        return 0x5A5A5A5A

    # --- our Configure-Request ----------------------------------------------------------------

    def request_options(self) -> list[Option]:
        options: list[Option] = []
        if self.our_mru is not None:
            options.append(Option(OPT_MRU, self.our_mru.to_bytes(2, "big")))
        if self.auth is not None:
            options.append(Option(OPT_AUTH, AUTH_OPTION_DATA[self.auth]))
        if self.magic:
            options.append(Option(OPT_MAGIC, self.magic.to_bytes(4, "big")))
        return options

    def apply_nak(self, options: tuple[Option, ...]) -> None:
        for option in options:
            if option.type == OPT_MRU and len(option.data) == 2:
                value = int.from_bytes(option.data, "big")
                self.our_mru = value if MIN_MRU <= value <= self.mru_cap else None
            elif option.type == OPT_AUTH:
                self._next_auth(_AUTH_BY_DATA.get(option.data))
            elif option.type == OPT_MAGIC:
                # §6.4: a Nak of our magic may mean a looped-back link; choose another.
                self._loop_seen()
                self.magic = self._new_magic()

    def _loop_seen(self) -> None:
        """§6.4: a magic number keeps coming back: after Max-Failure times the link is
        looped back, and the session ends it."""
        self.loops_detected += 1
        if self.loops_detected > self.max_failure:
            self.fatal_reason = "looped-back link detected"

    def _next_auth(self, suggested: AuthName | None) -> None:
        if suggested is not None and suggested in self._untried_auth:
            self._untried_auth.remove(suggested)
            self.auth = suggested
        elif self._untried_auth:
            self.auth = self._untried_auth.pop(0)
        else:
            self.fatal_reason = "peer refused every allowed authentication protocol"

    def apply_reject(self, options: tuple[Option, ...]) -> None:
        for option in options:
            if option.type == OPT_MRU:
                self.our_mru = None
            elif option.type == OPT_MAGIC:
                self.magic = 0
            elif option.type == OPT_AUTH and self.auth is not None:
                self.fatal_reason = "peer rejected authentication"

    # --- the peer's Configure-Request ----------------------------------------------------------

    def check_request(self, options: tuple[Option, ...]) -> RequestVerdict:
        rejects: list[Option] = []
        naks: list[Option] = []
        mru = DEFAULT_MRU
        magic = 0
        pfc = acfc = False
        for option in options:
            kind, data = option.type, option.data
            if kind == OPT_MRU and len(data) == 2:
                mru = int.from_bytes(data, "big")
                if mru > self.mru_cap or mru < MIN_MRU:
                    naks.append(Option(OPT_MRU, self.mru_cap.to_bytes(2, "big")))
            elif kind == OPT_ACCM and len(data) == 4:
                pass
            elif kind == OPT_MAGIC and len(data) == 4:
                magic = int.from_bytes(data, "big")
                if magic == 0 or (magic == self.magic and self.magic):
                    if magic:
                        self._loop_seen()
                    naks.append(Option(OPT_MAGIC, self._new_magic().to_bytes(4, "big")))
            elif kind == OPT_PFC and not data:
                pfc = True
            elif kind == OPT_ACFC and not data:
                acfc = True
            else:
                # Authentication-Protocol (we do not authenticate ourselves to the client),
                # Quality-Protocol, callback, multilink, bad lengths and unknown options.
                rejects.append(option)
        if refused := RequestVerdict.refusal(rejects, naks):
            return refused
        self.peer_mru = mru
        self.peer_magic = magic
        self.peer_pfc = pfc
        self.peer_acfc = acfc
        return RequestVerdict("ack")

    # --- layer actions -------------------------------------------------------------------------

    def layer_up(self, now: float) -> None:
        self.echoes_unanswered = 0
        self.echo_deadline = now + self.echo_interval if self.echo_interval > 0 else None
        if self._on_up is not None:
            self._on_up(now)

    def layer_down(self, now: float) -> None:
        self.echo_deadline = None
        if self._on_down is not None:
            self._on_down(now, "LCP down")

    def layer_finished(self, now: float) -> None:
        self.echo_deadline = None
        if self._on_down is not None:
            self._on_down(now, "LCP finished")

    # --- echo, discard, protocol reject -------------------------------------------------------

    def receive_extra(self, packet: ControlPacket, now: float) -> None:
        if packet.code == CODE_PROTOCOL_REJECT:
            rejected = int.from_bytes(packet.data[:2], "big") if len(packet.data) >= 2 else 0
            # §5.8: a Protocol-Reject of LCP itself is catastrophic.
            self._fire(Event.RXJ_MINUS if rejected == PROTO_LCP else Event.RXJ_PLUS, now)
            if self.state == State.OPENED and self._on_protocol_rejected is not None:
                self._on_protocol_rejected(rejected, now)
            return
        if packet.code in (CODE_ECHO_REQUEST, CODE_ECHO_REPLY) and len(packet.data) >= 4:
            their_magic = int.from_bytes(packet.data[:4], "big")
            if self.magic and their_magic == self.magic:
                self._loop_seen()  # our own packet came back: a looped link
                return
            if packet.code == CODE_ECHO_REPLY and self.state == State.OPENED:
                self.echoes_unanswered = 0
        self._fire(Event.RXR, now)

    def send_echo_reply(self, request: ControlPacket) -> None:
        if request.code != CODE_ECHO_REQUEST:
            return  # RXR also covers Echo-Reply and Discard-Request: nothing to send
        data = self.magic.to_bytes(4, "big") + request.data[4:]
        self.outgoing.append(
            ControlPacket(CODE_ECHO_REPLY, request.identifier, data[: self.peer_mru - 4])
        )

    def protocol_reject(self, protocol: int, information: bytes) -> None:
        """§5.8: tell the peer we do not speak *protocol* (only in the Opened state)."""
        if self.state != State.OPENED:
            return
        data = Writer().u16(protocol).write(information).getvalue()
        self.outgoing.append(
            ControlPacket(CODE_PROTOCOL_REJECT, self._new_identifier(), data[: self.peer_mru - 4])
        )

    def echo_timer(self) -> float | None:
        return self.echo_deadline

    def handle_echo_timer(self, now: float) -> bool:
        """Send the next Echo-Request; False when too many went unanswered (link dead)."""
        if self.echo_deadline is None or now < self.echo_deadline:
            return True
        if self.echoes_unanswered >= self.echo_failures:
            self.echo_deadline = None
            return False
        self.echoes_unanswered += 1
        self.outgoing.append(
            ControlPacket(CODE_ECHO_REQUEST, self._new_identifier(), self.magic.to_bytes(4, "big"))
        )
        self.echo_deadline = now + self.echo_interval
        return True

    def timers(self) -> list[float]:
        return [t for t in (self.get_timer(), self.echo_deadline) if t is not None]
