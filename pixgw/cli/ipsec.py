"""``show crypto ipsec sa``: a pure renderer of :class:`pixgw.status.IpsecSaStatus` snapshots in the
PIX 6.3 format of ``reference/pix63-l2tp-ipsec-reference.txt`` (the reference flattens the
lines; the breaks and indentation here are the PIX/IOS layout of that command), plus
:func:`register`, which puts the command in a :class:`~pixgw.cli.commands.CommandTable` reading
``ipsec_sa_status()`` from the gateway. Keys never appear: the snapshots carry none.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from pixgw.cli.commands import CliError, CommandContext, CommandTable
from pixgw.status import IpsecSaStatus

__all__ = ["register", "render_crypto_ipsec_sa"]


def _ident(ident: tuple[object, object, int, int]) -> str:
    address, mask, protocol, port = ident
    return f"({address}/{mask}/{protocol}/{port})"


def _sa_block(sa: IpsecSaStatus, spi: int, conn_id: int, kb: int, sec: int) -> list[str]:
    return [
        f"      spi: 0x{spi:x}({spi})",
        f"        transform: {sa.transform},",
        f"        in use settings ={{{sa.mode}, }}",
        f"        slot: 0, conn id: {conn_id}, crypto map: {sa.crypto_map}",
        f"        sa timing: remaining key lifetime (k/sec): ({kb}/{sec})",
        f"        IV size: {sa.iv_size} bytes",
        f"        replay detection support: {'Y' if sa.replay_detection else 'N'}",
    ]


def _render_one(sa: IpsecSaStatus) -> list[str]:
    transport = sa.mode.startswith("Transport")
    flags = "{reassembly_needed,transport_parent,}" if transport else "{origin_is_acl,}"
    lines = [
        f"    Crypto map tag: {sa.crypto_map}, local addr. {sa.local_address}",
        "",
        f"   local  ident (addr/mask/prot/port): {_ident(sa.local_ident)}",
        f"   remote ident (addr/mask/prot/port): {_ident(sa.remote_ident)}",
        f"   current_peer: {sa.remote_address}",
        "   dynamic allocated peer ip: 0.0.0.0",
        "",
        f"   PERMIT, flags={flags}",
        f"    #pkts encaps: {sa.encaps}, #pkts encrypt: {sa.encrypt}, #pkts digest {sa.digest}",
        f"    #pkts decaps: {sa.decaps}, #pkts decrypt: {sa.decrypt}, #pkts verify {sa.verify}",
        "    #pkts compressed: 0, #pkts decompressed: 0",
        "    #pkts not compressed: 0, #pkts compr. failed: 0, #pkts decompress failed: 0",
        f"    #send errors {sa.send_errors}, #recv errors {sa.recv_errors}",
        "",
        f"     local crypto endpt.: {sa.local_address}, "
        f"remote crypto endpt.: {sa.remote_address}",
        f"     path mtu {sa.path_mtu}, ipsec overhead {sa.ipsec_overhead}, "
        f"media mtu {sa.media_mtu}",
        f"     current outbound spi: {sa.outbound_spi:x}",
        "",
        "     inbound esp sas:",
        *_sa_block(
            sa,
            sa.inbound_spi,
            sa.inbound_conn_id,
            sa.inbound_kilobytes_left,
            sa.inbound_seconds_left,
        ),
        "",
        "",
        "     inbound ah sas:",
        "",
        "",
        "     inbound pcp sas:",
        "",
        "",
        "     outbound esp sas:",
        *_sa_block(
            sa,
            sa.outbound_spi,
            sa.outbound_conn_id,
            sa.outbound_kilobytes_left,
            sa.outbound_seconds_left,
        ),
        "",
        "",
        "     outbound ah sas:",
        "",
        "",
        "     outbound pcp sas:",
        "",
        "",
    ]
    return lines


def render_crypto_ipsec_sa(sas: Sequence[IpsecSaStatus]) -> str:
    """``show crypto ipsec sa``: per interface, every SA pair. Empty when there are none."""
    lines: list[str] = []
    ordered = sorted(sas, key=lambda s: (s.interface, s.inbound_conn_id))
    for interface, group in groupby(ordered, key=lambda s: s.interface):
        lines.append("")
        lines.append(f"interface: {interface}")
        for sa in group:
            lines.extend(_render_one(sa))
    return "\n".join(lines).rstrip("\n") + ("\n" if lines else "")


def register(table: CommandTable) -> None:
    def show_ipsec_sa(ctx: CommandContext, args: Sequence[str]) -> str:
        gateway = ctx.gateway
        if not hasattr(gateway, "ipsec_sa_status"):
            raise CliError("ERROR: no gateway")
        sas: Sequence[IpsecSaStatus] = gateway.ipsec_sa_status()
        return render_crypto_ipsec_sa(sas)

    table.register("show crypto ipsec sa", show_ipsec_sa, "Show the IPsec security associations")
