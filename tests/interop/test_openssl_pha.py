"""Post-handshake client authentication (RFC 8446 4.6.2) against `openssl`, both ways.

`s_client -enable_pha -cert -key` answers a tlskit server's request_client_certificate();
a tlskit client with a certificate answers `s_server`'s request, made by typing ``c`` on
its stdin (SSL_verify_client_post_handshake), and s_server's -trace shows the messages.
"""

from __future__ import annotations

import pytest

from tlskit import ClientCertificateReceived

from ..support.pump import Pump, echo_until_close, tlskit_server
from .conftest import PKI, Peers
from .helpers import trace_summary


def test_s_client_enable_pha_answers_tlskit_server(peers: Peers, pki: PKI) -> None:
    _issued, files = pki.client_cert("carol", "ec256")

    def body(pump: Pump) -> tuple[list[str], list[str]]:
        hc = pump.handshake()
        pump.conn.request_client_certificate()
        got = pump.wait_event(ClientCertificateReceived, "the client's certificate")
        pump.send(b"hello carol\n")
        echo_until_close(pump)
        return ([c.subject.rfc4514_string() for c in hc.peer_certificates],
                [c.subject.rfc4514_string() for c in got[0].peer_certificates])

    config = pki.server_config("ec256", client_trust_anchors=[pki.root])
    server = peers.thread(tlskit_server(config, body))
    client = peers.openssl_client(pki, server.port, "-enable_pha", "-cert", str(files.leaf),
                                  "-cert_chain", str(files.chain), "-key", str(files.key),
                                  "-trace")
    client.wait_for("hello carol")
    client.close_stdin()
    [(during, after)] = server.join()
    assert client.wait() == 0, client.describe()
    assert during == []  # nothing asked in the handshake
    assert after[0] == "CN=carol"
    summary = trace_summary(client.stdout)
    request = summary.index("Received CertificateRequest")
    assert summary[request + 1:request + 4] == [
        "Sent Certificate", "Sent CertificateVerify", "Sent Finished"], summary


@pytest.mark.parametrize("verify", [[], ["-verify", "1"]], ids=["pha-only", "verify-1"])
def test_tlskit_client_answers_s_server_post_handshake_request(
        peers: Peers, pki: PKI, verify: list[str]) -> None:
    issued, _files = pki.client_cert("dave", "ec256")
    proc, port = peers.openssl_server(pki, "ec256", *verify, "-CAfile", str(pki.root_pem),
                                      "-verify_return_error", "-trace")
    config = pki.client_config(issued)
    pump = Pump.connect(config, port)
    try:
        pump.handshake()
        pump.send(b"before\n")
        proc.wait_for("before")
        mark = proc.mark()
        proc.write(b"c\n")  # s_server: SSL_verify_client_post_handshake
        proc.wait_for("SSL_do_handshake -> 1", since=mark)
        pump.run_until(lambda: "Received Finished" in trace_summary(proc.text_since(mark)),
                       "the answer to reach s_server")
        pump.send(b"after\n")
        proc.wait_for("after", since=mark)
        pump.close()
        pump.wait_closed()
    finally:
        pump.dispose()
    summary = trace_summary(proc.text_since(mark))
    request = summary.index("Sent CertificateRequest")
    assert summary[request + 1:request + 4] == [
        "Received Certificate", "Received CertificateVerify", "Received Finished"], summary
    assert not [s for s in summary if "Alert(" in s and "close notify" not in s], summary
    assert "verify error" not in proc.text_since(mark)
