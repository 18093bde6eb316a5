"""bench/bench_tls.py must keep running: a --quick smoke run, no timing asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_tls.py"

RATIO_LINES = [
    "ratio handshake tlskit/ssl (time):",
    "ratio handshake (no tickets) tlskit/ssl (time):",
    "ratio bulk AES-128-GCM tlskit/ssl (throughput):",
    "ratio bulk ChaCha20-Poly1305 tlskit/ssl (throughput):",
]


def test_bench_quick_runs_and_prints_ratios() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True,
                          text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    out = proc.stdout
    for prefix in RATIO_LINES:
        line = next((ln for ln in out.splitlines() if ln.startswith(prefix)), None)
        assert line is not None, f"missing {prefix!r} in:\n{out}"
        assert re.search(r": \d+\.\d\dx ", line), line  # a number, whatever its value
    # The stdlib's bulk side really ran with the suite OPENSSL_CONF asked for.
    assert "Ciphersuites=TLS_AES_128_GCM_SHA256" in out
    assert "Ciphersuites=TLS_CHACHA20_POLY1305_SHA256" in out


def test_bench_resumption_quick_runs_and_prints_ratios() -> None:
    """bench/bench_resumption.py checks every pair really resumed, then prints ratios."""
    script = BENCH.parent / "bench_resumption.py"
    proc = subprocess.run([sys.executable, str(script), "--quick", "--handshakes", "5",
                           "--batches", "1"], capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    for label in ("TLS 1.2 session ID", "TLS 1.2 ticket", "TLS 1.3 ticket"):
        line = next((ln for ln in proc.stdout.splitlines()
                     if ln.startswith(f"ratio resumed {label} tlskit/ssl (time):")), None)
        assert line is not None, proc.stdout
        assert re.search(r": \d+\.\d\dx$", line), line
