"""MS-CHAP / MPPE primitives against published vectors.

RFC 1320 A.5, RFC 2759 §9.2, RFC 2433 Appendix B, RFC 3079 §3.5.3.
"""

import pytest

from pixgw.ppp import mschap
from pixgw.ppp.md4 import md4

h = bytes.fromhex

# RFC 2759 §9.2 "Hash Example" (the same inputs are reused by RFC 3079 §3.5.3).
USER = "User"
PASSWORD = "clientPass"
AUTH_CHALLENGE = h("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = h("21402324255E262A28295F2B3A337C7E")
CHALLENGE = h("D02E4386BCE91226")  # ChallengeHash(peer, auth, "User")
PASSWORD_HASH = h("44EBBA8D5312B8D611474411F56989AE")  # MD4(UTF-16LE("clientPass"))
NT_RESPONSE = h("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
PASSWORD_HASH_HASH = h("41C00C584BD2D91C4017A2A12FA59F3F")
AUTHENTICATOR_RESPONSE = "S=407A5589115FD0D6209F510FE9C04566932CDA56"


@pytest.mark.parametrize(
    ("message", "digest"),
    [  # RFC 1320 Appendix A.5 test suite
        (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
        (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
        (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
        (b"message digest", "d9130a8164549fe818874806e1c7014b"),
        (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
        (
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            "043f8582f241db351ce627e153e7f0e4",
        ),
        (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
    ],
)
def test_md4_rfc1320_suite(message, digest):
    assert md4(message).hex() == digest


def test_md4_block_boundaries_differ():
    # 55/56/64-byte inputs exercise the one- and two-block padding paths.
    digests = {md4(b"x" * n) for n in (55, 56, 63, 64, 65)}
    assert len(digests) == 5


def test_rfc2759_nt_password_hash():
    assert mschap.nt_password_hash(PASSWORD) == PASSWORD_HASH


def test_rfc2759_hash_nt_password_hash():
    assert mschap.hash_nt_password_hash(PASSWORD_HASH) == PASSWORD_HASH_HASH


def test_rfc2759_challenge_hash():
    assert mschap.challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, USER) == CHALLENGE


def test_challenge_hash_strips_domain():
    assert mschap.challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, "CORP\\User") == CHALLENGE
    assert mschap.challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, "user") != CHALLENGE


def test_rfc2759_generate_nt_response():
    got = mschap.generate_nt_response(AUTH_CHALLENGE, PEER_CHALLENGE, USER, PASSWORD_HASH)
    assert got == NT_RESPONSE


def test_rfc2759_authenticator_response():
    got = mschap.generate_authenticator_response(
        PASSWORD_HASH, NT_RESPONSE, PEER_CHALLENGE, AUTH_CHALLENGE, USER
    )
    assert got == AUTHENTICATOR_RESPONSE
    assert mschap.verify_authenticator_response(got, got.lower())
    assert not mschap.verify_authenticator_response(got, "S=" + "0" * 40)


def test_rfc2759_wrong_password_gives_other_response():
    other = mschap.nt_password_hash("clientpass")
    assert mschap.generate_nt_response(AUTH_CHALLENGE, PEER_CHALLENGE, USER, other) != NT_RESPONSE


def test_rfc2433_mschapv1_response():
    # RFC 2433 Appendix B.2: password "MyPw", challenge 102DB5DF085D3041.
    password_hash = mschap.nt_password_hash("MyPw")
    assert password_hash == h("FC156AF7EDCD6C0EDDE3337D427F4EAC")
    got = mschap.mschapv1_nt_response(h("102DB5DF085D3041"), password_hash)
    assert got == h("4E9D3C8F9CFD385D5BF4D3246791956CA4C351AB409A3D61")


def test_rfc3079_mppe_v2_128bit():
    # RFC 3079 §3.5.3: MasterKey FDECE371..., SendStartKey128 8B7CDC14...,
    # SendSessionKey128 (GetNewKeyFromSHA) 405CB224...
    send, receive = mschap.mppe_v2_keys(PASSWORD_HASH, NT_RESPONSE)
    assert mschap._master_key(PASSWORD_HASH, NT_RESPONSE) == h("FDECE3717A8C838CB388E527AE3CDD31")
    assert send == h("8B7CDC149B993A1BA118CB153F56DCCB")
    assert mschap.mppe_initial_session_key(send) == h("405CB2247A7956E6E211007AE27B22D4")
    # The receive key uses the other magic: it is the client's send key.
    assert receive != send
    assert len(receive) == 16


def test_rfc3079_mppe_v2_40bit_start_key_is_prefix():
    send8, receive8 = mschap.mppe_v2_keys(PASSWORD_HASH, NT_RESPONSE, key_length=8)
    send16, receive16 = mschap.mppe_v2_keys(PASSWORD_HASH, NT_RESPONSE)
    assert send8 == send16[:8] == h("8B7CDC149B993A1B")
    assert receive8 == receive16[:8]


def test_mppe_v1_keys_symmetric():
    # RFC 3079 §2.4 GetStartKey: SHA1(HashHash || HashHash || Challenge)[:16].
    import hashlib

    challenge = h("102DB5DF085D3041")
    password_hash = mschap.nt_password_hash("MyPw")
    hh = mschap.hash_nt_password_hash(password_hash)
    send, receive = mschap.mppe_v1_keys(password_hash, challenge)
    assert send == receive == hashlib.sha1(hh + hh + challenge).digest()[:16]
    assert mschap.mppe_v1_keys(password_hash, challenge, 8)[0] == send[:8]


def test_mppe_bad_length_rejected():
    with pytest.raises(ValueError):
        mschap.mppe_v2_keys(PASSWORD_HASH, NT_RESPONSE, key_length=5)
