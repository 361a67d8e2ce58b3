"""Write a :class:`~pixgw.config.model.PixConfig` as a PIX 6.3 running-config (``write terminal``).

Follows the order and spelling of a PIX 6.3 running-config (Cisco PIX Firewall Command Reference,
Version 6.3; the reference configuration): one command a line, sections in
:data:`pixgw.config.syntax.SECTIONS` order, lines kept verbatim from the source
(:attr:`PixConfig.unsupported`) put back in the section their keyword belongs to. Defaults are
written where a PIX writes them (``mtu``, ``route`` metric, ``timeout uauth``, every ``isakmp
policy`` attribute, ``telnet timeout``, ``ssh timeout``, ``l2tp tunnel hello``, ``terminal width``)
and left out elsewhere. ``mask_secrets=True`` writes keys and passwords as ``********``. The
trailer is ``Cryptochecksum:`` (MD5 of the lines before it) and
``: end``. ``parse(render(c)).config == c``.

Each command family writes its own lines (:mod:`pixgw.config.families`, beside the code that
reads them); this module puts the sections in order, with the kept lines, and adds the trailer.
"""

from __future__ import annotations

import hashlib

from pixgw.config.families import renderers
from pixgw.config.model import PixConfig
from pixgw.config.syntax import SECTIONS, new_sections, redact_secrets, section_of


def _section(name: str) -> int:
    return next(i for i, keys in enumerate(SECTIONS) if name in keys)


def render(config: PixConfig, *, mask_secrets: bool = False) -> str:
    """The running-config of *config*, one command a line, ending with ``: end``.

    With *mask_secrets*, keys and passwords are written as ``********`` (for display; such a
    text no longer parses back to *config*)."""
    sections = new_sections()
    for family_render in renderers():
        family_render(config, sections)
    kept: dict[int, list[str]] = {}
    for line in config.unsupported:
        kept.setdefault(section_of(line), []).append(line)
    timeout = _section("timeout")
    lines: list[str] = []
    for index, keys in enumerate(SECTIONS):
        ours = sections.get(keys[0], []) if keys else []
        theirs = kept.get(index, [])
        # a PIX writes "timeout xlate" and "timeout conn" before "timeout uauth"
        lines.extend(theirs + ours if index == timeout else ours + theirs)
    if mask_secrets:
        lines = [redact_secrets(line) for line in lines]
    body = "".join(f"{line}\n" for line in lines)
    checksum = hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"{body}Cryptochecksum:{checksum}\n: end\n"
