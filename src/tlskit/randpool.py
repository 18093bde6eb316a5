"""The OS CSPRNG, read a few KiB at a time: `pooled_urandom` for busy servers.

Why: `os.urandom` releases the GIL around its getrandom() call, so in a threaded server
each of the handful of random values a TLS 1.3 handshake draws (server random, key share,
ticket nonces and age_add) is a chance for another connection's thread to take the GIL
and for this one to wait for it back; OpenSSL draws from its own DRBG and has no such
switch. Reading 2 KiB at once makes that one release every ~20 handshakes.

The bytes are the kernel's own, handed out once each, in order, under a lock; nothing
is derived or stretched, and what has been handed out is zeroed in the pool (a key share's
private scalar does not linger there). A forked child never reuses its parent's pool: an
`os.register_at_fork` hook wipes every pool in the child and gives it a new lock (a fork
while another thread held the old one would leave it held forever), so a draw does not
have to ask for the process id (a system call). A request larger than the pool goes
straight to `os.urandom`.
"""

from __future__ import annotations

import os
import threading
import weakref

from .crypto import RNG

POOL_SIZE = 2048


class RandomPool:
    """Hands out bytes of `os.urandom` read POOL_SIZE at a time (thread- and fork-safe)."""

    def __init__(self, size: int = POOL_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._buf = bytearray()
        self._pos = 0
        _POOLS.add(self)

    def __call__(self, n: int) -> bytes:
        if n > self._size // 4:
            return os.urandom(n)
        with self._lock:
            pos = self._pos
            if pos + n > len(self._buf):
                self._buf, pos = bytearray(os.urandom(self._size)), 0
            end = self._pos = pos + n
            out = bytes(self._buf[pos:end])
            self._buf[pos:end] = bytes(n)
            return out

    def _forget(self) -> None:
        """In a forked child: the parent's bytes are wiped, never handed out here."""
        self._lock = threading.Lock()
        self._buf[:] = bytes(len(self._buf))
        self._buf = bytearray()
        self._pos = 0


_POOLS: weakref.WeakSet[RandomPool] = weakref.WeakSet()


def _forget_pools_in_child() -> None:
    for pool in list(_POOLS):
        pool._forget()


os.register_at_fork(after_in_child=_forget_pools_in_child)


pooled_urandom = RandomPool()


def server_rng(rng: RNG) -> RNG:
    """The rng a server handshake draws from: the pool in place of the default
    `os.urandom` (same source), any other configured rng (tests, vectors) unchanged."""
    return pooled_urandom if rng is os.urandom else rng


__all__ = ["POOL_SIZE", "RandomPool", "pooled_urandom", "server_rng"]
