"""x509-limbo against tlskit.x509.Verifier (see README.md in this folder).

The bar: no testcase whose expected result is FAILURE is ever accepted. A SUCCESS case we
reject is allowed only when it is listed in KNOWN_REJECTED with the clause that decides
it, and the list is kept honest: a listed case that starts passing fails the test.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest
from cryptography import x509

from tlskit.x509 import CertificateVerificationError, Reason, TrustStore, Verifier

from .build import Case, build_all

HERE = Path(__file__).parent

# SUCCESS cases we reject on purpose: (clause, why). Most come from one rule: tlskit takes
# the stricter of RFC 5280 and the CA/B Forum Baseline Requirements, and a few upstream
# SUCCESS cases are only valid under one of them.
_CA_LEAF = ("CA/B BR 7.1.2.7.8", "a certificate with basicConstraints cA=TRUE (and only "
            "keyCertSign) is never accepted as an end-entity certificate; upstream's "
            "webpki::ca-as-leaf expects the same rejection")
_CN_NOT_IN_SAN = ("CA/B BR 7.1.4.3", "the leaf's subject CN example.com (upstream's default "
                  "subject) is not one of its SAN entries")
_NO_DNS_NAME = ("RFC 9525 6.3", "the leaf identifies no DNS name (only a directoryName), so it "
                "cannot match the upstream default peer name example.com")
KNOWN_REJECTED: dict[str, tuple[str, str]] = {
    "pathlen::validation-ignores-pathlen-in-leaf": _CA_LEAF,
    "rfc5280::ca-as-leaf": _CA_LEAF,
    "rfc5280::eku::ee-without-eku": (
        "CA/B BR 7.1.2.7.10", "a TLS server certificate must list id-kp-serverAuth; the "
        "conflicting webpki::eku::ee-without-eku expects the rejection"),
    "rfc5280::nc::permitted-dn-match": _NO_DNS_NAME,
    "webpki::nc::permitted-dns-match-noncritical": (
        "RFC 5280 4.2.1.10", "nameConstraints MUST be critical; the conflicting "
        "rfc5280::nc::permitted-dns-match-noncritical expects the rejection (the CA/B BR "
        "exception is a MAY for issuers, not a must for relying parties)"),
    "webpki::leftmost-wildcard-san": _CN_NOT_IN_SAN,
    "webpki::san::leftmost-wildcard-san": _CN_NOT_IN_SAN,
    "webpki::san::exact-localhost-ip-san": _CN_NOT_IN_SAN,
    "rfc5280::nc::permitted-ipv4-match": _CN_NOT_IN_SAN,
    "rfc5280::nc::permitted-dns-match-more": _CN_NOT_IN_SAN,
    "rfc5280::nc::permitted-ipv6-match": _CN_NOT_IN_SAN,
}


def _load(pem: str) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None


def vendored_cases() -> list[Case]:
    """The upstream bytes we carry (vendored.json), as cases."""
    doc = json.loads((HERE / "vendored.json").read_text(encoding="utf-8"))
    certs = {n: _load(pem) for n, pem in doc["certificates"].items()}
    out = []
    for item in doc["cases"]:
        name = item["peer_name"]
        out.append(Case(
            id=item["id"], expected=item["expected"],
            trusted=[c for n in item["trusted"] if (c := certs[n]) is not None],
            intermediates=[c for n in item["intermediates"] if (c := certs[n]) is not None],
            peer=certs[item["peer"]],
            peer_name=(name["kind"], name["value"]) if name else None,
            at=datetime.fromisoformat(item["validation_time"]) if item["validation_time"]
            else None,
            kind=item["validation_kind"],
        ))
    return out


@cache
def all_cases() -> dict[str, Case]:
    cases = {f"vendored/{c.id}": c for c in vendored_cases()}
    cases.update({c.id: c for c in build_all()})
    return cases


def run(case: Case) -> CertificateVerificationError | None:
    """Validate a case the way a corpus harness drives the Verifier: the trusted
    certificates as the store, the intermediates as sent, the peer name as server name
    (DNS or IP kinds), the validation time (now when absent), SERVER or CLIENT usage."""
    if case.peer is None:
        return CertificateVerificationError(Reason.malformed, "peer certificate does not load")
    verifier = Verifier(TrustStore(case.trusted),
                        max_depth=case.max_depth if case.max_depth is not None else 8)
    server_name = None
    if case.peer_name is not None and case.peer_name[0] in ("DNS", "IP"):
        server_name = case.peer_name[1]
    usage = "client" if case.kind == "CLIENT" else "server"
    try:
        verifier.verify(case.peer, case.intermediates, server_name=server_name, at=case.at,
                        usage=usage)
    except CertificateVerificationError as exc:
        return exc
    return None


CASE_IDS = sorted(all_cases())


def test_catalogue_is_complete() -> None:
    cases = all_cases()
    failures = [c for c in cases.values() if c.expected == "FAILURE"]
    assert len(cases) >= 190 and len(failures) >= 130
    assert {i.split("::")[0] for i in cases} >= {
        "rfc5280", "webpki", "pathlen", "pathological", "cve", "invalid",
        "vendored/webpki", "vendored/rfc5280", "vendored/pathlen"}
    unknown = set(KNOWN_REJECTED) - set(cases)
    assert not unknown, f"KNOWN_REJECTED names cases that do not exist: {unknown}"


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_limbo(case_id: str) -> None:
    case = all_cases()[case_id]
    error = run(case)
    if case.expected == "FAILURE":
        assert error is not None, f"{case_id}: a chain that must be rejected was accepted"
        return
    upstream_id = case_id.removeprefix("vendored/")
    if upstream_id in KNOWN_REJECTED:
        assert error is not None, (
            f"{case_id} is listed in KNOWN_REJECTED but now passes: take it off the list")
        return
    assert error is None, f"{case_id}: rejected a valid chain: {error.reason}: {error}"


# Rejections that must happen for the stated reason, not by accident (a typo in the
# vendored bytes would also make these fail, for the wrong reason).
@pytest.mark.parametrize(("case_id", "reason", "words"), [
    ("vendored/rfc5280::mismatching-signature-algorithm", Reason.malformed,
     "signatureAlgorithm differs"),
    ("rfc5280::mismatching-signature-algorithm-rebuilt", Reason.malformed,
     "signatureAlgorithm differs"),
    ("vendored/webpki::explicit-curve", Reason.weak_key, ""),
    ("vendored/pathlen::intermediate-pathlen-too-long", Reason.path_length_exceeded, ""),
    ("vendored/webpki::cryptographydotio-chain-missing-intermediate", Reason.unknown_issuer, ""),
    ("rfc5280::duplicate-extensions", Reason.malformed, "Duplicate"),
    ("webpki::v1-cert", Reason.malformed, "v3"),
    ("rfc5280::ski::critical-ski", Reason.malformed, "subjectKeyIdentifier"),
    ("rfc5280::aki::leaf-missing-aki", Reason.malformed, "authorityKeyIdentifier"),
    ("webpki::cn::cabf-cn-case-mismatch", Reason.hostname_mismatch, "CN"),
    ("rfc5280::validity::notbefore-fractional", Reason.not_yet_valid, ""),
])
def test_rejected_for_the_right_reason(case_id: str, reason: Reason, words: str) -> None:
    error = run(all_cases()[case_id])
    assert error is not None and error.reason is reason, error
    assert words in str(error)
