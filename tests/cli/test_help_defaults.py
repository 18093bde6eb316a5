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


def test_raw_key_options_say_the_same_in_connect_and_serve() -> None:
    """RFC 7250 options: the pins of both commands take the same files, named alike
    (serve's help refers to connect's); --raw-key takes a PEM private key in both."""
    connect, serve = _help("connect"), _help("serve")
    forms = "PEM or DER SubjectPublicKeyInfo (openssl pkey -pubout, GnuTLS's --rawpkfile)"
    assert f"--pin-key FILE RFC 7250 raw public key: accept the server's key if it is this " \
           f"one (repeatable, any one of them). FILE: a public key, {forms}, or a PEM " \
           "private key, whose public half is pinned." in connect
    assert "--pin-client-key FILE RFC 7250: ask clients for a raw public key and accept " \
           "this one (repeatable); FILE as connect --pin-key takes it (PEM or DER public " \
           "key, or a PEM private key)" in serve
    assert "--raw-key FILE RFC 7250: present this PEM private key as a raw public key" \
        in connect
    assert "--raw-key [FILE] RFC 7250: also serve a raw public key to clients that prefer " \
           "one: FILE's PEM private key, or --key's without FILE" in serve
    assert "--client-auth {required,optional} with --client-ca or --pin-client-key" in serve


@pytest.mark.parametrize("command", ["connect", "serve"])
def test_the_raw_key_examples_parse(command: str) -> None:
    """The examples --help shows for raw public keys use the options as they are."""
    from tlskit.cli.main import EXAMPLES

    [example] = [e for e, _ in EXAMPLES[command] if "--pin-" in e]
    parser = argparse.ArgumentParser(prog=f"tlskit {command}")
    getattr(options, f"{command}_arguments")(parser)
    args = parser.parse_args(example.split()[2:])
    assert args.pin_key if command == "connect" else (args.pin_client_key
                                                      and args.raw_key == "")


def test_starttls_protocols_in_help_are_the_library_ones() -> None:
    from tlskit.io.preamble import STARTTLS_PROTOCOLS

    assert options.STARTTLS_PROTOCOLS == STARTTLS_PROTOCOLS
