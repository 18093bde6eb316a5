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
from tlskit.x509.checks import Profile, Usage

from .build import Case, build_all

HERE = Path(__file__).parent

# SUCCESS cases we reject on purpose: (clause, why).
_CA_LEAF = ("RFC 5280 4.2.1.9", "a certificate with basicConstraints cA=TRUE (and only "
            "keyCertSign) is never accepted as an end-entity certificate (pyca and webpki "
            "agree); upstream's webpki::ca-as-leaf expects the same rejection")
_NO_DNS_NAME = ("RFC 9525 6.3", "the leaf identifies no DNS name (only a directoryName), so it "
                "cannot match the upstream default peer name example.com")
KNOWN_REJECTED: dict[str, tuple[str, str]] = {
    "pathlen::validation-ignores-pathlen-in-leaf": _CA_LEAF,
    "rfc5280::ca-as-leaf": _CA_LEAF,
    "rfc5280::nc::permitted-dn-match": _NO_DNS_NAME,
}

# FAILURE cases the default policy accepts: each breaks a rule addressed to the issuing CA
# (RFC 5280 section 4 MUSTs on conforming CAs, the CA/B Baseline Requirements) that no
# mainstream validator enforces at validation time. `Verifier.lint` must list each one,
# and ``profile="cabf"`` must reject each one. (clause, why the default accepts)
_KEY_IDS = ("RFC 5280 4.2.1.1 / 4.2.1.2", "key identifiers are a MUST on conforming CAs; "
            "path validation (RFC 5280 6) never reads them, and OpenSSL (without "
            "-x509_strict), Go, webpki and browsers accept chains without them")
_ANCHOR = ("RFC 5280 6.1.1 (d)", "the trust anchor is the user's input: the presence of "
           "its key identifiers and the criticality of its basicConstraints are not "
           "judged, as OpenSSL (without -x509_strict) and Go take anchors")
_SERIAL = ("RFC 5280 4.1.2.2", "'certificate users SHOULD be prepared to gracefully handle' "
           "non-positive serials; the size limit binds CAs (upstream marks these "
           "pedantic-serial-number)")
_CN = ("CA/B BR 7.1.4.3", "the subject CN must repeat a SAN entry when the CA issues the "
       "certificate; RFC 9525 6.3 matches host names on the SAN only, so the CN decides "
       "nothing at validation (pyca, Go, webpki and browsers ignore it)")
_EKU = ("CA/B BR 7.1.2.7.10 / 7.1.2.7.6", "extra purposes beside serverAuth and a critical "
        "EKU are issuance rules; RFC 5280 4.2.1.12 lets the EKU be critical and lists "
        "several purposes, and pyca, Go and browsers accept them")
_ROOT = ("CA/B BR 7.1.2.1", "rules for issuing a root certificate; a trust anchor's "
         "encoding is not judged at validation (RFC 5280 6.1.1 (d))")
_SAN_CRITICAL = ("RFC 5280 4.2.1.6 / CA/B BR 7.1.2.7.12", "'SHOULD mark the subjectAltName "
                 "extension as non-critical' is addressed to CAs; trustme issues such "
                 "leaves, and OpenSSL, Go and browsers accept them")
LINT_ONLY: dict[str, tuple[str, str]] = {
    "rfc5280::aki::cross-signed-root-missing-aki": _ANCHOR,
    "rfc5280::aki::intermediate-missing-aki": _KEY_IDS,
    "rfc5280::aki::leaf-missing-aki": _KEY_IDS,
    "rfc5280::ski::intermediate-missing-ski": _KEY_IDS,
    "rfc5280::ski::root-missing-ski": _ANCHOR,
    "rfc5280::root-non-critical-basic-constraints": _ANCHOR,
    "rfc5280::eku::ee-without-eku": (
        "RFC 5280 4.2.1.12", "no EKU means any purpose; CA/B BR 7.1.2.7.10 requires "
        "serverAuth of CAs that issue TLS certificates (webpki::eku::ee-without-eku)"),
    "webpki::eku::ee-without-eku": (
        "RFC 5280 4.2.1.12", "no EKU means any purpose (the conflicting "
        "rfc5280::eku::ee-without-eku expects acceptance); pyca and Go accept"),
    "rfc5280::nc::permitted-dns-match-noncritical": (
        "CA/B BR 7.1.2.10.8", "the BRs let CAs issue nameConstraints non-critical and every "
        "mainstream validator enforces them anyway (the conflicting "
        "webpki::nc::permitted-dns-match-noncritical expects acceptance)"),
    "rfc5280::pc::ica-noncritical-pc": (
        "RFC 5280 4.2.1.11", "'conforming CAs MUST mark this extension as critical' binds "
        "the CA; tlskit does not process policies (the any-policy user set of browsers)"),
    "rfc5280::serial::negative": _SERIAL,
    "rfc5280::serial::too-long": _SERIAL,
    "rfc5280::serial::zero": _SERIAL,
    "webpki::aki::root-with-aki-all-fields": _ROOT,
    "webpki::aki::root-with-aki-missing-keyidentifier": _ROOT,
    "webpki::aki::root-with-aki-ski-mismatch": _ROOT,
    "webpki::eku::root-has-eku": _ROOT,
    "webpki::root-with-extkeyusage": _ROOT,
    "webpki::cn::cabf-cn-case-mismatch": _CN,
    "webpki::cn::cabf-cn-ipv4-hex-mismatch": _CN,
    "webpki::cn::cabf-cn-ipv4-leading-zeros-mismatch": _CN,
    "webpki::cn::cabf-cn-ipv6-non-rfc5952-mismatch": _CN,
    "webpki::cn::cabf-cn-ipv6-uncompressed-mismatch": _CN,
    "webpki::cn::cabf-cn-ipv6-uppercase-mismatch": _CN,
    "webpki::cn::cabf-cn-not-in-san": _CN,
    "webpki::cn::cabf-cn-punycode-not-in-san": _CN,
    "webpki::cn::cabf-cn-utf8-vs-punycode-mismatch": _CN,
    "webpki::eku::ee-codesigning-with-serverauth": _EKU,
    "webpki::eku::ee-emailprotection-with-serverauth": _EKU,
    "webpki::eku::ee-ocspsigning-with-serverauth": _EKU,
    "webpki::eku::ee-precertificate-with-serverauth": _EKU,
    "webpki::eku::ee-timestamping-with-serverauth": _EKU,
    "webpki::eku::ee-critical-eku": _EKU,
    "webpki::eku::ee-anyeku": _EKU,
    "webpki::eku-contains-anyeku": _EKU,
    "webpki::san-critical-with-nonempty-subject": _SAN_CRITICAL,
    "webpki::san::san-critical-with-nonempty-subject": _SAN_CRITICAL,
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


def _verifier(case: Case, profile: Profile = "default") -> Verifier:
    return Verifier(TrustStore(case.trusted), profile=profile,
                    max_depth=case.max_depth if case.max_depth is not None else 8)


def _server_name(case: Case) -> str | None:
    if case.peer_name is not None and case.peer_name[0] in ("DNS", "IP"):
        return case.peer_name[1]
    return None


def run(case: Case, profile: Profile = "default") -> CertificateVerificationError | None:
    """Validate a case the way a corpus harness drives the Verifier: the trusted
    certificates as the store, the intermediates as sent, the peer name as server name
    (DNS or IP kinds), the validation time (now when absent), SERVER or CLIENT usage."""
    if case.peer is None:
        return CertificateVerificationError(Reason.malformed, "peer certificate does not load")
    usage: Usage = "client" if case.kind == "CLIENT" else "server"
    try:
        _verifier(case, profile).verify(case.peer, case.intermediates,
                                        server_name=_server_name(case), at=case.at, usage=usage)
    except CertificateVerificationError as exc:
        return exc
    return None


def lint(case: Case) -> list[str]:
    """The rules `Verifier.lint` reports for a case's chain."""
    assert case.peer is not None
    usage: Usage = "client" if case.kind == "CLIENT" else "server"
    return [f.rule for f in _verifier(case).lint(
        case.peer, case.intermediates, server_name=_server_name(case), at=case.at,
        usage=usage)]


CASE_IDS = sorted(all_cases())


def test_catalogue_is_complete() -> None:
    cases = all_cases()
    failures = [c for c in cases.values() if c.expected == "FAILURE"]
    assert len(cases) >= 190 and len(failures) >= 130
    assert {i.split("::")[0] for i in cases} >= {
        "rfc5280", "webpki", "pathlen", "pathological", "cve", "invalid",
        "vendored/webpki", "vendored/rfc5280", "vendored/pathlen"}
    unknown = (set(KNOWN_REJECTED) | set(LINT_ONLY)) - set(cases)
    assert not unknown, f"KNOWN_REJECTED/LINT_ONLY name cases that do not exist: {unknown}"


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_limbo(case_id: str) -> None:
    case = all_cases()[case_id]
    error = run(case)
    upstream_id = case_id.removeprefix("vendored/")
    if case.expected == "FAILURE" and upstream_id in LINT_ONLY:
        assert error is None, (
            f"{case_id} is listed in LINT_ONLY but the default policy rejects it: {error}")
        assert lint(case), f"{case_id}: the lint must name the issuance rule it breaks"
        strict = run(case, "cabf")
        assert strict is not None, f"{case_id}: profile='cabf' must reject it"
        return
    if case.expected == "FAILURE":
        assert error is not None, f"{case_id}: a chain that must be rejected was accepted"
        return
    if upstream_id in KNOWN_REJECTED:
        assert error is not None, (
            f"{case_id} is listed in KNOWN_REJECTED but now passes: take it off the list")
        return
    assert error is None, f"{case_id}: rejected a valid chain: {error.reason}: {error}"


# Rejections that must happen for the stated reason, not by accident (a typo in the
# vendored bytes would also make these fail, for the wrong reason).
@pytest.mark.parametrize(("case_id", "reason", "words", "profile"), [
    ("vendored/rfc5280::mismatching-signature-algorithm", Reason.malformed,
     "signatureAlgorithm differs", "default"),
    ("rfc5280::mismatching-signature-algorithm-rebuilt", Reason.malformed,
     "signatureAlgorithm differs", "default"),
    ("vendored/webpki::explicit-curve", Reason.weak_key, "", "default"),
    ("vendored/pathlen::intermediate-pathlen-too-long", Reason.path_length_exceeded, "",
     "default"),
    ("vendored/webpki::cryptographydotio-chain-missing-intermediate", Reason.unknown_issuer,
     "add the issuing CA to the trust anchors", "default"),
    ("rfc5280::duplicate-extensions", Reason.malformed, "Duplicate", "default"),
    ("webpki::v1-cert", Reason.malformed, "v3", "default"),
    ("rfc5280::ski::critical-ski", Reason.malformed, "subjectKeyIdentifier", "default"),
    ("rfc5280::aki::critical-aki", Reason.malformed, "authorityKeyIdentifier", "default"),
    ("rfc5280::aki::leaf-missing-aki", Reason.malformed, "authorityKeyIdentifier",
     "cabf"),
    ("webpki::cn::cabf-cn-case-mismatch", Reason.hostname_mismatch, "CN", "cabf"),
    ("rfc5280::validity::notbefore-fractional", Reason.not_yet_valid, "", "default"),
])
def test_rejected_for_the_right_reason(
    case_id: str, reason: Reason, words: str, profile: Profile
) -> None:
    error = run(all_cases()[case_id], profile)
    assert error is not None and error.reason is reason, error
    assert words in str(error)
