#!/usr/bin/env python3
"""Fuzz certificate decompression (RFC 8879, `tlskit.wire.certcompress`): a client that
offers compress_certificate inflates whatever CompressedCertificate the server sends.

With atheris installed:   python fuzz/fuzz_certcompress.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_certcompress.py [ITERATIONS] [SEED]

The contract under test: `decompress` returns exactly `uncompressed_length` bytes or
raises `BadCertificate`, never more than the limit; what it returns compresses back to
something that decompresses to the same bytes. `decode_extension` raises only
decode_error. Every algorithm installed is fuzzed: zlib always, brotli and zstd with the
test extra (`tlskit[brotli]`, `tlskit[zstd]`); the seeds include a bomb for each (1 MiB
of zeros announced as 4 KiB) and a zstd frame naming a window over the cap.

Input layout: byte 0 picks the algorithm (an index into the supported ones, or the raw
byte as an unknown code when past them) and, odd, the extension decoder instead; bytes
1..3 are the announced length; the rest is the compressed data.
"""

from __future__ import annotations

import functools
import sys

from _harness import main, seeded

from tlskit.enums import AlertDescription as AD
from tlskit.errors import BadCertificate, TLSError
from tlskit.wire import certcompress
from tlskit.wire.messages import CompressedCertificate

LIMIT = 1 << 16
CODES = sorted(certcompress.ALGORITHMS)


def TestOneInput(data: bytes) -> None:
    if len(data) < 4:
        return
    if data[0] & 0x80:
        try:
            codes = certcompress.decode_extension(data[1:])
        except TLSError as exc:
            assert exc.alert == AD.decode_error, exc
            return
        assert certcompress.decode_extension(certcompress.encode_extension(codes)) == codes
        return
    index = data[0] & 0x7F
    algorithm = CODES[index] if index < len(CODES) else index
    length = int.from_bytes(data[1:4], "big")
    msg = CompressedCertificate(algorithm, length, data[4:])
    try:
        body = certcompress.decompress(msg, LIMIT)
    except BadCertificate:
        return
    assert len(body) == length <= LIMIT
    assert certcompress.decompress(certcompress.compress(algorithm, body), LIMIT) == body


@functools.cache  # the harness asks for them for every input; the bombs take a while
def seeds() -> list[bytes]:
    body = b"\x00\x00\x00\x08\x00\x00\x03\x30\x01\x00\x00\x00" * 8
    out = []
    for i, code in enumerate(CODES):
        msg = certcompress.compress(code, body)
        out.append(bytes((i,)) + len(body).to_bytes(3, "big") + msg.compressed)
    zeros = bytes(1 << 20)
    for i, code in enumerate(CODES):
        packed = certcompress.ALGORITHMS[code].compress(zeros)
        out.append(bytes((i,)) + (4096).to_bytes(3, "big") + packed)
    if certcompress.ZSTD in CODES:  # frame header: no content size, window 2^(10+13)
        out.append(bytes((CODES.index(certcompress.ZSTD),)) + b"\x00\x10\x00"
                   + b"\x28\xb5\x2f\xfd\x00\x68" + b"\x01\x00\x00" * 2)
        # single segment, 16 bytes, dictionary 7: refused from its header
        out.append(bytes((CODES.index(certcompress.ZSTD),)) + b"\x00\x00\x10"
                   + b"\x28\xb5\x2f\xfd\x21\x07\x10" + b"\x81\x00\x00" + bytes(16))
    out.append(b"\x80" + certcompress.encode_extension(CODES) + b"\x00\x00")
    out.append(b"\x7f\x00\x00\x10" + b"\x00" * 16)
    return out


random_input = seeded(seeds, raw_max=120, keep=1, rounds=3,
                      interesting=(0, 1, 2, 0x78, 0x9C, 0x28, 0xB5, 0x2F, 0xFD, 0xFF))

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
