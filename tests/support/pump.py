"""Driving tlskit connections: `pump` shuttles bytes between two in-memory connections;
`Pump` drives one connection over a real socket; `ServerThread`/`tlskit_server` run a
tlskit server on an OS-chosen port in a thread."""

from __future__ import annotations

import contextlib
import selectors
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tlskit import (
    AlertReceived,
    ClientConfig,
    ClientConnection,
    Connection,
    ConnectionClosed,
    DataReceived,
    Event,
    HandshakeComplete,
    KeyUpdated,
    ServerConfig,
    ServerConnection,
    TLSError,
)

from .ports import HOST, TIMEOUT

E = TypeVar("E", bound=Event)


def pump(a: Connection, b: Connection, limit: int = 20) -> list[Any]:
    """Shuttle bytes both ways until both are quiet; returns all events."""
    events: list[Any] = []
    for _ in range(limit):
        moved = False
        for src, dst in ((a, b), (b, a)):
            data = src.data_to_send()
            if data:
                moved = True
                events += dst.receive_data(data)
        if not moved:
            return events
    raise AssertionError("connections never went quiet")


def handshake_keeping_hellos(client: Connection, server: Connection) -> tuple[bytes, bytes]:
    """A whole handshake in memory, returning the ClientHello flight and the server's
    first flight as sent (their randoms key a TLS 1.2 peer's records, RFC 5246 6.3);
    both ends must then be complete."""
    client_hello = client.data_to_send()
    server.receive_data(client_hello)
    server_flight = server.data_to_send()
    client.receive_data(server_flight)
    pump(client, server)
    assert client.handshake_complete is not None and server.handshake_complete is not None
    return client_hello, server_flight


class PeerClosedError(ConnectionError):
    """The TCP connection ended before what we were waiting for happened."""


class Pump:
    """Drives one tlskit connection over a connected socket.

    Output the connection queues is kept in ``self._out`` and written whenever the socket
    can take it, while input is read in the same loop, so a peer that echoes while we are
    still sending (both directions full) can never deadlock us. Every event is kept in
    ``events`` in order; application data accumulates in ``data``.
    """

    def __init__(self, conn: Connection, sock: socket.socket, *, timeout: float = TIMEOUT):
        self.conn = conn
        self.sock = sock
        self.timeout = timeout
        sock.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(sock, selectors.EVENT_READ)
        self._out = bytearray()
        self.events: list[Event] = []
        self.data = bytearray()
        self.eof = False
        self.closed_event: ConnectionClosed | None = None
        self.error: TLSError | None = None

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def connect(cls, config: ClientConfig, port: int, *, server_name: str = "localhost",
                host: str = HOST, **kw: Any) -> Pump:
        """Connect to host:port; ``kw`` goes to `ClientConnection` (e.g. ``session``)."""
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(ClientConnection(config, server_name=server_name, **kw), sock)

    @classmethod
    def accept(cls, config: ServerConfig, sock: socket.socket) -> Pump:
        return cls(ServerConnection(config), sock)

    # -- the loop -------------------------------------------------------------------------

    def _collect_output(self) -> None:
        out = self.conn.data_to_send()
        if out:
            self._out += out

    def _step(self, timeout: float) -> None:
        self._collect_output()
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._out else 0)
        self._sel.modify(self.sock, want)
        for _key, mask in self._sel.select(timeout):
            if mask & selectors.EVENT_WRITE and self._out:
                try:
                    sent = self.sock.send(self._out[:1 << 18])
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except (BrokenPipeError, ConnectionResetError):
                    sent = len(self._out)  # the peer is gone: nothing more can be written
                    self.eof = True
                del self._out[:sent]
            if mask & selectors.EVENT_READ and not self.eof:
                try:
                    chunk = self.sock.recv(1 << 18)
                except (BlockingIOError, InterruptedError):
                    continue
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    self.eof = True  # later steps only write what is still queued
                    continue
                self._feed(chunk)

    def _feed(self, chunk: bytes) -> None:
        try:
            events = self.conn.receive_data(chunk)
        except TLSError as exc:
            self.error = exc
            self._collect_output()  # the alert tlskit queued: let the peer see why
            self._flush_best_effort()
            raise
        for ev in events:
            self.events.append(ev)
            if isinstance(ev, DataReceived):
                self.data += ev.data
            elif isinstance(ev, ConnectionClosed):
                self.closed_event = ev
                if ev.alert is not None:  # the peer aborted: the pump stops with an error
                    self.error = AlertReceived(ev.alert)
                    raise self.error

    def _flush_best_effort(self) -> None:
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(2.0)
            self.sock.sendall(self._out)
            self._out.clear()
        except OSError:
            pass
        finally:
            self.sock.setblocking(False)

    def run_until(self, done: Callable[[], Any], what: str, *,
                  timeout: float | None = None) -> Any:
        """Loop until ``done()`` is truthy (and all queued output is written)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            self._collect_output()
            result = done()
            if result and not self._out:
                return result
            if self.eof and not result:
                raise PeerClosedError(f"peer closed the TCP connection while waiting for {what}"
                                      f" (events so far: {self._event_names()})")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timed out waiting for {what} "
                                   f"(events so far: {self._event_names()})")
            self._step(min(left, 0.5))

    def _event_names(self) -> list[str]:
        return [type(e).__name__ for e in self.events]

    # -- operations -----------------------------------------------------------------------

    def handshake(self) -> HandshakeComplete:
        hc: HandshakeComplete = self.run_until(lambda: self.conn.handshake_complete,
                                               "the handshake")
        return hc

    def handshake_and_close(self) -> HandshakeComplete:
        """Handshake, then close_notify both ways (also a `tlskit_server` body)."""
        hc = self.handshake()
        self.close()
        self.wait_closed()
        return hc

    def handshake_error(self) -> TLSError:
        """The handshake must fail: the tlskit error (also a `tlskit_server` body)."""
        try:
            self.handshake()
        except TLSError as exc:
            return exc
        raise AssertionError("the handshake completed")

    @classmethod
    def failed_handshake(cls, config: ClientConfig, port: int, **kw: Any) -> TLSError:
        """Connect to 127.0.0.1:port; the handshake must fail: the tlskit error."""
        error: TLSError = cls._once(config, port, cls.handshake_error, **kw)
        return error

    def wait_event(self, kind: type[E], what: str) -> list[E]:
        """Read until an event of type ``kind`` arrived; all of them so far."""
        found: list[E] = self.run_until(
            lambda: [e for e in self.events if isinstance(e, kind)], what)
        return found

    def send_and_close(self, data: bytes) -> ConnectionClosed:
        """Send ``data``, then close_notify both ways; the peer's closing event."""
        self.send(data)
        self.close()
        return self.wait_closed()

    @classmethod
    def handshake_once(cls, config: ClientConfig, port: int, **kw: Any) -> HandshakeComplete:
        """Connect to 127.0.0.1:port, shake hands, close cleanly; the outcome."""
        hc: HandshakeComplete = cls._once(config, port, cls.handshake_and_close, **kw)
        return hc

    @classmethod
    def _once(cls, config: ClientConfig, port: int, step: Callable[[Pump], Any],
              **kw: Any) -> Any:
        """``step(pump)`` on a new connection, disposed of afterwards."""
        pump = cls.connect(config, port, **kw)
        try:
            return step(pump)
        finally:
            pump.dispose()

    def send(self, data: bytes) -> None:
        """Queue application data and wait until the socket has taken all of it."""
        self.conn.send_data(data)
        self.run_until(lambda: True, "the send to drain")

    def recv_exactly(self, n: int, *, timeout: float | None = None) -> bytes:
        self.run_until(lambda: len(self.data) >= n, f"{n} bytes of application data "
                       f"(have {len(self.data)})", timeout=timeout)
        out = bytes(self.data[:n])
        del self.data[:n]
        return out

    def recv_until(self, marker: bytes, *, timeout: float | None = None) -> bytes:
        """Application data up to and including ``marker``."""
        self.run_until(lambda: marker in self.data, f"{marker!r} in the data",
                       timeout=timeout)
        end = self.data.index(marker) + len(marker)
        out = bytes(self.data[:end])
        del self.data[:end]
        return out

    def echo_roundtrip(self, payload: bytes, *, chunk: int = 1 << 16) -> bytes:
        """Send ``payload`` and read back as many bytes (the peer echoes). Sending and
        reading are interleaved by the loop, so neither direction can fill up and stall."""
        for start in range(0, len(payload), chunk):
            self.conn.send_data(payload[start:start + chunk])
            self._collect_output()
            self._step(0)
        return self.recv_exactly(len(payload))

    def key_update(self, request_peer_update: bool = True) -> None:
        self.conn.update_keys(request_peer_update=request_peer_update)
        self.run_until(lambda: True, "the KeyUpdate to be written")

    def key_updates_received(self) -> list[KeyUpdated]:
        return [e for e in self.events if isinstance(e, KeyUpdated)]

    def wait_key_updated(self, count: int = 1) -> None:
        self.run_until(lambda: len(self.key_updates_received()) >= count,
                       f"{count} KeyUpdated event(s)")

    def close(self) -> None:
        """Send close_notify and wait until it is written."""
        self.conn.close()
        self.run_until(lambda: True, "close_notify to be written")

    def wait_closed(self, *, timeout: float | None = None) -> ConnectionClosed:
        """Read until the peer's close_notify (or fatal alert) arrives."""
        ev: ConnectionClosed = self.run_until(lambda: self.closed_event,
                                              "the peer's close_notify", timeout=timeout)
        return ev

    def read_to_eof(self, *, timeout: float | None = None) -> bytes:
        """Read until the TCP connection ends; returns all application data."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out waiting for the peer to close")
            self._step(min(left, 0.5))
        out = bytes(self.data)
        self.data.clear()
        return out

    def dispose(self) -> None:
        self._sel.close()
        self.sock.close()


@dataclass
class ServerThread:
    """Listens on 127.0.0.1 (port chosen by the OS) and hands each accepted socket to
    ``handler`` in a thread; `join` returns the handlers' results or re-raises the first
    exception, so a failure inside the server fails the test with its real traceback."""

    handler: Callable[[socket.socket], Any]
    count: int = 1
    results: list[Any] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.listener = socket.create_server((HOST, 0))
        self.listener.settimeout(TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for _ in range(self.count):
                sock, _addr = self.listener.accept()
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with sock:
                    self.results.append(self.handler(sock))
        except BaseException as exc:  # re-raised by join()
            self.errors.append(exc)
        finally:
            self.listener.close()

    @property
    def error(self) -> BaseException | None:
        """What the handler raised, for a test that expects the server to fail."""
        return self.errors[0] if self.errors else None

    def join(self, timeout: float = TIMEOUT) -> list[Any]:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise TimeoutError("server thread did not finish")
        if self.errors:
            raise self.errors[0]
        return self.results

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.close()


def tlskit_server(config: ServerConfig, body: Callable[[Pump], Any], *,
                  count: int = 1) -> ServerThread:
    """A tlskit server thread: each connection gets a `Pump` and ``body(pump)`` runs on it."""

    def handle(sock: socket.socket) -> Any:
        pump = Pump.accept(config, sock)
        try:
            return body(pump)
        finally:
            pump.dispose()

    return ServerThread(handle, count=count)


def echo_until_close(pump: Pump) -> int:
    """Server body: echo every byte until the peer's close_notify (answered by tlskit
    itself); returns the number of bytes echoed."""
    pump.handshake()
    echoed = 0
    while pump.closed_event is None:
        pump.run_until(lambda: pump.data or pump.closed_event, "data or close_notify")
        if pump.data and pump.closed_event is None:
            chunk = bytes(pump.data)
            pump.data.clear()
            pump.conn.send_data(chunk)
            echoed += len(chunk)
    pump.run_until(lambda: True, "the answering close_notify to be written")
    return echoed


def flights(client: Connection, server: Connection, limit: int = 8) -> list[bytes]:
    """A handshake flight by flight, each delivered before the next is taken: the
    ClientHello, the server's flight, the client's, and what follows until both sides
    are quiet (TLS 1.3 tickets, the TLS 1.2 server's CCS and Finished)."""
    out: list[bytes] = []
    for turn in range(limit):
        src, dst = (client, server) if turn % 2 == 0 else (server, client)
        data = src.data_to_send()
        if not data:
            break
        out.append(data)
        dst.receive_data(data)
    assert client.handshake_complete is not None and server.handshake_complete is not None
    return out


def exchange(client: Connection, server: Connection) -> tuple[list[Event], list[Event]]:
    """Shuttle bytes until neither side has anything to say; each side's events."""
    client_events: list[Event] = []
    server_events: list[Event] = []
    while True:
        moved = False
        data = client.data_to_send()
        if data:
            server_events += server.receive_data(data)
            moved = True
        data = server.data_to_send()
        if data:
            client_events += client.receive_data(data)
            moved = True
        if not moved:
            return client_events, server_events


def completed(events: list[Event]) -> HandshakeComplete:
    """The one HandshakeComplete among ``events``."""
    done = [e for e in events if isinstance(e, HandshakeComplete)]
    assert len(done) == 1, events
    return done[0]


S = TypeVar("S", bound=socketserver.BaseServer)


@contextlib.contextmanager
def serving(server: S) -> Iterator[S]:
    """``server.serve_forever()`` in a thread; shut down, closed and joined on exit."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
