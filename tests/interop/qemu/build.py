"""Build (once) and locate the interop client guest image.

Not a protocol module: test infrastructure. The guest is the stock Debian 12 kernel plus an
initramfs made by ``build-guest.sh`` (debootstrap minbase bookworm with strongSwan, xl2tpd,
pppd, qemu-guest-agent).  The result is cached under ``/var/tmp/pixgw-interop`` (override with
``PIXGW_INTEROP_DIR``) and rebuilt only when the harness's inputs change: the SHA-256 of
``build-guest.sh`` and every file under ``guest/`` is stored in ``guest/inputs.sha256`` and
compared on each call.  Concurrent callers serialise on an ``fcntl`` lock.

Variants (``ensure_guest(variant)``): ``client`` (the default, in ``<cache>/guest``), ``gateway``
(the client's packages plus python3, to run pixgw itself in a guest whose kernel has ESP, with the
host's checkout and venv shared in over 9p; ``<cache>/guest-gateway``) and ``libreswan`` (pluto
instead of strongSwan; ``<cache>/guest-libreswan``).  All share the kernel and the test PKI, which
the client variant makes, so it is built first.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "build-guest.sh"
GUEST_FILES = HERE / "guest"
BUILD_TIMEOUT_S = 1800.0
VARIANTS = ("client", "gateway", "libreswan")


def cache_dir() -> Path:
    return Path(os.environ.get("PIXGW_INTEROP_DIR", "/var/tmp/pixgw-interop"))


@dataclass(frozen=True)
class GuestImage:
    """A built guest: kernel, initramfs, the test PKI next to them, and how it was obtained."""

    kernel: Path
    initrd: Path
    pki: Path
    inputs_hash: str
    built_now: bool
    seconds: float
    variant: str = "client"


def inputs_hash() -> str:
    """SHA-256 over the build script and the guest files (names and contents)."""
    h = hashlib.sha256()
    files = [BUILD_SCRIPT, *sorted(p for p in GUEST_FILES.rglob("*") if p.is_file())]
    for f in files:
        h.update(str(f.relative_to(HERE)).encode() + b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def guest_dir(out: Path, variant: str) -> Path:
    return out / ("guest" if variant == "client" else f"guest-{variant}")


def _is_current(out: Path, digest: str, variant: str = "client") -> bool:
    g = guest_dir(out, variant)
    stamp = g / "inputs.sha256"
    try:
        current = stamp.read_text().strip() == digest
    except OSError:
        return False
    return current and (g / "vmlinuz").is_file() and (g / "initrd.img").is_file()


def ensure_guest(log_path: Path | None = None, variant: str = "client") -> GuestImage:
    """Return the guest image, building it first if it is missing or its inputs changed."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown guest variant {variant!r}; one of {', '.join(VARIANTS)}")
    if variant != "client":
        ensure_guest()  # the kernel cache and the test PKI come from the client variant
    out = cache_dir()
    out.mkdir(parents=True, exist_ok=True)
    digest = inputs_hash()
    t0 = time.monotonic()
    built = False
    with open(out / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _is_current(out, digest, variant):
            log = log_path or out / ("build.log" if variant == "client" else f"build-{variant}.log")
            with open(log, "w") as fh:
                proc = subprocess.run(
                    ["bash", str(BUILD_SCRIPT), str(out), digest, variant],
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    timeout=BUILD_TIMEOUT_S,
                    check=False,
                )
            if proc.returncode != 0 or not _is_current(out, digest, variant):
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"guest build failed (rc {proc.returncode}), log {log}:\n{tail}")
            built = True
    g = guest_dir(out, variant)
    return GuestImage(
        kernel=g / "vmlinuz",
        initrd=g / "initrd.img",
        pki=g / "pki",
        inputs_hash=digest,
        built_now=built,
        seconds=time.monotonic() - t0,
        variant=variant,
    )


if __name__ == "__main__":
    import sys

    image = ensure_guest(variant=sys.argv[1] if len(sys.argv) > 1 else "client")
    print(
        f"{'built' if image.built_now else 'cached'} in {image.seconds:.1f} s: "
        f"{image.kernel} {image.initrd}"
    )
