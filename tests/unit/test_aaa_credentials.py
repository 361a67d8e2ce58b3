"""Credentials and local users: RFC 2759 §9.2 / RFC 2433 vectors, CHAP-MD5, PIX hashes."""

from __future__ import annotations

import hashlib

import pytest
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.error import UnauthorizedLogin
from zope.interface.verify import verifyObject

from pixgw.aaa.credentials import (
    ChapMd5Credentials,
    IMsChapV2Credentials,
    MsChapV1Credentials,
    MsChapV2Credentials,
    PapCredentials,
)
from pixgw.aaa.interfaces import Authorization, ClientInfo, IAuthenticator
from pixgw.aaa.local import (
    LocalAuthenticator,
    LocalUser,
    LocalUsersChecker,
    MissingSecretError,
    pix_password_hash,
)
from pixgw.config.model import PixConfig, Username, Vpdn, VpdnUsername
from pixgw.ppp import mschap

# RFC 2759 §9.2
USER = "User"
PASSWORD = "clientPass"
AUTH_CHALLENGE = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
NT_RESPONSE = bytes.fromhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
AUTH_RESPONSE = "S=407A5589115FD0D6209F510FE9C04566932CDA56"
NT_HASH = bytes.fromhex("44EBBA8D5312B8D611474411F56989AE")


def v2(nt_response: bytes = NT_RESPONSE) -> MsChapV2Credentials:
    return MsChapV2Credentials(USER, AUTH_CHALLENGE, PEER_CHALLENGE, nt_response)


def test_mschapv2_rfc2759_vector() -> None:
    assert IMsChapV2Credentials.providedBy(v2())
    assert v2().check_password(PASSWORD)
    assert v2().check_nt_hash(NT_HASH)
    assert not v2().check_password("clientPasS")
    assert v2().authenticator_response(NT_HASH) == AUTH_RESPONSE
    bad = bytes([NT_RESPONSE[0] ^ 1]) + NT_RESPONSE[1:]
    assert not v2(bad).check_nt_hash(NT_HASH)


def test_mschapv2_wrong_lengths_are_refused_not_raised() -> None:
    assert not MsChapV2Credentials(USER, b"short", PEER_CHALLENGE, NT_RESPONSE).check_nt_hash(
        NT_HASH
    )


def test_mschapv1_rfc2433_vector() -> None:
    # RFC 2433 Appendix B.2: password "MyPw", challenge 102DB5DF085D3041
    challenge = bytes.fromhex("102DB5DF085D3041")
    nt = bytes.fromhex("4E9D3C8F9CFD385D5BF4D3246791956CA4C351AB409A3D61")
    response = bytes(24) + nt + b"\x01"
    creds = MsChapV1Credentials("User", challenge, response)
    assert creds.check_password("MyPw")
    assert not creds.check_password("x")
    assert not MsChapV1Credentials("User", challenge, response[:48]).check_password("MyPw")


def test_chap_md5() -> None:
    challenge = bytes(range(16))
    response = hashlib.md5(b"\x07" + b"secret" + challenge).digest()
    assert ChapMd5Credentials("bob", 7, challenge, response).check_password("secret")
    assert not ChapMd5Credentials("bob", 8, challenge, response).check_password("secret")


def test_pap_repr_hides_password() -> None:
    creds = PapCredentials("bob", "hunter2")
    assert "hunter2" not in repr(creds)
    assert creds.check_password("hunter2") and not creds.check_password("hunter3")


def test_pix_password_hash_known_values() -> None:
    # the reference config: "passwd 2KFQnbNIdI.2KYOU encrypted" is "cisco",
    # "enable password 8Ry2YjIyt7RRXU24 encrypted" is the empty password
    assert pix_password_hash("cisco") == "2KFQnbNIdI.2KYOU"
    assert pix_password_hash("") == "8Ry2YjIyt7RRXU24"


def test_local_checker_all_storage_forms() -> None:
    checker = LocalUsersChecker(
        {
            "clear": LocalUser("clear", cleartext="cisco"),
            "hashed": LocalUser("hashed", pix_hash="2KFQnbNIdI.2KYOU"),
            "nt": LocalUser("nt", nt_hash=mschap.nt_password_hash("cisco")),
        }
    )
    assert verifyObject(ICredentialsChecker, checker)
    assert checker.check(PapCredentials("hashed", "cisco")).username == "hashed"
    assert checker.check(PapCredentials("nt", "cisco")).username == "nt"
    with pytest.raises(UnauthorizedLogin):
        checker.check(PapCredentials("hashed", "cisc0"))
    with pytest.raises(UnauthorizedLogin, match="unknown user"):
        checker.check(PapCredentials("nobody", "cisco"))
    challenge = bytes(16)
    chap = ChapMd5Credentials(
        "hashed", 1, challenge, hashlib.md5(b"\x01cisco" + challenge).digest()
    )
    with pytest.raises(MissingSecretError, match="CHAP needs the cleartext"):
        checker.check(chap)
    nt_resp = mschap.generate_nt_response(
        AUTH_CHALLENGE, PEER_CHALLENGE, "nt", mschap.nt_password_hash("cisco")
    )
    login = checker.check(MsChapV2Credentials("nt", AUTH_CHALLENGE, PEER_CHALLENGE, nt_resp))
    assert login.mschapv2_authenticator_response is not None
    assert login.mppe_send_key is not None and len(login.mppe_send_key) == 16
    with pytest.raises(MissingSecretError, match="MS-CHAP needs the cleartext or NT hash"):
        checker.check(MsChapV2Credentials("hashed", AUTH_CHALLENGE, PEER_CHALLENGE, nt_resp))


def test_local_authenticator_through_portal() -> None:
    config = PixConfig(
        usernames=(Username("alice", "2KFQnbNIdI.2KYOU", encrypted=True),),
        vpdn=Vpdn(usernames=(VpdnUsername(USER, PASSWORD),)),
    )
    auth = LocalAuthenticator(config)
    assert verifyObject(IAuthenticator, auth)
    results: list[Authorization] = []
    auth.authenticate(v2(), ClientInfo()).addCallback(results.append)
    (authorization,) = results
    assert authorization.mschapv2_authenticator_response == AUTH_RESPONSE
    assert authorization.server == "LOCAL"
    failures: list[object] = []
    auth.authenticate(PapCredentials("alice", "nope"), ClientInfo()).addErrback(failures.append)
    assert len(failures) == 1
    ok: list[object] = []
    auth.authenticate(PapCredentials("alice", "cisco"), ClientInfo()).addCallback(ok.append)
    assert len(ok) == 1
