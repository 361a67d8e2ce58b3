"""A real ``twistd pixgw`` takes 100,000 spoofed main-mode first messages (issue 25) while
``ike-scan`` from a legitimate address completes main mode, during the flood and after it; the
half-open SAs stay at their bound and the gateway keeps running. Prints the figures (packets
sent, gateway CPU seconds, RSS, half-open held, answers sent). The harness, its namespaces and
its network rule: ``tests/interop/ike_flood.py``. Cost: about 30 s (10 s of flood at 10,000/s).
``bench/ike_flood.py`` runs it at ten times the packets."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.ike_flood import HALF_OPEN_LIMIT, FloodLab, flood

pytestmark = [pytest.mark.root, pytest.mark.interop]
# Time bound (120 s): 10 s of flood, two ike-scan probes (at most 40 s each), start and stop.
pytestmark.append(pytest.mark.timeout(120))

PACKETS, RATE, SECONDS = 100_000, 10_000.0, 30.0


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[FloodLab]:
    if shutil.which("ike-scan") is None:
        pytest.skip("ike-scan missing (scripts/apt-packages.txt installs it)")
    lab = FloodLab(tmp_path)
    try:
        yield lab.create()
    finally:
        lab.close()


def test_spoofed_flood_does_not_lock_a_real_client_out(lab: FloodLab) -> None:
    assert lab.gateway is not None
    figures = flood(lab, PACKETS, RATE, SECONDS)
    print("\n" + "\n".join(figures.lines()))
    assert figures.packets_sent == PACKETS
    assert figures.probe_during and figures.flooding_during_probe, figures.lines()
    assert figures.probe_after, figures.lines()
    assert lab.gateway.process.running(), lab.gateway.diagnostics()
    held = int(figures.half_open_held.split()[0])
    assert 0 < held <= HALF_OPEN_LIMIT
    stats = figures.stats
    # both bounds reached: 254 spoofed sources at 5 each, and 1000 in all
    assert int(stats["Half-open evicted (oldest first)"]) > HALF_OPEN_LIMIT
    assert int(stats["In Packets"]) + figures.kernel_drops >= PACKETS
    assert figures.rss_peak_mib - figures.rss_before_mib < 200, figures.lines()
