"""tlskit against GnuTLS: `gnutls-serv --echo` and `gnutls-cli`, TLS 1.3 only.

Each certificate type runs once per direction, with GnuTLS narrowed by its priority string
to one group and one cipher (rotating, so the four runs also cover all three groups and
suites), and what GnuTLS negotiated is read from its "- Description:" line. KeyUpdate is
checked both ways with GnuTLS's debug log (-d 4), which reports every key update it sends
and receives.
"""

from __future__ import annotations

import re

import pytest

from tlskit import AlertDescription, AlertReceived, ConnectionClosed, KeyUpdated

from ..support.peers import PeerProcess
from ..support.pump import Pump, echo_until_close, tlskit_server
from .conftest import PKI, Peers
from .helpers import CERT_TYPES, GNUTLS_GROUP, GNUTLS_SUITE, GROUPS, SCHEME_FOR_CERT, SUITES

pytestmark = pytest.mark.interop

TLS13_ONLY = "NORMAL:-VERS-ALL:+VERS-TLS1.3"
GNUTLS_SCHEME = {"ec256": "ECDSA-SECP256R1-SHA256", "ec384": "ECDSA-SECP384R1-SHA384",
                 "rsa2048": "RSA-PSS-RSAE-SHA256", "ed25519": "EdDSA-Ed25519"}
# cert type -> (group, suite): every group and every suite appears at least once.
ROWS = [(kind, GROUPS[i % 3], SUITES[(i + 1) % 3]) for i, kind in enumerate(CERT_TYPES)]
ROW_IDS = [kind for kind, _, _ in ROWS]
DESCRIPTION = re.compile(r"- Description: \(TLS1\.3-X\.509\)-\(ECDHE-([\w-]+)\)-"
                         r"\(([\w-]+)\)-\(([\w-]+)\)")


def priority(group: str, suite: str) -> str:
    return (f"{TLS13_ONLY}:-GROUP-ALL:+{GNUTLS_GROUP[group]}"
            f":-CIPHER-ALL:+{GNUTLS_SUITE[suite]}")


def description(proc: PeerProcess) -> tuple[str, str, str]:
    """(group, signature, cipher) from GnuTLS's one-line session description."""
    found = proc.wait_for(DESCRIPTION.pattern)
    group, scheme, cipher = (g.decode() for g in found.groups())
    return group, scheme, cipher


def expected_description(group: str, suite: str, kind: str) -> tuple[str, str, str]:
    return (GNUTLS_GROUP[group].removeprefix("GROUP-"), GNUTLS_SCHEME[kind],
            GNUTLS_SUITE[suite])


def gnutls_cli(peers: Peers, pki: PKI, port: int, *args: str) -> PeerProcess:
    return peers.start(["gnutls-cli", "--x509cafile", pki.root_pem, "-p", str(port),
                        "--sni-hostname", "localhost", "--verify-hostname", "localhost",
                        *args, "127.0.0.1"])


@pytest.mark.parametrize(("kind", "group", "suite"), ROWS, ids=ROW_IDS)
def test_tlskit_client_to_gnutls_serv(peers: Peers, pki: PKI, kind: str, group: str,
                                      suite: str) -> None:
    proc, port = peers.gnutls_server(pki, kind, "--echo", "--priority", priority(group, suite))
    pump = Pump.connect(pki.client_config(groups=[group]), port)
    try:
        hc = pump.handshake()
        for i in range(3):
            line = f"line {i} to gnutls over {group}\n".encode()
            assert pump.echo_roundtrip(line) == line
        pump.close()
        assert pump.wait_closed() == ConnectionClosed(None)
    finally:
        pump.dispose()
    assert (hc.version, hc.group.name, hc.cipher_suite.name, hc.signature_scheme.name) == (
        "TLSv1.3", group, suite, SCHEME_FOR_CERT[kind])
    assert description(proc) == expected_description(group, suite, kind)


@pytest.mark.parametrize(("kind", "group", "suite"), ROWS, ids=ROW_IDS)
def test_gnutls_cli_to_tlskit_server(peers: Peers, pki: PKI, kind: str, group: str,
                                     suite: str) -> None:
    def body(pump: Pump) -> tuple[object, int]:
        echoed = echo_until_close(pump)
        return pump.conn.handshake_complete, echoed

    server = peers.thread(tlskit_server(pki.server_config(kind), body))
    client = gnutls_cli(peers, pki, server.port, "--priority", priority(group, suite))
    client.wait_for("Handshake was completed")
    client.write(b"hello tlskit\n")
    client.wait_for("hello tlskit\n")
    client.close_stdin()  # gnutls-cli sends close_notify; tlskit answers with its own
    [(hc, echoed)] = server.join()
    assert client.wait() == 0, client.describe()
    assert (hc.version, hc.group.name, hc.cipher_suite.name, hc.signature_scheme.name) == (
        "TLSv1.3", group, suite, SCHEME_FOR_CERT[kind])
    assert echoed == len(b"hello tlskit\n")
    assert "The certificate is trusted" in client.stdout
    assert description(client) == expected_description(group, suite, kind)
    assert "Peer has closed the GnuTLS connection" in client.stdout


def test_key_update_by_tlskit_client_gnutls_serv(peers: Peers, pki: PKI) -> None:
    proc, port = peers.gnutls_server(pki, "ed25519", "--echo", "--priority", TLS13_ONLY,
                                     "-d", "4")
    pump = Pump.connect(pki.client_config(), port)
    try:
        pump.handshake()
        assert pump.echo_roundtrip(b"before\n") == b"before\n"
        pump.key_update(request_peer_update=True)
        assert pump.echo_roundtrip(b"after\n") == b"after\n"
        assert pump.key_updates_received() == [KeyUpdated(peer_requested_update=False)]
        pump.close()
        pump.wait_closed()
    finally:
        pump.dispose()
    proc.wait_for(r"received TLS 1\.3 key update \(1\)", stream="stderr")
    proc.wait_for(r"sending key update \(0\)", stream="stderr")


def test_key_update_by_gnutls_cli(peers: Peers, pki: PKI) -> None:
    """gnutls-cli's ^rekey^ updates its keys and asks tlskit to update too."""

    def body(pump: Pump) -> list[KeyUpdated]:
        echo_until_close(pump)
        return pump.key_updates_received()

    server = peers.thread(tlskit_server(pki.server_config("rsa2048"), body))
    client = gnutls_cli(peers, pki, server.port, "--priority", TLS13_ONLY,
                        "--inline-commands", "-d", "4")
    client.wait_for("Handshake was completed")
    client.write(b"before\n")
    client.wait_for("before\n")
    client.write(b"^rekey^\n")
    client.wait_for("Rekey was completed")
    client.write(b"after\n")
    client.wait_for("after\n")
    client.close_stdin()
    assert server.join() == [[KeyUpdated(peer_requested_update=True)]]
    assert client.wait() == 0, client.describe()
    client.wait_for(r"sending key update \(1\)", stream="stderr")
    client.wait_for(r"received TLS 1\.3 key update \(0\)", stream="stderr")


# --------------------------------------------------------------------------- record_size_limit


def test_record_size_limit_from_gnutls_serv(peers: Peers, pki: PKI) -> None:
    """gnutls-serv --recordsize 512 advertises record_size_limit (RFC 8449): tlskit must
    cut what it sends into records GnuTLS accepts (it rejects larger ones)."""
    _proc, port = peers.gnutls_server(pki, "ec256", "--echo", "--priority", TLS13_ONLY,
                                     "--recordsize", "512")
    pump = Pump.connect(pki.client_config(), port)
    try:
        pump.handshake()
        assert pump.conn.max_fragment == 512
        line = b"w" * 4000 + b"\n"
        assert pump.echo_roundtrip(line) == line
        pump.close()
        assert pump.wait_closed() == ConnectionClosed(None)
    finally:
        pump.dispose()


def test_record_size_limit_from_gnutls_cli(peers: Peers, pki: PKI) -> None:
    greeting = b"g" * 4000 + b"\n"

    def body(pump: Pump) -> int:
        pump.handshake()
        limit = pump.conn.max_fragment
        pump.send(greeting)
        echo_until_close(pump)
        return limit

    server = peers.thread(tlskit_server(pki.server_config("ec384"), body))
    client = gnutls_cli(peers, pki, server.port, "--priority", TLS13_ONLY,
                        "--recordsize", "512")
    client.wait_for(greeting)
    client.close_stdin()
    assert server.join() == [512]
    assert client.wait() == 0, client.describe()


def test_alert_from_gnutls_cli_rejecting_certificate(peers: Peers, pki: PKI) -> None:
    """gnutls-cli refuses tlskit's certificate (wrong host name); its bad_certificate
    alert, protected by its handshake key, reaches tlskit as such."""

    server = peers.thread(tlskit_server(pki.server_config("ec256"), Pump.handshake_error))
    client = peers.start(["gnutls-cli", "--x509cafile", pki.root_pem, "-p", str(server.port),
                          "--priority", TLS13_ONLY, "--sni-hostname", "localhost",
                          "--verify-hostname", "wrong.example", "127.0.0.1"])
    [error] = server.join()
    assert client.wait() != 0
    assert "Error in the certificate" in client.stderr
    assert isinstance(error, AlertReceived), repr(error)
    assert error.alert == AlertDescription.bad_certificate
