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

# === aaa =========================================================================================

# === pki =========================================================================================
