"""A public key is loaded once per SubjectPublicKeyInfo DER (`parsed.public_key`): a
certificate renewed with the same key gets the key object loaded for the first, and the
handshake verifies CertificateVerify with the object the analysis used (`parsed.key_of`).
Each answer is compared with ``cert.public_key()``: the same key, the same errors, the
same analysis."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tlskit.errors import UnsupportedCertificate
from tlskit.handshake.common import public_key_of
from tlskit.x509 import TrustStore, Verifier, certinfo, parsed
from tlskit.x509.der import split_certificate

from . import pki
from .analysis import analysis_fields


def _spki(cert: x509.Certificate) -> bytes:
    return split_certificate(cert.public_bytes(Encoding.DER)).spki


def _same_key(a: object, b: object) -> bool:
    return a.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == (  # type: ignore[attr-defined]
        b.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))  # type: ignore[attr-defined]


def _renewed(kind: str) -> tuple[x509.Certificate, x509.Certificate]:
    """Two certificates for one host and one key (a renewal that kept its key)."""
    root = pki.root("Key Root")
    first = pki.leaf("renewed.example", root, key_kind=kind, slot="renewed-" + kind).cert
    second = pki.leaf("renewed.example", root, key_kind=kind, slot="renewed-" + kind).cert
    assert first != second and _spki(first) == _spki(second)
    return first, second


@pytest.mark.parametrize("kind", ["ec256", "rsa2048", "ed25519"])
def test_a_renewed_certificate_gets_the_key_loaded_for_the_first(kind: str) -> None:
    first, second = _renewed(kind)
    parsed._KEY_BY_SPKI.clear()
    key = parsed.public_key(first, _spki(first))
    assert _same_key(key, first.public_key())
    assert parsed.public_key(second, _spki(second)) is key
    assert parsed.key_of(first) is key and parsed.key_of(second) is key
    other = pki.leaf("other.example", pki.root("Key Root")).cert
    assert _same_key(parsed.key_of(other), other.public_key())


def test_analysis_with_a_remembered_key_is_the_fresh_analysis() -> None:
    """The second certificate's analysis, its key found by SPKI, equals the analysis made
    with nothing remembered; and the verdict is the same."""
    first, second = _renewed("rsa2048")
    der = second.public_bytes(Encoding.DER)
    parsed._KEY_BY_SPKI.clear()
    fresh = analysis_fields(certinfo._analyze(second, der, split_certificate(der)))
    parsed._KEY_BY_SPKI.clear()
    certinfo.analyze(first)
    again = certinfo._analyze(second, der, split_certificate(der))
    assert again.public_key is parsed._KEY_BY_SPKI[_spki(second)]
    assert analysis_fields(again) == fresh
    store = TrustStore([pki.root("Key Root").cert])
    assert len(Verifier(store).verify(second, [], server_name="renewed.example",
                                      at=pki.NOW)) == 2


def test_a_key_cryptography_cannot_load_is_not_remembered() -> None:
    """An EC point off the curve: the error is cryptography's, each time, and the
    analysis says so as before."""
    root = pki.root("Key Root")
    der = bytearray(pki.leaf("bad-key.example", root).cert.public_bytes(Encoding.DER))
    spki = _spki(x509.load_der_x509_certificate(bytes(der)))
    at = bytes(der).index(spki) + len(spki) - 1
    der[at] ^= 0x01
    cert = x509.load_der_x509_certificate(bytes(der))
    with pytest.raises(ValueError) as expected:
        cert.public_key()
    parsed._KEY_BY_SPKI.clear()
    for _ in range(2):
        with pytest.raises(ValueError) as got:
            parsed.public_key(cert, _spki(cert))
        assert str(got.value) == str(expected.value)
    assert not parsed._KEY_BY_SPKI
    info = certinfo.analyze(cert)
    assert info.public_key is None and "public key cannot be parsed" in str(info.malformed)
    with pytest.raises(UnsupportedCertificate):
        public_key_of(cert)


def test_other_key_types_are_remembered_and_judged_as_before() -> None:
    """A DSA key loads (and is refused as weak) the same way whether remembered or not."""
    root = pki.root("Key Root")
    key = dsa.generate_private_key(key_size=2048)
    leaves = [pki.make("dsa.example", root, private=key).cert for _ in range(2)]
    parsed._KEY_BY_SPKI.clear()
    infos = [certinfo.analyze(cert) for cert in leaves]
    assert infos[0].public_key is infos[1].public_key
    assert infos[1].weak_key == "DSAPublicKey keys are not accepted"
    assert public_key_of(leaves[1]) is infos[1].public_key


def test_the_remembered_keys_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsed, "MAX_ENTRIES", 2)
    root = pki.root("Key Root")
    parsed._KEY_BY_SPKI.clear()
    parsed._KEY_BY_ID.clear()
    for i in range(5):
        cert = pki.leaf(f"h{i}.example", root, slot=f"bounded-{i}").cert
        assert _same_key(parsed.public_key(cert, _spki(cert)), cert.public_key())
        assert len(parsed._KEY_BY_SPKI) <= 2 and len(parsed._KEY_BY_ID) <= 2
