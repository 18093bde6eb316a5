"""tlskit.hpke against RFC 9180 appendix A (base mode), cryptography's own HPKE, and
round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from tlskit import hpke

DATA = json.loads((Path(__file__).resolve().parent / "rfc9180.json").read_text())
VECTORS: list[dict[str, Any]] = DATA["vectors"]
PLAINTEXT = b"Beauty is truth, truth beauty"


def _h(value: str) -> bytes:
    return bytes.fromhex(value)


def _sender(v: dict[str, Any]) -> tuple[bytes, hpke.Context]:
    ephemeral = X25519PrivateKey.from_private_bytes(_h(v["skEm"]))
    return hpke.setup_base_s(_h(v["pkRm"]), _h(v["info"]), v["kdf_id"], v["aead_id"],
                             v["kem_id"], ephemeral=ephemeral)


@pytest.mark.parametrize("v", VECTORS, ids=[v["section"] for v in VECTORS])
def test_derive_key_pair(v: dict[str, Any]) -> None:
    for who in "ER":
        key = hpke.derive_key_pair(_h(v[f"ikm{who}"]))
        assert key.private_bytes_raw() == _h(v[f"sk{who}m"])
        assert key.public_key().public_bytes_raw() == _h(v[f"pk{who}m"])


@pytest.mark.parametrize("v", VECTORS, ids=[v["section"] for v in VECTORS])
def test_setup_both_sides(v: dict[str, Any]) -> None:
    enc, ctx = _sender(v)
    assert enc == _h(v["enc"])
    sk_r = X25519PrivateKey.from_private_bytes(_h(v["skRm"]))
    assert hpke.decap(enc, sk_r) == _h(v["shared_secret"])
    receiver = hpke.setup_base_r(enc, sk_r, _h(v["info"]), v["kdf_id"], v["aead_id"])
    for c in (ctx, receiver):
        assert (c.key, c.base_nonce, c.exporter_secret) == (
            _h(v["key"]), _h(v["base_nonce"]), _h(v["exporter_secret"]))


@pytest.mark.parametrize("v", VECTORS, ids=[v["section"] for v in VECTORS])
def test_encryptions_in_sequence(v: dict[str, Any]) -> None:
    """Seal and open at each listed sequence number (the context advances one per call,
    so the numbers in between are sealed and discarded)."""
    _, sender = _sender(v)
    sk_r = X25519PrivateKey.from_private_bytes(_h(v["skRm"]))
    receiver = hpke.setup_base_r(_h(v["enc"]), sk_r, _h(v["info"]), v["kdf_id"], v["aead_id"])
    for e in v["encryptions"]:
        while sender.seq < e["seq"]:
            sender.seal(b"", b"")
            receiver.seq += 1
        assert sender.compute_nonce(e["seq"]) == _h(e["nonce"])
        ct = sender.seal(_h(e["aad"]), PLAINTEXT)
        assert ct == _h(e["ct"])
        assert receiver.open(_h(e["aad"]), ct) == PLAINTEXT


@pytest.mark.parametrize("v", VECTORS, ids=[v["section"] for v in VECTORS])
def test_exports(v: dict[str, Any]) -> None:
    _, ctx = _sender(v)
    for x in v["exports"]:
        assert ctx.export(_h(x["context"]), x["length"]) == _h(x["value"])


def test_open_failure_keeps_sequence() -> None:
    sk = X25519PrivateKey.generate()
    enc, sender = hpke.setup_base_s(sk.public_key().public_bytes_raw(), b"i", 1, 1)
    receiver = hpke.setup_base_r(enc, sk, b"i", 1, 1)
    ct = sender.seal(b"aad", b"hello")
    with pytest.raises(hpke.HPKEError):
        receiver.open(b"other aad", ct)
    assert receiver.seq == 0
    assert receiver.open(b"aad", ct) == b"hello"


def test_unsupported_suite_and_bad_enc() -> None:
    sk = X25519PrivateKey.generate()
    pk = sk.public_key().public_bytes_raw()
    with pytest.raises(hpke.HPKEError, match="unsupported"):
        hpke.setup_base_s(pk, b"", 1, hpke.AeadId.EXPORT_ONLY)
    with pytest.raises(hpke.HPKEError, match="unsupported"):
        hpke.setup_base_s(pk, b"", 1, 1, kem_id=hpke.KemId.DHKEM_P256_HKDF_SHA256)
    with pytest.raises(hpke.HPKEError, match="32"):
        hpke.setup_base_r(b"\x01" * 31, sk, b"", 1, 1)
    with pytest.raises(hpke.HPKEError):  # a low-order point: all-zero shared secret
        hpke.setup_base_r(bytes(32), sk, b"", 1, 1)


# An X25519 point of order 8: every sender key's shared secret with it is all zeros.
LOW_ORDER = bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")


@pytest.mark.parametrize("pk", [bytes(32), LOW_ORDER], ids=["zero", "order-8"])
def test_sender_refuses_a_low_order_recipient_key(pk: bytes) -> None:
    """7.1.4: encapsulating to a low-order key is an HPKEError, not cryptography's
    ValueError escaping."""
    with pytest.raises(hpke.HPKEError, match="X25519"):
        hpke.setup_base_s(pk, b"", 1, 1)
    assert not hpke.usable_public_key(pk)
    assert hpke.usable_public_key(X25519PrivateKey.generate().public_key().public_bytes_raw())


# --- cryptography's single-shot HPKE agrees with this context (empty AAD, seq 0) ---------

def _crypto_suite() -> Any:
    from cryptography.hazmat.primitives import hpke as chpke
    return chpke.Suite(chpke.KEM.X25519, chpke.KDF.HKDF_SHA256, chpke.AEAD.AES_128_GCM)


def test_cryptography_opens_what_we_seal() -> None:
    sk = X25519PrivateKey.generate()
    enc, ctx = hpke.setup_base_s(sk.public_key().public_bytes_raw(), b"info", 1, 1)
    message = enc + ctx.seal(b"", b"inner hello")
    assert _crypto_suite().decrypt(message, sk, info=b"info") == b"inner hello"


def test_we_open_what_cryptography_seals() -> None:
    sk = X25519PrivateKey.generate()
    message = _crypto_suite().encrypt(b"inner hello", sk.public_key(), info=b"info")
    enc, ct = message[:32], message[32:]
    ctx = hpke.setup_base_r(enc, sk, b"info", 1, 1)
    assert ctx.open(b"", ct) == b"inner hello"


_SUITES = st.tuples(st.sampled_from(sorted(hpke.SUPPORTED_KDFS)),
                    st.sampled_from(sorted(hpke.SUPPORTED_AEADS)))


@given(suite=_SUITES, info=st.binary(max_size=64),
       messages=st.lists(st.tuples(st.binary(max_size=64), st.binary(max_size=256)),
                         min_size=1, max_size=4))
def test_round_trip(suite: tuple[int, int], info: bytes,
                    messages: list[tuple[bytes, bytes]]) -> None:
    sk = X25519PrivateKey.generate()
    kdf_id, aead_id = suite
    enc, sender = hpke.setup_base_s(sk.public_key().public_bytes_raw(), info, kdf_id, aead_id)
    receiver = hpke.setup_base_r(enc, sk, info, kdf_id, aead_id)
    for aad, pt in messages:
        ct = sender.seal(aad, pt)
        assert len(ct) == len(pt) + hpke.TAG_LENGTH
        assert receiver.open(aad, ct) == pt
    assert sender.export(b"x", 16) == receiver.export(b"x", 16)
