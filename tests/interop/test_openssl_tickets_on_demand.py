"""TLS 1.3 session tickets sent on demand (`TLSSocket.send_session_ticket`, as OpenSSL's
SSL_new_session_ticket) to `openssl s_client`, which resumes with the one it got."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from tlskit import ServerConfig, ServerConnection
from tlskit.io import TLSSocket

from ..support.peers import require_binary
from ..support.pump import ServerThread
from .conftest import PKI, Peers


def _s_client(pki: PKI, port: int, *args: str | Path) -> str:
    """One `openssl s_client -tls1_3` run that sends a line and reads until the server's
    close_notify (-ign_eof), so a ticket sent after the line lands in -sess_out."""
    proc = subprocess.run(
        [require_binary("openssl"), "s_client", "-tls1_3", "-connect", f"127.0.0.1:{port}",
         "-servername", "localhost", "-verify_hostname", "localhost", "-CAfile",
         str(pki.root_pem), "-verify_return_error", "-ign_eof", *[str(a) for a in args]],
        input=b"user alice\n", capture_output=True, timeout=30, check=False)
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, out + proc.stderr.decode(errors="replace")
    return out


def _on_demand_server(config: ServerConfig, count: int) -> ServerThread:
    """A tlskit.io server: it reads the client's line (the application authenticating
    the user, say), then sends one ticket, answers and closes."""

    def handle(sock: socket.socket) -> tuple[bool, bool]:
        tls = TLSSocket(sock, ServerConnection(config), server_side=True,
                        handshake_timeout=30)
        sock.settimeout(30)
        try:
            line = b""
            while not line.endswith(b"\n"):
                chunk = tls.recv(1024)
                assert chunk, "the client closed before its line"
                line += chunk
            assert line == b"user alice\n"
            sent = tls.send_session_ticket()
            tls.sendall(b"welcome\n")
            info = tls.handshake_info
            assert info is not None
            return info.resumed, sent
        finally:
            tls.close()

    return ServerThread(handle, count=count)


def test_s_client_resumes_with_the_ticket_sent_on_demand(peers: Peers, pki: PKI,
                                                         tmp_path: Path) -> None:
    """automatic_tickets=False: the one ticket s_client gets is the one the server sent
    after reading its line; -sess_in resumes with it ("Reused, TLSv1.3")."""
    config = pki.server_config(session_tickets=1, automatic_tickets=False)
    server = peers.thread(_on_demand_server(config, count=2))
    sess = tmp_path / "sess.pem"
    first = _s_client(pki, server.port, "-sess_out", sess)
    assert "New, TLSv1.3" in first and "welcome" in first
    assert first.count("Post-Handshake New Session Ticket arrived") == 1, first
    second = _s_client(pki, server.port, "-sess_in", sess)
    assert "Reused, TLSv1.3" in second, second
    assert server.join() == [(False, True), (True, True)]
