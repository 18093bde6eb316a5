"""`tlskit verify`: exit codes, the tree, and the JSON document."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tlskit.cli import main as cli_main

from . import pki

HOST = "www.example.org"
AT = "2026-06-01T12:00:00Z"


def _stub_missing_commands() -> dict[str, types.ModuleType]:
    """The dispatcher imports every command module; other commands are written by other
    people and may not exist yet in this tree. Stand-ins keep this test about `verify`."""
    stubs: dict[str, types.ModuleType] = {}
    for name in cli_main.COMMANDS:
        module_name = f"tlskit.cli.{name}"
        try:
            importlib.import_module(module_name)
        except ImportError:
            stub = types.ModuleType(module_name)
            stub.add_arguments = lambda parser: None  # type: ignore[attr-defined]
            stub.run = lambda args: 0  # type: ignore[attr-defined]
            stubs[module_name] = stub
    return stubs


@pytest.fixture(autouse=True)
def _commands(monkeypatch: pytest.MonkeyPatch) -> None:
    for module_name, stub in _stub_missing_commands().items():
        monkeypatch.setitem(sys.modules, module_name, stub)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("verify")
    c = pki.simple_chain(HOST)
    expired = pki.leaf(HOST, c.inter, not_after=pki.NOW - pki.DAY, slot="cli-expired")
    out = {
        "bundle": d / "bundle.pem",  # leaf followed by the intermediate
        "leaf": d / "leaf.der",
        "chain": d / "chain.pem",
        "root": d / "root.pem",
        "expired": d / "expired.pem",
    }
    out["bundle"].write_bytes(pki.pem(c.leaf.cert, c.inter.cert))
    out["leaf"].write_bytes(c.leaf.cert.public_bytes(serialization.Encoding.DER))
    out["chain"].write_bytes(pki.pem(c.inter.cert))
    out["root"].write_bytes(pki.pem(c.root.cert))
    out["expired"].write_bytes(pki.pem(expired.cert, c.inter.cert))
    return out


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli_main.main(["verify", *argv])
    return code, capsys.readouterr().out


def test_valid_chain_tree(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, str(files["bundle"]), "--cafile", str(files["root"]),
                     "--host", HOST, "--at", AT)
    assert code == 0
    assert "✔ valid for www.example.org" in out
    assert "CN=Root ec256" in out and "CN=Intermediate ec256" in out
    assert "hostname: matches www.example.org" in out
    assert "✘" not in out
    # The tree goes from the anchor down: the root is printed before the leaf.
    assert out.index("CN=Root ec256") < out.index("CN=www.example.org")


def test_der_leaf_with_separate_chain(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _run(capsys, str(files["leaf"]), "--chain", str(files["chain"]),
                   "--cafile", str(files["root"]), "--host", HOST, "--at", AT)
    assert code == 0


def test_invalid_chain_json(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, str(files["expired"]), "--cafile", str(files["root"]),
                     "--host", HOST, "--at", AT, "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["valid"] is False
    assert doc["reason"] == "expired"
    assert f"certificate for {HOST} expired on" in doc["message"]
    assert [c["subject"] for c in doc["chain"]] == [
        f"CN={HOST}", "CN=Intermediate ec256", "CN=Root ec256"]
    leaf = doc["chain"][0]
    assert set(leaf) == {"subject", "issuer", "serial", "not_before", "not_after", "revocation",
                         "must_staple", "checks"}
    validity = [c for c in leaf["checks"] if c["check"] == "validity"]
    assert validity and validity[0]["ok"] is False


def test_valid_chain_json(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, str(files["bundle"]), "--cafile", str(files["root"]),
                     "--host", HOST, "--at", AT, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["valid"] is True and doc["reason"] is None
    assert all(c["ok"] for cert in doc["chain"] for c in cert["checks"])


def test_wrong_host_and_unknown_ca(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, str(files["bundle"]), "--cafile", str(files["root"]),
                     "--host", "other.example.org", "--at", AT)
    assert code == 1 and "hostname_mismatch" in out
    other = pki.root("CLI Other Root")
    other_file = files["root"].parent / "other.pem"
    other_file.write_bytes(other.pem)
    code, out = _run(capsys, str(files["bundle"]), "--cafile", str(other_file), "--at", AT,
                     "--json")
    assert code == 1 and json.loads(out)["reason"] == "unknown_issuer"


def test_unreadable_input_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad input is a usage error (exit 2); 1 is for a chain that does not verify."""
    bad = tmp_path / "garbage.pem"
    bad.write_bytes(b"not a certificate")
    assert cli_main.main(["verify", str(bad)]) == 2
    assert "tlskit verify: error" in capsys.readouterr().err


def test_subprocess_python_m_tlskit(files: dict[str, Path]) -> None:
    argv = ["verify", str(files["expired"]), "--cafile", str(files["root"]),
            "--host", HOST, "--at", AT, "--json"]
    if _stub_missing_commands():
        # Other commands are not in this tree yet: install stand-ins, then run the real
        # `python -m tlskit` entry point in the child.
        code = ("import sys, types, runpy\n"
                f"for n in {sorted(_stub_missing_commands())!r}:\n"
                "    m = types.ModuleType(n); m.add_arguments = lambda p: None\n"
                "    m.run = lambda a: 0; sys.modules[n] = m\n"
                "sys.argv = ['tlskit', *sys.argv[1:]]\n"
                "runpy.run_module('tlskit', run_name='__main__')\n")
        prefix = [sys.executable, "-c", code]
    else:
        prefix = [sys.executable, "-m", "tlskit"]
    done = subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["reason"] == "expired"
    ok = subprocess.run([*prefix, "verify", str(files["bundle"]), "--cafile",
                         str(files["root"]), "--host", HOST, "--at", AT],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def _crl(issuer: pki.Issued, revoked: list[int]) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer.subject)
               .last_update(pki.NOW - pki.DAY)
               .next_update(pki.NOW + 7 * pki.DAY)
               .add_extension(x509.CRLNumber(1), critical=False))
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial)
            .revocation_date(pki.NOW - pki.DAY).build())
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def test_crl_option_reports_revoked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import tlskit.x509.revocation  # noqa: F401
    c = pki.simple_chain("crl.example.org")
    (tmp_path / "bundle.pem").write_bytes(pki.pem(c.leaf.cert, c.inter.cert))
    (tmp_path / "root.pem").write_bytes(c.root.pem)
    (tmp_path / "revoked.pem").write_bytes(_crl(c.inter, [c.leaf.cert.serial_number]))
    (tmp_path / "clean.pem").write_bytes(_crl(c.inter, [12345]))
    base = [str(tmp_path / "bundle.pem"), "--cafile", str(tmp_path / "root.pem"),
            "--host", "crl.example.org", "--at", AT, "--json"]
    code, out = _run(capsys, *base, "--crl", str(tmp_path / "revoked.pem"))
    assert code == 1 and json.loads(out)["reason"] == "revoked"
    code, out = _run(capsys, *base, "--crl", str(tmp_path / "clean.pem"))
    assert code == 0, out
