"""Blocking servers: `wrap_server_socket` (a TLS listener) and `TLSServer` (socketserver).

Accepting never shakes hands: each accepted `TLSSocket` runs its handshake lazily in the
thread that first reads or writes it (bounded by ``handshake_timeout``), so a slow or
silent client cannot stall the accept loop.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
from typing import Any

from ..config import ServerConfig
from ..connection import ServerConnection
from ..errors import TLSError
from ..keylog import with_keylog
from .blocking import TLSSocket

__all__ = ["TLSListener", "TLSServer", "wrap_server_socket"]

log = logging.getLogger("tlskit.io")


def _peer_label(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)


class TLSListener:
    """A listening TCP socket whose `accept` returns server-side `TLSSocket`s."""

    def __init__(self, sock: socket.socket, config: ServerConfig, *,
                 handshake_timeout: float | None = 30.0) -> None:
        self.socket = sock
        self.config = with_keylog(config)
        self.handshake_timeout = handshake_timeout

    def wrap_accepted(self, sock: socket.socket, addr: Any) -> TLSSocket:
        """Wrap a socket accepted elsewhere; the handshake happens on first use."""
        try:
            conn = ServerConnection(self.config)
        except BaseException:
            sock.close()
            raise
        return TLSSocket(sock, conn, server_side=True, handshake_timeout=self.handshake_timeout,
                         peer=_peer_label(addr))

    def accept(self) -> tuple[TLSSocket, Any]:
        sock, addr = self.socket.accept()
        return self.wrap_accepted(sock, addr), addr

    def close(self) -> None:
        self.socket.close()

    def fileno(self) -> int:
        return self.socket.fileno()

    def getsockname(self) -> Any:
        return self.socket.getsockname()

    def settimeout(self, timeout: float | None) -> None:
        self.socket.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self.socket.gettimeout()

    def listen(self, backlog: int = socket.SOMAXCONN) -> None:
        self.socket.listen(backlog)

    def __enter__(self) -> TLSListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        try:
            where = _peer_label(self.socket.getsockname())
        except OSError:
            where = "closed"
        return f"<tlskit.TLSListener {where}>"


def wrap_server_socket(listening_sock: socket.socket, config: ServerConfig, *,
                       handshake_timeout: float | None = 30.0) -> TLSListener:
    """Wrap a bound, listening socket: ``accept()`` yields ``(TLSSocket, address)``."""
    return TLSListener(listening_sock, config, handshake_timeout=handshake_timeout)


class TLSServer(socketserver.ThreadingTCPServer):
    """`socketserver.ThreadingTCPServer` speaking TLS 1.3, one thread per connection.

    Works with `socketserver.StreamRequestHandler` and `http.server`'s handlers. The
    handshake runs in the connection's thread before the handler is created; a failure is
    logged on the ``tlskit.io`` logger and passed to `handshake_failed`, never raised into
    the serving loop.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, server_address: Any, RequestHandlerClass: Any,
                 config: ServerConfig, bind_and_activate: bool = True, *,
                 handshake_timeout: float | None = 30.0) -> None:
        self.tls_config = with_keylog(config)
        self.handshake_timeout = handshake_timeout
        super().__init__(server_address, RequestHandlerClass, bind_and_activate)

    def server_bind(self) -> None:
        # Like http.server.HTTPServer, so HTTP handlers find server_name/server_port.
        super().server_bind()
        host, port = self.server_address[:2]
        self.server_name = host or "localhost"  # no reverse DNS lookup, unlike HTTPServer
        self.server_port = port

    def get_request(self) -> tuple[TLSSocket, Any]:  # type: ignore[override]
        sock, addr = self.socket.accept()
        try:
            conn = ServerConnection(self.tls_config)
        except BaseException:
            sock.close()
            raise
        return TLSSocket(sock, conn, server_side=True, handshake_timeout=self.handshake_timeout,
                         peer=_peer_label(addr)), addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (TLSError, OSError) as exc:  # OSError covers TimeoutError and resets
            log.info("TLS handshake with %s failed: %s: %s", _peer_label(client_address),
                     type(exc).__name__, exc)
            self.handshake_failed(request, client_address, exc)
            return
        super().finish_request(request, client_address)

    def handshake_failed(self, request: TLSSocket, client_address: Any,
                         exc: BaseException) -> None:
        """Hook for subclasses (metrics, fail2ban...); the connection is closed afterwards."""

    def shutdown_request(self, request: Any) -> None:
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_WR)  # close_notify, then FIN
        self.close_request(request)
