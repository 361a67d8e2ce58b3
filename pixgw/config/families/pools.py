"""``ip local pool``: the address pools the vpdn groups lease from."""

from __future__ import annotations

from pixgw.config.model import IpLocalPool, PixConfig
from pixgw.config.syntax import Args, Handler, Sections, State, fail, parse_address, removed

MAX_POOL_SIZE = 65536


def ip_local_pool(st: State, a: Args, negated: bool) -> None:
    a.keyword("pool")
    name = a.name("pool name")
    st.declare("pool", name)
    if removed(a, st.pools, name, negated):
        return
    span = a.word("address range")
    first_word, dash, last_word = span.partition("-")
    first = parse_address(first_word)
    last = parse_address(last_word) if dash else first
    if first > last:
        fail(f"bad range {span}: first address above last")
    size = int(last) - int(first) + 1
    if size > MAX_POOL_SIZE:
        fail(f"bad range {span}: {size} addresses, at most {MAX_POOL_SIZE}")
    mask = a.netmask() if a.optional("mask") else None
    a.end()
    for other in st.pools.values():
        if other.name != name and not (last < other.first or other.last < first):
            fail(f"range {span} overlaps pool {other.name}")
    st.pools[name] = IpLocalPool(name, first, last, mask)


# ``ip local pool`` shares its leading keyword with ``ip address``: the ``ip`` reader of
# :mod:`.interfaces` hands it to :func:`ip_local_pool`
COMMANDS: dict[str, Handler] = {}


def render(c: PixConfig, s: Sections) -> None:
    for pool in c.pools:
        mask = f" mask {pool.mask}" if pool.mask is not None else ""
        s["ip local"].append(f"ip local pool {pool.name} {pool.first}-{pool.last}{mask}")
