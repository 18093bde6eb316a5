"""The handshake talks to the world only through its `Output`; the connection talks to
the handshake only through public names (review 2026-12, 2(a): the handshake wrote
record-layer fields 16 times and the connection's event list 6 times; the connection
read the handshake's reassembly buffer and compared version strings)."""

from __future__ import annotations

import ast
from pathlib import Path

import tlskit
from tlskit.connection import HandshakeOutput
from tlskit.handshake.common import Output

ROOT = Path(tlskit.__file__).parent
HANDSHAKE = sorted((ROOT / "handshake").glob("*.py"))


def _attributes(path: Path) -> list[tuple[str, str, int]]:
    """(owner expression, attribute, line) for every attribute access in a module."""
    tree = ast.parse(path.read_text())
    return [(ast.unparse(node.value), node.attr, node.lineno)
            for node in ast.walk(tree) if isinstance(node, ast.Attribute)]


def test_the_handshake_never_touches_the_record_layer_or_the_event_list() -> None:
    for path in HANDSHAKE:
        source = path.read_text()
        assert "RecordLayer" not in source and "..record" not in source, path.name
        for owner, attr, line in _attributes(path):
            assert attr not in ("records", "_records", "events", "_events"), (
                path.name, line, owner, attr)


def test_the_connection_reads_no_private_handshake_attribute() -> None:
    for owner, attr, line in _attributes(ROOT / "connection.py"):
        if owner in ("self._hs", "hs") and attr.startswith("_"):
            raise AssertionError(f"connection.py:{line}: {owner}.{attr}")


def test_the_connection_compares_no_version_strings() -> None:
    tree = ast.parse((ROOT / "connection.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            consts = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant)]
            assert not any(isinstance(c, str) and c.startswith("TLSv") for c in consts), (
                node.lineno, ast.unparse(node))


def test_handshake_output_implements_every_output_method() -> None:
    wanted = {name for name, value in vars(Output).items()
              if callable(value) and not name.startswith("_")}
    assert wanted  # the protocol's actions
    assert wanted <= {name for name in dir(HandshakeOutput) if not name.startswith("_")}
