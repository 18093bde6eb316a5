"""What a library user reads in ``str(exc)``: which check failed and what to do, in the
library's own terms, said once (the CLI and the compat layer add their own words)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from tlskit import (
    AlertReceived,
    ClientConfig,
    ClientConnection,
    DecodeError,
    ServerConfig,
    ServerConnection,
    TLSError,
)
from tlskit.ca import LocalCA
from tlskit.enums import AlertDescription
from tlskit.errors import NotTLSError, not_tls_hint

from ..support.pump import handshake_keeping_hellos


def _server(issued: dict[str, Any], **kw: Any) -> ServerConnection:
    leaf = issued["ec256"]
    return ServerConnection(ServerConfig(certificate_chain=leaf.chain,
                                         private_key=leaf.private_key, **kw))


def _client(ca: LocalCA, **kw: Any) -> ClientConnection:
    return ClientConnection(ClientConfig(trust_anchors=[ca.root], **kw), "localhost")


def _not_tls(conn: ClientConnection | ServerConnection, data: bytes) -> NotTLSError:
    with pytest.raises(NotTLSError) as err:
        conn.receive_data(data)
    assert err.value.alert == AlertDescription.decode_error  # the alert is unchanged
    assert isinstance(err.value, DecodeError)
    return err.value


def test_plain_http_answer_says_so(ca: LocalCA) -> None:
    """A client whose server answers in plain HTTP reads what the CLI and the compat
    layer say, not only the record layer's "record version 0x5454 is not TLS"."""
    client = _client(ca)
    client.data_to_send()
    err = _not_tls(client, b"HTTP/1.0 400 Bad Request\r\nServer: x\r\n\r\n")
    assert str(err) == ("record version 0x5454 is not TLS, so the peer does not speak TLS "
                        "here: it answered in plain HTTP ('HTTP/1.0 400 Bad Request'); use "
                        "http://, or the port that serves HTTPS")
    # The CLI and the compat layer word it from the reason alone: their hint comes once.
    assert err.reason == "record version 0x5454 is not TLS"
    assert not_tls_hint(err.data, err).count("plain HTTP") == 1
    with pytest.raises(NotTLSError) as again:  # later calls raise the same words
        client.receive_data(b"")
    assert str(again.value) == str(err)


def test_plain_http_request_to_a_server_says_so(issued: dict[str, Any]) -> None:
    err = _not_tls(_server(issued), b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert str(err) == ("record version 0x4554 is not TLS, so the peer does not speak TLS "
                        "here: it sent a plain HTTP request ('GET / HTTP/1.1'); http:// was "
                        "used for a TLS port")


def test_bytes_that_are_not_text_say_it_once(ca: LocalCA) -> None:
    client = _client(ca)
    client.data_to_send()
    err = _not_tls(client, bytes(range(16)))
    assert str(err) == ("record version 0x0102 is not TLS, so the peer does not speak TLS "
                        "here: it sent bytes that are not a TLS record; is this its TLS port?")
    # the CLI's words quote the record layer's reason, without the library's hint
    assert not_tls_hint(err.data, err) == ("it sent bytes that are not a TLS record (record "
                                           "version 0x0102 is not TLS); is this its TLS port?")


def test_after_the_handshake_no_port_hint(ca: LocalCA, issued: dict[str, Any]) -> None:
    """Once the peer has spoken TLS, a record that is not TLS is no wrong port."""
    client, server = _client(ca), _server(issued)
    handshake_keeping_hellos(client, server)
    err = _not_tls(client, b"HTTP/1.0 200 OK\r\n\r\n")
    assert str(err) == "record version 0x5454 is not TLS"


def _alert_at_client(client: ClientConnection, server: ServerConnection) -> AlertReceived:
    """Run the handshake until the server refuses it; the alert it sent, as the client
    reports it."""
    with pytest.raises(AlertReceived) as err:
        for _ in range(5):
            with contextlib.suppress(TLSError):
                server.receive_data(client.data_to_send())
            client.receive_data(server.data_to_send())
            client.send_data(b"x")
    return err.value


def test_protocol_version_alert_says_what_to_do(ca: LocalCA, issued: dict[str, Any]) -> None:
    err = _alert_at_client(_client(ca, versions=["TLSv1.3"]),
                           _server(issued, versions=["TLSv1.2"]))
    assert err.alert == AlertDescription.protocol_version
    assert str(err) == ("peer sent alert protocol_version (70): the peer accepts none of the "
                        "TLS versions this side enabled (the config's versions; tlskit "
                        "implements TLS 1.3 and 1.2): a peer limited to TLS 1.1 or older "
                        "cannot connect")


def test_no_application_protocol_alert_says_what_to_do(ca: LocalCA,
                                                       issued: dict[str, Any]) -> None:
    err = _alert_at_client(_client(ca, alpn_protocols=["foo/1"]),
                           _server(issued, alpn_protocols=["h2"]))
    assert err.alert == AlertDescription.no_application_protocol
    assert str(err).endswith("(120): the peer speaks none of the application protocols "
                             "offered (ALPN, the config's alpn_protocols): offer one it "
                             "speaks, or none")


def test_certificate_required_alert_says_what_to_do(ca: LocalCA,
                                                    issued: dict[str, Any]) -> None:
    err = _alert_at_client(_client(ca), _server(issued, client_auth="required",
                                                 client_trust_anchors=[ca.root]))
    assert err.alert == AlertDescription.certificate_required
    assert str(err).endswith("(116): the server requires a client certificate: give "
                                   "ClientConfig a certificate (a CertifiedKey) issued by a "
                                   "CA the server trusts")


@pytest.mark.parametrize(("alert", "words"), [
    (AlertDescription.handshake_failure, "no cipher suite, group or signature scheme in "
                                         "common"),
    (AlertDescription.unknown_ca, "the peer does not trust the CA that issued this side's "
                                  "certificate"),
    (AlertDescription.bad_certificate, "the peer rejected this side's certificate"),
])
def test_alerts_whose_cause_is_on_the_other_side_are_explained(alert: AlertDescription,
                                                               words: str) -> None:
    assert words in str(AlertReceived(alert))
    assert str(AlertReceived(alert)).startswith(f"peer sent alert {alert.name} ({int(alert)}): ")


def test_other_alerts_keep_the_bare_words() -> None:
    assert str(AlertReceived(AlertDescription.decode_error)) == (
        "peer sent alert decode_error (50)")
