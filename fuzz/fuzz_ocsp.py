#!/usr/bin/env python3
"""Fuzz the stapled-OCSP validator: hostile bytes from a TLS server must never crash it.

Contract under test: `validate_stapled_response` returns a RevocationStatus or raises
`CertificateVerificationError`; `evaluate_ocsp_response` returns evidence or raises
`EvidenceError`. Anything else escaping is a bug.

Run with atheris when it is installed (``python fuzz/fuzz_ocsp.py --atheris -runs=100000``;
the other arguments go to libFuzzer), or standalone without it:
``python fuzz/fuzz_ocsp.py [iterations] [seed]`` mutates a corpus of valid responses (bit
flips, truncation, insertion, splicing, random bytes) and feeds each mutant to `TestOneInput`.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlskit.x509.errors import CertificateVerificationError
from tlskit.x509.revocation import EvidenceError, evaluate_ocsp_response
from tlskit.x509.stapling import validate_stapled_response

AT = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
_THIS_UPDATE = AT - timedelta(hours=1)
_NONCE = b"fuzz-nonce-0123456789abcdef"


def _key(scalar: int) -> ec.EllipticCurvePrivateKey:
    """Deterministic keys so a crashing input reproduces across runs."""
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _cert(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer_name: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    eku: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8]) | 1)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


_CA_KEY, _RESPONDER_KEY, _LEAF_KEY = _key(0xCA), _key(0x0C5B), _key(0x1EAF)
ISSUER = _cert("Fuzz CA", _CA_KEY, "Fuzz CA", _CA_KEY, ca=True)
RESPONDER = _cert(
    "Fuzz Responder", _RESPONDER_KEY, "Fuzz CA", _CA_KEY, eku=ExtendedKeyUsageOID.OCSP_SIGNING
)
LEAF = _cert("leaf.fuzz", _LEAF_KEY, "Fuzz CA", _CA_KEY)


def _response(
    status: ocsp.OCSPCertStatus,
    *,
    delegated: bool = True,
    nonce: bytes | None = None,
    revoked: bool = False,
) -> bytes:
    signer_cert, signer_key = (RESPONDER, _RESPONDER_KEY) if delegated else (ISSUER, _CA_KEY)
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            LEAF,
            ISSUER,
            hashes.SHA1(),
            status,
            _THIS_UPDATE,
            _THIS_UPDATE + timedelta(days=1),
            _THIS_UPDATE - timedelta(days=3) if revoked else None,
            x509.ReasonFlags.key_compromise if revoked else None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.NAME, signer_cert)
    )
    if delegated:
        builder = builder.certificates([RESPONDER])
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    signed = builder.sign(signer_key, hashes.SHA256())
    return signed.public_bytes(serialization.Encoding.DER)


def seed_corpus() -> list[bytes]:
    """Valid responses of every shape, so mutations start deep inside the parser."""
    unsuccessful = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    return [
        _response(ocsp.OCSPCertStatus.GOOD),
        _response(ocsp.OCSPCertStatus.GOOD, delegated=False),
        _response(ocsp.OCSPCertStatus.GOOD, nonce=_NONCE),
        _response(ocsp.OCSPCertStatus.REVOKED, revoked=True),
        _response(ocsp.OCSPCertStatus.UNKNOWN),
        unsuccessful.public_bytes(serialization.Encoding.DER),
    ]


def TestOneInput(data: bytes) -> None:
    """Feed one input to both entry points; only their documented errors may escape.

    (The CamelCase name is the one atheris and libFuzzer harnesses expect.)
    """
    with contextlib.suppress(CertificateVerificationError):
        validate_stapled_response(data, LEAF, ISSUER, AT)
    with contextlib.suppress(EvidenceError):
        evaluate_ocsp_response(data, LEAF, ISSUER, AT, nonce=_NONCE)


# --------------------------------------------------------------------------- standalone mode


def _flip(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


def _replace(rng: random.Random, data: bytes) -> bytes:
    """Overwrite a byte with a value that tends to matter in DER: tags, lengths, 0x00, 0xff."""
    if not data:
        return data
    buf = bytearray(data)
    buf[rng.randrange(len(buf))] = rng.choice(
        [0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x0A, 0x30, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xA0, 0xFF]
    )
    return bytes(buf)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _insert(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.randbytes(rng.randint(1, 16)) + data[at:]


def _splice(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    other = rng.choice(corpus)
    cut_a, cut_b = rng.randrange(len(data) + 1), rng.randrange(len(other) + 1)
    return data[:cut_a] + other[cut_b:]


_MUTATORS: list[Callable[[random.Random, bytes], bytes]] = [_flip, _replace, _truncate, _insert]


def mutate(rng: random.Random, corpus: list[bytes]) -> bytes:
    if rng.random() < 0.05:
        return rng.randbytes(rng.randrange(512))
    data = rng.choice(corpus)
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.15:
            data = _splice(rng, data, corpus)
        else:
            data = rng.choice(_MUTATORS)(rng, data)
    return data


def run(iterations: int = 10_000, seed: int = 0) -> int:
    """Standalone fuzzing loop; returns how many inputs were tried. Crashes propagate."""
    rng = random.Random(seed)
    corpus = seed_corpus()
    for data in corpus:
        TestOneInput(data)
    for _ in range(iterations):
        TestOneInput(mutate(rng, corpus))
    return iterations + len(corpus)


_SEEDS: list[bytes] = []


def random_input(rng: random.Random) -> bytes:
    """For the shared driver: a mutation of the seed corpus (built once)."""
    if not _SEEDS:
        _SEEDS.extend(seed_corpus())
    return mutate(rng, _SEEDS)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _harness import main

    sys.exit(main(sys.argv, TestOneInput, random_input))
