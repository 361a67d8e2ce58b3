"""A flood of spoofed IKE first messages against a real ``twistd pixgw`` (issue 25), for
``test_ike_flood.py`` (100,000 packets in CI) and ``bench/ike_flood.py`` (ten times as many).

Test infrastructure; no RFC is implemented here. Two namespaces of this run: the gateway's
(``192.0.2.1``) and a peer's (``192.0.2.2``), one veth between them. Inside the peer namespace a
raw socket sends main-mode first messages (each with a fresh initiator cookie) from spoofed
sources ``198.51.100.1-254``; the gateway namespace routes ``198.51.100.0/24`` back to the peer,
where a blackhole route takes every answer: nothing leaves the two namespaces. The generator is
bounded in count and time and paced at a given rate. ``ike-scan`` from the peer's real address
probes main mode during and after the flood. The gateway's CPU time and RSS come from /proc, the
half-open count and the counters from ``show crypto isakmp stats``, the answers sent from the
gateway's veth, the datagrams the kernel dropped from the gateway namespace's UDP counters.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

from pixgw.ike.events import Endpoint
from pixgw.testing.ike_initiator import IkeInitiator, InitiatorProfile
from tests import runid
from tests.interop.pixgw_gateway import RunningGateway
from tests.interop.qemu.netns import Namespace, delete_netns, run

GW_IP, PEER_IP = "192.0.2.1", "192.0.2.2"
SPOOFED = "198.51.100.0/24"
HALF_OPEN_LIMIT = 1000  # below 254 sources x 5 per source: both bounds are reached
PSK = "flood-psk"

CONFIG = f"""\
hostname pixgw-flood
nameif ethernet0 outside security0
ip address outside {GW_IP} 255.255.255.0
access-list l2tp permit udp host {GW_IP} any eq 1701
crypto ipsec transform-set l2tp esp-aes-256 esp-sha-hmac
crypto ipsec transform-set l2tp mode transport
crypto dynamic-map dyna 20 match address l2tp
crypto dynamic-map dyna 20 set transform-set l2tp
crypto map mymap 10 ipsec-isakmp dynamic dyna
crypto map mymap interface outside
isakmp enable outside
isakmp key {PSK} address 0.0.0.0 netmask 0.0.0.0 no-xauth no-config-mode
isakmp identity address
isakmp policy 10 authentication pre-share
isakmp policy 10 encryption aes-256
isakmp policy 10 hash sha
isakmp policy 10 group 20
isakmp policy 20 authentication pre-share
isakmp policy 20 encryption 3des
isakmp policy 20 hash sha
isakmp policy 20 group 2
isakmp limit half-open {HALF_OPEN_LIMIT}
logging on
logging buffered warnings
"""

# Runs in the peer namespace: spoofed first messages through a raw socket, paced, bounded.
GENERATOR = r"""
import socket, struct, sys, time
count, rate, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
template, gateway = bytes.fromhex(sys.argv[4]), sys.argv[5]
destination = socket.inet_aton(gateway)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
length = 8 + len(template)
start = time.monotonic()
deadline = start + seconds
sent = errors = 0
while sent < count and time.monotonic() < deadline:
    for _ in range(min(200, count - sent)):
        source = bytes((198, 51, 100, 1 + sent % 254))
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0, 64, 17, 0, source,
                         destination)
        udp = struct.pack("!HHHH", 500, 500, length, 0)
        try:
            s.sendto(ip + udp + (sent + 1).to_bytes(8, "big") + template[8:], (gateway, 0))
        except OSError:
            errors += 1
        sent += 1
    ahead = start + sent / rate - time.monotonic()
    if ahead > 0:
        time.sleep(ahead)
print(f"SENT {sent} ERRORS {errors} SECONDS {time.monotonic() - start:.2f}", flush=True)
"""


@dataclass
class FloodLab:
    """The two namespaces and the gateway in one of them; ``close()`` undoes everything."""

    workdir: Path
    gw: Namespace = field(init=False)
    peer: Namespace = field(init=False)
    gateway: RunningGateway | None = None

    def __post_init__(self) -> None:
        self.gw = Namespace(runid.name("pxfl-gw"), GW_IP, self.workdir)
        self.peer = Namespace(runid.name("pxfl-peer"), PEER_IP, self.workdir)

    def create(self) -> FloodLab:
        for ns in (self.gw, self.peer):
            delete_netns(ns.name)
            run(["ip", "netns", "add", ns.name])
            run(["ip", "-n", ns.name, "link", "set", "lo", "up"])
        a, b = runid.link_name("pxfa"), runid.link_name("pxfb")
        run(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
        run(["ip", "link", "set", a, "netns", self.gw.name, "name", "eth0"])
        run(["ip", "link", "set", b, "netns", self.peer.name, "name", "eth0"])
        for ns in (self.gw, self.peer):
            run(["ip", "-n", ns.name, "addr", "add", f"{ns.address}/24", "dev", "eth0"])
            run(["ip", "-n", ns.name, "link", "set", "eth0", "up"])
        # answers to the spoofed sources go back to the peer namespace, which drops them
        run(["ip", "-n", self.gw.name, "route", "add", SPOOFED, "via", PEER_IP])
        run(["ip", "-n", self.peer.name, "route", "add", "blackhole", SPOOFED])
        run(["ip", "netns", "exec", self.peer.name, "sysctl", "-qw", "net.ipv4.ip_forward=0"])
        self.gateway = RunningGateway(self.gw, self.workdir, CONFIG, log_name="pixgw-flood.log")
        return self

    def close(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        self.gw.stop_all()
        self.peer.stop_all()
        for ns in (self.gw, self.peer):
            delete_netns(ns.name)

    # --- measurements ---------------------------------------------------------------------------

    def gateway_cpu_seconds(self) -> float:
        assert self.gateway is not None
        fields = Path(f"/proc/{self.gateway.process.pid}/stat").read_text().rsplit(")", 1)[1]
        utime, stime = (int(x) for x in fields.split()[11:13])
        return (utime + stime) / 100.0  # USER_HZ

    def gateway_rss_mib(self) -> float:
        assert self.gateway is not None
        status = Path(f"/proc/{self.gateway.process.pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        return int(match.group(1)) / 1024 if match else 0.0

    def answers_sent(self) -> int:
        out = run(["ip", "-n", self.gw.name, "-s", "link", "show", "eth0"]).stdout
        lines = out.splitlines()
        tx = next(i for i, line in enumerate(lines) if line.strip().startswith("TX:"))
        return int(lines[tx + 1].split()[1])

    def udp_receive_drops(self) -> int:
        out = run(["ip", "netns", "exec", self.gw.name, "cat", "/proc/net/snmp"]).stdout
        header, values = [line.split() for line in out.splitlines() if line.startswith("Udp:")][:2]
        return int(values[header.index("RcvbufErrors")])

    def stats(self) -> dict[str, str]:
        assert self.gateway is not None
        out = self.gateway.show("show crypto isakmp stats")
        rows = {}
        for line in out.splitlines()[1:]:
            if ":" in line:
                key, value = line.rsplit(":", 1)
                rows[key.strip()] = value.strip()
        return rows

    # --- traffic --------------------------------------------------------------------------------

    def start_flood(self, packets: int, rate: float, seconds: float) -> subprocess.Popen[str]:
        template = IkeInitiator(InitiatorProfile(psk=PSK.encode()),
                                Endpoint(IPv4Address("198.51.100.1"), 500),
                                Endpoint(IPv4Address(GW_IP), 500), os.urandom).main_mode_1()
        return subprocess.Popen(
            ["ip", "netns", "exec", self.peer.name, sys.executable, "-c", GENERATOR,
             str(packets), str(rate), str(seconds), template.hex(), GW_IP],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )

    def ike_scan(self, timeout: float = 40) -> str:
        """One main-mode probe from the peer's real address (3DES/SHA/group 2/PSK), retried."""
        result = run(["ip", "netns", "exec", self.peer.name, "ike-scan", "-M", "--retry=6",
                      "--trans=5,2,1,2", GW_IP], timeout=timeout, check=False)
        return result.stdout + result.stderr


def handshake_returned(ike_scan_output: str) -> bool:
    return "1 returned handshake" in ike_scan_output


@dataclass
class FloodFigures:
    packets_sent: int
    generator_seconds: float
    gateway_cpu_seconds: float
    rss_before_mib: float
    rss_peak_mib: float
    half_open_held: str
    answers_sent: int
    kernel_drops: int
    probe_during: bool
    flooding_during_probe: bool
    probe_after: bool
    stats: dict[str, str]

    def lines(self) -> list[str]:
        return [
            f"packets sent           {self.packets_sent} in {self.generator_seconds:.1f} s "
            f"({self.packets_sent / max(self.generator_seconds, 0.001):.0f}/s)",
            f"gateway CPU            {self.gateway_cpu_seconds:.1f} s",
            f"gateway RSS            {self.rss_before_mib:.0f} MiB before, "
            f"{self.rss_peak_mib:.0f} MiB at most",
            f"half-open held         {self.half_open_held}",
            f"answers sent           {self.answers_sent}",
            f"dropped by the kernel  {self.kernel_drops} (socket buffer full)",
            f"ike-scan during flood  {'handshake' if self.probe_during else 'NO ANSWER'}"
            f"{'' if self.flooding_during_probe else ' (the flood had ended)'}",
            f"ike-scan after flood   {'handshake' if self.probe_after else 'NO ANSWER'}",
            *(f"  {k}: {v}" for k, v in self.stats.items() if v not in ("0", "")),
        ]


def flood(lab: FloodLab, packets: int, rate: float, seconds: float) -> FloodFigures:
    """Flood, probe during it and after it, and measure."""
    cpu0, rss0 = lab.gateway_cpu_seconds(), lab.gateway_rss_mib()
    tx0 = lab.answers_sent()
    generator = lab.start_flood(packets, rate, seconds)
    rss_peak = rss0
    try:
        time.sleep(min(2.0, seconds / 4))
        probe_during = lab.ike_scan()
        still_flooding = generator.poll() is None
        while generator.poll() is None:
            rss_peak = max(rss_peak, lab.gateway_rss_mib())
            time.sleep(0.5)
        out, _ = generator.communicate(timeout=seconds + 30)
    finally:
        if generator.poll() is None:
            generator.kill()
            generator.wait(timeout=10)
    match = re.search(r"SENT (\d+) ERRORS \d+ SECONDS ([\d.]+)", out or "")
    assert match is not None, out
    stats_now = lab.stats()
    rss_peak = max(rss_peak, lab.gateway_rss_mib())
    figures_cpu = lab.gateway_cpu_seconds() - cpu0
    answers = lab.answers_sent() - tx0
    probe_after = lab.ike_scan()
    return FloodFigures(
        packets_sent=int(match.group(1)), generator_seconds=float(match.group(2)),
        gateway_cpu_seconds=figures_cpu, rss_before_mib=rss0, rss_peak_mib=rss_peak,
        half_open_held=stats_now.get("Half-open SAs (waiting for MM3)", "?"),
        answers_sent=answers, kernel_drops=lab.udp_receive_drops(),
        probe_during=handshake_returned(probe_during), flooding_during_probe=still_flooding,
        probe_after=handshake_returned(probe_after), stats=stats_now,
    )
