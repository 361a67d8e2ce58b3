"""Every coverage-guided fuzz target (tests/fuzz/targets.py) on its seed corpus, and on a few
mutations of it: what ``scripts/fuzz.py`` starts from must pass, so what the fuzzer reports is
a finding. Under 10 s."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_passes_its_seeds_and_their_truncations(name: str) -> None:
    target, seeds = TARGETS[name]
    corpus = seeds()
    assert corpus, f"{name} has no seed"
    for seed in corpus:
        target(seed)
        for cut in (1, len(seed) // 2, len(seed) - 1):
            target(seed[:cut])
        target(bytes(b ^ 0x5A for b in seed[:64]) + seed[64:])


FOUND = Path(__file__).resolve().parents[1] / "vectors" / "fuzz"


@pytest.mark.parametrize(
    "found", sorted(FOUND.glob("*/*")) if FOUND.exists() else [], ids=lambda p: p.name
)
def test_what_the_fuzzer_found_stays_fixed(found: Path) -> None:
    """An input a fuzzer once crashed on (tests/vectors/fuzz/TARGET/NAME) runs clean."""
    target, _ = TARGETS[found.parent.name]
    target(found.read_bytes())
