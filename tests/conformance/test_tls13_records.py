"""Record layer, CCS, Finished and early-data handling, after the tlsfuzzer TLS 1.3
scripts (``test-tls13-<name>.py``): the same records, the same expected alerts."""

from __future__ import annotations

import os

import pytest

from tlskit import ConnectionClosed
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m

from ..support.records import ALERT, APPDATA, CCS, HS, record
from .peer import (
    AES128,
    AES256,
    CHACHA,
    E_COOKIE,
    E_EARLY_DATA,
    E_EMS,
    E_KEY_SHARE,
    E_PADDING,
    E_PSK,
    E_PSK_MODES,
    ECDHE_RSA_AES128_GCM,
    EMPTY_RENEGOTIATION_INFO_SCSV,
    PSK_DHE_KE,
    PSK_KE,
    SECP256R1,
    Hello,
    Peer,
    fuzz,
    hello,
    key_shares,
    sanity,
)

AD_UNEXPECTED, AD_BAD_RECORD_MAC, AD_RECORD_OVERFLOW = 10, 20, 22
AD_DECODE, AD_DECRYPT, AD_UNKNOWN_CA = 50, 51, 48
COMPAT_CCS = record(CCS, b"\x01")
GET = b"GET / HTTP/1.0\r\n\r\n"


def after_server_flight(peer: Peer | None = None, h: Hello | None = None, **kw) -> Peer:
    """CH sent, the server's whole flight received; the client has not finished."""
    peer = peer or Peer()
    peer.send_hello(h or hello(**kw))
    peer.expect_flight()
    return peer


# --- test-tls13-ccs.py -------------------------------------------------------------------

def test_ccs_both_client_and_server_send_ccs():
    peer = after_server_flight()
    peer.feed(COMPAT_CCS)
    peer.finished()
    sanity(peer)


def test_ccs_after_finished_is_unexpected_message():
    peer = after_server_flight()
    peer.finished()
    peer.feed(COMPAT_CCS)
    peer.expect_alert(AD_UNEXPECTED)


def test_ccs_two_byte_long_is_a_fatal_alert():
    # The script accepts any fatal alert; RFC 8446 5 says unexpected_message.
    peer = after_server_flight()
    peer.feed(record(CCS, b"\x01\x01"))
    peer.expect_alert(AD_UNEXPECTED)


# --- test-tls13-multiple-ccs-messages.py --------------------------------------------------

def test_multiple_ccs_sanity_with_one_ccs_right_after_client_hello():
    peer = Peer()
    peer.send_hello(hello(), extra=COMPAT_CCS)
    peer.expect_flight()
    peer.finished()
    sanity(peer)


def test_multiple_ccs_second_ccs_before_client_finished():
    peer = Peer()
    peer.send_hello(hello(), extra=COMPAT_CCS)
    peer.expect_flight()
    peer.feed(COMPAT_CCS)
    peer.expect_alert(AD_UNEXPECTED)


@pytest.mark.parametrize("with_hello", [False, True], ids=["after CH", "CH and CCSs together"])
def test_multiple_ccs_in_one_tcp_packet(with_hello):
    peer = Peer()
    if with_hello:
        peer.send_hello(hello(), extra=COMPAT_CCS * 2)
    else:
        peer.send_hello(hello())
        peer.feed(COMPAT_CCS * 2)
    assert peer.kinds()[:6] == ["server_hello", "ccs", 8, 11, 15, "finished"]
    peer.expect_alert(AD_UNEXPECTED)


def test_multiple_ccs_in_one_record():
    peer = Peer()
    peer.send_hello(hello())
    peer.feed(record(CCS, b"\x01\x01"))
    peer.expect_alert(AD_UNEXPECTED)


# --- test-tls13-record-layer-limits.py ---------------------------------------------------

MAX = 1 << 14


@pytest.mark.parametrize("suite", [AES128, CHACHA], ids=hex)
def test_record_layer_limits(suite):
    def fresh() -> Peer:
        return after_server_flight(suites=[suite, EMPTY_RENEGOTIATION_INFO_SCSV])

    # max size payload in app_data: echoed
    peer = fresh()
    peer.finished()
    sanity(peer, payload=b"GET / HTTP/1.0\r\nX-test: " + b"A" * (MAX - 28) + b"\r\n\r\n")
    # too big payload in app_data, 2**14 + 1
    peer = fresh()
    peer.finished()
    peer.app(b"A" * (MAX + 1))
    peer.expect_alert(AD_RECORD_OVERFLOW)
    # too big plaintext: 2**14 - 8 data + padding up to an inner plaintext of 2**14 + 2
    peer = fresh()
    peer.finished()
    data = b"A" * (MAX - 8)
    peer.app(data, padding=MAX + 2 - len(data) - 1)
    peer.expect_alert(AD_RECORD_OVERFLOW)
    # Finished padded on the left to 2**14 bytes: fits, but the wrong length
    peer = fresh()
    good = peer.finished_message()
    peer.finished(m.frame(20, bytes(MAX - 32 - 4) + good[4:]))
    peer.expect_alert(AD_DECODE)
    # ... to 2**14 + 1 bytes: the inner plaintext is too big
    peer = fresh()
    peer.finished(m.frame(20, bytes(MAX - 32 - 4 + 1) + good[4:]))
    peer.expect_alert(AD_RECORD_OVERFLOW)
    # Finished with record padding up to a ciphertext of exactly 2**14 + 256
    peer = fresh()
    peer.finished(padding=MAX + 256 - 32 - 16 - 5)
    peer.expect_alert(AD_RECORD_OVERFLOW)
    # ... one more byte: the ciphertext itself is too big
    peer = fresh()
    peer.finished(padding=MAX + 256 - 32 - 16 - 5 + 1)
    peer.expect_alert(AD_RECORD_OVERFLOW)


def test_record_layer_limits_too_big_ciphertext_with_fuzzed_tag():
    for pos in (-1, -8, -16):
        for xor in (0x01, 0x80):
            peer = after_server_flight()
            peer.finished()
            rec = peer.protect(APPDATA, b"A" * (MAX + 256 - 16))
            peer.feed(fuzz(rec, pos, xor))
            peer.expect_alert(AD_RECORD_OVERFLOW)


def _hello_of_size(size: int) -> Hello:
    h = hello()
    base = len(h.encode())
    return h.set(E_PADDING, bytes(size - base - 4))


def test_record_layer_limits_max_size_client_hello():
    h = _hello_of_size(MAX)
    assert len(h.encode()) == MAX
    peer = Peer()
    peer.send_hello(h, fragment=MAX + 1)
    peer.expect_flight()
    peer.finished()
    sanity(peer)


def test_record_layer_limits_too_big_client_hello_record():
    peer = Peer()
    peer.send_hello(_hello_of_size(MAX + 1), fragment=MAX + 1)
    peer.expect_alert(AD_RECORD_OVERFLOW)


# --- test-tls13-zero-length-data.py ------------------------------------------------------

@pytest.mark.parametrize("padding", [0, 30, "max"])
def test_zero_length_app_data_between_data(padding):
    peer = after_server_flight()
    peer.finished()
    pieces = [b"", b"GET /", b"", b"HTTP/1.", b"", b"0\r\n\r\n"]
    for piece in pieces:
        pad = MAX - len(piece) if padding == "max" else padding
        peer.app(piece, padding=pad)
        assert peer.error is None, peer.error
    assert peer.data().endswith(b"GET /HTTP/1.0\r\n\r\n")
    peer.close_notify()
    assert peer.alerts()[-1] == (1, 0)


@pytest.mark.parametrize("padding", [0, 30, MAX - 0], ids=["none", "30", "max"])
def test_zero_length_app_data_during_handshake(padding):
    peer = after_server_flight()      # under the client handshake key
    peer.app(b"", padding=padding)
    peer.expect_alert(AD_UNEXPECTED)


@pytest.mark.parametrize("padding", [0, 30, MAX], ids=["none", "30", "max"])
def test_zero_length_app_data_interleaved_in_client_hello(padding):
    raw = hello().encode()
    peer = Peer()
    peer.feed(record(HS, raw[:2], 0x0301) + record(HS, raw[2:4], 0x0301))
    # no keys yet: the record goes in the clear, padding has nothing to pad
    peer.feed(record(APPDATA, b""))
    peer.expect_alert(AD_UNEXPECTED)


# --- test-tls13-empty-alert.py -----------------------------------------------------------

@pytest.mark.parametrize("padding", [0, 2, 5, 30])
@pytest.mark.parametrize("keys", ["handshake", "application"])
def test_empty_alert_is_unexpected_message(keys, padding):
    peer = after_server_flight()
    if keys == "application":
        peer.finished()
    peer.send(ALERT, b"", padding)
    peer.expect_alert(AD_UNEXPECTED)


# --- test-tls13-record-padding.py --------------------------------------------------------

@pytest.mark.parametrize("padding", [30, MAX - len(GET)], ids=["fixed 30", "max"])
def test_record_padding_is_accepted(padding):
    peer = after_server_flight()
    peer.finished()
    peer.app(GET, padding=padding)
    assert peer.error is None and peer.data() == GET


# --- test-tls13-lengths.py (echo mode) ---------------------------------------------------

@pytest.mark.parametrize("suite", [AES128, AES256, CHACHA], ids=hex)
def test_lengths_echoed_in_one_record(suite):
    peer = after_server_flight(suites=[suite, EMPTY_RENEGOTIATION_INFO_SCSV])
    peer.finished()
    for n in (1, 2, 15, 16, 17, 255, 256, 257, 1000, MAX - 1, MAX):
        peer.app(b"A" * (n - 1) + b"\n")
        last = peer.events[-1]
        assert last[0] == "data" and len(last[1]) == n, (n, peer.kinds()[-3:])


# --- test-tls13-finished.py --------------------------------------------------------------

@pytest.mark.parametrize("suite,size", [(AES128, 32), (AES256, 48)], ids=["sha256", "sha384"])
def test_finished_fuzzing(suite, size):
    def fresh() -> Peer:
        return after_server_flight(suites=[suite, EMPTY_RENEGOTIATION_INFO_SCSV],
                                   sig_algs=[0x0804, 0x0809, 0x0805, 0x080A])

    peer = fresh()
    peer.finished(m.frame(20, b""))                                      # empty
    peer.expect_alert(AD_DECODE)
    for bit in (0, 1, 7, 8, 8 * size // 2, 8 * size - 1):                # single bit error
        peer = fresh()
        good = peer.finished_message()
        peer.finished(fuzz(good, len(good) - 1 - bit // 8, 1 << bit % 8))
        peer.expect_alert(AD_DECRYPT)
    for start, end in [(0, -1), (0, -2), (0, -4), (0, -8), (0, -16), (0, -32), (0, 12),
                       (1, None), (2, None), (4, None), (8, None), (16, None), (32, None)]:
        peer = fresh()                                                    # truncation
        vd = peer.finished_message()[4:]
        peer.finished(m.frame(20, vd[start:end]))
        peer.expect_alert(AD_DECODE)
    for left, right in [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (0, 32), (0, 48),
                        (0, MAX - 4 - size), (1, 0), (2, 0), (4, 0), (8, 0), (16, 0), (32, 0),
                        (48, 0), (MAX - 4 - size, 0), (12, 0), (1, 1), (8, 8)]:
        peer = fresh()                                                    # padding
        vd = peer.finished_message()[4:]
        peer.finished(m.frame(20, bytes(left) + vd + bytes(right)))
        peer.expect_alert(AD_DECODE)


def _send_huge_finished(peer: Peer, right: int) -> None:
    """A Finished padded on the right by `right` zero bytes, sent one 2**14 record at a
    time and stopping as soon as the server gives up (as a real peer's writes would)."""
    vd = peer.finished_message()[4:]
    total = 4 + len(vd) + right
    first = bytes((20,)) + (len(vd) + right).to_bytes(3, "big") + vd
    sent = 0
    while sent < total and peer.error is None:
        n = min(MAX, total - sent)
        chunk = first + bytes(n - len(first)) if sent == 0 else bytes(n)
        peer.feed(peer.protect(HS, chunk))
        sent += n


def test_finished_huge_padding_is_decode_error():
    for right in (0x20000, 0x30000, (1 << 24) - 1 - 32):
        peer = after_server_flight()
        _send_huge_finished(peer, right)
        peer.expect_alert(AD_DECODE)


# --- test-tls13-finished-plaintext.py ----------------------------------------------------

def test_unencrypted_finished_is_unexpected_message():
    peer = after_server_flight()
    peer.finished(plaintext=True)
    peer.expect_alert(AD_UNEXPECTED)


# --- test-tls13-unencrypted-alert.py -----------------------------------------------------

@pytest.mark.parametrize("encrypted", [False, True], ids=["unencrypted", "encrypted"])
def test_client_alert_after_server_flight_closes_silently(encrypted):
    peer = after_server_flight()
    before = len(peer.events)
    peer.alert(AD_UNKNOWN_CA, encrypted=encrypted)
    closed = [e for e in peer.server_events if isinstance(e, ConnectionClosed)]
    assert closed and int(closed[-1].alert) == AD_UNKNOWN_CA  # type: ignore[arg-type]
    assert len(peer.events) == before        # ExpectClose: no alert of its own
    assert peer.server.closed


# --- test-tls13-symetric-ciphers.py (tag fuzzing) ----------------------------------------

@pytest.mark.parametrize("suite", [AES128, AES256, CHACHA], ids=hex)
def test_symetric_ciphers_fuzzed_tag_is_bad_record_mac(suite):
    for pos in (-1, -2, -9, -16):
        for xor in (0x01, 0x10, 0x80):
            peer = after_server_flight(suites=[suite])
            peer.finished()
            peer.feed(fuzz(peer.protect(APPDATA, GET), pos, xor))
            peer.expect_alert(AD_BAD_RECORD_MAC)
            peer = after_server_flight(suites=[suite])
            peer.feed(fuzz(peer.finished(send=False), pos, xor))
            peer.expect_alert(AD_BAD_RECORD_MAC)


# --- test-tls13-0rtt-garbage.py ----------------------------------------------------------

def psk_extensions(binder: bytes | None = None) -> list[tuple[int, bytes]]:
    identity = (os.urandom(320), int.from_bytes(os.urandom(4), "big") | 1 << 30)
    return [(E_PSK_MODES, ext.encode_psk_modes([PSK_DHE_KE, PSK_KE])),
            (E_PSK, ext.encode_pre_shared_key_client([identity], [binder or os.urandom(32)]))]


def early_hello(**kw) -> Hello:
    return hello(extra=[(E_EARLY_DATA, b""), *psk_extensions()], **kw)


def garbage(n: int = MAX) -> bytes:
    return record(APPDATA, os.urandom(n))


def test_0rtt_garbage_handshake_with_invalid_psk():
    sanity(Peer(), hello(extra=psk_extensions()))


@pytest.mark.parametrize("layout", ["one record", "two records", "CCS between", "CCS first"])
def test_0rtt_garbage_invalid_early_data_is_skipped(layout):
    early = {"one record": garbage(),
             "two records": garbage(MAX // 2) + garbage(MAX // 2),
             "CCS between": garbage(MAX // 2) + COMPAT_CCS + garbage(MAX // 2),
             "CCS first": COMPAT_CCS + garbage()}[layout]
    peer = Peer()
    peer.send_hello(early_hello(), extra=early)
    peer.expect_flight()
    peer.finished()
    sanity(peer)


def test_0rtt_garbage_undecryptable_record_spliced_into_finished():
    peer = Peer()
    peer.send_hello(early_hello(), extra=garbage())
    peer.expect_flight()
    fin = peer.finished_message()
    peer.feed(peer.protect(HS, fin[:16]))      # first fragment: decrypts, ends skipping
    peer.feed(garbage(64))
    peer.expect_alert(AD_BAD_RECORD_MAC)


def _hrr_early(peer: Peer) -> Hello:
    first = hello(groups=[0x1300, SECP256R1], shares=[(0x1300, b"\xab" * 32)],
                  extra=[(E_EARLY_DATA, b""), *psk_extensions()])
    peer.send_hello(first, extra=garbage())
    assert peer.kinds() == ["hrr", "ccs"], peer.kinds()
    hrr = peer.events[0][1]
    second = Hello(first.suites, [], random=first.random, session_id=first.session_id)
    for t, b in first.exts:
        if t == E_EARLY_DATA:
            continue
        if t == E_KEY_SHARE:
            b = key_shares([SECP256R1], second.shares)
        if t == E_PSK:
            (identity,), _ = ext.decode_pre_shared_key_client(b)
            b = ext.encode_pre_shared_key_client([identity], [os.urandom(32)])
        if t == E_PSK_MODES and E_COOKIE in hrr.extensions:
            second.exts.append((E_COOKIE, hrr.extensions[E_COOKIE]))
        second.exts.append((t, b))
    return second


def test_0rtt_garbage_hrr_then_normal_handshake():
    peer = Peer()
    peer.send_hello(_hrr_early(peer))
    peer.expect_flight(hrr=True)
    peer.finished()
    sanity(peer)


def test_0rtt_garbage_hrr_and_garbage_after_second_client_hello():
    peer = Peer()
    peer.send_hello(_hrr_early(peer))
    peer.expect_flight(hrr=True)
    peer.feed(garbage(64))
    peer.expect_alert(AD_BAD_RECORD_MAC)


def test_0rtt_garbage_downgrade_to_tls12_is_unexpected_message():
    peer = Peer()
    h = hello(suites=[0x1301, ECDHE_RSA_AES128_GCM, EMPTY_RENEGOTIATION_INFO_SCSV],
              versions=[0x0305, 0x0303],
              extra=[(E_EMS, b""), (E_EARLY_DATA, b""), *psk_extensions()])
    peer.send_hello(h, extra=garbage())
    assert peer.server_hello().legacy_version == 0x0303 and peer.tls12
    assert [e[1] for e in peer.events if e[0] == "hs12"] == [11, 12, 14]
    peer.expect_alert(AD_UNEXPECTED)



def test_0rtt_garbage_beyond_the_skip_limit_is_bad_record_mac():
    # 4.2.10: early data is skipped "up to the configured max_early_data_size" (tlskit:
    # 64 KiB); tlsfuzzer's --num-bytes above that must end in bad_record_mac.
    peer = Peer()
    peer.send_hello(early_hello(), extra=garbage() * 4)
    peer.expect_flight()
    assert peer.error is None
    peer.feed(garbage(64))
    peer.expect_alert(AD_BAD_RECORD_MAC)


# --- more CCS placements (RFC 8446 5) ----------------------------------------------------

def test_ccs_before_client_hello_is_unexpected_message():
    peer = Peer()
    peer.feed(COMPAT_CCS)
    peer.expect_alert(AD_UNEXPECTED)


def test_protected_ccs_is_unexpected_message():
    peer = after_server_flight()
    peer.send(CCS, b"\x01")
    peer.expect_alert(AD_UNEXPECTED)
