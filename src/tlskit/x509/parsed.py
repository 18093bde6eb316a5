"""Certificates parsed once, with the DER they came from.

A server presents the same chain to every client, so a client that parses what arrives
through `load_der` gets the same objects back on each handshake: cryptography keeps their
public keys and extensions once loaded (loading an EC key validates the point, which
costs more than the parse). `der_of` hands the analysis in `certinfo` the received bytes
instead of re-encoding the certificate. Only parsing is shared: every validation still
runs every check. Both maps are bounded and cleared together (each `clear()` is atomic,
so concurrent handshakes at worst parse or encode once more).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

MAX_ENTRIES = 128
_BY_DER: dict[bytes, x509.Certificate] = {}
# id -> (certificate, DER); the entry holds the certificate, so its id is not reused
# while the entry exists, and the identity is checked on lookup all the same.
_DER_BY_ID: dict[int, tuple[x509.Certificate, bytes]] = {}


def load_der(der: bytes) -> x509.Certificate:
    """`x509.load_der_x509_certificate`, answered from the cache for DER seen before
    (raises what cryptography raises for bytes it cannot parse)."""
    if type(der) is not bytes:  # a view or bytearray: hashable, immutable bytes as the key
        der = bytes(der)
    cert = _BY_DER.get(der)
    if cert is None:
        cert = x509.load_der_x509_certificate(der)
        if len(_BY_DER) >= MAX_ENTRIES:
            _BY_DER.clear()
            _DER_BY_ID.clear()
        _BY_DER[der] = cert
        _DER_BY_ID[id(cert)] = (cert, der)
    return cert


def der_of(cert: x509.Certificate) -> bytes:
    """The certificate's DER: as received when `load_der` parsed it, else encoded."""
    entry = _DER_BY_ID.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[1]
    return cert.public_bytes(Encoding.DER)
