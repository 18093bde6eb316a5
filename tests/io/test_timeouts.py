"""Handshake and idle timeouts of the blocking adapter."""

from __future__ import annotations

import socket
import socketserver
import threading
import time

import pytest

import tlskit
from tlskit import ClientConfig

from .helpers import SilentServer


def test_handshake_timeout_against_silent_server(client_config: ClientConfig) -> None:
    silent = SilentServer()
    try:
        start = time.monotonic()
        with pytest.raises(TimeoutError, match=r"handshake with 127\.0\.0\.1:\d+ timed out "
                                               r"after 0\.3 s"):
            tlskit.connect("127.0.0.1", silent.port, client_config, server_name="localhost",
                           handshake_timeout=0.3)
        assert time.monotonic() - start < 5
    finally:
        silent.close()


def test_socket_timeout_applies_to_handshake_without_handshake_timeout(
        client_config: ClientConfig) -> None:
    silent = SilentServer()
    try:
        with pytest.raises(TimeoutError, match=r"timed out after 0\.2 s"):
            tlskit.connect("127.0.0.1", silent.port, client_config, server_name="localhost",
                           timeout=0.2, handshake_timeout=None)
    finally:
        silent.close()


def test_idle_recv_timeout(tls_server_factory, client_config: ClientConfig) -> None:
    release = threading.Event()

    class Quiet(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"hi")
            release.wait(10)
            self.request.sendall(b"late")

    srv = tls_server_factory(Quiet)
    with tlskit.connect("127.0.0.1", srv.server_address[1], client_config,
                        server_name="localhost", timeout=0.2) as sock:
        assert sock.gettimeout() == 0.2
        sock.settimeout(10)  # "hi" comes once the server's thread has its turn
        assert sock.recv(10) == b"hi"
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError, match=r"recv from .* timed out after 0\.2 s"):
            sock.recv(10)
        release.set()
        sock.settimeout(10)
        assert sock.recv(10) == b"late"  # a read timeout leaves the connection usable


def test_server_handshake_timeout_drops_silent_client(tls_server_factory) -> None:
    failures: list[BaseException] = []
    srv = tls_server_factory(socketserver.BaseRequestHandler, handshake_timeout=0.3)
    srv.handshake_failed = lambda req, addr, exc: failures.append(exc)  # type: ignore[method-assign]
    with socket.create_connection(srv.server_address, timeout=10) as raw:
        start = time.monotonic()
        assert raw.recv(10) == b""  # the server gave up and closed
        assert time.monotonic() - start < 5
    assert len(failures) == 1 and isinstance(failures[0], TimeoutError)
    assert "timed out after 0.3 s" in str(failures[0])


def test_slow_client_does_not_block_others(tls_server_factory,
                                           client_config: ClientConfig) -> None:
    class Hello(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"hello")

    srv = tls_server_factory(Hello, handshake_timeout=30)
    silent = socket.create_connection(srv.server_address)  # never sends a ClientHello
    try:
        with tlskit.connect("127.0.0.1", srv.server_address[1], client_config,
                            server_name="localhost", timeout=5) as sock:
            assert sock.recv(5) == b"hello"
    finally:
        silent.close()
