"""`split_certificate`'s one-pass reader of the common certificate shape agrees with the
element-by-element reader on every input: the same pieces when it answers, and for
anything it does not answer the checked reader's result or DERError."""

from __future__ import annotations

from functools import cache

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from tlskit.x509.der import DERError, _split_checked, _split_common, split_certificate

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
