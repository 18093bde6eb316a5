"""`tlskit demo` in a subprocess with an empty HOME and state dir: two real sessions on
loopback, five explained steps each, and the checks the demo claims to have made."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .helpers import assert_full_handshake_drawn, demo, demo_env, demo_json_and_diagram


@pytest.fixture(scope="module")
def demo_json(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    return demo_json_and_diagram(tmp_path_factory.mktemp("demo"))


def test_json_has_two_sessions_with_five_steps(demo_json: tuple[dict[str, Any], Path]) -> None:
    result, _ = demo_json
    assert len(result["sessions"]) == 2
    for session in result["sessions"]:
        assert [s["number"] for s in session["steps"]] == [1, 2, 3, 4, 5]
        for key in ("cipher_suite", "group", "signature_scheme", "version"):
            assert session[key], key
        assert session["version"] == "TLSv1.3"
        for key in ("shared_secret", "client_application_traffic_secret",
                    "server_application_traffic_secret"):
            assert len(bytes.fromhex(session[key])) >= 32
        times = [s["t_ms"] for s in session["steps"]]
        assert all(isinstance(t, float | int) and t >= 0 for t in times)
        assert session["all_checks_ok"] is True


def test_sessions_have_different_keys(demo_json: tuple[dict[str, Any], Path]) -> None:
    result, _ = demo_json
    first, second = result["sessions"]
    assert result["different_keys"] is True
    for key in ("shared_secret", "client_application_traffic_secret",
                "server_application_traffic_secret", "client_handshake_traffic_secret"):
        assert first[key] != second[key], key


def test_both_sides_computed_the_same_secrets(demo_json: tuple[dict[str, Any], Path]) -> None:
    result, _ = demo_json
    for session in result["sessions"]:
        step4 = session["steps"][3]
        secrets = step4["data"]["secrets"]
        assert secrets["shared_secret"]["client"] == secrets["shared_secret"]["server"]
        assert secrets["shared_secret"]["client"] == session["shared_secret"]
        for name, pair in secrets.items():
            assert pair["client"] == pair["server"], name
        # the tracer values are the ones reported, on both sides
        server_hello = [s for s in session["trace"]["server"] if s["step"] == "server_hello"]
        assert server_hello[0]["secrets"]["shared_secret"] == session["shared_secret"]


def test_secret_not_on_the_wire_check(demo_json: tuple[dict[str, Any], Path]) -> None:
    result, _ = demo_json
    for session in result["sessions"]:
        assert session["secret_not_on_wire"] is True
        step4 = session["steps"][3]
        check = next(c for c in step4["checks"] if c["name"] == "secret not on the wire")
        assert check["ok"] is True
        searched = step4["data"]["searched"]
        assert {"shared_secret", "client_application_traffic_secret",
                "server_application_traffic_secret"} <= set(searched)
        assert all(searched.values())
        wire = session["wire"]
        assert wire["client_to_server_bytes"] > 0 and wire["server_to_client_bytes"] > 0


def test_steps_carry_this_runs_values(demo_json: tuple[dict[str, Any], Path]) -> None:
    result, _ = demo_json
    session = result["sessions"][0]
    step1, step2, step3, _, step5 = session["steps"]
    hello = step1["data"]["client_hello"]
    assert session["cipher_suite"] in hello["cipher_suites"]
    assert session["group"] in hello["groups"]
    assert hello["server_name"] == "localhost"
    assert hello["alpn"] == ["http/1.1"]
    assert step2["chain"][0]["common_name"] == "localhost"
    assert step2["data"]["certificate_verify"]["scheme"] == session["signature_scheme"]
    names = {c["name"] for c in step3["checks"]}
    assert {"signatures", "expiry", "revocation", "name", "verdict"} <= names
    assert next(c for c in step3["checks"] if c["name"] == "name")["ok"] is True
    data = step5["data"]
    record = bytes.fromhex(data["ciphertext_record_hex"])
    assert record[0] == 23  # application_data
    assert bytes.fromhex(data["plaintext_hex"]) not in record
    assert all(c["ok"] for c in step5["checks"])


def test_demo_diagram_is_well_formed(demo_json: tuple[dict[str, Any], Path]) -> None:
    _, svg = demo_json
    text = assert_full_handshake_drawn(svg)
    assert "ApplicationData" in text


def test_text_output_and_unwritable_home(tmp_path: Path) -> None:
    proc = demo(tmp_path, home="/nonexistent/home")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for n in range(1, 6):
        assert f"Step {n}" in out
    assert "Session 2" in out
    assert "secret not on the wire" in out
    assert "\x1b[" not in out  # no colour when stdout is not a terminal
    assert "Traceback" not in proc.stderr


def test_the_tlskit_console_script_runs_the_demo(tmp_path: Path) -> None:
    """The README's command is `tlskit demo`: the installed entry point, not `python -m`."""
    import shutil
    script = shutil.which("tlskit", path=os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    assert script, "the tlskit console script is not installed (pip install -e '.[test]')"
    proc = subprocess.run([script, "demo", "--json"], cwd=tmp_path, env=demo_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["different_keys"] is True


def test_80_columns_with_long_values_shortened(tmp_path: Path) -> None:
    """On an 80-column terminal no line is wider than 80 cells, and the 1,216-byte ML-KEM
    share (like every long value) is shown by its first and last bytes and its length."""
    from rich.cells import cell_len

    proc = demo(tmp_path, columns=80)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    share = re.search(r"key share \(X25519MLKEM768\), public\s+([0-9a-f]{12})\u2026"
                      r"([0-9a-f]{6}) \(1,216 bytes\)", proc.stdout)
    assert share, proc.stdout
    assert not re.search(r"[0-9a-f]{49}", proc.stdout), "a long value was not shortened"
    assert len(lines) < 300  # the full values alone would take ~250 more lines


@pytest.mark.parametrize("columns", [80, 200])
def test_session_comparison_shows_each_value_shortened_once(tmp_path: Path,
                                                             columns: int) -> None:
    """The table comparing the two sessions shows the 1,216-byte client shares by their
    ends and true length, with and without --full. It used to shorten the already
    shortened text again, into "5d1b01b84708…d0ed1a (1,216 bytes… (16 bytes)"."""
    for args in ((), ("--full",)):
        proc = demo(tmp_path, *args, columns=columns)
        assert proc.returncode == 0, proc.stderr
        table = proc.stdout.split("Session 2")[1]
        assert "bytes\u2026" not in table and not re.search(r"\(\d+ bytes\u2026", table)
        assert table.count("(1,216 bytes)") == 2, table
        assert table.count("(32 bytes)") == 8, table
        if columns >= 200:  # one line per row: the ends can be read off
            row = re.search(r"client public share\s+│ ([0-9a-f]{12})\u2026([0-9a-f]{6}) "
                            r"\(1,216 bytes\)\s+│ ([0-9a-f]{12})\u2026([0-9a-f]{6}) "
                            r"\(1,216 bytes\)", table)
            assert row and row.group(1, 2) != row.group(3, 4), table


def test_full_and_json_keep_whole_values(tmp_path: Path) -> None:
    full = demo(tmp_path, "--full", columns=5000)
    assert full.returncode == 0, full.stderr
    assert re.search(r"key share \(X25519MLKEM768\), public\s+[0-9a-f]{2432}\s", full.stdout)
    assert "\u2026" not in full.stdout.split("Session 2")[0]


def test_json_values_are_whole(demo_json: tuple[dict[str, Any], Path]) -> None:
    data, _ = demo_json
    step4 = data["sessions"][0]["steps"][3]
    assert step4["data"]["group"] == "X25519MLKEM768"
    assert len(step4["data"]["client_share"]) == 2 * 1216
    assert len(step4["data"]["server_share"]) == 2 * 1120


def test_short_value() -> None:
    from tlskit.cli.render import short_value

    value = bytes(range(40)).hex()
    assert short_value(value) == "000102030405\u2026252627 (40 bytes)"
    assert short_value("00" * 24) == "00" * 24  # short enough already
    assert short_value("not hex at all, and quite a long sentence too") == (
        "not hex at all, and quite a long sentence too")
