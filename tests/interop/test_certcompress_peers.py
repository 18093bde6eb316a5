"""A tlskit client offering every RFC 8879 algorithm to servers without certificate
compression (OpenSSL 3.0's s_server, GnuTLS 3.7's gnutls-serv as built by Debian): they
pass over compress_certificate and send a plain Certificate, which the client takes."""

from __future__ import annotations

from typing import Any

import pytest

from ..support.pump import Pump
from .conftest import PKI, Peers

pytestmark = pytest.mark.interop

ALL = ("brotli", "zstd", "zlib")


@pytest.mark.parametrize("peer", ["openssl", "gnutls"])
def test_client_offering_every_algorithm_to_a_server_without_compression(
        peers: Peers, pki: PKI, peer: str) -> None:
    if peer == "openssl":
        _, port = peers.openssl_server(pki, "rsa2048", "-quiet")
    else:
        _, port = peers.gnutls_server(pki, "rsa2048", "--echo")
    steps: list[dict[str, Any]] = []
    config = pki.client_config(certificate_compression=ALL,
                               tracer=lambda step, f: steps.append({"step": step, **f}))
    pump = Pump.connect(config, port)
    try:
        hc = pump.handshake()
    finally:
        pump.dispose()
    assert hc.version == "TLSv1.3"
    assert hc.peer_certificates[0] == pki.issued["rsa2048"].certificate
    [hello] = [s for s in steps if s["step"] == "client_hello"]
    assert 27 in hello["message"].extensions  # compress_certificate was offered
    names = [s["step"] for s in steps]
    assert "certificate" in names and "compressed_certificate" not in names
