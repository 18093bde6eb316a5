"""OCSP Must-Staple (RFC 7633) in the tlskit client, against a tlskit server in memory.

``ClientConfig(enforce_must_staple=True)``: a leaf whose TLS Feature extension lists
status_request needs a valid OCSP response stapled for it, in TLS 1.3 and TLS 1.2, else the
client ends the handshake with bad_certificate_status_response (reason
``tls_feature_missing``). Off by default: then a must-staple leaf without a staple
connects, as with OpenSSL, Go and Chrome.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from tlskit import AlertDescription, AlertReceived, ClientConfig, ClientConnection, ServerConfig
from tlskit.ca import CAError, Issued, LocalCA
from tlskit.enums import ExtensionType
from tlskit.session import SessionCache
from tlskit.wire.messages import ClientHello
from tlskit.x509.errors import CertificateVerificationError, Reason
from tlskit.x509.muststaple import must_staple
from tlskit.x509.revocation import build_ocsp_request

from .conftest import VERSIONS, localhost_leaf_with, now
from .test_in_memory import handshake

UTC = dt.UTC


class MustStapleCA:
    """A LocalCA with a must-staple leaf, a plain leaf, and staples for them."""

    def __init__(self) -> None:
        self.ca = LocalCA.create(url="http://127.0.0.1:9")  # a URL: the leaves name one
        self.strict = self.ca.issue_server(["localhost"], must_staple=True)
        self.plain = self.ca.issue_server(["localhost"])

    def staple(self, issued: Issued) -> bytes:
        return self.ca.ocsp_response(build_ocsp_request(issued.certificate,
                                                        self.ca.intermediate, None))

    def stale_staple(self, issued: Issued, start: dt.timedelta = dt.timedelta(days=-3),
                     length: dt.timedelta = dt.timedelta(days=2)) -> bytes:
        """Authentic and about ``issued``, valid from now + ``start`` for ``length``: by
        default its window closed a day ago."""
        t0 = now() + start
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response(cert=issued.certificate, issuer=self.ca.intermediate,
                          algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
                          this_update=t0, next_update=t0 + length,
                          revocation_time=None, revocation_reason=None)
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.ca.intermediate)
            .sign(self.ca.intermediate_key, hashes.SHA256()))
        return response.public_bytes(serialization.Encoding.DER)

    def server(self, issued: Issued, staple: bytes | None, version: str,
               **kw: Any) -> ServerConfig:
        return ServerConfig(certificate_chain=issued.chain, private_key=issued.private_key,
                            ocsp_response=staple, versions=[version], **kw)

    def client(self, version: str, **kw: Any) -> ClientConfig:
        return ClientConfig(trust_anchors=[self.ca.root], versions=[version], **kw)


@pytest.fixture(scope="module")
def msca() -> MustStapleCA:
    return MustStapleCA()


def expect_refused(out: Any, reason: Reason,
                   alert: AlertDescription) -> CertificateVerificationError:
    err = out.client_error
    assert isinstance(err, CertificateVerificationError), err
    assert err.reason is reason and err.alert is alert
    assert isinstance(out.server_error, AlertReceived) and out.server_error.alert is alert
    assert out.client.handshake_complete is None
    return err


# --------------------------------------------------------------------------- the CA


def test_local_ca_issues_must_staple_leaf(msca: MustStapleCA) -> None:
    feature = msca.strict.certificate.extensions.get_extension_for_class(x509.TLSFeature)
    assert list(feature.value) == [x509.TLSFeatureType.status_request]
    assert not feature.critical
    assert must_staple(msca.strict.certificate)
    assert not must_staple(msca.plain.certificate)


def test_must_staple_needs_an_ocsp_url() -> None:
    ca = LocalCA.create()  # no URL: a leaf would name no responder to fetch staples from
    with pytest.raises(CAError, match="must-staple certificate needs an OCSP URL"):
        ca.issue_server(["localhost"], must_staple=True)


def _asks_for_a_staple(config: ClientConfig) -> bool:
    hello = ClientConnection(config, server_name="localhost").data_to_send()
    return ExtensionType.status_request in ClientHello.decode(memoryview(hello)[9:]).extensions


def test_enforcing_asks_for_staples() -> None:
    """Enforcing implies asking, without writing into ``ocsp_stapling``: a copy made with
    the switch off asks only if the caller asked for staples themselves."""
    enforcing = ClientConfig(enforce_must_staple=True)
    assert _asks_for_a_staple(enforcing) and enforcing.ocsp_stapling is False
    assert not _asks_for_a_staple(ClientConfig())
    assert not _asks_for_a_staple(enforcing.replace(enforce_must_staple=False))
    assert _asks_for_a_staple(enforcing.replace(enforce_must_staple=False, ocsp_stapling=True))


# --------------------------------------------------------------------------- the client


@pytest.mark.parametrize("version", VERSIONS)
def test_must_staple_without_staple_is_refused(msca: MustStapleCA, version: str) -> None:
    out = handshake(msca.client(version, enforce_must_staple=True),
                    msca.server(msca.strict, None, version))
    err = expect_refused(out, Reason.tls_feature_missing,
                         AlertDescription.bad_certificate_status_response)
    assert err.certificate == msca.strict.certificate
    message = str(err)
    assert "is must-staple (RFC 7633" in message and "stapled no OCSP response" in message
    assert message.endswith("or turn off enforce_must_staple") and "CN=localhost" in message
    # The server's side of it: the alert, with what to do about it.
    assert "a must-staple certificate (RFC 7633) needs a current staple" in \
        str(out.server_error)


@pytest.mark.parametrize("version", VERSIONS)
def test_must_staple_with_staple_completes(msca: MustStapleCA, version: str) -> None:
    staple = msca.staple(msca.strict)
    out = handshake(msca.client(version, enforce_must_staple=True),
                    msca.server(msca.strict, staple, version))
    assert out.complete.ocsp_response == staple  # asked for without ocsp_stapling=True


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", ["stale", "other-cert"])
def test_must_staple_with_unusable_staple_is_refused(msca: MustStapleCA, version: str,
                                                     kind: str) -> None:
    staple = (msca.stale_staple(msca.strict) if kind == "stale"
              else msca.staple(msca.plain))  # authentic and good, but for the other leaf
    out = handshake(msca.client(version, enforce_must_staple=True),
                    msca.server(msca.strict, staple, version))
    err = expect_refused(out, Reason.tls_feature_missing,
                         AlertDescription.bad_certificate_status_response)
    assert "the stapled OCSP response is not valid for it" in str(err)


@pytest.mark.parametrize("version", VERSIONS)
def test_must_staple_revoked_staple_is_revoked(version: str) -> None:
    msca = MustStapleCA()
    msca.ca.revoke(msca.strict.certificate, "keyCompromise")
    out = handshake(msca.client(version, enforce_must_staple=True),
                    msca.server(msca.strict, msca.staple(msca.strict), version))
    expect_refused(out, Reason.revoked, AlertDescription.certificate_revoked)


@pytest.mark.parametrize("version", VERSIONS)
def test_not_enforced_by_default(msca: MustStapleCA, version: str) -> None:
    """OpenSSL, Go and Chrome connect to a must-staple server that staples nothing."""
    out = handshake(msca.client(version), msca.server(msca.strict, None, version))
    assert out.complete.ocsp_response is None


@pytest.mark.parametrize("version", VERSIONS)
def test_plain_leaf_needs_no_staple(msca: MustStapleCA, version: str) -> None:
    out = handshake(msca.client(version, enforce_must_staple=True),
                    msca.server(msca.plain, None, version))
    assert out.complete.ocsp_response is None


@pytest.mark.parametrize("version", VERSIONS)
def test_report_mode_reports_it(msca: MustStapleCA, version: str) -> None:
    out = handshake(msca.client(version, enforce_must_staple=True, verify_mode="report"),
                    msca.server(msca.strict, None, version))
    assert out.complete.peer_certificates[0] == msca.strict.certificate
    err = out.client.verification_error
    assert isinstance(err, CertificateVerificationError)
    assert err.reason is Reason.tls_feature_missing


def test_resumption_checks_the_kept_staple(msca: MustStapleCA) -> None:
    """A TLS 1.3 session is offered again only while its staple still satisfies the leaf:
    once the staple has expired (the clock moved past its nextUpdate) a full handshake
    runs, and the server that now staples nothing is refused."""
    cache = SessionCache()
    clock = [dt.datetime.now(UTC).timestamp()]
    client = msca.client("TLSv1.3", enforce_must_staple=True, session_cache=cache,
                         clock=lambda: clock[0])
    # Good for ten minutes, well within the two hours a ticket lives.
    staple = msca.stale_staple(msca.strict, dt.timedelta(minutes=-1), dt.timedelta(minutes=10))
    server = msca.server(msca.strict, staple, "TLSv1.3", clock=lambda: clock[0])
    first = handshake(client, server)
    first.complete  # noqa: B018 (asserts success)
    first.client.receive_data(first.server.data_to_send())  # the tickets
    again = handshake(client, server)
    assert again.complete.resumed
    clock[0] += 20 * 60
    late = handshake(client, server)  # (the same ticket key; it staples the stale staple)
    expect_refused(late, Reason.tls_feature_missing,
                   AlertDescription.bad_certificate_status_response)


# --------------------------------------------------------------------------- odd extensions


def _leaf_with(msca: MustStapleCA, extension: x509.ExtensionType,
               critical: bool = False) -> Issued:
    """A localhost leaf under the CA's intermediate carrying ``extension``."""
    return localhost_leaf_with(msca.ca, extension, critical)


@pytest.mark.parametrize("version", VERSIONS)
def test_status_request_v2_alone_is_not_enforced(msca: MustStapleCA, version: str) -> None:
    """RFC 6961's status_request_v2 is not offered by tlskit (deprecated in TLS 1.3): a
    certificate that lists only it asks for nothing this client could get."""
    issued = _leaf_with(msca, x509.TLSFeature([x509.TLSFeatureType.status_request_v2]))
    assert not must_staple(issued.certificate)
    out = handshake(msca.client(version, enforce_must_staple=True),
                    msca.server(issued, None, version))
    assert out.complete.ocsp_response is None

