"""The record layer (RFC 8446 5): RFC 8448 records byte-exact both ways, nonces,
padding, size limits and splitting."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tlskit.crypto import SUITES
from tlskit.enums import CipherSuite
from tlskit.errors import BadRecordMac, DecodeError, RecordOverflow, UnexpectedMessage
from tlskit.record import MAX_CIPHERTEXT, MAX_PLAINTEXT, RecordLayer, _Protection

from ..support.records import split_records

# The RFC 8448 traces, kept in the repo; provenance in tests/vectors/README.md.
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc8448.json"
DATA = json.loads(VECTORS.read_text())
SUITE = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
CT = {"handshake": 22, "alert": 21, "application_data": 23, "change_cipher_spec": 20}
KEY, IV = bytes(range(16)), bytes(range(100, 112))


def h(v: str) -> bytes:
    return bytes.fromhex(v)


def vector_records():
    for tname, trace in DATA["traces"].items():
        for rname, rec in trace.get("records", {}).items():
            if rec["encrypted"]:
                yield pytest.param(trace, rec, id=f"{tname}/{rname}")


ENCRYPTED = list(vector_records())


def writer() -> RecordLayer:
    r = RecordLayer()
    r.set_write_key(SUITE, KEY, IV)
    return r


def reader() -> RecordLayer:
    r = RecordLayer()
    r.set_read_key(SUITE, KEY, IV)
    return r


def seal(inner: bytes, seq: int = 0) -> bytes:
    nonce = (int.from_bytes(IV, "big") ^ seq).to_bytes(12, "big")
    header = struct.pack(">BHH", 23, 0x0303, len(inner) + 16)
    return header + AESGCM(KEY).encrypt(nonce, inner, header)


def open_(rec: bytes, seq: int = 0) -> bytes:
    nonce = (int.from_bytes(IV, "big") ^ seq).to_bytes(12, "big")
    return AESGCM(KEY).decrypt(nonce, rec[5:], rec[:5])


# --- RFC 8448 records ---------------------------------------------------------------------

@pytest.mark.parametrize("trace,rec", ENCRYPTED)
def test_rfc8448_record_is_reproduced_byte_exact(trace, rec):
    r = RecordLayer()
    r.set_write_key(SUITE, h(trace[rec["write_key"]]), h(trace[rec["write_iv"]]))
    r._write.seq = rec["sequence_number"]
    r.write(CT[rec["content_type"]], h(rec["payload"]))
    assert r.take_output() == h(rec["record"])


@pytest.mark.parametrize("trace,rec", ENCRYPTED)
def test_rfc8448_record_is_opened(trace, rec):
    r = RecordLayer()
    r.set_read_key(SUITE, h(trace[rec["write_key"]]), h(trace[rec["write_iv"]]))
    r._read.seq = rec["sequence_number"]
    whole = h(rec["record"])
    r.feed(whole[:7])
    assert r.next_record() is None
    r.feed(whole[7:])
    assert r.next_record() == (CT[rec["content_type"]], h(rec["payload"]))
    assert r.next_record() is None and r.buffered == 0


def test_rfc8448_plaintext_records():
    t = DATA["traces"]["simple_1rtt"]["records"]
    r = RecordLayer()
    r.legacy_version_out = 0x0301
    r.write(22, h(t["client_hello"]["payload"]))
    assert r.take_output() == h(t["client_hello"]["record"])
    r = RecordLayer()
    r.feed(h(t["server_hello"]["record"]))
    assert r.next_record() == (22, h(t["server_hello"]["payload"]))


# --- nonces (5.3) -------------------------------------------------------------------------

@pytest.mark.parametrize("seq", [0, 1, 255, 1 << 32, (1 << 63) + 5, (1 << 64) - 2])
def test_nonce_is_iv_xor_sequence_number(seq):
    p = _Protection(SUITE, KEY, IV)
    p.seq = seq
    want = bytes(a ^ b for a, b in zip(IV, seq.to_bytes(12, "big"), strict=True))
    assert p.next_nonce() == want
    assert p.seq == seq + 1


def test_sequence_number_must_not_wrap():
    p = _Protection(SUITE, KEY, IV)
    p.seq = (1 << 64) - 1
    with pytest.raises(UnexpectedMessage):
        p.next_nonce()


def test_sequence_numbers_advance_per_record_in_both_directions():
    w, r = writer(), reader()
    for i in range(5):
        w.write(23, b"m%d" % i)
    data = w.take_output()
    for i, rec in enumerate(split_records(data)):
        assert open_(rec, i) == b"m%d\x17" % i
    r.feed(data)
    assert [r.next_record() for _ in range(5)] == [(23, b"m%d" % i) for i in range(5)]


# --- padding (5.4) --------------------------------------------------------------------------

@pytest.mark.parametrize("inner,expected", [
    (b"abc\x17", (23, b"abc")),
    (b"abc\x17" + bytes(10), (23, b"abc")),
    (b"ab\x00\x00\x17\x00", (23, b"ab\x00\x00")),        # zeros inside content stay
    (b"\x00\x16\x00\x00", (22, b"\x00")),
    (b"\x17", (23, b"")),
    (b"\x17" + bytes(300), (23, b"")),
    (b"\x02\x28\x15" + bytes(5), (21, b"\x02\x28")),
])
def test_padding_is_stripped_to_the_last_nonzero_byte(inner, expected):
    r = reader()
    r.feed(seal(inner))
    assert r.next_record() == expected


@pytest.mark.parametrize("inner,error", [
    (b"\x00", UnexpectedMessage),
    (bytes(100), UnexpectedMessage),
    (b"x\x14", UnexpectedMessage),             # protected change_cipher_spec
    (b"x\x18", UnexpectedMessage),             # unknown inner type
    (b"\x16", UnexpectedMessage),              # empty handshake
    (b"\x15\x00\x00", UnexpectedMessage),      # empty alert, padded
])
def test_bad_inner_plaintext(inner, error):
    r = reader()
    r.feed(seal(inner))
    with pytest.raises(error):
        r.next_record()


def test_write_pads_within_the_limit():
    w = writer()
    w.write(23, b"hi", padding=50)
    rec = w.take_output()
    assert open_(rec) == b"hi\x17" + bytes(50)
    w = writer()
    w.send_limit = 100
    w.write(23, b"x" * 90, padding=50)
    assert len(open_(w.take_output())) == 101       # capped at send_limit + 1


# --- size limits ------------------------------------------------------------------------------

def test_limits_are_the_rfc_values():
    assert MAX_PLAINTEXT == 1 << 14 and MAX_CIPHERTEXT == (1 << 14) + 256


def test_inner_plaintext_limits():
    r = reader()
    r.feed(seal(bytes(MAX_PLAINTEXT) + b"\x17"))
    assert r.next_record() == (23, bytes(MAX_PLAINTEXT))
    r = reader()
    r.feed(seal(b"x" * 10 + b"\x17" + bytes(MAX_PLAINTEXT - 10)))   # 2^14 + 1: allowed
    assert r.next_record() == (23, b"x" * 10)
    for inner in (bytes(MAX_PLAINTEXT + 1) + b"\x17", b"x\x17" + bytes(MAX_PLAINTEXT)):
        r = reader()
        r.feed(seal(inner))
        with pytest.raises(RecordOverflow):
            r.next_record()


def test_receive_limit_counts_type_and_padding():
    r = reader()
    r.receive_limit = 99                       # record_size_limit 100
    r.feed(seal(b"y" * 99 + b"\x17") + seal(b"y" * 50 + b"\x17" + bytes(49), 1))
    assert r.next_record() == (23, b"y" * 99)
    assert r.next_record() == (23, b"y" * 50)
    r.feed(seal(b"y" * 50 + b"\x17" + bytes(50), 2))
    with pytest.raises(RecordOverflow):
        r.next_record()


def test_ciphertext_length_limits_are_checked_from_the_header():
    r = reader()
    r.feed(b"\x17\x03\x03" + (MAX_CIPHERTEXT + 1).to_bytes(2, "big"))
    with pytest.raises(RecordOverflow):
        r.next_record()
    r = RecordLayer()
    r.feed(b"\x16\x03\x03" + (MAX_PLAINTEXT + 1).to_bytes(2, "big"))
    with pytest.raises(RecordOverflow):
        r.next_record()


@pytest.mark.parametrize("header,error", [
    (b"\x16\x02\x03\x00\x01", DecodeError),
    (b"\x16\x04\x03\x00\x01", DecodeError),
    (b"\x18\x03\x03\x00\x01", UnexpectedMessage),
    (b"\x00\x03\x03\x00\x01", UnexpectedMessage),
])
def test_header_checks(header, error):
    r = RecordLayer()
    r.feed(header)
    with pytest.raises(error):
        r.next_record()


def test_short_or_forged_ciphertext_is_bad_record_mac():
    for rec in (b"\x17\x03\x03\x00\x10" + bytes(16), seal(b"ok\x17")[:-1] + b"\x00"):
        r = reader()
        r.feed(rec)
        with pytest.raises(BadRecordMac):
            r.next_record()


def test_incomplete_records_wait():
    r = reader()
    rec = seal(b"hello\x17")
    for i in range(len(rec)):
        r.feed(rec[i:i + 1])
        expected = None if i < len(rec) - 1 else (23, b"hello")
        assert r.next_record() == expected


# --- splitting ---------------------------------------------------------------------------

def test_plaintext_writes_split_at_2_14():
    r = RecordLayer()
    r.write(22, bytes(MAX_PLAINTEXT * 2 + 1))
    recs = split_records(r.take_output())
    assert [len(x) - 5 for x in recs] == [MAX_PLAINTEXT, MAX_PLAINTEXT, 1]
    assert all(x[:3] == b"\x16\x03\x03" for x in recs)


def test_protected_writes_split_at_the_send_limit():
    w = writer()
    w.send_limit = 99                # the peer's record_size_limit of 100, minus the type
    w.write(23, b"z" * 250)
    recs = split_records(w.take_output())
    assert [len(open_(x, i)) for i, x in enumerate(recs)] == [100, 100, 53]
    assert b"".join(open_(x, i)[:-1] for i, x in enumerate(recs)) == b"z" * 250
    assert w.write_sequence == 3


def test_protected_write_of_nothing_is_one_empty_record():
    w = writer()
    w.write(23, b"")
    assert open_(w.take_output()) == b"\x17"


def test_outer_header_is_application_data_tls12():
    w = writer()
    w.write(21, b"\x01\x00")
    rec = w.take_output()
    assert rec[:5] == b"\x17\x03\x03\x00\x13"
    assert open_(rec) == b"\x01\x00\x15"


def test_unprotected_ccs_between_protected_records():
    w = writer()
    w.write(22, b"\x08\x00\x00\x00")
    w.write_unprotected(20, b"\x01")
    w.write(22, b"\x08\x00\x00\x00")
    recs = split_records(w.take_output())
    assert recs[1] == b"\x14\x03\x03\x00\x01\x01"
    assert open_(recs[2], 1) == b"\x08\x00\x00\x00\x16"


def test_take_output_drains():
    w = writer()
    assert w.take_output() == b"" and w.pending_output == 0
    w.write(23, b"a")
    assert w.pending_output == 5 + 2 + 16
    w.take_output()
    assert w.take_output() == b""


def test_installed_tls13_directions_take_the_layers_limits_and_queue():
    """A direction installed from a TLS 1.3 traffic secret starts with the layer's
    current send and receive limits, KeyUpdate point and output queue, its one-record
    fast path off (a connection arms it); the direction it replaces is disarmed."""
    layer = RecordLayer()
    layer.send_limit, layer.receive_limit, layer.rekey_after = 100, 200, 77
    layer.install_read(SUITE, bytes(32))
    layer.install_write(SUITE, bytes(32))
    opener, sealer = layer.opener, layer.sealer
    assert opener.limit == 200 and sealer.limit == 100 and sealer.rekey_at == 77
    assert opener.fast_until == 0 and sealer.fast_until == 0
    layer.write(23, b"x" * 150)  # split at the send limit, queued on the layer
    assert len(split_records(layer.take_output())) == 2
    opener.bulk = sealer.bulk = True
    assert sealer.fast_until == 0  # (lowered limit: the general paths)
    layer.send_limit = layer.receive_limit = MAX_PLAINTEXT
    layer.install_read(SUITE, bytes(32))
    layer.install_write(SUITE, bytes(32))
    assert not opener.bulk and not sealer.bulk and opener.fast_until == sealer.fast_until == 0
    assert layer.opener.limit == layer.sealer.limit == MAX_PLAINTEXT
    assert layer.sealer.rekey_at == 77
