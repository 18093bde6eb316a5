"""A deliberately tiny HTTP/1.1 client for revocation fetches (OCSP POST, CRL GET).

Why not urllib: revocation fetches happen in the middle of a handshake, against servers the
peer chose (the URLs come from the certificate). They must be bounded in time and in size, must
never follow redirects to other schemes (RFC 5280 / RFC 6960 say "http", and following https would
recurse into certificate validation; a CRL GET follows http:// redirects, as OpenSSL does), and
must not pick up proxies or other process-wide settings.
A plain socket with one deadline and one byte cap gives exactly that and nothing more.

Every failure is an `HttpError` whose text reads naturally after the URL, for example
``"unreachable (connection refused)"`` so callers can say
``f"OCSP responder {url} {error}"``.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

__all__ = [
    "MAX_REDIRECTS", "MAX_RESPONSE_BYTES", "HttpError", "HttpResponse", "get",
    "get_following_redirects", "ok_body", "post", "request",
]

#: Default cap on a response body. CRLs of big public CAs can exceed this; they are exactly
#: what a handshake should not be waiting for, so the cap is deliberately modest.
MAX_RESPONSE_BYTES = 1024 * 1024

#: Redirects `get_following_redirects` follows before giving up.
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

#: Cap on the status line plus headers, so a hostile server cannot stream headers forever.
MAX_HEADER_BYTES = 64 * 1024

_RECV_CHUNK = 64 * 1024
_MAX_TRAILERS = 64
_HEX = frozenset(b"0123456789abcdefABCDEF")


class HttpError(Exception):
    """A fetch failed. ``str(err)`` reads as a predicate: "unreachable (timed out after 5 s)"."""


@dataclass(frozen=True)
class HttpResponse:
    """A complete response. Header names are lower-cased; repeated headers are comma-joined."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    path: str
    host_header: str


def get(url: str, *, timeout: float = 5.0, max_bytes: int = MAX_RESPONSE_BYTES) -> HttpResponse:
    """GET ``url``; see `request`."""
    return request("GET", url, timeout=timeout, max_bytes=max_bytes)


def get_following_redirects(
    url: str,
    *,
    timeout: float = 5.0,
    max_bytes: int = MAX_RESPONSE_BYTES,
    max_redirects: int = MAX_REDIRECTS,
) -> HttpResponse:
    """GET ``url``, following redirects to other http:// URLs, all within one ``timeout``.

    CRL URLs are often moved behind a redirect, and OpenSSL's CRL download (OSSL_HTTP_get)
    follows them: the CRL is signed, so where it came from does not matter. A redirect to any
    other scheme is an `HttpError` (https would recurse into certificate validation); so is
    running out of redirects or of time. A redirect without a Location is returned as is.
    """
    deadline = time.monotonic() + timeout
    current = url
    for _ in range(max_redirects + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HttpError(f"timed out after {timeout:g} s following redirects")
        response = get(current, timeout=remaining, max_bytes=max_bytes)
        location = response.headers.get("location", "").strip()
        if response.status not in _REDIRECT_STATUSES or not location:
            return response
        current = urljoin(current, location)
        if not current.lower().startswith("http://"):
            raise HttpError(f"redirects to {current}, which is not an http:// URL")
    raise HttpError(f"keeps redirecting (more than {max_redirects} redirects)")


def post(
    url: str,
    body: bytes,
    content_type: str,
    *,
    timeout: float = 5.0,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> HttpResponse:
    """POST ``body`` to ``url``; see `request`."""
    return request(
        "POST",
        url,
        body=body,
        headers={"Content-Type": content_type},
        timeout=timeout,
        max_bytes=max_bytes,
    )


def ok_body(response: HttpResponse) -> bytes:
    """The body of a 200 answer; any other status is an `HttpError` ("answered HTTP 404
    Not Found"): revocation evidence only ever comes with a 200."""
    if response.status != 200:
        raise HttpError(f"answered HTTP {response.status} {response.reason}".rstrip())
    return response.body


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> HttpResponse:
    """Send one request on a fresh connection and read the whole response.

    ``timeout`` bounds the entire exchange (connect, send and read together), so a server that
    trickles one byte a second cannot hold the caller longer than ``timeout``. Redirects are
    returned as-is, never followed. Raises `HttpError` on any failure; any status is returned.
    """
    target = _parse_url(url)
    deadline = time.monotonic() + timeout
    wire = _encode_request(method, target, body, headers or {})
    sock = _connect(target, timeout)
    try:
        _send_all(sock, wire, deadline, timeout)
        reader = _Reader(sock, deadline, timeout)
        return _read_response(reader, max_bytes)
    finally:
        sock.close()


def _parse_url(url: str) -> _Target:
    """Accept only ``http://host[:port]/path``; anything else is the caller's problem to report."""
    if not url.isascii():
        raise HttpError("contains non-ASCII characters")
    try:
        parts = urlsplit(url)
        port = parts.port or 80
    except ValueError as exc:
        raise HttpError(f"is not a valid URL ({exc})") from None
    if parts.scheme.lower() != "http":
        raise HttpError("is not an http:// URL")
    host = parts.hostname
    if not host:
        raise HttpError("has no host")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    if any(ch in path for ch in "\r\n ") or any(ch in host for ch in "\r\n "):
        raise HttpError("contains characters not allowed in a request line")
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == 80 else f"{shown}:{port}"
    return _Target(host, port, path, host_header)


def _encode_request(
    method: str, target: _Target, body: bytes | None, extra: dict[str, str]
) -> bytes:
    """Serialise the request; ``Connection: close`` lets us read the body up to EOF if needed."""
    lines = [
        f"{method} {target.path} HTTP/1.1",
        f"Host: {target.host_header}",
        "User-Agent: tlskit-revocation/1",
        "Accept: */*",
        "Connection: close",
    ]
    lines += [f"{name}: {value}" for name, value in extra.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    return head + (body or b"")


def _connect(target: _Target, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((target.host, target.port), timeout=timeout)
    except ConnectionRefusedError:
        raise HttpError("unreachable (connection refused)") from None
    except TimeoutError:
        raise HttpError(f"unreachable (connect timed out after {timeout:g} s)") from None
    except socket.gaierror as exc:
        raise HttpError(f"unreachable (cannot resolve host: {exc.strerror})") from None
    except OSError as exc:
        raise HttpError(f"unreachable ({exc.strerror or exc})") from None
    except ValueError as exc:  # e.g. IDNA encoding of a bizarre host name
        raise HttpError(f"unreachable (invalid host: {exc})") from None


def _send_all(sock: socket.socket, data: bytes, deadline: float, timeout: float) -> None:
    view = memoryview(data)
    while view:
        sock.settimeout(_remaining(deadline, timeout))
        try:
            sent = sock.send(view)
        except TimeoutError:
            raise HttpError(f"timed out after {timeout:g} s") from None
        except OSError as exc:
            raise HttpError(f"closed the connection ({exc.strerror or exc})") from None
        view = view[sent:]


def _remaining(deadline: float, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise HttpError(f"timed out after {timeout:g} s")
    return left


class _Reader:
    """Buffered reads against one deadline; every read says how much it may buffer."""

    def __init__(self, sock: socket.socket, deadline: float, timeout: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._timeout = timeout
        self.buffer = bytearray()
        self.eof = False

    def fill(self) -> None:
        """Read at least one more byte, or set ``eof``."""
        self._sock.settimeout(_remaining(self._deadline, self._timeout))
        try:
            chunk = self._sock.recv(_RECV_CHUNK)
        except TimeoutError:
            raise HttpError(f"timed out after {self._timeout:g} s") from None
        except OSError as exc:
            raise HttpError(f"closed the connection ({exc.strerror or exc})") from None
        if chunk:
            self.buffer += chunk
        else:
            self.eof = True

    def read_until(self, marker: bytes, limit: int, what: str) -> bytes:
        """Return everything up to and including ``marker``; at most ``limit`` bytes."""
        while True:
            index = self.buffer.find(marker)
            if index >= 0:
                end = index + len(marker)
                data = bytes(self.buffer[:end])
                del self.buffer[:end]
                return data
            if len(self.buffer) > limit:
                raise HttpError(f"sent {what} longer than {limit} bytes")
            if self.eof:
                raise HttpError(f"closed the connection in the middle of {what}")
            self.fill()

    def read_exact(self, count: int, what: str) -> bytes:
        while len(self.buffer) < count:
            if self.eof:
                raise HttpError(f"closed the connection in the middle of {what}")
            self.fill()
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def read_to_eof(self, limit: int) -> bytes:
        while not self.eof:
            if len(self.buffer) > limit:
                raise HttpError(f"sent a response larger than {limit} bytes")
            self.fill()
        if len(self.buffer) > limit:
            raise HttpError(f"sent a response larger than {limit} bytes")
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def _read_response(reader: _Reader, max_bytes: int) -> HttpResponse:
    """Read a response, skipping interim 1xx responses we never asked for but may receive."""
    while True:
        status, reason, headers = _read_head(reader)
        if not 100 <= status < 200:
            break
    if status in (204, 304):
        return HttpResponse(status, reason, headers, b"")
    return HttpResponse(status, reason, headers, _read_body(reader, headers, max_bytes))


def _read_head(reader: _Reader) -> tuple[int, str, dict[str, str]]:
    raw = reader.read_until(b"\r\n\r\n", MAX_HEADER_BYTES, "the response headers")
    try:
        text = raw.decode("iso-8859-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise HttpError("sent undecodable headers") from None
    status_line, *header_lines = text[:-4].split("\r\n")
    status, reason = _parse_status_line(status_line)
    return status, reason, _parse_headers(header_lines)


def _parse_status_line(line: str) -> tuple[int, str]:
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise HttpError(f"sent a malformed status line {line[:80]!r}")
    return int(code), reason.strip()


def _parse_headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(f"sent a malformed header line {line[:80]!r}")
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _read_body(reader: _Reader, headers: dict[str, str], max_bytes: int) -> bytes:
    """Framing per RFC 9112 section 6.3: chunked wins, then Content-Length, then EOF."""
    encoding = headers.get("transfer-encoding", "").lower()
    if encoding:
        if encoding.split(",")[-1].strip() != "chunked":
            raise HttpError(f"used an unsupported transfer encoding {encoding!r}")
        return _read_chunked(reader, max_bytes)
    length = headers.get("content-length")
    if length is not None:
        return reader.read_exact(_content_length(length, max_bytes), "the response body")
    return reader.read_to_eof(max_bytes)


def _content_length(value: str, max_bytes: int) -> int:
    values = {part.strip() for part in value.split(",")}
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise HttpError(f"sent an invalid Content-Length {value[:40]!r}")
    length = int(values.pop())
    if length > max_bytes:
        raise HttpError(f"sent a response larger than {max_bytes} bytes")
    return length


def _read_chunked(reader: _Reader, max_bytes: int) -> bytes:
    body = bytearray()
    while True:
        size_line = reader.read_until(b"\r\n", 1024, "a chunk header")
        size_text = size_line[:-2].split(b";", 1)[0].strip()
        # int(..., 16) would also accept "0x", "+" and "_"; the grammar allows only HEXDIG.
        if not size_text or len(size_text) > 16 or not all(c in _HEX for c in size_text):
            raise HttpError("sent a malformed chunk header")
        size = int(size_text, 16)
        if size == 0:
            _skip_trailers(reader)
            return bytes(body)
        if len(body) + size > max_bytes:
            raise HttpError(f"sent a response larger than {max_bytes} bytes")
        body += reader.read_exact(size, "a chunk")
        if reader.read_exact(2, "a chunk") != b"\r\n":
            raise HttpError("sent a chunk without its terminating CRLF")


def _skip_trailers(reader: _Reader) -> None:
    for _ in range(_MAX_TRAILERS):
        if reader.read_until(b"\r\n", MAX_HEADER_BYTES, "the trailers") == b"\r\n":
            return
    raise HttpError(f"sent more than {_MAX_TRAILERS} trailer lines")
