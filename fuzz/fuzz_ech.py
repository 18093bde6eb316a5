#!/usr/bin/env python3
"""Fuzz the Encrypted Client Hello decoders (`tlskit.wire.ech`): a client reads an
ECHConfigList from DNS or a file and retry_configs from the server's
EncryptedExtensions; a HelloRetryRequest carries a confirmation; a ClientHello the
ECHClientHello and ech_outer_extensions bodies.

With atheris installed:   python fuzz/fuzz_ech.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_ech.py [ITERATIONS] [SEED]

The contract under test: every decoder raises only `TLSError` with decode_error (the
ECHClientHello decoder also illegal_parameter, for an unknown type); whatever decodes
re-encodes to the same bytes; `choose_config` on a decoded list never raises and picks
only a config of version 0xfe0d with a supported KEM and suite. The server's
EncodedClientHelloInner reader (`handshake.ech_server.decode_inner`, what a decrypted
payload goes through) raises only decode_error or illegal_parameter.

Input layout: byte 0 picks the decoder (0xff: the inner hello reader against a fixed
outer hello; otherwise byte 0 mod 4); the rest is its input.
"""

from __future__ import annotations

import sys

from _harness import main, seeded

from tlskit import hpke
from tlskit.enums import AlertDescription as AD
from tlskit.errors import TLSError
from tlskit.handshake.ech import choose_config
from tlskit.handshake.ech_server import decode_inner
from tlskit.wire import ech
from tlskit.wire import messages as m


def _config_list(data: bytes) -> None:
    configs = ech.decode_config_list(data)
    assert ech.encode_config_list(configs) == data
    for c in configs:
        if c.known_version:
            rebuilt = ech.ECHConfig.build(c.config_id, c.kem_id, c.public_key,
                                          list(c.cipher_suites), c.public_name,
                                          c.maximum_name_length, list(c.extensions))
            assert rebuilt == c
    chosen = choose_config(configs)
    if chosen is not None:
        config, suite = chosen
        assert config.known_version and config.kem_id in hpke.SUPPORTED_KEMS
        assert suite in config.cipher_suites
        assert hpke.supported(config.kem_id, suite.kdf_id, suite.aead_id)


def _client_hello_ext(data: bytes) -> None:
    outer = ech.decode_client_hello_ext(data)
    assert (outer.encode() if outer is not None else ech.INNER_BODY) == data


def _outer_extensions(data: bytes) -> None:
    assert ech.encode_outer_extensions(ech.decode_outer_extensions(data)) == data


def _confirmation(data: bytes) -> None:
    assert ech.decode_hrr_confirmation(data) == data


DECODERS = (_config_list, _client_hello_ext, _outer_extensions, _confirmation)
OUTER = m.ClientHello(bytes(32), bytes(32), [0x1301], m.Extensions({
    0: b"\x00\x0f\x00\x00\x0cpublic.name", 10: b"\x00\x02\x00\x1d",
    51: b"\x00\x24\x00\x1d\x00\x20" + bytes(32), 13: b"\x00\x02\x04\x03"}))


def _inner(data: bytes) -> None:
    inner = decode_inner(data, OUTER)
    assert inner.session_id == OUTER.session_id
    assert inner.extensions[0xFE0D] == ech.INNER_BODY


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    if data[0] == 0xFF:
        try:
            _inner(data[1:])
        except TLSError as exc:
            assert exc.alert in (AD.decode_error, AD.illegal_parameter), exc
        return
    try:
        DECODERS[data[0] % len(DECODERS)](data[1:])
    except TLSError as exc:
        assert exc.alert in (AD.decode_error, AD.illegal_parameter), exc
        if data[0] % len(DECODERS) != 1:
            assert exc.alert == AD.decode_error, exc


def _sample_config(config_id: int, version: int = ech.ECH_VERSION) -> ech.ECHConfig:
    config = ech.ECHConfig.build(
        config_id, hpke.KemId.DHKEM_X25519_HKDF_SHA256, bytes(range(32)),
        [ech.CipherSuite(1, 1), ech.CipherSuite(1, 3)], b"public.example", 32,
        [ech.ConfigExtension(0x8001, b"m")])
    return config if version == ech.ECH_VERSION else ech.ECHConfig(version, config.contents)


def seeds() -> list[bytes]:
    good = ech.encode_config_list([_sample_config(1), _sample_config(2, 0xFE0C)])
    outer = ech.OuterHello(ech.CipherSuite(1, 1), 7, bytes(32), bytes(48)).encode()
    inner = m.ClientHello(bytes(range(32)), b"", [0x1301], m.Extensions({
        43: b"\x02\x03\x04", 0xFE0D: ech.INNER_BODY,
        0xFD00: ech.encode_outer_extensions([10, 51])})).encode()[4:] + bytes(12)
    return [b"\x00" + good, b"\x01" + outer, b"\x01" + ech.INNER_BODY,
            b"\x02" + ech.encode_outer_extensions([10, 13, 51]), b"\x03" + bytes(8),
            b"\xff" + inner]


random_input = seeded(seeds, raw_max=200, keep=1, rounds=3,
                      interesting=(0, 1, 4, 0x20, 0xFE, 0x0D, 0xFF))

if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input))
