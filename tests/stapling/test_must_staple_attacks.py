"""OCSP Must-Staple (RFC 7633) under attack: a staple that is not a valid one for THIS leaf
never satisfies ``enforce_must_staple``, and odd TLS Feature extensions end in the right
alert. In memory against a tlskit server (the staple is whatever the server is given)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from tlskit import AlertDescription, CertifiedKey, ClientConfig, ServerConfig
from tlskit.ca import Issued
from tlskit.enums import ExtensionType, HandshakeType
from tlskit.trace import TraceStep
from tlskit.wire import messages as m
from tlskit.x509.errors import CertificateVerificationError, Reason
from tlskit.x509.muststaple import must_staple, shows_must_staple

from .conftest import VERSIONS, now
from .test_in_memory import handshake
from .test_must_staple import MustStapleCA, _leaf_with, expect_refused

STATUS = AlertDescription.bad_certificate_status_response
FEATURE_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.24")  # id-pe-tlsfeature (RFC 7633)


@pytest.fixture(scope="module")
def msca() -> MustStapleCA:
    return MustStapleCA()


def _staple(msca: MustStapleCA, cert: x509.Certificate, *,
            status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
            signer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
            start: dt.timedelta = dt.timedelta(minutes=-5)) -> bytes:
    """A staple about ``cert``, signed by ``signer`` (default the issuing intermediate)."""
    t0 = now() + start
    who, key = signer or (msca.ca.intermediate, msca.ca.intermediate_key)
    revoked = status == ocsp.OCSPCertStatus.REVOKED
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(cert=cert, issuer=msca.ca.intermediate, algorithm=hashes.SHA1(),
                      cert_status=status, this_update=t0,
                      next_update=t0 + dt.timedelta(days=1),
                      revocation_time=t0 if revoked else None, revocation_reason=None)
        .responder_id(ocsp.OCSPResponderEncoding.HASH, who)
        .sign(key, hashes.SHA256()))  # type: ignore[arg-type]
    return response.public_bytes(serialization.Encoding.DER)


def _refused(msca: MustStapleCA, staple: bytes, version: str) -> str:
    out = handshake(msca.client(version, enforce_must_staple=True),
                    msca.server(msca.strict, staple, version))
    err = expect_refused(out, Reason.tls_feature_missing, STATUS)
    text = str(err)
    assert "must-staple" in text and "localhost" in text and "enforce_must_staple" in text
    return text


@pytest.mark.parametrize("version", VERSIONS)
def test_staple_for_a_sibling_certificate(msca: MustStapleCA, version: str) -> None:
    """Authentic and good, but about another leaf of the same issuer."""
    text = _refused(msca, _staple(msca, msca.plain.certificate), version)
    assert "not valid for it" in text


@pytest.mark.parametrize("version", VERSIONS)
def test_staple_from_an_unauthorised_responder(msca: MustStapleCA, version: str) -> None:
    """Signed by a key the issuer never delegated to (here the leaf's own key, which is
    exactly what a thief of a revoked must-staple certificate holds)."""
    signer = (msca.strict.certificate, msca.strict.private_key)
    _refused(msca, _staple(msca, msca.strict.certificate, signer=signer), version)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", VERSIONS)
def test_staple_not_yet_valid(msca: MustStapleCA, version: str) -> None:
    _refused(msca, _staple(msca, msca.strict.certificate, start=dt.timedelta(hours=2)),
             version)


@pytest.mark.parametrize("version", VERSIONS)
def test_staple_saying_unknown(msca: MustStapleCA, version: str) -> None:
    text = _refused(msca, _staple(msca, msca.strict.certificate,
                                  status=ocsp.OCSPCertStatus.UNKNOWN), version)
    assert "unknown" in text


@pytest.mark.parametrize("version", VERSIONS)
def test_staple_not_ocsp(msca: MustStapleCA, version: str) -> None:
    _refused(msca, b"\x30\x03\x0a\x01\x00", version)  # (an OCSPResponse, but successful
    # with no body, which is malformed)


@pytest.mark.parametrize("version", VERSIONS)
def test_feature_listed_twice(msca: MustStapleCA, version: str) -> None:
    feature = x509.UnrecognizedExtension(FEATURE_OID, b"\x30\x06\x02\x01\x05\x02\x01\x05")
    issued = _leaf_with(msca, feature)
    out = handshake(msca.client(version, enforce_must_staple=True),
                    msca.server(issued, None, version))
    expect_refused(out, Reason.tls_feature_missing, STATUS)
    good = handshake(msca.client(version, enforce_must_staple=True),
                     msca.server(issued, _staple(msca, issued.certificate), version))
    assert good.complete.ocsp_response is not None


UNPARSEABLE = {"octets": b"\x04\x01\x05", "empty": b"\x30\x00",
               "unknown-feature": b"\x30\x06\x02\x01\x05\x02\x01\x63"}


@pytest.mark.parametrize("body", UNPARSEABLE.values(), ids=UNPARSEABLE.keys())
def test_must_staple_of_an_unparseable_feature(msca: MustStapleCA, body: bytes) -> None:
    """An empty TLS Feature list makes cryptography raise TypeError (not ValueError) on any
    read of the extensions: still a malformed certificate, and False for display."""
    cert = _leaf_with(msca, x509.UnrecognizedExtension(FEATURE_OID, body)).certificate
    with pytest.raises(CertificateVerificationError) as info:
        must_staple(cert)
    assert info.value.reason is Reason.malformed
    assert info.value.alert is AlertDescription.bad_certificate
    assert "CN=localhost" in str(info.value) and "must-staple" in str(info.value)
    assert shows_must_staple(cert) is False


@pytest.mark.parametrize("body", UNPARSEABLE.values(), ids=UNPARSEABLE.keys())
def test_server_config_unparseable_extensions(msca: MustStapleCA, body: bytes) -> None:
    """A certificate whose extensions do not parse: one tlskit ValueError naming the
    certificate and what to do, not cryptography's own (a ValueError about ASN.1, or a
    TypeError for an empty TLS Feature)."""
    issued = _leaf_with(msca, x509.UnrecognizedExtension(FEATURE_OID, body))
    with pytest.raises(ValueError) as info:
        ServerConfig(certificates=[CertifiedKey(issued.chain, issued.private_key)])
    text = str(info.value)
    assert "'CN=localhost'" in text and "extensions that do not parse" in text
    assert "reissue" in text and "\n" not in text


@pytest.mark.parametrize("tickets", [True, False], ids=["rfc5077-ticket", "session-id"])
def test_tls12_resumption_checks_the_kept_staple(msca: MustStapleCA, tickets: bool) -> None:
    """TLS 1.2 sessions (an RFC 5077 ticket or a session ID) are offered again only while
    the staple of the first handshake still satisfies the leaf: after its nextUpdate a full
    handshake runs and the server, still stapling the old response, is refused."""
    from tlskit.session import SessionCache
    cache = SessionCache()
    clock = [dt.datetime.now(dt.UTC).timestamp()]
    client = msca.client("TLSv1.2", enforce_must_staple=True, session_cache=cache,
                         clock=lambda: clock[0])
    staple = msca.stale_staple(msca.strict, dt.timedelta(minutes=-1), dt.timedelta(minutes=10))
    server = msca.server(msca.strict, staple, "TLSv1.2", clock=lambda: clock[0],
                         **({} if tickets else {"session_tickets": 0}))
    first = handshake(client, server)
    assert not first.complete.resumed
    again = handshake(client, server)
    assert again.complete.resumed
    clock[0] += 20 * 60
    late = handshake(client, server)
    expect_refused(late, Reason.tls_feature_missing, STATUS)


def test_after_hello_retry_request(msca: MustStapleCA) -> None:
    """The second ClientHello (after HelloRetryRequest) still asks for a staple, and the
    leaf is still held to it."""
    steps: list[str] = []
    client = msca.client("TLSv1.3", enforce_must_staple=True, groups=["x25519", "secp256r1"],
                         key_share_groups=["x25519"], tracer=lambda step, _: steps.append(step))
    server = msca.server(msca.strict, None, "TLSv1.3", groups=["secp256r1"])
    out = handshake(client, server)
    expect_refused(out, Reason.tls_feature_missing, STATUS)
    assert TraceStep.HELLO_RETRY_REQUEST in steps
    stapled = handshake(client, msca.server(msca.strict, msca.staple(msca.strict), "TLSv1.3",
                                            groups=["secp256r1"]))
    assert stapled.complete.ocsp_response is not None


def _move_staple(raw: bytes) -> bytes:
    """The server's TLS 1.3 Certificate with the leaf's status_request moved onto the
    intermediate's CertificateEntry (RFC 8446 4.4.2.1 lets any entry carry one)."""
    cert = m.Certificate.decode(memoryview(raw)[4:])
    leaf, intermediate = cert.entries[0], cert.entries[1]
    intermediate.extensions[ExtensionType.status_request] = leaf.extensions.pop(
        ExtensionType.status_request)
    return cert.encode()


def test_tls13_staple_on_a_non_leaf_entry(msca: MustStapleCA) -> None:
    """A valid staple for the leaf, carried on the intermediate's entry: not the leaf's
    staple (tlskit reads the leaf's entry only), so the must-staple leaf is refused."""
    from ..hostile.helpers import make_client, make_server, on_type
    from ..support.pump import pump
    client = make_client(msca.client("TLSv1.3", enforce_must_staple=True))
    server = make_server(msca.server(msca.strict, msca.staple(msca.strict), "TLSv1.3"),
                         on_type(HandshakeType.certificate, _move_staple))
    with pytest.raises(CertificateVerificationError) as info:
        pump(client, server)
    assert info.value.reason is Reason.tls_feature_missing and info.value.alert is STATUS
    assert "stapled no OCSP response" in str(info.value)


def _self_signed_claim(issued: Issued) -> bytes:
    """A "good" staple for ``issued`` that names the leaf as its own issuer (CertID and
    responder) and is signed with the leaf's key: what a thief of that key can make."""
    t0 = now() - dt.timedelta(minutes=5)
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(cert=issued.certificate, issuer=issued.certificate,
                      algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
                      this_update=t0, next_update=t0 + dt.timedelta(days=1),
                      revocation_time=None, revocation_reason=None)
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issued.certificate)
        .sign(issued.private_key, hashes.SHA256()))  # type: ignore[arg-type]
    return response.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("version", VERSIONS)
def test_pinned_leaf_needs_its_real_issuer(msca: MustStapleCA, version: str) -> None:
    """A must-staple leaf trusted as an anchor itself (pinned): the validated chain is the
    leaf alone, so the staple's issuer is found among the certificates the server sent
    (the one that verifiably signed the leaf). A staple signed with the leaf's own key is
    refused; the CA's genuine staple is accepted; without the intermediate, none can be
    checked."""
    client = ClientConfig(trust_anchors=[msca.strict.certificate], versions=[version],
                          enforce_must_staple=True)
    forged = handshake(client, msca.server(msca.strict, _self_signed_claim(msca.strict),
                                           version))
    expect_refused(forged, Reason.tls_feature_missing, STATUS)
    genuine = handshake(client, msca.server(msca.strict, msca.staple(msca.strict), version))
    assert genuine.complete.ocsp_response is not None
    alone = ServerConfig(certificate_chain=[msca.strict.certificate],
                         private_key=msca.strict.private_key,
                         ocsp_response=msca.staple(msca.strict), versions=[version])
    err = expect_refused(handshake(client, alone), Reason.tls_feature_missing, STATUS)
    assert "sent no certificate that issued it" in str(err)


@pytest.mark.parametrize("version", VERSIONS)
def test_critical_feature(msca: MustStapleCA, version: str) -> None:
    """RFC 7633 asks for a non-critical TLS Feature, but a critical one is what an
    enforcing client handles (as Firefox does): with a valid staple it connects, without
    one it is tls_feature_missing. A client that does not enforce it does not handle it:
    unhandled critical extension (unsupported_certificate), as Go and rustls refuse it."""
    issued = _leaf_with(msca, x509.TLSFeature([x509.TLSFeatureType.status_request]),
                        critical=True)
    enforcing = msca.client(version, enforce_must_staple=True)
    good = handshake(enforcing, msca.server(issued, _staple(msca, issued.certificate),
                                            version))
    assert good.complete.ocsp_response is not None
    bare = handshake(enforcing, msca.server(issued, None, version))
    expect_refused(bare, Reason.tls_feature_missing, STATUS)
    plain = handshake(msca.client(version, ocsp_stapling=True),
                      msca.server(issued, _staple(msca, issued.certificate), version))
    expect_refused(plain, Reason.unhandled_critical_extension,
                   AlertDescription.unsupported_certificate)
    # A critical TLS Feature naming another feature too is not handled, enforcing or not.
    both = _leaf_with(msca, x509.TLSFeature([x509.TLSFeatureType.status_request,
                                             x509.TLSFeatureType.status_request_v2]),
                      critical=True)
    other = handshake(enforcing, msca.server(both, _staple(msca, both.certificate), version))
    expect_refused(other, Reason.unhandled_critical_extension,
                   AlertDescription.unsupported_certificate)
