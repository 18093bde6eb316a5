"""Calls the application makes at the wrong moment: each is a `UsageError` that says what
is missing, raised before anything is queued, and the connection stays usable where it
was usable (a usage error is the caller's, not the peer's, so no alert is sent)."""

from __future__ import annotations

import pytest

from tlskit import (
    ClientConnection,
    ConnectionClosed,
    DataReceived,
    ServerConnection,
    TLSError,
    UsageError,
)

from ..support.pki import client_config, server_config
from ..support.pump import pump


def _pair(version: str = "TLSv1.3", **client_kw: object
          ) -> tuple[ClientConnection, ServerConnection]:
    return (ClientConnection(client_config(versions=[version], **client_kw), "localhost"),
            ServerConnection(server_config(versions=[version])))


def _refused(call: object, words: str) -> None:
    with pytest.raises(UsageError) as info:
        call()  # type: ignore[operator]
    assert str(info.value) == words


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_before_the_handshake_completes(version: str) -> None:
    client, server = _pair(version)
    hello = client.data_to_send()
    _refused(lambda: client.send_data(b"early"), "the handshake is not complete")
    _refused(lambda: client.update_keys(), "keys can only be updated on an open connection")
    _refused(lambda: client.export_keying_material(b"EXPORTER-test", b"", 32),
             "exporters need a completed handshake")
    assert client.data_to_send() == b""  # nothing was queued by the refused calls
    server.receive_data(hello)
    pump(client, server)  # and the handshake still completes
    assert client.handshake_complete is not None and server.handshake_complete is not None


def test_after_our_close_notify() -> None:
    client, server = _pair()
    pump(client, server)
    client.close()
    _refused(lambda: client.send_data(b"late"), "the connection is closed for sending")
    _refused(lambda: client.update_keys(), "keys can only be updated on an open connection")


def test_tls12_has_no_half_close() -> None:
    """In TLS 1.2 the peer's close_notify closes both directions (RFC 5246 7.2.1): it is
    answered at once, even by a client that would not answer it in TLS 1.3
    (close_reply=False), and sending is over."""
    client, server = _pair("TLSv1.2", close_reply=False)
    pump(client, server)
    server.close()
    assert client.receive_data(server.data_to_send()) == [ConnectionClosed(None)]
    assert server.receive_data(client.data_to_send()) == [ConnectionClosed(None)]
    _refused(lambda: client.send_data(b"late"), "the connection is closed for sending")


def test_tls13_keeps_sending_after_the_peers_close_notify() -> None:
    """The contrast: TLS 1.3 has a half-close, so the same call is fine there."""
    client, server = _pair(close_reply=False)
    pump(client, server)
    server.close()
    assert ConnectionClosed(None) in client.receive_data(server.data_to_send())
    client.send_data(b"still talking")
    assert DataReceived(b"still talking") in server.receive_data(client.data_to_send())


def test_post_handshake_authentication_needs_tls13() -> None:
    client, server = _pair("TLSv1.2")
    pump(client, server)
    _refused(server.request_client_certificate,
             "post-handshake authentication needs an open TLS 1.3 connection")


def _traceback_depth(exc: BaseException) -> int:
    tb, n = exc.__traceback__, 0
    while tb is not None:
        tb, n = tb.tb_next, n + 1
    return n


def test_a_failed_connection_raises_its_error_again_without_growing_it() -> None:
    """After a failure every call raises the first error again; its traceback keeps the
    length it had (re-raising one exception object otherwise appends frames each time,
    and the traceback holds them, with their locals, for as long as calls keep coming)."""
    client = ClientConnection(client_config(), "localhost")
    client.data_to_send()
    with pytest.raises(TLSError) as first:
        client.receive_data(b"\x17\x03\x03\x00\x01\x00")  # data before any keys
    for call in (lambda: client.receive_data(b"\x00"), lambda: client.send_data(b"x")):
        depths = set()
        for _ in range(10):
            with pytest.raises(TLSError) as again:
                call()
            assert again.value is first.value
            depths.add(_traceback_depth(again.value))
        assert len(depths) == 1, depths
