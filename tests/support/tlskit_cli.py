"""`tlskit serve` as a child process, for tests that talk to the command itself."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path


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
