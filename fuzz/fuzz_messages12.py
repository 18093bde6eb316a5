#!/usr/bin/env python3
"""Fuzz the TLS 1.2 handshake message decoders (`tlskit.wire.messages12`, through the
engine's table `DECODERS12`, and RSA key transport's ClientKeyExchange) and the
extension decoders `fuzz_messages.py` does not reach (TLS 1.2's renegotiation_info and
ec_point_formats, max_fragment_length, compress_certificate, the server's view of a
client's server_name, the one-value and 1-byte-prefixed u16 lists).

With atheris installed:   python fuzz/fuzz_messages12.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_messages12.py [ITERATIONS] [SEED]

`fuzz_tls12.py` reaches the same decoders through a live handshake; this harness calls
each directly, so every input exercises one.

The contract under test: every decoder returns a value or raises a `TLSError` with
decode_error or illegal_parameter; a decoded message re-encodes to a body that decodes
to the same message.

Input layout: byte 0 picks the decoder (the TLS 1.2 message types, then the extension
helpers), the rest is the body.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from _harness import extension_roundtrip, main, seeded

from tlskit.enums import AlertDescription as AD
from tlskit.errors import TLSError
from tlskit.handshake.common12 import DECODERS12
from tlskit.wire import certcompress
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m
from tlskit.wire import messages12 as m12

ALLOWED = {AD.decode_error, AD.illegal_parameter}

MESSAGES: list[Any] = [DECODERS12[t] for t in sorted(DECODERS12)] + [m12.ClientKeyExchangeRSA]
# name, decoder, encoder (value -> body) or None
EXTENSIONS: list[tuple[str, Callable[[bytes], Any], Callable[[Any], bytes] | None]] = [
    ("client_server_name", ext.decode_client_server_name, None),
    ("u16_list8", lambda b: ext.decode_u16_list8(b, "list"),
     lambda v: ext.encode_u16_list(v, prefix=1)),
    ("u16", lambda b: ext.decode_u16(b, "value"), lambda v: v.to_bytes(2, "big")),
    ("max_fragment_length", ext.decode_max_fragment_length, ext.encode_max_fragment_length),
    ("renegotiation_info", ext.decode_renegotiation_info, lambda v: bytes((len(v),)) + v),
    ("ec_point_formats", ext.decode_ec_point_formats, lambda v: bytes((len(v),)) + v),
    ("compress_certificate", certcompress.decode_extension, certcompress.encode_extension),
]
CHOICES = len(MESSAGES) + len(EXTENSIONS)


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    choice, body = data[0] % CHOICES, data[1:]
    try:
        if choice < len(MESSAGES):
            cls = MESSAGES[choice]
            msg = cls.decode(body)
            raw = msg.encode()
            assert int.from_bytes(raw[1:4], "big") == len(raw) - 4
            assert cls.decode(raw[4:]) == msg
            return
        extension_roundtrip(EXTENSIONS[choice - len(MESSAGES)], body)
    except TLSError as exc:
        assert exc.alert in ALLOWED, exc


def seeds() -> list[bytes]:
    msgs = [
        m12.Certificate12([b"\x30\x03\x02\x01\x01", b"\x30\x00"]),
        m12.ServerKeyExchangeECDHE(0x1D, bytes(32), 0x0807, bytes(64)),
        m12.ServerHelloDone(),
        m12.ClientKeyExchangeECDHE(b"\x04" + bytes(64)),
        m12.CertificateRequest12(b"\x01\x40", [0x0403, 0x0804], [b"\x30\x00"]),
        m12.CertificateVerify12(0x0403, b"\x30\x06\x02\x01\x01\x02\x01\x01"),
        m12.CertificateStatus(b"\x30\x03\x0a\x01\x00"),
        m12.HelloRequest(),
        m12.NewSessionTicket12(7200, b"ticket"),
        m12.ClientKeyExchangeRSA(bytes(256)),
        m.Finished(bytes(12)),
    ]
    out = [bytes((MESSAGES.index(type(msg)),)) + msg.encode()[4:] for msg in msgs]
    ext_bodies = [
        ext.encode_server_name("example.com"), ext.encode_u16_list([0x1D, 0x17], prefix=1),
        b"\x00\x17", b"\x02", b"\x00", b"\x01\x00", certcompress.encode_extension([1, 2]),
    ]
    for i, body in enumerate(ext_bodies):
        out.append(bytes((len(MESSAGES) + i,)) + body)
    return out


random_input = seeded(seeds, raw_max=80, keep=1, rounds=3,
                      interesting=(0, 1, 0x20, 0x21, 0x7F, 0xFF), max_insert=6, max_copy=16)

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
