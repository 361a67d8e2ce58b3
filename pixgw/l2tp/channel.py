"""The reliable delivery of L2TP control messages on one tunnel.

RFC 2661 §5.8 (and §5.7 for the teardown timing it feeds):

- Ns/Nr in modulo-65536 arithmetic; a ZLB carries the next Ns without consuming it.
- Every received Nr acknowledges the messages before it; acknowledged messages leave the resend
  queue and unsent messages move into the window.
- Sending window: at most the peer's Receive Window Size (its RWS AVP, else 4) unacknowledged.
- Receive window: messages up to our RWS ahead of the next expected Ns are kept and delivered
  in order once the gap fills; messages further ahead are dropped (counted); duplicates (behind
  the expected Ns) are acknowledged at once and not delivered again.
- Acknowledgement: piggybacked on the next message we send, or a ZLB after ``ack_delay``
  seconds (the "delayed ack" of §5.8).
- Retransmission: ``retransmit_initial`` seconds (1 s), doubling up to ``retransmit_cap``
  (>= 8 s); after ``max_retries`` unanswered retransmissions the channel is failed and the
  core tears the tunnel down.

Sans-I/O: times are the ``now`` arguments.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from pixgw.l2tp.message import ControlMessage

__all__ = ["ChannelCounters", "ControlChannel", "seq_before"]

DISTRIBUTION_BUCKETS = 9


def seq_before(a: int, b: int) -> bool:
    """True when sequence number *a* comes before *b* (modulo 65536, §5.8)."""
    return a != b and ((b - a) & 0xFFFF) < 0x8000


@dataclass
class ChannelCounters:
    """What ``show vpdn tunnel`` prints about the control channel."""

    total_resends: int = 0
    zlb_acks_sent: int = 0
    duplicates: int = 0
    out_of_window: int = 0
    unsent_max: int = 0
    resend_max: int = 0
    retransmit_time_max: float = 0.0
    # retransmissions by the timeout that expired: 1 s, 2 s, 4 s, 8 s, ..., the last bucket
    # collects the rest.
    retransmit_distribution: list[int] = field(default_factory=lambda: [0] * DISTRIBUTION_BUCKETS)


@dataclass
class _Pending:
    session_id: int
    avp_bytes: bytes
    ns: int = 0


class ControlChannel:
    """Ns/Nr bookkeeping, the send and receive windows, acks and retransmission."""

    def __init__(
        self,
        *,
        local_rws: int = 8,
        peer_rws: int = 4,
        retransmit_initial: float = 1.0,
        retransmit_cap: float = 8.0,
        max_retries: int = 5,
        ack_delay: float = 0.25,
        max_unsent: int = 64,
    ) -> None:
        self.local_rws = max(1, local_rws)
        self.peer_rws = max(1, peer_rws)
        self.retransmit_initial = retransmit_initial
        self.retransmit_cap = max(retransmit_cap, retransmit_initial)
        self.max_retries = max_retries
        self.ack_delay = ack_delay
        self.max_unsent = max_unsent
        self.overflowed = False  # the peer asked for more replies than it acknowledged
        self.remote_tunnel_id = 0
        self.ns = 0  # Ns of the next new message
        self.nr = 0  # next Ns expected from the peer
        self.unsent: deque[_Pending] = deque()
        self.resend: deque[_Pending] = deque()
        self.ahead: dict[int, ControlMessage] = {}
        self.failed = False
        self.counters = ChannelCounters()
        self._retransmit_at: float | None = None
        self._timeout = retransmit_initial
        self._retries = 0
        self._ack_at: float | None = None
        self._send_now: list[_Pending] = []

    # --- what the core asks --------------------------------------------------------------

    @property
    def retransmit_time(self) -> float:
        return self._timeout

    @property
    def idle(self) -> bool:
        """Nothing queued, nothing unacknowledged."""
        return not self.unsent and not self.resend

    def deadline(self) -> float | None:
        times = [t for t in (self._retransmit_at, self._ack_at) if t is not None]
        if self._send_now or (self.unsent and len(self.resend) < self.peer_rws):
            return float("-inf")
        return min(times) if times else None

    # --- sending --------------------------------------------------------------------------

    def queue(self, session_id: int, avp_bytes: bytes) -> None:
        """A control message (not a ZLB) to deliver reliably."""
        if self.failed:
            return
        if len(self.unsent) >= self.max_unsent:
            # a peer that keeps asking and never acknowledges: the channel gives up on it (the
            # core ends the tunnel) instead of queueing without bound
            self.failed = self.overflowed = True
            return
        self.unsent.append(_Pending(session_id, avp_bytes))
        self.counters.unsent_max = max(self.counters.unsent_max, len(self.unsent))

    def ack_now(self, now: float) -> None:
        """Acknowledge at once (duplicates, StopCCN)."""
        self._ack_at = now

    def messages_to_send(self, now: float) -> list[ControlMessage]:
        """New messages within the window, due retransmissions and a due ZLB."""
        if self.failed:
            return []
        out: list[_Pending] = list(self._send_now)
        self._send_now.clear()
        if self._retransmit_at is not None and now >= self._retransmit_at and self.resend:
            self._retries += 1
            if self._retries > self.max_retries:
                self.failed = True
                self._retransmit_at = None
                return []
            bucket = min(DISTRIBUTION_BUCKETS - 1, max(0, int(self._timeout).bit_length() - 1))
            self.counters.retransmit_distribution[bucket] += 1
            self.counters.total_resends += len(self.resend)
            self._timeout = min(self._timeout * 2, self.retransmit_cap)
            self.counters.retransmit_time_max = max(
                self.counters.retransmit_time_max, self._timeout
            )
            self._retransmit_at = now + self._timeout
            queued = {id(p) for p in out}
            out.extend(p for p in self.resend if id(p) not in queued)
        while self.unsent and len(self.resend) < self.peer_rws:
            pending = self.unsent.popleft()
            pending.ns = self.ns
            self.ns = (self.ns + 1) & 0xFFFF
            self.resend.append(pending)
            out.append(pending)
            if self._retransmit_at is None:
                self._retransmit_at = now + self._timeout
        self.counters.resend_max = max(self.counters.resend_max, len(self.resend))
        messages = [
            ControlMessage(self.remote_tunnel_id, p.session_id, p.ns, self.nr, p.avp_bytes)
            for p in out
        ]
        if messages:
            self._ack_at = None
        elif self._ack_at is not None and now >= self._ack_at:
            self._ack_at = None
            self.counters.zlb_acks_sent += 1
            messages.append(ControlMessage(self.remote_tunnel_id, 0, self.ns, self.nr))
        return messages

    # --- receiving ------------------------------------------------------------------------

    def receive(self, message: ControlMessage, now: float) -> list[ControlMessage]:
        """Take the acknowledgement in *message*; return the messages now deliverable in order
        (none for a ZLB, a duplicate or a message ahead of a gap)."""
        if self.failed:
            return []
        self._acknowledge(message.nr, now)
        if message.is_zlb:
            return []
        if message.ns == self.nr:
            delivered = [message]
            self.nr = (self.nr + 1) & 0xFFFF
            while self.nr in self.ahead:
                delivered.append(self.ahead.pop(self.nr))
                self.nr = (self.nr + 1) & 0xFFFF
            if self._ack_at is None:
                self._ack_at = now + self.ack_delay
            return delivered
        if seq_before(message.ns, self.nr):
            self.counters.duplicates += 1
            self._ack_at = now
            return []
        if ((message.ns - self.nr) & 0xFFFF) < self.local_rws:
            self.ahead.setdefault(message.ns, message)
        else:
            self.counters.out_of_window += 1
        self._ack_at = now
        return []

    def _acknowledge(self, nr: int, now: float) -> None:
        acked = False
        while self.resend and seq_before(self.resend[0].ns, nr):
            if seq_before(self.ns, nr):
                break  # acknowledges something never sent: ignore the field
            self.resend.popleft()
            acked = True
        if acked:
            self._retries = 0
            self._timeout = self.retransmit_initial
            self._retransmit_at = now + self._timeout if self.resend else None
