"""Matching offered transforms against the configuration the way a PIX 6.3 does.

Phase 1 (RFC 2409 §5, attributes of Appendix A): the ``isakmp policy`` entries are tried in priority
order, and for each the offered transforms in their order; the first acceptable pair wins. Every
refusal is logged with the debug wording of the reference ("Checking ISAKMP transform 1 against
priority 20 policy", "atts are acceptable", "... offered does not match policy!").

Phase 2 (RFC 2409 §5.5, RFC 2407 §4.5, RFC 3947 §5.1 encapsulation modes): the crypto maps bound
to an interface, their entries in sequence order (a ``dynamic`` entry expands to its dynamic map),
``match address`` selectors, transform sets in order, the mode the set requires
("invalid transform proposal flags -- 0x0"), PFS and lifetimes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address

from pixgw import syslog
from pixgw.config.model import (
    AccessList,
    CryptoMapEntry,
    IsakmpPolicy,
    PixConfig,
    SaLifetime,
    TransformSet,
)
from pixgw.ike import constants as c
from pixgw.ike.crypto import SUPPORTED_GROUPS
from pixgw.ike.events import EspCipher, EspIntegrity, TrafficSelector
from pixgw.ike.message import Attribute, Proposal, Transform
from pixgw.syslog import LogSink

__all__ = [
    "Phase1Choice", "Phase2Choice", "choose_phase1", "choose_phase2", "esp_cipher_name",
    "phase1_description",
]

_ENC_POLICY = {"des": (c.ENC_DES, None), "3des": (c.ENC_3DES, None), "aes": (c.ENC_AES, 128),
               "aes-192": (c.ENC_AES, 192), "aes-256": (c.ENC_AES, 256)}
_HASH_POLICY = {"md5": c.HASH_MD5, "sha": c.HASH_SHA, "sha256": c.HASH_SHA256,
                "sha384": c.HASH_SHA384}
_AUTH_POLICY = {"pre-share": c.AUTH_PSK, "rsa-sig": c.AUTH_RSA_SIG}
ENC_NAMES = {c.ENC_DES: "DES-CBC", c.ENC_3DES: "3DES-CBC", c.ENC_AES: "AES-CBC"}
HASH_NAMES = {c.HASH_MD5: "MD5", c.HASH_SHA: "SHA", c.HASH_SHA256: "SHA256",
              c.HASH_SHA384: "SHA384", c.HASH_SHA512: "SHA512"}
AUTH_NAMES = {c.AUTH_PSK: "pre-share", c.AUTH_RSA_SIG: "RSA sig"}


@dataclass(frozen=True)
class Phase1Choice:
    policy: IsakmpPolicy
    transform: Transform
    cipher: int
    key_length: int | None
    hash: int
    auth: int
    group: int
    lifetime: int  # seconds, min(offered, policy)


def _duration_vpi(value: bytes) -> str:
    return " ".join(hex(b) for b in value.rjust(4, b"\x00"))


def _life_type(a: Attribute) -> str:
    return "seconds" if a.int_value == c.LIFE_SECONDS else "kilobytes"


# What ``debug crypto isakmp`` says of each attribute of an offered transform, by class.
_P1_ATTRIBUTE_LINES: dict[int, Callable[[Attribute], str]] = {
    c.P1_ENCRYPTION: lambda a: f"encryption {ENC_NAMES.get(a.int_value, str(a.int_value))}",
    c.P1_HASH: lambda a: f"hash {HASH_NAMES.get(a.int_value, str(a.int_value))}",
    c.P1_GROUP: lambda a: f"default group {a.int_value}",
    c.P1_AUTH: lambda a: f"auth {AUTH_NAMES.get(a.int_value, str(a.int_value))}",
    c.P1_LIFE_TYPE: lambda a: f"life type in {_life_type(a)}",
    c.P1_LIFE_DURATION: lambda a: f"life duration (VPI) of  {_duration_vpi(a.value)}",
    c.P1_KEY_LENGTH: lambda a: f"keylength of {a.int_value}",
}
_P2_ATTRIBUTE_LINES: dict[int, Callable[[Attribute], str]] = {
    c.P2_LIFE_TYPE: lambda a: f"SA life type in {_life_type(a)}",
    c.P2_LIFE_DURATION: lambda a: f"SA life duration (VPI) of  {_duration_vpi(a.value)}",
    c.P2_ENCAPSULATION: lambda a: f"encaps is {a.int_value}",
    c.P2_AUTH: lambda a: f"authenticator is {ESP_AUTH_NAMES.get(a.int_value, a.int_value)}",
    c.P2_KEY_LENGTH: lambda a: f"key length is {a.int_value}",
    c.P2_GROUP: lambda a: f"group is {a.int_value}",
}


def _log_attributes(
    t: Transform, sink: LogSink, lines: dict[int, Callable[[Attribute], str]] = _P1_ATTRIBUTE_LINES
) -> None:
    for a in t.attributes:
        if (line := lines.get(a.type)) is not None:
            sink.debug("crypto isakmp", f"ISAKMP:      {line(a)}")


# RFC 2409 Appendix A classes a transform may carry here: encryption, hash, authentication,
# group description and type, life type and duration, key length. The others (a group of the
# peer's own: prime, generators, curve, field size, order; a PRF, of which none is defined;
# reserved and private-use classes) are refused: the responder cannot honour what it does not
# know, and the answer echoes the chosen transform as it is (RFC 2408 §4.2), which would claim
# it did. No class known here takes more than 8 bytes (a life duration of 64 bits).
_P1_ATTRIBUTES = frozenset({c.P1_ENCRYPTION, c.P1_HASH, c.P1_AUTH, c.P1_GROUP, 5,
                            c.P1_LIFE_TYPE, c.P1_LIFE_DURATION, c.P1_KEY_LENGTH})
_P1_ATTRIBUTE_BYTES = 8


def _phase1_mismatch(t: Transform, policy: IsakmpPolicy) -> str | None:
    """Why *t* is not acceptable under *policy* (None: acceptable)."""
    if t.transform_id != c.KEY_IKE:
        return "transform id is not KEY_IKE"
    for a in t.attributes:
        if a.type not in _P1_ATTRIBUTES:
            return f"Attribute class {a.type} not supported!"
        if len(a.value) > _P1_ATTRIBUTE_BYTES:
            return f"Attribute class {a.type} of {len(a.value)} bytes not supported!"
    enc, bits = _ENC_POLICY[policy.encryption]
    offered_bits = t.attribute(c.P1_KEY_LENGTH)
    if t.attribute(c.P1_ENCRYPTION) != enc:
        return "Encryption algorithm offered does not match policy!"
    if enc == c.ENC_AES and (offered_bits or 128) != bits:
        return "Key length offered does not match policy!"
    if t.attribute(c.P1_HASH) != _HASH_POLICY[policy.hash]:
        return "Hash algorithm offered does not match policy!"
    if t.attribute(c.P1_AUTH) != _AUTH_POLICY[policy.authentication]:
        return "Authentication method offered does not match policy!"
    group = t.attribute(c.P1_GROUP)
    if group != policy.group or group not in SUPPORTED_GROUPS:
        return "Diffie-Hellman group offered does not match policy!"
    return None


def _offered_lifetime(t: Transform) -> int | None:
    life_type = None
    for a in t.attributes:
        if a.type == c.P1_LIFE_TYPE:
            life_type = a.int_value
        elif a.type == c.P1_LIFE_DURATION and life_type == c.LIFE_SECONDS:
            # 0 offers no limit (load-tester sends it): ours applies, never "expire now"
            return a.int_value or None
    return None


def phase1_description(t: Transform) -> str:
    enc = ENC_NAMES.get(t.attribute(c.P1_ENCRYPTION) or 0, "?")
    bits = t.attribute(c.P1_KEY_LENGTH)
    if bits:
        enc = f"{enc}-{bits}"
    hash_name = HASH_NAMES.get(t.attribute(c.P1_HASH) or 0, "?")
    auth = AUTH_NAMES.get(t.attribute(c.P1_AUTH) or 0, "?")
    return f"{enc}/{hash_name}/group {t.attribute(c.P1_GROUP)}/{auth}"


def choose_phase1(
    config: PixConfig, proposal: Proposal, *, log_prefix: str = "ISAKMP (0)",
    sink: LogSink = syslog,
) -> tuple[Phase1Choice | None, list[str]]:
    """The PIX's choice for *proposal*, and one refusal line per (transform, policy) tried."""
    refusals: list[str] = []
    policies = sorted(config.isakmp.policies, key=lambda p: p.priority)
    for policy in policies:
        for i, t in enumerate(proposal.transforms):
            sink.debug("crypto isakmp", f"{log_prefix}: Checking ISAKMP transform {t.number} "
                       f"against priority {policy.priority} policy")
            _log_attributes(t, sink)
            reason = _phase1_mismatch(t, policy)
            next_payload = c.PT_TRANSFORM if i + 1 < len(proposal.transforms) else 0
            if reason is None:
                sink.debug("crypto isakmp", f"{log_prefix}: atts are acceptable. Next payload is "
                           f"{next_payload}")
                offered = _offered_lifetime(t)
                lifetime = policy.lifetime if offered is None else min(offered, policy.lifetime)
                return Phase1Choice(
                    policy=policy, transform=t, cipher=t.attribute(c.P1_ENCRYPTION) or 0,
                    key_length=t.attribute(c.P1_KEY_LENGTH), hash=t.attribute(c.P1_HASH) or 0,
                    auth=t.attribute(c.P1_AUTH) or 0, group=t.attribute(c.P1_GROUP) or 0,
                    lifetime=lifetime,
                ), refusals
            sink.debug("crypto isakmp", f"{log_prefix}: {reason}")
            sink.debug("crypto isakmp", f"{log_prefix}: atts are not acceptable. Next payload is "
                       f"{next_payload}")
            refusals.append(f"transform {t.number} ({phase1_description(t)}) against priority "
                            f"{policy.priority} policy: {reason}")
    if not policies:
        refusals.append("no isakmp policy configured")
    return None, refusals


# --- phase 2 ------------------------------------------------------------------------------------

_ESP_IDS: dict[str, tuple[int, int | None]] = {
    "esp-des": (c.ESP_DES, None), "esp-3des": (c.ESP_3DES, None), "esp-aes": (c.ESP_AES, 128),
    "esp-aes-192": (c.ESP_AES, 192), "esp-aes-256": (c.ESP_AES, 256),
    "esp-null": (c.ESP_NULL, None),
}
_ESP_AUTH_IDS: dict[str, int] = {"esp-md5-hmac": c.AUTH_HMAC_MD5, "esp-sha-hmac": c.AUTH_HMAC_SHA,
                                 "esp-sha256-hmac": c.AUTH_HMAC_SHA256}
ESP_TRANSFORM_NAMES = {c.ESP_DES: "ESP_DES", c.ESP_3DES: "ESP_3DES", c.ESP_AES: "ESP_AES",
                       c.ESP_NULL: "ESP_NULL"}
ESP_AUTH_NAMES: dict[int, str] = {c.AUTH_HMAC_MD5: "HMAC-MD5", c.AUTH_HMAC_SHA: "HMAC-SHA",
                                  c.AUTH_HMAC_SHA256: "HMAC-SHA256"}
_TRANSPORT_MODES = (c.ENCAPS_TRANSPORT, c.ENCAPS_UDP_TRANSPORT, c.ENCAPS_UDP_TRANSPORT_DRAFT)
_TUNNEL_MODES = (c.ENCAPS_TUNNEL, c.ENCAPS_UDP_TUNNEL, c.ENCAPS_UDP_TUNNEL_DRAFT)


def esp_cipher_name(transform_id: int, key_length: int | None) -> EspCipher | None:
    for name, (tid, bits) in _ESP_IDS.items():
        if tid == transform_id and (bits is None or (key_length or 128) == bits):
            return name  # type: ignore[return-value]
    return None


def esp_integrity_name(auth: int | None) -> EspIntegrity | None:
    for name, aid in _ESP_AUTH_IDS.items():
        if aid == auth:
            return name  # type: ignore[return-value]
    return None


@dataclass(frozen=True)
class Phase2Choice:
    map_name: str
    map_sequence: int
    entry: CryptoMapEntry
    transform_set: TransformSet
    proposal: Proposal
    transform: Transform
    encapsulation: int
    lifetime_seconds: int
    lifetime_kilobytes: int
    responder_lifetime: bool  # ours shorter than offered: send RESPONDER-LIFETIME
    pfs_group: int | None


def _acl_covers(acl: AccessList, local: TrafficSelector, remote: TrafficSelector) -> bool:
    for e in acl.entries:
        if e.protocol is not None and local.protocol not in (0, e.protocol):
            continue
        if not (e.source.matches(local.first) and e.source.matches(local.last)):
            continue
        if not (e.destination.matches(remote.first) and e.destination.matches(remote.last)):
            continue
        # port 0 (any) in a client's ID is accepted: macOS/iOS use an ephemeral L2TP port
        if e.source_port is not None and local.port and not e.source_port.matches(local.port):
            continue
        if (e.destination_port is not None and remote.port
                and not e.destination_port.matches(remote.port)):
            continue
        return e.action == "permit"
    return False


def _map_entries(config: PixConfig, local: IPv4Address) -> list[tuple[str, CryptoMapEntry]]:
    """(map tag, entry) in the order the PIX tries them, for maps on the interface owning
    *local* (every bound map when no interface has that address: addresses differ in a lab)."""
    owning = {i.name for i in config.interfaces if i.address == local}
    out: list[tuple[str, CryptoMapEntry]] = []
    for cmap in config.crypto.maps:
        if not cmap.interfaces or (owning and not owning & set(cmap.interfaces)):
            continue
        for entry in cmap.entries:
            if entry.dynamic_map is not None:
                dyn = config.crypto.dynamic_map(entry.dynamic_map)
                if dyn is not None:
                    out.extend((cmap.name, d) for d in dyn.entries)
            elif entry.ipsec_isakmp:
                out.append((cmap.name, entry))
    return out


def _offered_p2_lifetimes(t: Transform) -> tuple[int | None, int | None]:
    seconds = kilobytes = None
    life_type = None
    for a in t.attributes:
        if a.type == c.P2_LIFE_TYPE:
            life_type = a.int_value
        elif a.type == c.P2_LIFE_DURATION:
            # 0 offers no limit: ours applies
            if life_type == c.LIFE_SECONDS:
                seconds = a.int_value or None
            elif life_type == c.LIFE_KILOBYTES:
                kilobytes = a.int_value or None
    return seconds, kilobytes


def _log_p2_transform(t: Transform, sink: LogSink) -> None:
    sink.debug("crypto isakmp", f"ISAKMP:   transform {t.number}, "
               f"{ESP_TRANSFORM_NAMES.get(t.transform_id, str(t.transform_id))}")
    sink.debug("crypto isakmp", "ISAKMP:   attributes in transform:")
    _log_attributes(t, sink, _P2_ATTRIBUTE_LINES)


def choose_phase2(
    config: PixConfig, *, local: IPv4Address, proposals: tuple[Proposal, ...],
    local_selector: TrafficSelector, remote_selector: TrafficSelector, natt: bool,
    pfs_offered: bool, sink: LogSink = syslog,
) -> tuple[Phase2Choice | None, str]:
    """The first (map entry, transform set, offered transform) that fits, or None and the PIX's
    reason ("no IPSEC cryptomap exists for local address A", "invalid transform proposal flags --
    0x0", "proposal not acceptable")."""
    entries = _map_entries(config, local)
    selected: list[tuple[str, CryptoMapEntry]] = []
    for tag, entry in entries:
        if entry.match_address is not None:
            acl = config.access_list(entry.match_address)
            if acl is None or not _acl_covers(acl, local_selector, remote_selector):
                continue
        selected.append((tag, entry))
    if not selected:
        return None, f"no IPSEC cryptomap exists for local address {local}"
    reason = "proposal not acceptable"
    for proposal in proposals:
        sink.debug("crypto isakmp", f"ISAKMP : Checking IPSec proposal {proposal.number}")
        if proposal.protocol != c.PROTO_ESP or len(proposal.spi) != 4:
            continue
        for t in proposal.transforms:
            _log_p2_transform(t, sink)
            cipher = esp_cipher_name(t.transform_id, t.attribute(c.P2_KEY_LENGTH))
            integrity = esp_integrity_name(t.attribute(c.P2_AUTH))
            mode = t.attribute(c.P2_ENCAPSULATION) or c.ENCAPS_TUNNEL
            group = t.attribute(c.P2_GROUP)
            if group is not None and (group not in SUPPORTED_GROUPS or not pfs_offered):
                continue
            for tag, entry in selected:
                if entry.pfs is not None and group != entry.pfs:
                    continue
                for set_name in entry.transform_sets:
                    ts = config.crypto.transform_set(set_name)
                    if ts is None or ts.encryption != cipher or ts.authentication != integrity:
                        continue
                    wanted = _TRANSPORT_MODES if ts.mode == "transport" else _TUNNEL_MODES
                    udp = mode not in (c.ENCAPS_TRANSPORT, c.ENCAPS_TUNNEL)
                    if mode not in wanted or udp != natt:
                        reason = "invalid transform proposal flags -- 0x0"
                        continue
                    sink.debug("crypto isakmp", "ISAKMP (0): atts are acceptable.")
                    ours = entry.lifetime or config.crypto.sa_lifetime or SaLifetime()
                    off_s, off_k = _offered_p2_lifetimes(t)
                    seconds = ours.seconds if off_s is None else min(off_s, ours.seconds)
                    kbytes = ours.kilobytes if off_k is None else min(off_k, ours.kilobytes)
                    shorter = (off_s is not None and ours.seconds < off_s) or (
                        off_k is not None and ours.kilobytes < off_k)
                    return Phase2Choice(
                        map_name=tag, map_sequence=entry.sequence, entry=entry, transform_set=ts,
                        proposal=proposal, transform=t, encapsulation=mode,
                        lifetime_seconds=seconds, lifetime_kilobytes=kbytes,
                        responder_lifetime=shorter, pfs_group=group,
                    ), ""
    return None, reason
