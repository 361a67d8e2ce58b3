"""--control: the CLI there is not authenticated and can ``write memory``, so it is a unix socket
of mode 0600 or tcp on a loopback address, and anything else is a clear startup error (issue
29). Pure string handling, plus twistd's option parsing. Under 0.2 s."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.python import usage

from pixgw.tap import Options, control_endpoint


@pytest.mark.parametrize(("given", "endpoint"), [
    ("/run/pixgw/control", "unix:/run/pixgw/control:mode=600:lockfile=1"),
    ("unix:/tmp/c", "unix:/tmp/c:mode=600:lockfile=1"),
    ("unix:/tmp/c:mode=0600", "unix:/tmp/c:mode=0600:lockfile=1"),
    ("tcp:7000", "tcp:7000:interface=127.0.0.1"),
    ("tcp:7000:interface=127.0.0.2", "tcp:7000:interface=127.0.0.2"),
    ("tcp:port=7000:interface=\\:\\:1", "tcp:port=7000:interface=\\:\\:1"),
])
def test_accepted_control_endpoints(given: str, endpoint: str) -> None:
    assert control_endpoint(given) == endpoint


@pytest.mark.parametrize(("given", "why"), [
    ("tcp:7000:interface=0.0.0.0", "loopback"),
    ("tcp:7000:interface=192.0.2.1", "loopback"),
    ("tcp:7000:interface=\\:\\:", "loopback"),
    ("tcp:7000:interface=localhost", "loopback"),  # a name is not an address
    ("unix:/tmp/c:mode=666", "0600"),
    ("unix:/tmp/c:mode=660", "0600"),
    ("ssl:7000", "unix:PATH or tcp:PORT"),
    ("tcp6:7000", "unix:PATH or tcp:PORT"),
])
def test_refused_control_endpoints(given: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        control_endpoint(given)


def test_twistd_refuses_a_public_control_socket_at_startup(tmp_path: Path) -> None:
    config = tmp_path / "pixgw.conf"
    config.write_text("hostname gw\n")
    options = Options()
    with pytest.raises(usage.UsageError, match="loopback"):
        options.parseOptions(["--config", str(config), "--control", "tcp:7000:interface=0.0.0.0"])
    options = Options()
    options.parseOptions(["--config", str(config), "--control", "tcp:7000"])
    assert options["control"] == "tcp:7000:interface=127.0.0.1"
