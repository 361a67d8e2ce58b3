"""Boot and stop QEMU guests of the interop harness (TCG, stock Debian kernel, initramfs root).

Test infrastructure, stdlib only.  Each guest gets a tap on the outside bridge (or behind the
NAT router), a virtio-net NIC, a virtio-serial port for qemu-guest-agent (the command channel,
see ``agent.py``), the serial console logged to ``console.log``, and a QMP socket.  QEMU runs in
the foreground of its own session under ``ip netns exec`` (where its tap is), so the harness
knows its pid and stops it by pid: agent ``guest-shutdown``, then QMP ``quit``, then SIGTERM and
SIGKILL, each bounded.  No user-mode networking; addresses must be documentation addresses.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .agent import ExecResult, GuestAgent
from .build import GuestImage
from .netns import DOC_PREFIXES, Topology, pid_alive, run, stop_pid

BOOT_TIMEOUT_S = 180.0


@dataclass
class Guest:
    """One running QEMU guest and its agent."""

    name: str
    ip: str
    netns: str
    tap: str
    rundir: Path
    popen: subprocess.Popen[bytes]
    agent: GuestAgent
    boot_seconds: float = 0.0
    shares: tuple[str, ...] = ()  # host directories mounted read-only at the same paths
    _log_fh: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def sh(self, script: str, timeout: float = 60.0) -> ExecResult:
        return self.agent.sh(script, timeout=timeout)

    def console_log(self) -> str:
        try:
            return (self.rundir / "console.log").read_text(errors="replace")
        except OSError:
            return ""

    def _qmp_quit(self) -> None:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(3.0)
                s.connect(str(self.rundir / "qmp.sock"))
                s.recv(4096)
                s.sendall(json.dumps({"execute": "qmp_capabilities"}).encode() + b"\n")
                s.recv(4096)
                s.sendall(json.dumps({"execute": "quit"}).encode() + b"\n")
                s.recv(4096)
        except OSError:
            pass

    def stop(self, grace: float = 15.0) -> None:
        """Clean power-off, with bounded fallbacks; always ends with the QEMU pid gone."""
        if self.running():
            with contextlib.suppress(Exception):
                self.agent.shutdown()
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and self.running():
                time.sleep(0.2)
        if self.running():
            self._qmp_quit()
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline and self.running():
                time.sleep(0.1)
        if self.running():
            stop_pid(self.popen.pid, grace=3.0)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self.agent.close()
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        run(["ip", "-n", self.netns, "link", "del", self.tap], check=False)


def boot_guest(
    image: GuestImage,
    topology: Topology,
    name: str,
    ip: str,
    index: int,
    *,
    gw: str | None = None,
    behind_nat: bool = False,
    mem_mib: int = 512,
    smp: int = 2,
    boot_timeout: float = BOOT_TIMEOUT_S,
    shares: tuple[str, ...] = (),
) -> Guest:
    """Start QEMU for one guest (``ip`` as A.B.C.D/NN) and wait, bounded, for its agent.

    ``shares``: host directories passed in over virtio-9p and mounted read-only in the guest at
    the same absolute paths (parents first), e.g. a checkout and its venv for the gateway
    variant, so the host's interpreter and code run unchanged inside."""
    if not ip.startswith(DOC_PREFIXES) or (gw is not None and not gw.startswith(DOC_PREFIXES)):
        raise ValueError("interop guests use documentation addresses only")
    if not (name.isalnum() and len(name) <= 10):
        raise ValueError("guest name: up to 10 letters/digits")
    tap = f"t{name}"[:15]
    rundir = topology.workdir / name
    rundir.mkdir(parents=True, exist_ok=True)
    for stale in ("ga.sock", "qmp.sock", "serial.sock"):
        (rundir / stale).unlink(missing_ok=True)
    ns = topology.add_tap(behind_nat, tap)
    kargs = f"console=ttyS0,115200 panic=-1 quiet loglevel=3 pixgw.name={name} pixgw.ip={ip}"
    if gw:
        kargs += f" pixgw.gw={gw}"
    mac = f"52:54:00:c0:{index // 256:02x}:{index % 256:02x}"
    argv = [
        "ip", "netns", "exec", ns, "qemu-system-x86_64",
        "-name", f"pixgw-{name},process=pixgw-{name}",
        "-machine", "pc", "-accel", "tcg,thread=multi,tb-size=128", "-cpu", "max",
        "-smp", str(smp), "-m", str(mem_mib),
        "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none", "-no-reboot",
        "-kernel", str(image.kernel), "-initrd", str(image.initrd), "-append", kargs,
        "-chardev",
        f"socket,id=ser0,path={rundir}/serial.sock,server=on,wait=off,logfile={rundir}/console.log",
        "-serial", "chardev:ser0",
        "-device", "virtio-serial-pci,id=vser0",
        "-chardev", f"socket,id=ga0,path={rundir}/ga.sock,server=on,wait=off",
        "-device", "virtserialport,bus=vser0.0,chardev=ga0,name=org.qemu.guest_agent.0",
        "-netdev", f"tap,id=net0,ifname={tap},script=no,downscript=no",
        "-device", f"virtio-net-pci,netdev=net0,mac={mac}",
        "-device", "virtio-rng-pci",
        "-qmp", f"unix:{rundir}/qmp.sock,server=on,wait=off",
    ]  # fmt: skip
    shares = tuple(sorted(dict.fromkeys(shares), key=lambda p: (p.count("/"), p)))
    for n, path in enumerate(shares):
        if not (path.startswith("/") and Path(path).is_dir()) or "," in path:
            raise ValueError(f"a 9p share is an absolute directory path without commas: {path!r}")
        argv += [
            "-virtfs",
            f"local,path={path},mount_tag=pixgw{n},security_model=none,readonly=on",
        ]
    log_fh = open(rundir / "qemu.log", "wb")  # noqa: SIM115 - open for the life of QEMU
    t0 = time.monotonic()
    popen = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log_fh,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    agent = GuestAgent(rundir / "ga.sock")
    guest = Guest(name, ip.split("/", maxsplit=1)[0], ns, tap, rundir, popen, agent, _log_fh=log_fh)
    try:
        deadline = time.monotonic() + 30.0
        while not (rundir / "ga.sock").exists():
            if popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"QEMU for {name} did not start: "
                    f"{(rundir / 'qemu.log').read_text(errors='replace')}"
                )
            time.sleep(0.05)
        agent.wait_ready(boot_timeout)
        guest.sh("test -f /run/pixgw-ready", timeout=30).check()
        if shares:
            mounts = "modprobe -a 9p 9pnet_virtio" + "".join(
                f" && mkdir -p {shlex.quote(path)} && mount -t 9p -o"
                f" trans=virtio,version=9p2000.L,ro,msize=262144 pixgw{n} {shlex.quote(path)}"
                for n, path in enumerate(shares)
            )
            guest.sh(mounts, timeout=60).check()
            guest.shares = shares
    except BaseException:
        guest.stop(grace=2.0)
        raise
    guest.boot_seconds = time.monotonic() - t0
    return guest


__all__ = ["Guest", "boot_guest", "pid_alive"]
