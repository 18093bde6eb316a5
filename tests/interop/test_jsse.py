"""tlskit against Java's JSSE (OpenJDK 17's SunJSSE), both ways: a TLS stack written in
Java that shares no code with OpenSSL, GnuTLS, BoringSSL, NSS or Go.

The peer is `java/TlsPeer.java`, compiled once per session with the local JDK (Debian's
openjdk-17-jdk-headless, installed by .ci/install-test-deps.sh). Its certificate and key
come from a PKCS#12 file written here, its trust store from the test root's PEM. It prints
one JSON line per connection with what JSSE negotiated (protocol, suite, ALPN, whether the
session was resumed, the peer's certificates), so each test checks both sides' view of the
same handshake; its server also sends that line to the client and echoes, its client sends
a payload and reads it back. A JVM takes about half a second to start, so the JSSE servers
are shared by the module, one per configuration.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

from tlskit import (
    AlertDescription,
    AlertReceived,
    CertificateVerificationError,
    ClientConfig,
    TLSError,
)
from tlskit.ca import Issued, LocalCA
from tlskit.session import SessionCache
from tlskit.x509.errors import Reason

from ..support.java import build_java, java_command
from ..support.peers import PeerProcess
from ..support.ports import TIMEOUT
from ..support.pump import Pump, echo_until_close, tlskit_server
from .conftest import PKI, Peers
from .helpers import (
    ECHO_PAYLOAD,
    SCHEME_FOR_CERT,
    alert_after_handshake,
    alpn_peer_client_to_tlskit_server,
    alpn_tlskit_client_to_peer_server,
    ems_tracer,
    handshake_and_echo,
    key_update_on_new_connection,
    talk,
    two_connections,
)

pytestmark = pytest.mark.interop

SOURCE = Path(__file__).parent / "java" / "TlsPeer.java"
PASSWORD = "tlskit-jsse"
PAYLOAD = ECHO_PAYLOAD
# The TLS 1.2 suites JSSE's server picks first for each certificate (its own order).
TLS12_SUITES = {"ec256": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "rsa2048": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}


class Jsse:
    """The compiled peer and its PKCS#12 key stores (one per certificate, written once)."""

    def __init__(self, classpath: Path, pki: PKI, directory: Path) -> None:
        self.classpath = classpath
        self.pki = pki
        self.directory = directory
        self.stores: dict[str, Path] = {}

    def store(self, name: str, issued: Issued) -> Path:
        """``issued``'s key and chain as a PKCS#12 file, as JSSE's KeyManagerFactory loads."""
        if name not in self.stores:
            blob = pkcs12.serialize_key_and_certificates(
                name.encode(), issued.private_key, issued.chain[0], issued.chain[1:],
                BestAvailableEncryption(PASSWORD.encode()))
            path = self.directory / f"{name}.p12"
            path.write_bytes(blob)
            self.stores[name] = path
        return self.stores[name]

    def key_args(self, name: str, issued: Issued) -> list[str]:
        return ["--pkcs12", str(self.store(name, issued)), "--password", PASSWORD]

    def command(self, mode: str, *args: str, groups: str | None = None,
                props: dict[str, str] | None = None) -> list[str]:
        props = {**(props or {}), **({"jdk.tls.namedGroups": groups} if groups else {})}
        return java_command(self.classpath, "TlsPeer", "--mode", mode, *args,
                            properties=props)

    def key_limit(self, limit: str) -> dict[str, str]:
        """The system property pointing JSSE at a security-properties file that lowers
        AES-GCM's key limit (jdk.tls.keyLimits, a security property, not a system one), so
        JSSE sends a KeyUpdate after ``limit`` bytes."""
        path = self.directory / f"keylimit-{limit.replace('^', '-')}.security"
        path.write_text(f"jdk.tls.keyLimits=AES/GCM/NoPadding KeyUpdate {limit}\n")
        return {"java.security.properties": str(path)}

    def server_command(self, kind: str, *args: str, groups: str | None = None) -> list[str]:
        return self.command("server", *self.key_args(kind, self.pki.issued[kind]), *args,
                            groups=groups)

    def client(self, port: int, *args: str, status: int = 0, groups: str | None = None,
               props: dict[str, str] | None = None) -> str:
        """The JSSE client run to completion, which must exit with ``status``; its output."""
        argv = self.command("client", "--port", str(port), *args, groups=groups, props=props)
        if "--ca" not in args:
            argv += ["--ca", str(self.pki.root_pem)]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == status, run.stdout + run.stderr
        return run.stdout

    def client_lines(self, port: int, *args: str, groups: str | None = None,
                     props: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """The JSSE client's JSON lines (one per connection); a failure fails the test
        with JSSE's own words."""
        out = self.client(port, *args, groups=groups, props=props)
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def jsse(tmp_path_factory: pytest.TempPathFactory, pki: PKI) -> Jsse:
    """TlsPeer compiled from source with the local JDK; never the network."""
    directory = tmp_path_factory.mktemp("jsse")
    return Jsse(build_java(SOURCE, directory / "classes"), pki, directory)


Servers = Callable[..., tuple[PeerProcess, int]]


@pytest.fixture(scope="module")
def jsse_servers(jsse: Jsse) -> Iterator[Servers]:
    """``get(kind, *args, groups=...)``: a JSSE server for that configuration, started on
    first use and shared by the module's tests (each reads its own connection's line)."""
    peers = Peers()
    running: dict[tuple[Any, ...], tuple[PeerProcess, int]] = {}

    def get(kind: str = "ec256", *args: str, groups: str | None = None
            ) -> tuple[PeerProcess, int]:
        key = (kind, args, groups)
        if key not in running or running[key][0].proc.poll() is not None:
            proc = peers.start(jsse.server_command(kind, *args, groups=groups))
            running[key] = (proc, int(proc.wait_for(rb"LISTENING (\d+)\n").group(1)))
        return running[key]

    yield get
    peers.close()



def failed_and_drained(config: ClientConfig, port: int, **kw: Any) -> TLSError:
    """The handshake must fail: tlskit's error. The socket then stays open until JSSE
    closes it: JSSE writes its flight one record at a time, and a socket closed under it
    fails its next write (broken pipe) before it reads tlskit's alert."""
    pump = Pump.connect(config, port, **kw)
    try:
        err = pump.handshake_error()
        pump.sock.setblocking(True)
        pump.sock.settimeout(TIMEOUT)
        with contextlib.suppress(ConnectionResetError):
            while pump.sock.recv(65536):
                pass
        return err
    finally:
        pump.dispose()



# ------------------------------------------------------------------ tlskit client, JSSE server

@pytest.mark.parametrize("kind", ["ec256", "rsa2048"])
def test_tlskit_client_to_jsse_server_tls13(jsse_servers: Servers, pki: PKI,
                                            kind: str) -> None:
    _, port = jsse_servers(kind)
    hc, line = talk(pki.client_config(), port)
    assert hc.version == line["protocol"] == "TLSv1.3"
    assert hc.cipher_suite.name == line["cipher_suite"]
    assert hc.signature_scheme is not None
    assert hc.signature_scheme.name == SCHEME_FOR_CERT[kind]
    assert line["server_name"] == "localhost" and not line["resumed"]
    assert len(hc.peer_certificates) == 2  # JSSE sends the leaf and the intermediate


@pytest.mark.parametrize("kind", ["ec256", "rsa2048"])
def test_tlskit_client_to_jsse_server_tls12(jsse_servers: Servers, pki: PKI,
                                            kind: str) -> None:
    _, port = jsse_servers(kind)
    hc, line = talk(pki.client_config(versions=["TLSv1.2"]), port)
    assert hc.version == line["protocol"] == "TLSv1.2"
    assert hc.cipher_suite.name == line["cipher_suite"] == TLS12_SUITES[kind]


def test_jsse_server_with_one_group_gets_a_retry(jsse_servers: Servers, pki: PKI) -> None:
    """JSSE restricted to secp384r1 (jdk.tls.namedGroups) while tlskit sends an x25519
    share: JSSE sends a HelloRetryRequest and tlskit's second ClientHello carries P-384."""
    steps: list[str] = []
    _, port = jsse_servers("ec256", groups="secp384r1")
    config = pki.client_config(groups=["x25519", "secp384r1"],
                               tracer=lambda step, fields: steps.append(step))
    hc, line = talk(config, port)
    assert hc.group is not None and hc.group.name == "secp384r1"
    assert "hello_retry_request" in steps and line["protocol"] == "TLSv1.3"


def test_alpn_tlskit_client_to_jsse_server(jsse_servers: Servers, pki: PKI) -> None:
    _, port = jsse_servers("ec256", "--alpn", "http/1.1")
    alpn_tlskit_client_to_peer_server(pki, port)


def test_tlskit_client_resumes_with_jsse_server_tls13(jsse_servers: Servers,
                                                      pki: PKI) -> None:
    """JSSE's server sends a NewSessionTicket after the handshake; tlskit's second
    connection offers it and both sides say the session was resumed."""
    _, port = jsse_servers("ec256")
    assert two_connections(pki.client_config(session_cache=SessionCache()), port) == [
        (False, False), (True, True)]


def test_tlskit_client_resumes_with_jsse_server_tls12(jsse_servers: Servers,
                                                      pki: PKI) -> None:
    """JSSE negotiates the extended master secret (jdk.tls.useExtendedMasterSecret is on
    by default), so tlskit keeps the TLS 1.2 session and resumes it."""
    ems: list[bool] = []
    _, port = jsse_servers("ec256")
    config = pki.client_config(versions=["TLSv1.2"], session_cache=SessionCache(),
                               tracer=ems_tracer("server_hello", ems))
    assert two_connections(config, port) == [(False, False), (True, True)]
    assert ems == [True, True]


def test_tlskit_client_certificate_to_jsse_server(jsse_servers: Servers, pki: PKI) -> None:
    """JSSE requires a client certificate (setNeedClientAuth) and verifies it."""
    issued, _ = pki.client_cert("jsse-needs-me")
    _, port = jsse_servers("ec256", "--ca", str(pki.root_pem))
    config = pki.client_config(issued)
    _hc, line = talk(config, port)
    assert line["peer_subjects"] and "jsse-needs-me" in line["peer_subjects"][0]


def test_tlskit_client_without_certificate_is_refused_by_jsse(
        jsse_servers: Servers, pki: PKI) -> None:
    """No client certificate where JSSE requires one: tlskit's TLS 1.3 handshake completes
    (the client finishes first), then JSSE's alert ends it. JDK 17 sends bad_certificate
    for an empty Certificate, not RFC 8446 4.4.2.4's certificate_required (as Go before
    1.21 did)."""
    proc, port = jsse_servers("ec256", "--ca", str(pki.root_pem))
    mark = proc.mark()
    alert = alert_after_handshake(pki.client_config(), port).alert
    assert alert == AlertDescription.bad_certificate
    proc.wait_for(rb"HANDSHAKE ERROR [^\n]*Empty client certificate chain", since=mark)


def test_key_update_both_ways_with_jsse(jsse_servers: Servers, pki: PKI) -> None:
    """tlskit's KeyUpdate with update_requested: JSSE installs the new key (the echo after
    it still decrypts) and answers with its own KeyUpdate, which tlskit reports."""
    _, port = jsse_servers("ec256")
    key_update_on_new_connection(pki.client_config(), port)


def test_tlskit_client_rejects_jsse_server_with_wrong_name(jsse_servers: Servers,
                                                          pki: PKI) -> None:
    """The certificate is for localhost: tlskit says hostname_mismatch and sends
    bad_certificate, which JSSE's server reports."""
    proc, port = jsse_servers("ec256")
    mark = proc.mark()
    err = failed_and_drained(pki.client_config(), port, server_name="not-localhost.example")
    assert isinstance(err, CertificateVerificationError)
    assert err.reason == Reason.hostname_mismatch
    assert err.alert == AlertDescription.bad_certificate
    proc.wait_for(rb"HANDSHAKE ERROR [^\n]*Received fatal alert: bad_certificate", since=mark)


def test_tlskit_client_rejects_jsse_server_with_untrusted_chain(
        jsse_servers: Servers, pki: PKI) -> None:
    proc, port = jsse_servers("ec256")
    mark = proc.mark()
    other = LocalCA.create(directory=None)
    err = failed_and_drained(ClientConfig(trust_anchors=[other.root]), port)
    assert isinstance(err, CertificateVerificationError)
    assert err.reason == Reason.unknown_issuer and err.alert == AlertDescription.unknown_ca
    proc.wait_for(rb"HANDSHAKE ERROR [^\n]*Received fatal alert: unknown_ca", since=mark)


def test_tlskit_tls12_client_to_jsse_tls13_server(jsse_servers: Servers, pki: PKI) -> None:
    """No common version: JSSE answers the TLS 1.2-only ClientHello with protocol_version."""
    proc, port = jsse_servers("ec256", "--protocols", "TLSv1.3")
    mark = proc.mark()
    err = failed_and_drained(pki.client_config(versions=["TLSv1.2"]), port)
    assert isinstance(err, AlertReceived) and err.alert == AlertDescription.protocol_version
    proc.wait_for(rb"HANDSHAKE ERROR [^\n]*protocol", since=mark)


# ------------------------------------------------------------------ JSSE client, tlskit server

@pytest.mark.parametrize("kind", ["ec256", "rsa2048"])
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_jsse_client_to_tlskit_server(peers: Peers, jsse: Jsse, pki: PKI, kind: str,
                                      version: str) -> None:
    """JSSE verifies tlskit's chain with its PKIX validator and the HTTPS name check."""
    server = peers.thread(tlskit_server(pki.server_config(kind, versions=[version]),
                                        handshake_and_echo))
    (line,) = jsse.client_lines(server.port, "--protocols", version, "--send", str(PAYLOAD))
    (hc,) = server.join()
    assert line["protocol"] == hc.version == version
    assert line["cipher_suite"] == hc.cipher_suite.name
    assert len(line["peer_subjects"]) == 2 and not line["resumed"]
    assert hc.server_name == "localhost"


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_jsse_client_resumes_with_tlskit_server(peers: Peers, jsse: Jsse, pki: PKI,
                                                version: str) -> None:
    """JSSE's client session cache (one SSLContext, two connections) holds tlskit's
    session; the second connection resumes and both sides say so. For TLS 1.2 JSSE
    offers the extended master secret, so tlskit made the session resumable."""
    ems: list[bool] = []
    config = pki.server_config(versions=[version], tracer=ems_tracer("client_hello", ems))
    server = peers.thread(tlskit_server(config, handshake_and_echo, count=2))
    lines = jsse.client_lines(server.port, "--protocols", version, "--n", "2",
                              "--send", "1000")
    assert [line["resumed"] for line in lines] == [False, True]
    assert [hc.resumed for hc in server.join()] == [False, True]
    assert ems[0] == (version == "TLSv1.2")  # JSSE offers it only with TLS 1.2 enabled


def test_jsse_client_key_share_gets_a_retry(peers: Peers, jsse: Jsse, pki: PKI) -> None:
    """JSSE sends one key share per kind of group (by default x25519 and secp256r1, so
    tlskit never needs a retry with it); offering secp256r1 then secp384r1 it sends only
    a P-256 share, and a tlskit server that accepts only secp384r1 asks for that group with
    a HelloRetryRequest, which JSSE answers."""
    steps: list[str] = []
    config = pki.server_config(groups=["secp384r1"],
                               tracer=lambda step, fields: steps.append(step))
    server = peers.thread(tlskit_server(config, handshake_and_echo))
    (line,) = jsse.client_lines(server.port, "--send", "100", groups="secp256r1,secp384r1")
    (hc,) = server.join()
    assert hc.group is not None and hc.group.name == "secp384r1"
    assert "hello_retry_request" in steps and line["protocol"] == "TLSv1.3"


def test_alpn_jsse_client_to_tlskit_server(peers: Peers, jsse: Jsse, pki: PKI) -> None:
    alpn_peer_client_to_tlskit_server(peers, pki, lambda port: jsse.client_lines(
        port, "--alpn", "http/1.1,h2", "--send", "10"))


def test_jsse_client_certificate_to_tlskit_server(peers: Peers, jsse: Jsse,
                                                  pki: PKI) -> None:
    issued, _ = pki.client_cert("jsse-side")
    server = peers.thread(tlskit_server(
        pki.server_config_requiring_a_client(), handshake_and_echo))
    (line,) = jsse.client_lines(server.port, *jsse.key_args("jsse-side", issued),
                                "--send", "100")
    (hc,) = server.join()
    assert hc.peer_certificates[0].subject.rfc4514_string().endswith("jsse-side")
    assert line["protocol"] == "TLSv1.3"


def test_jsse_client_rejects_untrusted_tlskit_server(peers: Peers, jsse: Jsse, pki: PKI,
                                                    tmp_path: Path) -> None:
    """JSSE's trust store lacks tlskit's root: PKIX path building fails in JSSE, which
    sends certificate_unknown, the alert tlskit's server reports."""
    other = tmp_path / "other-root.pem"
    other.write_bytes(LocalCA.create(directory=None).export_root_pem())
    server = peers.thread(tlskit_server(pki.server_config(), Pump.handshake_error))
    out = jsse.client(server.port, "--ca", str(other), status=1)
    assert "PKIX path building failed" in out
    (err,) = server.join()
    assert isinstance(err, AlertReceived)
    assert err.alert == AlertDescription.certificate_unknown


def test_jsse_tls12_client_to_tlskit_tls13_server(peers: Peers, jsse: Jsse,
                                                  pki: PKI) -> None:
    """No common version: tlskit's server sends protocol_version, which JSSE reports."""
    server = peers.thread(tlskit_server(pki.server_config(versions=["TLSv1.3"]),
                                        Pump.handshake_error))
    out = jsse.client(server.port, "--protocols", "TLSv1.2", status=1)
    assert "Received fatal alert: protocol_version" in out
    (err,) = server.join()
    assert err.alert == AlertDescription.protocol_version


def test_jsse_client_key_updates_to_tlskit_server(peers: Peers, jsse: Jsse, pki: PKI) -> None:
    """JSSE has no API to send a KeyUpdate, but sends one when a key reaches its
    jdk.tls.keyLimits: lowered to 2^14 bytes, a 200 kB echo makes it update its write key
    several times, each with update_requested; tlskit follows each one and answers with
    its own, and every byte of the echo still decrypts on both sides. (JSSE updates when
    its read key reaches the limit too, while it has nothing to send: about 14 of its
    KeyUpdates arrive with no data between them here, under the 32 that tlskit, like
    BoringSSL and rustls, reads in a row: `tlskit.record.MAX_KEY_UPDATES`.)"""

    def echo_counting_updates(pump: Pump) -> list[bool]:
        echo_until_close(pump)
        return [ku.peer_requested_update for ku in pump.key_updates_received()]

    server = peers.thread(tlskit_server(pki.server_config(), echo_counting_updates))
    (line,) = jsse.client_lines(server.port, "--protocols", "TLSv1.3", "--suites",
                                "TLS_AES_128_GCM_SHA256", "--send", str(PAYLOAD),
                                props=jsse.key_limit("2^14"))
    (updates,) = server.join()
    assert line["protocol"] == "TLSv1.3" and len(updates) >= PAYLOAD // (1 << 14) // 2
    assert all(updates)  # JSSE asks for update_requested each time; tlskit answered all


def test_jsse_client_rejects_a_name_mismatch(peers: Peers, jsse: Jsse, pki: PKI) -> None:
    """JSSE checks the name (HTTPS endpoint identification) against tlskit's certificate:
    a wrong name fails in JSSE, which sends certificate_unknown to tlskit's server."""
    server = peers.thread(tlskit_server(pki.server_config(), Pump.handshake_error))
    out = jsse.client(server.port, "--name", "not-localhost.example", status=1)
    assert "No subject alternative DNS name matching not-localhost.example" in out
    (err,) = server.join()
    assert isinstance(err, AlertReceived)
    assert err.alert == AlertDescription.certificate_unknown
