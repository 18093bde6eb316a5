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
import sys
from functools import cache
from typing import Any

from _harness import main, overwrite, with_selector
from _peers import AcceptAll, identity
from tests.support.contract import survive
from tests.support.pump import flights
from tests.support.records import KeyLog, chunked, seal

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection


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
    log = KeyLog()
    ch, sf, cf, tickets = flights(new_client(log), new_server())
    return {"client_hello": ch, "server_flight": sf, "client_finished": cf,
            "secrets": log.as_dict(), "tickets": tickets}


def check(conn: Any, chunks: list[bytes]) -> None:
    survive(conn, chunks)


def TestOneInput(data: bytes) -> None:
    if len(data) < 2:
        return
    mode, arg, body = data[0] % 5, data[1], data[2:]
    rec = recorded()
    server = new_server()
    if mode == 0:
        check(server, chunked(body, arg + 1))
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
