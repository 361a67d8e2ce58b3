"""Packet capture on the outside segment (tcpdump in a namespace of the run); test infrastructure.

``Capture.start(ns, iface, bpf)`` runs ``tcpdump -U -w`` under ``timeout`` (bounded life) and is
stopped by pid; ``count(filter)`` and ``summary(filter)`` read the pcap back with tcpdump.
``clear_l2tp()`` counts UDP/1701 packets that are not inside ESP or UDP-encapsulated ESP: it must
be zero on the outside segment while a client is connected.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .netns import BackgroundProcess, Namespace

CLEAR_L2TP = "udp port 1701"


@dataclass
class Capture:
    namespace: Namespace
    pcap: Path
    process: BackgroundProcess

    @classmethod
    def start(
        cls,
        namespace: Namespace,
        iface: str,
        pcap: Path,
        bpf: str = "",
        *,
        max_seconds: int = 600,
        snaplen: int = 256,
    ) -> Capture:
        """tcpdump on ``iface``; ``snaplen`` bytes of each packet (0: whole packets)."""
        pcap.unlink(missing_ok=True)
        argv = [
            "timeout",
            str(max_seconds),
            "tcpdump",
            "-U",
            "--immediate-mode",
            "-n",
            "-i",
            iface,
            "-s",
            str(snaplen),
            "-w",
            str(pcap),
        ]
        if bpf:
            argv.append(bpf)
        proc = namespace.spawn(argv, log_name=f"{pcap.stem}.tcpdump.log")
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and "listening on" not in proc.output():
            if not proc.running():
                raise RuntimeError(f"tcpdump did not start: {proc.output()}")
            time.sleep(0.05)
        return cls(namespace, pcap, proc)

    def stop(self) -> None:
        time.sleep(1.0)  # let tcpdump (immediate mode, -U) drain its ring and write the last ones
        self.namespace.stop(self.process, grace=3.0)

    def _read(self, bpf: str, verbose: bool = False) -> list[str]:
        argv = ["tcpdump", "-n", "-r", str(self.pcap)] + (["-v"] if verbose else [])
        if bpf:
            argv.append(bpf)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        return [line for line in r.stdout.splitlines() if line and not line.startswith(" ")]

    def count(self, bpf: str = "") -> int:
        return len(self._read(bpf))

    def summary(self, bpf: str = "", limit: int = 40) -> str:
        return "\n".join(self._read(bpf)[:limit])

    def clear_l2tp(self) -> int:
        return self.count(CLEAR_L2TP)
