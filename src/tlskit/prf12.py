"""The TLS 1.2 PRF (RFC 5246 section 5) and the secrets built from it.

TLS 1.2 is here for peers that cannot speak 1.3. tlskit offers it with ECDHE and AEAD
suites only, preferring the extended master secret (RFC 7627); the classic master secret
is kept for peers without it, whose sessions are then never resumed.
"""

from __future__ import annotations

from .crypto import hmac_digest


def p_hash(hash_name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    """P_hash: HMAC chained over A(i) until `length` bytes exist."""
    out = []
    have = 0
    a = seed
    while have < length:
        a = hmac_digest(secret, a, hash_name)
        block = hmac_digest(secret, a + seed, hash_name)
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
    label = b"client finished" if is_client else b"server finished"
    return prf(hash_name, master, label, handshake_hash, 12)
