"""``access-list``: extended access lists (what ``nat 0`` and crypto maps match)."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any, cast

from pixgw.config.model import HOST_MASK, AccessListEntry, AddressMatch, PixConfig, PortMatch
from pixgw.config.syntax import Args, Handler, Sections, State, fail, parse_port

_PROTOCOLS = {"ip": None, "icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51}


def _address_match(a: Args) -> AddressMatch:
    word = a.word("address, 'host' or 'any'")
    if word.lower() == "any":
        return AddressMatch(IPv4Address(0), IPv4Address(0))
    if word.lower() == "host":
        return AddressMatch(a.address(), HOST_MASK)
    address = a.resolve(word)
    mask = a.netmask()
    return AddressMatch(address, mask)


def _port_match(a: Args) -> PortMatch | None:
    operator = a.peek_keyword()
    if operator not in ("eq", "neq", "lt", "gt", "range"):
        return None
    a.position += 1
    low = parse_port(a.word("port"))
    if operator != "range":
        return PortMatch(cast(Any, operator), low)
    high = parse_port(a.word("port"))
    if high < low:
        fail(f"bad port range {low}-{high}")
    return PortMatch("range", low, high)


def _access_list(st: State, a: Args, negated: bool) -> None:
    name = a.name("access-list name")
    st.declare("access-list", name)
    if negated and a.peek() is None:
        st.access_lists.pop(name, None)
        return
    if a.peek_keyword() in ("remark", "compiled"):
        st.ignore()
        return
    a.optional("extended")
    action = a.keyword("permit", "deny")
    word = a.word("protocol")
    protocol: int | None
    if word.lower() in _PROTOCOLS:
        protocol = _PROTOCOLS[word.lower()]
    elif word.isdigit() and int(word) <= 255:
        protocol = int(word)
    else:
        fail(f"bad protocol '{word}'")
    with_ports = protocol in (6, 17)
    source = _address_match(a)
    source_port = _port_match(a) if with_ports else None
    destination = _address_match(a)
    destination_port = _port_match(a) if with_ports else None
    a.end()
    entry = AccessListEntry(
        cast(Any, action), protocol, source, destination, source_port, destination_port
    )
    if negated:
        entries = st.access_lists.get(name, [])
        if entry not in entries:
            fail(f"no such access-list entry in {name}")
        entries.remove(entry)
        return
    st.access_lists.setdefault(name, []).append(entry)


COMMANDS: dict[str, Handler] = {
    "access-list": _access_list,
}


_PROTOCOL_NAMES = {number: name for name, number in _PROTOCOLS.items() if number is not None}


_ANY = IPv4Address(0)


def _address_text(match: AddressMatch) -> str:
    if match.address == _ANY and match.netmask == _ANY:
        return "any"
    if match.netmask == HOST_MASK:
        return f"host {match.address}"
    return f"{match.address} {match.netmask}"


def _port_text(match: PortMatch | None) -> str:
    if match is None:
        return ""
    if match.operator == "range":
        return f" range {match.low} {match.high}"
    return f" {match.operator} {match.low}"


def access_list_line(name: str, entry: AccessListEntry) -> str:
    if entry.protocol is None:
        protocol = "ip"
    else:
        protocol = _PROTOCOL_NAMES.get(entry.protocol, str(entry.protocol))
    return (
        f"access-list {name} {entry.action} {protocol} {_address_text(entry.source)}"
        f"{_port_text(entry.source_port)} {_address_text(entry.destination)}"
        f"{_port_text(entry.destination_port)}"
    )


def render(c: PixConfig, s: Sections) -> None:
    for acl in c.access_lists:
        s["access-list"].extend(access_list_line(acl.name, e) for e in acl.entries)
