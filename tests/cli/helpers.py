"""What the CLI tests share: the messages every TLS 1.3 diagram draws, a reader for the
text of a written SVG diagram, a CA with a localhost leaf on disk, and `tlskit demo` run
in a subprocess with an empty HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tlskit.ca import Issued, LocalCA

HANDSHAKE_MESSAGES = ["ClientHello", "ServerHello", "EncryptedExtensions", "Certificate",
                      "CertificateVerify", "Finished"]


def diagram_text(svg: Path) -> str:
    """All the text of an SVG file, joined."""
    return " ".join("".join(el.itertext()) for el in ET.parse(svg).getroot().iter())


def assert_full_handshake_drawn(svg: Path) -> str:
    """Every TLS 1.3 handshake message is in the diagram, Finished from both sides;
    returns the diagram's text for further checks."""
    text = diagram_text(svg)
    for name in HANDSHAKE_MESSAGES:
        assert name in text, name
    assert text.count("Finished") >= 2
    return text


@dataclass
class LocalhostPKI:
    """A CA on disk (``root``, ``intermediate`` PEM files) and a localhost/127.0.0.1
    server leaf written as ``cert`` (full chain) and ``key``."""

    ca: LocalCA
    issued: Issued
    root: Path
    intermediate: Path
    cert: Path
    key: Path

    @classmethod
    def create(cls, base: Path, leaf: str) -> LocalhostPKI:
        ca = LocalCA.create(base / "ca")
        issued = ca.issue_server(["localhost", "127.0.0.1"])
        cert, key = issued.write(cert_path=base / f"{leaf}.pem",
                                 key_path=base / f"{leaf}-key.pem")
        return cls(ca, issued, base / "ca" / "root.pem", base / "ca" / "intermediate.pem",
                   cert, key)


def demo_env(tmp_path: Path, home: str | None = None) -> dict[str, str]:
    """The environment `tlskit demo` runs in: an empty HOME and state dirs under
    ``tmp_path / "empty"`` (so a test can check nothing was written there), colour on."""
    env = dict(os.environ)
    empty = tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    env["HOME"] = home if home is not None else str(empty)
    env["XDG_STATE_HOME"] = str(empty / "xdg")
    env["TLSKIT_STATE_DIR"] = str(empty / "state")
    env.pop("NO_COLOR", None)
    return env


def demo(tmp_path: Path, *args: str, home: str | None = None,
         columns: int | None = None) -> subprocess.CompletedProcess[str]:
    """`tlskit demo *args` in a subprocess, in `demo_env`."""
    env = demo_env(tmp_path, home)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "tlskit", "demo", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)


def demo_json_and_diagram(tmp_path: Path, *args: str) -> tuple[dict[str, Any], Path]:
    """`tlskit demo *args --json --diagram`: its JSON and the SVG's path. It must succeed
    quietly and write no state."""
    svg = tmp_path / "demo.svg"
    proc = demo(tmp_path, *args, "--json", "--diagram", str(svg))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    assert not any((tmp_path / "empty").rglob("*")), "the demo must not write any state"
    return json.loads(proc.stdout), svg
