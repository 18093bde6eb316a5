"""`derext.read_extensions`, the DER reading of the common extensions that `analyze` uses
before asking cryptography, gives the very analysis cryptography's reading gives: on
real certificates (which must take the fast reading, or it would speed nothing up), on
arbitrary extension values of every extension it reads, and on mutated certificates.
Where it declines (None), cryptography's answer, or its error, is what counts."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit._ocsp_der import encode_oid
from tlskit.x509 import CertificateVerificationError, TrustStore, Verifier, certinfo, derext
from tlskit.x509.der import split_certificate

from . import pki
from .analysis import analysis_fields


def _both(cert: x509.Certificate) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(general analysis, fast analysis, whether the DER reader answered), the fast one
    computed twice: first decoding, then from the remembered extensions."""
    der = cert.public_bytes(Encoding.DER)
    pieces = split_certificate(der)
    general = analysis_fields(certinfo._analyze(cert, der, pieces, fast=False))
    derext._REMEMBERED.clear()
    fast = analysis_fields(certinfo._analyze(cert, der, pieces))
    assert analysis_fields(certinfo._analyze(cert, der, pieces)) == fast
    return general, fast, derext.read_extensions(pieces.extensions) is not None


def _same(cert: x509.Certificate) -> bool:
    general, fast, answered = _both(cert)
    assert fast == general
    return answered


@cache
def _issuers() -> tuple[pki.Issued, pki.Issued]:
    root = pki.root("Derext Root")
    return root, pki.intermediate("Derext CA", root, path_len=0)


SCT_LIST = ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS


def _u16(body: bytes) -> bytes:
    return struct.pack(">H", len(body)) + body


def _sct(log: int, hash_alg: int = 4, sig_alg: int = 3, extensions: bytes = b"") -> bytes:
    """A version-0 SignedCertificateTimestamp, as a log issues it (RFC 6962 3.2)."""
    return (b"\x00" + bytes([log]) * 32 + struct.pack(">Q", 1_780_000_000_000 + log)
            + _u16(extensions) + bytes([hash_alg, sig_alg]) + _u16(bytes([0x30, log]) * 36))


def _octet_string(body: bytes) -> bytes:
    return pki._der(0x04, body)


def _sct_list(*scts: bytes) -> bytes:
    """The extension value: an OCTET STRING holding the TLS vector of SCTs."""
    return _octet_string(_u16(b"".join(_u16(sct) for sct in scts)))


# What a public CA adds to a leaf beside the usual extensions, in their common shapes.
_PUBLIC_EXTRAS: list[tuple[x509.ExtensionType, bool]] = [
    (x509.AuthorityInformationAccess([
        x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                               x509.UniformResourceIdentifier("http://o.ca.example")),
        x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                               x509.UniformResourceIdentifier("http://i.ca.example/ca.der")),
    ]), False),
    (x509.CertificatePolicies([
        x509.PolicyInformation(x509.ObjectIdentifier("2.23.140.1.2.1"), None),
        x509.PolicyInformation(x509.ObjectIdentifier("1.3.6.1.4.1.44947.1.1.1"),
                               ["http://cps.ca.example/"]),
    ]), False),
    (x509.CRLDistributionPoints([x509.DistributionPoint(
        [x509.UniformResourceIdentifier("http://crl.ca.example/ca.crl")], None, None, None)]),
     False),
    (x509.UnrecognizedExtension(SCT_LIST, _sct_list(_sct(1), _sct(2, sig_alg=1))), False),
]


@cache
def _samples() -> tuple[x509.Certificate, ...]:
    root, inter = _issuers()
    rsa_root = pki.root("Derext RSA Root", key_kind="rsa2048")
    return (
        root.cert, inter.cert, rsa_root.cert,
        pki.leaf("a.example", inter).cert,
        pki.leaf("b.example", rsa_root, key_kind="rsa2048",
                 sans=[f"h{i}.example" for i in range(40)] + ["192.0.2.7", "2001:db8::1"]).cert,
        pki.leaf("c.example", root, ku={"digital_signature": True, "key_encipherment": True},
                 eku=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]).cert,
        pki.leaf("d.example", root, ku=None, eku=None, ca=None, key_ids=False).cert,
        pki.leaf("public.example", inter, sans=["public.example", "www.public.example"],
                 eku=[ExtendedKeyUsageOID.SERVER_AUTH], extra=_PUBLIC_EXTRAS).cert,
    )


def test_real_certificates_take_the_der_reading() -> None:
    for cert in _samples():
        assert _same(cert)


def test_what_the_reader_declines_is_read_by_cryptography() -> None:
    """Name constraints, other extensions, other name forms: the general reading."""
    root, _ = _issuers()
    for cert in (
        pki.intermediate("Constrained", root, permitted=["example.com"]).cert,
        pki.leaf("e.example", root, sans=["e.example", "email:x@e.example"]).cert,
        pki.leaf("f.example", root, extra=[(x509.OCSPNoCheck(), False)]).cert,
    ):
        assert not _same(cert)


def _with_extension(oid: x509.ObjectIdentifier, value: bytes, critical: bool,
                    leaf: bool = True) -> x509.Certificate:
    """A certificate carrying ``value`` as the extnValue of ``oid``, whatever it holds."""
    root, _ = _issuers()
    ext = x509.UnrecognizedExtension(oid, value)
    kw: dict[str, Any] = {"ca": None, "ku": None, "key_ids": False}
    if not leaf:
        kw["ca"] = True
    if oid == ExtensionOID.BASIC_CONSTRAINTS:
        kw["ca"] = None
    return pki.make("x.example", root, extra=[(ext, critical)], **kw).cert


_CHECKED = [ExtensionOID.AUTHORITY_INFORMATION_ACCESS, ExtensionOID.CERTIFICATE_POLICIES,
            ExtensionOID.CRL_DISTRIBUTION_POINTS, SCT_LIST]
_READ = [ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE,
         ExtensionOID.EXTENDED_KEY_USAGE, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
         ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.AUTHORITY_KEY_IDENTIFIER, *_CHECKED]


def _encoded(ext: x509.ExtensionType) -> bytes:
    return ext.public_bytes()


# Valid encodings of each extension the reader handles, for mutating.
_VALID: list[tuple[x509.ObjectIdentifier, bytes]] = [
    (ExtensionOID.BASIC_CONSTRAINTS, _encoded(x509.BasicConstraints(True, 3))),
    (ExtensionOID.BASIC_CONSTRAINTS, _encoded(x509.BasicConstraints(False, None))),
    (ExtensionOID.KEY_USAGE, _encoded(x509.KeyUsage(True, False, True, False, True, False,
                                                    False, False, True))),
    (ExtensionOID.KEY_USAGE, _encoded(x509.KeyUsage(False, False, False, False, False, True,
                                                    True, False, False))),
    (ExtensionOID.EXTENDED_KEY_USAGE, _encoded(x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]))),
    (ExtensionOID.SUBJECT_ALTERNATIVE_NAME, _encoded(x509.SubjectAlternativeName(
        [x509.DNSName("a.example"), x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
         x509.DNSName("*.b.example")]))),
    (ExtensionOID.SUBJECT_KEY_IDENTIFIER, _encoded(x509.SubjectKeyIdentifier(b"\x01" * 20))),
    (ExtensionOID.AUTHORITY_KEY_IDENTIFIER, _encoded(x509.AuthorityKeyIdentifier(
        b"\x02" * 20, None, None))),
    *((ext.oid, _encoded(ext)) for ext, _ in _PUBLIC_EXTRAS),
]


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(_READ), st.binary(max_size=24), st.booleans(), st.booleans())
def test_arbitrary_extension_values_analyze_the_same(
    oid: x509.ObjectIdentifier, value: bytes, critical: bool, leaf: bool
) -> None:
    _same(_with_extension(oid, value, critical, leaf))


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(_VALID), st.data())
def test_mutated_extension_values_analyze_the_same(
    sample: tuple[x509.ObjectIdentifier, bytes], data: st.DataObject
) -> None:
    oid, encoded = sample
    value = bytearray(encoded)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(value)))
        how = data.draw(st.sampled_from(["set", "insert", "delete", "cut"]))
        if how == "set" and at < len(value):
            value[at] = data.draw(st.integers(0, 255))
        elif how == "insert":
            value[at:at] = data.draw(st.binary(min_size=1, max_size=3))
        elif how == "delete" and at < len(value):
            del value[at]
        elif how == "cut":
            del value[at:]
    _same(_with_extension(oid, bytes(value), data.draw(st.booleans()), data.draw(st.booleans())))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_certificates_analyze_the_same(data: st.DataObject) -> None:
    """Bytes flipped anywhere in the extensions: a certificate cryptography still loads
    analyzes the same both ways; the reader itself never raises on the raw block."""
    der = bytearray(data.draw(st.sampled_from(_samples())).public_bytes(Encoding.DER))
    block = split_certificate(bytes(der)).extensions
    assert block
    start = bytes(der).index(block)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(start, start + len(block) - 1))
        der[at] = data.draw(st.integers(0, 255))
    reading = derext.read_extensions(bytes(der[start:start + len(block)]))
    assert reading is None or isinstance(reading, list)
    try:
        cert = x509.load_der_x509_certificate(bytes(der))
    except ValueError:
        return  # never reaches the validator: the handshake fails to parse it
    _same(cert)


def test_duplicate_extension_is_cryptographys_error() -> None:
    """Two keyUsage extensions: the reader declines, and the verdict is cryptography's
    refusal to parse the extensions (malformed), with the same message both ways."""
    root, _ = _issuers()
    ku = _encoded(x509.KeyUsage(True, False, False, False, False, False, False, False, False))
    stand_in = x509.ObjectIdentifier("2.5.29.99")  # encodes as long as keyUsage's OID
    issued = pki.make("dup.example", root, extra=[
        (x509.UnrecognizedExtension(stand_in, ku), True)])
    der = issued.cert.public_bytes(Encoding.DER).replace(b"\x06\x03\x55\x1d\x63",
                                                         b"\x06\x03\x55\x1d\x0f")
    cert = x509.load_der_x509_certificate(der)
    general, fast, answered = _both(cert)
    assert not answered and fast == general
    assert str(general["malformed"]).startswith("an extension cannot be parsed")


def _verdict(store: TrustStore, cert: x509.Certificate, host: str) -> tuple[object, ...]:
    try:
        chain = Verifier(store).verify(cert, [], server_name=host, at=pki.NOW)
    except CertificateVerificationError as exc:
        return exc.reason, str(exc), exc.alert
    return ("valid", len(chain))


def test_verdicts_messages_and_alerts_match_the_general_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Verifier gives the same reason, message and alert whether the DER reader read
    the leaf or declined it (forced here), for leaves whose extensions fail a check."""
    root, _ = _issuers()
    store = TrustStore([root.cert])
    cases = [
        ("k.example", "key_usage", pki.leaf("k.example", root, ku={"key_cert_sign": True})),
        ("e.example", "extended_key_usage",
         pki.leaf("e.example", root, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])),
        ("other2.example", "hostname_mismatch", pki.leaf("other.example", root)),
        ("ca.example", "key_usage", pki.leaf("ca.example", root, ca=True)),
        ("ok.example", "valid", pki.leaf("ok.example", root)),
    ]
    fast = []
    for host, reason, issued in cases:
        assert _same(issued.cert)
        fast.append(_verdict(store, issued.cert, host))
        assert fast[-1][0] == reason
    monkeypatch.setattr(derext, "read_extensions", lambda block: None)
    assert [_verdict(store, issued.cert, host) for host, _, issued in cases] == fast


def _extension_offsets(block: bytes) -> list[int]:
    """Offsets in an Extensions block of what the reader decides on: the block's header,
    and each Extension's tag, length octets, OID header, first and last value octets."""
    offsets = [0, 1, 2, 3]
    span = derext._only(block, 0x30)
    assert span is not None
    pos, end = span
    while pos < end:
        tlv = derext._tlv(block, pos, end)
        assert tlv is not None
        offsets.extend(range(pos, min(tlv[1] + 3, tlv[2])))
        offsets.extend((tlv[2] - 2, tlv[2] - 1))
        pos = tlv[2]
    return offsets


def _same_remembering(cert: x509.Certificate) -> None:
    """Both readings agree with the remembered extensions left as earlier certificates
    left them: an encoding filed under the wrong key would be found for another one."""
    der = cert.public_bytes(Encoding.DER)
    pieces = split_certificate(der)
    general = analysis_fields(certinfo._analyze(cert, der, pieces, fast=False))
    assert analysis_fields(certinfo._analyze(cert, der, pieces)) == general


_EDGES = (0x00, 0x01, 0x02, 0x04, 0x30, 0x31, 0x7F, 0x80, 0x81, 0x82, 0xFF)


def _octet_changed(der: bytes, at: int) -> Iterator[x509.Certificate]:
    """The certificates cryptography still loads with ``der[at]`` set to each edge value
    and the original's neighbours (the signature no longer matches: analysis does not
    check it)."""
    original = der[at]
    for value in {*_EDGES, (original + 1) & 0xFF, (original - 1) & 0xFF}:
        mutated = bytearray(der)
        mutated[at] = value
        try:
            yield x509.load_der_x509_certificate(bytes(mutated))
        except ValueError:
            continue


def test_every_extension_header_octet_changed_analyzes_the_same() -> None:
    """Each octet the reader decides on, set to edge values and its neighbours, in every
    sample: a certificate cryptography still loads analyzes the same both ways, one after
    the other (the remembered extensions are not cleared between them)."""
    derext._REMEMBERED.clear()
    for cert in _samples():
        der = cert.public_bytes(Encoding.DER)
        block = split_certificate(der).extensions
        assert block
        start = der.index(block)
        for at in _extension_offsets(block):
            for changed in _octet_changed(der, start + at):
                _same_remembering(changed)
            _same_remembering(cert)


@st.composite
def _headed(draw: st.DrawFn) -> bytes:
    """A tag, a length in any form (short, one to three octets, minimal or not), and
    contents that may be shorter or longer than it says."""
    size = draw(st.sampled_from([0, 1, 5, 127, 128, 200, 255, 256, 300]))
    form = draw(st.sampled_from(["short", "81", "82", "83"]))
    if (form == "short" and size >= 0x80) or (form == "81" and size > 0xFF):
        form = "82"
    length = bytes([size]) if form == "short" else bytes(
        [0x80 | int(form[1]), *size.to_bytes(int(form[1]), "big")])
    contents = b"\x05" * max(0, size + draw(st.sampled_from([-1, 0, 0, 0, 1])))
    return bytes([draw(st.sampled_from([0x30, 0x31, 0x04]))]) + length + contents


@settings(max_examples=400, deadline=None)
@given(st.one_of(_headed(), st.binary(max_size=6)))
def test_the_block_header_is_read_in_place_as_by_tlv(buf: bytes) -> None:
    """`_contents_start` is `_only(buf, 0x30)` refusing an empty SEQUENCE, as
    read_extensions asked it before reading the header in place."""
    span = derext._only(buf, 0x30)
    expected = span[0] if span is not None and span[0] != span[1] else None
    assert derext._contents_start(buf) == expected


@pytest.mark.parametrize("encoding", [b"\x30\x00", b"\x30\x03\x01\x01\xff",
                                      *(b"\x30\x06\x01\x01\xff\x02\x01" + bytes([n])
                                        for n in (0, 1, 5, 127))])
def test_basic_constraints_fields_are_cryptographys(encoding: bytes) -> None:
    """The reader's basicConstraints values (fields of its own tuple) are what
    cryptography's parsed value says, for each shape it reads."""
    cert = _with_extension(ExtensionOID.BASIC_CONSTRAINTS, encoding, True)
    parsed = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    read = derext._basic_constraints(encoding)
    assert read is not None and (read.ca, read.path_length) == (parsed.ca, parsed.path_length)


def test_an_empty_extensions_sequence_is_cryptographys_to_judge() -> None:
    """[3] holding an empty SEQUENCE (RFC 5280 says SIZE (1..MAX)): the reader declines."""
    root, _ = _issuers()
    issued = pki.leaf("empty.example", root)
    cert = pki.rebuild(issued, root, lambda items: [*items[:-1], b"\xa3\x02\x30\x00"])
    assert derext.read_extensions(b"\x30\x00") is None
    assert not _same(cert)


def test_an_extension_that_is_not_a_sequence_is_declined() -> None:
    """Whatever cryptography makes of it (it refuses to load these), the reader reads
    only Extension SEQUENCEs."""
    block = split_certificate(_samples()[3].public_bytes(Encoding.DER)).extensions
    assert block and derext.read_extensions(block) is not None
    for at in _extension_offsets(block)[4:]:
        if block[at] == 0x30 and derext._tlv(block, at, len(block)) is not None:
            retagged = block[:at] + b"\x31" + block[at + 1:]
            assert derext.read_extensions(retagged) is None


# --- authorityInfoAccess, certificatePolicies, cRLDistributionPoints, SCT list -------------
# Only checked (their values are not used), so the reader may answer only for encodings
# cryptography parses: generated encodings of each, common and odd shapes alike, and every
# octet of the valid ones changed, must find cryptography refusing exactly what the reader
# declines, and the analysis the same both ways.


def _agrees(cert: x509.Certificate) -> bool:
    """The reader answers only when cryptography parses the certificate's extensions, and
    both analyses are the same; whether the reader answered."""
    answered = _same(cert)
    try:
        cert.extensions  # noqa: B018 - parsing is the point
    except ValueError:
        assert not answered, "the reader read what cryptography refuses"
    return answered


def _tlv(tag: int, body: bytes, long_form: bool = False) -> bytes:
    """A TLV, its length in DER or (``long_form``) needlessly in two octets."""
    if long_form:
        return bytes([tag, 0x82]) + struct.pack(">H", len(body)) + body
    return pki._der(tag, body)


def _arcs(arcs: list[int]) -> bytes:
    """OID contents whose subidentifiers are ``arcs`` (the first joining two arcs)."""
    top = min(arcs[0] // 40, 2)
    dotted = ".".join(map(str, [top, arcs[0] - 40 * top, *arcs[1:]]))
    return pki.der_body(encode_oid(dotted))


_T = TypeVar("_T")


class _Shapes:
    """Draws an extension's encoding in its common shape, each choice now and then (at
    ``odds`` percent) an odd one: a needless long-form length, another tag, a wrong
    length, non-ASCII text, a malformed OID, an extra element, a value out of range."""

    def __init__(self, draw: st.DrawFn, odds: int) -> None:
        self.draw, self.odds = draw, odds

    def odd(self) -> bool:
        return self.odds > 0 and self.draw(st.integers(1, 100)) <= self.odds

    def pick(self, usual: _T, *others: _T) -> _T:
        return self.draw(st.sampled_from(others)) if self.odd() else usual

    def element(self, tag: int, body: bytes, *other_tags: int) -> bytes:
        tag = self.pick(tag, *other_tags) if other_tags else tag
        return _tlv(tag, body, self.odd())

    def items(self, item: Shape, tag: int = 0x30) -> bytes:
        """A SEQUENCE of one to three items (odd: none, or a SET)."""
        count = self.pick(self.draw(st.integers(1, 3)), 0)
        return self.element(tag, b"".join(item(self) for _ in range(count)), 0x31)

    def junk(self) -> bytes:
        return self.pick(b"", b"\x05\x00", b"\x01\x01\xff", b"\x00", b"\x86\x00")

    def oid(self, *known: bytes) -> bytes:
        contents = self.draw(st.one_of(st.sampled_from(known), _WELL_FORMED_OID))
        if self.odd():
            contents = self.draw(_OID_CONTENTS)
        return self.element(0x06, contents, 0x04, 0x0D)

    def text(self, tag: int, *other_tags: int) -> bytes:
        body = self.draw(_ASCII)
        if self.odd():
            body = self.draw(_TEXT)
        return self.element(tag, body, *other_tags)

    def uri(self) -> bytes:
        return self.text(0x86, 0x82, 0x81, 0x87, 0xA4, 0xA6, 0x16, 0x0C, 0x30)

    def byte(self, *usual: int) -> int:
        return self.draw(st.integers(0, 255)) if self.odd() else self.draw(
            st.sampled_from(usual))

    def prefixed(self, body: bytes) -> bytes:
        """``body`` after its 16-bit length (odd: a wrong one)."""
        slack = self.pick(0, -1, 1, 2, -40, 0x10000)
        return struct.pack(">H", max(0, min(0xFFFF, len(body) + slack))) + body


Shape = Callable[[_Shapes], bytes]
_ASCII = st.text(st.characters(max_codepoint=0x7F), max_size=24).map(str.encode)
_TEXT = st.one_of(st.text(max_size=8).map(str.encode), st.binary(max_size=8))
_KNOWN_OIDS = [bytes.fromhex(h) for h in (
    "2b06010505073001", "2b06010505073002", "67810c010201", "2b06010505070201",
    "2b06010505070202", "551d2000", "2b0601040182df130101")]
_WELL_FORMED_OID = st.lists(st.integers(0, 2**64), min_size=1, max_size=6).map(_arcs)
_OID_CONTENTS = st.one_of(
    st.binary(max_size=12),
    st.lists(st.one_of(st.integers(0, 300), st.integers(0, 2**140)), min_size=1,
             max_size=5).map(_arcs),
    st.integers(60, 66).map(lambda n: b"\x2b" * n),  # around cryptography's 63 octets
    st.sampled_from([b"\x80\x01", b"\x2b\x80\x01", b"\x2b\x81", b"\x2b\x06\x01\x80"]),
)


def _access_description(g: _Shapes) -> bytes:
    return g.element(0x30, g.oid(*_KNOWN_OIDS[:2]) + g.uri() + g.junk())


def _authority_info_access(g: _Shapes) -> bytes:
    return g.items(_access_description)


def _distribution_point(g: _Shapes) -> bytes:
    names = g.items(lambda g: g.uri())[2:]  # GeneralNames' contents
    full_name = g.element(0xA0, names, 0xA1, 0x30)
    point = g.element(0xA0, g.pick(full_name, b"", names, _tlv(0xA1, b"")))
    extras = g.pick(b"", b"\x81\x02\x07\x80", _tlv(0xA2, names))
    return g.element(0x30, g.pick(point, b"") + extras + g.junk())


def _crl_distribution_points(g: _Shapes) -> bytes:
    return g.items(_distribution_point)


def _qualifier(g: _Shapes) -> bytes:
    qualifier = g.oid(_KNOWN_OIDS[3]) if g.odd() else _tlv(0x06, _KNOWN_OIDS[3])
    value = g.text(0x16, 0x0C, 0x13, 0x30, 0x02)
    return g.element(0x30, qualifier + g.pick(value, b"") + g.junk())


def _policy_information(g: _Shapes) -> bytes:
    qualifiers = g.items(_qualifier) if g.draw(st.booleans()) else b""
    return g.element(0x30, g.oid(*_KNOWN_OIDS[2:]) + qualifiers + g.junk())


def _certificate_policies(g: _Shapes) -> bytes:
    return g.items(_policy_information)


def _one_sct(g: _Shapes) -> bytes:
    log_id = g.pick(b"\x11" * 32, b"\x11" * 31, b"\x11" * 33)
    sct = (bytes([g.byte(0)]) + log_id + g.draw(st.binary(min_size=8, max_size=8))
           + g.prefixed(g.draw(st.binary(max_size=4))) + bytes([g.byte(4), g.byte(1, 3)])
           + g.prefixed(g.draw(st.binary(max_size=72))) + g.junk())
    return sct[:g.draw(st.integers(0, len(sct)))] if g.odd() else sct


def _sct_list_value(g: _Shapes) -> bytes:
    count = g.pick(g.draw(st.integers(1, 3)), 0)
    scts = b"".join(g.prefixed(_one_sct(g)) for _ in range(count))
    return g.element(0x04, g.prefixed(scts) + g.junk(), 0x30, 0x03)


@st.composite
def _shaped(draw: st.DrawFn, shape: Shape, odds: int) -> bytes:
    return shape(_Shapes(draw, odds))


_SHAPES: dict[str, tuple[x509.ObjectIdentifier, Shape]] = {
    "authorityInfoAccess": (ExtensionOID.AUTHORITY_INFORMATION_ACCESS, _authority_info_access),
    "certificatePolicies": (ExtensionOID.CERTIFICATE_POLICIES, _certificate_policies),
    "cRLDistributionPoints": (ExtensionOID.CRL_DISTRIBUTION_POINTS, _crl_distribution_points),
    "signedCertificateTimestampList": (SCT_LIST, _sct_list_value),
}


@pytest.mark.parametrize("name", sorted(_SHAPES))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_generated_checked_extensions_agree_with_cryptography(
    name: str, data: st.DataObject
) -> None:
    """Generated encodings agree both ways; without odd choices (a third of them) the
    reader must answer: the shapes public CAs use are not left to the slow reading."""
    oid, shape = _SHAPES[name]
    odds = data.draw(st.sampled_from([0, 0, 2, 5, 10, 30]))
    value = data.draw(_shaped(shape, odds))
    answered = _agrees(_with_extension(oid, value, data.draw(st.booleans()),
                                       data.draw(st.booleans())))
    assert answered or odds, "a common shape was left to cryptography"


# Valid encodings of the checked extensions, a little richer than a public leaf's.
_CHECKED_VALID: list[tuple[x509.ObjectIdentifier, bytes]] = [
    *((ext.oid, _encoded(ext)) for ext, _ in _PUBLIC_EXTRAS),
    (ExtensionOID.CERTIFICATE_POLICIES, _encoded(x509.CertificatePolicies([
        x509.PolicyInformation(x509.ObjectIdentifier("2.23.140.1.2.2"),
                               ["http://a.example/cps", "http://b.example/"])]))),
    (ExtensionOID.CRL_DISTRIBUTION_POINTS, _encoded(x509.CRLDistributionPoints([
        x509.DistributionPoint([x509.UniformResourceIdentifier("http://a.example/1.crl"),
                                x509.UniformResourceIdentifier("ldap://b.example/")],
                               None, None, None),
        x509.DistributionPoint([x509.UniformResourceIdentifier("http://c.example/")],
                               None, None, None)]))),
    (SCT_LIST, _sct_list(_sct(3, extensions=b"\x00\x01\x02"))),
    (ExtensionOID.SUBJECT_ALTERNATIVE_NAME, _encoded(x509.SubjectAlternativeName(
        [x509.DNSName("n1.localhost"), x509.DNSName("*.example.org")]))),
]


@pytest.mark.parametrize("sample", range(len(_CHECKED_VALID)))
def test_every_octet_of_a_checked_extension_changed_agrees(sample: int) -> None:
    """Each octet of a valid encoding set to edge values and its neighbours (spliced
    into the certificate: the analysis does not check signatures), and the encoding cut
    at every length: the reader answers only where cryptography parses, and all of these
    valid encodings are answered."""
    oid, value = _CHECKED_VALID[sample]
    cert = _with_extension(oid, value, False)
    assert _agrees(cert)
    der = cert.public_bytes(Encoding.DER)
    at = der.index(value)
    for offset in range(len(value)):
        for changed in _octet_changed(der, at + offset):
            _agrees(changed)
    for cut in range(len(value)):
        _agrees(_with_extension(oid, value[:cut], False))


def test_an_sct_list_is_not_remembered() -> None:
    """An SCT list is unique to its certificate: remembering it would only push the
    issuer's extensions (the same in every leaf) out of the remembered ones."""
    derext._REMEMBERED.clear()
    assert _same(_samples()[-1])
    assert derext._REMEMBERED
    remembered = {ext[0] for ext, _bit in derext._REMEMBERED.values()}
    assert SCT_LIST not in remembered
    assert ExtensionOID.AUTHORITY_INFORMATION_ACCESS in remembered


@pytest.mark.parametrize("extension", [x509.SubjectKeyIdentifier,
                                       x509.SubjectAlternativeName])
def test_a_leafs_own_extensions_are_not_remembered(extension: type) -> None:
    """A subjectKeyIdentifier names one key and a subjectAltName one site's hosts, so
    each new leaf brings its own: read every time (the same), never filed, while the
    issuer's extensions are."""
    derext._REMEMBERED.clear()
    cert = _samples()[-1]
    assert cert.extensions.get_extension_for_class(extension)
    for _ in range(2):
        assert _same(cert)
    remembered = {ext[0] for ext, _bit in derext._REMEMBERED.values()}
    assert extension.oid not in remembered
    assert ExtensionOID.AUTHORITY_KEY_IDENTIFIER in remembered


@pytest.mark.parametrize(("names", "read"), [
    (["a.example"], True), (["n1.localhost", "*.example.com", "x" * 60 + ".example"], True),
    (["a.example", "10.0.0.1"], True), (["bücher.example"], False),
    (["x" * 130 + ".example"], True), (["a" * 62 + ".example", "b" * 62 + ".example"], True),
])
def test_subject_alt_names_read_as_cryptography_does(names: list[str], read: bool) -> None:
    """dNSNames in short lengths are read in one loop (`derext._subject_alt_name`); an
    address or a long length sends the value through the general reader, and a
    non-ASCII name is left to cryptography: all the same. (cryptography's builder
    refuses a U-label, so the DER is written here.)"""
    parts = []
    for name in names:
        try:
            parts.append(_tlv(0x87, ipaddress.ip_address(name).packed))
        except ValueError:
            parts.append(_tlv(0x82, name.encode("utf-8")))
    assert _agrees(_with_extension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                                   _tlv(0x30, b"".join(parts)), False)) is read


@pytest.mark.parametrize("critical", [False, True])
@pytest.mark.parametrize("size", [1, 19, 20, 21, 32])
def test_subject_key_identifiers_of_every_size_read_as_cryptography_does(
        size: int, critical: bool) -> None:
    """The usual 20-octet identifier is recognised by its shape (`derext._USUAL_SKI`);
    other sizes, and a critical one, are read element by element: all the same."""
    assert _agrees(_with_extension(ExtensionOID.SUBJECT_KEY_IDENTIFIER,
                                   _tlv(0x04, bytes(range(1, size + 1))), critical))


def test_the_usual_subject_key_identifier_is_read_by_its_shape(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A 20-octet identifier, not critical, is read without the element reader, and gives
    the identifier cryptography gives."""
    cert = _with_extension(ExtensionOID.SUBJECT_KEY_IDENTIFIER, _tlv(0x04, bytes(20)), False)
    block = split_certificate(cert.public_bytes(Encoding.DER)).extensions
    assert block
    start = block.index(derext._USUAL_SKI)
    monkeypatch.setattr(derext, "_tlv", None)  # any use of the element reader fails
    read = derext._extension(block, start, start + 29)
    assert read is not None
    (oid, critical, value), _bit = read
    assert (oid, critical) == (ExtensionOID.SUBJECT_KEY_IDENTIFIER, False)
    assert value.digest == cert.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest


def _aia(access_method: bytes, location: bytes = b"\x86\x09http://x/") -> bytes:
    return _tlv(0x30, _tlv(0x30, _tlv(0x06, access_method) + location))


def _policies(*information: bytes) -> bytes:
    return _tlv(0x30, b"".join(_tlv(0x30, info) for info in information))


_POLICY = _tlv(0x06, _KNOWN_OIDS[2])
_CPS_ID = _tlv(0x06, _KNOWN_OIDS[3])
_URI = b"\x86\x09http://x/"


def _overlong(sct: bytes) -> bytes:
    """``sct`` in the list with its length and its signature's both claiming one octet
    more than there is: consistent inside, past the end of the list."""
    signature = sct[-72:]
    return (struct.pack(">H", len(sct) + 1) + sct[:-74]
            + struct.pack(">H", len(signature) + 1) + signature)


def _points(*points: bytes) -> bytes:
    return _tlv(0x30, b"".join(_tlv(0x30, point) for point in points))


# Well-formed OIDs at cryptography's limits, and what it refuses, by contents.
_OID_EDGES = {
    b"\x2b" * 63: True, b"\x2b" * 64: False, b"\x2b" * 65: False, b"\x00": True, b"\x7f": True,
    b"\x2b" + b"\x81" + b"\xff" * 16 + b"\x7f": True,  # an 18-octet arc
    b"\x2b" + b"\x83" + b"\xff" * 17 + b"\x7f": None,  # 19 octets, 128 bits: not read
    b"\x2b" + b"\x84" + b"\xff" * 17 + b"\x7f": False,  # 129 bits
    b"\x2b" + b"\xff" * 19 + b"\x7f": False, b"\xff" * 5 + b"\x7f": True,
    b"": False, b"\x80": False, b"\x80\x01": False, b"\x2b\x80\x01": False, b"\x2b\x81": False,
    b"\x2b\x06\x01\x80\x01": False, b"\x81\x00": True,
}


@pytest.mark.parametrize("contents", sorted(_OID_EDGES), ids=lambda c: c.hex()[:16] or "empty")
def test_oids_at_cryptographys_limits_agree(contents: bytes) -> None:
    """An accessMethod or a policy identifier at and past what cryptography accepts (63
    octets, arcs of 128 bits, minimal base 128): read when well-formed (True), declined
    when cryptography refuses (False) or when past the reader's own limit (None)."""
    expected = _OID_EDGES[contents]
    for oid, value in ((ExtensionOID.AUTHORITY_INFORMATION_ACCESS, _aia(contents)),
                       (ExtensionOID.CERTIFICATE_POLICIES, _policies(_tlv(0x06, contents)))):
        assert _agrees(_with_extension(oid, value, False)) is bool(expected)


_ODD_SHAPES: list[tuple[x509.ObjectIdentifier, bytes, bool]] = [
    (ExtensionOID.AUTHORITY_INFORMATION_ACCESS, _tlv(0x30, b""), False),
    (ExtensionOID.AUTHORITY_INFORMATION_ACCESS, _aia(_KNOWN_OIDS[0], b"\x86\x00"), True),
    (ExtensionOID.AUTHORITY_INFORMATION_ACCESS, _aia(_KNOWN_OIDS[0], b"\x86\x02\xc3\xa9"), False),
    (ExtensionOID.AUTHORITY_INFORMATION_ACCESS, _aia(_KNOWN_OIDS[0], b"\x86\x01\xff"), False),
    (ExtensionOID.AUTHORITY_INFORMATION_ACCESS, _aia(_KNOWN_OIDS[0], b"\x82\x01a"), False),
    (ExtensionOID.AUTHORITY_INFORMATION_ACCESS, _aia(_KNOWN_OIDS[0], b"\x16\x01a"), False),
    (ExtensionOID.CERTIFICATE_POLICIES, _tlv(0x30, b""), False),
    (ExtensionOID.CERTIFICATE_POLICIES, _policies(_POLICY, _POLICY), True),
    (ExtensionOID.CERTIFICATE_POLICIES, _policies(_POLICY + b"\x30\x00"), False),
    (ExtensionOID.CERTIFICATE_POLICIES,
     _policies(_POLICY + _tlv(0x30, _tlv(0x30, _CPS_ID + b"\x16\x00"))), True),
    (ExtensionOID.CERTIFICATE_POLICIES,
     _policies(_POLICY + _tlv(0x30, _tlv(0x30, _CPS_ID + b"\x16\x01\xff"))), False),
    (ExtensionOID.CERTIFICATE_POLICIES,
     _policies(_POLICY + _tlv(0x30, _tlv(0x30, _CPS_ID + b"\x0c\x01a"))), False),
    (ExtensionOID.CERTIFICATE_POLICIES,
     _policies(_POLICY + _tlv(0x30, _tlv(0x30, _CPS_ID))), False),
    (ExtensionOID.CERTIFICATE_POLICIES,
     _policies(_POLICY + _tlv(0x30, _tlv(0x30, _CPS_ID + b"\x16\x01a\x16\x01b"))), False),
    (ExtensionOID.CERTIFICATE_POLICIES, _policies(_POLICY + _tlv(0x30, _tlv(
        0x30, _tlv(0x06, _KNOWN_OIDS[4]) + b"\x30\x00"))), False),  # a userNotice
    (ExtensionOID.CERTIFICATE_POLICIES, _policies(_POLICY + _tlv(0x30, _tlv(
        0x30, _tlv(0x06, _KNOWN_OIDS[4]) + b"\x16\x01a"))), False),
    (ExtensionOID.CERTIFICATE_POLICIES, _policies(_POLICY + _tlv(0x30, _tlv(
        0x30, b"\x06\x02\x2a\x03\x16\x01a"))), False),
    (ExtensionOID.CERTIFICATE_POLICIES, _policies(_POLICY + b"\x05\x00"), False),
    (ExtensionOID.CRL_DISTRIBUTION_POINTS, _tlv(0x30, b""), False),
    (ExtensionOID.CRL_DISTRIBUTION_POINTS, _points(b""), False),
    (ExtensionOID.CRL_DISTRIBUTION_POINTS, _points(b"\xa0\x00"), False),
    (ExtensionOID.CRL_DISTRIBUTION_POINTS, _points(b"\xa0\x02\xa0\x00"), False),
    (ExtensionOID.CRL_DISTRIBUTION_POINTS, _points(b"\xa0\x02\xa1\x00"), False),
    (ExtensionOID.CRL_DISTRIBUTION_POINTS, _points(_tlv(0xA0, _tlv(0xA0, _URI * 2))), True),
    (ExtensionOID.CRL_DISTRIBUTION_POINTS,
     _points(_tlv(0xA0, _tlv(0xA0, _URI)), _tlv(0xA0, _tlv(0xA0, _URI))), True),
    (ExtensionOID.CRL_DISTRIBUTION_POINTS, _points(_tlv(0xA0, _tlv(0xA0, b"\x82\x01c"))), False),
    (ExtensionOID.CRL_DISTRIBUTION_POINTS,
     _points(_tlv(0xA0, _tlv(0xA0, b"\x86\x02\xc3\xa9"))), False),
    (ExtensionOID.CRL_DISTRIBUTION_POINTS,
     _points(_tlv(0xA0, _tlv(0xA0, _URI)) + b"\x81\x02\x07\x80"), False),
    (ExtensionOID.CRL_DISTRIBUTION_POINTS,
     _points(_tlv(0xA0, _tlv(0xA0, _URI)) + _tlv(0xA2, _URI)), False),
    (SCT_LIST, _octet_string(b"\x00\x00"), False),
    (SCT_LIST, _octet_string(_u16(_u16(_sct(1))) + b"\x00"), False),
    (SCT_LIST, _octet_string(_u16(_u16(_sct(1) + b"\x00"))), False),
    (SCT_LIST, _u16(_u16(_sct(1))), False),
    (SCT_LIST, _octet_string(_u16(_u16(_sct(1)[:-1]))), False),
    (SCT_LIST, _sct_list(_sct(1, extensions=b"\x00" * 300)), True),
    (SCT_LIST, _octet_string(_u16(_overlong(_sct(1)))), False),
    (SCT_LIST, _octet_string(_u16(_u16(_sct(2)) + _overlong(_sct(1)))), False),
]


@pytest.mark.parametrize("case", range(len(_ODD_SHAPES)))
def test_odd_shapes_of_checked_extensions_agree(case: int) -> None:
    """Shapes cryptography parses but the reader leaves to it (empty lists, reasons,
    other name forms, userNotice, trailing data), shapes it refuses, and a few the reader
    does read: whether the reader answers, and that it agrees with cryptography."""
    oid, value, read = _ODD_SHAPES[case]
    assert _agrees(_with_extension(oid, value, False)) is read


@pytest.mark.parametrize("field", [0, 1, 2])
def test_every_sct_version_and_algorithm_value_agrees(field: int) -> None:
    """The version, hash and signature algorithm octets of an SCT, each set to 0..255
    (spliced in): read only for version 0 with SHA-256 (4) and RSA (1) or ECDSA (3), and
    cryptography refuses none of those."""
    sct = _sct(7)
    offsets = [0, len(sct) - 2 - 72 - 2, len(sct) - 2 - 72 - 1]
    value = _sct_list(sct)
    cert = _with_extension(SCT_LIST, value, False)
    der = cert.public_bytes(Encoding.DER)
    at = der.index(sct) + offsets[field]
    for octet in range(256):
        mutated = bytearray(der)
        mutated[at] = octet
        fields = [0, 4, 3]
        fields[field] = octet
        read = fields[0] == 0 and fields[1] == 4 and fields[2] in (1, 3)
        assert _agrees(x509.load_der_x509_certificate(bytes(mutated))) is read
