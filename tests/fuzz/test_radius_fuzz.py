"""Hostile RADIUS replies (RFC 2865 §3/§5): the attribute decoder raises only ValueError, and
the client, even for a correctly signed reply with a garbage attribute section, either takes it
or drops it — nothing reaches the reactor, and an Accept's attributes never crash the
authorization step."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import struct
from ipaddress import IPv4Address
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from pixgw.aaa.credentials import MsChapV2Credentials, PapCredentials
from pixgw.aaa.interfaces import ClientInfo
from pixgw.aaa.radius import (
    RadiusChecker,
    RadiusClient,
    RadiusServer,
    decode_attributes,
    load_dictionary,
)
from pixgw.aaa.realm import PortalAuthenticator

SECRET = b"fuzz"
DICT = load_dictionary()


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_decoder_raises_only_value_error(body: bytes) -> None:
    with contextlib.suppress(ValueError):
        decode_attributes(DICT, 2, body)


class _Transport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def write(self, data: bytes, addr: Any) -> None:
        self.sent.append(data)


def signed_reply(request: bytes, code: int, body: bytes, with_ma: bool) -> bytes:
    if with_ma:
        body = b"\x50\x12" + bytes(16) + body
    header = struct.pack("!BBH", code, request[1], 20 + len(body))
    if with_ma:
        ma = hmac.new(SECRET, header + request[4:20] + body, hashlib.md5).digest()
        body = body[:2] + ma + body[18:]
    auth = hashlib.md5(header + request[4:20] + body + SECRET).digest()
    return header + auth + body


@given(
    code=st.sampled_from([2, 3, 5, 11, 42]),
    body=st.binary(max_size=200),
    with_ma=st.booleans(),
    v2=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_client_survives_signed_garbage(code: int, body: bytes, with_ma: bool, v2: bool) -> None:
    clock = Clock()
    client = RadiusClient(clock)
    transport = _Transport()
    client.transport = transport  # type: ignore[assignment]
    server = RadiusServer(IPv4Address("127.0.0.1"), SECRET, 1812, 1813, timeout=1, retries=0)
    creds: Any = (
        MsChapV2Credentials("u", bytes(16), bytes(16), bytes(24))
        if v2
        else PapCredentials("u", "p")
    )
    out: list[Any] = []
    client._port = object()  # already "listening"
    PortalAuthenticator("RADIUS", RadiusChecker(client, server)).authenticate(
        creds, ClientInfo()
    ).addBoth(out.append)
    (request,) = transport.sent
    client.datagramReceived(signed_reply(request, code, body, with_ma), ("127.0.0.1", 1812))
    client.datagramReceived(body, ("127.0.0.1", 1812))
    clock.advance(2)
    assert len(out) == 1  # answered, refused, or timed out: always exactly one outcome
    for failure in out:
        if hasattr(failure, "trap"):
            assert failure.check(Exception)
