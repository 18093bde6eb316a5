"""The algorithm tables: cipher suites, key-exchange groups and signature schemes.

Every primitive comes from `cryptography`; this module only maps IANA code points onto
it. Randomness enters through an injected ``rng(n) -> bytes`` so handshakes can be
replayed byte-exact (RFC 8448).
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import (
    dh,
    ec,
    ed448,
    ed25519,
    mlkem,
    padding,
    rsa,
    x448,
    x25519,
)
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.utils import CryptographyDeprecationWarning

from .enums import CipherSuite, NamedGroup, SignatureScheme, group_of
from .errors import DecryptError, HandshakeFailure, IllegalParameter

if TYPE_CHECKING:
    from .x509.der import PssParams

RNG = Callable[[int], bytes]


# --- cipher suites -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Suite:
    code: CipherSuite
    aead: type[AESGCM] | type[ChaCha20Poly1305] | type[AESCCM]
    key_length: int
    hash_name: str  # hashlib / hmac name
    hash_length: int

    @property
    def name(self) -> str:
        return self.code.name

    def hash_alg(self) -> hashes.HashAlgorithm:
        return hashes.SHA384() if self.hash_name == "sha384" else hashes.SHA256()


SUITES: dict[int, Suite] = {
    s.code: s for s in (
        Suite(CipherSuite.TLS_AES_128_GCM_SHA256, AESGCM, 16, "sha256", 32),
        Suite(CipherSuite.TLS_AES_256_GCM_SHA384, AESGCM, 32, "sha384", 48),
        Suite(CipherSuite.TLS_CHACHA20_POLY1305_SHA256, ChaCha20Poly1305, 32, "sha256", 32),
        # Offered only when configured, as OpenSSL does (16-byte tag; CCM_8 is not done).
        Suite(CipherSuite.TLS_AES_128_CCM_SHA256, AESCCM, 16, "sha256", 32),
    )
}
DEFAULT_SUITES = [CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384,
                  CipherSuite.TLS_CHACHA20_POLY1305_SHA256]


@dataclass(frozen=True, slots=True)
class Suite12(Suite):
    """A TLS 1.2 AEAD suite: ``auth`` is the certificate key kind it needs, ``kx`` how
    the premaster secret is agreed: "ECDHE" (RFC 8422), or "RSA" key transport (RFC 5246
    7.4.7.1: the client encrypts it to the server's certificate key; no forward secrecy,
    so only with ``legacy_rsa_key_exchange``)."""

    auth: str = "ECDSA"   # "ECDSA" (EC and EdDSA keys) or "RSA"
    iv_length: int = 4    # the implicit part of the nonce: 4 for GCM, 12 for ChaCha20
    kx: str = "ECDHE"     # "ECDHE" or "RSA"


_C = CipherSuite
SUITES12: dict[int, Suite12] = {
    s.code: s for s in (
        Suite12(_C.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, AESGCM, 16, "sha256", 32, "ECDSA"),
        Suite12(_C.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, AESGCM, 16, "sha256", 32, "RSA"),
        Suite12(_C.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, AESGCM, 32, "sha384", 48, "ECDSA"),
        Suite12(_C.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, AESGCM, 32, "sha384", 48, "RSA"),
        Suite12(_C.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, ChaCha20Poly1305, 32,
                "sha256", 32, "ECDSA", 12),
        Suite12(_C.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, ChaCha20Poly1305, 32,
                "sha256", 32, "RSA", 12),
        Suite12(_C.TLS_RSA_WITH_AES_128_GCM_SHA256, AESGCM, 16, "sha256", 32, "RSA", 4, "RSA"),
        Suite12(_C.TLS_RSA_WITH_AES_256_GCM_SHA384, AESGCM, 32, "sha384", 48, "RSA", 4, "RSA"),
    )
}
# RSA key transport: never offered or accepted unless a config opts in.
RSA_KX_SUITES12 = [code for code, s in SUITES12.items() if s.kx == "RSA"]
DEFAULT_SUITES12 = [code for code in SUITES12 if code not in RSA_KX_SUITES12]
# ECDHE in TLS 1.2 (RFC 8422 5.1.1) uses the elliptic-curve groups only, x448 included
# (as OpenSSL does): a server configured with x448 serves a TLS 1.2 client offering only it.
GROUPS12 = (NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1,
            NamedGroup.secp521r1, NamedGroup.x448)


def ec_key_group(key: Any) -> int | None:
    """The named group of an EC key (TLS 1.2 ties ECDSA certificates to supported_groups)."""
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    return {"secp256r1": NamedGroup.secp256r1, "secp384r1": NamedGroup.secp384r1,
            "secp521r1": NamedGroup.secp521r1}.get(key.curve.name)


def public_key_auth_kind(key: Any) -> str:
    """The TLS 1.2 suite family a certificate key can serve: "RSA" or "ECDSA"."""
    return "RSA" if isinstance(key, rsa.RSAPublicKey) else "ECDSA"


def key_auth_kind(key: Any) -> str:
    return "RSA" if isinstance(key, rsa.RSAPrivateKey) else "ECDSA"


try:  # OpenSSL's HMAC objects, without the `hmac` module's Python class around them
    from _hashlib import hmac_new as _hmac_new
except ImportError:  # pragma: no cover - a Python built without OpenSSL
    _hmac_new = hmac.new  # type: ignore[assignment]
# The HMAC constructor itself, for the key schedule's one-block expansions: calling it
# inline (``hmac_new(key, msg, name).digest()``) saves `hmac_digest`'s Python frame on
# about 40 HMACs per TLS 1.3 pair.
hmac_new = _hmac_new


# The handshake hashes by name, one algorithm object each (not one per keyed HMAC).
_HMAC_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


def keyed_hmac(key: bytes, hash_name: str) -> HMAC:
    """An HMAC keyed once, for a secret that keys several HMACs (a TLS 1.3 key-schedule
    stage, a traffic secret's key and IV, the TLS 1.2 PRF): each is a ``copy()``,
    updated and finalized; the original is never updated. cryptography's HMAC rather
    than hashlib's: ``finalize`` ends the copy it is called on, where hashlib's
    ``digest`` copies the state once more (measured per HMAC: 0.53 against 0.79 us;
    keying one costs 0.84 against 0.47 us, once per secret)."""
    return HMAC(key, _HMAC_HASHES[hash_name])


def hmac_digest(key: bytes, msg: bytes, hash_name: str) -> bytes:
    """HMAC(key, msg), for the key schedule's one-off HMACs (a secret that keys several
    is a `keyed_hmac`). Through an HMAC object: the one-shot
    `_hashlib.hmac_digest` (what `hmac.digest` calls) fetches the MAC algorithm from
    OpenSSL 3 on every call and measured 2.6-2.7 us per SHA-256 HMAC of a short message
    here, this 1.7-1.8 us."""
    return _hmac_new(key, msg, hash_name).digest()  # type: ignore[no-any-return]



# --- key exchange ------------------------------------------------------------------

class KeyShare(abc.ABC):
    """One side's ephemeral key for a group: ``public`` goes on the wire."""

    group: NamedGroup
    public: bytes

    @abc.abstractmethod
    def exchange(self, peer_public: bytes) -> bytes:
        """The shared secret with the peer's public value (IllegalParameter if invalid)."""


def _montgomery_table() -> dict[int, tuple[NamedGroup, int, Callable[[bytes], Any],
                                           Callable[[bytes], Any]]]:
    """group -> (member, share size, private key from bytes, public key from bytes): the
    class choice made once, not per share (cryptography's public constructors only)."""
    return {int(NamedGroup.x25519): (NamedGroup.x25519, 32,
                                     x25519.X25519PrivateKey.from_private_bytes,
                                     x25519.X25519PublicKey.from_public_bytes),
            int(NamedGroup.x448): (NamedGroup.x448, 56, x448.X448PrivateKey.from_private_bytes,
                                   x448.X448PublicKey.from_public_bytes)}


_MONTGOMERY = _montgomery_table()


class _MontgomeryShare(KeyShare):
    """X25519 and X448 (RFC 7748): fixed-length public values; an all-zero shared secret
    (a small-order peer point, RFC 7748 6) is refused."""

    def __init__(self, group: int, rng: RNG) -> None:
        self.group, self._size, make_private, self._make_public = _MONTGOMERY[group]
        self._key = make_private(rng(self._size))
        self.public = self._key.public_key().public_bytes_raw()

    def exchange(self, peer_public: bytes) -> bytes:
        if len(peer_public) != self._size:
            raise IllegalParameter(f"{self.group.name} key share is not {self._size} bytes")
        try:
            return bytes(self._key.exchange(self._make_public(peer_public)))
        except ValueError as exc:  # cryptography refuses the all-zero result
            raise IllegalParameter(
                f"{self.group.name} key share is a low-order point: the shared secret would "
                "be all zeros (RFC 7748 6.1, RFC 8446 7.4.2)") from exc



_CURVES: dict[int, tuple[type[ec.EllipticCurve], int]] = {
    NamedGroup.secp256r1: (ec.SECP256R1, 32),
    NamedGroup.secp384r1: (ec.SECP384R1, 48),
    NamedGroup.secp521r1: (ec.SECP521R1, 66),
}
_ORDERS = {
    NamedGroup.secp256r1: int("ffffffff00000000ffffffffffffffff"
                              "bce6faada7179e84f3b9cac2fc632551", 16),
    NamedGroup.secp384r1: int("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
                              "581a0db248b0a77aecec196accc52973", 16),
    NamedGroup.secp521r1: int("1" + "f" * 64 + "fa51868783bf2f966b7fcc0148f709a5d03bb5c9"
                              "b8899c47aebb6fb71e91386409", 16),
}


class _ECDHShare(KeyShare):
    def __init__(self, group: NamedGroup, rng: RNG) -> None:
        self.group = group
        curve, size = _CURVES[group]
        self._curve = curve()
        self._size = size
        scalar = 0
        order = _ORDERS[group]
        mask = (1 << order.bit_length()) - 1
        while not 0 < scalar < order:  # rejection sampling keeps it uniform
            scalar = int.from_bytes(rng(size), "big") & mask
        self._key = ec.derive_private_key(scalar, self._curve)
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        self.public = self._key.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint)

    def exchange(self, peer_public: bytes) -> bytes:
        # RFC 8446 4.2.8.2: only the uncompressed form; the point must be on the curve.
        if len(peer_public) != 1 + 2 * self._size or peer_public[0] != 4:
            raise IllegalParameter(f"{self.group.name} key share is not an uncompressed point")
        try:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(self._curve, peer_public)
        except ValueError as exc:
            raise IllegalParameter(f"{self.group.name} key share is not on the curve") from exc
        return self._key.exchange(ec.ECDH(), peer)


class _HybridMLKEMShare(KeyShare):
    """X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem): ML-KEM-768 first, then X25519."""

    def __init__(self, rng: RNG) -> None:
        self.group = NamedGroup.X25519MLKEM768
        self._kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(rng(64))
        self._x = _MontgomeryShare(NamedGroup.x25519, rng)
        self.public = self._kem.public_key().public_bytes_raw() + self._x.public

    def exchange(self, peer_public: bytes) -> bytes:
        if len(peer_public) != 1088 + 32:
            raise IllegalParameter("X25519MLKEM768 server share has the wrong length")
        try:
            kem_secret = self._kem.decapsulate(peer_public[:1088])
        except ValueError as exc:
            raise IllegalParameter("X25519MLKEM768 ciphertext rejected") from exc
        return kem_secret + self._x.exchange(peer_public[1088:])


def _ffdhe_prime(bits: int, x: int) -> int:
    """RFC 7919 appendix A: p = 2^b - 2^(b-64) + (floor(2^(b-130) e) + X) 2^64 - 1.

    Computed from the series for e rather than pasted, and checked to be a safe prime
    by the tests.
    """
    guard = 64
    term = 1 << (bits - 130 + guard)
    total, k = 0, 0
    while term:
        total += term
        k += 1
        term //= k
    return (1 << bits) - (1 << (bits - 64)) + (((total >> guard) + x) << 64) - 1


_FFDHE_X = {NamedGroup.ffdhe2048: (2048, 560316), NamedGroup.ffdhe3072: (3072, 2625351),
            NamedGroup.ffdhe4096: (4096, 5736041), NamedGroup.ffdhe6144: (6144, 15705020),
            NamedGroup.ffdhe8192: (8192, 10965728)}
_FFDHE_GROUPS: dict[int, tuple[dh.DHParameterNumbers, dh.DHPublicKey]] = {}
# RFC 7919 5.2 and Appendix A: the shortest private exponent that keeps each group's
# strength (its 103 to 192 security bits); OpenSSL uses short exponents for these safe
# primes too. A full-size one buys nothing and made one ffdhe8192 handshake, which any
# client may ask of a default server, cost about a second of CPU (in Python's pow(), then
# holding the GIL; the exponentiations now run in OpenSSL, see `_FFDHEShare`).
_FFDHE_EXPONENT_BITS = {NamedGroup.ffdhe2048: 225, NamedGroup.ffdhe3072: 275,
                        NamedGroup.ffdhe4096: 325, NamedGroup.ffdhe6144: 375,
                        NamedGroup.ffdhe8192: 400}

# FFDHE is deliberate and opt-in (offered only when configured: groups=["ffdhe2048"]), and
# cryptography >= 50 warns on every access to its dh names. Take them once, here, quietly;
# any other deprecation still shows.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Diffie-Hellman over finite fields",
                            CryptographyDeprecationWarning)
    _DHParameterNumbers = dh.DHParameterNumbers
    _DHPublicNumbers = dh.DHPublicNumbers
    _DHPrivateNumbers = dh.DHPrivateNumbers


def ffdhe_prime(group: int) -> int:
    return _ffdhe_prime(*_FFDHE_X[NamedGroup(group)])


def _ffdhe_group(group: NamedGroup) -> tuple[dh.DHParameterNumbers, dh.DHPublicKey]:
    """The group's parameters, and its generator as a DH public value (for `_FFDHEShare`);
    made once per group: the prime comes from a series."""
    made = _FFDHE_GROUPS.get(group)
    if made is None:
        numbers = _DHParameterNumbers(ffdhe_prime(group), 2)
        made = _FFDHE_GROUPS[group] = numbers, _DHPublicNumbers(2, numbers).public_key()
    return made


class _FFDHEShare(KeyShare):
    """Finite-field DH (RFC 7919); values are left-padded to the prime's length (4.2.8.1).

    The private exponent comes from the injected rng; its public value g^x mod p is
    computed by OpenSSL, as a DH exchange with the generator as the peer's value, so every
    exponentiation with x runs in OpenSSL's constant-time code. Python's pow() takes time
    that depends on the exponent's bits, which would leak the private key through timing.
    """

    def __init__(self, group: NamedGroup, rng: RNG) -> None:
        self.group = group
        numbers, generator = _ffdhe_group(group)
        self._numbers = numbers
        self._p = numbers.p
        self._size = _FFDHE_X[group][0] // 8
        # At least _FFDHE_EXPONENT_BITS random bits under a set top bit (so x >= 2).
        n = (_FFDHE_EXPONENT_BITS[group] + 8) // 8
        x = int.from_bytes(rng(n), "big") | (1 << (8 * n - 1))
        # (the public half given here is a placeholder: an exchange reads only x)
        self._key = _DHPrivateNumbers(x, _DHPublicNumbers(2, numbers)).private_key()
        self.public = self._key.exchange(generator).rjust(self._size, b"\x00")

    def exchange(self, peer_public: bytes) -> bytes:
        if len(peer_public) != self._size:
            raise IllegalParameter(f"{self.group.name} key share has the wrong length")
        y = int.from_bytes(peer_public, "big")
        if not 1 < y < self._p - 1:
            raise IllegalParameter(f"{self.group.name} key share is out of range")
        peer = _DHPublicNumbers(y, self._numbers).public_key()
        return self._key.exchange(peer).rjust(self._size, b"\x00")


_HYBRID = int(NamedGroup.X25519MLKEM768)  # (a module constant: read per handshake)


# RFC 8446 B.3.1.4 obsolete_RESERVED: 0x0001-0x0016, 0x001A-0x001C, 0xFF01-0xFF02. A set,
# so that a server checks every group a ClientHello lists in one `isdisjoint` call.
OBSOLETE_GROUPS = frozenset((*range(0x0001, 0x0017), *range(0x001A, 0x001D), 0xFF01, 0xFF02))


def is_obsolete_group(group: int) -> bool:
    """One of `OBSOLETE_GROUPS`, which no TLS 1.3 peer may offer a share for."""
    return group in OBSOLETE_GROUPS


def is_ffdhe_group(group: int) -> bool:
    """RFC 7919 3: 0x0100-0x01FF is the finite-field (FFDHE) range of supported_groups,
    known to tlskit or not."""
    return 0x0100 <= group <= 0x01FF


def new_key_share(group: int, rng: RNG) -> KeyShare:
    if group in _MONTGOMERY:
        return _MontgomeryShare(group, rng)
    if group in _CURVES:
        return _ECDHShare(group_of(group), rng)
    if group == _HYBRID:
        return _HybridMLKEMShare(rng)
    if group in _FFDHE_X:
        return _FFDHEShare(NamedGroup(group), rng)
    raise HandshakeFailure(f"group {NamedGroup(group).name} is not implemented")


def server_key_exchange(group: int, client_public: bytes, rng: RNG) -> tuple[bytes, bytes]:
    """The server's answer to a client share: (server share, shared secret)."""
    if group == _HYBRID:
        if len(client_public) != 1184 + 32:
            raise IllegalParameter("X25519MLKEM768 client share has the wrong length")
        try:
            peer_kem = mlkem.MLKEM768PublicKey.from_public_bytes(client_public[:1184])
        except ValueError as exc:
            raise IllegalParameter("X25519MLKEM768 encapsulation key rejected") from exc
        kem_secret, ciphertext = peer_kem.encapsulate()
        x = _MontgomeryShare(NamedGroup.x25519, rng)
        return ciphertext + x.public, kem_secret + x.exchange(client_public[1184:])
    share = new_key_share(group, rng)
    return share.public, share.exchange(client_public)


IMPLEMENTED_GROUPS = (NamedGroup.x25519, NamedGroup.x448, NamedGroup.secp256r1,
                      NamedGroup.secp384r1,
                      NamedGroup.secp521r1, NamedGroup.X25519MLKEM768, NamedGroup.ffdhe2048,
                      NamedGroup.ffdhe3072, NamedGroup.ffdhe4096, NamedGroup.ffdhe6144,
                      NamedGroup.ffdhe8192)
# Post-quantum hybrid first (as browsers and Go do), then the classical groups.
DEFAULT_GROUPS = [NamedGroup.X25519MLKEM768, NamedGroup.x25519, NamedGroup.secp256r1,
                  NamedGroup.secp384r1]
# A server accepts every group it implements when a client offers only that one (as
# OpenSSL does): its preference order puts the fast, common groups first, so clients
# that offer those never get the others; a client's own offer stays DEFAULT_GROUPS.
SERVER_DEFAULT_GROUPS = [*DEFAULT_GROUPS, NamedGroup.secp521r1, NamedGroup.x448,
                         NamedGroup.ffdhe2048, NamedGroup.ffdhe3072, NamedGroup.ffdhe4096,
                         NamedGroup.ffdhe6144, NamedGroup.ffdhe8192]


# --- signature schemes --------------------------------------------------------------

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True, slots=True)
class Scheme:
    code: SignatureScheme
    kind: str        # "ecdsa", "rsa_pss_rsae", "rsa_pss_pss", "rsa_pkcs1", "eddsa"
    hash_name: str   # "" for EdDSA
    curve: str = ""  # for ECDSA in TLS 1.3 the curve is bound to the scheme

    def hash(self) -> hashes.HashAlgorithm:
        return _HASHES[self.hash_name]()


_S = SignatureScheme
SCHEMES: dict[int, Scheme] = {
    s.code: s for s in (
        Scheme(_S.ecdsa_secp256r1_sha256, "ecdsa", "sha256", "secp256r1"),
        Scheme(_S.ecdsa_secp384r1_sha384, "ecdsa", "sha384", "secp384r1"),
        Scheme(_S.ecdsa_secp521r1_sha512, "ecdsa", "sha512", "secp521r1"),
        Scheme(_S.rsa_pss_rsae_sha256, "rsa_pss_rsae", "sha256"),
        Scheme(_S.rsa_pss_rsae_sha384, "rsa_pss_rsae", "sha384"),
        Scheme(_S.rsa_pss_rsae_sha512, "rsa_pss_rsae", "sha512"),
        Scheme(_S.rsa_pss_pss_sha256, "rsa_pss_pss", "sha256"),
        Scheme(_S.rsa_pss_pss_sha384, "rsa_pss_pss", "sha384"),
        Scheme(_S.rsa_pss_pss_sha512, "rsa_pss_pss", "sha512"),
        Scheme(_S.ed25519, "eddsa", ""),
        Scheme(_S.ed448, "eddsa", ""),
        Scheme(_S.rsa_pkcs1_sha256, "rsa_pkcs1", "sha256"),
        Scheme(_S.rsa_pkcs1_sha384, "rsa_pkcs1", "sha384"),
        Scheme(_S.rsa_pkcs1_sha512, "rsa_pkcs1", "sha512"),
    )
}
# What tlskit offers for CertificateVerify (RFC 8446 4.2.3: no PKCS#1 v1.5 there).
HANDSHAKE_SCHEMES = [
    _S.ecdsa_secp256r1_sha256, _S.ecdsa_secp384r1_sha384, _S.ecdsa_secp521r1_sha512,
    _S.ed25519, _S.ed448,
    _S.rsa_pss_rsae_sha256, _S.rsa_pss_rsae_sha384, _S.rsa_pss_rsae_sha512,
    _S.rsa_pss_pss_sha256, _S.rsa_pss_pss_sha384, _S.rsa_pss_pss_sha512,
]
# TLS 1.2 also signs ServerKeyExchange with PKCS#1 v1.5 (RFC 5246 7.4.1.4.1).
TLS12_EXTRA_SCHEMES = [_S.rsa_pkcs1_sha256, _S.rsa_pkcs1_sha384, _S.rsa_pkcs1_sha512]
# Accepted in certificates (signature_algorithms_cert): PKCS#1 v1.5 as well.
CERT_SCHEMES = [*HANDSHAKE_SCHEMES, _S.rsa_pkcs1_sha256, _S.rsa_pkcs1_sha384,
                _S.rsa_pkcs1_sha512]

PrivateKey = Any  # a cryptography private key of any supported type
PublicKey = Any


def schemes_for_key(key: PrivateKey, certificate_oid: str | None = None,
                    pss: PssParams | None = None) -> list[SignatureScheme]:
    """The TLS 1.3 CertificateVerify schemes this private key can produce, best first
    (an RSASSA-PSS key with ``pss`` parameters: those they allow, `pss_problem`)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        code = {"secp256r1": _S.ecdsa_secp256r1_sha256, "secp384r1": _S.ecdsa_secp384r1_sha384,
                "secp521r1": _S.ecdsa_secp521r1_sha512}.get(key.curve.name)
        return [code] if code else []
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return [_S.ed25519]
    if isinstance(key, ed448.Ed448PrivateKey):
        return [_S.ed448]
    if isinstance(key, rsa.RSAPrivateKey):
        if certificate_oid == "1.2.840.113549.1.1.10":  # an RSASSA-PSS certificate key
            return [code for code in PSS_PSS_SCHEMES
                    if pss is None or pss_problem(pss, code) is None]
        return [_S.rsa_pss_rsae_sha256, _S.rsa_pss_rsae_sha384, _S.rsa_pss_rsae_sha512]
    return []


def schemes_for_key12(key: PrivateKey, certificate_oid: str | None = None,
                      pss: PssParams | None = None) -> list[SignatureScheme]:
    """TLS 1.2 signing schemes: ECDSA is not bound to a curve there, RSA may use PKCS#1.
    An RSASSA-PSS certificate key signs with rsa_pss_pss_* only (RFC 8446 4.2.3, which
    applies to TLS 1.2 too)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return [_S.ecdsa_secp256r1_sha256, _S.ecdsa_secp384r1_sha384, _S.ecdsa_secp521r1_sha512]
    if isinstance(key, rsa.RSAPrivateKey) and certificate_oid == RSASSA_PSS_OID:
        return schemes_for_key(key, certificate_oid, pss)
    if isinstance(key, rsa.RSAPrivateKey):
        return [_S.rsa_pss_rsae_sha256, _S.rsa_pss_rsae_sha384, _S.rsa_pss_rsae_sha512,
                _S.rsa_pkcs1_sha256, _S.rsa_pkcs1_sha384, _S.rsa_pkcs1_sha512]
    return schemes_for_key(key)


PSS_PSS_SCHEMES = (_S.rsa_pss_pss_sha256, _S.rsa_pss_pss_sha384, _S.rsa_pss_pss_sha512)
_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}


def pss_problem(params: PssParams, scheme: int) -> str | None:
    """Why an rsa_pss_pss_* scheme does not fit an RSASSA-PSS key whose SPKI carries
    RFC 4055 parameters, or None if it does. The scheme hashes the message and MGF1 with
    one function H, with a salt as long as H's digest and trailer 1 (RFC 8446 4.2.3);
    the key allows only its hash, its MGF1 hash and salts at least its saltLength (RFC
    4055 3.1, RFC 8017 A.2.3), so H must be both of its hashes and long enough."""
    name = SCHEMES[scheme].hash_name
    if params.hash != name or params.mgf1_hash != name:
        hashes_ = (params.hash if params.mgf1_hash == params.hash
                   else f"{params.hash} with MGF1-{params.mgf1_hash}")
        return (f"the key is restricted to {hashes_}, {SignatureScheme(scheme).name} uses "
                f"{name} for both")
    if params.salt_length > _DIGEST_SIZES[name]:
        return (f"the key requires a salt of at least {params.salt_length} bytes, "
                f"{SignatureScheme(scheme).name} uses {_DIGEST_SIZES[name]}")
    if params.trailer != 1:
        return f"the key's trailer field is {params.trailer}, not 1 (RFC 4055 3.1)"
    return None


_CERT_SIGNATURES = {
    "1.2.840.10045.4.3.2": _S.ecdsa_secp256r1_sha256, "1.2.840.10045.4.3.3":
    _S.ecdsa_secp384r1_sha384, "1.2.840.10045.4.3.4": _S.ecdsa_secp521r1_sha512,
    "1.2.840.113549.1.1.11": _S.rsa_pkcs1_sha256, "1.2.840.113549.1.1.12":
    _S.rsa_pkcs1_sha384, "1.2.840.113549.1.1.13": _S.rsa_pkcs1_sha512,
    "1.3.101.112": _S.ed25519, "1.3.101.113": _S.ed448,
}
_PSS_BY_HASH = {"sha256": (_S.rsa_pss_rsae_sha256, _S.rsa_pss_pss_sha256),
                "sha384": (_S.rsa_pss_rsae_sha384, _S.rsa_pss_pss_sha384),
                "sha512": (_S.rsa_pss_rsae_sha512, _S.rsa_pss_pss_sha512)}


def certificate_signature_schemes(cert: Any) -> set[int]:
    """The TLS schemes a certificate's own signature counts as (4.2.3 signature_algorithms
    _cert); empty when it maps to none (e.g. SHA-1)."""
    oid = cert.signature_algorithm_oid.dotted_string
    if oid in _CERT_SIGNATURES:
        return {int(_CERT_SIGNATURES[oid])}
    if oid == "1.2.840.113549.1.1.10":  # RSASSA-PSS: rsae or pss, by the issuer's key
        algorithm = cert.signature_hash_algorithm
        pair = _PSS_BY_HASH.get(algorithm.name if algorithm is not None else "")
        return {int(s) for s in pair} if pair else set()
    return set()


def _algorithm(s: Scheme) -> tuple[Any, ...]:
    """The extra arguments `sign`/`verify` pass to cryptography for a scheme, built once
    (an `ECDSA(SHA256())` or a `PSS` padding object costs microseconds to make and is
    immutable): () for EdDSA, (ECDSA,) or (padding, hash) otherwise."""
    if s.kind == "eddsa":
        return ()
    h = s.hash()
    if s.kind == "ecdsa":
        return (ec.ECDSA(h),)
    if s.kind == "rsa_pkcs1":
        return (padding.PKCS1v15(), h)
    return (padding.PSS(padding.MGF1(h), h.digest_size), h)


_ALGORITHMS: dict[int, tuple[Any, ...]] = {code: _algorithm(s) for code, s in SCHEMES.items()}


def sign(key: PrivateKey, scheme: int, data: bytes) -> bytes:
    return bytes(key.sign(data, *_ALGORITHMS[scheme]))


RSASSA_PSS_OID = "1.2.840.113549.1.1.10"


_FAMILY_BY_TYPE: dict[type, str] = {}


def key_family(key: object) -> str:
    """"rsa", "ec", "ed25519", "ed448" or "other" for a public key. The key classes are
    ABCs, whose isinstance checks are slow on a per-handshake path; the answer is kept
    per concrete type."""
    kind = type(key)
    family = _FAMILY_BY_TYPE.get(kind)
    if family is None:
        family = ("rsa" if isinstance(key, rsa.RSAPublicKey)
                  else "ec" if isinstance(key, ec.EllipticCurvePublicKey)
                  else "ed25519" if isinstance(key, ed25519.Ed25519PublicKey)
                  else "ed448" if isinstance(key, ed448.Ed448PublicKey) else "other")
        _FAMILY_BY_TYPE[kind] = family
    return family


def verify(public_key: PublicKey, scheme: int, signature: bytes, data: bytes,
           curve_bound: bool = True, key_oid: str | None = None) -> None:
    """Check a signature made with `scheme`; DecryptError (decrypt_error alert) if bad.

    ``curve_bound=False`` is TLS 1.2, where ecdsa_secp256r1_sha256 means "ECDSA with
    SHA-256" on whatever curve the certificate has.
    """
    s = SCHEMES.get(scheme)
    if s is None:
        raise IllegalParameter(f"unknown signature scheme {SignatureScheme(scheme).name}")
    try:
        family = key_family(public_key)
        if s.kind == "ecdsa":
            if family != "ec" or (curve_bound and cast(
                    ec.EllipticCurvePublicKey, public_key).curve.name != s.curve):
                raise IllegalParameter(f"{s.code.name} does not match the certificate's key")
        elif s.kind == "eddsa":
            if family != ("ed25519" if s.code == _S.ed25519 else "ed448"):
                raise IllegalParameter(f"{s.code.name} does not match the certificate's key")
        else:
            if family != "rsa":
                raise IllegalParameter(f"{s.code.name} does not match the certificate's key")
            if key_oid is not None and (key_oid == RSASSA_PSS_OID) != (s.kind == "rsa_pss_pss"):
                # 4.2.3: rsa_pss_pss_* need an RSASSA-PSS key, rsa_pss_rsae_* rsaEncryption.
                raise IllegalParameter(f"{s.code.name} does not match the certificate's key "
                                       f"type ({key_oid})")
        public_key.verify(signature, data, *_ALGORITHMS[scheme])
    except InvalidSignature as exc:
        raise DecryptError(f"{s.code.name} signature does not verify") from exc


def hash_function(name: str) -> Callable[..., Any]:
    return getattr(hashlib, name)  # type: ignore[no-any-return]


# --- RSA key transport (TLS 1.2, RFC 5246 7.4.7.1) -----------------------------------

PREMASTER_LENGTH = 48
RSA_ENCRYPTION_OID = "1.2.840.113549.1.1.1"  # rsaEncryption: RSASSA-PSS keys cannot encrypt


def rsa_encrypt_premaster(public_key: rsa.RSAPublicKey, client_version: int,
                          rng: RNG) -> tuple[bytes, bytes]:
    """The client's side: a fresh premaster (the ClientHello's version, then 46 random
    bytes) and its PKCS#1 v1.5 encryption to the server's certificate key."""
    premaster = client_version.to_bytes(2, "big") + rng(PREMASTER_LENGTH - 2)
    return premaster, public_key.encrypt(premaster, padding.PKCS1v15())


def rsa_decrypt_premaster(private_key: rsa.RSAPrivateKey, ciphertext: bytes,
                          client_version: int, fallback: bytes) -> bytes:
    """The server's side, which must not be a padding oracle (Bleichenbacher 1998, ROBOT,
    Marvin): whatever is wrong with the ciphertext, the result is the caller's random
    `fallback` (drawn before decrypting, RFC 5246 7.4.7.1), and the handshake then fails
    at the client's Finished exactly as with a premaster the attacker does not know.

    Against OpenSSL 3.2 or later (the library under `cryptography` 42+ wheels; 3.x/4.x
    here), PKCS#1 v1.5 decryption does implicit rejection: a badly padded ciphertext
    "decrypts" to a synthetic message derived from the key and the ciphertext, without
    an error; older builds raise ValueError instead, as every build does for a
    ciphertext that is not exactly as long as the modulus. Both end up here with a
    candidate that fails the checks below. The checks run in full whatever the outcome
    and pick the result without a branch (Python cannot promise constant time; what it
    can promise is one path and one outcome for every kind of failure).
    """
    try:
        candidate = private_key.decrypt(ciphertext, padding.PKCS1v15())
    except ValueError:  # no implicit rejection in this build, or a wrong-length ciphertext
        candidate = b""
    padded = candidate.ljust(PREMASTER_LENGTH, b"\0")[:PREMASTER_LENGTH]
    # The version is the ClientHello's legacy_version, not the negotiated one (a
    # rollback check); a wrong one is treated like a decryption failure.
    version_ok = hmac.compare_digest(padded[:2], client_version.to_bytes(2, "big"))
    good = int(len(candidate) == PREMASTER_LENGTH) & int(version_ok)
    mask = -good & ((1 << (8 * PREMASTER_LENGTH)) - 1)
    chosen = (int.from_bytes(padded, "big") & mask) | (int.from_bytes(fallback, "big") & ~mask)
    return chosen.to_bytes(PREMASTER_LENGTH, "big")
