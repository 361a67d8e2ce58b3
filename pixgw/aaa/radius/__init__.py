"""RADIUS (RFC 2865 access, RFC 2866 accounting, RFC 2868 tunnel attributes, RFC 2869 §5.19 /
RFC 3579 §3.2 Message-Authenticator on every request and required on every Access reply, RFC
2548 MS-CHAP attributes and MPPE keys, RFC 5080 §2.2.1 retransmissions), one concept a module:
:mod:`~pixgw.aaa.radius.codec` (the packet, pure and fuzzable), :mod:`~pixgw.aaa.radius.client`
(Twisted UDP, retransmission, failover, counters) and :mod:`~pixgw.aaa.radius.authorization`
(the checker: requests from credentials, authorizations from Access-Accepts)."""

from pixgw.aaa.radius.authorization import (
    RadiusChecker,
    authorization_from_accept,
    client_attributes,
    request_attributes,
    servers_of,
)
from pixgw.aaa.radius.client import RadiusClient, RadiusCounters, RadiusServer
from pixgw.aaa.radius.codec import (
    ACCESS_ACCEPT,
    ACCESS_CHALLENGE,
    ACCESS_REJECT,
    ACCESS_REQUEST,
    ACCOUNTING_REQUEST,
    ACCOUNTING_RESPONSE,
    RadiusReply,
    UnencodableRequest,
    build_packet,
    check_reply,
    decode_attributes,
    default_dictionary_path,
    encode_attributes,
    hide_password,
    load_dictionary,
    message_authenticator,
    salt_decrypt,
    unhide,
)

__all__ = [
    "ACCESS_ACCEPT",
    "ACCESS_CHALLENGE",
    "ACCESS_REJECT",
    "ACCESS_REQUEST",
    "ACCOUNTING_REQUEST",
    "ACCOUNTING_RESPONSE",
    "RadiusChecker",
    "RadiusClient",
    "RadiusCounters",
    "RadiusReply",
    "RadiusServer",
    "UnencodableRequest",
    "authorization_from_accept",
    "build_packet",
    "check_reply",
    "client_attributes",
    "decode_attributes",
    "default_dictionary_path",
    "encode_attributes",
    "hide_password",
    "load_dictionary",
    "message_authenticator",
    "request_attributes",
    "salt_decrypt",
    "servers_of",
    "unhide",
]
