"""Fixtures for the drop-in context: certificates from a tlskit local CA, and real servers
on 127.0.0.1 (openssl s_server -www, nginx, `tlskit serve`) with a good, an expired and a
wrong-host certificate."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

import tlskit.compat as tc
from tlskit.ca import LocalCA
from tlskit.x509 import CertificateVerificationError, TrustStore, Verifier

from ..support.peers import stop_process
from ..support.pki import CertFiles
from ..support.ports import reserve_port

PEM = serialization.Encoding.PEM


@dataclass
class PKI:
    ca: LocalCA
    root: Path
    good: CertFiles
    expired: CertFiles
    wrong_host: CertFiles
    client: CertFiles

    def reason(self, cert: CertFiles, host: str = "localhost") -> str:
        """tlskit's own explanation for ``cert`` presented as ``host`` (its time-free part)."""
        verifier = Verifier(TrustStore([self.ca.root]))
        try:
            verifier.verify(cert.issued.chain[0], cert.issued.chain[1:], server_name=host)
        except CertificateVerificationError as exc:
            return str(exc).split("; now is")[0]
        raise AssertionError("the certificate verifies")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    d = tmp_path_factory.mktemp("compat-pki")
    now = dt.datetime.now(dt.UTC)
    ca = LocalCA.create(clock=lambda: now - dt.timedelta(days=60))
    expired = ca.issue_server(["localhost", "127.0.0.1"], days=30)  # ended 30 days ago
    ca.clock = lambda: dt.datetime.now(dt.UTC)
    (d / "root.pem").write_bytes(ca.export_root_pem())
    return PKI(ca, d / "root.pem",
               CertFiles.write(ca.issue_server(["localhost", "127.0.0.1"]), d / "good"),
               CertFiles.write(expired, d / "expired"),
               CertFiles.write(ca.issue_server(["wrong.example"]), d / "wrong"),
               CertFiles.write(ca.issue_client("alice"), d / "client"))


@pytest.fixture
def client_ctx(pki: PKI) -> tc.SSLContext:
    return tc.create_default_context(cafile=str(pki.root))


@pytest.fixture
def server_ctx(pki: PKI) -> tc.SSLContext:
    ctx = tc.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.good.fullchain, pki.good.key)
    return ctx


# -- servers --------------------------------------------------------------------------------

def _drain(stream: object) -> threading.Thread:
    t = threading.Thread(target=stream.read, daemon=True)  # type: ignore[attr-defined]
    t.start()
    return t


class OpenSSLWWW:
    """`openssl s_server -www` on an OS-chosen port; it answers GET with a status page."""

    def __init__(self, cert: CertFiles, *extra: str) -> None:
        openssl = shutil.which("openssl")
        assert openssl, "openssl is required (bash .ci/install-test-deps.sh)"
        self.proc = subprocess.Popen(
            [openssl, "s_server", "-accept", "127.0.0.1:0", "-cert", str(cert.leaf),
             "-cert_chain", str(cert.chain), "-key", str(cert.key), "-www", *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.proc.stdout is not None
        self.port = 0
        for raw in self.proc.stdout:
            if raw.startswith(b"ACCEPT"):
                self.port = int(raw.decode().strip().rsplit(":", 1)[1])
                break
        if not self.port:
            self.close()
            raise RuntimeError("openssl s_server did not report its port")
        _drain(self.proc.stdout)

    def url(self, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}/"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> bool:
    """Poll until something accepts on the port; False if the process died first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return True
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on port {port}")


NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{ default_type text/plain; return 200 "hello from nginx\\n"; }}
    }}
}}
"""


class Nginx:
    """nginx (TLS 1.2 and 1.3, HTTP/1.1 and h2 by ALPN) in the foreground, with its own
    prefix and config; the port is a free one picked by the OS (retried if taken)."""

    def __init__(self, cert: CertFiles, directory: Path) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        assert os.path.exists(nginx), "nginx is required (bash .ci/install-test-deps.sh)"
        for _ in range(5):
            self.port = reserve_port()
            conf = directory / "nginx.conf"
            conf.write_text(NGINX_CONF.format(d=directory, port=self.port, cert=cert.fullchain,
                                              key=cert.key))
            self.proc = subprocess.Popen([nginx, "-p", str(directory), "-c", str(conf)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE)
            if _wait_listening(self.port, self.proc):
                return
            self.proc.wait()
        log = (directory / "error.log").read_text() if (directory / "error.log").exists() else ""
        raise RuntimeError(f"nginx did not start: {log}")

    def url(self, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}/"

    def close(self) -> None:
        stop_process(self.proc)


class TlskitServe:
    """`tlskit serve --port 0` (its first line names the port)."""

    def __init__(self, cert: CertFiles) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tlskit", "serve", "--port", "0", "--cert",
             str(cert.fullchain), "--key", str(cert.key)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().decode()
        if not first.startswith("listening on https://"):
            self.close()
            raise RuntimeError(f"tlskit serve did not start: {first!r}")
        self.port = int(first.strip().rstrip("/").rsplit(":", 1)[1])
        _drain(self.proc.stdout)

    def url(self, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}/"

    def close(self) -> None:
        stop_process(self.proc)


@pytest.fixture(scope="module")
def openssl_good(pki: PKI) -> Iterator[OpenSSLWWW]:
    with contextlib.closing(OpenSSLWWW(pki.good)) as srv:
        yield srv


@pytest.fixture(scope="module")
def openssl_expired(pki: PKI) -> Iterator[OpenSSLWWW]:
    with contextlib.closing(OpenSSLWWW(pki.expired)) as srv:
        yield srv


@pytest.fixture(scope="module")
def openssl_wrong_host(pki: PKI) -> Iterator[OpenSSLWWW]:
    with contextlib.closing(OpenSSLWWW(pki.wrong_host)) as srv:
        yield srv


@pytest.fixture(scope="module")
def nginx(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    with contextlib.closing(Nginx(pki.good, tmp_path_factory.mktemp("nginx"))) as srv:
        yield srv


@pytest.fixture(scope="module")
def tlskit_serve(pki: PKI) -> Iterator[TlskitServe]:
    with contextlib.closing(TlskitServe(pki.good)) as srv:
        yield srv
