#!/usr/bin/env python3
"""Fuzz the compat layer's ClientHello sniffer (`tlskit.compat.hello.HelloBuffer`): the
ssl-module look-alike reads the first records a client sends with it, before any engine
sees them, to find the server name for ``sni_callback``.

With atheris installed:   python fuzz/fuzz_compat_hello.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_compat_hello.py [ITERATIONS] [SEED]

The contract under test: `add`/`complete`/`server_name` never raise; `server_name` is a
str or None; once complete, the buffer stays complete as more bytes arrive; the answer
does not depend on how the bytes were cut into reads (byte 0 picks the read size).
"""

from __future__ import annotations

import sys

from _harness import main, seeded

from tlskit.compat.hello import HelloBuffer
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m


def _feed(data: bytes, step: int) -> tuple[HelloBuffer, bool]:
    buf, done = HelloBuffer(), False
    for at in range(0, len(data), step):
        now = buf.add(data[at:at + step])
        assert now or not done, "a complete hello became incomplete"
        done = now
    return buf, done


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    body = data[1:]
    whole, done = _feed(body, max(len(body), 1))
    name = whole.server_name()
    assert name is None or isinstance(name, str)
    pieces, _ = _feed(body, data[0] % 64 + 1)
    assert pieces.complete() == done and pieces.server_name() == name


def _records(hello: bytes, size: int) -> bytes:
    return b"".join(b"\x16\x03\x01" + len(hello[i:i + size]).to_bytes(2, "big")
                    + hello[i:i + size] for i in range(0, len(hello), size))


def seeds() -> list[bytes]:
    exts = m.Extensions({0: ext.encode_server_name("example.com"), 10: b"\x00\x02\x00\x1d",
                         43: b"\x02\x03\x04"})
    hello = m.ClientHello(bytes(32), bytes(32), [0x1301], exts).encode()
    bare = m.ClientHello(bytes(32), b"", [0x1301], m.Extensions({})).encode()
    return [b"\x00" + _records(hello, 1 << 14), b"\x07" + _records(hello, 20),
            b"\x02" + _records(bare, 1 << 14), b"\x03" + b"\x15\x03\x03\x00\x02\x02\x28",
            b"\x01" + _records(hello, 1 << 14)[:40]]


random_input = seeded(seeds, raw_max=120, keep=1, rounds=3,
                      interesting=(0, 1, 0x16, 0x00, 0x01, 0xFF))

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
