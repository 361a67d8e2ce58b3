"""The ``file`` CA plugin (pixgw.pki.mscep.FileCertificateAuthority): CA (and RA) certificates,
our certificate and a CRL from PEM/DER files."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.python.failure import Failure
from zope.interface.verify import verifyObject

from pixgw.pki import scep
from pixgw.pki.interfaces import CaError, EnrollmentRequest, ICertificateAuthority
from pixgw.pki.mscep import FileCertificateAuthority
from tests.interop.ndes import NdesEmulator, cached_key, make_cert
from tests.protocol.test_scep_ndes import _result

PEM, DER = serialization.Encoding.PEM, serialization.Encoding.DER


def _files(tmp_path: Path) -> tuple[NdesEmulator, FileCertificateAuthority]:
    ndes = NdesEmulator()
    (tmp_path / "ca.pem").write_bytes(
        b"".join(c.public_bytes(PEM) for c in (ndes.ca_cert, ndes.ra_sig_cert, ndes.ra_enc_cert))
    )
    mine = make_cert(
        x509.Name.from_rfc4514_string("CN=gw.example.com"), cached_key(10),
        ndes.ca_cert.subject, ndes.ca_key, 77,
    )
    (tmp_path / "me.der").write_bytes(mine.public_bytes(DER))
    (tmp_path / "crl.der").write_bytes(ndes.crl())
    return ndes, FileCertificateAuthority(
        "files", str(tmp_path / "ca.pem"), str(tmp_path / "me.der"), str(tmp_path / "crl.der")
    )


def test_interface_and_files(tmp_path: Path) -> None:
    ndes, ca = _files(tmp_path)
    assert verifyObject(ICertificateAuthority, ca)
    cas = _result(ca.get_ca_certificates())
    assert isinstance(cas, scep.CaCertificates)
    assert cas.ca == ndes.ca_cert and cas.ra_signature == ndes.ra_sig_cert
    key = cached_key(10)
    certs = _result(ca.enroll(EnrollmentRequest(key, b"", x509.Name([]))))
    assert isinstance(certs, tuple) and certs[0].serial_number == 77
    assert _result(ca.get_crl(cas, None)) == (tmp_path / "crl.der").read_bytes()


def test_errors(tmp_path: Path) -> None:
    _ndes, ca = _files(tmp_path)
    other = _result(ca.enroll(EnrollmentRequest(cached_key(11), b"", x509.Name([]))))
    assert isinstance(other, Failure) and other.check(CaError)
    missing = FileCertificateAuthority("x", str(tmp_path / "nope.pem"))
    out = _result(missing.get_ca_certificates())
    assert isinstance(out, Failure) and out.check(CaError)
    junk = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    (tmp_path / "junk.pem").write_bytes(junk)
    out = _result(FileCertificateAuthority("x", str(tmp_path / "junk.pem")).get_ca_certificates())
    assert isinstance(out, Failure) and out.check(CaError)
