"""tlskit.aio: closing a connection whose peer stopped reading frees it in bounded time."""

from __future__ import annotations

import asyncio

import pytest

import tlskit.aio
from tlskit import ClientConfig, ServerConfig


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
