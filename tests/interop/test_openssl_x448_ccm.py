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
