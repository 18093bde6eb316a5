#!/usr/bin/env python3
"""Fuzz the QUIC-TLS receive path (`tlskit.quic`): CRYPTO data at any encryption level,
split into messages per level before the TLS 1.3 state machines see them.

With atheris installed:   python fuzz/fuzz_quic.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_quic.py [ITERATIONS] [SEED]

The contract under test: `receive_data` returns events or raises a `TLSError` (never
another exception, never internal_error); a failed connection has nothing to send and
raises the same error again.

Input layout: byte 0's low two bits pick the level, bit 7 the side (set: a client that
sent its ClientHello; clear: a server), bits 4-5 the stage the connection is at: 0 new,
1 past the hellos (a client that read a real ServerHello, reading at the Handshake
level: EncryptedExtensions, Certificate...; a server that read a real ClientHello), 2
after a real handshake (a client reading NewSessionTickets at the 1-RTT level); the rest
is the data.
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


def _server() -> QuicServerConnection:
    return QuicServerConnection(SERVER, transport_parameters=b"\x01\x01\x00")


def _staged(client_side: bool, stage: int) -> QuicClientConnection | QuicServerConnection:
    """A connection at `stage` (see the module docstring), driven there by real peers."""
    client, server = _client(), _server()
    if stage == 0:
        client.data_to_send()
        return client if client_side else server
    for level, data in client.data_to_send():
        server.receive_data(level, data)
    if not client_side and stage == 1:
        return server
    (level, hello), *rest = server.data_to_send()
    client.receive_data(level, hello)
    if stage == 1:
        return client
    for level, data in rest:
        client.receive_data(level, data)
    for level, data in client.data_to_send():
        server.receive_data(level, data)
    server.data_to_send()  # (its tickets: the fuzzed data stands in for them)
    return client if client_side else server


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    level = EncryptionLevel(data[0] & 3)
    conn = _staged(bool(data[0] & 0x80), min((data[0] >> 4) & 3, 2))
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
    """Each stage's real bytes: the hellos, the server's Handshake-level flight, the
    client's Finished, the server's tickets; and forged KeyUpdate, EndOfEarlyData, CCS."""
    client, server = _client(), _server()
    [(_, hello)] = client.data_to_send()
    server.receive_data(EncryptionLevel.INITIAL, hello)
    (_, sh), (_, rest) = server.data_to_send()
    client.receive_data(EncryptionLevel.INITIAL, sh)
    client.receive_data(EncryptionLevel.HANDSHAKE, rest)
    [(_, finished)] = client.data_to_send()
    server.receive_data(EncryptionLevel.HANDSHAKE, finished)
    [(_, tickets)] = server.data_to_send()
    return [b"\x00" + hello, b"\x80" + sh, b"\x82" + rest, b"\x83\x18\x00\x00\x01\x00",
            b"\x02\x05\x00\x00\x00", b"\x00\x14\x03\x03\x00\x01\x01",
            b"\x92" + rest, b"\x12" + finished, b"\xa3" + tickets,
            b"\xa3\x18\x00\x00\x01\x00", b"\x23" + tickets]


random_input = seeded(seeds, raw_max=120, keep=1, rounds=3,
                      interesting=(0, 1, 2, 3, 0x14, 0x18, 0x39, 0xFF))

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
