"""`TLSSocket` against unusual peers scripted on plain sockets with the sans-I/O API."""

from __future__ import annotations

import contextlib
import select
import socket
import threading

import pytest

import tlskit
from tlskit import AlertReceived, ClientConfig, ServerConfig
from tlskit.enums import AlertDescription
from tlskit.errors import BadRecordMac

from ..support.pump import ServerThread
from .helpers import handshake_raw_client, handshake_raw_server

FORGED = b"\x17\x03\x03\x00\x20" + b"z" * 32  # an application-data record nobody sealed
READS = {
    "recv": lambda sock: sock.recv(100),
    "recv_into": lambda sock: sock.recv_into(bytearray(1 << 15)),  # (the direct path)
}


@pytest.mark.parametrize("read", READS)
def test_reads_after_the_peer_s_fatal_alert_raise_it_again(
        read: str, server_config: ServerConfig, client_config: ClientConfig) -> None:
    """A peer's fatal alert fails every later read too, as the connection does; the
    reads after the first returned b"" (0), the end of the stream of a clean close."""
    def server(sock: socket.socket) -> None:
        conn = handshake_raw_server(sock, server_config)
        with contextlib.suppress(BadRecordMac):
            conn.receive_data(FORGED)  # the server's bad_record_mac alert, protected
        sock.sendall(conn.data_to_send())
        sock.recv(1)  # until the client is done

    srv = ServerThread(server)
    with tlskit.connect("127.0.0.1", srv.port, client_config, server_name="localhost",
                        timeout=10) as sock:
        for _ in range(3):
            with pytest.raises(AlertReceived) as caught:
                READS[read](sock)
            assert caught.value.alert == AlertDescription.bad_record_mac
    srv.join()


@pytest.mark.parametrize("read", READS)
def test_reads_after_our_alert_raise_the_error_again(
        read: str, server_config: ServerConfig, client_config: ClientConfig) -> None:
    """After a record failed and our alert went out, a later read raises that error
    again without reading the socket; it read on, and the peer's close after our alert
    came back as the end of the stream (b"", `truncated`) or as a connection reset."""
    def server(sock: socket.socket) -> bytes:
        conn = handshake_raw_server(sock, server_config)
        sock.sendall(conn.data_to_send() + FORGED)
        return sock.recv(100)  # the client's alert; then TCP closes, no close_notify

    srv = ServerThread(server)
    with tlskit.connect("127.0.0.1", srv.port, client_config, server_name="localhost",
                        timeout=10) as sock:
        with pytest.raises(BadRecordMac):
            READS[read](sock)
        assert srv.join() != [b""]  # the alert arrived; the server has closed
        for _ in range(2):
            with pytest.raises(BadRecordMac):
                READS[read](sock)
        assert not sock.truncated



@pytest.mark.timeout(20)  # (the bug blocked for handshake_timeout, 60 s here)
def test_non_blocking_handshake_raises_instead_of_waiting(
        server_config: ServerConfig, client_config: ClientConfig) -> None:
    """On a non-blocking socket do_handshake raises BlockingIOError when it would wait
    (as ssl's SSLWantReadError) and completes when called again on readiness; it waited
    up to ``handshake_timeout`` for a silent client, blocking the caller's event loop."""
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    with tlskit.wrap_server_socket(listening, server_config, handshake_timeout=60) as lst, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        sock, _ = lst.accept()
        with sock:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.do_handshake()  # the client said nothing yet

            def client() -> None:
                conn = handshake_raw_client(raw, client_config)
                conn.send_data(b"ping")
                raw.sendall(conn.data_to_send())  # Finished and data

            speaker = threading.Thread(target=client, daemon=True)
            speaker.start()
            while True:
                select.select([sock], [], [], 10)
                try:
                    sock.do_handshake()
                    break
                except BlockingIOError:
                    continue
            speaker.join(10)
            got = b""
            while len(got) < 4:
                if not sock.pending():  # (what arrived with the Finished is read already)
                    select.select([sock], [], [], 10)
                with contextlib.suppress(BlockingIOError):
                    got += sock.recv(4)
    assert got == b"ping"


def test_a_write_to_a_peer_that_does_not_read_times_out_saying_so(
        server_config: ServerConfig, client_config: ClientConfig) -> None:
    """sendall to a peer that never reads ends with the socket timeout, and the error
    names the peer, the timeout and the cause, as recv's does (it said "timed out")."""
    done = threading.Event()

    def server(sock: socket.socket) -> None:
        handshake_raw_server(sock, server_config)
        done.wait(30)  # never reads

    srv = ServerThread(server)
    try:
        expected = r"send to 127\.0\.0\.1:\d+ timed out after 0\.5 s \(the peer is not reading"
        with tlskit.connect("127.0.0.1", srv.port, client_config, server_name="localhost",
                            timeout=0.5) as sock, pytest.raises(TimeoutError, match=expected):
            sock.sendall(bytes(1 << 26))
    finally:
        done.set()
    srv.join()
