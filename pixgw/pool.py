"""Address pools for remote-access clients: ``ip local pool NAME FIRST-LAST [mask M]``.

Pure bookkeeping (no I/O): :class:`AddressPools` leases the lowest free address of a pool,
takes an address chosen by AAA (Framed-IP-Address, inside or outside any pool), releases it
on teardown, and never gives one address to two sessions, even when pools overlap. It also
builds the ``show ip local pool`` snapshots (PIX 6.3 command reference, ``ip local pool``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from ipaddress import IPv4Address

from pixgw.config.model import IpLocalPool
from pixgw.status import IpLocalPoolStatus

__all__ = ["AddressPools"]


class AddressPools:
    """Every configured pool and every address in use (pool leases and AAA addresses)."""

    def __init__(self, pools: Sequence[IpLocalPool] = ()) -> None:
        self._pools: dict[str, IpLocalPool] = {}
        self._owners: dict[IPv4Address, Hashable] = {}
        # per pool: every offset below this one is in use, so a lease starts looking there
        # (a release below it moves it back): leasing costs what is taken since, not the pool
        self._low: dict[str, int] = {}
        self.most_in_use = 0
        self.reconfigure(pools)

    def reconfigure(self, pools: Sequence[IpLocalPool]) -> None:
        """New ``ip local pool`` lines; leases already given stay valid until released."""
        self._pools = {p.name: p for p in pools if int(p.first) <= int(p.last)}
        self._low = {name: 0 for name in self._pools}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._pools)

    def lease(self, pool_name: str, owner: Hashable = None) -> IPv4Address | None:
        """The lowest free address of *pool_name*, now in use by *owner*; None when exhausted
        (or no such pool)."""
        pool = self._pools.get(pool_name)
        if pool is None:
            return None
        first = int(pool.first)
        for offset in range(self._low.get(pool_name, 0), pool.size):
            address = IPv4Address(first + offset)
            if address not in self._owners:
                self._low[pool_name] = offset + 1
                self._take(address, owner)
                return address
        self._low[pool_name] = pool.size
        return None

    def claim(self, address: IPv4Address, owner: Hashable = None) -> bool:
        """Take an address chosen elsewhere (AAA), inside a pool or not; False if in use."""
        if address in self._owners:
            return False
        self._take(address, owner)
        return True

    def release(self, address: IPv4Address) -> bool:
        """Give *address* back; False if it was not in use."""
        if self._owners.pop(address, _MISSING) is _MISSING:
            return False
        value = int(address)
        for pool in self._pools.values():  # pools may overlap: each one may have it again
            offset = value - int(pool.first)
            if 0 <= offset < self._low[pool.name] and value <= int(pool.last):
                self._low[pool.name] = offset
        return True

    def owner(self, address: IPv4Address) -> Hashable:
        return self._owners.get(address)

    def is_in_use(self, address: IPv4Address) -> bool:
        return address in self._owners

    def pool_of(self, address: IPv4Address) -> str | None:
        for pool in self._pools.values():
            if int(pool.first) <= int(address) <= int(pool.last):
                return pool.name
        return None

    def in_use(self, pool_name: str) -> int:
        pool = self._pools.get(pool_name)
        if pool is None:
            return 0
        return len(self._used_in(pool))

    def free(self, pool_name: str) -> int:
        pool = self._pools.get(pool_name)
        return 0 if pool is None else pool.size - self.in_use(pool_name)

    @property
    def total_in_use(self) -> int:
        return len(self._owners)

    def _take(self, address: IPv4Address, owner: Hashable) -> None:
        self._owners[address] = owner
        self.most_in_use = max(self.most_in_use, len(self._owners))

    def _used_in(self, pool: IpLocalPool) -> list[IPv4Address]:
        low, high = int(pool.first), int(pool.last)
        return sorted(a for a in self._owners if low <= int(a) <= high)

    def status(self, *, with_addresses: bool = False) -> tuple[IpLocalPoolStatus, ...]:
        """Snapshots for ``show ip local pool`` (addresses listed only when asked: pools can
        be large)."""
        result: list[IpLocalPoolStatus] = []
        for pool in self._pools.values():
            used = self._used_in(pool)
            available: tuple[IPv4Address, ...] = ()
            if with_addresses:
                taken = set(used)
                available = tuple(
                    a
                    for a in (IPv4Address(int(pool.first) + i) for i in range(pool.size))
                    if a not in taken
                )
            result.append(
                IpLocalPoolStatus(
                    name=pool.name,
                    first=pool.first,
                    last=pool.last,
                    mask=pool.mask,
                    free=pool.size - len(used),
                    in_use=len(used),
                    in_use_addresses=tuple(used) if with_addresses else (),
                    available_addresses=available,
                )
            )
        return tuple(result)


_MISSING = object()
