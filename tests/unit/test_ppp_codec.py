"""PPP frame, control packet and option codecs; LCP and IPCP option policy (annotated vectors
in tests/vectors/ppp/)."""

import contextlib
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pixgw.ppp.auth import PeerAuthenticator
from pixgw.ppp.frame import (
    PROTO_CHAP,
    PROTO_IP,
    PROTO_IPCP,
    PROTO_LCP,
    PROTO_PAP,
    ControlPacket,
    Option,
    PppFrame,
    decode_frame,
    decode_options,
    decode_packet,
    encode_frame,
    encode_options,
    encode_packet,
)
from pixgw.ppp.ipcp import IpcpLayer
from pixgw.ppp.lcp import LcpLayer
from pixgw.wire import MalformedMessage

VECTORS = Path(__file__).parent.parent / "vectors" / "ppp"


def vector(name):
    text = (VECTORS / name).read_text()
    return bytes.fromhex("".join(line.split("#", 1)[0] for line in text.splitlines()))


def fixed_random(n):
    return bytes(range(1, n + 1))


# --- frames ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "frame"),
    [
        ("ff03c021" "01010004", PppFrame(PROTO_LCP, bytes.fromhex("01010004"))),  # full header
        ("c021" "01010004", PppFrame(PROTO_LCP, bytes.fromhex("01010004"))),  # ACFC
        ("21" "4500", PppFrame(PROTO_IP, b"\x45\x00")),  # ACFC + PFC: one-byte 0x21
        ("ff0321" "4500", PppFrame(PROTO_IP, b"\x45\x00")),  # PFC only
        ("ff030021" "4500", PppFrame(PROTO_IP, b"\x45\x00")),
    ],
)
def test_decode_frame(wire, frame):
    assert decode_frame(bytes.fromhex(wire)) == frame


@pytest.mark.parametrize("wire", ["", "ff03", "ff0300", "0020", "ff03c020", "80"])
def test_decode_frame_malformed(wire):
    with pytest.raises(MalformedMessage):
        decode_frame(bytes.fromhex(wire))


def test_encode_frame_variants():
    assert encode_frame(PROTO_IP, b"x").hex() == "ff03002178"
    assert encode_frame(PROTO_IP, b"x", acfc=True, pfc=True).hex() == "2178"
    assert encode_frame(PROTO_IPCP, b"x", acfc=True, pfc=True).hex() == "802178"
    # RFC 1661 §6.5/§6.6: LCP always goes with the full header.
    assert encode_frame(PROTO_LCP, b"x", acfc=True, pfc=True).hex() == "ff03c02178"


@given(st.integers(0, 0x7FFF).map(lambda n: n * 2 + 1).filter(lambda p: p & 0x100 == 0),
       st.binary(max_size=40), st.booleans(), st.booleans())
def test_frame_roundtrip(protocol, information, acfc, pfc):
    decoded = decode_frame(encode_frame(protocol, information, acfc=acfc, pfc=pfc))
    assert decoded == PppFrame(protocol, information)


@given(st.binary(max_size=64))
def test_decoders_only_raise_malformed(data):
    for decoder in (decode_frame, decode_packet, decode_options):
        with contextlib.suppress(MalformedMessage):
            decoder(data)


def test_packet_padding_dropped_and_length_checked():
    assert decode_packet(bytes.fromhex("0901000600aaffff")) == ControlPacket(9, 1, b"\x00\xaa")
    with pytest.raises(MalformedMessage):
        decode_packet(bytes.fromhex("09010010"))  # Length 16 > 4 bytes present
    with pytest.raises(MalformedMessage):
        decode_packet(bytes.fromhex("09010003"))  # Length < 4
    assert encode_packet(ControlPacket(5, 7, b"bye")).hex() == "05070007627965"


def test_options_roundtrip_keep_unknown():
    options = (Option(1, b"\x05\x78"), Option(0xEE, b"\x01\x02\x03"), Option(7))
    assert decode_options(encode_options(options)) == options


# --- vectors -----------------------------------------------------------------------------------


def test_vector_windows_style_lcp_request():
    frame = decode_frame(vector("lcp_confreq_windows_style.hex"))
    assert frame.protocol == PROTO_LCP
    packet = decode_packet(frame.information)
    assert (packet.code, packet.identifier) == (1, 2)
    options = decode_options(packet.data)
    assert [o.type for o in options] == [1, 5, 7, 8, 13, 17]
    lcp = LcpLayer(authentication=("mschapv2",), random_bytes=fixed_random)
    verdict = lcp.check_request(options)
    # Callback and MRRU are Rejected; everything else would be acceptable.
    assert verdict.kind == "reject"
    assert [o.type for o in verdict.options] == [13, 17]
    assert encode_options(verdict.options).hex() == "0d0306" "1104064e"
    without = tuple(o for o in options if o.type not in (13, 17))
    assert lcp.check_request(without).kind == "ack"
    assert lcp.peer_mru == 1400 and lcp.peer_pfc and lcp.peer_acfc
    assert lcp.peer_magic == 0x3A7C514D
    assert encode_frame(PROTO_LCP, encode_packet(packet)) == vector(
        "lcp_confreq_windows_style.hex"
    )


def test_vector_mschapv2_response_decoded_for_aaa():
    frame = decode_frame(vector("chap_mschapv2_response.hex"))
    assert frame.protocol == PROTO_CHAP
    auth = PeerAuthenticator("mschapv2", random_bytes=lambda n: bytes([7]) if n == 1 else
                             bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628"))
    auth.start(0.0)
    (challenge,) = auth.outgoing
    assert challenge.identifier == 7
    assert challenge.data[0] == 16
    request = auth.receive(decode_packet(frame.information), 0.0)
    assert request is not None
    assert request.username == "User"
    assert request.peer_challenge.hex() == "21402324255e262a28295f2b3a337c7e"
    assert request.nt_response.hex().upper() == "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"
    assert request.challenge.hex().upper() == "5B5D7C7D7B3F2F3E3C2C602132262628"


def test_vector_pap_request():
    frame = decode_frame(vector("pap_authenticate_request.hex"))
    assert frame.protocol == PROTO_PAP
    auth = PeerAuthenticator("pap", random_bytes=fixed_random)
    auth.start(0.0)
    request = auth.receive(decode_packet(frame.information), 0.0)
    assert request is not None
    assert (request.username, request.password) == ("vpnclient", "s3cret!")
    auth.result(True, 0.0)
    (ack,) = auth.outgoing
    # Authenticate-Ack, id 1, length 13, Msg-Length 8, "Login OK"
    assert encode_packet(ack).hex() == "0201000d" "08" + b"Login OK".hex()


def test_vector_ipcp_zero_request_nakked():
    frame = decode_frame(vector("ipcp_confreq_zero.hex"))
    assert frame.protocol == PROTO_IPCP
    options = decode_options(decode_packet(frame.information).data)
    ipcp = IpcpLayer(
        local_address=IPv4Address("198.51.100.1"),
        dns=(IPv4Address("192.0.2.53"), IPv4Address("192.0.2.54")),
        wins=(IPv4Address("192.0.2.137"),),
    )
    ipcp.peer_address = IPv4Address("198.51.100.10")
    verdict = ipcp.check_request(options)
    # Only one WINS configured: the secondary NBNS request is Rejected (and Reject wins).
    assert verdict.kind == "reject"
    assert encode_options(verdict.options).hex() == "840600000000"
    rest = tuple(o for o in options if o.type != 132)
    verdict = ipcp.check_request(rest)
    assert verdict.kind == "nak"
    assert encode_options(verdict.options).hex() == (
        "0306c633640a"  # IP-Address 198.51.100.10
        "8106c0000235"  # Primary DNS 192.0.2.53
        "8206c0000289"  # Primary NBNS 192.0.2.137
        "8306c0000236"  # Secondary DNS 192.0.2.54
    )
    assert ipcp.check_request(verdict.options).kind == "ack"
    assert ipcp.dns == (IPv4Address("192.0.2.53"), IPv4Address("192.0.2.54"))
    assert ipcp.wins == (IPv4Address("192.0.2.137"),)


# --- LCP / IPCP policies -----------------------------------------------------------------------


def test_lcp_our_request_mru_auth_magic():
    lcp = LcpLayer(authentication=("chap", "mschapv2"), random_bytes=lambda n: b"\x0a" * n)
    assert encode_options(lcp.request_options()).hex() == (
        "01040578"  # MRU 1400 (the cap)
        "0305c22305"  # Authentication-Protocol CHAP, MD5
        "05060a0a0a0a"  # Magic-Number
    )


def test_lcp_auth_nak_suggestion_and_reject():
    lcp = LcpLayer(authentication=("pap", "chap", "mschapv2"), random_bytes=fixed_random)
    assert lcp.auth == "pap"
    lcp.apply_nak((Option(3, bytes.fromhex("c22381")),))  # peer suggests MS-CHAPv2: allowed
    assert lcp.auth == "mschapv2"
    lcp.apply_nak((Option(3, bytes.fromhex("c22380")),))  # MS-CHAPv1: not allowed -> next
    assert lcp.auth == "chap"
    lcp.apply_nak((Option(3, bytes.fromhex("c22305")),))
    assert lcp.fatal_reason is not None
    other = LcpLayer(authentication=("chap",), random_bytes=fixed_random)
    other.apply_reject((Option(3, bytes.fromhex("c22305")),))
    assert other.fatal_reason == "peer rejected authentication"


def test_lcp_rejects_peer_auth_request_and_loop_magic():
    lcp = LcpLayer(authentication=("chap",), random_bytes=lambda n: b"\x0b" * n)
    verdict = lcp.check_request((Option(3, bytes.fromhex("c023")),))
    assert verdict.kind == "reject"
    verdict = lcp.check_request((Option(5, b"\x0b\x0b\x0b\x0b"),))  # our own magic: a loop
    assert verdict.kind == "nak" and lcp.loops_detected == 1
    assert lcp.check_request((Option(5, b"\x00\x00\x00\x00"),)).kind == "nak"
    assert lcp.check_request((Option(1, b"\x00\x10"),)).kind == "nak"  # MRU 16 < 64
    assert lcp.check_request((Option(1, b"\x05"),)).kind == "reject"  # bad length
    assert lcp.check_request((Option(2, b"\x00\x00\x00\x00"),)).kind == "ack"  # ACCM


def test_ipcp_rejects_compression_and_unknown():
    ipcp = IpcpLayer(local_address=None)
    ipcp.peer_address = IPv4Address("198.51.100.10")
    verdict = ipcp.check_request(
        (Option(2, bytes.fromhex("002d0f01")), Option(1, bytes(8)), Option(0x99, b""))
    )
    assert verdict.kind == "reject" and [o.type for o in verdict.options] == [2, 1, 0x99]
    assert ipcp.request_options() == []
    # The peer did not ask for an address: Nak one in (RFC 1332 §3.3).
    verdict = ipcp.check_request(())
    assert verdict.kind == "nak" and verdict.options == (Option(3, bytes([198, 51, 100, 10])),)
