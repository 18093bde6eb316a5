"""docs/quic.md's example, run verbatim in a fresh interpreter: its output must be the
page's "It prints" block, line for line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "quic.md").read_text()
PYTHON_BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC, flags=re.S | re.M)
TEXT_BLOCKS = re.findall(r"^```text\n(.*?)^```", DOC, flags=re.S | re.M)


def test_the_page_has_one_example_and_its_output() -> None:
    assert len(PYTHON_BLOCKS) == 1
    assert "QuicClientConnection(" in PYTHON_BLOCKS[0]
    assert TEXT_BLOCKS[-1].startswith("initial client key ")


def test_the_example_prints_what_the_page_says() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    run = subprocess.run([sys.executable, "-c", PYTHON_BLOCKS[0]], capture_output=True,
                         text=True, env=env, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout == TEXT_BLOCKS[-1]
