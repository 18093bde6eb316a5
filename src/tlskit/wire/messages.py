"""Handshake messages of TLS 1.3 (RFC 8446 section 4) as dataclasses with encode/decode.

Each ``decode`` takes the message *body* (after the 4-byte handshake header) and checks
every length; ``encode`` returns the full message with its header. Most messages are declared
by their wire layout (`layout.Struct`). Extensions stay raw (`Extensions`, an ordered
type -> body mapping) until a state asks for a typed view.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from ..enums import ExtensionType, HandshakeType
from ..errors import DecodeError, IllegalParameter
from .codec import Reader, Writer
from .layout import Field, Struct, opaque8, opaque16, opaque24, raw, u8, u16, u16_list, u24, u32
from .layout import frame as frame  # re-exported: the handshake header, used engine-wide

# RFC 8446 4.1.3: the ServerHello.random that marks a HelloRetryRequest.
HRR_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


_TYPE_LENGTH = struct.Struct(">HH")
_UNPACK_TYPE_LENGTH = _TYPE_LENGTH.unpack_from
_U16 = struct.Struct(">H")
# Handshake headers (type, uint24 length as u8 + u16) with a message's fixed fields.
_SH_HEAD = struct.Struct(">BBHH")  # + legacy_version (both hellos)
_SUITE_COMPRESSION = struct.Struct(">HB")
_CV_HEAD = struct.Struct(">BBHHH")  # + algorithm, signature length


class Extensions(dict[int, bytes]):
    """Extensions in wire order; a duplicate type is an illegal_parameter (4.2)."""

    @classmethod
    def decode(cls, r: Reader, what: str) -> Extensions:
        if r.remaining == 0:  # the extensions block may be absent in legacy hellos
            return cls()
        # One pass over a well-formed block without a reader per field (a handshake
        # decodes a few dozen extensions); anything odd is read again by `decode_block`,
        # which raises with the detailed message.
        exts = block_at(r._buf, r._pos, r._end)
        if exts is not None:
            r._pos = exts[1]
            return exts[0]
        return cls.decode_block(r.vec16(what=f"{what} extensions"), what)

    @classmethod
    def decode_block(cls, block: Reader, what: str) -> Extensions:
        """The entries of an extensions block whose length has been read already."""
        exts = cls()
        while block.remaining:
            etype = block.u16()
            body = block.bytes16(what=f"{what} extension {etype}")
            if etype in exts:
                raise IllegalParameter(f"{what}: duplicate extension {ExtensionType(etype).name}")
            exts[etype] = body
        return exts

    def encode(self, w: Writer) -> None:
        w.buf += self.block()

    def block(self) -> bytes:
        """The whole extensions block: uint16 length, then each type, length and body."""
        parts = [b""]
        for etype, body in self.items():
            parts.append(_TYPE_LENGTH.pack(etype, len(body)))
            parts.append(body)
        joined = b"".join(parts)
        n = len(joined)
        if n > 0xFFFF:
            raise ValueError(f"vector too long for a 2-byte length: {n}")
        return _U16.pack(n) + joined


def entries_at(buf: Any, at: int, stop: int) -> Extensions | None:
    """The extensions from ``buf[at:stop]`` (a block's entries, its length already read)
    when they are well formed and fill it exactly, with no repeated type; else None, and
    the caller reads them again through `Extensions.decode_block`, which raises."""
    if type(buf) is not bytes:  # one copy of the block: then each body is one slice
        buf, stop, at = bytes(buf[at:stop]), stop - at, 0
    exts = Extensions()
    unpack = _UNPACK_TYPE_LENGTH
    while at + 4 <= stop:
        etype, size = unpack(buf, at)
        at += 4
        body_end = at + size
        if body_end > stop or etype in exts:
            return None
        exts[etype] = buf[at:body_end]
        at = body_end
    return exts if at == stop else None


def block_at(buf: Any, pos: int, end: int) -> tuple[Extensions, int] | None:
    """A well-formed extensions block (uint16 length, entries) at ``buf[pos:end]``, and
    where it stops; None for anything else (see `entries_at`)."""
    if end - pos < 2:
        return None
    stop = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
    if stop > end:
        return None
    exts = entries_at(buf, pos + 2, stop)
    if exts is None:
        return None
    return exts, stop


def extensions(owner: str, missing: str | None = None) -> Field:
    """The extensions block last in a message. Legacy hellos may omit it; where ``missing``
    is given (the message's own words for it) it is required."""
    def read(r: Reader) -> Extensions:
        if missing is not None and r.remaining < 2:
            raise DecodeError(f"{owner}: {missing}")
        return Extensions.decode(r, owner)
    return Field("extensions", read, lambda w, exts: exts.encode(w))


def session_id(owner: str) -> Field:
    """legacy_session_id<0..32> (4.1.2)."""
    def read(r: Reader) -> bytes:
        value = r.bytes8()
        if len(value) > 32:
            raise DecodeError(f"{owner}: legacy_session_id longer than 32 bytes")
        return value
    return Field("session_id", read, Writer.bytes8)


@dataclass(slots=True)
class ClientHello(Struct):
    TYPE = HandshakeType.client_hello
    LAYOUT = (u16("legacy_version"), raw("random", 32), session_id("ClientHello"),
              u16_list("cipher_suites"),
              opaque8("compression_methods", 1, "compression_methods"),
              extensions("ClientHello"))

    random: bytes
    session_id: bytes
    cipher_suites: list[int]
    extensions: Extensions
    legacy_version: int = 0x0303
    compression_methods: bytes = b"\x00"

    def encode(self) -> bytes:
        """`checked_encode`'s bytes in one step (every client handshake sends one)."""
        sid, suites, comp = self.session_id, self.cipher_suites, self.compression_methods
        if len(self.random) != 32 or len(sid) > 255 or len(comp) > 255 \
                or len(suites) > 0x7FFF:
            return self.checked_encode()  # (the Writer's own rules decide, as before)
        suites_body = struct.pack(f">{len(suites)}H", *suites)
        exts = self.extensions.block()
        n = 38 + len(sid) + len(suites_body) + len(comp) + len(exts)
        return b"".join((_SH_HEAD.pack(self.TYPE, n >> 16, n & 0xFFFF,
                                       self.legacy_version), self.random, bytes((len(sid),)),
                         sid, _U16.pack(len(suites_body)), suites_body, bytes((len(comp),)),
                         comp, exts))


@dataclass(slots=True)
class ServerHello(Struct):
    TYPE = HandshakeType.server_hello
    LAYOUT = (u16("legacy_version"), raw("random", 32), session_id("ServerHello"),
              u16("cipher_suite"), u8("compression_method"), extensions("ServerHello"))

    random: bytes
    session_id: bytes
    cipher_suite: int
    extensions: Extensions
    legacy_version: int = 0x0303
    compression_method: int = 0

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HRR_RANDOM

    def encode(self) -> bytes:
        """`checked_encode`'s bytes in one step (every server handshake sends one)."""
        sid, exts = self.session_id, self.extensions.block()
        if len(self.random) != 32 or len(sid) > 255 or not 0 <= self.compression_method < 256:
            return self.checked_encode()  # (the Writer's own rules decide, as before)
        n = 38 + len(sid) + len(exts)
        return b"".join((_SH_HEAD.pack(self.TYPE, n >> 16, n & 0xFFFF,
                                       self.legacy_version), self.random, bytes((len(sid),)),
                         sid, _SUITE_COMPRESSION.pack(self.cipher_suite,
                                                      self.compression_method), exts))

    @classmethod
    def decode(cls, body: bytes | memoryview) -> ServerHello:
        """`checked_decode` in one step when the fixed fields and the extensions block
        are well formed (every client handshake decodes one); anything else, including
        a missing or short block, goes through the checked decoder."""
        n = len(body)
        if n >= 40:
            sid_end = 35 + body[34]
            if sid_end <= 67:  # legacy_session_id<0..32>
                exts = block_at(body, sid_end + 3, n)
                if exts is not None and exts[1] == n:
                    return cls(bytes(body[2:34]), bytes(body[35:sid_end]),
                               (body[sid_end] << 8) | body[sid_end + 1], exts[0],
                               (body[0] << 8) | body[1], body[sid_end + 2])
        return cls.checked_decode(body)


@dataclass(slots=True)
class EncryptedExtensions(Struct):
    TYPE = HandshakeType.encrypted_extensions
    LAYOUT = (extensions("EncryptedExtensions", "missing extensions block"),)

    extensions: Extensions

    def encode(self) -> bytes:
        return frame(self.TYPE, self.extensions.block())

    @classmethod
    def decode(cls, body: bytes | memoryview) -> EncryptedExtensions:
        exts = block_at(body, 0, len(body))
        if exts is not None and exts[1] == len(body):
            return cls(exts[0])
        return cls.checked_decode(body)


@dataclass(slots=True)
class CertificateEntry:
    cert_data: bytes
    extensions: Extensions = field(default_factory=Extensions)


@dataclass(slots=True)
class Certificate:
    request_context: bytes
    entries: list[CertificateEntry]

    def encode(self) -> bytes:
        w = Writer()
        w.bytes8(self.request_context)
        with w.prefixed(3):
            for entry in self.entries:
                w.bytes24(entry.cert_data)
                entry.extensions.encode(w)
        return frame(HandshakeType.certificate, w.buf)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> Certificate:
        """`checked_decode` in one pass when every length fits and no entry repeats an
        extension; anything else is read again by the checked decoder."""
        n = len(body)
        if n >= 4:
            at = 4 + body[0]  # past request_context<0..255> and the list's uint24 length
            if at <= n and (body[at - 3] << 16) | (body[at - 2] << 8) | body[at - 1] == n - at:
                entries = []
                while at + 5 <= n:
                    data_end = at + 3 + ((body[at] << 16) | (body[at + 1] << 8) | body[at + 2])
                    if data_end == at + 3 or data_end + 2 > n:  # cert_data<1..2^24-1>
                        break
                    exts_end = data_end + 2 + ((body[data_end] << 8) | body[data_end + 1])
                    exts = entries_at(body, data_end + 2, exts_end) if exts_end <= n else None
                    if exts is None:
                        break
                    entries.append(CertificateEntry(bytes(body[at + 3:data_end]), exts))
                    at = exts_end
                if at == n:
                    return cls(bytes(body[1:1 + body[0]]), entries)
        return cls.checked_decode(body)

    @classmethod
    def checked_decode(cls, body: bytes | memoryview) -> Certificate:
        r = Reader(body)
        context = r.bytes8()
        lst = r.vec24(what="certificate_list")
        entries = []
        while lst.remaining:
            data = lst.bytes24(1, "cert_data")
            exts = lst.vec16(what="CertificateEntry extensions")
            parsed = Extensions.decode_block(exts, "CertificateEntry")
            entries.append(CertificateEntry(data, parsed))
        r.end("Certificate")
        return cls(context, entries)


@dataclass(slots=True)
class CertificateVerify(Struct):
    TYPE = HandshakeType.certificate_verify
    # An empty signature fails verification, not decoding.
    LAYOUT = (u16("algorithm"), opaque16("signature", 0, "signature"))

    algorithm: int
    signature: bytes

    def encode(self) -> bytes:
        sig = self.signature
        if not 0 <= self.algorithm <= 0xFFFF or len(sig) > 0xFFFF:
            return self.checked_encode()  # (which raises)
        n = 4 + len(sig)
        return _CV_HEAD.pack(self.TYPE, n >> 16, n & 0xFFFF,
                             self.algorithm, len(sig)) + sig

    @classmethod
    def decode(cls, body: bytes | memoryview) -> CertificateVerify:
        n = len(body)
        if n >= 4 and (body[2] << 8) | body[3] == n - 4:
            return cls((body[0] << 8) | body[1], bytes(body[4:]))
        return cls.checked_decode(body)


@dataclass(slots=True)
class CertificateRequest(Struct):
    TYPE = HandshakeType.certificate_request
    LAYOUT = (opaque8("request_context"), extensions("CertificateRequest", "missing extensions"))

    request_context: bytes
    extensions: Extensions


@dataclass(slots=True)
class Finished:
    verify_data: bytes

    def encode(self) -> bytes:
        return frame(HandshakeType.finished, self.verify_data)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> Finished:
        return cls(bytes(body))


@dataclass(slots=True)
class NewSessionTicket(Struct):
    TYPE = HandshakeType.new_session_ticket
    LAYOUT = (u32("lifetime"), u32("age_add"), opaque8("nonce"), opaque16("ticket", 1, "ticket"),
              extensions("NewSessionTicket", "missing extensions"))

    lifetime: int
    age_add: int
    nonce: bytes
    ticket: bytes
    extensions: Extensions

    def check(self) -> None:
        if self.lifetime > 604800:
            raise IllegalParameter("NewSessionTicket: lifetime over 7 days")


@dataclass(slots=True)
class KeyUpdate(Struct):
    TYPE = HandshakeType.key_update
    LAYOUT = (u8("request_update"),)

    request_update: int

    def check(self) -> None:
        if self.request_update not in (0, 1):
            raise IllegalParameter(
                f"KeyUpdate: request_update {self.request_update} is neither 0 nor 1")


@dataclass(slots=True)
class EndOfEarlyData(Struct):
    """4.5: no body; any is a decode_error."""

    TYPE = HandshakeType.end_of_early_data


@dataclass(slots=True)
class CompressedCertificate(Struct):
    """RFC 8879 4: a Certificate message body, compressed."""

    TYPE = HandshakeType.compressed_certificate
    LAYOUT = (u16("algorithm"), u24("uncompressed_length"),
              opaque24("compressed", 1, "compressed_certificate_message"))

    algorithm: int
    uncompressed_length: int
    compressed: bytes


Message = (ClientHello | ServerHello | EncryptedExtensions | Certificate | CertificateVerify
           | CertificateRequest | Finished | NewSessionTicket | KeyUpdate | EndOfEarlyData
           | CompressedCertificate)

DECODERS: dict[int, Any] = {
    HandshakeType.client_hello: ClientHello,
    HandshakeType.server_hello: ServerHello,
    HandshakeType.encrypted_extensions: EncryptedExtensions,
    HandshakeType.certificate: Certificate,
    HandshakeType.certificate_verify: CertificateVerify,
    HandshakeType.certificate_request: CertificateRequest,
    HandshakeType.finished: Finished,
    HandshakeType.new_session_ticket: NewSessionTicket,
    HandshakeType.key_update: KeyUpdate,
    HandshakeType.end_of_early_data: EndOfEarlyData,
    HandshakeType.compressed_certificate: CompressedCertificate,
}


# Each type's body decoder itself (`DECODERS[t].decode`), for the engine's dispatch.
BODY_DECODERS: dict[int, Any] = {t: cls.decode for t, cls in DECODERS.items()}


def decode_message(msg_type: int, body: bytes | memoryview) -> Message:
    """Decode one handshake message body; unknown types are unexpected_message."""
    decoder = DECODERS.get(msg_type)
    if decoder is None:
        from ..errors import UnexpectedMessage
        raise UnexpectedMessage(f"unknown or unsupported handshake message type {msg_type}")
    msg: Message = decoder.decode(body)
    return msg
