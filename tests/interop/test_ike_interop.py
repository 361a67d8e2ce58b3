"""The IKE responder (core + Twisted shell on real UDP 500/4500) against real third-party programs,
each run in network namespaces this test creates (192.0.2.1 gateway, 192.0.2.2 client):

- ``ike-scan``: a main-mode answer for each of Windows' five transforms and for the seed's
  des/md5/group 1 policy, NO-PROPOSAL-CHOSEN for a refused transform, and the PIX's backoff
  pattern 0,5,5,5,5,5 (ike-scan recognises "Cisco PIX 6.3");
- strongSwan's charon as an IKEv1 initiator with Windows-like proposals, main mode and quick mode
  to completion with a pre-shared key and with certificates (kernel-libipsec: tunnel mode), the
  gateway's SA then ``QM_IDLE``.

Everything is stopped by pid and the namespaces are deleted at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests import runid

pytestmark = [pytest.mark.root, pytest.mark.interop]
# Time bound (120 s): ike-scan's back-off pattern: ~35 s.
pytestmark.append(pytest.mark.timeout(120))

REPO = Path(__file__).resolve().parent.parent.parent
GW_IP, CL_IP = "192.0.2.1", "192.0.2.2"
CHARON = Path("/usr/lib/ipsec/charon")
SWANCTL = shutil.which("swanctl") or "/usr/sbin/swanctl"

RUNNER = r'''
import json, os, sys
from ipaddress import IPv4Address
from pathlib import Path
from twisted.internet import reactor
from pixgw import syslog
from pixgw.config.parser import parse
from pixgw.ike.certauth import InMemoryCertificateSource
from pixgw.ike.core import IkeResponder
from pixgw.ike.transport import IkeTransport

config_path, local, status_path, seconds, certdir = sys.argv[1:6]
config = parse(Path(config_path).read_text()).config
certs = None
if certdir != "-":
    from cryptography.hazmat.primitives.serialization import load_der_private_key
    d = Path(certdir)
    certs = InMemoryCertificateSource(
        ((d / "gw.der").read_bytes(),),
        load_der_private_key((d / "gw.key.der").read_bytes(), None),
        ((d / "ca.der").read_bytes(),))

def observer(event):
    line = event.get("pix_line") or event.get("pix_debug_text")
    if line:
        print(line, flush=True)

syslog.add_observer(observer)
responder = IkeResponder(config, random_bytes=os.urandom, certificates=certs)
shell = IkeTransport(responder, reactor, IPv4Address(local), esp_received=lambda d, a: None,
                     event_received=lambda e: print("EVENT", type(e).__name__, flush=True))
shell.listen(reactor, local)

def dump():
    rows = [[str(s.dst), str(s.src), s.state, s.pending, s.created]
            for s in responder.isakmp_sa_status()]
    tmp = status_path + ".tmp"
    Path(tmp).write_text(json.dumps({"isakmp": rows, "ipsec": len(responder.ipsec_sa_status())}))
    os.replace(tmp, status_path)
    reactor.callLater(0.2, dump)

dump()
reactor.callLater(float(seconds), reactor.stop)
print("READY", flush=True)
reactor.run()
'''

BASE_CONFIG = f"""\
nameif ethernet0 outside security0
ip address outside {GW_IP} 255.255.255.0
access-list l2tp permit udp host {GW_IP} any eq 1701
crypto ipsec transform-set l2tp {{transforms}}
crypto ipsec transform-set l2tp mode {{mode}}
crypto ipsec security-association lifetime seconds 3600
crypto dynamic-map dyna 20 match address l2tp
crypto dynamic-map dyna 20 set transform-set l2tp
crypto map mymap 10 ipsec-isakmp dynamic dyna
crypto map mymap interface outside
isakmp enable outside
isakmp key s3cret address 0.0.0.0 netmask 0.0.0.0
"""

WINDOWS_POLICIES = """\
isakmp policy 10 authentication pre-share
isakmp policy 10 encryption aes-256
isakmp policy 10 hash sha
isakmp policy 10 group 20
isakmp policy 11 authentication pre-share
isakmp policy 11 encryption aes
isakmp policy 11 hash sha
isakmp policy 11 group 19
isakmp policy 12 authentication pre-share
isakmp policy 12 encryption aes-256
isakmp policy 12 hash sha
isakmp policy 12 group 14
isakmp policy 13 authentication pre-share
isakmp policy 13 encryption 3des
isakmp policy 13 hash sha
isakmp policy 13 group 14
isakmp policy 14 authentication pre-share
isakmp policy 14 encryption 3des
isakmp policy 14 hash sha
isakmp policy 14 group 2
isakmp policy 15 authentication rsa-sig
isakmp policy 15 encryption aes-256
isakmp policy 15 hash sha
isakmp policy 15 group 14
"""

SEED_POLICY = """\
isakmp policy 20 authentication rsa-sig
isakmp policy 20 encryption des
isakmp policy 20 hash md5
isakmp policy 20 group 1
isakmp policy 20 lifetime 86400
"""


def _run(*argv: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


@dataclass
class Lab:
    gw: str
    cl: str
    tmp: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if shutil.which("ip") is None:
        pytest.skip("iproute2 missing")
    tag = runid.RUN_ID
    gw, cl = f"pxike-gw-{tag}", f"pxike-cl-{tag}"
    veth_g, veth_c = f"pxk{tag}g", f"pxk{tag}c"
    try:
        for argv in (
            ("ip", "netns", "add", gw), ("ip", "netns", "add", cl),
            ("ip", "link", "add", veth_g, "netns", gw, "type", "veth", "peer", "name", veth_c,
             "netns", cl),
            ("ip", "-n", gw, "addr", "add", f"{GW_IP}/24", "dev", veth_g),
            ("ip", "-n", cl, "addr", "add", f"{CL_IP}/24", "dev", veth_c),
            ("ip", "-n", gw, "link", "set", "lo", "up"),
            ("ip", "-n", cl, "link", "set", "lo", "up"),
            ("ip", "-n", gw, "link", "set", veth_g, "up"),
            ("ip", "-n", cl, "link", "set", veth_c, "up"),
        ):
            result = _run(*argv)
            if result.returncode != 0:
                pytest.skip(f"cannot build namespaces: {' '.join(argv)}: {result.stderr}")
        for _ in range(50):  # bounded wait for the link
            if _run("ip", "netns", "exec", cl, "ping", "-c1", "-W1", GW_IP).returncode == 0:
                break
            time.sleep(0.1)
        yield Lab(gw, cl, tmp_path_factory.mktemp("ike-interop"))
    finally:
        _run("ip", "netns", "del", gw)
        _run("ip", "netns", "del", cl)


class Gateway:
    def __init__(self, lab: Lab, config: str, *, seconds: float = 60,
                 certdir: Path | None = None) -> None:
        self.dir = lab.tmp / f"gw-{time.monotonic_ns()}"
        self.dir.mkdir()
        (self.dir / "runner.py").write_text(RUNNER)
        (self.dir / "pix.cfg").write_text(config)
        self.status_path = self.dir / "status.json"
        self.log_path = self.dir / "gateway.log"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", lab.gw, sys.executable, str(self.dir / "runner.py"),
                 str(self.dir / "pix.cfg"), GW_IP, str(self.status_path), str(seconds),
                 str(certdir) if certdir else "-"],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 20
        while "READY" not in self.log() and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited: {self.log()}")
            time.sleep(0.1)
        assert "READY" in self.log(), self.log()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def status(self) -> dict[str, list[list[object]]]:
        return json.loads(self.status_path.read_text())  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def gateway_factory(lab: Lab) -> Iterator[list[Gateway]]:
    started: list[Gateway] = []
    yield started
    for gw in started:
        gw.stop()


def _ike_scan(lab: Lab, *args: str, timeout: float = 30) -> str:
    result = _run("ip", "netns", "exec", lab.cl, "ike-scan", "-M", *args, GW_IP, timeout=timeout)
    return result.stdout + result.stderr


needs_ike_scan = pytest.mark.skipif(shutil.which("ike-scan") is None, reason="ike-scan missing")


@needs_ike_scan
@pytest.mark.parametrize("transform", ["7/256,2,1,20", "7/128,2,1,19", "7/256,2,1,14",
                                       "5,2,1,14", "5,2,1,2"])
def test_ike_scan_windows_transforms(lab: Lab, gateway_factory: list[Gateway],
                                     transform: str) -> None:
    config = BASE_CONFIG.format(transforms="esp-aes-256 esp-sha-hmac", mode="transport")
    gw = Gateway(lab, config + WINDOWS_POLICIES, seconds=30)
    gateway_factory.append(gw)
    out = _ike_scan(lab, f"--trans={transform}")
    assert "Main Mode Handshake returned" in out, out
    assert "1 returned handshake" in out


@needs_ike_scan
def test_ike_scan_seed_policy_and_refusals(lab: Lab, gateway_factory: list[Gateway]) -> None:
    config = BASE_CONFIG.format(transforms="esp-des esp-md5-hmac", mode="transport")
    gw = Gateway(lab, config + SEED_POLICY, seconds=30)
    gateway_factory.append(gw)
    out = _ike_scan(lab, "--trans=1,1,3,1")
    assert "Main Mode Handshake returned" in out, out
    assert "Enc=DES Hash=MD5 Auth=RSA_Sig Group=1:modp768" in out
    refused = _ike_scan(lab, "--trans=7/256,2,1,20")
    assert "Notify message 14 (NO-PROPOSAL-CHOSEN)" in refused, refused
    assert "Encryption algorithm offered does not match policy!" in gw.log()
    assert "transform 1 (AES-CBC-256/SHA/group 20/pre-share) against priority 20 policy" \
        in gw.log()


@needs_ike_scan
def test_ike_scan_backoff_pattern_is_the_pix(lab: Lab, gateway_factory: list[Gateway]) -> None:
    config = BASE_CONFIG.format(transforms="esp-aes-256 esp-sha-hmac", mode="transport")
    gw = Gateway(lab, config + WINDOWS_POLICIES, seconds=60)
    gateway_factory.append(gw)
    out = _ike_scan(lab, "--trans=7/256,2,1,20", "--showbackoff=8", timeout=60)
    deltas = [float(line.split()[-1]) for line in out.splitlines()
              if line.startswith(GW_IP) and len(line.split()) == 4]
    assert len(deltas) == 6, out
    assert deltas[0] == 0.0
    assert all(abs(d - 5.0) < 0.5 for d in deltas[1:]), deltas
    assert "Implementation guess: Cisco PIX 6.3" in out


# --- strongSwan charon as IKEv1 initiator -------------------------------------------------------

CHARON_CONF = """\
charon {{
  load = random nonce aes sha1 sha2 md5 hmac pem pkcs1 pkcs8 x509 pubkey revocation constraints \
openssl kernel-libipsec kernel-netlink socket-default vici
  plugindir = /usr/lib/ipsec/plugins
  install_virtual_ip = no
  retransmit_tries = 2
  fragment_size = {fragment_size}
  filelog {{
    log {{ path = {dir}/charon.log
          default = 1
          ike = 2
          flush_line = yes }}
  }}
  plugins {{
    kernel-libipsec {{ allow_peer_ts = yes }}
    kernel-netlink {{ fwmark = !0x42 }}
    socket-default {{ fwmark = 0x42 }}
    vici {{ socket = unix://{dir}/charon.vici }}
    openssl {{ load_legacy = yes }}
  }}
}}
"""

SWANCTL_CONF = """\
connections {{
  l2tp {{
    version = 1
    aggressive = no
    dpd_delay = {dpd}
    fragmentation = {fragmentation}
    local_addrs = {cl}
    remote_addrs = {gw}
    proposals = aes256-sha1-ecp384,aes128-sha1-ecp256,aes256-sha1-modp2048,3des-sha1-modp2048,\
3des-sha1-modp1024
    local {{ {local}
    }}
    remote {{ {remote}
    }}
    children {{
      l2tp {{
        mode = {mode}
        local_ts = dynamic[udp/1701]
        remote_ts = dynamic[udp/1701]
        esp_proposals = aes256-sha1,3des-sha1
      }}
    }}
  }}
}}
secrets {{ {secrets} }}
"""


def _cert(subject: str, key: rsa.RSAPrivateKey, issuer: str, issuer_key: rsa.RSAPrivateKey, *,
          ca: bool, san: str | None = None) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                          False), critical=True)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(san))]),
                            critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _make_pki(d: Path) -> None:
    pem, der = serialization.Encoding.PEM, serialization.Encoding.DER
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = _cert("pixgw interop CA", ca_key, "pixgw interop CA", ca_key, ca=True)
    for who, ip in (("gw", GW_IP), ("cl", CL_IP)):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = _cert(f"{who}.example", key, "pixgw interop CA", ca_key, ca=False, san=ip)
        (d / f"{who}.pem").write_bytes(cert.public_bytes(pem))
        (d / f"{who}.der").write_bytes(cert.public_bytes(der))
        (d / f"{who}.key.pem").write_bytes(key.private_bytes(
            pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
        (d / f"{who}.key.der").write_bytes(key.private_bytes(
            der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (d / "ca.pem").write_bytes(ca.public_bytes(pem))
    (d / "ca.der").write_bytes(ca.public_bytes(der))


def _charon_initiate(lab: Lab, d: Path, gw: Gateway, *, certs: bool, mode: str = "tunnel",
                     dpd: str = "0s", linger: float = 0.0, client_ip: str = CL_IP,
                     peer_row: str = CL_IP, fragmentation: str = "yes",
                     fragment_size: int = 1280) -> tuple[str, list[list[object]]]:
    """swanctl --initiate's output and the gateway's ISAKMP SAs while charon still runs."""
    if not CHARON.exists():
        pytest.skip("strongswan-charon missing")
    for sub in ("private", "x509", "x509ca"):
        (d / sub).mkdir(exist_ok=True)
    if certs:
        shutil.copy(d / "cl.key.pem", d / "private" / "cl.key.pem")
        local = f"auth = pubkey\n      certs = {d}/cl.pem\n      id = {CL_IP}"
        remote = f"auth = pubkey\n      cacerts = {d}/ca.pem\n      id = {GW_IP}"
        secrets = ""
    else:
        local = f"auth = psk\n      id = {client_ip}"
        remote = f"auth = psk\n      id = {GW_IP}"
        secrets = 'ike-1 { secret = "s3cret" }'
    (d / "strongswan.conf").write_text(CHARON_CONF.format(dir=d, fragment_size=fragment_size))
    (d / "swanctl.conf").write_text(SWANCTL_CONF.format(cl=client_ip, gw=GW_IP, local=local,
                                                        remote=remote, secrets=secrets,
                                                        mode=mode, dpd=dpd,
                                                        fragmentation=fragmentation))
    vici = f"unix://{d}/charon.vici"
    with (d / "charon.stdout").open("w") as out:
        charon = subprocess.Popen(
            ["ip", "netns", "exec", lab.cl, "sh", "-c",
             f"mount -t tmpfs -o mode=755 tmpfs /run && STRONGSWAN_CONF={d}/strongswan.conf "
             f"exec {CHARON}"], stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            if (d / "charon.vici").exists():
                break
            time.sleep(0.1)
        load = _run(SWANCTL, "--load-all", "--noprompt", "--uri", vici, "--file",
                    str(d / "swanctl.conf"))
        assert load.returncode == 0, load.stdout + load.stderr
        result = _run(SWANCTL, "--initiate", "--uri", vici, "--ike", "l2tp", "--child", "l2tp",
                      "--timeout", "20", timeout=40)
        rows = _wait_qm_idle(gw, peer_row)
        time.sleep(linger)
        return result.stdout + result.stderr, rows
    finally:
        charon.send_signal(signal.SIGTERM)
        try:
            charon.wait(10)
        except subprocess.TimeoutExpired:
            charon.kill()
            charon.wait(5)


def _wait_qm_idle(gw: Gateway, peer: str = CL_IP) -> list[list[object]]:
    deadline = time.monotonic() + 5
    rows: list[list[object]] = []
    while time.monotonic() < deadline:
        rows = gw.status()["isakmp"]
        if rows and rows[0][1] == peer and rows[0][2] == "QM_IDLE" and rows[0][4] == 1:
            break
        time.sleep(0.1)
    return rows


def _wait_for(gw: Gateway, text: str) -> None:
    deadline = time.monotonic() + 5
    while text not in gw.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert text in gw.log(), gw.log()


def test_strongswan_psk_main_and_quick_mode(lab: Lab, gateway_factory: list[Gateway]) -> None:
    config = BASE_CONFIG.format(transforms="esp-aes-256 esp-sha-hmac", mode="tunnel")
    gw = Gateway(lab, config + WINDOWS_POLICIES, seconds=60)
    gateway_factory.append(gw)
    d = lab.tmp / "charon-psk"
    d.mkdir()
    out, rows = _charon_initiate(lab, d, gw, certs=False)
    assert "initiate completed successfully" in out, out + gw.log()
    assert "CHILD_SA l2tp{1} established" in out
    assert rows == [[GW_IP, CL_IP, "QM_IDLE", 0, 1]]
    _wait_for(gw, "EVENT IkeSaDeleted")  # charon's Delete on shutdown
    assert "EVENT ChildSaEstablished" in gw.log()
    assert "%PIX-6-602201: ISAKMP Phase 1 SA created" in gw.log()


def test_strongswan_certificates_main_and_quick_mode(lab: Lab,
                                                     gateway_factory: list[Gateway]) -> None:
    d = lab.tmp / "charon-cert"
    d.mkdir()
    _make_pki(d)
    config = BASE_CONFIG.format(transforms="esp-aes-256 esp-sha-hmac", mode="tunnel")
    policies = WINDOWS_POLICIES.replace("isakmp policy 15", "isakmp policy 5")
    gw = Gateway(lab, config + policies, seconds=60, certdir=d)
    gateway_factory.append(gw)
    out, rows = _charon_initiate(lab, d, gw, certs=True)
    assert "initiate completed successfully" in out, out + gw.log()
    assert rows == [[GW_IP, CL_IP, "QM_IDLE", 0, 1]]
    assert "authentication=rsa-sig" in gw.log()


def test_strongswan_transport_mode_udp_encapsulated_answer(lab: Lab,
                                                          gateway_factory: list[Gateway]) -> None:
    """charon's kernel-libipsec cannot install transport-mode SAs, so it stops after our quick-
    mode answer; what is proven is that it parses and accepts that answer: UDP-encapsulated
    transport (mode 4), both NAT-OA payloads, RESPONDER-LIFETIME."""
    config = BASE_CONFIG.format(transforms="esp-aes-256 esp-sha-hmac", mode="transport")
    gw = Gateway(lab, config + WINDOWS_POLICIES, seconds=60)
    gateway_factory.append(gw)
    d = lab.tmp / "charon-transport"
    d.mkdir()
    out, _ = _charon_initiate(lab, d, gw, certs=False, mode="transport")
    assert "parsed QUICK_MODE response" in out and "NAT-OA NAT-OA" in out, out
    assert "selected proposal: ESP:AES_CBC_256/HMAC_SHA1_96" in out
    assert "ISAKMP:      encaps is 4" in gw.log()


def test_strongswan_dpd_requests_acknowledged(lab: Lab, gateway_factory: list[Gateway]) -> None:
    """charon probes every second (RFC 3706 R-U-THERE); it must verify our encrypted, hashed
    R-U-THERE-ACKs and keep the SA."""
    config = BASE_CONFIG.format(transforms="esp-aes-256 esp-sha-hmac", mode="tunnel")
    gw = Gateway(lab, config + WINDOWS_POLICIES, seconds=60)
    gateway_factory.append(gw)
    d = lab.tmp / "charon-dpd"
    d.mkdir()
    out, rows = _charon_initiate(lab, d, gw, certs=False, dpd="1s", linger=3.5)
    assert "initiate completed successfully" in out, out + gw.log()
    assert rows == [[GW_IP, CL_IP, "QM_IDLE", 0, 1]]
    log = (d / "charon.log").read_text()
    acks = [line for line in log.splitlines()
            if "parsed INFORMATIONAL_V1 request" in line and "N(DPD_ACK)" in line]
    assert len(acks) >= 2, log
    assert "DPD check timed out" not in log and "giving up" not in log


NAT_LAN_CLIENT, NAT_LAN_ROUTER, NAT_WAN_ROUTER = "198.51.100.2", "198.51.100.1", "192.0.2.254"


@pytest.fixture(scope="module")
def nat_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """gateway 192.0.2.1 -- 192.0.2.254 router (MASQUERADE) 198.51.100.1 -- client .2"""
    if shutil.which("iptables") is None:
        pytest.skip("iptables missing")
    tag = runid.RUN_ID
    gw, rt, cl = f"pxnat-gw-{tag}", f"pxnat-rt-{tag}", f"pxnat-cl-{tag}"
    try:
        steps: list[tuple[str, ...]] = []
        for ns in (gw, rt, cl):
            steps += [("ip", "netns", "add", ns), ("ip", "-n", ns, "link", "set", "lo", "up")]
        steps += [
            ("ip", "link", "add", f"pxn{tag}g", "netns", gw, "type", "veth", "peer", "name",
             f"pxn{tag}w", "netns", rt),
            ("ip", "link", "add", f"pxn{tag}c", "netns", cl, "type", "veth", "peer", "name",
             f"pxn{tag}l", "netns", rt),
            ("ip", "-n", gw, "addr", "add", f"{GW_IP}/24", "dev", f"pxn{tag}g"),
            ("ip", "-n", rt, "addr", "add", f"{NAT_WAN_ROUTER}/24", "dev", f"pxn{tag}w"),
            ("ip", "-n", rt, "addr", "add", f"{NAT_LAN_ROUTER}/24", "dev", f"pxn{tag}l"),
            ("ip", "-n", cl, "addr", "add", f"{NAT_LAN_CLIENT}/24", "dev", f"pxn{tag}c"),
            ("ip", "-n", gw, "link", "set", f"pxn{tag}g", "up"),
            ("ip", "-n", rt, "link", "set", f"pxn{tag}w", "up"),
            ("ip", "-n", rt, "link", "set", f"pxn{tag}l", "up"),
            ("ip", "-n", cl, "link", "set", f"pxn{tag}c", "up"),
            ("ip", "-n", cl, "route", "add", "default", "via", NAT_LAN_ROUTER),
            ("ip", "netns", "exec", rt, "sysctl", "-qw", "net.ipv4.ip_forward=1"),
            ("ip", "netns", "exec", rt, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o",
             f"pxn{tag}w", "-j", "MASQUERADE"),
        ]
        for argv in steps:
            result = _run(*argv)
            if result.returncode != 0:
                pytest.skip(f"cannot build the NAT lab: {' '.join(argv)}: {result.stderr}")
        for _ in range(50):
            if _run("ip", "netns", "exec", cl, "ping", "-c1", "-W1", GW_IP).returncode == 0:
                break
            time.sleep(0.1)
        yield Lab(gw, cl, tmp_path_factory.mktemp("ike-nat"))
    finally:
        for ns in (gw, rt, cl):
            _run("ip", "netns", "del", ns)


def test_strongswan_through_a_real_nat(nat_lab: Lab, gateway_factory: list[Gateway]) -> None:
    """A masquerading router between client and gateway: NAT detected from the NAT-D hashes,
    the float to 4500, UDP-encapsulated tunnel mode (3), the SA under the router's address."""
    config = BASE_CONFIG.format(transforms="esp-aes-256 esp-sha-hmac", mode="tunnel")
    gw = Gateway(nat_lab, config + WINDOWS_POLICIES, seconds=60)
    gateway_factory.append(gw)
    d = nat_lab.tmp / "charon-nat"
    d.mkdir()
    out, rows = _charon_initiate(nat_lab, d, gw, certs=False, client_ip=NAT_LAN_CLIENT,
                                 peer_row=NAT_WAN_ROUTER)
    assert "initiate completed successfully" in out, out + gw.log()
    assert rows == [[GW_IP, NAT_WAN_ROUTER, "QM_IDLE", 0, 1]]
    log = gw.log()
    assert "NAT detected (peer behind NAT, RFC 3947)" in log
    assert f"local {GW_IP}/4500 (responder), remote {NAT_WAN_ROUTER}/" in log
    assert "ISAKMP:      encaps is 3" in log


def test_strongswan_certificates_in_ike_fragments(lab: Lab,
                                                 gateway_factory: list[Gateway]) -> None:
    """charon forced to fragment (400-byte fragments): its messages, the certificate-bearing
    message 5 among them, come in pieces and are put back together (our own fragmenting is
    covered back to back: our message 6 here fits one datagram)."""
    d = lab.tmp / "charon-frag"
    d.mkdir()
    _make_pki(d)
    config = BASE_CONFIG.format(transforms="esp-aes-256 esp-sha-hmac", mode="tunnel")
    policies = WINDOWS_POLICIES.replace("isakmp policy 15", "isakmp policy 5")
    gw = Gateway(lab, config + policies, seconds=60, certdir=d)
    gateway_factory.append(gw)
    out, rows = _charon_initiate(lab, d, gw, certs=True, fragmentation="force",
                                 fragment_size=400)
    assert "initiate completed successfully" in out, out + gw.log()
    assert rows == [[GW_IP, CL_IP, "QM_IDLE", 0, 1]]
    assert "fragments of 192.0.2.2" in gw.log()
