"""Informational exchanges (RFC 2409 §5.7, RFC 2408 §3.14/§3.15): notifies (DPD R-U-THERE and
its ACK, RFC 3706; INITIAL-CONTACT, RFC 2407 §4.6.3.3) and deletes received under the phase-1 SA,
and the protected informational messages the responder sends (deletes, notifies, DPD)."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from pixgw.ike import constants as c
from pixgw.ike import crypto
from pixgw.ike.events import (
    Endpoint,
)
from pixgw.ike.exchanges.common import (
    DPD_RETRIES,
    MAX_DELETE_SPIS,
    Inbound,
)
from pixgw.ike.message import (
    DeletePayload,
    HashPayload,
    Header,
    NotifyPayload,
    Payload,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from pixgw.ike.phase1 import IsakmpSa, MainModeState
from pixgw.wire import MalformedMessage

if TYPE_CHECKING:  # the responder hands itself in; it imports this module, not the reverse
    from pixgw.ike.core import IkeResponder


def process(core: IkeResponder, sa: IsakmpSa, msg: Inbound) -> None:
    header, body, local, remote, now = msg.header, msg.body, msg.local, msg.remote, msg.now
    if not header.flags & c.FLAG_ENCRYPTION:
        # not authenticated: logged, never acted on (RFC 2408 §5.7)
        for p in decode_payloads(header.next_payload, body):
            if isinstance(p, NotifyPayload):
                core.debug(f"ISAKMP (0): processing NOTIFY payload {p.message_type} "
                           f"protocol {p.protocol} (unauthenticated, ignored)")
        return
    if sa.state is not MainModeState.QM_IDLE or sa.choice is None or sa.cipher is None:
        core.count(malformed=1)
        return
    mid = header.message_id
    if mid == 0:
        raise MalformedMessage("informational exchange with message id 0")
    iv = crypto.phase2_iv(sa.choice.hash, sa.iv, mid, sa.cipher.block_size)
    payloads, plaintext, spans = core.decrypt(sa, iv, header, body)
    rest = plaintext[spans[0][2] : spans[-1][2]]
    if not isinstance(payloads[0], HashPayload):
        return
    if not hmac.compare_digest(payloads[0].data, core.prf_a(sa, mid.to_bytes(4, "big")
                                                            + rest)):
        core.count(authentication_failed=1)
        core.debug("ISAKMP (0): informational HASH does not verify, message dropped")
        return
    sa.last_heard = now
    core.set_endpoints(sa, local, remote)
    for p in payloads[1:]:
        if isinstance(p, NotifyPayload):
            _notify_received(core, sa, p, now)
        elif isinstance(p, DeletePayload):
            _delete_received(core, sa, p, now)
            if sa.ike_sa_id not in core.sas:
                return


def _notify_received(core: IkeResponder, sa: IsakmpSa, p: NotifyPayload, now: float) -> None:
    core.debug(f"ISAKMP (0): processing NOTIFY payload {p.message_type} protocol "
               f"{p.protocol}")
    if p.message_type == c.N_R_U_THERE and len(p.data) == 4:
        send(core, sa, [NotifyPayload(c.DOI_IPSEC, c.PROTO_ISAKMP,
                                                    c.N_R_U_THERE_ACK, sa.ike_sa_id, p.data)],
                                 now)
    elif p.message_type == c.N_R_U_THERE_ACK:
        if int.from_bytes(p.data[:4], "big") == sa.dpd_sequence:
            sa.dpd_unanswered = 0
            keepalive = core.config.isakmp.keepalive
            if keepalive is not None:
                sa.dpd_next_at = now + keepalive[0]
                core.arm_sa(sa)
    elif p.message_type == c.N_INITIAL_CONTACT:
        initial_contact(core, sa, now)


def _delete_received(core: IkeResponder, sa: IsakmpSa, p: DeletePayload, now: float) -> None:
    if p.protocol == c.PROTO_ISAKMP:
        if sa.ike_sa_id in p.spis[:MAX_DELETE_SPIS]:
            core.pix(702201, f"ISAKMP Phase 1 delete received (local {sa.local.address} "
                      f"(responder), remote {sa.remote.address})")
            core.delete_ike(sa, now, "deleted by peer", notify_peer=False)
        return
    if p.protocol != c.PROTO_ESP or p.spi_size != 4:
        return
    if len(p.spis) > MAX_DELETE_SPIS:
        core.count(delete_spis_ignored=len(p.spis) - MAX_DELETE_SPIS)
    wanted = {int.from_bytes(spi_b, "big") for spi_b in p.spis[:MAX_DELETE_SPIS]}
    found: set[int] = set()
    for child_id in sorted(own_children(core, sa)):
        e = core.children[child_id].event
        named = wanted & {e.outbound.spi, e.inbound.spi}
        if named:
            found |= named
            core.delete_child(child_id, now, "deleted by peer", notify_peer=False)
    if wanted - found:  # another peer's SA (a client behind the same NAT), or one already gone
        core.count(delete_spis_not_own=len(wanted - found))


def own_children(core: IkeResponder, sa: IsakmpSa) -> set[int]:
    """The child SAs a Delete under *sa* may name: its own, and those its peer made under another
    phase-1 SA (a phase 1 rekeyed, alive or gone): the same proven ID from the same address and
    port. Clients behind one NAT share the address and often the ID (a private address): the
    port alone tells them apart, whether or not they said they do NAT-T."""
    mine = set(core.children_by_sa.get(sa.ike_sa_id, ()))
    candidates = core.children_by_endpoint.get((sa.remote.address, sa.remote.port), ())
    mine.update(i for i in candidates if core.children[i].peer_id == sa.peer_id)
    return mine


def send(core: IkeResponder, sa: IsakmpSa, payloads: list[Payload], now: float) -> None:
    choice, cipher, keys = sa.choice, sa.cipher, sa.keys
    if choice is None or cipher is None or keys is None or sa.authenticated_at is None:
        return
    mid = 0
    while mid == 0 or mid in sa.info_message_ids:
        mid = int.from_bytes(core.random(4), "big")
    sa.info_message_ids.add(mid)
    if len(sa.info_message_ids) > 64:
        sa.info_message_ids.pop()
    h = core.prf_a(sa, mid.to_bytes(4, "big") + encode_payloads(payloads))
    iv = crypto.phase2_iv(choice.hash, sa.iv, mid, cipher.block_size)
    encrypted = cipher.encrypt(keys.encryption_key, iv,
                               encode_payloads([HashPayload(h), *payloads]))
    data = encode_message(Header(sa.cky_i, sa.cky_r, c.PT_HASH, c.ISAKMP_VERSION,
                                 c.EXCH_INFO, c.FLAG_ENCRYPTION, mid),
                          encrypted_body=encrypted)
    core.out.append((data, sa.local, sa.remote))


def dpd_tick(core: IkeResponder, sa: IsakmpSa, now: float) -> None:
    keepalive = core.config.isakmp.keepalive
    if keepalive is None:
        sa.dpd_next_at = None
        return
    if sa.dpd_unanswered >= DPD_RETRIES:
        core.debug(f"ISAKMP (0): DPD: {sa.remote.address} not responding, deleting SA")
        for child_id in sorted(core.children_by_sa.get(sa.ike_sa_id, ())):  # children first
            core.delete_child(child_id, now, "DPD: peer not responding", notify_peer=False)
        core.delete_ike(sa, now, "DPD: peer not responding", notify_peer=False)
        return
    if sa.dpd_unanswered == 0:
        sa.dpd_sequence = (sa.dpd_sequence + 1) & 0xFFFFFFFF or 1
    sa.dpd_unanswered += 1
    send(core, sa, [NotifyPayload(c.DOI_IPSEC, c.PROTO_ISAKMP, c.N_R_U_THERE,
                                                sa.ike_sa_id,
                                                sa.dpd_sequence.to_bytes(4, "big"))], now)
    sa.dpd_next_at = now + keepalive[1]


def initial_contact(core: IkeResponder, sa: IsakmpSa, now: float) -> None:
    """RFC 2407 §4.6.3.3: the peer rebooted; drop its other SAs. A peer is the same address
    and ID, and behind a NAT also the same port: clients behind one (carrier-grade) NAT may
    share a private address, and one must never tear down another's SAs."""

    def same_peer(remote: Endpoint) -> bool:
        if sa.peer_behind_nat:
            return remote == sa.remote
        return remote.address == sa.remote.address

    address = sa.remote.address
    if sa.peer_id is not None:  # the SAs with the same address and ID, from the index
        same_id = core.sas_by_peer.get((address, sa.peer_id), set())
    else:
        same_id = {i for i in core.sas_by_address.get(address, ())
                   if core.sas[i].peer_id is None}
    gone = {i for i in same_id if i != sa.ike_sa_id and same_peer(core.sas[i].remote)}
    victims: set[int] = set()
    for ike_sa_id in gone:
        victims.update(core.children_by_sa.get(ike_sa_id, ()))
    # child SAs whose phase 1 is already gone: the same peer's if the endpoint matches
    victims.update(i for i in core.orphans_by_address.get(address, ())
                   if same_peer(core.children[i].event.remote))
    for child_id in sorted(victims):  # children first
        core.delete_child(child_id, now, "INITIAL-CONTACT", notify_peer=False)
    for ike_sa_id in gone:
        core.delete_ike(core.sas[ike_sa_id], now, "INITIAL-CONTACT", notify_peer=False)
