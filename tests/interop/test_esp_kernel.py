"""Our userspace ESP against the Linux kernel's ESP (stock Debian kernel in the QEMU client guest
of tests/interop/qemu): the guest gets ``ip xfrm`` SAs and policies with the same keys as our
SAs, sends UDP 1701 with netcat; the kernel's ESP must decrypt in our dataplane (running in the
gateway namespace, 192.0.2.1) and our reply must decrypt in the guest's kernel and reach netcat.
Raw ESP for des-md5 (the reference's transform), 3des-sha1 and aes-sha1; ESP-in-UDP (RFC 3948)
both ways for aes-sha1 (charon in the guest only provides the UDP_ENCAP socket on 4500).
"""
# mypy: disable-error-code="union-attr"
# (an Optional result that is None fails the test at the attribute access, as it should)

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from ipaddress import IPv4Address

import pytest
from pyroute2 import netns

from pixgw.dataplane.userspace import UserspaceDataplane
from pixgw.ike.events import (
    ChildSaEstablished,
    Endpoint,
    EspCipher,
    EspIntegrity,
    EspSaParameters,
    TrafficSelector,
)
from tests.interop.test_dataplane_netns import PumpReactor

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.slow]
# Time bound (300 s): two kernel clients behind one NAT: ~80 s.
pytestmark.append(pytest.mark.timeout(300))

GW = IPv4Address("192.0.2.1")
CLIENT = IPv4Address("192.0.2.2")

# (cipher, integrity, kernel enc name, kernel auth name, auth key length)
TRANSFORMS: dict[str, tuple[EspCipher, EspIntegrity, str, str, int]] = {
    "des-md5": ("esp-des", "esp-md5-hmac", "cbc(des)", "hmac(md5)", 16),
    "3des-sha1": ("esp-3des", "esp-sha-hmac", "cbc(des3_ede)", "hmac(sha1)", 20),
    "aes-sha1": ("esp-aes", "esp-sha-hmac", "cbc(aes)", "hmac(sha1)", 20),
}
KEYLEN = {"esp-des": 8, "esp-3des": 24, "esp-aes": 16}


@contextmanager
def inside(name):
    netns.pushns(name)
    try:
        yield
    finally:
        netns.popns()


def make_event(label, udp):
    cipher, integrity, _, _, alen = TRANSFORMS[label]
    inbound = EspSaParameters(0xC0DE0001, cipher, integrity, os.urandom(KEYLEN[cipher]),
                              os.urandom(alen))
    outbound = EspSaParameters(0xC0DE0002, cipher, integrity, os.urandom(KEYLEN[cipher]),
                               os.urandom(alen))
    return ChildSaEstablished(
        ike_sa_id=bytes(16), child_sa_id=1,
        local=Endpoint(GW, 4500 if udp else 500), remote=Endpoint(CLIENT, 4500 if udp else 500),
        inbound=inbound, outbound=outbound,
        encapsulation="udp-transport" if udp else "transport",
        local_selector=TrafficSelector(GW, GW, 17, 1701),
        remote_selector=TrafficSelector(CLIENT, CLIENT, 17, 1701),
        lifetime_seconds=3600, lifetime_kilobytes=100000, crypto_map="dyn",
        crypto_map_sequence=10, remote_behind_nat=udp)


def guest_xfrm(label, ev, udp):
    _, _, enc, auth, _ = TRANSFORMS[label]
    encap = " encap espinudp 4500 4500 0.0.0.0" if udp else ""
    lines = ["ip xfrm state flush", "ip xfrm policy flush"]
    for src, dst, sa in ((CLIENT, GW, ev.inbound), (GW, CLIENT, ev.outbound)):
        lines.append(
            f"ip xfrm state add src {src} dst {dst} proto esp spi 0x{sa.spi:08x} reqid 1 "
            f"mode transport replay-window 32 auth-trunc '{auth}' 0x{sa.integrity_key.hex()} 96 "
            f"enc '{enc}' 0x{sa.encryption_key.hex()}{encap}")
    for src, dst, direction in ((CLIENT, GW, "out"), (GW, CLIENT, "in")):
        lines.append(
            f"ip xfrm policy add src {src}/32 dst {dst}/32 proto udp sport 1701 dport 1701 "
            f"dir {direction} tmpl src {src} dst {dst} proto esp reqid 1 mode transport")
    return " && ".join(lines)


@pytest.mark.parametrize(("label", "udp"), [
    ("des-md5", False), ("3des-sha1", False), ("aes-sha1", False), ("aes-sha1", True)])
def test_kernel_esp_peer(gateway_netns, client_vm, label, udp):
    ev = make_event(label, udp)
    client_vm.sh("modprobe esp4; modprobe des_generic; modprobe authenc", timeout=60)
    if udp:
        # charon opens UDP 4500 with UDP_ENCAP_ESPINUDP: the guest kernel then takes ESP-in-UDP
        # arriving there (no IKE happens; the SAs are ours, added by hand below)
        r = client_vm.sh(
            "(/usr/lib/ipsec/charon > /tmp/charon.log 2>&1 & echo $! > /tmp/charon.pid); "
            "for i in $(seq 1 60); do ss -ulnH | grep -q ':4500 ' && exit 0; sleep 0.5; done; "
            "exit 1", timeout=60)
        assert r.ok, client_vm.sh("cat /tmp/charon.log").stdout
    r = client_vm.sh(guest_xfrm(label, ev, udp), timeout=60)
    assert r.ok, r.stderr
    reactor = PumpReactor()
    got = []
    with inside(gateway_netns.name):
        sock4500 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock4500.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock4500.bind((str(GW), 4500))
        sock4500.setblocking(False)
        dp = UserspaceDataplane(reactor, local_address=GW, raw_esp=True, tun=None,
                                guard_l2tp=False, lifetime_poll_seconds=0)

        def send_udp(data: bytes, addr: tuple[str, int]) -> None:
            sock4500.sendto(data, addr)

        dp.start(lambda peer, data: got.append((peer, data)), send_udp)

    class Udp4500:
        def fileno(self):
            return sock4500.fileno()

        def doRead(self):
            for _ in range(64):
                try:
                    data, addr = sock4500.recvfrom(65535)
                except BlockingIOError:
                    return
                dp.esp_in_udp_received(data, addr)

    reactor.addReader(Udp4500())
    try:
        dp.install_child_sa(ev)
        # netcat from 192.0.2.2:1701 to 192.0.2.1:1701; it prints whatever comes back
        r = client_vm.sh(
            "rm -f /tmp/esp-got; setsid sh -c '(echo hello-from-kernel-esp; sleep 25) | "
            "timeout 30 nc -u -p 1701 -s 192.0.2.2 192.0.2.1 1701 > /tmp/esp-got 2>&1' "
            "> /dev/null 2>&1 < /dev/null &", timeout=30)
        assert r.ok, r.stderr
        assert reactor.pump(lambda: len(got) >= 1, timeout=40), client_vm.sh(
            "ip -s xfrm state; ip xfrm policy").stdout
        peer, data = got[0]
        assert data == b"hello-from-kernel-esp\n"
        assert (peer.address, peer.l2tp_port) == (CLIENT, 1701)
        assert peer.outer_port == (4500 if udp else 0)
        counters = dp.sa_counters(1)
        assert (counters.decaps, counters.verify, counters.recv_errors) == (1, 1, 0)
        dp.send_l2tp(peer, b"reply-from-userspace-esp\n")
        out = ""
        for _ in range(20):
            out = client_vm.sh("sleep 1; cat /tmp/esp-got", timeout=30).stdout
            if "reply-from-userspace-esp" in out:
                break
        assert "reply-from-userspace-esp" in out, client_vm.sh("ip -s xfrm state").stdout
        assert dp.sa_counters(1).encaps == 1
    finally:
        client_vm.sh("pkill -x nc; test -f /tmp/charon.pid && kill $(cat /tmp/charon.pid); "
                     "rm -f /tmp/charon.pid; ip xfrm state flush; ip xfrm policy flush",
                     timeout=30)
        with inside(gateway_netns.name):
            dp.stop()
        sock4500.close()


def test_two_kernel_clients_behind_one_nat(gateway_netns, guest_pool):
    """Two guests behind the NAT router (198.51.100.2 and .3 -> 192.0.2.254, MASQUERADE): their
    kernels send ESP-in-UDP from port 4500, the NAT maps them to two ports of one address; each
    keeps its own SA (demultiplexed by SPI, address and port) and gets its own replies."""
    from tests.interop.qemu.netns import PRIVATE_NAT

    guests = [guest_pool.get(f"nat{i}", f"198.51.100.{1 + i}/24", 100 + i, gw=PRIVATE_NAT,
                             behind_nat=True) for i in (1, 2)]
    events = []
    for n, guest in enumerate(guests):
        address = IPv4Address(f"198.51.100.{2 + n}")
        inbound = EspSaParameters(0xC0DE1000 + n, "esp-aes", "esp-sha-hmac",
                                  os.urandom(16), os.urandom(20))
        outbound = EspSaParameters(0xC0DE2000 + n, "esp-aes", "esp-sha-hmac",
                                   os.urandom(16), os.urandom(20))
        events.append((guest, address, inbound, outbound))
        _, _, enc, auth, _ = TRANSFORMS["aes-sha1"]
        lines = ["modprobe esp4", "ip xfrm state flush", "ip xfrm policy flush"]
        for src, dst, sa in ((address, GW, inbound), (GW, address, outbound)):
            lines.append(
                f"ip xfrm state add src {src} dst {dst} proto esp spi 0x{sa.spi:08x} reqid 1 "
                f"mode transport replay-window 32 auth-trunc '{auth}' "
                f"0x{sa.integrity_key.hex()} 96 enc '{enc}' 0x{sa.encryption_key.hex()} "
                f"encap espinudp 4500 4500 0.0.0.0")
        for src, dst, direction in ((address, GW, "out"), (GW, address, "in")):
            lines.append(
                f"ip xfrm policy add src {src}/32 dst {dst}/32 proto udp sport 1701 dport 1701 "
                f"dir {direction} tmpl src {src} dst {dst} proto esp reqid 1 mode transport")
        r = guest.sh(" && ".join(lines), timeout=60)
        assert r.ok, r.stderr
        r = guest.sh(
            "(/usr/lib/ipsec/charon > /tmp/charon.log 2>&1 & echo $! > /tmp/charon.pid); "
            "for i in $(seq 1 60); do ss -ulnH | grep -q ':4500 ' && exit 0; sleep 0.5; done; "
            "exit 1", timeout=60)
        assert r.ok, guest.sh("cat /tmp/charon.log").stdout
    reactor = PumpReactor()
    got = []
    seen: dict[int, tuple[str, int]] = {}
    with inside(gateway_netns.name):
        sock4500 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock4500.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock4500.bind((str(GW), 4500))
        sock4500.setblocking(False)
        dp = UserspaceDataplane(reactor, local_address=GW, raw_esp=False, tun=None,
                                guard_l2tp=False, lifetime_poll_seconds=0)

        def send_udp(data: bytes, addr: tuple[str, int]) -> None:
            sock4500.sendto(data, addr)

        dp.start(lambda peer, data: got.append((peer, data)), send_udp)

    class Udp4500:
        def fileno(self):
            return sock4500.fileno()

        def doRead(self):
            for _ in range(64):
                try:
                    data, addr = sock4500.recvfrom(65535)
                except BlockingIOError:
                    return
                if len(data) >= 8:  # the test plays IKE: it learns each SPI's NAT mapping
                    seen.setdefault(int.from_bytes(data[:4], "big"), addr)
                dp.esp_in_udp_received(data, addr)

    reactor.addReader(Udp4500())
    try:
        for guest, address, _, _ in events:
            r = guest.sh(
                f"rm -f /tmp/esp-got; setsid sh -c '(echo first; sleep 15; "
                f"echo second-from-{address}; sleep 30) | timeout 60 nc -u -p 1701 "
                f"-s {address} 192.0.2.1 1701 > /tmp/esp-got 2>&1' > /dev/null 2>&1 < /dev/null &",
                timeout=30)
            assert r.ok, r.stderr
        spis = [inbound.spi for _, _, inbound, _ in events]
        assert reactor.pump(lambda: all(s in seen for s in spis), timeout=40), seen
        mapped = [seen[s] for s in spis]
        assert mapped[0][0] == mapped[1][0] == "192.0.2.254"  # one NAT address ...
        assert mapped[0][1] != mapped[1][1]  # ... two ports
        for n, (_, _, inbound, outbound) in enumerate(events):
            host, port = mapped[n]
            dp.install_child_sa(ChildSaEstablished(
                ike_sa_id=bytes(16), child_sa_id=10 + 2 * n, local=Endpoint(GW, 4500),
                remote=Endpoint(IPv4Address(host), port), inbound=inbound, outbound=outbound,
                encapsulation="udp-transport",
                local_selector=TrafficSelector(GW, GW, 17, 1701),
                remote_selector=TrafficSelector(IPv4Address(host), IPv4Address(host), 17, 1701),
                lifetime_seconds=3600, lifetime_kilobytes=100000, crypto_map="dyn",
                crypto_map_sequence=10, remote_behind_nat=True))
        assert reactor.pump(lambda: len(got) >= 2, timeout=60), dp.counters()
        by_child = {peer.child_sa_id: (peer, data) for peer, data in got}
        assert set(by_child) == {10, 12}
        assert by_child[10][0].outer_port != by_child[12][0].outer_port
        assert by_child[10][1] == b"second-from-198.51.100.2\n"
        assert by_child[12][1] == b"second-from-198.51.100.3\n"
        for child_id, (peer, _) in by_child.items():
            dp.send_l2tp(peer, f"reply-to-{child_id}\n".encode())
        for n, (guest, _, _, _) in enumerate(events):
            want = f"reply-to-{10 + 2 * n}"
            out = ""
            for _ in range(20):
                out = guest.sh("sleep 1; cat /tmp/esp-got", timeout=30).stdout
                if want in out:
                    break
            assert want in out, guest.sh("ip -s xfrm state").stdout
            other = f"reply-to-{12 - 2 * n}"
            assert other not in out
    finally:
        for guest, _, _, _ in events:
            guest.sh("pkill -x nc; test -f /tmp/charon.pid && kill $(cat /tmp/charon.pid); "
                     "rm -f /tmp/charon.pid; ip xfrm state flush; ip xfrm policy flush",
                     timeout=30)
        with inside(gateway_netns.name):
            dp.stop()
        sock4500.close()
