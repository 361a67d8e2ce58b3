"""The gateway: the registries of what is up, and the routing of events between the layers.

One :class:`Gateway` per process. It holds the loaded configuration, the log router and the
clock; the protocol layers (IKE, dataplane, L2TP, PPP, AAA, PKI) are attached to it by
:mod:`pixgw.tap`, and every ``show`` command reads its snapshots from here.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass

import twisted
from twisted.internet.interfaces import IReactorTime

import pixgw
from pixgw.config.model import PixConfig
from pixgw.config.render import render
from pixgw.logrouter import PixLogRouter


@dataclass(frozen=True)
class VersionInfo:
    pixgw: str
    twisted: str
    python: str
    system: str


class Gateway:
    def __init__(
        self,
        config: PixConfig,
        *,
        reactor: IReactorTime,
        log_router: PixLogRouter,
        config_path: str | None = None,
        dataplane_name: str = "userspace",
        save_config: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.reactor = reactor
        self.log_router = log_router
        self.config_path = config_path
        self.dataplane_name = dataplane_name
        self.started_at = reactor.seconds()
        self._save_config = save_config

    def now(self) -> float:
        return self.reactor.seconds()

    def uptime(self) -> float:
        return self.now() - self.started_at

    def running_config(self) -> str:
        return render(self.config)

    def version(self) -> VersionInfo:
        return VersionInfo(
            pixgw=pixgw.__version__,
            twisted=twisted.__version__,
            python=platform.python_version(),
            system=f"{platform.system()} {platform.machine()}",
        )

    def write_memory(self) -> str:
        """``write memory``: the running-config to the config file, atomically."""
        if self._save_config is None or self.config_path is None:
            raise OSError("no configuration file to write to")
        self._save_config(self.running_config())
        return self.config_path
