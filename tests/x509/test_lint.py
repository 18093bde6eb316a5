"""The CA/B issuance-profile lint (`tlskit.x509.lint`) and ``tlskit verify --lint``: each
rule on a certificate built to break it and one built to keep it, on real certificates
from trustme, `openssl req -x509` and `tlskit ca`, and the CLI printing the findings as
warnings without changing the verdict."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tlskit.ca import LocalCA
from tlskit.x509.lint import LintFinding, lint_certificate, lint_chain

assert shutil.which("openssl"), "the openssl binary is required (bash .ci/install-test-deps.sh)"

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
KEY = ec.generate_private_key(ec.SECP256R1())
ISSUER_KEY = ec.generate_private_key(ec.SECP256R1())
ISSUER = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lint Issuer")])


def build(
    *,
    cn: str | None = "www.example.test",
    sans: list[x509.GeneralName] | None = None,
    san_critical: bool = False,
    aki: bool = True,
    serial: int = 0x0123456789ABCDEF0123,
    days: int = 90,
    issuer: x509.Name = ISSUER,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(KEY.public_key())
        .serial_number(serial)
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=days) - dt.timedelta(seconds=1))
    )
    if sans is None:
        sans = [x509.DNSName("www.example.test")]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), san_critical)
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ISSUER_KEY.public_key()), False)
    return builder.sign(ISSUER_KEY, hashes.SHA256())


def codes(findings: list[LintFinding]) -> list[str]:
    return [f.code for f in findings]


# --------------------------------------------------------------------------- each rule


def test_a_conforming_leaf_has_no_finding() -> None:
    assert lint_certificate(build()) == []


@pytest.mark.parametrize(("cn", "sans", "expected"), [
    ("www.example.test", [x509.DNSName("other.example.test")], ["cn_not_in_san"]),
    ("www.example.test", [], ["cn_not_in_san"]),
    ("WWW.Example.Test", [x509.DNSName("www.example.test")], []),
    ("127.0.0.1", [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], []),
    ("::1", [x509.IPAddress(ipaddress.ip_address("0:0::1"))], []),
    (None, [x509.DNSName("www.example.test")], []),
])
def test_cn_in_san(cn: str | None, sans: list[x509.GeneralName], expected: list[str]) -> None:
    cert = build(cn=cn, sans=sans, san_critical=cn is None)
    assert codes(lint_certificate(cert)) == expected
    # BR 7.1.4.3 is about subscriber certificates: a CA's CN is its own name.
    assert "cn_not_in_san" not in codes(lint_certificate(cert, "intermediate"))


def test_san_critical() -> None:
    finding = lint_certificate(build(san_critical=True))
    assert codes(finding) == ["san_critical"]
    assert finding[0].reference.startswith("RFC 5280 4.2.1.6")
    # An empty subject is exactly when it must be critical.
    assert lint_certificate(build(cn=None, san_critical=True)) == []


def test_aki() -> None:
    assert codes(lint_certificate(build(aki=False))) == ["missing_aki"]
    assert codes(lint_certificate(build(aki=False), "intermediate")) == ["missing_aki"]
    assert lint_certificate(build(aki=False), "root") == []
    self_issued = build(aki=False, issuer=x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "www.example.test")]))
    assert lint_certificate(self_issued) == []  # a self-signed (pinned) certificate


@pytest.mark.parametrize(("serial", "expected"), [
    (1, ["serial_low_entropy"]),
    (2**55 - 1, ["serial_low_entropy"]),  # 7 octets (2**56 - 1 needs 8: a sign octet)
    (2**56 - 1, []),                      # 8 octets
    (2**159 - 1, []),                     # 20 octets, the most RFC 5280 allows
])
def test_serial_rules(serial: int, expected: list[str]) -> None:
    assert codes(lint_certificate(build(serial=serial))) == expected


@pytest.mark.parametrize(("days", "expected"), [
    (398, []), (399, ["validity_too_long"]), (825, ["validity_too_long"])])
def test_leaf_validity(days: int, expected: list[str]) -> None:
    cert = build(days=days)
    assert codes(lint_certificate(cert)) == expected
    assert lint_certificate(cert, "intermediate") == []  # BR 6.3.2 limits subscribers


def test_lint_chain_roles() -> None:
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lint Root")])
    root = build(cn="Lint Root", sans=[], aki=False, days=3650, issuer=root_name)
    inter = build(cn="Lint Issuer", sans=[], aki=False, days=1825, issuer=root_name)
    leaf = build(days=500)
    found = lint_chain([leaf, inter, root])
    assert [(f.certificate, f.code) for f in found] == [
        (leaf, "validity_too_long"), (inter, "missing_aki")]
    assert str(found[0]) == "validity_too_long: is valid for 500 days, more than 398 " \
                            "(CA/B BR 6.3.2)"


# --------------------------------------------------------------------------- real certificates


def openssl_cert(tmp_path: Path, *args: str) -> x509.Certificate:
    out = tmp_path / f"cert{len(list(tmp_path.iterdir()))}.pem"
    done = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(out) + ".key", "-out", str(out), *args],
        capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return x509.load_pem_x509_certificate(out.read_bytes())


@pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive")
def test_openssl_req_x509(tmp_path: Path) -> None:
    plain = openssl_cert(tmp_path, "-subj", "/CN=myhost", "-days", "800")
    assert codes(lint_chain([plain])) == ["cn_not_in_san", "validity_too_long"]
    fine = openssl_cert(tmp_path, "-subj", "/CN=myhost", "-days", "90",
                        "-addext", "subjectAltName=DNS:myhost")
    assert lint_chain([fine]) == []
    zero = openssl_cert(tmp_path, "-subj", "/CN=myhost", "-days", "90", "-set_serial", "0",
                        "-addext", "subjectAltName=DNS:myhost")
    assert codes(lint_chain([zero])) == ["serial_not_positive"]
    long = openssl_cert(tmp_path, "-subj", "/CN=myhost", "-days", "90",
                        "-set_serial", "0x" + "7f" * 21, "-addext", "subjectAltName=DNS:myhost")
    assert codes(lint_chain([long])) == ["serial_too_long"]


def test_trustme_leaf_is_flagged() -> None:
    ca = trustme.CA()
    leaf = x509.load_pem_x509_certificate(ca.issue_cert("example.test").cert_chain_pems[0]
                                          .bytes())
    root = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    found = lint_chain([leaf, root])
    assert {f.code for f in found} == {"san_critical", "validity_too_long"}
    assert all(f.certificate == leaf for f in found)


def test_tlskit_ca_chain_is_clean() -> None:
    ca = LocalCA.create(url="http://127.0.0.1:8888")
    for issued in (ca.issue_server(["www.example.test", "127.0.0.1"]),
                   ca.issue_client("alice@example.test"),
                   ca.issue_server(["x" * 70 + ".example.test"])):  # CN too long: empty subject
        assert lint_chain([*issued.chain, ca.root]) == []
    assert codes(lint_chain([ca.issue_server(["a.test"], days=400).certificate])) == [
        "validity_too_long"]
    # A client-only leaf is outside the TLS BRs: its lifetime is not theirs to limit.
    assert lint_chain([ca.issue_client("bob", days=400).certificate]) == []


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
    assert "⚠ lint: 2 departure(s) from the CA/B Forum issuance profile" in linted.stdout
    assert "san_critical: subjectAltName is critical although the subject is not empty" \
        in linted.stdout
    assert "validity_too_long" in linted.stdout

    doc = json.loads(verify(*base, "--lint", "--json", cwd=tmp_path).stdout)
    assert sorted(f["code"] for f in doc["lint"]) == ["san_critical", "validity_too_long"]
    assert doc["lint"][0]["certificate"].startswith("OU=Testing cert")
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
