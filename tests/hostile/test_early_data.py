"""Declined 0-RTT (RFC 8446 4.2.10): what the server skips, and what it must not."""

from __future__ import annotations

from tlskit.enums import ExtensionType as E
from tlskit.wire import messages as m

from .helpers import (
    AD,
    APPDATA,
    clean,
    client_config,
    expect_alert,
    make_client,
    make_server,
    no_internal_error,
    on_type,
    record,
    server_config,
    split_records,
)

SKIP_LIMIT = 1 << 16


def with_early_data(raw: bytes) -> bytes:
    ch = m.ClientHello.decode(memoryview(raw)[4:])
    exts = m.Extensions({k: v for k, v in ch.extensions.items() if k != E.pre_shared_key})
    exts[E.early_data] = b""
    ch.extensions = exts
    return ch.encode()


def pair_offering_early_data(**client_kw):
    """A client whose first ClientHello carries early_data (its transcript agrees)."""
    c = make_client(client_config(**client_kw),
                    hook=on_type(m.HandshakeType.client_hello, with_early_data, once=True))
    s = make_server(server_config())
    return c, s


def garbage_records(n: int, size: int) -> bytes:
    return record(APPDATA, bytes(size)) * n


def test_declined_early_data_is_skipped_then_handshake_completes():
    c, s = pair_offering_early_data()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    fin = c.data_to_send()
    events = s.receive_data(garbage_records(3, 100) + fin)
    assert [type(e).__name__ for e in events] == ["HandshakeComplete"]


def test_early_data_beyond_the_skip_limit_is_bad_record_mac():
    c, s = pair_offering_early_data()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    s_out = s.data_to_send()
    assert s_out == b""
    big = garbage_records(1, 1 << 14)
    with no_internal_error():
        for _ in range(SKIP_LIMIT // (1 << 14) - 1):
            assert s.receive_data(big) == []
    expect_alert(s, big + big, AD.bad_record_mac)


def test_many_small_declined_early_data_records_are_skipped():
    c, s = pair_offering_early_data()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    fin = c.data_to_send()
    data = garbage_records(2000, 17) + fin   # 44 KB < the 64 KB budget
    events = clean(lambda: s.receive_data(data))
    assert [type(e).__name__ for e in events] == ["HandshakeComplete"]


def test_stream_of_empty_application_data_before_hello_is_unexpected_message():
    s = make_server(server_config())
    expect_alert(s, record(APPDATA, b"") * 3000, AD.unexpected_message)


def test_early_data_after_hello_retry_request_is_skipped():
    c, s = pair_offering_early_data(groups=["x25519", "secp256r1"])
    s2 = make_server(server_config(groups=["secp256r1"]))
    del s
    s2.receive_data(c.data_to_send())
    hrr = s2.data_to_send()
    assert m.HRR_RANDOM in hrr
    # 0-RTT records sent after the first hello: skipped while no keys are in place.
    assert s2.receive_data(garbage_records(3, 50)) == []
    c.receive_data(hrr)
    s2.receive_data(c.data_to_send())
    c.receive_data(s2.data_to_send())
    events = s2.receive_data(c.data_to_send())
    assert [type(e).__name__ for e in events] == ["HandshakeComplete"]


def test_without_early_data_offer_nothing_is_skipped():
    c = make_client()
    s = make_server()
    s.receive_data(c.data_to_send())
    s.data_to_send()
    expect_alert(s, garbage_records(1, 40), AD.bad_record_mac)


def test_second_hello_with_early_data_is_illegal_parameter():
    count = [0]

    def both(raw):
        if raw[0] == 1:
            count[0] += 1
            return with_early_data(raw)
        return raw
    c = make_client(client_config(groups=["x25519", "secp256r1"]), hook=both)
    s = make_server(server_config(groups=["secp256r1"]))
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    data = c.data_to_send()
    assert count[0] == 2
    assert any(r[0] == 22 for r in split_records(data))
    expect_alert(s, data, AD.illegal_parameter)
