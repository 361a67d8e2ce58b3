"""``show crypto isakmp sa``, ``show crypto isakmp policy``, ``show crypto ipsec sa``,
``show crypto map``, ``clear crypto isakmp sa``, ``clear crypto ipsec sa``.

Pure renderers of :mod:`pixgw.status` snapshots (and of the frozen config for policies and maps)
in the PIX 6.3 formats of ``reference/pix63-l2tp-ipsec-reference.txt``, plus :func:`register`,
which puts the commands in a :class:`~pixgw.cli.commands.CommandTable` reading from a
:class:`CryptoStatusSource` (the gateway). The ``debug crypto isakmp|ipsec`` lines and the
602201/602301/602302 syslog texts come from :mod:`pixgw.ike.core` and :mod:`pixgw.ike.policy`.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address
from typing import Any, Protocol

from pixgw.cli.commands import CliError, CommandContext, CommandTable
from pixgw.config.families.access import access_list_line
from pixgw.config.model import AccessListEntry, CryptoMapEntry, PixConfig
from pixgw.status import (
    DataplaneCounters,
    IpsecSaStatus,
    IsakmpPolicyStatus,
    IsakmpSaStatus,
    IsakmpStats,
)

__all__ = [
    "CryptoStatusSource",
    "isakmp_policy_status",
    "register",
    "render_crypto_map",
    "render_ipsec_sa",
    "render_ipsec_stats",
    "render_isakmp_policy",
    "render_isakmp_sa",
    "render_isakmp_stats",
]

_ENCRYPTION = {
    "des": "DES - Data Encryption Standard (56 bit keys).",
    "3des": "Three key triple DES",
    "aes": "AES - Advanced Encryption Standard (128 bit keys).",
    "aes-192": "AES - Advanced Encryption Standard (192 bit keys).",
    "aes-256": "AES - Advanced Encryption Standard (256 bit keys).",
}
_HASH = {"md5": "Message Digest 5", "sha": "Secure Hash Standard",
         "sha256": "Secure Hash Standard 2 (256 bit)", "sha384": "Secure Hash Standard 2 (384 bit)"}
_AUTH = {"pre-share": "Pre-Shared Key", "rsa-sig": "Rivest-Shamir-Adleman Signature"}
_GROUP = {1: "#1 (768 bit)", 2: "#2 (1024 bit)", 5: "#5 (1536 bit)", 14: "#14 (2048 bit)",
          15: "#15 (3072 bit)", 16: "#16 (4096 bit)", 19: "#19 (256 bit elliptic curve)",
          20: "#20 (384 bit elliptic curve)"}


def render_isakmp_sa(sas: Sequence[IsakmpSaStatus]) -> str:
    """``show crypto isakmp sa``: ``dst src state pending created``."""
    lines = [f"{'dst':>11}{'src':>18}{'state':>13}{'pending':>12}{'created':>12}"]
    for sa in sas:
        lines.append(f"{sa.dst!s:>15}{sa.src!s:>17}{sa.state:>11}{sa.pending:>10}"
                     f"{sa.created:>12}")
    return "\n".join(lines)


def render_isakmp_stats(st: IsakmpStats) -> str:
    """``show crypto isakmp stats``, after the ASA's ``Global IKEv1 Statistics``, with what the
    bounds of ``isakmp limit`` hold now and every refusal by its reason."""
    k = st.counters
    dropped = (k.malformed + k.unknown_sa + k.proposals_refused + k.authentication_failed
               + k.refused_capacity + k.refused_per_peer + k.refused_oversized)
    rows: list[tuple[str, object]] = [
        ("Active Tunnels", st.established),
        ("In Packets", k.received),
        ("In Drop Packets", dropped),
        ("Half-open SAs (waiting for MM3)",
         f"{st.half_open} of {st.limit_half_open} ({st.half_open_bytes} bytes)"),
        ("Negotiating SAs (past MM3)", st.negotiating),
        ("Peers negotiating",
         f"{st.sources_negotiating} (at most {st.limit_half_open_per_peer} each)"),
        ("ISAKMP SA limit", st.limit_sa),
        ("IPsec SAs per ISAKMP SA limit", st.limit_child_sa),
        ("Half-open evicted (oldest first)", k.half_open_evicted),
        ("Half-open answered busy", k.half_open_busy),
        ("Half-open expired", k.half_open_expired),
        ("Refused: SA limit", k.refused_capacity),
        ("Refused: per-peer limit", k.refused_per_peer),
        ("Refused: IPsec SAs per ISAKMP SA", k.child_sa_refused),
        ("Refused: oversized first message", k.refused_oversized),
        ("Refused: no acceptable proposal", k.proposals_refused),
        ("Refusals left unanswered", k.refusals_unanswered),
        ("Refused: malformed", k.malformed),
        ("Refused: unknown SA", k.unknown_sa),
        ("Auth Fails", k.authentication_failed),
        ("Delete SPIs over the bound", k.delete_spis_ignored),
        ("Delete SPIs not the sender's", k.delete_spis_not_own),
        ("Retransmissions sent", k.retransmissions_sent),
        ("Retransmissions suppressed", k.retransmissions_suppressed),
        ("Retransmissions answered", k.retransmissions_answered),
        ("Fragments received", k.fragments_received),
        ("Fragments pending reassembly", st.fragments_pending),
        ("Fragments refused (per-peer bound)", st.fragments_refused),
        ("Fragments evicted (oldest first)", st.fragments_evicted),
        ("Fragments expired", st.fragments_expired),
        ("Send errors", ", ".join(f"{name} {n}" for name, n in st.send_errors) or 0),
    ]
    return "\n".join(["Global IKEv1 Statistics", *(f"  {name + ':':<36}{value}"
                                                     for name, value in rows)])


def isakmp_policy_status(config: PixConfig) -> tuple[IsakmpPolicyStatus, ...]:
    """The configured suites in priority order, then the PIX's default suite."""
    suites = [IsakmpPolicyStatus(p.priority, p.encryption, p.hash, p.authentication, p.group,
                                 p.lifetime)
              for p in sorted(config.isakmp.policies, key=lambda p: p.priority)]
    suites.append(IsakmpPolicyStatus(None, "des", "sha", "rsa-sig", 1, 86400))
    return tuple(suites)


def render_isakmp_policy(suites: Sequence[IsakmpPolicyStatus]) -> str:
    """``show crypto isakmp policy``."""
    lines: list[str] = []
    for s in suites:
        lines.append("Default protection suite" if s.priority is None
                     else f"Protection suite of priority {s.priority}")
        encryption = _ENCRYPTION.get(s.encryption, s.encryption)
        lines.append(f"        encryption algorithm:   {encryption}")
        lines.append(f"        hash algorithm:         {_HASH.get(s.hash, s.hash)}")
        lines.append(f"        authentication method:  "
                     f"{_AUTH.get(s.authentication, s.authentication)}")
        lines.append(f"        Diffie-Hellman group:   {_GROUP.get(s.group, f'#{s.group}')}")
        lines.append(f"        lifetime:               {s.lifetime} seconds, no volume limit")
    return "\n".join(lines)


def _ident(ident: tuple[IPv4Address, IPv4Address, int, int]) -> str:
    return f"({ident[0]}/{ident[1]}/{ident[2]}/{ident[3]})"


def _settings(mode: str) -> str:
    return "{" + "".join(f"{part.strip()}, " for part in mode.split(",")) + "}"


def _sa_block(direction: str, spi: int, sa: IpsecSaStatus, *, conn_id: int, kilobytes: int,
              seconds: int) -> list[str]:
    return [
        f"     {direction} esp sas:",
        f"      spi: 0x{spi:x}({spi})",
        f"        transform: {sa.transform},",
        f"        in use settings ={_settings(sa.mode)}",
        f"        slot: 0, conn id: {conn_id}, crypto map: {sa.crypto_map}",
        f"        sa timing: remaining key lifetime (k/sec): ({kilobytes}/{seconds})",
        f"        IV size: {sa.iv_size} bytes",
        f"        replay detection support: {'Y' if sa.replay_detection else 'N'}",
        "",
        f"     {direction} ah sas:",
        "",
        f"     {direction} pcp sas:",
        "",
    ]


def render_ipsec_sa(sas: Sequence[IpsecSaStatus]) -> str:
    """``show crypto ipsec sa``: the reference's whole block per SA pair, grouped by interface
    and crypto map (counters as filled by the dataplane)."""
    lines: list[str] = []
    heading: tuple[str, str, IPv4Address] | None = None
    for sa in sas:
        if heading != (sa.interface, sa.crypto_map, sa.local_address):
            heading = (sa.interface, sa.crypto_map, sa.local_address)
            lines += [f"interface: {sa.interface}",
                      f"    Crypto map tag: {sa.crypto_map}, local addr. {sa.local_address}", ""]
        transport = sa.mode.startswith("Transport")
        c = sa.counters
        flags = "reassembly_needed,transport_parent," if transport else "origin_is_acl,"
        lines += [
            f"   local  ident (addr/mask/prot/port): {_ident(sa.local_ident)}",
            f"   remote ident (addr/mask/prot/port): {_ident(sa.remote_ident)}",
            f"   current_peer: {sa.remote_address}",
            "   dynamic allocated peer ip: 0.0.0.0",
            "",
            f"     PERMIT, flags={{{flags}}}",
            f"    #pkts encaps: {c.encaps}, #pkts encrypt: {c.encrypt}, "
            f"#pkts digest {c.digest}",
            f"    #pkts decaps: {c.decaps}, #pkts decrypt: {c.decrypt}, "
            f"#pkts verify {c.verify}",
            "    #pkts compressed: 0, #pkts decompressed: 0",
            "    #pkts not compressed: 0, #pkts compr. failed: 0, #pkts decompress failed: 0",
            f"    #send errors {c.send_errors}, #recv errors {c.recv_errors}",
            "",
            f"     local crypto endpt.: {sa.local_address}, "
            f"remote crypto endpt.: {sa.remote_address}",
            f"     path mtu {sa.path_mtu}, ipsec overhead {sa.ipsec_overhead}, "
            f"media mtu {sa.media_mtu}",
            f"     current outbound spi: {sa.outbound_spi:x}",
            "",
            *_sa_block("inbound", sa.inbound_spi, sa, conn_id=sa.inbound_conn_id,
                       kilobytes=c.inbound_kilobytes_left, seconds=c.inbound_seconds_left),
            *_sa_block("outbound", sa.outbound_spi, sa, conn_id=sa.outbound_conn_id,
                       kilobytes=c.outbound_kilobytes_left, seconds=c.outbound_seconds_left),
        ]
    return "\n".join(lines).rstrip("\n")


def _acl_line(name: str, e: AccessListEntry) -> str:
    return f"{access_list_line(name, e)} (hitcnt=0)"


def _entry_lines(config: PixConfig, tag: str, entry: CryptoMapEntry, kind: str) -> list[str]:
    lines = [f'{kind} "{tag}" {entry.sequence} ipsec-isakmp']
    if entry.dynamic_map is not None:
        lines.append(f"        Dynamic map template tag: {entry.dynamic_map}")
        return lines
    for peer in entry.peers:
        lines.append(f"        Peer = {peer}")
    if entry.match_address is not None:
        acl = config.access_list(entry.match_address)
        entries = acl.entries if acl else ()
        lines.append(f"        access-list {entry.match_address}; {len(entries)} elements")
        lines.extend(f"        {_acl_line(entry.match_address, e)}" for e in entries)
    lifetime = entry.lifetime or config.crypto.sa_lifetime
    lines.append(f"        Security association lifetime: {lifetime.kilobytes} "
                 f"kilobytes/{lifetime.seconds} seconds")
    lines.append(f"        PFS (Y/N): {'Y' if entry.pfs else 'N'}")
    if entry.pfs:
        lines.append(f"        DH group:  group{entry.pfs}")
    sets = "".join(f" {name}," for name in entry.transform_sets)
    lines.append(f"        Transform sets={{{sets} }}")
    return lines


def render_crypto_map(config: PixConfig) -> str:
    """``show crypto map``: each map with its interfaces, entries and dynamic templates."""
    lines: list[str] = []
    for cmap in config.crypto.maps:
        interfaces = " ".join(cmap.interfaces)
        lines.append(f'Crypto Map: "{cmap.name}" interfaces: {{ {interfaces} }}')
        if cmap.client_authentication:
            lines.append(f"        client authentication {cmap.client_authentication}")
        lines.append("")
        for entry in cmap.entries:
            lines += _entry_lines(config, cmap.name, entry, "Crypto Map")
            lines.append("")
            if entry.dynamic_map is not None:
                dyn = config.crypto.dynamic_map(entry.dynamic_map)
                for d in dyn.entries if dyn else ():
                    lines += _entry_lines(config, entry.dynamic_map, d, "Crypto Map Template")
                    lines.append("")
    return "\n".join(lines).rstrip("\n")


_DATAPLANE_ROWS = (
    ("ESP with an unknown SPI", "esp_unknown_spi"),
    ("ESP malformed", "esp_malformed"),
    ("ESP failed authentication", "esp_auth_failed"),
    ("ESP replayed", "esp_replayed"),
    ("ESP before quick mode 3", "esp_before_quick_mode_3"),
    ("ESP not L2TP", "esp_not_l2tp"),
    ("L2TP without IPsec", "l2tp_without_ipsec"),
    ("NAT-T keepalives", "nat_keepalives"),
    ("L2TP for a gone SA", "send_no_sa"),
    ("IP to no session", "tun_no_session"),
    ("IP from a foreign source", "ip_source_not_client"),
    ("TUN write failures", "tun_write_failed"),
    ("TUN device lost", "tun_lost"),
    ("TUN device opened again", "tun_reopened"),
    ("SA install failures", "sa_install_failed"),
    ("Lifetime check failures", "lifetime_poll_failed"),
)


def render_ipsec_stats(dataplane: str, counters: DataplaneCounters) -> str:
    """``show crypto ipsec stats`` (after the ASA's): what the dataplane dropped or refused,
    by reason, rather than delivered."""
    rows = [(name, getattr(counters, field)) for name, field in _DATAPLANE_ROWS]
    return "\n".join([f"IPsec Global Statistics ({dataplane} dataplane)",
                      *(f"  {name + ':':<36}{value}" for name, value in rows)])


class CryptoStatusSource(Protocol):
    """What the commands read and do (the gateway provides it)."""

    def isakmp_sa_status(self) -> Sequence[IsakmpSaStatus]: ...

    def ipsec_sa_status(self) -> Sequence[IpsecSaStatus]: ...  # with dataplane counters

    def running_config(self) -> PixConfig: ...

    def clear_isakmp_sa(self) -> None: ...

    def clear_ipsec_sa(self) -> None: ...


_NEEDED = ("isakmp_sa_status", "ipsec_sa_status", "running_config", "clear_isakmp_sa",
           "clear_ipsec_sa")


def _source(context: CommandContext) -> CryptoStatusSource:
    gateway = context.gateway
    if not all(hasattr(gateway, n) for n in _NEEDED):
        raise CliError("ERROR: no gateway")
    return gateway  # type: ignore[return-value]


def _ask(context: CommandContext, what: str, missing: str) -> Any:
    """The gateway's answer to *what* (a method of the view); *missing* when it has none."""
    source = getattr(context.gateway, what, None)
    answer = source() if source is not None else None
    if answer is None:
        raise CliError(missing)
    return answer


def register(table: CommandTable) -> None:
    def show_isakmp_sa(ctx: CommandContext, args: Sequence[str]) -> str:
        return render_isakmp_sa(_source(ctx).isakmp_sa_status())

    def show_isakmp_stats(ctx: CommandContext, args: Sequence[str]) -> str:
        return render_isakmp_stats(_ask(ctx, "isakmp_stats", "ERROR: no gateway"))

    def show_isakmp_policy(ctx: CommandContext, args: Sequence[str]) -> str:
        return render_isakmp_policy(isakmp_policy_status(_source(ctx).running_config()))

    def show_ipsec_sa(ctx: CommandContext, args: Sequence[str]) -> str:
        return render_ipsec_sa(_source(ctx).ipsec_sa_status())

    def show_ipsec_stats(ctx: CommandContext, args: Sequence[str]) -> str:
        counters = _ask(ctx, "dataplane_counters", "ERROR: no dataplane")
        return render_ipsec_stats(str(getattr(ctx.gateway, "dataplane_name", "")), counters)

    def show_crypto_map(ctx: CommandContext, args: Sequence[str]) -> str:
        return render_crypto_map(_source(ctx).running_config())

    def clear_isakmp_sa(ctx: CommandContext, args: Sequence[str]) -> str:
        _source(ctx).clear_isakmp_sa()
        return ""

    def clear_ipsec_sa(ctx: CommandContext, args: Sequence[str]) -> str:
        _source(ctx).clear_ipsec_sa()
        return ""

    table.register("show crypto isakmp sa", show_isakmp_sa, "Show the ISAKMP SAs")
    table.register("show crypto isakmp policy", show_isakmp_policy, "Show the ISAKMP policies")
    table.register("show crypto isakmp stats", show_isakmp_stats,
                   "Show IKE counters and what the isakmp limits hold")
    table.register("show crypto ipsec sa", show_ipsec_sa, "Show the IPsec SAs")
    table.register("show crypto ipsec stats", show_ipsec_stats,
                   "Show what the dataplane dropped, by reason")
    table.register("show crypto map", show_crypto_map, "Show the crypto maps")
    table.register("clear crypto isakmp sa", clear_isakmp_sa, "Delete every ISAKMP SA")
    table.register("clear crypto ipsec sa", clear_ipsec_sa, "Delete every IPsec SA")
