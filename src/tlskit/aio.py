"""asyncio streams over the sans-I/O core.

    reader, writer = await tlskit.aio.open_connection("example.com", 443)
    server = await tlskit.aio.start_server(handle, "127.0.0.1", 8443, server_config)

`TLSProtocol` sits on the TCP transport: it feeds ``receive_data``, writes
``data_to_send``, and hands plaintext to an inner protocol (an
`asyncio.StreamReaderProtocol` here) through `_TLSTransport`, which encrypts writes.
Flow control passes straight through: the inner protocol pausing reads pauses the TCP
transport, and the TCP transport's pause_writing/resume_writing reach the inner protocol
(so ``StreamWriter.drain`` waits on the real socket buffer).

The inner protocol is connected only when the handshake has completed; a handshake that
fails or times out closes the TCP connection (logged on the ``tlskit.aio`` logger for
servers, raised from `open_connection` for clients).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from .acceptor import Acceptor, check_server_config, server_connection, take_received
from .config import ClientConfig, ServerConfig, require_config
from .connection import ClientConnection, Connection, ServerConnection
from .errors import AlertReceived, TLSError, UsageError
from .events import ConnectionClosed, DataReceived, HandshakeComplete
from .helloinfo import ClientHelloInfo
from .io.address import address_label
from .io.blocking import TruncatedConnection, default_client_config, handshake_eof
from .io.info import ConnectionInfo
from .io.server import listen_backlog
from .keylog import with_keylog

__all__ = ["TLSInfo", "TLSProtocol", "TruncatedConnection", "open_connection", "start_server"]

log = logging.getLogger("tlskit.aio")

# Small application writes made in one loop iteration leave in one TCP send at its end
# (with the close_notify of a close() that follows them); past this many plaintext bytes
# a write goes out at once, so the TCP transport's flow control still sees the data.
CORK_LIMIT = 1 << 16

# What one read from the TCP socket may bring (asyncio's own read size).
READ_SIZE = 1 << 18
# After close(), how long what is still queued (data, then close_notify) may take to
# leave before the TCP connection is aborted: a peer that stopped reading must not
# keep the transport (and whoever awaits wait_closed()) forever. As asyncio's
# ssl_shutdown_timeout.
CLOSE_TIMEOUT = 30.0
_read_buffers = threading.local()


def _read_buffer() -> memoryview:
    """This thread's receive buffer, shared by all its connections: asyncio fills it
    and hands it back in the same call (`get_buffer`, then `buffer_updated`), and
    `receive_data` is done with it before returning (whole records are decrypted from it
    in place, a partial one is copied), so one per thread (one per event loop) is
    enough. Without it every read would be a new 256 KiB bytes object: an mmap, a page
    fault, an mremap and an munmap per read."""
    view: memoryview | None = getattr(_read_buffers, "view", None)
    if view is None:
        view = _read_buffers.view = memoryview(bytearray(READ_SIZE))
    return view


ClientConnectedCallback = Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                   Awaitable[None] | None]


class TLSInfo(ConnectionInfo):
    """What ``get_extra_info("ssl_object")`` returns: `ssl.SSLObject`'s read-only side."""

    def __init__(self, conn: Connection, server_side: bool, server_hostname: str | None) -> None:
        self._conn = conn
        self.server_side = server_side
        self.server_hostname = server_hostname

    def compression(self) -> None:
        return None

    def export_keying_material(self, label: bytes, context: bytes, length: int) -> bytes:
        return self._conn.export_keying_material(label, context, length)

    def channel_binding(self, cb_type: str = "tls-exporter") -> bytes:
        """`Connection.channel_binding`: RFC 9266 tls-exporter (the default), RFC 5929
        tls-server-end-point or tls-unique."""
        return self._conn.channel_binding(cb_type)


class TLSProtocol(asyncio.BufferedProtocol):
    """TLS over a TCP transport, delivering plaintext to ``app_protocol``.

    A buffered protocol, as asyncio's own SSLProtocol is: the transport reads into a
    buffer that is reused (`get_buffer`); `data_received` still works for transports
    that deliver bytes."""

    def __init__(self, conn: Connection, app_protocol: asyncio.BaseProtocol, *,
                 server_side: bool, handshake_timeout: float | None = None,
                 waiter: asyncio.Future[HandshakeComplete] | None = None,
                 peer: str | None = None, server_hostname: str | None = None,
                 suppress_ragged_eofs: bool = True,
                 idle_timeout: float | None = None) -> None:
        self._conn = conn
        # As with asyncio + ssl, a TCP close without close_notify after the handshake
        # reaches the app as end of stream; `truncated` (extra info "tlskit_truncated")
        # tells it apart from a clean close. False makes it a TruncatedConnection error.
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self.truncated = False
        self._idle_timeout = idle_timeout
        self._idle_timer: asyncio.TimerHandle | None = None
        conn.close_reply = False  # half-close: the app decides when our side ends
        self._app: Any = app_protocol
        self._server_side = server_side
        self._handshake_timeout = handshake_timeout
        self._waiter = waiter
        self._peer = peer
        self._tcp: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop  # set by connection_made
        # The inner protocol's transport; it and this protocol refer to each other, so
        # connection_lost lets go of it (as asyncio's SSLProtocol does): a finished
        # connection is then freed by reference counting, not left to the collector.
        self._app_transport: _TLSTransport | None = _TLSTransport(self)
        self._server_hostname = server_hostname
        self._info: TLSInfo | None = None  # made when asked for (most servers never ask)
        self._app_connected = False
        # 0-RTT data a server accepted arrives before the handshake completes (bounded
        # by max_early_data_size): kept here until the inner protocol is connected.
        self._early: list[bytes] | None = None
        self._app_lost = False
        self._peer_closed = False
        self._error: BaseException | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._tcp_paused_writing = False
        self._dropped_writes = 0
        self._corked = 0                 # plaintext written since the last flush
        self._flush_scheduled = False
        self._choice: _AsyncChoice | None = None  # an async config chooser at work

    @classmethod
    def choosing(cls, choose: AsyncConfigChooser, app_protocol: asyncio.BaseProtocol,
                 **kw: Any) -> TLSProtocol:
        """A server protocol whose config ``choose(info)`` (sync or async) picks from the
        ClientHello; the bytes wait (reading paused) until it has answered."""
        choice = _AsyncChoice(choose)
        proto = cls(server_connection(choice.config, "tlskit.aio.start_server"),
                    app_protocol, server_side=True, **kw)
        proto._choice = choice
        return proto

    @property
    def app_transport(self) -> _TLSTransport:
        """The transport the inner protocol writes to (a closed one once the TCP
        connection is gone)."""
        transport = self._app_transport
        if transport is None:
            transport = _TLSTransport(self)
            transport._closing = True
        return transport

    @property
    def info(self) -> TLSInfo:
        """What ``get_extra_info("ssl_object")`` returns."""
        if self._info is None:
            self._info = TLSInfo(self._conn, self._server_side, self._server_hostname)
        return self._info

    # -- TCP side -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._tcp = transport
        # (get_running_loop is a getpid() system call each time: asked once)
        self._loop = loop = asyncio.get_running_loop()
        if self._peer is None:
            self._peer = address_label(transport.get_extra_info("peername"))
        if self._handshake_timeout is not None:
            self._timer = loop.call_later(self._handshake_timeout, self._handshake_timed_out)
        self._rbuf = _read_buffer()
        self._flush()  # the ClientHello, for clients

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._rbuf

    def buffer_updated(self, nbytes: int) -> None:
        # `receive_data` copies what it keeps, so the engine may read the shared buffer
        # in place; records it decrypts come back as new bytes.
        self.data_received(self._rbuf[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:  # type: ignore[override]
        if self._error is not None or self._peer_closed:
            return
        if self._choice is not None and not self._choice.hold(self, data):
            return
        try:
            events = self._conn.receive_data(data)
        except TLSError as exc:
            self._fatal(exc)
            return
        held = self._holds_tickets()
        if not held:
            self._flush()
        for ev in events:
            if isinstance(ev, DataReceived):
                if self._app_connected:
                    if self._idle_timer is not None and ev.data:
                        self._touch()  # application data arrived: not idle
                    self._app.data_received(ev.data)
                elif self._early is None:
                    self._early = [ev.data]
                else:
                    self._early.append(ev.data)
            elif isinstance(ev, HandshakeComplete):
                self._handshake_complete(ev)
            elif isinstance(ev, ConnectionClosed):
                if ev.alert is not None:  # the peer aborted: streams see an error
                    self._fatal(AlertReceived(ev.alert))
                    return
                self._close_notify_received()
        if held:
            # After the handler's first step: its first write takes them along.
            self._flush_soon(0)

    def _holds_tickets(self) -> bool:
        """True when this feed completed a TLS 1.3 server handshake: the session tickets
        it queued may wait for the handler's first write (one send for both), or at the
        latest for the end of this loop iteration. TLS 1.2 servers still owe their
        Finished, which never waits."""
        hc = self._conn.handshake_complete
        return (self._server_side and not self._app_connected and hc is not None
                and hc.version == "TLSv1.3")

    def eof_received(self) -> bool:
        if (self._error is None and not self._peer_closed and self._app_connected
                and self.suppress_ragged_eofs):
            self.truncated = True
            log.debug("%s closed the connection without close_notify", self._peer)
            with contextlib.suppress(Exception):
                self._app.eof_received()
            return False  # connection_lost(None) follows: the app sees end of stream
        if self._error is None and not self._peer_closed:
            if self._conn.handshake_complete is None:
                self._error = handshake_eof(f"{self._peer}", self._conn, self._server_side)
            else:
                self._error = TruncatedConnection(
                    f"{self._peer} closed the connection without close_notify "
                    "(truncated data?)")
            self._fail_waiter(self._error)
        return False  # the TCP transport closes itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if self._choice is not None:  # an async chooser still at work: no one will listen
            self._choice.cancel()
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._cancel_idle_timer()
        err = self._error or exc
        if not self._app_connected:
            if err is None:
                err = TruncatedConnection(f"{self._peer} closed the connection during the "
                                          "handshake")
            self._fail_waiter(err)
            if self._server_side:
                log.info("TLS handshake with %s failed: %s: %s", self._peer,
                         type(err).__name__, err)
        elif not self._app_lost:
            self._app_lost = True
            self._app.connection_lost(err)
        self._tcp = None
        self._app_transport = None  # breaks the protocol <-> transport cycle

    def pause_writing(self) -> None:
        self._tcp_paused_writing = True
        if self._app_connected and not self._app_lost:
            self._app.pause_writing()

    def resume_writing(self) -> None:
        self._tcp_paused_writing = False
        if self._app_connected and not self._app_lost:
            self._app.resume_writing()

    def send_session_ticket(self, early_data: bool | None = None) -> bool:
        """A server's TLS 1.3 ticket, written now (`ServerConnection.send_session_ticket`;
        from a stream handler: ``writer.transport.send_session_ticket()``). True if one
        was sent."""
        conn = self._conn
        if not isinstance(conn, ServerConnection):
            raise UsageError("send_session_ticket: only a server sends session tickets")
        queued = conn.send_session_ticket(early_data)
        self._flush()
        return queued

    # -- internals ------------------------------------------------------------------------

    def _flush(self) -> None:
        self._corked = 0
        out = self._conn.data_to_send()
        tcp = self._tcp
        if out and tcp is not None and not tcp.is_closing():
            tcp.write(out)

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        self._flush()

    def _flush_soon(self, written: int) -> None:
        """Send at the end of this loop iteration (one send for all small writes made in
        it, and a close's close_notify), or now past CORK_LIMIT."""
        self._corked += written
        if self._corked >= CORK_LIMIT:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._scheduled_flush)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fail_waiter(self, exc: BaseException) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _fatal(self, exc: BaseException) -> None:
        """A TLS failure: send what the connection queued (its alert) and close TCP,
        bounded by CLOSE_TIMEOUT as every close is: a peer that stopped reading must not
        keep the connection, and the app waiting on it, forever."""
        if self._error is None:
            self._error = exc
        self._fail_waiter(exc)
        with contextlib.suppress(Exception):
            self._flush()
        self._close_tcp()

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if self._conn.handshake_complete is not None or self._error is not None:
            return
        err = TimeoutError(f"TLS handshake with {self._peer} timed out after "
                           f"{self._handshake_timeout:g} s")
        self._error = err
        self._fail_waiter(err)
        if self._tcp is not None:
            self._tcp.abort()

    # -- idle timeout (off unless configured) ------------------------------------------------

    def _touch(self) -> None:
        """Restart the idle clock: called when application data is received or written
        after the handshake. Bytes that complete no record (a record trickled in a byte
        at a time), empty records and post-handshake messages do not restart it, as they
        do not end a blocking `TLSSocket.recv` (whose deadline bounds the whole call):
        otherwise a peer could hold the connection for ever with a byte a second."""
        if self._idle_timeout is None or self._tcp is None:
            return
        self._cancel_idle_timer()
        self._idle_timer = self._loop.call_later(self._idle_timeout, self._idle_timed_out)

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _idle_timed_out(self) -> None:
        """Nothing moved for ``idle_timeout`` seconds: close_notify, then close. The app
        sees end of stream."""
        self._idle_timer = None
        log.info("closing idle TLS connection with %s after %g s", self._peer,
                 self._idle_timeout)
        self._app_close()

    def _handshake_complete(self, ev: HandshakeComplete) -> None:
        self._cancel_timer()
        if self._app_connected or self._error is not None:
            return
        self._touch()
        self._app_connected = True
        self._app.connection_made(self.app_transport)
        if self._tcp_paused_writing:
            self._app.pause_writing()
        early, self._early = self._early, None
        for data in early or ():
            self._app.data_received(data)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(ev)

    def _close_notify_received(self) -> None:
        # Deliver EOF. If our side is closed too (or TLS 1.2, where the core answered at
        # once) the connection is over; otherwise the app may still write (half-close)
        # and its close() sends our close_notify.
        self._peer_closed = True
        if not self._app_connected:
            self._fatal(TruncatedConnection(f"{self._peer} sent close_notify during the "
                                            "handshake"))
            return
        keep_open = False
        try:
            keep_open = bool(self._app.eof_received())
        finally:
            self._flush()
            if self._tcp is not None and (self._conn.closed or not keep_open):
                self._conn.close()
                self._flush()
                self._close_tcp()

    # -- called by _TLSTransport ------------------------------------------------------------

    def _app_write(self, data: bytes | bytearray | memoryview) -> None:
        if self._tcp is None or self._tcp.is_closing() or self._error is not None:
            self._dropped_writes += 1
            if self._dropped_writes == 5:
                log.warning("writing to a closed TLS connection with %s; data dropped",
                            self._peer)
            return
        if self._idle_timer is not None:
            self._touch()
        try:
            self._conn.send_data(data)
        except UsageError:
            # After close_notify (ours or the peer's) nothing can be sent.
            self._dropped_writes += 1
            return
        except TLSError as exc:
            self._fatal(exc)
            return
        self._flush_soon(len(data))

    def _app_close(self) -> None:
        if self._tcp is None:
            return
        if self._conn.handshake_complete is not None and self._error is None:
            self._conn.close()  # close_notify (idempotent)
            self._flush()
        self._close_tcp()

    def _close_tcp(self) -> None:
        """Close TCP once what is queued has left, or abort after CLOSE_TIMEOUT."""
        tcp = self._tcp
        if tcp is None:
            return
        tcp.close()
        if tcp.get_write_buffer_size() and self._close_timer is None:
            self._close_timer = self._loop.call_later(CLOSE_TIMEOUT, tcp.abort)

    def _app_write_eof(self) -> None:
        if self._tcp is None or self._tcp.is_closing() or self._error is not None:
            return  # closed, lost or failed: nothing to half-close (asyncio's transports
            # ignore write_eof then too; it is often called in cleanup)
        if self._conn.handshake_complete is None:
            raise UsageError("write_eof() needs an established connection")
        self._conn.close()
        self._flush()

    def _app_abort(self) -> None:
        if self._tcp is not None:
            self._tcp.abort()

    def _extra(self, name: str, default: Any = None) -> Any:
        if name in ("tlskit", "handshake"):
            return self._conn.handshake_complete
        if name == "tlskit_connection":
            return self._conn
        if name == "tlskit_truncated":
            return self.truncated
        if name == "ssl_object":
            return self.info
        if name == "peercert":
            try:
                return self.info.getpeercert()
            except ValueError:
                return default
        if name == "cipher":
            return self.info.cipher()
        if name == "compression":
            return None
        if name == "sslcontext":
            return default
        if self._tcp is not None:
            return self._tcp.get_extra_info(name, default)
        return default


class _TLSTransport(asyncio.Transport):
    """The inner protocol's transport: writes are encrypted, flow control passes through."""

    def __init__(self, proto: TLSProtocol) -> None:
        super().__init__()
        self._proto = proto
        self._closing = False
        self._eof_written = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._proto._extra(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._proto._app = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._proto._app  # type: ignore[no-any-return]

    def is_closing(self) -> bool:
        tcp = self._proto._tcp
        return self._closing or tcp is None or tcp.is_closing()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._proto._app_close()

    def abort(self) -> None:
        self._closing = True
        self._proto._app_abort()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        if self._eof_written:  # as asyncio's transports: never dropped without a word
            raise RuntimeError("Cannot call write() after write_eof()")
        if data:
            self._proto._app_write(data)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return True

    def send_session_ticket(self, early_data: bool | None = None) -> bool:
        """`TLSProtocol.send_session_ticket`: a server's TLS 1.3 ticket, written now."""
        return self._proto.send_session_ticket(early_data)

    def write_eof(self) -> None:
        """Half-close: send our close_notify and keep reading until the peer's (RFC 8446
        6.1 lets the peer go on sending after ours)."""
        self._proto._app_write_eof()
        self._eof_written = True

    def pause_reading(self) -> None:
        if self._proto._tcp is not None:
            self._proto._tcp.pause_reading()

    def resume_reading(self) -> None:
        if self._proto._tcp is not None:
            self._proto._tcp.resume_reading()

    def is_reading(self) -> bool:
        tcp = self._proto._tcp
        return tcp is not None and tcp.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self._proto._tcp is not None:
            self._proto._tcp.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        tcp = self._proto._tcp
        return self._proto._corked + (tcp.get_write_buffer_size() if tcp is not None else 0)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        tcp = self._proto._tcp
        return tcp.get_write_buffer_limits() if tcp is not None else (0, 0)


async def open_connection(host: str, port: int, config: ClientConfig | None = None, *,
                          server_name: str | None = None,
                          handshake_timeout: float | None = 30.0,
                          limit: int = 2 ** 16, suppress_ragged_eofs: bool = True,
                          **kwargs: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect, complete the TLS handshake (1.3 or 1.2) and return asyncio streams.

    ``handshake_timeout`` bounds TCP connect plus handshake; a TLS failure raises the
    `TLSError`. Extra keyword arguments go to `loop.create_connection`.
    """
    loop = asyncio.get_running_loop()
    cfg = config if config is not None else default_client_config()
    require_config(cfg, ClientConfig, "tlskit.aio.open_connection")
    cfg = with_keylog(cfg)
    name = server_name if server_name is not None else host
    peer = f"{host}:{port}"
    conn = ClientConnection(cfg, server_name=name)
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    app = asyncio.StreamReaderProtocol(reader, loop=loop)
    waiter: asyncio.Future[HandshakeComplete] = loop.create_future()
    proto = TLSProtocol(conn, app, server_side=False, waiter=waiter, peer=peer,
                        server_hostname=name, suppress_ragged_eofs=suppress_ragged_eofs)
    transport: Any = None
    timeout_cm = asyncio.timeout(handshake_timeout)
    try:
        async with timeout_cm:
            transport, _ = await loop.create_connection(lambda: proto, host, port, **kwargs)
            await waiter
    except BaseException as exc:
        if transport is not None:
            transport.abort()
        if isinstance(exc, TimeoutError) and timeout_cm.expired():
            raise TimeoutError(f"TLS handshake with {peer} timed out after "
                               f"{handshake_timeout:g} s") from None
        raise
    writer = asyncio.StreamWriter(proto.app_transport, app, reader, loop)
    return reader, writer


AsyncConfigChooser = Callable[["ClientHelloInfo"], "ServerConfig | Awaitable[ServerConfig]"]


class _AsyncChoice:
    """An async config chooser's answer for one connection: the ClientHello's bytes are
    held by an `Acceptor` (which reads them; its buffer is their only copy here) until
    the answer is in, then fed to the connection, whose own (synchronous) chooser is
    `config`. Bytes that are no ClientHello go to the connection at once: it fails on
    them as it would have."""

    __slots__ = ("acceptor", "answer", "choose", "error", "late", "task")

    def __init__(self, choose: AsyncConfigChooser) -> None:
        self.choose = choose
        self.acceptor: Acceptor | None = Acceptor()
        self.late = bytearray()  # read while the chooser works (reading is paused)
        self.answer: ServerConfig | None = None
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] | None = None

    def config(self, info: ClientHelloInfo) -> ServerConfig:
        """The connection's chooser: what the async one answered (or raised)."""
        if self.error is not None:
            raise self.error
        assert self.answer is not None
        return self.answer

    def hold(self, proto: TLSProtocol, data: bytes | memoryview) -> bool:
        """Keep ``data`` while the chooser works; True: feed it to the connection now."""
        acceptor = self.acceptor
        if acceptor is None:
            return True  # (an answer came: `proto._choice` is cleared with it)
        if self.task is not None:
            self.late += data
            return False
        try:
            info = acceptor.receive_data(data)
        except TLSError:
            self.acceptor = None  # no ClientHello: the connection says why
            proto._choice = None
            held = take_received(acceptor)
            del acceptor  # (its reader's buffers go before the connection reads)
            _feed(proto, held, data)
            return False
        if info is not None:
            if proto._tcp is not None:
                proto._tcp.pause_reading()
            self.task = proto._loop.create_task(self._run(proto, info))
        return False

    def cancel(self) -> None:
        """The connection is gone (the handshake timed out, say): stop the chooser."""
        self.acceptor = None
        self.late = bytearray()
        if self.task is not None:
            self.task.cancel()

    async def _run(self, proto: TLSProtocol, info: ClientHelloInfo) -> None:
        try:
            answer = self.choose(info)
            self.answer = await answer if inspect.isawaitable(answer) else answer
        except Exception as exc:  # the connection's chooser raises it: internal_error
            self.error = exc
        acceptor, late = self.acceptor, self.late
        self.acceptor, self.late = None, bytearray()
        proto._choice = None
        if proto._tcp is not None and not proto._tcp.is_closing():
            proto._tcp.resume_reading()
        if acceptor is not None:
            held = take_received(acceptor)
            del acceptor  # (its reader's buffers go before the connection reads)
            _feed(proto, held, late)


# Held bytes go to the connection in pieces of this size, as reads would have brought
# them: its record layer then copies one piece at a time, not all of them again (a
# hello cut into 1-byte records is six times its size, up to ~790 KB).
_FEED_SIZE = 1 << 16


def _feed(proto: TLSProtocol, *pieces: bytes | bytearray | memoryview) -> None:
    """Held bytes to the connection, `_FEED_SIZE` at a time."""
    for piece in pieces:
        view = memoryview(piece)
        for start in range(0, len(view), _FEED_SIZE):
            proto.data_received(view[start:start + _FEED_SIZE])


def _keyed_async(choose: AsyncConfigChooser) -> AsyncConfigChooser:
    """``choose``'s answers logging keys to $SSLKEYLOGFILE when it is set."""
    async def keyed_choice(info: ClientHelloInfo) -> ServerConfig:
        answer = choose(info)
        config = await answer if inspect.isawaitable(answer) else answer
        return with_keylog(config) if isinstance(config, ServerConfig) else config
    return keyed_choice


async def start_server(client_connected_cb: ClientConnectedCallback, host: Any, port: int | None,
                       config: ServerConfig | AsyncConfigChooser, *,
                       handshake_timeout: float | None = 30.0, idle_timeout: float | None = None,
                       suppress_ragged_eofs: bool = True,
                       limit: int = 2 ** 16, **kwargs: Any) -> asyncio.Server:
    """`asyncio.start_server` over TLS: ``client_connected_cb(reader, writer)`` runs
    once a connection's handshake has completed. ``handshake_timeout`` bounds the whole
    handshake, however slowly the client's bytes arrive. ``idle_timeout`` (off by default,
    like ssl) closes, with close_notify, a connection on which no application data was
    received or written for that long: a record trickled in a byte at a time, which
    delivers nothing until it is whole, does not restart it (as with `TLSServer`, whose
    socket deadline bounds each recv as a whole); each record of data does. The
    handler sees end of stream, and one waiting in ``drain()`` on a client that stopped
    reading gets an error once the close gave up (`CLOSE_TIMEOUT`). TLS 1.3 session
    tickets leave with the callback's first write (one send for both) or, if it reads
    first, right after its first step. Extra keyword arguments go to `loop.create_server`
    (the listen ``backlog`` defaults to the system maximum).

    ``config`` may instead be a callable ``choose(info: tlskit.ClientHelloInfo)`` that
    returns the connection's `ServerConfig`, or an awaitable of it (a coroutine
    function): called once the ClientHello has arrived, its reading paused meanwhile,
    within ``handshake_timeout``. A `TLSError` it raises ends the handshake with its
    alert, any other exception with internal_error."""
    loop = asyncio.get_running_loop()
    check_server_config(config, "tlskit.aio.start_server")

    kw: dict[str, Any] = dict(handshake_timeout=handshake_timeout, idle_timeout=idle_timeout,
                              suppress_ragged_eofs=suppress_ragged_eofs)
    make: Callable[[asyncio.BaseProtocol], TLSProtocol]
    if isinstance(config, ServerConfig):
        cfg = with_keylog(config)
        make = lambda app: TLSProtocol(ServerConnection(cfg), app,  # noqa: E731
                                       server_side=True, **kw)
    else:
        chooser = _keyed_async(config)
        make = lambda app: TLSProtocol.choosing(chooser, app, **kw)  # noqa: E731

    def factory() -> TLSProtocol:
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        return make(asyncio.StreamReaderProtocol(reader, client_connected_cb, loop=loop))

    kwargs.setdefault("backlog", listen_backlog())
    return await loop.create_server(factory, host, port, **kwargs)
