"""The leak guard itself (tests/leakguard.py): a deliberate leak trips it and is named; what
another live run owns, or what a session fixture keeps, is not blamed. Cost: about a second
(one short-lived process; as root, one namespace and a veth pair)."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests import leakguard, runid
from tests.conftest import is_root


def _spawn_daemon_lookalike() -> subprocess.Popen[bytes]:
    # argv[0] "xl2tpd" (one of the daemons the tests start), really a bounded sleep
    proc = subprocess.Popen(["bash", "-c", "exec -a xl2tpd sleep 30"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if any(p.pid == proc.pid and p.name == "xl2tpd" for p in leakguard.processes()):
            return proc
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("the look-alike daemon did not show up")


def test_a_process_left_running_is_named() -> None:
    before = leakguard.snapshot()
    proc = _spawn_daemon_lookalike()
    try:
        found = leakguard.leaks(before, leakguard.snapshot())
        assert any(f"process xl2tpd pid {proc.pid}:" in line for line in found), found
    finally:
        proc.kill()
        proc.wait(timeout=5)
    assert not [x for x in leakguard.leaks(before, leakguard.snapshot()) if "xl2tpd" in x]


def test_another_runs_process_and_a_kept_one_are_not_blamed() -> None:
    before = leakguard.snapshot()
    other = subprocess.Popen(
        ["bash", "-c", "exec -a xl2tpd sleep 30"],
        env={"PIXGW_RUN_ID": "zzzz", "PATH": "/usr/bin:/bin"},
    )
    mine = _spawn_daemon_lookalike()
    try:
        time.sleep(0.2)
        after = leakguard.snapshot()
        assert other.pid not in {p.pid for p in after.processes}
        leakguard.keep(pids=(mine.pid,))
        assert not [x for x in leakguard.leaks(before, after) if "xl2tpd" in x]
        assert [x for x in leakguard.leaks(before, after, include_kept=True) if "xl2tpd" in x]
    finally:
        leakguard._KEPT_PIDS.discard(mine.pid)
        for p in (other, mine):
            p.kill()
            p.wait(timeout=5)


@pytest.mark.root
def test_a_namespace_and_a_link_left_behind_are_named(tmp_path, monkeypatch) -> None:
    if not is_root():
        pytest.skip("needs root")
    monkeypatch.setenv("PIXGW_RUN_REGISTRY", str(tmp_path / "runs"))
    ns, link, peer = runid.name("pxleak"), runid.link_name("pxlk"), runid.link_name("pxlj")
    foreign_ns = "pxleak-zzzz"  # named for another run, alive (registered with a live pid)
    sleeper = subprocess.Popen(["sleep", "30"])
    runid.registry().mkdir(parents=True)
    (runid.registry() / "zzzz").write_text(f"{sleeper.pid} 399\n")
    before = leakguard.snapshot()
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True, timeout=20)
        subprocess.run(["ip", "netns", "add", foreign_ns], check=True, timeout=20)
        subprocess.run(
            ["ip", "link", "add", link, "type", "veth", "peer", "name", peer],
            check=True, timeout=20,
        )
        found = leakguard.leaks(before, leakguard.snapshot())
        assert f"network namespace {ns}" in found
        assert f"link {link} (veth)" in found and f"link {peer} (veth)" in found
        assert not [x for x in found if foreign_ns in x]
        leakguard.keep(prefixes=("pxleak-", "pxlk", "pxlj"))
        assert not [x for x in leakguard.leaks(before, leakguard.snapshot()) if "pxl" in x]
    finally:
        leakguard._KEPT_PREFIXES.difference_update({"pxleak-", "pxlk", "pxlj"})
        subprocess.run(["ip", "link", "del", link], check=False, timeout=20)
        for n in (ns, foreign_ns):
            subprocess.run(["ip", "netns", "del", n], check=False, timeout=20)
        sleeper.kill()
        sleeper.wait(timeout=5)
    assert not [x for x in leakguard.leaks(before, leakguard.snapshot()) if "pxl" in x]
