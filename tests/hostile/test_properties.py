"""Property tests: whatever arrives, a connection either makes progress or fails with a
TLSError carrying a real alert (never internal_error, never another exception); and a
valid handshake survives any re-segmentation of its bytes."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..support.contract import survive
from ..support.records import HS, record, split_records
from .helpers import clean, recorded_flights, replay_client, replay_server

# TLSKIT_HOSTILE_EXAMPLES=5000 for a long hunt; the default keeps the suite quick.
EXAMPLES = int(os.environ.get("TLSKIT_HOSTILE_EXAMPLES", "200"))
FAST = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fresh_server():
    return replay_server()


def client_after_hello():
    c = replay_client()
    c.data_to_send()
    return c


def server_after_hello():
    s = replay_server()
    s.receive_data(recorded_flights().client_hello)
    s.data_to_send()
    return s


# --- random bytes -----------------------------------------------------------------------

@FAST
@given(st.binary(max_size=600))
def test_random_bytes_to_a_fresh_server(data):
    survive(fresh_server(), [data])


@FAST
@given(st.binary(max_size=600))
def test_random_bytes_to_a_client_after_its_hello(data):
    survive(client_after_hello(), [data])


@FAST
@given(st.sampled_from([20, 21, 22, 23]), st.binary(max_size=400))
def test_random_record_bodies_to_a_fresh_server(ctype, body):
    survive(fresh_server(), [record(ctype, body)])


@FAST
@given(st.integers(0, 255), st.binary(max_size=400))
def test_random_handshake_messages_to_a_fresh_server(msg_type, body):
    survive(fresh_server(), [record(HS, bytes((msg_type,)) + len(body).to_bytes(3, "big")
                                    + body)])


@FAST
@given(st.integers(0, 255), st.binary(max_size=400))
def test_random_handshake_messages_to_a_client(msg_type, body):
    survive(client_after_hello(), [record(HS, bytes((msg_type,)) + len(body).to_bytes(3, "big")
                                          + body)])


# --- mutated real flights ------------------------------------------------------------------

def mutations(data: bytes):
    """Bit flips, byte sets, truncation, insertion, splices, duplicated/dropped/swapped
    records, and random re-chunking of `data`."""
    n = len(data)
    pos = st.integers(0, max(n - 1, 0))
    flip = st.tuples(st.just("flip"), pos, st.integers(0, 7))
    setb = st.tuples(st.just("set"), pos, st.integers(0, 255))
    cut = st.tuples(st.just("cut"), pos, st.just(0))
    ins = st.tuples(st.just("ins"), pos, st.integers(0, 255))
    splice = st.tuples(st.just("splice"), pos, pos)
    recop = st.tuples(st.sampled_from(["dup", "drop", "swap"]), st.integers(0, 8),
                      st.integers(0, 8))
    ops = st.lists(st.one_of(flip, setb, cut, ins, splice, recop), min_size=1, max_size=4)
    cuts = st.lists(st.integers(0, n), max_size=6)
    return st.tuples(ops, cuts)


def apply(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for op, a, b in ops:
        if not buf:
            break
        a %= len(buf)
        if op == "flip":
            buf[a] ^= 1 << b
        elif op == "set":
            buf[a] = b
        elif op == "cut":
            del buf[a:]
        elif op == "ins":
            buf[a:a] = bytes((b,))
        elif op == "splice":
            b %= len(buf)
            buf[a:a] = buf[min(a, b):max(a, b)][:64]
        else:
            try:
                recs = split_records(bytes(buf))
            except AssertionError:
                continue
            if not recs:
                continue
            i, j = a % len(recs), b % len(recs)
            if op == "dup":
                recs.insert(i, recs[i])
            elif op == "drop":
                del recs[i]
            else:
                recs[i], recs[j] = recs[j], recs[i]
            buf = bytearray(b"".join(recs))
    return bytes(buf)


def chunked(data: bytes, cuts) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


@FAST
@given(mutations(recorded_flights().client_hello))
def test_mutated_client_hello(m):
    ops, cuts = m
    survive(fresh_server(), chunked(apply(recorded_flights().client_hello, ops), cuts))


@FAST
@given(mutations(recorded_flights().server_flight))
def test_mutated_server_flight(m):
    ops, cuts = m
    survive(client_after_hello(), chunked(apply(recorded_flights().server_flight, ops), cuts))


@FAST
@given(mutations(recorded_flights().client_finished))
def test_mutated_client_finished(m):
    ops, cuts = m
    survive(server_after_hello(), chunked(apply(recorded_flights().client_finished, ops), cuts))


# --- re-segmentation of a valid handshake ---------------------------------------------

def rechunk_records(data: bytes, sizes) -> bytes:
    """Re-fragment the plaintext handshake records of `data` into records of `sizes`."""
    out = bytearray()
    for rec in split_records(data):
        if rec[0] != HS:
            out += rec
            continue
        body, i, k = rec[5:], 0, 0
        while i < len(body):
            n = max(1, sizes[k % len(sizes)]) if sizes else len(body)
            out += record(HS, body[i:i + n], int.from_bytes(rec[1:3], "big"))
            i += n
            k += 1
    return bytes(out)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 300), max_size=8), st.lists(st.integers(0, 2000), max_size=8),
       st.lists(st.integers(0, 100), max_size=4))
def test_any_segmentation_of_a_valid_handshake_completes(sizes, cuts_sf, cuts_cf):
    f = recorded_flights()
    s = replay_server()
    for chunk in chunked(rechunk_records(f.client_hello, sizes), cuts_sf):
        clean(lambda chunk=chunk: s.receive_data(chunk))
    assert s.data_to_send() == f.server_flight
    c = replay_client()
    c.data_to_send()
    events = []
    for chunk in chunked(f.server_flight, cuts_sf):
        events += clean(lambda chunk=chunk: c.receive_data(chunk))
    assert [type(e).__name__ for e in events] == ["HandshakeComplete"]
    done = []
    for chunk in chunked(c.data_to_send(), cuts_cf):
        done += clean(lambda chunk=chunk: s.receive_data(chunk))
    assert [type(e).__name__ for e in done] == ["HandshakeComplete"]


def test_every_two_way_split_of_every_flight_completes():
    f = recorded_flights()
    ch = f.client_hello
    for i in range(1, len(ch)):
        s = replay_server()
        s.receive_data(ch[:i])
        s.receive_data(ch[i:])
        assert s.data_to_send() == f.server_flight
    sf = f.server_flight
    for i in range(1, len(sf)):
        c = replay_client()
        c.data_to_send()
        assert c.receive_data(sf[:i]) == []
        assert len(c.receive_data(sf[i:])) == 1
        assert c.data_to_send() == f.client_finished
    cf = f.client_finished
    for i in range(1, len(cf)):
        s = server_after_hello()
        assert s.receive_data(cf[:i]) == []
        assert len(s.receive_data(cf[i:])) == 1


def test_byte_at_a_time_handshake_completes():
    f = recorded_flights()
    s = replay_server()
    for b in f.client_hello:
        s.receive_data(bytes((b,)))
    assert s.data_to_send() == f.server_flight
    c = replay_client()
    c.data_to_send()
    events = []
    for b in f.server_flight:
        events += c.receive_data(bytes((b,)))
    assert len(events) == 1
    done = []
    for b in c.data_to_send():
        done += s.receive_data(bytes((b,)))
    assert len(done) == 1


def test_one_byte_handshake_records_complete():
    f = recorded_flights()
    s = replay_server()
    s.receive_data(rechunk_records(f.client_hello, [1]))
    assert s.data_to_send() == f.server_flight
