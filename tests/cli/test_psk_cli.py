"""`tlskit connect --psk-identity ID --psk HEX` against `openssl s_server -psk -nocert`,
`tlskit serve --psk-identity ID --psk HEX` against `openssl s_client -psk`, and the
options' usage errors (exit 2, one line)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable

import pytest

import tlskit as tlskit_api

from .test_connect import SServer, one_error_line, tlskit
from .test_serve import Serve, serve  # noqa: F401 -- the fixture

KEY = bytes(range(32)).hex()


@pytest.fixture
def psk_server() -> SServer:
    server = SServer("-nocert", "-psk", KEY, "-psk_identity", "dev1")
    yield server  # type: ignore[misc]
    server.close()


def test_connect_with_psk_says_how_the_server_was_authenticated(psk_server: SServer) -> None:
    proc = tlskit(f"127.0.0.1:{psk_server.port}", "--psk-identity", "dev1", "--psk", KEY,
                  "--request", r"GET / HTTP/1.0\r\n\r\n")
    assert proc.returncode == 0, proc.stderr
    assert "authenticated by external PSK 'dev1'" in proc.stdout
    assert "none (authenticated by external PSK)" in proc.stdout
    assert "HTTP/1.0 200 ok" in proc.stdout
    out = json.loads(tlskit(f"127.0.0.1:{psk_server.port}", "--psk-identity", "dev1",
                            "--psk", KEY, "--json").stdout)
    assert out["external_psk"] == "dev1" and out["peer_certificates"] == []
    assert out["verification"]["detail"] == "authenticated by external PSK 'dev1'"


@pytest.mark.parametrize(("args", "line"), [
    (["--psk", KEY], "--psk-identity and --psk go together"),
    (["--psk-identity", "dev1"], "--psk-identity and --psk go together"),
    (["--psk-identity", "dev1", "--psk", "zz"],
     "--psk takes the key in hex (as openssl's -psk), e.g. --psk $(openssl rand -hex 32)"),
    (["--psk-identity", "dev1", "--psk", "00ff"],
     "--psk-identity/--psk: an external PSK secret must be at least 16 bytes of random "
     "(128 bits, RFC 9257 6): a shorter or guessable one falls to an offline guessing "
     "attack on the binder; got 2"),
])
def test_connect_psk_usage_errors(args: list[str], line: str) -> None:
    proc = tlskit("127.0.0.1:1", *args)
    assert proc.returncode == 2
    assert one_error_line(proc) == f"tlskit connect: {line}"


def test_serve_with_psk_echoes_to_a_psk_client(serve: Callable[..., Serve]) -> None:  # noqa: F811
    server = serve("--echo", "--psk-identity", "dev1", "--psk", KEY)
    config = tlskit_api.ClientConfig(external_psks=[
        tlskit_api.ExternalPsk(b"dev1", bytes.fromhex(KEY))])
    with tlskit_api.connect("127.0.0.1", server.port, config, timeout=10) as sock:
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
        assert sock.connection.handshake_complete.external_psk_identity == b"dev1"
    assert server.stop() == 0
    assert any("psk='dev1'" in line for line in server.stderr_lines), server.stderr_lines


def test_serve_page_answers_s_client_psk(serve: Callable[..., Serve]) -> None:  # noqa: F811
    server = serve("--psk-identity", "dev1", "--psk", KEY)
    proc = subprocess.run(
        ["openssl", "s_client", "-tls1_3", "-connect", f"127.0.0.1:{server.port}",
         "-psk", KEY, "-psk_identity", "dev1", "-ign_eof"],
        input="GET / HTTP/1.0\r\n\r\n", capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "no peer certificate available" in proc.stdout
    assert "HTTP/1.1 200" in proc.stdout


def test_serve_takes_and_logs_an_identity_that_is_not_utf8(
        serve: Callable[..., Serve]) -> None:  # noqa: F811
    """As openssl's -psk_identity, the argument's bytes as they are (b"dev\\xff"), and the
    log escapes them: ``psk=b'dev\\xff'``, never a replacement character that another
    identity (b"dev\\xfe") would show too."""
    identity = b"dev\xff"
    server = serve("--echo", "--psk-identity", os.fsdecode(identity), "--psk", KEY)
    config = tlskit_api.ClientConfig(external_psks=[
        tlskit_api.ExternalPsk(identity, bytes.fromhex(KEY))])
    with tlskit_api.connect("127.0.0.1", server.port, config, timeout=10) as sock:
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
    assert server.stop() == 0
    assert any("psk=b'dev\\xff'" in line for line in server.stderr_lines), \
        server.stderr_lines
