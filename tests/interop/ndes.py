"""An NDES-style SCEP server for tests (RFC 8894 §3/§4 as Microsoft NDES speaks it): a CA with
separate RA signature and RA encryption certificates (GetCACert answers all three as
``application/x-x509-ca-ra-cert``), challenge passwords, PENDING until the test approves
(CertPoll = GetCertInitial then gets SUCCESS), GetCRL with revocations the test makes.

``NdesEmulator`` is the pure part (bytes in, bytes out); ``NdesResource`` is its twisted.web face
for real HTTP on 127.0.0.1 and for treq's ``StubTreq``. Real SCEP clients (certmonger, PyScep)
accept this dialect; micromdm's scepserver (the real server) has neither RA mode nor PENDING.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from asn1crypto import cms, core
from asn1crypto import crl as acrl
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.x509.oid import NameOID
from twisted.web import resource
from twisted.web.server import Request

from pixgw.pki import pkcs7, scep

_KEYS: dict[int, RSAPrivateKey] = {}


def cached_key(index: int, bits: int = 2048) -> RSAPrivateKey:
    """Keys cached per process (RSA generation is the slow part of these tests)."""
    if index not in _KEYS:
        _KEYS[index] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _KEYS[index]


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pixgw tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make_cert(
    subject: x509.Name,
    key: RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: RSAPrivateKey,
    serial: int,
    *,
    ca: bool = False,
    key_usage: x509.KeyUsage | None = None,
    start: dt.datetime | None = None,
    days: int = 365,
    san: list[x509.GeneralName] | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    cdp: str | None = None,
) -> x509.Certificate:
    start = start or dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if key_usage is not None:
        b = b.add_extension(key_usage, critical=True)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if cdp:
        b = b.add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(cdp)], None, None, None)]
            ),
            critical=False,
        )
    return b.sign(issuer_key, hashes.SHA256())


def ku(*, sign: bool = False, encipher: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=encipher,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass
class NdesEmulator:
    challenge: str = "ndes-challenge"
    ra_mode: bool = True
    pending: bool = False
    caps: bytes = b"POSTPKIOperation\nRenewal\nSHA-256\nSHA-1\nDES3\nAES\n"
    answer_cipher: str = "des3"
    ca_key: RSAPrivateKey = field(default_factory=lambda: cached_key(1))
    ra_sig_key: RSAPrivateKey = field(default_factory=lambda: cached_key(2))
    ra_enc_key: RSAPrivateKey = field(default_factory=lambda: cached_key(3))
    waiting: dict[str, x509.CertificateSigningRequest] = field(default_factory=dict)
    approved: set[str] = field(default_factory=set)
    issued: list[x509.Certificate] = field(default_factory=list)
    revoked: set[int] = field(default_factory=set)
    operations: list[str] = field(default_factory=list)
    next_serial: int = 0x0347DC82000000000010
    # the CRLs it publishes: valid this long from "now" (a test's clock may say when now is)
    crl_lifetime: dt.timedelta = dt.timedelta(days=1)
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    crl_down: bool = False  # GetCRL answered with an error

    def __post_init__(self) -> None:
        ca_name = _name("pixgw test CA")
        self.ca_cert = make_cert(
            ca_name, self.ca_key, ca_name, self.ca_key, 0x1102485095CBF8B3, ca=True,
            key_usage=ku(sign=True, ca=True), days=3650,
        )
        self.ra_sig_cert = make_cert(
            _name("pixgw test RA"), self.ra_sig_key, ca_name, self.ca_key,
            0x0347DC82000000000002, key_usage=ku(sign=True),
        )
        self.ra_enc_cert = make_cert(
            _name("pixgw test RA"), self.ra_enc_key, ca_name, self.ca_key,
            0x0347DF0D000000000003, key_usage=ku(encipher=True),
        )

    # --- the operations --------------------------------------------------------------------

    def get_ca_caps(self) -> bytes:
        self.operations.append("GetCACaps")
        return self.caps

    def get_ca_cert(self) -> tuple[str, bytes]:
        self.operations.append("GetCACert")
        if not self.ra_mode:
            return "application/x-x509-ca-cert", self.ca_cert.public_bytes(
                serialization.Encoding.DER
            )
        return "application/x-x509-ca-ra-cert", pkcs7.certs_only(
            [self.ra_sig_cert, self.ra_enc_cert, self.ca_cert]
        )

    def approve_all(self) -> None:
        self.approved.update(self.waiting)

    def crl(self) -> bytes:
        now = self.now()
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca_cert.subject)
            .last_update(now - dt.timedelta(minutes=5))
            .next_update(now + self.crl_lifetime)
        )
        for serial in sorted(self.revoked):
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(now - dt.timedelta(minutes=1))
                .build()
            )
        return b.sign(self.ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def pki_operation(self, message: bytes) -> bytes:
        dec_key = self.ra_enc_key if self.ra_mode else self.ca_key
        attrs, content, requester = scep.read_signed_message(message, [], trust_carried=True)
        mtype = attrs.message_type or ""
        self.operations.append(
            {"19": "PKCSReq", "20": "GetCertInitial", "22": "GetCRL"}.get(mtype, mtype)
        )
        tid = attrs.transaction_id or ""
        nonce = attrs.sender_nonce or b""
        body = pkcs7.open_envelope(content, dec_key)
        if mtype == scep.MessageType.PKCS_REQ.value:
            csr = x509.load_der_x509_csr(body)
            got = None
            for attr in csr.attributes:
                if attr.oid == x509.oid.AttributeOID.CHALLENGE_PASSWORD:
                    got = attr.value.decode()
            if got != self.challenge:
                return self._rep(tid, nonce, scep.PkiStatus.FAILURE, requester, fail="2")
            if self.pending and tid not in self.approved:
                self.waiting[tid] = csr
                return self._rep(tid, nonce, scep.PkiStatus.PENDING, requester)
            return self._issue(tid, nonce, csr, requester)
        if mtype == scep.MessageType.CERT_POLL.value:
            if tid not in self.waiting:
                return self._rep(tid, nonce, scep.PkiStatus.FAILURE, requester, fail="4")
            if tid not in self.approved:
                return self._rep(tid, nonce, scep.PkiStatus.PENDING, requester)
            return self._issue(tid, nonce, self.waiting.pop(tid), requester)
        if mtype == scep.MessageType.GET_CRL.value:
            if self.crl_down:
                raise scep.ScepError("the CRL service is down")
            signed = cms.SignedData(
                {
                    "version": "v1",
                    "digest_algorithms": [],
                    "encap_content_info": {"content_type": "data"},
                    "crls": [cms.RevocationInfoChoice(
                        name="crl", value=acrl.CertificateList.load(self.crl())
                    )],
                    "signer_infos": [],
                }
            )
            inner = cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()
            return self._rep(tid, nonce, scep.PkiStatus.SUCCESS, requester, inner=inner)
        return self._rep(tid, nonce, scep.PkiStatus.FAILURE, requester, fail="2")

    def _issue(
        self, tid: str, nonce: bytes, csr: x509.CertificateSigningRequest,
        requester: x509.Certificate,
    ) -> bytes:
        serial = self.next_serial
        self.next_serial += 1
        now = dt.datetime.now(dt.UTC)
        cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        san = [x509.DNSName(str(cn[0].value))] if cn else []
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.ca_cert.subject)
            .public_key(csr.public_key())
            .serial_number(serial)
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(ku(sign=True, encipher=True), critical=True)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.issued.append(cert)
        inner = pkcs7.certs_only([cert])
        return self._rep(tid, nonce, scep.PkiStatus.SUCCESS, requester, inner=inner)

    def _rep(
        self, tid: str, nonce: bytes, status: scep.PkiStatus, requester: x509.Certificate,
        *, fail: str | None = None, inner: bytes | None = None,
    ) -> bytes:
        signer_cert = self.ra_sig_cert if self.ra_mode else self.ca_cert
        signer_key = self.ra_sig_key if self.ra_mode else self.ca_key
        content = b""
        if inner is not None:
            content = pkcs7.envelope(inner, requester, self.answer_cipher, os.urandom)
        extra = [
            cms.CMSAttribute(
                {"type": scep.OID_PKI_STATUS, "values": [core.PrintableString(status.value)]}
            ),
            cms.CMSAttribute(
                {"type": scep.OID_RECIPIENT_NONCE, "values": [core.OctetString(nonce)]}
            ),
        ]
        if fail is not None:
            extra.append(
                cms.CMSAttribute(
                    {"type": scep.OID_FAIL_INFO, "values": [core.PrintableString(fail)]}
                )
            )
        return scep.sign_message(
            content, signer_cert, signer_key, scep.MessageType.CERT_REP, tid, os.urandom(16),
            "sha256", extra, [signer_cert],
        )


class NdesResource(resource.Resource):
    """``/certsrv/mscep/mscep.dll``: GET and POST ``?operation=...`` like NDES."""

    isLeaf = True

    def __init__(self, ndes: NdesEmulator) -> None:
        super().__init__()
        self.ndes = ndes

    def _answer(self, request: Request, message: bytes | None) -> bytes:
        op = (request.args or {}).get(b"operation", [b""])[0].decode()
        if op == "GetCACaps":
            request.setHeader(b"content-type", b"text/plain")
            return self.ndes.get_ca_caps()
        if op == "GetCACert":
            ctype, body = self.ndes.get_ca_cert()
            request.setHeader(b"content-type", ctype.encode())
            return body
        if op == "PKIOperation" and message is not None:
            try:
                body = self.ndes.pki_operation(message)
            except scep.ScepError:
                request.setResponseCode(400)
                return b"bad request"
            request.setHeader(b"content-type", b"application/x-pki-message")
            return body
        request.setResponseCode(404)
        return b"unknown operation"

    def render_GET(self, request: Request) -> bytes:
        import base64

        args = request.args or {}
        msg = args.get(b"message", [None])[0]
        if args.get(b"operation") != [b"PKIOperation"] or not msg:
            return self._answer(request, None)  # GetCACert's message is a CA name, not base64
        try:
            return self._answer(request, base64.b64decode(msg))
        except ValueError:
            request.setResponseCode(400)
            return b"bad base64"

    def render_POST(self, request: Request) -> bytes:
        assert request.content is not None
        return self._answer(request, request.content.read())


__all__ = ["NdesEmulator", "NdesResource", "cached_key", "ku", "make_cert"]

_unused = (ax509,)
