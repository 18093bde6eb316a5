"""TLS 1.2 (ECDHE + AEAD, extended master secret): in memory, and against OpenSSL and
Python's ssl on 127.0.0.1 in both directions."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tlskit import (
    CertifiedKey,
    ClientConfig,
    ClientConnection,
    DataReceived,
    Event,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
    TLSError,
)
from tlskit.ca import LocalCA
from tlskit.enums import AlertDescription

SUITES12 = {
    "ec256": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
              "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"],
    "rsa2048": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"],
    "ed25519": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
}
CASES = [(kt, s) for kt, suites in SUITES12.items() for s in suites]


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    return LocalCA.create(directory=None)


@pytest.fixture(scope="module")
def issued(ca: LocalCA) -> dict[str, Any]:
    return {kt: ca.issue_server(["localhost", "127.0.0.1"], key_type=kt) for kt in SUITES12}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, ca: LocalCA,
          issued: dict[str, Any]) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tls12")
    out = {"root": d / "root.pem"}
    out["root"].write_bytes(ca.export_root_pem())
    for kt, i in issued.items():
        cert, key = i.write(cert_path=d / f"{kt}.pem", key_path=d / f"{kt}-key.pem")
        out[kt], out[f"{kt}-key"] = cert, key
    return out


def pump(client: ClientConnection, server: ServerConnection) -> tuple[list[Event], list[Event]]:
    c_events: list[Event] = []
    s_events: list[Event] = []
    while True:
        a, b = client.data_to_send(), b""
        if a:
            s_events += server.receive_data(a)
        b = server.data_to_send()
        if b:
            c_events += client.receive_data(b)
        if not a and not b:
            return c_events, s_events


def done(events: list[Event]) -> HandshakeComplete:
    return next(e for e in events if isinstance(e, HandshakeComplete))


@pytest.mark.parametrize(("kt", "suite"), CASES)
def test_in_memory(ca: LocalCA, issued: dict[str, Any], kt: str, suite: str) -> None:
    i = issued[kt]
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key))
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], versions=["TLSv1.2"],
                                           cipher_suites=[suite], alpn_protocols=["h2"]),
                              "localhost")
    c_events, s_events = pump(client, server)
    for d in (done(c_events), done(s_events)):
        assert (d.version, d.cipher_suite.name) == ("TLSv1.2", suite)
    client.send_data(b"x" * 40000)
    got = b"".join(e.data for e in server.receive_data(client.data_to_send())
                   if isinstance(e, DataReceived))
    assert got == b"x" * 40000
    assert client.export_keying_material(b"EXPORTER-test", b"", 32) == \
        server.export_keying_material(b"EXPORTER-test", b"", 32)
    client.close()
    server.receive_data(client.data_to_send())
    assert client.receive_data(server.data_to_send())[-1].alert is None  # type: ignore[attr-defined]


def test_client_certificate_in_tls12(ca: LocalCA, issued: dict[str, Any]) -> None:
    alice = ca.issue_client("alice", key_type="rsa2048")
    i = issued["ec256"]
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key,
                                           client_auth="required",
                                           client_trust_anchors=[ca.root]))
    client = ClientConnection(ClientConfig(
        trust_anchors=[ca.root], versions=["TLSv1.2"],
        certificate=CertifiedKey(alice.chain, alice.private_key)), "localhost")
    _, s_events = pump(client, server)
    assert done(s_events).peer_certificates[0] == alice.certificate


def test_downgrade_sentinel_aborts_a_tls13_client(ca: LocalCA, issued: dict[str, Any]) -> None:
    """RFC 8446 4.1.3: an attacker forcing TLS 1.2 on two 1.3-capable peers is caught."""
    i = issued["ec256"]
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key))
    honest = ClientConnection(ClientConfig(trust_anchors=[ca.root], versions=["TLSv1.2"]),
                              "localhost")
    server.receive_data(honest.data_to_send())
    flight = server.data_to_send()
    assert flight[5 + 6 + 24:5 + 6 + 32] == b"DOWNGRD\x01"  # ServerHello.random's tail
    victim = ClientConnection(ClientConfig(trust_anchors=[ca.root]), "localhost")
    victim.data_to_send()
    with pytest.raises(TLSError) as err:
        victim.receive_data(flight)
    assert err.value.alert == AlertDescription.illegal_parameter


def test_tls12_only_server_sends_no_sentinel(issued: dict[str, Any], ca: LocalCA) -> None:
    i = issued["ec256"]
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key,
                                           versions=["TLSv1.2"]))
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root]), "localhost")
    c_events, _ = pump(client, server)
    assert done(c_events).version == "TLSv1.2"


def test_server_requires_extended_master_secret(issued: dict[str, Any]) -> None:
    """With require_extended_master_secret, a 1.2 ClientHello without the extension is
    refused (RFC 7627), with an error that names the switch."""
    i = issued["ec256"]
    client = ClientConnection(ClientConfig(versions=["TLSv1.2"], verifier=_Accept()),
                              "localhost")
    hello = client.data_to_send()
    stripped = _drop_extension(hello, 23)
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key,
                                           require_extended_master_secret=True))
    with pytest.raises(TLSError) as err:
        server.receive_data(stripped)
    assert err.value.alert == AlertDescription.handshake_failure
    assert "require_extended_master_secret" in str(err.value)


def test_tls12_only_client_against_tls13_only_server(issued: dict[str, Any]) -> None:
    i = issued["ec256"]
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key,
                                           versions=["TLSv1.3"]))
    client = ClientConnection(ClientConfig(versions=["TLSv1.2"], verifier=_Accept()),
                              "localhost")
    with pytest.raises(TLSError) as err:
        server.receive_data(client.data_to_send())
    assert err.value.alert == AlertDescription.protocol_version


class _Accept:
    def verify(self, leaf: Any, intermediates: Any, server_name: Any = None, at: Any = None,
               usage: str = "server", ocsp_response: Any = None) -> list[Any]:
        return [leaf, *intermediates]


def _drop_extension(record: bytes, etype: int) -> bytes:
    """Rebuild a one-record ClientHello without one extension."""
    from tlskit.wire import messages as m
    hello = m.ClientHello.decode(record[9:])
    del hello.extensions[etype]
    body = hello.encode()
    return record[:3] + len(body).to_bytes(2, "big") + body


# --- against real peers ------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    import time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert proc.poll() is None, "peer exited early"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {port}")


def _client_over_socket(port: int, config: ClientConfig, request: bytes) -> tuple[Any, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = ClientConnection(config, "localhost")
    received = b""
    info = None
    with sock:
        sock.sendall(conn.data_to_send())
        while True:
            data = sock.recv(65536)
            if not data:
                break
            for e in conn.receive_data(data):
                if isinstance(e, HandshakeComplete):
                    info = e
                    conn.send_data(request)
                elif isinstance(e, DataReceived):
                    received += e.data
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
            if conn.closed:
                break
    return info, received


@pytest.mark.interop
@pytest.mark.parametrize(("kt", "suite"), CASES)
def test_client_to_openssl_s_server(ca: LocalCA, files: dict[str, Path], kt: str,
                                    suite: str) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        ["openssl", "s_server", "-tls1_2", "-accept", str(port), "-cert", str(files[kt]),
         "-cert_chain", str(files[kt]), "-key", str(files[f"{kt}-key"]), "-www", "-quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        info, body = _client_over_socket(port, ClientConfig(
            trust_anchors=[ca.root], cipher_suites=[suite]), b"GET / HTTP/1.0\r\n\r\n")
    finally:
        proc.kill()
        proc.wait()
    assert info is not None and (info.version, info.cipher_suite.name) == ("TLSv1.2", suite)
    assert body.startswith(b"HTTP/1.0 200 ok")
    assert b"TLSv1.2" in body


def _serve_once(config: ServerConfig, listener: socket.socket, out: list[Any]) -> None:
    sock, _ = listener.accept()
    conn = ServerConnection(config)
    with sock:
        sock.settimeout(10)
        try:
            while not conn.closed:
                data = sock.recv(65536)
                if not data:
                    break
                for e in conn.receive_data(data):
                    out.append(e)
                    if isinstance(e, DataReceived):
                        conn.send_data(b"echo:" + e.data)
                        conn.close()  # one exchange per connection
                sock.sendall(conn.data_to_send())
        except TLSError as exc:
            out.append(exc)
            sock.sendall(conn.data_to_send())
        except ConnectionResetError:
            pass  # a peer that closes without close_notify after its last read


@pytest.mark.interop
@pytest.mark.parametrize(("kt", "suite"), CASES)
def test_openssl_s_client_to_server(files: dict[str, Path], issued: dict[str, Any], kt: str,
                                    suite: str) -> None:
    i = issued[kt]
    config = ServerConfig(certificate_chain=i.chain, private_key=i.private_key)
    listener = socket.create_server(("127.0.0.1", 0))
    events: list[Any] = []
    thread = threading.Thread(target=_serve_once, args=(config, listener, events))
    thread.start()
    openssl_name = {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    }[suite]
    try:
        result = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{listener.getsockname()[1]}",
             "-tls1_2", "-cipher", openssl_name, "-CAfile", str(files["root"]),
             "-servername", "localhost", "-verify_return_error", "-quiet"],
            input=b"ping\n", capture_output=True, timeout=20)
    finally:
        thread.join(timeout=20)
        listener.close()
    assert result.stdout == b"echo:ping\n", result.stderr
    info = next(e for e in events if isinstance(e, HandshakeComplete))
    assert (info.version, info.cipher_suite.name) == ("TLSv1.2", suite)


@pytest.mark.interop
def test_python_ssl_both_directions(ca: LocalCA, files: dict[str, Path],
                                    issued: dict[str, Any]) -> None:
    # Python ssl client (TLS 1.2 only) -> tlskit server
    i = issued["rsa2048"]
    config = ServerConfig(certificate_chain=i.chain, private_key=i.private_key)
    listener = socket.create_server(("127.0.0.1", 0))
    events: list[Any] = []
    thread = threading.Thread(target=_serve_once, args=(config, listener, events))
    thread.start()
    ctx = ssl.create_default_context(cafile=str(files["root"]))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(listener.getsockname()) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.version() == "TLSv1.2"
        tls.sendall(b"hi")
        assert tls.recv(100) == b"echo:hi"
    thread.join(timeout=10)
    listener.close()

    # tlskit client -> Python ssl server (TLS 1.2 only)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.maximum_version = ssl.TLSVersion.TLSv1_2
    sctx.load_cert_chain(str(files["ec256"]), str(files["ec256-key"]))
    listener = socket.create_server(("127.0.0.1", 0))

    def ssl_server() -> None:
        conn, _ = listener.accept()
        with sctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"hello from ssl " + tls.version().encode())  # type: ignore[union-attr]
            tls.recv(100)

    t = threading.Thread(target=ssl_server)
    t.start()
    info, body = _client_over_socket(listener.getsockname()[1],
                                     ClientConfig(trust_anchors=[ca.root]), b"bye")
    t.join(timeout=10)
    listener.close()
    assert info.version == "TLSv1.2" and body == b"hello from ssl TLSv1.2"


def test_tls12_server_reports_what_the_client_offered(issued: dict[str, Any]) -> None:
    """`ServerConnection.client_offer` after a TLS 1.2 handshake (the tlskit demo and serve
    read it): the offer by IANA name, as for TLS 1.3."""
    i = issued["ec256"]
    server = ServerConnection(ServerConfig(certificate_chain=i.chain, private_key=i.private_key))
    client = ClientConnection(ClientConfig(verifier=_Accept(), versions=["TLSv1.2"]),
                              "localhost")
    pump(client, server)
    assert server.version == "TLSv1.2"
    assert "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" in server.client_offer["cipher_suites"]
