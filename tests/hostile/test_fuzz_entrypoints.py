"""Each fuzz/ harness runs for a few hundred iterations (its seeds and mutations)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
# Every harness under fuzz/, except the two with their own tests of the same kind
# (tests/hostile/test_tls12.py, tests/x509/test_revocation_units.py).
TESTED_ELSEWHERE = {"fuzz_tls12", "fuzz_ocsp"}
HARNESSES = sorted(p.stem for p in FUZZ.glob("fuzz_*.py") if p.stem not in TESTED_ELSEWHERE)


def load(name: str):
    sys.path.insert(0, str(FUZZ))
    try:
        spec = importlib.util.spec_from_file_location(name, FUZZ / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(FUZZ))


@pytest.mark.parametrize("name", HARNESSES)
def test_harness_survives_its_seeds_and_mutations(name):
    module = load(name)
    for seed in module.seeds():
        module.TestOneInput(seed)
    load("_harness").run(module.TestOneInput, module.random_input, 400, seed=1)
    for edge in (b"", b"\x00", b"\x00\x00", bytes(range(256))):
        module.TestOneInput(edge)


def test_every_harness_is_picked_up():
    """A new harness is run here (or named as tested elsewhere) without being listed."""
    assert {"fuzz_record", "fuzz_messages", "fuzz_session", "fuzz_ca_index"} <= set(HARNESSES)
    assert all((FUZZ / f"{name}.py").exists() for name in TESTED_ELSEWHERE)


def test_harness_runs_standalone():
    out = subprocess.run([sys.executable, str(FUZZ / "fuzz_record.py"), "200", "3"],
                         capture_output=True, text=True, timeout=120, check=True)
    assert "200 inputs, no failures" in out.stdout
