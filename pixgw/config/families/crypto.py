"""``crypto ipsec`` (transform sets, SA lifetimes), ``crypto dynamic-map`` and ``crypto map``:
what the quick mode offers are matched against."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, cast

from pixgw.config.model import (
    CryptoMapEntry,
    EspAuthentication,
    EspEncryption,
    PixConfig,
    SaLifetime,
    TransformSet,
)
from pixgw.config.syntax import DH_GROUPS, Args, Handler, MapState, Sections, State, fail, removed

ESP_ENCRYPTION = ("esp-des", "esp-3des", "esp-aes", "esp-aes-192", "esp-aes-256", "esp-null")


ESP_AUTHENTICATION = ("esp-md5-hmac", "esp-sha-hmac", "esp-sha256-hmac")


def _lifetime(a: Args, old: SaLifetime) -> SaLifetime:
    unit = a.keyword("seconds", "kilobytes")
    if unit == "seconds":
        value = a.integer("lifetime", 120, 86400)
        a.end()
        return replace(old, seconds=value)
    value = a.integer("lifetime", 2560, 2147483647)
    a.end()
    return replace(old, kilobytes=value)


def _crypto(st: State, a: Args, negated: bool) -> None:
    what = a.keyword("ipsec", "dynamic-map", "map", "ca", "key")
    if what in ("ca", "key"):
        st.ignore()
        return
    if what == "ipsec":
        _crypto_ipsec(st, a, negated)
        return
    name = a.name(f"{what} name")
    st.declare(what, name)
    if what == "map" and a.peek_keyword() in ("client", "interface"):
        _crypto_map_options(st, a, negated, name)
        return
    sequence = a.integer("sequence number", 1, 65535)
    table: dict[int, CryptoMapEntry]
    if what == "dynamic-map":
        table = st.dynamic_maps.setdefault(name, {})
    else:
        table = st.maps.setdefault(name, MapState()).entries
    entry = table.get(sequence, CryptoMapEntry(sequence))
    if negated and a.peek() is None:
        table.pop(sequence, None)
        return
    command = (
        a.keyword("match", "set", "ipsec-isakmp") if what == "map" else a.keyword("match", "set")
    )
    if command == "ipsec-isakmp":
        dynamic = None
        if a.optional("dynamic"):
            dynamic = a.name("dynamic-map name")
            st.refer("dynamic-map", dynamic)
        a.end()
        entry = replace(entry, ipsec_isakmp=True, dynamic_map=dynamic)
    elif command == "match":
        a.keyword("address")
        acl = a.name("access-list name")
        a.end()
        if not negated:
            st.refer("access-list", acl)
        entry = replace(entry, match_address=None if negated else acl)
    else:
        setting = a.keyword("transform-set", "pfs", "peer", "security-association")
        if setting == "transform-set":
            names: list[str] = []
            while a.peek() is not None:
                names.append(a.name("transform-set name"))
            if not names and not negated:
                fail("expected transform-set name")
            if len(names) > 6:
                fail("at most 6 transform-sets")
            if not negated:
                for transform in names:
                    st.refer("transform-set", transform)
            entry = replace(entry, transform_sets=() if negated else tuple(dict.fromkeys(names)))
        elif setting == "pfs":
            group = 1
            if a.peek() is not None:
                word = a.word("group").lower()
                match = re.fullmatch(r"group(\d+)", word)
                if match is None or int(match.group(1)) not in DH_GROUPS:
                    fail(f"bad pfs group '{word}'")
                group = int(match.group(1))
            a.end()
            entry = replace(entry, pfs=None if negated else group)
        elif setting == "peer":
            peer = a.address("peer")
            a.end()
            peers = tuple(p for p in entry.peers if p != peer)
            entry = replace(entry, peers=peers if negated else (*peers, peer))
        else:
            a.keyword("lifetime")
            lifetime = _lifetime(a, entry.lifetime or SaLifetime())
            entry = replace(entry, lifetime=None if negated else lifetime)
    table[sequence] = entry


def _crypto_ipsec(st: State, a: Args, negated: bool) -> None:
    what = a.keyword("transform-set", "security-association")
    if what == "security-association":
        a.keyword("lifetime")
        old = st.config.crypto.sa_lifetime
        unit = a.peek_keyword()
        lifetime = _lifetime(a, old)
        if negated:  # back to the default for the unit named
            default = SaLifetime()
            lifetime = (
                replace(old, seconds=default.seconds)
                if unit == "seconds"
                else replace(old, kilobytes=default.kilobytes)
            )
        st.set(crypto=replace(st.config.crypto, sa_lifetime=lifetime))
        return
    name = a.name("transform-set name")
    st.declare("transform-set", name)
    if removed(a, st.transform_sets, name, negated):
        return
    if a.peek_keyword() == "mode":
        a.position += 1
        mode = a.keyword("transport", "tunnel")
        a.end()
        old_set = st.transform_sets.get(name)
        if old_set is None:
            if ("transform-set", name) in st.failed:
                return
            fail(f"no such transform-set {name}")
        st.transform_sets[name] = replace(old_set, mode=cast(Any, mode))
        return
    encryption: str | None = None
    authentication: str | None = None
    while a.peek() is not None:
        word = a.word("transform").lower()
        if word in ESP_ENCRYPTION and encryption is None:
            encryption = word
        elif word in ESP_AUTHENTICATION and authentication is None:
            authentication = word
        else:
            fail(f"bad transform '{word}'")
    if encryption is None:
        fail(f"expected an encryption transform ({'|'.join(ESP_ENCRYPTION)})")
    old_mode = st.transform_sets[name].mode if name in st.transform_sets else "tunnel"
    st.transform_sets[name] = TransformSet(
        name,
        cast(EspEncryption, encryption),
        cast("EspAuthentication | None", authentication),
        old_mode,
    )


def _crypto_map_options(st: State, a: Args, negated: bool, name: str) -> None:
    state = st.maps.setdefault(name, MapState())
    if a.keyword("client", "interface") == "interface":
        interface = a.word("interface name")
        a.end()
        if negated:
            if interface in state.interfaces:
                state.interfaces.remove(interface)
            return
        st.refer("interface", interface)
        for other_name, other in st.maps.items():
            if other_name != name and interface in other.interfaces:
                fail(f"interface {interface} already has crypto map {other_name}")
        if interface not in state.interfaces:
            state.interfaces.append(interface)
        return
    if a.keyword("authentication", "configuration", "token") != "authentication":
        st.ignore()
        a.position = len(a.words)
        return
    group = a.name("aaa-server group")
    a.optional("local")
    a.end()
    if negated:
        state.client_authentication = None
        return
    st.refer("aaa-server group", group)
    state.client_authentication = group


COMMANDS: dict[str, Handler] = {
    "crypto": _crypto,
}


def _lifetime_lines(prefix: str, lifetime: SaLifetime, always_seconds: bool) -> list[str]:
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
        lines.extend(_lifetime_lines(f"{head} set security-association", entry.lifetime, True))
    return lines


def render(c: PixConfig, s: Sections) -> None:
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
        _lifetime_lines("crypto ipsec security-association", crypto.sa_lifetime, False)
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
