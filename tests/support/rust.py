"""Rust programs of the test suite (rustls as a peer), built from their Cargo project
with the local toolchain, offline, against the crate sources Debian installs under
/usr/share/cargo/registry (librust-rustls-dev and friends, installed with cargo by
.ci/install-test-deps.sh): crates.io is never reached."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from .peers import require_binary

DEBIAN_REGISTRY = Path("/usr/share/cargo/registry")
# Cargo's source replacement: every crates.io dependency comes from Debian's directory.
CARGO_CONFIG = f"""\
[source.crates-io]
replace-with = "debian"

[source.debian]
directory = "{DEBIAN_REGISTRY}"
"""


def build_rust(project: Path, out_dir: Path) -> Path:
    """``project`` (a Cargo package with one binary, named after the package) built in
    ``out_dir``; the binary's path. The sources are copied first, so the Cargo.lock and
    target/ that cargo writes stay out of the repository. A missing toolchain, a missing
    Debian crate or a compile error fails the test with cargo's words."""
    if not DEBIAN_REGISTRY.is_dir():
        pytest.fail(f"{DEBIAN_REGISTRY} is missing (run .ci/install-test-deps.sh)",
                    pytrace=False)
    work = out_dir / project.name
    shutil.copytree(project, work, ignore=shutil.ignore_patterns("target", "Cargo.lock"))
    (work / ".cargo").mkdir()
    (work / ".cargo" / "config.toml").write_text(CARGO_CONFIG)
    env = {**os.environ, "CARGO_NET_OFFLINE": "true", "CARGO_TERM_COLOR": "never",
           "CARGO_TARGET_DIR": str(work / "target")}
    built = subprocess.run([require_binary("cargo"), "build", "--offline", "--quiet"],
                           cwd=work, capture_output=True, text=True, env=env, timeout=900,
                           check=False)
    assert built.returncode == 0, (
        f"{built.stderr}\n(a crate missing from {DEBIAN_REGISTRY}? run .ci/install-test-deps.sh)")
    binary = work / "target" / "debug" / _package_name(work / "Cargo.toml")
    assert binary.is_file(), f"cargo built no {binary}"
    return binary


def _package_name(manifest: Path) -> str:
    """The [package] name of a Cargo.toml (which is its binary's name)."""
    data = tomllib.loads(manifest.read_text())
    return str(data["package"]["name"])
