"""`derext.read_extensions`, the DER reading of the common extensions that `analyze` uses
before asking cryptography, gives the very analysis cryptography's reading gives: on
real certificates (which must take the fast reading, or it would speed nothing up), on
arbitrary extension values of every extension it reads, and on mutated certificates.
Where it declines (None), cryptography's answer, or its error, is what counts."""

from __future__ import annotations

import ipaddress
from functools import cache
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit.x509 import CertificateVerificationError, TrustStore, Verifier, certinfo, derext
from tlskit.x509.der import split_certificate

from . import pki

# CertInfo fields that are caches or the certificate object itself.
_NOT_COMPARED = {"cert", "verdicts", "_description", "_subject", "_issuer", "_common_names"}


def _fields(info: certinfo.CertInfo) -> dict[str, Any]:
    return {name: getattr(info, name) for name in certinfo.CertInfo.__dataclass_fields__
            if name not in _NOT_COMPARED}


def _both(cert: x509.Certificate) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(general analysis, fast analysis, whether the DER reader answered), the fast one
    computed twice: first decoding, then from the remembered extensions."""
    der = cert.public_bytes(Encoding.DER)
    pieces = split_certificate(der)
    general = _fields(certinfo._analyze(cert, der, pieces, fast=False))
    derext._REMEMBERED.clear()
    fast = _fields(certinfo._analyze(cert, der, pieces))
    assert _fields(certinfo._analyze(cert, der, pieces)) == fast
    return general, fast, derext.read_extensions(pieces.extensions) is not None


def _same(cert: x509.Certificate) -> bool:
    general, fast, answered = _both(cert)
    assert fast == general
    return answered


@cache
def _issuers() -> tuple[pki.Issued, pki.Issued]:
    root = pki.root("Derext Root")
    return root, pki.intermediate("Derext CA", root, path_len=0)


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


_READ = [ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE,
         ExtensionOID.EXTENDED_KEY_USAGE, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
         ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.AUTHORITY_KEY_IDENTIFIER]


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
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_READ), st.binary(max_size=24), st.booleans(), st.booleans())
def test_arbitrary_extension_values_analyze_the_same(
    oid: x509.ObjectIdentifier, value: bytes, critical: bool, leaf: bool
) -> None:
    _same(_with_extension(oid, value, critical, leaf))


@settings(max_examples=400, deadline=None)
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
    general = _fields(certinfo._analyze(cert, der, pieces, fast=False))
    assert _fields(certinfo._analyze(cert, der, pieces)) == general


_EDGES = (0x00, 0x01, 0x02, 0x04, 0x30, 0x31, 0x7F, 0x80, 0x81, 0x82, 0xFF)


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
            original = block[at]
            for value in {*_EDGES, (original + 1) & 0xFF, (original - 1) & 0xFF}:
                mutated = bytearray(der)
                mutated[start + at] = value
                try:
                    changed = x509.load_der_x509_certificate(bytes(mutated))
                except ValueError:
                    continue
                _same_remembering(changed)
            _same_remembering(cert)


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
