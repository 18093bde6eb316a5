"""`wrap_bio` objects against the stdlib's own `ssl.SSLObject` over memory BIOs: the
SSLWant*/SSLZeroReturn/SSLEOF errors where ssl raises them, both sides, sni_callback;
and the blocking socket's ragged-EOF handling against a tlskit peer."""

from __future__ import annotations

import contextlib
import socket
import ssl
from typing import Any

import pytest

import tlskit.compat as tc
from tlskit import ServerConfig
from tlskit.config import CertifiedKey

from ..io.helpers import SilentServer, handshake_raw_server
from ..support.pump import ServerThread
from .conftest import PKI


class Pair:
    """A client and a server SSLObject joined by memory BIOs (bytes moved by `pump`)."""

    def __init__(self, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext,
                 host: str = "localhost") -> None:
        self.c_in, self.c_out, self.s_in, self.s_out = (ssl.MemoryBIO() for _ in range(4))
        self.client = client_ctx.wrap_bio(self.c_in, self.c_out, server_hostname=host)
        self.server = server_ctx.wrap_bio(self.s_in, self.s_out, server_side=True)

    def pump(self) -> None:
        self.s_in.write(self.c_out.read())
        self.c_in.write(self.s_out.read())

    def handshake(self) -> None:
        for _ in range(10):
            done = 0
            for obj in (self.client, self.server):
                try:
                    obj.do_handshake()
                    done += 1
                except ssl.SSLWantReadError:
                    pass
            self.pump()
            if done == 2:
                return
        raise AssertionError("handshake did not finish")


def stdlib_server(pki: PKI) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.good.fullchain, pki.good.key)
    return ctx


def stdlib_client(pki: PKI) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.root))


def test_client_handshake_steps(pki: PKI, client_ctx: tc.SSLContext) -> None:
    pair = Pair(client_ctx, stdlib_server(pki))
    assert isinstance(pair.client, ssl.SSLObject)
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    assert pair.c_out.pending > 0  # the ClientHello
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.read(10)  # nothing yet, ssl says the same
    pair.handshake()
    assert pair.client.version() == pair.server.version() == "TLSv1.3"
    assert pair.client.cipher() == pair.server.cipher()
    assert pair.client.getpeercert()["subjectAltName"] == (
        ("DNS", "localhost"), ("IP Address", "127.0.0.1"))
    assert pair.client.tlskit_connection is not None
    assert pair.client.tlskit_connection.handshake_complete is not None


def test_data_close_notify_and_after(pki: PKI, client_ctx: tc.SSLContext) -> None:
    pair = Pair(client_ctx, stdlib_server(pki))
    pair.handshake()
    assert pair.client.write(b"ping") == 4
    pair.pump()
    assert pair.server.read(100) == b"ping"
    pair.server.write(b"pong")
    pair.pump()
    buf = bytearray(10)
    assert pair.client.read(10, buf) == 4 and bytes(buf[:4]) == b"pong"
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.read(10)
    # The peer's close_notify reads as b"" (0 into a buffer), as with ssl...
    with pytest.raises(ssl.SSLWantReadError):
        pair.server.unwrap()
    pair.pump()
    assert pair.client.read(10) == b""
    assert pair.client.read(10, buf) == 0
    # ...and our unwrap completes at once since theirs came; writing after it fails.
    assert pair.client.unwrap() is None
    pair.pump()
    pair.server.unwrap()
    with pytest.raises(ssl.SSLError, match="PROTOCOL_IS_SHUTDOWN"):
        pair.client.write(b"late")  # as ssl: our close_notify went out


def test_our_unwrap_waits_for_the_peer(pki: PKI, client_ctx: tc.SSLContext) -> None:
    pair = Pair(client_ctx, stdlib_server(pki))
    pair.handshake()
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.unwrap()
    pair.pump()
    assert pair.server.read(10) == b""  # ssl reads our close_notify as EOF
    pair.server.unwrap()
    pair.pump()
    assert pair.client.unwrap() is None


def _strict_eof(ctx: tc.SSLContext) -> tc.SSLContext:
    """`ctx` reporting a missing close_notify: some Pythons (3.10.0-3.11.2, Debian's
    3.11.2 among them) set OP_IGNORE_UNEXPECTED_EOF in their default context, and the
    compat context starts from the same options as the stdlib's."""
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    return ctx


def test_eof_without_close_notify(pki: PKI, client_ctx: tc.SSLContext) -> None:
    client_ctx = _strict_eof(client_ctx)
    pair = Pair(client_ctx, stdlib_server(pki))
    pair.handshake()
    pair.c_in.write_eof()
    with pytest.raises(ssl.SSLEOFError, match="without close_notify"):
        pair.client.read(10)


def test_eof_during_handshake(pki: PKI, client_ctx: tc.SSLContext) -> None:
    pair = Pair(client_ctx, stdlib_server(pki))
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    pair.c_in.write_eof()
    with pytest.raises(ssl.SSLEOFError, match="during the handshake"):
        pair.client.do_handshake()


def test_certificate_failure_sends_the_alert(pki: PKI) -> None:
    ctx = tc.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # trusts nothing
    pair = Pair(ctx, stdlib_server(pki))
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        pair.handshake()
    assert info.value.verify_code == 20
    with pytest.raises(ssl.SSLCertVerificationError):
        pair.client.read(10)  # the failure sticks
    pair.pump()
    with pytest.raises(ssl.SSLError, match="TLSV1_ALERT_UNKNOWN_CA"):
        pair.server.do_handshake()


def test_compat_server_stdlib_client(pki: PKI, server_ctx: tc.SSLContext) -> None:
    server_ctx.set_alpn_protocols(["h2", "http/1.1"])
    client = stdlib_client(pki)
    client.set_alpn_protocols(["http/1.1"])
    pair = Pair(client, server_ctx)
    pair.handshake()
    assert pair.server.version() == "TLSv1.3"
    assert pair.server.selected_alpn_protocol() == pair.client.selected_alpn_protocol() \
        == "http/1.1"
    assert pair.server.getpeercert() is None  # no client certificate asked for
    pair.client.write(b"hello")
    pair.pump()
    assert pair.server.read(100) == b"hello"
    # The stdlib client gets tlskit's session tickets and resumes with one.
    pair.server.write(b"x")
    pair.pump()
    assert pair.client.read(10) == b"x"
    session = pair.client.session
    assert session is not None and session.has_ticket
    again = Pair(client, server_ctx)
    again.client.session = session
    again.handshake()
    assert again.client.session_reused and again.server.session_reused


def test_sni_callback_on_objects(pki: PKI, server_ctx: tc.SSLContext) -> None:
    other = tc.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    other.load_cert_chain(pki.wrong_host.fullchain, pki.wrong_host.key)
    seen: list[Any] = []

    def pick(obj: Any, name: str | None, ctx: ssl.SSLContext) -> None:
        seen.append((type(obj), name))
        obj.context = other

    server_ctx.sni_callback = pick
    pair = Pair(stdlib_client(pki), server_ctx, host="wrong.example")
    pair.handshake()
    assert seen == [(tc.SSLObject, "wrong.example")]
    assert pair.client.getpeercert()["subjectAltName"] == (("DNS", "wrong.example"),)


def test_sni_callback_gets_the_name_as_ssl_gives_it(pki: PKI,
                                                    server_ctx: tc.SSLContext) -> None:
    """The ssl module hands sni_callback the name as the client spelled it (case kept):
    the look-alike does too."""
    names: list[Any] = []
    for ctx in (stdlib_server(pki), server_ctx):
        ctx.sni_callback = lambda obj, name, ctx: names.append(name)
        pair = Pair(stdlib_client(pki), ctx, host="Good.Example")
        with contextlib.suppress(ssl.SSLError):  # (a certificate for another name)
            pair.handshake()
    assert names == ["Good.Example", "Good.Example"]


# -- the blocking socket at a TCP EOF without close_notify -----------------------------------------

def _ragged_server(pki: PKI) -> ServerThread:
    config = ServerConfig(certificates=[CertifiedKey(pki.good.issued.chain,
                                                     pki.good.issued.private_key)])

    def action(sock: socket.socket) -> None:
        conn = handshake_raw_server(sock, config)
        conn.send_data(b"partial")
        sock.sendall(conn.data_to_send())
        sock.shutdown(socket.SHUT_RDWR)  # TCP EOF, no close_notify

    return ServerThread(action)


@pytest.mark.parametrize("suppress", [True, False])
def test_ragged_eof(suppress: bool, pki: PKI, client_ctx: tc.SSLContext) -> None:
    client_ctx = _strict_eof(client_ctx)
    srv = _ragged_server(pki)
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    with client_ctx.wrap_socket(raw, server_hostname="localhost",
                                suppress_ragged_eofs=suppress) as sock:
        data = b""
        while len(data) < 7:
            data += sock.recv(100)
        assert data == b"partial"
        if suppress:
            assert sock.recv(100) == b""
        else:
            with pytest.raises(ssl.SSLEOFError, match="without close_notify"):
                sock.recv(100)
    srv.join()


def test_non_blocking_socket(client_ctx: tc.SSLContext, openssl_good: Any) -> None:
    import select
    raw = socket.create_connection(("127.0.0.1", openssl_good.port), timeout=30)
    raw.setblocking(False)
    sock = client_ctx.wrap_socket(raw, server_hostname="localhost",
                                  do_handshake_on_connect=False)
    while True:
        try:
            sock.do_handshake()
            break
        except ssl.SSLWantReadError:
            assert select.select([sock], [], [], 30)[0]
    assert sock.version() == "TLSv1.3"
    with pytest.raises(ssl.SSLWantReadError):
        sock.recv(100)  # nothing sent to us yet
    sock.send(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ssl.SSLWantReadError:
            assert select.select([sock], [], [], 30)[0]
            continue
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.0 200 ok")
    sock.close()


def test_non_blocking_handshake_wants_read(client_ctx: tc.SSLContext) -> None:
    silent = SilentServer()  # accepts and never answers the ClientHello
    try:
        raw = socket.create_connection(("127.0.0.1", silent.port), timeout=30)
        raw.setblocking(False)
        sock = client_ctx.wrap_socket(raw, server_hostname="localhost",
                                      do_handshake_on_connect=False)
        for _ in range(2):  # and again: nothing was lost or repeated
            with pytest.raises(ssl.SSLWantReadError):
                sock.do_handshake()
        sock.close()
    finally:
        silent.close()


def test_non_blocking_requires_manual_handshake(client_ctx: tc.SSLContext,
                                                openssl_good: Any) -> None:
    raw = socket.create_connection(("127.0.0.1", openssl_good.port), timeout=30)
    raw.setblocking(False)
    with pytest.raises(ValueError, match="non-blocking"):
        client_ctx.wrap_socket(raw, server_hostname="localhost")
