"""The conventions every `tlskit` command follows: `--version`, an examples section and
the exit codes in every `--help`, exit status 0/1/2, a JSON error object under `--json`,
`--help` without the heavy imports, and `COLUMNS`/`NO_COLOR` in the output."""

from __future__ import annotations

import argparse
import io
import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

import tlskit
from tlskit.ca import LocalCA
from tlskit.cli.main import build_parser

from ..support.ports import refused_port
from .test_connect import SServer

HEAVY = ("cryptography", "rich", "tlskit.connection", "tlskit.config", "tlskit.x509",
         "tlskit.cli.serve", "tlskit.cli.demo", "tlskit.cli.connect", "tlskit.cli.ca")


def tlskit_run(*args: str, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlskit", *args], capture_output=True,
                          text=True, timeout=60, env=env, cwd=cwd)


def json_error(proc: subprocess.CompletedProcess[str], code: int) -> dict[str, Any]:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    error = json.loads(proc.stdout)["error"]
    assert error["exit_code"] == code
    assert error["message"] and error["message"] in proc.stderr
    assert "Traceback" not in proc.stderr
    return dict(error)


def all_parsers(parser: argparse.ArgumentParser,
                path: str = "tlskit") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from all_parsers(child, f"{path} {name}")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("conv")
    ca = LocalCA.create(base / "ca")
    issued = ca.issue_server(["localhost", "127.0.0.1"])
    cert, key = issued.write(cert_path=base / "leaf.pem", key_path=base / "leaf-key.pem")
    return base / "ca" / "root.pem", Path(cert), Path(key)


def test_version() -> None:
    proc = tlskit_run("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"tlskit {tlskit.__version__}\n"


def test_every_help_has_examples_and_exit_codes() -> None:
    parsers = dict(all_parsers(build_parser()))
    # every command and every `ca` subcommand, install/uninstall included
    for name in ("tlskit demo", "tlskit connect", "tlskit serve", "tlskit verify",
                 "tlskit ca", "tlskit ca issue", "tlskit ca install", "tlskit ca uninstall"):
        assert name in parsers, sorted(parsers)
    for path, parser in parsers.items():
        text = parser.format_help()
        assert "\nexamples:\n" in text, path
        examples = text.split("\nexamples:\n", 1)[1]
        commands = [line.strip() for line in examples.splitlines() if line.startswith("  ")
                    and not line.startswith("      ")]
        assert commands, path
        own = [c for c in commands if c.startswith(path + " ") or c == path]
        assert own, (path, commands)
        assert "exit status: 0 ok, 1 verification or handshake failure" in " ".join(
            text.split()), path


def test_help_in_a_subprocess_is_the_same_text() -> None:
    proc = tlskit_run("ca", "install", "--help", env={**os.environ, "COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    assert "tlskit ca install --dry-run" in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["serve", "--help"],
                                  ["connect", "--help"], ["verify", "--help"],
                                  ["demo", "--help"], ["ca", "--help"]])
def test_help_does_not_load_heavy_modules(argv: list[str]) -> None:
    """`tlskit --help` and `tlskit CMD --help` import neither cryptography nor rich nor
    any command module (their options live in tlskit.cli.options); only `ca`, whose
    subcommands name their handlers, loads its own module."""
    code = ("import sys\nfrom tlskit.cli.main import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit as e:\n    assert e.code == 0\n"
            "print('LOADED', sorted(m for m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = set(proc.stdout.rsplit("LOADED ", 1)[1].strip()[2:-2].split("', '"))
    command = argv[0] if argv[0] == "ca" else None
    for heavy in HEAVY:
        if command and heavy in (f"tlskit.cli.{command}", "cryptography", "tlskit.config",
                                 "tlskit.connection", "tlskit.x509"):
            continue  # the command's own module (and what it needs) may load
        assert not any(m == heavy or m.startswith(heavy + ".") for m in loaded), (
            heavy, argv)
    if command:
        assert f"tlskit.cli.{command}" in loaded


@pytest.mark.parametrize("argv", [[], ["bogus"], ["--bogus"], ["connect"],
                                  ["connect", "example.com", "--timeout", "x"],
                                  ["ca", "issue"], ["verify", "/nonexistent/leaf.pem"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    proc = tlskit_run(*argv)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip()


@pytest.mark.parametrize(("argv", "prog", "unknown"), [
    (["connect", "127.0.0.1:1", "--host", "x"], "tlskit connect", "--host x"),
    (["verify", "leaf.pem", "--bogus"], "tlskit verify", "--bogus"),
    (["ca", "issue", "localhost", "--bogus"], "tlskit ca issue", "--bogus"),
])
def test_an_unknown_option_shows_the_usage_of_its_command(argv: list[str], prog: str,
                                                          unknown: str) -> None:
    """argparse reports an unknown option at the top level; the usage shown with it is the
    command's (the options it does take), not `tlskit [-h] [--version] ... COMMAND`."""
    proc = tlskit_run(*argv)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith(f"usage: {prog} [-h]"), proc.stderr
    assert proc.stderr.rstrip().endswith(f"\n{prog}: error: unrecognized arguments: {unknown}")


@pytest.mark.parametrize("argv", [["connect", "--json"], ["connect", "x:99999", "--json"],
                                  ["verify", "/nonexistent/leaf.pem", "--json"],
                                  ["demo", "--json", "--bogus"]])
def test_usage_errors_under_json_print_a_json_error(argv: list[str]) -> None:
    error = json_error(tlskit_run(*argv), 2)
    assert error["command"] == f"tlskit {argv[0]}"


@pytest.mark.parametrize("argv", [["demo"], ["demo", "--classic"], ["connect", "127.0.0.1:1"]])
def test_an_unusable_diagram_path_is_refused_before_anything_runs(
        argv: list[str], tmp_path: Path) -> None:
    """A diagram that cannot be written is a usage error found while parsing: before the
    demo's handshakes or any connection (port 1 would be "connection refused"), one line
    naming the path and what to do."""
    missing = tmp_path / "no-such-folder" / "handshake.svg"
    cases = {str(missing): f"cannot write {missing}: the folder {missing.parent} does not "
                           "exist; create it",
             str(tmp_path): f"{tmp_path} is a directory; give a file name"}
    for path, words in cases.items():
        proc = tlskit_run(*argv, "--diagram", path)
        assert proc.returncode == 2, (proc.stdout, proc.stderr)
        assert proc.stdout == "" and "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == (
            f"tlskit {argv[0]}: error: argument --diagram: {words}" + (
                " or pick another path" if "folder" in words
                else f", e.g. {tmp_path / 'handshake.svg'}")), proc.stderr
        assert "refused" not in proc.stderr


def test_a_diagram_write_failure_is_one_line(tmp_path: Path) -> None:
    """A path whose folder exists but which cannot be created (a directory named like the
    file's parent is replaced by a file here) is told in words after the run, not as an
    OSError's repr."""
    from tlskit.cli import diagram

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(diagram.DiagramError) as caught:
        diagram.write_svg(blocker / "x.svg", [])
    assert str(caught.value) == (f"cannot write the diagram to {blocker / 'x.svg'}: Not a "
                                 "directory; pick another path")
    assert caught.value.exit_code == 2


def test_connect_failures_under_json(pki: tuple[Path, Path, Path]) -> None:
    root, cert, key = pki
    refused = json_error(tlskit_run("connect", f"127.0.0.1:{refused_port()}", "--json"), 1)
    assert "refused" in refused["message"]
    server = SServer("-cert", str(cert), "-cert_chain", str(cert), "-key", str(key))
    try:
        untrusted = json_error(tlskit_run("connect", f"localhost:{server.port}", "--json"), 1)
        assert untrusted["reason"] == "unknown_issuer", untrusted
        assert untrusted["type"] == "CertificateVerificationError", untrusted
        assert untrusted["alert"] == "unknown_ca", untrusted
        version = json_error(tlskit_run("connect", f"localhost:{server.port}", "--cafile",
                                        str(root), "--tls1.2", "--json"), 1)
        assert version["alert"] == "protocol_version", version
        ok = tlskit_run("connect", f"localhost:{server.port}", "--cafile", str(root), "--json")
        assert ok.returncode == 0 and "error" not in json.loads(ok.stdout), ok.stderr
    finally:
        server.close()


def test_verify_exit_codes(pki: tuple[Path, Path, Path], tmp_path: Path) -> None:
    root, cert, _ = pki
    assert tlskit_run("verify", str(cert), "--cafile", str(root), "--host",
                      "localhost").returncode == 0
    wrong = tlskit_run("verify", str(cert), "--cafile", str(root), "--host", "example.com",
                       "--json")
    assert wrong.returncode == 1
    assert json.loads(wrong.stdout)["valid"] is False


def test_cryptography_deprecation_warnings_stay_out_of_the_output(tmp_path: Path) -> None:
    """A root with serial number 0 (as Go Daddy G2 has) makes cryptography warn while
    parsing, with a line of tlskit's source: a command's user gets the verdict and no
    such lines; ``--debug`` shows them."""
    from ..x509 import pki as test_pki

    zero = test_pki.zero_serial_root("Zero Root")
    leaf = test_pki.leaf("localhost", zero)
    root_pem, leaf_pem = tmp_path / "zero-root.pem", tmp_path / "leaf.pem"
    root_pem.write_bytes(zero.cert.public_bytes(serialization.Encoding.PEM))
    leaf_pem.write_bytes(leaf.cert.public_bytes(serialization.Encoding.PEM))
    argv = ["verify", str(leaf_pem), "--cafile", str(root_pem), "--host", "localhost",
            "--at", test_pki.NOW.isoformat()]
    quiet = tlskit_run(*argv)
    assert quiet.returncode == 0, (quiet.stdout, quiet.stderr)
    assert quiet.stderr == ""
    loud = tlskit_run("--debug", *argv)
    assert loud.returncode == 0 and "CryptographyDeprecationWarning" in loud.stderr


def run_in_pty(argv: list[str], env: dict[str, str]) -> str:
    """Run ``tlskit argv`` with its stdout on a pseudo-terminal (where colour is on by
    default); what it wrote."""
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tlskit", *argv], stdout=child_fd,
                            stderr=subprocess.PIPE, env=env)
    os.close(child_fd)
    chunks = []
    while True:
        try:
            data = os.read(main_fd, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(main_fd)
    assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode("utf-8", "replace")


def test_no_color_and_columns(pki: tuple[Path, Path, Path]) -> None:
    root, cert, _ = pki
    argv = ["verify", str(cert), "--cafile", str(root), "--host", "localhost"]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", COLUMNS="60")
    coloured = run_in_pty(argv, env)
    colour = re.compile(r"\x1b\[[0-9;]*3[0-9]")
    assert colour.search(coloured), "a terminal gets colour by default"
    plain = run_in_pty(argv, {**env, "NO_COLOR": "1"})
    assert not colour.search(plain), plain
    assert "valid" in plain
    visible = re.sub(r"\x1b\[[0-9;]*m", "", plain).replace("\r", "")
    assert max(len(line) for line in visible.splitlines()) <= 60
    wide = tlskit_run(*argv, env={**env, "COLUMNS": "200"})
    assert max(len(line) for line in wide.stdout.splitlines()) > 60


@pytest.mark.parametrize("args", [["--cert", "x.pem"], ["--groups", "nosuchgroup"],
                                  ["--cert", "/nonexistent.pem", "--key", "/nonexistent.pem"],
                                  ["--port", "99999"]])
def test_serve_usage_errors_exit_2(args: list[str], tmp_path: Path) -> None:
    env = dict(os.environ, TLSKIT_STATE_DIR=str(tmp_path / "state"))
    proc = tlskit_run("serve", "--port", "0", *args, env=env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "tlskit serve: " in proc.stderr and "Traceback" not in proc.stderr


def test_serve_port_in_use_exits_1(pki: tuple[Path, Path, Path]) -> None:
    _, cert, key = pki
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        proc = tlskit_run("serve", "--port", str(port), "--cert", str(cert), "--key", str(key))
    assert proc.returncode == 1, proc.stderr
    assert "cannot listen on 127.0.0.1" in proc.stderr


def test_import_tlskit_is_light_and_complete() -> None:
    """`import tlskit` (which every `tlskit` command pays for) loads no cryptography; the
    public names, `tlskit.aio` and submodules still resolve on first use."""
    code = ("import sys, tlskit\n"
            "assert 'cryptography' not in sys.modules, 'eager'\n"
            "names = [getattr(tlskit, n) for n in tlskit.__all__]\n"
            "assert tlskit.ServerConfig.__name__ == 'ServerConfig'\n"
            "assert callable(tlskit.connect) and tlskit.aio.open_connection\n"
            "assert tlskit.x509.Verifier.__name__ == 'Verifier'\n"
            "from tlskit import *\n"
            "assert set(tlskit.__all__) <= set(dir(tlskit))\n"
            "try:\n    tlskit.no_such_thing\nexcept AttributeError:\n    print('OK')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout == "OK\n", proc.stderr


def test_the_cli_drives_connections_through_tlskit_io() -> None:
    """connect, serve and demo run over the library's own `TLSSocket`/`TLSServer` (bytes
    watched through `tlskit.io.tap`), not a driver of their own: no CLI module feeds a
    sans-I/O connection itself."""
    import tlskit.cli as cli_package
    from tlskit.cli import serve
    from tlskit.io import TLSServer

    for path in Path(cli_package.__file__).parent.glob("*.py"):
        code = path.read_text()
        assert ".receive_data(" not in code and ".data_to_send(" not in code, path.name
    assert issubclass(serve._Listener, TLSServer)


def test_ctrl_c_while_a_command_is_imported_is_exit_130_without_traceback(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`tlskit ca ...` imports its module (and cryptography) while the parser is built:
    Ctrl-C then was a KeyboardInterrupt traceback; now it is 130, as later."""
    import importlib

    from tlskit.cli import main as cli_main

    def interrupted(name: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib, "import_module", interrupted)
    assert cli_main.main(["ca", "ocsp", "--port", "0"]) == 130
    assert capsys.readouterr() == ("", "")


def _interrupt(argv: list[str], tmp_path: Path, hold: bytes | None) -> tuple[int, str, str]:
    """Run `tlskit ARGV` (SIGINT at its default, as in a terminal), wait for its first
    line, optionally open a connection that sends ``hold`` and stalls mid-handshake, then
    press Ctrl-C."""
    import signal
    import socket
    import time

    env = dict(os.environ, TLSKIT_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.Popen([sys.executable, "-m", "tlskit", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout is not None
    first = proc.stdout.readline()
    held = None
    if hold is not None:
        port = int(first.rstrip().rstrip("/").rsplit(":", 1)[1])
        held = socket.create_connection(("127.0.0.1", port), timeout=30)
        held.sendall(hold)
        time.sleep(0.5)  # (not asserted on) lets the server's thread start reading it
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    if held is not None:
        held.close()
    return proc.returncode, first + out, err


@pytest.mark.parametrize(("argv", "hold", "last"), [
    (["serve", "--port", "0"], None, "stopped"),
    (["serve", "--port", "0"], b"\x16\x03\x01\x00\xff\x01\x00", "stopped"),  # mid-ClientHello
    (["ca", "ocsp", "--port", "0"], None, "Stopped."),
])
def test_ctrl_c_stops_a_server_cleanly(argv: list[str], hold: bytes | None, last: str,
                                       tmp_path: Path) -> None:
    if argv[0] == "ca":
        env = dict(os.environ, TLSKIT_STATE_DIR=str(tmp_path / "state"))
        assert tlskit_run("ca", "init", env=env).returncode == 0
    code, out, err = _interrupt(argv, tmp_path, hold)
    assert (code, err) == (0, ""), (out, err)
    assert out.splitlines()[-1] == last


@pytest.mark.parametrize("argv", [["serve", "--port", "0"], ["ca", "ocsp", "--port", "0"]],
                         ids=["serve", "ca-ocsp"])
def test_ctrl_c_once_nobody_reads_stdout_stops_cleanly(argv: list[str],
                                                       tmp_path: Path) -> None:
    """`tlskit serve | head -1`: head has exited when Ctrl-C comes, and "stopped" went
    into the closed pipe: a broken pipe error and exit 1. (`tlskit ca ocsp` escaped that
    only when a request's log line had met the closed pipe first, which redirected
    stdout: test_ocsp_keeps_answering_quietly_once_its_log_pipe_is_closed raced it.)"""
    import signal

    env = dict(os.environ, TLSKIT_STATE_DIR=str(tmp_path / "state"))
    if argv[0] == "ca":
        assert tlskit_run("ca", "init", env=env).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "tlskit", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout is not None and proc.stderr is not None
    try:
        for line in proc.stdout:
            if line.startswith("Ctrl-C"):
                break
        proc.stdout.close()  # the reader goes away
        proc.send_signal(signal.SIGINT)
        assert (proc.wait(timeout=30), proc.stderr.read()) == (0, "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class _Writes(io.RawIOBase):
    """A stdout's raw end that keeps each write it is given: each is one write(2)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.chunks.append(bytes(b))
        return len(b)


def test_serve_startup_lines_leave_in_one_write(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C may come while `tlskit serve` prints its startup lines (the test above sends
    it after the first line). Written in pieces, "stopped" was once glued to a half-printed
    line ("...root.pemstopped"); written whole, the interrupt lands before or after them."""
    from tlskit.cli.serve import Server

    monkeypatch.setenv("TLSKIT_STATE_DIR", str(tmp_path / "state"))
    raw = _Writes()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BufferedWriter(raw),
                                                        encoding="utf-8"))
    server = Server(build_parser().parse_args(["serve", "--port", "0"]))
    try:
        server.announce()
    finally:
        server.close()
    assert len(raw.chunks) == 1, raw.chunks
    text = raw.chunks[0].decode()
    assert text.startswith(f"listening on https://127.0.0.1:{server.port}/\n"), text
    assert "trust the local CA root" in text and text.endswith("Ctrl-C to stop.\n"), text


def test_ca_ocsp_startup_lines_leave_in_one_write(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`tlskit ca ocsp` gets Ctrl-C after its first line too. Its prints left together only
    while stdout was buffered: unbuffered (``python -u``, PYTHONUNBUFFERED, modelled here
    by a write-through stdout over the raw end) each print was a write for the text and
    one for the newline, and "Stopped." could follow half a line, as serve's once did."""
    from tlskit.ca import LocalCA
    from tlskit.cli import ca as ca_cli
    from tlskit.cli import main as cli_main

    LocalCA.create(tmp_path / "ca")

    def interrupt() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ca_cli, "wait_for_interrupt", interrupt)
    raw = _Writes()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8",
                                                        write_through=True))
    assert cli_main.main(["ca", "ocsp", "--port", "0", "--dir", str(tmp_path / "ca")]) == 0
    banner = raw.chunks[0].decode()
    assert banner.startswith("OCSP responder for "), raw.chunks
    assert banner.endswith("Ctrl-C to stop.\n"), raw.chunks


def test_serve_logs_nothing_once_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A connection ending while `tlskit serve` stops was logged from its (daemon) thread
    after "stopped", or while the interpreter exited: a thread stopped there holding
    stderr's lock makes the exit's flush a fatal error. Closed, the server logs no more."""
    from tlskit.cli.serve import Server

    monkeypatch.setenv("TLSKIT_STATE_DIR", str(tmp_path / "state"))
    server = Server(build_parser().parse_args(["serve", "--port", "0"]))
    server.log("127.0.0.1:1 before the stop")
    server.close()
    server.log("127.0.0.1:2 after the stop")
    assert capsys.readouterr().err == "127.0.0.1:1 before the stop\n"
