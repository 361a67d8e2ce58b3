"""The SCEP client shell over HTTP with treq (RFC 8894 §4: GetCACaps, GetCACert, PKIOperation by
GET with a base64 ``message`` or by POST per the CA's capabilities; §3.3.3 CertPoll every
retry period up to the retry count), speaking the Microsoft NDES dialect (``mscep.dll``, RA
certificates), and the ``file`` CA plugin (certificates from PEM/DER files). The messages
themselves are built and checked by :mod:`pixgw.pki.scep`; this module only moves them and says
what happens in the ``debug crypto ca`` words of the PIX.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import treq
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from treq.client import HTTPClient
from twisted.internet import defer, task
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.web.client import Agent, HTTPConnectionPool
from zope.interface import implementer

from pixgw.pki import pkcs7, scep
from pixgw.pki.interfaces import CaError, EnrollmentRequest, ICertificateAuthority
from pixgw.syslog import debug

__all__ = [
    "PLUGINS",
    "FileCertificateAuthority",
    "ScepCertificateAuthority",
    "fetch_crl",
    "load_certificates",
]

CATEGORY = "crypto ca"
CONNECTION_FAILED = "%Error in connection to Certificate Authority: status = FAIL"
_ATTR_NAMES = {
    scep.OID_MESSAGE_TYPE: "pki-message-type",
    scep.OID_PKI_STATUS: "pki-status",
    scep.OID_FAIL_INFO: "pki-fail-info",
    scep.OID_RECIPIENT_NONCE: "pki-recipient-nonce",
    scep.OID_TRANSACTION_ID: "pki-transaction-id",
}


def _hex(der: bytes) -> str:
    return " ".join(f"{b:02x}" for b in der)


def default_http(clock: Any = None) -> HTTPClient:
    """A treq client with one connection per operation: SCEP and CRL fetches are rare, and
    nothing lingers after them."""
    if clock is None:
        from twisted.internet import reactor  # noqa: PLC0415

        clock = reactor
    pool = HTTPConnectionPool(clock, persistent=False)  # type: ignore[no-untyped-call]
    return HTTPClient(Agent(clock, pool=pool))  # type: ignore[no-untyped-call]


def _refuse(said: tuple[str, ...], errors: tuple[str, ...]) -> NoReturn:
    """``debug crypto ca`` shows *said* and then *errors*; the command fails with *errors*."""
    for line in (*said, *errors):
        debug(CATEGORY, line)
    raise CaError(*errors)


@implementer(ICertificateAuthority)
class ScepCertificateAuthority:
    """A SCEP CA at *url* (``http://HOST/certsrv/mscep/mscep.dll``) in ``ca`` or ``ra`` mode.

    *http* is a treq ``HTTPClient`` or anything with its ``get``/``post`` (``StubTreq`` in tests;
    default: a client without persistent connections); *retry_period*
    is in seconds (``ca configure``'s minutes x 60), *retry_count* 0 means poll forever (bounded
    here by 1000 polls)."""

    def __init__(
        self,
        name: str,
        url: str,
        mode: str = "ra",
        retry_period: float = 60.0,
        retry_count: int = 0,
        *,
        http: Any = None,
        clock: IReactorTime | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        now: Callable[[], float] | None = None,
        timeout: float = 20.0,
    ) -> None:
        self.name = name
        self.url = url
        self.mode = mode
        self.retry_period = retry_period
        self.retry_count = retry_count
        if clock is None:
            from twisted.internet import reactor  # noqa: PLC0415

            clock = reactor
        self.http: Any = http if http is not None else default_http(clock)
        self.clock: IReactorTime = clock
        self.random_bytes = random_bytes
        self.now = now or self.clock.seconds
        self.timeout = timeout
        self.caps: scep.CaCaps | None = None
        self.cas: scep.CaCertificates | None = None
        self.session = 0
        self.key: rsa.RSAPrivateKey | None = None  # signs GetCRL (set by enroll)

    # --- HTTP -------------------------------------------------------------------------------

    @defer.inlineCallbacks
    def _http(
        self, operation: str, message: bytes | None = None, post: bool = False,
        name: str | None = None,
    ) -> Any:
        params = {"operation": operation}
        if name is not None:  # GetCACaps/GetCACert: message=CA-IDENT, as IOS and the PIX send
            params["message"] = name
        try:
            if post and message is not None:
                resp = yield self.http.post(
                    self.url,
                    params=params,
                    data=message,
                    headers={b"Content-Type": [b"application/x-pki-message"]},
                    timeout=self.timeout,
                )
            else:
                if message is not None:
                    params["message"] = base64.b64encode(message).decode("ascii")
                resp = yield self.http.get(self.url, params=params, timeout=self.timeout)
            debug(CATEGORY, "CRYPTO_PKI: http connection opened")
            body = yield treq.content(resp)
        except Exception as exc:  # connection refused, timeout, DNS: all "FAIL"
            debug(CATEGORY, f"CRYPTO_PKI: http connection failed: {type(exc).__name__}")
            raise CaError(CONNECTION_FAILED) from None
        if resp.code != 200:
            debug(CATEGORY, f"CRYPTO_PKI: http status {resp.code}")
            raise CaError(CONNECTION_FAILED)
        if len(body) > pkcs7.MAX_MESSAGE:
            raise CaError(CONNECTION_FAILED)
        ctype = (resp.headers.getRawHeaders(b"content-type") or [b""])[0].decode("latin-1")
        debug(CATEGORY, f"CRYPTO_PKI: received msg of {len(body)} bytes")
        return ctype, body

    # --- GetCACaps / GetCACert --------------------------------------------------------------

    @defer.inlineCallbacks
    def get_ca_caps(self) -> Any:
        try:
            _ctype, body = yield self._http("GetCACaps", name=self.name)
            self.caps = scep.parse_ca_caps(body)
        except CaError:
            self.caps = scep.CaCaps()  # an old CA without GetCACaps: GET, SHA-1, DES
        return self.caps

    @defer.inlineCallbacks
    def get_ca_certificates(self) -> Any:
        try:
            ctype, body = yield self._http("GetCACert", name=self.name)
        except CaError:
            debug(CATEGORY, "msgsym(GETCARACERT, CRYPTO)!")
            debug(CATEGORY, CONNECTION_FAILED)
            debug(CATEGORY, "CRYPTO_PKI: status = 266: failed to verify")
            debug(CATEGORY, "CRYPTO_PKI: transaction GetCACert completed")
            raise
        try:
            cas = scep.parse_ca_certificates(ctype, body)
        except scep.ScepError:
            debug(CATEGORY, "CRYPTO_PKI: status = 266: failed to verify")
            debug(CATEGORY, "CRYPTO_PKI: transaction GetCACert completed")
            raise CaError(CONNECTION_FAILED) from None
        if self.mode == "ca" and cas.ra_mode:
            _refuse(
                ("Certificate has the following attributes:",
                 f"Fingerprint: {scep.ca_fingerprint(cas.ca)}",
                 "CRYPTO_PKI: transaction GetCACert completed"),
                ("CRYPTO_PKI: Error: Invalid format for BER encoding while",
                 "CRYPTO_PKI: can not set ca cert object.",
                 "CRYPTO_PKI: status = 65535: failed to process RA certiifcate"),
            )
        if self.mode == "ra" and not cas.ra_mode:
            _refuse(
                ("CRYPTO_PKI: transaction GetCACert completed",),
                ("CRYPTO_PKI: Error: no RA certificate in the CA's answer (ca configure ... ca?)",
                 "CRYPTO_PKI: status = 65535: failed to process RA certiifcate"),
            )
        debug(CATEGORY, "CRYPTO_PKI: transaction GetCACert completed")
        self.cas = cas
        return cas

    # --- PKIOperation -----------------------------------------------------------------------

    @defer.inlineCallbacks
    def _operation(
        self, request: scep.ScepRequest, cas: scep.CaCertificates, key: Any
    ) -> Any:
        caps = self.caps or scep.CaCaps()
        _ctype, body = yield self._http("PKIOperation", request.message, post=caps.post)
        try:
            rep = scep.parse_cert_rep(body, request, cas, key)
        except scep.ScepError as exc:
            debug(CATEGORY, f"CRYPTO_PKI: failed to verify the CA's answer: {exc}")
            raise CaError(f"%Error: the CA's answer is not usable ({exc})") from None
        for oid, der in rep.attributes.raw:
            if oid in _ATTR_NAMES:
                debug(CATEGORY, f"CRYPTO_PKI: signed attr: {_ATTR_NAMES[oid]}: {_hex(der)}")
        return rep

    def _signer(self, request: EnrollmentRequest) -> x509.Certificate:
        serial = int.from_bytes(self.random_bytes(8), "big") >> 1 or 1
        return scep.build_self_signed(request.key, request.subject, serial, self.now())

    @defer.inlineCallbacks
    def enroll(self, request: EnrollmentRequest) -> Any:
        if self.caps is None:
            yield self.get_ca_caps()
        cas = request.cas or self.cas
        if cas is None:
            cas = yield self.get_ca_certificates()
        caps = self.caps or scep.CaCaps()
        self.key = request.key
        signer = self._signer(request)
        req = scep.build_pkcs_req(
            request.csr_der, request.key, signer, cas, caps, self.random_bytes
        )
        rep = yield self._operation(req, cas, request.key)
        debug(CATEGORY, "CRYPTO_PKI: transaction PKCSReq completed")
        polls = 0
        limit = self.retry_count if self.retry_count > 0 else 1000
        while rep.status is scep.PkiStatus.PENDING:
            debug(CATEGORY, "CRYPTO_PKI: status = 102: certificate request pending")
            if polls >= limit:
                debug(CATEGORY, "CRYPTO_PKI: retry count exhausted, enrollment request timed out")
                raise CaError("%Error: certificate request still pending after the retry count")
            yield task.deferLater(self.clock, self.retry_period, lambda: None)
            polls += 1
            debug(CATEGORY, f"CRYPTO_PKI: resend GetCertInitial, {polls}")
            debug(CATEGORY, f"CRYPTO_PKI: resend GetCertInitial for session: {self.session}")
            poll = scep.build_cert_poll(
                request.key, signer, request.subject, cas, caps, req.transaction_id,
                self.random_bytes,
            )
            rep = yield self._operation(poll, cas, request.key)
        if rep.status is scep.PkiStatus.FAILURE:
            word = rep.fail_word
            debug(CATEGORY, f"CRYPTO_PKI: status = 101: certificate request rejected: {word}")
            raise CaError(f"%Error: the CA refused the certificate request: {word}")
        pub = request.key.public_key().public_numbers()
        mine = tuple(
            c for c in rep.certificates
            if c.public_key().public_numbers() == pub
        )
        if not mine:
            raise CaError("%Error: the CA's answer has no certificate for our key")
        debug(CATEGORY, "The certificate has been granted by CA!")
        debug(CATEGORY, "CRYPTO_PKI: status = 100: certificate is granted")
        debug(CATEGORY, "CRYPTO_PKI: All enrollment requests completed.")
        self.session += 1
        return mine + tuple(c for c in rep.certificates if c not in mine)

    @defer.inlineCallbacks
    def get_crl(self, cas: scep.CaCertificates, issued: x509.Certificate | None) -> Any:
        """GetCRL (RFC 8894 §3.3.4) for *issued* (our certificate); None when the CA does not
        answer one."""
        if issued is None:
            return None
        key = self.key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = issued.subject
        signer = scep.build_self_signed(key, subject, 1, self.now())
        req = scep.build_get_crl(
            key, signer, issued, cas, self.caps or scep.CaCaps(), self.random_bytes
        )
        try:
            rep = yield self._operation(req, cas, key)
        except CaError:
            return None
        if rep.status is not scep.PkiStatus.SUCCESS:
            return None
        return rep.crl


@defer.inlineCallbacks
def fetch_crl(url: str, http: Any, timeout: float = 20.0) -> Any:
    """A CRL from a CDP ``http://`` URL (RFC 5280 §4.2.1.13), DER or PEM; None on any failure
    (the caller then treats revocation as unknown). At most 1 MiB."""
    if not url.startswith("http://"):
        return None
    try:
        resp = yield http.get(url, timeout=timeout)
        if resp.code != 200:
            return None
        body = yield treq.content(resp)
    except Exception:
        debug(CATEGORY, f"CRYPTO_PKI: CRL fetch from {url} failed")
        return None
    if len(body) > 1024 * 1024:
        return None
    debug(CATEGORY, f"CRYPTO_PKI: received CRL of {len(body)} bytes from {url}")
    return body


def load_certificates(path: str | os.PathLike[str]) -> tuple[x509.Certificate, ...]:
    """Every certificate in a PEM (one or many) or DER file."""
    data = Path(path).read_bytes()
    if b"-----BEGIN" in data:
        return tuple(x509.load_pem_x509_certificates(data))
    return (x509.load_der_x509_certificate(data),)


@implementer(ICertificateAuthority)
class FileCertificateAuthority:
    """The ``file`` plugin: the CA certificate (and RA ones, and a CRL) from files, our
    certificate from a file too (no enrollment protocol)."""

    def __init__(
        self,
        name: str,
        ca_file: str,
        certificate_file: str | None = None,
        crl_file: str | None = None,
    ) -> None:
        self.name = name
        self.ca_file = ca_file
        self.certificate_file = certificate_file
        self.crl_file = crl_file

    def get_ca_certificates(self) -> Deferred[scep.CaCertificates]:
        try:
            certs = load_certificates(self.ca_file)
            der = certs[0].public_bytes(serialization.Encoding.DER)
            if len(certs) == 1:
                cas = scep.parse_ca_certificates("application/x-x509-ca-cert", der)
            else:
                cas = scep.parse_ca_certificates(
                    "application/x-x509-ca-ra-cert", scep.certs_only(certs)
                )
        except (OSError, ValueError, scep.ScepError) as exc:
            return defer.fail(CaError(f"%Error: cannot read CA certificate: {exc}"))
        return defer.succeed(cas)

    def enroll(self, request: EnrollmentRequest) -> Deferred[tuple[x509.Certificate, ...]]:
        if self.certificate_file is None:
            return defer.fail(CaError("%Error: the file CA has no certificate file to enroll"))
        try:
            certs = load_certificates(self.certificate_file)
        except (OSError, ValueError) as exc:
            return defer.fail(CaError(f"%Error: cannot read certificate: {exc}"))
        pub = request.key.public_key().public_numbers()
        mine = tuple(
            c for c in certs if c.public_key().public_numbers() == pub  # type: ignore[union-attr]
        )
        if not mine:
            return defer.fail(CaError("%Error: the certificate file does not match our key"))
        return defer.succeed(mine)

    def get_crl(
        self, cas: scep.CaCertificates, issued: x509.Certificate | None
    ) -> Deferred[bytes | None]:
        if self.crl_file is None:
            return defer.succeed(None)
        try:
            data = Path(self.crl_file).read_bytes()
            if b"-----BEGIN" in data:
                data = x509.load_pem_x509_crl(data).public_bytes(serialization.Encoding.DER)
        except (OSError, ValueError):
            return defer.succeed(None)
        return defer.succeed(data)


#: The CA plugins by name: ``scep`` (SCEP/MSCEP over HTTP) and ``file`` (PEM/DER files).
PLUGINS: dict[str, type] = {"scep": ScepCertificateAuthority, "file": FileCertificateAuthority}
