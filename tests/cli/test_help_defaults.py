"""`connect --help` and `serve --help` say what is offered or accepted when --groups,
--ciphers and --alpn are absent, and what they say is what the configs really use."""

from __future__ import annotations

import argparse
import re

import pytest

from tlskit.cli import options
from tlskit.config import ClientConfig
from tlskit.enums import CipherSuite, NamedGroup


def _help(command: str) -> str:
    parser = argparse.ArgumentParser(prog=f"tlskit {command}")
    getattr(options, f"{command}_arguments")(parser)
    return re.sub(r"\s+", " ", parser.format_help())


def test_the_listed_defaults_are_the_configs_own() -> None:
    client = ClientConfig()
    assert [NamedGroup(g).name for g in client._groups] == list(options.CLIENT_GROUPS)
    assert [NamedGroup(g).name for g in client._share_groups] == list(options.CLIENT_GROUPS[:2])
    assert [CipherSuite(s).name for s in client._suites] == list(options.SUITES13)
    assert [CipherSuite(s).name for s in client._suites12] == list(options.SUITES12)
    from tlskit import crypto

    assert [NamedGroup(g).name for g in crypto.SERVER_DEFAULT_GROUPS] == list(
        options.SERVER_GROUPS)


@pytest.mark.parametrize(("command", "groups"), [("connect", options.CLIENT_GROUPS),
                                                 ("serve", options.SERVER_GROUPS)])
def test_help_shows_the_defaults(command: str, groups: tuple[str, ...]) -> None:
    text = _help(command)
    assert f"(default: {', '.join(groups)}" in text
    assert f"for TLS 1.3 {', '.join(options.SUITES13)}; for TLS 1.2 " \
           f"{', '.join(options.SUITES12)};" in text
    alpn = ("(default: none; no ALPN extension is sent)" if command == "connect"
            else "(default: http/1.1; none with --echo)")
    assert alpn in text
