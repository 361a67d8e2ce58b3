"""``show aaa-server [GROUP]``, the detail lines of ``show uauth`` and the ``debug radius``
wording (RFC 2865 §4 packet names, §5 attribute names).

PIX 6.3 prints only the ``aaa-server`` configuration; the per-server block follows the later
PIX/ASA 7 ``show aaa-server`` layout (Server Group, Server Protocol, Server Address, counters).
The ``debug radius`` wording lives in :mod:`pixgw.aaa.trace` (the RADIUS client uses it
without importing the CLI) and is re-exported here. Pure renderers of :mod:`pixgw.status`
snapshots: a shared key, a password, an MPPE key or an MS-CHAP response never appears.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pixgw.aaa.trace import HIDDEN_ATTRIBUTES, radius_debug_text
from pixgw.cli.commands import CliError, CommandContext, CommandTable
from pixgw.status import AaaServerStatus, AaaStatusSnapshot, UauthDetail

__all__ = [
    "HIDDEN_ATTRIBUTES",
    "AaaStatusSource",
    "radius_debug_text",
    "register",
    "render_aaa_server",
    "render_uauth_details",
]

def _server_block(s: AaaServerStatus) -> list[str]:
    address = str(s.address) if s.address is not None else "-"
    lines = [
        f"Server Group:    {s.group}",
        f"Server Protocol: {s.protocol}",
        f"Server Address:  {address}",
    ]
    if s.protocol == "radius":
        lines.append(f"Server port:     {s.auth_port}")
        lines.append(f"Accounting port: {s.acct_port}")
    lines += [
        f"Server status:   {s.state}",
        f"Timeout:         {s.timeout} seconds",
        f"Average round trip time                 {s.round_trip_ms}ms",
        f"Number of authentication requests       {s.requests}",
        f"Number of accounting requests           {s.accounting_requests}",
        f"Number of retransmissions               {s.retransmits}",
        f"Number of accepts                       {s.accepts}",
        f"Number of rejects                       {s.rejects}",
        f"Number of challenges                    {s.challenges}",
        f"Number of dropped responses             {s.dropped}",
        f"Number of timeouts                      {s.timeouts}",
    ]
    if s.unsigned:
        lines.append(f"Number of unsigned responses dropped    {s.unsigned}")
    return lines


def render_aaa_server(snapshot: AaaStatusSnapshot, group: str | None = None) -> str:
    """``show aaa-server [GROUP]``: one block per server, then the accounting spool."""
    servers = [s for s in snapshot.servers if group is None or s.group == group]
    blocks = ["\n".join(_server_block(s)) for s in servers]
    if group is None or group.upper() == "LOCAL":
        blocks.append(
            f"Server Group:    LOCAL\nServer Protocol: local\n"
            f"Number of local users                   {snapshot.local_users}"
        )
    if snapshot.accounting_spooled:
        blocks.append(f"Accounting records spooled              {snapshot.accounting_spooled}")
    if snapshot.accounting_parked:
        blocks.append(f"Accounting records parked (unsendable)  {snapshot.accounting_parked}")
    return "\n\n".join(blocks)


def render_uauth_details(details: Sequence[UauthDetail]) -> str:
    """Lines shown under each ``show uauth`` user: who authorized it and with what."""
    lines = []
    for d in details:
        lines.append(f"user '{d.username}' authorized by {d.server}")
        if d.address is not None:
            lines.append(f"   assigned address: {d.address}")
        if d.session_timeout is not None:
            lines.append(f"   session timeout: {d.session_timeout} seconds")
        if d.idle_timeout is not None:
            lines.append(f"   idle timeout: {d.idle_timeout} seconds")
        lines.append(f"   MPPE keys: {'yes' if d.mppe_keys else 'no'}")
        if d.class_count:
            lines.append(f"   Class attributes: {d.class_count}")
    return "\n".join(lines)


class AaaStatusSource(Protocol):
    def aaa_status(self) -> AaaStatusSnapshot: ...


def register(table: CommandTable) -> None:
    def show_aaa_server(ctx: CommandContext, args: Sequence[str]) -> str:
        source = ctx.gateway
        if not hasattr(source, "aaa_status"):
            raise CliError("ERROR: no gateway")
        snapshot: AaaStatusSnapshot = source.aaa_status()
        group = args[0] if args else None
        if group is not None and group.upper() != "LOCAL" and not any(
            s.group == group for s in snapshot.servers
        ):
            raise CliError(f"ERROR: aaa-server group {group} does not exist")
        return render_aaa_server(snapshot, group)

    table.register(
        "show aaa-server",
        show_aaa_server,
        "Show the AAA servers and their counters",
        max_args=1,
        usage="[<group_tag>]",
    )
