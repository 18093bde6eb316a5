"""Go programs of the test suite (Go's crypto/tls peer, Go's x509 verifier as an oracle),
built from their source with the local toolchain (Debian's golang-go, installed by
.ci/install-test-deps.sh). Standard library only, so the build never needs the network."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .peers import require_binary


def build_go(source: Path, out_dir: Path) -> Path:
    """``source`` (one file, package main) compiled to ``out_dir/<stem>``; a missing
    toolchain or a compile error fails the test with Go's words."""
    out = out_dir / source.stem
    env = {**os.environ, "GOPROXY": "off", "GOTOOLCHAIN": "local", "GOFLAGS": "",
           "GOCACHE": str(out_dir / "cache")}
    built = subprocess.run([require_binary("go"), "build", "-o", str(out), str(source)],
                           capture_output=True, text=True, env=env, timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    return out
