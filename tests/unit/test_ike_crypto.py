"""RFC 2409 key derivation checked against an independent computation written from the RFC text,
the MODP groups against their definition and cryptography's DH, ECP exchange, ciphers."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import dh

from pixgw.ike import constants as c
from pixgw.ike import crypto
from pixgw.wire import MalformedMessage

# Known tails of the RFC 2409 §6 / RFC 3526 primes (hex), and that they are safe primes.
TAILS = {1: "a63a3620ffffffffffffffff", 2: "49286651ece65381ffffffffffffffff",
         5: "ca237327ffffffffffffffff", 14: "15728e5a8aacaa68ffffffffffffffff",
         15: "4b82d120a93ad2caffffffffffffffff", 16: "4df435c934063199ffffffffffffffff"}


@pytest.mark.parametrize("group", sorted(TAILS))
def test_modp_primes(group: int) -> None:
    p = crypto.modp_prime(group)
    assert format(p, "x").endswith(TAILS[group])
    assert p.bit_length() == crypto.group_bits(group)
    assert pow(2, p - 1, p) == 1 and pow(2, (p - 1) // 2 - 1, (p - 1) // 2) == 1


def test_modp_exchange_agrees_with_cryptography() -> None:
    p = crypto.modp_prime(14)
    ours = crypto.DhPrivate(14, os.urandom)
    params = dh.DHParameterNumbers(p, 2).parameters()
    theirs = params.generate_private_key()
    their_public = theirs.public_key().public_numbers().y.to_bytes(256, "big")
    ours_pub = dh.DHPublicNumbers(int.from_bytes(ours.public, "big"), params.parameter_numbers())
    expected = theirs.exchange(ours_pub.public_key())
    assert ours.shared_secret(their_public) == expected.rjust(256, b"\x00")


@pytest.mark.parametrize("group", [1, 2, 5, 14, 15, 16])
def test_modp_values_equal_pure_python_pow(group: int) -> None:
    """Whether OpenSSL or pow computes them, g^x and g^xy are the textbook values."""
    p = crypto.modp_prime(group)
    a = crypto.DhPrivate(group, os.urandom)
    b = crypto.DhPrivate(group, os.urandom)
    x = a._x  # the test needs the exponent
    assert a._x.bit_length() >= 256
    assert int.from_bytes(a.public, "big") == pow(2, x, p)
    assert a.shared_secret(b.public) == pow(int.from_bytes(b.public, "big"), x, p).to_bytes(
        len(a.public), "big")


@pytest.mark.parametrize("group", [1, 2, 5, 19, 20])
def test_exchange_both_ways(group: int) -> None:
    a = crypto.DhPrivate(group, os.urandom)
    b = crypto.DhPrivate(group, os.urandom)
    assert a.shared_secret(b.public) == b.shared_secret(a.public)
    with pytest.raises(MalformedMessage):
        a.shared_secret(b.public[:-1])
    with pytest.raises(MalformedMessage):
        a.shared_secret(b"\x00" * len(b.public))


def _prf(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha1).digest()


def test_rfc2409_psk_derivation_against_independent_computation() -> None:
    psk, ni, nr = b"secret", bytes(range(20)), bytes(range(20, 40))
    gxy, cky_i, cky_r = b"\x07" * 128, b"I" * 8, b"R" * 8
    gxi, gxr = b"\x01" * 128, b"\x02" * 128
    # RFC 2409 §5, written out
    skeyid = _prf(psk, ni + nr)
    d = _prf(skeyid, gxy + cky_i + cky_r + b"\x00")
    a = _prf(skeyid, d + gxy + cky_i + cky_r + b"\x01")
    e = _prf(skeyid, a + gxy + cky_i + cky_r + b"\x02")
    # Appendix B: AES-256 needs 32 bytes from a 20-byte SKEYID_e
    k1 = _prf(e, b"\x00")
    k2 = _prf(e, k1)
    iv = hashlib.sha1(gxi + gxr).digest()[:16]

    got_skeyid = crypto.skeyid_psk(c.HASH_SHA, psk, ni, nr)
    keys = crypto.derive_phase1(c.HASH_SHA, got_skeyid, gxy, cky_i=cky_i, cky_r=cky_r, gxi=gxi,
                                gxr=gxr, cipher=crypto.cipher_spec(c.ENC_AES, 256))
    assert (keys.skeyid, keys.skeyid_d, keys.skeyid_a, keys.skeyid_e) == (skeyid, d, a, e)
    assert keys.encryption_key == (k1 + k2)[:32]
    assert keys.initial_iv == iv
    # 3DES with SHA1: 24 bytes from K1|K2; DES: SKEYID_e truncated
    assert crypto.expand_key(c.HASH_SHA, e, 24) == (k1 + k2)[:24]
    assert crypto.expand_key(c.HASH_SHA, e, 8) == e[:8]
    sai_b, idii_b = b"SA-body", b"ID-body"
    assert crypto.hash_i(c.HASH_SHA, skeyid, gxi=gxi, gxr=gxr, cky_i=cky_i, cky_r=cky_r,
                         sai_b=sai_b, idii_b=idii_b) == _prf(
        skeyid, gxi + gxr + cky_i + cky_r + sai_b + idii_b)
    assert crypto.hash_r(c.HASH_SHA, skeyid, gxi=gxi, gxr=gxr, cky_i=cky_i, cky_r=cky_r,
                         sai_b=sai_b, idir_b=idii_b) == _prf(
        skeyid, gxr + gxi + cky_r + cky_i + sai_b + idii_b)
    # signatures: SKEYID = prf(Ni_b | Nr_b, g^xy)
    assert crypto.skeyid_sig(c.HASH_SHA, ni, nr, gxy) == _prf(ni + nr, gxy)
    # §5.5 KEYMAT, 36 bytes (AES-128 + HMAC-SHA1) for SPI 0x01020304
    seed = b"\x03" + b"\x01\x02\x03\x04" + ni + nr
    km1 = _prf(d, seed)
    km2 = _prf(d, km1 + seed)
    assert crypto.keymat(c.HASH_SHA, d, protocol=3, spi=b"\x01\x02\x03\x04", ni=ni, nr=nr,
                         length=36) == (km1 + km2)[:36]
    # phase-2 IV: hash(last phase-1 block | M-ID)
    assert crypto.phase2_iv(c.HASH_SHA, b"L" * 16, 0x01020304, 16) == hashlib.sha1(
        b"L" * 16 + b"\x01\x02\x03\x04").digest()[:16]


@pytest.mark.parametrize(("cipher", "bits"), [(c.ENC_DES, None), (c.ENC_3DES, None),
                                              (c.ENC_AES, 128), (c.ENC_AES, 192),
                                              (c.ENC_AES, 256)])
def test_ciphers_round_trip(cipher: int, bits: int | None) -> None:
    spec = crypto.cipher_spec(cipher, bits)
    key = os.urandom(spec.key_bytes)
    iv = os.urandom(spec.block_size)
    ct = spec.encrypt(key, iv, b"hello world")
    assert len(ct) % spec.block_size == 0
    assert spec.decrypt(key, iv, ct).rstrip(b"\x00") == b"hello world"
    with pytest.raises(MalformedMessage):
        spec.decrypt(key, iv, ct[:-1])
