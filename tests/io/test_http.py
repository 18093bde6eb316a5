"""HTTP over tlskit: http.server handlers on TLSServer, http.client and urllib clients."""

from __future__ import annotations

import functools
import http.client
import http.server
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import tlskit
from tlskit import ClientConfig


class TLSHTTPConnection(http.client.HTTPConnection):
    """`HTTPSConnection` equivalent whose socket comes from `tlskit.connect`."""

    default_port = 443

    def __init__(self, host: str, port: int | None = None, *, config: ClientConfig | None = None,
                 server_name: str | None = None, **kw: Any) -> None:
        super().__init__(host, port, **kw)
        self.tls_config = config
        self.server_name = server_name

    def connect(self) -> None:
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        self.sock = tlskit.connect(self.host, self.port, self.tls_config,
                                   server_name=self.server_name, timeout=timeout)


class TLSKitHTTPSHandler(urllib.request.HTTPSHandler):
    """urllib's https:// through tlskit (replaces the default HTTPS handler)."""

    def __init__(self, config: ClientConfig) -> None:
        super().__init__()
        self.tls_config = config

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(TLSHTTPConnection, config=self.tls_config), req)


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        reply = json.dumps({"length": len(body), "peer_tls": self.request.version(),
                            "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text("<h1>tlskit</h1>\n")
    (tmp_path / "big.bin").write_bytes(bytes(range(256)) * 2048)
    return tmp_path


@pytest.fixture
def https_port(tls_server_factory, site: Path) -> int:
    srv = tls_server_factory(functools.partial(Handler, directory=str(site)))
    return srv.server_address[1]


def test_http_client_keep_alive(https_port: int, site: Path,
                                client_config: ClientConfig) -> None:
    conn = TLSHTTPConnection("localhost", https_port, config=client_config, timeout=10)
    try:
        conn.request("GET", "/index.html")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.read() == b"<h1>tlskit</h1>\n"
        first_sock = conn.sock
        conn.request("GET", "/big.bin")  # same connection (HTTP/1.1 keep-alive)
        resp = conn.getresponse()
        assert resp.read() == (site / "big.bin").read_bytes()
        assert conn.sock is first_sock
        payload = b"x" * 300_000
        conn.request("POST", "/upload", body=payload)
        resp = conn.getresponse()
        assert json.loads(resp.read()) == {"length": len(payload), "peer_tls": "TLSv1.3",
                                           "path": "/upload"}
        conn.request("GET", "/missing")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 404
    finally:
        conn.close()


def test_http_response_over_makefile(https_port: int, client_config: ClientConfig) -> None:
    sock = tlskit.connect("127.0.0.1", https_port, client_config, timeout=10)
    sock.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    resp = http.client.HTTPResponse(sock)  # reads through sock.makefile("rb")
    resp.begin()
    assert resp.status == 200
    assert resp.getheader("Content-Length") == "16"
    assert resp.read() == b"<h1>tlskit</h1>\n"
    resp.close()
    sock.close()


def test_urllib_handler(https_port: int, client_config: ClientConfig) -> None:
    opener = urllib.request.build_opener(TLSKitHTTPSHandler(client_config))
    with opener.open(f"https://localhost:{https_port}/index.html", timeout=10) as resp:
        assert resp.status == 200
        assert resp.read() == b"<h1>tlskit</h1>\n"
    req = urllib.request.Request(f"https://127.0.0.1:{https_port}/echo", data=b"abc",
                                 method="POST")
    with opener.open(req, timeout=10) as resp:
        assert json.loads(resp.read())["length"] == 3
