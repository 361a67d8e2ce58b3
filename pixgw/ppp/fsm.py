"""The RFC 1661 §4 option negotiation automaton, declared as one table, and the engine of a
control protocol (LCP, IPCP) built on it.

- RFC 1661 §4.1: the state transition table, transcribed below cell for cell (the ``r``, ``x``
  and ``p`` notes are kept as flags; this implementation takes the default, non-restart and
  non-passive, branches).
- RFC 1661 §4.2-§4.4: states, events and actions; §4.6: Restart timer, Max-Terminate,
  Max-Configure and Max-Failure counters.
- RFC 1661 §5.1-§5.7: Configure-Request/Ack/Nak/Reject, Terminate-Request/Ack, Code-Reject.

Sans-I/O: time comes in as ``now``; packets go out through :attr:`ControlProtocol.outgoing`.
"""

from __future__ import annotations

import enum
import inspect
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, ParamSpec

from pixgw.ppp.frame import ControlPacket, Option, decode_options, encode_options, encode_packet
from pixgw.wire import MalformedMessage

__all__ = [
    "TIMER_STATES",
    "TRANSITIONS",
    "Action",
    "Automaton",
    "ControlProtocol",
    "Event",
    "RequestVerdict",
    "State",
    "Transition",
]


class State(enum.IntEnum):
    INITIAL = 0
    STARTING = 1
    CLOSED = 2
    STOPPED = 3
    CLOSING = 4
    STOPPING = 5
    REQ_SENT = 6
    ACK_RCVD = 7
    ACK_SENT = 8
    OPENED = 9


class Event(enum.Enum):
    UP = "Up"
    DOWN = "Down"
    OPEN = "Open"
    CLOSE = "Close"
    TO_PLUS = "TO+"
    TO_MINUS = "TO-"
    RCR_PLUS = "RCR+"
    RCR_MINUS = "RCR-"
    RCA = "RCA"
    RCN = "RCN"
    RTR = "RTR"
    RTA = "RTA"
    RUC = "RUC"
    RXJ_PLUS = "RXJ+"
    RXJ_MINUS = "RXJ-"
    RXR = "RXR"


class Action(enum.Enum):
    TLU = "tlu"  # This-Layer-Up
    TLD = "tld"  # This-Layer-Down
    TLS = "tls"  # This-Layer-Started
    TLF = "tlf"  # This-Layer-Finished
    IRC = "irc"  # Initialize-Restart-Count
    ZRC = "zrc"  # Zero-Restart-Count
    SCR = "scr"  # Send-Configure-Request
    SCA = "sca"  # Send-Configure-Ack
    SCN = "scn"  # Send-Configure-Nak/Rej
    STR = "str"  # Send-Terminate-Request
    STA = "sta"  # Send-Terminate-Ack
    SCJ = "scj"  # Send-Code-Reject
    SER = "ser"  # Send-Echo-Reply


@dataclass(frozen=True)
class Transition:
    actions: tuple[Action, ...]
    next_state: State
    legal: bool = True  # False for the RFC's "-" cells: the event cannot happen there
    restart_option: bool = False  # "r"
    crossed: bool = False  # "x"
    passive_option: bool = False  # "p"


# RFC 1661 §4.1, in the RFC's layout: rows are events; the first table has states 0..5, the
# second states 6..9 (as the RFC splits it).
_TABLE_TEXT_0_5: Final = """
      | 0            1            2            3              4            5
      | Initial      Starting     Closed       Stopped        Closing      Stopping
Up    | 2            irc,scr/6    -            -              -            -
Down  | -            -            0            tls/1          0            1
Open  | tls/1        1            irc,scr/6    3r             5r           5r
Close | 0            tlf/0        2            2              4            4
TO+   | -            -            -            -              str/4        str/5
TO-   | -            -            -            -              tlf/2        tlf/3
RCR+  | -            -            sta/2        irc,scr,sca/8  4            5
RCR-  | -            -            sta/2        irc,scr,scn/6  4            5
RCA   | -            -            sta/2        sta/3          4            5
RCN   | -            -            sta/2        sta/3          4            5
RTR   | -            -            sta/2        sta/3          sta/4        sta/5
RTA   | -            -            2            3              tlf/2        tlf/3
RUC   | -            -            scj/2        scj/3          scj/4        scj/5
RXJ+  | -            -            2            3              4            5
RXJ-  | -            -            tlf/2        tlf/3          tlf/2        tlf/3
RXR   | -            -            2            3              4            5
"""
_TABLE_TEXT_6_9: Final = """
      | 6            7            8            9
      | Req-Sent     Ack-Rcvd     Ack-Sent     Opened
Up    | -            -            -            -
Down  | 1            1            1            tld/1
Open  | 6            7            8            9r
Close | irc,str/4    irc,str/4    irc,str/4    tld,irc,str/4
TO+   | scr/6        scr/6        scr/8        -
TO-   | tlf/3p       tlf/3p       tlf/3p       -
RCR+  | sca/8        sca,tlu/9    sca/8        tld,scr,sca/8
RCR-  | scn/6        scn/7        scn/6        tld,scr,scn/6
RCA   | irc/7        scr/6x       irc,tlu/9    tld,scr/6x
RCN   | irc,scr/6    scr/6x       irc,scr/8    tld,scr/6x
RTR   | sta/6        sta/6        sta/6        tld,zrc,sta/5
RTA   | 6            6            8            tld,scr/6
RUC   | scj/6        scj/7        scj/8        scj/9
RXJ+  | 6            6            8            9
RXJ-  | tlf/3        tlf/3        tlf/3        tld,irc,str/5
RXR   | 6            7            8            ser/9
"""


def _parse_cell(state: State, cell: str) -> Transition:
    if cell == "-":
        return Transition((), state, legal=False)
    flags = ""
    while cell[-1] in "rxp":
        flags += cell[-1]
        cell = cell[:-1]
    actions_text, _, target = cell.rpartition("/")
    actions = tuple(Action(a) for a in actions_text.split(",")) if actions_text else ()
    return Transition(
        actions,
        State(int(target)),
        restart_option="r" in flags,
        crossed="x" in flags,
        passive_option="p" in flags,
    )


def _parse_table() -> dict[tuple[State, Event], Transition]:
    table: dict[tuple[State, Event], Transition] = {}
    for text in (_TABLE_TEXT_0_5, _TABLE_TEXT_6_9):
        lines = text.strip().splitlines()
        states = [State(int(n)) for n in lines[0].partition("|")[2].split()]
        for line in lines[2:]:
            name, _, cells_text = line.partition("|")
            cells = cells_text.split()
            if len(cells) != len(states):
                raise RuntimeError(f"RFC 1661 table row {name!r} has {len(cells)} cells")
            for state, cell in zip(states, cells, strict=True):
                table[(state, Event(name.strip()))] = _parse_cell(state, cell)
    if len(table) != len(State) * len(Event):
        raise RuntimeError("RFC 1661 table incomplete")
    return table


TRANSITIONS: Final[dict[tuple[State, Event], Transition]] = _parse_table()

# §4.6: the Restart timer runs in these states only.
TIMER_STATES: Final = frozenset(
    {State.CLOSING, State.STOPPING, State.REQ_SENT, State.ACK_RCVD, State.ACK_SENT}
)


P = ParamSpec("P")


def weak_hook(hook: Callable[P, None] | None) -> Callable[P, None] | None:
    """*hook* held weakly when it is a bound method: a layer's hooks into its owner (the PPP
    session's ``_lcp_up`` ...) must not make a reference cycle, so that a finished session is
    freed by reference counting alone (with the cyclic collector frozen out of long-lived
    objects, a cycle would never be freed: :mod:`pixgw.gcpolicy`). A hook whose owner is gone
    does nothing."""
    if hook is None or not inspect.ismethod(hook):
        return hook
    ref = weakref.WeakMethod(hook)

    def call(*args: P.args, **kwargs: P.kwargs) -> None:
        target = ref()
        if target is not None:
            target(*args, **kwargs)

    return call


class Automaton:
    """The RFC 1661 automaton with its Restart timer and restart counter (§4.6).

    :meth:`fire` looks the transition up in :data:`TRANSITIONS`, does the counter and timer
    actions itself (irc, zrc, and the timer restart of scr/str) and returns every action, in
    the table's order, for the protocol to perform.
    """

    def __init__(
        self, *, restart_interval: float = 3.0, max_configure: int = 10, max_terminate: int = 2
    ) -> None:
        self.state = State.INITIAL
        self.restart_interval = restart_interval
        self.max_configure = max_configure
        self.max_terminate = max_terminate
        self.restart_count = 0
        self.deadline: float | None = None
        self.illegal_events = 0

    def fire(self, event: Event, now: float) -> Transition:
        transition = TRANSITIONS[(self.state, event)]
        if not transition.legal:
            self.illegal_events += 1
            return transition
        for action in transition.actions:
            if action is Action.IRC:
                terminating = Action.STR in transition.actions
                self.restart_count = self.max_terminate if terminating else self.max_configure
            elif action is Action.ZRC:
                self.restart_count = 0
                self.deadline = now + self.restart_interval
            elif action in (Action.SCR, Action.STR):
                self.restart_count -= 1
                self.deadline = now + self.restart_interval
        self.state = transition.next_state
        if self.state not in TIMER_STATES:
            self.deadline = None
        return transition

    def timeout_event(self) -> Event:
        return Event.TO_PLUS if self.restart_count > 0 else Event.TO_MINUS


# seconds to wait for the answer to our Configure-Request once the peer's first packet (its own
# Configure-Request) has arrived without one: see ControlProtocol._hurry_reply
FIRST_REPLY_WAIT: Final = 1.0

CODE_CONFIGURE_REQUEST = 1
CODE_CONFIGURE_ACK = 2
CODE_CONFIGURE_NAK = 3
CODE_CONFIGURE_REJECT = 4
CODE_TERMINATE_REQUEST = 5
CODE_TERMINATE_ACK = 6
CODE_CODE_REJECT = 7

CODE_NAMES: Final = {
    1: "CONFREQ",
    2: "CONFACK",
    3: "CONFNAK",
    4: "CONFREJ",
    5: "TERMREQ",
    6: "TERMACK",
    7: "CODEREJ",
    8: "PROTREJ",
    9: "ECHOREQ",
    10: "ECHOREP",
    11: "DISCREQ",
}


@dataclass(frozen=True)
class RequestVerdict:
    """The answer to a peer's Configure-Request: ack (RCR+), or nak/reject options (RCR-)."""

    kind: str  # "ack" | "nak" | "reject"
    options: tuple[Option, ...] = ()

    @classmethod
    def refusal(cls, rejects: list[Option], naks: list[Option]) -> RequestVerdict | None:
        """RFC 1661 §5.4: options we do not know or take are rejected first; only a request
        with none of those is Nak'd for the values we would take instead; None: neither."""
        if rejects:
            return cls("reject", tuple(rejects))
        return cls("nak", tuple(naks)) if naks else None


@dataclass(frozen=True)
class RestartLimits:
    """RFC 1661 §4.6: the Restart timer and the Max-Configure, Max-Terminate and Max-Failure
    counters of a control protocol (the PPP session gives LCP and IPCP the same)."""

    restart_interval: float = 3.0
    max_configure: int = 10
    max_terminate: int = 2
    max_failure: int = 5


DEFAULT_LIMITS = RestartLimits()


class ControlProtocol:
    """One RFC 1661 control protocol instance (LCP or an NCP) driven by :class:`Automaton`.

    Subclasses give the option policy (:meth:`request_options`, :meth:`check_request`,
    :meth:`apply_nak`, :meth:`apply_reject`, :meth:`apply_ack`) and react to the layer
    actions (:meth:`layer_up`, :meth:`layer_down`, :meth:`layer_started`,
    :meth:`layer_finished`). Packets to send accumulate in :attr:`outgoing`.
    """

    name = "CP"
    protocol = 0
    extra_codes: frozenset[int] = frozenset()  # codes a subclass handles (LCP: 8-11)

    def __init__(
        self,
        *,
        limits: RestartLimits | None = None,
        trace: Callable[[str], None] | None = None,
    ) -> None:
        limits = limits or DEFAULT_LIMITS
        restart_interval = limits.restart_interval
        self.automaton = Automaton(
            restart_interval=restart_interval,
            max_configure=limits.max_configure,
            max_terminate=limits.max_terminate,
        )
        self.max_failure = limits.max_failure
        self.outgoing: list[ControlPacket] = []
        self.errors = 0
        self.terminate_reason = b""
        self._trace = trace
        self._next_identifier = 1
        self._request_identifier: int | None = None
        self._request_data = b""
        self._received: ControlPacket | None = None
        self._verdict = RequestVerdict("ack")
        self._naks_sent = 0
        self._heard = False  # anything received from the peer since the lower layer came up
        self.first_reply_wait = min(FIRST_REPLY_WAIT, restart_interval)

    # --- inputs -----------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.automaton.state

    def up(self, now: float) -> None:
        self._heard = False
        self._fire(Event.UP, now)

    def down(self, now: float) -> None:
        self._fire(Event.DOWN, now)

    def open(self, now: float) -> None:
        self._fire(Event.OPEN, now)

    def close(self, now: float, reason: bytes = b"") -> None:
        self.terminate_reason = reason
        self._fire(Event.CLOSE, now)

    def get_timer(self) -> float | None:
        return self.automaton.deadline

    def handle_timer(self, now: float) -> None:
        deadline = self.automaton.deadline
        if deadline is not None and now >= deadline:
            self._fire(self.automaton.timeout_event(), now)

    def receive(self, packet: ControlPacket, now: float) -> None:
        """A packet of this protocol arrived (already decoded from the frame)."""
        self._received = packet
        code = packet.code
        first_heard = not self._heard
        self._heard = True
        if code == CODE_CONFIGURE_REQUEST:
            outstanding = self._request_identifier
            self._receive_request(packet, now)
            if first_heard and outstanding is not None:
                self._hurry_reply(outstanding, now)
        elif code in (CODE_CONFIGURE_ACK, CODE_CONFIGURE_NAK, CODE_CONFIGURE_REJECT):
            if packet.identifier != self._request_identifier:
                self.errors += 1  # §5.2-§5.4: not an answer to our last request: discard
                return
            try:
                options = decode_options(packet.data)
            except MalformedMessage:
                self.errors += 1
                return
            if code == CODE_CONFIGURE_ACK:
                if packet.data != self._request_data:
                    self.errors += 1  # §5.2: an Ack must repeat the request exactly
                    return
                self._request_identifier = None
                self.apply_ack(options)
                self._fire(Event.RCA, now)
            else:
                self._request_identifier = None
                if code == CODE_CONFIGURE_NAK:
                    self.apply_nak(options)
                else:
                    self.apply_reject(options)
                self._fire(Event.RCN, now)
        elif code == CODE_TERMINATE_REQUEST:
            self._fire(Event.RTR, now)
        elif code == CODE_TERMINATE_ACK:
            self._fire(Event.RTA, now)
        elif code == CODE_CODE_REJECT:
            rejected_code = packet.data[0] if packet.data else 0
            # §5.7: a rejected code this implementation cannot do without is catastrophic.
            fatal = 1 <= rejected_code <= 7
            self._fire(Event.RXJ_MINUS if fatal else Event.RXJ_PLUS, now)
        elif code in self.extra_codes:
            self.receive_extra(packet, now)
        else:
            self._fire(Event.RUC, now)

    def _receive_request(self, packet: ControlPacket, now: float) -> None:
        try:
            options = decode_options(packet.data)
        except MalformedMessage:
            self.errors += 1
            return
        verdict = self.check_request(options)
        if verdict.kind == "nak" and self._naks_sent >= self.max_failure:
            # §4.6 Max-Failure: stop Naking, Reject the same options instead.
            naked = {o.type for o in verdict.options}
            rejected = tuple(o for o in options if o.type in naked)
            # An option Nak'ed in (not in the request) cannot be Rejected: give up on it.
            verdict = RequestVerdict("reject", rejected) if rejected else RequestVerdict("ack")
        self._verdict = verdict
        self._fire(Event.RCR_PLUS if verdict.kind == "ack" else Event.RCR_MINUS, now)

    def _hurry_reply(self, outstanding: int, now: float) -> None:
        """The peer's first packet is its Configure-Request, and ours is still unanswered: the
        peer may have started after ours was sent (an L2TP LAC such as xl2tpd starts pppd only
        once the call is up, and the kernel drops what arrives before), so wait no more than
        ``first_reply_wait`` for its answer before sending ours again.  A peer that did get
        ours answers it right after its own request, well within that.  (A request sent in
        answer to this one, from Stopped or Opened, is not hurried: the peer is listening.)"""
        deadline = self.automaton.deadline
        if (
            self._request_identifier == outstanding
            and self.automaton.state in (State.REQ_SENT, State.ACK_SENT)
            and deadline is not None
            and deadline > now + self.first_reply_wait
        ):
            self.automaton.deadline = now + self.first_reply_wait

    # --- the engine --------------------------------------------------------------------------

    def _fire(self, event: Event, now: float) -> None:
        before = self.automaton.state
        transition = self.automaton.fire(event, now)
        if self._trace is not None:
            self._trace(
                f"{self.name}: {event.value} in {before.name} -> {transition.next_state.name}"
                + ("" if transition.legal else " (illegal event ignored)")
            )
        for action in transition.actions:
            self._perform(action, now)

    def _send(self, code: int, identifier: int, data: bytes) -> None:
        self.outgoing.append(ControlPacket(code, identifier, data))

    def _new_identifier(self) -> int:
        identifier = self._next_identifier
        self._next_identifier = (self._next_identifier + 1) & 0xFF
        return identifier

    def _perform(self, action: Action, now: float) -> None:
        received = self._received
        if action is Action.SCR:
            identifier = self._new_identifier()
            self._request_identifier = identifier
            self._request_data = encode_options(self.request_options())
            self._send(CODE_CONFIGURE_REQUEST, identifier, self._request_data)
        elif action is Action.SCA and received is not None:
            self._naks_sent = 0
            self._send(CODE_CONFIGURE_ACK, received.identifier, received.data)
        elif action is Action.SCN and received is not None:
            verdict = self._verdict
            if verdict.kind == "nak":
                self._naks_sent += 1
                code = CODE_CONFIGURE_NAK
            else:
                code = CODE_CONFIGURE_REJECT
            self._send(code, received.identifier, encode_options(verdict.options))
        elif action is Action.STR:
            self._send(CODE_TERMINATE_REQUEST, self._new_identifier(), self.terminate_reason)
        elif action is Action.STA:
            identifier = received.identifier if received is not None else self._new_identifier()
            self._send(CODE_TERMINATE_ACK, identifier, b"")
        elif action is Action.SCJ and received is not None:
            self._send(CODE_CODE_REJECT, self._new_identifier(), self.code_reject_data(received))
        elif action is Action.SER and received is not None:
            self.send_echo_reply(received)
        elif action is Action.TLU:
            self.layer_up(now)
        elif action is Action.TLD:
            self.layer_down(now)
        elif action is Action.TLS:
            self.layer_started(now)
        elif action is Action.TLF:
            self.layer_finished(now)
        # IRC and ZRC are the automaton's own.

    # --- hooks --------------------------------------------------------------------------------

    def request_options(self) -> list[Option]:
        return []

    def check_request(self, options: tuple[Option, ...]) -> RequestVerdict:
        if options:
            return RequestVerdict("reject", options)
        return RequestVerdict("ack")

    def apply_ack(self, options: tuple[Option, ...]) -> None:
        pass

    def apply_nak(self, options: tuple[Option, ...]) -> None:
        pass

    def apply_reject(self, options: tuple[Option, ...]) -> None:
        pass

    def receive_extra(self, packet: ControlPacket, now: float) -> None:
        self._fire(Event.RUC, now)

    def send_echo_reply(self, request: ControlPacket) -> None:
        pass

    def code_reject_data(self, packet: ControlPacket) -> bytes:
        """§5.7: the rejected packet, truncated to fit the peer's MRU."""
        return encode_packet(packet)[: self.reply_limit - 4]

    @property
    def reply_limit(self) -> int:
        return 1500

    def layer_up(self, now: float) -> None:
        pass

    def layer_down(self, now: float) -> None:
        pass

    def layer_started(self, now: float) -> None:
        pass

    def layer_finished(self, now: float) -> None:
        pass
