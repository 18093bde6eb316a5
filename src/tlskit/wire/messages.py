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
_U16 = struct.Struct(">H")


class Extensions(dict[int, bytes]):
    """Extensions in wire order; a duplicate type is an illegal_parameter (4.2)."""

    @classmethod
    def decode(cls, r: Reader, what: str) -> Extensions:
        if r.remaining == 0:  # the extensions block may be absent in legacy hellos
            return cls()
        # One pass over a well-formed block without a reader per field (a handshake
        # decodes a few dozen extensions); anything odd is read again by `decode_block`,
        # which raises with the detailed message.
        exts = cls()
        buf, pos, end = r._buf, r._pos, r._end
        if end - pos >= 2:
            stop = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
            at = pos + 2
            while stop <= end and at + 4 <= stop:
                etype = (buf[at] << 8) | buf[at + 1]
                body_end = at + 4 + ((buf[at + 2] << 8) | buf[at + 3])
                if body_end > stop or etype in exts:
                    break
                exts[etype] = bytes(buf[at + 4:body_end])
                at = body_end
            if at == stop:
                r._pos = stop
                return exts
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
        buf = w.buf
        at = len(buf)
        buf += b"\x00\x00"
        for etype, body in self.items():
            buf += _TYPE_LENGTH.pack(etype, len(body))
            buf += body
        n = len(buf) - at - 2
        if n > 0xFFFF:
            raise ValueError(f"vector too long for a 2-byte length: {n}")
        buf[at:at + 2] = _U16.pack(n)


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


@dataclass(slots=True)
class EncryptedExtensions(Struct):
    TYPE = HandshakeType.encrypted_extensions
    LAYOUT = (extensions("EncryptedExtensions", "missing extensions block"),)

    extensions: Extensions


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


def decode_message(msg_type: int, body: bytes | memoryview) -> Message:
    """Decode one handshake message body; unknown types are unexpected_message."""
    decoder = DECODERS.get(msg_type)
    if decoder is None:
        from ..errors import UnexpectedMessage
        raise UnexpectedMessage(f"unknown or unsupported handshake message type {msg_type}")
    msg: Message = decoder.decode(body)
    return msg
