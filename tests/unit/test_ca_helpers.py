"""The trustme-style helpers of `LocalCA`: ready configs and `ssl` contexts trusting the CA,
leaves that are expired or not yet valid. Each is shown by a real handshake: tlskit to
tlskit in memory, and over 127.0.0.1 with Python's `ssl` module as the other peer."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import tlskit
from tlskit import (
    ClientConfig,
    ClientConnection,
    Event,
    ServerConfig,
    ServerConnection,
    TLSError,
)
from tlskit.ca import CAError, LocalCA
from tlskit.config import CertificateValidityWarning
from tlskit.enums import AlertDescription
from tlskit.x509 import CertificateVerificationError, Reason

from ..support.pump import ServerThread, completed, exchange

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    return LocalCA.create()


def handshake(client_config: ClientConfig, server_config: ServerConfig,
              server_name: str = "localhost") -> tuple[list[Event], list[Event]]:
    """Run both ends in memory until neither has anything to say; errors propagate."""
    return exchange(ClientConnection(client_config, server_name=server_name),
                    ServerConnection(server_config))


# --------------------------------------------------------------------------- in memory


def test_client_and_server_config_in_memory(ca: LocalCA) -> None:
    client_events, server_events = handshake(
        ca.client_config(alpn_protocols=["h2"]), ca.server_config(alpn_protocols=["h2"]))
    done = completed(client_events)
    assert done.alpn_protocol == "h2"
    assert done.peer_certificates[1] == ca.intermediate
    assert completed(server_events).alpn_protocol == "h2"


def test_the_client_trusts_this_ca_only(ca: LocalCA) -> None:
    stranger = LocalCA.create()
    with pytest.raises(CertificateVerificationError) as err:
        handshake(stranger.client_config(), ca.server_config())
    assert err.value.reason == Reason.unknown_issuer


def test_server_config_with_a_given_leaf(ca: LocalCA) -> None:
    leaf = ca.issue_server(["app.test"], key_type="rsa2048")
    done = completed(handshake(ca.client_config(), ca.server_config(leaf), "app.test")[0])
    assert done.peer_certificates[0] == leaf.certificate
    with pytest.raises(CertificateVerificationError) as err:
        handshake(ca.client_config(), ca.server_config(leaf), "localhost")
    assert err.value.reason == Reason.hostname_mismatch


def test_mutual_tls(ca: LocalCA) -> None:
    alice = ca.issue_client("alice")
    _, server_events = handshake(ca.client_config(alice),
                                 ca.server_config(client_auth="required"))
    assert completed(server_events).peer_certificates[0] == alice.certificate
    # No client certificate: the server insists (RFC 8446 4.4.2.4, certificate_required).
    with pytest.raises(TLSError) as err:
        handshake(ca.client_config(), ca.server_config(client_auth="required"))
    assert err.value.alert == AlertDescription.certificate_required
    # A client certificate from another CA is sent all the same (the client's only one,
    # whatever CA the server names), and not trusted.
    mallory = LocalCA.create().issue_client("mallory")
    with pytest.raises(CertificateVerificationError) as bad:
        handshake(ca.client_config(mallory), ca.server_config(client_auth="required"))
    assert bad.value.reason == Reason.unknown_issuer


@pytest.mark.parametrize(("window", "reason"), [
    ((NOW - 30 * DAY, NOW - DAY), Reason.expired),
    ((NOW + DAY, NOW + 30 * DAY), Reason.not_yet_valid),
])
def test_expired_and_not_yet_valid_leaves(
    ca: LocalCA, window: tuple[dt.datetime, dt.datetime], reason: Reason
) -> None:
    leaf = ca.issue_server(["localhost"], not_before=window[0], not_after=window[1])
    assert leaf.certificate.not_valid_before_utc == window[0].replace(microsecond=0)
    assert leaf.certificate.not_valid_after_utc == window[1].replace(microsecond=0)
    with pytest.warns(CertificateValidityWarning, match="clients will refuse it"):
        server_config = ca.server_config(leaf)  # the server is told at configuration
    with pytest.raises(CertificateVerificationError) as err:
        handshake(ca.client_config(), server_config)
    assert err.value.reason == reason


def test_validity_parameters_are_checked(ca: LocalCA) -> None:
    with pytest.raises(CAError, match="not_after must come after not_before"):
        ca.issue_server(["x.test"], not_before=NOW, not_after=NOW - DAY)
    with pytest.raises(CAError, match="would outlive the intermediate"):
        ca.issue_server(["x.test"], not_after=NOW + 20 * 365 * DAY)
    with pytest.raises(CAError, match="must be timezone-aware"):
        ca.issue_server(["x.test"], not_after=dt.datetime(2030, 1, 1))
    # Only not_after: the start is the usual hour ago.
    short = ca.issue_server(["x.test"], not_after=NOW + dt.timedelta(hours=2))
    assert short.certificate.not_valid_before_utc < NOW


def test_overrides_win(ca: LocalCA) -> None:
    other_root = LocalCA.create().root
    config = ca.client_config(trust_anchors=[other_root], versions=["TLSv1.2"])
    assert list(config.trust_anchors or []) == [other_root]
    assert config._versions == ["TLSv1.2"]
    server = ca.server_config(client_auth="optional", client_trust_anchors=[other_root])
    assert list(server.client_trust_anchors or []) == [other_root]


# --------------------------------------------------------------------------- loopback, stdlib ssl


@pytest.fixture
def servers() -> Iterator[list[ServerThread]]:
    """One-connection server threads on 127.0.0.1, joined and closed after the test."""
    started: list[ServerThread] = []
    yield started
    for server in started:
        server.thread.join(10)
        server.close()


@pytest.fixture
def ssl_server(servers: list[ServerThread]) -> Callable[[ssl.SSLContext], int]:
    """A one-connection stdlib `ssl` server on 127.0.0.1; it echoes one message."""

    def start(context: ssl.SSLContext) -> int:
        def echo(conn: socket.socket) -> None:
            conn.settimeout(10)
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(tls.recv(100))
            except (ssl.SSLError, OSError):
                pass  # the client's side of the story is what the tests check

        servers.append(ServerThread(echo))
        return servers[-1].port

    return start


def test_tlskit_client_against_ssl_server_context(
    ca: LocalCA, ssl_server: Callable[[ssl.SSLContext], int]
) -> None:
    port = ssl_server(ca.server_ssl_context())
    with tlskit.connect("127.0.0.1", port, ca.client_config(), server_name="localhost",
                        timeout=10) as sock:
        sock.sendall(b"hello")
        assert sock.recv(100) == b"hello"
        assert sock.getpeercert()["subject"] == ((("commonName", "localhost"),),)


def test_mutual_tls_with_ssl_server_context(
    ca: LocalCA, ssl_server: Callable[[ssl.SSLContext], int]
) -> None:
    port = ssl_server(ca.server_ssl_context(require_client_cert=True))
    client = ca.client_config(ca.issue_client("alice"))
    with tlskit.connect("127.0.0.1", port, client, server_name="localhost", timeout=10) as sock:
        sock.sendall(b"mutual")
        assert sock.recv(100) == b"mutual"


@pytest.fixture
def tlskit_server(servers: list[ServerThread]
                  ) -> Callable[[ServerConfig], tuple[int, list[Any]]]:
    """A one-connection tlskit server on 127.0.0.1 that echoes one message and records
    what happened (the peer certificate, or the error)."""

    def start(config: ServerConfig) -> tuple[int, list[Any]]:
        seen: list[Any] = []

        def echo(sock: socket.socket) -> None:
            listener = tlskit.wrap_server_socket(server.listener, config, handshake_timeout=10)
            try:
                with listener.wrap_accepted(sock, sock.getpeername()) as conn:
                    conn.do_handshake()
                    seen.append(conn.getpeercert())
                    conn.sendall(conn.recv(100))
            except (TLSError, OSError) as exc:
                seen.append(exc)

        server = ServerThread(echo)
        servers.append(server)
        return server.port, seen

    return start


def test_ssl_client_context_against_tlskit_server(
    ca: LocalCA, tlskit_server: Callable[[ServerConfig], tuple[int, list[Any]]]
) -> None:
    port, _ = tlskit_server(ca.server_config())
    context = ca.client_ssl_context()
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"ping")
        assert tls.recv(100) == b"ping"
        assert tls.version() == "TLSv1.3"


def test_ssl_client_context_presents_identity(
    ca: LocalCA, tlskit_server: Callable[[ServerConfig], tuple[int, list[Any]]]
) -> None:
    port, seen = tlskit_server(ca.server_config(client_auth="required"))
    context = ca.client_ssl_context(ca.issue_client("bob"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"who")
        assert tls.recv(100) == b"who"
    assert seen and seen[0]["subject"] == ((("commonName", "bob"),),)


def test_ssl_client_context_refuses_an_expired_leaf(
    ca: LocalCA, tlskit_server: Callable[[ServerConfig], tuple[int, list[Any]]]
) -> None:
    expired = ca.issue_server(["localhost"], not_before=NOW - 10 * DAY, not_after=NOW - DAY)
    with pytest.warns(CertificateValidityWarning, match="expired"):
        server_config = ca.server_config(expired)
    port, _ = tlskit_server(server_config)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            pytest.raises(ssl.SSLCertVerificationError, match="certificate has expired"):
        ca.client_ssl_context().wrap_socket(raw, server_hostname="localhost")


def test_context_class_hook(ca: LocalCA) -> None:
    """Another `ssl.SSLContext` class can be made instead (the drop-in context's hook),
    configured the same way."""
    made: list[int] = []

    class Recording(ssl.SSLContext):
        def __new__(cls, protocol: int, *args: Any, **kwargs: Any) -> Recording:
            made.append(protocol)
            return super().__new__(cls, protocol, *args, **kwargs)

    client = ca.client_ssl_context(context_class=Recording)
    server = ca.server_ssl_context(require_client_cert=True, context_class=Recording)
    assert isinstance(client, Recording) and isinstance(server, Recording)
    assert made == [ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS_SERVER]
    assert client.check_hostname and server.verify_mode == ssl.CERT_REQUIRED
    assert len(client.get_ca_certs()) == 1 and len(server.get_ca_certs()) == 1
