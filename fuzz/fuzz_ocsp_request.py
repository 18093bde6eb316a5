#!/usr/bin/env python3
"""Fuzz tlskit's own OCSP DER readers: `_ocsp_der.parse_request` (the local CA's
responder reads every OCSPRequest a client POSTs or GETs with it) and the
singleExtensions reader of a multi-answer OCSP response
(`x509.ocsp._critical_single_extensions`, reached for stapled and fetched responses).

With atheris installed:   python fuzz/fuzz_ocsp_request.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_ocsp_request.py [ITERATIONS] [SEED]

The contract under test: `parse_request` returns a Request with 1..N CertIDs, each whose
raw bytes lie inside the input, and a nonce Extension (re-encoded) whose value does too,
or raises `OcspDERError`; the singleExtensions reader
returns dotted OIDs or raises a ValueError (`DERError`, `OcspDERError`), which the
caller turns into "malformed response".

Byte 0 of the input picks the reader: even, the rest is an OCSPRequest; odd, the rest is
a ResponseData and byte 0 // 2 % 4 the SingleResponse asked about.
"""

from __future__ import annotations

import datetime as dt
import sys

from _harness import main, seeded
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from tlskit import _ocsp_der
from tlskit.x509.ocsp import _critical_single_extensions

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    body = data[1:]
    if data[0] % 2 == 0:
        try:
            request = _ocsp_der.parse_request(body)
        except _ocsp_der.OcspDERError:
            return
        assert request.cert_ids
        for cert_id in request.cert_ids:
            assert cert_id.raw in body
        if request.nonce_extension is not None:  # re-encoded, non-critical, same value
            ext = request.nonce_extension
            (oid, _, _, _), (tag, _, lo, hi) = _ocsp_der._children(ext, 2, len(ext))
            assert oid == 0x06 and tag == 0x04 and ext[lo:hi] in body
        return
    try:
        found = _critical_single_extensions(body, data[0] // 2 % 4)
    except ValueError:
        return
    assert all(isinstance(oid, str) and oid for oid in found)


def _pki() -> tuple[x509.Certificate, x509.Certificate]:
    key = ec.derive_private_key(0xF022, ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz ocsp")])

    def make(serial: int) -> x509.Certificate:
        return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(serial)
                .not_valid_before(T0).not_valid_after(T0 + dt.timedelta(days=30))
                .sign(key, hashes.SHA256()))
    return make(1), make(0x1234)


def seeds() -> list[bytes]:
    issuer, leaf = _pki()
    requests = []
    for algorithm, nonce in ((hashes.SHA1(), None), (hashes.SHA256(), b"n" * 16)):
        builder = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, algorithm)
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        requests.append(builder.build().public_bytes(serialization.Encoding.DER))
    cert_id = _ocsp_der.parse_request(requests[0]).cert_ids[0]
    odd = _ocsp_der.encode_oid("1.3.6.1.4.1.55555.3.10")
    critical = _ocsp_der.tlv(0x30, odd + b"\x01\x01\xff" + _ocsp_der.tlv(0x04, b"\x05\x00"))
    single = _ocsp_der.SingleResponse(cert_id, "good", T0, T0 + dt.timedelta(days=1))
    revoked = _ocsp_der.SingleResponse(cert_id, "revoked", T0, T0 + dt.timedelta(days=1),
                                       revoked_at=T0, reason_code=1)
    plain = _ocsp_der.response_data(bytes(20), T0, [single, revoked], None)
    # The same answers, the second with a critical singleExtension (the encoder has none).
    second = revoked.encode()
    inner = second[2:] + _ocsp_der.tlv(0xA1, _ocsp_der.tlv(0x30, critical))
    answers = single.encode() + _ocsp_der.tlv(0x30, inner)
    tbs = _ocsp_der.tlv(0x30, _ocsp_der.tlv(0xA2, _ocsp_der.tlv(0x04, bytes(20)))
                        + _ocsp_der.tlv(0x18, b"20250101000000Z") + _ocsp_der.tlv(0x30, answers))
    return [b"\x00" + r for r in requests] + [b"\x01" + plain, b"\x03" + tbs, b"\x03" + plain]


random_input = seeded(seeds, raw_max=120, keep=1, rounds=3,
                      interesting=(0, 1, 0x30, 0x80, 0x81, 0xA0, 0xA1, 0xFF))

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
