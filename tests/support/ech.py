"""An ECH client-facing server for in-memory tests, built around tlskit's own server
(which implements no ECH): it opens the ClientHelloOuter with the test's HPKE key,
rebuilds ClientHelloInner (RFC 9849 5.1) and hands that to a `ServerConnection` whose
rng makes ServerHello.random end in the acceptance confirmation (7.2). Independent of
the client's code: HPKE from `tlskit.hpke` (checked against RFC 9180's vectors), the
confirmation from RFC 8446's HKDF written out here."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from tlskit import ServerConnection, hpke
from tlskit.wire import ech

from .pki import det_rng, server_config
from .records import HS, record, split_records

ECH_EXT = 0xFE0D
OUTER_EXTS = 0xFD00


@dataclass
class EchKey:
    """A config and its private key, as `bssl-tool generate-ech` would write them."""

    config: ech.ECHConfig
    private_key: X25519PrivateKey

    @classmethod
    def make(cls, public_name: bytes = b"public.example", config_id: int = 1,
             max_name: int = 0, suites: tuple[tuple[int, int], ...] = ((1, 1),)) -> EchKey:
        key = X25519PrivateKey.generate()
        config = ech.ECHConfig.build(config_id, 0x0020, key.public_key().public_bytes_raw(),
                                     [ech.CipherSuite(*s) for s in suites], public_name,
                                     max_name)
        return cls(config, key)

    @property
    def config_list(self) -> bytes:
        return ech.encode_config_list([self.config])


def _vec(data: bytes, pos: int, width: int) -> tuple[bytes, int]:
    n = int.from_bytes(data[pos:pos + width], "big")
    return data[pos + width:pos + width + n], pos + width + n


def parse_hello(body: bytes) -> tuple[dict[str, Any], int]:
    """A ClientHello body's fields (extensions in order as a list) and its length."""
    random = body[2:34]
    sid, pos = _vec(body, 34, 1)
    suites, pos = _vec(body, pos, 2)
    comp, pos = _vec(body, pos, 1)
    block, end = _vec(body, pos, 2)
    exts, at = [], 0
    while at < len(block):
        t = int.from_bytes(block[at:at + 2], "big")
        data, at = _vec(block, at + 2, 2)
        exts.append((t, data))
    return {"random": random, "sid": sid, "suites": suites, "comp": comp, "exts": exts}, end


def build_hello(f: dict[str, Any]) -> bytes:
    """A ClientHello handshake message (with its header) from `parse_hello`'s fields."""
    block = b"".join(t.to_bytes(2, "big") + len(d).to_bytes(2, "big") + d
                     for t, d in f["exts"])
    body = (b"\x03\x03" + f["random"] + bytes((len(f["sid"]),)) + f["sid"]
            + len(f["suites"]).to_bytes(2, "big") + f["suites"] + bytes((len(f["comp"]),))
            + f["comp"] + len(block).to_bytes(2, "big") + block)
    return b"\x01" + len(body).to_bytes(3, "big") + body


@dataclass
class Opened:
    inner: bytes  # ClientHelloInner, as a handshake message
    outer: dict[str, Any]
    padding: bytes  # the zeros after EncodedClientHelloInner's ClientHello
    context: hpke.Context
    encoded_length: int  # EncodedClientHelloInner's, padding included


def open_outer(hello: bytes, key: EchKey, context: hpke.Context | None = None) -> Opened:
    """ClientHelloOuter (a handshake message) -> ClientHelloInner, as a server does it
    (RFC 9849 7.1): AAD with the payload zeroed, outer extensions expanded."""
    body = hello[4:]
    outer, _ = parse_hello(body)
    ext_body = dict(outer["exts"])[ECH_EXT]
    offer = ech.decode_client_hello_ext(ext_body)
    assert offer is not None and offer.config_id == key.config.config_id
    zeroed = ext_body[:-len(offer.payload)] + bytes(len(offer.payload))
    aad = body.replace(ext_body, zeroed)
    if context is None:
        info = b"tls ech\x00" + key.config.encode()
        context = hpke.setup_base_r(offer.enc, key.private_key, info,
                                    offer.cipher_suite.kdf_id, offer.cipher_suite.aead_id)
    else:
        assert offer.enc == b""  # 6.1.5: the second hello reuses the context
    encoded = context.open(aad, offer.payload)
    fields, end = parse_hello(encoded)
    assert fields["sid"] == b""  # 5.1: the encoded inner hello has no session id
    fields["sid"] = outer["sid"]
    outer_map = dict(outer["exts"])
    expanded = []
    for t, d in fields["exts"]:
        if t == OUTER_EXTS:
            expanded += [(u, outer_map[u]) for u in ech.decode_outer_extensions(d)]
        else:
            expanded.append((t, d))
    fields["exts"] = expanded
    assert not encoded[end:].strip(b"\x00")  # 5.1: the padding is zeros
    return Opened(build_hello(fields), outer, encoded[end:], context, len(encoded))


def confirmation(inner_random: bytes, transcript: bytes, label: bytes) -> bytes:
    """HKDF-Expand-Label(HKDF-Extract(0, inner random), label, Hash(transcript), 8) with
    SHA-256 (RFC 8446 7.1), written out."""
    prk = hmac.new(bytes(32), inner_random, hashlib.sha256).digest()
    full = b"tls13 " + label
    th = hashlib.sha256(transcript).digest()
    info = (8).to_bytes(2, "big") + bytes((len(full),)) + full + bytes((len(th),)) + th
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:8]


class _Recorder:
    def __init__(self, seed: int, patch: tuple[int, bytes] | None = None) -> None:
        self.rng = det_rng(seed)
        self.calls: list[bytes] = []
        self.patch = patch

    def __call__(self, n: int) -> bytes:
        out = self.rng(n)
        if self.patch is not None and len(self.calls) == self.patch[0]:
            out = out[:24] + self.patch[1]
        self.calls.append(out)
        return out


def accepting_server(client_first_flight: bytes, key: EchKey,
                     server_kw: dict[str, Any] | None = None,
                     confirm: Callable[[bytes], bytes] | None = None,
                     ) -> tuple[ServerConnection, Opened]:
    """A tlskit server that has answered the inner hello of ``client_first_flight``
    with a ServerHello confirming ECH (``confirm`` may change the 8 bytes)."""
    (rec,) = [r for r in split_records(client_first_flight) if r[0] == HS]
    opened = open_outer(rec[5:], key)
    inner_record = record(HS, opened.inner, 0x0301)
    kw = dict(server_kw or {})

    def serve(rng: _Recorder) -> tuple[ServerConnection, bytes]:
        server = ServerConnection(server_config(rng=rng, **kw))
        server.receive_data(inner_record)
        return server, server.data_to_send()

    probe = _Recorder(7)
    _, flight = serve(probe)
    sh = split_records(flight)[0][5:]
    sh = sh[:4 + int.from_bytes(sh[1:4], "big")]
    index = next(i for i, c in enumerate(probe.calls) if c == sh[6:38])
    zeroed = sh[:30] + bytes(8) + sh[38:]
    tail = confirmation(opened.inner[6:38], opened.inner + zeroed, b"ech accept confirmation")
    if confirm is not None:
        tail = confirm(tail)
    server, flight = serve(_Recorder(7, (index, tail)))
    server._ech_flight = flight  # type: ignore[attr-defined]
    return server, opened
