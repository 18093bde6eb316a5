#!/usr/bin/env python3
"""Fuzz the handshake message and extension decoders.

With atheris installed:   python fuzz/fuzz_messages.py -atheris_runs=100000
Without it (standalone):  python fuzz/fuzz_messages.py [ITERATIONS] [SEED]

The contract under test: every decoder either returns a value or raises a `TLSError`
(decode_error, illegal_parameter, unexpected_message); whatever decodes re-encodes to
something that decodes to the same value.

Input layout: byte 0 picks the decoder (the handshake message types, then the extension
helpers), the rest is the body.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from _harness import extension_roundtrip, main, seeded
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from tlskit.certselect import decode_certificate_authorities, encode_certificate_authorities
from tlskit.enums import AlertDescription as AD
from tlskit.errors import TLSError
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m

ALLOWED = {AD.decode_error, AD.illegal_parameter, AD.unexpected_message}

# name, decoder, encoder (value -> body) or None
EXTENSIONS: list[tuple[str, Callable[[bytes], Any], Callable[[Any], bytes] | None]] = [
    ("server_name", ext.decode_server_name,
     lambda v: ext.encode_server_name(v) if v is not None else b""),
    ("versions", ext.decode_versions_client, ext.encode_versions_client),
    ("version_server", ext.decode_version_server, lambda v: v.to_bytes(2, "big")),
    ("u16_list", lambda b: ext.decode_u16_list(b, "list"), ext.encode_u16_list),
    ("key_share_client", ext.decode_key_share_client, ext.encode_key_share_client),
    ("key_share_server", ext.decode_key_share_server,
     lambda v: ext.encode_key_share_server(*v)),
    ("key_share_hrr", ext.decode_key_share_hrr, ext.encode_key_share_hrr),
    ("alpn", ext.decode_alpn, None),       # names decode as latin-1, encode as ascii
    ("record_size_limit", ext.decode_record_size_limit, ext.encode_record_size_limit),
    ("cookie", ext.decode_cookie, ext.encode_cookie),
    ("psk_modes", ext.decode_psk_modes, ext.encode_psk_modes),
    ("status_request", ext.decode_status_request, None),
    ("ocsp_status", ext.decode_ocsp_status, ext.encode_ocsp_status),
    ("pre_shared_key", ext.decode_pre_shared_key_client,
     lambda v: ext.encode_pre_shared_key_client(*v)),
    ("selected_identity", ext.decode_selected_identity, lambda v: v.to_bytes(2, "big")),
    # (the names are DER Names, read into x509.Name objects: they must encode back alike)
    ("certificate_authorities", decode_certificate_authorities,
     encode_certificate_authorities),
]
MESSAGE_TYPES = sorted(m.DECODERS)
CHOICES = len(MESSAGE_TYPES) + len(EXTENSIONS)


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    choice, body = data[0] % CHOICES, data[1:]
    try:
        if choice < len(MESSAGE_TYPES):
            msg_type = MESSAGE_TYPES[choice]
            msg = m.decode_message(msg_type, body)
            raw = msg.encode()
            assert raw[0] == msg_type
            assert int.from_bytes(raw[1:4], "big") == len(raw) - 4
            assert m.decode_message(msg_type, raw[4:]) == msg
            return
        extension_roundtrip(EXTENSIONS[choice - len(MESSAGE_TYPES)], body)
    except TLSError as exc:
        assert exc.alert in ALLOWED, exc
    # An unknown type is refused whatever the body.
    try:
        m.decode_message(0x63, body)
    except TLSError as exc:
        assert exc.alert == AD.unexpected_message
    else:
        raise AssertionError("message type 99 decoded")


def _name(common_name: str, bmp: bool = False) -> x509.Name:
    kind = _ASN1Type.BMPString if bmp else _ASN1Type.UTF8String
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name, kind)])


# --- standalone driver --------------------------------------------------------------------

def seeds() -> list[bytes]:
    exts = m.Extensions({0: b"", 10: b"\x00\x02\x00\x1d", 43: b"\x02\x03\x04"})
    msgs = [
        m.ClientHello(bytes(32), bytes(32), [0x1301, 0x1302], exts),
        m.ServerHello(bytes(32), b"", 0x1301, m.Extensions({43: b"\x03\x04"})),
        m.EncryptedExtensions(m.Extensions({16: b"\x00\x03\x02h2"})),
        m.Certificate(b"", [m.CertificateEntry(b"\x30\x00", m.Extensions({5: b"\x01"}))]),
        m.CertificateVerify(0x0403, b"\x30\x06\x02\x01\x01\x02\x01\x01"),
        m.CertificateRequest(b"", m.Extensions({13: b"\x00\x02\x04\x03"})),
        m.Finished(bytes(32)),
        m.NewSessionTicket(7200, 1, b"\x00", b"ticket", m.Extensions({42: b"\x00\x00\x40\x00"})),
        m.KeyUpdate(1),
        m.EndOfEarlyData(),
    ]
    out = []
    for msg in msgs:
        raw = msg.encode()
        out.append(bytes((MESSAGE_TYPES.index(raw[0]),)) + raw[4:])
    ext_bodies = [
        ext.encode_server_name("example.com"), ext.encode_versions_client([0x0304, 0x0303]),
        b"\x03\x04", ext.encode_u16_list([0x1D, 0x17]),
        ext.encode_key_share_client([(0x1D, bytes(32))]),
        ext.encode_key_share_server(0x1D, bytes(32)), b"\x00\x17",
        ext.encode_alpn(["h2", "http/1.1"]), b"\x40\x01", ext.encode_cookie(b"c" * 20),
        b"\x01\x01", ext.encode_status_request_ocsp(), ext.encode_ocsp_status(b"\x30\x00"),
        ext.encode_pre_shared_key_client([(b"id", 5)], [bytes(32)]), b"\x00\x00",
        encode_certificate_authorities([_name("root A"), _name("b \u00e9", bmp=True)]),
    ]
    for i, body in enumerate(ext_bodies):
        out.append(bytes((len(MESSAGE_TYPES) + i,)) + body)
    return out


random_input = seeded(seeds, raw_max=80, keep=1, rounds=3,
                      interesting=(0, 1, 0x20, 0x21, 0x7F, 0xFF), max_insert=6, max_copy=16)

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
