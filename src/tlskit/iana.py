"""One reading of algorithm names for the whole of tlskit: configs, CLI flags, tests.

Names are the IANA registry names, compared case-insensitively ("x25519", "SECP256R1",
"X25519MLKEM768", "tls_aes_128_gcm_sha256"), plus the spellings people already type
elsewhere: "P-256"/"prime256v1" for secp256r1 and OpenSSL's TLS 1.2 suite names
("ECDHE-RSA-AES128-GCM-SHA256"). Integers are taken as code points. A name nobody
registered is an error that lists the known ones, so a typo never silently drops a group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import TypeVar

from .enums import CipherSuite, NamedGroup, SignatureScheme

E = TypeVar("E", NamedGroup, CipherSuite, SignatureScheme)

_GROUP_ALIASES: Mapping[str, NamedGroup] = {
    "p-256": NamedGroup.secp256r1, "p256": NamedGroup.secp256r1,
    "prime256v1": NamedGroup.secp256r1,
    "p-384": NamedGroup.secp384r1, "p384": NamedGroup.secp384r1,
    "p-521": NamedGroup.secp521r1, "p521": NamedGroup.secp521r1,
    "curve25519": NamedGroup.x25519, "curve448": NamedGroup.x448,
}

_C = CipherSuite
_SUITE_ALIASES: Mapping[str, CipherSuite] = {
    "ecdhe-ecdsa-aes128-gcm-sha256": _C.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    "ecdhe-rsa-aes128-gcm-sha256": _C.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    "ecdhe-ecdsa-aes256-gcm-sha384": _C.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    "ecdhe-rsa-aes256-gcm-sha384": _C.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    "ecdhe-ecdsa-chacha20-poly1305": _C.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    "ecdhe-rsa-chacha20-poly1305": _C.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    "aes128-gcm-sha256": _C.TLS_RSA_WITH_AES_128_GCM_SHA256,
    "aes256-gcm-sha384": _C.TLS_RSA_WITH_AES_256_GCM_SHA384,
}


def _known(enum: type[Enum]) -> str:
    """The names to suggest; a signalling value (RFC 5746's renegotiation SCSV) is no
    cipher suite to configure: tlskit sends it by itself."""
    return ", ".join(m.name for m in enum if not m.name.endswith("_SCSV"))


def _parse(value: str | int, enum: type[E], aliases: Mapping[str, E], what: str) -> E:
    if isinstance(value, int):
        return enum(value)
    if not isinstance(value, str):
        raise TypeError(f"a {what} is a name or a code point, not {type(value).__name__}")
    key = value.strip().lower()
    if key in aliases:
        return aliases[key]
    for member in enum:
        if member.name.lower() == key:
            return member
    raise ValueError(f"unknown {what} {value!r} (known: {_known(enum)})")


def parse_group(value: str | int) -> NamedGroup:
    """A key exchange group by IANA name (any case), common alias or code point."""
    return _parse(value, NamedGroup, _GROUP_ALIASES, "group")


def parse_cipher_suite(value: str | int) -> CipherSuite:
    """A cipher suite by IANA name (any case), OpenSSL's TLS 1.2 name or code point."""
    return _parse(value, CipherSuite, _SUITE_ALIASES, "cipher suite")


def parse_signature_scheme(value: str | int) -> SignatureScheme:
    """A signature scheme by IANA name (any case) or code point."""
    return _parse(value, SignatureScheme, {}, "signature scheme")


def parse_groups(values: Iterable[str | int]) -> tuple[NamedGroup, ...]:
    return tuple(parse_group(v) for v in values)


def parse_cipher_suites(values: Iterable[str | int]) -> tuple[CipherSuite, ...]:
    return tuple(parse_cipher_suite(v) for v in values)


def parse_signature_schemes(values: Iterable[str | int]) -> tuple[SignatureScheme, ...]:
    return tuple(parse_signature_scheme(v) for v in values)


def split_names(text: str) -> list[str]:
    """A command-line list: names separated by commas or colons (OpenSSL style)."""
    return [x.strip() for x in text.replace(":", ",").split(",") if x.strip()]
