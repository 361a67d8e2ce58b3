"""``twistd pixgw`` (userspace dataplane) run in the interop gateway namespace, for the tests that
drive real clients against it (test_e2e, test_grid, test_matrix, test_nat, test_lifecycle).

Test infrastructure; no RFC is implemented here.  ``gateway_config(...)`` renders a PIX 6.3
configuration covering every client profile of ``tests/interop/qemu/client.PROFILES``;
``RunningGateway(netns, workdir, config, pki=None)`` starts twistd (with the gateway's key, its
certificate and the CA put in the CA store first when ``pki`` is given), ``show(command)`` runs a
command over the control socket, ``stop()`` ends it by pid.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pixgw.pki.store import CaStore
from tests.interop.qemu.netns import Namespace

BIN = Path(sys.executable).parent
PSK = "interop-psk"
USER, PASSWORD = "interop", "interop-pass"
CA_NAME = "interopca"
POOL_SIZE = 10
DNS = "203.0.113.53"
INSIDE_HOST = "203.0.113.2"

# IKE policies (priority, encryption, hash, group) offered to every profile, for pre-share and
# for rsa-sig: des/md5/1 (win2000), 3des/sha/2 (winxp), aes-256/sha/20,19,14 (win10, win10g14,
# macos), aes-256/sha/2 (android).
_IKE_POLICIES = (
    ("des", "md5", 1),
    ("3des", "sha", 2),
    ("aes-256", "sha", 20),
    ("aes-256", "sha", 14),
    ("aes-256", "sha", 2),
    ("aes", "sha", 19),
)

# transform sets in the dynamic map's order: name -> (encryption, authentication)
TRANSFORM_SETS = {
    "l2tp": ("esp-des", "esp-md5-hmac"),
    "l2tp-3des": ("esp-3des", "esp-sha-hmac"),
    "l2tp-aes256": ("esp-aes-256", "esp-sha-hmac"),
    "l2tp-aes": ("esp-aes", "esp-sha-hmac"),
}


def gateway_config(
    *,
    ppp_auths: tuple[str, ...] = ("mschapv2", "chap"),
    hello: int = 60,
    ca: bool = False,
    esp_lifetime: int = 3600,
    keepalive: tuple[int, int] | None = None,
    hostname: str = "pixgw-matrix",
    outside: str = "192.0.2.1",
    transform_sets: dict[str, tuple[str, str]] | None = None,
) -> str:
    """A running-config for the interop topology (outside 192.0.2.1 - or ``outside``, e.g. the
    gateway guest's 192.0.2.3 -, inside 203.0.113.1); ``transform_sets`` (name -> encryption,
    authentication, in the dynamic map's order) replaces TRANSFORM_SETS."""
    lines = [
        f"hostname {hostname}",
        "nameif ethernet0 outside security0",
        "nameif ethernet1 inside security100",
        f"ip address outside {outside} 255.255.255.0",
        "ip address inside 203.0.113.1 255.255.255.0",
        f"access-list l2tp permit udp host {outside} any eq 1701",
        f"ip local pool l2tp 198.51.100.100-198.51.100.{99 + POOL_SIZE}",
        "logging on",
        "logging buffered debugging",
    ]
    sets = TRANSFORM_SETS if transform_sets is None else transform_sets
    for name, (enc, mac) in sets.items():
        lines += [
            f"crypto ipsec transform-set {name} {enc} {mac}",
            f"crypto ipsec transform-set {name} mode transport",
        ]
    lines += [
        f"crypto ipsec security-association lifetime seconds {esp_lifetime}",
        "crypto dynamic-map dyna 20 match address l2tp",
        f"crypto dynamic-map dyna 20 set transform-set {' '.join(sets)}",
        "crypto map mymap 10 ipsec-isakmp dynamic dyna",
        "crypto map mymap interface outside",
        "isakmp enable outside",
        f"isakmp key {PSK} address 0.0.0.0 netmask 0.0.0.0 no-xauth no-config-mode",
        "isakmp identity address",
        "isakmp nat-traversal 20",
    ]
    if keepalive is not None:  # DPD (RFC 3706): what reclaims the phase 1 SA of a dead peer
        lines.append(f"isakmp keepalive {keepalive[0]} {keepalive[1]}")
    methods = ("pre-share", "rsa-sig") if ca else ("pre-share",)
    priority = 10
    for method in methods:
        for enc, hsh, group in _IKE_POLICIES:
            lines += [
                f"isakmp policy {priority} authentication {method}",
                f"isakmp policy {priority} encryption {enc}",
                f"isakmp policy {priority} hash {hsh}",
                f"isakmp policy {priority} group {group}",
            ]
            priority += 10
    if ca:
        lines += [
            f"ca identity {CA_NAME} 192.0.2.250:/scep",
            f"ca configure {CA_NAME} ca 1 0 crloptional",
        ]
    lines += ["vpdn group l2tpipsec accept dialin l2tp"]
    lines += [f"vpdn group l2tpipsec ppp authentication {a}" for a in ppp_auths]
    lines += [
        "vpdn group l2tpipsec client configuration address local l2tp",
        f"vpdn group l2tpipsec client configuration dns {DNS}",
        "vpdn group l2tpipsec client authentication local",
        f"vpdn group l2tpipsec l2tp tunnel hello {hello}",
        f"vpdn username {USER} password {PASSWORD}",
        "vpdn enable outside",
    ]
    return "\n".join(lines) + "\n"


def install_pki(state_dir: Path, pki_dir: Path, name: str = CA_NAME) -> None:
    """Put the test PKI's server key, server certificate and CA certificate in the CA store
    (``<state_dir>/ca``) the way ``ca save all`` keeps them, before twistd starts."""
    store = CaStore(state_dir / "ca")
    key = serialization.load_pem_private_key((pki_dir / "server-key.pem").read_bytes(), None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("the test PKI's server key is not RSA")
    store.save_key(key)
    for role, pem in (("ca", "ca-cert.pem"), ("certificate", "server-cert.pem")):
        cert = x509.load_pem_x509_certificate((pki_dir / pem).read_bytes())
        store.save(name, role, cert.public_bytes(serialization.Encoding.DER))


class RunningGateway:
    """``twistd -n pixgw`` in ``netns`` with ``config``; the control socket in ``workdir``."""

    def __init__(
        self,
        netns: Namespace,
        workdir: Path,
        config: str,
        pki: Path | None = None,
        log_name: str = "pixgw-e2e.log",
    ) -> None:
        self.netns = netns
        self.workdir = workdir
        self.control = str(workdir / "control")
        self.state_dir = workdir / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if pki is not None:
            install_pki(self.state_dir, pki)
        config_file = workdir / "pixgw.conf"
        config_file.write_text(config)
        self.process = netns.spawn(
            [
                str(BIN / "twistd"),
                "-n",
                "--pidfile=",
                "pixgw",
                "--config",
                str(config_file),
                "--control",
                f"unix:{self.control}",
                "--state-dir",
                str(self.state_dir),
                "--dataplane",
                "userspace",
            ],
            log_name=log_name,
        )
        deadline = time.monotonic() + 30
        while not Path(self.control).exists():
            if time.monotonic() > deadline or self.process.popen.poll() is not None:
                raise AssertionError(f"pixgw did not start:\n{self.process.output()}")
            time.sleep(0.1)

    def show(self, command: str) -> str:
        result = subprocess.run(
            [str(BIN / "pixgw"), "exec", "--control", self.control, command],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def diagnostics(self) -> str:
        """``show logging`` and the tail of twistd's log, for failure messages."""
        try:
            log = self.show("show logging")
        except (AssertionError, subprocess.SubprocessError) as exc:
            log = f"(show logging failed: {exc})"
        views = []
        for command in ("show crypto isakmp sa", "show crypto isakmp stats"):
            try:
                views.append(f"--- pixgw {command} ---\n{self.show(command)[-3000:]}")
            except (AssertionError, subprocess.SubprocessError) as exc:
                views.append(f"--- pixgw {command} failed: {exc}")
        udp = self.netns.exec(["cat", "/proc/net/snmp"], check=False).stdout
        udp_lines = "\n".join(line for line in udp.splitlines() if line.startswith("Udp:"))
        # the IKE view and the namespace's UDP counters last: a CI report keeps the tail
        return (
            f"--- twistd ---\n{self.process.output()[-3000:]}\n"
            f"--- pixgw show logging ---\n{log[-6000:]}\n"
            + "\n".join(views)
            + f"\n--- {self.netns.name} /proc/net/snmp ---\n{udp_lines}\n"
        )

    def pool_in_use(self, pool: str = "l2tp") -> int:
        """Addresses of ``pool`` in use, from ``show ip local pool``."""
        text = self.show(f"show ip local pool {pool}")
        row = next(line.split() for line in text.splitlines() if line.startswith(f"{pool} "))
        return int(row[4])

    def stop(self) -> None:
        self.netns.stop(self.process)


def wait_for(predicate: Callable[[], bool], seconds: float, step: float = 0.5) -> bool:
    """Poll ``predicate`` until true or ``seconds`` passed (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# -- one cell: connect, check everything the gateway shows, hang up --------------------------

# the transform set the gateway picks for each profile's first acceptable offer (initiator order)
EXPECTED_TRANSFORM = {
    "win2000": "esp-des esp-md5-hmac",
    "winxp": "esp-3des esp-sha-hmac",
    "win10": "esp-aes-256 esp-sha-hmac",
    "win10g14": "esp-aes-256 esp-sha-hmac",
    "macos": "esp-aes-256 esp-sha-hmac",
    "android": "esp-aes-256 esp-sha-hmac",
}


def bring_up(gateway: RunningGateway, client: Any, timeout: float = 120) -> Any:
    """``client.up()``; on failure the assertion carries the gateway's logs too."""
    try:
        return client.up(timeout=timeout)
    except Exception as e:
        raise AssertionError(f"{e}\n{gateway.diagnostics()}") from e


def check_connected(
    gateway: RunningGateway,
    client: Any,
    status: Any,
    inside: Namespace,
    *,
    peer: str = "192.0.2.2",
    transform: str | None = None,
    user: str = USER,
) -> None:
    """Pool address, DNS, ping both ways, and the show commands for a connected client."""
    address = str(status.ppp_address)
    assert address.startswith("198.51.100.1"), status.raw
    assert DNS in [str(d) for d in status.dns], status.raw
    route = client.guest.sh("ip route replace 203.0.113.0/24 dev ppp0", timeout=20)
    assert route.rc == 0, route.stderr
    ping = client.ping(INSIDE_HOST, count=3)
    assert ping.ok, ping.output + gateway.diagnostics()
    back = inside.exec(["ping", "-c", "2", "-i", "0.2", "-W", "2", address], check=False)
    assert back.returncode == 0, back.stdout + back.stderr
    isakmp = gateway.show("show crypto isakmp sa")
    assert any(peer in line and "QM_IDLE" in line for line in isakmp.splitlines()), isakmp
    ipsec = gateway.show("show crypto ipsec sa")
    assert f"current_peer: {peer}" in ipsec, ipsec
    if transform is not None:
        assert f"transform: {transform} ," in ipsec or f"transform: {transform}," in ipsec, ipsec
    session = gateway.show("show vpdn session")
    assert f"Session username is {user}, state is established" in session, session
    uauth = gateway.show("show uauth")
    assert f"vpdn user '{user}' at {address}, authenticated" in uauth, uauth


def hang_up_and_check(gateway: RunningGateway, client: Any, seconds: float = 30) -> None:
    """``client.down()``; the tunnel goes and the lease comes back."""
    client.down()
    gone = "% No active L2TP tunnels"
    assert wait_for(lambda: gone in gateway.show("show vpdn tunnel"), seconds), (
        gateway.show("show vpdn tunnel") + gateway.diagnostics()
    )
    assert wait_for(lambda: gateway.pool_in_use() == 0, 10), gateway.show("show ip local pool l2tp")


def check_ppp_refused(gateway: RunningGateway, client: Any, peer: str | None = None) -> None:
    """The client's PPP authentication protocol is one the vpdn group refuses: L2TP comes up
    (and with ``peer``, its phase 1 SA is still there), PPP does not; no session, no uauth
    entry, no lease; the tunnel goes at hang-up."""
    with pytest.raises(Exception):  # noqa: B017 - ClientError or no ppp0 address
        client.up(timeout=36)  # PPP waits half of it: LCP fails well within
    assert not client.status().ppp_address
    if peer is not None:
        assert peer in gateway.show("show crypto isakmp sa")  # IPsec itself was fine
    assert "state is established" not in gateway.show("show vpdn session")
    assert "authenticated" not in gateway.show("show uauth")
    assert wait_for(lambda: gateway.pool_in_use() == 0, 10), gateway.show("show ip local pool l2tp")
    client.down()
    assert wait_for(lambda: "% No active L2TP tunnels" in gateway.show("show vpdn tunnel"), 30), (
        gateway.show("show vpdn tunnel") + gateway.diagnostics()
    )
    assert gateway.pool_in_use() == 0


def wait_cleaned_up(gateway: RunningGateway, peer: str, seconds: float) -> None:
    """After a client vanished: tunnel, session, IPsec SAs, phase 1 SA, lease and uauth entry of
    ``peer`` all gone within ``seconds`` (the hello and DPD windows), and 603107 logged."""
    t0 = time.monotonic()

    def all_gone() -> bool:
        return (
            "% No active L2TP tunnels" in gateway.show("show vpdn tunnel")
            and "established" not in gateway.show("show vpdn session")
            and f"current_peer: {peer}" not in gateway.show("show crypto ipsec sa")
            and peer not in gateway.show("show crypto isakmp sa")
            and gateway.pool_in_use() == 0
        )

    gone = wait_for(all_gone, seconds, step=1.0)
    took = time.monotonic() - t0
    assert gone, "\n".join(
        [f"not cleaned up after {took:.0f} s"]
        + [
            gateway.show(c)
            for c in (
                "show vpdn tunnel",
                "show vpdn session",
                "show crypto ipsec sa",
                "show crypto isakmp sa",
                "show ip local pool l2tp",
            )
        ]
        + [gateway.diagnostics()]
    )
    assert "authenticated" not in gateway.show("show uauth")
    assert "%PIX-6-603107: L2TP Tunnel deleted" in gateway.show("show logging")


def spis(ipsec: str) -> set[str]:
    """The SPIs ``show crypto ipsec sa`` lists."""
    return set(re.findall(r"spi: (0x[0-9a-f]+)", ipsec))


def ping_across_rekey(gateway: RunningGateway, client: Any, esp_lifetime: int) -> None:
    """The client (ESP lifetime ``esp_lifetime`` s, rekeying before it ends) pings the inside
    host 4 times a second across its quick-mode rekey: new SPIs on the gateway, nothing lost."""
    before = spis(gateway.show("show crypto ipsec sa"))
    assert before
    pings = int((esp_lifetime + 5) / 0.25)
    r = client.guest.sh(
        f"ping -n -c {pings} -i 0.25 -W 2 -w {esp_lifetime + 20} {INSIDE_HOST}",
        timeout=esp_lifetime + 40,
    )
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    assert m is not None, r.stdout + r.stderr
    sent, received = int(m.group(1)), int(m.group(2))
    after = spis(gateway.show("show crypto ipsec sa"))
    assert after - before, (before, after, gateway.show("show crypto ipsec sa"))
    assert received == sent, f"{sent - received} of {sent} lost across the rekey\n{r.stdout}"
    assert client.ping(INSIDE_HOST, count=3).ok


# -- the session's summary table (cell x result x seconds) -----------------------------------

MATRIX_ROWS: list[tuple[str, str, float]] = []


@pytest.fixture(scope="session")
def matrix_results(request: pytest.FixtureRequest) -> Iterator[list[tuple[str, str, float]]]:
    """The rows recorded by ``matrix_cell``; printed as a table when the session ends."""
    yield MATRIX_ROWS
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if not MATRIX_ROWS or reporter is None:
        return
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    uncaptured = capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
    with uncaptured:
        reporter.write_line("")
        reporter.write_sep("-", "pixgw client matrix")
        for name, result, secs in MATRIX_ROWS:
            reporter.write_line(f"{name:<44} {result:<24.60} {secs:6.1f} s")
        passed = sum(1 for _, r, _ in MATRIX_ROWS if r == "pass")
        total = sum(s for _, _, s in MATRIX_ROWS)
        reporter.write_line(f"{passed}/{len(MATRIX_ROWS)} cells passed in {total:.0f} s")
    MATRIX_ROWS.clear()


@pytest.fixture
def matrix_cell(
    matrix_results: list[tuple[str, str, float]],
) -> Callable[[str], contextlib.AbstractContextManager[None]]:
    """``with matrix_cell("win2000 psk mschap-v2"): ...`` records the cell's result and time."""

    @contextlib.contextmanager
    def cell(name: str) -> Iterator[None]:
        t0 = time.monotonic()
        try:
            yield
        except BaseException as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            matrix_results.append(
                (name, f"FAIL {type(exc).__name__}: {first}", time.monotonic() - t0)
            )
            raise
        matrix_results.append((name, "pass", time.monotonic() - t0))

    return cell
