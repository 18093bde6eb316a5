"""0-RTT early data in memory (RFC 8446 2.3, 4.2.10, 8): what each side sends, accepts,
declines, and how the application sees it."""

from __future__ import annotations

import time
from typing import Any

from tlskit import (
    ClientConnection,
    DataReceived,
    EarlyDataReceived,
    HandshakeComplete,
    ServerConnection,
    SessionTicketReceived,
)
from tlskit.config import ClientConfig, ServerConfig
from tlskit.replay import MemoryReplayCache, ReplayCache
from tlskit.session import Session

from ..support.mitm import HS, extensions, frame_messages, server_endpoint
from ..support.pki import client_config, server_config
from ..support.pump import pump
from ..support.records import split_records

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def declines_early_data(s: Any) -> bool:
    """The server (a `server_endpoint`) answered in 1-RTT: its EncryptedExtensions, opened
    by the MITM with the key log's handshake secret, carry no early_data (4.2.10)."""
    assert s.data_to_send()
    flight = b"".join(seen.content for seen in s.flow.last if seen.protected
                      and seen.ctype == HS)
    (ee,) = [msg for msg in frame_messages(flight)[0] if msg[0] == 8]
    return EARLY_DATA not in extensions(ee[6:])


EARLY_DATA = 42


def ticket_from(scfg: ServerConfig, ccfg: ClientConfig) -> Session:
    c, s = ClientConnection(ccfg, "localhost"), server_endpoint(scfg)
    events = pump(c, s)
    return next(e.session for e in events if isinstance(e, SessionTicketReceived))


def resume(scfg: ServerConfig, ccfg: ClientConfig, session: Session, data: bytes = REQUEST,
           keylog: list[Any] | None = None) -> tuple[ClientConnection, ServerConnection,
                                                     list[Any], list[Any]]:
    """A resumed connection with early data; (client, server, client events, server events)."""
    c = ClientConnection(ccfg, "localhost", session=session, early_data=data)
    s = server_endpoint(scfg)
    s_events = s.receive_data(c.data_to_send())
    c_events = c.receive_data(s.data_to_send())
    s_events += s.receive_data(c.data_to_send())
    c_events += pump(s, c)
    return c, s, c_events, s_events


def configs(**server_kw: Any) -> tuple[ServerConfig, ClientConfig]:
    return server_config(max_early_data_size=4096, **server_kw), client_config()


def test_accepted_early_data_reaches_the_server_before_the_handshake_completes() -> None:
    scfg, ccfg = configs()
    session = ticket_from(scfg, ccfg)
    assert session.max_early_data == 4096
    c, s, _c_events, s_events = resume(scfg, ccfg, session)
    assert c.early_data_sent
    names = [type(e).__name__ for e in s_events]
    assert names == ["EarlyDataReceived", "HandshakeComplete"]
    assert s_events[0].data == REQUEST
    assert s.handshake_complete.early_data_accepted and s.handshake_complete.resumed
    assert c.handshake_complete.early_data_accepted
    # Nothing is sent twice: after the handshake the server gets only new data.
    c.send_data(b"after")
    assert [e.data for e in s.receive_data(c.data_to_send())] == [b"after"]


def test_end_of_early_data_and_keylog_labels() -> None:
    logged: dict[str, list[bytes]] = {"c": [], "s": []}
    scfg = server_config(max_early_data_size=4096,
                         keylog=lambda label, cr, secret: logged["s"].append(label))
    ccfg = client_config(keylog=lambda label, cr, secret: logged["c"].append(label))
    session = ticket_from(scfg, ccfg)
    logged["c"].clear()
    logged["s"].clear()
    resume(scfg, ccfg, session)
    for side in ("c", "s"):
        assert logged[side][0] == "CLIENT_EARLY_TRAFFIC_SECRET", logged[side]
    assert logged["c"] == logged["s"]


def test_server_without_max_early_data_declines_and_client_resends() -> None:
    scfg, ccfg = server_config(), client_config()
    session = ticket_from(server_config(max_early_data_size=4096, ticket_key=bytes(32)),
                          ccfg)
    scfg = server_config(ticket_key=bytes(32))  # same ticket key, 0-RTT off
    c, s, _c_events, s_events = resume(scfg, ccfg, session)
    assert c.early_data_sent
    assert not c.handshake_complete.early_data_accepted
    assert s.handshake_complete.resumed and not s.handshake_complete.early_data_accepted
    # The declined bytes arrive once, as ordinary data after the handshake.
    assert [type(e) for e in s_events if isinstance(e, DataReceived)] == [DataReceived]
    assert b"".join(e.data for e in s_events if isinstance(e, DataReceived)) == REQUEST


def test_ticket_without_early_data_means_no_0rtt_but_the_data_still_arrives() -> None:
    ccfg = client_config()
    session = ticket_from(server_config(), ccfg)
    assert session.max_early_data == 0
    c, _s, _, s_events = resume(server_config(), ccfg, session)
    assert not c.early_data_sent
    assert [e.data for e in s_events if isinstance(e, DataReceived)] == [REQUEST]


def test_early_data_larger_than_the_ticket_allows_is_not_sent_as_0rtt() -> None:
    scfg = server_config(max_early_data_size=16)
    ccfg = client_config()
    session = ticket_from(scfg, ccfg)
    c, _s, _, s_events = resume(scfg, ccfg, session, data=bytes(17))
    assert not c.early_data_sent
    assert [e.data for e in s_events if isinstance(e, DataReceived)] == [bytes(17)]
    assert not any(isinstance(e, EarlyDataReceived) for e in s_events)


def test_replayed_first_flight_is_declined() -> None:
    """8.1: the same ticket carries early data once; a replay gets a 1-RTT handshake
    that cannot complete, and its early data is never delivered."""
    scfg, ccfg = configs()
    session = ticket_from(scfg, ccfg)
    c = ClientConnection(ccfg, "localhost", session=session, early_data=REQUEST)
    flight = c.data_to_send()
    s1 = server_endpoint(scfg)
    assert [type(e) for e in s1.receive_data(flight)] == [EarlyDataReceived]
    assert not declines_early_data(s1)   # (what acceptance looks like on the wire)
    s2 = server_endpoint(scfg)
    assert s2.receive_data(flight) == []  # skipped, not delivered
    assert declines_early_data(s2)  # declined: the ticket already carried 0-RTT


def test_replay_cache_is_pluggable_and_shared() -> None:
    calls: list[tuple[bytes, float]] = []

    class Store:
        def __init__(self) -> None:
            self.inner = MemoryReplayCache()

        def check_replay(self, token: bytes, ttl: float) -> bool:
            calls.append((token, ttl))
            return self.inner.check_replay(token, ttl)

    store = Store()
    a = server_config(max_early_data_size=4096, replay_cache=store, ticket_key=bytes(32))
    b = server_config(max_early_data_size=4096, replay_cache=store, ticket_key=bytes(32))
    ccfg = client_config()
    session = ticket_from(a, ccfg)
    c = ClientConnection(ccfg, "localhost", session=session, early_data=REQUEST)
    flight = c.data_to_send()
    assert [type(e) for e in server_endpoint(a).receive_data(flight)] == [EarlyDataReceived]
    assert server_endpoint(b).receive_data(flight) == []  # the other server refuses it
    assert len(calls) == 2 and calls[0][0] == calls[1][0]
    assert 7200 <= calls[0][1] <= 7200 + 10


def test_failing_replay_store_declines_0rtt_without_failing_the_connection() -> None:
    class Broken:
        def check_replay(self, token: bytes, ttl: float) -> bool:
            raise ConnectionError("store down")

    scfg = server_config(max_early_data_size=4096, replay_cache=Broken())
    ccfg = client_config()
    session = ticket_from(scfg, ccfg)
    _c, s, _, s_events = resume(scfg, ccfg, session)
    assert s.handshake_complete.resumed and not s.handshake_complete.early_data_accepted
    assert [e.data for e in s_events if isinstance(e, DataReceived)] == [REQUEST]


def test_ticket_age_outside_the_window_declines_0rtt() -> None:
    """8.3: a flight presented much later than the client's own clock says (a delayed
    replay) is declined."""
    clock = Clock()
    scfg = server_config(max_early_data_size=4096, clock=clock)
    ccfg = client_config(clock=clock)
    session = ticket_from(scfg, ccfg)
    c = ClientConnection(ccfg, "localhost", session=session, early_data=REQUEST)
    flight = c.data_to_send()
    clock.now += 11  # the server sees the flight 11 s after the client built it
    s = server_endpoint(scfg)
    assert s.receive_data(flight) == []
    assert declines_early_data(s)
    clock.now -= 2  # 9 s: still inside the 10 s window
    s = server_endpoint(scfg)
    c = ClientConnection(ccfg, "localhost", session=ticket_from(scfg, ccfg),
                         early_data=REQUEST)
    clock.now += 9
    assert [type(e) for e in s.receive_data(c.data_to_send())] == [EarlyDataReceived]


def test_alpn_must_match_the_ticket() -> None:
    scfg = server_config(max_early_data_size=4096, alpn_protocols=["h2", "http/1.1"],
                         ticket_key=bytes(32))
    session = ticket_from(scfg, client_config(alpn_protocols=["h2"]))
    assert session.alpn_protocol == "h2"
    ccfg = client_config(alpn_protocols=["http/1.1"])
    c = ClientConnection(ccfg, "localhost", session=session, early_data=REQUEST)
    s = server_endpoint(scfg)
    assert s.receive_data(c.data_to_send()) == []
    assert declines_early_data(s)


def test_application_hook_defers_replay_unsafe_data_until_the_handshake_completes() -> None:
    seen: list[bytes] = []

    def accept(data: bytes) -> bool:
        seen.append(data)
        return data.startswith(b"GET ")

    scfg = server_config(max_early_data_size=4096, accept_early_data=accept)
    ccfg = client_config()
    session = ticket_from(scfg, ccfg)
    _c, s, _, s_events = resume(scfg, ccfg, session, data=b"POST /pay")
    assert seen == [b"POST /pay"]
    assert [type(e).__name__ for e in s_events] == ["HandshakeComplete", "DataReceived"]
    assert s_events[1].data == b"POST /pay"
    assert s.handshake_complete.early_data_accepted
    # The replayed flight never completes, so the deferred request is never delivered.
    replay = server_endpoint(scfg)
    flight = ClientConnection(ccfg, "localhost", session=ticket_from(scfg, ccfg),
                              early_data=b"POST /pay").data_to_send()
    first = server_endpoint(scfg)
    assert first.receive_data(flight) == []  # held back
    assert replay.receive_data(flight) == []


def test_hello_retry_request_declines_early_data() -> None:
    scfg = server_config(max_early_data_size=4096, groups=["secp256r1"], ticket_key=bytes(32))
    ccfg = client_config(groups=["x25519", "secp256r1"])
    session = ticket_from(server_config(max_early_data_size=4096, ticket_key=bytes(32)),
                          ccfg)
    c = ClientConnection(ccfg, "localhost", session=session, early_data=REQUEST)
    s = server_endpoint(scfg)
    assert s.receive_data(c.data_to_send()) == []
    c.receive_data(s.data_to_send())  # the HelloRetryRequest
    second = c.data_to_send()
    # The second ClientHello is in the clear and offers no early data.
    hello = [r for r in split_records(second) if r[0] == 22]
    assert hello and b"\x00\x2a\x00\x00" not in hello[0]
    events = s.receive_data(second) + pump(c, s)
    hcs = [e for e in events if isinstance(e, HandshakeComplete)]
    assert hcs and not any(h.early_data_accepted for h in hcs)
    assert c.handshake_complete is not None and not c.handshake_complete.early_data_accepted
    assert s.handshake_complete is not None and s.handshake_complete.resumed


def test_off_by_default() -> None:
    assert ServerConfig.__dataclass_fields__["max_early_data_size"].default == 0
    session = ticket_from(server_config(), client_config())
    assert session.max_early_data == 0


def test_early_data_only_on_a_session_the_client_may_resume() -> None:
    """Issue 7's binding rules decide: a session whose server was not authenticated, or
    one for another server name, carries no 0-RTT data."""
    import dataclasses
    scfg, ccfg = configs()
    session = ticket_from(scfg, ccfg)
    for unusable in (dataclasses.replace(session, authenticated=False),
                     dataclasses.replace(session, peer_certificates=[])):
        c = ClientConnection(ccfg, "localhost", session=unusable, early_data=REQUEST)
        assert not c.early_data_sent
        s = server_endpoint(scfg)
        events = s.receive_data(c.data_to_send()) + pump(c, s)
        assert not s.handshake_complete.resumed
        assert [e.data for e in events if isinstance(e, DataReceived)] == [REQUEST]
    no_check = client_config(check_hostname=False)
    session = ticket_from(scfg, no_check)
    c = ClientConnection(no_check, "127.0.0.1", session=session, early_data=REQUEST)
    assert not c.early_data_sent  # made for "localhost": not offered to another name


def test_server_takes_early_data_only_on_a_ticket_it_would_resume() -> None:
    """A ticket from another session context (here: client authentication turned on
    since) is not resumed, so its early data is skipped, never delivered."""
    from ..support.pki import pki
    key = bytes(32)
    session = ticket_from(server_config(max_early_data_size=4096, ticket_key=key),
                          client_config())
    strict = server_config(max_early_data_size=4096, ticket_key=key, client_auth="optional",
                           client_trust_anchors=[pki().ca.root])
    c = ClientConnection(client_config(), "localhost", session=session, early_data=REQUEST)
    assert c.early_data_sent
    s = server_endpoint(strict)
    assert s.receive_data(c.data_to_send()) == []
    events = pump(c, s)
    assert not s.handshake_complete.resumed and not s.handshake_complete.early_data_accepted
    assert [e.data for e in events if isinstance(e, DataReceived)] == [REQUEST]


def test_memory_replay_cache_expiry_and_capacity() -> None:
    now = [0.0]
    cache = MemoryReplayCache(capacity=2, clock=lambda: now[0])
    assert cache.check_replay(b"a", 10) is True
    assert cache.check_replay(b"a", 10) is False       # a replay
    assert cache.check_replay(b"b", 5) is True
    assert cache.check_replay(b"c", 10) is False       # full of live entries: refuse
    now[0] = 5.0                                       # b expires
    assert cache.check_replay(b"c", 10) is True
    assert cache.check_replay(b"a", 10) is False       # a still live until 10
    now[0] = 10.0
    assert cache.check_replay(b"a", 10) is True        # expired, so new again
    assert len(cache) == 2
    assert isinstance(cache, ReplayCache)


def test_max_fragment_length_holds_the_client_only_after_its_early_data() -> None:
    """The client sends 0-RTT data before it can see the server grant max_fragment_length
    (RFC 6066 4) in EncryptedExtensions: a 3,000-byte early record is data, not
    record_overflow; from EndOfEarlyData on, the client's records keep to 512."""
    scfg = server_config(max_early_data_size=4096)
    ccfg = client_config(max_fragment_length=512, record_size_limit=None)
    session = ticket_from(scfg, ccfg)
    early = b"e" * 3000
    c, s, _c_events, s_events = resume(scfg, ccfg, session, data=early)
    assert [e.data for e in s_events if isinstance(e, EarlyDataReceived)] == [early]
    assert s.handshake_complete.early_data_accepted
    c.send_data(b"a" * 2000)
    records = split_records(c.data_to_send())
    assert max(len(r) - 5 - 17 for r in records) == 512  # (content type and GCM tag off)
    assert b"".join(e.data for e in s.receive_data(b"".join(records))) == b"a" * 2000


def test_declined_early_data_over_a_granted_fragment_length_is_still_skipped() -> None:
    """Declined 0-RTT records are skipped unread (4.2.10) whatever their size, even with
    the 512-byte limit in force; the client then resends the 3,000 bytes within it."""
    ccfg = client_config(max_fragment_length=512, record_size_limit=None)
    session = ticket_from(server_config(max_early_data_size=4096, ticket_key=bytes(32)),
                          ccfg)
    c, _s, _c_events, s_events = resume(server_config(ticket_key=bytes(32)), ccfg, session,
                                       data=b"e" * 3000)
    assert c.early_data_sent and not c.handshake_complete.early_data_accepted
    assert b"".join(e.data for e in s_events if isinstance(e, DataReceived)) == b"e" * 3000


def test_declined_early_data_up_to_the_ticket_limit_is_skipped_above_64_kib() -> None:
    """4.2.10: a server that declines 0-RTT (here its replay cache refuses the ticket)
    skips up to its max_early_data_size: a client that sent the 150,000 bytes a
    200,000-byte ticket allows completes in 1-RTT and resends them (was bad_record_mac
    past a fixed 64 KiB)."""
    class Refuse:
        def check_replay(self, token: bytes, ttl: float) -> bool:
            return False
    ccfg = client_config()
    session = ticket_from(server_config(max_early_data_size=200_000, ticket_key=bytes(32)),
                          ccfg)
    early = b"e" * 150_000
    scfg = server_config(max_early_data_size=200_000, ticket_key=bytes(32),
                         replay_cache=Refuse())
    c, s, _c_events, s_events = resume(scfg, ccfg, session, data=early)
    assert c.early_data_sent and not c.handshake_complete.early_data_accepted
    assert s.handshake_complete.resumed
    assert b"".join(e.data for e in s_events if isinstance(e, DataReceived)) == early
