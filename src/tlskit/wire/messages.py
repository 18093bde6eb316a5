"""Handshake messages of TLS 1.3 (RFC 8446 section 4) as dataclasses with encode/decode.

Each ``decode`` takes the message *body* (after the 4-byte handshake header) and checks
every length; ``encode`` returns the full message with its header. Extensions stay raw
(`Extensions`, an ordered type -> body mapping) until a state asks for a typed view.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from ..enums import ExtensionType, HandshakeType
from ..errors import DecodeError, IllegalParameter
from .codec import Reader, Writer

# RFC 8446 4.1.3: the ServerHello.random that marks a HelloRetryRequest.
HRR_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


_TYPE_LENGTH = struct.Struct(">HH")
_U16 = struct.Struct(">H")


class Extensions(dict[int, bytes]):
    """Extensions in wire order; a duplicate type is an illegal_parameter (4.2)."""

    @classmethod
    def decode(cls, r: Reader, what: str) -> Extensions:
        exts = cls()
        if r.remaining == 0:  # the extensions block may be absent in legacy hellos
            return exts
        # One pass over a well-formed block without a reader per field (a handshake
        # decodes a few dozen extensions); anything odd is read again by `_decode_checked`,
        # which raises with the detailed message.
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
        return cls._decode_checked(r, what)

    @classmethod
    def _decode_checked(cls, r: Reader, what: str) -> Extensions:
        exts = cls()
        block = r.vec16(what=f"{what} extensions")
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


def _header(w: Writer, msg_type: HandshakeType) -> None:
    w.u8(msg_type)


def frame(msg_type: int, body: bytes | bytearray) -> bytes:
    """Prefix a body with its handshake header (type, uint24 length)."""
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


@dataclass(slots=True)
class ClientHello:
    random: bytes
    session_id: bytes
    cipher_suites: list[int]
    extensions: Extensions
    legacy_version: int = 0x0303
    compression_methods: bytes = b"\x00"

    def encode(self) -> bytes:
        w = Writer()
        w.u16(self.legacy_version)
        w.raw(self.random)
        w.bytes8(self.session_id)
        w.u16_list(self.cipher_suites)
        w.bytes8(self.compression_methods)
        self.extensions.encode(w)
        return frame(HandshakeType.client_hello, w.buf)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> ClientHello:
        r = Reader(body)
        version = r.u16()
        random = r.raw(32)
        session_id = r.bytes8()
        if len(session_id) > 32:
            raise DecodeError("ClientHello: legacy_session_id longer than 32 bytes")
        suites = r.u16_list(2, "cipher_suites")
        compression = r.bytes8(1, "compression_methods")
        exts = Extensions.decode(r, "ClientHello")
        r.end("ClientHello")
        return cls(random, session_id, suites, exts, version, compression)


@dataclass(slots=True)
class ServerHello:
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
        w = Writer()
        w.u16(self.legacy_version)
        w.raw(self.random)
        w.bytes8(self.session_id)
        w.u16(self.cipher_suite)
        w.u8(self.compression_method)
        self.extensions.encode(w)
        return frame(HandshakeType.server_hello, w.buf)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> ServerHello:
        r = Reader(body)
        version = r.u16()
        random = r.raw(32)
        session_id = r.bytes8()
        if len(session_id) > 32:
            raise DecodeError("ServerHello: legacy_session_id longer than 32 bytes")
        suite = r.u16()
        compression = r.u8()
        exts = Extensions.decode(r, "ServerHello")
        r.end("ServerHello")
        return cls(random, session_id, suite, exts, version, compression)


@dataclass(slots=True)
class EncryptedExtensions:
    extensions: Extensions

    def encode(self) -> bytes:
        w = Writer()
        self.extensions.encode(w)
        return frame(HandshakeType.encrypted_extensions, w.buf)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> EncryptedExtensions:
        r = Reader(body)
        if r.remaining < 2:
            raise DecodeError("EncryptedExtensions: missing extensions block")
        exts = Extensions.decode(r, "EncryptedExtensions")
        r.end("EncryptedExtensions")
        return cls(exts)


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
            parsed = Extensions()
            while exts.remaining:
                etype = exts.u16()
                ebody = exts.bytes16()
                if etype in parsed:
                    raise IllegalParameter("CertificateEntry: duplicate extension")
                parsed[etype] = ebody
            entries.append(CertificateEntry(data, parsed))
        r.end("Certificate")
        return cls(context, entries)


@dataclass(slots=True)
class CertificateVerify:
    algorithm: int
    signature: bytes

    def encode(self) -> bytes:
        w = Writer()
        w.u16(self.algorithm)
        w.bytes16(self.signature)
        return frame(HandshakeType.certificate_verify, w.buf)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> CertificateVerify:
        r = Reader(body)
        alg = r.u16()
        sig = r.bytes16(what="signature")  # an empty one fails verification, not decoding
        r.end("CertificateVerify")
        return cls(alg, sig)


@dataclass(slots=True)
class CertificateRequest:
    request_context: bytes
    extensions: Extensions

    def encode(self) -> bytes:
        w = Writer()
        w.bytes8(self.request_context)
        self.extensions.encode(w)
        return frame(HandshakeType.certificate_request, w.buf)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> CertificateRequest:
        r = Reader(body)
        context = r.bytes8()
        if r.remaining < 2:
            raise DecodeError("CertificateRequest: missing extensions")
        exts = Extensions.decode(r, "CertificateRequest")
        r.end("CertificateRequest")
        return cls(context, exts)


@dataclass(slots=True)
class Finished:
    verify_data: bytes

    def encode(self) -> bytes:
        return frame(HandshakeType.finished, self.verify_data)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> Finished:
        return cls(bytes(body))


@dataclass(slots=True)
class NewSessionTicket:
    lifetime: int
    age_add: int
    nonce: bytes
    ticket: bytes
    extensions: Extensions

    def encode(self) -> bytes:
        w = Writer()
        w.u32(self.lifetime)
        w.u32(self.age_add)
        w.bytes8(self.nonce)
        w.bytes16(self.ticket)
        self.extensions.encode(w)
        return frame(HandshakeType.new_session_ticket, w.buf)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> NewSessionTicket:
        r = Reader(body)
        lifetime = r.u32()
        age_add = r.u32()
        nonce = r.bytes8()
        ticket = r.bytes16(1, "ticket")
        if r.remaining < 2:
            raise DecodeError("NewSessionTicket: missing extensions")
        exts = Extensions.decode(r, "NewSessionTicket")
        r.end("NewSessionTicket")
        if lifetime > 604800:
            raise IllegalParameter("NewSessionTicket: lifetime over 7 days")
        return cls(lifetime, age_add, nonce, ticket, exts)


@dataclass(slots=True)
class KeyUpdate:
    request_update: int

    def encode(self) -> bytes:
        return frame(HandshakeType.key_update, bytes((self.request_update,)))

    @classmethod
    def decode(cls, body: bytes | memoryview) -> KeyUpdate:
        r = Reader(body)
        value = r.u8()
        r.end("KeyUpdate")
        if value not in (0, 1):
            raise IllegalParameter(f"KeyUpdate: request_update {value} is neither 0 nor 1")
        return cls(value)


@dataclass(slots=True)
class EndOfEarlyData:
    def encode(self) -> bytes:
        return frame(HandshakeType.end_of_early_data, b"")

    @classmethod
    def decode(cls, body: bytes | memoryview) -> EndOfEarlyData:
        if len(body):
            raise DecodeError("EndOfEarlyData: body must be empty")
        return cls()


@dataclass(slots=True)
class CompressedCertificate:
    """RFC 8879 4: a Certificate message body, compressed."""

    algorithm: int
    uncompressed_length: int
    compressed: bytes

    def encode(self) -> bytes:
        w = Writer()
        w.u16(self.algorithm)
        w.u24(self.uncompressed_length)
        w.bytes24(self.compressed)
        return frame(HandshakeType.compressed_certificate, w.buf)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> CompressedCertificate:
        r = Reader(body)
        algorithm = r.u16()
        length = r.u24()
        data = r.bytes24(1, "compressed_certificate_message")
        r.end("CompressedCertificate")
        return cls(algorithm, length, data)


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
