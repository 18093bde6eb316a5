"""FFDHE key shares use RFC 7919's short private exponents (5.2, Appendix A): as many
random bits as each group's strength needs, not as many as the prime has. A full-size
exponent made one ffdhe8192 handshake, which any client may ask of a default server, cost
about a second of the server's CPU (found with sslscan, tests/interop/test_scanners.py)."""

from __future__ import annotations

import os

import pytest

from tlskit import crypto
from tlskit.enums import NamedGroup

# RFC 7919 Appendix A: "should choose a secret key of at least N bits".
SHORTEST_EXPONENT = {NamedGroup.ffdhe2048: 225, NamedGroup.ffdhe3072: 275,
                     NamedGroup.ffdhe4096: 325, NamedGroup.ffdhe6144: 375,
                     NamedGroup.ffdhe8192: 400}


@pytest.mark.parametrize("group", list(SHORTEST_EXPONENT), ids=lambda g: g.name)
def test_private_exponent_is_short_and_strong_enough(group: NamedGroup) -> None:
    drawn: list[bytes] = []

    def rng(n: int) -> bytes:
        drawn.append(os.urandom(n))
        return drawn[-1]

    share = crypto.new_key_share(group, rng)
    [raw] = drawn
    bits = 8 * len(raw)
    # The top bit is fixed (so the exponent is never 0 or 1); the rest is random.
    assert SHORTEST_EXPONENT[group] <= bits - 1 < SHORTEST_EXPONENT[group] + 8
    exponent = int.from_bytes(raw, "big") | (1 << (bits - 1))
    p = crypto.ffdhe_prime(group)
    assert share.public == pow(2, exponent, p).to_bytes((p.bit_length() + 7) // 8, "big")


@pytest.mark.parametrize("group", list(SHORTEST_EXPONENT), ids=lambda g: g.name)
def test_two_shares_agree(group: NamedGroup) -> None:
    a, b = crypto.new_key_share(group, os.urandom), crypto.new_key_share(group, os.urandom)
    assert a.exchange(b.public) == b.exchange(a.public)
    assert a.public != b.public


def test_no_python_pow_on_the_private_exponent(monkeypatch: pytest.MonkeyPatch) -> None:
    """g^x mod p is computed by OpenSSL's constant-time DH code, not by Python's pow(),
    whose running time depends on the exponent's bits (a timing leak of the private key,
    and a primitive tlskit must not write itself)."""
    def no_pow(*args: object) -> object:
        raise AssertionError("Python's pow() used on an FFDHE private exponent")

    monkeypatch.setattr(crypto, "pow", no_pow, raising=False)
    for group in SHORTEST_EXPONENT:
        a, b = crypto.new_key_share(group, os.urandom), crypto.new_key_share(group, os.urandom)
        assert a.exchange(b.public) == b.exchange(a.public)
        assert len(a.public) == crypto.ffdhe_prime(group).bit_length() // 8
