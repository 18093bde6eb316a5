"""A delegated OCSP responder whose keyUsage lacks digitalSignature: accepted by default
(OpenSSL, Go and Mozilla check only the id-kp-OCSPSigning EKU), refused under the "cabf"
profile, whichever way the `Verifier` meets its answer (a staple it reads itself with
revocation off, or its revocation checker under soft-fail)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlskit.ca import LocalCA
from tlskit.x509.errors import CertificateVerificationError, Reason
from tlskit.x509.ocsp import evaluate_ocsp_response, validate_stapled_response
from tlskit.x509.revocation import RevocationChecker
from tlskit.x509.trust import TrustStore
from tlskit.x509.verify import Verifier


def _signingless_responder(ca: LocalCA) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """id-kp-OCSPSigning, issued by the intermediate, keyUsage keyAgreement only."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OCSP responder")]))
        .issuer_name(ca.intermediate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False)
        .add_extension(x509.KeyUsage(False, False, False, False, True, False, False, False,
                                     False), True)
        .sign(ca.intermediate_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert, key


def _revoked_staple(ca: LocalCA, leaf: x509.Certificate) -> bytes:
    responder, key = _signingless_responder(ca)
    now = dt.datetime.now(dt.UTC)
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(cert=leaf, issuer=ca.intermediate, algorithm=hashes.SHA1(),
                      cert_status=ocsp.OCSPCertStatus.REVOKED,
                      this_update=now - dt.timedelta(minutes=1),
                      next_update=now + dt.timedelta(hours=1),
                      revocation_time=now - dt.timedelta(hours=1), revocation_reason=None)
        .responder_id(ocsp.OCSPResponderEncoding.HASH, responder)
        .certificates([responder])
        .sign(key, hashes.SHA256())
    )
    return response.public_bytes(Encoding.DER)


@pytest.mark.parametrize("policy", ["off", "soft-fail"])
def test_the_verifier_profile_decides_on_a_signingless_responder(policy: str) -> None:
    """Its "revoked" answer is evidence by default (the leaf fails as revoked) and none
    under "cabf" (no source answers; soft-fail and off let the leaf through)."""
    ca = LocalCA.create(None, url=None)
    leaf = ca.issue_server(["localhost"]).certificate
    staple = _revoked_staple(ca, leaf)
    store = TrustStore([ca.root])
    with pytest.raises(CertificateVerificationError) as caught:
        Verifier(store, revocation=policy).verify(  # type: ignore[arg-type]
            leaf, [ca.intermediate], "localhost", ocsp_response=staple)
    assert caught.value.reason == Reason.revoked
    strict = Verifier(store, revocation=policy, profile="cabf")  # type: ignore[arg-type]
    chain = strict.verify(leaf, [ca.intermediate], "localhost", ocsp_response=staple)
    assert chain[0] == leaf


@pytest.mark.parametrize("profile", ["CABF", "cab", ""])
def test_an_unknown_profile_is_refused_not_read_as_the_default(profile: str) -> None:
    """A misspelt "cabf" given to the revocation checker or the OCSP functions silently
    meant the laxer default (the Verifier already refused it): ValueError instead."""
    ca = LocalCA.create(None, url=None)
    leaf = ca.issue_server(["localhost"]).certificate
    staple = _revoked_staple(ca, leaf)
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(ValueError, match="profile"):
        RevocationChecker("soft-fail", profile=profile)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="profile"):
        evaluate_ocsp_response(staple, leaf, ca.intermediate, now,
                               profile=profile)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="profile"):
        validate_stapled_response(staple, leaf, ca.intermediate, now,
                                  profile)  # type: ignore[arg-type]
