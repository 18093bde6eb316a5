"""Fixtures for the in-memory tests: a CA and one localhost leaf per key type."""

from __future__ import annotations

from typing import Any

import pytest

from tlskit.ca import LocalCA

KEY_TYPES = ("ec256", "ec384", "rsa2048", "ed25519")


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    return LocalCA.create(directory=None)


@pytest.fixture(scope="module")
def issued(ca: LocalCA) -> dict[str, Any]:
    """A leaf for localhost and 127.0.0.1 per key type."""
    return {kt: ca.issue_server(["localhost", "127.0.0.1"], key_type=kt) for kt in KEY_TYPES}
