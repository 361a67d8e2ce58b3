"""``show aaa-server``, ``show uauth`` details and ``debug radius`` wording: exact text, and no
secret (shared key, password, MPPE key, MS-CHAP response) ever shown."""

from __future__ import annotations

from ipaddress import IPv4Address

from twisted.internet.task import Clock

from pixgw.aaa.chain import build_authenticator
from pixgw.aaa.interfaces import Authorization
from pixgw.aaa.snapshot import aaa_status
from pixgw.cli.aaa import radius_debug_text, render_aaa_server, render_uauth_details
from pixgw.config.parser import parse

CONFIG = """nameif ethernet1 inside security100
aaa-server RAD protocol radius
aaa-server RAD (inside) host 192.0.2.10 s3cr3t-key timeout 4
aaa-server radius-authport 1812
username bob password cisco
vpdn username carol password carolpw
"""


def test_show_aaa_server_block() -> None:
    config = parse(CONFIG).config
    radius = build_authenticator(config, "RAD", reactor=Clock())
    leaf = radius.checker.members[0]
    counters = leaf.client.counter(leaf.server)
    counters.requests, counters.accepts, counters.rejects = 5, 3, 2
    counters.last_round_trip = 0.012
    text = render_aaa_server(aaa_status(config, [radius]))
    assert text.split("\n")[:7] == [
        "Server Group:    RAD",
        "Server Protocol: radius",
        "Server Address:  192.0.2.10",
        "Server port:     1812",
        "Accounting port: 1646",
        "Server status:   ACTIVE",
        "Timeout:         4 seconds",
    ]
    assert "Average round trip time                 12ms" in text
    assert "Number of authentication requests       5" in text
    assert "Number of accepts                       3" in text
    assert "Number of rejects                       2" in text
    assert "Number of local users                   2" in text
    assert "s3cr3t" not in text
    only = render_aaa_server(aaa_status(config, [radius]), "RAD")
    assert "LOCAL" not in only


def test_uauth_details_without_keys() -> None:
    a = Authorization(
        "alice",
        address=IPv4Address("192.0.2.77"),
        session_timeout=3600,
        mppe_send_key=b"\x01" * 16,
        mppe_recv_key=b"\x02" * 16,
        class_attribute=(b"c",),
        server="RADIUS 192.0.2.10",
    )
    text = render_uauth_details(aaa_status(parse(CONFIG).config, [], None, [a]).details)
    assert text == (
        "user 'alice' authorized by RADIUS 192.0.2.10\n"
        "   assigned address: 192.0.2.77\n"
        "   session timeout: 3600 seconds\n"
        "   MPPE keys: yes\n"
        "   Class attributes: 1"
    )
    assert "0101" not in text


def test_debug_radius_hides_secrets() -> None:
    text = radius_debug_text(
        "send",
        "Access-Request",
        7,
        peer="192.0.2.10",
        port=1812,
        attributes=[
            ("User-Name", "alice"),
            ("User-Password", b"hidden-bytes"),
            ("MS-CHAP2-Response", b"\x01" * 50),
            ("NAS-Port", 3),
            ("Class", b"ab"),
        ],
    )
    assert text == (
        "RADIUS: send Access-Request id 7 to 192.0.2.10:1812\n"
        "        User-Name = alice\n"
        "        User-Password = <hidden>\n"
        "        MS-CHAP2-Response = <hidden>\n"
        "        NAS-Port = 3\n"
        "        Class = 0x6162"
    )
