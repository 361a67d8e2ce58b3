"""``show crypto ipsec sa`` snapshots (:class:`pixgw.status.IpsecSaStatus`) of an installed SA
pair: RFC 2401 §4.4 SA database entries as the PIX prints them."""

from __future__ import annotations

from ipaddress import IPv4Address

from pixgw.esp.sa import CIPHERS
from pixgw.ike.events import ChildSaEstablished, TrafficSelector
from pixgw.status import IpsecSaStatus, SaCounters

_MODE = {
    "transport": "Transport",
    "tunnel": "Tunnel",
    "udp-transport": "Transport, UDP-Encaps",
    "udp-tunnel": "Tunnel, UDP-Encaps",
}


def _ident(selector: TrafficSelector) -> tuple[IPv4Address, IPv4Address, int, int]:
    span = int(selector.last) - int(selector.first)
    if span == 0:
        mask = IPv4Address("255.255.255.255")
    elif span + 1 & span == 0:
        mask = IPv4Address(0xFFFFFFFF ^ span)
    else:
        mask = IPv4Address("0.0.0.0")
    return selector.first, mask, selector.protocol, selector.port


def ipsec_sa_status(
    event: ChildSaEstablished, counters: SaCounters, overhead: int, interface: str = "outside"
) -> IpsecSaStatus:
    integrity = event.inbound.integrity
    iv = CIPHERS[event.inbound.cipher].block_size
    return IpsecSaStatus(
        interface=interface,
        crypto_map=event.crypto_map,
        crypto_map_sequence=event.crypto_map_sequence,
        local_address=event.local.address,
        remote_address=event.remote.address,
        remote_port=event.remote.port,
        local_ident=_ident(event.local_selector),
        remote_ident=_ident(event.remote_selector),
        transform=f"{event.inbound.cipher} {integrity or ''} ",
        mode=_MODE.get(event.encapsulation, event.encapsulation),
        inbound_spi=event.inbound.spi,
        outbound_spi=event.outbound.spi,
        # The PIX numbers the inbound SA with the child's conn id and the outbound one next.
        inbound_conn_id=event.child_sa_id,
        outbound_conn_id=event.child_sa_id + 1,
        iv_size=iv if iv > 1 else 0,
        # ESP header, IV, worst-case pad, trailer, ICV; + UDP header (RFC 3948); + outer IP (tunnel)
        ipsec_overhead=overhead
        + (8 if event.encapsulation.startswith("udp") else 0)
        + (20 if event.encapsulation.endswith("tunnel") else 0),
        counters=counters,
    )
