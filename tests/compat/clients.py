"""One fetch per client library, each through a tlskit.compat context: the page, and the
TLS version the connection negotiated (read from the library's own socket or transport)."""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import requests
import urllib3
from requests.adapters import HTTPAdapter


@dataclass
class Page:
    status: int
    body: bytes
    version: str | None
    http_version: str = "HTTP/1.1"


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def http_client(url: str, ctx: ssl.SSLContext) -> Page:
    host, port = _host_port(url)
    conn = HTTPSConnection(host, port, context=ctx, timeout=30)
    try:
        conn.connect()
        assert conn.sock is not None
        version = conn.sock.version()  # type: ignore[attr-defined]
        conn.request("GET", "/")
        resp = conn.getresponse()
        return Page(resp.status, resp.read(), version)
    finally:
        conn.close()


def urllib_request(url: str, ctx: ssl.SSLContext) -> Page:
    with urllib.request.urlopen(url, context=ctx, timeout=30) as resp:
        version = resp.fp.raw._sock.version()
        return Page(resp.status, resp.read(), version)


def _urllib3_version(resp: Any) -> str | None:
    # The socket under the http.client response (the pool may already have let go of it).
    return resp._fp.fp.raw._sock.version()  # type: ignore[no-any-return]


def urllib3_pool(url: str, ctx: ssl.SSLContext) -> Page:
    with urllib3.PoolManager(ssl_context=ctx, retries=False, timeout=30) as pool:
        resp = pool.request("GET", url, preload_content=False)
        version = _urllib3_version(resp)
        body = resp.read()
        resp.release_conn()
        return Page(resp.status, body, version)


class TlskitAdapter(HTTPAdapter):
    """The docs/compat.md recipe: requests through a tlskit.compat context."""

    def __init__(self, ssl_context: ssl.SSLContext, **kwargs: Any) -> None:
        self.ssl_context = ssl_context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self.ssl_context
        super().init_poolmanager(*args, **kwargs)


def requests_session(url: str, ctx: ssl.SSLContext) -> Page:
    with requests.Session() as session:
        session.mount("https://", TlskitAdapter(ctx, max_retries=0))
        resp = session.get(url, timeout=30, stream=True)
        version = _urllib3_version(resp.raw)
        return Page(resp.status_code, resp.content, version)


def _httpx_version(resp: httpx.Response) -> str | None:
    stream = resp.extensions["network_stream"]
    return stream.get_extra_info("ssl_object").version()  # type: ignore[no-any-return]


def httpx_sync(url: str, ctx: ssl.SSLContext, http2: bool = False) -> Page:
    with httpx.Client(verify=ctx, http2=http2, timeout=30) as client, \
            client.stream("GET", url) as resp:
        version = _httpx_version(resp)
        return Page(resp.status_code, resp.read(), version, resp.http_version)


async def _httpx_async(url: str, ctx: ssl.SSLContext, http2: bool) -> Page:
    async with httpx.AsyncClient(verify=ctx, http2=http2, timeout=30) as client, \
            client.stream("GET", url) as resp:
        version = _httpx_version(resp)
        return Page(resp.status_code, await resp.aread(), version, resp.http_version)


def httpx_async(url: str, ctx: ssl.SSLContext, http2: bool = False) -> Page:
    return asyncio.run(_httpx_async(url, ctx, http2))


def httpx_sync_h2(url: str, ctx: ssl.SSLContext) -> Page:
    return httpx_sync(url, ctx, http2=True)


def httpx_async_h2(url: str, ctx: ssl.SSLContext) -> Page:
    return httpx_async(url, ctx, http2=True)


async def _aiohttp(url: str, ctx: ssl.SSLContext) -> Page:
    # aiohttp lets go of a connection as soon as the body is in (and s_server closes it),
    # so the SSL objects asyncio makes from the context are recorded on the way.
    made: list[Any] = []
    wrap_bio = ctx.wrap_bio

    def recording_wrap_bio(*args: Any, **kwargs: Any) -> Any:
        made.append(wrap_bio(*args, **kwargs))
        return made[-1]

    ctx.wrap_bio = recording_wrap_bio  # type: ignore[method-assign]
    try:
        async with aiohttp.ClientSession() as session, session.get(url, ssl=ctx) as resp:
            body = await resp.read()
    finally:
        del ctx.wrap_bio
    assert len(made) == 1
    return Page(resp.status, body, made[0].version())


def aiohttp_session(url: str, ctx: ssl.SSLContext) -> Page:
    return asyncio.run(_aiohttp(url, ctx))


async def _asyncio_streams(url: str, ctx: ssl.SSLContext) -> Page:
    host, port = _host_port(url)
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
    version = writer.get_extra_info("ssl_object").version()
    writer.write(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return Page(int(head.split()[1]), body, version)


def asyncio_streams(url: str, ctx: ssl.SSLContext) -> Page:
    return asyncio.run(_asyncio_streams(url, ctx))


CLIENTS: dict[str, Callable[[str, ssl.SSLContext], Page]] = {
    "http.client": http_client,
    "urllib.request": urllib_request,
    "urllib3": urllib3_pool,
    "requests": requests_session,
    "httpx": httpx_sync,
    "httpx-async": httpx_async,
    "aiohttp": aiohttp_session,
    "asyncio": asyncio_streams,
}
