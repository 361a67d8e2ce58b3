"""RADIUS as a twisted.cred checker: the Access-Request for PAP, CHAP-MD5, MS-CHAP v1/v2 credentials
and the client (RFC 2865 §5, RFC 2868 Tunnel-*, RFC 2548 MS-CHAP attributes), and what an
Access-Accept grants (RFC 2865 §5.8/§5.25/§5.27/§5.28, RFC 2548 §2.4 MPPE keys) as an
:class:`~pixgw.aaa.interfaces.Authorization`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from ipaddress import IPv4Address
from typing import Any

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, fail
from twisted.python.failure import Failure
from zope.interface import implementer

from pixgw.aaa.credentials import (
    PPP_CREDENTIALS,
    ChapMd5Credentials,
    MsChapV1Credentials,
    MsChapV2Credentials,
    PapCredentials,
)
from pixgw.aaa.interfaces import (
    AuthenticationServerUnreachable,
    Authorization,
    ClientInfo,
)
from pixgw.aaa.radius.client import (
    RadiusClient,
    RadiusServer,
)
from pixgw.aaa.radius.codec import (
    ACCESS_ACCEPT,
    ACCESS_CHALLENGE,
    ACCESS_REQUEST,
    RadiusReply,
    UnencodableRequest,
    salt_decrypt,
    unhide,
)
from pixgw.aaa.realm import CheckedLogin


def request_attributes(
    credentials: Any, client: ClientInfo, nas_identifier: str = ""
) -> list[tuple[str, Any]]:
    """The Access-Request attributes for one PPP authentication (RFC 2865 §5, RFC 2548 §2.3,
    RFC 2868 §3)."""
    attrs: list[tuple[str, Any]] = [("User-Name", credentials.username)]
    if isinstance(credentials, PapCredentials):
        attrs.append(("User-Password", credentials.password.encode("utf-8")))
    elif isinstance(credentials, ChapMd5Credentials):
        ident = bytes([credentials.identifier & 0xFF])
        attrs.append(("CHAP-Password", ident + credentials.response))
        attrs.append(("CHAP-Challenge", credentials.challenge))
    elif isinstance(credentials, MsChapV1Credentials):
        if len(credentials.response) != 49:
            raise UnauthorizedLogin("MS-CHAP response is not 49 bytes")
        flags = credentials.response[48]
        attrs.append(("MS-CHAP-Challenge", credentials.challenge))
        attrs.append(
            (
                "MS-CHAP-Response",
                bytes([credentials.identifier & 0xFF, flags]) + credentials.response[:48],
            )
        )
    elif isinstance(credentials, MsChapV2Credentials):
        attrs.append(("MS-CHAP-Challenge", credentials.authenticator_challenge))
        attrs.append(
            (
                "MS-CHAP2-Response",
                bytes([credentials.identifier & 0xFF, 0])
                + credentials.peer_challenge
                + bytes(8)
                + credentials.nt_response,
            )
        )
    else:
        raise UnauthorizedLogin("unsupported credentials")
    attrs += client_attributes(client, nas_identifier)
    attrs += [
        ("Service-Type", "Framed-User"),
        ("Framed-Protocol", "PPP"),
    ]
    return attrs


def client_attributes(client: ClientInfo, nas_identifier: str = "") -> list[tuple[str, Any]]:
    attrs: list[tuple[str, Any]] = []
    if client.nas_address is not None:
        attrs.append(("NAS-IP-Address", str(client.nas_address)))
    if nas_identifier:
        attrs.append(("NAS-Identifier", nas_identifier))
    attrs.append(("NAS-Port", client.nas_port))
    attrs.append(("NAS-Port-Type", "Virtual"))
    if client.outer_address is not None:
        attrs.append(("Calling-Station-Id", str(client.outer_address)))
    if client.called_station:
        attrs.append(("Called-Station-Id", client.called_station))
    if client.tunnel_type == "L2TP":
        attrs.append(("Tunnel-Type", "L2TP"))
        attrs.append(("Tunnel-Medium-Type", "IPv4"))
    if client.tunnel_client_endpoint:
        attrs.append(("Tunnel-Client-Endpoint", client.tunnel_client_endpoint))
    if client.tunnel_server_endpoint:
        attrs.append(("Tunnel-Server-Endpoint", client.tunnel_server_endpoint))
    if client.tunnel_assignment_id:
        attrs.append(("Tunnel-Assignment-Id", client.tunnel_assignment_id))
    return attrs


def authorization_from_accept(
    reply: RadiusReply, credentials: Any, server: RadiusServer
) -> Authorization:
    """Apply an Access-Accept (RFC 2865 §5.8/§5.25/§5.27/§5.28, RFC 2548 §2.3.3/§2.4/§2.7)."""

    def address(name: str) -> IPv4Address | None:
        value = reply.first(name)
        return IPv4Address(value) if value is not None else None

    def integer(name: str) -> int | None:
        value = reply.first(name)
        return value if isinstance(value, int) else None

    success: str | None = None
    blob = reply.first("MS-CHAP2-Success")
    if isinstance(credentials, MsChapV2Credentials):
        if not isinstance(blob, bytes) or len(blob) < 43:
            raise UnauthorizedLogin("Access-Accept without MS-CHAP2-Success")
        success = blob[1:43].decode("ascii", "replace")
    keys: list[bytes | None] = []
    for name in ("MS-MPPE-Send-Key", "MS-MPPE-Recv-Key"):
        value = reply.first(name)
        if isinstance(value, bytes):
            try:
                keys.append(salt_decrypt(value, server.secret, reply.request_authenticator))
            except ValueError:
                keys.append(None)
        else:
            keys.append(None)
    v1_keys = reply.first("MS-CHAP-MPPE-Keys")
    if isinstance(credentials, MsChapV1Credentials) and isinstance(v1_keys, bytes):
        try:
            # RFC 2548 §2.4.1: LM key (8), NT key (16, MD4 of the NT hash), padding (8)
            nt_key = unhide(v1_keys, server.secret, reply.request_authenticator)[8:24]
            # RFC 3079 §2.4 GetStartKey from that NT key and the challenge; symmetric
            start = hashlib.sha1(nt_key + nt_key + credentials.challenge).digest()[:16]  # noqa: S324
            keys = [start, start]
        except ValueError:
            pass
    dns = tuple(
        a for a in (address("MS-Primary-DNS-Server"), address("MS-Secondary-DNS-Server")) if a
    )
    wins = tuple(
        a for a in (address("MS-Primary-NBNS-Server"), address("MS-Secondary-NBNS-Server")) if a
    )
    framed = address("Framed-IP-Address")
    if framed is not None and (
        framed == IPv4Address("255.255.255.254") or framed == IPv4Address("255.255.255.255")
    ):
        framed = None  # RFC 2865 §5.8: "the NAS should select" / "let the user select"
    return Authorization(
        username=credentials.username,
        address=framed,
        dns=dns,
        wins=wins,
        session_timeout=integer("Session-Timeout"),
        idle_timeout=integer("Idle-Timeout"),
        class_attribute=tuple(v for v in reply.attributes.get("Class", []) if isinstance(v, bytes)),
        mschapv2_authenticator_response=success,
        mppe_send_key=keys[0],
        mppe_recv_key=keys[1],
        reply_message="".join(str(v) for v in reply.attributes.get("Reply-Message", [])),
        interim_interval=integer("Acct-Interim-Interval"),
        server=f"RADIUS {server.label}",
    )


@implementer(ICredentialsChecker)
class RadiusChecker:
    """One RADIUS server of a group as a twisted.cred checker (a :class:`CheckerChain` over the
    group's hosts gives failover): an Access-Accept is a :class:`CheckedLogin` carrying the
    authorization it grants."""

    credentialInterfaces = PPP_CREDENTIALS

    def __init__(
        self,
        client: RadiusClient,
        server: RadiusServer,
        name: str = "RADIUS",
        nas_identifier: str = "",
    ) -> None:
        self.client = client
        self.server = server
        self.name = name
        self.nas_identifier = nas_identifier

    def requestAvatarId(self, credentials: Any) -> Deferred[Any]:
        try:
            attrs = request_attributes(credentials, credentials.client or ClientInfo(),
                                       self.nas_identifier)
        except UnauthorizedLogin as e:
            return fail(e)
        counters = self.client.counter(self.server)
        if counters.dead_until > self.client.reactor.seconds():
            return fail(
                AuthenticationServerUnreachable(f"{self.server.label} is FAILED (deadtime)")
            )
        d = self.client.request(self.server, ACCESS_REQUEST, attrs)

        def answered(reply: RadiusReply) -> CheckedLogin:
            if reply.code == ACCESS_ACCEPT:
                authorization = authorization_from_accept(reply, credentials, self.server)
                return CheckedLogin(credentials.username, authorization.server, authorization)
            message = "".join(str(v) for v in reply.attributes.get("Reply-Message", []))
            if reply.code == ACCESS_CHALLENGE:
                raise UnauthorizedLogin("Access-Challenge is not supported for PPP")
            raise UnauthorizedLogin(message or "Access-Reject")

        def unencodable(failure: Failure) -> Failure:
            if not isinstance(failure.value, UnencodableRequest):
                return failure
            # a refusal, never a server outage (the chain must not try the next server)
            raise UnauthorizedLogin(f"RADIUS request cannot be encoded: {failure.value}")

        result: Deferred[CheckedLogin] = d.addCallbacks(answered, unencodable)
        return result


def servers_of(
    hosts: Iterable[Any],
    auth_port: int,
    acct_port: int,
    retries: int,
    *,
    max_failed_attempts: int = 3,
    deadtime_minutes: int = 10,
    require_message_authenticator: bool = True,
) -> list[RadiusServer]:
    return [
        RadiusServer(
            h.address,
            (h.key or "").encode("utf-8"),
            auth_port,
            acct_port,
            float(h.timeout),
            retries,
            max_failed_attempts,
            deadtime_minutes * 60.0,
            require_message_authenticator,
        )
        for h in hosts
    ]
