"""The certificate-authority seam (RFC 8894 SCEP enrollment, RFC 5280 §5 CRLs): what a CA plugin
offers the ``ca`` commands and the IKE certificate checks. Plugins: ``scep``
(:class:`pixgw.pki.mscep.ScepCertificateAuthority`) and ``file``
(:class:`pixgw.pki.mscep.FileCertificateAuthority`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface

from pixgw.pki.scep import CaCertificates

__all__ = ["CaError", "EnrollmentRequest", "ICertificateAuthority"]


class CaError(Exception):
    """A CA operation failed; *lines* are the PIX's words for it (``debug crypto ca`` and the
    console), e.g. ``%Error in connection to Certificate Authority: status = FAIL``."""

    def __init__(self, *lines: str) -> None:
        super().__init__(" / ".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class EnrollmentRequest:
    """``ca enroll``: our key, the DER PKCS#10 (with the challenge) and its subject."""

    key: RSAPrivateKey
    csr_der: bytes
    subject: x509.Name
    # the CA (and RA) certificates ``ca authenticate`` accepted; the plugin uses these rather
    # than whatever GetCACert answers now (None: fetch them)
    cas: CaCertificates | None = None


class ICertificateAuthority(Interface):
    name = Attribute("the ``ca identity`` NAME")

    def get_ca_certificates() -> Deferred[CaCertificates]:
        """The CA certificate (and RA certificates in RA mode); errback with :class:`CaError`."""

    def enroll(request: EnrollmentRequest) -> Deferred[tuple[x509.Certificate, ...]]:
        """Request a certificate; fires with the issued certificates after any pending period;
        errback with :class:`CaError` (refused, timed out, unreachable)."""

    def get_crl(cas: CaCertificates, issued: x509.Certificate | None) -> Deferred[bytes | None]:
        """The CA's current CRL (DER), or None when it has none to give."""
