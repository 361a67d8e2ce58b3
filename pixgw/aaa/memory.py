"""In-memory AAA fakes (DESIGN rule 6) for tests and for running without servers: an
authenticator answering from a dict of cleartext passwords, and an accounting that records
(RFC 2866 §5.1 status types) instead of sending."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from zope.interface import implementer

from pixgw.aaa.interfaces import (
    AccountingSession,
    Authorization,
    ClientInfo,
    IAccounting,
    IAuthenticator,
    SessionUsage,
)
from pixgw.aaa.local import LocalAuthenticator, LocalUser
from pixgw.config.model import PixConfig

__all__ = ["MemoryAccounting", "MemoryAuthenticator", "RecordedAccounting"]


@implementer(IAuthenticator)
class MemoryAuthenticator:
    """Checks against ``{user: password}`` with the local checker (all four protocols)."""

    def __init__(self, passwords: dict[str, str], name: str = "MEMORY") -> None:
        self.name = name
        users = {u: LocalUser(u, cleartext=p) for u, p in passwords.items()}
        self._local = LocalAuthenticator(PixConfig(), users)
        self.seen: list[tuple[Any, ClientInfo]] = []

    def authenticate(self, credentials: Any, client: ClientInfo) -> Deferred[Authorization]:
        self.seen.append((credentials, client))
        return self._local.authenticate(credentials, client)


@dataclass(frozen=True)
class RecordedAccounting:
    status: str  # Start | Interim-Update | Stop | Accounting-On | Accounting-Off
    session: AccountingSession | None = None
    usage: SessionUsage | None = None
    cause: str = ""


@implementer(IAccounting)
@dataclass
class MemoryAccounting:
    records: list[RecordedAccounting] = field(default_factory=list)

    def start(self, session: AccountingSession) -> None:
        self.records.append(RecordedAccounting("Start", session))

    def interim(self, session: AccountingSession, usage: SessionUsage) -> None:
        self.records.append(RecordedAccounting("Interim-Update", session, usage))

    def stop(self, session: AccountingSession, usage: SessionUsage, cause: str) -> None:
        self.records.append(RecordedAccounting("Stop", session, usage, cause))

    def accounting_on(self) -> None:
        self.records.append(RecordedAccounting("Accounting-On"))

    def accounting_off(self) -> None:
        self.records.append(RecordedAccounting("Accounting-Off"))
