"""The local CA's revocation, seen by tlskit's own validator: through the CA's OCSP
responder on 127.0.0.1 and through its CRL (issue 4: "a revoked one shows as revoked")."""

from __future__ import annotations

import pytest
from cryptography import x509

from tlskit.ca import LocalCA
from tlskit.x509 import CertificateVerificationError, Reason, TrustStore, Verifier


@pytest.fixture
def ca() -> LocalCA:
    return LocalCA.create(directory=None)


def _empty_root_crl(ca: LocalCA) -> x509.CertificateRevocationList:
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.root.subject)
               .last_update(now - dt.timedelta(minutes=5))
               .next_update(now + dt.timedelta(days=1))
               .add_extension(x509.CRLNumber(1), critical=False))  # RFC 5280 5.2.3
    return builder.sign(ca.root_key, hashes.SHA256())


def test_issued_certificate_verifies_with_tlskit(ca: LocalCA) -> None:
    leaf = ca.issue_server(["localhost", "127.0.0.1"])
    chain = Verifier(TrustStore([ca.root])).verify(
        leaf.certificate, [ca.intermediate], server_name="localhost")
    assert chain == [leaf.certificate, ca.intermediate, ca.root]
    Verifier(TrustStore([ca.root])).verify(leaf.certificate, [ca.intermediate],
                                           server_name="127.0.0.1")


def test_revoked_certificate_is_revoked_through_the_ocsp_responder(ca: LocalCA) -> None:
    with ca.serve_ocsp() as responder:
        good = ca.issue_server(["good.test"], ocsp_url=responder.url)
        bad = ca.issue_server(["bad.test"], ocsp_url=responder.url)
        ca.revoke(bad.certificate, reason="keyCompromise")
        verifier = Verifier(TrustStore([ca.root]), revocation="hard-fail",
                            crls=[_empty_root_crl(ca)], fetch_crls=False)
        verifier.verify(good.certificate, [ca.intermediate], server_name="good.test")
        with pytest.raises(CertificateVerificationError) as err:
            verifier.verify(bad.certificate, [ca.intermediate], server_name="bad.test")
    assert err.value.reason == Reason.revoked
    assert err.value.certificate == bad.certificate
    assert "bad.test" in str(err.value) or "revoked" in str(err.value)


def test_revoked_certificate_is_revoked_through_the_crl(ca: LocalCA) -> None:
    good = ca.issue_server(["good.test"])
    bad = ca.issue_server(["bad.test"])
    ca.revoke(bad.certificate)
    verifier = Verifier(TrustStore([ca.root]), revocation="hard-fail",
                        crls=[ca.crl(), _empty_root_crl(ca)], ocsp=False, fetch_crls=False)
    verifier.verify(good.certificate, [ca.intermediate], server_name="good.test")
    with pytest.raises(CertificateVerificationError) as err:
        verifier.verify(bad.certificate, [ca.intermediate], server_name="bad.test")
    assert err.value.reason == Reason.revoked
