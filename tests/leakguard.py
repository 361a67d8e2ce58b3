"""The leak guard: what a test run leaves behind on the machine fails the run.

It records, before and after (per module for the interop suite, for the whole run at its end):
- network namespaces (``ip netns list``);
- TUN/TAP, veth, bridge and dummy links of the root namespace (``ip -d -j link``);
- QEMU processes and the daemons the tests start (twistd, charon, pluto, xl2tpd, freeradius,
  slapd, scepserver, certmonger, tcpdump, ...).

A process counts as this run's when its environment carries ``PIXGW_RUN_ID=<this run>`` (every
process a test starts inherits it from pytest, whichever namespace it runs in); one whose
environment cannot be read counts too. A namespace or link counts unless its name carries the id
of *another* run that is still alive (``tests/runid.py``): two runs can go on at once on one
machine and neither blames the other. Things a session fixture keeps for the whole run (the
interop topology, its guests) are declared with :func:`keep` and left out of the per-module check;
the end-of-run check sees them gone or names them.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests import runid

DAEMONS = frozenset({
    "qemu-system-x86_64", "twistd", "charon", "charon-systemd", "pluto", "xl2tpd", "pppd",
    "freeradius", "radiusd", "slapd", "scepserver", "scep", "certmonger", "tcpdump",
    "ike-scan", "socat",
})
LINK_KINDS = frozenset({"veth", "tun", "bridge", "dummy"})


@dataclass(frozen=True)
class Process:
    pid: int
    start: int  # /proc/<pid>/stat field 22: the pid with its start time names one process
    name: str
    cmdline: str

    def describe(self) -> str:
        return f"process {self.name} pid {self.pid}: {self.cmdline[:160]}"


@dataclass(frozen=True)
class Snapshot:
    namespaces: frozenset[str]
    links: frozenset[str]  # "name (kind)"
    processes: frozenset[Process]


_KEPT_PREFIXES: set[str] = set()
_KEPT_PIDS: set[int] = set()


def keep(*, prefixes: tuple[str, ...] = (), pids: tuple[int, ...] = ()) -> None:
    """Declare namespaces/links (by name prefix) and processes (by pid) that a session fixture
    keeps for the whole run: the per-module check leaves them out, the end-of-run check does
    not."""
    _KEPT_PREFIXES.update(prefixes)
    _KEPT_PIDS.update(pids)


def _run(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout


def namespaces() -> frozenset[str]:
    return frozenset(
        line.split()[0] for line in _run(["ip", "netns", "list"]).splitlines() if line.strip()
    )


def links() -> frozenset[str]:
    try:
        data = json.loads(_run(["ip", "-d", "-j", "link", "show"]) or "[]")
    except ValueError:
        return frozenset()
    out = set()
    for link in data:
        kind = (link.get("linkinfo") or {}).get("info_kind", "")
        if kind in LINK_KINDS:
            if kind == "tun":
                kind = (link["linkinfo"].get("info_data") or {}).get("type", "tun")
            out.add(f"{link.get('ifname', '?')} ({kind})")
    return frozenset(out)


def _process_name(argv: list[str], comm: str) -> str | None:
    if comm in DAEMONS:
        return comm
    for arg in argv[:2]:  # "python .venv/bin/twistd ...", "/usr/lib/ipsec/charon"
        base = os.path.basename(arg)
        if base in DAEMONS:
            return base
    return None


def processes(run: str | None = None) -> frozenset[Process]:
    """The daemons alive now that belong to run ``run`` (default: this one)."""
    run = run or runid.RUN_ID
    marker = f"PIXGW_RUN_ID={run}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = [a.decode(errors="replace") for a in
                    (entry / "cmdline").read_bytes().split(b"\0") if a]
            comm = (entry / "comm").read_text().strip()
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if not argv or stat[0] == "Z":
            continue
        name = _process_name(argv, comm)
        if name is None:
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            environ = [marker]  # cannot tell: count it
        if marker not in environ:
            continue
        found.add(Process(int(entry.name), int(stat[19]), name, " ".join(argv)))
    return frozenset(found)


def snapshot() -> Snapshot:
    return Snapshot(namespaces(), links(), processes())


def _foreign(name: str) -> bool:
    return any(other in name for other in runid.other_live_runs())


def leaks(before: Snapshot, after: Snapshot, *, include_kept: bool = False) -> list[str]:
    """What ``after`` has that ``before`` had not, as lines naming each thing."""
    kept = () if include_kept else tuple(_KEPT_PREFIXES)
    kept_pids = set() if include_kept else _KEPT_PIDS

    def ours(name: str) -> bool:
        return not name.startswith(kept) and not _foreign(name)

    out = [
        f"network namespace {n}" for n in sorted(after.namespaces - before.namespaces)
        if ours(n)
    ]
    out += [f"link {n}" for n in sorted(after.links - before.links) if ours(n.split()[0])]
    out += [
        p.describe() for p in sorted(after.processes - before.processes, key=lambda p: p.pid)
        if p.pid not in kept_pids
    ]
    return out
