"""Malformed ECH against tlskit's ECH server: seeded mutations of the EncodedClientHelloInner
(sealed again, so they reach the inner-hello checks) and of the outer encrypted_client_hello
extension, in the first and in the second ClientHello. Whatever the bytes, the server
ends in a `TLSError` with an alert, never an IndexError, KeyError or ValueError."""

from __future__ import annotations

import random

from tlskit import ServerConnection
from tlskit.errors import TLSError

from ..support.ech import ECH_EXT, EchKey, build_hello, parse_hello
from ..support.records import HS, record
from ..unit.test_ech_server import (
    _after_retry,
    _encoded,
    _hello,
    _reseal,
    _second_with,
    ech_client,
    ech_server,
)

ROUNDS = 150


def _mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out) + 1)
        op = rng.random()
        if op < 0.5 and out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif op < 0.75:
            del out[at:at + rng.randint(1, 40)]
        else:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(out)


def _only_tls_errors(server: ServerConnection, data: bytes) -> None:
    try:
        server.receive_data(data)
    except TLSError as exc:
        assert exc.alert is not None


def test_mutated_inner_hellos() -> None:
    rng = random.Random(9849)
    key = EchKey.make()
    outer = _hello(ech_client(key, alpn_protocols=["h2"]).data_to_send())
    for _ in range(ROUNDS):
        hello = _reseal(outer, key, lambda f: _mutate(rng, _encoded(f)))
        _only_tls_errors(ech_server(key), record(HS, hello, 0x0301))


def _mutated_ech(rng: random.Random, hello: bytes) -> bytes:
    fields, _ = parse_hello(hello[4:])
    fields["exts"] = [(t, _mutate(rng, d) if t == ECH_EXT else d) for t, d in fields["exts"]]
    return build_hello(fields)


def test_mutated_outer_extension_in_the_first_hello() -> None:
    rng = random.Random(7)
    key = EchKey.make()
    outer = _hello(ech_client(key).data_to_send())
    for _ in range(ROUNDS):
        hello = _mutated_ech(rng, outer)
        _only_tls_errors(ech_server(key), record(HS, hello, 0x0301))


def test_mutated_outer_extension_in_the_second_hello() -> None:
    rng = random.Random(8)
    key = EchKey.make()
    for _ in range(ROUNDS // 3):
        _, server, flight = _after_retry(key)
        changed = _second_with(flight, lambda h: _mutated_ech(rng, h))
        _only_tls_errors(server, changed)
