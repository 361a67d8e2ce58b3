"""PppSession against a real pppd 2.4.9 (the QEMU client guest's), PPP over TCP.

pppd's ``socket HOST:PORT`` option runs PPP in RFC 1662 asynchronous HDLC framing over a TCP
connection; this module's ``--serve`` mode (started inside the gateway namespace, 192.0.2.1)
frames that with :mod:`pixgw.ppp.hdlc` and drives a :class:`PppSession` with a stand-in AAA, an
ICMP echo responder for its own link address, and a JSON line per event. No L2TP or IPsec:
this isolates the PPP core (LCP, PAP/CHAP/MS-CHAPv1/v2, IPCP with DNS, IPv6CP Protocol-Reject,
IP both ways, echo liveness, terminate both ways).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import select
import socket
import struct
import sys
import time
from ipaddress import IPv4Address
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PORT = 7741
USER, PASSWORD = "vpnclient", "s3cret!"
POOL_ADDRESS = "198.51.100.10"
LINK_ADDRESS = "198.51.100.1"
DNS = ("192.0.2.53", "192.0.2.54")


# --- the server side (runs in the gateway namespace) ------------------------------------------


def _verify(request):
    from pixgw.ppp import mschap

    if request.username != USER:
        return False, None
    if request.protocol == "pap":
        return request.password == PASSWORD, None
    if request.protocol == "chap":
        digest = hashlib.md5(bytes([request.identifier]) + PASSWORD.encode() + request.challenge)
        return hmac.compare_digest(digest.digest(), request.response), None
    password_hash = mschap.nt_password_hash(PASSWORD)
    if request.protocol == "mschap":
        expected = mschap.mschapv1_nt_response(request.challenge, password_hash)
        return hmac.compare_digest(expected, request.nt_response), None
    expected = mschap.generate_nt_response(
        request.challenge, request.peer_challenge, request.username, password_hash
    )
    if not hmac.compare_digest(expected, request.nt_response):
        return False, None
    return True, mschap.generate_authenticator_response(
        password_hash, request.nt_response, request.peer_challenge, request.challenge,
        request.username,
    )


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _icmp_echo_reply(packet: bytes) -> bytes | None:
    if len(packet) < 28 or packet[0] >> 4 != 4 or packet[9] != 1:
        return None
    ihl = (packet[0] & 0x0F) * 4
    if packet[ihl] != 8:
        return None
    header = bytearray(packet[:ihl])
    header[12:16], header[16:20] = packet[16:20], packet[12:16]
    header[10:12] = b"\x00\x00"
    header[10:12] = struct.pack("!H", _checksum(bytes(header)))
    icmp = bytearray(packet[ihl:])
    icmp[0] = 0
    icmp[2:4] = b"\x00\x00"
    icmp[2:4] = struct.pack("!H", _checksum(bytes(icmp)))
    return bytes(header + icmp)


def serve(args: argparse.Namespace) -> None:
    from pixgw.ppp.hdlc import HdlcDecoder, encode_async
    from pixgw.ppp.session import (
        AuthenticationRequested,
        IpPacketReceived,
        LinkDown,
        LinkUp,
        PppSession,
        PppSettings,
    )

    def say(**fields: object) -> None:
        print(json.dumps(fields, default=str), flush=True)

    settings = PppSettings(
        authentication=tuple(args.auth.split(",")),
        local_address=IPv4Address(LINK_ADDRESS),
        dns=tuple(IPv4Address(a) for a in DNS),
        echo_interval=args.echo_interval,
        echo_failures=args.echo_failures,
    )
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(1)
    listener.settimeout(args.duration + 60)  # the guest may be slow to start pppd under load
    say(listening=True)
    conn, _ = listener.accept()
    conn.setblocking(False)
    start = time.monotonic()

    def now() -> float:
        return time.monotonic() - start

    session = PppSession(settings, random_bytes=os.urandom)
    decoder = HdlcDecoder()
    session.start(now())
    up_at: float | None = None
    closed = False
    pings = 0
    while now() < args.duration:
        for frame in session.frames_to_send(now()):
            try:
                conn.sendall(encode_async(frame))
            except OSError:
                break
        timer = session.get_timer()
        wait = 0.2 if timer is None else max(0.0, min(0.2, timer - now()))
        readable, _, _ = select.select([conn], [], [], wait)
        if readable:
            data = conn.recv(65536)
            if not data:
                say(eof=round(now(), 2))
                break
            for frame in decoder.feed(data):
                session.receive_frame(frame, now())
        timer = session.get_timer()
        if timer is not None and timer <= now():
            session.handle_timer(now())
        while (event := session.next_event()) is not None:
            if isinstance(event, AuthenticationRequested):
                accepted, authenticator = _verify(event)
                say(event="auth", protocol=event.protocol, username=event.username, ok=accepted)
                if accepted:
                    session.set_peer_address(IPv4Address(POOL_ADDRESS))
                session.authentication_result(
                    accepted, now(), mschapv2_authenticator_response=authenticator
                )
            elif isinstance(event, IpPacketReceived):
                reply = _icmp_echo_reply(event.packet)
                if reply is not None:
                    pings += 1
                    session.send_ip(reply, now())
            elif isinstance(event, LinkUp):
                up_at = now()
                say(event="up", address=event.peer_address, dns=list(event.dns),
                    authentication=event.authentication)
            elif isinstance(event, LinkDown):
                say(event="down", reason=event.reason, was_up=event.was_up, t=round(now(), 2))
        if up_at is not None and not closed and now() - up_at > args.close_after:
            closed = True
            session.close("clear vpdn", now())
    for frame in session.frames_to_send(now()):
        try:
            conn.sendall(encode_async(frame))
        except OSError:
            break
    status = session.status()
    say(final=True, pings=pings, hdlc_errors=decoder.errors, lcp=status.lcp_state,
        errors=status.error_packets, received=status.received_packets)


# --- the tests ---------------------------------------------------------------------------------

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.slow]
# Time bound (300 s): pppd's echo timeout: ~20 s, plus the guest boot.
pytestmark.append(pytest.mark.timeout(300))


def run_case(client_vm, gateway_netns, *, auth, pppd_options, guest_script, password=PASSWORD,
             duration=20.0, close_after=1e9, echo_interval=5.0, echo_failures=3):
    server = gateway_netns.spawn(
        [sys.executable, __file__, "--serve", "--host", "192.0.2.1", "--port", str(PORT),
         "--auth", auth, "--duration", str(duration), "--close-after", str(close_after),
         "--echo-interval", str(echo_interval), "--echo-failures", str(echo_failures)],
        log_name=f"ppp-server-{auth}-{int(time.time() * 1000)}.log",
        env={"PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 20
        while '"listening"' not in server.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert '"listening"' in server.output(), server.output()
        result = client_vm.sh(
            "modprobe ppp_generic; modprobe ppp_async; rm -f /tmp/pppd.log; "
            f"(pppd socket 192.0.2.1:{PORT} nodetach noauth user {USER} password '{password}' "
            f"refuse-eap {pppd_options} usepeerdns noccp ipcp-accept-local ipcp-accept-remote "
            "noipdefault nodefaultroute debug logfile /tmp/pppd.log lcp-echo-interval 30 "
            f">/dev/null 2>&1 &); {guest_script}; "
            "kill $(pidof pppd) 2>/dev/null; sleep 2; echo ===; cat /tmp/pppd.log",
            timeout=duration + 40,
        )
        deadline = time.monotonic() + duration + 10
        while server.running() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        gateway_netns.stop(server)
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    return result.stdout, lines


def events(lines, kind):
    return [line for line in lines if line.get("event") == kind]


@pytest.mark.parametrize(
    ("auth", "pppd_options", "protocol"),
    [
        ("chap", "refuse-pap", "chap"),
        # The gateway offers CHAP first; pppd refuses it and Naks MS-CHAPv2: we follow.
        ("chap,mschapv2", "refuse-pap refuse-chap refuse-mschap", "mschapv2"),
        ("chap,mschap", "refuse-pap refuse-chap refuse-mschap-v2", "mschap"),
        ("pap", "", "pap"),
    ],
)
def test_pppd_connects_gets_address_dns_and_pings(client_vm, gateway_netns, auth, pppd_options,
                                                   protocol):
    guest, lines = run_case(
        client_vm, gateway_netns, auth=auth, pppd_options=pppd_options,
        guest_script="sleep 7; ip -br addr show ppp0; cat /etc/ppp/resolv.conf; "
                     f"ping -c3 -W2 {LINK_ADDRESS}",
        duration=15,
    )
    pppd_log = guest.split("===", 1)[-1]
    assert [e["protocol"] for e in events(lines, "auth")] == [protocol], lines
    (up,) = events(lines, "up")
    assert up["address"] == POOL_ADDRESS and up["dns"] == list(DNS)
    assert f"{POOL_ADDRESS} peer {LINK_ADDRESS}/32" in guest, guest
    assert f"nameserver {DNS[0]}" in guest and f"nameserver {DNS[1]}" in guest
    assert "3 received" in guest, guest
    assert "Protocol-Reject for 'IPv6 Control Protocol'" in pppd_log
    if protocol == "mschapv2":
        assert "rcvd [CHAP Success" in pppd_log and "S=" in pppd_log
    final = next(line for line in lines if line.get("final"))
    assert final["pings"] == 3 and final["hdlc_errors"] == 0


def test_pppd_wrong_password_mschapv2(client_vm, gateway_netns):
    guest, lines = run_case(
        client_vm, gateway_netns, auth="mschapv2", pppd_options="refuse-pap",
        password="not-the-password", guest_script="sleep 6", duration=10,
    )
    assert [e["ok"] for e in events(lines, "auth")] == [False]
    assert events(lines, "down")[0]["reason"] == "authentication failed"
    assert "E=691 R=0 C=" in guest and "MS-CHAP authentication failed" in guest, guest
    assert not events(lines, "up")


def test_gateway_close_terminates_pppd(client_vm, gateway_netns):
    guest, lines = run_case(
        client_vm, gateway_netns, auth="mschapv2", pppd_options="refuse-pap",
        guest_script="sleep 8", duration=12, close_after=3,
    )
    assert events(lines, "down")[0]["reason"] == "clear vpdn"
    assert "LCP terminated by peer (clear vpdn)" in guest, guest
    # pppd answered our Terminate-Request; (in socket mode it then waits for its socket helper
    # to see the TCP connection close, which this server does only at the end).
    assert "sent [LCP TermAck" in guest and "Connection terminated." in guest
    final = next(line for line in lines if line.get("final"))
    assert final["lcp"] == "CLOSED"


def test_echo_timeout_when_pppd_stops_answering(client_vm, gateway_netns):
    _, lines = run_case(
        client_vm, gateway_netns, auth="chap", pppd_options="refuse-pap",
        guest_script="sleep 4; kill -STOP $(pidof pppd); sleep 12; kill -CONT $(pidof pppd)",
        duration=16, echo_interval=2, echo_failures=3,
    )
    (down,) = events(lines, "down")
    assert down["reason"] == "echo timeout" and down["was_up"]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--host", default="192.0.2.1")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--auth", default="chap")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--close-after", type=float, default=1e9)
    parser.add_argument("--echo-interval", type=float, default=5.0)
    parser.add_argument("--echo-failures", type=int, default=3)
    serve(parser.parse_args())
