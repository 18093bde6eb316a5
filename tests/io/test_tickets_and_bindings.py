"""The adapters' ways to on-demand session tickets (`TLSSocket.send_session_ticket`, the
asyncio transport's) and to channel bindings (`TLSSocket.channel_binding`, the asyncio
``ssl_object``'s), tlskit on both ends over real sockets."""

from __future__ import annotations

import asyncio
import queue
import socketserver
from typing import Any

import pytest

import tlskit
import tlskit.aio
from tlskit import ClientConfig, ServerConfig, SessionTicketReceived, UsageError
from tlskit.session import SessionCache

from ..support.pump import Pump
from .conftest import PKI


def _configs(pki: PKI) -> tuple[ServerConfig, ClientConfig]:
    server = ServerConfig(certificate_chain=pki.issued.chain, private_key=pki.issued.private_key,
                          session_tickets=1, automatic_tickets=False)
    return server, ClientConfig(trust_anchors=[pki.ca.root], session_cache=SessionCache())


def test_blocking_ticket_on_demand_and_bindings(tls_server_factory, pki: PKI) -> None:
    """No ticket until the handler sends one after the client's line; the next connection
    resumes with it. Both ends give the same tls-exporter and tls-server-end-point."""
    server_config, client_config = _configs(pki)
    seen: queue.Queue[Any] = queue.Queue()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            line = self.rfile.readline()
            sock = self.request
            seen.put((sock.channel_binding(), sock.channel_binding("tls-server-end-point")))
            seen.put(sock.send_session_ticket())
            self.wfile.write(line)

    srv = tls_server_factory(Handler, server_config)
    port = srv.server_address[1]
    resumed = []
    for _ in range(2):
        with tlskit.connect("127.0.0.1", port, client_config, server_name="localhost",
                            timeout=10) as sock:
            assert client_config.session_cache is not None
            sock.sendall(b"hello\n")
            assert sock.recv(10) == b"hello\n"  # the ticket came before the answer
            resumed.append(sock.handshake_info.resumed)
            mine = (sock.channel_binding("tls-exporter"),
                    sock.channel_binding("tls-server-end-point"))
            assert seen.get(timeout=10) == mine
            assert seen.get(timeout=10) is True
    assert resumed == [False, True]


def _ticket_leaves_at_once(port: int, client_config: ClientConfig) -> None:
    """The server sends its ticket after the first line and then only reads (the second
    line): the ticket must have left with the call, not wait for a write."""
    pump = Pump.connect(client_config, port)
    try:
        pump.handshake()
        pump.send(b"one\n")
        [ticket] = pump.wait_event(SessionTicketReceived, "the ticket sent on demand")
        assert ticket.session is not None
        pump.send(b"two\n")
        assert pump.recv_until(b"\n") == b"one two\n"
    finally:
        pump.dispose()


def test_blocking_ticket_leaves_at_once(tls_server_factory, pki: PKI) -> None:
    server_config, client_config = _configs(pki)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            first = self.rfile.readline()
            self.request.send_session_ticket()
            second = self.rfile.readline()
            self.wfile.write(first.strip() + b" " + second)

    srv = tls_server_factory(Handler, server_config)
    _ticket_leaves_at_once(srv.server_address[1], client_config)


def test_aio_ticket_leaves_at_once(pki: PKI) -> None:
    server_config, client_config = _configs(pki)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.readline()
        writer.transport.send_session_ticket()  # type: ignore[attr-defined]
        second = await reader.readline()
        writer.write(first.strip() + b" " + second)
        await writer.drain()
        writer.close()

    async def main() -> None:
        server = await tlskit.aio.start_server(handler, "127.0.0.1", 0, server_config)
        try:
            port = server.sockets[0].getsockname()[1]
            await asyncio.to_thread(_ticket_leaves_at_once, port, client_config)
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_blocking_client_cannot_send_a_ticket(tls_server_factory, pki: PKI,
                                              client_config: ClientConfig) -> None:
    srv = tls_server_factory()
    with tlskit.connect("127.0.0.1", srv.server_address[1], client_config,
                        server_name="localhost", timeout=10) as sock, \
            pytest.raises(UsageError, match="only a server sends session tickets"):
        sock.send_session_ticket()


def test_aio_ticket_on_demand_and_bindings(pki: PKI) -> None:
    server_config, client_config = _configs(pki)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        info = writer.get_extra_info("ssl_object")
        bindings = (info.channel_binding(), info.channel_binding("tls-server-end-point"))
        sent = writer.transport.send_session_ticket()  # type: ignore[attr-defined]
        writer.write(line + repr(sent).encode() + b" " + bindings[0].hex().encode() + b" "
                     + bindings[1].hex().encode() + b"\n")
        await writer.drain()
        writer.close()

    async def main() -> list[bool]:
        server = await tlskit.aio.start_server(handler, "127.0.0.1", 0, server_config)
        port = server.sockets[0].getsockname()[1]
        resumed = []
        try:
            for _ in range(2):
                reader, writer = await tlskit.aio.open_connection(
                    "127.0.0.1", port, client_config, server_name="localhost")
                writer.write(b"hello\n")
                assert await reader.readline() == b"hello\n"
                sent, exporter, end_point = (await reader.readline()).split()
                info = writer.get_extra_info("ssl_object")
                assert sent == b"True"
                assert bytes.fromhex(exporter.decode()) == info.channel_binding("tls-exporter")
                assert bytes.fromhex(end_point.decode()) == \
                    info.channel_binding("tls-server-end-point")
                resumed.append(writer.get_extra_info("tlskit").resumed)
                writer.close()
                await writer.wait_closed()
        finally:
            server.close()
            await server.wait_closed()
        return resumed

    assert asyncio.run(asyncio.wait_for(main(), 30)) == [False, True]
