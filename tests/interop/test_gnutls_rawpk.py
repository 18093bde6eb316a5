"""RFC 7250 raw public keys against GnuTLS (`gnutls-serv` / `gnutls-cli` with
``--rawpkkeyfile``/``--rawpkfile``), TLS 1.3 and TLS 1.2, both directions, the client's
key too.

GnuTLS negotiates raw keys only when its priority string enables them: CTYPE-SRV-RAWPK
for the server's certificate, CTYPE-CLI-RAWPK for the client's. Its one-line session
description names the types ("(TLS1.3-Raw Public Key-Raw Public Key)" reads: client's
type, then server's), and it prints "Certificate type: Raw Public Key" for a peer key.
gnutls-cli has no pinning of a server's raw key: it runs with --no-ca-verification, and
what is checked here is tlskit's side. Ports come from the OS (see `Peers.gnutls_serv`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tlskit import ClientConfig, ConnectionClosed, RawPublicKey, ServerConfig, TLSError

from ..support.pump import Pump, echo_until_close, tlskit_server
from .conftest import PKI, Peers

pytestmark = pytest.mark.interop

VERSIONS = {"tls13": "+VERS-TLS1.3", "tls12": "+VERS-TLS1.2"}
TLS = {"tls13": "TLSv1.3", "tls12": "TLSv1.2"}
BOTH_RAW = "+CTYPE-SRV-RAWPK:+CTYPE-CLI-RAWPK"


def priority(version: str, types: str) -> str:
    return f"NORMAL:-VERS-ALL:{VERSIONS[version]}:{types}"


def key_files(directory: Path, name: str, key: RawPublicKey) -> tuple[Path, Path]:
    """The private key (PKCS #8 PEM) and the public key (SPKI PEM) GnuTLS reads."""
    private, public = directory / f"{name}.key", directory / f"{name}.pub"
    private.write_bytes(key.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                      NoEncryption()))
    public.write_bytes(key.public_pem())
    return private, public


@pytest.fixture(scope="module")
def keys() -> dict[str, RawPublicKey]:
    return {"server": RawPublicKey(ec.generate_private_key(ec.SECP256R1())),
            "client": RawPublicKey(ed25519.Ed25519PrivateKey.generate()),
            "stranger": RawPublicKey(ec.generate_private_key(ec.SECP256R1()))}


def gnutls_rawpk_server(peers: Peers, tmp_path: Path, key: RawPublicKey, *args: str):
    private, public = key_files(tmp_path, "server", key)
    return peers.gnutls_serv("--echo", "--rawpkkeyfile", private, "--rawpkfile", public,
                             *args)


def pin_gnutls_serv(peers: Peers, version: str, private: Path, public: Path,
                    der: bytes) -> Any:
    """A tlskit client pinning ``der`` against gnutls-serv serving the raw key in
    ``private``/``public``: its HandshakeComplete."""
    _proc, port = peers.gnutls_serv("--echo", "--rawpkkeyfile", private, "--rawpkfile",
                                    public, "--priority",
                                    priority(version, "+CTYPE-SRV-RAWPK"))
    return Pump.handshake_once(ClientConfig(pinned_server_keys=[der],
                                            versions=[TLS[version]]), port)


def gnutls_cli_to_tlskit(peers: Peers, server_config: ServerConfig, version: str,
                         private: Path, public: Path, line: bytes) -> tuple[Any, int, str]:
    """gnutls-cli with the raw key in ``private``/``public`` against a tlskit server echoing
    with ``server_config``: one ``line`` echoed back, then a clean close. The server's
    HandshakeComplete, the bytes it echoed, and gnutls-cli's output."""
    def body(pump: Pump) -> tuple[object, int]:
        echoed = echo_until_close(pump)
        return pump.conn.handshake_complete, echoed

    server = peers.thread(tlskit_server(server_config, body))
    client = peers.start(["gnutls-cli", "-p", str(server.port), "--no-ca-verification",
                          "--rawpkkeyfile", private, "--rawpkfile", public,
                          "--priority", priority(version, BOTH_RAW), "127.0.0.1"])
    client.wait_for("Handshake was completed")
    client.write(line)
    client.wait_for(line.decode())
    client.close_stdin()
    [(hc, echoed)] = server.join()
    assert client.wait() == 0, client.describe()
    return hc, echoed, client.stdout


@pytest.mark.parametrize("version", list(VERSIONS))
def test_tlskit_client_pins_gnutls_serv_raw_key(peers: Peers, tmp_path: Path,
                                                keys: dict[str, RawPublicKey],
                                                version: str) -> None:
    _proc, port = gnutls_rawpk_server(peers, tmp_path, keys["server"], "--priority",
                                     priority(version, "+CTYPE-SRV-RAWPK"))
    config = ClientConfig(pinned_server_keys=[keys["server"].spki], versions=[TLS[version]])
    pump = Pump.connect(config, port)
    try:
        hc = pump.handshake()
        assert pump.echo_roundtrip(b"pinned gnutls\n") == b"pinned gnutls\n"
        pump.close()
        assert pump.wait_closed() == ConnectionClosed(None)
    finally:
        pump.dispose()
    assert hc.version == TLS[version]
    assert hc.peer_raw_public_key == keys["server"].spki and hc.peer_certificates == []


@pytest.mark.parametrize("version", list(VERSIONS))
def test_tlskit_client_refuses_an_unpinned_gnutls_key(peers: Peers, tmp_path: Path,
                                                      keys: dict[str, RawPublicKey],
                                                      version: str) -> None:
    _, port = gnutls_rawpk_server(peers, tmp_path, keys["server"], "--priority",
                                  priority(version, "+CTYPE-SRV-RAWPK"))
    config = ClientConfig(pinned_server_keys=[keys["stranger"].spki], versions=[TLS[version]])
    pump = Pump.connect(config, port)
    try:
        exc = pump.handshake_error()
    finally:
        pump.dispose()
    assert isinstance(exc, TLSError) and exc.alert.name == "bad_certificate"
    assert keys["server"].fingerprint in str(exc)


@pytest.mark.parametrize("version", list(VERSIONS))
def test_tlskit_client_raw_key_to_gnutls_serv(peers: Peers, tmp_path: Path,
                                              keys: dict[str, RawPublicKey],
                                              version: str) -> None:
    """Client authentication with our raw key: gnutls-serv requires a certificate and
    reports the raw key it got."""
    proc, port = gnutls_rawpk_server(peers, tmp_path, keys["server"], "--require-client-cert",
                                     "--priority",
                                     priority(version, BOTH_RAW))
    config = ClientConfig(pinned_server_keys=[keys["server"].spki],
                          raw_public_key=keys["client"], versions=[TLS[version]])
    pump = Pump.connect(config, port)
    try:
        pump.handshake()
        assert pump.echo_roundtrip(b"my key\n") == b"my key\n"
        pump.close()
        pump.wait_closed()
    finally:
        pump.dispose()
    proc.wait_for(r"Description: \(TLS1\.[23]-Raw Public Key\)-")
    proc.wait_for("Certificate type: Raw Public Key")
    proc.wait_for("Got 1 Raw public-key")
    proc.wait_for("PK algo: EdDSA")  # our Ed25519 key


@pytest.mark.parametrize("version", list(VERSIONS))
def test_gnutls_cli_raw_keys_to_tlskit_server(peers: Peers, tmp_path: Path,
                                              keys: dict[str, RawPublicKey],
                                              version: str) -> None:
    """gnutls-cli takes our raw key and presents its own, which we pin."""
    private, public = key_files(tmp_path, "client", keys["client"])
    hc, echoed, out = gnutls_cli_to_tlskit(peers, ServerConfig(
        raw_public_key=keys["server"], client_auth="required",
        pinned_client_keys=[keys["client"].spki], versions=[TLS[version]]), version,
        private, public, b"hello raw tlskit\n")
    assert hc.version == TLS[version] and echoed == len(b"hello raw tlskit\n")
    assert hc.peer_raw_public_key == keys["client"].spki
    assert "Certificate type: Raw Public Key" in out
    # (one type named: both certificates were raw keys)
    assert re.search(r"Description: \(TLS1\.[23]-Raw Public Key\)-", out)


@pytest.mark.parametrize("version", list(VERSIONS))
def test_gnutls_cli_raw_only_gets_unsupported_certificate(peers: Peers, pki: PKI,
                                                         version: str) -> None:
    """A GnuTLS client that takes raw keys only (CTYPE-SRV-RAWPK alone) against a tlskit
    server with a certificate and no raw key: RFC 7250 4.2's unsupported_certificate."""
    def body(pump: Pump) -> TLSError:
        return pump.handshake_error()

    server = peers.thread(tlskit_server(pki.server_config(versions=[TLS[version]]), body))
    client = peers.start(["gnutls-cli", "-p", str(server.port), "--no-ca-verification",
                          "--priority", f"{priority(version, '')}-CTYPE-SRV-ALL:"
                          "+CTYPE-SRV-RAWPK", "127.0.0.1"])
    [exc] = server.join()
    client.wait()
    assert exc.alert.name == "unsupported_certificate"
    assert "Received alert [43]" in client.stdout


@pytest.mark.parametrize("version", list(VERSIONS))
def test_pinning_client_with_roots_takes_gnutls_certificate(peers: Peers, pki: PKI,
                                                            keys: dict[str, RawPublicKey],
                                                            version: str) -> None:
    """A client offering RawPublicKey then X.509 to a GnuTLS server with a certificate
    (raw keys not enabled: GnuTLS leaves server_certificate_type out): X.509, validated
    as ever."""
    _, port = peers.gnutls_server(pki, "ec256", "--echo", "--priority",
                                  priority(version, "+CTYPE-SRV-X509"))
    config = pki.client_config(pinned_server_keys=[keys["server"].spki],
                               versions=[TLS[version]])
    hc = Pump.handshake_once(config, port)
    assert hc.peer_raw_public_key is None
    assert hc.peer_certificates[0] == pki.issued["ec256"].chain[0]


# Each key type GnuTLS signs handshakes with, as its raw public key: the scheme its
# signature must use, per version. RSA-PSS is an id-RSASSA-PSS SPKI (what GnuTLS writes
# for such a key): rsa_pss_pss_* only (RFC 8446 4.2.3), pinned by its SPKI bytes.
KINDS = {
    "rsa-pss": (["-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"],
                {"tls13": "rsa_pss_pss_sha256", "tls12": "rsa_pss_pss_sha256"}),
    "ed25519": (["-algorithm", "ed25519"], {"tls13": "ed25519", "tls12": "ed25519"}),
    "p384": (["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
             {"tls13": "ecdsa_secp384r1_sha384", "tls12": "ecdsa_secp256r1_sha256"}),
}


def openssl_key(directory: Path, kind: str) -> tuple[Path, Path, bytes]:
    """A private key of `kind` made by openssl, its public PEM, and its SPKI DER."""
    import subprocess

    from ..support.peers import require_binary
    openssl = require_binary("openssl")
    private, public = directory / f"{kind}.key", directory / f"{kind}.pub"
    subprocess.run([openssl, "genpkey", *KINDS[kind][0], "-out", str(private)], check=True,
                   capture_output=True)
    subprocess.run([openssl, "pkey", "-in", str(private), "-pubout", "-out", str(public)],
                   check=True, capture_output=True)
    der = subprocess.run([openssl, "pkey", "-in", str(private), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return private, public, der


@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_gnutls_raw_key_types_both_ways(peers: Peers, tmp_path: Path,
                                        keys: dict[str, RawPublicKey], kind: str,
                                        version: str) -> None:
    """gnutls-serv's RSA-PSS, Ed25519 and P-384 raw keys, pinned by a tlskit client that
    checks the scheme each signs with; then gnutls-cli presents the same key as its own,
    pinned by a tlskit server (which reads its CertificateVerify)."""
    private, public, der = openssl_key(tmp_path, kind)
    hc = pin_gnutls_serv(peers, version, private, public, der)
    assert hc.peer_raw_public_key == der and hc.peer_certificates == []
    assert hc.signature_scheme is not None
    assert hc.signature_scheme.name == KINDS[kind][1][version]

    server_hc, _echoed, _out = gnutls_cli_to_tlskit(peers, ServerConfig(
        raw_public_key=keys["server"], client_auth="required", pinned_client_keys=[der],
        versions=[TLS[version]]), version, private, public, b"my own key\n")
    assert server_hc.peer_raw_public_key == der


def certtool_pss_key(directory: Path, hash_name: str) -> tuple[Path, Path, bytes]:
    """An RSASSA-PSS key restricted to ``hash_name`` (RFC 4055 parameters in its
    AlgorithmIdentifier), made by GnuTLS's certtool; its public PEM and SPKI DER as
    certtool writes them (hash AlgorithmIdentifiers without NULL: OpenSSL's ``pkey
    -pubout`` adds them, another SPKI byte for byte)."""
    import subprocess

    from ..support.peers import require_binary
    certtool = require_binary("certtool")
    private, public = directory / f"pss-{hash_name}.key", directory / f"pss-{hash_name}.pub"
    subprocess.run([certtool, "--generate-privkey", "--key-type", "rsa-pss", "--hash",
                    hash_name, "--bits", "2048", "--no-text", "--outfile", str(private)],
                   check=True, capture_output=True)
    subprocess.run([certtool, "--load-privkey", str(private), "--pubkey-info", "--no-text",
                    "--outfile", str(public)], check=True, capture_output=True)
    der = subprocess.run([certtool, "--load-privkey", str(private), "--pubkey-info",
                          "--outder"], check=True, capture_output=True).stdout
    return private, public, der


@pytest.mark.parametrize("version", list(VERSIONS))
def test_gnutls_rsa_pss_keys_restricted_to_sha384_both_ways(peers: Peers, tmp_path: Path,
                                                            version: str) -> None:
    """certtool's ``--key-type rsa-pss --hash sha384`` keys (RFC 4055 parameters: SHA-384,
    MGF1-SHA-384, salt 48): gnutls-serv signs with rsa_pss_pss_sha384, which a tlskit
    client pinning its SPKI takes; a tlskit server and client loading such keys with
    `RawPublicKey.from_file` sign with rsa_pss_pss_sha384 too (before: sha256, against
    the key's parameters), which gnutls-cli checks and reports."""
    private, public, der = certtool_pss_key(tmp_path, "sha384")
    hc = pin_gnutls_serv(peers, version, private, public, der)
    assert hc.peer_raw_public_key == der
    assert hc.signature_scheme is not None
    assert hc.signature_scheme.name == "rsa_pss_pss_sha384"

    mine = RawPublicKey.from_file(private)
    assert mine.spki == der  # (the file's AlgorithmIdentifier, as certtool writes it)
    client_private, client_public, client_der = certtool_pss_key(tmp_path, "sha512")

    server_hc, _echoed, out = gnutls_cli_to_tlskit(peers, ServerConfig(
        raw_public_key=mine, client_auth="required", pinned_client_keys=[client_der],
        versions=[TLS[version]]), version, client_private, client_public, b"pss keys\n")
    assert server_hc.peer_raw_public_key == client_der
    # (the session description names the server's signature: ours)
    assert "-(RSA-PSS-SHA384)-" in out, out


@pytest.mark.parametrize(("curves", "served"), [
    ("+GROUP-SECP256R1:+GROUP-X25519", "Raw Public Key"),
    ("+GROUP-SECP384R1:+GROUP-X25519", "X.509"),
], ids=["p384-left-out", "p256-left-out"])
def test_tls12_server_serves_the_kind_whose_curve_gnutls_lists(peers: Peers, pki: PKI,
                                                                curves: str,
                                                                served: str) -> None:
    """TLS 1.2 (RFC 8422 5.1): a tlskit server with a P-384 certificate and a P-256 raw
    key, gnutls-cli preferring X.509 then RawPublicKey: its supported_groups decide.
    Without P-384 the certificate cannot serve it and the raw key is served; without
    P-256 the certificate is, as the client prefers anyway."""
    p384 = pki.ca.issue_server(["localhost"], key_type="ec384")
    raw = RawPublicKey(ec.generate_private_key(ec.SECP256R1()))

    def body(pump: Pump) -> object:
        echo_until_close(pump)
        return pump.conn.handshake_complete

    server = peers.thread(tlskit_server(ServerConfig(
        certificate_chain=p384.chain, private_key=p384.private_key, raw_public_key=raw,
        versions=["TLSv1.2"]), body))
    client = peers.start(["gnutls-cli", "-p", str(server.port), "--no-ca-verification",
                          "--priority", f"{priority('tls12', '')}-CTYPE-SRV-ALL:"
                          f"+CTYPE-SRV-X509:+CTYPE-SRV-RAWPK:-GROUP-ALL:{curves}",
                          "127.0.0.1"])
    client.wait_for("Handshake was completed")
    client.close_stdin()
    [hc] = server.join()
    client.wait()
    assert hc.version == "TLSv1.2"
    assert f"- Certificate type: {served}\n" in client.stdout, client.stdout
