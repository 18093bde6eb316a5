"""The blocking `SSLSocket` side by side with the stdlib's: each scenario runs with
``impl="ssl"`` (an `ssl.SSLSocket`) and ``impl="tlskit"`` (a tlskit.compat one) and both
must give the same outcome. Peers are real ones on 127.0.0.1: a tlskit sans-I/O
connection on a plain socket where the scenario needs a peer that reads after its own
close_notify (OpenSSL does not), else the stdlib's ssl."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

import tlskit.compat as tc
from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.config import CertifiedKey
from tlskit.connection import Connection
from tlskit.events import ConnectionClosed, DataReceived

from ..io.helpers import handshake_raw_server
from ..support.pump import ServerThread
from .conftest import PKI

IMPLS = pytest.mark.parametrize("impl", ["ssl", "tlskit"])
SIDES = pytest.mark.parametrize("side", ["client", "server"])


def _client_ctx(impl: str, pki: PKI) -> ssl.SSLContext:
    kind: type[ssl.SSLContext] = tc.SSLContext if impl == "tlskit" else ssl.SSLContext
    ctx = kind(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(pki.root))
    return ctx


def _server_ctx(impl: str, pki: PKI) -> ssl.SSLContext:
    kind: type[ssl.SSLContext] = tc.SSLContext if impl == "tlskit" else ssl.SSLContext
    ctx = kind(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.good.fullchain, pki.good.key)
    return ctx


def _half_close_then_collect(sock: socket.socket, conn: Connection) -> bytes:
    """Send close_notify on an established sans-I/O connection, then return the
    application data the other side still sends, up to its close_notify or TCP EOF."""
    conn.close()
    sock.sendall(conn.data_to_send())
    got = b""
    while data := sock.recv(65536):
        for ev in conn.receive_data(data):
            if isinstance(ev, DataReceived):
                got += ev.data
            elif isinstance(ev, ConnectionClosed):
                return got
    return got


def _raw_client(pki: PKI, port: int, result: list[bytes]) -> None:
    """A TLS 1.3 client (sans-I/O on a plain socket) that half-closes at once."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        conn = ClientConnection(ClientConfig(trust_anchors=[pki.ca.root]),
                                server_name="localhost")
        sock.sendall(conn.data_to_send())
        while conn.handshake_complete is None:
            data = sock.recv(65536)
            assert data, "the server went away during the handshake"
            conn.receive_data(data)
        result.append(_half_close_then_collect(sock, conn))


def _serve_once(server_ctx: ssl.SSLContext, ours: Callable[[ssl.SSLSocket], None],
                peer: Callable[[int], None]) -> None:
    """Accept one connection with ``server_ctx`` and run ``ours`` on it while ``peer``
    (given the port) runs in a thread."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        thread = threading.Thread(target=peer, args=(port,), daemon=True)
        thread.start()
        conn, _ = listener.accept()
        conn.settimeout(30)
        with server_ctx.wrap_socket(conn, server_side=True) as sock:
            ours(sock)
        thread.join(30)
        assert not thread.is_alive()


@IMPLS
@SIDES
def test_sending_after_the_peers_close_notify(impl: str, side: str, pki: PKI) -> None:
    # TLS 1.3 half-close: the peer's close_notify ends its direction only; ssl neither
    # answers it by itself nor refuses to send afterwards.
    def ours(sock: ssl.SSLSocket) -> None:
        assert sock.recv(100) == b""  # the peer's close_notify
        sock.sendall(b"after your close_notify")

    if side == "server":
        result: list[bytes] = []
        _serve_once(_server_ctx(impl, pki), ours, lambda port: _raw_client(pki, port, result))
        assert result == [b"after your close_notify"]
        return
    config = ServerConfig(certificates=[CertifiedKey(pki.good.issued.chain,
                                                     pki.good.issued.private_key)])
    collected: list[bytes] = []

    def peer(sock: socket.socket) -> None:
        conn = cast(ServerConnection, handshake_raw_server(sock, config))
        collected.append(_half_close_then_collect(sock, conn))

    srv = ServerThread(peer)
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    with _client_ctx(impl, pki).wrap_socket(raw, server_hostname="localhost") as sock:
        ours(sock)
    srv.join()
    assert collected == [b"after your close_notify"]


@IMPLS
def test_unwrap_leaves_the_plain_socket_to_close(impl: str, pki: PKI) -> None:
    # ssl's unwrap() returns the SSLSocket itself, now plain: ftplib drops the result and
    # closes the object it has. That must close the TCP socket (no ResourceWarning, no
    # descriptor left open), whichever object the caller keeps.
    server_ctx = _server_ctx("ssl", pki)
    got: list[bytes] = []

    def peer(raw: socket.socket) -> None:
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            tls.sendall(b"over tls")
            plain = tls.unwrap()  # (the same object: closed on leaving the block)
            got.extend((plain.recv(100), plain.recv(100)))  # b"in clear", then EOF

    srv = ServerThread(peer)
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    conn = _client_ctx(impl, pki).wrap_socket(raw, server_hostname="localhost")
    assert conn.recv(100) == b"over tls"
    plain = conn.unwrap()
    assert conn.fileno() == plain.fileno() != -1
    plain.sendall(b"in clear")
    conn.close()
    assert plain.fileno() == -1
    srv.join()
    assert got == [b"in clear", b""]


@IMPLS
def test_sendfile_before_the_handshake_goes_through_tls(impl: str, pki: PKI,
                                                        tmp_path: Path) -> None:
    # do_handshake_on_connect=False and sendfile() first: ssl shakes hands and encrypts;
    # the file must never reach the wire as plaintext (os.sendfile on the descriptor).
    content = b"the file's content\n" * 1000
    path = tmp_path / "payload"
    path.write_bytes(content)
    server_ctx = _server_ctx("ssl", pki)
    got: list[bytes] = []

    def peer(raw: socket.socket) -> None:
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
            got.append(data)

    srv = ServerThread(peer)
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    conn = _client_ctx(impl, pki).wrap_socket(raw, server_hostname="localhost",
                                              do_handshake_on_connect=False)
    with path.open("rb") as file:
        assert conn.sendfile(file) == len(content)
    # The end of the stream (ssl: a TCP FIN the server reads as the end; tlskit:
    # close_notify, then FIN), and the close only once the server read it all: closing
    # with the server's tickets unread sends a reset that can cut the data short.
    conn.shutdown(socket.SHUT_WR)
    srv.join()
    conn.close()
    assert got == [content]


@pytest.mark.parametrize("client_impl,server_impl",
                         [("ssl", "ssl"), ("tlskit", "ssl"), ("ssl", "tlskit"),
                          ("tlskit", "tlskit")])
def test_tls_unique_agrees_across_the_connection(client_impl: str, server_impl: str,
                                                 pki: PKI) -> None:
    """TLS 1.2 (with the extended master secret, which both negotiate): both ends report
    the same tls-unique (RFC 5929: the first Finished), whichever implementation each
    end is; ssl against ssl is the reference."""
    got: dict[str, bytes | None] = {}
    server_ctx = _server_ctx(server_impl, pki)
    server_ctx.maximum_version = ssl.TLSVersion.TLSv1_2

    def ours(sock: ssl.SSLSocket) -> None:
        got["server"] = sock.get_channel_binding("tls-unique")
        sock.sendall(b"x")

    def peer(port: int) -> None:
        ctx = _client_ctx(client_impl, pki)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as sock:
            assert sock.recv(1) == b"x" and sock.version() == "TLSv1.2"
            got["client"] = sock.get_channel_binding("tls-unique")

    _serve_once(server_ctx, ours, peer)
    assert got["client"] is not None and len(got["client"]) == 12, got
    assert got["client"] == got["server"], got


@IMPLS
@pytest.mark.parametrize("pair", ["socketpair", "unix-path"])
def test_unix_sockets(impl: str, pair: str, pki: PKI, tmp_path: Path) -> None:
    """TLS over AF_UNIX sockets (a socketpair's ends have no peer name, a bound socket
    has a path), as ssl allows: both ends handshake and exchange data."""
    if pair == "socketpair":
        server_sock, client_sock = socket.socketpair()
    else:
        path = str(tmp_path / "tls.sock")
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(path)
            listener.listen()
            client_sock = socket.socket(socket.AF_UNIX)
            client_sock.connect(path)
            server_sock, _ = listener.accept()
    got: list[bytes] = []

    def serve() -> None:
        with _server_ctx(impl, pki).wrap_socket(server_sock, server_side=True) as tls:
            got.append(tls.recv(5))
            tls.sendall(b"pong!")

    thread = threading.Thread(target=serve)
    thread.start()
    with _client_ctx(impl, pki).wrap_socket(client_sock, server_hostname="localhost") as tls:
        tls.sendall(b"ping!")
        assert (tls.recv(5), tls.version()) == (b"pong!", "TLSv1.3")
    thread.join(30)
    assert got == [b"ping!"]


@IMPLS
def test_recv_into_sizes_as_ssl_reads_them(impl: str, pki: PKI) -> None:
    """ssl's recv_into and read(len, buffer) read at most the buffer's size whatever
    ``nbytes`` says (larger, zero or negative: _ssl clamps, it does not raise as a plain
    socket does); a non-zero flags argument is a ValueError."""
    config = ServerConfig(certificates=[CertifiedKey(pki.good.issued.chain,
                                                     pki.good.issued.private_key)],
                          session_tickets=0)

    def peer(sock: socket.socket) -> None:
        conn = cast(ServerConnection, handshake_raw_server(sock, config))
        conn.send_data(b"0123456789abcdef")
        sock.sendall(conn.data_to_send())
        sock.recv(100)  # until the client closes

    srv = ServerThread(peer)
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    with _client_ctx(impl, pki).wrap_socket(raw, server_hostname="localhost") as sock:
        got = []
        for size, nbytes in ((4, 10), (3, -1), (2, 0), (2, None)):
            buf = bytearray(size)
            n = sock.recv_into(buf) if nbytes is None else sock.recv_into(buf, nbytes)
            got.append(bytes(buf[:n]))
        buf = bytearray(3)
        got.append(bytes(buf[:sock.read(-5, buf)]))
        assert got == [b"0123", b"456", b"78", b"9a", b"bcd"]
        with pytest.raises(ValueError, match=r"^non-zero flags not allowed in calls to "
                                             r"recv_into\(\) on "):
            sock.recv_into(bytearray(4), 4, 1)
        with pytest.raises(ValueError, match=r"^non-zero flags not allowed in calls to recv\("):
            sock.recv(4, 1)
    srv.join()
