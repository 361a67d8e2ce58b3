"""``aaa-server`` and ``username``: the AAA server groups and the local users."""

from __future__ import annotations

import re
from dataclasses import replace

from pixgw.config.model import AaaPorts, AaaServerGroup, AaaServerHost, PixConfig, Username
from pixgw.config.syntax import NAME, Args, Handler, Sections, State, fail, removed


def _aaa_server(st: State, a: Args, negated: bool) -> None:
    group_word = a.word("aaa-server group")
    lowered = group_word.lower()
    if lowered in ("radius-authport", "radius-acctport"):
        port = 1645 if lowered == "radius-authport" else 1646
        if not negated:
            port = a.integer("port", 1, 65535)
        a.end()
        attribute = lowered.replace("-", "_")
        st.set(aaa_ports=replace(st.config.aaa_ports, **{attribute: port}))
        return
    if not NAME.match(group_word):
        fail(f"bad aaa-server group '{group_word}'")
    group = group_word
    following = a.peek()
    if following is None:
        fail("expected 'protocol', '(interface)' or an option")
    if following.lower() == "protocol":
        st.declare("aaa-server group", group)
        a.position += 1
        protocol = a.word("protocol").lower()
        if not re.fullmatch(r"[a-z][a-z0-9+_-]*", protocol):
            fail(f"bad protocol '{protocol}'")
        a.end()
        if negated:
            st.aaa.pop(group, None)
            return
        old = st.aaa.get(group)
        st.aaa[group] = (
            AaaServerGroup(group, protocol) if old is None else replace(old, protocol=protocol)
        )
        return
    option_word = following.lower()
    if not (
        following.startswith("(")
        or option_word in ("host", "max-failed-attempts", "deadtime")
        or re.fullmatch(r"[a-z0-9+_]+-[a-z0-9_-]+", option_word)
    ):
        fail(f"unknown aaa-server option '{following}'")
    existing = st.aaa.get(group)
    if existing is None:
        if ("aaa-server group", group) in st.failed:
            a.position = len(a.words)
            return
        fail(f"no such aaa-server group {group} (needs 'aaa-server {group} protocol ...' first)")
    if following.startswith("(") or option_word == "host":
        interface = "inside"  # the PIX's default when the line names none
        if following.startswith("("):
            match = re.fullmatch(r"\((\S+)\)", following)
            if match is None:
                fail(f"expected (interface), not '{following}'")
            a.position += 1
            interface = match.group(1)
        a.keyword("host")
        address = a.address()
        key: str | None = None
        timeout = 5
        if a.peek() is not None and a.peek_keyword() != "timeout":
            key = a.word("key")
        if a.optional("timeout"):
            timeout = a.integer("timeout", 1, 30)
        a.end()
        hosts = tuple(h for h in existing.hosts if h.address != address)
        if not negated:
            st.refer("interface", interface)
            hosts += (AaaServerHost(interface, address, key, timeout),)
        st.aaa[group] = replace(existing, hosts=hosts)
        return
    option = a.word("option").lower()
    if option == "max-failed-attempts":
        count = 3 if negated else a.integer("max-failed-attempts", 1, 5)
        a.end()
        st.aaa[group] = replace(existing, max_failed_attempts=count)
    elif option == "deadtime":
        minutes = 10 if negated else a.integer("deadtime", 0, 1440)
        a.end()
        st.aaa[group] = replace(existing, deadtime=minutes)
    elif option.startswith(existing.protocol + "-") and len(option) > len(existing.protocol) + 1:
        options = st.options.setdefault(group, dict(existing.options))
        if negated:
            options.pop(option, None)
        else:
            # the value is the rest of the line as written (an LDAP DN may hold spaces)
            before = 3 + (1 if negated else 0)  # [no] aaa-server GROUP OPTION
            parts = st.line.split(None, before)
            value = parts[before] if len(parts) > before else ""
            if not value:
                fail(f"expected a value for {option}")
            options[option] = value
        st.aaa[group] = replace(existing, options=tuple(sorted(options.items())))
        a.position = len(a.words)
    else:
        fail(f"unknown aaa-server option '{option}'")


def _username(st: State, a: Args, negated: bool) -> None:
    name = a.name("username")
    if removed(a, st.usernames, name, negated):
        return
    a.keyword("password")
    password = a.word("password")
    encrypted = nt_encrypted = False
    kind = a.peek_keyword()
    if kind == "encrypted":
        encrypted = True
        a.position += 1
    elif kind == "nt-encrypted":
        nt_encrypted = True
        a.position += 1
    privilege = a.integer("privilege", 0, 15) if a.optional("privilege") else 2
    a.end()
    st.usernames[name] = Username(name, password, encrypted, nt_encrypted, privilege)


COMMANDS: dict[str, Handler] = {
    "aaa-server": _aaa_server,
    "username": _username,
}


def render(c: PixConfig, s: Sections) -> None:
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
    for user in c.usernames:
        kind = " encrypted" if user.encrypted else " nt-encrypted" if user.nt_encrypted else ""
        s["username"].append(
            f"username {user.name} password {user.password}{kind} privilege {user.privilege}"
        )
