"""MD4 message digest (RFC 1320), pure Python.

OpenSSL 3 moved MD4 to its legacy provider, so ``hashlib.new("md4")`` is not available
everywhere; MS-CHAP (RFC 2433 / RFC 2759) needs it for the NT password hash. This module is
only used on short inputs (passwords and 16-byte hashes).
"""

from __future__ import annotations

import struct

_MASK = 0xFFFFFFFF


def _rotl(value: int, shift: int) -> int:
    value &= _MASK
    return ((value << shift) | (value >> (32 - shift))) & _MASK


def _f(x: int, y: int, z: int) -> int:
    return (x & y) | (~x & z)


def _g(x: int, y: int, z: int) -> int:
    return (x & y) | (x & z) | (y & z)


def _h(x: int, y: int, z: int) -> int:
    return x ^ y ^ z


_ROUND2_ORDER = (0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)
_ROUND3_ORDER = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)
_SHIFTS1 = (3, 7, 11, 19)
_SHIFTS2 = (3, 5, 9, 13)
_SHIFTS3 = (3, 9, 11, 15)


def _compress(state: list[int], block: bytes) -> None:
    x = struct.unpack("<16I", block)
    a, b, c, d = state
    # RFC 1320 §3.4: three rounds of 16 operations; the registers rotate a, d, c, b.
    for i in range(16):
        t = _rotl(a + _f(b, c, d) + x[i], _SHIFTS1[i % 4])
        a, b, c, d = d, t, b, c
    for i in range(16):
        t = _rotl(a + _g(b, c, d) + x[_ROUND2_ORDER[i]] + 0x5A827999, _SHIFTS2[i % 4])
        a, b, c, d = d, t, b, c
    for i in range(16):
        t = _rotl(a + _h(b, c, d) + x[_ROUND3_ORDER[i]] + 0x6ED9EBA1, _SHIFTS3[i % 4])
        a, b, c, d = d, t, b, c
    state[0] = (state[0] + a) & _MASK
    state[1] = (state[1] + b) & _MASK
    state[2] = (state[2] + c) & _MASK
    state[3] = (state[3] + d) & _MASK


def md4(data: bytes) -> bytes:
    """Return the 16-byte MD4 digest of ``data`` (RFC 1320)."""
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    bit_length = (len(data) * 8) & 0xFFFFFFFFFFFFFFFF
    padded = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", bit_length)
    for offset in range(0, len(padded), 64):
        _compress(state, padded[offset : offset + 64])
    return struct.pack("<4I", *state)
