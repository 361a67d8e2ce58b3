"""``nameif``, ``interface``, ``mtu``, ``ip address`` (``ip local pool`` is :mod:`.pools`),
``route`` and ``nat (IF) 0 access-list``: the interfaces and what is routed through them."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from pixgw.config.families.pools import ip_local_pool
from pixgw.config.model import Interface, PixConfig, Route
from pixgw.config.syntax import Args, Handler, Pending, Sections, State, fail, positive

_HARDWARE = re.compile(r"^[a-z][a-z-]*[0-9]+(/[0-9]+)?(\.[0-9]+)?$")


_SPEEDS = (
    "auto", "10baset", "10full", "100basetx", "100full", "1000auto", "1000full", "1000sxfull",
    "aui", "bnc", "physical",
)


def _nameif(st: State, a: Args, negated: bool) -> None:
    positive(negated)
    hardware = a.word("hardware id").lower()
    st.declare("hardware", hardware)
    if not _HARDWARE.match(hardware):
        fail(f"bad hardware id '{hardware}'")
    name = a.name("interface name")
    st.declare("interface", name)
    level_word = a.word("security level")
    match = re.fullmatch(r"security(\d{1,3})", level_word.lower())
    if match is None:
        fail(f"expected securityN, not '{level_word}'")
    level = int(match.group(1))
    if level > 100:
        fail(f"security level {level} out of range 0-100")
    a.end()
    for other in st.interfaces.values():
        if other.name == name and other.hardware_id != hardware:
            fail(f"name {name} already used by {other.hardware_id}")
    old = st.interfaces.get(hardware)
    st.interfaces[hardware] = (
        Interface(hardware, name, level)
        if old is None
        else replace(old, name=name, security_level=level)
    )


def _interface(st: State, a: Args, negated: bool) -> None:
    positive(negated)
    hardware = a.word("hardware id").lower()
    speed = a.word("speed").lower()
    if speed not in _SPEEDS:
        fail(f"bad speed '{speed}'")
    shutdown = a.optional("shutdown")
    a.end()
    st.hardware.append((st.line_number, st.line, hardware, {"speed": speed, "shutdown": shutdown}))


def _mtu(st: State, a: Args, negated: bool) -> None:
    positive(negated)
    name = a.word("interface name")
    mtu = a.integer("mtu", 64, 65535)
    a.end()
    st.pending.append(Pending(st.line_number, st.line, name, {"mtu": mtu}))


def _ip(st: State, a: Args, negated: bool) -> None:
    what = a.keyword("address", "local", "audit", "verify")
    if what in ("audit", "verify"):
        st.ignore()
        return
    if what == "local":
        ip_local_pool(st, a, negated)
        return
    positive(negated)
    name = a.word("interface name")
    if a.optional("dhcp"):
        setroute = a.optional("setroute")
        if a.optional("retry"):
            a.integer("retry count", 4, 16)
        a.end()
        changes: dict[str, Any] = {
            "dhcp": True,
            "dhcp_setroute": setroute,
            "address": None,
            "netmask": None,
        }
    else:
        address = a.address()
        mask = a.netmask()
        a.end()
        changes = {"dhcp": False, "dhcp_setroute": False, "address": address, "netmask": mask}
    st.pending.append(Pending(st.line_number, st.line, name, changes))


def _nat(st: State, a: Args, negated: bool) -> None:
    word = a.word("(interface)")
    match = re.fullmatch(r"\((\S+)\)", word)
    if match is None:
        fail(f"expected (interface), not '{word}'")
    following = [w.lower() for w in a.words[a.position : a.position + 2]]
    if following not in (["0"], ["0", "access-list"]):
        st.ignore()  # nat (IF) ID ADDRESS MASK ...: address translation, not done here
        return
    a.position += 1
    a.keyword("access-list")
    acl = a.word("access-list name")
    a.end()
    entry = (match.group(1), acl)
    if negated:
        if entry in st.nat_zero:
            st.nat_zero.remove(entry)
        return
    st.refer("interface", match.group(1))
    st.refer("access-list", acl)
    if entry not in st.nat_zero:
        st.nat_zero.append(entry)


def _route(st: State, a: Args, negated: bool) -> None:
    interface = a.word("interface name")
    destination = a.address("destination")
    mask = a.netmask()
    gateway = a.address("gateway")
    metric = a.integer("metric", 1, 16) if a.peek() is not None else 1
    a.end()
    if int(destination) & ~int(mask) & 0xFFFFFFFF:
        fail(f"destination {destination} has bits outside netmask {mask}")
    route = Route(interface, destination, mask, gateway, metric)
    if negated:
        if route in st.routes:
            st.routes.remove(route)
        return
    st.refer("interface", interface)
    st.routes.append(route)


COMMANDS: dict[str, Handler] = {
    "nameif": _nameif,
    "interface": _interface,
    "mtu": _mtu,
    "ip": _ip,
    "nat": _nat,
    "route": _route,
}


def render(c: PixConfig, s: Sections) -> None:
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
    for interface_name, acl_name in c.nat_zero_acl:
        s["global"].append(f"nat ({interface_name}) 0 access-list {acl_name}")
    for route in c.routes:
        s["route"].append(
            f"route {route.interface} {route.destination} {route.netmask} {route.gateway}"
            f" {route.metric}"
        )
