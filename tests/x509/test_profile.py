"""Profile rules added with the x509-limbo work: structure, CA and end-entity checks, the
DER reader, warning hygiene, and SAN patterns that can never match."""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.utils import CryptographyDeprecationWarning
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit.x509 import CertificateVerificationError, Reason, TrustStore, Verifier, describe
from tlskit.x509.names import dns_name_matches
from tlskit.x509.path import analyze, split_certificate

from . import pki
from .pki import NOW

HOST = "www.example.org"


def _verify(v: Verifier, leaf: x509.Certificate, inters: list[x509.Certificate],
            host: str | None = HOST) -> None:
    v.verify(leaf, inters, server_name=host, at=NOW)


def _reason(v: Verifier, leaf: x509.Certificate, inters: list[x509.Certificate],
            host: str | None = HOST) -> CertificateVerificationError:
    with pytest.raises(CertificateVerificationError) as err:
        _verify(v, leaf, inters, host)
    return err.value


# -- RFC 5280 4.1.1.2: the two signature algorithm fields must agree -------------------------

_ECDSA_SHA384 = bytes.fromhex("300a06082a8648ce3d040303")


def test_outer_signature_algorithm_must_equal_the_tbs_one(chain: pki.Chain) -> None:
    der = chain.leaf.cert.public_bytes(serialization.Encoding.DER)
    tbs, _, signature = pki.der_elements(pki.der_body(der))
    forged = x509.load_der_x509_certificate(pki._der(0x30, tbs + _ECDSA_SHA384 + signature))
    err = _reason(Verifier(TrustStore([chain.root.cert])), forged, chain.intermediates)
    assert err.reason is Reason.malformed
    assert "signatureAlgorithm differs" in str(err) and "4.1.1.2" in str(err)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["ec256", "ec384", "rsa2048", "ed25519"]), st.booleans(),
       st.integers(min_value=1, max_value=(1 << 159) - 1))
def test_der_reader_agrees_with_cryptography(kind: str, ca: bool, serial: int) -> None:
    issued = pki.make("der.example", None, key_kind=kind, ca=ca, serial=serial,
                      sans=["der.example"])
    cert = issued.cert
    parts = split_certificate(cert.public_bytes(serialization.Encoding.DER))
    assert parts.tbs == cert.tbs_certificate_bytes
    assert parts.tbs_signature == parts.signature_algorithm
    assert parts.issuer == cert.issuer.public_bytes()
    assert parts.subject == cert.subject.public_bytes()
    assert parts.spki == cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert int.from_bytes(parts.serial, "big", signed=True) == serial


# -- gap 5: v1 intermediates, duplicate and empty extensions, SAN criticality ---------------


def test_v1_certificate_cannot_be_an_intermediate(chain: pki.Chain) -> None:
    v1 = pki.rebuild(chain.inter, chain.root,
                     lambda items: [i for i in items[1:] if i[0] != 0xA3])
    assert v1.version is x509.Version.v1
    leaf = pki.leaf(HOST, pki.Issued(v1, chain.inter.key))
    err = _reason(Verifier(TrustStore([chain.root.cert])), leaf.cert, [v1])
    assert err.reason is Reason.not_a_ca
    assert err.certificate == v1 and "v1" in str(err)


def test_v1_leaf_is_rejected(chain: pki.Chain) -> None:
    v1 = pki.rebuild(chain.leaf, chain.inter,
                     lambda items: [i for i in items[1:] if i[0] != 0xA3])
    err = _reason(Verifier(TrustStore([chain.root.cert])), v1, chain.intermediates)
    assert err.reason is Reason.malformed and "v3" in str(err)


def test_v1_trust_anchor_is_still_a_ca() -> None:
    root = pki.root("V1 Root")
    v1_root = pki.Issued(pki.rebuild(root, root, lambda items: items[1:7]), root.key)
    assert v1_root.cert.version is x509.Version.v1
    inter = pki.intermediate("Under V1", v1_root)
    leaf = pki.leaf(HOST, inter)
    _verify(Verifier(TrustStore([v1_root.cert])), leaf.cert, [inter.cert])


def _with_extensions(issued: pki.Issued, issuer: pki.Issued,
                     *extra: x509.Extension[x509.ExtensionType]) -> x509.Certificate:
    """Re-issue with extra raw extensions appended, bypassing the builder's checks."""
    builder = (x509.CertificateBuilder().subject_name(issued.cert.subject)
               .issuer_name(issued.cert.issuer).public_key(issued.key.public_key())
               .serial_number(issued.cert.serial_number)
               .not_valid_before(issued.cert.not_valid_before_utc)
               .not_valid_after(issued.cert.not_valid_after_utc))
    builder._extensions = [*issued.cert.extensions, *extra]  # type: ignore[attr-defined]
    return builder.sign(issuer.key, pki._hash_for(issuer.key, None))


def test_duplicate_extension_is_malformed(chain: pki.Chain) -> None:
    san = x509.SubjectAlternativeName([x509.DNSName(HOST)])
    leaf = _with_extensions(chain.leaf, chain.inter, x509.Extension(san.oid, False, san))
    err = _reason(Verifier(TrustStore([chain.root.cert])), leaf, chain.intermediates)
    assert err.reason is Reason.malformed and "Duplicate" in str(err)


def test_empty_san_is_malformed(chain: pki.Chain) -> None:
    empty = x509.UnrecognizedExtension(x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                                       b"\x30\x00")
    leaf = pki.leaf(HOST, chain.inter, sans=None, extra=[(empty, False)])
    err = _reason(Verifier(TrustStore([chain.root.cert])), leaf.cert, chain.intermediates)
    # cryptography < 51 parses the empty SAN and tlskit names the defect; 51 refuses the
    # extension itself. Either way: malformed, and the message names the extension.
    assert err.reason is Reason.malformed
    assert ("subjectAltName extension is empty" in str(err)
            or "subject_alternative_name" in str(err))


def test_critical_san_with_empty_subject_is_fine(chain: pki.Chain) -> None:
    san = x509.SubjectAlternativeName([x509.DNSName(HOST)])
    leaf = pki.make(HOST, chain.inter, subject=x509.Name([]), sans=None,
                    eku=[pki.SERVER_AUTH], extra=[(san, True)])
    _verify(Verifier(TrustStore([chain.root.cert])), leaf.cert, chain.intermediates)


def test_non_critical_san_with_empty_subject_is_malformed(chain: pki.Chain) -> None:
    leaf = pki.make(HOST, chain.inter, subject=x509.Name([]), sans=[HOST],
                    eku=[pki.SERVER_AUTH])
    err = _reason(Verifier(TrustStore([chain.root.cert])), leaf.cert, chain.intermediates)
    assert err.reason is Reason.malformed and "not critical" in str(err)


def test_critical_san_with_a_subject_is_a_lint_finding_only(chain: pki.Chain) -> None:
    """trustme's leaves: accepted by default, flagged by the lint, refused by "cabf"."""
    san = x509.SubjectAlternativeName([x509.DNSName(HOST)])
    leaf = pki.make(HOST, chain.inter, sans=None, eku=[pki.SERVER_AUTH], extra=[(san, True)])
    v = Verifier(TrustStore([chain.root.cert]))
    _verify(v, leaf.cert, chain.intermediates)
    findings = v.lint(leaf.cert, chain.intermediates, server_name=HOST, at=NOW)
    assert [f.rule for f in findings] == ["leaf-san"]
    assert "7.1.2.7.12" in str(findings[0]) and findings[0].certificate == leaf.cert
    err = _reason(Verifier(TrustStore([chain.root.cert]), profile="cabf"), leaf.cert,
                  chain.intermediates)
    assert err.reason is Reason.malformed and "7.1.2.7.12" in str(err)


@pytest.mark.parametrize("pattern", [
    "www example.org", "*.exa mple.org", "* .example.org", "*_.example.org", "_*.example.org",
    "w*.example.org", "*.exam_ple.org", "*.*.example.org", "www..example.org", "*.org",
    "www.example.org\x00.evil",
])
def test_san_that_is_not_a_dns_name_never_matches(chain: pki.Chain, pattern: str) -> None:
    hosts = ["www.example.org", "www example.org", "x.example.org", "_x.example.org",
             "a.exam_ple.org", "a.b.example.org"]
    assert not any(dns_name_matches(pattern, h) for h in [*hosts, pattern])
    leaf = pki.leaf(HOST, chain.inter, sans=[pattern], subject=pki.name("SAN Test"))
    v = Verifier(TrustStore([chain.root.cert]))
    for host in ("www.example.org", "x.example.org", "a.exam_ple.org"):
        assert _reason(v, leaf.cert, chain.intermediates, host).reason in (
            Reason.hostname_mismatch, Reason.malformed)


def test_underscore_labels_still_match_exactly() -> None:
    assert dns_name_matches("_acme.example.org", "_acme.example.org")
    assert dns_name_matches("*.example.org", "host.example.org")
    assert not dns_name_matches("*.exam_ple.org", "host.exam_ple.org")


# -- CA structure ------------------------------------------------------------------------


def test_ca_with_non_critical_basic_constraints_is_a_lint_finding() -> None:
    """RFC 5280 4.2.1.9 binds the issuing CA; path validation reads only cA (6.1.4 (k)),
    as OpenSSL, Go and the browsers do: accepted by default, reported by the lint, and
    refused by profile "cabf"."""
    root = pki.root("NC BC Root")
    inter = pki.intermediate("Soft BC", root, bc_critical=False)
    leaf = pki.leaf(HOST, inter)
    v = Verifier(TrustStore([root.cert]))
    _verify(v, leaf.cert, [inter.cert])
    found = {(f.certificate, f.rule) for f in v.lint(leaf.cert, [inter.cert], at=NOW)}
    assert (inter.cert, "ca-basic-constraints") in found
    err = _reason(Verifier(TrustStore([root.cert]), profile="cabf"), leaf.cert, [inter.cert])
    assert err.reason is Reason.malformed and err.certificate == inter.cert
    assert "basicConstraints critical" in str(err)


def test_missing_key_identifiers_are_lint_findings_only() -> None:
    """RFC 5280 4.2.1.1/4.2.1.2 bind the CA; path validation never reads key ids."""
    root = pki.root("Key Id Root")
    inter = pki.intermediate("No Key Ids", root, key_ids=False)
    leaf = pki.leaf(HOST, inter, key_ids=False)
    v = Verifier(TrustStore([root.cert]))
    _verify(v, leaf.cert, [inter.cert])
    found = {(f.certificate, f.rule) for f in v.lint(leaf.cert, [inter.cert], at=NOW)}
    assert found == {(leaf.cert, "encoding"), (inter.cert, "encoding"),
                     (inter.cert, "ca-key-identifier")}
    err = _reason(Verifier(TrustStore([root.cert]), profile="cabf"), leaf.cert, [inter.cert])
    assert err.reason is Reason.malformed and err.certificate == leaf.cert  # leaf first
    assert "authorityKeyIdentifier" in str(err)


def test_expired_leaf_without_aki_is_reported_expired() -> None:
    """The most useful failure first: renewing fixes it; "malformed" would hide that."""
    root = pki.root("Expired No AKI Root")
    leaf = pki.leaf(HOST, root, key_ids=False, not_after=NOW - timedelta(days=1))
    for profile in ("default", "cabf"):
        err = _reason(Verifier(TrustStore([root.cert]), profile=profile), leaf.cert, [])
        assert err.reason is Reason.expired and "expired on" in str(err)


def test_leaf_that_is_a_ca_is_refused(chain: pki.Chain) -> None:
    leaf = pki.leaf(HOST, chain.inter, ca=True)
    err = _reason(Verifier(TrustStore([chain.root.cert])), leaf.cert, chain.intermediates)
    assert err.reason is Reason.key_usage and "CA certificate" in str(err)


def test_zero_serial_is_fine_on_an_anchor_only() -> None:
    """Several real roots (Go Daddy G2, Starfield G2) have serial number 0."""
    zero = pki.zero_serial_root("Zero Root")
    inter = pki.intermediate("Under Zero", zero)
    leaf = pki.leaf(HOST, inter)
    _verify(Verifier(TrustStore([zero.cert])), leaf.cert, [inter.cert])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad_leaf = pki.rebuild(leaf, inter, lambda items: [
            items[0], pki.der_integer(0), *items[2:]])
    v = Verifier(TrustStore([zero.cert]))
    _verify(v, bad_leaf, [inter.cert])  # RFC 5280 4.1.2.2: users handle it gracefully
    assert [f.rule for f in v.lint(bad_leaf, [inter.cert], at=NOW)] == ["serial-number"]
    err = _reason(Verifier(TrustStore([zero.cert]), profile="cabf"), bad_leaf, [inter.cert])
    assert err.reason is Reason.malformed and "serial" in str(err)


def test_time_is_compared_at_second_granularity(chain: pki.Chain) -> None:
    v = Verifier(TrustStore([chain.root.cert]))
    end = chain.leaf.cert.not_valid_after_utc
    v.verify(chain.leaf.cert, chain.intermediates, server_name=HOST,
             at=end + timedelta(milliseconds=999))
    with pytest.raises(CertificateVerificationError):
        v.verify(chain.leaf.cert, chain.intermediates, server_name=HOST,
                 at=end + timedelta(seconds=1))


# -- gap 2 and 3: warnings and the reason enum ---------------------------------------------


def test_loading_and_judging_odd_roots_emits_no_deprecation_warning() -> None:
    root = pki.root("Quiet Zero Root")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zero = pki.rebuild(root, root, lambda items: [items[0], pki.der_integer(0), *items[2:]])
    bundle = pki.pem(zero)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        store = TrustStore.from_pem(bundle)
        system = TrustStore._load_default()
        v = Verifier(store)
        for cert in [*store, *system]:
            info = v.analyze(cert)
            assert info.description == describe(cert)
    assert not [w for w in seen if issubclass(w.category, CryptographyDeprecationWarning)]


def test_reason_is_a_str_enum_with_stable_values() -> None:
    from enum import StrEnum
    assert issubclass(Reason, StrEnum)
    assert Reason.expired.value == "expired" and str(Reason.expired) == "expired"
    assert f"{Reason.hostname_mismatch}" == "hostname_mismatch"
    assert Reason("unknown_issuer") is Reason.unknown_issuer


def test_analyze_never_raises_on_unparseable_key_bytes(chain: pki.Chain) -> None:
    broken_spki = bytes.fromhex("3012300d06092a864886f70d0101010500030100")
    cert = pki.rebuild(chain.inter, chain.root,
                       lambda items: [*items[:6], broken_spki, *items[7:]])
    info = analyze(cert)
    assert info.malformed or info.weak_key


# -- curated stores -------------------------------------------------------------------------


def test_anchor_encoding_quirks_are_linted_unless_curated() -> None:
    """A root the user hands over is a trust anchor whatever its encoding (non-critical
    basicConstraints, no SKI); the lint names the quirks, except for a root program's
    bundle (curated), whose pre-BR roots predate the rules."""
    legacy = pki.root("Legacy Root", bc_critical=False, key_ids=False)
    inter = pki.intermediate("Under Legacy", legacy)
    leaf = pki.leaf(HOST, inter)
    v = Verifier(TrustStore([legacy.cert]))
    _verify(v, leaf.cert, [inter.cert])
    rules = {f.rule for f in v.lint(leaf.cert, [inter.cert], at=NOW)
             if f.certificate == legacy.cert}
    assert rules == {"ca-basic-constraints", "ca-key-identifier"}
    strict = _reason(Verifier(TrustStore([legacy.cert]), profile="cabf"), leaf.cert,
                     [inter.cert])
    assert strict.reason is Reason.malformed and strict.certificate == legacy.cert
    curated = Verifier(TrustStore([legacy.cert], curated=True), profile="cabf")
    _verify(curated, leaf.cert, [inter.cert])
    assert not [f for f in curated.lint(leaf.cert, [inter.cert], at=NOW)
                if f.certificate == legacy.cert]
    expired = pki.root("Expired Legacy", bc_critical=False, not_after=NOW - timedelta(days=1))
    inter2 = pki.intermediate("Under Expired", expired)
    err = _reason(Verifier(TrustStore([expired.cert], curated=True)),
                  pki.leaf(HOST, inter2).cert, [inter2.cert])
    assert err.reason is Reason.expired
    assert TrustStore.default().curated and not TrustStore([legacy.cert]).curated


def test_non_critical_name_constraints_on_an_anchor_are_obeyed_and_linted() -> None:
    """A private root with non-critical nameConstraints is a trust anchor (its encoding is
    the issuer's business, CA/B BR 7.1.2.10.8 even allows it), and its constraints still
    bind everything below it."""
    nc = x509.NameConstraints([x509.DNSName("example.org")], None)
    root = pki.make("Soft NC Root", None, ca=True, extra=[(nc, False)])
    inside = pki.leaf(HOST, root)
    outside = pki.leaf("www.example.net", root)
    v = Verifier(TrustStore([root.cert]))
    _verify(v, inside.cert, [])
    err = _reason(v, outside.cert, [], "www.example.net")
    assert err.reason is Reason.name_constraints_violated
    rules = {(f.role, f.rule) for f in v.lint(inside.cert, [], at=NOW)}
    assert rules == {("anchor", "encoding")}
    assert "nameConstraints" in str(v.lint(inside.cert, [], at=NOW)[0])
    strict = _reason(Verifier(TrustStore([root.cert]), profile="cabf"), inside.cert, [])
    assert strict.reason is Reason.malformed and strict.certificate == root.cert
