"""The responder's bounds against a flood of first messages (issue 25): half-open SAs capped apart
from authenticated ones, in all and per source, the oldest evicted so that a real client still
completes; busy answers unrepeated and short-lived; retransmissions to half-open peers bounded in
bytes a second; first messages larger than any client's refused; refusal log lines bounded.
Each bound is driven to its limit and read back from the counters. About 3 s."""

from __future__ import annotations

import os
from dataclasses import replace
from ipaddress import IPv4Address

from pixgw.config.model import PixConfig
from pixgw.ike import constants as c
from pixgw.ike.events import ChildSaEstablished, Endpoint
from pixgw.ike.exchanges.common import (
    HALF_OPEN_BUSY_LIFETIME,
    HALF_OPEN_RETRANSMIT_BYTES_PER_SECOND,
    RETRANSMIT_INTERVAL,
)
from pixgw.testing.ike_initiator import IkeInitiator, InitiatorProfile, Phase1Offer
from tests.protocol.ike_harness import (
    GATEWAY,
    Path,
    Responder,
    captured_logs,
    main_mode,
    make_pair,
    pix_config,
    quick_mode,
)

SPOOFED = IPv4Address("198.51.100.0")
LOCAL = Endpoint(GATEWAY, 500)


def limited(config: PixConfig, **limits: int) -> PixConfig:
    return replace(config, isakmp=replace(config.isakmp, **limits))


def first_message() -> bytes:
    initiator = IkeInitiator(InitiatorProfile(psk=b"s3cret"), Endpoint(SPOOFED, 500), LOCAL,
                             os.urandom)
    return initiator.main_mode_1()


class Flood:
    """First messages with fresh cookies, from *sources* addresses in turn (spoofed)."""

    def __init__(self, responder: Responder, sources: int = 10_000) -> None:
        self.responder, self.sources = responder, sources
        self.template = first_message()
        self.sent = 0
        self.replies = 0

    def send(self, count: int, now: float) -> None:
        for _ in range(count):
            self.sent += 1
            cookie = self.sent.to_bytes(8, "big")
            source = Endpoint(SPOOFED + self.sent % self.sources, 500)
            self.responder.receive_datagram(cookie + self.template[8:], LOCAL, source, now)
        self.replies += len(self.responder.datagrams_to_send(now))


def stats(responder: Responder) -> tuple[int, int]:
    """(half-open, authenticated) as the stats view counts them."""
    s = responder.isakmp_stats()
    return s.half_open, s.established


def test_half_open_bound_evicts_the_oldest_and_a_real_client_completes_during_the_flood() -> None:
    path = make_pair(limited(pix_config(), limit_half_open=50), InitiatorProfile(psk=b"s3cret"))
    flood = Flood(path.responder)
    flood.send(500, 1.0)
    assert stats(path.responder) == (50, 0)
    assert path.responder.counters.half_open_evicted == 450
    assert flood.replies == 500  # every first message answered, the newest always admitted
    # a real client, with 20 more spoofed first messages between each of its messages
    msg: bytes | None = path.initiator.main_mode_1()
    while msg is not None and path.initiator.state != "established":
        (reply,) = path.send(msg, 2.0)
        flood.send(20, 2.0)
        msg = path.initiator.receive(reply)
    assert path.initiator.state == "established"
    assert quick_mode(path, 2.0) == []
    assert any(isinstance(e, ChildSaEstablished) for e in iter(path.responder.next_event, None))
    assert stats(path.responder) == (50, 1)


def test_one_source_keeps_at_most_its_bound_and_is_refused_when_none_can_go() -> None:
    config = limited(pix_config(), limit_half_open_per_peer=5)
    responder = Responder(config, random_bytes=os.urandom)
    flood = Flood(responder, sources=1)
    flood.send(20, 1.0)
    assert stats(responder) == (5, 0)
    assert responder.counters.half_open_evicted == 15
    # five negotiations from one address past message 3 (a real source: it read message 2)
    source = IPv4Address("203.0.113.9")
    paths = []
    for port in range(40000, 40005):
        path = Path(responder, IkeInitiator(InitiatorProfile(psk=b"s3cret", vendor_ids=()),
                                            Endpoint(source, port), LOCAL, os.urandom))
        (mm2,) = path.send(path.initiator.main_mode_1(), 2.0)
        mm3 = path.initiator.receive(mm2)
        assert mm3 is not None
        (mm4,) = path.send(mm3, 2.0)
        paths.append((path, mm4))
    refused = Path(responder, IkeInitiator(InitiatorProfile(psk=b"s3cret"),
                                           Endpoint(source, 40005), LOCAL, os.urandom))
    with captured_logs() as logs:
        assert refused.send(refused.initiator.main_mode_1(), 2.0) == []
    assert responder.counters.refused_per_peer == 1
    assert any("half-open-per-peer 5" in line for line in logs)
    # authenticated SAs do not count against the source: the five finish, a sixth may start
    for path, mm4 in paths:
        mm5 = path.initiator.receive(mm4)
        assert mm5 is not None
        path.initiator.receive(path.send(mm5, 3.0)[0])
        assert path.initiator.state == "established"
    assert stats(responder) == (5, 5)  # the spoofed source's five are still held
    assert len(refused.send(refused.initiator.main_mode_1(), 3.0)) == 1


def test_established_sas_and_their_rekeys_never_wait_on_half_open_ones() -> None:
    config = limited(pix_config(), limit_half_open=20, limit_sa=2)
    first = make_pair(config, InitiatorProfile(psk=b"s3cret", vendor_ids=()))
    responder = first.responder

    def client(address: str, port: int = 500) -> Path:
        return Path(responder, IkeInitiator(InitiatorProfile(psk=b"s3cret", vendor_ids=()),
                                            Endpoint(IPv4Address(address), port), LOCAL,
                                            os.urandom))

    flood = Flood(responder)
    flood.send(100, 1.0)
    main_mode(first, 1.0)
    flood.send(100, 1.0)
    second = client("203.0.113.6")
    main_mode(second, 1.0)
    assert first.initiator.state == second.initiator.state == "established"
    assert stats(responder) == (19, 2)  # each client took a half-open slot, then left it
    # at isakmp limit sa a new peer is refused for capacity (and so is the flood)...
    third = client("203.0.113.7")
    assert third.send(third.initiator.main_mode_1(), 1.0) == []
    assert responder.counters.refused_capacity == 1
    # ...but a peer that has an SA up may rekey phase 1 (the old SA goes after)
    rekey = client(str(first.initiator.local.address), 4500)
    main_mode(rekey, 2.0)
    assert rekey.initiator.state == "established"
    assert stats(responder)[1] == 3
    assert responder.counters.refused_capacity == 1


def test_busy_answers_go_once_and_live_short() -> None:
    responder = Responder(limited(pix_config(), limit_half_open=100), random_bytes=os.urandom)
    flood = Flood(responder)
    flood.send(50, 0.0)
    assert responder.counters.half_open_busy == 0
    flood.send(50, 0.0)  # from 50 held on (half the bound): busy
    assert responder.counters.half_open_busy == 50
    responder.handle_timer(RETRANSMIT_INTERVAL)
    assert len(responder.datagrams_to_send(RETRANSMIT_INTERVAL)) == 50  # the first 50 only
    responder.handle_timer(HALF_OPEN_BUSY_LIFETIME)
    assert stats(responder) == (50, 0)  # the busy ones are gone after 10 s, not 30
    assert responder.counters.half_open_expired == 50


def test_retransmissions_to_half_open_peers_are_bounded_in_bytes_a_second() -> None:
    responder = Responder(pix_config(), random_bytes=os.urandom)  # 5000: never busy here
    flood = Flood(responder)
    flood.send(2000, 0.0)
    assert responder.counters.half_open_busy == 0
    responder.handle_timer(RETRANSMIT_INTERVAL)
    sent = responder.datagrams_to_send(RETRANSMIT_INTERVAL)
    assert 0 < sum(len(d) for d, _, _ in sent) <= HALF_OPEN_RETRANSMIT_BYTES_PER_SECOND
    counters = responder.counters
    assert counters.retransmissions_sent == len(sent)
    assert counters.retransmissions_sent + counters.retransmissions_suppressed == 2000


def test_a_first_message_larger_than_any_clients_is_refused_and_holds_nothing() -> None:
    offer = Phase1Offer(c.ENC_AES, 256, c.HASH_SHA, c.AUTH_PSK, 20)
    huge = IkeInitiator(InitiatorProfile(psk=b"s3cret", phase1=(offer,) * 255),
                        Endpoint(SPOOFED, 500), LOCAL, os.urandom).main_mode_1()
    assert len(huge) > 8192
    responder = Responder(pix_config(), random_bytes=os.urandom)
    responder.receive_datagram(huge, LOCAL, Endpoint(SPOOFED, 500), 1.0)
    assert responder.datagrams_to_send(1.0) == []
    assert responder.counters.refused_oversized == 1
    assert stats(responder) == (0, 0)
    # macOS's fourteen transforms are well inside the bound
    macos = IkeInitiator(InitiatorProfile(psk=b"s3cret", phase1=(offer,) * 14),
                         Endpoint(SPOOFED, 500), LOCAL, os.urandom).main_mode_1()
    responder.receive_datagram(macos, LOCAL, Endpoint(SPOOFED, 500), 1.0)
    assert len(responder.datagrams_to_send(1.0)) == 1


def test_a_refusal_of_many_transforms_is_one_bounded_line() -> None:
    refused = Phase1Offer(c.ENC_DES, None, c.HASH_MD5, c.AUTH_PSK, 1)
    many = IkeInitiator(InitiatorProfile(psk=b"s3cret", phase1=(refused,) * 200),
                        Endpoint(SPOOFED, 500), LOCAL, os.urandom).main_mode_1()
    responder = Responder(pix_config(), random_bytes=os.urandom)
    with captured_logs() as logs:
        responder.receive_datagram(many, LOCAL, Endpoint(SPOOFED, 500), 1.0)
    (line,) = [line for line in logs if "713900" in line]
    assert "and 184 more" in line and len(line) < 4000


def test_show_crypto_isakmp_stats_reads_the_bounds_and_each_refusal() -> None:
    from pixgw.cli.commands import CommandContext, CommandTable
    from pixgw.cli.crypto import register

    responder = Responder(limited(pix_config(), limit_half_open=10), random_bytes=os.urandom)
    Flood(responder).send(25, 1.0)
    responder.receive_datagram(b"\x00" * 40, LOCAL, Endpoint(SPOOFED, 500), 1.0)

    class Gateway:
        def isakmp_stats(self) -> object:  # as pixgw.gateway merges the shell's send errors
            return replace(responder.isakmp_stats(), send_errors=(("ENETUNREACH", 3),))

    table = CommandTable()
    register(table)
    spec, args = table.resolve("sh cry isa stats")
    out = str(spec.handler(CommandContext(Gateway()), args)).splitlines()
    assert out[0] == "Global IKEv1 Statistics"
    rows = {k.strip(): v.strip() for k, v in (line.rsplit(":", 1) for line in out[1:])}
    assert rows["Half-open SAs (waiting for MM3)"].startswith("10 of 10 (")
    assert rows["Half-open evicted (oldest first)"] == "15"
    assert rows["Half-open answered busy"] == "20"
    assert rows["In Packets"] == "26"
    assert rows["Refused: malformed"] == "1" and rows["In Drop Packets"] == "1"
    assert rows["Active Tunnels"] == "0"
    assert rows["Send errors"] == "ENETUNREACH 3"


def test_a_transform_with_an_attribute_we_do_not_know_is_never_chosen() -> None:
    """RFC 2408 §4.2: the answer echoes the chosen transform; one carrying a class the gateway
    does not know (or a value longer than any it knows) is refused, not echoed back."""
    from pixgw.ike.message import Attribute, SaPayload, decode_message, encode_message

    mm1 = first_message()
    message = decode_message(mm1)
    sa = message.payloads[0]
    assert isinstance(sa, SaPayload)
    proposal = sa.proposals[0]
    for extra in (Attribute(16390, b"x" * 100, basic=False),  # private use
                  Attribute(6, b"\x01" * 128, basic=False),     # a prime of its own
                  Attribute(c.P1_LIFE_DURATION, b"\x01" * 64, basic=False)):
        transforms = tuple(replace(t, attributes=(*t.attributes, extra))
                           for t in proposal.transforms)
        crafted = replace(sa, proposals=(replace(proposal, transforms=transforms),))
        data = encode_message(message.header, (crafted, *message.payloads[1:]))
        responder = Responder(pix_config(), random_bytes=os.urandom)
        with captured_logs() as logs:
            responder.receive_datagram(data, LOCAL, Endpoint(SPOOFED, 500), 1.0)
        ((reply, _, _),) = responder.datagrams_to_send(1.0)
        assert decode_message(reply).header.exchange_type == c.EXCH_INFO  # NO-PROPOSAL-CHOSEN
        assert len(reply) < 200 and stats(responder) == (0, 0)
        assert any(f"Attribute class {extra.type}" in line for line in logs)


def test_refusals_are_answered_at_most_so_many_a_second() -> None:
    from pixgw.ike.exchanges.common import REFUSALS_ANSWERED_PER_SECOND

    refused = Phase1Offer(c.ENC_DES, None, c.HASH_MD5, c.AUTH_PSK, 1)
    offer = IkeInitiator(InitiatorProfile(psk=b"s3cret", phase1=(refused,)),
                         Endpoint(SPOOFED, 500), LOCAL, os.urandom).main_mode_1()
    responder = Responder(pix_config(), random_bytes=os.urandom)
    for i in range(3 * REFUSALS_ANSWERED_PER_SECOND):
        responder.receive_datagram(i.to_bytes(8, "big") + offer[8:], LOCAL,
                                   Endpoint(SPOOFED + i % 200, 500), 7.5)
    assert len(responder.datagrams_to_send(7.5)) == REFUSALS_ANSWERED_PER_SECOND
    assert responder.counters.refusals_unanswered == 2 * REFUSALS_ANSWERED_PER_SECOND
    responder.receive_datagram(offer, LOCAL, Endpoint(SPOOFED, 500), 8.0)  # the next second
    assert len(responder.datagrams_to_send(8.0)) == 1


def test_the_core_writes_to_the_sink_it_was_given_and_nowhere_else() -> None:
    """DESIGN: cores take their log sink in the constructor (the process's publisher by
    default); one given a sink writes its PIX messages and debug lines there only."""
    from pixgw.syslog import ListSink

    sink = ListSink()
    refused = Phase1Offer(c.ENC_DES, None, c.HASH_MD5, c.AUTH_PSK, 1)
    offer = IkeInitiator(InitiatorProfile(psk=b"s3cret", phase1=(refused,)),
                         Endpoint(SPOOFED, 500), LOCAL, os.urandom).main_mode_1()
    responder = Responder(pix_config(), random_bytes=os.urandom, log=sink)
    with captured_logs() as published:
        responder.receive_datagram(offer, LOCAL, Endpoint(SPOOFED, 500), 1.0)
    assert published == []
    assert any(line.startswith("%PIX-") and "713900" in line for line in sink.lines)
    assert "ISAKMP (0): Checking ISAKMP transform 1 against priority 10 policy" in sink.lines
