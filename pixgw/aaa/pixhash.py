"""PIX "encrypted" password forms of ``username NAME password HASH encrypted`` lines.

The PIX hash is one MD5 over the password NUL-padded to 16 bytes, with every fourth digest byte
dropped and the remaining 12 bytes written in the crypt(3) base-64 alphabet (``passwd`` /
``enable password``; :func:`pixgw.aaa.local.pix_password_hash`). For a *user account* the PIX
salts that MD5 with the account name: the first four bytes of the name (repeated when shorter)
are appended to the password, and the result is cut or padded to 16 bytes — the algorithm as
passlib documents it for its ``cisco_pix`` hash (its published vectors are in the tests; no
code is copied). A ``username`` hash may have been made either way (typed in by hand, migrated
from an older config), so :func:`user_hash_matches` accepts both forms.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["pix_user_password_hash", "user_hash_matches"]

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _encode(digest: bytes) -> str:
    out = []
    for i in range(0, 16, 4):  # 3 of every 4 bytes, 24 bits little-endian -> 4 characters
        value = digest[i] | digest[i + 1] << 8 | digest[i + 2] << 16
        for _ in range(4):
            out.append(_ITOA64[value & 0x3F])
            value >>= 6
    return "".join(out)


def pix_user_password_hash(password: str, username: str) -> str:
    """The 16-character PIX form of ``password`` for the user account ``username`` (an empty
    name gives the unsalted form, the password cut to 16 bytes as the PIX does)."""
    secret = password.encode("utf-8")
    name = username.encode("utf-8")
    if name:
        secret += (name * 4)[:4]
    secret = secret[:16].ljust(16, b"\x00")  # the PIX pads or cuts to 16 bytes
    return _encode(hashlib.md5(secret).digest())  # noqa: S324 - the PIX algorithm is MD5


def user_hash_matches(password: str, username: str, stored: str) -> bool:
    """True when ``stored`` is the PIX hash of ``password``, salted with ``username`` or not.
    (PIX passwords are at most 16 bytes: a longer one never matches the salted form.)"""
    salted = len(password.encode("utf-8")) <= 16 and hmac.compare_digest(
        pix_user_password_hash(password, username).encode(), stored.encode()
    )
    plain = hmac.compare_digest(pix_user_password_hash(password, "").encode(), stored.encode())
    return bool(salted or plain)
