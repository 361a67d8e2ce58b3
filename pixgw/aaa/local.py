"""Local users (``username`` and ``vpdn username`` lines) as a twisted.cred checker and realm:
RFC 1334 §2.2.1 PAP, RFC 1994 §4.1 CHAP-MD5, RFC 2433 MS-CHAPv1 and RFC 2759 MS-CHAPv2 (with the
§8.7 authenticator response and RFC 3079 MPPE keys).

Passwords: cleartext; ``encrypted`` (the PIX 6.x hash: MD5 of the password NUL-padded to 16
bytes, each 4-byte group's first 3 bytes written as 4 characters of ``./0-9A-Za-z``, least
significant 6 bits first — PAP only); ``nt-encrypted`` (32 hex digits of the NT hash — PAP, and
both MS-CHAPs). CHAP-MD5 needs the cleartext; a user without what the protocol needs is refused
with a message that says so.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, fail, succeed
from zope.interface import implementer

from pixgw.aaa.credentials import (
    PPP_CREDENTIALS,
    ChapMd5Credentials,
    MsChapV1Credentials,
    MsChapV2Credentials,
    PapCredentials,
)
from pixgw.aaa.pixhash import user_hash_matches
from pixgw.aaa.realm import CheckedLogin, PortalAuthenticator
from pixgw.config.model import PixConfig
from pixgw.ppp import mschap

__all__ = [
    "LocalAuthenticator",
    "LocalUser",
    "LocalUsersChecker",
    "MissingSecretError",
    "pix_password_hash",
]

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def pix_password_hash(password: str) -> str:
    """The 16-character PIX 6.x ``encrypted`` form of ``password``."""
    digest = hashlib.md5(  # noqa: S324 - the PIX algorithm is MD5
        password.encode("utf-8")[:16].ljust(16, b"\x00")
    ).digest()
    out = []
    for i in range(0, 16, 4):
        value = digest[i] | digest[i + 1] << 8 | digest[i + 2] << 16
        for _ in range(4):
            out.append(_ITOA64[value & 0x3F])
            value >>= 6
    return "".join(out)


class MissingSecretError(UnauthorizedLogin):
    """The user exists but is stored in a form this protocol cannot be checked against."""


@dataclass(frozen=True)
class LocalUser:
    name: str
    cleartext: str | None = field(default=None, repr=False)
    pix_hash: str | None = field(default=None, repr=False)
    nt_hash: bytes | None = field(default=None, repr=False)


def local_users(config: PixConfig) -> dict[str, LocalUser]:
    """name -> user; a ``vpdn username`` line wins over a ``username`` line of the same name."""
    users: dict[str, LocalUser] = {}
    for u in config.usernames:
        if u.nt_encrypted:
            try:
                nt = bytes.fromhex(u.password)
            except ValueError:
                nt = b""
            users[u.name] = LocalUser(u.name, nt_hash=nt if len(nt) == 16 else None)
        elif u.encrypted:
            users[u.name] = LocalUser(u.name, pix_hash=u.password)
        else:
            users[u.name] = LocalUser(u.name, cleartext=u.password)
    for v in config.vpdn.usernames:
        users[v.name] = LocalUser(v.name, cleartext=v.password)
    return users


@implementer(ICredentialsChecker)
class LocalUsersChecker:
    credentialInterfaces = PPP_CREDENTIALS

    def __init__(self, users: dict[str, LocalUser]) -> None:
        self._users = users

    def requestAvatarId(self, credentials: Any) -> Deferred[Any]:
        try:
            return succeed(self.check(credentials))
        except UnauthorizedLogin as e:
            return fail(e)

    def check(self, credentials: Any) -> CheckedLogin:
        user = self._users.get(credentials.username)
        if user is None:
            raise UnauthorizedLogin("unknown user")
        if isinstance(credentials, PapCredentials):
            ok = self._check_pap(user, credentials)
            if not ok:
                raise UnauthorizedLogin("bad password")
            return CheckedLogin(user.name)
        if isinstance(credentials, ChapMd5Credentials):
            if user.cleartext is None:
                raise MissingSecretError(
                    f"CHAP needs the cleartext password of {user.name} (stored hashed)"
                )
            if not credentials.check_password(user.cleartext):
                raise UnauthorizedLogin("bad password")
            return CheckedLogin(user.name)
        nt_hash = user.nt_hash
        if nt_hash is None and user.cleartext is not None:
            nt_hash = mschap.nt_password_hash(user.cleartext)
        if nt_hash is None:
            raise MissingSecretError(
                f"MS-CHAP needs the cleartext or NT hash (nt-encrypted) of {user.name}"
                " (stored as a PIX hash)"
            )
        if isinstance(credentials, MsChapV1Credentials):
            if not credentials.check_nt_hash(nt_hash):
                raise UnauthorizedLogin("bad password")
            send, recv = credentials.mppe_keys(nt_hash)
            return CheckedLogin(user.name, mppe_send_key=send, mppe_recv_key=recv)
        if isinstance(credentials, MsChapV2Credentials):
            if not credentials.check_nt_hash(nt_hash):
                raise UnauthorizedLogin("bad password")
            send, recv = credentials.mppe_keys(nt_hash)
            return CheckedLogin(
                user.name,
                mschapv2_authenticator_response=credentials.authenticator_response(nt_hash),
                mppe_send_key=send,
                mppe_recv_key=recv,
            )
        raise UnauthorizedLogin("unsupported credentials")

    @staticmethod
    def _check_pap(user: LocalUser, credentials: PapCredentials) -> bool:
        if user.cleartext is not None:
            return credentials.check_password(user.cleartext)
        if user.pix_hash is not None:  # salted with the user name (pixgw.aaa.pixhash) or not
            return user_hash_matches(credentials.password, user.name, user.pix_hash)
        if user.nt_hash is not None:
            given_nt = mschap.nt_password_hash(credentials.password)
            return hmac.compare_digest(given_nt, user.nt_hash)
        return False


class LocalAuthenticator(PortalAuthenticator):
    """The ``username`` and ``vpdn username`` lines as an authenticator (group ``LOCAL``)."""

    def __init__(self, config: PixConfig, users: dict[str, LocalUser] | None = None) -> None:
        super().__init__("LOCAL", LocalUsersChecker(users if users is not None else
                                                    local_users(config)))
