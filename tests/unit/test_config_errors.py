"""Mutated PIX configs: each gives its exact line-numbered error; every problem is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixgw.config.parser import ConfigError, ConfigProblem, parse, redact_secrets

SEED = (Path(__file__).resolve().parents[2] / "etc" / "reference.conf").read_text()
SEED_LINES = SEED.splitlines()

# (line as in the seed, the mutated line, the reason the parser must give)
MUTATIONS = [
    (
        "crypto map mymap 10 ipsec-isakmp dynamic dyna",
        "crypto map mymap 10 ipsec-isakmp dynamic dyna2",
        "no such dynamic-map",
    ),
    (
        "vpdn group l2tpipsec client configuration address local l2tp",
        "vpdn group l2tpipsec client configuration address local l2tpx",
        "no such pool l2tpx",
    ),
    (
        "ip address inside 20.1.1.1 255.255.255.0",
        "ip address inside 20.1.1.1 255.0.255.0",
        "bad netmask 255.0.255.0",
    ),
    ("isakmp policy 20 group 1", "isakmp policy 20 group 3", "bad group 3 (1|2|5|14|15|16|19|20)"),
    ("isakmp policy 20 hash md5", "isakmp policy 0 hash md5", "priority 0 out of range 1-65534"),
    (
        "isakmp policy 20 lifetime 86400",
        "isakmp policy 20 lifetime 30",
        "lifetime 30 out of range 60-86400",
    ),
    (
        "isakmp policy 20 encryption des",
        "isakmp policy 20 encryption des3",
        "expected 'des' or '3des' or 'aes' or 'aes-192' or 'aes-256', not 'des3'",
    ),
    (
        "crypto dynamic-map dyna 20 set transform-set l2tp",
        "crypto dynamic-map dyna 20 set transform-set l2tpx",
        "no such transform-set l2tpx",
    ),
    (
        "crypto map mymap client authentication RADIUS",
        "crypto map mymap client authentication RADIUSX",
        "no such aaa-server group RADIUSX",
    ),
    (
        "vpdn group l2tpipsec client authentication aaa RADIUS",
        "vpdn group l2tpipsec client authentication aaa radius",
        "no such aaa-server group radius",
    ),
    (
        "crypto dynamic-map dyna 20 match address l2tp",
        "crypto dynamic-map dyna 20 match address l2tpx",
        "no such access-list l2tpx",
    ),
    ("isakmp enable outside", "isakmp enable outsid", "no such interface outsid"),
    ("vpdn enable outside", "vpdn enable Outside", "no such interface Outside"),
    ("crypto map mymap interface outside", "crypto map mymap interface", "expected interface name"),
    (
        "aaa-server RADIUS (inside) host 20.1.1.2 cisco timeout 5",
        "aaa-server RADIUS (insid) host 20.1.1.2 cisco timeout 5",
        "no such interface insid",
    ),
    (
        "aaa-server RADIUS (inside) host 20.1.1.2 cisco timeout 5",
        "aaa-server RADIUS (inside) host 20.1.1.2 cisco timeout 0",
        "timeout 0 out of range 1-30",
    ),
    (
        "aaa-server TACACS+ protocol tacacs+",
        "aaa-server TACACS+ protocl tacacs+",
        "unknown aaa-server option 'protocl'",
    ),
    (
        "vpdn group l2tpipsec l2tp tunnel hello 60",
        "vpdn group l2tpipsec l2tp tunnel hello 5",
        "hello interval 5 out of range 10-300",
    ),
    (
        "logging console debugging",
        "logging console 9",
        "bad log level '9' (0-7 or emergencies|alerts|critical|errors|warnings|notifications"
        "|informational|debugging)",
    ),
    ("isakmp enable outside", "isakmpp enable outside", "unknown command"),
    ("names", "nmaes", "unknown command"),
    (
        "route outside 0.0.0.0 0.0.0.0 171.68.9.1 1",
        "route outside 0.0.0.0 0.0.0.0 171.68.9.1 17",
        "metric 17 out of range 1-16",
    ),
    (
        "route outside 0.0.0.0 0.0.0.0 171.68.9.1 1",
        "route outside 10.1.1.0 255.255.0.0 171.68.9.1 1",
        "destination 10.1.1.0 has bits outside netmask 255.255.0.0",
    ),
    (
        "ca configure sjvpn ra 1 20 crloptional",
        "ca configure sjvpn ra 0 20 crloptional",
        "retry period 0 out of range 1-60",
    ),
    (
        "ca configure sjvpn ra 1 20 crloptional",
        "ca configure sjvpnx ra 1 20 crloptional",
        "no such ca identity sjvpnx",
    ),
    (
        "ca configure sjvpn ra 1 20 crloptional",
        "ca configure sjvpn rb 1 20 crloptional",
        "expected 'ca' or 'ra', not 'rb'",
    ),
    (
        "ca identity sjvpn 171.68.9.149:/certsrv/mscep/mscep.dll",
        "ca identity sjvpn 171.68.9.149:certsrv/mscep/mscep.dll",
        "bad ca path 'certsrv/mscep/mscep.dll' (ADDRESS:/PATH)",
    ),
    (
        "crypto ipsec transform-set l2tp mode transport",
        "crypto ipsec transform-set l2tp mode transprt",
        "expected 'transport' or 'tunnel', not 'transprt'",
    ),
    (
        "crypto ipsec security-association lifetime seconds 3600",
        "crypto ipsec security-association lifetime seconds 100",
        "lifetime 100 out of range 120-86400",
    ),
    (
        "crypto ipsec security-association lifetime seconds 3600",
        "crypto ipsec security-association lifetime",
        "expected 'seconds' or 'kilobytes'",
    ),
    (
        "vpdn group l2tpipsec ppp authentication mschap",
        "vpdn group l2tpipsec ppp authentication eap",
        "expected 'pap' or 'chap' or 'mschap' or 'mschapv2', not 'eap'",
    ),
    (
        "telnet 171.68.9.0 255.255.255.0 inside",
        "telnet 171.68.9.0 255.255.255.0",
        "expected interface name",
    ),
    (
        "access-list l2tp permit udp host 171.68.9.57 any eq 1701",
        "access-list l2tp permit udp host 171.68.9.57 any eq 70000",
        "port 70000 out of range 1-65535",
    ),
    (
        "access-list l2tp permit udp host 171.68.9.57 any eq 1701",
        "access-list l2tp permit udp host 171.68.9.57 any eq 1701 log",
        "unexpected 'log'",
    ),
    (
        "ip address outside 171.68.9.57 255.255.255.0",
        "ip address outside 171.68.9.357 255.255.255.0",
        "bad address '171.68.9.357'",
    ),
    (
        "vpdn group l2tpipsec client configuration dns 20.1.1.250 20.1.1.251",
        "vpdn group l2tpipsec client configuration dns 20.1.1.250 20.1.1.251 20.1.1.252",
        "unexpected '20.1.1.252'",
    ),
    (
        "timeout uauth 0:05:00 absolute",
        "timeout uauth 0:65:00 absolute",
        "bad time '0:65:00' (H:MM:SS)",
    ),
    ("mtu outside 1500", "mtu outside 20", "mtu 20 out of range 64-65535"),
    ("mtu outside 1500", "mtu outsde 1500", "no such interface outsde"),
    ("interface ethernet0 10baset", "interface ethernet0 10basex", "bad speed '10basex'"),
    ("interface ethernet0 10baset", "interface ethernet2 10baset", "no nameif for ethernet2"),
    ("terminal width 80", "terminal width 20", "terminal width 20 out of range 40-511"),
    ("no pager", "no", "expected a command after 'no'"),
    ("telnet timeout 60", "telnet timeout", "expected timeout"),
]


def _mutate(old: str, new: str) -> tuple[str, int]:
    number = SEED_LINES.index(old) + 1
    lines = list(SEED_LINES)
    lines[number - 1] = new
    return "\n".join(lines) + "\n", number


def test_there_are_at_least_20_mutations() -> None:
    assert len(MUTATIONS) >= 20
    assert len({new for _, new, _ in MUTATIONS}) == len(MUTATIONS)


@pytest.mark.parametrize(("old", "new", "reason"), MUTATIONS, ids=[m[1] for m in MUTATIONS])
def test_mutation_gives_its_error(old: str, new: str, reason: str) -> None:
    text, number = _mutate(old, new)
    with pytest.raises(ConfigError) as caught:
        parse(text)
    shown = redact_secrets(new)
    assert caught.value.problems == (ConfigProblem(number, shown, reason),)
    assert str(caught.value) == f"ERROR line {number}: {shown}: {reason}"


def test_issue_example_text() -> None:
    text = SEED.replace("dynamic dyna\n", "dynamic dyna2\n")
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert str(caught.value) == (
        "ERROR line 65: crypto map mymap 10 ipsec-isakmp dynamic dyna2: no such dynamic-map"
    )


def test_every_problem_is_reported_in_line_order() -> None:
    text = SEED.replace("isakmp policy 20 group 1", "isakmp policy 20 group 3")
    text = text.replace("mtu inside 1500", "mtu inside 1500 1500")
    text = text.replace("client configuration address local l2tp", "client configuration x")
    text += "ip local pool big 10.0.0.0-10.255.255.255\n"
    text += "ip local pool v6 2001:db8::1-2001:db8::9\n"
    text += "isakmp key secret address 0.0.0.0 netmask 0.0.0.0 no-xauth extra\n"
    text += "isakmp nat-traversal 5\n"
    text += "isakmp keepalive 30 20\n"
    text += "crypto dynamic-map dyna 30 set pfs group3\n"
    text += "vpdn group x client authentication aaa NOPE\n"
    text += "crypto map other interface outside\n"
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert [(p.line_number, p.reason) for p in caught.value.problems] == [
        (29, "unexpected '1500'"),
        (73, "bad group 3 (1|2|5|14|15|16|19|20)"),
        (85, "expected 'address' or 'dns' or 'wins', not 'x'"),
        (95, "bad range 10.0.0.0-10.255.255.255: 16777216 addresses, at most 65536"),
        (96, "bad address '2001:db8::1': IPv6 is not supported"),
        (97, "expected 'no-xauth' or 'no-config-mode', not 'extra'"),
        (98, "nat-traversal keepalive 5 out of range 10-3600"),
        (99, "keepalive retry 20 out of range 2-10"),
        (100, "bad pfs group 'group3'"),
        (101, "no such aaa-server group NOPE"),
        (102, "interface outside already has crypto map mymap"),
    ]
    assert str(caught.value).count("\n") == 10


def test_a_bad_definition_is_reported_once_not_at_its_references() -> None:
    text = SEED.replace(
        "ip local pool l2tp 50.1.1.1-50.1.1.5", "ip local pool l2tp 50.1.1.5-50.1.1.1"
    )
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert [(p.line_number, p.reason) for p in caught.value.problems] == [
        (35, "bad range 50.1.1.5-50.1.1.1: first address above last"),
    ]
    text = SEED.replace("l2tp esp-des esp-md5-hmac", "l2tp esp-des esp-md5")
    text = text.replace("nameif ethernet1 inside security100", "nameif ethernet1 inside")
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert [(p.line_number, p.reason) for p in caught.value.problems] == [
        (3, "expected security level"),
        (59, "bad transform 'esp-md5'"),
    ]


def test_more_bad_lines() -> None:
    cases = {
        "ip local pool a 10.0.0.1-10.0.0.9\nip local pool b 10.0.0.5-10.0.0.20": (
            2,
            "range 10.0.0.5-10.0.0.20 overlaps pool a",
        ),
        "nameif ethernet0 outside security101": (1, "security level 101 out of range 0-100"),
        "nameif ethernet0 outside sec0": (1, "expected securityN, not 'sec0'"),
        "nameif ethernet0 a security0\nnameif ethernet1 a security1": (
            2,
            "name a already used by ethernet0",
        ),
        "aaa-server G (inside) host 10.0.0.1 key": (
            1,
            "no such aaa-server group G (needs 'aaa-server G protocol ...' first)",
        ),
        "aaa-server radius-authport 0": (1, "port 0 out of range 1-65535"),
        "crypto ipsec transform-set t esp-md5-hmac": (
            1,
            "expected an encryption transform "
            "(esp-des|esp-3des|esp-aes|esp-aes-192|esp-aes-256|esp-null)",
        ),
        "crypto ipsec transform-set t esp-des esp-des": (1, "bad transform 'esp-des'"),
        "crypto ipsec transform-set t mode transport": (1, "no such transform-set t"),
        "crypto dynamic-map d 70000 set pfs": (1, "sequence number 70000 out of range 1-65535"),
        "crypto dynamic-map d 1 set security-association lifetime kilobytes 10": (
            1,
            "lifetime 10 out of range 2560-2147483647",
        ),
        "isakmp identity fqdn": (1, "expected 'address' or 'hostname' or 'key-id', not 'fqdn'"),
        "isakmp key k address 10.0.0.0 netmask 255.255.0.255": (1, "bad netmask 255.255.0.255"),
        "isakmp key k": (1, "expected 'address'"),
        "ca generate rsa key 100": (1, "key modulus 100 out of range 512-4096"),
        "username u password": (1, "expected password"),
        "username u password p privilege 16": (1, "privilege 16 out of range 0-15"),
        "vpdn group g accept dialin l2f": (1, "expected 'l2tp' or 'pptp', not 'l2f'"),
        "logging host inside 10.0.0.1 icmp/5": (1, "bad logging protocol 'icmp'"),
        "access-list a permit ip any eq 80 any": (1, "bad address 'eq'"),
        "access-list a permit foo any any": (1, "bad protocol 'foo'"),
        "access-list a permit tcp any any range 90 80": (1, "bad port range 90-80"),
        "hostname a\x1bb": (1, "control character 0x1b"),
        "name 192.0.2.1 192.0.2.2": (1, "bad name '192.0.2.2': an address"),
        "name server 192.0.2.2": (1, "bad address 'server'"),
        "name 192.0.2.1 server\naccess-list a permit ip host servr any": (
            2,
            "bad address 'servr'",
        ),
        "   network-object host 192.0.2.5": (1, "unknown command"),
        "no mtu outside 1500": (1, "no 'no' form"),
        "no ip address outside dhcp": (1, "no 'no' form"),
    }
    for text, (number, reason) in cases.items():
        with pytest.raises(ConfigError) as caught:
            parse(text + "\n")
        assert [(p.line_number, p.reason) for p in caught.value.problems] == [(number, reason)], (
            text
        )


def test_secrets_are_not_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(
            "isakmp key t0pSecret address 10.0.0.0 netmask 255.0.255.0\n"
            "aaa-server R protocol radius\n"
            "aaa-server R (inside) host 192.0.2.1 sh4red timeout 5\n"
            "vpdn username alice password pa55word store-locall\n"
            "username bob password pa55word privilege 99\n"
        )
    text = str(caught.value)
    assert "t0pSecret" not in text and "sh4red" not in text and "pa55word" not in text
    assert text.splitlines() == [
        "ERROR line 1: isakmp key ******** address 10.0.0.0 netmask 255.0.255.0: "
        "bad netmask 255.0.255.0",
        "ERROR line 3: aaa-server R (inside) host 192.0.2.1 ******** timeout 5: "
        "no such interface inside",
        "ERROR line 4: vpdn username alice password ******** store-locall: "
        "unexpected 'store-locall'",
        "ERROR line 5: username bob password ******** privilege 99: privilege 99 out of range 0-15",
    ]


def test_line_numbers_count_newlines_only() -> None:
    # \x0c (form feed) is not a line break here; it is a control character on line 2
    with pytest.raises(ConfigError) as caught:
        parse("hostname a\nhostname b\x0cc\nnames\r\nfoo\n")
    assert [p.line_number for p in caught.value.problems] == [2, 4]
    assert caught.value.problems[0].line == "hostname b\\x0cc"


_WORDS = sorted({w for line in SEED_LINES for w in line.split()} | {"no", "(inside)", "-", "0"})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=8), max_size=12))
def test_random_lines_never_crash(lines: list[list[str]]) -> None:
    text = "\n".join(" ".join(words) for words in lines)
    try:
        parse(text)
    except ConfigError as e:
        assert e.problems
        assert all(1 <= p.line_number <= len(lines) for p in e.problems)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(SEED_LINES) - 1), st.data())
def test_seed_with_one_word_changed_never_crashes(index: int, data: st.DataObject) -> None:
    words = SEED_LINES[index].split() or ["!"]
    position = data.draw(st.integers(0, len(words) - 1))
    words[position] = data.draw(st.sampled_from([*_WORDS, "", "999999", "1.2.3", "255.0.255.0"]))
    lines = list(SEED_LINES)
    lines[index] = " ".join(words)
    try:
        parse("\n".join(lines))
    except ConfigError as e:
        assert all(1 <= p.line_number <= len(lines) for p in e.problems)
