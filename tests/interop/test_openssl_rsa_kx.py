"""TLS 1.2 RSA key transport (TLS_RSA_WITH_AES_128/256_GCM) against `openssl` and GnuTLS,
both ways: with ``legacy_rsa_key_exchange=True`` tlskit speaks it (with the extended
master secret, and resuming), and with default configs it refuses it with
handshake_failure (a tlskit server says which opt-in is missing)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tlskit import AlertDescription, AlertReceived, TLSError

from ..support.peers import PeerProcess, require_binary
from ..support.pump import Pump, echo_until_close, tlskit_server
from .conftest import PKI, Peers, openssl_field
from .test_openssl_resumption import _server_body

pytestmark = pytest.mark.interop

OPENSSL_NAME = {"AES128-GCM-SHA256": "TLS_RSA_WITH_AES_128_GCM_SHA256",
                "AES256-GCM-SHA384": "TLS_RSA_WITH_AES_256_GCM_SHA384"}
OPT_IN = {"legacy_rsa_key_exchange": True}
EXT_EMS = 23  # extended_master_secret (RFC 7627)


def _s_server(peers: Peers, pki: PKI, cipher: str, *args: str) -> tuple[PeerProcess, int]:
    files = pki.files["rsa2048"]
    return peers.openssl_s_server("-tls1_2", "-cipher", cipher, "-cert", files.leaf,
                                  "-cert_chain", files.chain, "-key", files.key, *args)


def _s_client(pki: PKI, port: int, cipher: str, *args: str | Path,
              ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [require_binary("openssl"), "s_client", "-tls1_2", "-cipher", cipher, "-connect",
         f"127.0.0.1:{port}", "-servername", "localhost", "-verify_hostname", "localhost",
         "-CAfile", str(pki.root_pem), "-verify_return_error", "-ign_eof",
         *[str(a) for a in args]],
        input="", capture_output=True, text=True, timeout=30, check=False)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return proc


@pytest.mark.parametrize("cipher", OPENSSL_NAME)
def test_tlskit_client_to_s_server(peers: Peers, pki: PKI, cipher: str) -> None:
    proc, port = _s_server(peers, pki, cipher)
    hellos: list[Any] = []   # the ServerHello openssl sent, as tlskit's tracer reports it

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if step == "server_hello":
            hellos.append(fields["message"])

    pump = Pump.connect(pki.client_config(tracer=tracer, **OPT_IN), port)  # 1.3 and 1.2
    try:
        hc = pump.handshake()
        mark = proc.mark()
        pump.send(b"premaster went by RSA\n")
        proc.wait_for("premaster went by RSA", since=mark)
        pump.close()
    finally:
        pump.dispose()
    assert (hc.version, hc.cipher_suite.name, hc.group) == ("TLSv1.2", OPENSSL_NAME[cipher],
                                                            None)
    # openssl echoed extended_master_secret, so it keyed its Finished with the RFC 7627
    # master secret: the handshake completing means tlskit derived that one too.
    (server_hello,) = hellos
    assert EXT_EMS in server_hello.extensions


@pytest.mark.parametrize("cipher", OPENSSL_NAME)
def test_s_client_to_tlskit_server(peers: Peers, pki: PKI, cipher: str,
                                   tmp_path: Path) -> None:
    """s_client -cipher AES128-GCM-SHA256 (kRSA only): extended master secret on, and the
    session resumes (-sess_out, then -sess_in: "Reused")."""
    config = pki.server_config("rsa2048", **OPT_IN)
    server = peers.thread(tlskit_server(config, _server_body, count=2))
    sess = tmp_path / "sess.pem"
    first = _s_client(pki, server.port, cipher, "-sess_out", sess).stdout
    assert openssl_field(first, r"Cipher is (\S+)") == cipher
    assert "Extended master secret: yes" in first and "New, TLSv1.2" in first
    second = _s_client(pki, server.port, cipher, "-sess_in", sess).stdout
    assert "Reused, TLSv1.2" in second
    results = server.join()
    assert [(hc.cipher_suite.name, hc.resumed) for hc in results] == [
        (OPENSSL_NAME[cipher], False), (OPENSSL_NAME[cipher], True)]


def test_default_tlskit_server_refuses_rsa_only_s_client(peers: Peers, pki: PKI) -> None:
    errors: list[TLSError] = []

    def body(pump: Pump) -> None:
        try:
            pump.handshake()
        except TLSError as exc:
            errors.append(exc)
            pump.run_until(lambda: True, "the alert to be written")

    server = peers.thread(tlskit_server(pki.server_config("rsa2048"), body))
    proc = _s_client(pki, server.port, "AES128-GCM-SHA256", ok=False)
    server.join()
    assert "handshake failure" in proc.stderr
    [exc] = errors
    assert exc.alert == AlertDescription.handshake_failure
    assert "no TLS 1.2 cipher suite in common" in str(exc)
    assert "legacy_rsa_key_exchange=True" in str(exc)


def test_default_tlskit_client_refused_by_rsa_only_s_server(peers: Peers, pki: PKI) -> None:
    _proc, port = _s_server(peers, pki, "AES128-GCM-SHA256")
    error = Pump.failed_handshake(pki.client_config(), port)
    assert isinstance(error, AlertReceived)
    assert error.alert == AlertDescription.handshake_failure


# --- GnuTLS ---------------------------------------------------------------------------------

GNUTLS_RSA = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA"


def test_gnutls_cli_to_tlskit_server(peers: Peers, pki: PKI) -> None:
    def body(pump: Pump) -> tuple[object, int]:
        echoed = echo_until_close(pump)
        return pump.conn.handshake_complete, echoed

    server = peers.thread(tlskit_server(pki.server_config("rsa2048", **OPT_IN), body))
    client = peers.start(["gnutls-cli", "--x509cafile", pki.root_pem, "-p", str(server.port),
                          "--sni-hostname", "localhost", "--verify-hostname", "localhost",
                          "--priority", GNUTLS_RSA, "127.0.0.1"])
    client.wait_for("Handshake was completed")
    client.write(b"hello over RSA\n")
    client.wait_for("hello over RSA\n")
    client.close_stdin()
    [(hc, echoed)] = server.join()
    assert client.wait() == 0, client.describe()
    assert hc.cipher_suite.name.startswith("TLS_RSA_WITH_AES_")  # type: ignore[attr-defined]
    assert echoed == len(b"hello over RSA\n")
    assert "(RSA)" in client.stdout  # "- Description: (TLS1.2-X.509)-(RSA)-(AES-...)"


def test_tlskit_client_to_gnutls_serv(peers: Peers, pki: PKI) -> None:
    _proc, port = peers.gnutls_server(pki, "rsa2048", "--echo", "--priority", GNUTLS_RSA)
    pump = Pump.connect(pki.client_config(**OPT_IN), port)
    try:
        hc = pump.handshake()
        assert pump.echo_roundtrip(b"line over RSA\n") == b"line over RSA\n"
        pump.close()
    finally:
        pump.dispose()
    assert hc.version == "TLSv1.2" and hc.cipher_suite.name.startswith("TLS_RSA_WITH_AES_")
