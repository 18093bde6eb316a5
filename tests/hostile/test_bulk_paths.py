"""The application-data bulk paths against the general path, byte for byte.

An established connection opens whole application-data records handed to
`receive_data` as `bytes` straight from the caller's object (`Opener13.open_app`), and
seals one record per `send_data(bytes)` (`Sealer13.send_app`).
Everything else -- a bytearray or memoryview, a record split across calls, padding,
alerts, KeyUpdate, a failed tag, an oversized record -- goes the general path. These
tests feed the same stream to twin connections (same seeds, so the same keys) in
different ways and require the same events, the same error and alert, and the same
bytes sent back, so neither path can drift from the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from tlskit import ClientConnection, ConnectionClosed, DataReceived, KeyUpdated, TLSError
from tlskit.record import MAX_PLAINTEXT, RecordLayer

from ..support.pump import pump
from ..support.records import split_records
from .helpers import AD, forge, forge_content, replay_client, replay_server

APP = 23
Stream = Callable[[ClientConnection], bytes]  # given the client, the bytes it puts on the wire


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
