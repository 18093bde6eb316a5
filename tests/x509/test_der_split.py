"""`split_certificate`'s one-pass reader of the common certificate shape agrees with the
element-by-element reader on every input: the same pieces when it answers, and for
anything it does not answer the checked reader's result or DERError."""

from __future__ import annotations

from functools import cache

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from tlskit.x509.der import (
    DERError,
    _common_tail,
    _extensions_tail,
    _split_checked,
    _split_common,
    split_certificate,
)

from . import pki


@cache
def _samples() -> tuple[bytes, ...]:
    """Real shapes: EC and RSA roots (an RSA key's SubjectPublicKeyInfo has a two-octet
    length) and leaves."""
    ec_root = pki.root("Split Root")
    rsa_root = pki.root("Split RSA Root", key_kind="rsa2048")
    leaf = pki.leaf("split.example", ec_root)
    big = pki.leaf("big.example", rsa_root, key_kind="rsa2048",
                   sans=[f"host{i}.example" for i in range(40)])
    return tuple(i.cert.public_bytes(Encoding.DER) for i in (ec_root, rsa_root, leaf, big))


def _outcome(der: bytes) -> object:
    try:
        return _split_checked(der)
    except DERError as exc:
        return ("DERError", str(exc))


def _same(der: bytes) -> None:
    fast = _split_common(der)
    expected = _outcome(der)
    if fast is not None:
        assert fast == expected
    try:
        got: object = split_certificate(der)
    except DERError as exc:
        got = ("DERError", str(exc))
    assert got == expected


def test_real_certificates_take_the_one_pass_reader() -> None:
    for der in _samples():
        assert _split_common(der) is not None
        _same(der)


@given(st.data())
def test_mutated_certificates_split_the_same(data: st.DataObject) -> None:
    der = bytearray(data.draw(st.sampled_from(_samples())))
    for _ in range(data.draw(st.integers(1, 3))):
        # Most structure lives in the first hundred bytes (headers, lengths, serial).
        at = data.draw(st.integers(0, min(len(der) - 1, 120)) | st.integers(0, len(der) - 1))
        how = data.draw(st.sampled_from(["set", "cut", "insert", "delete"]))
        if how == "set":
            der[at] = data.draw(st.integers(0, 255))
        elif how == "cut":
            del der[at:]
        elif how == "insert":
            der[at:at] = data.draw(st.binary(min_size=1, max_size=3))
        else:
            del der[at]
        if not der:
            break
    _same(bytes(der))


@given(st.binary(max_size=64))
def test_arbitrary_bytes_split_the_same(der: bytes) -> None:
    _same(der)


@pytest.mark.parametrize("cut", [0, 1, 4, 8, 30])
def test_truncated_certificate_is_the_checked_readers_error(cut: int) -> None:
    der = _samples()[2][:cut]
    assert _split_common(der) is None
    with pytest.raises(DERError):
        split_certificate(der)


def _element(tag: int, body: bytes, long_form: bool) -> bytes:
    """A DER element, its length in the long form (one or two octets) when asked: the
    forms the one-pass reader decodes itself."""
    n = len(body)
    if n < 0x80 and not long_form:
        return bytes([tag, n]) + body
    if n <= 0xFF:
        return bytes([tag, 0x81, n]) + body
    return bytes([tag, 0x82, n >> 8, n & 0xFF]) + body


def _reencoded(der: bytes, long_form: int) -> tuple[bytes, list[int]]:
    """The certificate with TBS element number ``long_form`` (-1: none) given a long-form
    length, and the offsets of every tag and length octet the one-pass reader reads."""
    outer = pki.der_elements(pki.der_body(der))
    items = pki.der_elements(pki.der_body(outer[0]))
    parts = [_element(item[0], pki.der_body(item), i == long_form)
             for i, item in enumerate(items)]
    tbs = _element(0x30, b"".join(parts), True)
    whole = _element(0x30, tbs + b"".join(outer[1:]), True)
    offsets = list(range(8))
    pos = 8
    for part in parts:
        offsets.extend(range(pos, pos + 4))  # tag, length octets, first content octet
        pos += len(part)
    offsets.extend(range(pos, pos + 3))  # the end of the TBS, the signatureAlgorithm
    return whole, [o for o in offsets if o < len(whole)]


# Octet values around the length encodings' edges.
_EDGES = (0x00, 0x01, 0x02, 0x30, 0x7F, 0x80, 0x81, 0x82, 0x83, 0xA0, 0xA3, 0xFF)


def test_every_header_octet_changed_splits_the_same() -> None:
    """Every tag and length octet the one-pass reader reads, set to each edge value (and
    to its neighbours), with each element's length in the short and the long forms: the
    reader answers as the checked one or declines. Not left to chance: an off-by-one in a
    bound or in the serial's offset fails here."""
    for sample in _samples():
        for long_form in range(-1, 7):
            der, offsets = _reencoded(sample, long_form)
            _same(der)
            assert _split_common(der) is not None
            for at in offsets:
                for value in {*_EDGES, (der[at] + 1) & 0xFF, (der[at] - 1) & 0xFF}:
                    mutated = bytearray(der)
                    mutated[at] = value
                    _same(bytes(mutated))


def test_every_truncation_splits_the_same() -> None:
    for sample in _samples():
        der, _ = _reencoded(sample, 1)
        for cut in range(len(der)):
            _same(der[:cut])


def _two_octet(tag: int, body: bytes) -> bytes:
    return bytes([tag, 0x82, len(body) >> 8, len(body) & 0xFF]) + body


def test_a_tbs_cut_anywhere_and_ending_the_input_splits_the_same() -> None:
    """The TBS cut short inside any element, its length and the certificate's made to
    agree, and nothing after it: the reader must not read past the end of the input."""
    for sample in _samples():
        der, _ = _reencoded(sample, 1)
        tbs_body = pki.der_body(pki.der_elements(pki.der_body(der))[0])
        for cut in range(len(tbs_body)):
            _same(_two_octet(0x30, _two_octet(0x30, tbs_body[:cut])))


def _length(n: int, form: int) -> bytes:
    """A DER length in the given form: 0 short, else that many octets after 0x80|form
    (also non-minimal ones, which `read_tlv` reads too)."""
    if form == 0:
        return bytes([n])
    return bytes([0x80 | form]) + n.to_bytes(form, "big")


def _fits(n: int, form: int) -> bool:
    return 0 <= n < (128 if form == 0 else 256 ** form)


def _tails() -> list[bytes]:
    """Extensions tails of every length form, right and wrong: [3] of a SEQUENCE, of
    another tag, lengths one short or one long, forms of 0 to 4 octets."""
    tails = [b"", b"\xa3", b"\xa3\x00", b"\xa3\x02\x30\x00", b"\x30\x00", b"\xa3\x80"]
    for size in (0, 5, 127, 200, 300):
        body = bytes(size)
        for tag in (0x30, 0x31):
            for inner_form in (0, 1, 2, 3, 4):
                if not _fits(size, inner_form):
                    continue
                inner = bytes([tag]) + _length(size, inner_form) + body
                for outer_form in (0, 1, 2, 3):
                    for delta in (-1, 0, 1):
                        if not _fits(len(inner) + delta, outer_form):
                            continue
                        tail = b"\xa3" + _length(len(inner) + delta, outer_form) + inner
                        tails.append(tail)
                        tails.append(tail[:-1])
    return tails


def test_the_usual_extensions_tail_is_read_in_place_as_the_checked_reader_reads_it() -> None:
    """`_common_tail` gives `_extensions_tail`'s answer for every tail and every end of
    the tbsCertificate around it, with the signature's octets after it."""
    after = b"\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02"
    for tail in _tails():
        der = b"\x30\x03\x02\x01\x01" + tail + after
        for tbs_end in range(5, len(der) + 1):
            assert _common_tail(der, 5, tbs_end) == _extensions_tail(der, 5, tbs_end), (
                tail.hex(), tbs_end)
