"""PIX user-account password hashes (``username NAME password HASH encrypted``): MD5 salted
with the first four bytes of the user name, cut or padded to 16 bytes; the unsalted form of
``passwd`` / ``enable password`` still accepted. Vectors: passlib's published ``cisco_pix``
examples and values computed with passlib 1.7.4 for names shorter than four bytes and for
password + name longer than 16 bytes (where the PIX cuts)."""

from __future__ import annotations

import pytest
from twisted.cred.error import UnauthorizedLogin

from pixgw.aaa.credentials import PapCredentials
from pixgw.aaa.interfaces import Authorization, ClientInfo
from pixgw.aaa.local import LocalAuthenticator, pix_password_hash
from pixgw.aaa.pixhash import pix_user_password_hash, user_hash_matches
from pixgw.config.model import PixConfig, Username


@pytest.mark.parametrize(
    ("password", "username", "expected"),
    [
        ("password", "user", "A5XOy94YKDPXCo7U"),  # passlib documentation
        ("password", "", "NuLKvvWGg.x9HEKO"),  # passlib documentation, no user
        ("cisco", "", "2KFQnbNIdI.2KYOU"),  # the reference config's passwd
        ("alice-pw", "alice", "lv8klJ1eg8zRVInv"),  # name cut to "alic"
        ("pw", "ab", "cBNhvsKYZdOCFYS1"),  # short name repeated: "abab"
        ("abcdefghijklm", "dave", "mgbOXsTF58pcSF3Q"),  # 13 + 4 bytes cut to 16
        ("sixteencharspass", "carol", "nwpayjgamsG2XRDx"),  # the salt cut off entirely
        ("", "eve", "uGXeaKDbZ2GAejM2"),
    ],
)
def test_vectors(password: str, username: str, expected: str) -> None:
    assert pix_user_password_hash(password, username) == expected


def test_unsalted_form_is_the_passwd_hash() -> None:
    for password in ("", "cisco", "x" * 16, "y" * 20):
        assert pix_user_password_hash(password, "") == pix_password_hash(password)


def test_matches_salted_or_plain_only_for_the_right_password() -> None:
    assert user_hash_matches("alice-pw", "alice", "lv8klJ1eg8zRVInv")
    assert user_hash_matches("cisco", "alice", "2KFQnbNIdI.2KYOU")  # unsalted still accepted
    assert not user_hash_matches("alice-pw", "bob", "lv8klJ1eg8zRVInv")  # other salt
    assert not user_hash_matches("alice-px", "alice", "lv8klJ1eg8zRVInv")
    assert not user_hash_matches("alice-pw" + "z" * 12, "alice", "lv8klJ1eg8zRVInv")


def test_pap_login_with_a_salted_username_line() -> None:
    config = PixConfig(usernames=(Username("alice", "lv8klJ1eg8zRVInv", encrypted=True),))
    auth = LocalAuthenticator(config)
    ok: list[Authorization] = []
    auth.authenticate(PapCredentials("alice", "alice-pw"), ClientInfo()).addCallback(ok.append)
    assert [a.username for a in ok] == ["alice"]
    refused: list[object] = []
    d = auth.authenticate(PapCredentials("alice", "wrong"), ClientInfo())
    d.addErrback(lambda f: refused.append(f.check(UnauthorizedLogin)))
    assert refused == [UnauthorizedLogin]
