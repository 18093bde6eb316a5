"""`tlskit connect --ech-config-list`: BoringSSL's server accepting ECH (JSON and the
human summary, the trace and the diagram), a server without ECH (openssl s_server: one
line with the alert, no traceback), and files that are no ECHConfigList."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from tlskit import generate_ech_key

from ..support.peers import require_binary
from ..support.ports import listening_port
from .test_connect import PKI, SServer, as_json, one_error_line, tlskit
from .test_connect import pki as pki  # (the fixtures, shared)
from .test_connect import server as server


def generate_ech(directory: Path, public_name: str) -> Path:
    """`bssl-tool generate-ech`'s files; returns the ECHConfigList's path."""
    made = subprocess.run([require_binary("bssl-tool"), "generate-ech", "-out-ech-config-list",
                           directory / "list", "-out-ech-config", directory / "config",
                           "-out-private-key", directory / "key", "-public-name", public_name,
                           "-config-id", "3"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert made.returncode == 0, made.stderr
    return directory / "list"


@pytest.fixture
def bssl_ech(pki: PKI, tmp_path: Path):
    listed = generate_ech(tmp_path, "public.example")
    full = tmp_path / "full.pem"
    full.write_bytes(pki.cert.read_bytes() + pki.chain.read_bytes())
    proc = subprocess.Popen(["bssl-tool", "server", "-accept", "0", "-key", str(pki.key),
                             "-cert", str(full), "-ech-key", str(tmp_path / "key"),
                             "-ech-config", str(tmp_path / "config"), "-loop", "-www"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    try:
        yield listening_port(proc.pid), listed
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.parametrize("encoding", ["binary", "base64"])
def test_accepted_by_boringssl(pki: PKI, bssl_ech: tuple[int, Path], tmp_path: Path,
                               encoding: str) -> None:
    port, listed = bssl_ech
    if encoding == "base64":  # as a DNS HTTPS record's ech= shows it, wrapped
        text = base64.encodebytes(listed.read_bytes())
        listed = tmp_path / "list.b64"
        listed.write_bytes(text)
    proc = tlskit(f"127.0.0.1:{port}", "--servername", "localhost", "--cafile",
                  str(pki.root), "--ech-config-list", str(listed), "--json", "--trace",
                  "--request", "GET / HTTP/1.0\r\n\r\n")
    out = as_json(proc)
    assert out["ech"] == {"accepted": True, "public_name": "public.example", "config_id": 3}
    assert "Encrypted ClientHello: yes" in out["response"]
    assert "Client sent SNI: localhost" in out["response"]
    hello = next(s for s in out["trace"] if s["step"] == "client_hello")["fields"]
    assert hello["server_name"] == "public.example" and hello["ech"] == "offered"
    assert hello["inner_server_name"] == "localhost"


def test_human_summary_trace_and_diagram(pki: PKI, bssl_ech: tuple[int, Path],
                                         tmp_path: Path) -> None:
    port, listed = bssl_ech
    svg = tmp_path / "hs.svg"
    proc = tlskit(f"127.0.0.1:{port}", "--servername", "localhost", "--cafile",
                  str(pki.root), "--ech-config-list", str(listed), "--trace", "--diagram",
                  str(svg))
    assert proc.returncode == 0, proc.stderr
    assert "ECH" in proc.stdout and "public.example was sent in the clear" in proc.stdout
    assert "inner_server_name" in proc.stdout
    drawing = svg.read_text()
    assert "ECH: inner hello encrypted (real SNI: localhost)" in drawing
    assert "ECH accepted" in drawing


def test_server_without_ech_is_one_line(server: SServer, pki: PKI,
                                        tmp_path: Path) -> None:
    """openssl s_server ignores ECH: tlskit checks the certificate for the public name
    (localhost), sends ech_required and says so in one line."""
    listed = generate_ech(tmp_path, "localhost")
    proc = tlskit(f"127.0.0.1:{server.port}", "--servername", "secret.example",
                  "--cafile", str(pki.root), "--ech-config-list", str(listed))
    line = one_error_line(proc)
    assert "did not accept Encrypted Client Hello (sent alert ech_required" in line
    assert "public name localhost" in line and "no retry configs" in line


@pytest.mark.parametrize("content, words", [
    (b"garbage\n", "neither an ECHConfigList nor base64 of one (truncated"),
    (b"garbage\n", "give the list `tlskit serve --ech` prints"),
    (b"\x00\x08\xfe\x0c\x00\x04abcd", "no ECH config tlskit can use"),
])
def test_a_bad_file_is_one_line(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "ech"
    path.write_bytes(content)
    line = one_error_line(tlskit("127.0.0.1:1", "--ech-config-list", str(path)))
    assert line.startswith(f"tlskit connect: cannot use --ech-config-list {path}: ")
    assert words in line


def test_tls12_only_with_a_list_names_the_options(tmp_path: Path) -> None:
    """The CLI's words, not ClientConfig's parameter name: what to drop."""
    path = tmp_path / "list"
    path.write_bytes(generate_ech_key("public.example").config_list)
    line = one_error_line(tlskit("127.0.0.1:1", "--ech-config-list", str(path), "--tls1.2"))
    assert line == ("tlskit connect: --ech-config-list needs TLS 1.3 (Encrypted Client "
                    "Hello does not exist in TLS 1.2): drop --tls1.2")


@pytest.mark.parametrize("other", [["--tls1.2"], ["--ech-config-list", "list"]])
def test_grease_with_an_option_that_cancels_it_is_one_line(tmp_path: Path,
                                                           other: list[str]) -> None:
    """It was silently not sent: the flag did nothing and said nothing."""
    (tmp_path / "list").write_bytes(generate_ech_key("public.example").config_list)
    line = one_error_line(tlskit("127.0.0.1:1", "--ech-grease", *other, cwd=tmp_path))
    assert line.startswith("tlskit connect: --ech-grease is for TLS 1.3 connections "
                           "without --ech-config-list"), line


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    line = one_error_line(tlskit("127.0.0.1:1", "--ech-config-list", str(tmp_path / "no")))
    assert "cannot read --ech-config-list" in line and "No such file" in line


def test_grease(server: SServer, pki: PKI) -> None:
    """--ech-grease: a normal connection with a GREASE encrypted_client_hello."""
    proc = tlskit(f"localhost:{server.port}", "--cafile", str(pki.root), "--ech-grease",
                  "--json", "--trace")
    out = as_json(proc)
    hello = next(s for s in out["trace"] if s["step"] == "client_hello")["fields"]
    assert "encrypted_client_hello" in hello["extensions"]
    assert out["ech"] is None and hello["server_name"] == "localhost"
