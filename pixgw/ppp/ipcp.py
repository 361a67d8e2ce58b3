"""IPCP: the IP Control Protocol, gateway side.

- RFC 1332 §3: IPCP packets (RFC 1661 codes 1-7); §3.2 IP-Compression-Protocol (Rejected: no
  Van Jacobson compression here); §3.3 IP-Address: the peer's 0.0.0.0 (or any address other
  than the one assigned) is Nak'ed with the assigned address; our own link address goes in
  our Configure-Request. RFC 1172 IP-Addresses (type 1, deprecated) is Rejected.
- RFC 1877 §1.1-§1.4: Primary/Secondary DNS (129/131) and Primary/Secondary NBNS (WINS,
  130/132): a request is Nak'ed with the configured value, or Rejected when none is configured.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from ipaddress import IPv4Address

from pixgw.ppp.frame import PROTO_IPCP, Option
from pixgw.ppp.fsm import (
    DEFAULT_LIMITS,
    ControlProtocol,
    RequestVerdict,
    RestartLimits,
    weak_hook,
)

__all__ = ["IpcpLayer"]

OPT_IP_ADDRESSES = 1
OPT_IP_COMPRESSION = 2
OPT_IP_ADDRESS = 3
OPT_PRIMARY_DNS = 129
OPT_PRIMARY_NBNS = 130
OPT_SECONDARY_DNS = 131
OPT_SECONDARY_NBNS = 132


class IpcpLayer(ControlProtocol):
    name = "IPCP"
    protocol = PROTO_IPCP

    def __init__(
        self,
        *,
        local_address: IPv4Address | None,
        dns: Sequence[IPv4Address] = (),
        wins: Sequence[IPv4Address] = (),
        on_up: Callable[[float], None] | None = None,
        on_down: Callable[[float, str], None] | None = None,
        limits: RestartLimits = DEFAULT_LIMITS,
        trace: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(limits=limits, trace=trace)
        self.local_address = local_address
        self.peer_address: IPv4Address | None = None
        self._servers: dict[int, IPv4Address] = {}
        for kind, values in (
            ((OPT_PRIMARY_DNS, OPT_SECONDARY_DNS), tuple(dns)),
            ((OPT_PRIMARY_NBNS, OPT_SECONDARY_NBNS), tuple(wins)),
        ):
            for option_type, address in zip(kind, values, strict=False):
                self._servers[option_type] = address
        self.negotiated_servers: dict[int, IPv4Address] = {}
        self._send_address = local_address is not None
        self._on_up = weak_hook(on_up)
        self._on_down = weak_hook(on_down)

    @property
    def dns(self) -> tuple[IPv4Address, ...]:
        return tuple(
            self.negotiated_servers[t]
            for t in (OPT_PRIMARY_DNS, OPT_SECONDARY_DNS)
            if t in self.negotiated_servers
        )

    @property
    def wins(self) -> tuple[IPv4Address, ...]:
        return tuple(
            self.negotiated_servers[t]
            for t in (OPT_PRIMARY_NBNS, OPT_SECONDARY_NBNS)
            if t in self.negotiated_servers
        )

    def request_options(self) -> list[Option]:
        if self._send_address and self.local_address is not None:
            return [Option(OPT_IP_ADDRESS, self.local_address.packed)]
        return []

    def apply_reject(self, options: tuple[Option, ...]) -> None:
        if any(o.type == OPT_IP_ADDRESS for o in options):
            self._send_address = False

    def check_request(self, options: tuple[Option, ...]) -> RequestVerdict:
        rejects: list[Option] = []
        naks: list[Option] = []
        address: IPv4Address | None = None
        servers: dict[int, IPv4Address] = {}
        for option in options:
            kind, data = option.type, option.data
            if kind == OPT_IP_ADDRESS and len(data) == 4:
                asked = IPv4Address(data)
                if self.peer_address is None:
                    rejects.append(option)  # nothing to give; the session closes instead
                elif asked != self.peer_address:
                    naks.append(Option(OPT_IP_ADDRESS, self.peer_address.packed))
                else:
                    address = asked
            elif kind in self._servers_types() and len(data) == 4:
                configured = self._servers.get(kind)
                if configured is None:
                    rejects.append(option)
                elif IPv4Address(data) != configured:
                    naks.append(Option(kind, configured.packed))
                else:
                    servers[kind] = configured
            else:
                # IP-Compression-Protocol, IP-Addresses, bad lengths, unknown options.
                rejects.append(option)
        if refused := RequestVerdict.refusal(rejects, naks):
            return refused
        if address is None and self.peer_address is not None:
            # RFC 1332 §3.3: the peer did not ask; Nak the option in to give it its address.
            return RequestVerdict("nak", (Option(OPT_IP_ADDRESS, self.peer_address.packed),))
        self.negotiated_servers = servers
        return RequestVerdict("ack")

    @staticmethod
    def _servers_types() -> tuple[int, ...]:
        return (OPT_PRIMARY_DNS, OPT_PRIMARY_NBNS, OPT_SECONDARY_DNS, OPT_SECONDARY_NBNS)

    def layer_up(self, now: float) -> None:
        if self._on_up is not None:
            self._on_up(now)

    def layer_down(self, now: float) -> None:
        if self._on_down is not None:
            self._on_down(now, "IPCP down")

    def layer_finished(self, now: float) -> None:
        if self._on_down is not None:
            self._on_down(now, "IPCP finished")
