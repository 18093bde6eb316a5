"""`tlskit serve` in a subprocess on an OS-chosen port, driven by `openssl s_client`, curl,
Python's ssl module and `tlskit connect`; stopped with SIGTERM, which must exit 0."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tlskit
from tlskit import ClientConfig, ClientConnection
from tlskit.ca import LocalCA
from tlskit.cli import serve as serve_module
from tlskit.cli.main import build_parser
from tlskit.config import load_pem_chain
from tlskit.record import MAX_KEY_UPDATES

from .helpers import LocalhostPKI

assert shutil.which("openssl"), "the openssl binary is required (bash .ci/install-test-deps.sh)"

GET = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"


class PKI:
    def __init__(self, base: Path) -> None:
        local = LocalhostPKI.create(base, "localhost")
        self.root, self.intermediate = local.root, local.intermediate
        self.cert, self.key = local.cert, local.key
        alice = local.ca.issue_client("alice")
        self.alice, self.alice_key = alice.write(cert_path=base / "alice.pem",
                                                 key_path=base / "alice-key.pem")
        rsa = local.ca.issue_server(["localhost", "127.0.0.1"], key_type="rsa2048")
        self.rsa_cert, self.rsa_key = rsa.write(cert_path=base / "rsa.pem",
                                                key_path=base / "rsa-key.pem")
        stranger = LocalCA.create(None).issue_client("mallory")
        self.mallory, self.mallory_key = stranger.write(
            cert_path=base / "mallory.pem", key_path=base / "mallory-key.pem")


class Serve:
    """A running `tlskit serve`; the port comes from its first stdout line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tlskit", "serve", "--port", "0", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env)
        self.stdout: queue.Queue[str] = queue.Queue()
        self.stderr_lines: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout.put),
                             daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines.append),
                             daemon=True)]
        for pump in self._pumps:
            pump.start()
        try:
            self.first_line = self.stdout.get(timeout=30)
        except queue.Empty:
            self.proc.kill()
            pytest.fail(f"tlskit serve printed nothing: {self.stderr_lines}")
        match = re.fullmatch(r"listening on https://127\.0\.0\.1:(\d+)/\n", self.first_line)
        assert match, self.first_line
        self.port = int(match.group(1))
        self._banner_done = False

    @staticmethod
    def _pump(stream: object, sink: Callable[[str], None]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink(line)

    def wait_for_log(self, pattern: str) -> None:
        """Wait until the server has logged a line matching ``pattern``. A line the server
        writes once the client is gone (an alert it received, a handshake it failed) may
        still be unwritten when the client has exited: stopping the server then loses it."""
        deadline = time.monotonic() + 30
        while not any(re.search(pattern, line) for line in self.stderr_lines):
            assert self.proc.poll() is None, self.stderr_lines
            assert time.monotonic() < deadline, (pattern, self.stderr_lines)
            time.sleep(0.01)  # a poll interval

    def rest_of_stdout(self) -> str:
        """The stdout lines after the first: the whole banner (up to "Ctrl-C to stop.",
        waited for: the pump thread may not have queued it yet when the first line is
        taken), then whatever else has come."""
        lines: list[str] = []
        while not self._banner_done:
            try:
                lines.append(self.stdout.get(timeout=30))
            except queue.Empty:
                pytest.fail(f"the banner stopped at {lines}: {self.stderr_lines}")
            self._banner_done = lines[-1].startswith("Ctrl-C to stop.")
        while not self.stdout.empty():
            lines.append(self.stdout.get_nowait())
        return "".join(lines)

    def stop(self) -> int:
        """SIGTERM, then the exit status once every line the server wrote has been read
        (`stderr_lines` is complete after this returns)."""
        self.proc.send_signal(signal.SIGTERM)
        status = self.proc.wait(15)
        for pump in self._pumps:
            pump.join(15)
        return status


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return PKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    env = dict(os.environ)
    env["TLSKIT_STATE_DIR"] = str(tmp_path / "state")
    env.pop("XDG_STATE_HOME", None)
    started: list[Serve] = []

    def start(*args: str) -> Serve:
        server = Serve(list(args), env)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            assert server.stop() == 0, server.stderr_lines
        assert server.proc.returncode == 0, server.stderr_lines
        assert not any("Traceback" in line for line in server.stderr_lines), server.stderr_lines


def s_client(port: int, root: Path, *extra: str, data: str = GET,
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(root),
         "-verify_return_error", "-servername", "localhost", "-ign_eof", *extra],
        input=data, capture_output=True, text=True, timeout=30)


def tlskit_connect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlskit", "connect", *args],
                          capture_output=True, text=True, timeout=60)


# --------------------------------------------------------------------------- tests


def test_s_client_verifies_and_gets_the_page(serve: Callable[..., Serve], pki: PKI) -> None:
    server = serve("--cert", str(pki.cert), "--key", str(pki.key))
    proc = s_client(server.port, pki.root)
    assert proc.returncode == 0, proc.stderr
    assert "Verify return code: 0 (ok)" in proc.stdout
    assert "HTTP/1.1 200 OK" in proc.stdout
    assert "Your TLS handshake" in proc.stdout
    assert server.stop() == 0


def test_curl_sees_its_own_handshake(serve: Callable[..., Serve], pki: PKI) -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is required (bash .ci/install-test-deps.sh)")
    server = serve("--cert", str(pki.cert), "--key", str(pki.key))
    proc = subprocess.run(
        ["curl", "-sS", "--fail", "--cacert", str(pki.root), "--resolve",
         f"localhost:{server.port}:127.0.0.1", f"https://localhost:{server.port}/"],
        capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    page = proc.stdout
    suite = re.search(r"Cipher suite</th><td><code>(TLS_[A-Z0-9_]+)</code>", page)
    assert suite, page
    offered = re.search(r'<div class="box" id="offer-groups">(.*?)</div>', page)
    assert offered, page
    assert "x25519" in offered.group(1) and "secp256r1" in offered.group(1)
    assert "<code>http/1.1</code>" in page  # ALPN, the default
    assert "<code>localhost</code>" in page  # SNI
    missing = subprocess.run(
        ["curl", "-sS", "-o", os.devnull, "-w", "%{http_code}", "--cacert", str(pki.root),
         "--resolve", f"localhost:{server.port}:127.0.0.1",
         f"https://localhost:{server.port}/favicon.ico"],
        capture_output=True, text=True, timeout=30)
    assert missing.stdout == "404", missing.stderr


def test_tlskit_connect_reads_the_page(serve: Callable[..., Serve], pki: PKI) -> None:
    server = serve("--cert", str(pki.cert), "--key", str(pki.key),
                   "--groups", "secp384r1,x25519", "--ciphers", "TLS_AES_256_GCM_SHA384")
    proc = tlskit_connect(f"localhost:{server.port}", "--cafile", str(pki.root), "--json",
                          "--alpn", "h2,http/1.1", "--request",
                          r"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["alpn"] == "http/1.1"
    assert data["group"] == "secp384r1"  # the server's preference
    assert data["cipher_suite"] == "TLS_AES_256_GCM_SHA384"
    assert "HTTP/1.1 200 OK" in data["response"]
    assert "<code>TLS_AES_256_GCM_SHA384</code>" in data["response"]
    assert "<code>secp384r1</code>" in data["response"]


def test_echo(serve: Callable[..., Serve], pki: PKI) -> None:
    server = serve("--cert", str(pki.cert), "--key", str(pki.key), "--echo")
    context = ssl.create_default_context(cafile=str(pki.root))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        for message in (b"hello", b"x" * 40000):
            tls.sendall(message)
            got = b""
            while len(got) < len(message):
                chunk = tls.recv(65536)
                assert chunk
                got += chunk
            assert got == message
        assert tls.version() == "TLSv1.3"


def check_alice_in_mallory_out(port: int, pki: PKI) -> subprocess.CompletedProcess[str]:
    """alice (issued by the trusted CA) gets the page naming her; mallory (another CA's)
    does not: the stranger's s_client run, for its error."""
    accepted = s_client(port, pki.root, "-cert", str(pki.alice), "-key",
                        str(pki.alice_key), "-cert_chain", str(pki.intermediate))
    assert accepted.returncode == 0, accepted.stderr
    assert "<code>CN=alice</code>" in accepted.stdout
    stranger = s_client(port, pki.root, "-cert", str(pki.mallory), "-key",
                        str(pki.mallory_key))
    assert "Your TLS handshake" not in stranger.stdout
    return stranger


def test_client_ca_requires_a_certificate(serve: Callable[..., Serve], pki: PKI) -> None:
    server = serve("--cert", str(pki.cert), "--key", str(pki.key),
                   "--client-ca", str(pki.root))
    anonymous = s_client(server.port, pki.root)
    assert "Your TLS handshake" not in anonymous.stdout
    assert "certificate required" in anonymous.stderr
    check_alice_in_mallory_out(server.port, pki)
    # tlskit connect as the client: the alias chain file holds leaf + intermediate
    proc = tlskit_connect(f"localhost:{server.port}", "--cafile", str(pki.root),
                          "--cert", str(pki.alice), "--key", str(pki.alice_key),
                          "--request", r"GET / HTTP/1.0\r\n\r\n")
    assert proc.returncode == 0, proc.stderr
    assert "<code>CN=alice</code>" in proc.stdout
    refused = tlskit_connect(f"localhost:{server.port}", "--cafile", str(pki.root))
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "certificate_required" in lines[0], refused.stderr


def test_client_auth_optional_lets_anonymous_clients_in(serve: Callable[..., Serve],
                                                        pki: PKI) -> None:
    """--client-auth optional: a CertificateRequest every client may decline (as tlsfuzzer's
    certificate-request script needs); a certificate that is sent is still verified."""
    server = serve("--cert", str(pki.cert), "--key", str(pki.key),
                   "--client-ca", str(pki.root), "--client-auth", "optional")
    anonymous = s_client(server.port, pki.root, "-msg")
    assert anonymous.returncode == 0, anonymous.stderr
    assert "CertificateRequest" in anonymous.stdout  # asked, and declining is fine
    assert "Your TLS handshake" in anonymous.stdout
    assert "client certificates optional" in server.rest_of_stdout()  # the banner says so
    stranger = check_alice_in_mallory_out(server.port, pki)
    assert "unknown ca" in stranger.stderr


@pytest.mark.parametrize("form", ["der", "directory"])
def test_client_ca_takes_what_connect_cafile_takes(serve: Callable[..., Serve], pki: PKI,
                                                   tmp_path: Path, form: str) -> None:
    """--client-ca reads a DER file or a directory of CA files (a key file in it passed
    over), as connect --cafile does, through the same loader."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    root = x509.load_pem_x509_certificate(pki.root.read_bytes())
    if form == "der":
        client_ca = tmp_path / "root.der"
        client_ca.write_bytes(root.public_bytes(Encoding.DER))
    else:
        client_ca = tmp_path / "cas"
        client_ca.mkdir()
        (client_ca / "root.crt").write_bytes(root.public_bytes(Encoding.DER))
        (client_ca / "key.pem").write_bytes(pki.key.read_bytes())
    server = serve("--cert", str(pki.cert), "--key", str(pki.key),
                   "--client-ca", str(client_ca))
    check_alice_in_mallory_out(server.port, pki)


@pytest.mark.parametrize(("what", "message"), [
    ("missing", "--client-ca {path}: No such file or directory"),
    ("key", "--client-ca {path} holds no certificate, only PEM PRIVATE KEY"),
    ("empty-dir", "--client-ca {path} is a directory without certificate files"),
])
def test_an_unusable_client_ca_is_named(pki: PKI, tmp_path: Path, what: str,
                                        message: str) -> None:
    path = {"missing": tmp_path / "nope.pem", "key": pki.key, "empty-dir": tmp_path}[what]
    proc = subprocess.run([sys.executable, "-m", "tlskit", "serve", "--port", "0",
                           "--cert", str(pki.cert), "--key", str(pki.key),
                           "--client-ca", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tlskit serve: "), proc.stderr
    assert message.format(path=path) in lines[0]


def test_client_auth_without_client_ca_is_a_usage_error(pki: PKI) -> None:
    proc = subprocess.run([sys.executable, "-m", "tlskit", "serve", "--port", "0",
                           "--cert", str(pki.cert), "--key", str(pki.key),
                           "--client-auth", "optional"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("tlskit serve: --client-auth needs --client-ca (the CAs "
                                   "client certificates must come from) or --pin-client-key "
                                   "(raw public keys)")


@pytest.mark.parametrize(("cert_text", "key_text", "message"), [
    ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", None,
     "bad.pem holds no readable PEM certificate: not valid DER: an unexpected ASN.1 element"),
    (None, "not a key\n",
     "bad.pem: no well-formed PEM block (-----BEGIN ...----- to -----END ...-----)"),
    (None, "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
     "bad.pem: not a private key cryptography can read (another format, encrypted without "
     "the password, or an unsupported key type)"),
])
def test_unreadable_cert_or_key_is_one_line_in_words(pki: PKI, tmp_path: Path,
                                                     cert_text: str | None,
                                                     key_text: str | None,
                                                     message: str) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text(cert_text or key_text or "")
    cert, key = (bad, pki.key) if cert_text else (pki.cert, bad)
    proc = subprocess.run([sys.executable, "-m", "tlskit", "serve", "--port", "0",
                           "--cert", str(cert), "--key", str(key)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    line, = proc.stderr.strip().splitlines()
    assert line.startswith("tlskit serve: cannot load the certificate or key: ")
    assert message in line.replace(str(tmp_path) + "/", "")
    assert "ParseError" not in line and "Tag {" not in line


def test_bad_clients_do_not_kill_the_server(serve: Callable[..., Serve], pki: PKI) -> None:
    server = serve("--cert", str(pki.cert), "--key", str(pki.key))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")  # plain HTTP to a TLS port
        sock.recv(100)  # an alert, then EOF
    with socket.create_connection(("127.0.0.1", server.port), timeout=10):
        pass  # connect and leave
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello")  # a truncated, nonsense handshake
        sock.recv(100)
    proc = s_client(server.port, pki.root)
    assert proc.returncode == 0, proc.stderr
    assert "Your TLS handshake" in proc.stdout


def test_default_certificate_from_the_local_ca(serve: Callable[..., Serve],
                                               tmp_path: Path) -> None:
    server = serve()
    root = tmp_path / "state" / "tlskit" / "ca" / "root.pem"
    assert root.is_file()
    proc = s_client(server.port, root)
    assert proc.returncode == 0, proc.stderr
    assert "Your TLS handshake" in proc.stdout
    assert server.stop() == 0
    assert str(root) in server.rest_of_stdout()
    # a second start reuses the same leaf rather than issuing a new one each time
    leaf = tmp_path / "state" / "tlskit" / "serve" / "localhost.pem"
    before = leaf.read_bytes()
    again = serve()
    assert s_client(again.port, root).returncode == 0
    assert leaf.read_bytes() == before


def test_port_in_use_is_one_line(pki: PKI) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "tlskit", "serve", "--port", str(port), "--cert",
             str(pki.cert), "--key", str(pki.key)],
            capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"tlskit serve: cannot listen on 127.0.0.1:{port}: Address already in "
                     "use; something else listens there: stop it, or choose another --port "
                     "(0 picks a free one)"], lines


@pytest.mark.parametrize(("host", "expected"), [
    ("192.0.2.77", "cannot listen on 192.0.2.77:8443: Cannot assign requested address; "
                   "192.0.2.77 is not an address of this machine"),
    ("no-such-host.invalid", "cannot listen on no-such-host.invalid:8443: no-such-host.invalid "
                             "is not an address or a name that resolves"),
])
def test_unusable_listen_address_says_why(pki: PKI, host: str, expected: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tlskit", "serve", "--host", host, "--cert", str(pki.cert),
         "--key", str(pki.key)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"tlskit serve: {expected}"


def test_version_flags(pki: PKI, serve: Callable[..., Serve]) -> None:
    server = serve("--cert", str(pki.cert), "--key", str(pki.key), "--tls1.2")
    ok = s_client(server.port, pki.root, "-tls1_2")
    assert ok.returncode == 0 and "TLSv1.2" in ok.stdout, ok.stderr
    refused = s_client(server.port, pki.root, "-tls1_3")
    assert refused.returncode != 0


def test_legacy_rsa_kx_flags(pki: PKI, serve: Callable[..., Serve]) -> None:
    """`serve --legacy-rsa-kx` lets a client that offers only RSA key transport in, and
    `connect --legacy-rsa-kx` offers it; without the flag the server refuses such a client."""
    rsa_files = ("--cert", str(pki.rsa_cert), "--key", str(pki.rsa_key))
    server = serve(*rsa_files, "--legacy-rsa-kx")
    for cipher in ("AES128-GCM-SHA256", "AES256-GCM-SHA384"):
        ok = s_client(server.port, pki.root, "-tls1_2", "-cipher", cipher)
        assert ok.returncode == 0, ok.stderr
        assert f"Cipher is {cipher}" in ok.stdout and "HTTP/1.1 200 OK" in ok.stdout
    proc = tlskit_connect(f"localhost:{server.port}", "--cafile", str(pki.root), "--json",
                          "--tls1.2", "--legacy-rsa-kx", "--ciphers", "AES256-GCM-SHA384")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["cipher_suite"] == "TLS_RSA_WITH_AES_256_GCM_SHA384"
    text = tlskit_connect(f"localhost:{server.port}", "--cafile", str(pki.root),
                          "--tls1.2", "--legacy-rsa-kx")  # offered, but ECDHE is preferred
    assert text.returncode == 0 and "ECDHE_RSA" in text.stdout, text.stderr
    human = tlskit_connect(f"localhost:{server.port}", "--cafile", str(pki.root),
                           "--tls1.2", "--legacy-rsa-kx", "--ciphers", "AES128-GCM-SHA256")
    assert "RSA key transport (no forward secrecy)" in " ".join(human.stdout.split())
    refused = tlskit_connect(f"localhost:{server.port}", "--cafile", str(pki.root),
                             "--tls1.2", "--ciphers", "AES256-GCM-SHA384")
    assert refused.returncode != 0 and "legacy_rsa_key_exchange" in refused.stderr
    default = serve(*rsa_files)
    no = s_client(default.port, pki.root, "-tls1_2", "-cipher", "AES128-GCM-SHA256")
    assert no.returncode != 0 and "handshake failure" in no.stderr


def test_ocsp_response_is_stapled(pki: PKI, serve: Callable[..., Serve],
                                  tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    ca = LocalCA.load(pki.root.parent)
    leaf = x509.load_pem_x509_certificates(pki.cert.read_bytes())[0]
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, ca.intermediate,
                                                        hashes.SHA1()).build()
    response = tmp_path / "staple.der"
    response.write_bytes(ca.ocsp_response(request.public_bytes(serialization.Encoding.DER)))
    server = serve("--cert", str(pki.cert), "--key", str(pki.key),
                   "--ocsp-response", str(response))
    out = s_client(server.port, pki.root, "-status")
    assert "OCSP Response Status: successful" in out.stdout, out.stdout
    assert "Cert Status: good" in out.stdout


def test_certificate_compression(pki: PKI, serve: Callable[..., Serve]) -> None:
    import tlskit
    server = serve("--cert", str(pki.cert), "--key", str(pki.key), "--echo",
                   "--compress-cert", "zlib")
    steps: list[str] = []
    anchors = tlskit.load_pem_chain(pki.root)
    config = tlskit.ClientConfig(trust_anchors=anchors,
                                 tracer=lambda step, fields: steps.append(step))
    with tlskit.connect("127.0.0.1", server.port, config, server_name="localhost",
                        timeout=10) as sock:
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
    assert "compressed_certificate" in steps


@pytest.mark.parametrize(("served", "accepted", "expected"), [
    ("zstd,brotli,zlib", "brotli", "brotli"),  # what Chromium accepts
    ("zstd,brotli", "zlib,brotli,zstd", "zstd"),  # the server's order
])
def test_compress_cert_names_read_by_serve_and_connect(
        serve: Callable[..., Serve], pki: PKI, served: str, accepted: str,
        expected: str) -> None:
    # RFC 8879: the serve log names the algorithm the Certificate went out with.
    server = serve("--cert", str(pki.cert), "--key", str(pki.key), "--compress-cert", served)
    proc = tlskit_connect(f"localhost:{server.port}", "--cafile", str(pki.root), "--json",
                          "--compress-cert", accepted)
    assert proc.returncode == 0, proc.stderr
    server.wait_for_log(rf" TLSv1\.3 .* cert-compression={expected}$")
    # connect's summary says so too: the algorithm and both sizes
    taken = json.loads(proc.stdout)["certificate_compression"]
    assert taken["algorithm"] == expected
    assert 0 < taken["compressed"] < taken["uncompressed"]


def test_connect_summary_says_how_the_certificate_came(serve: Callable[..., Serve],
                                                       pki: PKI) -> None:
    """`tlskit connect --compress-cert` shows whether it took effect: a row when the
    Certificate came compressed, none (and null in JSON) when it came plain."""
    server = serve("--cert", str(pki.cert), "--key", str(pki.key), "--compress-cert", "zlib")
    proc = tlskit_connect(f"localhost:{server.port}", "--cafile", str(pki.root))
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"certificate +sent compressed with zlib: \d+ bytes for \d+ ",
                     proc.stdout), proc.stdout
    plain = tlskit_connect(f"localhost:{server.port}", "--cafile", str(pki.root), "--json",
                           "--tls1.2")
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["certificate_compression"] is None


@pytest.mark.parametrize(("command", "module", "name", "extra"), [
    ("serve", "brotli", "brotli", "brotli"), ("connect", "zstandard", "zstd", "zstd")])
def test_compress_cert_without_its_package_is_one_line(
        pki: PKI, tmp_path: Path, command: str, module: str, name: str, extra: str) -> None:
    """The package blocked in a fresh interpreter stands in for one never installed."""
    args = (["--port", "0", "--cert", str(pki.cert), "--key", str(pki.key)]
            if command == "serve" else ["localhost:1", "--cafile", str(pki.root)])
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from tlskit.cli.main import main\n"
            "sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run(
        [sys.executable, "-c", code, command, *args, "--compress-cert", f"zlib,{name}"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "TLSKIT_STATE_DIR": str(tmp_path / "state")})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"tlskit {command}: certificate compression {name!r} needs the "
        f"{'zstandard package' if name == 'zstd' else 'brotli package, 1.2 or newer'}: "
        f"pip install 'tlskit[{extra}]'"], proc.stderr


@pytest.mark.parametrize(("serve_groups", "connect_groups", "expected"), [
    ("P-256,x25519", "p-256", "secp256r1"),
    ("prime256v1", "SECP256R1", "secp256r1"),
    ("x25519mlkem768,x25519", "X25519MLKEM768", "X25519MLKEM768"),
])
def test_group_names_read_alike_by_serve_and_connect(
        serve: Callable[..., Serve], pki: PKI, serve_groups: str, connect_groups: str,
        expected: str) -> None:
    # Both commands read names with tlskit.iana, as ClientConfig/ServerConfig do.
    server = serve("--cert", str(pki.cert), "--key", str(pki.key), "--groups", serve_groups)
    proc = tlskit_connect(f"localhost:{server.port}", "--cafile", str(pki.root), "--json",
                          "--groups", connect_groups)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["group"] == expected


def test_serve_rejects_an_unknown_group(pki: PKI, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tlskit", "serve", "--port", "0", "--cert", str(pki.cert),
         "--key", str(pki.key), "--groups", "p-255"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "TLSKIT_STATE_DIR": str(tmp_path / "state")})
    assert proc.returncode != 0
    assert "unknown group 'p-255'" in proc.stderr


# --------------------------------------------------------------------------- issue 12


@pytest.mark.parametrize("tickets", [0, 1, 4])
def test_tickets_count_is_configurable(serve: Callable[..., Serve], pki: PKI,
                                       tickets: int) -> None:
    server = serve("--cert", str(pki.cert), "--key", str(pki.key), "--tickets", str(tickets))
    proc = s_client(server.port, pki.root, "-tls1_3", "-msg")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("<<< TLS 1.3, Handshake [length") >= 1
    assert proc.stdout.count("NewSessionTicket") == tickets, proc.stdout[-2000:]


def test_tickets_out_of_range_is_a_usage_error(pki: PKI, tmp_path: Path) -> None:
    """The only line: no warning about another option first (an --ocsp-response that is
    not one was read and warned about before the usage error)."""
    garbage = tmp_path / "garbage.der"
    garbage.write_bytes(b"\x30\x03\x01")
    proc = subprocess.run([sys.executable, "-m", "tlskit", "serve", "--port", "0",
                           "--cert", str(pki.cert), "--key", str(pki.key), "--tickets", "99",
                           "--ocsp-response", str(garbage)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "tlskit serve: --tickets must be within 0..16, not 99"


def test_half_close_gets_the_page_before_the_close(serve: Callable[..., Serve],
                                                   pki: PKI) -> None:
    """A TLS 1.3 client that sends close_notify right after its request (half-close, RFC
    8446 6.1) still gets the whole page, then the server's close_notify."""
    from tlskit import ClientConfig, ClientConnection, ConnectionClosed, DataReceived
    from tlskit.config import load_pem_chain
    server = serve("--cert", str(pki.cert), "--key", str(pki.key))
    conn = ClientConnection(ClientConfig(trust_anchors=load_pem_chain(pki.root),
                                         versions=["TLSv1.3"], close_reply=False),
                            server_name="localhost")
    body = b""
    closed = False
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(conn.data_to_send())
        while conn.handshake_complete is None:
            conn.receive_data(sock.recv(65536))
            sock.sendall(conn.data_to_send())
        conn.send_data(GET.encode())
        conn.close()  # our close_notify right behind the request
        sock.sendall(conn.data_to_send())
        while not closed:
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, DataReceived):
                    body += event.data
                elif isinstance(event, ConnectionClosed):
                    closed = event.alert is None
    assert body.startswith(b"HTTP/1.1 200 OK") and b"Your TLS handshake" in body
    assert closed, "no close_notify from the server after the page"
    assert server.stop() == 0
    assert not any("UsageError" in line for line in server.stderr_lines)


def test_unknown_server_name_gets_the_default_certificate(serve: Callable[..., Serve],
                                                          pki: PKI) -> None:
    """RFC 6066 3: a server may go on with its default certificate for an SNI it does not
    know (as OpenSSL does); the client then decides about the name."""
    server = serve("--cert", str(pki.cert), "--key", str(pki.key))
    proc = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-CAfile",
         str(pki.root), "-servername", "unknown.example", "-ign_eof"],
        input=GET, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "HTTP/1.1 200 OK" in proc.stdout
    assert "CN = localhost" in proc.stdout or "CN=localhost" in proc.stdout


def _serve_briefly(*args: str) -> tuple[str, list[str], int]:
    """`tlskit serve --port 0 ARGS` until its banner's first line is out, then SIGTERM:
    that line, the stderr lines, the exit status."""
    proc = subprocess.Popen([sys.executable, "-m", "tlskit", "serve", "--port", "0", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return first, err.splitlines(keepends=True), proc.returncode


def test_an_expired_certificate_is_served_with_a_warning(tmp_path: Path) -> None:
    """The config's CertificateValidityWarning used to be logged before the server's lock
    existed: `'Server' object has no attribute '_lock'` and exit 1 instead of the warning."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    old = LocalCA.create(tmp_path / "old", clock=lambda: past).issue_server(["localhost"],
                                                                            days=1)
    cert, key = old.write(cert_path=tmp_path / "expired.pem", key_path=tmp_path / "key.pem")
    first, errors, code = _serve_briefly("--cert", str(cert), "--key", str(key))
    assert first.startswith("listening on https://127.0.0.1:")
    assert code == 0, errors
    assert errors[0].startswith("tlskit serve: warning: the server certificate 'CN=localhost' "
                                "expired on "), errors


def test_an_unusable_ocsp_response_file_is_told_at_start(pki: PKI, tmp_path: Path) -> None:
    """A mistyped --ocsp-response path used to start a server stapling nothing, silently."""
    missing = tmp_path / "nope.der"
    _, errors, code = _serve_briefly("--cert", str(pki.cert), "--key", str(pki.key),
                                     "--ocsp-response", str(missing))
    assert code == 0, errors
    assert errors[0].startswith(f"tlskit serve: warning: stapling nothing for now: OCSP "
                                f"response file {missing} "), errors
    assert errors[0].endswith("(the file is read again when a client asks, at most once a "
                              "minute)\n"), errors


@pytest.mark.parametrize("swap", ["cert", "key"])
def test_swapped_certificate_and_key_files_are_named(pki: PKI, tmp_path: Path,
                                                     swap: str) -> None:
    cert, key = (pki.key, pki.key) if swap == "cert" else (pki.cert, pki.cert)
    proc = subprocess.run([sys.executable, "-m", "tlskit", "serve", "--port", "0",
                           "--cert", str(cert), "--key", str(key)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    holds = (f"{pki.key} holds no certificate, only PEM PRIVATE KEY" if swap == "cert" else
             f"{pki.cert} holds no private key, only PEM CERTIFICATE")
    assert proc.stderr == (f"tlskit serve: cannot load the certificate or key: {holds} "
                           "(certificate and key files swapped?)\n")


def test_a_missing_certificate_file_is_named_with_a_colon(pki: PKI, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "tlskit", "serve", "--port", "0",
                           "--cert", "nofile.pem", "--key", str(pki.key)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == ("tlskit serve: cannot read the certificate or key: nofile.pem: No "
                           "such file or directory\n")



@contextlib.contextmanager
def serve_in_process(pki: PKI, *args: str) -> Iterator[serve_module.Server]:
    """`tlskit serve` in this process (its module constants can be patched), serving from
    a thread until the block ends."""
    argv = ["serve", "--host", "127.0.0.1", "--port", "0", "--cert", str(pki.cert),
            "--key", str(pki.key), *args]
    server = serve_module.Server(build_parser(argv).parse_args(argv))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.listener.shutdown()
        server.close()
        thread.join(10)


def handshake_by_hand(pki: PKI, sock: socket.socket) -> ClientConnection:
    """A sans-I/O client's handshake over ``sock``, so a test controls every byte after
    it (the client's Finished is still queued in the connection)."""
    conn = ClientConnection(ClientConfig(trust_anchors=load_pem_chain(pki.root)),
                            server_name="localhost")
    sock.sendall(conn.data_to_send())
    while conn.handshake_complete is None:
        conn.receive_data(sock.recv(1 << 16))
    return conn


def test_a_request_head_trickling_in_is_cut_off_in_total(
        pki: PKI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Slowloris after the handshake: a request head sent a byte at a time, each well
    within the idle timeout, held a server thread for as long as the client liked (the
    idle timeout bounds each read only). The whole head now has REQUEST_TIMEOUT."""
    monkeypatch.setattr(serve_module, "IDLE_TIMEOUT", 30.0)
    monkeypatch.setattr(serve_module, "REQUEST_TIMEOUT", 0.5)
    anchors = load_pem_chain(pki.root)
    deadline = time.monotonic() + 30
    with serve_in_process(pki) as server, \
            tlskit.connect("127.0.0.1", server.port, ClientConfig(trust_anchors=anchors),
                           server_name="localhost", timeout=0.05) as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nX-Slow: ")
        while True:
            assert time.monotonic() < deadline, "the server waits for the head forever"
            try:
                if tls.recv(100) == b"":
                    break  # the server gave up and closed
            except TimeoutError:
                tls.sendall(b"a")  # still open: another byte, well within 30 s idle
            except OSError:
                break
    assert "timed out" in capsys.readouterr().err


def test_a_key_update_flood_before_the_request_keeps_the_trace_bounded(
        pki: PKI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each KeyUpdate is a traced step for the visitor's diagram, about 700 bytes kept
    for each 27-byte record: 1.6 MB of them grew the server by 42 MiB. The diagram now
    keeps MAX_TRACED_STEPS; the page is still served. (The engine reads at most
    MAX_KEY_UPDATES in a row, so the flood comes in runs of that many, each ended by one
    byte of the request, which starts the count again: still four times the steps kept.)"""
    recorders: list[Any] = []

    class Kept(serve_module.Recorder):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            recorders.append(self)

    monkeypatch.setattr(serve_module, "Recorder", Kept)
    request = b"GET /json HTTP/1.1\r\nHost: localhost\r\n\r\n"
    runs = -(-4 * serve_module.MAX_TRACED_STEPS // MAX_KEY_UPDATES)
    assert runs <= len(request)
    flood = 0
    with serve_in_process(pki) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        conn = handshake_by_hand(pki, sock)
        for i in range(len(request)):
            for _ in range(MAX_KEY_UPDATES if i < runs else 0):
                conn.update_keys(request_peer_update=False)
                flood += 1
            conn.send_data(request[i:i + 1])
        sock.sendall(conn.data_to_send())
        answer = b""
        while not conn.closed and (data := sock.recv(1 << 16)):
            for event in conn.receive_data(data):
                answer += getattr(event, "data", b"")
    assert flood >= 4 * serve_module.MAX_TRACED_STEPS
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:100]
    assert len(recorders) == 1
    assert len(recorders[0].steps) <= serve_module.MAX_TRACED_STEPS


def test_a_key_update_flood_past_the_cap_ends_that_connection_only(
        pki: PKI, capsys: pytest.CaptureFixture[str]) -> None:
    """One KeyUpdate more than MAX_KEY_UPDATES in a row: the server answers with
    unexpected_message, logs it and goes on serving."""
    anchors = load_pem_chain(pki.root)
    with serve_in_process(pki) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            conn = handshake_by_hand(pki, sock)
            for _ in range(MAX_KEY_UPDATES + 1):
                conn.update_keys(request_peer_update=False)
            sock.sendall(conn.data_to_send())
            events: list[Any] = []
            while not conn.closed and (data := sock.recv(1 << 16)):
                events += conn.receive_data(data)
        assert tlskit.ConnectionClosed(tlskit.AlertDescription.unexpected_message) in events
        with tlskit.connect("127.0.0.1", server.port, ClientConfig(trust_anchors=anchors),
                            server_name="localhost", timeout=10) as tls:
            tls.sendall(b"GET /json HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert tls.recv(100).startswith(b"HTTP/1.1 200 OK")
    assert (f"more than {MAX_KEY_UPDATES} KeyUpdates without application data "
            "(sent alert unexpected_message)") in capsys.readouterr().err


def test_a_request_record_trickling_in_is_cut_off_in_total(
        pki: PKI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Slowloris below the record layer: the request head in one TLS record whose bytes
    arrive one at a time. The server's recv() returned nothing until the record was
    whole, so the REQUEST_TIMEOUT check between recv() calls never ran and each byte
    restarted the idle timeout: the thread was held for as long as the client liked."""
    monkeypatch.setattr(serve_module, "IDLE_TIMEOUT", 30.0)
    monkeypatch.setattr(serve_module, "REQUEST_TIMEOUT", 0.5)
    deadline = time.monotonic() + 30
    with serve_in_process(pki) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        conn = handshake_by_hand(pki, sock)
        sock.sendall(conn.data_to_send())  # the client's Finished
        conn.send_data(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 2000
                       + b"\r\n\r\n")
        record = conn.data_to_send()
        sock.settimeout(0.05)
        closed = False
        for i in range(len(record) - 1):  # never the last byte: the head stays incomplete
            assert time.monotonic() < deadline, "the server waits for the record forever"
            sock.sendall(record[i:i + 1])
            try:
                data = sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
            conn.receive_data(data)  # session tickets, then the server's close
            if not data or conn.closed:
                closed = True
                break
        assert closed, "the server never gave up on the request head"
    assert "timed out" in capsys.readouterr().err


def test_a_record_trickling_in_after_the_answer_ends_the_linger(pki: PKI) -> None:
    """After its answer the server reads for up to 2 s for the client's close, but a
    record arriving a byte at a time kept that one recv() waiting (each byte restarted
    its timeout) for as long as the client kept sending: the linger is bounded in total."""
    deadline = time.monotonic() + 30
    with serve_in_process(pki) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        conn = handshake_by_hand(pki, sock)
        conn.send_data(b"GET /json HTTP/1.1\r\nHost: localhost\r\n\r\n")
        sock.sendall(conn.data_to_send())
        conn.send_data(b"x" * 2000)
        record = conn.data_to_send()  # sent a byte at a time once the answer is in
        while sock.recv(1 << 16):
            pass  # the answer, then the server's close_notify and FIN
        with pytest.raises(OSError):  # the server closed: a reset answers the next bytes
            for byte in record:  # (40 s at this pace: the record stays incomplete)
                assert time.monotonic() < deadline, "the server lingers forever"
                sock.sendall(bytes([byte]))
                time.sleep(0.02)
