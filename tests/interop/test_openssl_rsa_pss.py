"""rsa_pss_pss_* (an RSASSA-PSS certificate key, RFC 8446 4.2.3) against OpenSSL, both
ways. cryptography cannot make such keys; openssl does, in a fixture."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tlskit import CertifiedKey, ClientConfig, ServerConfig, SignatureScheme, load_pem_chain

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


def s_client_to_tlskit(peers: Peers, key: CertifiedKey, version: str,
                       cafile: Path) -> tuple[Any, str]:
    """openssl s_client (``version``: -tls1_3 or -tls1_2), verifying against ``cafile``,
    to a tlskit server with ``key``: the server's HandshakeComplete and s_client's output."""
    server = peers.thread(tlskit_server(ServerConfig(certificates=[key]), Pump.handshake_and_close))
    client = peers.start(["openssl", "s_client", version, "-connect",
                          f"127.0.0.1:{server.port}", "-CAfile", str(cafile),
                          "-servername", "localhost", "-verify_return_error"])
    [hc] = server.join()
    client.wait()
    return hc, client.stdout


def test_s_client_verifies_rsa_pss_pss_from_tlskit(peers: Peers, pss: Path) -> None:
    key = CertifiedKey.from_files(pss / "leaf.pem", pss / "leaf.key")
    assert key.schemes[0].name == "rsa_pss_pss_sha256"
    hc, out = s_client_to_tlskit(peers, key, "-tls1_3", pss / "ca.pem")
    assert hc.signature_scheme.name == "rsa_pss_pss_sha256"
    assert "Verify return code: 0 (ok)" in out


# RSASSA-PSS keys whose SPKI carries RFC 4055 parameters: restricted to SHA-384 (its
# MGF1 hash and a 48-byte salt), and to SHA-256 with a salt of at least 40 bytes (longer
# than rsa_pss_pss_sha256's 32: no TLS scheme fits).
RESTRICTED = {
    "sha384": ["-pkeyopt", "rsa_pss_keygen_md:sha384", "-pkeyopt",
               "rsa_pss_keygen_mgf1_md:sha384", "-pkeyopt", "rsa_pss_keygen_saltlen:48"],
    "salt40": ["-pkeyopt", "rsa_pss_keygen_md:sha256", "-pkeyopt",
               "rsa_pss_keygen_mgf1_md:sha256", "-pkeyopt", "rsa_pss_keygen_saltlen:40"],
}


@pytest.fixture(scope="module")
def restricted(pss: Path) -> Path:
    """Leaves for `RESTRICTED`'s keys under the `pss` fixture's root."""
    for name, options in RESTRICTED.items():
        _openssl("genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048",
                 *options, "-out", f"{name}.key", cwd=pss)
        _openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN=localhost {name}",
                 "-out", f"{name}.csr", cwd=pss)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "5", "-sha256", "-extfile", "ext.cnf",
                 "-out", f"{name}.pem", cwd=pss)
    return pss


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_a_sha384_restricted_certificate_key_signs_with_sha384(peers: Peers, restricted: Path,
                                                              version: str) -> None:
    """RFC 8446 4.2.3 with RFC 4055: a certificate key restricted to SHA-384 signs with
    rsa_pss_pss_sha384 though s_client lists rsa_pss_pss_sha256 first (before: sha256,
    which OpenSSL's client then refused)."""
    key = CertifiedKey.from_files(restricted / "sha384.pem", restricted / "sha384.key")
    assert [s.name for s in key.schemes] == ["rsa_pss_pss_sha384"]
    hc, out = s_client_to_tlskit(peers, key, version, restricted / "ca.pem")
    assert hc.signature_scheme.name == "rsa_pss_pss_sha384"
    assert "Verify return code: 0 (ok)" in out
    assert "Peer signing digest: SHA384" in out


def test_tlskit_client_takes_s_servers_sha384_restricted_key(peers: Peers,
                                                             restricted: Path) -> None:
    proc = peers.start(["openssl", "s_server", "-tls1_3", "-accept", "127.0.0.1:0",
                        "-cert", str(restricted / "sha384.pem"),
                        "-key", str(restricted / "sha384.key"), "-www"])
    port = int(proc.wait_for(r"ACCEPT 127\.0\.0\.1:(\d+)").group(1))
    pump = Pump.connect(ClientConfig(trust_anchors=load_pem_chain(restricted / "ca.pem")),
                        port)
    try:
        hc = pump.handshake()
    finally:
        pump.dispose()
    assert hc.signature_scheme.name == "rsa_pss_pss_sha384"


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_a_certificate_signing_against_its_keys_parameters_is_refused(restricted: Path,
                                                                      version: str) -> None:
    """A server whose SHA-384-restricted certificate key signs with rsa_pss_pss_sha256
    (a stack ignoring the parameters: its scheme list widened by hand here): the tlskit
    client ends with illegal_parameter naming the certificate (before: accepted)."""
    from tlskit import AlertDescription, ClientConnection, ServerConnection, TLSError

    key = CertifiedKey.from_files(restricted / "sha384.pem", restricted / "sha384.key")
    key.schemes = key.schemes12 = [SignatureScheme.rsa_pss_pss_sha256,
                                   SignatureScheme.rsa_pss_pss_sha384]
    client = ClientConnection(ClientConfig(trust_anchors=load_pem_chain(restricted / "ca.pem"),
                                           versions=[version]), "localhost")
    server = ServerConnection(ServerConfig(certificates=[key], versions=[version]))
    with pytest.raises(TLSError) as err:
        for _ in range(4):
            server.receive_data(client.data_to_send())
            client.receive_data(server.data_to_send())
    assert err.value.alert == AlertDescription.illegal_parameter
    assert "the server signed with rsa_pss_pss_sha256" in str(err.value)
    assert "certificate 'CN=localhost sha384'" in str(err.value)
    assert "restricted to sha384" in str(err.value)


def test_a_key_whose_salt_fits_no_scheme(restricted: Path) -> None:
    """Restricted to SHA-256 with salts of 40 bytes or more, the key fits no TLS scheme
    (rsa_pss_pss_sha256's salt is 32): refused as a server's certificate (ValueError),
    and its signature as a peer's is illegal_parameter (the salt rule, on the one
    reading `check_pss_key` shares with raw keys)."""
    from tlskit.errors import IllegalParameter
    from tlskit.handshake.common import check_pss_key

    with pytest.raises(ValueError, match="salt of at least 40 bytes"):
        CertifiedKey.from_files(restricted / "salt40.pem", restricted / "salt40.key")
    [leaf] = load_pem_chain(restricted / "salt40.pem")
    with pytest.raises(IllegalParameter, match="requires a salt of at least 40 bytes, "
                                               "rsa_pss_pss_sha256 uses 32"):
        check_pss_key(leaf, SignatureScheme.rsa_pss_pss_sha256, "server")


def test_openssls_md_only_key_is_refused_saying_what_to_run(peers: Peers, pss: Path) -> None:
    """``-pkeyopt rsa_pss_keygen_md:sha256`` alone: OpenSSL 3.0 writes the hash and
    leaves MGF1 at its SHA-1 default (RFC 4055), a key no rsa_pss_pss_* scheme fits
    (OpenSSL serves it anyway, signing with MGF1-SHA-1, which only OpenSSL takes). As
    our certificate: a ValueError, once (not per scheme), naming the parameters and the
    options that make a usable key (before: three repeated reasons, no remedy). From
    s_server: illegal_parameter naming MGF1-sha1 (before the parameters were read:
    decrypt_error, "does not verify")."""
    from tlskit import AlertDescription, TLSError

    _openssl("genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048",
             "-pkeyopt", "rsa_pss_keygen_md:sha256", "-out", "mdonly.key", cwd=pss)
    _openssl("req", "-new", "-key", "mdonly.key", "-subj", "/CN=localhost", "-out",
             "mdonly.csr", cwd=pss)
    _openssl("x509", "-req", "-in", "mdonly.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "5", "-sha256", "-extfile", "ext.cnf",
             "-out", "mdonly.pem", cwd=pss)
    with pytest.raises(ValueError) as err:
        CertifiedKey.from_files(pss / "mdonly.pem", pss / "mdonly.key")
    message = str(err.value)
    assert "allow no TLS signature scheme" in message
    assert message.count("restricted to sha256 with MGF1-sha1") == 1
    assert "rsa_pss_keygen_mgf1_md:sha256" in message
    proc = peers.start(["openssl", "s_server", "-tls1_3", "-accept", "127.0.0.1:0",
                        "-cert", str(pss / "mdonly.pem"), "-key", str(pss / "mdonly.key"),
                        "-www"])
    port = int(proc.wait_for(r"ACCEPT 127\.0\.0\.1:(\d+)").group(1))
    pump = Pump.connect(ClientConfig(trust_anchors=load_pem_chain(pss / "ca.pem")), port)
    try:
        with pytest.raises(TLSError) as failed:
            pump.handshake()
    finally:
        pump.dispose()
    assert failed.value.alert == AlertDescription.illegal_parameter
    assert "restricted to sha256 with MGF1-sha1" in str(failed.value)
