"""`post_handshake_auth` and `verify_client_post_handshake()` through tlskit.compat, as
`ssl` has them: a client context offers it, a server context with CERT_REQUIRED asks for
the certificate only when the application calls for it, and `getpeercert()` reports it
once the client's answer has been read. Both sides over a real loopback socket."""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any

import pytest

import tlskit.compat as tc

from .conftest import PKI


def _server_ctx(pki: PKI) -> tc.SSLContext:
    ctx = tc.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.good.fullchain, pki.good.key)
    ctx.load_verify_locations(pki.root)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.post_handshake_auth = True
    return ctx


def _client_ctx(pki: PKI, *, pha: bool) -> tc.SSLContext:
    ctx = tc.create_default_context(cafile=str(pki.root))
    ctx.load_cert_chain(pki.client.fullchain, pki.client.key)
    ctx.post_handshake_auth = pha
    return ctx


def _serve_once(ctx: tc.SSLContext, result: dict[str, Any]) -> tuple[int, threading.Thread]:
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        conn, _ = listener.accept()
        listener.close()
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.settimeout(30)
            assert tls.recv(100) == b"hello"
            result["before"] = tls.getpeercert()  # not asked for in the handshake
            try:
                tls.verify_client_post_handshake()
            except ssl.SSLError as exc:
                result["error"] = exc
                tls.sendall(b"no")
                return
            tls.sendall(b"ok")
            result["data"] = tls.recv(100)       # reading takes the client's answer too
            result["after"] = tls.getpeercert()

    thread = threading.Thread(target=run)
    thread.start()
    return listener.getsockname()[1], thread


def test_certificate_asked_for_after_the_handshake(pki: PKI) -> None:
    result: dict[str, Any] = {}
    port, thread = _serve_once(_server_ctx(pki), result)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
            _client_ctx(pki, pha=True).wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.version() == "TLSv1.3"
        tls.sendall(b"hello")
        assert tls.recv(100) == b"ok"           # the request arrived and was answered
        tls.sendall(b"more")
    thread.join(30)
    assert result["before"] is None
    assert result["data"] == b"more"
    assert dict(x[0] for x in result["after"]["subject"])["commonName"] == "alice"


def test_client_that_did_not_offer_it_gives_ssl_error(pki: PKI) -> None:
    result: dict[str, Any] = {}
    port, thread = _serve_once(_server_ctx(pki), result)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
            _client_ctx(pki, pha=False).wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"hello")
        assert tls.recv(100) == b"no"
    thread.join(30)
    assert isinstance(result["error"], ssl.SSLError)
    assert "post_handshake_auth" in str(result["error"]) or "offer" in str(result["error"])


def test_setting_round_trips() -> None:
    ctx = tc.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert ctx.post_handshake_auth is False
    ctx.post_handshake_auth = True
    assert ctx.post_handshake_auth is True
    assert ctx.tlskit_client_config.post_handshake_auth is True


@pytest.mark.parametrize("pha", [False, True])
def test_server_without_request_never_asks(pki: PKI, pha: bool) -> None:
    """With post_handshake_auth, CERT_REQUIRED asks for nothing in the handshake."""
    ctx = _server_ctx(pki)
    ctx.post_handshake_auth = pha
    assert ctx.tlskit_server_config.client_auth == ("none" if pha else "required")
