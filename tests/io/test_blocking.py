"""Blocking client and server: echo, files, peer information, close, truncation."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import socketserver
import ssl
import threading

import pytest

import tlskit
from tlskit import ClientConfig, ServerConfig, TLSError
from tlskit.ca import LocalCA
from tlskit.io import TLSSocket, TruncatedConnection

from ..support.pump import ServerThread
from .conftest import PKI, BulkEchoHandler, EchoHandler
from .helpers import (
    handshake_raw_client,
    handshake_raw_server,
    partial_then_tcp_close,
    wait_for,
)


def _port(server: socketserver.TCPServer) -> int:
    return server.server_address[1]


def _connect(server: socketserver.TCPServer, config: ClientConfig) -> tlskit.TLSSocket:
    """A client connected to ``server`` as "localhost", 10 s socket timeout."""
    return tlskit.connect("127.0.0.1", _port(server), config, server_name="localhost",
                          timeout=10)


def test_echo_one_mebibyte(tls_server_factory, client_config: ClientConfig) -> None:
    srv = tls_server_factory(BulkEchoHandler)
    payload = os.urandom(1 << 20)
    with _connect(srv, client_config) as sock:
        writer = threading.Thread(target=sock.sendall, args=(payload,))
        writer.start()
        got = bytearray()
        while len(got) < len(payload):
            chunk = sock.recv(1 << 16)
            assert chunk, "server closed early"
            got += chunk
        writer.join()
        assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()


def test_makefile_lines_and_send(tls_server_factory, client_config: ClientConfig) -> None:
    srv = tls_server_factory(EchoHandler)
    sock = tlskit.connect("127.0.0.1", _port(srv), client_config, server_name="localhost",
                          timeout=10)
    f = sock.makefile("rwb")
    for i in range(50):
        f.write(b"line %d\n" % i)
    f.flush()
    assert [f.readline() for _ in range(50)] == [b"line %d\n" % i for i in range(50)]
    assert sock.send(b"direct\n") == 7
    assert f.readline() == b"direct\n"
    f.write(b"QUIT\n")
    f.flush()
    assert f.readline() == b""  # the server's close_notify is a clean EOF
    sock.close()  # the file still holds the socket open
    assert sock.fileno() != -1
    f.close()
    assert sock.fileno() == -1


def test_text_makefile(tls_server_factory, client_config: ClientConfig) -> None:
    srv = tls_server_factory(EchoHandler)
    with _connect(srv, client_config) as sock:
        w = sock.makefile("w", encoding="utf-8")
        r = sock.makefile("r", encoding="utf-8")
        w.write("héllo\n")
        w.flush()
        assert r.readline() == "héllo\n"
        w.close()
        r.close()


def test_recv_into_and_pending(tls_server_factory, client_config: ClientConfig) -> None:
    srv = tls_server_factory(EchoHandler)
    with _connect(srv, client_config) as sock:
        sock.sendall(b"0123456789\n")
        buf = bytearray(4)
        assert sock.recv_into(buf) == 4
        assert bytes(buf) == b"0123"
        assert sock.pending() == 7
        assert sock.recv_into(memoryview(buf)[:2], 2) == 2
        assert sock.recv(100) == b"6789\n"
        assert sock.recv(0) == b""


def test_peer_information(tls_server_factory, pki: PKI) -> None:
    srv = tls_server_factory(EchoHandler, ServerConfig(
        certificate_chain=pki.issued.chain, private_key=pki.issued.private_key,
        alpn_protocols=["http/1.1"]))
    cfg = ClientConfig(trust_anchors=[pki.ca.root], alpn_protocols=["h2", "http/1.1"])
    with tlskit.connect("127.0.0.1", _port(srv), cfg, server_name="localhost") as sock:
        assert sock.version() == "TLSv1.3"
        name, version, bits = sock.cipher()
        assert version == "TLSv1.3" and name.startswith("TLS_") and bits in (128, 256)
        assert sock.selected_alpn_protocol() == "http/1.1"
        assert sock.handshake_info is not None
        assert sock.handshake_info.cipher_suite.name == name
        assert sock.peer_certificates[0] == pki.issued.certificate
        der = sock.getpeercert(binary_form=True)
        assert ssl.DER_cert_to_PEM_cert(der).encode() == pki.leaf.read_bytes()
        cert = sock.getpeercert()
        assert cert["subject"] == ((("commonName", "localhost"),),)
        assert ("DNS", "localhost") in cert["subjectAltName"]
        assert ("IP Address", "127.0.0.1") in cert["subjectAltName"]
        not_after = pki.issued.certificate.not_valid_after_utc.timestamp()
        assert ssl.cert_time_to_seconds(cert["notAfter"]) == int(not_after)
        assert any(rdn[0][0] == "commonName" for rdn in cert["issuer"])
        assert sock.getpeername()[0] == "127.0.0.1"
        assert sock.getsockname()[0] == "127.0.0.1"
        assert sock.server_hostname == "localhost"
        assert "established" in repr(sock)
        assert len(sock.export_keying_material(b"EXPORTER-test", b"", 32)) == 32


def test_update_keys_keeps_the_stream(tls_server_factory, client_config: ClientConfig) -> None:
    srv = tls_server_factory(EchoHandler)
    with _connect(srv, client_config) as sock:
        f = sock.makefile("rb")
        for i in range(3):
            sock.update_keys()
            sock.sendall(b"after update %d\n" % i)
            assert f.readline() == b"after update %d\n" % i
        f.close()


def test_server_close_is_clean_eof(tls_server_factory, client_config: ClientConfig) -> None:
    srv = tls_server_factory(EchoHandler)
    with _connect(srv, client_config) as sock:
        sock.sendall(b"QUIT\n")
        assert sock.recv(10) == b""
        assert sock.recv(10) == b""  # stays at EOF


def test_client_close_is_clean_eof_for_server(pki: PKI, server_config: ServerConfig,
                                              client_config: ClientConfig) -> None:
    results: list[bytes] = []
    listener = tlskit.wrap_server_socket(socket.create_server(("127.0.0.1", 0)), server_config)

    def serve() -> None:
        sock, _ = listener.accept()
        with sock:
            sock.settimeout(10)
            sock.sendall(b"ready")
            while data := sock.recv(100):
                results.append(data)
            results.append(b"<eof>")

    t = threading.Thread(target=serve)
    t.start()
    sock = tlskit.connect("127.0.0.1", listener.getsockname()[1], client_config,
                          server_name="localhost")
    assert sock.recv(5) == b"ready"  # (the session tickets came before it)
    sock.sendall(b"bye")
    sock.close()
    t.join(10)
    listener.close()
    assert b"".join(results) == b"bye<eof>"


def test_accept_does_not_handshake(server_config: ServerConfig,
                                   client_config: ClientConfig) -> None:
    listener = tlskit.wrap_server_socket(socket.create_server(("127.0.0.1", 0)), server_config,
                                         handshake_timeout=10)
    port = listener.getsockname()[1]
    silent = socket.create_connection(("127.0.0.1", port))
    listener.settimeout(10)
    idle, _ = listener.accept()  # returns although the client never sends a ClientHello
    assert isinstance(idle, TLSSocket) and idle.handshake_info is None
    assert "handshaking" in repr(idle)
    done = threading.Event()

    def serve_one() -> None:
        s, _ = listener.accept()
        with s:
            s.sendall(b"hello")  # the first write runs the handshake
        done.set()

    t = threading.Thread(target=serve_one)
    t.start()
    with tlskit.connect("127.0.0.1", port, client_config, server_name="localhost",
                        timeout=10) as c:
        assert c.recv(5) == b"hello"
    t.join(10)
    assert done.is_set()
    silent.close()
    with pytest.raises(TruncatedConnection):
        idle.do_handshake()
    idle.close()
    listener.close()


def test_data_arriving_with_the_handshake_is_kept(server_config: ServerConfig,
                                                  client_config: ClientConfig) -> None:
    listener = tlskit.wrap_server_socket(socket.create_server(("127.0.0.1", 0)), server_config)
    got: list[bytes] = []

    def serve() -> None:
        s, _ = listener.accept()
        with s:
            s.settimeout(10)
            got.append(s.recv(1000))

    t = threading.Thread(target=serve)
    t.start()
    raw = socket.create_connection(listener.getsockname()[:2])
    conn = handshake_raw_client(raw, client_config)
    conn.send_data(b"early bird")
    raw.sendall(conn.data_to_send())  # client Finished + application data in one write
    t.join(10)
    raw.close()
    listener.close()
    assert got == [b"early bird"]


def test_truncation_reads_as_end_of_stream_by_default(server_config: ServerConfig,
                                                      client_config: ClientConfig) -> None:
    """As ssl's suppress_ragged_eofs=True: b"" at the end, `truncated` tells why."""
    srv = partial_then_tcp_close(server_config)
    with tlskit.connect("127.0.0.1", srv.port, client_config, server_name="localhost",
                        timeout=10) as sock:
        assert sock.recv(100) == b"partial"
        assert not sock.truncated
        assert sock.recv(100) == b""
        assert sock.truncated
        assert sock.recv(100) == b""
        assert sock.recv_into(bytearray(10)) == 0
    srv.join()


def test_truncation_raises_when_asked(server_config: ServerConfig,
                                      client_config: ClientConfig) -> None:
    srv = partial_then_tcp_close(server_config)
    with tlskit.connect("127.0.0.1", srv.port, client_config, server_name="localhost",
                        timeout=10, suppress_ragged_eofs=False) as sock:
        assert sock.recv(100) == b"partial"
        with pytest.raises(TruncatedConnection, match="without close_notify"):
            sock.recv(100)
        with pytest.raises(TruncatedConnection):
            sock.recv(100)
    srv.join()


def test_clean_close_is_not_truncated(tls_server_factory, client_config: ClientConfig) -> None:
    """close_notify then FIN: end of stream with truncated False."""
    class Bye(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"bye")  # TLSServer then sends close_notify and FIN

    server = tls_server_factory(Bye)
    with tlskit.connect("127.0.0.1", server.server_address[1], client_config,
                        server_name="localhost", timeout=10) as sock:
        assert sock.recv(100) == b"bye"
        assert sock.recv(100) == b""
        assert not sock.truncated


def test_eof_during_handshake(client_config: ClientConfig) -> None:
    srv = ServerThread(lambda sock: sock.recv(65536))  # the whole ClientHello, then EOF
    with pytest.raises(TruncatedConnection, match="during the handshake"):
        tlskit.connect("127.0.0.1", srv.port, client_config, server_name="localhost")
    srv.join()


def test_untrusted_server_fails_and_server_keeps_serving(
        tls_server_factory, pki: PKI, client_config: ClientConfig,
        caplog: pytest.LogCaptureFixture) -> None:
    failures: list[BaseException] = []

    class Server(tlskit.TLSServer):
        def handshake_failed(self, request, client_address, exc):  # type: ignore[override]
            failures.append(exc)

    srv = Server(("127.0.0.1", 0), EchoHandler, ServerConfig(
        certificate_chain=pki.issued.chain, private_key=pki.issued.private_key))
    from .conftest import start_tls_server
    start_tls_server(srv)
    try:
        stranger = ClientConfig(trust_anchors=[LocalCA.create().root])
        with caplog.at_level(logging.INFO, logger="tlskit.io"):
            with pytest.raises(TLSError):
                tlskit.connect("127.0.0.1", _port(srv), stranger, server_name="localhost")
            with tlskit.connect("127.0.0.1", _port(srv), client_config,
                                server_name="localhost", timeout=10) as sock:
                sock.sendall(b"still here\n")
                assert sock.recv(100) == b"still here\n"
            # the server reads the client's alert, then logs and calls the hook, in the
            # first connection's thread: the second connection does not wait for that
            wait_for(lambda: bool(failures), "the failed handshake's hook")
        assert len(failures) == 1 and isinstance(failures[0], TLSError)
        assert "TLS handshake with 127.0.0.1" in caplog.text
    finally:
        srv.shutdown()
        srv.server_close()


def test_wrong_hostname_rejected(tls_server_factory, client_config: ClientConfig) -> None:
    srv = tls_server_factory(EchoHandler)
    with pytest.raises(TLSError):
        tlskit.connect("127.0.0.1", _port(srv), client_config, server_name="example.com")


def test_ip_address_host_verifies_ip_san(tls_server_factory,
                                         client_config: ClientConfig) -> None:
    srv = tls_server_factory(EchoHandler)
    with tlskit.connect("127.0.0.1", _port(srv), client_config, timeout=10) as sock:
        assert sock.server_hostname == "127.0.0.1"
        sock.sendall(b"ip\n")
        assert sock.recv(10) == b"ip\n"


def test_unwrap_returns_tcp_socket(server_config: ServerConfig,
                                   client_config: ClientConfig) -> None:
    def action(sock: socket.socket) -> None:
        conn = handshake_raw_server(sock, server_config)
        while not conn.closed:
            data = sock.recv(65536)
            assert data
            conn.receive_data(data)
        sock.sendall(conn.data_to_send())  # our close_notify answer
        sock.sendall(b"plain after TLS")

    srv = ServerThread(action)
    sock = tlskit.connect("127.0.0.1", srv.port, client_config, server_name="localhost",
                          timeout=10)
    raw = sock.unwrap()
    try:
        got = b""
        while len(got) < 15:
            chunk = raw.recv(100)
            assert chunk, "EOF before the plaintext arrived"
            got += chunk
        assert got == b"plain after TLS"
    finally:
        raw.close()
    srv.join()
    with pytest.raises(OSError):
        sock.recv(1)


@pytest.mark.parametrize("env_keylog", [False, True])
def test_session_resumption_through_the_adapter(
        tls_server_factory, pki: PKI, tmp_path, monkeypatch: pytest.MonkeyPatch,
        env_keylog: bool) -> None:
    from tlskit.session import SessionCache

    if env_keylog:  # the per-connect config copy must share the caller's session cache
        monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "keys.log"))
    srv = tls_server_factory(EchoHandler)
    cfg = ClientConfig(trust_anchors=[pki.ca.root], session_cache=SessionCache())
    resumed = []
    for _ in range(2):
        with tlskit.connect("127.0.0.1", _port(srv), cfg, server_name="localhost",
                            timeout=10) as sock:
            sock.sendall(b"ping\n")
            assert sock.recv(10) == b"ping\n"  # the tickets arrived before the echo
            resumed.append(sock.handshake_info.resumed)
    assert resumed == [False, True]


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_peer_raw_public_key(tls_server_factory, version: str) -> None:
    """RFC 7250 over a real socket: the pinned key is what the socket reports."""
    from cryptography.hazmat.primitives.asymmetric import ec
    key = tlskit.RawPublicKey(ec.generate_private_key(ec.SECP256R1()))
    srv = tls_server_factory(EchoHandler, ServerConfig(raw_public_key=key, versions=[version]))
    cfg = ClientConfig(pinned_server_keys=[key.spki], versions=[version])
    with tlskit.connect("127.0.0.1", _port(srv), cfg, server_name="localhost") as sock:
        sock.sendall(b"pinned\n")
        assert sock.recv(100) == b"pinned\n"
        assert sock.peer_raw_public_key == key.spki
        assert sock.peer_certificates == [] and sock.getpeercert() is None


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_signed_certificate_timestamps(tls_server_factory, pki: PKI, version: str) -> None:
    """RFC 6962 3.3 over a real socket: the SCTs the server holds are what the socket
    reports, when the client asked for them."""
    from ..support.ct import SigningLog
    sct = SigningLog().sct(pki.issued.certificate)
    srv = tls_server_factory(EchoHandler, ServerConfig(
        certificate_chain=pki.issued.chain, private_key=pki.issued.private_key,
        scts=[sct], versions=[version]))
    for asked, expected in ((True, (sct,)), (False, ())):
        cfg = ClientConfig(trust_anchors=[pki.ca.root], versions=[version],
                           request_scts=asked)
        with tlskit.connect("127.0.0.1", _port(srv), cfg, server_name="localhost") as sock:
            sock.sendall(b"ct\n")
            assert sock.recv(100) == b"ct\n"
            assert sock.signed_certificate_timestamps == expected
