"""RADIUS accounting (RFC 2866 §4-§5: Start, Interim-Update, Stop with octets, packets, session
time, Acct-Terminate-Cause, Class echoed per RFC 2865 §5.25; Accounting-On/Off) with a disk spool:
every record is appended (and fsynced) before it is sent, and records leave the spool only when a
server acknowledged them, in order — none is lost across an outage or a restart.
"""

from __future__ import annotations

import base64
import json
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from zope.interface import implementer

from pixgw.aaa.interfaces import (
    AccountingSession,
    AuthenticationServerUnreachable,
    IAccounting,
    SessionUsage,
)
from pixgw.aaa.radius import (
    ACCOUNTING_REQUEST,
    RadiusClient,
    RadiusServer,
    UnencodableRequest,
    client_attributes,
)
from pixgw.files import atomic_write
from pixgw.syslog import debug, pix_log

_log = Logger(namespace="pixgw.aaa.accounting")

__all__ = ["TERMINATE_CAUSES", "AccountingRecord", "AccountingSpool", "RadiusAccounting"]

# RFC 2866 §5.10 names, keyed by what the gateway says.
TERMINATE_CAUSES = {
    "user-request": "User-Request",
    "lost-carrier": "Lost-Carrier",
    "lost-service": "Lost-Service",
    "idle-timeout": "Idle-Timeout",
    "session-timeout": "Session-Timeout",
    "admin-reset": "Admin-Reset",
    "admin-reboot": "Admin-Reboot",
    "port-error": "Port-Error",
    "nas-error": "NAS-Error",
    "nas-request": "NAS-Request",
    "nas-reboot": "NAS-Reboot",
}


@dataclass(frozen=True)
class AccountingRecord:
    """One Accounting-Request as spooled: its attributes and when it was made (for
    Acct-Delay-Time, RFC 2866 §5.2)."""

    sequence: int
    created: float
    attributes: tuple[tuple[str, Any], ...]

    def to_json(self) -> str:
        attrs = [
            [n, {"b": base64.b64encode(v).decode()} if isinstance(v, bytes) else v]
            for n, v in self.attributes
        ]
        return json.dumps({"seq": self.sequence, "t": self.created, "a": attrs})

    @classmethod
    def from_json(cls, line: str) -> AccountingRecord:
        raw = json.loads(line)
        attrs = tuple(
            (str(n), base64.b64decode(v["b"]) if isinstance(v, dict) else v) for n, v in raw["a"]
        )
        return cls(int(raw["seq"]), float(raw["t"]), attrs)


class AccountingSpool:
    """Records not yet acknowledged, in order, in ``DIR/radius-accounting.spool`` (one JSON line
    each). Appends are fsynced. An acknowledgement only records the head's sequence number in
    ``DIR/radius-accounting.acked`` (a few bytes, replaced atomically); the spool file itself is
    rewritten (temp file, fsync, rename) only once the acknowledged prefix is as long as the rest
    (at least ``COMPACT_AFTER`` records) or nothing is left — so draining N spooled records costs
    O(N) disk writes, not O(N^2), and the reactor is not held for seconds after a long outage.
    Sequence numbers keep growing across restarts (never below the acknowledged mark)."""

    COMPACT_AFTER = 64
    # records waiting at most (a day of 10,000 sessions' Start and Stop, roughly); a record past
    # it is parked with the reason, logged and counted, never dropped in silence
    MAX_RECORDS = 200_000

    def __init__(self, directory: str | Path | None) -> None:
        self.path = Path(directory) / "radius-accounting.spool" if directory else None
        self.acked_path = Path(directory) / "radius-accounting.acked" if directory else None
        # records that can never be sent (they cannot be encoded): kept, with the reason, out of
        # the way of the ones behind them
        self.dead_path = Path(directory) / "radius-accounting.dead" if directory else None
        self.parked = 0
        self._issued = 0  # the highest sequence number given out (parked records take theirs)
        self.records: deque[AccountingRecord] = deque()  # O(1) at both ends
        self.acked = 0  # the highest sequence number a server acknowledged
        self._acked_in_file = 0  # acknowledged records still present in the spool file
        if self.path is not None and self.acked_path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.acked_path.exists():
                try:
                    self.acked = max(0, int(self.acked_path.read_text().strip() or "0"))
                except ValueError:
                    debug("radius", "RADIUS: ignored a damaged accounting spool mark")
            if self.path.exists():
                damaged = False
                for line in self.path.read_text().splitlines():
                    try:
                        record = AccountingRecord.from_json(line)
                    except (ValueError, KeyError, TypeError):
                        damaged = True
                        debug("radius", "RADIUS: skipped a damaged accounting spool line")
                        continue
                    if record.sequence <= self.acked:
                        self._acked_in_file += 1  # delivered before the restart
                    else:
                        self.records.append(record)
                if damaged or self._acked_in_file:
                    self._rewrite()  # a torn last line must not swallow the next append

    @property
    def next_sequence(self) -> int:
        last = self.records[-1].sequence if self.records else 0
        return max(last, self.acked, self._issued) + 1

    def append(self, record: AccountingRecord) -> None:
        self._issued = max(self._issued, record.sequence)
        self.records.append(record)
        if self.path is not None:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (record.to_json() + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def park_head(self, why: str) -> None:
        """The head can never be sent: into the dead-letter file (fsynced), out of the spool."""
        self.park(self.records[0], why)
        self.pop_head()

    def park(self, record: AccountingRecord, why: str) -> None:
        """*record* into the dead-letter file (fsynced), with the reason."""
        self._issued = max(self._issued, record.sequence)
        self.parked += 1
        if self.dead_path is not None:
            line = json.dumps({"why": why, "record": json.loads(record.to_json())}) + "\n"
            fd = os.open(self.dead_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def pop_head(self) -> None:
        record = self.records.popleft()
        self.acked = max(self.acked, record.sequence)
        if self.path is None:
            return
        self._acked_in_file += 1
        self._replace(self.acked_path, f"{self.acked}\n".encode())  # the mark first: crash-safe
        if not self.records or self._acked_in_file >= max(self.COMPACT_AFTER, len(self.records)):
            self._rewrite()

    def _rewrite(self) -> None:
        if self.path is not None:
            self._replace(self.path, "".join(r.to_json() + "\n" for r in self.records).encode())
            self._acked_in_file = 0

    @staticmethod
    def _replace(path: Path | None, data: bytes) -> None:
        """Write ``data`` to a temp file, fsync, rename over ``path``, fsync the directory."""
        if path is None:
            return
        atomic_write(path, data)


@implementer(IAccounting)
class RadiusAccounting:
    """Sends the spool's head to the group's servers in turn; when none answers, waits
    ``retry_interval`` seconds and tries the head again."""

    def __init__(
        self,
        client: RadiusClient,
        servers: Sequence[RadiusServer],
        reactor: Any,
        *,
        spool_dir: str | Path | None = None,
        nas_identifier: str = "",
        retry_interval: float = 30.0,
    ) -> None:
        self.client = client
        self.servers = list(servers)
        self.reactor = reactor
        self.spool = AccountingSpool(spool_dir)
        self.nas_identifier = nas_identifier
        self.retry_interval = retry_interval
        self.delivered = 0
        self.spool_full = 0  # records parked because the spool was at MAX_RECORDS
        self._serving = 0  # the server that acknowledged last (the first, to begin with)
        self._sending = False
        self._closed = False  # after shutdown() this object never sends nor rewrites the spool
        self._retry: IDelayedCall | None = None
        self._drain_waiters: list[Deferred[int]] = []
        if self.spool.records:
            self.reactor.callLater(0, self._pump)

    # --- IAccounting ---------------------------------------------------------------------

    def start(self, session: AccountingSession) -> None:
        self._record(session, "Start", [])

    def interim(self, session: AccountingSession, usage: SessionUsage) -> None:
        self._record(session, "Interim-Update", _usage(session, usage))

    def stop(self, session: AccountingSession, usage: SessionUsage, cause: str) -> None:
        attrs = _usage(session, usage)
        attrs.append(
            ("Acct-Terminate-Cause", TERMINATE_CAUSES.get(cause.lower(), "NAS-Request"))
        )
        self._record(session, "Stop", attrs)

    def accounting_on(self) -> None:
        self._enqueue([("Acct-Status-Type", "Accounting-On"), *self._nas()])

    def accounting_off(self) -> None:
        self._enqueue([("Acct-Status-Type", "Accounting-Off"), *self._nas()])

    # --- records -------------------------------------------------------------------------

    def _nas(self) -> list[tuple[str, Any]]:
        return [("NAS-Identifier", self.nas_identifier)] if self.nas_identifier else []

    def _record(
        self, session: AccountingSession, status: str, extra: list[tuple[str, Any]]
    ) -> None:
        attrs: list[tuple[str, Any]] = [
            ("Acct-Status-Type", status),
            ("Acct-Session-Id", session.session_id),
            ("User-Name", session.username),
            ("Acct-Authentic", "RADIUS"),
            ("Service-Type", "Framed-User"),
            ("Framed-Protocol", "PPP"),
        ]
        attrs += client_attributes(session.client, self.nas_identifier)
        if session.address is not None:
            attrs.append(("Framed-IP-Address", str(session.address)))
        attrs += [("Class", c) for c in session.class_attribute]
        attrs += extra
        self._enqueue(attrs)

    def _enqueue(self, attrs: list[tuple[str, Any]]) -> None:
        now = self.reactor.seconds()
        record = AccountingRecord(self.spool.next_sequence, now, tuple(attrs))
        if len(self.spool.records) >= self.spool.MAX_RECORDS:
            self.spool_full += 1
            self.spool.park(record, f"spool full ({self.spool.MAX_RECORDS} records waiting)")
            self._say_parked(record, "the spool is full: no server has answered for long")
            return
        self.spool.append(record)
        if self._retry is None:
            self._pump()

    # --- delivery ------------------------------------------------------------------------

    def _pump(self) -> None:
        if self._closed or self._sending or not self.spool.records or not self.servers:
            return
        self._retry = None
        first = self._alive(0)
        if first is None:  # every server in its deadtime: wait for the first to come out of it
            now = self.reactor.seconds()
            until = min(self.client.counter(s).dead_until for s in self.servers)
            self._retry = self.reactor.callLater(
                max(0.0, min(self.retry_interval, until - now)), self._pump)
            return
        self._sending = True
        self._send(self.spool.records[0], first)

    def _alive(self, index: int) -> int | None:
        """The first server from *index* on that is not in its deadtime (``aaa-server G
        deadtime``, after ``max-failed-attempts`` unanswered requests)."""
        now = self.reactor.seconds()
        for i in range(index, len(self.servers)):
            if self.client.counter(self.servers[i]).dead_until <= now:
                return i
        return None

    def _moved(self, index: int) -> None:
        """Accounting is now answered by server *index*: failover or failback, said once."""
        if index == self._serving:
            return
        before, self._serving = self._serving, index
        how = "back on" if index < before else "failed over to"
        text = (f"RADIUS accounting {how} {self.servers[index].label} "
                f"(was {self.servers[before].label})")
        pix_log(113902, text)
        _log.warn("{text}", text=text)

    def _send(self, record: AccountingRecord, index: int) -> None:
        delay = max(0, int(self.reactor.seconds() - record.created))
        attrs = [
            *record.attributes,
            ("Event-Timestamp", int(record.created)),
            ("Acct-Delay-Time", delay),
        ]
        server = self.servers[index]
        d = self.client.request(server, ACCOUNTING_REQUEST, attrs)

        def acknowledged(_: object) -> None:
            self._sending = False
            if self._closed:
                return  # a successor may own the spool file now; the record is replayed (dup)
            if self.spool.records and self.spool.records[0].sequence == record.sequence:
                self.spool.pop_head()
            self.delivered += 1
            self._moved(index)
            if not self.spool.records:
                self._drained()
            self._pump()

        def unanswered(failure: Any) -> None:
            if self._closed:
                self._sending = False
                return  # in flight at shutdown (e.g. the client stopped): it stays spooled
            if isinstance(failure.value, UnencodableRequest):
                # no server will ever take it: parked, and the records behind it go on
                self._sending = False
                self._park(record, str(failure.value))
                self._pump()
                return
            if not isinstance(failure.value, AuthenticationServerUnreachable):
                self._sending = False
                debug("radius", f"RADIUS: accounting error {failure.getErrorMessage()}")
                self._retry = self.reactor.callLater(self.retry_interval, self._pump)
                return
            following = self._alive(index + 1)
            if following is not None:
                debug("radius", f"RADIUS: accounting unanswered by {server.label}, trying "
                                f"{self.servers[following].label}")
                self._send(record, following)
                return
            self._sending = False
            debug(
                "radius",
                f"RADIUS: accounting unanswered, {len(self.spool.records)} record(s) spooled",
            )
            self._retry = self.reactor.callLater(self.retry_interval, self._pump)
            self._drained()  # no server answers: a waiting drain() need not wait longer

        d.addCallbacks(acknowledged, unanswered)

    def _park(self, record: AccountingRecord, why: str) -> None:
        if not self.spool.records or self.spool.records[0].sequence != record.sequence:
            return
        self.spool.park_head(why)
        self._say_parked(record, why)
        if not self.spool.records:
            self._drained()

    def _say_parked(self, record: AccountingRecord, why: str) -> None:
        where = f" in {self.spool.dead_path}" if self.spool.dead_path is not None else ""
        pix_log(113900, f"RADIUS accounting record {record.sequence} cannot be sent ({why}): "
                        f"parked{where}")
        _log.warn("RADIUS accounting record {seq} cannot be sent ({why}): parked{where}",
                  seq=record.sequence, why=why, where=where)

    def pending(self) -> int:
        return len(self.spool.records)

    def parked(self) -> int:
        return self.spool.parked

    def drain(self, timeout: float) -> Deferred[int]:
        """For a clean stop (after ``accounting_off()``): let the spool go out for at most
        ``timeout`` seconds, or until it is empty, or until every server failed to answer once;
        then :meth:`shutdown`. Fires with the number of records left in the spool (sent by the
        next run). Suits ``IService.stopService``, which may return this Deferred."""
        if self._closed or not self.spool.records or self._retry is not None or not self.servers:
            self.shutdown()
            return succeed(self.pending())
        d: Deferred[int] = Deferred()
        self._drain_waiters.append(d)
        timer = self.reactor.callLater(timeout, self._drained)

        def stop_timer(left: int) -> int:
            if timer.active():
                timer.cancel()
            return left

        d.addCallback(stop_timer)
        self._pump()  # in case nothing is in flight yet
        return d

    def _drained(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        if waiters:
            self.shutdown()
            for d in waiters:
                d.callback(self.pending())

    def shutdown(self) -> None:
        """Stop sending for good: records still spooled go out from the next instance that
        opens the same spool directory (a later run of the gateway)."""
        self._closed = True
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None


def _usage(session: AccountingSession, usage: SessionUsage) -> list[tuple[str, Any]]:
    return [
        ("Acct-Session-Time", max(0, int(usage.now - session.started_at))),
        ("Acct-Input-Octets", usage.input_octets & 0xFFFFFFFF),
        ("Acct-Input-Gigawords", usage.input_octets >> 32),
        ("Acct-Output-Octets", usage.output_octets & 0xFFFFFFFF),
        ("Acct-Output-Gigawords", usage.output_octets >> 32),
        ("Acct-Input-Packets", usage.input_packets & 0xFFFFFFFF),
        ("Acct-Output-Packets", usage.output_packets & 0xFFFFFFFF),
    ]
