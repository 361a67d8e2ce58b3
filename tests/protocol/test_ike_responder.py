"""IkeResponder back to back with the testing initiator: every group x cipher x hash x auth, the
Windows profile through a NAT (RFC 3947 and drafts), policy order and refusals with their log
lines, quick-mode refusals, lifetimes, PFS, commit bit, message-id collisions, retransmission and
its schedule, informational exchanges, INITIAL-CONTACT, DPD and status."""

from __future__ import annotations

import itertools
import os
import time
from ipaddress import IPv4Address
from typing import Any

import pytest

from pixgw.config.model import (
    AccessList,
    AccessListEntry,
    AddressMatch,
    IsakmpPolicy,
    SaLifetime,
    TransformSet,
)
from pixgw.ike import constants as c
from pixgw.ike.events import (
    QUICK_MODE_ABANDONED,
    ChildSaDeleted,
    ChildSaEstablished,
    Endpoint,
    IkeSaDeleted,
)
from pixgw.ike.exchanges import quick_mode as quick_mode_exchange
from pixgw.ike.exchanges.common import QUICK_MODE_LIFETIME
from pixgw.ike.message import decode_message
from pixgw.testing.ike_initiator import EspOffer, IkeInitiator, InitiatorProfile, Phase1Offer
from tests.protocol.ike_harness import (
    ANY,
    CLIENT,
    CLIENT_PRIVATE,
    GATEWAY,
    NAT_PUBLIC,
    Path,
    Responder,
    captured_logs,
    main_mode,
    make_pair,
    pix_config,
    quick_mode,
    test_pki,
)

GROUPS = (1, 2, 5, 14, 15, 16, 19, 20)
CIPHERS = (
    ("des", c.ENC_DES, None),
    ("3des", c.ENC_3DES, None),
    ("aes", c.ENC_AES, 128),
    ("aes-192", c.ENC_AES, 192),
    ("aes-256", c.ENC_AES, 256),
)
HASHES = (
    ("md5", c.HASH_MD5),
    ("sha", c.HASH_SHA),
    ("sha256", c.HASH_SHA256),
    ("sha384", c.HASH_SHA384),
)
AUTHS = (("pre-share", c.AUTH_PSK), ("rsa-sig", c.AUTH_RSA_SIG))


@pytest.mark.parametrize(
    ("group", "cipher", "hash_", "auth"),
    list(itertools.product(GROUPS, CIPHERS, HASHES, AUTHS)),
    ids=lambda v: str(v[0]) if isinstance(v, tuple) else str(v),
)
def test_every_group_cipher_hash_auth(
    group: int, cipher: tuple[str, int, int | None], hash_: tuple[str, int], auth: tuple[str, int]
) -> None:
    policy = IsakmpPolicy(10, auth[0], cipher[0], hash_[0], group)  # type: ignore[arg-type]
    config = pix_config(policies=(policy,))
    pki = test_pki()
    offer = Phase1Offer(cipher[1], cipher[2], hash_[1], auth[1], group)
    profile = InitiatorProfile(
        phase1=(offer,), psk=b"s3cret", chain=pki.client_chain, key=pki.client_key
    )
    path = make_pair(config, profile, certificates=pki.responder_source())
    now = time.time()
    main_mode(path, now)
    assert quick_mode(path, now) == []
    event = path.responder.next_event()
    assert isinstance(event, ChildSaEstablished)
    (child,) = path.initiator.children
    assert event.inbound.spi == child.outbound_spi
    assert event.inbound.encryption_key == child.outbound_encryption_key
    assert event.inbound.integrity_key == child.outbound_integrity_key
    assert event.outbound.encryption_key == child.inbound_encryption_key
    assert event.outbound.integrity_key == child.inbound_integrity_key
    assert path.responder.isakmp_sa_status()[0].state == "QM_IDLE"


def test_windows_profile_through_nat_rfc3947() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"), nat=True)
    with captured_logs() as logs:
        main_mode(path)
        assert quick_mode(path) == []
    assert path.initiator.nat_detected
    event = path.responder.next_event()
    assert isinstance(event, ChildSaEstablished)
    assert event.encapsulation == "udp-transport"
    assert event.remote.address == NAT_PUBLIC and event.remote.port == 40001
    assert event.local.port == c.NATT_PORT
    assert event.remote_behind_nat
    assert event.nat_oa_initiator == CLIENT_PRIVATE
    assert event.nat_oa_responder == GATEWAY
    assert event.peer_vendor == "MSWIN8+"
    assert event.inbound.cipher == "esp-aes-256" and event.inbound.integrity == "esp-sha-hmac"
    assert event.remote_selector.first == CLIENT_PRIVATE and event.remote_selector.port == 1701
    assert any("NAT detected" in line for line in logs)
    assert any(
        "%PIX-6-602201: ISAKMP Phase 1 SA created (local 192.0.2.1/4500 (responder), "
        "remote 203.0.113.5/40001, authentication=pre-share, encryption=AES-256-CBC, "
        "hash=SHA, group=20, lifetime=28800s)" in line
        for line in logs
    )
    created = [line for line in logs if "602301" in line]
    assert len(created) == 2
    assert (
        f"sa_spi= 0x{event.inbound.spi:x}({event.inbound.spi}), sa_trans= esp-aes-256 "
        "esp-sha-hmac , sa_conn_id= 1" in created[0]
    )
    status = path.responder.isakmp_sa_status()[0]
    assert (status.dst, status.src, status.state, status.created) == (
        GATEWAY,
        NAT_PUBLIC,
        "QM_IDLE",
        1,
    )
    assert status.nat_traversal == "RFC 3947" and status.peer_behind_nat


def test_draft_natt_uses_draft_numbers_and_modes() -> None:
    profile = InitiatorProfile(psk=b"s3cret", natt="draft")
    path = make_pair(pix_config(), profile, nat=True)
    main_mode(path)
    assert quick_mode(path) == []
    (child,) = path.initiator.children
    assert child.encapsulation == c.ENCAPS_UDP_TRANSPORT_DRAFT
    event = path.responder.next_event()
    assert isinstance(event, ChildSaEstablished) and event.encapsulation == "udp-transport"
    assert path.responder.isakmp_sa_status()[0].nat_traversal == "draft-02"


def test_no_nat_keeps_port_500_and_plain_transport() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    main_mode(path)
    quick_mode(path)
    event = path.responder.next_event()
    assert isinstance(event, ChildSaEstablished)
    assert event.encapsulation == "transport" and not event.remote_behind_nat
    assert event.local.port == 500 and event.remote == path.initiator.local


def test_debug_names_every_attribute_of_the_chosen_transforms() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    with captured_logs() as logs:
        main_mode(path)
        quick_mode(path)
    attributes = [line.removeprefix("ISAKMP:      ") for line in logs
                  if line.startswith("ISAKMP:      ")]
    assert attributes == [
        "encryption AES-CBC", "keylength of 256", "hash SHA", "default group 20",
        "auth pre-share", "life type in seconds", "life duration (VPI) of  0x0 0x0 0x70 0x80",
        "SA life type in seconds", "SA life duration (VPI) of  0x0 0x0 0xe 0x10",
        "SA life type in kilobytes", "SA life duration (VPI) of  0x0 0x3 0xd0 0x90",
        "encaps is 2", "authenticator is HMAC-SHA", "key length is 256",
    ]
    assert "ISAKMP:   transform 1, ESP_AES" in logs


def test_refused_transform_answers_no_proposal_chosen_and_logs_why() -> None:
    config = pix_config(policies=(IsakmpPolicy(20, "pre-share", "des", "md5", 1),))
    path = make_pair(config, InitiatorProfile(psk=b"s3cret"))
    with captured_logs() as logs:
        replies = path.send(path.initiator.main_mode_1(), 1.0)
    (reply,) = replies
    m = decode_message(reply)
    assert m.header.exchange_type == c.EXCH_INFO
    assert m.payloads[0].message_type == c.N_NO_PROPOSAL_CHOSEN  # type: ignore[union-attr]
    assert "ISAKMP (0): Checking ISAKMP transform 1 against priority 20 policy" in logs
    assert "ISAKMP:      encryption AES-CBC" in logs
    assert "ISAKMP (0): Encryption algorithm offered does not match policy!" in logs
    assert "ISAKMP (0): atts are not acceptable. Next payload is 3" in logs
    assert "ISAKMP (0): atts are not acceptable. Next payload is 0" in logs
    refusal = next(line for line in logs if "713900" in line)
    assert (
        "transform 5 (3DES-CBC/SHA/group 2/pre-share) against priority 20 policy: "
        "Encryption algorithm offered does not match policy!" in refusal
    )
    assert path.responder.isakmp_sa_status() == ()
    assert path.responder.counters.proposals_refused == 1


def test_seed_policy_des_md5_group1_accepted() -> None:
    config = pix_config(
        policies=(IsakmpPolicy(20, "pre-share", "des", "md5", 1),),
        transform_sets=(TransformSet("l2tp", "esp-des", "esp-md5-hmac", "transport"),),
    )
    profile = InitiatorProfile(
        psk=b"s3cret",
        phase1=(Phase1Offer(c.ENC_DES, None, c.HASH_MD5, c.AUTH_PSK, 1, 86400),),
        esp=(EspOffer(c.ESP_DES, None, c.AUTH_HMAC_MD5),),
    )
    path = make_pair(config, profile)
    with captured_logs() as logs:
        main_mode(path)
        quick_mode(path)
    assert "ISAKMP:      life duration (VPI) of  0x0 0x1 0x51 0x80" in logs
    assert "ISAKMP (0): atts are acceptable. Next payload is 0" in logs
    assert any("sa_trans= esp-des esp-md5-hmac , sa_conn_id= 1" in line for line in logs)
    assert path.responder.isakmp_sa_status()[0].lifetime == 86400


def test_policies_tried_in_priority_order_first_transform_that_fits() -> None:
    config = pix_config(
        policies=(
            IsakmpPolicy(30, "pre-share", "aes-256", "sha", 20),
            IsakmpPolicy(10, "pre-share", "3des", "sha", 2),
        )
    )
    path = make_pair(config, InitiatorProfile(psk=b"s3cret"))
    main_mode(path)
    chosen = path.initiator.chosen
    assert chosen is not None and (chosen.cipher, chosen.group) == (c.ENC_3DES, 2)


def test_wrong_psk_is_not_authenticated_and_not_answered() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"notTheKey42"))
    mm1 = path.initiator.main_mode_1()
    mm3 = path.initiator.receive(path.send(mm1, 1.0)[0])
    assert mm3 is not None
    mm5 = path.initiator.receive(path.send(mm3, 1.0)[0])
    assert mm5 is not None
    with captured_logs() as logs:
        assert path.send(mm5, 1.0) == []
    assert path.responder.counters.authentication_failed == 1
    assert path.responder.isakmp_sa_status() == ()
    assert any("phase 1 authentication failed" in line for line in logs)
    assert not any("s3cret" in line or "notTheKey42" in line for line in logs)


def test_per_address_key_wins_over_wildcard() -> None:
    config = pix_config(key="wildcard", key_address=IPv4Address("0.0.0.0"))
    config = type(config)(
        **{
            **config.__dict__,
            "isakmp": type(config.isakmp)(
                **{
                    **config.isakmp.__dict__,
                    "keys": (
                        *config.isakmp.keys,
                        type(config.isakmp.keys[0])("specific", CLIENT),
                    ),
                }
            ),
        }
    )
    path = make_pair(config, InitiatorProfile(psk=b"specific"))
    main_mode(path)


def test_mode_the_set_forbids_gives_invalid_flags() -> None:
    config = pix_config(
        transform_sets=(TransformSet("t", "esp-aes-256", "esp-sha-hmac", "tunnel"),)
    )
    path = make_pair(config, InitiatorProfile(psk=b"s3cret"))
    main_mode(path)
    with captured_logs() as logs:
        replies = quick_mode(path)
    assert len(replies) == 1
    assert "IPSEC(validate_proposal): invalid transform proposal flags -- 0x0" in logs
    refusal = next(line for line in logs if "713900" in line)
    assert "(offered: esp-aes-256 esp-sha-hmac transport, esp-3des esp-sha-hmac transport;" \
        in refusal
    assert [n.message_type for n in path.initiator.notifies] == [c.N_NO_PROPOSAL_CHOSEN]
    assert path.responder.next_event() is None


def test_tunnel_set_accepts_tunnel_mode() -> None:
    config = pix_config(
        transform_sets=(TransformSet("t", "esp-aes-256", "esp-sha-hmac", "tunnel"),)
    )
    profile = InitiatorProfile(
        psk=b"s3cret", esp=(EspOffer(c.ESP_AES, 256, c.AUTH_HMAC_SHA, c.ENCAPS_TUNNEL),)
    )
    path = make_pair(config, profile)
    main_mode(path)
    quick_mode(path)
    event = path.responder.next_event()
    assert isinstance(event, ChildSaEstablished) and event.encapsulation == "tunnel"


def test_selectors_outside_match_address_acl() -> None:
    acl = AccessList(
        "l2tp",
        (
            AccessListEntry(
                "permit",
                17,
                AddressMatch(IPv4Address("192.0.2.99"), IPv4Address("255.255.255.255")),
                ANY,
            ),
        ),
    )
    path = make_pair(pix_config(acl=acl), InitiatorProfile(psk=b"s3cret"))
    main_mode(path)
    with captured_logs() as logs:
        quick_mode(path)
    assert "no IPSEC cryptomap exists for local address 192.0.2.1" in logs
    assert [n.message_type for n in path.initiator.notifies] == [c.N_INVALID_ID_INFORMATION]


def test_missing_crypto_map_line() -> None:
    path = make_pair(pix_config(with_map=False), InitiatorProfile(psk=b"s3cret"))
    main_mode(path)
    with captured_logs() as logs:
        quick_mode(path)
    assert "no IPSEC cryptomap exists for local address 192.0.2.1" in logs


def test_macos_port_zero_accepted() -> None:
    profile = InitiatorProfile(psk=b"s3cret", l2tp_port=0)
    path = make_pair(pix_config(), profile)
    main_mode(path)
    quick_mode(path)
    event = path.responder.next_event()
    assert isinstance(event, ChildSaEstablished) and event.remote_selector.port == 0


def test_responder_lifetime_when_ours_is_shorter() -> None:
    config = pix_config(sa_lifetime=SaLifetime(900, 100000))
    profile = InitiatorProfile(
        psk=b"s3cret",
        esp=(
            EspOffer(
                c.ESP_AES, 256, c.AUTH_HMAC_SHA, lifetime_seconds=3600, lifetime_kilobytes=250000
            ),
        ),
    )
    path = make_pair(config, profile)
    main_mode(path)
    quick_mode(path)
    (child,) = path.initiator.children
    assert child.responder_lifetime == (900, 100000)
    event = path.responder.next_event()
    assert isinstance(event, ChildSaEstablished)
    assert (event.lifetime_seconds, event.lifetime_kilobytes) == (900, 100000)


def test_no_responder_lifetime_when_offered_is_shorter() -> None:
    path = make_pair(
        pix_config(),
        InitiatorProfile(
            psk=b"s3cret", esp=(EspOffer(c.ESP_AES, 256, c.AUTH_HMAC_SHA, lifetime_seconds=600),)
        ),
    )
    main_mode(path)
    quick_mode(path)
    assert path.initiator.children[0].responder_lifetime is None
    event = path.responder.next_event()
    assert isinstance(event, ChildSaEstablished) and event.lifetime_seconds == 600


def test_zero_offered_lifetime_means_ours() -> None:
    """A 0 lifetime (strongSwan's load-tester sends it) offers no limit: the SA gets ours and
    lives, it is not deleted at once."""
    config = pix_config(sa_lifetime=SaLifetime(900, 100000))
    profile = InitiatorProfile(
        psk=b"s3cret",
        esp=(EspOffer(c.ESP_AES, 256, c.AUTH_HMAC_SHA, lifetime_seconds=0, lifetime_kilobytes=0),),
    )
    path = make_pair(config, profile)
    main_mode(path)
    quick_mode(path)
    event = path.responder.next_event()
    assert isinstance(event, ChildSaEstablished)
    assert (event.lifetime_seconds, event.lifetime_kilobytes) == (900, 100000)


@pytest.mark.parametrize("group", [2, 14, 19])
def test_pfs_when_offered(group: int) -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret", pfs_group=group))
    main_mode(path)
    assert quick_mode(path) == []
    event = path.responder.next_event()
    assert isinstance(event, ChildSaEstablished)
    assert event.inbound.encryption_key == path.initiator.children[0].outbound_encryption_key


def test_pfs_required_by_map_but_not_offered() -> None:
    path = make_pair(pix_config(pfs=2), InitiatorProfile(psk=b"s3cret"))
    main_mode(path)
    quick_mode(path)
    assert [n.message_type for n in path.initiator.notifies] == [c.N_NO_PROPOSAL_CHOSEN]


def test_commit_bit_gets_connected_notify() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret", commit=True))
    main_mode(path)
    replies = quick_mode(path)
    assert len(replies) == 1
    path.initiator.receive(replies[0])
    assert [n.message_type for n in path.initiator.notifies] == [16384]
    assert isinstance(path.responder.next_event(), ChildSaEstablished)


def test_two_clients_same_message_id() -> None:
    """Vista and later use the same first quick-mode message id: state is per (cookies, id)."""
    config = pix_config()
    a = make_pair(config, InitiatorProfile(psk=b"s3cret"), nat=True)
    b = make_pair(config, InitiatorProfile(psk=b"s3cret"), nat=True, nat_base_port=41000)
    b.responder = a.responder
    main_mode(a)
    main_mode(b)
    qa = a.initiator.quick_mode_1(message_id=0x01020304)
    qb = b.initiator.quick_mode_1(message_id=0x01020304)
    (ra,) = a.send(qa, 1000.0)
    (rb,) = b.send(qb, 1000.0)
    assert a.send(a.initiator.receive(ra) or b"", 1000.0) == []
    assert b.send(b.initiator.receive(rb) or b"", 1000.0) == []
    events = [a.responder.next_event(), a.responder.next_event()]
    assert all(isinstance(e, ChildSaEstablished) for e in events)
    assert {e.remote.port for e in events if isinstance(e, ChildSaEstablished)} == {40001, 41001}


def test_rekey_while_old_sas_live() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    main_mode(path)
    quick_mode(path)
    quick_mode(path)
    first, second = path.responder.next_event(), path.responder.next_event()
    assert isinstance(first, ChildSaEstablished) and isinstance(second, ChildSaEstablished)
    assert first.inbound.spi != second.inbound.spi
    assert len(path.responder.ipsec_sa_status()) == 2


# --- retransmission -----------------------------------------------------------------------------


def test_duplicates_get_our_last_message_again() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    mm1 = path.initiator.main_mode_1()
    (mm2,) = path.send(mm1, 1.0)
    assert path.send(mm1, 2.0) == [mm2]
    mm3 = path.initiator.receive(mm2)
    assert mm3 is not None
    (mm4,) = path.send(mm3, 3.0)
    assert path.send(mm3, 4.0) == [mm4]
    mm5 = path.initiator.receive(mm4)
    assert mm5 is not None
    (mm6,) = path.send(mm5, 5.0)
    assert path.send(mm5, 6.0) == [mm6]
    path.initiator.receive(mm6)
    qm1 = path.initiator.quick_mode_1()
    (qm2,) = path.send(qm1, 7.0)
    assert path.send(qm1, 8.0) == [qm2]
    qm3 = path.initiator.receive(qm2)
    assert qm3 is not None
    assert path.send(qm3, 9.0) == []
    assert path.send(qm3, 9.5) == []
    assert isinstance(path.responder.next_event(), ChildSaEstablished)
    assert path.responder.next_event() is None
    assert path.responder.counters.retransmissions_answered == 5


def test_retransmit_schedule_like_the_pix_then_half_open_expiry() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    start = 100.0
    (mm2,) = path.send(path.initiator.main_mode_1(), start)
    sent_at = [start]
    now = start
    for _ in range(20):
        timer = path.responder.get_timer()
        if timer is None:
            break
        now = timer
        path.responder.handle_timer(now)
        for data in path.collect(now):
            assert data == mm2
            sent_at.append(now)
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(sent_at)]
    assert [0.0, *gaps] == [0, 5, 5, 5, 5, 5]
    assert path.responder.isakmp_sa_status() == ()
    assert path.responder.counters.half_open_expired == 1
    assert path.responder.get_timer() is None


def test_quick_mode_2_retransmitted_until_hash3() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    main_mode(path, 0.0)
    (qm2,) = path.send(path.initiator.quick_mode_1(), 0.0)
    path.responder.handle_timer(5.0)
    assert path.collect(5.0) == [qm2]
    qm3 = path.initiator.receive(qm2)
    assert qm3 is not None
    path.send(qm3, 6.0)
    path.responder.handle_timer(10.0)
    assert path.collect(10.0) == []


def test_inbound_sa_announced_with_quick_mode_2_carries_what_the_initiator_sends() -> None:
    """The initiator may send on the new SA as soon as it reads message 2 (RFC 2409 §5.5): the
    pair is announced then, with keys that already take the initiator's ESP in, and the very same
    pair is established at message 3."""
    from pixgw.esp.sa import EspSa
    from pixgw.ike.events import EspSaParameters

    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    main_mode(path, 0.0)
    (qm2,) = path.send(path.initiator.quick_mode_1(), 0.0)
    assert path.responder.next_event() is None  # nothing established yet
    (pending,) = path.responder.pending
    qm3 = path.initiator.receive(qm2)
    assert qm3 is not None
    (child,) = path.initiator.children
    client_out = EspSa(EspSaParameters(child.outbound_spi, pending.sa.inbound.cipher,
                                       pending.sa.inbound.integrity,
                                       child.outbound_encryption_key,
                                       child.outbound_integrity_key),
                       now=0, random_bytes=os.urandom)
    gw_in = EspSa(pending.sa.inbound, now=0, random_bytes=os.urandom)
    assert gw_in.decrypt(client_out.encrypt(17, b"before qm3")) == (17, b"before qm3")
    assert path.send(qm3, 0.5) == []
    established = path.responder.next_event()  # the harness checks it is the announced pair
    assert isinstance(established, ChildSaEstablished)
    assert established.child_sa_id == pending.sa.child_sa_id


def test_quick_mode_without_message_3_abandons_its_inbound_sa() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    main_mode(path, 0.0)
    (qm2,) = path.send(path.initiator.quick_mode_1(), 0.0)
    assert path.responder.next_event() is None
    (pending,) = path.responder.pending
    with captured_logs() as logs:
        t = 0.0
        for _ in range(20):  # the retransmissions of message 2, then the exchange's end
            when = path.responder.get_timer()
            if when is None or t >= QUICK_MODE_LIFETIME:
                break
            t = when
            path.responder.handle_timer(t)
            path.collect(t)
    assert QUICK_MODE_LIFETIME <= t < 3600
    abandoned = path.responder.next_event()
    assert isinstance(abandoned, ChildSaDeleted)
    assert (abandoned.child_sa_id, abandoned.reason) == (pending.sa.child_sa_id,
                                                         QUICK_MODE_ABANDONED)
    assert path.responder.next_event() is None
    assert not any("602302" in line for line in logs)  # never created, so never deleted
    assert any("not completed" in line for line in logs)
    # a late message 3 finds no exchange: nothing established
    qm3 = path.initiator.receive(qm2)
    assert qm3 is not None
    path.send(qm3, t + 1)
    assert path.responder.next_event() is None


def test_phase_1_deleted_during_quick_mode_abandons_its_inbound_sa() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    main_mode(path, 0.0)
    path.send(path.initiator.quick_mode_1(), 0.0)
    assert path.responder.next_event() is None
    (pending,) = path.responder.pending
    path.responder.delete_ike_sa(pending.sa.ike_sa_id, 1.0)
    events = list(iter(path.responder.next_event, None))
    assert [type(e) for e in events] == [ChildSaDeleted, IkeSaDeleted]
    assert isinstance(events[0], ChildSaDeleted)
    assert events[0].reason == QUICK_MODE_ABANDONED


# --- informational ------------------------------------------------------------------------------


def _established(**kw: Any) -> tuple[Path, ChildSaEstablished]:
    path = make_pair(pix_config(**kw), InitiatorProfile(psk=b"s3cret"))
    main_mode(path)
    quick_mode(path)
    event = path.responder.next_event()
    assert isinstance(event, ChildSaEstablished)
    return path, event


def test_peer_deletes_child_then_phase1() -> None:
    path, event = _established()
    with captured_logs() as logs:
        path.send(path.initiator.delete_child(path.initiator.children[0]), 1001.0)
    deleted = path.responder.next_event()
    assert isinstance(deleted, ChildSaDeleted) and deleted.inbound_spi == event.inbound.spi
    assert sum("602302" in line for line in logs) == 2
    path.send(path.initiator.delete_ike(), 1002.0)
    gone = path.responder.next_event()
    assert isinstance(gone, IkeSaDeleted) and gone.reason == "deleted by peer"
    assert path.responder.isakmp_sa_status() == ()


def test_clear_crypto_sends_deletes() -> None:
    path, event = _established()
    path.responder.delete_child_sa(event.child_sa_id, 1001.0)
    for data in path.collect(1001.0):
        path.initiator.receive(data)
    assert path.initiator.deletes[0].spis == (event.inbound.spi.to_bytes(4, "big"),)
    assert isinstance(path.responder.next_event(), ChildSaDeleted)
    path.responder.delete_ike_sa(event.ike_sa_id, 1002.0)
    for data in path.collect(1002.0):
        path.initiator.receive(data)
    assert path.initiator.deletes[1].protocol == c.PROTO_ISAKMP
    assert isinstance(path.responder.next_event(), IkeSaDeleted)


def test_initial_contact_drops_the_old_sas() -> None:
    config = pix_config()
    old = make_pair(config, InitiatorProfile(psk=b"s3cret"))
    main_mode(old)
    quick_mode(old)
    assert isinstance(old.responder.next_event(), ChildSaEstablished)
    new = make_pair(config, InitiatorProfile(psk=b"s3cret", initial_contact=True))
    new.responder = old.responder
    main_mode(new, 2000.0)
    kinds = []
    while (e := old.responder.next_event()) is not None:
        kinds.append(type(e))
    assert kinds == [ChildSaDeleted, IkeSaDeleted]
    assert len(old.responder.isakmp_sa_status()) == 1


def test_initial_contact_from_a_shared_address_drops_only_that_ids_sas_and_orphans() -> None:
    # many clients behind one address (a load generator): INITIAL-CONTACT looks the same ID up
    # in an index; a child SA whose phase 1 was deleted goes too (same address, no NAT)
    def sa_id(path: Path) -> bytes:
        return path.initiator.cky_i + path.initiator.cky_r

    config = pix_config()
    responder = Responder(config, random_bytes=os.urandom)
    paths = {}
    for n, last in enumerate((1, 2, 3, 4)):
        path = make_pair(config, InitiatorProfile(
            psk=b"s3cret", own_address=IPv4Address(f"10.9.0.{last}")))
        path.responder = responder
        main_mode(path, 1000.0 + n)
        quick_mode(path, 1000.0 + n)
        paths[last] = path
    children = {}
    while (e := responder.next_event()) is not None:
        assert isinstance(e, ChildSaEstablished)
        children[e.ike_sa_id] = e.child_sa_id
    assert len(children) == 4
    orphaned = sa_id(paths[4])
    responder.delete_ike_sa(orphaned, 1010.0)  # its child SA outlives it
    assert len(paths[4].collect(1010.0)) == 1  # the Delete
    assert isinstance(responder.next_event(), IkeSaDeleted)
    again = make_pair(config, InitiatorProfile(
        psk=b"s3cret", own_address=IPv4Address("10.9.0.2"), initial_contact=True))
    again.responder = responder
    main_mode(again, 2000.0)
    events = []
    while (e := responder.next_event()) is not None:
        events.append(e)
    deleted = sorted(e.child_sa_id for e in events if isinstance(e, ChildSaDeleted))
    assert deleted == sorted([children[sa_id(paths[2])], children[orphaned]])
    assert [e.ike_sa_id for e in events if isinstance(e, IkeSaDeleted)] == [
        sa_id(paths[2])]
    left = {sa.ike_sa_id for sa in responder.isakmp_sa_status()}
    assert left == {sa_id(paths[1]), sa_id(paths[3]),
                    sa_id(again)}
    assert responder.child_to(CLIENT, 500)  # the others' child SAs stay


def test_r_u_there_answered() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret", vendor_ids=(c.VID_DPD,)))
    main_mode(path)
    for data in path.send(path.initiator.r_u_there(7), 1001.0):
        path.initiator.receive(data)
    (ack,) = path.initiator.notifies
    assert ack.message_type == c.N_R_U_THERE_ACK and ack.data == (7).to_bytes(4, "big")


def test_our_dpd_deletes_a_silent_peer() -> None:
    path = make_pair(
        pix_config(keepalive=(10, 2)), InitiatorProfile(psk=b"s3cret", vendor_ids=(c.VID_DPD,))
    )
    main_mode(path, 0.0)
    probes = 0
    for _ in range(20):
        timer = path.responder.get_timer()
        assert timer is not None and timer < 100
        path.responder.handle_timer(timer)
        probes += len(path.collect(timer))
        if path.responder.isakmp_sa_status() == ():
            break
    assert probes == 5
    e = path.responder.next_event()
    assert isinstance(e, IkeSaDeleted) and e.reason.startswith("DPD")


def test_unauthenticated_notify_is_ignored() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    (mm2,) = path.send(path.initiator.main_mode_1(), 1.0)
    from pixgw.ike.message import Header, NotifyPayload, encode_message

    m = decode_message(mm2)
    bogus = encode_message(
        Header(m.header.initiator_cookie, m.header.responder_cookie, 0, 0x10, c.EXCH_INFO, 0, 0),
        (NotifyPayload(1, 1, c.N_INITIAL_CONTACT),),
    )
    assert path.send(bogus, 2.0) == []
    assert len(path.responder.isakmp_sa_status()) == 1


def test_phase1_lifetime_expiry_sends_delete() -> None:
    config = pix_config(policies=(IsakmpPolicy(10, "pre-share", "aes-256", "sha", 20, 600),))
    path = make_pair(config, InitiatorProfile(psk=b"s3cret"))
    main_mode(path, 0.0)
    path.responder.handle_timer(600.0)
    for data in path.collect(600.0):
        path.initiator.receive(data)
    assert path.initiator.deletes[0].protocol == c.PROTO_ISAKMP
    assert isinstance(path.responder.next_event(), IkeSaDeleted)


def test_child_lifetime_expiry() -> None:
    path, _ = _established(sa_lifetime=SaLifetime(900, 100000))
    path.responder.handle_timer(1000.0 + 900)
    e = path.responder.next_event()
    assert isinstance(e, ChildSaDeleted) and e.reason == "lifetime expired"


def test_status_snapshots() -> None:
    path, event = _established()
    (sa,) = path.responder.ipsec_sa_status(1000.0)
    assert sa.crypto_map == "mymap" and sa.interface == "outside"
    assert sa.local_ident == (GATEWAY, IPv4Address("255.255.255.255"), 17, 1701)
    assert sa.mode == "Transport" and sa.inbound_spi == event.inbound.spi
    assert sa.inbound_conn_id == 1 and sa.outbound_conn_id == 2
    assert sa.counters.inbound_seconds_left == 3600


def test_clients_behind_one_nat_with_the_same_private_address_both_survive() -> None:
    """Both announce Windows' Vid-Initial-Contact; neither may tear the other down."""
    config = pix_config()
    a = make_pair(config, InitiatorProfile(psk=b"s3cret"), nat=True)
    b = make_pair(config, InitiatorProfile(psk=b"s3cret"), nat=True, nat_base_port=41000)
    b.responder = a.responder
    main_mode(a)
    main_mode(b)
    assert len(a.responder.isakmp_sa_status()) == 2
    assert a.responder.next_event() is None


def test_windows_initial_contact_vendor_id_replaces_the_old_sa() -> None:
    config = pix_config()
    old = make_pair(config, InitiatorProfile(psk=b"s3cret"))
    main_mode(old)
    new = make_pair(config, InitiatorProfile(psk=b"s3cret"))
    new.responder = old.responder
    main_mode(new, 2000.0)
    (status,) = old.responder.isakmp_sa_status()
    assert status.ike_sa_id == new.initiator.cky_i + new.initiator.cky_r
    assert isinstance(old.responder.next_event(), IkeSaDeleted)


def test_nat_keepalives_sent_when_configured() -> None:
    config = pix_config()
    config = type(config)(**{**config.__dict__, "isakmp": type(config.isakmp)(
        **{**config.isakmp.__dict__, "nat_traversal": 20})})
    path = make_pair(config, InitiatorProfile(psk=b"s3cret"), nat=True)
    main_mode(path, 0.0)
    path.responder.handle_timer(20.0)
    assert path.collect(20.0) == [b"\xff"]
    assert path.responder.get_timer() == 40.0


def test_gateway_behind_nat_client_names_the_public_address() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    path.initiator.remote = Endpoint(IPv4Address("203.0.113.9"), 500)  # port-forwarded
    main_mode(path)
    assert path.initiator.nat_detected
    assert quick_mode(path) == []
    event = path.responder.next_event()
    assert isinstance(event, ChildSaEstablished)
    assert event.local_selector.first == GATEWAY and event.encapsulation == "udp-transport"
    assert path.responder.isakmp_sa_status()[0].state == "QM_IDLE"


def test_dpd_death_also_deletes_the_child_sas() -> None:
    path = make_pair(pix_config(keepalive=(10, 2)),
                     InitiatorProfile(psk=b"s3cret", vendor_ids=(c.VID_DPD,)))
    main_mode(path, 0.0)
    quick_mode(path, 0.0)
    assert isinstance(path.responder.next_event(), ChildSaEstablished)
    for _ in range(20):
        timer = path.responder.get_timer()
        if timer is None or timer > 100:
            break
        path.responder.handle_timer(timer)
        path.collect(timer)
    kinds = [type(path.responder.next_event()), type(path.responder.next_event())]
    assert kinds == [ChildSaDeleted, IkeSaDeleted]  # children first, as the gateway expects


def test_reconfigure_applies_to_new_exchanges_only() -> None:
    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    main_mode(path)
    path.responder.reconfigure(pix_config(policies=(IsakmpPolicy(5, "pre-share", "des", "md5",
                                                                 1),)))
    assert path.responder.isakmp_sa_status()[0].state == "QM_IDLE"
    quick_mode(path)  # the established SA keeps working
    assert isinstance(path.responder.next_event(), ChildSaEstablished)
    other = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    other.responder = path.responder
    (reply,) = other.send(other.initiator.main_mode_1(), 1001.0)
    assert decode_message(reply).header.exchange_type == c.EXCH_INFO  # NO-PROPOSAL-CHOSEN


def test_aggressive_mode_is_not_answered() -> None:
    from pixgw.ike.message import Header, encode_message

    path = make_pair(pix_config(), InitiatorProfile(psk=b"s3cret"))
    mm1 = decode_message(path.initiator.main_mode_1())
    am1 = encode_message(Header(mm1.header.initiator_cookie, bytes(8), 0, 0x10,
                                c.EXCH_AGGRESSIVE, 0, 0), mm1.payloads)
    assert path.send(am1, 1.0) == []
    assert path.responder.isakmp_sa_status() == ()


def test_windows10_vector_gets_transform_1_and_rfc3947() -> None:
    """The annotated Windows 10 first message through the responder: transform 1 (AES-256/SHA1/
    group 20) chosen, RFC 3947 NAT-T and IKE fragmentation announced back, nothing else."""
    from pathlib import Path as FilePath

    from pixgw.ike.message import SaPayload, VendorIdPayload

    text = (FilePath(__file__).parent.parent / "vectors" / "ike"
            / "windows10_main_mode_1.txt").read_text()
    data = bytes.fromhex("".join(line.split("#")[0].strip() for line in text.splitlines()))
    responder = Responder(pix_config(), random_bytes=os.urandom)
    responder.receive_datagram(data, Endpoint(GATEWAY, 500), Endpoint(CLIENT, 500), 1.0)
    ((reply, _, _),) = responder.datagrams_to_send(1.0)
    m = decode_message(reply)
    sa, vid, frag = m.payloads
    assert isinstance(sa, SaPayload) and isinstance(vid, VendorIdPayload)
    assert isinstance(frag, VendorIdPayload) and frag.data == c.VID_FRAGMENTATION
    (t,) = sa.proposals[0].transforms
    assert t.number == 1 and t.attribute(c.P1_GROUP) == 20 and t.attribute(c.P1_KEY_LENGTH) == 256
    assert vid.data == c.VID_NATT_RFC3947
    assert responder.isakmp_sa_status()[0].peer_vendor == "MSWIN8+"


def test_only_on_interfaces_with_isakmp_enable() -> None:
    config = pix_config()
    config = type(config)(**{**config.__dict__, "isakmp": type(config.isakmp)(
        **{**config.isakmp.__dict__, "enabled_interfaces": ()})})
    path = make_pair(config, InitiatorProfile(psk=b"s3cret"))
    assert path.send(path.initiator.main_mode_1(), 1.0) == []
    assert path.responder.isakmp_sa_status() == ()


@pytest.mark.parametrize(("esp", "tset"), [
    (EspOffer(c.ESP_AES, 256, c.AUTH_HMAC_SHA), TransformSet("t", "esp-aes-256", "esp-sha-hmac",
                                                             "transport")),
    (EspOffer(c.ESP_3DES, None, c.AUTH_HMAC_MD5), TransformSet("t", "esp-3des", "esp-md5-hmac",
                                                               "transport")),
    (EspOffer(c.ESP_DES, None, c.AUTH_HMAC_SHA256), TransformSet("t", "esp-des",
                                                                 "esp-sha256-hmac", "transport")),
    (EspOffer(c.ESP_AES, 128, c.AUTH_HMAC_SHA), TransformSet("t", "esp-aes", "esp-sha-hmac",
                                                             "transport")),
])
def test_child_sa_keys_carry_esp_both_ways(esp: EspOffer, tset: TransformSet) -> None:
    """The event's SAs work with pixgw.esp against SAs made from the initiator's KEYMAT."""
    from pixgw.esp.sa import EspSa
    from pixgw.ike.events import EspSaParameters

    path = make_pair(pix_config(transform_sets=(tset,)),
                     InitiatorProfile(psk=b"s3cret", esp=(esp,)))
    main_mode(path)
    quick_mode(path)
    event = path.responder.next_event()
    assert isinstance(event, ChildSaEstablished)
    (child,) = path.initiator.children
    client_out = EspSa(EspSaParameters(child.outbound_spi, event.inbound.cipher,
                                       event.inbound.integrity, child.outbound_encryption_key,
                                       child.outbound_integrity_key),
                       now=0, random_bytes=os.urandom)
    client_in = EspSa(EspSaParameters(child.inbound_spi, event.outbound.cipher,
                                      event.outbound.integrity, child.inbound_encryption_key,
                                      child.inbound_integrity_key), now=0, random_bytes=os.urandom)
    gw_in = EspSa(event.inbound, now=0, random_bytes=os.urandom)
    gw_out = EspSa(event.outbound, now=0, random_bytes=os.urandom)
    assert gw_in.decrypt(client_out.encrypt(17, b"l2tp from client")) == (17, b"l2tp from client")
    assert client_in.decrypt(gw_out.encrypt(17, b"l2tp to client")) == (17, b"l2tp to client")


def test_rsa_sig_untrusted_or_missing_certificate_refused() -> None:
    from pixgw.ike.certauth import InMemoryCertificateSource

    pki = test_pki()
    config = pix_config(policies=(IsakmpPolicy(10, "rsa-sig", "aes-256", "sha", 14),))
    profile = InitiatorProfile(phase1=(Phase1Offer(c.ENC_AES, 256, c.HASH_SHA, c.AUTH_RSA_SIG,
                                                   14),), chain=pki.client_chain,
                               key=pki.client_key)
    untrusting = InMemoryCertificateSource(pki.gateway_chain, pki.gateway_key, ())
    for source in (untrusting, None):
        path = make_pair(config, profile, certificates=source)
        msg = path.initiator.main_mode_1()
        for _ in range(2):
            (reply,) = path.send(msg, time.time())
            nxt = path.initiator.receive(reply)
            assert nxt is not None
            msg = nxt
        with captured_logs() as logs:
            assert path.send(msg, time.time()) == []
        assert path.responder.counters.authentication_failed == 1
        assert any("phase 1 authentication failed" in line for line in logs)
    assert untrusting.verified == [(c.ID_IPV4_ADDR, CLIENT.packed)]


def test_ike_fragmentation_both_ways_with_a_large_chain() -> None:
    """rsa-sig with a chain too big for one datagram: our message 6 goes in fragments to a peer
    that announced fragmentation, and its fragmented message 5 is put back together."""
    from pixgw.ike.certauth import InMemoryCertificateSource

    pki = test_pki()
    big = InMemoryCertificateSource((*pki.gateway_chain, pki.ca_der, pki.ca_der),
                                    pki.gateway_key, (pki.ca_der,))
    config = pix_config(policies=(IsakmpPolicy(10, "rsa-sig", "aes-256", "sha", 14),))
    profile = InitiatorProfile(
        phase1=(Phase1Offer(c.ENC_AES, 256, c.HASH_SHA, c.AUTH_RSA_SIG, 14),),
        chain=pki.client_chain, key=pki.client_key, fragment_size=300)
    path = make_pair(config, profile, certificates=big)
    main_mode(path, time.time())
    assert path.responder.counters.fragments_received >= 3
    assert path.initiator.fragments_received >= 2
    quick_mode(path, time.time())
    assert isinstance(path.responder.next_event(), ChildSaEstablished)


def test_fragmented_message_5_retransmitted_gets_fragments_again() -> None:
    pki = test_pki()
    from pixgw.ike.certauth import InMemoryCertificateSource

    big = InMemoryCertificateSource((*pki.gateway_chain, pki.ca_der, pki.ca_der),
                                    pki.gateway_key, (pki.ca_der,))
    config = pix_config(policies=(IsakmpPolicy(10, "rsa-sig", "aes-256", "sha", 14),))
    profile = InitiatorProfile(
        phase1=(Phase1Offer(c.ENC_AES, 256, c.HASH_SHA, c.AUTH_RSA_SIG, 14),),
        chain=pki.client_chain, key=pki.client_key, fragment_size=300)
    path = make_pair(config, profile, certificates=big)
    now = time.time()
    msg = path.initiator.main_mode_1()
    for _ in range(2):
        replies = [r for piece in path.initiator.fragments_of(msg) for r in path.send(piece, now)]
        msg = [path.initiator.receive(r) for r in replies][-1]  # type: ignore[assignment]
    pieces = path.initiator.fragments_of(msg)
    first = [r for p in pieces for r in path.send(p, now)]
    again = [r for p in pieces for r in path.send(p, now)]
    assert len(first) > 1 and again == first


def test_many_half_open_sas_wake_the_timer_one_at_a_time() -> None:
    """Timer hints (a heap): the responder wakes at the earliest deadline of any SA and a
    wake-up retransmits for the due SA only; a finished exchange leaves no early wake-up."""
    responder = Responder(pix_config(), random_bytes=os.urandom)
    peers = [Endpoint(IPv4Address(f"198.51.100.{10 + i}"), 500) for i in range(12)]
    local = Endpoint(GATEWAY, 500)
    for i, peer in enumerate(peers):  # MM1 from peer i at i/4 s
        initiator = IkeInitiator(InitiatorProfile(psk=b"s3cret"), peer, local, os.urandom)
        responder.receive_datagram(initiator.main_mode_1(), local, peer, i / 4)
        assert [d[2] for d in responder.datagrams_to_send(i / 4)] == [peer]
    assert responder.get_timer() == 5.0  # peer 0's first retransmission
    for i in range(12):
        responder.handle_timer(5 + i / 4)
        assert [d[2] for d in responder.datagrams_to_send(5 + i / 4)] == [peers[i]], i
        assert responder.get_timer() == (5 + (i + 1) / 4 if i < 11 else 10.0)
    # every SA then expires in its own time; none is retransmitted early
    sent = 0
    for _ in range(200):
        when = responder.get_timer()
        if when is None:
            break
        responder.handle_timer(when)
        sent += len(responder.datagrams_to_send(when))
    assert responder.isakmp_sa_status() == () and responder.get_timer() is None
    assert sent == 12 * 4  # retransmissions 2..5 of each; 1 was above
    assert responder.counters.half_open_expired == 12


def test_a_new_spi_skips_those_of_child_sas_and_pending_quick_modes() -> None:
    # the SPIs in use are kept in sets (no scan of every SA per quick mode): a child SA's
    # inbound SPI stays taken while the child lives or its quick mode is still remembered
    path, event = _established()
    responder = path.responder
    taken = event.inbound.spi.to_bytes(4, "big")
    fresh = (event.inbound.spi ^ 0x5A5A5A5A).to_bytes(4, "big")

    def scripted() -> Any:
        answers = iter([taken, fresh])
        return lambda n: next(answers)

    responder.random = scripted()
    assert quick_mode_exchange.spi(responder) == fresh  # taken by the child SA (and its quick mode)
    responder.random = os.urandom
    responder.delete_child_sa(event.child_sa_id, 1001.0)
    responder.random = scripted()
    assert quick_mode_exchange.spi(responder) == fresh  # the quick mode is still remembered
    responder.random = os.urandom
    responder.handle_timer(1000.0 + 3600.0)  # the quick mode's memory expires
    assert responder.quick == {}
    responder.random = scripted()
    assert quick_mode_exchange.spi(responder) == taken  # free again
