"""Parse a Cisco PIX 6.3 running-config into a :class:`~pixgw.config.model.PixConfig`.

Implements the command syntax of the Cisco PIX Firewall Command Reference, Version 6.3, for the
commands an L2TP/IPsec remote-access gateway acts on (nameif, interface, ip address, ip local pool,
access-list, nat 0, route, timeout uauth, aaa-server, username, sysopt connection permit-l2tp,
crypto ipsec/dynamic-map/map, isakmp, ca, logging, telnet, ssh, vpdn, pager, terminal width), plus
these extensions: ``hash sha256|sha384``, DH groups 14-20, ``ppp authentication mschapv2``,
``esp-sha256-hmac``, ``aaa-server GROUP <protocol>-<option> VALUE`` (backend settings such as
``ldap-base-dn``) and ``ca store DIRECTORY``. ``ca generate rsa key N`` (an exec command on a PIX)
is kept as configuration: generate a key of N bits at startup if none exists.

Lines of firewall features the gateway does not implement (fixup, floodguard, pdm, ip audit, arp,
snmp-server, timeout xlate/conn, ...) are kept verbatim in :attr:`PixConfig.unsupported` and
reported as "not supported, ignored" warnings; ``!`` comments and ``:`` header lines are skipped.
Keywords are case-insensitive, names are not; abbreviations are not accepted. Every problem in a
file is reported (``ERROR line N: LINE: REASON``; keys and passwords in LINE shown as
``********``), cross-references (pools, transform-sets, dynamic-maps, aaa-server groups,
access-lists, interfaces, ca identities) after the whole file is read; a reference to a name whose
own line failed is not reported again. A file with any problem gives no configuration at all.

The commands themselves, each read and written back side by side, are the command families of
:mod:`pixgw.config.families`; the reading toolkit they share is :mod:`pixgw.config.syntax`. This
module runs a file's lines through them, checks the cross-references and builds the
:class:`~pixgw.config.model.PixConfig`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from pixgw.config.families import command_table
from pixgw.config.families.crypto import ESP_AUTHENTICATION, ESP_ENCRYPTION
from pixgw.config.model import AccessList, CryptoMap, DynamicMap, PixConfig, Vpdn
from pixgw.config.syntax import (
    DH_GROUPS,
    SECTIONS,
    UNSUPPORTED,
    Args,
    Bad,
    ConfigProblem,
    ConfigWarning,
    State,
    fail,
    redact_secrets,
    section_of,
)

MAX_LINE_LENGTH = 4096


class ConfigError(Exception):
    """The configuration does not parse; ``problems`` lists every problem found."""

    def __init__(self, problems: tuple[ConfigProblem, ...]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class ParseResult:
    config: PixConfig
    warnings: tuple[ConfigWarning, ...] = ()


# Commands a PIX knows that the gateway does not act on: kept and warned about. Keyed by the
# leading words (without ``no``).
_IGNORED_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("fixup",),
    ("floodguard",),
    ("pdm",),
    ("arp",),
    ("snmp-server",),
    ("ip", "audit"),
    ("ip", "verify"),
    ("object-group",),
    ("icmp",),
    ("failover",),
    ("global",),
    ("static",),
    ("conduit",),
    ("alias",),
    ("access-group",),
    ("rip",),
    ("aaa",),
    ("http",),
    ("filter",),
    ("url-server",),
    ("service",),
    ("management-access",),
    ("console",),
    ("dhcpd",),
    ("vpngroup",),
    ("vpnclient",),  # Easy VPN Remote: the PIX as a client
    ("ospf",),
    ("route-map",),
    ("pppoe",),
    ("privilege",),
    ("ntp",),
    ("clock",),
    ("banner",),
    ("auth-prompt",),
    ("virtual",),
    ("established",),
    ("tftp-server",),
    ("multicast",),
    ("router",),
    ("prefix-list",),
    ("smtp",),
    ("dns",),
    ("ca", "authenticate"),
    ("ca", "enroll"),
    ("ca", "save"),
    ("ca", "crl"),
    ("ca", "subject-name"),
    ("ca", "verifycertdn"),
)

_COMMANDS = command_table()
_IGNORED = frozenset(_IGNORED_COMMANDS)
_IGNORED_LENGTHS = sorted({len(key) for key in _IGNORED_COMMANDS})
# C0 controls but TAB, and DEL: a line holding one is refused, named
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


# --- reading a file -----------------------------------------------------------------------------


def _is_ignored(words: list[str]) -> bool:
    lowered = tuple(w.lower() for w in words[: _IGNORED_LENGTHS[-1]])
    return any(lowered[:n] in _IGNORED for n in _IGNORED_LENGTHS)


def _read_line(st: State, words: list[str]) -> None:
    negated = words[0].lower() == "no"
    if negated:
        words = words[1:]
        if not words:
            fail("expected a command after 'no'")
    if _is_ignored(words):
        st.ignore()
        return
    command = _COMMANDS.get(words[0].lower())
    if command is None:
        fail("unknown command")
    args = Args(words, 1, st.address_names)
    kept = len(st.unsupported)
    command(st, args, negated)
    if len(st.unsupported) == kept:  # an ignored line is kept whole
        args.end()


def _apply_interfaces(st: State, problems: list[ConfigProblem]) -> None:
    for line_number, line, hardware, changes in st.hardware:
        interface = st.interfaces.get(hardware)
        if interface is None:
            if ("hardware", hardware) in st.failed:
                continue
            problems.append(ConfigProblem(line_number, line, f"no nameif for {hardware}"))
            continue
        st.interfaces[hardware] = replace(interface, **changes)
    by_name = {i.name: hw for hw, i in st.interfaces.items()}
    for pending in st.pending:
        hardware_id = by_name.get(pending.name)
        if hardware_id is None:
            if ("interface", pending.name) in st.failed:
                continue
            problems.append(
                ConfigProblem(
                    pending.line_number, pending.line, f"no such interface {pending.name}"
                )
            )
            continue
        st.interfaces[hardware_id] = replace(st.interfaces[hardware_id], **pending.changes)


def _check_references(st: State, problems: list[ConfigProblem]) -> None:
    known: dict[str, Callable[[str], bool]] = {
        "interface": lambda n: any(i.name == n for i in st.interfaces.values()),
        "pool": lambda n: n in st.pools,
        "transform-set": lambda n: n in st.transform_sets,
        "dynamic-map": lambda n: n in st.dynamic_maps,
        "aaa-server group": lambda n: n in st.aaa,
        "access-list": lambda n: bool(st.access_lists.get(n)),
        "ca identity": lambda n: n in st.identities,
    }
    for reference in st.references:
        if (reference.kind, reference.name) in st.failed:
            continue
        if not known[reference.kind](reference.name):
            problems.append(
                ConfigProblem(reference.line_number, reference.line, f"no such {reference.kind}")
                if reference.kind == "dynamic-map"
                else ConfigProblem(
                    reference.line_number,
                    reference.line,
                    f"no such {reference.kind} {reference.name}",
                )
            )


def _build(st: State) -> PixConfig:
    c = st.config
    isakmp = replace(
        c.isakmp,
        enabled_interfaces=tuple(st.isakmp_enabled),
        policies=tuple(st.policies[p] for p in sorted(st.policies)),
        keys=tuple(st.keys.values()),
    )
    crypto = replace(
        c.crypto,
        transform_sets=tuple(st.transform_sets.values()),
        dynamic_maps=tuple(
            DynamicMap(name, tuple(entries[s] for s in sorted(entries)))
            for name, entries in st.dynamic_maps.items()
        ),
        maps=tuple(
            CryptoMap(
                name,
                tuple(m.entries[s] for s in sorted(m.entries)),
                m.client_authentication,
                tuple(m.interfaces),
            )
            for name, m in st.maps.items()
        ),
    )
    unsupported = [line for _, line in sorted(st.unsupported, key=lambda item: item[0])]
    return replace(
        c,
        interfaces=tuple(st.interfaces.values()),
        access_lists=tuple(AccessList(n, tuple(e)) for n, e in st.access_lists.items() if e),
        pools=tuple(st.pools.values()),
        routes=tuple(st.routes),
        nat_zero_acl=tuple(st.nat_zero),
        aaa_servers=tuple(st.aaa.values()),
        usernames=tuple(st.usernames.values()),
        isakmp=isakmp,
        crypto=crypto,
        ca=replace(
            c.ca,
            identities=tuple(st.identities.values()),
            configures=tuple(st.configures.values()),
        ),
        vpdn=Vpdn(
            tuple(st.vpdn_groups.values()),
            tuple(st.vpdn_usernames.values()),
            tuple(st.vpdn_enabled),
        ),
        logging=replace(c.logging, hosts=tuple(st.logging_hosts.values())),
        telnet=tuple(st.telnet),
        address_names=tuple((a, n) for n, a in st.address_names.items()),
        ssh=tuple(st.ssh),
        unsupported=tuple(unsupported),
    )


def parse(text: str) -> ParseResult:
    """Parse a running-config; raise :class:`ConfigError` listing every problem in it."""
    st = State()
    problems: list[ConfigProblem] = []
    last_ignored = False
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        st.line_number, st.line = number, line
        if len(line) > MAX_LINE_LENGTH:
            problems.append(ConfigProblem(number, line[:80] + "...", "line too long"))
            continue
        control = _CONTROL.search(line)
        if control is not None:
            bad = control.group()
            problems.append(
                ConfigProblem(
                    number,
                    line.encode("unicode_escape").decode("ascii"),
                    f"control character 0x{ord(bad):02x}",
                )
            )
            continue
        if line.startswith(":"):
            continue  # ": end" and the ": Saved" / ": Written by ..." header comments
        if line.lower().startswith("cryptochecksum:"):
            st.warn(UNSUPPORTED)  # the checksum is not verified; render writes its own
            continue
        if line.lower().startswith("building configuration"):
            continue
        if raw[:1] in (" ", "\t") and last_ignored:
            # an indented sub-command of an ignored command (object-group members, ...)
            section, parent = st.unsupported[-1]
            st.unsupported[-1] = (section, f"{parent}\n{raw.rstrip()}")
            st.warn(UNSUPPORTED)
            continue
        st.declared = []
        kept = len(st.unsupported)
        try:
            _read_line(st, line.split())
        except Bad as e:
            problems.append(ConfigProblem(number, line, str(e)))
            st.failed.update(st.declared)
        last_ignored = len(st.unsupported) > kept
    _apply_interfaces(st, problems)
    _check_references(st, problems)
    if problems:
        problems.sort(key=lambda p: p.line_number)
        raise ConfigError(
            tuple(ConfigProblem(p.line_number, redact_secrets(p.line), p.reason) for p in problems)
        )
    return ParseResult(_build(st), tuple(st.warnings))


def parse_file(path: str) -> ParseResult:
    """Parse the running-config in *path* (UTF-8)."""
    try:
        with open(path, "rb") as f:
            data = f.read(16 * 1024 * 1024 + 1)
    except OSError as e:
        raise ConfigError((ConfigProblem(0, path, f"cannot read: {e.strerror or e}"),)) from None
    if len(data) > 16 * 1024 * 1024:
        raise ConfigError((ConfigProblem(0, path, "file too large (over 16 MiB)"),))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line_number = data.count(b"\n", 0, e.start) + 1
        start = data.rfind(b"\n", 0, e.start) + 1
        end = data.find(b"\n", e.start)
        line = data[start : end if end >= 0 else len(data)].decode("utf-8", "replace").strip()
        reason = f"not UTF-8 (byte 0x{data[e.start]:02x} at column {e.start - start + 1})"
        raise ConfigError((ConfigProblem(line_number, line, reason),)) from None
    return parse(text)


__all__ = [
    "DH_GROUPS",
    "ESP_AUTHENTICATION",
    "ESP_ENCRYPTION",
    "SECTIONS",
    "ConfigError",
    "ConfigProblem",
    "ConfigWarning",
    "ParseResult",
    "parse",
    "parse_file",
    "redact_secrets",
    "section_of",
]
