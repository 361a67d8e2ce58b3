"""IKEv1 main mode + quick mode setups/s (RFC 2409, PSK) with strongSwan's load-tester plugin as
the initiator, against pixgw (IkeResponder behind bench/ike_udp_responder.py) and against a
strongSwan responder (charon with load-tester's fake kernel: IKE only, as pixgw's shell here),
in the same run, per DH group; prints the ratio pixgw / strongSwan of setups/s and of setups per
responder CPU-second (the responder's own user+system time from wait4: on a small machine the
load generator can be what limits setups/s, for both targets alike). Both sides run in two network
namespaces this script makes (veth, 192.0.2.1 <-> 192.0.2.2) and removes; every process is
stopped by pid. Needs root and bench/build-strongswan.sh's build. Prints, never asserts.

    .venv/bin/python bench/strongswan.py [--groups 2,14,19] [--initiators 4] [--iterations 25]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PFX = Path(os.environ.get("PIXGW_STRONGSWAN", "/opt/pixgw-bench/strongswan-5.9.8"))
CHARON = PFX / "libexec/ipsec/charon"
NS_GW, NS_PEER = "pixb-gw", "pixb-peer"
GW_IP, PEER_IP = "192.0.2.1", "192.0.2.2"
PSK = "bench"
DEBUG = bool(os.environ.get("PIXGW_BENCH_DEBUG"))
PROPOSALS = {2: "aes256-sha1-modp1024", 14: "aes256-sha1-modp2048", 19: "aes256-sha1-ecp256"}
PLUGINS = ("random nonce aes sha1 sha2 md5 hmac pem pkcs1 x509 pubkey openssl load-tester "
           "kernel-netlink socket-default")


def available() -> str | None:
    """Why the comparison cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not CHARON.exists() or not (PFX / "lib/ipsec/plugins/libstrongswan-load-tester.so").exists():
        return f"no strongSwan with load-tester in {PFX}: run bench/build-strongswan.sh"
    if shutil.which("ip") is None:
        return "no iproute2"
    return None


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def netns_up() -> None:
    netns_down()
    sh("ip", "netns", "add", NS_GW)
    sh("ip", "netns", "add", NS_PEER)
    sh("ip", "link", "add", "pixb0", "netns", NS_GW, "type", "veth", "peer", "name", "pixb1",
       "netns", NS_PEER)
    for ns, dev, ip in ((NS_GW, "pixb0", GW_IP), (NS_PEER, "pixb1", PEER_IP)):
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")


def netns_down() -> None:
    for ns in (NS_GW, NS_PEER):
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=30)


def charon_conf(run: Path, side: str, plugin: str) -> Path:
    log = run / f"{side}.log"
    conf = run / f"{side}.conf"
    conf.write_text(f"""charon {{
  load = {PLUGINS}
  plugindir = {PFX}/lib/ipsec/plugins
  threads = 16
  ikesa_table_size = 1024
  block_threshold = 100000
  cookie_threshold = 100000
  retransmit_tries = 3
  filelog {{ log {{ path = {log}
      time_format = %s
      time_add_ms = yes
      default = 0
      ike = 1
      flush_line = yes }} }}
  plugins {{ load-tester {{ enable = yes
{plugin}
      socket = unix://{run}/{side}.ldt }} }}
}}
""")
    return conf


def common(proposal: str) -> str:
    return f"""      version = 1
      proposal = {proposal}
      esp = aes256-sha1
      mode = transport
      initiator_auth = psk
      responder_auth = psk
      preshared_key = {PSK}
      fake_kernel = yes"""


def start_charon(run: Path, ns: str, side: str, conf: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, STRONGSWAN_CONF=str(conf))
    # charon writes its pid file to /run: a private tmpfs in its own mount namespace
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, "unshare", "-m", "sh", "-c",
         f"mount -t tmpfs -o mode=755 tmpfs /run && exec {CHARON}"],
        env=env, stdout=(run / f"{side}.stdout").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def reap_cpu(proc: subprocess.Popen[Any], grace: float) -> float:
    """Wait up to *grace* s for *proc* to exit by itself, else stop it (SIGTERM, then SIGKILL);
    reap it with wait4 and return the CPU seconds (user + system, all its threads) it used."""
    deadline = time.monotonic() + grace
    signals = [signal.SIGTERM, signal.SIGKILL]
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        if time.monotonic() >= deadline:
            if not signals:
                return float("nan")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signals.pop(0))
            deadline = time.monotonic() + 5
        time.sleep(0.05)


def established_in(log: Path, pattern: str) -> list[float]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if re.search(pattern, line):
            out.append(float(line.split()[0]))
    return out


def one_run(run: Path, target: str, group: int, *, initiators: int, iterations: int,
            timeout: float) -> dict[str, Any]:
    total = initiators * iterations
    proposal = PROPOSALS[group]
    if target == "strongswan":
        conf = charon_conf(run, "resp", f"      initiators = 0\n      responder = {GW_IP}\n"
                           + common(proposal))
        responder: subprocess.Popen[Any] = start_charon(run, NS_GW, "resp", conf)
        time.sleep(1.0)
    else:
        responder = subprocess.Popen(
            ["ip", "netns", "exec", NS_GW, sys.executable, str(HERE / "ike_udp_responder.py"),
             "--address", GW_IP, "--group", str(group), "--seconds", str(timeout + 5),
             "--expect", str(total), *(["--debug"] if DEBUG else [])],
            stdout=(run / "resp.stdout").open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)  # PIXGW_BENCH_PROFILE=1 in the environment: its cProfile
        for _ in range(100):
            if b"READY" in (run / "resp.stdout").read_bytes():
                break
            time.sleep(0.1)
    # pixgw identifies itself by address (isakmp identity address); load-tester's own
    # responder by its default FQDN
    responder_id = f"      responder_id = {GW_IP}" if target == "pixgw" else ""
    conf = charon_conf(run, "init", f"""      initiators = {initiators}
      iterations = {iterations}
      delay = 0
      init_limit = 64
      responder = {GW_IP}
{responder_id}
{common(proposal)}
      delete_after_established = no
      shutdown_when_complete = no
      # non-zero: with 0, load-tester proposes life duration 0 and pixgw expires the SA at once
      child_rekey = 3600
      ike_rekey = 28800""")
    t0 = time.time()
    initiator = start_charon(run, NS_PEER, "init", conf)
    done = 0
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.2)
            done = len(established_in(run / "init.log", r"CHILD_SA load-test\{\d+\} established"))
            if done >= total:
                break
    finally:
        stop(initiator)
        # pixgw's responder exits on --expect (a profile is printed on the way out); charon is
        # stopped.  wait4 gives the responder's own CPU time: the load generator shares the
        # machine, so setups/s can be its limit while CPU per setup is the responder's cost.
        responder_cpu = reap_cpu(responder, 10.0 if target == "pixgw" else 0.0)
    stamps = established_in(run / "init.log", r"CHILD_SA load-test\{\d+\} established")
    started = established_in(run / "init.log", r"initiating Main Mode")
    span = (max(stamps) - min(started)) if stamps and started else 0.0
    for name in ("init.log", "resp.log", "resp.stdout", "init.stdout"):
        p = run / name
        if p.exists():
            p.rename(run / f"{target}-g{group}-{name}")
    return {"target": target, "group": group, "wanted": total, "established": len(stamps),
            "seconds": round(span, 3), "wall_seconds": round(time.time() - t0, 3),
            "setups_per_second": round(len(stamps) / span, 1) if span > 0 else 0.0,
            "responder_cpu_seconds": round(responder_cpu, 3),
            "responder_cpu_ms_per_setup":
                round(1000 * responder_cpu / len(stamps), 3) if stamps else None}


def run(groups: tuple[int, ...] = (2, 14, 19), initiators: int = 4, iterations: int = 25,
        timeout: float = 120.0, keep: bool = False) -> list[dict[str, Any]]:
    why = available()
    if why is not None:
        return [{"skipped": why}]
    rows: list[dict[str, Any]] = []
    run_dir = Path(tempfile.mkdtemp(prefix="pixgw-bench-strongswan-"))
    netns_up()
    try:
        for group in groups:
            pair = {}
            for target in ("strongswan", "pixgw"):
                r = one_run(run_dir, target, group, initiators=initiators,
                            iterations=iterations, timeout=timeout)
                pair[target] = r
                rows.append(r)
            s, p = pair["strongswan"]["setups_per_second"], pair["pixgw"]["setups_per_second"]
            s_cpu = pair["strongswan"]["responder_cpu_ms_per_setup"]
            p_cpu = pair["pixgw"]["responder_cpu_ms_per_setup"]
            rows.append({"group": group, "ratio_pixgw_over_strongswan":
                         round(p / s, 3) if s else None,
                         # setups per responder CPU-second, pixgw / strongSwan
                         "cpu_ratio_pixgw_over_strongswan":
                         round(s_cpu / p_cpu, 3) if s_cpu and p_cpu else None})
    finally:
        netns_down()
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"logs kept in {run_dir}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--groups", default="2,14,19")
    ap.add_argument("--initiators", type=int, default=4)
    ap.add_argument("--iterations", type=int, default=25)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    print(f"load {os.getloadavg()[0]:.2f}")
    for r in run(tuple(int(g) for g in args.groups.split(",")), args.initiators,
                 args.iterations, args.timeout, args.keep):
        print(r)


if __name__ == "__main__":
    main()
