"""The documentation site builds with warnings as errors, and its API reference, made
from the docstrings, covers everything `tlskit` exports."""

from __future__ import annotations

import dataclasses
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tlskit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(out), "--config-file", str(ROOT / "mkdocs.yml")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    return out


def _api_html(site: Path) -> str:
    return "".join(p.read_text() for p in sorted((site / "api").rglob("index.html")))


def test_every_export_is_in_the_api_reference(site: Path) -> None:
    html = _api_html(site)
    modules = ("config.", "connection.", "events.", "errors.", "enums.", "session.",
               "verifier.", "iana.", "io.blocking.", "io.server.", "io.preamble.", "x509.errors.",
               "quic.", "psk.", "helloinfo.", "acceptor.", "certselect.")
    missing = [name for name in tlskit.__all__
               if not any(f'id="tlskit.{mod}{name}"' in html for mod in modules)]
    assert missing == []


PUBLIC_MODULES = ("tlskit.aio", "tlskit.ca", "tlskit.certselect", "tlskit.compat", "tlskit.io",
                  "tlskit.keylog",
                  "tlskit.quic", "tlskit.sessionstore", "tlskit.trace", "tlskit.x509")


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_module_name_is_in_the_api_reference(site: Path, module: str) -> None:
    """A name a public module exports has an entry of its own (under whichever module
    defines it), so a newcomer who meets it in an example can look it up."""
    html = _api_html(site)
    ids = set(re.findall(r'id="(tlskit[.\w]*)"', html))
    exported = importlib.import_module(module).__all__
    missing = [name for name in exported if not any(i.endswith(f".{name}") for i in ids)]
    assert missing == []


def test_the_reference_is_made_from_the_docstrings(site: Path) -> None:
    html = _api_html(site)
    for name, doc in [("tlskit.config.ClientConfig", tlskit.ClientConfig.__doc__),
                      ("tlskit.iana.parse_group", tlskit.parse_group.__doc__),
                      ("tlskit.aio.open_connection", tlskit.aio.open_connection.__doc__),
                      ("tlskit.ca.LocalCA", None)]:
        assert f'id="{name}"' in html, name
        if doc:
            first_words = " ".join(doc.split()[:4]).replace('"', "&quot;")
            assert first_words.split("`")[0] in html, (name, first_words)


@pytest.mark.parametrize("page", ["http-clients", "uvicorn", "debug", "certificates",
                                  "compat", "ech", "quic", "server-choice",
                                  "starttls"])
def test_task_pages_are_built_and_linked_from_the_index(site: Path, page: str) -> None:
    assert (site / page / "index.html").is_file()
    assert f'href="{page}/"' in (site / "index.html").read_text()


@pytest.mark.parametrize("config", [tlskit.ClientConfig, tlskit.ServerConfig])
def test_every_config_field_is_described(config: type) -> None:
    """The reference lists a config's parameters from its docstring: a field added without
    a ``:param`` line would show in the signature with no word on what it does."""
    doc = config.__doc__ or ""
    fields = [f.name for f in dataclasses.fields(config) if f.init]
    assert [name for name in fields if f":param {name}:" not in doc] == []
