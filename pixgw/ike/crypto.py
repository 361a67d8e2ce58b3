"""IKEv1 cryptography: RFC 2409 §5 (SKEYID for pre-shared keys and signatures, SKEYID_d/a/e,
HASH_I/HASH_R), §5.5 (quick-mode HASH(1..3) and KEYMAT), Appendix B (encryption-key expansion and
IV chaining: phase 1 from g^xi|g^xr, phase 2 and informational from the last phase-1 block and the
message id), §6 and RFC 3526 §2-§5 (MODP groups 1, 2, 5, 14, 15, 16, private exponents of at least
256 bits), RFC 4753/RFC 5903 §3 (ECP groups 19, 20: KE is x|y, the shared secret x).

The MODP primes are computed from their definition (RFC 2412 Appendix E: 2^n - 2^(n-64) - 1 +
2^64 * (floor(2^(n-130) * pi) + k)) rather than copied, and checked by the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import serialization as _serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pixgw.ike import constants as c
from pixgw.wire import MalformedMessage

RandomBytes = Callable[[int], bytes]

HASHES: dict[int, str] = {
    c.HASH_MD5: "md5", c.HASH_SHA: "sha1", c.HASH_SHA256: "sha256",
    c.HASH_SHA384: "sha384", c.HASH_SHA512: "sha512",
}

# --- MODP groups --------------------------------------------------------------------------------

_MODP_DEFINITIONS: dict[int, tuple[int, int]] = {  # group -> (bits, k)
    1: (768, 149686),
    2: (1024, 129093),
    5: (1536, 741804),
    14: (2048, 124476),
    15: (3072, 1690314),
    16: (4096, 240904),
}
ECP_GROUPS: dict[int, tuple[ec.EllipticCurve, int]] = {
    19: (ec.SECP256R1(), 32),
    20: (ec.SECP384R1(), 48),
}
SUPPORTED_GROUPS = frozenset(_MODP_DEFINITIONS) | frozenset(ECP_GROUPS)


def _arctan_inverse(x: int, scale: int) -> int:
    """scale * atan(1/x), by its series."""
    total = term = scale // x
    x2 = x * x
    n = 1
    sign = -1
    while term:
        term //= x2
        total += sign * (term // (2 * n + 1))
        sign = -sign
        n += 1
    return total


@cache
def _pi_scaled(bits: int) -> int:
    """floor(2^bits * pi) (Machin's formula, 64 guard bits)."""
    guard = 64
    scale = 1 << (bits + guard)
    pi = 16 * _arctan_inverse(5, scale) - 4 * _arctan_inverse(239, scale)
    return pi >> guard


@cache
def modp_prime(group: int) -> int:
    bits, k = _MODP_DEFINITIONS[group]
    return (1 << bits) - (1 << (bits - 64)) - 1 + (1 << 64) * (_pi_scaled(bits - 130) + k)


def group_bits(group: int) -> int:
    if group in _MODP_DEFINITIONS:
        return _MODP_DEFINITIONS[group][0]
    return ECP_GROUPS[group][1] * 8


class DhPrivate:
    """Our half of a Diffie-Hellman exchange in one group."""

    def __init__(self, group: int, random_bytes: RandomBytes) -> None:
        if group not in SUPPORTED_GROUPS:
            raise ValueError(f"unsupported group {group}")
        self.group = group
        if group in ECP_GROUPS:
            curve, size = ECP_GROUPS[group]
            order = _CURVE_ORDERS[group]
            scalar = int.from_bytes(random_bytes(size + 8), "big") % (order - 1) + 1
            self._ec_key: ec.EllipticCurvePrivateKey | None = ec.derive_private_key(scalar, curve)
            point = self._ec_key.public_key().public_bytes(
                _serialization.Encoding.X962, _serialization.PublicFormat.UncompressedPoint
            )
            self.public = point[1:]
            self._x = 0
            self._openssl: dh.DHPrivateKey | None = None
        else:
            self._ec_key = None
            p = modp_prime(group)
            exponent_bytes = max(32, group_bits(group) // 64 + 8)  # >= 256 bits (RFC 3526 §8)
            self._x = int.from_bytes(random_bytes(exponent_bytes), "big") | (1 << 255)
            self._openssl = _openssl_dh(group, self._x)
            size = group_bits(group) // 8
            if self._openssl is not None:
                # g^x by OpenSSL: the exchange with the generator itself (8x faster than pow)
                self.public = _openssl_exchange(self._openssl, group, 2).rjust(size, b"\x00")
            else:
                self.public = pow(2, self._x, p).to_bytes(size, "big")

    def shared_secret(self, peer_public: bytes) -> bytes:
        """g^xy; raises MalformedMessage for a peer value outside the group."""
        if self._ec_key is not None:
            curve, size = ECP_GROUPS[self.group]
            if len(peer_public) != 2 * size:
                raise MalformedMessage(f"ECP KE of {len(peer_public)} bytes")
            try:
                peer = ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + peer_public)
                return self._ec_key.exchange(ec.ECDH(), peer)
            except ValueError as e:
                raise MalformedMessage(f"ECP KE not on the curve: {e}") from None
        p = modp_prime(self.group)
        size = group_bits(self.group) // 8
        if len(peer_public) != size:
            raise MalformedMessage(f"MODP KE of {len(peer_public)} bytes, want {size}")
        y = int.from_bytes(peer_public, "big")
        if not 1 < y < p - 1:
            raise MalformedMessage("MODP KE outside 2..p-2")
        if self._openssl is not None:
            return _openssl_exchange(self._openssl, self.group, y).rjust(size, b"\x00")
        return pow(y, self._x, p).to_bytes(size, "big")


_OPENSSL_NAMED = frozenset({5, 14, 15, 16})  # RFC 3526 groups OpenSSL knows by name


def _openssl_dh(group: int, x: int) -> dh.DHPrivateKey | None:
    """Our exponent as an OpenSSL key (cryptography's finite-field DH, deprecated there: when it
    goes, or refuses, Python's ``pow`` does the work)."""
    if group not in _OPENSSL_NAMED:
        return None  # OpenSSL would prove the primality of an unnamed prime on every key load
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            numbers = dh.DHParameterNumbers(modp_prime(group), 2)
            # y is not checked against x by OpenSSL; the exchange with g yields the real g^x
            public = dh.DHPublicNumbers(2, numbers)
            return dh.DHPrivateNumbers(x, public).private_key()
    except (ValueError, TypeError, AttributeError):
        return None


def _openssl_exchange(key: dh.DHPrivateKey, group: int, y: int) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = dh.DHPublicNumbers(y, dh.DHParameterNumbers(modp_prime(group), 2)).public_key()
        return key.exchange(peer)


_CURVE_ORDERS = {
    19: int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16),
    20: int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
}

# --- hashes, prf --------------------------------------------------------------------------------


def hash_name(hash_id: int) -> str:
    return HASHES[hash_id]


def prf(hash_id: int, key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, HASHES[hash_id]).digest()


def digest(hash_id: int, data: bytes) -> bytes:
    return hashlib.new(HASHES[hash_id], data).digest()


# --- ciphers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CipherSpec:
    """A phase-1 cipher: id and key length in bytes."""

    cipher_id: int
    key_bytes: int

    @property
    def block_size(self) -> int:
        return 16 if self.cipher_id == c.ENC_AES else 8

    def _cipher(self, key: bytes, iv: bytes) -> Cipher[modes.CBC]:
        if self.cipher_id == c.ENC_AES:
            return Cipher(algorithms.AES(key), modes.CBC(iv))
        if self.cipher_id == c.ENC_DES:
            return Cipher(TripleDES(key * 3), modes.CBC(iv))
        return Cipher(TripleDES(key), modes.CBC(iv))

    def encrypt(self, key: bytes, iv: bytes, plaintext: bytes) -> bytes:
        """CBC; pads with zeros to the block size (RFC 2408 §3.1: padding after the payloads)."""
        pad = -len(plaintext) % self.block_size
        e = self._cipher(key, iv).encryptor()
        return e.update(plaintext + b"\x00" * pad) + e.finalize()

    def decrypt(self, key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
        if not ciphertext or len(ciphertext) % self.block_size:
            raise MalformedMessage(f"ciphertext of {len(ciphertext)} bytes")
        d = self._cipher(key, iv).decryptor()
        return d.update(ciphertext) + d.finalize()


def cipher_spec(cipher_id: int, key_length_bits: int | None) -> CipherSpec:
    if cipher_id == c.ENC_DES:
        return CipherSpec(cipher_id, 8)
    if cipher_id == c.ENC_3DES:
        return CipherSpec(cipher_id, 24)
    if cipher_id == c.ENC_AES:
        bits = key_length_bits or 128
        if bits not in (128, 192, 256):
            raise ValueError(f"AES key length {bits}")
        return CipherSpec(cipher_id, bits // 8)
    raise ValueError(f"cipher {cipher_id}")


# --- RFC 2409 derivations -----------------------------------------------------------------------


@dataclass(frozen=True)
class Phase1Keys:
    skeyid: bytes
    skeyid_d: bytes
    skeyid_a: bytes
    skeyid_e: bytes
    encryption_key: bytes
    initial_iv: bytes


def skeyid_psk(hash_id: int, psk: bytes, ni: bytes, nr: bytes) -> bytes:
    return prf(hash_id, psk, ni + nr)


def skeyid_sig(hash_id: int, ni: bytes, nr: bytes, gxy: bytes) -> bytes:
    return prf(hash_id, ni + nr, gxy)


def derive_phase1(
    hash_id: int, skeyid: bytes, gxy: bytes, *, cky_i: bytes, cky_r: bytes, gxi: bytes, gxr: bytes,
    cipher: CipherSpec,
) -> Phase1Keys:
    d = prf(hash_id, skeyid, gxy + cky_i + cky_r + b"\x00")
    a = prf(hash_id, skeyid, d + gxy + cky_i + cky_r + b"\x01")
    e = prf(hash_id, skeyid, a + gxy + cky_i + cky_r + b"\x02")
    key = expand_key(hash_id, e, cipher.key_bytes)
    iv = digest(hash_id, gxi + gxr)[: cipher.block_size]
    return Phase1Keys(skeyid, d, a, e, key, iv)


def expand_key(hash_id: int, skeyid_e: bytes, length: int) -> bytes:
    """RFC 2409 Appendix B: SKEYID_e itself if long enough, else K1 | K2 | ... truncated."""
    if len(skeyid_e) >= length:
        return skeyid_e[:length]
    out = b""
    block = b"\x00"
    while len(out) < length:
        block = prf(hash_id, skeyid_e, block)
        out += block
    return out[:length]


def phase2_iv(hash_id: int, last_phase1_block: bytes, message_id: int, block_size: int) -> bytes:
    return digest(hash_id, last_phase1_block + message_id.to_bytes(4, "big"))[:block_size]


def hash_i(hash_id: int, skeyid: bytes, *, gxi: bytes, gxr: bytes, cky_i: bytes, cky_r: bytes,
           sai_b: bytes, idii_b: bytes) -> bytes:
    return prf(hash_id, skeyid, gxi + gxr + cky_i + cky_r + sai_b + idii_b)


def hash_r(hash_id: int, skeyid: bytes, *, gxi: bytes, gxr: bytes, cky_i: bytes, cky_r: bytes,
           sai_b: bytes, idir_b: bytes) -> bytes:
    return prf(hash_id, skeyid, gxr + gxi + cky_r + cky_i + sai_b + idir_b)


def keymat(hash_id: int, skeyid_d: bytes, *, protocol: int, spi: bytes, ni: bytes, nr: bytes,
           length: int, gxy_qm: bytes = b"") -> bytes:
    """RFC 2409 §5.5: KEYMAT = K1 | K2 | ..., K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b
    | Nr_b), Kn+1 = prf(SKEYID_d, Kn | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)."""
    seed = gxy_qm + bytes((protocol,)) + spi + ni + nr
    out = b""
    block = b""
    while len(out) < length:
        block = prf(hash_id, skeyid_d, block + seed)
        out += block
    return out[:length]


# --- RSA signatures (RFC 2409 §5.1: PKCS #1 type-1 padded HASH_I/HASH_R, no DigestInfo) ----------


def rsa_sign_raw(key: RSAPrivateKey, data: bytes) -> bytes:
    """EMSA-PKCS1-v1_5 padding around *data* itself (no DigestInfo), then the private-key op."""
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    size = (n.bit_length() + 7) // 8
    if len(data) > size - 11:
        raise ValueError("hash too long for the RSA key")
    block = b"\x00\x01" + b"\xff" * (size - 3 - len(data)) + b"\x00" + data
    m = int.from_bytes(block, "big")
    # CRT
    s1 = pow(m, numbers.dmp1, numbers.p)
    s2 = pow(m, numbers.dmq1, numbers.q)
    h = (numbers.iqmp * (s1 - s2)) % numbers.p
    s = s2 + h * numbers.q
    if pow(s, numbers.public_numbers.e, n) != m:  # fault check
        raise ValueError("RSA signature self-check failed")
    return s.to_bytes(size, "big")


def rsa_verify_raw(key: RSAPublicKey, signature: bytes, data: bytes) -> bool:
    try:
        recovered = key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
    except InvalidSignature:
        return False
    return hmac.compare_digest(recovered, data)
