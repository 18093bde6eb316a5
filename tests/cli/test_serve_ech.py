"""`tlskit serve --ech PUBLIC_NAME` and `--ech-key/--ech-config`: the ECHConfigList it
prints (base64) and writes (--ech-config-list-out) works with `tlskit connect
--ech-config-list` and `bssl-tool client -ech-config-list` (both report ECH accepted);
the local CA's certificate covers the public name, so a client with a stale config is
rejected with retry configs that then work; a --cert without the name is warned about;
bssl-tool's key files are served as they are; bad values and files are one line, exit 2."""

from __future__ import annotations

import base64
import json
import os
import queue
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tlskit
from tlskit import ClientConfig, generate_ech_key, load_pem_chain
from tlskit.cli.ech_keep import ech_paths, kept_ech_key
from tlskit.wire import ech

from ..support.peers import require_binary
from .test_connect_ech import generate_ech
from .test_serve import PKI, Serve, tlskit_connect
from .test_serve import pki as pki  # (the fixtures, shared)
from .test_serve import serve as serve

LIST_LINE = "ech config list (base64"


def announcement(server: Serve) -> list[str]:
    """The lines serve prints after its first, up to "Ctrl-C to stop."."""
    lines: list[str] = []
    while not lines or not lines[-1].startswith("Ctrl-C"):
        try:
            lines.append(server.stdout.get(timeout=30))
        except queue.Empty:
            pytest.fail(f"the announcement stopped at {lines}: {server.stderr_lines}")
    return lines


def printed_config_list(server: Serve, lines: list[str] | None = None) -> bytes:
    """The base64 ECHConfigList from the announcement, decoded."""
    (line,) = [x for x in lines or announcement(server) if x.startswith(LIST_LINE)]
    return base64.b64decode(line.rsplit(": ", 1)[1].strip(), validate=True)


def local_root(tmp_path: Path) -> Path:
    return tmp_path / "state" / "tlskit" / "ca" / "root.pem"


def connect_json(port: int, root: Path, config_list: Path) -> subprocess.CompletedProcess[str]:
    return tlskit_connect(f"127.0.0.1:{port}", "--servername", "localhost", "--cafile",
                          str(root), "--ech-config-list", str(config_list), "--json")


def test_tlskit_connect_with_the_printed_base64(serve: Callable[..., Serve],
                                                tmp_path: Path) -> None:
    server = serve("--ech", "public.example")
    config_list = printed_config_list(server)
    (config,) = ech.decode_config_list(config_list)
    assert config.public_name == b"public.example"
    pasted = tmp_path / "ech.txt"
    pasted.write_text(base64.b64encode(config_list).decode() + "\n")
    proc = connect_json(server.port, local_root(tmp_path), pasted)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ech"] == {"accepted": True, "public_name": "public.example",
                          "config_id": config.config_id}
    # The printed line pasted as it is: no file needed.
    human = tlskit_connect(f"127.0.0.1:{server.port}", "--servername", "localhost",
                           "--cafile", str(local_root(tmp_path)), "--ech-config-list",
                           base64.b64encode(config_list).decode())
    assert human.returncode == 0, human.stderr
    assert "ECH" in human.stdout and "accepted" in human.stdout
    server.wait_for_log("ech=accepted")  # (logged after the handshake: maybe after the exit)
    assert server.stop() == 0
    assert any("ech=accepted" in line for line in server.stderr_lines), server.stderr_lines


def test_a_stale_config_is_rejected_with_retry_configs_for_the_public_name(
        serve: Callable[..., Serve], tmp_path: Path) -> None:
    """The client checks the certificate against the public name when its ECH is
    rejected: the local CA's certificate must cover it for the retry configs to arrive."""
    server = serve("--ech", "public.example")
    current = printed_config_list(server)
    stale = tmp_path / "stale.bin"
    stale.write_bytes(generate_ech_key("public.example").config_list)
    proc = connect_json(server.port, local_root(tmp_path), stale)
    assert proc.returncode != 0
    message = json.loads(proc.stdout)["error"]["message"]
    assert "did not accept Encrypted Client Hello" in message, message
    assert base64.b64encode(current).decode() in message
    server.wait_for_log("alert ech_required")  # logged once the client's alert is read
    assert server.stop() == 0
    log = "".join(server.stderr_lines)
    assert "closed by the client: alert ech_required (its ECH config was not this " \
           "server's, stale or another key: it was sent this server's list as retry " \
           "configs)" in log, log


def test_bssl_client_with_the_written_list(serve: Callable[..., Serve],
                                           tmp_path: Path) -> None:
    written = tmp_path / "ech.bin"
    server = serve("--ech", "public.example", "--ech-config-list-out", str(written))
    assert printed_config_list(server) == written.read_bytes()
    proc = subprocess.run([require_binary("bssl-tool"), "client", "-connect",
                           f"127.0.0.1:{server.port}", "-server-name", "localhost",
                           "-root-certs", str(local_root(tmp_path)), "-ech-config-list",
                           str(written)], input="GET / HTTP/1.0\r\n\r\n",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Encrypted ClientHello: yes" in proc.stderr


def test_bssl_generated_files_are_served(serve: Callable[..., Serve], pki: PKI,
                                         tmp_path: Path) -> None:
    listed = generate_ech(tmp_path, "localhost")  # config id 3, a name --cert covers
    server = serve("--cert", str(pki.cert), "--key", str(pki.key), "--ech-key",
                   str(tmp_path / "key"), "--ech-config", str(tmp_path / "config"))
    lines = announcement(server)
    assert printed_config_list(server, lines) == listed.read_bytes()
    assert f"ech: public name localhost, config id 3 (key from {tmp_path / 'key'})\n" in lines
    proc = connect_json(server.port, pki.root, listed)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ech"]["config_id"] == 3
    assert server.stop() == 0
    assert not any("warning" in line for line in server.stderr_lines), server.stderr_lines


def test_a_cert_without_the_public_name_is_warned_about(serve: Callable[..., Serve],
                                                        pki: PKI) -> None:
    server = serve("--cert", str(pki.cert), "--key", str(pki.key), "--ech", "public.example")
    printed_config_list(server)
    assert server.stop() == 0  # (the warning went to stderr: read to its end)
    assert any("warning: the certificate does not cover the ECH public name public.example"
               in line for line in server.stderr_lines), server.stderr_lines


def run_serve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """serve in ``cwd``, its state (an --ech key it keeps) in ``cwd``/state, not the
    user's."""
    env = {**os.environ, "TLSKIT_STATE_DIR": str(cwd / "state")}
    env.pop("XDG_STATE_HOME", None)
    return subprocess.run([sys.executable, "-m", "tlskit", "serve", "--port", "0", *args],
                          capture_output=True, text=True, timeout=60, cwd=cwd, env=env)


@pytest.mark.parametrize(("args", "message"), [
    (["--ech", "127.0.0.1"], "--ech 127.0.0.1: the ECH public name must be a DNS name, "
                             "not an IP address"),
    (["--ech", "bad..name"], "--ech bad..name: the ECH public name 'bad..name' is not a "
                             "DNS name"),
    (["--ech-key", "key", "--ech-config", "missing.config"],
     "cannot read --ech-config missing.config: No such file or directory"),
    (["--ech-key", "missing.key", "--ech-config", "config"],
     "cannot read --ech-key missing.key: No such file or directory"),
    (["--ech-key", "key", "--ech-config", "garbage"],
     "cannot use --ech-config garbage with --ech-key key: not one ECHConfig"),
    (["--ech-key", "key", "--ech-config", "list"],
     "cannot use --ech-config list with --ech-key key: that file is an ECHConfigList (what "
     "--ech-config-list-out writes and clients take); --ech-config takes the one ECHConfig"),
    (["--ech-key", "garbage", "--ech-config", "config"],
     "cannot use --ech-config config with --ech-key garbage: the private key must be 32 "
     "raw X25519 bytes"),
    (["--ech-key", "key"], "--ech-key and --ech-config go together"),
    (["--ech", "public.example", "--ech-key", "key", "--ech-config", "config"],
     "give one or the other"),
    (["--ech-config-list-out", "x.bin"], "--ech-config-list-out needs --ech or --ech-key"),
    (["--ech-new-key"], "--ech-new-key needs --ech PUBLIC_NAME (it replaces the key kept "
                        "for that name)"),
    (["--ech", "public.example", "--tls1.2"], "Encrypted Client Hello needs TLS 1.3"),
    (["--ech", "localhost", "--ech-config-list-out", "no/such/dir/x.bin"],
     "cannot write --ech-config-list-out no/such/dir/x.bin: No such file or directory"),
])
def test_bad_ech_values_and_files_are_one_line(pki: PKI, tmp_path: Path, args: list[str],
                                               message: str) -> None:
    generate_ech(tmp_path, "localhost")
    (tmp_path / "garbage").write_bytes(b"not an ECH config or key\n")
    proc = run_serve("--cert", str(pki.cert), "--key", str(pki.key), *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("tlskit serve: ") and message in line, line


def test_a_kept_certificate_without_the_public_name_is_reissued(
        serve: Callable[..., Serve], tmp_path: Path) -> None:
    leaf = tmp_path / "state" / "tlskit" / "serve" / "localhost.pem"
    plain = serve()
    assert plain.stop() == 0
    assert _dns_names(leaf) == ["localhost"]
    server = serve("--ech", "public.example")
    printed_config_list(server)
    assert _dns_names(leaf) == ["localhost", "public.example"]


def _dns_names(pem: Path) -> list[str]:
    from cryptography import x509

    cert = x509.load_pem_x509_certificates(pem.read_bytes())[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName)


def page_verdict(port: int, root: Path, **config: Any) -> dict[str, Any]:
    """The visitor page's ECH verdict for a tlskit client with ``config``."""
    anchors = load_pem_chain(root)
    with tlskit.connect("127.0.0.1", port, ClientConfig(trust_anchors=anchors, **config),
                        server_name="localhost", timeout=30) as tls:
        tls.sendall(b"GET /json HTTP/1.1\r\nHost: localhost\r\n\r\n")
        response = b""
        while data := tls.recv(1 << 16):
            response += data
    body = json.loads(response.partition(b"\r\n\r\n")[2])
    (check,) = [c for c in body["verdict"] if c["id"] == "ech"]
    return check


def test_the_visitor_page_tells_whether_ech_was_used(serve: Callable[..., Serve],
                                                     tmp_path: Path) -> None:
    """Before, the page said "this server publishes no ECH key" whatever serve ran with."""
    server = serve("--ech", "public.example")
    config_list = printed_config_list(server)
    root = local_root(tmp_path)
    used = page_verdict(server.port, root, ech_config_list=config_list)
    assert used["ok"] is True and used["title"] == "Encrypted Client Hello: accepted"
    assert "public.example" in used["detail"] and "(localhost)" in used["detail"]
    plain = page_verdict(server.port, root)
    assert plain["ok"] is False and plain["title"] == "Encrypted Client Hello: not used"
    assert "public name public.example" in plain["detail"]
    grease = page_verdict(server.port, root, ech_grease=True)
    assert grease["ok"] is None
    assert grease["title"] == "Encrypted Client Hello: offered, not for this key"


def ech_line(lines: list[str]) -> str:
    (line,) = [x for x in lines if x.startswith("ech: public name ")]
    return line.rstrip("\n")


def run_once(serve: Callable[..., Serve], *args: str) -> tuple[str, bytes]:
    """Start serve, read its ech line and printed list, stop it."""
    server = serve(*args)
    lines = announcement(server)
    config_list = printed_config_list(server, lines)
    assert server.stop() == 0, server.stderr_lines
    return ech_line(lines), config_list


def test_the_ech_key_is_kept_across_runs(serve: Callable[..., Serve], tmp_path: Path) -> None:
    """What a user published after the first run (a DNS HTTPS record's ech=, a client's
    --ech-config-list) still works after a restart; the line says whether the key is new."""
    folder = tmp_path / "state" / "tlskit" / "serve"
    key_path, config_path = ech_paths(folder, "public.example")
    first_line, first = run_once(serve, "--ech", "public.example")
    assert first_line.endswith(f"(a new key, kept in {key_path} for later runs)"), first_line
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert ech.encode_config_list(ech.decode_config_list(first)) == first
    assert [c.encode() for c in ech.decode_config_list(first)] == [config_path.read_bytes()]

    server = serve("--ech", "public.example")
    lines = announcement(server)
    assert printed_config_list(server, lines) == first
    assert ech_line(lines).endswith(f"(the key kept in {key_path}, reused: the same config "
                                    "list as the last run)"), lines
    published = tmp_path / "published.bin"
    published.write_bytes(first)
    proc = connect_json(server.port, local_root(tmp_path), published)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ech"]["accepted"] is True


def test_another_public_name_has_a_key_of_its_own(serve: Callable[..., Serve]) -> None:
    _, public = run_once(serve, "--ech", "public.example")
    line, other = run_once(serve, "--ech", "other.example")
    assert other != public and "(a new key, kept in " in line
    assert [c.public_name for c in ech.decode_config_list(other)] == [b"other.example"]
    assert run_once(serve, "--ech", "public.example")[1] == public


def test_ech_new_key_replaces_the_kept_one(serve: Callable[..., Serve]) -> None:
    _, old = run_once(serve, "--ech", "public.example")
    line, new = run_once(serve, "--ech", "public.example", "--ech-new-key")
    assert new != old and "(a new key as --ech-new-key asked, kept in " in line, line
    assert run_once(serve, "--ech", "public.example")[1] == new


def test_a_kept_key_that_cannot_be_used_is_replaced_and_said_so(tmp_path: Path) -> None:
    first = kept_ech_key(tmp_path, "public.example")
    key_path, config_path = ech_paths(tmp_path, "public.example")
    config_path.write_bytes(b"not an ECHConfig")
    again = kept_ech_key(tmp_path, "public.example")
    assert again.key.config_list != first.key.config_list
    assert again.how.startswith(f"a new key, kept in {key_path} for later runs; the key "
                                "kept before could not be used: not one ECHConfig"), again.how
    assert kept_ech_key(tmp_path, "public.example").key == again.key


def test_a_folder_that_cannot_be_written_still_serves_a_key(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_bytes(b"")
    kept = kept_ech_key(blocked / "serve", "public.example")
    assert kept.key_path is None
    assert kept.key.public_name == "public.example"
    assert kept.how.startswith(f"a new key, not kept (cannot write {blocked / 'serve'}: ")
    assert kept.how.endswith("clients need the new list after each restart"), kept.how
