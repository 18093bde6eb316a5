#!/usr/bin/env python3
"""Fuzz the hostname matcher and server-name parser.

With atheris installed:   python fuzz/fuzz_hostname.py -atheris_runs=100000
Without it (standalone):  python fuzz/fuzz_hostname.py [ITERATIONS] [SEED]

The contract under test: `dns_name_matches` never raises and is a boolean;
`parse_server_name` either returns a canonical name / IP address or raises
`InvalidHostname`; a match implies both sides survive canonicalisation; and matching is
insensitive to ASCII case and one trailing dot.
"""

from __future__ import annotations

import ipaddress
import random
import sys

from _harness import main

from tlskit.x509.names import (
    InvalidHostname,
    canonical_dns_name,
    dns_in_subtree,
    dns_name_matches,
    dns_subtree_intersects,
    parse_server_name,
)

_ALPHABET = "ab*.-_0123456789:[]%xn-\u00fc\u3002\u0130K \x00"


def _split(data: bytes) -> tuple[str, str]:
    """Two strings from the input: the bytes before and after the first NUL."""
    text = data.decode("utf-8", errors="replace")
    pattern, _, host = text.partition("\x00")
    return pattern, host


def TestOneInput(data: bytes) -> None:
    pattern, host = _split(data)
    verdict = dns_name_matches(pattern, host)
    assert verdict in (True, False)
    try:
        parsed = parse_server_name(host)
    except InvalidHostname:
        parsed = None
    if verdict:
        assert isinstance(parsed, str), (pattern, host)
        assert dns_name_matches(pattern.upper() if pattern.isascii() else pattern, host)
        if not host.endswith("."):
            assert dns_name_matches(pattern, host + ".")
    if isinstance(parsed, str):
        assert parsed == parsed.lower() and parsed.isascii()
        assert canonical_dns_name(parsed) == parsed  # idempotent
        assert dns_name_matches(parsed, host)  # a name matches itself
    elif parsed is not None:
        assert isinstance(parsed, ipaddress.IPv4Address | ipaddress.IPv6Address)
        assert not verdict  # IP literals never match a dNSName
    assert dns_in_subtree(host, pattern) in (True, False)
    if dns_in_subtree(host, pattern):
        assert dns_subtree_intersects(host, pattern)


def seeds() -> list[bytes]:
    return [b"*.example.com\x00www.example.com", b"xn--bcher-kva.ch\x00b\xc3\xbccher.ch",
            b"a.b.\x00A.B", b"192.0.2.1\x00192.0.2.1", b"*\x00com"]


def random_input(rng: random.Random) -> bytes:
    def word() -> str:
        return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 24)))

    if rng.random() < 0.5:  # structured: label lists, wildcards, shared suffixes
        labels = [rng.choice(["a", "b", "*", "xn--bcher-kva", "com", "ex", "1", ""])
                  for _ in range(rng.randint(1, 5))]
        pattern = ".".join(labels)
        host = ".".join(rng.choice([lb, "x", "ü"]) for lb in labels) + rng.choice(["", "."])
        return (pattern + "\x00" + host).encode()
    if rng.random() < 0.1:
        return rng.randbytes(rng.randint(0, 40))
    return (word() + "\x00" + word()).encode()


if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input, default_iterations=100_000))
