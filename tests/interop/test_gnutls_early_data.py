"""0-RTT and post-handshake authentication against GnuTLS (`gnutls-cli`)."""

from __future__ import annotations

from tlskit import ClientCertificateReceived, EarlyDataReceived

from ..support.pump import Pump, echo_until_close, tlskit_server
from .conftest import PKI, Peers
from .test_gnutls import gnutls_cli

EARLY = b"early hello from gnutls\n"


def test_gnutls_cli_early_data_accepted_by_tlskit_server(peers: Peers, pki: PKI) -> None:
    def body(pump: Pump) -> tuple[bool, bytes]:
        hc = pump.handshake()  # (the tickets follow our Finished at once)
        echo_until_close(pump)
        early = b"".join(e.data for e in pump.events if isinstance(e, EarlyDataReceived))
        return hc.resumed, early

    config = pki.server_config("ec256", max_early_data_size=16384)
    server = peers.thread(tlskit_server(config, body, count=2))
    early_file = pki.directory / f"gnutls-early-{server.port}.txt"
    early_file.write_bytes(EARLY)
    client = gnutls_cli(peers, pki, server.port, "--resume", "--waitresumption",
                        f"--earlydata={early_file}")
    client.wait_for("This is a resumed session")
    client.close_stdin()
    assert client.wait() == 0, client.describe()
    assert server.join() == [(False, b""), (True, EARLY)]


def test_gnutls_cli_post_handshake_auth_answers_tlskit_server(peers: Peers, pki: PKI) -> None:
    _issued, files = pki.client_cert("erin", "ec256")

    def body(pump: Pump) -> str:
        pump.handshake()
        pump.conn.request_client_certificate()
        got = pump.wait_event(ClientCertificateReceived, "the client's certificate")
        pump.send(b"hello erin\n")
        echo_until_close(pump)
        return str(got[0].peer_certificates[0].subject.rfc4514_string())

    config = pki.server_config("ec256", client_trust_anchors=[pki.root])
    server = peers.thread(tlskit_server(config, body))
    client = gnutls_cli(peers, pki, server.port, "--post-handshake-auth",
                        "--x509certfile", str(files.fullchain), "--x509keyfile", str(files.key))
    client.wait_for("hello erin")
    client.close_stdin()
    assert client.wait() == 0, client.describe()
    assert server.join() == ["CN=erin"]
