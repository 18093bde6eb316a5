"""The TLS 1.2 PRF (RFC 5246 section 5) and the secrets built from it.

TLS 1.2 is here for peers that cannot speak 1.3. tlskit offers it with ECDHE and AEAD
suites only, preferring the extended master secret (RFC 7627); the classic master secret
is kept for peers without it, whose sessions are then never resumed.

Every HMAC of one PRF secret shares its key, so `KeyedPrf` keys an HMAC once and copies
that keyed state for each block (a copy costs about half of keying afresh); a handshake
keeps the master secret's `KeyedPrf` for its key block and both Finished (a TLS 1.2 pair
computes 24 of these HMACs; `crypto.keyed_hmac` says why cryptography's HMAC).
"""

from __future__ import annotations

from .crypto import keyed_hmac

_CLIENT_FINISHED = b"client finished"
_SERVER_FINISHED = b"server finished"


class KeyedPrf:
    """PRF(secret, label, seed) for one secret: an HMAC keyed once, copied for each of
    P_hash's HMACs (the keyed original is never updated nor finalized, so calls are
    independent)."""

    __slots__ = ("_keyed",)

    def __init__(self, hash_name: str, secret: bytes) -> None:
        self._keyed = keyed_hmac(secret, hash_name)

    def expand(self, seed: bytes, length: int) -> bytes:
        """P_hash(secret, seed): A(i) = HMAC(A(i-1)), output HMAC(A(i) + seed)."""
        copy = self._keyed.copy
        out = b""
        a = seed
        while len(out) < length:
            h = copy()
            h.update(a)
            a = h.finalize()
            h = copy()
            h.update(a + seed)
            out += h.finalize()
        return out[:length]

    def __call__(self, label: bytes, seed: bytes, length: int) -> bytes:
        return self.expand(label + seed, length)

    def finished(self, is_client: bool, handshake_hash: bytes) -> bytes:
        """verify_data (RFC 5246 7.4.9): the PRF's first 12 bytes."""
        label = _CLIENT_FINISHED if is_client else _SERVER_FINISHED
        return self.expand(label + handshake_hash, 12)


def p_hash(hash_name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    return KeyedPrf(hash_name, secret).expand(seed, length)


def prf(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    return KeyedPrf(hash_name, secret).expand(label + seed, length)


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
    return KeyedPrf(hash_name, master).finished(is_client, handshake_hash)
