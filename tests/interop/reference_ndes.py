"""The NDES-style SCEP server of the reference scenario as a process of its own (RFC 8894 §3/§4
as Microsoft NDES speaks it, see :mod:`tests.interop.ndes`): real HTTP with twisted.web on
``--bind:--port`` at ``/certsrv/mscep/mscep.dll``, RA mode, requests PENDING until the file
``--dir/approve`` appears (checked five times a second), then granted on the next poll.

Test infrastructure. Writes ``ca-cert.pem`` and ``ca-key.pem`` (so the test can issue the
client's certificate from the same CA), ``operations.log`` (one SCEP operation a line) and
``ready`` once listening, all in ``--dir``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from twisted.internet import reactor, task
from twisted.web import resource, server

from tests.interop.ndes import NdesEmulator, NdesResource


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True, type=Path)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--challenge", default="ndes-challenge")
    ap.add_argument("--lifetime", type=float, default=600.0)  # bounded: stops by itself
    args = ap.parse_args()
    work: Path = args.dir
    ndes = NdesEmulator(challenge=args.challenge, pending=True)
    pem = serialization.Encoding.PEM
    (work / "ca-cert.pem").write_bytes(ndes.ca_cert.public_bytes(pem))
    (work / "ca-key.pem").write_bytes(
        ndes.ca_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    ops_log = work / "operations.log"
    written = 0

    def tick() -> None:
        nonlocal written
        if (work / "approve").exists():
            ndes.approve_all()
        if len(ndes.operations) > written:
            with ops_log.open("a") as fh:
                for op in ndes.operations[written:]:
                    fh.write(op + "\n")
            written = len(ndes.operations)

    root = resource.Resource()
    certsrv = resource.Resource()
    mscep = resource.Resource()
    root.putChild(b"certsrv", certsrv)
    certsrv.putChild(b"mscep", mscep)
    mscep.putChild(b"mscep.dll", NdesResource(ndes))
    reactor.listenTCP(args.port, server.Site(root), interface=args.bind)  # type: ignore[arg-type]
    task.LoopingCall(tick).start(0.2)
    reactor.callLater(args.lifetime, reactor.stop)
    (work / "ready").write_text("ready\n")
    reactor.run()


if __name__ == "__main__":
    main()
