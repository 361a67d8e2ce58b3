"""A whole pixgw Gateway in one process for the benchmarks: IKEv1 main mode + quick mode
(RFC 2409 §5.4, §5.5) through the gateway's IkeResponder, then L2TP (RFC 2661 §5) and PPP
(RFC 1661, RFC 2759 MS-CHAPv2, RFC 1332 IPCP) from the in-package testing initiator, LAC and PPP
peer, with local AAA (cleartext users checked by MS-CHAPv2 here). Time is a task.Clock; datagrams
move in memory (MemoryDataplane) -- nothing leaves the process.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from ipaddress import IPv4Address

from twisted.internet import task
from twisted.internet.defer import Deferred, succeed

from pixgw.aaa.interfaces import AuthDecision, ClientInfo
from pixgw.config.parser import parse
from pixgw.dataplane.memory import MemoryDataplane
from pixgw.deadlines import Deadlines
from pixgw.gateway import Gateway
from pixgw.ike import constants as c
from pixgw.ike.core import IkeResponder
from pixgw.ike.events import Endpoint
from pixgw.logrouter import PixLogRouter
from pixgw.ppp import mschap
from pixgw.ppp.auth import AuthenticationRequested
from pixgw.testing.ike_initiator import EspOffer, IkeInitiator, InitiatorProfile, Phase1Offer
from pixgw.testing.l2tp_lac import L2tpLac
from pixgw.testing.ppp_peer import PppPeer

GATEWAY = IPv4Address("192.0.2.1")
PSK = b"bench-psk"
PASSWORD = "bench-pw"


def config_text(group: int = 2, pool_size: int = 256) -> str:
    first = IPv4Address("10.64.0.1")
    last = first + pool_size - 1
    return "\n".join([
        "hostname gw",
        "interface ethernet0 auto",
        "interface ethernet1 auto",
        "nameif ethernet0 outside security0",
        "nameif ethernet1 inside security100",
        "ip address outside 192.0.2.1 255.255.255.0",
        "ip address inside 203.0.113.1 255.255.255.0",
        f"ip local pool l2tp {first}-{last}",
        "access-list l2tp permit udp any any",
        "crypto ipsec transform-set t esp-aes-256 esp-sha-hmac",
        "crypto ipsec transform-set t mode transport",
        "crypto dynamic-map dyna 20 match address l2tp",
        "crypto dynamic-map dyna 20 set transform-set t",
        "crypto map mymap 10 ipsec-isakmp dynamic dyna",
        "crypto map mymap interface outside",
        "isakmp enable outside",
        f"isakmp key {PSK.decode()} address 0.0.0.0 netmask 0.0.0.0 no-xauth no-config-mode",
        "isakmp identity address",
        "isakmp policy 10 authentication pre-share",
        "isakmp policy 10 encryption aes-256",
        "isakmp policy 10 hash sha",
        f"isakmp policy 10 group {group}",
        "isakmp policy 10 lifetime 86400",
        "vpdn group g accept dialin l2tp",
        "vpdn group g ppp authentication mschapv2",
        "vpdn group g client configuration address local l2tp",
        "vpdn group g client configuration dns 192.0.2.53",
        "vpdn group g client authentication local",
        "vpdn group g l2tp tunnel hello 60",
        f"vpdn username bench password {PASSWORD}",
        "vpdn enable outside",
        "",
    ])


def check_locally(request: AuthenticationRequested, client: ClientInfo) -> Deferred[AuthDecision]:
    """Local AAA as the bench's authenticator: one user, MS-CHAPv2 verified for real."""
    if request.username != "bench" or request.protocol != "mschapv2":
        return succeed(AuthDecision(False, "unknown user"))
    h = mschap.nt_password_hash(PASSWORD)
    expected = mschap.generate_nt_response(
        request.challenge, request.peer_challenge, request.username, h)
    if expected != request.nt_response:
        return succeed(AuthDecision(False, "bad password"))
    return succeed(AuthDecision(True, mschapv2_authenticator_response=(
        mschap.generate_authenticator_response(
            h, request.nt_response, request.peer_challenge, request.challenge,
            request.username))))


def client_endpoint(n: int) -> Endpoint:
    # documentation /24s are too small for 10,000 clients: in-memory only, never on a wire
    return Endpoint(IPv4Address(int(IPv4Address("100.64.0.1")) + n), 500)


class BenchClient:
    """One remote-access client: IKE initiator, LAC and PPP peer."""

    def __init__(self, world: GatewayWorld, n: int, group: int) -> None:
        self.world = world
        self.n = n
        self.endpoint = client_endpoint(n)
        profile = InitiatorProfile(psk=PSK, phase1=(
            Phase1Offer(c.ENC_AES, 256, c.HASH_SHA, c.AUTH_PSK, group),),
            esp=(EspOffer(c.ESP_AES, 256, c.AUTH_HMAC_SHA),), vendor_ids=())
        self.ike = IkeInitiator(profile, self.endpoint, Endpoint(GATEWAY, 500), os.urandom)
        self.lac = L2tpLac(random_bytes=os.urandom, tunnel_id=1 + n % 65000)
        self.ppp = PppPeer("bench", PASSWORD, random_bytes=os.urandom,
                           auth_protocols=("mschapv2",))
        self.child_sa_id: int | None = None
        self._ppp_started = False

    def ike_setup(self) -> bool:
        world = self.world
        local = Endpoint(GATEWAY, 500)
        msg: bytes | None = self.ike.main_mode_1()
        for _ in range(10):
            if msg is None or self.ike.state == "established":
                break
            world.gateway.ike_received(msg, local, self.endpoint)
            replies = world.ike_out.pop(self.endpoint, [])
            if not replies:
                return False
            msg = self.ike.receive(replies[-1])
        world.gateway.ike_received(self.ike.quick_mode_1(), local, self.endpoint)
        replies = world.ike_out.pop(self.endpoint, [])
        if not replies:
            return False
        qm3 = self.ike.receive(replies[-1])
        if qm3 is None:
            return False
        world.gateway.ike_received(qm3, local, self.endpoint)
        child = world.new_child_for(self.endpoint.address)
        if child is None:
            return False
        self.child_sa_id = child
        world.by_child[child] = self
        return True

    def outgoing(self, now: float) -> list[bytes]:
        """What the client has to send: PPP frames through its LAC, L2TP datagrams out."""
        for frame in self.ppp.frames_to_send(now):
            self.lac.send_ppp(frame, now)
        return self.lac.datagrams_to_send(now)

    def exchange(self) -> None:
        """Sends what the client has to the gateway at once (the gateway's CPU counted)."""
        self.world.send_to_gateway([(self, self.outgoing(self.world.clock.seconds()))])

    def next_deadline(self) -> float | None:
        """The earlier of the LAC's and the PPP peer's timers."""
        lac, ppp = self.lac.get_timer(), self.ppp.get_timer()
        if lac is None:
            return ppp
        return lac if ppp is None or lac < ppp else ppp

    def deliver(self, payload: bytes) -> None:
        now = self.world.clock.seconds()
        self.lac.receive_datagram(payload, now)
        for frame in self.lac.frames:
            self.ppp.receive_frame(frame, now)
        self.lac.frames.clear()
        if self.lac.tunnel_state == "established" and self.lac.session_state == "idle":
            self.lac.place_call(now)
        if self.lac.session_state == "established" and not self._ppp_started:
            self._ppp_started = True
            self.ppp.start(now)


class GatewayWorld:
    """The gateway plus its clients, pumped until quiet."""

    def __init__(self, group: int = 2, pool_size: int = 256) -> None:
        self.clock = task.Clock()
        self.dataplane = MemoryDataplane()
        parsed = parse(config_text(group, pool_size)).config
        self.ike = IkeResponder(parsed, random_bytes=os.urandom)
        self.gateway = Gateway(parsed, reactor=self.clock,
                               log_router=PixLogRouter(parsed.logging, console=lambda line: None),
                               dataplane=self.dataplane, ike=self.ike,
                               authenticate=check_locally, random_bytes=os.urandom)
        # the LNS refuses SCCRQs beyond max_tunnels (4096 by default, a flood guard): the bench
        # asks for as many as it has clients
        settings = self.gateway.l2tp.settings
        if settings.max_tunnels < pool_size + 64:
            self.gateway.l2tp.settings = replace(settings, max_tunnels=pool_size + 64)
        self.ike_out: dict[Endpoint, list[bytes]] = defaultdict(list)
        self.gateway.send_ike = self._send_ike
        self.gateway.start()
        self.by_child: dict[int | None, BenchClient] = {}
        self._known_children: set[int] = set()
        self.clients: list[BenchClient] = []
        # every client's next timer (LAC retransmission/ack, PPP restart), for advance()
        self._client_deadlines: Deadlines[BenchClient] = Deadlines()
        # CPU seconds spent inside the gateway (its timers, and the datagrams given to it), so
        # the bench can tell the gateway's share from the in-process clients'
        self.gateway_cpu = 0.0

    def _send_ike(self, data: bytes, local: Endpoint, remote: Endpoint) -> None:
        self.ike_out[remote].append(data)

    def new_child_for(self, address: IPv4Address) -> int | None:
        # the newest child SAs are last (dict order): walk back to the first one already known
        found = None
        for child_id in reversed(self.dataplane.child_sas):
            if child_id in self._known_children:
                break
            self._known_children.add(child_id)
            if found is None:
                found = child_id
        return found

    def route(self) -> dict[BenchClient, None]:
        """Hands the gateway's queued L2TP datagrams to their clients; returns those clients."""
        sent = self.dataplane.sent_l2tp
        touched: dict[BenchClient, None] = {}
        if not sent:
            return touched
        batch = list(sent)
        sent.clear()
        for item in batch:
            client = self.by_child.get(item.peer.child_sa_id)
            if client is not None:
                client.deliver(item.payload)
                touched[client] = None
        return touched

    def send_to_gateway(self, batch: list[tuple[BenchClient, list[bytes]]]) -> None:
        """The clients' datagrams to the gateway through their SAs, the gateway's CPU counted
        once around the batch (a clock read per datagram would cost more than some datagrams)."""
        dataplane = self.dataplane
        child_sas = dataplane.child_sas
        cpu = time.process_time()
        for cl, datagrams in batch:
            child = cl.child_sa_id
            if child is None or child not in child_sas:
                continue
            for data in datagrams:
                dataplane.receive_l2tp(child, data)
        self.gateway_cpu += time.process_time() - cpu

    def settle(self, clients: list[BenchClient] | None = None, rounds: int = 40) -> None:
        """Exchanges until quiet: *clients* (and those the gateway sent to) send what they have,
        the gateway answers, its datagrams go to their clients; only clients that something
        touched are looked at. A client's timer goes into the world's deadlines afterwards."""
        active: dict[BenchClient, None] = dict.fromkeys(clients or ())
        active.update(self.route())
        for _ in range(rounds):
            if not active:
                break
            now = self.clock.seconds()
            self.send_to_gateway([(cl, cl.outgoing(now)) for cl in active])
            for cl in active:
                self._client_deadlines.set(cl, cl.next_deadline())
            active = self.route()
        for cl in active:  # rounds ran out: their timers still count
            self._client_deadlines.set(cl, cl.next_deadline())

    def connect(self, n: int, group: int) -> BenchClient | None:
        cl = BenchClient(self, n, group)
        if not cl.ike_setup():
            return None
        self.clients.append(cl)
        cl.lac.start_tunnel(self.clock.seconds())
        self.settle([cl])
        return cl if cl.ppp.up else None

    def advance(self, seconds: float, step: float = 1.0,
                on_step: Callable[[], None] | None = None) -> None:
        """Moves the clock forward (hellos, echoes, retransmits), clients answering. The
        clients' timers are kept in one Deadlines, so a step looks only at the clients due."""
        steps = int(seconds / step)
        for _ in range(min(steps, 100000)):
            self.tick(step)
            if on_step is not None:
                on_step()

    def tick(self, seconds: float) -> None:
        """One step of *seconds* (any length): the gateway's timers, the due clients."""
        cpu = time.process_time()
        self.clock.advance(seconds)  # only the gateway has timers on the clock
        self.gateway_cpu += time.process_time() - cpu
        now = self.clock.seconds()
        due = self._client_deadlines.pop_due(now)
        for cl in due:
            t = cl.lac.get_timer()
            if t is not None and t <= now:
                cl.lac.handle_timer(now)
            t = cl.ppp.get_timer()
            if t is not None and t <= now:
                cl.ppp.handle_timer(now)
        self.settle(due, rounds=3)

    def close(self) -> None:
        self.gateway.stop()
