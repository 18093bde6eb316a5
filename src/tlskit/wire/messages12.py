"""TLS 1.2 handshake messages that TLS 1.3 does not have (RFC 5246 7.4, RFC 8422 5).

ClientHello, ServerHello and Finished are shared with `messages`; the 1.2 Certificate has
no request context and no per-entry extensions.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..enums import HandshakeType
from ..errors import DecodeError, IllegalParameter
from .codec import Reader, Writer
from .layout import Struct, opaque16, opaque_list, u16, u32
from .messages import frame

NAMED_CURVE = 3  # ECCurveType.named_curve (RFC 8422 5.4)
_PARAMS_HEAD = struct.Struct(">BHB")  # curve_type, namedcurve, the point's length
_U16_PAIR = struct.Struct(">HH")     # (scheme, signature length) / (type, body length)
_U16 = struct.Struct(">H")
_HEADER = struct.Struct(">I")         # handshake type << 24 | uint24 length
_SH_TAIL = struct.Struct(">HBH")      # cipher_suite, compression_method, extensions length
_SH_TYPE = int(HandshakeType.server_hello) << 24
_SKE_TYPE = int(HandshakeType.server_key_exchange) << 24
_CKE_HEAD = struct.Struct(">IB")      # the header, then the point's length
_CKE_TYPE = int(HandshakeType.client_key_exchange) << 24
_FINISHED12_HEADER = bytes((HandshakeType.finished, 0, 0, 12))  # RFC 5246 7.4.9: 12 bytes
SERVER_HELLO_DONE = b"\x0e\x00\x00\x00"  # RFC 5246 7.4.5: the same four bytes every time
# ClientCertificateType (RFC 5246 7.4.4, RFC 8422 5.5) a certificate of each TLS 1.2 auth
# family ("RSA", "ECDSA": EdDSA keys are ecdsa_sign too) needs in a CertificateRequest.
CERTIFICATE_TYPE = {"RSA": 1, "ECDSA": 64}  # rsa_sign, ecdsa_sign


def ske_params(group: int, public: bytes) -> bytes:
    """ServerECDHParams (RFC 8422 5.4), which the signature covers after the randoms."""
    return _PARAMS_HEAD.pack(NAMED_CURVE, group, len(public)) + public


def encode_ske(params: bytes, scheme: int, signature: bytes) -> bytes:
    """The whole ServerKeyExchange message from its signed params, in one join (params
    are at most 259 bytes, the signature 65535: the header's length always fits)."""
    body_length = len(params) + 4 + len(signature)
    return b"".join((_HEADER.pack(_SKE_TYPE | body_length),
                     params, _U16_PAIR.pack(scheme, len(signature)), signature))


def extension_entry(etype: int, body: bytes) -> bytes:
    """One encoded extension (type, length, body); the constant ones are encoded once."""
    return _U16_PAIR.pack(etype, len(body)) + body


def encode_server_hello12(random: bytes, session_id: bytes, suite: int,
                          entries: Iterable[bytes]) -> bytes:
    """A TLS 1.2 ServerHello (version 0x0303, null compression) from encoded extension
    entries (`extension_entry`), in one join: what `messages.ServerHello.encode` gives
    for the same fields, without the layout walk."""
    block = b"".join(entries)
    if len(random) != 32 or len(session_id) > 32 or len(block) > 0xFFFF:
        raise ValueError("ServerHello random must be 32 bytes, the session ID at most 32, "
                         "the extensions at most 65535 bytes")
    body_length = 40 + len(session_id) + len(block)  # version 2, random 32, the rest 6
    return b"".join((
        _HEADER.pack(_SH_TYPE | body_length), b"\x03\x03", random,
        bytes((len(session_id),)), session_id, _SH_TAIL.pack(suite, 0, len(block)), block))


@dataclass(slots=True)
class RawKeyCertificate12:
    """RFC 7250 3: a TLS 1.2 Certificate once RawPublicKey was negotiated is one
    ``opaque ASN.1_subjectPublicKeyInfo<1..2^24-1>``, not a list (GnuTLS and OpenSSL
    send it so). `spki` is empty only for the client's empty answer, which keeps the
    X.509 form (an empty certificate_list, 00 00 00) as every client sends it."""

    spki: bytes

    @classmethod
    def decode(cls, body: bytes | memoryview) -> RawKeyCertificate12:
        n = len(body)
        if n < 3 or (body[0] << 16) | (body[1] << 8) | body[2] != n - 3:
            raise DecodeError(f"a RawPublicKey Certificate is one SubjectPublicKeyInfo "
                              f"behind a 3-byte length (RFC 7250 3); this one has "
                              f"{n} bytes that do not match it")
        return cls(bytes(body[3:]))

    def encode(self) -> bytes:
        n = len(self.spki)
        if not 0 < n < 1 << 24:
            raise ValueError("a raw public key must be 1..2^24-1 bytes")
        return frame(HandshakeType.certificate, n.to_bytes(3, "big") + self.spki)


@dataclass(slots=True)
class Certificate12(Struct):
    TYPE = HandshakeType.certificate
    NAME = "Certificate"
    LAYOUT = (opaque_list("certificates", 3, 3, "ASN.1Cert", "certificate_list"),)

    certificates: list[bytes]

    @classmethod
    def decode(cls, body: bytes | memoryview) -> Certificate12:
        """A well-formed list in one pass; anything else through the layout's checked
        reader, which raises with the detailed message (same outcome either way)."""
        b, n = body, len(body)
        if n >= 3 and (b[0] << 16) | (b[1] << 8) | b[2] == n - 3:
            items = []
            at = 3
            while at + 3 <= n:
                length = (b[at] << 16) | (b[at + 1] << 8) | b[at + 2]
                stop = at + 3 + length
                if not length or stop > n:
                    break
                items.append(bytes(b[at + 3:stop]))
                at = stop
            if at == n:
                return cls(items)
        return cls.checked_decode(body)


@dataclass(slots=True)
class ServerKeyExchangeECDHE:
    """ECDHE parameters signed by the server: curve, point, scheme, signature."""

    group: int
    public: bytes
    scheme: int
    signature: bytes

    def params(self) -> bytes:
        return ske_params(self.group, self.public)

    @staticmethod
    def signed_params(raw: bytes) -> bytes:
        """The params as received, from the whole message (4-byte header first) that
        decoded: the body's first bytes (curve type, group, point length, point), which
        `params` would encode again."""
        return raw[4:8 + raw[7]]

    def encode(self) -> bytes:
        return encode_ske(self.params(), self.scheme, self.signature)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> ServerKeyExchangeECDHE:
        """Well-formed params in one step; anything else through `checked_decode`."""
        b, n = body, len(body)
        if n >= 4 and b[0] == NAMED_CURVE and b[3]:
            at = 4 + b[3]
            if at + 4 <= n:
                length = (b[at + 2] << 8) | b[at + 3]
                if at + 4 + length == n:
                    return cls((b[1] << 8) | b[2], bytes(b[4:at]), (b[at] << 8) | b[at + 1],
                               bytes(b[at + 4:]))
        return cls.checked_decode(body)

    @classmethod
    def checked_decode(cls, body: bytes | memoryview) -> ServerKeyExchangeECDHE:
        r = Reader(body)
        if r.u8() != NAMED_CURVE:
            raise IllegalParameter("ServerKeyExchange: only named curves are supported")
        group = r.u16()
        public = r.bytes8(1, "ECPoint")
        scheme = r.u16()
        signature = r.bytes16(0, "signature")  # empty: fails verification (decrypt_error)
        r.end("ServerKeyExchange")
        return cls(group, public, scheme, signature)


@dataclass(slots=True)
class ServerHelloDone(Struct):
    """RFC 5246 7.4.5: no body; any is a decode_error."""

    TYPE = HandshakeType.server_hello_done

    @classmethod
    def decode(cls, body: bytes | memoryview) -> ServerHelloDone:
        """The empty body at once; anything else through `checked_decode`."""
        return cls() if not len(body) else cls.checked_decode(body)


def encode_cke_ecdhe(public: bytes) -> bytes:
    """ClientKeyExchange with an ECDHE point (RFC 8422 5.7), in one join."""
    n = len(public)
    if n > 255:
        raise ValueError(f"an ECPoint has a 1-byte length, not {n} bytes")
    return _CKE_HEAD.pack(_CKE_TYPE | (n + 1), n) + public


def encode_finished12(verify_data: bytes) -> bytes:
    """Finished with TLS 1.2's 12-byte verify_data: a constant header, then the data."""
    if len(verify_data) != 12:
        raise ValueError("TLS 1.2 verify_data is 12 bytes")
    return _FINISHED12_HEADER + verify_data


@dataclass(slots=True)
class ClientKeyExchangeECDHE:
    public: bytes

    def encode(self) -> bytes:
        return encode_cke_ecdhe(self.public)

    @classmethod
    def decode(cls, body: bytes | memoryview) -> ClientKeyExchangeECDHE:
        """A well-formed point in one step; anything else through `checked_decode`."""
        if len(body) >= 2 and body[0] == len(body) - 1:
            return cls(bytes(body[1:]))
        return cls.checked_decode(body)

    @classmethod
    def checked_decode(cls, body: bytes | memoryview) -> ClientKeyExchangeECDHE:
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
    # RFC 5246 4.7 digitally-signed: signature<0..2^16-1>. An empty one is well-formed and
    # fails verification (decrypt_error), as with OpenSSL, not decoding.
    LAYOUT = (u16("scheme"), opaque16("signature", 0, "signature"))

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
