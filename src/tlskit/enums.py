"""IANA registries used by TLS 1.3, as IntEnums that tolerate unknown values.

Parsers keep whatever code point arrived (GREASE, future values); whether a value is
acceptable is decided by the state machine, never by the decoder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import Any, Self, TypeVar


class _OpenEnum(IntEnum):
    """An IntEnum whose unknown members are created on demand (named ``UNKNOWN_0x....``).

    Each lookup of an unknown code makes a new pseudo-member (~300 bytes; Enum keeps
    none), so a peer's list of codes is never turned into members wholesale: the views
    keep an unknown code as its int (`ClientHelloInfo`, `CertificateRequestInfo`) and
    `names_of` names a list without members."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, int):
            return None
        member = int.__new__(cls, value)
        member._name_ = unknown_name(value)
        member._value_ = value
        return member

    @classmethod
    def of(cls, value: int) -> Self:
        """``cls(value)`` without Enum's call machinery for a known value (one dict
        lookup; the handshake converts a dozen negotiated values per connection)."""
        member = cls._value2member_map_.get(value)
        return member if member is not None else cls(value)  # type: ignore[return-value]


def unknown_name(value: int) -> str:
    """The name of a code no member has: ``UNKNOWN_0x....``."""
    return f"UNKNOWN_0x{value:04x}"


def names_of(cls: type[_OpenEnum], codes: Iterable[int]) -> list[str]:
    """Each code's name, as ``cls(code).name`` gives it, without the pseudo-member
    `_OpenEnum._missing_` makes per unknown code (~300 bytes and 2 us each: a peer's list
    may hold 32,000 of them)."""
    known = cls._value2member_map_
    return [known[c].name if c in known else unknown_name(c) for c in codes]


class ContentType(_OpenEnum):
    invalid = 0
    change_cipher_spec = 20
    alert = 21
    handshake = 22
    application_data = 23


class HandshakeType(_OpenEnum):
    hello_request = 0
    client_hello = 1
    server_hello = 2
    new_session_ticket = 4
    end_of_early_data = 5
    encrypted_extensions = 8
    certificate = 11
    server_key_exchange = 12
    certificate_request = 13
    server_hello_done = 14
    certificate_verify = 15
    client_key_exchange = 16
    finished = 20
    certificate_status = 22
    key_update = 24
    compressed_certificate = 25
    message_hash = 254


class AlertLevel(_OpenEnum):
    warning = 1
    fatal = 2


class AlertDescription(_OpenEnum):
    """TLS alerts (RFC 8446 6); ``.name`` is the IANA name, e.g. ``unknown_ca``."""

    close_notify = 0
    unexpected_message = 10
    bad_record_mac = 20
    record_overflow = 22
    handshake_failure = 40
    bad_certificate = 42
    unsupported_certificate = 43
    certificate_revoked = 44
    certificate_expired = 45
    certificate_unknown = 46
    illegal_parameter = 47
    unknown_ca = 48
    access_denied = 49
    decode_error = 50
    decrypt_error = 51
    protocol_version = 70
    insufficient_security = 71
    internal_error = 80
    inappropriate_fallback = 86
    user_canceled = 90
    no_renegotiation = 100
    missing_extension = 109
    unsupported_extension = 110
    unrecognized_name = 112
    bad_certificate_status_response = 113
    unknown_psk_identity = 115
    certificate_required = 116
    no_application_protocol = 120
    # Encrypted Client Hello (draft-ietf-tls-esni): the client offered ECH and the server
    # did not accept it (Chrome/BoringSSL send it after completing with the outer hello).
    ech_required = 121


class ProtocolVersion(_OpenEnum):
    SSLv3 = 0x0300
    TLSv1 = 0x0301
    TLSv1_1 = 0x0302
    TLSv1_2 = 0x0303
    TLSv1_3 = 0x0304

    @property
    def label(self) -> str:
        """The conventional spelling: ``TLSv1.3``."""
        return self.name.replace("_", ".")


class ExtensionType(_OpenEnum):
    server_name = 0
    max_fragment_length = 1
    status_request = 5
    supported_groups = 10
    ec_point_formats = 11
    signature_algorithms = 13
    use_srtp = 14
    heartbeat = 15
    application_layer_protocol_negotiation = 16
    signed_certificate_timestamp = 18
    client_certificate_type = 19  # RFC 7250 (raw public keys)
    server_certificate_type = 20
    padding = 21
    encrypt_then_mac = 22
    extended_master_secret = 23
    compress_certificate = 27
    record_size_limit = 28
    session_ticket = 35
    pre_shared_key = 41
    early_data = 42
    supported_versions = 43
    cookie = 44
    psk_key_exchange_modes = 45
    certificate_authorities = 47
    oid_filters = 48
    post_handshake_auth = 49
    signature_algorithms_cert = 50
    key_share = 51
    # Encrypted Client Hello (RFC 9849): the inner hello's compressed extensions, and the
    # ECHClientHello / HRR confirmation / retry_configs extension.
    ech_outer_extensions = 0xFD00
    encrypted_client_hello = 0xFE0D
    renegotiation_info = 0xFF01


class NamedGroup(_OpenEnum):
    """Key exchange groups; ``.name`` is the IANA name (``x25519``, ``X25519MLKEM768``)."""

    secp256r1 = 0x0017
    secp384r1 = 0x0018
    secp521r1 = 0x0019
    x25519 = 0x001D
    x448 = 0x001E
    ffdhe2048 = 0x0100
    ffdhe3072 = 0x0101
    ffdhe4096 = 0x0102
    ffdhe6144 = 0x0103
    ffdhe8192 = 0x0104
    X25519MLKEM768 = 0x11EC


class SignatureScheme(_OpenEnum):
    """Signature schemes; ``.name`` is the IANA name (``ecdsa_secp256r1_sha256``)."""

    rsa_pkcs1_sha1 = 0x0201
    ecdsa_sha1 = 0x0203
    rsa_pkcs1_sha256 = 0x0401
    rsa_pkcs1_sha384 = 0x0501
    rsa_pkcs1_sha512 = 0x0601
    ecdsa_secp256r1_sha256 = 0x0403
    ecdsa_secp384r1_sha384 = 0x0503
    ecdsa_secp521r1_sha512 = 0x0603
    rsa_pss_rsae_sha256 = 0x0804
    rsa_pss_rsae_sha384 = 0x0805
    rsa_pss_rsae_sha512 = 0x0806
    ed25519 = 0x0807
    ed448 = 0x0808
    rsa_pss_pss_sha256 = 0x0809
    rsa_pss_pss_sha384 = 0x080A
    rsa_pss_pss_sha512 = 0x080B


class CipherSuite(_OpenEnum):
    """Cipher suites; ``.name`` is the IANA name (``TLS_AES_128_GCM_SHA256``)."""

    TLS_AES_128_GCM_SHA256 = 0x1301
    TLS_AES_256_GCM_SHA384 = 0x1302
    TLS_CHACHA20_POLY1305_SHA256 = 0x1303
    TLS_AES_128_CCM_SHA256 = 0x1304
    # RSA key transport (RFC 5288): TLS 1.2 only, and only with legacy_rsa_key_exchange.
    TLS_RSA_WITH_AES_128_GCM_SHA256 = 0x009C
    TLS_RSA_WITH_AES_256_GCM_SHA384 = 0x009D
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xC02B
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 = 0xC02C
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = 0xC02F
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 = 0xC030
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA8
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA9
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF


class KeyUpdateRequest(_OpenEnum):
    update_not_requested = 0
    update_requested = 1


class PskKeyExchangeMode(_OpenEnum):
    psk_ke = 0
    psk_dhe_ke = 1


class CertificateType(_OpenEnum):
    """RFC 7250 3 certificate types (server_certificate_type, client_certificate_type)."""

    X509 = 0
    RawPublicKey = 2


class CertificateStatusType(_OpenEnum):
    ocsp = 1


class HpkeKemId(_OpenEnum):
    """RFC 9180 7.1, the HPKE KEM identifiers an ECHConfig names."""

    DHKEM_P256_HKDF_SHA256 = 0x0010
    DHKEM_P384_HKDF_SHA384 = 0x0011
    DHKEM_P521_HKDF_SHA512 = 0x0012
    DHKEM_X25519_HKDF_SHA256 = 0x0020
    DHKEM_X448_HKDF_SHA512 = 0x0021


class HpkeKdfId(_OpenEnum):
    """RFC 9180 7.2."""

    HKDF_SHA256 = 0x0001
    HKDF_SHA384 = 0x0002
    HKDF_SHA512 = 0x0003


class HpkeAeadId(_OpenEnum):
    """RFC 9180 7.3 (EXPORT_ONLY seals nothing: no use for ECH)."""

    AES_128_GCM = 0x0001
    AES_256_GCM = 0x0002
    CHACHA20_POLY1305 = 0x0003
    EXPORT_ONLY = 0xFFFF


class EchClientHelloType(_OpenEnum):
    """RFC 9849 5: which ClientHello an encrypted_client_hello extension is in."""

    outer = 0
    inner = 1


_E = TypeVar("_E", bound=_OpenEnum)


def _converter(cls: type[_E]) -> Callable[[int], _E]:
    """``cls.of`` as a plain function, for the handshake's hot paths: in Python 3.11
    every attribute read on an Enum class goes through EnumType's ``__getattr__`` hook
    (~70 ns; ``cls.of`` pays two), a module global is one dict lookup. The same map
    ``of`` reads, so the same members, unknown values made by ``cls(value)``."""
    known = cls._value2member_map_

    def of(value: int) -> _E:
        member = known.get(value)
        return member if member is not None else cls(value)  # type: ignore[return-value]
    of.__name__ = of.__qualname__ = f"{cls.__name__}_of"
    return of


group_of = _converter(NamedGroup)
scheme_of = _converter(SignatureScheme)
suite_of = _converter(CipherSuite)


def is_grease(value: int) -> bool:
    """RFC 8701 GREASE values look like 0x?A?A with both bytes equal."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)
