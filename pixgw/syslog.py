"""The one place pixgw logs: PIX syslog messages (``%PIX-6-603106: ...``) and ``debug`` lines.

Every layer calls :func:`pix_log` with a PIX message id (the PIX 6.3 System Log Messages guide
numbers and texts) or :func:`debug` with a PIX debug category (``crypto isakmp``, ``vpdn event``,
``ppp io``, ...). Both go as structured :mod:`twisted.logger` events to a publisher of their own,
not the global one, so that the PIX ``logging`` commands alone decide what reaches the console:
the service's :class:`pixgw.logrouter.PixLogRouter` observes it, applies ``logging on``,
``console``,
``buffered`` and ``host``, and sends debug lines to the CLI connections that asked for the
category, like the PIX does. Nothing here touches the reactor or the OS, so protocol cores may
call it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

from twisted.logger import ILogObserver, Logger, LogPublisher

_publisher: Final = LogPublisher()
_log: Final = Logger(namespace="pixgw", observer=_publisher)

# (observer, its ``wants_debug(category)`` method, its ``wants_message(severity)`` method), None
# for an observer that takes everything of that kind. :func:`debug` and :func:`pix_log` ask these
# before they build an event, so a line nobody listens to costs one check (IKE emits ~50 debug
# lines and ~6 syslog messages per setup). A list: observers need not be hashable.
_Filter = Callable[[str], bool] | None
_SeverityFilter = Callable[[int], bool] | None
_filters: Final[list[tuple[ILogObserver, _Filter, _SeverityFilter]]] = []


def add_observer(observer: ILogObserver) -> None:
    """Receive every PIX message and debug line (the log router; tests). An observer with a
    ``wants_debug(category) -> bool`` method receives only the debug lines it says it wants, one
    with ``wants_message(severity) -> bool`` only the syslog messages it says it wants."""
    _publisher.addObserver(observer)
    if not any(known == observer for known, _, _ in _filters):  # as the publisher: once
        wants_debug = getattr(observer, "wants_debug", None)
        _filters.append((observer, wants_debug, getattr(observer, "wants_message", None)))


def remove_observer(observer: ILogObserver) -> None:
    _publisher.removeObserver(observer)
    for i, (known, _, _) in enumerate(_filters):
        if known == observer:
            del _filters[i]
            break


def debug_enabled(category: str) -> bool:
    """Whether some observer wants ``debug`` lines of *category* (to skip costly formatting)."""
    return any(wants is None or wants(category) for _, wants, _ in _filters)


def message_enabled(severity: int) -> bool:
    """Whether some observer wants syslog messages of *severity* (0 emergencies .. 7 debug)."""
    return any(wants is None or wants(severity) for _, _, wants in _filters)


# Message id -> severity (0 emergencies .. 7 debugging), as the PIX 6.3 message guide gives them.
SEVERITY: dict[int, int] = {
    # AAA / uauth
    109011: 6,  # Authen Session Start: user 'U', sid N
    109012: 6,  # Authen Session End: user 'U', sid N, elapsed S seconds
    113004: 6,  # AAA user authentication Successful
    113005: 6,  # AAA user authentication Rejected
    113014: 3,  # AAA authentication server not accessible
    113900: 3,  # extension: a RADIUS accounting record that cannot be sent, parked
    113901: 2,  # extension: a RADIUS server's Access replies are not signed (dropped)
    113902: 4,  # extension: RADIUS accounting failed over to another server, or back
    # system
    111008: 5,  # User 'U' executed the 'C' command.
    199002: 6,  # startup completed
    199005: 5,  # Reloading / stopping
    # IKE / IPsec
    602201: 6,  # ISAKMP Phase 1 SA created (...)
    602202: 6,  # ISAKMP session connected / deleted
    602301: 6,  # sa created, (sa) sa_dest= ...
    602302: 6,  # deleting SA, (sa) sa_dest= ...
    702201: 7,  # ISAKMP Phase 1 delete received
    702202: 7,  # ISAKMP Phase 1 delete sent
    702208: 7,  # ISAKMP Phase 1 exchange started
    702209: 7,  # ISAKMP Phase 2 exchange started
    702210: 7,  # ISAKMP Phase 1 exchange completed
    702211: 7,  # ISAKMP Phase 2 exchange completed
    702303: 7,  # sa_request, (key eng. msg.) ...
    402101: 4,  # decaps: rec'd IPSEC packet has invalid spi
    402102: 4,  # decapsulate: packet missing {AH|ESP}
    402103: 4,  # identity doesn't match negotiated identity
    402106: 4,  # Rec'd packet not an IPSEC packet
    402114: 4,  # IPSEC: Received an ESP packet with invalid SPI (extension wording)
    402115: 4,  # IPSEC: Received a packet failing authentication (extension wording)
    402116: 4,  # IPSEC: Received a replayed packet (extension wording)
    713900: 1,  # extension: IKE refused a peer (which transform, why)
    713901: 6,  # extension: IKE NAT-T detection (who is behind NAT, which variant)
    # L2TP / PPP / VPDN
    603101: 6,  # PPTP received out of seq or duplicate pkt
    603102: 6,  # PPP virtual interface N - user: U aaa authentication started
    603103: 6,  # PPP virtual interface N - user: U aaa authentication succeed|failed
    603104: 6,  # PPTP Tunnel created
    603105: 6,  # PPTP Tunnel deleted
    603106: 6,  # L2TP Tunnel created, tunnel_id is T, ...
    603107: 6,  # L2TP Tunnel deleted, tunnel_id = T, remote_peer_ip = A
    603108: 6,  # Built PPTP Tunnel / L2TP session
    603109: 6,  # Teardown PPPOE / L2TP session
    603110: 4,  # Failed to establish L2TP session (extension numbering, used for "one per tunnel")
    # PKI
    717001: 3,  # Querying keypair failed / enrollment errors (ASA numbering, used for CA errors)
    717012: 3,  # Failed to refresh CRL cache entry from the server for trustpoint T at TIME
    717025: 6,  # enrollment succeeded (ASA numbering)
}

DEFAULT_SEVERITY: Final = 6


def format_message(message_id: int, text: str) -> str:
    """``%PIX-6-603106: L2TP Tunnel created, ...``"""
    return f"%PIX-{severity(message_id)}-{message_id}: {text}"


def severity(message_id: int) -> int:
    return SEVERITY.get(message_id, DEFAULT_SEVERITY)


def pix_log(message_id: int, text: str) -> None:
    """Log a PIX syslog message. *text* must never contain a secret. Nothing is emitted when no
    observer wants the message's severity (``logging`` off or below every destination's level)."""
    level = severity(message_id)
    if not message_enabled(level):
        return
    _log.info(
        "{pix_line}",
        pix_id=message_id,
        pix_severity=level,
        pix_text=text,
        pix_line=format_message(message_id, text),
    )


def debug(category: str, text: str | Callable[[], str]) -> None:
    """A ``debug CATEGORY`` line (e.g. ``debug("crypto isakmp", "ISAKMP (0): atts are
    acceptable.")``). Shown only to the CLI connections that turned the category on; when no
    observer wants the category nothing is emitted, and a callable *text* is not even called."""
    if not debug_enabled(category):
        return
    if callable(text):
        text = text()
    _log.debug("{pix_debug_text}", pix_debug=category, pix_debug_text=text)


class LogSink(Protocol):
    """Where a core writes its PIX syslog messages and ``debug`` lines; the cores take one in
    their constructor (this module's functions are the default sink: the process's publisher)."""

    def pix_log(self, message_id: int, text: str) -> None: ...

    def debug(self, category: str, text: str | Callable[[], str]) -> None: ...

    def debug_enabled(self, category: str) -> bool: ...


class ListSink:
    """A sink that keeps every line (tests): ``lines`` as ``%PIX-...`` texts and debug texts."""

    def __init__(self, *, debug_categories: tuple[str, ...] | None = None) -> None:
        self.lines: list[str] = []
        self._categories = debug_categories

    def pix_log(self, message_id: int, text: str) -> None:
        self.lines.append(format_message(message_id, text))

    def debug(self, category: str, text: str | Callable[[], str]) -> None:
        if self.debug_enabled(category):
            self.lines.append(text() if callable(text) else text)

    def debug_enabled(self, category: str) -> bool:
        return self._categories is None or category in self._categories
