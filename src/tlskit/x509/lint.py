"""The CA/Browser Forum issuance profile, as a lint.

Validation (`checks`) enforces what relying parties enforce: RFC 5280 path validation and
the checks browsers, Go, webpki and pyca apply when a certificate is used. Many rules are
addressed to the CA that *issues* a certificate instead (RFC 5280 section 4 MUSTs on
conforming CAs, the CA/B Baseline Requirements): a subject CN repeated in the SAN, a
non-critical SAN beside a subject, key identifiers, serial number size, an EKU on every
TLS server certificate. No mainstream validator rejects a certificate for breaking them,
and private PKIs (trustme, mkcert, ``openssl req -x509``) routinely do.

They are decided here: `lint_verdicts` lists them for one certificate in one role,
`Verifier.lint` and `Report.findings` report them as `Finding` warnings, and
``Verifier(profile="cabf")`` turns them into failures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from .certinfo import V3, CertInfo, Role, analyze
from .errors import Reason

# CA/B BR 7.1.2.7.10: purposes a TLS server certificate must not also serve.
_PRECERTIFICATE_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.4")
_FORBIDDEN_SERVER_EKUS = {
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    _PRECERTIFICATE_SIGNING: "precertificateSigning",
}

# (rule, reason the "cabf" profile fails with, detail that reads after the label)
LintVerdict = tuple[str, Reason, str]


@dataclass(frozen=True, slots=True)
class Finding:
    """One issuance-profile rule a certificate breaks. ``rule`` is a stable short code,
    ``message`` a sentence naming the certificate and the clause."""

    certificate: x509.Certificate
    role: Role
    rule: str
    reason: Reason
    message: str

    def __str__(self) -> str:
        return self.message


def _notes(info: CertInfo, role: Role) -> list[LintVerdict]:
    out: list[LintVerdict] = [("encoding", Reason.malformed, note) for note in info.lint_notes]
    if info.serial_problem and role != "anchor":
        out.append(("serial-number", Reason.malformed, f"has a {info.serial_problem}"))
    return out


def _ca_rules(info: CertInfo, role: Role) -> list[LintVerdict]:
    """RFC 5280 4.1.2.6, 4.2.1.2, 4.2.1.3, 4.2.1.9 for CAs; CA/B BR 7.1.2.1 for roots."""
    if info.version is not V3:
        return []
    out: list[LintVerdict] = []
    if info.ca and not info.bc_critical:
        out.append(("ca-basic-constraints", Reason.malformed, "does not mark basicConstraints "
                    "critical, which a CA certificate must (RFC 5280 4.2.1.9)"))
    if role == "anchor" and info.empty_subject:
        out.append(("ca-subject", Reason.malformed,
                    "has an empty subject, which a CA must not (RFC 5280 4.1.2.6)"))
    if info.ski is None:
        out.append(("ca-key-identifier", Reason.malformed, "has no subjectKeyIdentifier, which "
                    "a CA certificate must carry (RFC 5280 4.2.1.2)"))
    if info.key_usage is None:
        out.append(("ca-key-usage", Reason.key_usage, "has no keyUsage extension, which a CA "
                    "certificate must carry (RFC 5280 4.2.1.3, CA/B BR 7.1.2.10.7)"))
    if role == "anchor" and info.self_issued:
        if info.aki_present and info.aki_names_issuer:
            out.append(("root-key-identifier", Reason.malformed, "has an authorityKeyIdentifier "
                        "that names the issuer, where a root's holds only a keyIdentifier "
                        "(CA/B BR 7.1.2.1.3)"))
        elif info.aki is not None and info.aki != info.ski:
            out.append(("root-key-identifier", Reason.malformed, "has an authorityKeyIdentifier "
                        "different from its subjectKeyIdentifier (CA/B BR 7.1.2.1.3)"))
        if info.eku is not None:
            out.append(("root-eku", Reason.extended_key_usage, "is a root with an "
                        "extendedKeyUsage extension, which a root must not carry "
                        "(CA/B BR 7.1.2.1.2)"))
    return out


def _server_leaf_rules(info: CertInfo, role: Role) -> list[LintVerdict]:
    """CA/B BR 7.1.2.7 (subscriber certificates) and 7.1.4.3 (the subject CN)."""
    out: list[LintVerdict] = []
    if info.ca:
        out.append(("leaf-is-ca", Reason.key_usage, "is a CA certificate (basicConstraints "
                    "cA is true) used as an end-entity certificate (CA/B BR 7.1.2.7.8)"))
    if info.key_usage is not None and info.key_usage.key_cert_sign:
        out.append(("leaf-key-usage", Reason.key_usage, "has a keyUsage that asserts "
                    "keyCertSign, which an end-entity certificate must not "
                    "(RFC 5280 4.2.1.9, CA/B BR 7.1.2.7.11)"))
    eku = info.eku
    if eku is None:
        out.append(("leaf-eku", Reason.extended_key_usage, "has no extendedKeyUsage "
                    "extension; a TLS server certificate must list serverAuth "
                    "(CA/B BR 7.1.2.7.10)"))
    else:
        forbidden = sorted(name for oid, name in _FORBIDDEN_SERVER_EKUS.items() if oid in eku)
        if forbidden:
            out.append(("leaf-eku", Reason.extended_key_usage, f"has an extendedKeyUsage that "
                        f"also allows {', '.join(forbidden)}, which a TLS server certificate "
                        f"must not (CA/B BR 7.1.2.7.10)"))
        if info.eku_critical:
            out.append(("leaf-eku", Reason.extended_key_usage, "has a critical "
                        "extendedKeyUsage extension, which a TLS server certificate must not "
                        "(CA/B BR 7.1.2.7.6)"))
    if info.san is None:
        out.append(("leaf-san", Reason.malformed, "has no subjectAltName extension, which a "
                    "TLS server certificate must carry (CA/B BR 7.1.2.7.12)"))
    elif info.san_critical and not info.empty_subject:
        out.append(("leaf-san", Reason.malformed, "has a critical subjectAltName although "
                    "its subject is not empty (RFC 5280 4.2.1.6, CA/B BR 7.1.2.7.12)"))
    problem = info.common_name_problem()
    if problem:
        out.append(("leaf-common-name", Reason.hostname_mismatch, problem))
    return out


def lint_verdicts(
    info: CertInfo, role: Role, usage: str = "server", curated: bool = False
) -> list[LintVerdict]:
    """Every issuance rule ``info`` breaks in ``role``. A curated store's roots (a root
    program's bundle) predate many of these rules and are not judged by them."""
    if info.unparseable or (role == "anchor" and curated):
        return []
    out = _notes(info, role)
    if role in ("anchor", "intermediate"):
        out.extend(_ca_rules(info, role))
    elif usage == "server":
        out.extend(_server_leaf_rules(info, role))
    return out


def findings_for(
    info: CertInfo, role: Role, usage: str = "server", curated: bool = False
) -> list[Finding]:
    return [Finding(info.cert, role, rule, reason, f"{info.label(role)} {detail}")
            for rule, reason, detail in lint_verdicts(info, role, usage, curated)]


def lint_chain(
    chain: Sequence[x509.Certificate], usage: str = "server", *, anchored: bool = True,
    curated: bool = False,
) -> list[Finding]:
    """Lint a chain already in order, leaf first and, when ``anchored``, the trust anchor
    last, without validating it (`Verifier.lint` lints the chain it builds instead)."""
    n = len(chain)
    out: list[Finding] = []
    for i, cert in enumerate(chain):
        role: Role = ("leaf-anchor" if anchored and n == 1 else "leaf") if i == 0 else (
            "anchor" if anchored and i == n - 1 else "intermediate")
        out.extend(findings_for(analyze(cert), role, usage, curated))
    return out


__all__ = ["Finding", "LintVerdict", "findings_for", "lint_chain", "lint_verdicts"]
