#!/usr/bin/env python3
"""Fuzz the PEM and DER file readers: `tlskit.config.load_pem_chain` and
`load_pem_private_key` (every ``--cert``/``--key`` and ServerConfig file), the compat
SSLContext's `load_verify_locations` (``cafile`` with certificates and CRLs, ``cadata``
as DER bytes or PEM text) and `load_cert_chain`, and ``tlskit verify``'s certificate and
CRL file readers.

With atheris installed:   python fuzz/fuzz_pem.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_pem.py [ITERATIONS] [SEED]

The contract under test: the config readers raise only ValueError (TypeError for a key
that wants a password), naming the file; the compat calls raise only `ssl.SSLError`, as
the ssl module does; ``tlskit verify``'s readers only its `InputError`. Byte 0 of the
input picks the reader, the rest is the file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl
import sys
import tempfile
from pathlib import Path

from _harness import main, seeded
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tlskit.cli.verify import InputError, load_certificates, load_crls
from tlskit.compat.context import SSLContext
from tlskit.config import load_pem_chain, load_pem_private_key

FILE = Path(tempfile.mkdtemp(prefix="fuzz_pem")) / "file.pem"
READERS = 8


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    which, body = data[0] % READERS, data[1:]
    FILE.write_bytes(body)
    if which == 0:
        try:
            load_pem_chain(FILE)
        except ValueError as exc:
            assert str(FILE) in str(exc)
        return
    if which == 1:
        try:
            load_pem_private_key(FILE)
        except (ValueError, TypeError) as exc:
            assert str(FILE) in str(exc)
        return
    if which >= 6:
        with contextlib.suppress(InputError):
            (load_certificates if which == 6 else load_crls)(FILE)
        return
    ctx = SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        if which == 2:
            ctx.load_verify_locations(cafile=FILE)
        elif which == 3:
            ctx.load_verify_locations(cadata=body)
        elif which == 4:
            ctx.load_verify_locations(cadata=body.decode("latin-1"))
        else:
            ctx.load_cert_chain(FILE)
    except ssl.SSLError:
        pass


def _material() -> tuple[bytes, bytes, bytes, bytes]:
    key = ec.derive_private_key(0x9E3, ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pem.test")])
    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7).not_valid_before(at)
            .not_valid_after(at + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    crl = (x509.CertificateRevocationListBuilder().issuer_name(name).last_update(at)
           .next_update(at + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return (cert.public_bytes(serialization.Encoding.PEM), key_pem,
            crl.public_bytes(serialization.Encoding.PEM),
            cert.public_bytes(serialization.Encoding.DER))


def seeds() -> list[bytes]:
    cert, key, crl, der = _material()
    return [b"\x00" + cert + cert, b"\x01" + key, b"\x02" + cert + crl, b"\x03" + der + der,
            b"\x04" + cert, b"\x05" + cert + key, b"\x00" + key, b"\x02" + crl,
            b"\x06" + cert, b"\x06" + der, b"\x07" + crl]


random_input = seeded(seeds, raw_max=120, keep=1, rounds=3,
                      interesting=(0x2D, 0x0A, 0x30, 0x41, 0x80, 0xFF))

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
