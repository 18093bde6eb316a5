"""Handshake messages declared by their wire layout: one encoder and one decoder serve all.

A message with a fixed layout lists its fields in wire order, the way the RFCs write a
struct (RFC 8446 4.4.3)::

    struct {                                  LAYOUT = (
        SignatureScheme algorithm;                u16("algorithm"),
        opaque signature<0..2^16-1>;              opaque16("signature"),
    } CertificateVerify;                      )

and `Struct` encodes and decodes it: every field is read with the codec's bounds checks, in
order, then `Reader.end` insists nothing is left and `check` applies the rules that are not
about layout (a lifetime limit, a value range). Messages whose body is a list of entries keep
their own ``encode``/``decode``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from .codec import Reader, Writer


def frame(msg_type: int, body: bytes | bytearray) -> bytes:
    """Prefix a body with its handshake header (type, uint24 length)."""
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a layout: the dataclass attribute, and how it is read and written."""

    name: str
    read: Callable[[Reader], Any]
    write: Callable[[Writer, Any], None]


def u8(name: str) -> Field:
    return Field(name, Reader.u8, Writer.u8)


def u16(name: str) -> Field:
    return Field(name, Reader.u16, Writer.u16)


def u24(name: str) -> Field:
    return Field(name, Reader.u24, Writer.u24)


def u32(name: str) -> Field:
    return Field(name, Reader.u32, Writer.u32)


def raw(name: str, length: int) -> Field:
    """Fixed-length bytes (a Random)."""
    return Field(name, lambda r: r.raw(length), Writer.raw)


def opaque8(name: str, minimum: int = 0, what: str = "vector") -> Field:
    return Field(name, lambda r: r.bytes8(minimum, what), Writer.bytes8)


def opaque16(name: str, minimum: int = 0, what: str = "vector") -> Field:
    return Field(name, lambda r: r.bytes16(minimum, what), Writer.bytes16)


def opaque24(name: str, minimum: int = 0, what: str = "vector") -> Field:
    return Field(name, lambda r: r.bytes24(minimum, what), Writer.bytes24)


def u16_list(name: str, minimum_bytes: int = 2) -> Field:
    """A vec16 of uint16 values (cipher suites, signature schemes)."""
    return Field(name, lambda r: r.u16_list(minimum_bytes, name), Writer.u16_list)


def opaque_list(name: str, width: int, item_width: int, item_what: str, what: str) -> Field:
    """A vector (``width``-byte length) of non-empty opaque items (``item_width``-byte
    lengths): a TLS 1.2 certificate_list, certificate_authorities."""
    read_list = {2: Reader.vec16, 3: Reader.vec24}[width]
    read_item, write_item = {2: (Reader.bytes16, Writer.bytes16),
                             3: (Reader.bytes24, Writer.bytes24)}[item_width]

    def read(r: Reader) -> list[bytes]:
        lst = read_list(r, 0, what)
        items = []
        while lst.remaining:
            items.append(read_item(lst, 1, item_what))
        return items

    def write(w: Writer, items: list[bytes]) -> None:
        with w.prefixed(width):
            for item in items:
                write_item(w, item)

    return Field(name, read, write)


class Struct:
    """Base of a message dataclass with a `LAYOUT` (none: an empty message); `NAME` (the
    class name unless given) is what decode errors call it."""

    __slots__ = ()
    TYPE: ClassVar[int]
    NAME: ClassVar[str]
    LAYOUT: ClassVar[tuple[Field, ...]] = ()

    # (name, read) and (name, write) of each field, in wire order: what the loops below
    # use, so they look up no Field attributes (a handshake decodes and encodes a dozen).
    _READERS: ClassVar[tuple[tuple[str, Callable[[Reader], Any]], ...]] = ()
    _WRITERS: ClassVar[tuple[tuple[str, Callable[[Writer, Any], None]], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "NAME" not in cls.__dict__:
            cls.NAME = cls.__name__
        cls._READERS = tuple((f.name, f.read) for f in cls.LAYOUT)
        cls._WRITERS = tuple((f.name, f.write) for f in cls.LAYOUT)

    def checked_encode(self) -> bytes:
        """The encoding by the layout: what a message's own one-step `encode` (where it
        has one) must equal byte for byte."""
        w = Writer()
        for name, write in self._WRITERS:
            write(w, getattr(self, name))
        return frame(self.TYPE, w.buf)

    @classmethod
    def checked_decode(cls, body: bytes | memoryview) -> Self:
        """Decode by the layout, every read bounds-checked: what a message's one-step
        `decode` falls back to for anything it does not recognise as well formed, so
        every error is raised here, with this message."""
        r = Reader(body)
        values = {}
        for name, read in cls._READERS:  # a loop, not a comprehension: no extra frame
            values[name] = read(r)
        r.end(cls.NAME)
        msg = cls(**values)
        msg.check()
        return msg

    # What a message without a one-step encoder or decoder of its own uses (an alias:
    # no extra frame; spelt out for the type checker).
    encode = checked_encode
    if TYPE_CHECKING:
        @classmethod
        def decode(cls, body: bytes | memoryview) -> Self:
            """`checked_decode`, unless a message has a one-step decoder of its own."""
    else:
        decode = checked_decode

    def check(self) -> None:
        """Rules beyond the layout, applied after decoding; none unless a message has some."""
