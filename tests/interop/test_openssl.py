"""tlskit against the `openssl` 3.0 binary: s_server and s_client, both directions.

What each peer negotiated is read from its own output: `-trace` decodes every record it
sends and receives (ServerHello group and suite, CertificateVerify scheme, KeyUpdate,
alerts), and s_client's summary states the key exchange, cipher and verification result.

Matrix: the full product groups x suites x certificate types (36 per direction) is cheap
here, so it is run in full instead of a covering design: tlskit -> s_server reuses one
s_server per certificate type (accepting all three groups and suites, while the tlskit
client offers exactly one of each, so the pair under test is forced), and each s_client
is a short-lived process (about 20 ms).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tlskit import (
    AlertDescription,
    AlertReceived,
    ConnectionClosed,
    KeyUpdated,
)

from ..support.peers import PeerProcess
from ..support.pump import Pump, echo_until_close, tlskit_server
from .conftest import PKI, Peers, openssl_field
from .helpers import (
    CERT_TYPES,
    GROUPS,
    OPENSSL_GROUP,
    OPENSSL_TEMP_KEY,
    SCHEME_FOR_CERT,
    SUITES,
    both_ways_with_s_client,
    both_ways_with_s_server,
    parse_openssl_trace,
    resume_and_say,
    ticket_from,
    trace_field,
    trace_summary,
)

pytestmark = pytest.mark.interop

MATRIX = list(itertools.product(GROUPS, SUITES, CERT_TYPES))
MATRIX_IDS = [f"{g}-{s.removeprefix('TLS_')}-{c}" for g, s, c in MATRIX]
MIB = 1 << 20

# Fields of openssl's -trace output.
SH_GROUP = r"NamedGroup: (?:ecdh_)?(\w+)"
SH_SUITE = r"cipher_suite \{[^}]*\} (\w+)"
CV_SCHEME = r"Signature Algorithm: (\w+)"


def _steps(log: list[str]) -> Callable[[str, dict[str, object]], None]:
    """A tlskit tracer that records the step names."""
    return lambda step, fields: log.append(step)


@pytest.fixture(scope="module")
def s_servers(pki: PKI) -> Iterator[Callable[[str], tuple[PeerProcess, int]]]:
    """One long-lived `s_server -trace` per certificate type, all groups and suites on."""
    peers = Peers()
    running: dict[str, tuple[PeerProcess, int]] = {}

    def get(kind: str) -> tuple[PeerProcess, int]:
        if kind not in running or running[kind][0].proc.poll() is not None:
            running[kind] = peers.openssl_server(
                pki, kind, "-trace", "-groups", "X25519:P-256:P-384",
                "-ciphersuites", ":".join(SUITES))
        return running[kind]

    yield get
    peers.close()


# --------------------------------------------------------------------------- the matrix


@pytest.mark.parametrize(("group", "suite", "kind"), MATRIX, ids=MATRIX_IDS)
def test_tlskit_client_to_s_server(s_servers: Callable[[str], tuple[PeerProcess, int]],
                                   pki: PKI, group: str, suite: str, kind: str) -> None:
    proc, port = s_servers(kind)
    mark = proc.mark()
    pump = Pump.connect(pki.client_config(groups=[group], cipher_suites=[suite]), port)
    try:
        hc = pump.handshake()
        assert (hc.version, hc.group.name, hc.cipher_suite.name, hc.signature_scheme.name) == (
            "TLSv1.3", group, suite, SCHEME_FOR_CERT[kind])
        assert hc.peer_certificates[0] == pki.issued[kind].certificate
        token = f"ping {group} {suite} {kind}\n"
        pump.send(token.encode())
        proc.wait_for(token, since=mark)
        pump.close()
        assert pump.wait_closed() == ConnectionClosed(None)
    finally:
        pump.dispose()
    closing = ["Received Alert(close notify)", "Sent Alert(close notify)"]
    proc.wait_until(lambda: trace_summary(proc.text_since(mark))[-2:] == closing,
                    "s_server's close_notify exchange")
    trace = proc.text_since(mark)
    assert trace_field(trace, "ServerHello", SH_GROUP) == group
    assert trace_field(trace, "ServerHello", SH_SUITE) == suite
    assert trace_field(trace, "CertificateVerify", CV_SCHEME) == SCHEME_FOR_CERT[kind]
    assert "Sent HelloRetryRequest" not in trace_summary(trace)


@pytest.mark.parametrize(("group", "suite", "kind"), MATRIX, ids=MATRIX_IDS)
def test_s_client_to_tlskit_server(peers: Peers, pki: PKI, group: str, suite: str,
                                   kind: str) -> None:
    def body(pump: Pump) -> tuple[object, bytes, ConnectionClosed]:
        hc = pump.handshake()
        pump.send(b"hello from tlskit\n")
        line = pump.recv_until(b"\n")
        pump.close()
        return hc, line, pump.wait_closed()

    server = peers.thread(tlskit_server(
        pki.server_config(kind, groups=[group], cipher_suites=[suite]), body))
    client = peers.openssl_client(pki, server.port, "-groups", OPENSSL_GROUP[group],
                                  "-ciphersuites", suite, "-trace")
    client.wait_for("hello from tlskit")
    client.write(b"ping\n")
    [(hc, line, closed)] = server.join()
    assert client.wait() == 0, client.describe()
    assert (hc.version, hc.group.name, hc.cipher_suite.name, hc.signature_scheme.name) == (
        "TLSv1.3", group, suite, SCHEME_FOR_CERT[kind])
    assert hc.server_name == "localhost"
    assert line == b"ping\n"
    assert closed == ConnectionClosed(None)
    out = client.stdout
    assert openssl_field(out, r"Server Temp Key: ([^\n]+?), \d+ bits") == OPENSSL_TEMP_KEY[group]
    assert openssl_field(out, r"New, (TLSv1\.3), Cipher is (?:\S+)") == "TLSv1.3"
    assert openssl_field(out, r"Cipher is (\S+)") == suite
    assert openssl_field(out, r"Verification: (\w+)") == "OK"
    assert openssl_field(out, r"Verified peername: (\S+)") == "localhost"
    assert trace_field(out, "CertificateVerify", CV_SCHEME) == SCHEME_FOR_CERT[kind]
    summary = trace_summary(out)
    assert "Received HelloRetryRequest" not in summary
    assert "Received Alert(close notify)" in summary
    assert summary[-1] == "Sent Alert(close notify)", summary


# --------------------------------------------------------------------------- 1 MiB each way


def test_bulk_both_ways_tlskit_client_s_server(peers: Peers, pki: PKI) -> None:
    """1 MiB tlskit -> s_server (compared with what s_server prints) and 1 MiB
    s_server -> tlskit (typed into s_server's stdin). -quiet turns off s_server's command
    letters, so random bytes go through untouched."""
    proc, port = peers.openssl_server(pki, "rsa2048", "-quiet")
    up, down = os.urandom(MIB), os.urandom(MIB)
    pump = Pump.connect(pki.client_config(), port)
    try:
        pump.handshake()
        pump.send(up)
        proc.wait_until(lambda: proc.mark() >= MIB, "1 MiB on s_server's stdout")
        assert proc.stdout_bytes == up
        proc.write_in_background(down)
        assert pump.recv_exactly(MIB) == down
        pump.close()
        assert pump.wait_closed() == ConnectionClosed(None)
    finally:
        pump.dispose()


def test_http_fetch_from_s_server_www(peers: Peers, pki: PKI, tmp_path: Path) -> None:
    """`s_server -WWW` serves a 1 MiB file; s_server closes with close_notify."""
    body = os.urandom(MIB)
    (tmp_path / "big.bin").write_bytes(body)
    _proc, port = peers.openssl_server(pki, "ec384", "-WWW", "-http_server_binmode",
                                      cwd=tmp_path)
    pump = Pump.connect(pki.client_config(alpn_protocols=["http/1.1"]), port)
    try:
        pump.handshake()
        pump.send(b"GET /big.bin HTTP/1.0\r\nHost: localhost\r\n\r\n")
        response = pump.read_to_eof()
        assert pump.closed_event == ConnectionClosed(None)
    finally:
        pump.dispose()
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 ok")
    assert payload == body


def test_http_status_page_from_s_server_www_lowercase(peers: Peers, pki: PKI) -> None:
    """`s_server -www` answers GET / with a status page describing the session as it
    sees it: protocol and cipher must match what tlskit reports."""
    _proc, port = peers.openssl_server(pki, "ed25519", "-www")
    pump = Pump.connect(pki.client_config(cipher_suites=["TLS_CHACHA20_POLY1305_SHA256"]),
                        port)
    try:
        hc = pump.handshake()
        pump.send(b"GET / HTTP/1.0\r\n\r\n")
        page = pump.read_to_eof().decode(errors="replace")
    finally:
        pump.dispose()
    assert page.startswith("HTTP/1.0 200 ok")
    assert openssl_field(page, r"New, (TLSv1\.3), Cipher is") == "TLSv1.3"
    assert openssl_field(page, r"Cipher is (\S+)") == hc.cipher_suite.name


def test_bulk_s_client_through_tlskit_echo(peers: Peers, pki: PKI) -> None:
    """1 MiB piped into s_client's stdin goes to a tlskit echo server and must come back
    out of s_client's stdout byte for byte (-quiet: stdout carries only the data;
    -nocommands: no byte is taken for a command letter)."""
    payload = os.urandom(MIB)

    def echo(pump: Pump) -> int:
        pump.handshake()
        echoed = 0
        while echoed < MIB:
            pump.run_until(lambda: pump.data, "data to echo")
            chunk = bytes(pump.data)
            pump.data.clear()
            pump.conn.send_data(chunk)
            echoed += len(chunk)
        pump.close()
        pump.wait_closed()
        return echoed

    server = peers.thread(tlskit_server(pki.server_config("ec256"), echo))
    client = peers.openssl_client(pki, server.port, "-quiet", "-nocommands")
    client.write_in_background(payload)
    assert server.join() == [MIB]
    assert client.wait() == 0, client.describe()
    assert client.stdout_bytes == payload


# --------------------------------------------------------------------------- ALPN, HRR


def test_alpn_tlskit_client_s_server(peers: Peers, pki: PKI) -> None:
    proc, port = peers.openssl_server(pki, "ec256", "-alpn", "http/1.1,h2")
    hc = Pump.handshake_once(pki.client_config(alpn_protocols=["h2", "http/1.1"]), port)
    # s_server picks by its own preference among what the client offered.
    assert hc.alpn_protocol == "http/1.1"
    proc.wait_for(r"ALPN protocols advertised by the client: h2, http/1\.1")


def test_alpn_s_client_tlskit_server(peers: Peers, pki: PKI) -> None:
    server = peers.thread(tlskit_server(
        pki.server_config("ec256", alpn_protocols=["h2", "http/1.1"]), Pump.handshake_and_close))
    client = peers.openssl_client(pki, server.port, "-alpn", "http/1.1,h2")
    [hc] = server.join()
    client.wait()
    assert hc.alpn_protocol == "h2"  # the server's preference
    assert openssl_field(client.stdout, r"ALPN protocol: (\S+)") == "h2"


def test_hello_retry_tlskit_client_s_server(peers: Peers, pki: PKI) -> None:
    """tlskit shares x25519 only; s_server accepts only P-384 and must ask again."""
    proc, port = peers.openssl_server(pki, "ec384", "-groups", "P-384", "-trace")
    steps: list[str] = []
    config = pki.client_config(groups=["x25519", "secp384r1"], key_share_groups=["x25519"],
                               tracer=_steps(steps))
    pump = Pump.connect(config, port)
    try:
        hc = pump.handshake()
        pump.send(b"after hrr\n")
        proc.wait_for("after hrr")
        pump.close()
        pump.wait_closed()
    finally:
        pump.dispose()
    assert hc.group.name == "secp384r1"
    assert steps.count("client_hello") == 2 and "hello_retry_request" in steps
    summary = trace_summary(proc.stdout)
    assert summary[:4] == ["Received ClientHello", "Sent HelloRetryRequest",
                           "Sent ChangeCipherSpec", "Received ChangeCipherSpec"], summary
    assert summary[4:6] == ["Received ClientHello", "Sent ServerHello"], summary
    assert trace_field(proc.stdout, "ServerHello",
                       SH_GROUP) == "secp384r1"


def test_hello_retry_s_client_tlskit_server(peers: Peers, pki: PKI) -> None:
    """s_client offers x25519:P-256 with an x25519 share only; tlskit wants P-256."""
    steps: list[str] = []

    def body(pump: Pump) -> object:
        hc = pump.handshake()
        pump.send(b"after hrr\n")
        pump.close()
        pump.wait_closed()
        return hc

    server = peers.thread(tlskit_server(
        pki.server_config("ec256", groups=["secp256r1"], tracer=_steps(steps)), body))
    client = peers.openssl_client(pki, server.port, "-groups", "X25519:P-256", "-trace")
    [hc] = server.join()
    assert client.wait() == 0, client.describe()
    assert hc.group.name == "secp256r1"
    assert steps.count("client_hello") == 2 and "hello_retry_request" in steps
    out = client.stdout
    summary = trace_summary(out)
    assert summary[:2] == ["Sent ClientHello", "Received HelloRetryRequest"], summary
    assert summary.count("Sent ClientHello") == 2
    assert "after hrr" in out
    assert openssl_field(out, r"Server Temp Key: ([^\n]+?), \d+ bits") == "ECDH, prime256v1"


# --------------------------------------------------------------------------- KeyUpdate


def _key_updates(trace: str) -> list[str]:
    return [s for s in trace_summary(trace) if "KeyUpdate" in s]


def _key_update_lines(first: str, requested: bool) -> list[str]:
    """What openssl's trace shows for one KeyUpdate it saw ``first`` ("Received" or
    "Sent"), and the answer in the other direction when an update was requested."""
    asked = "update_requested" if requested else "update_not_requested"
    answer = "Sent" if first == "Received" else "Received"
    return [f"{first} KeyUpdate({asked})"] + (
        [f"{answer} KeyUpdate(update_not_requested)"] if requested else [])


def _trace_until_close(proc: PeerProcess, mark: int) -> str:
    """s_server's trace from ``mark`` up to tlskit's close_notify, the last record of the
    connection: everything before it is then certainly printed (and read)."""
    proc.wait_until(lambda: "Received Alert(close notify)" in
                    trace_summary(proc.text_since(mark)), "tlskit's close_notify in the trace")
    return proc.text_since(mark)


def _key_update_with_s_server(peers: Peers, pki: PKI, cert: str,
                              middle: Callable[[Pump, PeerProcess], None],
                              answer: bytes) -> tuple[list[KeyUpdated], list[str]]:
    """A tlskit client says b"hello\\n" to `openssl s_server -trace`, then runs `middle`,
    sends b"after-key-update\\n" (s_server reads it only under the new keys) and must
    read s_server's `answer`. Returns the client's KeyUpdated events and the KeyUpdate
    lines of s_server's trace from `middle` on."""
    proc, port = peers.openssl_server(pki, cert, "-trace")
    pump = Pump.connect(pki.client_config(), port)
    try:
        pump.handshake()
        pump.send(b"hello\n")
        proc.wait_for("hello")
        mark = proc.mark()
        middle(pump, proc)
        pump.send(b"after-key-update\n")
        proc.wait_for("after-key-update", since=mark)
        proc.write(answer)
        assert pump.recv_exactly(len(answer)) == answer
        updates = pump.key_updates_received()
        pump.close()
        pump.wait_closed()
    finally:
        pump.dispose()
    return updates, _key_updates(_trace_until_close(proc, mark))


@pytest.mark.parametrize("request_peer", [True, False], ids=["requested", "not-requested"])
def test_key_update_by_tlskit_client(peers: Peers, pki: PKI, request_peer: bool) -> None:
    """s_server answers a requested update before it writes the reply."""
    def tlskit_updates(pump: Pump, _proc: PeerProcess) -> None:
        pump.key_update(request_peer_update=request_peer)

    updates, trace = _key_update_with_s_server(peers, pki, "ec256", tlskit_updates, b"reply\n")
    assert updates == ([KeyUpdated(peer_requested_update=False)] if request_peer else [])
    assert trace == _key_update_lines("Received", request_peer)


@pytest.mark.parametrize("letter", ["k", "K"])
def test_key_update_by_s_server(peers: Peers, pki: PKI, letter: str) -> None:
    """s_server's `k` sends KeyUpdate(update_not_requested), `K` (update_requested); the
    reply after it comes under s_server's new keys."""
    requested = letter == "K"

    def s_server_updates(pump: Pump, proc: PeerProcess) -> None:
        proc.write(f"{letter}\n".encode())
        pump.wait_key_updated()
        assert pump.key_updates_received() == [KeyUpdated(peer_requested_update=requested)]

    updates, trace = _key_update_with_s_server(peers, pki, "ec384", s_server_updates,
                                               b"more\n")
    assert updates == [KeyUpdated(peer_requested_update=requested)]
    assert trace == _key_update_lines("Sent", requested)


def _key_update_with_s_client(peers: Peers, pki: PKI, cert: str, trigger: bytes,
                              middle: Callable[[Pump], None],
                              answer: bytes) -> tuple[list[KeyUpdated], list[str]]:
    """A tlskit server sends b"hello\\n" to `openssl s_client -trace`, which then types
    `trigger`; the server runs `middle`, sends b"after-key-update\\n" and must get `answer`
    back. Returns the server's KeyUpdated events and the KeyUpdate lines of s_client's
    trace from `trigger` on."""
    def body(pump: Pump) -> list[KeyUpdated]:
        pump.handshake()
        pump.send(b"hello\n")
        middle(pump)
        pump.send(b"after-key-update\n")
        assert pump.recv_until(b"\n") == answer
        pump.close()
        pump.wait_closed()
        return pump.key_updates_received()

    server = peers.thread(tlskit_server(pki.server_config(cert), body))
    client = peers.openssl_client(pki, server.port, "-trace")
    client.wait_for("hello")
    mark = client.mark()
    client.write(trigger)
    client.wait_for("after-key-update", since=mark)
    client.write(answer)
    [updates] = server.join()
    client.wait()
    return updates, _key_updates(client.text_since(mark))


@pytest.mark.parametrize("letter", ["k", "K"])
def test_key_update_by_s_client(peers: Peers, pki: PKI, letter: str) -> None:
    requested = letter == "K"
    updates, trace = _key_update_with_s_client(
        peers, pki, "rsa2048", f"{letter}\n".encode(), Pump.wait_key_updated, b"more\n")
    assert updates == [KeyUpdated(peer_requested_update=requested)]
    assert trace == _key_update_lines("Sent", requested)


def test_key_update_by_tlskit_server(peers: Peers, pki: PKI) -> None:
    def update_on_go(pump: Pump) -> None:
        assert pump.recv_until(b"\n") == b"go\n"
        pump.key_update(request_peer_update=True)

    updates, trace = _key_update_with_s_client(
        peers, pki, "ed25519", b"go\n", update_on_go, b"reply\n")
    assert updates == [KeyUpdated(peer_requested_update=False)]
    assert trace == [
        "Received KeyUpdate(update_requested)", "Sent KeyUpdate(update_not_requested)"]


def test_key_update_request_answered_after_own_request(peers: Peers, pki: PKI) -> None:
    """RFC 8446 4.6.3: a KeyUpdate(update_requested) MUST be answered with a KeyUpdate
    before the next application data. Here tlskit first asks for an update itself (which
    s_server answers), and s_server later asks with `K`: tlskit must answer that too."""
    proc, port = peers.openssl_server(pki, "ec256", "-trace")
    pump = Pump.connect(pki.client_config(), port)
    try:
        pump.handshake()
        pump.key_update(request_peer_update=True)
        pump.send(b"one\n")
        proc.wait_for("one")
        proc.write(b"two\n")
        assert pump.recv_exactly(4) == b"two\n"
        assert pump.key_updates_received() == [KeyUpdated(peer_requested_update=False)]
        mark = proc.mark()
        proc.write(b"K\n")
        pump.wait_key_updated(2)
        assert pump.key_updates_received()[1] == KeyUpdated(peer_requested_update=True)
        pump.send(b"three\n")
        proc.wait_for("three", since=mark)
        pump.close()
        pump.wait_closed()
    finally:
        pump.dispose()
    # s_server's trace can lag behind the mark, so an earlier line may show up after it:
    # only the last two key updates are this exchange.
    assert _key_updates(_trace_until_close(proc, mark))[-2:] == [
        "Sent KeyUpdate(update_requested)", "Received KeyUpdate(update_not_requested)"]


# --------------------------------------------------------------------------- close_notify


def test_close_by_s_server(peers: Peers, pki: PKI) -> None:
    """s_server ends an HTTP (-www) exchange with close_notify: tlskit reports a clean close
    and queues its own close_notify in answer. (s_server's interactive `q`/`Q` close the
    socket before SSL_shutdown, so they send no close_notify at all.)"""
    proc, port = peers.openssl_server(pki, "ec256", "-www", "-trace")
    pump = Pump.connect(pki.client_config(), port)
    try:
        pump.handshake()
        pump.send(b"GET / HTTP/1.0\r\n\r\n")
        page = pump.read_to_eof()
        assert page.startswith(b"HTTP/1.0 200 ok")
        assert pump.closed_event == ConnectionClosed(None)
        assert pump.conn.closed  # tlskit answered with its own close_notify
    finally:
        pump.dispose()
    proc.wait_until(lambda: "Sent Alert(close notify)" in trace_summary(proc.stdout),
                    "s_server's close_notify in its trace")


def test_close_by_s_client(peers: Peers, pki: PKI) -> None:
    """s_client sends close_notify when its stdin ends; tlskit sees ConnectionClosed(None)."""

    def body(pump: Pump) -> ConnectionClosed:
        pump.handshake()
        pump.send(b"hello\n")
        closed = pump.wait_closed()
        assert pump.conn.closed
        return closed

    server = peers.thread(tlskit_server(pki.server_config("ec384"), body))
    client = peers.openssl_client(pki, server.port, "-trace")
    client.wait_for("hello")
    client.close_stdin()
    assert server.join() == [ConnectionClosed(None)]
    assert client.wait() == 0, client.describe()
    assert "Sent Alert(close notify)" in trace_summary(client.stdout)


def test_close_by_tlskit_server(peers: Peers, pki: PKI) -> None:
    """tlskit's close_notify makes s_client report a clean close and exit 0."""

    def body(pump: Pump) -> ConnectionClosed:
        pump.handshake()
        return pump.send_and_close(b"bye\n")

    server = peers.thread(tlskit_server(pki.server_config("ed25519"), body))
    client = peers.openssl_client(pki, server.port, "-trace")
    assert server.join() == [ConnectionClosed(None)]
    assert client.wait() == 0, client.describe()
    summary = trace_summary(client.stdout)
    assert "Received Alert(close notify)" in summary
    assert summary[-1] == "Sent Alert(close notify)"
    assert "bye" in client.stdout


# --------------------------------------------------------------------------- record layer


def test_padded_fragmented_records_from_s_server(peers: Peers, pki: PKI) -> None:
    """s_server pads every record to a multiple of 512 bytes and fragments at 512: the
    RSA server flight spans several records, and every record carries padding."""
    proc, port = peers.openssl_server(pki, "rsa2048", "-record_padding", "512",
                                      "-max_send_frag", "512")
    hc, _ = both_ways_with_s_server(pki.client_config(), port, proc)
    assert hc.signature_scheme.name == "rsa_pss_rsae_sha256"


def test_padded_fragmented_records_from_s_client(peers: Peers, pki: PKI) -> None:
    def body(pump: Pump) -> int:
        pump.handshake()
        pump.send(b"d" * 5000 + b"\n")
        return echo_until_close(pump)

    server = peers.thread(tlskit_server(pki.server_config("rsa2048"), body))
    client = peers.openssl_client(pki, server.port, "-record_padding", "512",
                                  "-max_send_frag", "512")
    both_ways_with_s_client(client, server, 5000, 3000)


# --------------------------------------------------------------------------- client auth


def test_client_certificate_to_s_server(peers: Peers, pki: PKI) -> None:
    """s_server -Verify demands a client certificate and checks it against the root."""
    issued, _files = pki.client_cert("alice", "ed25519")
    proc, port = peers.openssl_server(pki, "ec256", "-Verify", "2", "-CAfile",
                                      str(pki.root_pem), "-verify_return_error", "-trace")
    config = pki.client_config(issued)
    pump = Pump.connect(config, port)
    try:
        pump.handshake()
        pump.send(b"authenticated\n")
        proc.wait_for("authenticated")
        pump.close()
        pump.wait_closed()
    finally:
        pump.dispose()
    out = proc.stdout
    assert openssl_field(out, r"subject=(CN ?= ?alice)").replace(" ", "") == "CN=alice"
    summary = trace_summary(out)
    assert "Sent CertificateRequest" in summary
    assert summary.count("Received Certificate") == 1
    assert summary.count("Received CertificateVerify") == 1
    assert trace_field(out, "CertificateVerify", CV_SCHEME, direction="Received") == "ed25519"


def test_client_certificate_from_s_client(peers: Peers, pki: PKI) -> None:
    """A tlskit server with client_auth="required" verifies s_client's chain."""
    _issued, files = pki.client_cert("bob", "rsa2048")

    def body(pump: Pump) -> list[str]:
        hc = pump.handshake()
        echo_until_close(pump)
        return [c.subject.rfc4514_string() for c in hc.peer_certificates]

    config = pki.server_config_requiring_a_client("ec256")
    server = peers.thread(tlskit_server(config, body))
    client = peers.openssl_client(pki, server.port, "-cert", str(files.leaf),
                                  "-cert_chain", str(files.chain), "-key", str(files.key))
    client.wait_for("Verify return code")
    client.write(b"hi\n")
    client.wait_for("hi\n")
    client.close_stdin()
    [subjects] = server.join()
    assert client.wait() == 0, client.describe()
    assert subjects[0] == "CN=bob"
    assert subjects[1] == pki.ca.intermediate.subject.rfc4514_string()


# --------------------------------------------------------------------------- alerts


def test_alert_from_s_server_no_common_group(peers: Peers, pki: PKI) -> None:
    proc, port = peers.openssl_server(pki, "ec256", "-groups", "P-521", "-trace")
    error = Pump.failed_handshake(pki.client_config(groups=["x25519"]), port)
    assert isinstance(error, AlertReceived)
    assert error.alert == AlertDescription.handshake_failure
    proc.wait_until(lambda: trace_summary(proc.stdout)[-1:] == ["Sent Alert(handshake failure)"],
                    "s_server's handshake_failure alert")


@pytest.mark.parametrize(("server_kw", "client_args", "alert"), [
    ({"groups": ["secp521r1"]}, ["-groups", "X25519"], AlertDescription.handshake_failure),
    ({"alpn_protocols": ["h2"]}, ["-alpn", "foo"], AlertDescription.no_application_protocol),
], ids=["no-common-group", "no-common-alpn"])
def test_alert_to_s_client(peers: Peers, pki: PKI, server_kw: dict[str, Any],
                           client_args: list[str], alert: AlertDescription) -> None:
    server = peers.thread(tlskit_server(pki.server_config("ec256", **server_kw),
                                        Pump.handshake_error))
    client = peers.openssl_client(pki, server.port, *client_args, "-trace")
    [error] = server.join()
    assert client.wait() != 0
    assert error.alert == alert
    words = alert.name.replace("_", " ")
    assert trace_summary(client.stdout)[-1] == f"Received Alert({words})"


def test_alert_to_s_client_certificate_required(peers: Peers, pki: PKI) -> None:
    config = pki.server_config_requiring_a_client("ec256")
    server = peers.thread(tlskit_server(config, Pump.handshake_error))
    client = peers.openssl_client(pki, server.port, "-trace")
    [error] = server.join()
    client.close_stdin()
    client.wait()
    assert error.alert == AlertDescription.certificate_required
    assert trace_summary(client.stdout)[-1] == "Received Alert(certificate required)"


def test_alert_from_tlskit_client_rejecting_certificate(peers: Peers, pki: PKI) -> None:
    """tlskit refuses a certificate that does not name the host; s_server is told why."""
    proc, port = peers.openssl_server(pki, "ec256", "-trace")
    error = Pump.failed_handshake(pki.client_config(), port, server_name="wrong.example")
    assert error.alert == AlertDescription.bad_certificate
    proc.wait_until(lambda: "Received Alert(bad certificate)" in trace_summary(proc.stdout),
                    "s_server receiving bad_certificate")
    # RFC 8446 6: alerts are protected by the current keys, here the client handshake key.
    alert = parse_openssl_trace(proc.stdout)[-1]
    assert (alert.content_type, alert.inner_type) == ("ApplicationData", "Alert")


def test_alert_from_s_client_rejecting_certificate(peers: Peers, pki: PKI) -> None:
    """s_client refuses tlskit's certificate (wrong host name) with a bad_certificate alert.
    OpenSSL's client sends it in plaintext (it installs its handshake write key only when
    it sends its second flight), and servers are expected to read it: OpenSSL's own server
    accepts a plaintext alert until the client's first protected record. tlskit must
    report the peer's bad_certificate, not fail on the record type."""

    server = peers.thread(tlskit_server(pki.server_config("ec256"), Pump.handshake_error))
    client = peers.openssl_client(pki, server.port, "-verify_hostname", "wrong.example",
                                  "-trace")
    [error] = server.join()
    assert client.wait() != 0
    assert trace_summary(client.stdout)[-1] == "Sent Alert(bad certificate)"
    assert isinstance(error, AlertReceived), repr(error)
    assert error.alert == AlertDescription.bad_certificate


# ------------------------------------------------------------------- compat mode, resumption


def test_without_middlebox_compatibility_both_ways(peers: Peers, pki: PKI) -> None:
    """RFC 8446 D.4 compatibility mode off on both sides: no session id echo, no CCS."""
    proc, port = peers.openssl_server(pki, "ec256", "-no_middlebox", "-trace")
    Pump.handshake_once(pki.client_config(middlebox_compat=False), port)
    summary = trace_summary(_trace_until_close(proc, 0))
    assert not [s for s in summary if "ChangeCipherSpec" in s], summary

    server = peers.thread(tlskit_server(pki.server_config("ec256"), echo_until_close))
    client = peers.openssl_client(pki, server.port, "-no_middlebox", "-trace")
    client.wait_for("Verify return code")
    client.close_stdin()
    assert server.join() == [0]
    assert client.wait() == 0, client.describe()
    assert not [s for s in trace_summary(client.stdout) if "ChangeCipherSpec" in s]


def test_resumption_tlskit_client_s_server(peers: Peers, pki: PKI) -> None:
    """A ticket from s_server resumes a second connection (PSK with (EC)DHE)."""
    proc, port = peers.openssl_server(pki, "ec384", "-trace")
    session = ticket_from(pki.client_config(), port, proc)
    mark = proc.mark()
    hc = resume_and_say(pki.client_config(), port, proc, session, b"second\n")
    assert hc.resumed
    trace = _trace_until_close(proc, mark)
    assert "Sent Certificate" not in trace_summary(trace)
    assert trace_field(trace, "ServerHello", r"extension_type=(psk)\(41\)") == "psk"


def test_resumption_s_client_tlskit_server(peers: Peers, pki: PKI) -> None:
    """s_client stores tlskit's ticket (-sess_out) and resumes with it (-sess_in)."""

    def body(pump: Pump) -> bool:
        hc = pump.handshake()
        pump.send(b"ticket sent\n")
        echo_until_close(pump)
        return hc.resumed

    server = peers.thread(tlskit_server(pki.server_config("ed25519"), body, count=2))
    session_file = pki.directory / f"s_client-session-{server.port}.pem"
    first = peers.openssl_client(pki, server.port, "-sess_out", str(session_file))
    first.wait_for("ticket sent")
    first.close_stdin()
    assert first.wait() == 0, first.describe()
    second = peers.openssl_client(pki, server.port, "-sess_in", str(session_file))
    second.wait_for("ticket sent")
    second.close_stdin()
    assert second.wait() == 0, second.describe()
    assert server.join() == [False, True]
    assert "New, TLSv1.3" in first.stdout
    assert openssl_field(second.stdout, r"(Reused), TLSv1\.3") == "Reused"
