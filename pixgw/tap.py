"""``twistd pixgw``: options and the service tree. The only wiring code.

``twistd -n pixgw --config FILE [--control unix:PATH] [--manhole ENDPOINT] [--dataplane
auto|userspace|xfrm|memory]``. A configuration that does not parse stops startup with the same
text ``pixgw config check`` prints. Once serving (configuration parsed, ports bound) it tells
systemd READY=1 (``pixgw.systemd``); SIGHUP re-reads the file: one that does not parse is refused
with its problems in the log and the running configuration is kept.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable
from ipaddress import IPv4Address, ip_address
from typing import Any

from pyroute2 import IPRoute
from twisted.application import internet, service, strports
from twisted.application.service import ServiceMaker
from twisted.internet import reactor as _global_reactor
from twisted.internet.error import MessageLengthError
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python import usage

from pixgw import syslog, systemd
from pixgw.aaa.chain import build_accounting, build_authenticator
from pixgw.aaa.interfaces import BackendSettingsError
from pixgw.aaa_seam import CredAccounting, CredAuthenticate
from pixgw.cli import aaa as aaa_cli
from pixgw.cli import ca as ca_cli
from pixgw.cli import crypto as crypto_cli
from pixgw.cli import ppp as ppp_cli
from pixgw.cli import system
from pixgw.cli import vpdn as vpdn_cli
from pixgw.cli.commands import CommandTable
from pixgw.cli.shell import ControlFactory
from pixgw.config.model import PixConfig
from pixgw.config.parser import ConfigError, ParseResult, parse_file
from pixgw.dataplane import make_dataplane, pool_routes, resolve_dataplane
from pixgw.dataplane.interfaces import IDataplane
from pixgw.files import atomic_write
from pixgw.gateway import Gateway
from pixgw.gcpolicy import GcPolicy
from pixgw.ike.core import IkeResponder
from pixgw.ike.transport import IkeUdpPorts
from pixgw.links import l2tp_group
from pixgw.logrouter import PixLogRouter
from pixgw.manhole import ManholeError, make_manhole_service
from pixgw.pki.commands import CaExec
from pixgw.pki.refresh import CrlRefresher
from pixgw.pki.store import CaStore
from pixgw.view import GatewayView

DEFAULT_CONTROL = "unix:/run/pixgw/control"
DEFAULT_STATE_DIR = "/var/lib/pixgw"
DATAPLANES = ("auto", "userspace", "xfrm", "memory")

_log = Logger(namespace="pixgw")


def control_endpoint(value: str) -> str:
    """An endpoint string for the control socket: ``unix:PATH`` (mode 0600), a bare path, or
    ``tcp:PORT`` on loopback (``interface=127.0.0.1`` unless another loopback address is
    given). The control socket is an unauthenticated CLI that can ``write memory``: anything
    else is refused (:class:`ValueError`, a clear startup error)."""
    if value.startswith("/"):
        value = f"unix:{value}"
    kind, _, rest = value.partition(":")
    options = dict(part.partition("=")[::2] for part in _split_endpoint(rest)[1:])
    if kind == "unix":
        if options.get("mode", "600").lstrip("0") != "600":
            raise ValueError(f"--control {value}: a unix control socket is mode 0600 (the CLI "
                             "there is not authenticated)")
        if "mode" not in options:
            value = f"{value}:mode=600"
        if "lockfile" not in options:
            value = f"{value}:lockfile=1"  # a stale socket is replaced, a live gateway's is not
        return value
    if kind != "tcp":
        raise ValueError(f"--control {value}: unix:PATH or tcp:PORT on loopback only")
    interface = options.get("interface")
    if interface is None:
        return f"{value}:interface=127.0.0.1"
    try:
        loopback = ip_address(interface.replace("\\:", ":")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"--control {value}: tcp only on a loopback address (the CLI there is "
                         "not authenticated and can write memory); use the manhole (SSH) to "
                         "manage from elsewhere")
    return value


def _split_endpoint(text: str) -> list[str]:
    """The ``:``-separated parts of an endpoint description (``\\:`` is a colon in a part)."""
    parts, current, escaped = [], "", False
    for ch in text:
        if escaped:
            current += "\\" + ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ":":
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def control_path(endpoint: str) -> str | None:
    if not endpoint.startswith("unix:"):
        return None
    return endpoint[len("unix:") :].split(":", 1)[0]


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = "L2TP/IPsec remote-access VPN gateway configured in Cisco PIX 6.3 syntax."
    optParameters = [
        ["config", "c", "/etc/pixgw/pixgw.conf", "PIX 6.3 configuration file"],
        ["control", None, DEFAULT_CONTROL, "control socket (unix:PATH, or tcp on loopback)"],
        ["manhole", None, None, "manhole SSH endpoint, e.g. tcp:2222:interface=127.0.0.1"],
        ["manhole-passwords", None, None, "file of user:password lines for the manhole"],
        ["manhole-keys", None, None, "authorized_keys file for the manhole"],
        ["dataplane", None, "auto", "auto, userspace, xfrm or memory"],
        ["state-dir", None, DEFAULT_STATE_DIR, "keys, certificates, spools, host keys"],
    ]

    def postOptions(self) -> None:
        if self["dataplane"] not in DATAPLANES:
            raise usage.UsageError(f"--dataplane must be one of {', '.join(DATAPLANES)}")
        try:
            self["parsed"] = parse_file(self["config"])
        except ConfigError as e:
            raise usage.UsageError(f"{self['config']}:\n{e}") from e
        try:
            self["control"] = control_endpoint(self["control"])
        except ValueError as e:
            raise usage.UsageError(str(e)) from e


class _SyslogSender(DatagramProtocol):
    """``logging host``: RFC 3164 datagrams from one unbound UDP socket."""

    send_errors = 0

    def send(self, datagram: bytes, address: tuple[str, int]) -> None:
        if self.transport is not None:
            try:
                self.transport.write(datagram, address)
            except (OSError, MessageLengthError):  # a log line must not raise into its caller
                self.send_errors += 1


class PixgwService(service.MultiService):
    """The gateway's services; also hooks the log router into the PIX log publisher, tells
    systemd when it serves, and re-reads the configuration on SIGHUP."""

    def __init__(self, router: PixLogRouter, reload: Callable[[], object] | None = None) -> None:
        super().__init__()
        self.router = router
        self.reload = reload

    def startService(self) -> None:
        syslog.add_observer(self.router)
        super().startService()
        syslog.pix_log(199002, "PIX startup completed. Beginning operation.")
        if any(getattr(child, "start_error", None) is not None for child in self):
            return  # stopping: not ready
        if self.reload is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGHUP, self._sighup)
        systemd.notify("READY=1\nSTATUS=serving")

    def _sighup(self, signum: int, frame: object) -> None:
        _global_reactor.callFromThread(self._reload)  # type: ignore[attr-defined]

    def _reload(self) -> None:
        if self.reload is None or not self.running:
            return
        systemd.notify("RELOADING=1")
        try:
            self.reload()
        finally:
            systemd.notify("READY=1\nSTATUS=serving")

    def stopService(self) -> Any:
        systemd.notify("STOPPING=1")
        if self.reload is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
        result = super().stopService()
        syslog.remove_observer(self.router)
        return result


def reload_config(gateway: Gateway, path: str) -> bool:
    """SIGHUP: re-read *path*; a file that does not parse changes nothing (its problems, with
    their line numbers, go to the log)."""
    try:
        parsed = parse_file(path)
    except (ConfigError, OSError) as e:
        _log.error(
            "pixgw: reload refused: {path} does not parse, the running configuration is kept:"
            "\n{problems}",
            path=path,
            problems=str(e),
        )
        return False
    for warning in parsed.warnings:
        _log.warn("{warning}", warning=str(warning))
    later = gateway.reload(parsed.config)
    _log.info(
        "pixgw: configuration reloaded from {path}{later}",
        path=path,
        later=f"; changed, in force at the next start: {', '.join(later)}" if later else "",
    )
    return True


def atomic_writer(path: str) -> Callable[[str], None]:
    """``write memory``: the config holds keys and passwords, so the file is written 0600
    (whatever mode it had), atomically, and fsynced with its directory
    (:func:`pixgw.files.atomic_write`)."""

    def write(text: str) -> None:
        atomic_write(path, text.encode("utf-8"), 0o600)

    return write


def build_command_table() -> CommandTable:
    table = CommandTable()
    # crypto_cli registers ``show crypto ipsec sa`` (the dataplane's counters via the gateway).
    for area in (system, crypto_cli, ca_cli, vpdn_cli, ppp_cli, aaa_cli):
        area.register(table)
    return table


def stop_for_good(why: str) -> None:
    """The gateway cannot go on (its TUN device lost for good): said, the services stopped in
    order (accounting Stops go out or to the spool), then exit status 1 for the service
    manager to restart it (``Restart=on-failure``)."""
    _log.critical("pixgw stops: {why}", why=why)
    _global_reactor.addSystemEventTrigger("after", "shutdown", os._exit, 1)
    _global_reactor.callLater(0, _global_reactor.stop)


def make_configured_dataplane(
    choice: str, config: PixConfig, reactor: Any, local: IPv4Address | None
) -> IDataplane:
    """``--dataplane``: memory, userspace, xfrm, or auto (xfrm when the kernel has ESP)."""
    inside = config.interface("inside")
    return make_dataplane(
        resolve_dataplane(choice),
        reactor,
        local_address=local,
        tun_address=inside.address if inside is not None else None,
        routes=pool_routes((p.first, p.last) for p in config.pools),
    )


def outside_address(config: PixConfig) -> IPv4Address | None:
    """The outside interface's address: configured, or (``ip address outside dhcp``) the
    host's first global IPv4 address."""
    outside = config.interface("outside")
    if outside is not None and outside.address is not None:
        return outside.address
    try:
        with IPRoute() as ipr:
            for message in ipr.get_addr(family=socket.AF_INET):
                address = IPv4Address(message.get_attr("IFA_ADDRESS"))
                if not address.is_loopback:
                    return address
    except OSError:
        return None
    return None


def make_aaa(config: PixConfig, reactor: Any, state_dir: str) -> tuple[Any, Any]:
    """The vpdn group's ``client authentication local|aaa GROUP`` and ``client accounting GROUP``
    as the gateway's authenticator and accounting (backends found as plugins)."""
    group = l2tp_group(config)
    try:
        authenticate = CredAuthenticate(
            build_authenticator(
                config, group.authentication_aaa if group else None, reactor=reactor
            )
        )
        accounting = None
        if group is not None and group.accounting is not None:
            accounting = CredAccounting(
                build_accounting(
                    config,
                    group.accounting,
                    reactor=reactor,
                    spool_dir=os.path.join(state_dir, "accounting"),
                ),
                reactor,
            )
    except BackendSettingsError as e:
        raise usage.UsageError(str(e)) from e
    return authenticate, accounting


class GcPolicyService(service.Service):
    """Short garbage-collector pauses with many sessions (:mod:`pixgw.gcpolicy`), installed
    once the gateway has started; its figures are ``show memory``'s."""

    IDLE_SWEEP_EVERY = 600.0  # seconds

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.policy = GcPolicy()
        self._sweeper: LoopingCall | None = None

    def startService(self) -> None:
        super().startService()
        self.policy.install()
        self.gateway.gc_policy = self.policy
        self._sweeper = LoopingCall(self.idle_sweep)
        self._sweeper.start(self.IDLE_SWEEP_EVERY, now=False)

    def idle_sweep(self) -> None:
        """With no session up, a full collection is short: reference cycles that died after
        they were frozen (none per session; a library may make some) are freed then."""
        if not self.gateway.sessions:
            freed = self.policy.leak_check()
            if freed:
                _log.info("garbage collector: {n} objects in dead reference cycles freed while "
                          "idle", n=freed)

    def stopService(self) -> Any:
        if self._sweeper is not None and self._sweeper.running:
            self._sweeper.stop()
        self.policy.uninstall()
        return super().stopService()


class CrlRefreshService(service.Service):
    """CRLs fetched again before their nextUpdate while the gateway runs
    (:mod:`pixgw.pki.refresh`)."""

    def __init__(self, refresher: CrlRefresher) -> None:
        self.refresher = refresher

    def startService(self) -> None:
        super().startService()
        self.refresher.start()

    def stopService(self) -> Any:
        self.refresher.stop()
        return super().stopService()


class GatewayService(service.Service):
    """Binds IKE (UDP 500/4500) and starts the gateway's layers; stops them on shutdown."""

    def __init__(self, gateway: Gateway, ports: IkeUdpPorts | None, interface: str) -> None:
        self.gateway = gateway
        self.ports = ports
        self.interface = interface
        self.start_error: Exception | None = None

    def startService(self) -> None:
        super().startService()
        if self.ports is not None:
            self.ports.listen(_global_reactor, self.interface)  # type: ignore[arg-type]
            if isinstance(self.gateway.accounting, CredAccounting):
                self.gateway.accounting.accounting_on()
            if self.gateway.dataplane_name == "xfrm":
                from pixgw.dataplane.xfrm_netlink import enable_espinudp  # noqa: PLC0415

                natt = self.ports.protocols[4500].transport
                if natt is not None:
                    enable_espinudp(natt.getHandle())  # type: ignore[attr-defined]
        try:
            self.gateway.start()
        except Exception as e:  # whatever it is, a half-started gateway must not run
            # twistd ignores an exception from a startup trigger: stop instead of serving
            # IKE with no dataplane behind it, and leave with status 1 for the service manager.
            _log.critical(
                "pixgw cannot start: the {dataplane} dataplane failed: {error}",
                dataplane=self.gateway.dataplane_name,
                error=f"{type(e).__name__}: {e}",
            )
            self.start_error = e
            _global_reactor.callWhenRunning(_global_reactor.stop)
            _global_reactor.addSystemEventTrigger("after", "shutdown", os._exit, 1)

    def stopService(self) -> Any:
        self.gateway.stop()  # every session's accounting Stop goes out (or to the spool) first
        drained = None
        if isinstance(self.gateway.accounting, CredAccounting):
            self.gateway.accounting.accounting_off()
            # The last Stops and Accounting-Off get a few seconds to reach the server; what
            # does not stays in the spool for the next start.
            drained = self.gateway.accounting.accounting.drain(5.0)
        super().stopService()
        return drained


def makeService(options: Options) -> service.IService:
    parsed: ParseResult = options["parsed"]
    config = parsed.config
    reactor: Any = _global_reactor
    sender = _SyslogSender()
    router = PixLogRouter(
        config.logging,
        console=lambda line: _log.info("{line}", line=line),
        send_syslog=sender.send,
        clock=reactor.seconds,
        hostname=config.hostname,
    )
    top = PixgwService(router)
    for warning in parsed.warnings:
        _log.warn("{warning}", warning=str(warning))

    local = outside_address(config)
    try:
        dataplane = make_configured_dataplane(options["dataplane"], config, reactor, local)
    except (OSError, ValueError) as e:
        raise usage.UsageError(f"--dataplane {options['dataplane']}: {e}") from e
    if hasattr(dataplane, "on_fatal"):
        dataplane.on_fatal = stop_for_good
    fqdn = ".".join(p for p in (config.hostname, config.domain_name) if p)
    pki = CaExec(
        config.ca,
        fqdn,
        store=CaStore(config.ca.store or os.path.join(options["state-dir"], "ca")),
    )
    try:
        pki.load()
    except (OSError, ValueError) as e:
        raise usage.UsageError(f"cannot load the CA store: {e}") from e
    responder = IkeResponder(config, random_bytes=os.urandom, certificates=pki.source)
    authenticate, accounting = make_aaa(config, reactor, options["state-dir"])
    gateway = Gateway(
        authenticate=authenticate,
        accounting=accounting,
        local_address=local,
        config=config,
        reactor=reactor,
        log_router=router,
        dataplane=dataplane,
        ike=responder,
        config_path=options["config"],
        save_config=atomic_writer(options["config"]),
    )
    ports = IkeUdpPorts(
        local or IPv4Address("0.0.0.0"),
        ike_received=gateway.ike_received,
        esp_received=dataplane.esp_in_udp_received,
    )
    gateway.pki = pki
    top.reload = lambda: reload_config(gateway, options["config"])
    gateway.send_ike = ports.send_ike
    gateway.ike_ports = ports
    gateway.send_esp_udp = ports.send_udp
    configured = config.interface("outside")
    bind = str(local) if configured is not None and configured.address is not None else ""
    table = build_command_table()
    GatewayService(gateway, ports, bind).setServiceParent(top)

    if config.logging.hosts:
        internet.UDPServer(0, sender).setServiceParent(top)
    CrlRefreshService(CrlRefresher(pki, reactor)).setServiceParent(top)
    GcPolicyService(gateway).setServiceParent(top)  # last: what startup made is set aside

    control = options["control"]
    path = control_path(control)
    if path is not None:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    view = GatewayView(gateway)
    strports.service(control, ControlFactory(table, view, router)).setServiceParent(top)

    if options["manhole"]:
        try:
            make_manhole_service(
                options["manhole"],
                {"gateway": gateway, "view": view, "config": config, "commands": table},
                state_dir=options["state-dir"],
                passwords=options["manhole-passwords"],
                authorized_keys=options["manhole-keys"],
            ).setServiceParent(top)
        except ManholeError as e:
            raise usage.UsageError(str(e)) from e
    return top


serviceMaker = ServiceMaker(
    "pixgw",
    "pixgw.tap",
    "L2TP/IPsec remote-access VPN gateway configured in Cisco PIX 6.3 syntax",
    "pixgw",
)
