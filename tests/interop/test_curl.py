"""curl (libcurl on OpenSSL) fetching from a tlskit server that answers one HTTP/1.1
request; the tiny responder below runs on the socket pump.

curl is given the test root with --cacert and reaches "localhost" through --resolve (so
the name it verifies is localhost while the socket goes to 127.0.0.1). Each certificate
type runs once, with curl narrowed to one group (--curves) and one TLS 1.3 suite
(--tls13-ciphers), rotating so that all groups and suites appear.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import pytest

from tlskit import ConnectionClosed, HandshakeComplete

from ..support.peers import PeerProcess
from ..support.pump import Pump, tlskit_server
from .conftest import PKI, Peers
from .helpers import CERT_TYPES, GROUPS, OPENSSL_GROUP, SCHEME_FOR_CERT, SUITES

pytestmark = pytest.mark.interop

ROWS = [(kind, GROUPS[i % 3], SUITES[(i + 2) % 3]) for i, kind in enumerate(CERT_TYPES)]


Served = tuple[HandshakeComplete, bytes, ConnectionClosed]


def http_responder(body: bytes) -> Callable[[Pump], Served]:
    """A server body answering one GET with ``body`` and closing with close_notify."""

    def serve(pump: Pump) -> Served:
        hc = pump.handshake()
        request = pump.recv_until(b"\r\n\r\n")
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        pump.send(head + body)
        pump.close()
        return hc, request, pump.wait_closed()  # curl answers our close_notify

    return serve


def curl(peers: Peers, pki: PKI, port: int, path: str, *args: str) -> PeerProcess:
    return peers.start(["curl", "--silent", "--show-error", "--verbose", "--fail",
                        "--cacert", pki.root_pem, "--tlsv1.3",
                        "--resolve", f"localhost:{port}:127.0.0.1", *args,
                        f"https://localhost:{port}{path}"])


@pytest.mark.parametrize(("kind", "group", "suite"), ROWS, ids=[r[0] for r in ROWS])
def test_curl_fetch(peers: Peers, pki: PKI, kind: str, group: str, suite: str) -> None:
    body = b"hello from tlskit over %s\n" % kind.encode()
    server = peers.thread(tlskit_server(
        pki.server_config(kind, alpn_protocols=["http/1.1"]), http_responder(body)))
    proc = curl(peers, pki, server.port, "/index.txt", "--curves", OPENSSL_GROUP[group],
                "--tls13-ciphers", suite)
    assert proc.wait() == 0, proc.describe()
    [(hc, request, closed)] = server.join()
    assert proc.stdout_bytes == body
    assert (hc.version, hc.group.name, hc.cipher_suite.name, hc.signature_scheme.name,
            hc.alpn_protocol) == (
        "TLSv1.3", group, suite, SCHEME_FOR_CERT[kind], "http/1.1")
    assert hc.server_name == "localhost"
    assert closed == ConnectionClosed(None)
    assert request.startswith(b"GET /index.txt HTTP/1.1\r\n")
    assert re.search(rb"\r\nHost: localhost:\d+\r\n", request)
    err = proc.stderr
    assert f"SSL connection using TLSv1.3 / {suite}" in err
    assert "ALPN: server accepted http/1.1" in err
    assert "SSL certificate verify ok" in err


def test_curl_fetch_one_mebibyte(peers: Peers, pki: PKI) -> None:
    body = os.urandom(1 << 20)
    server = peers.thread(tlskit_server(pki.server_config("ec256"), http_responder(body)))
    proc = curl(peers, pki, server.port, "/big.bin", "--http1.1")
    assert proc.wait() == 0, proc.describe()
    [(_hc, _request, _closed)] = server.join()
    assert proc.stdout_bytes == body
