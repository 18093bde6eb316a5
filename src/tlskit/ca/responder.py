"""The local CA's HTTP responder (``tlskit ca ocsp``, `LocalCA.serve_ocsp`): OCSP over
HTTP as RFC 6960 appendix A describes it (POST, or GET with the request in the path),
and the two CRLs at the URLs the CA's certificates name."""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import socket
import socketserver
import sys
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from .. import _ocsp_der
from .model import INTERMEDIATE_CRL_PATH, MAX_OCSP_REQUEST, ROOT_CRL_PATH, Revocation, aware
from .ocsp import unsuccessful

if TYPE_CHECKING:
    from .authority import LocalCA


class _OCSPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, host: str, port: int, ca: LocalCA, log: Callable[[str], None] | None
    ) -> None:
        # address_family is read by TCPServer.__init__ when it creates the socket.
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.ca = ca
        self.log = log
        self.crls = _CRLCache(ca)
        super().__init__((host, port), _OCSPHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that resets or closes its connection mid-request is the client's
        business: one log line, not a traceback on the responder's terminal per client."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            if self.log is not None:
                self.log(f"{client_address[0]} went away mid-request")
            return
        super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup that can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])


class _CRLCache:
    """The CRL each issuer last signed, served again until it is out of date: until a
    revocation changes what it would list, or half its validity has passed (so a relying
    party never holds one near its nextUpdate). Signing one per GET would take a new CRL
    number and rewrite the CA's index on every fetch: disk writes for anyone who can
    reach the URL, and a CA directory that must stay writable just to serve."""

    def __init__(self, ca: LocalCA) -> None:
        self.ca = ca
        self._lock = threading.Lock()
        self._held: dict[str, tuple[list[Revocation], x509.CertificateRevocationList, bytes]] = {}

    def current(self, which: str) -> tuple[bytes, int]:
        """The DER CRL of ``which`` ("root" or "intermediate") and how many it revokes."""
        with self._lock:
            revocations = self.ca.revocations() if which == "intermediate" else []
            held = self._held.get(which)
            if held is None or held[0] != revocations or self._stale(held[1]):
                crl = self.ca.root_crl() if which == "root" else self.ca.crl()
                held = (revocations, crl, crl.public_bytes(serialization.Encoding.DER))
                self._held[which] = held
            return held[2], len(held[1])

    def _stale(self, crl: x509.CertificateRevocationList) -> bool:
        next_update = crl.next_update_utc
        if next_update is None:
            return True
        this_update = crl.last_update_utc
        return aware(self.ca.clock()) >= this_update + (next_update - this_update) / 2


class _OCSPHandler(BaseHTTPRequestHandler):
    """RFC 6960 appendix A: POST the DER request, or GET /<url-encoded base64 of it>."""

    server: _OCSPServer
    protocol_version = "HTTP/1.0"
    server_version = "tlskit-ocsp"
    timeout = 10  # seconds; a client that stalls mid-request must not pin a thread forever
    deadline = 30.0  # seconds for a whole connection: a client sending a byte every few
    # seconds never trips `timeout`, and would hold its thread for as long as it liked

    def handle(self) -> None:
        """Serve the connection, cutting it once `deadline` has passed: a read then sees
        the end of the stream and the request ends unanswered."""
        self._cut_lock = threading.Lock()
        self._served = False
        cutter = threading.Timer(self.deadline, self._cut)
        cutter.daemon = True
        cutter.start()
        try:
            super().handle()
        finally:
            # Timer.cancel() does not stop a cut already running: the flag (under the lock)
            # does, so no cut reaches the socket once the server goes on to close it (a
            # shutdown racing that close could meet the fd reused by another connection).
            with self._cut_lock:
                self._served = True
            cutter.cancel()

    def _cut(self) -> None:
        with self._cut_lock:
            if self._served:
                return
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.send_error(411, "Content-Length required")
            return
        if length < 0 or length > MAX_OCSP_REQUEST:
            self.send_error(413, "OCSP request too large")
            return
        body = self.rfile.read(length)
        if len(body) < length:  # the client stopped sending, or was cut off: nobody to answer
            self.close_connection = True
            if self.server.log is not None:
                self.server.log(f"{self.client_address[0]} POST cut short "
                                f"({len(body)} of {length} bytes)")
            return
        self._answer(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if len(path) > MAX_OCSP_REQUEST * 2:
            self.send_error(414, "OCSP request too large")
            return
        if path.endswith((ROOT_CRL_PATH, INTERMEDIATE_CRL_PATH)):
            self._send_crl(path)
            return
        self._answer(_decode_get_path(path))

    def _send_crl(self, path: str) -> None:
        """The issuer's current DER CRL (RFC 5280 4.2.1.13: what an http:// distribution
        point serves)."""
        which = "root" if path.endswith(ROOT_CRL_PATH) else "intermediate"
        try:
            body, revoked = self.server.crls.current(which)
        except Exception as exc:  # e.g. an unreadable index: say so, keep serving
            self.send_error(500, f"cannot make the CRL: {exc}")
            return
        self._send(body, "application/pkix-crl")
        if self.server.log is not None:
            self.server.log(f"{self.client_address[0]} GET {which} CRL ({revoked} revoked)")

    def _send(self, body: bytes, content_type: str, headers: dict[str, str] | None = None
              ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, der: bytes) -> None:
        try:
            body, summary = self.server.ca.answer_ocsp(der)
        except Exception as exc:  # a responder must answer, not drop the connection
            body = unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
            summary = f"internal error: {exc}"
        cache = _cache_headers(body) if self.command == "GET" else None
        self._send(body, "application/ocsp-response", cache)
        if self.server.log is not None:
            self.server.log(f"{self.client_address[0]} {self.command} {summary}")

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr line; `log` gets a better one."""


_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")
_MAX_PREFIX_SEGMENTS = 4  # path segments before the request that a GET path may carry


def _cache_headers(body: bytes) -> dict[str, str] | None:
    """RFC 5019 6.2: what lets an HTTP cache keep a GET answer until its nextUpdate (and no
    longer). None for an error answer, which has no validity to cache for."""
    response = ocsp.load_der_ocsp_response(body)
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return None
    produced = response.produced_at_utc
    expires = min(single.next_update_utc or produced for single in response.responses)
    max_age = max(0, int((expires - produced).total_seconds()))
    return {
        "Last-Modified": email.utils.format_datetime(produced, usegmt=True),
        "Expires": email.utils.format_datetime(expires, usegmt=True),
        "ETag": f'"{hashlib.sha256(body).hexdigest()}"',
        "Cache-Control": f"max-age={max_age}, public, no-transform, must-revalidate",
    }


def _decode_get_path(path: str) -> bytes:
    """The DER request in a GET path. Base64 may hold an unescaped "/", and a certificate's
    OCSP URL may have a path of its own, so the whole path is tried, then what follows each
    of its first few "/", then its last segment; the first that parses as an OCSP request
    wins (a bounded number of tries, whatever the path). The URL-safe alphabet is read
    too: unambiguous (the standard one has neither ``-`` nor ``_``), and a client that
    encodes so is then answered rather than refused.
    Undecodable input gives b"", answered as malformedRequest (RFC 6960 A.1)."""
    parts = path.lstrip("/").split("/", _MAX_PREFIX_SEGMENTS)
    suffixes = ["/".join(parts[i:]) for i in range(len(parts))]
    candidates = dict.fromkeys([*suffixes, path.rsplit("/", 1)[-1]])
    decoded: list[bytes] = []
    for candidate in map(urllib.parse.unquote, candidates):
        candidate = candidate.translate(_URLSAFE_TO_STANDARD)
        try:
            der = base64.b64decode(candidate + "=" * (-len(candidate) % 4), validate=True)
        except ValueError:
            continue
        try:
            _ocsp_der.parse_request(der)
        except _ocsp_der.OcspDERError:
            decoded.append(der)
            continue
        return der
    return decoded[0] if decoded else b""


class OCSPResponder:
    """A running OCSP responder; stop it with `close()` or by leaving a ``with`` block."""

    def __init__(
        self,
        ca: LocalCA,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self._server = _OCSPServer(host, port, ca, log)
        self.host = host
        self.port: int = self._server.server_port
        self._closed = False
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"tlskit-ocsp-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Where it answers (``http://host:port``): pass it as ``ocsp_url`` to
        `LocalCA.issue_server`; the CRLs are under it too."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        """Stop answering and wait for the serving thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> OCSPResponder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<OCSPResponder {self.url}{' closed' if self._closed else ''}>"
