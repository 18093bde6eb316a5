"""makefile() readers and writers used from two threads, closed in either order, as
with `ssl.SSLSocket` (whose files are `socket.socket`'s): each scenario runs with the
stdlib's socket, tlskit's `TLSSocket` and tlskit.compat's `SSLSocket`, against a stdlib
ssl server. A file closed in one thread never closes the socket under a file still in
use in another, nothing is lost either way, and the last file's close closes it."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import tlskit
import tlskit.compat as tc

from ..support.pump import ServerThread
from .conftest import PKI

LINES = [b"line %d\n" % i for i in range(5000)]
KINDS = pytest.mark.parametrize("kind", ["ssl", "tlskit", "tlskit.compat"])


class LineServer(ServerThread):
    """A stdlib ssl server for one connection: sends b"HELLO\\n", reads lines up to
    b"QUIT\\n", then, if it is to ``answer``, (once `release` is set) echoes them all and
    b"END <n>\\n". `join` re-raises what failed in it."""

    def __init__(self, pki: PKI, *, answer: bool = True) -> None:
        self.answer = answer
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki.fullchain, pki.key)
        self.release = threading.Event()
        self.received: list[bytes] = []
        super().__init__(self._serve)

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(30)
        with self.ctx.wrap_socket(raw, server_side=True) as sock, sock.makefile("rb") as rfile:
            sock.sendall(b"HELLO\n")
            while (line := rfile.readline()) not in (b"", b"QUIT\n"):
                self.received.append(line)
            if not self.answer:
                return
            assert self.release.wait(30)
            sock.sendall(b"".join(self.received) + b"END %d\n" % len(self.received))


@pytest.fixture
def server(pki: PKI) -> Iterator[LineServer]:
    srv = LineServer(pki)
    yield srv
    srv.release.set()
    srv.join()


def _connect(kind: str, pki: PKI, port: int) -> Any:
    """A client socket of ``kind`` connected to ``port`` with the handshake done."""
    if kind == "tlskit":
        return tlskit.connect("127.0.0.1", port,
                              tlskit.ClientConfig(trust_anchors=[pki.ca.root]),
                              server_name="localhost", timeout=30)
    mod: Any = tc if kind == "tlskit.compat" else ssl
    ctx = mod.create_default_context(cafile=str(pki.root_pem))
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def _run(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


@KINDS
def test_the_reader_file_keeps_the_socket_open(kind: str, pki: PKI,
                                               server: LineServer) -> None:
    # The reader waits in readline() (the server answers only when released) while the
    # writer thread closes its file and the main thread closes the socket.
    sock = _connect(kind, pki, server.port)
    rfile, wfile = sock.makefile("rb"), sock.makefile("wb")
    got: list[bytes] = []

    def read_all() -> None:
        got.extend(iter(rfile.readline, b""))
        rfile.close()

    def write_all() -> None:
        wfile.writelines([*LINES, b"QUIT\n"])
        wfile.close()

    reader, writer = _run(read_all), _run(write_all)
    writer.join(30)
    assert not writer.is_alive()
    sock.close()
    assert sock.fileno() != -1  # still open: the reader's file holds it
    server.release.set()
    reader.join(30)
    assert not reader.is_alive()
    assert got == [b"HELLO\n", *LINES, b"END %d\n" % len(LINES)]
    assert sock.fileno() == -1  # the last file's close closed it


@KINDS
def test_the_writer_file_keeps_the_socket_open(kind: str, pki: PKI) -> None:
    # The reader closes its file and the socket is closed while the writer thread is
    # halfway: the rest of what it writes still arrives.
    server = LineServer(pki, answer=False)
    sock = _connect(kind, pki, server.port)
    rfile, wfile = sock.makefile("rb"), sock.makefile("wb")
    reader_done = threading.Event()
    half = len(LINES) // 2

    def write_all() -> None:
        wfile.writelines(LINES[:half])
        wfile.flush()
        assert reader_done.wait(30)
        wfile.writelines([*LINES[half:], b"QUIT\n"])
        wfile.close()

    writer = _run(write_all)
    assert rfile.readline() == b"HELLO\n"
    rfile.close()
    sock.close()
    assert sock.fileno() != -1  # the writer's file holds it
    reader_done.set()
    writer.join(30)
    assert not writer.is_alive()
    assert sock.fileno() == -1
    server.join()
    assert server.received == LINES
