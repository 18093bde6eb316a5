"""tlskit against Botan (2.19, Debian's `botan` command line tool), TLS 1.2 both ways:
`botan tls_server` (an echo server) and `botan tls_client` (stdin to the server, what
comes back to stdout). Botan 2 has no TLS 1.3.

Botan shares no code with the other peers. Both tools print the negotiated version and
suite ("Handshake complete, TLS v1.2 using ECDHE_ECDSA_WITH_..."), the session ID and
alerts, which the tests compare with tlskit's `HandshakeComplete`. Their stdout is a
pipe, so they run under stdbuf to print each line when it happens. `botan tls_server`
binds port 0 on every address (it does not say which port it got: read from /proc);
the tests connect to 127.0.0.1.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tlskit import (
    AlertDescription,
    AlertReceived,
    HandshakeComplete,
    IllegalParameter,
    ProtocolVersionError,
)
from tlskit.enums import ExtensionType
from tlskit.session import SessionCache

from ..support.peers import PeerProcess
from ..support.ports import listening_port
from ..support.pump import Pump, echo_until_close, tlskit_server
from .conftest import PKI, Peers
from .helpers import ServerHelloExtensions

pytestmark = pytest.mark.interop

AUTH = {"ec256": "ECDSA", "rsa2048": "RSA"}
CIPHERS = ("AES_128_GCM_SHA256", "CHACHA20_POLY1305_SHA256")
SCHEME_384 = {"ec256": "ecdsa_secp384r1_sha384", "rsa2048": "rsa_pss_rsae_sha384"}
_COMPLETE = re.compile(r"Handshake complete, TLS v1\.2 using (\w+)")
_SESSION_ID = re.compile(r"Session ID ([0-9A-F]+)")


def botan_server(peers: Peers, pki: PKI, kind: str = "ec256") -> tuple[PeerProcess, int]:
    files = pki.files[kind]
    proc = peers.start(["botan", "tls_server", files.fullchain, files.key, "--port=0"],
                       unbuffered=True)
    return proc, listening_port(proc.pid)


def botan_client(peers: Peers, pki: PKI, port: int, *args: str | Path) -> PeerProcess:
    """`botan tls_client` to localhost:port over TLS 1.2, trusting only the test root."""
    return peers.start(["botan", "tls_client", "localhost", f"--port={port}", "--tls1.2",
                        "--skip-system-cert-store", f"--trusted-cas={pki.root_pem}", *args],
                       unbuffered=True)


def botan_suite(proc: PeerProcess, since: int = 0) -> str:
    """The suite Botan says it negotiated, in IANA spelling."""
    found = proc.wait_for(_COMPLETE.pattern, since=since)
    return "TLS_" + found.group(1).decode()


def say_and_close(proc: PeerProcess, line: bytes) -> None:
    """`botan tls_client`: send ``line``, wait for its echo, then "Q" (Botan closes)."""
    mark = proc.mark()
    proc.write(line)
    proc.wait_for(re.escape(line.rstrip(b"\n")), since=mark)
    proc.write(b"Q\n")
    assert proc.wait() == 0, proc.describe()


def handshake_and_echo(pump: Pump) -> tuple[HandshakeComplete, int]:
    """Server body: the handshake's outcome and the bytes echoed until close_notify."""
    hc = pump.handshake()
    return hc, echo_until_close(pump)


# ----------------------------------------------------------- tlskit client, botan tls_server

@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("kind", ["ec256", "rsa2048"])
def test_tlskit_client_to_botan_server(peers: Peers, pki: PKI, kind: str,
                                       cipher: str) -> None:
    """Botan answers tlskit's one TLS 1.2 suite, negotiates the extended master secret and
    echoes; both say the same suite."""
    proc, port = botan_server(peers, pki, kind)
    suite = f"TLS_ECDHE_{AUTH[kind]}_WITH_{cipher}"
    exts = ServerHelloExtensions()
    pump = Pump.connect(pki.client_config(cipher_suites=[suite], tracer=exts,
                                          require_extended_master_secret=True), port)
    try:
        hc = pump.handshake()
        pump.send(b"hello botan\n")
        assert pump.recv_until(b"\n") == b"hello botan\n"
        pump.close()
        pump.wait_closed()
    finally:
        pump.dispose()
    assert hc.version == "TLSv1.2" and hc.cipher_suite.name == suite == botan_suite(proc)
    assert ExtensionType.extended_master_secret in exts.seen
    assert hc.peer_certificates[0] == pki.issued[kind].chain[0]


@pytest.mark.parametrize("kind", ["ec256", "rsa2048"])
def test_botan_server_preferences(peers: Peers, pki: PKI, kind: str) -> None:
    """Botan's policy order decides, not tlskit's: ChaCha20-Poly1305 before AES-GCM, and
    SHA-384 signatures first, so it signs with ecdsa_secp384r1_sha384 even with a P-256
    key (TLS 1.2 does not tie an ECDSA signature's hash to the curve; TLS 1.3 would) and
    with RSA-PSS for an RSA key (mbedTLS uses PKCS#1 v1.5). tlskit accepts both."""
    proc, port = botan_server(peers, pki, kind)
    hc = Pump.handshake_once(pki.client_config(versions=["TLSv1.2"]), port)
    suite = f"TLS_ECDHE_{AUTH[kind]}_WITH_CHACHA20_POLY1305_SHA256"
    assert hc.cipher_suite.name == suite == botan_suite(proc)
    assert hc.signature_scheme is not None
    assert hc.signature_scheme.name == SCHEME_384[kind]


def test_tlskit_client_resumes_botan_session(peers: Peers, pki: PKI) -> None:
    """Botan's server issues an RFC 5077 ticket; tlskit's second connection resumes with
    it (no certificate, no signature)."""
    _, port = botan_server(peers, pki)
    config = pki.client_config(versions=["TLSv1.2"], session_cache=SessionCache())
    first = Pump.handshake_once(config, port)
    second = Pump.handshake_once(config, port)
    assert (first.resumed, second.resumed) == (False, True)
    assert second.signature_scheme is None and second.cipher_suite == first.cipher_suite


def test_tls13_only_client_gets_protocol_version(peers: Peers, pki: PKI) -> None:
    """Botan 2 reads supported_versions but implements no TLS 1.3: it refuses a client
    that offers only TLS 1.3 with protocol_version, and says why."""
    proc, port = botan_server(peers, pki)
    err = Pump.failed_handshake(pki.client_config(versions=["TLSv1.3"]), port)
    assert isinstance(err, AlertReceived)
    assert err.alert == AlertDescription.protocol_version
    proc.wait_for("Connection problem: No shared TLS version", stream="stderr")


def test_botan_server_alpn_is_hard_coded(peers: Peers, pki: PKI) -> None:
    """`botan tls_server` answers ALPN with "echo/0.1" whatever the client offered (the
    CLI hard-codes its choice). Offered it, tlskit agrees; offered only other protocols,
    tlskit refuses the server's pick with illegal_parameter (RFC 7301 3.2: the server
    selects one of the client's protocols), and Botan prints the alert it received."""
    proc, port = botan_server(peers, pki)
    hc = Pump.handshake_once(pki.client_config(alpn_protocols=["h2", "echo/0.1"]), port)
    assert hc.alpn_protocol == "echo/0.1"
    err = Pump.failed_handshake(pki.client_config(alpn_protocols=["h2", "http/1.1"]), port)
    assert isinstance(err, IllegalParameter)
    assert err.alert == AlertDescription.illegal_parameter
    assert "server selected ALPN ['echo/0.1'], not one offered" in str(err)
    proc.wait_for("Alert: illegal_parameter")


# ----------------------------------------------------------- botan tls_client, tlskit server

@pytest.mark.parametrize("kind", ["ec256", "rsa2048"])
def test_botan_client_to_tlskit_server(peers: Peers, pki: PKI, kind: str) -> None:
    """Botan verifies tlskit's chain against the test root, and both report one suite."""
    server = peers.thread(tlskit_server(pki.server_config(kind), handshake_and_echo))
    proc = botan_client(peers, pki, server.port)
    say_and_close(proc, b"hello tlskit\n")
    ((hc, echoed),) = server.join()
    assert "Certificate validation status: Verified" in proc.stdout
    assert hc.version == "TLSv1.2" and hc.cipher_suite.name == botan_suite(proc)
    assert f"_{AUTH[kind]}_" in hc.cipher_suite.name
    assert echoed == len(b"hello tlskit\n")


def test_botan_client_alpn(peers: Peers, pki: PKI) -> None:
    """tlskit's server picks by its own order among Botan's --next-protocols (its first
    protocol the client offered, as OpenSSL and nginx do); Botan prints the choice."""
    config = pki.server_config(alpn_protocols=["h2", "http/1.1"])
    server = peers.thread(tlskit_server(config, handshake_and_echo))
    proc = botan_client(peers, pki, server.port, "--next-protocols=spdy/3,http/1.1,h2")
    say_and_close(proc, b"which protocol?\n")
    ((hc, _),) = server.join()
    assert hc.alpn_protocol == "h2"
    assert "Server choose protocol: h2" in proc.stdout


def test_botan_client_resumes_with_tlskit_ticket(peers: Peers, pki: PKI,
                                                 tmp_path: Path) -> None:
    """Botan keeps tlskit's ticket in its session database (--session-db) and resumes
    with it: tlskit reports a resumption, and Botan checks no certificate the second time
    and reports the same session ID."""
    server = peers.thread(tlskit_server(pki.server_config(), handshake_and_echo, count=2))
    db = ("--session-db", str(tmp_path / "sessions.db"), "--session-db-pass=test")
    runs = []
    for line in (b"first\n", b"second\n"):
        proc = botan_client(peers, pki, server.port, f"{db[0]}={db[1]}", db[2])
        say_and_close(proc, line)
        runs.append(proc.stdout)
    (first, _), (second, _) = server.join()
    assert (first.resumed, second.resumed) == (False, True)
    assert "Certificate validation status" in runs[0]
    assert "Certificate validation status" not in runs[1]
    ids = [_SESSION_ID.search(out) for out in runs]
    assert ids[0] and ids[1] and ids[0].group(1) == ids[1].group(1)


def test_botan_renegotiation_is_refused_and_connection_goes_on(peers: Peers,
                                                                pki: PKI) -> None:
    """Botan's client renegotiates on "R": tlskit's server refuses with a warning
    no_renegotiation (RFC 5246 7.2.2); Botan drops its new handshake and the connection
    goes on, both ways. (tlskit used to end the connection with unexpected_message.)"""
    server = peers.thread(tlskit_server(pki.server_config(), handshake_and_echo))
    proc = botan_client(peers, pki, server.port)
    proc.write(b"before\n")
    proc.wait_for("before")
    mark = proc.mark()
    proc.write(b"R\n")
    proc.wait_for("Alert: no_renegotiation", since=mark)
    say_and_close(proc, b"after\n")
    ((hc, echoed),) = server.join()
    assert echoed == len(b"before\nafter\n")
    assert "Handshake complete" not in proc.text_since(mark)  # no second handshake
    assert hc.version == "TLSv1.2"


def test_tls13_only_server_refuses_botan_with_protocol_version(peers: Peers,
                                                              pki: PKI) -> None:
    """A tlskit server configured for TLS 1.3 alone refuses Botan's TLS 1.2 ClientHello
    with protocol_version, which Botan prints. (A chain Botan cannot verify is no failure
    path: the CLI's verification callback prints the status, e.g. "Certificate issuer not
    found", and carries on.)"""
    server = peers.thread(tlskit_server(pki.server_config(versions=["TLSv1.3"]),
                                        Pump.handshake_error))
    proc = botan_client(peers, pki, server.port)
    (err,) = server.join()
    assert isinstance(err, ProtocolVersionError)
    assert err.alert == AlertDescription.protocol_version
    proc.wait_for("Alert: protocol_version")
