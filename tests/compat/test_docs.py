"""docs/compat.md's ```python blocks, run verbatim against a local nginx (the URL and host
swapped for it; the local root trusted through SSL_CERT_FILE, the system-trust hook)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import PKI

DOC = Path(__file__).resolve().parents[2] / "docs" / "compat.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)
EXPECTED = ["", "200", "HTTP/2", "200", "TLSv1.3", "1"]  # what each block prints


def test_the_doc_has_the_recipes() -> None:
    assert len(BLOCKS) == len(EXPECTED)
    for library in ("requests", "httpx", "aiohttp"):
        assert any(f"import {library}" in b or f", {library}," in b for b in BLOCKS)


@pytest.mark.parametrize("index", range(len(EXPECTED)))
def test_recipe_runs(index: int, nginx: Any, pki: PKI) -> None:
    code = BLOCKS[index].replace("https://example.com/", nginx.url())
    code = code.replace('"example.com", 443', f'"localhost", {nginx.port}')
    env = {**os.environ, "SSL_CERT_FILE": str(pki.root)}
    env.pop("SSLKEYLOGFILE", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == EXPECTED[index]


HTTP_DOC = DOC.parent / "http-clients.md"
HTTP_BLOCKS = re.findall(r"^```python\n(.*?)^```", HTTP_DOC.read_text(), flags=re.S | re.M)


def test_http_clients_page_runs_as_one_session(nginx: Any, pki: PKI) -> None:
    """docs/http-clients.md's blocks build on each other (``ctx`` from the first): run in
    order as one script against the local nginx, each printing what a reader expects."""
    assert len(HTTP_BLOCKS) == 5
    code = "\n".join(HTTP_BLOCKS).replace("https://example.com/", nginx.url())
    env = {**os.environ, "SSL_CERT_FILE": str(pki.root)}
    env.pop("SSLKEYLOGFILE", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines() == ["200", "HTTP/1.1", "hello from nginx"], proc.stdout
