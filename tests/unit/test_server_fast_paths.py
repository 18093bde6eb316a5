"""The TLS 1.3 server's cheaper paths (issue 12) give what the general paths give.

The default rng is read from a pool (`tlskit.randpool`): each byte handed out once, wiped
from the pool, never shared with a forked child. A connection's tickets come from one
look-up of the ticket key and one draw of the rng, are encoded without building message
objects, and still each resume, with their own nonce, age_add and seal. A ClientHello is
read in one pass when well formed, and exactly like the checked decoder otherwise.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import struct
import threading
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit import ClientConnection, ServerConnection, randpool
from tlskit.crypto import SUITES
from tlskit.enums import ExtensionType
from tlskit.errors import DecodeError, IllegalParameter
from tlskit.handshake.hello import decode_client_hello
from tlskit.handshake.server13 import encode_new_session_ticket
from tlskit.session import SessionCache, TicketSealer, TicketState, encode_state
from tlskit.sessionstore import GuardedStore, MemoryStore
from tlskit.wire import messages as m
from tlskit.wire.codec import Writer

from ..support.pki import client_config, server_config
from ..support.pump import pump

# --- the rng pool -----------------------------------------------------------------------


def _counting_urandom(monkeypatch: Any) -> list[int]:
    """Count the pool's reads of the OS rng (the real os.urandom still answers)."""
    calls: list[int] = []
    real = os.urandom

    def urandom(n: int) -> bytes:
        calls.append(n)
        return real(n)
    monkeypatch.setattr(randpool.os, "urandom", urandom)
    return calls


def test_pool_reads_the_os_rng_once_for_many_draws(monkeypatch: Any) -> None:
    calls = _counting_urandom(monkeypatch)
    pool = randpool.RandomPool(1024)
    draws = [pool(32) for _ in range(64)]  # 2 KiB: two fills of 1 KiB
    assert calls == [1024, 1024]
    assert all(len(d) == 32 for d in draws) and len(set(draws)) == 64
    assert pool(512) and calls[-1] == 512  # more than a quarter of the pool: straight


def test_pool_wipes_what_it_hands_out() -> None:
    pool = randpool.RandomPool(256)
    first = pool(32)
    assert bytes(pool._buf[:32]) == bytes(32) and first != bytes(32)
    assert bytes(pool._buf[32:64]) != bytes(32)  # the rest is still to hand out


def test_pool_hands_each_byte_to_one_thread_only() -> None:
    pool = randpool.RandomPool(4096)
    got: list[bytes] = []
    lock = threading.Lock()

    def draw() -> None:
        mine = [pool(16) for _ in range(500)]
        with lock:
            got.extend(mine)
    threads = [threading.Thread(target=draw) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4000 and len(set(got)) == 4000


def test_forked_child_does_not_reuse_the_parents_pool() -> None:
    pool = randpool.RandomPool(1024)
    pool(16)  # filled in this process
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next draw, then leave at once
        os.write(write_end, pool(16))
        os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 16)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert len(child) == 16 and child != pool(16)


def test_forked_child_draws_even_if_the_lock_was_held_at_the_fork() -> None:
    """A fork while another thread held the pool's lock: the child gets a new lock (and
    no parent bytes), so its first draw does not wait forever."""
    pool = randpool.RandomPool(1024)
    parent_bytes = pool(16) + bytes(pool._buf[16:])
    read_end, write_end = os.pipe()
    with pool._lock:  # as another thread in the middle of a draw
        pid = os.fork()
        if pid == 0:
            os.write(write_end, pool(16) + bytes([len(pool._buf) == 1024]))
            os._exit(0)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], 20)
    child = os.read(read_end, 17) if ready else b""
    os.close(read_end)
    if not ready:  # the child is stuck on the inherited lock
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert len(child) == 17 and child[16] == 1  # drew from a pool of its own
    assert child[:16] not in parent_bytes


def test_server_rng_pools_only_the_default() -> None:
    def scripted(n: int) -> bytes:
        return bytes(n)
    assert randpool.server_rng(os.urandom) is randpool.pooled_urandom
    assert randpool.server_rng(scripted) is scripted


def test_server_handshake_draws_from_the_pool(monkeypatch: Any) -> None:
    pool = randpool.RandomPool()
    monkeypatch.setattr(randpool, "pooled_urandom", pool)
    client = ClientConnection(client_config(), server_name="localhost")
    server = ServerConnection(server_config(session_tickets=2))
    pump(client, server)
    assert server.handshake_complete is not None
    # server random, X25519 key, 2 x (seal nonce + age_add)
    assert pool._pos == 32 + 32 + 2 * 16


# --- tickets ----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(lifetime=st.integers(0, 604800), age_add=st.integers(0, 2**32 - 1),
       nonce=st.binary(max_size=255), ticket=st.binary(min_size=1, max_size=600),
       early=st.none() | st.integers(0, 2**32 - 1))
def test_new_session_ticket_bytes_equal_the_message_encoder(
        lifetime: int, age_add: int, nonce: bytes, ticket: bytes, early: int | None) -> None:
    exts = m.Extensions()
    if early is not None:
        exts[0x002A] = early.to_bytes(4, "big")
    block = Writer()
    exts.encode(block)
    fast = encode_new_session_ticket(lifetime, age_add, nonce, ticket, bytes(block.buf))
    assert fast == m.NewSessionTicket(lifetime, age_add, nonce, ticket, exts).encode()
    assert m.NewSessionTicket.decode(fast[4:]) == m.NewSessionTicket(
        lifetime, age_add, nonce, ticket, exts)


class CountingStore(MemoryStore):
    """The in-process store, counting how often the ticket keys are asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def ticket_keys(self, now: float) -> Any:
        self.lookups += 1
        return super().ticket_keys(now)


def test_seal_many_opens_like_seal() -> None:
    store = CountingStore()
    sealer = TicketSealer(GuardedStore(store), lambda: 1000.0)
    suite = next(iter(SUITES.values()))
    states = [TicketState(suite, bytes([i]) * 32, 5, 7200, "h2", "localhost", bytes(32),
                          [b"der"], age_add=i) for i in range(3)]
    sealed = sealer.seal_many([encode_state(s) for s in states],
                              [bytes([i]) * 12 for i in range(3)])
    assert sealed is not None and store.lookups == 1
    assert [sealer.open(t) for t in sealed] == states
    one = sealer.seal(states[0], bytes(12))
    assert one is not None and sealer.open(one) == states[0]


def test_one_key_lookup_per_connection_and_every_ticket_resumes() -> None:
    store = CountingStore()
    server_cfg = server_config(session_tickets=3, session_store=store)
    cache = SessionCache()
    client_cfg = client_config(session_cache=cache)
    client = ClientConnection(client_cfg, server_name="localhost")
    server = ServerConnection(server_cfg)
    pump(client, server)
    assert store.lookups == 1  # three tickets sealed under one look-up
    sessions = []
    while (session := cache.take("localhost", time.time())) is not None:
        sessions.append(session)
    assert len(sessions) == 3
    assert len({s.ticket for s in sessions}) == 3
    assert len({s.age_add for s in sessions}) == 3
    assert len({s.psk for s in sessions}) == 3
    for session in sessions:  # each ticket on its own: all three resume
        only = SessionCache()
        only.put(session)
        c = ClientConnection(client_config(session_cache=only), server_name="localhost")
        s = ServerConnection(server_cfg)
        pump(c, s)
        assert s.handshake_complete is not None and s.handshake_complete.resumed
        assert c.handshake_complete is not None and c.handshake_complete.resumed


# --- the ClientHello decoder ------------------------------------------------------------


def _outcome(body: bytes, decode: Any) -> tuple[str, Any]:
    try:
        return "ok", decode(memoryview(body))
    except (DecodeError, IllegalParameter) as exc:
        return type(exc).__name__, str(exc)


def _hello_body(version: int, random: bytes, sid: bytes, suites: bytes, comp: bytes,
                exts: bytes | None) -> bytes:
    body = struct.pack(">H", version) + random + bytes([len(sid)]) + sid
    body += struct.pack(">H", len(suites)) + suites + bytes([len(comp)]) + comp
    return body if exts is None else body + struct.pack(">H", len(exts)) + exts


_ext = st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40)).map(
    lambda e: struct.pack(">HH", e[0], len(e[1])) + e[1])
hellos = st.builds(
    _hello_body, st.sampled_from([0x0303, 0x0301, 0x0300]), st.binary(min_size=32, max_size=32),
    st.binary(max_size=32) | st.binary(min_size=32, max_size=34),  # around the 32 limit
    st.binary(max_size=12), st.binary(max_size=3),
    st.none() | st.lists(_ext, max_size=6).map(b"".join))


def _mutate(body: bytes, cut: int, flip: int, extra: bytes) -> bytes:
    """A truncated, bit-flipped or extended hello: the malformed ones both must refuse."""
    if flip and body:
        at = flip % len(body)
        body = body[:at] + bytes([body[at] ^ (flip >> 8 or 1)]) + body[at + 1:]
    return body[:len(body) - cut] + extra


@settings(max_examples=1500, deadline=None)
@given(hellos, st.integers(0, 4), st.integers(0, 0xFFFF), st.binary(max_size=3))
def test_one_pass_client_hello_decodes_and_fails_like_the_checked_decoder(
        body: bytes, cut: int, flip: int, extra: bytes) -> None:
    for candidate in (body, _mutate(body, cut, flip, extra)):
        assert _outcome(candidate, decode_client_hello) == \
            _outcome(candidate, m.ClientHello.decode)


def test_one_pass_client_hello_reads_real_clients_hellos() -> None:
    import ssl

    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    openssl_hello = outgoing.read()[5 + 4:]
    ours = ClientConnection(client_config(), server_name="localhost").data_to_send()[5 + 4:]
    for body in (openssl_hello, ours):
        fast = decode_client_hello(memoryview(body))
        assert fast == m.ClientHello.decode(memoryview(body)) and fast.extensions


@settings(max_examples=500, deadline=None)
@given(st.lists(_ext, max_size=8).map(b"".join), st.binary(max_size=5), st.binary(max_size=5),
       st.integers(0, 6))
def test_extension_entries_read_alike_from_bytes_and_from_a_view_inside_a_buffer(
        entries: bytes, before: bytes, after: bytes, cut: int) -> None:
    """`entries_at` copies a view's block once and slices it: the bodies are bytes and
    equal to what the checked reader finds, wherever the block sits in the buffer, and a
    short or repeated entry is still None (the checked reader then raises)."""
    from tlskit.wire.codec import Reader

    entries = entries[:len(entries) - cut] if cut else entries
    try:
        expected: m.Extensions | None = m.Extensions.decode_block(Reader(entries), "test")
    except (DecodeError, IllegalParameter):
        expected = None
    buf = before + entries + after
    for source in (buf, memoryview(buf), bytearray(buf)):
        found = m.entries_at(source, len(before), len(before) + len(entries))
        assert found == expected
        if found is not None:
            assert all(type(body) is bytes for body in found.values())


def test_server_without_tickets_derives_no_resumption_secret(monkeypatch: Any) -> None:
    """resumption_master_secret (7.1) only keys tickets: a server that sends none skips
    its derivation (one transcript hash and one HMAC); one that sends them derives it,
    and its tickets resume (`test_one_key_lookup_per_connection_and_every_ticket_resumes`).
    The client derives its own either way (a ticket may come)."""
    from tlskit.keyschedule import MasterSecret

    derived: list[bytes] = []
    real = MasterSecret.resumption

    def resumption(self: MasterSecret, transcript_hash: bytes) -> bytes:
        derived.append(real(self, transcript_hash))
        return derived[-1]

    monkeypatch.setattr(MasterSecret, "resumption", resumption)
    for tickets, expected in ((0, 1), (2, 2)):
        derived.clear()
        c = ClientConnection(client_config(), server_name="localhost")
        s = ServerConnection(server_config(session_tickets=tickets))
        pump(c, s)
        assert s.handshake_complete is not None and c.handshake_complete is not None
        assert len(derived) == expected
        assert len(set(derived)) == 1  # (both sides' is the same secret)


def test_traced_encrypted_extensions_is_the_message_sent() -> None:
    """The tracer still gets EncryptedExtensions as a message, equal to the bytes sent."""
    steps: list[tuple[Any, dict[str, Any]]] = []
    scfg = server_config(tracer=lambda step, fields: steps.append((step, fields)),
                         alpn_protocols=["h2"])
    c = ClientConnection(client_config(alpn_protocols=["h2"]), server_name="localhost")
    s = ServerConnection(scfg)
    pump(c, s)
    assert s.handshake_complete is not None
    (fields,) = [f for step, f in steps if step.name == "ENCRYPTED_EXTENSIONS"]
    assert fields["message"].encode() == fields["raw"]
    assert set(fields["message"].extensions) >= {
        ExtensionType.server_name, ExtensionType.application_layer_protocol_negotiation}


def test_obsolete_group_set_is_the_rfc_ranges() -> None:
    """`OBSOLETE_GROUPS`, which the server's ClientHello checks test against, holds
    exactly the code points `is_obsolete_group` names (RFC 8446 B.3.1.4)."""
    from tlskit.crypto import OBSOLETE_GROUPS, is_obsolete_group

    assert {g for g in range(0x10000) if is_obsolete_group(g)} == OBSOLETE_GROUPS
    assert {0x0001, 0x0016, 0x001A, 0x001C, 0xFF01, 0xFF02} <= OBSOLETE_GROUPS
    assert not {0x0000, 0x0017, 0x0018, 0x0019, 0x001D, 0x0100, 0xFF00, 0xFF03} \
        & OBSOLETE_GROUPS
