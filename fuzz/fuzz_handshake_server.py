#!/usr/bin/env python3
"""Fuzz the tlskit server with what a client could send.

With atheris installed:   python fuzz/fuzz_handshake_server.py -atheris_runs=100000
Without it (standalone):  python fuzz/fuzz_handshake_server.py [ITERATIONS] [SEED]

The contract under test: `ServerConnection.receive_data` returns events or raises a
`TLSError` whose alert is a real protocol alert (never internal_error); after a failure
the queued output ends with that alert and every later call raises the same error.

Everything is deterministic (seeded rng, Ed25519 signatures), so one recorded handshake
can be replayed and mutated. Byte 0 of the input picks the mode:

0. raw bytes to a fresh server;
1. the recorded ClientHello with the input written over it at an input-chosen offset;
2. the recorded ClientHello, then raw bytes as the client's second flight;
3. the recorded ClientHello, then the input as a handshake message protected with the
   client's real handshake key (reaches Finished / Certificate / KeyUpdate handling);
4. a completed handshake, then the input as a protected post-handshake message.
"""

from __future__ import annotations

import random
import struct
import sys
from functools import cache
from typing import Any

from _harness import main, overwrite, with_selector
from _peers import AcceptAll, identity

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.crypto import SUITES
from tlskit.enums import AlertDescription as AD
from tlskit.enums import CipherSuite
from tlskit.errors import AlertReceived, TLSError
from tlskit.keyschedule import traffic_keys

SUITE = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]


def new_server() -> ServerConnection:
    cert, key = identity()
    return ServerConnection(ServerConfig(certificate_chain=[cert], private_key=key,
                                         groups=["x25519", "secp256r1"],
                                         rng=random.Random(2).randbytes))


def new_client(keylog: Any = None) -> ClientConnection:
    return ClientConnection(ClientConfig(verifier=AcceptAll(), rng=random.Random(1).randbytes,
                                         groups=["x25519", "secp256r1"], keylog=keylog),
                            server_name="localhost")


@cache
def recorded() -> dict[str, Any]:
    secrets: dict[str, bytes] = {}
    c = new_client(lambda label, _r, s: secrets.__setitem__(label, s))
    s = new_server()
    ch = c.data_to_send()
    s.receive_data(ch)
    sf = s.data_to_send()
    c.receive_data(sf)
    cf = c.data_to_send()
    s.receive_data(cf)
    assert c.handshake_complete and s.handshake_complete
    return {"client_hello": ch, "server_flight": sf, "client_finished": cf,
            "secrets": secrets, "tickets": s.data_to_send()}


def seal(secret: bytes, seq: int, inner: bytes) -> bytes:
    keys = traffic_keys(SUITE, secret)
    nonce = (int.from_bytes(keys.iv, "big") ^ seq).to_bytes(12, "big")
    header = struct.pack(">BHH", 23, 0x0303, len(inner) + 16)
    return header + SUITE.aead(keys.key).encrypt(nonce, inner, header)


def check(conn: Any, chunks: list[bytes]) -> None:
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
    except AlertReceived:
        return
    except TLSError as exc:
        assert exc.alert != AD.internal_error, f"{exc!r} from {exc.__cause__!r}"
        out = conn.data_to_send()
        assert len(out) >= 7, out
        try:
            conn.receive_data(b"\x16")
        except TLSError as again:
            assert again is exc
        else:
            raise AssertionError("a failed connection accepted more input") from None


def TestOneInput(data: bytes) -> None:
    if len(data) < 2:
        return
    mode, arg, body = data[0] % 5, data[1], data[2:]
    rec = recorded()
    server = new_server()
    if mode == 0:
        step = arg + 1
        check(server, [body[i:i + step] for i in range(0, len(body), step)] or [b""])
    elif mode == 1:
        check(server, [overwrite(rec["client_hello"], arg, body)])
    elif mode == 2:
        server.receive_data(rec["client_hello"])
        server.data_to_send()
        check(server, [body])
    elif mode == 3:
        server.receive_data(rec["client_hello"])
        server.data_to_send()
        inner = body + bytes((arg % 4 + 20,)) + bytes(arg // 64)
        check(server, [seal(rec["secrets"]["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], 0, inner)])
    else:
        server.receive_data(rec["client_hello"])
        server.data_to_send()
        server.receive_data(rec["client_finished"])
        server.data_to_send()
        inner = body + bytes((arg % 4 + 20,))
        check(server, [seal(rec["secrets"]["CLIENT_TRAFFIC_SECRET_0"], 0, inner)])


# --- standalone driver --------------------------------------------------------------------

def seeds() -> list[bytes]:
    rec = recorded()
    ch = rec["client_hello"]
    return [
        b"\x00\xff" + ch,
        b"\x00\x03" + ch,
        b"\x01\x80" + ch[100:120],
        b"\x01\x10" + b"\x00\x33\x00\x26",
        b"\x02\x00" + rec["client_finished"],
        b"\x03\x02" + b"\x14\x00\x00\x20" + bytes(32),
        b"\x03\x02" + b"\x0b\x00\x00\x04\x00\x00\x00\x00",
        b"\x03\x02" + b"\x18\x00\x00\x01\x01",
        b"\x04\x02" + b"\x18\x00\x00\x01\x01",
        b"\x04\x03" + b"GET / HTTP/1.1\r\n",
        b"\x04\x01" + b"\x01\x00",
    ]


random_input = with_selector(seeds)


if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
