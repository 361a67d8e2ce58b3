"""Certificate checks for IKE rsa-sig (RFC 2409 §5.1; RFC 4945 §3 PKI profile for IKE: §3.1.x
ID payload vs certificate, §3.1.4 identity in subjectAltName; RFC 5280 §6 path validation in the
small — chain to the configured CA, validity, §4.2.1.3 keyUsage, §4.2.1.12 extendedKeyUsage;
§5 and §6.3 CRL revocation checks, CRLs from the CDP or SCEP GetCRL, fetched by the shell).

:class:`PkiCertificateSource` implements :class:`pixgw.ike.certauth.IkeCertificateSource`; it is
pure (no I/O): the shell puts our chain, key, trusted CAs and CRLs in, IKE asks for verdicts.
``crloptional`` (``ca configure NAME ra|ca P C crloptional``) accepts a chain whose revocation
status is unknown with the PIX's warning; without it such a chain is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pixgw.ike.certauth import IkeCertificateSource, PeerCertificateVerdict, PeerIdentity
from pixgw.pki.scep import ScepError, load_certificate
from pixgw.syslog import debug

__all__ = ["REVOCATION_UNKNOWN", "PkiCertificateSource", "crl_issuer", "identity_matches"]

REVOCATION_UNKNOWN = "cert revocation status unknown"
NO_CRL = "Certificate, private key or CRL was not found while selecting CRL"
ID_IPV4_ADDR = 1
ID_FQDN = 2
ID_USER_FQDN = 3
ID_DER_ASN1_DN = 9
MAX_CHAIN = 5
_IKE_EKUS = {
    ExtendedKeyUsageOID.SERVER_AUTH,
    ExtendedKeyUsageOID.CLIENT_AUTH,
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.17"),  # id-kp-ipsecIKE (RFC 4945 §5.1.3.12)
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),  # id-kp-ipsecEndSystem
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"),  # id-kp-ipsecTunnel
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"),  # id-kp-ipsecUser
    x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12"),  # MS document signing (seen on AD CS)
}


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:  # a malformed extension: treat as absent, checks below then refuse
        return None


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName | None:
    v = _ext(cert, x509.SubjectAlternativeName)
    return v if isinstance(v, x509.SubjectAlternativeName) else None


def identity_matches(cert: x509.Certificate, identity: PeerIdentity) -> bool:
    """RFC 4945 §3.1: the ID payload names this certificate."""
    san = _san(cert)
    try:
        if identity.id_type == ID_FQDN:
            name = identity.data.decode("ascii").rstrip(".").lower()
            dns = (
                [d.lower().rstrip(".") for d in san.get_values_for_type(x509.DNSName)]
                if san
                else []
            )
            if dns:
                return name in dns
            cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            return any(str(c.value).lower() == name for c in cns)
        if identity.id_type == ID_IPV4_ADDR:
            if len(identity.data) != 4:
                return False
            addr = IPv4Address(identity.data)
            ips = san.get_values_for_type(x509.IPAddress) if san else []
            return addr in ips
        if identity.id_type == ID_USER_FQDN:
            mail = identity.data.decode("ascii").lower()
            names = [m.lower() for m in san.get_values_for_type(x509.RFC822Name)] if san else []
            emails = cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)
            return mail in names or any(str(e.value).lower() == mail for e in emails)
        if identity.id_type == ID_DER_ASN1_DN:
            return identity.data == cert.subject.public_bytes() or _name_eq(identity.data, cert)
    except (UnicodeDecodeError, ValueError):
        return False
    return False


def _name_eq(der: bytes, cert: x509.Certificate) -> bool:
    try:  # compare as parsed Names (string types may differ: PrintableString vs UTF8String)
        mine = ax509.Name.load(cert.subject.public_bytes())
        theirs = ax509.Name.load(der)
        return bool(mine == theirs)
    except (ValueError, TypeError):
        return False


@dataclass
class PkiCertificateSource:
    """Our chain and key, the configured CA(s), cached CRLs; IKE's certificate source."""

    own: Sequence[x509.Certificate] = ()
    key: RSAPrivateKey | None = None
    trusted: Sequence[x509.Certificate] = ()
    crl_optional: bool = False
    crls: dict[bytes, x509.CertificateRevocationList] = field(default_factory=dict)
    missing_crl_urls: set[str] = field(default_factory=set)  # CDPs the shell should fetch

    # --- IkeCertificateSource ---------------------------------------------------------------

    def own_chain(self) -> Sequence[bytes]:
        return tuple(c.public_bytes(serialization.Encoding.DER) for c in self.own)

    def private_key(self) -> RSAPrivateKey | None:
        return self.key

    def ca_subjects(self) -> Sequence[bytes]:
        return tuple(c.subject.public_bytes() for c in self.trusted)

    def add_crl(self, der: bytes) -> bool:
        """Cache a CRL (DER or PEM) if a trusted CA signed it; False otherwise."""
        try:
            if der.startswith(b"-----"):
                crl = x509.load_pem_x509_crl(der)
            else:
                crl = x509.load_der_x509_crl(der)
        except ValueError:
            return False
        for ca in self.trusted:
            pub = ca.public_key()
            ok = crl.issuer == ca.subject and isinstance(pub, RSAPublicKey)
            if ok and crl.is_signature_valid(pub):  # type: ignore[arg-type]
                issuer = ca.subject.public_bytes()
                held = self.crls.get(issuer)
                # the newest one stays: an older CRL (replayed by a CDP server, or a slow
                # mirror) must not take back revocations the newer one has
                if held is None or crl.last_update_utc >= held.last_update_utc:
                    self.crls[issuer] = crl
                return True
        return False

    def verify_peer(
        self, chain: Sequence[bytes], identity: PeerIdentity, now: dt.datetime
    ) -> PeerCertificateVerdict:
        if not chain:
            return PeerCertificateVerdict(False, reason="no certificate")
        if not self.trusted:
            return PeerCertificateVerdict(False, reason="no CA certificate (ca authenticate)")
        try:
            certs = [load_certificate(der) for der in chain[:MAX_CHAIN]]
        except ScepError:
            return PeerCertificateVerdict(False, reason="certificate not decodable")
        if now.tzinfo is None:
            now = now.replace(tzinfo=dt.UTC)
        leaf = certs[0]
        # path: leaf -> (intermediates the peer sent) -> a trusted CA
        path = [leaf]
        anchor: x509.Certificate | None = None
        for _ in range(MAX_CHAIN):
            current = path[-1]
            anchor = next((ca for ca in self.trusted if _issued_by(current, ca)), None)
            if anchor is not None:
                break
            nxt = next(
                (c for c in certs[1:] if c not in path and _issued_by(current, c) and _is_ca(c)),
                None,
            )
            if nxt is None:
                break
            path.append(nxt)
        if anchor is None:
            return PeerCertificateVerdict(False, reason="certificate not issued by a trusted CA")
        for cert in [*path, anchor]:
            if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                return PeerCertificateVerdict(
                    False, reason="certificate expired or not yet valid"
                )
        usage = _ext(leaf, x509.KeyUsage)
        if isinstance(usage, x509.KeyUsage) and not (
            usage.digital_signature or usage.content_commitment
        ):
            return PeerCertificateVerdict(False, reason="key usage does not allow signatures")
        eku = _ext(leaf, x509.ExtendedKeyUsage)
        if isinstance(eku, x509.ExtendedKeyUsage) and not (set(eku) & _IKE_EKUS):
            return PeerCertificateVerdict(False, reason="extended key usage not for IKE")
        if not identity_matches(leaf, identity):
            return PeerCertificateVerdict(
                False, reason="peer identity does not match the certificate"
            )
        # revocation of every certificate below the anchor
        unknown = False
        issuers = [*path[1:], anchor]
        for cert, issuer in zip(path, issuers, strict=True):
            crl = self.crls.get(issuer.subject.public_bytes())
            if crl is not None and crl.next_update_utc is not None and crl.next_update_utc < now:
                crl = None
            if crl is None:
                unknown = True
                self.missing_crl_urls.update(_cdp_urls(cert))
                continue
            if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
                debug("crypto ca", f"CRYPTO_PKI: cert revoked, serial {cert.serial_number:x}")
                return PeerCertificateVerdict(False, reason="certificate revoked")
        if unknown:
            debug("crypto ca", f"CRYPTO_PKI: WARNING: {NO_CRL}")
            if self.crl_optional:
                debug("crypto ca", "CRYPTO_PKI: status = 0: crl check ignored")
                debug("crypto ca", f"CRYPTO_PKI: {REVOCATION_UNKNOWN}.")
                return PeerCertificateVerdict(True, warning=REVOCATION_UNKNOWN)
            return PeerCertificateVerdict(
                False, reason=f"{REVOCATION_UNKNOWN} (no CRL, crloptional not configured)"
            )
        return PeerCertificateVerdict(True)


def crl_issuer(der: bytes) -> bytes | None:
    """The issuer (DER name) of a CRL in DER or PEM; None when it does not decode."""
    try:
        crl = x509.load_pem_x509_crl(der) if der.startswith(b"-----") else (
            x509.load_der_x509_crl(der))
    except ValueError:
        return None
    return crl.issuer.public_bytes()


def _is_ca(cert: x509.Certificate) -> bool:
    bc = _ext(cert, x509.BasicConstraints)
    return isinstance(bc, x509.BasicConstraints) and bc.ca


def _cdp_urls(cert: x509.Certificate) -> list[str]:
    cdp = _ext(cert, x509.CRLDistributionPoints)
    urls: list[str] = []
    if isinstance(cdp, x509.CRLDistributionPoints):
        for point in cdp:
            for name in point.full_name or ():
                if isinstance(name, x509.UniformResourceIdentifier) and name.value.startswith(
                    "http://"
                ):
                    urls.append(name.value)
    return urls


def _conforms(source: PkiCertificateSource) -> IkeCertificateSource:
    """mypy checks here that PkiCertificateSource is an IkeCertificateSource."""
    return source
