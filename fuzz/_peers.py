"""Deterministic peers for the handshake fuzzers: a fixed Ed25519 identity and a verifier
that accepts any chain (the harnesses exercise the protocol, not path validation)."""

from __future__ import annotations

import datetime
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID


@cache
def identity(key_seed: int = 0, serial: int = 1
             ) -> tuple[x509.Certificate, ed25519.Ed25519PrivateKey]:
    """A self-signed Ed25519 certificate for localhost, the same on every run."""
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(key_seed, key_seed + 32)))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    when = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(serial).not_valid_before(when)
            .not_valid_after(when.replace(year=2100))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .sign(key, None))
    return cert, key


class AcceptAll:
    def verify(self, leaf: Any, intermediates: list[Any], server_name: str | None = None,
               at: Any = None, usage: str = "server",
               ocsp_response: bytes | None = None) -> list[Any]:
        return [leaf, *intermediates]
