"""`SSLSocket`: tlskit's blocking `TLSSocket` with the rest of `ssl.SSLSocket`'s API.

It is an `ssl.SSLSocket` for ``isinstance`` checks (httpcore, for one, looks at
``sock._sslobj`` only for those), but no OpenSSL is involved: the socket proper is the
wrapped TCP socket, taken over as ``ssl`` does (the object passed in is detached), and the
TLS runs in `TLSSocket`. Errors come out as the `ssl` exceptions (see `.errors`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from ..connection import ClientConnection, Connection
from ..errors import TLSError, UsageError
from ..events import ClientCertificateReceived, Event, SessionTicketReceived
from ..io.blocking import RECV_SIZE, SEND_CHUNK, TLSSocket, TruncatedConnection
from .errors import to_ssl_error
from .hello import HelloBuffer, alert_record, start_server_connection
from .info import SSLInfo
from .session import SSLSession

if TYPE_CHECKING:
    from .context import SSLContext

__all__ = ["SSLSocket"]


def _want_write() -> ssl.SSLWantWriteError:
    err = ssl.SSLWantWriteError(ssl.SSL_ERROR_WANT_WRITE,
                                "The operation did not complete (write)")
    return err


@contextlib.contextmanager
def _as_ssl_errors() -> Iterator[None]:
    try:
        yield
    except BlockingIOError:
        raise ssl.SSLWantReadError(ssl.SSL_ERROR_WANT_READ,
                                   "The operation did not complete (read)") from None
    except (TLSError, UsageError) as exc:
        mapped = to_ssl_error(exc)
        if mapped is exc:
            raise
        raise mapped from exc


class SSLSocket(SSLInfo, TLSSocket, ssl.SSLSocket):  # type: ignore[misc, override]
    """What `tlskit.compat.SSLContext.wrap_socket` returns."""

    _conn: Connection | None  # type: ignore[assignment]  # made at the handshake
    _plain_sock: socket.socket | None = None  # what unwrap() returned

    @classmethod
    def create(cls, sock: socket.socket, context: SSLContext, *, server_side: bool,
               server_hostname: str | None, do_handshake_on_connect: bool,
               suppress_ragged_eofs: bool, session: SSLSession | None) -> SSLSocket:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) != socket.SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        timeout = sock.gettimeout()
        raw = socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        try:
            raw.settimeout(timeout)
            try:
                raw.getpeername()
                connected = True
            except OSError as exc:
                if exc.errno != errno.ENOTCONN:
                    raise
                connected = False
            self = cls.__new__(cls)
            TLSSocket.__init__(self, raw, None, server_side=server_side,  # type: ignore[arg-type]
                               handshake_timeout=None, server_hostname=server_hostname,
                               suppress_ragged_eofs=suppress_ragged_eofs)
            self._setup(context, do_handshake_on_connect, session, connected)
            if connected and do_handshake_on_connect:
                if timeout == 0.0:
                    raise ValueError("do_handshake_on_connect should not be specified for "
                                     "non-blocking sockets")
                self.do_handshake()
        except BaseException:
            raw.close()
            raise
        return self

    def _setup(self, context: SSLContext, do_handshake_on_connect: bool,
               session: SSLSession | None, connected: bool) -> None:
        self._context = context
        self.do_handshake_on_connect = do_handshake_on_connect
        self._session = session
        self._offered = session
        self._connected = connected
        self._start_lock = threading.Lock()

    # -- the connection --------------------------------------------------------------------

    def _start(self) -> None:
        """Make the sans-I/O connection (at the first handshake step, so ``session`` and
        an ``sni_callback`` can still change what it will be)."""
        with self._start_lock:
            if self._conn is not None:
                return
            ctx = self._context
            if not self.server_side:
                ctx._count("connect")
                offered = self._offered.tlskit_session if self._offered is not None else None
                self._conn = ClientConnection(
                    ctx.tlskit_client_config, server_name=self.server_hostname, session=offered)
                return
            ctx._count("accept")
            hello = self._read_hello() if ctx.sni_callback is not None else None
            try:
                conn = start_server_connection(self, hello)
            except TLSError as exc:
                with contextlib.suppress(OSError):
                    self._raw().sendall(alert_record(exc.alert))
                self._handshake_error = exc
                raise
            self._conn = conn
            if hello is not None:
                self._feed(bytes(hello.data))

    def _read_hello(self) -> HelloBuffer:
        hello = HelloBuffer()
        sock = self._raw()
        while True:
            data = sock.recv(RECV_SIZE)
            if not data:
                raise TruncatedConnection(f"{self._peer} closed the connection before its "
                                          "ClientHello was complete")
            if hello.add(data):
                return hello

    def _check_connected(self) -> None:
        if not self._connected:
            raise OSError(errno.ENOTCONN, "Socket is not connected")

    def do_handshake(self, block: bool = False) -> None:
        self._check_connected()
        first = not self._handshake_done
        with _as_ssl_errors():
            if self._handshake_error is not None:
                raise self._handshake_error
            self._start()
            super().do_handshake()
        if first:
            self._count_handshake()

    def _check_peercert(self) -> None:
        self._check_connected()  # ssl: OSError(ENOTCONN) on an unconnected socket

    def _on_event(self, event: Event) -> None:
        if isinstance(event, SessionTicketReceived) and event.session is not None:
            self._session = SSLSession(event.session)
        elif isinstance(event, ClientCertificateReceived):
            self._pha_chain = list(event.peer_certificates)

    # -- I/O with ssl's errors --------------------------------------------------------------

    def _ragged(self, exc: TruncatedConnection) -> bool:
        """True if a TCP EOF without close_notify reads as EOF (else SSLEOFError)."""
        return self._handshake_done and (self.suppress_ragged_eofs
                                         or self._context.ignore_unexpected_eof)

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        self._check_connected()
        if flags:
            raise ValueError("non-zero flags not allowed in calls to recv() on SSLSocket")
        try:
            with _as_ssl_errors():
                return super().recv(buflen, flags)
        except ssl.SSLEOFError as exc:
            if isinstance(exc.__cause__, TruncatedConnection) and self._ragged(exc.__cause__):
                return b""
            raise

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        """As ssl's: at most the buffer's size, whatever ``nbytes`` says (_ssl clamps a
        larger, zero or negative one where a plain socket raises ValueError)."""
        self._check_connected()
        if flags:
            raise ValueError("non-zero flags not allowed in calls to recv_into() on SSLSocket")
        if nbytes is None or nbytes < 0:
            nbytes = 0  # TLSSocket.recv_into: 0 is the whole buffer
        try:
            with _as_ssl_errors():
                return super().recv_into(buffer, nbytes)
        except ssl.SSLEOFError as exc:
            if isinstance(exc.__cause__, TruncatedConnection) and self._ragged(exc.__cause__):
                return 0
            raise

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        if buffer is not None:
            return self.recv_into(buffer, len)
        return self.recv(len)

    def send(self, data: Any, flags: int = 0) -> int:
        """Encrypt and send up to 128 KiB. On a non-blocking socket, data once accepted is
        never asked for again: what the kernel did not take goes out on the next call."""
        if flags:
            raise ValueError("non-zero flags not allowed in calls to send() on SSLSocket")
        self._check_connected()
        with _as_ssl_errors():
            self._ensure_handshake()
            view = memoryview(data)
            if view.format != "B" or view.ndim != 1:
                view = view.cast("B")
            chunk = view[:SEND_CHUNK]
            with self._wlock:
                if self._unsent:
                    try:
                        self._write_out()
                    except BlockingIOError:
                        raise _want_write() from None
                if not chunk:
                    return 0
                assert self._conn is not None
                with self._state:
                    self._conn.send_data(chunk)
                with contextlib.suppress(BlockingIOError):
                    self._write_out()
            with contextlib.suppress(BlockingIOError):
                self._end_write()
            return len(chunk)

    def sendall(self, data: Any, flags: int = 0) -> None:
        if flags:
            raise ValueError("non-zero flags not allowed in calls to sendall() on SSLSocket")
        self._check_connected()
        with _as_ssl_errors():
            super().sendall(data, flags)

    def write(self, data: Any) -> int:
        return self.send(data)

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """The file through TLS, with `send` (which shakes hands first if need be).
        socket.socket's own would hand the descriptor to os.sendfile: plaintext on the
        wire whenever ssl's test for "TLS is on" (``_sslobj``) says no, as it does
        before the handshake here."""
        if self._sock is None and self._plain_sock is not None:
            return self._plain_sock.sendfile(file, offset, count)  # after unwrap(), as ssl
        sent: int = self._sendfile_use_send(file, offset, count)  # type: ignore[attr-defined]
        return sent

    def unwrap(self) -> socket.socket:
        """End TLS (close_notify both ways) and return the plain TCP socket. ssl returns
        the `SSLSocket` itself, so code such as ftplib's drops the result and closes the
        object it has: the plain socket stays ours too, and close() closes it."""
        with _as_ssl_errors():
            plain = super().unwrap()
        self._plain_sock = plain
        return plain

    def close(self) -> None:
        super().close()
        if self._plain_sock is not None:
            self._plain_sock.close()

    def fileno(self) -> int:
        if self._sock is None and self._plain_sock is not None:
            return self._plain_sock.fileno()  # as ssl: the descriptor outlives unwrap()
        return super().fileno()

    # -- plain socket operations --------------------------------------------------------------

    def connect(self, address: Any) -> None:
        rc = self.connect_ex(address)
        if rc != 0:
            raise OSError(rc, os.strerror(rc))

    def connect_ex(self, address: Any) -> int:
        if self.server_side:
            raise ValueError("can't connect in server-side mode")
        if self._connected:
            raise ValueError("attempt to connect already-connected SSLSocket!")
        rc = self._raw().connect_ex(address)
        if rc == 0:
            self._connected = True
            host, port = self._raw().getpeername()[:2]
            self._peer = f"{host}:{port}"
            if self.do_handshake_on_connect:
                self.do_handshake()
        return rc

    def accept(self) -> tuple[SSLSocket, Any]:
        newsock, addr = self._raw().accept()
        wrapped = self._context.wrap_socket(
            newsock, server_side=self.server_side,
            do_handshake_on_connect=self.do_handshake_on_connect,
            suppress_ragged_eofs=self.suppress_ragged_eofs)
        return wrapped, addr

    def bind(self, address: Any) -> None:
        self._raw().bind(address)

    def listen(self, backlog: int = socket.SOMAXCONN) -> None:
        self._raw().listen(backlog)

    def getblocking(self) -> bool:
        return self._raw().getblocking()

    @property
    def timeout(self) -> float | None:  # type: ignore[override]
        return self._raw().gettimeout()

    def dup(self) -> NoReturn:
        raise NotImplementedError(f"Can't dup() {self.__class__.__name__} instances")

    # -- what ssl.SSLSocket reports ---------------------------------------------------------

    @property
    def _sslobj(self) -> Any:
        # httpcore (and others) read ALPN and the like from here after isinstance(SSLSocket).
        return self if self._conn is not None else None

    @property
    def tlskit_connection(self) -> Connection | None:
        """The sans-I/O connection (handshake facts, trace); None before the handshake."""
        return self._conn

    def export_keying_material(self, label: bytes, context: bytes, length: int) -> bytes:
        if self._conn is None:
            raise ValueError("handshake not done yet")
        return super().export_keying_material(label, context, length)

    def __repr__(self) -> str:
        return "<tlskit.compat." + super().__repr__()[len("<tlskit."):]
