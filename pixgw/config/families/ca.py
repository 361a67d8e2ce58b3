"""``ca``: the key to generate, the CA identities and their enrollment settings, the store."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, cast

from pixgw.config.model import CaConfigure, CaIdentity, PixConfig
from pixgw.config.syntax import Args, Handler, Sections, State, fail, removed


def _ca(st: State, a: Args, negated: bool) -> None:
    what = a.peek_keyword()
    if what in ("authenticate", "enroll", "save", "crl", "subject-name", "verifycertdn", "zeroize"):
        st.ignore()
        return
    what = a.keyword("identity", "configure", "generate", "store")
    ca = st.config.ca
    if what == "store":
        directory = None if negated else a.word("directory")
        if negated and a.peek() is not None:
            a.word("directory")
        a.end()
        st.set(ca=replace(ca, store=directory))
    elif what == "generate":
        a.keyword("rsa")
        a.keyword("key")
        modulus = a.integer("key modulus", 512, 4096)
        a.end()
        st.set(ca=replace(ca, rsa_key_modulus=None if negated else modulus))
    elif what == "identity":
        name = a.name("ca identity name")
        st.declare("ca identity", name)
        if removed(a, st.identities, name, negated):
            return
        location = a.word("ca address")
        scheme = ""
        for prefix in ("http://", "https://"):
            if location.lower().startswith(prefix):
                scheme, location = location[: len(prefix)], location[len(prefix) :]
        host, colon, path = location.partition(":")
        if not host or not re.fullmatch(r"[A-Za-z0-9.-]+", host):
            fail(f"bad ca address '{scheme}{location}'")
        if colon and not path.startswith("/"):
            fail(f"bad ca path '{path}' (ADDRESS:/PATH)")
        ldap = a.word("ldap address") if a.peek() is not None else None
        a.end()
        st.identities[name] = CaIdentity(
            name, scheme + host, path if colon else CaIdentity.path, ldap
        )
    else:
        name = a.name("ca identity name")
        if removed(a, st.configures, name, negated):
            return
        mode = a.keyword("ca", "ra")
        period = a.integer("retry period", 1, 60)
        count = a.integer("retry count", 0, 100)
        crl_optional = a.optional("crloptional")
        a.end()
        st.refer("ca identity", name)
        st.configures[name] = CaConfigure(name, cast(Any, mode), period, count, crl_optional)


COMMANDS: dict[str, Handler] = {
    "ca": _ca,
}


def render(c: PixConfig, s: Sections) -> None:
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
