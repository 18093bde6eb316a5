"""requests through `tlskit.compat.requests_adapter` as people call it: ``verify=`` a CA
file, ``verify=False``, ``cert=(cert, key)``, a session making new connections, proxies.

urllib3 applies ``verify``/``cert`` to the shared context again for every new connection
(verify_mode, load_verify_locations, load_cert_chain, set_alpn_protocols): that must not
grow the context or rebuild its config each time."""

from __future__ import annotations

import contextlib
import http.server
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

import tlskit.compat as tc
from tlskit.x509 import TrustStore, Verifier
from tlskit.x509.trust import load_pem_certificates

from .conftest import PKI, OpenSSLWWW


@pytest.fixture(autouse=True)
def _no_ca_bundle_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests turns verify=True into these when they are set.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def _session(ctx: ssl.SSLContext) -> requests.Session:
    session = requests.Session()
    session.mount("https://", tc.requests_adapter(ctx, max_retries=0))
    return session


class CountingVerifier:
    """tlskit's Verifier trusting the test root, counting the chains it is asked about."""

    def __init__(self, pki: PKI) -> None:
        self.inner = Verifier(TrustStore(load_pem_certificates(pki.root.read_bytes())))
        self.calls = 0

    def verify(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner.verify(*args, **kwargs)


def test_repeating_a_setting_keeps_the_config(pki: PKI) -> None:
    ctx = tc.create_default_context(cafile=str(pki.root))
    ctx.load_cert_chain(pki.client.fullchain, pki.client.key)
    ctx.set_alpn_protocols(["http/1.1"])
    config = ctx.tlskit_client_config
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    ctx.load_verify_locations(cafile=str(pki.root))
    ctx.load_cert_chain(pki.client.fullchain, pki.client.key)
    ctx.set_alpn_protocols(["http/1.1"])
    assert ctx.tlskit_client_config is config
    assert ctx.cert_store_stats()["x509"] == 1
    ctx.set_alpn_protocols(["h2"])  # a new value still takes effect
    assert list(ctx.tlskit_client_config.alpn_protocols) == ["h2"]


def test_a_repeated_setting_still_replaces_tlskit_configure(pki: PKI) -> None:
    ctx = tc.create_default_context(cafile=str(pki.root))
    ctx.tlskit_configure(alpn_protocols=["h2"])
    ctx.set_alpn_protocols([])  # the value ssl already had, but said after the override
    assert list(ctx.tlskit_client_config.alpn_protocols) == []


def test_reloading_the_ca_file_keeps_a_configured_verifier(pki: PKI) -> None:
    ctx = tc.create_default_context(cafile=str(pki.root))
    verifier = CountingVerifier(pki)
    ctx.tlskit_configure(verifier=verifier)
    ctx.load_verify_locations(cafile=str(pki.root))  # nothing new: trust is unchanged
    assert ctx.tlskit_client_config.verifier is verifier


def test_session_with_a_ca_file_over_new_connections(pki: PKI,
                                                     openssl_good: OpenSSLWWW) -> None:
    """s_server -www closes after each answer, so every request is a new connection;
    requests' verify=<file> is loaded each time, and the context stays as it was."""
    ctx = tc.create_default_context(cafile=str(pki.root))
    verifier = CountingVerifier(pki)
    ctx.tlskit_configure(verifier=verifier)
    configs = []
    with _session(ctx) as session:
        for _ in range(3):
            resp = session.get(openssl_good.url(), verify=str(pki.root), timeout=30)
            assert resp.status_code == 200
            configs.append(ctx.tlskit_client_config)
    assert configs[1] is configs[0] and configs[2] is configs[0]  # (built with ALPN once)
    assert verifier.calls == 3
    assert ctx.session_stats()["connect_good"] == 3


def test_verify_true_trusts_the_context_not_certifi(pki: PKI,
                                                   openssl_good: OpenSSLWWW) -> None:
    ctx = tc.create_default_context(cafile=str(pki.root))
    with _session(ctx) as session:
        assert session.get(openssl_good.url(), timeout=30).status_code == 200
    assert ctx.cert_store_stats()["x509"] == 1  # certifi's roots were not loaded into it


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false(pki: PKI, openssl_expired: OpenSSLWWW,
                      openssl_wrong_host: OpenSSLWWW) -> None:
    """verify=False skips the checks for that request only (with ssl's context too,
    urllib3's CERT_NONE hits check_hostname's ValueError)."""
    ctx = tc.create_default_context(cafile=str(pki.root))
    with _session(ctx) as session:
        for server in (openssl_expired, openssl_wrong_host):
            resp = session.get(server.url(), verify=False, timeout=30)
            assert resp.status_code == 200
        with pytest.raises(requests.exceptions.SSLError, match="expired on"):
            session.get(openssl_expired.url(), timeout=30)
    assert (ctx.check_hostname, ctx.verify_mode) == (True, ssl.CERT_REQUIRED)


def test_client_certificate(pki: PKI) -> None:
    server = OpenSSLWWW(pki.good, "-Verify", "1", "-CAfile", str(pki.root))
    ctx = tc.create_default_context(cafile=str(pki.root))
    with contextlib.closing(server), _session(ctx) as session:
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_REQUIRED"):
            session.get(server.url(), timeout=30)
        cert = (str(pki.client.fullchain), str(pki.client.key))
        for _ in range(2):
            resp = session.get(server.url(), cert=cert, timeout=30)
            assert resp.status_code == 200
            assert b"alice" in resp.content  # s_server -www shows the client's certificate


# -- proxies ------------------------------------------------------------------------------

class ConnectProxy:
    """A CONNECT-only proxy on 127.0.0.1, itself behind TLS when given a server context;
    it records each request line."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.tls = tls
        self.requests: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://localhost:{self.port}"

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError):
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(4096)
                if not data:
                    return
                head += data
            line = head.split(b"\r\n", 1)[0].decode()
            self.requests.append(line)
            host, port = line.split()[1].rsplit(":", 1)
            with socket.create_connection((host, int(port))) as upstream, conn:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                _relay(conn, upstream)

    def close(self) -> None:
        self.listener.close()


def _relay(a: socket.socket, b: socket.socket) -> None:
    while True:
        ready, _, _ = select.select([a, b], [], [], 30)
        if not ready:
            return
        for s in ready:
            data = s.recv(65536)
            if not data:
                return
            (b if s is a else a).sendall(data)


class SNIRecordingServer:
    """http.server behind ssl on 127.0.0.1, recording the SNI of each handshake."""

    def __init__(self, pki: PKI) -> None:
        self.names: list[str | None] = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.good.fullchain, pki.good.key)
        ctx.sni_callback = lambda sslobj, name, context: self.names.append(name)

        class Hello(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body = f"hello {self.headers['Host']}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, host: str) -> str:
        return f"https://{host}:{self.port}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sni_server(pki: PKI) -> Iterator[SNIRecordingServer]:
    with contextlib.closing(SNIRecordingServer(pki)) as server:
        yield server


@pytest.mark.parametrize("proxy_tls", [False, True], ids=["http-proxy", "https-proxy"])
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_through_a_connect_proxy(host: str, proxy_tls: bool, pki: PKI,
                                 sni_server: SNIRecordingServer) -> None:
    """TLS to the target over the proxy's tunnel, its SNI the target's name (none for an
    IP address, RFC 6066 3); an https:// proxy's own TLS is tlskit's as well, so it is
    verified against the context's trust (requests alone would use ssl and certifi)."""
    proxy_ctx = None
    if proxy_tls:
        proxy_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        proxy_ctx.load_cert_chain(pki.good.fullchain, pki.good.key)
    proxy = ConnectProxy(proxy_ctx)
    ctx = tc.create_default_context(cafile=str(pki.root))
    with contextlib.closing(proxy), _session(ctx) as session:
        resp = session.get(sni_server.url(host), proxies={"https": proxy.url()}, timeout=30)
    assert resp.text == f"hello {host}:{sni_server.port}"
    assert proxy.requests == [f"CONNECT {host}:{sni_server.port} HTTP/1.0"]
    assert sni_server.names == [None if host == "127.0.0.1" else host]
    # The target's connection and, behind an https:// proxy, the proxy's.
    assert ctx.session_stats()["connect_good"] == (2 if proxy_tls else 1)


def test_unverified_copy_keeps_the_other_settings(pki: PKI) -> None:
    ctx = tc.create_default_context(cafile=str(pki.root))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.tlskit_configure(groups=["x25519"])
    twin = ctx.tlskit_unverified_copy()
    assert (twin.check_hostname, twin.verify_mode) == (False, ssl.CERT_NONE)
    assert twin.tlskit_client_config.versions == ctx.tlskit_client_config.versions
    assert twin.tlskit_client_config.groups == ctx.tlskit_client_config.groups
    assert (ctx.check_hostname, ctx.verify_mode) == (True, ssl.CERT_REQUIRED)


def test_reloading_an_earlier_certificate_still_makes_it_the_one_used(pki: PKI) -> None:
    ctx = tc.create_default_context(cafile=str(pki.root))
    ctx.load_cert_chain(pki.client.fullchain, pki.client.key)                 # EC
    rsa = pki.ca.issue_client("bob", key_type="rsa2048")
    rsa.write(cert_path=pki.root.parent / "bob.pem", key_path=pki.root.parent / "bob.key")
    ctx.load_cert_chain(pki.root.parent / "bob.pem", pki.root.parent / "bob.key")
    assert ctx.tlskit_client_config.certificate.chain[0] == rsa.chain[0]      # type: ignore[union-attr]
    ctx.load_cert_chain(pki.client.fullchain, pki.client.key)
    assert ctx.tlskit_client_config.certificate.chain[0] == pki.client.issued.chain[0]  # type: ignore[union-attr]
