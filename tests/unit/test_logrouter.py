"""PIX logging rules: logging on, console/buffered/trap levels, syslog hosts, debug."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest

from pixgw import syslog
from pixgw.config.model import Logging, LoggingHost
from pixgw.logrouter import PixLogRouter


class Subscriber:
    def __init__(self, *categories: str) -> None:
        self.debug_categories = set(categories)
        self.lines: list[tuple[str, str]] = []

    def write_debug(self, category: str, text: str) -> None:
        self.lines.append((category, text))


def make(settings: Logging) -> tuple[PixLogRouter, list[str], list[tuple[bytes, tuple[str, int]]]]:
    console: list[str] = []
    sent: list[tuple[bytes, tuple[str, int]]] = []
    router = PixLogRouter(
        settings,
        console=console.append,
        send_syslog=lambda d, a: sent.append((d, a)),
        clock=lambda: 0.0,
        hostname="PIX-506-2",
    )
    syslog.add_observer(router)
    return router, console, sent


def test_format_matches_pix() -> None:
    assert syslog.format_message(603106, "L2TP Tunnel created") == (
        "%PIX-6-603106: L2TP Tunnel created"
    )
    assert syslog.format_message(113014, "x").startswith("%PIX-3-113014: ")


def test_nothing_without_logging_on() -> None:
    router, console, sent = make(Logging(on=False, console="debugging", buffered="debugging"))
    try:
        syslog.pix_log(603106, "L2TP Tunnel created")
        assert console == [] and list(router.buffer) == [] and sent == []
    finally:
        syslog.remove_observer(router)


def test_levels_filter_each_destination() -> None:
    settings = Logging(
        on=True,
        console="errors",
        buffered="informational",
        trap="notifications",
        hosts=(LoggingHost("inside", IPv4Address("127.0.0.1"), port=5514),),
    )
    router, console, sent = make(settings)
    try:
        syslog.pix_log(113014, "AAA authentication server not accessible")  # severity 3
        syslog.pix_log(603106, "L2TP Tunnel created, tunnel_id is 1")  # severity 6
        assert console == ["%PIX-3-113014: AAA authentication server not accessible"]
        assert list(router.buffer) == [
            "%PIX-3-113014: AAA authentication server not accessible",
            "%PIX-6-603106: L2TP Tunnel created, tunnel_id is 1",
        ]
        assert len(sent) == 1
        datagram, address = sent[0]
        assert address == ("127.0.0.1", 5514)
        # facility 20 (local4) * 8 + severity 3
        assert datagram.startswith(b"<163>Jan 01 00:00:00 PIX-506-2 %PIX-3-113014: ")
        text = router.show_logging()
        assert "Buffer logging: level informational, 2 messages logged" in text
        assert "Console logging: level errors, 1 messages logged" in text
        assert text.endswith("%PIX-6-603106: L2TP Tunnel created, tunnel_id is 1")
    finally:
        syslog.remove_observer(router)


def test_buffer_is_bounded_and_clearable() -> None:
    router, _, _ = make(Logging(on=True, buffered="debugging", buffer_size=3))
    try:
        for i in range(5):
            syslog.pix_log(603107, f"L2TP Tunnel deleted, tunnel_id = {i}")
        assert [line[-1] for line in router.buffer] == ["2", "3", "4"]
        router.clear_buffer()
        assert list(router.buffer) == []
    finally:
        syslog.remove_observer(router)


def test_debug_goes_only_to_subscribed_connections() -> None:
    router, console, _ = make(Logging(on=True, console="debugging"))
    isakmp, vpdn = Subscriber("crypto isakmp"), Subscriber("vpdn event")
    router.subscribe(isakmp)
    router.subscribe(vpdn)
    try:
        text = "ISAKMP (0): atts are acceptable. Next payload is 0"
        syslog.debug("crypto isakmp", text)
        assert isakmp.lines == [("crypto isakmp", text)]
        assert vpdn.lines == []
        assert console == []  # debug output is not syslog
        router.unsubscribe(isakmp)
        syslog.debug("crypto isakmp", "again")
        assert len(isakmp.lines) == 1
    finally:
        syslog.remove_observer(router)


def test_timestamp_prefix() -> None:
    router, console, _ = make(Logging(on=True, console="debugging", timestamp=True))
    try:
        syslog.pix_log(603106, "x")
        assert console == ["Jan 01 1970 00:00:00: %PIX-6-603106: x"]
    finally:
        syslog.remove_observer(router)


@pytest.fixture
def alone() -> Iterator[None]:
    """No debug observer left over by other tests (some add one for a whole module)."""
    saved = list(syslog._filters)
    syslog._filters.clear()
    try:
        yield
    finally:
        syslog._filters[:] = saved


@pytest.mark.usefixtures("alone")
def test_debug_is_not_built_when_no_connection_wants_the_category() -> None:
    router, _, _ = make(Logging(on=True, console="debugging"))
    isakmp = Subscriber("crypto isakmp")
    built: list[str] = []

    def text() -> str:
        built.append("ppp")
        return "PPP line"

    try:
        syslog.debug("ppp negotiation", text)  # no subscriber at all
        router.subscribe(isakmp)
        syslog.debug("ppp negotiation", text)  # a subscriber, another category
        assert built == []
        assert not syslog.debug_enabled("ppp negotiation")
        assert syslog.debug_enabled("crypto isakmp")
        syslog.debug("crypto isakmp", lambda: "ISAKMP (0): lazy")
        assert isakmp.lines == [("crypto isakmp", "ISAKMP (0): lazy")]
    finally:
        syslog.remove_observer(router)
    assert not syslog.debug_enabled("crypto isakmp")


@pytest.mark.usefixtures("alone")
def test_an_observer_without_a_debug_filter_gets_every_debug_line() -> None:
    events: list[dict[str, object]] = []
    syslog.add_observer(events.append)
    try:
        assert syslog.debug_enabled("vpdn event")
        syslog.debug("vpdn event", lambda: "tunnel up")
        assert [(e["pix_debug"], e["pix_debug_text"]) for e in events] == [
            ("vpdn event", "tunnel up")
        ]
    finally:
        syslog.remove_observer(events.append)


@pytest.mark.usefixtures("alone")
def test_a_message_no_destination_takes_is_not_emitted() -> None:
    router, console, sent = make(Logging(on=True, console="errors", buffered="warnings"))
    events: list[dict[str, object]] = []
    try:
        assert syslog.message_enabled(4) and not syslog.message_enabled(6)
        syslog.pix_log(603106, "L2TP Tunnel created")  # severity 6: below every destination
        syslog.pix_log(402101, "decaps: invalid spi")  # severity 4: buffered
        assert console == [] and sent == []
        assert list(router.buffer) == ["%PIX-4-402101: decaps: invalid spi"]
        router.reconfigure(Logging(on=False, console="debugging"), "pix")
        assert not syslog.message_enabled(0)
        # an observer without a filter takes every message again
        syslog.add_observer(events.append)
        assert syslog.message_enabled(7)
        syslog.pix_log(603106, "L2TP Tunnel created")
        assert [e["pix_line"] for e in events] == ["%PIX-6-603106: L2TP Tunnel created"]
        assert console == []
    finally:
        syslog.remove_observer(router)
        syslog.remove_observer(events.append)


def test_wants_message_is_what_message_does() -> None:
    settings = Logging(
        on=True,
        console="errors",
        trap="notifications",
        hosts=(LoggingHost("inside", IPv4Address("127.0.0.1"), port=5514),),
    )
    router, console, sent = make(settings)
    try:
        for level in range(8):
            before = (len(console), len(router.buffer), len(sent))
            router._message(level, f"line {level}")
            moved = before != (len(console), len(router.buffer), len(sent))
            assert router.wants_message(level) == moved, level
    finally:
        syslog.remove_observer(router)
