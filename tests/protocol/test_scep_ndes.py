"""SCEP client (pixgw.pki.mscep over pixgw.pki.scep) against the NDES emulator through treq's
StubTreq: RA mode, pending then granted after the test approves (polls driven by task.Clock),
wrong challenge, CA-vs-RA mode mismatch, unreachable CA."""

from __future__ import annotations

from cryptography import x509
from treq.testing import StubTreq
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from pixgw import syslog
from pixgw.pki import pkcs7, scep
from pixgw.pki.interfaces import CaError, EnrollmentRequest, ICertificateAuthority
from pixgw.pki.mscep import ScepCertificateAuthority
from tests.interop.ndes import NdesEmulator, NdesResource, cached_key

URL = "http://171.68.9.149/certsrv/mscep/mscep.dll"


def _result(d: Deferred) -> object:
    out: list[object] = []
    d.addBoth(out.append)
    assert out, "Deferred did not fire"
    return out[0]


def _request(challenge: str) -> EnrollmentRequest:
    key = cached_key(10)
    csr = scep.build_csr(key, "PIX-506-2.sjvpn.com", challenge)
    return EnrollmentRequest(key, csr, x509.load_der_x509_csr(csr).subject)


class DebugLines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, event: dict) -> None:
        if event.get("pix_debug") == "crypto ca":
            self.lines.append(event["pix_debug_text"])


def _ca(ndes: NdesEmulator, mode: str = "ra", clock: task.Clock | None = None):
    return ScepCertificateAuthority(
        "sjvpn", URL, mode, 60.0, 20, http=StubTreq(NdesResource(ndes)), clock=clock or task.Clock()
    )


def test_provides_interface() -> None:
    from zope.interface.verify import verifyObject

    assert verifyObject(ICertificateAuthority, _ca(NdesEmulator()))


def test_ra_mode_get_ca_cert_three_certs() -> None:
    ndes = NdesEmulator()
    cas = _result(_ca(ndes).get_ca_certificates())
    assert isinstance(cas, scep.CaCertificates)
    assert cas.ca == ndes.ca_cert
    assert cas.ra_signature == ndes.ra_sig_cert
    assert cas.ra_encryption == ndes.ra_enc_cert


def test_enroll_granted_immediately() -> None:
    ndes = NdesEmulator()
    certs = _result(_ca(ndes).enroll(_request(ndes.challenge)))
    assert isinstance(certs, tuple), certs
    assert certs[0] == ndes.issued[0]
    assert ndes.operations == ["GetCACaps", "GetCACert", "PKCSReq"]


def test_pending_then_granted_after_approval() -> None:
    ndes = NdesEmulator(pending=True)
    clock = task.Clock()
    seen = DebugLines()
    syslog.add_observer(seen)
    try:
        d = _ca(ndes, clock=clock).enroll(_request(ndes.challenge))
        out: list[object] = []
        d.addBoth(out.append)
        assert not out
        clock.advance(60)
        assert not out and ndes.operations[-1] == "GetCertInitial"
        ndes.approve_all()
        clock.advance(60)
    finally:
        syslog.remove_observer(seen)
    assert isinstance(out[0], tuple), out
    assert out[0][0] == ndes.issued[0]
    assert ndes.operations.count("GetCertInitial") == 2
    assert "CRYPTO_PKI: status = 102: certificate request pending" in seen.lines
    assert "CRYPTO_PKI: resend GetCertInitial, 1" in seen.lines
    assert "The certificate has been granted by CA!" in seen.lines
    assert "CRYPTO_PKI: status = 100: certificate is granted" in seen.lines
    assert "CRYPTO_PKI: signed attr: pki-status: 13 01 33" in seen.lines
    assert "CRYPTO_PKI: signed attr: pki-status: 13 01 30" in seen.lines
    assert "CRYPTO_PKI: signed attr: pki-message-type: 13 01 33" in seen.lines


def test_pending_gives_up_after_retry_count() -> None:
    ndes = NdesEmulator(pending=True)
    clock = task.Clock()
    ca = ScepCertificateAuthority(
        "sjvpn", URL, "ra", 60.0, 2, http=StubTreq(NdesResource(ndes)), clock=clock
    )
    d = ca.enroll(_request(ndes.challenge))
    out: list[object] = []
    d.addBoth(out.append)
    clock.pump([60, 60, 60])
    assert isinstance(out[0], Failure) and out[0].check(CaError)
    assert ndes.operations.count("GetCertInitial") == 2


def test_wrong_challenge_refused_in_words() -> None:
    ndes = NdesEmulator()
    out = _result(_ca(ndes).enroll(_request("wrong")))
    assert isinstance(out, Failure)
    assert out.value.lines == ("%Error: the CA refused the certificate request: badRequest",)
    assert not ndes.issued


def test_ca_mode_against_ra_server_is_the_reference_error() -> None:
    ndes = NdesEmulator()
    seen = DebugLines()
    syslog.add_observer(seen)
    try:
        out = _result(_ca(ndes, mode="ca").get_ca_certificates())
    finally:
        syslog.remove_observer(seen)
    assert isinstance(out, Failure)
    assert "CRYPTO_PKI: can not set ca cert object." in seen.lines
    assert "CRYPTO_PKI: status = 65535: failed to process RA certiifcate" in seen.lines
    assert f"Fingerprint: {scep.ca_fingerprint(ndes.ca_cert)}" in seen.lines


def test_ra_mode_against_ca_only_server_refused() -> None:
    out = _result(_ca(NdesEmulator(ra_mode=False), mode="ra").get_ca_certificates())
    assert isinstance(out, Failure) and out.check(CaError)


def test_ca_mode_enrollment() -> None:
    ndes = NdesEmulator(ra_mode=False)
    certs = _result(_ca(ndes, mode="ca").enroll(_request(ndes.challenge)))
    assert isinstance(certs, tuple), certs


def test_get_crl_lists_revoked() -> None:
    ndes = NdesEmulator()
    ca = _ca(ndes)
    certs = _result(ca.enroll(_request(ndes.challenge)))
    assert isinstance(certs, tuple)
    ndes.revoked.add(certs[0].serial_number)
    crl_der = _result(ca.get_crl(ca.cas, certs[0]))
    assert isinstance(crl_der, bytes)
    crl = x509.load_der_x509_crl(crl_der)
    assert crl.get_revoked_certificate_by_serial_number(certs[0].serial_number) is not None


class _RecordingResource(NdesResource):
    def __init__(self, ndes: NdesEmulator) -> None:
        super().__init__(ndes)
        self.methods: list[bytes] = []

    def render(self, request):  # type: ignore[no-untyped-def]
        if (request.args or {}).get(b"operation") == [b"PKIOperation"]:
            self.methods.append(request.method)
        return super().render(request)


def test_get_or_post_per_caps_and_old_ciphers() -> None:
    for caps, method, cipher_oid in (
        (b"POSTPKIOperation\nSHA-256\nAES\n", b"POST", "aes128_cbc"),
        (b"SHA-1\nDES3\n", b"GET", "tripledes_3key"),
        (b"", b"GET", "des"),  # an old CA without capabilities: GET, SHA-1, single DES
    ):
        ndes = NdesEmulator(caps=caps, answer_cipher="des")
        res = _RecordingResource(ndes)
        ca = ScepCertificateAuthority("sjvpn", URL, "ra", 60.0, 1, http=StubTreq(res))
        certs = _result(ca.enroll(_request(ndes.challenge)))
        assert isinstance(certs, tuple), (caps, certs)
        assert res.methods == [method], caps
        assert ca.caps is not None and pkcs7._CIPHERS[ca.caps.cipher][0] == cipher_oid


def test_wrong_url_is_the_reference_transcript() -> None:
    """`ca identity sjvpn 171.68.9.149:/wrong/path`: the CA answers 404; the PIX's lines."""
    from twisted.web.resource import Resource

    root = Resource()
    root.putChild(b"certsrv", NdesResource(NdesEmulator()))  # not where the URL points
    ca = ScepCertificateAuthority(
        "sjvpn", "http://171.68.9.149/wrong/mscep.dll", "ra", http=StubTreq(root)
    )
    seen = DebugLines()
    syslog.add_observer(seen)
    try:
        out = _result(ca.get_ca_certificates())
    finally:
        syslog.remove_observer(seen)
    assert isinstance(out, Failure) and out.check(CaError)
    assert out.value.lines == ("%Error in connection to Certificate Authority: status = FAIL",)
    tail = seen.lines[seen.lines.index("msgsym(GETCARACERT, CRYPTO)!"):]
    assert tail == [
        "msgsym(GETCARACERT, CRYPTO)!",
        "%Error in connection to Certificate Authority: status = FAIL",
        "CRYPTO_PKI: status = 266: failed to verify",
        "CRYPTO_PKI: transaction GetCACert completed",
    ]
