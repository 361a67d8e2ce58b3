"""Frozen snapshots of the gateway's state, rendered by the ``show`` commands in :mod:`pixgw.cli`.

The gateway builds these from its registries; renderers are pure functions of them (DESIGN rule
8), so every ``show`` output can be tested without a running gateway. Secrets never go in here.
Each area keeps its snapshots in its own section below.
"""

from __future__ import annotations

from dataclasses import dataclass  # noqa: F401  (used by the sections below)
from datetime import datetime  # noqa: F401
from ipaddress import IPv4Address  # noqa: F401

# === system ======================================================================================

# === ike =========================================================================================

# === ipsec / dataplane ===========================================================================

# === l2tp ========================================================================================

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

# === pki =========================================================================================
