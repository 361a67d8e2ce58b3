"""Quick mode (RFC 2409 §5.5): message 1 (the proposal and selectors chosen against the crypto
maps, PFS, NAT-OA, RESPONDER-LIFETIME) answered with message 2 and the inbound SA installed at
once; message 3 (HASH(3)) makes the pair (RFC 2409 §5.5 KEYMAT) and switches outbound traffic.
Retransmissions of either are answered from what was kept."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from pixgw.ike import constants as c
from pixgw.ike import crypto
from pixgw.ike.events import (
    ChildSaEstablished,
    ChildSaPending,
    EspSaParameters,
    TrafficSelector,
)
from pixgw.ike.exchanges import informational
from pixgw.ike.exchanges.common import (
    ENCAPS_NAMES,
    MAX_PENDING_QUICK_MODES,
    N_CONNECTED,
    NONCE_BYTES,
    QUICK_MODE_LIFETIME,
    ChildSaRecord,
    Inbound,
    describe_offers,
    encode_attributes,
    nat_oa_address,
    proxy,
)
from pixgw.ike.message import (
    Attribute,
    HashPayload,
    Header,
    IdPayload,
    KePayload,
    NatOaPayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
    encode_message,
    encode_payloads,
)
from pixgw.ike.phase1 import IsakmpSa
from pixgw.ike.policy import (
    choose_phase2,
    esp_cipher_name,
    esp_integrity_name,
)
from pixgw.ike.quickmode import (
    QuickModeExchange,
    QuickModeState,
    keymat_length,
    selector_from_id,
    split_keymat,
)
from pixgw.wire import MalformedMessage

if TYPE_CHECKING:  # the responder hands itself in; it imports this module, not the reverse
    from pixgw.ike.core import IkeResponder


def process(core: IkeResponder, sa: IsakmpSa, msg: Inbound) -> None:
    header, data = msg.header, msg.data
    if header.message_id == 0 or not header.flags & c.FLAG_ENCRYPTION:
        raise MalformedMessage("quick mode without a message id or not encrypted")
    key = (sa.ike_sa_id, header.message_id)
    ex = core.quick.get(key)
    if ex is not None:
        if data == ex.last_received:
            core.answer_duplicate(ex.last_sent, sa.local, sa.remote)
        elif ex.state is QuickModeState.QM_AUTH_AWAIT:
            _message_3(core, sa, ex, msg)
        return
    pending = len(core.quick_of_sa.get(sa.ike_sa_id, ()))
    if pending >= MAX_PENDING_QUICK_MODES:
        core.debug("ISAKMP: too many quick modes in progress, dropped")
        return
    limit = core.config.isakmp.limit_child_sa
    waiting = sum(1 for mid in core.quick_of_sa.get(sa.ike_sa_id, ())
                  if core.quick[(sa.ike_sa_id, mid)].state is QuickModeState.QM_AUTH_AWAIT)
    if len(core.children_by_sa.get(sa.ike_sa_id, ())) + waiting >= limit:
        # one client's phase 1 holds one pair (two while it rekeys): a peer that asks for more
        # is refused before any key work, and told so under the phase-1 SA
        core.count(child_sa_refused=1)
        core.rate_log("child-sa", f"IKE peer {sa.remote.address}: quick mode refused, its "
                                  f"ISAKMP SA holds {limit} IPsec SAs (isakmp limit child-sa)")
        informational.send(core, sa, [NotifyPayload(c.DOI_IPSEC, c.PROTO_ESP,
                                                     c.N_NO_PROPOSAL_CHOSEN)], msg.now)
        return
    _message_1(core, sa, msg)


def _message_1(core: IkeResponder, sa: IsakmpSa, msg: Inbound) -> None:
    header, body, data, local, remote, now = (msg.header, msg.body, msg.data, msg.local,
                                              msg.remote, msg.now)
    choice1, cipher, keys = sa.choice, sa.cipher, sa.keys
    if choice1 is None or cipher is None or keys is None:
        return
    mid = header.message_id
    mid_b = mid.to_bytes(4, "big")
    iv0 = crypto.phase2_iv(choice1.hash, sa.iv, mid, cipher.block_size)
    payloads, plaintext, spans = core.decrypt(sa, iv0, header, body)
    iv = body[-cipher.block_size :]
    rest = plaintext[spans[0][2] : spans[-1][2]]
    core.debug(f"crypto_isakmp_process_block: src {remote.address}, dest {local.address}")
    core.debug("OAK_QM exchange")
    core.debug("oakley_process_quick_mode: OAK_QM_IDLE")
    if not isinstance(payloads[0], HashPayload):
        return
    if not hmac.compare_digest(payloads[0].data, core.prf_a(sa, mid_b + rest)):
        core.count(authentication_failed=1)
        core.debug("ISAKMP (0): quick mode HASH(1) does not verify, message dropped")
        return
    sa.last_heard = now
    sa_payload = next((p for p in payloads if isinstance(p, SaPayload)), None)
    nonce = next((p for p in payloads if isinstance(p, NoncePayload)), None)
    ke = next((p for p in payloads if isinstance(p, KePayload)), None)
    ids = [p for p in payloads if isinstance(p, IdPayload)]
    nat_oa = [p for p in payloads if isinstance(p, NatOaPayload)]
    if sa_payload is None or nonce is None or len(ids) not in (0, 2):
        raise MalformedMessage("quick mode message 1 without SA, nonce or a pair of IDs")
    if not 8 <= len(nonce.data) <= 256:
        raise MalformedMessage(f"nonce of {len(nonce.data)} bytes")
    core.debug(f"ISAKMP (0): processing SA payload. message ID = {mid}")
    if ids:
        remote_sel, local_sel = selector_from_id(ids[0]), selector_from_id(ids[1])
        if sa.local_behind_nat and local_sel.first == local_sel.last != local.address:
            # the client names our public address; we know ourselves by the private one
            local_sel = TrafficSelector(local.address, local.address, local_sel.protocol,
                                        local_sel.port)
    else:
        remote_sel = TrafficSelector(remote.address, remote.address)
        local_sel = TrafficSelector(local.address, local.address)
    natt = sa.natt is not None and (sa.peer_behind_nat or sa.local_behind_nat)
    choice, reason = choose_phase2(
        core.config, local=local.address, proposals=sa_payload.proposals,
        local_selector=local_sel, remote_selector=remote_sel, natt=natt,
        pfs_offered=ke is not None, sink=core.sink)
    if choice is None:
        if reason.startswith("invalid transform"):
            core.ipsec_debug(f"IPSEC(validate_proposal): {reason}")
        else:
            core.ipsec_debug(reason)
        core.count(proposals_refused=1)
        core.pix(713900, f"IKE peer {remote.address}: quick mode refused: {reason} (offered: "
                  f"{describe_offers(sa_payload.proposals)}; selectors "
                  f"{proxy(remote_sel)} -> {proxy(local_sel)})")
        code = (c.N_INVALID_ID_INFORMATION if reason.startswith("no IPSEC cryptomap")
                else c.N_NO_PROPOSAL_CHOSEN)
        informational.send(core, sa, [NotifyPayload(c.DOI_IPSEC, c.PROTO_ESP, code)], now)
        return
    t = choice.transform
    cipher_name = esp_cipher_name(t.transform_id, t.attribute(c.P2_KEY_LENGTH))
    integrity = esp_integrity_name(t.attribute(c.P2_AUTH))
    core.sink.debug("crypto ipsec",
          f"IPSEC(validate_proposal_request): proposal part #1, (key eng. msg.) "
          f"dest= {local.address}, src= {remote.address}, "
          f"dest_proxy= {proxy(local_sel)}, src_proxy= {proxy(remote_sel)}, "
          f"protocol= ESP, transform= {cipher_name} {integrity or ''} , lifedur= 0s and 0kb, "
          f"spi= 0x0(0), conn_id= 0, keysize= 0, flags= 0x0")
    gxy_qm = b""
    dh = None
    if choice.pfs_group is not None:
        if ke is None:
            raise MalformedMessage("PFS group without KE")
        dh = crypto.DhPrivate(choice.pfs_group, core.random)
        gxy_qm = dh.shared_secret(ke.data)
    elif ke is not None:
        raise MalformedMessage("KE without a PFS group")
    inbound_spi = spi(core)
    spi_int = int.from_bytes(inbound_spi, "big")
    core.ipsec_debug(f"IPSEC(spi_response): getting spi 0x{spi_int:x}({spi_int}) for "
                     f"SA from {remote.address} to {local.address} for prot 3")
    nr = core.random(NONCE_BYTES)
    answer: list[Payload] = [
        SaPayload(sa_payload.doi, sa_payload.situation,
                  (Proposal(choice.proposal.number, c.PROTO_ESP, inbound_spi, (t,)),)),
        NoncePayload(nr),
    ]
    if dh is not None:
        answer.append(KePayload(dh.public))
    answer.extend(ids)
    if choice.responder_lifetime:
        attrs = (Attribute.of(c.P2_LIFE_TYPE, c.LIFE_SECONDS),
                 Attribute.of(c.P2_LIFE_DURATION, choice.lifetime_seconds),
                 Attribute.of(c.P2_LIFE_TYPE, c.LIFE_KILOBYTES),
                 Attribute.of(c.P2_LIFE_DURATION, choice.lifetime_kilobytes))
        answer.append(NotifyPayload(c.DOI_IPSEC, c.PROTO_ESP, c.N_RESPONDER_LIFETIME,
                                    inbound_spi, encode_attributes(attrs)))
    oa_i = oa_r = None
    if nat_oa:
        oa_i = nat_oa_address(nat_oa[0])
        oa_r = nat_oa_address(nat_oa[1]) if len(nat_oa) > 1 else None
        if sa.natt is not None:
            answer.append(NatOaPayload(c.ID_IPV4_ADDR, remote.address.packed,
                                       sa.natt.nat_oa_type))
            if sa.natt.nat_oa_type == c.PT_NAT_OA:
                answer.append(NatOaPayload(c.ID_IPV4_ADDR, local.address.packed,
                                           sa.natt.nat_oa_type))
    hash2 = core.prf_a(sa, mid_b + nonce.data + encode_payloads(answer))
    plaintext_out = encode_payloads([HashPayload(hash2), *answer])
    encrypted = cipher.encrypt(keys.encryption_key, iv, plaintext_out)
    commit = bool(header.flags & c.FLAG_COMMIT)
    flags = c.FLAG_ENCRYPTION | (c.FLAG_COMMIT if commit else 0)
    reply = encode_message(Header(sa.cky_i, sa.cky_r, c.PT_HASH, c.ISAKMP_VERSION,
                                  c.EXCH_QUICK, flags, mid), encrypted_body=encrypted)
    core.set_endpoints(sa, local, remote)
    ex = QuickModeExchange(
        message_id=mid, iv=encrypted[-cipher.block_size :], ni=nonce.data, nr=nr,
        choice=choice, local_selector=local_sel, remote_selector=remote_sel,
        inbound_spi=inbound_spi, outbound_spi=choice.proposal.spi, gxy=gxy_qm,
        commit=commit, last_received=data,
        last_sent=core.send(reply, local, remote, now, retransmit=True),
        expires_at=now + QUICK_MODE_LIFETIME, nat_oa_initiator=oa_i, nat_oa_responder=oa_r,
        dh=dh,
    )
    core.quick[(sa.ike_sa_id, mid)] = ex
    core.quick_of_sa.setdefault(sa.ike_sa_id, set()).add(mid)
    core.quick_spis.add(int.from_bytes(ex.inbound_spi, "big"))
    core.arm_quick((sa.ike_sa_id, mid), ex)
    ex.child = child_sa(core, sa, ex)
    if ex.child is not None:
        # the initiator may send on the new SA as soon as it reads message 2
        core.events.append(ChildSaPending(ex.child))
    core.pix(702209, f"ISAKMP Phase 2 exchange started (local {local.address} (responder), "
              f"remote {remote.address})")


def child_sa(core: IkeResponder, sa: IsakmpSa, ex: QuickModeExchange) -> ChildSaEstablished | None:
    """The SA pair quick mode *ex* makes (RFC 2409 §5.5 KEYMAT, one per direction), with a
    fresh child id; None when the transform names no ESP cipher we run."""
    choice1 = sa.choice
    if choice1 is None or sa.keys is None:
        return None
    choice = ex.choice
    t = choice.transform
    cipher_name = esp_cipher_name(t.transform_id, t.attribute(c.P2_KEY_LENGTH))
    integrity = esp_integrity_name(t.attribute(c.P2_AUTH))
    if cipher_name is None:
        return None
    length = keymat_length(cipher_name, integrity)
    km = {}
    for direction, spi in (("in", ex.inbound_spi), ("out", ex.outbound_spi)):
        km[direction] = split_keymat(
            crypto.keymat(choice1.hash, sa.keys.skeyid_d, protocol=c.PROTO_ESP, spi=spi,
                          ni=ex.ni, nr=ex.nr, length=length, gxy_qm=ex.gxy),
            cipher_name, integrity)
    child_id = core.next_child_id
    core.next_child_id += 2
    return ChildSaEstablished(
        ike_sa_id=sa.ike_sa_id, child_sa_id=child_id, local=sa.local, remote=sa.remote,
        inbound=EspSaParameters(int.from_bytes(ex.inbound_spi, "big"), cipher_name, integrity,
                                km["in"][0], km["in"][1]),
        outbound=EspSaParameters(int.from_bytes(ex.outbound_spi, "big"), cipher_name,
                                 integrity, km["out"][0], km["out"][1]),
        encapsulation=ENCAPS_NAMES.get(choice.encapsulation, "tunnel"),
        local_selector=ex.local_selector, remote_selector=ex.remote_selector,
        lifetime_seconds=choice.lifetime_seconds,
        lifetime_kilobytes=choice.lifetime_kilobytes, crypto_map=choice.map_name,
        crypto_map_sequence=choice.map_sequence, remote_behind_nat=sa.peer_behind_nat,
        peer_vendor=sa.peer_vendor, nat_oa_initiator=ex.nat_oa_initiator,
        nat_oa_responder=ex.nat_oa_responder,
    )


def _message_3(core: IkeResponder, sa: IsakmpSa, ex: QuickModeExchange, msg: Inbound) -> None:
    header, body, data, now = msg.header, msg.body, msg.data, msg.now
    choice1 = sa.choice
    if choice1 is None or sa.cipher is None:
        return
    mid_b = ex.message_id.to_bytes(4, "big")
    payloads, _, _ = core.decrypt(sa, ex.iv, header, body)
    core.debug("oakley_process_quick_mode: OAK_QM_AUTH_AWAIT")
    if not isinstance(payloads[0], HashPayload):
        return
    expected = core.prf_a(sa, b"\x00" + mid_b + ex.ni + ex.nr)
    if not hmac.compare_digest(payloads[0].data, expected):
        core.count(authentication_failed=1)
        core.debug("ISAKMP (0): quick mode HASH(3) does not verify, message dropped")
        return
    sa.last_heard = now
    event = ex.child
    if event is None:
        return
    child_id = event.child_sa_id
    choice = ex.choice
    cipher_name, integrity = event.inbound.cipher, event.inbound.integrity
    core.children[child_id] = ChildSaRecord(event, now, now + choice.lifetime_seconds,
                                            sa.peer_id)
    core.child_deadlines.set(child_id, now + choice.lifetime_seconds)
    core.children_by_address.setdefault(event.remote.address, set()).add(child_id)
    core.children_by_sa.setdefault(event.ike_sa_id, set()).add(child_id)
    core.children_by_endpoint.setdefault(
        (event.remote.address, event.remote.port), set()).add(child_id)
    core.child_spis.add(event.inbound.spi)
    sa.children_created += 1
    ex.state = QuickModeState.QM_DONE
    ex.last_received = data
    ex.last_sent = None
    core.debug("ISAKMP (0): Creating IPSec SAs")
    transform = f"{cipher_name} {integrity or ''} "
    for direction, spi_value, dest, conn in (
        ("inbound", event.inbound.spi, sa.local.address, child_id),
        ("outbound", event.outbound.spi, sa.remote.address, child_id + 1),
    ):
        core.debug(f"        {direction} SA has spi {spi_value} and conn_id {conn} and "
                   f"flags 0")
        core.pix(602301, f"sa created, (sa) sa_dest= {dest}, sa_prot= 50, sa_spi= "
                 f"0x{spi_value:x}({spi_value}), sa_trans= {transform}, "
                 f"sa_conn_id= {conn}")
    core.pix(702211, f"ISAKMP Phase 2 exchange completed (local {sa.local.address} "
              f"(responder), remote {sa.remote.address})")
    core.events.append(event)
    if ex.commit:
        informational.send(core, sa, [NotifyPayload(c.DOI_IPSEC, c.PROTO_ESP, N_CONNECTED,
                                                    ex.inbound_spi)], now)


def spi(core: IkeResponder) -> bytes:
    for _ in range(16):
        spi = core.random(4)
        value = int.from_bytes(spi, "big")
        if value >= 256 and value not in core.child_spis and value not in core.quick_spis:
            return spi
    raise ValueError("no free SPI")
