"""Reading and proving AVP values the control messages share: text AVPs, Result Codes (RFC 2661
§4.4.2), the Framing Type values (§4.4.3) and the tunnel authentication response (§4.2, §5.1.1:
MD5 of the message type, the secret and the challenge, like CHAP)."""

from __future__ import annotations

import hashlib

from pixgw.l2tp.avp import Avp

FRAMING_SYNC = 1
FRAMING_ASYNC = 2


def challenge_response(message_type: int, secret: bytes, challenge: bytes) -> bytes:
    """§4.4.3: MD5 over the message type (one octet), the secret and the challenge."""
    return hashlib.md5(bytes((message_type,)) + secret + challenge, usedforsecurity=False).digest()


def avp_text(avp: Avp | None) -> str:
    return avp.value.decode("utf-8", "replace") if avp is not None else ""


def result_of(avp: Avp | None) -> tuple[int, int | None, str]:
    if avp is None or len(avp.value) < 2:
        return 0, None, ""
    result = int.from_bytes(avp.value[:2], "big")
    error = int.from_bytes(avp.value[2:4], "big") if len(avp.value) >= 4 else None
    text = avp.value[4:].decode("utf-8", "replace")[:128] if len(avp.value) > 4 else ""
    return result, error, text
