"""AEADs as `cryptography` versions without `encrypt_into`/`decrypt_into` offer them, so
a test can run the zero-copy paths over `tlskit.record.aead_into`'s copying stand-in."""

from __future__ import annotations

from typing import Any

import pytest

from tlskit import record


class WithoutInto:
    """A `cryptography` AEAD as versions without `encrypt_into`/`decrypt_into` offer it."""

    def __init__(self, aead: Any) -> None:
        self.encrypt = aead.encrypt
        self.decrypt = aead.decrypt


def use_aeads_without_into(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every protector bound from now on gets the copying stand-ins."""
    real = record.aead_into
    monkeypatch.setattr(record, "aead_into",
                        lambda aead, operation: real(WithoutInto(aead), operation))
