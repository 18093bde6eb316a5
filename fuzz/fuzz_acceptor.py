#!/usr/bin/env python3
"""Fuzz `tlskit.Acceptor`: a server's first bytes read up to the ClientHello before any
config is chosen, then handed to the `ServerConnection` made with one.

With atheris installed:   python fuzz/fuzz_acceptor.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_acceptor.py [ITERATIONS] [SEED]

The contract under test: `receive_data` returns a `ClientHelloInfo` or None, or raises a
`TLSError` (never internal_error) whose alert is what `data_to_send` holds (nothing for
the client's own fatal alert); the outcome does not depend on how the bytes were cut
into reads (byte 0 picks the read size); once the hello is complete it stays so; and
`accept` with a real config returns a connection or raises a `TLSError`, exactly when a
`ServerConnection` with that config fed the same bytes succeeds or fails (same alert).
"""

from __future__ import annotations

import sys
from functools import cache

from _harness import main, seeded
from tests.support.pki import server_config
from tests.support.records import HS, record

from tlskit import (
    Acceptor,
    AlertDescription,
    AlertReceived,
    ClientConfig,
    ClientConnection,
    ClientHelloInfo,
    ServerConfig,
    ServerConnection,
    TLSError,
)


@cache
def config() -> ServerConfig:
    return server_config()


def outcome(data: bytes, step: int) -> tuple[Acceptor, object]:
    """Feed ``data`` ``step`` bytes at a time: the info, or the error's type and alert."""
    acceptor = Acceptor()
    info: ClientHelloInfo | None = None
    try:
        for at in range(0, len(data), step):
            answer = acceptor.receive_data(data[at:at + step])
            assert info is None or answer == info, "a complete hello changed"
            info = answer
    except TLSError as exc:
        out = acceptor.data_to_send()
        if isinstance(exc, AlertReceived):  # (the client's alert: internal_error too)
            assert out == b"", out
        else:
            assert exc.alert != AlertDescription.internal_error, repr(exc)
            assert len(out) == 7 and out[0] == 21 and out[6] == exc.alert, (out, exc)
        return acceptor, (type(exc), exc.alert)
    return acceptor, info


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    body = data[1:]
    acceptor, whole = outcome(body, max(len(body), 1))
    _, pieces = outcome(body, data[0] % 64 + 1)
    assert pieces == whole, (pieces, whole)
    if isinstance(whole, ClientHelloInfo):
        assert acceptor.receive_data(b"") == whole
        try:
            acceptor.accept(config())
            accepted: object = "ok"
        except TLSError as exc:
            assert exc.alert != AlertDescription.internal_error, repr(exc)
            assert acceptor.data_to_send(), "no alert for the client"
            accepted = (type(exc), exc.alert)
        assert accepted == served(body), (accepted, served(body))


def served(data: bytes) -> object:
    """What a `ServerConnection` with the same config makes of ``data``: the acceptor
    plus `accept` must end the same way (no extension judged early, none differently)."""
    try:
        ServerConnection(config()).receive_data(data)
    except TLSError as exc:
        return (type(exc), exc.alert)
    return "ok"


@cache
def seeds() -> list[bytes]:
    hellos = [ClientConnection(ClientConfig(**kw), server_name="example.com").data_to_send()
              for kw in ({}, {"versions": ["TLSv1.2"]}, {"alpn_protocols": ["h2"]})]
    cut = b"".join(record(HS, hellos[0][5:][i:i + 40])
                   for i in range(0, len(hellos[0]) - 5, 40))
    return [b"\x00" + hellos[0], b"\x07" + hellos[1], b"\x02" + hellos[2], b"\x05" + cut,
            b"\x03" + b"\x15\x03\x03\x00\x02\x02\x28", b"\x01" + hellos[0][:40],
            b"\x09" + b"GET / HTTP/1.1\r\n\r\n"]


random_input = seeded(seeds, raw_max=120, keep=1, rounds=3,
                      interesting=(0, 1, 0x16, 0x00, 0x01, 0xFF))

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
