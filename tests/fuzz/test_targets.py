"""Every coverage-guided fuzz target (tests/fuzz/targets.py) on its seed corpus, and on a few
mutations of it: what ``scripts/fuzz.py`` starts from must pass, so what the fuzzer reports is
a finding. Under 10 s."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_passes_its_seeds_and_their_truncations(name: str) -> None:
    target, seeds = TARGETS[name]
    corpus = seeds()
    assert corpus, f"{name} has no seed"
    for seed in corpus:
        target(seed)
        for cut in (1, len(seed) // 2, len(seed) - 1):
            target(seed[:cut])
        target(bytes(b ^ 0x5A for b in seed[:64]) + seed[64:])


FOUND = Path(__file__).resolve().parents[1] / "vectors" / "fuzz"


@pytest.mark.parametrize(
    "found", sorted(FOUND.glob("*/*")) if FOUND.exists() else [], ids=lambda p: p.name
)
def test_what_the_fuzzer_found_stays_fixed(found: Path) -> None:
    """An input a fuzzer once crashed on (tests/vectors/fuzz/TARGET/NAME) runs clean."""
    target, _ = TARGETS[found.parent.name]
    target(found.read_bytes())


def test_the_recorded_clients_l2tp_replays_a_whole_tunnel_into_the_lns_target() -> None:
    """The lns target's seeds from the captures are readdressed to its LNS: a real xl2tpd's
    tunnel and call come up, carry PPP and are torn down by the client's CDN and StopCCN."""
    from tests.fuzz.targets import _new_lns, _pieces, _replayed_l2tp

    seeds = _replayed_l2tp()
    assert seeds, "no capture in tests/vectors/captures"
    for seed in seeds:
        core, peers, clock = _new_lns()
        events = []
        for piece in _pieces(seed):
            core.receive_datagram(piece[1:], peers[0], clock.seconds())
            core.datagrams_to_send(clock.seconds())
            while (event := core.next_event()) is not None:
                events.append(type(event).__name__)
        assert events[:2] == ["TunnelEstablished", "SessionEstablished"], events
        assert events.count("PppFrameReceived") >= 10, events
        assert events[-2:] == ["SessionClosed", "TunnelClosed"], events


def test_the_recorded_clients_l2tp_replays_a_call_into_the_gateway_target() -> None:
    """The gateway target's seeds from the captures reach its Gateway readdressed: the call
    comes up (PPP starts on it) and the client's StopCCN ends it again."""
    from tests.fuzz.targets import _gateway_receiver, _pieces, _replayed_l2tp
    from tests.protocol.test_gateway import Bench, child_sa

    seeds = _replayed_l2tp(bytes([2]), _gateway_receiver)
    assert seeds, "no capture in tests/vectors/captures"
    for seed in seeds:
        bench = Bench()
        try:
            bench.dataplane.install_child_sa(child_sa(1, 4501))
            most = 0
            for piece in _pieces(seed):
                bench.dataplane.receive_l2tp(1, piece[1:])
                most = max(most, len(bench.gateway.sessions))
            assert most == 1 and not bench.gateway.sessions
            assert any("603107" in line for line in bench.lines), bench.lines
        finally:
            bench.close()


def test_the_invariant_checks_see_a_broken_index() -> None:
    """The checks the stateful targets run after every input catch an index out of step."""
    from tests.fuzz.targets import (
        _ike_path,
        _new_lns,
        _pieces,
        _replayed_l2tp,
        check_ike_invariants,
        check_lns_invariants,
    )
    from tests.protocol.ike_harness import main_mode

    path = _ike_path()
    main_mode(path)  # type: ignore[arg-type]
    responder = path.responder  # type: ignore[attr-defined]
    check_ike_invariants(responder)
    (address,) = responder.sas_by_address
    responder.sas_by_address[address] = set()
    with pytest.raises(AssertionError):
        check_ike_invariants(responder)

    core, peers, clock = _new_lns()
    for piece in list(_pieces(_replayed_l2tp()[0]))[:4]:  # SCCRQ .. ICCN: a tunnel up
        core.receive_datagram(piece[1:], peers[0], clock.seconds())
    check_lns_invariants(core)
    assert core.tunnels
    core.by_child.clear()
    with pytest.raises(AssertionError):
        check_lns_invariants(core)


def test_the_cert_rep_targets_three_ways_reach_an_issued_certificate() -> None:
    """The cert_rep target's seeds - the NDES's answer, its envelope signed anew, its
    certificates enveloped anew - each open to SUCCESS with the issued certificate: the
    structure-aware modes get past the signature and the decryption."""
    from pixgw.pki import pkcs7, scep
    from tests.fuzz.targets import _scep_bench, _scep_envelope_of, _scep_inner_of

    b = _scep_bench()
    envelope = _scep_envelope_of(b.answer)
    again = pkcs7.envelope(_scep_inner_of(b.answer), b.requester, "aes128", b.random)
    for answer in (b.answer, b.signed(envelope), b.signed(again)):
        rep = scep.parse_cert_rep(answer, b.request, b.cas, b.key)
        assert rep.status is scep.PkiStatus.SUCCESS
        assert rep.certificates == (b.ndes.issued[0],) or rep.certificates == [b.ndes.issued[0]]


def test_the_radius_targets_genuine_accept_grants_what_it_carries() -> None:
    """The radius_reply target's structure-aware seeds are genuine Access-Accepts: check_reply
    takes them, and the MS-CHAP v2 one grants the address, the timeouts and both MPPE keys."""
    from pixgw.aaa.radius.authorization import authorization_from_accept
    from pixgw.aaa.radius.codec import RadiusReply, check_reply, decode_attributes
    from tests.fuzz.targets import _dictionary, _radius_logins, _radius_seeds, _radius_server

    _plain, v2, _v1, _pap = _radius_seeds()
    assert check_reply(v2, b"secret", bytes(16), False) is None
    reply = RadiusReply(2, v2[1], decode_attributes(_dictionary(), 2, v2[20:]), bytes(16))
    granted = authorization_from_accept(reply, _radius_logins()[2], _radius_server())
    assert str(granted.address) == "198.51.100.20"
    assert (granted.session_timeout, granted.idle_timeout) == (3600, 600)
    # the salt-encrypted keys decrypt to what the seed put in (RFC 2548 §2.4.2)
    assert granted.mppe_send_key == bytes(range(16))
    assert granted.mppe_recv_key == bytes(range(16, 32))
