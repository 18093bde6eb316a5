"""Certificate path building and the RFC 5280 section 6 checks.

Validation has three layers, each in its own module and usable on its own:

1. `analyze` (in `certinfo`) turns a certificate into a `CertInfo`: the DER split once by
   a small reader of our own (`der`), every extension parsed once, every path-independent
   defect (malformed encoding, unknown critical extension, weak key, weak signature
   algorithm, profile violations) found once. Infos are cached by DER, so a validator that
   sees the same intermediates on every handshake parses them once.
2. Check functions decide (`checks` for one certificate and one link, with signatures
   verified and cached by `signatures`; `constraints` for path length and name
   constraints); `cert_failure` asks them for the first failure (fast, no words for checks
   that pass), `cert_checks`/`link_check`/`path_checks` yield an `Outcome` for every check
   for ``explain``. Both ask the very same decision functions, so the report can never
   disagree with the verdict.
3. `PathBuilder` (this module) searches depth first from the leaf towards any trust anchor,
   pruning a branch as soon as a certificate on it fails, backtracking to alternatives
   (cross-signs, re-issued intermediates), and keeping the most relevant failure for the
   error.

This module also re-exports the public names of the other layers, so ``from
tlskit.x509.path import X`` keeps working for all of them.

Decisions (each one is a place where RFC 5280 leaves room or the Web PKI is stricter).

* Two policies. The default enforces what the Web PKI's validators (browsers, OpenSSL, Go,
  webpki, pyca) enforce at validation time: RFC 5280 path validation, signature algorithms,
  key sizes, validity, basicConstraints and pathLen, keyUsage/EKU, name constraints, RFC
  9525 host names on the SAN, critical extensions. Rules addressed to the CA that issues a
  certificate (RFC 5280 section 4 MUSTs on conforming CAs that section 6 never reads, the
  CA/B Baseline Requirements: a CN repeated in the SAN, SAN, EKU and CA basicConstraints
  criticality, key identifiers, serial numbers, EKU presence and extra purposes, root encodings) are
  reported by `lint` and enforced only with ``profile="cabf"``. Where the default differs
  from pyca or Go's crypto/x509 it is written down, with the clause, in
  tests/x509/test_differential.py and test_differential_go.py.
* Trust anchors are certificates the user chose: their own self-signature and their
  encoding (key identifiers, criticality of basicConstraints and nameConstraints) are not
  judged; their validity period, key strength, cA, keyUsage keyCertSign, EKU,
  pathLenConstraint and nameConstraints are (RFC 5937 style), since a root that says it is
  not a CA or has expired should not vouch for anything. A v1 anchor (no extensions at
  all) is still a CA. The lint names their encoding quirks, except for a curated store
  (`TrustStore.curated`: a root program's bundle), whose roots predate the rules.
* A leaf whose exact DER is in the trust store is accepted as a one-certificate path for
  its own names (RFC 5280 6.1 allows the target to be a trust anchor): pinning. It may be
  a CA (``openssl req -x509`` makes one); every other leaf check still applies.
* Structure (RFC 5280 4.1, 4.2): the outer signatureAlgorithm must equal the TBS
  signature field byte for byte; an extension may appear once; below the anchor, AKI and
  SKI are not critical, a CA has a non-empty subject;
  an empty subject needs a critical SAN and a SAN is never empty; nameConstraints appear
  only in CA certificates, with well-formed subtrees (a non-critical one is still obeyed).
* End-entity: a v3 certificate that is not a CA and does not assert keyCertSign; with an
  EKU, a TLS server certificate lists serverAuth (no EKU means any use, RFC 5280
  4.2.1.12). A SAN dNSName that is not a well-formed host or ``*.`` wildcard name never
  matches anything; the subject CN is never matched (RFC 9525 6.3).
* Work budgets: at most ``max_intermediates`` certificates sent along, and per validation
  ``max_signature_checks`` signatures, ``max_candidates`` issuer candidates and
  ``max_name_checks`` name-constraint comparisons (charged before they are made). A chain
  that needs more is rejected as too_complex, never accepted late.
* Failures are ranked for the person who reads them: a certificate's dates come before its
  other checks (renewing is what they can do), a concrete defect beats a same-name decoy's
  bad signature, which beats running out of depth, which beats a decoy whose key
  identifier shows it is not the issuer, which beats an unknown issuer; an untrusted
  self-signed leaf is reported as such (pin it).
* Names chain by their encoding (byte equality, as most validators do); only when no
  candidate matches that way are parsed names compared (RFC 5280 7.1 equivalence, e.g.
  the same name in another string type). Validity is compared at one-second granularity.
* Name constraints cover dNSName, iPAddress, rfc822Name, uniformResourceIdentifier and
  directoryName. A constraint on any other name form rejects a certificate below it that
  carries that form (RFC 5280 4.2.1.10: "process the constraint or reject"). A name that
  is not even well-formed for its form (a dNSName with an empty label, an iPAddress that
  is a range, an rfc822Name with two '@') is outside every constraint on that form. The
  subject CN of the leaf is checked as a dNSName only when it looks like one and there
  is no SAN.
* Certificate policies are recognised (so a critical policy extension is not "unknown")
  but not processed: the user-initial-policy-set is any-policy and explicit policy is not
  required, as in every browser.
* Path length counts non-self-issued intermediates (RFC 5280 6.1.4 (l)); ``max_depth``
  bounds the number of intermediates between leaf and anchor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509

from .certinfo import KNOWN_EXTENSIONS, MIN_RSA_BITS, CertInfo, Role, analyze, oid_name
from .checks import (
    BudgetExhausted,
    Check,
    Context,
    Decide,
    Outcome,
    Usage,
    Verdict,
    Words,
    _bad,
    cert_checks,
    cert_failure,
    first_failure,
    link_check,
    link_failure,
    role_at,
)
from .constraints import path_checks, path_failure
from .der import CertificateDER, DERError, common_names_of, read_tlv, split_certificate
from .errors import TO_TRUST_ANCHORS, Reason
from .lru import LRUCache
from .signatures import SignatureCache, Stats, verify_signature
from .trust import TrustStore

__all__ = [
    "KNOWN_EXTENSIONS",
    "MIN_RSA_BITS",
    "BuildResult",
    "CertInfo",
    "CertificateDER",
    "Check",
    "Context",
    "DERError",
    "Decide",
    "Failure",
    "LRUCache",
    "Outcome",
    "PathBuilder",
    "Role",
    "SignatureCache",
    "Stats",
    "Usage",
    "Verdict",
    "Words",
    "analyze",
    "cert_checks",
    "cert_failure",
    "common_names_of",
    "first_failure",
    "link_check",
    "link_failure",
    "oid_name",
    "path_checks",
    "path_failure",
    "read_tlv",
    "role_at",
    "split_certificate",
    "verify_signature",
]


# ---------------------------------------------------------------------------------------
# Layer 3: path building


@dataclass
class Failure:
    """A failed attempt: the outcome and the path it happened on (last element included)."""

    outcome: Outcome
    path: list[CertInfo]
    anchored: bool = False  # the path's last certificate is a trust anchor

    @property
    def rank(self) -> tuple[int, int]:
        """Relevance: a concrete defect beats a signature mismatch (usually a same-name
        decoy), which beats running out of depth, which beats finding no issuer at all;
        among equals, the attempt that got further wins. A mismatch from a candidate whose
        subjectKeyIdentifier differs from the child's authorityKeyIdentifier was never the
        issuer (a self-issued key rollover shares the name): running out of depth on the
        real issuer says more."""
        reason = self.outcome.reason
        assert reason is not None
        if reason is Reason.bad_signature and self._key_ids_disagree():
            return 1, len(self.path)
        order = {Reason.unknown_issuer: 0, Reason.path_too_long: 2, Reason.bad_signature: 3}
        return order.get(reason, 4), len(self.path)

    def _key_ids_disagree(self) -> bool:
        if len(self.path) < 2:
            return False
        child, candidate = self.path[-2], self.path[-1]
        return bool(child.aki and candidate.ski and child.aki != candidate.ski)


@dataclass
class BuildResult:
    path: list[CertInfo] | None
    failure: Failure | None


class PathBuilder:
    """Depth-first search from the leaf to a trust anchor, with backtracking.

    Bounded three ways: a certificate (by subject and key) appears at most once on a path,
    a path has at most ``max_depth`` intermediates, and the whole search may evaluate at
    most ``max_signature_checks`` signatures and ``max_candidates`` candidates. Within
    those bounds it finds a valid path whenever one exists."""

    def __init__(
        self,
        ctx: Context,
        store: TrustStore,
        intermediates: list[CertInfo],
        anchors_named: Callable[[x509.Name | bytes], list[CertInfo]],
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.anchors_named = anchors_named
        self.pool: dict[bytes, list[CertInfo]] = {}
        seen: set[bytes] = set()
        for info in intermediates:
            if info.der in seen or store.contains_der(info.der):
                continue  # duplicates and anchors sent along add nothing
            seen.add(info.der)
            self.pool.setdefault(info.subject_der, []).append(info)
        self._parsed: dict[x509.Name, list[CertInfo]] | None = None
        self.best: Failure | None = None
        # Budgets count this search only: the shared Stats move with other threads' work.
        self.signature_checks = 0
        self.candidates = 0

    def _note(self, outcome: Outcome, path: list[CertInfo], anchored: bool = False) -> None:
        failure = Failure(outcome, path, anchored)
        if self.best is None or failure.rank > self.best.rank:
            self.best = failure

    def _ordered(self, child: CertInfo, options: list[CertInfo]) -> list[CertInfo]:
        """Try likely issuers first: key identifiers agree, then currently valid."""
        def key(info: CertInfo) -> tuple[bool, bool]:
            aki_mismatch = bool(child.aki and info.ski and child.aki != info.ski)
            current = info.not_before <= self.ctx.at <= info.not_after
            return aki_mismatch, not current
        return sorted(options, key=key)

    def _candidates(self, child: CertInfo) -> list[tuple[CertInfo, bool]]:
        """Anchors, then intermediates, whose subject is the child's issuer. Names are
        compared as encoded; only when that finds nothing are they compared as parsed
        names (RFC 5280 7.1: the same name in another string type still chains)."""
        anchors = self.anchors_named(child.issuer_der)
        pool = self.pool.get(child.issuer_der, [])
        if not anchors and not pool:
            anchors = self.anchors_named(child.issuer)
            pool = self._by_parsed_name().get(child.issuer, [])
        if len(anchors) + len(pool) == 1:
            return [(anchors[0], True)] if anchors else [(pool[0], False)]
        return [(a, True) for a in self._ordered(child, anchors)] + [
            (p, False) for p in self._ordered(child, pool)
        ]

    def _by_parsed_name(self) -> dict[x509.Name, list[CertInfo]]:
        """The pool by parsed subject, built once, on the first fallback lookup: scanning
        the pool on every lookup would cost candidates times pool size."""
        if self._parsed is None:
            self._parsed = {}
            for infos in self.pool.values():
                for info in infos:
                    self._parsed.setdefault(info.subject, []).append(info)
        return self._parsed

    def _spend(self) -> None:
        self.candidates += 1
        self.ctx.stats.candidates += 1
        if self.signature_checks >= self.ctx.max_signature_checks:
            raise BudgetExhausted(f"{self.signature_checks} signature checks (limit "
                                  f"{self.ctx.max_signature_checks}, max_signature_checks)")
        if self.candidates > self.ctx.max_candidates:
            raise BudgetExhausted(f"{self.ctx.max_candidates} issuer candidates "
                                  f"(max_candidates)")

    def build(self, leaf: CertInfo) -> BuildResult:
        """Search; a spent budget rejects the chain (too_complex), whatever was seen so
        far: a path found after the budget would have been found by luck of ordering."""
        try:
            path = self._extend([leaf], {leaf.loop_key}, 0)
        except BudgetExhausted as exc:
            self.ctx.stats.budget_exhausted += 1
            seen = ""
            if self.best is not None and self.best.rank[0] > 0:
                seen = (f"; the most relevant problem seen before stopping: "
                        f"{self.best.outcome.message}")
            detail = (f"could not be validated within the work budget of one validation: "
                      f"the chain needed more than {exc}{seen}")
            outcome = _bad(leaf, "work budget", Reason.too_complex, detail, "leaf")
            return BuildResult(None, Failure(outcome, [leaf]))
        return BuildResult(path, None if path else self.best)

    def _extend(
        self, path: list[CertInfo], on_path: set[tuple[bytes, bytes]], intermediates: int
    ) -> list[CertInfo] | None:
        child = path[-1]
        child_role: Role = "leaf" if len(path) == 1 else "intermediate"
        candidates = self._candidates(child)
        if not candidates:
            self._note(_unknown_issuer(child, child_role), path)
            return None
        for candidate, is_anchor in candidates:
            if candidate.loop_key in on_path:
                continue
            self._spend()
            found = self._try(path, candidate, is_anchor, on_path, intermediates)
            if found is not None:
                return found
        if self.best is None:
            self._note(_unknown_issuer(child, child_role), path)
        return None

    def _try(
        self,
        path: list[CertInfo],
        candidate: CertInfo,
        is_anchor: bool,
        on_path: set[tuple[bytes, bytes]],
        intermediates: int,
    ) -> list[CertInfo] | None:
        child_role: Role = "leaf" if len(path) == 1 else "intermediate"
        new_path = [*path, candidate]
        self.signature_checks += 1
        link = link_failure(path[-1], candidate, child_role, self.ctx)
        if link is not None:
            self._note(link, new_path, is_anchor)
            return None
        role: Role = "anchor" if is_anchor else "intermediate"
        problem = cert_failure(candidate, role, self.ctx)
        if problem is not None:
            self._note(problem, new_path, is_anchor)
            return None
        if is_anchor:
            problem = path_failure(new_path, self.ctx)
            if problem is not None:
                self._note(problem, new_path, True)
                return None
            return new_path
        if intermediates + 1 > self.ctx.max_depth:
            detail = (f"would be intermediate number {intermediates + 1}, beyond the maximum "
                      f"path depth of {self.ctx.max_depth}; raise Verifier(max_depth=...) if "
                      f"chains this long are expected")
            self._note(_bad(candidate, "path depth", Reason.path_too_long, detail, role),
                       new_path)
            return None
        return self._extend(new_path, on_path | {candidate.loop_key}, intermediates + 1)


def direct_path(ctx: Context, leaf: CertInfo, anchor: CertInfo) -> list[CertInfo] | Failure:
    """`PathBuilder.build` for a leaf sent alone whose one issuer candidate is ``anchor``
    (the common shape: a leaf signed by a root), without the search machinery: the path
    it finds, or the failure it reports. The caller has checked what makes the search
    take exactly this step (see `takes_direct_path`); the checks, their order, the stats
    and the failure reported are the search's."""
    ctx.stats.candidates += 1  # `PathBuilder._spend` for the one candidate
    path = [leaf, anchor]
    failure = link_failure(leaf, anchor, "leaf", ctx)
    if failure is None:
        failure = cert_failure(anchor, "anchor", ctx)
        if failure is None:
            failure = path_failure(path, ctx)
            if failure is None:
                return path
    return Failure(failure, path, True)


def takes_direct_path(ctx: Context, leaf: CertInfo, anchors: list[CertInfo]) -> bool:
    """Would the search, for a leaf sent without intermediates whose issuer name (as
    encoded) names ``anchors``, try exactly one anchor and nothing else, with no budget
    able to run out? Then `direct_path` gives its answer."""
    if len(anchors) != 1 or ctx.max_signature_checks < 1 or ctx.max_candidates < 1:
        return False
    anchor = anchors[0]
    # Name constraints may spend the name-check budget (the search words running out);
    # an anchor with the leaf's subject and key is skipped by the search (no pair twice).
    return anchor.name_constraints is None and anchor.loop_key != leaf.loop_key


def _unknown_issuer(info: CertInfo, role: Role) -> Outcome:
    issuer = info.issuer.rfc4514_string() or "(empty)"
    return _bad(info, "issuer", Reason.unknown_issuer,
                f"was issued by '{issuer}', which is neither a trust anchor nor a usable "
                f"intermediate that was provided: add the issuing CA {TO_TRUST_ANCHORS}, or "
                f"the server should send its intermediate certificate", role)
