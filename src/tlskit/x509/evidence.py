"""Revocation evidence: what a source can say, and the helpers every source shares.

`RevocationStatus` is the outcome of a revocation check and `EvidenceError` the reason a
source (an OCSP response, a CRL) could not give one. The OCSP (`ocsp`), CRL (`crl`) and
checker (`revocation`) modules all speak in these terms, so they live here, below all three,
together with what those modules share: the tolerated clock skew, the errors a lazily
parsed hostile structure can raise and the `_malformed` safety net that turns them into
`EvidenceError`, and the wording of certificates, names and times in messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, NoReturn

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from .errors import CertificateVerificationError, Reason, describe
from .parsed import describe_parse_error

StatusName = Literal["good", "revoked", "unknown"]
SourceName = Literal["staple", "ocsp", "crl", "none"]

#: Tolerated disagreement between our clock and the responder's / CRL issuer's clock.
CLOCK_SKEW = timedelta(minutes=5)
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


def _unreadable(what: str, exc: BaseException) -> EvidenceError:
    """Evidence whose bytes cryptography could not read: what, and why in words (not its
    parser's debug text)."""
    return EvidenceError(f"{what} ({describe_parse_error(exc)})")


@contextmanager
def _malformed(part: str = "") -> Iterator[None]:
    """Safety net: cryptography parses lazily, so a hostile structure can fail on any field
    access. The specific checks report the common cases precisely; this turns whatever is left
    into an `EvidenceError` ("is malformed", or "has malformed <part>") instead of letting a
    ValueError escape into the handshake."""
    try:
        yield
    except _DECODE_ERRORS as exc:
        what = f"has malformed {part}" if part else "is malformed"
        raise _unreadable(what, exc) from None


def _check_this_update(this_update: datetime, at: datetime) -> None:
    """CRLs and OCSP answers alike: thisUpdate must not be in the future (with skew)."""
    if this_update > at + CLOCK_SKEW:
        raise EvidenceError(
            f"is not yet valid: thisUpdate {_when(this_update)} is after {_when(at)}"
        )


def _check_next_update(next_update: datetime, at: datetime) -> None:
    """CRLs and OCSP answers alike: nextUpdate must not be in the past (with skew)."""
    if at > next_update + CLOCK_SKEW:
        raise EvidenceError(f"is expired: nextUpdate {_when(next_update)} is before {_when(at)}")


def _revoked_detail(revoked_at: datetime | None, reason: str | None, label: str) -> str:
    when = _when(revoked_at) if revoked_at else "an unspecified time"
    return f"revoked at {when} (reason: {reason or 'unspecified'}) according to {label}"


def _raise_revoked(cert: x509.Certificate, status: RevocationStatus) -> NoReturn:
    raise CertificateVerificationError(
        Reason.revoked, f"certificate {_who(cert)} was {status.detail}", cert
    )
