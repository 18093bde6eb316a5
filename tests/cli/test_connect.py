"""`tlskit connect` in a subprocess against `openssl s_server -www -tls1_3` on 127.0.0.1,
with a chain from `LocalCA` written to temporary files."""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tlskit.ca import LocalCA
from tlskit.cli.connect import ConnectError, parse_target, split_list, unescape

from ..support.ports import refused_port
from .helpers import HANDSHAKE_MESSAGES, LocalhostPKI, assert_full_handshake_drawn, diagram_text

assert shutil.which("openssl"), "the openssl binary is required (bash .ci/install-test-deps.sh)"



# --------------------------------------------------------------------------- fixtures


class PKI:
    def __init__(self, base: Path) -> None:
        self.base = base
        local = LocalhostPKI.create(base, "leaf")
        issued, self.root, self.chain = local.issued, local.root, local.intermediate
        self.ca_for_rsa = local.ca
        self.cert, self.key = local.cert, local.key
        # only the leaf in leaf.pem: s_server gets the intermediate from -cert_chain
        self.cert.write_bytes(issued.cert_pem().split(b"-----END CERTIFICATE-----")[0]
                              + b"-----END CERTIFICATE-----\n")
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
        old_ca = LocalCA.create(base / "old-ca", clock=lambda: past)
        old = old_ca.issue_server(["localhost"], days=1)
        self.expired_root = base / "old-ca" / "root.pem"
        self.expired_cert, self.expired_key = old.write(cert_path=base / "expired.pem",
                                                        key_path=base / "expired-key.pem")


class SServer:
    """`openssl s_server` on an OS-chosen port, read from its ACCEPT line."""

    def __init__(self, *args: str, tls: str = "-tls1_3") -> None:
        self.proc = subprocess.Popen(
            ["openssl", "s_server", "-www", tls, "-accept", "127.0.0.1:0", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        seen = []
        while True:
            try:
                line = lines.get(timeout=15)
            except queue.Empty:
                self.close()
                pytest.fail(f"s_server did not start: {seen}")
            seen.append(line)
            if line.startswith("ACCEPT"):
                self.port = int(line.strip().rsplit(":", 1)[1])
                return

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return PKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def server(pki: PKI) -> Iterator[SServer]:
    s = SServer("-cert", str(pki.cert), "-cert_chain", str(pki.chain), "-key", str(pki.key))
    yield s
    s.close()


def tlskit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("SSLKEYLOGFILE", None)
    return subprocess.run([sys.executable, "-m", "tlskit", "connect", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=60)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tlskit connect: "), lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


def as_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------- against s_server


def test_human_summary(server: SServer, pki: PKI) -> None:
    proc = tlskit(f"localhost:{server.port}", "--cafile", str(pki.root))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "TLSv1.3" in out
    assert "TLS_AES_" in out or "TLS_CHACHA20" in out
    assert "validated certificate path" in out
    assert "CN=localhost" in out and "(trust anchor)" in out and "(leaf)" in out
    assert "\x1b[" not in out  # not a terminal: no colour
    assert proc.stderr == ""


def test_json_with_forced_group_and_cipher(server: SServer, pki: PKI) -> None:
    data = as_json(tlskit(f"localhost:{server.port}", "--cafile", str(pki.root), "--json",
                          "--groups", "secp384r1", "--ciphers", "TLS_AES_256_GCM_SHA384"))
    assert data["version"] == "TLSv1.3"
    assert data["group"] == "secp384r1"
    assert data["cipher_suite"] == "TLS_AES_256_GCM_SHA384"
    assert data["signature_scheme"] == "ecdsa_secp256r1_sha256"
    assert data["alpn"] is None
    assert data["resumed"] is False
    assert data["verification"]["ok"] is True
    assert data["verification"]["reason"] is None
    certs = data["peer_certificates"]
    assert certs[0]["subject"] == "CN=localhost"
    assert "intermediate" in certs[0]["issuer"]
    assert {"subject", "issuer", "not_after"} <= set(certs[0])
    assert data["response"] is None


def test_lists_colon_separated_and_case_insensitive(server: SServer, pki: PKI) -> None:
    data = as_json(tlskit(f"127.0.0.1:{server.port}", "--cafile", str(pki.root), "--json",
                          "--groups", "SECP256R1:x25519",
                          "--ciphers", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"))
    assert data["group"] == "secp256r1"
    assert data["cipher_suite"] in ("TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256")
    assert data["server_name"] is None  # an IP literal is not sent as SNI...
    assert data["verification"]["ok"] is True  # ...but is checked against the IP SAN


def test_request_prints_the_page(server: SServer, pki: PKI) -> None:
    proc = tlskit(f"localhost:{server.port}", "--cafile", str(pki.root),
                  "--request", r"GET / HTTP/1.0\r\n\r\n")
    assert proc.returncode == 0, proc.stderr
    assert "HTTP/1.0 200 ok" in proc.stdout
    assert "s_server" in proc.stdout
    data = as_json(tlskit(f"localhost:{server.port}", "--cafile", str(pki.root), "--json",
                          "--request", r"GET / HTTP/1.0\r\n\r\n"))
    assert data["response"].startswith("HTTP/1.0 200 ok\r\n")


def test_verification_failure_is_one_line(server: SServer) -> None:
    proc = tlskit(f"localhost:{server.port}", "--timeout", "10")
    line = one_error_line(proc)
    assert line.startswith("tlskit connect: certificate verify failed: ")
    assert proc.stdout == ""


def test_untrusted_issuer_names_the_cafile_flag_once(server: SServer, pki: PKI) -> None:
    """The library's words ("add the issuing CA to the trust anchors") get the flag that
    does it, once."""
    line = one_error_line(tlskit(f"localhost:{server.port}", "--cafile",
                                 str(pki.expired_root)))
    assert line.startswith("tlskit connect: certificate verify failed: intermediate ")
    assert line.endswith("add the issuing CA to the trust anchors (--cafile FILE), or the "
                         "server should send its intermediate certificate")
    assert line.count("--cafile") == 1


def test_wrong_name_is_one_line(server: SServer, pki: PKI) -> None:
    proc = tlskit(f"127.0.0.1:{server.port}", "--cafile", str(pki.root),
                  "--servername", "example.com")
    line = one_error_line(proc)
    assert "certificate verify failed" in line and "example.com" in line
    traced = tlskit(f"127.0.0.1:{server.port}", "--cafile", str(pki.root),
                    "--servername", "example.com", "--trace")
    assert one_error_line(traced) == line
    assert "certificate rejected" in traced.stdout and "hostname_mismatch" in traced.stdout


def test_insecure_reports_and_goes_on(server: SServer) -> None:
    data = as_json(tlskit(f"localhost:{server.port}", "--insecure", "--json"))
    assert data["verification"]["ok"] is False
    assert data["verification"]["reason"]
    assert data["version"] == "TLSv1.3"
    proc = tlskit(f"localhost:{server.port}", "--insecure")
    assert proc.returncode == 0, proc.stderr
    assert "--insecure" in proc.stdout


def test_refused_port() -> None:
    port = refused_port()
    line = one_error_line(tlskit(f"127.0.0.1:{port}"))
    assert line == f"tlskit connect: connection refused by 127.0.0.1:{port}"


def test_version_flags(server: SServer, pki: PKI) -> None:
    """--tls1.3 against a 1.3-only server works; --tls1.2 there fails with one line."""
    line = one_error_line(tlskit(f"localhost:{server.port}", "--tls1.2", "--cafile",
                                 str(pki.root)))
    assert "protocol_version" in line
    proc = tlskit(f"localhost:{server.port}", "--tls1.3", "--cafile", str(pki.root), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["version"] == "TLSv1.3"


def test_tls12(pki: PKI) -> None:
    s = SServer("-cert", str(pki.cert), "-key", str(pki.key), "-cert_chain", str(pki.chain),
                tls="-tls1_2")
    try:
        proc = tlskit(f"localhost:{s.port}", "--tls1.2", "--cafile", str(pki.root), "--json",
                      "--ciphers", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256")
        assert proc.returncode == 0, proc.stderr
        info = json.loads(proc.stdout)
        assert info["version"] == "TLSv1.2"
        assert info["cipher_suite"] == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        assert info["verification"]["ok"] is True
    finally:
        s.close()


def test_rsa_key_transport_only_server_names_the_switch(pki: PKI, tmp_path: Path) -> None:
    """A TLS 1.2 server with only RSA key transport refuses the default offer with
    handshake_failure; the line names --legacy-rsa-kx, which then connects."""
    rsa = pki.ca_for_rsa.issue_server(["localhost"], key_type="rsa2048")
    cert, key = rsa.write(cert_path=tmp_path / "rsa.pem", key_path=tmp_path / "rsa-key.pem")
    s = SServer("-cert", str(cert), "-key", str(key), "-cert_chain", str(pki.chain),
                "-cipher", "AES128-GCM-SHA256",
                tls="-tls1_2")
    try:
        line = one_error_line(tlskit(f"localhost:{s.port}", "--cafile", str(pki.root)))
        assert "sent alert handshake_failure (40)" in line
        assert "a server limited to RSA key transport needs --legacy-rsa-kx" in line
        ok = tlskit(f"localhost:{s.port}", "--cafile", str(pki.root), "--legacy-rsa-kx",
                    "--json")
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["cipher_suite"] == "TLS_RSA_WITH_AES_128_GCM_SHA256"
    finally:
        s.close()


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_max_fragment_length_against_openssl(pki: PKI, version: str) -> None:
    """--max-fragment-length asks s_server (which grants RFC 6066 and has no RFC 8449)
    for 512-byte records; the summary shows the limit in force, and a 2,000-byte request
    still reaches s_server's -www page whole (it answers only a complete request line)."""
    s = SServer("-cert", str(pki.cert), "-key", str(pki.key), "-cert_chain", str(pki.chain),
                tls=f"-tls{version.replace('.', '_')}")
    request = "GET / HTTP/1.0\\r\\nX-Pad: " + "a" * 2000 + "\\r\\n\\r\\n"
    try:
        args = [f"localhost:{s.port}", f"--tls{version}", "--cafile", str(pki.root)]
        small = tlskit(*args, "--max-fragment-length", "512", "--request", request)
        plain = as_json(tlskit(*args, "--json"))
        asked = as_json(tlskit(*args, "--json", "--max-fragment-length", "512"))
    finally:
        s.close()
    assert small.returncode == 0, small.stderr
    assert "record limit" in small.stdout and "512 bytes" in small.stdout
    assert "HTTP/1.0 200 ok" in small.stdout
    assert plain["record_limit"] == 16384 and asked["record_limit"] == 512


def test_max_fragment_length_takes_only_rfc_6066_lengths() -> None:
    proc = tlskit("127.0.0.1:1", "--max-fragment-length", "1000")
    assert proc.returncode == 2 and "invalid choice: 1000" in proc.stderr


def test_tls12_trace_and_diagram(pki: PKI, tmp_path: Path) -> None:
    """Against OpenSSL: the TLS 1.2 trace and diagram show every message of RFC 5246 7.3
    in order, the group on ServerKeyExchange, and only the Finished messages encrypted."""
    s = SServer("-cert", str(pki.cert), "-key", str(pki.key), "-cert_chain", str(pki.chain),
                tls="-tls1_2")
    svg = tmp_path / "hs12.svg"
    try:
        proc = tlskit(f"localhost:{s.port}", "--tls1.2", "--cafile", str(pki.root),
                      "--groups", "secp256r1", "--trace", "--diagram", str(svg))
        assert proc.returncode == 0, proc.stderr
    finally:
        s.close()
    order = ["ClientHello", "ServerHello", "Certificate", "ServerKeyExchange",
             "ServerHelloDone", "ClientKeyExchange", "ChangeCipherSpec", "Finished",
             "ChangeCipherSpec", "Finished"]
    # each message's head line: "<t> ms  <arrow> <Message>  (<sender>)"
    heads = [re.split(r"[\u2192\u2190] ", line, maxsplit=1)[1].split()[0]
             for line in proc.stdout.splitlines() if re.search(r"ms  [\u2192\u2190] ", line)]
    assert [h for h in heads if h != "NewSessionTicket"] == order
    text = diagram_text(svg)
    assert "group: secp256r1; signed with" in text and "None" not in text
    for name in set(order):
        assert name in text, name


def test_unknown_group_is_a_clear_error() -> None:
    line = one_error_line(tlskit("localhost:1", "--groups", "nope"))
    assert "unknown group 'nope'" in line


def test_keylog(server: SServer, pki: PKI, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    proc = tlskit(f"localhost:{server.port}", "--cafile", str(pki.root), "--keylog", str(keylog))
    assert proc.returncode == 0, proc.stderr
    assert keylog.stat().st_mode & 0o777 == 0o600  # it holds secrets: owner only
    lines = keylog.read_text().splitlines()
    labels = {line.split()[0] for line in lines}
    assert {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} <= labels
    for line in lines:
        _label, random, secret = line.split()
        assert len(bytes.fromhex(random)) == 32 and len(bytes.fromhex(secret)) >= 32


def test_a_keylog_that_cannot_be_opened_is_told_as_a_write(tmp_path: Path) -> None:
    """The key log is appended to: its failure says so (it once said "cannot read"),
    before any connection is tried (port 1 would be refused)."""
    keylog = tmp_path / "missing" / "keys.log"
    proc = tlskit("127.0.0.1:1", "--keylog", str(keylog))
    assert proc.returncode == 2
    assert one_error_line(proc) == (f"tlskit connect: cannot append to --keylog {keylog}: "
                                    "No such file or directory")


def test_diagram_and_trace(server: SServer, pki: PKI, tmp_path: Path) -> None:
    svg = tmp_path / "hs.svg"
    proc = tlskit(f"localhost:{server.port}", "--cafile", str(pki.root), "--trace",
                  "--diagram", str(svg))
    assert proc.returncode == 0, proc.stderr
    for name in HANDSHAKE_MESSAGES:
        assert name in proc.stdout
    assert "verify_data" in proc.stdout and "cipher_suites" in proc.stdout
    text = assert_full_handshake_drawn(svg)
    assert "CN=localhost" in text


def test_expired_certificate_and_handshake_alert(pki: PKI) -> None:
    expired = SServer("-cert", str(pki.expired_cert), "-key", str(pki.expired_key),
                      "-ciphersuites", "TLS_AES_128_GCM_SHA256")
    try:
        line = one_error_line(tlskit(f"localhost:{expired.port}",
                                     "--cafile", str(pki.expired_root)))
        assert line.startswith("tlskit connect: certificate verify failed: ")
        assert "expired" in line
        line = one_error_line(tlskit(f"localhost:{expired.port}", "--insecure",
                                     "--ciphers", "TLS_CHACHA20_POLY1305_SHA256"))
        assert "handshake failed" in line and "alert" in line
    finally:
        expired.close()


def test_silent_server_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        line = one_error_line(tlskit(f"127.0.0.1:{port}", "--timeout", "0.5"))
    assert "timed out" in line


@pytest.mark.parametrize("how", ["close", "reset"])
def test_server_hanging_up_on_the_hello_gets_a_hint(how: str) -> None:
    """Some servers (old ones, or ones refusing the offer) drop a ClientHello without an
    alert, by a close or a reset: the line says what that usually means and what to try."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def hang_up() -> None:
            conn, _ = listener.accept()
            conn.recv(4096)
            if how == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

        threading.Thread(target=hang_up, daemon=True).start()
        line = one_error_line(tlskit(f"127.0.0.1:{port}"))
    assert line.startswith(f"tlskit connect: connection reset by 127.0.0.1:{port} during "
                           if how == "reset" else
                           f"tlskit connect: 127.0.0.1:{port} closed the connection during")
    assert line.endswith("without answering the ClientHello; servers do that when they "
                         "speak only TLS 1.1 or older (not implemented) or refuse the offer "
                         "without an alert: --tls1.2, --groups or --ciphers narrow the "
                         "offer, --trace shows it")


def test_tls10_only_server_gets_the_protocol_version_hint(pki: PKI) -> None:
    old = SServer("-cert", str(pki.cert), "-cert_chain", str(pki.chain), "-key", str(pki.key),
                  "-cipher", "ALL:@SECLEVEL=0", tls="-tls1")
    try:
        line = one_error_line(tlskit(f"localhost:{old.port}", "--cafile", str(pki.root)))
    finally:
        old.close()
    assert line == (f"tlskit connect: the handshake failed: localhost:{old.port} sent alert "
                    "protocol_version (70); the server speaks neither TLS 1.3 nor TLS 1.2 as "
                    "tlskit does (older versions are not implemented)")


def test_not_a_tls_server() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

        threading.Thread(target=answer, daemon=True).start()
        line = one_error_line(tlskit(f"127.0.0.1:{port}"))
    assert line == (f"tlskit connect: 127.0.0.1:{port} does not speak TLS: it answered in "
                    "plain HTTP ('HTTP/1.0 400 Bad Request'); use http://, or the port that "
                    "serves HTTPS")


@pytest.mark.parametrize(("sent", "told"), [
    (b"220 mail.example ESMTP ready\r\n",
     "it sent a plain-text SMTP greeting ('220 mail.example ESMTP ready'); this port switches "
     "to TLS with STARTTLS: tlskit connect --starttls smtp (starttls=\"smtp\" in "
     "tlskit.connect), or use its TLS port"),
    (b"220 ProFTPD Server (Debian) [::ffff:127.0.0.1]\r\n",
     "it sent a plain-text FTP greeting ('220 ProFTPD Server (Debian) [::ffff:127.0.0.1]'); "
     "this port switches to TLS with STARTTLS: tlskit connect --starttls ftp "
     "(starttls=\"ftp\" in tlskit.connect), or use its TLS port"),
    (b"* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n",
     "it sent a plain-text IMAP greeting ('* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot "
     "ready.'); this port switches to TLS with STARTTLS: tlskit connect --starttls imap "
     "(starttls=\"imap\" in tlskit.connect), or use its TLS port"),
    (b"+OK Dovecot ready.\r\n",
     "it sent a plain-text POP3 greeting ('+OK Dovecot ready.'); this port switches to TLS "
     "with STARTTLS: tlskit connect --starttls pop3 (starttls=\"pop3\" in tlskit.connect), "
     "or use its TLS port"),
    (b"SSH-2.0-OpenSSH_9.6\r\n",
     "it sent plain text ('SSH-2.0-OpenSSH_9.6'); is this its TLS port?"),
    (b"\x00\x01\x02\x03\x04\x05\x06",
     "it sent bytes that are not a TLS record (record version 0x0102 is not TLS); is this "
     "its TLS port?"),
])
def test_not_a_tls_server_is_quoted(sent: bytes, told: str) -> None:
    """A banner is quoted, so the user sees what listens on the port; bytes that are not
    text keep the record layer's reason."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def greet() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(sent)
                conn.recv(4096)

        threading.Thread(target=greet, daemon=True).start()
        line = one_error_line(tlskit(f"127.0.0.1:{port}"))
    assert line == f"tlskit connect: 127.0.0.1:{port} does not speak TLS: {told}"


@pytest.mark.parametrize(("flag", "tls", "other"), [("--tls1.2", "-tls1_3", "1.3"),
                                                    ("--tls1.3", "-tls1_2", "1.2")])
def test_pinned_version_refused_names_the_flag(pki: PKI, flag: str, tls: str,
                                               other: str) -> None:
    """A protocol_version alert after --tls1.2/--tls1.3 is the flag's doing, not a server
    stuck on old versions."""
    only = SServer("-cert", str(pki.cert), "-cert_chain", str(pki.chain), "-key", str(pki.key),
                   tls=tls)
    try:
        line = one_error_line(tlskit(f"localhost:{only.port}", "--cafile", str(pki.root), flag))
    finally:
        only.close()
    assert line.endswith(f"sent alert protocol_version (70); only TLS {flag[5:]} was offered "
                         f"({flag}): the server may speak only TLS {other}, try without {flag}")


@pytest.mark.parametrize(("tls", "alert"), [("-tls1_3", "certificate_required (116)"),
                                            ("-tls1_2", "handshake_failure (40)")])
def test_client_certificate_required_says_so(pki: PKI, tls: str, alert: str) -> None:
    """`s_server -Verify 1` refuses a client without a certificate: the line names --cert
    (in TLS 1.2 the alert is handshake_failure, which alone suggests no suite in common)."""
    strict = SServer("-cert", str(pki.cert), "-cert_chain", str(pki.chain), "-key",
                     str(pki.key), "-Verify", "1", "-CAfile", str(pki.root), tls=tls)
    try:
        line = one_error_line(tlskit(f"localhost:{strict.port}", "--cafile", str(pki.root)))
    finally:
        strict.close()
    assert line.endswith(f"sent alert {alert}; the server requires a client certificate: "
                         "pass --cert FILE --key FILE")


@pytest.mark.parametrize("tls", ["-tls1_3", "-tls1_2"])
def test_several_client_certificates_the_one_the_server_names_is_presented(
        pki: PKI, tmp_path: Path, tls: str) -> None:
    """Two --cert/--key pairs from two CAs: s_server names the first one's CA (its
    -CAfile), so that certificate is presented, not the last one given, and --json says
    whose."""
    other = LocalCA.create(tmp_path / "other-ca", name="other client CA")
    alice = pki.ca_for_rsa.issue_client("alice").write(cert_path=tmp_path / "alice.pem",
                                                       key_path=tmp_path / "alice-key.pem")
    zed = other.issue_client("zed").write(cert_path=tmp_path / "zed.pem",
                                          key_path=tmp_path / "zed-key.pem")
    strict = SServer("-cert", str(pki.cert), "-cert_chain", str(pki.chain), "-key",
                     str(pki.key), "-Verify", "1", "-CAfile", str(tmp_path / "other-ca" /
                                                                  "root.pem"),
                     "-verify_return_error", tls=tls)
    try:
        proc = tlskit(f"localhost:{strict.port}", "--cafile", str(pki.root), "--json",
                      "--cert", str(zed[0]), "--key", str(zed[1]),
                      "--cert", str(alice[0]), "--key", str(alice[1]))
    finally:
        strict.close()
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["client_certificate"] == "CN=zed"


def test_cert_and_key_pair_up(pki: PKI) -> None:
    line = one_error_line(tlskit("localhost:1", "--cert", "a.pem", "--key", "a-key.pem",
                                 "--cert", "b.pem"))
    assert line == ("tlskit connect: --cert and --key go together (one --key per --cert, "
                    "in order)")


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(("target", "expected"), [
    ("example.com", ("example.com", 443)),
    ("example.com:8443", ("example.com", 8443)),
    ("127.0.0.1:9", ("127.0.0.1", 9)),
    ("[::1]:8443", ("::1", 8443)),
    ("[::1]", ("::1", 443)),
    ("::1", ("::1", 443)),
])
def test_parse_target(target: str, expected: tuple[str, int]) -> None:
    assert parse_target(target) == expected


@pytest.mark.parametrize("target", ["example.com:http", "example.com:0", "[::1", ":443"])
def test_parse_target_rejects(target: str) -> None:
    with pytest.raises(ConnectError):
        parse_target(target)


@pytest.mark.parametrize(("target", "line"), [
    ("localhost:99999", "HOST[:PORT] localhost:99999: port 99999 is out of range (1-65535)"),
    ("localhost:0", "HOST[:PORT] localhost:0: port 0 is out of range (1-65535)"),
    ("[::1]:-5", "HOST[:PORT] [::1]:-5: port -5 is out of range (1-65535)"),
    ("localhost:https", "HOST[:PORT] localhost:https: 'https' is not a port number "
                        "(give 1-65535)"),
    ("https://example.com/page", "HOST[:PORT] https://example.com/page is a URL; give the "
                                 "host and port alone, e.g. tlskit connect example.com"),
    ("https://u@[::1]:8443/", "HOST[:PORT] https://u@[::1]:8443/ is a URL; give the host "
                              "and port alone, e.g. tlskit connect [::1]:8443"),
])
def test_a_bad_port_is_a_usage_error_naming_the_range(
        target: str, line: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2 and one line naming the argument and the valid range (or, for a URL, what
    to type instead), before any lookup."""
    from tlskit.cli.main import main

    assert main(["connect", target]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"tlskit connect: {line}\n")


def test_unescape_and_lists() -> None:
    assert unescape(r"GET / HTTP/1.0\r\n\r\n") == "GET / HTTP/1.0\r\n\r\n"
    assert unescape(r"a\\nb\tc\x41\q") == "a\\nb\tcA\\q"
    assert split_list("a, b:c,,") == ["a", "b", "c"]


def test_cafile_is_read_as_verify_reads_it(server: SServer, pki: PKI, tmp_path: Path) -> None:
    """--cafile takes a DER root (as `tlskit verify` does); a key file given by mistake is
    named as such, not "no well-formed PEM block"."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = tmp_path / "root.der"
    der.write_bytes(x509.load_pem_x509_certificate(pki.root.read_bytes()).public_bytes(
        Encoding.DER))
    assert tlskit(f"localhost:{server.port}", "--cafile", str(der)).returncode == 0
    proc = tlskit(f"localhost:{server.port}", "--cafile", str(pki.key))
    assert proc.returncode == 2
    assert one_error_line(proc) == (f"tlskit connect: --cafile {pki.key} holds no certificate, "
                                    "only PEM PRIVATE KEY; give a certificate file (BEGIN "
                                    "CERTIFICATE), e.g. one written by `tlskit ca issue`")


def test_no_common_alpn_protocol_names_the_option(pki: PKI) -> None:
    """`s_server -alpn http/1.1` refuses `--alpn h2` with no_application_protocol: the line
    says what to change."""
    picky = SServer("-cert", str(pki.cert), "-cert_chain", str(pki.chain), "-key",
                    str(pki.key), "-alpn", "http/1.1")
    try:
        line = one_error_line(tlskit(f"localhost:{picky.port}", "--cafile", str(pki.root),
                                     "--alpn", "h2"))
    finally:
        picky.close()
    assert line.endswith("sent alert no_application_protocol (120); the server speaks none "
                         "of the protocols offered with --alpn h2: offer one it speaks (e.g. "
                         "http/1.1), or leave --alpn out")
