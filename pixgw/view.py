"""What ``show`` reads and ``clear`` does: a view of the gateway for :mod:`pixgw.cli`.

The CLI depends on this view, not on the router: :class:`GatewayView` turns the gateway's
registries into the :mod:`pixgw.status` snapshots the renderers take, and hands the ``clear``
commands and ``write memory`` to the gateway. It holds no state of its own.
"""

from __future__ import annotations

import gc
import platform
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import twisted

import pixgw
from pixgw.aaa.snapshot import aaa_status
from pixgw.config.model import PixConfig
from pixgw.config.render import render
from pixgw.gateway import Gateway
from pixgw.links import ActiveSession
from pixgw.logrouter import PixLogRouter
from pixgw.status import (
    DataplaneCounters,
    IpLocalPoolStatus,
    IpsecSaStatus,
    IsakmpSaStatus,
    IsakmpStats,
    L2tpCounters,
    L2tpSessionStatus,
    L2tpTunnelStatus,
    PppInterfaceStatus,
    UauthStatus,
)


@dataclass(frozen=True)
class VersionInfo:
    pixgw: str
    twisted: str
    python: str
    system: str


class GatewayView:
    """The gateway as the CLI sees it (see the module docstring)."""

    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway
        self.log_router: PixLogRouter = gateway.log_router  # both fixed for the process
        self.dataplane_name: str = gateway.dataplane_name

    # --- the system -------------------------------------------------------------------------------

    @property
    def config(self) -> PixConfig:
        return self._gw.config

    @property
    def pki(self) -> Any:
        """pixgw.pki.commands.CaExec, set on the gateway by the service (``ca`` commands)."""
        return self._gw.pki

    def uptime(self) -> float:
        return self._gw.now() - float(self._gw.started_at)

    def running_config(self) -> PixConfig:
        """The configuration in force (``show crypto map``, ``show crypto isakmp policy``)."""
        return self._gw.config

    def running_config_text(self, *, mask_secrets: bool = True) -> str:
        """``show running-config``: keys and passwords as ``********`` (they never appear in
        output); ``write memory`` writes them in clear to the file."""
        return render(self._gw.config, mask_secrets=mask_secrets)

    def memory_status(self) -> tuple[int, int, int, dict[str, Any]]:
        """``show memory``: resident bytes, the host's memory, sessions, the GC's figures."""
        rss = total = 0
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    total = int(line.split()[1]) * 1024
        except OSError:
            pass
        policy = self._gw.gc_policy
        figures: dict[str, Any] = {"policy": "CPython default",
                                   "collections": tuple(c["collections"] for c in gc.get_stats()),
                                   "frozen_objects": gc.get_freeze_count()}
        if policy is not None:
            figures = {**policy.status(), "policy": "survivors frozen after each generation 1 "
                                                    "collection" if policy.freeze else
                                                    "CPython default, pauses measured"}
        return rss, total, len(self._gw.sessions), figures

    def version(self) -> VersionInfo:
        return VersionInfo(
            pixgw=pixgw.__version__,
            twisted=twisted.__version__,
            python=platform.python_version(),
            system=f"{platform.system()} {platform.machine()}",
        )

    def write_memory(self) -> str:
        """``write memory``: the running-config to the config file, atomically."""
        gw = self._gw
        if gw.save_config is None or gw.config_path is None:
            raise OSError("no configuration file to write to")
        gw.save_config(self.running_config_text(mask_secrets=False))
        return gw.config_path

    # --- L2TP and PPP ---------------------------------------------------------------------------

    def l2tp_tunnel_status(self) -> Sequence[L2tpTunnelStatus]:
        return self._gw.l2tp.tunnel_status(self._gw.now())

    def l2tp_session_status(self) -> Sequence[L2tpSessionStatus]:
        by_key = {(a.key.tunnel_id, a.key.session_id): a for a in self._gw.sessions.values()}
        calls = self._gw.l2tp.session_status(self._gw.now())
        return tuple(
            call if (active := by_key.get((call.tunnel_id, call.call_id))) is None
            else self._with_link(call, active)
            for call in calls
        )

    def _with_link(self, call: L2tpSessionStatus, active: ActiveSession) -> L2tpSessionStatus:
        left = self._gw.links.time_left(active)
        return replace(call, username=active.username, ppp_interface_id=active.interface_id,
                       session_time_left=left.session, idle_time_left=left.idle)

    def l2tp_counters(self) -> L2tpCounters:
        return self._gw.l2tp.counters()

    def ppp_interfaces(self) -> Sequence[PppInterfaceStatus]:
        return tuple(replace(a.ppp.status(), spoofed_packets=a.spoofed)
                     for a in self._gw.links.ordered())

    def uauth_status(self) -> UauthStatus:
        return self._gw.links.uauth_status()

    def pool_status(self, *, with_addresses: bool = False) -> Sequence[IpLocalPoolStatus]:
        return self._gw.pools.status(with_addresses=with_addresses)

    def aaa_status(self) -> Any:
        """``show aaa-server``: the AAA backends behind the authenticate/accounting seams."""
        gw = self._gw
        authenticator = getattr(gw.authenticate, "authenticator", None)
        accounting = getattr(gw.accounting, "accounting", None)
        authorizations = [
            a.authorized.attributes
            for a in gw.sessions.values()
            if a.authorized is not None and a.authorized.attributes is not None
        ]
        return aaa_status(
            gw.config,
            [authenticator] if authenticator is not None else [],
            accounting,
            authorizations,
        )

    def clear_vpdn_tunnel(self, tunnel_id: int | None) -> int:
        return self._gw.clear_tunnels(tunnel_id)

    def clear_uauth(self, username: str | None = None) -> int:
        return self._gw.clear_links(username)

    # --- IKE and IPsec ----------------------------------------------------------------------------

    def isakmp_sa_status(self) -> Sequence[IsakmpSaStatus]:
        ike = self._gw.ike
        return ike.isakmp_sa_status(self._gw.now()) if ike is not None else ()

    def isakmp_stats(self) -> IsakmpStats | None:
        ike = self._gw.ike
        if ike is None:
            return None
        stats = ike.isakmp_stats()
        ports = self._gw.ike_ports
        if ports is not None:
            stats = replace(stats, send_errors=tuple(sorted(ports.send_errors.items())))
        return stats

    def dataplane_counters(self) -> DataplaneCounters | None:
        """``show crypto ipsec stats``: the dataplane's drops by reason (None: no dataplane)."""
        dataplane = self._gw.dataplane
        return dataplane.counters() if dataplane is not None else None

    def ipsec_sa_status(self) -> Sequence[IpsecSaStatus]:
        gw = self._gw
        if gw.dataplane is not None and hasattr(gw.dataplane, "snapshot"):
            snapshot: Sequence[IpsecSaStatus] = gw.dataplane.snapshot()
            return snapshot
        return gw.ike.ipsec_sa_status(gw.now()) if gw.ike is not None else ()

    def clear_isakmp_sa(self) -> None:
        """``clear crypto isakmp sa``: every IKE SA deleted (its child SAs and tunnels go too)."""
        self._gw.clear_ike_sas()

    def clear_ipsec_sa(self) -> None:
        """``clear crypto ipsec sa``: every child SA deleted (the L2TP tunnels on them close)."""
        self._gw.clear_child_sas()
