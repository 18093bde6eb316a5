"""ClientHello fingerprints: JA3 and JA4, from the bytes a client sent.

Both are computed from the ClientHello as it arrived, parsed here on its own (a small,
bounded parser that never raises on hostile input: a malformed hello gives None), so they
work for any client and for TLS 1.2 and 1.3 alike.

- JA3 (Salesforce, 2017): ``SSLVersion,Ciphers,Extensions,EllipticCurves,
  EllipticCurvePointFormats``, decimal values joined by ``-``, GREASE left out; the
  fingerprint is the MD5 of that string.
- JA4 (FoxIO, 2023): ``t13d1516h2_<12 hex>_<12 hex>``: transport, highest offered
  version, SNI present, cipher and extension counts, first ALPN's first and last
  characters; then truncated SHA-256 hashes of the sorted suites, and of the sorted
  extensions (without SNI and ALPN) with the signature algorithms in offered order.
  GREASE is ignored everywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

HANDSHAKE = 22
CHANGE_CIPHER_SPEC = 20
CLIENT_HELLO = 1
MAX_HELLOS = 2  # a HelloRetryRequest makes two

T = TypeVar("T")

SNI, GROUPS, POINT_FORMATS, SIG_ALGS, ALPN, VERSIONS = 0, 10, 11, 13, 16, 43


def is_grease(code: int) -> bool:
    """RFC 8701 GREASE: 0x?A?A with both bytes equal."""
    return (code & 0x0F0F) == 0x0A0A and (code >> 8) == (code & 0xFF)


class _Short(Exception):
    """The input ended before the structure did."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise _Short()
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def vec(self, length_bytes: int) -> bytes:
        return self.take(int.from_bytes(self.take(length_bytes), "big"))

    def left(self) -> int:
        return len(self.data) - self.pos


def _u16s(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data) - 1, 2)]


@dataclass
class Hello:
    """A parsed ClientHello: every list in the order the client sent it."""

    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: list[int]
    compression_methods: bytes
    extensions: list[tuple[int, bytes]] = field(default_factory=list)
    size: int = 0  # the handshake message's length, header included

    def ext(self, code: int) -> bytes | None:
        return next((body for t, body in self.extensions if t == code), None)

    @property
    def extension_types(self) -> list[int]:
        return [t for t, _ in self.extensions]

    def _u16_vector(self, code: int, length_bytes: int = 2) -> list[int]:
        body = self.ext(code)
        if body is None:
            return []
        try:
            return _u16s(_Reader(body).vec(length_bytes))
        except _Short:
            return []

    @property
    def groups(self) -> list[int]:
        return self._u16_vector(GROUPS)

    @property
    def signature_algorithms(self) -> list[int]:
        return self._u16_vector(SIG_ALGS)

    @property
    def supported_versions(self) -> list[int]:
        return self._u16_vector(VERSIONS, 1)

    @property
    def point_formats(self) -> list[int]:
        body = self.ext(POINT_FORMATS)
        if body is None:
            return []
        try:
            return list(_Reader(body).vec(1))
        except _Short:
            return []

    def _list16(self, code: int, entry: Callable[[_Reader], T]) -> list[T]:
        """The entries of extension ``code``'s list (2-byte length), as many as parse."""
        body = self.ext(code)
        out: list[T] = []
        if body is None:
            return out
        try:
            r = _Reader(_Reader(body).vec(2))
            while r.left():
                out.append(entry(r))
        except _Short:
            pass
        return out

    @property
    def alpn(self) -> list[bytes]:
        return self._list16(ALPN, lambda r: r.vec(1))

    @property
    def key_shares(self) -> list[tuple[int, int]]:
        """(group, length of the public value) for each share offered."""
        return self._list16(51, lambda r: (r.u16(), len(r.vec(2))))

    @property
    def server_name(self) -> str | None:
        names = self._list16(SNI, lambda r: (r.u8(), r.vec(2)))
        return next((value.decode("ascii", "replace") for kind, value in names if kind == 0),
                    None)


def parse_client_hello(body: bytes) -> Hello | None:
    """The ClientHello in ``body`` (the handshake message, with or without its 4-byte
    header), or None if it is not one or does not parse."""
    if len(body) >= 4 and body[0] == CLIENT_HELLO and \
            int.from_bytes(body[1:4], "big") == len(body) - 4:
        body = body[4:]
    try:
        r = _Reader(body)
        version = r.u16()
        random = r.take(32)
        session_id = r.vec(1)
        suites = _u16s(r.vec(2))
        compression = r.vec(1)
        hello = Hello(version, random, session_id, suites, compression, size=len(body) + 4)
        if r.left():
            exts = _Reader(r.vec(2))
            while exts.left():
                code = exts.u16()
                hello.extensions.append((code, exts.vec(2)))
        return hello
    except _Short:
        return None


def handshake_messages(stream: bytes, limit: int = 8) -> list[tuple[int, bytes]]:
    """The plaintext handshake messages (type, full message) at the start of a byte
    stream: records of type handshake are reassembled, change_cipher_spec records are
    skipped, anything else (an encrypted record, an alert) ends the plaintext part."""
    payload = bytearray()
    pos = 0
    while pos + 5 <= len(stream):
        ctype = stream[pos]
        length = int.from_bytes(stream[pos + 3:pos + 5], "big")
        if ctype not in (HANDSHAKE, CHANGE_CIPHER_SPEC) or pos + 5 + length > len(stream):
            break
        if ctype == HANDSHAKE:
            payload += stream[pos + 5:pos + 5 + length]
        pos += 5 + length
    out: list[tuple[int, bytes]] = []
    i = 0
    while i + 4 <= len(payload) and len(out) < limit:
        length = int.from_bytes(payload[i + 1:i + 4], "big")
        if i + 4 + length > len(payload):
            break
        out.append((payload[i], bytes(payload[i:i + 4 + length])))
        i += 4 + length
    return out


def client_hellos(stream: bytes) -> list[Hello]:
    """The ClientHellos (one, or two after a HelloRetryRequest) a client sent first."""
    hellos = []
    for kind, message in handshake_messages(stream):
        if kind == CLIENT_HELLO:
            hello = parse_client_hello(message)
            if hello is not None:
                hellos.append(hello)
            if len(hellos) == MAX_HELLOS:
                break
    return hellos


# --------------------------------------------------------------------------- JA3


def ja3_string(hello: Hello) -> str:
    def dec(values: list[int]) -> str:
        return "-".join(str(v) for v in values if not is_grease(v))

    return ",".join([str(hello.legacy_version), dec(hello.cipher_suites),
                     dec(hello.extension_types), dec(hello.groups),
                     "-".join(str(v) for v in hello.point_formats)])


def ja3(hello: Hello) -> str:
    return hashlib.md5(ja3_string(hello).encode(), usedforsecurity=False).hexdigest()


# --------------------------------------------------------------------------- JA4

_JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3",
                 0x0200: "s2", 0x0100: "s1"}


def _alnum(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _ja4_alpn(hello: Hello) -> str:
    alpn = hello.alpn
    if not alpn or not alpn[0]:
        return "00"
    first = alpn[0]
    if _alnum(first[0]) and _alnum(first[-1]):
        return chr(first[0]) + chr(first[-1])
    hexed = first.hex()
    return hexed[0] + hexed[-1]


def _hex_list(values: list[int]) -> str:
    return ",".join(f"{v:04x}" for v in values)


def _hash12(text: str) -> str:
    if not text:
        return "000000000000"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ja4_parts(hello: Hello, transport: str = "t") -> tuple[str, str, str]:
    """(JA4_a, the sorted cipher list, the sorted extension list + signature algorithms):
    the raw JA4 (``JA4_r``) is these joined by ``_``."""
    versions = [v for v in hello.supported_versions if not is_grease(v)]
    version = _JA4_VERSIONS.get(max(versions) if versions else hello.legacy_version, "00")
    suites = [s for s in hello.cipher_suites if not is_grease(s)]
    exts = [e for e in hello.extension_types if not is_grease(e)]
    a = (f"{transport}{version}{'d' if SNI in exts else 'i'}"
         f"{min(len(suites), 99):02d}{min(len(exts), 99):02d}{_ja4_alpn(hello)}")
    b = _hex_list(sorted(suites))
    c = _hex_list(sorted(e for e in exts if e not in (SNI, ALPN)))
    sigs = [s for s in hello.signature_algorithms if not is_grease(s)]
    if sigs:
        c += "_" + _hex_list(sigs)
    return a, b, c


def ja4(hello: Hello, transport: str = "t") -> str:
    a, b, c = ja4_parts(hello, transport)
    return f"{a}_{_hash12(b)}_{_hash12(c) if c.split('_')[0] else '000000000000'}"


def ja4_raw(hello: Hello, transport: str = "t") -> str:
    return "_".join(ja4_parts(hello, transport))
