"""docs/ech.md's ```python blocks, run verbatim (in a fresh interpreter) against `tlskit
serve --ech public.example` in a subprocess, with a certificate for secret.example and
public.example. The names the page leaves to the reader are supplied before each block:
``host``, ``name`` and a ``config`` whose ECH list is stale for the retry block (so it
can only print True by going through EchRejected and ``exc.retry_configs``), ``chain``
and ``key`` for the server block. The client block's 127.0.0.1:443 is routed to serve's
port (tests/package/readme.py's sitecustomize). The serve-then-connect sh block runs
line by line too (serve on a free port, the connect line's localhost:8443 routed to
it), then the restart block (serve again, the same key, the same ech.bin); the first sh
block needs a CDN's host: test_connect_ech.py runs its options
against BoringSSL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tlskit import generate_ech_key
from tlskit.ca import LocalCA

from ..package.readme import SITECUSTOMIZE
from .test_serve import Serve
from .test_serve import serve as serve  # (the fixture, shared)
from .test_serve_ech import announcement, printed_config_list

DOC = Path(__file__).resolve().parents[2] / "docs" / "ech.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)
SH_BLOCKS = re.findall(r"^```sh\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)

CHECKS = [
    # the client block: ECH accepted with the list serve wrote
    "print(sock.handshake_info.ech_accepted, sock.handshake_info.server_name)\n",
    # the retry block: a stale list first, so True means the retry went through
    "print(sock.handshake_info.ech_accepted, sock.handshake_info.server_name)\n",
    # the server block: what it publishes is a list a client takes
    "print(tlskit.ClientConfig(ech_config_list=publish).ech_config_list == publish)\n",
]
EXPECTED = ["True secret.example", "True secret.example", "True"]


def test_the_page_has_the_blocks_this_test_expects() -> None:
    assert len(BLOCKS) == len(CHECKS)
    assert "ech_config_list=ech" in BLOCKS[0]
    assert "except tlskit.EchRejected as exc:" in BLOCKS[1]
    assert "tlskit.generate_ech_key(" in BLOCKS[2]


@pytest.fixture
def lab(serve: Callable[..., Serve], tmp_path: Path) -> tuple[Serve, Path]:
    ca = LocalCA.create(None)
    issued = ca.issue_server(["secret.example", "public.example"])
    cert, key = issued.write(cert_path=tmp_path / "cert.pem", key_path=tmp_path / "key.pem")
    (tmp_path / "root.pem").write_bytes(ca.export_root_pem())
    server = serve("--ech", "public.example", "--cert", str(cert), "--key", str(key),
                   "--ech-config-list-out", str(tmp_path / "ech-config-list.bin"))
    printed_config_list(server, announcement(server))
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return server, tmp_path


def _prelude(index: int, directory: Path) -> str:
    """What the reader has already: nothing for the client block, the rest for the
    others (a stale ECH list for the retry block: a key serve never had)."""
    if index == 1:
        stale = generate_ech_key("public.example").config_list
        return ("import tlskit\nhost, name = '127.0.0.1', 'secret.example'\n"
                f"config = tlskit.ClientConfig(ech_config_list={stale!r})\n")
    if index == 2:
        return ("from tlskit import load_pem_chain, load_pem_private_key\n"
                f"chain = load_pem_chain({str(directory / 'cert.pem')!r})\n"
                f"key = load_pem_private_key({str(directory / 'key.pem')!r})\n")
    return ""


@pytest.mark.parametrize("index", range(len(CHECKS)))
def test_block_runs(lab: tuple[Serve, Path], index: int) -> None:
    server, directory = lab
    code = _prelude(index, directory) + BLOCKS[index] + CHECKS[index]
    env = {**os.environ, "SSL_CERT_FILE": str(directory / "root.pem"),
           "PYTHONPATH": os.pathsep.join([str(directory / "site"),
                                          os.environ.get("PYTHONPATH", "")]),
           "README_LAB_ROUTES": json.dumps({"127.0.0.1:443": server.port})}
    env.pop("SSLKEYLOGFILE", None)
    proc = subprocess.run([sys.executable, "-c", code], cwd=directory, capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == EXPECTED[index], proc.stdout


def _serve_block(first_line: str) -> tuple[list[str], str]:
    """The sh block that starts with ``first_line``: its command lines, and the ``ech:``
    line its comments show serve printing."""
    [block] = [b for b in SH_BLOCKS if b.startswith(first_line + "\n")]
    lines = [x for x in block.splitlines() if x.strip() and not x.startswith("#")]
    [shown] = [x.removeprefix("# ") for x in block.splitlines() if x.startswith("# ech: ")]
    return lines, shown


def _assert_as_shown(announced: list[str], shown: str, state: Path) -> None:
    """serve's ``ech:`` line is the doc's, but for the config id (random) and the state
    folder (the test's, where the doc has the default ~/.local/state)."""
    [line] = [x.rstrip("\n") for x in announced if x.startswith("ech: public name ")]
    pattern = re.escape(shown).replace(re.escape("config id 205"), r"config id \d+")
    pattern = pattern.replace(re.escape("~/.local/state"), re.escape(str(state)))
    assert re.fullmatch(pattern, line), (line, shown)


def test_serve_then_connect_block_runs(serve: Callable[..., Serve], tmp_path: Path) -> None:
    """Each command line in order in one directory: serve's (started with --port 0 and
    left running), then the others through bash with the doc's port routed to serve's.
    Then the restart block: serve stopped and started again, and the ech.bin the first
    block wrote still connects with ECH accepted."""
    lines, shown = _serve_block("tlskit serve --ech public.example --ech-config-list-out "
                                "ech.bin")
    assert len(lines) == 3, lines
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    # (serve runs in the test's directory: the file it writes goes to tmp_path instead)
    server = serve(*(str(tmp_path / a) if a == "ech.bin" else a
                     for a in lines[0].split()[2:]))
    _assert_as_shown(announcement(server), shown, tmp_path / "state")
    _run_lines(lines[1:], server, tmp_path)
    assert server.stop() == 0

    lines, shown = _serve_block("tlskit serve --ech public.example")
    assert len(lines) == 2, lines
    server = serve(*lines[0].split()[2:])
    _assert_as_shown(announcement(server), shown, tmp_path / "state")
    _run_lines(lines[1:], server, tmp_path)


def _run_lines(lines: list[str], server: Serve, directory: Path) -> None:
    """The doc's command lines through bash in ``directory``, the doc's localhost:8443
    routed to ``server``; the last one must report ECH accepted."""
    env = {**os.environ, "TLSKIT_STATE_DIR": str(directory / "state"),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
           "PYTHONPATH": os.pathsep.join([str(directory / "site"),
                                          os.environ.get("PYTHONPATH", "")]),
           "README_LAB_ROUTES": json.dumps({"localhost:8443": server.port})}
    env.pop("SSLKEYLOGFILE", None)
    env.pop("XDG_STATE_HOME", None)
    for line in lines:
        proc = subprocess.run(["bash", "-c", line], cwd=directory, env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
    assert "ECH" in proc.stdout and "accepted" in proc.stdout, proc.stdout
