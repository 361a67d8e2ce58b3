"""The TUN device failing under the userspace dataplane (issue 29): the loss is counted and
logged and the device opened again; when it cannot be, after 5 tries over 15 s, the gateway is
told it cannot go on (twistd then exits 1 for systemd). The device is faked by pipes (opening
a real TUN needs root: tests/interop/test_dataplane_netns.py); the reactor is a
MemoryReactorClock. Under 0.1 s."""

from __future__ import annotations

import os
from ipaddress import IPv4Address

from twisted.internet.testing import MemoryReactorClock

from pixgw.dataplane.userspace import (
    TUN_REOPEN_TRIES,
    TunDevice,
    TunSettings,
    UserspaceDataplane,
)


class FakeTun(TunDevice):
    """Each open gives a fresh pipe's read end; from the ``fail_from``-th on, opens raise."""

    def __init__(self) -> None:
        self.opened: list[int] = []
        self.names: list[str] = []
        self.removed: list[str] = []
        self.fail_from: int | None = None
        self._pipes: list[tuple[int, int]] = []

    def open(self, settings: TunSettings) -> tuple[int, str]:
        if self.fail_from is not None and len(self.opened) >= self.fail_from:
            raise OSError(19, "No such device")
        r, w = os.pipe()
        self._pipes.append((r, w))
        self.opened.append(r)
        self.names.append(settings.name)
        return r, settings.name

    def remove(self, name: str) -> None:
        self.removed.append(name)

    def close(self) -> None:
        for _, w in self._pipes:  # the read ends are the dataplane's (or the test's) to close
            os.close(w)


def dataplane(fake: FakeTun, reactor: MemoryReactorClock) -> UserspaceDataplane:
    dp = UserspaceDataplane(reactor, raw_esp=False, guard_l2tp=False, lifetime_poll_seconds=0,
                            tun=TunSettings("pxtest0", address=IPv4Address("203.0.113.1")),
                            tun_device=fake)
    dp.start(lambda peer, data: None, lambda data, to: None)
    return dp


def break_tun(reactor: MemoryReactorClock, fake: FakeTun) -> None:
    (reader,) = reactor.readers
    os.close(fake.opened[-1])  # the fd goes bad under the reader: EBADF
    reader.doRead()  # type: ignore[attr-defined]


def test_a_lost_tun_device_is_opened_again() -> None:
    fake, reactor = FakeTun(), MemoryReactorClock()
    try:
        dp = dataplane(fake, reactor)
        break_tun(reactor, fake)
        c = dp.counters()
        assert (c.tun_lost, c.tun_reopened) == (1, 1)
        assert fake.names == ["pxtest0", "pxtest0"]
        (reader,) = reactor.readers  # the new device's reader only
        assert reader.fileno() == fake.opened[1]  # type: ignore[attr-defined]
        dp.stop()
        assert reactor.readers == set() and fake.removed == ["pxtest0"]
    finally:
        fake.close()


def test_a_tun_device_that_cannot_be_opened_again_stops_the_gateway() -> None:
    fake, reactor = FakeTun(), MemoryReactorClock()
    fatal: list[str] = []
    try:
        dp = dataplane(fake, reactor)
        dp.on_fatal = fatal.append
        fake.fail_from = 1
        break_tun(reactor, fake)
        assert reactor.readers == set() and fatal == []
        for delay in (1, 2, 4):  # tries 2, 3, 4
            reactor.advance(delay)
            assert fatal == []
        reactor.advance(8)  # the fifth and last
        assert len(fatal) == 1 and "pxtest0" in fatal[0]
        assert f"after {TUN_REOPEN_TRIES} tries" in fatal[0]
        assert dp.counters().tun_lost == 1 and dp.counters().tun_reopened == 0
        assert not reactor.getDelayedCalls()  # no more tries
        dp.stop()
    finally:
        fake.close()


def test_stop_cancels_a_pending_reopen() -> None:
    fake, reactor = FakeTun(), MemoryReactorClock()
    try:
        dp = dataplane(fake, reactor)
        fake.fail_from = 1
        break_tun(reactor, fake)
        assert reactor.getDelayedCalls()
        dp.stop()
        assert not reactor.getDelayedCalls()
    finally:
        fake.close()


def test_the_reactor_losing_the_fd_counts_as_a_loss() -> None:
    """A deleted TUN device polls POLLERR: the reactor calls connectionLost, not doRead."""
    from twisted.internet.error import ConnectionLost
    from twisted.python.failure import Failure

    fake, reactor = FakeTun(), MemoryReactorClock()
    try:
        dp = dataplane(fake, reactor)
        (reader,) = reactor.readers
        reactor.removeReader(reader)  # as the reactor does before calling connectionLost
        reader.connectionLost(Failure(ConnectionLost()))  # type: ignore[attr-defined]
        c = dp.counters()
        assert (c.tun_lost, c.tun_reopened) == (1, 1)
        assert len(reactor.readers) == 1
        dp.stop()
    finally:
        fake.close()
