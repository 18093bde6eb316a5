"""Revocation checking: stapled OCSP, configured CRLs, OCSP over HTTP, CRLs over HTTP.

`cryptography` parses and builds the OCSP and CRL structures and checks signatures; every
decision about what those structures *mean* is made by tlskit: `ocsp` judges OCSP responses
(stapled or fetched), `crl` judges CRLs, and this module holds the cache and
`RevocationChecker`, which asks the sources in turn under a policy. `RevocationStatus` and
`EvidenceError`, which all of them use, are defined in `evidence`. Every name in `__all__`
is still importable from here.

Decisions worth knowing (RFC 5280 section 6.3, RFC 6960, RFC 6066 section 8):

* Sources are tried in a fixed order and the first *definitive* answer (good or revoked from
  authentic, fresh, in-scope evidence) wins: stapled OCSP response, configured CRLs issued by
  the issuer, the OCSP responders named in the certificate's AIA, the CRLs named in its CRL
  distribution points. Only ``http://`` URLs are fetched: following ``https://`` would recurse
  into certificate validation, and RFC 5280 / RFC 6960 define the plain-HTTP transport.
* An OCSP "unknown" answer is not definitive: the responder is saying it does not know the
  certificate, so the CRL sources are still tried.
* A staple that is malformed, badly signed, stale or about another certificate is recorded as a
  failed source and the remaining sources are consulted. It is not treated as proof of attack:
  an attacker who can corrupt a staple can just as well remove it, and the policy is what
  decides how a missing answer is treated.
* Clock skew of `CLOCK_SKEW` (5 minutes) is tolerated in both directions on thisUpdate and
  nextUpdate, and for cached evidence.
* An OCSP response without nextUpdate (RFC 6960 section 4.2.2.1: "newer information is always
  available") is accepted for `DEFAULT_OCSP_VALIDITY` (1 hour) after its thisUpdate and is never
  cached, so the next check asks the responder again. A CRL without nextUpdate is current, as
  OpenSSL's ``verify -crl_check`` takes it, and is never cached either (a fetched one is
  fetched again on each check); profile "cabf" refuses it (RFC 5280 section 5.1.2.5 and the
  CA/B Forum Baseline Requirements require issuers to include one).
* Delta CRLs, indirect CRLs and CRLs partitioned by reason are not supported; such CRLs are
  reported as unusable (not silently treated as complete).
* An RSASSA-PSS signed OCSP response is verified by trying SHA-256, SHA-384 and SHA-512 with a
  matching MGF1: `cryptography` does not expose the response's PSS parameters. Each attempt is
  a full verification with the authorised key, so this only accepts genuine signatures.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from cryptography import x509

from . import http
from .crl import _crl_issuer_is, _crl_status, _trust_crl, load_crl
from .errors import CertificateVerificationError, Reason
from .evidence import (
    CLOCK_SKEW,
    EvidenceError,
    RevocationStatus,
    _extension,
    _key_id,
    _malformed,
    _name,
    _raise_revoked,
    _utc,
    _who,
)
from .evidence import SourceName as SourceName  # re-exported: importable from here as before
from .evidence import StatusName as StatusName
from .ocsp import (
    DEFAULT_OCSP_VALIDITY,
    NONCE_LENGTH,
    OcspEvidence,
    _ocsp_status,
    _post_ocsp_request,
    _responder_urls,
    build_ocsp_request,
    evaluate_ocsp_response,
    require_profile,
    validate_stapled_response,
)

if TYPE_CHECKING:
    from .checks import Profile

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_OCSP_VALIDITY",
    "EvidenceError",
    "OcspEvidence",
    "Policy",
    "RevocationCache",
    "RevocationChecker",
    "RevocationStatus",
    "build_ocsp_request",
    "evaluate_ocsp_response",
    "load_crl",
    "validate_stapled_response",
]

Policy = Literal["off", "soft-fail", "hard-fail"]

_POLICIES: frozenset[str] = frozenset({"off", "soft-fail", "hard-fail"})

#: What to do about a hard-fail "cannot determine": every error says how to get past it.
HARD_FAIL_ADVICE = (
    ". Hard-fail rejects a certificate no source can answer for: make its OCSP responder or "
    "CRL reachable, configure its issuer's CRL (crls=...), or use soft-fail"
)


# --------------------------------------------------------------------------- the cache

CacheValue = RevocationStatus | x509.CertificateRevocationList


@dataclass
class _CacheEntry:
    value: CacheValue
    valid_from: datetime
    valid_until: datetime


class RevocationCache:
    """Bounded LRU of revocation evidence, each entry usable only inside its validity window.

    OCSP answers are keyed by (issuer key hash, serial) and CRLs by (issuer key hash, URL); both
    expire at their nextUpdate. Shared between checkers (and threads) on purpose: one process
    should ask a responder about a certificate once per nextUpdate, not once per connection.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, _CacheEntry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, at: datetime) -> CacheValue | None:
        """The value for ``key`` if ``at`` is inside its window (with `CLOCK_SKEW`)."""
        at = _utc(at)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if at > entry.valid_until + CLOCK_SKEW:
                del self._entries[key]
                return None
            if at + CLOCK_SKEW < entry.valid_from:
                return None
            self._entries.move_to_end(key)
            return entry.value

    def put(
        self, key: Hashable, value: CacheValue, valid_from: datetime, valid_until: datetime
    ) -> None:
        with self._lock:
            self._entries[key] = _CacheEntry(value, _utc(valid_from), _utc(valid_until))
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# --------------------------------------------------------------------------- the checker


def _http_urls(urls: Iterable[str], what: str) -> tuple[list[str], list[str]]:
    """Split URLs into fetchable http:// ones and notes about the others."""
    usable: list[str] = []
    notes: list[str] = []
    for url in urls:
        if url.lower().startswith("http://"):
            usable.append(url)
        else:
            notes.append(f"{what} {url} is not an http:// URL")
    return usable, notes


def _ocsp_urls(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """The AIA's OCSP responder URLs, and no notes (every entry is usable)."""
    return _responder_urls(cert), []


def _crl_urls(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """URLs of the distribution points we can use, and notes about those we cannot."""
    found = _extension(cert.extensions, x509.CRLDistributionPoints)
    if found is None:
        return [], []
    urls: list[str] = []
    notes: list[str] = []
    for point in found.value:  # type: ignore[attr-defined]
        if point.crl_issuer or point.reasons:
            notes.append(
                "a CRL distribution point is indirect or reason-partitioned (not supported)"
            )
            continue
        urls += [
            name.value
            for name in point.full_name or []
            if isinstance(name, x509.UniformResourceIdentifier)
        ]
    return urls, notes


@dataclass
class _Query:
    """One check's question, and the notes on why each source could not answer it."""

    cert: x509.Certificate
    issuer: x509.Certificate
    at: datetime
    staple: bytes | None
    notes: list[str] = field(default_factory=list)


def _source_urls(
    q: _Query,
    find: Callable[[x509.Certificate], tuple[list[str], list[str]]],
    extension: str,
    what: str,
    none_note: str,
) -> list[str]:
    """The http:// URLs an extension of the certificate names, with notes on the rest (or
    on the extension being malformed or absent)."""
    try:
        with _malformed():
            raw_urls, found_notes = find(q.cert)
    except EvidenceError as exc:
        q.notes.append(f"the certificate's {extension} extension {exc}")
        return []
    urls, url_notes = _http_urls(raw_urls, what)
    q.notes.extend(found_notes + url_notes)
    if not raw_urls and not found_notes:
        q.notes.append(none_note)
    return urls


class RevocationChecker:
    """Decides whether a certificate is revoked, under a policy.

    ``policy``: "off" checks nothing; "soft-fail" accepts when no source can answer and rejects
    revoked certificates; "hard-fail" also rejects when no source can answer.
    ``crls``: CRLs the caller already has (used when issued by the certificate's issuer).
    ``fetch_crls`` / ``ocsp``: whether to use the certificate's CRL distribution points / AIA
    OCSP responders. ``timeout`` bounds each fetch; ``cache`` may be shared between checkers
    (a private one is made otherwise); ``rng`` makes OCSP nonces (tests inject it).
    ``profile`` is the `Verifier`'s: "cabf" also refuses a delegated OCSP responder whose
    keyUsage lacks digitalSignature (its answers are cached apart from the default's) and a
    CRL without nextUpdate (such a CRL is never cached).
    """

    def __init__(
        self,
        policy: Policy = "off",
        crls: Sequence[x509.CertificateRevocationList] = (),
        *,
        fetch_crls: bool = True,
        ocsp: bool = True,
        timeout: float = 5.0,
        cache: RevocationCache | None = None,
        rng: Callable[[int], bytes] = os.urandom,
        max_response_bytes: int = http.MAX_RESPONSE_BYTES,
        profile: Profile = "default",
    ) -> None:
        if policy not in _POLICIES:
            raise ValueError(f"unknown revocation policy {policy!r}")
        require_profile(profile)
        self.policy = policy
        self.crls = tuple(crls)
        self.fetch_crls = fetch_crls
        self.ocsp = ocsp
        self.timeout = timeout
        self.cache = cache if cache is not None else RevocationCache()
        self.rng = rng
        self.max_response_bytes = max_response_bytes
        self.profile: Profile = profile

    def check(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        at: datetime,
        ocsp_response: bytes | None = None,
    ) -> RevocationStatus:
        """Return "good" (or "unknown" under soft-fail), or raise `CertificateVerificationError`
        with `Reason.revoked` / `Reason.revocation_unknown`. The message names the certificate
        and every source tried, with why it failed."""
        if self.policy == "off":
            return RevocationStatus("unknown", "none", "revocation checking is off")
        q = _Query(cert, issuer, _utc(at), ocsp_response)
        sources = (self._from_staple, self._from_crl_list, self._from_ocsp, self._from_crl_dp)
        for source in sources:
            status = source(q)
            if status is not None:
                if status.status == "revoked":
                    _raise_revoked(cert, status)
                return status
        return self._undetermined(cert, q.notes)

    def _undetermined(self, cert: x509.Certificate, notes: list[str]) -> RevocationStatus:
        message = f"cannot determine revocation status of {_who(cert)}: " + "; ".join(notes)
        if self.policy == "hard-fail":
            raise CertificateVerificationError(
                Reason.revocation_unknown, message + HARD_FAIL_ADVICE, cert)
        return RevocationStatus("unknown", "none", message)

    # Each source returns a definitive status or None after appending why it could not answer
    # to ``q.notes``.

    def _from_staple(self, q: _Query) -> RevocationStatus | None:
        if q.staple is None:
            return None
        try:
            evidence = evaluate_ocsp_response(q.staple, q.cert, q.issuer, q.at,
                                              profile=self.profile)
        except EvidenceError as exc:
            q.notes.append(f"stapled OCSP response {exc}")
            return None
        if evidence.status == "unknown":
            q.notes.append("stapled OCSP response says status unknown")
            return None
        return _ocsp_status(evidence, "staple", "the stapled OCSP response")

    def _from_crl_list(self, q: _Query) -> RevocationStatus | None:
        if not self.crls:
            return None
        mine = [crl for crl in self.crls if _crl_issuer_is(crl, q.issuer)]
        if not mine:
            q.notes.append(f"no configured CRL is issued by '{_name(q.issuer.subject)}'")
            return None
        answers: list[RevocationStatus] = []
        label = f"the configured CRL from '{_name(q.issuer.subject)}'"
        for crl in mine:
            try:
                with _malformed():
                    _trust_crl(crl, q.issuer, q.at, self.profile)
                    answers.append(_crl_status(crl, q.cert, label))
            except EvidenceError as exc:
                q.notes.append(f"configured CRL from '{_name(q.issuer.subject)}' {exc}")
        for answer in answers:
            if answer.status == "revoked":
                return answer
        return answers[0] if answers else None

    def _from_ocsp(self, q: _Query) -> RevocationStatus | None:
        if not self.ocsp:
            q.notes.append("OCSP checking disabled")
            return None
        cached = self.cache.get(_ocsp_cache_key(q.cert, q.issuer, self.profile), q.at)
        if isinstance(cached, RevocationStatus):
            return cached
        urls = _source_urls(q, _ocsp_urls, "authority information access", "OCSP responder",
                            "no OCSP responder URL")
        for url in urls:
            status = self._ask_responder(url, q)
            if status is not None:
                return status
        return None

    def _ask_responder(self, url: str, q: _Query) -> RevocationStatus | None:
        label = f"OCSP responder {url}"
        nonce = self.rng(NONCE_LENGTH)
        try:
            body = self._fetch(url, build_ocsp_request(q.cert, q.issuer, nonce))
            evidence = evaluate_ocsp_response(body, q.cert, q.issuer, q.at, nonce=nonce,
                                              profile=self.profile)
        except (http.HttpError, EvidenceError) as exc:
            sep = " " if isinstance(exc, http.HttpError) else " sent a response that "
            q.notes.append(f"{label}{sep}{exc}")
            return None
        if evidence.status == "unknown":
            q.notes.append(f"{label} answered that the certificate is unknown to it")
            return None
        status = _ocsp_status(evidence, "ocsp", label)
        if evidence.next_update is not None:
            self.cache.put(_ocsp_cache_key(q.cert, q.issuer, self.profile), status,
                           evidence.this_update, evidence.next_update)
        return status

    def _from_crl_dp(self, q: _Query) -> RevocationStatus | None:
        if not self.fetch_crls:
            q.notes.append("CRL fetching disabled")
            return None
        urls = _source_urls(q, _crl_urls, "CRL distribution points", "CRL",
                            "no CRL distribution point")
        for url in urls:
            label = f"CRL {url}"
            try:
                with _malformed():
                    crl = self._crl_from(url, q.issuer, q.at)
                    return _crl_status(crl, q.cert, label)
            except (http.HttpError, EvidenceError) as exc:
                q.notes.append(f"{label} {exc}")
        return None

    def _crl_from(
        self, url: str, issuer: x509.Certificate, at: datetime
    ) -> x509.CertificateRevocationList:
        """A trusted, current CRL from ``url``: from the cache, or fetched and checked."""
        key = ("crl", _key_id(issuer.public_key()), url)
        cached = self.cache.get(key, at)
        if isinstance(cached, x509.CertificateRevocationList):
            return cached
        crl = load_crl(self._fetch(url, None))
        this_update, next_update = _trust_crl(crl, issuer, at, self.profile)
        if next_update is not None:  # one without nextUpdate is fetched again next time
            self.cache.put(key, crl, this_update, next_update)
        return crl

    def _fetch(self, url: str, ocsp_request: bytes | None) -> bytes:
        """GET a CRL (following http:// redirects) or POST an OCSP request; only a 200 answer
        counts."""
        if ocsp_request is None:
            return http.ok_body(http.get_following_redirects(
                url, timeout=self.timeout, max_bytes=self.max_response_bytes))
        return _post_ocsp_request(url, ocsp_request, self.timeout, self.max_response_bytes)


def _ocsp_cache_key(cert: x509.Certificate, issuer: x509.Certificate,
                    profile: Profile = "default") -> tuple[str, bytes, int]:
    """OCSP answers are cached per issuer key and serial (RFC 6960 CertID); a "cabf"
    checker's apart, since it refuses some responders the default accepts."""
    return ("ocsp" if profile == "default" else f"ocsp-{profile}",
            _key_id(issuer.public_key()), cert.serial_number)
