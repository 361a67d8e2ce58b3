"""``show vpdn pppinterface [id N]``, ``show uauth`` and ``show ip local pool [NAME]``.

Pure renderers of the :mod:`pixgw.status` snapshots in the PIX 6.3 formats of
``reference/pix63-l2tp-ipsec-reference.txt`` (``show vpdn pppinterface``, ``show uauth``) and
the PIX 6.3 command reference (``ip local pool``), plus :func:`register`, which puts the
commands in a :class:`~pixgw.cli.commands.CommandTable` reading from a :class:`PppStatusSource`
(the gateway). The ``debug ppp io|error|uauth`` wording (:func:`io_line`, :func:`error_line`,
:func:`uauth_line`) is defined in :mod:`pixgw.ppp.trace`, where the PPP core can use it without
importing the CLI, and re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pixgw.cli.commands import CliError, CommandContext, CommandTable
from pixgw.ppp.trace import error_line, io_line, uauth_line
from pixgw.status import IpLocalPoolStatus, PppInterfaceStatus, UauthStatus

__all__ = [
    "PppStatusSource",
    "error_line",
    "format_duration",
    "io_line",
    "register",
    "render_ip_local_pool",
    "render_pppinterface",
    "render_uauth",
    "uauth_line",
]


def render_pppinterface(interfaces: Sequence[PppInterfaceStatus]) -> str:
    """``show vpdn pppinterface``: one block per PPP virtual interface."""
    blocks = []
    for ppp in interfaces:
        address = str(ppp.client_address) if ppp.client_address is not None else "0.0.0.0"
        blocks.append(
            "\n".join(
                [
                    f"PPP virtual interface id = {ppp.interface_id}",
                    f"PPP authentication protocol is {ppp.authentication}",
                    f"Client ip address is {address}",
                    f"Transmitted Pkts: {ppp.transmitted_packets}, "
                    f"Received Pkts: {ppp.received_packets}, Error Pkts: {ppp.error_packets}",
                    *([f"Dropped Pkts (source not the client ip address): {ppp.spoofed_packets}"]
                      if ppp.spoofed_packets else []),
                    f"MPPE key strength is {ppp.mppe_key_strength}",
                    "  MPPE_Encrypt_Pkts: 0, MPPE_Encrypt_Bytes: 0",
                    "  MPPE_Decrypt_Pkts: 0, MPPE_Decrypt_Bytes: 0",
                    "  Rcvd_Out_Of_Seq_MPPE_Pkts: 0",
                ]
            )
        )
    return "\n\n".join(blocks)


def format_duration(seconds: int) -> str:
    """``H:MM:SS`` as the PIX prints timeouts."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def render_uauth(status: UauthStatus) -> str:
    """``show uauth``."""
    lines = [
        "                        Current    Most Seen",
        f"Authenticated Users     {status.authenticated_current:>5}      "
        f"{status.authenticated_most:>5}",
        f"Authen In Progress      {status.in_progress_current:>5}      "
        f"{status.in_progress_most:>5}",
    ]
    for entry in status.entries:
        prefix = f"{entry.kind} user" if entry.kind else "user"
        address = str(entry.address) if entry.address is not None else "0.0.0.0"
        state = "authenticated" if entry.authenticated else "authenticating"
        lines.append(f"{prefix} '{entry.username}' at {address}, {state}")
        if entry.absolute_remaining is not None:
            lines.append(f"   absolute   timeout: {format_duration(entry.absolute_remaining)}")
        if entry.inactivity_remaining is not None:
            lines.append(f"   inactivity timeout: {format_duration(entry.inactivity_remaining)}")
    return "\n".join(lines)


def render_ip_local_pool(pools: Sequence[IpLocalPoolStatus], *, detail: bool = False) -> str:
    """``show ip local pool`` (a table) or ``show ip local pool NAME`` (with the addresses)."""
    lines = [f"{'Pool':<20}{'Begin':<16}{'End':<16}{'Free':>5}{'In use':>8}"]
    for pool in pools:
        lines.append(
            f"{pool.name:<20}{pool.first!s:<16}{pool.last!s:<16}{pool.free:>5}{pool.in_use:>8}"
        )
    if detail:
        for pool in pools:
            lines.append("")
            lines.append("Available Addresses:")
            lines.extend(str(a) for a in pool.available_addresses)
            lines.append("In Use Addresses:")
            lines.extend(str(a) for a in pool.in_use_addresses)
    return "\n".join(lines)


class PppStatusSource(Protocol):
    """What the commands read (the gateway provides it)."""

    def ppp_interfaces(self) -> Sequence[PppInterfaceStatus]: ...

    def uauth_status(self) -> UauthStatus: ...

    def pool_status(self, *, with_addresses: bool = False) -> Sequence[IpLocalPoolStatus]: ...


def _source(context: CommandContext) -> PppStatusSource:
    gateway = context.gateway
    if not all(hasattr(gateway, n) for n in ("ppp_interfaces", "uauth_status", "pool_status")):
        raise CliError("ERROR: no gateway")
    return gateway  # type: ignore[return-value]


def register(table: CommandTable) -> None:
    def show_pppinterface(ctx: CommandContext, args: Sequence[str]) -> str:
        interfaces = list(_source(ctx).ppp_interfaces())
        if args:
            if len(args) != 2 or args[0].lower() != "id" or not args[1].isdigit():
                raise CliError("Usage: show vpdn pppinterface [id <intf_id>]")
            wanted = int(args[1])
            interfaces = [i for i in interfaces if i.interface_id == wanted]
            if not interfaces:
                return f"PPP virtual interface id = {wanted} does not exist"
        return render_pppinterface(interfaces)

    def show_uauth(ctx: CommandContext, args: Sequence[str]) -> str:
        status = _source(ctx).uauth_status()
        if args:
            status = UauthStatus(
                status.authenticated_current,
                status.authenticated_most,
                status.in_progress_current,
                status.in_progress_most,
                tuple(e for e in status.entries if e.username == args[0]),
            )
        return render_uauth(status)

    def show_ip_local_pool(ctx: CommandContext, args: Sequence[str]) -> str:
        pools = list(_source(ctx).pool_status(with_addresses=bool(args)))
        if args:
            pools = [p for p in pools if p.name == args[0]]
            if not pools:
                raise CliError(f"ERROR: ip local pool {args[0]} does not exist")
        return render_ip_local_pool(pools, detail=bool(args))

    table.register(
        "show vpdn pppinterface",
        show_pppinterface,
        "Show the PPP virtual interfaces",
        max_args=2,
        usage="[id <intf_id>]",
    )
    table.register("show uauth", show_uauth, "Show authenticated users", max_args=1)
    table.register(
        "show ip local pool",
        show_ip_local_pool,
        "Show the address pools",
        max_args=1,
        usage="[<pool_name>]",
    )
