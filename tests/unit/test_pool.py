"""pixgw.pool.AddressPools: leasing from ``ip local pool`` ranges."""

from ipaddress import IPv4Address

from hypothesis import given, settings
from hypothesis import strategies as st

from pixgw.config.model import IpLocalPool
from pixgw.pool import AddressPools

A = IPv4Address
L2TP = IpLocalPool("l2tp", A("50.1.1.1"), A("50.1.1.5"))  # the reference config's pool


def test_leases_lowest_free_and_counts():
    pools = AddressPools([L2TP])
    assert pools.lease("l2tp", "s1") == A("50.1.1.1")
    assert pools.lease("l2tp", "s2") == A("50.1.1.2")
    assert (pools.in_use("l2tp"), pools.free("l2tp")) == (2, 3)
    assert pools.owner(A("50.1.1.2")) == "s2"
    assert pools.release(A("50.1.1.1"))
    assert not pools.release(A("50.1.1.1"))
    assert pools.lease("l2tp", "s3") == A("50.1.1.1")


def test_exhaustion_and_unknown_pool():
    pools = AddressPools([L2TP])
    got = [pools.lease("l2tp") for _ in range(5)]
    assert got == [A(f"50.1.1.{i}") for i in range(1, 6)]
    assert pools.lease("l2tp") is None
    assert pools.free("l2tp") == 0
    assert pools.lease("nosuch") is None
    assert pools.in_use("nosuch") == 0


def test_aaa_address_inside_pool_is_not_handed_out_again():
    pools = AddressPools([L2TP])
    assert pools.claim(A("50.1.1.1"), "radius-user")
    assert not pools.claim(A("50.1.1.1"), "other")
    assert pools.lease("l2tp") == A("50.1.1.2")
    assert pools.in_use("l2tp") == 2


def test_aaa_address_outside_pool_honoured_once():
    pools = AddressPools([L2TP])
    outside = A("203.0.113.9")
    assert pools.claim(outside, "u1")
    assert not pools.claim(outside, "u2")
    assert pools.in_use("l2tp") == 0
    assert pools.total_in_use == 1
    assert pools.pool_of(outside) is None
    assert pools.pool_of(A("50.1.1.3")) == "l2tp"
    assert pools.release(outside)


def test_overlapping_pools_never_share_an_address():
    a = IpLocalPool("a", A("198.51.100.1"), A("198.51.100.3"))
    b = IpLocalPool("b", A("198.51.100.2"), A("198.51.100.4"))
    pools = AddressPools([a, b])
    got = {pools.lease("a"), pools.lease("b"), pools.lease("a"), pools.lease("b")}
    assert got == {A("198.51.100.1"), A("198.51.100.2"), A("198.51.100.3"), A("198.51.100.4")}
    assert pools.lease("a") is None and pools.lease("b") is None


def test_reconfigure_keeps_leases():
    pools = AddressPools([L2TP])
    pools.lease("l2tp")
    pools.reconfigure([IpLocalPool("l2tp", A("50.1.1.1"), A("50.1.1.10"))])
    assert pools.lease("l2tp") == A("50.1.1.2")
    assert pools.free("l2tp") == 8


def test_status_snapshot():
    pools = AddressPools([L2TP])
    pools.lease("l2tp")
    (short,) = pools.status()
    assert (short.name, short.first, short.last, short.free, short.in_use) == (
        "l2tp", A("50.1.1.1"), A("50.1.1.5"), 4, 1,
    )
    assert short.in_use_addresses == ()
    (full,) = pools.status(with_addresses=True)
    assert full.in_use_addresses == (A("50.1.1.1"),)
    assert full.available_addresses == tuple(A(f"50.1.1.{i}") for i in range(2, 6))
    assert pools.most_in_use == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 7)), max_size=60))
def test_never_the_same_address_twice(operations):
    pools = AddressPools([IpLocalPool("p", A("192.0.2.1"), A("192.0.2.6"))])
    held: set[IPv4Address] = set()
    for is_lease, index in operations:
        if is_lease:
            address = pools.lease("p")
            if address is None:
                assert len(held) == 6
            else:
                assert address not in held
                held.add(address)
        elif held:
            victim = sorted(held)[index % len(held)]
            assert pools.release(victim)
            held.discard(victim)
        assert pools.in_use("p") == len(held)
        assert pools.free("p") == 6 - len(held)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 9)), max_size=80))
def test_lease_is_always_the_lowest_free_with_overlaps_claims_and_releases(operations):
    # the lease starts at a remembered low mark: it must still give the lowest free address
    # of the pool after releases (in either pool of an overlap) and claims inside it
    a = IpLocalPool("a", A("192.0.2.1"), A("192.0.2.6"))
    b = IpLocalPool("b", A("192.0.2.4"), A("192.0.2.9"))
    pools = AddressPools([a, b])
    held: set[IPv4Address] = set()
    for op, index in operations:
        if op in (0, 1):
            pool = (a, b)[op]
            expected = next(
                (x for x in (A(int(pool.first) + i) for i in range(pool.size)) if x not in held),
                None,
            )
            assert pools.lease(pool.name) == expected
            if expected is not None:
                held.add(expected)
        elif op == 2:
            address = A(int(A("192.0.2.1")) + index)
            assert pools.claim(address) == (address not in held)
            held.add(address)
        elif held:
            victim = sorted(held)[index % len(held)]
            assert pools.release(victim)
            held.discard(victim)


def test_a_large_pool_leases_in_order_after_a_release_far_below():
    pool = IpLocalPool("big", A("10.64.0.1"), A("10.64.39.255"))
    pools = AddressPools([pool])
    got = [pools.lease("big") for _ in range(10000)]
    assert got[0] == A("10.64.0.1") and got[-1] == A(int(A("10.64.0.1")) + 9999)
    assert pools.release(A("10.64.0.7"))
    assert pools.lease("big") == A("10.64.0.7")
    assert pools.lease("big") == A(int(A("10.64.0.1")) + 10000)
