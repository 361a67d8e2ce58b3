"""Hostile input to the IKE codec and responder: every decoder returns a value or raises
MalformedMessage; the responder never raises, counts what it drops, and keeps working.

Covers every stage of an exchange (main mode 1/3/5, quick mode 1/3, informational) with truncated
and garbled datagrams, and every payload type garbled *inside* a correctly encrypted and
authenticated quick-mode / informational message."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixgw.config.model import IsakmpPolicy
from pixgw.ike import constants as c
from pixgw.ike.events import ChildSaEstablished
from pixgw.ike.message import (
    DeletePayload,
    IdPayload,
    NatOaPayload,
    NoncePayload,
    NotifyPayload,
    Proposal,
    SaPayload,
    Transform,
    decode_message,
    encode_payloads,
)
from pixgw.testing.ike_initiator import InitiatorProfile, Phase1Offer
from pixgw.wire import MalformedMessage
from tests.protocol.ike_harness import Path, main_mode, make_pair, pix_config, quick_mode

CONFIG = pix_config(policies=(IsakmpPolicy(10, "pre-share", "3des", "sha", 2),))
PROFILE = InitiatorProfile(psk=b"s3cret", phase1=(
    Phase1Offer(c.ENC_3DES, None, c.HASH_SHA, c.AUTH_PSK, 2),))
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.binary(max_size=600))
def test_decoder_raises_only_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        decode_message(data)


def _stage(n: int) -> tuple[Path, bytes]:
    """A fresh pair at stage *n* and the datagram the initiator sends next:
    0 MM1, 1 MM3, 2 MM5, 3 QM1, 4 QM3."""
    path = make_pair(CONFIG, PROFILE)
    msg = path.initiator.main_mode_1()
    for _ in range(min(n, 3)):
        (reply,) = path.send(msg, 1.0)
        nxt = path.initiator.receive(reply)
        if nxt is None:
            break
        msg = nxt
    if n >= 3:
        msg = path.initiator.quick_mode_1()
    if n == 4:
        (reply,) = path.send(msg, 1.0)
        nxt = path.initiator.receive(reply)
        assert nxt is not None
        msg = nxt
    return path, msg


def _still_works(path: Path) -> None:
    """After the hostile input a new client still completes MM + QM on the same responder."""
    other = make_pair(CONFIG, PROFILE)
    other.responder = path.responder
    main_mode(other, 2.0)
    quick_mode(other, 2.0)
    events = []
    while (event := path.responder.next_event()) is not None:
        events.append(event)
    assert isinstance(events[-1], ChildSaEstablished)


def _mutations(msg: bytes) -> list[bytes]:
    out = [msg[:n] for n in range(0, len(msg), 3)]
    for i in range(0, len(msg), 2):
        garbled = bytearray(msg)
        garbled[i] ^= 0x5A
        out.append(bytes(garbled))
    return out


def test_every_stage_truncated_and_garbled() -> None:
    for stage in range(5):
        path, msg = _stage(stage)
        before = path.responder.counters
        for bad in _mutations(msg):
            path.responder.receive_datagram(bad, *path.responder_view(), 1.5)
            path.collect(1.5)
        after = path.responder.counters
        dropped = (after.malformed + after.unknown_sa + after.authentication_failed
                   + after.proposals_refused) - (before.malformed + before.unknown_sa
                                                 + before.authentication_failed
                                                 + before.proposals_refused)
        assert dropped > 0, stage
        _still_works(path)


def _established() -> Path:
    path = make_pair(CONFIG, PROFILE)
    main_mode(path, 1.0)
    return path


GOOD_QM_PAYLOADS = (
    SaPayload(1, 1, (Proposal(1, c.PROTO_ESP, b"\x01\x02\x03\x04", (
        Transform(1, c.ESP_AES, ()),)),)),
    NoncePayload(b"n" * 16),
    IdPayload(c.ID_IPV4_ADDR, 17, 1701, b"\xc6\x33\x64\x07"),
    IdPayload(c.ID_IPV4_ADDR, 17, 1701, b"\xc0\x00\x02\x01"),
    NatOaPayload(c.ID_IPV4_ADDR, b"\x0a\x00\x00\x02"),
)


def _garble_each_payload() -> None:
    """Sends, for each payload of the good list, versions with that payload's body truncated
    or garbled, under a correct HASH and encryption."""
    path = _established()
    mid = 100
    for index in range(len(GOOD_QM_PAYLOADS)):
        body = encode_payloads(GOOD_QM_PAYLOADS)
        # locate payload *index* to damage it
        pos = 0
        for _ in range(index):
            pos += int.from_bytes(body[pos + 2 : pos + 4], "big")
        length = int.from_bytes(body[pos + 2 : pos + 4], "big")
        variants = [body[: pos + cut] for cut in range(0, length, 2)]
        for i in range(pos, pos + length):
            garbled = bytearray(body)
            garbled[i] ^= 0xFF
            variants.append(bytes(garbled))
        for plaintext in variants:
            mid += 1
            data = path.initiator.raw_protected(c.EXCH_QUICK, c.PT_SA, plaintext, message_id=mid)
            path.responder.receive_datagram(data, *path.responder_view(), 1.5)
            path.collect(1.5)
    assert path.responder.counters.malformed > 0
    _still_works(path)


def test_quick_mode_payloads_garbled_inside_encryption() -> None:
    _garble_each_payload()


@FUZZ
@given(st.lists(st.sampled_from([
    NotifyPayload(1, c.PROTO_ISAKMP, c.N_R_U_THERE, b"x" * 16, b"\x00\x00\x00\x01"),
    NotifyPayload(1, c.PROTO_ISAKMP, c.N_INITIAL_CONTACT, b"x" * 16),
    DeletePayload(1, c.PROTO_ESP, 4, (b"\x00\x00\x01\x00",)),
    DeletePayload(1, c.PROTO_ISAKMP, 16, (b"y" * 16,)),
    NotifyPayload(1, c.PROTO_ESP, 9999, b"", b"junk"),
]), max_size=4), st.integers(0, 200), st.integers(0, 255))
def test_informational_payloads_fuzzed(payloads: list[NotifyPayload | DeletePayload], cut: int,
                                       flip: int) -> None:
    path = _established()
    body = bytearray(encode_payloads(payloads))
    if body:
        body[cut % len(body)] ^= flip
        body = body[: max(1, len(body) - cut % 7)]
    first = payloads[0].payload_type if payloads else c.PT_NOTIFY
    data = path.initiator.raw_protected(c.EXCH_INFO, first, bytes(body), message_id=77)
    path.responder.receive_datagram(data, *path.responder_view(), 1.5)
    path.collect(1.5)


@FUZZ
@given(st.binary(min_size=28, max_size=400))
def test_random_datagrams_after_phase1(data: bytes) -> None:
    path = _established()
    cookies = path.initiator.cky_i + path.initiator.cky_r
    path.responder.receive_datagram(cookies + data[16:], *path.responder_view(), 1.5)
    path.collect(1.5)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40), st.booleans(),
                          st.binary(max_size=300)), max_size=12),
       st.booleans())
def test_fragments_fuzzed(pieces: list[tuple[int, int, bool, bytes]], real_start: bool) -> None:
    """Arbitrary FRAGMENT messages (ids, numbers, last flags, contents), optionally around a
    real first message: nothing raises, memory stays bounded, a client still gets through."""
    from pixgw.ike.fragment import fragment as cut
    from pixgw.ike.message import FragmentPayload, Header, encode_message

    path = make_pair(CONFIG, PROFILE)
    header = Header(b"F" * 8, bytes(8), 0, 0x10, c.EXCH_MAIN, 0, 0)
    for fid, number, last, data in pieces:
        msg = encode_message(header, (FragmentPayload(fid, number, last, data),))
        path.responder.receive_datagram(msg, *path.responder_view(), 1.5)
    if real_start:
        mm1 = path.initiator.main_mode_1()
        for piece in cut(mm1, decode_message(mm1).header, 9, 100):
            path.responder.receive_datagram(piece, *path.responder_view(), 1.5)
        assert len(path.collect(1.5)) == 1  # message 2 for the reassembled message 1
    path.collect(1.5)
    _still_works(path)
