"""`tlskit.io.tap` and `TLSServer.wrap_accepted`: watching the bytes under a `TLSSocket`
(what `tlskit connect`, `serve` and `demo` show), with the TLS stream unchanged."""

from __future__ import annotations

import socket
import threading
from typing import Any

from tlskit import ClientConfig, ClientConnection, ServerConfig
from tlskit.io import TLSServer
from tlskit.io.blocking import TLSSocket
from tlskit.io.tap import TappedSocket, tap_socket

from ..support.records import APPDATA, HS, split_records
from .conftest import BulkEchoHandler, start_tls_server


class Recording:
    def __init__(self) -> None:
        self.sent = bytearray()
        self.received = bytearray()
        self.lock = threading.Lock()

    def __call__(self, outgoing: bool, data: bytes) -> None:
        with self.lock:
            (self.sent if outgoing else self.received).extend(data)


class TappedServer(TLSServer):
    """A TLSServer whose accepted sockets report to ``self.recording``."""

    recording = Recording()

    def wrap_accepted(self, sock: socket.socket, addr: Any) -> TLSSocket:
        return super().wrap_accepted(tap_socket(sock, self.recording), addr)


def test_both_taps_see_the_same_records_and_the_stream_is_unchanged(
        server_config: ServerConfig, client_config: ClientConfig) -> None:
    server = TappedServer(("127.0.0.1", 0), BulkEchoHandler, server_config)
    server.recording = Recording()
    start_tls_server(server)
    client_side = Recording()
    try:
        raw = socket.create_connection(server.server_address[:2], timeout=10)
        tapped = tap_socket(raw, client_side)
        assert isinstance(tapped, TappedSocket) and raw.fileno() == -1
        conn = ClientConnection(client_config, server_name="localhost")
        with TLSSocket(tapped, conn, server_side=False, server_hostname="localhost") as tls:
            tls.do_handshake()
            payload = bytes(range(256)) * 300
            tls.sendall(payload)
            got = bytearray()
            while len(got) < len(payload):
                got += tls.recv(1 << 16)
            assert got == payload
            tapped.tap = None  # stop watching before the close
    finally:
        server.shutdown()
        server.server_close()
    # What one side sent is what the other received, record for record (the server may
    # have read our close_notify too: the client stopped watching before it).
    assert bytes(server.recording.received).startswith(bytes(client_side.sent))
    assert bytes(server.recording.sent).startswith(bytes(client_side.received))
    hello = split_records(bytes(client_side.sent), whole=False)[0]
    assert hello[0] == HS and hello[5] == 1  # a ClientHello in the clear
    assert payload[:64] not in bytes(client_side.sent)  # the data went encrypted
    assert any(r[0] == APPDATA for r in split_records(bytes(client_side.sent), whole=False))


def test_recv_into_is_watched_too() -> None:
    seen = Recording()
    a, b = socket.socketpair()
    with a, tap_socket(b, seen) as tapped:
        a.sendall(b"hello")
        buf = bytearray(16)
        assert tapped.recv_into(buf) == 5
        tapped.sendall(b"back")
        assert a.recv(16) == b"back"
    assert bytes(seen.received) == b"hello" and bytes(seen.sent) == b"back"
