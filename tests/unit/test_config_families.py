"""Each command family of pixgw/config/families reads its commands and writes them back: against
the every-command vector, a family writes exactly the reference running-config's lines of its
sections, and those lines, read with the rest of the file, give back the same configuration.
(The whole-file round trip is test_config_render.py.)"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from pixgw.config.families import FAMILIES, command_table
from pixgw.config.parser import parse
from pixgw.config.syntax import SECTIONS, new_sections, section_of

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "config"
CONFIG = parse((VECTORS / "every-command.conf").read_text()).config
RENDERED = [
    line
    for line in (VECTORS / "every-command.rendered").read_text().splitlines()
    if line and not line.startswith(":") and not line.startswith("Cryptochecksum:")
]


def _name(family: ModuleType) -> str:
    return family.__name__.rsplit(".", 1)[1]


def _written(family: ModuleType) -> tuple[set[str], list[str]]:
    """The sections the family writes for CONFIG, and its lines in running-config order."""
    sections = new_sections()
    family.render(CONFIG, sections)
    mine = {key for key, lines in sections.items() if lines}
    ordered = [keys[0] for keys in SECTIONS if keys and keys[0] in mine]
    return mine, [line for key in ordered for line in sections[key]]


@pytest.mark.parametrize("family", FAMILIES, ids=_name)
def test_family_round_trip(family: ModuleType) -> None:
    mine, written = _written(family)
    assert written, "the vector exercises every family"
    kept = set(CONFIG.unsupported)
    expected = [
        line for line in RENDERED
        if SECTIONS[section_of(line)][:1] and SECTIONS[section_of(line)][0] in mine
        and line not in kept
    ]
    assert written == expected
    others = [line for line in RENDERED if line not in set(expected)]
    assert parse("\n".join(others + written)).config == CONFIG


def test_every_command_of_every_family_is_in_the_vector() -> None:
    table = command_table()
    assert set(table) == {k for f in FAMILIES for k in f.COMMANDS}
    for keyword in table:
        assert any(line.split()[0].lower() == keyword for line in RENDERED), keyword


def test_a_keyword_belongs_to_one_family() -> None:
    seen: dict[str, str] = {}
    for family in FAMILIES:
        for keyword in family.COMMANDS:
            assert keyword not in seen, (keyword, seen.get(keyword), _name(family))
            seen[keyword] = _name(family)
