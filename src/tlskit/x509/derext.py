"""The common extensions, read straight from the DER in one pass.

cryptography's ``Certificate.extensions`` builds a Python object per extension and per
value; for a certificate seen once (a new leaf on every handshake) that is a large part of
its analysis. `read_extensions` reads the Extensions SEQUENCE that `der.split_certificate`
located and returns, for each extension, the OID, the critical flag and a value with the
attributes `certinfo`'s extension readers use, the same as cryptography's value would
have.

It answers only for what it can read exactly as cryptography does: strict DER (minimal
lengths, BOOLEAN TRUE as 0xFF, an explicit critical only when TRUE), the six extensions a
TLS certificate usually carries (basicConstraints, keyUsage, extendedKeyUsage with the
well-known purposes, subjectAltName with dNSName and iPAddress entries, subject and
authority key identifiers) in their usual shapes, each at most once. For anything else it
returns None, and the caller asks cryptography, whose answer (or error) then decides:
this reader can make analysis faster, never different.

A public leaf also carries authorityInfoAccess, certificatePolicies, cRLDistributionPoints
and a signed certificate timestamp list. `certinfo` uses none of their values, but
cryptography refuses a certificate whose extensions it cannot parse, so these are only
checked, their value being True: each is accepted in a shape cryptography certainly
parses (URIs in ASCII, well-formed OIDs, CPS qualifiers only, SCTs of version 0 signed
with SHA-256 and RSA or ECDSA, every length exact), and declined otherwise.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID


class KeyIdentifier(NamedTuple):
    """A subjectKeyIdentifier's value, as `certinfo` reads it."""

    digest: bytes


class BasicConstraints(NamedTuple):
    """A basicConstraints value, as `certinfo` reads it (fields, not cryptography's
    properties: every new leaf carries one)."""

    ca: bool
    path_length: int | None


class AuthorityKeyIdentifier(NamedTuple):
    """An authorityKeyIdentifier with only a keyIdentifier, as `certinfo` reads it."""

    key_identifier: bytes
    authority_cert_issuer: None = None
    authority_cert_serial_number: None = None


Extension = tuple[x509.ObjectIdentifier, bool, Any]


def _tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of a strict-DER element at ``pos``, or None: a
    short length, or a minimal one- or two-octet long form, inside ``end``."""
    if pos + 2 > end:
        return None
    tag = buf[pos]
    n = buf[pos + 1]
    pos += 2
    if n == 0x81:
        if pos >= end or buf[pos] < 0x80:
            return None
        n = buf[pos]
        pos += 1
    elif n == 0x82:
        if pos + 1 >= end or buf[pos] == 0:
            return None
        n = (buf[pos] << 8) | buf[pos + 1]
        pos += 2
    elif n & 0x80:
        return None
    if pos + n > end:
        return None
    return tag, pos, pos + n


def _only(buf: bytes, tag: int) -> tuple[int, int] | None:
    """The content span of ``buf`` when it is exactly one element with ``tag``."""
    tlv = _tlv(buf, 0, len(buf))
    if tlv is None or tlv[0] != tag or tlv[2] != len(buf):
        return None
    return tlv[1], tlv[2]


# basicConstraints: cA FALSE (omitted), cA TRUE, and cA TRUE with a small pathLen.
_BASIC_CONSTRAINTS: dict[bytes, BasicConstraints] = {
    b"\x30\x00": BasicConstraints(ca=False, path_length=None),
    b"\x30\x03\x01\x01\xff": BasicConstraints(ca=True, path_length=None),
    **{b"\x30\x06\x01\x01\xff\x02\x01" + bytes([n]): BasicConstraints(ca=True, path_length=n)
       for n in range(128)},
}


def _basic_constraints(value: bytes) -> BasicConstraints | None:
    return _BASIC_CONSTRAINTS.get(value)


_KEY_USAGES: dict[bytes, x509.KeyUsage] = {}


def _key_usage(value: bytes) -> x509.KeyUsage | None:
    """A BIT STRING of one or two octets in its DER form (trailing zero bits dropped,
    the unused-bits count exact); decipherOnly is the only bit of a second octet."""
    known = _KEY_USAGES.get(value)
    if known is not None:
        return known
    if len(value) not in (4, 5) or value[0] != 0x03 or value[1] != len(value) - 2:
        return None
    unused, first, last = value[2], value[3], value[-1]
    if last == 0 or unused != (last & -last).bit_length() - 1:
        return None
    second = value[4] if len(value) == 5 else 0
    if len(value) == 5 and second != 0x80:
        return None
    b = [bool(first & (0x80 >> i)) for i in range(8)]
    try:
        usage = x509.KeyUsage(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], bool(second))
    except ValueError:  # encipher/decipherOnly without keyAgreement: cryptography's error
        return None
    _KEY_USAGES[value] = usage  # at most 2**9 values
    return usage


_PURPOSES: dict[bytes, x509.ObjectIdentifier] = {
    bytes.fromhex("2b06010505070301"): ExtendedKeyUsageOID.SERVER_AUTH,
    bytes.fromhex("2b06010505070302"): ExtendedKeyUsageOID.CLIENT_AUTH,
    bytes.fromhex("2b06010505070303"): ExtendedKeyUsageOID.CODE_SIGNING,
    bytes.fromhex("2b06010505070304"): ExtendedKeyUsageOID.EMAIL_PROTECTION,
    bytes.fromhex("2b06010505070308"): ExtendedKeyUsageOID.TIME_STAMPING,
    bytes.fromhex("2b06010505070309"): ExtendedKeyUsageOID.OCSP_SIGNING,
    bytes.fromhex("551d2500"): ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}


Item = Callable[[bytes, int, int, int], Any]


def _sequence_of(value: bytes, item: Item) -> tuple[Any, ...] | None:
    """Each element of a non-empty SEQUENCE read by ``item`` (value, tag, start, end);
    None when the SEQUENCE or any element is not read."""
    span = _only(value, 0x30)
    if span is None:
        return None
    return _elements(value, span[0], span[1], item)


def _elements(buf: bytes, pos: int, end: int, item: Item) -> tuple[Any, ...] | None:
    """Each of the one or more elements filling ``buf[pos:end]``, read by ``item``; None
    when there are none or any is not read."""
    if pos == end:
        return None
    out: list[Any] = []
    while pos < end:
        tlv = _tlv(buf, pos, end)
        if tlv is None:
            return None
        read = item(buf, *tlv)
        if read is None:
            return None
        out.append(read)
        pos = tlv[2]
    return tuple(out)


def _inside(buf: bytes, tag: int, pos: int, end: int) -> tuple[int, int] | None:
    """The content span of the single element with ``tag`` filling ``buf[pos:end]``."""
    tlv = _tlv(buf, pos, end)
    if tlv is None or tlv[0] != tag or tlv[2] != end:
        return None
    return tlv[1], tlv[2]


def _purpose(value: bytes, tag: int, start: int, end: int) -> x509.ObjectIdentifier | None:
    return _PURPOSES.get(value[start:end]) if tag == 0x06 else None


def _extended_key_usage(value: bytes) -> frozenset[x509.ObjectIdentifier] | None:
    """A non-empty SEQUENCE of the well-known purpose OIDs, as the set `certinfo` keeps
    (built once per encoding: the value is remembered)."""
    purposes = _sequence_of(value, _purpose)
    return None if purposes is None else frozenset(purposes)


def _general_name(value: bytes, tag: int, start: int, end: int) -> x509.GeneralName | None:
    """A dNSName in ASCII, or an iPAddress of 4 or 16 octets; None for anything else."""
    raw = value[start:end]
    if tag == 0x82:
        if not raw.isascii():
            return None
        return x509.DNSName._init_without_validation(raw.decode("ascii"))
    if tag == 0x87 and len(raw) in (4, 16):
        return x509.IPAddress(ipaddress.ip_address(raw))
    return None


def _subject_alt_name(value: bytes) -> tuple[x509.GeneralName, ...] | None:
    """The usual subjectAltName, ASCII dNSNames in short-form lengths inside a short-form
    SEQUENCE, read in one loop (each new leaf brings its own); anything else, or the
    first element that is not one, sends the whole value through `_sequence_of`."""
    n = len(value)
    if 2 < n < 0x82 and value[0] == 0x30 and value[1] == n - 2:
        out = []
        pos = 2
        while pos < n:
            length = value[pos + 1] if pos + 1 < n else 0x80
            end = pos + 2 + length
            if value[pos] != 0x82 or end > n:  # (a long form's 0x8N runs past n)
                break
            raw = value[pos + 2:end]
            if not raw.isascii():
                break
            out.append(x509.DNSName._init_without_validation(raw.decode("ascii")))
            pos = end
        else:
            return tuple(out)
    return _sequence_of(value, _general_name)


def _subject_key_identifier(value: bytes) -> KeyIdentifier | None:
    span = _only(value, 0x04)
    if span is None or span[0] == span[1]:
        return None
    return KeyIdentifier(value[span[0]:span[1]])


def _authority_key_identifier(value: bytes) -> AuthorityKeyIdentifier | None:
    """SEQUENCE { [0] keyIdentifier } and nothing else."""
    outer = _only(value, 0x30)
    if outer is None:
        return None
    inner = _tlv(value, outer[0], outer[1])
    if inner is None or inner[0] != 0x80 or inner[2] != outer[1] or inner[1] == inner[2]:
        return None
    return AuthorityKeyIdentifier(value[inner[1]:inner[2]])


# An OBJECT IDENTIFIER's contents that cryptography reads: at most 63 octets (its limit),
# each arc in minimal base 128 (no leading 0x80) and at most 18 octets (126 bits; it
# refuses an arc beyond 128), the last octet ending an arc.
_OID = re.compile(rb"(?:(?:[\x81-\xff][\x80-\xff]{0,16})?[\x00-\x7f])+")


def _oid_then(buf: bytes, start: int, end: int) -> int | None:
    """Where what follows a well-formed OBJECT IDENTIFIER at ``buf[start:end]`` begins."""
    oid = _tlv(buf, start, end)
    if oid is None or oid[0] != 0x06 or oid[2] - oid[1] > 63 or not _OID.fullmatch(
            buf, oid[1], oid[2]):
        return None
    return oid[2]


def _uri(buf: bytes, tag: int, start: int, end: int) -> bool | None:
    """A uniformResourceIdentifier GeneralName in ASCII."""
    return True if tag == 0x86 and buf[start:end].isascii() else None


def _access_description(buf: bytes, tag: int, start: int, end: int) -> bool | None:
    """SEQUENCE { accessMethod OBJECT IDENTIFIER, accessLocation a URI }."""
    if tag != 0x30:
        return None
    pos = _oid_then(buf, start, end)
    location = None if pos is None else _tlv(buf, pos, end)
    if location is None or location[2] != end:
        return None
    return _uri(buf, *location)


def _authority_info_access(value: bytes) -> bool | None:
    return True if _sequence_of(value, _access_description) else None


def _distribution_point(buf: bytes, tag: int, start: int, end: int) -> bool | None:
    """SEQUENCE { distributionPoint [0] { fullName [0] { one or more URIs } } }: no
    reasons, no cRLIssuer, no name relative to the issuer."""
    point = _inside(buf, 0xA0, start, end) if tag == 0x30 else None
    full = None if point is None else _inside(buf, 0xA0, *point)
    if full is None:
        return None
    return True if _elements(buf, full[0], full[1], _uri) else None


def _crl_distribution_points(value: bytes) -> bool | None:
    return True if _sequence_of(value, _distribution_point) else None


_CPS = b"\x06\x08" + bytes.fromhex("2b06010505070201")  # id-qt-cps, with its header


def _cps_qualifier(buf: bytes, tag: int, start: int, end: int) -> bool | None:
    """SEQUENCE { id-qt-cps, an IA5String in ASCII }; no userNotice."""
    if tag != 0x30 or buf[start:start + len(_CPS)] != _CPS:
        return None
    uri = _inside(buf, 0x16, start + len(_CPS), end)
    return True if uri is not None and buf[uri[0]:uri[1]].isascii() else None


def _policy_information(buf: bytes, tag: int, start: int, end: int) -> bool | None:
    """SEQUENCE { policyIdentifier [, SEQUENCE of one or more CPS qualifiers] }."""
    pos = _oid_then(buf, start, end) if tag == 0x30 else None
    if pos is None:
        return None
    if pos == end:
        return True
    qualifiers = _inside(buf, 0x30, pos, end)
    if qualifiers is None:
        return None
    return True if _elements(buf, *qualifiers, _cps_qualifier) else None


def _certificate_policies(value: bytes) -> bool | None:
    return True if _sequence_of(value, _policy_information) else None


# An SCT's octets before its extensions (version, logID, timestamp, their length), and
# the fewest it can have (no extensions, hash and signature algorithms, an empty
# signature's length).
_SCT_HEAD = 1 + 32 + 8 + 2
_SCT_MIN = _SCT_HEAD + 4


def _sct_list(value: bytes) -> bool | None:
    """An OCTET STRING holding a SignedCertificateTimestampList of one or more v1 SCTs,
    every length exact: version 0, and after the extensions SHA-256 (4) with RSA (1) or
    ECDSA (3), then the signature. Indexed octet by octet: a leaf's list is read anew
    every time (no other certificate has it)."""
    span = _only(value, 0x04)
    if span is None:
        return None
    pos, end = span
    if end - pos <= 2 or (value[pos] << 8 | value[pos + 1]) != end - pos - 2:
        return None
    pos += 2
    while pos < end:
        sct = pos + 2
        if sct + _SCT_MIN > end:
            return None
        stop = sct + (value[pos] << 8 | value[pos + 1])
        at = sct + _SCT_HEAD + (value[sct + _SCT_HEAD - 2] << 8 | value[sct + _SCT_HEAD - 1])
        if (stop > end or value[sct] != 0 or at + 4 > stop or value[at] != 4
                or value[at + 1] not in (1, 3)
                or at + 4 + (value[at + 2] << 8 | value[at + 3]) != stop):
            return None
        pos = stop
    return True


_READERS: dict[bytes, tuple[x509.ObjectIdentifier, Callable[[bytes], Any], int]] = {
    b"\x55\x1d\x13": (ExtensionOID.BASIC_CONSTRAINTS, _basic_constraints, 1 << 0),
    b"\x55\x1d\x0f": (ExtensionOID.KEY_USAGE, _key_usage, 1 << 1),
    b"\x55\x1d\x25": (ExtensionOID.EXTENDED_KEY_USAGE, _extended_key_usage, 1 << 2),
    b"\x55\x1d\x11": (ExtensionOID.SUBJECT_ALTERNATIVE_NAME, _subject_alt_name, 1 << 3),
    b"\x55\x1d\x0e": (ExtensionOID.SUBJECT_KEY_IDENTIFIER, _subject_key_identifier, 1 << 4),
    b"\x55\x1d\x23": (ExtensionOID.AUTHORITY_KEY_IDENTIFIER, _authority_key_identifier, 1 << 5),
    bytes.fromhex("2b06010505070101"): (ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
                                        _authority_info_access, 1 << 6),
    b"\x55\x1d\x20": (ExtensionOID.CERTIFICATE_POLICIES, _certificate_policies, 1 << 7),
    b"\x55\x1d\x1f": (ExtensionOID.CRL_DISTRIBUTION_POINTS, _crl_distribution_points, 1 << 8),
    bytes.fromhex("2b06010401d679020402"): (ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS,
                                            _sct_list, 1 << 9),
}
assert len({bit for _, _, bit in _READERS.values()}) == len(_READERS)  # one bit each


# Decoded extensions by their encoding (an Extension SEQUENCE's contents): a CA puts the
# same basicConstraints, keyUsage, extendedKeyUsage and authorityKeyIdentifier in every
# leaf it issues. Bounded (cleared when full) against hostile input; the values are
# immutable, so sharing them is safe.
MAX_REMEMBERED = 1024
# The bits (see `_READERS`) of what is never remembered, as no other certificate carries
# it: an SCT list is the certificate's own, a subjectKeyIdentifier names one key, and a
# subjectAltName names one site's hosts (each new leaf brings its own; a renewal of the
# same names comes long after the memo was cleared). Filing them would cost an insertion
# per new leaf and push the CA's extensions out (cleared when full, every ~1,000 leaves).
_UNIQUE = sum(bit for oid, _, bit in _READERS.values() if oid in (
    ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS, ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME))
_REMEMBERED: dict[bytes, tuple[Extension, int]] = {}  # with the bit of its OID


def read_extensions(extensions: bytes | None) -> list[Extension] | None:
    """(OID, critical, value) of each extension of an Extensions SEQUENCE TLV (b"" for a
    certificate without extensions), or None when cryptography must be asked instead.
    The loop is `_sequence_of`'s, written out, and the headers are read in place
    (`_tlv`'s checks): this runs for every new certificate, and the remembered extensions
    make a call per element the larger part of its cost."""
    if not extensions:
        return [] if extensions == b"" else None
    pos = _contents_start(extensions)
    if pos is None:
        return None
    end = len(extensions)
    out: list[Extension] = []
    seen = 0  # the bits of the OIDs read so far (see `_READERS`)
    while pos < end:
        element = _element(extensions, pos, end, 0x30)  # an Extension SEQUENCE
        if element is None:
            return None
        body, pos = element
        raw = extensions[body:pos]
        known = _REMEMBERED.get(raw)
        if known is None:
            known = _remember(raw, _extension(extensions, body, pos))
            if known is None:
                return None
        extension, bit = known
        if seen & bit:
            return None  # a duplicate: cryptography decides
        seen |= bit
        out.append(extension)
    return out


def _element(buf: bytes, pos: int, end: int, tag: int) -> tuple[int, int] | None:
    """(content start, content end) of the element at ``pos`` when its tag is ``tag``,
    else None: a short length (the usual Extension and OID) is read in place with
    `_tlv`'s checks, any other length by `_tlv`."""
    if pos + 2 <= end and buf[pos] == tag and buf[pos + 1] < 0x80:
        start = pos + 2
        stop = start + buf[pos + 1]
        return (start, stop) if stop <= end else None
    tlv = _tlv(buf, pos, end)
    if tlv is None or tlv[0] != tag:
        return None
    return tlv[1], tlv[2]


def _contents_start(buf: bytes) -> int | None:
    """Where the contents of ``buf`` start when it is exactly one non-empty SEQUENCE
    (what `_only` finds, and refuses when empty), else None: `_tlv`'s checks made in
    place for a header at the start of the buffer."""
    try:
        n = buf[1]
        if n < 0x80:
            start = 2
        elif n == 0x81 and buf[2] >= 0x80:
            n, start = buf[2], 3
        elif n == 0x82 and buf[2]:
            n, start = (buf[2] << 8) | buf[3], 4
        else:
            return None
    except IndexError:
        return None
    return start if buf[0] == 0x30 and n and start + n == len(buf) else None


def _remember(
    raw: bytes, known: tuple[Extension, int] | None
) -> tuple[Extension, int] | None:
    """File a decoded extension (with its OID's bit) under its encoding (the Extension
    SEQUENCE's contents), unless it is one only its certificate carries (`_UNIQUE`)."""
    if known is not None and not known[1] & _UNIQUE:
        if len(_REMEMBERED) >= MAX_REMEMBERED:
            _REMEMBERED.clear()
        _REMEMBERED[raw] = known
    return known


# The usual subjectKeyIdentifier's contents up to the identifier: the OID, no critical
# flag, the OCTET STRING of 22 octets holding an OCTET STRING of 20 (RFC 5280 4.2.1.2's
# SHA-1 method, what CAs use). Each new leaf brings its own identifier (it is never
# remembered), so this shape is recognised whole rather than read element by element:
# these 9 octets and a length of 29 fix every header `_extension` would read, and the
# value it would give.
_USUAL_SKI = bytes.fromhex("0603551d0e" "0416" "0414")
_SKI_BIT = _READERS[b"\x55\x1d\x0e"][2]


def _extension(buf: bytes, body: int, end: int) -> tuple[Extension, int] | None:
    """The Extension whose SEQUENCE contents are ``buf[body:end]``, with the bit of its
    OID (duplicates are found by these bits, not by hashing OID objects), or None."""
    if end - body == 29 and buf.startswith(_USUAL_SKI, body):
        ski = KeyIdentifier(buf[body + 9:end])
        return (ExtensionOID.SUBJECT_KEY_IDENTIFIER, False, ski), _SKI_BIT
    oid = _element(buf, body, end, 0x06)
    if oid is None:
        return None
    start, pos = oid
    reader = _READERS.get(buf[start:pos])
    if reader is None:
        return None  # another extension: cryptography decides
    critical = buf[pos:pos + 3] == b"\x01\x01\xff"
    if critical:
        pos += 3
    octets = _tlv(buf, pos, end)
    if octets is None or octets[0] != 0x04 or octets[2] != end:
        return None
    value = reader[1](buf[octets[1]:octets[2]])
    if value is None:
        return None
    return (reader[0], critical, value), reader[2]
