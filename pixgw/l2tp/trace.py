"""The wording of ``debug vpdn error|packet|event`` lines for L2TP (RFC 2661 message names).

The PIX 6.3 reference shows no ``debug vpdn`` output; the wording follows the Cisco VPDN debug
style of the same era (``Tnl 4 L2TP: I SCCRQ from zaahmed-pc tnl 19``,
``Tnl/Cl 4/4 L2TP: Session state change from wait-connect to established``). The core writes
them through its log sink; :mod:`pixgw.cli.vpdn` re-exports them. No secret is formatted here.
"""

from __future__ import annotations

__all__ = ["error_line", "event_line", "packet_line", "prefix"]


def prefix(tunnel_id: int, session_id: int | None = None) -> str:
    if session_id is None:
        return f"Tnl {tunnel_id} L2TP:"
    return f"Tnl/Cl {tunnel_id}/{session_id} L2TP:"


def packet_line(  # noqa: PLR0917
    direction: str,
    name: str,
    tunnel_id: int,
    session_id: int | None,
    peer_name: str,
    remote_tunnel_id: int,
    ns: int,
    nr: int,
    length: int,
) -> str:
    """``Tnl 4 L2TP: O SCCRP to zaahmed-pc tnlid 19 Ns 0 Nr 1 len 97``"""
    word = "from" if direction == "I" else "to"
    who = f" {word} {peer_name}" if peer_name else ""
    return (
        f"{prefix(tunnel_id, session_id)} {direction} {name}{who} tnl {remote_tunnel_id}"
        f" Ns {ns} Nr {nr} len {length}"
    )


def event_line(tunnel_id: int, session_id: int | None, text: str) -> str:
    return f"{prefix(tunnel_id, session_id)} {text}"


def error_line(tunnel_id: int | None, session_id: int | None, text: str) -> str:
    if tunnel_id is None:
        return f"L2TP: {text}"
    return f"{prefix(tunnel_id, session_id)} {text}"
