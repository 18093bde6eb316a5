"""Bounds-checked reading and writing of TLS presentation-language structures.

A `Reader` walks a memoryview; every read checks the remaining length and raises
`DecodeError` (-> decode_error alert). Length-prefixed vectors become sub-readers, and
`end()` insists that nothing is left over. A `Writer` appends to one bytearray and patches
length prefixes in place, so encoding a message makes no intermediate copies.
"""

from __future__ import annotations

import struct

from ..errors import DecodeError

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


class Reader:
    __slots__ = ("_buf", "_end", "_pos")

    def __init__(self, data: bytes | bytearray | memoryview, start: int = 0,
                 end: int | None = None) -> None:
        self._buf = data if isinstance(data, memoryview) else memoryview(data)
        self._pos = start
        self._end = len(self._buf) if end is None else end

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    @property
    def position(self) -> int:
        return self._pos

    def _need(self, n: int) -> int:
        pos = self._pos
        if self._end - pos < n:
            raise DecodeError(f"truncated: needed {n} bytes, {self._end - pos} left")
        self._pos = pos + n
        return pos

    def u8(self) -> int:
        pos = self._need(1)
        return self._buf[pos]

    def u16(self) -> int:
        pos = self._pos
        if self._end - pos < 2:
            self._need(2)  # raises
        self._pos = pos + 2
        b = self._buf
        return (b[pos] << 8) | b[pos + 1]

    def u24(self) -> int:
        pos = self._need(3)
        b = self._buf
        return (b[pos] << 16) | (b[pos + 1] << 8) | b[pos + 2]

    def u32(self) -> int:
        pos = self._need(4)
        return int(_U32.unpack_from(self._buf, pos)[0])

    def raw(self, n: int) -> bytes:
        pos = self._need(n)
        return bytes(self._buf[pos:pos + n])

    def rest(self) -> bytes:
        return self.raw(self.remaining)

    def _sub(self, n: int, minimum: int, what: str) -> Reader:
        if n < minimum:
            raise DecodeError(f"{what}: vector shorter than its minimum ({n} < {minimum})")
        pos = self._need(n)
        return Reader(self._buf, pos, pos + n)

    # The vector readers below check everything in one step (a handshake decodes a few
    # hundred vectors); on any failure they re-read through u8/u16/u24 and _sub, which
    # raise with the detailed message.

    def _span(self, width: int, minimum: int) -> int:
        """Move past a well-formed vector with a `width`-byte length and return where its
        body starts; -1, with nothing consumed, if it is not well formed."""
        pos = self._pos
        start = pos + width
        if start > self._end:
            return -1
        b = self._buf
        if width == 2:
            n = (b[pos] << 8) | b[pos + 1]
        elif width == 1:
            n = b[pos]
        else:
            n = (b[pos] << 16) | (b[pos + 1] << 8) | b[pos + 2]
        if n < minimum or start + n > self._end:
            return -1
        self._pos = start + n
        return start

    def vec8(self, minimum: int = 0, what: str = "vector") -> Reader:
        start = self._span(1, minimum)
        if start < 0:
            return self._sub(self.u8(), minimum, what)
        return Reader(self._buf, start, self._pos)

    def vec16(self, minimum: int = 0, what: str = "vector") -> Reader:
        start = self._span(2, minimum)
        if start < 0:
            return self._sub(self.u16(), minimum, what)
        return Reader(self._buf, start, self._pos)

    def vec24(self, minimum: int = 0, what: str = "vector") -> Reader:
        start = self._span(3, minimum)
        if start < 0:
            return self._sub(self.u24(), minimum, what)
        return Reader(self._buf, start, self._pos)

    def bytes8(self, minimum: int = 0, what: str = "vector") -> bytes:
        start = self._span(1, minimum)
        if start < 0:
            return self._sub(self.u8(), minimum, what).rest()
        return bytes(self._buf[start:self._pos])

    def bytes16(self, minimum: int = 0, what: str = "vector") -> bytes:
        start = self._span(2, minimum)
        if start < 0:
            return self._sub(self.u16(), minimum, what).rest()
        return bytes(self._buf[start:self._pos])

    def bytes24(self, minimum: int = 0, what: str = "vector") -> bytes:
        start = self._span(3, minimum)
        if start < 0:
            return self._sub(self.u24(), minimum, what).rest()
        return bytes(self._buf[start:self._pos])

    def u16_list(self, minimum_bytes: int = 2, what: str = "list") -> list[int]:
        """A vec16 of uint16 values (groups, suites, schemes, versions use vec8 though)."""
        sub = self.vec16(minimum_bytes, what)
        return sub._u16_items(what)

    def u16_list8(self, minimum_bytes: int = 2, what: str = "list") -> list[int]:
        sub = self.vec8(minimum_bytes, what)
        return sub._u16_items(what)

    def _u16_items(self, what: str) -> list[int]:
        n = self.remaining
        if n % 2:
            raise DecodeError(f"{what}: odd length {n} for a list of 16-bit values")
        start = self._pos
        self._pos = self._end
        return list(struct.unpack_from(f">{n // 2}H", self._buf, start))

    def end(self, what: str = "message") -> None:
        if self._pos != self._end:
            raise DecodeError(f"{what}: {self._end - self._pos} unexpected trailing bytes")


class Writer:
    __slots__ = ("buf",)

    def __init__(self, buf: bytearray | None = None) -> None:
        self.buf = bytearray() if buf is None else buf

    def u8(self, v: int) -> None:
        self.buf.append(v)

    def u16(self, v: int) -> None:
        self.buf += _U16.pack(v)

    def u24(self, v: int) -> None:
        self.buf += v.to_bytes(3, "big")

    def u32(self, v: int) -> None:
        self.buf += _U32.pack(v)

    def raw(self, data: bytes | bytearray | memoryview) -> None:
        self.buf += data

    def bytes8(self, data: bytes) -> None:
        self.u8(len(data))
        self.buf += data

    def bytes16(self, data: bytes) -> None:
        self.u16(len(data))
        self.buf += data

    def bytes24(self, data: bytes) -> None:
        self.u24(len(data))
        self.buf += data

    def u16_list(self, values: list[int], prefix: int = 2) -> None:
        body = struct.pack(f">{len(values)}H", *values)
        (self.bytes8 if prefix == 1 else self.bytes16)(body)

    def prefixed(self, width: int) -> _Prefixed:
        """``with w.prefixed(2): ...`` writes a length prefix of `width` bytes and patches
        it once the body is written."""
        return _Prefixed(self.buf, width)

    def getvalue(self) -> bytes:
        return bytes(self.buf)


class _Prefixed:
    """The context manager behind `Writer.prefixed` (a class: cheaper than a generator)."""

    __slots__ = ("at", "buf", "width")

    def __init__(self, buf: bytearray, width: int) -> None:
        self.buf = buf
        self.width = width
        self.at = len(buf)
        buf += bytes(width)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        n = len(self.buf) - self.at - self.width
        if n >= 1 << (8 * self.width):
            raise ValueError(f"vector too long for a {self.width}-byte length: {n}")
        self.buf[self.at:self.at + self.width] = n.to_bytes(self.width, "big")
