"""Reader/Writer: every read is bounds-checked, every prefix patched exactly."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit.errors import DecodeError
from tlskit.wire.codec import Reader, Writer

SETTINGS = settings(max_examples=200, deadline=None)


# --- Reader --------------------------------------------------------------------------------

def test_integers_are_big_endian():
    r = Reader(bytes.fromhex("01 0203 040506 0708090a"))
    assert (r.u8(), r.u16(), r.u24(), r.u32()) == (1, 0x0203, 0x040506, 0x0708090A)
    assert r.remaining == 0 and r.position == 10
    r.end()


@pytest.mark.parametrize("method,need", [("u8", 1), ("u16", 2), ("u24", 3), ("u32", 4)])
def test_short_integer_is_decode_error(method, need):
    for n in range(need):
        r = Reader(bytes(n))
        with pytest.raises(DecodeError):
            getattr(r, method)()
        assert r.position == 0          # a failed read consumes nothing


def test_raw_and_rest():
    r = Reader(b"abcdef")
    assert r.raw(2) == b"ab"
    with pytest.raises(DecodeError):
        r.raw(5)
    assert r.rest() == b"cdef"
    assert r.rest() == b""
    assert r.raw(0) == b""


@pytest.mark.parametrize("method,width", [("vec8", 1), ("vec16", 2), ("vec24", 3)])
def test_vector_longer_than_the_data_is_decode_error(method, width):
    data = (5).to_bytes(width, "big") + b"abcd"
    with pytest.raises(DecodeError):
        getattr(Reader(data), method)()
    sub = getattr(Reader(data + b"e"), method)()
    assert sub.rest() == b"abcde"


def test_vector_minimum():
    with pytest.raises(DecodeError):
        Reader(b"\x00").bytes8(1)
    with pytest.raises(DecodeError):
        Reader(b"\x00\x01x").bytes16(2)
    assert Reader(b"\x00\x02xy").bytes16(2) == b"xy"


def test_sub_reader_cannot_read_past_its_end():
    r = Reader(b"\x02ab\xff\xff\xff\xff")
    sub = r.vec8()
    assert sub.raw(2) == b"ab"
    with pytest.raises(DecodeError):
        sub.u8()
    assert r.u32() == 0xFFFFFFFF


def test_nested_vectors_are_bounded_by_the_parent():
    # An inner length that fits the whole buffer but not its parent vector.
    r = Reader(b"\x00\x03\x00\x05abcdefgh")
    sub = r.vec16()
    with pytest.raises(DecodeError):
        sub.vec16()


def test_end_refuses_trailing_bytes():
    r = Reader(b"\x01\x02")
    r.u8()
    with pytest.raises(DecodeError):
        r.end()
    r.u8()
    r.end()


def test_u16_lists():
    assert Reader(b"\x00\x04\x13\x01\x13\x02").u16_list() == [0x1301, 0x1302]
    assert Reader(b"\x04\x03\x04\x03\x03").u16_list8() == [0x0304, 0x0303]
    for bad in (b"\x00\x03\x13\x01\x13", b"\x00\x00", b"\x00\x04\x13\x01"):
        with pytest.raises(DecodeError):
            Reader(bad).u16_list()
    with pytest.raises(DecodeError):
        Reader(b"\x01\x03").u16_list8()


def test_reader_with_start_and_end():
    r = Reader(b"xx\x00\x01yy", 2, 4)
    assert r.remaining == 2 and r.u16() == 1
    with pytest.raises(DecodeError):
        r.u8()


def test_reader_accepts_bytearray_and_memoryview():
    for data in (bytearray(b"\x01\x02"), memoryview(b"\x01\x02")):
        assert Reader(data).u16() == 0x0102


# --- Writer ----------------------------------------------------------------------------------

def test_writer_integers():
    w = Writer()
    w.u8(1)
    w.u16(0x0203)
    w.u24(0x040506)
    w.u32(0x0708090A)
    assert w.getvalue() == bytes.fromhex("01 0203 040506 0708090a")


@pytest.mark.parametrize("method,value", [("u8", 256), ("u16", 1 << 16), ("u24", 1 << 24),
                                          ("u32", 1 << 32), ("u8", -1)])
def test_writer_refuses_out_of_range_integers(method, value):
    with pytest.raises((ValueError, OverflowError, struct.error)):
        getattr(Writer(), method)(value)


def test_writer_vectors():
    w = Writer()
    w.bytes8(b"a")
    w.bytes16(b"bc")
    w.bytes24(b"def")
    w.u16_list([1, 2], prefix=1)
    w.u16_list([3])
    assert w.getvalue() == (b"\x01a" b"\x00\x02bc" b"\x00\x00\x03def" b"\x04\x00\x01\x00\x02"
                            b"\x00\x02\x00\x03")


def test_prefixed_patches_nested_lengths():
    w = Writer()
    with w.prefixed(2):
        w.u8(9)
        with w.prefixed(3):
            w.raw(b"xyz")
        with w.prefixed(1):
            pass
    assert w.getvalue() == b"\x00\x08\x09\x00\x00\x03xyz\x00"


def test_prefixed_refuses_overlong_bodies():
    w = Writer()
    with pytest.raises(ValueError), w.prefixed(1):
        w.raw(bytes(256))
    w = Writer()
    with w.prefixed(1):
        w.raw(bytes(255))
    assert w.getvalue()[0] == 255


def test_writer_appends_to_a_given_buffer():
    buf = bytearray(b"hdr")
    w = Writer(buf)
    w.u8(0)
    assert buf == b"hdr\x00"


# --- round trips -----------------------------------------------------------------------------

@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["u8", "u16", "u24", "u32", "bytes8", "bytes16",
                                           "bytes24"]), st.data()), max_size=12))
def test_writer_reader_round_trip(items):
    limits = {"u8": 1 << 8, "u16": 1 << 16, "u24": 1 << 24, "u32": 1 << 32}
    values = []
    w = Writer()
    for kind, data in items:
        if kind in limits:
            v = data.draw(st.integers(0, limits[kind] - 1))
        else:
            v = data.draw(st.binary(max_size=300 if kind != "bytes8" else 255))
        getattr(w, kind)(v)
        values.append((kind, v))
    encoded = w.getvalue()
    r = Reader(encoded)
    assert [(k, getattr(r, k)()) for k, _ in values] == values
    r.end()
    # Any truncation of a non-empty encoding fails somewhere with DecodeError.
    if encoded:
        cut = Reader(encoded[:-1])
        with pytest.raises(DecodeError):
            for k, _ in values:
                getattr(cut, k)()
            cut.end()


@SETTINGS
@given(st.binary(max_size=64))
def test_random_bytes_only_raise_decode_error(data):
    r = Reader(data)
    try:
        while True:
            choice = r.u8() % 5
            if choice == 0:
                r.vec8().rest()
            elif choice == 1:
                r.vec16(1).u16_list(2)
            elif choice == 2:
                r.bytes24()
            elif choice == 3:
                r.u16_list8()
            else:
                r.end()
                return
    except DecodeError:
        pass
