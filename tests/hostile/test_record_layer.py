"""Hostile input at the record layer (RFC 8446 section 5), each with its exact alert."""

from __future__ import annotations

import pytest

from tlskit import ConnectionClosed, DataReceived, TLSError

from ..support.mitm import KEYS
from ..support.pki import client_config, server_config
from ..support.records import (
    ALERT,
    APPDATA,
    CCS,
    HS,
    Keys,
    hello_random,
    plain_alert,
    record,
    seal,
    split_records,
)
from .helpers import (
    AD,
    assert_peer_alert,
    connected_pair,
    expect_alert,
    forge,
    forge_content,
    held,
    make_client,
    make_server,
    recorded_flights,
    replay_client,
    replay_server,
)

MAX = 1 << 14

C_HS = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
S_HS = "SERVER_HANDSHAKE_TRAFFIC_SECRET"


def client_after_server_hello():
    """A client holding the server's handshake read key (ServerHello and CCS fed)."""
    f = recorded_flights()
    c = replay_client()
    c.data_to_send()
    sh, ccs, _flight = f.server_records()
    assert c.receive_data(sh + ccs) == []
    assert c.version == "TLSv1.3"   # it read the ServerHello and derived (and logged) S_HS:
    assert KEYS.secrets(hello_random(f.client_hello), S_HS)[0] == f.secrets[S_HS]
    c.data_to_send()   # whatever the client queued on switching keys (a compat CCS)
    return c


def server_after_client_hello():
    """A server that answered the ClientHello and reads with the client handshake key."""
    f = recorded_flights()
    s = replay_server()
    s.receive_data(f.client_hello)
    # its flight, byte for byte, is the recorded one: protected under the logged S_HS
    assert s.data_to_send() == f.server_flight
    assert KEYS.secrets(hello_random(f.client_hello), C_HS)[0] == f.secrets[C_HS]
    return s


def s_hs(inner: bytes, seq: int = 0, **kw) -> bytes:
    return seal(recorded_flights().secrets[S_HS], seq, inner, **kw)


def c_hs(inner: bytes, seq: int = 0, **kw) -> bytes:
    return seal(recorded_flights().secrets[C_HS], seq, inner, **kw)


# --- framing -----------------------------------------------------------------------------

def test_truncated_client_hello_waits_at_every_length():
    ch = recorded_flights().client_hello
    base = held(replay_server())
    for n in range(len(ch)):
        s = replay_server()
        assert s.receive_data(ch[:n]) == []
        assert s.data_to_send() == b""
        assert held(s) - base <= n
        assert s.receive_data(ch[n:]) == []
        assert s.data_to_send().startswith(b"\x16\x03\x03")


def test_truncated_protected_records_wait_then_complete():
    f = recorded_flights()
    data = f.server_flight
    for n in range(0, len(data), 37):
        c = replay_client()
        c.data_to_send()
        events = c.receive_data(data[:n])
        assert events == []
        out = c.data_to_send()        # at most the compatibility CCS so far
        assert f.client_finished.startswith(out) and len(out) < len(f.client_finished)
        events = c.receive_data(data[n:])
        assert [type(e).__name__ for e in events] == ["HandshakeComplete"]
        assert out + c.data_to_send() == f.client_finished


@pytest.mark.parametrize("length", [MAX + 1, MAX + 256, 0xFFFF])
def test_plaintext_record_over_2_14_is_record_overflow(length):
    # The header alone is enough to refuse: nothing of the body is buffered.
    s = replay_server()
    expect_alert(s, record(HS, b"")[:3] + length.to_bytes(2, "big"), AD.record_overflow)


def test_plaintext_record_of_exactly_2_14_is_accepted_by_the_framing():
    s = replay_server()
    assert s.receive_data(b"\x16\x03\x01" + MAX.to_bytes(2, "big") + b"\x01") == []


@pytest.mark.parametrize("length", [MAX + 257, 0xFFFF])
def test_protected_record_over_2_14_plus_256_is_record_overflow(length):
    c = client_after_server_hello()
    expect_alert(c, b"\x17\x03\x03" + length.to_bytes(2, "big"), AD.record_overflow)


def test_protected_record_of_2_14_plus_256_is_only_a_mac_failure():
    c = client_after_server_hello()
    expect_alert(c, b"\x17\x03\x03" + (MAX + 256).to_bytes(2, "big") + bytes(MAX + 256),
                 AD.bad_record_mac)


@pytest.mark.parametrize("header", ["160403", "160003", "16ff03", "170203"])
def test_record_version_major_not_3_is_decode_error(header):
    s = replay_server()
    expect_alert(s, bytes.fromhex(header) + b"\x00\x05hello", AD.decode_error)


@pytest.mark.parametrize("version", [0x0300, 0x0301, 0x0302, 0x0303, 0x03FF])
def test_legacy_record_version_minor_is_ignored(version):
    s = replay_server()
    ch = recorded_flights().client_hello
    assert s.receive_data(record(HS, ch[5:], version)) == []
    assert s.data_to_send()


@pytest.mark.parametrize("ctype", [0, 19, 24, 25, 0x80, 0xFF])
def test_unknown_record_type_is_unexpected_message(ctype):
    expect_alert(replay_server(), record(ctype, b"\x01"), AD.unexpected_message)
    expect_alert(client_after_server_hello(), record(ctype, bytes(40)), AD.unexpected_message)


@pytest.mark.parametrize("ctype", [0, 19, 24, 0xFF])
def test_unknown_inner_content_type_is_unexpected_message(ctype):
    c = client_after_server_hello()
    expect_alert(c, s_hs(b"data" + bytes((ctype,))), AD.unexpected_message)


# --- protection ---------------------------------------------------------------------------

def test_every_flipped_byte_of_a_protected_record_is_bad_record_mac():
    f = recorded_flights()
    ccs, fin = f.client_records()
    positions = [2, *range(5, len(fin))]   # version minor (authenticated), body, tag
    for pos in positions:
        s = server_after_client_hello()
        bad = bytearray(fin)
        bad[pos] ^= 0x01
        expect_alert(s, ccs + bytes(bad), AD.bad_record_mac)


def test_flipped_bytes_in_the_server_flight_are_bad_record_mac():
    f = recorded_flights()
    _sh, _ccs, flight = f.server_records()
    for pos in [2, 5, 6, 100, len(flight) // 2, len(flight) - 17, len(flight) - 1]:
        c = client_after_server_hello()
        bad = bytearray(flight)
        bad[pos] ^= 0x80
        expect_alert(c, bytes(bad), AD.bad_record_mac)


def test_replayed_protected_record_is_bad_record_mac():
    # The sequence number is part of the nonce: the same record twice cannot open twice.
    c, s = connected_pair()
    c.send_data(b"once")
    rec = c.data_to_send()
    assert s.receive_data(rec) == [DataReceived(b"once")]
    expect_alert(s, rec, AD.bad_record_mac, peer=c)


def test_record_too_short_for_a_tag_is_bad_record_mac():
    c = client_after_server_hello()
    expect_alert(c, record(APPDATA, bytes(16)), AD.bad_record_mac)


def test_record_under_the_wrong_key_is_bad_record_mac():
    c = client_after_server_hello()
    expect_alert(c, c_hs(b"\x08\x00\x00\x02\x00\x00\x16"), AD.bad_record_mac)


@pytest.mark.parametrize("zeros", [1, 2, 100])
def test_inner_plaintext_of_only_zeros_is_unexpected_message(zeros):
    c, s = connected_pair()
    expect_alert(c, forge(s, bytes(zeros)), AD.unexpected_message, peer=s)


def test_inner_plaintext_of_2_14_content_is_accepted():
    c, s = connected_pair()
    assert c.receive_data(forge_content(s, APPDATA, bytes(MAX))) == [DataReceived(bytes(MAX))]


def test_inner_content_over_2_14_is_record_overflow():
    c, s = connected_pair()
    expect_alert(c, forge_content(s, APPDATA, bytes(MAX + 1)), AD.record_overflow, peer=s)


def test_padding_up_to_2_14_plus_1_is_accepted():
    c, s = connected_pair()
    inner = forge_content(s, APPDATA, b"x" * 100, padding=MAX - 100)
    assert c.receive_data(inner) == [DataReceived(b"x" * 100)]


def test_padded_inner_plaintext_over_2_14_plus_1_is_record_overflow():
    # 5.4: "the full encoded TLSInnerPlaintext MUST NOT exceed 2^14 + 1 octets".
    c, s = connected_pair()
    expect_alert(c, forge_content(s, APPDATA, b"x" * 100, padding=MAX - 100 + 1),
                 AD.record_overflow, peer=s)


def test_padded_record_over_record_size_limit_is_record_overflow():
    c, s = connected_pair(client_kw={"record_size_limit": 1000},
                          server_kw={"record_size_limit": 1000})
    assert s.max_fragment == 999
    # Content 500, type, 500 bytes of padding: 1001 > 1000.
    expect_alert(c, forge_content(s, APPDATA, b"y" * 500, padding=500),
                 AD.record_overflow, peer=s)


def test_content_over_record_size_limit_is_record_overflow():
    c, s = connected_pair(client_kw={"record_size_limit": 1000},
                          server_kw={"record_size_limit": 1000})
    assert c.receive_data(forge_content(s, APPDATA, bytes(999))) == [DataReceived(bytes(999))]
    expect_alert(c, forge_content(s, APPDATA, bytes(1000)), AD.record_overflow, peer=s)


# --- content types in the wrong state --------------------------------------------------

def test_application_data_before_client_hello_is_unexpected_message():
    expect_alert(replay_server(), record(APPDATA, b"GET / HTTP/1.1\r\n"),
                 AD.unexpected_message)


def test_empty_application_data_before_keys_is_unexpected_message():
    expect_alert(replay_server(), record(APPDATA, b""), AD.unexpected_message)


def test_application_data_under_handshake_keys_is_unexpected_message():
    c = client_after_server_hello()
    expect_alert(c, s_hs(b"early!" + bytes((APPDATA,))), AD.unexpected_message)
    s = server_after_client_hello()
    expect_alert(s, c_hs(b"early!" + bytes((APPDATA,))), AD.unexpected_message)


def test_application_data_before_client_finished_is_unexpected_message():
    # Protected with the client's handshake key, ahead of its Finished.
    f = recorded_flights()
    ccs, fin = f.client_records()
    s = server_after_client_hello()
    expect_alert(s, ccs + c_hs(b"data" + bytes((APPDATA,))) + fin, AD.unexpected_message)


def test_plaintext_handshake_record_after_keys_is_unexpected_message():
    f = recorded_flights()
    c = client_after_server_hello()
    expect_alert(c, record(HS, f.messages["encrypted_extensions"]), AD.unexpected_message)
    s = server_after_client_hello()
    expect_alert(s, f.client_hello, AD.unexpected_message)


def test_plaintext_application_data_after_handshake_is_unexpected_message():
    # A plaintext record with the application_data type is parsed as protected.
    c, s = connected_pair()
    expect_alert(c, record(APPDATA, b"\x00" * 40), AD.bad_record_mac, peer=s)


# --- zero-length records ------------------------------------------------------------------

@pytest.mark.parametrize("ctype", [HS, ALERT])
def test_empty_plaintext_handshake_or_alert_record_is_decode_error(ctype):
    # RFC 8446 5.1 forbids sending these but names no alert; tlskit says decode_error.
    expect_alert(replay_server(), record(ctype, b""), AD.decode_error)


@pytest.mark.parametrize("ctype", [HS, ALERT])
def test_empty_protected_handshake_or_alert_is_unexpected_message(ctype):
    # RFC 8446 5.4: zero-length Handshake/Alert TLSInnerPlaintext.content ->
    # unexpected_message (padding does not change that).
    c = client_after_server_hello()
    expect_alert(c, s_hs(bytes((ctype,))), AD.unexpected_message)
    c = client_after_server_hello()
    expect_alert(c, s_hs(bytes((ctype,)) + bytes(20)), AD.unexpected_message)


def test_empty_protected_application_data_is_allowed():
    c, s = connected_pair()
    for _ in range(3):
        assert c.receive_data(forge_content(s, APPDATA, b"")) == []
        assert c.receive_data(forge_content(s, APPDATA, b"", padding=50)) == []
    s.send_data(b"still fine")
    assert c.receive_data(s.data_to_send()) == [DataReceived(b"still fine")]


# --- change_cipher_spec (RFC 8446 5, D.4) ---------------------------------------------

def test_compat_ccs_is_dropped():
    f = recorded_flights()
    c = client_after_server_hello()   # the server's CCS was already accepted there
    _sh, _ccs, flight = f.server_records()
    assert [type(e).__name__ for e in c.receive_data(flight)] == ["HandshakeComplete"]


@pytest.mark.parametrize("body", [b"\x00", b"\x02", b"\xff", b"\x01\x01", b"\x01\x00"])
def test_ccs_with_body_other_than_01_is_unexpected_message(body):
    f = recorded_flights()
    s = replay_server()
    s.receive_data(f.client_hello)
    s.data_to_send()
    expect_alert(s, record(CCS, body), AD.unexpected_message)
    sh, _ccs, _flight = f.server_records()
    c = replay_client()
    c.data_to_send()
    expect_alert(c, sh + record(CCS, body), AD.unexpected_message)


def test_empty_ccs_record_is_unexpected_message():
    # RFC 8446 5: any change_cipher_spec other than the single byte 0x01.
    s = server_after_client_hello()
    expect_alert(s, record(CCS, b""), AD.unexpected_message)


def test_second_ccs_is_unexpected_message():
    f = recorded_flights()
    ccs, _fin = f.client_records()
    s = server_after_client_hello()
    assert s.receive_data(ccs) == []
    expect_alert(s, ccs, AD.unexpected_message)
    c = client_after_server_hello()
    expect_alert(c, record(CCS, b"\x01"), AD.unexpected_message)


def _client_at_retried_server_hello():
    """A client that got a HelloRetryRequest alone (no CCS after it, as Java's JSSE sends
    it) and sent its second ClientHello; and the server's ServerHello and the records of
    its protected flight."""
    c = make_client(client_config(groups=["x25519", "secp384r1"]))
    s = make_server(server_config(groups=["secp384r1"]))
    s.receive_data(c.data_to_send())
    hrr, _ccs = split_records(s.data_to_send())
    assert c.receive_data(hrr) == []
    s.receive_data(c.data_to_send())
    sh, *flight = split_records(s.data_to_send())
    assert flight[0][0] != CCS
    return c, sh, flight


def test_ccs_before_and_after_the_server_hello_that_follows_a_retry():
    """JSSE's order after a HelloRetryRequest: CCS, ServerHello, CCS, {EE ...}. RFC 8446
    5 drops any 0x01 CCS before the peer's Finished; tlskit took only the first and
    failed the handshake with unexpected_message on the second."""
    c, sh, flight = _client_at_retried_server_hello()
    ccs = record(CCS, b"\x01")
    events = c.receive_data(ccs + sh + ccs + b"".join(flight))
    assert [type(e).__name__ for e in events] == ["HandshakeComplete"]
    assert c.handshake_complete is not None and c.handshake_complete.group.name == "secp384r1"


def test_two_ccs_after_the_retried_server_hello_are_unexpected_message():
    c, sh, _flight = _client_at_retried_server_hello()
    ccs = record(CCS, b"\x01")
    assert c.receive_data(ccs + sh + ccs) == []
    expect_alert(c, ccs, AD.unexpected_message)


def test_ccs_before_client_hello_is_unexpected_message():
    expect_alert(replay_server(), record(CCS, b"\x01"), AD.unexpected_message)


def test_ccs_after_handshake_is_unexpected_message():
    c, s = connected_pair()
    expect_alert(s, record(CCS, b"\x01"), AD.unexpected_message, peer=c)
    c, s = connected_pair()
    expect_alert(c, record(CCS, b"\x01"), AD.unexpected_message, peer=s)


def test_protected_ccs_is_unexpected_message():
    c = client_after_server_hello()
    expect_alert(c, s_hs(b"\x01" + bytes((CCS,))), AD.unexpected_message)


# --- alerts -------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"\x02", b"\x02\x28\x00", b"\x01\x00\x00\x00"])
def test_alert_record_of_wrong_length_is_decode_error(body):
    expect_alert(replay_server(), record(ALERT, body), AD.decode_error)


@pytest.mark.parametrize("body", [b"\x02", b"\x02\x28\x00"])
def test_protected_alert_of_wrong_length_is_decode_error(body):
    c, s = connected_pair()
    expect_alert(c, forge_content(s, ALERT, body), AD.decode_error, peer=s)


@pytest.mark.parametrize("level", [0, 3, 255])
def test_alert_with_unknown_level_is_illegal_parameter(level):
    expect_alert(replay_server(), record(ALERT, bytes((level, 40))), AD.illegal_parameter)


@pytest.mark.parametrize("desc", [40, 10, 80, 200])
def test_fatal_alert_from_peer_ends_the_connection_silently(desc):
    s = replay_server()
    assert_peer_alert(s, plain_alert(desc), desc)


def test_warning_level_error_alert_is_still_fatal():
    # RFC 8446 6: once TLS 1.3 is settled, the level of an error alert is ignored.
    c, s = connected_pair()
    assert_peer_alert(c, forge_content(s, ALERT, bytes((1, AD.handshake_failure))),
                      AD.handshake_failure)


@pytest.mark.parametrize("level", [1, 2])
def test_user_canceled_in_tls13_is_skipped_at_either_level(level):
    # 6.1: user_canceled is a closure alert (close_notify follows), not an error; OpenSSL
    # skips it whatever its level says.
    c, s = connected_pair()
    events = c.receive_data(forge_content(s, ALERT, bytes((level, AD.user_canceled)))
                            + forge_content(s, APPDATA, b"still here"))
    assert events == [DataReceived(b"still here")]
    assert c.data_to_send() == b""


def test_warning_alert_before_the_version_is_settled_is_ignored():
    """Until the ServerHello settles the version, a warning is read as TLS 1.2 reads it and
    skipped (a 1.2 server may send a warning unrecognized_name before its ServerHello),
    as OpenSSL, BoringSSL and Go do; the handshake then completes."""
    c, s = make_client(), make_server()
    hello = c.data_to_send()
    assert s.receive_data(plain_alert(AD.unrecognized_name, level=1) + hello) == []
    flight = s.data_to_send()
    events = c.receive_data(plain_alert(AD.unrecognized_name, level=1) + flight)
    assert c.handshake_complete is not None and c.version == "TLSv1.3", events
    s.receive_data(c.data_to_send())
    assert s.handshake_complete is not None


def test_fatal_alert_before_the_version_is_settled_ends_the_connection():
    c = make_client()
    c.data_to_send()
    assert_peer_alert(c, plain_alert(AD.user_canceled), AD.user_canceled)


def test_close_notify_is_answered():
    c, s = connected_pair()
    c.close()
    events = s.receive_data(c.data_to_send())
    assert events == [ConnectionClosed(None)]
    assert c.receive_data(s.data_to_send()) == [ConnectionClosed(None)]


# --- interleaving and key changes (RFC 8446 5.1) --------------------------------------

def _fragments_of_client_hello():
    ch = recorded_flights().client_hello
    body = ch[5:]
    return record(HS, body[:40]), record(HS, body[40:])


@pytest.mark.parametrize("intruder", [
    record(CCS, b"\x01"),
    record(APPDATA, b"x" * 30),
])
def test_record_inside_a_fragmented_handshake_message_is_unexpected_message(intruder):
    first, _rest = _fragments_of_client_hello()
    s = replay_server()
    assert s.receive_data(first) == []
    expect_alert(s, intruder, AD.unexpected_message)


def test_warning_between_fragments_of_a_client_hello_is_skipped():
    """Before the version is settled an alert between handshake fragments is read, as
    RFC 5246 6.2.1 lets record types interleave (OpenSSL, BoringSSL and Go read it too);
    only TLS 1.3 (5.1) forbids it."""
    first, rest = _fragments_of_client_hello()
    s = replay_server()
    assert s.receive_data(first + plain_alert(AD.user_canceled, level=1)) == []
    s.receive_data(rest)
    assert s.data_to_send() == recorded_flights().server_flight


@pytest.mark.parametrize("alert", [AD.handshake_failure, AD.user_canceled])
def test_fatal_alert_between_fragments_of_a_client_hello_is_the_peers(alert):
    first, _rest = _fragments_of_client_hello()
    s = replay_server()
    s.receive_data(first)
    assert_peer_alert(s, plain_alert(alert), alert)


def test_close_notify_between_fragments_of_a_client_hello_closes():
    first, _rest = _fragments_of_client_hello()
    s = replay_server()
    s.receive_data(first)
    assert s.receive_data(plain_alert(AD.close_notify, level=1)) == [ConnectionClosed(None)]
    assert s.data_to_send() == plain_alert(AD.close_notify, level=1)


def test_fragmented_client_hello_completes():
    first, rest = _fragments_of_client_hello()
    s = replay_server()
    s.receive_data(first)
    s.receive_data(rest)
    assert s.data_to_send().startswith(b"\x16\x03\x03")


def test_alert_inside_fragmented_protected_message_is_unexpected_message():
    c, s = connected_pair()
    ku = b"\x18\x00\x00\x01\x00"
    assert c.receive_data(forge_content(s, HS, ku[:2])) == []
    expect_alert(c, forge_content(s, ALERT, b"\x01\x5a"), AD.unexpected_message, peer=s)


def test_application_data_inside_fragmented_protected_message_is_unexpected_message():
    c, s = connected_pair()
    c.receive_data(forge_content(s, HS, b"\x04\x00\x00"))
    expect_alert(c, forge_content(s, APPDATA, b"hi"), AD.unexpected_message, peer=s)


def test_server_hello_record_spilling_into_encrypted_messages_is_unexpected_message():
    # 5.1: a key change must fall on a record boundary.
    f = recorded_flights()
    sh = f.messages["server_hello"]
    c = replay_client()
    c.data_to_send()
    expect_alert(c, record(HS, sh + b"\x08\x00"), AD.unexpected_message)


def test_client_finished_spilling_past_the_key_change_is_unexpected_message():
    f = recorded_flights()
    ccs, _fin = f.client_records()
    s = server_after_client_hello()
    inner = seal_open_client_finished()  # Finished || 0x16
    expect_alert(s, ccs + c_hs(inner[:-1] + b"\x18" + bytes((HS,))), AD.unexpected_message)


def seal_open_client_finished() -> bytes:
    """The TLSInnerPlaintext of the recorded client Finished record."""
    f = recorded_flights()
    _ccs, fin = f.client_records()
    return Keys(0x1301, f.secrets[C_HS]).open(fin)


def test_finished_split_across_records_before_key_change_is_fine():
    f = recorded_flights()
    ccs, _fin = f.client_records()
    inner = seal_open_client_finished()
    msg = inner[:-1]
    s = server_after_client_hello()
    events = s.receive_data(ccs + c_hs(msg[:10] + bytes((HS,)), 0)
                            + c_hs(msg[10:] + bytes((HS,)), 1))
    assert [type(e).__name__ for e in events] == ["HandshakeComplete"]


def test_key_update_followed_by_partial_message_is_unexpected_message():
    c, s = connected_pair()
    expect_alert(c, forge_content(s, HS, b"\x18\x00\x00\x01\x00" + b"\x04\x00"),
                 AD.unexpected_message)


def test_errors_never_leak_non_tls_exceptions_on_garbage_after_failure():
    s = replay_server()
    with pytest.raises(TLSError):
        s.receive_data(b"\x00" * 10)
    for junk in (b"", b"\x16", bytes(100)):
        with pytest.raises(TLSError):
            s.receive_data(junk)
