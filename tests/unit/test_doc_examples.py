"""Pages under docs/ whose one Python example runs verbatim and prints what the page's
comments say it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"

# page: (the comments that give printed lines, the lines the example must print)
PAGES = {
    "psk.md": (r"# (b'sensor-17'|\[\])$", ["b'sensor-17'", "[]"]),
    "raw-public-keys.md": (r"# (True|\[\])$", ["True", "True", "[]"]),
    "server-choice.md": (r"# (b\.example \(.*\)|CN=b\.example)$",
                         ["b.example ('TLSv1.3', 'TLSv1.2')", "CN=b.example"]),
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_example_runs_and_prints_what_the_page_says(page: str) -> None:
    pattern, lines = PAGES[page]
    [block] = re.findall(r"^```python\n(.*?)^```", (DOCS / page).read_text(),
                         flags=re.S | re.M)
    expected = re.findall(pattern, block, flags=re.M)
    proc = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == expected == lines
