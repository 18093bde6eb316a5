"""Certificate Transparency structures as TLS carries them (RFC 6962 3.2, 3.3).

The signed_certificate_timestamp extension (and the X.509 and OCSP extensions of the
same name) holds a SignedCertificateTimestampList: a list of opaque SerializedSCTs, each
one SCT in its own length prefix so that a client can skip versions it does not know.
The list codec here is strict (RFC 6962 3.3: at least one SCT, none empty, nothing
after the list): any breach is a DecodeError (decode_error). `decode_sct` reads one
version 1 SCT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import DecodeError
from .codec import Reader, Writer

# RFC 6962 3.2: Version v1(0); the only version defined.
SCT_V1 = 0
LOG_ID_LENGTH = 32  # the SHA-256 of the log's SubjectPublicKeyInfo
MAX_SCT_LIST = 0xFFFF  # RFC 6962 3.3: sct_list<1..2^16-1>


def encode_sct_list(scts: Sequence[bytes]) -> bytes:
    """SignedCertificateTimestampList (RFC 6962 3.3) holding these serialized SCTs.

    Raises ValueError for an empty list, an empty SCT or one too long to be framed."""
    if not scts:
        raise ValueError("a SignedCertificateTimestampList holds at least one SCT "
                         "(RFC 6962 3.3)")
    for sct in scts:
        if not 0 < len(sct) <= MAX_SCT_LIST:
            raise ValueError(f"a serialized SCT is 1..65535 bytes (RFC 6962 3.3), "
                             f"not {len(sct)}")
    total = sum(2 + len(sct) for sct in scts)
    if total > MAX_SCT_LIST:
        raise ValueError(f"the SCTs add up to {total} bytes; a "
                         "SignedCertificateTimestampList holds at most 65535 (RFC 6962 3.3)")
    w = Writer()
    w.u16(total)
    for sct in scts:
        w.bytes16(bytes(sct))
    return w.getvalue()


def decode_sct_list(body: bytes) -> tuple[bytes, ...]:
    """The serialized SCTs of a SignedCertificateTimestampList, in order (RFC 6962 3.3:
    sct_list<1..2^16-1> of SerializedSCT<1..2^16-1>, nothing after it)."""
    try:
        r = Reader(body)
        items = r.vec16(1, "sct_list")
        r.end("signed_certificate_timestamp extension")
        scts = []
        while items.remaining:
            scts.append(items.bytes16(1, "SerializedSCT"))
    except DecodeError as exc:
        raise DecodeError(f"malformed signed_certificate_timestamp list: {exc} (RFC 6962 "
                          "3.3: 1..65535 bytes of SCTs, each of 1..65535 bytes)") from None
    return tuple(scts)


@dataclass(frozen=True, slots=True)
class SignedCertificateTimestamp:
    """One version 1 SCT (RFC 6962 3.2): which log promised, when (milliseconds since
    the Unix epoch), its extensions, and its DigitallySigned (RFC 5246 4.7) signature."""

    version: int
    log_id: bytes
    timestamp: int
    extensions: bytes
    hash_algorithm: int  # RFC 5246 7.4.1.4.1 HashAlgorithm (sha256 = 4)
    signature_algorithm: int  # SignatureAlgorithm (rsa = 1, ecdsa = 3)
    signature: bytes

    def encode(self) -> bytes:
        """The serialized SCT (the inverse of `decode_sct`)."""
        w = Writer()
        w.u8(self.version)
        w.raw(self.log_id)
        w.u32(self.timestamp >> 32)
        w.u32(self.timestamp & 0xFFFFFFFF)
        w.bytes16(self.extensions)
        w.u8(self.hash_algorithm)
        w.u8(self.signature_algorithm)
        w.bytes16(self.signature)
        return w.getvalue()


def decode_sct(data: bytes) -> SignedCertificateTimestamp:
    """A serialized version 1 SCT (RFC 6962 3.2); DecodeError for another version, a
    short or long structure."""
    r = Reader(data)
    try:
        version = r.u8()
        if version != SCT_V1:
            raise DecodeError(f"version {version} is not v1 (0), the one RFC 6962 defines")
        log_id = r.raw(LOG_ID_LENGTH)
        timestamp = (r.u32() << 32) | r.u32()
        extensions = r.bytes16(0, "CtExtensions")
        hash_algorithm = r.u8()
        signature_algorithm = r.u8()
        signature = r.bytes16(0, "SCT signature")
        r.end("SCT")
    except DecodeError as exc:
        raise DecodeError(f"malformed SCT: {exc} (RFC 6962 3.2)") from None
    return SignedCertificateTimestamp(version, log_id, timestamp, extensions,
                                      hash_algorithm, signature_algorithm, signature)
