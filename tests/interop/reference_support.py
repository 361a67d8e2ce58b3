"""Support for the reference scenario test (``test_reference.py``): the PIX reference
running-config mapped to documentation addresses, FreeRADIUS (RFC 2865/2866) and the NDES-style
SCEP server (RFC 8894) run inside the inside-host namespace, and the client's certificate from
the SCEP server's CA.

Test infrastructure; no RFC is implemented here. Everything started here is stopped by pid.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.interop.ndes import ku, make_cert
from tests.interop.qemu.client import ClientCert
from tests.interop.qemu.netns import BackgroundProcess, Namespace
from tests.interop.servers import FREERADIUS, RADIUS_SECRET, FreeRadius

REPO = Path(__file__).resolve().parents[2]
OUTSIDE, INSIDE_GW, INSIDE_HOST, CLIENT = "192.0.2.1", "203.0.113.1", "203.0.113.2", "192.0.2.2"
RADIUS_USER, RADIUS_PASSWORD = "vpnclient", "vpnclient-pw"
CHALLENGE = "sjvpn-challenge"

# reference address -> documentation address (order matters: longest first)
ADDRESS_MAP = (
    ("171.68.9.149", INSIDE_HOST),  # the CA (NDES) -> the inside host
    ("171.68.9.57", OUTSIDE),
    ("171.68.9.1 ", "192.0.2.254 "),  # the default route's next hop
    ("171.68.9.0", "192.0.2.0"),
    ("20.1.1.", "203.0.113."),
    ("50.1.1.", "198.51.100."),
)


def mapped_reference_config(
    auth_port: int, acct_port: int, extra_ppp: tuple[str, ...] = (), identity: str | None = None
) -> str:
    """``etc/reference.conf`` with documentation addresses, the FreeRADIUS secret and ports;
    with *identity*, an ``isakmp identity`` line after ``isakmp enable outside`` (the reference
    has none: the PIX's default, ``address``)."""
    out: list[str] = []
    for line in (REPO / "etc" / "reference.conf").read_text().splitlines():
        for old, new in ADDRESS_MAP:
            line = line.replace(old, new)
        if line.startswith("aaa-server RADIUS (inside) host"):
            line = line.replace(" cisco ", f" {RADIUS_SECRET} ")
            out.append(line)
            out.append(f"aaa-server radius-authport {auth_port}")
            out.append(f"aaa-server radius-acctport {acct_port}")
            continue
        out.append(line)
        if line == "isakmp enable outside" and identity is not None:
            out.append(f"isakmp identity {identity}")
        if line == "vpdn group l2tpipsec ppp authentication mschap":
            out += [f"vpdn group l2tpipsec ppp authentication {a}" for a in extra_ppp]
    return "\n".join(out) + "\n"


@dataclass
class InsideFreeRadius(FreeRadius):
    """The test FreeRADIUS listening on the inside host's address in its namespace, the gateway's
    inside address its one client, plus the reference's user (cleartext: CHAP and MS-CHAP)."""

    netns: Namespace | None = None
    listen: str = INSIDE_HOST
    nas: str = INSIDE_GW

    def write_config(self) -> None:
        super().write_config()
        users = self.raddb / "users"
        users.write_text(
            f'{RADIUS_USER}\tCleartext-Password := "{RADIUS_PASSWORD}"\n'
            "\tService-Type = Framed-User,\n\tFramed-Protocol = PPP\n\n" + users.read_text()
        )
        conf = self.raddb / "radiusd.conf"
        text = conf.read_text()
        text = text.replace(
            "client pixgw {\n\tipaddr = 127.0.0.1", f"client pixgw {{\n\tipaddr = {self.nas}"
        )
        conf.write_text(text.replace("ipaddr = 127.0.0.1", f"ipaddr = {self.listen}"))

    def start(self) -> None:
        assert self.netns is not None
        if not (self.raddb / "radiusd.conf").exists():
            self.write_config()
        offset = self.log.stat().st_size if self.log.exists() else 0
        argv = [FREERADIUS, "-f", "-d", str(self.raddb), "-n", "radiusd", "-l", str(self.log)]
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", self.netns.name, *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.log.exists() and b"Ready to process requests" in self.log.read_bytes()[offset:]:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"freeradius exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("freeradius did not become ready in 15 s")


class NdesProcess:
    """``tests/interop/reference_ndes.py`` in ``netns`` on ``bind``:80; ``approve()`` grants."""

    def __init__(self, netns: Namespace, workdir: Path, bind: str = INSIDE_HOST) -> None:
        self.netns, self.dir = netns, workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.process: BackgroundProcess = netns.spawn(
            [
                sys.executable,
                "-m",
                "tests.interop.reference_ndes",
                "--dir",
                str(workdir),
                "--bind",
                bind,
                "--port",
                "80",
                "--challenge",
                CHALLENGE,
            ],
            log_name="reference-ndes.log",
            env={"PYTHONPATH": str(REPO)},
        )
        deadline = time.monotonic() + 60
        while not (workdir / "ready").exists():
            if time.monotonic() > deadline or not self.process.running():
                out = self.process.output()
                self.stop()
                raise RuntimeError(f"the NDES emulator did not start:\n{out[-3000:]}")
            time.sleep(0.1)

    def approve(self) -> None:
        (self.dir / "approve").write_text("approved\n")

    def operations(self) -> list[str]:
        log = self.dir / "operations.log"
        return log.read_text().split() if log.exists() else []

    def ca(self) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        cert = x509.load_pem_x509_certificate((self.dir / "ca-cert.pem").read_bytes())
        key = serialization.load_pem_private_key((self.dir / "ca-key.pem").read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return cert, key

    def stop(self) -> None:
        self.netns.stop(self.process)


def client_certificate(ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey) -> ClientCert:
    """A Windows-2000-like machine certificate from the SCEP server's CA (2048-bit RSA)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sjvpn"),
            x509.NameAttribute(NameOID.COMMON_NAME, "win2000.sjvpn.com"),
        ]
    )
    cert = make_cert(
        subject,
        key,
        ca_cert.subject,
        ca_key,
        0x0347DC820000000000F0,
        key_usage=ku(sign=True, encipher=True),
        start=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
        san=[x509.DNSName("win2000.sjvpn.com")],
    )
    pem = serialization.Encoding.PEM
    return ClientCert(
        cert_pem=cert.public_bytes(pem),
        key_pem=key.private_bytes(
            pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ),
        ca_pem=ca_cert.public_bytes(pem),
    )
