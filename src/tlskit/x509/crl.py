"""CRLs (RFC 5280 sections 5 and 6.3): loading one, deciding whether it can be trusted, and
looking a certificate up in it.

`_trust_crl` accepts a CRL only as a complete, authentic, current list from the issuer:
issued by it under a key allowed to sign CRLs (cRLSign), correctly signed, no critical
extension we cannot process on the CRL or on any of its entries (RFC 5280 section 5.3),
within its window (with `CLOCK_SKEW`).

A CRL without nextUpdate is current by default, as OpenSSL's ``verify -crl_check`` takes it
(it has no date to expire at); RFC 5280 section 5.1.2.5 and the CA/B Forum Baseline
Requirements require issuers to include one, so profile "cabf" refuses it. Such a CRL is
never cached (`RevocationChecker` fetches it again each time), so a fetched one is as fresh
as its distribution point.

A missing or critical cRLNumber (RFC 5280 5.2.3 asks issuers for a non-critical one) does
not void a CRL: the number orders CRLs and delta CRLs, which this module does not use;
OpenSSL uses such a CRL (`openssl ca -gencrl` without a crlnumber file makes one), and
refusing an authentic CRL would let a certificate it revokes pass under soft-fail. Anything
else is not evidence: the soft-fail / hard-fail policy decides what happens without it.
Delta CRLs, indirect CRLs and CRLs partitioned by reason are not supported and are reported
as unusable, never silently treated as complete. `_crl_status` then looks the certificate
up, after checking that the CRL's issuing distribution point covers it. Where CRLs come from
is `RevocationChecker`'s business (in `revocation`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

from .evidence import (
    _DECODE_ERRORS,
    EvidenceError,
    RevocationStatus,
    _check_next_update,
    _check_this_update,
    _extension,
    _is_ca,
    _malformed,
    _name,
    _revoked_detail,
    _unreadable,
    _when,
    _who,
)

if TYPE_CHECKING:
    from .checks import Profile

#: What profile "cabf" says about a CRL without nextUpdate: what is wrong, and what to do.
NO_NEXT_UPDATE = (
    "has no nextUpdate, which profile \"cabf\" requires (RFC 5280 section 5.1.2.5, CA/B "
    "Forum Baseline Requirements 7.2): ask its issuer for a CRL with a nextUpdate, or use "
    "the default profile, which takes such a CRL as current as OpenSSL does"
)


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """Parse a CRL in PEM or DER; raise `EvidenceError` with a reason when it is neither."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except _DECODE_ERRORS as exc:
        raise _unreadable("is not a valid CRL", exc) from None


_IGNORABLE_CRL_EXTENSIONS = {
    ExtensionOID.CRL_NUMBER,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ExtensionOID.ISSUER_ALTERNATIVE_NAME,
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
}


def _trust_crl(
    crl: x509.CertificateRevocationList, issuer: x509.Certificate, at: datetime,
    profile: Profile = "default",
) -> tuple[datetime, datetime | None]:
    """Is this a complete, authentic, current CRL from ``issuer``? Returns its window
    (thisUpdate, nextUpdate); nextUpdate is None when the CRL has none (``profile="cabf"``
    refuses that)."""
    try:
        crl_issuer = crl.issuer
        usage = _extension(issuer.extensions, x509.KeyUsage)
    except _DECODE_ERRORS as exc:
        raise _unreadable("cannot be read", exc) from None
    if crl_issuer != issuer.subject:
        raise EvidenceError(f"is issued by '{_name(crl_issuer)}', not by '{_name(issuer.subject)}'")
    if usage is not None and not usage.value.crl_sign:  # type: ignore[attr-defined]
        raise EvidenceError(
            f"cannot be trusted: the key usage of '{_name(issuer.subject)}' lacks cRLSign"
        )
    _check_crl_signature(crl, issuer)
    _check_crl_extensions(crl)
    _check_entry_extensions(crl)
    return _crl_freshness(crl, at, profile)


def _check_crl_signature(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> None:
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except _DECODE_ERRORS as exc:
        raise _unreadable("has a signature that cannot be checked", exc) from None
    if not valid:
        raise EvidenceError(f"has a signature that does not verify with the key of {_who(issuer)}")


def _check_crl_extensions(crl: x509.CertificateRevocationList) -> None:
    with _malformed("extensions"):
        extensions = list(crl.extensions)
    for ext in extensions:
        if ext.oid == ExtensionOID.DELTA_CRL_INDICATOR:
            raise EvidenceError("is a delta CRL, which is not supported")
        if ext.oid == ExtensionOID.ISSUING_DISTRIBUTION_POINT:
            _check_idp_kind(ext.value)  # type: ignore[arg-type]
        elif ext.critical and ext.oid not in _IGNORABLE_CRL_EXTENSIONS:
            raise EvidenceError(f"has an unsupported critical extension {ext.oid.dotted_string}")


# Entry extensions we act on or may safely ignore when critical (RFC 5280 5.3.1, 5.3.2).
_UNDERSTOOD_ENTRY_EXTENSIONS = {
    CRLEntryExtensionOID.CRL_REASON,
    CRLEntryExtensionOID.INVALIDITY_DATE,
}


# CRLs whose entries were found clean, by identity (the entry holds the CRL, so its id is
# not reused while filed): a configured CRL (``crls=...``) is vetted on every validation,
# and walking 10,000 entries in Python costs ~15 ms; a fetched one is cached by the checker.
_CLEAN_ENTRIES: dict[int, x509.CertificateRevocationList] = {}
_MAX_CLEAN = 64


def _check_entry_extensions(crl: x509.CertificateRevocationList) -> None:
    """RFC 5280 section 5.3: a critical entry extension we cannot process, on *any* entry,
    makes the whole CRL unusable, not just that entry (OpenSSL rejects such a CRL too).
    A CRL object found clean once is not walked again."""
    if _CLEAN_ENTRIES.get(id(crl)) is crl:
        return
    _scan_entry_extensions(crl)
    if len(_CLEAN_ENTRIES) >= _MAX_CLEAN:
        _CLEAN_ENTRIES.clear()
    _CLEAN_ENTRIES[id(crl)] = crl


def _scan_entry_extensions(crl: x509.CertificateRevocationList) -> None:
    try:
        for entry in crl:
            for ext in entry.extensions:
                if ext.critical and ext.oid not in _UNDERSTOOD_ENTRY_EXTENSIONS:
                    raise EvidenceError(
                        f"has an unsupported critical entry extension {ext.oid.dotted_string} "
                        f"(in the entry for serial {entry.serial_number:#x}), so RFC 5280 5.3 "
                        "forbids using it for any certificate"
                    )
    except _DECODE_ERRORS as exc:
        raise _unreadable("has a malformed entry", exc) from None


def _check_idp_kind(idp: x509.IssuingDistributionPoint) -> None:
    """Reject the CRL kinds we cannot treat as a complete list for the issuer."""
    if idp.indirect_crl:
        raise EvidenceError("is an indirect CRL, which is not supported")
    if idp.only_some_reasons:
        raise EvidenceError("covers only some revocation reasons, which is not supported")
    if idp.relative_name is not None:
        raise EvidenceError("names its distribution point relatively, which is not supported")


def _crl_freshness(
    crl: x509.CertificateRevocationList, at: datetime, profile: Profile
) -> tuple[datetime, datetime | None]:
    """thisUpdate not in the future; nextUpdate, if any, not in the past. Without one the CRL
    cannot expire (OpenSSL 3's ``verify -crl_check`` uses it whatever its thisUpdate)."""
    with _malformed("timestamps"):
        this_update, next_update = crl.last_update_utc, crl.next_update_utc
    _check_this_update(this_update, at)
    if next_update is None:
        if profile == "cabf":
            raise EvidenceError(NO_NEXT_UPDATE)
        return this_update, None
    _check_next_update(next_update, at)
    return this_update, next_update


def _crl_covers(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> None:
    """RFC 5280 section 6.3.3 (b): the issuing distribution point must cover ``cert``."""
    with _malformed("extensions"):
        found = _extension(crl.extensions, x509.IssuingDistributionPoint)
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
                f"not listed in {label} ({_crl_window(crl)})",
            )
        entry_extensions = list(entry.extensions)
        revoked_at = entry.revocation_date_utc
    except _DECODE_ERRORS as exc:
        raise _unreadable("has a malformed entry for this certificate", exc) from None
    reason: str | None = None
    for ext in entry_extensions:  # critical ones were vetted for every entry by _trust_crl
        if isinstance(ext.value, x509.CRLReason):
            reason = ext.value.reason.value
    if reason == x509.ReasonFlags.remove_from_crl.value:
        return RevocationStatus("good", "crl", f"removed from hold in {label}")
    return RevocationStatus("revoked", "crl", _revoked_detail(revoked_at, reason, label))


def _crl_window(crl: x509.CertificateRevocationList) -> str:
    """How long a CRL's answer stands, in words: its nextUpdate, or that it has none."""
    if crl.next_update_utc is None:
        return f"thisUpdate {_when(crl.last_update_utc)}, no nextUpdate"
    return f"nextUpdate {_when(crl.next_update_utc)}"


def _crl_issuer_is(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    try:
        return crl.issuer == issuer.subject
    except _DECODE_ERRORS:
        return False
