"""Plumbing for the interop tests: a blocking socket pump for tlskit connections, peer
processes (openssl, gnutls, curl) with their output captured, and one-shot server threads.

Nothing here imitates a peer: every peer is a real TLS implementation (an external binary
or CPython's `ssl`, i.e. OpenSSL) reached over a real TCP socket on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from tlskit import (
    AlertDescription,
    AlertReceived,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    HandshakeComplete,
    KeyUpdated,
    SessionTicketReceived,
    TLSError,
)
from tlskit.enums import ExtensionType
from tlskit.session import Session

from ..support.peers import PeerProcess, Peers
from ..support.pump import Pump, ServerThread, echo_until_close, tlskit_server

if TYPE_CHECKING:  # (conftest imports this module)
    from .conftest import PKI

# Our names -> what each peer calls the same thing.
GROUPS = ("x25519", "secp256r1", "secp384r1")
SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
CERT_TYPES = ("ec256", "ec384", "rsa2048", "ed25519")
OPENSSL_GROUP = {"x25519": "X25519", "secp256r1": "P-256", "secp384r1": "P-384"}
# How `openssl s_client` reports the key exchange ("Server Temp Key: ...").
OPENSSL_TEMP_KEY = {"x25519": "X25519", "secp256r1": "ECDH, prime256v1",
                    "secp384r1": "ECDH, secp384r1"}
GNUTLS_GROUP = {"x25519": "GROUP-X25519", "secp256r1": "GROUP-SECP256R1",
                "secp384r1": "GROUP-SECP384R1"}
GNUTLS_SUITE = {"TLS_AES_128_GCM_SHA256": "AES-128-GCM",
                "TLS_AES_256_GCM_SHA384": "AES-256-GCM",
                "TLS_CHACHA20_POLY1305_SHA256": "CHACHA20-POLY1305"}
# The TLS 1.2 suites with ECDHE and an AEAD (all rustls 0.20 has; OTP 25 has them too),
# with the certificate type each one's authentication needs.
TLS12_ECDHE_AEAD_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ec256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ec256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ec256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "rsa2048",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "rsa2048",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "rsa2048",
}
# (version, scheme) for each RSA signature scheme with an rsaEncryption key (PKCS#1 v1.5:
# TLS 1.2 only).
RSA_SCHEMES = [(version, scheme) for version in ("TLSv1.3", "TLSv1.2")
               for scheme in ("rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384",
                              "rsa_pss_rsae_sha512", "rsa_pkcs1_sha256", "rsa_pkcs1_sha384",
                              "rsa_pkcs1_sha512")
               if version == "TLSv1.2" or "pss" in scheme]
# HelloRetryRequest cases for a client sending one key share, for its first group: the
# groups it lists (comma-separated, as the peers' --groups take them), and the one group
# a tlskit server accepts.
RETRY_CASES = [("secp384r1,secp256r1", "secp256r1"), ("secp256r1,x25519", "x25519"),
               ("x25519,secp384r1", "secp384r1")]
# The CertificateVerify scheme a leaf of each key type must produce in TLS 1.3.
SCHEME_FOR_CERT = {"ec256": "ecdsa_secp256r1_sha256", "ec384": "ecdsa_secp384r1_sha384",
                   "rsa2048": "rsa_pss_rsae_sha256", "ed25519": "ed25519"}


def covering_rows() -> list[tuple[str, str, str]]:
    """(group, suite, cert type) rows in which every pair of values from two different
    factors appears at least once: 12 rows instead of the 36 of the full product.

    Row (c, s) takes group (c + s) mod 3. For a fixed suite, c = 0..3 walks all three groups;
    for a fixed cert type, s = 0..2 does; suite x cert is the full product. Twelve is also
    the minimum, since suite x cert alone has 12 combinations."""
    rows = []
    for c, cert in enumerate(CERT_TYPES):
        for s, suite in enumerate(SUITES):
            rows.append((GROUPS[(c + s) % 3], suite, cert))
    return rows


def row_id(row: Sequence[str]) -> str:
    return "-".join(x.replace("TLS_", "").replace("_SHA256", "").replace("_SHA384", "")
                    for x in row)


# --------------------------------------------------------------------------- binaries


# --------------------------------------------------------------------------- the pump


# --------------------------------------------------------------------------- processes


# --------------------------------------------------------------------------- server threads


# --------------------------------------------------------------------------- openssl -trace

HRR_RANDOM_HEX = "CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C"
_RECORD_START = re.compile(r"^(Sent|Received) Record$", re.M)
_HS_MESSAGE = re.compile(r"^ {4}(\w+), Length=\d+$", re.M)
_ALERT = re.compile(r"description=([\w ]+?)\((\d+)\)")
_KEY_UPDATE = re.compile(r"^ +(update_requested|update_not_requested) \(\d\)$", re.M)


@dataclass
class TraceRecord:
    """One record as `openssl s_server/s_client -trace` prints it."""

    direction: str          # "Sent" or "Received"
    content_type: str       # outer type: Handshake, ApplicationData, Alert, ChangeCipherSpec
    inner_type: str | None  # TLS 1.3 inner type of a protected record
    messages: list[str]     # handshake messages, e.g. ["KeyUpdate(update_requested)"]
    text: str

    def summary(self) -> list[str]:
        if self.messages:
            return [f"{self.direction} {m}" for m in self.messages]
        kind = self.inner_type or self.content_type
        alert = _ALERT.search(self.text)
        if alert:
            name = alert.group(1)
            if name == "unknown":  # openssl 3.0's table lacks the TLS 1.3 additions
                name = AlertDescription(int(alert.group(2))).name.replace("_", " ")
            return [f"{self.direction} Alert({name})"]
        return [f"{self.direction} {kind}"]


def _random_hex(block: str) -> str:
    """The 32-byte Random of a Hello, which openssl prints in two parts."""
    found = re.search(r"gmt_unix_time=0x([0-9A-Fa-f]+)\s+random_bytes \(len=28\): "
                      r"([0-9A-Fa-f]+)", block)
    return (found.group(1) + found.group(2)).upper() if found else ""


def parse_openssl_trace(text: str) -> list[TraceRecord]:
    """Split openssl's -trace output into records, in the order they were sent/received."""
    starts = list(_RECORD_START.finditer(text))
    records = []
    for i, start in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        block = text[start.start():end]
        outer = re.search(r"Content Type = (\w+)", block)
        inner = re.search(r"Inner Content Type = (\w+)", block)
        messages = []
        for found in _HS_MESSAGE.finditer(block):
            name = found.group(1)
            if name == "ServerHello" and _random_hex(block) == HRR_RANDOM_HEX:
                name = "HelloRetryRequest"
            elif name == "KeyUpdate":
                ku = _KEY_UPDATE.search(block, found.end())
                name = f"KeyUpdate({ku.group(1) if ku else '?'})"
            messages.append(name)
        records.append(TraceRecord(start.group(1), outer.group(1) if outer else "?",
                                   inner.group(1) if inner else None, messages, block))
    return records


def trace_summary(text: str) -> list[str]:
    """The trace as a flat list like ["Received ClientHello", "Sent ServerHello", ...,
    "Received KeyUpdate(update_requested)", "Sent Alert(close notify)"]."""
    return [line for record in parse_openssl_trace(text) for line in record.summary()]


def trace_field(text: str, message: str, pattern: str, *, direction: str | None = None) -> str:
    """A field inside the first ``message`` block of the trace (optionally only in "Sent"
    or "Received" records), e.g. the NamedGroup of the ServerHello or the Signature
    Algorithm of the CertificateVerify."""
    for record in parse_openssl_trace(text):
        if direction is not None and record.direction != direction:
            continue
        for found in _HS_MESSAGE.finditer(record.text):
            if found.group(1) == message:
                value = re.search(pattern, record.text[found.end():])
                if value:
                    return value.group(1)
    raise AssertionError(f"no {message} with {pattern!r} in the trace:\n{text[-3000:]}")




def ticket_from(config: ClientConfig, port: int, proc: PeerProcess) -> Session:
    """A first, full handshake with the server ``proc`` runs on ``port``; returns the
    session of the first ticket it sends (after an exchange of data, when s_server
    sends its tickets)."""
    first = Pump.connect(config, port)
    try:
        assert not first.handshake().resumed
        first.send(b"first\n")
        proc.wait_for("first")
        tickets = first.wait_event(SessionTicketReceived, "a ticket")
        first.close()
        first.wait_closed()
    finally:
        first.dispose()
    session = tickets[0].session
    assert session is not None, "the ticket came without a resumable session"
    return session


def resume_and_say(config: ClientConfig, port: int, proc: PeerProcess, session: Session,
                   line: bytes) -> HandshakeComplete:
    """A second connection offering ``session``: send ``line``, wait until the server
    ``proc`` printed it, close cleanly; the handshake's outcome."""
    mark = proc.mark()
    second = Pump.connect(config, port, session=session)
    try:
        hc = second.handshake()
        second.send(line)
        proc.wait_for(line.rstrip(b"\n"), since=mark)
        second.close()
        second.wait_closed()
    finally:
        second.dispose()
    return hc


def ems_tracer(step_name: str, seen: list[bool]) -> Callable[[str, dict[str, Any]], None]:
    """A tracer noting whether the ``step_name`` hello (client_hello or server_hello)
    carried extended_master_secret."""

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if step == step_name:
            seen.append(ExtensionType.extended_master_secret in fields["message"].extensions)

    return tracer


class ServerHelloExtensions:
    """A tracer keeping the extension types of the ServerHello a client received (e.g. to
    see whether a TLS 1.2 server negotiated the extended master secret)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def __call__(self, step: str, fields: dict[str, Any]) -> None:
        if step == "server_hello":
            self.seen = set(fields["message"].extensions)


# --------------------------------------------------------------------------- peers written here
# go/tlspeer.go, java/TlsPeer.java and rustls/src/main.rs: their servers print
# "LISTENING <port>", send one JSON line describing the connection, then echo; their
# clients print one JSON line per connection.

ECHO_PAYLOAD = 200_000  # bytes echoed per connection: a dozen full records each way


def listening_peer(peers: Peers, argv: Sequence[Any]) -> tuple[PeerProcess, int]:
    """One of those servers, started; with the port it printed."""
    proc = peers.start(argv)
    return proc, int(proc.wait_for(rb"LISTENING (\d+)\n").group(1))


def run_peer(argv: Sequence[str], status: int) -> str:
    """One of those clients run to completion, which must exit with ``status``; what it
    printed, stdout then stderr (a failure shows all of it)."""
    run = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == status, run.stdout + run.stderr
    return run.stdout + run.stderr


def peer_json_lines(out: str) -> list[dict[str, Any]]:
    """The JSON lines (one per connection) among a client's output."""
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def client_pattern(size: int) -> bytes:
    """What the rustls and Erlang clients send: byte i is i mod 251."""
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def echo_payload(size: int) -> bytes:
    """What `line_then_echo` sends: bytes 0..255 repeated."""
    return bytes(range(256)) * (size // 256)


def line_then_echo(pump: Pump, size: int = ECHO_PAYLOAD) -> dict[str, Any]:
    """The peer server's JSON line, then ``size`` bytes echoed back, then close_notify
    both ways."""
    line = json.loads(pump.recv_until(b"\n"))
    payload = echo_payload(size)
    assert pump.echo_roundtrip(payload) == payload
    pump.close()
    assert pump.wait_closed() == ConnectionClosed(None)
    return line  # type: ignore[no-any-return]


def talk(config: ClientConfig, port: int, size: int = ECHO_PAYLOAD,
         **kw: Any) -> tuple[HandshakeComplete, dict[str, Any]]:
    """One tlskit connection to one of those servers: both sides' view of the handshake,
    after `line_then_echo` (``kw`` goes to `Pump.connect`, e.g. ``server_name``)."""
    pump = Pump.connect(config, port, **kw)
    try:
        hc = pump.handshake()
        return hc, line_then_echo(pump, size)
    finally:
        pump.dispose()


def two_connections(config: ClientConfig, port: int,
                    resumed: str = "resumed") -> list[tuple[bool, bool]]:
    """(tlskit resumed, the peer says it resumed) for two `talk` connections with the same
    config; ``resumed`` is the key of the peer's JSON line that says so."""
    seen = []
    for _ in range(2):
        hc, line = talk(config, port)
        seen.append((hc.resumed, line[resumed]))
    return seen


# tlskit's ALPN preference in both directions; the peer is given http/1.1 first.
ALPN_PREFERENCE = ["h2", "http/1.1"]


def alpn_peer_client_to_tlskit_server(
        peers: Peers, pki: PKI, run_client: Callable[[int], list[dict[str, Any]]]) -> None:
    """The peer's client (``run_client(port)``, its JSON lines) offers http/1.1 then h2 to
    a tlskit server preferring h2: the server chooses (RFC 7301 3.2), so both sides say h2."""
    server = peers.thread(tlskit_server(pki.server_config(alpn_protocols=ALPN_PREFERENCE),
                                        handshake_and_echo))
    (line,) = run_client(server.port)
    (hc,) = server.join()
    assert line["alpn"] == hc.alpn_protocol == "h2"


def alpn_tlskit_client_to_peer_server(pki: PKI, port: int) -> None:
    """tlskit's client prefers h2 and offers http/1.1 too, to a peer server on ``port`` whose
    first (or only) protocol is http/1.1: the server's choice wins on both sides."""
    hc, line = talk(pki.client_config(alpn_protocols=ALPN_PREFERENCE), port)
    assert line["alpn"] == hc.alpn_protocol == "http/1.1"


def both_ways_with_s_server(config: ClientConfig, port: int,
                            proc: PeerProcess) -> tuple[HandshakeComplete, Pump]:
    """A tlskit client to an `openssl s_server`: the handshake, 3000 bytes up (s_server
    prints them) and 5000 down (typed into it), each more than one small record, then
    close_notify both ways. The handshake and the (disposed) pump, for its connection."""
    pump = Pump.connect(config, port)
    try:
        hc = pump.handshake()
        pump.send(b"u" * 3000 + b"\n")
        proc.wait_for(b"u" * 3000 + b"\n")
        proc.write(b"d" * 5000 + b"\n")
        assert pump.recv_exactly(5001) == b"d" * 5000 + b"\n"
        pump.close()
        assert pump.wait_closed() == ConnectionClosed(None)
    finally:
        pump.dispose()
    return hc, pump


def both_ways_with_s_client(client: PeerProcess, server: ServerThread, down: int,
                            up: int) -> None:
    """An `openssl s_client` to a tlskit server thread that sends `down` bytes and then
    echoes (`echo_until_close`): s_client gets them, types `up` bytes that come back,
    closes, and both ends finish cleanly."""
    client.wait_for(b"d" * down + b"\n")
    client.write(b"u" * up + b"\n")
    client.wait_for(b"u" * up + b"\n")
    client.close_stdin()
    assert server.join() == [up + 1]
    assert client.wait() == 0, client.describe()


def handshake_and_echo(pump: Pump) -> HandshakeComplete:
    """tlskit server body: `echo_until_close`, then what the handshake negotiated."""
    echo_until_close(pump)
    hc = pump.conn.handshake_complete
    assert hc is not None
    return hc


def key_update_both_ways(pump: Pump) -> None:
    """After the peer server's JSON line: tlskit's KeyUpdate with update_requested; the
    echo after it must still decrypt, the peer's own KeyUpdate must arrive, and the echo
    after that too; then close_notify both ways."""
    pump.recv_until(b"\n")
    pump.key_update(request_peer_update=True)
    assert pump.echo_roundtrip(b"after the key update\n") == b"after the key update\n"
    pump.wait_key_updated()
    assert pump.echo_roundtrip(b"and again\n") == b"and again\n"
    pump.close()
    assert pump.wait_closed() == ConnectionClosed(None)


def refused_with(server: ServerThread) -> str:
    """The name of the alert a tlskit server thread running `Pump.handshake_error` sent
    its one client."""
    (err,) = server.join()
    assert isinstance(err, TLSError) and err.alert is not None, err
    return err.alert.name


def no_client_certificate_alert(version: str) -> str:
    """What a tlskit server requiring a client certificate sends a client without one:
    certificate_required in TLS 1.3 (RFC 8446 4.4.2.4), handshake_failure in TLS 1.2
    (RFC 5246 7.4.6)."""
    return "certificate_required" if version == "TLSv1.3" else "handshake_failure"


def key_update_then_echo(pump: Pump) -> list[bool]:
    """tlskit server body: a KeyUpdate with update_requested right after the handshake,
    then `echo_until_close`; for each KeyUpdate the peer sent, whether it asked for one."""
    pump.handshake()
    pump.key_update(request_peer_update=True)
    echo_until_close(pump)
    return [ku.peer_requested_update for ku in pump.key_updates_received()]


def echo_and_close_event(pump: Pump) -> tuple[int, ConnectionClosed | None]:
    """tlskit server body: `echo_until_close`; the bytes echoed and how the peer closed."""
    return echo_until_close(pump), pump.closed_event


def line_then_peer_close(config: ClientConfig, port: int) -> None:
    """A new connection to a peer server that closes right after its JSON line: the
    close_notify must arrive (a clean close, answered by tlskit), then the TCP end."""
    pump = Pump.connect(config, port)
    try:
        pump.handshake()
        assert pump.recv_until(b"\n").startswith(b"{")
        assert pump.wait_closed() == ConnectionClosed(None)
        assert pump.read_to_eof() == b""
    finally:
        pump.dispose()


def resume_with_early_data(config: ClientConfig, port: int,
                           early: bytes = b"early bird\n") -> dict[str, Any]:
    """Two connections to a peer server whose tickets allow 0-RTT data: the first gets
    a ticket (``config`` needs a session cache), the second resumes with it and sends
    ``early`` (a line) as 0-RTT data, which the server must take and echo after its JSON
    line; then close_notify both ways. The second connection's JSON line."""
    talk(config, port)
    pump = Pump.connect(config, port, early_data=early)
    try:
        hc = pump.handshake()
        assert isinstance(pump.conn, ClientConnection) and pump.conn.early_data_sent
        assert hc.resumed and hc.early_data_accepted
        line: dict[str, Any] = json.loads(pump.recv_until(b"\n"))
        assert pump.recv_until(b"\n") == early
        pump.close()
        assert pump.wait_closed() == ConnectionClosed(None)
    finally:
        pump.dispose()
    return line


def key_update_on_new_connection(config: ClientConfig, port: int) -> list[KeyUpdated]:
    """`key_update_both_ways` on a new connection to the peer server on ``port``; the
    KeyUpdates tlskit received."""
    pump = Pump.connect(config, port)
    try:
        pump.handshake()
        key_update_both_ways(pump)
        return pump.key_updates_received()
    finally:
        pump.dispose()


def alert_after_handshake(config: ClientConfig, port: int) -> AlertReceived:
    """A TLS 1.3 client finishes its handshake before the server has read its
    Certificate: the handshake completes, then the server's alert ends the connection
    while tlskit reads; that alert."""
    pump = Pump.connect(config, port)
    try:
        pump.handshake()
        with pytest.raises(TLSError) as err:
            pump.recv_until(b"\n")
    finally:
        pump.dispose()
    assert isinstance(err.value, AlertReceived), err.value
    return err.value
