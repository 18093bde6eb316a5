"""External PSKs (RFC 8446 2.2) against OpenSSL 3.0 (`s_server -psk -nocert`,
`s_client -psk`) and GnuTLS (`gnutls-serv --pskpasswd`, `gnutls-cli --pskusername
--pskkey`), both directions, data both ways, and the failures with each side's alert.

Both tools key their TLS 1.3 PSKs with SHA-256 (OpenSSL's -psk always uses
TLS_AES_128_GCM_SHA256's hash; GnuTLS's password file has no hash field), so a SHA-384
key is checked to fail against them as a wrong key does (its binder differs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tlskit import (
    AlertDescription,
    AlertReceived,
    ClientConfig,
    DecryptError,
    ExternalPsk,
    HandshakeComplete,
    HandshakeFailure,
    ServerConfig,
)

from ..support.peers import PeerProcess
from ..support.pump import Pump, ServerThread, echo_until_close, tlskit_server
from .conftest import Peers
from .helpers import both_ways_with_s_client, both_ways_with_s_server

pytestmark = pytest.mark.interop

SECRET = bytes(range(0x40, 0x60))
KEY = ExternalPsk(b"sensor-17", SECRET)
WRONG = ExternalPsk(b"sensor-17", bytes(32))
GNUTLS_PSK = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+DHE-PSK:+PSK"


def s_server_psk(peers: Peers, *args: str) -> tuple[PeerProcess, int]:
    return peers.openssl_s_server("-tls1_3", "-nocert", "-psk", SECRET.hex(),
                                  "-psk_identity", "sensor-17", *args)


def s_client_psk(peers: Peers, port: int, secret: bytes = SECRET, *args: str) -> PeerProcess:
    return peers.start(["openssl", "s_client", "-tls1_3", "-connect", f"127.0.0.1:{port}",
                        "-psk", secret.hex(), "-psk_identity", "sensor-17", *args])


def down_then_echo(pump: Pump) -> int:
    pump.handshake()
    pump.send(b"d" * 5000 + b"\n")
    return echo_until_close(pump)


def recording(seen: list[HandshakeComplete]) -> Callable[[Pump], int]:
    """`down_then_echo`, keeping each connection's HandshakeComplete in ``seen``."""
    def body(pump: Pump) -> int:
        echoed = down_then_echo(pump)
        assert pump.conn.handshake_complete is not None
        seen.append(pump.conn.handshake_complete)
        return echoed
    return body


def psk_server(peers: Peers, config: ServerConfig | None = None) -> ServerThread:
    return peers.thread(tlskit_server(config or ServerConfig(external_psks=[KEY]),
                                      down_then_echo))


def client_alert(config: ClientConfig, port: int) -> AlertDescription:
    pump = Pump.connect(config, port, server_name=None)  # type: ignore[arg-type]
    try:
        with pytest.raises(AlertReceived) as info:
            pump.handshake()
    finally:
        pump.dispose()
    return info.value.alert


# -- OpenSSL ---------------------------------------------------------------------------

def test_tlskit_client_to_s_server_psk(peers: Peers) -> None:
    proc, port = s_server_psk(peers)
    hc, _ = both_ways_with_s_server(ClientConfig(external_psks=[KEY]), port, proc)
    assert hc.external_psk_identity == b"sensor-17" and hc.peer_certificates == []
    assert hc.cipher_suite.name == "TLS_AES_128_GCM_SHA256" and hc.group is not None


def test_tlskit_client_psk_ke_to_s_server_allowing_it(peers: Peers) -> None:
    proc, port = s_server_psk(peers, "-allow_no_dhe_kex")
    hc, _ = both_ways_with_s_server(
        ClientConfig(external_psks=[KEY], psk_modes=["psk_ke"]), port, proc)
    assert hc.external_psk_identity == b"sensor-17" and hc.group is None


def test_s_server_refuses_psk_ke_by_default_with_handshake_failure(peers: Peers) -> None:
    _, port = s_server_psk(peers)
    config = ClientConfig(external_psks=[KEY], psk_modes=["psk_ke"])
    assert client_alert(config, port) == AlertDescription.handshake_failure


@pytest.mark.parametrize(("key", "alert"), [
    (WRONG, AlertDescription.illegal_parameter),  # (OpenSSL 3.0: "binder does not verify")
    (ExternalPsk(b"sensor-99", SECRET), AlertDescription.handshake_failure),  # -nocert
    # its binder is 48 bytes where OpenSSL expects SHA-256's 32
    (ExternalPsk(b"sensor-17", SECRET, "sha384"), AlertDescription.decode_error),
], ids=["wrong-key", "unknown-identity", "sha384-key"])
def test_s_server_refusals(peers: Peers, key: ExternalPsk, alert: AlertDescription) -> None:
    _, port = s_server_psk(peers)
    assert client_alert(ClientConfig(external_psks=[key]), port) == alert


def test_s_client_psk_to_tlskit_server(peers: Peers) -> None:
    server = psk_server(peers)
    client = s_client_psk(peers, server.port)
    both_ways_with_s_client(client, server, 5000, 3000)
    assert "Cipher is TLS_AES_128_GCM_SHA256" in client.stdout
    assert "no peer certificate available" in client.stdout


def test_s_client_psk_ke_to_tlskit_server_allowing_it(peers: Peers) -> None:
    seen: list[HandshakeComplete] = []
    server = peers.thread(tlskit_server(
        ServerConfig(external_psks=[KEY], allow_psk_ke=True), recording(seen)))
    # -allow_no_dhe_kex offers psk_ke beside psk_dhe_ke: psk_dhe_ke is still preferred.
    client = s_client_psk(peers, server.port, SECRET, "-allow_no_dhe_kex")
    both_ways_with_s_client(client, server, 5000, 3000)
    [hc] = seen
    assert hc.external_psk_identity == b"sensor-17" and hc.group is not None


def test_s_client_with_unknown_identity_gets_handshake_failure(peers: Peers) -> None:
    server = psk_server(peers, ServerConfig(external_psks=[ExternalPsk(b"other", SECRET)]))
    client = s_client_psk(peers, server.port)
    with pytest.raises(HandshakeFailure):
        server.join()
    client.wait()
    assert "alert handshake failure" in client.stderr + client.stdout


def test_binders_after_a_hello_retry_request_both_ways(peers: Peers) -> None:
    """4.2.11.2: after a HelloRetryRequest the binder covers message_hash, the retry
    request and the second hello: s_server (P-256 only) asks tlskit (one x25519 share)
    for a retry, and tlskit (P-256 only) asks s_client (one X25519 share)."""
    proc, port = s_server_psk(peers, "-groups", "P-256")
    hc, _ = both_ways_with_s_server(
        ClientConfig(external_psks=[KEY], groups=["x25519", "secp256r1"]), port, proc)
    assert hc.external_psk_identity == b"sensor-17" and hc.group.name == "secp256r1"
    seen: list[HandshakeComplete] = []
    server = peers.thread(tlskit_server(
        ServerConfig(external_psks=[KEY], groups=["secp256r1"]), recording(seen)))
    client = s_client_psk(peers, server.port, SECRET, "-groups", "X25519:P-256")
    both_ways_with_s_client(client, server, 5000, 3000)
    [hc] = seen
    assert hc.external_psk_identity == b"sensor-17" and hc.group.name == "secp256r1"


def test_s_client_resumes_its_psk_session_under_the_psk_identity(peers: Peers,
                                                                 tmp_path: Path) -> None:
    """4.6.1: s_client keeps the ticket of its external-PSK session (-sess_out) and
    resumes with it (-sess_in); the resumed session is still the PSK's, and tlskit names
    its identity (it said None before)."""
    seen: list[HandshakeComplete] = []
    server = peers.thread(tlskit_server(ServerConfig(external_psks=[KEY]), recording(seen),
                                        count=2))
    session = tmp_path / "session.pem"
    for flag in ("-sess_out", "-sess_in"):
        client = s_client_psk(peers, server.port, SECRET, flag, str(session))
        client.wait_for(b"d" * 5000 + b"\n")
        client.write(b"up\n")
        client.wait_for(b"up\n")
        client.close_stdin()
        assert client.wait() == 0, client.describe()
    assert server.join() == [3, 3]
    assert [(hc.resumed, hc.external_psk_identity) for hc in seen] == [
        (False, b"sensor-17"), (True, b"sensor-17")]


# -- GnuTLS ----------------------------------------------------------------------------

@pytest.fixture
def passwd(tmp_path: Path) -> Path:
    path = tmp_path / "psk.passwd"
    path.write_text(f"sensor-17:{SECRET.hex()}\n")
    return path


def test_tlskit_client_to_gnutls_serv_psk(peers: Peers, passwd: Path) -> None:
    proc, port = peers.gnutls_serv("--pskpasswd", str(passwd), "--priority", GNUTLS_PSK,
                                   "--echo")
    pump = Pump.connect(ClientConfig(external_psks=[KEY]), port, server_name=None)  # type: ignore[arg-type]
    try:
        hc = pump.handshake()
        pump.send(b"ping over psk\n")
        assert pump.recv_exactly(14) == b"ping over psk\n"
        pump.close()
    finally:
        pump.dispose()
    assert hc.external_psk_identity == b"sensor-17" and hc.peer_certificates == []
    proc.wait_for("PSK authentication. Connected as 'sensor-17'")


@pytest.mark.parametrize("key", [WRONG, ExternalPsk(b"sensor-17", SECRET, "sha384")],
                         ids=["wrong-key", "sha384-key"])
def test_gnutls_serv_refuses_a_wrong_binder(peers: Peers, passwd: Path,
                                            key: ExternalPsk) -> None:
    _, port = peers.gnutls_serv("--pskpasswd", str(passwd), "--priority", GNUTLS_PSK)
    assert client_alert(ClientConfig(external_psks=[key]), port) == \
        AlertDescription.illegal_parameter  # (GnuTLS's alert for a binder that fails)


def gnutls_cli_psk(peers: Peers, port: int, secret: bytes = SECRET) -> PeerProcess:
    return peers.start(["gnutls-cli", "-p", str(port), "--priority", GNUTLS_PSK,
                        "--pskusername", "sensor-17", "--pskkey", secret.hex(), "127.0.0.1"])


def test_gnutls_cli_psk_to_tlskit_server(peers: Peers) -> None:
    server = psk_server(peers)
    client = gnutls_cli_psk(peers, server.port)
    client.wait_for("Handshake was completed")
    client.wait_for(b"d" * 5000)
    client.write(b"hello tlskit\n")
    client.wait_for("hello tlskit\n")
    client.close_stdin()
    assert server.join() == [len(b"hello tlskit\n")]
    assert client.wait() == 0, client.describe()
    assert "PSK authentication" in client.stdout or "(TLS1.3-PSK)" in client.stdout


@pytest.mark.parametrize(("peer", "says"), [("openssl", "alert decrypt error"),
                                             ("gnutls", "Decrypt error")])
def test_a_client_with_the_wrong_key_gets_decrypt_error(peers: Peers, peer: str,
                                                         says: str) -> None:
    """RFC 8446 4.2.11: the binder does not verify; tlskit's server sends decrypt_error and
    each peer reports that alert."""
    server = psk_server(peers)
    start = s_client_psk if peer == "openssl" else gnutls_cli_psk
    client = start(peers, server.port, bytes(32))
    with pytest.raises(DecryptError):
        server.join()
    client.wait()
    assert says in client.stdout + client.stderr
