"""tlskit.aio: streams over the sans-I/O core, against itself and openssl."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import os
import socket
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import tlskit.aio
from tlskit import ClientConfig, ServerConfig, TLSError
from tlskit.ca import LocalCA
from tlskit.io import TruncatedConnection

from .conftest import OPENSSL, PKI, OpenSSLServer, needs_openssl
from .helpers import (
    SilentServer,
    handshake_raw_client,
    partial_then_tcp_close,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def run(coro: Awaitable[Any], timeout: float = 30) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


async def serve(handler: Handler, config: ServerConfig, **kw: Any) -> tuple[asyncio.Server, int]:
    server = await tlskit.aio.start_server(handler, "127.0.0.1", 0, config, **kw)
    return server, server.sockets[0].getsockname()[1]


async def stop(server: asyncio.Server) -> None:
    server.close()
    await server.wait_closed()


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1 << 16):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


def test_echo_one_mebibyte_with_drain(server_config: ServerConfig,
                                      client_config: ClientConfig) -> None:
    async def main() -> None:
        server, port = await serve(echo, server_config)
        reader, writer = await tlskit.aio.open_connection(
            "127.0.0.1", port, client_config, server_name="localhost")
        payload = os.urandom(1 << 20)

        async def send() -> None:
            for i in range(0, len(payload), 50_000):
                writer.write(payload[i:i + 50_000])
                await writer.drain()

        sender = asyncio.create_task(send())
        got = await reader.readexactly(len(payload))
        await sender
        assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
        writer.close()
        await writer.wait_closed()
        await stop(server)

    run(main())


def test_extra_info(pki: PKI, server_config: ServerConfig) -> None:
    seen: dict[str, Any] = {}

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["server_hc"] = writer.get_extra_info("tlskit")
        seen["client_cert"] = writer.get_extra_info("peercert")
        writer.close()

    async def main() -> None:
        cfg = ServerConfig(certificate_chain=pki.issued.chain,
                           private_key=pki.issued.private_key, alpn_protocols=["h2"])
        server, port = await serve(handler, cfg)
        reader, writer = await tlskit.aio.open_connection(
            "127.0.0.1", port, ClientConfig(trust_anchors=[pki.ca.root], alpn_protocols=["h2"]),
            server_name="localhost")
        hc = writer.get_extra_info("tlskit")
        assert hc.version == "TLSv1.3" and hc.alpn_protocol == "h2"
        assert writer.get_extra_info("cipher") == (hc.cipher_suite.name, "TLSv1.3",
                                                   writer.get_extra_info("cipher")[2])
        cert = writer.get_extra_info("peercert")
        assert ("DNS", "localhost") in cert["subjectAltName"]
        obj = writer.get_extra_info("ssl_object")
        assert obj.selected_alpn_protocol() == "h2" and obj.version() == "TLSv1.3"
        assert obj.getpeercert(True) == pki.issued.certificate.public_bytes(Encoding.DER)
        assert writer.get_extra_info("peername")[0] == "127.0.0.1"
        assert writer.get_extra_info("socket") is not None
        assert writer.can_write_eof()  # TLS half-close: close_notify, keep reading
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
        await stop(server)

    run(main())
    assert seen["server_hc"].cipher_suite.name.startswith("TLS_")
    assert seen["client_cert"] is None  # no client certificate was asked for


def test_clean_shutdown_client_closes(server_config: ServerConfig,
                                      client_config: ClientConfig) -> None:
    async def main() -> None:
        result: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            result.set_result(await reader.read())  # until the client's close_notify
            writer.close()

        server, port = await serve(handler, server_config)
        _, writer = await tlskit.aio.open_connection("127.0.0.1", port, client_config,
                                                     server_name="localhost")
        writer.write(b"last words")
        writer.close()
        await writer.wait_closed()
        assert await result == b"last words"
        await stop(server)

    run(main())


def test_clean_shutdown_server_closes(server_config: ServerConfig,
                                      client_config: ClientConfig) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"goodbye")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        server, port = await serve(handler, server_config)
        reader, writer = await tlskit.aio.open_connection("127.0.0.1", port, client_config,
                                                          server_name="localhost")
        assert await reader.read() == b"goodbye"  # EOF from the server's close_notify
        assert reader.at_eof()
        writer.close()  # our close_notify; the server has already gone
        await writer.wait_closed()
        await stop(server)

    run(main())


def test_backpressure(server_config: ServerConfig, client_config: ClientConfig) -> None:
    async def main() -> None:
        release = asyncio.Event()
        server_side: dict[str, Any] = {}
        received: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            server_side["writer"] = writer
            await release.wait()
            total = 0
            while data := await reader.read(1 << 16):
                total += len(data)
            received.set_result(total)
            writer.close()

        server, port = await serve(handler, server_config, limit=1 << 14)
        _, writer = await tlskit.aio.open_connection("127.0.0.1", port, client_config,
                                                     server_name="localhost")
        chunk = b"\x00" * (1 << 16)
        sent = 0
        while True:  # write until the peer's buffers are full and drain blocks
            writer.write(chunk)
            sent += len(chunk)
            assert sent < 1 << 30, "drain never blocked"
            try:
                await asyncio.wait_for(writer.drain(), 0.25)
            except TimeoutError:
                break
        # Still blocked: nobody reads on the other side.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(writer.drain(), 0.25)
        assert writer.transport.get_write_buffer_size() > 0
        # The server's reader filled up and paused its TCP transport.
        assert not server_side["writer"].transport.is_reading()
        release.set()
        await asyncio.wait_for(writer.drain(), 10)
        writer.close()
        await writer.wait_closed()
        assert await received == sent
        await stop(server)

    run(main())


def test_handshake_failure_raises_and_is_logged(server_config: ServerConfig,
                                                caplog: pytest.LogCaptureFixture) -> None:
    called: list[bool] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        called.append(True)

    async def main() -> None:
        server, port = await serve(handler, server_config)
        stranger = ClientConfig(trust_anchors=[LocalCA.create().root])
        with pytest.raises(TLSError):
            await tlskit.aio.open_connection("127.0.0.1", port, stranger,
                                             server_name="localhost")
        for _ in range(100):  # let the server see the alert
            if "TLS handshake with" in caplog.text:
                break
            await asyncio.sleep(0.01)
        await stop(server)

    with caplog.at_level(logging.INFO, logger="tlskit.aio"):
        run(main())
    assert not called
    assert "TLS handshake with 127.0.0.1" in caplog.text


def test_client_handshake_timeout(client_config: ClientConfig) -> None:
    silent = SilentServer()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TimeoutError, match=r"handshake with 127\.0\.0\.1:\d+ timed out "
                                               r"after 0\.3 s"):
            await tlskit.aio.open_connection("127.0.0.1", silent.port, client_config,
                                             server_name="localhost", handshake_timeout=0.3)
        assert loop.time() - start < 5

    try:
        run(main())
    finally:
        silent.close()


def test_server_handshake_timeout(server_config: ServerConfig,
                                  caplog: pytest.LogCaptureFixture) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise AssertionError("no handshake, no callback")

    async def main() -> None:
        server, port = await serve(handler, server_config, handshake_timeout=0.3)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # plain TCP, silent
        start = asyncio.get_running_loop().time()
        with contextlib.suppress(ConnectionResetError):  # an abort is fine too
            assert await reader.read() == b""
        assert asyncio.get_running_loop().time() - start < 5
        writer.close()
        await stop(server)

    with caplog.at_level(logging.INFO, logger="tlskit.aio"):
        run(main())
    assert "timed out after 0.3 s" in caplog.text


def test_data_coalesced_with_client_finished(server_config: ServerConfig,
                                             client_config: ClientConfig) -> None:
    async def main() -> bytes:
        got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            got.set_result(await reader.readexactly(10))
            writer.close()

        server, port = await serve(handler, server_config)

        def client() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                conn = handshake_raw_client(raw, client_config)
                conn.send_data(b"early bird")
                raw.sendall(conn.data_to_send())  # Finished + data in one segment
                raw.recv(1)

        await asyncio.to_thread(client)
        data = await got
        await stop(server)
        return data

    assert run(main()) == b"early bird"


def test_truncation_is_end_of_stream_by_default(server_config: ServerConfig,
                                                client_config: ClientConfig) -> None:
    """As asyncio + ssl: the reader sees EOF; the transport says it was truncated."""
    srv = partial_then_tcp_close(server_config)

    async def main() -> None:
        reader, writer = await tlskit.aio.open_connection("127.0.0.1", srv.port, client_config,
                                                          server_name="localhost")
        assert await reader.readexactly(7) == b"partial"
        assert not writer.get_extra_info("tlskit_truncated")
        assert await reader.read() == b""
        assert writer.get_extra_info("tlskit_truncated") is True
        writer.close()

    run(main())
    srv.join()


def test_truncation_is_an_error_when_asked(server_config: ServerConfig,
                                           client_config: ClientConfig) -> None:
    srv = partial_then_tcp_close(server_config)

    async def main() -> None:
        reader, writer = await tlskit.aio.open_connection(
            "127.0.0.1", srv.port, client_config, server_name="localhost",
            suppress_ragged_eofs=False)
        assert await reader.readexactly(7) == b"partial"
        with pytest.raises(TruncatedConnection):
            await reader.read()
        writer.close()

    run(main())
    srv.join()


@needs_openssl
def test_client_against_openssl_www(openssl_www: OpenSSLServer,
                                    client_config: ClientConfig) -> None:
    async def main() -> bytes:
        reader, writer = await tlskit.aio.open_connection(
            "127.0.0.1", openssl_www.port, client_config, server_name="localhost")
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        await writer.drain()
        page = await reader.read()
        writer.close()
        await writer.wait_closed()
        return page

    page = run(main())
    assert page.startswith(b"HTTP/1.0 200 ok\r\n")
    assert b"TLSv1.3" in page


@needs_openssl
@pytest.mark.interop
def test_openssl_s_client_against_aio_server(pki: PKI, server_config: ServerConfig) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (line := await reader.readline()) and line != b"QUIT\n":
            writer.write(line.upper())
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> tuple[int | None, bytes, bytes]:
        server, port = await serve(handler, server_config)
        assert OPENSSL is not None
        proc = await asyncio.create_subprocess_exec(
            OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
            "-CAfile", str(pki.root_pem), "-verify_return_error", "-tls1_3", "-quiet",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(b"hello aio\nQUIT\n"), 20)
        await stop(server)
        return proc.returncode, out, err

    code, out, err = run(main())
    assert code == 0, err.decode(errors="replace")
    assert out == b"HELLO AIO\n"


def test_half_close_write_eof(server_config: ServerConfig,
                              client_config: ClientConfig) -> None:
    """write_eof() sends close_notify but keeps reading: the server sees EOF, answers,
    and the client still receives the answer (RFC 8446 6.1)."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.read()  # until the client's close_notify
        writer.write(b"you said: " + request)
        await writer.drain()
        writer.close()

    async def main() -> None:
        server, port = await serve(handler, server_config)
        reader, writer = await tlskit.aio.open_connection("127.0.0.1", port, client_config,
                                                          server_name="localhost")
        assert writer.can_write_eof()
        writer.write(b"question")
        writer.write_eof()
        assert await reader.read() == b"you said: question"
        writer.close()
        await stop(server)

    run(main())


def test_closed_connections_are_freed_by_reference_counting(
        server_config: ServerConfig, client_config: ClientConfig) -> None:
    """Both ends' connection state (the engine and the stream transport) is freed by
    reference counting once closed: `TLSProtocol` and its inner transport refer to each
    other until connection_lost lets go, as asyncio's SSLProtocol does. Left to the cycle
    collector, every connection cost a server ~15 us of collection and held its keys until
    a collection ran."""
    refs: list[weakref.ref[Any]] = []

    def watch(writer: asyncio.StreamWriter) -> None:
        refs.append(weakref.ref(writer.get_extra_info("tlskit_connection")))
        refs.append(weakref.ref(writer.transport))

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        watch(writer)
        writer.write(await reader.read(100))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        server, port = await serve(handler, server_config)
        reader, writer = await tlskit.aio.open_connection(
            "127.0.0.1", port, client_config, server_name="localhost")
        watch(writer)
        writer.write(b"ping")
        assert await reader.read(100) == b"ping"
        assert await reader.read(100) == b""
        writer.close()
        await writer.wait_closed()
        del reader, writer
        await stop(server)

    gc.collect()
    gc.disable()
    try:
        run(main())
        alive = [type(r()).__name__ for r in refs if r() is not None]
    finally:
        gc.enable()
    assert len(refs) == 4 and alive == []


def test_reads_reuse_one_buffer_and_connections_do_not_mix(
        server_config: ServerConfig, client_config: ClientConfig) -> None:
    """`TLSProtocol` is a buffered protocol: the TCP transport reads into one buffer per
    thread (as asyncio's SSLProtocol reads into its own) instead of allocating a new 256
    KiB bytes object for every read, which cost an mmap, a page fault, an mremap and an
    munmap per read. Connections share that buffer, so interleaved reads on several
    connections must each get their own bytes back."""
    import tracemalloc

    async def main() -> int:
        server, port = await serve(echo, server_config)
        pairs = [await tlskit.aio.open_connection("127.0.0.1", port, client_config,
                                                  server_name="localhost")
                 for _ in range(4)]
        for i, (reader, writer) in enumerate(pairs):  # warm up (the buffer is made once)
            writer.write(b"%d" % i)
            assert await reader.read(100) == b"%d" % i
        tracemalloc.start()
        try:
            for rnd in range(25):
                for i, (_, writer) in enumerate(pairs):
                    writer.write(b"round %d connection %d " % (rnd, i) * (i + 1))
                for i, (reader, _) in enumerate(pairs):
                    want = b"round %d connection %d " % (rnd, i) * (i + 1)
                    assert await reader.readexactly(len(want)) == want
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        for _, writer in pairs:
            writer.close()
            await writer.wait_closed()
        await stop(server)
        return peak

    peak = run(main())
    assert peak < 1 << 17, f"{peak} bytes allocated at once: a new buffer per read?"
    assert issubclass(tlskit.aio.TLSProtocol, asyncio.BufferedProtocol)


def test_signed_certificate_timestamps_in_extra_info(pki: PKI) -> None:
    from ..support.ct import SigningLog
    sct = SigningLog().sct(pki.issued.certificate)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def main() -> None:
        cfg = ServerConfig(certificate_chain=pki.issued.chain,
                           private_key=pki.issued.private_key, scts=[sct])
        server, port = await serve(handler, cfg)
        reader, writer = await tlskit.aio.open_connection(
            "127.0.0.1", port, ClientConfig(trust_anchors=[pki.ca.root], request_scts=True),
            server_name="localhost")
        assert writer.get_extra_info("tlskit").signed_certificate_timestamps == (sct,)
        assert writer.get_extra_info("ssl_object").signed_certificate_timestamps == (sct,)
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
        await stop(server)

    run(main())
