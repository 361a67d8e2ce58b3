"""Main mode (RFC 2409 §5, identity protection): message 1 (the SA chosen, the half-open
bounds), message 3 (KE and nonce, NAT-D, the keys), message 5 (the peer's identity proven by
pre-shared key HASH_I or signature and certificate), answered with messages 2, 4 and 6.

Each step takes the responder (the registry and the services: sending, timers, counters, logs)
and the message; the responder's (state, input) table decides whether a step may run and
assigns the state when it has."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from pixgw.ike import constants as c
from pixgw.ike import crypto
from pixgw.ike.certauth import PeerIdentity
from pixgw.ike.events import (
    Endpoint,
)
from pixgw.ike.exchanges import informational
from pixgw.ike.exchanges.common import (
    FIRST_MESSAGE_CACHE,
    HALF_OPEN_BUSY_LIFETIME,
    HALF_OPEN_LIFETIME,
    MAX_FIRST_MESSAGE,
    MAX_SA_PAYLOAD,
    MS_VERSIONS,
    NONCE_BYTES,
    Inbound,
    bounded,
    discard,
    encryption_name,
)
from pixgw.ike.message import (
    CertPayload,
    CertReqPayload,
    HashPayload,
    Header,
    IdPayload,
    KePayload,
    NatDPayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
    SigPayload,
    VendorIdPayload,
    decode_payloads,
    encode_message,
    encode_payload_body,
    encode_payloads,
    payload_spans,
)
from pixgw.ike.natt import choose_variant, detect, nat_d_hash
from pixgw.ike.phase1 import IsakmpSa
from pixgw.ike.policy import (
    HASH_NAMES,
    choose_phase1,
)
from pixgw.wire import MalformedMessage

if TYPE_CHECKING:  # the responder hands itself in; it imports this module, not the reverse
    from pixgw.ike.core import IkeResponder


def message_1(core: IkeResponder, msg: Inbound) -> IsakmpSa | None:
    header, body, data, local, remote, now = (msg.header, msg.body, msg.data, msg.local,
                                              msg.remote, msg.now)
    known = core.by_initiator.get((header.initiator_cookie, remote))
    if known is not None and known in core.sas:
        sa = core.sas[known]
        if sa.last_received == data:
            core.answer_duplicate(sa.last_sent, sa.local, sa.remote)
        else:
            core.count(malformed=1)
        return None
    if header.message_id != 0 or header.flags & c.FLAG_ENCRYPTION:
        raise MalformedMessage("main mode message 1 with a message id or encrypted")
    owner = next((i.name for i in core.config.interfaces if i.address == local.address),
                 None)
    if owner is not None and owner not in core.config.isakmp.enabled_interfaces:
        core.debug(f"ISAKMP: isakmp not enabled on interface {owner}, message from "
                   f"{remote.address} dropped")
        core.count(proposals_refused=1)
        return None
    decoded = core.first_decoded.get((header.next_payload, body))
    if decoded is None:
        decoded = (decode_payloads(header.next_payload, body),
                   payload_spans(header.next_payload, body))
        if len(core.first_decoded) >= FIRST_MESSAGE_CACHE:
            del core.first_decoded[next(iter(core.first_decoded))]
        core.first_decoded[(header.next_payload, body)] = decoded
    payloads, spans = decoded
    core.debug(f"crypto_isakmp_process_block: src {remote.address}, dest {local.address}")
    core.debug(f"ISAKMP: Created a peer node for {remote.address}")
    core.debug("OAK_MM exchange")
    if not payloads or not isinstance(payloads[0], SaPayload):
        raise MalformedMessage("main mode message 1 without an SA payload first")
    sa_payload = payloads[0]
    core.debug("ISAKMP (0): processing SA payload. message ID = 0")
    if (sa_payload.doi != c.DOI_IPSEC or len(sa_payload.proposals) != 1
            or sa_payload.proposals[0].protocol != c.PROTO_ISAKMP):
        raise MalformedMessage("phase-1 SA payload must hold one ISAKMP proposal")
    sa_body = spans[0][2] - spans[0][1] - 4
    if sa_body > MAX_SA_PAYLOAD or len(data) > MAX_FIRST_MESSAGE:
        core.count(refused_oversized=1)
        core.rate_log("oversized", f"IKE peer {remote.address}: first message of "
                                    f"{len(data)} bytes (SA payload {sa_body}) refused: "
                                    f"larger than any client offers")
        return None
    limits = core.config.isakmp
    established = len(core.sas) - len(core.unauthenticated)
    if established >= limits.limit_sa and not any(
        core.sas[i].authenticated_at is not None
        for i in core.sas_by_address.get(remote.address, ())
    ):  # a peer with an SA up may rekey phase 1 at the bound: its old SA goes after
        core.count(refused_capacity=1)
        core.rate_log("capacity", f"IKE peer {remote.address}: refused, {established} "
                                   f"ISAKMP SAs up (isakmp limit sa {limits.limit_sa})")
        return None
    proposal = sa_payload.proposals[0]
    sai_b = body[spans[0][1] + 4 : spans[0][2]]
    chosen = core.first_choice.get(sai_b)
    if chosen is None or core.sink.debug_enabled("crypto isakmp"):
        chosen = choose_phase1(core.config, proposal, sink=core.sink)
        if len(core.first_choice) >= FIRST_MESSAGE_CACHE:
            del core.first_choice[next(iter(core.first_choice))]
        core.first_choice[sai_b] = chosen
    choice, refusals = chosen
    vendor_ids = [p.data for p in payloads if isinstance(p, VendorIdPayload)]
    if choice is None:
        core.count(proposals_refused=1)
        core.pix(713900, f"IKE peer {remote.address}: no offered ISAKMP transform is "
                 f"acceptable ({bounded(refusals)})")
        if not core.refusal_budget.take(1, now):  # a flood of refused offers: fewer answers
            core.count(refusals_unanswered=1)
            return None
        notify = NotifyPayload(c.DOI_IPSEC, c.PROTO_ISAKMP, c.N_NO_PROPOSAL_CHOSEN)
        reply = encode_message(
            Header(header.initiator_cookie, core.cookie(), 0, c.ISAKMP_VERSION,
                   c.EXCH_INFO, 0, 0), (notify,))
        core.out.append((reply, local, remote))
        return None
    if not core.admit_half_open(remote.address, now):
        return None
    busy = len(core.half_open) >= max(1, limits.limit_half_open // 2)
    sa = IsakmpSa(cky_i=header.initiator_cookie, cky_r=core.cookie(), local=local,
                  remote=remote, created=now, conn_id=core.next_conn_id, choice=choice,
                  last_heard=now, first_remote=remote)
    core.next_conn_id += 1
    sa.cipher = crypto.cipher_spec(choice.cipher, choice.key_length)
    sa.sai_b = sai_b
    for vid in vendor_ids:
        core.debug("ISAKMP (0): processing vendor id payload")
        if vid.startswith(c.VID_MS_NT5_PREFIX) and len(vid) == 20:
            version = int.from_bytes(vid[16:], "big")
            sa.peer_vendor = MS_VERSIONS.get(version, f"MS NT5 ISAKMPOAKLEY {version}")
            core.debug(f"ISAKMP (0): speaking to a {sa.peer_vendor} client")
        elif vid == c.VID_MS_INITIAL_CONTACT:
            sa.peer_initial_contact = True
        elif vid[:16] == c.VID_FRAGMENTATION:
            sa.peer_fragmentation = True
        elif vid == c.VID_DPD:
            sa.peer_dpd = True
            core.debug("ISAKMP (0): peer supports DPD")
    sa.natt = choose_variant(vendor_ids)
    if sa.natt is not None:
        core.debug(f"ISAKMP (0): peer supports NAT-T ({sa.natt.name})")
    answer: list[Payload] = [SaPayload(
        sa_payload.doi, sa_payload.situation,
        (Proposal(proposal.number, c.PROTO_ISAKMP, b"", (choice.transform,)),),
    )]
    if sa.natt is not None:
        answer.append(VendorIdPayload(sa.natt.vendor_id))
    if sa.peer_dpd:
        answer.append(VendorIdPayload(c.VID_DPD))
    if sa.peer_fragmentation:
        answer.append(VendorIdPayload(c.VID_FRAGMENTATION))
    reply = encode_message(Header(sa.cky_i, sa.cky_r, 0, c.ISAKMP_VERSION, c.EXCH_MAIN, 0, 0),
                           answer)
    sa.last_received = data
    sa.last_sent = core.send(reply, local, remote, now, retransmit=not busy)
    sa.expires_at = now + (HALF_OPEN_BUSY_LIFETIME if busy else HALF_OPEN_LIFETIME)
    if busy:
        core.count(half_open_busy=1)
    core.sas[sa.ike_sa_id] = sa
    core.by_initiator[(sa.cky_i, remote)] = sa.ike_sa_id
    core.sas_by_address.setdefault(remote.address, set()).add(sa.ike_sa_id)
    held = len(sa.sai_b) + len(data) + len(reply)
    core.half_open[sa.ike_sa_id] = held
    core.half_open_bytes += held
    core.unauthenticated[sa.ike_sa_id] = remote.address
    core.unauthenticated_by_source.setdefault(remote.address, {})[sa.ike_sa_id] = None
    core.arm_sa(sa)
    core.pix(702208, f"ISAKMP Phase 1 exchange started (local {local.address} (responder), "
              f"remote {remote.address})")
    return sa



def message_3(core: IkeResponder, sa: IsakmpSa, msg: Inbound) -> bool:
    header, body, data, local, remote, now = (msg.header, msg.body, msg.data, msg.local,
                                              msg.remote, msg.now)
    if header.flags & c.FLAG_ENCRYPTION or header.message_id != 0:
        raise MalformedMessage("main mode message 3 encrypted or with a message id")
    payloads = decode_payloads(header.next_payload, body)
    choice = sa.choice
    if choice is None or sa.cipher is None:
        return False
    core.debug(f"crypto_isakmp_process_block: src {remote.address}, dest {local.address}")
    core.debug("OAK_MM exchange")
    ke = next((p for p in payloads if isinstance(p, KePayload)), None)
    nonce = next((p for p in payloads if isinstance(p, NoncePayload)), None)
    if ke is None or nonce is None:
        raise MalformedMessage("main mode message 3 without KE and nonce")
    if not 8 <= len(nonce.data) <= 256:
        raise MalformedMessage(f"nonce of {len(nonce.data)} bytes")
    core.debug("ISAKMP (0): processing KE payload. message ID = 0")
    dh = crypto.DhPrivate(choice.group, core.random)
    gxy = dh.shared_secret(ke.data)
    core.debug("ISAKMP (0): processing NONCE payload. message ID = 0")
    sa.peer_certreq = any(isinstance(p, CertReqPayload) for p in payloads)
    nr = core.random(NONCE_BYTES)
    if choice.auth == c.AUTH_PSK:
        key = core.config.isakmp.key_for(remote.address)
        if key is None:
            core.pix(713900, f"IKE peer {remote.address}: no pre-shared key configured for "
                     f"this address")
            core.count(authentication_failed=1)
            core.delete_ike(sa, now, "no pre-shared key", notify_peer=False, emit=False)
            return False
        skeyid = crypto.skeyid_psk(choice.hash, key.key.encode(), nonce.data, nr)
    else:
        skeyid = crypto.skeyid_sig(choice.hash, nonce.data, nr, gxy)
    sa.dh, sa.gxi, sa.gxr, sa.gxy, sa.ni, sa.nr = dh, ke.data, dh.public, gxy, nonce.data, nr
    sa.keys = crypto.derive_phase1(choice.hash, skeyid, gxy, cky_i=sa.cky_i, cky_r=sa.cky_r,
                                   gxi=sa.gxi, gxr=sa.gxr, cipher=sa.cipher)
    sa.iv = sa.keys.initial_iv
    answer: list[Payload] = [KePayload(dh.public), NoncePayload(nr)]
    if choice.auth == c.AUTH_RSA_SIG:
        subjects = core.certificates.ca_subjects() if core.certificates else ()
        answer.extend(CertReqPayload(c.CERT_X509_SIG, s) for s in subjects)
        if not subjects:
            answer.append(CertReqPayload(c.CERT_X509_SIG, b""))
    nat_d = [p for p in payloads if isinstance(p, NatDPayload)]
    if sa.natt is not None and nat_d:
        received = [p.data for p in nat_d]
        found = detect(choice.hash, sa.cky_i, sa.cky_r, received, local=local, remote=remote)
        sa.peer_behind_nat, sa.local_behind_nat = (found.peer_behind_nat,
                                                   found.local_behind_nat)
        t = sa.natt.nat_d_type
        answer.append(NatDPayload(nat_d_hash(choice.hash, sa.cky_i, sa.cky_r, remote), t))
        answer.append(NatDPayload(nat_d_hash(choice.hash, sa.cky_i, sa.cky_r, local), t))
        if found.detected:
            where = "peer" if found.peer_behind_nat else "this end"
            core.debug(f"ISAKMP (0): NAT-Traversal ({sa.natt.name}): NAT detected, "
                       f"{where} is behind a NAT device")
            core.pix(713901, f"IKE peer {remote.address}/{remote.port}: NAT detected "
                     f"({where} behind NAT, {sa.natt.name}); ESP will use UDP 4500")
        else:
            core.debug(f"ISAKMP (0): NAT-Traversal ({sa.natt.name}): no NAT detected")
    reply = encode_message(Header(sa.cky_i, sa.cky_r, 0, c.ISAKMP_VERSION, c.EXCH_MAIN, 0, 0),
                           answer)
    sa.last_received = data
    sa.last_sent = core.send(reply, local, remote, now, retransmit=True, sa=sa)
    sa.expires_at = now + HALF_OPEN_LIFETIME
    core.leave_half_open(sa.ike_sa_id)
    core.arm_sa(sa)
    return True



def message_5(core: IkeResponder, sa: IsakmpSa, msg: Inbound) -> bool:
    header, body, data, local, remote, now = (msg.header, msg.body, msg.data, msg.local,
                                              msg.remote, msg.now)
    choice, cipher, keys = sa.choice, sa.cipher, sa.keys
    if choice is None or cipher is None or keys is None:
        return False
    if not header.flags & c.FLAG_ENCRYPTION or header.message_id != 0:
        raise MalformedMessage("main mode message 5 not encrypted")
    plaintext = cipher.decrypt(keys.encryption_key, sa.iv, body)
    core.debug(f"crypto_isakmp_process_block: src {remote.address}, dest {local.address}")
    core.debug("OAK_MM exchange")
    try:
        payloads = decode_payloads(header.next_payload, plaintext, allow_padding=True)
        spans = payload_spans(header.next_payload, plaintext)
        id_index = next(i for i, p in enumerate(payloads) if isinstance(p, IdPayload))
    except (MalformedMessage, StopIteration):
        authentication_failed(core, sa, now, "message 5 does not decrypt to payloads (wrong "
                                             "pre-shared key?)")
        return False
    peer_id = payloads[id_index]
    if not isinstance(peer_id, IdPayload):
        return False
    core.debug("ISAKMP (0): processing ID payload. message ID = 0")
    idii_b = plaintext[spans[id_index][1] + 4 : spans[id_index][2]]
    expected = crypto.hash_i(choice.hash, keys.skeyid, gxi=sa.gxi, gxr=sa.gxr, cky_i=sa.cky_i,
                             cky_r=sa.cky_r, sai_b=sa.sai_b, idii_b=idii_b)
    identity = PeerIdentity(peer_id.id_type, peer_id.data)
    if choice.auth == c.AUTH_PSK:
        got = next((p.data for p in payloads if isinstance(p, HashPayload)), b"")
        core.debug("ISAKMP (0): processing HASH payload. message ID = 0")
        if not hmac.compare_digest(got, expected):
            authentication_failed(core, sa, now, "HASH_I does not verify (pre-shared key "
                                                 "mismatch)")
            return False
    elif not _verify_signature(core, sa, payloads, identity, expected, now=now):
        return False
    sa.iv = body[-cipher.block_size :]
    if sa.peer_id is not None:
        discard(core.sas_by_peer, (sa.remote.address, sa.peer_id), sa.ike_sa_id)
    sa.peer_id = (peer_id.id_type, peer_id.data)
    core.sas_by_peer.setdefault((sa.remote.address, sa.peer_id), set()).add(sa.ike_sa_id)
    core.debug("ISAKMP (0): SA has been authenticated")
    our_id = _our_id(core, local)
    idir_b = encode_payload_body(our_id)
    hash_r = crypto.hash_r(choice.hash, keys.skeyid, gxi=sa.gxi, gxr=sa.gxr, cky_i=sa.cky_i,
                           cky_r=sa.cky_r, sai_b=sa.sai_b, idir_b=idir_b)
    answer: list[Payload] = [our_id]
    if choice.auth == c.AUTH_PSK:
        answer.append(HashPayload(hash_r))
    else:
        source = core.certificates
        key = source.private_key() if source else None
        if source is None or key is None:
            authentication_failed(core, sa, now, "no certificate enrolled for rsa-sig")
            return False
        answer.extend(CertPayload(c.CERT_X509_SIG, der) for der in source.own_chain())
        answer.append(SigPayload(crypto.rsa_sign_raw(key, hash_r)))
    core.debug(f"ISAKMP (0): ID payload next-payload : {answer[1].payload_type} type : "
               f"{our_id.id_type} protocol : {our_id.protocol} port : {our_id.port} "
               f"length : {len(idir_b) + 4}")
    plaintext_out = encode_payloads(answer)
    encrypted = cipher.encrypt(keys.encryption_key, sa.iv, plaintext_out)
    sa.iv = encrypted[-cipher.block_size :]
    core.debug(f"ISAKMP (0): Total payload length: {len(plaintext_out)}")
    reply = encode_message(Header(sa.cky_i, sa.cky_r, our_id.payload_type, c.ISAKMP_VERSION,
                                  c.EXCH_MAIN, c.FLAG_ENCRYPTION, 0), encrypted_body=encrypted)
    core.set_endpoints(sa, local, remote)  # floated to 4500, or a new NAT mapping
    sa.last_received = data
    sa.last_sent = core.send(reply, local, remote, now, retransmit=False, sa=sa)
    sa.authenticated_at = now
    core.leave_unauthenticated(sa.ike_sa_id)
    sa.last_heard = now
    sa.expires_at = now + choice.lifetime
    auth = "pre-share" if choice.auth == c.AUTH_PSK else "rsa-sig"
    core.pix(602201, f"ISAKMP Phase 1 SA created (local {local.address}/{local.port} "
              f"(responder), remote {remote.address}/{remote.port}, "
              f"authentication={auth}, "
              f"encryption={encryption_name(choice.cipher, choice.key_length)}, "
              f"hash={HASH_NAMES.get(choice.hash, '?')}, group={choice.group}, "
              f"lifetime={choice.lifetime}s)")
    keepalive = core.config.isakmp.keepalive
    if sa.peer_dpd and keepalive is not None:
        sa.dpd_next_at = now + keepalive[0]
    nat_keepalive = core.config.isakmp.nat_traversal
    if nat_keepalive and (sa.peer_behind_nat or sa.local_behind_nat):
        sa.keepalive_next_at = now + nat_keepalive
    core.arm_sa(sa)
    if sa.peer_initial_contact or any(
            isinstance(p, NotifyPayload) and p.message_type == c.N_INITIAL_CONTACT
            for p in payloads):
        informational.initial_contact(core, sa, now)
    return True



def _verify_signature(core: IkeResponder, sa: IsakmpSa, payloads: Sequence[Payload],
                      identity: PeerIdentity, expected: bytes, *, now: float) -> bool:
    chain = [p.data for p in payloads
             if isinstance(p, CertPayload) and p.encoding == c.CERT_X509_SIG]
    sig = next((p.data for p in payloads if isinstance(p, SigPayload)), None)
    for p in payloads:
        if isinstance(p, CertPayload):
            core.debug("ISAKMP (0): processing CERT payload. message ID = 0")
            core.debug("ISAKMP (0): processing a CT_X509_SIGNATURE cert")
    if core.certificates is None or not chain or sig is None:
        authentication_failed(core, sa, now, "no certificate or signature from the peer")
        return False
    verdict = core.certificates.verify_peer(chain, identity,
                                            datetime.fromtimestamp(now, tz=UTC))
    if not verdict.accepted:
        authentication_failed(core, sa, now, f"certificate refused: {verdict.reason}")
        return False
    core.debug("ISAKMP (0): cert approved" + (" with warning" if verdict.warning else ""))
    try:
        public = x509.load_der_x509_certificate(chain[0]).public_key()
    except ValueError:
        authentication_failed(core, sa, now, "certificate not decodable")
        return False
    core.debug("ISAKMP (0): processing SIG payload. message ID = 0")
    if not isinstance(public, RSAPublicKey) or not crypto.rsa_verify_raw(public, sig,
                                                                         expected):
        authentication_failed(core, sa, now, "signature does not verify")
        return False
    return True


def authentication_failed(core: IkeResponder, sa: IsakmpSa, now: float, why: str) -> None:
    core.count(authentication_failed=1)
    core.debug(f"ISAKMP (0): SA not authenticated: {why}")
    core.pix(713900, f"IKE peer {sa.remote.address}: phase 1 authentication failed: {why}")
    core.delete_ike(sa, now, why, notify_peer=False, emit=False)


def _our_id(core: IkeResponder, local: Endpoint) -> IdPayload:
    if core.config.isakmp.identity == "hostname":
        name = core.config.hostname
        if core.config.domain_name:
            name = f"{name}.{core.config.domain_name}"
        return IdPayload(c.ID_FQDN, 17, 500, name.encode())
    return IdPayload(c.ID_IPV4_ADDR, 17, 500, local.address.packed)
