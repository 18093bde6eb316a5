"""The certificates developers actually use, made by the tools that make them: trustme,
``openssl req -x509`` (pinned), mkcert-style and `tlskit.ca`. The default policy accepts
them all; the lint names where they break the CA/B issuance profile, and the "cabf"
profile refuses exactly those."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlskit import ClientConfig
from tlskit.ca import LocalCA
from tlskit.io.blocking import connect
from tlskit.x509 import CertificateVerificationError, Reason, TrustStore, Verifier

from ..support.peers import PeerProcess
from . import pki
from .pki import DAY, NOW

assert shutil.which("openssl"), "the openssl binary is required (bash .ci/install-test-deps.sh)"


def _rules(v: Verifier, leaf: x509.Certificate, inters: list[x509.Certificate],
           host: str | None = "localhost") -> set[tuple[str, str]]:
    """(role, rule) of every lint finding on the chain."""
    return {(f.role, f.rule) for f in v.lint(leaf, inters, server_name=host)}


def _cabf(anchors: list[x509.Certificate], leaf: x509.Certificate,
          inters: list[x509.Certificate], host: str = "localhost") -> Reason:
    with pytest.raises(CertificateVerificationError) as err:
        Verifier(TrustStore(anchors), profile="cabf").verify(leaf, inters, server_name=host)
    return err.value.reason


# -- trustme ----------------------------------------------------------------------------------


def test_trustme_certificates_are_accepted_and_linted() -> None:
    """trustme's leaves mark the SAN and the EKU critical beside a non-empty subject and
    add codeSigning: issuance rules, not validation rules."""
    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    root = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    leaf = x509.load_pem_x509_certificate(issued.cert_chain_pems[0].bytes())
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
    v = Verifier(TrustStore([root]))
    assert v.verify(leaf, [], server_name="localhost") == [leaf, root]
    assert v.verify(leaf, [], server_name="127.0.0.1") == [leaf, root]
    assert _rules(v, leaf, []) == {("leaf", "leaf-san"), ("leaf", "leaf-eku")}
    assert _cabf([root], leaf, []) is Reason.extended_key_usage


# -- openssl req -x509, pinned ----------------------------------------------------------------


def _openssl_self_signed(directory: Path, *extra: str) -> tuple[Path, Path, x509.Certificate]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-days", "30", *extra], check=True, capture_output=True, timeout=60)
    return cert, key, x509.load_pem_x509_certificate(cert.read_bytes())


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, x509.Certificate]:
    return _openssl_self_signed(tmp_path_factory.mktemp("pinned"),
                                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")


def test_openssl_self_signed_certificate_is_accepted_when_pinned(
    pinned: tuple[Path, Path, x509.Certificate],
) -> None:
    """`openssl req -x509` marks its output cA=TRUE; trusting that very certificate is
    what curl, Python's ssl, s_client and Go accept."""
    cert = pinned[2]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    v = Verifier(TrustStore([cert]))
    assert v.verify(cert, [], server_name="localhost") == [cert]
    assert v.verify(cert, [], server_name="127.0.0.1") == [cert]
    report = v.explain(cert, [], server_name="localhost")
    assert report.valid and {f.rule for f in report.findings} == {"leaf-is-ca", "leaf-eku"}
    assert _rules(v, cert, []) == {("leaf-anchor", "leaf-is-ca"), ("leaf-anchor", "leaf-eku")}
    assert _cabf([cert], cert, []) is Reason.key_usage
    with pytest.raises(CertificateVerificationError) as err:
        v.verify(cert, [], server_name="other.example")
    assert err.value.reason is Reason.hostname_mismatch
    assert "localhost, 127.0.0.1" in str(err.value)


def test_unpinned_self_signed_certificate_says_how_to_pin(
    pinned: tuple[Path, Path, x509.Certificate],
) -> None:
    other = pki.root("Some Other Root").cert
    with pytest.raises(CertificateVerificationError) as err:
        Verifier(TrustStore([other])).verify(pinned[2], [], server_name="localhost")
    assert err.value.reason is Reason.self_signed
    assert str(err.value).endswith("to trust this very certificate (pinning), add it to the "
                                   "trust anchors")


def test_pinned_certificate_without_san_says_what_to_do(tmp_path: Path) -> None:
    """RFC 9525 6.3: the CN is not a host name to match; the message says so and how to
    fix it, and without a name to check the pinned certificate is accepted."""
    cert = _openssl_self_signed(tmp_path)[2]
    v = Verifier(TrustStore([cert]))
    assert v.verify(cert, [], server_name=None) == [cert]
    with pytest.raises(CertificateVerificationError) as err:
        v.verify(cert, [], server_name="localhost")
    assert err.value.reason is Reason.hostname_mismatch
    words = str(err.value)
    assert "'localhost'" in words and "RFC 9525" in words and "subjectAltName" in words


def test_tls_client_accepts_a_pinned_self_signed_server(
    pinned: tuple[Path, Path, x509.Certificate],
) -> None:
    """The handshake path: openssl s_server with the `openssl req -x509` certificate, a
    tlskit client trusting exactly that certificate."""
    cert_path, key_path, cert = pinned
    server = PeerProcess(["openssl", "s_server", "-tls1_3", "-accept", "127.0.0.1:0",
                          "-cert", str(cert_path), "-key", str(key_path)], unbuffered=True)
    try:
        port = int(server.wait_for(rb"ACCEPT [^\n]*:(\d+)\r?\n").group(1))
        with connect("127.0.0.1", port, ClientConfig(trust_anchors=[cert]),
                     server_name="localhost", timeout=10) as tls:
            assert tls.version() == "TLSv1.3"
        with pytest.raises(CertificateVerificationError) as err:
            connect("127.0.0.1", port, ClientConfig(trust_anchors=[pki.root("Other").cert]),
                    server_name="localhost", timeout=10)
        assert err.value.reason is Reason.self_signed
    finally:
        server.stop()


# -- mkcert-style -----------------------------------------------------------------------------


def _mkcert_style() -> tuple[x509.Certificate, x509.Certificate]:
    """What mkcert issues: a root with cA=TRUE and pathLenConstraint 0, and a leaf with no
    CN at all (O/OU only), a non-critical SAN, serverAuth, digitalSignature and
    keyEncipherment, and an authorityKeyIdentifier."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mkcert development CA"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "dev@laptop"),
        x509.NameAttribute(NameOID.COMMON_NAME, "mkcert dev@laptop")])
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - DAY).not_valid_after(NOW + 3650 * DAY)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, False, False,
                                         False), True)
            .add_extension(x509.BasicConstraints(True, 0), True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()),
                           False)
            .sign(root_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mkcert development certificate"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "dev@laptop")]))
            .issuer_name(root_name).public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - DAY).not_valid_after(NOW + 800 * DAY)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False,
                                         False), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                root_key.public_key()), False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.DNSName("*.dev.test")]), False)
            .sign(root_key, hashes.SHA256()))
    return root, leaf


def test_mkcert_style_certificates_are_accepted() -> None:
    root, leaf = _mkcert_style()
    v = Verifier(TrustStore([root]))
    for host in ("localhost", "app.dev.test"):
        assert v.verify(leaf, [], server_name=host, at=NOW) == [leaf, root]
    assert not v.lint(leaf, [], server_name="localhost", at=NOW)
    Verifier(TrustStore([root]), profile="cabf").verify(leaf, [], server_name="localhost",
                                                        at=NOW)


# -- tlskit's own CA, and a leaf without EKU --------------------------------------------------


def test_tlskit_ca_certificates_pass_both_profiles() -> None:
    ca = LocalCA.create(None)
    issued = ca.issue_server(["localhost", "127.0.0.1"])
    for profile in ("default", "cabf"):
        v = Verifier(TrustStore([ca.root]), profile=profile)  # type: ignore[arg-type]
        assert len(v.verify(issued.certificate, issued.chain[1:], server_name="127.0.0.1")) == 3
        assert not v.lint(issued.certificate, issued.chain[1:], server_name="localhost")


def test_leaf_without_eku_is_accepted_and_linted(chain: pki.Chain) -> None:
    """RFC 5280 4.2.1.12: no extendedKeyUsage means any purpose."""
    leaf = pki.leaf("www.example.org", chain.inter, eku=None)
    v = Verifier(TrustStore([chain.root.cert]))
    assert v.verify(leaf.cert, chain.intermediates, server_name="www.example.org", at=NOW)
    assert _rules(v, leaf.cert, chain.intermediates, "www.example.org") == {
        ("leaf", "leaf-eku")}
    strict = Verifier(TrustStore([chain.root.cert]), profile="cabf")
    with pytest.raises(CertificateVerificationError) as err:
        strict.verify(leaf.cert, chain.intermediates, server_name="www.example.org", at=NOW)
    assert err.value.reason is Reason.extended_key_usage and "7.1.2.7.10" in str(err.value)


def test_profile_must_be_known() -> None:
    with pytest.raises(ValueError, match="profile"):
        Verifier(TrustStore([]), profile="strict")  # type: ignore[arg-type]


def test_lint_chain_lints_an_ordered_chain_without_validating(chain: pki.Chain) -> None:
    from tlskit.x509 import lint_chain
    expired = pki.leaf("www.example.org", chain.inter, eku=None, not_after=NOW - DAY)
    found = lint_chain([expired.cert, chain.inter.cert, chain.root.cert])
    assert [(f.role, f.rule) for f in found] == [("leaf", "leaf-eku")]
    assert lint_chain([chain.leaf.cert, chain.inter.cert, chain.root.cert]) == []
