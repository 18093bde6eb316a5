"""Encrypted Client Hello structures (RFC 9849 4, 5): ECHConfigList and the
encrypted_client_hello / ech_outer_extensions extension bodies.

Decoding is strict: a length that does not add up, a vector below its minimum or bytes
left over is a DecodeError (decode_error alert). A config of a version other than 0xfe0d
decodes as far as its version and length (its contents are kept, unread): RFC 9849 4
has clients skip those, not fail. Which configs a client can use is the handshake's
question (`tlskit.handshake.ech.choose_config`), not this module's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..enums import EchClientHelloType
from ..errors import DecodeError, IllegalParameter
from .codec import Reader, Writer

ECH_VERSION = 0xFE0D
CONFIRMATION_LENGTH = 8  # the HelloRetryRequest's accept_confirmation (RFC 9849 7.2.1)
MANDATORY_EXTENSION_BIT = 0x8000  # RFC 9849 4.2: a client must understand such an extension


@dataclass(frozen=True, slots=True)
class CipherSuite:
    """HpkeSymmetricCipherSuite: an HPKE KDF and AEAD pair."""

    kdf_id: int
    aead_id: int


@dataclass(frozen=True, slots=True)
class ConfigExtension:
    """ECHConfigExtension; ``mandatory`` when the type's high bit is set (4.2)."""

    type: int
    data: bytes

    @property
    def mandatory(self) -> bool:
        return bool(self.type & MANDATORY_EXTENSION_BIT)


@dataclass(frozen=True, slots=True)
class ECHConfig:
    """One ECHConfig. For ``version == 0xfe0d`` the ECHConfigContents fields are set;
    for another version only ``version`` and ``contents`` (its unread bytes)."""

    version: int
    contents: bytes
    config_id: int = 0
    kem_id: int = 0
    public_key: bytes = b""
    cipher_suites: tuple[CipherSuite, ...] = ()
    maximum_name_length: int = 0
    public_name: bytes = b""
    extensions: tuple[ConfigExtension, ...] = ()

    @property
    def known_version(self) -> bool:
        return self.version == ECH_VERSION

    def encode(self) -> bytes:
        """The ECHConfig as on the wire (also the HPKE info's tail, RFC 9849 6.1)."""
        w = Writer()
        w.u16(self.version)
        w.bytes16(self.contents)
        return bytes(w.buf)

    @classmethod
    def build(cls, config_id: int, kem_id: int, public_key: bytes,
              cipher_suites: list[CipherSuite], public_name: bytes,
              maximum_name_length: int = 0,
              extensions: list[ConfigExtension] | None = None) -> ECHConfig:
        """A version 0xfe0d config from its fields (servers, tests)."""
        exts = tuple(extensions or ())
        return cls(ECH_VERSION, _encode_contents(
            config_id, kem_id, public_key, cipher_suites, maximum_name_length, public_name,
            exts), config_id, kem_id, public_key, tuple(cipher_suites), maximum_name_length,
            public_name, exts)


def _encode_contents(config_id: int, kem_id: int, public_key: bytes,
                     suites: list[CipherSuite] | tuple[CipherSuite, ...], max_name: int,
                     public_name: bytes, exts: tuple[ConfigExtension, ...]) -> bytes:
    w = Writer()
    w.u8(config_id)
    w.u16(kem_id)
    w.bytes16(public_key)
    with w.prefixed(2):
        for s in suites:
            w.u16(s.kdf_id)
            w.u16(s.aead_id)
    w.u8(max_name)
    w.bytes8(public_name)
    with w.prefixed(2):
        for e in exts:
            w.u16(e.type)
            w.bytes16(e.data)
    return bytes(w.buf)


def _decode_contents(version: int, contents: bytes) -> ECHConfig:
    r = Reader(contents)
    config_id = r.u8()
    kem_id = r.u16()
    public_key = r.bytes16(1, "HpkePublicKey")
    suites_r = r.vec16(4, "cipher_suites")
    if suites_r.remaining % 4:
        raise DecodeError(f"ECHConfig cipher_suites: {suites_r.remaining} bytes, not a "
                          "multiple of 4")
    suites = []
    while suites_r.remaining:
        suites.append(CipherSuite(suites_r.u16(), suites_r.u16()))
    max_name = r.u8()
    public_name = r.bytes8(1, "public_name")
    exts_r = r.vec16(0, "ECHConfig extensions")
    exts = []
    seen: set[int] = set()
    while exts_r.remaining:
        etype = exts_r.u16()
        if etype in seen:  # (4.2: as for TLS extensions, a type appears once)
            raise DecodeError(f"ECHConfig extension {etype:#06x} appears twice")
        seen.add(etype)
        exts.append(ConfigExtension(etype, exts_r.bytes16(0, "ECHConfigExtension data")))
    r.end("ECHConfigContents")
    return ECHConfig(version, contents, config_id, kem_id, public_key, tuple(suites),
                     max_name, public_name, tuple(exts))


def decode_config_list(data: bytes) -> list[ECHConfig]:
    """ECHConfigList<4..2^16-1> (4): every config, of any version, in order."""
    r = Reader(data)
    body = r.vec16(4, "ECHConfigList")
    r.end("ECHConfigList")
    configs = []
    while body.remaining:
        version = body.u16()
        contents = body.bytes16(0, "ECHConfig contents")
        configs.append(_decode_contents(version, contents) if version == ECH_VERSION
                       else ECHConfig(version, contents))
    return configs


def encode_config_list(configs: list[ECHConfig]) -> bytes:
    w = Writer()
    with w.prefixed(2):
        for c in configs:
            w.raw(c.encode())
    return bytes(w.buf)


# --- the encrypted_client_hello extension (5, 7) ---------------------------------------------

@dataclass(frozen=True, slots=True)
class OuterHello:
    """ECHClientHello of type outer: what the ClientHelloOuter carries. ``enc`` is empty
    in the ClientHello that answers a HelloRetryRequest (6.1.5)."""

    cipher_suite: CipherSuite
    config_id: int
    enc: bytes
    payload: bytes = field(repr=False)

    def encode(self) -> bytes:
        w = Writer()
        w.u8(EchClientHelloType.outer)
        w.u16(self.cipher_suite.kdf_id)
        w.u16(self.cipher_suite.aead_id)
        w.u8(self.config_id)
        w.bytes16(self.enc)
        w.bytes16(self.payload)
        return bytes(w.buf)


INNER_BODY = bytes((EchClientHelloType.inner,))  # ECHClientHello of type inner: Empty


def decode_client_hello_ext(body: bytes) -> OuterHello | None:
    """A ClientHello's encrypted_client_hello: the outer fields, or None for the inner
    marker. Any other type is illegal_parameter (7: servers abort on it)."""
    r = Reader(body)
    kind = r.u8()
    if kind == EchClientHelloType.inner:
        r.end("ECHClientHello (inner)")
        return None
    if kind != EchClientHelloType.outer:
        raise IllegalParameter(f"ECHClientHello of unknown type {kind}")
    suite = CipherSuite(r.u16(), r.u16())
    config_id = r.u8()
    enc = r.bytes16(0, "enc")
    payload = r.bytes16(1, "payload")
    r.end("ECHClientHello (outer)")
    return OuterHello(suite, config_id, enc, payload)


def decode_hrr_confirmation(body: bytes) -> bytes:
    """ECHHelloRetryRequest (5): exactly the 8-byte confirmation."""
    if len(body) != CONFIRMATION_LENGTH:
        raise DecodeError(f"encrypted_client_hello in HelloRetryRequest: {len(body)} "
                          f"bytes, not {CONFIRMATION_LENGTH}")
    return bytes(body)


def decode_retry_configs(body: bytes) -> bytes:
    """ECHEncryptedExtensions (5): the retry_configs ECHConfigList, checked to decode,
    returned as its bytes (the application hands them to its next attempt)."""
    decode_config_list(body)
    return bytes(body)


# --- ech_outer_extensions (5.1) ----------------------------------------------------------

def encode_outer_extensions(types: list[int]) -> bytes:
    """OuterExtensions<2..254>: the outer extensions the inner hello copies, in order."""
    if not 1 <= len(types) <= 127:
        raise ValueError(f"ech_outer_extensions takes 1..127 types, not {len(types)}")
    w = Writer()
    w.u16_list(types, prefix=1)
    return bytes(w.buf)


def decode_outer_extensions(body: bytes) -> list[int]:
    r = Reader(body)
    types = r.u16_list8(2, "OuterExtensions")
    r.end("ech_outer_extensions")
    return types
