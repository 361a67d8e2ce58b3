"""EspSa (RFC 4303) against known answers: the primitives against RFC 3602, FIPS 81, SP 800-67,
RFC 2202 and RFC 4231 vectors, then whole ESP packets built by an independent reference below
(per-packet cryptography Cipher objects and the hmac module), replay, tamper, padding, lifetime."""

from __future__ import annotations

import contextlib
import hmac
import itertools
import random
from pathlib import Path

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pixgw.esp import CIPHERS, INTEGRITIES, EspDrop, EspSa
from pixgw.ike.events import EspSaParameters

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "esp"


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# --- reference implementation used to build expected packets --------------------------------


def ref_algorithm(cipher: str, key: bytes):
    if cipher == "esp-des":
        return TripleDES(key + key + key)
    if cipher == "esp-3des":
        return TripleDES(key)
    return algorithms.AES(key)


def ref_cbc_encrypt(cipher: str, key: bytes, iv: bytes, data: bytes) -> bytes:
    e = Cipher(ref_algorithm(cipher, key), modes.CBC(iv)).encryptor()
    return e.update(data) + e.finalize()


def ref_cbc_decrypt(cipher: str, key: bytes, iv: bytes, data: bytes) -> bytes:
    d = Cipher(ref_algorithm(cipher, key), modes.CBC(iv)).decryptor()
    return d.update(data) + d.finalize()


def ref_ecb_encrypt(cipher: str, key: bytes, block: bytes) -> bytes:
    e = Cipher(ref_algorithm(cipher, key), modes.ECB()).encryptor()
    return e.update(block) + e.finalize()


HASH = {"esp-md5-hmac": "md5", "esp-sha-hmac": "sha1", "esp-sha256-hmac": "sha256"}


def ref_icv(integrity: str | None, key: bytes, data: bytes, truncated: bool = False) -> bytes:
    if integrity is None:
        return b""
    n = INTEGRITIES[integrity].icv_length if not truncated else 12
    return hmac.new(key, data, HASH[integrity]).digest()[:n]


def ref_esp_packet(spi, seq, cipher, ekey, integrity, akey, iv, payload, *, nh=17,  # noqa: PLR0917
                   truncated=False):
    """RFC 4303 §2 layout, written out field by field."""
    bs = CIPHERS[cipher].block_size
    align = max(bs, 4)
    pad = (align - (len(payload) + 2) % align) % align
    trailer = bytes(range(1, pad + 1)) + bytes([pad, nh])
    head = spi.to_bytes(4, "big") + seq.to_bytes(4, "big")
    if cipher == "esp-null":
        body = head + payload + trailer
    else:
        body = head + iv + ref_cbc_encrypt(cipher, ekey, iv, payload + trailer)
    return body + ref_icv(integrity, akey, body, truncated)


# --- primitives against published vectors ----------------------------------------------------


def test_aes_cbc_rfc3602_case1():
    key = h("06a9214036b8a15b512e03d534120006")
    iv = h("3dafba429d9eb430b422da802c9fac41")
    ct = ref_cbc_encrypt("esp-aes", key, iv, b"Single block msg")
    assert ct == h("e353779c1079aeb82708942dbe77181a")


def test_aes_cbc_rfc3602_case2():
    key = h("c286696d887c9aa0611bbb3e2025a45a")
    iv = h("562e17996d093d28ddb3ba695a2e6f58")
    ct = ref_cbc_encrypt("esp-aes", key, iv, bytes(range(32)))
    assert ct == h("d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1")


def test_des_cbc_fips81():
    ct = ref_cbc_encrypt("esp-des", h("0123456789abcdef"), h("1234567890abcdef"),
                         b"Now is the time for all ")
    assert ct == h("e5c7cdde872bf27c 43e934008c389c0f 683788499a7c05f6")


def test_3des_sp800_67():
    key = h("0123456789abcdef 23456789abcdef01 456789abcdef0123")
    out = b"".join(ref_ecb_encrypt("esp-3des", key, blk)
                   for blk in (b"The qufc", b"k brown ", b"fox jump"))
    assert out == h("a826fd8ce53b855f cce21c8112256fe6 68d5c05dd9b6b900")


def test_hmac_md5_rfc2202_case1():
    assert hmac.new(b"\x0b" * 16, b"Hi There", "md5").digest() == h(
        "9294727a3638bb1c13f48ef8158bfc9d")


def test_hmac_sha1_rfc2202_case2():
    assert hmac.new(b"Jefe", b"what do ya want for nothing?", "sha1").digest() == h(
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")


def test_hmac_sha256_rfc4231_case1():
    assert hmac.new(b"\x0b" * 20, b"Hi There", "sha256").digest() == h(
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")


# --- EspSa against the reference ---------------------------------------------------------------

TRANSFORMS = [
    (c, i) for c, i in itertools.product(
        ["esp-des", "esp-3des", "esp-aes", "esp-aes-192", "esp-aes-256", "esp-null"],
        ["esp-md5-hmac", "esp-sha-hmac", "esp-sha256-hmac", None])
    if not (c == "esp-null" and i is None)
]


def keys(cipher, integrity, seed=1):
    rng = random.Random(seed)
    ekey = bytes(rng.randrange(256) for _ in range(CIPHERS[cipher].key_length))
    akey = bytes(rng.randrange(256) for _ in range(INTEGRITIES[integrity].key_length)) \
        if integrity else b""
    return ekey, akey


def make_pair(cipher, integrity, *, spi=0x12345678, truncated=False, window=64, randoms=None,
              **kw):
    ekey, akey = keys(cipher, integrity)
    params = EspSaParameters(spi, cipher, integrity, ekey, akey, truncated_sha256=truncated)
    rnd = randoms if randoms is not None else (lambda n: bytes(range(n)))
    out = EspSa(params, now=0.0, random_bytes=rnd, replay_window=window, **kw)
    inb = EspSa(params, now=0.0, random_bytes=rnd, replay_window=window, **kw)
    return out, inb, ekey, akey


@pytest.mark.parametrize(("cipher", "integrity"), TRANSFORMS)
def test_decrypt_reference_packets(cipher, integrity):
    _, inb, ekey, akey = make_pair(cipher, integrity)
    bs = CIPHERS[cipher].block_size
    for seq, size in [(1, 0), (2, 1), (3, 37), (4, 1400), (7, 15)]:
        payload = bytes((seq * 7 + i) & 0xFF for i in range(size))
        iv = bytes((seq + i) & 0xFF for i in range(bs)) if cipher != "esp-null" else b""
        pkt = ref_esp_packet(0x12345678, seq, cipher, ekey, integrity, akey, iv, payload)
        assert inb.decrypt(pkt) == (17, payload)
    assert inb.packets == 5
    assert inb.highest_sequence == 7


@pytest.mark.parametrize(("cipher", "integrity"), TRANSFORMS)
def test_encrypt_matches_reference(cipher, integrity):
    randoms = [bytes([i]) * 16 for i in range(1, 10)]
    it = iter(randoms)
    out, _, ekey, akey = make_pair(cipher, integrity, randoms=lambda n: next(it)[:n])
    bs = CIPHERS[cipher].block_size
    chain = bytes(bs)  # the long-lived CBC context starts from a zero IV
    for seq, size in [(1, 0), (2, 5), (3, 1400)]:
        payload = bytes(range(size % 256)) * (size // 256) + bytes(range(size % 256))
        payload = payload[:size]
        pkt = out.encrypt(17, payload)
        if cipher == "esp-null":
            iv = b""
        else:
            r = randoms[seq - 1][:bs]
            # The IV sent is E_K(R xor chain): unpredictable, derived from the random block.
            iv = ref_ecb_encrypt(cipher, ekey, bytes(a ^ b for a, b in zip(r, chain, strict=True)))
        expected = ref_esp_packet(0x12345678, seq, cipher, ekey, integrity, akey, iv, payload)
        assert pkt == expected
        if cipher != "esp-null":
            icv = INTEGRITIES[integrity].icv_length if integrity else 0
            chain = pkt[len(pkt) - icv - bs: len(pkt) - icv]


def test_sha256_96_android_variant():
    out, inb, _, akey = make_pair("esp-aes", "esp-sha256-hmac", truncated=True)
    pkt = out.encrypt(17, b"hello")
    assert out.icv_length == 12
    assert pkt[-12:] == ref_icv("esp-sha256-hmac", akey, pkt[:-12], truncated=True)
    assert inb.decrypt(pkt) == (17, b"hello")


def test_padding_is_monotonic_and_aligned():
    out, _, ekey, _ = make_pair("esp-aes", None)
    pkt = out.encrypt(17, b"x" * 3)
    plain = ref_cbc_decrypt("esp-aes", ekey, pkt[8:24], pkt[24:])
    assert len(plain) % 16 == 0
    assert plain == b"xxx" + bytes(range(1, 12)) + bytes([11, 17])


def test_stored_vector_decrypts():
    """tests/vectors/esp/aes128_sha1.hex: one full packet, annotated field by field."""
    lines = [ln.split("#")[0] for ln in (VECTORS / "aes128_sha1.hex").read_text().splitlines()]
    meta = {}
    for line in (VECTORS / "aes128_sha1.hex").read_text().splitlines():
        if line.startswith("# key "):
            name, value = line[6:].split("=")
            meta[name.strip()] = h(value)
    pkt = h(" ".join(lines))
    params = EspSaParameters(0x0000A1B2, "esp-aes", "esp-sha-hmac", meta["enc"], meta["auth"])
    sa = EspSa(params, now=0, random_bytes=bytes)
    nh, payload = sa.decrypt(pkt)
    assert nh == 17
    assert payload == h("06a5 06a5 0014 0000") + b"L2TP-payload"


# --- replay, tamper, padding -------------------------------------------------------------------


def test_replay_is_counted_not_delivered():
    out, inb, _, _ = make_pair("esp-aes", "esp-sha-hmac")
    pkt = out.encrypt(17, b"one")
    assert inb.decrypt(pkt) == (17, b"one")
    with pytest.raises(EspDrop) as e:
        inb.decrypt(pkt)
    assert e.value.reason == "replay"
    assert inb.replay_failures == 1
    assert inb.packets == 1


def test_reordering_within_window_loses_nothing():
    out, inb, _, _ = make_pair("esp-3des", "esp-sha-hmac")
    pkts = [out.encrypt(17, i.to_bytes(2, "big")) for i in range(200)]
    order = list(range(200))
    rng = random.Random(4)
    # shuffle within blocks of 60 (< 64 window), so every packet is inside the window
    for start in range(0, 200, 60):
        chunk = order[start:start + 60]
        rng.shuffle(chunk)
        order[start:start + 60] = chunk
    got = [inb.decrypt(pkts[i])[1] for i in order]
    assert sorted(got) == [i.to_bytes(2, "big") for i in range(200)]
    assert inb.replay_failures == 0
    # everything again: all replays
    for i in range(150, 200):
        with pytest.raises(EspDrop):
            inb.decrypt(pkts[i])
    assert inb.replay_failures == 50


def test_too_old_is_dropped_and_window_configurable():
    out, inb, _, _ = make_pair("esp-aes", "esp-md5-hmac", window=8)
    pkts = [out.encrypt(17, b"p") for _ in range(20)]
    inb.decrypt(pkts[19])          # seq 20
    inb.decrypt(pkts[12])          # seq 13: offset 7, inside an 8-wide window
    with pytest.raises(EspDrop) as e:
        inb.decrypt(pkts[11])      # seq 12: offset 8, outside
    assert e.value.reason == "replay"


def test_replay_check_before_icv_and_update_after():
    out, inb, _, _ = make_pair("esp-aes", "esp-sha-hmac")
    pkt = bytearray(out.encrypt(17, b"data"))
    pkt[-1] ^= 1
    with pytest.raises(EspDrop) as e:
        inb.decrypt(bytes(pkt))
    assert e.value.reason == "authentication"
    assert inb.authentication_failures == 1
    assert inb.highest_sequence == 0  # a forged packet does not move the window
    pkt[-1] ^= 1
    assert inb.decrypt(bytes(pkt)) == (17, b"data")


@pytest.mark.parametrize("where", [0, 5, 9, 20, -13])
def test_any_flipped_bit_fails_authentication(where):
    out, inb, _, _ = make_pair("esp-des", "esp-md5-hmac", spi=0x12345678)
    pkt = bytearray(out.encrypt(17, b"z" * 30))
    pkt[where] ^= 0x40
    with pytest.raises(EspDrop):
        inb.decrypt(bytes(pkt))
    assert inb.packets == 0


def test_bad_padding_without_integrity():
    _, inb, ekey, _ = make_pair("esp-aes", None)
    iv = bytes(16)
    bad = b"abc" + bytes([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 99]) + bytes([11, 17])
    pkt = (0x12345678).to_bytes(4, "big") + (1).to_bytes(4, "big") + iv + ref_cbc_encrypt(
        "esp-aes", ekey, iv, bad)
    with pytest.raises(EspDrop) as e:
        inb.decrypt(pkt)
    assert e.value.reason == "padding"


@pytest.mark.parametrize("length", [0, 1, 8, 19, 20, 27, 28, 29, 43, 44])
def test_short_and_misaligned_are_malformed(length):
    _, inb, _, _ = make_pair("esp-aes", "esp-sha-hmac")
    with pytest.raises(EspDrop) as e:
        inb.decrypt(bytes(length))
    assert e.value.reason in {"malformed", "authentication", "replay"}


def test_random_garbage_never_raises_anything_else():
    _, inb, _, _ = make_pair("esp-3des", None, window=0, check_padding=True)
    rng = random.Random(9)
    for _ in range(500):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
        with contextlib.suppress(EspDrop):
            inb.decrypt(data)


# --- lifetime and sequence numbers ---------------------------------------------------------------


def test_lifetime_seconds_soft_then_hard():
    params = EspSaParameters(1, "esp-aes", "esp-sha-hmac", bytes(16), bytes(20))
    sa = EspSa(params, now=100.0, random_bytes=bytes, lifetime_seconds=1000)
    assert sa.poll_lifetime(500.0) is None
    assert sa.seconds_left(500.0) == 600
    assert sa.poll_lifetime(1000.0) == "soft"
    assert sa.poll_lifetime(1001.0) is None
    assert sa.poll_lifetime(1100.0) == "hard"
    assert sa.poll_lifetime(1200.0) is None
    with pytest.raises(EspDrop) as e:
        sa.encrypt(17, b"x")
    assert e.value.reason == "expired"


def test_lifetime_kilobytes():
    params = EspSaParameters(1, "esp-aes", "esp-sha-hmac", bytes(16), bytes(20))
    sa = EspSa(params, now=0.0, random_bytes=bytes, lifetime_kilobytes=10)
    for _ in range(9):
        sa.encrypt(17, bytes(1024))
    assert sa.kilobytes_left() == 1
    assert sa.poll_lifetime(0) == "soft"
    sa.encrypt(17, bytes(1024))
    assert sa.expired
    assert sa.poll_lifetime(0) == "hard"
    with pytest.raises(EspDrop):
        sa.encrypt(17, b"")


def test_sequence_numbers_do_not_cycle():
    out, _, _, _ = make_pair("esp-aes", "esp-sha-hmac")
    out.highest_sequence = 0xFFFFFFFE
    assert out.encrypt(17, b"a")[4:8] == h("ffffffff")
    with pytest.raises(EspDrop) as e:
        out.encrypt(17, b"b")
    assert e.value.reason == "sequence"


def test_wrong_key_lengths_refused():
    with pytest.raises(ValueError):
        EspSa(EspSaParameters(1, "esp-3des", "esp-sha-hmac", bytes(16), bytes(20)),
              now=0, random_bytes=bytes)
    with pytest.raises(ValueError):
        EspSa(EspSaParameters(1, "esp-aes", "esp-md5-hmac", bytes(16), bytes(20)),
              now=0, random_bytes=bytes)


def test_android_truncated_sha256_is_detected_on_the_first_packet():
    """Android 6/7: HMAC-SHA-256 with 96-bit ICVs though RFC 4868 says 128. An inbound SA that
    accepted nothing yet tries 96 bits when 128 fail; then it keeps to 96 (the owner truncates
    the outbound SA with truncate_sha256)."""
    android_out, _, _, _ = make_pair("esp-aes", "esp-sha256-hmac", truncated=True)
    _, inb, _, _ = make_pair("esp-aes", "esp-sha256-hmac", truncated=False)
    assert inb.icv_length == 16
    first = android_out.encrypt(17, b"sccrq")
    assert inb.decrypt(first) == (17, b"sccrq")
    assert inb.truncated_sha256_detected and inb.icv_length == 12
    assert inb.decrypt(android_out.encrypt(17, b"more")) == (17, b"more")
    assert inb.authentication_failures == 0
    # our answer: the outbound SA follows, and the Android side (96-bit) decrypts it
    ours, _, _, _ = make_pair("esp-aes", "esp-sha256-hmac", truncated=False)
    _, android_in, _, _ = make_pair("esp-aes", "esp-sha256-hmac", truncated=True)
    ours.truncate_sha256()
    assert android_in.decrypt(ours.encrypt(17, b"sccrp")) == (17, b"sccrp")


def test_truncation_is_not_guessed_after_full_icvs_or_for_a_forged_packet():
    full_out, inb, _, _ = make_pair("esp-aes", "esp-sha256-hmac")
    assert inb.decrypt(full_out.encrypt(17, b"a")) == (17, b"a")  # 128-bit peer: settled
    android_out, _, _, _ = make_pair("esp-aes", "esp-sha256-hmac", truncated=True)
    with pytest.raises(EspDrop):
        inb.decrypt(android_out.encrypt(17, b"b"))  # no switching once a packet was accepted
    assert not inb.truncated_sha256_detected and inb.icv_length == 16
    # a fresh SA and a packet that verifies neither way: dropped, nothing switched
    _, fresh, _, _ = make_pair("esp-aes", "esp-sha256-hmac")
    forged = bytearray(android_out.encrypt(17, b"c"))
    forged[-1] ^= 1
    with pytest.raises(EspDrop):
        fresh.decrypt(bytes(forged))
    assert fresh.authentication_failures == 1 and fresh.icv_length == 16
    # SHA-1 SAs never try: 96 bits is already their ICV
    _, sha1, _, _ = make_pair("esp-aes", "esp-sha-hmac")
    assert sha1.icv_length == 12 and not sha1.truncated_sha256_detected
