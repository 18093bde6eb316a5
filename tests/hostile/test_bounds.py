"""Bounded buffers: an endless or oversized stream must end in an error (or flow through)
before the connection holds more than a fixed amount of the peer's bytes.

The bound: one maximal handshake message (``max_handshake_message``: the largest
ClientHello, 131396 bytes) being reassembled plus one maximal record in the record layer.
"""

from __future__ import annotations

import pytest

from tlskit import DataReceived, TLSError
from tlskit.config import MAX_CLIENT_HELLO
from tlskit.record import MAX_EMPTY_RECORDS

from ..support.records import APPDATA, HS, record
from .helpers import AD, connected_pair, expect_alert, forge_content, held, replay_server

MAX = 1 << 14
HS_LIMIT = MAX_CLIENT_HELLO
BOUND = HS_LIMIT + MAX + 5


def feed_until_error(conn, chunks, alert):
    """Feed chunks; the connection must fail with `alert` while staying under BOUND
    (counted as every byte it holds beyond what it held before: `held`)."""
    fed = 0
    base = held(conn)
    with pytest.raises(TLSError) as info:
        for chunk in chunks:
            conn.receive_data(chunk)
            fed += len(chunk)
            grown = held(conn) - base
            assert grown <= BOUND, f"{grown} bytes held after {fed}"
    assert info.value.alert == alert, info.value
    assert fed <= 2 * BOUND, f"error only after {fed} bytes"
    return fed


@pytest.mark.parametrize("announced", [HS_LIMIT + 1, 1 << 20, (1 << 24) - 1])
def test_oversized_handshake_message_is_refused_from_its_header(announced):
    s = replay_server()
    header = b"\x01" + announced.to_bytes(3, "big")
    expect_alert(s, record(HS, header), AD.decode_error)


def test_maximal_handshake_message_in_many_records_ends_in_decode_error():
    # A "ClientHello" of exactly the limit, fed in 16 KiB records: accepted by the
    # framing, then refused by the decoder (it is garbage) -- buffers never exceed BOUND.
    s = replay_server()
    body = b"\x01" + HS_LIMIT.to_bytes(3, "big") + b"\x03\x03" + bytes(HS_LIMIT - 2)

    def chunks():
        for i in range(0, len(body), MAX):
            yield record(HS, body[i:i + MAX])
        while True:
            yield record(HS, bytes(MAX))
    feed_until_error(s, chunks(), AD.decode_error)


def test_ten_megabytes_of_handshake_fragments_stop_early():
    s = replay_server()
    header = record(HS, b"\x01" + (HS_LIMIT + 1).to_bytes(3, "big"))
    frag = record(HS, b"\x00" * 1000)

    def chunks():
        yield header[:5]
        yield header[5:]
        for _ in range(10_000):
            yield frag
    feed_until_error(s, chunks(), AD.decode_error)


def test_ten_megabytes_of_handshake_fragments_in_one_call():
    s = replay_server()
    data = record(HS, b"\x01\x02\x00\x01") + record(HS, bytes(1000)) * 10_000
    expect_alert(s, data, AD.decode_error)


def test_post_handshake_fragments_stop_at_the_limit():
    # A NewSessionTicket announced at 2^17+1 bytes: refused from its header.
    c, s = connected_pair()
    expect_alert(c, forge_content(s, HS, b"\x04" + (HS_LIMIT + 1).to_bytes(3, "big")),
                 AD.decode_error, peer=s)


def test_post_handshake_fragments_up_to_the_limit_then_decode_error():
    c, s = connected_pair()
    body = b"\x04" + HS_LIMIT.to_bytes(3, "big") + bytes(HS_LIMIT)

    def chunks():
        for i in range(0, len(body), MAX):
            yield forge_content(s, HS, body[i:i + MAX])
    feed_until_error(c, chunks(), AD.decode_error)


def test_partial_record_header_waits_without_growing():
    s = replay_server()
    base = held(s)
    for b in b"\x16\x03\x01\x40":
        assert s.receive_data(bytes((b,))) == []
    assert held(s) - base == 4


def _stream(sender, total: int, size: int = MAX) -> bytes:
    out = bytearray()
    payload = bytes(size)
    while len(out) < total:
        sender.send_data(payload)
        out += sender.data_to_send()
    return bytes(out)


def test_application_data_stream_keeps_unprocessed_bytes_bounded():
    c, s = connected_pair()
    data = _stream(c, 2_000_000)
    got = 0
    base = held(s)
    for i in range(0, len(data), 999):   # never aligned with record boundaries
        for ev in s.receive_data(data[i:i + 999]):
            assert isinstance(ev, DataReceived)
            got += len(ev.data)
        # one record at most, plus the part of the last chunk already consumed (which
        # the record buffer drops when the next chunk arrives)
        assert held(s) - base <= MAX + 256 + 5 + 999
    assert got == len(data) - (len(data) // (MAX + 22)) * 22


def test_application_data_stream_keeps_the_receive_buffer_bounded():
    c, s = connected_pair()
    data = _stream(c, 10_000_000)
    worst, base = 0, held(s)
    for i in range(0, len(data), 999):
        s.receive_data(data[i:i + 999])
        worst = max(worst, held(s) - base)
    assert worst <= BOUND, f"record buffer grew to {worst} bytes"


def test_empty_records_after_handshake_do_not_accumulate_and_endless_ones_end():
    # Runs of the most empty records allowed in a row, each ended by a byte of data: about
    # 2000 records, and nothing kept of them. A run one longer ends the connection
    # (OpenSSL's and BoringSSL's cap: 32).
    c, s = connected_pair()
    base = held(s)
    for _ in range(60):
        for _ in range(MAX_EMPTY_RECORDS):
            assert s.receive_data(forge_content(c, APPDATA, b"")) == []
        c.send_data(b"x")
        assert s.receive_data(c.data_to_send()) == [DataReceived(b"x")]
    assert held(s) <= base
    for _ in range(MAX_EMPTY_RECORDS):
        assert s.receive_data(forge_content(c, APPDATA, b"")) == []
    expect_alert(s, forge_content(c, APPDATA, b""), AD.unexpected_message, peer=c)
