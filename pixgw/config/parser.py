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
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, NoReturn, cast

from pixgw.config.model import (
    DEFAULT_LIMIT_HALF_OPEN,
    DEFAULT_LIMIT_HALF_OPEN_PER_PEER,
    DEFAULT_LIMIT_SA,
    HOST_MASK,
    LOG_LEVELS,
    AaaServerGroup,
    AaaServerHost,
    AccessList,
    AccessListEntry,
    AddressMatch,
    CaConfigure,
    CaIdentity,
    CryptoMap,
    CryptoMapEntry,
    DynamicMap,
    EspAuthentication,
    EspEncryption,
    Interface,
    IpLocalPool,
    IsakmpKey,
    IsakmpPolicy,
    LoggingHost,
    LogLevel,
    ManagementAccess,
    PixConfig,
    PortMatch,
    Route,
    SaLifetime,
    TransformSet,
    UauthTimeout,
    Username,
    Vpdn,
    VpdnGroup,
    VpdnUsername,
)

MAX_LINE_LENGTH = 4096
MAX_POOL_SIZE = 65536
UNSUPPORTED = "not supported, ignored"

# --- results and errors -------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigWarning:
    """A line that was accepted but not acted on."""

    line_number: int
    line: str
    reason: str

    def __str__(self) -> str:
        return f"WARNING line {self.line_number}: {self.line}: {self.reason}"


@dataclass(frozen=True)
class ConfigProblem:
    """A line that is wrong; ``line_number`` 0 means the file itself (``line`` is its path)."""

    line_number: int
    line: str
    reason: str

    def __str__(self) -> str:
        if self.line_number == 0:
            return f"ERROR {self.line}: {self.reason}"
        return f"ERROR line {self.line_number}: {self.line}: {self.reason}"


class ConfigError(Exception):
    """The configuration does not parse; ``problems`` lists every problem found."""

    def __init__(self, problems: tuple[ConfigProblem, ...]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class ParseResult:
    config: PixConfig
    warnings: tuple[ConfigWarning, ...] = ()


# --- where each command goes in a running-config ------------------------------------------------

# The order in which a PIX 6.3 writes its running-config, by leading keyword(s). Unsupported lines
# are put back in the section their keyword belongs to.
SECTIONS: tuple[tuple[str, ...], ...] = (
    ("pix",),
    ("nameif",),
    ("enable",),
    ("passwd",),
    ("hostname",),
    ("domain-name",),
    ("fixup",),
    ("names", "name"),
    ("object-group",),
    ("access-list",),
    ("pager",),
    ("logging",),
    ("interface",),
    ("icmp",),
    ("mtu",),
    ("ip address",),
    ("ip audit", "ip verify"),
    ("ip local",),
    ("failover",),
    ("pdm",),
    ("arp",),
    ("global", "nat", "static", "conduit", "alias"),
    ("access-group",),
    ("route", "rip"),
    ("timeout",),
    ("aaa-server",),
    ("aaa",),
    ("http", "filter", "url-server"),
    ("snmp-server",),
    ("floodguard",),
    ("sysopt", "service"),
    ("crypto ipsec",),
    ("crypto dynamic-map",),
    ("crypto map",),
    ("isakmp",),
    ("ca",),
    ("telnet",),
    ("ssh",),
    ("management-access", "console"),
    ("dhcpd",),
    ("vpdn",),
    ("vpngroup",),
    ("username", "privilege"),
    ("terminal",),
    (),  # anything else kept verbatim
)
_SECTION_OTHER = len(SECTIONS) - 1


def section_of(line: str) -> int:
    """The index in :data:`SECTIONS` of a running-config line (``no`` forms with their command)."""
    words = line.lower().split()
    if words and words[0] == "no":
        words = words[1:]
    for index, keys in enumerate(SECTIONS):
        for key in keys:
            parts = key.split()
            if words[: len(parts)] == parts:
                return index
    return _SECTION_OTHER


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

# --- secrets in lines shown to people ---------------------------------------------------------

SECRET_MASK = "********"  # noqa: S105 (the mask, not a password)
_SECRET_PATTERNS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"^((?:no\s+)?isakmp\s+key\s+)(\S+)",
        r"^((?:no\s+)?aaa-server\s+\S+\s+\(\S+\)\s+host\s+\S+\s+)(?!timeout\b)(\S+)",
        r"^((?:no\s+)?(?:vpdn\s+)?username\s+\S+\s+password\s+)(\S+)",
        r"^((?:no\s+)?enable\s+password\s+)(\S+)",
        r"^((?:no\s+)?passwd\s+)(\S+)",
        r"^((?:no\s+)?snmp-server\s+community\s+)(\S+)",
        r"^((?:no\s+)?aaa-server\s+\S+\s+\S*-password\s+)(.+)",
    )
)


def redact_secrets(line: str) -> str:
    """*line* with keys and passwords replaced by ``********`` (for errors and logs)."""
    for pattern in _SECRET_PATTERNS:
        line = pattern.sub(lambda match: match.group(1) + SECRET_MASK, line, count=1)
    return line


# --- value vocabularies -------------------------------------------------------------------------

_PROTOCOLS = {"ip": None, "icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51}
_PORTS = {
    "ftp-data": 20,
    "ftp": 21,
    "ssh": 22,
    "telnet": 23,
    "smtp": 25,
    "domain": 53,
    "bootps": 67,
    "bootpc": 68,
    "tftp": 69,
    "www": 80,
    "http": 80,
    "pop3": 110,
    "ntp": 123,
    "snmp": 161,
    "ldap": 389,
    "https": 443,
    "isakmp": 500,
    "syslog": 514,
    "ldaps": 636,
    "radius": 1645,
    "radius-acct": 1646,
    "l2tp": 1701,
    "pptp": 1723,
    "sip": 5060,
}
_ISAKMP_ENCRYPTION = ("des", "3des", "aes", "aes-192", "aes-256")
_ISAKMP_HASH = ("md5", "sha", "sha256", "sha384")
DH_GROUPS = (1, 2, 5, 14, 15, 16, 19, 20)
ESP_ENCRYPTION = ("esp-des", "esp-3des", "esp-aes", "esp-aes-192", "esp-aes-256", "esp-null")
ESP_AUTHENTICATION = ("esp-md5-hmac", "esp-sha-hmac", "esp-sha256-hmac")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
_HARDWARE = re.compile(r"^[a-z][a-z-]*[0-9]+(/[0-9]+)?(\.[0-9]+)?$")
_SPEEDS = (
    "auto",
    "10baset",
    "10full",
    "100basetx",
    "100full",
    "1000auto",
    "1000full",
    "1000sxfull",
    "aui",
    "bnc",
    "physical",
)


class _Bad(Exception):
    """The current line is wrong; the message is the reason."""


def _fail(reason: str) -> NoReturn:
    raise _Bad(reason)


class _Args:
    """The words of one line after its command keywords, read left to right."""

    def __init__(
        self, words: list[str], position: int = 0, names: dict[str, IPv4Address] | None = None
    ) -> None:
        self.words = words
        self.position = position
        self.names = names or {}

    def peek(self) -> str | None:
        return self.words[self.position] if self.position < len(self.words) else None

    def peek_keyword(self) -> str | None:
        word = self.peek()
        return None if word is None else word.lower()

    def word(self, what: str) -> str:
        word = self.peek()
        if word is None:
            _fail(f"expected {what}")
        self.position += 1
        return word

    def name(self, what: str) -> str:
        word = self.word(what)
        if not _NAME.match(word):
            _fail(f"bad {what} '{word}'")
        return word

    def keyword(self, *choices: str) -> str:
        word = self.peek()
        expected = " or ".join(f"'{c}'" for c in choices)
        if word is None:
            _fail(f"expected {expected}")
        if word.lower() not in choices:
            _fail(f"expected {expected}, not '{word}'")
        self.position += 1
        return word.lower()

    def optional(self, keyword: str) -> bool:
        if self.peek_keyword() == keyword:
            self.position += 1
            return True
        return False

    def integer(self, what: str, low: int, high: int) -> int:
        word = self.word(what)
        if not word.isdigit() or len(word) > 10:
            _fail(f"bad {what} '{word}'")
        value = int(word)
        if not low <= value <= high:
            _fail(f"{what} {value} out of range {low}-{high}")
        return value

    def address(self, what: str = "address") -> IPv4Address:
        return self.resolve(self.word(what), what)

    def resolve(self, word: str, what: str = "address") -> IPv4Address:
        """An address, or a name given to one by ``name A NAME``."""
        named = self.names.get(word)
        return named if named is not None else _address(word, what)

    def netmask(self) -> IPv4Address:
        return _netmask(self.word("netmask"))

    def end(self) -> None:
        word = self.peek()
        if word is not None:
            _fail(f"unexpected '{word}'")


def _address(word: str, what: str = "address") -> IPv4Address:
    try:
        parsed = ip_address(word)
    except ValueError:
        _fail(f"bad {what} '{word}'")
    if isinstance(parsed, IPv6Address):
        _fail(f"bad {what} '{word}': IPv6 is not supported")
    return parsed


def _netmask(word: str) -> IPv4Address:
    try:
        mask = IPv4Address(word)
    except ValueError:
        _fail(f"bad netmask {word}")
    inverted = ~int(mask) & 0xFFFFFFFF
    if inverted & (inverted + 1):
        _fail(f"bad netmask {word}")
    return mask


def _level(word: str) -> LogLevel:
    lowered = word.lower()
    if lowered.isdigit() and int(lowered) < len(LOG_LEVELS):
        return LOG_LEVELS[int(lowered)]
    if lowered in LOG_LEVELS:
        return lowered
    _fail(f"bad log level '{word}' (0-7 or {'|'.join(LOG_LEVELS)})")


def _duration(word: str) -> int:
    """``H:MM:SS`` or ``H:MM`` to seconds."""
    parts = word.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) <= 4 for p in parts):
        _fail(f"bad time '{word}' (H:MM:SS)")
    numbers = [int(p) for p in parts] + ([0] if len(parts) == 2 else [])
    hours, minutes, seconds = numbers
    if minutes > 59 or seconds > 59 or hours > 1193:
        _fail(f"bad time '{word}' (H:MM:SS)")
    return hours * 3600 + minutes * 60 + seconds


def _port(word: str) -> int:
    if word.isdigit() and len(word) <= 5:
        value = int(word)
        if not 1 <= value <= 65535:
            _fail(f"port {value} out of range 1-65535")
        return value
    if word.lower() in _PORTS:
        return _PORTS[word.lower()]
    _fail(f"bad port '{word}'")


# --- the state built while reading --------------------------------------------------------------


@dataclass
class _Reference:
    kind: str  # interface, pool, transform-set, dynamic-map, aaa-server, access-list, ca identity
    name: str
    line_number: int
    line: str


@dataclass
class _Pending:
    """A change to an interface known by name (``mtu``, ``ip address``), applied at the end."""

    line_number: int
    line: str
    name: str
    changes: dict[str, Any]


@dataclass
class _MapState:
    entries: dict[int, CryptoMapEntry] = field(default_factory=dict)
    client_authentication: str | None = None
    interfaces: list[str] = field(default_factory=list)


@dataclass
class _State:
    line_number: int = 0
    line: str = ""
    config: PixConfig = field(default_factory=PixConfig)
    interfaces: dict[str, Interface] = field(default_factory=dict)  # by hardware id
    pending: list[_Pending] = field(default_factory=list)
    hardware: list[tuple[int, str, str, dict[str, Any]]] = field(default_factory=list)
    access_lists: dict[str, list[AccessListEntry]] = field(default_factory=dict)
    pools: dict[str, IpLocalPool] = field(default_factory=dict)
    nat_zero: list[tuple[str, str]] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    aaa: dict[str, AaaServerGroup] = field(default_factory=dict)
    options: dict[str, dict[str, str]] = field(default_factory=dict)
    usernames: dict[str, Username] = field(default_factory=dict)
    isakmp_enabled: list[str] = field(default_factory=list)
    policies: dict[int, IsakmpPolicy] = field(default_factory=dict)
    keys: dict[tuple[IPv4Address, IPv4Address], IsakmpKey] = field(default_factory=dict)
    transform_sets: dict[str, TransformSet] = field(default_factory=dict)
    dynamic_maps: dict[str, dict[int, CryptoMapEntry]] = field(default_factory=dict)
    maps: dict[str, _MapState] = field(default_factory=dict)
    identities: dict[str, CaIdentity] = field(default_factory=dict)
    configures: dict[str, CaConfigure] = field(default_factory=dict)
    vpdn_groups: dict[str, VpdnGroup] = field(default_factory=dict)
    vpdn_usernames: dict[str, VpdnUsername] = field(default_factory=dict)
    vpdn_enabled: list[str] = field(default_factory=list)
    logging_hosts: dict[tuple[str, IPv4Address], LoggingHost] = field(default_factory=dict)
    telnet: list[ManagementAccess] = field(default_factory=list)
    ssh: list[ManagementAccess] = field(default_factory=list)
    address_names: dict[str, IPv4Address] = field(default_factory=dict)
    unsupported: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)
    references: list[_Reference] = field(default_factory=list)
    # names the current line defines, and those defined by lines that failed: references to
    # them are not reported again (one typo, one error)
    declared: list[tuple[str, str]] = field(default_factory=list)
    failed: set[tuple[str, str]] = field(default_factory=set)

    def declare(self, kind: str, name: str) -> None:
        self.declared.append((kind, name))

    def refer(self, kind: str, name: str) -> None:
        self.references.append(_Reference(kind, name, self.line_number, self.line))

    def set(self, **changes: Any) -> None:
        self.config = replace(self.config, **changes)

    def warn(self, reason: str) -> None:
        self.warnings.append(ConfigWarning(self.line_number, redact_secrets(self.line), reason))

    def ignore(self) -> None:
        self.unsupported.append((section_of(self.line), self.line))
        self.warn(UNSUPPORTED)


# --- commands -----------------------------------------------------------------------------------


def _positive(negated: bool) -> None:
    if negated:
        _fail("no 'no' form")


def _pix(st: _State, a: _Args, negated: bool) -> None:
    _positive(negated)
    a.keyword("version")
    version = a.word("version number")
    a.end()
    st.set(version=version)


def _nameif(st: _State, a: _Args, negated: bool) -> None:
    _positive(negated)
    hardware = a.word("hardware id").lower()
    st.declare("hardware", hardware)
    if not _HARDWARE.match(hardware):
        _fail(f"bad hardware id '{hardware}'")
    name = a.name("interface name")
    st.declare("interface", name)
    level_word = a.word("security level")
    match = re.fullmatch(r"security(\d{1,3})", level_word.lower())
    if match is None:
        _fail(f"expected securityN, not '{level_word}'")
    level = int(match.group(1))
    if level > 100:
        _fail(f"security level {level} out of range 0-100")
    a.end()
    for other in st.interfaces.values():
        if other.name == name and other.hardware_id != hardware:
            _fail(f"name {name} already used by {other.hardware_id}")
    old = st.interfaces.get(hardware)
    st.interfaces[hardware] = (
        Interface(hardware, name, level)
        if old is None
        else replace(old, name=name, security_level=level)
    )


def _secret(st: _State, a: _Args, attribute: str) -> None:
    secret = a.word("password")
    encrypted = a.optional("encrypted")
    a.end()
    st.set(**{attribute: secret, f"{attribute}_encrypted": encrypted})


def _enable(st: _State, a: _Args, negated: bool) -> None:
    _positive(negated)
    a.keyword("password")
    _secret(st, a, "enable_password")


def _passwd(st: _State, a: _Args, negated: bool) -> None:
    _positive(negated)
    _secret(st, a, "passwd")


def _hostname(st: _State, a: _Args, negated: bool) -> None:
    if negated:
        a.position = len(a.words)
        st.set(hostname=PixConfig.hostname)
        return
    name = a.name("hostname")
    a.end()
    st.set(hostname=name)


def _domain_name(st: _State, a: _Args, negated: bool) -> None:
    if negated:
        a.position = len(a.words)
        st.set(domain_name=None)
        return
    name = a.name("domain name")
    a.end()
    st.set(domain_name=name)


def _names(st: _State, a: _Args, negated: bool) -> None:
    a.end()
    st.set(names=not negated)


def _name(st: _State, a: _Args, negated: bool) -> None:
    address = _address(a.word("address"))
    name = a.name("name")
    a.end()
    try:
        ip_address(name)
    except ValueError:
        pass
    else:
        _fail(f"bad name '{name}': an address")
    if negated:
        st.address_names.pop(name, None)
        return
    st.address_names[name] = address


def _address_match(a: _Args) -> AddressMatch:
    word = a.word("address, 'host' or 'any'")
    if word.lower() == "any":
        return AddressMatch(IPv4Address(0), IPv4Address(0))
    if word.lower() == "host":
        return AddressMatch(a.address(), HOST_MASK)
    address = a.resolve(word)
    mask = a.netmask()
    return AddressMatch(address, mask)


def _port_match(a: _Args) -> PortMatch | None:
    operator = a.peek_keyword()
    if operator not in ("eq", "neq", "lt", "gt", "range"):
        return None
    a.position += 1
    low = _port(a.word("port"))
    if operator != "range":
        return PortMatch(cast(Any, operator), low)
    high = _port(a.word("port"))
    if high < low:
        _fail(f"bad port range {low}-{high}")
    return PortMatch("range", low, high)


def _access_list(st: _State, a: _Args, negated: bool) -> None:
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
        _fail(f"bad protocol '{word}'")
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
            _fail(f"no such access-list entry in {name}")
        entries.remove(entry)
        return
    st.access_lists.setdefault(name, []).append(entry)


def _pager(st: _State, a: _Args, negated: bool) -> None:
    if negated:
        a.end()
        st.set(pager=None)
        return
    lines = a.integer("lines", 0, 512) if a.optional("lines") else 24
    a.end()
    st.set(pager=lines)


def _logging(st: _State, a: _Args, negated: bool) -> None:
    what = a.keyword(
        "on",
        "console",
        "buffered",
        "trap",
        "monitor",
        "timestamp",
        "queue",
        "facility",
        "host",
        "history",
        "standby",
        "message",
        "device-id",
        "fac",
        "class",
    )
    log = st.config.logging
    if what in ("history", "standby", "message", "device-id", "class", "fac"):
        st.ignore()
        return
    if what in ("on", "timestamp"):
        a.end()
        changes: dict[str, Any] = {what: not negated}
        st.set(logging=replace(log, **changes))
    elif what in ("console", "buffered", "trap", "monitor"):
        level = None if negated else _level(a.word("log level"))
        if negated and a.peek() is not None:
            _level(a.word("log level"))
        a.end()
        levels: dict[str, Any] = {what: level}
        st.set(logging=replace(log, **levels))
    elif what == "queue":
        size = 4096 if negated else a.integer("queue size", 0, 8192)
        a.end()
        st.set(logging=replace(log, buffer_size=size))
    elif what == "facility":
        facility = 20 if negated else a.integer("facility", 16, 23)
        a.end()
        st.set(logging=replace(log, facility=facility))
    else:
        first = a.word("interface or address")
        interface = "inside"
        try:
            address = a.resolve(first)
        except _Bad:
            interface = first
            address = a.address()
        protocol, port = "udp", 514
        spec = a.peek_keyword()
        if spec is not None and "/" in spec:
            a.position += 1
            protocol, _, port_word = spec.partition("/")
            if protocol not in ("udp", "tcp"):
                _fail(f"bad logging protocol '{protocol}'")
            port = _port(port_word)
        if a.optional("format"):
            a.keyword("emblem")
        a.end()
        key = (interface, address)
        if negated:
            st.logging_hosts.pop(key, None)
            return
        st.refer("interface", interface)
        st.logging_hosts[key] = LoggingHost(interface, address, cast(Any, protocol), port)


def _interface(st: _State, a: _Args, negated: bool) -> None:
    _positive(negated)
    hardware = a.word("hardware id").lower()
    speed = a.word("speed").lower()
    if speed not in _SPEEDS:
        _fail(f"bad speed '{speed}'")
    shutdown = a.optional("shutdown")
    a.end()
    st.hardware.append((st.line_number, st.line, hardware, {"speed": speed, "shutdown": shutdown}))


def _mtu(st: _State, a: _Args, negated: bool) -> None:
    _positive(negated)
    name = a.word("interface name")
    mtu = a.integer("mtu", 64, 65535)
    a.end()
    st.pending.append(_Pending(st.line_number, st.line, name, {"mtu": mtu}))


def _ip(st: _State, a: _Args, negated: bool) -> None:
    what = a.keyword("address", "local", "audit", "verify")
    if what in ("audit", "verify"):
        st.ignore()
        return
    if what == "local":
        _ip_local_pool(st, a, negated)
        return
    _positive(negated)
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
    st.pending.append(_Pending(st.line_number, st.line, name, changes))


def _ip_local_pool(st: _State, a: _Args, negated: bool) -> None:
    a.keyword("pool")
    name = a.name("pool name")
    st.declare("pool", name)
    if negated:
        a.position = len(a.words)
        st.pools.pop(name, None)
        return
    span = a.word("address range")
    first_word, dash, last_word = span.partition("-")
    first = _address(first_word)
    last = _address(last_word) if dash else first
    if first > last:
        _fail(f"bad range {span}: first address above last")
    size = int(last) - int(first) + 1
    if size > MAX_POOL_SIZE:
        _fail(f"bad range {span}: {size} addresses, at most {MAX_POOL_SIZE}")
    mask = a.netmask() if a.optional("mask") else None
    a.end()
    for other in st.pools.values():
        if other.name != name and not (last < other.first or other.last < first):
            _fail(f"range {span} overlaps pool {other.name}")
    st.pools[name] = IpLocalPool(name, first, last, mask)


def _nat(st: _State, a: _Args, negated: bool) -> None:
    word = a.word("(interface)")
    match = re.fullmatch(r"\((\S+)\)", word)
    if match is None:
        _fail(f"expected (interface), not '{word}'")
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


def _route(st: _State, a: _Args, negated: bool) -> None:
    interface = a.word("interface name")
    destination = a.address("destination")
    mask = a.netmask()
    gateway = a.address("gateway")
    metric = a.integer("metric", 1, 16) if a.peek() is not None else 1
    a.end()
    if int(destination) & ~int(mask) & 0xFFFFFFFF:
        _fail(f"destination {destination} has bits outside netmask {mask}")
    route = Route(interface, destination, mask, gateway, metric)
    if negated:
        if route in st.routes:
            st.routes.remove(route)
        return
    st.refer("interface", interface)
    st.routes.append(route)


def _timeout(st: _State, a: _Args, negated: bool) -> None:
    if a.peek_keyword() != "uauth":
        st.ignore()
        return
    _positive(negated)
    a.position += 1
    seconds = _duration(a.word("time"))
    kind = a.keyword("absolute", "inactivity") if a.peek() is not None else "absolute"
    a.end()
    st.set(uauth_timeout=UauthTimeout(seconds, cast(Any, kind)))


def _aaa_server(st: _State, a: _Args, negated: bool) -> None:
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
    if not _NAME.match(group_word):
        _fail(f"bad aaa-server group '{group_word}'")
    group = group_word
    following = a.peek()
    if following is None:
        _fail("expected 'protocol', '(interface)' or an option")
    if following.lower() == "protocol":
        st.declare("aaa-server group", group)
        a.position += 1
        protocol = a.word("protocol").lower()
        if not re.fullmatch(r"[a-z][a-z0-9+_-]*", protocol):
            _fail(f"bad protocol '{protocol}'")
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
        or option_word in ("max-failed-attempts", "deadtime")
        or re.fullmatch(r"[a-z0-9+_]+-[a-z0-9_-]+", option_word)
    ):
        _fail(f"unknown aaa-server option '{following}'")
    existing = st.aaa.get(group)
    if existing is None:
        if ("aaa-server group", group) in st.failed:
            a.position = len(a.words)
            return
        _fail(f"no such aaa-server group {group} (needs 'aaa-server {group} protocol ...' first)")
    if following.startswith("("):
        match = re.fullmatch(r"\((\S+)\)", following)
        if match is None:
            _fail(f"expected (interface), not '{following}'")
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
                _fail(f"expected a value for {option}")
            options[option] = value
        st.aaa[group] = replace(existing, options=tuple(sorted(options.items())))
        a.position = len(a.words)
    else:
        _fail(f"unknown aaa-server option '{option}'")


def _username(st: _State, a: _Args, negated: bool) -> None:
    name = a.name("username")
    if negated:
        a.position = len(a.words)
        st.usernames.pop(name, None)
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


def _sysopt(st: _State, a: _Args, negated: bool) -> None:
    if a.words[a.position :] and [w.lower() for w in a.words[a.position :]] == [
        "connection",
        "permit-l2tp",
    ]:
        a.position = len(a.words)
        st.set(sysopt_permit_l2tp=not negated)
        return
    st.ignore()


def _lifetime(a: _Args, old: SaLifetime) -> SaLifetime:
    unit = a.keyword("seconds", "kilobytes")
    if unit == "seconds":
        value = a.integer("lifetime", 120, 86400)
        a.end()
        return replace(old, seconds=value)
    value = a.integer("lifetime", 2560, 2147483647)
    a.end()
    return replace(old, kilobytes=value)


def _crypto(st: _State, a: _Args, negated: bool) -> None:
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
        table = st.maps.setdefault(name, _MapState()).entries
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
                _fail("expected transform-set name")
            if len(names) > 6:
                _fail("at most 6 transform-sets")
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
                    _fail(f"bad pfs group '{word}'")
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


def _crypto_ipsec(st: _State, a: _Args, negated: bool) -> None:
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
    if negated:
        a.position = len(a.words)
        st.transform_sets.pop(name, None)
        return
    if a.peek_keyword() == "mode":
        a.position += 1
        mode = a.keyword("transport", "tunnel")
        a.end()
        old_set = st.transform_sets.get(name)
        if old_set is None:
            if ("transform-set", name) in st.failed:
                return
            _fail(f"no such transform-set {name}")
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
            _fail(f"bad transform '{word}'")
    if encryption is None:
        _fail(f"expected an encryption transform ({'|'.join(ESP_ENCRYPTION)})")
    old_mode = st.transform_sets[name].mode if name in st.transform_sets else "tunnel"
    st.transform_sets[name] = TransformSet(
        name,
        cast(EspEncryption, encryption),
        cast("EspAuthentication | None", authentication),
        old_mode,
    )


def _crypto_map_options(st: _State, a: _Args, negated: bool, name: str) -> None:
    state = st.maps.setdefault(name, _MapState())
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
                _fail(f"interface {interface} already has crypto map {other_name}")
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


_ISAKMP_LIMITS: dict[str, tuple[str, int, int]] = {
    "half-open": ("limit_half_open", DEFAULT_LIMIT_HALF_OPEN, 100000),
    "half-open-per-peer": ("limit_half_open_per_peer", DEFAULT_LIMIT_HALF_OPEN_PER_PEER, 1000),
    "sa": ("limit_sa", DEFAULT_LIMIT_SA, 100000),
}


def _isakmp(st: _State, a: _Args, negated: bool) -> None:
    what = a.keyword(
        "enable",
        "identity",
        "nat-traversal",
        "keepalive",
        "key",
        "policy",
        "client",
        "peer",
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
        which = a.keyword("half-open", "half-open-per-peer", "sa")
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


def _isakmp_policy(st: _State, a: _Args, negated: bool) -> None:
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
            _fail(f"bad group {word} ({'|'.join(str(g) for g in DH_GROUPS)})")
        value = int(word)
    else:
        value = a.integer("lifetime", 60, 86400)
    a.end()
    if negated:
        value = getattr(default, setting)
    st.policies[priority] = replace(policy, **{setting: value})


def _ca(st: _State, a: _Args, negated: bool) -> None:
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
        if negated:
            a.position = len(a.words)
            st.identities.pop(name, None)
            return
        location = a.word("ca address")
        scheme = ""
        for prefix in ("http://", "https://"):
            if location.lower().startswith(prefix):
                scheme, location = location[: len(prefix)], location[len(prefix) :]
        host, colon, path = location.partition(":")
        if not host or not re.fullmatch(r"[A-Za-z0-9.-]+", host):
            _fail(f"bad ca address '{scheme}{location}'")
        if colon and not path.startswith("/"):
            _fail(f"bad ca path '{path}' (ADDRESS:/PATH)")
        ldap = a.word("ldap address") if a.peek() is not None else None
        a.end()
        st.identities[name] = CaIdentity(
            name, scheme + host, path if colon else CaIdentity.path, ldap
        )
    else:
        name = a.name("ca identity name")
        if negated:
            a.position = len(a.words)
            st.configures.pop(name, None)
            return
        mode = a.keyword("ca", "ra")
        period = a.integer("retry period", 1, 60)
        count = a.integer("retry count", 0, 100)
        crl_optional = a.optional("crloptional")
        a.end()
        st.refer("ca identity", name)
        st.configures[name] = CaConfigure(name, cast(Any, mode), period, count, crl_optional)


def _management(st: _State, a: _Args, negated: bool, which: str) -> None:
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


def _telnet(st: _State, a: _Args, negated: bool) -> None:
    _management(st, a, negated, "telnet")


def _ssh(st: _State, a: _Args, negated: bool) -> None:
    _management(st, a, negated, "ssh")


def _vpdn(st: _State, a: _Args, negated: bool) -> None:
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
        if negated:
            a.position = len(a.words)
            st.vpdn_usernames.pop(name, None)
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
    setting = a.keyword("accept", "ppp", "client", "l2tp", "pptp")
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
        a.keyword("tunnel")
        a.keyword("hello")
        hello = a.integer("hello interval", 10, 300)
        a.end()
        group = replace(group, l2tp_tunnel_hello=60 if negated else hello)
    else:
        st.ignore()
        return
    st.vpdn_groups[name] = group


def _terminal(st: _State, a: _Args, negated: bool) -> None:
    a.keyword("width")
    width = 80 if negated else a.integer("terminal width", 40, 511)
    a.end()
    st.set(terminal_width=width)


_Command = Callable[[_State, _Args, bool], None]
_COMMANDS: dict[str, _Command] = {
    "pix": _pix,
    "nameif": _nameif,
    "enable": _enable,
    "passwd": _passwd,
    "hostname": _hostname,
    "domain-name": _domain_name,
    "names": _names,
    "name": _name,
    "access-list": _access_list,
    "pager": _pager,
    "logging": _logging,
    "interface": _interface,
    "mtu": _mtu,
    "ip": _ip,
    "nat": _nat,
    "route": _route,
    "timeout": _timeout,
    "aaa-server": _aaa_server,
    "username": _username,
    "sysopt": _sysopt,
    "crypto": _crypto,
    "isakmp": _isakmp,
    "ca": _ca,
    "telnet": _telnet,
    "ssh": _ssh,
    "vpdn": _vpdn,
    "terminal": _terminal,
}


# --- reading a file -----------------------------------------------------------------------------


def _is_ignored(words: list[str]) -> bool:
    lowered = [w.lower() for w in words]
    return any(lowered[: len(key)] == list(key) for key in _IGNORED_COMMANDS)


def _read_line(st: _State, words: list[str]) -> None:
    negated = words[0].lower() == "no"
    if negated:
        words = words[1:]
        if not words:
            _fail("expected a command after 'no'")
    if _is_ignored(words):
        st.ignore()
        return
    command = _COMMANDS.get(words[0].lower())
    if command is None:
        _fail("unknown command")
    args = _Args(words, 1, st.address_names)
    kept = len(st.unsupported)
    command(st, args, negated)
    if len(st.unsupported) == kept:  # an ignored line is kept whole
        args.end()


def _apply_interfaces(st: _State, problems: list[ConfigProblem]) -> None:
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


def _check_references(st: _State, problems: list[ConfigProblem]) -> None:
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


def _build(st: _State) -> PixConfig:
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
    st = _State()
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
        bad = next((ch for ch in line if (ord(ch) < 32 and ch != "\t") or ord(ch) == 127), None)
        if bad is not None:
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
        except _Bad as e:
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
