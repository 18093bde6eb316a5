"""tlskit's client against mbedTLS (2.28, Debian's build), through lighttpd's mod_mbedtls.

mbedTLS 2.28 is a TLS 1.2 server only (no TLS 1.3), with its own parser and its own
preferences: it picks the ECDHE curve by its own order, not the client's, and signs the
ServerKeyExchange with PKCS#1 v1.5 for an RSA key (no RSA-PSS in its TLS 1.2). The CGI
lighttpd runs prints what mbedTLS negotiated (its suite names are the IANA ones with
dashes), so each test compares both sides' view of one handshake.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tlskit import AlertDescription, AlertReceived, ConnectionClosed
from tlskit.enums import ExtensionType
from tlskit.session import SessionCache

from ..support.pump import Pump
from .conftest import PKI, Peers
from .helpers import ServerHelloExtensions
from .lighttpd import PAGE, Lighttpd, fetch_tls_view, get, start_lighttpd

pytestmark = pytest.mark.interop

AUTH = {"ec256": "ECDSA", "rsa2048": "RSA"}
CIPHERS = ("AES_128_GCM_SHA256", "CHACHA20_POLY1305_SHA256")
# mbedTLS's TLS 1.2 ServerKeyExchange signature for each leaf, given tlskit's offer.
SCHEME = {"ec256": "ecdsa_secp256r1_sha256", "rsa2048": "rsa_pkcs1_sha256"}


def mbedtls(peers: Peers, pki: PKI, tmp_path: Path, kind: str = "ec256") -> Lighttpd:
    files = pki.files[kind]
    return start_lighttpd(peers, tmp_path, "mod_mbedtls", files.fullchain, files.key)


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("kind", ["ec256", "rsa2048"])
def test_tlskit_client_to_mbedtls(peers: Peers, pki: PKI, tmp_path: Path, kind: str,
                                  cipher: str) -> None:
    """tlskit offers TLS 1.3 and 1.2 with one TLS 1.2 suite; mbedTLS answers TLS 1.2 with
    it, with the extended master secret (RFC 7627), and says the same in its CGI view.
    tlskit insisting on the extended master secret (``require_extended_master_secret``)
    makes no difference with mbedTLS, which always negotiates it."""
    server = mbedtls(peers, pki, tmp_path, kind)
    suite = f"TLS_ECDHE_{AUTH[kind]}_WITH_{cipher}"
    exts = ServerHelloExtensions()
    config = pki.client_config(cipher_suites=["TLS_AES_128_GCM_SHA256", suite],
                               alpn_protocols=["http/1.1"], tracer=exts,
                               require_extended_master_secret=True)
    hc, (protocol, mbed_suite) = fetch_tls_view(config, server.port)
    assert hc.version == protocol == "TLSv1.2"
    assert hc.cipher_suite.name == suite == mbed_suite.replace("-", "_")
    assert ExtensionType.extended_master_secret in exts.seen
    assert hc.signature_scheme is not None and hc.signature_scheme.name == SCHEME[kind]
    assert hc.alpn_protocol == "http/1.1"


def test_mbedtls_picks_the_curve_by_its_own_order(peers: Peers, pki: PKI,
                                                  tmp_path: Path) -> None:
    """tlskit lists x25519 first; mbedTLS (as lighttpd configures it) prefers the larger
    curves and takes P-384, the largest tlskit offers. tlskit accepts the server's pick:
    in TLS 1.2 the server chooses among the client's groups."""
    server = mbedtls(peers, pki, tmp_path)
    pump = Pump.connect(pki.client_config(groups=["x25519", "secp256r1", "secp384r1"]),
                        server.port)
    try:
        hc = pump.handshake()
        head, body = get(pump, "/index.txt")
    finally:
        pump.dispose()
    assert hc.group is not None and hc.group.name == "secp384r1"
    assert head.startswith(b"HTTP/1.1 200 OK") and body == PAGE


def test_tls13_only_client_gets_handshake_failure(peers: Peers, pki: PKI,
                                                  tmp_path: Path) -> None:
    """mbedTLS 2.28 cannot speak TLS 1.3. A TLS 1.3-only ClientHello still says 0x0303
    in legacy_version (RFC 8446 4.1.2), so mbedTLS reads it as a TLS 1.2 hello whose
    suites are all TLS 1.3 ones: it finds no common suite and answers handshake_failure,
    not protocol_version (it ignores supported_versions), and logs exactly that."""
    server = mbedtls(peers, pki, tmp_path)
    err = Pump.failed_handshake(pki.client_config(versions=["TLSv1.3"]), server.port)
    assert isinstance(err, AlertReceived)
    assert err.alert == AlertDescription.handshake_failure
    server.wait_logged(r"The server has no ciphersuites in common with the client \(-0x7380\)")


def test_tlskit_client_resumes_mbedtls_sessions(peers: Peers, pki: PKI,
                                                tmp_path: Path) -> None:
    """mbedTLS (with the extended master secret, so tlskit keeps the session) resumes
    the TLS 1.2 session on the next connections."""
    server = mbedtls(peers, pki, tmp_path)
    config = pki.client_config(session_cache=SessionCache())
    views = [fetch_tls_view(config, server.port) for _ in range(3)]
    assert [hc.resumed for hc, _ in views] == [False, True, True]
    assert {view for _, view in views} == {views[0][1]}
    assert all(hc.signature_scheme is None for hc, _ in views[1:])


def test_close_notify_both_ways(peers: Peers, pki: PKI, tmp_path: Path) -> None:
    """After a keep-alive response tlskit closes first; mbedTLS answers close_notify."""
    server = mbedtls(peers, pki, tmp_path)
    pump = Pump.connect(pki.client_config(), server.port)
    try:
        pump.handshake()
        pump.send(b"GET /index.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        pump.recv_until(PAGE)
        pump.close()
        closed = pump.wait_closed()
    finally:
        pump.dispose()
    assert closed == ConnectionClosed(alert=None)
