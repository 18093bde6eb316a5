"""rsa_pss_pss_* (an RSASSA-PSS certificate key, RFC 8446 4.2.3) against OpenSSL, both
ways. cryptography cannot make such keys; openssl does, in a fixture."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tlskit import CertifiedKey, ClientConfig, ServerConfig, load_pem_chain

from ..support.pump import Pump, tlskit_server
from .conftest import Peers

pytestmark = pytest.mark.interop


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pss(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rsa-pss")
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", "ca.key", cwd=d)
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=PSS test root",
             "-days", "10", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _openssl("genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", "leaf.key", cwd=d)
    _openssl("req", "-new", "-key", "leaf.key", "-subj", "/CN=localhost", "-out", "leaf.csr",
             cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost\n"
                               "basicConstraints=critical,CA:FALSE\n"
                               "keyUsage=critical,digitalSignature\n"
                               "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "5", "-sha256", "-extfile", "ext.cnf",
             "-out", "leaf.pem", cwd=d)
    return d


def test_tlskit_client_verifies_rsa_pss_pss_from_s_server(peers: Peers, pss: Path) -> None:
    proc = peers.start(["openssl", "s_server", "-tls1_3", "-accept", "127.0.0.1:0",
                        "-cert", str(pss / "leaf.pem"), "-key", str(pss / "leaf.key"),
                        "-www"])
    port = int(proc.wait_for(r"ACCEPT 127\.0\.0\.1:(\d+)").group(1))
    pump = Pump.connect(ClientConfig(trust_anchors=load_pem_chain(pss / "ca.pem")), port)
    try:
        hc = pump.handshake()
    finally:
        pump.dispose()
    assert hc.signature_scheme.name == "rsa_pss_pss_sha256"


def test_s_client_verifies_rsa_pss_pss_from_tlskit(peers: Peers, pss: Path) -> None:
    key = CertifiedKey.from_files(pss / "leaf.pem", pss / "leaf.key")
    assert key.schemes[0].name == "rsa_pss_pss_sha256"
    server = peers.thread(tlskit_server(ServerConfig(certificates=[key]), Pump.handshake_and_close))
    client = peers.start(["openssl", "s_client", "-tls1_3", "-connect",
                          f"127.0.0.1:{server.port}", "-CAfile", str(pss / "ca.pem"),
                          "-servername", "localhost", "-verify_return_error"])
    [hc] = server.join()
    client.wait()
    assert hc.signature_scheme.name == "rsa_pss_pss_sha256"
    assert "Verify return code: 0 (ok)" in client.stdout
