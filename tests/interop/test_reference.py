"""The PIX 6.3 reference scenario end to end (issue 8): the reference running-config
(``etc/reference.conf``, addresses mapped to documentation ranges), the gateway's certificate
enrolled over SCEP from an NDES-style CA in RA mode (RFC 8894 §3/§4: GetCACaps, GetCACert,
PKCSReq pending, CertPoll granted after the CA's approval) and used for IKE rsa-sig (RFC 2409
§5.1), RADIUS authentication and accounting with FreeRADIUS (RFC 2865/2866), a Windows-2000-like
client (strongSwan + xl2tpd + pppd in QEMU: des/md5/group 1 with a certificate, esp-des
esp-md5-hmac transport, L2TP, PPP CHAP); the show commands checked field by field against what
happened; hanging up leaves Start and Stop records in FreeRADIUS's detail file.

Topology (tests/interop/qemu): client 192.0.2.2 -- gateway namespace eth0 192.0.2.1 / inside0
203.0.113.1 -- inside host 203.0.113.2, where FreeRADIUS and the SCEP server (``mscep.dll`` on
port 80) run, in the roles of the reference's 20.1.1.2 and 171.68.9.149.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pixgw.config.parser import parse
from pixgw.pki import scep
from tests.interop.pixgw_gateway import BIN, RunningGateway, bring_up, wait_for
from tests.interop.qemu.netns import Namespace
from tests.interop.reference_support import (
    CHALLENGE,
    CLIENT,
    INSIDE_HOST,
    OUTSIDE,
    RADIUS_PASSWORD,
    RADIUS_USER,
    InsideFreeRadius,
    NdesProcess,
    client_certificate,
    mapped_reference_config,
)
from tests.interop.servers import FREERADIUS, RADIUS_SECRET, missing

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.slow]
# Time bound (300 s): the whole reference scenario in one test: ~80 s.
pytestmark.append(pytest.mark.timeout(300))

AUTH_PORT, ACCT_PORT = 1812, 1813
FQDN = "PIX-506-2.sjvpn.com"


def _check_config(text: str) -> None:
    """The mapped config parses and says what the reference says, on documentation addresses."""
    cfg = parse(text).config
    assert cfg.hostname == "PIX-506-2"
    policy = next(p for p in cfg.isakmp.policies if p.priority == 20)
    assert (policy.authentication, policy.encryption, policy.hash, policy.group) == (
        "rsa-sig",
        "des",
        "md5",
        1,
    ), policy
    assert policy.lifetime == 86400
    assert cfg.isakmp.identity == "hostname"
    ts = cfg.crypto.transform_set("l2tp")
    assert ts is not None and (ts.transforms, ts.mode) == (("esp-des", "esp-md5-hmac"), "transport")
    ident = next(i for i in cfg.ca.identities if i.name == "sjvpn")
    assert (ident.address, ident.path) == (INSIDE_HOST, "/certsrv/mscep/mscep.dll"), ident
    conf = cfg.ca.configure_for("sjvpn")
    assert conf is not None
    assert (conf.mode, conf.retry_period, conf.retry_count, conf.crl_optional) == (
        "ra",
        1,
        20,
        True,
    )
    group = next(g for g in cfg.aaa_servers if g.name == "RADIUS")
    assert group.protocol == "radius"
    assert [(h.interface, str(h.address), h.key) for h in group.hosts] == [
        ("inside", INSIDE_HOST, RADIUS_SECRET)
    ]
    assert (cfg.aaa_ports.radius_authport, cfg.aaa_ports.radius_acctport) == (
        AUTH_PORT,
        ACCT_PORT,
    )
    vpdn = next(g for g in cfg.vpdn.groups if g.name == "l2tpipsec")
    assert vpdn.ppp_authentication[:2] == ("chap", "mschap"), vpdn
    assert (vpdn.address_pool, vpdn.authentication_aaa, vpdn.accounting) == (
        "l2tp",
        "RADIUS",
        "RADIUS",
    ), vpdn
    assert RADIUS_SECRET in text and " cisco " not in text
    for old in ("171.68.", "20.1.1.", "50.1.1."):
        assert old not in text, old


@pytest.fixture
def aaa_and_ca(
    inside_netns: Namespace, tmp_path: Path
) -> Iterator[tuple[InsideFreeRadius, NdesProcess]]:
    why = missing(FREERADIUS)
    if why:
        pytest.skip(why)
    radius = InsideFreeRadius(
        tmp_path / "radius", auth_port=AUTH_PORT, acct_port=ACCT_PORT, netns=inside_netns
    )
    radius.start()
    ndes: NdesProcess | None = None
    try:
        ndes = NdesProcess(inside_netns, tmp_path / "ndes")
        yield radius, ndes
    finally:
        if ndes is not None:
            ndes.stop()
        radius.stop()


def _exec_background(gw: RunningGateway, command: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "pixgw"), "exec", "--control", gw.control, command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _field(pattern: str, text: str) -> str:
    m = re.search(pattern, text)
    assert m is not None, f"{pattern!r} not in:\n{text}"
    return m.group(1)


def test_reference_scenario(
    gateway_netns: Namespace,
    inside_netns: Namespace,
    aaa_and_ca: tuple[InsideFreeRadius, NdesProcess],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    t0 = time.monotonic()
    radius, ndes = aaa_and_ca
    # The one line the reference lacks: Windows 2000 does not check that the gateway's IKE ID
    # (by default its address) is in its certificate; strongSwan does, and the SCEP CA puts the
    # gateway's FQDN (not its address) in the certificate, so the gateway sends ID_FQDN.
    config = mapped_reference_config(AUTH_PORT, ACCT_PORT, identity="hostname")
    _check_config(config)
    (tmp_path / "gw").mkdir()
    gw = RunningGateway(gateway_netns, tmp_path / "gw", config, log_name="pixgw-reference.log")
    shown = tmp_path / "shown.txt"  # every show output, for a failure's post-mortem
    show = gw.show

    def show_kept(command: str) -> str:
        text = show(command)
        with shown.open("a") as fh:
            fh.write(f"### {command}\n{text}\n")
        return text

    gw.show = show_kept  # type: ignore[method-assign]
    enroll: subprocess.Popen[str] | None = None
    try:
        # --- SCEP enrollment over real HTTP from the gateway namespace ----------------------
        out = gw.show("ca generate rsa key 2048")
        assert "Success." in out, out
        out = gw.show("ca authenticate sjvpn")
        ca_cert, ca_key = ndes.ca()
        assert f"Fingerprint: {scep.ca_fingerprint(ca_cert)}" in out, out + gw.diagnostics()
        enroll = _exec_background(gw, f"ca enroll sjvpn {CHALLENGE}")
        assert wait_for(lambda: "PKCSReq" in ndes.operations(), 30), ndes.operations()
        pending = gw.show("show crypto ca certificates")
        assert "Status: Pending" in pending, pending
        assert CHALLENGE not in pending
        ndes.approve()
        # the guest boots while the gateway waits its retry period (ca configure ... ra 1 20:
        # one minute) before polling again
        client_guest: Any = request.getfixturevalue("client_guest")
        enrolled, _ = enroll.communicate(timeout=150)
        enroll = None
        assert "The certificate has been granted by CA!" in enrolled, enrolled + gw.diagnostics()
        assert f"% The subject name in the certificate will be: {FQDN}" in enrolled, enrolled
        assert CHALLENGE not in enrolled
        # the emulator writes its operations log five times a second
        assert wait_for(lambda: "GetCertInitial" in ndes.operations(), 5), ndes.operations()
        ops = ndes.operations()
        assert {"GetCACaps", "GetCACert"} <= set(ops[:2]), ops
        assert ops[2:] == ["PKCSReq", "GetCertInitial"], ops
        certs = gw.show("show crypto ca certificates")
        blocks = {b.split("\n", 1)[0]: b for b in certs.strip().split("\n\n")}
        assert list(blocks) == [
            "Certificate",
            "RA Signature Certificate",
            "CA Certificate",
            "RA KeyEncipher Certificate",
        ], certs
        expect = {  # title -> (serial, key usage, a subject line)
            "Certificate": ("0347dc82000000000010", "General Purpose", f"Name: {FQDN}"),
            "RA Signature Certificate": ("0347dc82000000000002", "Signature", "CN = pixgw test RA"),
            "CA Certificate": (f"{ca_cert.serial_number:x}", "Signature", "CN = pixgw test CA"),
            "RA KeyEncipher Certificate": (
                "0347df0d000000000003",
                "Encryption",
                "CN = pixgw test RA",
            ),
        }
        for title, (serial, usage, subject) in expect.items():
            block = blocks[title]
            assert "Status: Available" in block, block
            assert f"Certificate Serial Number: {serial}\n" in block, block
            assert f"Key Usage: {usage}\n" in block, block
            assert subject in block, block
        t_enrolled = time.monotonic() - t0

        # --- the Windows-2000-like client: certificate, des/md5/group 1, CHAP via RADIUS ------
        client = client_guest(
            profile="win2000",
            auth="cert",
            ppp_auth="chap",
            cert=client_certificate(ca_cert, ca_key),
            user=RADIUS_USER,
            password=RADIUS_PASSWORD,
        )
        status = bring_up(gw, client)
        address = str(status.ppp_address)
        assert address.startswith("198.51.100.") and 1 <= int(address.rsplit(".", 1)[1]) <= 5
        assert "203.0.113.250" in [str(d) for d in status.dns], status.raw
        route = client.guest.sh("ip route replace 203.0.113.0/24 dev ppp0", timeout=20)
        assert route.rc == 0, route.stderr
        ping = client.ping(INSIDE_HOST, count=3)
        assert ping.ok, ping.output + gw.diagnostics()

        # --- show output, field by field (every mismatch collected, reported together) -----
        problems: list[str] = []

        def check(ok: object, what: str, text: str) -> None:
            if not ok:
                problems.append(f"{what}\n{text}")

        def has(pattern: str, text: str) -> re.Match[str] | None:
            return re.search(pattern, text, re.M)

        isakmp = gw.show("show crypto isakmp sa")
        rows = [line.split() for line in isakmp.splitlines() if "QM_IDLE" in line]
        check(
            has(r"^\s*dst\s+src\s+state\s+pending\s+created\s*$", isakmp), "isakmp header", isakmp
        )
        check(
            len(rows) == 1 and rows[0][:3] == [OUTSIDE, CLIENT, "QM_IDLE"] and rows[0][3] == "0",
            "isakmp row: dst 192.0.2.1 src 192.0.2.2 QM_IDLE 0 N",
            isakmp,
        )

        ipsec = gw.show("show crypto ipsec sa")
        check("interface: outside" in ipsec, "ipsec interface", ipsec)
        check(f"Crypto map tag: mymap, local addr. {OUTSIDE}" in ipsec, "ipsec map tag", ipsec)
        for side, addr in (("local", OUTSIDE), ("remote", CLIENT)):
            ident = rf"{side}\s+ident \(addr/mask/prot/port\): "
            ident += re.escape(f"({addr}/255.255.255.255/17/1701)")
            check(has(ident, ipsec), f"ipsec {side} ident", ipsec)
        check(f"current_peer: {CLIENT}" in ipsec, "ipsec current_peer", ipsec)
        counts = {
            k: int(m.group(1)) if (m := has(rf"#pkts {k}:? (\d+)", ipsec)) else -1
            for k in ("encaps", "encrypt", "digest", "decaps", "decrypt", "verify")
        }
        check(counts["encaps"] > 0 and counts["decaps"] > 0, f"ipsec counts {counts}", ipsec)
        check(
            counts["encaps"] == counts["encrypt"] == counts["digest"]
            and counts["decaps"] == counts["decrypt"] == counts["verify"],
            f"ipsec counts agree {counts}",
            ipsec,
        )
        check(
            f"local crypto endpt.: {OUTSIDE}, remote crypto endpt.: {CLIENT}" in ipsec,
            "ipsec endpoints",
            ipsec,
        )
        check(ipsec.count("transform: esp-des esp-md5-hmac") == 2, "ipsec transform x2", ipsec)
        check(ipsec.count("in use settings ={Transport, }") == 2, "ipsec Transport x2", ipsec)
        check(ipsec.count("crypto map: mymap") == 2, "ipsec crypto map x2", ipsec)

        tunnel = gw.show("show vpdn tunnel")
        check(
            "L2TP Tunnel Information (Total tunnels=1 sessions=1)" in tunnel,
            "tunnel totals",
            tunnel,
        )
        check(
            has(r"Tunnel id \d+ is up, remote id is \d+, 1 active sessions", tunnel),
            "tunnel up line",
            tunnel,
        )
        check("Tunnel state is established" in tunnel, "tunnel state", tunnel)
        check(f"Remote Internet Address {CLIENT}, port 1701" in tunnel, "tunnel remote", tunnel)
        check(f"Local Internet Address {OUTSIDE}, port 1701" in tunnel, "tunnel local", tunnel)
        traffic = has(
            r"(\d+) packets sent, (\d+) received, (\d+) bytes sent, (\d+) received", tunnel
        )
        check(traffic and min(int(x) for x in traffic.groups()) > 0, "tunnel traffic", tunnel)

        session = gw.show("show vpdn session")
        check(
            "L2TP Session Information (Total tunnels=1 sessions=1)" in session,
            "session totals",
            session,
        )
        check(has(r"Call id \d+ is up on tunnel id \d+", session), "session call id", session)
        check(f"Internet Address is {CLIENT}" in session, "session address", session)
        check(
            f"Session username is {RADIUS_USER}, state is established" in session,
            "session username/state",
            session,
        )
        check("interface outside" in session, "session interface", session)
        ppp = has(r"PPP interface id is (\d+)", session)
        check(ppp, "session PPP interface id", session)
        ppp_id = ppp.group(1) if ppp else "1"

        pppif = gw.show(f"show vpdn pppinterface id {ppp_id}")
        check(f"PPP virtual interface id = {ppp_id}" in pppif, "pppinterface id", pppif)
        check("PPP authentication protocol is CHAP" in pppif, "pppinterface CHAP", pppif)
        check(f"Client ip address is {address}" in pppif, "pppinterface client ip", pppif)
        rx = has(r"Received Pkts: (\d+)", pppif)
        check(rx and int(rx.group(1)) > 0, "pppinterface received", pppif)

        uauth = gw.show("show uauth")
        check(
            f"vpdn user '{RADIUS_USER}' at {address}, authenticated" in uauth, "uauth user", uauth
        )
        check(has(r"Authenticated Users\s+1\s+\d+", uauth), "uauth count", uauth)

        log = gw.show("show logging")
        for msg_id in ("603102", "603103", "109011", "603106"):
            check(f"-{msg_id}:" in log, f"syslog {msg_id}", log[-3000:])
        created = re.findall(r"%PIX-6-602301: sa created, .*sa_spi= (0x[0-9a-f]+)", log)
        check(
            len(created) == 2 and len(set(created)) == 2,
            f"syslog 602301 once per SA (inbound, outbound): {created}",
            "",
        )
        check(RADIUS_PASSWORD not in log and RADIUS_SECRET not in log, "no secrets in log", "")

        # --- hang up: accounting Start and Stop in FreeRADIUS's detail file --------------------
        client.down()
        assert wait_for(lambda: "% No active L2TP tunnels" in gw.show("show vpdn tunnel"), 30)

        def stop_record() -> bool:
            return any("Acct-Status-Type = Stop" in b for b in radius.detail_records())

        assert wait_for(stop_record, 20), radius.detail_records()
        mine = [b for b in radius.detail_records() if f'User-Name = "{RADIUS_USER}"' in b]
        start = [b for b in mine if "Acct-Status-Type = Start" in b]
        stop = [b for b in mine if "Acct-Status-Type = Stop" in b]
        assert len(start) == 1 and len(stop) == 1, mine
        assert f"Framed-IP-Address = {address}" in stop[0], stop[0]
        assert int(_field(r"Acct-Input-Octets = (\d+)", stop[0])) > 0, stop[0]
        assert int(_field(r"Acct-Output-Octets = (\d+)", stop[0])) > 0, stop[0]
        session_id = _field(r'Acct-Session-Id = "([^"]+)"', start[0])
        assert f'Acct-Session-Id = "{session_id}"' in stop[0]
        elapsed = time.monotonic() - t0
        print(f"reference scenario: enrolled in {t_enrolled:.0f} s, whole in {elapsed:.0f} s")
        assert not problems, f"{len(problems)} show fields differ:\n" + "\n---\n".join(problems)
    finally:
        if enroll is not None:
            enroll.kill()
            enroll.wait(timeout=5)
        gw.stop()
