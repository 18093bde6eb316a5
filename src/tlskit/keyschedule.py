"""The TLS 1.3 key schedule (RFC 8446 section 7.1), one small type per stage.

    PSK or 0 -> EarlySecret -> (+ECDHE) HandshakeSecret -> (+0) MasterSecret

Each stage can only derive what the RFC derives from it, so a secret cannot be used at
the wrong stage; the previous stage is dropped when the next exists.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

from .crypto import Suite

_LABEL_PREFIX = b"tls13 "


def hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    return hmac.digest(salt, ikm, hash_name)


def hkdf_expand_label(hash_name: str, secret: bytes, label: bytes, context: bytes,
                      length: int) -> bytes:
    """HKDF-Expand-Label (7.1). One HMAC when the output fits one hash block, the common case."""
    full = _LABEL_PREFIX + label
    info = struct.pack(">HB", length, len(full)) + full + bytes((len(context),)) + context
    out = hmac.digest(secret, info + b"\x01", hash_name)
    if length <= len(out):
        return out[:length]
    blocks = [out]
    block = out
    counter = 1
    while sum(map(len, blocks)) < length:
        counter += 1
        block = hmac.digest(secret, block + info + bytes((counter,)), hash_name)
        blocks.append(block)
    return b"".join(blocks)[:length]


def _empty_hash(hash_name: str) -> bytes:
    import hashlib
    return hashlib.new(hash_name).digest()


@dataclass(slots=True)
class TrafficKeys:
    """The AEAD key and static IV derived from one traffic secret (7.3)."""

    secret: bytes
    key: bytes
    iv: bytes


def traffic_keys(suite: Suite, secret: bytes) -> TrafficKeys:
    h = suite.hash_name
    return TrafficKeys(secret, hkdf_expand_label(h, secret, b"key", b"", suite.key_length),
                       hkdf_expand_label(h, secret, b"iv", b"", 12))


def next_traffic_secret(suite: Suite, secret: bytes) -> bytes:
    """application_traffic_secret_N+1 (7.2), for KeyUpdate."""
    return hkdf_expand_label(suite.hash_name, secret, b"traffic upd", b"", suite.hash_length)


def finished_key(suite: Suite, base_key: bytes) -> bytes:
    return hkdf_expand_label(suite.hash_name, base_key, b"finished", b"", suite.hash_length)


def finished_verify_data(suite: Suite, base_key: bytes, transcript_hash: bytes) -> bytes:
    return hmac.digest(finished_key(suite, base_key), transcript_hash, suite.hash_name)


class _Stage:
    __slots__ = ("secret", "suite")

    def __init__(self, suite: Suite, secret: bytes) -> None:
        self.suite = suite
        self.secret = secret

    def derive(self, label: bytes, transcript_hash: bytes) -> bytes:
        return hkdf_expand_label(self.suite.hash_name, self.secret, label, transcript_hash,
                                 self.suite.hash_length)

    def _derived(self) -> bytes:
        return self.derive(b"derived", _empty_hash(self.suite.hash_name))


class EarlySecret(_Stage):
    """Extract(0, PSK or zeros). Binder and early traffic secrets come from here."""

    @classmethod
    def start(cls, suite: Suite, psk: bytes | None = None) -> EarlySecret:
        zeros = bytes(suite.hash_length)
        return cls(suite, hkdf_extract(suite.hash_name, zeros, psk or zeros))

    def binder_key(self, external: bool = False) -> bytes:
        label = b"ext binder" if external else b"res binder"
        return self.derive(label, _empty_hash(self.suite.hash_name))

    def client_early_traffic_secret(self, transcript_hash: bytes) -> bytes:
        return self.derive(b"c e traffic", transcript_hash)

    def handshake(self, shared_secret: bytes) -> HandshakeSecret:
        return HandshakeSecret(self.suite, hkdf_extract(self.suite.hash_name, self._derived(),
                                                        shared_secret))


class HandshakeSecret(_Stage):
    def client_traffic(self, transcript_hash: bytes) -> bytes:
        return self.derive(b"c hs traffic", transcript_hash)

    def server_traffic(self, transcript_hash: bytes) -> bytes:
        return self.derive(b"s hs traffic", transcript_hash)

    def master(self) -> MasterSecret:
        zeros = bytes(self.suite.hash_length)
        return MasterSecret(self.suite, hkdf_extract(self.suite.hash_name, self._derived(),
                                                     zeros))


class MasterSecret(_Stage):
    def client_traffic(self, transcript_hash: bytes) -> bytes:
        return self.derive(b"c ap traffic", transcript_hash)

    def server_traffic(self, transcript_hash: bytes) -> bytes:
        return self.derive(b"s ap traffic", transcript_hash)

    def exporter(self, transcript_hash: bytes) -> bytes:
        return self.derive(b"exp master", transcript_hash)

    def resumption(self, transcript_hash: bytes) -> bytes:
        return self.derive(b"res master", transcript_hash)


def resumption_psk(suite: Suite, resumption_master: bytes, nonce: bytes) -> bytes:
    return hkdf_expand_label(suite.hash_name, resumption_master, b"resumption", nonce,
                             suite.hash_length)


def export_keying_material(suite: Suite, exporter_master: bytes, label: bytes,
                           context: bytes, length: int) -> bytes:
    """RFC 8446 7.5 TLS-Exporter."""
    import hashlib
    secret = hkdf_expand_label(suite.hash_name, exporter_master, label,
                               _empty_hash(suite.hash_name), suite.hash_length)
    return hkdf_expand_label(suite.hash_name, secret, b"exporter",
                             hashlib.new(suite.hash_name, context).digest(), length)
