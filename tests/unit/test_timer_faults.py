"""A core's timer whose work raises is armed again (issue 29): a timer never re-armed stalls
its core for good (no retransmission, hello or lifetime ever again); one re-armed at once would
spin the reactor on a bug. task.Clock; under 0.1 s."""

from __future__ import annotations

from twisted.internet.task import Clock

from pixgw.driver import RETRY_AFTER_FAILURE, CoreTimer


def test_a_failing_fire_is_retried_no_sooner_than_the_backoff() -> None:
    clock = Clock()
    fired: list[float] = []
    timer: CoreTimer

    def fire() -> None:
        fired.append(clock.seconds())
        if len(fired) == 1:
            timer.set(clock.seconds())  # a broken core asking for "now" again
            raise RuntimeError("core bug")

    timer = CoreTimer(clock, fire)
    timer.set(5.0)
    clock.advance(5.0)
    assert fired == [5.0] and timer.failures == 1
    clock.advance(RETRY_AFTER_FAILURE - 0.01)
    assert fired == [5.0]  # not spun at once
    clock.advance(0.01)
    assert fired == [5.0, 5.0 + RETRY_AFTER_FAILURE]
    assert not clock.getDelayedCalls()  # the second fire went well and asked for nothing


def test_a_failing_fire_that_set_nothing_is_armed_again() -> None:
    clock = Clock()
    fired: list[float] = []

    def fire() -> None:
        fired.append(clock.seconds())
        if len(fired) == 1:
            raise RuntimeError("core bug")

    timer = CoreTimer(clock, fire)
    timer.set(1.0)
    clock.advance(1.0)
    clock.advance(RETRY_AFTER_FAILURE)
    assert fired == [1.0, 1.0 + RETRY_AFTER_FAILURE] and timer.failures == 1
