"""tlskit's TLS 1.2 against GnuTLS, both directions, over real sockets on 127.0.0.1.

GnuTLS is held to TLS 1.2 and one AEAD cipher by its priority string
(``NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+<cipher>``); each test checks what both
sides say they negotiated and moves data both ways. ECDSA (P-256) and RSA (2048)
certificates come from `tlskit.ca.LocalCA`, written to disk for GnuTLS.

Ports are chosen by the OS: for gnutls-serv a socket is bound to port 0, closed, and the
number passed with ``-p`` (then connect is polled until it listens); the tlskit server
listens on port 0 itself. Peers run in their own process group, killed at teardown. A
missing gnutls binary fails the test: a skipped interop suite proves nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tlskit import (
    CertifiedKey,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    DataReceived,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
    TLSError,
)
from tlskit.ca import Issued, LocalCA
from tlskit.enums import AlertDescription
from tlskit.session import SessionCache

from ..support.peers import kill_group
from ..support.ports import listening_port
from ..support.pump import ServerThread

pytestmark = pytest.mark.interop

TIMEOUT = 20.0
TLS12_ONLY = "NORMAL:-VERS-ALL:+VERS-TLS1.2"
KINDS = {"ec256": "ECDSA", "rsa2048": "RSA"}
CIPHERS = {"AES-128-GCM": "AES_128_GCM_SHA256", "CHACHA20-POLY1305": "CHACHA20_POLY1305_SHA256",
           "AES-256-GCM": "AES_256_GCM_SHA384"}
# Both key types with both required ciphers, and AES-256-GCM once each way.
ROWS = [("ec256", "AES-128-GCM"), ("ec256", "CHACHA20-POLY1305"),
        ("rsa2048", "AES-128-GCM"), ("rsa2048", "CHACHA20-POLY1305"),
        ("ec256", "AES-256-GCM")]
IDS = [f"{k}-{c}" for k, c in ROWS]
DESCRIPTION = re.compile(rb"- Description: \(TLS1\.2-X\.509\)-\(ECDHE-([\w-]+)\)-"
                         rb"\(([\w-]+)\)-\(([\w-]+)\)")


def suite_name(kind: str, cipher: str) -> str:
    return f"TLS_ECDHE_{KINDS[kind]}_WITH_{CIPHERS[cipher]}"


def priority(cipher: str) -> str:
    return f"{TLS12_ONLY}:-CIPHER-ALL:+{cipher}"


def require(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (apt-get install gnutls-bin)", pytrace=False)
    return path


# --- PKI on disk ------------------------------------------------------------------------------

@dataclass
class Files:
    root: Path
    certs: dict[str, tuple[Path, Path]] = field(default_factory=dict)  # kind -> (chain, key)
    issued: dict[str, Issued] = field(default_factory=dict)
    ca: Any = None


@pytest.fixture(scope="module")
def pki12(tmp_path_factory: pytest.TempPathFactory) -> Files:
    d = tmp_path_factory.mktemp("gnutls12")
    ca = LocalCA.create(directory=d / "ca")
    files = Files(root=d / "root.pem", ca=ca)
    files.root.write_bytes(ca.export_root_pem())
    for kind in KINDS:
        issued = ca.issue_server(["localhost", "127.0.0.1"], key_type=kind)
        files.issued[kind] = issued
        files.certs[kind] = issued.write(cert_path=d / f"{kind}.pem", key_path=d / f"{kind}.key")
    alice = ca.issue_client("alice", key_type="ec256")
    files.issued["alice"] = alice
    files.certs["alice"] = alice.write(cert_path=d / "alice.pem", key_path=d / "alice.key")
    return files


# --- peer processes ---------------------------------------------------------------------------

@contextlib.contextmanager
def peer(argv: list[str], log: Path, *, stdin: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    """Run a GnuTLS binary in its own process group (stdout piped when `stdin` is set,
    else both streams to `log`); the whole group is killed on the way out."""
    require(argv[0])
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdin else out, stderr=out, start_new_session=True)
    try:
        yield proc
    finally:
        kill_group(proc)


def log_tail(log: Path) -> str:
    return log.read_bytes()[-3000:].decode(errors="replace") if log.exists() else ""


# --- tlskit client -> gnutls-serv ---------------------------------------------------------------

class ClientPump:
    """A tlskit client on a blocking socket, with deadlines."""

    def __init__(self, conn: ClientConnection, port: int) -> None:
        self.conn = conn
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.info: HandshakeComplete | None = None
        self.data = bytearray()
        self.closed: ConnectionClosed | None = None

    def _flush(self) -> None:
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def _read(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("peer closed the TCP connection")
        for event in self.conn.receive_data(chunk):
            if isinstance(event, HandshakeComplete):
                self.info = event
            elif isinstance(event, DataReceived):
                self.data += event.data
            elif isinstance(event, ConnectionClosed):
                self.closed = event
        self._flush()

    def handshake(self) -> HandshakeComplete:
        self._flush()
        while self.info is None:
            self._read()
        return self.info

    def roundtrip(self, payload: bytes) -> bytes:
        """Send `payload`; gnutls-serv --echo sends it back (in its own records)."""
        start = len(self.data)
        self.conn.send_data(payload)
        self._flush()
        while len(self.data) - start < len(payload):
            self._read()
        return bytes(self.data[start:start + len(payload)])

    def close(self) -> None:
        with contextlib.suppress(OSError, TLSError):
            self.conn.close()
            self._flush()
        self.sock.close()


def gnutls_serv(files: Files, kind: str, cipher: str, log: Path,
                *extra: str) -> Any:
    """gnutls-serv on a port the OS picks (-p 0; read back with `listening_port`)."""
    chain, key = files.certs[kind]
    return peer(["gnutls-serv", "--echo", "-p", "0", "--x509certfile", str(chain),
                 "--x509keyfile", str(key), "--priority", priority(cipher), *extra], log)


# gnutls-serv --echo answers line by line, as C strings: every payload ends in a newline
# and holds no NUL. 40 KB spans three records each way.
def logged_exporter(log: Path) -> str:
    """The 'tls-exporter' channel binding gnutls-serv prints for its connection."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        found = re.search(rb"'tls-exporter': ([0-9a-f]{64})", log.read_bytes())
        if found:
            return found.group(1).decode()
        assert time.monotonic() < deadline, f"no tls-exporter line:\n{log_tail(log)}"
        time.sleep(0.01)  # a poll interval


PAYLOADS = [b"hello from tlskit\n", bytes(range(1, 256)) * 4 + b"\n", b"x" * 40000 + b"\n", b"\n"]


@pytest.mark.parametrize(("kind", "cipher"), ROWS, ids=IDS)
@pytest.mark.parametrize("versions", [["TLSv1.3", "TLSv1.2"], ["TLSv1.2"]],
                         ids=["default-versions", "tls12-only"])
def test_tlskit_client_to_gnutls_serv(pki12: Files, tmp_path: Path, kind: str, cipher: str,
                                      versions: list[str]) -> None:
    log = tmp_path / "gnutls-serv.log"
    with gnutls_serv(pki12, kind, cipher, log) as proc:
        port = listening_port(proc.pid)
        pump = ClientPump(ClientConnection(ClientConfig(trust_anchors=[pki12.ca.root],
                                                        versions=versions), "localhost"), port)
        try:
            info = pump.handshake()
            assert (info.version, info.cipher_suite.name) == ("TLSv1.2", suite_name(kind, cipher))
            assert info.peer_certificates[0] == pki12.issued[kind].certificate
            for payload in PAYLOADS:
                assert pump.roundtrip(payload) == payload, log_tail(log)
            # RFC 9266 tls-exporter (RFC 5705 exporter, 1.2 PRF with the suite's hash, on
            # the extended master secret): gnutls-serv logs its own value.
            ours = pump.conn.export_keying_material(b"EXPORTER-Channel-Binding", b"", 32)
            assert logged_exporter(log) == ours.hex()
            # ... which is what channel_binding() gives: GnuTLS's own tls-exporter
            # binding (gnutls_session_channel_binding) in TLS 1.2 too.
            assert pump.conn.channel_binding("tls-exporter") == ours
            end_point = pump.conn.channel_binding("tls-server-end-point").hex()
            assert f"'tls-server-end-point': {end_point}".encode() in log.read_bytes()
            # RFC 5929 tls-unique (the first Finished; safe with EMS): gnutls logs it too.
            unique = pump.conn.tls_unique
            assert unique is not None
            assert f"'tls-unique': {unique.hex()}".encode() in log.read_bytes()
        finally:
            pump.close()


def test_tlskit_client_certificate_to_gnutls_serv(pki12: Files, tmp_path: Path) -> None:
    """GnuTLS requires a client certificate: tlskit's 1.2 Certificate/CertificateVerify
    is checked by a real peer."""
    log = tmp_path / "gnutls-serv.log"
    alice = pki12.issued["alice"]
    with gnutls_serv(pki12, "rsa2048", "AES-128-GCM", log, "--require-client-cert",
                     "--x509cafile", str(pki12.root)) as proc:
        port = listening_port(proc.pid)
        config = ClientConfig(trust_anchors=[pki12.ca.root], versions=["TLSv1.2"],
                              certificate=CertifiedKey(alice.chain, alice.private_key))
        pump = ClientPump(ClientConnection(config, "localhost"), port)
        try:
            assert pump.handshake().version == "TLSv1.2"
            assert pump.roundtrip(b"authenticated\n") == b"authenticated\n", log_tail(log)
        finally:
            pump.close()


# --- gnutls-cli -> tlskit server -------------------------------------------------------------

class EchoServer(ServerThread):
    """One tlskit server connection on a thread: echoes every chunk as b"echo:" + chunk.
    What fails in it is left in `error` for the test to report with the peer's log."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.events: list[Any] = []
        super().__init__(self._serve)

    def _serve(self, sock: socket.socket) -> None:
        conn = ServerConnection(self.config)
        sock.settimeout(TIMEOUT)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            for event in conn.receive_data(chunk):
                self.events.append(event)
                if isinstance(event, DataReceived):
                    conn.send_data(b"echo:" + event.data)
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
            if conn.closed:
                return

    def close(self) -> None:
        super().close()
        self.thread.join(timeout=TIMEOUT)

    def info(self) -> HandshakeComplete:
        return next(e for e in self.events if isinstance(e, HandshakeComplete))


def read_until(proc: subprocess.Popen[bytes], needle: bytes, seen: bytearray,
               timeout: float = TIMEOUT) -> None:
    """Read the peer's stdout into `seen` until `needle` appears (or fail with it)."""
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while needle not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{needle!r} never came; output so far:\n{seen.decode()[-3000:]}"
            if sel.select(left):
                chunk = proc.stdout.read()
                if chunk:
                    seen += chunk
                elif proc.poll() is not None:
                    raise AssertionError(f"gnutls-cli exited {proc.returncode} before "
                                         f"{needle!r}:\n{seen.decode()[-3000:]}")


def gnutls_cli(files: Files, port: int, cipher: str, log: Path, *extra: str) -> Any:
    return peer(["gnutls-cli", "--priority", priority(cipher), "--x509cafile", str(files.root),
                 "-p", str(port), "--sni-hostname", "localhost", "--verify-hostname",
                 "localhost", *extra, "127.0.0.1"], log, stdin=True)


@pytest.mark.parametrize(("kind", "cipher"), ROWS, ids=IDS)
@pytest.mark.parametrize("versions", [["TLSv1.3", "TLSv1.2"], ["TLSv1.2"]],
                         ids=["default-versions", "tls12-only"])
def test_gnutls_cli_to_tlskit_server(pki12: Files, tmp_path: Path, kind: str, cipher: str,
                                     versions: list[str]) -> None:
    chain, key = pki12.certs[kind]
    server = EchoServer(ServerConfig(certificates=[CertifiedKey.from_files(chain, key)],
                                     versions=versions))
    log = tmp_path / "gnutls-cli.log"
    seen = bytearray()
    try:
        with gnutls_cli(pki12, server.port, cipher, log) as proc:
            assert proc.stdin is not None
            for line in (b"ping\n", b"second line with more data " * 40 + b"\n"):
                proc.stdin.write(line)
                proc.stdin.flush()
                read_until(proc, b"echo:" + line, seen)
            found = DESCRIPTION.search(bytes(seen))
            assert found, seen.decode()[-3000:]
            assert found.group(2).startswith(KINDS[kind].encode())
            assert found.group(3) == cipher.encode()
            assert b"extended master secret" in seen and b"safe renegotiation" in seen
            proc.stdin.close()  # gnutls-cli says goodbye with close_notify
            proc.wait(timeout=TIMEOUT)
    finally:
        server.close()
    assert server.error is None, f"{server.error!r}\n{log_tail(log)}"
    info = server.info()
    assert (info.version, info.cipher_suite.name) == ("TLSv1.2", suite_name(kind, cipher))
    assert next(e.data for e in server.events if isinstance(e, DataReceived)) == b"ping\n"
    assert isinstance(server.events[-1], ConnectionClosed)


def test_gnutls_cli_client_certificate_to_tlskit_server(pki12: Files, tmp_path: Path) -> None:
    """A real peer's TLS 1.2 CertificateVerify, checked by tlskit (client_auth required)."""
    chain, key = pki12.certs["ec256"]
    alice_chain, alice_key = pki12.certs["alice"]
    server = EchoServer(ServerConfig(certificates=[CertifiedKey.from_files(chain, key)],
                                     client_auth="required",
                                     client_trust_anchors=[pki12.ca.root]))
    seen = bytearray()
    try:
        with gnutls_cli(pki12, server.port, "AES-128-GCM", tmp_path / "cli.log",
                        "--x509certfile", str(alice_chain), "--x509keyfile",
                        str(alice_key)) as proc:
            assert proc.stdin is not None
            proc.stdin.write(b"who am i\n")
            proc.stdin.flush()
            read_until(proc, b"echo:who am i\n", seen)
            proc.stdin.close()
            proc.wait(timeout=TIMEOUT)
    finally:
        server.close()
    assert server.error is None, repr(server.error)
    info = server.info()
    assert info.version == "TLSv1.2"
    assert info.peer_certificates[0] == pki12.issued["alice"].certificate


# --- peers without the extended master secret (RFC 7627) -------------------------------------

NO_EMS = f"{priority('AES-128-GCM')}:%NO_SESSION_HASH"


def test_tlskit_client_to_gnutls_serv_without_ems(pki12: Files, tmp_path: Path) -> None:
    """gnutls-serv refusing the extended master secret: tlskit connects on the classic
    master secret (gnutls logs our Finished as its tls-unique and, per RFC 9266, no
    tls-exporter), caches nothing to resume, and a client with
    require_extended_master_secret refuses the server."""
    log = tmp_path / "gnutls-serv.log"
    chain, key = pki12.certs["ec256"]
    with peer(["gnutls-serv", "--echo", "-p", "0", "--x509certfile",
               str(chain), "--x509keyfile", str(key), "--priority", NO_EMS], log) as proc:
        port = listening_port(proc.pid)
        cache = SessionCache()
        finished: list[bytes] = []

        def tracer(step: str, fields: dict[str, Any]) -> None:
            if step == "client_finished":
                finished.append(fields["verify_data"])

        config = ClientConfig(trust_anchors=[pki12.ca.root], versions=["TLSv1.2"],
                              session_cache=cache, tracer=tracer)
        pump = ClientPump(ClientConnection(config, "localhost"), port)
        try:
            assert pump.handshake().version == "TLSv1.2"
            assert pump.roundtrip(b"classic\n") == b"classic\n", log_tail(log)
            text = log.read_text()
            assert f"'tls-unique': {finished[0].hex()}" in text, text
            assert "'tls-exporter': not available" in text
            assert pump.conn.tls_unique is None  # withheld without EMS (RFC 7627 1)
        finally:
            pump.close()
        assert cache.take("localhost", time.time()) is None  # RFC 7627 5.3
        strict = ClientPump(ClientConnection(
            ClientConfig(trust_anchors=[pki12.ca.root], versions=["TLSv1.2"],
                         require_extended_master_secret=True), "localhost"), port)
        try:
            with pytest.raises(TLSError) as err:
                strict.handshake()
            assert err.value.alert == AlertDescription.handshake_failure
            assert "require_extended_master_secret" in str(err.value)
        finally:
            strict.close()


def test_gnutls_cli_without_ems_to_tlskit_server(pki12: Files, tmp_path: Path) -> None:
    """gnutls-cli without the extended master secret gets a full handshake from a default
    tlskit server (nothing resumable), and is refused by require_extended_master_secret."""
    chain, key = pki12.certs["ec256"]
    server = EchoServer(ServerConfig(certificates=[CertifiedKey.from_files(chain, key)]))
    seen = bytearray()
    try:
        with peer(["gnutls-cli", "--priority", NO_EMS, "--x509cafile", str(pki12.root),
                   "-p", str(server.port), "--sni-hostname", "localhost", "--verify-hostname",
                   "localhost", "127.0.0.1"], tmp_path / "cli.log", stdin=True) as proc:
            assert proc.stdin is not None
            proc.stdin.write(b"no ems\n")
            proc.stdin.flush()
            read_until(proc, b"echo:no ems\n", seen)
            assert b"extended master secret" not in seen
            proc.stdin.close()
            proc.wait(timeout=TIMEOUT)
    finally:
        server.close()
    assert server.error is None, repr(server.error)
    assert server.info().version == "TLSv1.2"
    strict = EchoServer(ServerConfig(certificates=[CertifiedKey.from_files(chain, key)],
                                     require_extended_master_secret=True))
    try:
        with peer(["gnutls-cli", "--priority", NO_EMS, "--x509cafile", str(pki12.root),
                   "-p", str(strict.port), "--sni-hostname", "localhost", "127.0.0.1"],
                  tmp_path / "strict.log", stdin=True) as proc:
            assert proc.wait(timeout=TIMEOUT) != 0
    finally:
        strict.close()
    assert isinstance(strict.error, TLSError)
    assert strict.error.alert == AlertDescription.handshake_failure
