"""The LNS core against a real xl2tpd LAC (RFC 2661 over UDP on 127.0.0.0/8, no IPsec).

xl2tpd dials on start (``autodial``), with tunnel authentication (``challenge``) and hidden
AVPs (``hidden bit``) when a secret is set. pppd cannot run on a kernel without /dev/ppp, so
xl2tpd hangs up the call with a CDN right after ICCN: that exercises CDN as well. Everything
runs on private 127.88.x.y addresses, from a private temp directory, and is stopped by pid.
"""

from __future__ import annotations

import os
import random
import select
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from pixgw.dataplane.interfaces import L2tpPeer
from pixgw.l2tp.core import L2tpLns, L2tpSettings
from pixgw.l2tp.events import SessionClosed, SessionEstablished, TunnelClosed, TunnelEstablished

XL2TPD = shutil.which("xl2tpd") or "/usr/sbin/xl2tpd"

pytestmark = [
    pytest.mark.root,
    pytest.mark.interop,
    pytest.mark.skipif(not Path(XL2TPD).exists(), reason="xl2tpd is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="xl2tpd needs root"),
]
# Time bound (300 s): xl2tpd in the guest: a few seconds, plus the guest boot.
pytestmark.append(pytest.mark.timeout(300))


class LnsOnUdp:
    """The LNS core on a UDP socket, driven by a bounded select loop."""

    def __init__(self, address: str, settings: L2tpSettings) -> None:
        self.lns = L2tpLns(settings, random_bytes=os.urandom)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 1701))
        self.events: list[Any] = []
        self.start = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.start

    def run_until(self, done: Callable[[], bool], seconds: float) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            timer = self.lns.get_timer()
            wait = 0.2 if timer is None else max(0.0, min(0.2, timer - self.now()))
            readable, _, _ = select.select([self.sock], [], [], wait)
            if readable:
                data, (host, port) = self.sock.recvfrom(65535)
                peer = L2tpPeer(None, IPv4Address(host), port, port)
                self.lns.receive_datagram(data, peer, self.now())
            self.lns.handle_timer(self.now())
            self.flush()
            if done():
                return True
        return done()

    def flush(self) -> None:
        for data, peer in self.lns.datagrams_to_send(self.now()):
            self.sock.sendto(data, (str(peer.address), peer.l2tp_port))
        while (event := self.lns.next_event()) is not None:
            self.events.append(event)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def addresses():
    n = random.randrange(1, 250)
    return f"127.88.{n}.1", f"127.88.{n}.2"


def start_xl2tpd(tmp: Path, lac: str, lns: str, secret: str | None) -> subprocess.Popen[bytes]:
    (tmp / "options").write_text(
        "noauth\nnodetach\nnodefaultroute\nnoipdefault\nlcp-max-configure 2\n"
    )
    (tmp / "secrets").write_text(f"* * {secret}\n" if secret else "")
    auth = "challenge = yes\nhidden bit = yes\n" if secret else "challenge = no\n"
    (tmp / "xl2tpd.conf").write_text(
        f"[global]\nport = 1701\nlisten-addr = {lac}\nauth file = {tmp / 'secrets'}\n\n"
        f"[lac pix]\nlns = {lns}\nautodial = yes\nredial = no\n{auth}"
        f"tunnel rws = 4\nhostname = xl2tpd-lac\npppoptfile = {tmp / 'options'}\n"
        "length bit = yes\n"
    )
    log = (tmp / "xl2tpd.log").open("wb")
    return subprocess.Popen(
        [
            XL2TPD,
            "-D",
            "-c",
            str(tmp / "xl2tpd.conf"),
            "-p",
            str(tmp / "pid"),
            "-C",
            str(tmp / "control"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.mark.parametrize("secret", [None, "shared-secret"])
def test_xl2tpd_sets_up_a_tunnel_and_call(tmp_path, addresses, secret):
    lac, lns_address = addresses
    settings = L2tpSettings(
        secret=secret.encode() if secret else None, hello_interval=3, host_name="pix-test"
    )
    lns = LnsOnUdp(lns_address, settings)
    xl2tpd = start_xl2tpd(tmp_path, lac, lns_address, secret)
    try:
        assert lns.run_until(
            lambda: any(isinstance(e, SessionEstablished) for e in lns.events), 10
        ), (tmp_path / "xl2tpd.log").read_text()
        up = next(e for e in lns.events if isinstance(e, SessionEstablished))
        assert up.remote_host_name == "xl2tpd-lac"
        assert up.peer.address == IPv4Address(lac)
        assert any(isinstance(e, TunnelEstablished) for e in lns.events)
        # xl2tpd answers our HELLOs: after two hello periods the tunnel is still up
        lns.run_until(lambda: False, 7)
        (tunnel,) = lns.lns.tunnel_status()
        assert tunnel.state == "established" and tunnel.remote_host_name == "xl2tpd-lac"
        assert tunnel.control_ns >= 4  # SCCRP, ICRP and at least two HELLOs
        assert lns.lns.counters().malformed == 0
        # clear vpdn tunnel: StopCCN, acknowledged by xl2tpd, the tunnel is forgotten
        lns.lns.close_tunnel(up.key.tunnel, 6, lns.now(), "cleared")
        lns.flush()
        assert lns.run_until(lambda: not lns.lns.tunnels, 10)
        assert any(isinstance(e, TunnelClosed) and not e.by_peer for e in lns.events)
        log = (tmp_path / "xl2tpd.log").read_text()
        assert "Connection established" in log
    finally:
        stop(xl2tpd)
        lns.close()


def test_xl2tpd_with_the_wrong_secret_gets_no_tunnel(tmp_path, addresses):
    lac, lns_address = addresses
    lns = LnsOnUdp(lns_address, L2tpSettings(secret=b"our-secret", hello_interval=3))
    xl2tpd = start_xl2tpd(tmp_path, lac, lns_address, "their-secret")
    try:
        lns.run_until(lambda: any(isinstance(e, TunnelClosed) for e in lns.events), 10)
        assert not any(isinstance(e, TunnelEstablished) for e in lns.events)
        assert any(isinstance(e, TunnelClosed) for e in lns.events)
        assert not any(isinstance(e, SessionClosed) for e in lns.events)
    finally:
        stop(xl2tpd)
        lns.close()
