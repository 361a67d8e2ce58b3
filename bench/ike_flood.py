"""A flood of spoofed IKE main-mode first messages against a real ``twistd pixgw`` in network
namespaces of its own (issue 25): ten times what tests/interop/test_ike_flood.py sends in CI
(1,000,000 packets by default), ``ike-scan`` from a legitimate address during and after it.
Prints packets sent, gateway CPU seconds, RSS, half-open held, answers sent, what the kernel
dropped and the gateway's counters. Prints, never asserts. As root:

    .venv/bin/python bench/ike_flood.py [--packets 1000000] [--rate 10000] [--seconds 300]

Nothing leaves the two namespaces: the spoofed sources (198.51.100.0/24) route back into a
blackhole in the peer namespace (tests/interop/ike_flood.py). The generator stops by itself at
--packets or --seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.interop.ike_flood import FloodLab, flood


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=10_000.0, help="packets a second")
    parser.add_argument("--seconds", type=float, default=300.0, help="the flood's time bound")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pixgw-flood-") as workdir:
        lab = FloodLab(Path(workdir))
        try:
            lab.create()
            figures = flood(lab, args.packets, args.rate, args.seconds)
        finally:
            lab.close()
    print(f"IKE flood: {args.packets} spoofed first messages at {args.rate:.0f}/s")
    print("\n".join(figures.lines()))


if __name__ == "__main__":
    main()
