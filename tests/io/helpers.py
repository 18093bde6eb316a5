"""Raw building blocks for the I/O tests: sans-I/O peers on plain sockets, a silent server."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection

from ..support.mitm import Endpoint, server_endpoint
from ..support.pump import ServerThread


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def handshake_raw_server(sock: socket.socket, config: ServerConfig, *,
                         mitm: bool = False) -> ServerConnection | Endpoint:
    """Run the server side of a handshake on a plain socket with the sans-I/O API; with
    `mitm`, as an `Endpoint` behind the key-log man-in-the-middle (it logs its keys), whose
    ``flow`` forges records in step with what the server sends."""
    conn = server_endpoint(config) if mitm else ServerConnection(config)
    while conn.handshake_complete is None:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("client went away during the handshake")
        conn.receive_data(data)
        if out := conn.data_to_send():
            sock.sendall(out)
    return conn


def handshake_raw_client(sock: socket.socket, config: ClientConfig,
                         server_name: str = "localhost") -> ClientConnection:
    """Run the client side of a handshake but keep the client's last flight unsent."""
    conn = ClientConnection(config, server_name=server_name)
    sock.sendall(conn.data_to_send())
    while conn.handshake_complete is None:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("server went away during the handshake")
        conn.receive_data(data)
    return conn


class SilentServer:
    """A TCP listener that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(sock)

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept(); close() alone may not.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(5)
        for s in self.accepted:
            s.close()


def partial_then_tcp_close(server_config: ServerConfig) -> ServerThread:
    """A server that sends b"partial" after the handshake, then closes TCP without
    close_notify (a truncation)."""
    def action(sock: socket.socket) -> None:
        conn = handshake_raw_server(sock, server_config)
        conn.send_data(b"partial")
        sock.sendall(conn.data_to_send())

    return ServerThread(action)
