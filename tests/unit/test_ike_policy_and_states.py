"""The main-mode table (every state x input has a declared outcome) and the PIX's matching of
phase-1 and phase-2 offers against the configuration."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from pixgw.config.model import IsakmpPolicy, PixConfig, TransformSet
from pixgw.ike import constants as c
from pixgw.ike.events import TrafficSelector
from pixgw.ike.message import Attribute, Proposal, Transform
from pixgw.ike.phase1 import TRANSITIONS, MainModeInput, MainModeState, next_state
from pixgw.ike.policy import Phase2Choice, choose_phase1, choose_phase2
from tests.protocol.ike_harness import GATEWAY, pix_config

S, I = MainModeState, MainModeInput  # noqa: E741

EXPECTED = {
    (S.MM_NO_STATE, I.MESSAGE_1): S.MM_SA_SETUP,
    (S.MM_SA_SETUP, I.MESSAGE_3): S.MM_KEY_EXCH,
    (S.MM_KEY_EXCH, I.MESSAGE_5): S.QM_IDLE,
    (S.QM_IDLE, I.QUICK_MODE): S.QM_IDLE,
    (S.QM_IDLE, I.INFORMATIONAL): S.QM_IDLE,
    (S.QM_IDLE, I.AUTH_FAILED): S.QM_IDLE,
}


@pytest.mark.parametrize(("state", "event"), [(s, i) for s in S for i in I])
def test_every_state_and_input_has_an_outcome(state: MainModeState,
                                              event: MainModeInput) -> None:
    assert (state, event) in TRANSITIONS
    outcome = next_state(state, event)
    if (state, event) in EXPECTED:
        assert outcome is EXPECTED[(state, event)]
    elif state is S.MM_DELETED:
        assert outcome is None
    elif event in (I.EXPIRED, I.DELETE) or (event is I.AUTH_FAILED and state is not S.QM_IDLE):
        assert outcome is S.MM_DELETED
    else:
        assert outcome is None  # dropped (or answered by retransmission)


def _p1(enc: int, bits: int | None, hash_: int, auth: int, group: int, *, life: int = 28800,
        number: int = 1) -> Transform:
    attrs = [Attribute.of(c.P1_ENCRYPTION, enc)]
    if bits:
        attrs.append(Attribute.of(c.P1_KEY_LENGTH, bits))
    attrs += [Attribute.of(c.P1_HASH, hash_), Attribute.of(c.P1_AUTH, auth),
              Attribute.of(c.P1_GROUP, group), Attribute.of(c.P1_LIFE_TYPE, c.LIFE_SECONDS),
              Attribute.of(c.P1_LIFE_DURATION, life)]
    return Transform(number, c.KEY_IKE, tuple(attrs))


def test_phase1_reasons_and_lifetime() -> None:
    config = pix_config(policies=(IsakmpPolicy(20, "pre-share", "aes-256", "sha", 14, 3600),))
    cases = [
        (_p1(c.ENC_3DES, None, c.HASH_SHA, c.AUTH_PSK, 14), "Encryption algorithm"),
        (_p1(c.ENC_AES, 128, c.HASH_SHA, c.AUTH_PSK, 14), "Key length"),
        (_p1(c.ENC_AES, 256, c.HASH_MD5, c.AUTH_PSK, 14), "Hash algorithm"),
        (_p1(c.ENC_AES, 256, c.HASH_SHA, c.AUTH_RSA_SIG, 14), "Authentication method"),
        (_p1(c.ENC_AES, 256, c.HASH_SHA, c.AUTH_PSK, 2), "Diffie-Hellman group"),
    ]
    for transform, reason in cases:
        choice, refusals = choose_phase1(config, Proposal(1, 1, b"", (transform,)))
        assert choice is None and reason in refusals[0]
    choice, _ = choose_phase1(config, Proposal(1, 1, b"", (
        _p1(c.ENC_AES, 256, c.HASH_SHA, c.AUTH_PSK, 14, life=86400),)))
    assert choice is not None and choice.lifetime == 3600


def _p2(tid: int, bits: int | None, auth: int, mode: int, group: int | None = None) -> Transform:
    attrs = [Attribute.of(c.P2_ENCAPSULATION, mode), Attribute.of(c.P2_AUTH, auth)]
    if bits:
        attrs.append(Attribute.of(c.P2_KEY_LENGTH, bits))
    if group:
        attrs.append(Attribute.of(c.P2_GROUP, group))
    return Transform(1, tid, tuple(attrs))


CLIENT_SEL = TrafficSelector(IPv4Address("198.51.100.7"), IPv4Address("198.51.100.7"), 17, 1701)
GW_SEL = TrafficSelector(GATEWAY, GATEWAY, 17, 1701)


def _choose(config: PixConfig, t: Transform, *, natt: bool = False, pfs: bool = False
            ) -> tuple[Phase2Choice | None, str]:
    return choose_phase2(config, local=GATEWAY,
                         proposals=(Proposal(1, c.PROTO_ESP, b"\x00\x00\x10\x00", (t,)),),
                         local_selector=GW_SEL, remote_selector=CLIENT_SEL, natt=natt,
                         pfs_offered=pfs)


def test_phase2_transform_set_order_and_modes() -> None:
    config = pix_config(transform_sets=(TransformSet("a", "esp-3des", "esp-md5-hmac",
                                                     "transport"),
                                        TransformSet("b", "esp-aes", "esp-sha-hmac", "tunnel")))
    choice, _ = _choose(config, _p2(c.ESP_3DES, None, c.AUTH_HMAC_MD5, c.ENCAPS_TRANSPORT))
    assert choice is not None and choice.transform_set.name == "a"
    choice, _ = _choose(config, _p2(c.ESP_AES, 128, c.AUTH_HMAC_SHA, c.ENCAPS_TUNNEL))
    assert choice is not None and choice.transform_set.name == "b"
    choice, reason = _choose(config, _p2(c.ESP_AES, 128, c.AUTH_HMAC_SHA,
                                         c.ENCAPS_TRANSPORT))
    assert choice is None and reason == "invalid transform proposal flags -- 0x0"
    choice, _ = _choose(config, _p2(c.ESP_3DES, None, c.AUTH_HMAC_MD5,
                                    c.ENCAPS_UDP_TRANSPORT_DRAFT), natt=True)
    assert choice is not None and choice.encapsulation == c.ENCAPS_UDP_TRANSPORT_DRAFT
    choice, reason = _choose(config, _p2(c.ESP_AES, 256, c.AUTH_HMAC_SHA,
                                         c.ENCAPS_TUNNEL))
    assert choice is None and reason == "proposal not acceptable"
