"""Two tlskit servers sharing one Redis session store (a fleet behind a load balancer):
sessions resume across them (TLS 1.2 session ID and ticket, TLS 1.3 ticket), the ticket
keys rotate, the replay cache is shared, and a Redis outage only costs resumption."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.events import HandshakeComplete, SessionTicketReceived
from tlskit.session import Session, SessionCache
from tlskit.sessionstore import RedisStore, Rotation, SessionStore

from ..support.pki import pki
from ..support.pump import pump
from .conftest import RedisServer

_prefixes = iter(range(1 << 30))


class Clock:
    """Real time plus an offset the test moves forward (key epochs, without sleeping)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _store(redis: RedisServer, rotation: Rotation | None = None) -> RedisStore:
    return RedisStore(redis.url, rotation, prefix=f"t{next(_prefixes)}-{time.time_ns()}:")


def _server_config(store: SessionStore, clock: Callable[[], float] = time.time,
                   **kw: Any) -> ServerConfig:
    leaf = pki().server
    return ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                        session_store=store, clock=clock, **kw)


def _connect(ccfg: ClientConfig, scfg: ServerConfig,
             session: Session | None = None) -> tuple[HandshakeComplete, HandshakeComplete,
                                                      list[Session]]:
    client = ClientConnection(ccfg, "localhost", session=session)
    server = ServerConnection(scfg)
    events = pump(client, server)
    assert client.handshake_complete is not None and server.handshake_complete is not None
    sessions = [e.session for e in events if isinstance(e, SessionTicketReceived)]
    return client.handshake_complete, server.handshake_complete, sessions


def _client(versions: tuple[str, ...], clock: Callable[[], float] = time.time,
            cache: bool = True) -> ClientConfig:
    return ClientConfig(trust_anchors=[pki().ca.root], versions=list(versions), clock=clock,
                        session_cache=SessionCache() if cache else None)


FLEET_CASES = {
    "tls12-session-id": (("TLSv1.2",), {"session_tickets": 0}),
    "tls12-ticket": (("TLSv1.2",), {}),
    "tls13-ticket": (("TLSv1.3", "TLSv1.2"), {}),
}


@pytest.mark.parametrize("case", FLEET_CASES)
def test_session_made_on_one_server_resumes_on_the_other(redis_server: RedisServer,
                                                         case: str) -> None:
    versions, kw = FLEET_CASES[case]
    a = _server_config(_store(redis_server), **kw)
    b = _server_config(RedisStore(redis_server.url, prefix=a.session_store.prefix),  # type: ignore[union-attr]
                       **kw)
    ccfg = _client(versions)
    first_c, first_s, _ = _connect(ccfg, a)
    assert not first_c.resumed and not first_s.resumed
    second_c, second_s, _ = _connect(ccfg, b)
    assert second_c.resumed and second_s.resumed
    assert second_c.version == first_c.version == ("TLSv1.2" if "tls12" in case else "TLSv1.3")
    assert second_c.peer_certificates == first_c.peer_certificates
    # A server with its own (in-memory) store cannot open the fleet's sessions.
    lone = _server_config(None)  # type: ignore[arg-type]
    third_c, third_s, _ = _connect(ccfg, lone)
    assert not third_c.resumed and not third_s.resumed


def test_servers_with_another_prefix_do_not_share(redis_server: RedisServer) -> None:
    """The prefix separates fleets on one Redis: another fleet's ticket keys differ."""
    a = _server_config(_store(redis_server))
    b = _server_config(_store(redis_server))
    ccfg = _client(("TLSv1.2",))
    _connect(ccfg, a)
    assert not _connect(ccfg, b)[0].resumed


@pytest.mark.parametrize("versions", [("TLSv1.2",), ("TLSv1.3",)], ids=["tls12", "tls13"])
def test_key_rotation_keeps_recent_tickets_and_rejects_old_ones(
        redis_server: RedisServer, versions: tuple[str, ...]) -> None:
    """Rotation(interval=100, keep=1): a ticket sealed in epoch 0 still opens in epoch 1
    (on either server) and no longer in epoch 2."""
    clock = Clock()
    clock.offset = -(time.time() % 100) + 1  # start just inside an epoch
    rotation = Rotation(interval=100, keep=1)
    store_a = _store(redis_server, rotation)
    store_b = RedisStore(redis_server.url, rotation, prefix=store_a.prefix)
    a = _server_config(store_a, clock, ticket_lifetime=3600)
    b = _server_config(store_b, clock, ticket_lifetime=3600)
    ccfg = _client(versions, clock)  # a cache: the TLS 1.2 client then asks for tickets
    _, _, sessions = _connect(ccfg, a)
    assert sessions
    epoch0 = [s.ticket[:8] for s in sessions]
    clock.offset += 100  # epoch 1: a new key seals, the old one still opens
    recent_c, recent_s, renewed = _connect(ccfg, b, session=sessions[0])
    assert recent_c.resumed and recent_s.resumed
    assert renewed and all(s.ticket[:8] != epoch0[0] for s in renewed)  # the new key
    clock.offset += 100  # epoch 2: the epoch-0 key is gone
    old_c, old_s, _ = _connect(ccfg, a, session=sessions[-1])
    assert not old_c.resumed and not old_s.resumed
    again_c, _, _ = _connect(ccfg, b, session=renewed[-1])  # sealed in epoch 1: still fine
    assert again_c.resumed


def test_replay_cache_is_shared(redis_server: RedisServer) -> None:
    """A token one server has seen is refused by the other, within its TTL."""
    store_a = _store(redis_server)
    a = _server_config(store_a)
    b = _server_config(RedisStore(redis_server.url, prefix=store_a.prefix))
    token = b"client hello binder 1"
    assert a.get_session_store().check_replay(token, 10) is True
    assert b.get_session_store().check_replay(token, 10) is False
    assert a.get_session_store().check_replay(token, 10) is False
    assert b.get_session_store().check_replay(b"another binder", 10) is True


@pytest.mark.parametrize("versions,kw", [
    pytest.param(("TLSv1.2",), {"session_tickets": 0}, id="tls12-session-id"),
    pytest.param(("TLSv1.2",), {}, id="tls12-ticket"),
    pytest.param(("TLSv1.3",), {}, id="tls13-ticket"),
])
def test_store_outage_degrades_to_full_handshakes_and_recovers(
        redis_server: RedisServer, caplog: pytest.LogCaptureFixture,
        versions: tuple[str, ...], kw: dict[str, Any]) -> None:
    store_a = _store(redis_server)
    a = _server_config(store_a, **kw)
    b = _server_config(RedisStore(redis_server.url, prefix=store_a.prefix), **kw)
    ccfg = _client(versions)
    _connect(ccfg, a)
    assert _connect(ccfg, b)[0].resumed
    redis_server.stop()
    caplog.set_level(logging.WARNING, logger="tlskit.sessionstore")
    for server in (a, b, a, b):  # full handshakes, no error; the outage logged once each
        c, s, _ = _connect(ccfg, server)
        assert not c.resumed and not s.resumed
    down = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(down) == 2, [r.getMessage() for r in caplog.records]  # one per server
    assert "full handshakes until it is back" in down[0].getMessage()
    redis_server.start()  # same port, empty (no persistence): new keys, new sessions
    _connect(ccfg, a)
    resumed_c, resumed_s, _ = _connect(ccfg, b)
    assert resumed_c.resumed and resumed_s.resumed
    back = [r for r in caplog.records if "answers again" in r.getMessage()]
    assert len(back) == 2


def test_replay_cache_refuses_while_the_store_is_down(redis_server: RedisServer) -> None:
    """Unreachable means "seen": 0-RTT is refused rather than risk a replay."""
    a = _server_config(_store(redis_server))
    redis_server.stop()
    assert a.get_session_store().check_replay(b"token", 10) is False
    redis_server.start()
    assert a.get_session_store().check_replay(b"token", 10) is True
