"""`describe_parse_error`: cryptography's messages for bytes it cannot load, in words, so
a CLI line or a bad_certificate reason says what is wrong without Rust debug output."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding

from tlskit.x509.parsed import describe_parse_error

from . import pki


def _error(fn, data: bytes) -> ValueError:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError) as info:
        fn(data)
    return info.value


def _der_with_bad_not_before() -> bytes:
    der = bytearray(pki.simple_chain().leaf.cert.public_bytes(Encoding.DER))
    at = der.index(b"\x17\x0d")  # the first UTCTime: notBefore
    der[at] = 0x04               # an OCTET STRING where the time belongs
    return bytes(der)


@pytest.mark.parametrize(("fn", "data", "expected"), [
    (x509.load_der_x509_certificate, b"hello",
     "not valid DER: the data ends early (truncated, or not DER at all)"),
    (x509.load_der_x509_certificate, _der_with_bad_not_before(),
     "not valid DER: an unexpected ASN.1 element at tbs_cert > validity > not_before"),
    (x509.load_pem_x509_certificates, b"not a certificate\n",
     "no well-formed PEM block (-----BEGIN ...----- to -----END ...-----)"),
])
def test_certificate_errors_in_words(fn, data: bytes, expected: str) -> None:  # type: ignore[no-untyped-def]
    message = describe_parse_error(_error(fn, data))
    assert message == expected
    assert "ParseError" not in message and "Tag {" not in message


def test_private_key_error_names_the_likely_causes() -> None:
    pem = b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"
    message = describe_parse_error(
        _error(lambda d: serialization.load_pem_private_key(d, None), pem))
    assert message.startswith("not a private key cryptography can read (another format, "
                              "encrypted without the password, or an unsupported key type)")


def test_other_messages_pass_through() -> None:
    assert describe_parse_error(ValueError("something else")) == "something else"
