"""tlskit against Go's crypto/tls, both ways: an implementation that shares no code with
OpenSSL or GnuTLS, with its own strict parser, certificate verifier and key schedule.

The peer is `go/tlspeer.go`, built once per session with the Debian `golang-go` toolchain
(installed by .ci/install-test-deps.sh). It prints one JSON line per connection with what
Go negotiated (version, suite, resumption, ALPN, the peer's certificates), so each test
checks both sides' view of the same handshake; its server echoes, its client sends a
payload and reads it back.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tlskit import (
    AlertDescription,
    CertificateVerificationError,
    ClientConfig,
)
from tlskit.ca import LocalCA
from tlskit.enums import ExtensionType
from tlskit.session import SessionCache
from tlskit.x509.ct import CTPolicy

from ..support.ct import SigningLog
from ..support.golang import build_go
from ..support.peers import PeerProcess
from ..support.pump import Pump, tlskit_server
from .conftest import PKI, Peers
from .helpers import (
    ECHO_PAYLOAD,
    SCHEME_FOR_CERT,
    alert_after_handshake,
    alpn_peer_client_to_tlskit_server,
    alpn_tlskit_client_to_peer_server,
    handshake_and_echo,
    key_update_on_new_connection,
    listening_peer,
    peer_json_lines,
    run_peer,
    talk,
    two_connections,
)

pytestmark = pytest.mark.interop

SOURCE = Path(__file__).parent / "go" / "tlspeer.go"
# Go's names for the suites both stacks implement (tls.CipherSuiteName).
TLS12_SUITES = {
    "ec256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "rsa2048": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
}
PAYLOAD = ECHO_PAYLOAD


@pytest.fixture(scope="session")
def go_peer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tlspeer built from source with the local toolchain; never the network."""
    return build_go(SOURCE, tmp_path_factory.mktemp("go"))


def go_server(peers: Peers, go_peer: Path, pki: PKI, kind: str = "ec256",
              *args: str) -> tuple[PeerProcess, int]:
    files = pki.files[kind]
    return listening_peer(peers, [go_peer, "-mode", "server", "-cert", files.fullchain,
                                  "-key", files.key, *args])


def _run_go_client(go_peer: Path, pki: PKI, port: int, args: tuple[str, ...],
                   status: int) -> str:
    """The Go client run to completion, which must exit with ``status``; its output."""
    return run_peer([str(go_peer), "-mode", "client", "-addr", f"127.0.0.1:{port}",
                     "-ca", str(pki.root_pem), *args], status)


def go_client(go_peer: Path, pki: PKI, port: int, *args: str) -> list[dict[str, Any]]:
    """Run the Go client to completion; its JSON lines (one per connection). A failure
    fails the test with Go's own words."""
    return peer_json_lines(_run_go_client(go_peer, pki, port, args, 0))


def go_client_error(go_peer: Path, pki: PKI, port: int, *args: str) -> str:
    """Run the Go client, which must fail (exit 1); what it printed."""
    return _run_go_client(go_peer, pki, port, args, 1)


# ------------------------------------------------------------------ tlskit client, Go server

@pytest.mark.parametrize("kind", ["ec256", "rsa2048", "ed25519"])
def test_tlskit_client_to_go_server_tls13(peers: Peers, go_peer: Path, pki: PKI,
                                          kind: str) -> None:
    _, port = go_server(peers, go_peer, pki, kind, "-min", "1.3")
    hc, go = talk(pki.client_config(), port)
    assert hc.version == go["version"] == "TLSv1.3"
    assert hc.cipher_suite.name == go["cipher_suite"]
    assert hc.signature_scheme is not None
    assert hc.signature_scheme.name == SCHEME_FOR_CERT[kind]
    assert go["server_name"] == "localhost" and not go["did_resume"]


@pytest.mark.parametrize("kind", ["ec256", "rsa2048"])
def test_tlskit_client_to_go_server_tls12(peers: Peers, go_peer: Path, pki: PKI,
                                          kind: str) -> None:
    _, port = go_server(peers, go_peer, pki, kind, "-max", "1.2")
    hc, go = talk(pki.client_config(versions=["TLSv1.2"]), port)
    assert hc.version == go["version"] == "TLSv1.2"
    assert go["cipher_suite"] == TLS12_SUITES[kind] == hc.cipher_suite.name


@pytest.mark.parametrize("group", ["secp256r1", "secp384r1", "secp521r1"])
def test_go_server_preferring_another_group_gets_a_retry(
        peers: Peers, go_peer: Path, pki: PKI, group: str) -> None:
    """Go accepts only ``group``, which tlskit offers without a key share (its default
    share is x25519): Go sends a HelloRetryRequest and tlskit answers with that group."""
    _, port = go_server(peers, go_peer, pki, "ec256", "-min", "1.3", "-curves", group)
    hc, _ = talk(pki.client_config(groups=["x25519", group]), port)
    assert hc.group is not None and hc.group.name == group


def test_tlskit_client_resumes_with_go_server_tls13(peers: Peers, go_peer: Path,
                                                    pki: PKI) -> None:
    """Go's server issues NewSessionTickets; tlskit's second connection resumes with one
    and Go says it resumed."""
    _, port = go_server(peers, go_peer, pki, "ec256", "-min", "1.3", "-n", "2")
    config = pki.client_config(session_cache=SessionCache())
    assert two_connections(config, port, "did_resume") == [(False, False), (True, True)]


def test_tlskit_client_tls12_resumes_go_sessions_only_with_ems(
        peers: Peers, go_peer: Path, pki: PKI) -> None:
    """TLS 1.2 resumption needs the extended master secret on tlskit's side (RFC 7627
    5.3, the triple-handshake fix): Go added it in 1.21, so with Debian's Go 1.19 tlskit
    keeps no session and the second connection is a full handshake on both sides (Go
    still issued a ticket); a Go that negotiates it is resumed."""
    _, port = go_server(peers, go_peer, pki, "ec256", "-max", "1.2", "-n", "2")
    ems: list[bool] = []

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if step == "server_hello":
            ems.append(ExtensionType.extended_master_secret in fields["message"].extensions)

    config = pki.client_config(versions=["TLSv1.2"], session_cache=SessionCache(),
                               tracer=tracer)
    seen = two_connections(config, port, "did_resume")
    assert seen == ([(False, False), (True, True)] if ems[0]
                    else [(False, False), (False, False)])


def test_tlskit_client_certificate_to_go_server(peers: Peers, go_peer: Path,
                                                pki: PKI) -> None:
    """Go requires and verifies a client certificate (RequireAndVerifyClientCert)."""
    issued, _ = pki.client_cert("go-client")
    _, port = go_server(peers, go_peer, pki, "ec256", "-ca", str(pki.root_pem))
    _, go = talk(pki.client_config(issued), port)
    assert go["peer_subjects"] and "go-client" in go["peer_subjects"][0]


def test_tlskit_client_without_certificate_is_refused_by_go(
        peers: Peers, go_peer: Path, pki: PKI) -> None:
    """No client certificate where Go requires one: tlskit's handshake completes (TLS 1.3
    clients finish first) and Go's alert then ends the connection, reported as such."""
    proc, port = go_server(peers, go_peer, pki, "ec256", "-ca", str(pki.root_pem))
    alert = alert_after_handshake(pki.client_config(), port).alert
    # certificate_required (RFC 8446 4.4.2.4) from Go 1.21 on; Go 1.19 says bad_certificate.
    assert alert in (AlertDescription.certificate_required, AlertDescription.bad_certificate)
    proc.wait_for(rb"HANDSHAKE ERROR [^\n]*certificate")


def test_key_update_both_ways_with_go(peers: Peers, go_peer: Path, pki: PKI) -> None:
    """tlskit's KeyUpdate with update_requested: Go installs the new key (the echo after
    it still decrypts) and answers with its own, which tlskit reports."""
    _, port = go_server(peers, go_peer, pki, "ec256", "-min", "1.3")
    key_update_on_new_connection(pki.client_config(), port)


def test_tlskit_client_rejects_go_server_with_untrusted_chain(
        peers: Peers, go_peer: Path, pki: PKI, tmp_path: Path) -> None:
    """tlskit does not trust the chain: it says which certificate and why, and Go's server
    logs the alert tlskit sent (unknown_ca as "unknown certificate authority")."""
    other = LocalCA.create(directory=None)
    proc, port = go_server(peers, go_peer, pki, "ec256")
    with pytest.raises(CertificateVerificationError) as err:
        Pump.handshake_once(ClientConfig(trust_anchors=[other.root]), port)
    assert err.value.alert == AlertDescription.unknown_ca
    proc.wait_for(rb"HANDSHAKE ERROR [^\n]*unknown certificate authority")


# ------------------------------------------------------------------ Go client, tlskit server

@pytest.mark.parametrize("kind", ["ec256", "rsa2048", "ed25519"])
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_go_client_to_tlskit_server(peers: Peers, go_peer: Path, pki: PKI, kind: str,
                                    version: str) -> None:
    """Go verifies tlskit's chain with its own verifier and echoes a payload."""
    server = peers.thread(tlskit_server(pki.server_config(kind, versions=[version]),
                                        handshake_and_echo))
    max_v = "1.3" if version == "TLSv1.3" else "1.2"
    (line,) = go_client(go_peer, pki, server.port, "-max", max_v, "-send", str(PAYLOAD))
    (hc,) = server.join()
    assert line["version"] == hc.version == version
    assert line["cipher_suite"] == hc.cipher_suite.name
    subjects = [c.subject.rfc4514_string() for c in pki.issued[kind].chain]
    assert len(line["peer_subjects"]) == len(subjects) == 2  # leaf and intermediate


def test_go_client_resumes_with_tlskit_server_tls13(peers: Peers, go_peer: Path,
                                                    pki: PKI) -> None:
    """Go's client cache holds tlskit's ticket; its second connection resumes and both
    sides say so."""
    server = peers.thread(tlskit_server(pki.server_config(), handshake_and_echo, count=2))
    lines = go_client(go_peer, pki, server.port, "-min", "1.3", "-n", "2", "-send", "1000")
    assert [line["did_resume"] for line in lines] == [False, True]
    assert [hc.resumed for hc in server.join()] == [False, True]


def test_go_client_tls12_resumes_tlskit_sessions_only_with_ems(
        peers: Peers, go_peer: Path, pki: PKI) -> None:
    """The server side of RFC 7627 5.3: tlskit makes no TLS 1.2 session (ticket or ID)
    from a handshake without the extended master secret, which Go's client offers only
    from 1.21 on; so with Debian's Go 1.19 both connections are full handshakes."""
    ems: list[bool] = []

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if step == "client_hello":
            ems.append(ExtensionType.extended_master_secret in fields["message"].extensions)

    server = peers.thread(tlskit_server(
        pki.server_config(versions=["TLSv1.2"], tracer=tracer), handshake_and_echo,
        count=2))
    lines = go_client(go_peer, pki, server.port, "-max", "1.2", "-n", "2", "-send", "1000")
    resumed = [hc.resumed for hc in server.join()]
    assert [line["did_resume"] for line in lines] == resumed
    assert resumed == ([False, True] if ems[0] else [False, False])


@pytest.mark.parametrize("group", ["secp256r1", "secp384r1", "secp521r1"])
def test_go_client_with_one_group(peers: Peers, go_peer: Path, pki: PKI, group: str) -> None:
    """Go offering a single group (its key share for it): tlskit's server accepts every
    group it implements, as the conformance probes ask, without a retry."""
    server = peers.thread(tlskit_server(pki.server_config(), handshake_and_echo))
    go_client(go_peer, pki, server.port, "-min", "1.3", "-curves", group, "-send", "100")
    (hc,) = server.join()
    assert hc.group is not None and hc.group.name == group


def test_alpn_with_go_both_ways(peers: Peers, go_peer: Path, pki: PKI) -> None:
    alpn_peer_client_to_tlskit_server(peers, pki, lambda port: go_client(
        go_peer, pki, port, "-alpn", "http/1.1,h2", "-send", "10"))
    _, port = go_server(peers, go_peer, pki, "ec256", "-alpn", "http/1.1")
    alpn_tlskit_client_to_peer_server(pki, port)


def test_go_client_certificate_to_tlskit_server(peers: Peers, go_peer: Path,
                                                pki: PKI) -> None:
    _, files = pki.client_cert("go-side")
    server = peers.thread(tlskit_server(
        pki.server_config_requiring_a_client(), handshake_and_echo))
    go_client(go_peer, pki, server.port, "-cert", str(files.fullchain), "-key",
              str(files.key), "-send", "100")
    (hc,) = server.join()
    assert hc.peer_certificates[0].subject.rfc4514_string().endswith("go-side")


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_go_client_holds_back_a_certificate_the_named_cas_did_not_issue(
        peers: Peers, go_peer: Path, pki: PKI, version: str) -> None:
    """Go reads tlskit's certificate_authorities (TLS 1.3) / CA list (TLS 1.2): the server
    names only another CA, so Go's client (SupportsCertificate) sends no certificate and
    tlskit's server says so (certificate_required, or TLS 1.2's handshake_failure)."""
    _, files = pki.client_cert("go-side")
    other = LocalCA.create(directory=None, name="another client CA")
    config = pki.server_config("ec256", client_auth="required",
                               client_trust_anchors=[other.root])
    server = peers.thread(tlskit_server(config, Pump.handshake_error))
    _run_go_client(go_peer, pki, server.port, ("-cert", str(files.fullchain), "-key",
                                               str(files.key), "-min", version, "-max",
                                               version),
                   0 if version == "1.3" else 1)  # (a 1.3 client finishes first)
    (err,) = server.join()
    assert err.alert == (AlertDescription.certificate_required if version == "1.3"
                         else AlertDescription.handshake_failure)
    assert "the client sent no certificate" in str(err)


def test_go_client_rejects_a_name_mismatch(peers: Peers, go_peer: Path, pki: PKI) -> None:
    """Go checks the name against tlskit's certificate: a wrong name fails in Go with its
    verifier's words, and tlskit's server reports Go's bad_certificate alert."""
    server = peers.thread(tlskit_server(pki.server_config(), Pump.handshake_error))
    out = go_client_error(go_peer, pki, server.port, "-name", "not-localhost.example")
    assert "certificate is valid for" in out and "not not-localhost.example" in out
    (err,) = server.join()
    assert getattr(err, "alert", None) == AlertDescription.bad_certificate


# ------------------------------------------------------------------ Certificate Transparency

@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_scts_from_go_server_reach_the_tlskit_client(peers: Peers, go_peer: Path, pki: PKI,
                                                    version: str) -> None:
    """RFC 6962 3.3: Go serves Certificate.SignedCertificateTimestamps (TLS 1.3: on the
    leaf's CertificateEntry; TLS 1.2: in ServerHello); tlskit receives the same bytes and
    its CTPolicy verifies them."""
    log = SigningLog("go test log")
    scts = [log.sct(pki.issued["ec256"].chain[0]), log.sct(pki.issued["ec256"].chain[0])]
    max_v = "1.3" if version == "TLSv1.3" else "1.2"
    _, port = go_server(peers, go_peer, pki, "ec256", "-max", max_v, "-min", max_v,
                        "-scts", ",".join(base64.b64encode(s).decode() for s in scts))
    hc, go = talk(pki.client_config(ct_policy=CTPolicy([log.ct_log()])), port)
    assert hc.version == go["version"] == version
    assert hc.signed_certificate_timestamps == tuple(scts)


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_go_client_receives_tlskit_scts(peers: Peers, go_peer: Path, pki: PKI,
                                        version: str) -> None:
    """Go's client always asks for SCTs (ConnectionState.SignedCertificateTimestamps):
    it reads tlskit's exactly, in both versions."""
    scts = [SigningLog().sct(pki.issued["ec256"].chain[0])]
    server = peers.thread(tlskit_server(pki.server_config(versions=[version], scts=scts),
                                        handshake_and_echo))
    max_v = "1.3" if version == "TLSv1.3" else "1.2"
    (line,) = go_client(go_peer, pki, server.port, "-max", max_v, "-send", str(PAYLOAD))
    (hc,) = server.join()
    assert line["version"] == hc.version == version
    assert [base64.b64decode(s) for s in line["scts"]] == scts
