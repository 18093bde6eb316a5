"""The in-memory session store and the ticket sealer over its key ring: rotation, the
session-ID cache, the replay cache, store URLs; the TLS 1.2 NewSessionTicket decoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tlskit.crypto import SUITES, SUITES12
from tlskit.errors import DecodeError
from tlskit.session import TicketSealer, TicketState
from tlskit.sessionstore import GuardedStore, MemoryStore, RedisStore, Rotation, from_url
from tlskit.wire.messages12 import NewSessionTicket12


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _state(tls12: bool = False) -> TicketState:
    suite = next(iter(SUITES12.values())) if tls12 else next(iter(SUITES.values()))
    return TicketState(suite, b"k" * 48, 1, 7200, "h2", "localhost", bytes(32),
                       [b"der"], tls12=tls12)


@pytest.mark.parametrize("tls12", [False, True])
def test_sealed_state_round_trips(tls12: bool) -> None:
    clock = Clock()
    sealer = TicketSealer(GuardedStore(MemoryStore(clock=clock)), clock)
    ticket = sealer.seal(_state(tls12), bytes(12))
    assert ticket is not None
    assert sealer.open(ticket) == _state(tls12)
    tampered = ticket[:-1] + bytes([ticket[-1] ^ 1])
    assert sealer.open(tampered) is None
    assert sealer.open(b"short") is None


def test_rotation_keeps_recent_keys_and_drops_old_ones() -> None:
    clock = Clock(1000.0)
    store = MemoryStore(Rotation(interval=100, keep=2), clock=clock)
    sealer = TicketSealer(GuardedStore(store), clock)
    ticket = sealer.seal(_state(), bytes(12))
    assert ticket is not None
    for step, opens in ((100, True), (100, True), (100, False)):  # epochs 11, 12, 13
        clock.now += step
        assert (sealer.open(ticket) is not None) is opens, clock.now
    newer = sealer.seal(_state(), bytes(12))
    assert newer is not None and newer[:8] != ticket[:8]  # the current epoch's key


def test_another_stores_tickets_do_not_open() -> None:
    clock = Clock()
    ours = TicketSealer(GuardedStore(MemoryStore(clock=clock)), clock)
    theirs = TicketSealer(GuardedStore(MemoryStore(clock=clock)), clock)
    ticket = theirs.seal(_state(), bytes(12))
    assert ticket is not None and ours.open(ticket) is None


def test_fixed_key_is_the_one_key() -> None:
    clock = Clock()
    a = TicketSealer(GuardedStore(MemoryStore(fixed_key=bytes(32), clock=clock)), clock)
    b = TicketSealer(GuardedStore(MemoryStore(fixed_key=bytes(32), clock=clock)), clock)
    ticket = a.seal(_state(), bytes(12))
    clock.now += 10 * 86400
    assert ticket is not None and b.open(ticket) == _state()


def test_session_id_cache_expires_and_is_bounded() -> None:
    clock = Clock()
    store = MemoryStore(capacity=2, clock=clock)
    store.put_session(b"a", b"1", ttl=10)
    assert store.get_session(b"a") == b"1"
    clock.now += 10
    assert store.get_session(b"a") is None
    for name in (b"x", b"y", b"z"):
        store.put_session(name, name, ttl=10)
    assert store.get_session(b"x") is None and store.get_session(b"z") == b"z"


def test_replay_cache_first_seen_only_within_ttl() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    assert store.check_replay(b"t", 5) is True
    assert store.check_replay(b"t", 5) is False
    assert store.check_replay(b"u", 5) is True
    clock.now += 5
    assert store.check_replay(b"t", 5) is True


def test_replay_cache_full_of_live_tokens_refuses_rather_than_forgets() -> None:
    """RFC 8446 8: a token forgotten within its ttl lets that 0-RTT flight be replayed,
    so a full store refuses new tokens (1-RTT) until one expires, whatever their order."""
    clock = Clock()
    store = MemoryStore(capacity=2, clock=clock)
    assert store.check_replay(b"victim", 60) is True
    assert store.check_replay(b"short", 5) is True
    assert store.check_replay(b"flood", 60) is False  # full: refused, victim kept
    assert store.check_replay(b"victim", 60) is False
    clock.now += 5  # "short" expires, behind the live "victim"
    assert store.check_replay(b"flood", 60) is True
    assert store.check_replay(b"victim", 60) is False
    assert store.check_replay(b"another", 60) is False


def test_store_urls() -> None:
    assert isinstance(from_url("memory:"), MemoryStore)
    assert isinstance(from_url("redis://127.0.0.1:1/0"), RedisStore)  # connects lazily
    secret = RedisStore("redis://user:hunter2@127.0.0.1:1/0")
    assert "hunter2" not in repr(secret) and "user:***@" in repr(secret)
    with pytest.raises(ValueError, match="unknown session store"):
        from_url("memcached://x")
    with pytest.raises(ValueError):
        Rotation(interval=0)


@given(st.binary(max_size=80))
def test_new_session_ticket12_decoder_takes_any_bytes(body: bytes) -> None:
    """Every input decodes to what it encodes back to, or is a DecodeError."""
    try:
        msg = NewSessionTicket12.decode(body)
    except DecodeError:
        return
    assert msg.encode()[4:] == body


@given(st.integers(0, 2**32 - 1), st.binary(max_size=300))
def test_new_session_ticket12_round_trips(lifetime: int, ticket: bytes) -> None:
    assert NewSessionTicket12.decode(NewSessionTicket12(lifetime, ticket).encode()[4:]) == \
        NewSessionTicket12(lifetime, ticket)
