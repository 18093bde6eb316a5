"""tlskit.aio: closing a connection whose peer stopped reading frees it in bounded time."""

from __future__ import annotations

import asyncio
import socket

import pytest

import tlskit.aio
from tlskit import ClientConfig, ServerConfig
from tlskit.errors import BadRecordMac

from .helpers import handshake_raw_client


async def _close_against_a_peer_that_does_not_read(server_config: ServerConfig,
                                                   client_config: ClientConfig) -> None:
    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"x" * (8 << 20))  # far more than the socket buffers hold
        writer.close()
        await writer.wait_closed()
        closed.set_result(None)

    server = await tlskit.aio.start_server(handler, "127.0.0.1", 0, server_config)
    port = server.sockets[0].getsockname()[1]
    _, client = await tlskit.aio.open_connection("127.0.0.1", port, client_config,
                                                 server_name="localhost")
    try:
        # The client never reads: without a bound the server's transport waits forever
        # for its write buffer to drain (the fd and the handler task leak).
        await asyncio.wait_for(closed, 10)
    finally:
        client.transport.abort()
        server.close()
        await server.wait_closed()


def test_close_gives_up_on_a_peer_that_does_not_read(
        server_config: ServerConfig, client_config: ClientConfig,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Like asyncio's ssl_shutdown_timeout: close() aborts the TCP connection when what
    it still has to send (data, then close_notify) has not left within CLOSE_TIMEOUT."""
    monkeypatch.setattr(tlskit.aio, "CLOSE_TIMEOUT", 0.2)
    asyncio.run(_close_against_a_peer_that_does_not_read(server_config, client_config))


def test_a_fatal_error_gives_up_on_a_peer_that_does_not_read(
        server_config: ServerConfig, client_config: ClientConfig,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer that fills our send buffer, never reads, then sends a forged record: the
    alert cannot leave, and the connection is aborted after CLOSE_TIMEOUT as on close()
    (it waited for the peer to read forever, and the handler blocked in drain() with
    it); the handler's drain raises the error."""
    monkeypatch.setattr(tlskit.aio, "CLOSE_TIMEOUT", 0.2)

    async def main() -> BaseException:
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[BaseException] = loop.create_future()
        blocked: asyncio.Future[None] = loop.create_future()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    writer.write(bytes(1 << 20))
                    if writer.transport.get_write_buffer_size() and not blocked.done():
                        blocked.set_result(None)  # the kernel's buffers are full
                    await writer.drain()
            except Exception as exc:
                outcome.set_result(exc)

        server = await tlskit.aio.start_server(handler, "127.0.0.1", 0, server_config)
        port = server.sockets[0].getsockname()[1]
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            conn = await asyncio.to_thread(handshake_raw_client, raw, client_config)
            raw.sendall(conn.data_to_send())  # the Finished; nothing is read after it
            await asyncio.wait_for(blocked, 10)
            raw.sendall(b"\x17\x03\x03\x00\x20" + b"z" * 32)  # forged
            return await asyncio.wait_for(outcome, 10)
        finally:
            raw.close()
            server.close()
            await server.wait_closed()

    assert isinstance(asyncio.run(main()), BadRecordMac)
