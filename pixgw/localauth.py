"""Local PPP authentication against ``username`` / ``vpdn username`` lines (RFC 1334 PAP,
RFC 1994 CHAP-MD5, RFC 2433 MS-CHAPv1, RFC 2759 MS-CHAPv2).

This is the gateway's ``Authenticate`` seam for ``vpdn group G client authentication local`` (and
a group with no ``client authentication``): the PPP layer's :class:`AuthenticationRequested` is
checked here against the cleartext password of the user, and an MS-CHAPv2 success carries the
authenticator response the client verifies. CHAP and the MS-CHAPs need the cleartext: a user
whose password is stored ``encrypted`` (a PIX hash) can use PAP only, and the refusal says so.
"""

from __future__ import annotations

import hashlib
import hmac

from twisted.internet.defer import Deferred, succeed

from pixgw.config.model import PixConfig
from pixgw.gateway import AuthDecision, ClientInfo
from pixgw.ppp import mschap
from pixgw.ppp.auth import AuthenticationRequested
from pixgw.syslog import pix_log


def _users(config: PixConfig) -> dict[str, tuple[str, bool]]:
    """name -> (password, encrypted); ``vpdn username`` wins over ``username``."""
    users = {u.name: (u.password, u.encrypted or u.nt_encrypted) for u in config.usernames}
    users.update({u.name: (u.password, False) for u in config.vpdn.usernames})
    return users


class LocalAuthenticator:
    def __init__(self, config: PixConfig) -> None:
        self._users = _users(config)

    def __call__(
        self, request: AuthenticationRequested, client: ClientInfo
    ) -> Deferred[AuthDecision]:
        return succeed(self.check(request))

    def check(self, request: AuthenticationRequested) -> AuthDecision:
        entry = self._users.get(request.username)
        if entry is None:
            return self._reject(request, "unknown user")
        password, encrypted = entry
        if encrypted:
            return self._reject(
                request, f"{request.protocol} needs the cleartext password (stored encrypted)"
            )
        if request.protocol == "pap":
            given = (request.password or "").encode("utf-8")
            ok = hmac.compare_digest(given, password.encode("utf-8"))
            return AuthDecision(True) if ok else self._reject(request, "bad password")
        if request.protocol == "chap":
            expected = hashlib.md5(  # noqa: S324  (CHAP-MD5 is MD5 by definition)
                bytes([request.identifier]) + password.encode("utf-8") + request.challenge
            ).digest()
            ok = hmac.compare_digest(expected, request.response)
            return AuthDecision(True) if ok else self._reject(request, "bad password")
        password_hash = mschap.nt_password_hash(password)
        if request.protocol == "mschap":
            expected = mschap.mschapv1_nt_response(request.challenge, password_hash)
            ok = hmac.compare_digest(expected, request.nt_response)
            return AuthDecision(True) if ok else self._reject(request, "bad password")
        expected = mschap.generate_nt_response(
            request.challenge, request.peer_challenge, request.username, password_hash
        )
        if not hmac.compare_digest(expected, request.nt_response):
            return self._reject(request, "bad password")
        return AuthDecision(
            True,
            mschapv2_authenticator_response=mschap.generate_authenticator_response(
                password_hash,
                request.nt_response,
                request.peer_challenge,
                request.challenge,
                request.username,
            ),
        )

    @staticmethod
    def _reject(request: AuthenticationRequested, why: str) -> AuthDecision:
        pix_log(113005, f"AAA user authentication Rejected : reason = {why} : server = LOCAL : "
                f"user = {request.username}")
        return AuthDecision(False, "Authentication failure")
