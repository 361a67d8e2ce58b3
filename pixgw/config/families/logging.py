"""``logging``: where the PIX syslog messages go and from which level."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from pixgw.config.model import Logging, LoggingHost, PixConfig
from pixgw.config.syntax import Args, Bad, Handler, Sections, State, fail, parse_level, parse_port


def _logging(st: State, a: Args, negated: bool) -> None:
    what = a.keyword(
        "on", "console", "buffered", "trap", "monitor", "timestamp", "queue", "facility", "host",
        "history", "standby", "message", "device-id", "fac", "class",
    )
    log = st.config.logging
    if what in ("history", "standby", "message", "device-id", "class", "fac"):
        st.ignore()
        return
    if what in ("on", "timestamp"):
        a.end()
        changes: dict[str, Any] = {what: not negated}
        st.set(logging=replace(log, **changes))
    elif what in ("console", "buffered", "trap", "monitor"):
        level = None if negated else parse_level(a.word("log level"))
        if negated and a.peek() is not None:
            parse_level(a.word("log level"))
        a.end()
        levels: dict[str, Any] = {what: level}
        st.set(logging=replace(log, **levels))
    elif what == "queue":
        size = 4096 if negated else a.integer("queue size", 0, 8192)
        a.end()
        st.set(logging=replace(log, buffer_size=size))
    elif what == "facility":
        facility = 20 if negated else a.integer("facility", 16, 23)
        a.end()
        st.set(logging=replace(log, facility=facility))
    else:
        first = a.word("interface or address")
        interface = "inside"
        try:
            address = a.resolve(first)
        except Bad:
            interface = first
            address = a.address()
        protocol, port = "udp", 514
        spec = a.peek_keyword()
        if spec is not None and "/" in spec:
            a.position += 1
            protocol, _, port_word = spec.partition("/")
            if protocol not in ("udp", "tcp"):
                fail(f"bad logging protocol '{protocol}'")
            port = parse_port(port_word)
        if a.optional("format"):
            a.keyword("emblem")
        a.end()
        key = (interface, address)
        if negated:
            st.logging_hosts.pop(key, None)
            return
        st.refer("interface", interface)
        st.logging_hosts[key] = LoggingHost(interface, address, cast(Any, protocol), port)


COMMANDS: dict[str, Handler] = {
    "logging": _logging,
}


def _logging_lines(log: Logging) -> list[str]:
    lines = []
    if log.on:
        lines.append("logging on")
    if log.timestamp:
        lines.append("logging timestamp")
    for destination in ("console", "monitor", "buffered", "trap"):
        level = getattr(log, destination)
        if level is not None:
            lines.append(f"logging {destination} {level}")
    if log.facility != Logging().facility:
        lines.append(f"logging facility {log.facility}")
    if log.buffer_size != Logging().buffer_size:
        lines.append(f"logging queue {log.buffer_size}")
    for host in log.hosts:
        transport = (
            "" if (host.protocol, host.port) == ("udp", 514) else (f" {host.protocol}/{host.port}")
        )
        lines.append(f"logging host {host.interface} {host.address}{transport}")
    return lines


def render(c: PixConfig, s: Sections) -> None:
    s["logging"].extend(_logging_lines(c.logging))
