"""The IKE rsa-sig certificate checks (pixgw.pki.ike): chain, validity, key usage/EKU, CRL
revocation with and without crloptional, identity matching per ID type."""

from __future__ import annotations

import datetime as dt
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pixgw.ike.certauth import IkeCertificateSource, PeerIdentity
from pixgw.pki.ike import REVOCATION_UNKNOWN, PkiCertificateSource
from tests.interop.ndes import cached_key, ku, make_cert

# A fixed moment, not the wall clock: every certificate and CRL here is made relative to it and
# every check is asked "at NOW", so the tests mean the same whenever (and however late in a long
# run) they execute. (It was the wall clock read at import: a run that reached this module more
# than an hour after collection found every leaf "expired or not yet valid".)
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
BEFORE = NOW - dt.timedelta(hours=1)
FQDN = PeerIdentity(2, b"client.example.com")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


CA_KEY, OTHER_KEY, LEAF_KEY = cached_key(1), cached_key(4), cached_key(5)
CA = make_cert(
    _name("CA"), CA_KEY, _name("CA"), CA_KEY, 1, ca=True, key_usage=ku(sign=True, ca=True),
    start=BEFORE,
)
OTHER_CA = make_cert(_name("CA"), OTHER_KEY, _name("CA"), OTHER_KEY, 2, ca=True, start=BEFORE)
SAN = [
    x509.DNSName("client.example.com"),
    x509.IPAddress(ipaddress.IPv4Address("198.51.100.2")),
    x509.RFC822Name("user@example.com"),
]


def _leaf(serial: int = 100, **kw: object) -> x509.Certificate:
    args: dict = {"key_usage": ku(sign=True), "san": SAN, "start": BEFORE}
    args.update(kw)
    return make_cert(_name("client.example.com"), LEAF_KEY, CA.subject, CA_KEY, serial, **args)


def _der(c: x509.Certificate) -> bytes:
    return c.public_bytes(serialization.Encoding.DER)


def _crl(*serials: int, key=CA_KEY) -> bytes:
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(CA.subject)
        .last_update(NOW - dt.timedelta(hours=1))
        .next_update(NOW + dt.timedelta(days=1))
    )
    for s in serials:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(s).revocation_date(NOW).build()
        )
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _source(crl_optional: bool = True) -> PkiCertificateSource:
    return PkiCertificateSource(trusted=[CA], crl_optional=crl_optional)


def test_is_an_ike_certificate_source() -> None:
    src: IkeCertificateSource = _source()
    assert src.ca_subjects() == (CA.subject.public_bytes(),)


def test_good_with_crl() -> None:
    src = _source(crl_optional=False)
    assert src.add_crl(_crl(999))
    v = src.verify_peer([_der(_leaf())], FQDN, NOW)
    assert v.accepted and v.warning is None


def test_no_crl_with_crloptional_warns() -> None:
    v = _source(True).verify_peer([_der(_leaf())], FQDN, NOW)
    assert v.accepted and v.warning == REVOCATION_UNKNOWN


def test_no_crl_without_crloptional_refused_and_cdp_noted() -> None:
    src = _source(False)
    v = src.verify_peer([_der(_leaf(cdp="http://127.0.0.1:1/ca.crl"))], FQDN, NOW)
    assert not v.accepted and REVOCATION_UNKNOWN in (v.reason or "")
    assert src.missing_crl_urls == {"http://127.0.0.1:1/ca.crl"}


def test_revoked_refused() -> None:
    src = _source(True)
    assert src.add_crl(_crl(100))
    v = src.verify_peer([_der(_leaf(100))], FQDN, NOW)
    assert not v.accepted and v.reason == "certificate revoked"


def test_crl_signed_by_someone_else_ignored() -> None:
    src = _source(False)
    assert not src.add_crl(_crl(100, key=OTHER_KEY))
    assert not src.verify_peer([_der(_leaf(100))], FQDN, NOW).accepted


def test_expired_refused() -> None:
    old = _leaf(start=NOW - dt.timedelta(days=400), days=30)
    v = _source().verify_peer([_der(old)], FQDN, NOW)
    assert not v.accepted and "expired" in (v.reason or "")


def test_wrong_ca_refused() -> None:
    src = PkiCertificateSource(trusted=[OTHER_CA], crl_optional=True)
    v = src.verify_peer([_der(_leaf())], FQDN, NOW)
    assert not v.accepted and "trusted CA" in (v.reason or "")


def test_key_usage_without_signature_refused() -> None:
    v = _source().verify_peer([_der(_leaf(key_usage=ku(encipher=True)))], FQDN, NOW)
    assert not v.accepted and "key usage" in (v.reason or "")


def test_eku_email_only_refused_server_auth_ok() -> None:
    bad = _leaf(eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION])
    good = _leaf(eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    assert not _source().verify_peer([_der(bad)], FQDN, NOW).accepted
    assert _source().verify_peer([_der(good)], FQDN, NOW).accepted


def test_identities() -> None:
    leaf = [_der(_leaf())]
    src = _source()
    assert src.verify_peer(leaf, PeerIdentity(1, bytes([198, 51, 100, 2])), NOW).accepted
    assert src.verify_peer(leaf, PeerIdentity(3, b"USER@example.com"), NOW).accepted
    assert src.verify_peer(leaf, PeerIdentity(9, _leaf().subject.public_bytes()), NOW).accepted
    for bad in (
        PeerIdentity(2, b"other.example.com"),
        PeerIdentity(1, bytes([198, 51, 100, 3])),
        PeerIdentity(3, b"else@example.com"),
        PeerIdentity(9, _name("someone").public_bytes()),
        PeerIdentity(11, b"keyid"),
    ):
        v = src.verify_peer(leaf, bad, NOW)
        assert not v.accepted and "identity" in (v.reason or ""), bad


def test_fqdn_falls_back_to_cn_without_san() -> None:
    assert _source().verify_peer([_der(_leaf(san=None))], FQDN, NOW).accepted


def test_garbage_and_empty_refused() -> None:
    src = _source()
    assert not src.verify_peer([], FQDN, NOW).accepted
    assert not src.verify_peer([b"\x30\x03\x02\x01\x00"], FQDN, NOW).accepted
    assert not PkiCertificateSource().verify_peer([_der(_leaf())], FQDN, NOW).accepted
