"""Servers against clients that misbehave on purpose (raw sockets on 127.0.0.1): a
ClientHello sent a byte at a time, resets at each step of the handshake, and a server
that runs out of file descriptors or threads. Nothing may hang, spin, leak or print a
traceback per connection."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import socketserver
import struct
import threading
import time
from typing import Any

import pytest

import tlskit
import tlskit.aio
from tlskit import ClientConfig, ClientConnection, ServerConfig
from tlskit.io.workers import WorkerPool

from .helpers import wait_for

POLL = 0.05  # how long a trickling client waits for the server's answer between bytes


class Hello(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(b"hello")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def trickle_until_closed(port: int, data: bytes, limit: float = 30.0) -> int:
    """Send ``data`` a byte at a time, waiting up to POLL for the server between bytes;
    return how many bytes went out before the server closed the connection."""
    deadline = time.monotonic() + limit
    with socket.create_connection(("127.0.0.1", port), timeout=POLL) as sock:
        for sent, byte in enumerate(data):
            try:
                sock.send(bytes([byte]))
                if sock.recv(1 << 16) == b"":
                    return sent + 1
            except TimeoutError:
                pass
            except OSError:  # reset or broken pipe: closed too
                return sent
            assert time.monotonic() < deadline, "the server never gave up"
    raise AssertionError("the whole ClientHello went out: no handshake deadline")


def client_hello(client_config: ClientConfig) -> bytes:
    return ClientConnection(client_config, server_name="localhost").data_to_send()


def test_blocking_handshake_deadline_is_total_not_per_read(
        tls_server_factory: Any, client_config: ClientConfig) -> None:
    """A ClientHello trickling in (slowloris) is cut off at ``handshake_timeout`` in
    total, though every single read comes well within it."""
    srv = tls_server_factory(Hello, handshake_timeout=0.5)
    hello = client_hello(client_config)
    assert trickle_until_closed(srv.server_address[1], hello) < len(hello)
    with tlskit.connect("127.0.0.1", srv.server_address[1], client_config,
                        server_name="localhost", timeout=10) as tls:
        assert tls.recv(5) == b"hello"


def test_asyncio_handshake_deadline_is_total_not_per_read(
        server_config: ServerConfig, client_config: ClientConfig) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def main() -> None:
        server = await tlskit.aio.start_server(handler, "127.0.0.1", 0, server_config,
                                               handshake_timeout=0.5)
        port = server.sockets[0].getsockname()[1]
        hello = client_hello(client_config)
        try:
            sent = await asyncio.to_thread(trickle_until_closed, port, hello)
            assert sent < len(hello)
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(main())


def reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def reset_at(step: str, port: int, client_config: ClientConfig) -> None:
    """A client that resets the connection at ``step`` of the handshake or after it."""
    conn = ClientConnection(client_config, server_name="localhost")
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    hello = conn.data_to_send()
    if step == "connected":
        return reset(sock)
    if step == "half a ClientHello":
        sock.sendall(hello[:len(hello) // 2])
        return reset(sock)
    sock.sendall(hello)
    while conn.handshake_complete is None:
        conn.receive_data(sock.recv(1 << 16))
    if step == "before Finished":
        return reset(sock)
    sock.sendall(conn.data_to_send())
    if step == "after Finished":
        return reset(sock)
    conn.send_data(b"x" * 50_000)
    sock.sendall(conn.data_to_send())
    assert sock.recv(1)  # the echo has started
    reset(sock)


STEPS = ["connected", "half a ClientHello", "before Finished", "after Finished",
         "during the answer"]


class BulkEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1 << 16):
            self.request.sendall(data * 64)


def test_blocking_server_resets_at_each_step_cost_one_log_line_and_no_fd(
        tls_server_factory: Any, client_config: ClientConfig,
        caplog: pytest.LogCaptureFixture) -> None:
    srv = tls_server_factory(BulkEcho, handshake_timeout=10)
    port = srv.server_address[1]
    with caplog.at_level(logging.INFO, logger="tlskit.io"):
        reset_at("after Finished", port, client_config)  # warm up: a worker thread
        wait_for(lambda: len(caplog.records) == 1, "the warm-up connection's log line")
        base = open_fds()
        caplog.clear()
        for step in STEPS:
            reset_at(step, port, client_config)
        wait_for(lambda: len(caplog.records) >= len(STEPS), "a log line per connection")
        wait_for(lambda: open_fds() <= base, "every connection's socket closed")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == len(STEPS), lines
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in caplog.records)


class ExhaustedListener:
    """A listening socket whose accept() fails with EMFILE while ``failing`` (as a server
    out of file descriptors sees), noting when each attempt was made."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.failing = True
        self.attempts: list[float] = []

    def accept(self) -> tuple[socket.socket, Any]:
        if self.failing:
            self.attempts.append(time.monotonic())
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return self.sock.accept()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def test_blocking_server_out_of_fds_pauses_and_warns_once(
        tls_server_factory: Any, client_config: ClientConfig,
        caplog: pytest.LogCaptureFixture) -> None:
    """While accept() fails with EMFILE the listening socket stays readable: retrying at
    once spun the serving thread at full speed (silently, taking the GIL from the very
    connections whose end would free descriptors). It now waits accept_retry_delay
    between attempts, warns once, and serves again when descriptors are back."""
    srv = tls_server_factory(Hello)
    srv.accept_retry_delay = 0.05
    listener = ExhaustedListener(srv.socket)
    srv.socket = listener  # type: ignore[assignment]
    with caplog.at_level(logging.INFO, logger="tlskit.io"):
        pending = socket.create_connection(srv.server_address)  # readable from now on
        try:
            wait_for(lambda: len(listener.attempts) >= 5, "five accept attempts")
            first, fifth = listener.attempts[0], listener.attempts[4]
            # Four pauses at least between them (sleeping never takes less); a loop that
            # retries at once makes thousands of attempts in that time.
            assert fifth - first >= 4 * srv.accept_retry_delay * 0.99, listener.attempts[:5]
            listener.failing = False
            with tlskit.connect("127.0.0.1", srv.server_address[1], client_config,
                                server_name="localhost", timeout=10) as tls:
                assert tls.recv(5) == b"hello"
        finally:
            pending.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Too many open files" in warnings[0], warnings


@pytest.mark.parametrize("worker_idle_timeout", [1.0, None])
def test_blocking_server_without_threads_closes_connections_with_a_log_line(
        tls_server_factory: Any, client_config: ClientConfig, worker_idle_timeout: float | None,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """At the system's limit on threads (a container's or service's task limit), every
    accepted connection printed socketserver's traceback, 17 lines each. Now: a warning
    once, a line per connection closed, and service again once threads can start."""
    srv = tls_server_factory(Hello, worker_idle_timeout=worker_idle_timeout)
    start = threading.Thread.start

    def refused(thread: threading.Thread) -> None:
        if "serve_forever" in threading.current_thread().name:
            raise RuntimeError("can't start new thread")
        start(thread)

    with caplog.at_level(logging.INFO, logger="tlskit.io"):
        monkeypatch.setattr(threading.Thread, "start", refused)
        for _ in range(3):
            with socket.create_connection(srv.server_address, timeout=10) as sock:
                assert sock.recv(10) == b""  # closed at once
        monkeypatch.setattr(threading.Thread, "start", start)
        with tlskit.connect("127.0.0.1", srv.server_address[1], client_config,
                            server_name="localhost", timeout=10) as tls:
            assert tls.recv(5) == b"hello"
    assert "Traceback" not in capsys.readouterr().err
    levels = [r.levelname for r in caplog.records if "thread" in r.getMessage()]
    assert levels == ["WARNING", "INFO", "INFO", "INFO"], caplog.text


def test_worker_pool_forgets_a_thread_that_could_not_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Kept, it made close(wait=True) fail: an unstarted thread cannot be joined."""
    pool = WorkerPool(1.0, daemon=False)

    def refused(thread: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    with monkeypatch.context() as patch:
        patch.setattr(threading.Thread, "start", refused)
        with pytest.raises(RuntimeError):
            pool.submit(lambda: None)
    assert pool.started == 0  # counts threads started, not attempts
    done = threading.Event()
    pool.submit(done.set)
    assert done.wait(10)
    assert pool.started == 1
    pool.close(wait=True)


OVERSIZED = [
    # A record longer than any plaintext record may be (2^14): record_overflow (22).
    pytest.param(b"\x16\x03\x01\xff\xff", 22, id="record-65535"),
    pytest.param(b"\x16\x03\x01\x40\x01", 22, id="record-16385"),
    # A ClientHello announcing 2^24 - 1 bytes: decode_error (50), from its header alone.
    pytest.param(b"\x16\x03\x01\x00\x04\x01\xff\xff\xff", 50, id="handshake-2^24"),
]


def alert_then_close(port: int, header: bytes) -> bytes:
    """Send only ``header``, never what it announces; what the server sends until it
    closes (a server waiting for the rest would time this read out)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(header)
        answer = b""
        while data := sock.recv(100):
            answer += data
        return answer


def fatal_alert(description: int) -> bytes:
    return b"\x15\x03\x03\x00\x02\x02" + bytes([description])


@pytest.mark.parametrize(("header", "alert"), OVERSIZED)
def test_blocking_server_refuses_an_oversized_length_from_the_header(
        tls_server_factory: Any, header: bytes, alert: int) -> None:
    srv = tls_server_factory(Hello, handshake_timeout=60)
    assert alert_then_close(srv.server_address[1], header) == fatal_alert(alert)


@pytest.mark.parametrize(("header", "alert"), OVERSIZED)
def test_asyncio_server_refuses_an_oversized_length_from_the_header(
        server_config: ServerConfig, header: bytes, alert: int) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def main() -> bytes:
        server = await tlskit.aio.start_server(handler, "127.0.0.1", 0, server_config,
                                               handshake_timeout=60)
        try:
            port = server.sockets[0].getsockname()[1]
            return await asyncio.to_thread(alert_then_close, port, header)
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(main()) == fatal_alert(alert)
