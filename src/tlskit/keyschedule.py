"""The TLS 1.3 key schedule (RFC 8446 section 7.1), one small type per stage.

    PSK or 0 -> EarlySecret -> (+ECDHE) HandshakeSecret -> (+0) MasterSecret

Each stage can only derive what the RFC derives from it, so a secret cannot be used at
the wrong stage; the previous stage is dropped when the next exists.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from cryptography.hazmat.primitives.hmac import HMAC

from .crypto import Suite, keyed_hmac
from .crypto import hmac_digest as _hmac
from .crypto import hmac_new as _hmac_new

_LABEL_PREFIX = b"tls13 "


def hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    return _hmac(salt, ikm, hash_name)


@lru_cache(maxsize=256)
def _label_head(label: bytes, length: int) -> bytes:
    """The fixed start of an HkdfLabel (7.1): uint16 length, opaque label<7..255>.
    Built once per (label, length); a handshake uses about a dozen."""
    full = _LABEL_PREFIX + label
    return struct.pack(">HB", length, len(full)) + full


@lru_cache(maxsize=64)
def _fixed_info(label: bytes, context: bytes, length: int) -> bytes:
    """A whole HkdfLabel plus the first HKDF-Expand counter byte, for labels whose
    context is fixed (empty, or the hash of the empty string): built once."""
    return _label_head(label, length) + bytes((len(context),)) + context + b"\x01"


@lru_cache(maxsize=256)
def _info_head(label: bytes, length: int, context_length: int) -> bytes:
    """An HkdfLabel up to its context: what `derive` prefixes to each transcript hash."""
    return _label_head(label, length) + bytes((context_length,))


def hkdf_expand_label(hash_name: str, secret: bytes, label: bytes, context: bytes,
                      length: int) -> bytes:
    """HKDF-Expand-Label (7.1). One HMAC when the output fits one hash block, the common case."""
    info = _info_head(label, length, len(context)) + context
    out = _hmac(secret, info + b"\x01", hash_name)
    if length <= len(out):
        return out[:length] if length < len(out) else out
    blocks = [out]
    block = out
    counter = 1
    while sum(map(len, blocks)) < length:
        counter += 1
        block = _hmac(secret, block + info + bytes((counter,)), hash_name)
        blocks.append(block)
    return b"".join(blocks)[:length]


def _expand_fixed(hash_name: str, secret: bytes, label: bytes, context: bytes,
                  length: int, hash_length: int) -> bytes:
    """HKDF-Expand-Label for a fixed label and context that fit one hash block."""
    if length > hash_length:
        return hkdf_expand_label(hash_name, secret, label, context, length)
    return _hmac(secret, _fixed_info(label, context, length), hash_name)[:length]


@lru_cache(maxsize=8)
def _empty_hash(hash_name: str) -> bytes:
    return hashlib.new(hash_name).digest()


@dataclass(slots=True)
class TrafficKeys:
    """The AEAD key and static IV derived from one traffic secret (7.3)."""

    secret: bytes
    key: bytes
    iv: bytes


class _KeyIvTable(dict[int, tuple[bytes, bytes]]):
    """The whole HKDF-Expand inputs for "key" and "iv" (7.3) by key length, each pair
    built on first use: a dict read per traffic secret, not an lru_cache call."""

    def __missing__(self, key_length: int) -> tuple[bytes, bytes]:
        infos = self[key_length] = (_fixed_info(b"key", b"", key_length),
                                    _fixed_info(b"iv", b"", 12))
        return infos


_KEY_IV_INFOS = _KeyIvTable()


def key_and_iv(suite: Suite, secret: bytes) -> tuple[bytes, bytes]:
    """The AEAD key and static IV of a traffic secret (7.3): one HMAC each, both from
    one HMAC object keyed with the secret (the key is set up once, then copied)."""
    h, n = suite.hash_name, suite.key_length
    key_info, iv_info = _KEY_IV_INFOS[n]  # (both fit one block: key_length <= hash length)
    mac = keyed_hmac(secret, h)
    key = mac.copy()
    key.update(key_info)
    mac.update(iv_info)
    return key.finalize()[:n], mac.finalize()[:12]


def traffic_keys(suite: Suite, secret: bytes) -> TrafficKeys:
    return TrafficKeys(secret, *key_and_iv(suite, secret))


def next_traffic_secret(suite: Suite, secret: bytes) -> bytes:
    """application_traffic_secret_N+1 (7.2), for KeyUpdate."""
    n = suite.hash_length
    return _expand_fixed(suite.hash_name, secret, b"traffic upd", b"", n, n)


def finished_key(suite: Suite, base_key: bytes) -> bytes:
    n = suite.hash_length
    return _expand_fixed(suite.hash_name, base_key, b"finished", b"", n, n)


def finished_verify_data(suite: Suite, base_key: bytes, transcript_hash: bytes) -> bytes:
    """4.4.4: HMAC(finished_key, transcript hash), the finished_key (one block: the
    hash length) expanded inline."""
    h = suite.hash_name
    key = _hmac_new(base_key, _INFOS[h].finished, h).digest()
    return _hmac_new(key, transcript_hash, h).digest()  # type: ignore[no-any-return]


@lru_cache(maxsize=8)
def _zero_early_secret(hash_name: str, hash_length: int) -> bytes:
    zeros = bytes(hash_length)
    return hkdf_extract(hash_name, zeros, zeros)


@lru_cache(maxsize=8)
def _zero_derived(hash_name: str, hash_length: int) -> bytes:
    """Derive-Secret(early secret without PSK, "derived", ""): also a constant."""
    return _expand_fixed(hash_name, _zero_early_secret(hash_name, hash_length), b"derived",
                         _empty_hash(hash_name), hash_length, hash_length)


class _Infos(NamedTuple):
    """The HKDF-Expand inputs of a full handshake for one hash, built once per hash
    (`_INFOS`): read as attributes, not looked up in an lru_cache (about a dozen per
    side per handshake, each a key tuple hashed and a list entry moved)."""

    c_hs: bytes  # HkdfLabel prefixes over a transcript hash of the hash's own length
    s_hs: bytes
    c_ap: bytes
    s_ap: bytes
    exp: bytes
    derived: bytes  # whole inputs (with the counter byte): "derived" over Hash("")
    finished: bytes  # ... and "finished" over ""
    zero_derived: bytes  # Derive-Secret(Extract(0, 0), "derived", ""): no PSK


class _InfoTable(dict[str, _Infos]):
    """`_Infos` by hash name, each built on first use (a hash is one of a suite's)."""

    def __missing__(self, hash_name: str) -> _Infos:
        n = hashlib.new(hash_name).digest_size
        infos = self[hash_name] = _Infos(
            _info_head(b"c hs traffic", n, n), _info_head(b"s hs traffic", n, n),
            _info_head(b"c ap traffic", n, n), _info_head(b"s ap traffic", n, n),
            _info_head(b"exp master", n, n), _fixed_info(b"derived", _empty_hash(hash_name), n),
            _fixed_info(b"finished", b"", n), _zero_derived(hash_name, n))
        return infos


_INFOS = _InfoTable()


def _derive_secret(label: bytes) -> Callable[[_Stage, bytes], bytes]:
    """Derive-Secret(., label, transcript hash) as a method of its own: the named
    derivations below are these, not wrappers around `_Stage.derive` (one frame less
    for each of the dozen derivations of a pair)."""
    def derive(self: _Stage, transcript_hash: bytes) -> bytes:
        mac = self.keyed().copy()
        mac.update(_info_head(label, self.suite.hash_length, len(transcript_hash))
                   + transcript_hash + b"\x01")
        return mac.finalize()
    derive.__doc__ = f"Derive-Secret(., {label.decode()!r}, transcript hash) (7.1)."
    return derive


class _Stage:
    __slots__ = ("_mac", "secret", "suite")

    def __init__(self, suite: Suite, secret: bytes) -> None:
        self.suite = suite
        self.secret = secret
        self._mac: HMAC | None = None

    def keyed(self) -> HMAC:
        """An HMAC object keyed with this stage's secret, made at the first derivation:
        each Derive-Secret is a copy of it, so the key is set up once per stage (the
        handshake secret derives three secrets, the master secret up to four), not once
        per derivation. Never updated itself; it lives as long as the stage."""
        mac = self._mac
        if mac is None:
            mac = self._mac = keyed_hmac(self.secret, self.suite.hash_name)
        return mac

    def derive(self, label: bytes, transcript_hash: bytes) -> bytes:
        """Derive-Secret (7.1) for any label."""
        return _derive_secret(label)(self, transcript_hash)

    def _derived(self) -> bytes:
        h, n = self.suite.hash_name, self.suite.hash_length
        return _expand_fixed(h, self.secret, b"derived", _empty_hash(h), n, n)


class EarlySecret(_Stage):
    """Extract(0, PSK or zeros). Binder and early traffic secrets come from here."""

    @classmethod
    def start(cls, suite: Suite, psk: bytes | None = None) -> EarlySecret:
        if psk is None:  # Extract(0, 0) is a constant per hash (7.1)
            return cls(suite, _zero_early_secret(suite.hash_name, suite.hash_length))
        zeros = bytes(suite.hash_length)
        return cls(suite, hkdf_extract(suite.hash_name, zeros, psk or zeros))

    def binder_key(self, external: bool = False) -> bytes:
        label = b"ext binder" if external else b"res binder"
        h, n = self.suite.hash_name, self.suite.hash_length
        return _expand_fixed(h, self.secret, label, _empty_hash(h), n, n)

    client_early_traffic_secret = _derive_secret(b"c e traffic")

    def handshake(self, shared_secret: bytes) -> HandshakeSecret:
        h, n = self.suite.hash_name, self.suite.hash_length
        # Without a PSK the early secret, and so its "derived" secret, is a constant.
        derived = _zero_derived(h, n) if self.secret is _zero_early_secret(h, n) \
            else self._derived()
        return HandshakeSecret(self.suite, _hmac_new(derived, shared_secret, h).digest())


class HandshakeSecret(_Stage):
    client_traffic = _derive_secret(b"c hs traffic")
    server_traffic = _derive_secret(b"s hs traffic")

    def traffic(self, transcript_hash: bytes) -> tuple[bytes, bytes]:
        """(client_handshake_traffic_secret, server_...) over the transcript through the
        ServerHello (7.1), in one call."""
        suite, n, tail = self.suite, len(transcript_hash), transcript_hash + b"\x01"
        if n == suite.hash_length:
            infos = _INFOS[suite.hash_name]
            c_head, s_head = infos.c_hs, infos.s_hs
        else:  # (a context of another length: only tests pass one)
            c_head = _info_head(b"c hs traffic", suite.hash_length, n)
            s_head = _info_head(b"s hs traffic", suite.hash_length, n)
        mac = self.keyed()
        client, server = mac.copy(), mac.copy()
        client.update(c_head + tail)
        server.update(s_head + tail)
        return client.finalize(), server.finalize()

    @classmethod
    def from_shared(cls, suite: Suite, shared_secret: bytes,
                    psk: bytes | None = None) -> HandshakeSecret:
        """`EarlySecret.start(suite, psk).handshake(shared_secret)`; without a PSK the
        early secret's "derived" secret is a per-hash constant, and no early stage is
        made."""
        if psk is not None:
            return EarlySecret.start(suite, psk).handshake(shared_secret)
        h = suite.hash_name
        return cls(suite, _hmac_new(_INFOS[h].zero_derived, shared_secret, h).digest())

    def master(self) -> MasterSecret:
        # Extract(Derive-Secret(., "derived", ""), 0): both one HMAC, made inline.
        h, n = self.suite.hash_name, self.suite.hash_length
        mac = self.keyed().copy()
        mac.update(_INFOS[h].derived)
        return MasterSecret(self.suite, _hmac_new(mac.finalize(), bytes(n), h).digest())


class MasterSecret(_Stage):
    client_traffic = _derive_secret(b"c ap traffic")
    server_traffic = _derive_secret(b"s ap traffic")
    exporter = _derive_secret(b"exp master")
    resumption = _derive_secret(b"res master")

    def application(self, transcript_hash: bytes) -> tuple[bytes, bytes, bytes]:
        """(client_application_traffic_secret_0, server_..., exporter_master_secret),
        all three over the transcript through the server Finished (7.1), in one call."""
        suite, n, tail = self.suite, len(transcript_hash), transcript_hash + b"\x01"
        if n == suite.hash_length:
            infos = _INFOS[suite.hash_name]
            c_head, s_head, e_head = infos.c_ap, infos.s_ap, infos.exp
        else:  # (a context of another length: only tests pass one)
            m = suite.hash_length
            c_head = _info_head(b"c ap traffic", m, n)
            s_head = _info_head(b"s ap traffic", m, n)
            e_head = _info_head(b"exp master", m, n)
        mac = self.keyed()
        client, server, exporter = mac.copy(), mac.copy(), mac.copy()
        client.update(c_head + tail)
        server.update(s_head + tail)
        exporter.update(e_head + tail)
        return client.finalize(), server.finalize(), exporter.finalize()


def resumption_psk(suite: Suite, resumption_master: bytes, nonce: bytes) -> bytes:
    return hkdf_expand_label(suite.hash_name, resumption_master, b"resumption", nonce,
                             suite.hash_length)


def export_keying_material(suite: Suite, exporter_master: bytes, label: bytes,
                           context: bytes, length: int) -> bytes:
    """RFC 8446 7.5 TLS-Exporter."""
    secret = hkdf_expand_label(suite.hash_name, exporter_master, label,
                               _empty_hash(suite.hash_name), suite.hash_length)
    return hkdf_expand_label(suite.hash_name, secret, b"exporter",
                             hashlib.new(suite.hash_name, context).digest(), length)
