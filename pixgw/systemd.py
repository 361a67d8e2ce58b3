"""Running under systemd: readiness (sd_notify), the service unit, ``pixgw install-service``.

``notify()`` is the sd_notify(3) protocol: one datagram ("READY=1", "RELOADING=1",
"STATUS=...") on the AF_UNIX socket named by ``$NOTIFY_SOCKET`` (a path, or ``@name`` in the
abstract namespace); without the variable it does nothing. The gateway sends READY=1 once its
configuration is parsed and its UDP ports are bound (``Type=notify``).

``unit_text()`` is the unit ``install_service()`` writes: a non-root ``User=`` with only
CAP_NET_ADMIN (TUN, XFRM, routes), CAP_NET_BIND_SERVICE (UDP 500/4500/1701) and CAP_NET_RAW (the
userspace dataplane's raw ESP socket), the
configuration in ``/etc/pixgw``, state in ``/var/lib/pixgw``, the control socket in
``/run/pixgw``, ``ExecReload`` sending SIGHUP (re-read the configuration), restart on failure
and the file-system hardening systemd offers.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path

UNIT_NAME = "pixgw.service"
CONFIG_DIR = "/etc/pixgw"
STATE_DIR = "/var/lib/pixgw"
RUNTIME_DIR = "/run/pixgw"


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` to systemd's notification socket; False when there is none (or it fails:
    readiness is advice, never a reason to stop)."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":
        return False
    target = "\0" + address[1:] if address[0] == "@" else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(state.encode("utf-8"))
    except OSError:
        return False
    return True


def sample_config() -> str:
    """The sample configuration shipped in the package (``pixgw/data/pixgw.conf``)."""
    return resources.files("pixgw").joinpath("data/pixgw.conf").read_text(encoding="utf-8")


def unit_text(twistd: str, user: str = "pixgw") -> str:
    """The service unit, its ExecStart the ``twistd`` given (the one beside this Python)."""
    return f"""[Unit]
Description=pixgw L2TP/IPsec remote-access VPN gateway (PIX 6.3 configuration)
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart={twistd} --nodaemon --pidfile= --logfile=- pixgw --config {CONFIG_DIR}/pixgw.conf \\
    --control unix:{RUNTIME_DIR}/control --state-dir {STATE_DIR}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2
TimeoutStartSec=60
User={user}
Group={user}
AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW
NoNewPrivileges=yes
RuntimeDirectory=pixgw
RuntimeDirectoryMode=0750
StateDirectory=pixgw
StateDirectoryMode=0750
ConfigurationDirectory=pixgw
ProtectSystem=strict
ReadWritePaths={CONFIG_DIR} {STATE_DIR}
ProtectHome=yes
PrivateTmp=yes
ProtectControlGroups=yes
ProtectKernelLogs=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
UMask=0027

[Install]
WantedBy=multi-user.target
"""


def install_service(
    root: Path = Path("/"),
    user: str = "pixgw",
    twistd: str | None = None,
    run: Callable[[list[str]], object] | None = None,
) -> list[str]:
    """Write the unit, the configuration directory (the sample config unless one is there) and
    the state directory under ``root``; create the system user and reload systemd when
    ``root`` is ``/``. Returns what it did, a line each."""
    twistd = twistd or str(Path(sys.executable).parent / "twistd")
    done = []
    unit = root / "etc/systemd/system" / UNIT_NAME
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(unit_text(twistd, user))
    done.append(f"wrote {unit}")
    config = root / CONFIG_DIR.lstrip("/") / "pixgw.conf"
    config.parent.mkdir(parents=True, exist_ok=True)
    if config.exists():
        done.append(f"kept {config}")
    else:
        config.write_text(sample_config())
        config.chmod(0o640)
        done.append(f"wrote {config} (the sample configuration)")
    state = root / STATE_DIR.lstrip("/")
    state.mkdir(parents=True, exist_ok=True)
    if root == Path("/"):
        call = run or (lambda argv: subprocess.run(argv, check=False, timeout=60))
        if shutil.which("useradd") and _no_user(user):
            call(["useradd", "--system", "--no-create-home", "--home-dir", STATE_DIR,
                  "--shell", "/usr/sbin/nologin", user])
            done.append(f"created system user {user}")
        if not _no_user(user):  # write memory replaces the file: the directory must be its
            for path in (config.parent, config, state):
                shutil.chown(path, user, user)
        if Path("/run/systemd/system").is_dir():
            call(["systemctl", "daemon-reload"])
            done.append("systemctl daemon-reload")
    done.append(f"next: systemctl enable --now {UNIT_NAME}")
    return done


def _no_user(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return True
    return False
