"""OCSP (RFC 6960): building requests, and judging responses, fetched or stapled.

`evaluate_ocsp_response` decides whether a response is authentic, fresh evidence about one
certificate (RFC 6960 section 3.2: the CertID matches, the signer is the issuer or a
responder it delegated to directly, no unknown critical extension, a nonce we sent is
echoed correctly) and returns its answer as `OcspEvidence`; `validate_stapled_response`
applies it to a response stapled by a TLS server (RFC 6066 section 8). Fetching responses
and deciding what they mean under a policy is `RevocationChecker`'s job (in `revocation`,
whose docstring lists the decisions); the ones made here:

* An OCSP response without nextUpdate is believed for `DEFAULT_OCSP_VALIDITY` (1 hour)
  after its thisUpdate; `CLOCK_SKEW` is tolerated on thisUpdate and nextUpdate.
* An RSASSA-PSS signed response is verified by trying SHA-256, SHA-384 and SHA-512 with a
  matching MGF1 (`cryptography` does not expose the response's PSS parameters); each attempt
  is a full verification with the authorised key, so this only accepts genuine signatures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    SignatureAlgorithmOID,
)

from .._ocsp_der import decode_oid
from . import http
from .der import DERError, read_tlv
from .errors import CertificateVerificationError, Reason
from .evidence import (
    _DECODE_ERRORS,
    CLOCK_SKEW,
    EvidenceError,
    RevocationStatus,
    SourceName,
    StatusName,
    _check_next_update,
    _check_this_update,
    _extension,
    _key_id,
    _malformed,
    _name,
    _raise_revoked,
    _revoked_detail,
    _unreadable,
    _utc,
    _when,
    _who,
)

if TYPE_CHECKING:
    from .checks import Profile

#: How long an OCSP response without nextUpdate is believed after its thisUpdate.
DEFAULT_OCSP_VALIDITY = timedelta(hours=1)
#: RFC 8954 section 2.1: nonces are 1 to 32 octets; new clients should send 32.
NONCE_LENGTH = 32
OCSP_REQUEST_TYPE = "application/ocsp-request"


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
        raise _unreadable("has a signature that cannot be checked", exc) from None


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


def _responder_urls(cert: x509.Certificate) -> list[str]:
    """The OCSP responder URLs in the certificate's AIA extension, in order (any scheme)."""
    found = _extension(cert.extensions, x509.AuthorityInformationAccess)
    if found is None:
        return []
    return [
        d.access_location.value
        for d in found.value  # type: ignore[attr-defined]
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def _post_ocsp_request(url: str, request: bytes, timeout: float, max_bytes: int) -> bytes:
    """POST an OCSP request (RFC 6960 appendix A.1); only a 200 answer counts."""
    return http.ok_body(
        http.post(url, request, OCSP_REQUEST_TYPE, timeout=timeout, max_bytes=max_bytes))


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


def require_profile(profile: str) -> None:
    """ValueError for a profile other than "default" or "cabf": a misspelt "cabf" must
    not quietly mean the laxer default (`Verifier` words it the same way)."""
    if profile not in ("default", "cabf"):
        raise ValueError(f"profile must be 'default' or 'cabf', not {profile!r}")


def evaluate_ocsp_response(
    der: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    at: datetime,
    *,
    nonce: bytes | None = None,
    profile: Profile = "default",
) -> OcspEvidence:
    """Validate an OCSP response about ``cert`` per RFC 6960 section 3.2 and return its answer.

    Raises `EvidenceError` when the response is not usable evidence (most callers want
    `validate_stapled_response` or `RevocationChecker` instead). ``nonce`` is what we sent;
    a response that echoes a different nonce is rejected, one without a nonce is accepted
    (many responders pre-sign their answers and cannot echo one). ``profile="cabf"`` also
    refuses a delegated responder whose keyUsage lacks digitalSignature (see
    `_check_delegation`).
    """
    require_profile(profile)
    at = _utc(at)
    with _malformed():
        response = _parse_ocsp(der)
        index, single = _matching_single_response(response, cert, issuer)
        _authorised_signer(response, issuer, at, profile)
        _check_response_extensions(response, nonce, index)
        this_update, next_update, valid_until = _ocsp_freshness(single, at)
        return _evidence(single, this_update, next_update, valid_until)


def _parse_ocsp(der: bytes) -> ocsp.OCSPResponse:
    try:
        response = ocsp.load_der_ocsp_response(der)
        status = response.response_status
    except _DECODE_ERRORS as exc:
        raise _unreadable("is not a valid OCSP response", exc) from None
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
) -> tuple[int, ocsp.OCSPSingleResponse]:
    """The SingleResponse whose CertID is exactly (issuer name hash, key hash, serial), and
    its position among the response's SingleResponses."""
    try:
        for index, single in enumerate(response.responses):
            if single.serial_number != cert.serial_number:
                continue
            try:
                expected = _cert_id(cert, issuer, single.hash_algorithm)
            except _DECODE_ERRORS:
                continue  # a CertID hash we cannot compute cannot be ours
            if (single.issuer_name_hash, single.issuer_key_hash) == expected:
                return index, single
    except _DECODE_ERRORS as exc:
        raise _unreadable("is not a valid OCSP response", exc) from None
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
    response: ocsp.OCSPResponse, issuer: x509.Certificate, at: datetime,
    profile: Profile = "default",
) -> x509.Certificate:
    """RFC 6960 section 4.2.2.2: the issuer itself, or a responder it delegated to directly.

    Returns the certificate whose key verified the response signature.
    """
    try:
        included = list(response.certificates)
    except _DECODE_ERRORS as exc:
        raise _unreadable("carries malformed certificates", exc) from None
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
                _check_delegation(candidate, issuer, at, profile)
            _verify_response_signature(response, candidate)
            return candidate
        except EvidenceError as exc:
            problems.append(str(exc))
    raise EvidenceError("; ".join(problems))


def _check_delegation(responder: x509.Certificate, issuer: x509.Certificate, at: datetime,
                      profile: Profile = "default") -> None:
    """A delegated responder certificate: issued by the issuer, OCSPSigning EKU, valid now.

    A keyUsage without digitalSignature is refused only under profile "cabf": OpenSSL, Go
    and Mozilla look at the EKU alone, so the default accepts what they accept."""
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
        raise _unreadable(f"is signed by {who} with malformed extensions", exc) from None
    if eku is None or ExtendedKeyUsageOID.OCSP_SIGNING not in eku.value:  # type: ignore[operator]
        raise EvidenceError(
            f"is signed by {who}, which lacks the id-kp-OCSPSigning extended key usage "
            "(unauthorised responder)"
        )
    if (profile == "cabf" and key_usage is not None
            and not key_usage.value.digital_signature):  # type: ignore[attr-defined]
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
        raise _unreadable("cannot be checked", exc) from None
    _verify_signature(key, signature, data, oid, digest, _who(signer))


_KNOWN_RESPONSE_EXTENSIONS = {x509.OCSPNonce.oid}


def _check_response_extensions(
    response: ocsp.OCSPResponse, nonce: bytes | None, index: int
) -> None:
    """Unknown critical extensions (of the response, or of the SingleResponse at ``index``,
    the one about our certificate) void the response; a present nonce must be ours.

    cryptography exposes singleExtensions only for one-response replies; for a reply with
    several SingleResponses, ours are read from the DER (`_critical_single_extensions`).
    """
    with _malformed("extensions"):
        extensions = list(response.extensions)
        if _single_count(response) == 1:
            single_extensions = list(response.single_extensions)
        else:
            single_extensions = []
            critical = _critical_single_extensions(response.tbs_response_bytes, index)
            if critical:
                raise EvidenceError(f"has an unsupported critical extension {critical[0]}")
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


def _critical_single_extensions(tbs: bytes, index: int) -> list[str]:
    """Dotted OIDs of the critical singleExtensions of SingleResponse number ``index`` in a
    DER ResponseData (RFC 6960 4.2.1), which cryptography has already parsed: no
    SingleResponse extension is one we process, so every critical one is unsupported.
    Raises ValueError (a `DERError`, or `_ocsp_der`'s for an OID) if the DER is not
    shaped as expected."""
    try:
        _, start, end = read_tlv(tbs, 0, len(tbs))
        responses = next(e for e in _elements(tbs, start, end) if e[0] == 0x30)  # SEQUENCE OF
        single = _elements(tbs, responses[1], responses[2])[index]
        found: list[str] = []
        for tag, lo, hi in _elements(tbs, single[1], single[2])[3:]:  # after id, status, time
            if tag != 0xA1:  # [0] nextUpdate; [1] singleExtensions
                continue
            _, ext_lo, ext_hi = read_tlv(tbs, lo, hi)
            for _, ext_start, ext_end in _elements(tbs, ext_lo, ext_hi):
                parts = _elements(tbs, ext_start, ext_end)  # OID, [critical BOOLEAN], value
                flag = parts[1]
                if len(parts) == 3 and flag[0] == 0x01 and tbs[flag[1]:flag[2]] != b"\x00":
                    found.append(decode_oid(tbs[parts[0][1]:parts[0][2]]))
    except (IndexError, StopIteration):
        raise DERError("unexpected ResponseData shape") from None
    return found


def _elements(buf: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """Every (tag, content start, content end) inside ``buf[start:end]``."""
    out: list[tuple[int, int, int]] = []
    while start < end:
        out.append(read_tlv(buf, start, end))
        start = out[-1][2]
    return out


def _ocsp_freshness(
    single: ocsp.OCSPSingleResponse, at: datetime
) -> tuple[datetime, datetime | None, datetime]:
    """thisUpdate not in the future and nextUpdate (or the default window) not in the past."""
    with _malformed("timestamps"):
        this_update, next_update = single.this_update_utc, single.next_update_utc
    _check_this_update(this_update, at)
    if next_update is None:
        valid_until = this_update + DEFAULT_OCSP_VALIDITY
        if at > valid_until + CLOCK_SKEW:
            raise EvidenceError(
                f"is stale: it has no nextUpdate and its thisUpdate {_when(this_update)} is more "
                f"than {DEFAULT_OCSP_VALIDITY} before {_when(at)}"
            )
        return this_update, None, valid_until
    if next_update < this_update:
        raise EvidenceError("has nextUpdate before thisUpdate")
    _check_next_update(next_update, at)
    return this_update, next_update, next_update


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
        raise _unreadable("has a malformed revocation entry", exc) from None
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


# --------------------------------------------------------------------------- stapled responses


def validate_stapled_response(
    der: bytes, cert: x509.Certificate, issuer: x509.Certificate, at: datetime,
    profile: Profile = "default",
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
        evidence = evaluate_ocsp_response(der, cert, issuer, at, profile=profile)
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
