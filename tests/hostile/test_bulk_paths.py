"""The application-data bulk paths against the general path, byte for byte.

An established connection opens whole application-data records handed to
`receive_data` as `bytes` straight from the caller's object (`Opener13.open_app`), and
seals one record per `send_data(bytes)` (`Sealer13.send_app`). The zero-copy calls
(`receive_data_into`, `send_data_into`) must give the same data, events, errors, alerts
and bytes on the wire as the bytes API, whatever the buffer size and however the stream
is cut (the second half of this module).
Everything else -- a bytearray or memoryview, a record split across calls, padding,
alerts, KeyUpdate, a failed tag, an oversized record -- goes the general path. These
tests feed the same stream to twin connections (same seeds, so the same keys) in
different ways and require the same events, the same error and alert, and the same
bytes sent back, so neither path can drift from the other.
"""

from __future__ import annotations

import gc
import struct
import weakref
from collections.abc import Callable, Iterable
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlskit import (
    ClientConnection,
    ConnectionClosed,
    DataReceived,
    KeyUpdated,
    TLSError,
    UsageError,
)
from tlskit.record import MAX_EMPTY_RECORDS, MAX_PLAINTEXT, RecordLayer

from ..support.pump import pump
from ..support.records import split_records
from ..support.without_into import use_aeads_without_into
from .helpers import AD, forge, forge_content, replay_client, replay_server
from .helpers12 import replay_client12, replay_server12

APP = 23
Stream = Callable[[ClientConnection], bytes]  # given the client, the bytes it puts on the wire


def raw_twin() -> tuple[Any, Any]:
    """`twin`'s connections themselves, without the MITM in between (for traffic that
    never passes `data_to_send`, such as what `send_data_into` writes)."""
    client, server = twin()
    return client.conn, server.conn


def twin() -> tuple[Any, Any]:
    """An established TLS 1.3 pair; every call gives the same keys."""
    client, server = replay_client(), replay_server()
    pump(client, server)
    assert client.handshake_complete and server.handshake_complete
    server.data_to_send()
    return client, server


def deliver(server: Any, chunks: Iterable[bytes | bytearray]
            ) -> tuple[list[Any], Any, bytes, bytes]:
    """(all events, the error or None, what the server sent back, what it kept
    unprocessed)."""
    events: list[Any] = []
    error: Any = None
    for chunk in chunks:
        try:
            events += server.receive_data(chunk)
        except TLSError as exc:
            error = (type(exc), exc.alert)
            break
    return events, error, server.data_to_send(), server.take_unprocessed()


def outcome(stream: Stream, cut: Callable[[bytes], list[bytes | bytearray]],
            general: bool = False) -> tuple[list[Any], Any, bytes, bytes]:
    """What the server makes of `stream` arriving in the pieces `cut` gives; `general`
    hands each piece over as a bytearray, which only the general path takes."""
    client, server = twin()
    chunks = cut(stream(client))
    return deliver(server, [bytearray(c) for c in chunks] if general else chunks)


def same_on_both_paths(stream: Stream, cut: Callable[[bytes], list[bytes | bytearray]]
                       ) -> tuple[list[Any], Any, bytes, bytes]:
    result = outcome(stream, cut)
    assert result == outcome(stream, cut, general=True)
    return result


# How the bytes arrive: in one piece, record by record, in two pieces split at a given
# offset, or byte by byte.
WHOLE: Callable[[bytes], list[bytes | bytearray]] = lambda data: [data]  # noqa: E731


def by_record(data: bytes) -> list[bytes | bytearray]:
    return list(split_records(data))


def split_at(k: int) -> Callable[[bytes], list[bytes | bytearray]]:
    return lambda data: [data[:k], data[k:]]


def sends(*payloads: bytes) -> Stream:
    def stream(client: ClientConnection) -> bytes:
        out = b""
        for p in payloads:
            client.send_data(p)
            out += client.data_to_send()
        return out
    return stream


def padded_between(client: ClientConnection) -> bytes:
    client.send_data(b"one")
    out = client.data_to_send()
    out += forge_content(client, APP, b"two", padding=7)
    client.send_data(b"three")
    return out + client.data_to_send()


def empty_record_between(client: ClientConnection) -> bytes:
    client.send_data(b"one")
    out = client.data_to_send() + forge(client, bytes((APP,)))
    client.send_data(b"two")
    return out + client.data_to_send()


def empty_records(count: int, padding: int = 0, then: bytes = b"two") -> Stream:
    """Data, `count` empty records in a row (with `padding` zeros: empty once it is
    removed), then data again; each path must count them (`MAX_EMPTY_RECORDS`)."""
    def stream(client: ClientConnection) -> bytes:
        client.send_data(b"one")
        out = client.data_to_send()
        out += b"".join(forge(client, bytes((APP,)) + bytes(padding)) for _ in range(count))
        client.send_data(then)
        return out + client.data_to_send()
    return stream


def empty_runs_split_by_data(client: ClientConnection) -> bytes:
    """Two runs of the most empty records allowed in a row, a record with content
    between them: it starts the count again."""
    out = empty_records(MAX_EMPTY_RECORDS)(client)
    return out + empty_records(MAX_EMPTY_RECORDS, padding=3, then=b"three")(client)


def key_update_between(client: ClientConnection) -> bytes:
    client.send_data(b"before")
    client.update_keys()
    client.send_data(b"after")
    return client.data_to_send()


def close_after_data(client: ClientConnection) -> bytes:
    client.send_data(b"last words")
    client.close()
    return client.data_to_send()


def data_after_close(client: ClientConnection) -> bytes:
    """Bytes after a close_notify are not processed; one call keeps them for unwrap()."""
    client.send_data(b"last words")
    client.close()
    return client.data_to_send() + forge_content(client, APP, b"after the close" * 50)


def data_after_fatal_alert(client: ClientConnection) -> bytes:
    client.send_data(b"before the alert")
    out = client.data_to_send() + forge_content(client, 21, bytes((2, AD.handshake_failure)))
    return out + forge_content(client, APP, b"never read" * 50)


def flipped_tag(client: ClientConnection) -> bytes:
    client.send_data(b"good")
    client.send_data(b"tampered")
    client.send_data(b"never read")
    recs = split_records(client.data_to_send())
    bad = bytearray(recs[1])
    bad[-1] ^= 1
    return recs[0] + bytes(bad) + recs[2]


def oversized_content(client: ClientConnection) -> bytes:
    client.send_data(b"fine")
    return client.data_to_send() + forge_content(client, APP, bytes(MAX_PLAINTEXT + 1))


def old_record_version(client: ClientConnection) -> bytes:
    """legacy_record_version 0x0301 (ignored, RFC 8446 5.1; the AAD is the header as
    sent): not the bulk form, so the general path opens it."""
    inner = b"x" * 300 + bytes((APP,))
    return client.flow.inject_inner(inner, version=0x0301)


STREAMS: dict[str, tuple[Stream, list[Any] | None, Any]] = {
    "sizes": (sends(b"a", b"b" * 100, b"c" * MAX_PLAINTEXT, b"d" * 20000),
              [DataReceived(b"a"), DataReceived(b"b" * 100), DataReceived(b"c" * MAX_PLAINTEXT),
               DataReceived(b"d" * MAX_PLAINTEXT), DataReceived(b"d" * (20000 - MAX_PLAINTEXT))],
              None),
    "padded": (padded_between,
               [DataReceived(b"one"), DataReceived(b"two"), DataReceived(b"three")], None),
    "empty": (empty_record_between, [DataReceived(b"one"), DataReceived(b"two")], None),
    "empty_at_cap": (empty_records(MAX_EMPTY_RECORDS),
                     [DataReceived(b"one"), DataReceived(b"two")], None),
    "empty_padded_at_cap": (empty_records(MAX_EMPTY_RECORDS, padding=5),
                            [DataReceived(b"one"), DataReceived(b"two")], None),
    "empty_past_cap": (empty_records(MAX_EMPTY_RECORDS + 1), [], AD.unexpected_message),
    "empty_padded_past_cap": (empty_records(MAX_EMPTY_RECORDS + 1, padding=1), [],
                              AD.unexpected_message),
    "empty_runs": (empty_runs_split_by_data,
                   [DataReceived(b"one"), DataReceived(b"two"), DataReceived(b"one"),
                    DataReceived(b"three")], None),
    "key_update": (key_update_between,
                   [DataReceived(b"before"), KeyUpdated(True), DataReceived(b"after")], None),
    "close": (close_after_data, None, None),  # events checked in their own test below
    "after_close": (data_after_close, None, None),
    "after_alert": (data_after_fatal_alert, None, None),
    "bad_tag": (flipped_tag, [], AD.bad_record_mac),
    "oversized": (oversized_content, [], AD.record_overflow),
    "old_version": (old_record_version, [DataReceived(b"x" * 300)], None),
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_bulk_and_general_paths_agree(name: str) -> None:
    stream, expected, alert = STREAMS[name]
    for cut in (WHOLE, by_record):
        events, error, _, _ = same_on_both_paths(stream, cut)
        if cut is WHOLE:  # (in pieces, a call after a peer's fatal alert raises too)
            assert (error[1] if error else None) == alert
        if expected is not None and error is None:
            assert events == expected
    if expected is not None:
        # A failing call reports no events: in one piece nothing before the error shows.
        assert same_on_both_paths(stream, WHOLE)[0] == (expected if alert is None else [])


@pytest.mark.parametrize("name", ["sizes", "padded", "key_update", "bad_tag", "close",
                                  "after_close", "after_alert"])
def test_every_split_point_gives_the_same_result(name: str) -> None:
    stream = STREAMS[name][0]
    length = len(stream(twin()[0]))
    # Every offset in the first record, around each later record boundary, and a
    # stride through the rest (the full 16 KiB records make every offset too slow).
    bounds = [0]
    for rec in split_records(stream(twin()[0])):
        bounds.append(bounds[-1] + len(rec))
    points = set(range(1, min(length, 200)))
    for b in bounds[1:-1]:
        points.update(range(max(1, b - 24), min(length, b + 24)))
    points.update(range(1, length, 997))
    whole = same_on_both_paths(stream, WHOLE)
    for k in sorted(points):
        events, error, sent, _ = same_on_both_paths(stream, split_at(k))
        if name in ("after_close", "after_alert"):
            continue  # a second call after the peer closed differs by design; both paths agree
        assert error == whole[1] and sent == whole[2], k
        if error is None:
            assert events == whole[0], k


def test_byte_by_byte_gives_the_same_events() -> None:
    stream = sends(b"small", b"x" * 1000, b"y" * 3)
    one_by_one = same_on_both_paths(stream, lambda data: [data[i:i + 1]
                                                           for i in range(len(data))])
    assert one_by_one == same_on_both_paths(stream, WHOLE)


def test_close_notify_after_data_in_one_call() -> None:
    for cut in (WHOLE, by_record):
        events, error, sent, _ = same_on_both_paths(close_after_data, cut)
        assert [type(e).__name__ for e in events] == ["DataReceived", "ConnectionClosed"]
        assert events[0] == DataReceived(b"last words") and error is None
        assert len(split_records(sent)) == 1  # our close_notify in reply


def test_whole_records_in_bytes_take_the_bulk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shortcut is really taken: nothing reaches the record layer's input buffer."""
    client, server = twin()
    payloads = [b"one", b"x" * MAX_PLAINTEXT, b"two"]
    for p in payloads:
        client.send_data(p)
    several = client.data_to_send()
    client.send_data(b"alone")
    single = client.data_to_send()

    def no_feed(self: RecordLayer, data: object) -> None:
        raise AssertionError("the general path was taken")

    monkeypatch.setattr(RecordLayer, "feed", no_feed)
    assert server.receive_data(several) == [DataReceived(p) for p in payloads]
    assert server.receive_data(single) == [DataReceived(b"alone")]


def test_receive_limit_lowered_after_a_bulk_record_applies_to_the_next() -> None:
    """A limit changed once bulk records flowed holds for the next record (a bulk path
    that kept the old limit would open it; the general path reports the overflow)."""
    client, server = twin()
    client.send_data(b"z" * 1000)
    assert server.receive_data(client.data_to_send()) == [DataReceived(b"z" * 1000)]
    server._records.receive_limit = 500
    client.send_data(b"z" * 1000)
    with pytest.raises(TLSError) as info:
        server.receive_data(client.data_to_send())
    assert info.value.alert == AD.record_overflow


def test_send_limit_lowered_after_a_bulk_record_applies_to_the_next() -> None:
    client, _ = twin()
    client.send_data(b"q" * 1000)
    assert [len(r) for r in split_records(client.data_to_send())] == [5 + 1001 + 16]
    client._records.send_limit = 600
    client.send_data(b"q" * 1000)
    assert [len(r) for r in split_records(client.data_to_send())] == [5 + 601 + 16,
                                                                     5 + 401 + 16]


def test_bytes_after_close_notify_are_kept_and_after_a_fatal_alert_dropped() -> None:
    for cut in (WHOLE, by_record):
        events, error, _, kept = same_on_both_paths(data_after_close, cut)
        assert events[-1] == ConnectionClosed(None) and error is None
        if cut is WHOLE:
            assert kept == split_records(data_after_close(twin()[0]))[-1]
        events, error, _, kept = same_on_both_paths(data_after_fatal_alert, cut)
        assert events[-1] == ConnectionClosed(AD.handshake_failure) and kept == b""


# --- the zero-copy calls -----------------------------------------------------------------

def merged(events: Iterable[Any]) -> list[Any]:
    """Events with adjacent DataReceived joined and empty ones dropped: how data is split
    into records or calls is not part of what either API promises."""
    out: list[Any] = []
    for ev in events:
        if isinstance(ev, DataReceived):
            if not ev.data:
                continue
            if out and isinstance(out[-1], DataReceived):
                out[-1] = DataReceived(out[-1].data + ev.data)
                continue
        out.append(ev)
    return out


def deliver_into(server: Any, chunks: Iterable[bytes | bytearray], size: int = MAX_PLAINTEXT + 1,
                 as_view: bool = False) -> tuple[list[Any], Any, bytes, bytes]:
    """`deliver` through `receive_data_into` with a buffer of `size` bytes, calling again
    while `receive_pending`; each call's data becomes one DataReceived before its events
    (as the call promises)."""
    buf = bytearray(size)
    target = memoryview(buf) if as_view else buf
    events: list[Any] = []
    error: Any = None
    for chunk in chunks:
        data: bytes | bytearray | memoryview = memoryview(chunk) if as_view else chunk
        try:
            while True:
                n, evs = server.receive_data_into(data, target)
                events.append(DataReceived(bytes(buf[:n])))
                events += evs
                data = b""
                if not server.receive_pending:
                    break
        except TLSError as exc:
            error = (type(exc), exc.alert)
            break
    return merged(events), error, server.data_to_send(), server.take_unprocessed()


def same_on_all_paths(stream: Stream, cut: Callable[[bytes], list[bytes | bytearray]],
                      size: int = MAX_PLAINTEXT + 1) -> tuple[list[Any], Any, bytes, bytes]:
    """The bytes API (bulk and general) and the zero-copy call agree: the same data and
    events when nothing fails, else the same error and alert; the same bytes sent back."""
    events, error, sent, kept = same_on_both_paths(stream, cut)
    client, server = twin()
    into = deliver_into(server, cut(stream(client)), size, as_view=size % 2 == 1)
    assert into[1] == error and into[2] == sent
    if error is None:
        assert into[0] == merged(events) and into[3] == kept
    return into


@pytest.mark.parametrize("name", sorted(STREAMS))
@pytest.mark.parametrize("size", [MAX_PLAINTEXT, MAX_PLAINTEXT + 1, 3 * MAX_PLAINTEXT + 7])
def test_zero_copy_receive_agrees_with_the_bytes_api(name: str, size: int) -> None:
    stream, expected, alert = STREAMS[name]
    for cut in (WHOLE, by_record, split_at(7), split_at(100)):
        events, error, _, _ = same_on_all_paths(stream, cut, size)
        if cut is WHOLE:
            assert (error[1] if error else None) == alert
        if expected is not None and alert is None:
            assert events == merged(expected)


def bad_inner_type(client: ClientConnection) -> bytes:
    client.send_data(b"fine")
    return client.data_to_send() + forge_content(client, 99, b"odd")


def all_padding(client: ClientConnection) -> bytes:
    client.send_data(b"fine")
    return client.data_to_send() + forge(client, bytes(40))


def inner_ccs(client: ClientConnection) -> bytes:
    return forge_content(client, 20, b"\x01")


def too_short(client: ClientConnection) -> bytes:
    client.send_data(b"fine")
    good = client.data_to_send()
    return good + struct.pack(">BHH", APP, 0x0303, 10) + bytes(10)


def flipped_header(client: ClientConnection) -> bytes:
    """The header is the AAD: a changed version byte fails the tag."""
    client.send_data(b"x" * 5000)
    rec = bytearray(client.data_to_send())
    rec[2] = 1
    return bytes(rec)


def flipped_body_of_full_record(client: ClientConnection) -> bytes:
    client.send_data(b"y" * MAX_PLAINTEXT)
    rec = bytearray(client.data_to_send())
    rec[100] ^= 0x40
    return bytes(rec)


TAMPERED: dict[str, tuple[Stream, int]] = {
    "bad_tag": (flipped_tag, AD.bad_record_mac),
    "full_record": (flipped_body_of_full_record, AD.bad_record_mac),
    "header": (flipped_header, AD.bad_record_mac),
    "oversized": (oversized_content, AD.record_overflow),
    "inner_type": (bad_inner_type, AD.unexpected_message),
    "all_padding": (all_padding, AD.unexpected_message),
    "inner_ccs": (inner_ccs, AD.unexpected_message),
    "too_short": (too_short, AD.bad_record_mac),
}


@pytest.mark.parametrize("name", sorted(TAMPERED))
def test_tampered_records_get_the_same_alert_through_the_zero_copy_call(name: str) -> None:
    stream, alert = TAMPERED[name]
    for cut in (WHOLE, by_record):
        _, error, sent, _ = same_on_all_paths(stream, cut)
        assert error is not None and error[1] == alert
        # The alert went out, and a later call raises the same error.
        assert len(split_records(sent)) == 1
    client, server = twin()
    with pytest.raises(TLSError) as first:  # perhaps in a later call: the buffer was full
        data = stream(client)
        while True:
            server.receive_data_into(data, bytearray(MAX_PLAINTEXT))
            data = b""
    with pytest.raises(TLSError) as again:
        server.receive_data_into(b"", bytearray(MAX_PLAINTEXT))
    assert first.value is again.value and first.value.alert == alert


@pytest.mark.parametrize("pieces", [1, 2])
@pytest.mark.parametrize("target", ["data", "key_update"])
def test_a_failed_tag_leaves_nothing_in_the_buffer(pieces: int, target: str) -> None:
    """Whether the record is opened straight from the caller's bytes (one piece) or from
    the record layer's buffer (two), a forged record's unverified plaintext is wiped."""
    client, server = twin()
    if target == "data":
        client.send_data(b"secret" * 1000)
    else:
        client.update_keys()
    rec = bytearray(client.data_to_send())
    rec[-1] ^= 1
    buf = bytearray(MAX_PLAINTEXT + 1)
    chunks = [bytes(rec)] if pieces == 1 else [bytes(rec[:50]), bytes(rec[50:])]
    with pytest.raises(TLSError) as info:
        for chunk in chunks:
            server.receive_data_into(chunk, buf)
    assert info.value.alert == AD.bad_record_mac and not any(buf)


def test_handshake_records_leave_nothing_in_the_buffer() -> None:
    """A KeyUpdate is decrypted where data would go, then taken out and wiped."""
    client, server = twin()
    client.update_keys()
    buf = bytearray(MAX_PLAINTEXT + 1)
    assert server.receive_data_into(client.data_to_send(), buf) == (0, [KeyUpdated(True)])
    assert not any(buf)


# Hypothesis: random traffic (sizes, KeyUpdates, padded records, warnings-free alerts at
# the end, close), cut at random points, read with random buffer sizes.
Op = tuple[str, int]
OPS = st.one_of(
    st.tuples(st.just("data"), st.integers(0, 3 * MAX_PLAINTEXT)),
    st.tuples(st.just("padded"), st.integers(0, 300)),
    st.tuples(st.just("key_update"), st.integers(0, 1)),
    st.tuples(st.just("ticketless_ping"), st.integers(1, 20)),
)
END = st.sampled_from(["open", "close", "fatal_alert", "bad_tag"])


def scripted(ops: list[Op], end: str) -> Stream:
    def stream(client: ClientConnection) -> bytes:
        out = b""
        for i, (op, arg) in enumerate(ops):
            if op == "data":
                client.send_data(bytes([i % 251]) * arg)
            elif op == "padded":
                out += client.data_to_send() + forge_content(client, APP, b"p" * arg, 1 + arg)
            elif op == "key_update":
                client.update_keys(request_peer_update=bool(arg))
            else:
                client.send_data(b"." * arg)
        out += client.data_to_send()
        if end == "close":
            client.close()
        elif end == "fatal_alert":
            out += forge_content(client, 21, bytes((2, AD.internal_error)))
        elif end == "bad_tag":
            client.send_data(b"z" * 50)
            bad = bytearray(client.data_to_send())
            bad[-3] ^= 1
            out += bytes(bad)
        return out + client.data_to_send()
    return stream


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(OPS, max_size=8), end=END, data=st.data())
def test_zero_copy_receive_matches_the_bytes_api_on_random_traffic(
        ops: list[Op], end: str, data: st.DataObject) -> None:
    stream = scripted(ops, end)
    length = len(stream(twin()[0]))
    cuts = sorted(data.draw(st.lists(st.integers(0, length), max_size=6)))
    size = data.draw(st.integers(MAX_PLAINTEXT, 4 * MAX_PLAINTEXT))

    def cut(raw: bytes) -> list[bytes | bytearray]:
        bounds = [0, *cuts, len(raw)]
        return [raw[a:b] for a, b in pairwise(bounds)]

    same_on_all_paths(stream, cut, size)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(0, 3 * MAX_PLAINTEXT), min_size=1, max_size=6),
       update_at=st.integers(-1, 6), spare=st.integers(0, 64))
def test_send_data_into_writes_what_send_data_queues(sizes: list[int], update_at: int,
                                                     spare: int) -> None:
    """Twin clients (same keys): `send_data_into` writes exactly the bytes `send_data` +
    `data_to_send` give, including a KeyUpdate queued before the data."""
    plain, zero = raw_twin()[0], raw_twin()[0]
    for i, n in enumerate(sizes):
        if i == update_at:
            plain.update_keys()
            zero.update_keys()
        payload = bytes([i]) * n
        plain.send_data(payload)
        expected = plain.data_to_send()
        buf = bytearray(zero.send_buffer_size(n) + spare)
        # A bytearray buffer takes the connection's method, a memoryview the protector's
        # one-record path bound in its place.
        written = zero.send_data_into(payload if i % 2 else memoryview(payload),
                                      memoryview(buf) if (i + spare) % 2 else buf)
        assert bytes(buf[:written]) == expected
    assert zero.data_to_send() == b""


def test_zero_copy_calls_round_trip_and_take_the_bulk_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole records through `receive_data_into` never reach the record layer's input
    buffer, and several records fill one big buffer in one call."""
    client, server = raw_twin()
    wire = bytearray(client.send_buffer_size(3 * MAX_PLAINTEXT))
    monkeypatch.setattr(RecordLayer, "feed", lambda self, data: pytest.fail("general path"))
    out = bytearray(3 * MAX_PLAINTEXT + 3)
    payload = bytes(range(256)) * 192  # 3 records
    n = client.send_data_into(payload, wire)
    assert server.receive_data_into(memoryview(wire)[:n], out) == (len(payload), [])
    assert bytes(out[:len(payload)]) == payload and not server.receive_pending


def test_a_full_buffer_leaves_the_next_record_for_the_next_call() -> None:
    client, server = twin()
    client.send_data(b"a" * MAX_PLAINTEXT)
    client.send_data(b"b" * 10)
    buf = bytearray(MAX_PLAINTEXT + 1)
    assert server.receive_data_into(client.data_to_send(), buf) == (MAX_PLAINTEXT, [])
    assert server.receive_pending
    assert server.receive_data_into(b"", buf) == (10, []) and bytes(buf[:10]) == b"b" * 10
    assert not server.receive_pending
    assert server.receive_data_into(b"", buf) == (0, [])


def test_data_after_an_event_waits_for_the_next_call() -> None:
    """The data a call returns arrived before its events: a KeyUpdate between two
    records ends the call, the second record comes with the next one."""
    client, server = twin()
    client.send_data(b"before")
    client.update_keys(request_peer_update=False)
    client.send_data(b"after")
    buf = bytearray(4 * MAX_PLAINTEXT)
    n, events = server.receive_data_into(client.data_to_send(), buf)
    assert (bytes(buf[:n]), events) == (b"before", [KeyUpdated(False)])
    assert server.receive_pending
    n, events = server.receive_data_into(b"", buf)
    assert (bytes(buf[:n]), events) == (b"after", [])


def test_buffers_that_cannot_work_are_refused_before_anything_happens() -> None:
    client, server = raw_twin()
    client.send_data(b"hello")
    record = client.data_to_send()
    for bad in (bytearray(MAX_PLAINTEXT - 1), bytes(MAX_PLAINTEXT),
                memoryview(bytearray(MAX_PLAINTEXT)).toreadonly()):
        with pytest.raises(UsageError):
            server.receive_data_into(record, bad)
    assert server.receive_data(record) == [DataReceived(b"hello")]  # nothing consumed
    for bad_out in (bytearray(client.send_buffer_size(100) - 40),
                    memoryview(bytearray(client.send_buffer_size(100))).toreadonly()):
        with pytest.raises(UsageError):
            client.send_data_into(b"x" * 100, bad_out)
    assert client.data_to_send() == b""
    # No sequence number was used up: the next record opens.
    client.send_data(b"next")
    assert server.receive_data(client.data_to_send()) == [DataReceived(b"next")]


def test_zero_copy_calls_fall_back_where_cryptography_has_no_into_methods(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With AEAD objects that lack `encrypt_into`/`decrypt_into` (as older `cryptography`
    has them), the zero-copy calls give the same bytes, data and alerts."""
    use_aeads_without_into(monkeypatch)
    client, server = raw_twin()
    plain_client = raw_twin()[0]
    wire = memoryview(bytearray(client.send_buffer_size(2 * MAX_PLAINTEXT)))
    out = memoryview(bytearray(2 * MAX_PLAINTEXT + 2))
    for payload in (b"one", b"t" * MAX_PLAINTEXT, b"three" * 5000):
        n = client.send_data_into(payload, wire)
        plain_client.send_data(payload)
        assert bytes(wire[:n]) == plain_client.data_to_send()
        assert server.receive_data_into(wire[:n], out) == (len(payload), [])
        assert bytes(out[:len(payload)]) == payload
    bad = bytearray(wire[:client.send_data_into(b"final" * 100, wire)])
    bad[-1] ^= 1
    out[:] = bytes(len(out))
    with pytest.raises(TLSError) as info:
        server.receive_data_into(memoryview(bad), out)
    assert info.value.alert == AD.bad_record_mac and not any(out)


def test_tls12_connections_take_the_general_path_with_the_same_result() -> None:
    results = []
    for into in (False, True):
        client, server = replay_client12(), replay_server12()
        pump(client, server)
        server.data_to_send()
        payloads = [b"a", b"b" * MAX_PLAINTEXT, b"c" * 20000]
        wire = b""
        for p in payloads:
            if into:
                buf = bytearray(client.send_buffer_size(len(p)))
                wire += bytes(buf[:client.send_data_into(p, buf)])
            else:
                client.send_data(p)
                wire += client.data_to_send()
        client.close()
        wire += client.data_to_send()
        if into:
            results.append(deliver_into(server, [wire[:100], wire[100:]])[:3])
        else:
            events, error, sent, _ = deliver(server, [wire[:100], wire[100:]])
            results.append((merged(events), error, sent))
    assert results[0] == results[1]
    assert results[0][0][-1] == ConnectionClosed(None)
    assert results[0][0][0] == DataReceived(b"a" + b"b" * MAX_PLAINTEXT + b"c" * 20000)


def test_kept_fast_paths_follow_key_updates_close_and_errors() -> None:
    """`send_data_into`/`receive_data_into` taken once (as a loop keeps them) stand for the
    protectors of that moment; after a KeyUpdate, a close or an error they still do what
    the connection's methods do: the new keys, UsageError, the stored error."""
    client, server = raw_twin()
    reference = raw_twin()[0]
    send, receive = client.send_data_into, server.receive_data_into
    wire = memoryview(bytearray(client.send_buffer_size(MAX_PLAINTEXT)))
    plain = memoryview(bytearray(MAX_PLAINTEXT + 1))

    def step(payload: bytes) -> tuple[int, list[Any]]:
        n = send(payload, wire)
        reference.send_data(payload)
        assert bytes(wire[:n]) == reference.data_to_send()
        got = receive(wire[:n], plain)
        assert bytes(plain[:got[0]]) == payload
        return got

    assert step(b"first") == (5, [])
    client.update_keys(request_peer_update=False)
    reference.update_keys(request_peer_update=False)
    n = send(b"second", wire)  # the KeyUpdate, then the record under the new key
    reference.send_data(b"second")
    assert bytes(wire[:n]) == reference.data_to_send()
    assert receive(wire[:n], plain) == (0, [KeyUpdated(False)])
    assert receive(b"", plain) == (6, []) and bytes(plain[:6]) == b"second"
    assert step(b"third" * 1000) == (5000, [])
    # The bytes API's methods, kept the same way, follow the same changes.
    send_bytes, receive_bytes = client.send_data, server.receive_data
    for payload in (b"fourth", b"fifth"):
        send_bytes(payload)
        reference.send_data(payload)
        data = client.data_to_send()
        assert data == reference.data_to_send()
        assert receive_bytes(data) == [DataReceived(payload)]
        client.update_keys(request_peer_update=False)
        reference.update_keys(request_peer_update=False)
        assert server.receive_data(client.data_to_send()) == [KeyUpdated(False)]
        reference.data_to_send()
    client.close()
    with pytest.raises(UsageError):
        send(b"after close", wire)
    with pytest.raises(UsageError):
        send_bytes(b"after close")
    assert receive(client.data_to_send(), plain) == (0, [ConnectionClosed(None)])
    assert receive(wire[:n], plain) == (0, [])  # nothing after close_notify counts
    # An error: the kept method raises the connection's error again.
    client2, server2 = raw_twin()
    receive2 = server2.receive_data_into
    client2.send_data(b"x" * 100)
    bad = bytearray(client2.data_to_send())
    bad[-1] ^= 1
    with pytest.raises(TLSError) as first:
        receive2(memoryview(bad), plain)
    with pytest.raises(TLSError) as again:
        receive2(memoryview(bytes(bad)), plain)
    assert first.value is again.value and first.value.alert == AD.bad_record_mac


def test_fast_paths_hold_no_reference_to_the_connection() -> None:
    """The protectors reach the connection only weakly: dropping it frees it at once."""
    client, server = raw_twin()
    wire = memoryview(bytearray(client.send_buffer_size(100)))
    n = client.send_data_into(b"y" * 100, wire)
    assert server.receive_data_into(wire[:n], memoryview(bytearray(MAX_PLAINTEXT))) == \
        (100, [])
    refs = weakref.ref(client), weakref.ref(server)
    gc.disable()
    try:
        del client, server
        assert refs[0]() is None and refs[1]() is None
    finally:
        gc.enable()
