"""Differential test against Go's crypto/x509 (a second oracle beside pyca's, sharing no
code with it, OpenSSL or tlskit): a cross-check only, our verdict never depends on it.

The corpus, the knobs and tlskit's side are test_differential's. Go's side is
`go/verify.go`, built once per session with the local toolchain and fed the whole corpus
on stdin in one run; it calls ``Certificate.Verify`` with what Go's TLS client asks for
(the reference name, the serverAuth EKU, the corpus' time). Go parses every certificate
when it loads it, so one it cannot parse (a secp256k1 key) rejects the case.

Every disagreement must be explained by an entry of `GO_DISAGREEMENTS` (same form as
test_differential's `DISAGREEMENTS`), and every entry must still happen.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..support.golang import build_go
from . import pki
from .test_differential import (
    CORPUS_SIZE,
    HOST,
    Case,
    Disagreement,
    Verdicts,
    _all,
    _is,
    corpus,
    explained,
    ours,
    unexplained,
)

SOURCE = Path(__file__).parent / "go" / "verify.go"
# Go's words for the checks the corpus must exercise (see test_go_gives_both_verdicts).
GO_CHECKS = (
    "certificate has expired or is not yet valid", "unhandled critical extension",
    "certificate signed by unknown authority", "doesn't contain any IP SANs",
    "certificate is valid for", "incompatible key usage",
    "too many intermediates for path length constraint", "unsupported elliptic curve",
    "legacy Common Name field", "not authorized to sign for this name",
)


# Every place tlskit and Go differ. Go's Verify checks signatures, validity, CA-ness,
# path lengths, name constraints, EKU nesting and the name; it never reads the leaf's
# keyUsage or basicConstraints nor any extension's criticality, and it takes any RSA size.
GO_DISAGREEMENTS: dict[str, Disagreement] = {
    "weak-rsa-key": Disagreement("go", (
        "Security exception. tlskit refuses RSA keys under 2048 bits anywhere in the path "
        "(Reason.weak_key; CA/B BR 6.1.5, NIST SP 800-131A has disallowed 1024-bit RSA "
        "signatures since 2013, and a 1024-bit modulus is within reach of a well-funded "
        "factoring effort, which would forge any certificate under it). Go 1.19's Verify "
        "has no minimum RSA size; pyca also refuses such keys where it verifies with them."),
        _is("kind", "rsa1024"),
        "weak_key"),
    "unparsable-extra-root": Disagreement("tlskit", (
        "Go parses a certificate when it is loaded and its parser knows only the NIST "
        "curves, so a secp256k1 root makes this harness reject the case outright (a Go "
        "program loading roots with CertPool.AppendCertsFromPEM would silently drop it). "
        "tlskit, like pyca, sets the unusable root aside (weak_key) and accepts the valid "
        "path through the other trusted root."),
        _all(_is("kind", "secp256k1"), _is("weak_at", "root"), _is("cross", "both_roots")),
        "unsupported elliptic curve"),
    "ca-certificate-as-leaf": Disagreement("go", (
        "RFC 5280 4.2.1.9: cA says the key verifies certificate signatures; CA/B BR "
        "7.1.2.7.8 makes it FALSE in a server certificate. tlskit, pyca and Firefox's "
        "mozilla::pkix refuse a CA certificate as the end entity (tlskit accepts it pinned "
        "as a trust anchor); Go's Verify never reads the leaf's basicConstraints."),
        _is("leaf_bc", "ca_true"),
        "key_usage"),
    "leaf-key-cert-sign": Disagreement("go", (
        "RFC 5280 4.2.1.3: when keyCertSign is asserted, cA MUST be asserted too, so a leaf "
        "that asserts it contradicts itself; tlskit and pyca refuse it, as OpenSSL does "
        "with -x509_strict. Go's Verify ignores the leaf's keyUsage: its KeyUsages option "
        "is about extended key usages only."),
        _is("leaf_ku", "cert_sign"),
        "key_usage"),
    "leaf-key-encipherment": Disagreement("go", (
        "RFC 8446 4.4.2.2: when the server certificate has a keyUsage, its "
        "digitalSignature bit MUST be set (the key signs CertificateVerify, 4.4.3); "
        "tlskit admits keyEncipherment only for an RSA key in TLS 1.2 "
        "(require_digital_signature=False). Go ignores the leaf's keyUsage."),
        _is("leaf_ku", "key_encipherment"),
        "key_usage"),
    "critical-key-identifier": Disagreement("go", (
        "RFC 5280 4.2.1.1 / 4.2.1.2: conforming CAs MUST mark the authority and subject "
        "key identifiers non-critical. tlskit refuses such a certificate in every role, "
        "the trust anchor included (Reason.malformed), as pyca (incorrect criticality) "
        "and OpenSSL (unhandled critical extension) do; Go 1.19 never reads an "
        "extension's criticality."),
        _is("root_quirk", "ski_critical", "aki_critical"),
        "malformed"),
    "leaf-any-eku": Disagreement("go", (
        "RFC 5280 4.2.1.12 lets an application that needs a purpose reject "
        "anyExtendedKeyUsage without that purpose: tlskit, pyca and OpenSSL's sslserver "
        "purpose require serverAuth in a server certificate's EKU. Go lets "
        "anyExtendedKeyUsage stand for every usage it is asked for."),
        _is("leaf_eku", "any"),
        "extended_key_usage"),
}


@pytest.fixture(scope="session")
def go_verify(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """verify.go built from source with the local toolchain; never the network."""
    return build_go(SOURCE, tmp_path_factory.mktemp("goverify"))


def _b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(Encoding.DER)).decode()


def _request(case: Case) -> str:
    return json.dumps({
        "roots": [_b64(c) for c in case.roots],
        "intermediates": [_b64(c) for c in case.intermediates],
        "leaf": _b64(case.leaf), "name": case.server_name, "time": case.at.isoformat(),
    })


def go_judge(go_verify: Path, cases: tuple[Case, ...]) -> list[str | None]:
    """Go's verdict on each case in one run: None when it accepts, else its error text.
    GODEBUG is cleared so no setting outside (x509sha1=1, ...) loosens Go's defaults."""
    run = subprocess.run([str(go_verify)], input="".join(_request(c) + "\n" for c in cases),
                         capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "GODEBUG": ""})
    assert run.returncode == 0, run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(answers) == len(cases), run.stderr
    return [None if a["ok"] else a["error"] for a in answers]


@pytest.fixture(scope="session")
def go_verdicts(go_verify: Path) -> Verdicts:
    cases = corpus()
    return tuple(zip(cases, map(ours, cases), go_judge(go_verify, cases), strict=True))


def test_go_gives_both_verdicts(go_verdicts: Verdicts) -> None:
    """The corpus reaches Go's checks: a good share of each verdict, and each of Go's
    rejection kinds in `GO_CHECKS` several times."""
    errors = [go for _, _, go in go_verdicts if go is not None]
    assert CORPUS_SIZE // 5 < len(errors) < CORPUS_SIZE * 4 // 5
    kinds = Counter(check for error in errors for check in GO_CHECKS if check in error)
    assert all(kinds[check] >= 5 for check in GO_CHECKS), kinds


def test_agrees_with_go_except_where_written_down(go_verdicts: Verdicts) -> None:
    """Every disagreement has a written reason; tlskit never accepts what Go rejects
    without one."""
    left = unexplained(go_verdicts, GO_DISAGREEMENTS, "go")
    assert not left, f"{len(left)} unexplained:\n" + "\n".join(left[:20])


def test_every_written_go_disagreement_happens(go_verdicts: Verdicts) -> None:
    seen = explained(go_verdicts, GO_DISAGREEMENTS, "go")
    assert set(GO_DISAGREEMENTS) <= set(seen), set(GO_DISAGREEMENTS) - set(seen)


def _legacy_hash_cases() -> dict[str, Case]:
    """Beyond the corpus (cryptography's builder cannot sign with SHA-1 or MD5): an
    intermediate signed with SHA-1, a leaf signed with MD5, and a root whose own
    self-signature uses SHA-1."""
    root = pki.root("Go Legacy Root", key_kind="rsa2048", slot="go-legacy")
    inter = pki.resign_rsa_legacy(pki.intermediate("Go SHA1 Inter", root), root, "sha1")
    md5_leaf = pki.resign_rsa_legacy(pki.leaf(HOST, root), root, "md5")
    old_root = pki.resign_rsa_legacy(root, root, "sha1")
    good = pki.intermediate("Go Under SHA1 Root", old_root)
    return {
        "sha1-intermediate": Case({}, pki.leaf(HOST, inter).cert, [inter.cert], [root.cert]),
        "md5-leaf": Case({}, md5_leaf.cert, [], [root.cert]),
        "sha1-anchor-self-signature": Case({}, pki.leaf(HOST, good).cert, [good.cert],
                                           [old_root.cert]),
    }


def test_legacy_signature_hashes_agree_with_go(go_verify: Path) -> None:
    """RFC 9155 / CA/B BR 7.1.3.2: SHA-1 and MD5 signatures are refused in the path by both
    (Go 1.19 calls them insecure algorithms); neither checks an anchor's self-signature."""
    cases = _legacy_hash_cases()
    ours_then_go = dict(zip(cases, zip(map(ours, cases.values()),
                                       go_judge(go_verify, tuple(cases.values())))))
    assert ours_then_go["sha1-anchor-self-signature"] == (None, None)
    for name in ("sha1-intermediate", "md5-leaf"):
        our, go = ours_then_go[name]
        assert our == "weak_signature" and go is not None and "insecure algorithm" in go, name
