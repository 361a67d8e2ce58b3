"""``show crypto ipsec sa`` against the reference's sample output (whitespace-collapsed, as the
reference flattens it), from a snapshot built by the dataplane's own snapshot function."""

from __future__ import annotations

import re
from ipaddress import IPv4Address

import pytest

from pixgw.cli.commands import CommandTable
from pixgw.cli.crypto import register
from pixgw.cli.crypto import render_ipsec_sa as render_crypto_ipsec_sa
from pixgw.dataplane.interfaces import SaCounters
from pixgw.dataplane.snapshot import ipsec_sa_status
from pixgw.ike.events import ChildSaEstablished, Endpoint, EspSaParameters, TrafficSelector
from tests.conftest import REFERENCE

PIX, CLIENT = IPv4Address("171.68.9.57"), IPv4Address("171.68.9.149")


def collapse(text):
    return re.sub(r"\s+", " ", text).strip()


def reference_output():
    text = (REFERENCE / "pix63-l2tp-ipsec-reference.txt").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("interface: outside"))
    return collapse(line)


def reference_snapshot():
    ev = ChildSaEstablished(
        ike_sa_id=bytes(16), child_sa_id=1, local=Endpoint(PIX, 500),
        remote=Endpoint(CLIENT, 500),
        inbound=EspSaParameters(0xFBC9DB43, "esp-des", "esp-md5-hmac", bytes(8), bytes(16)),
        outbound=EspSaParameters(0xA8C54EC8, "esp-des", "esp-md5-hmac", bytes(8), bytes(16)),
        encapsulation="transport",
        local_selector=TrafficSelector(PIX, PIX, 17, 1701),
        remote_selector=TrafficSelector(CLIENT, CLIENT, 17, 1701),
        lifetime_seconds=900, lifetime_kilobytes=100000, crypto_map="mymap",
        crypto_map_sequence=10, remote_behind_nat=False)
    counters = SaCounters(encaps=20, encrypt=20, digest=20, decaps=45, decrypt=45, verify=45,
                          inbound_seconds_left=807, outbound_seconds_left=807,
                          inbound_kilobytes_left=99994, outbound_kilobytes_left=99999)
    return ipsec_sa_status(ev, counters, overhead=8 + 8 + 6 + 2 + 12)


def test_matches_reference_sample():
    if not (REFERENCE / "pix63-l2tp-ipsec-reference.txt").exists():
        pytest.skip("reference not available")
    assert collapse(render_crypto_ipsec_sa([reference_snapshot()])) == reference_output()


def test_layout_and_no_sas():
    out = render_crypto_ipsec_sa([reference_snapshot()])
    assert "interface: outside" in out.splitlines()[:2]
    assert "      spi: 0xfbc9db43(4224310083)" in out.splitlines()
    assert "        sa timing: remaining key lifetime (k/sec): (99994/807)" in out.splitlines()
    assert render_crypto_ipsec_sa([]).strip() == ""


def test_registered_command_reads_the_gateway():
    table = CommandTable()
    register(table)
    spec = next(s for s in table.specs if s.keywords == ("show", "crypto", "ipsec", "sa"))

    class Gateway:
        def ipsec_sa_status(self):
            return [reference_snapshot()]

        def isakmp_sa_status(self):
            return []

        def running_config(self):
            return None

        def clear_isakmp_sa(self):
            pass

        def clear_ipsec_sa(self):
            pass

    class Ctx:
        gateway = Gateway()

    assert "#pkts decaps: 45" in spec.handler(Ctx(), [])  # type: ignore[arg-type]
