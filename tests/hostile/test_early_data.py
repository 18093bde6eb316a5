"""Declined 0-RTT (RFC 8446 4.2.10): what the server skips, and what it must not."""

from __future__ import annotations

from tlskit import SessionTicketReceived
from tlskit.enums import ExtensionType as E
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m

from ..support.mitm import client_endpoint, server_endpoint
from ..support.pki import client_config, server_config
from ..support.pump import pump
from ..support.records import APPDATA, HS, record, seal, split_records
from .helpers import (
    AD,
    clean,
    edit,
    expect_alert,
    forge_content,
    hook_sends,
    make_client,
    make_server,
    no_internal_error,
    on_type,
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


# --- accepted 0-RTT (RFC 8446 4.2.10, 4.5): what a hostile client or server may send ---------

def session_with_early_data(limit: int = 64, client_kw=None, **server_kw):
    scfg = server_config(max_early_data_size=limit, **server_kw)
    events = pump(client_endpoint(client_config(**(client_kw or {})), "localhost"),
                  server_endpoint(scfg))
    return scfg, next(e.session for e in events if isinstance(e, SessionTicketReceived))


def zero_rtt_start(limit: int = 64, early: bytes = b"hello", **server_kw):
    """A server that accepted 0-RTT and still reads under the early key, and the client
    whose write key is that key (so `forge` adds records to its early data)."""
    scfg, session = session_with_early_data(limit, **server_kw)
    c = client_endpoint(client_config(), "localhost", session=session, early_data=early)
    s = make_server(scfg)
    events = s.receive_data(c.data_to_send())
    assert [type(e).__name__ for e in events] == ["EarlyDataReceived"]
    s.data_to_send()  # its flight
    return c, s


def test_early_data_beyond_max_early_data_size_is_unexpected_message():
    c, s = zero_rtt_start(limit=64, early=bytes(60))
    assert len(s.receive_data(forge_content(c, APPDATA, bytes(4)))) == 1  # exactly 64
    expect_alert(s, forge_content(c, APPDATA, b"x"), AD.unexpected_message)


def test_end_of_early_data_with_a_body_is_decode_error():
    c, s = zero_rtt_start()
    expect_alert(s, forge_content(c, HS, b"\x05\x00\x00\x01\x00"), AD.decode_error)


def test_finished_before_end_of_early_data_is_unexpected_message():
    c, s = zero_rtt_start()
    expect_alert(s, forge_content(c, HS, b"\x14\x00\x00\x20" + bytes(32)),
                 AD.unexpected_message)


def test_end_of_early_data_split_across_the_key_change_is_unexpected_message():
    """5.1: EndOfEarlyData and the next handshake message may not share a record
    across the key change (the rest must come under the handshake key)."""
    c, s = zero_rtt_start()
    expect_alert(s, forge_content(c, HS, b"\x05\x00\x00\x00\x14\x00"), AD.unexpected_message)


def test_end_of_early_data_when_0rtt_was_declined_is_unexpected_message():
    logged = {}
    scfg = server_config(keylog=lambda label, cr, secret: logged.setdefault(label, secret))
    c = make_client()
    s = make_server(scfg)
    s.receive_data(c.data_to_send())
    s.data_to_send()
    rec = seal(logged["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], 0, b"\x05\x00\x00\x00\x16")
    expect_alert(s, rec, AD.unexpected_message)


def test_nonempty_early_data_in_client_hello_is_decode_error():
    nonempty = edit(m.ClientHello, lambda ch: ch.extensions.__setitem__(E.early_data, b"\x00"))
    c = make_client(hook=on_type(m.HandshakeType.client_hello, nonempty, once=True))
    expect_alert(make_server(), c.data_to_send(), AD.decode_error)


def _ee_hook(change):
    return on_type(m.HandshakeType.encrypted_extensions,
                   edit(m.EncryptedExtensions, lambda ee: change(ee.extensions)))


def _client_facing(hook, session_server_kw=None, server_kw=None, client_kw=None):
    """A client offering 0-RTT on a session, and the flight of a server whose
    EncryptedExtensions pass through `hook`."""
    scfg, session = session_with_early_data(**(session_server_kw or {}))
    c = client_endpoint(client_config(**(client_kw or {})), "localhost", session=session,
                         early_data=b"hello")
    s = server_endpoint(server_config(**(server_kw or {})) if server_kw else scfg)
    hook_sends(s, hook)
    s.receive_data(c.data_to_send())
    return c, s.data_to_send()


def test_early_data_accepted_with_a_body_is_decode_error():
    c, flight = _client_facing(_ee_hook(lambda e: e.__setitem__(E.early_data, b"\x00")))
    expect_alert(c, flight, AD.decode_error)


def test_early_data_accepted_without_the_psk_is_illegal_parameter():
    """The server did not resume (another ticket key), yet says it took the early data."""
    c, flight = _client_facing(_ee_hook(lambda e: e.__setitem__(E.early_data, b"")),
                               server_kw={"max_early_data_size": 64})
    expect_alert(c, flight, AD.illegal_parameter)


def test_early_data_accepted_under_another_alpn_is_illegal_parameter():
    def other_alpn(e):
        e[E.application_layer_protocol_negotiation] = ext.encode_alpn(["http/1.1"])
    c, flight = _client_facing(
        _ee_hook(other_alpn),
        session_server_kw={"alpn_protocols": ["h2", "http/1.1"],
                           "client_kw": {"alpn_protocols": ["h2"]}},
        client_kw={"alpn_protocols": ["h2", "http/1.1"]})
    expect_alert(c, flight, AD.illegal_parameter)


def test_ticket_with_a_malformed_early_data_limit_is_decode_error():
    bad = edit(m.NewSessionTicket,
               lambda nst: nst.extensions.__setitem__(E.early_data, b"\x00\x10"))
    c = make_client()
    s = make_server(server_config(max_early_data_size=64))
    hook_sends(s, on_type(m.HandshakeType.new_session_ticket, bad))
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    expect_alert(c, lambda: pump(c, s), AD.decode_error)


def test_application_data_after_end_of_early_data_is_unexpected_message():
    """Early data ends with EndOfEarlyData: application data under the handshake key
    before the client's Finished is not early data any more."""
    logged = {}
    c, s = zero_rtt_start(keylog=lambda label, cr, secret: logged.__setitem__(label, secret))
    assert s.receive_data(forge_content(c, HS, b"\x05\x00\x00\x00")) == []
    rec = seal(logged["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], 0, b"late\x17")
    expect_alert(s, rec, AD.unexpected_message)


def test_tls12_server_hello_after_0rtt_data_is_protocol_version():
    """4.2.10: a client that sent early data must not fall back to TLS 1.2."""
    _, session = session_with_early_data()
    c = client_endpoint(client_config(), "localhost", session=session, early_data=b"hello")
    hello = split_records(c.data_to_send())[0]
    s12 = make_server(server_config(versions=["TLSv1.2"]))
    s12.receive_data(hello)
    expect_alert(c, s12.data_to_send(), AD.protocol_version)


def test_record_size_limit_holds_accepted_early_data_only_after_end_of_early_data():
    """RFC 8449 4: records keep to the limit set in the handshake that keys them. The
    client's 0-RTT records precede the server's record_size_limit (EncryptedExtensions),
    so a 600-byte early record under a 512 limit is data; from EndOfEarlyData on, a
    handshake record over 512 is record_overflow (as max_fragment_length, RFC 6066 4)."""
    logged = {}
    c, s = zero_rtt_start(limit=4096, record_size_limit=512,
                          keylog=lambda label, cr, secret: logged.__setitem__(label, secret))
    assert [e.data for e in s.receive_data(forge_content(c, APPDATA, b"e" * 600))] \
        == [b"e" * 600]
    assert s.receive_data(forge_content(c, HS, b"\x05\x00\x00\x00")) == []
    fin = b"\x14\x00\x00\x20" + bytes(32)
    inner = fin + b"\x16" + bytes(513 - 37)  # TLSInnerPlaintext of 513 bytes, padded
    rec = seal(logged["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], 0, inner)
    expect_alert(s, rec, AD.record_overflow)
