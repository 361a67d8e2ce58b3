"""pixgw.deadlines.Deadlines: one deadline per key behind one timer (heap, lazy deletion)."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pixgw.deadlines import Deadlines


def test_many_keys_with_different_deadlines_fire_in_time_order():
    d: Deadlines[int] = Deadlines()
    rng = random.Random(7)
    when = {k: rng.uniform(0, 1000) for k in range(2000)}
    for k, t in when.items():
        d.set(k, t)
    assert d.earliest() == min(when.values())
    fired: list[int] = []
    for now in range(0, 1001, 10):
        due = d.pop_due(float(now))
        assert all(when[k] <= now for k in due)
        fired.extend(due)
        remaining = [t for k, t in when.items() if k not in fired]
        assert d.earliest() == (min(remaining) if remaining else None)
    assert fired == sorted(when, key=lambda k: when[k])
    assert len(d) == 0 and d.earliest() is None


def test_cancelled_and_moved_deadlines_do_not_fire_at_the_old_time():
    d: Deadlines[str] = Deadlines()
    d.set("echo", 10.0)
    d.set("hello", 20.0)
    d.set("retransmit", 5.0)
    d.cancel("retransmit")
    d.set("echo", 30.0)  # moved later: the 10.0 entry is stale
    assert d.earliest() == 20.0
    assert d.pop_due(15.0) == []
    assert d.pop_due(20.0) == ["hello"]
    d.set("echo", 25.0)  # moved earlier again
    assert d.get("echo") == 25.0
    assert d.pop_due(29.0) == ["echo"]
    assert d.pop_due(100.0) == []
    d.set("x", 1.0)
    d.set("x", None)  # None: no deadline
    assert "x" not in d and d.earliest() is None


def test_a_due_key_fires_once_then_can_be_set_again():
    d: Deadlines[int] = Deadlines()
    d.set(1, 1.0)
    d.set(1, 1.0)  # same time again: still one entry, fires once
    assert d.pop_due(1.0) == [1]
    assert d.pop_due(2.0) == []
    d.set(1, 3.0)
    assert d.pop_due(3.0) == [1]


def test_stale_entries_do_not_pile_up():
    d: Deadlines[int] = Deadlines()
    for k in range(100):
        d.set(k, 1000.0)
    for step in range(10000):  # every key moved many times (echo timers rescheduled)
        d.set(step % 100, 1000.0 + step)
    assert len(d._heap) <= 2 * len(d) + 64 + 1
    assert d.earliest() == 1000.0 + 9900


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 15), st.integers(0, 50)), max_size=120
    )
)
def test_matches_a_plain_dictionary(operations):
    # reference: a dict key -> when; earliest = min, due = keys with when <= now in time order
    d: Deadlines[int] = Deadlines()
    ref: dict[int, float] = {}
    order: dict[int, int] = {}
    n = 0
    for op, key, t in operations:
        if op == 0:
            if ref.get(key) != float(t):
                n += 1
                order[key] = n
            d.set(key, float(t))
            ref[key] = float(t)
        elif op == 1:
            d.cancel(key)
            ref.pop(key, None)
        else:
            due = sorted((k for k, w in ref.items() if w <= t), key=lambda k: (ref[k], order[k]))
            assert d.pop_due(float(t)) == due
            for k in due:
                del ref[k]
        assert d.earliest() == (min(ref.values()) if ref else None)
        assert len(d) == len(ref)
