"""Layer 2 of path validation: the checks on one certificate, and on one link of a path.

Check functions decide; `cert_failure` and `link_failure` ask them for the first failure
(fast, no words for checks that pass), `cert_checks` and `link_check` yield an `Outcome` for
every check for ``explain``. Both ask the very same decision functions, so the report can
never disagree with the verdict. `Context` holds the parameters of one validation. The
checks that need the whole path (path length, name constraints) are in `constraints`; the
profile they enforce is described in `tlskit.x509.path`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from .certinfo import V3, CertInfo, Role, oid_name
from .errors import TO_TRUST_ANCHORS, Reason
from .lint import lint_verdicts
from .signatures import SignatureCache, Stats

Usage = Literal["server", "client"]
Profile = Literal["default", "cabf"]

_USAGE_OIDS = {
    "server": ExtendedKeyUsageOID.SERVER_AUTH,
    "client": ExtendedKeyUsageOID.CLIENT_AUTH,
}


@dataclass(slots=True)
class Outcome:
    """One check on one certificate. ``detail`` on a failure is a predicate that reads after
    the certificate's label: "<certificate for x> expired on ..."."""

    info: CertInfo
    check: str
    ok: bool
    detail: str
    reason: Reason | None = None
    role: Role = "leaf"

    @property
    def message(self) -> str:
        return f"{self.info.label(self.role)} {self.detail}"


@dataclass
class Context:
    """Parameters of one validation."""

    at: datetime
    usage: Usage = "server"
    max_depth: int = 8
    require_digital_signature: bool = True
    signatures: SignatureCache = field(default_factory=SignatureCache)
    stats: Stats = field(default_factory=Stats)
    max_signature_checks: int = 128
    max_candidates: int = 1024
    collect: bool = False  # building a report: spend time on the wording of passed checks
    curated_anchors: bool = False  # the store is a root program's: see TrustStore.curated
    profile: Profile = "default"  # "cabf" also fails the issuance rules of `lint`
    max_name_checks: int = 65536  # name-constraint comparisons per validation
    name_checks: int = 0  # spent so far in this validation
    # RFC 7633: the caller enforces must-staple, so a leaf's critical TLS Feature (listing
    # only status_request, see `_critical_extensions`) is an extension it handles.
    handles_must_staple: bool = False

    def spend_name_checks(self, count: int) -> None:
        """Charge ``count`` name-constraint comparisons before making them; over budget,
        the validation stops (`BudgetExhausted`) instead of doing the work."""
        self.name_checks += count
        if self.name_checks > self.max_name_checks:
            raise BudgetExhausted(
                f"{self.name_checks} name-constraint comparisons (limit "
                f"{self.max_name_checks}, max_name_checks)")
        self.stats.name_checks += count


class BudgetExhausted(Exception):
    """A work budget of one validation ran out; the chain is rejected as too_complex."""


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _ok(info: CertInfo, check: str, detail: str, role: Role) -> Outcome:
    return Outcome(info, check, True, detail, None, role)


def _bad(info: CertInfo, check: str, reason: Reason, detail: str, role: Role) -> Outcome:
    return Outcome(info, check, False, detail, reason, role)


def _check_validity(info: CertInfo, ctx: Context, role: Role) -> Outcome:
    if ctx.at > info.not_after:
        detail = f"expired on {_fmt(info.not_after)}; now is {_fmt(ctx.at)}"
        return _bad(info, "validity", Reason.expired, detail, role)
    if ctx.at < info.not_before:
        detail = f"is not valid before {_fmt(info.not_before)}; now is {_fmt(ctx.at)}"
        return _bad(info, "validity", Reason.not_yet_valid, detail, role)
    span = f"valid from {_fmt(info.not_before)} to {_fmt(info.not_after)}" if ctx.collect else ""
    return _ok(info, "validity", span, role)


# Each timeless check is a decision function, returning (reason, detail) on failure and
# None on success, paired with the words for a pass (asked for only by reports). The fast
# path (`cert_failure`) and the report (`cert_checks`) run the same decision functions.

Verdict = tuple[Reason, str]
Decide = Callable[[CertInfo, Role, "Context"], "Verdict | None"]
Words = Callable[[CertInfo, Role, "Context"], str]


def _is_leaf(role: Role) -> bool:
    return role == "leaf" or role == "leaf-anchor"


def _well_formed(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    """RFC 5280 structure, in every role (trust anchors included)."""
    if info.malformed:
        return Reason.malformed, f"is malformed: {info.malformed}"
    return None


def _critical_extensions(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    unhandled = info.unhandled_critical
    if unhandled and ctx.handles_must_staple and _is_leaf(role):
        unhandled = _without_must_staple(info, unhandled)
    if unhandled:
        return (Reason.unhandled_critical_extension,
                f"has an unhandled critical extension: {', '.join(unhandled)}")
    return None


def _without_must_staple(info: CertInfo, unhandled: tuple[str, ...]) -> tuple[str, ...]:
    """``unhandled`` less a TLS Feature that lists status_request alone (RFC 7633
    must-staple, which the caller enforces); one naming any other feature stays
    unhandled, as tlskit offers none of them."""
    from .muststaple import TLS_FEATURE_NAME, only_status_request
    if TLS_FEATURE_NAME in unhandled and only_status_request(info.cert):
        return tuple(n for n in unhandled if n != TLS_FEATURE_NAME)
    return unhandled


def _public_key(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    if info.weak_key:
        return Reason.weak_key, f"has a weak key: {info.weak_key}"
    return None


def _signature_algorithm(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    if info.weak_signature and role != "anchor" and role != "leaf-anchor":
        return Reason.weak_signature, f"is signed with a weak algorithm: {info.weak_signature}"
    return None


def _leaf_profile(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    """A v3 end-entity certificate that is not a CA (RFC 5280 4.2.1.9: a CA key signs
    certificates, not handshakes; pyca and webpki agree). A certificate the user trusts
    directly is exempt: `openssl req -x509` marks its self-signed output cA=TRUE."""
    if info.version is not V3:
        return (Reason.malformed,
                "is malformed: it is not an X.509 v3 certificate (RFC 5280 4.1.2.1)")
    if info.ca and role == "leaf":
        return (Reason.key_usage, "is a CA certificate (basicConstraints cA is true) but is "
                "used as an end-entity certificate; to trust this very certificate, add it "
                f"{TO_TRUST_ANCHORS}")
    return None


def _leaf_key_usage_ok(info: CertInfo, require_digital_signature: bool) -> bool:
    """TLS 1.3 authenticates only by signature, so digitalSignature is required; for TLS 1.2
    an RSA key may instead allow keyEncipherment (RFC 5246 7.4.2)."""
    ku = info.key_usage
    assert ku is not None
    if ku.digital_signature:
        return True
    return (not require_digital_signature and isinstance(info.public_key, rsa.RSAPublicKey)
            and ku.key_encipherment)


def _leaf_key_usage(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    ku = info.key_usage
    if ku is None:
        return None
    if ku.key_cert_sign and role == "leaf":
        return (Reason.key_usage, "has a keyUsage extension that asserts keyCertSign, which an "
                "end-entity certificate must not (RFC 5280 4.2.1.9)")
    if not _leaf_key_usage_ok(info, ctx.require_digital_signature):
        return (Reason.key_usage,
                "has a keyUsage extension that does not allow digitalSignature")
    return None


def _leaf_key_usage_words(info: CertInfo, role: Role, ctx: Context) -> str:
    if info.key_usage is None:
        return "no keyUsage extension (any usage)"
    return "allows signing the handshake"


def _eku_names(eku: frozenset[x509.ObjectIdentifier]) -> str:
    return ", ".join(sorted(oid_name(o) for o in eku)) or "(empty)"


def _leaf_eku(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    """RFC 5280 4.2.1.12: no EKU means any use. A TLS server certificate's EKU must list
    serverAuth (anyExtendedKeyUsage alone is refused, as pyca and webpki do); a client
    certificate's must list clientAuth or anyExtendedKeyUsage."""
    eku = info.eku
    if eku is None:
        return None
    wanted = _USAGE_OIDS[ctx.usage]
    if wanted in eku:
        return None
    if ctx.usage == "client" and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
        return None
    return (Reason.extended_key_usage,
            f"does not permit {wanted._name} (extendedKeyUsage: {_eku_names(eku)})")


def _eku_words(info: CertInfo, role: Role, ctx: Context) -> str:
    if info.eku is None:
        return "no extendedKeyUsage extension (any usage)"
    return f"permits {_USAGE_OIDS[ctx.usage]._name}"


def _ca_basic_constraints(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    """RFC 5280 6.1.4 (k): an issuer must assert cA. A v1 trust anchor without extensions
    is grandfathered; a v1 intermediate is never a CA. Whether the extension is marked
    critical is an issuance rule (RFC 5280 4.2.1.9 binds the CA; section 6 never reads
    it, nor do OpenSSL, Go or the browsers): `lint` reports it, profile "cabf" enforces it."""
    if info.version is not V3:
        if role == "anchor":
            return None
        return (Reason.not_a_ca, "is not a CA (an X.509 v1 certificate cannot be one) but is "
                "used as an issuer")
    if not info.ca:
        why = "basicConstraints is absent" if info.ca is None else "basicConstraints cA is false"
        return Reason.not_a_ca, f"is not a CA ({why}) but is used as an issuer"
    return None


def _ca_basic_constraints_words(info: CertInfo, role: Role, ctx: Context) -> str:
    if info.ca is None:
        return "v1 trust anchor (no extensions)"
    limit = "" if info.path_len is None else f", pathLenConstraint {info.path_len}"
    return f"CA{limit}"


def _ca_profile(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    """RFC 5280 4.1.2.6: a CA that issues has a non-empty subject (a child's issuer name
    cannot be empty). Trust anchors are taken as the user gave them."""
    if info.version is not V3 or role == "anchor":
        return None
    if info.empty_subject:
        return (Reason.malformed, "is malformed: a CA certificate must have a non-empty "
                "subject (RFC 5280 4.1.2.6)")
    return None


def _ca_key_usage(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    if info.key_usage is None or info.key_usage.key_cert_sign:
        return None
    return (Reason.key_usage,
            "has a keyUsage extension without keyCertSign but is used as an issuer")


def _ca_key_usage_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return "no keyUsage extension" if info.key_usage is None else "keyCertSign"


def _ca_eku(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    """On a CA an EKU restricts what it may vouch for (as browsers, Go and pyca read it),
    so it must list the usage or anyExtendedKeyUsage."""
    eku = info.eku
    if eku is None:
        return None
    wanted = _USAGE_OIDS[ctx.usage]
    if wanted in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
        return None
    return (Reason.extended_key_usage,
            f"does not permit {wanted._name} (extendedKeyUsage: {_eku_names(eku)})")


def _well_formed_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return "v3 structure and extensions parse"


def _critical_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return "all critical extensions understood"


def _key_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return info.key_desc


def _signature_algorithm_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return oid_name(info.cert.signature_algorithm_oid)


def _leaf_profile_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return "v3 end-entity certificate"


def _ca_profile_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return "non-empty subject" if role != "anchor" else "taken as given (trust anchor)"


Check = tuple[str, Decide, Words]

_COMMON_CHECKS: tuple[Check, ...] = (
    ("critical extensions", _critical_extensions, _critical_words),
    ("public key", _public_key, _key_words),
)
_SIGNED_CHECKS: tuple[Check, ...] = (
    ("signature algorithm", _signature_algorithm, _signature_algorithm_words),
)
_LEAF_CHECKS: tuple[Check, ...] = (
    ("end-entity profile", _leaf_profile, _leaf_profile_words),
    ("key usage", _leaf_key_usage, _leaf_key_usage_words),
    ("extended key usage", _leaf_eku, _eku_words),
)
_CA_CHECKS: tuple[Check, ...] = (
    ("basic constraints", _ca_basic_constraints, _ca_basic_constraints_words),
    ("CA profile", _ca_profile, _ca_profile_words),
    ("key usage", _ca_key_usage, _ca_key_usage_words),
    ("extended key usage", _ca_eku, _eku_words),
)
_WELL_FORMED: Check = ("well-formed", _well_formed, _well_formed_words)
_CHECKS_BY_ROLE: dict[str, tuple[Check, ...]] = {
    "leaf": _COMMON_CHECKS + _SIGNED_CHECKS + _LEAF_CHECKS,
    "leaf-anchor": _COMMON_CHECKS + _LEAF_CHECKS,
    "intermediate": _COMMON_CHECKS + _SIGNED_CHECKS + _CA_CHECKS,
    "anchor": _COMMON_CHECKS + _CA_CHECKS,
}


def _timeless_checks(info: CertInfo, role: Role, ctx: Context) -> Iterator[Outcome]:
    """The checks whose verdict never changes for a certificate in a role: all but validity.
    A malformed certificate gets no further checks."""
    name, decide, words = _WELL_FORMED
    failure = decide(info, role, ctx)
    if failure is not None:
        yield _bad(info, name, failure[0], failure[1], role)
        return
    yield _ok(info, name, words(info, role, ctx), role)
    for name, decide, words in _CHECKS_BY_ROLE[role]:
        failure = decide(info, role, ctx)
        if failure is None:
            yield _ok(info, name, words(info, role, ctx), role)
        else:
            yield _bad(info, name, failure[0], failure[1], role)


def _leaf_passes(info: CertInfo, ctx: Context) -> bool:
    """True when every timeless check of a leaf surely passes: the usual end-entity
    certificate, judged in one function instead of one call per check. Each clause
    implies that its check passes (see the checks above); False decides nothing, the
    checks themselves then run. A new leaf on every handshake is judged here."""
    ku = info.key_usage
    eku = info.eku
    return (not info.malformed and not info.unhandled_critical and not info.weak_key
            and not info.weak_signature and info.version is V3 and not info.ca
            and (ku is None or (ku.digital_signature and not ku.key_cert_sign))
            and (eku is None or _USAGE_OIDS[ctx.usage] in eku))


def _first_timeless_failure(info: CertInfo, role: Role, ctx: Context) -> Outcome | None:
    """The first failure of `_timeless_checks`, without wording the checks that pass:
    every check asked in turn (`cert_failure` asks `_leaf_passes` first of a leaf)."""
    failure = _well_formed(info, role, ctx)
    if failure is not None:
        return _bad(info, _WELL_FORMED[0], failure[0], failure[1], role)
    for check in _CHECKS_BY_ROLE[role]:
        failure = check[1](info, role, ctx)
        if failure is not None:
            return _bad(info, check[0], failure[0], failure[1], role)
    return None


def _profile_outcome(info: CertInfo, role: Role, ctx: Context) -> Outcome:
    """The "cabf" profile: the first issuance rule of `lint` that ``info`` breaks."""
    for _rule, reason, detail in lint_verdicts(info, role, ctx.usage, ctx.curated_anchors):
        return _bad(info, "CA/B profile", reason, detail, role)
    return _ok(info, "CA/B profile", "follows the CA/B Forum issuance profile", role)


def cert_checks(info: CertInfo, role: Role, ctx: Context) -> Iterator[Outcome]:
    """Every check on one certificate that does not depend on the rest of the path, in
    the order `cert_failure` decides: readable at all, then the dates, then the rest."""
    if info.unparseable:
        yield from _timeless_checks(info, role, ctx)
        return
    yield _check_validity(info, ctx, role)
    yield from _timeless_checks(info, role, ctx)
    if ctx.profile == "cabf":
        yield _profile_outcome(info, role, ctx)


_UNKNOWN = Outcome.__new__(Outcome)  # sentinel: "not computed yet" in CertInfo.verdicts


def cert_failure(info: CertInfo, role: Role, ctx: Context) -> Outcome | None:
    """The first failure of `cert_checks`, fast: the timeless verdict is computed once per
    (certificate, role, usage, profile) and kept on the CertInfo; only the dates are
    compared anew. The dates come first: "expired" is what a person can act on (renew),
    and a renewed certificate usually fixes whatever else was wrong with it."""
    if not info.unparseable and not info.not_before <= ctx.at <= info.not_after:
        return _check_validity(info, ctx, role)
    key = (role, ctx.usage, ctx.require_digital_signature, ctx.profile, ctx.curated_anchors,
           ctx.handles_must_staple)
    verdict = info.verdicts.get(key, _UNKNOWN)
    if verdict is _UNKNOWN:
        # A leaf that surely passes is judged in one function, anything else by each check.
        verdict = None if role == "leaf" and _leaf_passes(info, ctx) else (
            _first_timeless_failure(info, role, ctx))
        if verdict is None and ctx.profile == "cabf":
            profile = _profile_outcome(info, role, ctx)
            verdict = None if profile.ok else profile
        info.verdicts[key] = verdict
    return verdict


def link_check(subject: CertInfo, issuer: CertInfo, role: Role, ctx: Context) -> Outcome:
    """Is ``subject`` signed by ``issuer``? (``role`` is the subject's.)"""
    failure = link_failure(subject, issuer, role, ctx)
    if failure is not None:
        return failure
    return _ok(subject, "signature", f"verified with the key of {issuer.description}"
               if ctx.collect else "verified", role)


def link_failure(subject: CertInfo, issuer: CertInfo, role: Role, ctx: Context) -> Outcome | None:
    """`link_check`'s failure, or None when the signature verifies: the path search words
    only failures (as `cert_failure` does)."""
    problem = ctx.signatures.check(subject, issuer, ctx.stats)
    if problem is None:
        return None
    return _bad(subject, "signature", Reason.bad_signature,
                f"has a signature that {issuer.description} did not make: {problem}", role)


def first_failure(outcomes: Iterator[Outcome]) -> Outcome | None:
    for outcome in outcomes:
        if not outcome.ok:
            return outcome
    return None


def role_at(index: int, path_length: int, anchored: bool) -> Role:
    if index == 0:
        return "leaf-anchor" if anchored and path_length == 1 else "leaf"
    if anchored and index == path_length - 1:
        return "anchor"
    return "intermediate"
