"""The RFC 1661 §4.1 automaton, every (state, event) pair, driven through a real LCP.

The expected outcomes below are a second, column-wise transcription of RFC 1661 §4.1 (one line
per state, events in the RFC's row order), independent of the row-wise table in fsm.py.
Each case puts an LCP in the state, delivers the event through the public inputs (methods,
packets, timer) and checks the resulting state and the observable actions: packets sent
(scr=1 sca=2 scn=3/4 str=5 sta=6 scj=7 ser=10) and layer callbacks (tlu tld tls tlf).
"""

import pytest

from pixgw.ppp.frame import ControlPacket, Option, encode_options
from pixgw.ppp.fsm import TIMER_STATES, TRANSITIONS, Action, Automaton, Event, State
from pixgw.ppp.lcp import LcpLayer

EVENTS = ["Up", "Down", "Open", "Close", "TO+", "TO-", "RCR+", "RCR-", "RCA", "RCN", "RTR",
          "RTA", "RUC", "RXJ+", "RXJ-", "RXR"]

# state -> outcomes for EVENTS in order ("-" = cannot happen: ignored, counted).
COLUMNS = {
    State.INITIAL: "2 - tls/1 0 - - - - - - - - - - - -",
    State.STARTING: "irc,scr/6 - 1 tlf/0 - - - - - - - - - - - -",
    State.CLOSED: "- 0 irc,scr/6 2 - - sta/2 sta/2 sta/2 sta/2 sta/2 2 scj/2 2 tlf/2 2",
    State.STOPPED: "- tls/1 3 2 - - irc,scr,sca/8 irc,scr,scn/6 sta/3 sta/3 sta/3 3 scj/3 3 "
                   "tlf/3 3",
    State.CLOSING: "- 0 5 4 str/4 tlf/2 4 4 4 4 sta/4 tlf/2 scj/4 4 tlf/2 4",
    State.STOPPING: "- 1 5 4 str/5 tlf/3 5 5 5 5 sta/5 tlf/3 scj/5 5 tlf/3 5",
    State.REQ_SENT: "- 1 6 irc,str/4 scr/6 tlf/3 sca/8 scn/6 irc/7 irc,scr/6 sta/6 6 scj/6 6 "
                    "tlf/3 6",
    State.ACK_RCVD: "- 1 7 irc,str/4 scr/6 tlf/3 sca,tlu/9 scn/7 scr/6 scr/6 sta/6 6 scj/7 6 "
                    "tlf/3 7",
    State.ACK_SENT: "- 1 8 irc,str/4 scr/8 tlf/3 sca/8 scn/6 irc,tlu/9 irc,scr/8 sta/6 8 scj/8 "
                    "8 tlf/3 8",
    State.OPENED: "- tld/1 9 tld,irc,str/4 - - tld,scr,sca/8 tld,scr,scn/6 tld,scr/6 tld,scr/6 "
                  "tld,zrc,sta/5 tld,scr/6 scj/9 9 tld,irc,str/5 ser/9",
}


def expected(state, event_name):
    cell = COLUMNS[state].split()[EVENTS.index(event_name)]
    if cell == "-":
        return None
    actions, _, target = cell.rpartition("/")
    return (actions.split(",") if actions else []), State(int(target))


CASES = [(s, e) for s in State for e in EVENTS]


def test_oracle_is_complete():
    assert all(len(COLUMNS[s].split()) == len(EVENTS) for s in State)
    assert len(TRANSITIONS) == len(State) * len(Event) == len(CASES) == 160


@pytest.mark.parametrize(("state", "event_name"), CASES)
def test_table_matches_rfc(state, event_name):
    transition = TRANSITIONS[(state, Event(event_name))]
    want = expected(state, event_name)
    if want is None:
        assert not transition.legal
        assert transition.next_state == state and transition.actions == ()
    else:
        assert transition.legal
        assert [a.value for a in transition.actions] == want[0]
        assert transition.next_state == want[1]


class RecordingLcp(LcpLayer):
    def __init__(self):
        super().__init__(authentication=("chap",), random_bytes=lambda n: b"\x11" * n,
                         echo_interval=0)
        self.calls = []

    def layer_up(self, now):
        self.calls.append("tlu")

    def layer_down(self, now):
        self.calls.append("tld")

    def layer_started(self, now):
        self.calls.append("tls")

    def layer_finished(self, now):
        self.calls.append("tlf")


GOOD_REQUEST = encode_options([Option(5, b"\x22\x22\x22\x22")])
BAD_REQUEST = encode_options([Option(13, b"\x06")])  # callback: always Rejected


def deliver(lcp, event_name, now):
    """Produce *event_name* through LCP's public inputs."""
    if event_name == "Up":
        lcp.up(now)
    elif event_name == "Down":
        lcp.down(now)
    elif event_name == "Open":
        lcp.open(now)
    elif event_name == "Close":
        lcp.close(now)
    elif event_name in ("TO+", "TO-"):
        lcp.automaton.deadline = now - 1
        lcp.automaton.restart_count = 1 if event_name == "TO+" else 0
        lcp.handle_timer(now)
    elif event_name == "RCR+":
        lcp.receive(ControlPacket(1, 0x61, GOOD_REQUEST), now)
    elif event_name == "RCR-":
        lcp.receive(ControlPacket(1, 0x62, BAD_REQUEST), now)
    elif event_name == "RCA":
        lcp._request_identifier, lcp._request_data = 0x70, b""
        lcp.receive(ControlPacket(2, 0x70, b""), now)
    elif event_name == "RCN":
        lcp._request_identifier, lcp._request_data = 0x71, b""
        lcp.receive(ControlPacket(3, 0x71, encode_options([Option(1, b"\x05\x00")])), now)
    elif event_name == "RTR":
        lcp.receive(ControlPacket(5, 0x63, b""), now)
    elif event_name == "RTA":
        lcp.receive(ControlPacket(6, 0x64, b""), now)
    elif event_name == "RUC":
        lcp.receive(ControlPacket(0x42, 0x65, b"??"), now)
    elif event_name == "RXJ+":
        lcp.receive(ControlPacket(7, 0x66, bytes([11, 1, 0, 4])), now)  # Discard-Request rejected
    elif event_name == "RXJ-":
        lcp.receive(ControlPacket(7, 0x67, bytes([1, 1, 0, 4])), now)  # Configure-Request rejected
    elif event_name == "RXR":
        lcp.receive(ControlPacket(9, 0x68, b"\x33\x33\x33\x33data"), now)


SEND_CODES = {"scr": [1], "sca": [2], "scn": [4], "str": [5], "sta": [6], "scj": [7], "ser": [10]}


@pytest.mark.parametrize(("state", "event_name"), CASES)
def test_lcp_behaviour_in_every_state(state, event_name):
    lcp = RecordingLcp()
    lcp.automaton.state = state
    if state in TIMER_STATES:
        lcp.automaton.deadline = 1000.0
        lcp.automaton.restart_count = 3
    deliver(lcp, event_name, 10.0)
    want = expected(state, event_name)
    sent = [p.code for p in lcp.outgoing]
    if want is None:
        assert lcp.state == state
        assert sent == [] and lcp.calls == []
        assert lcp.automaton.illegal_events == 1
        return
    actions, target = want
    assert lcp.state == target
    assert lcp.calls == [a for a in actions if a in ("tlu", "tld", "tls", "tlf")]
    assert sent == [c for a in actions for c in SEND_CODES.get(a, [])]
    # §4.6: the Restart timer runs exactly in the states that need it.
    if target in TIMER_STATES and any(a in ("scr", "str", "zrc") for a in actions):
        assert lcp.get_timer() == 10.0 + lcp.automaton.restart_interval
    if target not in TIMER_STATES:
        assert lcp.get_timer() is None


def test_counters_irc_uses_max_configure_or_max_terminate():
    automaton = Automaton(max_configure=7, max_terminate=3)
    automaton.state = State.STOPPED
    automaton.fire(Event.RCR_PLUS, 0.0)  # irc,scr,sca/8
    assert automaton.restart_count == 6  # irc to Max-Configure, then one scr
    automaton.state = State.OPENED
    automaton.fire(Event.CLOSE, 0.0)  # tld,irc,str/4
    assert automaton.restart_count == 2


def test_max_configure_then_to_minus():
    automaton = Automaton(max_configure=3, restart_interval=2.0)
    automaton.fire(Event.UP, 0.0)
    transition = automaton.fire(Event.OPEN, 0.0)
    assert Action.SCR in transition.actions
    events = []
    now = 0.0
    while automaton.deadline is not None:
        now = automaton.deadline
        event = automaton.timeout_event()
        events.append(event)
        automaton.fire(event, now)
    assert events == [Event.TO_PLUS, Event.TO_PLUS, Event.TO_MINUS]
    assert automaton.state == State.STOPPED
    assert now == 6.0


def test_max_failure_turns_naks_into_rejects():
    lcp = RecordingLcp()
    lcp.max_failure = 2
    lcp.up(0.0)
    lcp.open(0.0)
    too_big = encode_options([Option(1, (9000).to_bytes(2, "big"))])
    codes = []
    for i in range(4):
        lcp.outgoing.clear()
        lcp.receive(ControlPacket(1, i, too_big), 0.0)
        codes.append([p.code for p in lcp.outgoing])
    assert codes == [[3], [3], [4], [4]]


def test_ack_with_wrong_identifier_or_content_is_discarded():
    lcp = RecordingLcp()
    lcp.up(0.0)
    lcp.open(0.0)
    request = lcp.outgoing[0]
    lcp.receive(ControlPacket(2, (request.identifier + 1) & 0xFF, request.data), 0.0)
    assert lcp.state == State.REQ_SENT
    lcp.receive(ControlPacket(2, request.identifier, request.data + b"\x07\x02"), 0.0)
    assert lcp.state == State.REQ_SENT
    assert lcp.errors == 2
    lcp.receive(ControlPacket(2, request.identifier, request.data), 0.0)
    assert lcp.state == State.ACK_RCVD


def test_malformed_options_are_counted():
    lcp = RecordingLcp()
    lcp.up(0.0)
    lcp.open(0.0)
    lcp.outgoing.clear()
    lcp.receive(ControlPacket(1, 9, b"\x01\x01"), 0.0)  # option length 1 < 2
    lcp.receive(ControlPacket(1, 9, b"\x01\x05\x00"), 0.0)  # runs past the packet
    assert lcp.outgoing == [] and lcp.errors == 2


def _opened_lcp():
    """up + open at t=0: our Configure-Request is out, the Restart timer at 3 s."""
    lcp = RecordingLcp()
    lcp.up(0.0)
    lcp.open(0.0)
    assert [p.code for p in lcp.outgoing] == [1] and lcp.get_timer() == 3.0
    return lcp


def test_peer_that_starts_late_gets_our_request_again_within_a_second():
    # xl2tpd starts pppd only once the call is up: our first request went nowhere.  The peer's
    # own request is the first thing we hear; its answer to ours is due within 1 s, not 3 s.
    lcp = _opened_lcp()
    lcp.outgoing.clear()
    lcp.receive(ControlPacket(1, 0x01, GOOD_REQUEST), 0.4)
    assert lcp.state == State.ACK_SENT and [p.code for p in lcp.outgoing] == [2]
    assert lcp.get_timer() == 1.4
    lcp.outgoing.clear()
    lcp.handle_timer(1.4)  # TO+: our request again, with the normal 3 s from now on
    assert [p.code for p in lcp.outgoing] == [1] and lcp.get_timer() == 4.4
    request = lcp.outgoing[0]
    lcp.receive(ControlPacket(2, request.identifier, request.data), 1.5)
    assert lcp.state == State.OPENED


def test_only_the_first_packet_heard_hurries_the_reply():
    lcp = _opened_lcp()
    lcp.receive(ControlPacket(1, 0x01, BAD_REQUEST), 0.4)  # RCR-: Reject, still Req-Sent
    assert lcp.state == State.REQ_SENT and lcp.get_timer() == 1.4
    lcp.handle_timer(1.4)
    assert lcp.get_timer() == 4.4
    lcp.receive(ControlPacket(1, 0x02, GOOD_REQUEST), 2.0)  # not the first: no change
    assert lcp.state == State.ACK_SENT and lcp.get_timer() == 4.4


def test_a_peer_that_answered_first_is_not_hurried():
    lcp = _opened_lcp()
    request = lcp.outgoing[0]
    lcp.receive(ControlPacket(2, request.identifier, request.data), 0.3)  # RCA first
    assert lcp.state == State.ACK_RCVD and lcp.get_timer() == 3.0
    lcp.receive(ControlPacket(1, 0x01, GOOD_REQUEST), 0.4)
    assert lcp.state == State.OPENED and lcp.get_timer() is None


def test_hurry_is_per_lower_layer_up():
    lcp = _opened_lcp()
    lcp.receive(ControlPacket(1, 0x01, GOOD_REQUEST), 0.4)
    assert lcp.get_timer() == 1.4
    lcp.down(1.0)
    lcp.up(10.0)  # Starting -> Req-Sent: a new request at 10 s, timer 13 s
    assert lcp.get_timer() == 13.0
    lcp.receive(ControlPacket(1, 0x02, GOOD_REQUEST), 10.5)
    assert lcp.get_timer() == 11.5
