"""A tiny DER reader for certificates, and the structural problems only the encoding shows.

Just enough to split a certificate into the pieces path validation needs without asking
cryptography to re-encode them (tbs_certificate_bytes, public_bytes of the key and of names
each serialize anew), and to see the fields the parser normalizes away (the TBS signature
AlgorithmIdentifier, the raw serial number).

The checks that must read the raw encoding live here too (an EC key names its curve, a Name
is well formed, a serial number is positive and short); `certinfo` records their verdicts on
a `CertInfo`.
"""

from __future__ import annotations

from dataclasses import dataclass


class DERError(ValueError):
    """The bytes are not the DER this reader expects."""


def read_tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element starting at ``pos``. Only what a
    certificate uses: low tag numbers and definite lengths of at most four octets."""
    if pos + 2 > end:
        raise DERError("truncated element")
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise DERError("bad length")
        length = int.from_bytes(buf[pos:pos + count], "big")
        pos += count
    if tag & 0x1F == 0x1F:
        raise DERError("high tag numbers are not used in certificates")
    if pos + length > end:
        raise DERError("element runs past its container")
    return tag, pos, pos + length


def spki_algorithm_oid(spki: bytes) -> bytes:
    """The content octets of a SubjectPublicKeyInfo's algorithm OID (RFC 5280 4.1.2.7:
    SEQUENCE { AlgorithmIdentifier SEQUENCE { OID, ... }, BIT STRING })."""
    start, stop, _ = _spki_algorithm(spki)
    return spki[start:stop]


def _spki_algorithm(spki: bytes) -> tuple[int, int, int]:
    """Where a SubjectPublicKeyInfo's algorithm OID's content octets start and stop, and
    where its AlgorithmIdentifier (the parameters after the OID) ends."""
    _, pos, end = read_tlv(spki, 0, len(spki))
    _, pos, alg_end = read_tlv(spki, pos, end)
    tag, start, stop = read_tlv(spki, pos, alg_end)
    if tag != 0x06:
        raise DERError("the key's algorithm is not an OBJECT IDENTIFIER")
    return start, stop, alg_end


# RFC 4055 3.1: id-RSASSA-PSS, id-mgf1, and the hash OIDs a PSS key may name.
RSASSA_PSS = bytes.fromhex("2a864886f70d01010a")  # 1.2.840.113549.1.1.10
_MGF1 = bytes.fromhex("2a864886f70d010108")  # 1.2.840.113549.1.1.8
_HASH_NAMES = {bytes.fromhex("2b0e03021a"): "sha1",
               bytes.fromhex("608648016503040204"): "sha224",
               bytes.fromhex("608648016503040201"): "sha256",
               bytes.fromhex("608648016503040202"): "sha384",
               bytes.fromhex("608648016503040203"): "sha512"}


@dataclass(frozen=True, slots=True)
class PssParams:
    """The RSASSA-PSS-params an id-RSASSA-PSS key carries (RFC 4055 3.1), which restrict
    the signatures it makes: the message hash, MGF1's hash, the least salt length, the
    trailer field. A hash is its hashlib name, or the OID's dotted form if another."""

    hash: str = "sha1"  # (RFC 4055's defaults, for fields left out)
    mgf1_hash: str = "sha1"
    salt_length: int = 20
    trailer: int = 1


def spki_pss_params(spki: bytes) -> PssParams | None:
    """The RSASSA-PSS-params of an id-RSASSA-PSS SubjectPublicKeyInfo; None when it has
    none (RFC 4055 3.1: the key may then sign with any), or when the key is not an
    RSASSA-PSS one. DERError for parameters that are not RFC 4055's syntax."""
    start, after, alg_end = _spki_algorithm(spki)
    if spki[start:after] != RSASSA_PSS or after == alg_end:
        return None
    tag, pos, params_end = read_tlv(spki, after, alg_end)
    if tag != 0x30 or params_end != alg_end:
        raise DERError("RSASSA-PSS parameters that are not one RSASSA-PSS-params SEQUENCE")
    fields: dict[str, str | int] = {}
    last = -1
    while pos < params_end:
        tag, body, pos = read_tlv(spki, pos, params_end)
        number = tag - 0xA0
        if not 0 <= number <= 3 or number <= last:
            raise DERError(f"an RSASSA-PSS-params field tagged {tag:#04x} out of place")
        last = number
        if number == 0:
            fields["hash"] = _hash_name(spki, body, pos)
        elif number == 1:
            fields["mgf1_hash"] = _mgf1_hash(spki, body, pos)
        else:
            fields["salt_length" if number == 2 else "trailer"] = _integer(spki, body, pos)
    return PssParams(**fields)  # type: ignore[arg-type]


def _hash_name(der: bytes, pos: int, end: int) -> str:
    """A HashAlgorithm (an AlgorithmIdentifier: OID, NULL or nothing) filling [pos:end]."""
    tag, body, seq_end = read_tlv(der, pos, end)
    if tag != 0x30 or seq_end != end:
        raise DERError("an RSASSA-PSS hash that is not an AlgorithmIdentifier")
    tag, start, after = read_tlv(der, body, seq_end)
    if tag != 0x06:
        raise DERError("an RSASSA-PSS hash without its OID")
    if after != seq_end and der[after:seq_end] != b"\x05\x00":
        raise DERError("an RSASSA-PSS hash with parameters other than NULL")
    oid = der[start:after]
    name = _HASH_NAMES.get(oid)
    if name is None:
        from .._ocsp_der import decode_oid
        try:
            name = decode_oid(oid)
        except ValueError as exc:
            raise DERError(f"an RSASSA-PSS hash OID that does not decode: {exc}") from exc
    return name


def _mgf1_hash(der: bytes, pos: int, end: int) -> str:
    """A MaskGenAlgorithm filling [pos:end]: id-mgf1 and its HashAlgorithm."""
    tag, body, seq_end = read_tlv(der, pos, end)
    if tag != 0x30 or seq_end != end:
        raise DERError("an RSASSA-PSS mask generation that is not an AlgorithmIdentifier")
    tag, start, after = read_tlv(der, body, seq_end)
    if tag != 0x06 or der[start:after] != _MGF1 or after == seq_end:
        raise DERError("an RSASSA-PSS mask generation other than MGF1 with its hash")
    return _hash_name(der, after, seq_end)


def _integer(der: bytes, pos: int, end: int) -> int:
    """A small non-negative INTEGER filling [pos:end] (a salt length, a trailer)."""
    tag, body, int_end = read_tlv(der, pos, end)
    if tag != 0x02 or int_end != end or not 1 <= int_end - body <= 4 or der[body] & 0x80:
        raise DERError("an RSASSA-PSS salt length or trailer that is no small INTEGER")
    return int.from_bytes(der[body:int_end], "big")


@dataclass(slots=True)
class CertificateDER:
    """The raw pieces of a certificate: whole TLVs, except ``serial`` (INTEGER contents)."""

    tbs: bytes
    tbs_signature: bytes  # tbsCertificate.signature AlgorithmIdentifier
    signature_algorithm: bytes  # Certificate.signatureAlgorithm
    serial: bytes
    issuer: bytes
    subject: bytes
    spki: bytes
    # The Extensions SEQUENCE TLV when the tbsCertificate ends with [3] extensions right
    # after the key, b"" when it ends with the key; None for any other tail (unique IDs,
    # stray bytes): then only the parser's view of the extensions is used.
    extensions: bytes | None = None


def split_certificate(der: bytes) -> CertificateDER:
    """Split a DER certificate (RFC 5280 4.1) into its raw pieces; raises DERError.

    A never-seen certificate is split on every handshake that brings one, so the common
    shape is read in one pass (`_split_common`); anything else, well formed or not, goes
    through the element-by-element reader, which alone explains what is wrong."""
    pieces = _split_common(der)
    return pieces if pieces is not None else _split_checked(der)


# The tags of the tbsCertificate's first seven elements in the common shape: version,
# serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo.
_COMMON_TBS_TAGS: tuple[int, ...] = (0xA0, 0x02, 0x30, 0x30, 0x30, 0x30, 0x30)
_AFTER_SERIAL_TAGS = _COMMON_TBS_TAGS[2:]  # what follows a v3 version and a short serial
_V3_SERIAL = b"\xa0\x03\x02\x01\x02\x02"  # [0] { INTEGER 2 }, then the serial's tag


def _split_common(der: bytes) -> CertificateDER | None:
    """The split of a certificate in the common shape (a version field; the outer and TBS
    SEQUENCEs with two-octet lengths, the other elements with short or one- or two-octet
    lengths), or None, with nothing raised, for any other input. Every element is checked
    as `read_tlv` checks it (tag, length, ends inside its container), so whatever this
    returns is what `_split_checked` returns. Only where each element starts is kept while
    reading (a new leaf is split on every handshake that brings one).

    The elements follow one another, so one that ran past the TBS leaves the position
    past it for good: checking the position once, at the end, refuses what checking
    after each element would (and reading past the input is an IndexError, refused too).
    A v3 version field and a short serial header are recognised in one comparison."""
    size = len(der)
    if size < 8 or der[0] != 0x30 or der[1] != 0x82 or der[4] != 0x30 or der[5] != 0x82:
        return None
    tbs_end = 8 + ((der[6] << 8) | der[7])
    if 4 + ((der[2] << 8) | der[3]) != size or tbs_end > size:
        return None
    try:
        if der.startswith(_V3_SERIAL, 8) and der[14] < 0x80:
            starts = [8, 13]
            pos = 15 + der[14]
            tags = _AFTER_SERIAL_TAGS
        else:
            starts = []
            pos = 8
            tags = _COMMON_TBS_TAGS
        for expect in tags:
            if der[pos] != expect:
                return None
            starts.append(pos)
            n = der[pos + 1]
            if n < 0x80:
                pos += 2 + n
            elif n == 0x81:
                pos += 3 + der[pos + 2]
            elif n == 0x82:
                pos += 4 + ((der[pos + 2] << 8) | der[pos + 3])
            else:
                return None
    except IndexError:
        return None
    if pos > tbs_end:
        return None
    # signatureAlgorithm: a SEQUENCE with a short length right after the TBS.
    if tbs_end + 2 > size or der[tbs_end] != 0x30 or der[tbs_end + 1] & 0x80:
        return None
    alg_end = tbs_end + 2 + der[tbs_end + 1]
    if alg_end > size:
        return None
    _, serial, sig, issuer, validity, subject, spki = starts
    n = der[serial + 1]  # the serial's contents follow a header of 2, 3 or 4 octets
    serial_body = serial + 2 + (n - 0x80 if n & 0x80 else 0)
    return CertificateDER(  # by position (keywords cost more than the slicing here)
        der[4:tbs_end],  # tbs
        der[sig:issuer],  # tbs_signature
        der[tbs_end:alg_end],  # signature_algorithm
        der[serial_body:sig],  # serial
        der[issuer:validity],  # issuer
        der[subject:spki],  # subject
        der[spki:pos],  # spki
        _common_tail(der, pos, tbs_end),  # extensions
    )


def _common_tail(der: bytes, pos: int, tbs_end: int) -> bytes | None:
    """`_extensions_tail` for the usual tail, read in place: [3] and the SEQUENCE in it
    with short or one- or two-octet lengths, ending together at ``tbs_end`` (`read_tlv`
    reads such lengths alike, so the answer is the same); any other tail, or what is not
    this one, is left to `_extensions_tail`. A length octet read past ``tbs_end`` puts
    the end past it too, which is refused."""
    try:
        if der[pos] == 0xA3 and pos < tbs_end:
            n = der[pos + 1]
            if n < 0x80:
                body = pos + 2
                end = body + n
            elif n == 0x81:
                body = pos + 3
                end = body + der[pos + 2]
            elif n == 0x82:
                body = pos + 4
                end = body + ((der[pos + 2] << 8) | der[pos + 3])
            else:
                end = -1
            if end == tbs_end and der[body] == 0x30:
                n = der[body + 1]
                if n < 0x80:
                    end = body + 2 + n
                elif n == 0x81:
                    end = body + 3 + der[body + 2]
                elif n == 0x82:
                    end = body + 4 + ((der[body + 2] << 8) | der[body + 3])
                else:
                    end = -1
                if end == tbs_end:
                    return der[body:tbs_end]
    except IndexError:
        pass
    return _extensions_tail(der, pos, tbs_end)


def _extensions_tail(der: bytes, pos: int, tbs_end: int) -> bytes | None:
    """What follows the key in the tbsCertificate (``der[pos:tbs_end]``), if it is exactly
    nothing (b"") or one [3] holding one SEQUENCE (that SEQUENCE's TLV); else None. Never
    raises: both readers call it, so they agree on it."""
    if pos == tbs_end:
        return b""
    try:
        tag, body, end = read_tlv(der, pos, tbs_end)
        if tag != 0xA3 or end != tbs_end:
            return None
        tag, _, inner_end = read_tlv(der, body, end)
    except DERError:
        return None
    return der[body:end] if tag == 0x30 and inner_end == end else None


def _split_checked(der: bytes) -> CertificateDER:
    """`split_certificate` one element at a time, saying what is wrong with bad input."""
    tag, start, end = read_tlv(der, 0, len(der))
    if tag != 0x30 or end != len(der):
        raise DERError("not a single SEQUENCE")
    tag, tbs_body, tbs_end = read_tlv(der, start, end)  # the TBS TLV starts at `start`
    if tag != 0x30:
        raise DERError("tbsCertificate is not a SEQUENCE")
    tag, _, alg_end = read_tlv(der, tbs_end, end)
    if tag != 0x30:
        raise DERError("signatureAlgorithm is not a SEQUENCE")
    pos = tbs_body
    tag, _, after = read_tlv(der, pos, tbs_end)
    if tag == 0xA0:  # [0] EXPLICIT version
        pos = after
        tag, _, after = read_tlv(der, pos, tbs_end)
    if tag != 0x02:
        raise DERError("serialNumber is not an INTEGER")
    _, serial_body, _ = read_tlv(der, pos, tbs_end)
    serial = der[serial_body:after]
    pos = after
    fields: list[bytes] = []
    for _ in range(5):  # signature, issuer, validity, subject, subjectPublicKeyInfo
        tag, _, after = read_tlv(der, pos, tbs_end)
        if tag != 0x30:
            raise DERError("tbsCertificate field is not a SEQUENCE")
        fields.append(der[pos:after])
        pos = after
    return CertificateDER(
        tbs=der[start:tbs_end], tbs_signature=fields[0], signature_algorithm=der[tbs_end:alg_end],
        serial=serial, issuer=fields[1], subject=fields[3], spki=fields[4],
        extensions=_extensions_tail(der, pos, tbs_end),
    )


_EMPTY_NAME = b"\x30\x00"
_COMMON_NAME_OID = b"\x55\x04\x03"  # 2.5.4.3
_STRING_CODECS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1",
                  0x1E: "utf-16-be", 0x1C: "utf-32-be"}


def common_names_of(name_der: bytes) -> list[str]:
    """The commonName values of an encoded Name, decoded (undecodable values are kept as
    replacement text, so they still count as present and compare unequal to anything)."""
    out: list[str] = []
    try:
        _, pos, end = read_tlv(name_der, 0, len(name_der))
        while pos < end:
            _, rdn, pos = read_tlv(name_der, pos, end)
            while rdn < pos:
                _, attr, rdn = read_tlv(name_der, rdn, pos)
                tag, oid, oid_end = read_tlv(name_der, attr, rdn)
                if name_der[oid:oid_end] != _COMMON_NAME_OID:
                    continue
                tag, value, value_end = read_tlv(name_der, oid_end, rdn)
                codec = _STRING_CODECS.get(tag, "latin-1")
                out.append(name_der[value:value_end].decode(codec, errors="replace"))
    except DERError:
        out.append("\ufffd")
    return out


_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")  # id-ecPublicKey


# The whole encoding up to the point, by total length, of an uncompressed key on P-256,
# P-384 and P-521: what nearly every EC certificate carries. These headers fix every
# element `_spki_problem` reads, and name the curve, so such a key needs no reading.
_NAMED_CURVE_SPKI = {
    91: bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200"),
    120: bytes.fromhex("3076301006072a8648ce3d020106052b81040022036200"),
    158: bytes.fromhex("30819b301006072a8648ce3d020106052b8104002303818600"),
}


def _spki_problem(spki: bytes) -> str | None:
    """An EC key must name its curve (CA/B BR 7.1.3.1.2): explicit parameters describe a
    curve the relying party would have to trust on the certificate's word."""
    header = _NAMED_CURVE_SPKI.get(len(spki))
    if header is not None and spki.startswith(header):
        return None
    return _spki_problem_read(spki)


def _spki_problem_read(spki: bytes) -> str | None:
    """`_spki_problem` element by element (raises DERError for a broken encoding)."""
    _, body, end = read_tlv(spki, 0, len(spki))
    tag, alg_body, alg_end = read_tlv(spki, body, end)
    tag, oid_body, oid_end = read_tlv(spki, alg_body, alg_end)
    if tag != 0x06 or spki[oid_body:oid_end] != _EC_PUBLIC_KEY:
        return None
    if oid_end >= alg_end or spki[oid_end] != 0x06:
        return "EC key with explicit curve parameters (a named curve is required)"
    return None


# What cryptography does with a Name that loaded, when its ``subject`` or ``issuer`` is
# read: each attribute becomes a NameAttribute, which fails for a string type it has no
# name for, a value that is not UTF-8 (T61String, OctetString...), a BIT STRING under any
# type but x500UniqueIdentifier, or two equal attributes in one RDN, and warns for a
# commonName outside 1-64 octets or a country name that is not two. So an attribute
# alone in its RDN, of a type below, a UTF8String, PrintableString or IA5String that
# decodes (the walk decodes it anyway), within those lengths, is read without fail: a
# name of only such attributes need not be parsed to prove that it parses.
# tests/x509/test_name_parse_proof.py checks this against cryptography itself.
_COUNTRY_OIDS = (b"\x55\x04\x06", b"\x2b\x06\x01\x04\x01\x82\x37\x3c\x02\x01\x03")
_PLAIN_NAME_LENGTHS: dict[bytes, tuple[int, int]] = {
    _COMMON_NAME_OID: (1, 64),
    **{oid: (2, 2) for oid in _COUNTRY_OIDS},  # countryName, jurisdictionCountryName
    **{bytes.fromhex(oid): (0, 1 << 32) for oid in (
        "550407", "550408", "550409", "55040a", "55040b", "550405", "550411", "55040f",
        "550461", "55042a", "550404", "55040c",  # L, ST, street, O, OU, serialNumber,
        # postalCode, businessCategory, organizationIdentifier, givenName, surname, title
        "2b0601040182373c020101", "2b0601040182373c020102",  # jurisdiction L, ST
        "0992268993f22c640119", "0992268993f22c640101",  # domainComponent, userId
        "2a864886f70d010901",  # emailAddress
    )},
}


# The usual leaf subject, one RDN of one commonName of 1-64 octets, by its length: the
# header up to the value's tag (the SEQUENCE, SET and attribute lengths, all short, and
# the OID). With the tag and the value's own length octet after it, these fix every
# element the walk in `_name_problem` reads.
_ONE_COMMON_NAME = {13 + n: bytes([0x30, 11 + n, 0x31, 9 + n, 0x30, 7 + n, 0x06, 0x03])
                    + _COMMON_NAME_OID for n in range(1, 65)}
_NAME_CODECS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii"}  # the plain string types


def _name_problem(name: bytes) -> tuple[str | None, bool]:
    """Is an encoded Name well formed (RFC 5280 4.1.2.4: a SEQUENCE of non-empty SETs of
    type-and-value SEQUENCEs, strings that decode)? Checked here because the parsed names
    are only built when needed. Returns (problem, plain): plain when every attribute is
    one cryptography reads without fail (see `_PLAIN_NAME_LENGTHS`), so the name need
    not be parsed to learn that it can be. A name that is one commonName is recognised
    by its header (a new leaf's subject, on every handshake that brings one)."""
    head = _ONE_COMMON_NAME.get(len(name))
    if head is not None and name.startswith(head) and name[12] == len(name) - 13:
        codec = _NAME_CODECS.get(name[11])
        if codec is not None:
            try:
                name[13:].decode(codec)
            except UnicodeDecodeError:
                return "cannot be parsed", False
            return None, True
    return _name_walk(name)


def _name_walk(name: bytes) -> tuple[str | None, bool]:
    """`_name_problem` element by element."""
    plain = True
    try:
        tag, pos, end = read_tlv(name, 0, len(name))
        if tag != 0x30 or end != len(name):
            return "is not a SEQUENCE", False
        while pos < end:
            tag, rdn, pos = read_tlv(name, pos, end)
            if tag != 0x31 or rdn == pos:
                return "has an empty or mistagged RelativeDistinguishedName", False
            first = True
            while rdn < pos:
                tag, attr, rdn = read_tlv(name, rdn, pos)
                if tag != 0x30:
                    return "has a mistagged attribute", False
                tag, oid, oid_end = read_tlv(name, attr, rdn)
                if tag != 0x06 or oid == oid_end or name[oid_end - 1] & 0x80:
                    return "has a malformed attribute type", False
                tag, value, value_end = read_tlv(name, oid_end, rdn)
                if value_end != rdn:
                    return "has trailing data in an attribute", False
                raw = name[value:value_end]
                if tag == 0x0C:
                    raw.decode("utf-8")
                elif tag == 0x13 or tag == 0x16:  # PrintableString, IA5String
                    raw.decode("ascii")
                else:
                    plain = False
                    if (tag == 0x1E and len(raw) % 2) or (tag == 0x1C and len(raw) % 4):
                        return "has a BMPString or UniversalString of a broken length", False
                if plain:
                    limits = _PLAIN_NAME_LENGTHS.get(name[oid:oid_end])
                    plain = first and rdn == pos and limits is not None \
                        and limits[0] <= len(raw) <= limits[1]
                first = False
    except (DERError, UnicodeDecodeError):
        return "cannot be parsed", False
    return None, plain


def _serial_problem(raw: bytes) -> str | None:
    """RFC 5280 4.1.2.2 on the encoded INTEGER: positive, at most 20 octets."""
    if not raw:
        return "serial number is empty (RFC 5280 4.1.2.2)"
    if raw[0] & 0x80 or not any(raw):
        return "serial number is not positive (RFC 5280 4.1.2.2)"
    if len(raw) > 20:
        return "serial number is longer than 20 octets (RFC 5280 4.1.2.2)"
    return None
