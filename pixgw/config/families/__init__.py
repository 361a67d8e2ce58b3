"""The PIX commands the gateway acts on, one module per command family: each reads its commands
(``COMMANDS``: leading keyword -> reader) and writes them back (``render(config, sections)``),
side by side, so a command's syntax and its running-config line live in one place."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from pixgw.config.families import (
    aaa,
    access,
    ca,
    crypto,
    device,
    interfaces,
    isakmp,
    logging,
    management,
    pools,
    vpdn,
)
from pixgw.config.model import PixConfig
from pixgw.config.syntax import Handler, Sections

FAMILIES: tuple[ModuleType, ...] = (
    device, interfaces, pools, access, logging, aaa, crypto, isakmp, ca, management, vpdn,
)


def command_table() -> dict[str, Handler]:
    """Every family's commands by leading keyword (a keyword belongs to one family)."""
    table: dict[str, Handler] = {}
    for family in FAMILIES:
        commands: dict[str, Handler] = family.COMMANDS
        for keyword, handler in commands.items():
            if keyword in table:
                raise ValueError(f"command {keyword} in two families")
            table[keyword] = handler
    return table


def renderers() -> tuple[Callable[[PixConfig, Sections], None], ...]:
    return tuple(family.render for family in FAMILIES)
