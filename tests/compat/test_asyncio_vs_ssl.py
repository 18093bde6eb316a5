"""asyncio streams over tlskit.compat contexts (asyncio's sslproto drives `SSLObject`
over memory BIOs) against stdlib ssl peers, and the same with ssl on both ends: a large
transfer both ways at once, a client that drops the connection, a server that sends
close_notify first. Outcomes must match the stdlib's, with no ResourceWarning and
nothing logged by asyncio (which runs in debug mode)."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import os
import ssl
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import tlskit.compat as tc

from .conftest import PKI

SIZE = 8 << 20
CHUNK = 1 << 16
PAIRS = pytest.mark.parametrize(("client", "server"), [
    ("ssl", "ssl"), ("tlskit", "ssl"), ("ssl", "tlskit"), ("tlskit", "tlskit")])


class Peers:
    def __init__(self, pki: PKI, client: str, server: str) -> None:
        kinds = {"ssl": ssl.SSLContext, "tlskit": tc.SSLContext}
        self.client_ctx = kinds[client](ssl.PROTOCOL_TLS_CLIENT)
        self.client_ctx.load_verify_locations(cafile=str(pki.root))
        self.server_ctx = kinds[server](ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(pki.good.fullchain, pki.good.key)

    async def serve(self, handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                            Awaitable[None]]) -> asyncio.Server:
        return await asyncio.start_server(handler, "127.0.0.1", 0, ssl=self.server_ctx)

    async def connect(self, server: asyncio.Server
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        port = server.sockets[0].getsockname()[1]
        return await asyncio.open_connection("127.0.0.1", port, ssl=self.client_ctx,
                                             server_hostname="localhost")


async def _close(writer: asyncio.StreamWriter) -> str | None:
    """Close; the name of what wait_closed() raised, if anything."""
    writer.close()
    try:
        await writer.wait_closed()
    except (OSError, ssl.SSLError) as exc:
        return type(exc).__name__
    return None


def run_clean(main: Awaitable[Any], caplog: pytest.LogCaptureFixture) -> Any:
    """Run ``main`` in a debug-mode loop; fail on a ResourceWarning or an asyncio log."""
    async def debug_main() -> Any:
        asyncio.get_running_loop().slow_callback_duration = 60.0  # (a busy machine)
        return await main

    with warnings.catch_warnings(record=True) as caught, \
            caplog.at_level(logging.WARNING, logger="asyncio"):
        warnings.simplefilter("always", ResourceWarning)
        result = asyncio.run(debug_main(), debug=True)
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
    return result


@PAIRS
def test_eight_mebibytes_each_way(client: str, server: str, pki: PKI,
                                  caplog: pytest.LogCaptureFixture) -> None:
    peers = Peers(pki, client, server)
    payload = os.urandom(SIZE)

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        await _close(writer)

    async def main() -> tuple[bytes, str | None]:
        async with await peers.serve(echo) as srv:
            reader, writer = await peers.connect(srv)

            async def send() -> None:
                for i in range(0, SIZE, CHUNK):
                    writer.write(payload[i:i + CHUNK])
                    await writer.drain()

            sending = asyncio.create_task(send())
            got = await reader.readexactly(SIZE)
            await sending
            return hashlib.sha256(got).digest(), await _close(writer)

    digest, closed = run_clean(main(), caplog)
    assert digest == hashlib.sha256(payload).digest()
    assert closed is None


@PAIRS
def test_client_drops_the_connection(client: str, server: str, pki: PKI,
                                     caplog: pytest.LogCaptureFixture) -> None:
    peers = Peers(pki, client, server)

    async def main() -> list[Any]:
        seen: list[Any] = []
        done = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(await reader.readexactly(5))
            writer.write(b"ack")
            await writer.drain()
            seen.append(await reader.read(100))  # TCP reset by the client
            await _close(writer)
            done.set()

        async with await peers.serve(handler) as srv:
            reader, writer = await peers.connect(srv)
            writer.write(b"hello")
            assert await reader.readexactly(3) == b"ack"
            writer.transport.abort()
            await asyncio.wait_for(done.wait(), 30)
        return seen

    assert run_clean(main(), caplog) == [b"hello", b""]


@PAIRS
def test_server_closes_first(client: str, server: str, pki: PKI,
                             caplog: pytest.LogCaptureFixture) -> None:
    peers = Peers(pki, client, server)

    async def main() -> list[Any]:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"bye")
            await writer.drain()
            await _close(writer)  # close_notify

        async with await peers.serve(handler) as srv:
            reader, writer = await peers.connect(srv)
            got = [await reader.read(), reader.at_eof()]
            writer.write(b"after the server's close_notify")  # still allowed
            await writer.drain()
            got.append(await _close(writer))
        return got

    assert run_clean(main(), caplog) == [b"bye", True, None]
