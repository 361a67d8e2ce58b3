"""``twistd -n pixgw`` for real: it starts on the sample config, answers ``pixgw exec`` on its
control socket, refuses a bad config with the ``config check`` text, and stops cleanly on SIGTERM.

The gateway runs inside a network namespace the test creates, so the ports it binds (500, 4500,
1701) are its own; the control socket is a file in a temporary directory.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixgw.config.parser import parse
from pixgw.config.render import render
from tests import runid

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "etc" / "pixgw.conf"
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.root, pytest.mark.interop]
# Time bound (120 s): twistd start and stop in a namespace: a few seconds.
pytestmark.append(pytest.mark.timeout(120))


@pytest.fixture
def netns() -> Iterator[str]:
    name = runid.name(f"pxsvc{uuid.uuid4().hex[:6]}")
    subprocess.run(["ip", "netns", "add", name], check=True)
    for command in (
        "link set lo up",
        # an "outside" interface, so that 'ip address outside dhcp' finds the host's address
        "link add out0 type veth peer name out1",
        "addr add 192.0.2.1/24 dev out0",
        "link set out0 up",
        "link set out1 up",
    ):
        subprocess.run(["ip", "-n", name, *command.split()], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def start_gateway(
    netns: str, config: Path, tmp: Path, dataplane: str = "memory"
) -> tuple[subprocess.Popen[bytes], str]:
    control = str(tmp / "control")
    log = open(tmp / "twistd.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [
            "ip", "netns", "exec", netns,
            str(BIN / "twistd"), "-n", "--pidfile=", "pixgw",
            "--config", str(config),
            "--control", f"unix:{control}",
            "--state-dir", str(tmp / "state"),
            "--dataplane", dataplane,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    return process, control


def wait_for_socket(path: str, process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return
        if process.poll() is not None:
            raise AssertionError(f"twistd exited early with {process.returncode}")
        time.sleep(0.1)
    raise AssertionError(f"no control socket at {path} after {seconds} s")


def pixgw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pixgw"), *args], capture_output=True, text=True, timeout=60, check=False
    )


def read_until(process: subprocess.Popen[bytes], marker: bytes, seconds: float) -> bytes:
    """Read *process*'s stdout until *marker* shows up (bounded in time)."""
    assert process.stdout is not None
    seen = b""
    deadline = time.monotonic() + seconds
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    return seen


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise
    return process.returncode


@pytest.mark.parametrize("dataplane", ["memory", "userspace"])
def test_starts_answers_and_stops(netns: str, tmp_path: Path, dataplane: str) -> None:
    process, control = start_gateway(netns, SAMPLE, tmp_path, dataplane)
    try:
        wait_for_socket(control, process)
        run = pixgw("exec", "--control", f"unix:{control}", "show running-config")
        assert run.returncode == 0, run.stderr
        # What the gateway prints is its configuration, secrets masked.
        sample = parse(SAMPLE.read_text()).config
        assert run.stdout == render(sample, mask_secrets=True)
        assert "********" in run.stdout

        abbreviated = pixgw("exec", "--control", control, "sh", "run")
        assert abbreviated.stdout == run.stdout

        version = pixgw("exec", "--control", control, "show version")
        assert version.returncode == 0
        assert "pixgw Version" in version.stdout and " up " in version.stdout

        memory = pixgw("exec", "--control", control, "show memory")  # the GC policy installed
        assert "Garbage collector: survivors frozen after each generation 1 collection" in (
            memory.stdout), memory.stdout
        stats = pixgw("exec", "--control", control, "show crypto ipsec stats")
        assert stats.returncode == 0 and "TUN device lost:" in stats.stdout, stats.stdout

        pools = pixgw("exec", "--control", control, "show ip local pool")
        assert pools.returncode == 0 and "Pool" in pools.stdout, pools.stdout
        aaa = pixgw("exec", "--control", control, "show aaa-server")
        assert aaa.returncode == 0, aaa.stdout + aaa.stderr
        tunnels = pixgw("exec", "--control", control, "show vpdn tunnel")
        assert tunnels.returncode == 0
        assert "% No active L2TP tunnels" in tunnels.stdout, tunnels.stdout

        # IKE answers on UDP 500: ike-scan offers Windows 10's AES-256/SHA1/PSK/group 14.
        scan = subprocess.run(
            ["ip", "netns", "exec", netns, "ike-scan", "--sport=0", "--retry=2", "--timeout=1000",
             "--trans=7/256,2,1,14", "192.0.2.1"],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert "1 returned handshake" in scan.stdout, scan.stdout + scan.stderr
        isakmp = pixgw("exec", "--control", control, "show crypto isakmp sa")
        assert isakmp.returncode == 0
        assert "192.0.2.1" in isakmp.stdout, isakmp.stdout

        bad = pixgw("exec", "--control", control, "show nonsense")
        assert bad.returncode == 1
        assert "Invalid input detected at '^' marker." in bad.stdout
    finally:
        code = stop(process)
    log = (tmp_path / "twistd.log").read_text(errors="replace")
    # twistd stops the reactor, then ends itself with the signal it got, so the status says
    # "terminated by SIGTERM"; the log proves the shutdown was the orderly one.
    assert code in (0, -signal.SIGTERM), log
    assert "Main loop terminated" in log or "Server Shut Down" in log
    assert not os.path.exists(control), "the control socket is removed on a clean stop"


def test_bad_config_stops_startup_with_check_text(netns: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.conf"
    lines = SAMPLE.read_text().splitlines()
    lines.append("crypto map outside_map 99 ipsec-isakmp dynamic no-such-dynamic-map")
    broken.write_text("\n".join(lines) + "\n")
    check = pixgw("config", "check", str(broken))
    assert check.returncode == 1
    assert f"ERROR line {len(lines)}:" in check.stderr

    process, _ = start_gateway(netns, broken, tmp_path)
    code = process.wait(timeout=60)
    log = (tmp_path / "twistd.log").read_text(errors="replace")
    assert code != 0
    assert check.stderr.strip().splitlines()[0] in log


def test_a_dataplane_that_cannot_start_stops_twistd_with_status_1(
    netns: str, tmp_path: Path
) -> None:
    """No TUN device (here /dev/net/tun is /dev/null in the gateway's mount namespace): the
    userspace dataplane cannot start, so twistd says why and exits 1 instead of running IKE
    with nothing behind it."""
    control = str(tmp_path / "control")
    process = subprocess.Popen(
        [
            "unshare", "--mount", "sh", "-c",
            'mount --bind /dev/null /dev/net/tun && exec "$@"', "sh",
            "ip", "netns", "exec", netns,
            str(BIN / "twistd"), "-n", "--pidfile=", "pixgw",
            "--config", str(SAMPLE), "--control", f"unix:{control}",
            "--state-dir", str(tmp_path / "state"), "--dataplane", "userspace",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )  # fmt: skip
    try:
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = out.decode(errors="replace")
    assert process.returncode == 1, text[-3000:]
    assert "pixgw cannot start: the userspace dataplane failed" in text, text[-3000:]
    assert not os.path.exists(control)  # nothing left answering


def test_exec_without_gateway_is_a_clear_error(tmp_path: Path) -> None:
    result = pixgw("exec", "--control", str(tmp_path / "nothing-here"), "show version")
    assert result.returncode == 1
    assert "cannot reach the gateway" in result.stderr


def test_manhole_over_ssh_on_loopback(netns: str, tmp_path: Path) -> None:
    key = tmp_path / "admin_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "admin", "-f", str(key)],
        check=True, timeout=60,
    )
    control = str(tmp_path / "control")
    log = open(tmp_path / "twistd.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            "ip", "netns", "exec", netns, str(BIN / "twistd"), "-n", "--pidfile=", "pixgw",
            "--config", str(SAMPLE), "--control", f"unix:{control}",
            "--state-dir", str(tmp_path / "state"), "--dataplane", "memory",
            "--manhole", "tcp:2222:interface=127.0.0.1",
            "--manhole-keys", f"{key}.pub",
        ],
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
    )
    try:
        wait_for_socket(control, process)
        ssh = subprocess.Popen(
            [
                "ip", "netns", "exec", netns, "ssh", "-tt", "-i", str(key), "-p", "2222",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "admin@127.0.0.1",
            ],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        hostname = parse(SAMPLE.read_text()).config.hostname
        try:
            out = read_until(ssh, b"[H>>> ", 30)  # the manhole's prompt after its screen reset
            assert ssh.stdin is not None
            ssh.stdin.write(b"print('hostname=' + gateway.config.hostname)\r")
            ssh.stdin.flush()
            out += read_until(ssh, f"hostname={hostname}".encode(), 30)
            ssh.stdin.write(b"\x04")  # ^D ends the session
            ssh.stdin.flush()
            assert ssh.wait(timeout=30) is not None
        finally:
            if ssh.poll() is None:
                ssh.kill()
                ssh.wait(timeout=10)
        assert f"hostname={hostname}".encode() in out, out
        # the host key was made on first start, readable by root only
        host_key = tmp_path / "state" / "manhole_host_key"
        assert host_key.exists() and (host_key.stat().st_mode & 0o777) == 0o600
    finally:
        stop(process)
        log.close()


def test_manhole_refuses_a_non_loopback_endpoint(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(BIN / "twistd"), "-n", "--pidfile=", "pixgw", "--config", str(SAMPLE),
            "--control", f"unix:{tmp_path / 'control'}", "--dataplane", "memory",
            "--manhole", "tcp:2222:interface=0.0.0.0", "--manhole-passwords", "/dev/null",
        ],
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO,
    )
    assert result.returncode != 0
    assert "not a loopback address" in result.stdout + result.stderr


def test_logging_host_gets_real_syslog_over_udp(netns: str, tmp_path: Path) -> None:
    """``logging host outside A`` + ``logging trap``: RFC 3164 datagrams reach a syslog receiver
    (a UDP listener inside the test's namespace)."""
    config = tmp_path / "syslog.conf"
    config.write_text(
        SAMPLE.read_text()
        + "logging trap informational\nlogging host outside 192.0.2.1\n"
    )
    received = tmp_path / "received.txt"
    listener = subprocess.Popen(
        [
            "ip", "netns", "exec", netns, sys.executable, "-c",
            "import socket,sys\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            "s.bind(('192.0.2.1',514)); s.settimeout(30)\n"
            "data,_=s.recvfrom(4096)\n"
            f"open({str(received)!r},'wb').write(data)\n",
        ],
    )
    process, control = start_gateway(netns, config, tmp_path)
    try:
        wait_for_socket(control, process)
        listener.wait(timeout=40)
        datagram = received.read_bytes()
        # <PRI> = facility 20 (local4) * 8 + severity 6; then the PIX message
        assert datagram.startswith(b"<166>"), datagram
        assert b"%PIX-6-199002: PIX startup completed. Beginning operation." in datagram, datagram
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait(timeout=10)
        stop(process)


def _wait_log(tmp: Path, text: str, seconds: float = 20.0) -> str:
    deadline = time.monotonic() + seconds
    log = ""
    while time.monotonic() < deadline:
        log = (tmp / "twistd.log").read_text(errors="replace")
        if text in log:
            return log
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in the log after {seconds} s:\n{log[-3000:]}")


def test_reload_on_sighup_keeps_the_running_config_when_the_new_one_is_broken(
    netns: str, tmp_path: Path
) -> None:
    """SIGHUP (systemd's ExecReload) re-reads the file: a broken file is refused with its line
    numbers in the log and nothing changes; a good one is taken (here: the logging settings,
    live) and said so."""
    config = tmp_path / "pixgw.conf"
    config.write_text(SAMPLE.read_text())
    process, control = start_gateway(netns, config, tmp_path)
    try:
        wait_for_socket(control, process)
        before = pixgw("exec", "--control", control, "show running-config").stdout
        good = SAMPLE.read_text().replace("logging buffered informational",
                                          "logging buffered debugging")
        assert good != SAMPLE.read_text()
        lines = good.splitlines()
        bad_line = "crypto map outside_map 99 ipsec-isakmp dynamic no-such-dynamic-map"
        config.write_text("\n".join([*lines, bad_line]) + "\n")
        process.send_signal(signal.SIGHUP)
        log = _wait_log(tmp_path, "reload refused")
        assert f"ERROR line {len(lines) + 1}:" in log, log[-3000:]
        assert process.poll() is None, "a broken file must not stop the gateway"
        assert pixgw("exec", "--control", control, "show running-config").stdout == before
        assert "level informational" in pixgw("exec", "--control", control, "show logging").stdout
        config.write_text(good)
        process.send_signal(signal.SIGHUP)
        _wait_log(tmp_path, "reloaded")
        shown = pixgw("exec", "--control", control, "show logging").stdout
        assert "Buffer logging: level debugging" in shown, shown
    finally:
        code = stop(process)
    assert code in (0, -signal.SIGTERM)


def test_ready_is_notified_once_serving(netns: str, tmp_path: Path) -> None:
    """Type=notify: READY=1 reaches $NOTIFY_SOCKET once the config is parsed and the ports are
    bound (the control socket answers by then)."""
    import socket as socketlib

    address = str(tmp_path / "notify")
    with socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_DGRAM) as listener:
        listener.bind(address)
        listener.settimeout(30)
        os.environ["NOTIFY_SOCKET"] = address
        try:
            process, control = start_gateway(netns, SAMPLE, tmp_path)
        finally:
            del os.environ["NOTIFY_SOCKET"]
        try:
            message = listener.recv(4096).decode()
            assert "READY=1" in message.splitlines(), message
            assert os.path.exists(control)
            version = pixgw("exec", "--control", control, "show version")
            assert version.returncode == 0
        finally:
            stop(process)
