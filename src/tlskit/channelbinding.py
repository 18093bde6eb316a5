"""Channel bindings: what an authentication protocol run inside TLS (SCRAM-*-PLUS, GSS-API,
HTTP token binding schemes) binds itself to, so that a man in the middle who terminates
TLS cannot relay it (RFC 5056).

- ``tls-exporter`` (RFC 9266 2): 32 bytes of the exporter with the label
  "EXPORTER-Channel-Binding" and a zero-length context. TLS 1.3, or TLS 1.2 only with the
  extended master secret (RFC 9266 4.2: without RFC 7627 two connections can be made to
  share their master secret, the triple handshake, so the value would bind nothing).
- ``tls-server-end-point`` (RFC 5929 4.1): a hash of the server's end-entity certificate
  (its DER, as sent): the hash of the certificate's signature algorithm, with MD5 and
  SHA-1 replaced by SHA-256; undefined for an algorithm that uses no single hash.
- ``tls-unique`` (RFC 5929 3.1): TLS 1.2's first Finished; none in TLS 1.3 (RFC 9266
  1), and refused here without the extended master secret (RFC 7627 1).

`Connection.channel_binding` is the entry point; `tls_server_end_point` is the
certificate rule alone.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from .errors import UsageError

__all__ = ["CHANNEL_BINDING_TYPES", "EXPORTER_LABEL", "EXPORTER_LENGTH", "tls_server_end_point"]

# The types `Connection.channel_binding` knows (the IANA channel-binding type names).
CHANNEL_BINDING_TYPES = ("tls-exporter", "tls-server-end-point", "tls-unique")

# RFC 9266 2: the exporter's label (ASCII, no terminating NUL), and its length in bytes;
# the context is the zero-length string.
EXPORTER_LABEL = b"EXPORTER-Channel-Binding"
EXPORTER_LENGTH = 32

# RFC 5929 4.1: a certificate signed with MD5 or SHA-1 is hashed with SHA-256 instead.
_UPGRADED = frozenset({"md5", "sha1"})


def check_type(cb_type: str) -> None:
    """An unknown channel-binding type is a ValueError naming the known ones."""
    if cb_type not in CHANNEL_BINDING_TYPES:
        raise ValueError(f"unknown channel binding type {cb_type!r}: tlskit knows "
                         + ", ".join(repr(t) for t in CHANNEL_BINDING_TYPES))


def tls_server_end_point(cert: x509.Certificate) -> bytes:
    """RFC 5929 4.1's tls-server-end-point for the server's end-entity certificate: the
    hash of its DER with the hash function of its signatureAlgorithm (MD5 and SHA-1:
    SHA-256). Refused (`UsageError`) where RFC 5929 leaves it undefined, an algorithm
    using no single hash function: Ed25519 and Ed448 (PostgreSQL, over OpenSSL, refuses
    them too, while some Go libraries quietly take SHA-256, a value RFC 5929 never
    defined), and RSA-PSS whose MGF1 hash differs from its message hash (RSA-PSS with
    one hash for both, the usual form, uses that hash, as PostgreSQL and Go do)."""
    try:
        algorithm = cert.signature_hash_algorithm  # (None for EdDSA; PSS: its hash)
        params = cert.signature_algorithm_parameters
    except (UnsupportedAlgorithm, ValueError) as exc:
        raise UsageError("tls-server-end-point cannot be computed for this certificate: "
                         f"its signature algorithm ({_algorithm_name(cert)}) is not "
                         f"supported ({exc})") from exc
    if algorithm is None:
        raise UsageError(
            "tls-server-end-point is undefined for this certificate: its signature "
            f"algorithm ({_algorithm_name(cert)}) uses no single hash function (RFC 5929 "
            "4.1); use tls-exporter (RFC 9266) instead")
    if isinstance(params, padding.PSS):
        mgf_hash = getattr(params.mgf, "_algorithm", algorithm)  # (MGF1's hash)
        if mgf_hash.name != algorithm.name:
            raise UsageError(
                "tls-server-end-point is undefined for this certificate: its RSA-PSS "
                f"signature hashes with {algorithm.name} and masks with MGF1-"
                f"{mgf_hash.name}, two hash functions (RFC 5929 4.1); use tls-exporter "
                "(RFC 9266) instead")
    if algorithm.name in _UPGRADED:
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(cert.public_bytes(Encoding.DER))
    return digest.finalize()


def _algorithm_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", None)
    return name if name and name != "Unknown OID" else oid.dotted_string
