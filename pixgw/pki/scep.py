"""SCEP messages, pure (no I/O): RFC 8894 §3 (SCEP secure message objects: pkcsPKIEnvelope,
signed attributes messageType/pkiStatus/failInfo/senderNonce/recipientNonce/transactionID),
§3.3 (PKCSReq, CertRep, CertPoll = GetCertInitial, GetCRL), §3.5 (certificate chains in a degenerate
certificates-only SignedData), §4.1/§4.2 (GetCACaps, GetCACert and its ``x-x509-ca-ra-cert`` answer,
as Microsoft NDES sends it: CA + RA signature + RA encryption certificates), RFC 5652 §5
(SignedData) and §6 (EnvelopedData, key transport), RFC 2986 (PKCS#10 with challengePassword,
RFC 2985 §5.4.1).

PKCS#7/CMS structures go through asn1crypto, keys and certificates through cryptography. Random
bytes are injected (``random_bytes``); every parser raises only :class:`ScepError` on bad input.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from asn1crypto import algos, cms, core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding as apadding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.x509.oid import NameOID

from pixgw.pki.pkcs7 import (
    MAX_MESSAGE,
    Pkcs7Error,
    certs_only,
    envelope,
    load_certificate,
    load_content_info,
    open_envelope,
    parse_certs_only,
)

__all__ = [
    "CaCaps",
    "CaCertificates",
    "CertRep",
    "FailInfo",
    "MessageType",
    "PkiStatus",
    "ScepError",
    "ScepRequest",
    "SignedAttributes",
    "build_cert_poll",
    "build_csr",
    "build_get_crl",
    "build_pkcs_req",
    "build_self_signed",
    "ca_fingerprint",
    "certs_only",
    "envelope",
    "load_certificate",
    "open_envelope",
    "parse_ca_caps",
    "parse_ca_certificates",
    "parse_cert_rep",
    "parse_certs_only",
    "read_signed_message",
    "request_fingerprint",
    "sign_message",
    "transaction_id_for",
]


OID_MESSAGE_TYPE = "2.16.840.1.113733.1.9.2"
OID_PKI_STATUS = "2.16.840.1.113733.1.9.3"
OID_FAIL_INFO = "2.16.840.1.113733.1.9.4"
OID_SENDER_NONCE = "2.16.840.1.113733.1.9.5"
OID_RECIPIENT_NONCE = "2.16.840.1.113733.1.9.6"
OID_TRANSACTION_ID = "2.16.840.1.113733.1.9.7"
OID_UNSTRUCTURED_NAME = x509.ObjectIdentifier("1.2.840.113549.1.9.2")
OID_UNSTRUCTURED_ADDRESS = x509.ObjectIdentifier("1.2.840.113549.1.9.8")


class _PrintableStrings(core.SetOf):  # type: ignore[misc]
    _child_spec = core.PrintableString


class _OctetStrings(core.SetOf):  # type: ignore[misc]
    _child_spec = core.OctetString


# The SCEP attributes as asn1crypto specs, keyed by dotted OID (asn1crypto's CMSAttribute looks
# its value spec up by the type's native value, the dotted OID for types it does not name).
cms.CMSAttribute._oid_specs.update(
    {
        OID_MESSAGE_TYPE: _PrintableStrings,
        OID_PKI_STATUS: _PrintableStrings,
        OID_FAIL_INFO: _PrintableStrings,
        OID_TRANSACTION_ID: _PrintableStrings,
        OID_SENDER_NONCE: _OctetStrings,
        OID_RECIPIENT_NONCE: _OctetStrings,
    }
)


ScepError = Pkcs7Error  # SCEP's errors are those of its PKCS#7 messages: one family


class MessageType(Enum):
    CERT_REP = "3"
    RENEWAL_REQ = "17"
    PKCS_REQ = "19"
    CERT_POLL = "20"  # GetCertInitial
    GET_CERT = "21"
    GET_CRL = "22"


class PkiStatus(Enum):
    SUCCESS = "0"
    FAILURE = "2"
    PENDING = "3"


class FailInfo(Enum):
    """RFC 8894 §3.2.1.4, reported in words."""

    BAD_ALG = "0"
    BAD_MESSAGE_CHECK = "1"
    BAD_REQUEST = "2"
    BAD_TIME = "3"
    BAD_CERT_ID = "4"

    @property
    def word(self) -> str:
        return {
            "0": "badAlg",
            "1": "badMessageCheck",
            "2": "badRequest",
            "3": "badTime",
            "4": "badCertId",
        }[self.value]


# --- GetCACaps / GetCACert ----------------------------------------------------------------------


@dataclass(frozen=True)
class CaCaps:
    """The GetCACaps keywords (RFC 8894 §3.5.2), case-insensitive."""

    keywords: frozenset[str] = frozenset()

    def has(self, word: str) -> bool:
        return word.lower() in self.keywords

    @property
    def post(self) -> bool:
        return self.has("POSTPKIOperation") or self.has("SCEPStandard")

    @property
    def digest(self) -> str:
        """sha256 when offered, else sha1 (the old NDES default)."""
        if self.has("SHA-256") or self.has("SCEPStandard"):
            return "sha256"
        return "sha1"

    @property
    def cipher(self) -> str:
        """The envelope cipher we send: aes > des3 > des."""
        if self.has("AES") or self.has("SCEPStandard"):
            return "aes128"
        if self.has("DES3"):
            return "des3"
        return "des"


def parse_ca_caps(body: bytes) -> CaCaps:
    text = body[:4096].decode("ascii", "replace")
    return CaCaps(frozenset(w.strip().lower() for w in text.split() if w.strip()))


@dataclass(frozen=True)
class CaCertificates:
    """A GetCACert answer: the CA certificate, and in RA mode the RA signature and encryption
    certificates (one certificate may play both RA roles)."""

    ca: x509.Certificate
    ra_signature: x509.Certificate | None = None
    ra_encryption: x509.Certificate | None = None
    others: tuple[x509.Certificate, ...] = ()

    @property
    def ra_mode(self) -> bool:
        return self.ra_signature is not None or self.ra_encryption is not None

    @property
    def encryption_cert(self) -> x509.Certificate:
        """Where PKCSReq is enveloped to: the RA encryption certificate, else the CA's."""
        return self.ra_encryption or self.ra_signature or self.ca

    @property
    def signer_certs(self) -> tuple[x509.Certificate, ...]:
        """Who may sign a CertRep: the RA signature certificate, the CA."""
        return tuple(c for c in (self.ra_signature, self.ra_encryption, self.ca) if c is not None)


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.issuer == cert.subject


def parse_ca_certificates(content_type: str, body: bytes) -> CaCertificates:
    """GetCACert's answer: ``application/x-x509-ca-cert`` (one DER certificate, CA mode) or
    ``application/x-x509-ca-ra-cert`` (a degenerate SignedData holding CA and RA certificates)."""
    if len(body) > MAX_MESSAGE or not body:
        raise ScepError("GetCACert answer empty or too long")
    ctype = content_type.split(";", maxsplit=1)[0].strip().lower()
    if ctype == "application/x-x509-ca-ra-cert":
        certs = parse_certs_only(body)
    else:
        try:
            certs = (load_certificate(body),)
        except ScepError:
            try:
                certs = parse_certs_only(body)
            except ScepError:
                raise ScepError("Invalid format for BER encoding") from None
    cas = [c for c in certs if _is_ca(c)]
    if not cas:
        raise ScepError("no CA certificate in the GetCACert answer")
    issuers = {c.issuer for c in certs if not _is_ca(c)}
    ca = next((c for c in cas if c.subject in issuers), cas[-1])
    ra_sig: x509.Certificate | None = None
    ra_enc: x509.Certificate | None = None
    others: list[x509.Certificate] = []
    for cert in certs:
        if cert is ca:
            continue
        if _is_ca(cert):
            others.append(cert)
            continue
        ku = _key_usage(cert)
        signs = ku is None or ku.digital_signature
        encrypts = ku is None or ku.key_encipherment
        if signs and ra_sig is None and not (encrypts and not signs):
            ra_sig = cert
            if encrypts and ku is not None and ra_enc is None:
                ra_enc = cert
        elif encrypts and (ra_enc is None or ra_enc is ra_sig):
            ra_enc = cert
        else:
            others.append(cert)
    if ra_sig is not None and ra_enc is None:
        ra_enc = ra_sig
    if ra_enc is not None and ra_sig is None:
        ra_sig = ra_enc
    return CaCertificates(ca, ra_sig, ra_enc, tuple(others))


def _group_hex(digest: bytes) -> str:
    h = digest.hex()
    return " ".join(h[i : i + 8] for i in range(0, len(h), 8))


def ca_fingerprint(cert: x509.Certificate) -> str:
    """The PIX's fingerprint: MD5 of the DER certificate in 4-byte groups."""
    der = cert.public_bytes(serialization.Encoding.DER)
    return _group_hex(hashlib.md5(der, usedforsecurity=False).digest())


def request_fingerprint(csr_der: bytes) -> str:
    """The request fingerprint ``ca enroll`` shows: MD5 of the DER PKCS#10 request."""
    return _group_hex(hashlib.md5(csr_der, usedforsecurity=False).digest())


# --- the request: PKCS#10, self-signed signer --------------------------------------------------


def build_csr(
    key: RSAPrivateKey,
    common_name: str,
    challenge: str | None,
    serial_number: str | None = None,
    ip_address: str | None = None,
) -> bytes:
    """PKCS#10 request (RFC 2986) with challengePassword; the PIX puts its FQDN in the subject
    and, when asked, its serial number and IP address (unstructuredAddress)."""
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    attrs.append(x509.NameAttribute(OID_UNSTRUCTURED_NAME, common_name))
    if serial_number:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number))
    if ip_address:
        attrs.append(x509.NameAttribute(OID_UNSTRUCTURED_ADDRESS, ip_address))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    builder = builder.add_extension(
        x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=False
    )
    if challenge is not None:
        builder = builder.add_attribute(
            x509.oid.AttributeOID.CHALLENGE_PASSWORD, challenge.encode("utf-8")
        )
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.DER)


def build_self_signed(
    key: RSAPrivateKey, subject: x509.Name, serial: int, not_before: float, days: int = 1
) -> x509.Certificate:
    """The transient self-signed certificate that signs our SCEP requests (RFC 8894 §2.3)."""
    start = dt.datetime.fromtimestamp(not_before, dt.UTC) - dt.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


# --- SignedData with SCEP attributes (RFC 8894 §3.2.1) -----------------------------------------


def _attr(oid: str, value: core.Asn1Value) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": oid, "values": [value]})


def sign_message(  # noqa: PLR0917
    content: bytes,
    signer_cert: x509.Certificate,
    signer_key: RSAPrivateKey,
    message_type: MessageType,
    transaction_id: str,
    sender_nonce: bytes,
    digest: str = "sha256",
    extra_attrs: Sequence[cms.CMSAttribute] = (),
    certificates: Sequence[x509.Certificate] | None = None,
) -> bytes:
    """A SCEP pkiMessage: SignedData over *content* (the DER pkcsPKIEnvelope, or nothing) with
    the SCEP signed attributes, signed by *signer_key* (RSA PKCS#1 v1.5)."""
    hash_alg: hashes.HashAlgorithm = hashes.SHA256() if digest == "sha256" else hashes.SHA1()  # noqa: S303
    content_digest = hashlib.new(digest, content).digest()
    attrs = [
        _attr("1.2.840.113549.1.9.3", cms.ContentType("data")),
        _attr("1.2.840.113549.1.9.4", core.OctetString(content_digest)),
        _attr(OID_MESSAGE_TYPE, core.PrintableString(message_type.value)),
        _attr(OID_TRANSACTION_ID, core.PrintableString(transaction_id)),
        _attr(OID_SENDER_NONCE, core.OctetString(sender_nonce)),
        *extra_attrs,
    ]
    signed_attrs = cms.CMSAttributes(attrs)
    signature = signer_key.sign(signed_attrs.dump(), apadding.PKCS1v15(), hash_alg)
    scert = ax509.Certificate.load(signer_cert.public_bytes(serialization.Encoding.DER))
    certs = [signer_cert] if certificates is None else list(certificates)
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value=cms.IssuerAndSerialNumber(
                    {"issuer": scert.issuer, "serial_number": scert.serial_number}
                ),
            ),
            "digest_algorithm": {"algorithm": digest},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
            "signature": signature,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": digest})],
            "encap_content_info": {
                "content_type": "data",
                # always present, empty for PENDING/FAILURE: OpenSSL's PKCS7_verify (certmonger,
                # IOS) refuses a SignedData without content ("no content")
                "content": content,
            },
            "certificates": [
                ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in certs
            ],
            "signer_infos": [signer_info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


def transaction_id_for(key: RSAPrivateKey) -> str:
    """RFC 8894 §3.2.1.1: a hash of the public key, hex (the reference shows 32 hex characters)."""
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.md5(spki, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class ScepRequest:
    """A built request: the pkiMessage and what its answer must echo."""

    message: bytes
    transaction_id: str
    sender_nonce: bytes
    message_type: MessageType


def build_pkcs_req(  # noqa: PLR0917
    csr_der: bytes,
    key: RSAPrivateKey,
    signer_cert: x509.Certificate,
    cas: CaCertificates,
    caps: CaCaps,
    random_bytes: Callable[[int], bytes],
) -> ScepRequest:
    """PKCSReq (RFC 8894 §3.3.1): the PKCS#10 enveloped to the RA encryption certificate (CA's in
    CA mode), signed with our self-signed certificate."""
    env = envelope(csr_der, cas.encryption_cert, caps.cipher, random_bytes)
    tid = transaction_id_for(key)
    nonce = random_bytes(16)
    msg = sign_message(env, signer_cert, key, MessageType.PKCS_REQ, tid, nonce, caps.digest)
    return ScepRequest(msg, tid, nonce, MessageType.PKCS_REQ)


def build_cert_poll(  # noqa: PLR0917
    key: RSAPrivateKey,
    signer_cert: x509.Certificate,
    subject: x509.Name,
    cas: CaCertificates,
    caps: CaCaps,
    transaction_id: str,
    random_bytes: Callable[[int], bytes],
) -> ScepRequest:
    """CertPoll / GetCertInitial (RFC 8894 §3.3.3): IssuerAndSubject, same transaction ID."""
    issuer = ax509.Name.load(cas.ca.subject.public_bytes())
    subj = ax509.Name.load(subject.public_bytes())
    body = _IssuerAndSubject({"issuer": issuer, "subject": subj}).dump()
    env = envelope(body, cas.encryption_cert, caps.cipher, random_bytes)
    nonce = random_bytes(16)
    msg = sign_message(
        env, signer_cert, key, MessageType.CERT_POLL, transaction_id, nonce, caps.digest
    )
    return ScepRequest(msg, transaction_id, nonce, MessageType.CERT_POLL)


def build_get_crl(  # noqa: PLR0917
    key: RSAPrivateKey,
    signer_cert: x509.Certificate,
    subject_cert: x509.Certificate,
    cas: CaCertificates,
    caps: CaCaps,
    random_bytes: Callable[[int], bytes],
) -> ScepRequest:
    """GetCRL (RFC 8894 §3.3.4): IssuerAndSerialNumber of a certificate the CA issued."""
    acert = ax509.Certificate.load(subject_cert.public_bytes(serialization.Encoding.DER))
    body = cms.IssuerAndSerialNumber(
        {"issuer": acert.issuer, "serial_number": acert.serial_number}
    ).dump()
    env = envelope(body, cas.encryption_cert, caps.cipher, random_bytes)
    nonce = random_bytes(16)
    tid = transaction_id_for(key)
    msg = sign_message(env, signer_cert, key, MessageType.GET_CRL, tid, nonce, caps.digest)
    return ScepRequest(msg, tid, nonce, MessageType.GET_CRL)


class _IssuerAndSubject(core.Sequence):  # type: ignore[misc]
    _fields = [("issuer", ax509.Name), ("subject", ax509.Name)]


# --- CertRep ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedAttributes:
    """The signed attributes of a pkiMessage, raw (for ``debug crypto ca``) and decoded."""

    message_type: str | None
    pki_status: str | None
    fail_info: str | None
    transaction_id: str | None
    sender_nonce: bytes | None
    recipient_nonce: bytes | None
    raw: tuple[tuple[str, bytes], ...]  # (OID, DER of the value) in order


@dataclass(frozen=True)
class CertRep:
    """A verified CertRep (RFC 8894 §3.3.2)."""

    status: PkiStatus
    fail_info: FailInfo | None
    attributes: SignedAttributes
    certificates: tuple[x509.Certificate, ...] = ()  # SUCCESS: the issued certs
    crl: bytes | None = None  # SUCCESS to GetCRL: the DER CRL

    @property
    def fail_word(self) -> str:
        return self.fail_info.word if self.fail_info is not None else "unknown failure"


def read_signed_message(
    der: bytes, signers: Sequence[x509.Certificate], trust_carried: bool = False
) -> tuple[SignedAttributes, bytes, x509.Certificate]:
    """Verify a pkiMessage's signature (by one of *signers*, or a certificate it carries that one
    of *signers* issued; any carried one with *trust_carried*, as a SCEP server does for the
    requester's self-signed certificate) and return its attributes, encapsulated content and
    signer certificate."""
    info = load_content_info(der)
    if info["content_type"].native != "signed_data":
        raise ScepError("pkiMessage is not SignedData")
    try:
        signed = info["content"]
        infos = list(signed["signer_infos"])
        if len(infos) != 1:
            raise ScepError("pkiMessage must have one signer")
        si = infos[0]
        content = signed["encap_content_info"]["content"]
        content_bytes = b"" if content.native is None else bytes(content.native)
        sid = si["sid"].chosen
        sid_issuer_der = sid["issuer"].dump()
        sid_serial = int(sid["serial_number"].native)
        carried = [
            load_certificate(c.chosen.dump())
            for c in (signed["certificates"] or ())
            if c.name == "certificate"
        ]
        digest_name = si["digest_algorithm"]["algorithm"].native
        attrs_der = si["signed_attrs"].dump()
        signature = si["signature"].native
        attr_list = list(si["signed_attrs"])
    except ScepError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ScepError(f"Invalid format for BER encoding ({exc})") from None
    candidates = [*signers, *carried]
    signer = next(
        (
            c
            for c in candidates
            if c.serial_number == sid_serial and c.issuer.public_bytes() == sid_issuer_der
        ),
        None,
    )
    if signer is None:
        raise ScepError("pkiMessage signer unknown")
    if not trust_carried and signer not in signers and not any(
        _issued_by(signer, s) for s in signers
    ):
        raise ScepError("pkiMessage signer not issued by the CA")
    hash_alg: hashes.HashAlgorithm
    if digest_name == "sha256":
        hash_alg = hashes.SHA256()
    elif digest_name == "sha1":
        hash_alg = hashes.SHA1()  # noqa: S303
    elif digest_name == "sha512":
        hash_alg = hashes.SHA512()
    else:
        raise ScepError(f"badAlg: digest {digest_name}")
    to_verify = b"\x31" + attrs_der[1:]
    pub = signer.public_key()
    if not isinstance(pub, RSAPublicKey):
        raise ScepError("pkiMessage signer has no RSA key")
    try:
        pub.verify(signature, to_verify, apadding.PKCS1v15(), hash_alg)
    except InvalidSignature:
        raise ScepError("failed to verify the pkiMessage signature") from None
    values: dict[str, object] = {}
    raw: list[tuple[str, bytes]] = []
    for attr in attr_list:
        oid = attr["type"].dotted
        try:
            first = attr["values"][0]
            raw.append((oid, first.dump()))
            values[oid] = first.native
        except (IndexError, ValueError, TypeError):
            continue
    md = values.get("1.2.840.113549.1.9.4")
    want = hashlib.new(digest_name, content_bytes).digest()
    if not isinstance(md, bytes) or not hmac.compare_digest(md, want):
        raise ScepError("badMessageCheck: message digest mismatch")

    def text(oid: str) -> str | None:
        v = values.get(oid)
        return v if isinstance(v, str) else None

    def octets(oid: str) -> bytes | None:
        v = values.get(oid)
        return v if isinstance(v, bytes) else None

    attrs = SignedAttributes(
        message_type=text(OID_MESSAGE_TYPE),
        pki_status=text(OID_PKI_STATUS),
        fail_info=text(OID_FAIL_INFO),
        transaction_id=text(OID_TRANSACTION_ID),
        sender_nonce=octets(OID_SENDER_NONCE),
        recipient_nonce=octets(OID_RECIPIENT_NONCE),
        raw=tuple(raw),
    )
    return attrs, content_bytes, signer


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def parse_cert_rep(
    der: bytes,
    request: ScepRequest,
    cas: CaCertificates,
    key: RSAPrivateKey,
) -> CertRep:
    """Verify and open a CertRep answering *request*: signature by the RA signature certificate
    (or the CA), transaction ID and recipient nonce echoed, then on SUCCESS the issued
    certificates (or CRL) decrypted with our key."""
    attrs, content, _signer = read_signed_message(der, cas.signer_certs)
    if attrs.message_type != MessageType.CERT_REP.value:
        raise ScepError(f"unexpected messageType {attrs.message_type}")
    if attrs.transaction_id != request.transaction_id:
        raise ScepError("transactionID mismatch")
    if attrs.recipient_nonce is None or not hmac.compare_digest(
        attrs.recipient_nonce, request.sender_nonce
    ):
        raise ScepError("recipientNonce mismatch")
    try:
        status = PkiStatus(attrs.pki_status)
    except ValueError:
        raise ScepError(f"bad pkiStatus {attrs.pki_status!r}") from None
    if status is PkiStatus.FAILURE:
        try:
            fail = FailInfo(attrs.fail_info) if attrs.fail_info is not None else None
        except ValueError:
            fail = None
        return CertRep(status, fail, attrs)
    if status is PkiStatus.PENDING:
        return CertRep(status, None, attrs)
    inner = open_envelope(content, key)
    info = load_content_info(inner)
    if info["content_type"].native != "signed_data":
        raise ScepError("CertRep content is not a certificates-only SignedData")
    crl: bytes | None = None
    try:
        crls = info["content"]["crls"]
        if crls is not None and len(crls):
            crl = crls[0].chosen.dump()
    except (ValueError, TypeError, KeyError):
        crl = None
    certs: tuple[x509.Certificate, ...] = ()
    if crl is None or info["content"]["certificates"]:
        certs = parse_certs_only(inner)
    return CertRep(status, None, attrs, certs, crl)
