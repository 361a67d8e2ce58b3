"""``isakmp``: enabled interfaces, pre-shared keys, identity, keepalive, NAT traversal, the
limits on negotiations, and the ``isakmp policy`` entries."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from pixgw.config.model import (
    DEFAULT_LIMIT_CHILD_SA,
    DEFAULT_LIMIT_HALF_OPEN,
    DEFAULT_LIMIT_HALF_OPEN_PER_PEER,
    DEFAULT_LIMIT_SA,
    HOST_MASK,
    IsakmpKey,
    IsakmpPolicy,
    PixConfig,
)
from pixgw.config.syntax import DH_GROUPS, Args, Handler, Sections, State, fail

_ISAKMP_ENCRYPTION = ("des", "3des", "aes", "aes-192", "aes-256")


_ISAKMP_HASH = ("md5", "sha", "sha256", "sha384")


_ISAKMP_LIMITS: dict[str, tuple[str, int, int]] = {
    "half-open": ("limit_half_open", DEFAULT_LIMIT_HALF_OPEN, 100000),
    "half-open-per-peer": ("limit_half_open_per_peer", DEFAULT_LIMIT_HALF_OPEN_PER_PEER, 1000),
    "sa": ("limit_sa", DEFAULT_LIMIT_SA, 100000),
    "child-sa": ("limit_child_sa", DEFAULT_LIMIT_CHILD_SA, 64),
}


def _isakmp(st: State, a: Args, negated: bool) -> None:
    what = a.keyword(
        "enable", "identity", "nat-traversal", "keepalive", "key", "policy", "client", "peer",
        "limit",
    )
    isakmp = st.config.isakmp
    if what in ("client", "peer"):
        st.ignore()
        return
    if what == "enable":
        interface = a.word("interface name")
        a.end()
        if negated:
            if interface in st.isakmp_enabled:
                st.isakmp_enabled.remove(interface)
            return
        st.refer("interface", interface)
        if interface not in st.isakmp_enabled:
            st.isakmp_enabled.append(interface)
    elif what == "identity":
        identity = a.keyword("address", "hostname", "key-id")
        if identity == "key-id":
            a.word("key-id")
        a.end()
        st.set(isakmp=replace(isakmp, identity=cast(Any, "address" if negated else identity)))
    elif what == "nat-traversal":
        seconds = a.integer("nat-traversal keepalive", 10, 3600) if a.peek() else 20
        a.end()
        st.set(isakmp=replace(isakmp, nat_traversal=None if negated else seconds))
    elif what == "limit":
        which = a.keyword(*_ISAKMP_LIMITS)
        field_name, default, top = _ISAKMP_LIMITS[which]
        value = default if negated and a.peek() is None else a.integer(f"limit {which}", 1, top)
        a.end()
        limits: dict[str, Any] = {field_name: default if negated else value}
        st.set(isakmp=replace(isakmp, **limits))
    elif what == "keepalive":
        seconds = a.integer("keepalive", 10, 3600)
        retry = a.integer("keepalive retry", 2, 10) if a.peek() is not None else 2
        a.end()
        st.set(isakmp=replace(isakmp, keepalive=None if negated else (seconds, retry)))
    elif what == "key":
        key = a.word("key")
        a.keyword("address")
        address = a.address()
        mask = HOST_MASK
        if a.optional("netmask"):
            mask = a.netmask()
        no_xauth = no_config_mode = False
        while a.peek() is not None:
            flag = a.keyword("no-xauth", "no-config-mode")
            if flag == "no-xauth":
                no_xauth = True
            else:
                no_config_mode = True
        if negated:
            st.keys.pop((address, mask), None)
            return
        st.keys[(address, mask)] = IsakmpKey(key, address, mask, no_xauth, no_config_mode)
    else:
        _isakmp_policy(st, a, negated)


def _isakmp_policy(st: State, a: Args, negated: bool) -> None:
    priority = a.integer("priority", 1, 65534)
    if negated and a.peek() is None:
        st.policies.pop(priority, None)
        return
    policy = st.policies.get(priority, IsakmpPolicy(priority))
    default = IsakmpPolicy(priority)
    setting = a.keyword("authentication", "encryption", "hash", "group", "lifetime")
    value: Any
    if setting == "authentication":
        value = a.keyword("pre-share", "rsa-sig")
    elif setting == "encryption":
        value = a.keyword(*_ISAKMP_ENCRYPTION)
    elif setting == "hash":
        value = a.keyword(*_ISAKMP_HASH)
    elif setting == "group":
        word = a.word("group")
        if not word.isdigit() or int(word) not in DH_GROUPS:
            fail(f"bad group {word} ({'|'.join(str(g) for g in DH_GROUPS)})")
        value = int(word)
    else:
        value = a.integer("lifetime", 60, 86400)
    a.end()
    if negated:
        value = getattr(default, setting)
    st.policies[priority] = replace(policy, **{setting: value})


COMMANDS: dict[str, Handler] = {
    "isakmp": _isakmp,
}


def render(c: PixConfig, s: Sections) -> None:
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
        ("child-sa", isakmp.limit_child_sa, DEFAULT_LIMIT_CHILD_SA),
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
