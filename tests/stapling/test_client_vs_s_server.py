"""The tlskit client asks for a staple (status_request) and validates what ``openssl s_server
-status_file`` staples, in TLS 1.3 (CertificateEntry extension) and TLS 1.2 (CertificateStatus).

What the client does with a staple, by revocation policy of its verifier:

=====================  ==========  ==========  ====================================
staple                 "off"       soft-fail   hard-fail
=====================  ==========  ==========  ====================================
authentic, good        accepted    accepted    accepted
authentic, revoked     REJECTED    REJECTED    REJECTED   (certificate_revoked, revoked)
not usable / missing   ignored     ignored     REJECTED   (certificate_unknown,
                                                           revocation_unknown)
=====================  ==========  ==========  ====================================

"Not usable" is a staple about another certificate, one signed by a CA with no say over the
leaf, one whose signature does not verify, a stale one, and no staple at all. Such a staple
is not evidence of anything, so it can neither revoke nor vouch: an attacker able to replace
a staple can just as well delete it, and treating a forged "revoked" as revoked would only
hand that attacker a cheaper denial of service. So it counts exactly like a missing staple,
and the policy decides what a missing answer means. An authentic "revoked" answer, though,
is fatal even under "off": the client asked for the staple (``ocsp_stapling=True``), and
the default verifier built from ``trust_anchors`` (policy "off") must not ignore what it
asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cryptography.x509 import ocsp

from tlskit import AlertDescription, ClientConfig, ConnectionClosed, HandshakeComplete, TLSError
from tlskit.x509.errors import CertificateVerificationError, Reason

from ..support.peers import PeerProcess
from ..support.pump import Pump
from .conftest import VERSIONS, Peers, StaplePKI, cert_status

pytestmark = pytest.mark.interop

ServerFor = Callable[..., tuple[PeerProcess, int]]


@pytest.fixture(scope="module")
def s_server(pki: StaplePKI) -> Iterator[ServerFor]:
    """One long-lived s_server per (leaf, staple file, version), started on first use."""
    peers = Peers()
    running: dict[tuple[str, str | None, str], tuple[PeerProcess, int]] = {}

    def get(version: str, staple: str | None, leaf: str = "good") -> tuple[PeerProcess, int]:
        key = (leaf, staple, version)
        if key not in running or running[key][0].proc.poll() is not None:
            path = pki.staple_file(staple) if staple is not None else None
            running[key] = peers.s_server(pki.leaves[leaf], version, path)
        return running[key]

    try:
        yield get
    finally:
        peers.close()


def connect(config: ClientConfig, port: int) -> HandshakeComplete:
    """Handshake, then close_notify both ways. A failed handshake raises its TLSError."""
    pump = Pump.connect(config, port)
    try:
        hc = pump.handshake()
        pump.close()
        assert pump.wait_closed() == ConnectionClosed(None)
        return hc
    finally:
        pump.dispose()


def rejected(config: ClientConfig, proc: PeerProcess, port: int) -> CertificateVerificationError:
    """The handshake fails on our side, and s_server reads the alert we sent."""
    mark = proc.mark("stderr")
    pump = Pump.connect(config, port)
    try:
        with pytest.raises(TLSError) as info:
            pump.handshake()
    finally:
        pump.dispose()
    error = info.value
    assert isinstance(error, CertificateVerificationError), repr(error)
    proc.wait_for(rf"SSL alert number {int(error.alert)}\b", stream="stderr", since=mark)
    return error


def stapling_client(pki: StaplePKI, version: str, policy: str | None = None) -> ClientConfig:
    """policy None: the default verifier, built from trust_anchors (revocation "off")."""
    if policy is None:
        return ClientConfig(trust_anchors=[pki.root], ocsp_stapling=True, versions=[version])
    return ClientConfig(verifier=pki.verifier(policy), ocsp_stapling=True, versions=[version])


POLICIES = [None, "soft-fail", "hard-fail"]
POLICY_IDS = ["default-off", "soft-fail", "hard-fail"]


# --------------------------------------------------------------------------- good staples


@pytest.mark.parametrize("version", VERSIONS)
def test_good_staple_is_received_and_accepted(pki: StaplePKI, s_server: ServerFor,
                                              version: str) -> None:
    proc, port = s_server(version, "good")
    mark = proc.mark("stderr")
    hc = connect(stapling_client(pki, version), port)
    assert hc.version == version
    assert hc.ocsp_response == pki.staple_file("good").read_bytes()
    assert cert_status(hc.ocsp_response) == "good"
    # s_server only runs its status callback for a ClientHello carrying status_request.
    proc.wait_for("cert_status: callback called", stream="stderr", since=mark)
    proc.wait_for("cert_status: ocsp response sent:", stream="stderr", since=mark)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("policy", ["soft-fail", "hard-fail"])
def test_good_staple_satisfies_every_policy(pki: StaplePKI, s_server: ServerFor,
                                            version: str, policy: str) -> None:
    """Under hard-fail the good staple is the only revocation answer for the leaf (no AIA,
    no CRL distribution point), so this also shows that the hard-fail rejections below are
    about the staple and nothing else."""
    _proc, port = s_server(version, "good")
    hc = connect(stapling_client(pki, version, policy), port)
    assert hc.ocsp_response == pki.staples["good"]


@pytest.mark.parametrize("version", VERSIONS)
def test_no_status_request_no_staple(pki: StaplePKI, s_server: ServerFor,
                                     version: str) -> None:
    """Without ocsp_stapling the ClientHello has no status_request: s_server's callback
    never runs and nothing is stapled, although it has a response to give."""
    proc, port = s_server(version, "good")
    mark = proc.mark("stderr")
    hc = connect(ClientConfig(trust_anchors=[pki.root], versions=[version]), port)
    assert hc.ocsp_response is None
    assert "cert_status" not in proc.text_since(mark, "stderr")


# --------------------------------------------------------------------------- revoked


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("policy", POLICIES, ids=POLICY_IDS)
@pytest.mark.parametrize("source", ["revoked", "revoked-openssl"],
                         ids=["by-LocalCA", "by-openssl-ocsp"])
def test_revoked_staple_is_fatal_under_every_policy(pki: StaplePKI, s_server: ServerFor,
                                                    version: str, policy: str | None,
                                                    source: str) -> None:
    """A validly signed "revoked" staple (from `LocalCA.ocsp_response` after `revoke`, or
    from ``openssl ocsp -index -respout`` signed by a delegated responder) ends the
    handshake with certificate_revoked, also under the default "off" verifier."""
    assert cert_status(pki.staples[source]) == "revoked"
    proc, port = s_server(version, source, leaf="revoked")
    error = rejected(stapling_client(pki, version, policy), proc, port)
    assert error.alert == AlertDescription.certificate_revoked
    assert error.reason == Reason.revoked
    assert error.certificate == pki.leaves["revoked"].cert
    assert "stapled OCSP response" in str(error)
    assert "keyCompromise" in str(error)


# --------------------------------------------------------------------------- not usable


INVALID = {
    # staple kind: what the hard-fail error must say about it
    "other-cert": "does not cover this certificate",
    "foreign-signer": "not issued by",
    "foreign-revoked": "not issued by",
    "bad-signature": "signature that does not verify",
    "stale": "is expired",
    None: "cannot determine revocation status",
}
INVALID_IDS = [str(kind).replace("None", "no-staple") for kind in INVALID]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", list(INVALID), ids=INVALID_IDS)
@pytest.mark.parametrize("policy", [None, "soft-fail"], ids=["default-off", "soft-fail"])
def test_unusable_staple_is_ignored_without_hard_fail(pki: StaplePKI, s_server: ServerFor,
                                                      version: str, kind: str | None,
                                                      policy: str | None) -> None:
    """Not evidence, so ignored like a missing staple: the handshake completes, and the
    raw staple is still reported in HandshakeComplete for whoever wants to log it."""
    _proc, port = s_server(version, kind)
    hc = connect(stapling_client(pki, version, policy), port)
    expected = pki.staples[kind] if kind is not None else None
    assert hc.ocsp_response == expected


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", list(INVALID), ids=INVALID_IDS)
def test_unusable_staple_is_revocation_unknown_under_hard_fail(
        pki: StaplePKI, s_server: ServerFor, version: str, kind: str | None) -> None:
    """Hard-fail needs an answer; an unusable (even a forged "revoked") staple is none."""
    proc, port = s_server(version, kind)
    error = rejected(stapling_client(pki, version, "hard-fail"), proc, port)
    assert error.reason == Reason.revocation_unknown
    assert error.alert == AlertDescription.certificate_unknown
    assert error.certificate == pki.leaves["good"].cert
    assert INVALID[kind] in str(error)
    if kind is not None:
        assert "stapled OCSP response" in str(error)


def test_staple_files_are_what_they_claim(pki: StaplePKI) -> None:
    """Guard for the table above: the forged and stale staples really are well-formed
    responses about the leaf s_server presents (so only their authenticity or age is wrong),
    and the "other-cert" one is about a different certificate."""
    leaf = pki.leaves["good"].cert
    for kind in ("foreign-signer", "foreign-revoked", "bad-signature", "stale"):
        response = ocsp.load_der_ocsp_response(pki.staple_file(kind).read_bytes())
        assert response.serial_number == leaf.serial_number, kind
    other = ocsp.load_der_ocsp_response(pki.staples["other-cert"])
    assert other.serial_number == pki.leaves["other"].cert.serial_number != leaf.serial_number
    assert cert_status(pki.staples["foreign-revoked"]) == "revoked"
