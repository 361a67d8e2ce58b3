"""pixgw as a user installs it (issue 24): a wheel built from the checkout, installed into a
fresh venv, serves ``twistd pixgw`` on the sample configuration it ships, in a namespace of the
test's own, and answers ``pixgw exec 'show version'``; a plain ``pip install -e .`` (the default
editable mode) and an install from the sdist find the twistd plugin too; the unit's capabilities
are enough to serve.

Offline: the wheel is built without build isolation (setuptools and wheel from the test extra)
from a copy of the tracked files under ``tmp_path``; the fresh venv reaches the dependencies
already installed in the project's venv through a ``.pth`` line (the wheel itself is installed
with ``--no-deps --no-index``). Cost: about 20 s.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.interop.test_service import netns, stop, wait_for_socket

__all__ = ["netns"]  # the fixture, imported from test_service

REPO = Path(__file__).resolve().parents[2]
PIP = [sys.executable, "-m", "pip"]

pytestmark = [
    pytest.mark.root,
    pytest.mark.interop,
    pytest.mark.timeout(180),  # a wheel build, two venvs and a gateway start: ~15 s
]


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, **kw)
    assert proc.returncode == 0, f"{' '.join(argv)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _source_copy(dest: Path) -> Path:
    """The tracked files of the checkout (no build/, no egg-info, no venv)."""
    files = _run(["git", "-C", str(REPO), "ls-files", "-z"]).stdout.split("\0")
    for name in filter(None, files):
        src, dst = REPO / name, dest / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(src.readlink())
        elif src.exists():
            shutil.copy2(src, dst)
    return dest


def _fresh_venv(path: Path) -> Path:
    _run([sys.executable, "-m", "venv", "--without-pip", str(path)])
    python = path / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    # the dependencies, already installed in the project's venv (after the venv's own packages)
    Path(purelib.stdout.strip(), "zz-pixgw-deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    return python


def _twistd(python: Path) -> list[str]:
    return [str(python), "-c", "from twisted.scripts.twistd import run; run()"]


def _serve(python: Path, netns: str, tmp: Path, config: Path) -> None:
    control = tmp / "control"
    log = open(tmp / "twistd.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        ["ip", "netns", "exec", netns, *_twistd(python), "-n", "--pidfile=", "pixgw",
         "--config", str(config), "--control", f"unix:{control}",
         "--state-dir", str(tmp / "state"), "--dataplane", "memory"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
    )
    try:
        wait_for_socket(str(control), process)
        version = _run([str(python), "-m", "pixgw.command", "exec", "--control",
                        f"unix:{control}", "show version"], cwd=tmp)
        assert "pixgw Version" in version.stdout
    finally:
        # twistd ends itself with the signal it got, after the orderly shutdown
        assert stop(process) in (0, -signal.SIGTERM), (tmp / "twistd.log").read_text()
        log.close()


def test_wheel_in_a_fresh_venv_serves(netns: str, tmp_path: Path) -> None:
    src = _source_copy(tmp_path / "src")
    _run([*PIP, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"),
          str(src)])
    (wheel,) = (tmp_path / "dist").glob("pixgw-*.whl")
    listing = _run([sys.executable, "-m", "zipfile", "-l", str(wheel)]).stdout
    for shipped in ("twisted/plugins/pixgw_plugin.py", "pixgw/data/dictionary",
                    "pixgw/data/dictionary.rfc", "pixgw/data/pixgw.conf"):
        assert shipped in listing, shipped
    python = _fresh_venv(tmp_path / "venv")
    _run([*PIP, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)])
    where = _run([str(python), "-c", "import pixgw; print(pixgw.__file__)"], cwd=tmp_path)
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout  # the wheel's pixgw
    plugin = _run([*_twistd(python), "pixgw", "--help"], cwd=tmp_path)
    assert "--config" in plugin.stdout, plugin.stdout  # not "Unknown command: pixgw"
    # the sample configuration the package ships, put in place by the service installer
    root = tmp_path / "root"
    done = _run([str(python), "-m", "pixgw.command", "install-service", "--root", str(root)])
    assert "pixgw.service" in done.stdout
    _serve(python, netns, tmp_path, root / "etc/pixgw/pixgw.conf")


def test_default_editable_install_finds_the_plugin(tmp_path: Path) -> None:
    src = _source_copy(tmp_path / "src")
    python = _fresh_venv(tmp_path / "venv")
    _run([*PIP, "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          "--no-build-isolation", "-e", str(src)])
    where = _run([str(python), "-c", "import pixgw; print(pixgw.__file__)"], cwd=tmp_path)
    assert where.stdout.startswith(str(src)), where.stdout
    plugin = _run([*_twistd(python), "pixgw", "--help"], cwd=tmp_path)
    assert "--config" in plugin.stdout, plugin.stdout


def test_the_units_capabilities_are_enough_for_the_userspace_dataplane(
    netns: str, tmp_path: Path
) -> None:
    """The gateway with only the unit's capabilities (bounding set: AmbientCapabilities, via
    setpriv) creates its TUN device and raw ESP socket, binds UDP 500/4500 and serves."""
    from pixgw.systemd import unit_text

    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    (line,) = [x for x in unit_text("twistd").splitlines() if x.startswith("AmbientCapabilities=")]
    caps = ",".join("+" + c.removeprefix("CAP_").lower() for c in line.split("=", 1)[1].split())
    control = tmp_path / "control"
    log = open(tmp_path / "twistd.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        ["ip", "netns", "exec", netns, "setpriv", f"--bounding-set=-all,{caps}",
         f"--inh-caps=-all,{caps}", str(Path(sys.executable).parent / "twistd"), "-n",
         "--pidfile=", "pixgw", "--config", str(REPO / "etc" / "pixgw.conf"),
         "--control", f"unix:{control}", "--state-dir", str(tmp_path / "state"),
         "--dataplane", "userspace"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    try:
        wait_for_socket(str(control), process)
        status = Path(f"/proc/{process.pid}/status").read_text()
        # the process ip netns exec became: only those capabilities are in its bounding set
        bounding = int(next(x for x in status.splitlines() if x.startswith("CapBnd:")).split()[1],
                       16)
        assert bounding == (1 << 12) | (1 << 10) | (1 << 13), hex(bounding)  # admin|bind|raw
        version = _run([sys.executable, "-m", "pixgw.command", "exec", "--control",
                        f"unix:{control}", "show version"])
        assert "pixgw Version" in version.stdout
    finally:
        code = stop(process)
        log.close()
    assert code in (0, -signal.SIGTERM), (tmp_path / "twistd.log").read_text()


def test_sdist_installs_a_working_plugin(tmp_path: Path) -> None:
    """The sdist carries the plugin module and the package data; ``pip install`` of it (a build
    from source, as ``pip install .`` does) gives a venv whose twistd knows pixgw."""
    src = _source_copy(tmp_path / "src")
    _run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "sdist", "-d",
          str(tmp_path / "dist")], cwd=src)
    (sdist,) = (tmp_path / "dist").glob("pixgw-*.tar.gz")
    names = _run([sys.executable, "-m", "tarfile", "-l", str(sdist)]).stdout
    for shipped in ("twisted/plugins/pixgw_plugin.py", "pixgw/data/dictionary",
                    "pixgw/data/pixgw.conf"):
        assert shipped in names, shipped
    python = _fresh_venv(tmp_path / "venv")
    _run([*PIP, "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          "--no-build-isolation", str(sdist)])
    where = _run([str(python), "-c", "import pixgw; print(pixgw.__file__)"], cwd=tmp_path)
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout
    plugin = _run([*_twistd(python), "pixgw", "--help"], cwd=tmp_path)
    assert "--config" in plugin.stdout, plugin.stdout
