"""TLS 1.2 handshake messages that TLS 1.3 does not have (RFC 5246 7.4, RFC 8422 5).

ClientHello, ServerHello and Finished are shared with `messages`; the 1.2 Certificate has
no request context and no per-entry extensions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..enums import HandshakeType
from ..errors import IllegalParameter
from .codec import Reader, Writer
from .layout import Struct, opaque16, opaque_list, u16, u32
from .messages import frame

NAMED_CURVE = 3  # ECCurveType.named_curve (RFC 8422 5.4)


@dataclass(slots=True)
class Certificate12(Struct):
    TYPE = HandshakeType.certificate
    NAME = "Certificate"
    LAYOUT = (opaque_list("certificates", 3, 3, "ASN.1Cert", "certificate_list"),)

    certificates: list[bytes]


@dataclass(slots=True)
class ServerKeyExchangeECDHE:
    """ECDHE parameters signed by the server: curve, point, scheme, signature."""

    group: int
    public: bytes
    scheme: int
    signature: bytes

    def params(self) -> bytes:
        return bytes((NAMED_CURVE,)) + self.group.to_bytes(2, "big") + bytes(
            (len(self.public),)) + self.public

    def encode(self) -> bytes:
        w = Writer()
        w.raw(self.params())
        w.u16(self.scheme)
        w.bytes16(self.signature)
        return frame(HandshakeType.server_key_exchange, w.buf)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> ServerKeyExchangeECDHE:
        r = Reader(body)
        if r.u8() != NAMED_CURVE:
            raise IllegalParameter("ServerKeyExchange: only named curves are supported")
        group = r.u16()
        public = r.bytes8(1, "ECPoint")
        scheme = r.u16()
        signature = r.bytes16(1, "signature")
        r.end("ServerKeyExchange")
        return cls(group, public, scheme, signature)


@dataclass(slots=True)
class ServerHelloDone(Struct):
    """RFC 5246 7.4.5: no body; any is a decode_error."""

    TYPE = HandshakeType.server_hello_done


@dataclass(slots=True)
class ClientKeyExchangeECDHE:
    public: bytes

    def encode(self) -> bytes:
        w = Writer()
        w.bytes8(self.public)
        return frame(HandshakeType.client_key_exchange, w.buf)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> ClientKeyExchangeECDHE:
        r = Reader(body)
        public = r.bytes8(1, "ECPoint")
        r.end("ClientKeyExchange")
        return cls(public)


@dataclass(slots=True)
class ClientKeyExchangeRSA(Struct):
    """RFC 5246 7.4.7.1: the premaster secret, PKCS#1 v1.5-encrypted to the server's
    certificate key, in a 2-byte length-prefixed vector (TLS 1.0 onwards). Any length
    decodes: a wrong one is the decryption's business (no oracle), not the decoder's."""

    TYPE = HandshakeType.client_key_exchange
    NAME = "ClientKeyExchange"
    LAYOUT = (opaque16("encrypted", 0, "EncryptedPreMasterSecret"),)

    encrypted: bytes


@dataclass(slots=True)
class CertificateRequest12:
    certificate_types: bytes
    schemes: list[int]
    authorities: list[bytes]

    def encode(self) -> bytes:
        w = Writer()
        w.bytes8(self.certificate_types)
        w.u16_list(self.schemes)
        with w.prefixed(2):
            for dn in self.authorities:
                w.bytes16(dn)
        return frame(HandshakeType.certificate_request, w.buf)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> CertificateRequest12:
        r = Reader(body)
        types = r.bytes8(1, "certificate_types")
        schemes = r.u16_list(2, "supported_signature_algorithms")
        cas = r.vec16(what="certificate_authorities")
        authorities = []
        while cas.remaining:
            authorities.append(cas.bytes16(1, "DistinguishedName"))
        r.end("CertificateRequest")
        return cls(types, schemes, authorities)


@dataclass(slots=True)
class CertificateVerify12(Struct):
    TYPE = HandshakeType.certificate_verify
    NAME = "CertificateVerify"
    LAYOUT = (u16("scheme"), opaque16("signature", 1, "signature"))

    scheme: int
    signature: bytes


@dataclass(slots=True)
class CertificateStatus:
    """RFC 6066 8: the stapled OCSP response, in its own message in TLS 1.2."""

    response: bytes

    def encode(self) -> bytes:
        w = Writer()
        w.u8(1)
        w.bytes24(self.response)
        return frame(HandshakeType.certificate_status, w.buf)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> CertificateStatus:
        r = Reader(body)
        if r.u8() != 1:
            raise IllegalParameter("CertificateStatus: unknown status_type")
        resp = r.bytes24(1, "OCSPResponse")
        r.end("CertificateStatus")
        return cls(resp)


@dataclass(slots=True)
class HelloRequest(Struct):
    """RFC 5246 7.4.1.1: no body; any is a decode_error."""

    TYPE = HandshakeType.hello_request


@dataclass(slots=True)
class NewSessionTicket12(Struct):
    """RFC 5077 3.3: the lifetime hint and the opaque ticket (empty = none this time)."""

    TYPE = HandshakeType.new_session_ticket
    NAME = "NewSessionTicket"
    LAYOUT = (u32("lifetime"), opaque16("ticket"))

    lifetime: int
    ticket: bytes = field(repr=False)
