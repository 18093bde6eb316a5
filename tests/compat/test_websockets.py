"""websockets (wss) over tlskit.compat: both sides, each against the stdlib on the other,
the sync client (wrap_socket) and the asyncio one (wrap_bio), and certificate failures."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.sync.client import connect as sync_connect

import tlskit.compat as tc

from .conftest import PKI


async def _echo(ws: ServerConnection) -> None:
    version = ws.transport.get_extra_info("ssl_object").version()
    async for message in ws:
        await ws.send(f"{version}:{message}")


def _stdlib_server_ctx(pki: PKI, cert: Any = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert = cert or pki.good
    ctx.load_cert_chain(cert.fullchain, cert.key)
    return ctx


async def _round_trip(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext,
                      sync: bool) -> tuple[str, str]:
    async with serve(_echo, "127.0.0.1", 0, ssl=server_ctx) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        uri = f"wss://localhost:{port}/"
        if sync:
            def talk() -> tuple[str, str]:
                with sync_connect(uri, ssl=client_ctx, open_timeout=30) as ws:
                    ws.send("ping")
                    return str(ws.recv(timeout=30)), ws.socket.version()  # type: ignore[attr-defined]
            return await asyncio.to_thread(talk)
        async with connect(uri, ssl=client_ctx, open_timeout=30) as ws:
            await ws.send("ping")
            reply = await ws.recv()
            return str(reply), ws.transport.get_extra_info("ssl_object").version()


@pytest.mark.parametrize("sync", [False, True], ids=["asyncio-client", "sync-client"])
@pytest.mark.parametrize("server_side", ["compat", "stdlib"])
def test_wss_compat_client(server_side: str, sync: bool, pki: PKI, server_ctx: tc.SSLContext,
                           client_ctx: tc.SSLContext) -> None:
    srv = server_ctx if server_side == "compat" else _stdlib_server_ctx(pki)
    reply, version = asyncio.run(_round_trip(srv, client_ctx, sync))
    assert (reply, version) == ("TLSv1.3:ping", "TLSv1.3")


def test_wss_compat_server_stdlib_client(pki: PKI, server_ctx: tc.SSLContext) -> None:
    client = ssl.create_default_context(cafile=str(pki.root))
    reply, version = asyncio.run(_round_trip(server_ctx, client, sync=False))
    assert (reply, version) == ("TLSv1.3:ping", "TLSv1.3")


@pytest.mark.parametrize("sync", [False, True], ids=["asyncio-client", "sync-client"])
@pytest.mark.parametrize("which", ["expired", "wrong_host"])
def test_wss_certificate_failure(which: str, sync: bool, pki: PKI,
                                 client_ctx: tc.SSLContext) -> None:
    cert = getattr(pki, which)
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        asyncio.run(_round_trip(_stdlib_server_ctx(pki, cert), client_ctx, sync))
    assert pki.reason(cert) in str(info.value)
    assert info.value.verify_message.startswith(pki.reason(cert))
