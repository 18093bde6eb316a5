"""OCSP Must-Staple: the TLS Feature extension (RFC 7633, id-pe-tlsfeature) asking for
status_request.

A certificate that carries it promises that its server always staples an OCSP response,
so a client may treat a missing staple as an attack (an attacker who blocks the CA's
responder and strips the staple otherwise wins a soft-fail client). Firefox enforces it
(MOZILLA_PKIX_ERROR_REQUIRED_TLS_FEATURE_MISSING); OpenSSL, Go and Chrome ignore it, which
is tlskit's default too: `tlskit.ClientConfig` ``enforce_must_staple`` turns it on.

Only the leaf's extension is enforced: status_request (RFC 6066) carries
one response, for the leaf, so a CA certificate's TLS Feature cannot be met through it
(RFC 7633 reads one in a CA certificate as a rule for the certificates it issues,
which is the CA's business). status_request_v2 (RFC 6961, deprecated for TLS 1.3 by RFC
8446 4.4.2.1) is not offered by tlskit, so a certificate naming it is not held to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from .errors import CertificateVerificationError, Reason, describe

# How a message says "or stop requiring it": the CLI names its flag after these words.
NOT_ENFORCED = "turn off enforce_must_staple"

__all__ = ["check_must_staple", "must_staple", "shows_must_staple"]

# How the verifier names the extension in its list of unhandled critical ones.
TLS_FEATURE_NAME = "TLSFeature"


def must_staple(cert: x509.Certificate) -> bool:
    """True when ``cert`` has a TLS Feature extension listing status_request (RFC 7633).
    A malformed extension is a `CertificateVerificationError` (malformed)."""
    try:
        feature = cert.extensions.get_extension_for_class(x509.TLSFeature).value
    except x509.ExtensionNotFound:
        return False
    except (ValueError, TypeError) as exc:  # cryptography's parse of a bad extension
        # (TypeError: an empty TLS Feature list, which cryptography refuses to build)
        raise CertificateVerificationError(
            Reason.malformed, f"certificate {describe(cert)} has extensions that do not "
            f"parse ({exc}): it cannot be checked for must-staple (RFC 7633)", cert) from None
    return x509.TLSFeatureType.status_request in feature


def only_status_request(cert: x509.Certificate) -> bool:
    """True when ``cert``'s TLS Feature lists status_request and nothing else (RFC 7633:
    a client that enforces must-staple handles exactly that, critical or not)."""
    try:
        feature = cert.extensions.get_extension_for_class(x509.TLSFeature).value
    except (x509.ExtensionNotFound, ValueError, TypeError):
        return False
    return set(feature) == {x509.TLSFeatureType.status_request}


def shows_must_staple(cert: x509.Certificate) -> bool:
    """`must_staple` for display (the CLI, warnings): a malformed extension is False here,
    the verifier's to report."""
    try:
        return must_staple(cert)
    except CertificateVerificationError:
        return False


def check_must_staple(chain: Sequence[x509.Certificate], staple: bytes | None,
                      at: datetime, presented: Sequence[x509.Certificate] = ()) -> None:
    """RFC 7633: a leaf that is must-staple needs a valid stapled OCSP response for
    it. ``chain`` is the validated chain, leaf first; ``presented`` the certificates the
    server sent (where the leaf's issuer is looked for when ``chain`` ends at the leaf).
    Raises `CertificateVerificationError` with `Reason.tls_feature_missing` (alert
    bad_certificate_status_response) when the staple is missing or no usable evidence, and
    with `Reason.revoked` when it says revoked."""
    leaf = chain[0]
    if not must_staple(leaf):
        return
    advice = ("the server must staple a current OCSP response for it (tlskit serve "
              f"--ocsp-response FILE, nginx ssl_stapling on), or {NOT_ENFORCED}")
    if staple is None:
        raise CertificateVerificationError(
            Reason.tls_feature_missing,
            f"certificate {describe(leaf)} is must-staple (RFC 7633 TLS Feature "
            f"status_request) but the server stapled no OCSP response: {advice}", leaf)
    from .ocsp import validate_stapled_response
    issuer = chain[1] if len(chain) > 1 else _issuer_of(leaf, presented)
    if issuer is None:
        raise CertificateVerificationError(
            Reason.tls_feature_missing,
            f"certificate {describe(leaf)} is must-staple (RFC 7633 TLS Feature "
            "status_request) and trusted as an anchor itself, but the server sent no "
            "certificate that issued it, so its staple cannot be checked (RFC 6960 4.2.2.2: "
            "the issuer signs, or delegates): have the server send its intermediate, trust "
            f"the issuing CA instead of the leaf, or {NOT_ENFORCED}", leaf)
    try:
        validate_stapled_response(staple, leaf, issuer, at)
    except CertificateVerificationError as exc:
        if exc.reason is not Reason.revocation_unknown:
            raise  # revoked: certificate_revoked says more than a missing feature
        raise CertificateVerificationError(
            Reason.tls_feature_missing,
            f"certificate {describe(leaf)} is must-staple (RFC 7633 TLS Feature "
            f"status_request) but the stapled OCSP response is not valid for it ({exc}): "
            f"{advice}", leaf) from None


def _issuer_of(leaf: x509.Certificate,
               presented: Sequence[x509.Certificate]) -> x509.Certificate | None:
    """The certificate whose key signed ``leaf`` when the validated chain is the leaf alone
    (a leaf pinned as a trust anchor): one the server sent that verifiably issued it, or the
    leaf itself if self-signed; None if neither. Never the leaf on its word alone: then a
    thief of its key could sign a "good" staple for it with that key."""
    for cert in (*presented[1:], leaf):
        try:
            leaf.verify_directly_issued_by(cert)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        return cert
    return None
