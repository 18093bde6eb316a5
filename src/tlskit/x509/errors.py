"""Certificate verification failures: a stable reason code, the certificate, and words."""

from __future__ import annotations

import warnings
from enum import StrEnum

from cryptography import x509

from ..enums import AlertDescription as AD
from ..errors import BadCertificate


class Reason(StrEnum):
    """Stable reason codes; the value is the code string users and tools match on."""

    expired = "expired"
    not_yet_valid = "not_yet_valid"
    unknown_issuer = "unknown_issuer"
    self_signed = "self_signed"
    bad_signature = "bad_signature"
    not_a_ca = "not_a_ca"
    path_length_exceeded = "path_length_exceeded"
    name_constraints_violated = "name_constraints_violated"
    key_usage = "key_usage"
    extended_key_usage = "extended_key_usage"
    hostname_mismatch = "hostname_mismatch"
    unhandled_critical_extension = "unhandled_critical_extension"
    revoked = "revoked"
    revocation_unknown = "revocation_unknown"
    weak_key = "weak_key"
    weak_signature = "weak_signature"
    malformed = "malformed"
    path_too_long = "path_too_long"
    no_certificate = "no_certificate"
    too_complex = "too_complex"  # a work budget ran out: rejected, never accepted
    # RFC 7633: the leaf requires an OCSP staple (must-staple) and none valid came.
    tls_feature_missing = "tls_feature_missing"


# RFC 8446 section 6.2: the alert that best describes each failure.
_ALERTS: dict[Reason, AD] = {
    Reason.expired: AD.certificate_expired,
    Reason.not_yet_valid: AD.certificate_expired,
    Reason.unknown_issuer: AD.unknown_ca,
    Reason.self_signed: AD.unknown_ca,
    Reason.revoked: AD.certificate_revoked,
    Reason.revocation_unknown: AD.certificate_unknown,
    Reason.hostname_mismatch: AD.bad_certificate,
    Reason.weak_key: AD.insufficient_security,
    Reason.weak_signature: AD.bad_certificate,
    Reason.malformed: AD.bad_certificate,
    Reason.unhandled_critical_extension: AD.unsupported_certificate,
    Reason.no_certificate: AD.certificate_required,
    # RFC 8446 6.2 / RFC 6066 8: the status response is missing or unacceptable.
    Reason.tls_feature_missing: AD.bad_certificate_status_response,
}


# How a message says "trust it": the library's words; the CLI names its flag after them
# (`tlskit.cli.verify.with_flag_hint`).
TO_TRUST_ANCHORS = "to the trust anchors"


def alert_for(reason: Reason) -> AD:
    return _ALERTS.get(reason, AD.bad_certificate)


def describe(cert: x509.Certificate | None) -> str:
    """A short human name for a certificate: subject, issuer and serial."""
    if cert is None:
        return "(no certificate)"
    try:
        subject = cert.subject.rfc4514_string() or "(empty subject)"
        issuer = cert.issuer.rfc4514_string() or "(empty issuer)"
    except Exception:  # cryptography raises ValueError, and KeyError for odd string tags
        subject = issuer = "(unparseable name)"
    with warnings.catch_warnings():
        # cryptography warns on every read of a non-positive serial (several real roots
        # have serial 0); a message is no place for that warning.
        warnings.simplefilter("ignore")
        serial = cert.serial_number
    return f"'{subject}' (issuer '{issuer}', serial {serial:#x})"


class CertificateVerificationError(BadCertificate):
    """The chain failed a check. ``reason`` is a `Reason`, ``certificate`` the culprit."""

    def __init__(
        self,
        reason: Reason,
        message: str,
        certificate: x509.Certificate | None = None,
    ) -> None:
        self.reason = reason
        self.certificate = certificate
        super().__init__(message, alert_for(reason))
