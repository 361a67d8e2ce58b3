"""``show vpdn pppinterface``, ``show uauth``, ``show ip local pool`` against the reference."""

from dataclasses import dataclass
from ipaddress import IPv4Address

import pytest

from pixgw.cli import ppp as cli_ppp
from pixgw.cli.commands import CliError, CommandContext, CommandTable
from pixgw.config.model import IpLocalPool
from pixgw.pool import AddressPools
from pixgw.ppp.trace import error_line, io_line, uauth_line
from pixgw.status import PppInterfaceStatus, UauthEntry, UauthStatus

A = IPv4Address
# From reference/pix63-l2tp-ipsec-reference.txt (whitespace flattened there).
REFERENCE_PPPINTERFACE = (
    "PPP virtual interface id = 1 PPP authentication protocol is CHAP Client ip address is "
    "50.1.1.1 Transmitted Pkts: 15, Received Pkts: 56, Error Pkts: 0 MPPE key strength is None "
    "MPPE_Encrypt_Pkts: 0, MPPE_Encrypt_Bytes: 0 MPPE_Decrypt_Pkts: 0, MPPE_Decrypt_Bytes: 0 "
    "Rcvd_Out_Of_Seq_MPPE_Pkts: 0"
)
REFERENCE_UAUTH = (
    "Current Most Seen Authenticated Users 1 2 Authen In Progress 0 2 vpdn user 'vpnclient' at "
    "50.1.1.1, authenticated"
)

PPP1 = PppInterfaceStatus(
    interface_id=1,
    authentication="CHAP",
    client_address=A("50.1.1.1"),
    transmitted_packets=15,
    received_packets=56,
    error_packets=0,
)
UAUTH = UauthStatus(1, 2, 0, 2, (UauthEntry("vpnclient", A("50.1.1.1")),))


def words(text):
    return " ".join(text.split())


def test_pppinterface_matches_reference():
    assert words(cli_ppp.render_pppinterface([PPP1])) == REFERENCE_PPPINTERFACE


def test_pppinterface_layout():
    assert cli_ppp.render_pppinterface([PPP1]).splitlines()[:4] == [
        "PPP virtual interface id = 1",
        "PPP authentication protocol is CHAP",
        "Client ip address is 50.1.1.1",
        "Transmitted Pkts: 15, Received Pkts: 56, Error Pkts: 0",
    ]


def test_uauth_matches_reference():
    assert words(cli_ppp.render_uauth(UAUTH)) == REFERENCE_UAUTH


def test_uauth_timeouts_when_given():
    status = UauthStatus(1, 1, 0, 0, (UauthEntry("u", A("198.51.100.2"), absolute_remaining=299,
                                                 inactivity_remaining=0),))
    out = cli_ppp.render_uauth(status).splitlines()
    assert out[-2:] == ["   absolute   timeout: 0:04:59", "   inactivity timeout: 0:00:00"]


def test_ip_local_pool():
    pools = AddressPools([IpLocalPool("l2tp", A("50.1.1.1"), A("50.1.1.5"))])
    pools.lease("l2tp")
    text = cli_ppp.render_ip_local_pool(pools.status())
    assert text.splitlines() == [
        "Pool                Begin           End              Free  In use",
        "l2tp                50.1.1.1        50.1.1.5            4       1",
    ]
    detail = cli_ppp.render_ip_local_pool(pools.status(with_addresses=True), detail=True)
    assert "Available Addresses:\n50.1.1.2\n50.1.1.3" in detail
    assert detail.endswith("In Use Addresses:\n50.1.1.1")


@dataclass
class FakeGateway:
    pools: AddressPools

    def ppp_interfaces(self):
        return [PPP1]

    def uauth_status(self):
        return UAUTH

    def pool_status(self, *, with_addresses=False):
        return self.pools.status(with_addresses=with_addresses)


def run(table, line, gateway):
    spec, args = table.resolve(line)
    return spec.handler(CommandContext(gateway), args)


def test_commands_registered_with_abbreviations():
    table = CommandTable()
    cli_ppp.register(table)
    gateway = FakeGateway(AddressPools([IpLocalPool("l2tp", A("50.1.1.1"), A("50.1.1.5"))]))
    assert run(table, "sh vpdn pppinterface id 1", gateway).startswith("PPP virtual interface id")
    assert "does not exist" in run(table, "show vpdn pppinterface id 9", gateway)
    assert "vpdn user 'vpnclient'" in run(table, "sh uauth", gateway)
    assert run(table, "show ip local pool", gateway).startswith("Pool")
    assert "Available Addresses:" in run(table, "show ip local pool l2tp", gateway)
    with pytest.raises(CliError):
        run(table, "show ip local pool nosuch", gateway)
    with pytest.raises(CliError):
        run(table, "show vpdn pppinterface x", gateway)


def test_debug_wording():
    assert io_line(1, "O", 0xC021, code=1, identifier=3, length=18) == (
        "PPP virtual interface 1: O LCP CONFREQ id 3 len 18"
    )
    assert io_line(2, "I", 0xC223, code=2, identifier=7, length=58) == (
        "PPP virtual interface 2: I CHAP RESPONSE id 7 len 58"
    )
    unknown = io_line(1, "I", 0x1234, code=1, identifier=0, length=4)
    assert unknown.endswith("0x1234 CONFREQ id 0 len 4")
    assert error_line(1, "x") == uauth_line(1, "x") == "PPP virtual interface 1: x"
