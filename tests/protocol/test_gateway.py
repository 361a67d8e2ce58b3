"""The gateway's event routing, back to back: a testing LAC and PPP peer reach the gateway
through the in-memory dataplane; task.Clock drives every timer.

Covers: call setup to an address from the pool with DNS/WINS, 603106/109011/109012/603107,
``show uauth`` / ``show vpdn session`` data, IP both ways, teardown returning the lease, a
rejected password, an exhausted pool, ``clear vpdn tunnel``, an IPsec SA deleted under a tunnel.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address

from twisted.internet import task
from twisted.internet.defer import Deferred, succeed

from pixgw import syslog
from pixgw.aaa.interfaces import AuthDecision, ClientInfo
from pixgw.cli.ppp import render_pppinterface
from pixgw.config.parser import parse
from pixgw.dataplane.interfaces import L2tpPeer
from pixgw.dataplane.memory import MemoryDataplane
from pixgw.gateway import Gateway
from pixgw.ike.events import (
    QUICK_MODE_ABANDONED,
    ChildSaDeleted,
    ChildSaEstablished,
    ChildSaPending,
    Endpoint,
    EspSaParameters,
)
from pixgw.ike.events import TrafficSelector as Ts
from pixgw.logrouter import PixLogRouter
from pixgw.ppp import mschap
from pixgw.ppp.auth import AuthenticationRequested
from pixgw.testing.l2tp_lac import L2tpLac
from pixgw.testing.ppp_peer import PppPeer
from pixgw.view import GatewayView

CONFIG = """\
hostname gw
interface ethernet0 auto
interface ethernet1 auto
nameif ethernet0 outside security0
nameif ethernet1 inside security100
ip address outside 192.0.2.1 255.255.255.0
ip address inside 203.0.113.1 255.255.255.0
ip local pool l2tp 198.51.100.10-198.51.100.11
vpdn group g accept dialin l2tp
vpdn group g ppp authentication mschapv2
vpdn group g ppp authentication chap
vpdn group g client configuration address local l2tp
vpdn group g client configuration dns 192.0.2.53 192.0.2.54
vpdn group g client configuration wins 192.0.2.137
vpdn group g client authentication local
vpdn group g l2tp tunnel hello 60
vpdn username alice password alice-pw
vpdn enable outside
"""

USERS = {"alice": "alice-pw", "bob": "bob-pw"}


def counting_random() -> Callable[[int], bytes]:
    state = [0x5A5A]

    def random_bytes(n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            state[0] = (state[0] * 1103515245 + 12345) & 0xFFFFFFFF
            out += state[0].to_bytes(4, "big")
        return bytes(out[:n])

    return random_bytes


def check_locally(request: AuthenticationRequested, client: ClientInfo) -> Deferred[AuthDecision]:
    """A test authenticator: cleartext passwords in USERS (the AAA layer does this for real)."""
    password = USERS.get(request.username)
    if password is None:
        return succeed(AuthDecision(False, "unknown user"))
    if request.protocol == "mschapv2":
        h = mschap.nt_password_hash(password)
        expected = mschap.generate_nt_response(
            request.challenge, request.peer_challenge, request.username, h
        )
        if expected != request.nt_response:
            return succeed(AuthDecision(False, "bad password"))
        return succeed(
            AuthDecision(
                True,
                mschapv2_authenticator_response=mschap.generate_authenticator_response(
                    h,
                    request.nt_response,
                    request.peer_challenge,
                    request.challenge,
                    request.username,
                ),
            )
        )
    return succeed(AuthDecision(False, f"{request.protocol} not supported by this test"))


def child_sa(child_id: int, port: int = 4500) -> ChildSaEstablished:
    remote = IPv4Address("192.0.2.2")
    esp = EspSaParameters(0x1000 + child_id, "esp-aes", "esp-sha-hmac", bytes(16), bytes(20))
    return ChildSaEstablished(
        ike_sa_id=bytes(16),
        child_sa_id=child_id,
        local=Endpoint(IPv4Address("192.0.2.1"), 4500),
        remote=Endpoint(remote, port),
        inbound=esp,
        outbound=esp,
        encapsulation="udp-transport",
        local_selector=Ts(IPv4Address("192.0.2.1"), IPv4Address("192.0.2.1"), 17, 1701),
        remote_selector=Ts(remote, remote, 17, 1701),
        lifetime_seconds=3600,
        lifetime_kilobytes=250000,
        crypto_map="dyn",
        crypto_map_sequence=10,
        remote_behind_nat=True,
    )


class Client:
    """A LAC + PPP peer on one child SA, moving datagrams through the memory dataplane."""

    def __init__(self, bench: Bench, child_id: int, username: str, password: str) -> None:
        self.bench = bench
        self.child_id = child_id
        self.lac = L2tpLac(random_bytes=counting_random(), tunnel_id=30 + child_id)
        self.ppp = PppPeer(
            username, password, random_bytes=counting_random(), auth_protocols=("mschapv2",)
        )
        self.seen = 0
        self._started = False
        bench.dataplane.install_child_sa(child_sa(child_id, 4500 + child_id))

    def mine(self, peer: L2tpPeer) -> bool:
        return peer.child_sa_id == self.child_id

    def exchange(self) -> None:
        now = self.bench.clock.seconds()
        for frame in self.ppp.frames_to_send(now):
            self.lac.send_ppp(frame, now)
        for data in self.lac.datagrams_to_send(now):
            if self.child_id in self.bench.dataplane.child_sas:  # lost with its SA otherwise
                self.bench.dataplane.receive_l2tp(self.child_id, data)
        sent = self.bench.dataplane.sent_l2tp
        for item in sent[self.seen :]:
            if self.mine(item.peer):
                self.lac.receive_datagram(item.payload, now)
        self.seen = len(sent)
        for frame in self.lac.frames:
            self.ppp.receive_frame(frame, now)
        self.lac.frames.clear()
        if self.lac.session_state == "established" and not self._started:
            self._started = True
            self.ppp.start(now)

    def connect(self) -> None:
        now = self.bench.clock.seconds()
        self.lac.start_tunnel(now)
        for _ in range(40):
            self.exchange()
            if self.lac.tunnel_state == "established" and self.lac.session_state == "idle":
                self.lac.place_call(now)
            if self.ppp.up or self.ppp.auth_result == "failure":
                break
        self.bench.settle()


class Bench:
    def __init__(self, config: str = CONFIG) -> None:
        self.clock = task.Clock()
        self.dataplane = MemoryDataplane()
        self.lines: list[str] = []
        parsed = parse(config).config
        self.router = PixLogRouter(parsed.logging, console=lambda line: None)
        self.gateway = Gateway(
            parsed,
            reactor=self.clock,
            log_router=self.router,
            dataplane=self.dataplane,
            authenticate=check_locally,
            random_bytes=counting_random(),
        )
        self.gateway.start()
        self.view = GatewayView(self.gateway)  # what show and clear see
        self.clients: list[Client] = []
        syslog.add_observer(self._observe)

    def _observe(self, event: dict[str, object]) -> None:
        if "pix_line" in event:
            self.lines.append(str(event["pix_line"]))

    def close(self) -> None:
        syslog.remove_observer(self._observe)

    def client(self, child_id: int, username: str = "alice", password: str = "alice-pw") -> Client:
        c = Client(self, child_id, username, password)
        self.clients.append(c)
        return c

    def settle(self, rounds: int = 10) -> None:
        for _ in range(rounds):
            for c in self.clients:
                c.exchange()

    def logged(self, message_id: int) -> list[str]:
        tag = f"-{message_id}:"
        return [line for line in self.lines if line.startswith("%PIX-") and tag in line]


def test_client_gets_pool_address_dns_wins_and_teardown_returns_it() -> None:
    bench = Bench()
    try:
        alice = bench.client(1)
        alice.connect()
        assert alice.ppp.up
        assert alice.ppp.address == IPv4Address("198.51.100.10")
        assert alice.ppp.dns == (IPv4Address("192.0.2.53"), IPv4Address("192.0.2.54"))
        assert alice.ppp.wins == (IPv4Address("192.0.2.137"),)
        assert alice.ppp.authenticator_verified is True

        gw = bench.gateway
        uauth = bench.view.uauth_status()
        assert uauth.authenticated_current == 1
        assert [(e.username, e.address) for e in uauth.entries] == [
            ("alice", IPv4Address("198.51.100.10"))
        ]
        (session,) = bench.view.l2tp_session_status()
        assert session.username == "alice" and session.ppp_interface_id == 1
        (pool,) = bench.view.pool_status()
        assert pool.in_use == 1
        (created,) = bench.logged(603106)
        assert "remote_peer_ip is 192.0.2.2" in created
        assert "client_dynamic_ip is 198.51.100.10 username is alice" in created
        assert bench.logged(109011) == ["%PIX-6-109011: Authen Session Start: user 'alice', sid 0"]

        # IP both ways: the client's packet goes inside; the inside's comes back to the client.
        packet = bytes.fromhex("4500001c000000004001") + bytes(2) + bytes([198, 51, 100, 10])
        packet += bytes([203, 0, 113, 9]) + bytes(8)
        alice.ppp.send_ip(packet)
        bench.settle()
        assert bench.dataplane.sent_ip == [packet]
        reply = packet[:12] + packet[16:20] + packet[12:16] + packet[20:]
        assert bench.dataplane.receive_ip(reply)
        bench.settle()
        assert alice.ppp.received_ip == [reply]

        # The client hangs up: tunnel, session, lease and uauth all go.
        alice.lac.stop(bench.clock.seconds())
        bench.settle()
        assert gw.sessions == {}
        assert bench.view.pool_status()[0].in_use == 0
        assert bench.view.uauth_status().entries == ()
        assert IPv4Address("198.51.100.10") not in bench.dataplane.routes
        assert len(bench.logged(109012)) == 1
        assert bench.logged(603107) == [
            f"%PIX-6-603107: L2TP Tunnel deleted, tunnel_id = {session.tunnel_id}, "
            "remote_peer_ip = 192.0.2.2"
        ]
    finally:
        bench.close()


def test_wrong_password_is_refused_and_leases_nothing() -> None:
    bench = Bench()
    try:
        mallory = bench.client(1, "alice", "wrong")
        mallory.connect()
        assert not mallory.ppp.up
        assert mallory.ppp.auth_result == "failure"
        assert bench.view.pool_status()[0].in_use == 0
        assert bench.logged(109011) == []
        assert any("aaa authentication failed" in line for line in bench.logged(603103))
    finally:
        bench.close()


def test_pool_exhausted_refuses_the_third_client() -> None:
    bench = Bench()
    try:
        clients = [bench.client(i) for i in (1, 2, 3)]
        for c in clients:
            c.connect()
        assert [c.ppp.up for c in clients] == [True, True, False]
        assert {c.ppp.address for c in clients[:2]} == {
            IPv4Address("198.51.100.10"),
            IPv4Address("198.51.100.11"),
        }
        assert bench.view.pool_status()[0].in_use == 2
    finally:
        bench.close()


def test_a_user_cannot_send_as_another_users_address() -> None:
    """Issue 27: a packet whose source is not the link's own address (another user's pool
    address, anyone's) is dropped and counted on that link; its own still goes inside."""
    bench = Bench()
    try:
        alice, bob = bench.client(1), bench.client(2)
        alice.connect()
        bob.connect()
        assert (alice.ppp.address, bob.ppp.address) == (
            IPv4Address("198.51.100.10"), IPv4Address("198.51.100.11"))

        def packet(source: str) -> bytes:
            return (bytes.fromhex("4500001c000000004001") + bytes(2)
                    + IPv4Address(source).packed + bytes([203, 0, 113, 9]) + bytes(8))

        for source in ("198.51.100.11", "192.0.2.77", "203.0.113.9"):
            alice.ppp.send_ip(packet(source))
        alice.ppp.send_ip(b"\x45\x00")  # not even a header
        alice.ppp.send_ip(packet("198.51.100.10"))
        bench.settle()
        assert bench.dataplane.sent_ip == [packet("198.51.100.10")]
        by_id = {p.interface_id: p for p in bench.view.ppp_interfaces()}
        assert (by_id[1].spoofed_packets, by_id[2].spoofed_packets) == (4, 0)
        text = render_pppinterface(bench.view.ppp_interfaces())
        assert "Dropped Pkts (source not the client ip address): 4" in text
        assert text.count("Dropped Pkts") == 1  # bob's block has no such line
    finally:
        bench.close()


def test_clear_vpdn_tunnel_frees_everything() -> None:
    bench = Bench()
    try:
        alice = bench.client(1)
        alice.connect()
        assert alice.ppp.up
        assert bench.view.clear_vpdn_tunnel(None) == 1
        bench.settle()
        assert alice.lac.tunnel_state != "established"
        assert bench.gateway.sessions == {}
        assert bench.view.pool_status()[0].in_use == 0
    finally:
        bench.close()


def test_ipsec_sa_deleted_closes_the_tunnel_riding_on_it() -> None:
    bench = Bench()
    try:
        alice = bench.client(1)
        alice.connect()
        assert alice.ppp.up
        event = bench.dataplane.child_sas[1]
        bench.dataplane.expire(1, hard=True)  # the hard lifetime ran out; no IKE to rekey
        bench.settle()
        assert 1 not in bench.dataplane.child_sas
        assert bench.gateway.sessions == {}
        assert bench.view.pool_status()[0].in_use == 0
        assert bench.gateway.l2tp.tunnel_keys() == ()
        assert event.child_sa_id == 1
    finally:
        bench.close()


def test_vanished_client_is_cleaned_up_by_hello_timeout() -> None:
    bench = Bench()
    try:
        alice = bench.client(1)
        alice.connect()
        assert alice.ppp.up
        bench.clients.clear()  # the client stops answering anything
        for _ in range(400):
            bench.clock.advance(1)
            if not bench.gateway.sessions:
                break
        assert bench.gateway.sessions == {}
        assert bench.view.pool_status()[0].in_use == 0
        # within the hello window plus the retransmission schedule
        assert bench.clock.seconds() < 60 + 60
    finally:
        bench.close()


def test_clear_uauth_disconnects_the_user() -> None:
    bench = Bench()
    try:
        alice = bench.client(1)
        alice.connect()
        assert alice.ppp.up
        assert bench.view.clear_uauth("bob") == 0
        assert bench.view.clear_uauth("alice") == 1
        bench.settle()
        assert alice.ppp.terminated or not alice.ppp.up
        assert bench.gateway.sessions == {}
        assert bench.view.uauth_status().authenticated_current == 0
        assert bench.view.pool_status()[0].in_use == 0
    finally:
        bench.close()


class FakeIke:
    """Just enough of IkeResponder for the gateway: events out, deletes recorded."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self.children: dict[int, ChildSaEstablished] = {}
        self.deleted_children: list[int] = []
        self.deleted_ike: list[bytes] = []

    def establish(self, event: ChildSaEstablished) -> None:
        self.children[event.child_sa_id] = event
        self.events.append(event)

    def next_event(self) -> object | None:
        return self.events.pop(0) if self.events else None

    def datagrams_to_send(self, now: float) -> list[object]:
        return []

    def get_timer(self) -> None:
        return None

    def handle_timer(self, now: float) -> None:
        return None

    def child_sa(self, child_sa_id: int) -> ChildSaEstablished | None:
        return self.children.get(child_sa_id)

    def delete_child_sa(self, child_sa_id: int, now: float) -> None:
        self.deleted_children.append(child_sa_id)

    def delete_ike_sa(self, ike_sa_id: bytes, now: float) -> None:
        self.deleted_ike.append(ike_sa_id)

    def ipsec_sa_status(self, now: float | None = None) -> tuple[()]:
        return ()


def test_tunnel_end_deletes_its_sa_and_the_phase1_left_without_children() -> None:
    bench = Bench()
    ike = FakeIke()
    bench.gateway.ike = ike  # type: ignore[assignment]
    try:
        alice = bench.client(1)  # installs child SA 1 in the dataplane directly
        bench.dataplane.child_sas.pop(1)
        ike.establish(child_sa(1, 4501))  # ...and now through IKE, as in the service
        bench.gateway.pump()
        assert 1 in bench.dataplane.child_sas
        alice.connect()
        assert alice.ppp.up
        alice.lac.stop(bench.clock.seconds())
        bench.settle()
        assert ike.deleted_children == [1]
        assert ike.deleted_ike == [bytes(16)]  # no other child SA left on that phase 1
    finally:
        bench.close()


def test_quick_mode_2_installs_the_inbound_sa_and_an_abandoned_one_goes() -> None:
    bench = Bench()
    ike = FakeIke()
    bench.gateway.ike = ike  # type: ignore[assignment]
    try:
        pending = child_sa(5, 4501)
        ike.events.append(ChildSaPending(pending))
        bench.gateway.pump()
        assert bench.dataplane.pending_inbound == {5: pending}
        assert 5 not in bench.dataplane.child_sas
        gone = ChildSaDeleted(pending.ike_sa_id, 5, pending.inbound.spi, pending.outbound.spi,
                              QUICK_MODE_ABANDONED)
        ike.events.append(gone)
        bench.gateway._ike_timer_fired()  # the quick mode's deadline: it ends the exchange
        assert bench.dataplane.pending_inbound == {} and bench.dataplane.removed == [gone]
    finally:
        bench.close()


def test_a_pump_that_raises_still_arms_every_timer() -> None:
    """Issue 29: an exception in the pump used to skip re-arming the cores' timers (the L2TP
    hello, the PPP restart timers...): the gateway then never timed anything out again."""
    import pytest

    bench = Bench()
    try:
        alice = bench.client(1)
        alice.connect()
        assert alice.ppp.up
        gw = bench.gateway
        real = gw.links.drain
        gw._l2tp_timer.cancel()
        gw._ppp_timer.cancel()

        def broken(now: float) -> bool:
            gw.links.drain = real  # type: ignore[method-assign]
            raise RuntimeError("a bug in a handler")

        gw.links.drain = broken  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            gw.pump()
        assert gw._l2tp_timer._call is not None and gw._l2tp_timer._call.active()
        assert gw.l2tp.get_timer() is not None
        # and the gateway goes on: an hour of hellos later the client is still there
        for _ in range(60):
            bench.clock.advance(60)
            bench.settle()
        assert alice.ppp.up and gw.sessions
    finally:
        bench.close()


def test_show_crypto_ipsec_stats_shows_the_dataplane_drops() -> None:
    from pixgw.cli.commands import CommandContext
    from pixgw.tap import build_command_table

    bench = Bench()
    try:
        bench.dataplane.note_l2tp_without_ipsec(("198.51.100.9", 1701))
        bench.dataplane.note_l2tp_without_ipsec(None)
        table = build_command_table()
        out = table.run(CommandContext(gateway=bench.view), "show crypto ipsec stats")
        assert isinstance(out, str)
        lines = out.splitlines()
        assert lines[0] == "IPsec Global Statistics (memory dataplane)"
        assert "  L2TP without IPsec:                 2" in lines
        assert "  Lifetime check failures:            0" in lines
    finally:
        bench.close()


def test_a_finished_session_leaves_no_reference_cycle() -> None:
    """Issue 30: a PPP session and its LCP/IPCP layers used to form a cycle (the layers' hooks
    were bound methods of the session): only the cyclic collector freed them, so the GC's view
    of long-lived objects could not be frozen. Now a finished session is freed by reference
    counting alone: a whole client's life (IKE, L2TP, PPP, AAA, pool) leaves nothing for the
    collector."""
    import gc

    bench = Bench()
    try:
        gc.collect()
        gc.disable()
        try:
            for child_id in (1, 2):
                client = bench.client(child_id)
                client.connect()
                assert client.ppp.up
                client.lac.stop(bench.clock.seconds())
                bench.settle()
            assert not bench.gateway.sessions
            bench.clients.clear()
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            assert [o for o in gc.garbage if type(o).__module__.startswith("pixgw.")] == []
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    finally:
        bench.close()


def test_show_memory_shows_the_process_and_the_collector() -> None:
    from pixgw.cli.commands import CommandContext
    from pixgw.gcpolicy import GcPolicy
    from pixgw.tap import build_command_table

    bench = Bench()
    policy = GcPolicy()
    try:
        alice = bench.client(1)
        alice.connect()
        table = build_command_table()
        before = table.run(CommandContext(gateway=bench.view), "show memory")
        assert isinstance(before, str) and "Garbage collector: CPython default" in before
        policy.install()
        bench.gateway.gc_policy = policy
        out = table.run(CommandContext(gateway=bench.view), "show memory")
        assert isinstance(out, str)
        lines = out.splitlines()
        assert lines[0].endswith("bytes free") and " bytes total, " in lines[0]
        assert lines[1].startswith("pixgw process: ") and "1 sessions, " in lines[1]
        assert lines[2] == ("Garbage collector: survivors frozen after each generation 1 "
                            "collection")
        assert lines[5].startswith("  objects frozen:") and int(lines[5].split()[-1]) > 0
    finally:
        policy.uninstall()
        bench.close()
