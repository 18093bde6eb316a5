"""RFC 7250 raw public keys that are RSASSA-PSS keys with RFC 4055 parameters (a hash,
an MGF1 hash, a least salt length): each side signs only with the rsa_pss_pss_* scheme
they allow, and refuses a peer's signature they do not allow (RFC 8446 4.2.3), in TLS
1.3 and 1.2. The SPKIs are written here by hand (`cryptography` writes every RSA key as
rsaEncryption); tests/interop/test_gnutls_rawpk.py uses keys GnuTLS and OpenSSL make."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from tlskit import AlertDescription, ClientConfig, RawPublicKey, ServerConfig, SignatureScheme
from tlskit.x509.der import PssParams, spki_pss_params

from .test_raw_public_keys import IDS, SERVER_KEY, VERSIONS, connect, failure

AD = AlertDescription
_HASH_OIDS = {"sha1": "2b0e03021a", "sha256": "608648016503040201",
              "sha384": "608648016503040202", "sha512": "608648016503040203"}


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    head = bytes([n]) if n < 0x80 else bytes([0x82]) + n.to_bytes(2, "big")
    return bytes([tag]) + head + body


def _hash_id(name: str) -> bytes:
    return _tlv(0x30, _tlv(0x06, bytes.fromhex(_HASH_OIDS[name])) + b"\x05\x00")


def pss_spki(key: rsa.RSAPrivateKey, hash_name: str | None = "sha384",
             mgf1: str | None = None, salt: int | None = None) -> bytes:
    """``key``'s SPKI under id-RSASSA-PSS, with RSASSA-PSS-params naming ``hash_name``,
    MGF1 with ``mgf1`` (default: the same) and ``salt`` (default: the hash's length);
    no parameters at all when ``hash_name`` is None."""
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    bits = der[19:]  # past SEQUENCE header (4) and rsaEncryption's AlgorithmIdentifier (15)
    oid = _tlv(0x06, bytes.fromhex("2a864886f70d01010a"))
    if hash_name is None:
        return _tlv(0x30, _tlv(0x30, oid) + bits)
    sizes = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}
    mgf1, salt = mgf1 or hash_name, salt or sizes[hash_name]
    mgf = _tlv(0x30, _tlv(0x06, bytes.fromhex("2a864886f70d010108")) + _hash_id(mgf1))
    # DER leaves out a field equal to its DEFAULT (SHA-1, MGF1-SHA-1, 20; RFC 4055 3.1).
    params = _tlv(0x30, (_tlv(0xA0, _hash_id(hash_name)) if hash_name != "sha1" else b"")
                  + (_tlv(0xA1, mgf) if mgf1 != "sha1" else b"")
                  + (_tlv(0xA2, _tlv(0x02, bytes([salt]))) if salt != 20 else b""))
    return _tlv(0x30, _tlv(0x30, oid + params) + bits)


@cache
def rsa_key(n: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def rogue(key: rsa.RSAPrivateKey, spki: bytes) -> RawPublicKey:
    """A peer that presents ``spki`` but signs with every rsa_pss_pss_* scheme, as a
    stack that ignores its key's parameters would: made from the same key without
    them, its SPKI then replaced (before it is first sent)."""
    loose = RawPublicKey(key, spki=pss_spki(key, None))
    loose.spki = spki
    loose.cert_der = [spki]
    return loose


def test_the_parameters_are_read() -> None:
    key = rsa_key(0)
    assert spki_pss_params(pss_spki(key)) == PssParams("sha384", "sha384", 48, 1)
    assert spki_pss_params(pss_spki(key, "sha256", "sha1", 40)) == PssParams(
        "sha256", "sha1", 40, 1)
    assert spki_pss_params(pss_spki(key, None)) is None


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_a_restricted_server_key_signs_with_its_hash_only(versions: list[str]) -> None:
    """An RSASSA-PSS raw key restricted to SHA-384 signs with rsa_pss_pss_sha384 though
    the client lists rsa_pss_pss_sha256 first (before: sha256, which the key's
    parameters forbid; RFC 8446 4.2.3)."""
    key = rsa_key(0)
    mine = RawPublicKey(key, spki=pss_spki(key))
    assert mine.schemes == mine.schemes12 == [SignatureScheme.rsa_pss_pss_sha384]
    c, _ = connect(ClientConfig(pinned_server_keys=[mine.spki], versions=versions),
                   ServerConfig(raw_public_key=mine, versions=versions))
    hc = c.handshake_complete
    assert hc is not None and hc.peer_raw_public_key == mine.spki
    assert hc.signature_scheme == SignatureScheme.rsa_pss_pss_sha384


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_a_restricted_client_key_signs_with_its_hash_only(versions: list[str]) -> None:
    key = rsa_key(1)
    mine = RawPublicKey(key, spki=pss_spki(key, "sha512"))
    _, s = connect(ClientConfig(pinned_server_keys=[SERVER_KEY.spki], raw_public_key=mine,
                                versions=versions),
                   ServerConfig(raw_public_key=SERVER_KEY, client_auth="required",
                                pinned_client_keys=[mine.spki], versions=versions))
    assert s.handshake_complete is not None
    assert s.handshake_complete.peer_raw_public_key == mine.spki


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_a_client_not_taking_the_keys_hash_gets_handshake_failure(versions: list[str]) -> None:
    key = rsa_key(0)
    mine = RawPublicKey(key, spki=pss_spki(key))
    exc, alert, who = failure(
        ClientConfig(pinned_server_keys=[mine.spki], versions=versions,
                     signature_schemes=["rsa_pss_pss_sha256", "ecdsa_secp256r1_sha256"]),
        ServerConfig(raw_public_key=mine, versions=versions))
    assert (who, alert) == ("server", AD.handshake_failure)
    assert "rsa_pss_pss_sha384" in str(exc)


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_a_server_signing_against_its_keys_parameters_is_refused(versions: list[str]) -> None:
    """The server's CertificateVerify (TLS 1.3) or ServerKeyExchange (TLS 1.2) made with
    rsa_pss_pss_sha256 by a key restricted to SHA-384: illegal_parameter, naming the key
    (before: accepted). (A key whose salt rules out its own hash's scheme fits no scheme
    at all, so it is never pinned: see below; tests/interop/test_openssl_rsa_pss.py
    checks that rule on a certificate.)"""
    key = rsa_key(2)
    problem = "restricted to sha384, rsa_pss_pss_sha256 uses sha256"
    spki = pss_spki(key)
    peer = rogue(key, spki)
    exc, alert, who = failure(
        ClientConfig(pinned_server_keys=[spki], versions=versions,
                     signature_schemes=["rsa_pss_pss_sha256", "rsa_pss_pss_sha384"]),
        ServerConfig(raw_public_key=peer, versions=versions))
    assert (who, alert, exc.alert) == ("client", AD.illegal_parameter, AD.illegal_parameter)
    assert "the server signed with rsa_pss_pss_sha256" in str(exc)
    assert problem in str(exc) and peer.fingerprint in str(exc)


@pytest.mark.parametrize("versions", VERSIONS, ids=IDS)
def test_a_client_signing_against_its_keys_parameters_is_refused(versions: list[str]) -> None:
    key = rsa_key(3)
    spki = pss_spki(key, "sha512")
    peer = rogue(key, spki)
    exc, alert, who = failure(
        ClientConfig(pinned_server_keys=[SERVER_KEY.spki], raw_public_key=peer,
                     versions=versions),
        ServerConfig(raw_public_key=SERVER_KEY, client_auth="required",
                     pinned_client_keys=[spki], versions=versions))
    assert (who, alert, exc.alert) == ("server", AD.illegal_parameter, AD.illegal_parameter)
    assert "the client signed with rsa_pss_pss_sha256" in str(exc)
    assert "restricted to sha512" in str(exc) and peer.fingerprint in str(exc)


def test_keys_whose_parameters_allow_no_scheme_are_refused() -> None:
    """SHA-1, two hash functions, or a salt longer than the hash: no rsa_pss_pss_*
    scheme fits, so neither the key nor a pin of it could ever authenticate (ValueError
    when the config is made, saying why)."""
    key = rsa_key(0)
    for spki, why in [(pss_spki(key, "sha1"), "restricted to sha1"),
                      (pss_spki(key, "sha256", "sha1"), "restricted to sha256 with MGF1-sha1"),
                      (pss_spki(key, "sha512", salt=65), "salt of at least 65 bytes")]:
        with pytest.raises(ValueError, match=f"allow no TLS signature scheme.*{why}"):
            RawPublicKey(key, spki=spki)
        with pytest.raises(ValueError, match=f"pinned_server_keys.*{why}"):
            ClientConfig(pinned_server_keys=[spki])


def test_spki_must_be_the_private_keys() -> None:
    with pytest.raises(ValueError, match="not the public key of its private_key"):
        RawPublicKey(rsa_key(0), spki=pss_spki(rsa_key(1)))


def test_from_file_keeps_a_pss_keys_spki(tmp_path: Any) -> None:
    """A PKCS #8 RSASSA-PSS key file (its AlgorithmIdentifier carries the parameters)
    is served under that SPKI, and `public_pem` writes it for the peer's pins."""
    key = rsa_key(0)
    spki = pss_spki(key)
    rsa_pkcs8 = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    # PrivateKeyInfo: version, then the AlgorithmIdentifier of the SPKI, then the key.
    version = rsa_pkcs8[4:7]
    private = rsa_pkcs8[7 + 15:]  # past rsaEncryption's AlgorithmIdentifier
    algorithm = spki[4:4 + 2 + spki[5]]
    import base64
    der = _tlv(0x30, version + algorithm + private)
    pem = (b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(der)
           + b"-----END PRIVATE KEY-----\n")
    (tmp_path / "pss.pem").write_bytes(pem)
    loaded = RawPublicKey.from_file(tmp_path / "pss.pem")
    assert loaded.spki == spki
    assert loaded.schemes == [SignatureScheme.rsa_pss_pss_sha384]
    assert base64.b64decode(b"".join(loaded.public_pem().splitlines()[1:-1])) == spki
