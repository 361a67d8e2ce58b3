"""Where PIX syslog messages and ``debug`` lines go, per the ``logging`` configuration.

:class:`PixLogRouter` is a :mod:`twisted.logger` observer. It takes the events that
:func:`pixgw.syslog.pix_log` and :func:`pixgw.syslog.debug` emit and applies the PIX 6.3 rules:
nothing is logged unless ``logging on``; ``logging console LEVEL`` writes to the process log (the
console of a daemon), ``logging buffered LEVEL`` keeps messages for ``show logging``, ``logging trap
LEVEL`` + ``logging host IF ADDR`` send RFC 3164 syslog over UDP. Debug lines go only to the CLI
connections that turned their category on. Sending is injected, so this is tested without sockets.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from twisted.logger import ILogObserver, LogEvent
from zope.interface import implementer

from pixgw.config.model import LOG_LEVELS, Logging, LogLevel

SendSyslog = Callable[[bytes, tuple[str, int]], None]


class DebugSubscriber(Protocol):
    """A CLI connection: it receives the ``debug`` lines of the categories it turned on."""

    debug_categories: set[str]

    def write_debug(self, category: str, text: str) -> None: ...


def level_number(level: LogLevel | None) -> int:
    """0 (emergencies) .. 7 (debugging); -1 for a disabled destination."""
    return -1 if level is None else LOG_LEVELS.index(level)


@dataclass
class DestinationCount:
    messages: int = 0


@implementer(ILogObserver)
class PixLogRouter:
    def __init__(
        self,
        settings: Logging,
        *,
        console: Callable[[str], None],
        send_syslog: SendSyslog | None = None,
        clock: Callable[[], float] = time.time,
        hostname: str = "pixfirewall",
    ) -> None:
        self.settings = settings
        self._console = console
        self._send_syslog = send_syslog
        self._clock = clock
        self.hostname = hostname
        self.buffer: deque[str] = deque(maxlen=max(settings.buffer_size, 1))
        self.console_count = DestinationCount()
        self.buffer_count = DestinationCount()
        self.trap_count = DestinationCount()
        self.subscribers: list[DebugSubscriber] = []

    def reconfigure(self, settings: Logging, hostname: str) -> None:
        self.settings = settings
        self.hostname = hostname
        if self.buffer.maxlen != max(settings.buffer_size, 1):
            self.buffer = deque(self.buffer, maxlen=max(settings.buffer_size, 1))

    def subscribe(self, subscriber: DebugSubscriber) -> None:
        if subscriber not in self.subscribers:
            self.subscribers.append(subscriber)

    def unsubscribe(self, subscriber: DebugSubscriber) -> None:
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)

    def clear_buffer(self) -> None:
        self.buffer.clear()

    def __call__(self, event: LogEvent) -> None:
        if "pix_debug" in event:
            self._debug(str(event["pix_debug"]), str(event.get("pix_debug_text", "")))
        elif "pix_line" in event:
            self._message(int(event["pix_severity"]), str(event["pix_line"]))

    def wants_message(self, severity: int) -> bool:
        """Some destination takes a message of *severity* (:func:`pixgw.syslog.pix_log` asks
        first); the same tests as :meth:`_message`."""
        s = self.settings
        if not s.on:
            return False
        if severity <= level_number(s.console) or severity <= level_number(s.buffered):
            return True
        return bool(s.hosts) and severity <= level_number(s.trap) and self._send_syslog is not None

    def wants_debug(self, category: str) -> bool:
        """Some CLI connection turned *category* on (:func:`pixgw.syslog.debug` asks first)."""
        return any(category in subscriber.debug_categories for subscriber in self.subscribers)

    def _debug(self, category: str, text: str) -> None:
        for subscriber in list(self.subscribers):
            if category in subscriber.debug_categories:
                subscriber.write_debug(category, text)

    def _stamp(self, line: str) -> str:
        if not self.settings.timestamp:
            return line
        stamp = time.strftime("%b %d %Y %H:%M:%S", time.gmtime(self._clock()))
        return f"{stamp}: {line}"

    def _message(self, severity: int, line: str) -> None:
        s = self.settings
        if not s.on:
            return
        stamped = self._stamp(line)
        if severity <= level_number(s.console):
            self.console_count.messages += 1
            self._console(stamped)
        if severity <= level_number(s.buffered):
            self.buffer_count.messages += 1
            self.buffer.append(stamped)
        if s.hosts and severity <= level_number(s.trap) and self._send_syslog is not None:
            self.trap_count.messages += 1
            priority = s.facility * 8 + severity
            stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(self._clock()))
            datagram = f"<{priority}>{stamp} {self.hostname} {line}".encode("utf-8", "replace")
            for host in s.hosts:
                if host.protocol == "udp":
                    self._send_syslog(datagram, (str(host.address), host.port))

    def show_logging(self) -> str:
        """``show logging``, as PIX 6.3 prints it."""
        s = self.settings

        def dest(level: LogLevel | None, count: DestinationCount) -> str:
            if level is None:
                return "disabled"
            return f"level {level}, {count.messages} messages logged"

        hosts = [f"        Logging to {h.interface} {h.address}" for h in s.hosts]
        lines = [
            f"Syslog logging: {'enabled' if s.on else 'disabled'}",
            f"    Facility: {s.facility}",
            f"    Timestamp logging: {'enabled' if s.timestamp else 'disabled'}",
            "    Standby logging: disabled",
            f"    Console logging: {dest(s.console, self.console_count)}",
            f"    Monitor logging: {dest(s.monitor, DestinationCount())}",
            f"    Buffer logging: {dest(s.buffered, self.buffer_count)}",
            f"    Trap logging: {dest(s.trap if s.hosts else None, self.trap_count)}",
            *hosts,
            "    History logging: disabled",
            "    Device ID: disabled",
            *self.buffer,
        ]
        return "\n".join(lines)


def event_text(event: dict[str, Any]) -> str:
    """The PIX line of an event, for observers that only print."""
    return str(event.get("pix_line") or event.get("pix_debug_text") or "")
