"""The DER of OCSP requests and responses (RFC 6960 4.1, 4.2) for the local CA's responder.

`cryptography` reads and builds OCSP messages about one certificate only; a request for
several (``openssl ocsp -cert a -cert b``, RFC 6960 4.1.1 allows any number) needs its own
reader and a response with one SingleResponse per certificate. This module is that reader
and writer, and nothing more: deciding each certificate's status and signing belong to
`tlskit.ca`.

Each CertID is echoed byte for byte from the request, as clients match their CertID
against the response's (so the hash AlgorithmIdentifier's optional NULL survives).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# RFC 6960 4.2.1 and 4.4.1, RFC 5280 4.1.1.2, RFC 8410 3
OID_BASIC_RESPONSE = "1.3.6.1.5.5.7.48.1.1"
OID_NONCE = "1.3.6.1.5.5.7.48.1.2"

_SEQUENCE, _INTEGER, _OCTETS, _OID, _ENUM, _BITS, _NULL, _TIME = (
    0x30, 0x02, 0x04, 0x06, 0x0A, 0x03, 0x05, 0x18)
_MAX_CERT_IDS = 64  # a request for more certificates than this is refused, not answered
_MAX_NONCE = 128  # RFC 9654 2.1: a longer (or empty) nonce is a malformedRequest


class OcspDERError(ValueError):
    """The request is not the DER an OCSPRequest is."""


@dataclass(frozen=True, slots=True)
class CertID:
    """One certificate asked about: the raw CertID and its fields."""

    raw: bytes
    hash_oid: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial_number: int


@dataclass(frozen=True, slots=True)
class Request:
    """What a responder needs from an OCSPRequest: the CertIDs and the nonce extension."""

    cert_ids: list[CertID]
    nonce_extension: bytes | None  # the Extension TLV to put in the response


# --------------------------------------------------------------------------- reading


def _tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at ``pos``; definite lengths only."""
    if pos + 2 > end:
        raise OcspDERError("truncated element")
    tag, first = buf[pos], buf[pos + 1]
    pos += 2
    if tag & 0x1F == 0x1F:
        raise OcspDERError("high tag numbers do not occur in an OCSP request")
    length = first
    if first & 0x80:
        count = first & 0x7F
        if not 0 < count <= 3 or pos + count > end:
            raise OcspDERError("bad length")
        length = int.from_bytes(buf[pos:pos + count], "big")
        if length < 0x80 or buf[pos] == 0:
            raise OcspDERError("length not in its shortest form (DER)")
        pos += count
    if pos + length > end:
        raise OcspDERError("element runs past its container")
    return tag, pos, pos + length


def _children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, TLV start, content start, content end) of each element in [start, end)."""
    out = []
    pos = start
    while pos < end:
        tag, body, after = _tlv(buf, pos, end)
        out.append((tag, pos, body, after))
        pos = after
    return out


def _expect(tag: int, want: int, what: str) -> None:
    if tag != want:
        raise OcspDERError(f"{what} has tag {tag:#04x}, not {want:#04x}")


def decode_oid(body: bytes) -> str:
    if not body or body[-1] & 0x80:
        raise OcspDERError("bad OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for i, byte in enumerate(body):
        if byte == 0x80 and (i == 0 or not body[i - 1] & 0x80):
            raise OcspDERError("OBJECT IDENTIFIER arc not in its shortest form")
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, [first, arcs[0] - 40 * first, *arcs[1:]]))


def _cert_id(buf: bytes, start: int, body: int, end: int) -> CertID:
    parts = _children(buf, body, end)
    if len(parts) != 4:
        raise OcspDERError("a CertID has four fields")
    (alg_tag, _, alg_body, alg_end), name, key, serial = parts
    _expect(alg_tag, _SEQUENCE, "hashAlgorithm")
    oid_tag, oid_body, oid_end = _tlv(buf, alg_body, alg_end)
    _expect(oid_tag, _OID, "hashAlgorithm OID")
    if buf[oid_end:alg_end] not in (b"", b"\x05\x00"):  # the parameters: absent or NULL
        raise OcspDERError("hashAlgorithm parameters must be absent or NULL")
    _expect(name[0], _OCTETS, "issuerNameHash")
    _expect(key[0], _OCTETS, "issuerKeyHash")
    _expect(serial[0], _INTEGER, "serialNumber")
    serial_body = buf[serial[2]:serial[3]]
    if not serial_body:
        raise OcspDERError("empty serialNumber")
    if len(serial_body) > 1 and (
        (serial_body[0] == 0 and not serial_body[1] & 0x80)
        or (serial_body[0] == 0xFF and serial_body[1] & 0x80)
    ):
        raise OcspDERError("serialNumber not in its shortest form (DER)")
    return CertID(
        raw=buf[start:end],
        hash_oid=decode_oid(buf[oid_body:oid_end]),
        issuer_name_hash=buf[name[2]:name[3]],
        issuer_key_hash=buf[key[2]:key[3]],
        serial_number=int.from_bytes(serial_body, "big", signed=True),
    )


def _extensions(buf: bytes, body: int, end: int) -> list[tuple[str, bool, bytes]]:
    """(extnID, critical, extnValue) of each Extension in an [n] EXPLICIT Extensions."""
    outer = _children(buf, body, end)
    if len(outer) != 1 or outer[0][0] != _SEQUENCE:
        raise OcspDERError("bad Extensions")
    _, _, ext_body, ext_end = outer[0]
    out = []
    for ext_tag, _, field_body, field_end in _children(buf, ext_body, ext_end):
        _expect(ext_tag, _SEQUENCE, "Extension")
        fields = _children(buf, field_body, field_end)
        if not fields or fields[0][0] != _OID:
            raise OcspDERError("Extension without extnID")
        critical = False
        if len(fields) == 3 and fields[1][0] == 0x01:  # critical BOOLEAN
            critical = buf[fields[1][2]:fields[1][3]] != b"\x00"
            fields = [fields[0], fields[2]]
        if len(fields) != 2 or fields[1][0] != _OCTETS:
            raise OcspDERError("Extension without extnValue")
        oid = decode_oid(buf[fields[0][2]:fields[0][3]])
        out.append((oid, critical, buf[fields[1][2]:fields[1][3]]))
    return out


def _check_understood(extensions: list[tuple[str, bool, bytes]], known: set[str]) -> None:
    """RFC 6960 4.4: an unrecognized extension is ignored, unless it is marked critical."""
    for oid, critical, _ in extensions:
        if critical and oid not in known:
            raise OcspDERError(f"critical extension {oid} not understood")


def _nonce(buf: bytes, body: int, end: int) -> bytes | None:
    """The nonce among requestExtensions ([2] EXPLICIT Extensions), re-encoded as the
    Extension to put in the response (RFC 6960 4.4.1: the same value)."""
    extensions = _extensions(buf, body, end)
    _check_understood(extensions, {OID_NONCE})
    for oid, _, value in extensions:
        if oid == OID_NONCE:
            if not 1 <= len(_nonce_octets(value)) <= _MAX_NONCE:
                raise OcspDERError(f"a nonce of {len(_nonce_octets(value))} octets (RFC 9654 "
                                   f"2.1: 1 to {_MAX_NONCE})")
            return tlv(_SEQUENCE, encode_oid(OID_NONCE) + tlv(_OCTETS, value))
    return None


def _nonce_octets(extn_value: bytes) -> bytes:
    """The nonce in a Nonce extnValue: the contents of the OCTET STRING it holds (RFC 9654
    2.1), or the whole value from an older client that put the bare octets there."""
    try:
        tag, body, end = _tlv(extn_value, 0, len(extn_value))
    except OcspDERError:
        return extn_value
    return extn_value[body:end] if tag == _OCTETS and end == len(extn_value) else extn_value


def parse_request(der: bytes) -> Request:
    """The CertIDs and nonce of a DER OCSPRequest; a signature, if any, is ignored (the
    local CA answers anyone). Raises OcspDERError for anything that is not one."""
    tag, body, end = _tlv(der, 0, len(der))
    if tag != _SEQUENCE or end != len(der):
        raise OcspDERError("not a single SEQUENCE")
    tbs_tag, tbs_body, tbs_end = _tlv(der, body, end)
    _expect(tbs_tag, _SEQUENCE, "tbsRequest")
    fields = _children(der, tbs_body, tbs_end)
    while fields and fields[0][0] in (0xA0, 0xA1):  # [0] version, [1] requestorName
        fields = fields[1:]
    if not fields or fields[0][0] != _SEQUENCE:
        raise OcspDERError("no requestList")
    _, _, list_body, list_end = fields[0]
    cert_ids = []
    for req_tag, _, req_body, req_end in _children(der, list_body, list_end):
        _expect(req_tag, _SEQUENCE, "Request")
        id_tag, id_body, id_end = _tlv(der, req_body, req_end)
        _expect(id_tag, _SEQUENCE, "reqCert")
        cert_ids.append(_cert_id(der, req_body, id_body, id_end))
        for ext_tag, _, ext_body, ext_end in _children(der, id_end, req_end):
            _expect(ext_tag, 0xA0, "singleRequestExtensions")
            _check_understood(_extensions(der, ext_body, ext_end), set())
    if not cert_ids:
        raise OcspDERError("the requestList is empty")
    if len(cert_ids) > _MAX_CERT_IDS:
        raise OcspDERError(f"more than {_MAX_CERT_IDS} certificates in one request")
    nonce = None
    for ext_tag, _, ext_body, ext_end in fields[1:]:
        if ext_tag != 0xA2:
            raise OcspDERError(f"unexpected field {ext_tag:#04x} in tbsRequest")
        nonce = _nonce(der, ext_body, ext_end)
    return Request(cert_ids, nonce)


# --------------------------------------------------------------------------- writing


def tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body


def encode_oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return tlv(_OID, bytes(out))


def _time(moment: dt.datetime) -> bytes:
    return tlv(_TIME, moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ").encode())


@dataclass(frozen=True, slots=True)
class SingleResponse:
    """One answer: the echoed CertID and the status found for it."""

    cert_id: CertID
    status: str  # "good", "revoked" or "unknown"
    this_update: dt.datetime
    next_update: dt.datetime
    revoked_at: dt.datetime | None = None
    reason_code: int | None = None  # CRLReason (RFC 5280 5.3.1); None: omitted

    def encode(self) -> bytes:
        if self.status == "good":
            status = b"\x80\x00"  # [0] IMPLICIT NULL
        elif self.status == "unknown":
            status = b"\x82\x00"  # [2] IMPLICIT UnknownInfo (NULL)
        else:
            assert self.revoked_at is not None
            info = _time(self.revoked_at)
            if self.reason_code is not None:
                info += tlv(0xA0, tlv(_ENUM, bytes((self.reason_code,))))
            status = tlv(0xA1, info)  # [1] IMPLICIT RevokedInfo
        return tlv(_SEQUENCE, self.cert_id.raw + status + _time(self.this_update)
                   + tlv(0xA0, _time(self.next_update)))


def response_data(
    responder_key_hash: bytes,
    produced_at: dt.datetime,
    answers: list[SingleResponse],
    nonce_extension: bytes | None,
) -> bytes:
    """The ResponseData TLV (version v1, left out as the DEFAULT): what gets signed."""
    responder = tlv(0xA2, tlv(_OCTETS, responder_key_hash))  # byKey [2] EXPLICIT KeyHash
    body = responder + _time(produced_at)
    body += tlv(_SEQUENCE, b"".join(a.encode() for a in answers))
    if nonce_extension is not None:
        body += tlv(0xA1, tlv(_SEQUENCE, nonce_extension))
    return tlv(_SEQUENCE, body)


def successful_response(
    tbs: bytes, signature_algorithm: bytes, signature: bytes, certs: list[bytes]
) -> bytes:
    """An OCSPResponse with status successful around a signed BasicOCSPResponse."""
    basic = tbs + signature_algorithm + tlv(_BITS, b"\x00" + signature)
    if certs:
        basic += tlv(0xA0, tlv(_SEQUENCE, b"".join(certs)))
    response_bytes = tlv(_SEQUENCE, encode_oid(OID_BASIC_RESPONSE)
                         + tlv(_OCTETS, tlv(_SEQUENCE, basic)))
    return tlv(_SEQUENCE, tlv(_ENUM, b"\x00") + tlv(0xA0, response_bytes))


def algorithm_identifier(oid: str, null_params: bool) -> bytes:
    """RSA PKCS#1 v1.5 signatures carry a NULL parameter; ECDSA and EdDSA none."""
    return tlv(_SEQUENCE, encode_oid(oid) + (tlv(_NULL, b"") if null_params else b""))
