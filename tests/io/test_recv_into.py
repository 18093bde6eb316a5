"""`TLSSocket.recv_into` with a buffer that holds a whole record: application data is
decrypted straight into the caller's buffer; everything else (KeyUpdate, tickets,
close_notify, forged records, small reads afterwards) still goes the general way."""

from __future__ import annotations

import hashlib
import os
import socket
import threading

import pytest

import tlskit
from tlskit import ClientConfig, ServerConfig, TLSError
from tlskit.enums import AlertDescription
from tlskit.io.blocking import DIRECT_MIN

from ..support.aead_count import count_decrypts
from ..support.mitm import Endpoint
from ..support.pump import ServerThread
from ..support.records import APPDATA
from .conftest import BulkEchoHandler
from .helpers import handshake_raw_server


def read_exactly_into(sock: tlskit.TLSSocket, n: int, size: int = 1 << 16) -> bytes:
    buf = bytearray(size)
    got = bytearray()
    while len(got) < n:
        k = sock.recv_into(buf)
        assert k, "EOF before all data arrived"
        got += buf[:k]
    return bytes(got)


def test_recv_into_a_record_sized_buffer_decrypts_in_place(tls_server_factory,
                                                           client_config: ClientConfig):
    srv = tls_server_factory(BulkEchoHandler)
    payload = os.urandom(1 << 20)
    with tlskit.connect("127.0.0.1", srv.server_address[1], client_config,
                        server_name="localhost", timeout=10) as sock:
        writer = threading.Thread(target=sock.sendall, args=(payload,))
        writer.start()
        got = read_exactly_into(sock, len(payload))
        writer.join()
        assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
        assert sock._cbuf is not None  # the zero-copy path ran
        assert sock.pending() == 0     # and nothing went through the plaintext buffer


def serve(server_config: ServerConfig, script, *, mitm: bool = False) -> ServerThread:
    """A server that, once the client said "go", runs `script`. No session tickets, so
    what the client reads next is exactly what the script sends. With `mitm`, the
    server's connection is an `Endpoint` behind the key-log man-in-the-middle, so the
    script can forge records (`conn.flow`) in step with what the server sends."""
    server_config = server_config.replace(session_tickets=0)

    def action(sock: socket.socket) -> None:
        conn = handshake_raw_server(sock, server_config, mitm=mitm)
        assert conn.receive_data(sock.recv(1000))[0].data == b"go"  # type: ignore[attr-defined]
        script(sock, conn)
    return ServerThread(action)


def dial(srv: ServerThread, client_config: ClientConfig) -> tlskit.TLSSocket:
    """A tlskit client connected to the scripted server (which waits for its b"go")."""
    return tlskit.connect("127.0.0.1", srv.port, client_config, server_name="localhost",
                          timeout=10)


def send_then_drain(sock: socket.socket, conn: tlskit.ServerConnection) -> None:
    """What `conn` queued, in one write; then the client's answers until it closed."""
    sock.sendall(conn.data_to_send())
    while not conn.closed:
        data = sock.recv(65536)
        if not data:
            return
        conn.receive_data(data)


def test_key_update_close_notify_and_small_reads_after_direct_reads(
        server_config: ServerConfig, client_config: ClientConfig):
    def script(sock: socket.socket, conn: tlskit.ServerConnection) -> None:
        conn.send_data(b"a" * 20000)          # two records
        conn.update_keys(request_peer_update=False)
        conn.send_data(b"b" * 100)
        conn.send_data(b"")                    # an empty record
        conn.send_data(b"tail of the stream")
        conn.close()
        send_then_drain(sock, conn)

    srv = serve(server_config, script)
    with dial(srv, client_config) as sock:
        sock.sendall(b"go")
        buf = bytearray(DIRECT_MIN)
        assert sock.recv_into(buf) == 16384 and buf[:16384] == b"a" * 16384  # in place
        assert sock.recv(4) == b"aaaa"  # the buffered path takes the ciphertext left over
        stream = bytearray(b"a" * 16388)
        while k := sock.recv_into(buf):  # ... and the direct path resumes after it
            stream += buf[:k]
        assert stream == b"a" * 20000 + b"b" * 100 + b"tail of the stream"
        assert sock.recv_into(buf) == 0  # close_notify: a clean EOF, and it stays
    srv.join()


def test_forged_record_is_bad_record_mac_on_the_direct_path(server_config: ServerConfig,
                                                            client_config: ClientConfig):
    alerts: list[bytes] = []

    def script(sock: socket.socket, conn: tlskit.ServerConnection) -> None:
        conn.send_data(b"genuine")
        conn.send_data(b"forged")
        data = bytearray(conn.data_to_send())
        assert len(data) == (5 + 8 + 16) + (5 + 7 + 16)  # the two records
        data[-1] ^= 1  # the second record's tag
        sock.sendall(data)
        alerts.append(sock.recv(100))

    srv = serve(server_config, script)
    with dial(srv, client_config) as sock:
        sock.sendall(b"go")
        buf = bytearray(1 << 15)
        assert sock.recv_into(buf) == 7 and buf[:7] == b"genuine"
        with pytest.raises(TLSError) as info:
            sock.recv_into(buf)
        assert info.value.alert == AlertDescription.bad_record_mac
        assert bytes(buf[:6]) != b"forged"  # no unauthentic plaintext reached the caller
    srv.join()
    assert alerts and alerts[0][:3] == b"\x17\x03\x03"  # our (protected) alert went out


def test_each_record_is_decrypted_once_on_the_direct_path(server_config: ServerConfig,
                                                          client_config: ClientConfig):
    """A KeyUpdate, padded data and close_notify reach `receive_record_into`, which opens
    them, finds they are not plain data and has the connection keep their plaintext
    (HELD): the socket takes their events at once and nothing is decrypted twice."""
    def script(sock: socket.socket, conn: Endpoint) -> None:
        conn.send_data(b"a" * 100)
        conn.update_keys(request_peer_update=False)
        head = conn.data_to_send()
        forged = conn.flow.inject(APPDATA, b"padded", padding=50)  # (no public API pads)
        conn.send_data(b"b" * 100)
        conn.close()
        sock.sendall(head + forged + conn.data_to_send())  # in one write, as the others
        send_then_drain(sock, conn)  # (only the draining is left)

    srv = serve(server_config, script, mitm=True)
    with dial(srv, client_config) as sock:
        counter = count_decrypts(sock._conn)
        sock.sendall(b"go")
        buf = bytearray(DIRECT_MIN)
        stream = bytearray()
        while k := sock.recv_into(buf):
            stream += buf[:k]
        assert stream == b"a" * 100 + b"padded" + b"b" * 100
        assert counter.calls == 5  # five records, each opened once
        assert sock.recv_into(buf) == 0  # close_notify: a clean EOF, and it stays
    srv.join()


def test_nbytes_beyond_the_buffer_reads_the_buffer_size(server_config: ServerConfig,
                                                        client_config: ClientConfig):
    """As ssl.SSLSocket.recv_into (whose _ssl read clamps ``nbytes`` to the buffer, where a
    plain socket raises "buffer too small"): a larger ``nbytes`` fills the buffer, never
    past it; a negative one is the plain socket's ValueError, whatever has arrived."""
    def script(sock: socket.socket, conn: tlskit.ServerConnection) -> None:
        conn.send_data(b"0123456789")
        conn.close()
        send_then_drain(sock, conn)

    srv = serve(server_config, script)
    with dial(srv, client_config) as sock:
        sock.sendall(b"go")
        backing = bytearray(b"........")
        buf = memoryview(backing)[:4]
        assert sock.recv_into(buf, 100) == 4 and backing == b"0123...."
        with pytest.raises(ValueError, match=r"^negative buffersize in recv_into$"):
            sock.recv_into(buf, -1)
        assert sock.recv_into(buf, 0) == 4 and backing == b"4567...."
    srv.join()
