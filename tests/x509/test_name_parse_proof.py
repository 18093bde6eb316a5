"""The analysis skips cryptography's parse of a subject or issuer name only when its own
walk of the encoding proves the parse cannot fail (`der._name_problem` says "plain"):
each attribute alone in its RDN, of a listed type, a UTF8String, PrintableString or
IA5String, within the lengths cryptography holds commonName and country names to. These
tests hold that proof against cryptography itself (run them on 48 and 51 alike): names
built from random types, string tags, values and RDN shapes, spliced into a certificate.
Whenever the walk says plain, reading the name succeeds without a warning; and the
verdict the analysis gives is the one it gave when every new name was parsed."""

from __future__ import annotations

import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID, ObjectIdentifier
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tlskit._ocsp_der import encode_oid
from tlskit.x509 import certinfo, der

from . import pki

_PLAIN_TYPES = [
    NameOID.COMMON_NAME, NameOID.COUNTRY_NAME, NameOID.JURISDICTION_COUNTRY_NAME,
    NameOID.LOCALITY_NAME, NameOID.STATE_OR_PROVINCE_NAME, NameOID.STREET_ADDRESS,
    NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.SERIAL_NUMBER,
    NameOID.POSTAL_CODE, NameOID.BUSINESS_CATEGORY, NameOID.ORGANIZATION_IDENTIFIER,
    NameOID.GIVEN_NAME, NameOID.SURNAME, NameOID.TITLE,
    NameOID.JURISDICTION_LOCALITY_NAME, NameOID.JURISDICTION_STATE_OR_PROVINCE_NAME,
    NameOID.DOMAIN_COMPONENT, NameOID.USER_ID, NameOID.EMAIL_ADDRESS,
]
_OTHER_TYPES = [NameOID.X500_UNIQUE_IDENTIFIER, NameOID.DN_QUALIFIER, NameOID.PSEUDONYM,
                ObjectIdentifier("1.2.3"), ObjectIdentifier("2.5.4.99")]
# String tags cryptography names and does not, BIT STRING, OCTET STRING, a constructed
# UTF8String, BOOLEAN.
_TAGS = [0x0C, 0x13, 0x16, 0x12, 0x14, 0x1A, 0x1C, 0x1E, 0x03, 0x04, 0x2C, 0x01, 0x17]


def _oid_der(oid: ObjectIdentifier) -> bytes:
    """The OBJECT IDENTIFIER contents octets of ``oid`` (the OCSP encoder's, its TLV
    header of two octets cut off)."""
    return encode_oid(oid.dotted_string)[2:]


def test_the_plain_types_are_the_listed_attribute_types() -> None:
    assert set(der._PLAIN_NAME_LENGTHS) == {_oid_der(oid) for oid in _PLAIN_TYPES}
    limits = {NameOID.COMMON_NAME: (1, 64), NameOID.COUNTRY_NAME: (2, 2),
              NameOID.JURISDICTION_COUNTRY_NAME: (2, 2)}
    for oid, (low, high) in limits.items():
        assert der._PLAIN_NAME_LENGTHS[_oid_der(oid)] == (low, high)


_PRINTABLE = "ABCXYZabcxyz0189 '()+,-./:=?"
_edge_values = st.sampled_from([b"", b"a", b"US", b"USA", b"a" * 64, b"a" * 65,
                                "é".encode() * 32, "é".encode() * 33, b"\x00", b"\xe9",
                                b"a@b", b"\xd8\x00"])


def _value_for(tag: int) -> st.SearchStrategy[bytes]:
    """Mostly values the tag allows (what loads), some edge lengths, some any bytes."""
    typed = {
        0x0C: st.text(max_size=70).map(lambda t: t.encode("utf-8", "surrogatepass")),
        0x13: st.text(_PRINTABLE, max_size=70).map(str.encode),
        0x16: st.text(st.characters(codec="ascii"), max_size=70).map(str.encode),
    }.get(tag, st.binary(max_size=8))
    return st.one_of(typed, typed, typed, _edge_values, st.binary(max_size=70))


_tags = st.sampled_from([0x0C, 0x13, 0x16] * 4 + _TAGS)
_attribute = st.tuples(st.sampled_from(_PLAIN_TYPES * 2 + _OTHER_TYPES), _tags).flatmap(
    lambda pair: st.tuples(st.just(pair[0]), st.just(pair[1]), _value_for(pair[1])))
_rdn = st.one_of(st.lists(_attribute, min_size=1, max_size=1),
                 st.lists(_attribute, min_size=1, max_size=3))
# Near the line: the listed types under the three string tags, values of the tag's
# alphabet or of edge lengths, mostly one to an RDN.
_near_attribute = st.tuples(st.sampled_from(_PLAIN_TYPES + _OTHER_TYPES[:1]),
                            st.sampled_from([0x0C, 0x13, 0x16])).flatmap(
    lambda pair: st.tuples(st.just(pair[0]), st.just(pair[1]), st.one_of(
        *[_value_for(pair[1])] * 3, st.sampled_from([b"", b"a", b"AB", b"ABC", b"a" * 64,
                                                     b"a" * 65, b"Ab", b"\xc3\xa9"]))))
_near_rdn = st.one_of(*[st.lists(_near_attribute, min_size=1, max_size=1)] * 4,
                      st.lists(_near_attribute, min_size=2, max_size=2))


def _attribute_der(oid: ObjectIdentifier, tag: int, value: bytes) -> bytes:
    return pki._der(0x30, pki._der(0x06, _oid_der(oid)) + pki._der(tag, value))


def _name_der(rdns: list[list[bytes]]) -> bytes:
    # DER sorts a SET OF by encoding (cryptography refuses to load one out of order)
    return pki._der(0x30, b"".join(pki._der(0x31, b"".join(sorted(rdn))) for rdn in rdns))


@pytest.fixture(scope="module")
def template() -> pki.Issued:
    return pki.leaf("template.example", pki.root("Name proof root"))


def _with_subject(template: pki.Issued, name: bytes) -> bytes | None:
    """The template leaf with ``name`` as its subject (not re-signed: nothing here checks
    the signature), as DER, or None when cryptography will not load it."""
    outer = pki.der_elements(pki.der_body(template.cert.public_bytes(
        serialization.Encoding.DER)))
    items = pki.der_elements(pki.der_body(outer[0]))
    tbs = pki._der(0x30, b"".join([*items[:5], name, *items[6:]]))
    data = pki._der(0x30, tbs + b"".join(outer[1:]))
    try:
        x509.load_der_x509_certificate(data)
    except ValueError:
        return None
    return data


def _reads(data: bytes) -> bool:
    """Does cryptography read the subject of a freshly loaded copy, without a warning?"""
    cert = x509.load_der_x509_certificate(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            cert.subject  # noqa: B018  # (the parse is the point)
        except Exception:  # ValueError, TypeError, KeyError, a warning raised
            return False
    return True


def _verdict(data: bytes, monkeypatch: pytest.MonkeyPatch, *, proof: bool) -> str | None:
    """The analysis's verdict on a fresh load, with the memo of well-formed names empty,
    with the walk's proof or (``proof=False``) with every name parsed, as before it."""
    with monkeypatch.context() as patch:
        patch.setattr(certinfo, "_WELL_FORMED_NAMES", set())
        if not proof:
            patch.setattr(der, "_PLAIN_NAME_LENGTHS", {})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (the warnings are cryptography's to give)
            return certinfo.analyze(x509.load_der_x509_certificate(data)).malformed


def _check(template: pki.Issued, monkeypatch: pytest.MonkeyPatch,
           rdns: list[list[tuple[ObjectIdentifier, int, bytes]]]) -> None:
    """A plain name reads; and the analysis gives the verdict it gave parsing it."""
    name = _name_der([[_attribute_der(*a) for a in rdn] for rdn in rdns])
    data = _with_subject(template, name)
    assume(data is not None)
    assert data is not None
    problem, plain = der._name_problem(name)
    if plain:
        assert problem is None
        assert _reads(data), name.hex()
    assert _verdict(data, monkeypatch, proof=True) == _verdict(data, monkeypatch, proof=False)


_SETTINGS = settings(max_examples=500, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(st.lists(_rdn, min_size=0, max_size=4))
def test_any_name_gets_the_verdict_it_got_parsed(
        template: pki.Issued, monkeypatch: pytest.MonkeyPatch,
        rdns: list[list[tuple[ObjectIdentifier, int, bytes]]]) -> None:
    _check(template, monkeypatch, rdns)


@settings(_SETTINGS, max_examples=1000)
@given(st.lists(_near_rdn, min_size=1, max_size=3))
def test_a_plain_name_is_one_cryptography_reads(
        template: pki.Issued, monkeypatch: pytest.MonkeyPatch,
        rdns: list[list[tuple[ObjectIdentifier, int, bytes]]]) -> None:
    _check(template, monkeypatch, rdns)


_PLAIN_EXAMPLES = [
    [[(NameOID.COMMON_NAME, 0x0C, b"n1.localhost")]],
    [[(NameOID.COUNTRY_NAME, 0x13, b"US")], [(NameOID.ORGANIZATION_NAME, 0x0C, b"Let's")],
     [(NameOID.COMMON_NAME, 0x0C, b"R3")]],
    [[(NameOID.DOMAIN_COMPONENT, 0x16, b"com")], [(NameOID.EMAIL_ADDRESS, 0x16, b"a@b.c")]],
    [[(NameOID.COMMON_NAME, 0x0C, "é".encode() * 32)]],
    [],
]
_PARSED_EXAMPLES = [
    [[(NameOID.COMMON_NAME, 0x0C, b"a" * 65)]],  # cryptography warns
    [[(NameOID.COMMON_NAME, 0x0C, b"")]],
    [[(NameOID.COUNTRY_NAME, 0x13, b"USA")]],
    [[(NameOID.COMMON_NAME, 0x0C, b"a"), (NameOID.ORGANIZATION_NAME, 0x0C, b"b")]],
    [[(NameOID.COMMON_NAME, 0x14, b"a")]],  # T61String
    [[(NameOID.X500_UNIQUE_IDENTIFIER, 0x03, b"\x00a")]],
    [[(ObjectIdentifier("1.2.3"), 0x0C, b"a")]],
]


@pytest.mark.parametrize("rdns", _PLAIN_EXAMPLES)
def test_common_names_are_plain(rdns: list[list[tuple[ObjectIdentifier, int, bytes]]]) -> None:
    assert der._name_problem(_name_der([[_attribute_der(*a) for a in r] for r in rdns])) == (
        None, True)


@pytest.mark.parametrize("rdns", _PARSED_EXAMPLES)
def test_other_names_are_parsed(rdns: list[list[tuple[ObjectIdentifier, int, bytes]]]) -> None:
    assert der._name_problem(_name_der([[_attribute_der(*a) for a in r] for r in rdns])) == (
        None, False)


@pytest.mark.parametrize("rdns", [
    [[(NameOID.COMMON_NAME, 0x0C, b"a"), (NameOID.COMMON_NAME, 0x0C, b"a")]],  # duplicate
    [[(NameOID.COMMON_NAME, 0x03, b"\x00a")]],  # BIT STRING under commonName
    [[(NameOID.COMMON_NAME, 0x14, b"\xe9")]],  # T61String, not UTF-8
    [[(NameOID.COMMON_NAME, 0x01, b"\x00")]],  # BOOLEAN
])
def test_a_name_cryptography_cannot_read_is_still_found(
        template: pki.Issued, monkeypatch: pytest.MonkeyPatch,
        rdns: list[list[tuple[ObjectIdentifier, int, bytes]]]) -> None:
    data = _with_subject(template, _name_der([[_attribute_der(*a) for a in r] for r in rdns]))
    assert data is not None
    verdict = _verdict(data, monkeypatch, proof=True)
    assert verdict is not None and verdict.startswith("subject name cannot be parsed: ")


@given(st.sampled_from(_TAGS), st.binary(max_size=80), st.lists(st.tuples(
    st.integers(0, 200), st.integers(0, 255)), max_size=2))
def test_the_one_common_name_shortcut_gives_the_walks_answer(
        tag: int, value: bytes, flips: list[tuple[int, int]]) -> None:
    """A name of one commonName is judged by its header; any name, that one with a byte
    or two changed included, gets the answer of the element-by-element walk."""
    name = bytearray(_name_der([[_attribute_der(NameOID.COMMON_NAME, tag, value)]]))
    for at, byte in flips:
        name[at % len(name)] = byte
    assert der._name_problem(bytes(name)) == der._name_walk(bytes(name))


def test_a_usual_leaf_subject_is_judged_without_the_walk(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def walk(name: bytes) -> tuple[str | None, bool]:
        raise AssertionError("walked")

    monkeypatch.setattr(der, "_name_walk", walk)
    for value in (b"n1.localhost", b"a", b"a" * 64, "é".encode() * 32):
        assert der._name_problem(_name_der([[_attribute_der(
            NameOID.COMMON_NAME, 0x0C, value)]])) == (None, True)
    assert der._name_problem(_name_der([[_attribute_der(
        NameOID.COMMON_NAME, 0x0C, b"\xff")]])) == ("cannot be parsed", False)
