"""``tlskit verify --lint``: the CA/B issuance-profile findings of `tlskit.x509.lint` (the
rules themselves are tested in test_profile.py and test_real_world.py) printed as
warnings on real certificates from trustme, `openssl req -x509` and `tlskit ca`, without
changing the verdict."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import trustme
from cryptography import x509

from tlskit.ca import LocalCA
from tlskit.x509 import Finding, TrustStore, Verifier

assert shutil.which("openssl"), "the openssl binary is required (bash .ci/install-test-deps.sh)"


def rules(findings: list[Finding]) -> list[str]:
    return sorted(f.rule for f in findings)


def openssl_cert(tmp_path: Path, *args: str) -> x509.Certificate:
    out = tmp_path / f"cert{len(list(tmp_path.iterdir()))}.pem"
    done = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(out) + ".key", "-out", str(out), *args],
        capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return x509.load_pem_x509_certificate(out.read_bytes())


def test_pinned_openssl_req_x509_findings(tmp_path: Path) -> None:
    """`openssl req -x509` makes a CA:TRUE certificate without EKU: fine to pin, flagged by
    the lint; without a SAN it cannot be used for a host name at all."""
    fine = openssl_cert(tmp_path, "-subj", "/CN=myhost", "-days", "90",
                        "-addext", "subjectAltName=DNS:myhost")
    report = Verifier(TrustStore([fine])).explain(fine, [], server_name="myhost")
    assert report.error is None
    assert rules(report.findings) == ["leaf-eku", "leaf-is-ca"]
    plain = openssl_cert(tmp_path, "-subj", "/CN=myhost", "-days", "800")
    report = Verifier(TrustStore([plain])).explain(plain, [], server_name="myhost")
    assert report.error is not None and report.error.reason == "hostname_mismatch"
    assert rules(report.findings) == ["leaf-eku", "leaf-is-ca", "leaf-san"]


def test_trustme_leaf_is_flagged() -> None:
    ca = trustme.CA()
    leaf = x509.load_pem_x509_certificate(ca.issue_cert("example.test").cert_chain_pems[0]
                                          .bytes())
    root = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    report = Verifier(TrustStore([root])).explain(leaf, [], server_name="example.test")
    assert report.error is None
    assert rules(report.findings) == ["leaf-eku", "leaf-eku", "leaf-san"]
    assert all(f.certificate == leaf for f in report.findings)


def test_tlskit_ca_chain_is_clean() -> None:
    ca = LocalCA.create(url="http://127.0.0.1:8888")
    long_name = "x" * 40 + "." + "y" * 30 + ".example.test"  # longer than a CN may be
    for issued in (ca.issue_server(["www.example.test", "127.0.0.1"]),
                   ca.issue_server([long_name])):  # (so the subject is empty)
        verifier = Verifier(TrustStore([ca.root]))
        report = verifier.explain(issued.chain[0], issued.chain[1:])
        assert report.error is None and report.findings == []


# --------------------------------------------------------------------------- the CLI


def verify(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlskit", "verify", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_verify_lint_warns_without_changing_the_verdict(tmp_path: Path) -> None:
    ca = trustme.CA()
    issued = ca.issue_cert("example.test")
    (tmp_path / "leaf.pem").write_bytes(issued.cert_chain_pems[0].bytes())
    (tmp_path / "root.pem").write_bytes(ca.cert_pem.bytes())
    base = ["leaf.pem", "--cafile", "root.pem", "--host", "example.test"]
    plain = verify(*base, cwd=tmp_path)
    linted = verify(*base, "--lint", cwd=tmp_path)
    assert linted.returncode == plain.returncode, linted.stdout + linted.stderr
    assert linted.stdout.startswith(plain.stdout)  # the same report, then the warnings
    assert "⚠ lint: 3 departure(s) from the CA/B Forum issuance profile" in linted.stdout
    assert "leaf-san: certificate for example.test has a critical subjectAltName although " \
        "its subject is not empty" in " ".join(linted.stdout.split())
    assert "also allows codeSigning" in linted.stdout

    doc = json.loads(verify(*base, "--lint", "--json", cwd=tmp_path).stdout)
    assert sorted(f["rule"] for f in doc["lint"]) == ["leaf-eku", "leaf-eku", "leaf-san"]
    assert doc["lint"][0]["certificate"].startswith("OU=Testing cert")
    assert doc["lint"][0]["role"] == "leaf"
    assert "lint" not in json.loads(verify(*base, "--json", cwd=tmp_path).stdout)


def test_verify_lint_on_a_clean_tlskit_chain(tmp_path: Path) -> None:
    ca = LocalCA.create(tmp_path / "ca", url="http://127.0.0.1:8888")
    ca.issue_server(["www.example.test"]).write(cert_path=tmp_path / "leaf.pem",
                                               key_path=tmp_path / "leaf-key.pem")
    proc = verify("leaf.pem", "--cafile", "ca/root.pem", "--host", "www.example.test",
                  "--lint", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == \
        "✔ lint: no departure from the CA/B Forum profile"
