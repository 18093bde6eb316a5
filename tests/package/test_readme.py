"""Every code block in README.md runs as written, so the README cannot drift from the code
(and so do the blocks of the task pages in docs/ that need no other package).

Python blocks run in a fresh interpreter against the lab (tests/package/readme.py) and
pass ``mypy --strict``; command-line blocks run line by line through bash; the install
command is tested in test_install.py and the test command is what .ci/run runs.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from .readme import (
    DOC_PAGES,
    README,
    ROOT,
    RUNTIME_FIXTURES,
    TYPED_FIXTURES,
    Block,
    Lab,
    blocks,
    start_lab,
)

PAGES = [README, *DOC_PAGES]
PYTHON_BLOCKS = [b for page in PAGES for b in blocks("python", page)]
SH_BLOCKS = [b for page in PAGES for b in blocks("sh", page)]
# Install and test commands have tests of their own (test_install.py, below).
COMMAND_BLOCKS = [b for b in SH_BLOCKS
                  if "pip install" not in b.code and "install-test-deps" not in b.code]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from start_lab(tmp_path_factory.mktemp("readme-lab"))


def run_python(lab: Lab, block: Block) -> subprocess.CompletedProcess[str]:
    script = lab.directory / f"block_{block.line}.py"
    script.write_text(RUNTIME_FIXTURES.format(lab=str(lab.directory)) + block.code)
    return subprocess.run([sys.executable, str(script)], cwd=lab.directory, env=lab.env(),
                          capture_output=True, text=True, timeout=60)


def test_the_pages_have_the_blocks_these_tests_expect() -> None:
    assert len(blocks("python")) >= 5 and len(blocks("sh")) == 3
    assert any("tlskit.aio.open_connection" in b.code for b in PYTHON_BLOCKS)
    assert {b.path for b in PYTHON_BLOCKS} == set(PAGES)
    assert len(COMMAND_BLOCKS) == 3
    [readme_install] = [b.code for b in blocks("sh") if "pip install" in b.code]
    for block in SH_BLOCKS:
        if "pip install" in block.code:  # tested once, in test_install.py
            assert block.code == readme_install, block.label


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda b: b.label)
def test_python_block_runs(lab: Lab, block: Block) -> None:
    before = len(lab.requests)
    proc = run_python(lab, block)
    assert proc.returncode == 0, f"{block.label}\n{proc.stderr}"
    assert proc.stderr == "", proc.stderr
    # A print whose comment shows its output must print exactly that.
    for line in block.code.splitlines():
        shown = re.match(r"\s*print\(.*\)\s+# (\[.*\])$", line)
        if shown:
            assert shown.group(1) in proc.stdout.splitlines(), (line, proc.stdout)
    if "GET / HTTP" in block.code:
        assert len(lab.requests) == before + 1  # it reached the lab server...
        assert "hello from the README lab" in proc.stdout  # ...and printed its answer
    if "sock.cipher()" in block.code:
        assert proc.stdout.startswith("TLSv1.3 ('TLS_"), proc.stdout


def _mypy_strict(tmp_path: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    # tlskit is read as a user's mypy reads an installed package: its types are used, its
    # own findings are its CI's business (pyproject's [tool.mypy]), not the README's.
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n[mypy-tlskit.*]\nfollow_imports = silent\n")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file",
         str(config), "--cache-dir", str(tmp_path / "cache"), *map(str, files)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"MYPYPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})


def test_python_blocks_pass_mypy_strict(tmp_path: Path) -> None:
    files = []
    for block in PYTHON_BLOCKS:
        path = tmp_path / f"readme_{block.line}.py"
        path.write_text(TYPED_FIXTURES + block.code)
        files.append(path)
    proc = _mypy_strict(tmp_path, *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_sees_the_lazy_exports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import tlskit\n"
                     "reveal_type(tlskit.connect)\n"
                     "reveal_type(tlskit.aio.open_connection)\n"
                     "reveal_type(tlskit.TLSSocket)\n")
    notes = [line for line in _mypy_strict(tmp_path, probe).stdout.splitlines()
             if "Revealed type" in line]
    assert len(notes) == 3, notes
    assert re.search(r"def \(host: (builtins\.)?str, port: (builtins\.)?int", notes[0]), notes[0]
    assert "-> tlskit.io.blocking.TLSSocket" in notes[0], notes[0]
    assert "Coroutine" in notes[1] and "asyncio.streams.StreamReader" in notes[1], notes[1]
    assert "tlskit.io.blocking.TLSSocket" in notes[2], notes[2]


def _answer_from_serve(lab: Lab, port: int, state: Path, echo: bool) -> str:
    """One request to a running `tlskit serve`, trusting the lab CA and serve's own CA."""
    context = ssl.create_default_context(cadata="".join(
        p.read_text() for p in (lab.directory / "root.pem", *state.rglob("root.pem"))))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"ping\n" if echo else b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        return tls.recv(100).decode()


def _serve_once(lab: Lab, line: str, cwd: Path, state: Path) -> None:
    """`tlskit serve` runs until stopped: ask it one thing, then stop it (exit 0)."""
    proc = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=cwd, env=lab.env(state),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.fullmatch(r"listening on https://127\.0\.0\.1:(\d+)/\n", first)
        assert match, first + (proc.stderr.read() if proc.stderr else "")
        answer = _answer_from_serve(lab, int(match.group(1)), state, "--echo" in line)
        assert answer == "ping\n" if "--echo" in line else answer.startswith("HTTP/1.")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def _ocsp_once(lab: Lab, line: str, cwd: Path, state: Path) -> None:
    """`tlskit ca ocsp` runs until Ctrl-C: fetch the root's CRL from it, then stop it."""
    proc = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=cwd, env=lab.env(state),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first, second = proc.stdout.readline(), proc.stdout.readline()
        assert re.match(r"OCSP responder for .* at http://127\.0\.0\.1:\d+", first), first
        crl_url = second.split()[-1]
        with urllib.request.urlopen(crl_url, timeout=30) as response:
            crl = response.read()
        parsed = (x509.load_der_x509_crl(crl) if crl[:1] == b"\x30"
                  else x509.load_pem_x509_crl(crl))
        assert "root" in parsed.issuer.rfc4514_string()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


@pytest.mark.parametrize("block", COMMAND_BLOCKS, ids=lambda b: b.label)
def test_command_block_runs(lab: Lab, block: Block, tmp_path: Path) -> None:
    """Line by line, in order, in one directory holding the lab's files (as a shell
    session would), with the lab's routes and "system" trust store."""
    cwd, state = tmp_path / "cwd", tmp_path / "state"
    shutil.copytree(lab.directory, cwd, ignore=shutil.ignore_patterns("site", "state"))
    for line in (x for x in block.code.splitlines() if x.strip()):
        if line.startswith("tlskit serve"):
            _serve_once(lab, line, cwd, state)
            continue
        if line.startswith("tlskit ca ocsp"):
            _ocsp_once(lab, line, cwd, state)
            continue
        proc = subprocess.run(["bash", "-c", line], cwd=cwd, env=lab.env(state),
                              capture_output=True, text=True, timeout=90)
        assert proc.returncode == 0, f"{block.label}: {line}\n{proc.stdout}\n{proc.stderr}"
        diagram = re.search(r"--diagram (\S+)", line)
        if diagram:
            assert "<svg" in (cwd / diagram.group(1)).read_text()
        if "--json" in line:
            assert json.loads(proc.stdout)["version"] == "TLSv1.3"


def test_ci_runs_the_readme_test_command() -> None:
    [test_block] = [b for b in blocks("sh") if "install-test-deps" in b.code]
    steps = [s.strip() for s in test_block.code.strip().split("&&")]
    run = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    positions = []
    for step in steps:
        matches = [i for i, line in enumerate(run) if line.split(" || ")[0] == step]
        assert matches, f".ci/run does not run {step!r}"
        positions.append(matches[0])
    assert positions == sorted(positions)
    assert "set -uo pipefail" in run and '"$status" -eq 5' in " ".join(run)
