"""System commands: ``show version``, ``show running-config``/``write terminal``, ``write
memory``, ``show logging``/``clear logging``, ``debug``/``undebug``/``show debug``, ``help``.

The texts follow PIX 6.3 (Cisco PIX Firewall Command Reference 6.3). Renderers are pure functions
of their inputs; the handlers only fetch those inputs from the gateway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pixgw.cli.commands import CliError, CommandContext, CommandTable, Handler
from pixgw.view import GatewayView, VersionInfo

# ``debug`` categories a PIX 6.3 offers for this feature (the reference lists each).
DEBUG_CATEGORIES: tuple[str, ...] = (
    "crypto ipsec",
    "crypto isakmp",
    "crypto engine",
    "crypto ca",
    "ppp io",
    "ppp error",
    "ppp uauth",
    "vpdn error",
    "vpdn packet",
    "vpdn event",
    "radius",
    "ldap",
)


def gateway_of(context: CommandContext) -> GatewayView:
    if not isinstance(context.gateway, GatewayView):
        raise CliError("ERROR: no gateway")
    return context.gateway


def format_uptime(seconds: float) -> str:
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days} days {hours} hours {minutes} mins {secs} secs"


def render_version(hostname: str, info: VersionInfo, uptime: float, dataplane: str) -> str:
    return "\n".join(
        [
            f"pixgw Version {info.pixgw} (Cisco PIX Firewall 6.3 configuration syntax)",
            f"Twisted {info.twisted}, Python {info.python}",
            "",
            f"{hostname} up {format_uptime(uptime)}",
            "",
            f"Hardware:   {info.system}",
            f"Dataplane:  {dataplane}",
            "Licensed Features:",
            "Failover:                    Disabled",
            "VPN-DES:                     Enabled",
            "VPN-3DES-AES:                Enabled",
            "Maximum Interfaces:          2",
        ]
    )


def render_memory(rss_bytes: int, total_bytes: int, sessions: int, gc: dict[str, Any]) -> str:
    """``show memory``: the PIX's first line (the host's memory and what is free of it), then
    the process (extension): its resident size, per session, and the garbage collector."""
    per = f", {rss_bytes // sessions} bytes per session" if sessions else ""
    collections = gc.get("collections", (0, 0, 0))
    return "\n".join([
        f"{total_bytes} bytes total, {max(0, total_bytes - rss_bytes)} bytes free",
        f"pixgw process: {rss_bytes} bytes resident, {sessions} sessions{per}",
        f"Garbage collector: {gc.get('policy', 'CPython default')}",
        f"  collections (gen 0/1/2):   {collections[0]}/{collections[1]}/{collections[2]}",
        f"  longest pause:             {gc.get('longest_pause_ms', 0)} ms "
        f"(generation {gc.get('longest_pause_generation', 0)})",
        f"  objects frozen:            {gc.get('frozen_objects', 0)}",
        f"  freed by idle sweeps:      {gc.get('swept', 0)}",
    ])


def render_debug(categories: Sequence[str]) -> str:
    return "\n".join(f"debug {c}" for c in sorted(categories))


def register(table: CommandTable) -> None:
    def show_version(ctx: CommandContext, args: Sequence[str]) -> str:
        gw = gateway_of(ctx)
        return render_version(gw.config.hostname, gw.version(), gw.uptime(), gw.dataplane_name)

    def show_memory(ctx: CommandContext, args: Sequence[str]) -> str:
        return render_memory(*gateway_of(ctx).memory_status())

    def show_running_config(ctx: CommandContext, args: Sequence[str]) -> str:
        return gateway_of(ctx).running_config_text().rstrip("\n")

    def write_memory(ctx: CommandContext, args: Sequence[str]) -> str:
        try:
            path = gateway_of(ctx).write_memory()
        except OSError as e:
            raise CliError(f"ERROR: write memory failed: {e}") from e
        return f"Building configuration...\nCryptochecksum written to {path}\n[OK]"

    def show_logging(ctx: CommandContext, args: Sequence[str]) -> str:
        return gateway_of(ctx).log_router.show_logging()

    def clear_logging(ctx: CommandContext, args: Sequence[str]) -> str:
        gateway_of(ctx).log_router.clear_buffer()
        return ""

    def show_debug(ctx: CommandContext, args: Sequence[str]) -> str:
        return render_debug(sorted(ctx.connection.debug_categories) if ctx.connection else [])

    def undebug_all(ctx: CommandContext, args: Sequence[str]) -> str:
        if ctx.connection is not None:
            ctx.connection.debug_categories.clear()
        return ""

    def clear_uauth(ctx: CommandContext, args: Sequence[str]) -> str:
        gateway_of(ctx).clear_uauth(args[0] if args else None)
        return ""

    def help_(ctx: CommandContext, args: Sequence[str]) -> str:
        return "\n".join(table.help_lines(args))

    table.register("show version", show_version, "Display the software version and uptime")
    table.register("show memory", show_memory, "Show memory and the garbage collector")
    table.register("show running-config", show_running_config, "Display the running config")
    table.register("write terminal", show_running_config, "Display the running config")
    table.register("write memory", write_memory, "Save the running config to its file")
    table.register("show logging", show_logging, "Show the logging settings and buffer")
    table.register("clear logging", clear_logging, "Clear the logging buffer")
    table.register("show debug", show_debug, "Show the debug categories of this session")
    table.register("undebug all", undebug_all, "Turn off every debug category")
    table.register("no debug all", undebug_all, "Turn off every debug category")
    table.register("help", help_, "List the commands", max_args=None)
    table.register(
        "clear uauth", clear_uauth, "Disconnect authenticated users", max_args=1, usage="[user]"
    )

    for category in DEBUG_CATEGORIES:
        table.register(
            f"debug {category}", _debug_switch(category, on=True), f"Show {category} events"
        )
        table.register(
            f"no debug {category}", _debug_switch(category, on=False), f"Stop {category} debug"
        )


def _debug_switch(category: str, *, on: bool) -> Handler:
    def switch(ctx: CommandContext, args: Sequence[str]) -> str:
        if ctx.connection is None:
            raise CliError("ERROR: debug needs an interactive connection")
        if on:
            ctx.connection.debug_categories.add(category)
        else:
            ctx.connection.debug_categories.discard(category)
        return ""

    return switch
