"""ISAKMP message codec: RFC 2408 §3.1 (header), §3.2 (generic payload header), §3.4-§3.15
(SA, proposal, transform with RFC 2408 §3.3 data attributes in TV and TLV form, KE, ID, CERT,
CERTREQ, HASH, SIG, nonce, notify, delete, vendor ID), RFC 2407 §4.6.2 (IPsec DOI ID payload),
RFC 3947 §3.2/§5.2 and draft-ietf-ipsec-nat-t-ike-02/03 (NAT-D, NAT-OA in payload numbers 20/21 and
130/131).

``decode_message`` returns the header and, for clear-text messages, the payloads; an encrypted
message's body is kept and decoded with :func:`decode_payloads` once decrypted. Unknown payloads
survive as :class:`UnknownPayload`; lengths and next-payload chains are computed on encode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from pixgw.ike import constants as c
from pixgw.wire import MalformedMessage, Reader, Writer

__all__ = [
    "Attribute", "CertPayload", "CertReqPayload", "DeletePayload", "FragmentPayload",
    "HashPayload", "Header",
    "IdPayload", "KePayload", "Message", "NatDPayload", "NatOaPayload", "NoncePayload",
    "NotifyPayload", "Payload", "Proposal", "SaPayload", "SigPayload", "Transform",
    "UnknownPayload", "VendorIdPayload", "decode_header", "decode_message", "decode_payloads",
    "encode_message", "encode_payload_body", "encode_payloads",
]

HEADER_LENGTH = 28
MAX_MESSAGE = 65535
MAX_PAYLOADS = 64


@dataclass(frozen=True)
class Header:
    initiator_cookie: bytes
    responder_cookie: bytes
    next_payload: int
    version: int
    exchange_type: int
    flags: int
    message_id: int
    length: int = 0  # as received; recomputed on encode

    @property
    def cookies(self) -> bytes:
        return self.initiator_cookie + self.responder_cookie


@dataclass(frozen=True)
class Attribute:
    """A data attribute (RFC 2408 §3.3): *basic* (TV, 16-bit value) or variable (TLV)."""

    type: int
    value: bytes
    basic: bool = True

    @property
    def int_value(self) -> int:
        return int.from_bytes(self.value, "big")

    @staticmethod
    def of(attr_type: int, value: int) -> Attribute:
        if 0 <= value <= 0xFFFF:
            return Attribute(attr_type, value.to_bytes(2, "big"), True)
        return Attribute(attr_type, value.to_bytes(4, "big"), False)


@dataclass(frozen=True)
class Transform:
    number: int
    transform_id: int
    attributes: tuple[Attribute, ...] = ()

    def attribute(self, attr_type: int) -> int | None:
        for a in self.attributes:
            if a.type == attr_type:
                return a.int_value
        return None


@dataclass(frozen=True)
class Proposal:
    number: int
    protocol: int
    spi: bytes
    transforms: tuple[Transform, ...]


@dataclass(frozen=True)
class SaPayload:
    payload_type: ClassVar[int] = c.PT_SA
    doi: int
    situation: int
    proposals: tuple[Proposal, ...]
    extra_situation: bytes = b""  # labelled-domain data of other situations, kept


@dataclass(frozen=True)
class KePayload:
    payload_type: ClassVar[int] = c.PT_KE
    data: bytes


@dataclass(frozen=True)
class IdPayload:
    payload_type: ClassVar[int] = c.PT_ID
    id_type: int
    protocol: int
    port: int
    data: bytes


@dataclass(frozen=True)
class CertPayload:
    payload_type: ClassVar[int] = c.PT_CERT
    encoding: int
    data: bytes


@dataclass(frozen=True)
class CertReqPayload:
    payload_type: ClassVar[int] = c.PT_CERTREQ
    encoding: int
    authority: bytes


@dataclass(frozen=True)
class HashPayload:
    payload_type: ClassVar[int] = c.PT_HASH
    data: bytes


@dataclass(frozen=True)
class SigPayload:
    payload_type: ClassVar[int] = c.PT_SIG
    data: bytes


@dataclass(frozen=True)
class NoncePayload:
    payload_type: ClassVar[int] = c.PT_NONCE
    data: bytes


@dataclass(frozen=True)
class NotifyPayload:
    payload_type: ClassVar[int] = c.PT_NOTIFY
    doi: int
    protocol: int
    message_type: int
    spi: bytes = b""
    data: bytes = b""


@dataclass(frozen=True)
class DeletePayload:
    payload_type: ClassVar[int] = c.PT_DELETE
    doi: int
    protocol: int
    spi_size: int
    spis: tuple[bytes, ...]


@dataclass(frozen=True)
class VendorIdPayload:
    payload_type: ClassVar[int] = c.PT_VENDOR
    data: bytes


@dataclass(frozen=True)
class NatDPayload:
    """NAT-D (RFC 3947 §3.2: 20; drafts: 130)."""

    data: bytes
    payload_type: int = c.PT_NAT_D


@dataclass(frozen=True)
class NatOaPayload:
    """NAT-OA (RFC 3947 §5.2: 21; drafts: 131): an ID type and an address."""

    id_type: int
    address: bytes
    payload_type: int = c.PT_NAT_OA


@dataclass(frozen=True)
class FragmentPayload:
    """IKEv1 fragment (the Cisco/Microsoft scheme, payload 132): a slice of a whole ISAKMP
    datagram, numbered from 1, the last one flagged."""

    payload_type: ClassVar[int] = c.PT_FRAGMENT
    fragment_id: int
    number: int
    last: bool
    data: bytes


@dataclass(frozen=True)
class UnknownPayload:
    payload_type: int
    body: bytes
    critical: bool = False


Payload = (
    SaPayload | KePayload | IdPayload | CertPayload | CertReqPayload | HashPayload | SigPayload
    | NoncePayload | NotifyPayload | DeletePayload | VendorIdPayload | NatDPayload | NatOaPayload
    | FragmentPayload | UnknownPayload
)


@dataclass(frozen=True)
class Message:
    header: Header
    payloads: tuple[Payload, ...] = ()
    encrypted_body: bytes = b""  # the body after the header when the E flag is set


# --- decode -------------------------------------------------------------------------------------


def decode_header(data: bytes) -> tuple[Header, bytes]:
    """The header and the body it announces (RFC 2408 §3.1)."""
    if len(data) > MAX_MESSAGE:
        raise MalformedMessage("ISAKMP message too long")
    r = Reader(data)
    header = Header(
        initiator_cookie=r.read(8),
        responder_cookie=r.read(8),
        next_payload=r.u8(),
        version=r.u8(),
        exchange_type=r.u8(),
        flags=r.u8(),
        message_id=r.u32(),
        length=r.u32(),
    )
    if header.version >> 4 != 1:
        raise MalformedMessage(f"ISAKMP major version {header.version >> 4}")
    if header.length < HEADER_LENGTH or header.length > len(data):
        raise MalformedMessage(f"ISAKMP length {header.length}, datagram {len(data)}")
    return header, data[HEADER_LENGTH : header.length]


def decode_message(data: bytes) -> Message:
    header, body = decode_header(data)
    if header.flags & c.FLAG_ENCRYPTION:
        if not body or header.next_payload == c.PT_NONE:
            raise MalformedMessage("empty encrypted message")
        return Message(header, (), body)
    return Message(header, decode_payloads(header.next_payload, body))


def decode_payloads(first: int, body: bytes, *, allow_padding: bool = False) -> tuple[Payload, ...]:
    """The payload chain starting with type *first*. With *allow_padding* (a decrypted body),
    bytes after the last payload are the cipher's padding (RFC 2408 §3.1 note, §5.3)."""
    r = Reader(body)
    payloads: list[Payload] = []
    next_type = first
    while next_type != c.PT_NONE:
        if len(payloads) >= MAX_PAYLOADS:
            raise MalformedMessage("too many payloads")
        this_type = next_type
        next_type = r.u8()
        reserved = r.u8()
        length = r.u16()
        if length < 4:
            raise MalformedMessage(f"payload length {length}")
        body_reader = r.sub(length - 4)
        payloads.append(_decode_payload(this_type, body_reader, critical=bool(reserved & 0x80)))
    if not allow_padding:
        r.expect_end("payloads")
    return tuple(payloads)


def _decode_payload(payload_type: int, r: Reader, *, critical: bool) -> Payload:
    if payload_type == c.PT_SA:
        return _decode_sa(r)
    if payload_type == c.PT_KE:
        return KePayload(r.rest())
    if payload_type == c.PT_ID:
        id_type = r.u8()
        protocol = r.u8()
        port = r.u16()
        return IdPayload(id_type, protocol, port, r.rest())
    if payload_type == c.PT_CERT:
        return CertPayload(r.u8(), r.rest())
    if payload_type == c.PT_CERTREQ:
        return CertReqPayload(r.u8(), r.rest())
    if payload_type == c.PT_HASH:
        return HashPayload(r.rest())
    if payload_type == c.PT_SIG:
        return SigPayload(r.rest())
    if payload_type == c.PT_NONCE:
        return NoncePayload(r.rest())
    if payload_type == c.PT_NOTIFY:
        doi = r.u32()
        protocol = r.u8()
        spi_size = r.u8()
        message_type = r.u16()
        spi = r.read(spi_size)
        return NotifyPayload(doi, protocol, message_type, spi, r.rest())
    if payload_type == c.PT_DELETE:
        doi = r.u32()
        protocol = r.u8()
        spi_size = r.u8()
        count = r.u16()
        if spi_size == 0 and count:
            raise MalformedMessage("delete with zero-size SPIs")
        spis = tuple(r.read(spi_size) for _ in range(count))
        r.expect_end("delete payload")
        return DeletePayload(doi, protocol, spi_size, spis)
    if payload_type == c.PT_VENDOR:
        return VendorIdPayload(r.rest())
    if payload_type in (c.PT_NAT_D, c.PT_NAT_D_DRAFT):
        return NatDPayload(r.rest(), payload_type)
    if payload_type in (c.PT_NAT_OA, c.PT_NAT_OA_DRAFT):
        id_type = r.u8()
        r.read(3)
        return NatOaPayload(id_type, r.rest(), payload_type)
    if payload_type == c.PT_FRAGMENT:
        fragment_id = r.u16()
        number = r.u8()
        flags = r.u8()
        return FragmentPayload(fragment_id, number, bool(flags & 1), r.rest())
    return UnknownPayload(payload_type, r.rest(), critical)


def _decode_sa(r: Reader) -> SaPayload:
    doi = r.u32()
    situation = r.u32()
    extra = b""
    if situation & ~c.SIT_IDENTITY_ONLY:
        # secrecy/integrity labels precede the proposals; we do not negotiate them, keep them
        extra = r.rest()
        return SaPayload(doi, situation, (), extra)
    proposals: list[Proposal] = []
    next_type = c.PT_PROPOSAL
    while next_type == c.PT_PROPOSAL:
        if len(proposals) >= MAX_PAYLOADS:
            raise MalformedMessage("too many proposals")
        next_type = r.u8()
        r.u8()
        length = r.u16()
        if length < 8:
            raise MalformedMessage(f"proposal length {length}")
        proposals.append(_decode_proposal(r.sub(length - 4)))
    if next_type != c.PT_NONE:
        raise MalformedMessage(f"payload {next_type} inside an SA payload")
    r.expect_end("SA payload")
    return SaPayload(doi, situation, tuple(proposals), extra)


def _decode_proposal(r: Reader) -> Proposal:
    number = r.u8()
    protocol = r.u8()
    spi_size = r.u8()
    count = r.u8()
    spi = r.read(spi_size)
    transforms: list[Transform] = []
    next_type = c.PT_TRANSFORM if count else c.PT_NONE
    while next_type == c.PT_TRANSFORM:
        next_type = r.u8()
        r.u8()
        length = r.u16()
        if length < 8:
            raise MalformedMessage(f"transform length {length}")
        t = r.sub(length - 4)
        t_number = t.u8()
        t_id = t.u8()
        t.u16()
        transforms.append(Transform(t_number, t_id, _decode_attributes(t)))
        if len(transforms) > 255:
            raise MalformedMessage("too many transforms")
    if next_type != c.PT_NONE:
        raise MalformedMessage(f"payload {next_type} inside a proposal")
    if len(transforms) != count:
        raise MalformedMessage(f"proposal announces {count} transforms, has {len(transforms)}")
    r.expect_end("proposal")
    return Proposal(number, protocol, spi, tuple(transforms))


def _decode_attributes(r: Reader) -> tuple[Attribute, ...]:
    attrs: list[Attribute] = []
    while not r.at_end():
        word = r.u16()
        if word & 0x8000:
            attrs.append(Attribute(word & 0x7FFF, r.read(2), True))
        else:
            length = r.u16()
            attrs.append(Attribute(word, r.read(length), False))
    return tuple(attrs)


# --- encode -------------------------------------------------------------------------------------


def encode_payload_body(p: Payload) -> bytes:
    """The payload without its generic header (what RFC 2409 hashes as ``SAi_b``, ``IDii_b``)."""
    w = Writer()
    if isinstance(p, SaPayload):
        w.u32(p.doi).u32(p.situation)
        if p.extra_situation:
            w.write(p.extra_situation)
        for i, prop in enumerate(p.proposals):
            body = _encode_proposal(prop)
            w.u8(c.PT_PROPOSAL if i + 1 < len(p.proposals) else c.PT_NONE).u8(0)
            w.u16(len(body) + 4).write(body)
    elif isinstance(p, IdPayload):
        w.u8(p.id_type).u8(p.protocol).u16(p.port).write(p.data)
    elif isinstance(p, CertPayload):
        w.u8(p.encoding).write(p.data)
    elif isinstance(p, CertReqPayload):
        w.u8(p.encoding).write(p.authority)
    elif isinstance(p, NotifyPayload):
        w.u32(p.doi).u8(p.protocol).u8(len(p.spi)).u16(p.message_type).write(p.spi).write(p.data)
    elif isinstance(p, DeletePayload):
        w.u32(p.doi).u8(p.protocol).u8(p.spi_size).u16(len(p.spis))
        for spi in p.spis:
            w.write(spi)
    elif isinstance(p, NatOaPayload):
        w.u8(p.id_type).write(b"\x00\x00\x00").write(p.address)
    elif isinstance(p, FragmentPayload):
        w.u16(p.fragment_id).u8(p.number).u8(1 if p.last else 0).write(p.data)
    elif isinstance(p, UnknownPayload):
        w.write(p.body)
    else:
        w.write(p.data)
    return w.getvalue()


def _encode_proposal(prop: Proposal) -> bytes:
    w = Writer()
    w.u8(prop.number).u8(prop.protocol).u8(len(prop.spi)).u8(len(prop.transforms)).write(prop.spi)
    for i, t in enumerate(prop.transforms):
        attrs = Writer()
        for a in t.attributes:
            if a.basic:
                attrs.u16(0x8000 | a.type).write(a.value[-2:].rjust(2, b"\x00"))
            else:
                attrs.u16(a.type).u16(len(a.value)).write(a.value)
        body = attrs.getvalue()
        w.u8(c.PT_TRANSFORM if i + 1 < len(prop.transforms) else c.PT_NONE).u8(0)
        w.u16(len(body) + 8).u8(t.number).u8(t.transform_id).u16(0).write(body)
    return w.getvalue()


def encode_payloads(payloads: Sequence[Payload]) -> bytes:
    w = Writer()
    for i, p in enumerate(payloads):
        body = encode_payload_body(p)
        nxt = payloads[i + 1].payload_type if i + 1 < len(payloads) else c.PT_NONE
        critical = isinstance(p, UnknownPayload) and p.critical
        w.u8(nxt).u8(0x80 if critical else 0).u16(len(body) + 4).write(body)
    return w.getvalue()


def encode_message(header: Header, payloads: Sequence[Payload] = (),
                   encrypted_body: bytes | None = None) -> bytes:
    """Header + payloads (or an already encrypted body); next payload and length computed."""
    body = encode_payloads(payloads) if encrypted_body is None else encrypted_body
    first = payloads[0].payload_type if payloads else header.next_payload
    w = Writer()
    w.write(header.initiator_cookie).write(header.responder_cookie)
    w.u8(first).u8(header.version).u8(header.exchange_type).u8(header.flags)
    w.u32(header.message_id).u32(HEADER_LENGTH + len(body)).write(body)
    return w.getvalue()


def payload_spans(first: int, body: bytes) -> list[tuple[int, int, int]]:
    """(type, start, end) of every payload in the chain, generic headers included, as laid out in
    *body*: what RFC 2409 hashes (``SAi_b``, the rest of a quick-mode message) is taken from the
    bytes received, never from a re-encoding. Trailing padding is not part of any span."""
    spans: list[tuple[int, int, int]] = []
    r = Reader(body)
    next_type = first
    while next_type != c.PT_NONE:
        if len(spans) >= MAX_PAYLOADS:
            raise MalformedMessage("too many payloads")
        start = r.position
        this_type = next_type
        next_type = r.u8()
        r.u8()
        length = r.u16()
        if length < 4:
            raise MalformedMessage(f"payload length {length}")
        r.read(length - 4)
        spans.append((this_type, start, r.position))
    return spans
