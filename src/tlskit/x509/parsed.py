"""Certificates parsed once, with the DER they came from.

A server presents the same chain to every client, so a client that parses what arrives
through `load_der` gets the same objects back on each handshake: cryptography keeps their
public keys and extensions once loaded (loading an EC key validates the point, which
costs more than the parse). `der_of` hands the analysis in `certinfo` the received bytes
instead of re-encoding the certificate. Only parsing is shared: every validation still
runs every check. Both maps are bounded: past `MAX_ENTRIES` the least recently used
certificate leaves both (a client that talks to many servers keeps the ones it meets
again, where clearing everything made it parse each of them anew). The maps are plain
dicts in insertion order, moved to the end on use; each dict operation is atomic, so
concurrent handshakes at worst parse or encode once more.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

MAX_ENTRIES = 1024
_BY_DER: dict[bytes, x509.Certificate] = {}
# id -> (certificate, DER); the entry holds the certificate, so its id is not reused
# while the entry exists, and the identity is checked on lookup all the same.
_DER_BY_ID: dict[int, tuple[x509.Certificate, bytes]] = {}


def load_der(der: bytes) -> x509.Certificate:
    """`x509.load_der_x509_certificate`, answered from the cache for DER seen before
    (raises what cryptography raises for bytes it cannot parse)."""
    if type(der) is not bytes:  # a view or bytearray: hashable, immutable bytes as the key
        der = bytes(der)
    cert = _BY_DER.pop(der, None)
    if cert is None:
        cert = x509.load_der_x509_certificate(der)
        if len(_BY_DER) >= MAX_ENTRIES:
            _evict_oldest()
        if len(_DER_BY_ID) >= 2 * MAX_ENTRIES:  # (only racing parses leave extra entries)
            _DER_BY_ID.clear()
        _DER_BY_ID[id(cert)] = (cert, der)
    _BY_DER[der] = cert  # (re)inserted last: the most recently used
    return cert


def _evict_oldest() -> None:
    """Drop the least recently used certificate from both maps."""
    try:
        der = next(iter(_BY_DER))
        cert = _BY_DER.pop(der)
    except (StopIteration, KeyError, RuntimeError):  # emptied or changed by another thread
        return
    _DER_BY_ID.pop(id(cert), None)


def der_of(cert: x509.Certificate) -> bytes:
    """The certificate's DER: as received when `load_der` parsed it, else encoded."""
    entry = _DER_BY_ID.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[1]
    return cert.public_bytes(Encoding.DER)


# cryptography reports ASN.1 trouble in its Rust parser's debug format; these say the same
# in words (`describe_parse_error`).
_PARSE_KINDS = {
    "ShortData": "the data ends early (truncated, or not DER at all)",
    "UnexpectedTag": "an unexpected ASN.1 element",
    "InvalidValue": "an invalid value",
    "InvalidLength": "an invalid length",
    "ExtraData": "extra bytes after the end",
    "IntegerOverflow": "an integer too large",
    "InvalidSetOrdering": "a SET out of order (not DER)",
    "EncodedDefault": "a default value encoded (not DER)",
    "OidTooLong": "an object identifier too long",
    "UnknownDefinedBy": "an unknown algorithm identifier",
}
_KIND = re.compile(r"kind: (\w+)")
_LOCATION = re.compile(r"location: \[([^\]]*)\]")
_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")


def pem_labels(data: bytes) -> list[str]:
    """The labels of the PEM blocks in ``data`` (``CERTIFICATE``, ``PRIVATE KEY`` ...),
    in file order: what a file holds when it is not what was asked for."""
    return [label.decode("ascii") for label in _PEM_BEGIN.findall(data)]


def describe_parse_error(exc: BaseException) -> str:
    """What cryptography's message for bytes it could not load means, in words: the
    problem and, for DER, where in the structure (``tbs_cert > validity > not_before``)."""
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], int):
        # cryptography's name reading looks the value's tag up among the string types
        return f"a name attribute value of an unknown ASN.1 string type (tag {exc.args[0]})"
    text = str(exc)
    if "MalformedFraming" in text or "Unable to load PEM" in text:
        return "no well-formed PEM block (-----BEGIN ...----- to -----END ...-----)"
    if text.startswith("Could not deserialize key data"):
        detail = text.partition("Details: ")[2]
        return ("not a private key cryptography can read (another format, encrypted "
                "without the password, or an unsupported key type)" +
                (f": {detail}" if detail else ""))
    kind = _KIND.search(text)
    if kind is None:
        return text
    words = _PARSE_KINDS.get(kind.group(1), kind.group(1))
    where = _LOCATION.search(text)
    if where:
        path = [part.strip().strip('"').rpartition("::")[2] for part in where.group(1).split(",")]
        words += f" at {' > '.join(p for p in path if p)}"
    return f"not valid DER: {words}"
