#!/usr/bin/env python3
"""Fuzz the record layer: framing, AEAD opening, padding stripping, size limits.

With atheris installed:   python fuzz/fuzz_record.py -atheris_runs=100000
Without it (standalone):  python fuzz/fuzz_record.py [ITERATIONS] [SEED]

The contract under test: `RecordLayer.next_record` either returns None (incomplete),
a (content type, content) pair that respects every limit (once keys are set, a
two-byte alert in the clear until the first record opens: RFC 8446 6), or raises a
`TLSError` that carries one of the record-layer alerts -- never anything else, and it
never holds more than one record of unprocessed input after returning None.

Input layout: byte 0 picks the mode (plaintext / protected / protected with a small
record_size_limit), byte 1 how the rest is chunked; the rest is the stream. In the
protected modes, stretches that start with 0xAA 0xAA are sealed as genuine records
(the following bytes are the TLSInnerPlaintext), so the fuzzer also reaches the code
behind a successful decryption.
"""

from __future__ import annotations

import struct
import sys

from _harness import main, seeded
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tlskit.crypto import SUITES
from tlskit.enums import AlertDescription as AD
from tlskit.enums import CipherSuite
from tlskit.errors import TLSError
from tlskit.record import MAX_CIPHERTEXT, MAX_PLAINTEXT, RecordLayer

SUITE = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
KEY, IV = bytes(range(16)), bytes(range(16, 28))
ALLOWED = {AD.decode_error, AD.unexpected_message, AD.record_overflow, AD.bad_record_mac}
MARK = b"\xaa\xaa"


def seal(inner: bytes, seq: int) -> bytes:
    nonce = (int.from_bytes(IV, "big") ^ seq).to_bytes(12, "big")
    header = struct.pack(">BHH", 23, 0x0303, len(inner) + 16)
    return header + AESGCM(KEY).encrypt(nonce, inner, header)


def build_stream(body: bytes) -> bytes:
    """Replace each MARK-prefixed piece (up to the next MARK) by a sealed record."""
    if MARK not in body:
        return body
    head, *pieces = body.split(MARK)
    out = bytearray(head)
    for seq, inner in enumerate(pieces):
        out += seal(inner[: MAX_PLAINTEXT + 300], seq)
    return bytes(out)


def TestOneInput(data: bytes) -> None:
    if len(data) < 2:
        return
    mode, chunking, body = data[0] % 3, data[1], data[2:]
    layer = RecordLayer()
    if mode:
        layer.set_read_key(SUITE, KEY, IV)
        body = build_stream(body)
    if mode == 2:
        layer.receive_limit = 63
    step = max(1, chunking * 7) if chunking else len(body) or 1
    try:
        for i in range(0, max(len(body), 1), step):
            layer.feed(body[i:i + step])
            while True:
                rec = layer.next_record()
                if rec is None:
                    break
                ctype, content = rec
                assert ctype in (20, 21, 22, 23), ctype
                if ctype == 20:   # the compatibility CCS stays plaintext, even after keys
                    assert 0 < len(content) <= MAX_CIPHERTEXT
                    continue
                limit = layer.receive_limit if mode else MAX_PLAINTEXT
                assert len(content) <= limit, (len(content), limit)
                assert content or ctype == 23
            assert layer.buffered <= 5 + MAX_CIPHERTEXT, layer.buffered
    except TLSError as exc:
        assert exc.alert in ALLOWED, exc


# --- standalone driver --------------------------------------------------------------------

def seeds() -> list[bytes]:
    ch = b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"
    return [
        b"\x00\x00" + ch * 3,
        b"\x00\x01" + ch + b"\x15\x03\x03\x00\x02\x02\x28" + b"\x14\x03\x03\x00\x01\x01",
        b"\x01\x00" + MARK + b"hello\x17" + MARK + b"\x01\x00\x15\x00\x00" + MARK + b"\x00",
        b"\x02\x05" + MARK + b"x" * 70 + b"\x17" + MARK + b"y" * 10 + b"\x16" + bytes(60),
        b"\x01\x00" + b"\x17\x03\x03\x41\x01" + bytes(20),
    ]


random_input = seeded(seeds, raw=0.15, raw_max=200, keep=0,
                      interesting=(0, 1, 0x14, 0x15, 0x16, 0x17, 0x40, 0xFF), marker=MARK,
                      max_copy=32)

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
