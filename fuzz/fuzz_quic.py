#!/usr/bin/env python3
"""Fuzz the QUIC-TLS receive path (`tlskit.quic`): CRYPTO data at any encryption level,
split into messages per level before the TLS 1.3 state machines see them.

With atheris installed:   python fuzz/fuzz_quic.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_quic.py [ITERATIONS] [SEED]

The contract under test: `receive_data` returns events or raises a `TLSError` (never
another exception, never internal_error); a failed connection has nothing to send and
raises the same error again.

Input layout: byte 0's low two bits pick the level, bit 7 the side (set: a client that
sent its ClientHello; clear: a server); the rest is the data.
"""

from __future__ import annotations

import sys

from _harness import main, seeded

from tlskit import ClientConfig, ServerConfig
from tlskit.ca import LocalCA
from tlskit.enums import AlertDescription as AD
from tlskit.errors import TLSError
from tlskit.quic import EncryptionLevel, QuicClientConnection, QuicServerConnection

_CA = LocalCA.create(directory=None)
_LEAF = _CA.issue_server(["localhost"], key_type="ec256")
CLIENT = ClientConfig(trust_anchors=[_CA.root], alpn_protocols=["h3"])
SERVER = ServerConfig(certificate_chain=_LEAF.chain, private_key=_LEAF.private_key,
                      alpn_protocols=["h3"])


def _client() -> QuicClientConnection:
    return QuicClientConnection(CLIENT, "localhost", transport_parameters=b"\x01\x01\x00")


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    level = EncryptionLevel(data[0] & 3)
    conn = _client() if data[0] & 0x80 else QuicServerConnection(
        SERVER, transport_parameters=b"\x01\x01\x00")
    conn.data_to_send()
    try:
        conn.receive_data(level, data[1:])
    except TLSError as exc:
        assert exc.alert != AD.internal_error, exc
        assert conn.data_to_send() == []
        try:
            conn.receive_data(level, b"")
        except TLSError as again:
            assert again is exc
        else:
            raise AssertionError("a failed connection accepted more data") from None


def seeds() -> list[bytes]:
    hello = _client().data_to_send()[0][1]
    server = QuicServerConnection(SERVER, transport_parameters=b"\x01\x01\x00")
    server.receive_data(EncryptionLevel.INITIAL, hello)
    (_, sh), (_, rest) = server.data_to_send()
    return [b"\x00" + hello, b"\x80" + sh, b"\x82" + rest, b"\x83\x18\x00\x00\x01\x00",
            b"\x02\x05\x00\x00\x00", b"\x00\x14\x03\x03\x00\x01\x01"]


random_input = seeded(seeds, raw_max=120, keep=1, rounds=3,
                      interesting=(0, 1, 2, 3, 0x14, 0x18, 0x39, 0xFF))

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
