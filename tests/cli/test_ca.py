"""`tlskit ca ...` driven through the real dispatcher, `tlskit.cli.main.main`."""

from __future__ import annotations

import importlib.util
import io
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from tlskit.ca import LocalCA
from tlskit.cli import ca as ca_cli
from tlskit.cli import main as cli_main


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state dir and working directory, and a dispatcher that loads only `ca`
    (so these tests do not depend on the other commands' modules being importable)."""
    monkeypatch.setenv("TLSKIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_main, "COMMANDS", {"ca": cli_main.COMMANDS["ca"]})
    return tmp_path / "state"


def tlskit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli_main.main(["ca", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tlskit ca: error: ")
    return lines[0]


def serial_from(out: str) -> int:
    line = next(line for line in out.splitlines() if line.strip().startswith("serial:"))
    return int(line.split()[-1], 16)


def test_init_creates_ca_and_prints_fingerprint(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir = tmp_path / "myca"
    code, out, err = tlskit(capsys, "init", "--dir", str(ca_dir), "--key-type", "ec384")
    assert code == 0, err
    root = x509.load_pem_x509_certificate((ca_dir / "root.pem").read_bytes())
    assert root.fingerprint(hashes.SHA256()).hex(":").upper() in out
    assert str(ca_dir / "root.pem") in out
    assert (ca_dir / "intermediate.pem").is_file()
    for key in ("root-key.pem", "intermediate-key.pem"):
        assert stat.S_IMODE((ca_dir / key).stat().st_mode) == 0o600
    assert not state.exists()  # --dir given: the state dir is untouched

    code, out, err = tlskit(capsys, "init", "--dir", str(ca_dir))
    assert code == 1
    assert "already exists" in one_error_line(err)
    assert x509.load_pem_x509_certificate((ca_dir / "root.pem").read_bytes()) == root

    code, out, err = tlskit(capsys, "init", "--dir", str(ca_dir), "--force")
    assert code == 0, err
    assert x509.load_pem_x509_certificate((ca_dir / "root.pem").read_bytes()) != root


def test_init_defaults_to_state_dir(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = tlskit(capsys, "init")
    assert code == 0, err
    assert (state / "tlskit" / "ca" / "root.pem").is_file()
    code, out, err = tlskit(capsys, "export-root")
    assert code == 0, err
    assert out.encode() == (state / "tlskit" / "ca" / "root.pem").read_bytes()


def test_issue_writes_chain_and_key(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir = tmp_path / "ca"
    assert tlskit(capsys, "init", "--dir", str(ca_dir))[0] == 0
    code, out, err = tlskit(
        capsys, "issue", "localhost", "127.0.0.1", "::1", "--dir", str(ca_dir),
        "--key-type", "rsa2048", "--days", "10", "--out", "certs",
        "--ocsp-url", "http://127.0.0.1:8888", "--crl-url", "http://127.0.0.1/crl.pem",
    )  # fmt: skip
    assert code == 0, err
    chain = x509.load_pem_x509_certificates((tmp_path / "certs" / "localhost.pem").read_bytes())
    intermediate = x509.load_pem_x509_certificate((ca_dir / "intermediate.pem").read_bytes())
    assert len(chain) == 2 and chain[1] == intermediate
    leaf = chain[0]
    leaf.verify_directly_issued_by(intermediate)
    assert serial_from(out) == leaf.serial_number
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert len(san.get_values_for_type(x509.IPAddress)) == 2
    assert leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    assert leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    days = (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days
    assert days == 10  # plus the one-hour backdating

    key_path = tmp_path / "certs" / "localhost-key.pem"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert key.public_key() == leaf.public_key()


def test_issue_client_and_default_ca(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --dir, issue creates the default CA on first use, and writes to the cwd."""
    code, out, err = tlskit(capsys, "issue", "alice@example.com", "--client")
    assert "client certificate for alice@example.com" in out
    assert "Created a local CA" in out  # said once, the first time
    assert code == 0, err
    assert (state / "tlskit" / "ca" / "root.pem").is_file()
    leaf = x509.load_pem_x509_certificate(Path("alice@example.com.pem").read_bytes())
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.ExtendedKeyUsageOID.CLIENT_AUTH]
    assert Path("alice@example.com-key.pem").is_file()

    code, out, err = tlskit(capsys, "issue", "*.example.test", "--key-type", "ed25519")
    assert code == 0, err
    assert "Created a local CA" not in out
    assert Path("_wildcard.example.test.pem").is_file()

    code, _, err = tlskit(capsys, "issue", "a", "b", "--client")
    assert code == 1
    assert "exactly one NAME" in one_error_line(err)


def test_revoke_and_crl(state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca_dir = str(tmp_path / "ca")
    assert tlskit(capsys, "init", "--dir", ca_dir)[0] == 0
    serials = {}
    for name in ("one.test", "two.test", "three.test"):
        code, out, err = tlskit(capsys, "issue", name, "--dir", ca_dir)
        assert code == 0, err
        serials[name] = serial_from(out)

    code, out, err = tlskit(capsys, "revoke", "one.test.pem", "--dir", ca_dir)
    assert code == 0, err
    assert "keyCompromise" in out
    two = serials["two.test"]
    colon_hex = two.to_bytes((two.bit_length() + 7) // 8, "big").hex(":").upper()
    code, out, err = tlskit(capsys, "revoke", colon_hex, "--reason", "superseded", "--dir", ca_dir)
    assert code == 0, err
    assert "superseded" in out
    code, out, err = tlskit(capsys, "revoke", hex(serials["two.test"]), "--dir", ca_dir)
    assert code == 0 and "already revoked" in out

    code, out, err = tlskit(capsys, "crl", "--out", "out/crl.pem", "--days", "2", "--dir", ca_dir)
    assert code == 0, err
    crl = x509.load_pem_x509_crl(Path("out/crl.pem").read_bytes())
    assert {r.serial_number for r in crl} == {serials["one.test"], serials["two.test"]}
    intermediate = x509.load_pem_x509_certificate(Path(ca_dir, "intermediate.pem").read_bytes())
    assert crl.is_signature_valid(intermediate.public_key())

    code, out, err = tlskit(capsys, "crl", "--dir", ca_dir)
    assert code == 0, err
    assert len(x509.load_pem_x509_crl(out.encode())) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["revoke", "0x1234"], "not issued by this CA"),
        (["revoke", "not-a-serial"], "neither a certificate file nor a serial"),
        (["revoke", "0x1234", "--reason", "boredom"], "unknown revocation reason"),
        (["issue", "x.test", "--ocsp-url", "http://127.0.0.1:99999"],
         "'http://127.0.0.1:99999' has no valid port: give one within 1-65535"),
        (["issue", "x.test", "--crl-url", "http://127.0.0.1:0/x.crl"],
         "'http://127.0.0.1:0/x.crl' has no valid port: give one within 1-65535"),
        (["issue", "x.test", "--ocsp-url", "ftp://x"], "'ftp://x' is not an http:// URL"),
        (["issue", "x.test", "--ocsp-url", "http://[::1:8888"],  # not "has no valid port"
         "'http://[::1:8888' is not a URL (Invalid IPv6 URL)"),
        (["crl", "--out", "/proc/nope/crl.pem"], "cannot use /proc/nope: No such file"),
        (["issue", "x.test", "--out", "/proc/nope"], "cannot use /proc/nope: No such file"),
    ],
)
def test_errors_are_one_line(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    ca_dir = str(tmp_path / "ca")
    assert tlskit(capsys, "init", "--dir", ca_dir)[0] == 0
    if argv[0] == "revoke" and "--reason" in argv:
        # Make the serial exist so that the reason is what fails.
        code, out, _ = tlskit(capsys, "issue", "x.test", "--dir", ca_dir)
        argv = ["revoke", hex(serial_from(out)), *argv[2:]]
    code, out, err = tlskit(capsys, *argv, "--dir", ca_dir)
    assert code == 1
    assert message in one_error_line(err)
    assert out == ""


@pytest.mark.parametrize(("argv", "line"), [
    (["issue", "x.test", "--days", "0"], "tlskit ca issue: error: argument --days: 0: give at "
                                          "least 1 day"),
    (["crl", "--days", "-1"], "tlskit ca crl: error: argument --days: -1: give at least 1 day"),
    (["crl", "--days", "week"], "tlskit ca crl: error: argument --days: not a whole number of "
                                "days: 'week'"),
    (["ocsp", "--port", "99999"], "tlskit ca ocsp: error: argument --port: port 99999 is out "
                                  "of range (0-65535; 0: any free port)"),
    (["ocsp", "--port", "-1"], "tlskit ca ocsp: error: argument --port: port -1 is out "
                               "of range (0-65535; 0: any free port)"),
])
def test_days_below_one_is_a_usage_error(
    state: Path, capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    """A bad --days or --port is a bad argument (exit 2, with the command's usage and the
    valid range), found before the CA is opened, not a run-time failure (exit 1)."""
    code, out, err = tlskit(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith(f"usage: tlskit ca {argv[0]} ")
    assert err.rstrip().splitlines()[-1] == line


def test_commands_need_an_existing_ca(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["export-root"], ["crl"], ["revoke", "1"], ["ocsp", "--port", "0"]):
        code, _, err = tlskit(capsys, *argv)
        assert code == 1
        assert "no CA in" in one_error_line(err)
    assert not (state / "tlskit" / "ca" / "root.pem").exists()


def test_ocsp_serves_until_interrupted(
    state: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run `tlskit ca ocsp` in-process; its wait is replaced by one real query + Ctrl-C."""
    ca_dir = str(tmp_path / "ca")
    assert tlskit(capsys, "init", "--dir", ca_dir)[0] == 0
    assert tlskit(capsys, "issue", "served.test", "--dir", ca_dir)[0] == 0
    chain = x509.load_pem_x509_certificates(Path("served.test.pem").read_bytes())
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(chain[0], chain[1], hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    answers: list[ocsp.OCSPResponse] = []

    def query_then_interrupt() -> None:
        printed = capsys.readouterr().out
        url = next(w for w in printed.split() if w.startswith("http://127.0.0.1:"))
        post = urllib.request.Request(url, data=request, method="POST")
        with urllib.request.urlopen(post, timeout=10) as reply:
            answers.append(ocsp.load_der_ocsp_response(reply.read()))
        # The handler thread logs the request after its answer: wait for that line, or it
        # may come after this test, into the next one's stdout.
        deadline = time.monotonic() + 30
        while ": good" not in (printed := printed + capsys.readouterr().out):
            assert time.monotonic() < deadline, printed
            time.sleep(0.01)  # a poll interval
        raise KeyboardInterrupt

    monkeypatch.setattr(ca_cli, "wait_for_interrupt", query_then_interrupt)
    code, out, err = tlskit(capsys, "ocsp", "--port", "0", "--dir", ca_dir)
    assert code == 0, err
    assert answers[0].certificate_status is ocsp.OCSPCertStatus.GOOD
    assert "Stopped" in out


def test_ocsp_log_lines_are_written_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The responder's handler threads log at once; before, each line went out as two
    writes (text, then newline), and concurrent lines ran together in the terminal."""
    ca_dir = str(tmp_path / "ca")
    assert tlskit(capsys, "init", "--dir", ca_dir)[0] == 0
    loggers: list[Callable[[str], None]] = []
    real_serve = LocalCA.serve_ocsp

    def serve(self: LocalCA, host: str, port: int, *, log: Callable[[str], None]) -> Any:
        loggers.append(log)
        return real_serve(self, host, 0)

    def interrupt() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(LocalCA, "serve_ocsp", serve)
    monkeypatch.setattr(ca_cli, "wait_for_interrupt", interrupt)
    assert tlskit(capsys, "ocsp", "--port", "0", "--dir", ca_dir)[0] == 0
    writes: list[str] = []

    class Recorder(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(text)
            return len(text)

    monkeypatch.setattr(sys, "stdout", Recorder())
    loggers[0]("127.0.0.1 POST serial 0x1: good")
    assert writes == ["127.0.0.1 POST serial 0x1: good\n"]


def test_parse_serial_and_file_stem() -> None:
    assert ca_cli.parse_serial("0x1F") == 31
    assert ca_cli.parse_serial("1F:2A") == 0x1F2A
    assert ca_cli.parse_serial("31") == 31
    assert ca_cli.parse_serial("ff") == 255
    assert ca_cli.file_stem("*.example.com") == "_wildcard.example.com"
    assert ca_cli.file_stem("::1") == "__1"
    assert ca_cli.file_stem("../etc/passwd") == "_etc_passwd"


def test_python_m_tlskit_ca_init(tmp_path: Path) -> None:
    """The real entry point in a child process (the whole dispatcher, every command)."""
    missing = [
        name for name in cli_main.COMMANDS if importlib.util.find_spec(f"tlskit.cli.{name}") is None
    ]
    assert not missing, f"command modules missing: {missing}"
    env = {**os.environ, "TLSKIT_STATE_DIR": str(tmp_path / "state")}
    result = subprocess.run(
        [sys.executable, "-m", "tlskit", "ca", "init", "--dir", str(tmp_path / "ca")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "SHA-256" in result.stdout
    assert (tmp_path / "ca" / "root.pem").is_file()
    assert not (tmp_path / "state").exists()


def test_issue_refuses_to_overwrite_without_force(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir = str(tmp_path / "ca")
    assert tlskit(capsys, "init", "--dir", ca_dir)[0] == 0
    code, out, err = tlskit(capsys, "issue", "keep.test", "--dir", ca_dir)
    assert code == 0, err
    first = serial_from(out)
    before = Path("keep.test.pem").read_bytes(), Path("keep.test-key.pem").read_bytes()

    code, out, err = tlskit(capsys, "issue", "keep.test", "--dir", ca_dir)
    assert code == 1 and out == ""
    line = one_error_line(err)
    assert "keep.test.pem and keep.test-key.pem already exist" in line
    assert "--force" in line
    assert (Path("keep.test.pem").read_bytes(), Path("keep.test-key.pem").read_bytes()) == before
    index = (Path(ca_dir) / "index.json").read_text()
    assert index.count('"kind"') == 1  # the refusal issued nothing

    Path("keep.test-key.pem").unlink()  # one of the two is enough to refuse
    code, _, err = tlskit(capsys, "issue", "keep.test", "--dir", ca_dir)
    assert code == 1 and "keep.test.pem already exists;" in one_error_line(err)

    code, out, err = tlskit(capsys, "issue", "keep.test", "--dir", ca_dir, "--force")
    assert code == 0, err
    assert serial_from(out) != first
    leaf = x509.load_pem_x509_certificate(Path("keep.test.pem").read_bytes())
    assert leaf.serial_number == serial_from(out)


def _ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [str(a.access_location.value) for a in aia]


def test_init_url_options(state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """By default the intermediate and the leaves name the default responder address; with
    --no-url nothing; a URL that is not http:// is refused in one line."""
    code, out, err = tlskit(capsys, "init", "--dir", "a")
    assert code == 0, err
    assert "OCSP and CRLs at http://127.0.0.1:8888" in out
    inter = x509.load_pem_x509_certificate(Path("a/intermediate.pem").read_bytes())
    assert _ocsp_urls(inter) == ["http://127.0.0.1:8888"]
    assert tlskit(capsys, "issue", "x.test", "--dir", "a")[0] == 0
    leaf = x509.load_pem_x509_certificate(Path("x.test.pem").read_bytes())
    assert _ocsp_urls(leaf) == ["http://127.0.0.1:8888"]
    code, _, err = tlskit(capsys, "issue", "y.test", "--dir", "a", "--ocsp-url", "",
                          "--crl-url", "")
    assert code == 0, err
    leaf = x509.load_pem_x509_certificate(Path("y.test.pem").read_bytes())
    assert _ocsp_urls(leaf) == []
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints)

    code, out, err = tlskit(capsys, "init", "--dir", "b", "--no-url")
    assert code == 0, err
    assert "revocation:" not in out
    inter = x509.load_pem_x509_certificate(Path("b/intermediate.pem").read_bytes())
    assert _ocsp_urls(inter) == []

    code, out, err = tlskit(capsys, "init", "--dir", "c", "--url", "https://ocsp.test")
    assert code == 1 and out == ""
    assert "is not an http:// URL" in one_error_line(err)


def test_ocsp_listens_where_the_ca_url_says_by_default(
    state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --host/--port the responder takes the address the CA's certificates name
    (not 8888): with that port held by another listener, it reports that very address."""

    def interrupt() -> None:  # (had it listened elsewhere: stop at once)
        raise KeyboardInterrupt

    monkeypatch.setattr(ca_cli, "wait_for_interrupt", interrupt)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        assert tlskit(capsys, "init", "--dir", "ca", "--url", url)[0] == 0
        code, out, err = tlskit(capsys, "ocsp", "--dir", "ca")
    assert code == 1 and out == ""
    line = one_error_line(err)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "something else listens" in line
    assert f"taken from this CA's URL {url}" in line


def test_ocsp_banner_notes_a_url_mismatch(
    state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tlskit(capsys, "init", "--dir", "ca", "--url", "http://127.0.0.1:9")[0] == 0

    def interrupt() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ca_cli, "wait_for_interrupt", interrupt)
    code, out, err = tlskit(capsys, "ocsp", "--port", "0", "--dir", "ca")
    assert code == 0, err
    assert "/crl/intermediate.crl" in out and "/crl/root.crl" in out
    assert "Note: this CA's certificates point at http://127.0.0.1:9, not at this address" in out


def test_revoke_names_what_is_wrong_with_a_file_argument(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key file given for the certificate, a missing file and a directory are each
    said to be that, not "neither a certificate file nor a serial number"."""
    ca_dir = str(tmp_path / "ca")
    assert tlskit(capsys, "init", "--dir", ca_dir)[0] == 0
    out_dir = tmp_path / "out"
    assert tlskit(capsys, "issue", "x.test", "--dir", ca_dir, "--out", str(out_dir))[0] == 0
    key = out_dir / "x.test-key.pem"
    cases = [
        (str(key), 2, f"SERIAL_OR_CERTFILE {key} holds no certificate, only PEM PRIVATE KEY"),
        ("gone.pem", 1, "gone.pem: no such file; give a certificate file or a serial number"),
        (str(out_dir), 1, f"{out_dir} is a directory; give a certificate file or a serial"),
    ]
    for target, code, message in cases:
        got, out, err = tlskit(capsys, "revoke", target, "--dir", ca_dir)
        assert (got, out) == (code, ""), err
        assert message in one_error_line(err)


def test_ocsp_keeps_answering_quietly_once_its_log_pipe_is_closed(tmp_path: Path) -> None:
    """`tlskit ca ocsp | head`: once head exits, the log's pipe is closed. Before, every
    request's log line raised BrokenPipeError and printed a traceback on stderr; now the
    responder answers on, logging nowhere, and stops cleanly on Ctrl-C."""
    ca_dir = tmp_path / "ca"
    LocalCA.create(ca_dir)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tlskit", "ca", "ocsp", "--port", "0", "--dir", str(ca_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        url = ""
        for line in proc.stdout:
            url = url or next((w for w in line.split() if w.startswith("http://")), "")
            if line.startswith("Ctrl-C"):
                break
        proc.stdout.close()  # the reader goes away
        for _ in range(3):
            with urllib.request.urlopen(f"{url}/crl/intermediate.crl", timeout=10) as reply:
                assert x509.load_der_x509_crl(reply.read()).issuer is not None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        err = proc.stderr.read()
        assert err == "", err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
