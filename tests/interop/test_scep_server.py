"""SCEP interop: pixgw's client (pixgw.pki.mscep, real treq over TCP on 127.0.0.1) against the
REAL micromdm ``scepserver`` (Debian ``scep``; CA mode: no RA certificates, no PENDING), started
by the test in a private network namespace with a socat relay on 127.0.0.1:28080 (scepserver
binds only ``:PORT``), and against the NDES emulator served over real HTTP for RA mode with
pending-then-granted (approved between polls), plus the errors: wrong challenge, RA-vs-CA mode
mismatch, unreachable CA.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.internet import reactor
from twisted.trial import unittest
from twisted.web.server import Site

from pixgw.cli.ca import render_ca_certificates
from pixgw.config.model import Ca, CaConfigure, CaIdentity
from pixgw.pki import pkcs7, scep
from pixgw.pki.commands import CaExec
from pixgw.pki.interfaces import CaError, EnrollmentRequest
from pixgw.pki.mscep import CONNECTION_FAILED, ScepCertificateAuthority
from tests import runid
from tests.interop.ndes import NdesEmulator, NdesResource, cached_key

pytestmark = [pytest.mark.root, pytest.mark.interop]
# Time bound (120 s): scepserver/certmonger: a few seconds.
pytestmark.append(pytest.mark.timeout(120))

PORT = 28080
URL = f"http://127.0.0.1:{PORT}/scep"
CHALLENGE = "pixgw-scep-challenge"
CAPASS = "pixgw-ca-pass"


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespace)"
    for tool in ("scepserver", "socat", "openssl", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/apt-packages.txt: scep, socat)"
    return None


class MicromdmScepserver:
    """scepserver in netns ``pixgw-scep-<pid>`` with only ``lo``, relayed to 127.0.0.1:PORT."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pixgw-scep-"))
        self.netns = runid.name("pxscep")
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        depot = self.dir / "depot"
        depot.mkdir()
        subprocess.run(
            ["openssl", "genrsa", "-traditional", "-aes256", "-passout", f"pass:{CAPASS}",
             "-out", str(depot / "ca.key"), "2048"], check=True, capture_output=True,
        )
        subprocess.run(
            ["openssl", "req", "-x509", "-new", "-key", str(depot / "ca.key"), "-passin",
             f"pass:{CAPASS}", "-sha256", "-days", "30", "-subj", "/C=XX/O=pixgw SCEP CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign,cRLSign",
             "-out", str(depot / "ca.pem")], check=True, capture_output=True,
        )
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
        log = (self.dir / "scepserver.log").open("wb")
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "scepserver", "-depot", str(depot), "-capass",
             CAPASS, "-port", "8080", "-challenge", CHALLENGE, "-allowrenew", "0",
             "-crtvalid", "30", "-debug"], stdout=log, stderr=subprocess.STDOUT,
        ))
        self.procs.append(subprocess.Popen(
            ["socat", f"TCP-LISTEN:{PORT},bind=127.0.0.1,reuseaddr,fork",
             f"EXEC:ip netns exec {self.netns} socat STDIO TCP\\:127.0.0.1\\:8080"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # bounded wait for the server behind the relay
            out = subprocess.run(
                ["ip", "netns", "exec", self.netns, "bash", "-c",
                 "exec 3<>/dev/tcp/127.0.0.1/8080 && echo up"],
                capture_output=True, check=False,
            )
            if b"up" in out.stdout and _port_open(PORT):
                return
            time.sleep(0.05)
        raise RuntimeError("scepserver did not come up: " + self.log())

    def log(self) -> str:
        try:
            return (self.dir / "scepserver.log").read_text()[-2000:]
        except OSError:
            return ""

    @property
    def ca_cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.dir / "depot" / "ca.pem").read_bytes())

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        subprocess.run(["ip", "netns", "del", self.netns], check=False, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _request(challenge: str, cn: str = "pixgw-gw.example.com") -> EnrollmentRequest:
    key = cached_key(20)
    csr = scep.build_csr(key, cn, challenge)
    return EnrollmentRequest(key, csr, x509.load_der_x509_csr(csr).subject)


class ScepserverTests(unittest.TestCase):
    server: MicromdmScepserver

    @classmethod
    def setUpClass(cls) -> None:
        why = _missing()
        if why:
            raise unittest.SkipTest(why)
        cls.server = MicromdmScepserver()
        try:
            cls.server.start()
        except Exception:
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def _ca(self, mode: str = "ca") -> ScepCertificateAuthority:
        return ScepCertificateAuthority("micromdm", URL, mode, 1.0, 3, timeout=10)

    async def test_get_ca_cert_and_fingerprint(self) -> None:
        cas = await self._ca().get_ca_certificates()
        assert cas.ca == self.server.ca_cert and not cas.ra_mode
        assert scep.ca_fingerprint(cas.ca) == scep.ca_fingerprint(self.server.ca_cert)

    async def test_enroll_granted_des_answer(self) -> None:
        ca = self._ca()
        await ca.get_ca_caps()
        assert ca.caps is not None and ca.caps.post
        certs = await ca.enroll(_request(CHALLENGE))
        cert = certs[0]
        cert.verify_directly_issued_by(self.server.ca_cert)
        pub = cached_key(20).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) == pub

    async def test_ca_commands_then_show_crypto_ca_certificates(self) -> None:
        """The "checked by" of issue 7: ``ca authenticate`` + ``ca enroll`` against the real
        server give our certificate in ``show crypto ca certificates``."""
        conf = Ca(
            identities=(CaIdentity("micromdm", f"127.0.0.1:{PORT}", "/scep"),),
            configures=(CaConfigure("micromdm", "ca", 1, 3, True),),
            store=str(self.server.dir / "store"),
        )
        pki = CaExec(conf, "pixgw-gw.example.com", generate_key=lambda bits: cached_key(21))
        pki.generate_rsa_key(2048)
        lines = await pki.authenticate("micromdm", scep.ca_fingerprint(self.server.ca_cert))
        assert lines[-1] == f"Fingerprint: {scep.ca_fingerprint(self.server.ca_cert)}"
        out = await pki.enroll("micromdm", CHALLENGE)
        assert out[-1] == "The certificate has been granted by CA!", out
        text = render_ca_certificates(pki.snapshot())
        assert text.startswith("Certificate\n  Status: Available\n")
        assert "    Name: pixgw-gw.example.com\n" in text
        assert "\nCA Certificate\n  Status: Available\n" in text
        assert "RA " not in text
        assert pki.save_all() == []

    async def test_wrong_challenge_refused(self) -> None:
        with pytest.raises(CaError) as info:
            await self._ca().enroll(_request("wrong-challenge", "wrong.example.com"))
        assert info.value.lines == (
            "%Error: the CA refused the certificate request: badRequest",
        )

    async def test_ra_mode_against_a_ca_mode_server(self) -> None:
        with pytest.raises(CaError) as info:
            await self._ca("ra").get_ca_certificates()
        assert "failed to process RA certiifcate" in info.value.lines[-1]


class NdesOverHttpTests(unittest.TestCase):
    def setUp(self) -> None:
        self.ndes = NdesEmulator(pending=True)
        self.port = reactor.listenTCP(0, Site(NdesResource(self.ndes)), interface="127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port.getHost().port}/certsrv/mscep/mscep.dll"

    def tearDown(self) -> object:
        return self.port.stopListening()

    async def test_pending_then_granted_over_http(self) -> None:
        ca = ScepCertificateAuthority("sjvpn", self.url, "ra", 0.2, 20, timeout=10)
        reactor.callLater(0.5, self.ndes.approve_all)
        certs = await ca.enroll(_request(self.ndes.challenge))
        assert certs[0] == self.ndes.issued[0]
        assert 1 <= self.ndes.operations.count("GetCertInitial") <= 6

    async def test_ca_mode_against_ra_server(self) -> None:
        ca = ScepCertificateAuthority("sjvpn", self.url, "ca", 0.2, 2, timeout=10)
        with pytest.raises(CaError) as info:
            await ca.get_ca_certificates()
        assert info.value.lines[-1] == (
            "CRYPTO_PKI: status = 65535: failed to process RA certiifcate"
        )

    async def test_unreachable_ca(self) -> None:
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        ca = ScepCertificateAuthority(
            "sjvpn", f"http://127.0.0.1:{port}/certsrv/mscep/mscep.dll", "ra", 0.2, 2, timeout=5
        )
        with pytest.raises(CaError) as info:
            await ca.get_ca_certificates()
        assert info.value.lines == (CONNECTION_FAILED,)
        assert CONNECTION_FAILED == "%Error in connection to Certificate Authority: status = FAIL"


class NdesEmulatorWithRealClientTests(unittest.TestCase):
    """The emulator itself checked by a real SCEP client: micromdm ``scepclient`` (Debian
    ``scep``) reads its CA + RA GetCACert answer, envelopes to the RA encryption certificate and
    accepts the RA-signed CertRep."""

    def setUp(self) -> None:
        if shutil.which("scepclient") is None:
            raise unittest.SkipTest("scepclient is not installed (apt package scep)")
        self.ndes = NdesEmulator(challenge="emulator-challenge")
        self.port = reactor.listenTCP(0, Site(NdesResource(self.ndes)), interface="127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port.getHost().port}/certsrv/mscep/mscep.dll"
        self.dir = Path(tempfile.mkdtemp(prefix="pixgw-scepclient-"))

    def tearDown(self) -> object:
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.port.stopListening()

    async def _scepclient(self, name: str, challenge: str) -> tuple[bytes, int]:
        from twisted.internet.utils import getProcessOutputAndValue

        work = self.dir / name  # scepclient re-sends ./csr.pem: one directory per request
        work.mkdir()
        out, err, code = await getProcessOutputAndValue(
            shutil.which("scepclient") or "scepclient",
            ["-server-url", self.url, "-private-key", "key.pem", "-certificate", "cert.pem",
             "-cn", f"{name}.example.com", "-challenge", challenge, "-keySize", "2048"],
            path=str(work), env={"PATH": os.environ.get("PATH", "/usr/bin")},
        )
        return out + err, code

    async def test_scepclient_enrolls_in_ra_mode(self) -> None:
        output, code = await self._scepclient("good", "emulator-challenge")
        assert code == 0, output
        cert = x509.load_pem_x509_certificate((self.dir / "good" / "cert.pem").read_bytes())
        cert.verify_directly_issued_by(self.ndes.ca_cert)
        assert cert == self.ndes.issued[0]
        assert "PKCSReq" in self.ndes.operations and "GetCACert" in self.ndes.operations

    async def test_scepclient_wrong_challenge_fails_with_bad_request(self) -> None:
        output, code = await self._scepclient("bad", "nope")
        assert code != 0 and not self.ndes.issued
        assert b"badRequest" in output or b"FAILURE" in output.upper(), output


SCEP_SUBMIT = "/usr/lib/certmonger/scep-submit"


class NdesEmulatorWithCertmongerTests(unittest.TestCase):
    """The emulator's RA-mode answers and its PENDING -> approval -> SUCCESS flow judged by a
    real client's parser and signature check: certmonger's ``scep-submit`` helper (it verifies
    the RA-signed CertRep against the CA given with -N; exit 1 = pending, 0 = issued, 2 =
    refused). The pkiMessages it carries are ours (checked by openssl in the unit tests)."""

    def setUp(self) -> None:
        if not os.path.exists(SCEP_SUBMIT):
            raise unittest.SkipTest("certmonger is not installed (scripts/apt-packages.txt)")
        self.ndes = NdesEmulator(pending=True)
        self.port = reactor.listenTCP(0, Site(NdesResource(self.ndes)), interface="127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port.getHost().port}/certsrv/mscep/mscep.dll"
        self.dir = Path(tempfile.mkdtemp(prefix="pixgw-certmonger-"))
        pem = serialization.Encoding.PEM
        (self.dir / "ra.pem").write_bytes(self.ndes.ra_enc_cert.public_bytes(pem))
        (self.dir / "ca.pem").write_bytes(self.ndes.ca_cert.public_bytes(pem))

    def tearDown(self) -> object:
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.port.stopListening()

    async def _submit(self, *args: str) -> tuple[bytes, int]:
        from twisted.internet.utils import getProcessOutputAndValue

        out, err, code = await getProcessOutputAndValue(
            SCEP_SUBMIT, ["-u", self.url, *args], path=str(self.dir), env={}
        )
        return out + err, code

    async def test_getcacert_pending_then_granted(self) -> None:
        import base64

        output, code = await self._submit("-C")
        assert code == 0 and output.count(b"BEGIN CERTIFICATE") == 3, output
        key = cached_key(22)
        csr = scep.build_csr(key, "certmonger.example.com", self.ndes.challenge)
        subject = x509.load_der_x509_csr(csr).subject
        signer = scep.build_self_signed(key, subject, 5, time.time())
        cas = scep.parse_ca_certificates(*self.ndes.get_ca_cert())
        caps = scep.parse_ca_caps(self.ndes.caps)
        req = scep.build_pkcs_req(csr, key, signer, cas, caps, os.urandom)
        (self.dir / "req.b64").write_bytes(base64.b64encode(req.message))
        output, code = await self._submit("-r", "ra.pem", "-N", "ca.pem", "-p", "req.b64")
        assert code == 1, output  # CM_SUBMIT_STATUS_WAIT: pending
        poll = scep.build_cert_poll(
            key, signer, subject, cas, caps, req.transaction_id, os.urandom
        )
        (self.dir / "poll.b64").write_bytes(base64.b64encode(poll.message))
        output, code = await self._submit("-r", "ra.pem", "-N", "ca.pem", "-g", "poll.b64")
        assert code == 1, output  # still pending: nobody approved
        self.ndes.approve_all()
        output, code = await self._submit("-r", "ra.pem", "-N", "ca.pem", "-g", "poll.b64")
        assert code == 0 and b"BEGIN PKCS7" in output, output
        # what certmonger got is the envelope holding our certificate
        inner = pkcs7.open_envelope(_pem_body(output, b"PKCS7"), key)
        assert pkcs7.parse_certs_only(inner)[0] == self.ndes.issued[0]
        wrong = scep.build_cert_poll(key, signer, subject, cas, caps, "0" * 32, os.urandom)
        (self.dir / "wrong.b64").write_bytes(base64.b64encode(wrong.message))
        output, code = await self._submit("-r", "ra.pem", "-N", "ca.pem", "-g", "wrong.b64")
        assert code == 2 and b'failure code "4"' in output, output  # badCertId


def _pem_body(text: bytes, label: bytes) -> bytes:
    import base64

    begin = text.index(b"-----BEGIN " + label + b"-----") + len(label) + 16
    end = text.index(b"-----END " + label + b"-----")
    return base64.b64decode(b"".join(text[begin:end].split()))
