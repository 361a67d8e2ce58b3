"""RFC 1662 asynchronous HDLC-like framing (used by the pppd interop harness)."""

from hypothesis import given
from hypothesis import strategies as st

from pixgw.ppp.hdlc import FCS16_GOOD, HdlcDecoder, encode_async, fcs16


def test_fcs16_check_value():
    # CRC-16/X.25 (the RFC 1662 FCS-16) of "123456789" is 0x906E after the final complement.
    assert fcs16(b"123456789") ^ 0xFFFF == 0x906E


def test_encode_vector():
    # LCP Echo-Request id 1, magic 0: ff 03 c0 21 09 01 00 08 00 00 00 00
    frame = bytes.fromhex("ff03c0210901000800000000")
    wire = encode_async(frame)
    assert wire[0] == wire[-1] == 0x7E
    # 0x03, 0x09, 0x01, 0x00 ... are below 0x20: escaped as 7d 23, 7d 29, 7d 21, 7d 20.
    assert wire[1:9].hex() == "ff7d23c0217d297d"
    assert HdlcDecoder().feed(wire) == [frame]
    assert fcs16(frame + (fcs16(frame) ^ 0xFFFF).to_bytes(2, "little")) == FCS16_GOOD


def test_accm_zero_sends_controls_clear():
    assert b"\x03" in encode_async(b"\xff\x03", accm=0)
    assert b"\x7d\x5e" in encode_async(b"\x7e", accm=0)  # flag always escaped


def test_bad_fcs_and_overflow_counted():
    decoder = HdlcDecoder(max_frame=8)
    good = encode_async(b"\xff\x03\x00\x21x")
    corrupted = bytearray(good)
    corrupted[4] ^= 0x01
    assert decoder.feed(bytes(corrupted)) == []
    assert decoder.feed(encode_async(bytes(64))) == []
    assert decoder.errors == 2
    assert decoder.feed(b"\x7e\x7e" + good) == [b"\xff\x03\x00\x21x"]


@given(st.lists(st.binary(min_size=1, max_size=60), max_size=8), st.integers(1, 7))
def test_stream_roundtrip_any_chunking(frames, chunk):
    stream = b"".join(encode_async(f) for f in frames)
    decoder = HdlcDecoder()
    got = []
    for i in range(0, len(stream), chunk):
        got += decoder.feed(stream[i : i + chunk])
    assert got == frames
    assert decoder.errors == 0


@given(st.binary(max_size=200))
def test_decoder_never_raises(data):
    HdlcDecoder(max_frame=64).feed(data)
