"""Python 3.13's ``set_psk_client_callback`` / ``set_psk_server_callback`` on the compat
SSLContext (the tests run on 3.11, whose ssl lacks them): tlskit against tlskit over a
socketpair, and against `openssl s_server -psk -nocert` / `s_client -psk`."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import threading

import pytest

import tlskit.compat as tc

SECRET = bytes(range(0x20, 0x40))


def client_ctx(identity: str = "client-1", secret: bytes = SECRET) -> tc.SSLContext:
    ctx = tc.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    hints: list[str | None] = []

    def callback(hint: str | None) -> tuple[str | None, bytes]:
        hints.append(hint)
        return identity, secret

    ctx.set_psk_client_callback(callback)
    ctx.hints = hints  # type: ignore[attr-defined]
    return ctx


def server_ctx(asked: list[str | None]) -> tc.SSLContext:
    ctx = tc.SSLContext(ssl.PROTOCOL_TLS_SERVER)

    def callback(identity: str | None) -> bytes:
        asked.append(identity)
        return SECRET if identity == "client-1" else b""

    ctx.set_psk_server_callback(callback, identity_hint="ignored in TLS 1.3")
    return ctx


def test_tlskit_to_tlskit_with_the_callbacks() -> None:
    asked: list[str | None] = []
    server_sock, client_sock = socket.socketpair()
    got: list[bytes] = []

    def serve() -> None:
        with server_ctx(asked).wrap_socket(server_sock, server_side=True) as tls:
            got.append(tls.recv(5))
            tls.sendall(b"pong!")

    thread = threading.Thread(target=serve)
    thread.start()
    ctx = client_ctx()
    with ctx.wrap_socket(client_sock) as tls:
        tls.sendall(b"ping!")
        assert (tls.recv(5), tls.version()) == (b"pong!", "TLSv1.3")
        assert tls.getpeercert() is None  # no certificate: the key authenticated the server
    thread.join(30)
    assert got == [b"ping!"] and asked == ["client-1"] and ctx.hints == [None]  # type: ignore[attr-defined]


def test_unknown_identity_fails_the_handshake() -> None:
    server_sock, client_sock = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            server_ctx([]).wrap_socket(server_sock, server_side=True)
        except ssl.SSLError as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    with pytest.raises(ssl.SSLError, match=r"HANDSHAKE_FAILURE"):
        client_ctx("stranger").wrap_socket(client_sock)
    thread.join(30)
    assert errors


def test_callbacks_belong_to_their_side() -> None:
    with pytest.raises(ValueError, match="PROTOCOL_TLS_SERVER"):
        tc.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_psk_client_callback(lambda h: ("a", b""))
    with pytest.raises(ValueError, match="PROTOCOL_TLS_CLIENT"):
        tc.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_psk_server_callback(lambda i: b"")


def test_compat_client_to_s_server_psk() -> None:
    proc = subprocess.Popen(
        ["openssl", "s_server", "-tls1_3", "-nocert", "-psk", SECRET.hex(), "-psk_identity",
         "client-1", "-accept", "127.0.0.1:0", "-www"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        while not line.startswith("ACCEPT"):
            assert line, "s_server did not start"
            line = proc.stdout.readline()
        port = int(re.search(r":(\d+)$", line.strip()).group(1))  # type: ignore[union-attr]
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        with client_ctx().wrap_socket(raw) as tls:
            tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.0 200")
    finally:
        proc.terminate()
        proc.wait(10)


def test_s_client_psk_to_compat_server() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    got: list[bytes] = []

    def serve() -> None:
        raw, _ = listener.accept()
        with server_ctx([]).wrap_socket(raw, server_side=True) as tls:
            got.append(tls.recv(6))
            tls.sendall(b"hello from tlskit\n")

    thread = threading.Thread(target=serve)
    thread.start()
    proc = subprocess.run(
        ["openssl", "s_client", "-tls1_3", "-connect", f"127.0.0.1:{port}", "-psk",
         SECRET.hex(), "-psk_identity", "client-1", "-ign_eof"],
        input="hello\n", capture_output=True, text=True, timeout=30)
    thread.join(30)
    listener.close()
    assert got == [b"hello\n"]
    assert "hello from tlskit" in proc.stdout and "no peer certificate" in proc.stdout
