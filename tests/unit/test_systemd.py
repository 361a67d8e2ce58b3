"""Running under systemd (pixgw.systemd): sd_notify on a real AF_UNIX datagram socket (path and
abstract), the unit (``systemd-analyze verify``), ``install_service`` into a scratch root."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pixgw import systemd
from pixgw.config.parser import parse


def _listener(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


def test_notify_to_a_path(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with _listener(path) as sock:
        assert systemd.notify("READY=1", {"NOTIFY_SOCKET": path})
        assert sock.recv(4096) == b"READY=1"


def test_notify_to_an_abstract_socket() -> None:
    name = f"pixgw-test-{os.getpid()}"
    with _listener("\0" + name) as sock:
        assert systemd.notify("STATUS=serving", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"STATUS=serving"


def test_notify_without_systemd_or_with_nobody_listening(tmp_path: Path) -> None:
    assert not systemd.notify("READY=1", {})
    assert not systemd.notify("READY=1", {"NOTIFY_SOCKET": "relative"})
    assert not systemd.notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "nobody")})


def test_the_sample_config_ships_in_the_package_and_parses() -> None:
    text = systemd.sample_config()
    assert parse(text).config.hostname


def test_install_service_into_a_root(tmp_path: Path) -> None:
    done = systemd.install_service(tmp_path, twistd="/opt/pixgw/bin/twistd")
    unit = (tmp_path / "etc/systemd/system/pixgw.service").read_text()
    assert "ExecStart=/opt/pixgw/bin/twistd --nodaemon" in unit
    assert "Type=notify" in unit and "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert "User=pixgw" in unit and "Restart=on-failure" in unit
    assert "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW" in unit
    assert "ProtectSystem=strict" in unit and "NoNewPrivileges=yes" in unit
    assert "--control unix:/run/pixgw/control --state-dir /var/lib/pixgw" in unit
    config = tmp_path / "etc/pixgw/pixgw.conf"
    assert config.read_text() == systemd.sample_config()
    assert (tmp_path / "var/lib/pixgw").is_dir()
    assert any("the sample configuration" in line for line in done)
    config.write_text("hostname mine\n")
    again = systemd.install_service(tmp_path, twistd="/opt/pixgw/bin/twistd")
    assert config.read_text() == "hostname mine\n"  # an admin's config is never overwritten
    assert any(line.startswith("kept ") for line in again)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    twistd = Path(sys.executable).parent / "twistd"
    unit = tmp_path / "pixgw.service"
    unit.write_text(systemd.unit_text(str(twistd), user="root"))
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "pixgw.service" not in proc.stderr, proc.stderr
