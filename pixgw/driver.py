"""Driving a sans-I/O core (DESIGN rule 1: ``receive_datagram``, ``datagrams_to_send``,
``get_timer``, ``handle_timer``, ``next_event``) on a reactor: :class:`CoreTimer` keeps one
DelayedCall at the core's ``get_timer()``; :class:`CoreDriver` is the whole loop for one core
(send what it has, hand its events on, re-arm the timer), as the IKE shell runs alone. The gateway
drives its several cores with a pump of its own (one core's events feed the next) on the same
:class:`CoreTimer`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

__all__ = ["RETRY_AFTER_FAILURE", "CoreDriver", "CoreTimer", "SansIoCore"]

_log = Logger(namespace="pixgw")

# A timer whose work raised fires again no sooner than this: the core gets another chance (a
# timer never armed again would stall it for good) without a bug spinning the reactor.
RETRY_AFTER_FAILURE = 1.0


class SansIoCore(Protocol):
    def datagrams_to_send(self, now: float) -> Any: ...

    def next_event(self) -> Any: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


class CoreTimer:
    """One DelayedCall kept at a core's ``get_timer()``."""

    def __init__(self, reactor: IReactorTime, fire: Callable[[], None]) -> None:
        self._reactor = reactor
        self._fire = fire
        self._call: IDelayedCall | None = None
        self._at: float | None = None
        self.failures = 0  # fires whose work raised (logged with its traceback)

    def set(self, when: float | None) -> None:
        if when == self._at and self._call is not None and self._call.active():
            return
        self.cancel()
        if when is None:
            return
        self._at = when
        delay = max(0.0, when - self._reactor.seconds())
        self._call = self._reactor.callLater(delay, self._run)

    def _run(self) -> None:
        self._call = None
        self._at = None
        try:
            self._fire()
        except Exception:
            self.failures += 1
            _log.failure("a timer's work failed; it fires again in {delay} s",
                         delay=RETRY_AFTER_FAILURE)
            retry = self._reactor.seconds() + RETRY_AFTER_FAILURE
            if self._at is None or self._at < retry:
                self.set(retry)

    def cancel(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        self._at = None


class CoreDriver:
    """One core on a reactor: ``flush()`` after feeding it sends its datagrams through *send*,
    hands its events to *event_received* and keeps the timer at its ``get_timer()``."""

    def __init__(
        self,
        core: SansIoCore,
        reactor: IReactorTime,
        *,
        send: Callable[..., None],
        event_received: Callable[[Any], None],
    ) -> None:
        self.core, self.reactor = core, reactor
        self._send, self._event_received = send, event_received
        self._timer = CoreTimer(reactor, self._timer_fired)

    def flush(self) -> None:
        now = self.reactor.seconds()
        for datagram in self.core.datagrams_to_send(now):
            self._send(*datagram)
        while (event := self.core.next_event()) is not None:
            self._event_received(event)
        self._timer.set(self.core.get_timer())

    def _timer_fired(self) -> None:
        try:
            self.core.handle_timer(self.reactor.seconds())
        finally:
            self.flush()  # whatever happened, the timer is set again

    def stop(self) -> None:
        self._timer.cancel()
