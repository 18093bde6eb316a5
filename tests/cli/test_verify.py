"""`tlskit verify` on `tlskit ca` chains: "revocation not checked" without flags, the
revocation status of each certificate with them, end to end against `tlskit ca ocsp`
running in a subprocess (asked by `tlskit verify --ocsp` and by `openssl ocsp`), and one
clear line for bad input."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..support.ports import reserve_port

assert shutil.which("openssl"), "the openssl binary is required (bash .ci/install-test-deps.sh)"


def tlskit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TLSKIT_STATE_DIR": str(cwd / "state")}
    return subprocess.run([sys.executable, "-m", "tlskit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def one_error_line(proc: subprocess.CompletedProcess[str], prefix: str) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr  # bad input: a usage error
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(prefix), lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


class Responder:
    """`tlskit ca ocsp` in a subprocess, ready once it printed its banner."""

    def __init__(self, base: Path, port: int) -> None:
        env = {**os.environ, "TLSKIT_STATE_DIR": str(base / "state")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tlskit", "ca", "ocsp", "--dir", "ca", "--port", str(port)],
            cwd=base, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        out = self.proc.stdout
        assert out is not None
        threading.Thread(target=lambda: [self.lines.put(line) for line in out],
                         daemon=True).start()
        seen = []
        while not seen or not seen[-1].startswith("Ctrl-C"):
            seen.append(self.lines.get(timeout=30))
        self.banner = "".join(seen)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


class Setup:
    """`tlskit ca init --url` + two issued leaves, one of them revoked."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = reserve_port()
        self.url = f"http://127.0.0.1:{self.port}"
        ok(tlskit("ca", "init", "--dir", "ca", "--url", self.url, cwd=base))
        ok(tlskit("ca", "issue", "good.test", "--dir", "ca", cwd=base))
        ok(tlskit("ca", "issue", "bad.test", "--dir", "ca", cwd=base))
        ok(tlskit("ca", "revoke", "bad.test.pem", "--dir", "ca", cwd=base))

    def verify(self, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return tlskit("verify", f"{name}.pem", "--cafile", "ca/root.pem", "--host", name,
                      *extra, cwd=self.base)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return Setup(tmp_path_factory.mktemp("verify"))


@pytest.fixture
def responder(setup: Setup) -> Iterator[Responder]:
    running = Responder(setup.base, setup.port)
    yield running
    running.close()


def as_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- no flags


def test_without_flags_a_revoked_certificate_is_not_shown_as_plainly_valid(
    setup: Setup,
) -> None:
    proc = setup.verify("bad.test")
    out = ok(proc)  # the chain itself is valid: revocation was not asked for...
    last = out.strip().splitlines()[-1]
    assert last.startswith("✔ valid for bad.test, revocation not checked")  # ...and says so
    assert "--ocsp" in last
    assert out.count("? revocation: not checked") == 2  # the leaf and the intermediate

    doc = as_json(setup.verify("bad.test", "--json"))
    assert doc["valid"] is True and doc["revocation"] == "not checked"
    assert [c["revocation"] for c in doc["chain"]] == [
        "not checked", "not checked", "n/a (trust anchor)"]


# --------------------------------------------------------------------------- --ocsp


def test_ocsp_hard_fail_end_to_end(setup: Setup, responder: Responder) -> None:
    assert f"at {setup.url}" in responder.banner
    assert "Note:" not in responder.banner  # the CA's URL is this responder's
    good = setup.verify("good.test", "--ocsp")
    out = ok(good)
    assert out.strip().splitlines()[-1].startswith("✔ valid for good.test, not revoked")
    doc = as_json(setup.verify("good.test", "--ocsp", "--json"))
    assert doc["revocation"].startswith("hard-fail")
    assert [c["revocation"] for c in doc["chain"]] == ["good", "good", "n/a (trust anchor)"]

    bad = setup.verify("bad.test", "--ocsp", "--json")
    assert bad.returncode == 1
    doc = as_json(bad)
    assert doc["valid"] is False and doc["reason"] == "revoked"
    assert doc["chain"][0]["revocation"] == "revoked"
    human = setup.verify("bad.test", "--ocsp")
    assert human.returncode == 1 and "✘ invalid (revoked)" in human.stdout


def test_ocsp_hard_fail_without_a_responder(setup: Setup) -> None:
    proc = setup.verify("good.test", "--ocsp", "--json")
    assert proc.returncode == 1
    assert as_json(proc)["reason"] == "revocation_unknown"


def test_crl_files_from_the_ca(setup: Setup) -> None:
    """`ca crl` covers the leaves, `ca crl --root` the intermediate; soft-fail says which
    certificates it could answer for."""
    ok(tlskit("ca", "crl", "--dir", "ca", "--out", "inter.crl", cwd=setup.base))
    bad = setup.verify("bad.test", "--crl", "inter.crl", "--json")
    assert bad.returncode == 1 and as_json(bad)["chain"][0]["revocation"] == "revoked"
    good = ok(setup.verify("good.test", "--crl", "inter.crl"))
    last = good.strip().splitlines()[-1]
    assert "revocation checked soft-fail, the given CRLs only: good.test: good" in last
    assert "intermediate" in last and last.endswith(": unknown")
    ok(tlskit("ca", "crl", "--root", "--dir", "ca", "--out", "root.crl", cwd=setup.base))
    both = ok(setup.verify("good.test", "--crl", "inter.crl", "--crl", "root.crl"))
    assert both.strip().splitlines()[-1].startswith("✔ valid for good.test, not revoked")


def test_openssl_ocsp_two_certs_against_the_cli_responder(
    setup: Setup, responder: Responder
) -> None:
    base = setup.base
    for name in ("good.test", "bad.test"):
        (base / f"{name}.leaf.pem").write_text(
            (base / f"{name}.pem").read_text().split("-----END CERTIFICATE-----")[0]
            + "-----END CERTIFICATE-----\n")
    result = subprocess.run(
        ["openssl", "ocsp", "-issuer", "ca/intermediate.pem", "-cert", "good.test.leaf.pem",
         "-cert", "bad.test.leaf.pem", "-url", setup.url, "-CAfile", "ca/root.pem"],
        cwd=base, capture_output=True, text=True, timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Response verify OK" in output
    assert "good.test.leaf.pem: good" in output and "bad.test.leaf.pem: revoked" in output
    # The responder logs after answering: wait for its line (up to 10 s, no fixed sleep).
    log: list[str] = []
    while not any(re.search(r"serials 0x[0-9a-f]+, 0x[0-9a-f]+: good, revoked", line)
                  for line in log):
        try:
            log.append(responder.lines.get(timeout=10))
        except queue.Empty:
            pytest.fail(f"the responder never logged the two-certificate request: {log}")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("argv", "message"), [
    (["missing.pem"], "cannot read CERT missing.pem: No such file or directory"),
    (["garbage.pem"], "CERT garbage.pem is not a PEM or DER certificate (not valid DER: "
                      "the data ends early"),
    (["badpem.pem"], "CERT badpem.pem is not a PEM or DER certificate (not valid DER: "
                     "an unexpected ASN.1 element)"),
    (["good.test.pem", "--cafile", "garbage.pem"], "--cafile garbage.pem"),
    (["good.test.pem", "--cafile", "missing.pem"], "cannot read --cafile missing.pem"),
    (["good.test.pem", "--chain", "missing.pem"], "cannot read --chain missing.pem"),
    (["good.test.pem", "--crl", "good.test.pem"], "--crl good.test.pem is not a PEM or DER CRL"),
    (["good.test.pem", "--at", "yesterday"], "--at 'yesterday' is not an ISO 8601 time"),
])
def test_bad_input_is_one_line(setup: Setup, argv: list[str], message: str) -> None:
    (setup.base / "garbage.pem").write_text("not a certificate\n")
    (setup.base / "badpem.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    if "--cafile" not in argv:
        argv = [*argv, "--cafile", "ca/root.pem"]
    line = one_error_line(tlskit("verify", *argv, cwd=setup.base), "tlskit verify: error: ")
    assert message in line
    assert "ParseError" not in line  # cryptography's debug text, put in words


# --------------------------------------------------------------------------- input forms


def _blocks(pem: bytes) -> list[bytes]:
    end = b"-----END CERTIFICATE-----\n"
    return [b + end for b in pem.split(end) if b.strip()]


def test_a_bundle_with_the_leaf_last_validates_the_leaf(setup: Setup) -> None:
    """intermediate + leaf (the order of some downloads): the one end-entity certificate is
    validated, with a note on stderr, instead of the intermediate failing as a leaf."""
    leaf, intermediate = _blocks((setup.base / "good.test.pem").read_bytes())
    (setup.base / "reversed.pem").write_bytes(intermediate + leaf)
    proc = tlskit("verify", "reversed.pem", "--cafile", "ca/root.pem", "--host", "good.test",
                  cwd=setup.base)
    assert "✔ valid for good.test" in ok(proc)
    assert proc.stderr == ("tlskit verify: note: reversed.pem: the end-entity certificate "
                           "(CN=good.test) is number 2, not the first; validating it, the "
                           "others as intermediates\n")


def test_cafile_may_be_der_or_a_directory(setup: Setup, tmp_path: Path) -> None:
    """CERT and --chain take DER; so does --cafile, and a directory of CA files (key files
    in it are passed over)."""
    root = x509.load_pem_x509_certificate((setup.base / "ca" / "root.pem").read_bytes())
    der = tmp_path / "root.der"
    der.write_bytes(root.public_bytes(serialization.Encoding.DER))
    folder = tmp_path / "cas"
    folder.mkdir()
    (folder / "root.crt").write_bytes((setup.base / "ca" / "root.pem").read_bytes())
    (folder / "some-key.pem").write_bytes((setup.base / "good.test-key.pem").read_bytes())
    for cafile in (der, folder):
        assert "✔ valid for good.test" in ok(setup.verify("good.test", "--cafile",
                                                          str(cafile)))


@pytest.mark.parametrize("argv", [["good.test-key.pem"],
                                  ["good.test.pem", "--cafile", "good.test-key.pem"]])
def test_a_key_file_given_for_a_certificate_says_so(setup: Setup, argv: list[str]) -> None:
    """Not "no well-formed PEM block": the file is well formed, it holds a key."""
    if "--cafile" not in argv:
        argv = [*argv, "--cafile", "ca/root.pem"]
    what = "CERT" if argv[0] == "good.test-key.pem" else "--cafile"
    line = one_error_line(tlskit("verify", *argv, cwd=setup.base), "tlskit verify: error: ")
    assert line == (f"tlskit verify: error: {what} good.test-key.pem holds no certificate, "
                    "only PEM PRIVATE KEY; give a certificate file (BEGIN CERTIFICATE), e.g. "
                    "one written by `tlskit ca issue`")


def test_unknown_issuer_hints_at_cafile_and_chain(setup: Setup) -> None:
    """The leaf alone, without its intermediate: the verdict is followed by the two options
    that fix it (the library's wording speaks of a server sending its intermediate)."""
    leaf, _ = _blocks((setup.base / "good.test.pem").read_bytes())
    (setup.base / "leaf-only.pem").write_bytes(leaf)
    proc = tlskit("verify", "leaf-only.pem", "--cafile", "ca/root.pem", cwd=setup.base)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "✘ invalid (unknown_issuer)" in proc.stdout
    # The library says "trust anchors"; the command names its flag there.
    assert "add the issuing CA to the trust anchors (--cafile FILE), or the server" in " ".join(
        proc.stdout.split())
    assert proc.stdout.rstrip().endswith(
        "hint: --cafile FILE trusts the issuing CA; --chain FILE adds an intermediate "
        "certificate missing from CERT")
