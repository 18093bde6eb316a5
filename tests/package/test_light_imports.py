"""The library stays light: only the CLI pulls in `rich` (a terminal renderer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def modules_after(statement: str) -> list[str]:
    """The module names loaded by a fresh interpreter after running `statement`."""
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    return list(json.loads(proc.stdout))


@pytest.mark.parametrize("statement", [
    "import tlskit",
    "import tlskit.x509",
    "import tlskit.io",
    "import tlskit.aio",
    "import tlskit; tlskit.connect; tlskit.aio.open_connection",
])
def test_library_does_not_import_rich(statement: str) -> None:
    loaded = modules_after(statement)
    assert "tlskit" in loaded
    assert [m for m in loaded if m == "rich" or m.startswith("rich.")] == []
    assert not [m for m in loaded if m.startswith("tlskit.cli")]


def test_the_cli_does_use_rich() -> None:
    # The check above means something only if rich is what the CLI renders with.
    assert "rich" in modules_after("import tlskit.cli.render")


def test_import_tlskit_leaves_the_io_layers_and_validator_for_later() -> None:
    loaded = modules_after("import tlskit")
    assert [m for m in ("tlskit.io", "tlskit.aio", "tlskit.x509", "asyncio", "ssl")
            if m in loaded] == []
