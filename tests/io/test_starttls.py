"""STARTTLS (`tlskit.starttls`, `tlskit.starttls_accept`, `tlskit.connect(starttls=)`):
both sides against each other for every protocol, and each side against a raw socket
that plays the other side's plaintext (the protocol itself, no TLS peer is mocked):
refusals of bytes sent after the go-ahead (STARTTLS injection, CVE-2011-0411), servers
that do not offer TLS, and the bounds on what is read."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tlskit
from tlskit import StartTLSError
from tlskit.io import STARTTLS_PROTOCOLS, TLSListener
from tlskit.io.preamble import MAX_COMMANDS, MAX_LINE, MAX_TOTAL, StartTLSServer

from ..support.pki import client_config, server_config

SSL_REQUEST = struct.pack("!II", 8, 80877103)


@contextmanager
def raw_server(script: Callable[[socket.socket], None]) -> Iterator[tuple[int, list[object]]]:
    """A listening socket on an OS-chosen port whose one connection runs ``script`` in a
    thread; yields the port and a list that gets the script's exception, if any."""
    errors: list[object] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def run() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(20)
                try:
                    script(conn)
                except Exception as exc:  # handed to the test, which checks it
                    errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        yield port, errors
        thread.join(20)
        assert not thread.is_alive()


def read_line(conn: socket.socket) -> bytes:
    """One line the client sent (byte by byte: nothing after it is consumed)."""
    line = b""
    while not line.endswith(b"\n"):
        byte = conn.recv(1)
        if not byte:
            raise ConnectionError(f"client closed after {line!r}")
        line += byte
    return line


def read_all(conn: socket.socket) -> bytes:
    chunks = []
    while data := conn.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


# What a server says, as (what the client must send first, or None, the server's answer):
# the last answer is the go-ahead.
DIALOGUES: dict[str, list[tuple[bytes | None, bytes]]] = {
    "smtp": [(None, b"220 mx ESMTP\r\n"),
             (b"EHLO [127.0.0.1]\r\n", b"250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n"),
             (b"STARTTLS\r\n", b"220 2.0.0 go ahead\r\n")],
    "imap": [(None, b"* OK IMAP ready\r\n"),
             (b"a1 CAPABILITY\r\n", b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n"),
             (b"a2 STARTTLS\r\n", b"a2 OK Begin TLS\r\n")],
    "pop3": [(None, b"+OK POP3 ready\r\n"),
             (b"CAPA\r\n", b"+OK\r\nUSER\r\nSTLS\r\n.\r\n"),
             (b"STLS\r\n", b"+OK go ahead\r\n")],
    "ftp": [(None, b"220-welcome\r\n to FTP\r\n220 ready\r\n"),
            (b"AUTH TLS\r\n", b"234 go ahead\r\n")],
}


def play(conn: socket.socket, dialogue: list[tuple[bytes | None, bytes]],
         last_extra: bytes = b"") -> None:
    for i, (expect, answer) in enumerate(dialogue):
        if expect is not None:
            assert read_line(conn) == expect
        conn.sendall(answer + (last_extra if i == len(dialogue) - 1 else b""))


def play_postgres(conn: socket.socket, answer: bytes) -> None:
    got = b""
    while len(got) < 8:
        got += conn.recv(8 - len(got))
    assert got == SSL_REQUEST
    conn.sendall(answer)


# -- both sides: tlskit.connect(starttls=) against starttls_accept + TLSListener ----------


@pytest.mark.parametrize("protocol", STARTTLS_PROTOCOLS)
def test_client_and_server_switch_to_tls(protocol: str) -> None:
    tls_listener = TLSListener(socket.socket(), server_config())

    def serve(conn: socket.socket) -> None:
        tlskit.starttls_accept(conn, protocol)
        tls = tls_listener.wrap_accepted(conn.dup(), conn.getpeername())
        with tls:
            tls.sendall(tls.recv(100).upper())

    with (
        raw_server(serve) as (port, errors),
        tlskit.connect("127.0.0.1", port, client_config(), server_name="localhost",
            starttls=protocol, timeout=20) as tls,
    ):
        tls.sendall(b"over tls")
        assert tls.recv(100) == b"OVER TLS"
        assert tls.version() in ("TLSv1.3", "TLSv1.2")
    tls_listener.socket.close()
    assert errors == []


@pytest.mark.parametrize("protocol", ["smtp", "imap", "pop3", "ftp"])
def test_client_follows_a_real_dialogue(protocol: str) -> None:
    """The raw script checks each command the client sends; afterwards the client's next
    bytes are its ClientHello (a TLS handshake record)."""
    seen: list[bytes] = []

    def script(conn: socket.socket) -> None:
        play(conn, DIALOGUES[protocol])
        seen.append(conn.recv(5))

    with (
        raw_server(script) as (port, errors),
        socket.create_connection(("127.0.0.1", port)) as sock,
    ):
        tlskit.starttls(sock, protocol)
        sock.sendall(b"\x16\x03\x01\x00\x00")  # what the caller's TLS would send next
    assert errors == []
    assert seen == [b"\x16\x03\x01\x00\x00"]


# -- STARTTLS injection, client side: bytes after the go-ahead ---------------------------


@pytest.mark.parametrize("protocol", ["smtp", "imap", "pop3", "ftp"])
def test_client_refuses_plaintext_after_the_go_ahead(protocol: str) -> None:
    """CVE-2011-0411 class: a server (or a man in the middle) that sends a reply after
    the go-ahead and before the handshake; the client would read it after the handshake
    as if TLS had protected it. The client refuses and sends no ClientHello."""
    after: list[bytes] = []

    def script(conn: socket.socket) -> None:
        play(conn, DIALOGUES[protocol], b"250 injected\r\n")
        after.append(read_all(conn))

    with raw_server(script) as (port, errors), pytest.raises(StartTLSError) as caught:
        tlskit.connect("127.0.0.1", port, client_config(), server_name="localhost",
                       starttls=protocol, timeout=20)
    assert str(caught.value) == (
        f"127.0.0.1:{port} sent 14 byte(s) of plaintext after agreeing to start TLS "
        f"('250 injected'): they would have been read as if TLS protected them (STARTTLS "
        f"injection, CVE-2011-0411); refusing the connection")
    assert errors == []
    assert after == [b""]  # no ClientHello went out


def test_postgres_client_refuses_bytes_after_s() -> None:
    """CVE-2021-23222 (libpq): bytes after the 'S' answer to SSLRequest."""
    with (
        raw_server(lambda conn: play_postgres(conn, b"SE\x00\x00\x00\x05x")) as (port, _),
        pytest.raises(StartTLSError, match=r"sent 6 byte\(s\) of plaintext after "
            r"agreeing to start TLS"),
    ):
        tlskit.connect("127.0.0.1", port, client_config(), server_name="localhost",
                       starttls="postgres", timeout=20)


XMPP_FEATURES = (b"<?xml version='1.0'?><stream:stream from='x' id='1' version='1.0' "
                 b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
                 b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                 b"<required/></starttls></stream:features>")


def read_until(conn: socket.socket, end: bytes) -> bytes:
    got = b""
    while not got.endswith(end):
        byte = conn.recv(1)
        if not byte:
            raise ConnectionError(f"client closed after {got!r}")
        got += byte
    return got


def test_xmpp_client_refuses_stanza_after_proceed() -> None:
    after: list[bytes] = []

    def script(conn: socket.socket) -> None:
        header = read_until(conn, b">")  # (the XML declaration)
        header += read_until(conn, b">")
        assert b"to='localhost'" in header
        conn.sendall(XMPP_FEATURES)
        assert read_until(conn, b"/>") == b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
        conn.sendall(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><message>hi</message>")
        after.append(read_all(conn))

    with (
        raw_server(script) as (port, errors),
        pytest.raises(StartTLSError) as caught,
    ):
        tlskit.connect("127.0.0.1", port, client_config(), server_name="localhost",
                       starttls="xmpp", timeout=20)
    assert str(caught.value).startswith(f"127.0.0.1:{port} sent 21 byte(s) of plaintext after "
                                        "agreeing to start TLS ('<message>hi</message>')")
    assert errors == []
    assert after == [b""]


def test_xmpp_server_refuses_stanza_pipelined_after_starttls() -> None:
    with raw_server(lambda conn: tlskit.starttls_accept(conn, "xmpp")) as (port, errors), \
            socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(20)
        sock.sendall(b"<stream:stream to='localhost' version='1.0' xmlns='jabber:client' "
                     b"xmlns:stream='http://etherx.jabber.org/streams'>")
        assert read_until(sock, b"</stream:features>").endswith(
            b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
            b"</stream:features>")
        sock.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><iq type='set'/>")
        answer = read_all(sock)
    assert answer == b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"
    assert len(errors) == 1
    assert "sent 16 byte(s) after '<starttls/>' before the TLS handshake" in str(errors[0])


def test_xmpp_server_without_starttls_is_named() -> None:
    def script(conn: socket.socket) -> None:
        read_until(conn, b">")
        read_until(conn, b">")
        conn.sendall(b"<stream:stream version='1.0'><stream:features><mechanisms/>"
                     b"</stream:features>")
        read_all(conn)

    with raw_server(script) as (port, errors), pytest.raises(StartTLSError) as caught:
        tlskit.connect("127.0.0.1", port, client_config(), starttls="xmpp", timeout=20)
    assert str(caught.value) == (f"127.0.0.1:{port} does not offer STARTTLS (its stream "
                                 f"features list no <starttls/>); try its direct-TLS port "
                                 f"(5223)")
    assert errors == []


# -- servers that do not offer TLS -----------------------------------------------------


REFUSALS = [
    ("smtp", [(None, b"220 mx ESMTP\r\n"),
              (b"EHLO [127.0.0.1]\r\n", b"250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n")],
     "{peer} does not offer STARTTLS (its EHLO reply lists: PIPELINING, SIZE); it cannot be "
     "reached over TLS on this port (try its TLS port, 465 for submission)"),
    ("smtp", [(None, b"554 no service\r\n")],
     "{peer} answered the connection (its greeting) with '554 no service' (not 220): is "
     "this an SMTP server?"),
    ("smtp", [(None, b"220 mx\r\n"), (b"EHLO [127.0.0.1]\r\n", b"250 STARTTLS\r\n")],
     "{peer} does not offer STARTTLS (its EHLO reply lists: nothing); it cannot be reached "
     "over TLS on this port (try its TLS port, 465 for submission)"),
    ("smtp", [(None, b"220 mx\r\n"), (b"EHLO [127.0.0.1]\r\n", b"250-mx\r\n250 STARTTLS\r\n"),
              (b"STARTTLS\r\n", b"454 4.7.0 TLS not available\r\n")],
     "{peer} answered STARTTLS with '454 4.7.0 TLS not available' (not 220)"),
    ("imap", [(None, b"* OK ready\r\n"),
              (b"a1 CAPABILITY\r\n", b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 OK\r\n")],
     "{peer} does not offer STARTTLS (its CAPABILITY lists: IMAP4REV1 AUTH=PLAIN); try its "
     "TLS port (993)"),
    ("imap", [(None, b"* PREAUTH welcome\r\n")],
     "{peer} greeted with '* PREAUTH welcome' (PREAUTH: the session is already "
     "authenticated in plaintext, STARTTLS is not allowed)"),
    ("pop3", [(None, b"+OK\r\n"), (b"CAPA\r\n", b"+OK\r\nUSER\r\n.\r\n")],
     "{peer} does not offer STLS (its CAPA lists: USER); try its TLS port (995)"),
    ("ftp", [(None, b"220 ftp\r\n"), (b"AUTH TLS\r\n", b"500 unknown command\r\n")],
     "{peer} answered AUTH TLS with '500 unknown command' (not 234): it does not offer FTP "
     "over TLS (RFC 4217)"),
]


@pytest.mark.parametrize(("protocol", "dialogue", "told"), REFUSALS)
def test_server_without_tls_is_named(protocol: str, dialogue: list[tuple[bytes | None, bytes]],
                                     told: str) -> None:
    with (
        raw_server(lambda conn: (play(conn, dialogue), read_all(conn))) as (port, errors),
        pytest.raises(StartTLSError) as caught,
    ):
        tlskit.connect("127.0.0.1", port, client_config(), starttls=protocol, timeout=20)
    assert str(caught.value) == told.format(peer=f"127.0.0.1:{port}")
    assert errors == []


def test_postgres_server_without_ssl_is_named() -> None:
    with (
        raw_server(lambda conn: play_postgres(conn, b"N")) as (port, _),
        pytest.raises(StartTLSError) as caught,
    ):
        tlskit.connect("127.0.0.1", port, client_config(), starttls="postgres")
    assert str(caught.value) == (f"127.0.0.1:{port} refused SSL (answered 'N' to "
                                 f"SSLRequest): the server has ssl = off")


def test_postgres_error_response_is_not_shown() -> None:
    """A server too old for SSL answers SSLRequest with an ErrorResponse: named as such,
    and its (unauthenticated, possibly forged) text is not repeated (CVE-2024-10977)."""
    forged = b"EFATAL please log in at http://evil.example/\x00"
    with (
        raw_server(lambda conn: play_postgres(conn, forged)) as (port, _),
        pytest.raises(StartTLSError) as caught,
    ):
        tlskit.connect("127.0.0.1", port, client_config(), starttls="postgres")
    assert str(caught.value) == (f"127.0.0.1:{port} answered SSLRequest with an error message "
                                 f"('E', not shown: it is unauthenticated): the server does "
                                 f"not support SSL (PostgreSQL before 7.1, or not PostgreSQL)")
    assert "evil" not in str(caught.value)


def test_ftp_greeting_may_start_with_120() -> None:
    """RFC 959 5.4: "120 ready in nnn minutes" may come before the 220 greeting."""
    dialogue = [(None, b"120 ready in 1 minute\r\n220 ready\r\n"),
                (b"AUTH TLS\r\n", b"234 go ahead\r\n")]
    with (
        raw_server(lambda conn: (play(conn, dialogue), read_all(conn))) as (port, errors),
        socket.create_connection(("127.0.0.1", port)) as sock,
    ):
        tlskit.starttls(sock, "ftp", timeout=20)
        sock.close()
    assert errors == []


def test_postgres_server_names_direct_ssl() -> None:
    """A ClientHello where SSLRequest should be (PostgreSQL 17's sslnegotiation=direct):
    the error says so, not "length 369295617"."""
    with raw_server(lambda conn: tlskit.starttls_accept(conn, "postgres")) as (port, errors), \
            pytest.raises((tlskit.TLSError, OSError)):
        tlskit.connect("127.0.0.1", port, client_config().replace(alpn_protocols=["postgresql"]),
                       server_name="localhost", timeout=20)
    assert len(errors) == 1
    assert "sent a TLS ClientHello without SSLRequest (direct SSL" in str(errors[0])


def test_smtp_reply_with_a_foreign_line_is_refused_at_once() -> None:
    """A greeting "220-" followed by a "554 " line is no SMTP reply (RFC 5321 4.2.1): named
    at once, not waited on until the deadline for a "220 " that never comes."""
    dialogue: list[tuple[bytes | None, bytes]] = [(None, b"220-mx\r\n554 go away\r\n")]
    started = time.monotonic()
    with (
        raw_server(lambda conn: (play(conn, dialogue), read_all(conn))) as (port, _),
        socket.create_connection(("127.0.0.1", port)) as sock,
        pytest.raises(StartTLSError) as caught,
    ):
        try:
            tlskit.starttls(sock, "smtp", timeout=10)
        finally:
            sock.close()
    assert time.monotonic() - started < 5
    assert str(caught.value) == (f"127.0.0.1:{port} sent '554 go away' within a 220 reply: "
                                 f"every line of an SMTP reply starts with its code (RFC "
                                 f"5321 4.2.1)")


# -- bounds ----------------------------------------------------------------------------


def test_overlong_line_is_refused() -> None:
    with (
        raw_server(lambda conn: (conn.sendall(b"220 " + b"x" * (2 * MAX_LINE)),
                                 read_all(conn))) as (port, _),
        socket.create_connection(("127.0.0.1", port)) as sock,
        pytest.raises(StartTLSError, match=f"a line longer than {MAX_LINE} bytes"),
    ):
        tlskit.starttls(sock, "smtp")


def test_endless_reply_is_refused() -> None:
    """A multi-line greeting that never ends: refused at MAX_TOTAL bytes, not buffered."""
    def flood(conn: socket.socket) -> None:
        try:
            for _ in range(MAX_TOTAL // 100 + 10):
                conn.sendall(b"220-" + b"y" * 94 + b"\r\n")
        except OSError:  # the client gave up and closed
            pass

    with (
        raw_server(flood) as (port, _), socket.create_connection(("127.0.0.1", port)) as sock,
        pytest.raises(StartTLSError, match=f"more than {MAX_TOTAL} bytes of "
            "plaintext before TLS"),
    ):
        tlskit.starttls(sock, "smtp")


def test_silent_server_times_out_in_total() -> None:
    """A server that trickles its greeting never finishing it: one deadline for the
    whole exchange, not per read."""
    done = threading.Event()

    def trickle(conn: socket.socket) -> None:
        while not done.is_set():
            conn.sendall(b"2")
            done.wait(0.05)  # a paced trickle, not a wait for anything

    with raw_server(trickle) as (port, _):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            start = time.monotonic()
            with pytest.raises(TimeoutError) as caught:
                tlskit.starttls(sock, "smtp", timeout=0.5)
            assert time.monotonic() - start < 5
        done.set()
    assert str(caught.value) == (f"127.0.0.1:{port} did not finish the STARTTLS exchange "
                                 f"within 0.5 s")


def test_unknown_protocol_is_a_value_error() -> None:
    a, b = socket.socketpair()
    with a, b, pytest.raises(ValueError, match="unknown STARTTLS protocol 'ldap'; one of: "
                                               "smtp, imap, pop3, ftp, postgres, xmpp"):
        tlskit.starttls(a, "ldap")


# -- STARTTLS injection, server side: client bytes pipelined after the command ----------


SERVER_INJECTIONS = [
    ("smtp", b"EHLO client\r\n", b"STARTTLS\r\nMAIL FROM:<evil@example>\r\n",
     b"554 5.5.1 Error: commands pipelined after STARTTLS; closing\r\n", 26, "'STARTTLS'",
     "'MAIL FROM:<evil@example>'"),
    ("imap", b"t1 CAPABILITY\r\n", b"t2 STARTTLS\r\nt3 LOGIN a b\r\n",
     b"* BYE commands pipelined after STARTTLS; closing\r\n", 14, "'t2 STARTTLS'",
     "'t3 LOGIN a b'"),
    ("pop3", b"CAPA\r\n", b"STLS\r\nUSER a\r\n",
     b"-ERR commands pipelined after STLS; closing\r\n", 8, "'STLS'", "'USER a'"),
    ("ftp", b"FEAT\r\n", b"AUTH TLS\r\nUSER a\r\n",
     b"421 commands pipelined after AUTH TLS; closing\r\n", 8, "'AUTH TLS'", "'USER a'"),
]


@pytest.mark.parametrize(("protocol", "first", "pipelined", "refusal", "count", "command",
                          "extra"), SERVER_INJECTIONS)
def test_server_refuses_commands_pipelined_after_starttls(
        protocol: str, first: bytes, pipelined: bytes, refusal: bytes, count: int,
        command: str, extra: str) -> None:
    """The client's bytes after its STARTTLS command came in plaintext: the server
    refuses (its error reply, then a close) instead of answering them after the
    handshake as if they had been protected."""
    with (
        raw_server(lambda conn: tlskit.starttls_accept(conn, protocol)) as (port, errors),
        socket.create_connection(("127.0.0.1", port)) as sock,
    ):
        sock.settimeout(20)
        client_port = sock.getsockname()[1]
        greeting = sock.recv(4096)
        sock.sendall(first)
        sock.sendall(pipelined)  # the STARTTLS command and more, in one segment
        answers = read_all(sock)
    assert greeting
    assert answers.endswith(refusal)
    assert b"Ready to start TLS" not in answers and b" OK Begin" not in answers
    assert len(errors) == 1 and isinstance(errors[0], StartTLSError)
    assert str(errors[0]) == (
        f"127.0.0.1:{client_port} sent {count} byte(s) after {command} before the "
        f"TLS handshake ({extra}): they were not protected by TLS (STARTTLS injection, "
        f"CVE-2011-0411); refused, closing the connection")


def test_postgres_server_refuses_bytes_after_ssl_request() -> None:
    """CVE-2021-23214 (PostgreSQL server): a startup packet sent with the SSLRequest,
    before the handshake, is refused: no 'S', the connection closes."""
    with (
        raw_server(lambda conn: tlskit.starttls_accept(conn, "postgres")) as (port, errors),
        socket.create_connection(("127.0.0.1", port)) as sock,
    ):
        sock.settimeout(20)
        sock.sendall(SSL_REQUEST + b"\x00\x00\x00\x09user")
        assert read_all(sock) == b""
    assert len(errors) == 1 and isinstance(errors[0], StartTLSError)
    assert "sent 8 byte(s) after 'SSLRequest' before the TLS handshake" in str(errors[0])


def test_postgres_server_answers_gssenc_with_n() -> None:
    """libpq tries GSSAPI encryption first (gssencmode=prefer): 'N', then SSLRequest."""
    with (
        raw_server(lambda conn: tlskit.starttls_accept(conn, "postgres")) as (port, errors),
        socket.create_connection(("127.0.0.1", port)) as sock,
    ):
        sock.settimeout(20)
        sock.sendall(struct.pack("!II", 8, 80877104))
        assert sock.recv(1) == b"N"
        sock.sendall(SSL_REQUEST)
        assert sock.recv(1) == b"S"
    assert errors == []


def test_server_answers_commands_before_starttls_and_quits() -> None:
    with (
        raw_server(lambda conn: tlskit.starttls_accept(conn, "smtp")) as (port, errors),
        socket.create_connection(("127.0.0.1", port)) as sock,
    ):
        sock.settimeout(20)
        sock.sendall(b"MAIL FROM:<a@b>\r\nQUIT\r\n")
        answers = read_all(sock)
    assert answers == (b"220 localhost ESMTP tlskit\r\n"
                       b"530 5.7.0 Must issue a STARTTLS command first\r\n"
                       b"221 2.0.0 Bye\r\n")
    assert len(errors) == 1
    assert str(errors[0]).endswith("left without starting TLS ('QUIT')")


# -- any bytes from the server: a STARTTLS error or success, never anything else -----------


@settings(max_examples=60, deadline=None)
@given(protocol=st.sampled_from(STARTTLS_PROTOCOLS),
       data=st.one_of(st.binary(max_size=300),
                      st.lists(st.sampled_from([b"220 ", b"220-", b"250-STARTTLS", b"250 ",
                                                b"* OK", b"+OK", b"a1 OK", b"a2 NO", b".",
                                                b"* CAPABILITY STARTTLS", b"STLS", b"234",
                                                b"S", b"N", b"\r\n", b"\n", b"\xff",
                                                b"<stream:stream>", b"<stream:features>",
                                                b"</stream:features>", b"<stream:error>",
                                                b"<starttls xmlns='urn:ietf:params:xml:ns:"
                                                b"xmpp-tls'>", b"<proceed xmlns='urn:ietf:"
                                                b"params:xml:ns:xmpp-tls'>", b"'", b"\"",
                                                b"<", b">", b"/>", b"</proceed>"]),
                               max_size=30).map(b"".join)))
def test_any_server_bytes_end_in_a_starttls_error(protocol: str, data: bytes) -> None:
    _peer_sends(data, lambda sock: tlskit.starttls(sock, protocol, timeout=5))


def _peer_sends(data: bytes, play: Callable[[socket.socket], None]) -> None:
    """``play`` on one end of a socket pair whose other end sends ``data`` and stops:
    it returns, or raises a `StartTLSError` with a message, nothing else."""
    a, b = socket.socketpair()
    with a, b:
        b.sendall(data)
        b.shutdown(socket.SHUT_WR)
        try:
            play(a)
        except StartTLSError as exc:
            assert str(exc)


@given(protocol=st.sampled_from(STARTTLS_PROTOCOLS),
       data=st.lists(st.sampled_from([b"EHLO x", b"STARTTLS", b"a STARTTLS", b"CAPA", b"STLS",
                                      b"AUTH TLS", b"QUIT", b"<stream:stream>", b"<starttls",
                                      b" xmlns='urn:ietf:params:xml:ns:xmpp-tls'", b"/>",
                                      b"</starttls>", b"'", b"<", b">", b"\r\n", b"\xff",
                                      SSL_REQUEST, b"\x16\x03\x01"]),
                     max_size=30).map(b"".join))
def test_any_client_bytes_end_in_a_starttls_error(protocol: str, data: bytes) -> None:
    _peer_sends(data, lambda sock: tlskit.starttls_accept(sock, protocol, timeout=5))


# -- XMPP: no regular expression rescans what a hostile peer sends ---------------------


@pytest.mark.parametrize("start, unit", [(b"", b"<starttls "), (b"", b"<stream:stream "),
                                         (b"<a b='", b"x>")])
def test_xmpp_server_reads_unclosed_tags_in_linear_time(start: bytes, unit: bytes) -> None:
    """60 KB of tags that never close (or a quote that never does), sent in one go: refused
    at once (an overlong tag) instead of a regular expression's rescan of the whole buffer
    per read (seconds of CPU per client, the GIL held)."""
    flood = b"<stream:stream to='x'>" + start + unit * (60_000 // len(unit))
    with raw_server(lambda conn: tlskit.starttls_accept(conn, "xmpp")) as (port, errors), \
            socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(20)
        started = time.monotonic()
        with contextlib.suppress(OSError):
            sock.sendall(flood)
        with contextlib.suppress(OSError):
            read_all(sock)
        took = time.monotonic() - started
    assert len(errors) == 1 and isinstance(errors[0], StartTLSError)
    assert "longer than 4096 bytes" in str(errors[0])
    assert took < 2.0


def test_xmpp_client_reads_unclosed_stream_error_in_linear_time() -> None:
    def script(conn: socket.socket) -> None:
        read_until(conn, b">")
        read_until(conn, b">")
        conn.sendall(b"<stream:stream version='1.0'>"
                     + b"<stream:error><x/>" * 3500)
        with contextlib.suppress(OSError):  # (the client closes with this unread)
            read_all(conn)

    started = time.monotonic()
    with raw_server(script) as (port, errors), pytest.raises(StartTLSError) as caught:
        tlskit.connect("127.0.0.1", port, client_config(), starttls="xmpp", timeout=20)
    assert time.monotonic() - started < 2.0
    assert "stream error '<x/>'" in str(caught.value)
    assert errors == []


# -- the deadline is for the whole exchange; the socket's own timeout comes back ----------


def test_slow_server_meets_one_deadline_for_the_whole_exchange() -> None:
    """A server that sends a byte every 0.1 s (each read succeeds) still meets the deadline
    of the whole exchange, and the socket's own timeout is restored after."""
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        conn.sendall(b"220-")
        while not stop.wait(0.1):
            try:
                conn.sendall(b"x")
            except OSError:
                return

    with raw_server(drip) as (port, errors), \
            socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(7.5)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="did not finish the STARTTLS exchange within "
                                               "1 s"):
            tlskit.starttls(sock, "smtp", timeout=1)
        took = time.monotonic() - started
        stop.set()
        assert sock.gettimeout() == 7.5
    assert 0.9 < took < 3
    assert errors == []


@pytest.mark.parametrize("last_extra", [b"", b"250 injected\r\n"])
def test_socket_timeout_is_restored(last_extra: bytes) -> None:
    with raw_server(lambda conn: (play(conn, DIALOGUES["smtp"], last_extra),
                                  read_all(conn))) as (port, _), \
            socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(None)
        if last_extra:
            with pytest.raises(StartTLSError):
                tlskit.starttls(sock, "smtp", timeout=10)
        else:
            tlskit.starttls(sock, "smtp", timeout=10)
        assert sock.gettimeout() is None
        sock.close()


def test_server_names_a_clienthello_pipelined_after_starttls() -> None:
    """STARTTLS and a real ClientHello in one segment (the client did not wait for 220):
    refused like any pipelined bytes, and said in words, not as 80 quoted binary bytes."""
    client = tlskit.ClientConnection(client_config(), server_name="localhost")
    hello = client.data_to_send()
    assert hello[:2] == b"\x16\x03"
    with (
        raw_server(lambda conn: tlskit.starttls_accept(conn, "smtp")) as (port, errors),
        socket.create_connection(("127.0.0.1", port)) as sock,
    ):
        sock.settimeout(20)
        client_port = sock.getsockname()[1]
        sock.recv(4096)
        sock.sendall(b"STARTTLS\r\n" + hello)
        answers = read_all(sock)
    assert answers == b"554 5.5.1 Error: commands pipelined after STARTTLS; closing\r\n"
    assert len(errors) == 1
    assert str(errors[0]) == (
        f"127.0.0.1:{client_port} sent its TLS ClientHello right after 'STARTTLS', without "
        f"waiting for the go-ahead (RFC 3207 4.2: a client must wait for it); refused, "
        f"closing the connection")


GOODBYES = [
    ("smtp", b"NOOP\r\n" * (MAX_COMMANDS + 1),
     b"421 4.7.0 too many commands without STARTTLS; closing\r\n"),
    ("imap", b"a NOOP\r\n" * (MAX_COMMANDS + 1),
     b"* BYE too many commands without STARTTLS; closing\r\n"),
    ("pop3", b"NOOP\r\n" * (MAX_COMMANDS + 1),
     b"-ERR too many commands without STARTTLS; closing\r\n"),
    ("ftp", b"X" * (2 * MAX_LINE + 10), b"421 line too long; closing\r\n"),
    ("smtp", b"X" * (2 * MAX_LINE + 10), b"421 4.7.0 line too long; closing\r\n"),
]


@pytest.mark.parametrize(("protocol", "flood", "goodbye"), GOODBYES)
def test_server_says_why_it_closes(protocol: str, flood: bytes, goodbye: bytes) -> None:
    """A client that never asks for TLS, or sends an overlong line, is told why before the
    close (Postfix: "421 4.7.0 Error: too many errors"), not just cut off."""
    with (
        raw_server(lambda conn: tlskit.starttls_accept(conn, protocol)) as (port, errors),
        socket.create_connection(("127.0.0.1", port)) as sock,
    ):
        sock.settimeout(20)
        with contextlib.suppress(OSError):
            sock.sendall(flood)
        with contextlib.suppress(OSError):
            answers = read_all(sock)
    assert answers.endswith(goodbye)
    assert len(errors) == 1 and isinstance(errors[0], StartTLSError)


def test_server_sends_no_goodbye_after_quit() -> None:
    with (
        raw_server(lambda conn: tlskit.starttls_accept(conn, "smtp")) as (port, errors),
        socket.create_connection(("127.0.0.1", port)) as sock,
    ):
        sock.settimeout(20)
        sock.sendall(b"QUIT\r\n")
        answers = read_all(sock)
    assert answers.endswith(b"221 2.0.0 Bye\r\n")
    assert "left without starting TLS" in str(errors[0])


ESCAPES = [
    ("smtp", [(None, b"220 mx\r\n"),
              (b"EHLO [127.0.0.1]\r\n", b"250-mx\r\n250 \x1b]0;pwned\x07\x1b[2J\r\n")],
     "its EHLO reply lists: \\x1b]0;PWNED\\x07\\x1b[2J)"),
    ("imap", [(None, b"* OK ready\r\n"),
              (b"a1 CAPABILITY\r\n", b"* CAPABILITY IMAP4rev1 \x1b[2J\xff\r\na1 OK\r\n")],
     "its CAPABILITY lists: IMAP4REV1 \\x1b[2J\\xff)"),
    ("pop3", [(None, b"+OK\r\n"), (b"CAPA\r\n", b"+OK\r\n\x1b[31mUSER\r\n.\r\n")],
     "its CAPA lists: \\x1b[31MUSER)"),
]


@pytest.mark.parametrize(("protocol", "dialogue", "told"), ESCAPES)
def test_capabilities_in_errors_carry_no_control_characters(
        protocol: str, dialogue: list[tuple[bytes | None, bytes]], told: str) -> None:
    """A hostile server's capability words go into the error (and the terminal of whoever
    runs tlskit connect): control characters are escaped, not sent to the screen."""
    with (
        raw_server(lambda conn: (play(conn, dialogue), read_all(conn))) as (port, _),
        pytest.raises(StartTLSError) as caught,
    ):
        tlskit.connect("127.0.0.1", port, client_config(), starttls=protocol, timeout=20)
    assert told in str(caught.value)
    assert all(c.isprintable() for c in str(caught.value))


@pytest.mark.parametrize(("protocol", "command", "refusal"), [
    ("smtp", b"STARTTLS now\r\n", b"501 5.5.4 Syntax error (no parameters allowed)\r\n"),
    ("imap", b"a1 STARTTLS x\r\n", b"a1 BAD STARTTLS takes no arguments\r\n"),
    ("pop3", b"STLS x\r\n", b"-ERR STLS takes no arguments\r\n")])
def test_server_refuses_starttls_with_arguments(protocol: str, command: bytes,
                                                refusal: bytes) -> None:
    """RFC 3207 4, RFC 3501 6.2.1, RFC 2595 4: the command takes no arguments; one with
    them is a syntax error (as Postfix answers 501), not the go-ahead. The bare command,
    in any case, still is."""
    server = StartTLSServer(protocol)
    assert server.answer(command) == (refusal, False)
    bare = command.split(b" x")[0].split(b" now")[0].rstrip(b"\r\n").lower() + b"\r\n"
    reply, go_ahead = server.answer(bare)
    assert go_ahead and reply[:1] in (b"2", b"a", b"+"), reply
