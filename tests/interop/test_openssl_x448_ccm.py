"""X448 and TLS_AES_128_CCM_SHA256 (both optional, off by default) against OpenSSL."""

from __future__ import annotations

import pytest

from ..support.pump import Pump, tlskit_server
from .conftest import PKI, Peers

pytestmark = pytest.mark.interop


def test_x448_and_ccm_tlskit_client_s_server(peers: Peers, pki: PKI) -> None:
    _proc, port = peers.openssl_server(pki, "ec256", "-groups", "X448",
                                       "-ciphersuites", "TLS_AES_128_CCM_SHA256")
    config = pki.client_config(groups=["x448"], cipher_suites=["TLS_AES_128_CCM_SHA256"])
    hc = Pump.handshake_once(config, port)
    assert (hc.group.name, hc.cipher_suite.name) == ("x448", "TLS_AES_128_CCM_SHA256")


def test_x448_and_ccm_s_client_tlskit_server(peers: Peers, pki: PKI) -> None:
    config = pki.server_config("ec256", groups=["x448"],
                               cipher_suites=["TLS_AES_128_CCM_SHA256"])
    server = peers.thread(tlskit_server(config, Pump.handshake_and_close))
    client = peers.openssl_client(pki, server.port, "-groups", "X448",
                                  "-ciphersuites", "TLS_AES_128_CCM_SHA256")
    [hc] = server.join()
    client.wait()
    assert (hc.group.name, hc.cipher_suite.name) == ("x448", "TLS_AES_128_CCM_SHA256")
    assert "TLS_AES_128_CCM_SHA256" in client.stdout


def test_x448_in_tls12_tlskit_client_s_server(peers: Peers, pki: PKI) -> None:
    """RFC 8422 5.1.1: x448 is a TLS 1.2 ECDHE group too, as OpenSSL agrees."""
    files = pki.files["rsa2048"]
    _proc, port = peers.openssl_s_server("-tls1_2", "-groups", "X448", "-cert", files.leaf,
                                         "-cert_chain", files.chain, "-key", files.key)
    config = pki.client_config(groups=["x448"], versions=["TLSv1.2"])
    hc = Pump.handshake_once(config, port)
    assert (hc.group.name, hc.cipher_suite.name) == (
        "x448", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")


def test_x448_in_tls12_s_client_tlskit_server(peers: Peers, pki: PKI) -> None:
    """A TLS 1.2 client offering only x448 is served by a default tlskit server."""
    server = peers.thread(tlskit_server(pki.server_config("rsa2048"), Pump.handshake_and_close))
    client = peers.start(["openssl", "s_client", "-tls1_2", "-groups", "X448", "-connect",
                          f"127.0.0.1:{server.port}", "-servername", "localhost",
                          "-verify_hostname", "localhost", "-CAfile", pki.root_pem,
                          "-verify_return_error"])
    [hc] = server.join()
    client.wait()
    assert hc.version == "TLSv1.2" and hc.group.name == "x448"
    assert "X448" in client.stdout
