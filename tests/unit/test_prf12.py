"""The TLS 1.2 PRF's keyed-once P_hash gives what RFC 5246 section 5 defines, computed
here the plain way (a fresh HMAC per step), for every hash, secret, seed and length."""

from __future__ import annotations

import hmac

from hypothesis import given
from hypothesis import strategies as st

from tlskit import prf12


def _p_hash_by_definition(hash_name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    """P_hash(secret, seed) = HMAC(secret, A(1) + seed) + HMAC(secret, A(2) + seed) + ...,
    A(0) = seed, A(i) = HMAC(secret, A(i-1)); truncated to ``length``."""
    out = b""
    a = seed
    while len(out) < length:
        a = hmac.new(secret, a, hash_name).digest()
        out += hmac.new(secret, a + seed, hash_name).digest()
    return out[:length]


@given(st.sampled_from(["sha256", "sha384"]), st.binary(max_size=200),
       st.binary(max_size=200), st.integers(min_value=0, max_value=200))
def test_p_hash_matches_the_definition(hash_name: str, secret: bytes, seed: bytes,
                                       length: int) -> None:
    assert prf12.p_hash(hash_name, secret, seed, length) == _p_hash_by_definition(
        hash_name, secret, seed, length)


@given(st.binary(min_size=1, max_size=48), st.binary(max_size=64))
def test_prf_outputs_match_the_definition(secret: bytes, seed: bytes) -> None:
    """The named uses: label then seed, each at its length."""
    assert prf12.finished("sha256", secret, True, seed) == _p_hash_by_definition(
        "sha256", secret, b"client finished" + seed, 12)
    assert prf12.extended_master_secret("sha384", secret, seed) == _p_hash_by_definition(
        "sha384", secret, b"extended master secret" + seed, 48)
    assert prf12.key_block("sha256", secret, seed, b"s" * 32, 40) == _p_hash_by_definition(
        "sha256", secret, b"key expansion" + b"s" * 32 + seed, 40)


def test_every_tls12_suite_hash_keys_the_prf() -> None:
    """`KeyedPrf` keys cryptography's HMAC by the suite's hash name: every TLS 1.2
    suite's name is one it knows, and gives the definition's output."""
    from tlskit import crypto

    for suite in crypto.SUITES12.values():
        keyed = prf12.KeyedPrf(suite.hash_name, b"k" * 48)
        assert keyed.expand(b"seed", 40) == _p_hash_by_definition(
            suite.hash_name, b"k" * 48, b"seed", 40)
