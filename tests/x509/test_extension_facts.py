"""What the extension readers made of an Extensions block is remembered by the block's
DER (`certinfo._EXTENSION_FACTS`): a certificate whose block was read before gets the
very analysis, verdict, message and alert that reading it again gives, while the rest of
the certificate (names, key, dates, structure) is judged anew."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tlskit.x509 import CertificateVerificationError, TrustStore, Verifier, certinfo, derext
from tlskit.x509.der import split_certificate

from . import pki
from .analysis import analysis_fields
from .test_derext import _PUBLIC_EXTRAS


def _block(cert: x509.Certificate) -> bytes:
    block = split_certificate(cert.public_bytes(Encoding.DER)).extensions
    assert block
    return block


def _general(cert: x509.Certificate) -> dict[str, Any]:
    der = cert.public_bytes(Encoding.DER)
    return analysis_fields(certinfo._analyze(cert, der, split_certificate(der), fast=False))


def _fast(cert: x509.Certificate) -> dict[str, Any]:
    der = cert.public_bytes(Encoding.DER)
    return analysis_fields(certinfo._analyze(cert, der, split_certificate(der)))


def _unreadable(block: bytes | None) -> list[derext.Extension] | None:
    raise AssertionError("the block was read again")


def _same_block(root: pki.Issued, *subjects: x509.Name, **kw: Any) -> list[x509.Certificate]:
    """Leaves of ``root`` with the given subjects and one Extensions block (no key
    identifiers: the keys may differ)."""
    kw.setdefault("sans", ["same.example"])
    certs = [pki.make("same.example", root, subject=subject, key_ids=False, **kw).cert
             for subject in subjects]
    assert len({_block(cert) for cert in certs}) == 1
    return certs


def test_a_block_read_before_is_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    root = pki.root("Facts Root")
    first, second = _same_block(root, pki.name("a.example"), pki.name("b.example"))
    certinfo._EXTENSION_FACTS.clear()
    assert _fast(first) == _general(first)
    assert _block(first) in certinfo._EXTENSION_FACTS
    monkeypatch.setattr(derext, "read_extensions", _unreadable)
    assert _fast(second) == _general(second)


def test_the_rest_of_the_certificate_is_judged_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty subject with a non-critical SAN is malformed, a self-issued certificate
    without authorityKeyIdentifier is not noted, whatever the certificate that left the
    facts was."""
    root = pki.root("Facts Root")
    plain, empty = _same_block(root, pki.name("a.example"), x509.Name([]))
    certinfo._EXTENSION_FACTS.clear()
    assert _fast(plain) == _general(plain)
    monkeypatch.setattr(derext, "read_extensions", _unreadable)
    fast = _fast(empty)
    assert fast == _general(empty)
    assert "subject is empty" in str(fast["malformed"])
    assert not _fast(plain)["malformed"]
    assert _fast(plain)["lint_notes"] == _general(plain)["lint_notes"]
    self_issued = pki.make("same.example", None, sans=["same.example"], key_ids=False,
                           issuer_name=pki.name("same.example")).cert
    assert _block(self_issued) == _block(plain)
    assert _fast(self_issued) == _general(self_issued)


def test_a_defect_of_the_block_is_remembered_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A critical subjectKeyIdentifier, which `derext` reads, makes every certificate
    carrying the block malformed, with the same words."""
    root = pki.root("Facts Root")
    ski = x509.SubjectKeyIdentifier(b"\x01" * 20)
    first, second = _same_block(root, pki.name("a.example"), pki.name("b.example"),
                                extra=[(ski, True)])
    certinfo._EXTENSION_FACTS.clear()
    assert _fast(first) == _general(first)
    assert "subjectKeyIdentifier is marked critical" in str(_general(first)["malformed"])
    monkeypatch.setattr(derext, "read_extensions", _unreadable)
    assert _fast(second) == _general(second)


def test_a_block_with_an_sct_list_is_not_remembered() -> None:
    """No other certificate carries the same SCTs: filing the block would only push out
    blocks that do repeat."""
    root = pki.root("Facts Root")
    leaf = pki.leaf("public.example", root, extra=_PUBLIC_EXTRAS).cert
    certinfo._EXTENSION_FACTS.clear()
    assert _fast(leaf) == _general(leaf)
    assert derext.read_extensions(_block(leaf)) is not None
    assert not certinfo._EXTENSION_FACTS


def test_blocks_cryptography_reads_are_not_remembered() -> None:
    root = pki.root("Facts Root")
    leaf = pki.leaf("e.example", root, sans=["e.example", "email:x@e.example"]).cert
    certinfo._EXTENSION_FACTS.clear()
    assert _fast(leaf) == _general(leaf)
    assert not certinfo._EXTENSION_FACTS


def test_the_remembered_blocks_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(certinfo, "MAX_FACTS", 2)
    root = pki.root("Facts Root")
    certinfo._EXTENSION_FACTS.clear()
    for i in range(5):
        leaf = pki.leaf(f"h{i}.example", root).cert
        assert _fast(leaf) == _general(leaf)
        assert len(certinfo._EXTENSION_FACTS) <= 2


def _verdict(store: TrustStore, cert: x509.Certificate, host: str) -> tuple[object, ...]:
    try:
        chain = Verifier(store).verify(cert, [], server_name=host, at=pki.NOW)
    except CertificateVerificationError as exc:
        return exc.reason, str(exc), exc.alert
    return ("valid", len(chain))


def test_verdicts_from_remembered_facts_match_a_fresh_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Verifier gives the same reason, message and alert for a leaf whose block was
    remembered from another certificate as for one read afresh, failing or not."""
    root = pki.root("Facts Root")
    store = TrustStore([root.cert])
    cases = [
        ("k.example", {"ku": {"key_cert_sign": True, "digital_signature": True}}),
        ("e.example", {"eku": [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]}),
        ("other.example", {}),
        ("ca.example", {"ca": True}),
        ("same.example", {}),
    ]
    pairs = [_same_block(root, pki.name("a.example"), pki.name("b.example"), **kw)
             for _host, kw in cases]
    certinfo._EXTENSION_FACTS.clear()
    for (host, _kw), (first, _second) in zip(cases, pairs, strict=True):
        _verdict(store, first, host)  # files the block
    remembered = [_verdict(store, second, host)
                  for (host, _kw), (_first, second) in zip(cases, pairs, strict=True)]
    assert {remembered[i][0] for i in range(4)} == {
        "key_usage", "extended_key_usage", "hostname_mismatch"}
    assert remembered[4] == ("valid", 2)
    monkeypatch.setattr(derext, "read_extensions", lambda block: None)
    monkeypatch.setattr(certinfo, "_EXTENSION_FACTS", {})
    assert [_verdict(store, second, host)
            for (host, _kw), (_first, second) in zip(cases, pairs, strict=True)] == remembered


def test_a_large_block_is_not_remembered() -> None:
    """A block over `MAX_FACT_BLOCK` octets is read each time: a thousand hostile blocks
    of 64 KiB each must not be held."""
    root = pki.root("Facts Root")
    many = [f"host{i:04}.example" for i in range(300)]
    leaf = pki.leaf("host0000.example", root, sans=many).cert
    assert len(_block(leaf)) > certinfo.MAX_FACT_BLOCK
    certinfo._EXTENSION_FACTS.clear()
    assert _fast(leaf) == _general(leaf)
    assert not certinfo._EXTENSION_FACTS
    small = pki.leaf("host0000.example", root, sans=many[:10]).cert
    assert _fast(small) == _general(small)
    assert _block(small) in certinfo._EXTENSION_FACTS
