"""Key logging: the NSS file format, $SSLKEYLOGFILE, and decrypting a recorded session
with nothing but the logged secrets."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import tlskit
import tlskit.aio
from tlskit import ClientConfig, ServerConfig
from tlskit.crypto import SUITES, Suite
from tlskit.keylog import KeyLogFile, keylog_from_env, with_keylog
from tlskit.keyschedule import export_keying_material, traffic_keys

from .conftest import BulkEchoHandler

LABELS = ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
          "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"]


class RecordingProxy:
    """A TCP relay on 127.0.0.1 that records every byte in each direction."""

    def __init__(self, upstream_port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.upstream_port = upstream_port
        self.to_server = bytearray()
        self.to_client = bytearray()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.upstream_port))
        self._sockets += (client, server)
        for src, dst, log in ((client, server, self.to_server),
                              (server, client, self.to_client)):
            t = threading.Thread(target=self._pump, args=(src, dst, log), daemon=True)
            t.start()
            self._threads.append(t)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, log: bytearray) -> None:
        try:
            while data := src.recv(65536):
                log += data
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def join(self) -> None:
        for t in self._threads:
            t.join(10)
        for sock in (*self._sockets, self.listener):
            sock.close()


def records(stream: bytes) -> list[tuple[int, bytes, bytes]]:
    """Split a TLS byte stream into (content type, header, body)."""
    out = []
    pos = 0
    while pos + 5 <= len(stream):
        length = int.from_bytes(stream[pos + 3:pos + 5], "big")
        header, body = stream[pos:pos + 5], stream[pos + 5:pos + 5 + length]
        assert len(body) == length, "truncated record in the capture"
        out.append((stream[pos], header, body))
        pos += 5 + length
    assert pos == len(stream)
    return out


def parse_keylog(path: Path) -> dict[str, tuple[bytes, bytes]]:
    return parse_keylog_lines(path.read_text().splitlines())


def parse_keylog_lines(lines: list[str]) -> dict[str, tuple[bytes, bytes]]:
    entries = {}
    for line in lines:
        label, random_hex, secret_hex = line.split(" ")
        assert label not in entries, f"{label} logged twice"
        entries[label] = (bytes.fromhex(random_hex), bytes.fromhex(secret_hex))
    return entries


class Decryptor:
    """Undo record protection (RFC 8446 5.2) given a traffic secret, by hand."""

    def __init__(self, suite: Suite, secret: bytes) -> None:
        keys = traffic_keys(suite, secret)
        self.aead = AESGCM(keys.key)
        self.iv = int.from_bytes(keys.iv, "big")
        self.seq = 0

    def open(self, header: bytes, body: bytes) -> tuple[int, bytes]:
        nonce = (self.iv ^ self.seq).to_bytes(12, "big")
        inner = self.aead.decrypt(nonce, body, header)
        self.seq += 1
        inner = inner.rstrip(b"\x00")
        return inner[-1], inner[:-1]


def decrypt_direction(stream: bytes, suite: Suite, hs_secret: bytes,
                      app_secret: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Handshake-key records until one fails to open, then application-key records.
    Returns the handshake-key plaintexts and the application data, concatenated."""
    hs = Decryptor(suite, hs_secret)
    app: Decryptor | None = None
    handshake: list[tuple[int, bytes]] = []
    data = bytearray()
    for ctype, header, body in records(stream):
        if ctype != 23:
            continue  # ClientHello / ServerHello / compatibility CCS
        if app is None:
            try:
                handshake.append(hs.open(header, body))
                continue
            except InvalidTag:
                app = Decryptor(suite, app_secret)
        inner_type, content = app.open(header, body)
        if inner_type == 23:
            data += content
    return handshake, bytes(data)


@pytest.fixture
def aes128_client(client_config: ClientConfig) -> ClientConfig:
    return ClientConfig(trust_anchors=client_config.trust_anchors,
                        cipher_suites=["TLS_AES_128_GCM_SHA256"])


def test_keylog_file_format_and_permissions(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    logger = KeyLogFile(path)
    assert not path.exists()  # opened lazily
    logger("CLIENT_RANDOM_TEST", b"\x01" * 32, b"\xab\xcd")
    logger("OTHER", b"\x02" * 32, b"\x00")
    assert path.read_text() == (f"CLIENT_RANDOM_TEST {'01' * 32} abcd\n"
                                f"OTHER {'02' * 32} 00\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    logger.close()
    with KeyLogFile(path) as again:
        again("APPENDED", b"\x03", b"\x04")  # append mode: nothing is lost
    assert path.read_text().splitlines()[-1] == "APPENDED 03 04"


def test_keylog_file_is_thread_safe(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    with KeyLogFile(path) as logger:
        def work(n: int) -> None:
            for i in range(200):
                logger(f"T{n}", bytes([n]) * 32, i.to_bytes(48, "big"))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 1600
    assert all(len(line.split(" ")[1]) == 64 and len(line.split(" ")[2]) == 96
               for line in lines)


def test_keylog_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert keylog_from_env() is None
    monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "a.log"))
    a = keylog_from_env()
    assert isinstance(a, KeyLogFile) and a.path == str(tmp_path / "a.log")
    assert keylog_from_env() is a  # one shared logger per path
    monkeypatch.setenv("SSLKEYLOGFILE", "")
    assert keylog_from_env() is None


def test_with_keylog_copies_instead_of_mutating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                client_config: ClientConfig,
                                                server_config: ServerConfig) -> None:
    assert with_keylog(client_config) is client_config  # nothing to do
    monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "k.log"))
    copy = with_keylog(client_config)
    assert copy is not client_config and client_config.keylog is None
    assert isinstance(copy.keylog, KeyLogFile)
    assert copy.get_verifier() is client_config.get_verifier()
    server_copy = with_keylog(server_config)
    assert server_copy is not server_config and server_config.keylog is None
    own = KeyLogFile(tmp_path / "own.log")  # never written to: no file is opened
    own_config = client_config.replace(keylog=own)
    assert with_keylog(own_config) is own_config  # an explicit keylog wins


def test_handshake_logs_every_secret_and_decrypts(tmp_path: Path, tls_server_factory,
                                                  aes128_client: ClientConfig) -> None:
    srv = tls_server_factory(BulkEchoHandler)
    proxy = RecordingProxy(srv.server_address[1])
    path = tmp_path / "keys.log"
    keylog = KeyLogFile(path)
    aes128_client = aes128_client.replace(keylog=keylog)
    message = b"attack at dawn " * 3000  # several records
    with keylog, tlskit.connect("127.0.0.1", proxy.port, aes128_client, server_name="localhost",
                        timeout=10) as sock:
        sock.sendall(message)
        echoed = bytearray()
        while len(echoed) < len(message):
            echoed += sock.recv(65536)
        hc = sock.handshake_info
        exported = sock.export_keying_material(b"EXPORTER-tlskit-test", b"ctx", 32)
    proxy.join()
    assert bytes(echoed) == message

    entries = parse_keylog(path)
    assert sorted(entries) == sorted(LABELS)
    client_hello = records(bytes(proxy.to_server))[0][2]
    assert client_hello[0] == 1  # handshake type client_hello
    client_random = client_hello[6:38]
    assert {r for r, _ in entries.values()} == {client_random}

    suite = next(s for s in SUITES.values() if s.name == hc.cipher_suite.name)
    assert suite.name == "TLS_AES_128_GCM_SHA256"
    # Client to server: the Finished under the handshake key, then our data.
    hs_msgs, plaintext = decrypt_direction(
        bytes(proxy.to_server), suite, entries["CLIENT_HANDSHAKE_TRAFFIC_SECRET"][1],
        entries["CLIENT_TRAFFIC_SECRET_0"][1])
    assert [(t, m[0]) for t, m in hs_msgs] == [(22, 20)]  # one record: Finished
    assert plaintext == message
    # Server to client: EncryptedExtensions first, and the echo.
    hs_msgs, plaintext = decrypt_direction(
        bytes(proxy.to_client), suite, entries["SERVER_HANDSHAKE_TRAFFIC_SECRET"][1],
        entries["SERVER_TRAFFIC_SECRET_0"][1])
    assert hs_msgs[0][0] == 22 and hs_msgs[0][1][0] == 8  # encrypted_extensions
    assert plaintext == message
    # The exporter secret is the one the connection exports from.
    assert export_keying_material(suite, entries["EXPORTER_SECRET"][1],
                                  b"EXPORTER-tlskit-test", b"ctx", 32) == exported


def test_sslkeylogfile_env_blocking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    tls_server_factory, client_config: ClientConfig) -> None:
    path = tmp_path / "env.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(path))
    srv = tls_server_factory(BulkEchoHandler)
    with tlskit.connect("127.0.0.1", srv.server_address[1], client_config,
                        server_name="localhost", timeout=10) as sock:
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"
    assert client_config.keylog is None  # the caller's config was not touched
    lines = path.read_text().splitlines()
    # Client and TLSServer (created after the variable was set) logged the same secrets.
    assert len(lines) == 10 and len(set(lines)) == 5
    assert sorted(parse_keylog_lines(sorted(set(lines)))) == sorted(LABELS)


def test_sslkeylogfile_env_client_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       tls_server_factory, client_config: ClientConfig) -> None:
    srv = tls_server_factory(BulkEchoHandler)  # configured before the variable is set
    path = tmp_path / "env.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(path))
    with tlskit.connect("127.0.0.1", srv.server_address[1], client_config,
                        server_name="localhost", timeout=10) as sock:
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"
    assert sorted(parse_keylog(path)) == sorted(LABELS)


def test_sslkeylogfile_env_server_and_aio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          server_config: ServerConfig,
                                          client_config: ClientConfig) -> None:
    path = tmp_path / "env.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(path))

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readexactly(2))
        writer.close()

    async def main() -> None:
        server = await tlskit.aio.start_server(handler, "127.0.0.1", 0, server_config)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await tlskit.aio.open_connection("127.0.0.1", port, client_config,
                                                          server_name="localhost")
        writer.write(b"hi")
        assert await reader.read() == b"hi"
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    asyncio.run(asyncio.wait_for(main(), 30))
    lines = path.read_text().splitlines()
    # Both ends logged the same five secrets for the same client random.
    assert len(lines) == 10 and len(set(lines)) == 5
    assert sorted({line.split(" ")[0] for line in lines}) == sorted(LABELS)
    assert len({line.split(" ")[1] for line in lines}) == 1
    assert server_config.keylog is None and client_config.keylog is None
    assert os.path.getsize(path) > 0


def test_env_logger_is_closed_at_exit(tmp_path: Path) -> None:
    """The $SSLKEYLOGFILE logger stays open for the process's connections and is closed
    at exit: no "unclosed file" ResourceWarning from the collector under -X dev."""
    path = tmp_path / "env.log"
    code = ("from tlskit.keylog import keylog_from_env\n"
            "keylog_from_env()('LABEL', b'\\x01', b'\\x02')\n")
    env = {**os.environ, "SSLKEYLOGFILE": str(path)}
    done = subprocess.run([sys.executable, "-X", "dev", "-c", code], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert path.read_text() == "LABEL 01 02\n"
    assert "ResourceWarning" not in done.stderr, done.stderr
