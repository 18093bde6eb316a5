"""`Verifier` with revocation="off" (what ``ClientConfig(trust_anchors=...)`` builds) and a
stapled response: an authentic "revoked" fails the leaf, anything unusable is ignored and
said so in the report, and no staple means no revocation line at all.
"""

from __future__ import annotations

import pytest

from tlskit.x509 import TrustStore, Verifier
from tlskit.x509.errors import CertificateVerificationError, Reason

from .conftest import StaplePKI

# The shared `pki` fixture runs `openssl ocsp -respout`, hence the marker.
pytestmark = pytest.mark.interop


def default_verifier(pki: StaplePKI) -> Verifier:
    return Verifier(TrustStore([pki.root]))


def revocation_lines(pki: StaplePKI, leaf: str, staple: bytes | None) -> list[tuple[bool, str]]:
    cert = pki.leaves[leaf].cert
    report = default_verifier(pki).explain(cert, [pki.intermediate], "localhost",
                                           ocsp_response=staple)
    return [(c.ok, c.detail) for c in report.checks if c.check == "revocation"]


def test_revoked_staple_fails_default_verifier(pki: StaplePKI) -> None:
    cert = pki.leaves["revoked"].cert
    with pytest.raises(CertificateVerificationError) as info:
        default_verifier(pki).verify(cert, [pki.intermediate], "localhost",
                                     ocsp_response=pki.staples["revoked"])
    assert info.value.reason == Reason.revoked
    assert info.value.certificate == cert
    [(ok, detail)] = revocation_lines(pki, "revoked", pki.staples["revoked"])
    assert not ok and "revoked" in detail and "stapled OCSP response" in detail


def test_good_staple_is_reported(pki: StaplePKI) -> None:
    [(ok, detail)] = revocation_lines(pki, "good", pki.staples["good"])
    assert ok and detail.startswith("good (source: staple)")


@pytest.mark.parametrize("kind", ["other-cert", "foreign-signer", "foreign-revoked",
                                  "bad-signature", "stale", "garbage"])
def test_unusable_staple_is_ignored_and_reported(pki: StaplePKI, kind: str) -> None:
    staple = b"\x30\x03\x0a\x01\x00" if kind == "garbage" else pki.staples[kind]
    chain = default_verifier(pki).verify(pki.leaves["good"].cert, [pki.intermediate],
                                         "localhost", ocsp_response=staple)
    assert chain[-1] == pki.root
    [(ok, detail)] = revocation_lines(pki, "good", staple)
    assert ok and "the stapled OCSP response was ignored" in detail


def test_no_staple_no_revocation_check(pki: StaplePKI) -> None:
    """Unchanged behaviour: "off" without a staple checks nothing and reports nothing."""
    assert revocation_lines(pki, "revoked", None) == []
    default_verifier(pki).verify(pki.leaves["revoked"].cert, [pki.intermediate], "localhost")
