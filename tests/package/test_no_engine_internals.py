"""Tests drive connections through the public API: protected records are forged, opened
and rewritten from key-log secrets (tests/support/records.py, tests/support/mitm.py),
never through a connection's record layer or handshake object. This keeps the tests
independent of the engine's private names, which change without notice.

A few unit tests exist to check an internal on purpose; they are listed here with why,
and with how many such lines they may have (lower the number when you remove one).
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# A connection's (or record layer's) private state: its record layer, handshake, key and
# protection state, event and output queues, fast-path flags. ``self._x`` (a class's own
# attribute) is not a reach into the engine.
PRIVATE = re.compile(r"(?<!self)\._(records|hs|protect\w*|keys|read|write|events|"
                     r"fast_send|fast_receive|error|sent_close|received_close)\b")

ALLOWED: dict[str, tuple[int, str]] = {
    "unit/test_handshake_states.py": (
        5, "the TLS 1.2 handshake hands over to successor objects, and the finished "
           "handshake objects must be freed without the cycle collector (weakrefs to the "
           "objects themselves)"),
    "unit/test_quic.py": (
        1, "a finished QUIC connection's handshake objects must be freed without the cycle "
           "collector, as a TLS connection's are (weakrefs to the objects themselves)"),
    "unit/test_tls12.py": (
        2, "the handshake objects keep their attributes in slots, so that each one's "
           "__dict__ stays in CPython's shared-key layout (building one costs four times "
           "as much past 30 keys): only the objects themselves can show it"),
    "unit/test_protectors.py": (
        6, "the record protectors drop the raw key once the AEAD object exists; only the "
           "protector objects can show it"),
    "unit/test_record.py": (
        2, "RFC 8448's records are opened and sealed by a bare RecordLayer (the unit under "
           "test) at the sequence numbers the vectors give"),
    "unit/test_record_fast_paths.py": (
        4, "the one-record methods must follow a rekey limit, a send limit and a receive "
           "limit changed while they are bound (no public call changes any of them "
           "mid-connection), and a valid record under an unusual header byte needs the "
           "peer's own sealer"),
    "hostile/test_bulk_paths.py": (
        2, "a record size limit that changes after bulk records flowed: no public call "
           "changes a limit mid-connection (only a handshake does), and the bulk path must "
           "re-read it"),
    "support/aead_count.py": (
        1, "how many times a received record is decrypted (once, whichever receive path "
           "meets it) is seen by no public call: the counter wraps the connection's read "
           "AEAD, which only its opener holds"),
}


def offending_lines() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("*.py")):
        if path == Path(__file__).resolve():
            continue
        rel = path.relative_to(TESTS).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if PRIVATE.search(line.split("#", 1)[0]):
                found.setdefault(rel, []).append(f"{rel}:{number}: {line.strip()}")
    return found


def test_tests_do_not_reach_into_the_engine() -> None:
    found = offending_lines()
    unexpected = [line for rel, lines in found.items() if rel not in ALLOWED for line in lines]
    assert not unexpected, (
        "tests must not use a connection's private state; forge or open records with the "
        "key-log MITM (tests/support/mitm.py) and check outcomes through the public API:\n"
        + "\n".join(unexpected))
    for rel, (limit, why) in ALLOWED.items():
        lines = found.get(rel, [])
        assert len(lines) <= limit, (
            f"{rel} may touch engine internals on {limit} lines ({why}); it has "
            f"{len(lines)}:\n" + "\n".join(lines))


def test_the_pattern_catches_what_it_is_for() -> None:
    for reach in ("conn._records._write", "c._hs.ems", "s._hs._psk", "x._protect",
                  "run.server._records.send_limit", "client._keys"):
        assert PRIVATE.search(reach), reach
    for fine in ("self._records", "split_records(data)", "flow.sealer", "records.seal"):
        assert not PRIVATE.search(fine), fine
