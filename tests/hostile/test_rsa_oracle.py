"""The TLS 1.2 server with RSA key transport is not a padding oracle (Bleichenbacher 1998,
ROBOT 2017, Marvin 2023; RFC 5246 7.4.7.1).

An attacker replays a recorded ClientKeyExchange ciphertext c as c' = c * s^e mod n and
watches how the server reacts; any difference between "the plaintext was PKCS#1 v1.5
conformant" and "it was not" (an alert, an error text, a record, a connection closed
earlier) decrypts c with about a million queries. Here a real tlskit client opted in to
RSA key transport has its ClientKeyExchange ciphertext replaced by crafted ones of every
kind of wrongness, always keyed (its CCS and Finished) from the premaster it meant to
send, exactly as an attacker's would be. Every case must look the same from outside:
same exception type, same alert, same text, same bytes on the wire, and the premaster the
server went on with must be the 48 bytes it drew from its rng *before* decrypting.

The baseline is a well-formed ciphertext (right padding, length and version) of a
premaster other than the one the Finished is keyed from: what the attacker sees when the
padding *was* right. Only a peer that knows the premaster can get past the Finished
record, so a wrong verify_data under the right keys (decrypt_error) tells an attacker
nothing; it is checked last, apart.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import padding

from tlskit import TLSError
from tlskit import crypto as tcrypto
from tlskit.handshake.client12 import ClientHandshake12
from tlskit.wire import messages12 as m12

from ..tls12.helpers12 import (
    AD,
    CLIENT_KEY_EXCHANGE,
    FINISHED,
    Run12,
    client12,
    on_msg,
    plain_alert,
    rewriting,
    server12,
    split_records,
)
from .helpers import AcceptAll, rsa_server

RSA_KX = {"legacy_rsa_key_exchange": True, "cipher_suites": ["TLS_RSA_WITH_AES_128_GCM_SHA256"]}
REAL_DECRYPT = tcrypto.rsa_decrypt_premaster
K = 256  # modulus length of the RSA-2048 leaf, in bytes


def _raw_encrypt(em: bytes) -> bytes:
    """Textbook RSA of a full-length encoded message: any padding, right or wrong."""
    pub = rsa_server().private_key.public_key().public_numbers()  # type: ignore[union-attr]
    return pow(int.from_bytes(em, "big"), pub.e, pub.n).to_bytes(K, "big")


def _pkcs1(message: bytes, *, block_type: int = 2, separator: bool = True) -> bytes:
    """00 || BT || nonzero padding || 00 || message (RFC 8017 7.2.1), optionally spoilt."""
    pad_len = K - 3 - len(message) + (0 if separator else 1)
    ps = bytes((b % 255) + 1 for b in os.urandom(pad_len))
    return b"\x00" + bytes((block_type,)) + ps + (b"\x00" if separator else b"") + message


def _good(premaster: bytes) -> bytes:
    pub = rsa_server().private_key.public_key()  # type: ignore[union-attr]
    return pub.encrypt(premaster, padding.PKCS1v15())  # type: ignore[union-attr]


OTHER = b"\x03\x03" + bytes(range(46))  # a well-formed premaster the Finished is not keyed from
CIPHERTEXTS: dict[str, Callable[[], bytes]] = {
    "well-formed, another premaster": lambda: _good(OTHER),
    "bad padding: block type 1": lambda: _raw_encrypt(_pkcs1(OTHER, block_type=1)),
    "bad padding: first byte not 0": lambda: _raw_encrypt(b"\x01" + _pkcs1(OTHER)[1:]),
    "bad padding: no 00 separator": lambda: _raw_encrypt(_pkcs1(b"", separator=False)),
    "bad padding: separator too early": lambda: _raw_encrypt(
        b"\x00\x02" + b"\x01" * 4 + b"\x00" + bytes(K - 7)),
    "premaster too short (47)": lambda: _good(OTHER[:47]),
    "premaster too long (49)": lambda: _good(OTHER + b"\x00"),
    "premaster empty": lambda: _good(b""),
    "wrong version 03 02": lambda: _good(b"\x03\x02" + OTHER[2:]),
    "wrong version 03 04": lambda: _good(b"\x03\x04" + OTHER[2:]),
    "wrong version 00 00": lambda: _good(b"\x00\x00" + OTHER[2:]),
    "ciphertext one byte short": lambda: _good(OTHER)[1:],
    "ciphertext one byte long": lambda: b"\x00" + _good(OTHER),
    "ciphertext empty": lambda: b"",
    "ciphertext >= modulus": lambda: b"\xff" * K,
    "random bytes": lambda: os.urandom(K),
}


@dataclass
class Outcome:
    """Everything an attacker can observe, plus what the server decided inside."""

    exc_type: type[BaseException]
    alert: AD
    text: str
    wire: bytes
    drawn_before_decrypting: bytes
    used_premaster: bytes
    order: list[str]


def _attack(ciphertext: bytes, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    order: list[str] = []
    draws: list[bytes] = []

    def rng(n: int) -> bytes:
        out = os.urandom(n)
        if n == tcrypto.PREMASTER_LENGTH:
            order.append("rng(48)")
            draws.append(out)
        return out

    def decrypt(*args: Any) -> bytes:
        order.append("decrypt")
        return REAL_DECRYPT(*args)

    monkeypatch.setattr(tcrypto, "rsa_decrypt_premaster", decrypt)
    used: list[bytes] = []
    client = client12(verifier=AcceptAll(), **RSA_KX)
    leaf = rsa_server()
    server = server12(certificate_chain=leaf.chain, private_key=leaf.private_key, rng=rng,
                      tracer=lambda step, f: used.extend(
                          [f["premaster_secret"]] if "premaster_secret" in f else []), **RSA_KX)
    run = Run12(client, server).to_server_flight()
    swap = on_msg(CLIENT_KEY_EXCHANGE,
                  lambda hs, raw: m12.ClientKeyExchangeRSA(ciphertext).encode())
    with rewriting(ClientHandshake12, swap):
        client.receive_data(run.server_flight)
    flight = client.data_to_send()
    with pytest.raises(TLSError) as info:
        server.receive_data(flight)
    exc = info.value
    return Outcome(type(exc), exc.alert, str(exc), server.data_to_send(), draws[-1],
                   used[-1], order)


@pytest.mark.parametrize("case", CIPHERTEXTS)
def test_every_wrong_ciphertext_fails_the_same_way(case: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    baseline = _attack(CIPHERTEXTS["well-formed, another premaster"](), monkeypatch)
    got = _attack(CIPHERTEXTS[case](), monkeypatch)
    # What the attacker sees: one alert record in the clear, the same for every case.
    assert (got.exc_type, got.alert, got.text, got.wire) == \
        (baseline.exc_type, baseline.alert, baseline.text, baseline.wire)
    assert got.alert == AD.bad_record_mac and got.wire == plain_alert(AD.bad_record_mac)
    assert split_records(got.wire) == [got.wire]
    # Inside: the fallback was drawn before decrypting, on the one path.
    assert got.order == baseline.order == ["rng(48)", "decrypt"]
    if case == "well-formed, another premaster":
        assert got.used_premaster == OTHER  # right padding: the server took it
    else:
        assert got.used_premaster == got.drawn_before_decrypting


def test_the_error_text_names_no_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _attack(os.urandom(K), monkeypatch).text.lower()
    for word in ("padding", "version", "length", "premaster", "decrypt", "rsa"):
        assert word not in text


def test_installed_cryptography_either_way_gives_the_fallback() -> None:
    """Implicit rejection (OpenSSL 3.2+, as installed here: a badly padded ciphertext
    decrypts to a synthetic message) and explicit rejection (older builds raise
    ValueError, as every build does for a ciphertext of the wrong length) both end in
    the fallback. Which one the installed build does is recorded, not branched on."""
    key = rsa_server().private_key
    fallback = os.urandom(48)
    bad_padding = _raw_encrypt(_pkcs1(OTHER, block_type=1))
    for ct in (bad_padding, _good(OTHER)[1:], os.urandom(K)):
        assert tcrypto.rsa_decrypt_premaster(key, ct, 0x0303, fallback) == fallback
    assert tcrypto.rsa_decrypt_premaster(key, _good(OTHER), 0x0303, fallback) == OTHER
    with pytest.raises(ValueError):
        key.decrypt(_good(OTHER)[1:], padding.PKCS1v15())  # type: ignore[union-attr]


def test_right_keys_wrong_finished_is_decrypt_error() -> None:
    """Past the Finished record only with the real premaster: then a wrong verify_data
    is decrypt_error (RFC 5246 7.4.9), which only a peer holding the keys can cause."""
    client = client12(verifier=AcceptAll(), **RSA_KX)
    leaf = rsa_server()
    server = server12(certificate_chain=leaf.chain, private_key=leaf.private_key, **RSA_KX)
    run = Run12(client, server).to_server_flight()
    flip = on_msg(FINISHED, lambda hs, raw: raw[:-1] + bytes((raw[-1] ^ 1,)))
    with rewriting(ClientHandshake12, flip):
        client.receive_data(run.server_flight)
    with pytest.raises(TLSError) as info:
        server.receive_data(client.data_to_send())
    assert info.value.alert == AD.decrypt_error
