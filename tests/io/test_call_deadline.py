"""One deadline per `TLSSocket` read or write call, as `ssl`'s: the socket timeout bounds
the whole recv/recv_into/read/send/sendall, not each socket read or write inside it.
Before, a peer trickling one record a byte at a time (or reading a byte at a time) kept
the call going for as long as it liked, each byte restarting the timeout: a slowloris on
every blocking tlskit server and client. Each scenario also runs against the stdlib
`ssl` module, to show the two agree."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

import pytest

import tlskit
from tlskit import ClientConfig, ServerConfig
from tlskit.io.blocking import DIRECT_MIN, SEND_CHUNK

from ..support.pump import ServerThread
from .conftest import PKI
from .helpers import handshake_raw_server

TIMEOUT = 0.5   # the client's socket timeout in the trickle tests
PACE = 0.1      # one byte (or one read) per PACE: each well within TIMEOUT
WAIT = 30.0     # bounds a broken run; nothing asserts on time
PLAIN = b"p" * 178  # one record of 200 bytes on the wire (TLS 1.3, AES-GCM)

READS: dict[str, Callable[[Any], int]] = {
    "recv": lambda s: len(s.recv(1024)),
    "read": lambda s: len(s.read(1024)),
    "recv_into": lambda s: s.recv_into(bytearray(1024)),             # the buffered path
    "recv_into_direct": lambda s: s.recv_into(bytearray(DIRECT_MIN)),  # zero-copy
}


class Trickle:
    """A scripted server: after the handshake and the client's b"go" it sends ``plain``
    in one record (with `close`, its close_notify instead), ``step`` bytes at a time
    with ``pace`` seconds between them, until the record is out or `stop` is set; then
    the rest at once, and it reads until the client closes. `sent` counts the record's
    bytes handed to the socket so far (each piece counted just before it is sent)."""

    def __init__(self, config: ServerConfig, plain: bytes = PLAIN, *, step: int = 1,
                 pace: float = PACE, close: bool = False) -> None:
        self.config = config.replace(session_tickets=0)
        self.plain, self.step, self.pace, self.close = plain, step, pace, close
        self.stop = threading.Event()
        self.sent = 0
        self.record_size = 0
        self.server = ServerThread(self._action)
        self.port = self.server.port

    def _action(self, sock: socket.socket) -> None:
        conn = handshake_raw_server(sock, self.config)
        assert conn.receive_data(sock.recv(1000))[0].data == b"go"  # type: ignore[attr-defined]
        if self.close:
            conn.close()
        else:
            conn.send_data(self.plain)
        record = conn.data_to_send()
        self.record_size = len(record)
        # `sent` is counted before each send: a client that has read the last byte must
        # find it counted (counted after, the test thread could look in between).
        while self.sent < len(record) and not self.stop.wait(self.pace):
            piece = record[self.sent:self.sent + self.step]
            self.sent += len(piece)
            sock.sendall(piece)
        rest = record[self.sent:]
        self.sent = len(record)
        sock.sendall(rest)
        sock.settimeout(WAIT)
        # (ssl's close after a timed-out unwrap leaves the rest unread: a reset)
        with contextlib.suppress(ConnectionResetError):
            while sock.recv(1 << 16):
                pass

    def finish(self) -> None:
        self.stop.set()
        self.server.join(WAIT)


def client(kind: str, port: int, pki: PKI, config: ClientConfig) -> Any:
    """A connected client of ``kind`` ("tlskit" or "ssl") that said b"go"."""
    if kind == "tlskit":
        sock: Any = tlskit.connect("127.0.0.1", port, config, server_name="localhost",
                                   timeout=WAIT)
    else:
        ctx = ssl.create_default_context(cafile=str(pki.root_pem))
        raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        sock = ctx.wrap_socket(raw, server_hostname="localhost")
    sock.sendall(b"go")
    return sock


def read_all(sock: Any, n: int) -> bytes:
    got = b""
    while len(got) < n:
        data = sock.recv(1 << 16)
        assert data, "EOF before all data arrived"
        got += data
    return got


@pytest.mark.parametrize("kind", ["tlskit", "ssl"])
@pytest.mark.parametrize("how", list(READS))
def test_a_record_trickled_a_byte_at_a_time_times_the_read_out(
        how: str, kind: str, pki: PKI, server_config: ServerConfig,
        client_config: ClientConfig) -> None:
    """Each byte comes well within the timeout, but the record would take 40 timeouts to
    complete: the read times out before it does, and the connection stays usable."""
    trickle = Trickle(server_config)
    with client(kind, trickle.port, pki, client_config) as sock:
        sock.settimeout(TIMEOUT)
        try:
            with pytest.raises(TimeoutError) as caught:
                READS[how](sock)
            incomplete = trickle.sent < trickle.record_size
        finally:
            trickle.stop.set()
        assert incomplete, "the read waited for the whole trickled record"
        assert isinstance(caught.value, socket.timeout)
        if kind == "tlskit":
            assert str(caught.value) == (f"recv from 127.0.0.1:{trickle.port} timed out "
                                         f"after {TIMEOUT:g} s")
        sock.settimeout(WAIT)
        assert read_all(sock, len(PLAIN)) == PLAIN  # what came before the timeout is kept
    trickle.finish()


@pytest.mark.parametrize("how", ["recv", "recv_into_direct"])
def test_a_record_arriving_in_pieces_within_the_timeout_is_read(
        how: str, pki: PKI, server_config: ServerConfig, client_config: ClientConfig) -> None:
    """The deadline does not cut a slow read that ends in time: the record comes in four
    pieces, several socket reads in one call, well within the call's timeout."""
    trickle = Trickle(server_config, step=50, pace=0.05)
    with client("tlskit", trickle.port, pki, client_config) as sock:
        sock.settimeout(WAIT)
        assert READS[how](sock) == len(PLAIN)
        assert trickle.sent == trickle.record_size
    trickle.finish()


def test_without_a_timeout_a_trickled_record_is_waited_for(
        pki: PKI, server_config: ServerConfig, client_config: ClientConfig) -> None:
    """timeout=None: no deadline, the read blocks until the record is whole."""
    trickle = Trickle(server_config, step=10, pace=0.05)
    with client("tlskit", trickle.port, pki, client_config) as sock:
        sock.settimeout(None)
        assert sock.recv(1024) == PLAIN
        assert trickle.sent == trickle.record_size
    trickle.finish()


class SlowReader:
    """A scripted server with a small receive buffer: after the handshake it reads 1 KiB
    per PACE/5 until `stop` is set (each read frees window well within the client's
    timeout), then everything until the client closes. `received` counts the bytes."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config.replace(session_tickets=0)
        self.stop = threading.Event()
        self.received = 0
        self.server = ServerThread(self._action)
        self.server.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.port = self.server.port

    def _action(self, sock: socket.socket) -> None:
        handshake_raw_server(sock, self.config)
        sock.settimeout(WAIT)
        while not self.stop.wait(PACE / 5):
            self.received += len(sock.recv(1024))
        while data := sock.recv(1 << 16):
            self.received += len(data)

    def finish(self) -> None:
        self.stop.set()
        self.server.join(WAIT)


@pytest.mark.parametrize("kind", ["tlskit", "ssl"])
@pytest.mark.parametrize("how", ["sendall", "send"])
def test_a_peer_reading_slowly_times_the_write_out(
        how: str, kind: str, pki: PKI, server_config: ServerConfig,
        client_config: ClientConfig) -> None:
    """The peer frees window often, so no socket write waits a whole timeout, but taking
    the data would take it several: the write call times out before it is taken."""
    payload = bytes(SEND_CHUNK)  # one send() call's worth
    reader = SlowReader(server_config)
    try:
        with client(kind, reader.port, pki, client_config) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            sock.settimeout(TIMEOUT)
            try:
                with pytest.raises(TimeoutError) as caught:
                    getattr(sock, how)(payload)
                taken = reader.received
            finally:
                reader.stop.set()
            assert taken < len(payload), "the write waited for the slow reader"
            assert isinstance(caught.value, socket.timeout)
            if kind == "tlskit":
                assert str(caught.value).startswith(
                    f"send to 127.0.0.1:{reader.port} timed out after {TIMEOUT:g} s")
    finally:
        reader.finish()


@pytest.mark.parametrize("kind", ["tlskit", "ssl"])
def test_a_close_notify_trickled_a_byte_at_a_time_times_unwrap_out(
        kind: str, pki: PKI, server_config: ServerConfig, client_config: ClientConfig) -> None:
    """unwrap waits for the peer's close_notify within one timeout, as ssl's does."""
    trickle = Trickle(server_config, close=True)
    with client(kind, trickle.port, pki, client_config) as sock:
        sock.settimeout(TIMEOUT)
        try:
            with pytest.raises(TimeoutError):
                sock.unwrap()
            incomplete = trickle.sent < trickle.record_size
        finally:
            trickle.stop.set()
        assert incomplete, "unwrap waited for the whole trickled close_notify"
    trickle.finish()
