"""Resumption against the `openssl` binary, both ways, and the stdlib `ssl` client: TLS 1.2
session IDs and RFC 5077 tickets (abbreviated handshakes), and TLS 1.3 resumption after a
client certificate."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest

from tlskit import HandshakeComplete, SessionTicketReceived
from tlskit.session import SessionCache

from ..support.peers import require_binary
from ..support.pump import Pump, tlskit_server
from .conftest import PKI, Peers, openssl_field


def _s_client(pki: PKI, port: int, *args: str | Path) -> str:
    """One `openssl s_client` run: it reads until the server's close_notify (-ign_eof),
    so a TLS 1.3 ticket sent after the handshake lands in -sess_out."""
    proc = subprocess.run(
        [require_binary("openssl"), "s_client", "-connect", f"127.0.0.1:{port}",
         "-servername", "localhost", "-verify_hostname", "localhost", "-CAfile",
         str(pki.root_pem), "-verify_return_error", "-ign_eof", *[str(a) for a in args]],
        input=b"", capture_output=True, timeout=30, check=False)
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, out + proc.stderr.decode(errors="replace")
    return out


def _server_body(pump: Pump) -> HandshakeComplete:
    """Handshake, one line, close: s_client then exits on our close_notify."""
    hc = pump.handshake()
    pump.send_and_close(b"bye\n")
    return hc


@pytest.mark.parametrize("tickets", [pytest.param(2, id="ticket"),
                                     pytest.param(0, id="session-id")])
def test_s_client_tls12_resumes_with_tlskit_server(peers: Peers, pki: PKI, tmp_path: Path,
                                                   tickets: int) -> None:
    """s_client -sess_out, then -sess_in: the second handshake is abbreviated ("Reused"),
    and tlskit reports it resumed."""
    server = peers.thread(tlskit_server(pki.server_config(session_tickets=tickets),
                                        _server_body, count=2))
    sess = tmp_path / "sess.pem"
    first = _s_client(pki, server.port, "-tls1_2", "-sess_out", sess)
    assert "New, TLSv1.2" in first
    if tickets:
        assert "TLS session ticket:" in first
    second = _s_client(pki, server.port, "-tls1_2", "-sess_in", sess)
    assert "Reused, TLSv1.2" in second, second
    results = server.join()
    assert [hc.resumed for hc in results] == [False, True]
    assert results[1].version == "TLSv1.2"


@pytest.mark.parametrize("ticket", [pytest.param(True, id="ticket"),
                                    pytest.param(False, id="session-id")])
def test_tlskit_client_tls12_resumes_with_s_server(peers: Peers, pki: PKI,
                                                   ticket: bool) -> None:
    """tlskit resumes a TLS 1.2 session s_server gave it: by ticket (the session_ticket
    extension), or by session ID (s_server -no_ticket), skipping the certificate."""
    args = ["-tls1_2"] + ([] if ticket else ["-no_ticket"])
    proc = peers.start(["openssl", "s_server", "-accept", "127.0.0.1:0",
                        "-cert", pki.files["ec256"].leaf, "-cert_chain", pki.files["ec256"].chain,
                        "-key", pki.files["ec256"].key, *args])
    port = int(proc.wait_for(rb"ACCEPT [^\n]*:(\d+)\r?\n").group(1))
    cache = SessionCache()
    config = pki.client_config(versions=["TLSv1.2"], session_cache=cache)
    hcs = []
    for word in (b"one\n", b"two\n"):
        mark = proc.mark()
        pump = Pump.connect(config, port)
        try:
            hcs.append(pump.handshake())
            pump.send(word)
            proc.wait_for(word.strip().decode(), since=mark)
            pump.close()
        finally:
            pump.dispose()
    assert [hc.resumed for hc in hcs] == [False, True]
    assert hcs[1].peer_certificates == hcs[0].peer_certificates  # the remembered chain
    events = [e for e in pump.events if isinstance(e, SessionTicketReceived)]
    assert events and events[0].session.tls12
    assert bool(events[0].session.ticket) == ticket


@pytest.mark.parametrize("version", ["1_3", "1_2"], ids=["tls13", "tls12"])
def test_s_client_mtls_resumes_and_reports_the_client(peers: Peers, pki: PKI,
                                                      tmp_path: Path, version: str) -> None:
    """With a client certificate: the ticket binds the client chain, so s_client's
    -sess_in resumes, and the resumed connection still reports the client certificate."""
    issued, files = pki.client_cert("alice")
    config = pki.server_config_requiring_a_client()
    server = peers.thread(tlskit_server(config, _server_body, count=2))
    sess = tmp_path / "sess.pem"
    label = f"TLSv{version.replace('_', '.')}"
    cert = ["-cert", files.leaf, "-cert_chain", files.chain, "-key", files.key]
    first = _s_client(pki, server.port, f"-tls{version}", *cert, "-sess_out", sess)
    assert f"New, {label}" in first
    second = _s_client(pki, server.port, f"-tls{version}", *cert, "-sess_in", sess)
    assert f"Reused, {label}" in second, second
    assert openssl_field(second, r"Verify return code: (\d+)") == "0"
    results = server.join()
    assert [hc.resumed for hc in results] == [False, True]
    assert results[1].peer_certificates[0] == issued.certificate


@pytest.mark.parametrize("tickets", [pytest.param(2, id="ticket"),
                                     pytest.param(0, id="session-id")])
def test_python_ssl_tls12_resumes_with_tlskit_server(peers: Peers, pki: PKI,
                                                     tickets: int) -> None:
    """The stdlib `ssl` client (OpenSSL 3) resumes a TLS 1.2 session by ticket or ID."""
    import socket
    import ssl

    server = peers.thread(tlskit_server(pki.server_config(session_tickets=tickets),
                                        _server_body, count=2))
    ctx = ssl.create_default_context(cafile=str(pki.root_pem))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    session = None
    reused = []
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
            assert tls.version() == "TLSv1.2"
            reused.append(tls.session_reused)
            assert tls.recv(16) == b"bye\n"
            session = tls.session
            with contextlib.suppress(OSError, ssl.SSLError):
                tls.unwrap()
    assert reused == [False, True]
    assert [hc.resumed for hc in server.join()] == [False, True]
