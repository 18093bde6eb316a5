"""docs/server-choice.md's example runs verbatim and prints what the page says it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "server-choice.md"


def test_server_choice_doc_example_runs() -> None:
    [block] = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)
    expected = re.findall(r"# (b\.example \(.*\)|CN=b\.example)$", block, flags=re.M)
    proc = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == expected == ["b.example ('TLSv1.3', 'TLSv1.2')",
                                                    "CN=b.example"]
