"""Chains made by the openssl binary (an independent encoder) validate, and fail for the
right reasons."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from tlskit.x509 import CertificateVerificationError, Reason, TrustStore, Verifier

assert shutil.which("openssl"), "the openssl binary is required (bash .ci/install-test-deps.sh)"

HOST = "interop.example.net"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def openssl_chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, x509.Certificate]:
    d = tmp_path_factory.mktemp("openssl")
    (d / "ca.ext").write_text(
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    (d / "leaf.ext").write_text(
        f"basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        f"extendedKeyUsage=serverAuth\nsubjectAltName=DNS:{HOST},IP:192.0.2.7\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    for name in ("root", "inter", "leaf"):
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key",
                 cwd=d)
    _openssl("req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=OpenSSL Root",
             "-days", "30", "-sha256", "-out", "root.pem",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    for name, issuer, ext in (("inter", "root", "ca.ext"), ("leaf", "inter", "leaf.ext")):
        cn = "OpenSSL Intermediate" if name == "inter" else HOST
        _openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={cn}",
                 "-out", f"{name}.csr", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem",
                 "-CAkey", f"{issuer}.key", "-CAcreateserial", "-days", "20", "-sha256",
                 "-extfile", ext, "-out", f"{name}.pem", cwd=d)
    return {n: x509.load_pem_x509_certificate((d / f"{n}.pem").read_bytes())
            for n in ("root", "inter", "leaf")}


def test_openssl_chain_validates(openssl_chain: dict[str, x509.Certificate]) -> None:
    c = openssl_chain
    v = Verifier(TrustStore([c["root"]]))
    assert v.verify(c["leaf"], [c["inter"]], server_name=HOST) == [c["leaf"], c["inter"],
                                                                  c["root"]]
    assert v.verify(c["leaf"], [c["inter"]], server_name="192.0.2.7")
    with pytest.raises(CertificateVerificationError) as err:
        v.verify(c["leaf"], [c["inter"]], server_name="other.example.net")
    assert err.value.reason is Reason.hostname_mismatch
    later = datetime.now(UTC) + timedelta(days=400)
    with pytest.raises(CertificateVerificationError) as err:
        v.verify(c["leaf"], [c["inter"]], server_name=HOST, at=later)
    assert err.value.reason is Reason.expired


@pytest.mark.interop
def test_crl_without_next_update_gets_openssls_verdicts(tmp_path: Path) -> None:
    """A CRL with no nextUpdate (RFC 5280 5.1.2.5 asks issuers for one), its thisUpdate
    400 days old: the real ``openssl verify -crl_check`` uses it (the unlisted leaf is OK,
    the listed one revoked, neither "CRL has expired"), and so does tlskit by default, in
    the library and in ``tlskit verify --crl``; profile "cabf" refuses it."""
    from cryptography.hazmat.primitives import hashes, serialization

    from tlskit.cli import main as cli_main

    from . import pki
    from .revocation_pki import without_next_update

    chain = pki.simple_chain("crl.example.org")
    bad = pki.leaf("crl.example.org", chain.inter)
    crl = without_next_update(
        x509.CertificateRevocationListBuilder().issuer_name(chain.inter.subject)
        .last_update(pki.NOW - 400 * pki.DAY).next_update(pki.NOW - 300 * pki.DAY)
        .add_revoked_certificate(x509.RevokedCertificateBuilder()
                                 .serial_number(bad.cert.serial_number)
                                 .revocation_date(pki.NOW - 2 * pki.DAY).build())
        .add_extension(x509.CRLNumber(1), critical=False)
        .sign(chain.inter.key, hashes.SHA256()),
        chain.inter.key)
    files = {"root": chain.root.pem, "inter": chain.inter.pem, "good": chain.leaf.pem,
             "bad": bad.pem, "crl": crl.public_bytes(serialization.Encoding.PEM)}
    for name, data in files.items():
        (tmp_path / f"{name}.pem").write_bytes(data)

    def openssl_verify(leaf: str) -> str:
        done = subprocess.run(
            ["openssl", "verify", "-attime", str(int(pki.NOW.timestamp())), "-crl_check",
             "-CRLfile", "crl.pem", "-CAfile", "root.pem", "-untrusted", "inter.pem",
             f"{leaf}.pem"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        return done.stdout + done.stderr

    assert openssl_verify("good").strip() == "good.pem: OK"
    revoked = openssl_verify("bad")
    assert "certificate revoked" in revoked and "CRL has expired" not in revoked

    def tlskit_verify(leaf: pki.Issued, **profile: str) -> None:
        Verifier(TrustStore([chain.root.cert]), revocation="soft-fail", crls=[crl],
                 fetch_crls=False, ocsp=False, **profile).verify(  # type: ignore[arg-type]
            leaf.cert, [chain.inter.cert], server_name="crl.example.org", at=pki.NOW)

    tlskit_verify(chain.leaf)
    with pytest.raises(CertificateVerificationError) as err:
        tlskit_verify(bad)
    assert err.value.reason is Reason.revoked

    base = ["verify", "--cafile", str(tmp_path / "root.pem"), "--chain",
            str(tmp_path / "inter.pem"), "--crl", str(tmp_path / "crl.pem"),
            "--host", "crl.example.org", "--at", pki.NOW.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert cli_main.main([*base, str(tmp_path / "good.pem")]) == 0
    assert cli_main.main([*base, str(tmp_path / "bad.pem")]) == 1

    # The strict profile: the leaf's revocation cannot be determined from this CRL.
    report = Verifier(TrustStore([chain.root.cert]), revocation="hard-fail", crls=[crl],
                      fetch_crls=False, ocsp=False, profile="cabf").explain(
        chain.leaf.cert, [chain.inter.cert], server_name="crl.example.org", at=pki.NOW)
    assert report.error is not None
    assert report.error.reason is Reason.revocation_unknown
    assert "has no nextUpdate, which profile \"cabf\" requires" in str(report.error)
