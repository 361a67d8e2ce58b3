"""Write a :class:`~pixgw.config.model.PixConfig` as a PIX 6.3 running-config (``write terminal``).

Follows the order and spelling of a PIX 6.3 running-config (Cisco PIX Firewall Command Reference,
Version 6.3; the reference configuration): one command a line, sections in
:data:`pixgw.config.parser.SECTIONS` order, lines kept verbatim from the source
(:attr:`PixConfig.unsupported`) put back in the section their keyword belongs to. Defaults are
written where a PIX writes them (``mtu``, ``route`` metric, ``timeout uauth``, every ``isakmp
policy`` attribute, ``telnet timeout``, ``ssh timeout``, ``l2tp tunnel hello``, ``terminal width``)
and left out elsewhere. ``mask_secrets=True`` writes keys and passwords as ``********``. The
trailer is ``Cryptochecksum:`` (MD5 of the lines before it) and
``: end``. ``parse(render(c)).config == c``.
"""

from __future__ import annotations

import hashlib
from ipaddress import IPv4Address

from pixgw.config.model import (
    DEFAULT_LIMIT_HALF_OPEN,
    DEFAULT_LIMIT_HALF_OPEN_PER_PEER,
    DEFAULT_LIMIT_SA,
    HOST_MASK,
    AaaPorts,
    AccessListEntry,
    AddressMatch,
    CryptoMapEntry,
    Logging,
    PixConfig,
    PortMatch,
    SaLifetime,
)
from pixgw.config.parser import SECTIONS, redact_secrets, section_of

_PROTOCOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah"}
_ANY = IPv4Address(0)


def _section(name: str) -> int:
    return next(i for i, keys in enumerate(SECTIONS) if name in keys)


def _address_match(match: AddressMatch) -> str:
    if match.address == _ANY and match.netmask == _ANY:
        return "any"
    if match.netmask == HOST_MASK:
        return f"host {match.address}"
    return f"{match.address} {match.netmask}"


def _port_match(match: PortMatch | None) -> str:
    if match is None:
        return ""
    if match.operator == "range":
        return f" range {match.low} {match.high}"
    return f" {match.operator} {match.low}"


def _access_list_entry(name: str, entry: AccessListEntry) -> str:
    if entry.protocol is None:
        protocol = "ip"
    else:
        protocol = _PROTOCOL_NAMES.get(entry.protocol, str(entry.protocol))
    return (
        f"access-list {name} {entry.action} {protocol} {_address_match(entry.source)}"
        f"{_port_match(entry.source_port)} {_address_match(entry.destination)}"
        f"{_port_match(entry.destination_port)}"
    )


def _duration(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _logging(log: Logging) -> list[str]:
    lines = []
    if log.on:
        lines.append("logging on")
    if log.timestamp:
        lines.append("logging timestamp")
    for destination in ("console", "monitor", "buffered", "trap"):
        level = getattr(log, destination)
        if level is not None:
            lines.append(f"logging {destination} {level}")
    if log.facility != Logging().facility:
        lines.append(f"logging facility {log.facility}")
    if log.buffer_size != Logging().buffer_size:
        lines.append(f"logging queue {log.buffer_size}")
    for host in log.hosts:
        transport = (
            "" if (host.protocol, host.port) == ("udp", 514) else (f" {host.protocol}/{host.port}")
        )
        lines.append(f"logging host {host.interface} {host.address}{transport}")
    return lines


def _lifetime(prefix: str, lifetime: SaLifetime, always_seconds: bool) -> list[str]:
    lines = []
    if always_seconds or lifetime.seconds != SaLifetime().seconds:
        lines.append(f"{prefix} lifetime seconds {lifetime.seconds}")
    if lifetime.kilobytes != SaLifetime().kilobytes:
        lines.append(f"{prefix} lifetime kilobytes {lifetime.kilobytes}")
    return lines


def _map_entry(prefix: str, entry: CryptoMapEntry) -> list[str]:
    head = f"{prefix} {entry.sequence}"
    lines = []
    if entry.ipsec_isakmp:
        dynamic = f" dynamic {entry.dynamic_map}" if entry.dynamic_map is not None else ""
        lines.append(f"{head} ipsec-isakmp{dynamic}")
    if entry.match_address is not None:
        lines.append(f"{head} match address {entry.match_address}")
    if entry.pfs is not None:
        lines.append(f"{head} set pfs group{entry.pfs}")
    lines.extend(f"{head} set peer {peer}" for peer in entry.peers)
    if entry.transform_sets:
        lines.append(f"{head} set transform-set {' '.join(entry.transform_sets)}")
    if entry.lifetime is not None:
        lines.extend(_lifetime(f"{head} set security-association", entry.lifetime, True))
    return lines


def _sections(c: PixConfig) -> dict[str, list[str]]:
    s: dict[str, list[str]] = {keys[0]: [] for keys in SECTIONS if keys}
    s["pix"].append(f"PIX Version {c.version}")
    for interface in c.interfaces:
        s["nameif"].append(
            f"nameif {interface.hardware_id} {interface.name} security{interface.security_level}"
        )
        if interface.speed is not None:
            shutdown = " shutdown" if interface.shutdown else ""
            s["interface"].append(f"interface {interface.hardware_id} {interface.speed}{shutdown}")
        s["mtu"].append(f"mtu {interface.name} {interface.mtu}")
        if interface.dhcp:
            setroute = " setroute" if interface.dhcp_setroute else ""
            s["ip address"].append(f"ip address {interface.name} dhcp{setroute}")
        elif interface.address is not None and interface.netmask is not None:
            s["ip address"].append(
                f"ip address {interface.name} {interface.address} {interface.netmask}"
            )
    if c.enable_password is not None:
        encrypted = " encrypted" if c.enable_password_encrypted else ""
        s["enable"].append(f"enable password {c.enable_password}{encrypted}")
    if c.passwd is not None:
        s["passwd"].append(f"passwd {c.passwd}{' encrypted' if c.passwd_encrypted else ''}")
    s["hostname"].append(f"hostname {c.hostname}")
    if c.domain_name is not None:
        s["domain-name"].append(f"domain-name {c.domain_name}")
    if c.names:
        s["names"].append("names")
    s["names"].extend(f"name {address} {name}" for address, name in c.address_names)
    for acl in c.access_lists:
        s["access-list"].extend(_access_list_entry(acl.name, e) for e in acl.entries)
    s["pager"].append("no pager" if c.pager is None else f"pager lines {c.pager}")
    s["logging"].extend(_logging(c.logging))
    for pool in c.pools:
        mask = f" mask {pool.mask}" if pool.mask is not None else ""
        s["ip local"].append(f"ip local pool {pool.name} {pool.first}-{pool.last}{mask}")
    for interface_name, acl_name in c.nat_zero_acl:
        s["global"].append(f"nat ({interface_name}) 0 access-list {acl_name}")
    for route in c.routes:
        s["route"].append(
            f"route {route.interface} {route.destination} {route.netmask} {route.gateway}"
            f" {route.metric}"
        )
    s["timeout"].append(
        f"timeout uauth {_duration(c.uauth_timeout.seconds)} {c.uauth_timeout.kind}"
    )
    aaa = s["aaa-server"]
    for group in c.aaa_servers:
        aaa.append(f"aaa-server {group.name} protocol {group.protocol}")
        if group.max_failed_attempts != 3:
            aaa.append(f"aaa-server {group.name} max-failed-attempts {group.max_failed_attempts}")
        if group.deadtime != 10:
            aaa.append(f"aaa-server {group.name} deadtime {group.deadtime}")
        for host in group.hosts:
            key = f" {host.key}" if host.key is not None else ""
            aaa.append(
                f"aaa-server {group.name} ({host.interface}) host {host.address}{key}"
                f" timeout {host.timeout}"
            )
        aaa.extend(f"aaa-server {group.name} {k} {v}" for k, v in group.options)
    if c.aaa_ports.radius_authport != AaaPorts().radius_authport:
        aaa.append(f"aaa-server radius-authport {c.aaa_ports.radius_authport}")
    if c.aaa_ports.radius_acctport != AaaPorts().radius_acctport:
        aaa.append(f"aaa-server radius-acctport {c.aaa_ports.radius_acctport}")
    if c.sysopt_permit_l2tp:
        s["sysopt"].append("sysopt connection permit-l2tp")
    crypto = c.crypto
    for transform in crypto.transform_sets:
        s["crypto ipsec"].append(
            f"crypto ipsec transform-set {transform.name} {' '.join(transform.transforms)}"
        )
        if transform.mode != "tunnel":
            s["crypto ipsec"].append(
                f"crypto ipsec transform-set {transform.name} mode {transform.mode}"
            )
    s["crypto ipsec"].extend(
        _lifetime("crypto ipsec security-association", crypto.sa_lifetime, False)
    )
    for dynamic in crypto.dynamic_maps:
        for entry in dynamic.entries:
            s["crypto dynamic-map"].extend(_map_entry(f"crypto dynamic-map {dynamic.name}", entry))
    for crypto_map in crypto.maps:
        for entry in crypto_map.entries:
            s["crypto map"].extend(_map_entry(f"crypto map {crypto_map.name}", entry))
        if crypto_map.client_authentication is not None:
            s["crypto map"].append(
                f"crypto map {crypto_map.name} client authentication"
                f" {crypto_map.client_authentication}"
            )
        s["crypto map"].extend(
            f"crypto map {crypto_map.name} interface {i}" for i in crypto_map.interfaces
        )
    isakmp = c.isakmp
    lines = s["isakmp"]
    lines.extend(f"isakmp enable {i}" for i in isakmp.enabled_interfaces)
    for psk in isakmp.keys:
        netmask = f" netmask {psk.netmask}" if psk.netmask != HOST_MASK else ""
        flags = (" no-xauth" if psk.no_xauth else "") + (
            " no-config-mode" if psk.no_config_mode else ""
        )
        lines.append(f"isakmp key {psk.key} address {psk.address}{netmask}{flags}")
    if isakmp.identity != "address":
        lines.append(f"isakmp identity {isakmp.identity}")
    if isakmp.keepalive is not None:
        lines.append(f"isakmp keepalive {isakmp.keepalive[0]} {isakmp.keepalive[1]}")
    if isakmp.nat_traversal is not None:
        lines.append(f"isakmp nat-traversal {isakmp.nat_traversal}")
    for keyword, value, default in (
        ("half-open", isakmp.limit_half_open, DEFAULT_LIMIT_HALF_OPEN),
        ("half-open-per-peer", isakmp.limit_half_open_per_peer, DEFAULT_LIMIT_HALF_OPEN_PER_PEER),
        ("sa", isakmp.limit_sa, DEFAULT_LIMIT_SA),
    ):
        if value != default:
            lines.append(f"isakmp limit {keyword} {value}")
    for policy in isakmp.policies:
        head = f"isakmp policy {policy.priority}"
        lines.extend(
            (
                f"{head} authentication {policy.authentication}",
                f"{head} encryption {policy.encryption}",
                f"{head} hash {policy.hash}",
                f"{head} group {policy.group}",
                f"{head} lifetime {policy.lifetime}",
            )
        )
    ca = c.ca
    if ca.rsa_key_modulus is not None:
        s["ca"].append(f"ca generate rsa key {ca.rsa_key_modulus}")
    for identity in ca.identities:
        path = "" if identity.path == "/cgi-bin/pkiclient.exe" else f":{identity.path}"
        ldap = f" {identity.ldap_address}" if identity.ldap_address is not None else ""
        s["ca"].append(f"ca identity {identity.name} {identity.address}{path}{ldap}")
    for configure in ca.configures:
        crl = " crloptional" if configure.crl_optional else ""
        s["ca"].append(
            f"ca configure {configure.name} {configure.mode} {configure.retry_period}"
            f" {configure.retry_count}{crl}"
        )
    if ca.store is not None:
        s["ca"].append(f"ca store {ca.store}")
    for access in c.telnet:
        s["telnet"].append(f"telnet {access.address} {access.netmask} {access.interface}")
    s["telnet"].append(f"telnet timeout {c.telnet_timeout}")
    for access in c.ssh:
        s["ssh"].append(f"ssh {access.address} {access.netmask} {access.interface}")
    s["ssh"].append(f"ssh timeout {c.ssh_timeout}")
    vpdn = s["vpdn"]
    for g in c.vpdn.groups:
        head = f"vpdn group {g.name}"
        vpdn.extend(f"{head} accept dialin {p}" for p in g.accept_dialin)
        vpdn.extend(f"{head} ppp authentication {p}" for p in g.ppp_authentication)
        if g.ppp_encryption_mppe is not None:
            vpdn.append(f"{head} ppp encryption mppe {g.ppp_encryption_mppe}")
        if g.address_pool is not None:
            vpdn.append(f"{head} client configuration address local {g.address_pool}")
        if g.dns:
            vpdn.append(f"{head} client configuration dns {' '.join(map(str, g.dns))}")
        if g.wins:
            vpdn.append(f"{head} client configuration wins {' '.join(map(str, g.wins))}")
        if g.authentication is not None:
            vpdn.append(f"{head} client authentication {g.authentication}")
        if g.authentication_aaa is not None:
            vpdn.append(f"{head} client authentication aaa {g.authentication_aaa}")
        if g.accounting is not None:
            vpdn.append(f"{head} client accounting {g.accounting}")
        vpdn.append(f"{head} l2tp tunnel hello {g.l2tp_tunnel_hello}")
    for u in c.vpdn.usernames:
        store = " store-local" if u.store_local else ""
        vpdn.append(f"vpdn username {u.name} password {u.password}{store}")
    vpdn.extend(f"vpdn enable {i}" for i in c.vpdn.enabled_interfaces)
    for user in c.usernames:
        kind = " encrypted" if user.encrypted else " nt-encrypted" if user.nt_encrypted else ""
        s["username"].append(
            f"username {user.name} password {user.password}{kind} privilege {user.privilege}"
        )
    s["terminal"].append(f"terminal width {c.terminal_width}")
    return s


def render(config: PixConfig, *, mask_secrets: bool = False) -> str:
    """The running-config of *config*, one command a line, ending with ``: end``.

    With *mask_secrets*, keys and passwords are written as ``********`` (for display; such a
    text no longer parses back to *config*)."""
    sections = _sections(config)
    kept: dict[int, list[str]] = {}
    for line in config.unsupported:
        kept.setdefault(section_of(line), []).append(line)
    timeout = _section("timeout")
    lines: list[str] = []
    for index, keys in enumerate(SECTIONS):
        ours = sections.get(keys[0], []) if keys else []
        theirs = kept.get(index, [])
        # a PIX writes "timeout xlate" and "timeout conn" before "timeout uauth"
        lines.extend(theirs + ours if index == timeout else ours + theirs)
    if mask_secrets:
        lines = [redact_secrets(line) for line in lines]
    body = "".join(f"{line}\n" for line in lines)
    checksum = hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"{body}Cryptochecksum:{checksum}\n: end\n"
