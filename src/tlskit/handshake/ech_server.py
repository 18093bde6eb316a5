"""Encrypted Client Hello, server side (RFC 9849 7): a client-facing server in shared
mode. It decrypts ClientHelloInner with the config the client names, rebuilds it from
the outer hello (ech_outer_extensions, the session ID), and the handshake goes on with
the inner hello; ServerHello.random (or the HelloRetryRequest's extension) carries the
acceptance confirmation. A hello that does not decrypt is answered as it is, with the
server's configs as retry_configs in EncryptedExtensions.

`ServerHandshake13` calls in here only when ``ServerConfig.ech_keys`` is set and the
ClientHello has an encrypted_client_hello extension.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from .. import hpke
from ..enums import ExtensionType, ProtocolVersion, is_grease
from ..errors import DecodeError, DecryptError, IllegalParameter, MissingExtension
from ..wire import ech
from ..wire import messages as m
from ..wire.codec import Reader
from .ech import INFO_PREFIX

_E = ExtensionType


@dataclass(frozen=True, slots=True)
class EchKey:
    config: ech.ECHConfig
    private_key: X25519PrivateKey


@dataclass(frozen=True, slots=True)
class EchKeys:
    """`ServerConfig.ech_keys`, checked once: the configs and keys, and the
    ECHConfigList sent as retry_configs (all of them)."""

    keys: tuple[EchKey, ...]
    retry_configs: bytes

    @classmethod
    def load(cls, pairs: Sequence[tuple[bytes, bytes]]) -> EchKeys:
        keys = []
        for i, pair in enumerate(pairs):
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise TypeError(f"ech_keys[{i}] must be an (ech_config, private_key) pair")
            keys.append(_load_key(i, bytes(pair[0]), bytes(pair[1])))
        return cls(tuple(keys), ech.encode_config_list([k.config for k in keys]))

    def candidates(self, config_id: int, suite: ech.CipherSuite) -> list[EchKey]:
        return [k for k in self.keys if k.config.config_id == config_id
                and suite in k.config.cipher_suites
                and hpke.supported(k.config.kem_id, suite.kdf_id, suite.aead_id)]


def _load_key(i: int, config_bytes: bytes, key_bytes: bytes) -> EchKey:
    what = f"ech_keys[{i}]"
    try:
        configs = ech.decode_config_list(len(config_bytes).to_bytes(2, "big") + config_bytes)
    except (DecodeError, OverflowError) as exc:
        raise ValueError(f"{what}: not one ECHConfig: {exc}") from None
    if len(configs) != 1 or not configs[0].known_version:
        raise ValueError(f"{what}: not one ECHConfig of version 0xfe0d")
    config = configs[0]
    if config.kem_id not in hpke.SUPPORTED_KEMS:
        raise ValueError(f"{what}: KEM {config.kem_id:#06x} is not implemented (X25519 is)")
    if len(key_bytes) != hpke.X25519_KEY_LENGTH:
        raise ValueError(f"{what}: the private key must be 32 raw X25519 bytes, not "
                         f"{len(key_bytes)}")
    key = X25519PrivateKey.from_private_bytes(key_bytes)
    if key.public_key().public_bytes_raw() != config.public_key:
        raise ValueError(f"{what}: the private key does not match the config's public key")
    return EchKey(config, key)


@dataclass(slots=True)
class EchAccepted:
    """A connection whose inner hello decrypted: the HPKE context (for the second
    hello), what the client chose, and the inner random."""

    key: EchKey
    suite: ech.CipherSuite
    context: hpke.Context
    inner_random: bytes = b""


def _ech_body_span(raw: bytes) -> tuple[int, int]:
    """Where the encrypted_client_hello body lies in a ClientHello message (with its
    header): (start, end). The message decoded already, so its shape is sound."""
    r = Reader(raw, 4 + 2 + 32)
    r.bytes8()
    r.bytes16()
    r.bytes8()
    block = r.vec16()
    while block.remaining:
        etype = block.u16()
        n = block.u16()
        start = block.position
        block.raw(n)
        if etype == _E.encrypted_client_hello:
            return start, start + n
    raise AssertionError("no encrypted_client_hello in the ClientHello")


def _offer(outer: m.ClientHello) -> ech.OuterHello:
    offer = ech.decode_client_hello_ext(outer.extensions[_E.encrypted_client_hello])
    if offer is None:  # 7: a client-facing server never gets the inner marker in clear
        raise IllegalParameter("encrypted_client_hello of type inner in a ClientHelloOuter")
    return offer


def _aad(raw: bytes, payload: bytes) -> bytes:
    """ClientHelloOuterAAD (5.2): the outer hello, without its header, payload zeroed."""
    _, end = _ech_body_span(raw)
    return raw[4:end - len(payload)] + bytes(len(payload)) + raw[end:]


def open_first(keys: EchKeys, outer: m.ClientHello,
               raw: bytes) -> tuple[EchAccepted, m.ClientHello] | None:
    """7.1: the inner hello of a first ClientHello, or None when no config decrypts it
    (the server then answers the outer hello)."""
    offer = _offer(outer)
    for key in keys.candidates(offer.config_id, offer.cipher_suite):
        info = INFO_PREFIX + key.config.encode()
        try:
            context = hpke.setup_base_r(offer.enc, key.private_key, info,
                                        offer.cipher_suite.kdf_id, offer.cipher_suite.aead_id)
            encoded = context.open(_aad(raw, offer.payload), offer.payload)
        except hpke.HPKEError:
            continue
        inner = decode_inner(encoded, outer)
        return EchAccepted(key, offer.cipher_suite, context, inner.random), inner
    return None


def open_second(state: EchAccepted, outer: m.ClientHello, raw: bytes) -> m.ClientHello:
    """7.1.1: the second inner hello, under the same HPKE context; anything else once
    the first was accepted ends the handshake."""
    if _E.encrypted_client_hello not in outer.extensions:
        raise MissingExtension("the second ClientHello lacks encrypted_client_hello, "
                               "which the first had (RFC 9849 7.1.1)")
    offer = _offer(outer)
    if offer.config_id != state.key.config.config_id or offer.cipher_suite != state.suite:
        raise IllegalParameter("the second ClientHello changed the ECH config or suite")
    if offer.enc:
        raise IllegalParameter("the second ClientHello's ECH enc is not empty (6.1.5)")
    try:
        encoded = state.context.open(_aad(raw, offer.payload), offer.payload)
    except hpke.HPKEError:
        raise DecryptError("the second ClientHelloInner does not decrypt "
                           "(RFC 9849 7.1.1)") from None
    return decode_inner(encoded, outer)


def decode_inner(encoded: bytes, outer: m.ClientHello) -> m.ClientHello:
    """EncodedClientHelloInner (5.1) -> ClientHelloInner: the padding must be zeros,
    legacy_session_id comes from the outer hello, ech_outer_extensions are expanded
    from the outer hello in order, and the hello must carry the inner marker and offer
    TLS 1.3 alone (7.1: illegal_parameter otherwise)."""
    r = Reader(encoded)
    start = r.position
    r.u16()
    r.raw(32)
    r.bytes8()
    r.vec16()
    r.vec8()
    r.vec16()
    hello_end = r.position
    if any(r.rest()):
        raise IllegalParameter("EncodedClientHelloInner padding is not all zeros (5.1)")
    inner = m.ClientHello.decode(memoryview(encoded)[start:hello_end])
    if inner.session_id:
        raise IllegalParameter("EncodedClientHelloInner has a legacy_session_id (5.1)")
    exts = _expand(inner.extensions, outer.extensions)
    if exts.get(_E.encrypted_client_hello) != ech.INNER_BODY:
        raise IllegalParameter("ClientHelloInner lacks the inner encrypted_client_hello")
    versions = exts.get(_E.supported_versions)
    if versions is None:
        raise IllegalParameter("ClientHelloInner does not offer TLS 1.3 (7.1)")
    offered = [v for v in Reader(versions).u16_list8() if not is_grease(v)]
    if not offered or min(offered) < ProtocolVersion.TLSv1_3:
        raise IllegalParameter("ClientHelloInner offers TLS 1.2 or older (7.1)")
    return m.ClientHello(inner.random, outer.session_id, inner.cipher_suites, exts,
                         inner.legacy_version, inner.compression_methods)


def _expand(inner: m.Extensions, outer: m.Extensions) -> m.Extensions:
    """5.1: each ech_outer_extensions stands for those outer extensions, taken in the
    outer hello's order; a missing, reordered or encrypted_client_hello reference is
    illegal_parameter."""
    out = m.Extensions()
    order = list(outer)
    at = 0
    for etype, body in inner.items():
        if etype != _E.ech_outer_extensions:
            _put(out, etype, body)
            continue
        for ref in ech.decode_outer_extensions(body):
            if ref == _E.encrypted_client_hello:
                raise IllegalParameter("ech_outer_extensions names encrypted_client_hello")
            try:
                at = order.index(ref, at) + 1
            except ValueError:
                raise IllegalParameter(f"ech_outer_extensions names {ref:#06x}, which the "
                                       "outer hello lacks (or not in that order)") from None
            _put(out, ref, outer[ref])
    return out


def _put(exts: m.Extensions, etype: int, body: bytes) -> None:
    if etype in exts:
        raise IllegalParameter(f"ClientHelloInner has extension {etype:#06x} twice")
    exts[etype] = body
