"""HPKE base mode (RFC 9180) with a reusable context, for Encrypted Client Hello.

ECH seals the inner ClientHello with associated data (the outer hello) and, after a
HelloRetryRequest, seals the second inner hello with the same context at sequence 1.
`cryptography`'s `hpke.Suite` offers single-shot encrypt/decrypt without AAD, so the key
schedule (5.1), DHKEM (4.1) and the sequence-numbered AEAD context (5.2) are composed
here from cryptography's X25519, HMAC (HKDF-Extract), HKDFExpand and AEAD classes.

Supported: KEM DHKEM(X25519, HKDF-SHA256); KDF HKDF-SHA256/384/512; AEAD AES-128-GCM,
AES-256-GCM, ChaCha20-Poly1305. Only mode_base (0x00): ECH uses nothing else.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from .enums import HpkeAeadId, HpkeKdfId, HpkeKemId
from .keyschedule import hkdf_extract

_VERSION_LABEL = b"HPKE-v1"
_MODE_BASE = 0


KemId = HpkeKemId  # (the IANA values live in tlskit.enums, beside the TLS ones)
KdfId = HpkeKdfId
AeadId = HpkeAeadId


class HPKEError(Exception):
    """An HPKE operation failed: a bad encapsulated key, a ciphertext that does not
    open, or a context whose sequence number is exhausted."""


_HASHES: dict[int, Callable[[], hashes.HashAlgorithm]] = {
    KdfId.HKDF_SHA256: hashes.SHA256, KdfId.HKDF_SHA384: hashes.SHA384,
    KdfId.HKDF_SHA512: hashes.SHA512}
_HASH_NAMES: dict[int, str] = {KdfId.HKDF_SHA256: "sha256", KdfId.HKDF_SHA384: "sha384",
               KdfId.HKDF_SHA512: "sha512"}  # (the key schedule's names for them)
# AEAD id -> (key length Nk, AEAD class); every supported one has Nn 12 and Nt 16.
_AEADS: dict[int, tuple[int, type[AESGCM] | type[ChaCha20Poly1305]]] = {
    AeadId.AES_128_GCM: (16, AESGCM), AeadId.AES_256_GCM: (32, AESGCM),
    AeadId.CHACHA20_POLY1305: (32, ChaCha20Poly1305)}
NONCE_LENGTH = 12
TAG_LENGTH = 16
SUPPORTED_KEMS = frozenset({KemId.DHKEM_X25519_HKDF_SHA256})
SUPPORTED_KDFS = frozenset(_HASHES)
SUPPORTED_AEADS = frozenset(_AEADS)


def supported(kem_id: int, kdf_id: int, aead_id: int) -> bool:
    return kem_id in SUPPORTED_KEMS and kdf_id in SUPPORTED_KDFS and aead_id in SUPPORTED_AEADS


# --- labeled HKDF (4) ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Kdf:
    """HKDF with a hash, labeled for one suite_id (4: LabeledExtract / LabeledExpand)."""

    kdf_id: int
    suite_id: bytes

    def _hash(self) -> hashes.HashAlgorithm:
        return _HASHES[self.kdf_id]()

    @property
    def nh(self) -> int:
        return self._hash().digest_size

    def extract(self, salt: bytes, label: bytes, ikm: bytes) -> bytes:
        """HKDF-Extract (the key schedule's) over the labeled input keying material."""
        return hkdf_extract(_HASH_NAMES[self.kdf_id], salt or bytes(self.nh),
                            _VERSION_LABEL + self.suite_id + label + ikm)

    def expand(self, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
        labeled = struct.pack(">H", length) + _VERSION_LABEL + self.suite_id + label + info
        return HKDFExpand(self._hash(), length, labeled).derive(prk)


# --- DHKEM(X25519, HKDF-SHA256) (4.1, 7.1) -----------------------------------------------

_X25519_KEM = _Kdf(KdfId.HKDF_SHA256, b"KEM" + struct.pack(">H", KemId.DHKEM_X25519_HKDF_SHA256))
X25519_KEY_LENGTH = 32
# (any fixed key tells a low-order public key: a clamped scalar sends it to zero)
_PROBE_KEY = X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def derive_key_pair(ikm: bytes) -> X25519PrivateKey:
    """DeriveKeyPair for X25519 (7.1.3): a key from input keying material."""
    prk = _X25519_KEM.extract(b"", b"dkp_prk", ikm)
    return X25519PrivateKey.from_private_bytes(_X25519_KEM.expand(prk, b"sk", b"", 32))


def _public_bytes(key: X25519PublicKey) -> bytes:
    return key.public_bytes_raw()


def _shared_secret(dh: bytes, enc: bytes, pk_rm: bytes) -> bytes:
    """ExtractAndExpand (4.1) over kem_context = enc || pkRm."""
    if dh == bytes(32):  # 7.1.4: an all-zero X25519 output is an error
        raise HPKEError("X25519 produced the all-zero value (a low-order public key)")
    prk = _X25519_KEM.extract(b"", b"eae_prk", dh)
    return _X25519_KEM.expand(prk, b"shared_secret", enc + pk_rm, 32)


def _load_public(data: bytes) -> X25519PublicKey:
    if len(data) != X25519_KEY_LENGTH:
        raise HPKEError(f"X25519 public key of {len(data)} bytes, not 32")
    return X25519PublicKey.from_public_bytes(data)


def encap(pk_r: bytes, ephemeral: X25519PrivateKey | None = None) -> tuple[bytes, bytes]:
    """(shared_secret, enc) for recipient key `pk_r`; `ephemeral` is for test vectors."""
    sk_e = ephemeral if ephemeral is not None else X25519PrivateKey.generate()
    enc = _public_bytes(sk_e.public_key())
    try:
        dh = sk_e.exchange(_load_public(pk_r))
    except ValueError as exc:  # a low-order pk_r: cryptography refuses the zero result
        raise HPKEError(f"X25519 exchange failed: {exc}") from None
    return _shared_secret(dh, enc, pk_r), enc


def usable_public_key(pk: bytes) -> bool:
    """Whether `pk` is an X25519 key an encapsulation can use: 32 bytes, and not of low
    order (whose shared secret is all zeros for every sender key, 7.1.4)."""
    try:
        encap(pk, _PROBE_KEY)
    except HPKEError:
        return False
    return True


def decap(enc: bytes, sk_r: X25519PrivateKey) -> bytes:
    try:
        dh = sk_r.exchange(_load_public(enc))
    except ValueError as exc:  # cryptography refuses an all-zero result itself
        raise HPKEError(f"X25519 exchange failed: {exc}") from None
    return _shared_secret(dh, enc, _public_bytes(sk_r.public_key()))


# --- key schedule (5.1) and the encryption context (5.2) ---------------------------------

class Context:
    """A base-mode HPKE context: seal (sender) or open (recipient) in sequence order."""

    __slots__ = ("_aead", "_kdf", "aead_id", "base_nonce", "exporter_secret", "key", "seq")

    def __init__(self, kdf: _Kdf, aead_id: int, key: bytes, base_nonce: bytes,
                 exporter_secret: bytes) -> None:
        self._kdf = kdf
        self.aead_id = aead_id
        self.key = key
        self.base_nonce = base_nonce
        self.exporter_secret = exporter_secret
        self.seq = 0
        self._aead = _AEADS[aead_id][1](key)

    def _next_nonce(self) -> bytes:
        seq = self.seq
        if seq >= (1 << (8 * NONCE_LENGTH)) - 1:  # 5.2: MessageLimitReachedError
            raise HPKEError("HPKE context sequence number exhausted")
        nonce = int.from_bytes(self.base_nonce, "big") ^ seq
        return nonce.to_bytes(NONCE_LENGTH, "big")

    def compute_nonce(self, seq: int) -> bytes:
        """base_nonce XOR seq (5.2), for tests and traces."""
        return (int.from_bytes(self.base_nonce, "big") ^ seq).to_bytes(NONCE_LENGTH, "big")

    def seal(self, aad: bytes, plaintext: bytes) -> bytes:
        ct = self._aead.encrypt(self._next_nonce(), plaintext, aad)
        self.seq += 1
        return ct

    def open(self, aad: bytes, ciphertext: bytes) -> bytes:
        """The plaintext; HPKEError (sequence number unchanged) if it does not open."""
        try:
            pt = self._aead.decrypt(self._next_nonce(), ciphertext, aad)
        except InvalidTag:
            raise HPKEError("HPKE ciphertext does not open (wrong key or tampered)") from None
        self.seq += 1
        return pt

    def export(self, exporter_context: bytes, length: int) -> bytes:
        """Secret export (5.3)."""
        return self._kdf.expand(self.exporter_secret, b"sec", exporter_context, length)


def _key_schedule(kem_id: int, kdf_id: int, aead_id: int, shared_secret: bytes,
                  info: bytes) -> Context:
    if not supported(kem_id, kdf_id, aead_id):
        raise HPKEError(f"unsupported HPKE suite kem={kem_id:#06x} kdf={kdf_id:#06x} "
                        f"aead={aead_id:#06x}")
    kdf = _Kdf(kdf_id, b"HPKE" + struct.pack(">HHH", kem_id, kdf_id, aead_id))
    psk_id_hash = kdf.extract(b"", b"psk_id_hash", b"")
    info_hash = kdf.extract(b"", b"info_hash", info)
    context = bytes((_MODE_BASE,)) + psk_id_hash + info_hash
    secret = kdf.extract(shared_secret, b"secret", b"")  # base mode: default_psk = ""
    nk = _AEADS[aead_id][0]
    return Context(kdf, aead_id, kdf.expand(secret, b"key", context, nk),
                   kdf.expand(secret, b"base_nonce", context, NONCE_LENGTH),
                   kdf.expand(secret, b"exp", context, kdf.nh))


def setup_base_s(pk_r: bytes, info: bytes, kdf_id: int, aead_id: int,
                 kem_id: int = KemId.DHKEM_X25519_HKDF_SHA256,
                 ephemeral: X25519PrivateKey | None = None) -> tuple[bytes, Context]:
    """SetupBaseS (5.1.1): (enc, sender context) for the recipient's public key."""
    if kem_id not in SUPPORTED_KEMS:
        raise HPKEError(f"unsupported HPKE KEM {kem_id:#06x}")
    shared, enc = encap(pk_r, ephemeral)
    return enc, _key_schedule(kem_id, kdf_id, aead_id, shared, info)


def setup_base_r(enc: bytes, sk_r: X25519PrivateKey, info: bytes, kdf_id: int,
                 aead_id: int, kem_id: int = KemId.DHKEM_X25519_HKDF_SHA256) -> Context:
    """SetupBaseR (5.1.1): the recipient context for the sender's `enc`."""
    if kem_id not in SUPPORTED_KEMS:
        raise HPKEError(f"unsupported HPKE KEM {kem_id:#06x}")
    return _key_schedule(kem_id, kdf_id, aead_id, decap(enc, sk_r), info)
