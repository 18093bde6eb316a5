"""Serving for real (issue 12): stdlib clients that skip close_notify, listen backlogs,
idle timeouts, and fds/threads/tasks back to baseline after load and faults.

All on 127.0.0.1 with real stdlib `ssl` clients; loops are bounded in count and time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import tlskit
import tlskit.aio
from tlskit import ServerConfig
from tlskit.io import TLSServer, listen_backlog

from .conftest import PKI, EchoHandler, start_tls_server
from .helpers import wait_for

CLIENTS = 50


def ssl_client_context(pki: PKI) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.root_pem))
    return ctx


def stdlib_echo_once(ctx: ssl.SSLContext, port: int, payload: bytes = b"ping\n") -> bytes:
    """One stdlib client: handshake, a line, its echo, then close() -- which, like every
    stdlib client, sends no close_notify."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        tls = ctx.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(payload)
        got = b""
        while not got.endswith(b"\n"):
            chunk = tls.recv(100)
            if not chunk:
                break
            got += chunk
        tls.close()
        return got


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# --- clients that close without close_notify ---------------------------------------------

def test_blocking_server_quiet_when_stdlib_clients_skip_close_notify(
        tls_server_factory: Callable[..., TLSServer], pki: PKI,
        capfd: pytest.CaptureFixture[str]) -> None:
    served = []

    class Echo(EchoHandler):
        def handle(self) -> None:
            super().handle()
            served.append(self.request.truncated)

    srv = tls_server_factory(Echo)
    ctx = ssl_client_context(pki)
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: stdlib_echo_once(ctx, srv.server_address[1]),
                                range(CLIENTS)))
    assert replies == [b"ping\n"] * CLIENTS
    wait_for(lambda: len(served) == CLIENTS, "every handler to finish")
    assert served == [True] * CLIENTS  # end of stream, the truncation still visible
    assert "Traceback" not in capfd.readouterr().err


def test_asyncio_server_quiet_when_stdlib_clients_skip_close_notify(
        server_config: ServerConfig, pki: PKI, caplog: pytest.LogCaptureFixture) -> None:
    errors: list[dict[str, Any]] = []
    truncated: list[bool] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
        truncated.append(writer.get_extra_info("tlskit_truncated"))
        writer.close()

    async def main() -> list[bytes]:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))
        server = await tlskit.aio.start_server(echo, "127.0.0.1", 0, server_config)
        port = server.sockets[0].getsockname()[1]
        ctx = ssl_client_context(pki)
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(8) as pool:
            replies = await asyncio.gather(*(
                loop.run_in_executor(pool, stdlib_echo_once, ctx, port)
                for _ in range(CLIENTS)))
        deadline = loop.time() + 10
        while len(truncated) < CLIENTS and loop.time() < deadline:
            await asyncio.sleep(0.01)
        server.close()
        await server.wait_closed()
        return replies

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        replies = asyncio.run(main())
    assert replies == [b"ping\n"] * CLIENTS
    assert truncated == [True] * CLIENTS
    assert errors == []
    assert not [r for r in caplog.records if r.name == "asyncio"]


# --- listen backlog -----------------------------------------------------------------------

def listen_queue(port: int) -> int:
    """The accept-queue limit the kernel reports for a listening port (ss's Send-Q)."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True,
                         text=True, check=True).stdout.split()
    return int(out[2])


def test_tls_server_listens_with_the_system_backlog(tls_server_factory: Callable[..., TLSServer]
                                                    ) -> None:
    srv = tls_server_factory()
    assert listen_backlog() > 5
    assert listen_queue(srv.server_address[1]) == listen_backlog()


def test_tls_server_backlog_is_configurable(tls_server_factory: Callable[..., TLSServer]) -> None:
    srv = tls_server_factory(backlog=17)
    assert listen_queue(srv.server_address[1]) == 17


def test_asyncio_server_listens_with_the_system_backlog(server_config: ServerConfig) -> None:
    async def main() -> int:
        server = await tlskit.aio.start_server(lambda r, w: None, "127.0.0.1", 0,
                                               server_config)
        try:
            return listen_queue(server.sockets[0].getsockname()[1])
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(main()) == listen_backlog()


# --- idle timeouts ------------------------------------------------------------------------

def test_tls_server_idle_timeout_closes_a_silent_client(
        tls_server_factory: Callable[..., TLSServer], client_config: Any,
        capfd: pytest.CaptureFixture[str]) -> None:
    srv = tls_server_factory(idle_timeout=0.3)
    with tlskit.connect("127.0.0.1", srv.server_address[1], client_config,
                        server_name="localhost", timeout=10) as sock:
        sock.sendall(b"one\n")
        assert sock.recv(100) == b"one\n"
        started = time.monotonic()
        assert sock.recv(100) == b""   # we stay silent: the server says close_notify
        assert not sock.truncated
        assert time.monotonic() - started < 9  # closed by the idle timer, not our timeout
    assert "Traceback" not in capfd.readouterr().err


def test_tls_server_without_idle_timeout_keeps_a_silent_client(
        tls_server_factory: Callable[..., TLSServer], client_config: Any) -> None:
    srv = tls_server_factory()
    with tlskit.connect("127.0.0.1", srv.server_address[1], client_config,
                        server_name="localhost", timeout=0.5) as sock, pytest.raises(TimeoutError):
        sock.recv(100)  # nobody closed: our own read timeout fires first


def test_asyncio_server_idle_timeout_closes_a_silent_client(
        server_config: ServerConfig, client_config: Any) -> None:
    ended: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ended.append(await reader.read())  # end of stream when the idle timer fires
        writer.close()

    async def main() -> tuple[bytes, bool]:
        server = await tlskit.aio.start_server(handler, "127.0.0.1", 0, server_config,
                                               idle_timeout=0.3)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await tlskit.aio.open_connection(
            "127.0.0.1", port, client_config, server_name="localhost")
        got = await asyncio.wait_for(reader.read(), 10)
        truncated = writer.get_extra_info("tlskit_truncated")
        writer.close()
        server.close()
        await server.wait_closed()
        return got, truncated

    got, truncated = asyncio.run(main())
    assert got == b"" and truncated is False  # a close_notify, not a dropped TCP
    assert ended == [b""]


class _RawClient:
    """A TLS client driven by hand over plain asyncio streams, so a test can send the
    bytes of a record one at a time."""

    def __init__(self, config: Any, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.conn = tlskit.ClientConnection(config, server_name="localhost")
        self.reader, self.writer = reader, writer
        self.received: list[bytes] = []
        self.closed_by_server = asyncio.Event()

    @classmethod
    async def connect(cls, config: Any, port: int) -> _RawClient:
        client = cls(config, *await asyncio.open_connection("127.0.0.1", port))
        client.writer.write(client.conn.data_to_send())
        while client.conn.handshake_complete is None:
            client._feed(await client.reader.read(1 << 16))
        asyncio.get_running_loop().create_task(client._read_until_closed())
        return client

    def _feed(self, data: bytes) -> None:
        if not data:
            self.closed_by_server.set()
            return
        for event in self.conn.receive_data(data):
            if isinstance(event, tlskit.events.DataReceived):
                self.received.append(event.data)
            elif isinstance(event, tlskit.events.ConnectionClosed):
                self.closed_by_server.set()
        self.writer.write(self.conn.data_to_send())

    async def _read_until_closed(self) -> None:
        while not self.closed_by_server.is_set():
            self._feed(await self.reader.read(1 << 16))

    def record(self, data: bytes) -> bytes:
        """``data`` as the bytes of one application data record (not sent yet)."""
        self.conn.send_data(data)
        return self.conn.data_to_send()


async def _idle_server(config: ServerConfig, seen: list[bytes],
                       idle_timeout: float) -> asyncio.Server:
    """An asyncio server whose handler keeps what it reads until end of stream."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1 << 16):
            seen.append(data)
        seen.append(b"<eof>")
        writer.close()

    return await tlskit.aio.start_server(handler, "127.0.0.1", 0, config,
                                         idle_timeout=idle_timeout)


def test_asyncio_idle_timeout_is_not_restarted_by_a_trickled_record(
        server_config: ServerConfig, client_config: Any) -> None:
    """A peer sending one byte of a record every 0.05 s delivers no data for as long as
    the record is unfinished: the 0.3 s idle timer still fires (as a blocking TLSServer's
    recv deadline does), with close_notify, before the 62-byte record is complete."""
    seen: list[bytes] = []

    async def main() -> tuple[int, int]:
        server = await _idle_server(server_config, seen, idle_timeout=0.3)
        client = await _RawClient.connect(client_config, server.sockets[0].getsockname()[1])
        record = client.record(b"x" * 40)
        sent = 0
        for byte in record:  # ~3 s for the whole record; the server ends it at 0.3 s
            if client.closed_by_server.is_set():
                break
            client.writer.write(bytes([byte]))
            sent += 1
            await asyncio.sleep(0.05)
        await asyncio.wait_for(client.closed_by_server.wait(), 10)
        client.writer.close()
        server.close()
        await server.wait_closed()
        return sent, len(record)

    sent, whole = asyncio.run(main())
    assert seen == [b"<eof>"]  # the handler read nothing, then end of stream
    assert sent < whole  # closed before the record was complete


def test_asyncio_idle_timeout_is_restarted_by_each_record(
        server_config: ServerConfig, client_config: Any) -> None:
    """Whole records 0.05 s apart, 0.6 s in all, against a 0.5 s idle timeout: each one
    is data, so the connection stays until the client goes quiet."""
    seen: list[bytes] = []

    async def main() -> bool:
        server = await _idle_server(server_config, seen, idle_timeout=0.5)
        client = await _RawClient.connect(client_config, server.sockets[0].getsockname()[1])
        for n in range(12):
            client.writer.write(client.record(b"%x" % n))
            await asyncio.sleep(0.05)
        closed_early = client.closed_by_server.is_set()
        await asyncio.wait_for(client.closed_by_server.wait(), 10)  # quiet: the timer ends it
        client.writer.close()
        server.close()
        await server.wait_closed()
        return closed_early

    closed_early = asyncio.run(main())
    assert not closed_early
    assert b"".join(seen) == b"0123456789ab<eof>"


# --- faults leave nothing behind ----------------------------------------------------------

FAULTS: dict[str, Callable[[int], None]] = {}


def fault(fn: Callable[[int], None]) -> Callable[[int], None]:
    FAULTS[fn.__name__] = fn
    return fn


@fault
def reset_mid_handshake(port: int) -> None:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"\x16\x03\x01\x00\x50" + b"\x01\x00\x00\x4c")  # a ClientHello's start
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()  # RST


@fault
def garbage(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(100)  # the alert, then the server closes


@fault
def one_byte_records(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for _ in range(20):
            s.sendall(b"\x16\x03\x01\x00\x01\x01")  # 1-byte handshake records
        s.shutdown(socket.SHUT_WR)
        while s.recv(100):
            pass


@fault
def huge_handshake_length(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        body = b"\x01\xff\xff\xff" + bytes(76)  # a ClientHello claiming 16 MiB
        s.sendall(b"\x16\x03\x01\x00\x50" + body)
        while s.recv(100):
            pass


@fault
def huge_record_length(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01\xff\xff")  # a 64 KiB plaintext record: overflow
        while s.recv(100):
            pass


@fault
def half_hello_then_close(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_blocking_server_fault_leaves_nothing_behind(
        name: str, server_config: ServerConfig, capfd: pytest.CaptureFixture[str]) -> None:
    srv = TLSServer(("127.0.0.1", 0), EchoHandler, server_config, handshake_timeout=5)
    start_tls_server(srv)
    try:
        fds, threads = open_fds(), threading.active_count()
        for _ in range(5):
            FAULTS[name](srv.server_address[1])
        wait_for(lambda: threading.active_count() <= threads, "handler threads to end")
        wait_for(lambda: open_fds() <= fds, "sockets to close")
    finally:
        srv.shutdown()
        srv.server_close()
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_asyncio_server_fault_leaves_nothing_behind(name: str,
                                                    server_config: ServerConfig) -> None:
    errors: list[dict[str, Any]] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line)
        writer.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
        server = await tlskit.aio.start_server(echo, "127.0.0.1", 0, server_config,
                                               handshake_timeout=5)
        port = server.sockets[0].getsockname()[1]
        fds, tasks = open_fds(), len(asyncio.all_tasks())
        for _ in range(5):
            await loop.run_in_executor(None, FAULTS[name], port)
        deadline = loop.time() + 10
        while (open_fds() > fds or len(asyncio.all_tasks()) > tasks) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        assert open_fds() <= fds, "sockets left open"
        assert len(asyncio.all_tasks()) <= tasks, "tasks left running"
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert errors == []
