"""RFC 2661 header and AVP codec: annotated vectors both ways, hidden AVPs, malformed input."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pixgw.l2tp.avp import (
    Avp,
    AvpType,
    decode_avps,
    encode_avp,
    encode_avps,
    hide_value,
    result_code_value,
    unhide_value,
)
from pixgw.l2tp.message import (
    ControlMessage,
    DataMessage,
    data_datagram,
    decode,
    encode_control,
    encode_data,
)
from pixgw.wire import MalformedMessage

VECTORS = Path(__file__).parent.parent / "vectors" / "l2tp"


def load_vector(name: str) -> bytes:
    out = b""
    for line in (VECTORS / name).read_text().splitlines():
        hex_part = line.split("#", 1)[0].strip()
        if hex_part:
            out += bytes.fromhex(hex_part)
    return out


SCCRQ = load_vector("sccrq.txt")


def test_sccrq_vector_decodes():
    message = decode(SCCRQ)
    assert isinstance(message, ControlMessage)
    assert (message.tunnel_id, message.session_id, message.ns, message.nr) == (0, 0, 0, 0)
    avps, unrevealed = decode_avps(message.avp_bytes)
    assert unrevealed == ()
    by_type = {(a.vendor_id, a.attribute_type): a for a in avps}
    assert avps[0] == Avp(AvpType.MESSAGE_TYPE, b"\x00\x01")
    assert by_type[(0, AvpType.PROTOCOL_VERSION)].value == b"\x01\x00"
    assert by_type[(0, AvpType.FRAMING_CAPABILITIES)].u32() == 3
    assert by_type[(0, AvpType.FIRMWARE_REVISION)].mandatory is False
    assert by_type[(0, AvpType.HOST_NAME)].value == b"zaahmed-pc"
    assert by_type[(0, AvpType.VENDOR_NAME)].value == b"xl2tpd.org"
    assert by_type[(0, AvpType.ASSIGNED_TUNNEL_ID)].u16() == 19
    assert by_type[(0, AvpType.RECEIVE_WINDOW_SIZE)].u16() == 4
    vendor = by_type[(9, 1)]
    assert vendor.value == bytes.fromhex("deadbeef") and not vendor.mandatory
    assert not vendor.recognized


def test_sccrq_vector_encodes_back_identically():
    message = decode(SCCRQ)
    assert isinstance(message, ControlMessage)
    avps, _ = decode_avps(message.avp_bytes)
    rebuilt = encode_control(ControlMessage(0, 0, 0, 0, encode_avps(avps)))
    assert rebuilt == SCCRQ


def test_zlb_vector():
    # c802: T L S, Ver 2 | 000c: length 12 | 0004 tunnel | 0000 session | 0003 Ns | 0005 Nr
    zlb = bytes.fromhex("c802 000c 0004 0000 0003 0005")
    message = decode(zlb)
    assert message == ControlMessage(4, 0, 3, 5, b"")
    assert isinstance(message, ControlMessage) and message.is_zlb
    assert encode_control(message) == zlb


def test_data_message_vectors_both_ways():
    # 0002: T=0, no L/S/O, Ver 2 | 0013 tunnel 19 | 0001 session 1 | ff03c021... PPP LCP
    plain = bytes.fromhex("0002 0013 0001 ff03c0210101000a")
    assert decode(plain) == DataMessage(19, 1, bytes.fromhex("ff03c0210101000a"))
    assert encode_data(DataMessage(19, 1, bytes.fromhex("ff03c0210101000a"))) == plain
    # 4a02: L, S, O set | 0014 length 20 | 0013 | 0001 | 0007 Ns | 0000 Nr | 0002 offset 2,
    # pad 0000 | PPP frame (4 octets)
    full = bytes.fromhex("4a02 0014 0013 0001 0007 0000 0002 0000 c0210101")
    message = decode(full)
    assert message == DataMessage(
        19, 1, bytes.fromhex("c0210101"), 7, 0, False, b"\x00\x00", with_length=True
    )
    assert isinstance(message, DataMessage)
    assert encode_data(message) == full
    # P bit (0100) alone
    prio = bytes.fromhex("0102 0013 0001 c021")
    decoded = decode(prio)
    assert isinstance(decoded, DataMessage) and decoded.priority
    assert encode_data(decoded) == prio


@pytest.mark.parametrize(
    ("datagram", "expected"),
    [
        # 0002: no bits | 0013 tunnel 19 | 0001 session 1 | an IP frame ff03 0021 ...
        (
            bytes.fromhex("0002 0013 0001 ff030021 4500"),
            DataMessage(19, 1, bytes.fromhex("ff030021 4500")),
        ),
        # 4002: L only | 000e length 14 | 0013 | 0001 | 6 octets, then 2 octets past Length
        (
            bytes.fromhex("4002 000e 0013 0001 ff030021 4500 eeee"),
            DataMessage(19, 1, bytes.fromhex("ff030021 4500"), with_length=True),
        ),
        # 4002 with Length 8: an empty payload
        (bytes.fromhex("4002 0008 0013 0001"), DataMessage(19, 1, b"", with_length=True)),
        # 0002 with the header only
        (bytes.fromhex("0002 0013 0001"), DataMessage(19, 1, b"")),
    ],
)
def test_data_fast_path_gives_what_the_full_decoder_gives(datagram, expected):
    """The per-packet shortcut for the two headers clients use (no bits; L only)."""
    message = decode(datagram)
    assert message == expected
    header = 8 if expected.with_length else 6  # octets past Length are not the message's
    assert encode_data(message) == datagram[: header + len(expected.payload)]


def test_data_datagram_is_the_lns_per_packet_encoding():
    frame = bytes.fromhex("ff030021450000")
    # 0002: Ver 2, no bits | 0013 tunnel 19 | 0001 session 1 | the PPP frame
    assert data_datagram(19, 1, frame, None, None) == bytes.fromhex("0002 0013 0001") + frame
    # 0802: S bit | 0013 | 0001 | 0007 Ns | 0003 Nr
    assert data_datagram(19, 1, frame, 7, 3) == bytes.fromhex("0802 0013 0001 0007 0003") + frame
    # an Nr alone still sets S (Ns 0), as encode_data always did
    assert data_datagram(19, 1, b"", None, 5) == bytes.fromhex("0802 0013 0001 0000 0005")
    # and the decoder reads each back
    for ns, nr in ((None, None), (7, 3), (0xFFFF, 0)):
        message = decode(data_datagram(0xBEEF, 0x1234, frame, ns, nr))
        assert isinstance(message, DataMessage)
        assert (message.tunnel_id, message.session_id, message.payload) == (0xBEEF, 0x1234, frame)
        assert (message.ns, message.nr) == (ns, nr)


@pytest.mark.parametrize(
    "datagram",
    [
        bytes.fromhex("4002 0007 0013 0001"),  # Length 7: below the L header (8)
        bytes.fromhex("4002 0006 0013 0001"),  # Length 6
        bytes.fromhex("4002 0010 0013 0001"),  # Length beyond the datagram
        bytes.fromhex("4002 0008 0013"),  # cut inside the header
        bytes.fromhex("0002 0013 00"),  # cut inside the header, no L
        bytes.fromhex("0003 0013 0001 00"),  # version 3
    ],
)
def test_data_fast_path_refuses_what_the_full_decoder_refuses(datagram):
    with pytest.raises(MalformedMessage):
        decode(datagram)


def test_avp_header_bits():
    # 80 08: M, length 8 | 0000 IETF | 0009 Assigned Tunnel ID | 0013 = 19
    assert encode_avp(Avp.of_u16(AvpType.ASSIGNED_TUNNEL_ID, 19)) == bytes.fromhex(
        "8008 0000 0009 0013"
    )
    # 00 08: neither M nor H
    assert encode_avp(Avp.of_u16(6, 0x0603, mandatory=False)) == bytes.fromhex(
        "0008 0000 0006 0603"
    )
    # a reserved bit set (0x0400): decoded, kept, and treated as unrecognized (§4.1)
    avps, _ = decode_avps(bytes.fromhex("8408 0000 0009 0013"))
    assert avps[0].reserved == 0x0400 and not avps[0].recognized
    assert encode_avp(avps[0]) == bytes.fromhex("8408 0000 0009 0013")


def test_result_code_value():
    assert result_code_value(1) == b"\x00\x01"
    assert result_code_value(2, 8) == b"\x00\x02\x00\x08"
    assert result_code_value(2, 8, "x") == b"\x00\x02\x00\x08x"


def _independent_hide(attribute_type: int, value: bytes, secret: bytes, rv: bytes) -> bytes:
    """RFC 2661 §4.3 written out again from the text, with hashlib only."""
    subformat = len(value).to_bytes(2, "big") + value
    blocks = [subformat[i : i + 16] for i in range(0, len(subformat), 16)]
    out = b""
    b = hashlib.md5(attribute_type.to_bytes(2, "big") + secret + rv).digest()
    for p in blocks:
        c = bytes(x ^ y for x, y in zip(p, b[: len(p)], strict=True))
        out += c
        b = hashlib.md5(secret + c).digest()
    return out


@pytest.mark.parametrize("value", [b"zaahmed-pc", b"a" * 30, b"", b"x" * 14, b"y" * 100])
def test_hidden_avp_against_an_independent_computation(value):
    secret = b"tunnel-secret"
    rv = bytes(range(16))
    hidden = hide_value(AvpType.HOST_NAME, value, secret, rv)
    assert hidden == _independent_hide(AvpType.HOST_NAME, value, secret, rv)
    assert unhide_value(AvpType.HOST_NAME, hidden, secret, rv) == value


def test_hidden_avp_fixed_vector():
    # Host Name "lac" hidden with secret "s" and RV 00..0f: b1 = MD5(0007 || "s" || RV);
    # subformat = 0003 "lac" (5 octets) xor b1[:5]
    rv = bytes(range(16))
    b1 = hashlib.md5(b"\x00\x07" + b"s" + rv).digest()
    expected = bytes(x ^ y for x, y in zip(b"\x00\x03lac", b1, strict=False))
    assert hide_value(AvpType.HOST_NAME, b"lac", b"s", rv) == expected


def test_hidden_avps_in_a_message_round_trip():
    secret = b"s3cret"
    avps = [
        Avp.of_u16(AvpType.MESSAGE_TYPE, 10),
        Avp(AvpType.RANDOM_VECTOR, b"\x11" * 16),
        Avp(AvpType.CALLING_NUMBER, b"555-0100", hidden=True),
    ]
    wire = encode_avps(avps, secret=secret)
    # the hidden value does not appear in clear
    assert b"555-0100" not in wire
    decoded, unrevealed = decode_avps(wire, secret=secret)
    assert unrevealed == ()
    assert decoded[2].value == b"555-0100" and decoded[2].hidden
    # without the secret it stays hidden and is reported
    decoded, unrevealed = decode_avps(wire)
    assert unrevealed == (AvpType.CALLING_NUMBER,)
    assert decoded[2].value != b"555-0100"


def test_hidden_avp_needs_a_random_vector_before_it():
    wire = encode_avp(
        Avp(AvpType.CALLING_NUMBER, b"1", hidden=True), secret=b"k", random_vector=b"r" * 16
    )
    _, unrevealed = decode_avps(wire, secret=b"k")
    assert unrevealed == (AvpType.CALLING_NUMBER,)
    with pytest.raises(ValueError, match="Random Vector"):
        encode_avps([Avp(AvpType.CALLING_NUMBER, b"1", hidden=True)], secret=b"k")


@pytest.mark.parametrize(
    "data",
    [
        b"",  # nothing
        b"\xc8",  # half a header
        bytes.fromhex("c803 000c 0000 0000 0000 0000"),  # version 3 (L2TPv3)
        bytes.fromhex("c801 000c 0000 0000 0000 0000"),  # version 1 (L2F)
        bytes.fromhex("c802 00ff 0000 0000 0000 0000"),  # length beyond the datagram
        bytes.fromhex("c802 0004 0000 0000 0000 0000"),  # length below the header
        bytes.fromhex("8802 0000 0000 0000 0000"),  # control without L
        bytes.fromhex("c002 000c 0000 0000 0000 0000"),  # control without S
        bytes.fromhex("ca02 000e 0000 0000 0000 0000 0000"),  # control with O
        bytes.fromhex("0202 0013 0001 0010 00"),  # offset beyond the data
        bytes.fromhex("0802 0013 0001 00"),  # S bit, Ns/Nr cut short
    ],
)
def test_malformed_headers_raise_malformed_message(data):
    with pytest.raises(MalformedMessage):
        decode(data)


@pytest.mark.parametrize(
    "avp_bytes",
    [
        bytes.fromhex("8005 0000 0000"),  # AVP length 5 < 6
        bytes.fromhex("8010 0000 0007 6162"),  # AVP length beyond the message
        bytes.fromhex("80"),  # half an AVP header
    ],
)
def test_malformed_avps_raise_malformed_message(avp_bytes):
    with pytest.raises(MalformedMessage):
        decode_avps(avp_bytes)


def test_hidden_avp_with_a_lying_length_is_malformed():
    rv = b"\x01" * 16
    # original length 200 claimed in a 16-octet hidden value
    plain = (200).to_bytes(2, "big") + b"x" * 14
    b1 = hashlib.md5(b"\x00\x16" + b"k" + rv).digest()
    hidden = bytes(x ^ y for x, y in zip(plain, b1, strict=True))
    with pytest.raises(MalformedMessage):
        unhide_value(AvpType.CALLING_NUMBER, hidden, b"k", rv)


def test_avp_integer_accessors_check_sizes():
    with pytest.raises(MalformedMessage):
        Avp(AvpType.ASSIGNED_TUNNEL_ID, b"\x00").u16()
    with pytest.raises(MalformedMessage):
        Avp(AvpType.CALL_SERIAL_NUMBER, b"\x00\x00").u32()
