"""Keeping the CRLs IKE checks against current (RFC 5280 §5.1.2.5: a CRL is good until its
nextUpdate). Every minute, a CRL within its margin of nextUpdate (a tenth of its validity, at
least a minute, at most an hour) is fetched again the way it came: ``ca crl request``'s SCEP
GetCRL for a ``ca identity``'s CA, or the CDP URL a peer's certificate named; the URLs peers'
certificates named that the cache lacks are fetched too. A failure is logged as the ASA does
(``%PIX-3-717012: Failed to refresh CRL cache entry from the server for trustpoint T at
TIME``), counted, and tried again five minutes later. A CRL past its nextUpdate is not used:
with ``crloptional`` a peer is let in with the PIX's "cert revocation status unknown"
warning, without it refused (:meth:`pixgw.pki.ike.PkiCertificateSource.verify_peer`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from pixgw.pki.commands import CaExec
from pixgw.syslog import debug, pix_log

__all__ = ["CHECK_EVERY", "RETRY_AFTER", "CrlRefresher"]

CHECK_EVERY = 60.0
RETRY_AFTER = 300.0
MIN_MARGIN, MAX_MARGIN = 60.0, 3600.0

_log = Logger(namespace="pixgw")


class CrlRefresher:
    """Fetches CRLs again before their nextUpdate (see the module). *clock* provides
    ``seconds``/``callLater``; *http* is treq's (the default client when None)."""

    def __init__(self, pki: CaExec, clock: Any, *, http: Any = None) -> None:
        self.pki = pki
        self.clock = clock
        self.http = http
        self._not_before: dict[bytes, float] = {}  # issuer -> no new try before this time
        self._loop: LoopingCall | None = None
        self._busy = False

    @property
    def refreshed(self) -> int:
        return self.pki.crls_refreshed

    @property
    def failures(self) -> int:
        return self.pki.crl_refresh_failures

    def start(self) -> None:
        self._loop = LoopingCall(self.check)
        self._loop.clock = self.clock
        self._loop.start(CHECK_EVERY, now=False).addErrback(
            lambda f: _log.failure("CRL refresh stopped", f))

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def due(self, now: float) -> list[bytes]:
        """The issuers whose CRL is within its margin of nextUpdate (or past it)."""
        out = []
        for issuer, crl in self.pki.source.crls.items():
            next_update = crl.next_update_utc
            if next_update is None:
                continue
            validity = (next_update - crl.last_update_utc).total_seconds()
            margin = min(MAX_MARGIN, max(MIN_MARGIN, validity / 10))
            if now >= next_update.timestamp() - margin and self._not_before.get(issuer, 0) <= now:
                out.append(issuer)
        return out

    def check(self) -> Deferred[None]:
        """One round; never fails (what goes wrong is logged), never runs twice at once."""
        if self._busy:
            return succeed(None)
        self._busy = True
        d = self._round()

        def done(result: Any) -> None:
            self._busy = False
            if hasattr(result, "getTraceback"):
                _log.failure("CRL refresh round failed", result)

        return d.addBoth(done)

    @inlineCallbacks
    def _round(self) -> Any:
        for issuer in self.due(self.clock.seconds()):
            yield self._refresh(issuer)
        if self.pki.source.missing_crl_urls:
            yield self.pki.refresh_crls(self.http)

    @inlineCallbacks
    def _refresh(self, issuer: bytes) -> Any:
        pki = self.pki
        name = pki.identity_of_issuer(issuer)
        url = pki.crl_urls.get(issuer)
        before = pki.source.crls.get(issuer)
        ok = False
        try:
            if name is not None:
                errors = yield pki.crl_request(name)
                ok = errors == []
            elif url is not None:
                from pixgw.pki.mscep import default_http, fetch_crl  # noqa: PLC0415 (the shell)

                der = yield fetch_crl(url, self.http if self.http is not None else default_http())
                ok = der is not None and pki.source.add_crl(der)
        except Exception as e:
            _log.warn("CRL refresh for {what} failed: {error}", what=name or url, error=e)
        now = self.clock.seconds()
        after = pki.source.crls.get(issuer)
        newer = after is not None and (before is None or after.last_update_utc
                                       > before.last_update_utc)
        if ok and newer and after is not None:
            self.pki.crls_refreshed += 1
            self._not_before.pop(issuer, None)
            debug("crypto ca", f"CRYPTO_PKI: CRL for {name or url} refreshed, next update "
                               f"{after.next_update_utc}")
            if issuer in self.due(now):  # the CA's new CRL is as short-lived: not every minute
                self._not_before[issuer] = now + RETRY_AFTER
            return
        self.pki.crl_refresh_failures += 1
        self._not_before[issuer] = now + RETRY_AFTER
        at = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%H:%M:%S UTC %a %b %d %Y")
        pix_log(717012, f"Failed to refresh CRL cache entry from the server for trustpoint "
                        f"{name or url or 'unknown'} at {at}")
