"""The bench scripts must keep running: --quick smoke runs, no timing asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

RATIO_LINES = [
    "ratio handshake tlskit/ssl (time):",
    "ratio handshake (no tickets) tlskit/ssl (time):",
] + [f"ratio bulk {suite} {api} tlskit/ssl (throughput):"
      for suite in ("AES-128-GCM", "ChaCha20-Poly1305") for api in ("bytes API", "zero-copy")]
PEER_LINES = [
    f"ratio {what}, {mode} tlskit/ssl (time):"
    for what in ("TLS 1.3 handshake, ECDSA P-256", "TLS 1.3 handshake, RSA-2048",
                 "TLS 1.2 ECDHE handshake (ECDSA P-256)",
                 "TLS 1.2 RSA key transport handshake (RSA-2048)")
    for mode in ("warm", "new leaf")
] + ["ratio memory per pair tlskit/ssl (RSS):"]
SOCKET_LINES = [
    f"ratio socket {what} tlskit/ssl ({unit}):"
    for what, unit in (("blocking handshakes", "hs/s"), ("blocking throughput", "MB/s"),
                       ("asyncio handshakes", "hs/s"), ("asyncio throughput", "MB/s"))
]
SERVER_LINES = [
    f"ratio {kind}{load} server {what} tlskit/ssl ({unit}):"
    for kind in ("blocking", "asyncio")
    for load in ("", " (Go clients)")  # `go` is installed by .ci/install-test-deps.sh
    for what, unit in (("handshakes", "hs/s"), ("CPU per handshake", "time"))
] + ["ratio asyncio server memory per held connection tlskit/ssl (RSS):"]
ENGINE_LINES = [f"ratio server engine, {client} tlskit/ssl (time):"
                for client in ("stdlib ssl client", "tlskit client")]


def run_quick(script: str) -> str:
    proc = subprocess.run([sys.executable, str(BENCH / script), "--quick"],
                          capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


def assert_ratio_lines(out: str, prefixes: list[str]) -> None:
    for prefix in prefixes:
        line = next((ln for ln in out.splitlines() if ln.startswith(prefix)), None)
        assert line is not None, f"missing {prefix!r} in:\n{out}"
        assert re.search(r": \d+\.\d\dx ", line + " "), line  # a number, whatever its value


def test_bench_quick_runs_and_prints_ratios() -> None:
    out = run_quick("bench_tls.py")
    assert_ratio_lines(out, RATIO_LINES)
    # The stdlib's bulk side really ran with the suite OPENSSL_CONF asked for.
    assert "Ciphersuites=TLS_AES_128_GCM_SHA256" in out
    assert "Ciphersuites=TLS_CHACHA20_POLY1305_SHA256" in out


@pytest.mark.parametrize("script,lines", [("bench_peers.py", PEER_LINES),
                                          ("bench_socket.py", SOCKET_LINES),
                                          ("bench_servers.py", SERVER_LINES),
                                          ("bench_server_engine.py", ENGINE_LINES)])
def test_other_bench_scripts_run_and_print_ratios(script: str, lines: list[str]) -> None:
    assert_ratio_lines(run_quick(script), lines)


def test_bench_resumption_quick_runs_and_prints_ratios() -> None:
    """bench/bench_resumption.py checks every pair really resumed, then prints ratios."""
    script = BENCH / "bench_resumption.py"
    proc = subprocess.run([sys.executable, str(script), "--quick", "--handshakes", "5",
                           "--batches", "1"], capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    for label in ("TLS 1.2 session ID", "TLS 1.2 ticket", "TLS 1.3 ticket"):
        line = next((ln for ln in proc.stdout.splitlines()
                     if ln.startswith(f"ratio resumed {label} tlskit/ssl (time):")), None)
        assert line is not None, proc.stdout
        assert re.search(r": \d+\.\d\dx$", line), line
