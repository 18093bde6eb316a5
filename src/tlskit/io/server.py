"""Blocking servers: `wrap_server_socket` (a TLS listener) and `TLSServer` (socketserver).

Each takes a `ServerConfig`, or a callable ``choose(info) -> ServerConfig`` called with
each connection's `tlskit.ClientHelloInfo` in the connection's handshake (Go's
``GetConfigForClient``): a `TLSError` it raises ends the handshake with its alert, any
other exception with internal_error.

Accepting never shakes hands: each accepted `TLSSocket` runs its handshake lazily in the
thread that first reads or writes it (bounded by ``handshake_timeout``), so a slow or
silent client cannot stall the accept loop.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import socketserver
import sys
import time
from typing import Any

from ..acceptor import ConfigChooser, check_server_config, server_connection
from ..config import ServerConfig
from ..errors import TLSError
from ..helloinfo import ClientHelloInfo
from ..keylog import with_keylog
from .address import address_label
from .blocking import TLSSocket
from .workers import WorkerPool

# A server's config, or a callable choosing it from the ClientHello
# (``choose(info: tlskit.ClientHelloInfo) -> ServerConfig``, Go's GetConfigForClient).
AnyConfig = ServerConfig | ConfigChooser

__all__ = ["TLSListener", "TLSServer", "listen_backlog", "wrap_server_socket"]

log = logging.getLogger("tlskit.io")

# accept() failures that last until some connection ends (out of file descriptors or
# kernel memory): the listening socket stays readable, so retrying at once would spin.
_ACCEPT_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def listen_backlog() -> int:
    """The system's largest accept queue (Linux: net.core.somaxconn), so a burst of
    clients queues instead of being dropped; `socket.SOMAXCONN` elsewhere."""
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return max(int(f.read()), 1)
    except (OSError, ValueError):
        return socket.SOMAXCONN


class TLSListener:
    """A listening TCP socket whose `accept` returns server-side `TLSSocket`s."""

    def __init__(self, sock: socket.socket, config: AnyConfig, *,
                 handshake_timeout: float | None = 30.0, idle_timeout: float | None = None,
                 suppress_ragged_eofs: bool = True) -> None:
        self.socket = sock
        check_server_config(config, "TLSListener")
        self.config = _keyed(config)
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.suppress_ragged_eofs = suppress_ragged_eofs

    def wrap_accepted(self, sock: socket.socket, addr: Any) -> TLSSocket:
        """Wrap a socket accepted elsewhere; the handshake happens on first use."""
        return _server_socket(sock, addr, self.config, self.handshake_timeout,
                              self.idle_timeout, self.suppress_ragged_eofs)

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

    def listen(self, backlog: int | None = None) -> None:
        self.socket.listen(listen_backlog() if backlog is None else backlog)

    def __enter__(self) -> TLSListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        try:
            where = address_label(self.socket.getsockname())
        except OSError:
            where = "closed"
        return f"<tlskit.TLSListener {where}>"


def _keyed(config: AnyConfig) -> AnyConfig:
    """``config`` logging keys to $SSLKEYLOGFILE when it is set (`with_keylog`), also
    each config a chooser picks (an answer of another type is left for the check)."""
    if isinstance(config, ServerConfig):
        return with_keylog(config)

    def keyed_choice(info: ClientHelloInfo) -> ServerConfig:
        chosen = config(info)
        return with_keylog(chosen) if isinstance(chosen, ServerConfig) else chosen

    return keyed_choice


def _server_socket(sock: socket.socket, addr: Any, config: AnyConfig,
                   handshake_timeout: float | None, idle_timeout: float | None,
                   suppress_ragged_eofs: bool) -> TLSSocket:
    """An accepted socket as a server-side `TLSSocket` (the handshake runs on first use);
    ``idle_timeout`` becomes the socket timeout, so a silent client's read times out."""
    try:
        if sock.gettimeout() != idle_timeout:  # (settimeout is an ioctl even when equal)
            sock.settimeout(idle_timeout)
        conn = server_connection(config, "TLSListener")
    except BaseException:
        sock.close()
        raise
    return TLSSocket(sock, conn, server_side=True, handshake_timeout=handshake_timeout,
                     peer=address_label(addr), suppress_ragged_eofs=suppress_ragged_eofs,
                     coalesce_tickets=True)


def wrap_server_socket(listening_sock: socket.socket, config: AnyConfig, *,
                       handshake_timeout: float | None = 30.0,
                       idle_timeout: float | None = None,
                       suppress_ragged_eofs: bool = True) -> TLSListener:
    """Wrap a bound, listening socket: ``accept()`` yields ``(TLSSocket, address)``.
    ``config``: a `ServerConfig`, or ``choose(info) -> ServerConfig`` (see the module)."""
    return TLSListener(listening_sock, config, handshake_timeout=handshake_timeout,
                       idle_timeout=idle_timeout, suppress_ragged_eofs=suppress_ragged_eofs)


class TLSServer(socketserver.ThreadingTCPServer):
    """`socketserver.ThreadingTCPServer` speaking TLS 1.3 and 1.2, a thread for each connection.

    ``config`` is a `ServerConfig`, or ``choose(info) -> ServerConfig`` called in each
    connection's handshake with its `tlskit.ClientHelloInfo`.

    Works with `socketserver.StreamRequestHandler` and `http.server`'s handlers. The
    handshake runs in the connection's thread before the handler is created; a failure is
    logged on the ``tlskit.io`` logger and passed to `handshake_failed`, never raised into
    the serving loop. TLS 1.3 session tickets leave with the handler's first write (one
    send for both), or before its first read that has to wait, or with the close.

    Connection threads are reused (`tlskit.io.workers.WorkerPool`): one that finished
    waits ``worker_idle_timeout`` seconds for the next connection, then ends; every
    connection still starts at once on a thread of its own. ``worker_idle_timeout=None``
    starts a new thread per connection, as `socketserver.ThreadingMixIn` does.

    Against slow or hostile clients: ``handshake_timeout`` bounds the whole handshake (a
    ClientHello sent a byte at a time is cut off when it runs out, whatever the pace),
    then frees the thread. ``idle_timeout`` (off by default, like `ssl`) bounds each recv
    and each send call afterwards, as a whole (a record trickled in a byte at a time
    does not restart it): without it a client that stops reading keeps the handler
    blocked in its send. When accept() fails for want of file descriptors or memory, the
    loop warns once and retries every ``accept_retry_delay`` seconds until it works.
    """

    daemon_threads = True
    allow_reuse_address = True
    # After accept() fails for want of file descriptors or memory, the serving loop waits
    # this long before it tries again (as asyncio's servers do), rather than spinning on
    # the still-readable listening socket and starving the connections that would free them.
    accept_retry_delay = 0.1

    def __init__(self, server_address: Any, RequestHandlerClass: Any,
                 config: AnyConfig, bind_and_activate: bool = True, *,
                 handshake_timeout: float | None = 30.0, idle_timeout: float | None = None,
                 backlog: int | None = None, suppress_ragged_eofs: bool = True,
                 worker_idle_timeout: float | None = 1.0) -> None:
        check_server_config(config, "TLSServer")
        self.tls_config = _keyed(config)
        self.worker_idle_timeout = worker_idle_timeout
        self._workers: WorkerPool | None = None
        self._exhausted = False  # accept() is failing for want of descriptors or memory
        self._threadless = False  # no thread could be started for the last connection
        self.handshake_timeout = handshake_timeout
        # Off by default, like ssl: a handler's read on an idle connection then raises
        # TimeoutError after this many seconds and the connection is closed.
        self.idle_timeout = idle_timeout
        self.suppress_ragged_eofs = suppress_ragged_eofs
        # socketserver's default queue of 5 drops connections under any burst.
        self.request_queue_size = listen_backlog() if backlog is None else backlog
        super().__init__(server_address, RequestHandlerClass, bind_and_activate)

    def server_bind(self) -> None:
        # Like http.server.HTTPServer, so HTTP handlers find server_name/server_port.
        super().server_bind()
        host, port = self.server_address[:2]
        self.server_name = host or "localhost"  # no reverse DNS lookup, unlike HTTPServer
        self.server_port = port

    def get_request(self) -> tuple[TLSSocket, Any]:  # type: ignore[override]
        try:
            sock, addr = self.socket.accept()
        except OSError as exc:
            if exc.errno in _ACCEPT_EXHAUSTED:
                self._accept_exhausted(exc)
            raise  # socketserver drops the attempt; the loop polls again
        self._exhausted = False
        return self.wrap_accepted(sock, addr), addr

    def _accept_exhausted(self, exc: OSError) -> None:
        """One warning per shortage, then a pause before the next accept()."""
        if not self._exhausted:
            self._exhausted = True
            log.warning("cannot accept connections: %s; retrying every %g s until "
                        "connections end", exc.strerror or exc, self.accept_retry_delay)
        time.sleep(self.accept_retry_delay)

    def wrap_accepted(self, sock: socket.socket, addr: Any) -> TLSSocket:
        """An accepted TCP socket as a server-side `TLSSocket` (the handshake runs on
        first use). A hook for subclasses: wrap ``sock`` first (`tlskit.io.tap`), or
        adjust the connection before its handshake."""
        return _server_socket(sock, addr, self.tls_config, self.handshake_timeout,
                              self.idle_timeout, self.suppress_ragged_eofs)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Run the connection on an idle worker thread, or a new one. When no thread can
        start (the system's limit on threads or tasks), the connection is closed with a
        log line, not socketserver's traceback for each one refused."""
        try:
            self._start_on_thread(request, client_address)
        except RuntimeError as exc:  # "can't start new thread"
            self._no_thread(exc, request, client_address)
            return
        self._threadless = False

    def _start_on_thread(self, request: Any, client_address: Any) -> None:
        if self.worker_idle_timeout is None:
            super().process_request(request, client_address)
            return
        if self._workers is None:
            self._workers = WorkerPool(self.worker_idle_timeout, daemon=self.daemon_threads,
                                       name=f"{type(self).__name__}-worker")
        self._workers.submit(self.process_request_thread, request, client_address)

    def _no_thread(self, exc: RuntimeError, request: Any, client_address: Any) -> None:
        """A warning once per shortage, a line for each connection closed meanwhile."""
        if not self._threadless:
            self._threadless = True
            log.warning("cannot start a thread for new connections: %s; closing them "
                        "until threads end", exc)
        log.info("connection with %s closed: no thread to run it", address_label(client_address))
        self.shutdown_request(request)

    @property
    def worker_pool(self) -> WorkerPool | None:
        """The connection threads (None until the first connection, or without reuse)."""
        return self._workers

    def server_close(self) -> None:
        """Close the listening socket; idle workers end now, busy ones after their
        connection (joined first when ``block_on_close`` and not ``daemon_threads``)."""
        super().server_close()
        if self._workers is not None:
            self._workers.close(wait=self.block_on_close and not self.daemon_threads)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (TLSError, OSError) as exc:  # OSError covers TimeoutError and resets
            log.info("TLS handshake with %s failed: %s: %s", address_label(client_address),
                     type(exc).__name__, exc)
            self.handshake_failed(request, client_address, exc)
            return
        super().finish_request(request, client_address)

    def handshake_failed(self, request: TLSSocket, client_address: Any,
                         exc: BaseException) -> None:
        """Hook for subclasses (metrics, fail2ban...); the connection is closed afterwards."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished, went idle past ``idle_timeout`` or broke the protocol
        is routine for a server: one log line, not socketserver's traceback. Anything
        else (a bug in the handler) still gets the traceback."""
        exc = sys.exception()
        if isinstance(exc, TLSError | ConnectionError | TimeoutError):
            log.info("connection with %s ended: %s: %s", address_label(client_address),
                     type(exc).__name__, exc)
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """close_notify, then FIN. When the handler left no file open on the connection,
        closing it sends both (one system call fewer than shutdown, then close)."""
        if not isinstance(request, TLSSocket) or request.files_open():
            with contextlib.suppress(OSError):
                request.shutdown(socket.SHUT_WR)
        self.close_request(request)
