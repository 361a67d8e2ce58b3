"""A strongSwan charon IKEv1 responder on the host, inside the gateway namespace.

Test infrastructure, stdlib only: proves that the guest's main mode and quick mode reach the
gateway address and complete, before pixgw can answer.  The host kernel has no ESP, so charon
negotiates the CHILD_SA and then fails to install it ("Function not implemented"): expected.
charon runs with a private /run (tmpfs mounted inside the ``ip netns exec`` mount namespace),
its own strongswan.conf (STRONGSWAN_CONF) and its vici socket in the run's directory, so
``swanctl`` on the host reaches it with the same STRONGSWAN_CONF.  Stopped by pid.
"""

from __future__ import annotations

import os
import re
import shutil
import string
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .client import PROFILES, TEMPLATES
from .netns import BackgroundProcess, Namespace

CHARON = "/usr/lib/ipsec/charon"


def responder_available() -> bool:
    return Path(CHARON).exists() and shutil.which("swanctl") is not None


@dataclass
class HostResponder:
    namespace: Namespace
    workdir: Path
    auth: str = "psk"
    psk: str = "interop-psk"
    pki: Path | None = None
    process: BackgroundProcess | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "STRONGSWAN_CONF": str(self.workdir / "strongswan.conf")}

    def start(self, timeout: float = 30.0) -> HostResponder:
        w = self.workdir
        if w.exists():
            shutil.rmtree(w)
        for d in ("x509", "x509ca", "private"):
            (w / d).mkdir(parents=True)
        ike = ",".join(sorted({i for p in PROFILES.values() for i in p.ike}))
        esp = ",".join(sorted({e for p in PROFILES.values() for e in p.esp}))
        values = {
            "workdir": str(w),
            "address": self.namespace.address,
            "ike": ike,
            "esp": esp,
            "auth": "pubkey" if self.auth == "cert" else "psk",
            "local_certs": "            certs = server-cert.pem" if self.auth == "cert" else "",
            "psk": self.psk,
        }
        for name in ("strongswan.conf", "swanctl.conf"):
            text = string.Template((TEMPLATES / "responder" / name).read_text()).substitute(values)
            (w / name).write_text(text)
        (w / "swanctl.conf").chmod(0o600)
        if self.auth == "cert":
            if self.pki is None:
                raise ValueError("cert auth needs the test PKI directory")
            shutil.copy(self.pki / "server-cert.pem", w / "x509")
            shutil.copy(self.pki / "ca-cert.pem", w / "x509ca")
            shutil.copy(self.pki / "server-key.pem", w / "private")
        script = f"mount -t tmpfs -o mode=755 tmpfs /run && exec {CHARON}"
        self.process = self.namespace.spawn(
            ["sh", "-c", script], log_name="responder-charon.stdout", env=self.env
        )
        deadline = time.monotonic() + timeout
        while not (w / "charon.vici").exists():
            if not self.process.running() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"host charon did not start:\n{self.process.output()}\n{self.log()[-2000:]}"
                )
            time.sleep(0.1)
        r = self.swanctl("--load-all", "--noprompt", "--file", str(w / "swanctl.conf"))
        if "loaded connection 'responder'" not in r.stdout:
            raise RuntimeError(f"swanctl --load-all failed:\n{r.stdout}\n{r.stderr}")
        return self

    def swanctl(self, *args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["swanctl", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=self.env,
        )

    def log(self) -> str:
        try:
            return (self.workdir / "charon.log").read_text(errors="replace")
        except OSError:
            return ""

    def main_mode_completed(self) -> bool:
        return re.search(r"IKE_SA responder\[\d+\] established", self.log()) is not None

    def quick_mode_completed(self) -> bool:
        """Quick mode agreed on a proposal and made the CHILD_SA (installing it may then fail)."""
        log = self.log()
        return re.search(r"selected proposal: ESP:", log) is not None and (
            "CHILD_SA l2tp{" in log
            or "unable to install" in log
            or "unable to add SAD entry" in log
        )

    def stop(self) -> None:
        if self.process is not None:
            self.namespace.stop(self.process)
            self.process = None
