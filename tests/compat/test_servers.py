"""The server side: asyncio, http.server and uvicorn serving over a tlskit.compat server
context, fetched by curl and by stdlib ssl clients."""

from __future__ import annotations

import asyncio
import re
import shutil
import ssl
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn

import tlskit.compat as tc

from .conftest import PKI

CURL = shutil.which("curl")


def curl(url: str, root: Path, *extra: str) -> tuple[int, str, str]:
    """GET with curl: (exit code, body, the TLS version curl reports)."""
    assert CURL, "curl is required (bash .ci/install-test-deps.sh)"
    proc = subprocess.run([CURL, "-sS", "-v", "--max-time", "30", "--cacert", str(root),
                           *extra, url], capture_output=True, text=True, timeout=60)
    found = re.search(r"SSL connection using (TLSv1\.[23])", proc.stderr)
    return proc.returncode, proc.stdout, found.group(1) if found else ""


def stdlib_client(root: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(root))


# -- asyncio.start_server ---------------------------------------------------------------------

async def _serve_asyncio(server_ctx: tc.SSLContext, pki: PKI) -> tuple[list[str], Any, Any]:
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("ssl_object").version())
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\nConnection: close\r\n\r\n"
                     b"hello asyncio\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    async with server:
        # A stdlib ssl client...
        reader, writer = await asyncio.open_connection(
            "localhost", port, ssl=stdlib_client(pki.root))
        client_version = writer.get_extra_info("ssl_object").version()
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        response = await reader.read()
        writer.close()
        await writer.wait_closed()
        # ...and curl.
        proc = await asyncio.create_subprocess_exec(
            CURL or "curl", "-sS", "-v", "--max-time", "30", "--cacert", str(pki.root),
            f"https://localhost:{port}/", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
    return seen, (client_version, response), (proc.returncode, out, err)


def test_asyncio_start_server(server_ctx: tc.SSLContext, pki: PKI) -> None:
    seen, (version, response), (rc, out, err) = asyncio.run(_serve_asyncio(server_ctx, pki))
    assert version == "TLSv1.3"
    assert response.endswith(b"hello asyncio\n") and response.startswith(b"HTTP/1.1 200")
    assert rc == 0, err.decode()
    assert out == b"hello asyncio\n"
    assert b"SSL connection using TLSv1.3" in err
    assert seen == ["TLSv1.3", "TLSv1.3"]
    assert server_ctx.session_stats()["accept_good"] == 2


# -- http.server ------------------------------------------------------------------------------

class Hello(BaseHTTPRequestHandler):
    versions: list[str] = []

    def do_GET(self) -> None:
        self.versions.append(self.request.version())
        body = b"hello http.server\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def https_server(server_ctx: tc.SSLContext) -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


def test_http_server_curl(https_server: ThreadingHTTPServer, pki: PKI) -> None:
    Hello.versions = []
    port = https_server.server_address[1]
    rc, body, version = curl(f"https://localhost:{port}/", pki.root)
    assert (rc, body, version) == (0, "hello http.server\n", "TLSv1.3")
    rc, body, version = curl(f"https://localhost:{port}/", pki.root, "--tlsv1.2",
                             "--tls-max", "1.2")
    assert (rc, body, version) == (0, "hello http.server\n", "TLSv1.2")
    assert Hello.versions == ["TLSv1.3", "TLSv1.2"]


def test_http_server_urllib(https_server: ThreadingHTTPServer, pki: PKI) -> None:
    port = https_server.server_address[1]
    with urllib.request.urlopen(f"https://localhost:{port}/",
                                context=stdlib_client(pki.root), timeout=30) as resp:
        assert resp.fp.raw._sock.version() == "TLSv1.3"
        assert resp.read() == b"hello http.server\n"


def test_http_server_survives_a_failed_handshake(https_server: ThreadingHTTPServer,
                                                 pki: PKI, tmp_path: Path) -> None:
    # curl trusting another root gives up; the server goes on serving the next client.
    other = tmp_path / "other.pem"
    from tlskit.ca import LocalCA
    other.write_bytes(LocalCA.create().export_root_pem())
    port = https_server.server_address[1]
    rc, _, _ = curl(f"https://localhost:{port}/", other)
    assert rc == 60  # CURLE_PEER_FAILED_VERIFICATION
    rc, body, version = curl(f"https://localhost:{port}/", pki.root)
    assert (rc, body, version) == (0, "hello http.server\n", "TLSv1.3")


# -- uvicorn ----------------------------------------------------------------------------------

async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    body = f"hello uvicorn over {scope['scheme']}\n".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def uvicorn_server(server_ctx: tc.SSLContext) -> Iterator[int]:
    import socket
    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(asgi_app, log_level="warning", lifespan="off")
    config.load()
    config.ssl = server_ctx  # uvicorn hands this to loop.create_server(ssl=...)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(30)
    sock.close()


def test_uvicorn_curl(uvicorn_server: int, pki: PKI) -> None:
    rc, body, version = curl(f"https://localhost:{uvicorn_server}/", pki.root)
    assert (rc, version) == (0, "TLSv1.3")
    assert body == "hello uvicorn over https\n"


# -- aiohttp's server ---------------------------------------------------------------------------

async def _aiohttp_server(server_ctx: tc.SSLContext, client_ctx: tc.SSLContext,
                          pki: PKI) -> tuple[str, str, tuple[int | None, bytes, bytes]]:
    from aiohttp import ClientSession, web

    async def hello(request: web.Request) -> web.Response:
        assert request.transport is not None
        version = request.transport.get_extra_info("ssl_object").version()
        return web.Response(text=f"hello aiohttp over {version}\n")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"https://localhost:{port}/"
        async with ClientSession() as session, session.get(url, ssl=client_ctx) as resp:
            text = await resp.text()
        proc = await asyncio.create_subprocess_exec(
            CURL or "curl", "-sS", "-v", "--max-time", "30", "--cacert", str(pki.root), url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
    finally:
        await runner.cleanup()
    return url, text, (proc.returncode, out, err)


def test_aiohttp_server(server_ctx: tc.SSLContext, client_ctx: tc.SSLContext,
                        pki: PKI) -> None:
    _, text, (rc, out, err) = asyncio.run(_aiohttp_server(server_ctx, client_ctx, pki))
    assert text == "hello aiohttp over TLSv1.3\n"  # tlskit on both ends
    assert rc == 0, err.decode()
    assert out == b"hello aiohttp over TLSv1.3\n"
    assert b"SSL connection using TLSv1.3" in err


# -- hypercorn, HTTP/2 by ALPN ------------------------------------------------------------------

async def asgi_versions(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = f"hello hypercorn over HTTP/{scope['http_version']}\n".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def test_hypercorn_http2_curl(pki: PKI) -> None:
    import socket

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    class TlskitConfig(Config):
        """hypercorn's own context recipe, on a tlskit.compat context."""

        def create_ssl_context(self) -> ssl.SSLContext:
            ctx = tc.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.set_ciphers(self.ciphers)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.options = ssl.OP_NO_COMPRESSION
            ctx.set_alpn_protocols(self.alpn_protocols)
            ctx.load_cert_chain(self.certfile, self.keyfile)
            return ctx

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = TlskitConfig()
    config.bind = [f"fd://{listener.detach()}"]  # hypercorn owns (and closes) it
    config.certfile, config.keyfile = str(pki.good.fullchain), str(pki.good.key)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete,
        args=(serve(asgi_versions, config, shutdown_trigger=stop.wait),), daemon=True)
    thread.start()
    try:
        rc, body, version = curl(f"https://localhost:{port}/", pki.root, "--http2")
        assert (rc, body, version) == (0, "hello hypercorn over HTTP/2\n", "TLSv1.3")
        rc, body, version = curl(f"https://localhost:{port}/", pki.root, "--http1.1",
                                 "--tls-max", "1.2")
        assert (rc, body, version) == (0, "hello hypercorn over HTTP/1.1\n", "TLSv1.2")
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


@pytest.mark.parametrize(("sent", "reason", "says"), [
    (b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "HTTP_REQUEST", "plain HTTP request"),
    (b"CONNECT localhost:443 HTTP/1.1\r\n\r\n", "HTTPS_PROXY_REQUEST", "proxy request"),
    (b"SSH-2.0-OpenSSH_9.6\r\n", "WRONG_VERSION_NUMBER", "plain text ('SSH-2.0"),
])
@pytest.mark.parametrize("make", [ssl.SSLContext, tc.SSLContext], ids=["ssl", "tlskit"])
def test_server_given_plain_text(make: type[ssl.SSLContext], sent: bytes, reason: str,
                                 says: str, pki: PKI) -> None:
    """http:// to a TLS port: the server's error has OpenSSL's reason (tlskit's text also
    says what came instead of a ClientHello)."""
    import socket
    ctx = make(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.good.fullchain, pki.good.key)
    with socket.create_server(("127.0.0.1", 0)) as listener, \
            socket.create_connection(listener.getsockname()) as client:
        client.sendall(sent)
        server, _ = listener.accept()
        with server, pytest.raises(ssl.SSLError) as info:
            ctx.wrap_socket(server, server_side=True)
    assert info.value.reason == reason
    if make is tc.SSLContext:
        assert says in str(info.value)
