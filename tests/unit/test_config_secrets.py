"""Secrets never reach ``show running-config``, config warnings or errors (issue 29): the keys
and passwords of the commands pixgw reads, and those of PIX/ASA lines it keeps verbatim. Each
secret here is a distinct word that must not appear in any output. Under 0.5 s."""

from __future__ import annotations

import pytest

from pixgw.config.parser import ConfigError, parse
from pixgw.config.render import render
from pixgw.config.syntax import redact_secrets

BASE = """\
hostname gw
nameif ethernet0 outside security0
nameif ethernet1 inside security100
ip address outside 192.0.2.1 255.255.255.0
"""

# (line, its secret): kept verbatim (not acted on) or read, every one masked in show
LINES = [
    ("vpngroup remote password Grp-Secret-1", "Grp-Secret-1"),
    ("vpnclient vpngroup hq password Vpnc-Secret-2", "Vpnc-Secret-2"),
    ("vpnclient username u1 password Vpnc-Pw-3", "Vpnc-Pw-3"),
    ("failover lan key Fo-Key-4", "Fo-Key-4"),
    ("ntp authentication-key 1 md5 Ntp-Key-5", "Ntp-Key-5"),
    ("snmp-server community Comm-6", "Comm-6"),
    ("ca enroll sjvpn Challenge-7", "Challenge-7"),
    ("aaa-server TAC host 192.0.2.9 Tac-Key-8 timeout 5", "Tac-Key-8"),
    ("isakmp key Psk-9 address 0.0.0.0 netmask 0.0.0.0", "Psk-9"),
    ("username ops password Ops-Pw-10 privilege 2", "Ops-Pw-10"),
    ("enable password En-Pw-11 encrypted", "En-Pw-11"),
]


def test_show_running_config_masks_every_secret_kept_or_read() -> None:
    result = parse(BASE + "aaa-server TAC protocol tacacs+\n"
                   + "".join(line + "\n" for line, _ in LINES))
    shown = render(result.config, mask_secrets=True)
    for line, secret in LINES:
        assert secret not in shown, line
    assert "vpngroup remote password ********" in shown.splitlines()
    # the config file keeps them (write memory must write what was read)
    written = render(result.config)
    assert all(secret in written for _, secret in LINES)
    # and the warnings about the lines kept verbatim do not carry them either
    for warning in result.warnings:
        assert not any(secret in str(warning) for _, secret in LINES), warning


def test_manual_session_keys_are_masked_in_the_error_that_refuses_them() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(BASE + "crypto map m 20 set session-key inbound esp 300 cipher 0123abcd "
              "authenticator 4567ef89\n"
              "crypto map m 20 set session-key outbound ah 301 89abcdef0123\n")
    text = str(caught.value)
    assert "0123abcd" not in text and "4567ef89" not in text and "89abcdef0123" not in text
    assert "cipher ******** authenticator ********" in text


@pytest.mark.parametrize("line", [
    "isakmp policy 20 hash md5",
    "crypto ipsec transform-set l2tp esp-des esp-md5-hmac",
    "aaa-server R radius-message-authenticator optional",
    "crypto key generate rsa modulus 1024",
    "ca generate rsa key 1024",
    "vpdn group g ppp authentication mschap",
    "logging host inside 203.0.113.5",
])
def test_lines_without_a_secret_are_shown_as_they_are(line: str) -> None:
    assert redact_secrets(line) == line


def test_an_error_does_not_show_the_secret_of_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(BASE + "isakmp key Err-Secret-12 address not-an-address\n")
    assert "Err-Secret-12" not in str(caught.value)
    assert "isakmp key ********" in str(caught.value)
