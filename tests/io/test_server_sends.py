"""How the servers use their sockets (issue 12, server throughput): TLS 1.3 session
tickets leave in one send with the first answer, or before the server waits for the
client; TLS 1.2 never waits; the handshake's kernel timeouts are gone afterwards.

Real peers on 127.0.0.1: a sans-I/O tlskit client on a plain socket (to see exactly what
arrives when) and stdlib `ssl` clients.
"""

from __future__ import annotations

import asyncio
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import tlskit.aio
from tlskit import ClientConfig, ClientConnection, ServerConfig
from tlskit.events import DataReceived, Event, SessionTicketReceived
from tlskit.io import TLSServer

from .conftest import PKI, EchoHandler
from .helpers import handshake_raw_client

NO_TIMEOUT = struct.pack("@ll", 0, 0)
TCPI_DATA_SEGS_IN = 152  # struct tcp_info: data segments received (Linux >= 4.6)


def data_segments_in(sock: socket.socket) -> int:
    """TCP segments with payload this socket has received (the kernel's count)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int.from_bytes(info[TCPI_DATA_SEGS_IN:TCPI_DATA_SEGS_IN + 4], "little")


def connect_raw(srv: TLSServer, client_config: ClientConfig) -> tuple[socket.socket, Any]:
    """TCP plus a finished client handshake (its Finished sent), nothing read after it."""
    sock = socket.create_connection(srv.server_address, timeout=10)
    conn = handshake_raw_client(sock, client_config)
    sock.sendall(conn.data_to_send())
    return sock, conn


def kinds(events: list[Event]) -> list[type]:
    return [type(ev) for ev in events]


def test_tickets_leave_with_the_first_answer(tls_server_factory: Any,
                                             client_config: ClientConfig) -> None:
    at_handler, go = threading.Event(), threading.Event()

    class WriteFirst(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            at_handler.set()  # the server's handshake is done, its tickets are made
            go.wait(10)
            self.request.sendall(b"answer")

    srv = tls_server_factory(WriteFirst)
    sock, conn = connect_raw(srv, client_config)
    with sock:
        assert at_handler.wait(10)
        sock.settimeout(0)  # (with a timeout, CPython would poll before peeking)
        with pytest.raises(BlockingIOError):  # nothing sent yet: the tickets wait ...
            sock.recv(1, socket.MSG_PEEK)
        sock.settimeout(10)
        go.set()
        events = conn.receive_data(sock.recv(1 << 16))  # ... for the answer: one send
    # (the close_notify after the handler may already be there too)
    assert kinds(events)[:3] == [SessionTicketReceived, SessionTicketReceived, DataReceived]
    assert events[2].data == b"answer"  # type: ignore[attr-defined]


def connect_and_wait_for_tickets(sock: socket.socket, client_config: ClientConfig
                                 ) -> tuple[ClientConnection, list[Event]]:
    """Handshake, then read until both tickets came, sending nothing after Finished."""
    conn = handshake_raw_client(sock, client_config)
    sock.sendall(conn.data_to_send())
    events: list[Event] = []
    while len(events) < 2:  # the client asks nothing before it has its tickets
        data = sock.recv(1 << 16)
        assert data, "the server closed instead of sending its tickets"
        events += conn.receive_data(data)
    assert kinds(events) == [SessionTicketReceived, SessionTicketReceived]
    return conn, []


def test_tickets_leave_before_the_server_waits_for_the_client(
        tls_server_factory: Any, client_config: ClientConfig) -> None:
    srv = tls_server_factory(EchoHandler)  # reads first
    with socket.create_connection(srv.server_address, timeout=10) as sock:
        conn, _ = connect_and_wait_for_tickets(sock, client_config)
        conn.send_data(b"ping\n")
        sock.sendall(conn.data_to_send())
        reply = conn.receive_data(sock.recv(1 << 16))
    assert [ev.data for ev in reply if isinstance(ev, DataReceived)] == [b"ping\n"]


def test_held_tickets_resume_a_stdlib_client(tls_server_factory: Any, pki: PKI) -> None:
    class Answer(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"ok")

    srv = tls_server_factory(Answer)
    ctx = ssl.create_default_context(cafile=str(pki.root_pem))

    def fetch(session: ssl.SSLSession | None) -> tuple[bytes, ssl.SSLSocket]:
        raw = socket.create_connection(srv.server_address, timeout=10)
        tls = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
        return tls.recv(16), tls

    answer, first = fetch(None)
    with first:
        assert answer == b"ok" and first.version() == "TLSv1.3"
        session = first.session
    assert session is not None and session.has_ticket
    answer, second = fetch(session)
    with second:
        assert answer == b"ok" and second.session_reused


def test_tls12_server_finished_is_never_held(tls_server_factory: Any, pki: PKI) -> None:
    go = threading.Event()

    class WriteLate(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            go.wait(10)
            self.request.sendall(b"late")

    srv = tls_server_factory(WriteLate)
    ctx = ssl.create_default_context(cafile=str(pki.root_pem))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(srv.server_address, timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        # The handshake completed while the handler still waits: the server's Finished
        # (and ticket) went out when the handshake ended, not with the first write.
        assert tls.version() == "TLSv1.2"
        go.set()
        assert tls.recv(16) == b"late"


def test_handshake_leaves_no_socket_timeout_behind(tls_server_factory: Any,
                                                   client_config: ClientConfig) -> None:
    seen: list[tuple[Any, bytes, bytes]] = []

    class Inspect(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            raw = self.request.socket
            seen.append((raw.gettimeout(),
                         raw.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16),
                         raw.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, 16)))
            self.request.sendall(b"done")

    srv = tls_server_factory(Inspect, handshake_timeout=5)
    sock, conn = connect_raw(srv, client_config)
    with sock:
        events = conn.receive_data(sock.recv(1 << 16))
    assert [ev.data for ev in events if isinstance(ev, DataReceived)] == [b"done"]
    # A blocking socket again, as accepted: reads after the handshake wait as long as
    # the application wants (idle_timeout is off by default).
    assert seen == [(None, NO_TIMEOUT, NO_TIMEOUT)]


def test_handshake_deadline_covers_a_client_that_stalls_after_its_hello(
        tls_server_factory: Any, client_config: ClientConfig) -> None:
    failures: list[BaseException] = []
    srv = tls_server_factory(socketserver.BaseRequestHandler, handshake_timeout=0.3)
    srv.handshake_failed = lambda req, addr, exc: failures.append(exc)  # type: ignore[method-assign]
    with socket.create_connection(srv.server_address, timeout=10) as sock:
        handshake_raw_client(sock, client_config)  # ... and never sends its Finished
        assert sock.recv(1 << 16) == b""  # the server gave up and closed
    assert len(failures) == 1 and isinstance(failures[0], TimeoutError)
    assert "timed out after 0.3 s" in str(failures[0])


# --- asyncio -----------------------------------------------------------------------------

def serve_aio(config: ServerConfig, handler: Callable[..., Awaitable[None]],
              client: Callable[[int], Any]) -> Any:
    """Run ``client(port)`` in a thread against `tlskit.aio.start_server(handler)`."""
    async def main() -> Any:
        server = await tlskit.aio.start_server(handler, "127.0.0.1", 0, config)
        port = server.sockets[0].getsockname()[1]
        try:
            return await asyncio.wait_for(asyncio.to_thread(client, port), 20)
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(main())


def test_aio_tickets_leave_with_the_first_answer(server_config: ServerConfig,
                                                 client_config: ClientConfig) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"answer")
        await reader.read()  # nothing else until the client is gone
        writer.close()

    def client(port: int) -> tuple[int, list[Event]]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            conn = handshake_raw_client(sock, client_config)
            before = data_segments_in(sock)  # nothing can follow before our Finished
            sock.sendall(conn.data_to_send())
            events: list[Event] = []
            while DataReceived not in kinds(events):
                events += conn.receive_data(sock.recv(1 << 16))
            return data_segments_in(sock) - before, events

    segments, events = serve_aio(server_config, answer, client)
    assert kinds(events) == [SessionTicketReceived, SessionTicketReceived, DataReceived]
    assert segments == 1  # tickets and answer in one send


def test_aio_tickets_leave_before_the_handler_waits_for_the_client(
        server_config: ServerConfig, client_config: ClientConfig) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())  # reads first
        await writer.drain()
        writer.close()

    def client(port: int) -> list[Event]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            conn, events = connect_and_wait_for_tickets(sock, client_config)
            conn.send_data(b"ping\n")
            sock.sendall(conn.data_to_send())
            while DataReceived not in kinds(events):
                events += conn.receive_data(sock.recv(1 << 16))
            return events

    events = serve_aio(server_config, echo, client)
    assert [ev.data for ev in events if isinstance(ev, DataReceived)] == [b"ping\n"]


def test_aio_answer_and_close_leave_in_one_send(server_config: ServerConfig,
                                                client_config: ClientConfig) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"ans")
        writer.write(b"wer")
        await writer.drain()
        writer.close()

    def client(port: int) -> tuple[int, list[Event]]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            conn = handshake_raw_client(sock, client_config)
            before = data_segments_in(sock)
            sock.sendall(conn.data_to_send())
            events: list[Event] = []
            while data := sock.recv(1 << 16):  # until the server's FIN
                events += conn.receive_data(data)
            return data_segments_in(sock) - before, events

    segments, events = serve_aio(server_config, answer, client)
    assert [type(ev).__name__ for ev in events] == [
        "SessionTicketReceived", "SessionTicketReceived", "DataReceived", "DataReceived",
        "ConnectionClosed"]
    assert b"".join(ev.data for ev in events if isinstance(ev, DataReceived)) == b"answer"
    assert segments == 1  # tickets, both writes and close_notify: one send


def test_aio_large_writes_leave_at_once(server_config: ServerConfig,
                                        client_config: ClientConfig) -> None:
    sizes: list[int] = []

    async def bulk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(bytes(tlskit.aio.CORK_LIMIT))  # not held for the end of the step
        sizes.append(writer.transport.get_write_buffer_size())
        writer.write(b"x")                          # small: held
        sizes.append(writer.transport.get_write_buffer_size())
        await reader.read()
        writer.close()

    def client(port: int) -> int:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            conn = handshake_raw_client(sock, client_config)
            sock.sendall(conn.data_to_send())
            got = 0
            while got < tlskit.aio.CORK_LIMIT + 1:
                data = sock.recv(1 << 16)
                assert data
                got += sum(len(ev.data) for ev in conn.receive_data(data)
                           if isinstance(ev, DataReceived))
            conn.close()
            sock.sendall(conn.data_to_send())
            return got

    assert serve_aio(server_config, bulk, client) == tlskit.aio.CORK_LIMIT + 1
    assert sizes[1] - sizes[0] == 1  # the held byte counts as buffered


class CountingSocket(socket.socket):
    """A plain socket that records which of its calls were made, in order."""

    calls: list[str]

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self.calls.append("recv")
        return super().recv(bufsize, flags)

    def send(self, data: Any, flags: int = 0) -> int:
        self.calls.append("send")
        return super().send(data, flags)

    def setsockopt(self, *args: Any) -> None:
        self.calls.append("setsockopt")
        super().setsockopt(*args)

    def shutdown(self, how: int) -> None:
        self.calls.append("shutdown")
        super().shutdown(how)

    def close(self) -> None:
        self.calls.append("close")
        super().close()


def test_blocking_server_closes_with_one_send_and_no_timeout_switch(
        server_config: ServerConfig, pki: PKI) -> None:
    sockets: list[CountingSocket] = []

    class Counted(TLSServer):
        def wrap_accepted(self, sock: socket.socket, addr: Any) -> Any:
            counted = CountingSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
            counted.calls = []
            sockets.append(counted)
            return super().wrap_accepted(counted, addr)

    class Answer(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"ok")

    srv = Counted(("127.0.0.1", 0), Answer, server_config)
    serving = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    try:
        ctx = ssl.create_default_context(cafile=str(pki.root_pem))
        with (socket.create_connection(("127.0.0.1", srv.server_address[1]), timeout=10) as raw,
              ctx.wrap_socket(raw, server_hostname="localhost") as tls):
            assert tls.recv(16) == b"ok"
            assert tls.recv(16) == b""  # the close_notify
        deadline = time.monotonic() + 10
        while "close" not in sockets[0].calls and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        srv.shutdown()
        srv.server_close()
        serving.join(10)
    calls = sockets[0].calls
    answer = calls.index("send", calls.index("send") + 1)  # flight, then tickets + answer
    # close_notify (no send timeout set and reset around it), the drain of what the
    # client may have sent, then close (its FIN: no separate shutdown call).
    assert calls[answer + 1:] == ["send", "recv", "close"]


def test_blocking_server_ends_a_connection_whose_handler_left_a_file_open(
        tls_server_factory: Any, pki: PKI) -> None:
    kept: list[Any] = []

    class LeaveFileOpen(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            f = self.request.makefile("wb")
            f.write(b"ok")
            f.flush()
            kept.append(f)  # never closed: close() alone would wait for it

    srv = tls_server_factory(LeaveFileOpen)
    ctx = ssl.create_default_context(cafile=str(pki.root_pem))
    with (socket.create_connection(("127.0.0.1", srv.server_address[1]), timeout=10) as raw,
          ctx.wrap_socket(raw, server_hostname="localhost") as tls):
        assert tls.recv(16) == b"ok"
        assert tls.recv(16) == b""  # close_notify and FIN all the same (shutdown)
    assert len(kept) == 1
    kept[0].close()
