"""tests/fuzz/captures.py on the committed captures (tests/vectors/captures): what it reads off
the wire is what pixgw's decoders read - every L2TP message decodes, its PPP frame is the data
message's payload, the IKE messages in clear decode with their payload chains - and the
ESP-NULL opening refuses what is not ESP-NULL. Under 1 s."""

from __future__ import annotations

import pytest

from pixgw.ike.message import decode_header, decode_payloads
from pixgw.l2tp.message import DataMessage
from pixgw.l2tp.message import decode as decode_l2tp
from pixgw.ppp.frame import decode_frame
from tests.fuzz.captures import client_of, conversations, frames, open_esp_null, pcaps, ppp_frame


def test_every_capture_holds_a_whole_client_session() -> None:
    assert len(pcaps()) >= 3
    for conversation in conversations():
        kinds = {d.kind for d in conversation}
        assert kinds == {"ike", "esp", "l2tp"}, kinds
        client = client_of(conversation)
        assert any(d.src == client for d in conversation if d.kind == "l2tp")
        for d in conversation:
            if d.kind == "l2tp":
                message = decode_l2tp(d.data)
                if isinstance(message, DataMessage):
                    assert ppp_frame(d.data) == message.payload
                    decode_frame(message.payload)
                else:
                    assert ppp_frame(d.data) is None
            elif d.kind == "ike":
                header, body = decode_header(d.data)
                if not header.flags & 1:
                    assert decode_payloads(header.next_payload, body)


def test_the_nat_capture_has_ike_on_4500_and_udp_encapsulated_esp() -> None:
    (nat,) = [c for p, c in zip(pcaps(), conversations(), strict=True) if "nat" in p.name]
    assert {d.port for d in nat if d.kind == "ike"} == {500, 4500}
    assert {d.port for d in nat if d.kind == "esp"} == {4500}


def test_open_esp_null_refuses_what_is_not_esp_null() -> None:
    conversation = conversations()[0]
    esp = next(d.data for d in conversation if d.kind == "esp")
    assert open_esp_null(esp) is not None
    broken = bytearray(esp)
    broken[-13] ^= 0xFF  # the next header (UDP) before the 12-byte ICV
    assert open_esp_null(bytes(broken)) is None
    assert open_esp_null(esp[:20]) is None


def test_a_file_that_is_not_a_pcap_is_refused() -> None:
    with pytest.raises(ValueError, match="not a pcap"):
        list(frames(b"\x00" * 40))
    with pytest.raises(ValueError, match="shorter"):
        list(frames(b"\xd4\xc3\xb2\xa1"))
