"""The PIX 6.3 configuration as frozen values, named after the PIX keywords.

A :class:`PixConfig` is what :mod:`pixgw.config.parser` builds from a running-config and what
:mod:`pixgw.config.render` writes back; ``parse(render(c)) == c``. Defaults are the PIX 6.3
defaults (Cisco PIX Firewall Command Reference 6.3), so a value left out of a config file means
what it means on a PIX. Lines the gateway does not act on (fixups, floodguard, pdm, ...) are kept
verbatim in :attr:`PixConfig.unsupported` so that a PIX running-config survives a load and a
``write terminal``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network
from typing import Literal

# --- vocabularies -------------------------------------------------------------------------------

IsakmpAuthentication = Literal["pre-share", "rsa-sig"]
IsakmpEncryption = Literal["des", "3des", "aes", "aes-192", "aes-256"]
IsakmpHash = Literal["md5", "sha", "sha256", "sha384"]
IsakmpIdentity = Literal["address", "hostname", "key-id"]
# ESP transforms as the PIX names them. Encryption: esp-des esp-3des esp-aes esp-aes-192
# esp-aes-256 esp-null; authentication: esp-md5-hmac esp-sha-hmac (+ esp-sha256-hmac, extension).
EspEncryption = Literal["esp-des", "esp-3des", "esp-aes", "esp-aes-192", "esp-aes-256", "esp-null"]
EspAuthentication = Literal["esp-md5-hmac", "esp-sha-hmac", "esp-sha256-hmac"]
TransformMode = Literal["tunnel", "transport"]
PppAuthentication = Literal["pap", "chap", "mschap", "mschapv2"]
LogLevel = Literal[
    "emergencies",
    "alerts",
    "critical",
    "errors",
    "warnings",
    "notifications",
    "informational",
    "debugging",
]
LOG_LEVELS: tuple[LogLevel, ...] = (
    "emergencies",
    "alerts",
    "critical",
    "errors",
    "warnings",
    "notifications",
    "informational",
    "debugging",
)
AclAction = Literal["permit", "deny"]
CaMode = Literal["ca", "ra"]
HOST_MASK = IPv4Address("255.255.255.255")


# --- interfaces ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interface:
    """``nameif HW NAME securityN``, ``interface HW SPEED [shutdown]``, ``mtu NAME N``,
    ``ip address NAME A M`` | ``ip address NAME dhcp [setroute]``."""

    hardware_id: str  # ethernet0
    name: str  # outside
    security_level: int  # 0..100
    speed: str | None = None  # 10baset, auto, ... (None: no `interface` line)
    shutdown: bool = False
    mtu: int = 1500
    address: IPv4Address | None = None
    netmask: IPv4Address | None = None
    dhcp: bool = False
    dhcp_setroute: bool = False


# --- access lists -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressMatch:
    """``any`` (0.0.0.0/0.0.0.0), ``host A`` (A/255.255.255.255) or ``A M``."""

    address: IPv4Address
    netmask: IPv4Address

    @cached_property
    def network(self) -> IPv4Network:  # built once: every quick mode matches selectors
        return IPv4Network(f"{self.address}/{self.netmask}", strict=False)

    def matches(self, address: IPv4Address) -> bool:
        return address in self.network


@dataclass(frozen=True)
class PortMatch:
    """``eq P``, ``neq P``, ``lt P``, ``gt P`` or ``range P1 P2`` (names like ``isakmp`` resolved
    to numbers by the parser; the renderer writes numbers)."""

    operator: Literal["eq", "neq", "lt", "gt", "range"]
    low: int
    high: int | None = None  # only for range

    def matches(self, port: int) -> bool:
        if self.operator == "eq":
            return port == self.low
        if self.operator == "neq":
            return port != self.low
        if self.operator == "lt":
            return port < self.low
        if self.operator == "gt":
            return port > self.low
        return self.low <= port <= (self.high if self.high is not None else self.low)


@dataclass(frozen=True)
class AccessListEntry:
    """``access-list NAME permit|deny PROTO SRC [SPORT] DST [DPORT]``."""

    action: AclAction
    protocol: int | None  # IP protocol number; None for ``ip`` (any)
    source: AddressMatch
    destination: AddressMatch
    source_port: PortMatch | None = None
    destination_port: PortMatch | None = None


@dataclass(frozen=True)
class AccessList:
    name: str
    entries: tuple[AccessListEntry, ...]


# --- address pools, NAT, routes, timeouts -------------------------------------------------------


@dataclass(frozen=True)
class IpLocalPool:
    """``ip local pool NAME FIRST-LAST [mask M]``."""

    name: str
    first: IPv4Address
    last: IPv4Address
    mask: IPv4Address | None = None

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1


@dataclass(frozen=True)
class Route:
    """``route IF DEST MASK GATEWAY [METRIC]``."""

    interface: str
    destination: IPv4Address
    netmask: IPv4Address
    gateway: IPv4Address
    metric: int = 1


@dataclass(frozen=True)
class UauthTimeout:
    """``timeout uauth H:MM:SS [absolute|inactivity]``; 0 means no limit."""

    seconds: int = 300
    kind: Literal["absolute", "inactivity"] = "absolute"


# --- AAA ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AaaServerHost:
    """``aaa-server GROUP (IF) host ADDRESS [KEY] [timeout S]``."""

    interface: str
    address: IPv4Address
    key: str | None = None
    timeout: int = 5


@dataclass(frozen=True)
class AaaServerGroup:
    """``aaa-server GROUP protocol NAME`` and its hosts. ``protocol`` is a backend name found by
    plugin (``radius``, ``tacacs+``, ``local``, ``ldap`` or a third party's)."""

    name: str
    protocol: str
    hosts: tuple[AaaServerHost, ...] = ()
    max_failed_attempts: int = 3
    deadtime: int = 10  # minutes
    # Extension keywords (``aaa-server GROUP ldap-base-dn ...`` etc.) for backends with settings
    # the PIX 6.3 syntax has no place for. Sorted (key, value) pairs.
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AaaPorts:
    """``aaa-server radius-authport N`` / ``aaa-server radius-acctport N`` (global on a PIX)."""

    radius_authport: int = 1645
    radius_acctport: int = 1646


@dataclass(frozen=True)
class Username:
    """``username NAME password PW [encrypted|nt-encrypted] [privilege N]``."""

    name: str
    password: str
    encrypted: bool = False
    nt_encrypted: bool = False
    privilege: int = 2


# --- IKE ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IsakmpPolicy:
    """``isakmp policy PRIORITY ...``; the PIX 6.3 defaults for what is not given."""

    priority: int
    authentication: IsakmpAuthentication = "rsa-sig"
    encryption: IsakmpEncryption = "des"
    hash: IsakmpHash = "sha"
    group: int = 1
    lifetime: int = 86400


@dataclass(frozen=True)
class IsakmpKey:
    """``isakmp key KEY address A [netmask M] [no-xauth] [no-config-mode]``."""

    key: str
    address: IPv4Address
    netmask: IPv4Address = HOST_MASK
    no_xauth: bool = False
    no_config_mode: bool = False

    def matches(self, peer: IPv4Address) -> bool:
        return peer in IPv4Network(f"{self.address}/{self.netmask}", strict=False)


DEFAULT_LIMIT_HALF_OPEN = 5000
DEFAULT_LIMIT_HALF_OPEN_PER_PEER = 5  # strongSwan's block_threshold
DEFAULT_LIMIT_SA = 10000
# IPsec SA pairs one phase-1 SA may hold (a client holds 1, 2 while it rekeys): issue 27
DEFAULT_LIMIT_CHILD_SA = 8


@dataclass(frozen=True)
class Isakmp:
    enabled_interfaces: tuple[str, ...] = ()
    identity: IsakmpIdentity = "address"
    nat_traversal: int | None = None  # keepalive seconds when enabled (PIX default 20)
    keepalive: tuple[int, int] | None = None  # (seconds, retry seconds): DPD
    policies: tuple[IsakmpPolicy, ...] = ()  # sorted by priority
    keys: tuple[IsakmpKey, ...] = ()
    # pixgw extensions, ``isakmp limit half-open|half-open-per-peer|sa N``: negotiations not yet
    # past main mode 3 (the only ones a spoofed source can make), unauthenticated ones per source
    # address, and authenticated IKE SAs
    limit_half_open: int = DEFAULT_LIMIT_HALF_OPEN
    limit_half_open_per_peer: int = DEFAULT_LIMIT_HALF_OPEN_PER_PEER
    limit_sa: int = DEFAULT_LIMIT_SA
    limit_child_sa: int = DEFAULT_LIMIT_CHILD_SA

    def key_for(self, peer: IPv4Address) -> IsakmpKey | None:
        """The most specific key whose address/netmask covers *peer* (longest mask wins)."""
        best: IsakmpKey | None = None
        for key in self.keys:
            if key.matches(peer) and (best is None or int(key.netmask) > int(best.netmask)):
                best = key
        return best


# --- IPsec --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransformSet:
    """``crypto ipsec transform-set NAME T1 [T2]`` and ``... NAME mode transport|tunnel``."""

    name: str
    encryption: EspEncryption
    authentication: EspAuthentication | None = None
    mode: TransformMode = "tunnel"

    @property
    def transforms(self) -> tuple[str, ...]:
        return (self.encryption,) if self.authentication is None else (
            self.encryption,
            self.authentication,
        )


@dataclass(frozen=True)
class SaLifetime:
    """``crypto ipsec security-association lifetime seconds S | kilobytes K`` (and the same under a
    map entry with ``set security-association lifetime``)."""

    seconds: int = 28800
    kilobytes: int = 4608000


@dataclass(frozen=True)
class CryptoMapEntry:
    """One sequence number of ``crypto dynamic-map NAME SEQ ...`` or ``crypto map NAME SEQ ...``."""

    sequence: int
    match_address: str | None = None  # access-list name
    transform_sets: tuple[str, ...] = ()
    pfs: int | None = None  # ``set pfs group1|group2|group5`` -> DH group
    peers: tuple[IPv4Address, ...] = ()  # ``set peer A`` (static maps)
    lifetime: SaLifetime | None = None  # ``set security-association lifetime ...``
    dynamic_map: str | None = None  # ``crypto map NAME SEQ ipsec-isakmp dynamic DYN``
    ipsec_isakmp: bool = False  # ``crypto map NAME SEQ ipsec-isakmp`` (static)


@dataclass(frozen=True)
class DynamicMap:
    name: str
    entries: tuple[CryptoMapEntry, ...]  # sorted by sequence


@dataclass(frozen=True)
class CryptoMap:
    name: str
    entries: tuple[CryptoMapEntry, ...]  # sorted by sequence
    client_authentication: str | None = None  # ``crypto map NAME client authentication GRP``
    interfaces: tuple[str, ...] = ()  # ``crypto map NAME interface IF``


@dataclass(frozen=True)
class Crypto:
    transform_sets: tuple[TransformSet, ...] = ()
    sa_lifetime: SaLifetime = SaLifetime()
    dynamic_maps: tuple[DynamicMap, ...] = ()
    maps: tuple[CryptoMap, ...] = ()

    def transform_set(self, name: str) -> TransformSet | None:
        return next((t for t in self.transform_sets if t.name == name), None)

    def dynamic_map(self, name: str) -> DynamicMap | None:
        return next((d for d in self.dynamic_maps if d.name == name), None)


# --- CA -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaIdentity:
    """``ca identity NAME ADDRESS[:PATH] [LDAP-ADDRESS]``; PATH defaults to
    ``/cgi-bin/pkiclient.exe`` on a PIX."""

    name: str
    address: str  # host or IP (no scheme), as written
    path: str = "/cgi-bin/pkiclient.exe"
    ldap_address: str | None = None

    @property
    def url(self) -> str:
        host = self.address if self.address.startswith(("http://", "https://")) else (
            f"http://{self.address}"
        )
        return f"{host}{self.path}"


@dataclass(frozen=True)
class CaConfigure:
    """``ca configure NAME ca|ra RETRY-PERIOD RETRY-COUNT [crloptional]``."""

    name: str
    mode: CaMode
    retry_period: int = 1  # minutes, 1..60
    retry_count: int = 0  # 0 = forever, 0..100
    crl_optional: bool = False


@dataclass(frozen=True)
class Ca:
    identities: tuple[CaIdentity, ...] = ()
    configures: tuple[CaConfigure, ...] = ()
    # Extension: where the ``file`` certificate-authority plugin and ``ca save all`` keep keys and
    # certificates (``ca store DIRECTORY``).
    store: str | None = None
    # ``ca generate rsa key N`` (an exec command on a PIX) kept as configuration: the modulus of
    # the key the gateway generates at startup when it has none yet.
    rsa_key_modulus: int | None = None

    def configure_for(self, name: str) -> CaConfigure | None:
        return next((c for c in self.configures if c.name == name), None)


# --- VPDN (L2TP/PPP) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VpdnGroup:
    """``vpdn group NAME ...``."""

    name: str
    accept_dialin: tuple[Literal["l2tp", "pptp"], ...] = ()
    ppp_authentication: tuple[PppAuthentication, ...] = ()  # in the order the lines came
    ppp_encryption_mppe: str | None = None  # ``ppp encryption mppe 40|128|auto [required]``
    address_pool: str | None = None  # ``client configuration address local POOL``
    dns: tuple[IPv4Address, ...] = ()  # ``client configuration dns A [B]``
    wins: tuple[IPv4Address, ...] = ()  # ``client configuration wins A [B]``
    authentication: str | None = None  # None or "local" (``client authentication local``)
    authentication_aaa: str | None = None  # ``client authentication aaa GROUP``
    accounting: str | None = None  # ``client accounting GROUP``
    l2tp_tunnel_hello: int = 60  # seconds, ``l2tp tunnel hello S`` (10..300)
    # extensions (issue 27): what one client may hold, ``l2tp tunnel|session limit N``
    l2tp_tunnel_limit: int = 4  # L2TP tunnels one IPsec SA carries
    l2tp_session_limit: int = 1  # calls in one tunnel (the PIX takes one)
    # extensions (issue 28; the names of the ASA's group-policy): a user's link ends after this
    # many minutes without an IP packet either way / after this many minutes in all, unless
    # AAA's Idle-Timeout / Session-Timeout for the user says otherwise; None: no limit
    vpn_idle_timeout: int | None = None
    vpn_session_timeout: int | None = None


@dataclass(frozen=True)
class VpdnUsername:
    """``vpdn username NAME password PW [store-local]``."""

    name: str
    password: str
    store_local: bool = False


@dataclass(frozen=True)
class Vpdn:
    groups: tuple[VpdnGroup, ...] = ()
    usernames: tuple[VpdnUsername, ...] = ()
    enabled_interfaces: tuple[str, ...] = ()

    def group(self, name: str) -> VpdnGroup | None:
        return next((g for g in self.groups if g.name == name), None)


# --- logging ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggingHost:
    """``logging host [IF] ADDRESS [tcp|udp/PORT] [format emblem]``."""

    interface: str
    address: IPv4Address
    protocol: Literal["udp", "tcp"] = "udp"
    port: int = 514


@dataclass(frozen=True)
class Logging:
    on: bool = False
    console: LogLevel | None = None
    buffered: LogLevel | None = None
    trap: LogLevel | None = None
    monitor: LogLevel | None = None
    timestamp: bool = False
    buffer_size: int = 4096  # ``logging queue N``: messages kept for ``show logging``
    facility: int = 20
    hosts: tuple[LoggingHost, ...] = ()


# --- management ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManagementAccess:
    """``telnet A M IF`` / ``ssh A M IF``."""

    address: IPv4Address
    netmask: IPv4Address
    interface: str


# --- the whole configuration --------------------------------------------------------------------


@dataclass(frozen=True)
class PixConfig:
    version: str = "6.3(3)"
    hostname: str = "pixfirewall"
    domain_name: str | None = None
    enable_password: str | None = None  # as written after ``enable password`` (hash if encrypted)
    enable_password_encrypted: bool = True
    passwd: str | None = None
    passwd_encrypted: bool = True
    interfaces: tuple[Interface, ...] = ()
    access_lists: tuple[AccessList, ...] = ()
    pools: tuple[IpLocalPool, ...] = ()
    routes: tuple[Route, ...] = ()
    nat_zero_acl: tuple[tuple[str, str], ...] = ()  # (interface, acl) of ``nat (IF) 0 access-list``
    uauth_timeout: UauthTimeout = UauthTimeout()
    aaa_servers: tuple[AaaServerGroup, ...] = ()
    aaa_ports: AaaPorts = AaaPorts()
    usernames: tuple[Username, ...] = ()
    isakmp: Isakmp = Isakmp()
    crypto: Crypto = Crypto()
    ca: Ca = Ca()
    vpdn: Vpdn = Vpdn()
    logging: Logging = Logging()
    sysopt_permit_l2tp: bool = False
    telnet: tuple[ManagementAccess, ...] = ()
    telnet_timeout: int = 5
    ssh: tuple[ManagementAccess, ...] = ()
    ssh_timeout: int = 5
    pager: int | None = 24  # ``no pager`` -> None
    terminal_width: int = 80
    names: bool = False
    # ``name A NAME``: NAME may stand for A in the commands after it. (address, name) pairs.
    address_names: tuple[tuple[IPv4Address, str], ...] = ()
    # Lines kept verbatim and reported as "not supported, ignored" (fixup, floodguard, pdm, ...).
    unsupported: tuple[str, ...] = field(default=())

    # lookups used by every layer ------------------------------------------------------------

    def interface(self, name: str) -> Interface | None:
        return next((i for i in self.interfaces if i.name == name), None)

    def access_list(self, name: str) -> AccessList | None:
        return next((a for a in self.access_lists if a.name == name), None)

    def pool(self, name: str) -> IpLocalPool | None:
        return next((p for p in self.pools if p.name == name), None)

    def aaa_server(self, name: str) -> AaaServerGroup | None:
        return next((g for g in self.aaa_servers if g.name == name), None)
