"""The wording of the PIX ``debug ppp io``, ``debug ppp error`` and ``debug ppp uauth`` lines.

PIX 6.3 prints PPP debugging per virtual interface; these functions build the lines (pure, no
secrets: passwords, challenges and responses are never shown); the PPP session writes them
through its log sink (``log=``) to the CLI connections that asked for the category.
"""

from __future__ import annotations

from pixgw.ppp.frame import (
    PROTO_CCP,
    PROTO_CHAP,
    PROTO_IP,
    PROTO_IPCP,
    PROTO_IPV6CP,
    PROTO_LCP,
    PROTO_PAP,
)
from pixgw.ppp.fsm import CODE_NAMES

__all__ = ["code_name", "error_line", "io_line", "protocol_name", "uauth_line"]

_PROTOCOL_NAMES = {
    PROTO_LCP: "LCP",
    PROTO_PAP: "PAP",
    PROTO_CHAP: "CHAP",
    PROTO_IPCP: "IPCP",
    PROTO_IPV6CP: "IPV6CP",
    PROTO_CCP: "CCP",
    PROTO_IP: "IP",
}

_CODE_NAMES = {
    PROTO_PAP: {1: "AUTH-REQ", 2: "AUTH-ACK", 3: "AUTH-NAK"},
    PROTO_CHAP: {1: "CHALLENGE", 2: "RESPONSE", 3: "SUCCESS", 4: "FAILURE"},
}
_CP_CODE_NAMES = CODE_NAMES  # RFC 1661 §5, the codes every control protocol shares


def protocol_name(protocol: int) -> str:
    return _PROTOCOL_NAMES.get(protocol, f"0x{protocol:04X}")


def code_name(protocol: int, code: int) -> str:
    return _CODE_NAMES.get(protocol, _CP_CODE_NAMES).get(code, f"code {code}")


def io_line(
    interface_id: int, direction: str, protocol: int, *, code: int, identifier: int, length: int
) -> str:
    """``debug ppp io``: ``PPP virtual interface 1: O LCP CONFREQ id 1 len 18``."""
    return (
        f"PPP virtual interface {interface_id}: {direction} {protocol_name(protocol)} "
        f"{code_name(protocol, code)} id {identifier} len {length}"
    )


def error_line(interface_id: int, text: str) -> str:
    """``debug ppp error``: ``PPP virtual interface 1: malformed LCP packet dropped``."""
    return f"PPP virtual interface {interface_id}: {text}"


def uauth_line(interface_id: int, text: str) -> str:
    """``debug ppp uauth``: ``PPP virtual interface 1: user vpnclient CHAP authentication
    started``."""
    return f"PPP virtual interface {interface_id}: {text}"
