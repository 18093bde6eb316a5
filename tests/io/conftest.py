"""Fixtures for the I/O adapter tests: a local CA, configs, servers on 127.0.0.1."""

from __future__ import annotations

import shutil
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tlskit import ClientConfig, ServerConfig
from tlskit.ca import LocalCA
from tlskit.io import TLSServer

from ..support.pki import CertFiles

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.interop  # openssl is required: CI installs it


@dataclass
class PKI(CertFiles):
    """The CA, its root in ``root_pem``, and one localhost leaf's files."""

    ca: LocalCA

    @property
    def root_pem(self) -> Path:
        return self.directory / "root.pem"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    ca = LocalCA.create()
    issued = ca.issue_server(["localhost", "127.0.0.1"])
    files = CertFiles.write(issued, tmp_path_factory.mktemp("pki"))
    pki = PKI(issued, files.directory, ca)
    pki.root_pem.write_bytes(ca.export_root_pem())
    return pki


@pytest.fixture(autouse=True)
def _no_env_keylog(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests must not depend on (or write to) a developer's SSLKEYLOGFILE.
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)


@pytest.fixture
def server_config(pki: PKI) -> ServerConfig:
    return ServerConfig(certificate_chain=pki.issued.chain, private_key=pki.issued.private_key)


@pytest.fixture
def client_config(pki: PKI) -> ClientConfig:
    return ClientConfig(trust_anchors=[pki.ca.root])


class EchoHandler(socketserver.StreamRequestHandler):
    """Echo lines until EOF; the line b"QUIT\\n" ends the connection from our side."""

    def handle(self) -> None:
        while True:
            line = self.rfile.readline(1 << 20)
            if not line or line == b"QUIT\n":
                return
            self.wfile.write(line)


class BulkEchoHandler(socketserver.BaseRequestHandler):
    """Echo raw chunks until the client's close_notify."""

    def handle(self) -> None:
        sock = self.request
        while data := sock.recv(1 << 16):
            sock.sendall(data)


def start_tls_server(server: TLSServer) -> threading.Thread:
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True)
    t.start()
    return t


@pytest.fixture
def tls_server_factory(server_config: ServerConfig) -> Iterator:
    servers: list[TLSServer] = []

    def make(handler: type = EchoHandler, config: ServerConfig | None = None,
             **kw: object) -> TLSServer:
        srv = TLSServer(("127.0.0.1", 0), handler, config or server_config, **kw)
        servers.append(srv)
        start_tls_server(srv)
        return srv

    yield make
    for srv in servers:
        srv.shutdown()
        srv.server_close()


class OpenSSLServer:
    """`openssl s_server` on an OS-chosen port (parsed from its ACCEPT line)."""

    def __init__(self, pki: PKI, *extra: str) -> None:
        assert OPENSSL is not None
        self.proc = subprocess.Popen(
            [OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-cert", str(pki.leaf),
             "-cert_chain", str(pki.chain), "-key", str(pki.key), "-tls1_3",
             *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.proc.stdout is not None
        self.port = 0
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("ACCEPT"):
                self.port = int(line.rsplit(":", 1)[1])
                break
        if not self.port:
            self.close()
            raise RuntimeError("openssl s_server did not report its port")
        # Keep draining its output so it never blocks on a full pipe.
        self._drain = threading.Thread(target=self.proc.stdout.read, daemon=True)
        self._drain.start()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        if hasattr(self, "_drain"):
            self._drain.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def openssl_www(pki: PKI) -> Iterator[OpenSSLServer]:
    if OPENSSL is None:
        pytest.fail("the openssl binary is required (bash .ci/install-test-deps.sh)")
    srv = OpenSSLServer(pki, "-www")
    yield srv
    srv.close()
