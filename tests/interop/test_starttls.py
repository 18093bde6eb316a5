"""STARTTLS against real peers on 127.0.0.1: `openssl s_client -starttls`, `gnutls-cli
--starttls-proto` and Python's stdlib mail/FTP clients (with the stdlib `ssl`) against
`tlskit serve --starttls`; `tlskit connect --starttls smtp` and `tlskit.connect` against
aiosmtpd (a real SMTP server requiring STARTTLS, with an stdlib ssl context)."""

from __future__ import annotations

import asyncio
import ftplib
import imaplib
import poplib
import smtplib
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP as AioSMTP

import tlskit
from tlskit.io import STARTTLS_PROTOCOLS

from ..support.peers import require_binary
from ..support.tlskit_cli import ServeProcess, connect_starttls_json
from .conftest import PKI

pytestmark = pytest.mark.interop


@pytest.fixture
def serve(pki: PKI, tmp_path: Path) -> Iterator[type]:
    """`tlskit serve --starttls PROTO` with the PKI's localhost/127.0.0.1 leaf."""
    started: list[ServeProcess] = []
    files = pki.files["ec256"]

    def start(protocol: str) -> ServeProcess:
        server = ServeProcess("--starttls", protocol, "--cert", str(files.fullchain),
                              "--key", str(files.key), state=tmp_path / "state")
        started.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in started:
        server.close()


def client_context(pki: PKI) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.root_pem))  # verifies chain and name
    return ctx


@pytest.mark.parametrize("protocol", STARTTLS_PROTOCOLS)
def test_openssl_s_client_starttls(serve: type, pki: PKI, protocol: str) -> None:
    server = serve(protocol)
    proc = subprocess.run(
        [require_binary("openssl"), "s_client", "-starttls", protocol, "-connect",
         f"127.0.0.1:{server.port}", "-servername", "localhost", "-verify_hostname",
         "localhost", "-CAfile", str(pki.root_pem), "-verify_return_error"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verify return code: 0 (ok)" in proc.stdout
    assert "subject=CN=localhost" in proc.stdout.replace(" = ", "=")
    assert "New, TLSv1.3, Cipher is TLS_" in proc.stdout


@pytest.mark.parametrize("protocol", STARTTLS_PROTOCOLS)
def test_gnutls_cli_starttls_proto(serve: type, pki: PKI, protocol: str) -> None:
    server = serve(protocol)
    proc = subprocess.run(
        [require_binary("gnutls-cli"), f"--starttls-proto={protocol}", "-p", str(server.port),
         "--x509cafile", str(pki.root_pem), "--sni-hostname", "localhost",
         "--verify-hostname", "localhost", "127.0.0.1"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Handshake was completed" in out
    assert "The certificate is trusted." in out


def test_smtplib_starttls(serve: type, pki: PKI) -> None:
    server = serve("smtp")
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp:
        code, _ = smtp.ehlo()
        assert code == 250 and smtp.has_extn("starttls")
        code, _ = smtp.starttls(context=client_context(pki))
        assert code == 220
        assert smtp.sock.version() == "TLSv1.3"  # type: ignore[union-attr]
        smtp.ehlo()
        assert not smtp.has_extn("starttls")  # RFC 3207 4.2: not offered again over TLS
        assert smtp.noop()[0] == 250
        assert smtp.quit()[0] == 221


def test_imaplib_starttls(serve: type, pki: PKI) -> None:
    server = serve("imap")
    imap = imaplib.IMAP4("127.0.0.1", server.port, timeout=30)
    status, _ = imap.starttls(ssl_context=client_context(pki))
    assert status == "OK"
    assert imap.sock.version() == "TLSv1.3"  # type: ignore[attr-defined]
    assert "STARTTLS" not in imap.capabilities
    assert imap.noop()[0] == "OK"
    assert imap.logout()[0] == "BYE"


def test_poplib_stls(serve: type, pki: PKI) -> None:
    server = serve("pop3")
    pop = poplib.POP3("127.0.0.1", server.port, timeout=30)
    assert pop.stls(context=client_context(pki)).startswith(b"+OK")
    assert pop.sock.version() == "TLSv1.3"  # type: ignore[attr-defined]
    assert "STLS" not in pop.capa()
    assert pop.quit().startswith(b"+OK")


def test_ftplib_auth_tls(serve: type, pki: PKI) -> None:
    server = serve("ftp")
    ftp = ftplib.FTP_TLS(context=client_context(pki), timeout=30)
    ftp.connect("127.0.0.1", server.port)
    assert ftp.auth().startswith("234")
    assert ftp.sock.version() == "TLSv1.3"  # type: ignore[union-attr]
    assert ftp.voidcmd("NOOP").startswith("200")
    assert ftp.quit().startswith("221")


# -- tlskit's client against aiosmtpd ---------------------------------------------------


class _Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


@pytest.fixture
def aiosmtpd_server(pki: PKI) -> Iterator[int]:
    """aiosmtpd requiring STARTTLS (require_starttls), with an stdlib ssl context holding
    the PKI's leaf; on an OS-chosen port, its event loop in a thread."""
    files = pki.files["ec256"]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(files.fullchain), str(files.key))
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: list[asyncio.AbstractServer] = []

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> None:
            holder.append(await loop.create_server(
                lambda: AioSMTP(_Sink(), hostname="mx.localhost", require_starttls=True,
                                tls_context=ctx), "127.0.0.1", 0))
            ready.set()

        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30)
    yield holder[0].sockets[0].getsockname()[1]
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)
    holder[0].close()
    loop.close()


def test_tlskit_connect_starttls_smtp_against_aiosmtpd(aiosmtpd_server: int, pki: PKI) -> None:
    summary = connect_starttls_json(aiosmtpd_server, "smtp", pki.root_pem)
    assert summary["starttls"] == "smtp"
    assert summary["verification"]["ok"] is True
    assert summary["version"] == "TLSv1.3"


def test_library_starttls_smtp_against_aiosmtpd(aiosmtpd_server: int, pki: PKI) -> None:
    """After the handshake the SMTP session goes on over TLS: aiosmtpd no longer offers
    STARTTLS, and accepts a message it refused in plaintext (require_starttls)."""
    config = pki.client_config()
    with tlskit.connect("127.0.0.1", aiosmtpd_server, config, server_name="localhost",
                        starttls="smtp", timeout=30) as tls:
        reader = tls.makefile("rb")
        tls.sendall(b"EHLO client.localhost\r\n")
        lines = [reader.readline()]
        while lines[-1][3:4] == b"-":
            lines.append(reader.readline())
        assert lines[0].startswith(b"250-mx.localhost")
        assert not any(b"STARTTLS" in line for line in lines)
        tls.sendall(b"MAIL FROM:<a@localhost>\r\n")
        assert reader.readline().startswith(b"250")
        tls.sendall(b"QUIT\r\n")
        assert reader.readline().startswith(b"221")
        reader.close()
