"""The TLS 1.2 PRF (RFC 5246 section 5) and the secrets built from it.

TLS 1.2 is here for peers that cannot speak 1.3. tlskit offers it with ECDHE and AEAD
suites only, preferring the extended master secret (RFC 7627); the classic master secret
is kept for peers without it, whose sessions are then never resumed.
"""

from __future__ import annotations

import hmac

try:  # OpenSSL's HMAC objects called directly (see `crypto.hmac_digest` for why)
    from _hashlib import hmac_new as _hmac_new
except ImportError:  # pragma: no cover - a Python built without OpenSSL
    _hmac_new = hmac.new  # type: ignore[assignment]


def p_hash(hash_name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    """P_hash: HMAC chained over A(i) until `length` bytes exist (24 HMACs per TLS 1.2
    pair, so each is one C call, without a wrapper function around it)."""
    out = []
    have = 0
    a = seed
    while have < length:
        a = _hmac_new(secret, a, hash_name).digest()
        block = _hmac_new(secret, a + seed, hash_name).digest()
        out.append(block)
        have += len(block)
    return b"".join(out)[:length]


def prf(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    return p_hash(hash_name, secret, label + seed, length)


def extended_master_secret(hash_name: str, premaster: bytes, session_hash: bytes) -> bytes:
    """RFC 7627 4: the master secret bound to the whole handshake transcript."""
    return prf(hash_name, premaster, b"extended master secret", session_hash, 48)


def classic_master_secret(hash_name: str, premaster: bytes, client_random: bytes,
                          server_random: bytes) -> bytes:
    """RFC 5246 8.1: bound to the randoms only (hence never resumed, RFC 7627 5.3)."""
    return prf(hash_name, premaster, b"master secret", client_random + server_random, 48)


def key_block(hash_name: str, master: bytes, client_random: bytes, server_random: bytes,
              length: int) -> bytes:
    return prf(hash_name, master, b"key expansion", server_random + client_random, length)


def finished(hash_name: str, master: bytes, is_client: bool, handshake_hash: bytes) -> bytes:
    """verify_data (RFC 5246 7.4.9): 12 bytes, so P_hash's first block, A(1) then one HMAC
    (every hash TLS 1.2 uses is longer than 12 bytes)."""
    seed = (b"client finished" if is_client else b"server finished") + handshake_hash
    a = _hmac_new(master, seed, hash_name).digest()
    return _hmac_new(master, a + seed, hash_name).digest()[:12]  # type: ignore[no-any-return]
