"""Server session state that a fleet can share: ticket keys, TLS 1.2 session IDs, replays.

A `SessionStore` holds three things a server needs across connections (and, with a
shared backend, across servers behind one load balancer):

* the *ticket-key ring*: time is cut into epochs of ``rotation`` seconds; each epoch has
  its own random 32-byte key, created by whichever server needs it first. The current
  epoch's key seals new tickets, the ``keep`` epochs before it still open old ones, and
  anything older is rejected (its ticket means a full handshake);
* the TLS 1.2 *session-ID cache*: sealed session state by session ID, with a TTL;
* a *replay cache* for 0-RTT: ``check_replay(token, ttl)`` is True the first time a token
  is seen within ``ttl`` seconds, False afterwards (on any server sharing the store).

`MemoryStore` is the in-process default; `RedisStore` (``pip install tlskit[redis]``)
shares state through Redis. The store holds ticket keys in the clear: a Redis used for it
must be as private as the servers' own memory.

A store never makes a handshake fail: `GuardedStore` (what `ServerConfig` wraps every
store in) turns a backend error into "nothing there" (a full handshake, no ticket, 0-RTT
refused), logs the outage once, and uses the backend again as soon as it answers.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from .replay import MemoryReplayCache

T = TypeVar("T")

KEY_LENGTH = 32
KEY_ID_LENGTH = 8  # the epoch number, first in every ticket
log = logging.getLogger("tlskit.sessionstore")


@dataclass(frozen=True, slots=True)
class TicketKeys:
    """The key that seals now, and every key id (epoch) still accepted for opening."""

    current_id: bytes
    current: bytes
    accepted: dict[bytes, bytes]


@runtime_checkable
class SessionStore(Protocol):
    """What a server keeps between connections. Methods may raise on backend errors."""

    def ticket_keys(self, now: float) -> TicketKeys:
        """The ring at time ``now`` (seconds since the epoch): the current epoch's key,
        created if no server has made it yet, and every key still accepted. Asked for
        each ticket sealed or opened, so it should answer from memory within an epoch."""
        ...

    def put_session(self, session_id: bytes, state: bytes, ttl: float) -> None:
        """Keep a TLS 1.2 session's sealed state under its ID for ``ttl`` seconds."""
        ...

    def get_session(self, session_id: bytes) -> bytes | None:
        """The sealed state kept under ``session_id``, or None (unknown or expired)."""
        ...

    def check_replay(self, token: bytes, ttl: float) -> bool:
        """True the first time ``token`` (a 0-RTT ClientHello's binder) is seen within
        ``ttl`` seconds, False afterwards: a replayed early-data flight is refused."""
        ...


def _epoch_id(epoch: int) -> bytes:
    return epoch.to_bytes(KEY_ID_LENGTH, "big")


@dataclass(slots=True)
class Rotation:
    """How tickets keys rotate: a new key every `interval` seconds, `keep` old ones open."""

    interval: float = 3600.0
    keep: int = 2

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.keep < 0:
            raise ValueError("rotation interval must be > 0 and keep >= 0")

    def epochs(self, now: float) -> list[int]:
        """The current epoch first, then the ones whose keys still open tickets."""
        current = int(now // self.interval)
        return [current - i for i in range(self.keep + 1)]

    def key_ttl(self) -> float:
        """How long a shared backend must keep an epoch's key: as long as it opens
        tickets, plus a minute for servers whose clocks differ a little."""
        return self.interval * (self.keep + 1) + 60


class MemoryStore:
    """The in-process store: a key per epoch, an LRU of sessions, a replay set."""

    def __init__(self, rotation: Rotation | None = None, capacity: int = 20000,
                 fixed_key: bytes | None = None,
                 rng: Callable[[int], bytes] = os.urandom,
                 clock: Callable[[], float] = time.time) -> None:
        self.rotation = rotation or Rotation()
        self.capacity = capacity
        self._fixed = fixed_key
        self._rng, self._clock = rng, clock
        self._lock = threading.Lock()
        self._keys: dict[int, bytes] = {}
        self._ring: tuple[int, TicketKeys] | None = None
        self._sessions: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()
        self._replays = MemoryReplayCache(capacity, clock)

    def ticket_keys(self, now: float) -> TicketKeys:
        if self._fixed is not None:  # one configured key, never rotated
            return TicketKeys(_epoch_id(0), self._fixed, {_epoch_id(0): self._fixed})
        ring = self._ring  # the same ring until the epoch changes (every seal asks)
        if ring is not None and ring[0] == int(now // self.rotation.interval):
            return ring[1]  # (`Rotation.epochs`' current epoch, without the list)
        epochs = self.rotation.epochs(now)
        with self._lock:
            current = self._keys.get(epochs[0])
            if current is None:
                current = self._keys[epochs[0]] = self._rng(KEY_LENGTH)
            for old in [e for e in self._keys if e not in epochs]:
                del self._keys[old]
            accepted = {_epoch_id(e): self._keys[e] for e in epochs if e in self._keys}
            keys = TicketKeys(_epoch_id(epochs[0]), current, accepted)
            self._ring = (epochs[0], keys)
        return keys

    def put_session(self, session_id: bytes, state: bytes, ttl: float) -> None:
        with self._lock:
            self._sessions[session_id] = (self._clock() + ttl, state)
            self._sessions.move_to_end(session_id)
            while len(self._sessions) > self.capacity:
                self._sessions.popitem(last=False)

    def get_session(self, session_id: bytes) -> bytes | None:
        with self._lock:
            item = self._sessions.get(session_id)
            if item is None:
                return None
            if item[0] <= self._clock():
                del self._sessions[session_id]
                return None
            return item[1]

    def check_replay(self, token: bytes, ttl: float) -> bool:
        """`MemoryReplayCache`'s answer: full of live tokens, it refuses new ones (0-RTT
        falls back to 1-RTT) rather than forget one whose early data could then be
        replayed (RFC 8446 8)."""
        return self._replays.check_replay(token, ttl)


class RedisStore:
    """A store shared through Redis (``redis://host:port/db``); keys under `prefix`.

    Ticket keys: ``SET NX`` per epoch, so all servers agree on each epoch's key; sessions
    and replay tokens: ``SET ... PX`` (``NX`` for replays, atomic across the fleet)."""

    def __init__(self, url: str, rotation: Rotation | None = None,
                 prefix: str = "tlskit:", timeout: float = 0.5,
                 rng: Callable[[int], bytes] = os.urandom) -> None:
        import redis  # the optional extra: tlskit[redis]

        self.url = url
        self.rotation = rotation or Rotation()
        self.prefix = prefix
        self._rng = rng
        self._redis: Any = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout,
            health_check_interval=0)

    def __repr__(self) -> str:
        return f"RedisStore({_without_password(self.url)!r})"

    def check(self) -> None:
        """Ask Redis once (PING), so a server can refuse a wrong or unreachable URL at
        start rather than run without resumption; raises what redis raises."""
        self._redis.ping()

    def ticket_keys(self, now: float) -> TicketKeys:
        epochs = self.rotation.epochs(now)
        names = [f"{self.prefix}tk:{e}" for e in epochs]
        values = self._redis.mget(names)
        if values[0] is None or len(values[0]) != KEY_LENGTH:
            ttl_ms = int(self.rotation.key_ttl() * 1000)
            self._redis.set(names[0], self._rng(KEY_LENGTH), nx=True, px=ttl_ms)
            values[0] = self._redis.get(names[0])
            if values[0] is None or len(values[0]) != KEY_LENGTH:
                raise RuntimeError("redis did not keep the ticket key")
        accepted = {_epoch_id(e): bytes(v) for e, v in zip(epochs, values, strict=True)
                    if v is not None and len(v) == KEY_LENGTH}
        return TicketKeys(_epoch_id(epochs[0]), bytes(values[0]), accepted)

    def put_session(self, session_id: bytes, state: bytes, ttl: float) -> None:
        self._redis.set(f"{self.prefix}sid:{session_id.hex()}", state,
                        px=max(1, int(ttl * 1000)))

    def get_session(self, session_id: bytes) -> bytes | None:
        value = self._redis.get(f"{self.prefix}sid:{session_id.hex()}")
        return None if value is None else bytes(value)

    def check_replay(self, token: bytes, ttl: float) -> bool:
        return bool(self._redis.set(f"{self.prefix}rp:{token.hex()}", b"1", nx=True,
                                    px=max(1, int(ttl * 1000))))


class GuardedStore:
    """Wraps a store so that its failures never fail a handshake (see the module doc)."""

    def __init__(self, backend: SessionStore) -> None:
        self.backend = backend
        self._down = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GuardedStore({self.backend!r})"

    def _failed(self, what: str, exc: Exception) -> None:
        with self._lock:
            first, self._down = not self._down, True
        if first:
            log.warning("session store %r failed (%s: %s); full handshakes until it is back",
                        self.backend, what, exc)

    def _ok(self) -> None:
        if self._down:
            with self._lock:
                was, self._down = self._down, False
            if was:
                log.warning("session store %r answers again; sessions resume again", self.backend)

    def _guarded(self, what: str, call: Callable[..., T], fallback: T, *args: Any) -> T:
        """``call(*args)``, or ``fallback`` if the store fails (the outage is logged once).
        (The backend's bound method and its arguments, not a closure: a handshake asks
        two or three times.)"""
        try:
            result = call(*args)
        except Exception as exc:
            self._failed(what, exc)
            return fallback
        if self._down:
            self._ok()
        return result

    def ticket_keys(self, now: float) -> TicketKeys | None:
        return self._guarded("ticket keys", self.backend.ticket_keys, None, now)

    def put_session(self, session_id: bytes, state: bytes, ttl: float) -> None:
        self._guarded("storing a session", self.backend.put_session, None, session_id,
                      state, ttl)

    def get_session(self, session_id: bytes) -> bytes | None:
        return self._guarded("looking up a session", self.backend.get_session, None,
                             session_id)

    def check_replay(self, token: bytes, ttl: float) -> bool:
        """True only if the token is new; an unreachable store counts as "seen" (so
        0-RTT is refused and the request waits for the full handshake)."""
        return self._guarded("the replay cache", self.backend.check_replay, False, token, ttl)


def _without_password(url: str) -> str:
    """The URL for logs and reprs: a password in it is replaced by ``***`` (also in one
    that cannot be parsed)."""
    from urllib.parse import urlsplit, urlunsplit
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket: still never print a password
        head, sep, rest = url.partition("://")
        userinfo, at, host = rest.rpartition("@")
        if not at or ":" not in userinfo:
            return url
        return f"{head}{sep}{userinfo.partition(':')[0]}:***@{host}"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _check_redis_db(url: str) -> None:
    """redis-py reads a database path that is not a number as database 0: a typo would
    then share another application's database. ValueError instead."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return  # the path is the socket's; the database is a ?db= parameter
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ValueError(f"database {db!r} is not a number: use redis://host:port/db, "
                         "e.g. redis://127.0.0.1:6379/0")


def from_url(url: str, rotation: Rotation | None = None) -> SessionStore:
    """``memory:`` or ``redis://host:port/db`` (``rediss://`` for TLS to Redis)."""
    if url in ("memory", "memory:"):
        return MemoryStore(rotation)
    if url.startswith(("redis://", "rediss://", "unix://")):
        _check_redis_db(url)
        return RedisStore(url, rotation)
    raise ValueError(f"unknown session store {url!r}: use memory: or redis://host:port/db")


__all__ = ["GuardedStore", "MemoryStore", "RedisStore", "Rotation", "SessionStore",
           "TicketKeys", "from_url"]
