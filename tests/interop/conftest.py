"""Fixtures of the interop suite: the QEMU client guest, the namespaces topology, captures.

See ``tests/interop/qemu/harness.py`` for the API.  Session-scoped: one guest build, one
topology, one client guest reused by every test (each test's client is stopped afterwards);
extra guests (behind the NAT router, the self-test gateway) are booted on first use and kept
for the session.  Everything is torn down by pid in finalizers.  Timings (build, boots) are
printed in the terminal summary.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import leakguard
from tests.interop.pixgw_gateway import RunningGateway
from tests.interop.qemu.build import GuestImage, ensure_guest
from tests.interop.qemu.capture import Capture
from tests.interop.qemu.client import L2tpClient, client_on
from tests.interop.qemu.guest import Guest, boot_guest
from tests.interop.qemu.netns import PRIVATE_NAT, Namespace, Topology

TIMINGS: dict[str, float] = {}


def _qemu_missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, tap, debootstrap)"
    for tool in ("qemu-system-x86_64", "debootstrap", "tcpdump", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/apt-packages.txt)"
    return None


@pytest.fixture(scope="session")
def interop_image() -> GuestImage:
    why = _qemu_missing()
    if why:
        pytest.skip(why)
    image = ensure_guest()
    TIMINGS["guest build (cached)" if not image.built_now else "guest build"] = image.seconds
    return image


@pytest.fixture(scope="session")
def interop_topology(
    interop_image: GuestImage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    topo = Topology(workdir=tmp_path_factory.mktemp("topology"))
    leakguard.keep(prefixes=(f"{topo.prefix}-",))  # for the run; the end-of-run check sees it
    try:
        yield topo.create()
    finally:
        topo.destroy()


@pytest.fixture(scope="session")
def gateway_netns(interop_topology: Topology) -> Namespace:
    """The gateway's namespace: eth0 192.0.2.1/24 (outside), inside0 203.0.113.1/24."""
    return interop_topology.gateway


@pytest.fixture(scope="session")
def inside_netns(interop_topology: Topology) -> Namespace:
    """The inside host: 203.0.113.2/24, default route via the gateway's 203.0.113.1."""
    return interop_topology.inside


class GuestPool:
    """Guests booted on demand, kept for the session, stopped at its end."""

    def __init__(self, image: GuestImage, topology: Topology) -> None:
        self.image, self.topology = image, topology
        self.guests: dict[str, Guest] = {}

    def get(
        self, name: str, ip: str, index: int, gw: str | None = None, behind_nat: bool = False
    ) -> Guest:
        g = self.guests.get(name)
        if g is not None and g.running():
            return g
        g = boot_guest(self.image, self.topology, name, ip, index, gw=gw, behind_nat=behind_nat)
        TIMINGS[f"boot {name}"] = g.boot_seconds
        self.guests[name] = g
        leakguard.keep(pids=(g.pid,))
        return g

    def stop_all(self) -> None:
        for name, g in list(self.guests.items()):
            t0 = time.monotonic()
            g.stop()
            TIMINGS[f"shutdown {name}"] = time.monotonic() - t0
        self.guests.clear()


@pytest.fixture(scope="session")
def guest_pool(interop_image: GuestImage, interop_topology: Topology) -> Iterator[GuestPool]:
    pool = GuestPool(interop_image, interop_topology)
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture(scope="session")
def client_vm(guest_pool: GuestPool) -> Guest:
    """The session's direct client guest, 192.0.2.2/24 on the outside segment."""
    return guest_pool.get("client", "192.0.2.2/24", 2)


def _client_factory(make_guest: Callable[..., Guest]) -> Iterator[Callable[..., L2tpClient]]:
    made: list[L2tpClient] = []

    def make(  # noqa: PLR0917 - the documented positional API
        profile: str = "win2000",
        auth: str = "psk",
        ppp_auth: str = "mschap-v2",
        psk: str = "interop-psk",
        cert: Any = None,
        user: str = "interop",
        password: str = "interop-pass",
        index: int = 1,
        **settings: Any,
    ) -> L2tpClient:
        client = client_on(
            make_guest(index),
            profile=profile,
            auth=auth,
            ppp_auth=ppp_auth,
            psk=psk,
            cert=cert,
            user=user,
            password=password,
            **settings,
        )
        made.append(client)
        return client

    try:
        yield make
    finally:
        for c in made:  # the guest is shared: tests that use it directly (ESP, pppd) need
            with contextlib.suppress(Exception):  # xl2tpd off UDP 1701 and charon stopped
                c.stop()


@pytest.fixture
def client_guest(client_vm: Guest) -> Iterator[Callable[..., L2tpClient]]:
    """Factory: ``client_guest(profile, auth, ppp_auth, psk, cert, user, password, **settings)``."""
    yield from _client_factory(lambda index: client_vm)


@pytest.fixture
def nat_client_guest(guest_pool: GuestPool) -> Iterator[Callable[..., L2tpClient]]:
    """Factory for clients behind the NAT router: ``nat_client_guest(index=1|2|..., ...)`` gets
    guest ``natN`` at 198.51.100.(1+N)/24, default route via 198.51.100.1 (MASQUERADE to
    192.0.2.254)."""

    def guest_for(index: int) -> Guest:
        if not 1 <= index <= 50:
            raise ValueError("nat client index 1..50")
        return guest_pool.get(
            f"nat{index}",
            f"198.51.100.{1 + index}/24",
            100 + index,
            gw=PRIVATE_NAT,
            behind_nat=True,
        )

    yield from _client_factory(guest_for)


@pytest.fixture
def start_gateway(
    gateway_netns: Namespace, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., RunningGateway]]:
    """Factory: ``start_gateway(config, pki=None)`` runs ``twistd pixgw`` in the gateway
    namespace for this test (log ``pixgw-<module>.log``); stopped at the end of the test."""
    started: list[RunningGateway] = []
    log_name = f"pixgw-{request.module.__name__.rsplit('.', 1)[-1]}.log"

    def start(config: str, pki: Path | None = None) -> RunningGateway:
        gw = RunningGateway(gateway_netns, tmp_path, config, pki=pki, log_name=log_name)
        started.append(gw)
        return gw

    try:
        yield start
    finally:
        for gw in started:
            gw.stop()


@pytest.fixture
def outside_capture(interop_topology: Topology) -> Iterator[Callable[..., Capture]]:
    """Factory: ``outside_capture(name, bpf="")`` - tcpdump on every port of the outside bridge."""
    caps: list[Capture] = []

    def start(name: str, bpf: str = "") -> Capture:
        cap = Capture.start(
            interop_topology.outside, "any", interop_topology.workdir / f"{name}.pcap", bpf
        )
        caps.append(cap)
        return cap

    try:
        yield start
    finally:
        for c in caps:
            if c.process.running():
                c.stop()


INTEROP_TIMEOUT = 300  # s: a module without its own bound (pytestmark timeout) gets this one


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Interop tests boot guests and daemons: each module states its bound (<= 600 s, with the
    reason, in its pytestmark); one that does not gets INTEROP_TIMEOUT, not the 60 s default."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(INTEROP_TIMEOUT))


@pytest.fixture(scope="module", autouse=True)
def leak_guard_module() -> Iterator[None]:
    """Per module: namespaces, links and daemons a module's tests started and left behind fail
    its last test's teardown, named (session fixtures' topology and guests excepted, see
    tests/leakguard.py; PIXGW_LEAK_GUARD=0 turns it off)."""
    if os.environ.get("PIXGW_LEAK_GUARD", "1") == "0":
        yield
        return
    before = leakguard.snapshot()
    yield
    found = leakguard.leaks(before, leakguard.snapshot())
    if found:
        pytest.fail("leak guard: the module left behind:\n  " + "\n  ".join(found))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.write_sep("-", "interop harness timings")
        for k, v in TIMINGS.items():
            terminalreporter.write_line(f"{k:<28} {v:7.1f} s")
