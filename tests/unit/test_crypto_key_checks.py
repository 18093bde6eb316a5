"""`crypto.verify` decides whether a signature scheme fits the peer's key by the key's
family, found per concrete type (`crypto.key_family`) instead of isinstance on the key
ABCs: every scheme against every key type must give what isinstance gives, so a key of
the wrong kind is illegal_parameter and the right one verifies."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from tlskit import crypto
from tlskit.enums import SignatureScheme
from tlskit.errors import DecryptError, IllegalParameter

DATA = b"the transcript, as far as this test is concerned"


@cache
def _keys() -> dict[str, Any]:
    return {
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "ed448": ed448.Ed448PrivateKey.generate(),
        "dsa": dsa.generate_private_key(key_size=2048),
    }


def _fits(public_key: object, scheme: crypto.Scheme, curve_bound: bool) -> bool:
    """The rule with isinstance, as the ABCs answer it."""
    if scheme.kind == "ecdsa":
        return isinstance(public_key, ec.EllipticCurvePublicKey) and (
            not curve_bound or public_key.curve.name == scheme.curve)
    if scheme.kind == "eddsa":
        want = ed25519.Ed25519PublicKey if scheme.code == SignatureScheme.ed25519 \
            else ed448.Ed448PublicKey
        return isinstance(public_key, want)
    return isinstance(public_key, rsa.RSAPublicKey)


@pytest.mark.parametrize("curve_bound", [True, False])
@pytest.mark.parametrize("code", sorted(crypto.SCHEMES))
@pytest.mark.parametrize("kind", ["p256", "p384", "rsa", "ed25519", "ed448", "dsa"])
def test_scheme_fits_key_as_isinstance_says(kind: str, code: int, curve_bound: bool) -> None:
    private = _keys()[kind]
    public = private.public_key()
    scheme = crypto.SCHEMES[code]
    if not _fits(public, scheme, curve_bound):
        with pytest.raises(IllegalParameter, match="does not match the certificate's key"):
            crypto.verify(public, code, b"\x00" * 64, DATA, curve_bound=curve_bound)
        return
    signature = crypto.sign(private, code, DATA)
    crypto.verify(public, code, signature, DATA, curve_bound=curve_bound)
    with pytest.raises(DecryptError, match="signature does not verify"):
        crypto.verify(public, code, signature, DATA + b"!", curve_bound=curve_bound)


def test_key_family_by_type() -> None:
    keys = {k: v.public_key() for k, v in _keys().items()}
    assert {k: crypto.key_family(v) for k, v in keys.items()} == {
        "p256": "ec", "p384": "ec", "rsa": "rsa", "ed25519": "ed25519", "ed448": "ed448",
        "dsa": "other"}
    assert crypto.key_family(object()) == "other"
