"""RevocationChecker against real ``openssl ocsp`` responders on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlskit.x509.errors import Reason, describe
from tlskit.x509.revocation import RevocationCache, RevocationChecker

from .revocation_pki import (
    CertSpec,
    Issued,
    Lab,
    Route,
    add_foreign_signer,
    add_relay_leaf,
    add_status_leaves,
    assert_rejects,
    build_ocsp_response,
    issue,
    now,
    open_lab,
)

REVOKED_AT = now() - dt.timedelta(hours=3)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Responders with different signers and validity; one leaf pointing at each."""
    with open_lab(Path(tmp_path_factory.mktemp("ocsp-lab"))) as lab:
        _signers(lab)
        _leaves(lab)
        lab.database.write()
        _responders(lab)
        yield lab


def _signers(lab: Lab) -> None:
    d, inter = lab.directory, lab.intermediate
    ocsp_eku = (ExtendedKeyUsageOID.OCSP_SIGNING,)
    add_foreign_signer(lab)
    lab.signers["noeku"] = issue(d, "noeku-responder", CertSpec("Plain Server Cert"), inter)
    lab.signers["imposter"] = issue(
        d, "imposter", CertSpec("x", ca=True, subject=inter.cert.subject), None, kind="rsa"
    )
    lab.signers["expired"] = issue(
        d,
        "expired-responder",
        CertSpec(
            "Expired OCSP Responder",
            eku=ocsp_eku,
            not_before=now() - dt.timedelta(days=10),
            not_after=now() - dt.timedelta(days=1),
        ),
        inter,
    )


def _leaves(lab: Lab) -> None:
    url = lab.ocsp_url
    add_status_leaves(lab, REVOKED_AT)
    for name in ("issuer", "short", "nonext", "foreign", "noeku", "imposter", "expired"):
        lab.leaf(name, ocsp=url(name))
    lab.leaf("down", ocsp=url("down"))
    lab.leaf("fallback", ocsp=(url("down"), url("main")))
    add_relay_leaf(lab)
    lab.leaf("static", ocsp=lab.http.url("/static"))
    lab.leaf("ldap", ocsp="ldap://127.0.0.1/ocsp")
    lab.leaf("nothing")


def _responders(lab: Lab) -> None:
    delegated = lab.signers["delegated"]
    lab.start_responder("main", delegated)
    # The issuer signs for itself, names itself by key hash, and uses RSASSA-PSS.
    lab.start_responder(
        "issuer",
        lab.intermediate,
        "-nmin",
        "30",
        "-resp_key_id",
        "-rsigopt",
        "rsa_padding_mode:pss",
    )
    lab.start_responder("short", delegated, "-nmin", "1")
    # No -ndays/-nmin: the responses carry no nextUpdate. Responder named by key hash.
    lab.start_responder("nonext", delegated, "-resp_key_id")
    for name in ("foreign", "noeku", "imposter", "expired"):
        lab.start_responder(name, lab.signers[name])


def check(
    lab: Lab, name: str, policy: str = "hard-fail", at: dt.datetime | None = None, **options: object
):
    checker = RevocationChecker(policy, **options)
    return checker.check(lab.leaves[name].cert, lab.intermediate.cert, at or now())


def expect_failure(lab: Lab, name: str, reason: Reason, *fragments: str, **kw: object) -> str:
    """Run a check that must fail; assert the reason and that the message names the cert."""
    return assert_rejects(lambda: check(lab, name, **kw), lab.leaves[name].cert, reason, *fragments)


# --------------------------------------------------------------------------- answers


def test_good(lab: Lab) -> None:
    status = check(lab, "good")
    assert (status.status, status.source) == ("good", "ocsp")
    assert lab.ocsp_url("main") in status.detail


@pytest.mark.parametrize("policy", ["soft-fail", "hard-fail"])
def test_revoked_is_rejected_under_both_policies(lab: Lab, policy: str) -> None:
    message = expect_failure(
        lab,
        "revoked",
        Reason.revoked,
        "keyCompromise",
        REVOKED_AT.strftime("%Y-%m-%d %H:%M:%S"),
        f"OCSP responder {lab.ocsp_url('main')}",
        policy=policy,
    )
    assert "was revoked at" in message


def test_unknown_serial_hard_fail(lab: Lab) -> None:
    expect_failure(
        lab,
        "unknown",
        Reason.revocation_unknown,
        f"OCSP responder {lab.ocsp_url('main')} answered that the certificate is unknown",
        "no CRL distribution point",
    )


def test_unknown_serial_soft_fail_accepts(lab: Lab) -> None:
    status = check(lab, "unknown", "soft-fail")
    assert (status.status, status.source) == ("unknown", "none")
    assert "unknown to it" in status.detail


def test_issuer_signed_pss_response_by_key_id(lab: Lab) -> None:
    status = check(lab, "issuer")
    assert (status.status, status.source) == ("good", "ocsp")


def test_expired_response(lab: Lab) -> None:
    """nextUpdate is one minute out; checking ten minutes from now is past it plus skew."""
    later = now() + dt.timedelta(minutes=10)
    expect_failure(
        lab,
        "short",
        Reason.revocation_unknown,
        f"OCSP responder {lab.ocsp_url('short')} sent a response that is expired: nextUpdate",
        at=later,
    )
    assert check(lab, "short", "soft-fail", at=later).status == "unknown"
    assert check(lab, "short").status == "good"


def test_response_without_next_update_is_bounded_to_an_hour(lab: Lab) -> None:
    assert check(lab, "nonext").status == "good"
    expect_failure(
        lab,
        "nonext",
        Reason.revocation_unknown,
        "is stale: it has no nextUpdate",
        lab.ocsp_url("nonext"),
        at=now() + dt.timedelta(hours=2),
    )


def test_response_from_the_future_is_rejected(lab: Lab) -> None:
    expect_failure(
        lab,
        "good",
        Reason.revocation_unknown,
        "is not yet valid: thisUpdate",
        at=now() - dt.timedelta(hours=1),
    )


def test_no_next_update_response_is_not_cached(lab: Lab) -> None:
    cache = RevocationCache()
    check(lab, "nonext", cache=cache)
    assert len(cache) == 0


# --------------------------------------------------------------------------- wrong signers


def test_responder_from_another_ca(lab: Lab) -> None:
    expect_failure(
        lab,
        "foreign",
        Reason.revocation_unknown,
        lab.ocsp_url("foreign"),
        "Foreign OCSP Responder",
        "which is not issued by",
        "(unauthorised responder)",
    )


def test_responder_without_ocsp_signing_eku(lab: Lab) -> None:
    expect_failure(
        lab,
        "noeku",
        Reason.revocation_unknown,
        lab.ocsp_url("noeku"),
        "lacks the id-kp-OCSPSigning extended key usage",
    )


def test_imposter_with_the_issuers_name(lab: Lab) -> None:
    """Same subject as the issuer, different key: neither path may accept it."""
    expect_failure(
        lab,
        "imposter",
        Reason.revocation_unknown,
        lab.ocsp_url("imposter"),
        "has a signature that does not verify with the key of",
        "which is not issued by",
    )


def test_expired_delegated_responder(lab: Lab) -> None:
    expect_failure(
        lab,
        "expired",
        Reason.revocation_unknown,
        lab.ocsp_url("expired"),
        "Expired OCSP Responder",
        "which is not valid at",
    )


def test_wrong_signer_soft_fail_accepts_with_detail(lab: Lab) -> None:
    status = check(lab, "foreign", "soft-fail")
    assert status.status == "unknown"
    assert lab.ocsp_url("foreign") in status.detail


# --------------------------------------------------------------------------- reachability


def test_responder_down_hard_fail_names_url(lab: Lab) -> None:
    url = lab.ocsp_url("down")
    message = expect_failure(
        lab,
        "down",
        Reason.revocation_unknown,
        f"OCSP responder {url} unreachable (connection refused); no CRL distribution point",
    )
    assert message.startswith("cannot determine revocation status of")


def test_responder_down_soft_fail_accepts(lab: Lab) -> None:
    status = check(lab, "down", "soft-fail")
    assert (status.status, status.source) == ("unknown", "none")
    assert f"OCSP responder {lab.ocsp_url('down')} unreachable" in status.detail
    assert describe(lab.leaves["down"].cert) in status.detail


def test_second_responder_used_when_first_is_down(lab: Lab) -> None:
    status = check(lab, "fallback")
    assert (status.status, status.source) == ("good", "ocsp")
    assert lab.ocsp_url("main") in status.detail


def test_non_http_responder_is_not_fetched(lab: Lab) -> None:
    expect_failure(
        lab,
        "ldap",
        Reason.revocation_unknown,
        "OCSP responder ldap://127.0.0.1/ocsp is not an http:// URL",
    )


def test_no_sources_at_all(lab: Lab) -> None:
    expect_failure(
        lab,
        "nothing",
        Reason.revocation_unknown,
        "no OCSP responder URL; no CRL distribution point",
    )


def test_disabled_sources_are_reported(lab: Lab) -> None:
    expect_failure(
        lab,
        "good",
        Reason.revocation_unknown,
        "OCSP checking disabled; CRL fetching disabled",
        ocsp=False,
        fetch_crls=False,
    )


def test_policy_off_checks_nothing(lab: Lab) -> None:
    status = check(lab, "revoked", "off")
    assert (status.status, status.source) == ("unknown", "none")


def test_unknown_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown revocation policy"):
        RevocationChecker("strict")


# --------------------------------------------------------------------------- cache


def test_second_check_is_served_from_cache(lab: Lab) -> None:
    """The relay route forwards to the real responder and counts requests server-side."""
    before = lab.http.hits["/relay"]
    checker = RevocationChecker("hard-fail")
    leaf, issuer = lab.leaves["relay"].cert, lab.intermediate.cert
    assert checker.check(leaf, issuer, now()).status == "good"
    assert checker.check(leaf, issuer, now()).status == "good"
    assert lab.http.hits["/relay"] == before + 1


def test_cache_is_shared_between_checkers_and_expires(lab: Lab) -> None:
    before = lab.http.hits["/relay"]
    cache = RevocationCache()
    leaf, issuer = lab.leaves["relay"].cert, lab.intermediate.cert
    RevocationChecker("hard-fail", cache=cache).check(leaf, issuer, now())
    RevocationChecker("soft-fail", cache=cache).check(leaf, issuer, now())
    assert lab.http.hits["/relay"] == before + 1
    # Past nextUpdate (one day) the cached answer is not used: the responder is asked again.
    RevocationChecker("soft-fail", cache=cache).check(leaf, issuer, now() + dt.timedelta(days=2))
    assert lab.http.hits["/relay"] == before + 2


# --------------------------------------------------------------------------- crafted answers
# A real HTTP server answering with responses built by cryptography, for the cases openssl
# will not produce (replayed nonce, tryLater, another certificate's answer, garbage).


def _serve_static(lab: Lab, body: bytes, status: int = 200) -> None:
    lab.http.routes["/static"] = Route(
        body=body, status=status, content_type="application/ocsp-response"
    )


def _static_response(lab: Lab, **kw: object) -> bytes:
    leaf = lab.leaves["static"].cert
    return build_ocsp_response(
        leaf,
        lab.intermediate.cert,
        lab.signers["delegated"],
        next_update=now() + dt.timedelta(hours=1),
        **kw,
    )


def test_matching_nonce_is_accepted(lab: Lab) -> None:
    nonce = b"\x07" * 32
    _serve_static(lab, _static_response(lab, nonce=nonce))
    assert check(lab, "static", rng=lambda n: nonce[:n]).status == "good"


def test_absent_nonce_is_accepted(lab: Lab) -> None:
    _serve_static(lab, _static_response(lab))
    assert check(lab, "static").status == "good"


def test_mismatching_nonce_is_rejected(lab: Lab) -> None:
    _serve_static(lab, _static_response(lab, nonce=b"\x01" * 32))
    expect_failure(
        lab,
        "static",
        Reason.revocation_unknown,
        lab.http.url("/static"),
        "echoes a nonce that does not match the request",
        rng=lambda n: b"\x02" * n,
    )


def test_revoked_crafted_response_reports_reason(lab: Lab) -> None:
    when = now() - dt.timedelta(days=2)
    _serve_static(
        lab,
        _static_response(
            lab,
            status=ocsp.OCSPCertStatus.REVOKED,
            revoked_at=when,
            reason=x509.ReasonFlags.superseded,
        ),
    )
    expect_failure(lab, "static", Reason.revoked, "superseded", lab.http.url("/static"))


def _responder(lab: Lab, stem: str, kind: str = "ec",
               key_usage: x509.KeyUsage | None = None) -> Issued:
    """A delegated responder the intermediate issued (id-kp-OCSPSigning)."""
    spec = CertSpec(f"{stem} OCSP Responder", eku=(ExtendedKeyUsageOID.OCSP_SIGNING,),
                    key_usage=key_usage)
    return issue(lab.directory, stem, spec, lab.intermediate, kind=kind)


@pytest.mark.parametrize("kind", ["ed25519", "ed448"])
def test_an_eddsa_delegated_responder_is_accepted(lab: Lab, kind: str) -> None:
    """RFC 8410 signatures on a response: the algorithm is the key's own, no hash."""
    signer = _responder(lab, f"eddsa-{kind}", kind)
    _serve_static(lab, build_ocsp_response(
        lab.leaves["static"].cert, lab.intermediate.cert, signer,
        next_update=now() + dt.timedelta(hours=1)))
    assert check(lab, "static").status == "good"


def test_a_responder_whose_key_usage_lacks_digital_signature(lab: Lab) -> None:
    """A delegated responder with the id-kp-OCSPSigning EKU but a keyUsage without
    digitalSignature: OpenSSL, Go and Mozilla check only the EKU, so the default accepts
    its answer; profile "cabf" (RFC 5280 4.2.1.3 read strictly) refuses it, and a cache
    shared with a default checker does not hand it the answer the default accepted."""
    no_signing = x509.KeyUsage(False, False, True, False, False, False, False, False, False)
    signer = _responder(lab, "nosign", key_usage=no_signing)
    _serve_static(lab, build_ocsp_response(
        lab.leaves["static"].cert, lab.intermediate.cert, signer,
        next_update=now() + dt.timedelta(hours=1)))
    cache = RevocationCache()
    assert check(lab, "static", cache=cache).status == "good"
    expect_failure(lab, "static", Reason.revocation_unknown,
                   "whose key usage forbids digital signatures", profile="cabf", cache=cache)


def test_next_update_before_this_update(lab: Lab) -> None:
    """A response whose validity window is inverted is no evidence."""
    start = now() - dt.timedelta(minutes=5)
    _serve_static(lab, build_ocsp_response(
        lab.leaves["static"].cert, lab.intermediate.cert, lab.signers["delegated"],
        this_update=start, next_update=start - dt.timedelta(minutes=1)))
    expect_failure(lab, "static", Reason.revocation_unknown,
                   "has nextUpdate before thisUpdate")


def test_try_later_is_not_an_answer(lab: Lab) -> None:
    unsuccessful = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    _serve_static(lab, unsuccessful.public_bytes(serialization.Encoding.DER))
    expect_failure(lab, "static", Reason.revocation_unknown, "has response status try_later")


def test_answer_about_another_certificate(lab: Lab) -> None:
    other = build_ocsp_response(
        lab.leaves["good"].cert, lab.intermediate.cert, lab.signers["delegated"]
    )
    _serve_static(lab, other)
    expect_failure(lab, "static", Reason.revocation_unknown, "does not cover this certificate")


def test_garbage_body(lab: Lab) -> None:
    _serve_static(lab, b"<html>not ocsp</html>")
    expect_failure(
        lab,
        "static",
        Reason.revocation_unknown,
        f"OCSP responder {lab.http.url('/static')} sent a response that is not a valid OCSP",
    )


def test_http_error_status(lab: Lab) -> None:
    _serve_static(lab, b"oops", status=500)
    expect_failure(
        lab,
        "static",
        Reason.revocation_unknown,
        f"OCSP responder {lab.http.url('/static')} answered HTTP 500",
    )


def test_oversized_response(lab: Lab) -> None:
    _serve_static(lab, b"\x30" * 5000)
    expect_failure(
        lab,
        "static",
        Reason.revocation_unknown,
        "sent a response larger than 1000 bytes",
        max_response_bytes=1000,
    )


def test_unknown_critical_response_extension(lab: Lab) -> None:
    leaf, issuer, signer = (
        lab.leaves["static"].cert,
        lab.intermediate.cert,
        lab.signers["delegated"],
    )
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            leaf,
            issuer,
            hashes.SHA1(),
            ocsp.OCSPCertStatus.GOOD,
            now(),
            now() + dt.timedelta(hours=1),
            None,
            None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, signer.cert)
        .certificates([signer.cert])
        .add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00"),
            critical=True,
        )
        .sign(signer.key, hashes.SHA256())
    )
    _serve_static(lab, response.public_bytes(serialization.Encoding.DER))
    expect_failure(
        lab,
        "static",
        Reason.revocation_unknown,
        "unsupported critical extension 1.3.6.1.4.1.55555.1",
    )


def test_hard_fail_unknown_says_what_to_do(lab: Lab) -> None:
    """Project rule: an error says what to do, not only what failed."""
    message = assert_rejects(
        lambda: RevocationChecker("hard-fail", ocsp=False, fetch_crls=False).check(
            lab.leaves["good"].cert, lab.intermediate.cert, now()),
        lab.leaves["good"].cert, Reason.revocation_unknown,
        "OCSP checking disabled; CRL fetching disabled. Hard-fail rejects a certificate no "
        "source can answer for: make its OCSP responder or CRL reachable, configure its "
        "issuer's CRL (crls=...), or use soft-fail")
    assert message.endswith("or use soft-fail")
    status = RevocationChecker("soft-fail", ocsp=False, fetch_crls=False).check(
        lab.leaves["good"].cert, lab.intermediate.cert, now())
    assert status.status == "unknown" and "Hard-fail" not in status.detail
