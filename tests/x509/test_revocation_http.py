"""The revocation HTTP client against raw TCP servers on 127.0.0.1 speaking scripted bytes."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tlskit.x509 import http
from tlskit.x509.http import HttpError

from ..support.ports import refused_port

Script = Callable[[socket.socket, bytes], None]


class RawServer:
    """Accepts connections, reads the request head (and body), then runs ``script``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/path?q=1"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                request = _read_request(conn)
                self.requests.append(request)
                with contextlib.suppress(OSError):
                    self.script(conn, request)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


def _read_request(conn: socket.socket) -> bytes:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
            while len(body) < length:
                body += conn.recv(4096)
    return head + b"\r\n\r\n" + body


def replying(payload: bytes) -> Script:
    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(payload)

    return script


@pytest.fixture
def serve() -> Iterator[Callable[[Script], RawServer]]:
    servers: list[RawServer] = []

    def start(script: Script) -> RawServer:
        server = RawServer(script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_get_with_content_length(serve: Callable[[Script], RawServer]) -> None:
    server = serve(replying(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello"))
    response = http.get(server.url, timeout=5)
    assert (response.status, response.reason, response.body) == (200, "OK", b"hello")
    assert response.headers["x-a"] == "1"
    request = server.requests[0]
    assert request.startswith(b"GET /path?q=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.url.split(':')[2].split('/')[0]}".encode() in request
    assert b"Connection: close" in request


def test_post_sends_body_and_type(serve: Callable[[Script], RawServer]) -> None:
    server = serve(replying(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    assert http.post(server.url, b"\x30\x03abc", "application/ocsp-request").body == b"ok"
    request = server.requests[0]
    assert b"POST /path?q=1 HTTP/1.1" in request
    assert b"Content-Type: application/ocsp-request" in request
    assert b"Content-Length: 5" in request
    assert request.endswith(b"\r\n\r\n\x30\x03abc")


def test_chunked_body(serve: Callable[[Script], RawServer]) -> None:
    payload = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"
    )
    server = serve(replying(payload))
    assert http.get(server.url).body == b"hello 0123456789"


def test_body_until_close(serve: Callable[[Script], RawServer]) -> None:
    server = serve(replying(b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 100_000))
    assert http.get(server.url).body == b"x" * 100_000


def test_interim_response_is_skipped(serve: Callable[[Script], RawServer]) -> None:
    server = serve(
        replying(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Nope\r\nContent-Length: 0\r\n\r\n")
    )
    response = http.get(server.url)
    assert (response.status, response.reason, response.body) == (404, "Nope", b"")


@pytest.mark.parametrize(
    "payload",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\n" + b"y" * 5000,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"400\r\n" + b"z" * 1024,
    ],
    ids=["content-length", "until-close", "chunked"],
)
def test_size_cap(serve: Callable[[Script], RawServer], payload: bytes) -> None:
    server = serve(replying(payload))
    with pytest.raises(HttpError, match="sent a response larger than 1000 bytes"):
        http.get(server.url, max_bytes=1000)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"SMTP ready\r\n\r\n", "malformed status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab", "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n", "malformed chunk"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported transfer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "in the middle of"),
        (b"HTTP/1.1 200 OK\r\n", "in the middle of the response headers"),
    ],
)
def test_malformed_responses(
    serve: Callable[[Script], RawServer], payload: bytes, message: str
) -> None:
    server = serve(replying(payload))
    with pytest.raises(HttpError, match=message):
        http.get(server.url)


def test_silent_server_times_out(serve: Callable[[Script], RawServer]) -> None:
    release = threading.Event()
    server = serve(lambda conn, request: release.wait(5))
    started = time.monotonic()
    try:
        with pytest.raises(HttpError, match=r"timed out after 0\.3 s"):
            http.get(server.url, timeout=0.3)
    finally:
        release.set()
    # without the timeout the server's 5 s hold would end it; the slack is for a loaded machine
    assert time.monotonic() - started < 4


def test_trickling_server_is_bounded_by_one_deadline(
    serve: Callable[[Script], RawServer],
) -> None:
    """One byte every 50 ms never trips a per-recv timeout; the overall deadline catches it."""

    def trickle(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):
            conn.sendall(b"a")
            time.sleep(0.05)

    server = serve(trickle)
    started = time.monotonic()
    with pytest.raises(HttpError, match=r"timed out after 0\.5 s"):
        http.get(server.url, timeout=0.5)
    assert time.monotonic() - started < 4  # the whole trickle takes 5 s


def test_connection_refused() -> None:
    with pytest.raises(HttpError, match=r"^unreachable \(connection refused\)$"):
        http.get(f"http://127.0.0.1:{refused_port()}/x")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://127.0.0.1/x", "is not an http:// URL"),
        ("ldap://127.0.0.1/x", "is not an http:// URL"),
        ("http:///nohost", "has no host"),
        ("http://127.0.0.1:99999/x", "is not a valid URL"),
        ("http://exa mple/x", "not allowed"),
        ("http://bücher.test/x", "non-ASCII"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(HttpError, match=message):
        http.get(url)


def _redirecting(location: str, status: bytes = b"302 Found") -> Script:
    return replying(b"HTTP/1.1 " + status + b"\r\nLocation: " + location.encode()
                    + b"\r\nContent-Length: 0\r\n\r\n")


def test_get_following_redirects(serve: Callable[[Script], RawServer]) -> None:
    """A CRL moved behind http:// redirects (absolute or relative) is still fetched."""
    final = serve(replying(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ncrl"))
    middle = serve(_redirecting(final.url, b"301 Moved Permanently"))
    first = serve(_redirecting("/elsewhere", b"307 Temporary Redirect"))
    assert http.get_following_redirects(middle.url).body == b"crl"
    with pytest.raises(HttpError) as caught:
        http.get_following_redirects(first.url, max_redirects=2)  # /elsewhere redirects too
    assert str(caught.value) == "keeps redirecting (more than 2 redirects)"
    assert [r.split(b" ")[1] for r in first.requests] == [b"/path?q=1"] + [b"/elsewhere"] * 2
    assert http.get(middle.url).status == 301  # the plain GET never follows


@pytest.mark.parametrize("location", ["https://127.0.0.1/crl", "ldap://127.0.0.1/cn=crl"])
def test_redirect_to_another_scheme_is_refused(
    serve: Callable[[Script], RawServer], location: str
) -> None:
    server = serve(_redirecting(location))
    with pytest.raises(HttpError) as caught:
        http.get_following_redirects(server.url)
    assert str(caught.value) == f"redirects to {location}, which is not an http:// URL"
    assert len(server.requests) == 1
