"""TLS records built, cut apart and protected independently of tlskit's record layer.

Protection is computed here from first principles and from key-log secrets (the
``SSLKEYLOGFILE`` lines a connection's ``keylog`` callback reports), as Wireshark or a
real peer would: the TLS 1.3 key schedule (RFC 8446 7.1, 7.3) and record protection
(5.2, 5.3), and the TLS 1.2 PRF and key block (RFC 5246 5, 6.3) with AEAD records
(RFC 5288 3, RFC 7905 2). A bug in tlskit's own derivation cannot hide behind this code.
The fuzz harnesses import this module too.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

HS, ALERT, APPDATA, CCS = 22, 21, 23, 20
WARNING, FATAL = 1, 2
COMPAT_CCS = b"\x14\x03\x03\x00\x01\x01"   # a change_cipher_spec record, body 0x01
MAX_PLAINTEXT = 1 << 14


# --- framing ------------------------------------------------------------------------------

def record(ctype: int, body: bytes, version: int = 0x0303) -> bytes:
    return struct.pack(">BHH", ctype, version, len(body)) + body


def hs_record(*messages: bytes) -> bytes:
    return record(HS, b"".join(messages))


def plain_alert(alert: int, level: int = FATAL) -> bytes:
    return record(ALERT, bytes((level, alert)))


def inner(ctype: int, content: bytes, padding: int = 0) -> bytes:
    """TLSInnerPlaintext: content || type || zeros."""
    return content + bytes((ctype,)) + bytes(padding)


def chunked(data: bytes, step: int) -> list[bytes]:
    """``data`` in pieces of ``step`` bytes (the last one shorter); ``[b""]`` for no data,
    so a receiver is always called at least once."""
    return [data[i:i + step] for i in range(0, len(data), step)] or [b""]


def split_records(data: bytes, *, whole: bool = True) -> list[bytes]:
    """The records in ``data``, header included. With ``whole`` (the default) asserts
    ``data`` is exactly a sequence of records; otherwise a partial tail is dropped."""
    out, pos = [], 0
    while pos < len(data):
        if len(data) - pos < 5:
            assert not whole, "trailing partial record header"
            break
        n = int.from_bytes(data[pos + 3:pos + 5], "big")
        if len(data) - pos < 5 + n:
            assert not whole, "trailing partial record"
            break
        out.append(data[pos:pos + 5 + n])
        pos += 5 + n
    return out


def messages_of(data: bytes) -> list[bytes]:
    """The handshake messages carried by the plaintext handshake records of one flight:
    those before its first change_cipher_spec (what follows a CCS is protected)."""
    recs = split_records(data, whole=False)
    first_ccs = next((i for i, r in enumerate(recs) if r[0] == CCS), len(recs))
    stream = b"".join(r[5:] for r in recs[:first_ccs] if r[0] == HS)
    out = []
    while len(stream) >= 4:
        n = int.from_bytes(stream[1:4], "big")
        out.append(stream[:4 + n])
        stream = stream[4 + n:]
    return out


# --- key logs -----------------------------------------------------------------------------

@dataclass
class KeyLog:
    """What a connection's ``keylog`` callback reported: ``label -> secret`` per client
    random, the content of an ``SSLKEYLOGFILE``. Pass ``keylog=log`` to a config."""

    lines: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    def __call__(self, label: str, client_random: bytes, secret: bytes) -> None:
        self.lines.append((label, bytes(client_random), bytes(secret)))

    def secret(self, label: str, occurrence: int = -1) -> bytes:
        """The secret logged under ``label`` (the last one by default)."""
        found = [s for name, _r, s in self.lines if name == label]
        assert found, f"no {label} in the key log ({[n for n, _r, _s in self.lines]})"
        return found[occurrence]

    def as_dict(self) -> dict[str, bytes]:
        return {label: secret for label, _r, secret in self.lines}

    def nss_lines(self) -> str:
        """The SSLKEYLOGFILE text (NSS key log format)."""
        return "".join(f"{label} {r.hex()} {s.hex()}\n" for label, r, s in self.lines)


# --- the TLS 1.3 key schedule (RFC 8446 7.1), written out independently ---------------

def expand_label(hash_name: str, secret: bytes, label: bytes, context: bytes,
                 length: int) -> bytes:
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes((len(full),)) + full + \
        bytes((len(context),)) + context
    out, block, counter = b"", b"", 1
    while len(out) < length:  # RFC 5869 HKDF-Expand
        block = hmac.digest(secret, block + info + bytes((counter,)), hash_name)
        out += block
        counter += 1
    return out[:length]


def extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    return hmac.digest(salt, ikm, hash_name)


def hash_of(hash_name: str, data: bytes) -> bytes:
    return hashlib.new(hash_name, data).digest()


def derive(hash_name: str, secret: bytes, label: bytes, transcript: bytes) -> bytes:
    size = hashlib.new(hash_name).digest_size
    return expand_label(hash_name, secret, label, hash_of(hash_name, transcript), size)


def finished_mac(hash_name: str, base_key: bytes, transcript: bytes) -> bytes:
    size = hashlib.new(hash_name).digest_size
    key = expand_label(hash_name, base_key, b"finished", b"", size)
    return hmac.digest(key, hash_of(hash_name, transcript), hash_name)


# suite code -> (AEAD class, key length, hash, tag length)
SUITES13: dict[int, tuple[Any, int, str, int]] = {
    0x1301: (AESGCM, 16, "sha256", 16),
    0x1302: (AESGCM, 32, "sha384", 16),
    0x1303: (ChaCha20Poly1305, 32, "sha256", 16),
    0x1304: (AESCCM, 16, "sha256", 16),
}


class Keys:
    """One direction's TLS 1.3 record protection (5.2, 5.3) from a traffic secret, with
    its own sequence number (starting at ``seq``)."""

    def __init__(self, suite: int, secret: bytes, seq: int = 0) -> None:
        aead, key_len, self.hash_name, _tag = SUITES13[suite]
        self.suite, self.secret = suite, secret
        self.aead = aead(expand_label(self.hash_name, secret, b"key", b"", key_len))
        self.iv = int.from_bytes(expand_label(self.hash_name, secret, b"iv", b"", 12), "big")
        self.seq = seq

    def _nonce(self) -> bytes:
        nonce = (self.iv ^ self.seq).to_bytes(12, "big")
        self.seq += 1
        return nonce

    def seal(self, inner: bytes, *, outer: int = APPDATA, length: int | None = None,
             version: int = 0x0303) -> bytes:
        """The next protected record carrying TLSInnerPlaintext ``inner``; ``length``
        overrides the header's length field (the AEAD still covers the real one), as
        ``version`` does legacy_record_version (the additional data is the header)."""
        header = struct.pack(">BHH", outer, version, len(inner) + 16 if length is None
                             else length)
        return header + self.aead.encrypt(self._nonce(), inner, header)

    def seal_content(self, ctype: int, content: bytes, padding: int = 0) -> bytes:
        return self.seal(inner(ctype, content, padding))

    def open(self, record: bytes) -> bytes:
        """The TLSInnerPlaintext of the next record."""
        return bytes(self.aead.decrypt(self._nonce(), record[5:], record[:5]))

    def updated(self) -> Keys:
        """The next generation after a KeyUpdate (7.2)."""
        size = hashlib.new(self.hash_name).digest_size
        return Keys(self.suite, expand_label(self.hash_name, self.secret, b"traffic upd",
                                             b"", size))


def seal(secret: bytes, seq: int, inner: bytes, *, outer_type: int = APPDATA,
         length: int | None = None, suite: int = 0x1301) -> bytes:
    """One protected TLS 1.3 record under a traffic secret (key log) at sequence ``seq``."""
    return Keys(suite, secret, seq).seal(inner, outer=outer_type, length=length)


# --- TLS 1.2 (RFC 5246 5, 6.3; RFC 5288 3; RFC 7905 2) -----------------------------------

def prf12(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """P_hash(secret, label + seed), the TLS 1.2 PRF."""
    seed = label + seed
    out, a = b"", seed
    while len(out) < length:
        a = hmac.digest(secret, a, hash_name)
        out += hmac.digest(secret, a + seed, hash_name)
    return out[:length]


# suite code -> (AEAD class, key length, hash, implicit IV length)
SUITES12: dict[int, tuple[Any, int, str, int]] = {
    0xC02B: (AESGCM, 16, "sha256", 4), 0xC02F: (AESGCM, 16, "sha256", 4),
    0xC02C: (AESGCM, 32, "sha384", 4), 0xC030: (AESGCM, 32, "sha384", 4),
    0xCCA9: (ChaCha20Poly1305, 32, "sha256", 12), 0xCCA8: (ChaCha20Poly1305, 32, "sha256", 12),
    0x009C: (AESGCM, 16, "sha256", 4), 0x009D: (AESGCM, 32, "sha384", 4),  # RSA transport
}


@dataclass
class Keys12:
    """One direction's TLS 1.2 AEAD key as a real peer holds it."""

    aead: Any
    salt: bytes        # 4-byte GCM salt, or the 12-byte ChaCha20-Poly1305 IV
    explicit: bool     # AES-GCM: an 8-byte explicit nonce travels in each record

    @classmethod
    def from_master(cls, suite: int, master: bytes, client_random: bytes,
                    server_random: bytes, *, client: bool) -> Keys12:
        """The client's or the server's write key from the master secret the key log
        records (``CLIENT_RANDOM <client random> <master secret>``) and the randoms
        seen on the wire."""
        aead, key_len, hash_name, iv_len = SUITES12[suite]
        block = prf12(hash_name, master, b"key expansion", server_random + client_random,
                      2 * (key_len + iv_len))
        c_key, s_key = block[:key_len], block[key_len:2 * key_len]
        c_iv, s_iv = block[2 * key_len:2 * key_len + iv_len], block[2 * key_len + iv_len:]
        return cls(aead(c_key if client else s_key), c_iv if client else s_iv, iv_len == 4)

    def nonce(self, seq: int, explicit: bytes) -> bytes:
        if self.explicit:
            return self.salt + explicit
        return (int.from_bytes(self.salt, "big") ^ seq).to_bytes(12, "big")

    def seal(self, seq: int, ctype: int, plain: bytes, *, explicit: bytes | None = None,
             version: int = 0x0303) -> bytes:
        """The record a peer sends: header || [explicit nonce] || ciphertext || tag."""
        ex = b""
        if self.explicit:
            ex = seq.to_bytes(8, "big") if explicit is None else explicit
        aad = seq.to_bytes(8, "big") + struct.pack(">BHH", ctype, version, len(plain))
        return record(ctype, ex + self.aead.encrypt(self.nonce(seq, ex), plain, aad), version)

    def open(self, seq: int, rec: bytes) -> tuple[int, bytes]:
        ctype = rec[0]
        ex_len = 8 if self.explicit else 0
        ex, ct = rec[5:5 + ex_len], rec[5 + ex_len:]
        aad = seq.to_bytes(8, "big") + struct.pack(">BHH", ctype, 0x0303, len(ct) - 16)
        return ctype, bytes(self.aead.decrypt(self.nonce(seq, ex), ct, aad))

    @property
    def overhead(self) -> int:
        return (8 if self.explicit else 0) + 16


def hello_random(flight: bytes) -> bytes:
    """The random of the ClientHello or ServerHello that opens a plaintext flight."""
    return messages_of(flight)[0][6:38]


def keys12_from_log(log: KeyLog, suite: int, client_hello: bytes, server_flight: bytes,
                    *, client: bool) -> Keys12:
    """A TLS 1.2 write key from a key log and the two hello flights as sent."""
    return Keys12.from_master(suite, log.secret("CLIENT_RANDOM"), hello_random(client_hello),
                              hello_random(server_flight), client=client)

