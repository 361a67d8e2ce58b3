"""``vpdn``: the L2TP dial-in groups (PPP authentication, addresses, DNS/WINS, AAA), the vpdn
users and the interfaces vpdn is enabled on."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from pixgw.config.model import PixConfig, VpdnGroup, VpdnUsername
from pixgw.config.syntax import Args, Handler, Sections, State, removed


def _vpdn(st: State, a: Args, negated: bool) -> None:
    what = a.keyword("group", "username", "enable")
    if what == "enable":
        interface = a.word("interface name")
        a.end()
        if negated:
            if interface in st.vpdn_enabled:
                st.vpdn_enabled.remove(interface)
            return
        st.refer("interface", interface)
        if interface not in st.vpdn_enabled:
            st.vpdn_enabled.append(interface)
        return
    if what == "username":
        name = a.name("username")
        if removed(a, st.vpdn_usernames, name, negated):
            return
        a.keyword("password")
        password = a.word("password")
        store_local = a.optional("store-local")
        a.end()
        st.vpdn_usernames[name] = VpdnUsername(name, password, store_local)
        return
    name = a.name("vpdn group name")
    group = st.vpdn_groups.get(name, VpdnGroup(name))
    if negated and a.peek() is None:
        st.vpdn_groups.pop(name, None)
        return
    setting = a.keyword(
        "accept", "ppp", "client", "l2tp", "pptp", "vpn-idle-timeout", "vpn-session-timeout"
    )
    if setting == "accept":
        a.keyword("dialin")
        protocol = a.keyword("l2tp", "pptp")
        a.end()
        kept = tuple(p for p in group.accept_dialin if p != protocol)
        group = replace(group, accept_dialin=kept if negated else (*kept, cast(Any, protocol)))
    elif setting == "ppp":
        kind = a.keyword("authentication", "encryption")
        if kind == "authentication":
            method = a.keyword("pap", "chap", "mschap", "mschapv2")
            a.end()
            kept_methods = tuple(m for m in group.ppp_authentication if m != method)
            methods = kept_methods if negated else (*kept_methods, cast(Any, method))
            group = replace(group, ppp_authentication=methods)
        else:
            a.keyword("mppe")
            strength = a.keyword("40", "128", "auto")
            if a.optional("required"):
                strength += " required"
            a.end()
            group = replace(group, ppp_encryption_mppe=None if negated else strength)
    elif setting == "client":
        kind = a.keyword("configuration", "authentication", "accounting")
        if kind == "configuration":
            item = a.keyword("address", "dns", "wins")
            if item == "address":
                a.keyword("local")
                pool = a.name("pool name")
                a.end()
                if not negated:
                    st.refer("pool", pool)
                group = replace(group, address_pool=None if negated else pool)
            else:
                servers = [a.address(f"{item} server")]
                if a.peek() is not None:
                    servers.append(a.address(f"{item} server"))
                a.end()
                servers_change: dict[str, Any] = {item: () if negated else tuple(servers)}
                group = replace(group, **servers_change)
        elif kind == "authentication":
            source = a.keyword("local", "aaa")
            if source == "local":
                a.end()
                group = replace(group, authentication=None if negated else "local")
            else:
                aaa_group = a.name("aaa-server group")
                a.end()
                if not negated:
                    st.refer("aaa-server group", aaa_group)
                group = replace(group, authentication_aaa=None if negated else aaa_group)
        else:
            aaa_group = a.name("aaa-server group")
            a.end()
            if not negated:
                st.refer("aaa-server group", aaa_group)
            group = replace(group, accounting=None if negated else aaa_group)
    elif setting == "l2tp":
        what = a.keyword("tunnel", "session")
        item = a.keyword("hello", "limit") if what == "tunnel" else a.keyword("limit")
        if item == "hello":
            hello = a.integer("hello interval", 10, 300)
            a.end()
            group = replace(group, l2tp_tunnel_hello=60 if negated else hello)
        else:
            limit = a.integer(f"{what} limit", 1, 64)
            a.end()
            if what == "tunnel":
                group = replace(group, l2tp_tunnel_limit=4 if negated else limit)
            else:
                group = replace(group, l2tp_session_limit=1 if negated else limit)
    elif setting in ("vpn-idle-timeout", "vpn-session-timeout"):
        minutes = None if a.optional("none") else a.integer(f"{setting} minutes", 1, 35791394)
        a.end()
        value = None if negated else minutes
        if setting == "vpn-idle-timeout":
            group = replace(group, vpn_idle_timeout=value)
        else:
            group = replace(group, vpn_session_timeout=value)
    else:
        st.ignore()
        return
    st.vpdn_groups[name] = group


COMMANDS: dict[str, Handler] = {
    "vpdn": _vpdn,
}


def render(c: PixConfig, s: Sections) -> None:
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
        if g.l2tp_tunnel_limit != VpdnGroup.l2tp_tunnel_limit:
            vpdn.append(f"{head} l2tp tunnel limit {g.l2tp_tunnel_limit}")
        if g.l2tp_session_limit != VpdnGroup.l2tp_session_limit:
            vpdn.append(f"{head} l2tp session limit {g.l2tp_session_limit}")
        if g.vpn_idle_timeout is not None:
            vpdn.append(f"{head} vpn-idle-timeout {g.vpn_idle_timeout}")
        if g.vpn_session_timeout is not None:
            vpdn.append(f"{head} vpn-session-timeout {g.vpn_session_timeout}")
    for u in c.vpdn.usernames:
        store = " store-local" if u.store_local else ""
        vpdn.append(f"vpdn username {u.name} password {u.password}{store}")
    vpdn.extend(f"vpdn enable {i}" for i in c.vpdn.enabled_interfaces)
