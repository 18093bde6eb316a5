"""tlskit against CPython's `ssl` module (OpenSSL 3.0 underneath), both directions, over
real sockets: the ssl side runs in a thread (server) or in the test itself (client).

Python 3.11's ssl cannot restrict TLS 1.3 cipher suites, cannot report the negotiated
group or signature scheme and cannot send a KeyUpdate. So suites and groups are forced
from the tlskit side (a client that offers one of each, a server that accepts one), the
ssl side is checked for what it can report (version, cipher, ALPN, the verified peer),
and KeyUpdate is only initiated by tlskit (ssl must answer a requested one). The one
group control ssl has, ``set_ecdh_curve``, narrows OpenSSL's group list to that single
curve, which is how the ssl client is made to share P-256 or P-384 directly.

Matrix: `covering_rows()`, 12 (group, suite, certificate) rows per direction in which
every pair of values appears; ssl runs in-process, but the full product would add 48
handshakes that exercise nothing the openssl-binary matrix does not already cover.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Callable
from typing import Any

import pytest

from tlskit import ConnectionClosed, KeyUpdated

from ..support.ports import HOST, TIMEOUT
from ..support.pump import Pump, ServerThread, echo_until_close, tlskit_server
from .conftest import PKI, Peers
from .helpers import SCHEME_FOR_CERT, covering_rows, row_id

pytestmark = pytest.mark.interop

ROWS = covering_rows()
ROW_IDS = [row_id(r) for r in ROWS]
MIB = 1 << 20
SSL_CURVE = {"secp256r1": "prime256v1", "secp384r1": "secp384r1"}


def ssl_server_context(pki: PKI, kind: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    files = pki.files[kind]
    ctx.load_cert_chain(files.fullchain, files.key)
    return ctx


def ssl_client_context(pki: PKI) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies chain and hostname
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(cafile=str(pki.root_pem))
    return ctx


def ssl_server(peers: Peers, ctx: ssl.SSLContext,
               body: Callable[[ssl.SSLSocket], Any]) -> ServerThread:
    """A one-connection ssl server thread; ``body`` gets the handshaken SSLSocket."""

    def handle(sock: socket.socket) -> Any:
        sock.settimeout(TIMEOUT)
        with ctx.wrap_socket(sock, server_side=True) as tls:
            return body(tls)

    return peers.thread(ServerThread(handle))


def ssl_connect(ctx: ssl.SSLContext, port: int) -> ssl.SSLSocket:
    sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
    return ctx.wrap_socket(sock, server_hostname="localhost")


def recv_exactly(tls: ssl.SSLSocket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = tls.recv(min(n - len(buf), 1 << 16))
        assert chunk, f"connection closed after {len(buf)} of {n} bytes"
        buf += chunk
    return bytes(buf)


def ssl_echo(tls: ssl.SSLSocket) -> dict[str, Any]:
    """Echo until the peer's close_notify (recv() == b""), then answer it with unwrap()."""
    info = {"version": tls.version(), "cipher": tls.cipher()[0],
            "alpn": tls.selected_alpn_protocol()}
    total = 0
    while data := tls.recv(1 << 16):  # SSLEOFError here would mean no close_notify
        tls.sendall(data)
        total += len(data)
    tls.unwrap()
    info["echoed"] = total
    return info


def _steps(log: list[str]) -> Callable[[str, dict[str, object]], None]:
    return lambda step, fields: log.append(step)


# --------------------------------------------------------------------------- the matrix


@pytest.mark.parametrize(("group", "suite", "kind"), ROWS, ids=ROW_IDS)
def test_tlskit_client_to_ssl_server(peers: Peers, pki: PKI, group: str, suite: str,
                                     kind: str) -> None:
    server = ssl_server(peers, ssl_server_context(pki, kind), ssl_echo)
    pump = Pump.connect(pki.client_config(groups=[group], cipher_suites=[suite]), server.port)
    try:
        hc = pump.handshake()
        assert pump.echo_roundtrip(b"ping " * 100) == b"ping " * 100
        pump.close()
        assert pump.wait_closed() == ConnectionClosed(None)
    finally:
        pump.dispose()
    [info] = server.join()
    assert (hc.version, hc.group.name, hc.cipher_suite.name, hc.signature_scheme.name) == (
        "TLSv1.3", group, suite, SCHEME_FOR_CERT[kind])
    assert (info["version"], info["cipher"], info["echoed"]) == ("TLSv1.3", suite, 500)


@pytest.mark.parametrize(("group", "suite", "kind"), ROWS, ids=ROW_IDS)
def test_ssl_client_to_tlskit_server(peers: Peers, pki: PKI, group: str, suite: str,
                                     kind: str) -> None:
    def body(pump: Pump) -> tuple[Any, dict[str, object], int]:
        echoed = echo_until_close(pump)
        return pump.conn.handshake_complete, pump.conn.client_offer, echoed

    server = peers.thread(tlskit_server(
        pki.server_config(kind, groups=[group], cipher_suites=[suite]), body))
    ctx = ssl_client_context(pki)
    if group in SSL_CURVE:
        ctx.set_ecdh_curve(SSL_CURVE[group])
    with ssl_connect(ctx, server.port) as tls:
        version, cipher = tls.version(), tls.cipher()[0]
        subject = dict(x[0] for x in tls.getpeercert()["subject"])
        tls.sendall(b"ping " * 100)
        assert recv_exactly(tls, 500) == b"ping " * 100
        tls.unwrap()  # returns once tlskit has answered our close_notify
    [(hc, offer, echoed)] = server.join()
    assert (version, cipher, subject["commonName"]) == ("TLSv1.3", suite, "localhost")
    assert (hc.version, hc.group.name, hc.cipher_suite.name, hc.signature_scheme.name) == (
        "TLSv1.3", group, suite, SCHEME_FOR_CERT[kind])
    assert offer["key_shares"] == [group]  # no HelloRetryRequest was needed
    assert echoed == 500


# --------------------------------------------------------------------------- 1 MiB each way


def test_bulk_tlskit_client_ssl_echo(peers: Peers, pki: PKI) -> None:
    payload = os.urandom(MIB)
    server = ssl_server(peers, ssl_server_context(pki, "ec384"), ssl_echo)
    pump = Pump.connect(pki.client_config(), server.port)
    try:
        pump.handshake()
        assert pump.echo_roundtrip(payload) == payload
        pump.close()
        assert pump.wait_closed() == ConnectionClosed(None)
    finally:
        pump.dispose()
    assert server.join()[0]["echoed"] == MIB


def test_bulk_ssl_client_tlskit_echo(peers: Peers, pki: PKI) -> None:
    payload = os.urandom(MIB)
    server = peers.thread(tlskit_server(pki.server_config("rsa2048"), echo_until_close))
    with ssl_connect(ssl_client_context(pki), server.port) as tls:
        tls.sendall(payload)  # the tlskit pump keeps reading while it echoes: no deadlock
        assert recv_exactly(tls, MIB) == payload
        tls.unwrap()
    assert server.join() == [MIB]


# --------------------------------------------------------------------------- ALPN, HRR


def test_alpn_tlskit_client_ssl_server(peers: Peers, pki: PKI) -> None:
    ctx = ssl_server_context(pki, "ec256")
    ctx.set_alpn_protocols(["http/1.1", "h2"])
    server = ssl_server(peers, ctx, ssl_echo)
    hc = Pump.handshake_once(pki.client_config(alpn_protocols=["h2", "http/1.1"]), server.port)
    assert hc.alpn_protocol == "http/1.1"  # OpenSSL's server picks by its own order
    assert server.join()[0]["alpn"] == "http/1.1"


def test_alpn_ssl_client_tlskit_server(peers: Peers, pki: PKI) -> None:
    def body(pump: Pump) -> Any:
        echo_until_close(pump)
        return pump.conn.handshake_complete

    server = peers.thread(tlskit_server(
        pki.server_config("ec256", alpn_protocols=["h2", "http/1.1"]), body))
    ctx = ssl_client_context(pki)
    ctx.set_alpn_protocols(["http/1.1", "h2"])
    with ssl_connect(ctx, server.port) as tls:
        alpn = tls.selected_alpn_protocol()
        tls.unwrap()
    [hc] = server.join()
    assert alpn == hc.alpn_protocol == "h2"


def test_hello_retry_tlskit_client_ssl_server(peers: Peers, pki: PKI) -> None:
    """tlskit shares x25519 only; the ssl server is narrowed to P-384."""
    ctx = ssl_server_context(pki, "ec384")
    ctx.set_ecdh_curve("secp384r1")
    server = ssl_server(peers, ctx, ssl_echo)
    steps: list[str] = []
    config = pki.client_config(groups=["x25519", "secp384r1"], key_share_groups=["x25519"],
                               tracer=_steps(steps))
    pump = Pump.connect(config, server.port)
    try:
        hc = pump.handshake()
        assert pump.echo_roundtrip(b"after hrr") == b"after hrr"
        pump.close()
        pump.wait_closed()
    finally:
        pump.dispose()
    server.join()
    assert hc.group.name == "secp384r1"
    # D.4: the compatibility ChangeCipherSpec goes out between the two ClientHellos
    assert steps[:4] == ["client_hello", "hello_retry_request", "client_change_cipher_spec",
                         "client_hello"]


def test_hello_retry_ssl_client_tlskit_server(peers: Peers, pki: PKI) -> None:
    """ssl's default ClientHello shares x25519 only; tlskit accepts only P-256."""
    steps: list[str] = []

    def body(pump: Pump) -> Any:
        echo_until_close(pump)
        return pump.conn.handshake_complete, pump.conn.client_offer

    server = peers.thread(tlskit_server(
        pki.server_config("ec256", groups=["secp256r1"], tracer=_steps(steps)), body))
    with ssl_connect(ssl_client_context(pki), server.port) as tls:
        tls.sendall(b"after hrr")
        assert recv_exactly(tls, 9) == b"after hrr"
        tls.unwrap()
    [(hc, offer)] = server.join()
    assert hc.group.name == "secp256r1"
    assert steps.count("client_hello") == 2 and "hello_retry_request" in steps
    assert offer["key_shares"] == ["secp256r1"]  # the retried ClientHello


# --------------------------------------------------------------------------- KeyUpdate


@pytest.mark.parametrize("request_peer", [True, False], ids=["requested", "not-requested"])
def test_key_update_tlskit_client_ssl_server(peers: Peers, pki: PKI,
                                             request_peer: bool) -> None:
    server = ssl_server(peers, ssl_server_context(pki, "ed25519"), ssl_echo)
    pump = Pump.connect(pki.client_config(), server.port)
    try:
        pump.handshake()
        assert pump.echo_roundtrip(b"before") == b"before"
        pump.key_update(request_peer_update=request_peer)
        # ssl must read this with the new keys; echoing it, it answers a requested update.
        assert pump.echo_roundtrip(b"after" * 1000) == b"after" * 1000
        expected = [KeyUpdated(peer_requested_update=False)] if request_peer else []
        assert pump.key_updates_received() == expected
        pump.close()
        pump.wait_closed()
    finally:
        pump.dispose()
    assert server.join()[0]["echoed"] == 5006


@pytest.mark.parametrize("request_peer", [True, False], ids=["requested", "not-requested"])
def test_key_update_tlskit_server_ssl_client(peers: Peers, pki: PKI,
                                             request_peer: bool) -> None:
    def body(pump: Pump) -> list[KeyUpdated]:
        pump.handshake()
        assert pump.recv_exactly(6) == b"before"
        pump.key_update(request_peer_update=request_peer)
        pump.send(b"after-key-update")
        assert pump.recv_exactly(5) == b"reply"  # the ssl client's answer comes first
        pump.close()
        pump.wait_closed()
        return pump.key_updates_received()

    server = peers.thread(tlskit_server(pki.server_config("rsa2048"), body))
    with ssl_connect(ssl_client_context(pki), server.port) as tls:
        tls.sendall(b"before")
        assert recv_exactly(tls, 16) == b"after-key-update"
        tls.sendall(b"reply")
        assert tls.recv(100) == b""  # tlskit's close_notify
        tls.unwrap()
    [updates] = server.join()
    assert updates == ([KeyUpdated(peer_requested_update=False)] if request_peer else [])


# --------------------------------------------------------------------------- close_notify


def test_close_ssl_server_first(peers: Peers, pki: PKI) -> None:
    """ssl's unwrap() sends close_notify and waits for the answer: it returns only if
    tlskit reported the close and answered it."""

    def body(tls: ssl.SSLSocket) -> bytes:
        tls.sendall(b"bye")
        tls.unwrap()
        return b"unwrapped"

    server = ssl_server(peers, ssl_server_context(pki, "ec256"), body)
    pump = Pump.connect(pki.client_config(), server.port)
    try:
        pump.handshake()
        assert pump.wait_closed() == ConnectionClosed(None)
        assert bytes(pump.data) == b"bye"
        pump.run_until(lambda: True, "the answering close_notify to be written")
    finally:
        pump.dispose()
    assert server.join() == [b"unwrapped"]


def test_close_tlskit_server_first(peers: Peers, pki: PKI) -> None:
    def body(pump: Pump) -> ConnectionClosed:
        pump.handshake()
        return pump.send_and_close(b"bye")

    server = peers.thread(tlskit_server(pki.server_config("ec384"), body))
    with ssl_connect(ssl_client_context(pki), server.port) as tls:
        assert recv_exactly(tls, 3) == b"bye"
        assert tls.recv(100) == b""  # a clean close: a bare TCP FIN raises SSLEOFError
        tls.unwrap()
    assert server.join() == [ConnectionClosed(None)]


def test_covering_rows_cover_every_pair() -> None:
    """The reduced matrix above really covers every pair of values of two factors."""
    from itertools import combinations, product

    from .helpers import CERT_TYPES, GROUPS, SUITES

    factors = (GROUPS, SUITES, CERT_TYPES)
    for a, b in combinations(range(3), 2):
        seen = {(row[a], row[b]) for row in ROWS}
        assert seen == set(product(factors[a], factors[b]))
