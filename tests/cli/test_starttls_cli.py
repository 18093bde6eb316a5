"""`tlskit connect --starttls PROTO` against `tlskit serve --starttls PROTO` for every
protocol, and their one-line errors against raw sockets playing the protocol's plaintext:
a server without STARTTLS, a server (or MITM) injecting a reply after the go-ahead, a
client pipelining commands after STARTTLS."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tlskit.io import STARTTLS_PROTOCOLS

from .helpers import LocalhostPKI
from .test_connect import one_error_line, tlskit


class StartTLSServe:
    """`tlskit serve --starttls PROTO --port 0`, its stderr (the connection log) in a file;
    PROTO "" is a plain TLS server (`--echo`), TLS from the first byte."""

    def __init__(self, protocol: str, pki: LocalhostPKI, tmp_path: Path) -> None:
        env = {**os.environ, "TLSKIT_STATE_DIR": str(tmp_path / "state")}
        self.log = tmp_path / f"serve-{protocol or 'tls'}.log"
        self._err = self.log.open("w")
        mode = ["--starttls", protocol] if protocol else ["--echo"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tlskit", "serve", "--port", "0", *mode,
             "--cert", str(pki.cert), "--key", str(pki.key)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._err, text=True,
            env=env)
        assert self.proc.stdout is not None
        self.first_line = self.proc.stdout.readline()
        match = re.fullmatch(rf"listening on {protocol or 'https'}://127\.0\.0\.1:(\d+)/\n",
                             self.first_line)
        assert match, (self.first_line, self.log.read_text())
        self.port = int(match.group(1))
        self.banner = [self.proc.stdout.readline()]
        while self.banner[-1] and not self.banner[-1].startswith("Ctrl-C to stop."):
            self.banner.append(self.proc.stdout.readline())

    def wait_for_log(self, pattern: str) -> str:
        deadline = time.monotonic() + 30
        while not (found := re.search(pattern, self.log.read_text())):
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, (pattern, self.log.read_text())
            time.sleep(0.01)  # a poll interval
        return found.group(0)

    def close(self) -> None:
        self.proc.terminate()
        assert self.proc.wait(15) == 0
        self._err.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LocalhostPKI:
    return LocalhostPKI.create(tmp_path_factory.mktemp("starttls"), "localhost")


@pytest.fixture
def serve(pki: LocalhostPKI, tmp_path: Path) -> Iterator[Callable[[str], StartTLSServe]]:
    started: list[StartTLSServe] = []

    def start(protocol: str) -> StartTLSServe:
        server = StartTLSServe(protocol, pki, tmp_path)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.mark.parametrize("protocol", STARTTLS_PROTOCOLS)
def test_connect_starttls_against_serve_starttls(serve: Callable[[str], StartTLSServe],
                                                 pki: LocalhostPKI, protocol: str) -> None:
    server = serve(protocol)
    proc = tlskit(f"127.0.0.1:{server.port}", "--starttls", protocol, "--cafile",
                  str(pki.root), "--servername", "localhost", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["starttls"] == protocol
    assert summary["verification"]["ok"] is True
    assert summary["peer_certificates"][0]["subject"] == "CN=localhost"
    server.wait_for_log(r"127\.0\.0\.1:\d+ TLSv1\.3 ")


def test_summary_and_banner_name_starttls(serve: Callable[[str], StartTLSServe],
                                          pki: LocalhostPKI) -> None:
    server = serve("smtp")
    assert server.banner[-2].startswith("mode: smtp with STARTTLS (plain-text greeting, then "
                                        "TLS; e.g. openssl s_client -starttls smtp -connect "
                                        f"127.0.0.1:{server.port})")
    proc = tlskit(f"127.0.0.1:{server.port}", "--starttls", "smtp", "--cafile",
                  str(pki.root), "--servername", "localhost")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"STARTTLS      smtp: switched to TLS after the plain-text exchange *│",
                     proc.stdout)
    assert json.loads(tlskit(f"127.0.0.1:{server.port}", "--starttls", "smtp", "--cafile",
                             str(pki.root), "--servername", "localhost", "--json").stdout
                      )["port_chosen"] is False


def test_summary_says_the_port_starttls_chose(serve: Callable[[str], StartTLSServe],
                                              pki: LocalhostPKI) -> None:
    """The summary of a connection whose port --starttls chose says so (rendered from a
    real connection's JSON: the registered ports cannot be bound for a test)."""
    import io

    from rich.console import Console

    from tlskit.cli.render import render_connect

    server = serve("imap")
    proc = tlskit(f"127.0.0.1:{server.port}", "--starttls", "imap", "--cafile",
                  str(pki.root), "--servername", "localhost", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    summary["port_chosen"] = True
    out = io.StringIO()
    render_connect(summary, Console(file=out, width=300, no_color=True))
    assert (f"imap: switched to TLS after the plain-text exchange (port {server.port}: "
            "imap's port, as HOST gave none)") in out.getvalue()


def test_an_ipv6_host_is_written_in_brackets(serve: Callable[[str], StartTLSServe],
                                            pki: LocalhostPKI) -> None:
    """``::1:25`` reads as an address with no port; the summary, like the error lines,
    writes ``[::1]:25`` (a real connection's JSON, its host then made an IPv6 one: the
    test machine may have no IPv6 loopback)."""
    import errno
    import io

    from rich.console import Console

    from tlskit.cli.conventions import listen_error
    from tlskit.cli.render import render_connect

    server = serve("smtp")
    proc = tlskit(f"127.0.0.1:{server.port}", "--starttls", "smtp", "--cafile",
                  str(pki.root), "--servername", "localhost", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    summary["host"] = "::1"
    out = io.StringIO()
    render_connect(summary, Console(file=out, width=300, no_color=True))
    assert f"[::1]:{server.port} (" in out.getvalue()
    assert listen_error("::1", 25, OSError(errno.EADDRINUSE, "in use")).startswith(
        "cannot listen on [::1]:25")


def test_serve_refuses_commands_pipelined_after_starttls(
        serve: Callable[[str], StartTLSServe]) -> None:
    server = serve("smtp")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        me = sock.getsockname()[1]
        assert sock.recv(4096) == b"220 localhost ESMTP tlskit\r\n"
        sock.sendall(b"STARTTLS\r\nRCPT TO:<victim@example>\r\n")
        answers = b""
        while data := sock.recv(4096):
            answers += data
    assert answers == b"554 5.5.1 Error: commands pipelined after STARTTLS; closing\r\n"
    assert server.wait_for_log(r"127\.0\.0\.1:\d+ STARTTLS failed: .*") == (
        f"127.0.0.1:{me} STARTTLS failed: 127.0.0.1:{me} sent 26 byte(s) after 'STARTTLS' "
        f"before the TLS handshake ('RCPT TO:<victim@example>'): they were not protected by "
        f"TLS (STARTTLS injection, CVE-2011-0411); refused, closing the connection")


def plaintext_server(answers: list[bytes]) -> tuple[int, threading.Thread, socket.socket]:
    """A raw SMTP server: each answer after one line from the client (the first at once)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(30)
            reader = conn.makefile("rb")
            for i, answer in enumerate(answers):
                if i:
                    reader.readline()
                conn.sendall(answer)
            while conn.recv(4096):
                pass
            reader.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread, listener


@pytest.mark.parametrize(("answers", "told"), [
    ([b"220 mx ESMTP\r\n", b"250-mx\r\n250 PIPELINING\r\n"],
     "STARTTLS (smtp) failed: 127.0.0.1:{port} does not offer STARTTLS (its EHLO reply "
     "lists: PIPELINING); it cannot be reached over TLS on this port (try its TLS port, 465 "
     "for submission)"),
    ([b"220 mx ESMTP\r\n", b"250-mx\r\n250 STARTTLS\r\n",
      b"220 go ahead\r\n250 injected\r\n"],
     "STARTTLS (smtp) failed: 127.0.0.1:{port} sent 14 byte(s) of plaintext after agreeing "
     "to start TLS ('250 injected'): they would have been read as if TLS protected them "
     "(STARTTLS injection, CVE-2011-0411); refusing the connection"),
])
def test_connect_starttls_errors_are_one_line(answers: list[bytes], told: str) -> None:
    port, thread, listener = plaintext_server(answers)
    with listener:
        line = one_error_line(tlskit(f"127.0.0.1:{port}", "--starttls", "smtp"))
        thread.join(30)
    assert line == "tlskit connect: " + told.format(port=port)


def test_connect_starttls_json_error_has_no_alert() -> None:
    """TLS never started: the JSON error object names no alert."""
    port, thread, listener = plaintext_server([b"554 5.7.1 go away\r\n"])
    with listener:
        proc = tlskit(f"127.0.0.1:{port}", "--starttls", "smtp", "--json")
        thread.join(30)
    assert proc.returncode == 1
    error = json.loads(proc.stdout)["error"]
    assert error["message"] == (f"STARTTLS (smtp) failed: 127.0.0.1:{port} answered the "
                                "connection (its greeting) with '554 5.7.1 go away' (not "
                                "220): is this an SMTP server?")
    assert "alert" not in error


def test_connect_starttls_timeout_names_the_exchange() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts, never greets
        port = listener.getsockname()[1]
        line = one_error_line(tlskit(f"127.0.0.1:{port}", "--starttls", "imap",
                                     "--timeout", "0.5"))
    assert line == (f"tlskit connect: timed out during the imap STARTTLS exchange with "
                    f"127.0.0.1:{port} (after 0.5 s); a port that speaks TLS from the start "
                    "sends no greeting: if this is one, leave out --starttls")


@pytest.mark.parametrize(("served", "asked", "told"), [
    ("imap", "smtp", "STARTTLS (smtp) failed: 127.0.0.1:{port} answered '* OK [CAPABILITY "
     "IMAP4rev1 STARTTLS LOGINDISABLED] tlskit ready', which is not an SMTP/FTP reply; that "
     "is IMAP's greeting: try --starttls imap"),
    ("smtp", "pop3", "STARTTLS (pop3) failed: 127.0.0.1:{port} greeted with '220 localhost "
     "ESMTP tlskit': is this a POP3 server? That is SMTP's greeting: try --starttls smtp"),
    ("pop3", "imap", "STARTTLS (imap) failed: 127.0.0.1:{port} greeted with '+OK tlskit "
     "ready': is this an IMAP server? That is POP3's greeting: try --starttls pop3"),
    ("", "postgres", "STARTTLS (postgres) failed: 127.0.0.1:{port} answered SSLRequest with "
     "b'\\x15', not 'S' or 'N': is this a PostgreSQL server? That byte starts a TLS record: "
     "this port speaks TLS, leave out --starttls"),
    ("", "smtp", "timed out during the smtp STARTTLS exchange with 127.0.0.1:{port} (after "
     "1 s); a port that speaks TLS from the start sends no greeting: if this is one, leave "
     "out --starttls"),
])
def test_connect_starttls_wrong_protocol_names_the_right_one(
        serve: Callable[[str], StartTLSServe], served: str, asked: str, told: str) -> None:
    """--starttls naming another protocol than the server's, or given for a TLS port: the
    one line says what to type instead."""
    server = serve(served)
    line = one_error_line(tlskit(f"127.0.0.1:{server.port}", "--starttls", asked,
                                 "--timeout", "1"))
    assert line == "tlskit connect: " + told.format(port=server.port)


def test_unknown_starttls_protocol_is_a_usage_error() -> None:
    proc = tlskit("127.0.0.1:25", "--starttls", "ldap")
    assert proc.returncode == 2
    assert "argument --starttls: invalid choice: 'ldap'" in proc.stderr


@pytest.mark.parametrize(("protocol", "port"), [
    ("smtp", 25), ("imap", 143), ("pop3", 110), ("ftp", 21), ("postgres", 5432),
    ("xmpp", 5222)])
def test_connect_starttls_without_port_dials_the_protocols_port(protocol: str,
                                                                 port: int) -> None:
    """HOST without a port and --starttls PROTO dials PROTO's registered port, not 443,
    and says so: the refusal names it. (A machine that does run such a server on
    127.0.0.1, e.g. a PostgreSQL on 5432, still shows the port dialled in the error.)"""
    line = one_error_line(tlskit("127.0.0.1", "--starttls", protocol, "--timeout", "5"))
    with socket.socket() as probe:
        listening = probe.connect_ex(("127.0.0.1", port)) == 0
    if listening:
        assert f"127.0.0.1:{port}" in line, line
    else:
        assert line == (f"tlskit connect: connection refused by 127.0.0.1:{port} "
                        f"({protocol}'s port, as HOST gave none)")


def test_connect_starttls_with_port_keeps_it_and_says_nothing_more() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    line = one_error_line(tlskit(f"127.0.0.1:{port}", "--starttls", "smtp"))
    assert line == f"tlskit connect: connection refused by 127.0.0.1:{port}"


def test_serve_starttls_with_echo_is_a_usage_error() -> None:
    """--echo was silently ignored under --starttls (the protocol's dialog follows the
    handshake): one line, exit status 2, before anything listens."""
    proc = subprocess.run([sys.executable, "-m", "tlskit", "serve", "--port", "0",
                           "--starttls", "smtp", "--echo"], capture_output=True, text=True,
                          timeout=20, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        "tlskit serve: --echo and --starttls smtp both say what follows the handshake (an "
        "echo, or smtp's own dialog): give one or the other\n")

