#!/usr/bin/env python3
"""Fuzz the local CA's index loader (`tlskit.ca.index.load_index`): index.json is read
from the CA directory on every `tlskit ca` command and by the OCSP/CRL responder, and a
hand-edited or half-written file must be refused with a CAError, not a traceback.

With atheris installed:   python fuzz/fuzz_ca_index.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_ca_index.py [ITERATIONS] [SEED]

The contract under test: `load_index` returns (records, crl_number) or raises `CAError`;
what it returns dumps (`dump_index`) to a file that loads back to the same thing; a
`LocalCA` whose index.json is the input answers `status`, `revocations`, `crl` (the
revoked entries) and an OCSP request about a serial in the index, or raises `CAError`.
The input is the file's bytes.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

from _harness import main, seeded
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from tlskit import _ocsp_der
from tlskit.ca import LocalCA
from tlskit.ca.index import Record, dump_index, load_index
from tlskit.ca.model import CAError, Revocation

AT = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
INDEX = Path(tempfile.mkdtemp(prefix="fuzz_ca_index")) / "index.json"
_CA: list[LocalCA] = []


def _ca() -> LocalCA:
    """One CA on disk per process (its keys take a while to make); each input replaces
    its index.json."""
    if not _CA:
        _CA.append(LocalCA.create(INDEX.parent, clock=lambda: AT))
        _request(_CA[0], 1)  # issues the one certificate it needs now, not mid-input
    return _CA[0]


def _request(ca: LocalCA, serial: int) -> bytes:
    """An OCSP request about ``serial``: a real request's CertID hashes, the serial swapped."""
    if not _CERT_ID:
        leaf = ca.issue_server(["req.test"]).certificate
        der = (ocsp.OCSPRequestBuilder().add_certificate(leaf, ca.intermediate, hashes.SHA1())
               .build().public_bytes(serialization.Encoding.DER))
        cert_id = _ocsp_der.parse_request(der).cert_ids[0]
        _, body, end = _ocsp_der._tlv(cert_id.raw, 0, len(cert_id.raw))
        fields = _ocsp_der._children(cert_id.raw, body, end)
        _CERT_ID.append(cert_id.raw[fields[0][1]:fields[2][3]])  # hash algorithm, both hashes
    number = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    cert_id = _ocsp_der.tlv(0x30, _CERT_ID[0] + _ocsp_der.tlv(0x02, number))
    for _ in range(4):  # Request, requestList, tbsRequest, OCSPRequest
        cert_id = _ocsp_der.tlv(0x30, cert_id)
    return cert_id


_CERT_ID: list[bytes] = []


def _load(raw: bytes) -> tuple[dict[int, Record], int] | None:
    INDEX.write_bytes(raw)
    try:
        return load_index(INDEX)
    except CAError:
        return None


def TestOneInput(data: bytes) -> None:
    loaded = _load(data)
    if loaded is None:
        return
    assert _load(dump_index(*loaded)) == loaded
    ca = _ca()
    INDEX.write_bytes(data)
    records, _ = loaded
    try:
        for serial in list(records)[:4]:
            assert ca.status(serial) in ("good", "revoked")
        assert len(ca.revocations()) == sum(1 for r in records.values() if r.revocation)
        ca.crl()
        if records:
            ca.answer_ocsp(_request(ca, min(records)))
    except CAError:
        pass


def seeds() -> list[bytes]:
    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    records = {
        1: Record("server", ["a.test", "b.test"], at, None),
        0x1F2E: Record("client", ["alice"], at,
                       Revocation(0x1F2E, x509.ReasonFlags.key_compromise, at)),
    }
    return [dump_index(records, 3), dump_index({}, 0), b"{}", b"[]",
            dump_index(records, 0).replace(b'"kind"', b'"kinds"')]


random_input = seeded(seeds, raw_max=80, keep=0, rounds=3,
                      interesting=(0x22, 0x5B, 0x7B, 0x30, 0x7D, 0x5D, 0xFF))

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
