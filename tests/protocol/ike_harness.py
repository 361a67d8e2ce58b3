"""Back-to-back harness: an :class:`IkeResponder` and the testing initiator joined by a simulated
path (optionally through a NAT), a PIX config builder, certificates, and a log capture."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from pixgw import syslog
from pixgw.config.model import (
    AccessList,
    AccessListEntry,
    AddressMatch,
    Crypto,
    CryptoMap,
    CryptoMapEntry,
    DynamicMap,
    Interface,
    Isakmp,
    IsakmpIdentity,
    IsakmpKey,
    IsakmpPolicy,
    PixConfig,
    PortMatch,
    SaLifetime,
    TransformSet,
)
from pixgw.ike import constants as c
from pixgw.ike.certauth import InMemoryCertificateSource
from pixgw.ike.core import IkeResponder
from pixgw.ike.events import (
    QUICK_MODE_ABANDONED,
    ChildSaDeleted,
    ChildSaEstablished,
    ChildSaPending,
    Endpoint,
    IkeEvent,
)
from pixgw.testing.ike_initiator import IkeInitiator, InitiatorProfile

GATEWAY = IPv4Address("192.0.2.1")
CLIENT = IPv4Address("198.51.100.7")
CLIENT_PRIVATE = IPv4Address("10.0.0.2")
NAT_PUBLIC = IPv4Address("203.0.113.5")
ZERO = IPv4Address("0.0.0.0")
ANY = AddressMatch(ZERO, ZERO)
DEFAULT_LIFETIME = SaLifetime(3600, 4608000)


def pix_config(
    *,
    policies: tuple[IsakmpPolicy, ...] = (IsakmpPolicy(10, "pre-share", "aes-256", "sha", 20),),
    transform_sets: tuple[TransformSet, ...] = (
        TransformSet("aes", "esp-aes-256", "esp-sha-hmac", "transport"),
        TransformSet("3des", "esp-3des", "esp-sha-hmac", "transport"),
    ),
    acl: AccessList | None = None,
    key: str = "s3cret",
    key_address: IPv4Address = ZERO,
    key_netmask: IPv4Address = ZERO,
    sa_lifetime: SaLifetime = DEFAULT_LIFETIME,
    pfs: int | None = None,
    keepalive: tuple[int, int] | None = None,
    with_map: bool = True,
    identity: IsakmpIdentity = "address",
) -> PixConfig:
    if acl is None:
        acl = AccessList(
            "l2tp",
            (
                AccessListEntry(
                    "permit",
                    17,
                    AddressMatch(GATEWAY, IPv4Address("255.255.255.255")),
                    ANY,
                    destination_port=None,
                    source_port=PortMatch("eq", 1701),
                ),
            ),
        )
    dyn = DynamicMap(
        "dyna",
        (
            CryptoMapEntry(
                20,
                match_address=acl.name,
                transform_sets=tuple(t.name for t in transform_sets),
                pfs=pfs,
            ),
        ),
    )
    maps = (
        (CryptoMap("mymap", (CryptoMapEntry(10, dynamic_map="dyna"),), interfaces=("outside",)),)
        if with_map
        else ()
    )
    return PixConfig(
        interfaces=(
            Interface(
                "ethernet0", "outside", 0, address=GATEWAY, netmask=IPv4Address("255.255.255.0")
            ),
        ),
        access_lists=(acl,),
        isakmp=Isakmp(
            enabled_interfaces=("outside",),
            policies=policies,
            keys=(IsakmpKey(key, key_address, key_netmask),),
            keepalive=keepalive,
            identity=identity,
        ),
        crypto=Crypto(
            transform_sets=transform_sets, sa_lifetime=sa_lifetime, dynamic_maps=(dyn,), maps=maps
        ),
    )


class Responder(IkeResponder):
    """The core, with :class:`ChildSaPending` (quick mode message 2 sent) kept aside in
    ``pending`` so that tests read the events that follow it directly; each one is checked to be
    the very pair the matching ChildSaEstablished or abandoning ChildSaDeleted names."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending: list[ChildSaPending] = []
        self._announced: dict[int, ChildSaEstablished] = {}

    def next_event(self) -> IkeEvent | None:
        event = super().next_event()
        while isinstance(event, ChildSaPending):
            assert event.sa.child_sa_id not in self._announced
            self.pending.append(event)
            self._announced[event.sa.child_sa_id] = event.sa
            event = super().next_event()
        if isinstance(event, ChildSaEstablished):
            assert self._announced.pop(event.child_sa_id) == event, "not the pair announced"
        elif isinstance(event, ChildSaDeleted) and event.reason == QUICK_MODE_ABANDONED:
            announced = self._announced.pop(event.child_sa_id)
            assert (announced.inbound.spi, announced.outbound.spi) == (
                event.inbound_spi,
                event.outbound_spi,
            )
        return event


@dataclass
class Path:
    """Carries datagrams between the initiator's view and the responder's, through a NAT when
    *nat* (the initiator then sits on a private address, mapped to NAT_PUBLIC)."""

    responder: Responder
    initiator: IkeInitiator
    nat: bool = False
    nat_base_port: int = 40000
    log: list[bytes] = field(default_factory=list)

    def responder_view(self) -> tuple[Endpoint, Endpoint]:
        i_local = self.initiator.local
        local = Endpoint(GATEWAY, self.initiator.remote.port)
        if self.nat:
            port = self.nat_base_port + (1 if i_local.port == c.NATT_PORT else 0)
            return local, Endpoint(NAT_PUBLIC, port)
        return local, i_local

    def send(self, data: bytes, now: float) -> list[bytes]:
        local, remote = self.responder_view()
        self.responder.receive_datagram(data, local, remote, now)
        return self.collect(now)

    def collect(self, now: float) -> list[bytes]:
        out = []
        local, remote = self.responder_view()
        for data, src, dst in self.responder.datagrams_to_send(now):
            assert src == local, (src, local)
            assert dst == remote, (dst, remote)
            out.append(data)
        return out


def make_pair(
    config: PixConfig,
    profile: InitiatorProfile,
    *,
    nat: bool = False,
    certificates: InMemoryCertificateSource | None = None,
    nat_base_port: int = 40000,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> Path:
    """An initiator and a responder, connected; ``random_bytes`` for both (the fuzz targets
    pass a deterministic one: an input gives the same run every time)."""
    responder = Responder(config, random_bytes=random_bytes, certificates=certificates)
    own = CLIENT_PRIVATE if nat else CLIENT
    initiator = IkeInitiator(profile, Endpoint(own, 500), Endpoint(GATEWAY, 500), random_bytes)
    return Path(responder, initiator, nat, nat_base_port)


def main_mode(path: Path, now: float = 1000.0) -> None:
    msg: bytes | None = path.initiator.main_mode_1()
    for _ in range(3):
        assert msg is not None
        replies: list[bytes] = []
        for piece in path.initiator.fragments_of(msg):
            replies += path.send(piece, now)
        fragmented = len(replies) > 1 and all(r[16] == c.PT_FRAGMENT for r in replies)
        assert len(replies) == 1 or fragmented, f"responder answered {len(replies)} datagrams"
        answers = [path.initiator.receive(r) for r in replies]
        assert all(a is None for a in answers[:-1])
        msg = answers[-1]
    assert msg is None
    assert path.initiator.state == "established"


def quick_mode(path: Path, now: float = 1000.0, **kwargs: Any) -> list[bytes]:
    qm1 = path.initiator.quick_mode_1(**kwargs)
    replies = path.send(qm1, now)
    if len(replies) != 1:
        return replies
    qm3 = path.initiator.receive(replies[0])
    if qm3 is None:  # an informational answer (refusal)
        return replies
    return path.send(qm3, now)


# --- certificates -------------------------------------------------------------------------------


@dataclass
class TestPki:
    ca_der: bytes
    gateway_chain: tuple[bytes, ...]
    gateway_key: rsa.RSAPrivateKey
    client_chain: tuple[bytes, ...]
    client_key: rsa.RSAPrivateKey

    def responder_source(self) -> InMemoryCertificateSource:
        return InMemoryCertificateSource(self.gateway_chain, self.gateway_key, (self.ca_der,))


def _cert(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: str,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
    san: IPv4Address | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(san)]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


_PKI: TestPki | None = None


def test_pki() -> TestPki:
    global _PKI
    if _PKI is None:
        from cryptography.hazmat.primitives.serialization import Encoding

        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        gw_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cl_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca = _cert("pixgw test CA", ca_key, "pixgw test CA", ca_key, ca=True)
        gw = _cert("gateway", gw_key, "pixgw test CA", ca_key, ca=False, san=GATEWAY)
        cl = _cert("client", cl_key, "pixgw test CA", ca_key, ca=False)
        _PKI = TestPki(
            ca.public_bytes(Encoding.DER),
            (gw.public_bytes(Encoding.DER),),
            gw_key,
            (cl.public_bytes(Encoding.DER),),
            cl_key,
        )
    return _PKI


test_pki.__test__ = False  # type: ignore[attr-defined]


# --- logs ---------------------------------------------------------------------------------------


@contextmanager
def captured_logs() -> Iterator[list[str]]:
    lines: list[str] = []

    def observer(event: dict[str, Any]) -> None:
        if "pix_line" in event:
            lines.append(str(event["pix_line"]))
        elif "pix_debug_text" in event:
            lines.append(str(event["pix_debug_text"]))

    syslog.add_observer(observer)  # type: ignore[arg-type]
    try:
        yield lines
    finally:
        syslog.remove_observer(observer)  # type: ignore[arg-type]
