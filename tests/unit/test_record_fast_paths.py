"""The one-record methods an established TLS 1.3 connection binds in place of its own
(`Sealer13.send_into`/`send_data`, `Opener13.receive_into`/`receive_data`) take shortcuts:
one comparison with `fast_until` stands for "bulk allowed" and the KeyUpdate or
sequence-number limit, a full record's header is a constant (written, and compared on the
way in), and one unpack checks any other incoming header. A direction installed from its
traffic secret derives its key and IV at its first record, whichever path that takes; the
record layer reads framing and plaintext records in one call. Each test here fails if one
of those shortcuts were wrong.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from tlskit import (
    AlertDescription,
    ClientConnection,
    DataReceived,
    KeyUpdated,
    ServerConnection,
    TLSError,
    UsageError,
)
from tlskit.crypto import SUITES
from tlskit.enums import CipherSuite
from tlskit.errors import UnexpectedMessage
from tlskit.keyschedule import key_and_iv
from tlskit.record import FORGED, MAX_PLAINTEXT, Opener13, RecordLayer, Sealer13

from ..hostile.helpers import replay_client, replay_server
from ..support.pki import client_config, server_config
from ..support.pump import pump
from ..support.records import split_records
from ..support.without_into import use_aeads_without_into


def established() -> tuple[Any, Any]:
    """An established TLS 1.3 pair (the same keys on every call)."""
    client, server = replay_client().conn, replay_server().conn
    pump(client, server)
    assert client.handshake_complete and server.handshake_complete
    server.data_to_send()
    return client, server


def test_a_lower_rekey_limit_set_while_bulk_is_on_holds_for_the_bound_methods() -> None:
    """`rekey_at` changed on an established connection moves `fast_until` too: the bound
    one-record methods send the KeyUpdate first (RFC 8446 5.5) instead of sealing on."""
    client, server = established()
    send_into, send = client.send_data_into, client.send_data
    wire = memoryview(bytearray(client.send_buffer_size(100)))
    plain = memoryview(bytearray(MAX_PLAINTEXT + 1))
    n = send_into(b"a" * 100, wire)
    assert server.receive_data_into(wire[:n], plain) == (100, [])
    records = client._records  # no public call sets the rekey limit
    sealer = records.sealer
    assert isinstance(sealer, Sealer13) and sealer.fast_until > sealer.seq
    records.rekey_after = sealer.seq  # due now
    assert sealer.fast_until == sealer.seq
    n = send_into(b"b" * 100, wire)
    kinds = [r[0] for r in split_records(bytes(wire[:n]))]
    assert len(kinds) == 2  # the KeyUpdate, then the data under the next key
    got, events = server.receive_data_into(wire[:n], plain)
    assert (got, events) == (0, [KeyUpdated(False)])
    assert server.receive_data_into(b"", plain) == (100, [])
    # The bytes API's bound method follows the new protector's limit as well.
    records.rekey_after = records.sealer.seq
    send(b"c" * 10)
    events = server.receive_data(client.data_to_send())
    assert events == [KeyUpdated(False), DataReceived(b"c" * 10)]


def test_bulk_off_stops_the_one_record_methods() -> None:
    """`fast_until` is 0 whenever `bulk` is off, whatever the limits say."""
    sealer = Sealer13.from_secret(replay_suite(), bytes(32))
    opener = Opener13.from_secret(replay_suite(), bytes(32))
    assert sealer.fast_until == opener.fast_until == 0
    sealer.bulk = opener.bulk = True
    assert sealer.fast_until == sealer.rekey_at and opener.fast_until == (1 << 64) - 1
    sealer.rekey_at = 7
    assert sealer.fast_until == 7
    sealer.bulk = opener.bulk = False
    sealer.rekey_at = 9
    assert sealer.fast_until == opener.fast_until == 0 and sealer.rekey_at == 9


def test_a_lowered_size_limit_disarms_the_one_record_methods() -> None:
    """`fast_until` is 0 while a direction's size limit is below the maximum (the
    one-record methods never read the limit: the general paths split records and check
    them against it) and comes back with the maximum, whichever was set last."""
    sealer = Sealer13.from_secret(replay_suite(), bytes(32))
    opener = Opener13.from_secret(replay_suite(), bytes(32))
    sealer.bulk = opener.bulk = True
    sealer.limit = opener.limit = 999
    assert sealer.fast_until == opener.fast_until == 0
    sealer.rekey_at = 7
    assert sealer.fast_until == 0
    sealer.limit = opener.limit = MAX_PLAINTEXT
    assert sealer.fast_until == 7 and opener.fast_until == (1 << 64) - 1


def test_the_bound_methods_keep_to_a_send_limit_lowered_while_established() -> None:
    """A send limit lowered on an established connection splits what the bound methods
    are given (RFC 8449 4), on both APIs (the receive side:
    `test_a_lowered_receive_limit_holds_for_full_and_other_records`)."""
    client, server = established()
    assert client.send_data_into.__func__ is Sealer13.send_into
    client._records.send_limit = 600
    wire = memoryview(bytearray(client.send_buffer_size(1000)))
    n = client.send_data_into(b"q" * 1000, wire)
    assert [len(r) for r in split_records(bytes(wire[:n]))] == [5 + 601 + 16, 5 + 401 + 16]
    client.send_data(b"q" * 1000)
    assert [len(r) for r in split_records(client.data_to_send())] == [5 + 601 + 16,
                                                                     5 + 401 + 16]
    out = memoryview(bytearray(MAX_PLAINTEXT + 1))
    assert server.receive_data_into(wire[:n], out) == (1000, [])


def replay_suite() -> Any:
    client, _ = established()
    return client.negotiated_suite


@pytest.mark.parametrize("size", [1, MAX_PLAINTEXT - 1, MAX_PLAINTEXT])
def test_send_into_writes_what_send_data_queues_at_and_below_a_full_record(size: int) -> None:
    """A full record's header is a precomputed constant; every size gives what the
    bytes API queues (twin clients: the same keys)."""
    fast, general = established()[0], established()[0]
    wire = memoryview(bytearray(fast.send_buffer_size(size)))
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    n = fast.send_data_into(payload, wire)
    general.send_data(payload)  # the bytes API, which packs each header itself
    assert bytes(wire[:n]) == general.data_to_send()
    assert struct.unpack(">BHH", wire[:5]) == (23, 0x0303, size + 17)


def _record(client: Any, payload: bytes) -> bytearray:
    client.send_data(payload)
    return bytearray(client.data_to_send())


@pytest.mark.parametrize("size", [7, MAX_PLAINTEXT])  # a full record: one comparison
@pytest.mark.parametrize(("offset", "value", "alert"), [
    (0, 22, AlertDescription.unexpected_message),  # a handshake record after encryption
    (0, 24, AlertDescription.unexpected_message),  # not a TLS content type
    (1, 2, AlertDescription.decode_error),         # not TLS's major version
    (2, 1, AlertDescription.bad_record_mac),       # another minor version: authenticated
])
def test_a_bad_header_byte_gets_the_general_paths_alert(offset: int, value: int,
                                                        alert: AlertDescription,
                                                        size: int) -> None:
    """The header checks let nothing through the general path would reject, through
    both bound receive methods (the minor version byte is only authenticated: it is in
    the additional data)."""
    for into in (False, True):
        client, server = established()
        record = _record(client, b"p" * size)
        record[offset] = value
        with pytest.raises(TLSError) as info:
            if into:  # room for content and type byte: a full record reaches the fast path
                server.receive_data_into(memoryview(bytes(record)),
                                         memoryview(bytearray(MAX_PLAINTEXT + 1)))
            else:
                server.receive_data(bytes(record))
        assert info.value.alert == alert


@pytest.mark.parametrize("delta", [-1, 1])
def test_a_header_length_that_is_not_the_records_goes_the_general_way(delta: int) -> None:
    """A header whose length is not what `data` holds is not one whole record: the bound
    methods hand it on (a short one waits for more bytes, a long one fails to open)."""
    for into in (False, True):
        client, server = established()
        record = _record(client, b"q" * 50)
        length = len(record) - 5 + delta
        record[3:5] = length.to_bytes(2, "big")
        data = bytes(record)
        if delta > 0:  # claims one byte more than sent: incomplete, nothing yet
            got = (server.receive_data_into(memoryview(data), memoryview(
                bytearray(MAX_PLAINTEXT))) if into else server.receive_data(data))
            assert got in ((0, []), [])
            continue
        with pytest.raises(TLSError) as info:
            if into:
                server.receive_data_into(memoryview(data), memoryview(bytearray(MAX_PLAINTEXT)))
            else:
                server.receive_data(data)
        assert info.value.alert == AlertDescription.bad_record_mac


# --- keys derived at the first record ----------------------------------------------------

SUITE = SUITES[CipherSuite.TLS_CHACHA20_POLY1305_SHA256]
SECRET = bytes(range(32))
PAYLOAD = b"first record" * 10


def eager_sealer() -> Sealer13:
    key, iv = key_and_iv(SUITE, SECRET)
    return Sealer13(SUITE, key, iv, SECRET)


def expected_record() -> bytes:
    sealer = eager_sealer()
    sealer.seal(23, PAYLOAD)
    return b"".join(sealer.out)


def lazy_sealer() -> Sealer13:
    sealer = Sealer13.from_secret(SUITE, SECRET)
    assert not hasattr(sealer, "iv")  # nothing derived yet
    sealer.bulk = True
    return sealer


def _seal(sealer: Sealer13) -> bytes:
    sealer.seal(23, PAYLOAD)
    return b"".join(sealer.out)


def _send_app(sealer: Sealer13) -> bytes:
    assert sealer.send_app(PAYLOAD)
    return b"".join(sealer.out)


def _send_data(sealer: Sealer13) -> bytes:
    sealer.send_data(PAYLOAD)  # the bound one-record method (bulk on)
    return b"".join(sealer.out)


def _send_into(sealer: Sealer13) -> bytes:
    out = memoryview(bytearray(len(PAYLOAD) + 100))
    return bytes(out[:sealer.send_into(PAYLOAD, out)])


def _seal_app_into(sealer: Sealer13) -> bytes:
    out = memoryview(bytearray(len(PAYLOAD) + 100))
    return bytes(out[:sealer.seal_app_into(PAYLOAD, out)])


@pytest.mark.parametrize("entry", [_seal, _send_app, _send_data, _send_into, _seal_app_into])
def test_a_sealer_from_a_secret_derives_its_keys_at_its_first_record(entry: Any) -> None:
    """Every sealing path of a fresh `from_secret` sealer gets the AEAD (and so the key
    and IV) before it builds a nonce: the record is the eagerly keyed sealer's."""
    assert entry(lazy_sealer()) == expected_record()


def lazy_opener() -> Opener13:
    opener = Opener13.from_secret(SUITE, SECRET)
    assert not hasattr(opener, "iv")
    opener.bulk = True
    return opener


def _open(opener: Opener13, record: bytes) -> bytes:
    opener.check(len(record) - 5)
    return bytes(opener.finish(23, opener.open(record[:5], record[5:]))[1])


def _open_into(opener: Opener13, record: bytes) -> bytes:
    target = memoryview(bytearray(len(record) - 5 - 16))
    return bytes(opener.finish(23, opener.open_into(record[:5], memoryview(record)[5:],
                                                    target))[1])


def _open_app(opener: Opener13, record: bytes) -> bytes:
    contents, used = opener.open_app(record)
    assert used == len(record)
    return b"".join(contents)


def _open_records_into(opener: Opener13, record: bytes) -> bytes:
    out = memoryview(bytearray(MAX_PLAINTEXT + 1))
    written, used = opener.open_records_into(record, out)
    assert used == len(record)
    return bytes(out[:written])


def _receive_data(opener: Opener13, record: bytes) -> bytes:
    (event,) = opener.receive_data(record)
    return bytes(event.data)


def _receive_into(opener: Opener13, record: bytes) -> bytes:
    out = memoryview(bytearray(MAX_PLAINTEXT + 1))
    written, events = opener.receive_into(record, out)
    assert events == []
    return bytes(out[:written])


@pytest.mark.parametrize("entry", [_open, _open_into, _open_app, _open_records_into,
                                   _receive_data, _receive_into])
def test_an_opener_from_a_secret_derives_its_keys_at_its_first_record(entry: Any) -> None:
    assert entry(lazy_opener(), expected_record()) == PAYLOAD


def test_sealing_stops_before_the_sequence_number_wraps() -> None:
    """`seal` checks the limit inline (5.3: a sequence number never wraps)."""
    sealer = eager_sealer()
    sealer.seq = (1 << 64) - 2
    sealer.seal(23, b"last")  # the last number there is
    with pytest.raises(UnexpectedMessage):
        sealer.seal(23, b"one too many")
    assert sealer.seq == (1 << 64) - 1 and len(sealer.out) == 2


@pytest.mark.parametrize("entry", [_receive_data, _receive_into])
def test_the_bound_receive_methods_leave_a_wrapping_sequence_number_to_the_check(
        entry: Any) -> None:
    """At the last sequence number the one-record methods decline (`fast_until`), so
    the general path's check refuses the record; here, with no connection behind them,
    declining is visible as the missing owner."""
    seq = (1 << 64) - 1
    key, iv = key_and_iv(SUITE, SECRET)
    nonce = (int.from_bytes(iv) ^ seq).to_bytes(12)
    header = struct.pack(">BHH", 23, 0x0303, len(PAYLOAD) + 17)
    record = header + SUITE.aead(key).encrypt(nonce, PAYLOAD + b"\x17", header)
    opener = lazy_opener()
    opener.seq = seq
    with pytest.raises(UsageError, match="not bound"):
        entry(opener, record)
    opener.seq = seq - 1  # one before: the same record fails its tag, and declines too
    with pytest.raises(UsageError, match="not bound"):
        entry(opener, record)


@pytest.mark.parametrize("size", [1000, MAX_PLAINTEXT])
def test_a_lowered_receive_limit_holds_for_full_and_other_records(size: int) -> None:
    """Whichever way the header was checked, the content limit applies (RFC 8449)."""
    for into in (False, True):
        client, server = established()
        server._records.receive_limit = 999
        record = bytes(_record(client, b"r" * size))
        with pytest.raises(TLSError) as info:
            if into:
                server.receive_data_into(memoryview(record),
                                         memoryview(bytearray(MAX_PLAINTEXT + 1)))
            else:
                server.receive_data(record)
        assert info.value.alert == AlertDescription.record_overflow


def test_keys_installed_from_secrets_are_derived_when_the_first_record_needs_them() -> None:
    """The record layer's installs defer the derivation too, and give the same record."""
    layer = RecordLayer()
    layer.install_write(SUITE, SECRET)
    layer.install_read(SUITE, SECRET)
    assert not hasattr(layer.sealer, "iv") and not hasattr(layer.opener, "iv")
    layer.write(22, b"a handshake message")
    wire = layer.take_output()
    reference = eager_sealer()
    reference.seal(22, b"a handshake message")
    assert wire == b"".join(reference.out)
    layer.feed(wire)
    assert layer.next_record() == (22, b"a handshake message")


# --- the multi-record paths: full-record header constant, nonce built inline ---------------

RUN = bytes(range(251)) * 170  # two full records and a partial one (42,670 bytes)
RUN_SEQ = 0x0102030405  # a sequence number that reaches beyond the IV's last bytes


def reference_records() -> list[bytes]:
    """`RUN` sealed record by record through `seal` (the general path, `nonce`)."""
    sealer = eager_sealer()
    sealer.seq = RUN_SEQ
    records = []  # (`seal` leaves the KeyUpdate limit to its caller)
    for start in range(0, len(RUN), MAX_PLAINTEXT):
        sealer.seal(23, RUN[start:start + MAX_PLAINTEXT])
        records.append(b"".join(sealer.out))
        sealer.out.clear()
    return records


def test_seal_app_into_writes_the_records_seal_queues() -> None:
    """Full records get the constant header and every record the nonce of its own
    sequence number: byte for byte what `seal` gives, one record at a time."""
    records = reference_records()
    assert [len(r) for r in records] == [5 + MAX_PLAINTEXT + 17] * 2 + [5 + 9902 + 17]
    sealer = lazy_sealer()
    sealer.seq = RUN_SEQ
    sealer.rekey_at = RUN_SEQ + 3  # the last record may go under this key
    out = memoryview(bytearray(len(RUN) + 200))
    written = sealer.seal_app_into(RUN, out)
    assert written == sum(map(len, records))
    assert bytes(out[:written]) == b"".join(records)
    assert sealer.seq == RUN_SEQ + 3


def test_the_multi_record_openers_open_what_seal_queues() -> None:
    """`open_app` and `open_records_into` build each record's nonce inline from its
    sequence number: the records `seal` made open to the content, in order, and a
    record from one sequence number later fails its tag (the path stops there)."""
    wire = b"".join(reference_records())
    opener = lazy_opener()
    opener.seq = RUN_SEQ
    contents, used = opener.open_app(wire)
    assert (b"".join(contents), used, opener.seq) == (RUN, len(wire), RUN_SEQ + 3)
    opener = lazy_opener()
    opener.seq = RUN_SEQ
    out = memoryview(bytearray(len(RUN) + 3))
    assert opener.open_records_into(wire, out) == (len(RUN), len(wire))
    assert bytes(out[:len(RUN)]) == RUN and opener.seq == RUN_SEQ + 3
    first = len(reference_records()[0])
    skewed = lazy_opener()
    skewed.seq = RUN_SEQ + 1  # off by one: nothing opens, nothing counts; the first
    # record is consumed as failed (`FORGED`), for the general path to report
    assert skewed.open_app(wire) == ([], first) and skewed.seq == RUN_SEQ + 1
    assert skewed.opened == FORGED
    skewed = lazy_opener()
    skewed.seq = RUN_SEQ + 1
    out = memoryview(bytearray(len(RUN) + 3))
    assert skewed.open_records_into(wire, out) == (0, first) and skewed.seq == RUN_SEQ + 1
    assert not any(out) and skewed.opened == FORGED  # the failed tag left nothing behind


def test_the_bound_send_into_refuses_views_it_cannot_write_bytes_to() -> None:
    """`send_into` lets the header write check the buffer (no attribute loads): a
    read-only view and views of wider items, roomy enough to pass the size check, are
    refused with the general path's UsageError; nothing is written, queued or counted
    (a sequence number spent on a refused call would make the next record fail to open)."""
    client, server = established()
    assert client.send_data_into.__func__ is Sealer13.send_into  # the bound fast path
    size = 4 * client.send_buffer_size(100)
    for bad in (memoryview(bytearray(size)).toreadonly(),
                memoryview(bytearray(size)).cast("H"), memoryview(bytearray(size)).cast("I")):
        with pytest.raises(UsageError, match="writable byte buffer"):
            client.send_data_into(b"x" * 100, bad)
        assert not any(bad.cast("B")) and client.data_to_send() == b""
    good = memoryview(bytearray(client.send_buffer_size(100)))
    written = client.send_data_into(b"x" * 100, good)
    assert server.receive_data(bytes(good[:written])) == [DataReceived(b"x" * 100)]


@pytest.mark.parametrize("into_methods", [True, False])
@pytest.mark.parametrize("size", [100, MAX_PLAINTEXT])
def test_the_bound_receive_into_refuses_views_it_cannot_decrypt_into(
        size: int, into_methods: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """`receive_into` lets the AEAD check the buffer (no attribute loads): a read-only
    view, a view of wider items and one of signed bytes, roomy enough for the record
    (full or not), are refused with the general path's UsageError, a record failing its
    tag too (the check comes first, also in the stand-in for `cryptography` without
    `decrypt_into`): nothing is written, nothing consumed and the connection goes on (a
    sequence number spent on a refused call would make the record fail to open, a held
    forgery would end the connection)."""
    if not into_methods:
        use_aeads_without_into(monkeypatch)
    client, server = established()
    assert server.receive_data_into.__func__ is Opener13.receive_into  # the bound fast path
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    wire = memoryview(bytearray(client.send_buffer_size(size)))
    n = client.send_data_into(payload, wire)
    forged = bytearray(wire[:n])
    forged[-1] ^= 1
    room = 4 * (MAX_PLAINTEXT + 1)
    for bad in (memoryview(bytearray(room)).toreadonly(),
                memoryview(bytearray(room)).cast("I"), memoryview(bytearray(room)).cast("b")):
        for data in (memoryview(forged), wire[:n]):
            with pytest.raises(UsageError, match="writable byte buffer"):
                server.receive_data_into(data, bad)
            assert not any(bad.cast("B"))
    out = memoryview(bytearray(MAX_PLAINTEXT + 1))
    assert server.receive_data_into(wire[:n], out) == (size, [])
    assert bytes(out[:size]) == payload
    assert server.receive_data_into.__func__ is Opener13.receive_into


@pytest.mark.parametrize("size", [100, MAX_PLAINTEXT])
def test_a_header_as_received_is_the_additional_data_even_when_it_is_not_the_constant(
        size: int) -> None:
    """`receive_into` authenticates a full record with the constant header only when the
    header is that constant: a peer's record under another minor version byte (valid, its
    tag over that header) opens to its data, full or not, and leaves the path bound."""
    client, server = established()
    sealer = client._records.sealer
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    header = struct.pack(">BHH", 23, 0x0301, size + 17)
    record = header + sealer.aead.encrypt(sealer.nonce(sealer.seq), payload + b"\x17", header)
    sealer.seq += 1
    out = memoryview(bytearray(MAX_PLAINTEXT + 1))
    assert server.receive_data_into(memoryview(record), out) == (size, [])
    assert bytes(out[:size]) == payload
    assert server.receive_data_into.__func__ is Opener13.receive_into
    wire = memoryview(bytearray(client.send_buffer_size(size)))
    n = client.send_data_into(payload, wire)  # the constant header again: the bound path
    assert server.receive_data_into(wire[:n], out) == (size, []) and bytes(out[:size]) == payload


@pytest.mark.parametrize(("room", "bound"), [
    (MAX_PLAINTEXT + 1, True),    # exactly content and type byte: decrypted into, unsliced
    (MAX_PLAINTEXT + 100, True),  # larger: into its front
    (MAX_PLAINTEXT, False),       # no room for the type byte: the general path copies
])
def test_a_full_record_opens_on_the_bound_path_into_any_buffer_that_holds_it(
        room: int, bound: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """`receive_into` takes a full record itself (the constants' branch) whenever the
    buffer holds its content and type byte, whether the view is that size or larger, and
    hands it on otherwise; the data and what is left in the buffer are the same."""
    client, server = established()
    handed: list[int] = []
    general = type(server).receive_data_into

    def counting(conn: Any, data: Any, buffer: Any) -> Any:
        handed.append(len(data))
        return general(conn, data, buffer)

    monkeypatch.setattr(type(server), "receive_data_into", counting)
    payload = bytes(range(256)) * (MAX_PLAINTEXT // 256)
    wire = memoryview(bytearray(client.send_buffer_size(MAX_PLAINTEXT)))
    out = memoryview(bytearray(room))
    for _ in range(2):
        n = client.send_data_into(payload, wire)
        assert server.receive_data_into(wire[:n], out) == (MAX_PLAINTEXT, [])
        assert bytes(out[:MAX_PLAINTEXT]) == payload
        assert not any(out[MAX_PLAINTEXT + 1:])
    assert handed == ([] if bound else [n, n])
    assert server.receive_data_into.__func__ is Opener13.receive_into


@pytest.mark.parametrize("extra", [b"\x17\x03\x03", bytes(50)])
def test_receive_record_into_declines_more_than_one_record_and_consumes_nothing(
        extra: bytes) -> None:
    """`receive_record_into` takes exactly one record: given one record and more, it
    answers -1 without opening the first (a spent sequence number would make the same
    bytes fail as bad_record_mac on the general path the caller then uses)."""
    client, server = established()
    client.send_data(b"one record")
    wire = client.data_to_send()
    out = memoryview(bytearray(MAX_PLAINTEXT + 1))
    assert server.receive_record_into(wire + extra, out) == -1
    assert server.receive_record_into(wire, out) == len(b"one record")
    assert bytes(out[:10]) == b"one record"


@pytest.mark.parametrize("kind", ["signed", "ctypes"])
def test_the_general_receive_into_refuses_buffers_it_cannot_decrypt_into(kind: str) -> None:
    """TLS 1.2 (no bound path): a buffer of signed bytes or of ctypes chars, which
    `cryptography` will not decrypt into, is the same UsageError as on the bound path,
    before anything is read; it used to end the connection as an internal error at the
    first record. The connection goes on with a byte buffer."""
    import array
    import ctypes

    client = ClientConnection(client_config(versions=["TLSv1.2"]), "localhost")
    server = ServerConnection(server_config(versions=["TLSv1.2"]))
    pump(client, server)
    client.send_data(b"twelve")
    data = client.data_to_send()
    room = MAX_PLAINTEXT + 100
    bad = (memoryview(array.array("b", bytes(room))) if kind == "signed"
           else memoryview(ctypes.create_string_buffer(room)))
    with pytest.raises(UsageError, match="writable byte buffer"):
        server.receive_data_into(data, bad)
    out = memoryview(bytearray(room))
    assert server.receive_data_into(data, out) == (6, [])
    assert bytes(out[:6]) == b"twelve"
