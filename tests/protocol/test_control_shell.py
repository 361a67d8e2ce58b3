"""The control socket protocol over a string transport: answers framed by ``%%END rc``, errors with
the PIX's text, ``debug`` per connection, commands answered in order even when one is slow."""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.internet.testing import StringTransport

from pixgw import syslog
from pixgw.cli import system
from pixgw.cli.commands import CommandContext, CommandTable
from pixgw.cli.shell import ControlFactory
from pixgw.config.parser import parse
from pixgw.gateway import Gateway
from pixgw.logrouter import PixLogRouter
from pixgw.view import GatewayView

CONFIG = "hostname edge\nlogging on\nlogging buffered informational\n"


def connect(table: CommandTable | None = None):
    clock = task.Clock()
    config = parse(CONFIG).config
    router = PixLogRouter(config.logging, console=lambda line: None, clock=clock.seconds)
    gateway = Gateway(config, reactor=clock, log_router=router)
    if table is None:
        table = CommandTable()
        system.register(table)
    protocol = ControlFactory(table, GatewayView(gateway), router).buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    syslog.add_observer(router)
    return protocol, transport, router


def lines(transport: StringTransport) -> list[str]:
    text = transport.value().decode()
    transport.clear()
    return text.splitlines()


def test_answer_is_framed_and_errors_have_status_1() -> None:
    protocol, transport, router = connect()
    try:
        protocol.dataReceived(b"sh ver\n")
        out = lines(transport)
        assert out[0].startswith("pixgw Version")
        assert any(line.startswith("edge up ") for line in out)
        assert out[-1] == "%%END 0"
        protocol.dataReceived(b"show bogus\n")
        assert lines(transport) == [
            "     ^",
            "ERROR: % Invalid input detected at '^' marker.",
            "%%END 1",
        ]
    finally:
        syslog.remove_observer(router)


def test_debug_lines_reach_only_the_connection_that_asked() -> None:
    asker, asker_out, router = connect()
    other = ControlFactory(CommandTable(), asker.gateway, router).buildProtocol(None)
    other_out = StringTransport()
    other.makeConnection(other_out)
    try:
        asker.dataReceived(b"debug crypto isakmp\n")
        assert lines(asker_out) == ["%%END 0"]
        syslog.debug("crypto isakmp", "ISAKMP (0): SA has been authenticated")
        syslog.debug("vpdn event", "not asked for")
        assert lines(asker_out) == ["ISAKMP (0): SA has been authenticated"]
        assert other_out.value() == b""
        asker.dataReceived(b"show debug\n")
        assert lines(asker_out) == ["debug crypto isakmp", "%%END 0"]
        asker.dataReceived(b"undebug all\n")
        lines(asker_out)
        syslog.debug("crypto isakmp", "after undebug")
        assert asker_out.value() == b""
        # a closed connection is forgotten by the router
        asker.connectionLost(None)
        assert asker not in router.subscribers
    finally:
        syslog.remove_observer(router)


def test_logging_buffer_shows_pix_messages() -> None:
    protocol, transport, router = connect()
    try:
        syslog.pix_log(603106, "L2TP Tunnel created, tunnel_id is 4")
        protocol.dataReceived(b"show logging\n")
        out = lines(transport)
        assert "%PIX-6-603106: L2TP Tunnel created, tunnel_id is 4" in out
        protocol.dataReceived(b"clear logging\nshow logging\n")
        out = lines(transport)
        assert "%PIX-6-603106: L2TP Tunnel created, tunnel_id is 4" not in out
    finally:
        syslog.remove_observer(router)


def test_slow_command_keeps_the_order_of_answers() -> None:
    table = CommandTable()
    pending: list[Deferred[str]] = []

    def slow(ctx: CommandContext, args: Sequence[str]) -> Deferred[str]:
        d: Deferred[str] = Deferred()
        pending.append(d)
        return d

    table.register("ca enroll", slow, "", max_args=None)
    table.register("show version", lambda ctx, args: "fast", "")
    protocol, transport, router = connect(table)
    try:
        protocol.dataReceived(b"ca enroll sjvpn secret\nshow version\n")
        assert transport.value() == b""  # the fast one waits behind the slow one
        pending[0].callback("% Certificate request sent to Certificate Authority")
        assert lines(transport) == [
            "% Certificate request sent to Certificate Authority",
            "%%END 0",
            "fast",
            "%%END 0",
        ]
    finally:
        syslog.remove_observer(router)


def test_overlong_line_is_refused_and_closes() -> None:
    protocol, transport, router = connect()
    try:
        protocol.dataReceived(b"x" * 5000)
        out = lines(transport)
        assert out == ["ERROR: command line too long", "%%END 1"]
        assert transport.disconnecting
    finally:
        syslog.remove_observer(router)


def test_a_failing_command_is_logged_without_its_secret() -> None:
    from twisted.logger import globalLogPublisher

    table = CommandTable()

    def enroll(ctx: CommandContext, args: Sequence[str]) -> str:
        raise RuntimeError("the CA went away")

    table.register("ca enroll", enroll, "Enroll with the CA", min_args=2, max_args=4)
    protocol, transport, router = connect(table)
    seen: list[dict[str, object]] = []
    globalLogPublisher.addObserver(seen.append)
    try:
        protocol.dataReceived(b"ca enroll sjvpn Challenge-Pw-9\n")
        assert lines(transport)[-2:] == ["ERROR: internal error, see the log", "%%END 1"]
    finally:
        globalLogPublisher.removeObserver(seen.append)
        syslog.remove_observer(router)
    failed = [e for e in seen if e.get("log_format") == "command {command!r} failed"]
    assert [e["command"] for e in failed] == ["ca enroll sjvpn ********"]
    assert not any("Challenge-Pw-9" in repr(e) for e in seen)
