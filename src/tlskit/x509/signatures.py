"""Certificate signature verification, and the cache that makes it cheap.

`verify_signature` takes the padding (PKCS#1 v1.5 or PSS with its exact parameters) and hash
from the certificate's own signatureAlgorithm; a key of the wrong type never verifies.
`SignatureCache` keeps each verdict for its (issuer key, subject certificate) pair, since it
can never change for that pair; `Stats` counts the work, for tests that bound it and for
benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import SignatureAlgorithmOID

from ..crypto import key_family
from .certinfo import ALGORITHM_IDS, CertInfo
from .lru import LRUCache


def verify_signature(
    issuer_key: CertificatePublicKeyTypes | None, cert: x509.Certificate, tbs: bytes = b"",
    algorithm_id: bytes = b"", family: str | None = None,
) -> str | None:
    """Check ``cert``'s signature with ``issuer_key``: None when it verifies, else why not.
    ``tbs`` is the certificate's tbsCertificate DER, ``algorithm_id`` the DER of its
    signatureAlgorithm and ``family`` `key_family` of ``issuer_key``, when the caller
    already has them.

    The padding (PKCS#1 v1.5 or PSS with its exact salt length and MGF) and hash come from
    the certificate's own signatureAlgorithm; a key of the wrong type never verifies."""
    if issuer_key is None:
        return "the issuer's public key cannot be used"
    known = _FIXED_BY_ENCODING.get(algorithm_id)
    if known is None:
        known = _FIXED_PARAMETERS.get(cert.signature_algorithm_oid)
    try:
        params, algorithm = known if known is not None else (
            cert.signature_algorithm_parameters, cert.signature_hash_algorithm)
    except Exception as exc:  # unsupported algorithm or unparseable parameters
        return f"the signature algorithm cannot be used: {exc}"
    data, signature = tbs or cert.tbs_certificate_bytes, cert.signature
    if family is None:
        family = key_family(issuer_key)  # the key ABCs make isinstance slow on this path
    key: Any = issuer_key  # its type is the family's (no `cast` call on this hot path)
    try:
        if family == "ec":
            if type(params) is not ec.ECDSA:
                return "the issuer has an EC key but the signature is not ECDSA"
            key.verify(signature, data, params)
        elif family == "rsa":
            rsa_padding = type(params) in _RSA_PADDINGS or isinstance(params, _RSA_PADDINGS)
            if not rsa_padding or algorithm is None:  # (exact types first: isinstance on
                # the padding ABCs is slow on this hot path)
                return "the issuer has an RSA key but the signature is not an RSA signature"
            key.verify(signature, data, params, algorithm)
        elif family == "ed25519":
            if cert.signature_algorithm_oid != SignatureAlgorithmOID.ED25519:
                return "the issuer has an Ed25519 key but the signature is not Ed25519"
            key.verify(signature, data)
        elif family == "ed448":
            if cert.signature_algorithm_oid != SignatureAlgorithmOID.ED448:
                return "the issuer has an Ed448 key but the signature is not Ed448"
            key.verify(signature, data)
        else:
            return f"cannot verify with a {type(issuer_key).__name__}"
    except InvalidSignature:
        return "the signature does not verify"
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return f"the signature cannot be checked: {exc}"
    return None


_RSA_PADDINGS = (padding.PKCS1v15, padding.PSS)

# Algorithms whose parameters are fixed by the OID (RFC 4055 / RFC 5758): no need to ask the
# parser for fresh objects on every certificate. RSA-PSS carries its own parameters.
_FIXED_PARAMETERS: dict[x509.ObjectIdentifier, tuple[object, hashes.HashAlgorithm]] = {
    SignatureAlgorithmOID.RSA_WITH_SHA256: (padding.PKCS1v15(), hashes.SHA256()),
    SignatureAlgorithmOID.RSA_WITH_SHA384: (padding.PKCS1v15(), hashes.SHA384()),
    SignatureAlgorithmOID.RSA_WITH_SHA512: (padding.PKCS1v15(), hashes.SHA512()),
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: (ec.ECDSA(hashes.SHA256()), hashes.SHA256()),
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: (ec.ECDSA(hashes.SHA384()), hashes.SHA384()),
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: (ec.ECDSA(hashes.SHA512()), hashes.SHA512()),
}
# The same by the DER of the usual AlgorithmIdentifiers (`certinfo.ALGORITHM_IDS`): found
# without asking the parser for the OID. Other encodings are looked up by OID.
_FIXED_BY_ENCODING: dict[bytes, tuple[object, hashes.HashAlgorithm]] = {
    encoding: _FIXED_PARAMETERS[oid] for encoding, oid in ALGORITHM_IDS.items()
    if oid in _FIXED_PARAMETERS
}


@dataclass
class Stats:
    """Counters, cumulative per Verifier: tests bound work with them, benches report them."""

    signature_checks: int = 0  # signatures evaluated (cache hits included)
    signature_verifications: int = 0  # actual public-key operations
    candidates: int = 0  # issuer candidates expanded during path building
    budget_exhausted: int = 0
    name_checks: int = 0  # name-constraint comparisons made (charged within the budget)


class SignatureCache:
    """Remembers verdicts by (issuer key hash, subject DER). A verdict depends only on the
    issuer's public key and the subject's bytes, so it holds forever for the pair, and
    certificates that share a key (cross-signs, re-issues) share entries. The subject is
    keyed by its DER, the bytes its analysis holds (compared exactly, hashed by Python
    once per object), not by a SHA-256 computed for every new leaf."""

    def __init__(self, maxsize: int = 4096) -> None:
        self._cache: LRUCache[tuple[bytes, bytes], tuple[str | None]] = LRUCache(maxsize)

    def check(self, subject: CertInfo, issuer: CertInfo, stats: Stats) -> str | None:
        key = (issuer._key_id or issuer.key_id, subject.der)  # (the property on first use)
        stats.signature_checks += 1
        hit = self._cache.get(key)
        if hit is not None:
            return hit[0]
        stats.signature_verifications += 1
        family = issuer._key_family
        if family is None:  # once per issuer: its key is the one every child is checked with
            family = issuer._key_family = key_family(issuer.public_key)
        verdict = verify_signature(issuer.public_key, subject.cert, subject.tbs,
                                   subject.signature_algorithm, family)
        self._cache.put(key, (verdict,))
        return verdict

    def __len__(self) -> int:
        return len(self._cache)
