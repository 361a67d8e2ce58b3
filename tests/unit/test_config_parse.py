"""The PIX 6.3 parser: the reference running-config, the sample, a config using every command."""

from __future__ import annotations

from ipaddress import IPv4Address as A
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from pixgw.config.model import (
    AaaServerGroup,
    AaaServerHost,
    AccessListEntry,
    AddressMatch,
    CaConfigure,
    CaIdentity,
    CryptoMapEntry,
    Interface,
    IpLocalPool,
    IsakmpKey,
    IsakmpPolicy,
    LoggingHost,
    ManagementAccess,
    PortMatch,
    Route,
    SaLifetime,
    TransformSet,
    UauthTimeout,
    Username,
    VpdnGroup,
    VpdnUsername,
)
from pixgw.config.parser import (
    ConfigError,
    ConfigProblem,
    ConfigWarning,
    parse,
    parse_file,
)

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "etc" / "reference.conf"
SAMPLE = REPO / "etc" / "pixgw.conf"
EVERY = REPO / "tests" / "vectors" / "config" / "every-command.conf"
ANY = AddressMatch(A("0.0.0.0"), A("0.0.0.0"))

# Every line of the reference config that the gateway does not act on, with its line number.
SEED_IGNORED = [
    (8, "fixup protocol ftp 21"),
    (9, "fixup protocol http 80"),
    (10, "fixup protocol h323 1720"),
    (11, "fixup protocol rsh 514"),
    (12, "fixup protocol smtp 25"),
    (13, "fixup protocol sqlnet 1521"),
    (14, "fixup protocol sip 5060"),
    (15, "fixup protocol skinny 2000"),
    (32, "ip audit info action alarm"),
    (33, "ip audit attack action alarm"),
    (36, "pdm history enable"),
    (37, "arp timeout 14400"),
    (42, "timeout xlate 3:00:00"),
    (
        43,
        "timeout conn 1:00:00 half-closed 0:10:00 udp 0:02:00 rpc 0:10:00 h323 0:05:00 "
        "sip 0:30:00 sip_media 0:02:00",
    ),
    (49, "no snmp-server location"),
    (50, "no snmp-server contact"),
    (51, "snmp-server community public"),
    (52, "no snmp-server enable traps"),
    (53, "floodguard enable"),
    (57, "no sysopt route dnat"),
]


def test_reference_is_the_seed_unchanged() -> None:
    seed = Path("/work/shared/reference/pix63-seed-running-config.txt")
    if not seed.exists():
        pytest.skip("shared reference not on this machine")
    assert SEED.read_bytes() == seed.read_bytes()


def test_seed_ignored_lines_exactly() -> None:
    result = parse_file(str(SEED))
    expected = [
        ConfigWarning(n, line.replace("public", "********"), "not supported, ignored")
        for n, line in SEED_IGNORED
    ]
    checksum = "Cryptochecksum:06a53009d1e9f04740256d9f0fb82837"
    expected.append(ConfigWarning(93, checksum, "not supported, ignored"))
    assert list(result.warnings) == expected
    assert result.config.unsupported == tuple(line for _, line in SEED_IGNORED)
    first = "WARNING line 8: fixup protocol ftp 21: not supported, ignored"
    assert str(result.warnings[0]) == first


def test_seed_model() -> None:
    c = parse(SEED.read_text()).config
    assert c.version == "6.3(3)"
    assert c.hostname == "PIX-506-2"
    assert c.domain_name == "sjvpn.com"
    assert (c.enable_password, c.enable_password_encrypted) == ("8Ry2YjIyt7RRXU24", True)
    assert (c.passwd, c.passwd_encrypted) == ("2KFQnbNIdI.2KYOU", True)
    assert c.names is True
    assert c.pager is None
    assert c.interfaces == (
        Interface("ethernet0", "outside", 0, "10baset", False, 1500, A("171.68.9.57"),
                  A("255.255.255.0")),
        Interface("ethernet1", "inside", 100, "10baset", False, 1500, A("20.1.1.1"),
                  A("255.255.255.0")),
    )  # fmt: skip
    nonat = c.access_list("nonat")
    assert nonat is not None and nonat.entries == (
        AccessListEntry(
            "permit",
            None,
            AddressMatch(A("20.1.1.0"), A("255.255.255.0")),
            AddressMatch(A("50.1.1.0"), A("255.255.255.0")),
        ),
    )
    l2tp = c.access_list("l2tp")
    assert l2tp is not None and l2tp.entries == (
        AccessListEntry(
            "permit",
            17,
            AddressMatch(A("171.68.9.57"), A("255.255.255.255")),
            ANY,
            None,
            PortMatch("eq", 1701),
        ),
    )
    assert c.logging.on and c.logging.console == "debugging" and c.logging.buffered == "debugging"
    assert c.logging.trap is None and c.logging.hosts == ()
    assert c.pools == (IpLocalPool("l2tp", A("50.1.1.1"), A("50.1.1.5")),)
    assert c.pool("l2tp") is not None and c.pools[0].size == 5
    assert c.nat_zero_acl == (("inside", "nonat"),)
    assert c.routes == (Route("outside", A("0.0.0.0"), A("0.0.0.0"), A("171.68.9.1"), 1),)
    assert c.uauth_timeout == UauthTimeout(300, "absolute")
    assert c.aaa_servers == (
        AaaServerGroup("TACACS+", "tacacs+"),
        AaaServerGroup("RADIUS", "radius", (AaaServerHost("inside", A("20.1.1.2"), "cisco", 5),)),
    )
    assert c.sysopt_permit_l2tp is True
    assert c.crypto.transform_sets == (
        TransformSet("l2tp", "esp-des", "esp-md5-hmac", "transport"),
    )
    assert c.crypto.sa_lifetime == SaLifetime(3600, 4608000)
    dyna = c.crypto.dynamic_map("dyna")
    assert dyna is not None
    assert dyna.entries == (CryptoMapEntry(20, match_address="l2tp", transform_sets=("l2tp",)),)
    (mymap,) = c.crypto.maps
    assert mymap.name == "mymap"
    assert mymap.entries == (CryptoMapEntry(10, dynamic_map="dyna", ipsec_isakmp=True),)
    assert mymap.client_authentication == "RADIUS"
    assert mymap.interfaces == ("outside",)
    assert c.isakmp.enabled_interfaces == ("outside",)
    assert c.isakmp.policies == (IsakmpPolicy(20, "rsa-sig", "des", "md5", 1, 86400),)
    assert c.isakmp.keys == () and c.isakmp.nat_traversal is None
    assert c.ca.identities == (CaIdentity("sjvpn", "171.68.9.149", "/certsrv/mscep/mscep.dll"),)
    assert c.ca.identities[0].url == "http://171.68.9.149/certsrv/mscep/mscep.dll"
    assert c.ca.configures == (CaConfigure("sjvpn", "ra", 1, 20, True),)
    assert c.telnet == (
        ManagementAccess(A("171.68.9.0"), A("255.255.255.0"), "inside"),
        ManagementAccess(A("20.1.1.2"), A("255.255.255.255"), "inside"),
    )
    assert c.telnet_timeout == 60 and c.ssh == () and c.ssh_timeout == 5
    assert c.vpdn.groups == (
        VpdnGroup(
            "l2tpipsec",
            accept_dialin=("l2tp",),
            ppp_authentication=("chap", "mschap"),
            address_pool="l2tp",
            dns=(A("20.1.1.250"), A("20.1.1.251")),
            wins=(A("20.1.1.250"),),
            authentication_aaa="RADIUS",
            accounting="RADIUS",
            l2tp_tunnel_hello=60,
        ),
    )
    assert c.vpdn.enabled_interfaces == ("outside",) and c.vpdn.usernames == ()
    assert c.terminal_width == 80


def test_sample_serves_l2tp_ipsec_with_psk_and_local_users() -> None:
    result = parse_file(str(SAMPLE))
    assert result.warnings == ()
    c = result.config
    outside = c.interface("outside")
    assert outside is not None and outside.dhcp and outside.dhcp_setroute
    key = c.isakmp.key_for(A("203.0.113.9"))
    assert key is not None and key.no_xauth and key.no_config_mode
    assert c.isakmp.nat_traversal == 20
    offered = {(p.encryption, p.hash, p.group) for p in c.isakmp.policies}
    assert {("aes-256", "sha", 14), ("3des", "sha", 2), ("aes-256", "sha256", 14)} <= offered
    assert {("aes", "sha", 2), ("aes-256", "sha", 20), ("3des", "sha", 14)} <= offered
    assert all(p.authentication == "pre-share" for p in c.isakmp.policies)
    assert {t.transforms for t in c.crypto.transform_sets} == {
        ("esp-aes-256", "esp-sha-hmac"),
        ("esp-3des", "esp-sha-hmac"),
        ("esp-aes", "esp-sha-hmac"),
    }
    assert all(t.mode == "transport" for t in c.crypto.transform_sets)
    (pool,) = c.pools
    documentation = IPv4Network("198.51.100.0/24")
    assert pool.first in documentation and pool.last in documentation and pool.size > 100
    group = c.vpdn.groups[0]
    assert group.ppp_authentication == ("mschapv2", "chap")
    assert group.authentication == "local" and group.l2tp_tunnel_hello == 60
    assert all(str(a).startswith("192.0.2.") for a in group.dns + group.wins)
    assert [u.name for u in c.vpdn.usernames] == ["alice", "bob"]
    assert c.logging.on and c.logging.buffered == "informational"


def test_every_command() -> None:
    result = parse_file(str(EVERY))
    c = result.config
    assert [w.line for w in result.warnings] == [
        "fixup protocol ftp 21",
        "object-group network admins",
        "network-object host 192.0.2.5",
        "network-object 192.0.2.64 255.255.255.192",
        "ip audit info action alarm",
        "pdm history enable",
        "arp timeout 14400",
        "nat (inside) 1 0.0.0.0 0.0.0.0 0 0",
        "timeout xlate 3:00:00",
        "floodguard enable",
        "no sysopt route dnat",
        "Cryptochecksum:00000000000000000000000000000000",
    ]
    assert c.version == "6.3(5)"
    assert c.address_names == ((A("192.0.2.10"), "radius-server"),)
    assert c.unsupported[1] == (
        "object-group network admins\n"
        "  network-object host 192.0.2.5\n"
        "  network-object 192.0.2.64 255.255.255.192"
    )
    nonat = c.access_list("nonat")
    assert nonat is not None
    assert nonat.entries[1].source == AddressMatch(A("192.0.2.10"), A("255.255.255.255"))
    assert (c.enable_password, c.enable_password_encrypted) == ("S3cret", False)
    assert c.pager == 30
    dmz = c.interface("dmz")
    assert dmz == Interface(
        "ethernet2", "dmz", 50, "10baset", True, 1400, A("203.0.113.129"), A("255.255.255.128")
    )
    inside = c.interface("inside")
    assert inside is not None and inside.mtu == 9000 and inside.speed == "100full"
    peers = c.access_list("peers")
    assert peers is not None
    assert peers.entries[0].protocol == 50
    assert peers.entries[1].protocol == 47
    assert peers.entries[2].source_port == PortMatch("eq", 500)
    assert peers.entries[2].destination_port == PortMatch("neq", 53)
    l2tp = c.access_list("l2tp")
    assert l2tp is not None
    assert l2tp.entries[1].action == "deny"
    assert l2tp.entries[1].source_port == PortMatch("range", 1000, 2000)
    assert l2tp.entries[1].destination_port == PortMatch("gt", 1023)
    log = c.logging
    assert (log.console, log.monitor, log.buffered, log.trap) == (
        "errors",
        "warnings",
        "informational",
        "notifications",
    )
    assert log.timestamp and log.facility == 21 and log.buffer_size == 1024
    assert log.hosts == (
        LoggingHost("inside", A("192.0.2.20")),
        LoggingHost("dmz", A("192.0.2.21"), "tcp", 1470),
    )
    assert c.pools[1] == IpLocalPool(
        "small", A("198.51.100.200"), A("198.51.100.203"), A("255.255.255.252")
    )
    assert c.routes[1] == Route("inside", A("10.0.0.0"), A("255.0.0.0"), A("192.0.2.254"), 2)
    assert c.uauth_timeout == UauthTimeout(5400, "inactivity")
    radius = c.aaa_server("RADIUS")
    assert radius is not None
    assert (radius.max_failed_attempts, radius.deadtime) == (4, 20)
    assert radius.hosts == (
        AaaServerHost("inside", A("192.0.2.10"), "s3cret", 10),
        AaaServerHost("inside", A("192.0.2.11"), "0th3r", 5),
        AaaServerHost("dmz", A("203.0.113.130"), None, 3),
    )
    ldap = c.aaa_server("LDAP")
    assert ldap is not None
    assert ldap.options == (
        ("ldap-base-dn", "ou=Remote Users,dc=example,dc=net"),
        ("ldap-scope", "subtree"),
    )
    assert (c.aaa_ports.radius_authport, c.aaa_ports.radius_acctport) == (1812, 1813)
    sets = {t.name: t for t in c.crypto.transform_sets}
    assert sets["t4"] == TransformSet("t4", "esp-aes-192", "esp-sha256-hmac", "tunnel")
    assert sets["t6"].transforms == ("esp-null", "esp-md5-hmac")
    assert sets["t7"].transforms == ("esp-aes-256",)
    assert sets["t5"].mode == "transport"
    assert c.crypto.sa_lifetime == SaLifetime(7200, 100000)
    dyn = c.crypto.dynamic_map("dyn")
    assert dyn is not None
    assert dyn.entries == (
        CryptoMapEntry(10, "l2tp", ("t5", "t3", "t2"), 2, lifetime=SaLifetime(3600, 50000)),
        CryptoMapEntry(20, transform_sets=("t1",), pfs=14),
    )
    (vpn,) = c.crypto.maps
    assert vpn.entries == (
        CryptoMapEntry(
            5,
            "peers",
            ("t4",),
            peers=(A("203.0.113.7"), A("203.0.113.8")),
            lifetime=SaLifetime(28800, 4608000),
            ipsec_isakmp=True,
        ),
        CryptoMapEntry(10, dynamic_map="dyn", ipsec_isakmp=True),
    )
    isakmp = c.isakmp
    assert isakmp.enabled_interfaces == ("outside", "dmz")
    assert isakmp.identity == "hostname"
    assert isakmp.keepalive == (30, 5) and isakmp.nat_traversal == 25
    assert isakmp.keys[1] == IsakmpKey("psk-peer", A("203.0.113.7"))
    key = isakmp.key_for(A("203.0.113.7"))
    assert key is not None and key.key == "psk-peer"
    key = isakmp.key_for(A("203.0.113.9"))
    assert key is not None and key.key == "psk-net" and key.no_xauth and not key.no_config_mode
    key = isakmp.key_for(A("192.0.2.99"))
    assert key is not None and key.key == "psk-all"
    assert [p.priority for p in isakmp.policies] == [5, 10, 15, 20, 30, 40, 50, 60]
    assert isakmp.policies[0] == IsakmpPolicy(5, "pre-share", "aes-256", "sha384", 20, 28800)
    assert {p.group for p in isakmp.policies} == {1, 2, 5, 14, 15, 16, 19, 20}
    assert {p.encryption for p in isakmp.policies} == {"des", "3des", "aes", "aes-192", "aes-256"}
    assert {p.hash for p in isakmp.policies} == {"md5", "sha", "sha256", "sha384"}
    assert c.ca.rsa_key_modulus == 2048
    assert c.ca.identities == (
        CaIdentity("myca", "192.0.2.40"),
        CaIdentity("msca", "192.0.2.41", "/certsrv/mscep/mscep.dll", "192.0.2.42"),
    )
    assert c.ca.configure_for("myca") == CaConfigure("myca", "ca", 5, 10, False)
    assert c.ca.store == "/var/lib/pixgw/ca"
    assert c.telnet_timeout == 15 and c.ssh_timeout == 30 and len(c.ssh) == 2
    g1 = c.vpdn.group("g1")
    assert g1 is not None
    assert g1.ppp_authentication == ("pap", "chap", "mschap", "mschapv2")
    assert g1.ppp_encryption_mppe == "128 required"
    assert g1.wins == (A("192.0.2.137"), A("192.0.2.138"))
    assert (g1.authentication, g1.authentication_aaa, g1.accounting) == (None, "RADIUS", "RADIUS")
    assert g1.l2tp_tunnel_hello == 120
    g2 = c.vpdn.group("g2")
    assert g2 is not None and g2.authentication == "local" and g2.address_pool == "small"
    assert c.vpdn.usernames == (
        VpdnUsername("alice", "alice-pw"),
        VpdnUsername("bob", "bob-pw", True),
    )
    assert c.vpdn.enabled_interfaces == ("outside", "dmz")
    assert c.usernames == (
        Username("admin", "3USUcOPFUiMCO4Jk", True, False, 15),
        Username("ops", "plain-pw"),
        Username("nt", "0123456789abcdef0123456789abcdef", False, True, 3),
    )
    assert c.terminal_width == 132


def test_keywords_case_insensitive_names_not() -> None:
    text = (
        "NAMEIF ethernet0 outside SECURITY0\n"
        "Ip Local Pool P 198.51.100.1-198.51.100.9\n"
        "ISAKMP POLICY 10 ENCRYPTION AES-256\n"
        "isakmp policy 10 Hash SHA\n"
        "logging console Debugging\n"
        "VPDN GROUP G CLIENT CONFIGURATION ADDRESS LOCAL P\n"
    )
    c = parse(text).config
    assert c.isakmp.policies[0].encryption == "aes-256" and c.isakmp.policies[0].hash == "sha"
    assert c.logging.console == "debugging"
    assert c.vpdn.groups[0].address_pool == "P"
    with pytest.raises(ConfigError) as caught:
        parse(text + "vpdn group G client configuration address local p\n")
    assert caught.value.problems == (
        ConfigProblem(7, "vpdn group G client configuration address local p", "no such pool p"),
    )


def test_later_lines_replace_earlier_ones() -> None:
    c = parse(
        "hostname a\nhostname b\n"
        "isakmp policy 1 group 2\nisakmp policy 1 group 5\n"
        "crypto ipsec transform-set t esp-des\n"
        "crypto ipsec transform-set t mode transport\n"
        "crypto ipsec transform-set t esp-aes esp-sha-hmac\n"
    ).config
    assert c.hostname == "b"
    assert c.isakmp.policies == (IsakmpPolicy(1, group=5),)
    assert c.crypto.transform_sets == (TransformSet("t", "esp-aes", "esp-sha-hmac", "transport"),)


def test_no_forms() -> None:
    c = parse(
        "pager lines 10\nno pager\n"
        "names\nno names\n"
        "sysopt connection permit-l2tp\nno sysopt connection permit-l2tp\n"
        "isakmp nat-traversal\nno isakmp nat-traversal\n"
        "logging on\nno logging on\n"
        "isakmp policy 3 hash md5\nno isakmp policy 3 hash md5\n"
        "vpdn group g ppp authentication pap\nvpdn group g ppp authentication chap\n"
        "no vpdn group g ppp authentication pap\n"
        "crypto ipsec security-association lifetime seconds 3600\n"
        "crypto ipsec security-association lifetime kilobytes 9000\n"
        "no crypto ipsec security-association lifetime seconds 3600\n"
        "hostname x\nno hostname x\n"
    ).config
    assert c.pager is None and not c.names and not c.sysopt_permit_l2tp
    assert c.isakmp.nat_traversal is None and not c.logging.on
    assert c.isakmp.policies == (IsakmpPolicy(3),)
    assert c.vpdn.groups[0].ppp_authentication == ("chap",)
    assert c.crypto.sa_lifetime == SaLifetime(28800, 9000)
    assert c.hostname == "pixfirewall"


def test_defaults_and_comments() -> None:
    c = parse("! a comment\n!--- another\n: Saved\n\n   \n: end\n").config
    assert c.version == "6.3(3)" and c.hostname == "pixfirewall" and c.pager == 24
    assert c.unsupported == ()
    assert parse("isakmp nat-traversal\n").config.isakmp.nat_traversal == 20
    dynamic = parse("crypto dynamic-map d 1 set pfs\n").config.crypto.dynamic_maps[0]
    assert dynamic.entries[0].pfs == 1
    # the PIX's default interface for ``logging host`` is inside
    c = parse("nameif ethernet1 inside security100\nlogging host 192.0.2.9\n").config
    assert c.logging.hosts == (LoggingHost("inside", A("192.0.2.9")),)
    with pytest.raises(ConfigError) as caught:
        parse("nameif ethernet0 outside security0\nlogging host 192.0.2.9\n")
    assert caught.value.problems == (
        ConfigProblem(2, "logging host 192.0.2.9", "no such interface inside"),
    )


def test_unsupported_lines_are_kept_in_section_order() -> None:
    result = parse("floodguard enable\nfixup protocol ftp 21\nno sysopt route dnat\n")
    assert result.config.unsupported == (
        "fixup protocol ftp 21",
        "floodguard enable",
        "no sysopt route dnat",
    )
    assert [w.line_number for w in result.warnings] == [1, 2, 3]


def test_parse_file_unreadable(tmp_path: Path) -> None:
    missing = tmp_path / "missing.conf"
    with pytest.raises(ConfigError) as caught:
        parse_file(str(missing))
    assert str(caught.value) == f"ERROR {missing}: cannot read: No such file or directory"
    with pytest.raises(ConfigError) as caught:
        parse_file(str(tmp_path))
    assert "cannot read" in str(caught.value)


def test_parse_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.conf"
    path.write_bytes(b"hostname a\nhostname caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        parse_file(str(path))
    assert caught.value.problems == (
        ConfigProblem(2, "hostname caf\ufffd", "not UTF-8 (byte 0xe9 at column 13)"),
    )


def test_parse_result_is_frozen() -> None:
    result = parse(SEED.read_text())
    with pytest.raises(AttributeError):
        result.config.hostname = "x"  # type: ignore[misc]


def test_crlf_and_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "windows.conf"
    path.write_bytes(b"\xef\xbb\xbfhostname bom\r\nnames\r\n")
    c = parse_file(str(path)).config
    assert c.hostname == "bom" and c.names


def test_nat_forms() -> None:
    text = "nameif ethernet1 inside security100\naccess-list n permit ip any any\n"
    c = parse(text + "nat (inside) 0 access-list n\nnat (inside) 1 0 0\n").config
    assert c.nat_zero_acl == (("inside", "n"),)
    assert c.unsupported == ("nat (inside) 1 0 0",)
    with pytest.raises(ConfigError) as caught:
        parse(text + "nat (inside) 0\n")
    assert caught.value.problems == (ConfigProblem(3, "nat (inside) 0", "expected 'access-list'"),)


def test_isakmp_limits_parse_render_and_refuse_out_of_range() -> None:
    from pixgw.config.model import DEFAULT_LIMIT_SA, PixConfig
    from pixgw.config.render import render

    c = parse(
        "isakmp limit half-open 200\nisakmp limit half-open-per-peer 3\nisakmp limit sa 50\n"
    ).config
    assert (c.isakmp.limit_half_open, c.isakmp.limit_half_open_per_peer, c.isakmp.limit_sa) == (
        200, 3, 50)
    text = render(c)
    for line in ("isakmp limit half-open 200", "isakmp limit half-open-per-peer 3",
                 "isakmp limit sa 50"):
        assert line in text.splitlines()
    assert parse(text).config == c
    assert "isakmp limit" not in render(PixConfig())  # defaults are not written
    assert parse("isakmp limit sa 50\nno isakmp limit sa\n").config.isakmp.limit_sa == (
        DEFAULT_LIMIT_SA)
    for bad in ("isakmp limit half-open 0\n", "isakmp limit sa 100001\n",
                "isakmp limit embryonic 5\n", "isakmp limit half-open\n"):
        with pytest.raises(ConfigError):
            parse(bad)
