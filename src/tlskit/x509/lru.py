"""A small bounded, thread-safe LRU map for the validator's caches (signature verdicts in
`signatures`, analysed certificates in `verify`).

The caches are fed by whatever certificates peers send, so none of them may grow without
bound on hostile input: each is an `LRUCache` with a fixed size.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """A small thread-safe LRU map; caches here must not grow without bound on hostile input."""

    def __init__(self, maxsize: int) -> None:
        self._data: OrderedDict[K, V] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value, now the most recently used; None when absent. No lock: each
        OrderedDict call is atomic, and a key another thread evicts between the two
        calls is simply not moved (the value found is still the one stored)."""
        data = self._data
        value = data.get(key)
        if value is not None:
            try:
                data.move_to_end(key)
            except KeyError:  # evicted meanwhile by a put in another thread
                return value
        return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            if len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def put_all(self, keys: tuple[K, ...], value: V) -> None:
        """``value`` under each of ``keys``, in one acquisition of the lock (a certificate
        analysis is filed under two keys, see `Verifier.analyze`)."""
        data = self._data
        with self._lock:
            for key in keys:
                data[key] = value
                data.move_to_end(key)
            while len(data) > self._maxsize:
                data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
