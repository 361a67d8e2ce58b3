"""PPP in HDLC-like framing, asynchronous (octet-stuffed) form: RFC 1662 §3 (frame format),
§4.2 (octet stuffing with the Control Escape 0x7D), §C.2 (16-bit FCS).

L2TP carries bare PPP frames, so the gateway itself does not need this; it frames PPP over a
byte stream (a pty or TCP socket, as pppd's ``socket`` option does) for interop tests against
a real pppd. Pure functions and a bounded incremental decoder.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["FCS16_GOOD", "HdlcDecoder", "encode_async", "fcs16"]

FLAG: Final = 0x7E
ESCAPE: Final = 0x7D
FCS16_GOOD: Final = 0xF0B8  # §C.2: the FCS over a frame and its own FCS


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ 0x8408 if value & 1 else value >> 1
        table.append(value)
    return tuple(table)


_FCS_TABLE: Final = _table()


def fcs16(data: bytes, fcs: int = 0xFFFF) -> int:
    """RFC 1662 §C.2 pppfcs16 over *data*, starting from *fcs*."""
    for byte in data:
        fcs = (fcs >> 8) ^ _FCS_TABLE[(fcs ^ byte) & 0xFF]
    return fcs


def encode_async(frame: bytes, accm: int = 0xFFFFFFFF) -> bytes:
    """Flag, stuffed frame + FCS (least significant octet first), Flag. Octets below 0x20
    are escaped when their bit is set in *accm* (§7.1: all of them until negotiated)."""
    raw = frame + struct.pack("<H", fcs16(frame) ^ 0xFFFF)
    out = bytearray((FLAG,))
    for byte in raw:
        if byte in (FLAG, ESCAPE) or (byte < 0x20 and accm >> byte & 1):
            out += bytes((ESCAPE, byte ^ 0x20))
        else:
            out.append(byte)
    out.append(FLAG)
    return bytes(out)


class HdlcDecoder:
    """Splits a byte stream into frames; frames with a bad FCS or over *max_frame* octets are
    dropped and counted."""

    def __init__(self, max_frame: int = 4096) -> None:
        self.max_frame = max_frame
        self.errors = 0
        self._buffer = bytearray()
        self._escaped = False
        self._overflow = False

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        for byte in data:
            if byte == FLAG:
                self._end_frame(frames)
            elif self._overflow:
                continue
            elif byte == ESCAPE:
                self._escaped = True
            else:
                self._buffer.append(byte ^ 0x20 if self._escaped else byte)
                self._escaped = False
                if len(self._buffer) > self.max_frame + 2:
                    self._overflow = True
        return frames

    def _end_frame(self, frames: list[bytes]) -> None:
        buffer, overflow = bytes(self._buffer), self._overflow
        self._buffer.clear()
        self._escaped = False
        self._overflow = False
        if not buffer and not overflow:
            return  # back-to-back flags
        if overflow or len(buffer) < 3 or fcs16(buffer) != FCS16_GOOD:
            self.errors += 1
            return
        frames.append(buffer[:-2])
