"""CA/Browser Forum issuance-profile lint: rules for *issuing* publicly trusted TLS
certificates that validators (browsers, OpenSSL, Go, pyca) do not enforce when validating.

`lint_chain` lists every finding; nothing here decides validity. ``tlskit verify --lint``
prints the findings as warnings, and a validation policy that enforces the profile can
turn them into failures. The checks:

* ``cn_not_in_san`` (BR 7.1.4.3, 7.1.2.7.2): a leaf's subject commonName, if present, is
  one of its subjectAltName dNSName or iPAddress values.
* ``san_critical`` (RFC 5280 4.2.1.6, BR 7.1.2.7.12): subjectAltName is critical only
  when the subject is empty.
* ``missing_aki`` (RFC 5280 4.2.1.1, BR 7.1.2): every certificate but a self-signed root
  carries an authorityKeyIdentifier.
* ``serial_not_positive``, ``serial_too_long`` (RFC 5280 4.1.2.2): serial numbers are
  positive and at most 20 octets; ``serial_low_entropy`` (BR 7.1): shorter than 8
  octets cannot hold the 64 random bits the BRs ask for (a hint: length shows no more).
* ``validity_too_long`` (BR 6.3.2): a leaf is valid for at most 398 days.

The two leaf rules apply to certificates in the TLS BRs' scope: leaves that may
authenticate a TLS server (serverAuth or anyExtendedKeyUsage EKU, or no EKU).
"""

from __future__ import annotations

import ipaddress
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeVar

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["LintFinding", "lint_certificate", "lint_chain"]

Role = Literal["leaf", "intermediate", "root"]
Found = tuple[str, str, str]  # code, message, reference
E = TypeVar("E", bound=x509.ExtensionType)
MAX_LEAF_VALIDITY = timedelta(days=398)
MAX_SERIAL_OCTETS = 20
MIN_SERIAL_OCTETS = 8  # 64 bits


@dataclass(frozen=True)
class LintFinding:
    """One departure from the CA/B profile: a stable ``code``, words, the certificate, and
    the rule (``reference``) it departs from."""

    code: str
    message: str
    certificate: x509.Certificate
    reference: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message} ({self.reference})"


def lint_chain(chain: Sequence[x509.Certificate]) -> list[LintFinding]:
    """Lint a chain given leaf first (a trust anchor at the end, if any, is linted as a
    root when it is self-issued)."""
    findings: list[LintFinding] = []
    for i, cert in enumerate(chain):
        role: Role = "leaf" if i == 0 else "intermediate"
        if i > 0 and i == len(chain) - 1 and _self_issued(cert):
            role = "root"
        findings += lint_certificate(cert, role)
    return findings


def lint_certificate(cert: x509.Certificate, role: Role = "leaf") -> list[LintFinding]:
    """Every CA/B profile finding for one certificate in the given role."""
    found = [*_serial(cert), _aki(cert, role), _san_critical(cert)]
    if role == "leaf" and _tls_server_scope(cert):
        found += [_cn_in_san(cert), _validity(cert)]
    return [LintFinding(item[0], item[1], cert, item[2]) for item in found if item is not None]


# --------------------------------------------------------------------------- the checks


def _serial(cert: x509.Certificate) -> list[Found | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns on non-positive serials
        serial = cert.serial_number
    if serial <= 0:
        return [("serial_not_positive", f"serial number {serial} is not positive",
                 "RFC 5280 4.1.2.2")]
    octets = (serial.bit_length() + 8) // 8  # DER INTEGER: a sign bit, so +8 not +7
    if octets > MAX_SERIAL_OCTETS:
        return [("serial_too_long", f"serial number is {octets} octets, more than "
                 f"{MAX_SERIAL_OCTETS}", "RFC 5280 4.1.2.2")]
    if octets < MIN_SERIAL_OCTETS:
        return [("serial_low_entropy", f"serial number {serial:#x} is {octets} octets: too "
                 "short to hold 64 bits from a CSPRNG", "CA/B BR 7.1")]
    return []


def _aki(cert: x509.Certificate, role: Role) -> Found | None:
    if role == "root" or _self_issued(cert):
        return None
    if _extension(cert, x509.AuthorityKeyIdentifier) is not None:
        return None
    return ("missing_aki", "has no authorityKeyIdentifier extension",
            "RFC 5280 4.2.1.1, CA/B BR 7.1.2")


def _san_critical(cert: x509.Certificate) -> Found | None:
    san = _extension(cert, x509.SubjectAlternativeName)
    if san is None or not san.critical or not len(_subject(cert)):
        return None
    return ("san_critical", "subjectAltName is critical although the subject is not empty",
            "RFC 5280 4.2.1.6, CA/B BR 7.1.2.7.12")


def _cn_in_san(cert: x509.Certificate) -> Found | None:
    common_names = [str(a.value) for a in _subject(cert).get_attributes_for_oid(
        NameOID.COMMON_NAME)]
    if not common_names:
        return None
    san = _extension(cert, x509.SubjectAlternativeName)
    names = san.value if san is not None else x509.SubjectAlternativeName([])
    dns = {n.lower() for n in names.get_values_for_type(x509.DNSName)}
    ips = set(names.get_values_for_type(x509.IPAddress))
    for cn in common_names:
        if cn.lower() not in dns and _ip(cn) not in ips:
            where = "its subjectAltName" if san is not None else "a subjectAltName (it has none)"
            return ("cn_not_in_san", f"subject CN {cn!r} is not in {where}",
                    "CA/B BR 7.1.4.3")
    return None


def _validity(cert: x509.Certificate) -> Found | None:
    # Both ends are inclusive (RFC 5280 4.1.2.5): the period is one second longer.
    period = cert.not_valid_after_utc - cert.not_valid_before_utc + timedelta(seconds=1)
    if period <= MAX_LEAF_VALIDITY:
        return None
    return ("validity_too_long", f"is valid for {period.days} days, more than "
            f"{MAX_LEAF_VALIDITY.days}", "CA/B BR 6.3.2")


# --------------------------------------------------------------------------- helpers


def _extension(cert: x509.Certificate, kind: type[E]) -> x509.Extension[E] | None:
    try:
        return cert.extensions.get_extension_for_class(kind)
    except (x509.ExtensionNotFound, ValueError):
        return None


def _subject(cert: x509.Certificate) -> x509.Name:
    try:
        return cert.subject
    except ValueError:
        return x509.Name([])


def _tls_server_scope(cert: x509.Certificate) -> bool:
    """The TLS BRs govern certificates usable for serverAuth: with that EKU, with
    anyExtendedKeyUsage, or with no EKU at all (a client-only certificate is not one)."""
    eku = _extension(cert, x509.ExtendedKeyUsage)
    if eku is None:
        return True
    return bool({ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
                & set(eku.value))


def _self_issued(cert: x509.Certificate) -> bool:
    try:
        return cert.issuer == cert.subject
    except ValueError:
        return False


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
