"""tlskit.aio against unusual peers scripted on plain sockets with the sans-I/O API."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import tlskit.aio
from tlskit import ClientConfig, ClientConnection, ServerConfig
from tlskit.events import DataReceived, HandshakeComplete, SessionTicketReceived
from tlskit.session import Session


def run(coro: Awaitable[Any], timeout: float = 30) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


async def _echo_all(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read to end of stream, echo it all, close."""
    writer.write(await reader.read())
    writer.close()


@contextlib.asynccontextmanager
async def _echo_all_server(config: ServerConfig) -> AsyncIterator[int]:
    """A tlskit.aio server running `_echo_all` on 127.0.0.1; yields its port."""
    server = await tlskit.aio.start_server(_echo_all, "127.0.0.1", 0, config)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _line_client(port: int, config: ClientConfig, *, session: Session | None = None,
                 early_data: bytes = b"", lines: int = 1) -> tuple[Any, bytes, Any]:
    """A sans-I/O client that sends ``early_data`` (0-RTT) if given, then b"late\\n"
    once the handshake completes, and reads until ``lines`` lines came back.
    Returns (its last session ticket's session, the echo, the HandshakeComplete)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        conn = ClientConnection(config, server_name="localhost", session=session,
                                early_data=early_data)
        sock.sendall(conn.data_to_send())
        ticket = complete = None
        echoed = b""
        while echoed.count(b"\n") < lines or (session is None and ticket is None):
            data = sock.recv(65536)
            assert data, "the server closed the connection"
            for event in conn.receive_data(data):
                if isinstance(event, SessionTicketReceived):
                    ticket = event.session
                elif isinstance(event, HandshakeComplete):
                    complete = event
                    conn.send_data(b"late\n")
                elif isinstance(event, DataReceived):
                    echoed += event.data
            sock.sendall(conn.data_to_send())
        return ticket, echoed, complete


def test_accepted_early_data_reaches_the_handler(server_config: ServerConfig,
                                                 client_config: ClientConfig) -> None:
    """0-RTT data the server accepted arrives before the handshake completes: the
    handler reads it first, as the blocking server's handler does (it was dropped)."""
    config = dataclasses.replace(server_config, max_early_data_size=1024)

    async def main() -> tuple[bool, bytes]:
        async def echo_lines(reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
            writer.close()

        server = await tlskit.aio.start_server(echo_lines, "127.0.0.1", 0, config)
        port = server.sockets[0].getsockname()[1]
        try:
            session, _, _ = await asyncio.to_thread(_line_client, port, client_config)
            assert session is not None and session.max_early_data > 0
            _, echoed, complete = await asyncio.to_thread(
                _line_client, port, client_config, session=session,
                early_data=b"early\n", lines=2)
        finally:
            server.close()
            await server.wait_closed()
        return complete.early_data_accepted, echoed

    assert run(main()) == (True, b"early\nlate\n")


def test_write_after_write_eof_raises(server_config: ServerConfig,
                                      client_config: ClientConfig) -> None:
    """As on asyncio's own transports, a write after write_eof() is a RuntimeError; it
    was dropped without a word (the peer never got it, the writer never knew)."""
    async def main() -> tuple[str, bytes]:
        async with _echo_all_server(server_config) as port:
            reader, writer = await tlskit.aio.open_connection(
                "127.0.0.1", port, client_config, server_name="localhost")
            writer.write(b"before")
            writer.write_eof()
            try:
                writer.write(b"after")
            except RuntimeError as exc:
                error = str(exc)
            else:
                error = "no error"
            echoed = await reader.read()
            writer.close()
            await writer.wait_closed()
        return error, echoed

    assert run(main()) == ("Cannot call write() after write_eof()", b"before")


def test_write_eof_on_a_closed_connection_is_ignored(server_config: ServerConfig,
                                                     client_config: ClientConfig) -> None:
    """As asyncio's transports: write_eof() once the connection is closed (cleanup code
    does it) does nothing; it raised UsageError ("needs an established connection")."""
    async def main() -> bytes:
        async with _echo_all_server(server_config) as port:
            reader, writer = await tlskit.aio.open_connection(
                "127.0.0.1", port, client_config, server_name="localhost")
            writer.write(b"data")
            writer.write_eof()
            echoed = await reader.read()
            writer.close()
            writer.write_eof()
            await writer.wait_closed()
            writer.write_eof()
        return echoed

    assert run(main()) == b"data"
