"""Every client library fetching a page through tlskit.compat from real servers."""

from __future__ import annotations

import ssl

import pytest

import tlskit.compat as tc

from .clients import CLIENTS, httpx_async_h2, httpx_sync_h2

SERVERS = ["openssl_good", "nginx", "tlskit_serve"]


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("client", list(CLIENTS))
def test_fetch_page(client: str, server: str, client_ctx: tc.SSLContext,
                    request: pytest.FixtureRequest) -> None:
    srv = request.getfixturevalue(server)
    page = CLIENTS[client](srv.url(), client_ctx)
    assert page.status == 200
    assert isinstance(page.tls, (tc.SSLSocket, tc.SSLObject))
    assert page.version == "TLSv1.3"
    marker = {"openssl_good": b"s_server", "nginx": b"hello from nginx",
              "tlskit_serve": b"TLSv1.3"}[server]
    assert marker in page.body
    assert client_ctx.session_stats()["connect_good"] >= 1


@pytest.mark.parametrize("client", list(CLIENTS))
def test_fetch_over_tls12(client: str, client_ctx: tc.SSLContext, nginx: object) -> None:
    client_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    page = CLIENTS[client](nginx.url(), client_ctx)  # type: ignore[attr-defined]
    assert (page.status, page.version) == (200, "TLSv1.2")
    assert page.body == b"hello from nginx\n"


@pytest.mark.parametrize("fetch", [httpx_sync_h2, httpx_async_h2], ids=["sync", "async"])
def test_httpx_http2(fetch: object, client_ctx: tc.SSLContext, nginx: object) -> None:
    page = fetch(nginx.url(), client_ctx)  # type: ignore[operator, attr-defined]
    assert (page.status, page.version, page.http_version) == (200, "TLSv1.3", "HTTP/2")
    assert isinstance(page.tls, (tc.SSLSocket, tc.SSLObject))
    assert page.body == b"hello from nginx\n"


@pytest.mark.parametrize("client", ["http.client", "urllib3", "httpx", "aiohttp", "asyncio"])
def test_ip_address_host(client: str, client_ctx: tc.SSLContext, openssl_good: object) -> None:
    # No SNI for an IP literal; the certificate's IP address SAN is what is checked.
    page = CLIENTS[client](openssl_good.url("127.0.0.1"), client_ctx)  # type: ignore[attr-defined]
    assert (page.status, page.version) == (200, "TLSv1.3")
