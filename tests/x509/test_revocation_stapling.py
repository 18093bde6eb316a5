"""Stapled OCSP responses: client-side validation and the server-side `OcspStapler`."""

from __future__ import annotations

import datetime as dt
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from tlskit.x509.errors import CertificateVerificationError, Reason, describe
from tlskit.x509.revocation import RevocationChecker, build_ocsp_request
from tlskit.x509.stapling import OcspStapler, validate_stapled_response

from .revocation_pki import (
    Issued,
    Lab,
    add_foreign_signer,
    add_relay_leaf,
    add_status_leaves,
    assert_rejects,
    build_ocsp_response,
    now,
    open_lab,
)

REVOKED_AT = now() - dt.timedelta(hours=5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with open_lab(Path(tmp_path_factory.mktemp("staple-lab"))) as lab:
        add_status_leaves(lab, REVOKED_AT)
        lab.leaf("down", ocsp=lab.ocsp_url("down"))
        add_relay_leaf(lab)
        lab.leaf("none")
        add_foreign_signer(lab)
        lab.database.write()
        lab.start_responder("main", lab.signers["delegated"])
        yield lab


def fetch_staple(lab: Lab, name: str) -> bytes:
    """What a server would staple: the real responder's answer to a nonce-less request."""
    leaf = lab.leaves[name].cert
    request = urllib.request.Request(
        lab.ocsp_url("main"),
        data=build_ocsp_request(leaf, lab.intermediate.cert, None),
        headers={"Content-Type": "application/ocsp-request"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as answer:
        return answer.read()


def crafted(lab: Lab, name: str, signer: Issued | None = None, **kw: object) -> bytes:
    return build_ocsp_response(
        lab.leaves[name].cert, lab.intermediate.cert, signer or lab.signers["delegated"], **kw
    )


def staple_fails(lab: Lab, name: str, staple: bytes, reason: Reason, *fragments: str) -> None:
    leaf = lab.leaves[name].cert
    assert_rejects(
        lambda: validate_stapled_response(staple, leaf, lab.intermediate.cert, now()),
        leaf,
        reason,
        *fragments,
    )


# --------------------------------------------------------------------------- validation


def test_valid_staple_from_openssl(lab: Lab) -> None:
    staple = fetch_staple(lab, "good")
    status = validate_stapled_response(
        staple, lab.leaves["good"].cert, lab.intermediate.cert, now()
    )
    assert (status.status, status.source) == ("good", "staple")
    assert "stapled OCSP response" in status.detail


def test_revoked_staple(lab: Lab) -> None:
    staple_fails(
        lab,
        "revoked",
        fetch_staple(lab, "revoked"),
        Reason.revoked,
        "according to the stapled OCSP response",
        "keyCompromise",
        REVOKED_AT.strftime("%Y-%m-%d %H:%M:%S"),
    )


def test_unknown_staple(lab: Lab) -> None:
    staple_fails(
        lab,
        "unknown",
        fetch_staple(lab, "unknown"),
        Reason.revocation_unknown,
        "stapled OCSP response says the responder does not know the certificate",
    )


def test_staple_for_another_certificate(lab: Lab) -> None:
    staple_fails(
        lab,
        "down",
        fetch_staple(lab, "good"),
        Reason.revocation_unknown,
        "stapled OCSP response does not cover this certificate",
    )


def test_garbage_staple(lab: Lab) -> None:
    staple_fails(
        lab,
        "good",
        b"\x30\x03\x0a\x01\x00",
        Reason.revocation_unknown,
        "stapled OCSP response is not a valid OCSP response",
    )


def test_unsuccessful_staple(lab: Lab) -> None:
    der = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
    staple_fails(
        lab,
        "good",
        der.public_bytes(Encoding.DER),
        Reason.revocation_unknown,
        "stapled OCSP response has response status internal_error",
    )


def test_expired_staple(lab: Lab) -> None:
    old = now() - dt.timedelta(days=2)
    staple = crafted(lab, "good", this_update=old, next_update=old + dt.timedelta(days=1))
    staple_fails(lab, "good", staple, Reason.revocation_unknown, "stapled OCSP response is expired")


def test_staple_signed_by_foreign_responder(lab: Lab) -> None:
    staple = crafted(lab, "good", signer=lab.signers["foreign"])
    staple_fails(
        lab,
        "good",
        staple,
        Reason.revocation_unknown,
        "Foreign OCSP Responder",
        "(unauthorised responder)",
    )


def test_staple_with_a_nonce_is_fine(lab: Lab) -> None:
    staple = crafted(lab, "good", nonce=b"n" * 16, next_update=now() + dt.timedelta(hours=1))
    leaf = lab.leaves["good"].cert
    assert validate_stapled_response(staple, leaf, lab.intermediate.cert, now()).status == "good"


def test_staple_without_included_responder_certificate(lab: Lab) -> None:
    staple = crafted(lab, "good", include_signer=False)
    staple_fails(
        lab,
        "good",
        staple,
        Reason.revocation_unknown,
        "neither the issuer nor a certificate included in the response",
    )


# --------------------------------------------------------------------------- checker + staple


def _check(lab: Lab, name: str, staple: bytes | None, policy: str = "hard-fail"):
    checker = RevocationChecker(policy)
    return checker.check(lab.leaves[name].cert, lab.intermediate.cert, now(), staple)


def test_good_staple_needs_no_network(lab: Lab) -> None:
    """The leaf's responder is down; a good staple answers before it is asked."""
    staple = crafted(lab, "down", next_update=now() + dt.timedelta(hours=1))
    status = _check(lab, "down", staple)
    assert (status.status, status.source) == ("good", "staple")


def test_revoked_staple_wins(lab: Lab) -> None:
    staple = crafted(
        lab,
        "good",
        status=ocsp.OCSPCertStatus.REVOKED,
        revoked_at=REVOKED_AT,
        next_update=now() + dt.timedelta(hours=1),
    )
    with pytest.raises(CertificateVerificationError) as caught:
        _check(lab, "good", staple, "soft-fail")
    assert caught.value.reason is Reason.revoked
    assert "stapled OCSP response" in str(caught.value)


def test_bad_staple_falls_back_to_responder(lab: Lab) -> None:
    status = _check(lab, "good", b"junk")
    assert (status.status, status.source) == ("good", "ocsp")


def test_bad_staple_and_dead_responder_lists_both(lab: Lab) -> None:
    with pytest.raises(CertificateVerificationError) as caught:
        _check(lab, "down", fetch_staple(lab, "good"))
    message = str(caught.value)
    assert caught.value.reason is Reason.revocation_unknown
    assert describe(lab.leaves["down"].cert) in message
    assert "stapled OCSP response does not cover this certificate" in message
    assert f"OCSP responder {lab.ocsp_url('down')} unreachable (connection refused)" in message


# --------------------------------------------------------------------------- OcspStapler


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)


def _window(lab: Lab, start: dt.datetime, hours: int = 4) -> bytes:
    return crafted(lab, "good", this_update=start, next_update=start + dt.timedelta(hours=hours))


def _stapler(lab: Lab, clock: Clock, **kw: object) -> OcspStapler:
    return OcspStapler(lab.leaves["good"].cert, lab.intermediate.cert, clock=clock, **kw,
        background=False)


def test_stapler_file_refreshes_after_half_life(lab: Lab, tmp_path: Path) -> None:
    start = now() - dt.timedelta(minutes=1)
    first, second = _window(lab, start), _window(lab, start + dt.timedelta(minutes=30))
    path = tmp_path / "staple.der"
    path.write_bytes(first)
    clock = Clock(start + dt.timedelta(minutes=1))
    stapler = _stapler(lab, clock, response_file=path)
    assert stapler.current() == first
    path.write_bytes(second)  # the operator's cron job refreshed the file
    clock.advance(hours=1)
    assert stapler.current() == first  # 1 h into a 4 h window: not due, file not re-read
    clock.advance(hours=1, seconds=1)
    assert stapler.current() == second  # past half-life: re-read, newer response adopted
    assert stapler.last_error is None


def test_stapler_drops_response_past_next_update(lab: Lab, tmp_path: Path) -> None:
    start = now() - dt.timedelta(minutes=1)
    path = tmp_path / "staple.der"
    path.write_bytes(_window(lab, start))
    clock = Clock(start)
    stapler = _stapler(lab, clock, response_file=path)
    assert stapler.current() is not None
    clock.advance(hours=3)  # due, but the file still holds the same response
    assert stapler.current() is not None
    assert "no newer response" in (stapler.last_error or "")
    clock.advance(hours=1, minutes=1)  # past nextUpdate
    assert stapler.current() is None


def test_stapler_keeps_old_response_when_file_breaks(lab: Lab, tmp_path: Path) -> None:
    start = now() - dt.timedelta(minutes=1)
    path = tmp_path / "staple.der"
    first = _window(lab, start)
    path.write_bytes(first)
    clock = Clock(start)
    stapler = _stapler(lab, clock, response_file=path, retry_interval=dt.timedelta(minutes=10))
    assert stapler.current() == first
    path.write_bytes(b"not a response")
    clock.advance(hours=2, minutes=1)
    assert stapler.current() == first
    assert str(path) in (stapler.last_error or "")
    assert "is not a valid OCSP response" in (stapler.last_error or "")
    # A fixed file is not re-read until the retry interval has passed.
    newer = _window(lab, start + dt.timedelta(hours=1))
    path.write_bytes(newer)
    clock.advance(minutes=5)
    assert stapler.current() == first
    clock.advance(minutes=5)
    assert stapler.current() == newer


def test_stapler_missing_file_never_raises(lab: Lab, tmp_path: Path) -> None:
    stapler = _stapler(lab, Clock(now()), response_file=tmp_path / "absent.der")
    assert stapler.current() is None
    assert "absent.der" in (stapler.last_error or "")


def test_stapler_rejects_response_for_another_certificate(lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "other.der"
    path.write_bytes(fetch_staple(lab, "revoked"))
    assert _stapler(lab, Clock(now()), response_file=path).current() is None


def test_stapler_fetches_from_aia_and_caches(lab: Lab) -> None:
    leaf = lab.leaves["relay"].cert
    clock = Clock(now())
    stapler = OcspStapler(leaf, lab.intermediate.cert, clock=clock, background=False)
    before = lab.http.hits["/relay"]
    der = stapler.current()
    assert der is not None
    assert validate_stapled_response(der, leaf, lab.intermediate.cert, now()).status == "good"
    assert stapler.current() == der
    assert lab.http.hits["/relay"] == before + 1
    clock.advance(hours=13)  # openssl answers with a one-day window: past half-life
    assert stapler.current() is not None
    assert lab.http.hits["/relay"] == before + 2


def test_stapler_staples_revoked_responses(lab: Lab) -> None:
    stapler = OcspStapler(lab.leaves["revoked"].cert, lab.intermediate.cert, background=False)
    der = stapler.current()
    assert der is not None
    staple_fails(lab, "revoked", der, Reason.revoked, "keyCompromise")


def test_stapler_skips_unknown_answers(lab: Lab) -> None:
    stapler = OcspStapler(lab.leaves["unknown"].cert, lab.intermediate.cert, background=False)
    assert stapler.current() is None
    assert "unknown" in (stapler.last_error or "")


def test_stapler_responder_down_never_raises(lab: Lab) -> None:
    stapler = OcspStapler(lab.leaves["down"].cert, lab.intermediate.cert, timeout=1,
        background=False)
    assert stapler.current() is None
    assert f"OCSP responder {lab.ocsp_url('down')} unreachable" in (stapler.last_error or "")


def test_stapler_without_responder_url(lab: Lab) -> None:
    stapler = OcspStapler(lab.leaves["none"].cert, lab.intermediate.cert, background=False)
    assert stapler.current() is None
    assert "names no http:// OCSP responder" in (stapler.last_error or "")
