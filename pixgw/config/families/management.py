"""``telnet`` and ``ssh``: who may manage the device, from where, and the idle timeouts."""

from __future__ import annotations

from pixgw.config.model import ManagementAccess, PixConfig
from pixgw.config.syntax import Args, Handler, Sections, State


def _management(st: State, a: Args, negated: bool, which: str) -> None:
    if a.peek_keyword() == "timeout":
        a.position += 1
        high = 1440 if which == "telnet" else 60
        minutes = 5 if negated else a.integer("timeout", 1, high)
        a.end()
        st.set(**{f"{which}_timeout": minutes})
        return
    if a.peek_keyword() in ("version", "scopy", "hello"):
        st.ignore()
        a.position = len(a.words)
        return
    address = a.address()
    mask = a.netmask()
    interface = a.word("interface name")
    a.end()
    access = ManagementAccess(address, mask, interface)
    table = st.telnet if which == "telnet" else st.ssh
    if negated:
        if access in table:
            table.remove(access)
        return
    st.refer("interface", interface)
    if access not in table:
        table.append(access)


def _telnet(st: State, a: Args, negated: bool) -> None:
    _management(st, a, negated, "telnet")


def _ssh(st: State, a: Args, negated: bool) -> None:
    _management(st, a, negated, "ssh")


COMMANDS: dict[str, Handler] = {
    "telnet": _telnet,
    "ssh": _ssh,
}


def render(c: PixConfig, s: Sections) -> None:
    for access in c.telnet:
        s["telnet"].append(f"telnet {access.address} {access.netmask} {access.interface}")
    s["telnet"].append(f"telnet timeout {c.telnet_timeout}")
    for access in c.ssh:
        s["ssh"].append(f"ssh {access.address} {access.netmask} {access.interface}")
    s["ssh"].append(f"ssh timeout {c.ssh_timeout}")
