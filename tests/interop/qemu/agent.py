"""A small qemu-guest-agent client (QGA JSON protocol over the virtio-serial chardev socket).

Not a protocol module of the gateway: test infrastructure, standard library only.  Implements
the QGA commands the harness needs: ``guest-sync-delimited`` (resynchronisation after a
timeout or a fresh connection), ``guest-ping``, ``guest-exec`` + ``guest-exec-status`` (with
captured output, optional stdin, a bounded wait and a kill of the guest process on timeout),
``guest-file-open/-read/-write/-close`` and ``guest-shutdown``.  Every socket read is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_CHUNK = 48 * 1024


class AgentError(RuntimeError):
    """The agent answered with an error, or did not answer in time."""


class AgentReplyError(AgentError):
    """The agent answered, with an error object."""


NOT_RETRIED = frozenset(
    {"guest-exec", "guest-file-open", "guest-file-write", "guest-file-read", "guest-shutdown"}
)


@dataclass(frozen=True)
class ExecResult:
    """Outcome of one command run in the guest."""

    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def check(self) -> ExecResult:
        if self.rc != 0:
            raise AgentError(
                f"{' '.join(self.argv)[:200]!r} exited {self.rc}:\n"
                f"{self.stdout[-2000:]}\n{self.stderr[-2000:]}"
            )
        return self


class GuestAgent:
    """One connection to a guest's qemu-ga; calls are serialised by a lock."""

    def __init__(self, socket_path: Path, timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = b""
        self._lock = threading.Lock()

    # -- connection ---------------------------------------------------------------------
    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._buf = b""

    def _recv_until(self, pred: Any, deadline: float) -> None:
        assert self._sock is not None
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AgentError(f"agent {self.socket_path} did not answer in time")
            self._sock.settimeout(min(left, 1.0))
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise AgentError("agent closed the connection")
            self._buf += data

    def _sync(self, timeout: float) -> None:
        """guest-sync-delimited: drop stale output, then expect our random id back."""
        if self._sock is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(str(self.socket_path))
            self._sock = s
            self._buf = b""
        ident = random.randint(1, 2**31)
        msg = json.dumps({"execute": "guest-sync-delimited", "arguments": {"id": ident}}).encode()
        self._sock.sendall(b"\xff" + msg + b"\n")
        deadline = time.monotonic() + timeout
        for _ in range(100):
            self._recv_until(lambda: b"\xff" in self._buf, deadline)
            self._buf = self._buf[self._buf.index(b"\xff") + 1 :]
            self._recv_until(lambda: b"\n" in self._buf, deadline)
            line, _, self._buf = self._buf.partition(b"\n")
            try:
                if json.loads(line).get("return") == ident:
                    return
            except ValueError:
                continue
        raise AgentError("agent sync failed")

    def _call_locked(self, command: str, arguments: dict[str, Any] | None, timeout: float) -> Any:
        if self._sock is None:
            self._sync(min(timeout, 10.0))
        assert self._sock is not None
        req: dict[str, Any] = {"execute": command}
        if arguments:
            req["arguments"] = arguments
        self._sock.sendall(json.dumps(req).encode() + b"\n")
        if command == "guest-shutdown":
            return None  # no reply: the agent goes away
        deadline = time.monotonic() + timeout
        self._recv_until(lambda: b"\n" in self._buf, deadline)
        line, _, self._buf = self._buf.partition(b"\n")
        reply = json.loads(line.lstrip(b"\xff"))
        if "error" in reply:
            raise AgentReplyError(f"{command}: {reply['error'].get('desc', reply['error'])}")
        return reply.get("return")

    def call(
        self, command: str, arguments: dict[str, Any] | None = None, timeout: float | None = None
    ) -> Any:
        """One QGA command; on a timeout or a broken connection, reconnect once and retry."""
        t = self.timeout if timeout is None else timeout
        with self._lock:
            try:
                return self._call_locked(command, arguments, t)
            except AgentReplyError:
                raise
            except (AgentError, OSError, ValueError):
                self.close()
                if command in NOT_RETRIED:
                    raise  # never run a command twice
                return self._call_locked(command, arguments, t)

    def wait_ready(self, timeout: float) -> float:
        """Poll until the agent answers guest-ping; return the seconds waited."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            with self._lock:
                try:
                    self.close()
                    self._sync(min(3.0, max(0.5, deadline - time.monotonic())))
                    self._call_locked("guest-ping", None, 5.0)
                    return time.monotonic() - t0
                except (AgentError, OSError, ValueError) as exc:
                    last = exc
                    self.close()
            time.sleep(0.3)
        raise AgentError(f"agent {self.socket_path} not ready after {timeout:.0f} s: {last}")

    # -- commands -------------------------------------------------------------------------
    def exec(
        self, argv: list[str], timeout: float = 60.0, stdin: bytes | None = None
    ) -> ExecResult:
        args: dict[str, Any] = {"path": argv[0], "arg": argv[1:], "capture-output": True}
        if stdin is not None:
            args["input-data"] = base64.b64encode(stdin).decode()
        pid = self.call("guest-exec", args)["pid"]
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            st = self.call("guest-exec-status", {"pid": pid})
            if st.get("exited"):
                out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
                err = base64.b64decode(st.get("err-data", "")).decode(errors="replace")
                rc = st.get("exitcode", -st.get("signal", 1) if "signal" in st else 1)
                return ExecResult(tuple(argv), int(rc), out, err)
            if time.monotonic() > deadline:
                with contextlib.suppress(AgentError):
                    self.call("guest-exec", {"path": "/bin/kill", "arg": ["-9", str(pid)]})
                raise AgentError(
                    f"{' '.join(argv)[:200]!r} still running after {timeout:.0f} s (killed)"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    def sh(self, script: str, timeout: float = 60.0) -> ExecResult:
        """Run a bash command line; daemons it starts must redirect their output."""
        return self.exec(["/bin/bash", "-c", script], timeout=timeout)

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self.sh(f"mkdir -p \"$(dirname '{path}')\"", timeout=10).check()
        handle = self.call("guest-file-open", {"path": path, "mode": "w"})
        try:
            for i in range(0, max(len(data), 1), FILE_CHUNK):
                chunk = data[i : i + FILE_CHUNK]
                self.call(
                    "guest-file-write",
                    {"handle": handle, "buf-b64": base64.b64encode(chunk).decode()},
                )
        finally:
            self.call("guest-file-close", {"handle": handle})
        self.exec(["/bin/chmod", f"{mode:o}", path], timeout=10).check()

    def write_files(self, files: dict[str, tuple[bytes, int]], timeout: float = 60.0) -> None:
        """Write files (path -> (data, mode)) with one guest-exec: a shell script on stdin."""
        lines = ["set -e"]
        for path, (data, mode) in files.items():
            if "'" in path or "\n" in path:
                raise ValueError(f"bad guest path {path!r}")
            lines.append(
                f"mkdir -p \"$(dirname '{path}')\"; base64 -d > '{path}.new' <<'PIXGW_EOF'"
            )
            lines.append(base64.encodebytes(data).decode().rstrip("\n"))
            lines.append("PIXGW_EOF")
            lines.append(f"chmod {mode:o} '{path}.new' && mv -f '{path}.new' '{path}'")
        self.exec(
            ["/bin/sh", "-s"], timeout=timeout, stdin=("\n".join(lines) + "\n").encode()
        ).check()

    def read_file(self, path: str, limit: int = 16 * 1024 * 1024) -> bytes:
        handle = self.call("guest-file-open", {"path": path, "mode": "r"})
        data = b""
        try:
            for _ in range(limit // FILE_CHUNK + 1):
                r = self.call("guest-file-read", {"handle": handle, "count": FILE_CHUNK})
                data += base64.b64decode(r.get("buf-b64", ""))
                if r.get("eof") or not r.get("count"):
                    break
        finally:
            self.call("guest-file-close", {"handle": handle})
        return data

    def shutdown(self) -> None:
        with self._lock:
            try:
                self._call_locked("guest-shutdown", {"mode": "powerdown"}, 5.0)
            finally:
                self.close()
