"""The PIX command table: words, abbreviations, dispatch and the PIX's error texts.

A command is registered by its keywords (``show crypto isakmp sa``); a typed line matches when each
word is a unique case-insensitive prefix of the keyword at its place (``sh cry isa sa``), as on a
PIX. Arguments follow the keywords. Handlers return text (or a Deferred of text for commands that
talk to the network, such as ``ca enroll``); :class:`CliError` carries the text of a refusal.
Nothing here does I/O: :mod:`pixgw.cli.shell` serves the table on the control socket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from twisted.internet.defer import Deferred

from pixgw.logrouter import DebugSubscriber

__all__ = [
    "CliError",
    "CommandContext",
    "CommandSpec",
    "CommandTable",
    "DebugSubscriber",
    "HandlerResult",
]

HandlerResult = str | Deferred[str]


class CliError(Exception):
    """A command was refused; ``str()`` is what the PIX prints."""


@dataclass
class CommandContext:
    """What a handler may use: the gateway (typed loosely here to keep the table independent of
    the gateway module) and the connection that typed the command."""

    gateway: object
    connection: DebugSubscriber | None = None


Handler = Callable[[CommandContext, Sequence[str]], HandlerResult]


@dataclass(frozen=True)
class CommandSpec:
    keywords: tuple[str, ...]
    handler: Handler
    help: str
    min_args: int = 0
    max_args: int | None = 0
    usage: str = ""

    @property
    def name(self) -> str:
        return " ".join(self.keywords)


INVALID_INPUT = "ERROR: % Invalid input detected at '^' marker."
UNKNOWN_COMMAND = "Type help or '?' for a list of available commands."


@dataclass
class CommandTable:
    specs: list[CommandSpec] = field(default_factory=list)

    def register(
        self,
        keywords: str,
        handler: Handler,
        help: str,
        *,
        min_args: int = 0,
        max_args: int | None = 0,
        usage: str = "",
    ) -> None:
        words = tuple(keywords.lower().split())
        if any(s.keywords == words for s in self.specs):
            raise ValueError(f"command registered twice: {keywords}")
        self.specs.append(CommandSpec(words, handler, help, min_args, max_args, usage))

    def command(
        self, keywords: str, help: str, *, min_args: int = 0, max_args: int | None = 0,
        usage: str = "",
    ) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`register`."""

        def decorate(handler: Handler) -> Handler:
            self.register(
                keywords, handler, help, min_args=min_args, max_args=max_args, usage=usage
            )
            return handler

        return decorate

    def resolve(self, line: str) -> tuple[CommandSpec, list[str]]:
        """The command and its arguments for *line*, or :class:`CliError` with the PIX's text."""
        words = line.split()
        if not words:
            raise CliError("")
        candidates = list(self.specs)
        depth = 0
        fallback: tuple[CommandSpec, int] | None = None  # the last complete command passed
        while depth < len(words):
            word = words[depth].lower()
            at_depth = [s for s in candidates if len(s.keywords) > depth]
            exact = [s for s in at_depth if s.keywords[depth] == word]
            matching = exact or [s for s in at_depth if s.keywords[depth].startswith(word)]
            if not matching:
                break
            if len({s.keywords[depth] for s in matching}) > 1:
                raise CliError(f'% Ambiguous command: "{" ".join(words[: depth + 1])}"')
            candidates = matching
            depth += 1
            done = [s for s in candidates if len(s.keywords) == depth]
            if done:
                fallback = (done[0], depth)
        complete = [s for s in candidates if len(s.keywords) == depth]
        if not complete and fallback is not None:
            complete, depth = [fallback[0]], fallback[1]
        if depth == 0:
            raise CliError(UNKNOWN_COMMAND)
        if not complete:
            raise CliError(_marker(line, depth, words) + INVALID_INPUT)
        spec = complete[0]
        args = words[depth:]
        too_many = spec.max_args is not None and len(args) > spec.max_args
        if len(args) < spec.min_args or too_many:
            at = depth + (spec.max_args or 0) if too_many else len(words)
            usage = f"\nUsage: {spec.name} {spec.usage}".rstrip() if spec.usage else ""
            raise CliError(_marker(line, at, words) + INVALID_INPUT + usage)
        return spec, args

    def run(self, context: CommandContext, line: str) -> HandlerResult:
        spec, args = self.resolve(line)
        return spec.handler(context, args)

    def help_lines(self, prefix: Iterable[str] = ()) -> list[str]:
        want = tuple(w.lower() for w in prefix)
        rows = sorted(
            (s.name, s.help)
            for s in self.specs
            if all(len(s.keywords) > i and s.keywords[i].startswith(w) for i, w in enumerate(want))
        )
        width = max((len(n) for n, _ in rows), default=0)
        return [f"{n.ljust(width)}  {h}" for n, h in rows]


def _marker(line: str, index: int, words: Sequence[str]) -> str:
    """A caret under the first word the table could not take, as the PIX draws it."""
    if index >= len(words):
        column = len(line.rstrip()) + 1
    else:
        column = 0
        for i, word in enumerate(words):
            column = line.index(word, column)
            if i == index:
                break
            column += len(word)
    return " " * column + "^\n"
