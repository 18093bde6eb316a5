#!/usr/bin/env python3
"""Fuzz the ClientHello fingerprinter (`tlskit.fingerprint`): `tlskit serve` reads the
first records every client sends with it (`client_hellos`) and renders JA3/JA4 and each
field, so it parses whatever a client sends, apart from the engine's own decoders.

With atheris installed:   python fuzz/fuzz_fingerprint.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_fingerprint.py [ITERATIONS] [SEED]

`tlskit connect --trace` splits what a server sends into records for display
(`cli.trace.split_records`); the same input goes through it.

The contract under test: nothing raises, for any byte stream; a parsed hello answers
every accessor and its fingerprints; a stream's hellos are at most two; the records
split off are, end to end, a prefix of the stream. The input is the byte stream as
received.
"""

from __future__ import annotations

import sys

from _harness import main, seeded

from tlskit.cli.trace import split_records
from tlskit.fingerprint import client_hellos, ja3, ja3_string, ja4, ja4_raw, parse_client_hello
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m


def TestOneInput(data: bytes) -> None:
    records = split_records(data)
    joined = b"".join(r["bytes"] for r in records)
    assert data.startswith(joined) and len(data) - len(joined) < 5
    hellos = client_hellos(data)
    assert len(hellos) <= 2
    single = parse_client_hello(data[5:])
    for hello in [*hellos, *([single] if single is not None else [])]:
        for accessor in ("groups", "signature_algorithms", "supported_versions",
                         "point_formats", "alpn", "key_shares", "server_name",
                         "extension_types"):
            getattr(hello, accessor)
        assert ja3(hello) and ja3_string(hello) and ja4(hello) and ja4_raw(hello)


def seeds() -> list[bytes]:
    exts = m.Extensions({0: ext.encode_server_name("example.com"), 10: b"\x00\x04\x00\x1d\x00\x17",
                         13: b"\x00\x04\x04\x03\x08\x04", 16: ext.encode_alpn(["h2", "http/1.1"]),
                         11: b"\x01\x00", 43: b"\x04\x03\x04\x03\x03", 0x0A0A: b"",
                         51: ext.encode_key_share_client([(0x1D, bytes(32))])})
    hello = m.ClientHello(bytes(32), bytes(32), [0x1301, 0x0A0A, 0xC02F], exts).encode()
    bare = m.ClientHello(bytes(32), b"", [0x1301], m.Extensions({})).encode()

    def records(msg: bytes, size: int) -> bytes:
        return b"".join(b"\x16\x03\x01" + len(msg[i:i + size]).to_bytes(2, "big")
                        + msg[i:i + size] for i in range(0, len(msg), size))
    return [records(hello, 1 << 14), records(hello, 50), records(bare, 1 << 14),
            records(hello, 1 << 14) + b"\x14\x03\x03\x00\x01\x01" + records(hello, 1 << 14),
            b"\x15\x03\x03\x00\x02\x02\x28"]


random_input = seeded(seeds, raw_max=120, keep=0, rounds=3,
                      interesting=(0, 1, 0x16, 0x14, 0x0A, 0xFF))

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
