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
