"""The PIX command table: abbreviations, ambiguity, argument counts and the PIX's error texts."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pixgw.cli.commands import (
    INVALID_INPUT,
    UNKNOWN_COMMAND,
    CliError,
    CommandContext,
    CommandTable,
)


def _echo(name: str):
    def handler(ctx: CommandContext, args: Sequence[str]) -> str:
        return f"{name}|{' '.join(args)}"

    return handler


@pytest.fixture
def table() -> CommandTable:
    t = CommandTable()
    t.register("show crypto isakmp sa", _echo("isakmp-sa"), "")
    t.register("show crypto isakmp policy", _echo("isakmp-policy"), "")
    t.register("show crypto ipsec sa", _echo("ipsec-sa"), "")
    t.register("show running-config", _echo("run"), "")
    t.register("show vpdn tunnel", _echo("tunnel"), "", max_args=2)
    t.register("show vpdn session", _echo("session"), "")
    t.register("clear vpdn tunnel", _echo("clear-tunnel"), "", min_args=1, max_args=2)
    t.register("ca enroll", _echo("enroll"), "", min_args=2, max_args=4, usage="NAME CHALLENGE")
    return t


def run(table: CommandTable, line: str) -> str:
    result = table.run(CommandContext(gateway=None), line)
    assert isinstance(result, str)
    return result


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("show crypto isakmp sa", "isakmp-sa|"),
        ("sh cry isa sa", "isakmp-sa|"),
        ("SHOW CRYPTO ISAKMP POLICY", "isakmp-policy|"),
        ("sh cry ips sa", "ipsec-sa|"),
        ("sh run", "run|"),
        ("sh vpdn tun", "tunnel|"),
        ("sh vpdn tun id 4", "tunnel|id 4"),
        ("clear vpdn tunnel all", "clear-tunnel|all"),
        ("ca enroll sjvpn cisco123", "enroll|sjvpn cisco123"),
    ],
)
def test_abbreviations_resolve(table: CommandTable, line: str, expected: str) -> None:
    assert run(table, line) == expected


def test_unknown_first_word(table: CommandTable) -> None:
    with pytest.raises(CliError) as e:
        run(table, "shw run")
    assert str(e.value) == UNKNOWN_COMMAND


def test_ambiguous_prefix(table: CommandTable) -> None:
    with pytest.raises(CliError) as e:
        run(table, "show crypto i sa")
    assert str(e.value) == '% Ambiguous command: "show crypto i"'


def test_caret_under_the_bad_word(table: CommandTable) -> None:
    with pytest.raises(CliError) as e:
        run(table, "show crypto bogus")
    assert str(e.value) == "            ^\n" + INVALID_INPUT


def test_missing_argument(table: CommandTable) -> None:
    with pytest.raises(CliError) as e:
        run(table, "ca enroll sjvpn")
    assert INVALID_INPUT in str(e.value)
    assert "Usage: ca enroll NAME CHALLENGE" in str(e.value)


def test_too_many_arguments(table: CommandTable) -> None:
    with pytest.raises(CliError) as e:
        run(table, "show vpdn session 1")
    # the caret stands under the first word the command does not take
    assert str(e.value).startswith(" " * len("show vpdn session ") + "^\n")


def test_register_twice_refused(table: CommandTable) -> None:
    with pytest.raises(ValueError):
        table.register("show vpdn session", _echo("x"), "")


def test_help_lists_matching_commands(table: CommandTable) -> None:
    lines = table.help_lines(["show", "vpdn"])
    assert [line.split()[2] for line in lines] == ["session", "tunnel"]
