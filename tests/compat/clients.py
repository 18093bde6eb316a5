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

import tlskit.compat as tc


@dataclass
class Page:
    status: int
    body: bytes
    tls: Any  # the library's TLS socket or SSL object: a tlskit.compat one
    http_version: str = "HTTP/1.1"

    @property
    def version(self) -> str | None:
        return self.tls.version()  # type: ignore[no-any-return]


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def http_client(url: str, ctx: ssl.SSLContext) -> Page:
    host, port = _host_port(url)
    conn = HTTPSConnection(host, port, context=ctx, timeout=30)
    try:
        conn.connect()
        tls = conn.sock
        conn.request("GET", "/")
        resp = conn.getresponse()
        return Page(resp.status, resp.read(), tls)
    finally:
        conn.close()


def urllib_request(url: str, ctx: ssl.SSLContext) -> Page:
    with urllib.request.urlopen(url, context=ctx, timeout=30) as resp:
        tls = resp.fp.raw._sock
        return Page(resp.status, resp.read(), tls)


def _urllib3_socket(resp: Any) -> Any:
    # The socket under the http.client response (the pool may already have let go of it).
    return resp._fp.fp.raw._sock


def urllib3_pool(url: str, ctx: ssl.SSLContext) -> Page:
    with urllib3.PoolManager(ssl_context=ctx, retries=False, timeout=30) as pool:
        resp = pool.request("GET", url, preload_content=False)
        tls = _urllib3_socket(resp)
        body = resp.read()
        resp.release_conn()
        return Page(resp.status, body, tls)


def requests_session(url: str, ctx: ssl.SSLContext) -> Page:
    with requests.Session() as session:
        session.mount("https://", tc.requests_adapter(ctx, max_retries=0))
        resp = session.get(url, timeout=30, stream=True)
        tls = _urllib3_socket(resp.raw)
        return Page(resp.status_code, resp.content, tls)


def _httpx_tls(resp: httpx.Response) -> Any:
    return resp.extensions["network_stream"].get_extra_info("ssl_object")


def httpx_sync(url: str, ctx: ssl.SSLContext, http2: bool = False) -> Page:
    with httpx.Client(verify=ctx, http2=http2, timeout=30) as client, \
            client.stream("GET", url) as resp:
        return Page(resp.status_code, resp.read(), _httpx_tls(resp), resp.http_version)


async def _httpx_async(url: str, ctx: ssl.SSLContext, http2: bool) -> Page:
    async with httpx.AsyncClient(verify=ctx, http2=http2, timeout=30) as client, \
            client.stream("GET", url) as resp:
        return Page(resp.status_code, await resp.aread(), _httpx_tls(resp),
                    resp.http_version)


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
    return Page(resp.status, body, made[0])


def aiohttp_session(url: str, ctx: ssl.SSLContext) -> Page:
    return asyncio.run(_aiohttp(url, ctx))


async def _asyncio_streams(url: str, ctx: ssl.SSLContext) -> Page:
    host, port = _host_port(url)
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
    tls = writer.get_extra_info("ssl_object")
    writer.write(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return Page(int(head.split()[1]), body, tls)


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
