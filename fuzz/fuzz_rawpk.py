#!/usr/bin/env python3
"""Fuzz the RFC 7250 raw public key readers: the certificate type lists of a ClientHello
(`wire.extensions.decode_cert_types`), the server's one-byte answer (`decode_cert_type`),
the TLS 1.2 raw key Certificate (`wire.messages12.RawKeyCertificate12`) and the pinned-key
check every raw key Certificate goes through (`handshake.common.read_raw_key`), and the
RFC 4055 parameters of an RSASSA-PSS key (`x509.der.spki_pss_params`, for raw keys and
certificates alike) with the PKCS #8 reader of `RawPublicKey.from_file`
(`config.pss_spki_from_pem`).

With atheris installed:   python fuzz/fuzz_rawpk.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_rawpk.py [ITERATIONS] [SEED]

The contract under test: the decoders raise only decode_error, and what they return
encodes back to the input; `read_raw_key` returns a key whose SPKI is a pin (byte for
byte) or raises `BadCertificate`; `spki_pss_params` returns parameters or None, or
raises `DERError`; `pss_spki_from_pem` returns bytes, never raises.

In a handshake (selector 4): a TLS 1.2 client pinning a key reads a real server's
flight whose Certificate body is the input; only `TLSError`, never internal_error.

Input layout: byte 0 selects the reader (modulo 6); the rest is its input (for
`read_raw_key`, cut at each 0xff byte into Certificate entries; for selector 5, an SPKI,
and the same bytes as a PEM private key's body).
"""

from __future__ import annotations

import base64
import sys

from _harness import main, seeded
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tlskit import ClientConfig, ClientConnection, RawPublicKey, ServerConfig, ServerConnection
from tlskit.config import pss_spki_from_pem
from tlskit.enums import AlertDescription as AD
from tlskit.errors import BadCertificate, TLSError
from tlskit.handshake.common import read_raw_key
from tlskit.wire import extensions as ext
from tlskit.wire import messages12 as m12
from tlskit.x509.der import DERError, PssParams, spki_pss_params

_SPKI = PublicFormat.SubjectPublicKeyInfo
PINS = frozenset({
    ec.derive_private_key(7, ec.SECP256R1()).public_key().public_bytes(Encoding.DER, _SPKI),
    ed25519.Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key().public_bytes(
        Encoding.DER, _SPKI)})


_SERVER_KEY = RawPublicKey(ec.derive_private_key(7, ec.SECP256R1()))
_CLIENT = ClientConfig(pinned_server_keys=sorted(PINS), versions=["TLSv1.2"])


def _server_flight() -> list[bytes]:
    """A real TLS 1.2 server's first flight to a pinning client, record by record."""
    client = ClientConnection(_CLIENT, "localhost")
    server = ServerConnection(ServerConfig(raw_public_key=_SERVER_KEY, versions=["TLSv1.2"]))
    server.receive_data(client.data_to_send())
    out, records = server.data_to_send(), []
    while out:
        n = 5 + int.from_bytes(out[3:5], "big")
        records.append(out[:n])
        out = out[n:]
    return records


FLIGHT = _server_flight()


def _in_handshake(body: bytes) -> None:
    message = b"\x0b" + len(body).to_bytes(3, "big") + body
    records = [rec[:3] + len(message).to_bytes(2, "big") + message if rec[5] == 0x0B
               else rec for rec in FLIGHT]
    client = ClientConnection(_CLIENT, "localhost")
    client.data_to_send()
    try:
        client.receive_data(b"".join(records))
    except TLSError as exc:
        assert exc.alert != AD.internal_error, repr(exc)


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    which, body = data[0] % 6, data[1:]
    if which == 4:
        _in_handshake(body[:16000])
        return
    if which == 5:
        _pss(body)
        return
    try:
        if which == 0:
            types = ext.decode_cert_types(body, "server_certificate_type")
            assert ext.encode_cert_types(types) == body
        elif which == 1:
            assert ext.encode_cert_type(ext.decode_cert_type(body, "x")) == body
        elif which == 2:
            cert = m12.RawKeyCertificate12.decode(body)
            assert not cert.spki or cert.encode()[4:] == body
        else:
            try:
                key = read_raw_key(body.split(b"\xff"), PINS, "server", "pinned_server_keys")
            except BadCertificate:
                return
            assert key.spki in PINS and key.spki == body
    except TLSError as exc:
        assert which != 3 and exc.alert == AD.decode_error, exc


def _pss(body: bytes) -> None:
    try:
        params = spki_pss_params(body)
    except DERError:
        params = None
    assert params is None or isinstance(params, PssParams)
    pem = b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(body) + \
        b"-----END PRIVATE KEY-----\n"
    assert isinstance(pss_spki_from_pem(pem, _SERVER_KEY.private_key), bytes)


# An RSASSA-PSS SPKI restricted to SHA-384 (RFC 4055 parameters), with a stub key.
_PSS_ALGORITHM = bytes.fromhex(
    "303d06092a864886f70d01010a3030a00d300b0609608648016503040202a11a301806092a864886f7"
    "0d010108300b0609608648016503040202a203020130")
_PSS_SPKI = bytes([0x30, len(_PSS_ALGORITHM) + 5]) + _PSS_ALGORITHM + b"\x03\x03\x00\x30\x00"


def seeds() -> list[bytes]:
    pins = sorted(PINS)
    return [b"\x00\x02\x02\x00", b"\x00\x01\x02", b"\x01\x02", b"\x01\x00",
            b"\x02" + len(pins[0]).to_bytes(3, "big") + pins[0], b"\x02\x00\x00\x00",
            b"\x03" + pins[0], b"\x03" + pins[1], b"\x03" + pins[0][:-1] + b"\x00",
            b"\x04" + len(_SERVER_KEY.spki).to_bytes(3, "big") + _SERVER_KEY.spki,
            b"\x05" + _PSS_SPKI]


random_input = seeded(seeds, raw_max=120, keep=1, rounds=3, interesting=(0, 1, 2, 0x30, 0xFF))

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
