"""PPP credentials for twisted.cred: RFC 1334 §2.2.1 PAP, RFC 1994 §4.1 CHAP-MD5, RFC 2433 §5
MS-CHAPv1 (49-byte Response: LM 24, NT 24, flags) and RFC 2759 §4 MS-CHAPv2 (Peer-Challenge,
NT-Response).

Like :class:`twisted.cred.credentials.CramMD5Credentials`, each carries what the peer sent and a
local check (``check_password`` from the cleartext, ``check_nt_hash`` from the MD4 NT hash) that a
local checker uses; a RADIUS or LDAP checker sends the fields to its server instead. Passwords
never appear in a repr.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from zope.interface import Attribute, Interface, implementer

from pixgw.aaa.interfaces import ClientInfo
from pixgw.ppp import mschap

__all__ = [
    "ChapMd5Credentials",
    "IChapMd5Credentials",
    "IMsChapV1Credentials",
    "IMsChapV2Credentials",
    "IPapCredentials",
    "IPppCredentials",
    "MsChapV1Credentials",
    "MsChapV2Credentials",
    "PapCredentials",
    "PppCredentials",
]


class IPppCredentials(Interface):
    """Any PPP authentication attempt."""

    username = Attribute("the name the peer gave (str)")


class IPapCredentials(IPppCredentials):
    password = Attribute("cleartext password (str)")

    def check_password(password: str) -> bool:
        """True when ``password`` is the one the peer sent."""


class IChapMd5Credentials(IPppCredentials):
    def check_password(password: str) -> bool:
        """True when MD5(identifier | password | challenge) is the peer's response."""


class IMsChapV1Credentials(IPppCredentials):
    def check_password(password: str) -> bool:
        """RFC 2433 NT-Response check from the cleartext."""

    def check_nt_hash(nt_hash: bytes) -> bool:
        """RFC 2433 NT-Response check from the 16-byte NT hash."""


class IMsChapV2Credentials(IPppCredentials):
    def check_password(password: str) -> bool:
        """RFC 2759 §8.1 GenerateNTResponse check from the cleartext."""

    def check_nt_hash(nt_hash: bytes) -> bool:
        """RFC 2759 §8.1 GenerateNTResponse check from the 16-byte NT hash."""


# every PPP authentication protocol's credentials (a checker that takes them all says so)
PPP_CREDENTIALS = (IPapCredentials, IChapMd5Credentials, IMsChapV1Credentials, IMsChapV2Credentials)


@implementer(IPapCredentials)
@dataclass(frozen=True)
class PapCredentials:
    username: str
    password: str = field(repr=False)
    client: ClientInfo | None = field(default=None, compare=False, repr=False)

    def check_password(self, password: str) -> bool:
        return hmac.compare_digest(self.password.encode("utf-8"), password.encode("utf-8"))


@implementer(IChapMd5Credentials)
@dataclass(frozen=True)
class ChapMd5Credentials:
    username: str
    identifier: int
    challenge: bytes
    response: bytes
    client: ClientInfo | None = field(default=None, compare=False, repr=False)

    def expected_response(self, password: str) -> bytes:
        return hashlib.md5(  # noqa: S324 - RFC 1994 CHAP is MD5 by definition
            bytes([self.identifier & 0xFF]) + password.encode("utf-8") + self.challenge
        ).digest()

    def check_password(self, password: str) -> bool:
        return hmac.compare_digest(self.expected_response(password), self.response)


@implementer(IMsChapV1Credentials)
@dataclass(frozen=True)
class MsChapV1Credentials:
    """``response`` is the 49-byte MS-CHAP Response (LM-Response, NT-Response, use-NT flag)."""

    username: str
    challenge: bytes
    response: bytes
    identifier: int = 0
    client: ClientInfo | None = field(default=None, compare=False, repr=False)

    @property
    def nt_response(self) -> bytes:
        return self.response[24:48]

    def check_nt_hash(self, nt_hash: bytes) -> bool:
        if len(self.response) != 49 or len(self.challenge) != 8 or len(nt_hash) != 16:
            return False
        expected = mschap.mschapv1_nt_response(self.challenge, nt_hash)
        return hmac.compare_digest(expected, self.nt_response)

    def check_password(self, password: str) -> bool:
        return self.check_nt_hash(mschap.nt_password_hash(password))

    def mppe_keys(self, nt_hash: bytes) -> tuple[bytes, bytes]:
        return mschap.mppe_v1_keys(nt_hash, self.challenge)


@implementer(IMsChapV2Credentials)
@dataclass(frozen=True)
class MsChapV2Credentials:
    """RFC 2759: the authenticator's 16-byte challenge and the peer's Peer-Challenge and
    24-byte NT-Response."""

    username: str
    authenticator_challenge: bytes
    peer_challenge: bytes
    nt_response: bytes
    identifier: int = 0
    client: ClientInfo | None = field(default=None, compare=False, repr=False)

    def check_nt_hash(self, nt_hash: bytes) -> bool:
        if (
            len(self.authenticator_challenge) != 16
            or len(self.peer_challenge) != 16
            or len(self.nt_response) != 24
            or len(nt_hash) != 16
        ):
            return False
        expected = mschap.generate_nt_response(
            self.authenticator_challenge, self.peer_challenge, self.username, nt_hash
        )
        return hmac.compare_digest(expected, self.nt_response)

    def check_password(self, password: str) -> bool:
        return self.check_nt_hash(mschap.nt_password_hash(password))

    def authenticator_response(self, nt_hash: bytes) -> str:
        """The "S=..." string of RFC 2759 §8.7 the client verifies."""
        return mschap.generate_authenticator_response(
            nt_hash,
            self.nt_response,
            self.peer_challenge,
            self.authenticator_challenge,
            self.username,
        )

    def mppe_keys(self, nt_hash: bytes) -> tuple[bytes, bytes]:
        return mschap.mppe_v2_keys(nt_hash, self.nt_response)

    @property
    def response(self) -> bytes:
        """The 49-byte Response value: Peer-Challenge, 8 reserved zeros, NT-Response, flags."""
        return self.peer_challenge + bytes(8) + self.nt_response + b"\x00"


PppCredentials = PapCredentials | ChapMd5Credentials | MsChapV1Credentials | MsChapV2Credentials
