"""RFC 7250 raw public keys on the command line: the key files `connect --pin-key`,
`connect --raw-key`, `serve --raw-key` and `serve --pin-client-key` read, and how a key
is named in summaries and logs (the SHA-256 of its DER SubjectPublicKeyInfo, as
``openssl pkey -pubout -outform DER | sha256sum`` and DANE "3 1 1" records give it).

Every failure is a ValueError worded for the command line: which option, which file,
what it holds instead and what to give."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ..config import RawPublicKey, pss_spki_from_pem

# What to run to get the public key from a private key or a certificate.
PUBOUT = "openssl pkey -in KEY.pem -pubout -out pub.pem"
CERT_PUBKEY = "openssl x509 -in {path} -pubkey -noout > pub.pem"


def spki_text(spki: bytes) -> str:
    """How the CLI names a raw key: ``SHA-256 of SPKI <hex>``."""
    return f"SHA-256 of SPKI {hashlib.sha256(spki).hexdigest()}"


def _read(option: str, path: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {option} {path}: {exc.strerror or exc}") from None


def _spki(public: Any) -> bytes:
    return bytes(public.public_bytes(serialization.Encoding.DER,
                                     serialization.PublicFormat.SubjectPublicKeyInfo))


def load_pin(option: str, path: str) -> bytes:
    """A public key to pin, as DER SPKI: a PEM ``PUBLIC KEY`` or DER SubjectPublicKeyInfo
    (what ``openssl pkey -pubout`` writes and GnuTLS's --rawpkfile reads), or a PEM
    private key, whose public half is pinned (handy when both ends are yours)."""
    data = _read(option, path)
    if b"-----BEGIN" in data:
        if b"CERTIFICATE-----" in data:
            raise ValueError(f"{option} {path} is a certificate, not a key: pin its key "
                             f"({CERT_PUBKEY.format(path=path)}), or trust it as a CA "
                             "with --cafile")
        if b"PRIVATE KEY-----" in data:
            return _spki(_private_key(option, path, data).public_key())
        try:
            return _spki(serialization.load_pem_public_key(data))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ValueError(f"{option} {path} is not a usable public key "
                             f"({_reason(exc)}); give a PEM 'PUBLIC KEY' ({PUBOUT})") from None
    try:
        return _spki(serialization.load_der_public_key(data))
    except (ValueError, UnsupportedAlgorithm):
        pass
    raise ValueError(f"{option} {path} is not a public key (a PEM 'PUBLIC KEY', a DER "
                     f"SubjectPublicKeyInfo) nor a PEM private key; make one with {PUBOUT}")


def load_raw_key(option: str, path: str) -> RawPublicKey:
    """A PEM private key (unencrypted), presented as a raw public key."""
    data = _read(option, path)
    if b"PRIVATE KEY-----" not in data:
        what = ("a certificate" if b"CERTIFICATE-----" in data else
                "a public key" if b"PUBLIC KEY-----" in data else "not a PEM private key")
        raise ValueError(f"{option} {path} is {what}; it takes the PEM private key "
                         "whose public half the peer pins (as GnuTLS's --rawpkkeyfile)")
    key = _private_key(option, path, data)
    try:  # (an RSASSA-PSS key keeps its SPKI, RFC 4055 parameters and all)
        return RawPublicKey(key, pss_spki_from_pem(data, key))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{option} {path}: {exc}") from None


def _private_key(option: str, path: str, data: bytes) -> Any:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:  # encrypted
        raise ValueError(f"{option} {path} is an encrypted private key; give the "
                         f"unencrypted key, or its public key for a pin ({PUBOUT})") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"{option} {path} is not a usable PEM private key "
                         f"({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    text = str(exc).split("\n", 1)[0].strip()
    return text.rstrip(".") or type(exc).__name__


def key_kind(spki: bytes) -> str:
    """The key's type in a few words (``EC secp256r1``, ``Ed25519``, ``RSA 2048 bits``),
    as the trace names a certificate's key."""
    from .trace import public_key_description
    try:
        key = serialization.load_der_public_key(spki)
    except (ValueError, UnsupportedAlgorithm):
        return "unknown"
    return public_key_description(key)
