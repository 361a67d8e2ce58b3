"""What one VPN user who holds the group key may do to the others through IKE (issue 27, its IKE
part): a Delete names only the sender's own IPsec SAs (clients behind one NAT share an address
and often an ID), a Delete names at most MAX_DELETE_SPIS SPIs, and one phase-1 SA holds at most
``isakmp limit child-sa`` IPsec SAs. Each bound is driven to its limit and read back from the
counters and ``show crypto isakmp stats``. Well under a second."""

from __future__ import annotations

from dataclasses import replace

from pixgw.cli.crypto import render_isakmp_stats
from pixgw.config.model import PixConfig
from pixgw.ike import constants as c
from pixgw.ike.events import ChildSaDeleted, ChildSaEstablished, IkeEvent
from pixgw.ike.exchanges.common import MAX_DELETE_SPIS
from pixgw.ike.message import DeletePayload
from pixgw.testing.ike_initiator import InitiatorProfile
from tests.protocol.ike_harness import Path, main_mode, make_pair, pix_config, quick_mode

# no INITIAL-CONTACT: the tests are about Deletes, not about a client's reboot
PROFILE = InitiatorProfile(psk=b"s3cret", vendor_ids=())


def limited(config: PixConfig, **limits: int) -> PixConfig:
    return replace(config, isakmp=replace(config.isakmp, **limits))


def events(path: Path) -> list[IkeEvent]:
    return list(iter(path.responder.next_event, None))


def connected(path: Path, now: float = 1000.0) -> ChildSaEstablished:
    main_mode(path, now)
    quick_mode(path, now)
    (child,) = [e for e in events(path) if isinstance(e, ChildSaEstablished)]
    return child


def stat_line(path: Path, name: str) -> str:
    text = render_isakmp_stats(path.responder.isakmp_stats())
    return next(line for line in text.splitlines() if line.strip().startswith(name))


def test_a_client_behind_a_nat_cannot_delete_a_neighbours_sa() -> None:
    """Both sit behind one NAT with the same private address (so the same ID): only the port
    tells them apart, and a Delete from one names the other's SPI in vain."""
    a = make_pair(pix_config(), PROFILE, nat=True)
    b = make_pair(pix_config(), PROFILE, nat=True, nat_base_port=41000)
    b.responder = a.responder
    child_a, child_b = connected(a), connected(b)
    assert child_a.remote.address == child_b.remote.address
    assert a.send(a.initiator.delete_child(b.initiator.children[0]), 1001.0) == []
    assert events(a) == []
    assert {s.inbound_spi for s in a.responder.ipsec_sa_status()} == {
        child_a.inbound.spi, child_b.inbound.spi}
    assert a.responder.counters.delete_spis_not_own == 1
    assert stat_line(a, "Delete SPIs not the sender's").endswith(" 1")
    # its own, it may delete
    a.send(a.initiator.delete_child(a.initiator.children[0]), 1002.0)
    (gone,) = events(a)
    assert isinstance(gone, ChildSaDeleted) and gone.child_sa_id == child_a.child_sa_id
    assert [s.inbound_spi for s in a.responder.ipsec_sa_status()] == [child_b.inbound.spi]


def test_a_rekeyed_phase_1_deletes_the_sas_its_peer_made_under_the_old_one() -> None:
    """Windows rekeys phase 1 and then deletes the old IPsec SAs under the new one."""
    old = make_pair(pix_config(), PROFILE)
    child = connected(old)
    new = make_pair(pix_config(), PROFILE)
    new.responder = old.responder
    main_mode(new, 2000.0)
    new.send(new.initiator.delete_child(old.initiator.children[0]), 2001.0)
    (gone,) = events(new)
    assert isinstance(gone, ChildSaDeleted) and gone.child_sa_id == child.child_sa_id
    assert new.responder.counters.delete_spis_not_own == 0


def test_a_delete_names_at_most_max_delete_spis() -> None:
    path = make_pair(pix_config(), PROFILE)
    connected(path)
    own = path.initiator.children[0].inbound_spi.to_bytes(4, "big")
    others = tuple((0x10000 + i).to_bytes(4, "big") for i in range(1000))
    delete = DeletePayload(c.DOI_IPSEC, c.PROTO_ESP, 4, (own, *others))
    path.send(path.initiator.informational([delete]), 1001.0)
    assert [type(e) for e in events(path)] == [ChildSaDeleted]
    counters = path.responder.counters
    assert counters.delete_spis_ignored == 1001 - MAX_DELETE_SPIS
    assert counters.delete_spis_not_own == MAX_DELETE_SPIS - 1  # the others it did read
    assert stat_line(path, "Delete SPIs over the bound").endswith(
        f" {1001 - MAX_DELETE_SPIS}")


def test_one_phase_1_sa_holds_at_most_limit_child_sa_ipsec_sas() -> None:
    path = make_pair(limited(pix_config(), limit_child_sa=3), PROFILE)
    main_mode(path)
    for _ in range(3):
        quick_mode(path)
    assert [type(e) for e in events(path)] == [ChildSaEstablished] * 3
    (refusal,) = quick_mode(path, 1001.0)  # an informational NO-PROPOSAL-CHOSEN, no message 2
    assert refusal[18] == c.EXCH_INFO
    assert len(path.responder.ipsec_sa_status()) == 3 and events(path) == []
    assert path.responder.counters.child_sa_refused == 1
    assert stat_line(path, "Refused: IPsec SAs per ISAKMP SA").endswith(" 1")
    assert stat_line(path, "IPsec SAs per ISAKMP SA limit").endswith(" 3")
    # one goes (the client deletes it), and the next quick mode is taken again
    path.send(path.initiator.delete_child(path.initiator.children[0]), 1002.0)
    assert [type(e) for e in events(path)] == [ChildSaDeleted]
    quick_mode(path, 1003.0)
    assert [type(e) for e in events(path)] == [ChildSaEstablished]
    assert path.responder.counters.child_sa_refused == 1


def test_limit_child_sa_is_configured_and_written_back() -> None:
    from pixgw.config.parser import parse
    from pixgw.config.render import render

    config = parse("isakmp limit child-sa 2\n").config
    assert config.isakmp.limit_child_sa == 2
    assert "isakmp limit child-sa 2\n" in render(config)
    assert "isakmp limit child-sa" not in render(parse("").config)  # the default is not written
