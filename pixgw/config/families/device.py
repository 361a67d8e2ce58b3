"""``pix version``, ``enable password``, ``passwd``, ``hostname``, ``domain-name``, ``names`` and
``name``, ``pager``, ``timeout uauth``, ``sysopt connection permit-l2tp``, ``terminal width``:
the device's own settings, read and written back."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any, cast

from pixgw.config.model import PixConfig, UauthTimeout
from pixgw.config.syntax import (
    Args,
    Handler,
    Sections,
    State,
    fail,
    parse_address,
    parse_duration,
    positive,
)


def _pix(st: State, a: Args, negated: bool) -> None:
    positive(negated)
    a.keyword("version")
    version = a.word("version number")
    a.end()
    st.set(version=version)


def _secret(st: State, a: Args, attribute: str) -> None:
    secret = a.word("password")
    encrypted = a.optional("encrypted")
    a.end()
    st.set(**{attribute: secret, f"{attribute}_encrypted": encrypted})


def _enable(st: State, a: Args, negated: bool) -> None:
    positive(negated)
    a.keyword("password")
    _secret(st, a, "enable_password")


def _passwd(st: State, a: Args, negated: bool) -> None:
    positive(negated)
    _secret(st, a, "passwd")


def _hostname(st: State, a: Args, negated: bool) -> None:
    if negated:
        a.position = len(a.words)
        st.set(hostname=PixConfig.hostname)
        return
    name = a.name("hostname")
    a.end()
    st.set(hostname=name)


def _domain_name(st: State, a: Args, negated: bool) -> None:
    if negated:
        a.position = len(a.words)
        st.set(domain_name=None)
        return
    name = a.name("domain name")
    a.end()
    st.set(domain_name=name)


def _names(st: State, a: Args, negated: bool) -> None:
    a.end()
    st.set(names=not negated)


def _name(st: State, a: Args, negated: bool) -> None:
    address = parse_address(a.word("address"))
    name = a.name("name")
    a.end()
    try:
        ip_address(name)
    except ValueError:
        pass
    else:
        fail(f"bad name '{name}': an address")
    if negated:
        st.address_names.pop(name, None)
        return
    st.address_names[name] = address


def _pager(st: State, a: Args, negated: bool) -> None:
    if negated:
        a.end()
        st.set(pager=None)
        return
    lines = a.integer("lines", 0, 512) if a.optional("lines") else 24
    a.end()
    st.set(pager=lines)


def _timeout(st: State, a: Args, negated: bool) -> None:
    if a.peek_keyword() != "uauth":
        st.ignore()
        return
    positive(negated)
    a.position += 1
    seconds = parse_duration(a.word("time"))
    kind = a.keyword("absolute", "inactivity") if a.peek() is not None else "absolute"
    a.end()
    st.set(uauth_timeout=UauthTimeout(seconds, cast(Any, kind)))


def _sysopt(st: State, a: Args, negated: bool) -> None:
    if a.words[a.position :] and [w.lower() for w in a.words[a.position :]] == [
        "connection",
        "permit-l2tp",
    ]:
        a.position = len(a.words)
        st.set(sysopt_permit_l2tp=not negated)
        return
    st.ignore()


def _terminal(st: State, a: Args, negated: bool) -> None:
    a.keyword("width")
    width = 80 if negated else a.integer("terminal width", 40, 511)
    a.end()
    st.set(terminal_width=width)


COMMANDS: dict[str, Handler] = {
    "pix": _pix,
    "enable": _enable,
    "passwd": _passwd,
    "hostname": _hostname,
    "domain-name": _domain_name,
    "names": _names,
    "name": _name,
    "pager": _pager,
    "timeout": _timeout,
    "sysopt": _sysopt,
    "terminal": _terminal,
}


def _duration(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def render(c: PixConfig, s: Sections) -> None:
    s["pix"].append(f"PIX Version {c.version}")
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
    s["pager"].append("no pager" if c.pager is None else f"pager lines {c.pager}")
    s["timeout"].append(
        f"timeout uauth {_duration(c.uauth_timeout.seconds)} {c.uauth_timeout.kind}"
    )
    if c.sysopt_permit_l2tp:
        s["sysopt"].append("sysopt connection permit-l2tp")
    s["terminal"].append(f"terminal width {c.terminal_width}")
