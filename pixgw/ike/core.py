"""The sans-I/O IKEv1 responder: RFC 2409 §5 main mode (pre-shared keys §5.4, signatures §5.1),
§5.5 quick mode, §5.7 informational exchanges with RFC 2408 §3.14/§3.15 notify and delete,
RFC 2407 §4.6.3 RESPONDER-LIFETIME and INITIAL-CONTACT, RFC 3947 NAT traversal (and drafts
02/03), RFC 3706 dead peer detection.

The core never touches a socket or a clock: :meth:`IkeResponder.receive_datagram` takes a
datagram with the endpoints it travelled between (``local.port`` 4500 for a datagram that came on
the NAT-T port, non-ESP marker already removed), :meth:`IkeResponder.datagrams_to_send` gives what
to send (the shell adds the marker on port 4500), :meth:`IkeResponder.get_timer` /
:meth:`IkeResponder.handle_timer` drive retransmissions and lifetimes, and
:meth:`IkeResponder.next_event` yields the SAs for the dataplane.

Malformed input is dropped and counted; nothing raises out of ``receive_datagram``. Notifies of
errors are sent only under an authenticated phase-1 SA (except NO-PROPOSAL-CHOSEN to message 1,
which a PIX sends in the clear).

Behaviour worth knowing when wiring it in:

- IKEv1 semantics: deleting or expiring a phase-1 SA leaves its IPsec SAs (the client rekeys
  phase 1 under live SAs); only DPD death and INITIAL-CONTACT take them too, and then every
  :class:`ChildSaDeleted` comes before the :class:`IkeSaDeleted`.
- The responder never starts a quick mode (no rekey towards a client behind NAT, as Windows
  requires); aggressive mode is not answered (the PIX without ``vpngroup``).
- ``isakmp_sa_status(now)`` / ``ipsec_sa_status(now)`` take an optional ``now`` for the
  seconds left; child SA ids are odd (inbound conn id = id, outbound = id + 1, as on the PIX).
- A one-byte ``b"\\xff"`` from :meth:`datagrams_to_send` is a NAT-T keepalive: send it on 4500
  without the non-ESP marker (:class:`pixgw.ike.transport.IkeUdpPorts` does).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import Any

from pixgw import syslog
from pixgw.config.model import PixConfig
from pixgw.deadlines import Deadlines
from pixgw.ike import constants as c
from pixgw.ike import crypto
from pixgw.ike.certauth import IkeCertificateSource
from pixgw.ike.events import (
    QUICK_MODE_ABANDONED,
    ChildSaEstablished,
    Endpoint,
    IkeEvent,
    IkeSaDeleted,
    TrafficSelector,
)
from pixgw.ike.exchanges import informational, main_mode, quick_mode
from pixgw.ike.exchanges.common import (
    HALF_OPEN_MAX_BYTES,
    HALF_OPEN_RETRANSMIT_BYTES_PER_SECOND,
    NAT_KEEPALIVE,
    REFUSALS_ANSWERED_PER_SECOND,
    RETRANSMIT_COUNT,
    RETRANSMIT_INTERVAL,
    ZERO_COOKIE,
    ChildSaRecord,
    Inbound,
    discard,
    encryption_name,
)
from pixgw.ike.fragment import THRESHOLD, FragmentReassembly, fragment
from pixgw.ike.message import (
    DeletePayload,
    FragmentPayload,
    HashPayload,
    Header,
    Payload,
    decode_header,
    decode_payloads,
    payload_spans,
)
from pixgw.ike.phase1 import IsakmpSa, MainModeInput, MainModeState, Retransmission, next_state
from pixgw.ike.policy import (
    HASH_NAMES,
)
from pixgw.ike.quickmode import (
    QuickModeExchange,
    QuickModeState,
)
from pixgw.status import IkeCounters, IpsecSaStatus, IsakmpSaStatus, IsakmpStats, SaCounters
from pixgw.syslog import LogSink
from pixgw.wire import MalformedMessage

__all__ = ["NAT_KEEPALIVE", "ChildSaRecord", "IkeResponder"]

RandomBytes = Callable[[int], bytes]
Datagram = tuple[bytes, Endpoint, Endpoint]

# The main-mode steps after the first, by the table's input (pixgw.ike.phase1.TRANSITIONS)
_MAIN_MODE_STEPS = {
    MainModeInput.MESSAGE_3: main_mode.message_3,
    MainModeInput.MESSAGE_5: main_mode.message_5,
}


class _PerSecond:
    """At most *limit* units (bytes, answers) in each whole second of the core's clock."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._second = 0
        self._used = 0

    def take(self, amount: int, now: float) -> bool:
        second = int(now)
        if second != self._second:
            self._second, self._used = second, 0
        if self._used + amount > self._limit:
            return False
        self._used += amount
        return True


class IkeResponder:
    """The IKEv1 responder for every peer of the gateway.

    The shells use the sans-I/O methods (``receive_datagram``, ``datagrams_to_send``,
    ``get_timer``, ``handle_timer``, ``next_event``) and the status and delete methods. The other
    public attributes are the exchanges' context (:mod:`pixgw.ike.exchanges`): the registry of
    SAs, quick modes and child SAs with their indexes, the half-open bookkeeping, and the
    services an exchange step uses (``send``, ``arm_sa``, ``delete_ike``, ``count``, ``debug``,
    ...). The core alone decodes, reassembles fragments, retransmits, runs the timers and
    assigns the main-mode state from :data:`pixgw.ike.phase1.TRANSITIONS`."""

    def __init__(self, config: PixConfig, *, random_bytes: RandomBytes,
                 certificates: IkeCertificateSource | None = None,
                 log: LogSink = syslog) -> None:
        self.sink = log  # PIX syslog messages and debug lines (the process's publisher)
        self.config = config
        self.random = random_bytes
        self.certificates = certificates
        self.sas: dict[bytes, IsakmpSa] = {}
        self.by_initiator: dict[tuple[bytes, Endpoint], bytes] = {}
        self.quick: dict[tuple[bytes, int], QuickModeExchange] = {}
        self.children: dict[int, ChildSaRecord] = {}
        # quick modes by phase-1 SA, and the inbound SPIs taken (quick modes, child SAs): the
        # pending count, a phase-1 delete and a new SPI look these up instead of scanning
        self.quick_of_sa: dict[bytes, set[int]] = {}
        self.quick_spis: set[int] = set()
        self.child_spis: set[int] = set()
        # Timers: one deadline per phase-1 SA, quick mode and child SA (pixgw.deadlines, the
        # structure the L2TP core and the gateway's PPP sessions use too), set to the item's
        # earliest deadline wherever one is set, so get_timer/handle_timer cost what is due, not
        # the number of SAs; a deleted item's deadline is cancelled.
        self._sa_deadlines: Deadlines[bytes] = Deadlines()
        self._quick_deadlines: Deadlines[tuple[bytes, int]] = Deadlines()
        self.child_deadlines: Deadlines[int] = Deadlines()
        # who is who, for INITIAL-CONTACT and deletes without scanning every SA
        self.sas_by_address: dict[IPv4Address, set[bytes]] = {}
        self.children_by_address: dict[IPv4Address, set[int]] = {}
        self.children_by_sa: dict[bytes, set[int]] = {}
        # INITIAL-CONTACT's questions, indexed (a load generator or a NAT puts thousands of SAs
        # behind one address): authenticated SAs by (address, peer ID), child SAs by outer
        # (address, port), and child SAs whose phase 1 is gone by address
        self.sas_by_peer: dict[tuple[IPv4Address, tuple[int, bytes]], set[bytes]] = {}
        self.children_by_endpoint: dict[tuple[IPv4Address, int], set[int]] = {}
        self.orphans_by_address: dict[IPv4Address, set[int]] = {}
        self.out: list[Datagram] = []
        self.events: deque[IkeEvent] = deque()
        self.next_conn_id = 1
        self.next_child_id = 1
        self._reassembly = FragmentReassembly()
        self._next_fragment_id = 1
        self._counters: dict[str, int] = dict.fromkeys(IkeCounters.__dataclass_fields__, 0)
        # First messages repeat byte for byte after their cookies (every client of one OS sends
        # the same one; so does a flood tool): their decoding and the proposal chosen for them
        # are kept for the last FIRST_MESSAGE_CACHE bodies (the choice only while no one watches
        # debug crypto isakmp, whose lines the choosing writes; forgotten on reconfigure).
        self.first_decoded: dict[tuple[int, bytes], tuple[Any, Any]] = {}
        self.first_choice: dict[bytes, tuple[Any, list[str]]] = {}
        # Unauthenticated SAs (message 1 to 5) -> their source address, and per source, oldest
        # first; the half-open ones (waiting for message 3) -> the bytes they hold, oldest first.
        self.unauthenticated: dict[bytes, IPv4Address] = {}
        self.unauthenticated_by_source: dict[IPv4Address, dict[bytes, None]] = {}
        self.half_open: dict[bytes, int] = {}
        self.half_open_bytes = 0
        self._retransmit_budget = _PerSecond(HALF_OPEN_RETRANSMIT_BYTES_PER_SECOND)
        self.refusal_budget = _PerSecond(REFUSALS_ANSWERED_PER_SECOND)
        self._log_counts: dict[str, int] = {}

    def debug(self, text: str) -> None:
        self.sink.debug("crypto isakmp", text)

    def ipsec_debug(self, text: str) -> None:
        self.sink.debug("crypto ipsec", text)

    def pix(self, message_id: int, text: str) -> None:
        self.sink.pix_log(message_id, text)

    # --- public API -----------------------------------------------------------------------------

    def reconfigure(self, config: PixConfig) -> None:
        """New policies and maps apply to new exchanges; established SAs stay."""
        self.config = config
        self.first_choice.clear()

    @property
    def counters(self) -> IkeCounters:
        return IkeCounters(**self._counters)

    def receive_datagram(self, data: bytes, local: Endpoint, remote: Endpoint, now: float) -> None:
        self.count(received=1)
        try:
            self._receive(data, local, remote, now)
        except MalformedMessage as e:
            self.count(malformed=1)
            self.debug(f"ISAKMP: malformed message from {remote.address}: {e}")
        except ValueError as e:  # a value the crypto library refused (key sizes, points)
            self.count(malformed=1)
            self.debug(f"ISAKMP: unusable message from {remote.address}: {e}")

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self.out = self.out, []
        return out

    def next_event(self) -> IkeEvent | None:
        return self.events.popleft() if self.events else None

    def get_timer(self) -> float | None:
        times = [
            t
            for t in (
                self._sa_deadlines.earliest(),
                self._quick_deadlines.earliest(),
                self.child_deadlines.earliest(),
                self._reassembly.next_expiry(),
            )
            if t is not None
        ]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        self._reassembly.expire(now)
        due_sas = self._sa_deadlines.pop_due(now)
        due_quick = self._quick_deadlines.pop_due(now)
        due_children = self.child_deadlines.pop_due(now)
        for ike_sa_id in due_sas:
            sa = self.sas.get(ike_sa_id)
            if sa is None:
                continue
            self._retransmit(sa.last_sent, sa.local, sa.remote, now,
                             budgeted=sa.ike_sa_id in self.half_open)
            if sa.expires_at is not None and sa.expires_at <= now:
                if sa.state is MainModeState.QM_IDLE:
                    self.delete_ike(sa, now, "lifetime expired", notify_peer=True)
                else:
                    self.count(half_open_expired=1)
                    self.debug(f"ISAKMP (0): deleting half-open SA with {sa.remote.address}")
                    self.delete_ike(sa, now, "half-open exchange expired", notify_peer=False,
                                    emit=False)
                continue
            if sa.dpd_next_at is not None and sa.dpd_next_at <= now:
                informational.dpd_tick(self, sa, now)
            if sa.keepalive_next_at is not None and sa.keepalive_next_at <= now:
                self.out.append((NAT_KEEPALIVE, sa.local, sa.remote))
                interval = self.config.isakmp.nat_traversal
                sa.keepalive_next_at = now + interval if interval else None
            if sa.ike_sa_id in self.sas:
                self.arm_sa(sa)
        for key in due_quick:
            ex = self.quick.get(key)
            if ex is None:
                continue
            owner = self.sas.get(key[0])
            if ex.expires_at <= now or owner is None:
                self._drop_quick(key)
                continue
            self._retransmit(ex.last_sent, owner.local, owner.remote, now)
            self.arm_quick(key, ex)
        for child_id in due_children:
            record = self.children.get(child_id)
            if record is not None and record.expires_at <= now:
                self.delete_child(child_id, now, "lifetime expired")
            elif record is not None:
                self.child_deadlines.set(child_id, record.expires_at)

    # --- timers ---------------------------------------------------------------------------------

    def arm_sa(self, sa: IsakmpSa) -> None:
        """The SA's deadline: the earliest of its retransmission, lifetime, DPD, keepalive."""
        times = [t for t in (sa.last_sent.next_at if sa.last_sent is not None else None,
                             sa.expires_at, sa.dpd_next_at, sa.keepalive_next_at)
                 if t is not None]
        self._sa_deadlines.set(sa.ike_sa_id, min(times) if times else None)

    def arm_quick(self, key: tuple[bytes, int], ex: QuickModeExchange) -> None:
        retransmit = ex.last_sent.next_at if ex.last_sent is not None else None
        self._quick_deadlines.set(
            key, min(ex.expires_at, retransmit if retransmit is not None else ex.expires_at))

    def set_endpoints(self, sa: IsakmpSa, local: Endpoint, remote: Endpoint) -> None:
        """Floated to 4500, or a new NAT mapping: the address index follows."""
        if remote.address != sa.remote.address and sa.ike_sa_id in self.sas:
            discard(self.sas_by_address, sa.remote.address, sa.ike_sa_id)
            self.sas_by_address.setdefault(remote.address, set()).add(sa.ike_sa_id)
            if sa.peer_id is not None:
                discard(self.sas_by_peer, (sa.remote.address, sa.peer_id), sa.ike_sa_id)
                self.sas_by_peer.setdefault((remote.address, sa.peer_id), set()).add(
                    sa.ike_sa_id)
        sa.local, sa.remote = local, remote

    def delete_ike_sa(self, ike_sa_id: bytes, now: float) -> None:
        """``clear crypto isakmp sa``: Delete to the peer, IkeSaDeleted out."""
        sa = self.sas.get(ike_sa_id)
        if sa is not None:
            self.delete_ike(sa, now, "cleared", notify_peer=True)

    def delete_child_sa(self, child_sa_id: int, now: float) -> None:
        """``clear crypto ipsec sa`` or the L2TP tunnel is gone: Delete to the peer."""
        self.delete_child(child_sa_id, now, "cleared")

    def child_to(self, address: IPv4Address, port: int) -> bool:
        """Whether a child SA to this outer address and port is up (an index, not a scan)."""
        return bool(self.children_by_endpoint.get((address, port)))

    def isakmp_sa_status(self, now: float | None = None) -> tuple[IsakmpSaStatus, ...]:
        out: list[IsakmpSaStatus] = []
        for sa in self.sas.values():
            choice = sa.choice
            pending = sum(1 for mid in self.quick_of_sa.get(sa.ike_sa_id, ())
                          if self.quick[(sa.ike_sa_id, mid)].state
                          is QuickModeState.QM_AUTH_AWAIT)
            left = 0
            if now is not None and sa.expires_at is not None:
                left = max(0, int(sa.expires_at - now))
            out.append(IsakmpSaStatus(
                dst=sa.local.address, src=sa.remote.address, state=sa.state.value,
                pending=pending, created=sa.children_created, ike_sa_id=sa.ike_sa_id,
                src_port=sa.remote.port, dst_port=sa.local.port, conn_id=sa.conn_id,
                encryption=encryption_name(choice.cipher, choice.key_length) if choice else "",
                hash=HASH_NAMES.get(choice.hash, "") if choice else "",
                group=choice.group if choice else 0,
                authentication=choice.policy.authentication if choice else "",
                lifetime=choice.lifetime if choice else 0, seconds_left=left,
                nat_traversal=sa.natt.name if sa.natt else "",
                peer_behind_nat=sa.peer_behind_nat, peer_vendor=sa.peer_vendor, dpd=sa.peer_dpd,
            ))
        return tuple(out)

    def isakmp_stats(self) -> IsakmpStats:
        limits = self.config.isakmp
        unauthenticated = len(self.unauthenticated)
        return IsakmpStats(
            counters=self.counters, established=len(self.sas) - unauthenticated,
            half_open=len(self.half_open), negotiating=unauthenticated - len(self.half_open),
            half_open_bytes=self.half_open_bytes,
            sources_negotiating=len(self.unauthenticated_by_source),
            limit_half_open=limits.limit_half_open,
            limit_half_open_per_peer=limits.limit_half_open_per_peer, limit_sa=limits.limit_sa,
            limit_child_sa=limits.limit_child_sa,
            fragments_pending=self._reassembly.pending,
            fragments_refused=self._reassembly.refused,
            fragments_evicted=self._reassembly.evicted,
            fragments_expired=self._reassembly.expired,
        )

    def ipsec_sa_status(self, now: float | None = None) -> tuple[IpsecSaStatus, ...]:
        """Snapshots without dataplane counters (the gateway merges :class:`SaCounters`)."""
        out: list[IpsecSaStatus] = []
        for record in self.children.values():
            e = record.event
            left = max(0, int(record.expires_at - now)) if now is not None else 0
            block = 16 if e.inbound.cipher.startswith("esp-aes") else (
                0 if e.inbound.cipher == "esp-null" else 8)
            udp = e.encapsulation.startswith("udp")
            mode = ("Transport" if "transport" in e.encapsulation else "Tunnel") + (
                ", UDP-Encaps" if udp else "")
            overhead = 8 + block + 2 + (12 if e.inbound.integrity else 0) + (8 if udp else 0)
            out.append(IpsecSaStatus(
                interface=_interface_for(self.config, e.local.address),
                crypto_map=e.crypto_map, crypto_map_sequence=e.crypto_map_sequence,
                local_address=e.local.address, remote_address=e.remote.address,
                remote_port=e.remote.port, local_ident=_ident(e.local_selector),
                remote_ident=_ident(e.remote_selector),
                transform=f"{e.inbound.cipher} {e.inbound.integrity or ''} ", mode=mode,
                inbound_spi=e.inbound.spi, outbound_spi=e.outbound.spi,
                inbound_conn_id=e.child_sa_id, outbound_conn_id=e.child_sa_id + 1,
                iv_size=block, ipsec_overhead=overhead + (20 if "tunnel" in e.encapsulation else 0),
                counters=SaCounters(
                    inbound_seconds_left=left, outbound_seconds_left=left,
                    inbound_kilobytes_left=e.lifetime_kilobytes,
                    outbound_kilobytes_left=e.lifetime_kilobytes,
                ),
            ))
        return tuple(out)

    def child_sa(self, child_sa_id: int) -> ChildSaEstablished | None:
        record = self.children.get(child_sa_id)
        return record.event if record else None

    # --- dispatch -------------------------------------------------------------------------------

    def count(self, **increments: int) -> None:
        counters = self._counters
        for key, value in increments.items():
            counters[key] += value

    def _receive(self, data: bytes, local: Endpoint, remote: Endpoint, now: float) -> None:
        header, body = decode_header(data)
        if header.next_payload == c.PT_FRAGMENT:
            whole = self._fragment_received(header, body, remote, now)
            if whole is None:
                return
            data = whole
            header, body = decode_header(data)
            if header.next_payload == c.PT_FRAGMENT:
                raise MalformedMessage("a fragment inside a fragmented message")
        if header.exchange_type == c.EXCH_MAIN and header.responder_cookie == ZERO_COOKIE:
            made = main_mode.message_1(self, Inbound(header, body, data, local, remote, now))
            if made is not None:
                self._advance(made, MainModeInput.MESSAGE_1)
            return
        if header.exchange_type == c.EXCH_AGGRESSIVE and header.responder_cookie == ZERO_COOKIE:
            self.debug(f"ISAKMP (0): aggressive mode from {remote.address} not supported, "
                       f"dropped")
            self.count(proposals_refused=1)
            return
        sa = self.sas.get(header.cookies)
        if sa is None:
            self.count(unknown_sa=1)
            return
        if data == sa.last_received and header.exchange_type == c.EXCH_MAIN:
            self.answer_duplicate(sa.last_sent, local, remote)
            return
        if header.exchange_type == c.EXCH_MAIN:
            # the message says which step it is (5 is encrypted, 3 is not); the table says
            # whether that step may run in this state, and the state it leaves the SA in
            step = (MainModeInput.MESSAGE_5 if header.flags & c.FLAG_ENCRYPTION
                    else MainModeInput.MESSAGE_3)
            if next_state(sa.state, step) is None:
                self.count(malformed=1)
            elif _MAIN_MODE_STEPS[step](self, sa, Inbound(header, body, data, local, remote, now)):
                self._advance(sa, step)
        elif header.exchange_type == c.EXCH_QUICK:
            if next_state(sa.state, MainModeInput.QUICK_MODE) is None:
                self.count(malformed=1)
                return
            quick_mode.process(self, sa, Inbound(header, body, data, local, remote, now))
        elif header.exchange_type == c.EXCH_INFO:
            informational.process(self, sa, Inbound(header, body, data, local, remote, now))
        else:
            self.debug(f"ISAKMP (0): exchange type {header.exchange_type} not supported")
            self.count(malformed=1)

    def _advance(self, sa: IsakmpSa, step: MainModeInput) -> None:
        """A main-mode step completed: the SA takes the state the table gives (unless the step
        deleted it)."""
        after = next_state(sa.state, step)
        if after is not None and sa.ike_sa_id in self.sas:
            sa.state = after

    def _fragment_received(self, header: Header, body: bytes, remote: Endpoint,
                           now: float) -> bytes | None:
        if header.flags & c.FLAG_ENCRYPTION:
            raise MalformedMessage("encrypted fragment")
        payloads = decode_payloads(header.next_payload, body)
        if len(payloads) != 1 or not isinstance(payloads[0], FragmentPayload):
            raise MalformedMessage("a fragment message holds one FRAGMENT payload")
        self.count(fragments_received=1)
        whole = self._reassembly.add(header, payloads[0], remote, now)
        if whole is not None:
            inner, _ = decode_header(whole)
            if inner.cookies != header.cookies:
                raise MalformedMessage("reassembled message of other cookies")
            self.debug(f"ISAKMP (0): reassembled {len(whole)} bytes from "
                       f"{payloads[0].number} fragments of {remote.address}")
        return whole

    def answer_duplicate(self, last: Retransmission | None, local: Endpoint,
                         remote: Endpoint) -> None:
        self.count(retransmissions_answered=1)
        if last is not None:
            self.debug(f"ISAKMP (0): retransmitting last message to {remote.address}")
            self.out.extend((d, local, remote) for d in last.fragments or (last.data,))

    def _retransmit(self, last: Retransmission | None, local: Endpoint, remote: Endpoint,
                    now: float, *, budgeted: bool = False) -> None:
        if last is None or last.next_at is None or last.next_at > now:
            return
        if budgeted and not self._retransmit_budget.take(len(last.data), now):
            self.count(retransmissions_suppressed=1)
        else:
            self.out.extend((d, local, remote) for d in last.fragments or (last.data,))
            self.count(retransmissions_sent=1)
        last.remaining -= 1
        last.next_at = last.next_at + RETRANSMIT_INTERVAL if last.remaining > 0 else None

    def send(self, data: bytes, local: Endpoint, remote: Endpoint, now: float, *,
             retransmit: bool, sa: IsakmpSa | None = None) -> Retransmission:
        fragments: tuple[bytes, ...] = ()
        if sa is not None and sa.peer_fragmentation and len(data) > THRESHOLD:
            header, _ = decode_header(data)
            fragments = tuple(fragment(data, header, self._next_fragment_id))
            self._next_fragment_id = self._next_fragment_id % 0xFFFF + 1
        self.out.extend((d, local, remote) for d in fragments or (data,))
        if retransmit:
            return Retransmission(data, now + RETRANSMIT_INTERVAL, RETRANSMIT_COUNT, fragments)
        return Retransmission(data, None, 0, fragments)

    # --- main mode ------------------------------------------------------------------------------


    def admit_half_open(self, source: IPv4Address, now: float) -> bool:
        """Room for one more half-open SA from *source*: the oldest half-open one of the source
        goes when the source is at its bound (refused when all it holds are past message 3),
        then the oldest of all while the total count or bytes are at theirs."""
        limits = self.config.isakmp
        mine = self.unauthenticated_by_source.get(source)
        if mine is not None and len(mine) >= limits.limit_half_open_per_peer:
            victim = next((i for i in mine if i in self.half_open), None)
            if victim is None:
                self.count(refused_per_peer=1)
                self.rate_log("per-peer", f"IKE peer {source}: refused, {len(mine)} "
                                           f"negotiations in progress (isakmp limit "
                                           f"half-open-per-peer {limits.limit_half_open_per_peer})")
                return False
            self._evict(victim, now)
        while self.half_open and (len(self.half_open) >= limits.limit_half_open
                                  or self.half_open_bytes >= HALF_OPEN_MAX_BYTES):
            self._evict(next(iter(self.half_open)), now)
        return True

    def _evict(self, ike_sa_id: bytes, now: float) -> None:
        sa = self.sas.get(ike_sa_id)
        self.count(half_open_evicted=1)
        self.rate_log("evicted", "ISAKMP: half-open SAs at their bound, the oldest dropped "
                                  f"(isakmp limit half-open {self.config.isakmp.limit_half_open})")
        if sa is None:  # not expected: the indexes follow _sas
            self.leave_unauthenticated(ike_sa_id)
            return
        self.delete_ike(sa, now, "half-open SA evicted", notify_peer=False, emit=False)

    def leave_half_open(self, ike_sa_id: bytes) -> None:
        held = self.half_open.pop(ike_sa_id, None)
        if held is not None:
            self.half_open_bytes -= held

    def leave_unauthenticated(self, ike_sa_id: bytes) -> None:
        self.leave_half_open(ike_sa_id)
        source = self.unauthenticated.pop(ike_sa_id, None)
        if source is not None:
            mine = self.unauthenticated_by_source.get(source)
            if mine is not None:
                mine.pop(ike_sa_id, None)
                if not mine:
                    del self.unauthenticated_by_source[source]

    def rate_log(self, key: str, text: str) -> None:
        """A log line for the 1st, 2nd, 4th, 8th, ... time *key* happens (floods stay quiet)."""
        count = self._log_counts[key] = self._log_counts.get(key, 0) + 1
        if count & (count - 1) == 0:
            self.pix(713900, f"{text} [{count} so far]" if count > 1 else text)

    def cookie(self) -> bytes:
        cookie = self.random(8)
        return cookie if cookie != ZERO_COOKIE else b"\x00" * 7 + b"\x01"







    # --- quick mode -----------------------------------------------------------------------------


    def decrypt(self, sa: IsakmpSa, iv: bytes, header: Header, body: bytes
                ) -> tuple[tuple[Payload, ...], bytes, list[tuple[int, int, int]]]:
        cipher, keys = sa.cipher, sa.keys
        if cipher is None or keys is None:
            raise MalformedMessage("no keys")
        plaintext = cipher.decrypt(keys.encryption_key, iv, body)
        payloads = decode_payloads(header.next_payload, plaintext, allow_padding=True)
        spans = payload_spans(header.next_payload, plaintext)
        if not payloads or not isinstance(payloads[0], HashPayload):
            raise MalformedMessage("protected message without HASH first")
        return payloads, plaintext, spans

    def prf_a(self, sa: IsakmpSa, data: bytes) -> bytes:
        if sa.choice is None or sa.keys is None:
            raise MalformedMessage("no keys")
        return crypto.prf(sa.choice.hash, sa.keys.skeyid_a, data)


    def _drop_quick(self, key: tuple[bytes, int]) -> None:
        ex = self.quick.pop(key, None)
        if ex is None:
            return
        self._quick_deadlines.cancel(key)
        self.quick_spis.discard(int.from_bytes(ex.inbound_spi, "big"))
        discard(self.quick_of_sa, key[0], key[1])
        if ex.state is not QuickModeState.QM_DONE and ex.child is not None:
            # message 3 never came: the inbound SA installed with message 2 goes again
            e = ex.child
            self.debug(f"ISAKMP (0): quick mode {ex.message_id} with {e.remote.address} not "
                       f"completed, its inbound SA 0x{e.inbound.spi:x} removed")
            self.events.append(e.deleted(QUICK_MODE_ABANDONED))




    # --- informational --------------------------------------------------------------------------






    # --- deletion -------------------------------------------------------------------------------

    def delete_ike(self, sa: IsakmpSa, now: float, reason: str, *, notify_peer: bool,
                   emit: bool = True) -> None:
        if notify_peer and sa.authenticated_at is not None:
            informational.send(self, sa, [DeletePayload(c.DOI_IPSEC, c.PROTO_ISAKMP, 16,
                                                        (sa.ike_sa_id,))], now)
            self.pix(702202, f"ISAKMP Phase 1 delete sent (local {sa.local.address} (responder), "
                      f"remote {sa.remote.address})")
        sa.state = next_state(sa.state, MainModeInput.DELETE) or MainModeState.MM_DELETED
        self.leave_unauthenticated(sa.ike_sa_id)
        if self.sas.pop(sa.ike_sa_id, None) is not None:
            discard(self.sas_by_address, sa.remote.address, sa.ike_sa_id)
            if sa.peer_id is not None:
                discard(self.sas_by_peer, (sa.remote.address, sa.peer_id), sa.ike_sa_id)
            self._sa_deadlines.cancel(sa.ike_sa_id)
            for child_id in self.children_by_sa.get(sa.ike_sa_id, ()):  # they outlive it
                orphan = self.children[child_id].event.remote.address
                self.orphans_by_address.setdefault(orphan, set()).add(child_id)
        first = (sa.cky_i, sa.first_remote or sa.remote)
        if self.by_initiator.get(first) == sa.ike_sa_id:
            del self.by_initiator[first]
        for mid in sorted(self.quick_of_sa.get(sa.ike_sa_id, ())):
            self._drop_quick((sa.ike_sa_id, mid))
        if emit and sa.authenticated_at is not None:
            self.events.append(IkeSaDeleted(sa.ike_sa_id, sa.remote, reason))

    def delete_child(self, child_id: int, now: float, reason: str, *,
                     notify_peer: bool = True) -> None:
        record = self.children.pop(child_id, None)
        if record is None:
            return
        self.child_deadlines.cancel(child_id)
        e = record.event
        discard(self.children_by_address, e.remote.address, child_id)
        discard(self.children_by_sa, e.ike_sa_id, child_id)
        discard(self.children_by_endpoint, (e.remote.address, e.remote.port), child_id)
        discard(self.orphans_by_address, e.remote.address, child_id)
        self.child_spis.discard(e.inbound.spi)
        if notify_peer:
            # its own phase 1, else the oldest established one with the same address (indexed:
            # not a scan of every SA, which made tearing down N clients quadratic)
            sa = self.sas.get(e.ike_sa_id) or min(
                (s for i in self.sas_by_address.get(e.remote.address, ())
                 if (s := self.sas[i]).state is MainModeState.QM_IDLE),
                key=lambda s: s.conn_id, default=None)
            if sa is not None:
                informational.send(self, sa, [DeletePayload(
                    c.DOI_IPSEC, c.PROTO_ESP, 4, (e.inbound.spi.to_bytes(4, "big"),))], now)
        transform = f"{e.inbound.cipher} {e.inbound.integrity or ''} "
        for spi, dest, conn in ((e.inbound.spi, e.local.address, e.child_sa_id),
                                (e.outbound.spi, e.remote.address, e.child_sa_id + 1)):
            self.pix(602302, f"deleting SA, (sa) sa_dest= {dest}, sa_prot= 50, "
                     f"sa_spi= 0x{spi:x}({spi}), sa_trans= {transform}, sa_conn_id= {conn}")
        self.events.append(e.deleted(reason))


# --- helpers ------------------------------------------------------------------------------------


def _ident(sel: TrafficSelector) -> tuple[IPv4Address, IPv4Address, int, int]:
    span = int(sel.last) - int(sel.first)
    mask = IPv4Address(0xFFFFFFFF ^ span) if span & (span + 1) == 0 else IPv4Address(0)
    return sel.first, mask, sel.protocol, sel.port


def _interface_for(config: PixConfig, address: IPv4Address) -> str:
    for i in config.interfaces:
        if i.address == address:
            return i.name
    maps = [m for m in config.crypto.maps if m.interfaces]
    return maps[0].interfaces[0] if maps else "outside"
