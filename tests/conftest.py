"""Shared pytest settings: where ../shared is, markers for root/interop tests, this run's id
(tests/runid.py) and the end-of-run leak guard (tests/leakguard.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests import leakguard, runid

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PIXGW_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "reference"


def is_root() -> bool:
    return os.geteuid() == 0


LONG = os.environ.get("PIXGW_LONG", "") not in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_root = pytest.mark.skip(reason="needs root (network namespaces)")
    skip_long = pytest.mark.skip(reason="long mode only (PIXGW_LONG=1)")
    for item in items:
        if "root" in item.keywords and not is_root():
            item.add_marker(skip_root)
        if "long" in item.keywords and not LONG:
            item.add_marker(skip_long)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The clock-jump check (scripts/clockcheck.sh): under libfaketime with
    FAKETIME_TIMESTAMP_FILE, move the clock forward once collection is over, so a test that
    keeps a time read at import (collection) and compares it with the time it runs sees the
    gap a long run makes (the 1-hour time bomb that once made main red)."""
    jump = os.environ.get("PIXGW_CLOCK_JUMP")
    stamp = os.environ.get("FAKETIME_TIMESTAMP_FILE")
    if jump and stamp:
        Path(stamp).write_text(jump + "\n")


GROUP_SECONDS: dict[str, float] = {}


def _group(nodeid: str) -> str:
    parts = nodeid.split("/")
    if len(parts) > 2 and parts[1] == "interop":
        return "interop/grid" if parts[2].startswith("test_grid.py") else "interop/other"
    return parts[1] if len(parts) > 2 else parts[0]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Where the run's time goes: setup + call + teardown summed per test directory (the interop
    grid apart)."""
    key = _group(report.nodeid)
    GROUP_SECONDS[key] = GROUP_SECONDS.get(key, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if GROUP_SECONDS:
        terminalreporter.write_sep("-", "time per test directory (setup + call + teardown)")
        for key in sorted(GROUP_SECONDS):
            terminalreporter.write_line(f"{key:<28} {GROUP_SECONDS[key]:8.1f} s")


LEAK_GUARD = os.environ.get("PIXGW_LEAK_GUARD", "1") != "0"
_RUN_START: leakguard.Snapshot | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    """Register the run (tests/runid.py); point TMPDIR (this process's tempfile and every child
    process) into pytest's base temporary directory, so whatever a test or a daemon it starts
    writes to a temporary file lives under pytest's tmp paths (kept for the last 3 runs), not in
    /tmp for ever; take the leak guard's first snapshot."""
    global _RUN_START
    import tempfile

    runid.register()
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        tmp = factory.getbasetemp() / "tmp"
        tmp.mkdir(exist_ok=True)
        os.environ["TMPDIR"] = str(tmp)
        tempfile.tempdir = None  # recomputed from TMPDIR on next use
    if LEAK_GUARD:
        _RUN_START = leakguard.snapshot()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Anything the run started and left behind fails it, and is named (PIXGW_LEAK_GUARD=0 turns
    the check off)."""
    try:
        if _RUN_START is None:
            return
        found = leakguard.leaks(_RUN_START, leakguard.snapshot(), include_kept=True)
        if not found:
            return
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("")
            title = f"leak guard: the run left {len(found)} thing(s) behind"
            reporter.write_sep("=", title, red=True)
            for line in found:
                reporter.write_line(line)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    finally:
        runid.unregister()
