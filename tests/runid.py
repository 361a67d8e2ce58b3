"""This test run's id, so two runs can go on at once on one machine.

``RUN_ID`` (4+ base-36 characters from the pytest process id, or ``PIXGW_RUN_ID`` when set) goes
into every name a test gives something machine-wide: network namespaces, links (bridges, TAP,
veth: at most 15 characters, so use :func:`link_name`), control sockets and temporary directories
outside pytest's ``tmp_path``. Every process a test starts inherits ``PIXGW_RUN_ID`` from the
environment, which is how the leak guard (``tests/leakguard.py``) tells this run's daemons from
another's. Live runs register under ``registry()/<id>`` (their pid and a slot number)
while they last; the slot moves the fixed ports of the servers the tests start on 127.0.0.1
(FreeRADIUS, slapd): :func:`port`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
        if n == 0:
            return out.rjust(4, "0")


RUN_ID = os.environ.setdefault("PIXGW_RUN_ID", _base36(os.getpid()))


def registry() -> Path:
    """Where live runs register: one place for the whole machine, whatever cache or TMPDIR a
    run uses (``/run`` as root: a tmpfs, empty after a reboot)."""
    default = "/run/pixgw-test-runs" if os.access("/run", os.W_OK) else "/tmp/pixgw-test-runs"
    return Path(os.environ.get("PIXGW_RUN_REGISTRY", default))


def name(base: str) -> str:
    """A namespace (or other unbounded) name of this run: ``<base>-<RUN_ID>``."""
    return f"{base}-{RUN_ID}"


def link_name(base: str) -> str:
    """A link name of this run (kernel limit: 15 characters): ``<base><RUN_ID>``."""
    out = f"{base}{RUN_ID}"
    if len(out) > 15:
        raise ValueError(f"link name {out!r} is longer than 15 characters")
    return out


SLOTS = 100
STRIDE = 20  # more than the spread of the base ports of one server (RADIUS: 28120..28135)


def port(base: int) -> int:
    """A loopback port of this run: ``base`` moved by this run's slot (``STRIDE`` ports a slot:
    at most base + 1980), so two runs at once do not share FreeRADIUS's or slapd's ports."""
    return base + STRIDE * slot()


_SLOT: int | None = None


def slot() -> int:
    """This run's slot: the lowest one no other live run holds (claimed at first use)."""
    global _SLOT
    if _SLOT is None:
        register()
    return _SLOT if _SLOT is not None else 0


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _read(entry: Path) -> tuple[int, int] | None:
    try:
        pid, number = entry.read_text().split()
        return int(pid), int(number)
    except (OSError, ValueError):
        return None


def register() -> None:
    """Claim a slot and record this run (idempotent; a child process that inherited the run id
    keeps its parent's registration)."""
    global _SLOT
    if _SLOT is not None:
        return
    mine = registry() / RUN_ID
    held = _read(mine)
    if held is not None and pid_alive(held[0]):
        _SLOT = held[1]
        return
    try:
        registry().mkdir(parents=True, exist_ok=True)
        taken = set()
        for entry in registry().iterdir():
            got = _read(entry)
            if entry.name != RUN_ID and got is not None and pid_alive(got[0]):
                taken.add(got[1])
        number = next(n for n in range(SLOTS) if n not in taken)
        tmp = registry() / f".{RUN_ID}.{os.getpid()}"
        tmp.write_text(f"{os.getpid()} {number}\n")
        tmp.replace(mine)
    except (OSError, StopIteration):
        number = 0
    _SLOT = number


def unregister() -> None:
    held = _read(registry() / RUN_ID)
    if held is not None and held[0] == os.getpid():
        with contextlib.suppress(OSError):
            (registry() / RUN_ID).unlink()


def other_live_runs() -> list[str]:
    """The ids of the other test runs on this machine that are still going."""
    out = []
    try:
        entries = list(registry().iterdir())
    except OSError:
        return []
    for entry in entries:
        if entry.name == RUN_ID or entry.name.startswith("."):
            continue
        got = _read(entry)
        if got is None:
            continue
        if pid_alive(got[0]):
            out.append(entry.name)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()  # a run that crashed
    return out
