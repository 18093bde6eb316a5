"""OCSP Must-Staple (RFC 7633) on the command line: `tlskit ca issue --must-staple` makes
one, `tlskit serve` warns when it serves one without a staple, `tlskit connect` shows it
(and refuses a server without a staple with --must-staple), `tlskit verify` shows it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tlskit.ca import Issued, LocalCA
from tlskit.x509.revocation import build_ocsp_request

from ..support.peers import require_binary
from ..support.tlskit_cli import ServeProcess
from .test_connect import one_error_line, tlskit
from .test_serve import _serve_briefly


class Files:
    """A CA with a URL, a must-staple leaf and a plain one for localhost, a staple."""

    def __init__(self, base: Path) -> None:
        self.ca = LocalCA.create(base / "ca", url="http://127.0.0.1:9")
        self.root = base / "ca" / "root.pem"
        self.strict = self._leaf(base, "strict", must_staple=True)
        self.plain = self._leaf(base, "plain", must_staple=False)
        issued = self.strict[0]
        self.staple = base / "strict.der"
        self.staple.write_bytes(self.ca.ocsp_response(build_ocsp_request(
            issued.certificate, self.ca.intermediate, None)))

    def _leaf(self, base: Path, stem: str, *, must_staple: bool) -> tuple[Issued, Path, Path]:
        issued = self.ca.issue_server(["localhost"], must_staple=must_staple)
        cert, key = issued.write(cert_path=base / f"{stem}.pem",
                                 key_path=base / f"{stem}-key.pem")
        return issued, cert, key


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("must-staple"))


@pytest.fixture(scope="module")
def servers(files: Files, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, ServeProcess]]:
    """`tlskit serve` with the must-staple leaf: stapling nothing, and stapling."""
    state = tmp_path_factory.mktemp("serve-state")
    _, cert, key = files.strict
    started = {
        "bare": ServeProcess("--cert", str(cert), "--key", str(key), state=state / "a"),
        "stapled": ServeProcess("--cert", str(cert), "--key", str(key), "--ocsp-response",
                                str(files.staple), state=state / "b"),
    }
    yield started
    for server in started.values():
        server.close()


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlskit", *argv], capture_output=True,
                          text=True, timeout=60)


# --------------------------------------------------------------------------- ca issue


def test_ca_issue_must_staple(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    assert cli("ca", "init", "--dir", str(ca_dir)).returncode == 0
    proc = cli("ca", "issue", "localhost", "--dir", str(ca_dir), "--out", str(tmp_path),
               "--ocsp-url", "http://127.0.0.1:8888", "--must-staple")
    assert proc.returncode == 0, proc.stderr
    assert "must-staple:  yes" in proc.stdout
    leaf = x509.load_pem_x509_certificates((tmp_path / "localhost.pem").read_bytes())[0]
    feature = leaf.extensions.get_extension_for_class(x509.TLSFeature)
    assert list(feature.value) == [x509.TLSFeatureType.status_request]
    plain = cli("ca", "issue", "other", "--dir", str(ca_dir), "--out", str(tmp_path),
                "--ocsp-url", "http://127.0.0.1:8888")
    assert plain.returncode == 0, plain.stderr
    other = x509.load_pem_x509_certificates((tmp_path / "other.pem").read_bytes())[0]
    with pytest.raises(x509.ExtensionNotFound):
        other.extensions.get_extension_for_class(x509.TLSFeature)


def test_ca_issue_must_staple_refusals(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    assert cli("ca", "init", "--dir", str(ca_dir)).returncode == 0
    proc = cli("ca", "issue", "localhost", "--dir", str(ca_dir), "--out", str(tmp_path),
               "--ocsp-url", "", "--must-staple")
    assert proc.returncode == 2  # a usage error: options that cannot go together
    assert proc.stderr.strip() == (
        "tlskit ca: error: --must-staple needs an OCSP responder URL in the certificate, "
        "where its server fetches staples, and --ocsp-url '' gives none: add --ocsp-url URL "
        "(e.g. http://127.0.0.1:8888, where tlskit ca ocsp answers)")
    proc = cli("ca", "issue", "alice", "--client", "--dir", str(ca_dir), "--out",
               str(tmp_path), "--ocsp-url", "http://127.0.0.1:8888", "--must-staple")
    assert proc.returncode == 2
    assert "--must-staple is for server certificates" in proc.stderr
    assert not list(tmp_path.glob("*.pem"))  # nothing issued


def test_ca_issue_must_staple_from_a_ca_without_url(tmp_path: Path) -> None:
    """A CA made with --no-url names no responder: the refusal says so and what to add
    (the CLI's words, not the library's ocsp_url argument)."""
    ca_dir = tmp_path / "ca"
    assert cli("ca", "init", "--dir", str(ca_dir), "--no-url").returncode == 0
    proc = cli("ca", "issue", "localhost", "--dir", str(ca_dir), "--out", str(tmp_path),
               "--must-staple")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "tlskit ca: error: --must-staple needs an OCSP responder URL in the certificate, "
        f"where its server fetches staples, and the CA in {ca_dir} (made with --no-url) "
        "gives none: add --ocsp-url URL (e.g. http://127.0.0.1:8888, where tlskit ca ocsp "
        "answers)")
    proc = cli("ca", "issue", "localhost", "--dir", str(ca_dir), "--out", str(tmp_path),
               "--must-staple", "--ocsp-url", "http://127.0.0.1:8888")
    assert proc.returncode == 0, proc.stderr


def test_ca_issue_help_names_the_serve_option() -> None:
    """--must-staple's help names the serve option that exists (--ocsp-response)."""
    proc = cli("ca", "issue", "--help")
    assert "(tlskit serve --ocsp-response FILE)" in " ".join(proc.stdout.split())


# --------------------------------------------------------------------------- serve


def test_serve_warns_about_must_staple_without_staple(files: Files) -> None:
    _, cert, key = files.strict
    first, errors, code = _serve_briefly("--cert", str(cert), "--key", str(key))
    assert first.startswith("listening on https://127.0.0.1:") and code == 0
    assert errors == [
        "tlskit serve: warning: the certificate is must-staple (RFC 7633) but no "
        "--ocsp-response is given: Firefox (and tlskit connect --must-staple) will refuse "
        "it; staple a response from its OCSP responder with --ocsp-response FILE (e.g. saved "
        "by openssl ocsp -respout FILE)\n"]


@pytest.mark.parametrize("which", ["stapled", "plain"])
def test_serve_does_not_warn_otherwise(files: Files, which: str) -> None:
    if which == "stapled":
        _, cert, key = files.strict
        extra = ["--ocsp-response", str(files.staple)]
    else:
        _, cert, key = files.plain
        extra = []
    first, errors, code = _serve_briefly("--cert", str(cert), "--key", str(key), *extra)
    assert first.startswith("listening on https://127.0.0.1:") and code == 0
    assert errors == []


# --------------------------------------------------------------------------- connect


@pytest.mark.parametrize("version", ["--tls1.3", "--tls1.2"])
def test_connect_must_staple_without_staple(files: Files, servers: dict[str, ServeProcess],
                                            version: str) -> None:
    port = servers["bare"].port
    proc = tlskit(f"localhost:{port}", "--cafile", str(files.root), "--json", version)
    assert proc.returncode == 0, proc.stderr  # not enforced by default, as OpenSSL and Go
    data = json.loads(proc.stdout)
    assert data["verification"]["ocsp_staple"].startswith(
        "none, but the certificate is must-staple (RFC 7633)")
    line = one_error_line(tlskit(f"localhost:{port}", "--cafile", str(files.root), version,
                                 "--must-staple"))
    assert line.startswith("tlskit connect: certificate verify failed: certificate "
                           "'CN=localhost' "), line
    assert "is must-staple (RFC 7633 TLS Feature status_request) but the server stapled " \
           "no OCSP response" in line
    assert line.endswith("(tlskit serve --ocsp-response FILE, nginx ssl_stapling on), or "
                         "leave out --must-staple"), line


def test_connect_must_staple_insecure_reports_in_the_commands_words(
        files: Files, servers: dict[str, ServeProcess]) -> None:
    """--insecure carries on and reports the failure: its advice names the option to leave
    out, not the library's enforce_must_staple."""
    proc = tlskit(f"localhost:{servers['bare'].port}", "--cafile", str(files.root),
                  "--must-staple", "--insecure", "--json")
    assert proc.returncode == 0, proc.stderr
    reason = json.loads(proc.stdout)["verification"]["reason"]
    assert reason.endswith("nginx ssl_stapling on), or leave out --must-staple"), reason
    assert "enforce_must_staple" not in proc.stdout


def test_connect_must_staple_with_staple(files: Files,
                                         servers: dict[str, ServeProcess]) -> None:
    port = servers["stapled"].port
    for version in ("--tls1.3", "--tls1.2"):
        proc = tlskit(f"localhost:{port}", "--cafile", str(files.root), version,
                      "--must-staple", "--no-ocsp-stapling")  # --must-staple asks anyway
        assert proc.returncode == 0, proc.stderr
        assert "must-staple (RFC 7633: the server must staple an OCSP response)" in proc.stdout
        assert "OCSP staple" in proc.stdout


def test_connect_trace_shows_must_staple(files: Files,
                                         servers: dict[str, ServeProcess]) -> None:
    proc = tlskit(f"localhost:{servers['stapled'].port}", "--cafile", str(files.root),
                  "--json", "--trace")
    assert proc.returncode == 0, proc.stderr
    text = json.dumps(json.loads(proc.stdout)["trace"])
    assert '"must_staple": true' in text


# --------------------------------------------------------------------------- verify


def test_verify_shows_must_staple(files: Files) -> None:
    _, cert, _ = files.strict
    proc = cli("verify", str(cert), "--cafile", str(files.root), "--json")
    assert proc.returncode == 0, proc.stderr
    chain = json.loads(proc.stdout)["chain"]
    assert [c["must_staple"] for c in chain] == [True, False, False]
    human = cli("verify", str(cert), "--cafile", str(files.root))
    assert human.returncode == 0, human.stderr
    assert "must-staple (RFC 7633): its server must staple an OCSP response" in human.stdout
    _, plain, _ = files.plain
    assert "must-staple" not in cli("verify", str(plain), "--cafile", str(files.root)).stdout


def test_docs_recipe_staples_a_response_from_the_local_ca(tmp_path: Path) -> None:
    """docs/certificates.md's recipe: `tlskit ca ocsp`, `openssl ocsp ... -respout`, and
    `tlskit serve --ocsp-response` satisfy `tlskit connect --must-staple`."""
    openssl = require_binary("openssl")
    ca_dir = tmp_path / "ca"
    assert cli("ca", "init", "--dir", str(ca_dir)).returncode == 0
    assert cli("ca", "issue", "localhost", "127.0.0.1", "--must-staple", "--dir",
               str(ca_dir), "--out", str(tmp_path)).returncode == 0
    responder = subprocess.Popen(
        [sys.executable, "-m", "tlskit", "ca", "ocsp", "--port", "0", "--dir", str(ca_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert responder.stdout is not None
        url = next(w for w in responder.stdout.readline().split() if w.startswith("http://"))
        fetched = subprocess.run(
            [openssl, "ocsp", "-issuer", str(ca_dir / "intermediate.pem"), "-cert",
             str(tmp_path / "localhost.pem"), "-url", url, "-respout",
             str(tmp_path / "staple.der"), "-CAfile", str(ca_dir / "root.pem")],
            capture_output=True, text=True, timeout=60)
        assert "localhost.pem: good" in fetched.stdout, fetched.stdout + fetched.stderr
    finally:
        responder.terminate()
        responder.wait(30)
    server = ServeProcess("--cert", str(tmp_path / "localhost.pem"), "--key",
                          str(tmp_path / "localhost-key.pem"), "--ocsp-response",
                          str(tmp_path / "staple.der"), state=tmp_path / "state")
    try:
        proc = tlskit(f"localhost:{server.port}", "--cafile", str(ca_dir / "root.pem"),
                      "--must-staple")
        assert proc.returncode == 0, proc.stderr
        assert "OCSP staple   good" in proc.stdout
    finally:
        server.close()
