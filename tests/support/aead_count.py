"""A counting wrapper around a connection's real read AEAD: it decrypts exactly as the
AEAD it wraps and counts the calls (failed ones too), so a test can tell how many times
each received record was opened."""

from __future__ import annotations

import dataclasses
from typing import Any

from tlskit.record import Opener13


class Counter:
    calls = 0


class CountingAEAD:
    """The real AEAD, counting `decrypt`/`decrypt_into` calls."""

    def __init__(self, real: Any, counter: Counter) -> None:
        self._real = real
        self._counter = counter

    def decrypt(self, nonce: bytes, data: Any, aad: Any) -> bytes:
        self._counter.calls += 1
        return self._real.decrypt(nonce, data, aad)  # type: ignore[no-any-return]

    def decrypt_into(self, nonce: bytes, data: Any, aad: Any, buf: Any) -> int:
        self._counter.calls += 1
        return self._real.decrypt_into(nonce, data, aad, buf)  # type: ignore[no-any-return]

    def encrypt(self, nonce: bytes, data: Any, aad: Any) -> bytes:
        return self._real.encrypt(nonce, data, aad)  # type: ignore[no-any-return]


def count_decrypts(conn: Any) -> Counter:
    """Wrap `conn`'s read AEAD, and the AEAD of every later read key (a KeyUpdate's
    next generation is made from the opener's suite), in one counter."""
    counter = Counter()
    opener = conn._records.opener
    real_type = opener.suite.aead
    real = opener.aead  # (made now: a direction from a secret derives it at first use)
    opener._aead = CountingAEAD(real, counter)
    if isinstance(opener, Opener13):
        opener.decrypt = opener.decrypt_into = None  # rebound from the wrapper
    opener.suite = dataclasses.replace(
        opener.suite, aead=lambda key: CountingAEAD(real_type(key), counter))
    return counter
