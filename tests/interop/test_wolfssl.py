"""tlskit's client against wolfSSL (5.5, Debian's build), through lighttpd's mod_wolfssl.

wolfSSL shares no code with OpenSSL, GnuTLS, NSS or Go. lighttpd serves a page and a CGI
script that prints what wolfSSL told lighttpd about the connection (protocol and cipher,
in OpenSSL-style names), so each test compares both sides' view of one handshake.

What wolfSSL does its own way: it prefers AES-256-GCM whatever the client's order; the
"Groups"/"Curves" setting lighttpd passes it limits TLS 1.2's ECDHE curve only (a TLS 1.3
key share of any group it implements is taken); it has no ML-KEM, so tlskit's hybrid
share alone draws a HelloRetryRequest; and its log names no alert it received.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tlskit import AlertDescription, CertificateVerificationError
from tlskit.io.blocking import connect
from tlskit.session import SessionCache
from tlskit.x509 import Reason

from ..support.pump import Pump
from .conftest import PKI, Peers
from .lighttpd import PAGE, Lighttpd, fetch_tls_view, start_lighttpd

pytestmark = pytest.mark.interop

KINDS = ("ec256", "rsa2048")
AUTH = {"ec256": "ECDSA", "rsa2048": "RSA"}
# wolfSSL's names (OpenSSL's spelling) for the suites it negotiates with tlskit.
WOLFSSL_SUITE = {
    "TLS_AES_128_GCM_SHA256": "TLS13-AES128-GCM-SHA256",
    "TLS_AES_256_GCM_SHA384": "TLS13-AES256-GCM-SHA384",
    "TLS_CHACHA20_POLY1305_SHA256": "TLS13-CHACHA20-POLY1305-SHA256",
    **{f"TLS_ECDHE_{auth}_WITH_AES_128_GCM_SHA256": f"ECDHE-{auth}-AES128-GCM-SHA256"
       for auth in AUTH.values()},
    **{f"TLS_ECDHE_{auth}_WITH_AES_256_GCM_SHA384": f"ECDHE-{auth}-AES256-GCM-SHA384"
       for auth in AUTH.values()},
    **{f"TLS_ECDHE_{auth}_WITH_CHACHA20_POLY1305_SHA256": f"ECDHE-{auth}-CHACHA20-POLY1305"
       for auth in AUTH.values()},
}


def wolfssl(peers: Peers, pki: PKI, tmp_path: Path, kind: str = "ec256",
            **conf_cmd: str) -> Lighttpd:
    files = pki.files[kind]
    return start_lighttpd(peers, tmp_path, "mod_wolfssl", files.fullchain, files.key,
                          conf_cmd)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tlskit_client_to_wolfssl(peers: Peers, pki: PKI, tmp_path: Path, kind: str,
                                  version: str) -> None:
    """wolfSSL and tlskit agree on version and suite; ALPN picks http/1.1; the leaf's
    key type decides the TLS 1.2 suite's authentication."""
    server = wolfssl(peers, pki, tmp_path, kind)
    config = pki.client_config(versions=[version], alpn_protocols=["http/1.1"])
    hc, (protocol, cipher) = fetch_tls_view(config, server.port)
    assert hc.version == protocol == version
    assert WOLFSSL_SUITE[hc.cipher_suite.name] == cipher
    assert hc.alpn_protocol == "http/1.1"
    assert hc.peer_certificates[0] == pki.issued[kind].chain[0]
    if version == "TLSv1.2":
        assert f"_{AUTH[kind]}_" in hc.cipher_suite.name


def test_blocking_socket_gets_the_file(peers: Peers, pki: PKI, tmp_path: Path) -> None:
    """tlskit's blocking socket (`tlskit.io.connect`) fetches the static file; lighttpd
    closes with close_notify, which reads as a clean end of stream."""
    server = wolfssl(peers, pki, tmp_path)
    config = pki.client_config(alpn_protocols=["http/1.1"])
    with connect("127.0.0.1", server.port, config, server_name="localhost",
                 timeout=20) as sock:
        sock.sendall(b"GET /index.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        response = b""
        while chunk := sock.recv():
            response += chunk
        assert not sock.truncated
        assert (sock.version(), sock.selected_alpn_protocol()) == ("TLSv1.3", "http/1.1")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == PAGE


def test_hello_retry_request(peers: Peers, pki: PKI, tmp_path: Path) -> None:
    """tlskit's only key share is X25519MLKEM768, which wolfSSL 5.5 does not implement;
    wolfSSL asks for secp256r1 with a HelloRetryRequest and tlskit answers with it.

    (lighttpd's "Groups"/"Curves" setting cannot force the retry: with wolfSSL it limits
    only TLS 1.2's ECDHE curve, see the next test, while a TLS 1.3 server keeps accepting
    any key share it implements.)"""
    steps: list[str] = []
    server = wolfssl(peers, pki, tmp_path)
    config = pki.client_config(groups=["X25519MLKEM768", "secp256r1"],
                               key_share_groups=["X25519MLKEM768"],
                               tracer=lambda step, _fields: steps.append(str(step)))
    hc, (protocol, _) = fetch_tls_view(config, server.port)
    assert steps[:4] == ["client_hello", "hello_retry_request", "client_change_cipher_spec",
                         "client_hello"]
    assert hc.group is not None and hc.group.name == "secp256r1"
    assert hc.version == protocol == "TLSv1.3"


def test_curves_setting_limits_tls12_only(peers: Peers, pki: PKI, tmp_path: Path) -> None:
    """With "Curves" = secp384r1, wolfSSL's TLS 1.2 ECDHE uses P-384 although tlskit
    prefers x25519, while TLS 1.3 still takes tlskit's x25519 key share."""
    server = wolfssl(peers, pki, tmp_path, Curves="secp384r1")
    groups = ["x25519", "secp256r1", "secp384r1"]
    hc12, _ = fetch_tls_view(pki.client_config(versions=["TLSv1.2"], groups=groups),
                             server.port)
    hc13, _ = fetch_tls_view(pki.client_config(versions=["TLSv1.3"], groups=groups),
                             server.port)
    assert hc12.group is not None and hc12.group.name == "secp384r1"
    assert hc13.group is not None and hc13.group.name == "x25519"


def test_name_mismatch_is_refused_with_the_reason(peers: Peers, pki: PKI,
                                                  tmp_path: Path) -> None:
    """The certificate names localhost and 127.0.0.1, tlskit asked for another name: it
    says which name and why, and sends bad_certificate. wolfSSL logs that a fatal alert
    ended the handshake (its error -313) without naming the alert."""
    server = wolfssl(peers, pki, tmp_path)
    err = Pump.failed_handshake(pki.client_config(), server.port,
                                server_name="www.example.com")
    assert isinstance(err, CertificateVerificationError)
    assert err.reason is Reason.hostname_mismatch
    assert err.alert == AlertDescription.bad_certificate
    assert str(err) == ("certificate for localhost is not valid for www.example.com: its "
                        "names are localhost, 127.0.0.1")
    server.wait_logged(r"SSL: -313 received alert fatal error")


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tlskit_client_resumes_wolfssl_sessions(peers: Peers, pki: PKI, tmp_path: Path,
                                                version: str) -> None:
    """wolfSSL issues tickets (TLS 1.3 NewSessionTicket; TLS 1.2 a session ID, and it
    negotiates the extended master secret, without which tlskit would not resume); the
    next connections resume and still get the page with the same parameters."""
    server = wolfssl(peers, pki, tmp_path)
    config = pki.client_config(versions=[version], session_cache=SessionCache())
    views = [fetch_tls_view(config, server.port) for _ in range(3)]
    assert [hc.resumed for hc, _ in views] == [False, True, True]
    assert {view for _, view in views} == {views[0][1]}
    assert all(hc.signature_scheme is None for hc, _ in views[1:])  # no certificate


def test_alpn_h2_when_offered_first(peers: Peers, pki: PKI, tmp_path: Path) -> None:
    """Offered h2 and http/1.1, lighttpd (through wolfSSL's ALPN callback) takes h2 and
    answers the HTTP/2 connection preface with its SETTINGS frame (type 4, stream 0)."""
    server = wolfssl(peers, pki, tmp_path)
    pump = Pump.connect(pki.client_config(alpn_protocols=["h2", "http/1.1"]), server.port)
    try:
        hc = pump.handshake()
        pump.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes((0, 0, 0, 4, 0, 0, 0, 0, 0)))
        header = pump.recv_exactly(9)
    finally:
        pump.dispose()
    assert hc.alpn_protocol == "h2"
    assert (header[3], header[5:9]) == (4, bytes(4))
