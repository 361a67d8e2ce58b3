"""The kernel dataplane for real (issue 4): ``twistd pixgw --dataplane auto`` in a QEMU guest whose
stock Debian kernel has ESP, a real client guest connecting to it.

The gateway guest (image variant ``gateway``) sits on the outside segment at 192.0.2.3 (the test
PKI's server certificate names it too) with the host's checkout, venv and interpreter mounted
read-only over virtio-9p at the same paths, so the code under test runs unchanged inside.  Its
inside is a network namespace of its own in the guest (veth ``inside0`` 203.0.113.1/24, the
inside host 203.0.113.2/24 behind it).  ``--dataplane auto`` must pick ``xfrm`` there; each cell
then checks that the SAs the kernel holds are ours (reqid, algorithms, transport mode, UDP
encapsulation behind NAT), that ``show crypto ipsec sa`` counts what the kernel counted, that
plain L2TP is refused, and that hang-up and SIGTERM leave no SA or policy of ours.  Exercises
RFC 4303 (ESP) and RFC 3948 (UDP encapsulation) in the Linux kernel through NETLINK_XFRM, with
RFC 2409 / 3193 / 2661 / 1661 end to end.  One gateway guest per module; cells share it.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pixgw
from tests.interop import pixgw_gateway
from tests.interop.conftest import TIMINGS
from tests.interop.pixgw_gateway import (
    EXPECTED_TRANSFORM,
    bring_up,
    check_connected,
    gateway_config,
    hang_up_and_check,
    install_pki,
    wait_for,
)
from tests.interop.qemu.build import GuestImage, ensure_guest
from tests.interop.qemu.guest import Guest, boot_guest
from tests.interop.qemu.netns import Namespace, Topology

matrix_results = pixgw_gateway.matrix_results
matrix_cell = pixgw_gateway.matrix_cell

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.slow]
# Time bound (600 s): may build a guest image variant (~75 s) and boots guests (~20 s each under
# TCG); pixgw starts in the gateway guest (~50 s), slowest test ~75 s.
pytestmark.append(pytest.mark.timeout(600))

GW_IP = "192.0.2.3"
STATE = "/run/pixgw"
CONTROL = f"{STATE}/control"
OUR_REQID = re.compile(r"reqid (\d+)")
REQID_BASE = 0x50780000

# kernel crypto names per transform set, as ``ip xfrm state`` prints them
KERNEL_ALGOS = {
    "esp-des esp-md5-hmac": ("cbc(des)", "hmac(md5)"),
    "esp-aes-256 esp-sha-hmac": ("cbc(aes)", "hmac(sha1)"),
    "esp-3des esp-sha-hmac": ("cbc(des3_ede)", "hmac(sha1)"),
}


def _shares() -> tuple[str, ...]:
    """The checkout under test, its venv and the interpreter the venv points at."""
    checkout = Path(pixgw.__file__).resolve().parents[1]
    venv = Path(sys.prefix).resolve()
    base = Path(sys.base_prefix).resolve()
    out: list[str] = []
    for p in sorted({checkout, venv, base}, key=lambda q: len(q.parts)):
        if not any(p.is_relative_to(q) for q in map(Path, out)):
            out.append(str(p))
    return tuple(out)


class GuestInside:
    """The inside host: a namespace ``in`` inside the gateway guest, ``exec`` like Namespace's."""

    def __init__(self, guest: Guest) -> None:
        self.guest = guest

    def exec(
        self, argv: list[str], timeout: float = 30.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        r = self.guest.sh("ip netns exec in " + shlex.join(argv), timeout=timeout)
        if check:
            r.check()
        return subprocess.CompletedProcess(argv, r.rc, r.stdout, r.stderr)


class GuestGateway:
    """``twistd -n pixgw --dataplane auto`` in the gateway guest, its control socket in /run."""

    def __init__(self, guest: Guest, config: str, pki: Path | None = None) -> None:
        self.guest = guest
        self.venv = Path(sys.prefix)
        self.pythonpath = str(Path(pixgw.__file__).resolve().parents[1])
        self.pid = 0
        self.start_seconds = 0.0
        files = {f"{STATE}/pixgw.conf": (config.encode(), 0o600)}
        if pki is not None:  # the CA store as ``ca save all`` keeps it, made here, copied in
            with tempfile.TemporaryDirectory() as tmp:
                install_pki(Path(tmp), pki)
                for f in sorted(Path(tmp).rglob("*")):
                    if f.is_file():
                        rel = f.relative_to(tmp)
                        files[f"{STATE}/state/{rel}"] = (f.read_bytes(), f.stat().st_mode & 0o777)
        guest.agent.write_files(files)

    def _env(self) -> str:
        return f"env PYTHONPATH={shlex.quote(self.pythonpath)} PYTHONDONTWRITEBYTECODE=1"

    def start(self) -> None:
        t0 = time.monotonic()
        cmd = (
            f"exec {self._env()} {self.venv}/bin/twistd -n --pidfile= pixgw"
            f" --config {STATE}/pixgw.conf --control unix:{CONTROL}"
            f" --state-dir {STATE}/state --dataplane auto"
        )
        r = self.guest.sh(
            f"mkdir -p {STATE}/state; rm -f {CONTROL};"
            f" setsid sh -c {shlex.quote(cmd)} > {STATE}/twistd.log 2>&1 < /dev/null & echo $!",
            timeout=30,
        )
        r.check()
        self.pid = int(r.stdout.split()[-1])
        up = wait_for(
            lambda: self.guest.sh(f"test -S {CONTROL} || ! kill -0 {self.pid}", timeout=20).ok,
            240,
            step=1.0,
        )
        assert up and self.running(), f"pixgw did not start in the guest:\n{self.log()}"
        assert "Traceback" not in self.log(), self.log()
        self.start_seconds = time.monotonic() - t0

    def running(self) -> bool:
        return self.pid > 0 and self.guest.sh(f"kill -0 {self.pid}", timeout=20).ok

    def log(self) -> str:
        return self.guest.sh(f"tail -c 6000 {STATE}/twistd.log", timeout=20).stdout

    def show(self, command: str) -> str:
        r = self.guest.sh(
            f"{self._env()} {self.venv}/bin/pixgw exec --control {CONTROL} {shlex.quote(command)}",
            timeout=120,
        )
        assert r.rc == 0, r.stdout + r.stderr
        return r.stdout

    def diagnostics(self) -> str:
        try:
            log = self.show("show logging")
        except (AssertionError, Exception) as exc:
            log = f"(show logging failed: {exc})"
        xfrm = self.guest.sh("ip -s xfrm state; ip xfrm policy", timeout=20).stdout
        return (
            f"--- pixgw show logging ---\n{log[-6000:]}\n--- twistd ---\n{self.log()}\n"
            f"--- ip xfrm ---\n{xfrm[-4000:]}"
        )

    def pool_in_use(self, pool: str = "l2tp") -> int:
        text = self.show(f"show ip local pool {pool}")
        row = next(line.split() for line in text.splitlines() if line.startswith(f"{pool} "))
        return int(row[4])

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and a bounded wait for the pid to go."""
        if self.pid <= 0:
            return
        self.guest.sh(f"kill -TERM {self.pid}", timeout=20)
        wait_for(lambda: not self.running(), timeout, step=0.5)
        if self.running():
            self.guest.sh(f"kill -KILL {self.pid}", timeout=20)
        self.pid = 0

    # -- the kernel's view --------------------------------------------------------------------
    def xfrm_state(self) -> str:
        return self.guest.sh("ip -s xfrm state", timeout=20).stdout

    def xfrm_policy(self) -> str:
        return self.guest.sh("ip xfrm policy", timeout=20).stdout

    def xfrm_stat_total(self) -> int:
        text = self.guest.sh("cat /proc/net/xfrm_stat", timeout=20).stdout
        return sum(int(v) for v in re.findall(r"\s(\d+)\s*$", text, re.MULTILINE))


def our_states(state_text: str) -> list[str]:
    """The ``ip xfrm state`` blocks whose reqid marks them as pixgw's."""
    blocks = re.split(r"\n(?=src )", state_text.strip())
    out = []
    for b in blocks:
        m = OUR_REQID.search(b)
        if m and int(m.group(1)) & 0xFFFF0000 == REQID_BASE:
            out.append(b)
    return out


def ipsec_counter(text: str, name: str) -> int:
    """The first ``#pkts <name>: N`` of ``show crypto ipsec sa``."""
    m = re.search(rf"#pkts {name}: (\d+)", text)
    assert m is not None, text
    return int(m.group(1))


@pytest.fixture(scope="module")
def gateway_guest(interop_topology: Topology, interop_image: GuestImage) -> Iterator[Guest]:
    image = ensure_guest(variant="gateway")
    guest = boot_guest(
        image, interop_topology, "xfrmgw", f"{GW_IP}/24", 3, mem_mib=1024, shares=_shares()
    )
    TIMINGS["boot xfrmgw (gateway)"] = guest.boot_seconds
    try:
        guest.sh(
            "set -e; sysctl -qw net.ipv4.ip_forward=1; modprobe tun;"
            " [ -c /dev/net/tun ] || { mkdir -p /dev/net; mknod -m 666 /dev/net/tun c 10 200; };"
            " ip netns add in;"
            " ip link add inside0 type veth peer name eth0 netns in;"
            " ip addr add 203.0.113.1/24 dev inside0; ip link set inside0 up;"
            " ip -n in link set lo up; ip -n in addr add 203.0.113.2/24 dev eth0;"
            " ip -n in link set eth0 up; ip -n in route add default via 203.0.113.1",
            timeout=60,
        ).check()
        yield guest
    finally:
        t0 = time.monotonic()
        guest.stop()
        TIMINGS["shutdown xfrmgw"] = time.monotonic() - t0


@pytest.fixture(scope="module")
def xfrm_gateway(gateway_guest: Guest, interop_image: GuestImage) -> Iterator[GuestGateway]:
    gw = GuestGateway(
        gateway_guest,
        gateway_config(outside=GW_IP, hostname="pixgw-xfrm", ca=True),
        pki=Path(interop_image.pki),
    )
    gw.start()
    TIMINGS["pixgw start in guest"] = gw.start_seconds
    try:
        yield gw
    finally:
        gw.stop()


def test_auto_picks_xfrm(xfrm_gateway: GuestGateway) -> None:
    """At start the kernel holds our catch-all inbound policy for UDP 1701 (the xfrm backend)
    and no SA yet."""
    policy = xfrm_gateway.xfrm_policy()
    assert re.search(
        rf"src 0\.0\.0\.0/0 dst {GW_IP}/32 proto udp dport 1701\s*\n\s*dir in", policy
    ), policy + xfrm_gateway.log()
    assert our_states(xfrm_gateway.xfrm_state()) == []


def _check_kernel_sas(gw: GuestGateway, peer: str, transform: str, natt: bool) -> list[str]:
    ours = [b for b in our_states(gw.xfrm_state()) if peer in b]
    assert len(ours) == 2, gw.xfrm_state()
    enc, auth = KERNEL_ALGOS[transform]
    for block in ours:
        assert "proto esp" in block and "mode transport" in block, block
        assert f"enc {enc} " in block, block
        assert f"auth-trunc {auth} " in block or f"auth {auth} " in block, block
        if natt:
            assert "encap type espinudp sport" in block, block
        else:
            assert "encap" not in block, block
    policy = gw.xfrm_policy()
    assert re.search(
        rf"src {GW_IP}/32 dst {peer}/32 proto udp sport 1701\s*\n\s*dir out", policy
    ), policy
    return ours


def _cell(
    gw: GuestGateway,
    client: Any,
    inside: GuestInside,
    *,
    peer: str,
    transform: str,
    natt: bool,
    outside_ns: Namespace,
) -> None:
    status = bring_up(gw, client, timeout=180)
    check_connected(gw, client, status, inside, peer=peer, transform=transform)  # type: ignore[arg-type]
    _check_kernel_sas(gw, peer, transform, natt)
    before = gw.show("show crypto ipsec sa")
    decaps0, encaps0 = ipsec_counter(before, "decaps"), ipsec_counter(before, "encaps")
    assert decaps0 > 0 and encaps0 > 0, before
    ping = client.ping("203.0.113.2", count=5)
    assert ping.ok, ping.output
    after = gw.show("show crypto ipsec sa")
    assert ipsec_counter(after, "decaps") >= decaps0 + 5, (before, after)
    assert ipsec_counter(after, "encaps") >= encaps0 + 5, (before, after)
    # plain L2TP from outside (an SCCRQ header from 192.0.2.1) is dropped by the kernel policy
    stat0 = gw.xfrm_stat_total()
    sccrq = "c8020014000000000000000080080000000000010000"
    r = outside_ns.exec(
        [
            "python3",
            "-c",
            "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
            f" s.bind(('192.0.2.1', 1701)); [s.sendto(bytes.fromhex('{sccrq}'),"
            f" ('{GW_IP}', 1701)) for _ in range(3)]",
        ],
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: gw.xfrm_stat_total() >= stat0 + 3, 20), gw.guest.sh(
        "cat /proc/net/xfrm_stat", timeout=20
    ).stdout
    assert "192.0.2.1" not in gw.show("show vpdn tunnel")
    hang_up_and_check(gw, client, seconds=60)
    assert wait_for(lambda: not [b for b in our_states(gw.xfrm_state()) if peer in b], 60), (
        gw.xfrm_state()
    )


# CI: Windows 10; Windows 2000 (DES) in long mode (72 s)
@pytest.mark.parametrize("profile", [pytest.param("win2000", marks=pytest.mark.long), "win10"])
def test_direct_client_psk(  # noqa: PLR0917 - pytest parameters
    profile: str,
    xfrm_gateway: GuestGateway,
    gateway_guest: Guest,
    client_guest: Any,
    gateway_netns: Namespace,
    matrix_cell: Any,
) -> None:
    with matrix_cell(f"xfrm guest {profile} psk"):
        client = client_guest(profile, server=GW_IP)
        _cell(
            xfrm_gateway,
            client,
            GuestInside(gateway_guest),
            peer="192.0.2.2",
            transform=EXPECTED_TRANSFORM[profile],
            natt=False,
            outside_ns=gateway_netns,
        )


def test_direct_client_certificate(
    xfrm_gateway: GuestGateway,
    gateway_guest: Guest,
    client_guest: Any,
    gateway_netns: Namespace,
    matrix_cell: Any,
) -> None:
    """rsa-sig: the test PKI's server certificate names 192.0.2.3 too."""
    with matrix_cell("xfrm guest win10 rsa-sig"):
        client = client_guest("win10", auth="cert", server=GW_IP)
        _cell(
            xfrm_gateway,
            client,
            GuestInside(gateway_guest),
            peer="192.0.2.2",
            transform=EXPECTED_TRANSFORM["win10"],
            natt=False,
            outside_ns=gateway_netns,
        )


def test_nat_client_udp_encapsulated(
    xfrm_gateway: GuestGateway,
    gateway_guest: Guest,
    nat_client_guest: Any,
    gateway_netns: Namespace,
    matrix_cell: Any,
) -> None:
    with matrix_cell("xfrm guest win10 psk behind NAT"):
        client = nat_client_guest("win10", server=GW_IP)
        _cell(
            xfrm_gateway,
            client,
            GuestInside(gateway_guest),
            peer="192.0.2.254",
            transform=EXPECTED_TRANSFORM["win10"],
            natt=True,
            outside_ns=gateway_netns,
        )


def test_sigterm_leaves_nothing(xfrm_gateway: GuestGateway, client_guest: Any) -> None:
    """A connected client, then SIGTERM: no SA and no policy of ours stays in the kernel."""
    client = client_guest("winxp", server=GW_IP)
    bring_up(xfrm_gateway, client, timeout=180)
    assert len(our_states(xfrm_gateway.xfrm_state())) == 2, xfrm_gateway.xfrm_state()
    xfrm_gateway.stop()
    assert our_states(xfrm_gateway.xfrm_state()) == [], xfrm_gateway.xfrm_state()
    policy = xfrm_gateway.xfrm_policy()
    assert f"dst {GW_IP}/32 proto udp dport 1701" not in policy, policy
    assert "sport 1701" not in policy, policy
