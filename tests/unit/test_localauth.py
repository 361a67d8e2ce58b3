"""Local PPP authentication: PAP, CHAP-MD5, MS-CHAPv1, MS-CHAPv2 against vpdn/username lines."""

from __future__ import annotations

import hashlib

import pytest

from pixgw.config.parser import parse
from pixgw.localauth import LocalAuthenticator
from pixgw.ppp import mschap
from pixgw.ppp.auth import AuthenticationRequested

CONFIG = """\
vpdn username alice password alice-pw
username bob password 2KFQnbNIdI.2KYOU encrypted
"""
CHALLENGE = bytes(range(16))
PEER_CHALLENGE = bytes(range(16, 32))


@pytest.fixture
def local() -> LocalAuthenticator:
    return LocalAuthenticator(parse(CONFIG).config)


def mschapv2(user: str, password: str) -> AuthenticationRequested:
    nt = mschap.generate_nt_response(
        CHALLENGE, PEER_CHALLENGE, user, mschap.nt_password_hash(password)
    )
    return AuthenticationRequested(
        "mschapv2", user, 1, CHALLENGE, PEER_CHALLENGE + bytes(8) + nt + b"\0",
        PEER_CHALLENGE, nt,
    )


def test_pap(local: LocalAuthenticator) -> None:
    ok = AuthenticationRequested("pap", "alice", 1, password="alice-pw")
    bad = AuthenticationRequested("pap", "alice", 1, password="alice-pW")
    assert local.check(ok).accepted
    assert not local.check(bad).accepted


def test_chap_md5(local: LocalAuthenticator) -> None:
    response = hashlib.md5(b"\x07" + b"alice-pw" + CHALLENGE).digest()
    assert local.check(AuthenticationRequested("chap", "alice", 7, CHALLENGE, response)).accepted
    # the identifier is part of the hash: a replay under another id fails
    assert not local.check(
        AuthenticationRequested("chap", "alice", 8, CHALLENGE, response)
    ).accepted


def test_mschapv1(local: LocalAuthenticator) -> None:
    nt = mschap.mschapv1_nt_response(CHALLENGE[:8], mschap.nt_password_hash("alice-pw"))
    request = AuthenticationRequested("mschap", "alice", 1, CHALLENGE[:8], bytes(24) + nt + b"\1",
                                      nt_response=nt)
    assert local.check(request).accepted


def test_mschapv2_success_carries_the_authenticator_response(local: LocalAuthenticator) -> None:
    decision = local.check(mschapv2("alice", "alice-pw"))
    assert decision.accepted
    request = mschapv2("alice", "alice-pw")
    assert decision.mschapv2_authenticator_response == mschap.generate_authenticator_response(
        mschap.nt_password_hash("alice-pw"), request.nt_response, PEER_CHALLENGE, CHALLENGE,
        "alice",
    )
    assert not local.check(mschapv2("alice", "wrong")).accepted


def test_unknown_user_and_encrypted_password(local: LocalAuthenticator) -> None:
    assert not local.check(mschapv2("mallory", "x")).accepted
    # bob's password is a PIX hash: no cleartext, so no MS-CHAPv2 for him
    assert not local.check(mschapv2("bob", "anything")).accepted
