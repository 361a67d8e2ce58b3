"""RADIUS codec pieces: RFC 2865 §7.1 example (User-Password hiding, Response Authenticator),
RFC 3579 §3.2 Message-Authenticator, RFC 2548 §2.4.2 salt decryption, the dictionary."""

from __future__ import annotations

import hashlib
import hmac
import struct
from pathlib import Path

import pytest

from pixgw.aaa.radius import (
    ACCESS_REQUEST,
    ACCOUNTING_REQUEST,
    build_packet,
    check_reply,
    decode_attributes,
    encode_attributes,
    hide_password,
    load_dictionary,
    salt_decrypt,
)

SECRET = b"xyzzy5461"
# RFC 2865 §7.1: Access-Request for "nemo" / "arctangent" from NAS 192.168.1.16 port 3
REQUEST = bytes.fromhex(
    "01000038"  # Access-Request, id 0, length 56
    "0f403f9473978057bd83d5cb98f4227a"  # Request Authenticator
    "01066e656d6f"  # User-Name "nemo"
    "02120dbe708d93d413ce3196e43f782a0aee"  # User-Password (hidden)
    "0406c0a80110"  # NAS-IP-Address 192.168.1.16
    "050600000003"  # NAS-Port 3
)
# and its Access-Accept
ACCEPT = bytes.fromhex(
    "02000026"
    "86fe220e7624ba2a1005f6bf9b55e0b2"  # Response Authenticator
    "0606"
    "00000001"  # Service-Type Login
    "0f06"
    "00000000"  # Login-Service Telnet
    "0e06"
    "c0a80103"  # Login-IP-Host 192.168.1.3
)


def test_user_password_hiding_rfc2865_example() -> None:
    assert hide_password(b"arctangent", SECRET, REQUEST[4:20]) == REQUEST[28:44]


def test_response_authenticator_rfc2865_example() -> None:
    assert check_reply(ACCEPT, SECRET, REQUEST[4:20], require_ma=False) is None
    assert check_reply(ACCEPT, b"wrong", REQUEST[4:20], require_ma=False) == (
        "bad response authenticator"
    )
    # Blast-RADIUS: an Access reply without Message-Authenticator is refused
    assert check_reply(ACCEPT, SECRET, REQUEST[4:20], require_ma=True) == (
        "no Message-Authenticator"
    )


def test_dictionary_round_trip() -> None:
    d = load_dictionary()
    attrs = encode_attributes(
        d,
        [
            ("User-Name", "nemo"),
            ("NAS-Port-Type", "Virtual"),
            ("MS-CHAP-Challenge", b"\x11" * 16),
            ("Tunnel-Type", "L2TP"),
            ("Class", b"a"),
            ("Class", b"b"),
        ],
    )
    assert attrs[:6] == b"\x01\x06nemo"
    assert attrs[6:12] == b"\x3d\x06\x00\x00\x00\x05"  # NAS-Port-Type = Virtual (5)
    # Vendor-Specific, length 24, vendor 311, MS-CHAP-Challenge (11) length 18
    assert attrs[12:20] == bytes.fromhex("1a18000001370b12")
    decoded = decode_attributes(d, 2, attrs)
    assert decoded["MS-CHAP-Challenge"] == [b"\x11" * 16]
    assert decoded["Class"] == [b"a", b"b"]
    assert decoded["Tunnel-Type"] == ["L2TP"]


def test_malformed_attributes_raise_value_error_only() -> None:
    d = load_dictionary()
    for body in (b"\x01", b"\x01\x01", b"\x01\x10abc", b"\x1a\x04\x00\x00"):
        with pytest.raises(ValueError):
            decode_attributes(d, 2, body)


def test_access_request_message_authenticator() -> None:
    authenticator = bytes(range(16))
    datagram, sent = build_packet(ACCESS_REQUEST, 7, SECRET, authenticator, b"\x01\x05bob")
    assert sent == authenticator and datagram[4:20] == authenticator
    assert datagram[20:22] == b"\x50\x12"  # Message-Authenticator first
    zeroed = datagram[:22] + bytes(16) + datagram[38:]
    assert hmac.compare_digest(datagram[22:38], hmac.new(SECRET, zeroed, hashlib.md5).digest())
    assert struct.unpack("!H", datagram[2:4])[0] == len(datagram)


def test_accounting_request_authenticator_rfc2866() -> None:
    datagram, sent = build_packet(
        ACCOUNTING_REQUEST, 1, SECRET, bytes(16), b"\x28\x06\x00\x00\x00\x01"
    )
    body = datagram[20:]
    expected = hashlib.md5(datagram[:4] + bytes(16) + body + SECRET).digest()
    assert sent == expected == datagram[4:20]
    zeroed = datagram[:4] + bytes(16) + datagram[20:22] + bytes(16) + datagram[38:]
    assert datagram[22:38] == hmac.new(SECRET, zeroed, hashlib.md5).digest()


def salt_encrypt(key: bytes, secret: bytes, request_authenticator: bytes, salt: bytes) -> bytes:
    """The server side of RFC 2548 §2.4.2, written out independently for the test."""
    plain = bytes([len(key)]) + key
    plain += bytes(-len(plain) % 16)
    out = b""
    previous = request_authenticator + salt
    for i in range(0, len(plain), 16):
        pad = hashlib.md5(secret + previous).digest()
        block = bytes(a ^ b for a, b in zip(plain[i : i + 16], pad, strict=True))
        out += block
        previous = block
    return salt + out


def test_mppe_key_salt_decrypt() -> None:
    key = bytes(range(100, 116))
    ra = bytes(range(16))
    value = salt_encrypt(key, SECRET, ra, b"\x80\x01")
    assert len(value) == 2 + 32
    assert salt_decrypt(value, SECRET, ra) == key
    assert salt_decrypt(value, b"other", ra) != key
    with pytest.raises(ValueError):
        salt_decrypt(b"\x00\x01" + value[2:], SECRET, ra)  # salt without its high bit
    with pytest.raises(ValueError):
        salt_decrypt(value[:-1], SECRET, ra)


def test_the_dictionary_is_package_data() -> None:
    """Read from the package (importlib.resources), not from a path beside a checkout: the
    wheel ships pixgw/data/dictionary and its $INCLUDEs (tests/interop/test_package.py)."""
    from pixgw.aaa import radius

    path = radius.default_dictionary_path()
    assert path == Path(radius.__file__).resolve().parents[2] / "data" / "dictionary"
    assert "MS-CHAP2-Success" in radius.load_dictionary(path).attributes
