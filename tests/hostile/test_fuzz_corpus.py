"""Fuzzing in CI (issue 12): every harness under atheris with coverage instrumentation
for a bounded time, starting from its committed corpus; and the corpus replayed as
plain tests, so an input that once found new code keeps being checked.

The corpus under fuzz/corpus/<harness>/ was grown with atheris and minimized with
libFuzzer's -merge=1 (see fuzz/README.md).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_fuzz_entrypoints import FUZZ, load

ALL_HARNESSES = sorted(p.stem for p in FUZZ.glob("fuzz_*.py"))
CORPUS = FUZZ / "corpus"
SECONDS_PER_HARNESS = 6


def test_every_harness_has_a_corpus() -> None:
    assert len(ALL_HARNESSES) >= 7
    for name in ALL_HARNESSES:
        files = list((CORPUS / name).glob("*"))
        assert len(files) >= 5, f"fuzz/corpus/{name} holds {len(files)} inputs"


@pytest.mark.filterwarnings("ignore:Parsed a serial number")  # hostile inputs, on purpose
@pytest.mark.parametrize("name", ALL_HARNESSES)
def test_corpus_replays_clean(name: str) -> None:
    module = load(name)
    for path in sorted((CORPUS / name).glob("*")):
        try:
            module.TestOneInput(path.read_bytes())
        except Exception as exc:
            raise AssertionError(f"fuzz/corpus/{name}/{path.name}: {exc!r}") from exc


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ALL_HARNESSES)
def test_atheris_with_coverage_finds_nothing(name: str, tmp_path: Path) -> None:
    """libFuzzer's coverage counter must move past zero (the instrumentation is on) and
    the run must end without a crash in the time allowed."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS / name, corpus)
    proc = subprocess.run(
        [sys.executable, str(FUZZ / f"{name}.py"), f"-max_total_time={SECONDS_PER_HARNESS}",
         "-max_len=4096", f"-artifact_prefix={tmp_path}/", "-print_final_stats=1",
         str(corpus)],
        capture_output=True, text=True, timeout=100, cwd=tmp_path)
    log = proc.stdout + proc.stderr
    crashes = list(tmp_path.glob("crash-*")) + list(tmp_path.glob("timeout-*"))
    assert proc.returncode == 0 and not crashes, log[-3000:]
    coverage = [int(n) for n in re.findall(r"\bcov: (\d+)", log)]
    assert coverage and max(coverage) > 50, f"no coverage feedback:\n{log[-2000:]}"
