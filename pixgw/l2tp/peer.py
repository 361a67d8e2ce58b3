"""Who an L2TP datagram (RFC 2661 §3.1, over UDP 1701 inside ESP) came from, as the dataplane
hands it to the LNS: the SA it came through and the client's addresses."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address


@dataclass(frozen=True)
class L2tpPeer:
    """Where an L2TP datagram came from: the child SA (None for the kernel dataplane, where the
    kernel has already removed ESP), the client's outer address and port, and the inner UDP
    source port of the L2TP packet (1701, or ephemeral for macOS/iOS)."""

    child_sa_id: int | None
    address: IPv4Address
    outer_port: int
    l2tp_port: int
