"""`SSLObject`: `ssl.SSLObject`'s memory-BIO protocol over a sans-I/O tlskit connection.

This is the path asyncio takes (``open_connection(ssl=ctx)``, ``start_server(ssl=ctx)``,
``loop.start_tls``) and with it aiohttp, httpx's anyio backend, websockets, uvicorn...
The caller moves bytes between the socket and the two `ssl.MemoryBIO`s; every call here
drains ``incoming`` into the connection and leaves what it has to send in ``outgoing``.
As in ``ssl``: `SSLWantReadError` when more input is needed, ``read`` returning ``b""``
at the peer's close_notify (until our own went out with ``unwrap``: then
`SSLZeroReturnError`), `SSLEOFError` for an EOF without it, and ``SSLError``
``PROTOCOL_IS_SHUTDOWN`` for writing after ``unwrap``. The peer's close_notify closes only
its direction (TLS 1.3): this side may still write until it calls ``unwrap``.
tests/compat/test_bio_vs_ssl.py runs each of these against the stdlib's own object.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization

from ..connection import ClientConnection, Connection
from ..errors import AlertReceived, TLSError, UsageError
from ..events import (
    ClientCertificateReceived,
    ConnectionClosed,
    DataReceived,
    SessionTicketReceived,
)
from .errors import eof_error, shutdown_error, to_ssl_error, want_read, zero_return_error
from .hello import HelloBuffer, alert_record, start_server_connection
from .info import SSLInfo
from .session import SSLSession

if TYPE_CHECKING:
    from .context import SSLContext

__all__ = ["SSLObject"]

READ_CHUNK = 1 << 16  # ciphertext taken from ``incoming`` at a time (bounds buffered plaintext)


class SSLObject(SSLInfo, ssl.SSLObject):  # type: ignore[misc]  # (ssl types them as attributes)
    """What `tlskit.compat.SSLContext.wrap_bio` returns."""

    def __init__(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, context: SSLContext,
                 *, server_side: bool, server_hostname: str | None,
                 session: SSLSession | None) -> None:
        self._incoming = incoming
        self._outgoing = outgoing
        self._context = context
        self._server_side = server_side
        self._server_hostname = server_hostname
        self._session = session
        self._offered = session
        self._conn: Connection | None = None
        self._hello: HelloBuffer | None = None
        self._plain = bytearray()
        self._peer_closed = False
        self._unwrapped = False  # unwrap() sent our close_notify
        self._error: BaseException | None = None
        self._counted = False
        if server_side:
            context._count("accept")
            if context.sni_callback is not None:
                self._hello = HelloBuffer()
            else:
                self._conn = start_server_connection(self, None)
        else:
            context._count("connect")

    # -- plumbing -----------------------------------------------------------------------------

    def _client_connection(self) -> Connection:
        # Made at the first call, so ``session`` can still be set after wrap_bio.
        offered = self._offered.tlskit_session if self._offered is not None else None
        return ClientConnection(self._context.tlskit_client_config,
                                server_name=self._server_hostname, session=offered)

    def _fail(self, exc: BaseException) -> BaseException:
        self._flush()  # the alert the connection queued
        mapped = to_ssl_error(exc)
        self._error = mapped
        return mapped

    def _flush(self) -> None:
        if self._conn is not None:
            out = self._conn.data_to_send()
            if out:
                self._outgoing.write(out)

    def _ensure_connection(self) -> Connection | None:
        """The connection; None while a server is still collecting the ClientHello."""
        if self._conn is not None:
            return self._conn
        if not self._server_side:
            self._conn = self._client_connection()
            return self._conn
        assert self._hello is not None
        if not self._hello.add(self._incoming.read()):
            return None
        try:
            conn = start_server_connection(self, self._hello)
        except TLSError as exc:
            self._outgoing.write(alert_record(exc.alert))
            raise self._fail(exc) from exc
        self._conn = conn
        self._feed(bytes(self._hello.data))
        self._hello = None
        return conn

    def _feed(self, data: bytes) -> None:
        assert self._conn is not None
        try:
            events = self._conn.receive_data(data)
        except TLSError as exc:
            raise self._fail(exc) from exc
        for ev in events:
            if isinstance(ev, DataReceived):
                self._plain += ev.data
            elif isinstance(ev, ConnectionClosed):
                self._peer_closed = True
                if ev.alert is not None:
                    alert = AlertReceived(ev.alert)
                    raise self._fail(alert) from alert
            elif isinstance(ev, SessionTicketReceived) and ev.session is not None:
                self._session = SSLSession(ev.session)
            elif isinstance(ev, ClientCertificateReceived):
                self._pha_chain = list(ev.peer_certificates)
        self._flush()

    def _pump(self) -> None:
        """Feed (a bounded amount of) what arrived; raise a stored failure."""
        if self._error is not None:
            raise self._error
        conn = self._ensure_connection()
        if conn is None:
            return
        data = self._incoming.read(READ_CHUNK)
        if data:
            self._feed(data)
        else:
            self._flush()

    def _handshake_done(self) -> bool:
        return self._conn is not None and self._conn.handshake_complete is not None

    def _no_more_input(self) -> BaseException:
        if self._incoming.eof:
            where = "during the handshake" if not self._handshake_done() else \
                "without close_notify"
            return eof_error(f"the peer closed the connection {where}")
        return want_read()

    # -- ssl.SSLObject's methods ------------------------------------------------------------------

    def do_handshake(self) -> None:
        if self._handshake_done():
            return
        self._pump()
        while not self._handshake_done() and self._incoming.pending:
            self._pump()
        if not self._handshake_done():
            if self._peer_closed:
                raise zero_return_error("the peer closed the connection during the handshake")
            raise self._no_more_input()
        if not self._counted:
            self._counted = True
            self._count_handshake()

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        view = None
        if buffer is None:
            if len < 0:
                raise ValueError("size should not be negative")
            if len == 0:
                return b""  # as ssl: no input is even looked at
        else:
            view = memoryview(buffer).cast("B")
            if len <= 0 or len > view.nbytes:
                len = view.nbytes  # as ssl: the buffer's size
        if not self._handshake_done():
            self.do_handshake()
        plain = self._plain
        if not plain:
            failure = self._fill()
            if failure is not None:
                raise failure
        n = min(len, plain.__len__())
        if view is not None:
            view[:n] = plain[:n]
            del plain[:n]
            return n
        data = bytes(plain[:n])
        del plain[:n]
        return data

    def _fill(self) -> BaseException | None:
        """Plaintext in ``_plain``, or nothing at the peer's close_notify (or an EOF
        without it, with OP_IGNORE_UNEXPECTED_EOF); else the ssl error for read() to
        raise (returned, not raised here: SSLWantReadError is read's common way out)."""
        if self._peer_closed and self._unwrapped and not self._plain:
            # ssl reads EOF as b"" only until its own close_notify went out.
            return zero_return_error("the TLS connection has been closed (unwrap)")
        while not self._plain and not self._peer_closed:
            if self._error is not None:
                return self._error
            if not self._incoming.pending:
                if self._incoming.eof and self._context.ignore_unexpected_eof:
                    return None
                exc = self._no_more_input()
                if isinstance(exc, ssl.SSLEOFError):
                    self._error = exc  # as in OpenSSL, the connection is over: it sticks
                return exc
            self._pump()
        return None

    def write(self, data: Any) -> int:
        if not self._handshake_done():
            self.do_handshake()
        if self._error is not None:
            raise self._error
        assert self._conn is not None
        if self._unwrapped:
            raise shutdown_error(in_init=False)
        view = memoryview(data).cast("B")
        if not view.nbytes:
            return 0  # as ssl: no (empty) record is sent
        try:
            self._conn.send_data(view)
        except UsageError as exc:
            raise zero_return_error(str(exc)) from exc
        except TLSError as exc:
            raise self._fail(exc) from exc
        self._flush()
        return view.nbytes

    def unwrap(self) -> None:
        """Send close_notify and wait for the peer's (`SSLWantReadError` until it came)."""
        if self._error is not None:
            raise self._error
        if self._conn is None or self._conn.handshake_complete is None:
            raise shutdown_error(in_init=True)
        self._conn.close()
        self._unwrapped = True
        self._flush()
        while not self._peer_closed and self._incoming.pending:
            self._pump()
            self._plain.clear()  # application data after our close_notify is dropped
        if not self._peer_closed:
            if self._incoming.eof and self._context.ignore_unexpected_eof:
                return None  # as ssl: that option makes the EOF a close
            raise self._no_more_input()
        return None

    def pending(self) -> int:
        return len(self._plain)

    # -- information --------------------------------------------------------------------------

    @property  # type: ignore[override]
    def server_side(self) -> bool:
        return self._server_side

    @property  # type: ignore[override]
    def server_hostname(self) -> str | None:
        return self._server_hostname

    @property
    def tlskit_connection(self) -> Connection | None:
        """The sans-I/O connection (``handshake_complete``, config tracer...)."""
        return self._conn

    def get_verified_chain(self) -> list[bytes]:
        hc = self._conn.handshake_complete if self._conn is not None else None
        certs = hc.peer_certificates if hc is not None else []
        return [c.public_bytes(serialization.Encoding.DER) for c in certs]

    get_unverified_chain = get_verified_chain

    def export_keying_material(self, label: bytes, context: bytes, length: int) -> bytes:
        if self._conn is None:
            raise ValueError("handshake not done yet")
        return self._conn.export_keying_material(label, context, length)

    def __repr__(self) -> str:
        side = "server" if self._server_side else "client"
        state = "established" if self._handshake_done() else "handshaking"
        return f"<tlskit.compat.SSLObject {side} {state}>"
