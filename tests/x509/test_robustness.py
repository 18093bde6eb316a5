"""Hostile bytes: a validator must answer with a verdict, never with a crash."""

from __future__ import annotations

import contextlib
import random
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlskit.x509 import CertificateVerificationError, TrustStore, Verifier

from . import pki
from .pki import NOW

HOST = "www.example.org"


def _mutants(der: bytes, count: int, seed: int) -> list[x509.Certificate]:
    """Certificates that still load after a few random byte flips."""
    rng = random.Random(seed)
    out: list[x509.Certificate] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(count):
            data = bytearray(der)
            for _ in range(rng.randint(1, 3)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            try:
                out.append(x509.load_der_x509_certificate(bytes(data)))
            except ValueError:
                continue
    return out


def test_mutated_certificates_get_a_verdict(chain: pki.Chain) -> None:
    v = Verifier(TrustStore([chain.root.cert]))
    der = serialization.Encoding.DER
    leaves = _mutants(chain.leaf.cert.public_bytes(der), 400, 1)
    inters = _mutants(chain.inter.cert.public_bytes(der), 200, 2)
    assert len(leaves) > 50 and len(inters) > 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for leaf in leaves:
            with contextlib.suppress(CertificateVerificationError):
                v.verify(leaf, [chain.inter.cert], server_name=HOST, at=NOW)
            report = v.explain(leaf, [chain.inter.cert], server_name=HOST, at=NOW)
            assert report.checks
        for inter in inters:
            with contextlib.suppress(CertificateVerificationError):
                v.verify(chain.leaf.cert, [inter], server_name=HOST, at=NOW)


def test_mutated_certificates_lint_and_cabf_never_crash(chain: pki.Chain) -> None:
    """The lint and the "cabf" profile read every field too: hostile bytes get findings or
    a verdict, never an exception other than CertificateVerificationError."""
    from tlskit.x509 import Finding, lint_chain

    v = Verifier(TrustStore([chain.root.cert]), profile="cabf")
    der = serialization.Encoding.DER
    leaves = _mutants(chain.leaf.cert.public_bytes(der), 300, 3)
    inters = _mutants(chain.inter.cert.public_bytes(der), 150, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for leaf in leaves:
            with contextlib.suppress(CertificateVerificationError):
                v.verify(leaf, [chain.inter.cert], server_name=HOST, at=NOW)
            assert all(isinstance(f, Finding) for f in v.lint(leaf, [chain.inter.cert]))
        for inter in inters:
            found = lint_chain([chain.leaf.cert, inter, chain.root.cert])
            assert all(f.message for f in found)
