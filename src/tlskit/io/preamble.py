"""STARTTLS: the plaintext part of protocols that switch to TLS on the same connection
(SMTP, IMAP, POP3, FTP, PostgreSQL, XMPP).

    tls = tlskit.connect("mail.example", 587, starttls="smtp")  # all of it, or by hand:
    sock = socket.create_connection(("mail.example", 587))
    tlskit.starttls(sock, "smtp")                                # EHLO, STARTTLS, 220
    tls = tlskit.TLSSocket(sock, tlskit.ClientConnection(config, server_name="mail.example"),
                           server_side=False, server_hostname="mail.example")

`starttls` (client side) and `starttls_accept` (server side) take a connected socket and
return once the next bytes on it are the TLS handshake's. Reads are bounded: a line is at
most ``MAX_LINE`` bytes, the whole exchange ``MAX_TOTAL`` bytes and ``timeout`` seconds.

Plaintext that arrives after the go-ahead and before the handshake is refused on both
sides (CVE-2011-0411, "STARTTLS command injection"; the 2021 "NO STARTTLS" study): it was
sent before any protection, so it must never be read as if TLS had protected it.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..enums import AlertDescription as AD
from ..errors import TLSError
from .address import address_label

__all__ = ["STARTTLS_PROTOCOLS", "StartTLSError", "StartTLSServer", "starttls",
           "starttls_accept"]

STARTTLS_PROTOCOLS = ("smtp", "imap", "pop3", "ftp", "postgres", "xmpp")
"""The protocols `starttls` and `starttls_accept` speak."""
MAX_LINE = 4096          # one reply or command line (RFC 5321 4.5.3.1.5 asks for 512)
MAX_TOTAL = 64 * 1024    # the whole plaintext exchange, each way
MAX_COMMANDS = 32        # commands a server answers before it gives up on a client
PG_SSL_REQUEST = 80877103  # PostgreSQL's SSLRequest code (1234 << 16 | 5679)
PG_GSSENC_REQUEST = 80877104
PG_PROTOCOL_3 = 196608     # a StartupMessage's protocol version, 3.0


class StartTLSError(TLSError):
    """The plaintext part of a STARTTLS protocol failed: the peer does not offer TLS,
    refused it, said something else, or sent bytes after the go-ahead (injection). No TLS
    alert is sent: TLS never started. ``said``: the peer's last line, when there was one."""

    default_alert = AD.unexpected_message
    alert_sent = False  # (``alert`` is what a TLS stack would send; none was)

    def __init__(self, message: str, said: str = "") -> None:
        super().__init__(message)
        self.said = said
        self.answered = False  # (server side: the peer was told why already)


def _listed(words: list[bytes], sep: str) -> str:
    """A peer's keywords for a message: printable ASCII only (the rest escaped, so that a
    hostile server cannot send terminal control sequences to the user's screen), at most
    200 characters."""
    text = sep.join(w.decode("latin-1") for w in words if w)
    safe = "".join(c if c.isascii() and c.isprintable() else f"\\x{ord(c):02x}"
                   for c in text[:200])
    return (safe + ("..." if len(text) > 200 else "")) or "nothing"


def _quote(line: bytes) -> str:
    return repr(line.rstrip(b"\r\n").decode("latin-1")[:200])


@dataclass
class _Lines:
    """Line reader over a socket: bounded line length, bounded total, one deadline."""

    sock: socket.socket
    peer: str
    deadline: float
    timeout: float
    buffer: bytearray = field(default_factory=bytearray)
    total: int = 0
    eof: bool = False  # the peer closed its side

    def _recv(self) -> bytes:
        left = self.deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            data = self.sock.recv(MAX_LINE)
        except TimeoutError:
            raise TimeoutError(f"{self.peer} did not finish the STARTTLS exchange within "
                               f"{self.timeout:g} s") from None
        self.total += len(data)
        self.eof = not data
        if self.total > MAX_TOTAL:
            raise StartTLSError(f"{self.peer} sent more than {MAX_TOTAL} bytes of plaintext "
                                f"before TLS; refusing")
        return data

    def line(self) -> bytes:
        """The next line with its end; StartTLSError on a close or an overlong line."""
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end + 1])
                del self.buffer[:end + 1]
                return line
            if len(self.buffer) > MAX_LINE:
                raise StartTLSError(f"{self.peer} sent a line longer than {MAX_LINE} bytes "
                                    f"before TLS; refusing")
            data = self._recv()
            if not data:
                said = f" after {_quote(bytes(self.buffer))}" if self.buffer else ""
                raise StartTLSError(f"{self.peer} closed the connection during the STARTTLS "
                                    f"exchange{said}")
            self.buffer += data

    def tag(self, what: str) -> bytes:
        """The next XML tag, ``<...>`` (XMPP is not line based; the text between tags is
        skipped). Each tag is at most ``MAX_LINE`` bytes and is matched from its ``<``
        only, so a peer that never closes a tag costs linear time, not a regular
        expression's rescan of everything it sent (quadratic: seconds of CPU per peer)."""
        while True:
            start = self.buffer.find(b"<")
            if start < 0:
                self.buffer.clear()
            elif start:
                del self.buffer[:start]
            if self.buffer and b">" in self.buffer:
                found = _TAG.match(self.buffer)
                if found:
                    tag = bytes(found.group(0))  # (before the buffer it views changes)
                    del self.buffer[:found.end()]
                    return tag
            if len(self.buffer) > MAX_LINE:
                raise StartTLSError(f"{self.peer} sent an XML tag longer than {MAX_LINE} "
                                    f"bytes before TLS; refusing")
            data = self._recv()
            if not data:
                raise StartTLSError(f"{self.peer} closed the connection before sending "
                                    f"{what}")
            self.buffer += data

    def exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            data = self._recv()
            if not data:
                raise StartTLSError(f"{self.peer} closed the connection during the STARTTLS "
                                    f"exchange")
            self.buffer += data
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def pending(self) -> bytes:
        """What the peer sent beyond what was read: in our buffer, or already waiting in
        the kernel's (a non-blocking peek; at most one line's worth is quoted)."""
        if self.buffer:
            return bytes(self.buffer)
        saved = self.sock.gettimeout()
        self.sock.setblocking(False)  # (with a timeout, recv would wait for bytes)
        try:
            return self.sock.recv(MAX_LINE, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return b""
        finally:
            self.sock.settimeout(saved)


def _run(sock: socket.socket, timeout: float | None,
         body: Callable[[_Lines], None], peer: str) -> None:
    """Run ``body`` with a line reader, restoring the socket's own timeout after."""
    saved = sock.gettimeout()
    limit = timeout if timeout is not None else 1e9
    try:
        body(_Lines(sock, peer, time.monotonic() + limit, limit))
    finally:
        sock.settimeout(saved)


def _peer(sock: socket.socket) -> str:
    try:
        return address_label(sock.getpeername(), "the peer")
    except OSError:
        return "the peer"


# --------------------------------------------------------------------------- client side


def _address_literal(sock: socket.socket) -> str:
    """Our own address as RFC 5321 4.1.3 writes it in EHLO: [192.0.2.1], [IPv6:...]."""
    try:
        address = str(sock.getsockname()[0])
    except (OSError, IndexError, TypeError):
        return "localhost"
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


def starttls(sock: socket.socket, protocol: str, *, client_name: str | None = None,
             server_name: str | None = None, timeout: float | None = 30.0) -> None:
    """Play the client's plaintext part of ``protocol`` (one of `STARTTLS_PROTOCOLS`) on
    the connected ``sock``; on return the server waits for our ClientHello.

    ``client_name`` is the name this client gives itself where the protocol asks (SMTP's
    EHLO; by default our address as an RFC 5321 4.1.3 address literal); ``server_name``
    the server's domain where the protocol names it (XMPP's stream ``to``; by default the
    address connected to). Raises
    `StartTLSError` when the server does not offer TLS, refuses it, or sends bytes after
    its go-ahead (those were unprotected); ``timeout`` bounds the whole exchange."""
    steps = _CLIENT.get(protocol)
    if steps is None:
        raise ValueError(f"unknown STARTTLS protocol {protocol!r}; one of: "
                         f"{', '.join(STARTTLS_PROTOCOLS)}")
    peer = _peer(sock)
    name = client_name or _address_literal(sock)
    if protocol == "xmpp":
        name = server_name or peer.rsplit(":", 1)[0].strip("[]")

    def body(lines: _Lines) -> None:
        steps(sock, lines, peer, name)
        extra = lines.pending()
        if extra:
            # RFC 3207 4.2 / RFC 2595 3.1: nothing may follow the go-ahead in plaintext.
            raise StartTLSError(
                f"{peer} sent {len(extra)} byte(s) of plaintext after agreeing to start TLS "
                f"({_quote(extra[:80])}): they would have been read as if TLS protected "
                f"them (STARTTLS injection, CVE-2011-0411); refusing the connection",
                _quote(extra[:80]))

    _run(sock, timeout, body, peer)


_SMTP_LINE = re.compile(rb"\d{3}[ -]|\d{3}\r?\n")


def _reply(lines: _Lines, smtp: bool = False) -> tuple[str, list[bytes]]:
    """One SMTP/FTP reply: its code and its lines (multi-line "ddd-" ... "ddd "). In SMTP
    every line starts with the same code (RFC 5321 4.2.1); an FTP reply's inner lines are
    free text (RFC 959 4.2)."""
    first = lines.line()
    code = first[:3].decode("latin-1")
    got = [first]
    if not (len(first) >= 4 and code.isascii() and code.isdigit()):
        raise StartTLSError(f"{lines.peer} answered {_quote(first)}, which is not an "
                            f"SMTP/FTP reply", _quote(first))
    if first[3:4] == b"-":
        end = code.encode() + b" "
        while True:
            line = lines.line()
            got.append(line)
            if line.startswith(end) or line.rstrip(b"\r\n") == code.encode():
                break
            if smtp and not (_SMTP_LINE.match(line) and line.startswith(code.encode())):
                raise StartTLSError(f"{lines.peer} sent {_quote(line)} within a {code} "
                                    f"reply: every line of an SMTP reply starts with its "
                                    f"code (RFC 5321 4.2.1)", _quote(line))
            if len(got) > 1000:
                raise StartTLSError(f"{lines.peer} sent a reply of more than 1000 lines")
    return code, got


def _expect(lines: _Lines, want: str, what: str, advice: str,
            smtp: bool = False) -> list[bytes]:
    code, got = _reply(lines, smtp)
    if code != want:
        raise StartTLSError(f"{lines.peer} answered {what} with {_quote(got[-1])} (not "
                            f"{want}){advice}", _quote(got[-1]))
    return got


def _smtp_client(sock: socket.socket, lines: _Lines, peer: str, name: str) -> None:
    # RFC 5321 4.2 replies; RFC 3207 4: EHLO, the STARTTLS keyword, STARTTLS, 220.
    _expect(lines, "220", "the connection (its greeting)", ": is this an SMTP server?",
            smtp=True)
    sock.sendall(f"EHLO {name}\r\n".encode("ascii", "replace"))
    got = _expect(lines, "250", "EHLO", "", smtp=True)
    keywords = [line[4:].strip().split(b" ")[0].upper() for line in got[1:]]
    if b"STARTTLS" not in keywords:
        listed = _listed(keywords, ", ")
        raise StartTLSError(f"{peer} does not offer STARTTLS (its EHLO reply lists: {listed}); "
                            f"it cannot be reached over TLS on this port (try its TLS port, "
                            f"465 for submission)", listed)
    sock.sendall(b"STARTTLS\r\n")
    _expect(lines, "220", "STARTTLS", "", smtp=True)


def _ftp_client(sock: socket.socket, lines: _Lines, peer: str, name: str) -> None:
    # RFC 4217 4: AUTH TLS, answered 234 (RFC 2228). RFC 959 5.4: a server may first say
    # 120 ("ready in nnn minutes"), then 220; ftplib and curl wait for the 220 too.
    for _ in range(8):
        code, got = _reply(lines)
        if not code.startswith("1"):
            break
    if code != "220":
        raise StartTLSError(f"{peer} answered the connection (its greeting) with "
                            f"{_quote(got[-1])} (not 220): is this an FTP server?",
                            _quote(got[-1]))
    sock.sendall(b"AUTH TLS\r\n")
    _expect(lines, "234", "AUTH TLS", ": it does not offer FTP over TLS (RFC 4217)")


def _imap_client(sock: socket.socket, lines: _Lines, peer: str, name: str) -> None:
    # RFC 3501 6.2.1 (and 9051): CAPABILITY lists STARTTLS; the tagged OK is the go-ahead.
    greeting = lines.line()
    if not greeting.upper().startswith(b"* OK"):
        hint = (" (PREAUTH: the session is already authenticated in plaintext, STARTTLS "
                "is not allowed)" if greeting.upper().startswith(b"* PREAUTH") else
                ": is this an IMAP server?")
        raise StartTLSError(f"{peer} greeted with {_quote(greeting)}{hint}", _quote(greeting))
    sock.sendall(b"a1 CAPABILITY\r\n")
    capabilities: list[bytes] = []
    for line in _imap_until(lines, b"a1", "CAPABILITY"):
        if line.upper().startswith(b"* CAPABILITY "):
            capabilities += line[13:].upper().split()
    if b"STARTTLS" not in capabilities:
        listed = _listed(capabilities, " ")
        raise StartTLSError(f"{peer} does not offer STARTTLS (its CAPABILITY lists: "
                            f"{listed}); try its TLS port (993)", listed)
    sock.sendall(b"a2 STARTTLS\r\n")
    _imap_until(lines, b"a2", "STARTTLS")


def _imap_until(lines: _Lines, tag: bytes, command: str) -> list[bytes]:
    """The untagged lines before ``tag``'s completion, which must be OK."""
    untagged: list[bytes] = []
    while True:
        line = lines.line()
        if line.startswith(tag + b" "):
            if line[len(tag) + 1:].upper().startswith(b"OK"):
                return untagged
            raise StartTLSError(f"{lines.peer} refused {command}: {_quote(line)}",
                                _quote(line))
        if len(untagged) > 1000:
            raise StartTLSError(f"{lines.peer} sent more than 1000 lines before "
                                f"completing {command}")
        untagged.append(line.rstrip(b"\r\n"))


def _pop3_client(sock: socket.socket, lines: _Lines, peer: str, name: str) -> None:
    # RFC 2595 4: STLS, announced in CAPA (RFC 2449), answered +OK.
    greeting = lines.line()
    if not greeting.startswith(b"+OK"):
        raise StartTLSError(f"{peer} greeted with {_quote(greeting)}: is this a POP3 "
                            f"server?", _quote(greeting))
    sock.sendall(b"CAPA\r\n")
    answer = lines.line()
    if answer.startswith(b"+OK"):
        capabilities: list[bytes] = []
        while (line := lines.line().rstrip(b"\r\n")) != b".":
            if len(capabilities) > 1000:
                raise StartTLSError(f"{peer} sent more than 1000 CAPA lines")
            capabilities.append(line.split(b" ")[0].upper())
        if b"STLS" not in capabilities:
            listed = _listed(capabilities, " ")
            raise StartTLSError(f"{peer} does not offer STLS (its CAPA lists: {listed}); "
                                f"try its TLS port (995)", listed)
    sock.sendall(b"STLS\r\n")
    answer = lines.line()
    if not answer.startswith(b"+OK"):
        raise StartTLSError(f"{peer} refused STLS: {_quote(answer)}", _quote(answer))


def _postgres_client(sock: socket.socket, lines: _Lines, peer: str, name: str) -> None:
    # PostgreSQL's protocol docs, "SSL Session Encryption": SSLRequest, answered by one
    # byte, 'S' or 'N'.
    sock.sendall(struct.pack("!II", 8, PG_SSL_REQUEST))
    answer = lines.exactly(1)
    if answer == b"N":
        raise StartTLSError(f"{peer} refused SSL (answered 'N' to SSLRequest): the "
                            f"server has ssl = off", "N")
    if answer == b"E":
        # The protocol docs: a server too old for SSL answers with an ErrorResponse; its
        # text is not shown (unauthenticated, and a MITM's to choose: CVE-2024-10977).
        raise StartTLSError(f"{peer} answered SSLRequest with an error message ('E', not "
                            f"shown: it is unauthenticated): the server does not support "
                            f"SSL (PostgreSQL before 7.1, or not PostgreSQL)", "E")
    if answer != b"S":
        raise StartTLSError(f"{peer} answered SSLRequest with {answer!r}, not 'S' or "
                            f"'N': is this a PostgreSQL server?", repr(answer))


# RFC 6120 5.4.2: the stream header, features offering <starttls/>, <proceed/>. No XML
# parser: tags are cut out one at a time (quotes respected) and only their names and the
# xmlns attribute are looked at, so entities, DTDs and nesting cost nothing (RFC 6120
# 11.1 forbids DTDs and entity declarations anyway).
XMPP_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
_TAG = re.compile(rb"<(?:[^>'\"]++|'[^']*+'|\"[^\"]*+\")*+>")
_TAG_NAME = re.compile(rb"<\s*(/?)\s*([^\s/>]*)")
_TLS_XMLNS = re.compile(rb"\sxmlns\s*=\s*(['\"])" + XMPP_TLS.encode() + rb"\1")


def _tag_name(tag: bytes) -> bytes:
    """``stream:stream``, ``/stream:features``, ``starttls``...: a closing tag's name
    starts with ``/``."""
    found = _TAG_NAME.match(tag)
    return (found.group(1) + found.group(2)) if found else b""


def _empty(tag: bytes) -> bool:
    """``<name .../>``: an element with no content and no closing tag."""
    return tag.rstrip(b"> \t\r\n").endswith(b"/")


def _next_tag(lines: _Lines, names: tuple[bytes, ...], what: str) -> bytes:
    """Skip tags until one named in ``names``; return it."""
    while _tag_name(tag := lines.tag(what)) not in names:
        pass
    return tag


def _xmpp_client(sock: socket.socket, lines: _Lines, peer: str, domain: str) -> None:
    sock.sendall(f"<?xml version='1.0'?><stream:stream to='{_xml_attr(domain)}' version='1.0' "
                 f"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
                 .encode())
    _next_tag(lines, (b"stream:stream",), "its stream header: is this an XMPP server?")
    offered, said = False, "its stream features list no <starttls/>"
    while True:
        tag = lines.tag("its stream features")
        name = _tag_name(tag)
        if name == b"starttls" and _TLS_XMLNS.search(tag):
            offered = True
        elif name in (b"/stream:features", b"/stream:stream") or (
                name == b"stream:features" and _empty(tag)):
            break
        elif name == b"stream:error":
            condition = lines.tag("its stream error")
            offered, said = False, f"stream error {_quote(condition[:200])}"
            break
    if not offered:
        raise StartTLSError(f"{peer} does not offer STARTTLS ({said}); try its "
                            f"direct-TLS port (5223)", said)
    sock.sendall(f"<starttls xmlns='{XMPP_TLS}'/>".encode())
    answer = _next_tag(lines, (b"proceed", b"failure", b"stream:error", b"/stream:stream"),
                       "<proceed/>")
    if not (_tag_name(answer) == b"proceed" and _TLS_XMLNS.search(answer)):
        raise StartTLSError(f"{peer} refused STARTTLS: {_quote(answer)}", _quote(answer))
    if not _empty(answer):
        _next_tag(lines, (b"/proceed",), "</proceed>")


def _xml_attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace("'", "&apos;").replace("<", "&lt;")
            .replace(">", "&gt;"))


_ClientSteps = Callable[[socket.socket, _Lines, str, str], None]
_CLIENT: dict[str, _ClientSteps] = {
    "smtp": _smtp_client, "imap": _imap_client, "pop3": _pop3_client, "ftp": _ftp_client,
    "postgres": _postgres_client, "xmpp": _xmpp_client,
}


# --------------------------------------------------------------------------- server side


@dataclass
class StartTLSServer:
    """A minimal server of a STARTTLS protocol's commands, with no I/O of its own: the
    greeting, capabilities, the STARTTLS command, and after the handshake (``secured``)
    NOOP and QUIT/LOGOUT, so that real clients can be tested against it (`tlskit serve
    --starttls` feeds it lines read from the socket, then from the TLS socket)."""

    protocol: str
    hostname: str = "localhost"
    secured: bool = False
    done: bool = False  # the client said goodbye

    def greeting(self) -> bytes:
        return {"smtp": f"220 {self.hostname} ESMTP tlskit\r\n",
                "imap": "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] tlskit ready\r\n",
                "pop3": "+OK tlskit ready\r\n",
                "ftp": "220 tlskit FTP ready\r\n"}[self.protocol].encode()

    def answer(self, line: bytes) -> tuple[bytes, bool]:
        """The reply to one command line, and whether it is the go-ahead for TLS."""
        text = line.rstrip(b"\r\n").decode("latin-1")
        answer: Callable[[str], tuple[bytes, bool]] = getattr(self, f"_{self.protocol}")
        return answer(text)

    def _smtp(self, text: str) -> tuple[bytes, bool]:
        verb = text.split(" ", 1)[0].upper()
        if verb == "EHLO":
            offer = "" if self.secured else "250-STARTTLS\r\n"
            return (f"250-{self.hostname}\r\n{offer}250-8BITMIME\r\n"
                    f"250 ENHANCEDSTATUSCODES\r\n").encode(), False
        if verb == "HELO":
            return f"250 {self.hostname}\r\n".encode(), False
        if verb in ("NOOP", "RSET"):
            return b"250 2.0.0 OK\r\n", False
        if verb == "QUIT":
            self.done = True
            return b"221 2.0.0 Bye\r\n", False
        if verb == "STARTTLS":
            if self.secured:
                return b"503 5.5.1 TLS already active\r\n", False
            if text.strip().upper() != "STARTTLS":  # RFC 3207 4: no parameters
                return b"501 5.5.4 Syntax error (no parameters allowed)\r\n", False
            return b"220 2.0.0 Ready to start TLS\r\n", True
        if self.secured:
            return b"502 5.5.1 tlskit serve accepts no mail\r\n", False
        return b"530 5.7.0 Must issue a STARTTLS command first\r\n", False

    def _imap(self, text: str) -> tuple[bytes, bool]:
        tag, _, rest = text.partition(" ")
        verb = rest.split(" ", 1)[0].upper()
        if not tag or not verb:
            return b"* BAD expected a tag and a command\r\n", False
        if verb == "CAPABILITY":
            caps = "IMAP4rev1 AUTH=PLAIN" if self.secured else \
                "IMAP4rev1 STARTTLS LOGINDISABLED"
            return f"* CAPABILITY {caps}\r\n{tag} OK CAPABILITY completed\r\n".encode(), False
        if verb == "NOOP":
            return f"{tag} OK NOOP completed\r\n".encode(), False
        if verb == "LOGOUT":
            self.done = True
            return f"* BYE tlskit logging out\r\n{tag} OK LOGOUT completed\r\n".encode(), False
        if verb == "STARTTLS" and not self.secured:
            if rest.strip().upper() != "STARTTLS":  # RFC 3501 6.2.1: no arguments
                return f"{tag} BAD STARTTLS takes no arguments\r\n".encode(), False
            return f"{tag} OK Begin TLS negotiation now\r\n".encode(), True
        if self.secured:
            return f"{tag} NO tlskit serve has no mailboxes\r\n".encode(), False
        return f"{tag} BAD STARTTLS first\r\n".encode(), False

    def _pop3(self, text: str) -> tuple[bytes, bool]:
        verb = text.split(" ", 1)[0].upper()
        if verb == "CAPA":
            return (b"+OK Capability list follows\r\n"
                    + (b"USER\r\n" if self.secured else b"STLS\r\n") + b".\r\n"), False
        if verb == "NOOP":
            return b"+OK\r\n", False
        if verb == "QUIT":
            self.done = True
            return b"+OK Bye\r\n", False
        if verb == "STLS" and not self.secured:
            if text.strip().upper() != "STLS":  # RFC 2595 4: no arguments
                return b"-ERR STLS takes no arguments\r\n", False
            return b"+OK Begin TLS negotiation\r\n", True
        return (b"-ERR tlskit serve has no mailbox\r\n" if self.secured
                else b"-ERR STLS first\r\n"), False

    def _ftp(self, text: str) -> tuple[bytes, bool]:
        verb, _, arg = text.partition(" ")
        verb = verb.upper()
        if verb == "AUTH" and arg.strip().upper() in ("TLS", "TLS-C", "SSL") \
                and not self.secured:
            return b"234 AUTH TLS successful\r\n", True
        if verb == "FEAT":
            return b"211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n211 End\r\n", False
        if verb == "NOOP":
            return b"200 NOOP ok\r\n", False
        if verb == "QUIT":
            self.done = True
            return b"221 Goodbye\r\n", False
        if verb in ("PBSZ", "PROT") and self.secured:
            return f"200 {verb} ok\r\n".encode(), False
        if self.secured:
            return b"530 tlskit serve takes no login\r\n", False
        return b"530 AUTH TLS first\r\n", False


def starttls_accept(sock: socket.socket, protocol: str, *, hostname: str = "localhost",
                    timeout: float | None = 30.0) -> None:
    """Play the server's plaintext part of ``protocol`` on the accepted ``sock``: greet,
    answer capability queries, and on the STARTTLS command give the go-ahead; on return
    the client's ClientHello is next. Raises `StartTLSError` when the client leaves,
    never asks for TLS, or pipelines bytes after its STARTTLS command (those would be
    unprotected: the command is refused and nothing they say is answered)."""
    if protocol not in STARTTLS_PROTOCOLS:
        raise ValueError(f"unknown STARTTLS protocol {protocol!r}; one of: "
                         f"{', '.join(STARTTLS_PROTOCOLS)}")
    peer = _peer(sock)
    if protocol == "postgres":
        _run(sock, timeout, lambda lines: _postgres_server(sock, lines, peer), peer)
        return
    if protocol == "xmpp":
        _run(sock, timeout, lambda lines: _xmpp_server(sock, lines, peer, hostname), peer)
        return
    dialog = StartTLSServer(protocol, hostname)

    def body(lines: _Lines) -> None:
        try:
            converse(lines)
        except (StartTLSError, TimeoutError) as exc:
            if not lines.eof and not getattr(exc, "answered", False):
                _goodbye(sock, protocol, exc)
            raise

    def converse(lines: _Lines) -> None:
        sock.sendall(dialog.greeting())
        for _ in range(MAX_COMMANDS):
            line = lines.line()
            reply, go = dialog.answer(line)
            if go:
                _refuse_pipelined(sock, lines, peer, line, protocol)
            sock.sendall(reply)
            if go:
                return
            if dialog.done:
                left = StartTLSError(f"{peer} left without starting TLS ({_quote(line)})",
                                     _quote(line))
                left.answered = True  # (the goodbye was the answer to its QUIT)
                raise left
        raise StartTLSError(f"{peer} sent {MAX_COMMANDS} commands without starting TLS; "
                            f"closing")

    _run(sock, timeout, body, peer)


_PIPELINED = {"smtp": b"554 5.5.1 Error: commands pipelined after STARTTLS; closing\r\n",
              "imap": b"* BYE commands pipelined after STARTTLS; closing\r\n",
              "pop3": b"-ERR commands pipelined after STLS; closing\r\n",
              "ftp": b"421 commands pipelined after AUTH TLS; closing\r\n",
              "xmpp": f"<failure xmlns='{XMPP_TLS}'/></stream:stream>".encode()}


def _refuse_pipelined(sock: socket.socket, lines: _Lines, peer: str, command: bytes,
                      protocol: str) -> None:
    """RFC 3207 4.2, RFC 2595 3.1: bytes after the STARTTLS command came in plaintext;
    answering them after the handshake would take them for protected (CVE-2011-0411)."""
    extra = lines.pending()
    if not extra:
        return
    if protocol in _PIPELINED:
        sock.sendall(_PIPELINED[protocol])
    try:
        _refuse_extra(peer, command, extra)
    except StartTLSError as exc:
        exc.answered = True  # (the refusal above was the goodbye)
        raise


def _refuse_extra(peer: str, command: bytes, extra: bytes) -> None:
    if extra[:2] == b"\x16\x03":  # a handshake record: quoting its bytes would help no one
        raise StartTLSError(
            f"{peer} sent its TLS ClientHello right after {_quote(command)}, without "
            f"waiting for the go-ahead (RFC 3207 4.2: a client must wait for it); "
            f"refused, closing the connection", "ClientHello")
    raise StartTLSError(
        f"{peer} sent {len(extra)} byte(s) after {_quote(command)} before the TLS "
        f"handshake ({_quote(extra[:80])}): they were not protected by TLS (STARTTLS "
        f"injection, CVE-2011-0411); refused, closing the connection", _quote(extra[:80]))


_GOODBYE = {"smtp": "421 4.7.0 {}; closing\r\n", "imap": "* BYE {}; closing\r\n",
            "pop3": "-ERR {}; closing\r\n", "ftp": "421 {}; closing\r\n"}


def _goodbye(sock: socket.socket, protocol: str, exc: Exception) -> None:
    """Tell a client why it is being closed, as servers do (Postfix: "421 4.7.0 Error:
    too many errors"), instead of a silent close; best effort."""
    text = str(exc)
    reason = ("line too long" if "longer than" in text else
              "timeout exceeded" if isinstance(exc, TimeoutError) else
              "too many commands without STARTTLS" if "commands without" in text else
              "too much plaintext before TLS" if "more than" in text else "error")
    with contextlib.suppress(OSError):
        sock.settimeout(1.0)
        sock.sendall(_GOODBYE[protocol].format(reason).encode())
        # Unread bytes at close make the kernel send a reset, which may destroy the reply
        # before the client reads it: stop sending, then drain briefly (bounded).
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + 1.0
        drained = 0
        while drained < MAX_TOTAL and time.monotonic() < deadline:
            data = sock.recv(MAX_LINE)
            if not data:
                break
            drained += len(data)


def _xmpp_server(sock: socket.socket, lines: _Lines, peer: str, hostname: str) -> None:
    # RFC 6120 5.4.2: features that require TLS, then <proceed/> to the client's <starttls/>.
    _next_tag(lines, (b"stream:stream",), "a stream header: is it an XMPP client?")
    sock.sendall(f"<?xml version='1.0'?><stream:stream from='{_xml_attr(hostname)}' "
                 f"id='tlskit' version='1.0' xmlns='jabber:client' "
                 f"xmlns:stream='http://etherx.jabber.org/streams'><stream:features>"
                 f"<starttls xmlns='{XMPP_TLS}'><required/></starttls></stream:features>"
                 .encode())
    command = _next_tag(lines, (b"starttls", b"/stream:stream"), "<starttls/>")
    if _tag_name(command) != b"starttls":
        raise StartTLSError(f"{peer} closed its stream without asking for TLS")
    if not _empty(command):
        _next_tag(lines, (b"/starttls",), "</starttls>")
    _refuse_pipelined(sock, lines, peer, b"<starttls/>", "xmpp")
    sock.sendall(f"<proceed xmlns='{XMPP_TLS}'/>".encode())


def _postgres_server(sock: socket.socket, lines: _Lines, peer: str) -> None:
    # PostgreSQL's protocol docs (SSL and GSSAPI Session Encryption): GSSENCRequest gets
    # 'N', SSLRequest 'S'; bytes after
    # the SSLRequest are refused (CVE-2021-23214).
    for _ in range(2):
        length, code = struct.unpack("!II", lines.exactly(8))
        if length == 8 and code == PG_GSSENC_REQUEST:
            sock.sendall(b"N")
            continue
        if length != 8 or code != PG_SSL_REQUEST:
            _postgres_refuse(sock, peer, length, code)
        _refuse_pipelined(sock, lines, peer, b"SSLRequest", "postgres")
        sock.sendall(b"S")
        return
    raise StartTLSError(f"{peer} sent GSSENCRequest twice")


def _postgres_refuse(sock: socket.socket, peer: str, length: int, code: int) -> None:
    """A first packet that is not SSLRequest: a TLS record (PostgreSQL 17's direct SSL,
    ``sslnegotiation=direct``), or a plaintext StartupMessage, which gets an ErrorResponse
    (as a server whose pg_hba.conf has hostssl lines only) so that the client says why."""
    if length >> 16 == 0x1603:  # a handshake record, TLS 1.x: a ClientHello
        raise StartTLSError(f"{peer} sent a TLS ClientHello without SSLRequest (direct SSL, "
                            f"sslnegotiation=direct): this server speaks PostgreSQL's "
                            f"SSLRequest only; serve direct SSL without --starttls, with "
                            f"--alpn postgresql")
    if code == PG_PROTOCOL_3 and 8 < length <= MAX_LINE:
        text = ("tlskit serve takes encrypted connections only: connect with "
                "sslmode=require")
        fields = b"SFATAL\0VFATAL\0C28000\0M" + text.encode() + b"\0\0"
        sock.sendall(b"E" + struct.pack("!I", 4 + len(fields)) + fields)
    raise StartTLSError(f"{peer} sent a PostgreSQL startup packet without SSLRequest "
                        f"(length {length}, code {code}); this server takes TLS only "
                        f"(sslmode=require)")
