"""0-RTT anti-replay (RFC 8446 8): the server remembers which tickets already carried
early data, so a recorded first flight replayed to this server (or, with a shared store,
to any server of the fleet) is answered with a 1-RTT handshake instead of being run twice.

Any object with ``check_replay(token, ttl) -> bool`` serves (a shared session store with
a Redis backend has the same method); `MemoryReplayCache` is the in-process default.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class ReplayCache(Protocol):
    """Remembers tokens for `ttl` seconds."""

    def check_replay(self, token: bytes, ttl: float) -> bool:
        """True the first time `token` is seen within its ttl; False for a replay (and
        whenever the cache cannot tell: refusing 0-RTT is always safe)."""


class MemoryReplayCache:
    """A thread-safe in-process `ReplayCache`. When full of live entries it refuses new
    tokens (0-RTT falls back to 1-RTT) rather than forget one that could be replayed."""

    def __init__(self, capacity: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[bytes, float] = {}           # token -> expiry
        self._expiries: list[tuple[float, bytes]] = []  # a heap of the same

    def check_replay(self, token: bytes, ttl: float) -> bool:
        now = self._clock()
        with self._lock:
            self._expire(now)
            if token in self._seen or len(self._seen) >= self.capacity:
                return False
            self._seen[token] = now + ttl
            heapq.heappush(self._expiries, (now + ttl, token))
            return True

    def _expire(self, now: float) -> None:
        heap = self._expiries
        while heap and heap[0][0] <= now:
            _, token = heapq.heappop(heap)
            del self._seen[token]

    def __len__(self) -> int:
        return len(self._seen)
