"""What one direction of an ESP SA (RFC 4303) needs: its SPI, its cipher and integrity algorithm
by their PIX transform names (RFC 2407 §4.4.4 transform ids, §4.5 authentication algorithms) and
its keys. IKE makes them (quick mode KEYMAT, RFC 2409 §5.5); ESP and the dataplanes use them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EspCipher = Literal["esp-des", "esp-3des", "esp-aes", "esp-aes-192", "esp-aes-256", "esp-null"]
EspIntegrity = Literal["esp-md5-hmac", "esp-sha-hmac", "esp-sha256-hmac"]


@dataclass(frozen=True)
class EspSaParameters:
    """One direction of an ESP SA."""

    spi: int
    cipher: EspCipher
    integrity: EspIntegrity | None
    encryption_key: bytes
    integrity_key: bytes
    truncated_sha256: bool = False  # Android 6/7: HMAC-SHA2-256 truncated to 96 bits
