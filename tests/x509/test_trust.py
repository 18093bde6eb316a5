"""TrustStore loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from tlskit.x509 import TrustStore

from . import pki


def test_from_pem_file_and_membership(tmp_path: Path, chain: pki.Chain) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(b"junk before\n" + pki.pem(chain.root.cert, chain.inter.cert,
                                                 chain.root.cert) + b"junk after\n")
    store = TrustStore.from_pem_file(bundle)
    assert len(store) == 2  # the duplicate root collapses
    assert chain.root.cert in store and chain.leaf.cert not in store
    assert store.issuers_named(chain.inter.cert.issuer) == [chain.root.cert]


def test_one_bad_block_does_not_spoil_the_bundle(tmp_path: Path, chain: pki.Chain) -> None:
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(broken + pki.pem(chain.root.cert))
    assert list(TrustStore.from_pem_file(bundle)) == [chain.root.cert]


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="no certificates"):
        TrustStore.from_pem_file(empty)


def test_default_store_is_loaded_once() -> None:
    store = TrustStore.default()
    assert len(store) > 10  # the system bundle, or certifi's
    assert TrustStore.default() is store
