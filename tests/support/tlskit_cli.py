"""`tlskit serve` as a child process, and `tlskit connect --starttls` run to its JSON
summary, for tests that talk to the commands themselves."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any


def connect_starttls_json(port: int, protocol: str, cafile: Path) -> dict[str, Any]:
    """`tlskit connect 127.0.0.1:PORT --starttls PROTOCOL --json` (as localhost, trusting
    ``cafile``), which must succeed; its summary. No SSLKEYLOGFILE from the caller's
    environment: the command would write to it."""
    env = {k: v for k, v in os.environ.items() if k != "SSLKEYLOGFILE"}
    proc = subprocess.run(
        [sys.executable, "-m", "tlskit", "connect", f"127.0.0.1:{port}", "--starttls",
         protocol, "--cafile", str(cafile), "--servername", "localhost", "--json"],
        capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    summary: dict[str, Any] = json.loads(proc.stdout)
    return summary


class ServeProcess:
    """`tlskit serve --port 0 ARGS` (the OS picks the port, read from its first line),
    with its own state directory; stopped by close()."""

    def __init__(self, *args: str, state: Path) -> None:
        env = {**os.environ, "TLSKIT_STATE_DIR": str(state)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tlskit", "serve", "--port", "0", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=env)
        lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        out = self.proc.stdout
        threading.Thread(target=lambda: [lines.put(line) for line in out], daemon=True).start()
        first = lines.get(timeout=30)
        match = re.search(r":(\d+)/$", first.strip())
        assert match, first
        self.port = int(match.group(1))

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)
