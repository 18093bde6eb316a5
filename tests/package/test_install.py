"""The README's install command, verbatim, in a fresh copy of the repository.

It runs with the interpreter running the tests and, where the machine has one, with
Debian's own /usr/bin/python3, which is "externally managed" (PEP 668): there a plain
`pip install .` is refused, and the README's venv-based command must still work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .readme import ROOT, blocks

[INSTALL] = [b for b in blocks("sh") if "pip install" in b.code]
COMMAND = INSTALL.code.strip()
SYSTEM_PYTHON = Path("/usr/bin/python3")
_COPY_IGNORE = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "*.egg-info", "build",
                                      "dist", ".*_cache", ".hypothesis", "site")


def _externally_managed(python: Path) -> bool:
    stdlib = subprocess.run([str(python), "-c", "import sysconfig; "
                             "print(sysconfig.get_path('stdlib'))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    return (Path(stdlib) / "EXTERNALLY-MANAGED").is_file()


def _interpreters() -> list[pytest.param]:
    base = Path(getattr(sys, "_base_executable", sys.executable))
    found = [pytest.param(base, id="the-tests-python")]
    if SYSTEM_PYTHON.exists() and _externally_managed(SYSTEM_PYTHON) \
            and SYSTEM_PYTHON.resolve() != base.resolve():
        found.append(pytest.param(SYSTEM_PYTHON, id="pep668-system-python"))
    return found


def test_the_install_command_is_a_venv_one() -> None:
    assert COMMAND.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    assert COMMAND.endswith("pip install . && tlskit demo")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("python", _interpreters())
def test_readme_install_command_in_a_fresh_venv(python: Path, tmp_path: Path) -> None:
    repo = tmp_path / "tlskit"
    shutil.copytree(ROOT, repo, ignore=_COPY_IGNORE)
    bin_dir = tmp_path / "bin"  # `python3` in the command is this interpreter
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(python)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "SSLKEYLOGFILE")}
    env["PATH"] = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    env["HOME"] = str(tmp_path / "home")  # the demo must not need (or write) any state
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    for key in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "TLSKIT_STATE_DIR"):
        env.pop(key, None)
    # The machine's own pip settings (index mirrors) live under the real HOME.
    real_config = Path(os.environ.get("HOME", "/root")) / ".config" / "pip"
    if real_config.is_dir():
        shutil.copytree(real_config, tmp_path / "home" / ".config" / "pip")
    if _externally_managed(python):
        # Why the README uses a venv: here the plain command is refused (PEP 668).
        plain = subprocess.run(["bash", "-c", "python3 -m pip install --dry-run ."], cwd=repo,
                               env=env, capture_output=True, text=True, timeout=300)
        assert plain.returncode != 0
        assert ("externally-managed-environment" in plain.stderr
                or "No module named pip" in plain.stderr), plain.stderr
    proc = subprocess.run(["bash", "-c", COMMAND], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=840)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "checks passed" in proc.stdout and "forward secrecy" in proc.stdout, proc.stdout
    venv_python = repo / ".venv" / "bin" / "python"
    where = subprocess.run([str(venv_python), "-c", "import tlskit, sys; "
                            "print(tlskit.__file__); print(sys.base_prefix)"],
                           env=env, capture_output=True, text=True, check=True).stdout.split()
    assert Path(where[0]).is_relative_to(repo / ".venv")  # installed, not read from src/
    assert Path(where[1]).resolve() == Path(
        subprocess.run([str(python), "-c", "import sys; print(sys.base_prefix)"],
                       capture_output=True, text=True, check=True).stdout.strip()).resolve()
    assert (repo / ".venv" / "bin" / "tlskit").is_file()
    assert (Path(where[0]).parent / "py.typed").is_file()  # PEP 561: typed for mypy
