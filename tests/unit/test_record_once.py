"""Every received record is decrypted exactly once, whichever receive path it takes.

An established connection's fast receive paths (`Opener13.receive_data`/`receive_into`,
bound in place of the connection's methods; `open_app` and `open_records_into` behind
`receive_data` and `receive_data_into`; `open_app_into` behind `receive_record_into`)
decrypt a record before they know what it holds. One that is not an unpadded
application-data record (a NewSessionTicket, a KeyUpdate, an alert, padded data) is
handed to the general path as its plaintext, never as ciphertext to open again.

The count is taken by a counting wrapper around the connection's real AEAD (it decrypts
as before and counts the calls: tests/support/aead_count.py, the one look at an internal
here); every record comes from a real tlskit server over the public API, or, for padded
data and the malformed ones, is forged by the key-log man-in-the-middle the server sits
behind (tests/support/mitm.py), under the server's current write key and in step with the
receiving clients, which then get the server's later records re-sealed after it. Each
case is run through every entry point and through the general path (the bytes fed in two
pieces, so no fast path can take them), on twin clients with the same keys: the same
data, events, error (type, alert, message) and bytes sent back, and one decrypt per
record that was processed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlskit import (
    ClientConnection,
    ConnectionClosed,
    DataReceived,
    KeyUpdated,
    ServerConnection,
    TLSError,
)
from tlskit.record import MAX_EMPTY_RECORDS, MAX_PLAINTEXT

from ..hostile.helpers import forge, forge_content
from ..support.aead_count import count_decrypts
from ..support.mitm import Endpoint, Mitm, logging_keys
from ..support.pki import AcceptAll, client_config, det_rng, server_config
from ..support.records import APPDATA, split_records

# --- a server behind the MITM and twin clients (the same keys), lock-step ---------------------

TLS13 = None
GCM12 = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
CHACHA12 = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"


@dataclasses.dataclass
class Peers:
    server: Endpoint  # its records reach the clients through the MITM, which forges too
    clients: list[ClientConnection]
    tickets: bytes  # the server's post-handshake flight (TLS 1.3: NewSessionTickets)


def peers(count: int, suite12: str | None = TLS13) -> Peers:
    """A server and `count` clients that say the same bytes (seeded): every client gets
    the server's flights as the MITM relays them, the server gets the first client's
    (through the MITM too, which learns the connection from them)."""
    if suite12 is None:
        config = server_config(ed25519=True, rng=det_rng(8))
        kw: dict[str, Any] = {}
    else:
        config = server_config(rng=det_rng(8))
        kw = {"versions": ["TLSv1.2"], "cipher_suites": [suite12]}
    clients = [ClientConnection(logging_keys(client_config(rng=det_rng(7),
                                                           verifier=AcceptAll(), **kw)),
                                "localhost") for _ in range(count)]
    first, server = Mitm.pair(clients[0], ServerConnection(logging_keys(config)))
    for _ in range(10):
        wire = first.data_to_send()
        assert all(c.data_to_send() == wire for c in clients[1:])  # the twins agree
        if wire:
            server.receive_data(wire)
        reply = server.data_to_send()
        if all(c.handshake_complete for c in clients):
            return Peers(server, clients, reply)
        for c in clients:
            c.receive_data(reply)
    raise AssertionError("the handshake never completed")


def forged(server: Endpoint, inner: bytes) -> bytes:
    """A TLS 1.3 record with TLSInnerPlaintext `inner`, sealed by the MITM under the
    server's current write key at the clients' next sequence number (what a peer breaking
    the rules would send)."""
    return forge(server, inner)


def padded(server: Endpoint, data: bytes, padding: int) -> bytes:
    """Application data with `padding` zeros after its type (no public API pads)."""
    return forge_content(server, APPDATA, data, padding)


def key_update(server: Endpoint) -> bytes:
    server.update_keys(request_peer_update=False)
    return server.data_to_send()


def close_notify(server: Endpoint) -> bytes:
    server.close()
    return server.data_to_send()


def data(server: Endpoint, payload: bytes) -> bytes:
    server.send_data(payload)
    return server.data_to_send()


# --- the entry points -----------------------------------------------------------------------

@dataclasses.dataclass
class Outcome:
    data: bytes = b""
    events: list[Any] = dataclasses.field(default_factory=list)
    error: tuple[Any, ...] | None = None
    sent: bytes = b""
    decrypts: int = 0


def _note(out: Outcome, events: list[Any]) -> None:
    for ev in events:
        if isinstance(ev, DataReceived):
            out.data += ev.data
        elif isinstance(ev, ConnectionClosed | KeyUpdated):
            out.events.append(ev)
        else:
            out.events.append(type(ev).__name__)  # (a ticket's fields hold a clock time)


def _clean(buffer: bytearray, written: int) -> None:
    """Nothing but the data written is left in the caller's buffer (no handshake message,
    alert or padding, nothing unauthenticated): at most the last data record's type byte,
    which the AEAD wrote after its content."""
    rest = buffer[written:]
    assert rest[0] in (0, 23) and not any(rest[1:])


def general(conn: Any, wire: bytes, out: Outcome) -> None:
    """The reference: fed in two pieces, the first not a whole record, so the fast paths
    never see a record and the general path decrypts each one."""
    _note(out, conn.receive_data(wire[:1]))
    _note(out, conn.receive_data(wire[1:]))


def bytes_api(conn: Any, wire: bytes, out: Outcome) -> None:
    """`receive_data` (for one record, the opener's bound `receive_data`; for several,
    the connection's method and `open_app`)."""
    _note(out, conn.receive_data(wire))


def _into(conn: Any, wire: bytes, out: Outcome, view: bool) -> None:
    chunk: bytes = wire
    while True:
        buffer = bytearray(MAX_PLAINTEXT + 1)
        n, events = conn.receive_data_into(chunk, memoryview(buffer) if view else buffer)
        _clean(buffer, n)
        out.data += bytes(buffer[:n])
        _note(out, events)
        if not conn.receive_pending:
            return
        chunk = b""


def into_method(conn: Any, wire: bytes, out: Outcome) -> None:
    """`receive_data_into` with a bytearray, which the bound method passes on to the
    connection's (`open_records_into`)."""
    _into(conn, wire, out, view=False)


def into_bound(conn: Any, wire: bytes, out: Outcome) -> None:
    """`receive_data_into` with a memoryview: the bound `Opener13.receive_into`."""
    _into(conn, wire, out, view=True)


def record_into(conn: Any, wire: bytes, out: Outcome) -> None:
    """The socket adapter's read: `receive_record_into` record by record; a declined
    record (-1) goes to `receive_data` as bytes, a held one (its plaintext kept by the
    connection) is taken with `receive_data(b"")`. The buffer is spoiled after a held
    record: what the connection keeps must not be a view of it."""
    for rec in split_records(wire):
        buffer = bytearray(MAX_PLAINTEXT + 1)
        got = conn.receive_record_into(rec, memoryview(buffer))
        if got >= 0:
            _clean(buffer, got)
            out.data += bytes(buffer[:got])
            continue
        _clean(buffer, 0)
        if got == -1:
            _note(out, conn.receive_data(rec))
        else:
            buffer[:] = b"\xff" * len(buffer)
            _note(out, conn.receive_data(b""))


def view_api(conn: Any, wire: bytes, out: Outcome) -> None:
    """`receive_data` with a memoryview of a buffer the caller reuses (`tlskit.aio`'s
    buffered reads), which `open_app` reads in place: all but the last byte, then the
    buffer is spoiled, then the last byte. What the connection keeps of a partial record
    must be a copy, not a view of the caller's buffer."""
    buffer = bytearray(wire[:-1])
    _note(out, conn.receive_data(memoryview(buffer)))
    buffer[:] = b"\xff" * len(buffer)
    buffer = bytearray(wire[-1:])
    _note(out, conn.receive_data(memoryview(buffer)))
    buffer[:] = b"\xff" * len(buffer)


def view_whole(conn: Any, wire: bytes, out: Outcome) -> None:
    """`receive_data` with a memoryview of the whole wire (so `open_app` takes single
    records too), the buffer spoiled after the call."""
    buffer = bytearray(wire)
    _note(out, conn.receive_data(memoryview(buffer)))
    buffer[:] = b"\xff" * len(buffer)


def view_shaped(conn: Any, wire: bytes, out: Outcome) -> None:
    """`receive_data` with a two-dimensional view of the wire (a byte per row): not a
    flat byte view, so no fast path may index it; the general path copies its bytes in."""
    buffer = bytearray(wire)
    _note(out, conn.receive_data(memoryview(buffer).cast("B", (len(wire), 1))))
    buffer[:] = b"\xff" * len(buffer)


ENTRIES = [bytes_api, into_method, into_bound, record_into, view_api, view_whole,
           view_shaped]
Entry = Callable[[Any, bytes, Outcome], None]


def run(entry: Entry, conn: Any, wire: bytes) -> Outcome:
    counter = count_decrypts(conn)
    out = Outcome()
    try:
        entry(conn, wire, out)
    except TLSError as exc:
        out.error = (type(exc), exc.alert, str(exc))
    out.sent = conn.data_to_send()
    out.decrypts = counter.calls
    return out


def check(make: Callable[[Peers], bytes], records: int, suite12: str | None = TLS13,
          ) -> dict[str, Outcome]:
    """`make` builds the wire from a fresh server; every entry point gives the general
    path's outcome on a twin client, with exactly `records` decrypts."""
    p = peers(1 + len(ENTRIES), suite12)
    for c in p.clients:
        c.receive_data(p.tickets)  # (TLS 1.3: the tickets, before anything else)
    wire = make(p)
    reference = run(general, p.clients[0], wire)
    assert reference.decrypts == records, "the general path opens each record once"
    outcomes = {}
    for entry, conn in zip(ENTRIES, p.clients[1:], strict=True):
        got = outcomes[entry.__name__] = run(entry, conn, wire)
        if reference.error is None:
            assert dataclasses.replace(got, decrypts=records) == reference, entry.__name__
        else:  # (what came before the error depends on where each API stops a call)
            assert (got.error, got.sent) == (reference.error, reference.sent), entry.__name__
    counts = {name: o.decrypts for name, o in outcomes.items()}
    assert counts == dict.fromkeys(counts, records)
    return outcomes


# --- one record of each kind ------------------------------------------------------------------

def test_a_new_session_ticket_is_decrypted_once() -> None:
    p = peers(1 + len(ENTRIES))
    tickets = p.tickets
    assert len(split_records(tickets)) == 1  # both tickets in one record
    reference = run(general, p.clients[0], tickets)
    assert reference.events == ["SessionTicketReceived"] * 2 and reference.decrypts == 1
    for entry, conn in zip(ENTRIES, p.clients[1:], strict=True):
        got = run(entry, conn, tickets)
        assert (got.events, got.error, got.decrypts) == (reference.events, None, 1), \
            entry.__name__


def test_a_key_update_is_decrypted_once_and_the_next_key_takes_over() -> None:
    outcomes = check(lambda p: key_update(p.server), 1)
    assert outcomes["bytes_api"].events == [KeyUpdated(False)]
    check(lambda p: key_update(p.server) + data(p.server, b"under the next key"), 2)


def test_a_close_notify_is_decrypted_once() -> None:
    outcomes = check(lambda p: close_notify(p.server), 1)
    assert outcomes["into_bound"].events == [ConnectionClosed(None)]
    assert outcomes["into_bound"].sent  # our close_notify in answer


@pytest.mark.parametrize("size,padding", [(11, 1), (11, 300), (0, 40),
                                          (MAX_PLAINTEXT - 5, 5)])
def test_padded_application_data_is_decrypted_once(size: int, padding: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    outcomes = check(lambda p: padded(p.server, payload, padding), 1)
    assert outcomes["record_into"].data == payload


def test_several_records_of_every_kind_in_one_call() -> None:
    def mix(p: Peers) -> bytes:
        s = p.server
        return b"".join((data(s, b"first"), padded(s, b"padded", 20), data(s, b"x" * 3000),
                         key_update(s), data(s, b"after the update"), padded(s, b"", 9),
                         data(s, b"last"), close_notify(s)))
    outcomes = check(mix, 8)
    assert outcomes["into_method"].data == b"firstpadded" + b"x" * 3000 + \
        b"after the updatelast"


def test_the_tickets_then_data_in_one_call() -> None:
    p = peers(1 + len(ENTRIES))
    wire = p.tickets + data(p.server, b"data after the tickets")
    reference = run(general, p.clients[0], wire)
    assert reference.decrypts == 2
    for entry, conn in zip(ENTRIES, p.clients[1:], strict=True):
        got = run(entry, conn, wire)
        assert (got.data, got.events, got.decrypts) == (reference.data, reference.events, 2)


# --- malformed records: the same alert and message as the general path, one decrypt ----------

KEY_UPDATE = b"\x18\x00\x00\x01\x00"  # KeyUpdate(update_not_requested)


@pytest.mark.parametrize("inner,alert", [
    (bytes(40), "unexpected_message"),              # no non-zero content type
    (b"\x16", "unexpected_message"),                # an empty handshake record
    (b"\x15", "unexpected_message"),                # an empty alert record
    (b"\x01\x14", "unexpected_message"),            # inner change_cipher_spec
    (b"hello\x63", "unexpected_message"),           # an unknown inner type
    (b"\x01\x00\x00\x15", "decode_error"),          # an alert of three bytes
    (b"\x07\x00\x15", "illegal_parameter"),         # an alert level that does not exist
    (KEY_UPDATE + b"\x04\x16", "unexpected_message"),  # a key change inside a record
    (b"\x18\x00\x00\x01\x05\x16", "illegal_parameter"),  # a bad KeyUpdate request value
    (b"\x02\x00\x00\x00\x16", "unexpected_message"),  # a ServerHello after the handshake
], ids=["all-zero", "empty-handshake", "empty-alert", "inner-ccs", "unknown-type",
        "long-alert", "bad-alert-level", "key-change-mid-record", "bad-key-update",
        "late-server-hello"])
def test_malformed_inner_plaintext_fails_alike_after_one_decrypt(inner: bytes,
                                                                  alert: str) -> None:
    outcomes = check(lambda p: forged(p.server, inner), 1)
    error = outcomes["bytes_api"].error
    assert error is not None and error[1].name == alert


def test_a_record_over_the_limit_fails_as_record_overflow_after_one_decrypt() -> None:
    """16384 bytes, the type byte and one zero: 5.4's limit is on the inner plaintext
    (the fast paths decline it unopened; the general path opens it and refuses it)."""
    outcomes = check(lambda p: forged(p.server, bytes(MAX_PLAINTEXT) + b"\x17\x00"), 1)
    error = outcomes["record_into"].error
    assert error is not None and error[1].name == "record_overflow"


def test_an_alert_inside_a_fragmented_handshake_message_fails_alike() -> None:
    """5.1: a record interleaved with a handshake message split over records; the first
    record was opened (and held) by a fast path, the second by the general path."""
    outcomes = check(lambda p: forged(p.server, KEY_UPDATE[:3] + b"\x16")
                     + forged(p.server, b"\x01\x00\x15"), 2)
    error = outcomes["into_bound"].error
    assert error is not None and "interleaved" in error[2]


def test_records_after_a_key_update_under_the_old_key_fail_their_tag() -> None:
    """A key change ends on the KeyUpdate's record: the next record opens under the next
    key only (the old key's record fails as bad_record_mac); each is opened once."""
    def stale(p: Peers) -> bytes:
        update = forged(p.server, KEY_UPDATE + b"\x16")
        return update + forged(p.server, b"old key\x17")  # the server's key is unchanged
    outcomes = check(stale, 2)
    error = outcomes["bytes_api"].error
    assert error is not None and error[1].name == "bad_record_mac"


def _spoiled(record: bytes) -> bytes:
    return record[:-1] + bytes((record[-1] ^ 1,))  # the tag fails


@pytest.mark.parametrize("size", [10, MAX_PLAINTEXT])
def test_a_record_that_fails_its_tag_is_tried_once(size: int) -> None:
    """bad_record_mac after one decrypt, whichever path tried it first (a fast path
    hands the failure on instead of the ciphertext)."""
    outcomes = check(lambda p: _spoiled(data(p.server, b"z" * size)), 1)
    error = outcomes["into_bound"].error
    assert error is not None and error[1].name == "bad_record_mac"
    check(lambda p: data(p.server, b"good") + _spoiled(data(p.server, b"bad")), 2)


# --- what the held plaintext may and may not be -------------------------------------------

def test_receive_record_into_holds_a_non_data_record_and_leaves_nothing_in_the_buffer(
        ) -> None:
    """The adapter's path consumes an authentic non-data record (HELD), leaves the
    caller's buffer zeroed, keeps a copy of its own and declines everything until
    `receive_data(b"")` takes the held record first."""
    from tlskit.record import HELD
    p = peers(1)
    client = p.clients[0]
    client.receive_data(p.tickets)
    update = key_update(p.server)
    after = data(p.server, b"next")
    buffer = bytearray(MAX_PLAINTEXT + 1)
    assert client.receive_record_into(update, memoryview(buffer)) == HELD
    assert not any(buffer)
    buffer[:] = b"\xff" * len(buffer)  # the caller's: what is held must not be a view of it
    assert client.receive_pending
    assert client.receive_record_into(after, memoryview(buffer)) == -1  # not before it
    assert client.receive_data(b"") == [KeyUpdated(False)]
    assert client.receive_record_into(after, memoryview(buffer)) == 4
    assert buffer[:4] == b"next" and not client.receive_pending


def test_receive_into_hands_on_padded_data_as_a_copy_and_wipes_its_view() -> None:
    """`receive_into` decrypts into the caller's view; a record it does not handle is
    handed on as bytes of its own and the view wiped before the general path runs, which
    then writes the content (a view handed on would have read back the wiped zeros)."""
    p = peers(1)
    client = p.clients[0]
    client.receive_data(p.tickets)
    wire = padded(p.server, b"padded", 7)
    buffer = bytearray(MAX_PLAINTEXT + 1)
    n, events = client.receive_data_into(wire, memoryview(buffer))
    assert (n, events) == (6, []) and buffer[:6] == b"padded" and not any(buffer[6:])
    assert not client.receive_pending  # nothing held back


# --- empty records: counted wherever they arrive (MAX_EMPTY_RECORDS in a row) -----------------

def empties(server: Endpoint, count: int, padding: int = 0) -> bytes:
    """`count` empty application-data records (TLS 1.3: with `padding` zeros after the
    type; TLS 1.2: no content), each forged at the next sequence number."""
    if server.flow.sealer is not None and server.flow.sealer.k12 is not None:
        return b"".join(server.flow.inject12(APPDATA, b"") for _ in range(count))
    return b"".join(forged(server, b"\x17" + bytes(padding)) for _ in range(count))


@pytest.mark.parametrize("suite", [TLS13, GCM12, CHACHA12])
def test_the_most_empty_records_allowed_in_a_row_are_read_on_every_path(
        suite: str | None) -> None:
    def wire(p: Peers) -> bytes:
        s = p.server
        return b"".join((data(s, b"one"), empties(s, MAX_EMPTY_RECORDS), data(s, b"two"),
                         empties(s, MAX_EMPTY_RECORDS, padding=4), data(s, b"three")))
    outcomes = check(wire, 3 + 2 * MAX_EMPTY_RECORDS, suite)
    assert outcomes["record_into"].data == b"onetwothree"


@pytest.mark.parametrize("suite,first", [
    (TLS13, "data"), (TLS13, "nothing"), (TLS13, "key_update"),
    (GCM12, "data"), (GCM12, "nothing"), (CHACHA12, "data")])  # (1.2 has no KeyUpdate)
def test_one_empty_record_past_the_cap_is_unexpected_message_on_every_path(
        suite: str | None, first: str) -> None:
    """33 in a row, after data, right after the handshake (the tickets aside) or first
    under a new key: the same error on every path, after the same decrypts, and nothing
    after it opened."""
    lead = {"data": lambda s: data(s, b"one"), "nothing": lambda s: b"", "key_update": key_update}

    def wire(p: Peers) -> bytes:
        s = p.server
        return b"".join((lead[first](s), empties(s, MAX_EMPTY_RECORDS + 1, padding=1),
                         data(s, b"never read")))
    outcomes = check(wire, (first != "nothing") + MAX_EMPTY_RECORDS + 1, suite)
    error = outcomes["bytes_api"].error
    assert error is not None and error[1].name == "unexpected_message"
    assert "empty records in a row" in error[2]


# --- TLS 1.2: the header names the content type, so nothing is opened twice either ---------

@pytest.mark.parametrize("suite", [GCM12, CHACHA12])
def test_tls12_records_are_decrypted_once(suite: str) -> None:
    check(lambda p: data(p.server, b"one record"), 1, suite)
    check(lambda p: close_notify(p.server), 1, suite)

    def mix(p: Peers) -> bytes:
        s = p.server
        return data(s, b"a" * 20000) + data(s, b"b") + close_notify(s)
    outcomes = check(mix, 4, suite)
    assert outcomes["into_bound"].data == b"a" * 20000 + b"b"


# --- any mix of records: every path agrees with the general one, one decrypt each ------------

def _tampered(server: Endpoint, payload: bytes) -> bytes:
    """An application-data record whose tag no longer verifies (its last byte flipped)."""
    wire = bytearray(data(server, payload))
    wire[-1] ^= 0x01
    return bytes(wire)


_RECORD = st.one_of(
    st.tuples(st.just("data"), st.integers(1, 20000)),
    st.tuples(st.just("padded"), st.integers(0, 3000), st.integers(1, 300)),
    st.tuples(st.just("key_update")),
    st.tuples(st.just("inner"), st.binary(max_size=24)),
    st.tuples(st.just("tampered"), st.integers(1, 200)),
    st.tuples(st.just("close")),
)


def _wire(server: Endpoint, plan: list[tuple[Any, ...]]) -> bytes:
    out = []
    for kind, *args in plan:
        if kind == "data":
            out.append(data(server, bytes(args[0])))
        elif kind == "padded":
            out.append(padded(server, b"p" * args[0], args[1]))
        elif kind == "key_update":
            out.append(key_update(server))
        elif kind == "inner":
            out.append(forged(server, args[0]))
        elif kind == "tampered":
            out.append(_tampered(server, b"t" * args[0]))
        else:
            out.append(close_notify(server))
            break  # nothing can be sent after it
    return b"".join(out)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_RECORD, min_size=1, max_size=6))
def test_any_mix_of_records_is_read_alike_and_decrypted_once(plan: list[tuple[Any, ...]]
                                                             ) -> None:
    """Random runs of data (one record or several), padded data, KeyUpdates, arbitrary
    inner plaintexts (most of them malformed), records failing their tag and close_notify:
    every entry point reads them as the general path does (data, events, error, what is
    sent back) with the same number of decrypts, at most one per record."""
    p = peers(1 + len(ENTRIES))
    for c in p.clients:
        c.receive_data(p.tickets)
    wire = _wire(p.server, plan)
    reference = run(general, p.clients[0], wire)
    assert reference.decrypts <= len(split_records(wire))
    for entry, conn in zip(ENTRIES, p.clients[1:], strict=True):
        got = run(entry, conn, wire)
        assert got.decrypts == reference.decrypts, entry.__name__
        if reference.error is None:
            assert got == reference, entry.__name__
        else:
            assert (got.error, got.sent) == (reference.error, reference.sent), entry.__name__
