"""The control socket: the PIX command line served to ``pixgw exec`` and ``pixgw shell``.

One line in is one command. The answer is the command's text, then a line ``%%END <rc>`` (0 done,
1 refused) so a client knows where the output stops. ``debug`` lines of the categories this
connection turned on arrive between answers, each as ``%%DEBUG <category>: <text>``-free plain text
lines, as on a PIX console. Commands run one after another per connection, asynchronous ones
(``ca enroll``) included.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from pixgw.cli.commands import CliError, CommandContext, CommandTable
from pixgw.config.syntax import redact_secrets
from pixgw.logrouter import PixLogRouter

END_MARKER = "%%END"
MAX_LINE = 4096
_log = Logger()


class ControlProtocol(LineReceiver):
    delimiter = b"\n"
    MAX_LENGTH = MAX_LINE

    def __init__(self, table: CommandTable, gateway: object, router: PixLogRouter) -> None:
        self.table = table
        self.gateway = gateway
        self.router = router
        self.debug_categories: set[str] = set()
        self._pending: Deferred[None] = succeed(None)

    def connectionMade(self) -> None:
        self.router.subscribe(self)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.router.unsubscribe(self)

    def write_debug(self, category: str, text: str) -> None:
        self._write(text)

    def lineLengthExceeded(self, line: bytes) -> None:
        self._write("ERROR: command line too long")
        self._write(f"{END_MARKER} 1")
        if self.transport is not None:
            self.transport.loseConnection()

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").strip()
        self._pending.addCallback(lambda _: self._run(text))

    def _run(self, text: str) -> Deferred[None]:
        context = CommandContext(gateway=self.gateway, connection=self)
        if not text or text.startswith("!"):
            self._write(f"{END_MARKER} 0")
            return succeed(None)
        try:
            result = self.table.run(context, text)
        except CliError as e:
            self._finish_error(str(e))
            return succeed(None)
        except Exception:
            # (the line may hold a secret: ca enroll NAME CHALLENGE)
            _log.failure("command {command!r} failed", command=redact_secrets(text))
            self._finish_error("ERROR: internal error, see the log")
            return succeed(None)
        if isinstance(result, Deferred):
            done: Deferred[None] = result.addCallbacks(self._finish_ok, self._finish_failure)
            return done
        self._finish_ok(result)
        return succeed(None)

    def _finish_ok(self, output: str) -> None:
        if output:
            self._write(output)
        self._write(f"{END_MARKER} 0")

    def _finish_error(self, message: str) -> None:
        if message:
            self._write(message)
        self._write(f"{END_MARKER} 1")

    def _finish_failure(self, failure: Failure) -> None:
        if isinstance(failure.value, CliError):
            self._finish_error(str(failure.value))
        else:
            _log.failure("command failed", failure)
            self._finish_error("ERROR: internal error, see the log")

    def _write(self, text: str) -> None:
        if self.transport is not None:
            for line in text.split("\n"):
                self.transport.write(line.encode("utf-8") + self.delimiter)


class ControlFactory(Factory):
    def __init__(self, table: CommandTable, gateway: object, router: PixLogRouter) -> None:
        self.table = table
        self.gateway = gateway
        self.router = router

    def buildProtocol(self, addr: object) -> ControlProtocol:
        protocol = ControlProtocol(self.table, self.gateway, self.router)
        protocol.factory = self
        return protocol
