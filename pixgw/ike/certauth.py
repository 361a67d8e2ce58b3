"""The certificate seam of the IKEv1 responder (RFC 2409 §5.1 signature authentication, RFC 2408
§3.9/§3.10 CERT and CERTREQ payloads).

The responder asks an :class:`IkeCertificateSource` for our chain and key, for the CA names it puts
in CERTREQ payloads, and for a verdict on the chain a peer sent. :mod:`pixgw.pki` implements it
(file store, SCEP-enrolled); :class:`InMemoryCertificateSource` is the fake for protocol tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = [
    "IkeCertificateSource",
    "InMemoryCertificateSource",
    "PeerCertificateVerdict",
    "PeerIdentity",
]


@dataclass(frozen=True)
class PeerIdentity:
    """The peer's phase-1 ID payload (RFC 2407 §4.6.2): ID type and identification data."""

    id_type: int
    data: bytes


@dataclass(frozen=True)
class PeerCertificateVerdict:
    """Whether the peer's chain is acceptable; *warning* is e.g. "cert revocation status unknown"
    (the PIX's "cert approved with warning"), *reason* says why a chain was refused."""

    accepted: bool
    warning: str | None = None
    reason: str | None = None


class IkeCertificateSource(Protocol):
    def own_chain(self) -> Sequence[bytes]:
        """DER certificates, our end-entity first (empty: none enrolled)."""
        ...

    def private_key(self) -> RSAPrivateKey | None:
        """The key of our end-entity certificate."""
        ...

    def ca_subjects(self) -> Sequence[bytes]:
        """DER-encoded Names of the trusted CAs (for CERTREQ payloads)."""
        ...

    def verify_peer(
        self, chain: Sequence[bytes], identity: PeerIdentity, now: datetime
    ) -> PeerCertificateVerdict:
        """Verify the peer's chain (end-entity first) against the trusted CAs."""
        ...


@dataclass
class InMemoryCertificateSource:
    """A fake certificate source: our chain and key, and trusted CA certificates (DER).

    :meth:`verify_peer` accepts a chain whose end-entity certificate was issued (by name and
    signature) by one of the trusted CAs and is valid at *now*."""

    chain: Sequence[bytes] = ()
    key: RSAPrivateKey | None = None
    trusted_cas: Sequence[bytes] = ()
    verified: list[tuple[int, bytes]] = field(default_factory=list)

    def own_chain(self) -> Sequence[bytes]:
        return tuple(self.chain)

    def private_key(self) -> RSAPrivateKey | None:
        return self.key

    def ca_subjects(self) -> Sequence[bytes]:
        return tuple(
            x509.load_der_x509_certificate(der).subject.public_bytes() for der in self.trusted_cas
        )

    def verify_peer(
        self, chain: Sequence[bytes], identity: PeerIdentity, now: datetime
    ) -> PeerCertificateVerdict:
        self.verified.append((identity.id_type, identity.data))
        if not chain:
            return PeerCertificateVerdict(False, reason="no certificate")
        try:
            leaf = x509.load_der_x509_certificate(chain[0])
        except ValueError:
            return PeerCertificateVerdict(False, reason="certificate not decodable")
        if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
            return PeerCertificateVerdict(False, reason="certificate expired or not yet valid")
        for der in self.trusted_cas:
            ca = x509.load_der_x509_certificate(der)
            if ca.subject != leaf.issuer:
                continue
            if _issued_by(leaf, ca):
                return PeerCertificateVerdict(True, warning="cert revocation status unknown")
        return PeerCertificateVerdict(False, reason="issuer not trusted")


def _issued_by(leaf: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError):
        return False
    except Exception:  # InvalidSignature and friends
        return False
    return True
