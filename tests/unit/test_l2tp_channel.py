"""RFC 2661 §5.8 reliable delivery: windows, acks, duplicates, reordering, retransmission."""

from __future__ import annotations

from pixgw.l2tp.channel import ControlChannel, seq_before
from pixgw.l2tp.message import ControlMessage


def msg(ns: int, nr: int = 0, body: bytes = b"\x80\x08\x00\x00\x00\x00\x00\x06") -> ControlMessage:
    return ControlMessage(1, 0, ns, nr, body)


def test_sequence_arithmetic_wraps():
    assert seq_before(1, 2)
    assert not seq_before(2, 1)
    assert not seq_before(5, 5)
    assert seq_before(0xFFFF, 0)
    assert seq_before(0xFFF0, 0x0010)
    assert not seq_before(0x0010, 0xFFF0)


def test_in_order_delivery_and_delayed_zlb():
    ch = ControlChannel(ack_delay=0.25)
    assert ch.receive(msg(0), 0.0) == [msg(0)]
    assert ch.nr == 1
    assert ch.messages_to_send(0.1) == []  # the ack is delayed
    zlb = ch.messages_to_send(0.25)
    assert zlb == [ControlMessage(0, 0, 0, 1, b"")]
    assert ch.counters.zlb_acks_sent == 1


def test_ack_piggybacks_on_a_reply():
    ch = ControlChannel()
    ch.receive(msg(0), 0.0)
    ch.queue(0, b"reply")
    out = ch.messages_to_send(0.0)
    assert out == [ControlMessage(0, 0, 0, 1, b"reply")]
    assert ch.messages_to_send(0.9) == []  # no ZLB after the piggybacked ack


def test_duplicate_is_acknowledged_at_once_not_delivered():
    ch = ControlChannel(ack_delay=5.0)
    ch.receive(msg(0), 0.0)
    ch.messages_to_send(10.0)
    assert ch.receive(msg(0), 11.0) == []
    assert ch.counters.duplicates == 1
    assert ch.messages_to_send(11.0) == [ControlMessage(0, 0, 0, 1, b"")]


def test_reordered_messages_are_delivered_in_order():
    ch = ControlChannel(local_rws=4)
    assert ch.receive(msg(1), 0.0) == []
    assert ch.receive(msg(2), 0.0) == []
    delivered = ch.receive(msg(0), 0.0)
    assert [m.ns for m in delivered] == [0, 1, 2]
    assert ch.nr == 3


def test_beyond_the_receive_window_is_dropped():
    ch = ControlChannel(local_rws=2)
    assert ch.receive(msg(5), 0.0) == []
    assert ch.counters.out_of_window == 1
    assert ch.ahead == {}


def test_send_window_is_the_peer_rws():
    ch = ControlChannel(peer_rws=2)
    for i in range(4):
        ch.queue(0, bytes([i]))
    out = ch.messages_to_send(0.0)
    assert [m.ns for m in out] == [0, 1]
    assert len(ch.unsent) == 2 and len(ch.resend) == 2
    ch.receive(ControlMessage(0, 0, 0, 1), 0.1)  # ZLB acknowledging Ns 0
    out = ch.messages_to_send(0.1)
    assert [m.ns for m in out] == [2]
    assert ch.counters.unsent_max == 4 and ch.counters.resend_max == 2


def test_retransmission_doubles_to_the_cap_then_fails():
    ch = ControlChannel(retransmit_initial=1.0, retransmit_cap=8.0, max_retries=5)
    ch.queue(0, b"x")
    now = 0.0
    assert len(ch.messages_to_send(now)) == 1
    sent_at = []
    for _ in range(200):
        deadline = ch.deadline()
        if deadline is None or ch.failed:
            break
        now = deadline
        if ch.messages_to_send(now):
            sent_at.append(now)
    assert sent_at == [1.0, 3.0, 7.0, 15.0, 23.0]  # 1, 2, 4, 8, 8 seconds apart
    assert ch.failed
    assert ch.counters.total_resends == 5
    assert ch.counters.retransmit_time_max == 8.0
    assert ch.counters.retransmit_distribution[:4] == [1, 1, 1, 2]


def test_ack_resets_the_timer():
    ch = ControlChannel()
    ch.queue(0, b"x")
    ch.messages_to_send(0.0)
    ch.messages_to_send(1.0)  # one retransmission
    assert ch.retransmit_time == 2.0
    ch.receive(ControlMessage(0, 0, 0, 1), 1.5)
    assert ch.retransmit_time == 1.0 and ch.idle and ch.deadline() is None


def test_nr_acknowledging_unsent_messages_is_ignored():
    ch = ControlChannel()
    ch.queue(0, b"x")
    ch.messages_to_send(0.0)
    ch.receive(ControlMessage(0, 0, 0, 9), 0.1)  # Nr 9: we only sent Ns 0
    assert len(ch.resend) == 1


def test_lossy_exchange_delivers_everything_once():
    """Two channels, every third datagram lost, both directions, bounded time."""
    a = ControlChannel(peer_rws=4, local_rws=4)
    b = ControlChannel(peer_rws=4, local_rws=4)
    got_a: list[bytes] = []
    got_b: list[bytes] = []
    for i in range(10):
        a.queue(0, b"a%d" % i)
        b.queue(0, b"b%d" % i)
    count = 0
    now = 0.0
    for _ in range(2000):
        for sender, receiver, sink in ((a, b, got_b), (b, a, got_a)):
            for m in sender.messages_to_send(now):
                count += 1
                if count % 3 == 0:
                    continue
                sink.extend(d.avp_bytes for d in receiver.receive(m, now))
        if len(got_a) == 10 and len(got_b) == 10 and a.idle and b.idle:
            break
        now += 0.05
    assert got_b == [b"a%d" % i for i in range(10)]
    assert got_a == [b"b%d" % i for i in range(10)]
    assert not a.failed and not b.failed
