"""tlskit against rustls, both ways: a TLS stack written in Rust (on ring's primitives and
webpki's verifier) that shares no code with OpenSSL, GnuTLS, NSS, Go or Java, and is strict
in its own ways (no TLS 1.0/1.1, no CBC, no RSA key exchange, EMS whenever offered).

The peer is `rustls/` (a small Cargo project, `src/main.rs`), built once per session,
offline, against the rustls 0.20.8 sources Debian packages (librust-rustls-dev, installed
with cargo by .ci/install-test-deps.sh); a build from nothing takes 10 to 25 s. Its server
sends one JSON line describing the connection (version, suite, ALPN, resumption, the
client's signature scheme and certificates, SNI), then echoes until close_notify and prints
how much it echoed with its SHA-256; its client sends a payload, reads it back, closes and
prints the same kind of line. Errors are printed in rustls' own words
(`AlertReceived(UnknownCA)`, `InvalidCertificateData(...)`), so each failure test checks
both sides: tlskit's exception and alert, and what rustls made of it.

Beyond the basics (versions, certificate types, every suite and group, retries,
resumption, ALPN, client certificates, KeyUpdate, 4 MiB echoes, close_notify from either
side, failures), the peer cuts its records to 27 bytes, sends and accepts 0-RTT data,
sends 0.5-RTT data, and resumes after a retry or with a client certificate. rustls 0.20
has no API to send a KeyUpdate (it answers one) and does not report the group, the
resumption or the peer's signature: the peer finds those out itself (see the top of
main.rs), and the group is checked on tlskit's side with the peer restricted to it.
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tlskit import (
    AlertDescription,
    AlertReceived,
    CertificateVerificationError,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    DataReceived,
    IllegalParameter,
)
from tlskit.ca import LocalCA
from tlskit.enums import SignatureScheme
from tlskit.session import SessionCache
from tlskit.x509.errors import Reason

from ..support.peers import PeerProcess
from ..support.ports import HOST, TIMEOUT
from ..support.pump import Pump, tlskit_server
from ..support.rust import build_rust
from . import helpers
from .conftest import PKI, Peers
from .helpers import (
    GROUPS,
    RETRY_CASES,
    SCHEME_FOR_CERT,
    TLS12_ECDHE_AEAD_SUITES,
    alert_after_handshake,
    alpn_peer_client_to_tlskit_server,
    alpn_tlskit_client_to_peer_server,
    client_pattern,
    echo_and_close_event,
    echo_payload,
    ems_tracer,
    handshake_and_echo,
    key_update_on_new_connection,
    key_update_then_echo,
    line_then_echo,
    line_then_peer_close,
    talk,
    two_connections,
)

pytestmark = pytest.mark.interop

PROJECT = Path(__file__).parent / "rustls"
TLS13_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256")
# Every TLS 1.2 suite rustls 0.20 implements (ECDHE with AEADs only), with a certificate
# its authentication needs.
TLS12_SUITES = TLS12_ECDHE_AEAD_SUITES
VERSION_FLAG = {"TLSv1.3": "1.3", "TLSv1.2": "1.2"}
BIG = 4 << 20  # bytes for the large transfers: 256 full records each way
# The scheme rustls signs with for each key type, in both versions: for RSA it prefers
# the strongest PSS hash tlskit offers.
RUSTLS_SCHEME = {**SCHEME_FOR_CERT, "rsa2048": "rsa_pss_rsae_sha512"}


@dataclass
class Rustls:
    """The built peer, run with the session PKI's files."""

    binary: Path
    pki: PKI

    def server(self, peers: Peers, kind: str = "ec256",
               *args: str) -> tuple[PeerProcess, int]:
        """A rustls server with ``kind``'s chain; with the port it listens on."""
        files = self.pki.files[kind]
        return helpers.listening_peer(peers, [self.binary, "--mode", "server", "--cert",
                                              files.fullchain, "--key", files.key, *args])

    def client(self, port: int, *args: str, status: int = 0) -> str:
        """The rustls client run to completion, which must exit with ``status`` (trusting
        the test root unless ``args`` name another); its output."""
        ca = () if "--ca" in args else ("--ca", str(self.pki.root_pem))
        return helpers.run_peer([str(self.binary), "--mode", "client", "--port", str(port),
                                 *ca, *args], status)

    def lines(self, port: int, *args: str) -> list[dict[str, Any]]:
        """The rustls client's JSON lines (one per connection); a failure fails the test
        with rustls' own words."""
        return helpers.peer_json_lines(self.client(port, *args))


@pytest.fixture(scope="session")
def rustls(tmp_path_factory: pytest.TempPathFactory, pki: PKI) -> Rustls:
    """rustls-peer built from source against Debian's crates; never the network."""
    return Rustls(build_rust(PROJECT, tmp_path_factory.mktemp("rustls")), pki)



def fingerprints(chain: list[Any]) -> list[str]:
    """SHA-256 of each certificate's DER, as the peer prints its peer's chain."""
    return [hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest() for cert in chain]


def scheme_name(line: dict[str, Any]) -> str | None:
    code = line["signature_scheme"]
    return None if code is None else SignatureScheme(code).name


def client_signature_tracer(signed: list[str]) -> Any:
    """A server tracer noting the scheme of each client CertificateVerify."""

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if step == "client_certificate_verify":
            signed.append(fields["scheme"])

    return tracer


# ------------------------------------------------------------------ tlskit client, rustls server

@pytest.mark.parametrize("kind", ["ec256", "ec384", "rsa2048", "ed25519"])
def test_tlskit_client_to_rustls_server_tls13(peers: Peers, rustls: Rustls, pki: PKI,
                                              kind: str) -> None:
    _, port = rustls.server(peers, kind, "--versions", "1.3")
    hc, line = talk(pki.client_config(), port)
    assert hc.version == line["version"] == "TLSv1.3"
    assert hc.cipher_suite.name == line["cipher_suite"]
    assert hc.signature_scheme is not None
    assert hc.signature_scheme.name == RUSTLS_SCHEME[kind]
    assert fingerprints(hc.peer_certificates) == fingerprints(pki.issued[kind].chain)
    assert line["server_name"] == "localhost" and not line["resumed"]
    assert line["peer_certificates_sha256"] == []  # no client certificate asked for


@pytest.mark.parametrize("kind", ["ec256", "ec384", "rsa2048", "ed25519"])
def test_tlskit_client_to_rustls_server_tls12(peers: Peers, rustls: Rustls, pki: PKI,
                                              kind: str) -> None:
    """rustls signs its ServerKeyExchange with each key type, Ed25519 included (RFC 8422),
    and always negotiates the extended master secret."""
    ems: list[bool] = []
    _, port = rustls.server(peers, kind, "--versions", "1.2")
    hc, line = talk(pki.client_config(versions=["TLSv1.2"], tracer=ems_tracer(
        "server_hello", ems)), port)
    assert hc.version == line["version"] == "TLSv1.2"
    assert hc.cipher_suite.name == line["cipher_suite"]
    assert hc.signature_scheme is not None
    assert hc.signature_scheme.name == RUSTLS_SCHEME[kind]
    assert ems == [True]



@pytest.mark.parametrize(("version", "scheme"), helpers.RSA_SCHEMES)
def test_rustls_server_signs_with_each_rsa_scheme(peers: Peers, rustls: Rustls, pki: PKI,
                                                  version: str, scheme: str) -> None:
    """tlskit offering one RSA scheme: rustls signs its CertificateVerify (TLS 1.3) or
    ServerKeyExchange (TLS 1.2) with it, and tlskit checks the signature."""
    _, port = rustls.server(peers, "rsa2048", "--versions", VERSION_FLAG[version])
    hc, line = talk(pki.client_config(versions=[version], signature_schemes=[scheme]), port)
    assert hc.signature_scheme is not None and hc.signature_scheme.name == scheme
    assert line["version"] == version


@pytest.mark.parametrize(("version", "scheme"), helpers.RSA_SCHEMES)
def test_tlskit_server_with_one_rsa_scheme_to_rustls(peers: Peers, rustls: Rustls,
                                                     pki: PKI, version: str,
                                                     scheme: str) -> None:
    """tlskit's server restricted to one RSA scheme (ServerConfig.signature_schemes) signs
    with it, which rustls verifies, and asks for it in its CertificateRequest, so rustls
    signs its client certificate's CertificateVerify with it too. (tlskit's server used
    to ignore the setting on both counts.)"""
    _, files = pki.client_cert("rustls-rsa", "rsa2048")
    signed: list[str] = []
    tracer = client_signature_tracer(signed)
    server = peers.thread(tlskit_server(
        pki.server_config_requiring_a_client("rsa2048", versions=[version],
                                             signature_schemes=[scheme], tracer=tracer),
        handshake_and_echo))
    (line,) = rustls.lines(server.port, "--cert", str(files.fullchain), "--key",
                           str(files.key), "--send", "100")
    (hc,) = server.join()
    assert scheme_name(line) == scheme == (hc.signature_scheme and hc.signature_scheme.name)
    assert signed == [scheme]


@pytest.mark.parametrize("suite", TLS13_SUITES + tuple(TLS12_SUITES))
def test_rustls_server_with_each_suite(peers: Peers, rustls: Rustls, pki: PKI,
                                       suite: str) -> None:
    """rustls offering a single suite: tlskit's default client takes each one."""
    kind = TLS12_SUITES.get(suite, "ec256")
    _, port = rustls.server(peers, kind, "--suites", suite)
    hc, line = talk(pki.client_config(), port, 70_000)
    assert hc.cipher_suite.name == line["cipher_suite"] == suite
    assert hc.version == ("TLSv1.2" if suite in TLS12_SUITES else "TLSv1.3")


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_rustls_server_with_one_group(peers: Peers, rustls: Rustls, pki: PKI,
                                      group: str, version: str) -> None:
    """rustls accepting only ``group``; tlskit sends an x25519 share, so in TLS 1.3
    rustls asks for ``group`` with a HelloRetryRequest when it is another one, and the
    second ClientHello carries it. In TLS 1.2 the group is the ServerKeyExchange's curve.
    (Without middlebox compatibility: see the next test.)"""
    steps: list[str] = []
    _, port = rustls.server(peers, "ec256", "--groups", group,
                            "--versions", VERSION_FLAG[version])
    config = pki.client_config(groups=list(GROUPS), versions=[version],
                               middlebox_compat=False,
                               tracer=lambda step, fields: steps.append(step))
    hc, line = talk(config, port)
    assert hc.group is not None and hc.group.name == group
    assert line["version"] == version
    retried = version == "TLSv1.3" and group != "x25519"
    assert ("hello_retry_request" in steps) == retried


def test_rustls_retry_request_without_the_session_id_is_refused(
        peers: Peers, rustls: Rustls, pki: PKI) -> None:
    """rustls 0.20's HelloRetryRequest echoes an empty legacy_session_id whatever the
    client sent (fixed in rustls 0.21.7). tlskit in middlebox compatibility mode (the
    default: a 32-byte session ID, RFC 8446 D.4) aborts with illegal_parameter, as RFC
    8446 4.1.3 and 4.1.4 ask and as OpenSSL's and Go's clients do; rustls reports it."""
    proc, port = rustls.server(peers, "ec256", "--groups", "secp384r1")
    err = Pump.failed_handshake(pki.client_config(groups=["x25519", "secp384r1"]), port)
    assert isinstance(err, IllegalParameter) and "legacy_session_id" in str(err)
    assert err.alert == AlertDescription.illegal_parameter
    proc.wait_for(rb"HANDSHAKE ERROR AlertReceived\(IllegalParameter\)", stream="stderr")


@pytest.mark.parametrize("tickets", [False, True], ids=["stateful", "stateless"])
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tlskit_client_resumes_with_rustls_server(peers: Peers, rustls: Rustls,
                                                  pki: PKI, version: str,
                                                  tickets: bool) -> None:
    """rustls keeps sessions in its cache (TLS 1.3 tickets naming a cache entry, TLS 1.2
    session IDs) or, with a ticketer, in self-encrypted tickets (both versions); either
    way tlskit's second connection resumes and both sides say so."""
    flags = ("--tickets",) if tickets else ()
    steps: list[str] = []
    _, port = rustls.server(peers, "ec256", "--n", "2",
                            "--versions", VERSION_FLAG[version], *flags)
    config = pki.client_config(versions=[version], session_cache=SessionCache(),
                               tracer=lambda step, fields: steps.append(step))
    seen = []
    for _ in range(2):
        hc, line = talk(config, port)
        seen.append((hc.resumed, line["resumed"], hc.signature_scheme is None))
    assert seen == [(False, False, False), (True, True, True)]
    # A TLS 1.2 session ID needs no ticket; every other case resumed with one.
    assert ("new_session_ticket" in steps) == (tickets or version == "TLSv1.3")


def test_alpn_tlskit_client_to_rustls_server(peers: Peers, rustls: Rustls,
                                             pki: PKI) -> None:
    _, port = rustls.server(peers, "ec256", "--alpn", "http/1.1,h2")
    alpn_tlskit_client_to_peer_server(pki, port)


def test_tlskit_client_without_common_alpn_to_rustls(peers: Peers, rustls: Rustls,
                                                     pki: PKI) -> None:
    """No protocol in common: rustls refuses with no_application_protocol (RFC 7301 3.2)."""
    proc, port = rustls.server(peers, "ec256", "--alpn", "h2")
    err = Pump.failed_handshake(pki.client_config(alpn_protocols=["http/1.1"]), port)
    assert isinstance(err, AlertReceived)
    assert err.alert == AlertDescription.no_application_protocol
    proc.wait_for(rb"HANDSHAKE ERROR NoApplicationProtocol", stream="stderr")


@pytest.mark.parametrize("kind", ["ec256", "ec384", "rsa2048", "ed25519"])
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tlskit_client_certificate_to_rustls_server(peers: Peers, rustls: Rustls,
                                                    pki: PKI, version: str,
                                                    kind: str) -> None:
    """rustls requires a client certificate from the test root and verifies it (each key
    type); it reports tlskit's chain and the scheme tlskit signed with (tlskit's first
    choice for the key among those rustls asks for)."""
    issued, _ = pki.client_cert(f"tlskit-{kind}", kind)
    _, port = rustls.server(peers, "ec256", "--ca", str(pki.root_pem))
    config = pki.client_config(issued, versions=[version])
    _hc, line = talk(config, port)
    assert line["peer_certificates_sha256"] == fingerprints(issued.chain)
    # TLS 1.2 does not bind ECDSA to a curve: tlskit signs SHA-256 with any EC key there.
    tls12 = {"ec384": "ecdsa_secp256r1_sha256"} if version == "TLSv1.2" else {}
    assert scheme_name(line) == {**SCHEME_FOR_CERT, **tls12}[kind]


def test_tlskit_client_without_certificate_is_refused_by_rustls_tls13(
        peers: Peers, rustls: Rustls, pki: PKI) -> None:
    """No client certificate where rustls requires one: tlskit's TLS 1.3 handshake
    completes (the client finishes first), then rustls' certificate_required (RFC 8446
    4.4.2.4) ends the connection."""
    proc, port = rustls.server(peers, "ec256", "--ca", str(pki.root_pem))
    alert = alert_after_handshake(pki.client_config(), port).alert
    assert alert == AlertDescription.certificate_required
    proc.wait_for(rb"HANDSHAKE ERROR NoCertificatesPresented", stream="stderr")


def test_tlskit_client_without_certificate_is_refused_by_rustls_tls12(
        peers: Peers, rustls: Rustls, pki: PKI) -> None:
    """The same in TLS 1.2, where the server reads the client's empty Certificate before
    the handshake ends: rustls 0.20 sends certificate_required there too (a TLS 1.3 alert;
    RFC 5246 7.4.6 says handshake_failure), and tlskit reports the alert it received."""
    proc, port = rustls.server(peers, "ec256", "--ca", str(pki.root_pem))
    err = Pump.failed_handshake(pki.client_config(versions=["TLSv1.2"]), port)
    assert isinstance(err, AlertReceived)
    assert err.alert == AlertDescription.certificate_required
    proc.wait_for(rb"HANDSHAKE ERROR NoCertificatesPresented", stream="stderr")


def test_key_update_both_ways_with_rustls(peers: Peers, rustls: Rustls,
                                          pki: PKI) -> None:
    """tlskit's KeyUpdate with update_requested: rustls installs the new key (the echo
    after it still decrypts) and answers with its own KeyUpdate, which tlskit reports."""
    _, port = rustls.server(peers, "ec256", "--versions", "1.3")
    updates = key_update_on_new_connection(pki.client_config(), port)
    assert [ku.peer_requested_update for ku in updates] == [False]


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_large_echo_tlskit_client_to_rustls_server(peers: Peers, rustls: Rustls,
                                                   pki: PKI, version: str) -> None:
    """4 MiB each way: tlskit checks the echo byte for byte, rustls reports the SHA-256 of
    what it received, and the connection ends with close_notify both ways (rustls prints
    ECHOED only after reading tlskit's close_notify; a bare TCP EOF is an error to it)."""
    proc, port = rustls.server(peers, "ec256", "--versions",
                               VERSION_FLAG[version])
    talk(pki.client_config(), port, BIG)
    digest = hashlib.sha256(echo_payload(BIG)).hexdigest()
    proc.wait_for(f"ECHOED {BIG} {digest}\n")


def test_rustls_server_closes_first(peers: Peers, rustls: Rustls, pki: PKI) -> None:
    """rustls sends close_notify right after its line: tlskit reports a clean close and
    answers with its own, which rustls reads before it prints CLOSED."""
    proc, port = rustls.server(peers, "ec256", "--close-first")
    line_then_peer_close(pki.client_config(), port)
    proc.wait_for(rb"CLOSED\n")


def test_tlskit_client_rejects_rustls_server_with_untrusted_chain(
        peers: Peers, rustls: Rustls, pki: PKI) -> None:
    """tlskit does not trust the chain: unknown_issuer, sent as unknown_ca, which rustls
    reports receiving."""
    proc, port = rustls.server(peers, "ec256")
    other = LocalCA.create(directory=None)
    err = Pump.failed_handshake(ClientConfig(trust_anchors=[other.root]), port)
    assert isinstance(err, CertificateVerificationError)
    assert err.reason == Reason.unknown_issuer and err.alert == AlertDescription.unknown_ca
    proc.wait_for(rb"HANDSHAKE ERROR AlertReceived\(UnknownCA\)", stream="stderr")


def test_tlskit_client_rejects_rustls_server_with_wrong_name(
        peers: Peers, rustls: Rustls, pki: PKI) -> None:
    proc, port = rustls.server(peers, "ec256")
    err = Pump.failed_handshake(pki.client_config(), port,
                                server_name="not-localhost.example")
    assert isinstance(err, CertificateVerificationError)
    assert err.reason == Reason.hostname_mismatch
    assert err.alert == AlertDescription.bad_certificate
    proc.wait_for(rb"HANDSHAKE ERROR AlertReceived\(BadCertificate\)", stream="stderr")


@pytest.mark.parametrize(("ours", "theirs", "rustls_says"), [
    ({"cipher_suites": ["TLS_AES_128_GCM_SHA256"]},
     ("--suites", "TLS_AES_256_GCM_SHA384"),
     rb'PeerIncompatibleError\("no ciphersuites in common"\)'),
    ({"groups": ["secp256r1"]}, ("--groups", "x25519"),
     rb'PeerIncompatibleError\("no kx group overlap with client"\)'),
    ({"versions": ["TLSv1.2"]}, ("--versions", "1.3"),
     rb'PeerIncompatibleError\("Server requires TLS1.3, but client omitted versions '
     rb'ext"\)'),
], ids=["suite", "group", "version"])
def test_tlskit_client_and_rustls_server_with_nothing_in_common(
        peers: Peers, rustls: Rustls, pki: PKI, ours: dict[str, Any],
        theirs: tuple[str, ...], rustls_says: bytes) -> None:
    """Nothing to agree on: rustls refuses the ClientHello with handshake_failure (or
    protocol_version, for the version) and says why."""
    proc, port = rustls.server(peers, "ec256", *theirs)
    err = Pump.failed_handshake(pki.client_config(**ours), port)
    assert isinstance(err, AlertReceived)
    expected = ("protocol_version" if "versions" in ours else "handshake_failure")
    assert err.alert.name == expected
    proc.wait_for(b"HANDSHAKE ERROR " + rustls_says, stream="stderr")


# ------------------------------------------------------------------ rustls client, tlskit server

@pytest.mark.parametrize("kind", ["ec256", "ec384", "rsa2048", "ed25519"])
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_rustls_client_to_tlskit_server(peers: Peers, rustls: Rustls, pki: PKI,
                                        kind: str, version: str) -> None:
    """rustls verifies tlskit's chain with webpki and echoes a payload; both sides agree
    on what was negotiated, and the signature rustls checked is the one tlskit made."""
    server = peers.thread(tlskit_server(pki.server_config(kind, versions=[version]),
                                        handshake_and_echo))
    (line,) = rustls.lines(server.port, "--send", "1000")
    (hc,) = server.join()
    assert line["version"] == hc.version == version
    assert line["cipher_suite"] == hc.cipher_suite.name
    assert hc.signature_scheme is not None
    assert scheme_name(line) == hc.signature_scheme.name
    assert line["peer_certificates_sha256"] == fingerprints(pki.issued[kind].chain)
    assert hc.server_name == "localhost" and not line["resumed"]


@pytest.mark.parametrize("suite", TLS13_SUITES + tuple(TLS12_SUITES))
def test_rustls_client_with_each_suite(peers: Peers, rustls: Rustls, pki: PKI,
                                       suite: str) -> None:
    kind = TLS12_SUITES.get(suite, "ec256")
    server = peers.thread(tlskit_server(pki.server_config(kind), handshake_and_echo))
    (line,) = rustls.lines(server.port, "--suites", suite,
                           "--send", "70000")
    (hc,) = server.join()
    assert line["cipher_suite"] == hc.cipher_suite.name == suite
    assert line["sent_sha256"] == line["received_sha256"]


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_rustls_client_with_one_group(peers: Peers, rustls: Rustls, pki: PKI,
                                      group: str, version: str) -> None:
    """rustls offering one group (in TLS 1.3 its share for it): tlskit's server takes any
    group it implements, with no retry; in TLS 1.2 it is the ServerKeyExchange's curve,
    and rustls' supported_groups must also cover an ECDSA certificate's curve (RFC 8422
    5.1; see the failures below), hence a certificate to suit each group."""
    steps: list[str] = []
    kind = {"x25519": "rsa2048", "secp256r1": "ec256", "secp384r1": "ec384"}[group]
    config = pki.server_config(kind, tracer=lambda step, fields: steps.append(step))
    server = peers.thread(tlskit_server(config, handshake_and_echo))
    (line,) = rustls.lines(server.port, "--groups", group, "--versions",
                           VERSION_FLAG[version], "--send", "100")
    (hc,) = server.join()
    assert hc.group is not None and hc.group.name == group
    assert line["version"] == hc.version == version
    assert "hello_retry_request" not in steps


@pytest.mark.parametrize(("offered", "accepted"), RETRY_CASES)
def test_rustls_client_key_share_gets_a_retry(peers: Peers, rustls: Rustls, pki: PKI,
                                              offered: str, accepted: str) -> None:
    """rustls sends a share for its first group only; a tlskit server that accepts only
    a later one asks for it with a HelloRetryRequest, which rustls answers."""
    steps: list[str] = []
    config = pki.server_config(groups=[accepted],
                               tracer=lambda step, fields: steps.append(step))
    server = peers.thread(tlskit_server(config, handshake_and_echo))
    (line,) = rustls.lines(server.port, "--groups", offered,
                           "--send", "100")
    (hc,) = server.join()
    assert hc.group is not None and hc.group.name == accepted
    assert steps.count("hello_retry_request") == 1 and line["version"] == "TLSv1.3"


@pytest.mark.parametrize(("version", "flags"), [
    ("TLSv1.3", ()), ("TLSv1.2", ()), ("TLSv1.2", ("--no-tickets",))],
    ids=["tls13", "tls12-ticket", "tls12-session-id"])
def test_rustls_client_resumes_with_tlskit_server(peers: Peers, rustls: Rustls,
                                                  pki: PKI, version: str,
                                                  flags: tuple[str, ...]) -> None:
    """rustls' client cache holds tlskit's session (a TLS 1.3 ticket; a TLS 1.2 ticket,
    or a session ID when rustls asks for no ticket); its second connection resumes and
    both sides say so. rustls offers the extended master secret, which tlskit needs to
    keep a TLS 1.2 session (RFC 7627 5.3)."""
    ems: list[bool] = []
    note_ems = ems_tracer("client_hello", ems)
    steps: list[str] = []

    def tracer(step: str, fields: dict[str, Any]) -> None:
        steps.append(step)
        note_ems(step, fields)

    config = pki.server_config(versions=[version], tracer=tracer)
    server = peers.thread(tlskit_server(config, handshake_and_echo, count=2))
    lines = rustls.lines(server.port, "--n", "2", "--send", "1000", *flags)
    assert [line["resumed"] for line in lines] == [False, True]
    assert [hc.resumed for hc in server.join()] == [False, True]
    assert all(ems)
    assert ("new_session_ticket" in steps) == (flags == ())


def test_alpn_rustls_client_to_tlskit_server(peers: Peers, rustls: Rustls,
                                             pki: PKI) -> None:
    alpn_peer_client_to_tlskit_server(peers, pki, lambda port: rustls.lines(
        port, "--alpn", "http/1.1,h2", "--send", "10"))


@pytest.mark.parametrize("kind", ["ec256", "ec384", "rsa2048", "ed25519"])
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_rustls_client_certificate_to_tlskit_server(peers: Peers, rustls: Rustls,
                                                    pki: PKI, version: str,
                                                    kind: str) -> None:
    """tlskit's server requires and verifies rustls' client certificate (each key type),
    signed with rustls' first choice for the key."""
    issued, files = pki.client_cert(f"rustls-{kind}", kind)
    signed: list[str] = []
    tracer = client_signature_tracer(signed)
    server = peers.thread(tlskit_server(
        pki.server_config_requiring_a_client(versions=[version], tracer=tracer),
        handshake_and_echo))
    (line,) = rustls.lines(server.port, "--cert", str(files.fullchain),
                           "--key", str(files.key), "--send", "100")
    (hc,) = server.join()
    assert fingerprints(hc.peer_certificates) == fingerprints(issued.chain)
    assert line["version"] == version and signed == [RUSTLS_SCHEME[kind]]


def test_rustls_client_answers_tlskit_key_update(peers: Peers, rustls: Rustls,
                                                 pki: PKI) -> None:
    """tlskit's server sends a KeyUpdate with update_requested right after the handshake:
    rustls reads the echo under the new key and answers with its own KeyUpdate before its
    next application data (RFC 8446 4.6.3: rustls sends it then, not at once, hence the
    payload in two rounds)."""
    server = peers.thread(tlskit_server(pki.server_config(), key_update_then_echo))
    (line,) = rustls.lines(server.port, "--send", "100000",
                           "--rounds", "2")
    assert server.join() == [[False]]
    assert line["sent_sha256"] == line["received_sha256"]


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_large_echo_rustls_client_to_tlskit_server(peers: Peers, rustls: Rustls,
                                                   pki: PKI, version: str) -> None:
    """4 MiB each way, checked by hash on rustls' side and by count on tlskit's; rustls
    closes first and tlskit's server sees a clean close_notify."""
    server = peers.thread(tlskit_server(pki.server_config(versions=[version]),
                                        echo_and_close_event))
    (line,) = rustls.lines(server.port, "--send", str(BIG))
    digest = hashlib.sha256(client_pattern(BIG)).hexdigest()
    assert line["sent_sha256"] == line["received_sha256"] == digest
    assert server.join() == [(BIG, ConnectionClosed(None))]


def test_tlskit_server_closes_first_to_rustls(peers: Peers, rustls: Rustls,
                                              pki: PKI) -> None:
    """tlskit sends data and close_notify; rustls reads to the close_notify (a clean end,
    Ok(0) in rustls) and answers with its own, which tlskit reports as a clean close."""
    data = client_pattern(300_000)

    def send_and_close(pump: Pump) -> ConnectionClosed:
        pump.handshake()
        return pump.send_and_close(data)

    server = peers.thread(tlskit_server(pki.server_config(), send_and_close))
    (line,) = rustls.lines(server.port, "--send", "0")
    assert line["received"] == len(data)
    assert line["received_sha256"] == hashlib.sha256(data).hexdigest()
    assert server.join() == [ConnectionClosed(None)]


@pytest.mark.parametrize(("problem", "webpki_says"), [
    ("untrusted", "UnknownIssuer"), ("wrong-name", "CertNotValidForName")])
def test_rustls_client_rejects_tlskit_server(peers: Peers, rustls: Rustls, pki: PKI,
                                             stranger_root: Path, problem: str,
                                             webpki_says: str) -> None:
    """webpki refuses tlskit's chain (rustls trusts another root, or expects another
    name); rustls 0.20 sends bad_certificate for either, which tlskit's server reports."""
    args = (("--ca", str(stranger_root)) if problem == "untrusted"
            else ("--name", "not-localhost.example"))
    server = peers.thread(tlskit_server(pki.server_config(), Pump.handshake_error))
    out = rustls.client(server.port, *args, status=1)
    assert f'ERROR InvalidCertificateData("invalid peer certificate: {webpki_says}")' in out
    (err,) = server.join()
    assert isinstance(err, AlertReceived) and err.alert == AlertDescription.bad_certificate


@pytest.mark.parametrize(("ours", "theirs", "alert"), [
    ({"cipher_suites": ["TLS_AES_128_GCM_SHA256"]},
     ("--suites", "TLS_AES_256_GCM_SHA384"), "handshake_failure"),
    ({"groups": ["secp384r1"]}, ("--groups", "x25519,secp256r1"), "handshake_failure"),
    ({"versions": ["TLSv1.3"]}, ("--versions", "1.2"), "protocol_version"),
    ({"alpn_protocols": ["h2"]}, ("--alpn", "http/1.1"), "no_application_protocol"),
    ({"versions": ["TLSv1.2"]}, ("--groups", "x25519"), "handshake_failure"),
], ids=["suite", "group", "version", "alpn", "certificate-curve"])
def test_rustls_client_and_tlskit_server_with_nothing_in_common(
        peers: Peers, rustls: Rustls, pki: PKI, ours: dict[str, Any],
        theirs: tuple[str, ...], alert: str) -> None:
    """tlskit's server refuses the ClientHello with the alert RFC 8446 asks for, and
    rustls reports receiving it. The last case is TLS 1.2 with a P-256 ECDSA certificate
    and a rustls client listing x25519 alone in supported_groups: RFC 8422 5.1 has the
    server respect that list for its certificate's curve too, so tlskit refuses, as
    OpenSSL and Go do (rustls 0.20 lists only its key-exchange groups there)."""
    server = peers.thread(tlskit_server(pki.server_config(**ours), Pump.handshake_error))
    out = rustls.client(server.port, *theirs, status=1)
    assert helpers.refused_with(server) == alert
    rustls_name = "".join(part.title() for part in alert.split("_"))
    assert f"ERROR AlertReceived({rustls_name})" in out


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_rustls_client_without_certificate_refused_by_tlskit(
        peers: Peers, rustls: Rustls, pki: PKI, version: str) -> None:
    """tlskit requires a client certificate and rustls has none: tlskit sends
    certificate_required in TLS 1.3 (RFC 8446 4.4.2.4) and handshake_failure in TLS 1.2
    (RFC 5246 7.4.6), and rustls reports the alert."""
    server = peers.thread(tlskit_server(
        pki.server_config_requiring_a_client(versions=[version]), Pump.handshake_error))
    out = rustls.client(server.port, "--send", "10", status=1)
    alert = helpers.no_client_certificate_alert(version)
    assert helpers.refused_with(server) == alert
    rustls_name = "".join(part.title() for part in alert.split("_"))
    assert f"ERROR AlertReceived({rustls_name})" in out



# ------------------------------------------------- both ways: records, 0-RTT, resumption corners

@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_rustls_server_with_tiny_records(peers: Peers, rustls: Rustls, pki: PKI,
                                         version: str) -> None:
    """rustls cutting every record to 27 bytes of plaintext (max_fragment_size 32): its
    certificate chain arrives in some fifty records and its Certificate and
    CertificateVerify messages span several each, which tlskit reassembles, as it does
    the echo's 27-byte records."""
    _, port = rustls.server(peers, "rsa2048", "--max-fragment", "32", "--versions",
                            VERSION_FLAG[version])
    hc, line = talk(pki.client_config(), port, 20_000)
    assert hc.version == line["version"] == version
    assert len(hc.peer_certificates) == 2


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_rustls_client_with_tiny_records(peers: Peers, rustls: Rustls, pki: PKI,
                                         version: str) -> None:
    """The same from rustls' client: its ClientHello comes in a dozen records."""
    server = peers.thread(tlskit_server(pki.server_config("rsa2048", versions=[version]),
                                        handshake_and_echo))
    (line,) = rustls.lines(server.port, "--max-fragment", "32", "--send", "20000")
    (hc,) = server.join()
    assert line["version"] == hc.version == version
    assert line["sent_sha256"] == line["received_sha256"]


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_rustls_client_resumes_with_its_certificate(peers: Peers, rustls: Rustls,
                                                    pki: PKI, version: str) -> None:
    """A session made with client authentication resumes without it, and tlskit's server
    still knows the client's chain from the session."""
    issued, files = pki.client_cert("rustls-side")
    server = peers.thread(tlskit_server(
        pki.server_config_requiring_a_client(versions=[version]),
        handshake_and_echo, count=2))
    lines = rustls.lines(server.port, "--cert", str(files.fullchain), "--key",
                         str(files.key), "--send", "100", "--n", "2")
    hcs = server.join()
    assert [line["resumed"] for line in lines] == [h.resumed for h in hcs] == [False, True]
    assert [fingerprints(h.peer_certificates) for h in hcs] == [
        fingerprints(issued.chain)] * 2


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tlskit_client_resumes_with_its_certificate(peers: Peers, rustls: Rustls,
                                                    pki: PKI, version: str) -> None:
    """The other way: rustls' server keeps tlskit's chain in the session."""
    issued, _ = pki.client_cert("rustls-needs-me")
    _, port = rustls.server(peers, "ec256", "--ca", str(pki.root_pem), "--n", "2")
    config = pki.client_config(issued, versions=[version], session_cache=SessionCache())
    seen = []
    for _ in range(2):
        hc, line = talk(config, port)
        seen.append((hc.resumed, line["resumed"], line["peer_certificates_sha256"]))
    chain = fingerprints(issued.chain)
    assert seen == [(False, False, chain), (True, True, chain)]


def test_rustls_client_resumes_after_a_retry(peers: Peers, rustls: Rustls,
                                             pki: PKI) -> None:
    """rustls' first share is for a group tlskit's server does not take: the first
    connection goes through a HelloRetryRequest; rustls remembers the group with the
    ticket, so its resumption sends the right share at once, and tlskit checks its PSK
    binder."""
    steps: list[str] = []
    config = pki.server_config(groups=["secp256r1"],
                               tracer=lambda step, fields: steps.append(step))
    server = peers.thread(tlskit_server(config, handshake_and_echo, count=2))
    lines = rustls.lines(server.port, "--groups", "secp384r1,secp256r1", "--send", "100",
                         "--n", "2")
    hcs = server.join()
    assert [line["resumed"] for line in lines] == [h.resumed for h in hcs] == [False, True]
    assert steps.count("hello_retry_request") == 1


def test_tlskit_client_resumes_through_a_retry(peers: Peers, rustls: Rustls,
                                               pki: PKI) -> None:
    """tlskit offers its x25519 share again when resuming, so rustls (secp384r1 only)
    sends a HelloRetryRequest on both connections; the second ClientHello's PSK binder
    covers the retry's transcript (RFC 8446 4.2.11.2), and rustls resumes. (Without
    middlebox compatibility, for rustls 0.20's retry: see above.)"""
    steps: list[str] = []
    _, port = rustls.server(peers, "ec256", "--groups", "secp384r1", "--n", "2")
    config = pki.client_config(groups=["x25519", "secp384r1"], middlebox_compat=False,
                               session_cache=SessionCache(),
                               tracer=lambda step, fields: steps.append(step))
    assert two_connections(config, port) == [(False, False), (True, True)]
    assert steps.count("hello_retry_request") == 2


def test_tlskit_client_offering_only_psk_ke_to_rustls(peers: Peers, rustls: Rustls,
                                                      pki: PKI) -> None:
    """rustls resumes only with a fresh (EC)DHE exchange (psk_dhe_ke); offered psk_ke
    alone, it ignores the ticket and does a full handshake, which tlskit completes."""
    _, port = rustls.server(peers, "ec256", "--n", "2")
    config = pki.client_config(session_cache=SessionCache(), psk_modes=["psk_ke"])
    seen = []
    for _ in range(2):
        hc, line = talk(config, port)
        seen.append((hc.resumed, line["resumed"], hc.group is not None))
    assert seen == [(False, False, True), (False, False, True)]


def test_rustls_client_early_data_to_tlskit_server(peers: Peers, rustls: Rustls,
                                                   pki: PKI) -> None:
    """rustls' second connection sends 1000 bytes of 0-RTT data under tlskit's ticket;
    tlskit accepts and echoes them, and both sides say so."""
    server = peers.thread(tlskit_server(pki.server_config(max_early_data_size=16384),
                                        handshake_and_echo, count=2))
    lines = rustls.lines(server.port, "--early", "1000", "--send", "5000", "--n", "2")
    hcs = server.join()
    assert [(line["early_written"], line["early_accepted"]) for line in lines] == [
        (0, False), (1000, True)]
    assert [(h.resumed, h.early_data_accepted) for h in hcs] == [(False, False),
                                                                 (True, True)]


def test_tlskit_client_early_data_to_rustls_server(peers: Peers, rustls: Rustls,
                                                   pki: PKI) -> None:
    """rustls' tickets allow 16 KiB of 0-RTT data: tlskit's resumption sends some, rustls
    reads them before the handshake ends (and echoes them after its line)."""
    _, port = rustls.server(peers, "ec256", "--early", "16384", "--n", "2")
    line = helpers.resume_with_early_data(pki.client_config(session_cache=SessionCache()),
                                          port)
    assert line["early_data"] == len(b"early bird\n") and line["resumed"]


def test_rustls_server_half_rtt_data_to_tlskit(peers: Peers, rustls: Rustls,
                                               pki: PKI) -> None:
    """rustls sends application data right after its Finished (0.5-RTT data, RFC 8446 2;
    rustls does so only when it asks for no client certificate): tlskit, holding its own
    Finished back, already delivers it, then finishes and talks on as usual."""
    _, port = rustls.server(peers, "ec256", "--half-rtt")
    conn = ClientConnection(pki.client_config(), "localhost")
    sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
    early = bytearray()
    try:
        sock.sendall(conn.data_to_send())  # the ClientHello; our Finished stays unsent
        while b"\n" not in early:
            chunk = sock.recv(65536)
            assert chunk, "rustls closed the connection"
            early += b"".join(e.data for e in conn.receive_data(chunk)
                              if isinstance(e, DataReceived))
        assert early == b"sent before your Finished\n"
        pump = Pump(conn, sock)  # sends the Finished, then the usual exchange
        line = line_then_echo(pump)
    finally:
        sock.close()
    assert line["version"] == "TLSv1.3"
