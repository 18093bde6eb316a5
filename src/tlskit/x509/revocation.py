"""Revocation checking: stapled OCSP, configured CRLs, OCSP over HTTP, CRLs over HTTP.

`cryptography` parses and builds the OCSP and CRL structures and checks signatures; every
decision about what those structures *mean* is made here.

Decisions worth knowing (RFC 5280 section 6.3, RFC 6960, RFC 6066 section 8):

* Sources are tried in a fixed order and the first *definitive* answer (good or revoked from
  authentic, fresh, in-scope evidence) wins: stapled OCSP response, configured CRLs issued by
  the issuer, the OCSP responders named in the certificate's AIA, the CRLs named in its CRL
  distribution points. Only ``http://`` URLs are fetched: following ``https://`` would recurse
  into certificate validation, and RFC 5280 / RFC 6960 define the plain-HTTP transport.
* An OCSP "unknown" answer is not definitive: the responder is saying it does not know the
  certificate, so the CRL sources are still tried.
* A staple that is malformed, badly signed, stale or about another certificate is recorded as a
  failed source and the remaining sources are consulted. It is not treated as proof of attack:
  an attacker who can corrupt a staple can just as well remove it, and the policy is what
  decides how a missing answer is treated.
* Clock skew of `CLOCK_SKEW` (5 minutes) is tolerated in both directions on thisUpdate and
  nextUpdate, and for cached evidence.
* An OCSP response without nextUpdate (RFC 6960 section 4.2.2.1: "newer information is always
  available") is accepted for `DEFAULT_OCSP_VALIDITY` (1 hour) after its thisUpdate and is never
  cached, so the next check asks the responder again. A CRL without nextUpdate is rejected:
  RFC 5280 section 5.1.2.5 requires conforming issuers to include it.
* Delta CRLs, indirect CRLs and CRLs partitioned by reason are not supported; such CRLs are
  reported as unusable (not silently treated as complete).
* An RSASSA-PSS signed OCSP response is verified by trying SHA-256, SHA-384 and SHA-512 with a
  matching MGF1: `cryptography` does not expose the response's PSS parameters. Each attempt is
  a full verification with the authorised key, so this only accepts genuine signatures.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, NoReturn

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    CRLEntryExtensionOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
    SignatureAlgorithmOID,
)

from . import http
from .errors import CertificateVerificationError, Reason, describe

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_OCSP_VALIDITY",
    "EvidenceError",
    "OcspEvidence",
    "Policy",
    "RevocationCache",
    "RevocationChecker",
    "RevocationStatus",
    "build_ocsp_request",
    "evaluate_ocsp_response",
    "load_crl",
    "validate_stapled_response",
]

Policy = Literal["off", "soft-fail", "hard-fail"]
StatusName = Literal["good", "revoked", "unknown"]
SourceName = Literal["staple", "ocsp", "crl", "none"]

#: Tolerated disagreement between our clock and the responder's / CRL issuer's clock.
CLOCK_SKEW = timedelta(minutes=5)
#: How long an OCSP response without nextUpdate is believed after its thisUpdate.
DEFAULT_OCSP_VALIDITY = timedelta(hours=1)
#: RFC 8954 section 2.1: nonces are 1 to 32 octets; new clients should send 32.
NONCE_LENGTH = 32
OCSP_REQUEST_TYPE = "application/ocsp-request"

_POLICIES: frozenset[str] = frozenset({"off", "soft-fail", "hard-fail"})
# Errors cryptography raises while lazily decoding hostile structures (KeyError: a Name with
# an ASN.1 string type it has no mapping for; InvalidVersion is not a ValueError).
_DECODE_ERRORS = (ValueError, TypeError, KeyError, UnsupportedAlgorithm, x509.InvalidVersion)


@dataclass(frozen=True)
class RevocationStatus:
    """The outcome of a revocation check: what we know, where it came from, and why."""

    status: StatusName
    source: SourceName
    detail: str


class EvidenceError(Exception):
    """A revocation source could not give an answer; the text says why.

    The text is a predicate that reads after the source's name, e.g. "is expired: nextUpdate
    ... is before ..." so callers can write f"CRL {url} {error}". Raised by
    `evaluate_ocsp_response` and `load_crl`; `RevocationChecker` and
    `validate_stapled_response` turn it into notes or `CertificateVerificationError`.
    """


# --------------------------------------------------------------------------- small helpers


def _utc(moment: datetime) -> datetime:
    """Aware UTC datetime; a naive one is taken to be UTC already (as cryptography does)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _when(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


def _key_id(public_key: object) -> bytes:
    """SHA-1 of the subjectPublicKey bits: RFC 6960 ResponderID byKey and CertID key hash."""
    return x509.SubjectKeyIdentifier.from_public_key(public_key).digest  # type: ignore[arg-type]


def _name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string() or "(empty name)"
    except _DECODE_ERRORS:
        return "(unparseable name)"


def _who(cert: x509.Certificate) -> str:
    """`describe` for certificates that came from the network and may not parse."""
    try:
        return describe(cert)
    except _DECODE_ERRORS:
        return f"(certificate with unparseable names, serial {cert.serial_number:#x})"


def _extension(
    extensions: x509.Extensions, kind: type[x509.ExtensionType]
) -> x509.Extension[x509.ExtensionType] | None:
    try:
        return extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


def _is_ca(cert: x509.Certificate) -> bool:
    found = _extension(cert.extensions, x509.BasicConstraints)
    return bool(found and found.value.ca)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- signatures

_RSA_PKCS1 = {
    SignatureAlgorithmOID.RSA_WITH_SHA1,
    SignatureAlgorithmOID.RSA_WITH_SHA224,
    SignatureAlgorithmOID.RSA_WITH_SHA256,
    SignatureAlgorithmOID.RSA_WITH_SHA384,
    SignatureAlgorithmOID.RSA_WITH_SHA512,
    SignatureAlgorithmOID.RSA_WITH_SHA3_224,
    SignatureAlgorithmOID.RSA_WITH_SHA3_256,
    SignatureAlgorithmOID.RSA_WITH_SHA3_384,
    SignatureAlgorithmOID.RSA_WITH_SHA3_512,
}
_ECDSA = {
    SignatureAlgorithmOID.ECDSA_WITH_SHA1,
    SignatureAlgorithmOID.ECDSA_WITH_SHA224,
    SignatureAlgorithmOID.ECDSA_WITH_SHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA384,
    SignatureAlgorithmOID.ECDSA_WITH_SHA512,
    SignatureAlgorithmOID.ECDSA_WITH_SHA3_224,
    SignatureAlgorithmOID.ECDSA_WITH_SHA3_256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA3_384,
    SignatureAlgorithmOID.ECDSA_WITH_SHA3_512,
}
_DSA = {
    SignatureAlgorithmOID.DSA_WITH_SHA1,
    SignatureAlgorithmOID.DSA_WITH_SHA224,
    SignatureAlgorithmOID.DSA_WITH_SHA256,
}
_PSS_HASHES: tuple[type[hashes.HashAlgorithm], ...] = (hashes.SHA256, hashes.SHA384, hashes.SHA512)


def _verify_signature(
    key: object,
    signature: bytes,
    data: bytes,
    oid: x509.ObjectIdentifier,
    digest: hashes.HashAlgorithm | None,
    signer: str,
) -> None:
    """Check ``signature`` over ``data``; raise `EvidenceError` unless it verifies.

    The algorithm OID must fit the key type, so an RSA key can never be asked to verify a
    signature labelled ECDSA (and so on). ``signer`` names the key's owner in messages.
    """
    try:
        if not _try_verify(key, signature, data, oid, digest):
            raise EvidenceError(
                f"has signature algorithm {oid.dotted_string}, which does not fit the key "
                f"type of {signer}"
            )
    except InvalidSignature:
        raise EvidenceError(
            f"has a signature that does not verify with the key of {signer}"
        ) from None
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"has a signature that cannot be checked ({exc})") from None


def _try_verify(
    key: object,
    signature: bytes,
    data: bytes,
    oid: x509.ObjectIdentifier,
    digest: hashes.HashAlgorithm | None,
) -> bool:
    """Verify if (key type, algorithm) is a pairing we support; False if it is not one.

    Raises InvalidSignature when the pairing fits but the signature is wrong.
    """
    if isinstance(key, rsa.RSAPublicKey) and oid == SignatureAlgorithmOID.RSASSA_PSS:
        _verify_pss(key, signature, data)
    elif isinstance(key, rsa.RSAPublicKey) and oid in _RSA_PKCS1 and digest is not None:
        key.verify(signature, data, padding.PKCS1v15(), digest)
    elif isinstance(key, ec.EllipticCurvePublicKey) and oid in _ECDSA and digest is not None:
        key.verify(signature, data, ec.ECDSA(digest))
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) and oid == _eddsa(key):
        key.verify(signature, data)
    elif isinstance(key, dsa.DSAPublicKey) and oid in _DSA and digest is not None:
        key.verify(signature, data, digest)
    else:
        return False
    return True


def _eddsa(key: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) -> x509.ObjectIdentifier:
    """The one signature algorithm an EdDSA key can make."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return SignatureAlgorithmOID.ED25519
    return SignatureAlgorithmOID.ED448


def _verify_pss(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> None:
    for algorithm in _PSS_HASHES:
        digest = algorithm()
        try:
            key.verify(signature, data, padding.PSS(padding.MGF1(digest), padding.PSS.AUTO), digest)
            return
        except InvalidSignature:
            continue
    raise InvalidSignature


# --------------------------------------------------------------------------- OCSP


def build_ocsp_request(
    cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None
) -> bytes:
    """DER OCSPRequest for ``cert``: SHA-1 CertID, because that is what responders index on
    (RFC 5019 section 2.1.1), plus a nonce extension when ``nonce`` is given."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class OcspEvidence:
    """An authentic, fresh OCSP answer about one certificate.

    ``next_update`` is the declared nextUpdate (None if absent); ``valid_until`` is when we stop
    believing it, which for an absent nextUpdate is thisUpdate + `DEFAULT_OCSP_VALIDITY`.
    """

    status: StatusName
    this_update: datetime
    next_update: datetime | None
    valid_until: datetime
    revoked_at: datetime | None = None
    reason: str | None = None


def evaluate_ocsp_response(
    der: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    at: datetime,
    *,
    nonce: bytes | None = None,
) -> OcspEvidence:
    """Validate an OCSP response about ``cert`` per RFC 6960 section 3.2 and return its answer.

    Raises `EvidenceError` when the response is not usable evidence (most callers want
    `validate_stapled_response` or `RevocationChecker` instead). ``nonce`` is what we sent;
    a response that echoes a different nonce is rejected, one without a nonce is accepted
    (many responders pre-sign their answers and cannot echo one).
    """
    at = _utc(at)
    with _malformed():
        response = _parse_ocsp(der)
        single = _matching_single_response(response, cert, issuer)
        _authorised_signer(response, issuer, at)
        _check_response_extensions(response, nonce)
        this_update, next_update, valid_until = _ocsp_freshness(single, at)
        return _evidence(single, this_update, next_update, valid_until)


@contextmanager
def _malformed() -> Iterator[None]:
    """Safety net: cryptography parses lazily, so a hostile structure can fail on any field
    access. The specific checks report the common cases precisely; this turns whatever is left
    into an `EvidenceError` instead of letting a ValueError escape into the handshake."""
    try:
        yield
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"is malformed ({exc})") from None


def _parse_ocsp(der: bytes) -> ocsp.OCSPResponse:
    try:
        response = ocsp.load_der_ocsp_response(der)
        status = response.response_status
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"is not a valid OCSP response ({exc})") from None
    if status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise EvidenceError(f"has response status {status.name.lower()}, not successful")
    return response


def _cert_id(
    cert: x509.Certificate, issuer: x509.Certificate, algorithm: hashes.HashAlgorithm
) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) for ``algorithm``, computed by cryptography."""
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm).build()
    return request.issuer_name_hash, request.issuer_key_hash


def _matching_single_response(
    response: ocsp.OCSPResponse, cert: x509.Certificate, issuer: x509.Certificate
) -> ocsp.OCSPSingleResponse:
    """The SingleResponse whose CertID is exactly (issuer name hash, key hash, serial)."""
    try:
        for single in response.responses:
            if single.serial_number != cert.serial_number:
                continue
            try:
                expected = _cert_id(cert, issuer, single.hash_algorithm)
            except _DECODE_ERRORS:
                continue  # a CertID hash we cannot compute cannot be ours
            if (single.issuer_name_hash, single.issuer_key_hash) == expected:
                return single
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"is not a valid OCSP response ({exc})") from None
    raise EvidenceError(
        f"does not cover this certificate (no response for serial {cert.serial_number:#x} "
        f"issued by '{_name(issuer.subject)}')"
    )


def _responder_is(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    """Does the response's ResponderID (byName or byKey) designate ``cert``?"""
    try:
        if response.responder_name is not None:
            return response.responder_name == cert.subject
        return response.responder_key_hash == _key_id(cert.public_key())
    except _DECODE_ERRORS:
        return False  # an unparseable name or key designates nothing


def _responder_label(response: ocsp.OCSPResponse) -> str:
    try:
        if response.responder_name is not None:
            return f"'{_name(response.responder_name)}'"
        key_hash = response.responder_key_hash or b""
    except _DECODE_ERRORS:
        return "(unparseable responder id)"
    return f"with key id {key_hash.hex()}"


def _authorised_signer(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, at: datetime
) -> x509.Certificate:
    """RFC 6960 section 4.2.2.2: the issuer itself, or a responder it delegated to directly.

    Returns the certificate whose key verified the response signature.
    """
    try:
        included = list(response.certificates)
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"carries malformed certificates ({exc})") from None
    candidates = [issuer] if _responder_is(response, issuer) else []
    candidates += [c for c in included if c != issuer and _responder_is(response, c)]
    if not candidates:
        raise EvidenceError(
            f"is signed by responder {_responder_label(response)}, which is neither the "
            "issuer nor a certificate included in the response"
        )
    problems: list[str] = []
    for candidate in candidates:
        try:
            if candidate is not issuer:
                _check_delegation(candidate, issuer, at)
            _verify_response_signature(response, candidate)
            return candidate
        except EvidenceError as exc:
            problems.append(str(exc))
    raise EvidenceError("; ".join(problems))


def _check_delegation(responder: x509.Certificate, issuer: x509.Certificate, at: datetime) -> None:
    """A delegated responder certificate: issued by the issuer, OCSPSigning EKU, valid now."""
    who = f"responder certificate {_who(responder)}"
    try:
        responder.verify_directly_issued_by(issuer)
    except (InvalidSignature, *_DECODE_ERRORS):
        raise EvidenceError(
            f"is signed by {who}, which is not issued by '{_name(issuer.subject)}' "
            "(unauthorised responder)"
        ) from None
    try:
        eku = _extension(responder.extensions, x509.ExtendedKeyUsage)
        key_usage = _extension(responder.extensions, x509.KeyUsage)
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"is signed by {who} with malformed extensions ({exc})") from None
    if eku is None or ExtendedKeyUsageOID.OCSP_SIGNING not in eku.value:  # type: ignore[operator]
        raise EvidenceError(
            f"is signed by {who}, which lacks the id-kp-OCSPSigning extended key usage "
            "(unauthorised responder)"
        )
    if key_usage is not None and not key_usage.value.digital_signature:  # type: ignore[attr-defined]
        raise EvidenceError(f"is signed by {who}, whose key usage forbids digital signatures")
    if not responder.not_valid_before_utc <= at <= responder.not_valid_after_utc:
        raise EvidenceError(
            f"is signed by {who}, which is not valid at {_when(at)} (valid "
            f"{_when(responder.not_valid_before_utc)} to {_when(responder.not_valid_after_utc)})"
        )


def _verify_response_signature(response: ocsp.OCSPResponse, signer: x509.Certificate) -> None:
    try:
        digest: hashes.HashAlgorithm | None = response.signature_hash_algorithm
    except UnsupportedAlgorithm:
        digest = None
    try:
        key = signer.public_key()
        oid = response.signature_algorithm_oid
        signature, data = response.signature, response.tbs_response_bytes
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"cannot be checked ({exc})") from None
    _verify_signature(key, signature, data, oid, digest, _who(signer))


_KNOWN_RESPONSE_EXTENSIONS = {x509.OCSPNonce.oid}


def _check_response_extensions(response: ocsp.OCSPResponse, nonce: bytes | None) -> None:
    """Unknown critical extensions void the response; a present nonce must be ours.

    cryptography exposes singleExtensions only for one-response replies, so for multi-response
    replies only the responseExtensions are checked for critical ones.
    """
    try:
        extensions = list(response.extensions)
        single_extensions = list(response.single_extensions) if _single_count(response) == 1 else []
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"has malformed extensions ({exc})") from None
    for ext in extensions + single_extensions:
        if ext.critical and ext.oid not in _KNOWN_RESPONSE_EXTENSIONS:
            raise EvidenceError(f"has an unsupported critical extension {ext.oid.dotted_string}")
    if nonce is None:
        return
    echoed = [e.value for e in extensions if isinstance(e.value, x509.OCSPNonce)]
    if echoed and echoed[0].nonce != nonce:
        raise EvidenceError("echoes a nonce that does not match the request (possible replay)")


def _single_count(response: ocsp.OCSPResponse) -> int:
    return sum(1 for _ in response.responses)


def _ocsp_freshness(
    single: ocsp.OCSPSingleResponse, at: datetime
) -> tuple[datetime, datetime | None, datetime]:
    """thisUpdate not in the future and nextUpdate (or the default window) not in the past."""
    try:
        this_update = single.this_update_utc
        next_update = single.next_update_utc
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"has malformed timestamps ({exc})") from None
    if this_update > at + CLOCK_SKEW:
        raise EvidenceError(
            f"is not yet valid: thisUpdate {_when(this_update)} is after {_when(at)}"
        )
    valid_until = next_update or this_update + DEFAULT_OCSP_VALIDITY
    if next_update is not None and next_update < this_update:
        raise EvidenceError("has nextUpdate before thisUpdate")
    if at > valid_until + CLOCK_SKEW:
        if next_update is None:
            raise EvidenceError(
                f"is stale: it has no nextUpdate and its thisUpdate {_when(this_update)} is more "
                f"than {DEFAULT_OCSP_VALIDITY} before {_when(at)}"
            )
        raise EvidenceError(f"is expired: nextUpdate {_when(next_update)} is before {_when(at)}")
    return this_update, next_update, valid_until


def _evidence(
    single: ocsp.OCSPSingleResponse,
    this_update: datetime,
    next_update: datetime | None,
    valid_until: datetime,
) -> OcspEvidence:
    status = single.certificate_status
    if status == ocsp.OCSPCertStatus.GOOD:
        return OcspEvidence("good", this_update, next_update, valid_until)
    if status == ocsp.OCSPCertStatus.UNKNOWN:
        return OcspEvidence("unknown", this_update, next_update, valid_until)
    try:
        revoked_at = single.revocation_time_utc
        reason = single.revocation_reason
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"has a malformed revocation entry ({exc})") from None
    return OcspEvidence(
        "revoked",
        this_update,
        next_update,
        valid_until,
        revoked_at,
        reason.value if reason is not None else None,
    )


def _ocsp_status(evidence: OcspEvidence, source: SourceName, label: str) -> RevocationStatus:
    """Turn definitive evidence into a status; "unknown" is reported by the caller."""
    window = f"thisUpdate {_when(evidence.this_update)}"
    if evidence.next_update is not None:
        window += f", nextUpdate {_when(evidence.next_update)}"
    if evidence.status == "revoked":
        return RevocationStatus(
            "revoked", source, _revoked_detail(evidence.revoked_at, evidence.reason, label)
        )
    return RevocationStatus(
        evidence.status, source, f"{evidence.status} according to {label} ({window})"
    )


def _revoked_detail(revoked_at: datetime | None, reason: str | None, label: str) -> str:
    when = _when(revoked_at) if revoked_at else "an unspecified time"
    return f"revoked at {when} (reason: {reason or 'unspecified'}) according to {label}"


# --------------------------------------------------------------------------- stapled responses


def validate_stapled_response(
    der: bytes, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
) -> RevocationStatus:
    """Check an OCSP response stapled by a TLS server (RFC 6066 section 8) for ``cert``.

    Returns a "good" `RevocationStatus`. Raises `CertificateVerificationError` with
    `Reason.revoked` when the staple authentically says revoked, and with
    `Reason.revocation_unknown` when it is not usable evidence (malformed, unsuccessful, badly or
    wrongly signed, stale, about another certificate, or answering "unknown"). The caller decides
    what revocation_unknown means under its policy: `RevocationChecker.check` records it and
    goes on to its other sources. No other exception escapes.
    """
    label = "the stapled OCSP response"
    try:
        evidence = evaluate_ocsp_response(der, cert, issuer, at)
    except EvidenceError as exc:
        raise CertificateVerificationError(
            Reason.revocation_unknown,
            f"cannot determine revocation status of {_who(cert)}: stapled OCSP response {exc}",
            cert,
        ) from None
    if evidence.status == "unknown":
        raise CertificateVerificationError(
            Reason.revocation_unknown,
            f"cannot determine revocation status of {_who(cert)}: stapled OCSP response "
            "says the responder does not know the certificate (status unknown)",
            cert,
        )
    status = _ocsp_status(evidence, "staple", label)
    if status.status == "revoked":
        _raise_revoked(cert, status)
    return status


def _raise_revoked(cert: x509.Certificate, status: RevocationStatus) -> NoReturn:
    raise CertificateVerificationError(
        Reason.revoked, f"certificate {_who(cert)} was {status.detail}", cert
    )


# --------------------------------------------------------------------------- CRLs


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """Parse a CRL in PEM or DER; raise `EvidenceError` with a reason when it is neither."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"is not a valid CRL ({exc})") from None


_IGNORABLE_CRL_EXTENSIONS = {
    ExtensionOID.CRL_NUMBER,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ExtensionOID.ISSUER_ALTERNATIVE_NAME,
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
}


def _trust_crl(
    crl: x509.CertificateRevocationList, issuer: x509.Certificate, at: datetime
) -> tuple[datetime, datetime]:
    """Is this a complete, authentic, current CRL from ``issuer``? Returns its window."""
    try:
        crl_issuer = crl.issuer
        usage = _extension(issuer.extensions, x509.KeyUsage)
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"cannot be read ({exc})") from None
    if crl_issuer != issuer.subject:
        raise EvidenceError(f"is issued by '{_name(crl_issuer)}', not by '{_name(issuer.subject)}'")
    if usage is not None and not usage.value.crl_sign:  # type: ignore[attr-defined]
        raise EvidenceError(
            f"cannot be trusted: the key usage of '{_name(issuer.subject)}' lacks cRLSign"
        )
    _check_crl_signature(crl, issuer)
    _check_crl_extensions(crl)
    return _crl_freshness(crl, at)


def _check_crl_signature(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> None:
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"has a signature that cannot be checked ({exc})") from None
    if not valid:
        raise EvidenceError(f"has a signature that does not verify with the key of {_who(issuer)}")


def _check_crl_extensions(crl: x509.CertificateRevocationList) -> None:
    try:
        extensions = list(crl.extensions)
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"has malformed extensions ({exc})") from None
    for ext in extensions:
        if ext.oid == ExtensionOID.DELTA_CRL_INDICATOR:
            raise EvidenceError("is a delta CRL, which is not supported")
        if ext.oid == ExtensionOID.ISSUING_DISTRIBUTION_POINT:
            _check_idp_kind(ext.value)  # type: ignore[arg-type]
        elif ext.critical and ext.oid not in _IGNORABLE_CRL_EXTENSIONS:
            raise EvidenceError(f"has an unsupported critical extension {ext.oid.dotted_string}")


def _check_idp_kind(idp: x509.IssuingDistributionPoint) -> None:
    """Reject the CRL kinds we cannot treat as a complete list for the issuer."""
    if idp.indirect_crl:
        raise EvidenceError("is an indirect CRL, which is not supported")
    if idp.only_some_reasons:
        raise EvidenceError("covers only some revocation reasons, which is not supported")
    if idp.relative_name is not None:
        raise EvidenceError("names its distribution point relatively, which is not supported")


def _crl_freshness(crl: x509.CertificateRevocationList, at: datetime) -> tuple[datetime, datetime]:
    try:
        this_update = crl.last_update_utc
        next_update = crl.next_update_utc
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"has malformed timestamps ({exc})") from None
    if this_update > at + CLOCK_SKEW:
        raise EvidenceError(
            f"is not yet valid: thisUpdate {_when(this_update)} is after {_when(at)}"
        )
    if next_update is None:
        raise EvidenceError("has no nextUpdate (required by RFC 5280 section 5.1.2.5)")
    if at > next_update + CLOCK_SKEW:
        raise EvidenceError(f"is expired: nextUpdate {_when(next_update)} is before {_when(at)}")
    return this_update, next_update


def _crl_covers(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> None:
    """RFC 5280 section 6.3.3 (b): the issuing distribution point must cover ``cert``."""
    try:
        found = _extension(crl.extensions, x509.IssuingDistributionPoint)
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"has malformed extensions ({exc})") from None
    if found is None:
        return
    idp: x509.IssuingDistributionPoint = found.value  # type: ignore[assignment]
    if idp.only_contains_attribute_certs:
        raise EvidenceError("covers only attribute certificates")
    if idp.only_contains_ca_certs and not _is_ca(cert):
        raise EvidenceError("covers only CA certificates")
    if idp.only_contains_user_certs and _is_ca(cert):
        raise EvidenceError("covers only end-entity certificates")
    if idp.full_name and not set(idp.full_name) & set(_distribution_point_names(cert)):
        raise EvidenceError(
            "has an issuing distribution point that does not match the certificate's"
        )


def _distribution_point_names(cert: x509.Certificate) -> list[x509.GeneralName]:
    found = _extension(cert.extensions, x509.CRLDistributionPoints)
    if found is None:
        return []
    return [name for point in found.value for name in (point.full_name or [])]  # type: ignore[attr-defined]


def _crl_status(
    crl: x509.CertificateRevocationList, cert: x509.Certificate, label: str
) -> RevocationStatus:
    """Look ``cert`` up in a CRL already known to be authentic and current."""
    _crl_covers(crl, cert)
    try:
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is None:
            return RevocationStatus(
                "good",
                "crl",
                f"not listed in {label} "
                f"(nextUpdate {_when(crl.next_update_utc or crl.last_update_utc)})",
            )
        entry_extensions = list(entry.extensions)
        revoked_at = entry.revocation_date_utc
    except _DECODE_ERRORS as exc:
        raise EvidenceError(f"has a malformed entry for this certificate ({exc})") from None
    reason: str | None = None
    for ext in entry_extensions:
        if isinstance(ext.value, x509.CRLReason):
            reason = ext.value.reason.value
        elif ext.critical and ext.oid != CRLEntryExtensionOID.INVALIDITY_DATE:
            raise EvidenceError(
                f"has an unsupported critical entry extension {ext.oid.dotted_string}"
            )
    if reason == x509.ReasonFlags.remove_from_crl.value:
        return RevocationStatus("good", "crl", f"removed from hold in {label}")
    return RevocationStatus("revoked", "crl", _revoked_detail(revoked_at, reason, label))


# --------------------------------------------------------------------------- the cache

CacheValue = RevocationStatus | x509.CertificateRevocationList


@dataclass
class _CacheEntry:
    value: CacheValue
    valid_from: datetime
    valid_until: datetime


class RevocationCache:
    """Bounded LRU of revocation evidence, each entry usable only inside its validity window.

    OCSP answers are keyed by (issuer key hash, serial) and CRLs by (issuer key hash, URL); both
    expire at their nextUpdate. Shared between checkers (and threads) on purpose: one process
    should ask a responder about a certificate once per nextUpdate, not once per connection.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, _CacheEntry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, at: datetime) -> CacheValue | None:
        """The value for ``key`` if ``at`` is inside its window (with `CLOCK_SKEW`)."""
        at = _utc(at)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if at > entry.valid_until + CLOCK_SKEW:
                del self._entries[key]
                return None
            if at + CLOCK_SKEW < entry.valid_from:
                return None
            self._entries.move_to_end(key)
            return entry.value

    def put(
        self, key: Hashable, value: CacheValue, valid_from: datetime, valid_until: datetime
    ) -> None:
        with self._lock:
            self._entries[key] = _CacheEntry(value, _utc(valid_from), _utc(valid_until))
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# --------------------------------------------------------------------------- the checker


def _http_urls(urls: Iterable[str], what: str) -> tuple[list[str], list[str]]:
    """Split URLs into fetchable http:// ones and notes about the others."""
    usable: list[str] = []
    notes: list[str] = []
    for url in urls:
        if url.lower().startswith("http://"):
            usable.append(url)
        else:
            notes.append(f"{what} {url} is not an http:// URL")
    return usable, notes


def _ocsp_urls(cert: x509.Certificate) -> list[str]:
    found = _extension(cert.extensions, x509.AuthorityInformationAccess)
    if found is None:
        return []
    return [
        d.access_location.value
        for d in found.value  # type: ignore[attr-defined]
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def _crl_urls(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """URLs of the distribution points we can use, and notes about those we cannot."""
    found = _extension(cert.extensions, x509.CRLDistributionPoints)
    if found is None:
        return [], []
    urls: list[str] = []
    notes: list[str] = []
    for point in found.value:  # type: ignore[attr-defined]
        if point.crl_issuer or point.reasons:
            notes.append(
                "a CRL distribution point is indirect or reason-partitioned (not supported)"
            )
            continue
        urls += [
            name.value
            for name in point.full_name or []
            if isinstance(name, x509.UniformResourceIdentifier)
        ]
    return urls, notes


class RevocationChecker:
    """Decides whether a certificate is revoked, under a policy.

    ``policy``: "off" checks nothing; "soft-fail" accepts when no source can answer and rejects
    revoked certificates; "hard-fail" also rejects when no source can answer.
    ``crls``: CRLs the caller already has (used when issued by the certificate's issuer).
    ``fetch_crls`` / ``ocsp``: whether to use the certificate's CRL distribution points / AIA
    OCSP responders. ``timeout`` bounds each fetch; ``cache`` may be shared between checkers
    (a private one is made otherwise); ``rng`` makes OCSP nonces (tests inject it).
    """

    def __init__(
        self,
        policy: Policy = "off",
        crls: Sequence[x509.CertificateRevocationList] = (),
        *,
        fetch_crls: bool = True,
        ocsp: bool = True,
        timeout: float = 5.0,
        cache: RevocationCache | None = None,
        rng: Callable[[int], bytes] = os.urandom,
        max_response_bytes: int = http.MAX_RESPONSE_BYTES,
    ) -> None:
        if policy not in _POLICIES:
            raise ValueError(f"unknown revocation policy {policy!r}")
        self.policy = policy
        self.crls = tuple(crls)
        self.fetch_crls = fetch_crls
        self.ocsp = ocsp
        self.timeout = timeout
        self.cache = cache if cache is not None else RevocationCache()
        self.rng = rng
        self.max_response_bytes = max_response_bytes

    def check(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        at: datetime,
        ocsp_response: bytes | None = None,
    ) -> RevocationStatus:
        """Return "good" (or "unknown" under soft-fail), or raise `CertificateVerificationError`
        with `Reason.revoked` / `Reason.revocation_unknown`. The message names the certificate
        and every source tried, with why it failed."""
        if self.policy == "off":
            return RevocationStatus("unknown", "none", "revocation checking is off")
        at = _utc(at)
        notes: list[str] = []
        sources = (self._from_staple, self._from_crl_list, self._from_ocsp, self._from_crl_dp)
        for source in sources:
            status = source(cert, issuer, at, ocsp_response, notes)
            if status is not None:
                if status.status == "revoked":
                    _raise_revoked(cert, status)
                return status
        return self._undetermined(cert, notes)

    def _undetermined(self, cert: x509.Certificate, notes: list[str]) -> RevocationStatus:
        message = f"cannot determine revocation status of {_who(cert)}: " + "; ".join(notes)
        if self.policy == "hard-fail":
            raise CertificateVerificationError(Reason.revocation_unknown, message, cert)
        return RevocationStatus("unknown", "none", message)

    # Each source returns a definitive status or None after appending why it could not answer.

    def _from_staple(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        at: datetime,
        staple: bytes | None,
        notes: list[str],
    ) -> RevocationStatus | None:
        if staple is None:
            return None
        try:
            evidence = evaluate_ocsp_response(staple, cert, issuer, at)
        except EvidenceError as exc:
            notes.append(f"stapled OCSP response {exc}")
            return None
        if evidence.status == "unknown":
            notes.append("stapled OCSP response says status unknown")
            return None
        return _ocsp_status(evidence, "staple", "the stapled OCSP response")

    def _from_crl_list(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        at: datetime,
        staple: bytes | None,
        notes: list[str],
    ) -> RevocationStatus | None:
        del staple
        if not self.crls:
            return None
        mine = [crl for crl in self.crls if _crl_issuer_is(crl, issuer)]
        if not mine:
            notes.append(f"no configured CRL is issued by '{_name(issuer.subject)}'")
            return None
        answers: list[RevocationStatus] = []
        label = f"the configured CRL from '{_name(issuer.subject)}'"
        for crl in mine:
            try:
                with _malformed():
                    _trust_crl(crl, issuer, at)
                    answers.append(_crl_status(crl, cert, label))
            except EvidenceError as exc:
                notes.append(f"configured CRL from '{_name(issuer.subject)}' {exc}")
        for answer in answers:
            if answer.status == "revoked":
                return answer
        return answers[0] if answers else None

    def _from_ocsp(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        at: datetime,
        staple: bytes | None,
        notes: list[str],
    ) -> RevocationStatus | None:
        del staple
        if not self.ocsp:
            notes.append("OCSP checking disabled")
            return None
        key = ("ocsp", _key_id(issuer.public_key()), cert.serial_number)
        cached = self.cache.get(key, at)
        if isinstance(cached, RevocationStatus):
            return cached
        try:
            with _malformed():
                raw_urls = _ocsp_urls(cert)
        except EvidenceError as exc:
            notes.append(f"the certificate's authority information access extension {exc}")
            return None
        urls, url_notes = _http_urls(raw_urls, "OCSP responder")
        notes += url_notes
        if not urls and not url_notes:
            notes.append("no OCSP responder URL")
        for url in urls:
            status = self._ask_responder(url, cert, issuer, at, notes)
            if status is not None:
                return status
        return None

    def _ask_responder(
        self,
        url: str,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        at: datetime,
        notes: list[str],
    ) -> RevocationStatus | None:
        label = f"OCSP responder {url}"
        nonce = self.rng(NONCE_LENGTH)
        try:
            body = self._fetch(url, build_ocsp_request(cert, issuer, nonce))
            evidence = evaluate_ocsp_response(body, cert, issuer, at, nonce=nonce)
        except (http.HttpError, EvidenceError) as exc:
            sep = " " if isinstance(exc, http.HttpError) else " sent a response that "
            notes.append(f"{label}{sep}{exc}")
            return None
        if evidence.status == "unknown":
            notes.append(f"{label} answered that the certificate is unknown to it")
            return None
        status = _ocsp_status(evidence, "ocsp", label)
        if evidence.next_update is not None:
            key = ("ocsp", _key_id(issuer.public_key()), cert.serial_number)
            self.cache.put(key, status, evidence.this_update, evidence.next_update)
        return status

    def _from_crl_dp(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        at: datetime,
        staple: bytes | None,
        notes: list[str],
    ) -> RevocationStatus | None:
        del staple
        if not self.fetch_crls:
            notes.append("CRL fetching disabled")
            return None
        try:
            with _malformed():
                raw_urls, point_notes = _crl_urls(cert)
        except EvidenceError as exc:
            notes.append(f"the certificate's CRL distribution points extension {exc}")
            return None
        urls, url_notes = _http_urls(raw_urls, "CRL")
        notes += point_notes + url_notes
        if not raw_urls and not point_notes:
            notes.append("no CRL distribution point")
        for url in urls:
            label = f"CRL {url}"
            try:
                with _malformed():
                    crl = self._crl_from(url, issuer, at)
                    return _crl_status(crl, cert, label)
            except http.HttpError as exc:
                notes.append(f"{label} {exc}")
            except EvidenceError as exc:
                notes.append(f"{label} {exc}")
        return None

    def _crl_from(
        self, url: str, issuer: x509.Certificate, at: datetime
    ) -> x509.CertificateRevocationList:
        """A trusted, current CRL from ``url``: from the cache, or fetched and checked."""
        key = ("crl", _key_id(issuer.public_key()), url)
        cached = self.cache.get(key, at)
        if isinstance(cached, x509.CertificateRevocationList):
            return cached
        crl = load_crl(self._fetch(url, None))
        this_update, next_update = _trust_crl(crl, issuer, at)
        self.cache.put(key, crl, this_update, next_update)
        return crl

    def _fetch(self, url: str, ocsp_request: bytes | None) -> bytes:
        """GET a CRL or POST an OCSP request; only a 200 answer counts."""
        if ocsp_request is None:
            response = http.get(url, timeout=self.timeout, max_bytes=self.max_response_bytes)
        else:
            response = http.post(
                url,
                ocsp_request,
                OCSP_REQUEST_TYPE,
                timeout=self.timeout,
                max_bytes=self.max_response_bytes,
            )
        if response.status != 200:
            raise http.HttpError(f"answered HTTP {response.status} {response.reason}".rstrip())
        return response.body


def _crl_issuer_is(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    try:
        return crl.issuer == issuer.subject
    except _DECODE_ERRORS:
        return False
