"""The dataplane: :class:`~pixgw.dataplane.interfaces.IDataplane` and its three backends
(``userspace``: RFC 4303/3948 ESP in Python; ``xfrm``: kernel ESP over NETLINK_XFRM; ``memory``:
the in-memory fake for tests), and the choice ``--dataplane auto`` makes between them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv4Network, summarize_address_range
from typing import Any

from pixgw.dataplane.interfaces import IDataplane

__all__ = ["make_dataplane", "pool_routes", "resolve_dataplane"]


def resolve_dataplane(requested: str, kernel_has_esp: Callable[[], bool] | None = None) -> str:
    """``auto`` -> ``xfrm`` when the kernel accepts an ESP SA, else ``userspace``; any other
    name is returned unchanged."""
    if requested != "auto":
        return requested
    if kernel_has_esp is None:
        from pixgw.dataplane.xfrm_netlink import kernel_has_esp as probe  # noqa: PLC0415

        kernel_has_esp = probe
    return "xfrm" if kernel_has_esp() else "userspace"


def pool_routes(pools: Iterable[tuple[IPv4Address, IPv4Address]]) -> tuple[IPv4Network, ...]:
    """The networks covering ``ip local pool`` ranges (first, last), for TUN routes."""
    out: list[IPv4Network] = []
    for first, last in pools:
        out.extend(summarize_address_range(first, last))
    return tuple(out)


def make_dataplane(
    name: str,
    reactor: Any,
    *,
    local_address: IPv4Address | None,
    tun_name: str = "pixgw0",
    tun_mtu: int = 1500,
    tun_address: IPv4Address | None = None,
    routes: tuple[IPv4Network, ...] = (),
) -> IDataplane:
    """The backend called *name* (after :func:`resolve_dataplane`), not yet started."""
    from pixgw.dataplane.userspace import TunSettings, UserspaceDataplane  # noqa: PLC0415

    tun = TunSettings(name=tun_name, mtu=tun_mtu, address=tun_address, routes=routes)
    if name == "memory":
        from pixgw.dataplane.memory import MemoryDataplane  # noqa: PLC0415

        return MemoryDataplane()
    if name == "xfrm":
        from pixgw.dataplane.xfrm import XfrmDataplane  # noqa: PLC0415

        if local_address is None:
            raise ValueError("the xfrm dataplane needs the outside address")
        return XfrmDataplane(reactor, local_address=local_address, tun=tun)
    if name == "userspace":
        return UserspaceDataplane(reactor, local_address=local_address, tun=tun)
    raise ValueError(f"unknown dataplane {name!r}")
