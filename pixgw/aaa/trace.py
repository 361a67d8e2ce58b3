"""``debug radius`` wording (RFC 2865 §4 packet names, §5 attribute names): one head line per
packet and one indented line per attribute; secret or replayable values are never printed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["HIDDEN_ATTRIBUTES", "radius_debug_text"]

# Attributes whose values are secret or replayable: shown as <hidden> by ``debug radius``.
HIDDEN_ATTRIBUTES = frozenset(
    {
        "User-Password",
        "CHAP-Password",
        "Tunnel-Password",
        "MS-CHAP-Response",
        "MS-CHAP2-Response",
        "MS-CHAP2-Success",
        "MS-MPPE-Send-Key",
        "MS-MPPE-Recv-Key",
        "MS-CHAP-MPPE-Keys",
        "Message-Authenticator",
    }
)


def _value(name: str, value: Any) -> str:
    if name in HIDDEN_ATTRIBUTES:
        return "<hidden>"
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def radius_debug_text(
    direction: str,
    packet: str,
    identifier: int,
    *,
    peer: str,
    port: int,
    attributes: Iterable[tuple[str, Any]],
) -> str:
    """``debug radius``: ``RADIUS: send Access-Request id 7 to 10.0.0.5:1645`` and one
    ``        Name = value`` line per attribute, secrets hidden."""
    preposition = "to" if direction == "send" else "from"
    head = f"RADIUS: {direction} {packet} id {identifier} {preposition} {peer}:{port}"
    return head + "".join(f"\n        {n} = {_value(n, v)}" for n, v in attributes)


