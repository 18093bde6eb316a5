"""What every fuzz/ harness shares: a byte-level mutator for seed inputs and a driver
that runs a harness under atheris (``-atheris_*`` flags) or standalone for N iterations.

A harness defines ``TestOneInput(data)`` and ``random_input(rng)`` and ends with
``sys.exit(main(sys.argv, TestOneInput, random_input))``.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

# The harnesses share record building and the robustness contract with the tests
# (tests/support/records.py, tests/support/contract.py): the repository root goes on
# the path so ``tests.support`` imports however a harness is started.
REPO = str(Path(__file__).resolve().parents[1])
if REPO not in sys.path:
    sys.path.append(REPO)

T = TypeVar("T")
Target = Callable[[bytes], None]
Generator = Callable[[random.Random], bytes]


def mutate(rng: random.Random, data: bytes, *, keep: int = 0, rounds: int = 4,
           interesting: Sequence[int] = (0, 1, 0x16, 0x17, 0xFF), marker: bytes = b"",
           max_insert: int = 8, max_copy: int = 24) -> bytes:
    """Flip bits, truncate, insert random or copied bytes, set interesting values.

    The first `keep` bytes (a harness's own selector bytes) are left alone; `marker`, if
    given, is sometimes inserted (harnesses use one to split their input)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, rounds)):
        op = rng.randrange(6 if marker else 5)
        body = len(buf) - keep
        pos = rng.randrange(keep, len(buf) + 1) if body > 0 else len(buf)
        if op == 0 and body > 0:
            buf[pos % body + keep] ^= 1 << rng.randrange(8)
        elif op == 1:
            del buf[max(pos, keep):]
        elif op == 2:
            buf[pos:pos] = rng.randbytes(rng.randint(1, max_insert))
        elif op == 3 and body > 0:
            buf[pos % body + keep] = rng.choice(interesting)
        elif op == 4:
            src = rng.randrange(keep, len(buf) + 1) if body > 0 else 0
            buf[pos:pos] = buf[src:src + rng.randint(1, max_copy)]
        else:
            buf[pos:pos] = marker
    return bytes(buf)


Extension = tuple[str, Callable[[bytes], object], Callable[[object], bytes] | None]


def extension_roundtrip(entry: Extension, body: bytes) -> None:
    """Decode ``body`` with an (name, decoder, encoder) entry; where an encoder is given,
    what it encodes must decode to the same value."""
    _name, decode, encode = entry
    value = decode(body)
    if encode is not None:
        assert decode(encode(value)) == value


def hello_sent(conn: T) -> T:
    """``conn`` (a client) once its ClientHello is written (and dropped)."""
    conn.data_to_send()  # type: ignore[attr-defined]
    return conn


def overwrite(base: bytes, where: int, patch: bytes) -> bytes:
    """`patch` laid over `base` at a position chosen by one input byte (0-255)."""
    at = where * len(base) // 256
    return base[:at] + patch + base[at + len(patch):]


def seeded(seeds: Callable[[], list[bytes]], *, raw: float = 0.1, raw_max: int = 120,
           **mutate_args: object) -> Generator:
    """An input generator: mostly mutated seeds, sometimes plain random bytes."""
    def generate(rng: random.Random) -> bytes:
        if rng.random() < raw:
            return rng.randbytes(rng.randint(0, raw_max))
        return mutate(rng, rng.choice(seeds()), **mutate_args)  # type: ignore[arg-type]
    return generate


def with_selector(seeds: Callable[[], list[bytes]]) -> Generator:
    """For harnesses whose first two bytes choose what the rest is for (a record key, a
    split point): mutate the body, and sometimes the selector byte itself."""
    def generate(rng: random.Random) -> bytes:
        if rng.random() < 0.1:
            data = bytearray(rng.randbytes(rng.randint(0, 120)))
        else:
            data = bytearray(mutate(rng, rng.choice(seeds()), keep=2,
                                    interesting=(0, 1, 2, 0x16, 0x17, 0x20, 0xFF)))
        if len(data) > 1 and rng.random() < 0.2:
            data[1] = rng.randrange(256)
        return bytes(data)
    return generate


def der_with_selector(seeds: Callable[[], list[bytes]]) -> Generator:
    """For harnesses whose input is one selector byte and DER (fuzz_x509, fuzz_crl): the
    DER mutated with ASN.1's telling bytes (SEQUENCE, long-form lengths), the selector
    kept; now and then plain random bytes."""
    def generate(rng: random.Random) -> bytes:
        if rng.random() < 0.05:
            return rng.randbytes(rng.randint(0, 120))
        return mutate(rng, rng.choice(seeds()), keep=1, interesting=(0, 1, 0x30, 0x80, 0xFF))
    return generate


def run(target: Target, generate: Generator, iterations: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    for _ in range(iterations):
        data = generate(rng)
        try:
            target(data)
        except Exception:
            print(f"failing input: {data!r}", file=sys.stderr)
            raise


def _instrument_tlskit(atheris: object) -> None:
    """Coverage instrumentation for tlskit's own functions only: instrumenting every
    loaded function (atheris.instrument_all) takes half a minute for code whose coverage
    says nothing about tlskit."""
    import gc
    import types
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and (obj.__module__ or "").startswith("tlskit"):
            atheris.instrument_func(obj)  # type: ignore[attr-defined]


def _wants_atheris(argv: list[str]) -> bool:
    """libFuzzer-style arguments (``-flag=value`` or a corpus directory) mean atheris."""
    return any(a.startswith("-") or Path(a).is_dir() for a in argv[1:])


def main(argv: list[str], target: Target, generate: Generator,
         default_iterations: int = 10_000) -> int:
    """``harness.py [N [SEED]]`` standalone, or under atheris with libFuzzer arguments:
    ``harness.py -max_total_time=60 CORPUS_DIR``. Under atheris every loaded tlskit
    function is instrumented, so libFuzzer is guided by coverage of tlskit's code."""
    if _wants_atheris(argv):
        import atheris  # type: ignore[import-not-found]
        _instrument_tlskit(atheris)
        atheris.Setup(argv, target)
        atheris.Fuzz()
        return 0
    iterations = int(argv[1]) if len(argv) > 1 else default_iterations
    run(target, generate, iterations, int(argv[2]) if len(argv) > 2 else 0)
    print(f"{iterations} inputs, no failures")
    return 0
