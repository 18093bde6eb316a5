"""The Verifier: path building, every check, hostname, revocation, and an explainable report.

``verify`` is what the TLS client calls on every handshake (it satisfies
`tlskit.verifier.CertificateVerifier`); ``explain`` runs the very same decision and also
returns every check with its verdict, for the CLI and for humans.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Literal, NamedTuple, cast

from cryptography import x509

from . import names
from .certinfo import CertInfo, Role, analyze, analyze_der
from .checks import (
    Context,
    Outcome,
    Profile,
    Usage,
    cert_checks,
    cert_failure,
    link_check,
    role_at,
)
from .constraints import path_checks
from .errors import TO_TRUST_ANCHORS, CertificateVerificationError, Reason
from .lint import Finding, findings_for
from .lru import LRUCache
from .parsed import der_of
from .path import BuildResult, Failure, PathBuilder, direct_path, takes_direct_path
from .signatures import SignatureCache, Stats
from .trust import TrustStore

log = logging.getLogger(__name__)
_CERTIFICATE = attrgetter("cert")  # a CertInfo's certificate

RevocationPolicy = Literal["off", "soft-fail", "hard-fail"]


class Check(NamedTuple):
    """One line of a report: which certificate, which check, the verdict, and why."""

    certificate: x509.Certificate
    check: str
    ok: bool
    detail: str


@dataclass
class Report:
    """The outcome of `Verifier.explain`: the chain (or the best partial one), every check
    run on it, and the error ``verify`` would raise (None when valid)."""

    chain: list[x509.Certificate]
    checks: list[Check] = field(default_factory=list)
    error: CertificateVerificationError | None = None
    # Issuance-profile warnings on the chain (see `Verifier.lint`); under the "cabf"
    # profile they are failures too, and appear in ``checks``.
    findings: list[Finding] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when the chain passed every check."""
        return self.error is None

    def checks_for(self, cert: x509.Certificate) -> list[Check]:
        """The checks made on one certificate of the chain, in order."""
        return [c for c in self.checks if c.certificate == cert]


def _utc(at: datetime | None) -> datetime:
    """Now, or the given moment in UTC; a naive datetime is taken to be UTC already.

    Truncated to the second: certificate times have one-second granularity, and a moment
    within the second that notAfter names is still that second (RFC 5280 4.1.2.5 makes
    both ends inclusive)."""
    if at is None:
        at = datetime.now(UTC)
    elif at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    elif at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    if not at.microsecond:
        return at
    # The constructor: datetime.replace with a keyword costs more than building anew.
    return datetime(at.year, at.month, at.day, at.hour, at.minute, at.second, 0, UTC)


def _error(outcome: Outcome) -> CertificateVerificationError:
    assert outcome.reason is not None
    return CertificateVerificationError(outcome.reason, outcome.message, outcome.info.cert)


@dataclass
class _Run:
    """Internal result of one validation: the path, the failing outcome, and the record."""

    path: list[CertInfo]
    anchored: bool
    failure: Outcome | None = None
    record: list[Outcome] = field(default_factory=list)
    search_failure: Outcome | None = None  # why the search stopped, if it did


class Verifier:
    """Validates TLS certificate chains against a `TrustStore`.

    One Verifier is meant to be shared by every connection: it caches parsed certificates
    and verified signatures, so validating the same chain again costs no public-key
    operation. Both caches are bounded LRUs keyed by the DER (parsed certificates also by
    object identity, see `analyze`): a dict key of bytes is compared exactly, and the
    bytes cache their own hash, so a leaf seen once is never hashed whole with SHA-256.

    ``profile="default"`` enforces what validators enforce at validation time (RFC 5280
    path validation, the Web PKI's algorithm, key, usage and name checks); ``"cabf"``
    also fails the CA/Browser Forum issuance rules that `lint` reports as warnings, and
    refuses OCSP answers from a delegated responder whose keyUsage lacks digitalSignature
    (the default, like OpenSSL, Go and Mozilla, checks its id-kp-OCSPSigning EKU only).
    ``max_intermediates``, ``max_signature_checks``, ``max_candidates`` and
    ``max_name_checks`` bound the work of one validation; a chain that needs more is
    rejected with `Reason.too_complex`, never accepted late.

    ``revocation`` is "off" (the default), "soft-fail" (a certificate is refused when
    evidence says it is revoked; no answer at all lets it through) or "hard-fail" (no
    definitive answer fails it). Evidence comes from a stapled OCSP response, ``crls``,
    the responders in the certificate's AIA (``ocsp``) and its http:// CRL distribution
    points (``fetch_crls``), each fetch bounded by ``revocation_timeout`` seconds.
    ``require_digital_signature=False`` also accepts an RSA leaf whose keyUsage allows
    keyEncipherment but not digitalSignature (usable only for TLS 1.2 RSA key transport).
    ``cache_size`` bounds the certificate and signature caches; ``max_depth`` the path
    length. ``handles_must_staple=True`` says the caller enforces OCSP Must-Staple (RFC
    7633, as `tlskit.ClientConfig` ``enforce_must_staple`` does): a leaf's critical TLS
    Feature listing only status_request is then a handled extension, not an unhandled
    critical one."""

    def __init__(
        self,
        store: TrustStore | None = None,
        revocation: RevocationPolicy = "off",
        crls: Sequence[x509.CertificateRevocationList] = (),
        max_depth: int = 8,
        *,
        require_digital_signature: bool = True,
        max_signature_checks: int = 128,
        max_candidates: int = 1024,
        fetch_crls: bool = True,
        ocsp: bool = True,
        revocation_timeout: float = 5.0,
        cache_size: int = 4096,
        profile: Profile = "default",
        max_name_checks: int = 65536,
        max_intermediates: int = 256,
        handles_must_staple: bool = False,
    ) -> None:
        if revocation not in ("off", "soft-fail", "hard-fail"):
            raise ValueError(f"revocation must be off, soft-fail or hard-fail, not {revocation!r}")
        if profile not in ("default", "cabf"):
            raise ValueError(f"profile must be 'default' or 'cabf', not {profile!r}")
        self.profile: Profile = profile
        self.max_name_checks = max_name_checks
        self.max_intermediates = max_intermediates
        self.handles_must_staple = handles_must_staple
        self.store = store if store is not None else TrustStore.default()
        self.revocation: RevocationPolicy = revocation
        self.crls = list(crls)
        self.max_depth = max_depth
        self.require_digital_signature = require_digital_signature
        self.max_signature_checks = max_signature_checks
        self.max_candidates = max_candidates
        self.stats = Stats()
        self._signatures = SignatureCache(cache_size)
        # Two entries per certificate (by DER and by identity): see `analyze`.
        self._infos: LRUCache[int | bytes, CertInfo] = LRUCache(2 * cache_size)
        # Anchor analyses, shared with every Verifier on the same store (a plain dict of
        # our own for a store-like object that has none).
        self._anchor_cache: dict[x509.Certificate, CertInfo] = getattr(
            self.store, "analyses", {})
        self._cache_size = cache_size
        self._anchor_infos: dict[x509.Name | bytes, list[CertInfo]] = {}
        self._revocation_options: dict[str, Any] = {
            "fetch_crls": fetch_crls, "ocsp": ocsp, "timeout": revocation_timeout,
            "profile": profile,
        }
        self._checker: Any = None
        self._checker_loaded = False
        self._key_transport: Verifier | None = None

    # -- public API ------------------------------------------------------------------

    def for_key_transport(self) -> Verifier:
        """This verifier for a TLS 1.2 RSA key transport handshake, where the server's key
        decrypts the premaster secret and signs nothing: an RSA leaf whose keyUsage allows
        keyEncipherment alone passes too (RFC 5246 7.4.2), as OpenSSL and browsers accept
        it. Every other check is this verifier's, and so are the caches (verdicts that
        depend on the rule are cached by it)."""
        if not self.require_digital_signature:
            return self
        sibling = self._key_transport
        if sibling is None:
            self._revocation_checker(None)  # loaded once, shared, with its caches
            sibling = copy.copy(self)
            sibling.require_digital_signature = False
            self._key_transport = sibling
        return sibling

    def verify(
        self,
        leaf: x509.Certificate,
        intermediates: Sequence[x509.Certificate] = (),
        server_name: str | None = None,
        at: datetime | None = None,
        usage: Usage = "server",
        ocsp_response: bytes | None = None,
    ) -> list[x509.Certificate]:
        """Return the validated chain, leaf first, anchor last, or raise
        CertificateVerificationError naming the culprit certificate and the failed check."""
        run = self._run(leaf, intermediates, server_name, at, usage, ocsp_response, False)
        if run.failure is not None:
            raise _error(run.failure)
        return list(map(_CERTIFICATE, run.path))  # (no comprehension frame per handshake)

    def explain(
        self,
        leaf: x509.Certificate,
        intermediates: Sequence[x509.Certificate] = (),
        server_name: str | None = None,
        at: datetime | None = None,
        usage: Usage = "server",
        ocsp_response: bytes | None = None,
    ) -> Report:
        """Validate like `verify`, never raise for a bad chain, and list every check."""
        run = self._run(leaf, intermediates, server_name, at, usage, ocsp_response, True)
        checks = [Check(o.info.cert, o.check, o.ok, o.detail) for o in run.record]
        error = _error(run.failure) if run.failure is not None else None
        findings = self._findings(run, usage)
        return Report([info.cert for info in run.path], checks, error, findings)

    def lint(
        self,
        leaf: x509.Certificate,
        intermediates: Sequence[x509.Certificate] = (),
        server_name: str | None = None,
        at: datetime | None = None,
        usage: Usage = "server",
    ) -> list[Finding]:
        """The CA/B Forum issuance rules the chain breaks, as warnings: never raises for a
        bad chain and does not change the verdict. The chain linted is the one ``verify``
        builds (or, when it fails, the best partial one), leaf first."""
        run = self._run(leaf, intermediates, server_name, at, usage, None, False)
        return self._findings(run, usage)

    def _findings(self, run: _Run, usage: Usage) -> list[Finding]:
        curated = getattr(self.store, "curated", False)
        n = len(run.path)
        return [finding for i, info in enumerate(run.path)
                for finding in findings_for(info, role_at(i, n, run.anchored), usage, curated)]

    # -- the decision ------------------------------------------------------------------

    def analyze(self, cert: x509.Certificate) -> CertInfo:
        """Parsed, pre-judged view of a certificate, cached by DER. Each analysis is filed
        under the DER (the very bytes object the analysis keeps) and under the id() of
        the object analysed: a chain parsed through `tlskit.x509.parsed` arrives as the
        same objects on every handshake and is found by identity (cryptography's hash and
        equality of a certificate cost microseconds each); another object is found by its
        DER. The entry holds the certificate, so its id is not reused while the entry
        exists, and the identity is confirmed on lookup all the same."""
        info = self._infos.get(id(cert))
        if info is not None and info.cert is cert:
            return info
        try:
            der = der_of(cert)
        except Exception:  # cannot even be re-encoded: `analyze` words it, uncached
            return analyze(cert)
        info = self._infos.get(der)
        if info is not None:
            return info
        info = analyze_der(cert, der)
        self._infos.put_all((der, id(cert)), info)
        return info

    def _anchors_named(self, name: x509.Name | bytes) -> list[CertInfo]:
        """Analyzed anchors by subject (encoded or parsed), kept for the Verifier's life
        (the store is fixed); bounded like the other caches, against hostile names."""
        infos = self._anchor_infos.get(name)
        if infos is None:
            infos = [self._analyze_anchor(cert) for cert in self.store.issuers_named(name)]
            if len(self._anchor_infos) >= self._cache_size:
                self._anchor_infos.clear()
            self._anchor_infos[name] = infos
        return infos

    def _analyze_anchor(self, cert: x509.Certificate) -> CertInfo:
        """Anchors are analyzed once per store and kept outside the LRU: a stream of new
        leaves must never evict the roots every validation ends at."""
        info = self._anchor_cache.get(cert)
        if info is None:
            info = analyze(cert)
            self._anchor_cache[cert] = info
        return info

    def _context(self, at: datetime | None, usage: Usage, collect: bool = False) -> Context:
        if usage not in ("server", "client"):
            raise ValueError(f"usage must be 'server' or 'client', not {usage!r}")
        return Context(  # by position: one per validation, and keywords cost more
            _utc(at),  # at
            usage,
            self.max_depth,
            self.require_digital_signature,
            self._signatures,  # signatures
            self.stats,
            self.max_signature_checks,
            self.max_candidates,
            collect,
            getattr(self.store, "curated", False),  # curated_anchors
            self.profile,
            self.max_name_checks,
            0,  # name_checks
            self.handles_must_staple,
        )

    def _run(
        self,
        leaf: x509.Certificate,
        intermediates: Sequence[x509.Certificate],
        server_name: str | None,
        at: datetime | None,
        usage: Usage,
        ocsp_response: bytes | None,
        collect: bool,
    ) -> _Run:
        ctx = self._context(at, usage, collect)
        leaf_info = self.analyze(leaf)
        if self.store.contains_der(leaf_info.der):
            run = _Run([leaf_info], anchored=True)
            run.failure = cert_failure(leaf_info, "leaf-anchor", ctx)
        else:
            run = self._build(leaf_info, intermediates, ctx, collect)
        if run.failure is None and server_name is not None:
            run.failure = _hostname_outcome(leaf_info, server_name, run.path, usage, False)
        if run.failure is None and self.revocation != "off":
            run.failure = self._revocation(run, ctx, ocsp_response, collect)
        elif run.failure is None and ocsp_response is not None:
            run.failure = self._staple_only(run, ctx, ocsp_response, collect)
        if collect:
            self._record(run, ctx, server_name)
        return run

    def _build(
        self,
        leaf_info: CertInfo,
        intermediates: Sequence[x509.Certificate],
        ctx: Context,
        collect: bool,
    ) -> _Run:
        """Leaf checks first (they fail on every path), then the search. When explaining, the
        search runs even after a leaf failure so the report can show the chain."""
        leaf_failure = cert_failure(leaf_info, "leaf", ctx)
        if leaf_failure is not None and not collect and not leaf_info.self_issued:
            return _Run([leaf_info], False, leaf_failure)
        if len(intermediates) > self.max_intermediates:
            # Each one is parsed before the search: the work budget starts here.
            self.stats.budget_exhausted += 1
            detail = (f"came with {len(intermediates)} other certificates; at most "
                      f"{self.max_intermediates} are considered (max_intermediates)")
            outcome = Outcome(leaf_info, "work budget", False, detail, Reason.too_complex,
                              "leaf")
            return _Run([leaf_info], False, outcome)
        anchors = None if intermediates else self._anchors_named(leaf_info.issuer_der)
        if anchors is not None and takes_direct_path(ctx, leaf_info, anchors):
            found = direct_path(ctx, leaf_info, anchors[0])
            run = _Run(found, True) if type(found) is list else _run_from(
                BuildResult(None, cast(Failure, found)), leaf_info)
        else:
            pool = [self.analyze(c) for c in intermediates]
            result = PathBuilder(ctx, self.store, pool, self._anchors_named).build(leaf_info)
            run = _run_from(result, leaf_info)
        if leaf_failure is not None and not (
                run.failure is not None and run.failure.reason is Reason.self_signed):
            # An untrusted self-signed certificate is reported as such even when it would
            # also fail as a leaf (`openssl req -x509` makes it a CA): pinning is the fix.
            run.search_failure, run.failure = run.failure, leaf_failure
        return run

    def _revocation(
        self, run: _Run, ctx: Context, ocsp_response: bytes | None, collect: bool
    ) -> Outcome | None:
        """Ask the revocation module about every non-anchor certificate of the accepted path.
        Without the module, soft-fail notes "not checked" and hard-fail fails closed."""
        checker = self._revocation_checker(ctx)
        for i, info in enumerate(run.path[:-1]):
            role = role_at(i, len(run.path), True)
            if checker is None:
                outcome = _revocation_unavailable(info, role, self.revocation)
            else:
                staple = ocsp_response if i == 0 else None
                outcome = _ask_checker(checker, info, run.path[i + 1], ctx, staple, role,
                                       self.revocation)
            if collect:
                run.record.append(outcome)
            if not outcome.ok:
                return outcome
        return None

    def _staple_only(
        self, run: _Run, ctx: Context, ocsp_response: bytes, collect: bool
    ) -> Outcome | None:
        """revocation="off" still honours an OCSP response the server stapled: the client
        asked for it (status_request), so an authentic "revoked" answer fails the leaf. A
        staple that is not usable evidence (malformed, badly signed, stale, about another
        certificate, "unknown") is ignored, as a missing staple would be: "off" asks for no
        revocation answer, and only authentic evidence may revoke."""
        if len(run.path) < 2:
            return None  # the leaf is itself an anchor: there is no issuer to check against
        try:
            from .revocation import (  # type: ignore[import-not-found,unused-ignore]
                validate_stapled_response,
            )
        except ImportError:
            return None
        leaf, issuer = run.path[0], run.path[1]
        role = role_at(0, len(run.path), True)
        try:
            status = validate_stapled_response(ocsp_response, leaf.cert, issuer.cert, ctx.at,
                                               self.profile)
        except CertificateVerificationError as exc:
            if exc.reason == Reason.revoked:
                outcome = Outcome(leaf, "revocation", False,
                                  f"failed the revocation check: {exc}", exc.reason, role)
            else:
                outcome = Outcome(leaf, "revocation", True,
                                  f"not checked (revocation checking is off); the stapled "
                                  f"OCSP response was ignored: {exc}", None, role)
        else:
            outcome = Outcome(leaf, "revocation", True, _status_words(status), None, role)
        if collect:
            run.record.append(outcome)
        return None if outcome.ok else outcome

    def _revocation_checker(self, ctx: Context | None) -> Any:
        if self._checker_loaded:
            return self._checker
        self._checker_loaded = True
        try:
            from .revocation import (  # type: ignore[import-not-found,unused-ignore]
                RevocationChecker,  # lazily: written separately, and heavier
            )
        except ImportError:
            log.warning("tlskit.x509.revocation is not available; revocation not checked")
            return None
        self._checker = RevocationChecker(self.revocation, self.crls, **self._revocation_options)
        return self._checker

    # -- the report ----------------------------------------------------------------------

    def _record(self, run: _Run, ctx: Context, server_name: str | None) -> None:
        """Every check on the final (or best failing) path, certificate by certificate, with
        the deciding failure included even if the search found it on a branch."""
        revocation = run.record
        record: list[Outcome] = []
        n = len(run.path)
        for i, info in enumerate(run.path):
            role = role_at(i, n, run.anchored)
            record.extend(cert_checks(info, role, ctx))
            if i + 1 < n:
                record.append(link_check(info, run.path[i + 1], role, ctx))
            elif role in ("anchor", "leaf-anchor"):
                record.append(Outcome(info, "trust anchor", True, "in the trust store", None,
                                      role))
        if run.anchored:
            ctx.name_checks = 0  # the same checks again: the verdict's spending is no debt
            record.extend(path_checks(run.path, ctx))
        hostname = _hostname_outcome(run.path[0], server_name, run.path, ctx.usage)
        if hostname is not None:
            record.append(hostname)
        record.extend(revocation)
        for failure in (run.search_failure, run.failure):
            if failure is not None and not any(
                o.info is failure.info and o.check == failure.check and not o.ok
                for o in record
            ):
                record.append(failure)
        run.record = record


def _run_from(result: BuildResult, leaf_info: CertInfo) -> _Run:
    """Turn a search result into a run; a self-issued leaf with no issuer is 'self_signed'."""
    if result.path is not None:
        return _Run(result.path, True)
    failure = result.failure
    assert failure is not None
    outcome = failure.outcome
    if (
        leaf_info.self_issued
        and outcome.reason in (Reason.unknown_issuer, Reason.bad_signature)
        and len(failure.path) <= 2
    ):
        outcome = Outcome(leaf_info, "issuer", False,
                          "is self-signed and not in the trust store: to trust this very "
                          "certificate (pinning), add it " + TO_TRUST_ANCHORS,
                          Reason.self_signed, "leaf")
        return _Run([leaf_info], False, outcome)
    return _Run(failure.path, failure.anchored, outcome)


def _hostname_outcome(
    leaf: CertInfo, server_name: str | None, path: list[CertInfo], usage: Usage = "server",
    collect: bool = True,
) -> Outcome | None:
    """RFC 9525 identity check on the SAN; None when no server name was given, or when it
    passes and ``collect`` is off (the fast path words only failures). On a mismatch the
    message lists the names the certificate does have."""
    if server_name is None:
        return None
    try:
        target = names.parse_server_name(server_name)
    except names.InvalidHostname as exc:
        return Outcome(leaf, "hostname", False, f"cannot match {server_name!r}: {exc}",
                       Reason.hostname_mismatch, _leaf_role(leaf, path))
    if names.match_names(leaf.dns_names, leaf.ip_addresses, target):
        return Outcome(leaf, "hostname", True, f"matches {server_name}", None,
                       _leaf_role(leaf, path)) if collect else None
    role = _leaf_role(leaf, path)
    have = ", ".join([*leaf.san_dns, *map(str, leaf.san_ips)])
    if have:
        detail = (f"is not valid for {server_name}: its names are {have}"
                  f"{_mismatch_hint(leaf.san_dns, target)}")
    else:
        cns = ", ".join(repr(cn) for cn in leaf.common_names)
        cn = (f"; its subject CN {cns} is not used to match host names (RFC 9525 6.3)"
              if cns else "")
        detail = (f"is not valid for {server_name}: it has no DNS or IP subjectAltName{cn}; "
                  f"reissue it with a subjectAltName for {server_name}")
    return Outcome(leaf, "hostname", False, detail, Reason.hostname_mismatch, role)


def _leaf_role(leaf: CertInfo, path: list[CertInfo]) -> Role:
    """The leaf's role on ``path``, for an outcome's message (a match is not worded)."""
    return "leaf-anchor" if len(path) == 1 and path[0] is leaf else "leaf"


def _mismatch_hint(san_dns: Sequence[str], target: str | names.IPAddress) -> str:
    """The two mismatches people trip over, explained: a wildcard asked to cover more
    or fewer than one label, and an IP address written as a DNS name."""
    if not isinstance(target, str):
        if str(target) in san_dns:
            return (f" ({target} is there as a DNS name; an IP address matches only an "
                    "iPAddress subjectAltName)")
        return ""
    for pattern in san_dns:
        suffix = pattern.lower().removeprefix("*.")
        if suffix != pattern.lower() and (target == suffix or target.endswith("." + suffix)):
            return (f" (a wildcard covers exactly one label: {pattern} matches "
                    f"www.{suffix}, not {suffix} or a.b.{suffix})")
    return ""


def _revocation_unavailable(info: CertInfo, role: Role, policy: str) -> Outcome:
    if policy == "hard-fail":
        return Outcome(info, "revocation", False,
                       "could not be checked for revocation: no revocation module",
                       Reason.revocation_unknown, role)
    return Outcome(info, "revocation", True, "not checked (no revocation module)", None, role)


def _ask_checker(
    checker: Any,
    info: CertInfo,
    issuer: CertInfo,
    ctx: Context,
    staple: bytes | None,
    role: Role,
    policy: str,
) -> Outcome:
    """One revocation question; the checker raises for revoked / hard-fail unknown."""
    try:
        status = checker.check(info.cert, issuer.cert, ctx.at, ocsp_response=staple)
    except CertificateVerificationError as exc:
        return Outcome(info, "revocation", False, f"failed the revocation check: {exc}",
                       exc.reason, role)
    except Exception as exc:  # a bug or network surprise in the checker must not crash TLS
        if policy == "hard-fail":
            return Outcome(info, "revocation", False,
                           f"could not be checked for revocation: {exc}",
                           Reason.revocation_unknown, role)
        return Outcome(info, "revocation", True, f"not checked ({exc}); soft-fail", None, role)
    return Outcome(info, "revocation", True, _status_words(status), None, role)


def _status_words(status: object) -> str:
    """The checker's answer in words: a plain string, or a status object with status,
    source and detail fields (what tlskit.x509.revocation returns)."""
    name = getattr(status, "status", None)
    if name is None:
        return str(status)
    source = getattr(status, "source", "")
    detail = getattr(status, "detail", "")
    words = f"{name} (source: {source})" if source and source != "none" else str(name)
    return f"{words}: {detail}" if detail else words
