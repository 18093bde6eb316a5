"""One test per reason code: the verdict, the culprit certificate, and a message naming it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import ObjectIdentifier

from tlskit import (
    AlertDescription,
    ClientConfig,
    ClientConnection,
    ServerConfig,
    ServerConnection,
)
from tlskit.x509 import CertificateVerificationError, Reason, TrustStore, Verifier

from ..support.pump import pump
from . import pki
from .pki import DAY, NOW

HOST = "www.example.org"


def _fail(
    verifier: Verifier,
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    server_name: str | None = HOST,
    at: datetime = NOW,
    **kw: object,
) -> CertificateVerificationError:
    with pytest.raises(CertificateVerificationError) as info:
        verifier.verify(leaf, intermediates, server_name=server_name, at=at, **kw)  # type: ignore[arg-type]
    return info.value


def _cn(issued: pki.Issued) -> str:
    return issued.cert.subject.rfc4514_string()


def test_valid_chain_is_returned_leaf_first(chain: pki.Chain, verifier: Verifier) -> None:
    got = verifier.verify(chain.leaf.cert, chain.intermediates, server_name=HOST, at=NOW)
    assert got == [chain.leaf.cert, chain.inter.cert, chain.root.cert]


def test_expired_leaf(chain: pki.Chain, verifier: Verifier) -> None:
    leaf = pki.leaf(HOST, chain.inter, not_before=NOW - 90 * DAY, not_after=NOW - 5 * DAY)
    err = _fail(verifier, leaf.cert, chain.intermediates)
    assert err.reason is Reason.expired
    assert err.certificate == leaf.cert
    assert f"certificate for {HOST} expired on" in str(err)
    assert "now is 2026-06-01" in str(err)


def test_expired_intermediate_names_it(chain: pki.Chain) -> None:
    inter = pki.intermediate("Old Intermediate", chain.root, not_after=NOW - DAY)
    leaf = pki.leaf(HOST, inter)
    err = _fail(Verifier(TrustStore([chain.root.cert])), leaf.cert, [inter.cert])
    assert err.reason is Reason.expired
    assert err.certificate == inter.cert
    assert "CN=Old Intermediate" in str(err)


def test_expired_anchor(chain: pki.Chain) -> None:
    old_root = pki.root("Old Root", not_after=NOW - DAY)
    inter = pki.intermediate("Under Old Root", old_root)
    leaf = pki.leaf(HOST, inter)
    err = _fail(Verifier(TrustStore([old_root.cert])), leaf.cert, [inter.cert])
    assert err.reason is Reason.expired
    assert err.certificate == old_root.cert
    assert "trust anchor" in str(err) and "CN=Old Root" in str(err)


def test_not_yet_valid(chain: pki.Chain, verifier: Verifier) -> None:
    leaf = pki.leaf(HOST, chain.inter, not_before=NOW + DAY)
    err = _fail(verifier, leaf.cert, chain.intermediates)
    assert err.reason is Reason.not_yet_valid
    assert err.certificate == leaf.cert
    assert "is not valid before 2026-06-02" in str(err)


def test_unknown_issuer(chain: pki.Chain, verifier: Verifier) -> None:
    other_root = pki.root("Other Root")
    other_inter = pki.intermediate("Other Intermediate", other_root)
    leaf = pki.leaf(HOST, other_inter)
    err = _fail(verifier, leaf.cert, [other_inter.cert])
    assert err.reason is Reason.unknown_issuer
    assert err.certificate == other_inter.cert
    assert "CN=Other Root" in str(err) and "CN=Other Intermediate" in str(err)


def test_missing_intermediate_is_unknown_issuer(chain: pki.Chain, verifier: Verifier) -> None:
    err = _fail(verifier, chain.leaf.cert, [])
    assert err.reason is Reason.unknown_issuer
    assert err.certificate == chain.leaf.cert
    assert HOST in str(err) and "CN=Intermediate ec256" in str(err)
    # ... and says what to do about it, in the library's terms (the CLI names its flag).
    assert str(err).endswith("which is neither a trust anchor nor a usable intermediate "
                             "that was provided: add the issuing CA to the trust anchors, "
                             "or the server should send its intermediate certificate")
    assert "--cafile" not in str(err)


def test_self_signed_leaf(verifier: Verifier) -> None:
    leaf = pki.make(HOST, None, sans=[HOST], eku=[pki.SERVER_AUTH], slot="selfsigned")
    err = _fail(verifier, leaf.cert, [])
    assert err.reason is Reason.self_signed
    assert err.certificate == leaf.cert
    assert str(err) == (f"certificate for {HOST} is self-signed and not in the trust store: "
                        "to trust this very certificate (pinning), add it to the trust "
                        "anchors")


def test_ca_certificate_as_leaf_says_what_to_do(chain: pki.Chain, verifier: Verifier) -> None:
    """A CA certificate served as the leaf: the library's words say how to trust it,
    without a CLI flag."""
    leaf = pki.make(HOST, chain.inter, ca=True, sans=[HOST], slot="caleaf",
                    ku={"digital_signature": True, "key_cert_sign": True})
    err = _fail(verifier, leaf.cert, chain.intermediates)
    assert err.reason is Reason.key_usage
    assert str(err) == (f"certificate for {HOST} is a CA certificate (basicConstraints cA "
                        "is true) but is used as an end-entity certificate; to trust this "
                        "very certificate, add it to the trust anchors")


def test_bad_signature(chain: pki.Chain, verifier: Verifier) -> None:
    forged = pki.tamper_signature(chain.leaf.cert)
    err = _fail(verifier, forged, chain.intermediates)
    assert err.reason is Reason.bad_signature
    assert err.certificate == forged
    assert HOST in str(err) and "CN=Intermediate ec256" in str(err)


def test_bad_signature_words_are_the_reports(chain: pki.Chain, verifier: Verifier) -> None:
    """The search words only failed links (`link_failure`), the report every link
    (`link_check`): the failure reads the same both ways, word for word."""
    forged = pki.tamper_signature(chain.leaf.cert)
    err = _fail(verifier, forged, chain.intermediates)
    issuer = verifier.analyze(chain.inter.cert).description
    assert str(err) == (f"certificate for {HOST} has a signature that {issuer} did not "
                        f"make: the signature does not verify")
    report = verifier.explain(forged, chain.intermediates, server_name=HOST, at=NOW)
    failed = [c for c in report.checks if c.check == "signature" and not c.ok]
    assert [(c.certificate, c.detail) for c in failed] == [
        (forged, f"has a signature that {issuer} did not make: the signature does not verify")]
    assert str(report.error) == str(err)


@pytest.mark.parametrize("kind", ["ed25519", "ed448"])
def test_edwards_chains_validate_and_a_forgery_does_not(kind: str) -> None:
    """RFC 8410: Ed25519 and Ed448 issuers sign with no separate hash; both validate,
    and a flipped signature byte is bad_signature under either."""
    chain = pki.simple_chain(HOST, kind=kind)
    v = Verifier(TrustStore([chain.root.cert]))
    assert v.verify(chain.leaf.cert, chain.intermediates, server_name=HOST,
                    at=NOW)[-1] == chain.root.cert
    err = _fail(Verifier(TrustStore([chain.root.cert])),
                pki.tamper_signature(chain.leaf.cert), chain.intermediates)
    assert err.reason is Reason.bad_signature and "does not verify" in str(err)


# The outer signatureAlgorithm and the TBS's copy, as DER: sha256WithRSAEncryption (with
# its NULL parameters), ecdsa-with-SHA256, Ed25519, Ed448 (RFC 4055, 5758, 8410).
_ALGORITHMS = {
    "rsa": bytes.fromhex("300d06092a864886f70d01010b0500"),
    "ecdsa": bytes.fromhex("300a06082a8648ce3d040302"),
    "ed25519": bytes.fromhex("300506032b6570"),
    "ed448": bytes.fromhex("300506032b6571"),
}


def _claiming(leaf: pki.Issued, algorithm: str) -> x509.Certificate:
    """The leaf with both copies of its signature algorithm replaced (the real ECDSA
    signature kept): a certificate claiming another algorithm than its issuer's key."""
    from cryptography.hazmat.primitives import serialization

    alg = _ALGORITHMS[algorithm]
    outer = pki.der_elements(pki.der_body(leaf.cert.public_bytes(serialization.Encoding.DER)))
    items = pki.der_elements(pki.der_body(outer[0]))
    items[2] = alg  # (version, serial, signature, ...)
    tbs = pki._der(0x30, b"".join(items))
    return x509.load_der_x509_certificate(pki._der(0x30, tbs + alg + outer[2]))


@pytest.mark.parametrize(("issuer_kind", "claimed", "words"), [
    ("ec256", "rsa", "the issuer has an EC key but the signature is not ECDSA"),
    ("ec256", "ed25519", "the issuer has an EC key but the signature is not ECDSA"),
    ("rsa2048", "ecdsa", "the issuer has an RSA key but the signature is not an RSA "
                         "signature"),
    ("ed25519", "ed448", "the issuer has an Ed25519 key but the signature is not Ed25519"),
    ("ed448", "ed25519", "the issuer has an Ed448 key but the signature is not Ed448"),
])
def test_a_signature_algorithm_that_does_not_fit_the_issuer_key(
        issuer_kind: str, claimed: str, words: str) -> None:
    """The algorithm a certificate claims must be one its issuer's key makes: each key
    family's mismatch is bad_signature, in words, before any verification is tried."""
    root = pki.root(f"Mismatch Root {issuer_kind}", key_kind=issuer_kind)
    leaf = pki.leaf(HOST, root)
    err = _fail(Verifier(TrustStore([root.cert])), _claiming(leaf, claimed), [])
    assert err.reason is Reason.bad_signature
    assert str(err).endswith(words), str(err)


def test_not_a_ca(chain: pki.Chain) -> None:
    fake_ca = pki.make("Not A CA", chain.root, ca=False, ku=None)
    leaf = pki.leaf(HOST, fake_ca)
    err = _fail(Verifier(TrustStore([chain.root.cert])), leaf.cert, [fake_ca.cert])
    assert err.reason is Reason.not_a_ca
    assert err.certificate == fake_ca.cert
    assert "CN=Not A CA" in str(err) and "not a CA" in str(err)


def test_no_basic_constraints_is_not_a_ca(chain: pki.Chain) -> None:
    fake_ca = pki.make("No BC", chain.root, ca=None, ku=pki.CA_KU)
    leaf = pki.leaf(HOST, fake_ca)
    err = _fail(Verifier(TrustStore([chain.root.cert])), leaf.cert, [fake_ca.cert])
    assert err.reason is Reason.not_a_ca
    assert "basicConstraints is absent" in str(err)


def test_path_length_exceeded(chain: pki.Chain) -> None:
    root = pki.root("PathLen Root", path_len=1)
    inter = pki.intermediate("PL Intermediate", root)
    leaf = pki.leaf(HOST, inter)
    ok = Verifier(TrustStore([root.cert]))
    assert ok.verify(leaf.cert, [inter.cert], server_name=HOST, at=NOW)  # one is fine
    sub = pki.intermediate("PL Sub", inter)
    deep = pki.leaf(HOST, sub)
    err = _fail(ok, deep.cert, [inter.cert, sub.cert])
    assert err.reason is Reason.path_length_exceeded
    assert err.certificate == sub.cert
    assert "CN=PL Sub" in str(err) and "CN=PathLen Root" in str(err)


def test_name_constraints_violated(chain: pki.Chain) -> None:
    inter = pki.intermediate("NC Intermediate", chain.root, permitted=["example.com"])
    good = pki.leaf("a.example.com", inter)
    bad = pki.leaf("a.example.net", inter)
    v = Verifier(TrustStore([chain.root.cert]))
    assert v.verify(good.cert, [inter.cert], server_name="a.example.com", at=NOW)
    err = _fail(v, bad.cert, [inter.cert], server_name="a.example.net")
    assert err.reason is Reason.name_constraints_violated
    assert err.certificate == bad.cert
    assert "a.example.net" in str(err) and "CN=NC Intermediate" in str(err)


def test_key_usage_of_issuer(chain: pki.Chain) -> None:
    inter = pki.intermediate("No CertSign", chain.root, ku={"digital_signature": True})
    leaf = pki.leaf(HOST, inter)
    err = _fail(Verifier(TrustStore([chain.root.cert])), leaf.cert, [inter.cert])
    assert err.reason is Reason.key_usage
    assert err.certificate == inter.cert
    assert "CN=No CertSign" in str(err) and "keyCertSign" in str(err)


def test_key_usage_of_leaf(chain: pki.Chain, verifier: Verifier) -> None:
    leaf = pki.leaf(HOST, chain.inter, ku={"key_encipherment": True}, key_kind="rsa2048")
    err = _fail(verifier, leaf.cert, chain.intermediates)
    assert err.reason is Reason.key_usage
    assert err.certificate == leaf.cert
    assert HOST in str(err) and "digitalSignature" in str(err)
    # TLS 1.2 with an RSA key exchange could use it: the knob allows keyEncipherment.
    lenient = Verifier(TrustStore([chain.root.cert]), require_digital_signature=False)
    assert lenient.verify(leaf.cert, chain.intermediates, server_name=HOST, at=NOW)


def test_extended_key_usage_of_leaf(chain: pki.Chain, verifier: Verifier) -> None:
    leaf = pki.leaf(HOST, chain.inter, eku=[pki.CLIENT_AUTH])
    err = _fail(verifier, leaf.cert, chain.intermediates)
    assert err.reason is Reason.extended_key_usage
    assert err.certificate == leaf.cert
    assert HOST in str(err) and "serverAuth" in str(err)
    # ...and the same certificate is fine for a client.
    assert verifier.verify(leaf.cert, chain.intermediates, at=NOW, usage="client")


def test_extended_key_usage_of_intermediate(chain: pki.Chain) -> None:
    inter = pki.intermediate("Client-only CA", chain.root, eku=[pki.CLIENT_AUTH])
    leaf = pki.leaf(HOST, inter)
    err = _fail(Verifier(TrustStore([chain.root.cert])), leaf.cert, [inter.cert])
    assert err.reason is Reason.extended_key_usage
    assert err.certificate == inter.cert
    assert "CN=Client-only CA" in str(err)


def test_hostname_mismatch(chain: pki.Chain, verifier: Verifier) -> None:
    err = _fail(verifier, chain.leaf.cert, chain.intermediates, server_name="evil.example.org")
    assert err.reason is Reason.hostname_mismatch
    assert err.certificate == chain.leaf.cert
    assert HOST in str(err) and "evil.example.org" in str(err)
    assert f"its names are {HOST}" in str(err)  # the names it does have


def test_hostname_mismatch_lists_every_name(chain: pki.Chain, verifier: Verifier) -> None:
    leaf = pki.leaf(HOST, chain.inter, sans=[HOST, "*.example.net", "192.0.2.9"])
    err = _fail(verifier, leaf.cert, chain.intermediates, server_name="example.net")
    assert err.reason is Reason.hostname_mismatch
    assert f"its names are {HOST}, *.example.net, 192.0.2.9" in str(err)


@pytest.mark.parametrize(("server_name", "hint"), [
    ("a.b.example.net", " (a wildcard covers exactly one label: *.example.net matches "
                        "www.example.net, not example.net or a.b.example.net)"),
    ("example.net", " (a wildcard covers exactly one label"),
    ("192.0.2.9", " (192.0.2.9 is there as a DNS name; an IP address matches only an "
                  "iPAddress subjectAltName)"),
])
def test_hostname_mismatch_explains_the_usual_mistakes(chain: pki.Chain, verifier: Verifier,
                                                       server_name: str, hint: str) -> None:
    leaf = pki.leaf(HOST, chain.inter, sans=[HOST, "*.example.net", "dns:192.0.2.9"])
    err = _fail(verifier, leaf.cert, chain.intermediates, server_name=server_name)
    assert err.reason is Reason.hostname_mismatch
    assert f"its names are {HOST}, *.example.net, 192.0.2.9{hint}" in str(err)


def test_hostname_mismatch_without_a_near_miss_has_no_hint(chain: pki.Chain,
                                                           verifier: Verifier) -> None:
    leaf = pki.leaf(HOST, chain.inter, sans=[HOST, "*.example.net"])
    err = _fail(verifier, leaf.cert, chain.intermediates, server_name="www.example.com")
    assert str(err).endswith(f"its names are {HOST}, *.example.net")


def test_no_server_name_skips_hostname(chain: pki.Chain, verifier: Verifier) -> None:
    assert verifier.verify(chain.leaf.cert, chain.intermediates, server_name=None, at=NOW)


def test_unhandled_critical_extension(chain: pki.Chain, verifier: Verifier) -> None:
    odd = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    leaf = pki.leaf(HOST, chain.inter, extra=[(odd, True)])
    err = _fail(verifier, leaf.cert, chain.intermediates)
    assert err.reason is Reason.unhandled_critical_extension
    assert err.certificate == leaf.cert
    assert "1.3.6.1.4.1.99999.1" in str(err)
    # The same extension, non-critical, is simply ignored.
    fine = pki.leaf(HOST, chain.inter, extra=[(odd, False)])
    assert verifier.verify(fine.cert, chain.intermediates, server_name=HOST, at=NOW)


def test_revoked_via_checker(chain: pki.Chain) -> None:
    """`revoked` comes from the revocation module; a stub checker proves the plumbing."""
    v = Verifier(TrustStore([chain.root.cert]), revocation="hard-fail")

    class Revoker:
        def check(self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime,
                  ocsp_response: bytes | None = None) -> str:
            if cert == chain.inter.cert:
                raise CertificateVerificationError(Reason.revoked, "revoked by CRL", cert)
            return "good"

    v._checker, v._checker_loaded = Revoker(), True
    err = _fail(v, chain.leaf.cert, chain.intermediates)
    assert err.reason is Reason.revoked
    assert err.certificate == chain.inter.cert
    assert "CN=Intermediate ec256" in str(err)


def test_revocation_unknown_via_checker(chain: pki.Chain) -> None:
    v = Verifier(TrustStore([chain.root.cert]), revocation="hard-fail")
    seen: list[tuple[x509.Certificate, bytes | None]] = []

    class Unknown:
        def check(self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime,
                  ocsp_response: bytes | None = None) -> str:
            seen.append((cert, ocsp_response))
            raise CertificateVerificationError(Reason.revocation_unknown, "no answer", cert)

    v._checker, v._checker_loaded = Unknown(), True
    err = _fail(v, chain.leaf.cert, chain.intermediates, ocsp_response=b"staple")
    assert err.reason is Reason.revocation_unknown
    assert err.certificate == chain.leaf.cert
    assert HOST in str(err)
    assert seen == [(chain.leaf.cert, b"staple")]  # the leaf gets the stapled response


def test_revocation_checks_every_non_anchor(chain: pki.Chain) -> None:
    v = Verifier(TrustStore([chain.root.cert]), revocation="soft-fail")
    asked: list[tuple[x509.Certificate, x509.Certificate]] = []

    class Good:
        def check(self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime,
                  ocsp_response: bytes | None = None) -> str:
            asked.append((cert, issuer))
            return "good"

    v._checker, v._checker_loaded = Good(), True
    v.verify(chain.leaf.cert, chain.intermediates, server_name=HOST, at=NOW)
    assert asked == [(chain.leaf.cert, chain.inter.cert), (chain.inter.cert, chain.root.cert)]


def test_weak_key_rsa1024(chain: pki.Chain, verifier: Verifier) -> None:
    leaf = pki.leaf(HOST, chain.inter, key_kind="rsa1024")
    err = _fail(verifier, leaf.cert, chain.intermediates)
    assert err.reason is Reason.weak_key
    assert err.certificate == leaf.cert
    assert HOST in str(err) and "RSA 1024" in str(err)


def test_weak_key_curve(chain: pki.Chain) -> None:
    inter = pki.intermediate("K1 Intermediate", chain.root, key_kind="secp256k1")
    leaf = pki.leaf(HOST, inter)
    err = _fail(Verifier(TrustStore([chain.root.cert])), leaf.cert, [inter.cert])
    assert err.reason is Reason.weak_key
    assert err.certificate == inter.cert
    assert "CN=K1 Intermediate" in str(err) and "secp256k1" in str(err)


def test_weak_signature_sha1() -> None:
    root = pki.root("RSA Root", key_kind="rsa2048")
    inter = pki.intermediate("SHA1 Intermediate", root)
    inter = pki.resign_rsa_legacy(inter, root, "sha1")
    leaf = pki.leaf(HOST, inter)
    err = _fail(Verifier(TrustStore([root.cert])), leaf.cert, [inter.cert])
    assert err.reason is Reason.weak_signature
    assert err.certificate == inter.cert
    assert "CN=SHA1 Intermediate" in str(err) and "sha1" in str(err).lower()
    # The signature itself is genuine: only the algorithm is refused.
    root.cert.public_key().verify(  # type: ignore[call-arg]
        inter.cert.signature, inter.cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1()
    )


def test_weak_signature_md5() -> None:
    root = pki.root("RSA Root", key_kind="rsa2048")
    leaf = pki.resign_rsa_legacy(pki.leaf(HOST, root), root, "md5")
    err = _fail(Verifier(TrustStore([root.cert])), leaf.cert, [])
    assert err.reason is Reason.weak_signature
    assert err.certificate == leaf.cert and "md5" in str(err).lower()


def test_sha1_self_signature_of_anchor_is_not_checked() -> None:
    root = pki.root("SHA1 Root", key_kind="rsa2048")
    root = pki.resign_rsa_legacy(root, root, "sha1")
    assert root.cert.signature_hash_algorithm.name == "sha1"
    inter = pki.intermediate("Under SHA1 Root", root)
    leaf = pki.leaf(HOST, inter)
    v = Verifier(TrustStore([root.cert]))
    assert v.verify(leaf.cert, [inter.cert], server_name=HOST, at=NOW)[-1] == root.cert


def test_malformed_extension(chain: pki.Chain, verifier: Verifier) -> None:
    # A keyUsage extension whose value is not a BIT STRING.
    garbage = x509.UnrecognizedExtension(x509.oid.ExtensionOID.KEY_USAGE, b"\x04\x01\x00")
    leaf = pki.leaf(HOST, chain.inter, ku=None, extra=[(garbage, True)])
    err = _fail(verifier, leaf.cert, chain.intermediates)
    assert err.reason is Reason.malformed
    assert err.certificate == leaf.cert
    # In words, not cryptography's Rust debug text ("ParseError { kind: UnexpectedTag...").
    assert "is malformed: an extension cannot be parsed: not valid DER: an unexpected " \
        "ASN.1 element" in str(err)
    assert "ParseError" not in str(err)


def _leaf_with_an_unnamed_string_type(chain: pki.Chain, **kw: object) -> pki.Issued:
    """A leaf whose subject CN is of an ASN.1 type cryptography has no name for (BOOLEAN):
    the certificate parses, but reading ``.subject`` raises KeyError."""
    name = pki._der(0x30, pki._der(0x31, pki._der(
        0x30, bytes.fromhex("0603550403") + pki._der(0x01, b"x"))))
    good = pki.leaf(HOST, chain.inter, **kw)
    bad = pki.rebuild(good, chain.inter, lambda items: [*items[:5], name, *items[6:]])
    return pki.Issued(bad, good.key)


def test_a_name_cryptography_cannot_read_is_malformed_not_a_crash(
        chain: pki.Chain, verifier: Verifier) -> None:
    """Found by fuzz/fuzz_x509.py: the message naming a leaf without a DNS name read its
    ``.subject`` and let the KeyError out of `verify` (a handshake sent internal_error)."""
    bad = _leaf_with_an_unnamed_string_type(chain, sans=None).cert
    # cryptography 48 raises KeyError (its string-type lookup), 51 ValueError (a parse error)
    with pytest.raises((KeyError, ValueError)) as raised:
        bad.subject  # noqa: B018  # (what cryptography does with it)
    err = _fail(verifier, bad, chain.intermediates)
    assert err.reason is Reason.malformed and err.certificate == bad
    assert "certificate '(unparseable name)'" in str(err)
    words = ("a name attribute value of an unknown ASN.1 string type (tag 1)"
             if raised.type is KeyError else "not valid DER: an unexpected ASN.1 element")
    assert f"subject name cannot be parsed: {words}" in str(err)
    report = verifier.explain(bad, chain.intermediates, server_name=HOST, at=NOW)
    assert report.error is not None and report.error.reason is Reason.malformed


def test_a_name_cryptography_cannot_read_is_shown_by_the_trace_not_a_crash(
        chain: pki.Chain) -> None:
    """`tlskit connect --trace` renders the server's certificates: their names are read
    as text whatever they hold (it caught only ValueError, so cryptography 48's KeyError
    escaped from a hostile server's Certificate)."""
    from tlskit.cli.trace import cert_info
    bad = _leaf_with_an_unnamed_string_type(chain, sans=None).cert
    info = cert_info(bad)
    assert info["subject"] == info["common_name"] == "(unparseable name)"
    assert info["issuer"] == chain.inter.cert.subject.rfc4514_string()


def test_a_name_cryptography_cannot_read_ends_the_handshake_with_bad_certificate(
        chain: pki.Chain) -> None:
    """Serving it needs no reading of its names; the client refuses it as malformed."""
    bad = _leaf_with_an_unnamed_string_type(chain, sans=None)
    client = ClientConnection(ClientConfig(trust_anchors=[chain.root.cert],
                                           clock=lambda: NOW.timestamp()), server_name=HOST)
    server = ServerConnection(ServerConfig(certificate_chain=[bad.cert, chain.inter.cert],
                                           private_key=bad.key, clock=lambda: NOW.timestamp()))
    with pytest.raises(CertificateVerificationError) as info:
        pump(client, server)
    assert info.value.reason is Reason.malformed
    assert info.value.alert is AlertDescription.bad_certificate


def _root_with_key_ids(critical: str) -> pki.Issued:
    """A root whose own key identifiers are marked critical as named ("ski" or "aki")."""
    public = pki.key("ec256", f"critical-{critical}").public_key()
    return pki.root(f"Critical {critical} Root", slot=f"critical-{critical}", key_ids=False,
                    extra=[(x509.SubjectKeyIdentifier.from_public_key(public),
                            critical == "ski"),
                           (x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                            critical == "aki")])


@pytest.mark.parametrize(("critical", "words"), [
    ("aki", "authorityKeyIdentifier is marked critical, which RFC 5280 4.2.1.1 forbids"),
    ("ski", "subjectKeyIdentifier is marked critical, which RFC 5280 4.2.1.2 forbids"),
])
def test_critical_key_identifier_fails_even_in_a_trust_anchor(critical: str,
                                                             words: str) -> None:
    """RFC 5280 4.2.1.1 / 4.2.1.2: conforming CAs MUST mark the key identifiers
    non-critical. OpenSSL (an unhandled critical extension) and pyca (incorrect
    criticality) refuse such a certificate in every role, the trust anchor included
    (x509-limbo rfc5280::aki::critical-aki, rfc5280::ski::critical-ski)."""
    root = _root_with_key_ids(critical)
    leaf = pki.leaf(HOST, root)
    err = _fail(Verifier(TrustStore([root.cert])), leaf.cert, [])
    assert err.reason is Reason.malformed
    assert err.certificate == root.cert
    assert f"trust anchor '{_cn(root)}'" in str(err)
    assert words in str(err) and "reissue" in str(err)


def test_path_too_long(chain: pki.Chain) -> None:
    parent = chain.root
    inters = []
    for n in range(3):
        parent = pki.intermediate(f"Deep {n}", parent)
        inters.append(parent)
    leaf = pki.leaf(HOST, parent)
    pool = [i.cert for i in inters]
    assert Verifier(TrustStore([chain.root.cert]), max_depth=3).verify(
        leaf.cert, pool, server_name=HOST, at=NOW)
    err = _fail(Verifier(TrustStore([chain.root.cert]), max_depth=2), leaf.cert, pool)
    assert err.reason is Reason.path_too_long
    assert err.certificate == inters[0].cert
    assert "CN=Deep 0" in str(err) and "depth" in str(err)


def test_must_staple_without_staple() -> None:
    """RFC 7633: raised by the handshake's must-staple rule (ClientConfig
    enforce_must_staple; tests/stapling/test_must_staple.py drives it over TLS), not by
    the Verifier: a validated chain whose leaf is must-staple, and no staple."""
    from tlskit.ca import LocalCA
    from tlskit.x509.muststaple import check_must_staple

    ca = LocalCA.create(url="http://127.0.0.1:9")
    issued = ca.issue_server(["localhost"], must_staple=True)
    with pytest.raises(CertificateVerificationError) as info:
        check_must_staple([issued.certificate, ca.intermediate, ca.root], None,
                          issued.certificate.not_valid_before_utc)
    assert info.value.reason is Reason.tls_feature_missing
    assert info.value.alert is AlertDescription.bad_certificate_status_response
    assert info.value.certificate == issued.certificate
    assert "CN=localhost" in str(info.value)


def test_every_reason_is_exercised() -> None:
    """Keep this file honest: a new Reason needs a test above (no_certificate belongs to
    the handshake, which raises it when the peer sends an empty Certificate message)."""
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [r.name for r in Reason if f"Reason.{r.name}" not in source.replace(
        "Reason.no_certificate", "")]
    assert missing == ["no_certificate"]


def _serial(value: int) -> object:
    return lambda items: [items[0], pki.der_integer(value), *items[2:]]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda items: items[1:], "not version 3"),  # v1 encoding, extensions kept
        (lambda items: [*items[:3], bytes.fromhex("3000"), *items[4:]], "issuer name is empty"),
    ],
)
@pytest.mark.filterwarnings("ignore:Parsed a serial number")  # cryptography's own complaint
def test_malformed_structure(chain: pki.Chain, verifier: Verifier, edit: object,
                             words: str) -> None:
    bad = pki.rebuild(pki.leaf(HOST, chain.inter), chain.inter, edit)
    err = _fail(verifier, bad, chain.intermediates)
    assert err.reason is Reason.malformed
    assert err.certificate == bad
    assert words in str(err)


@pytest.mark.parametrize(
    ("value", "words"),
    [(0, "serial number is not positive"), (-5, "serial number is not positive"),
     (1 << 159, "longer than 20 octets")],
)
@pytest.mark.filterwarnings("ignore:Parsed a serial number")
def test_bad_serial_is_an_issuance_rule(chain: pki.Chain, value: int, words: str) -> None:
    """RFC 5280 4.1.2.2 binds CAs ("users SHOULD gracefully handle" such serials): the
    default accepts, the lint names it, the "cabf" profile refuses it as malformed."""
    bad = pki.rebuild(pki.leaf(HOST, chain.inter), chain.inter, _serial(value))
    lenient = Verifier(TrustStore([chain.root.cert]))
    lenient.verify(bad, chain.intermediates, server_name=HOST, at=NOW)
    findings = lenient.lint(bad, chain.intermediates, server_name=HOST, at=NOW)
    assert [f.rule for f in findings] == ["serial-number"] and words in str(findings[0])
    err = _fail(Verifier(TrustStore([chain.root.cert]), profile="cabf"), bad,
                chain.intermediates)
    assert err.reason is Reason.malformed and err.certificate == bad and words in str(err)


def test_twenty_octet_serial_is_fine(chain: pki.Chain, verifier: Verifier) -> None:
    good = pki.rebuild(pki.leaf(HOST, chain.inter), chain.inter, _serial((1 << 159) - 1))
    assert verifier.verify(good, chain.intermediates, server_name=HOST, at=NOW)


def test_too_complex_when_a_budget_runs_out(chain: pki.Chain) -> None:
    """A valid chain that needs more work than allowed is refused, never accepted late."""
    tight = Verifier(TrustStore([chain.root.cert]), max_signature_checks=1)
    err = _fail(tight, chain.leaf.cert, chain.intermediates)
    assert err.reason is Reason.too_complex and err.certificate == chain.leaf.cert
    assert "max_signature_checks" in str(err) and "www.example.org" in str(err)
