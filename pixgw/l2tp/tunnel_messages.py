"""The control connection's messages at the LNS (RFC 2661 §5.1, §6.1-§6.5, §5.7): SCCRQ (a new
tunnel, or a retransmission or restart of one; tunnel authentication §5.1.1), SCCCN, StopCCN and
HELLO. Each takes the LNS (the registry and the services: sending, state changes, counters,
logs); the LNS's tunnel table has decided the message may run in the tunnel's state."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from pixgw.l2tp import teardown
from pixgw.l2tp.avp import Avp, AvpType, decode_avps
from pixgw.l2tp.channel import ControlChannel
from pixgw.l2tp.events import TunnelEstablished, TunnelKey
from pixgw.l2tp.message import ControlMessage, ErrorCode, MessageType, StopCcnResult
from pixgw.l2tp.peer import L2tpPeer
from pixgw.l2tp.teardown import Hangup
from pixgw.l2tp.trace import error_line, event_line
from pixgw.l2tp.tunnel import Incoming, L2tpTunnel, TunnelState
from pixgw.l2tp.values import FRAMING_ASYNC, FRAMING_SYNC, avp_text, challenge_response, result_of
from pixgw.wire import MalformedMessage

if TYPE_CHECKING:  # the LNS hands itself in; it imports this module, not the reverse
    from pixgw.l2tp.core import L2tpLns


def tunnel_for_sccrq(
    lns: L2tpLns, message: ControlMessage, peer: L2tpPeer, now: float
) -> L2tpTunnel | None:
    """A message to tunnel 0 is an SCCRQ (a retransmitted one finds its tunnel) or a StopCCN
    from a LAC that never learnt our tunnel id (it finds the tunnel by its Assigned Tunnel
    ID); anything else is dropped."""
    try:
        avps, _ = decode_avps(message.avp_bytes, secret=lns.settings.secret)
    except MalformedMessage as exc:
        lns.count("malformed")
        lns.vpdn_error(error_line(None, None, f"Malformed SCCRQ from {peer.address}: {exc}"))
        return None
    first = avps[0] if avps else None
    if first is None or first.attribute_type != AvpType.MESSAGE_TYPE or first.vendor_id:
        lns.count("unknown_tunnel")
        return None
    is_stop = first.value == MessageType.STOPCCN.to_bytes(2, "big")
    if first.value != MessageType.SCCRQ.to_bytes(2, "big") and not is_stop:
        lns.count("unknown_tunnel")
        return None
    assigned = next((a for a in avps if a.attribute_type == AvpType.ASSIGNED_TUNNEL_ID), None)
    try:
        remote_id = assigned.u16() if assigned is not None else 0
    except MalformedMessage:
        remote_id = 0
    existing_id = lns.by_remote.get((peer, remote_id)) if remote_id else None
    existing = lns.tunnels.get(existing_id) if existing_id is not None else None
    if is_stop:
        if existing is None:
            lns.count("unknown_tunnel")
        return existing
    if (
        existing is not None
        and existing.linger_until is None
        and existing.state is TunnelState.ESTABLISHED
        and now - existing.changed_at >= lns.settings.restart_after
    ):
        # Long after its SCCCN, this is no late retransmission: the client restarted
        # (sleep, reboot) with the same tunnel id. End the old tunnel without a StopCCN
        # (it would reach the client's new tunnel of the same id) and start afresh.
        lns.vpdn_event(event_line(existing.tunnel_id, None, "Peer restarted, tunnel replaced"))
        teardown.end_tunnel(
            lns,
            existing,
            Hangup(StopCcnResult.GENERAL_REQUEST),
            now,
            by_peer=True,
            reason="peer restarted",
        )
        lns.forget(existing)
        existing = None
    if existing is not None and (existing.linger_until is None or existing.channel.nr == 1):
        return existing  # a retransmitted SCCRQ: the channel acknowledges it again
    # else a new control connection (a client reconnecting with the same tunnel id)
    if message.ns != 0:
        lns.count("unexpected")  # an SCCRQ opens the connection with Ns 0 (§5.8)
        return None
    on_sa = lns.by_child.get(peer.child_sa_id, ()) if peer.child_sa_id is not None else ()
    # tunnels that are over (lingering to acknowledge a StopCCN) do not count: a client that
    # hangs up and dials again on the same IPsec SA is not held back by its last tunnel
    carried = sum(
        1 for t in on_sa if (live := lns.tunnels.get(t)) is not None and live.linger_until is None
    )
    if carried >= lns.settings.tunnels_per_sa:
        lns.count("tunnels_per_sa_refused")
        lns.vpdn_error(
            error_line(
                None,
                None,
                f"No tunnel for {peer.address}: its IPsec SA carries {carried} tunnels already",
            )
        )
        return None
    tunnel_id = None
    if len(lns.tunnels) < lns.settings.max_tunnels:
        tunnel_id = lns.new_id(set(lns.tunnels))
    if tunnel_id is None:
        lns.count("unexpected")
        lns.vpdn_error(error_line(None, None, f"No tunnel for {peer.address}: too many tunnels"))
        return None
    channel = ControlChannel(
        local_rws=lns.settings.receive_window,
        retransmit_initial=lns.settings.retransmit_initial,
        retransmit_cap=lns.settings.retransmit_cap,
        max_retries=lns.settings.max_retries,
        ack_delay=lns.settings.ack_delay,
        max_unsent=lns.settings.max_unsent,
    )
    channel.remote_tunnel_id = remote_id
    tunnel = L2tpTunnel(tunnel_id, remote_id, peer, channel, TunnelState.IDLE, now, now)
    lns.tunnels[tunnel_id] = tunnel
    lns.by_child.setdefault(peer.child_sa_id, set()).add(tunnel_id)
    if remote_id:
        lns.by_remote[(peer, remote_id)] = tunnel_id
    return tunnel


def on_sccrq(lns: L2tpLns, m: Incoming) -> None:
    tunnel, avps, unknown, now = m.tunnel, m.avps, m.unknown, m.now
    tunnel.remote_host_name = avp_text(avps.get(AvpType.HOST_NAME))[:64]
    rws = avps.get(AvpType.RECEIVE_WINDOW_SIZE)
    if rws is not None:
        asked = rws.u16()
        if asked > lns.settings.peer_window_max:  # §5.8 lets us send fewer than it takes
            lns.count("peer_window_clamped")
        tunnel.channel.peer_rws = max(1, min(asked, lns.settings.peer_window_max))
    lns.vpdn_event(
        event_line(
            tunnel.tunnel_id,
            None,
            f"New tunnel created for remote {tunnel.remote_host_name}, "
            f"address {tunnel.peer.address}",
        )
    )
    missing = [
        name
        for name, t in (
            ("Protocol Version", AvpType.PROTOCOL_VERSION),
            ("Host Name", AvpType.HOST_NAME),
            ("Framing Capabilities", AvpType.FRAMING_CAPABILITIES),
            ("Assigned Tunnel ID", AvpType.ASSIGNED_TUNNEL_ID),
        )
        if t not in avps
    ]
    if unknown:
        teardown.reject_unknown(lns, tunnel, None, unknown, now)
        return
    if missing:
        teardown.stop_tunnel(
            lns,
            tunnel,
            Hangup(StopCcnResult.GENERAL_ERROR, ErrorCode.BAD_LENGTH, f"missing {missing[0]} AVP"),
            now,
        )
        return
    if avps[AvpType.ASSIGNED_TUNNEL_ID].u16() == 0:
        teardown.stop_tunnel(
            lns,
            tunnel,
            Hangup(StopCcnResult.GENERAL_ERROR, ErrorCode.OUT_OF_RANGE, "tunnel id 0"),
            now,
        )
        return
    if avps[AvpType.PROTOCOL_VERSION].value != b"\x01\x00":
        teardown.stop_tunnel(
            lns,
            tunnel,
            Hangup(StopCcnResult.BAD_PROTOCOL_VERSION, None, "version 1.0 only"),
            now,
        )
        return
    peer_challenge = avps.get(AvpType.CHALLENGE)
    secret = lns.settings.secret
    reply = [
        Avp.of_u16(AvpType.MESSAGE_TYPE, MessageType.SCCRP),
        Avp(AvpType.PROTOCOL_VERSION, b"\x01\x00"),
        Avp.of_u32(AvpType.FRAMING_CAPABILITIES, FRAMING_SYNC | FRAMING_ASYNC),
        Avp.of_u32(AvpType.BEARER_CAPABILITIES, 0),
        Avp.of_u16(AvpType.FIRMWARE_REVISION, lns.settings.firmware_revision, mandatory=False),
        Avp(AvpType.HOST_NAME, lns.settings.host_name.encode()),
        Avp(AvpType.VENDOR_NAME, lns.settings.vendor_name.encode(), mandatory=False),
        Avp.of_u16(AvpType.ASSIGNED_TUNNEL_ID, tunnel.tunnel_id),
        Avp.of_u16(AvpType.RECEIVE_WINDOW_SIZE, tunnel.channel.local_rws),
    ]
    if peer_challenge is not None:
        if secret is None or not peer_challenge.value:
            teardown.stop_tunnel(
                lns,
                tunnel,
                Hangup(StopCcnResult.NOT_AUTHORIZED, None, "challenge without a tunnel secret"),
                now,
            )
            return
        lns.vpdn_event(
            event_line(
                tunnel.tunnel_id, None, f"Got a challenge in SCCRQ, {tunnel.remote_host_name}"
            )
        )
        reply.append(
            Avp(
                AvpType.CHALLENGE_RESPONSE,
                challenge_response(MessageType.SCCRP, secret, peer_challenge.value),
            )
        )
    if secret is not None:
        tunnel.challenge = lns.random_bytes(16)
        reply.append(Avp(AvpType.CHALLENGE, tunnel.challenge))
    lns.send_control(tunnel, 0, reply)
    lns.set_tunnel_state(tunnel, TunnelState.WAIT_CTL_CONN, now)


def on_scccn(lns: L2tpLns, m: Incoming) -> None:
    tunnel, avps, unknown, now = m.tunnel, m.avps, m.unknown, m.now
    if unknown:
        teardown.reject_unknown(lns, tunnel, None, unknown, now)
        return
    if tunnel.challenge is not None and lns.settings.secret is not None:
        response = avps.get(AvpType.CHALLENGE_RESPONSE)
        expected = challenge_response(MessageType.SCCCN, lns.settings.secret, tunnel.challenge)
        if response is None or not hmac.compare_digest(response.value, expected):
            lns.vpdn_error(
                error_line(
                    tunnel.tunnel_id,
                    None,
                    f"Tunnel authentication failed for {tunnel.remote_host_name}",
                )
            )
            teardown.stop_tunnel(
                lns,
                tunnel,
                Hangup(StopCcnResult.NOT_AUTHORIZED, None, "tunnel authentication failed"),
                now,
            )
            return
    lns.set_tunnel_state(tunnel, TunnelState.ESTABLISHED, now)
    lns.events.append(
        TunnelEstablished(
            TunnelKey(tunnel.tunnel_id),
            tunnel.peer,
            tunnel.remote_tunnel_id,
            tunnel.remote_host_name,
        )
    )


def on_stopccn(lns: L2tpLns, m: Incoming) -> None:
    tunnel, avps, now = m.tunnel, m.avps, m.now
    result, error, text = result_of(avps.get(AvpType.RESULT_CODE))
    lns.vpdn_event(
        event_line(
            tunnel.tunnel_id,
            None,
            f"Received StopCCN from {tunnel.remote_host_name}, result {result}"
            + (f", error {error}" if error is not None else "")
            + (f", {text}" if text else ""),
        )
    )
    tunnel.channel.ack_now(now)
    lns.dirty.add(tunnel.tunnel_id)
    teardown.end_tunnel(lns, tunnel, Hangup(result, error, text), now, by_peer=True)


def on_hello(lns: L2tpLns, m: Incoming) -> None:
    tunnel, unknown, now = m.tunnel, m.unknown, m.now
    if unknown:
        teardown.stop_tunnel(
            lns,
            tunnel,
            Hangup(
                StopCcnResult.GENERAL_ERROR,
                ErrorCode.UNKNOWN_MANDATORY_AVP,
                "unknown mandatory AVP in HELLO",
            ),
            now,
        )
