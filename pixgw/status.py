"""Frozen snapshots of the gateway's state, rendered by the ``show`` commands in :mod:`pixgw.cli`.

The gateway builds these from its registries; renderers are pure functions of them (DESIGN rule
8), so every ``show`` output can be tested without a running gateway. Secrets never go in here.
Each area keeps its snapshots in its own section below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address

# === system ======================================================================================

# === ike =========================================================================================


@dataclass(frozen=True)
class IsakmpSaStatus:
    """One IKE SA for ``show crypto isakmp sa`` (``dst src state pending created``): ``dst`` is
    our address, ``src`` the peer's; ``pending`` counts quick modes in progress, ``created``
    the IPsec SA pairs made under it. The rest is for ``debug``/extension output; no keys."""

    dst: IPv4Address
    src: IPv4Address
    state: str  # MM_NO_STATE | MM_SA_SETUP | MM_KEY_EXCH | QM_IDLE | MM_DELETED
    pending: int = 0
    created: int = 0
    ike_sa_id: bytes = b""
    src_port: int = 500
    dst_port: int = 500
    conn_id: int = 0
    encryption: str = ""
    hash: str = ""
    group: int = 0
    authentication: str = ""
    lifetime: int = 0
    seconds_left: int = 0
    nat_traversal: str = ""  # "", "RFC 3947", "draft-02", "draft-03"
    peer_behind_nat: bool = False
    peer_vendor: str | None = None
    dpd: bool = False


@dataclass(frozen=True)
class IsakmpPolicyStatus:
    """One line group of ``show crypto isakmp policy`` (the configured suites plus the default)."""

    priority: int | None  # None: "Default protection suite"
    encryption: str
    hash: str
    authentication: str
    group: int
    lifetime: int


@dataclass(frozen=True)
class IkeCounters:
    """What the IKE responder dropped (extension)."""

    received: int = 0
    malformed: int = 0
    unknown_sa: int = 0
    retransmissions_answered: int = 0
    retransmissions_sent: int = 0
    proposals_refused: int = 0
    authentication_failed: int = 0
    half_open_expired: int = 0
    fragments_received: int = 0
    # the bounds of issue 25: each refusal by its reason
    half_open_evicted: int = 0  # the oldest half-open SA dropped for a new first message
    half_open_busy: int = 0  # answered once, unrepeated and short-lived: half the bound held
    refused_per_peer: int = 0  # the source at isakmp limit half-open-per-peer, none evictable
    refused_capacity: int = 0  # isakmp limit sa authenticated SAs up
    refused_oversized: int = 0  # a first message larger than any client's
    retransmissions_suppressed: int = 0  # over the half-open retransmission bytes/s
    refusals_unanswered: int = 0  # NO-PROPOSAL-CHOSEN over its answers a second
    # what one peer holding the group key may do to others (issue 27)
    child_sa_refused: int = 0  # a quick mode past isakmp limit child-sa of its phase 1
    delete_spis_ignored: int = 0  # SPIs of a Delete past the first MAX_DELETE_SPIS
    delete_spis_not_own: int = 0  # SPIs of a Delete that name no SA of the sending peer

@dataclass(frozen=True)
class IsakmpStats:
    """``show crypto isakmp stats``: the counters and what the bounds hold now."""

    counters: IkeCounters
    established: int
    half_open: int  # waiting for main mode 3
    negotiating: int  # past message 3, not yet authenticated
    half_open_bytes: int
    sources_negotiating: int
    limit_half_open: int
    limit_half_open_per_peer: int
    limit_sa: int
    limit_child_sa: int = 0
    fragments_pending: int = 0
    fragments_refused: int = 0  # a peer over its reassembly bound
    fragments_evicted: int = 0  # the oldest message, for room
    fragments_expired: int = 0
    send_errors: tuple[tuple[str, int], ...] = ()  # the shell's refused sends, by errno name

# === ipsec / dataplane ===========================================================================


@dataclass(frozen=True)
class SaCounters:
    """What ``show crypto ipsec sa`` prints for one SA pair, as the dataplane counts it."""

    encaps: int = 0
    encrypt: int = 0
    digest: int = 0
    decaps: int = 0
    decrypt: int = 0
    verify: int = 0
    send_errors: int = 0
    recv_errors: int = 0
    replay_failures: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    inbound_seconds_left: int = 0
    outbound_seconds_left: int = 0
    inbound_kilobytes_left: int = 0
    outbound_kilobytes_left: int = 0


@dataclass(frozen=True)
class IpsecSaStatus:
    """One SA pair for ``show crypto ipsec sa`` (``counters`` as the dataplane counts them).
    Selectors are (address, mask, protocol,
    port); no keys here."""

    interface: str
    crypto_map: str
    crypto_map_sequence: int
    local_address: IPv4Address
    remote_address: IPv4Address
    remote_port: int
    local_ident: tuple[IPv4Address, IPv4Address, int, int]
    remote_ident: tuple[IPv4Address, IPv4Address, int, int]
    transform: str  # "esp-des esp-md5-hmac "
    mode: str  # "Transport" | "Tunnel" | "Transport, UDP-Encaps" ...
    inbound_spi: int
    outbound_spi: int
    inbound_conn_id: int
    outbound_conn_id: int
    iv_size: int
    ipsec_overhead: int
    path_mtu: int = 1500
    media_mtu: int = 1500
    counters: SaCounters = SaCounters()
    replay_detection: bool = True


@dataclass(frozen=True)
class DataplaneCounters:
    """Drops the dataplane counted rather than delivered."""

    esp_unknown_spi: int = 0
    esp_malformed: int = 0
    esp_auth_failed: int = 0
    esp_replayed: int = 0
    l2tp_without_ipsec: int = 0  # "PIX does not accept L2TP requests without IPsec protection"
    nat_keepalives: int = 0
    tun_no_session: int = 0
    esp_not_l2tp: int = 0  # decrypted fine, but not UDP to port 1701
    send_no_sa: int = 0  # send_l2tp for a child SA that is gone
    tun_write_failed: int = 0
    ip_source_not_client: int = 0  # send_ip from an address no client route was added for
    sa_install_failed: int = 0  # xfrm: the kernel refused an SA or policy
    esp_before_quick_mode_3: int = 0  # taken in on an SA whose quick mode had not finished
    lifetime_poll_failed: int = 0  # an SA pair's lifetime check raised (logged; the rest go on)
    tun_lost: int = 0  # the TUN device failed under us (then opened again)
    tun_reopened: int = 0


# === l2tp ========================================================================================


@dataclass(frozen=True)
class L2tpTunnelStatus:
    """One L2TP tunnel (``show vpdn tunnel``). Ids are ours (``local_tunnel_id``) and the
    peer's (``remote_tunnel_id``); ``local_address`` is filled by the gateway when the core does
    not know it."""

    local_tunnel_id: int
    remote_tunnel_id: int
    state: str  # idle | wait-ctl-conn | established | shutting-down
    seconds_since_change: int
    remote_address: IPv4Address
    remote_port: int
    remote_host_name: str = ""
    local_address: IPv4Address | None = None
    local_port: int = 1701
    active_sessions: int = 0
    packets_sent: int = 0
    packets_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    control_ns: int = 0
    control_nr: int = 0
    local_rws: int = 8
    remote_rws: int = 4
    retransmit_time: int = 1
    retransmit_time_max: int = 1
    unsent_queue: int = 0
    unsent_queue_max: int = 0
    resend_queue: int = 0
    resend_queue_max: int = 0
    total_resends: int = 0
    zlb_acks: int = 0
    retransmit_distribution: tuple[int, ...] = (0, 0, 0, 0, 0, 0, 0, 0, 0)
    child_sa_id: int | None = None
    outer_port: int = 0


@dataclass(frozen=True)
class L2tpSessionStatus:
    """One L2TP session (``show vpdn session``). ``username`` and ``ppp_interface_id`` come
    from the PPP layer: the gateway fills them (``dataclasses.replace``)."""

    call_id: int  # our session id
    tunnel_id: int  # our tunnel id
    remote_call_id: int
    remote_tunnel_id: int
    remote_host_name: str
    remote_address: IPv4Address
    state: str  # wait-connect | established
    seconds_since_change: int
    interface: str = "outside"
    username: str = ""
    ppp_interface_id: int | None = None
    packets_sent: int = 0
    packets_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    sequencing: bool = False
    # the link's limits (Session-Timeout / Idle-Timeout), seconds left; filled by the gateway
    session_time_left: int | None = None
    idle_time_left: int | None = None


@dataclass(frozen=True)
class L2tpCounters:
    """Datagrams the LNS dropped rather than processed."""

    malformed: int = 0
    unknown_tunnel: int = 0
    unknown_session: int = 0
    unexpected: int = 0
    data_out_of_order: int = 0
    sessions_refused: int = 0
    # what one peer holding the group key may do to others (issue 27)
    tunnels_per_sa_refused: int = 0  # SCCRQ past the tunnels one IPsec SA may carry
    peer_window_clamped: int = 0  # a peer's Receive Window Size above what we hold for it
    queue_overflow: int = 0  # tunnels ended: the peer asked for more than it acknowledged

# === ppp / uauth / pools =========================================================================


@dataclass(frozen=True)
class PppInterfaceStatus:
    """One PPP virtual interface (``show vpdn pppinterface``)."""

    interface_id: int
    authentication: str  # "PAP" | "CHAP" | "MSCHAP" | "MSCHAPV2" | "None"
    client_address: IPv4Address | None
    transmitted_packets: int = 0
    received_packets: int = 0
    error_packets: int = 0
    transmitted_bytes: int = 0
    received_bytes: int = 0
    username: str = ""
    phase: str = "dead"  # dead | establish | authenticate | network | up | terminate
    lcp_state: str = "INITIAL"
    ipcp_state: str = "INITIAL"
    mru: int = 1500
    mppe_key_strength: str = "None"
    spoofed_packets: int = 0  # dropped: source not the client's address (issue 27)


@dataclass(frozen=True)
class UauthEntry:
    """One authenticated (or in-progress) user in ``show uauth``."""

    username: str
    address: IPv4Address | None
    kind: str = "vpdn"  # the PIX prints "vpdn user '...'" for L2TP/PPP users
    authenticated: bool = True
    absolute_remaining: int | None = None  # seconds, for ``timeout uauth``
    inactivity_remaining: int | None = None


@dataclass(frozen=True)
class UauthStatus:
    """``show uauth``: counters (current / most seen) and the users."""

    authenticated_current: int = 0
    authenticated_most: int = 0
    in_progress_current: int = 0
    in_progress_most: int = 0
    entries: tuple[UauthEntry, ...] = ()


@dataclass(frozen=True)
class IpLocalPoolStatus:
    """One ``ip local pool`` for ``show ip local pool [NAME]``."""

    name: str
    first: IPv4Address
    last: IPv4Address
    mask: IPv4Address | None
    free: int
    in_use: int
    in_use_addresses: tuple[IPv4Address, ...] = ()
    available_addresses: tuple[IPv4Address, ...] = ()

# === aaa =========================================================================================


@dataclass(frozen=True)
class AaaServerStatus:
    """One host of an ``aaa-server`` group with its counters (``show aaa-server``)."""

    group: str
    protocol: str
    address: IPv4Address | None
    interface: str = ""
    auth_port: int = 0
    acct_port: int = 0
    timeout: int = 5
    state: str = "ACTIVE"  # ACTIVE | FAILED (last request went unanswered)
    requests: int = 0
    accounting_requests: int = 0
    retransmits: int = 0
    accepts: int = 0
    rejects: int = 0
    challenges: int = 0
    dropped: int = 0  # bad authenticator / Message-Authenticator / malformed
    timeouts: int = 0
    round_trip_ms: int = 0
    unsigned: int = 0  # of the dropped: no or a bad Message-Authenticator (issue 28)


@dataclass(frozen=True)
class UauthDetail:
    """What AAA granted one user (``show uauth`` detail lines); never a key or password."""

    username: str
    server: str = "LOCAL"
    address: IPv4Address | None = None
    session_timeout: int | None = None
    idle_timeout: int | None = None
    mppe_keys: bool = False
    class_count: int = 0


@dataclass(frozen=True)
class AaaStatusSnapshot:
    servers: tuple[AaaServerStatus, ...] = ()
    local_users: int = 0
    accounting_spooled: int = 0  # records waiting in the accounting spool
    accounting_parked: int = 0  # records that can never be sent, in the dead-letter file
    details: tuple[UauthDetail, ...] = ()


# === pki =========================================================================================


@dataclass(frozen=True)
class CaCertificateStatus:
    """One block of ``show crypto ca certificates``: our certificate, the CA's, an RA's."""

    # "Certificate", "CA Certificate", "RA Signature Certificate", "RA KeyEncipher Certificate"
    role: str
    status: str  # "Available" | "Pending"
    serial: str  # hex, lower case, as the PIX prints it
    key_usage: str  # "General Purpose" | "Signature" | "Encryption"
    subject: tuple[tuple[str, str], ...]  # (attribute label, value), most specific first
    not_before: datetime | None = None
    not_after: datetime | None = None
    identity: str = ""  # the ``ca identity`` NAME
    fingerprint: str = ""  # a pending request's fingerprint (``ca enroll`` showed it)


@dataclass(frozen=True)
class CaKeyStatus:
    """``show ca mypubkey rsa``: our key pair (public half only)."""

    name: str  # the gateway's FQDN
    generated: datetime
    public_key_der: bytes  # SubjectPublicKeyInfo
    usage: str = "General Purpose Key"


@dataclass(frozen=True)
class PkiStatusSnapshot:
    certificates: tuple[CaCertificateStatus, ...] = ()
    key: CaKeyStatus | None = None
