#!/usr/bin/env python3
"""Fuzz the tlskit client with what a server could send.

With atheris installed:   python fuzz/fuzz_handshake_client.py -atheris_runs=100000
Without it (standalone):  python fuzz/fuzz_handshake_client.py [ITERATIONS] [SEED]

The contract under test: `ClientConnection.receive_data` returns events or raises a
`TLSError` whose alert is a real protocol alert (never internal_error); after a failure
the queued output ends with that alert and every later call raises the same error.

The client and the server of the recorded handshake are deterministic (see
fuzz_handshake_server.py, whose recording this reuses). Byte 0 picks the mode:

0. raw bytes to a client that has sent its ClientHello;
1. the recorded server flight with the input written over it at an input-chosen offset;
2. the recorded ServerHello (+CCS), then the input as one handshake message protected
   with the server's real handshake key (reaches EncryptedExtensions, Certificate,
   CertificateVerify and Finished parsing and their checks);
3. the recorded ServerHello, then raw bytes;
4. a completed handshake, then the input as a protected post-handshake message
   (NewSessionTicket, KeyUpdate, alerts, application data).
"""

from __future__ import annotations

import os
import sys

from _harness import hello_sent, main, with_selector

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzz_handshake_server import check, new_client, overwrite, recorded, seal
from tests.support.records import chunked, split_records


def client_after_hello():
    return hello_sent(new_client())


def TestOneInput(data: bytes) -> None:
    if len(data) < 2:
        return
    mode, arg, body = data[0] % 5, data[1], data[2:]
    rec = recorded()
    client = client_after_hello()
    sh, ccs, *_ = split_records(rec["server_flight"])
    if mode == 0:
        check(client, chunked(body, arg + 1))
    elif mode == 1:
        check(client, [overwrite(rec["server_flight"], arg, body)])
    elif mode == 2:
        client.receive_data(sh + ccs)
        inner = body + bytes((arg % 4 + 20,)) + bytes(arg // 64)
        check(client, [seal(rec["secrets"]["SERVER_HANDSHAKE_TRAFFIC_SECRET"], 0, inner)])
    elif mode == 3:
        client.receive_data(sh)
        check(client, [body])
    else:
        client.receive_data(rec["server_flight"])
        client.data_to_send()
        inner = body + bytes((arg % 4 + 20,))
        # Sequence 0 of the server's application key is taken by its first ticket.
        n = len(split_records(rec["tickets"]))
        check(client, [rec["tickets"],
                       seal(rec["secrets"]["SERVER_TRAFFIC_SECRET_0"], n, inner)])


# --- standalone driver --------------------------------------------------------------------

def seeds() -> list[bytes]:
    rec = recorded()
    flight = rec["server_flight"]
    return [
        b"\x00\xff" + flight,
        b"\x00\x10" + flight[:200],
        b"\x01\x00" + flight[:3],
        b"\x01\x40" + b"\x00\x2b\x00\x02\x03\x04",
        b"\x02\x02" + b"\x08\x00\x00\x02\x00\x00",
        b"\x02\x02" + b"\x08\x00\x00\x08\x00\x06\x00\x10\x00\x02\x01h",
        b"\x02\x02" + b"\x0b\x00\x00\x09\x00\x00\x00\x05\x00\x00\x01\x30\x00",
        b"\x02\x02" + b"\x0f\x00\x00\x06\x08\x07\x00\x02\x01\x02",
        b"\x02\x02" + b"\x14\x00\x00\x20" + bytes(32),
        b"\x02\x02" + b"\x0d\x00\x00\x0b\x00\x00\x08\x00\x0d\x00\x04\x00\x02\x08\x07",
        b"\x03\x00" + b"\x17\x03\x03\x00\x20" + bytes(32),
        b"\x04\x02" + b"\x04\x00\x00\x0f\x00\x00\x00\x10\x00\x00\x00\x01\x00\x00\x01t\x00\x00",
        b"\x04\x02" + b"\x18\x00\x00\x01\x01",
        b"\x04\x01" + b"\x02\x28",
        b"\x04\x03" + b"HTTP/1.1 200 OK\r\n",
    ]


random_input = with_selector(seeds)


if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
