"""The RADIUS packet, pure (no I/O, fuzzable): RFC 2865 §3 codes, header and authenticators,
§5.2 User-Password hiding, §5.3 CHAP-Password, RFC 2868 §3.5 salted Tunnel-Password, RFC 2548
§2.4.2 MPPE key salt-decryption, RFC 2869 §5.19 / RFC 3579 §3.2 Message-Authenticator, and the
checks a reply must pass. pyrad is only the attribute codec (dictionary: ``pixgw/data``)."""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pyrad.dictionary import Dictionary
from pyrad.packet import Packet

ACCESS_REQUEST = 1
ACCESS_ACCEPT = 2
ACCESS_REJECT = 3
ACCOUNTING_REQUEST = 4
ACCOUNTING_RESPONSE = 5
ACCESS_CHALLENGE = 11
_CODE_NAMES = {
    1: "Access-Request",
    2: "Access-Accept",
    3: "Access-Reject",
    4: "Accounting-Request",
    5: "Accounting-Response",
    11: "Access-Challenge",
}
_MESSAGE_AUTHENTICATOR = 80
_MAX_PACKET = 4096

Attributes = Sequence[tuple[str, Any]]


def default_dictionary_path() -> Path:
    """The dictionary shipped in the package (``pixgw/data/dictionary``, package data), however
    pixgw is installed: a wheel, ``pip install .``, an editable install."""
    return Path(str(resources.files("pixgw").joinpath("data", "dictionary")))


_DICTIONARIES: dict[str, Dictionary] = {}


def load_dictionary(path: str | Path | None = None) -> Dictionary:
    key = str(path or default_dictionary_path())
    if key not in _DICTIONARIES:
        _DICTIONARIES[key] = Dictionary(key)
    return _DICTIONARIES[key]


class UnencodableRequest(ValueError):
    """A request that cannot be put in a RADIUS packet (an attribute value too long or of the
    wrong type, the packet over 4096 bytes): never sent, and no use retrying."""


def encode_attributes(dictionary: Dictionary, attributes: Attributes) -> bytes:
    """Attribute TLVs for ``attributes`` (names from the dictionary), in the order given."""
    out = bytearray()
    for name, value in attributes:
        packet = Packet(dict=dictionary)
        try:
            packet.AddAttribute(name, value)
            out += packet._PktEncodeAttributes()
        except (ValueError, TypeError, KeyError, struct.error, UnicodeError) as e:
            raise UnencodableRequest(f"attribute {name}: {e or type(e).__name__}") from e
    return bytes(out)


def decode_attributes(dictionary: Dictionary, code: int, body: bytes) -> dict[str, list[Any]]:
    """name -> decoded values, from the attribute section. Raises ValueError when malformed."""
    _check_tlvs(body)
    packet = Packet(dict=dictionary)
    header = struct.pack("!BBH", code, 0, 20 + len(body)) + bytes(16)
    try:
        packet.DecodePacket(header + body)
        result: dict[str, list[Any]] = {}
        for key in packet.keys():  # noqa: SIM118 - pyrad keys() gives names
            name = key if isinstance(key, str) else str(key)
            result[name] = list(packet[key])
    except Exception as e:  # pyrad raises several kinds on bad input
        raise ValueError(f"malformed RADIUS attributes: {e}") from e
    return result


def _check_tlvs(body: bytes) -> None:
    """RFC 2865 §5: every attribute has a length of at least 2 and fits; a Vendor-Specific one
    holds a vendor id and whole sub-attributes (RFC 2865 §5.26)."""
    i = 0
    while i < len(body):
        if i + 2 > len(body):
            raise ValueError("truncated attribute header")
        t, length = body[i], body[i + 1]
        if length < 2 or i + length > len(body):
            raise ValueError(f"attribute {t}: bad length {length}")
        if t == 26:
            if length < 6:
                raise ValueError("Vendor-Specific without a vendor id")
            j, end = i + 6, i + length
            while j < end:
                if j + 2 > end or body[j + 1] < 2 or j + body[j + 1] > end:
                    raise ValueError("bad vendor sub-attribute")
                j += body[j + 1]
        i += length


def hide_password(password: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """RFC 2865 §5.2: pad to 16, XOR with the MD5 chain of secret and Request Authenticator."""
    if len(password) > 128:
        raise ValueError("User-Password longer than 128 bytes")
    padded = password + bytes(-len(password) % 16) if password else bytes(16)
    out = b""
    last = authenticator
    for i in range(0, len(padded), 16):
        b = hashlib.md5(secret + last).digest()  # noqa: S324 - RFC 2865
        block = bytes(x ^ y for x, y in zip(padded[i : i + 16], b, strict=True))
        out += block
        last = block
    return out


def unhide(value: bytes, secret: bytes, request_authenticator: bytes) -> bytes:
    """Reverse of :func:`hide_password` (RFC 2865 §5.2 chaining on the cipher blocks), as
    RFC 2548 §2.4.1 MS-CHAP-MPPE-Keys uses it. Raises ValueError on a bad length."""
    if not value or len(value) % 16:
        raise ValueError("hidden value is not a multiple of 16 bytes")
    out = b""
    last = request_authenticator
    for i in range(0, len(value), 16):
        block = value[i : i + 16]
        b = hashlib.md5(secret + last).digest()  # noqa: S324 - RFC 2865
        out += bytes(x ^ y for x, y in zip(block, b, strict=True))
        last = block
    return out


def salt_decrypt(value: bytes, secret: bytes, request_authenticator: bytes) -> bytes:
    """RFC 2548 §2.4.2 (MS-MPPE-Send-Key/Recv-Key): Salt(2), then blocks of
    MD5(secret + R + salt) / MD5(secret + previous cipher block). The first plaintext byte is
    the key length. Raises ValueError on a bad length or salt."""
    if len(value) < 18 or (len(value) - 2) % 16 or not value[0] & 0x80:
        raise ValueError("bad salt-encrypted value")
    salt, cipher = value[:2], value[2:]
    plain = b""
    last = request_authenticator + salt
    for i in range(0, len(cipher), 16):
        block = cipher[i : i + 16]
        b = hashlib.md5(secret + last).digest()  # noqa: S324 - RFC 2548
        plain += bytes(x ^ y for x, y in zip(block, b, strict=True))
        last = block
    length = plain[0]
    if length + 1 > len(plain):
        raise ValueError("salt-encrypted key length beyond the value")
    return plain[1 : 1 + length]


def message_authenticator(secret: bytes, packet: bytes) -> bytes:
    """RFC 3579 §3.2: HMAC-MD5 over the packet with the Message-Authenticator value zeroed."""
    return hmac.new(secret, packet, hashlib.md5).digest()


def _find_message_authenticator(body: bytes) -> int | None:
    """Offset (in ``body``) of the value of the first Message-Authenticator, or None."""
    i = 0
    while i + 2 <= len(body):
        t, length = body[i], body[i + 1]
        if length < 2 or i + length > len(body):
            return None
        if t == _MESSAGE_AUTHENTICATOR and length == 18:
            return i + 2
        i += length
    return None


def build_packet(
    code: int,
    identifier: int,
    secret: bytes,
    request_authenticator: bytes,
    attributes: bytes,
) -> tuple[bytes, bytes]:
    """A request with a Message-Authenticator first: (datagram, authenticator sent).

    Access-Request: the authenticator is ``request_authenticator`` (random). Accounting-Request:
    the MA is computed over 16 zero bytes, then the Request Authenticator is
    MD5(Code+Id+Length+16 zeros+attributes+secret) (RFC 2866 §3)."""
    body = bytes([_MESSAGE_AUTHENTICATOR, 18]) + bytes(16) + attributes
    length = 20 + len(body)
    if length > _MAX_PACKET:
        raise UnencodableRequest(f"a packet of {length} bytes, over {_MAX_PACKET}")
    header = struct.pack("!BBH", code, identifier, length)
    seed = request_authenticator if code == ACCESS_REQUEST else bytes(16)
    ma = message_authenticator(secret, header + seed + body)
    body = body[:2] + ma + body[18:]
    if code == ACCESS_REQUEST:
        return header + seed + body, seed
    auth = hashlib.md5(header + bytes(16) + body + secret).digest()  # noqa: S324 - RFC 2866
    return header + auth + body, auth


@dataclass(frozen=True)
class RadiusReply:
    code: int
    identifier: int
    attributes: dict[str, list[Any]]
    request_authenticator: bytes

    def first(self, name: str) -> Any:
        values = self.attributes.get(name)
        return values[0] if values else None


def check_reply(
    data: bytes, secret: bytes, request_authenticator: bytes, require_ma: bool
) -> str | None:
    """Why the reply is not genuine, or None when it is (RFC 2865 §3 Response Authenticator,
    RFC 3579 §3.2 Message-Authenticator)."""
    if len(data) < 20:
        return "short"
    length = struct.unpack("!H", data[2:4])[0]
    if length < 20 or length > len(data):
        return "bad length"
    data = data[:length]
    expected = hashlib.md5(  # noqa: S324 - RFC 2865 §3
        data[:4] + request_authenticator + data[20:] + secret
    ).digest()
    if not hmac.compare_digest(expected, data[4:20]):
        return "bad response authenticator"
    offset = _find_message_authenticator(data[20:])
    if offset is None:
        return "no Message-Authenticator" if require_ma else None
    at = 20 + offset
    zeroed = data[:4] + request_authenticator + data[20:at] + bytes(16) + data[at + 16 :]
    if not hmac.compare_digest(message_authenticator(secret, zeroed), data[at : at + 16]):
        return "bad Message-Authenticator"
    return None


