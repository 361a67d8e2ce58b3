"""Bounded readers and writers for wire formats, and the one error family for wire input.

Every decoder in pixgw reads through :class:`Reader`, which never reads past the buffer it was
given and raises :class:`MalformedMessage` (and nothing else) on short or inconsistent input, so
that the protocol cores can turn the error into the protocol's answer (Notify, StopCCN, CDN,
Configure-Reject, Protocol-Reject) or a counted drop.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["MalformedMessage", "Reader", "Writer"]

_U16: Final = struct.Struct("!H")
_U32: Final = struct.Struct("!I")
_U64: Final = struct.Struct("!Q")


class MalformedMessage(ValueError):
    """Wire input that cannot be decoded. The only exception a decoder may raise."""


class Reader:
    """A cursor over an immutable buffer. All reads are bounds-checked."""

    __slots__ = ("_data", "_end", "_pos")

    def __init__(self, data: bytes | memoryview, start: int = 0, end: int | None = None) -> None:
        self._data = bytes(data) if isinstance(data, memoryview) else data
        self._end = len(self._data) if end is None else end
        if not 0 <= start <= self._end <= len(self._data):
            raise MalformedMessage("reader bounds outside the buffer")
        self._pos = start

    @property
    def position(self) -> int:
        return self._pos

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def at_end(self) -> bool:
        return self._pos >= self._end

    def _take(self, n: int) -> int:
        if n < 0 or self._pos + n > self._end:
            raise MalformedMessage(
                f"need {n} bytes at offset {self._pos}, only {self._end - self._pos} left"
            )
        start = self._pos
        self._pos += n
        return start

    def u8(self) -> int:
        start = self._take(1)
        return self._data[start]

    def u16(self) -> int:
        start = self._take(2)
        return int(_U16.unpack_from(self._data, start)[0])

    def u32(self) -> int:
        start = self._take(4)
        return int(_U32.unpack_from(self._data, start)[0])

    def u64(self) -> int:
        start = self._take(8)
        return int(_U64.unpack_from(self._data, start)[0])

    def read(self, n: int) -> bytes:
        start = self._take(n)
        return self._data[start : start + n]

    def rest(self) -> bytes:
        return self.read(self.remaining)

    def sub(self, n: int) -> Reader:
        """A reader over the next *n* bytes; this reader moves past them."""
        start = self._take(n)
        return Reader(self._data, start, start + n)

    def expect_end(self, what: str = "message") -> None:
        if self._pos != self._end:
            raise MalformedMessage(f"{self._end - self._pos} trailing bytes after {what}")


class Writer:
    """Builds a message; integers are checked against their field width."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, value: int) -> Writer:
        if not 0 <= value <= 0xFF:
            raise ValueError(f"u8 out of range: {value}")
        self._parts.append(bytes((value,)))
        return self

    def u16(self, value: int) -> Writer:
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"u16 out of range: {value}")
        self._parts.append(_U16.pack(value))
        return self

    def u32(self, value: int) -> Writer:
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"u32 out of range: {value}")
        self._parts.append(_U32.pack(value))
        return self

    def u64(self, value: int) -> Writer:
        if not 0 <= value <= 0xFFFFFFFFFFFFFFFF:
            raise ValueError(f"u64 out of range: {value}")
        self._parts.append(_U64.pack(value))
        return self

    def write(self, value: bytes) -> Writer:
        self._parts.append(bytes(value))
        return self

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)
