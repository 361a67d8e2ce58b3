"""The reading toolkit the command families share: the words of a line (:class:`Args`), the
state built while a file is read (:class:`State`), the value parsers (addresses, netmasks, log
levels, durations, ports), the order of a running-config's sections and the masking of secrets.

A family module (:mod:`pixgw.config.families`) reads its commands with these and writes them back;
:mod:`pixgw.config.parser` runs the lines through the families' tables."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, NoReturn

from pixgw.config.model import (
    LOG_LEVELS,
    AaaServerGroup,
    AccessListEntry,
    CaConfigure,
    CaIdentity,
    CryptoMapEntry,
    Interface,
    IpLocalPool,
    IsakmpKey,
    IsakmpPolicy,
    LoggingHost,
    LogLevel,
    ManagementAccess,
    PixConfig,
    Route,
    TransformSet,
    Username,
    VpdnGroup,
    VpdnUsername,
)

UNSUPPORTED = "not supported, ignored"


@dataclass(frozen=True)
class _LineNote:
    line_number: int  # 0: the file itself (``line`` is its path)
    line: str
    reason: str

    KIND = ""

    def __str__(self) -> str:
        if self.line_number == 0:
            return f"{self.KIND} {self.line}: {self.reason}"
        return f"{self.KIND} line {self.line_number}: {self.line}: {self.reason}"


@dataclass(frozen=True)
class ConfigWarning(_LineNote):
    """A line that was accepted but not acted on."""

    KIND = "WARNING"


@dataclass(frozen=True)
class ConfigProblem(_LineNote):
    """A line that is wrong; ``line_number`` 0 means the file itself (``line`` is its path)."""

    KIND = "ERROR"


# --- where each command goes in a running-config ------------------------------------------------

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


SECTION_OTHER = len(SECTIONS) - 1


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
    return SECTION_OTHER


# --- secrets in lines shown to people ---------------------------------------------------------

SECRET_MASK = "********"  # noqa: S105 (the mask, not a password)


SECRET_PATTERNS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # where the secret stands by position (no keyword before it)
        r"^((?:no\s+)?aaa-server\s+\S+\s+(?:\(\S+\)\s+)?host\s+\S+\s+)(?!timeout\b)(\S+)",
        r"^((?:no\s+)?aaa-server\s+\S+\s+\S*-password\s+)(.+)",
        r"^((?:no\s+)?passwd\s+)(\S+)",
        r"^(ca\s+enroll\s+\S+\s+)(\S+)",  # the enrolment challenge password
        r"^(.*\bsession-key\s+(?:inbound|outbound)\s+ah\s+\d+\s+)(\S+)",
        r"^(.*\bauthentication\s+text\s+)(\S+)",  # rip ... authentication text KEY
    )
)
# whatever line it is (a PIX or ASA line kept verbatim too), the word after one of these
_SECRET_AFTER = re.compile(
    r"(?<![\w-])((?:password|passwd|key|secret|community|md5|pre-shared-key|cipher|"
    r"authenticator|key-string)\s+)(?!\*{8})(\S+)",
    re.IGNORECASE,
)
_NOT_A_SECRET = re.compile(r"^\s*(?:no\s+)?(?:crypto\s+key|ca\s+generate)\b", re.IGNORECASE)


def redact_secrets(line: str) -> str:
    """*line* with keys and passwords replaced by ``********`` (for ``show``, errors and
    logs): those of the commands pixgw reads, and those a PIX or ASA line kept verbatim may
    hold (``vpngroup G password``, ``failover lan key``, ``ntp authentication-key N md5``,
    manual ``session-key``s, ``ca enroll NAME CHALLENGE`` ...)."""
    for pattern in SECRET_PATTERNS:
        line = pattern.sub(lambda match: match.group(1) + SECRET_MASK, line, count=1)
    if not _NOT_A_SECRET.match(line):
        line = _SECRET_AFTER.sub(lambda match: match.group(1) + SECRET_MASK, line)
    return line


# --- words and values -------------------------------------------------------------------------

PORTS = {
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


DH_GROUPS = (1, 2, 5, 14, 15, 16, 19, 20)


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


class Bad(Exception):
    """The current line is wrong; the message is the reason."""


def fail(reason: str) -> NoReturn:
    raise Bad(reason)


class Args:
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
            fail(f"expected {what}")
        self.position += 1
        return word

    def name(self, what: str) -> str:
        word = self.word(what)
        if not NAME.match(word):
            fail(f"bad {what} '{word}'")
        return word

    def keyword(self, *choices: str) -> str:
        word = self.peek()
        expected = " or ".join(f"'{c}'" for c in choices)
        if word is None:
            fail(f"expected {expected}")
        if word.lower() not in choices:
            fail(f"expected {expected}, not '{word}'")
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
            fail(f"bad {what} '{word}'")
        value = int(word)
        if not low <= value <= high:
            fail(f"{what} {value} out of range {low}-{high}")
        return value

    def address(self, what: str = "address") -> IPv4Address:
        return self.resolve(self.word(what), what)

    def resolve(self, word: str, what: str = "address") -> IPv4Address:
        """An address, or a name given to one by ``name A NAME``."""
        named = self.names.get(word)
        return named if named is not None else parse_address(word, what)

    def netmask(self) -> IPv4Address:
        return parse_netmask(self.word("netmask"))

    def end(self) -> None:
        word = self.peek()
        if word is not None:
            fail(f"unexpected '{word}'")


def parse_address(word: str, what: str = "address") -> IPv4Address:
    try:
        parsed = ip_address(word)
    except ValueError:
        fail(f"bad {what} '{word}'")
    if isinstance(parsed, IPv6Address):
        fail(f"bad {what} '{word}': IPv6 is not supported")
    return parsed


def parse_netmask(word: str) -> IPv4Address:
    try:
        mask = IPv4Address(word)
    except ValueError:
        fail(f"bad netmask {word}")
    inverted = ~int(mask) & 0xFFFFFFFF
    if inverted & (inverted + 1):
        fail(f"bad netmask {word}")
    return mask


def parse_level(word: str) -> LogLevel:
    lowered = word.lower()
    if lowered.isdigit() and int(lowered) < len(LOG_LEVELS):
        return LOG_LEVELS[int(lowered)]
    if lowered in LOG_LEVELS:
        return lowered
    fail(f"bad log level '{word}' (0-7 or {'|'.join(LOG_LEVELS)})")


def parse_duration(word: str) -> int:
    """``H:MM:SS`` or ``H:MM`` to seconds."""
    parts = word.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) <= 4 for p in parts):
        fail(f"bad time '{word}' (H:MM:SS)")
    numbers = [int(p) for p in parts] + ([0] if len(parts) == 2 else [])
    hours, minutes, seconds = numbers
    if minutes > 59 or seconds > 59 or hours > 1193:
        fail(f"bad time '{word}' (H:MM:SS)")
    return hours * 3600 + minutes * 60 + seconds


def parse_port(word: str) -> int:
    if word.isdigit() and len(word) <= 5:
        value = int(word)
        if not 1 <= value <= 65535:
            fail(f"port {value} out of range 1-65535")
        return value
    if word.lower() in PORTS:
        return PORTS[word.lower()]
    fail(f"bad port '{word}'")


# --- the state built while reading ------------------------------------------------------------

@dataclass
class Reference:
    kind: str  # interface, pool, transform-set, dynamic-map, aaa-server, access-list, ca identity
    name: str
    line_number: int
    line: str


@dataclass
class Pending:
    """A change to an interface known by name (``mtu``, ``ip address``), applied at the end."""

    line_number: int
    line: str
    name: str
    changes: dict[str, Any]


@dataclass
class MapState:
    entries: dict[int, CryptoMapEntry] = field(default_factory=dict)
    client_authentication: str | None = None
    interfaces: list[str] = field(default_factory=list)


@dataclass
class State:
    line_number: int = 0
    line: str = ""
    config: PixConfig = field(default_factory=PixConfig)
    interfaces: dict[str, Interface] = field(default_factory=dict)  # by hardware id
    pending: list[Pending] = field(default_factory=list)
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
    maps: dict[str, MapState] = field(default_factory=dict)
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
    references: list[Reference] = field(default_factory=list)
    # names the current line defines, and those defined by lines that failed: references to
    # them are not reported again (one typo, one error)
    declared: list[tuple[str, str]] = field(default_factory=list)
    failed: set[tuple[str, str]] = field(default_factory=set)

    def declare(self, kind: str, name: str) -> None:
        self.declared.append((kind, name))

    def refer(self, kind: str, name: str) -> None:
        self.references.append(Reference(kind, name, self.line_number, self.line))

    def set(self, **changes: Any) -> None:
        self.config = replace(self.config, **changes)

    def warn(self, reason: str) -> None:
        self.warnings.append(ConfigWarning(self.line_number, redact_secrets(self.line), reason))

    def ignore(self) -> None:
        self.unsupported.append((section_of(self.line), self.line))
        self.warn(UNSUPPORTED)


def removed(a: Args, table: dict[str, Any], name: str, negated: bool) -> bool:
    """``no COMMAND NAME ...``: the named entry goes, whatever the rest of the line says."""
    if negated:
        a.position = len(a.words)
        table.pop(name, None)
    return negated


def positive(negated: bool) -> None:
    if negated:
        fail("no 'no' form")


Handler = Callable[[State, Args, bool], None]
"""One command's reader: the state, the words after the command keyword, and whether the line
began with ``no``."""

Sections = dict[str, list[str]]
"""A running-config being written: the lines of each section, keyed by its first keyword."""


def new_sections() -> Sections:
    return {keys[0]: [] for keys in SECTIONS if keys}
