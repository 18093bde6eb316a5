"""tlslite-ng, an independent pure-Python TLS 1.3/1.2 implementation, as a real peer.

tlslite's client against a tlskit `TLSServer`, and tlskit's client against tlslite's
`handshakeServer`, over TCP on 127.0.0.1 (OS-chosen ports, one thread per side), TLS 1.3
and TLS 1.2, data both ways. The exporters (RFC 8446 7.5 / RFC 5705) are compared as an
independent check of both key schedules.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from tlslite import HandshakeSettings, TLSConnection, X509CertChain
from tlslite.utils.keyfactory import parsePEMKey

from tlskit import ClientConfig, TLSError
from tlskit.io import TLSServer, connect

from ..support.pump import serving
from ..support.records import HS, record
from .peer import hello, pki, server_config

pytestmark = pytest.mark.interop

TIMEOUT = 15
LABEL = b"EXPORTER-conformance"
V13, V12 = (3, 4), (3, 3)


def settings(version: tuple[int, int], **kw: Any) -> HandshakeSettings:
    s = HandshakeSettings()
    s.minVersion = s.maxVersion = version
    for k, v in kw.items():
        setattr(s, k, v)
    return s


# --- tlslite client -> tlskit server -----------------------------------------------------

class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        tls = self.request
        version = tls.connection.version
        self.server.exports.append(tls.export_keying_material(
            LABEL, b"" if version == "TLSv1.3" else None, 32))
        self.server.completions.append(tls.connection.handshake_complete)
        try:
            while data := tls.recv(65536):
                tls.sendall(data)
        except (TLSError, OSError) as exc:   # a client that just goes away
            self.server.aborted.append(exc)


@contextlib.contextmanager
def tlskit_server(**config: Any) -> Iterator[TLSServer]:
    server = TLSServer(("127.0.0.1", 0), _Echo, server_config(**config), handshake_timeout=10)
    server.exports, server.completions, server.aborted = [], [], []
    with serving(server):
        yield server


def tlslite_client(port: int, s: HandshakeSettings, session: Any = None) -> TLSConnection:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    conn = TLSConnection(sock)
    conn.handshakeClientCert(settings=s, serverName="localhost", session=session)
    return conn


def exchange(conn: TLSConnection, payloads=(b"hello tlskit", b"x" * 20000)) -> None:
    for payload in payloads:
        conn.write(payload)
        got = b""
        while len(got) < len(payload):
            got += conn.read(max=len(payload) - len(got))
        assert got == payload


CLIENT_CASES = {
    "tls13 x25519 aes128gcm": (V13, {"keyShares": ["x25519"], "cipherNames": ["aes128gcm"]}),
    "tls13 secp256r1 aes256gcm": (V13, {"keyShares": ["secp256r1"],
                                        "cipherNames": ["aes256gcm"]}),
    "tls13 chacha20": (V13, {"cipherNames": ["chacha20-poly1305"]}),
    "tls13 HelloRetryRequest": (V13, {"keyShares": [], "eccCurves": ["secp256r1"]}),
    "tls13 ffdhe2048": (V13, {"keyShares": ["ffdhe2048"], "eccCurves": [],
                              "dhGroups": ["ffdhe2048"]}),
    "tls12 ecdhe-rsa aes128gcm": (V12, {"cipherNames": ["aes128gcm"]}),
    "tls12 ecdhe-rsa chacha20": (V12, {"cipherNames": ["chacha20-poly1305"]}),
}


@pytest.mark.parametrize("case", CLIENT_CASES)
def test_tlslite_client_against_tlskit_server(case):
    version, kw = CLIENT_CASES[case]
    groups = ["x25519", "secp256r1", "secp384r1", "ffdhe2048"]
    with tlskit_server(groups=groups) as server:
        conn = tlslite_client(server.server_address[1], settings(version, **kw))
        try:
            assert conn.version == version
            exchange(conn)
            assert server.exports[0] == bytes(conn.keyingMaterialExporter(LABEL, 32))
            complete = server.completions[0]
            assert complete.version == ("TLSv1.3" if version == V13 else "TLSv1.2")
            if "HelloRetryRequest" in case:
                assert complete.group.name == "secp256r1"
        finally:
            conn.close()


def test_tlslite_client_ecdsa_certificate_both_versions():
    with tlskit_server(key="ec") as server:
        for version in (V13, V12):
            conn = tlslite_client(server.server_address[1], settings(version))
            try:
                exchange(conn, [b"ecdsa"])
            finally:
                conn.close()


def test_tlslite_client_resumes_with_a_tlskit_ticket_and_updates_keys():
    with tlskit_server() as server:
        port = server.server_address[1]
        first = tlslite_client(port, settings(V13))
        exchange(first, [b"first"])
        for _ in first.send_keyupdate_request(1):   # update_requested: tlskit must answer
            pass
        exchange(first, [b"after KeyUpdate"])
        session = first.session
        first.close()
        second = tlslite_client(port, settings(V13), session=session)
        try:
            assert second.resumed
            exchange(second, [b"resumed"])
            assert server.completions[-1].resumed
        finally:
            second.close()


# --- tlskit client -> tlslite server -----------------------------------------------------

def _pem_chain(issued: Any) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in issued.chain)


def _pem_key(issued: Any) -> str:
    return issued.key_pem().decode()


@contextlib.contextmanager
def tlslite_server(s: HandshakeSettings, key: str = "rsa",
                   serve: Callable[[TLSConnection], None] | None = None
                   ) -> Iterator[tuple[int, dict[str, Any]]]:
    issued = pki().rsa if key == "rsa" else pki().ecdsa
    chain = X509CertChain()
    chain.parsePemList(_pem_chain(issued))
    private = parsePEMKey(_pem_key(issued), private=True)
    listener = socket.create_server(("127.0.0.1", 0))
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            sock, _ = listener.accept()
            sock.settimeout(TIMEOUT)
            conn = TLSConnection(sock)
            conn.handshakeServer(certChain=chain, privateKey=private, settings=s)
            result["version"] = conn.version
            result["export"] = bytes(conn.keyingMaterialExporter(LABEL, 32))
            if serve:
                serve(conn)
            else:
                while data := conn.read():
                    conn.write(data)
            conn.close()
        except BaseException as exc:  # reported by the test
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], result
    finally:
        thread.join(TIMEOUT)
        listener.close()
    assert "error" not in result or (isinstance(result["error"], ConnectionError | OSError) \
        and "version" in result), result.get("error")


def tlskit_client_config(**kw: Any) -> ClientConfig:
    return ClientConfig(trust_anchors=[pki().ca.root], **kw)


SERVER_CASES = {
    "tls13 rsa": (V13, "rsa", {}),
    "tls13 ecdsa": (V13, "ec", {}),
    "tls13 aes256gcm": (V13, "rsa", {"cipherNames": ["aes256gcm"]}),
    "tls13 chacha20": (V13, "rsa", {"cipherNames": ["chacha20-poly1305"]}),
    "tls12 rsa": (V12, "rsa", {"cipherNames": ["aes128gcm"]}),
    "tls12 ecdsa": (V12, "ec", {"cipherNames": ["aes256gcm"]}),
}


@pytest.mark.parametrize("case", SERVER_CASES)
def test_tlskit_client_against_tlslite_server(case):
    version, key, kw = SERVER_CASES[case]
    with tlslite_server(settings(version, **kw), key) as (port, result):
        tls = connect("127.0.0.1", port, tlskit_client_config(), server_name="localhost",
                      timeout=TIMEOUT)
        with tls:
            complete = tls.connection.handshake_complete
            assert complete.version == ("TLSv1.3" if version == V13 else "TLSv1.2")
            for payload in (b"hello tlslite", b"y" * 20000):
                tls.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    got += tls.recv(65536)
                assert got == payload
            assert tls.export_keying_material(
                LABEL, b"" if version == V13 else None, 32) == result["export"]
    assert result["version"] == version


def test_tlskit_client_hello_retry_request_from_tlslite():
    # tlslite accepts secp384r1 only; tlskit's one share (x25519) forces a retry.
    s = settings(V13, eccCurves=["secp384r1"], keyShares=["secp384r1"])
    config = tlskit_client_config(groups=["x25519", "secp384r1"], key_share_groups=["x25519"])
    with tlslite_server(s) as (port, _result):
        tls = connect("127.0.0.1", port, config, server_name="localhost", timeout=TIMEOUT)
        with tls:
            assert tls.connection.handshake_complete.group.name == "secp384r1"
            tls.sendall(b"after HRR")
            assert tls.recv(100) == b"after HRR"


def test_tlskit_client_answers_tlslite_key_update():
    def serve(conn: TLSConnection) -> None:
        data = conn.read()
        for _ in conn.send_keyupdate_request(1):
            pass
        conn.write(data)
        conn.write(conn.read())   # readable only if tlskit's reply used its new keys

    with tlslite_server(settings(V13), serve=serve) as (port, _result):
        tls = connect("127.0.0.1", port, tlskit_client_config(), server_name="localhost",
                      timeout=TIMEOUT)
        with tls:
            tls.sendall(b"one")
            assert tls.recv(100) == b"one"
            tls.sendall(b"two")
            assert tls.recv(100) == b"two"


# --- test-tls13-connection-abort.py: clients that vanish mid-way -------------------------

def _abort_raw(port: int, stage: str) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        if stage == "before ClientHello":
            return
        sock.sendall(record(HS, hello().encode(), 0x0301))
        if stage == "after ClientHello":
            return
        sock.recv(1)     # at least the start of the server's flight


def _abort_tlslite(port: int, stage: str) -> None:
    conn = tlslite_client(port, settings(V13))
    if stage in ("after client ApplicationData", "after server ApplicationData"):
        conn.write(b"GET / HTTP/1.0\r\n\r\n")
        if stage == "after server ApplicationData":
            conn.read(max=100)
    elif stage == "after close_notify":
        conn.close()
        return
    conn.sock.close()    # no close_notify


ABORTS = {"before ClientHello": _abort_raw, "after ClientHello": _abort_raw,
          "after ServerHello": _abort_raw, "after client Finished": _abort_tlslite,
          "after client ApplicationData": _abort_tlslite,
          "after server ApplicationData": _abort_tlslite, "after close_notify": _abort_tlslite}


def test_connection_abort_at_every_stage_leaves_the_server_serving():
    with tlskit_server() as server:
        port = server.server_address[1]
        for _ in range(2):
            for stage, abort in ABORTS.items():
                abort(port, stage)
                conn = tlslite_client(port, settings(V13))      # the sanity conversation
                try:
                    exchange(conn, [stage.encode()])
                finally:
                    conn.close()


# --- RFC 8879 certificate compression with tlslite-ng --------------------------------------

def test_tlslite_client_decompresses_tlskit_certificate():
    s = settings(V13, certificate_compression_receive=["zlib"])
    steps: list[str] = []
    with tlskit_server(certificate_compression=("zlib",),
                       tracer=lambda step, fields: steps.append(
                           f"{step}:{fields.get('compressed')}")) as server:
        conn = tlslite_client(server.server_address[1], s)
        try:
            exchange(conn, [b"compressed certificate"])
        finally:
            conn.close()
    assert "certificate:1" in steps  # the server sent it zlib-compressed (algorithm 1)


def test_tlskit_client_decompresses_tlslite_certificate():
    steps: list[tuple[str, dict[str, Any]]] = []
    config = tlskit_client_config(tracer=lambda step, fields: steps.append((step, fields)))
    with tlslite_server(settings(V13, certificate_compression_send=["zlib"])) as (port, _r):
        tls = connect("127.0.0.1", port, config, server_name="localhost", timeout=TIMEOUT)
        with tls:
            tls.sendall(b"hi")
            assert tls.recv(100) == b"hi"
    [fields] = [f for s, f in steps if s == "compressed_certificate"]
    assert fields["algorithm"] == "zlib" and fields["compressed"] < fields["uncompressed"]
