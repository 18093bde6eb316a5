"""What `tlskit.connect` and `tlskit.aio.open_connection` users read when a peer on
127.0.0.1 is not the TLS server they expected: the library's own message says what the
peer seems to be and what to do (the CLI words its own, with its flags)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

import tlskit
import tlskit.aio
from tlskit import ClientConfig, ServerConfig, ServerConnection
from tlskit.errors import NotTLSError
from tlskit.io import TLSSocket, TruncatedConnection

HANGS_UP = ("closed the connection during the handshake without answering the "
            "ClientHello: servers do that when they do not speak TLS on this port, speak "
            "only TLS 1.1 or older (tlskit implements TLS 1.3 and 1.2), or refuse the offer "
            "without an alert (the config's versions, groups and cipher_suites narrow it)")
PLAIN_HTTP = ("record version 0x5454 is not TLS, so the peer does not speak TLS here: it "
              "answered in plain HTTP ('HTTP/1.0 400 Bad Request'); use http://, or the port "
              "that serves HTTPS")


def _serve(answer: Callable[[socket.socket], None]) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that reads what a client sends first, then ``answer``s
    and closes, for every client; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                answer(conn)

    threading.Thread(target=run, daemon=True).start()
    with listener:
        yield listener.getsockname()[1]


@pytest.fixture
def hangs_up() -> Iterator[int]:
    yield from _serve(lambda conn: None)


@pytest.fixture
def plain_http() -> Iterator[int]:
    yield from _serve(lambda conn: conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n"))


def _aio_error(port: int, config: ClientConfig) -> BaseException:
    async def go() -> None:
        _, writer = await tlskit.aio.open_connection("127.0.0.1", port, config,
                                                     server_name="localhost",
                                                     handshake_timeout=20)
        writer.close()

    with pytest.raises(tlskit.TLSError) as err:
        asyncio.run(go())
    return err.value


def test_server_hanging_up_on_the_client_hello(hangs_up: int,
                                               client_config: ClientConfig) -> None:
    with pytest.raises(TruncatedConnection) as err:
        tlskit.connect("127.0.0.1", hangs_up, client_config, server_name="localhost")
    assert str(err.value) == f"127.0.0.1:{hangs_up} {HANGS_UP}"
    aio_err = _aio_error(hangs_up, client_config)
    assert isinstance(aio_err, TruncatedConnection)
    assert str(aio_err) == f"127.0.0.1:{hangs_up} {HANGS_UP}"


def test_plain_http_port(plain_http: int, client_config: ClientConfig) -> None:
    with pytest.raises(NotTLSError) as err:
        tlskit.connect("127.0.0.1", plain_http, client_config, server_name="localhost")
    assert str(err.value) == PLAIN_HTTP
    aio_err = _aio_error(plain_http, client_config)
    assert isinstance(aio_err, NotTLSError) and str(aio_err) == PLAIN_HTTP


def test_a_client_hanging_up_is_reported_plainly(server_config: ServerConfig) -> None:
    """The hint is about servers: a server whose client hangs up keeps the plain words."""
    ours, theirs = socket.socketpair()
    theirs.close()
    tls = TLSSocket(ours, ServerConnection(server_config), server_side=True, peer="peer")
    with pytest.raises(TruncatedConnection) as err:
        tls.do_handshake()
    assert str(err.value) == "peer closed the connection during the handshake"
    tls.close()
