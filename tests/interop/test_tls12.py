"""TLS 1.2 (ECDHE + AEAD, extended master secret) against OpenSSL and Python's ssl on
127.0.0.1 in both directions, every suite and key type (the same in memory:
tests/unit/test_tls12.py)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from typing import Any

import pytest

from tlskit import (
    ClientConfig,
    ClientConnection,
    DataReceived,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
    TLSError,
)

from ..support.peers import Peers
from ..support.pki import CASES12 as CASES
from .conftest import PKI


def _client_over_socket(port: int, config: ClientConfig, request: bytes) -> tuple[Any, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = ClientConnection(config, "localhost")
    received = b""
    info = None
    with sock:
        sock.sendall(conn.data_to_send())
        while True:
            data = sock.recv(65536)
            if not data:
                break
            for e in conn.receive_data(data):
                if isinstance(e, HandshakeComplete):
                    info = e
                    conn.send_data(request)
                elif isinstance(e, DataReceived):
                    received += e.data
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
            if conn.closed:
                break
    return info, received


@pytest.mark.interop
@pytest.mark.parametrize(("kt", "suite"), CASES)
def test_client_to_openssl_s_server(pki: PKI, kt: str, suite: str) -> None:
    with Peers() as peers:
        _proc, port = peers.openssl_s_server(
            "-tls1_2", "-cert", pki.files[kt].fullchain, "-cert_chain", pki.files[kt].chain,
            "-key", pki.files[kt].key, "-www", "-quiet")
        info, body = _client_over_socket(port, ClientConfig(
            trust_anchors=[pki.root], cipher_suites=[suite]), b"GET / HTTP/1.0\r\n\r\n")
    assert info is not None and (info.version, info.cipher_suite.name) == ("TLSv1.2", suite)
    assert body.startswith(b"HTTP/1.0 200 ok")
    assert b"TLSv1.2" in body


def _serve_once(config: ServerConfig, listener: socket.socket, out: list[Any]) -> None:
    sock, _ = listener.accept()
    conn = ServerConnection(config)
    with sock:
        sock.settimeout(10)
        try:
            while not conn.closed:
                data = sock.recv(65536)
                if not data:
                    break
                for e in conn.receive_data(data):
                    out.append(e)
                    if isinstance(e, DataReceived):
                        conn.send_data(b"echo:" + e.data)
                        conn.close()  # one exchange per connection
                sock.sendall(conn.data_to_send())
        except TLSError as exc:
            out.append(exc)
            sock.sendall(conn.data_to_send())
        except ConnectionResetError:
            pass  # a peer that closes without close_notify after its last read


@pytest.mark.interop
@pytest.mark.parametrize(("kt", "suite"), CASES)
def test_openssl_s_client_to_server(pki: PKI, kt: str, suite: str) -> None:
    i = pki.issued[kt]
    config = ServerConfig(certificate_chain=i.chain, private_key=i.private_key)
    listener = socket.create_server(("127.0.0.1", 0))
    events: list[Any] = []
    thread = threading.Thread(target=_serve_once, args=(config, listener, events))
    thread.start()
    openssl_name = {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    }[suite]
    try:
        result = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{listener.getsockname()[1]}",
             "-tls1_2", "-cipher", openssl_name, "-CAfile", str(pki.root_pem),
             "-servername", "localhost", "-verify_return_error", "-quiet"],
            input=b"ping\n", capture_output=True, timeout=20)
    finally:
        thread.join(timeout=20)
        listener.close()
    assert result.stdout == b"echo:ping\n", result.stderr
    info = next(e for e in events if isinstance(e, HandshakeComplete))
    assert (info.version, info.cipher_suite.name) == ("TLSv1.2", suite)


@pytest.mark.interop
def test_python_ssl_both_directions(pki: PKI) -> None:
    # Python ssl client (TLS 1.2 only) -> tlskit server
    i = pki.issued["rsa2048"]
    config = ServerConfig(certificate_chain=i.chain, private_key=i.private_key)
    listener = socket.create_server(("127.0.0.1", 0))
    events: list[Any] = []
    thread = threading.Thread(target=_serve_once, args=(config, listener, events))
    thread.start()
    ctx = ssl.create_default_context(cafile=str(pki.root_pem))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(listener.getsockname()) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.version() == "TLSv1.2"
        tls.sendall(b"hi")
        assert tls.recv(100) == b"echo:hi"
    thread.join(timeout=10)
    listener.close()

    # tlskit client -> Python ssl server (TLS 1.2 only)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.maximum_version = ssl.TLSVersion.TLSv1_2
    sctx.load_cert_chain(str(pki.files["ec256"].fullchain), str(pki.files["ec256"].key))
    listener = socket.create_server(("127.0.0.1", 0))

    def ssl_server() -> None:
        conn, _ = listener.accept()
        with sctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"hello from ssl " + tls.version().encode())  # type: ignore[union-attr]
            tls.recv(100)

    t = threading.Thread(target=ssl_server)
    t.start()
    info, body = _client_over_socket(listener.getsockname()[1],
                                     ClientConfig(trust_anchors=[pki.root]), b"bye")
    t.join(timeout=10)
    listener.close()
    assert info.version == "TLSv1.2" and body == b"hello from ssl TLSv1.2"
