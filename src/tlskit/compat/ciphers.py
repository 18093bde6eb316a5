"""OpenSSL cipher strings (``SSLContext.set_ciphers``) over tlskit's TLS 1.2 suites.

As in OpenSSL, the string selects TLS 1.2 suites only; the TLS 1.3 suites are not
affected. Exact OpenSSL or IANA names, the usual keywords (``DEFAULT``, ``HIGH``,
``ECDHE+AESGCM``...), ``!``/``-`` exclusions and ``@SECLEVEL=n`` are understood. A name
that would *add* a suite tlskit does not implement is an error rather than being dropped
quietly, so a configuration never means something other than what it says.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from typing import Any

from .. import crypto
from ..enums import CipherSuite
from ..iana import parse_cipher_suite
from .errors import UnsupportedSetting

__all__ = ["TLS12", "TLS13", "CipherInfo", "cipher_dicts", "openssl_name", "parse_cipher_string"]


@dataclass(frozen=True)
class CipherInfo:
    code: int
    openssl: str
    iana: str
    protocol: str
    symmetric: str
    bits: int
    kea: str
    auth: str
    tags: frozenset[str]


def _info12(code: CipherSuite, openssl: str, symmetric: str, bits: int, auth: str,
            digest: str) -> CipherInfo:
    cipher_tags = {"aes-128-gcm": {"AESGCM", "AES", "AES128"},
                   "aes-256-gcm": {"AESGCM", "AES", "AES256"},
                   "chacha20-poly1305": {"CHACHA20"}}[symmetric]
    auth_tags = {"ECDSA", "aECDSA"} if auth == "ECDSA" else {"RSA", "aRSA"}
    tags = {"ALL", "DEFAULT", "HIGH", "ECDHE", "EECDH", "kECDHE", "kEECDH", "AEAD",
            "TLSv1.2", digest, *cipher_tags, *auth_tags}
    return CipherInfo(int(code), openssl, code.name, "TLSv1.2", symmetric, bits, "kx-ecdhe",
                      f"auth-{auth.lower()}", frozenset(tags))


_C = CipherSuite
TLS12: tuple[CipherInfo, ...] = (
    _info12(_C.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384",
            "aes-256-gcm", 256, "ECDSA", "SHA384"),
    _info12(_C.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384",
            "aes-256-gcm", 256, "RSA", "SHA384"),
    _info12(_C.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305",
            "chacha20-poly1305", 256, "ECDSA", "SHA256"),
    _info12(_C.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305",
            "chacha20-poly1305", 256, "RSA", "SHA256"),
    _info12(_C.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256",
            "aes-128-gcm", 128, "ECDSA", "SHA256"),
    _info12(_C.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256",
            "aes-128-gcm", 128, "RSA", "SHA256"),
)
# RSA key transport needs ClientConfig/ServerConfig(legacy_rsa_key_exchange=True), which
# the ssl-style API does not expose: set_ciphers("AES128-GCM-SHA256") stays an error.
assert {c.code for c in TLS12} == set(crypto.DEFAULT_SUITES12), "cipher table out of date"

_SYM13 = {"TLS_AES_128_GCM_SHA256": ("aes-128-gcm", 128),
          "TLS_AES_256_GCM_SHA384": ("aes-256-gcm", 256),
          "TLS_CHACHA20_POLY1305_SHA256": ("chacha20-poly1305", 256),
          "TLS_AES_128_CCM_SHA256": ("aes-128-ccm", 128)}
TLS13: tuple[CipherInfo, ...] = tuple(
    CipherInfo(code, _C(code).name, _C(code).name, "TLSv1.3", *_SYM13[_C(code).name],
               "kx-any", "auth-any", frozenset({"TLSv1.3"}))
    for code in crypto.SUITES)

_BY_NAME = {n.upper(): c for c in TLS12 for n in (c.openssl, c.iana)}
_ALL_TAGS = frozenset().union(*(c.tags for c in TLS12))
_BY_CODE = {c.code: c for c in (*TLS12, *TLS13)}


def openssl_name(code: int) -> str:
    """The name `ssl.SSLSocket.cipher()` reports for a suite."""
    info = _BY_CODE.get(code)
    return info.openssl if info is not None else _C(code).name


def _select(term: str) -> list[CipherInfo] | None:
    """The suites one term (``A`` or ``A+B+C``) names; None if tlskit cannot tell."""
    if term.upper() in _BY_NAME:
        return [_BY_NAME[term.upper()]]
    parts = term.split("+")
    if all(p in _ALL_TAGS for p in parts):
        return [c for c in TLS12 if all(p in c.tags for p in parts)]
    return None


def parse_cipher_string(spec: str) -> list[int]:
    """The TLS 1.2 suite codes an OpenSSL cipher string selects, in its order."""
    if not isinstance(spec, str):
        raise TypeError("set_ciphers() takes a str")
    chosen: list[CipherInfo] = []
    banned: set[int] = set()
    for token in filter(None, re.split(r"[:, ]+", spec.strip())):
        if token.startswith("@"):
            if not re.fullmatch(r"@(SECLEVEL=[0-5]|STRENGTH)", token):
                raise UnsupportedSetting(f"set_ciphers: unknown directive {token!r}")
            continue
        op, term = (token[0], token[1:]) if token[0] in "!-+" else ("", token)
        picked = _select(term)
        if op in ("!", "-"):
            # Removing something tlskit never offers (RC4, aNULL, DHE...) is already true.
            for c in picked or ():
                chosen = [x for x in chosen if x.code != c.code]
                if op == "!":
                    banned.add(c.code)
            continue
        if picked is None:
            _refuse_rsa_key_transport(term)
            raise UnsupportedSetting(
                f"set_ciphers: tlskit cannot offer {term!r}; its TLS 1.2 suites are "
                + ", ".join(c.openssl for c in TLS12)
                + " (keywords: ALL, DEFAULT, HIGH, ECDHE, AESGCM, CHACHA20, ECDSA, RSA...)")
        if op == "+":  # move to the end, as OpenSSL does
            moved = [x for x in chosen if x in picked]
            chosen = [x for x in chosen if x not in picked] + moved
            continue
        chosen += [c for c in picked if c not in chosen and c.code not in banned]
    if not chosen:
        raise ssl.SSLError(1, "[SSL: NO_CIPHER_MATCH] No cipher can be selected.")
    return [c.code for c in chosen]


def _refuse_rsa_key_transport(term: str) -> None:
    """RSA key transport (AES128-GCM-SHA256...) is implemented, but only behind the
    config switch: say so, rather than that tlskit cannot do it."""
    try:
        code = parse_cipher_suite(term)
    except ValueError:
        return
    if code in crypto.RSA_KX_SUITES12:
        raise UnsupportedSetting(
            f"set_ciphers: {term!r} is RSA key transport (no forward secrecy), which tlskit "
            "offers only with ClientConfig/ServerConfig(legacy_rsa_key_exchange=True), not "
            "through the ssl-style API")


def cipher_dicts(codes: list[int]) -> list[dict[str, Any]]:
    """`ssl.SSLContext.get_ciphers()`'s dictionaries for these suites."""
    out = []
    for code in codes:
        c = _BY_CODE[code]
        out.append({
            "id": 0x03000000 | c.code, "name": c.openssl, "protocol": c.protocol,
            "description": f"{c.openssl} {c.protocol} Kx={c.kea[3:].upper()} "
                           f"Au={c.auth[5:].upper()} Enc={c.symmetric.upper()}",
            "strength_bits": c.bits, "alg_bits": c.bits, "aead": True,
            "symmetric": c.symmetric, "digest": None, "kea": c.kea, "auth": c.auth,
        })
    return out
