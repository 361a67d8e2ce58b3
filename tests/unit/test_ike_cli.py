"""``show crypto ...`` renderers against the reference output (whitespace-insensitive where the
reference text lost its layout), and the policy/map renderers on the seed configuration."""

from __future__ import annotations

from ipaddress import IPv4Address

from pixgw.cli.commands import CommandContext, CommandTable
from pixgw.cli.crypto import (
    isakmp_policy_status,
    register,
    render_crypto_map,
    render_ipsec_sa,
    render_isakmp_policy,
    render_isakmp_sa,
)
from pixgw.config.parser import parse
from pixgw.status import IpsecSaStatus, IsakmpSaStatus, SaCounters
from tests.conftest import REFERENCE

A = IPv4Address
HOST = A("255.255.255.255")


def _reference_line(prefix: str) -> str:
    text = (REFERENCE / "pix63-l2tp-ipsec-reference.txt").read_text()
    return next(line for line in text.splitlines() if line.startswith(prefix))


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_show_crypto_isakmp_sa_matches_reference() -> None:
    out = render_isakmp_sa([IsakmpSaStatus(A("171.68.9.57"), A("171.68.9.149"), "QM_IDLE", 0, 1)])
    assert _squash(out) == _squash(_reference_line("dst src state pending created"))
    assert out.splitlines()[1].split() == ["171.68.9.57", "171.68.9.149", "QM_IDLE", "0", "1"]


REFERENCE_SA = IpsecSaStatus(
    interface="outside", crypto_map="mymap", crypto_map_sequence=10,
    local_address=A("171.68.9.57"), remote_address=A("171.68.9.149"), remote_port=500,
    local_ident=(A("171.68.9.57"), HOST, 17, 1701),
    remote_ident=(A("171.68.9.149"), HOST, 17, 1701),
    transform="esp-des esp-md5-hmac ", mode="Transport", inbound_spi=0xFBC9DB43,
    outbound_spi=0xA8C54EC8, inbound_conn_id=1, outbound_conn_id=2, iv_size=8, ipsec_overhead=36,
    counters=SaCounters(
        encaps=20, encrypt=20, digest=20, decaps=45, decrypt=45, verify=45,
        inbound_kilobytes_left=99994, inbound_seconds_left=807, outbound_kilobytes_left=99999,
        outbound_seconds_left=807,
    ),
)


def test_show_crypto_ipsec_sa_matches_reference_block() -> None:
    out = render_ipsec_sa([REFERENCE_SA])
    assert _squash(out) == _squash(_reference_line("interface: outside Crypto map tag"))
    assert "     current outbound spi: a8c54ec8" in out.splitlines()


def test_udp_encapsulated_settings() -> None:
    sa = IpsecSaStatus(**{**REFERENCE_SA.__dict__, "mode": "Transport, UDP-Encaps"})
    assert "in use settings ={Transport, UDP-Encaps, }" in render_ipsec_sa([sa])


SEED = REFERENCE / "pix63-seed-running-config.txt"


def test_isakmp_policy_of_the_seed() -> None:
    config = parse(SEED.read_text()).config
    out = render_isakmp_policy(isakmp_policy_status(config))
    assert out.splitlines()[:6] == [
        "Protection suite of priority 20",
        "        encryption algorithm:   DES - Data Encryption Standard (56 bit keys).",
        "        hash algorithm:         Message Digest 5",
        "        authentication method:  Rivest-Shamir-Adleman Signature",
        "        Diffie-Hellman group:   #1 (768 bit)",
        "        lifetime:               86400 seconds, no volume limit",
    ]
    assert "Default protection suite" in out


def test_crypto_map_of_the_seed() -> None:
    config = parse(SEED.read_text()).config
    out = render_crypto_map(config)
    assert 'Crypto Map: "mymap" interfaces: { outside }' in out
    assert "        client authentication RADIUS" in out
    assert 'Crypto Map "mymap" 10 ipsec-isakmp' in out
    assert "        Dynamic map template tag: dyna" in out
    assert 'Crypto Map Template "dyna" 20 ipsec-isakmp' in out
    assert "        access-list l2tp permit udp host 171.68.9.57 any eq 1701 (hitcnt=0)" in out
    assert "        Security association lifetime: 4608000 kilobytes/3600 seconds" in out
    assert "        Transform sets={ l2tp, }" in out


class FakeGateway:
    def __init__(self) -> None:
        self.cleared: list[str] = []

    def isakmp_sa_status(self) -> list[IsakmpSaStatus]:
        return [IsakmpSaStatus(A("192.0.2.1"), A("198.51.100.7"), "QM_IDLE", 0, 1)]

    def ipsec_sa_status(self) -> list[IpsecSaStatus]:
        return [REFERENCE_SA]

    def running_config(self) -> object:
        return parse(SEED.read_text()).config

    def clear_isakmp_sa(self) -> None:
        self.cleared.append("isakmp")

    def clear_ipsec_sa(self) -> None:
        self.cleared.append("ipsec")


def test_commands_registered_and_abbreviated() -> None:
    table = CommandTable()
    register(table)
    gw = FakeGateway()
    ctx = CommandContext(gw)
    spec, args = table.resolve("sh cry isa sa")
    assert "QM_IDLE" in str(spec.handler(ctx, args))
    spec, args = table.resolve("show crypto ipsec sa")
    assert "a8c54ec8" in str(spec.handler(ctx, args))
    spec, args = table.resolve("clear crypto isakmp sa")
    spec.handler(ctx, args)
    assert gw.cleared == ["isakmp"]
