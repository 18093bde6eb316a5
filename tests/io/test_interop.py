"""The blocking adapter against other TLS 1.3 stacks: openssl and Python's ssl module."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading

import pytest

import tlskit
from tlskit import ClientConfig

from .conftest import OPENSSL, PKI, EchoHandler, OpenSSLServer, needs_openssl

pytestmark = pytest.mark.interop


def _read_all(sock: tlskit.TLSSocket) -> bytes:
    out = bytearray()
    while data := sock.recv(65536):
        out += data
    return bytes(out)


@needs_openssl
def test_client_fetches_openssl_www(openssl_www: OpenSSLServer,
                                    client_config: ClientConfig) -> None:
    with tlskit.connect("127.0.0.1", openssl_www.port, client_config, server_name="localhost",
                        timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        page = _read_all(sock)  # ends with openssl's close_notify
        suite = sock.cipher()[0]
    assert page.startswith(b"HTTP/1.0 200 ok\r\n")
    assert b"TLSv1.3" in page
    assert suite.encode() in page  # s_server reports the suite it negotiated with us


@needs_openssl
@pytest.mark.parametrize("suite", ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"])
def test_client_suites_against_openssl(openssl_www: OpenSSLServer, pki: PKI,
                                       suite: str) -> None:
    cfg = ClientConfig(trust_anchors=[pki.ca.root], cipher_suites=[suite])
    with tlskit.connect("127.0.0.1", openssl_www.port, cfg, server_name="localhost",
                        timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        page = _read_all(sock)
    assert suite.encode() in page


def test_client_against_python_ssl_server(pki: PKI, client_config: ClientConfig) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(pki.fullchain, pki.key)
    listener = socket.create_server(("127.0.0.1", 0))
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            raw, _ = listener.accept()
            with ctx.wrap_socket(raw, server_side=True) as s:
                s.settimeout(10)
                total = 0
                while data := s.recv(65536):
                    s.sendall(data.upper())
                    total += len(data)
                s.unwrap()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=serve)
    t.start()
    payload = b"hello python ssl " * 20000
    with tlskit.connect("127.0.0.1", listener.getsockname()[1], client_config,
                        server_name="localhost", timeout=10) as sock:
        writer = threading.Thread(target=sock.sendall, args=(payload,))
        writer.start()
        got = bytearray()
        while len(got) < len(payload):
            got += sock.recv(65536)
        writer.join()
        assert got == payload.upper()
    t.join(10)
    listener.close()
    assert not errors, errors


@needs_openssl
def test_openssl_s_client_against_tls_server(tls_server_factory, pki: PKI) -> None:
    srv = tls_server_factory(EchoHandler)
    assert OPENSSL is not None
    proc = subprocess.run(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{srv.server_address[1]}",
         "-servername", "localhost", "-CAfile", str(pki.root_pem), "-verify_return_error",
         "-tls1_3", "-quiet"],
        input=b"hello from s_client\nQUIT\n", capture_output=True, timeout=20)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    # -verify_return_error: a certificate s_client rejects would abort before any echo
    assert proc.stdout == b"hello from s_client\n"


def test_python_ssl_client_against_tls_server(tls_server_factory, pki: PKI) -> None:
    srv = tls_server_factory(EchoHandler)
    ctx = ssl.create_default_context(cafile=str(pki.root_pem))
    raw = socket.create_connection(("127.0.0.1", srv.server_address[1]), timeout=10)
    with raw, ctx.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.version() == "TLSv1.3"
            f = s.makefile("rwb")
            f.write(b"from python ssl\n")
            f.flush()
            assert f.readline() == b"from python ssl\n"
            f.write(b"QUIT\n")
            f.flush()
            assert f.readline() == b""  # our close_notify
            f.close()
