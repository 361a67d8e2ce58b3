"""One direction of an ESP security association (RFC 4303), sans-I/O.

Implements RFC 4303 §2 (packet format: SPI, sequence number, payload, padding, pad length, next
header, ICV), §3.3 (outbound processing: sequence number without ESN, padding, encryption, ICV),
§3.4 (inbound processing: §3.4.3 anti-replay check before and window update after ICV
verification, §3.4.4 ICV check, padding check of §2.4's default 1, 2, 3, ... scheme), with the
ciphers of RFC 2405 (DES-CBC, the key used three times in the TripleDES primitive), RFC 2451
(3DES-CBC), RFC 3602 (AES-CBC 128/192/256), RFC 2410 (NULL), and the ICVs of RFC 2403
(HMAC-MD5-96), RFC 2404 (HMAC-SHA1-96) and RFC 4868 (HMAC-SHA-256-128, plus the 96-bit
truncation Android 6/7 negotiates). Lifetimes (RFC 2401 §4.4.2): seconds and kilobytes, soft
(reported once, the IKE core decides on a rekey) and hard (the SA refuses work and must go).

Speed: each SA keeps one CBC encryptor and one CBC decryptor context for its whole life and one
pre-keyed hash state per HMAC pad, copied per packet. CBC decryption of IV || C through a
long-lived decryptor yields garbage for the first block only (it is chained to the previous
packet), so the plaintext is the output after the first block. Encryption feeds a fresh random
block R ahead of the plaintext: the first output block E(R xor chain) is unpredictable and is
sent as the packet's IV (RFC 3602 §2 asks for an unpredictable IV), the rest is the plaintext
chained from it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pixgw.esp.parameters import EspCipher, EspIntegrity, EspSaParameters
from pixgw.wire import MalformedMessage

__all__ = [
    "CIPHERS",
    "INTEGRITIES",
    "EspDrop",
    "EspSa",
    "EspSaStatistics",
    "LifetimeEvent",
]

LifetimeEvent = Literal["soft", "hard"]
DropReason = Literal["malformed", "authentication", "replay", "padding", "expired", "sequence"]

SEQUENCE_LIMIT: Final = 0xFFFFFFFF
_HEADER: Final = 8  # SPI + sequence number


@dataclass(frozen=True)
class CipherSpec:
    """What an ESP cipher needs: key length, CBC block (= IV) size, 1 for NULL."""

    key_length: int
    block_size: int


@dataclass(frozen=True)
class IntegritySpec:
    key_length: int
    icv_length: int
    hash_name: str
    hash_block: int


CIPHERS: Final[dict[str, CipherSpec]] = {
    "esp-des": CipherSpec(8, 8),
    "esp-3des": CipherSpec(24, 8),
    "esp-aes": CipherSpec(16, 16),
    "esp-aes-192": CipherSpec(24, 16),
    "esp-aes-256": CipherSpec(32, 16),
    "esp-null": CipherSpec(0, 1),
}

INTEGRITIES: Final[dict[str, IntegritySpec]] = {
    "esp-md5-hmac": IntegritySpec(16, 12, "md5", 64),
    "esp-sha-hmac": IntegritySpec(20, 12, "sha1", 64),
    "esp-sha256-hmac": IntegritySpec(32, 16, "sha256", 64),
}

# RFC 4303 §2.4 default padding: 1, 2, 3, ... (at most 255 bytes).
_PADS: Final = tuple(bytes(range(1, n + 1)) for n in range(256))


class EspDrop(MalformedMessage):
    """An inbound packet that must be dropped (and counted), or an SA that refuses to encrypt."""

    def __init__(self, reason: DropReason, text: str) -> None:
        super().__init__(text)
        self.reason: DropReason = reason


@dataclass(frozen=True)
class EspSaStatistics:
    """What one direction did: packets and bytes that went through, and drops by reason."""

    spi: int
    packets: int
    bytes: int
    authentication_failures: int
    replay_failures: int
    malformed: int
    highest_sequence: int
    seconds_left: int
    kilobytes_left: int


def _cipher_algorithm(cipher: str, key: bytes) -> Any:
    if cipher == "esp-des":
        # RFC 2405 DES-CBC: TripleDES with K1 = K2 = K3 is single DES (parity bits ignored).
        return TripleDES(key * 3)
    if cipher == "esp-3des":
        return TripleDES(key)
    return algorithms.AES(key)


def _aligned(body_len: int, iv: int, bs: int) -> bool:
    """RFC 4303 §2.4: IV + ciphertext of whole blocks (4-byte units for NULL), one at least."""
    unit = bs if bs >= 4 else 4
    return body_len >= iv + unit and (body_len - iv) % unit == 0


class EspSa:
    """One direction of an ESP SA: outbound SAs :meth:`encrypt`, inbound SAs :meth:`decrypt`.

    *now* is the creation time (seconds, any monotonic origin); *random_bytes* makes IV material.
    A lifetime of 0 means no limit of that kind. Soft expiry is at *soft_fraction* of a lifetime.
    """

    __slots__ = (
        "_bs",
        "_check_padding",
        "_dec",
        "_enc",
        "_hard_bytes",
        "_hard_time",
        "_icv",
        "_inner",
        "_may_detect_truncation",
        "_outer",
        "_random_bytes",
        "_reported",
        "_soft_bytes",
        "_soft_time",
        "_spi_bytes",
        "_window_bits",
        "_window_mask",
        "authentication_failures",
        "bytes",
        "cipher",
        "expired",
        "highest_sequence",
        "integrity",
        "malformed",
        "packets",
        "replay_failures",
        "replay_window",
        "spi",
        "truncated_sha256_detected",
    )

    def __init__(
        self,
        parameters: EspSaParameters,
        *,
        now: float,
        random_bytes: Callable[[int], bytes],
        lifetime_seconds: int = 0,
        lifetime_kilobytes: int = 0,
        soft_fraction: float = 0.9,
        replay_window: int = 64,
        check_padding: bool = True,
    ) -> None:
        cipher: EspCipher = parameters.cipher
        integrity: EspIntegrity | None = parameters.integrity
        if cipher not in CIPHERS:
            raise ValueError(f"unknown ESP cipher {cipher!r}")
        spec = CIPHERS[cipher]
        if len(parameters.encryption_key) != spec.key_length:
            raise ValueError(f"{cipher} needs a {spec.key_length}-byte key")
        if cipher == "esp-null" and integrity is None:
            raise ValueError("esp-null without integrity protects nothing (RFC 4303 §3.2)")
        if not 0 <= parameters.spi <= SEQUENCE_LIMIT:
            raise ValueError("SPI out of range")
        if replay_window < 0:
            raise ValueError("replay window must be >= 0")
        self.spi = parameters.spi
        self.cipher = cipher
        self.integrity = integrity
        self._spi_bytes = parameters.spi.to_bytes(4, "big")
        self._bs = spec.block_size
        self._random_bytes = random_bytes
        self._check_padding = check_padding
        if cipher == "esp-null":
            self._enc: Any = None
            self._dec: Any = None
        else:
            algorithm = _cipher_algorithm(cipher, parameters.encryption_key)
            zero_iv = bytes(spec.block_size)
            self._enc = Cipher(algorithm, modes.CBC(zero_iv)).encryptor()
            self._dec = Cipher(algorithm, modes.CBC(zero_iv)).decryptor()
        if integrity is None:
            self._icv = 0
            self._inner: Any = None
            self._outer: Any = None
        else:
            ispec = INTEGRITIES[integrity]
            key = parameters.integrity_key
            if len(key) != ispec.key_length:
                raise ValueError(f"{integrity} needs a {ispec.key_length}-byte key")
            padded = key.ljust(ispec.hash_block, b"\0")
            # RFC 2104: H(K xor opad, H(K xor ipad, text)); both pad states keyed once.
            self._inner = hashlib.new(ispec.hash_name, bytes(b ^ 0x36 for b in padded))
            self._outer = hashlib.new(ispec.hash_name, bytes(b ^ 0x5C for b in padded))
            self._icv = ispec.icv_length
            if integrity == "esp-sha256-hmac" and parameters.truncated_sha256:
                self._icv = 12
        # Android 6/7 send HMAC-SHA-256 truncated to 96 bits instead of RFC 4868's 128 and never
        # say so: an inbound SA that has accepted nothing yet tries 96 bits when 128 fail, and
        # keeps to 96 if that verifies (the owner then truncates the outbound SA too).
        self._may_detect_truncation = integrity == "esp-sha256-hmac" and self._icv == 16
        self.truncated_sha256_detected = False
        # Anti-replay (RFC 4303 §3.4.3, Appendix A): bit i set = highest_sequence - i seen.
        self.replay_window = replay_window
        self._window_bits = 0
        self._window_mask = (1 << replay_window) - 1
        self.highest_sequence = 0  # outbound: last sequence number sent
        # Lifetime.
        self._soft_time = now + lifetime_seconds * soft_fraction if lifetime_seconds else None
        self._hard_time = now + lifetime_seconds if lifetime_seconds else None
        limit = lifetime_kilobytes * 1024
        self._soft_bytes = int(limit * soft_fraction) if limit else None
        self._hard_bytes = limit if limit else None
        self._reported: set[str] = set()
        self.expired = False
        # Statistics.
        self.packets = 0
        self.bytes = 0
        self.authentication_failures = 0
        self.replay_failures = 0
        self.malformed = 0

    # --- sizes --------------------------------------------------------------------------------

    @property
    def icv_length(self) -> int:
        return self._icv

    @property
    def block_size(self) -> int:
        return self._bs

    def overhead(self, payload_length: int) -> int:
        """Bytes ESP adds to a payload of *payload_length* bytes (header, IV, pad, trailer, ICV)."""
        align = max(self._bs, 4)
        pad = -(payload_length + 2) % align
        iv = self._bs if self._enc is not None else 0
        return _HEADER + iv + pad + 2 + self._icv

    # --- outbound (RFC 4303 §3.3) -----------------------------------------------------------

    def encrypt(self, next_header: int, payload: bytes) -> bytes:
        """The ESP packet (SPI through ICV) carrying *payload*; raises :class:`EspDrop` when the
        SA is expired or its sequence numbers are used up (RFC 4303 §3.3.3: no cycling)."""
        if self.expired:
            raise EspDrop("expired", "SA expired")
        seq = self.highest_sequence + 1
        if seq > SEQUENCE_LIMIT:
            self.expired = True
            raise EspDrop("sequence", "sequence number space exhausted")
        self.highest_sequence = seq
        length = len(payload)
        bs = self._bs
        pad = -(length + 2) % (bs if bs >= 4 else 4)
        trailer = _PADS[pad] + bytes((pad, next_header))
        head = self._spi_bytes + seq.to_bytes(4, "big")
        if self._enc is None:
            body = b"".join((head, payload, trailer))
        else:
            enc = self._enc.update(b"".join((self._random_bytes(bs), payload, trailer)))
            body = head + enc
        if self._icv:
            inner = self._inner.copy()
            inner.update(body)
            outer = self._outer.copy()
            outer.update(inner.digest())
            body += outer.digest()[: self._icv]
        self.packets += 1
        self.bytes += length
        if self._hard_bytes is not None and self.bytes >= self._hard_bytes:
            self.expired = True
        return body

    # --- inbound (RFC 4303 §3.4) ------------------------------------------------------------

    def _icv_matches(self, view: memoryview, total: int, icv: int) -> bool:
        inner = self._inner.copy()
        inner.update(view[: total - icv])
        outer = self._outer.copy()
        outer.update(inner.digest())
        return hmac.compare_digest(outer.digest()[:icv], view[total - icv :])

    def truncate_sha256(self) -> None:
        """Use 96-bit HMAC-SHA-256 ICVs from now on (the peer's inbound SA showed it does)."""
        if self.integrity == "esp-sha256-hmac":
            self._icv = 12
            self._may_detect_truncation = False

    def decrypt(self, packet: bytes) -> tuple[int, bytes]:
        """(next header, payload) of an ESP packet (SPI through ICV) for this SA.

        Raises :class:`EspDrop` (a :class:`MalformedMessage`) and counts the reason for anything
        that must be dropped: short or misaligned, replayed, failing the ICV, bad padding.
        """
        if self.expired:
            raise EspDrop("expired", "SA expired")
        icv = self._icv
        bs = self._bs
        iv = bs if self._dec is not None else 0
        total = len(packet)
        if not _aligned(total - _HEADER - icv, iv, bs):
            if not (
                self._may_detect_truncation
                and self.packets == 0
                and _aligned(total - _HEADER - 12, iv, bs)
            ):
                self.malformed += 1
                raise EspDrop("malformed", "ESP packet too short or not block aligned")
            icv = 12  # aligned only as a 96-bit ICV: Android's truncation, if it verifies
        seq = int.from_bytes(packet[4:8], "big")
        # §3.4.3 replay check, before the ICV.
        highest = self.highest_sequence
        if self.replay_window:
            if seq == 0:
                self.replay_failures += 1
                raise EspDrop("replay", "sequence number 0")
            if seq <= highest:
                offset = highest - seq
                if offset >= self.replay_window or (self._window_bits >> offset) & 1:
                    self.replay_failures += 1
                    raise EspDrop("replay", f"replayed sequence number {seq}")
        view = memoryview(packet)
        if icv and not self._icv_matches(view, total, icv):
            self.authentication_failures += 1
            raise EspDrop("authentication", "ICV mismatch")
        if icv != self._icv:  # the truncated ICV verified: keep to it (RFC 4868 says 128 bits)
            self._icv = icv
            self._may_detect_truncation = False
            self.truncated_sha256_detected = True
        if self._dec is None:
            plaintext = packet[_HEADER : total - icv]
        else:
            plaintext = self._dec.update(view[_HEADER : total - icv])[iv:]
        pad = plaintext[-2]
        end = len(plaintext) - 2 - pad
        if end < 0 or (self._check_padding and plaintext[end:-2] != _PADS[pad]):
            self.malformed += 1
            raise EspDrop("padding", "bad ESP padding")
        # §3.4.3 window update, after the ICV.
        if self.replay_window:
            if seq > highest:
                shift = seq - highest
                self._window_bits = ((self._window_bits << shift) | 1) & self._window_mask
                self.highest_sequence = seq
            else:
                self._window_bits |= 1 << (highest - seq)
        elif seq > highest:
            self.highest_sequence = seq
        self.packets += 1
        self.bytes += end
        if self._hard_bytes is not None and self.bytes >= self._hard_bytes:
            self.expired = True
        return plaintext[-1], plaintext[:end]

    # --- lifetime ---------------------------------------------------------------------------

    def poll_lifetime(self, now: float) -> LifetimeEvent | None:
        """'soft' once when a soft limit is reached, 'hard' once when a hard one is (the SA then
        refuses all work); None otherwise. Call it periodically and after traffic."""
        if "hard" in self._reported:
            return None
        if (self._hard_time is not None and now >= self._hard_time) or (
            self._hard_bytes is not None and self.bytes >= self._hard_bytes
        ):
            self._reported.add("hard")
            self.expired = True
            return "hard"
        if "soft" not in self._reported and (
            (self._soft_time is not None and now >= self._soft_time)
            or (self._soft_bytes is not None and self.bytes >= self._soft_bytes)
        ):
            self._reported.add("soft")
            return "soft"
        return None

    def seconds_left(self, now: float) -> int:
        if self._hard_time is None:
            return 0
        return max(0, int(self._hard_time - now))

    def kilobytes_left(self) -> int:
        if self._hard_bytes is None:
            return 0
        return max(0, (self._hard_bytes - self.bytes) // 1024)

    def statistics(self, now: float) -> EspSaStatistics:
        return EspSaStatistics(
            spi=self.spi,
            packets=self.packets,
            bytes=self.bytes,
            authentication_failures=self.authentication_failures,
            replay_failures=self.replay_failures,
            malformed=self.malformed,
            highest_sequence=self.highest_sequence,
            seconds_left=self.seconds_left(now),
            kilobytes_left=self.kilobytes_left(),
        )
