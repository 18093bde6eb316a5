#!/usr/bin/env python3
"""Fuzz the Certificate Transparency readers: the SignedCertificateTimestampList of the
signed_certificate_timestamp extension (`wire.sct.decode_sct_list`), one v1 SCT
(`wire.sct.decode_sct`) and the policy check over SCTs a server delivered
(`x509.ct.check_scts`, which decodes each SCT and verifies its signature), and the SCT
list extension of a certificate (`x509.ct.embedded_scts`, selector 3: the input is the
extension's value, DER and all), the same input read as a stapled OCSP response
(`x509.ct.stapled_scts`).

With atheris installed:   python fuzz/fuzz_sct.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_sct.py [ITERATIONS] [SEED]

The contract under test: the decoders raise only decode_error, and what they return
encodes back to the input; `check_scts` never raises and calls no SCT valid unless it
is the one a known log signed; `embedded_scts` and `stapled_scts` return a tuple of
non-empty SCTs.

Input layout: byte 0 selects the reader (modulo 4); the rest is its input.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import struct
import sys

from _harness import main, seeded
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID

from tlskit.enums import AlertDescription as AD
from tlskit.errors import TLSError
from tlskit.wire.sct import decode_sct, decode_sct_list, encode_sct_list
from tlskit.x509.ct import CTLog, SCTStatus, check_scts, embedded_scts, stapled_scts

_LOG_KEY = ec.derive_private_key(0xC7, ec.SECP256R1())
_LEAF_KEY = ec.derive_private_key(0x1EAF, ec.SECP256R1())
_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sct.fuzz")])
LEAF = (x509.CertificateBuilder().subject_name(_NAME).issuer_name(_NAME)
        .public_key(_LEAF_KEY.public_key()).serial_number(7)
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2040, 1, 1, tzinfo=dt.UTC))
        .sign(_LEAF_KEY, hashes.SHA256()))
LOG = CTLog(_LOG_KEY.public_key(), "fuzz log")
NOW_MS = 1_900_000_000_000


def _sct(timestamp: int = 1_700_000_000_000, extensions: bytes = b"") -> bytes:
    """A valid SCT from LOG over LEAF's x509_entry."""
    der = LEAF.public_bytes(serialization.Encoding.DER)
    signed = (b"\x00\x00" + struct.pack(">QH", timestamp, 0) + len(der).to_bytes(3, "big")
              + der + struct.pack(">H", len(extensions)) + extensions)
    sig = _LOG_KEY.sign(signed, ec.ECDSA(hashes.SHA256()))
    return (b"\x00" + LOG.log_id + struct.pack(">QH", timestamp, len(extensions)) + extensions
            + b"\x04\x03" + struct.pack(">H", len(sig)) + sig)


def _with_extension(value: bytes) -> x509.Certificate:
    """LEAF's fields with an SCT list extension whose extnValue is ``value``."""
    ext = x509.UnrecognizedExtension(ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS,
                                     value)
    return (x509.CertificateBuilder().subject_name(_NAME).issuer_name(_NAME)
            .public_key(_LEAF_KEY.public_key()).serial_number(7)
            .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
            .not_valid_after(dt.datetime(2040, 1, 1, tzinfo=dt.UTC))
            .add_extension(ext, critical=False).sign(_LEAF_KEY, hashes.SHA256()))


VALID = _sct()
VALID_ID = hashlib.sha256(VALID).digest()


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    which, body = data[0] % 4, data[1:]
    if which == 3:
        scts = embedded_scts(_with_extension(body[:2000]))
        assert isinstance(scts, tuple) and all(scts)
        stapled = stapled_scts(body)
        assert isinstance(stapled, tuple) and all(stapled)
        return
    if which == 2:
        try:
            scts = decode_sct_list(body)
        except TLSError as exc:
            assert exc.alert == AD.decode_error, exc
            return
        for check in check_scts([LOG], LEAF, None, scts, NOW_MS):
            assert check.status is not SCTStatus.valid or check.sct is not None
        return
    try:
        if which == 0:
            assert encode_sct_list(decode_sct_list(body)) == body
        else:
            assert decode_sct(body).encode() == body
    except TLSError as exc:
        assert exc.alert == AD.decode_error, exc


@functools.cache
def seeds() -> list[bytes]:
    other = _sct(5, b"ext")
    listed = encode_sct_list([VALID, other])
    return [b"\x00" + listed, b"\x00" + encode_sct_list([b"x"]), b"\x00\x00\x00",
            b"\x01" + VALID, b"\x01" + other, b"\x01\x01" + VALID[1:],
            b"\x02" + listed, b"\x02" + encode_sct_list([VALID[:-1] + b"\x00"]),
            b"\x03\x04" + bytes([len(listed)]) + listed if len(listed) < 128
            else b"\x03\x04\x81" + bytes([len(listed)]) + listed,
            b"\x03\x04\x00", b"\x03\x30\x00"]


random_input = seeded(seeds, raw_max=200, keep=1, rounds=3, interesting=(0, 1, 2, 0x04, 0xFF))

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
