"""The PIX 6.3 ``ca`` exec commands (``ca generate rsa key``, ``ca authenticate``, ``ca enroll``,
``ca crl request``, ``ca save all``, ``no ca identity``) in the PIX's words, over a CA plugin
(:class:`pixgw.pki.interfaces.ICertificateAuthority`), the key/certificate store
(:mod:`pixgw.pki.store`) and the IKE certificate source (:mod:`pixgw.pki.ike`); plus the snapshot
``show crypto ca certificates`` and ``show ca mypubkey rsa`` render. RFC 8894 §2.2/§2.3
(CA certificate distribution and fingerprint check, enrollment), RFC 5280 §5 (CRLs).

Each command returns its console lines (or a Deferred of them); ``ca enroll`` also hands lines
to *emit* as they happen (the request fingerprint first, "granted" minutes later).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.x509.oid import NameOID
from twisted.internet.defer import Deferred, inlineCallbacks

from pixgw.config.model import Ca, CaConfigure, CaIdentity
from pixgw.pki import scep
from pixgw.pki.ike import NO_CRL, PkiCertificateSource, crl_issuer
from pixgw.pki.interfaces import CaError, EnrollmentRequest, ICertificateAuthority
from pixgw.pki.store import DEFAULT_STORE, CaStore
from pixgw.status import CaCertificateStatus, CaKeyStatus, PkiStatusSnapshot
from pixgw.syslog import debug, pix_log

__all__ = ["AuthorityFactory", "CaExec", "IdentityState", "certificate_status"]

AuthorityFactory = Callable[[CaIdentity, CaConfigure | None], ICertificateAuthority]
_LABELS = {
    NameOID.COMMON_NAME: "CN",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.LOCALITY_NAME: "L",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.COUNTRY_NAME: "C",
    NameOID.EMAIL_ADDRESS: "EA =<16>",
    NameOID.SERIAL_NUMBER: "Serial Number",
    scep.OID_UNSTRUCTURED_NAME: "Name",
    scep.OID_UNSTRUCTURED_ADDRESS: "IP Address",
}


def default_authority(identity: CaIdentity, configure: CaConfigure | None) -> ICertificateAuthority:
    """The ``scep`` plugin for a ``ca identity`` (the treq shell)."""
    from pixgw.pki.mscep import ScepCertificateAuthority  # noqa: PLC0415 (the shell, lazily)

    conf = configure or CaConfigure(identity.name, "ca")
    return ScepCertificateAuthority(
        identity.name, identity.url, conf.mode, conf.retry_period * 60.0, conf.retry_count
    )


def _key_usage_words(cert: x509.Certificate) -> str:
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return "General Purpose"
    signs = ku.digital_signature or ku.content_commitment or ku.key_cert_sign
    encrypts = ku.key_encipherment or ku.data_encipherment
    if signs and encrypts:
        return "General Purpose"
    return "Signature" if signs else "Encryption"


def _even_hex(n: int) -> str:
    h = f"{n:x}"
    return h.rjust(len(h) + len(h) % 2, "0")


def certificate_status(
    cert: x509.Certificate, role: str, identity: str = "", status: str = "Available"
) -> CaCertificateStatus:
    subject: list[tuple[str, str]] = []
    for attr in reversed(list(cert.subject)):
        label = _LABELS.get(attr.oid, attr.oid.dotted_string)
        subject.append((label, str(attr.value)))
    return CaCertificateStatus(
        role=role,
        status=status,
        serial=_even_hex(cert.serial_number),
        key_usage=_key_usage_words(cert),
        subject=tuple(subject),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        identity=identity,
    )


@dataclass
class IdentityState:
    """What one ``ca identity`` has: its CA (and RA) certificates, our certificate, the CRL."""

    cas: scep.CaCertificates | None = None
    certificate: x509.Certificate | None = None
    crl: bytes | None = None
    pending: bool = False
    request_fingerprint: str = ""


@dataclass
class CaExec:
    """The ``ca`` exec commands of one gateway. *fqdn* is ``hostname.domain-name``; *serial* the
    value ``ca enroll ... serial`` puts in the request."""

    config: Ca
    fqdn: str
    store: CaStore | None = None
    authority_for: AuthorityFactory = default_authority
    now: Callable[[], float] = field(default=lambda: dt.datetime.now(dt.UTC).timestamp())
    serial: str = "0"
    generate_key: Callable[[int], RSAPrivateKey] = field(
        default=lambda bits: rsa.generate_private_key(public_exponent=65537, key_size=bits)
    )
    key: RSAPrivateKey | None = None
    key_generated: float | None = None
    identities: dict[str, IdentityState] = field(default_factory=dict)
    authorities: dict[str, ICertificateAuthority] = field(default_factory=dict)
    source: PkiCertificateSource = field(default_factory=PkiCertificateSource)
    # the CDP URL each CRL fetched for a peer's certificate came from (issuer DN -> URL), to
    # fetch it again before its nextUpdate (pixgw.pki.refresh)
    crl_urls: dict[bytes, str] = field(default_factory=dict)
    crls_refreshed: int = 0  # by pixgw.pki.refresh, before their nextUpdate
    crl_refresh_failures: int = 0

    def __post_init__(self) -> None:
        if self.store is None:
            self.store = CaStore(self.config.store or DEFAULT_STORE)

    # --- startup ----------------------------------------------------------------------------

    def load(self) -> None:
        """Read what ``ca save all`` kept (key, certificates, CRLs) and refresh the IKE source."""
        assert self.store is not None
        key = self.store.load_key()
        if key is not None:
            self.key = key
            try:
                self.key_generated = self.store.key_path.stat().st_mtime
            except OSError:
                self.key_generated = self.now()
        if self.key is None and self.config.rsa_key_modulus:
            self.generate_rsa_key(self.config.rsa_key_modulus)  # kept on the next ca save all
        for ident in self.config.identities:
            state = IdentityState()

            def cert(role: str, name: str = ident.name) -> x509.Certificate | None:
                assert self.store is not None
                der = self.store.load(name, role)
                return x509.load_der_x509_certificate(der) if der else None

            ca = cert("ca")
            if ca is not None:
                state.cas = scep.CaCertificates(ca, cert("ra-signature"), cert("ra-encryption"))
            state.certificate = cert("certificate")
            state.crl = self.store.load(ident.name, "crl")
            self.identities[ident.name] = state
        self._refresh_source()

    def _refresh_source(self) -> None:
        own: list[x509.Certificate] = []
        trusted: list[x509.Certificate] = []
        crl_optional = False
        for name, state in self.identities.items():
            if state.cas is not None:
                trusted.append(state.cas.ca)
            if state.certificate is not None and not own:
                own.append(state.certificate)
                if state.cas is not None:
                    own.append(state.cas.ca)
            conf = self.config.configure_for(name)
            crl_optional = crl_optional or bool(conf and conf.crl_optional)
        self.source.own = tuple(own)
        self.source.key = self.key if own else None
        self.source.trusted = tuple(trusted)
        self.source.crl_optional = crl_optional
        for state in self.identities.values():
            if state.crl is not None:
                self.source.add_crl(state.crl)

    def _identity(self, name: str) -> CaIdentity:
        ident = next((i for i in self.config.identities if i.name == name), None)
        if ident is None:
            raise CaError(f"%Error: no ca identity {name}")
        return ident

    def _authority(self, name: str) -> ICertificateAuthority:
        ident = self._identity(name)
        if name not in self.authorities:
            self.authorities[name] = self.authority_for(ident, self.config.configure_for(name))
        return self.authorities[name]

    # --- commands ---------------------------------------------------------------------------

    def generate_rsa_key(self, bits: int) -> list[str]:
        """``ca generate rsa key N`` (512..4096; we refuse under 1024: no peer accepts less)."""
        if not 512 <= bits <= 4096:
            return ["%Error: key modulus must be between 512 and 4096"]
        lines = []
        if bits >= 1024:
            lines += [
                "For <key_modulus> >= 1024, key generation could",
                "   take up to several minutes. Please wait.",
            ]
        lines.append("Keypair generation process begin.")
        self.key = self.generate_key(max(bits, 1024))
        self.key_generated = self.now()
        lines.append("Success.")
        return lines

    @inlineCallbacks
    def authenticate(self, name: str, fingerprint: str | None = None):  # type: ignore[no-untyped-def]
        """``ca authenticate NAME [fingerprint]``: fetch the CA (and RA) certificates; show the
        CA's MD5 fingerprint; with *fingerprint*, refuse a CA whose fingerprint differs."""
        try:
            cas = yield self._authority(name).get_ca_certificates()
        except CaError as exc:
            return list(exc.lines)
        shown = scep.ca_fingerprint(cas.ca)
        lines = ["Certificate has the following attributes:", f"Fingerprint: {shown}"]
        if fingerprint is not None:
            want = "".join(fingerprint.split()).lower()
            if not hmac.compare_digest(want, shown.replace(" ", "")):
                debug("crypto ca", "CRYPTO_PKI: fingerprint of the CA certificate does not match")
                return [*lines, "% Error in verifying the received fingerprint."]
        state = self.identities.setdefault(name, IdentityState())
        state.cas = cas
        self._refresh_source()
        return lines

    def enroll(
        self,
        name: str,
        challenge: str,
        serial: bool = False,
        ipaddress: str | None = None,
        emit: Callable[[str], None] | None = None,
    ) -> Deferred[list[str]]:
        """``ca enroll NAME CHALLENGE [serial] [ipaddress]``: the reference's console lines,
        the request fingerprint first; the Deferred fires with every line once granted (or
        refused). The challenge never appears in output or logs."""
        return self._enroll(name, challenge, serial, ipaddress, emit or (lambda _line: None))

    @inlineCallbacks
    def _enroll(  # type: ignore[no-untyped-def]
        self, name, challenge, serial, ipaddress, emit
    ):
        lines: list[str] = []

        def say(line: str) -> None:
            lines.append(line)
            emit(line)

        state = self.identities.get(name)
        if state is None or state.cas is None:
            say("%Error: the CA is not authenticated (ca authenticate " + name + ")")
            return lines
        if self.key is None:
            say("%Error: no RSA key pair (ca generate rsa key)")
            return lines
        csr = scep.build_csr(
            self.key, self.fqdn, challenge, self.serial if serial else None, ipaddress
        )
        subject = x509.load_der_x509_csr(csr).subject
        say("% Start certificate enrollment ..")
        say(f"% The subject name in the certificate will be: {self.fqdn}")
        if serial:
            say(f"% The serial number in the certificate will be: {self.serial}")
        if ipaddress:
            say(f"% The IP address in the certificate will be: {ipaddress}")
        say("% Certificate request sent to Certificate Authority")
        say("% The certificate request fingerprint will be displayed.")
        say(f"Fingerprint: {scep.request_fingerprint(csr)}")
        state.pending = True
        state.request_fingerprint = scep.request_fingerprint(csr)
        try:
            certs = yield self._authority(name).enroll(
                EnrollmentRequest(self.key, csr, subject, state.cas)
            )
        except CaError as exc:
            state.pending = False
            for line in exc.lines:
                say(line)
            pix_log(717001, f"Enrollment with the CA {name} failed: {exc.lines[0]}")
            return lines
        state.pending = False
        state.certificate = certs[0]
        self._refresh_source()
        say("The certificate has been granted by CA!")
        pix_log(717025, f"Enrollment with the CA {name} succeeded")
        return lines

    @inlineCallbacks
    def crl_request(self, name: str):  # type: ignore[no-untyped-def]
        """``ca crl request NAME``: fetch the CRL (SCEP GetCRL) and use it for IKE."""
        state = self.identities.get(name)
        if state is None or state.cas is None:
            return [f"%Error: the CA is not authenticated (ca authenticate {name})"]
        try:
            crl = yield self._authority(name).get_crl(state.cas, state.certificate)
        except CaError as exc:
            return list(exc.lines)
        if crl is None:
            debug("crypto ca", f"CRYPTO_PKI: WARNING: {NO_CRL}")
            return ["%Error: the CA returned no CRL"]
        state.crl = crl
        if not self.source.add_crl(crl):
            return ["%Error: the CRL is not signed by the CA"]
        return []

    @inlineCallbacks
    def refresh_crls(self, http: Any = None):  # type: ignore[no-untyped-def]
        """Fetch the CRLs of the CDPs that peers' certificates named and the cache lacked
        (:attr:`PkiCertificateSource.missing_crl_urls`); fires with how many were added."""
        from pixgw.pki.mscep import default_http, fetch_crl  # noqa: PLC0415 (the shell)

        client = http if http is not None else default_http()
        added = 0
        urls = sorted(self.source.missing_crl_urls)[:16]
        self.source.missing_crl_urls.clear()
        for url in urls:
            der = yield fetch_crl(url, client)
            if der is not None and self.source.add_crl(der):
                added += 1
                issuer = crl_issuer(der)
                if issuer is not None:
                    self.crl_urls[issuer] = url
        return added

    def identity_of_issuer(self, issuer: bytes) -> str | None:
        """The ``ca identity`` whose CA is *issuer* (DER name), if one is."""
        for name, state in self.identities.items():
            if state.cas is not None and state.cas.ca.subject.public_bytes() == issuer:
                return name
        return None

    def save_all(self) -> list[str]:
        """``ca save all``: key and certificates to the store, atomically."""
        assert self.store is not None
        if self.key is not None:
            self.store.save_key(self.key)
        der = serialization.Encoding.DER
        for name, state in self.identities.items():
            if state.cas is not None:
                self.store.save(name, "ca", state.cas.ca.public_bytes(der))
                for role, cert in (
                    ("ra-signature", state.cas.ra_signature),
                    ("ra-encryption", state.cas.ra_encryption),
                ):
                    if cert is not None:
                        self.store.save(name, role, cert.public_bytes(der))
                    else:
                        self.store.remove(name, role)
            if state.certificate is not None:
                self.store.save(name, "certificate", state.certificate.public_bytes(der))
            if state.crl is not None:
                self.store.save(name, "crl", state.crl)
        return []

    def no_identity(self, name: str) -> list[str]:
        """``no ca identity NAME``: forget its certificates (and, after ``ca save all``, the
        stored ones)."""
        self.identities.pop(name, None)
        self.authorities.pop(name, None)
        assert self.store is not None
        self.store.remove_identity(name)
        self._refresh_source()
        return []

    # --- show -------------------------------------------------------------------------------

    def snapshot(self) -> PkiStatusSnapshot:
        blocks: list[CaCertificateStatus] = []
        for name, state in self.identities.items():
            if state.certificate is not None:
                blocks.append(certificate_status(state.certificate, "Certificate", name))
            elif state.pending:
                blocks.append(
                    CaCertificateStatus(
                        "Certificate", "Pending", "", "General Purpose", (("Name", self.fqdn),),
                        identity=name, fingerprint=state.request_fingerprint,
                    )
                )
            if state.cas is None:
                continue
            sig, enc = state.cas.ra_signature, state.cas.ra_encryption
            if sig is not None:
                role = "RA Signature Certificate" if enc is not sig else "RA Certificate"
                blocks.append(certificate_status(sig, role, name))
            blocks.append(certificate_status(state.cas.ca, "CA Certificate", name))
            if enc is not None and enc is not sig:
                blocks.append(certificate_status(enc, "RA KeyEncipher Certificate", name))
        key = None
        if self.key is not None:
            key = CaKeyStatus(
                name=self.fqdn,
                generated=dt.datetime.fromtimestamp(self.key_generated or self.now(), dt.UTC),
                public_key_der=self.key.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
            )
        return PkiStatusSnapshot(tuple(blocks), key)



