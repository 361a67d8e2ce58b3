"""A small IKEv1 initiator for tests and benchmarks: RFC 2409 §5 main mode (pre-shared key §5.4,
signatures §5.1), §5.5 quick mode with optional PFS, RFC 3947 NAT-T (NAT-D, floating to 4500,
NAT-OA, UDP-encapsulated modes), §5.7 informational (notify, delete, RFC 3706 R-U-THERE).

It behaves like the clients of ../shared/reference/clients.md (Windows' transforms and vendor IDs
by default) and drives :class:`pixgw.ike.core.IkeResponder` back to back. Sans-I/O: each call
returns the datagram to send; :attr:`local` / :attr:`remote` say between which endpoints (they
switch to port 4500 after a NAT is detected).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from pixgw.ike import constants as c
from pixgw.ike import crypto
from pixgw.ike.events import Endpoint
from pixgw.ike.fragment import FragmentReassembly, fragment
from pixgw.ike.message import (
    Attribute,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    FragmentPayload,
    HashPayload,
    Header,
    IdPayload,
    KePayload,
    NatDPayload,
    NatOaPayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
    SigPayload,
    Transform,
    VendorIdPayload,
    decode_header,
    decode_payloads,
    encode_message,
    encode_payload_body,
    encode_payloads,
    payload_spans,
)
from pixgw.ike.natt import nat_d_hash
from pixgw.ike.policy import esp_cipher_name, esp_integrity_name
from pixgw.ike.quickmode import ESP_KEY_BYTES, INTEGRITY_KEY_BYTES

RandomBytes = Callable[[int], bytes]

WINDOWS_VENDOR_IDS = (
    bytes.fromhex("01528bbbc00696121849ab9a1c5b2a5100000001"),
    bytes.fromhex("1e2b516905991c7d7c96fcbfb587e46100000009"),
    c.VID_NATT_RFC3947, c.VID_NATT_DRAFT_02, c.VID_FRAGMENTATION,
    bytes.fromhex("fb1de3cdf341b7ea16b7e5be0855f120"), c.VID_MS_INITIAL_CONTACT,
    bytes.fromhex("e3a5966a76379fe707228231e5ce8652"),
)


@dataclass(frozen=True)
class Phase1Offer:
    cipher: int  # constants.ENC_*
    key_length: int | None
    hash: int
    auth: int
    group: int
    lifetime: int = 28800


@dataclass(frozen=True)
class EspOffer:
    transform_id: int  # constants.ESP_*
    key_length: int | None
    auth: int | None  # constants.AUTH_HMAC_*
    encapsulation: int = c.ENCAPS_TRANSPORT  # switched to the UDP mode when NAT is detected
    lifetime_seconds: int | None = 3600
    lifetime_kilobytes: int | None = 250000


WINDOWS_PHASE1 = (
    Phase1Offer(c.ENC_AES, 256, c.HASH_SHA, c.AUTH_PSK, 20),
    Phase1Offer(c.ENC_AES, 128, c.HASH_SHA, c.AUTH_PSK, 19),
    Phase1Offer(c.ENC_AES, 256, c.HASH_SHA, c.AUTH_PSK, 14),
    Phase1Offer(c.ENC_3DES, None, c.HASH_SHA, c.AUTH_PSK, 14),
    Phase1Offer(c.ENC_3DES, None, c.HASH_SHA, c.AUTH_PSK, 2),
)


@dataclass
class InitiatorProfile:
    phase1: Sequence[Phase1Offer] = WINDOWS_PHASE1
    psk: bytes | None = None
    chain: Sequence[bytes] = ()
    key: RSAPrivateKey | None = None
    vendor_ids: Sequence[bytes] = WINDOWS_VENDOR_IDS
    esp: Sequence[EspOffer] = (EspOffer(c.ESP_AES, 256, c.AUTH_HMAC_SHA),
                               EspOffer(c.ESP_3DES, None, c.AUTH_HMAC_SHA))
    pfs_group: int | None = None
    l2tp_port: int = 1701
    responder_port: int = 1701
    send_ids: bool = True
    initial_contact: bool = False
    commit: bool = False
    own_address: IPv4Address | None = None  # the client's private address (ID, NAT-OA)
    natt: str = "rfc"  # "rfc", "draft", "none"
    fragment_size: int | None = None  # cut our main-mode messages into slices of this size


@dataclass
class EstablishedChild:
    inbound_spi: int  # ours (the initiator's)
    outbound_spi: int  # the responder's
    cipher: str
    integrity: str | None
    inbound_encryption_key: bytes
    inbound_integrity_key: bytes
    outbound_encryption_key: bytes
    outbound_integrity_key: bytes
    encapsulation: int
    responder_lifetime: tuple[int | None, int | None] | None = None


@dataclass
class _QuickMode:
    message_id: int
    iv: bytes
    ni: bytes
    spi: bytes
    dh: crypto.DhPrivate | None
    sa_payload: SaPayload


@dataclass
class IkeInitiator:
    profile: InitiatorProfile
    local: Endpoint
    remote: Endpoint
    random_bytes: RandomBytes
    state: str = "start"
    cky_i: bytes = b""
    cky_r: bytes = bytes(8)
    chosen: Phase1Offer | None = None
    nat_detected: bool = False
    natt_vid: bytes | None = None
    children: list[EstablishedChild] = field(default_factory=list)
    notifies: list[NotifyPayload] = field(default_factory=list)
    deletes: list[DeletePayload] = field(default_factory=list)
    peer_certreq: bool = False
    peer_fragmentation: bool = False
    fragments_received: int = 0
    _reassembly: FragmentReassembly = field(default_factory=FragmentReassembly)
    _sai_b: bytes = b""
    _dh: crypto.DhPrivate | None = None
    _ni: bytes = b""
    _nr: bytes = b""
    _gxr: bytes = b""
    _keys: crypto.Phase1Keys | None = None
    _cipher: crypto.CipherSpec | None = None
    _iv: bytes = b""
    _idii_b: bytes = b""
    _quick: dict[int, _QuickMode] = field(default_factory=dict)

    # --- main mode ------------------------------------------------------------------------------

    def main_mode_1(self) -> bytes:
        self.cky_i = self.random_bytes(8)
        transforms = []
        for i, o in enumerate(self.profile.phase1):
            attrs = [Attribute.of(c.P1_ENCRYPTION, o.cipher)]
            if o.key_length:
                attrs.append(Attribute.of(c.P1_KEY_LENGTH, o.key_length))
            attrs += [Attribute.of(c.P1_HASH, o.hash), Attribute.of(c.P1_GROUP, o.group),
                      Attribute.of(c.P1_AUTH, o.auth), Attribute.of(c.P1_LIFE_TYPE, c.LIFE_SECONDS),
                      Attribute.of(c.P1_LIFE_DURATION, o.lifetime)]
            transforms.append(Transform(i + 1, c.KEY_IKE, tuple(attrs)))
        sa = SaPayload(c.DOI_IPSEC, c.SIT_IDENTITY_ONLY,
                       (Proposal(1, c.PROTO_ISAKMP, b"", tuple(transforms)),))
        self._sai_b = encode_payload_body(sa)
        vids = [v for v in self.profile.vendor_ids
                if self.profile.natt != "none" or v not in (c.VID_NATT_RFC3947,
                                                             c.VID_NATT_DRAFT_02)]
        if self.profile.natt == "draft":
            vids = [v for v in vids if v != c.VID_NATT_RFC3947]
        payloads: list[Payload] = [sa, *(VendorIdPayload(v) for v in vids)]
        self.state = "mm1-sent"
        return encode_message(self._header(c.EXCH_MAIN, 0, 0), payloads)

    def _header(self, exchange: int, flags: int, message_id: int) -> Header:
        return Header(self.cky_i, self.cky_r, 0, c.ISAKMP_VERSION, exchange, flags, message_id)

    def receive(self, data: bytes) -> bytes | None:
        """Process a datagram from the responder; the next message to send, if any."""
        header, body = decode_header(data)
        if header.next_payload == c.PT_FRAGMENT:
            (piece,) = decode_payloads(header.next_payload, body)
            if not isinstance(piece, FragmentPayload):
                raise ValueError("not a fragment")
            self.fragments_received += 1
            whole = self._reassembly.add(header, piece, self.remote, 0.0)
            return None if whole is None else self.receive(whole)
        if header.exchange_type == c.EXCH_INFO:
            self._informational(header, body)
            return None
        if header.exchange_type == c.EXCH_QUICK:
            return self._quick_mode_2(header, body)
        if self.state == "mm1-sent":
            return self._main_mode_3(header, body)
        if self.state == "mm3-sent":
            return self._main_mode_5(header, body)
        if self.state == "mm5-sent":
            self._main_mode_6(header, body)
        return None

    def _main_mode_3(self, header: Header, body: bytes) -> bytes:
        self.cky_r = header.responder_cookie
        payloads = decode_payloads(header.next_payload, body)
        sa = payloads[0]
        if not isinstance(sa, SaPayload):
            raise ValueError("no SA in message 2")
        t = sa.proposals[0].transforms[0]
        self.chosen = next(o for o in self.profile.phase1
                           if o.cipher == t.attribute(c.P1_ENCRYPTION)
                           and o.key_length == t.attribute(c.P1_KEY_LENGTH)
                           and o.hash == t.attribute(c.P1_HASH)
                           and o.group == t.attribute(c.P1_GROUP)
                           and o.auth == t.attribute(c.P1_AUTH))
        vids = {p.data for p in payloads if isinstance(p, VendorIdPayload)}
        self.peer_fragmentation = c.VID_FRAGMENTATION in vids
        for v in (c.VID_NATT_RFC3947, c.VID_NATT_DRAFT_03, c.VID_NATT_DRAFT_02):
            if v in vids:
                self.natt_vid = v
                break
        self._dh = crypto.DhPrivate(self.chosen.group, self.random_bytes)
        self._ni = self.random_bytes(32)
        out: list[Payload] = [KePayload(self._dh.public), NoncePayload(self._ni)]
        if self.chosen.auth == c.AUTH_RSA_SIG:
            out.append(CertReqPayload(c.CERT_X509_SIG, b""))
        if self.natt_vid is not None:
            t_nat = c.PT_NAT_D if self.natt_vid == c.VID_NATT_RFC3947 else c.PT_NAT_D_DRAFT
            h = self.chosen.hash
            out.append(NatDPayload(nat_d_hash(h, self.cky_i, self.cky_r, self.remote), t_nat))
            out.append(NatDPayload(nat_d_hash(h, self.cky_i, self.cky_r, self.local), t_nat))
        self.state = "mm3-sent"
        return encode_message(self._header(c.EXCH_MAIN, 0, 0), out)

    def _main_mode_5(self, header: Header, body: bytes) -> bytes:
        payloads = decode_payloads(header.next_payload, body)
        chosen, dh = self.chosen, self._dh
        if chosen is None or dh is None:
            raise ValueError("out of order")
        ke = next(p for p in payloads if isinstance(p, KePayload))
        nr = next(p for p in payloads if isinstance(p, NoncePayload)).data
        self.peer_certreq = any(isinstance(p, CertReqPayload) for p in payloads)
        nat_d = [p.data for p in payloads if isinstance(p, NatDPayload)]
        if nat_d:
            ours = nat_d_hash(chosen.hash, self.cky_i, self.cky_r, self.local)
            theirs = nat_d_hash(chosen.hash, self.cky_i, self.cky_r, self.remote)
            self.nat_detected = nat_d[0] != ours or theirs not in nat_d[1:]
        self._gxr = ke.data
        gxy = dh.shared_secret(ke.data)
        if chosen.auth == c.AUTH_PSK:
            skeyid = crypto.skeyid_psk(chosen.hash, self.profile.psk or b"", self._ni, nr)
        else:
            skeyid = crypto.skeyid_sig(chosen.hash, self._ni, nr, gxy)
        self._nr = nr
        self._cipher = crypto.cipher_spec(chosen.cipher, chosen.key_length)
        self._keys = crypto.derive_phase1(chosen.hash, skeyid, gxy, cky_i=self.cky_i,
                                          cky_r=self.cky_r, gxi=dh.public, gxr=ke.data,
                                          cipher=self._cipher)
        self._iv = self._keys.initial_iv
        own = self.profile.own_address or self.local.address
        my_id = IdPayload(c.ID_IPV4_ADDR, 17, 500, own.packed)
        self._idii_b = encode_payload_body(my_id)
        hash_i = crypto.hash_i(chosen.hash, skeyid, gxi=dh.public, gxr=ke.data, cky_i=self.cky_i,
                               cky_r=self.cky_r, sai_b=self._sai_b, idii_b=self._idii_b)
        out: list[Payload] = [my_id]
        if chosen.auth == c.AUTH_PSK:
            out.append(HashPayload(hash_i))
        else:
            if self.profile.key is None:
                raise ValueError("rsa-sig without a key")
            out.extend(CertPayload(c.CERT_X509_SIG, der) for der in self.profile.chain)
            out.append(SigPayload(crypto.rsa_sign_raw(self.profile.key, hash_i)))
        if self.profile.initial_contact:
            out.append(NotifyPayload(c.DOI_IPSEC, c.PROTO_ISAKMP, c.N_INITIAL_CONTACT,
                                     self.cky_i + self.cky_r))
        if self.nat_detected:
            self.local = Endpoint(self.local.address, c.NATT_PORT)
            self.remote = Endpoint(self.remote.address, c.NATT_PORT)
        self.state = "mm5-sent"
        return self._encrypt_phase1(c.EXCH_MAIN, out)

    def fragments_of(self, datagram: bytes) -> list[bytes]:
        """*datagram* as the profile sends it: in fragments when the responder takes them and
        the profile has a fragment size, else whole."""
        size = self.profile.fragment_size
        if not size or not self.peer_fragmentation:
            return [datagram]
        header, _ = decode_header(datagram)
        return fragment(datagram, header, 7, size)

    def _encrypt_phase1(self, exchange: int, payloads: list[Payload]) -> bytes:
        if self._cipher is None or self._keys is None:
            raise ValueError("no keys")
        ct = self._cipher.encrypt(self._keys.encryption_key, self._iv, encode_payloads(payloads))
        self._iv = ct[-self._cipher.block_size :]
        header = Header(self.cky_i, self.cky_r, payloads[0].payload_type, c.ISAKMP_VERSION,
                        exchange, c.FLAG_ENCRYPTION, 0)
        return encode_message(header, encrypted_body=ct)

    def _main_mode_6(self, header: Header, body: bytes) -> None:
        chosen, keys, cipher, dh = self.chosen, self._keys, self._cipher, self._dh
        if chosen is None or keys is None or cipher is None or dh is None:
            raise ValueError("out of order")
        pt, payloads, spans = _decrypted(cipher, keys.encryption_key, self._iv, header, body)
        self._iv = body[-cipher.block_size :]
        idir_b = pt[spans[0][1] + 4 : spans[0][2]]
        expected = crypto.hash_r(chosen.hash, keys.skeyid, gxi=dh.public, gxr=self._gxr,
                                 cky_i=self.cky_i, cky_r=self.cky_r, sai_b=self._sai_b,
                                 idir_b=idir_b)
        if chosen.auth == c.AUTH_PSK:
            got = next(p.data for p in payloads if isinstance(p, HashPayload))
            if not hmac.compare_digest(got, expected):
                raise ValueError("HASH_R does not verify")
        else:
            cert = next(p.data for p in payloads if isinstance(p, CertPayload))
            sig = next(p.data for p in payloads if isinstance(p, SigPayload))
            public = x509.load_der_x509_certificate(cert).public_key()
            if not isinstance(public, RSAPublicKey) or not crypto.rsa_verify_raw(public, sig,
                                                                                 expected):
                raise ValueError("responder signature does not verify")
        self.state = "established"

    # --- quick mode -----------------------------------------------------------------------------

    def quick_mode_1(self, *, message_id: int | None = None,
                     responder_address: IPv4Address | None = None) -> bytes:
        chosen, keys, cipher = self.chosen, self._keys, self._cipher
        if chosen is None or keys is None or cipher is None or self.state != "established":
            raise ValueError("phase 1 not established")
        mid = message_id or int.from_bytes(self.random_bytes(4), "big") or 1
        spi = self.random_bytes(4)
        transforms = []
        draft = self.natt_vid is not None and self.natt_vid != c.VID_NATT_RFC3947
        for i, o in enumerate(self.profile.esp):
            mode = o.encapsulation
            if self.nat_detected:
                if mode == c.ENCAPS_TRANSPORT:
                    mode = c.ENCAPS_UDP_TRANSPORT_DRAFT if draft else c.ENCAPS_UDP_TRANSPORT
                elif mode == c.ENCAPS_TUNNEL:
                    mode = c.ENCAPS_UDP_TUNNEL_DRAFT if draft else c.ENCAPS_UDP_TUNNEL
            attrs = []
            if o.lifetime_seconds is not None:
                attrs += [Attribute.of(c.P2_LIFE_TYPE, c.LIFE_SECONDS),
                          Attribute.of(c.P2_LIFE_DURATION, o.lifetime_seconds)]
            if o.lifetime_kilobytes is not None:
                attrs += [Attribute.of(c.P2_LIFE_TYPE, c.LIFE_KILOBYTES),
                          Attribute.of(c.P2_LIFE_DURATION, o.lifetime_kilobytes)]
            attrs.append(Attribute.of(c.P2_ENCAPSULATION, mode))
            if o.auth is not None:
                attrs.append(Attribute.of(c.P2_AUTH, o.auth))
            if o.key_length:
                attrs.append(Attribute.of(c.P2_KEY_LENGTH, o.key_length))
            if self.profile.pfs_group is not None:
                attrs.append(Attribute.of(c.P2_GROUP, self.profile.pfs_group))
            transforms.append(Transform(i + 1, o.transform_id, tuple(attrs)))
        sa = SaPayload(c.DOI_IPSEC, c.SIT_IDENTITY_ONLY,
                       (Proposal(1, c.PROTO_ESP, spi, tuple(transforms)),))
        ni = self.random_bytes(32)
        rest: list[Payload] = [sa, NoncePayload(ni)]
        dh = None
        if self.profile.pfs_group is not None:
            dh = crypto.DhPrivate(self.profile.pfs_group, self.random_bytes)
            rest.append(KePayload(dh.public))
        own = self.profile.own_address or self.local.address
        server = responder_address or self.remote.address
        if self.profile.send_ids:
            rest.append(IdPayload(c.ID_IPV4_ADDR, 17, self.profile.l2tp_port, own.packed))
            rest.append(IdPayload(c.ID_IPV4_ADDR, 17, self.profile.responder_port, server.packed))
        if self.nat_detected:
            t_oa = c.PT_NAT_OA_DRAFT if draft else c.PT_NAT_OA
            rest.append(NatOaPayload(c.ID_IPV4_ADDR, own.packed, t_oa))
            rest.append(NatOaPayload(c.ID_IPV4_ADDR, server.packed, t_oa))
        mid_b = mid.to_bytes(4, "big")
        h = crypto.prf(chosen.hash, keys.skeyid_a, mid_b + encode_payloads(rest))
        iv = crypto.phase2_iv(chosen.hash, self._iv, mid, cipher.block_size)
        ct = cipher.encrypt(keys.encryption_key, iv, encode_payloads([HashPayload(h), *rest]))
        self._quick[mid] = _QuickMode(mid, ct[-cipher.block_size :], ni, spi, dh, sa)
        flags = c.FLAG_ENCRYPTION | (c.FLAG_COMMIT if self.profile.commit else 0)
        header = Header(self.cky_i, self.cky_r, c.PT_HASH, c.ISAKMP_VERSION, c.EXCH_QUICK, flags,
                        mid)
        return encode_message(header, encrypted_body=ct)

    def _quick_mode_2(self, header: Header, body: bytes) -> bytes:
        chosen, keys, cipher = self.chosen, self._keys, self._cipher
        qm = self._quick.get(header.message_id)
        if chosen is None or keys is None or cipher is None or qm is None:
            raise ValueError("unexpected quick mode")
        pt, payloads, spans = _decrypted(cipher, keys.encryption_key, qm.iv, header, body)
        qm.iv = body[-cipher.block_size :]
        mid_b = header.message_id.to_bytes(4, "big")
        rest = pt[spans[0][2] : spans[-1][2]]
        first = payloads[0]
        if not isinstance(first, HashPayload):
            raise ValueError("no HASH(2)")
        if not hmac.compare_digest(first.data, crypto.prf(chosen.hash, keys.skeyid_a,
                                                          mid_b + qm.ni + rest)):
            raise ValueError("HASH(2) does not verify")
        sa = next(p for p in payloads if isinstance(p, SaPayload))
        nr = next(p for p in payloads if isinstance(p, NoncePayload)).data
        gxy = b""
        if qm.dh is not None:
            ke = next(p for p in payloads if isinstance(p, KePayload))
            gxy = qm.dh.shared_secret(ke.data)
        prop = sa.proposals[0]
        t = prop.transforms[0]
        cipher_name = esp_cipher_name(t.transform_id, t.attribute(c.P2_KEY_LENGTH))
        integrity = esp_integrity_name(t.attribute(c.P2_AUTH))
        if cipher_name is None:
            raise ValueError("responder chose an unknown cipher")
        enc_len = ESP_KEY_BYTES[cipher_name]
        length = enc_len + (INTEGRITY_KEY_BYTES[integrity] if integrity else 0)
        km_in = crypto.keymat(chosen.hash, keys.skeyid_d, protocol=c.PROTO_ESP, spi=qm.spi,
                              ni=qm.ni, nr=nr, length=length, gxy_qm=gxy)
        km_out = crypto.keymat(chosen.hash, keys.skeyid_d, protocol=c.PROTO_ESP, spi=prop.spi,
                               ni=qm.ni, nr=nr, length=length, gxy_qm=gxy)
        lifetime = None
        for p in payloads:
            if isinstance(p, NotifyPayload) and p.message_type == c.N_RESPONDER_LIFETIME:
                lifetime = _lifetimes(p.data)
        self.children.append(EstablishedChild(
            inbound_spi=int.from_bytes(qm.spi, "big"), outbound_spi=int.from_bytes(prop.spi, "big"),
            cipher=cipher_name, integrity=integrity, inbound_encryption_key=km_in[:enc_len],
            inbound_integrity_key=km_in[enc_len:], outbound_encryption_key=km_out[:enc_len],
            outbound_integrity_key=km_out[enc_len:],
            encapsulation=t.attribute(c.P2_ENCAPSULATION) or c.ENCAPS_TUNNEL,
            responder_lifetime=lifetime,
        ))
        h3 = crypto.prf(chosen.hash, keys.skeyid_a, b"\x00" + mid_b + qm.ni + nr)
        ct = cipher.encrypt(keys.encryption_key, qm.iv, encode_payloads([HashPayload(h3)]))
        del self._quick[header.message_id]
        return encode_message(Header(self.cky_i, self.cky_r, c.PT_HASH, c.ISAKMP_VERSION,
                                     c.EXCH_QUICK, c.FLAG_ENCRYPTION, header.message_id),
                              encrypted_body=ct)

    # --- informational --------------------------------------------------------------------------

    def informational(self, payloads: list[Payload], *, message_id: int | None = None) -> bytes:
        chosen, keys, cipher = self.chosen, self._keys, self._cipher
        if chosen is None or keys is None or cipher is None:
            raise ValueError("phase 1 not established")
        mid = message_id or int.from_bytes(self.random_bytes(4), "big") or 1
        mid_b = mid.to_bytes(4, "big")
        h = crypto.prf(chosen.hash, keys.skeyid_a, mid_b + encode_payloads(payloads))
        iv = crypto.phase2_iv(chosen.hash, self._iv, mid, cipher.block_size)
        ct = cipher.encrypt(keys.encryption_key, iv, encode_payloads([HashPayload(h), *payloads]))
        return encode_message(Header(self.cky_i, self.cky_r, c.PT_HASH, c.ISAKMP_VERSION,
                                     c.EXCH_INFO, c.FLAG_ENCRYPTION, mid), encrypted_body=ct)

    def raw_protected(self, exchange: int, next_payload: int, plaintext: bytes, *,
                      message_id: int, with_hash: bool = True) -> bytes:
        """An encrypted phase-2/informational message around arbitrary payload bytes (for
        malformed-input tests); with *with_hash* a correct HASH payload is put first."""
        chosen, keys, cipher = self.chosen, self._keys, self._cipher
        if chosen is None or keys is None or cipher is None:
            raise ValueError("phase 1 not established")
        mid_b = message_id.to_bytes(4, "big")
        first = next_payload
        if with_hash:
            h = crypto.prf(chosen.hash, keys.skeyid_a, mid_b + plaintext)
            plaintext = bytes((next_payload, 0)) + (len(h) + 4).to_bytes(2, "big") + h + plaintext
            first = c.PT_HASH
        iv = crypto.phase2_iv(chosen.hash, self._iv, message_id, cipher.block_size)
        ct = cipher.encrypt(keys.encryption_key, iv, plaintext)
        return encode_message(Header(self.cky_i, self.cky_r, first, c.ISAKMP_VERSION, exchange,
                                     c.FLAG_ENCRYPTION, message_id), encrypted_body=ct)

    def delete_ike(self) -> bytes:
        return self.informational([DeletePayload(c.DOI_IPSEC, c.PROTO_ISAKMP, 16,
                                                 (self.cky_i + self.cky_r,))])

    def delete_child(self, child: EstablishedChild) -> bytes:
        return self.informational([DeletePayload(c.DOI_IPSEC, c.PROTO_ESP, 4,
                                                 (child.inbound_spi.to_bytes(4, "big"),))])

    def r_u_there(self, sequence: int) -> bytes:
        return self.informational([NotifyPayload(c.DOI_IPSEC, c.PROTO_ISAKMP, c.N_R_U_THERE,
                                                 self.cky_i + self.cky_r,
                                                 sequence.to_bytes(4, "big"))])

    def _informational(self, header: Header, body: bytes) -> None:
        if not header.flags & c.FLAG_ENCRYPTION:
            for p in decode_payloads(header.next_payload, body):
                if isinstance(p, NotifyPayload):
                    self.notifies.append(p)
            return
        chosen, keys, cipher = self.chosen, self._keys, self._cipher
        if chosen is None or keys is None or cipher is None:
            raise ValueError("no keys")
        iv = crypto.phase2_iv(chosen.hash, self._iv, header.message_id, cipher.block_size)
        pt, payloads, spans = _decrypted(cipher, keys.encryption_key, iv, header, body)
        first = payloads[0]
        rest = pt[spans[0][2] : spans[-1][2]]
        if not isinstance(first, HashPayload) or not hmac.compare_digest(
                first.data, crypto.prf(chosen.hash, keys.skeyid_a,
                                       header.message_id.to_bytes(4, "big") + rest)):
            raise ValueError("informational HASH does not verify")
        for p in payloads[1:]:
            if isinstance(p, NotifyPayload):
                self.notifies.append(p)
            elif isinstance(p, DeletePayload):
                self.deletes.append(p)


def _lifetimes(data: bytes) -> tuple[int | None, int | None]:
    seconds = kilobytes = None
    life_type = None
    pos = 0
    while pos + 4 <= len(data):
        word = int.from_bytes(data[pos : pos + 2], "big")
        if word & 0x8000:
            value = int.from_bytes(data[pos + 2 : pos + 4], "big")
            pos += 4
        else:
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            value = int.from_bytes(data[pos + 4 : pos + 4 + length], "big")
            pos += 4 + length
        attr = word & 0x7FFF
        if attr == c.P2_LIFE_TYPE:
            life_type = value
        elif attr == c.P2_LIFE_DURATION:
            if life_type == c.LIFE_SECONDS:
                seconds = value
            else:
                kilobytes = value
    return seconds, kilobytes


def _decrypted(
    cipher: crypto.CipherSpec, key: bytes, iv: bytes, header: Header, body: bytes
) -> tuple[bytes, list[Payload], list[tuple[int, int, int]]]:
    """An encrypted message's plaintext, its payloads and where each payload stands in it."""
    pt = cipher.decrypt(key, iv, body)
    payloads = list(decode_payloads(header.next_payload, pt, allow_padding=True))
    return pt, payloads, payload_spans(header.next_payload, pt)
