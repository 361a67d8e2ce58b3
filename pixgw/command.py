"""The ``pixgw`` command: ``config check``, ``config render``, ``exec``, ``shell`` and
``install-service``.

``pixgw exec [--control ADDR] 'COMMAND'`` runs one CLI command on a running gateway over its
control socket and prints the answer; it exits 1 with the CLI's error text when the command is
refused. ``pixgw shell`` is the same line by line, with a PIX prompt. ``pixgw install-service
[--root DIR] [--user NAME]`` writes the systemd unit, ``/etc/pixgw/pixgw.conf`` (the sample
configuration, unless there is one) and ``/var/lib/pixgw`` (``pixgw.systemd``).
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pixgw import systemd
from pixgw.config.parser import ConfigError, parse_file
from pixgw.config.render import render

DEFAULT_CONTROL = "unix:/run/pixgw/control"
END_MARKER = "%%END"


def _connect(control: str, timeout: float) -> socket.socket:
    if control.startswith("/"):
        control = f"unix:{control}"
    kind, _, rest = control.partition(":")
    if kind == "unix":
        path = rest.split(":", 1)[0]
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(path)
        return sock
    if kind == "tcp":
        # tcp:PORT:interface=ADDR (the server's form) or tcp:HOST:PORT
        parts = rest.split(":")
        if parts[0].isdigit():
            params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
            host, port = params.get("interface", "127.0.0.1"), int(parts[0])
        else:
            host, port = parts[0], int(parts[1])
        return socket.create_connection((host, port), timeout=timeout)
    raise ValueError(f"control address must be unix:PATH or tcp:..., not {control!r}")


def run_remote(control: str, command: str, out: TextIO, timeout: float = 120.0) -> int:
    """Send *command*, copy the answer to *out* up to the end marker; return its status."""
    with _connect(control, timeout) as sock:
        sock.sendall(command.replace("\n", " ").encode("utf-8") + b"\n")
        buffered = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                print("ERROR: the gateway closed the connection", file=sys.stderr)
                return 1
            buffered += chunk
            while b"\n" in buffered:
                raw, buffered = buffered.split(b"\n", 1)
                line = raw.decode("utf-8", "replace")
                if line.startswith(END_MARKER):
                    return 0 if line[len(END_MARKER) :].strip() == "0" else 1
                out.write(line + "\n")


def _config(action: str, path: str) -> int:
    """``pixgw config check FILE`` (the warnings) / ``pixgw config render FILE`` (the config as
    ``write memory`` would write it); a config that does not load: its error, exit 1."""
    try:
        result = parse_file(path)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 1
    if action == "check":
        for warning in result.warnings:
            print(str(warning))
    else:
        sys.stdout.write(render(result.config))
    return 0


def _shell(control: str) -> int:
    status = 0
    while True:
        try:
            line = input("pixgw# ")
        except EOFError:
            print()
            return status
        if line.strip() in ("exit", "quit", "logout"):
            return status
        if line.strip():
            status = run_remote(control, line, sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pixgw", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    config = sub.add_parser("config", help="check or render a PIX configuration file")
    config_sub = config.add_subparsers(dest="action", required=True)
    config_sub.add_parser("check", help="validate; print ignored lines").add_argument("file")
    config_sub.add_parser("render", help="print the running-config").add_argument("file")
    for name, text in (("exec", "run one command on a running gateway"), ("shell", "a prompt")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--control", default=DEFAULT_CONTROL, help="unix:PATH or tcp:HOST:PORT")
        if name == "exec":
            p.add_argument("command", nargs="+", help="the command, e.g. 'show version'")
    install = sub.add_parser("install-service", help="the systemd unit, /etc/pixgw, /var/lib/pixgw")
    install.add_argument("--root", default="/", help="install under this directory (default /)")
    install.add_argument("--user", default="pixgw", help="the service's user (default pixgw)")
    args = parser.parse_args(argv)
    if args.what == "install-service":
        try:
            for line in systemd.install_service(Path(args.root), user=args.user):
                print(line)
        except OSError as e:
            print(f"ERROR: {e}", file=sys.stderr)
            return 1
        return 0
    if args.what == "config":
        return _config(args.action, args.file)
    try:
        if args.what == "exec":
            return run_remote(args.control, " ".join(args.command), sys.stdout)
        return _shell(args.control)
    except OSError as e:
        print(f"ERROR: cannot reach the gateway at {args.control}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
