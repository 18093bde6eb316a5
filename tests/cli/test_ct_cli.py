"""``tlskit serve --sct FILE`` serves SCTs and ``tlskit connect --scts [--ct-log FILE]``
lists them (log, time, verified or not), both as processes on 127.0.0.1; bad files are
one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.cli.test_connect import one_error_line, tlskit
from tlskit.ca import LocalCA

from ..support.ct import SigningLog
from ..support.tlskit_cli import ServeProcess

LOG = SigningLog("cli test log")


class Files:
    def __init__(self, base: Path) -> None:
        self.ca = LocalCA.create(base / "ca")
        self.root = base / "ca" / "root.pem"
        issued = self.ca.issue_server(["localhost", "127.0.0.1"])
        self.cert, self.key = issued.write(cert_path=base / "leaf.pem",
                                           key_path=base / "leaf-key.pem")
        self.sct_bytes = LOG.sct(issued.certificate)
        self.sct = base / "leaf.sct"
        self.sct.write_bytes(self.sct_bytes)
        self.log_key = base / "cli-log.pem"
        self.log_key.write_bytes(LOG.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("ct"))


@pytest.fixture
def serve(files: Files, tmp_path: Path) -> Iterator[ServeProcess]:
    server = ServeProcess("--cert", str(files.cert), "--key", str(files.key), "--sct",
                   str(files.sct), state=tmp_path)
    yield server
    server.close()


@pytest.mark.parametrize("version", ["--tls1.3", "--tls1.2"])
def test_connect_lists_and_verifies_served_scts(serve: ServeProcess, files: Files,
                                                version: str) -> None:
    proc = tlskit(f"localhost:{serve.port}", "--cafile", str(files.root), version,
                  "--ct-log", str(files.log_key), "--json")
    assert proc.returncode == 0, proc.stderr
    [sct] = json.loads(proc.stdout)["scts"]
    assert sct["source"] == "tls" and sct["verified"] is True and sct["status"] == "valid"
    assert sct["log"] == "cli-log"  # named after the key file
    human = tlskit(f"localhost:{serve.port}", "--cafile", str(files.root), version, "--scts")
    assert human.returncode == 0, human.stderr
    assert re.search(r"SCTs\s+│?\s*tls: log \S+, \d{4}-\d\d-\d\dT[\d:.]+Z: not checked",
                     human.stdout), human.stdout


def test_connect_without_scts_flag_shows_none(serve: ServeProcess, files: Files) -> None:
    proc = tlskit(f"localhost:{serve.port}", "--cafile", str(files.root), "--json")
    assert json.loads(proc.stdout)["scts"] is None


def test_connect_reports_scts_of_an_unlisted_log(serve: ServeProcess, files: Files,
                                                 tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(SigningLog().key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    proc = tlskit(f"localhost:{serve.port}", "--cafile", str(files.root), "--ct-log",
                  str(other), "--json")
    [sct] = json.loads(proc.stdout)["scts"]
    assert sct["status"] == "unknown log" and sct["verified"] is False


def test_bad_ct_log_file_is_one_line(files: Files, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    proc = tlskit("localhost:1", "--ct-log", str(bad))
    line = one_error_line(proc)
    assert line == (f"tlskit connect: --ct-log {bad}: not a CT log public key (no public "
                    "key could be read from it); give the log's key as PEM 'BEGIN PUBLIC KEY' "
                    "or DER SubjectPublicKeyInfo, ECDSA P-256 or RSA"), line
    assert proc.returncode == 2


@pytest.mark.parametrize("content", [None, b"\x00short", bytes(70000), "/dev/zero"],
                         ids=["missing", "not-an-sct", "huge", "device"])
def test_bad_sct_file_is_one_line(files: Files, tmp_path: Path,
                                  content: bytes | str | None) -> None:
    path = Path(content) if isinstance(content, str) else tmp_path / "x.sct"
    if isinstance(content, bytes):
        path.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, "-m", "tlskit", "serve", "--port", "0", "--cert", str(files.cert),
         "--key", str(files.key), "--sct", str(path)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, "TLSKIT_STATE_DIR": str(tmp_path)})
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"--sct {path}: " in lines[0], lines[0]
    expected = "cannot read it" if content is None else "not a serialized SCT" \
        if content == b"\x00short" else "larger than any SCT"
    assert expected in lines[0], lines[0]
