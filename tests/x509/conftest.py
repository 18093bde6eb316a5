"""Shared fixtures for the x509 tests."""

from __future__ import annotations

import pytest

from tlskit.x509 import TrustStore, Verifier

from . import pki


@pytest.fixture(scope="session")
def chain() -> pki.Chain:
    return pki.simple_chain("www.example.org")


@pytest.fixture
def verifier(chain: pki.Chain) -> Verifier:
    return Verifier(TrustStore([chain.root.cert]))
