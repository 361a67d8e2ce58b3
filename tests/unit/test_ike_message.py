"""ISAKMP codec: the annotated Windows 10 first main-mode message, round trips of every payload,
unknown payloads kept, malformed input raising only MalformedMessage."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from pixgw.ike import constants as c
from pixgw.ike.message import (
    Attribute,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    HashPayload,
    Header,
    IdPayload,
    KePayload,
    NatDPayload,
    NatOaPayload,
    NoncePayload,
    NotifyPayload,
    Proposal,
    SaPayload,
    SigPayload,
    Transform,
    UnknownPayload,
    VendorIdPayload,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from pixgw.wire import MalformedMessage

VECTORS = Path(__file__).parent.parent / "vectors" / "ike"


def load_vector(name: str) -> bytes:
    text = (VECTORS / name).read_text()
    return bytes.fromhex("".join(line.split("#")[0].strip() for line in text.splitlines()))


def test_windows10_first_main_mode_message() -> None:
    data = load_vector("windows10_main_mode_1.txt")
    m = decode_message(data)
    assert m.header.exchange_type == c.EXCH_MAIN
    assert m.header.responder_cookie == bytes(8)
    assert m.header.length == len(data) == 388
    sa = m.payloads[0]
    assert isinstance(sa, SaPayload)
    assert sa.doi == c.DOI_IPSEC and sa.situation == c.SIT_IDENTITY_ONLY
    (prop,) = sa.proposals
    assert prop.protocol == c.PROTO_ISAKMP and len(prop.transforms) == 5
    summary = [
        (t.attribute(c.P1_ENCRYPTION), t.attribute(c.P1_KEY_LENGTH), t.attribute(c.P1_GROUP))
        for t in prop.transforms
    ]
    assert summary == [(7, 256, 20), (7, 128, 19), (7, 256, 14), (5, None, 14), (5, None, 2)]
    assert all(t.attribute(c.P1_LIFE_DURATION) == 28800 for t in prop.transforms)
    vids = [p.data for p in m.payloads[1:] if isinstance(p, VendorIdPayload)]
    assert len(vids) == 8
    assert c.VID_NATT_RFC3947 in vids and c.VID_NATT_DRAFT_02 in vids
    assert encode_message(m.header, m.payloads) == data


ALL_PAYLOADS = (
    SaPayload(1, 1, (Proposal(1, c.PROTO_ESP, b"\x01\x02\x03\x04", (
        Transform(1, c.ESP_AES, (Attribute.of(c.P2_KEY_LENGTH, 256),
                                 Attribute.of(c.P2_LIFE_DURATION, 4608000))),
        Transform(2, c.ESP_3DES, ()),
    )),)),
    KePayload(b"\x11" * 128),
    NoncePayload(b"\x22" * 20),
    IdPayload(c.ID_IPV4_ADDR, 17, 1701, b"\xc0\x00\x02\x01"),
    CertPayload(c.CERT_X509_SIG, b"\x30\x03\x02\x01\x01"),
    CertReqPayload(c.CERT_X509_SIG, b""),
    HashPayload(b"\x33" * 20),
    SigPayload(b"\x44" * 64),
    NotifyPayload(1, c.PROTO_ISAKMP, c.N_R_U_THERE, b"\x55" * 16, b"\x00\x00\x00\x07"),
    DeletePayload(1, c.PROTO_ESP, 4, (b"\x01\x02\x03\x04", b"\x05\x06\x07\x08")),
    VendorIdPayload(c.VID_DPD),
    NatDPayload(b"\x66" * 20),
    NatDPayload(b"\x67" * 20, c.PT_NAT_D_DRAFT),
    NatOaPayload(c.ID_IPV4_ADDR, b"\xc0\xa8\x01\x02"),
    NatOaPayload(c.ID_IPV4_ADDR, b"\xc0\xa8\x01\x03", c.PT_NAT_OA_DRAFT),
    UnknownPayload(200, b"kept", critical=True),
)


def test_every_payload_round_trips() -> None:
    body = encode_payloads(ALL_PAYLOADS)
    assert decode_payloads(c.PT_SA, body) == ALL_PAYLOADS
    header = Header(b"a" * 8, b"b" * 8, 0, 0x10, c.EXCH_QUICK, 0, 7)
    m = decode_message(encode_message(header, ALL_PAYLOADS))
    assert m.payloads == ALL_PAYLOADS


def test_tlv_attribute_kept_in_its_form() -> None:
    t = Transform(1, 1, (Attribute(c.P1_LIFE_DURATION, b"\x00\x00\x70\x80", basic=False),))
    sa = SaPayload(1, 1, (Proposal(1, 1, b"", (t,)),))
    (back,) = decode_payloads(c.PT_SA, encode_payloads((sa,)))
    assert back == sa
    assert isinstance(back, SaPayload)
    assert back.proposals[0].transforms[0].attribute(c.P1_LIFE_DURATION) == 28800


def test_padding_only_allowed_after_decryption() -> None:
    body = encode_payloads((HashPayload(b"x" * 20),)) + b"\x00" * 8
    with pytest.raises(MalformedMessage):
        decode_payloads(c.PT_HASH, body)
    assert decode_payloads(c.PT_HASH, body, allow_padding=True) == (HashPayload(b"x" * 20),)


@pytest.mark.parametrize("cut", range(1, 60))
def test_truncated_windows_message_raises_only_malformed(cut: int) -> None:
    data = load_vector("windows10_main_mode_1.txt")
    with pytest.raises(MalformedMessage):
        decode_message(data[:-cut])


def test_every_payload_truncated_or_garbled_raises_only_malformed() -> None:
    header = Header(b"a" * 8, b"b" * 8, 0, 0x10, c.EXCH_QUICK, 0, 7)
    for p in ALL_PAYLOADS:
        data = encode_message(header, (p,))
        for n in range(28, len(data)):
            with contextlib.suppress(MalformedMessage):
                decode_message(data[:n])
        for i in range(28, len(data)):
            garbled = bytearray(data)
            garbled[i] ^= 0xFF
            with contextlib.suppress(MalformedMessage):
                decode_message(bytes(garbled))
