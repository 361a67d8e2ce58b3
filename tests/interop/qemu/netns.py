"""Network namespaces and links of the interop topology (test infrastructure, stdlib only).

Layout (``P`` is the run's prefix, ``p<run id>``: see tests/runid.py)::

    P-in  (inside host)  eth0 203.0.113.2/24, default via 203.0.113.1
      |  veth
    P-gw  (gateway)      inside0 203.0.113.1/24, eth0 192.0.2.1/24, ip_forward=1
      |  veth (gw0 on the bridge)
    P-out (outside L2)   bridge br0 (no address), taps of direct guests (192.0.2.2 ...)
      |  veth (nat0 on the bridge)
    P-nat (NAT router)   eth0 192.0.2.254/24, br1 198.51.100.1/24 + taps of guests behind it,
                         iptables -t nat POSTROUTING -o eth0 -j MASQUERADE   (only if asked for)

Nothing has an uplink: only 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 exist, inside
namespaces this module made.  A run holds ``flock`` on ``<cache>/run/P.lock`` while its topology
lives; the namespaces of a prefix whose lock file is there but held by nobody are leftovers of a
crashed run and are removed when a topology is created (the processes inside them, by pid, then
the namespaces).  Background processes are tracked by pid and
stopped by pid (TERM, bounded wait, KILL).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests import runid
from tests.runid import pid_alive

from .build import cache_dir

OUTSIDE_GW = "192.0.2.1"
OUTSIDE_NAT = "192.0.2.254"
PRIVATE_NAT = "198.51.100.1"
INSIDE_GW = "203.0.113.1"
INSIDE_HOST = "203.0.113.2"
DOC_PREFIXES = ("192.0.2.", "198.51.100.", "203.0.113.")
# A bridge without an address of its own takes the lowest MAC of its ports and changes it as taps
# come and go (00:00:00:00:00:00 with none): the guests behind the NAT would keep 198.51.100.1 at a
# MAC no longer there after another guest's tap left br1 - their packets flooded on the bridge
# (and, with br_netfilter, conntracked un-NATed) until their ARP entry was probed again, ~5-8 s.
# CI lost test_nat's first ping to that. Fixed, locally administered addresses keep them put.
BRIDGE_MACS = {"br0": "02:00:c0:00:02:00", "br1": "02:00:c6:33:64:01"}


def run(
    argv: list[str], timeout: float = 30.0, check: bool = True, input_: str | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, input=input_
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} -> {proc.returncode}: {proc.stderr.strip()}")
    return proc


def netns_list() -> list[str]:
    out = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def stop_pid(pid: int, grace: float = 5.0) -> None:
    """SIGTERM, a bounded wait, then SIGKILL; only the given pid."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 3.0)):
        if not pid_alive(pid):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:
                pass
            if not pid_alive(pid):
                return
            time.sleep(0.05)


def delete_netns(name: str) -> None:
    """Stop every process inside the namespace (by pid), then delete it."""
    for sig_round in range(2):
        pids = [
            int(p)
            for p in run(["ip", "netns", "pids", name], check=False).stdout.split()
            if p.isdigit()
        ]
        if not pids:
            break
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGTERM if sig_round == 0 else signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
            time.sleep(0.1)
    run(["ip", "netns", "del", name], check=False)


@dataclass
class BackgroundProcess:
    """A process started in a namespace; ``stop()`` ends it by pid."""

    argv: list[str]
    netns: str
    log: Path
    popen: subprocess.Popen[bytes]
    _log_fh: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 5.0) -> int | None:
        if self.popen.poll() is None:
            stop_pid(self.popen.pid, grace)
        try:
            rc = self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        return rc

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


@dataclass
class Namespace:
    """One network namespace of the topology."""

    name: str
    address: str
    workdir: Path
    processes: list[BackgroundProcess] = field(default_factory=list)

    def exec(
        self, argv: list[str], timeout: float = 30.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return run(["ip", "netns", "exec", self.name, *argv], timeout=timeout, check=check)

    def spawn(
        self, argv: list[str], log_name: str | None = None, env: dict[str, str] | None = None
    ) -> BackgroundProcess:
        """Start ``argv`` in the background inside this namespace (own session, output to a log)."""
        log = self.workdir / (log_name or f"{Path(argv[0]).name}-{len(self.processes)}.log")
        fh = open(log, "ab")  # noqa: SIM115 - open for the life of the process
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        popen = subprocess.Popen(
            ["ip", "netns", "exec", self.name, *argv],
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=full_env,
        )
        proc = BackgroundProcess(argv, self.name, log, popen, fh)
        self.processes.append(proc)
        self._await_entry(popen)
        return proc

    def _await_entry(self, popen: subprocess.Popen[bytes]) -> None:
        """Until the process is in this namespace or has ended, at most 5 s: Popen returns once
        ``ip netns exec`` runs, before its setns (CI under load once found the namespace still
        without the process it had just been given)."""
        want = os.stat(f"/run/netns/{self.name}").st_ino
        deadline = time.monotonic() + 5.0
        while popen.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{popen.pid}/ns/net").st_ino == want:
                    return
            time.sleep(0.01)

    def stop(self, proc: BackgroundProcess, grace: float = 5.0) -> int | None:
        rc = proc.stop(grace)
        if proc in self.processes:
            self.processes.remove(proc)
        return rc

    def stop_all(self) -> None:
        for proc in list(reversed(self.processes)):
            self.stop(proc, grace=3.0)


class Topology:
    """The namespaces and links; ``create()`` then ``destroy()`` (idempotent)."""

    def __init__(self, prefix: str | None = None, workdir: Path | None = None) -> None:
        self.root = cache_dir() / "run"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_fh: IO[str] | None = None
        self.prefix = self._take_prefix(prefix or f"p{runid.RUN_ID}")
        self.workdir = workdir or self.root / self.prefix
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.outside = Namespace(f"{self.prefix}-out", "", self.workdir)
        self.gateway = Namespace(f"{self.prefix}-gw", OUTSIDE_GW, self.workdir)
        self.inside = Namespace(f"{self.prefix}-in", INSIDE_HOST, self.workdir)
        self.nat: Namespace | None = None
        self.created = False

    def _take_prefix(self, base: str) -> str:
        for candidate in (base, f"{base}b", f"{base}c", f"{base}d"):
            fh = open(self.root / f"{candidate}.lock", "w")  # noqa: SIM115 - held for the run
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                continue
            self._lock_fh = fh
            return candidate
        raise RuntimeError(f"four topologies of prefix {base} already hold their locks")

    def _crashed_prefixes(self) -> list[str]:
        """Prefixes whose lock file is there and held by nobody (not this topology's)."""
        out = []
        for lock in self.root.glob("*.lock"):
            prefix = lock.name.removesuffix(".lock")
            if prefix == self.prefix:
                continue
            with open(lock, "a") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live run
                out.append(prefix)
                lock.unlink(missing_ok=True)
                shutil.rmtree(self.root / prefix, ignore_errors=True)  # its default workdir
        return out

    def clean_stale(self) -> list[str]:
        prefixes = [self.prefix, *self._crashed_prefixes()]
        stale = [n for n in netns_list() if n.split("-", 1)[0] in prefixes and "-" in n]
        for name in stale:
            delete_netns(name)
        return stale

    def _sysctl(self, ns: str, key: str, value: str) -> None:
        run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}={value}"], check=False)

    def _new_ns(self, ns: str) -> None:
        run(["ip", "netns", "add", ns])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        self._sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1")
        self._sysctl(ns, "net.ipv6.conf.default.disable_ipv6", "1")

    def _veth(self, ns_a: str, name_a: str, ns_b: str, name_b: str) -> None:
        tmp_a, tmp_b = (
            f"{self.prefix}a{os.getpid() % 100000}",
            f"{self.prefix}b{os.getpid() % 100000}",
        )
        run(["ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b])
        run(["ip", "link", "set", tmp_a, "netns", ns_a, "name", name_a])
        run(["ip", "link", "set", tmp_b, "netns", ns_b, "name", name_b])

    def _bridge(self, ns: str, name: str) -> None:
        """A bridge with its fixed MAC (``BRIDGE_MACS``), no STP, forwarding at once; up."""
        run(["ip", "-n", ns, "link", "add", name, "address", BRIDGE_MACS[name], "type", "bridge",
             "stp_state", "0", "forward_delay", "0"])
        run(["ip", "-n", ns, "link", "set", name, "up"])

    def create(self) -> Topology:
        self.clean_stale()
        self.created = True
        out, gw, inside = self.outside.name, self.gateway.name, self.inside.name
        for ns in (out, gw, inside):
            self._new_ns(ns)
        self._bridge(out, "br0")
        self._sysctl(out, "net.ipv4.ip_forward", "0")
        self._veth(gw, "eth0", out, "gw0")
        run(["ip", "-n", out, "link", "set", "gw0", "master", "br0", "up"])
        run(["ip", "-n", gw, "addr", "add", f"{OUTSIDE_GW}/24", "dev", "eth0"])
        run(["ip", "-n", gw, "link", "set", "eth0", "up"])
        self._veth(gw, "inside0", inside, "eth0")
        run(["ip", "-n", gw, "addr", "add", f"{INSIDE_GW}/24", "dev", "inside0"])
        run(["ip", "-n", gw, "link", "set", "inside0", "up"])
        run(["ip", "-n", inside, "addr", "add", f"{INSIDE_HOST}/24", "dev", "eth0"])
        run(["ip", "-n", inside, "link", "set", "eth0", "up"])
        run(["ip", "-n", inside, "route", "add", "default", "via", INSIDE_GW])
        self._sysctl(gw, "net.ipv4.ip_forward", "1")
        return self

    def add_nat(self) -> Namespace:
        """The NAT router: outside 192.0.2.254, private bridge br1 198.51.100.1/24, MASQUERADE."""
        if self.nat is not None:
            return self.nat
        ns = f"{self.prefix}-nat"
        self._new_ns(ns)
        self._veth(ns, "eth0", self.outside.name, "nat0")
        run(["ip", "-n", self.outside.name, "link", "set", "nat0", "master", "br0", "up"])
        run(["ip", "-n", ns, "addr", "add", f"{OUTSIDE_NAT}/24", "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        self._bridge(ns, "br1")
        run(["ip", "-n", ns, "addr", "add", f"{PRIVATE_NAT}/24", "dev", "br1"])
        self._sysctl(ns, "net.ipv4.ip_forward", "1")
        run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "iptables",
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-o",
                "eth0",
                "-j",
                "MASQUERADE",
            ]
        )
        self.nat = Namespace(ns, OUTSIDE_NAT, self.workdir)
        return self.nat

    def add_tap(self, behind_nat: bool, tap: str) -> str:
        """A tap on the outside bridge (or the NAT router's private bridge); returns its netns."""
        if behind_nat:
            ns, br = self.add_nat().name, "br1"
        else:
            ns, br = self.outside.name, "br0"
        run(["ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap"])
        run(["ip", "-n", ns, "link", "set", tap, "master", br, "up"])
        return ns

    def destroy(self) -> None:
        for ns in (self.gateway, self.inside, self.outside, self.nat):
            if ns is not None:
                ns.stop_all()
        if self.created:
            for name in (
                self.gateway.name,
                self.inside.name,
                self.nat.name if self.nat else "",
                self.outside.name,
            ):
                if name:
                    delete_netns(name)
            self.created = False
        self.nat = None
        if self._lock_fh is not None:
            (self.root / f"{self.prefix}.lock").unlink(missing_ok=True)
            self._lock_fh.close()
            self._lock_fh = None
