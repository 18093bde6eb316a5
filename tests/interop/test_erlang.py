"""tlskit against Erlang/OTP's ssl application, both ways: a TLS stack written in Erlang
(OTP 25, Debian's erlang-ssl) that takes only primitives from OpenSSL, through the
`crypto` application, and shares no protocol code with OpenSSL, GnuTLS, NSS, Go, Java or
rustls: its own state machines, record layer, key schedule and certificate path
validation (`public_key`).

The peer is `erlang/peer.escript`, run by `escript` (installed with erlang-ssl by
.ci/install-test-deps.sh); nothing is compiled ahead. Its server sends one JSON line
describing the connection (version, suite, ALPN, the SNI it saw, resumption, the client
certificate's subject and hash), all read from `ssl:connection_information/2`, then
echoes until the client closes and prints how much it echoed with its SHA-256; its client
sends a payload in rounds, reads each back, closes and prints the same kind of line. An
Erlang VM takes most of a second to start, so the module runs one VM (the escript's
`commands` mode) that starts each server and client as an Erlang process of its own, on
its own port, with its output lines tagged; a few tests run the escript standalone.
Errors are printed as ssl returns them (`{tls_alert,{unknown_ca,...}}`), so each failure
test checks both sides: tlskit's exception and alert, and what Erlang made of it. OTP 25
does not report the group or the peer's signature scheme; those are checked on tlskit's
side with Erlang restricted to one.

Where OTP 25 and tlskit differ, the test says so and keeps asserting what tlskit does:
- No extended master secret in OTP 25 (RFC 7627), and tlskit makes or resumes no TLS 1.2
  session without it (RFC 7627 5.3): TLS 1.2 session IDs are never resumed either way.
- Ed25519 and X25519 only in TLS 1.3: a TLS 1.2 Ed25519 certificate fails the handshake
  (handshake_failure) either way, and an Erlang client told to use X25519 alone in TLS
  1.2 sends an empty supported_groups list, which tlskit refuses as malformed.
- OTP's alerts: insufficient_security for no common group or suite (RFC 8446 4.1.1
  allows it; tlskit sends handshake_failure), handshake_failure for a hostname mismatch
  (tlskit: bad_certificate).
- OTP's client resuming after a HelloRetryRequest sends a PSK binder that does not
  verify (erlang/otp#8489): tlskit aborts with decrypt_error (RFC 8446 4.2.11.2), as
  OpenSSL does. OTP offers 0-RTT data with a ticket that allows none (tlskit skips it),
  and offers any ticket of its VM-wide store whose SNI matches, whichever server issued
  it (tlskit ignores it and does a full handshake).
- OTP's client enforces the max_fragment_length it asked for even when a server does
  not take it up (RFC 6066 4 applies a length only once negotiated); tlskit's server
  now grants it, so this no longer shows.
- ssl:shutdown(write) closes TCP without close_notify (RFC 8446 6.1 asks for one), and
  a passive ssl:recv misses a close_notify that comes while no recv waits: the peer
  closes with ssl:close/2 and reads in active mode.
- One was tlskit's: a TLS 1.2-only tlskit server answered a TLS 1.3-only ClientHello
  with handshake_failure instead of protocol_version (RFC 8446 4.2.1), now fixed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tlskit.ca import LocalCA
from tlskit.config import CertifiedKey, ClientConfig
from tlskit.enums import AlertDescription, ExtensionType
from tlskit.errors import AlertReceived, CertificateRequired, DecryptError, TLSError
from tlskit.events import ConnectionClosed, HandshakeComplete
from tlskit.io.blocking import TruncatedConnection, connect
from tlskit.session import SessionCache
from tlskit.x509 import CertificateVerificationError
from tlskit.x509.errors import Reason

from ..support.peers import PeerProcess
from ..support.pki import CertFiles
from ..support.ports import HOST, TIMEOUT
from ..support.pump import Pump, echo_until_close, tlskit_server
from . import helpers
from .conftest import PKI, Peers
from .helpers import handshake_and_echo, talk

pytestmark = pytest.mark.interop

PEER = Path(__file__).parent / "erlang" / "peer.escript"
VERSION_FLAG = {"TLSv1.3": "1.3", "TLSv1.2": "1.2"}
KINDS = ("ec256", "ec384", "rsa2048", "ed25519")
# Every TLS 1.3 suite both implement (CCM is off by default in tlskit, OpenSSL-like).
TLS13_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256")
# Every TLS 1.2 suite both implement (ECDHE with an AEAD), with the certificate it needs.
TLS12_SUITES = helpers.TLS12_ECDHE_AEAD_SUITES
BIG = 4 << 20  # bytes for the large transfers: 256 full records each way


@dataclass
class Job:
    """One server or client started in the shared VM, known by its tag."""

    erlang: Erlang
    tag: str
    port: int = 0

    def wait_for(self, pattern: str) -> re.Match[bytes]:
        """This job's first output line matching ``pattern`` (a regex for the rest of
        the line, after the tag); a job that ends first fails the test with its output."""
        found = self.erlang.proc.wait_for(rf"(?m)^{self.tag} (?:{pattern}|EXIT \d+)$")
        if found.group(0).split()[1] == b"EXIT" and not pattern.startswith("EXIT"):
            raise AssertionError(f"{self.tag} ended:\n" + "\n".join(self.output()))
        return found

    def output(self) -> list[str]:
        """This job's output lines so far, without the tag."""
        start = f"{self.tag} "
        return [line[len(start):] for line in self.erlang.proc.stdout.splitlines()
                if line.startswith(start)]


@dataclass
class VM:
    """The module's Erlang VM (peer.escript's commands mode), and its next job tags."""

    proc: PeerProcess
    tags: Iterator[int] = field(default_factory=itertools.count)


@dataclass
class Erlang:
    """One test's view of the VM, with the session PKI; `stop` ends the servers the
    test started."""

    vm: VM
    pki: PKI
    servers: list[Job] = field(default_factory=list)

    @property
    def proc(self) -> PeerProcess:
        return self.vm.proc

    def start(self, mode: str, *args: str) -> Job:
        job = Job(self, f"j{next(self.vm.tags)}")
        self.proc.write(" ".join([job.tag, mode, *args]).encode() + b"\n")
        return job

    def stop(self) -> None:
        for job in self.servers:
            self.proc.write(f"{job.tag} stop\n".encode())
            job.wait_for("STOPPED")

    def server(self, kind: str = "ec256", *args: str) -> Job:
        """A server with ``kind``'s chain, listening; its job (with the port)."""
        files = self.pki.files[kind]
        job = self.start("server", "--cert", str(files.fullchain), "--key", str(files.key),
                         *args)
        self.servers.append(job)
        job.port = int(job.wait_for(r"LISTENING (\d+)").group(1))
        return job

    def client(self, port: int, *args: str, status: int = 0,
               own_vm: bool = False) -> list[str]:
        """A client run to completion, which must end with ``status`` (trusting the test
        root unless ``args`` name another); its output lines. With ``own_vm`` it runs
        standalone: OTP keeps one store of TLS 1.3 tickets per VM (session_tickets=auto)
        and offers any of them whose SNI matches, whichever server issued it."""
        ca = () if "--ca" in args else ("--ca", str(self.pki.root_pem))
        argv = ("client", "--port", str(port), *ca, *args)
        if own_vm:
            return run_standalone(*argv, status=status).splitlines()
        job = self.start(*argv)
        ended = int(job.wait_for(r"EXIT (\d+)").group(1))
        out = job.output()
        assert ended == status, "\n".join(out)
        return out

    def lines(self, port: int, *args: str, own_vm: bool = False) -> list[dict[str, Any]]:
        """The client's JSON lines, one per connection."""
        return helpers.peer_json_lines("\n".join(self.client(port, *args, own_vm=own_vm)))


@pytest.fixture(scope="module")
def erlang_vm() -> Iterator[VM]:
    """One Erlang VM for the module's servers and clients, stopped at the end."""
    proc = PeerProcess(["escript", str(PEER), "commands"])
    try:
        yield VM(proc)
    finally:
        proc.stop()


@pytest.fixture
def erlang(erlang_vm: VM, pki: PKI) -> Iterator[Erlang]:
    """The VM for one test, whose servers are stopped after it."""
    erlang = Erlang(erlang_vm, pki)
    try:
        yield erlang
    finally:
        erlang.stop()


def run_standalone(*args: str, status: int) -> str:
    """peer.escript in its own VM (server or client mode, from argv)."""
    return helpers.run_peer(["escript", str(PEER), *args], status)


def leaf_sha256(chain: list[x509.Certificate]) -> str:
    """The leaf's SHA-256 fingerprint, as the peer prints its peer's certificate."""
    return chain[0].fingerprint(hashes.SHA256()).hex()


def hello_tracer(hellos: list[tuple[str, bytes, bool]]) -> Any:
    """A tracer noting each hello's step name, session ID and whether it carried
    extended_master_secret."""

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if step in ("client_hello", "server_hello"):
            hello = fields["message"]
            ems = ExtensionType.extended_master_secret in hello.extensions
            hellos.append((step, hello.session_id, ems))

    return tracer


def echo_or_error(pump: Pump) -> HandshakeComplete | TLSError:
    """tlskit server body: `handshake_and_echo`, or the error that ended the handshake."""
    try:
        return handshake_and_echo(pump)
    except TLSError as exc:
        return exc


def recorder(steps: list[str]) -> Any:
    """A tracer noting the name of every handshake step."""
    return lambda step, fields: steps.append(step)


# ------------------------------------------------------------------ tlskit client, Erlang server

# OTP 25 signs with Ed25519 in TLS 1.3 only (see test_erlang_tls12_server_with_ed25519).
VERSION_KINDS = [(v, k) for v in ("TLSv1.3", "TLSv1.2") for k in KINDS
                 if (v, k) != ("TLSv1.2", "ed25519")]


@pytest.mark.parametrize(("version", "kind"), VERSION_KINDS)
def test_tlskit_client_to_erlang_server(erlang: Erlang, pki: PKI, version: str,
                                        kind: str) -> None:
    """Each certificate type, each version: both sides agree on what was negotiated,
    Erlang saw tlskit's SNI, and tlskit verified Erlang's chain (sent from its certfile)."""
    server = erlang.server(kind, "--versions", VERSION_FLAG[version])
    hc, line = talk(pki.client_config(versions=[version]), server.port)
    assert hc.version == line["version"] == version
    assert hc.cipher_suite.name == line["cipher_suite"]
    assert hc.signature_scheme is not None
    assert line["server_name"] == "localhost" and line["resumed"] is False
    assert line["peer_subject"] is None  # no client certificate asked for
    assert len(hc.peer_certificates) == 2
    if version == "TLSv1.3":
        assert hc.signature_scheme.name == helpers.SCHEME_FOR_CERT[kind]


@pytest.mark.parametrize("suite", TLS13_SUITES + tuple(TLS12_SUITES))
def test_erlang_server_with_each_suite(erlang: Erlang, pki: PKI, suite: str) -> None:
    """Erlang offering a single suite: tlskit takes each one (CCM when configured)."""
    kind = TLS12_SUITES.get(suite, "ec256")
    version = "1.2" if suite in TLS12_SUITES else "1.3"
    server = erlang.server(kind, "--suites", suite, "--versions", version)
    config = pki.client_config(cipher_suites=[suite]) if "CCM" in suite else pki.client_config()
    hc, line = talk(config, server.port, 70_000)
    assert hc.cipher_suite.name == line["cipher_suite"] == suite
    assert hc.version == line["version"] == ("TLSv1.2" if suite in TLS12_SUITES else "TLSv1.3")


def test_erlang_tls12_server_with_ed25519(erlang: Erlang, pki: PKI) -> None:
    """OTP 25 implements Ed25519 signatures (RFC 8422) in TLS 1.3 only: its TLS 1.2
    server holding just an Ed25519 certificate cannot sign a ServerKeyExchange and aborts
    with handshake_failure (as it does with OpenSSL's client), which tlskit reports."""
    server = erlang.server("ed25519", "--versions", "1.2")
    err = Pump.failed_handshake(pki.client_config(versions=["TLSv1.2"]), server.port)
    assert isinstance(err, AlertReceived)
    assert err.alert == AlertDescription.handshake_failure
    server.wait_for(r"HANDSHAKE ERROR \{tls_alert,\{handshake_failure,.*")


@pytest.mark.parametrize(("version", "scheme"), helpers.RSA_SCHEMES)
def test_erlang_server_signs_with_each_rsa_scheme(erlang: Erlang, pki: PKI, version: str,
                                                  scheme: str) -> None:
    """tlskit offering one RSA scheme (and ECDSA with SHA-256, which the test CA's
    signatures need): Erlang signs its CertificateVerify (TLS 1.3) or ServerKeyExchange
    (TLS 1.2) with it, and tlskit checks the signature."""
    server = erlang.server("rsa2048", "--versions", VERSION_FLAG[version])
    config = pki.client_config(versions=[version],
                               signature_schemes=[scheme, "ecdsa_secp256r1_sha256"])
    hc, line = talk(config, server.port)
    assert (hc.signature_scheme and hc.signature_scheme.name, line["version"]) == (
        scheme, version)


# OTP 25 has X25519 in TLS 1.3 only (ssl:eccs() lists no x25519): see the x25519 tests.
VERSION_GROUPS = [(v, g) for v in ("TLSv1.3", "TLSv1.2") for g in helpers.GROUPS
                  if (v, g) != ("TLSv1.2", "x25519")]


@pytest.mark.parametrize(("version", "group"), VERSION_GROUPS)
def test_erlang_server_with_one_group(erlang: Erlang, pki: PKI, group: str,
                                      version: str) -> None:
    """Erlang accepting only ``group``; tlskit sends an x25519 share, so in TLS 1.3
    Erlang asks for ``group`` with a HelloRetryRequest when it is another one (echoing
    tlskit's legacy_session_id, as RFC 8446 4.1.4 asks). In TLS 1.2 the group is the
    ServerKeyExchange's curve; OTP's list (eccs) also bounds its own ECDSA certificate's
    curve, hence an RSA certificate there."""
    steps: list[str] = []
    kind = "ec256" if version == "TLSv1.3" else "rsa2048"
    server = erlang.server(kind, "--groups", group, "--versions", VERSION_FLAG[version])
    config = pki.client_config(groups=list(helpers.GROUPS), versions=[version],
                               tracer=recorder(steps))
    hc, line = talk(config, server.port)
    assert (hc.group and hc.group.name, hc.version, line["version"]) == (group, version,
                                                                         version)
    retried = version == "TLSv1.3" and group != "x25519"
    assert steps.count("hello_retry_request") == int(retried)


def test_x448_tlskit_client_to_erlang_server(erlang: Erlang, pki: PKI) -> None:
    """X448 (off by default in tlskit, on in OTP 25) when both are restricted to it."""
    server = erlang.server("ec256", "--groups", "x448", "--versions", "1.3")
    hc, line = talk(pki.client_config(groups=["x448"]), server.port)
    assert (hc.group and hc.group.name, line["version"]) == ("x448", "TLSv1.3")


@pytest.mark.parametrize("tickets", ["stateless", "stateful"])
def test_tlskit_client_resumes_with_erlang_server_tls13(erlang: Erlang, pki: PKI,
                                                        tickets: str) -> None:
    """Erlang's server issues TLS 1.3 tickets (self-encrypted, or naming an entry of its
    store); tlskit's second connection resumes with one and both sides say so."""
    server = erlang.server("ec256", "--tickets", tickets, "--versions", "1.3")
    config = pki.client_config(session_cache=SessionCache())
    seen = []
    for _ in range(2):
        hc, line = talk(config, server.port)
        seen.append((hc.resumed, line["resumed"], hc.signature_scheme is None))
    assert seen == [(False, False, False), (True, True, True)]


def test_tlskit_client_resumes_through_a_retry_with_erlang(erlang: Erlang,
                                                           pki: PKI) -> None:
    """tlskit offers its x25519 share again when resuming, so Erlang (secp384r1 only)
    sends a HelloRetryRequest on both connections; the second ClientHello's PSK binder
    covers the retry's transcript (RFC 8446 4.2.11.2), and Erlang resumes."""
    steps: list[str] = []
    server = erlang.server("ec256", "--groups", "secp384r1", "--tickets", "stateless",
                           "--versions", "1.3")
    config = pki.client_config(groups=["x25519", "secp384r1"], session_cache=SessionCache(),
                               tracer=recorder(steps))
    resumed = [(hc.resumed, line["resumed"])
               for hc, line in (talk(config, server.port) for _ in range(2))]
    assert resumed == [(False, False), (True, True)]
    assert steps.count("hello_retry_request") == 2


def test_tlskit_client_resumes_with_its_certificate_at_erlang(erlang: Erlang,
                                                             pki: PKI) -> None:
    """A TLS 1.3 session made with tlskit's client certificate resumes (no Certificate
    is sent then); Erlang's ssl:peercert reports no client certificate on the resumed
    connection, although the session was authenticated by it."""
    issued, _ = pki.client_cert("tlskit-resuming")
    server = erlang.server("ec256", "--ca", str(pki.root_pem), "--tickets", "stateful",
                           "--versions", "1.3")
    config = pki.client_config(issued, session_cache=SessionCache())
    lines = [talk(config, server.port)[1] for _ in range(2)]
    assert [(line["resumed"], line["peer_subject"]) for line in lines] == [
        (False, "CN=tlskit-resuming"), (True, None)]


def test_tlskit_client_early_data_to_erlang_server(erlang: Erlang, pki: PKI) -> None:
    """Erlang's server with early_data enabled: its tickets allow 0-RTT data, tlskit's
    resumption sends some, and Erlang takes it (and echoes it after its line)."""
    server = erlang.server("ec256", "--tickets", "stateless", "--early", "0",
                           "--versions", "1.3")
    config = pki.client_config(session_cache=SessionCache())
    assert helpers.resume_with_early_data(config, server.port)["resumed"] is True


def test_tlskit_client_does_not_resume_tls12_without_ems(erlang: Erlang, pki: PKI) -> None:
    """Erlang's TLS 1.2 server keeps sessions by ID, but OTP 25 has no extended master
    secret (RFC 7627): tlskit's client keeps no session made without it (RFC 7627 5.3),
    so its second ClientHello offers none of the IDs Erlang issued and both connections
    are full handshakes, on both sides' word."""
    hellos: list[tuple[str, bytes, bool]] = []
    server = erlang.server("ec256", "--reuse", "--versions", "1.2")
    config = pki.client_config(versions=["TLSv1.2"], session_cache=SessionCache(),
                               tracer=hello_tracer(hellos))
    assert helpers.two_connections(config, server.port) == [(False, False), (False, False)]
    steps, ids, ems = zip(*hellos, strict=True)
    assert steps == ("client_hello", "server_hello") * 2 and ems == (True, False) * 2
    assert len(ids[1]) == 32 and ids[2] != ids[1]  # Erlang's first session is not offered


def test_alpn_tlskit_client_to_erlang_server(erlang: Erlang, pki: PKI) -> None:
    server = erlang.server("ec256", "--alpn", "http/1.1,h2")
    helpers.alpn_tlskit_client_to_peer_server(pki, server.port)


def test_tlskit_client_without_common_alpn_to_erlang(erlang: Erlang, pki: PKI) -> None:
    """No protocol in common: Erlang refuses with no_application_protocol (RFC 7301 3.2)."""
    server = erlang.server("ec256", "--alpn", "h2")
    err = Pump.failed_handshake(pki.client_config(alpn_protocols=["http/1.1"]), server.port)
    assert isinstance(err, AlertReceived)
    assert err.alert == AlertDescription.no_application_protocol
    server.wait_for(r"HANDSHAKE ERROR \{tls_alert,\{no_application_protocol,.*")


@pytest.mark.parametrize(("version", "kind"), VERSION_KINDS)
def test_tlskit_client_certificate_to_erlang_server(erlang: Erlang, pki: PKI, version: str,
                                                    kind: str) -> None:
    """Erlang requires a client certificate from the test root and verifies tlskit's
    (each key type); it reports its subject and hash."""
    issued, _ = pki.client_cert(f"tlskit-{kind}", kind)
    server = erlang.server("ec256", "--ca", str(pki.root_pem))
    config = pki.client_config(issued, versions=[version])
    _hc, line = talk(config, server.port)
    assert line["peer_subject"] == f"CN=tlskit-{kind}"
    assert line["peer_sha256"] == leaf_sha256(issued.chain)


def test_tlskit_client_without_certificate_is_refused_by_erlang_tls13(
        erlang: Erlang, pki: PKI) -> None:
    """No client certificate where Erlang requires one: tlskit's TLS 1.3 handshake
    completes (the client finishes first), then Erlang's certificate_required (RFC 8446
    4.4.2.4) ends the connection."""
    server = erlang.server("ec256", "--ca", str(pki.root_pem), "--versions", "1.3")
    alert = helpers.alert_after_handshake(pki.client_config(), server.port).alert
    assert alert == AlertDescription.certificate_required
    server.wait_for(r"HANDSHAKE ERROR \{tls_alert,\{certificate_required,.*")


def test_tlskit_client_without_certificate_is_refused_by_erlang_tls12(
        erlang: Erlang, pki: PKI) -> None:
    """The same in TLS 1.2: Erlang reads the empty Certificate and sends
    handshake_failure (RFC 5246 7.4.6), which tlskit reports."""
    server = erlang.server("ec256", "--ca", str(pki.root_pem), "--versions", "1.2")
    err = Pump.failed_handshake(pki.client_config(versions=["TLSv1.2"]), server.port)
    assert isinstance(err, AlertReceived)
    assert err.alert == AlertDescription.handshake_failure
    server.wait_for(r"HANDSHAKE ERROR \{tls_alert,\{handshake_failure,.*")


def test_tlskit_key_update_to_erlang_server(erlang: Erlang, pki: PKI) -> None:
    """tlskit's KeyUpdate with update_requested: Erlang installs the new key (the echo
    after it still decrypts) and answers with its own KeyUpdate, which tlskit reports."""
    server = erlang.server("ec256", "--versions", "1.3")
    updates = helpers.key_update_on_new_connection(pki.client_config(), server.port)
    assert [ku.peer_requested_update for ku in updates] == [False]


def test_erlang_server_key_update_to_tlskit(erlang: Erlang, pki: PKI) -> None:
    """ssl:update_keys(read_write) on Erlang's side right after its line: tlskit takes the
    new key, reports the request, answers with its own KeyUpdate, and the echo after it
    (both ways under new keys) comes back intact."""
    server = erlang.server("ec256", "--versions", "1.3", "--key-update")
    pump = Pump.connect(pki.client_config(), server.port)
    try:
        pump.handshake()
        pump.recv_until(b"\n")
        payload = helpers.echo_payload(100_000)
        assert pump.echo_roundtrip(payload) == payload
        assert [ku.peer_requested_update for ku in pump.key_updates_received()] == [True]
        pump.close()
        assert pump.wait_closed() == ConnectionClosed(None)
    finally:
        pump.dispose()
    digest = hashlib.sha256(payload).hexdigest()
    server.wait_for(f"ECHOED {len(payload)} {digest}")


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_large_echo_tlskit_client_to_erlang_server(erlang: Erlang, pki: PKI,
                                                   version: str) -> None:
    """4 MiB each way: tlskit checks the echo byte for byte, Erlang reports the SHA-256 of
    what it received once tlskit's close_notify ended the connection."""
    server = erlang.server("ec256", "--versions", VERSION_FLAG[version])
    talk(pki.client_config(), server.port, BIG)
    digest = hashlib.sha256(helpers.echo_payload(BIG)).hexdigest()
    server.wait_for(f"ECHOED {BIG} {digest}")


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_erlang_server_closes_first(erlang: Erlang, pki: PKI, version: str) -> None:
    """Erlang closes right after its line (ssl:close/2, which sends close_notify):
    tlskit reports a clean close and answers with its own, then sees the TCP end."""
    server = erlang.server("ec256", "--close-first", "--versions", VERSION_FLAG[version])
    helpers.line_then_peer_close(pki.client_config(), server.port)
    server.wait_for("CLOSED ok")


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_erlang_half_close_sends_no_close_notify(erlang: Erlang, pki: PKI,
                                                 version: str) -> None:
    """OTP 25's ssl:shutdown(Socket, write) shuts the TCP stream down without sending
    close_notify first, which RFC 8446 6.1 and RFC 5246 7.2.1 require before closing the
    write side (openssl s_client reports "unexpected eof" there too). tlskit's socket,
    made strict (suppress_ragged_eofs=False), does not take that for a close: after the
    line, the read ends in TruncatedConnection."""
    server = erlang.server("ec256", "--half-close", "--versions", VERSION_FLAG[version])
    tls = connect(HOST, server.port, pki.client_config(versions=[version]),
                  server_name="localhost", timeout=TIMEOUT, suppress_ragged_eofs=False)
    with tls, tls.makefile("rb") as reader:
        assert json.loads(reader.readline())["version"] == version
        with pytest.raises(TruncatedConnection, match="without close_notify"):
            reader.read()
    server.wait_for("HALF-CLOSED 0")


def test_tlskit_client_rejects_erlang_server_with_untrusted_chain(
        peers: Peers, pki: PKI) -> None:
    """tlskit does not trust the chain: unknown_issuer, sent as unknown_ca, which Erlang
    (a standalone server, its own VM) reports receiving."""
    files = pki.files["ec256"]
    proc, port = helpers.listening_peer(peers, ["escript", PEER, "server", "--cert",
                                                files.fullchain, "--key", files.key])
    other = LocalCA.create(directory=None)
    err = Pump.failed_handshake(ClientConfig(trust_anchors=[other.root]), port)
    assert isinstance(err, CertificateVerificationError)
    assert err.reason == Reason.unknown_issuer and err.alert == AlertDescription.unknown_ca
    proc.wait_for(rb"HANDSHAKE ERROR \{tls_alert,\{unknown_ca,")


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_erlang_server_rejects_untrusted_client_certificate(
        erlang: Erlang, pki: PKI, version: str) -> None:
    """tlskit's client certificate comes from a CA Erlang does not trust: public_key
    finds no path and ssl sends unknown_ca, which tlskit reports (in TLS 1.3 after its
    own handshake completed: the client finishes first)."""
    stranger = LocalCA.create(directory=None).issue_client("stranger")
    server = erlang.server("ec256", "--ca", str(pki.root_pem),
                           "--versions", VERSION_FLAG[version])
    # (Sent by a resolver: Erlang names the CA it trusts, and tlskit would otherwise hold
    # back a certificate that CA did not issue.)
    forced = CertifiedKey(stranger.chain, stranger.private_key)
    config = pki.client_config(versions=[version], certificate_resolver=lambda info: forced)
    if version == "TLSv1.3":
        alert = helpers.alert_after_handshake(config, server.port).alert
    else:
        err = Pump.failed_handshake(config, server.port)
        assert isinstance(err, AlertReceived)
        alert = err.alert
    assert alert == AlertDescription.unknown_ca
    server.wait_for(r"HANDSHAKE ERROR \{tls_alert,\{unknown_ca,.*")


def test_tlskit_client_rejects_erlang_server_with_wrong_name(erlang: Erlang,
                                                             pki: PKI) -> None:
    server = erlang.server("ec256")
    err = Pump.failed_handshake(pki.client_config(), server.port,
                                server_name="not-localhost.example")
    assert isinstance(err, CertificateVerificationError)
    assert err.reason == Reason.hostname_mismatch
    assert err.alert == AlertDescription.bad_certificate
    server.wait_for(r"HANDSHAKE ERROR \{tls_alert,\{bad_certificate,.*")


@pytest.mark.parametrize(("ours", "theirs", "alert"), [
    ({"cipher_suites": ["TLS_AES_128_GCM_SHA256"]},
     ("--suites", "TLS_AES_256_GCM_SHA384"), "insufficient_security"),
    ({"groups": ["secp256r1"]}, ("--groups", "x25519", "--versions", "1.3"),
     "insufficient_security"),
    ({"versions": ["TLSv1.2"]}, ("--versions", "1.3"), "protocol_version"),
    ({"versions": ["TLSv1.3"]}, ("--versions", "1.2"), "protocol_version"),
    ({"versions": ["TLSv1.2"], "groups": ["x25519"]}, ("--versions", "1.2"),
     "insufficient_security"),
], ids=["suite", "group", "version-1.3-only", "version-1.2-only", "tls12-x25519"])
def test_tlskit_client_and_erlang_server_with_nothing_in_common(
        erlang: Erlang, pki: PKI, ours: dict[str, Any], theirs: tuple[str, ...],
        alert: str) -> None:
    """Nothing to agree on: Erlang refuses the ClientHello. With no common TLS 1.3 suite
    or group it sends insufficient_security, one of the two alerts RFC 8446 4.1.1 allows
    there (tlskit sends the other, handshake_failure). The last case is a TLS 1.2
    ClientHello offering X25519 alone, which OTP 25 does not do in TLS 1.2: it answers
    insufficient_security too, where RFC 5246 7.4.1.3 has handshake_failure (RFC 5246
    7.2.2 keeps insufficient_security for a client whose ciphers are too weak)."""
    server = erlang.server("ec256", *theirs)
    err = Pump.failed_handshake(pki.client_config(**ours), server.port)
    assert isinstance(err, AlertReceived) and err.alert.name == alert
    server.wait_for(rf"HANDSHAKE ERROR \{{tls_alert,\{{{alert},.*")


# ------------------------------------------------------------------ Erlang client, tlskit server

@pytest.mark.parametrize(("version", "kind"), VERSION_KINDS)
def test_erlang_client_to_tlskit_server(erlang: Erlang, peers: Peers, pki: PKI,
                                        version: str, kind: str) -> None:
    """Erlang verifies tlskit's chain with public_key against the test root and the name
    it sent as SNI, and echoes a payload; both sides agree on what was negotiated."""
    config = pki.server_config(kind, versions=[version])
    server = peers.thread(tlskit_server(config, handshake_and_echo))
    (line,) = erlang.lines(server.port, "--send", "1000")
    (hc,) = server.join()
    assert (line["version"], line["cipher_suite"]) == (version, hc.cipher_suite.name)
    assert hc.version == version and line["peer_subject"] == "CN=localhost"
    assert line["peer_sha256"] == leaf_sha256(pki.issued[kind].chain)
    assert line["sent_sha256"] == line["received_sha256"]
    assert hc.server_name == "localhost" and line["resumed"] is False
    if version == "TLSv1.3":
        assert hc.signature_scheme is not None
        assert hc.signature_scheme.name == helpers.SCHEME_FOR_CERT[kind]


@pytest.mark.parametrize(("version", "scheme"), helpers.RSA_SCHEMES)
def test_erlang_client_with_one_rsa_scheme_to_tlskit(erlang: Erlang, peers: Peers,
                                                     pki: PKI, version: str,
                                                     scheme: str) -> None:
    """Erlang offering one RSA scheme (signature_algs, with ECDSA with SHA-256 for the
    test CA's signatures) and holding an RSA client certificate: tlskit's server signs
    with that scheme, which Erlang verifies, and Erlang signs its CertificateVerify with
    it too, which tlskit verifies."""
    _, files = pki.client_cert("erlang-rsa", "rsa2048")
    signed: list[str] = []

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if step == "client_certificate_verify":
            signed.append(fields["scheme"])

    config = pki.server_config_requiring_a_client("rsa2048", tracer=tracer)
    server = peers.thread(tlskit_server(config, handshake_and_echo))
    (line,) = erlang.lines(server.port, "--sigalgs", f"{scheme},ecdsa_secp256r1_sha256",
                           "--versions", VERSION_FLAG[version], "--cert",
                           str(files.fullchain), "--key", str(files.key), "--send", "100")
    (hc,) = server.join()
    assert (hc.signature_scheme and hc.signature_scheme.name, line["version"]) == (
        scheme, version)
    assert signed == [scheme]


@pytest.mark.parametrize("suite", TLS13_SUITES + tuple(TLS12_SUITES))
def test_erlang_client_with_each_suite(erlang: Erlang, peers: Peers, pki: PKI,
                                       suite: str) -> None:
    kind = TLS12_SUITES.get(suite, "ec256")
    ccm = {"cipher_suites": [suite]} if "CCM" in suite else {}
    server = peers.thread(tlskit_server(pki.server_config(kind, **ccm), handshake_and_echo))
    version = "1.2" if suite in TLS12_SUITES else "1.3"
    (line,) = erlang.lines(server.port, "--suites", suite, "--versions", version,
                           "--send", "70000")
    assert [hc.cipher_suite.name for hc in server.join()] == [line["cipher_suite"]] == [suite]
    assert line["received_sha256"] == line["sent_sha256"]


@pytest.mark.parametrize(("version", "group"), VERSION_GROUPS)
def test_erlang_client_with_one_group(erlang: Erlang, peers: Peers, pki: PKI,
                                      group: str, version: str) -> None:
    """Erlang offering one group (in TLS 1.3 its share for it): tlskit's server takes
    any group it implements, with no retry; in TLS 1.2 it is the ServerKeyExchange's
    curve (with an RSA certificate: Erlang's list would also bound an ECDSA one's curve,
    RFC 8422 5.1)."""
    steps: list[str] = []
    kind = "ec256" if version == "TLSv1.3" else "rsa2048"
    server = peers.thread(tlskit_server(pki.server_config(kind, tracer=recorder(steps)),
                                        handshake_and_echo))
    (line,) = erlang.lines(server.port, "--groups", group, "--versions",
                           VERSION_FLAG[version], "--send", "100")
    (hc,) = server.join()
    assert (hc.group and hc.group.name, hc.version, line["version"]) == (group, version,
                                                                         version)
    assert steps.count("hello_retry_request") == 0


def test_x448_erlang_client_to_tlskit_server(erlang: Erlang, peers: Peers,
                                             pki: PKI) -> None:
    server = peers.thread(tlskit_server(pki.server_config(groups=["x448"]),
                                        handshake_and_echo))
    (line,) = erlang.lines(server.port, "--groups", "x448", "--versions", "1.3")
    assert [hc.group and hc.group.name for hc in server.join()] == ["x448"]
    assert line["sent_sha256"] == line["received_sha256"]


@pytest.mark.parametrize(("offered", "accepted"), helpers.RETRY_CASES)
@pytest.mark.parametrize("middlebox", [True, False], ids=["middlebox", "no-middlebox"])
def test_erlang_client_key_share_gets_a_retry(erlang: Erlang, peers: Peers, pki: PKI,
                                              offered: str, accepted: str,
                                              middlebox: bool) -> None:
    """Erlang sends a share for its first group only; a tlskit server that accepts only
    a later one asks for it with a HelloRetryRequest, which Erlang answers (with and
    without middlebox compatibility: a 32-byte or an empty legacy_session_id, which the
    retry echoes)."""
    steps: list[str] = []
    hellos: list[tuple[str, bytes, bool]] = []
    note_step, note_hello = recorder(steps), hello_tracer(hellos)

    def tracer(step: str, fields: dict[str, Any]) -> None:
        note_step(step, fields)
        note_hello(step, fields)

    config = pki.server_config(groups=[accepted], tracer=tracer)
    server = peers.thread(tlskit_server(config, handshake_and_echo))
    flags = () if middlebox else ("--no-middlebox",)
    (line,) = erlang.lines(server.port, "--groups", offered, "--send", "100", *flags)
    (hc,) = server.join()
    assert hc.group is not None and hc.group.name == accepted
    assert steps.count("hello_retry_request") == 1 and line["version"] == "TLSv1.3"
    session_ids = [session_id for step, session_id, _ in hellos if step == "client_hello"]
    assert [len(session_id) for session_id in session_ids] == [32 if middlebox else 0] * 2
    assert session_ids[0] == session_ids[1]


@pytest.mark.parametrize("tickets", ["auto", "manual"])
def test_erlang_client_resumes_with_tlskit_server_tls13(erlang: Erlang, peers: Peers,
                                                        pki: PKI, tickets: str) -> None:
    """Erlang keeps tlskit's ticket (in its own store with session_tickets=auto, or
    handed to the peer process with manual, which passes it back with use_ticket); its
    second connection resumes and both sides say so."""
    server = peers.thread(tlskit_server(pki.server_config(), handshake_and_echo, count=2))
    lines = erlang.lines(server.port, "--n", "2", "--send", "1000", "--tickets", tickets,
                         "--versions", "1.3", own_vm=tickets == "auto")
    hcs = server.join()
    assert [line["resumed"] for line in lines] == [h.resumed for h in hcs] == [False, True]
    assert hcs[1].signature_scheme is None


def test_erlang_client_offers_another_servers_ticket(erlang: Erlang, peers: Peers,
                                                     pki: PKI) -> None:
    """OTP's ticket store (session_tickets=auto) is one per VM and picks tickets by SNI:
    a ticket from one tlskit server is offered to another that also says "localhost".
    That server cannot open it, ignores the PSK (RFC 8446 4.2.11) and completes a full
    handshake, on both sides' word."""
    first = peers.thread(tlskit_server(pki.server_config(), handshake_and_echo))
    erlang.lines(first.port, "--tickets", "auto", "--versions", "1.3")
    first.join()
    offered: list[bool] = []

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if step == "client_hello":
            offered.append(ExtensionType.pre_shared_key in fields["message"].extensions)

    other = peers.thread(tlskit_server(pki.server_config(tracer=tracer), handshake_and_echo))
    (line,) = erlang.lines(other.port, "--tickets", "auto", "--versions", "1.3")
    assert [hc.resumed for hc in other.join()] == [line["resumed"]] == [False]
    assert offered == [True]


def test_erlang_client_binder_after_a_retry_does_not_verify(erlang: Erlang, peers: Peers,
                                                            pki: PKI) -> None:
    """Erlang's first share is for a group tlskit's server does not take, on both
    connections: the first goes through a HelloRetryRequest and gets a ticket; on the
    second, OTP 25 offers the ticket again in its second ClientHello with a PSK binder
    that does not verify (erlang/otp#8489: it does not recompute the binder over the
    retry's transcript, RFC 8446 4.2.11.2). tlskit's server aborts with decrypt_error as
    4.2.11.2 asks (OpenSSL's, through the ssl module, refuses it too: "binder does not
    verify"), and Erlang reports the alert."""

    steps: list[str] = []
    config = pki.server_config(groups=["secp256r1"], tracer=recorder(steps))
    server = peers.thread(tlskit_server(config, echo_or_error, count=2))
    out = erlang.client(server.port, "--groups", "secp384r1,secp256r1", "--send", "100",
                        "--n", "2", "--tickets", "auto", "--versions", "1.3", status=1,
                        own_vm=True)
    first, second = server.join()
    assert not first.resumed
    assert isinstance(second, DecryptError) and "PSK binder" in str(second)
    assert second.alert == AlertDescription.decrypt_error
    assert steps.count("hello_retry_request") == 2
    assert [line["resumed"] for line in helpers.peer_json_lines("\n".join(out))] == [False]
    assert out[-1].startswith("ERROR {tls_alert,{decrypt_error,"), out


def test_erlang_client_resumes_with_its_certificate(erlang: Erlang, peers: Peers,
                                                    pki: PKI) -> None:
    """A TLS 1.3 session made with Erlang's client certificate resumes without it, and
    tlskit's server still knows the client's chain from the session."""
    issued, files = pki.client_cert("erlang-resuming")
    server = peers.thread(tlskit_server(pki.server_config_requiring_a_client(),
                                        handshake_and_echo, count=2))
    lines = erlang.lines(server.port, "--cert", str(files.fullchain), "--key",
                         str(files.key), "--send", "100", "--n", "2", "--tickets", "auto",
                         "--versions", "1.3", own_vm=True)
    hcs = server.join()
    assert [line["resumed"] for line in lines] == [h.resumed for h in hcs] == [False, True]
    assert [leaf_sha256(h.peer_certificates) for h in hcs] == [leaf_sha256(issued.chain)] * 2


@pytest.mark.parametrize("limit", [16384, 0], ids=["0rtt-server", "no-0rtt-server"])
def test_erlang_client_early_data_to_tlskit_server(erlang: Erlang, peers: Peers, pki: PKI,
                                                   limit: int) -> None:
    """Erlang's second connection sends 1000 bytes of 0-RTT data with the ticket it kept
    (session_tickets=manual, use_ticket). A tlskit server allowing 0-RTT takes and echoes
    it, and both sides say so. One that allows none sends tickets without an early_data
    extension; OTP 25 offers 0-RTT data with such a ticket all the same, which RFC 8446
    4.2.10 allows only when the PSK allows it: tlskit skips it, completes the handshake
    without it, and Erlang reports it rejected."""
    offered: list[bool] = []

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if step == "client_hello":
            offered.append(ExtensionType.early_data in fields["message"].extensions)

    config = pki.server_config(max_early_data_size=limit, tracer=tracer)
    server = peers.thread(tlskit_server(config, handshake_and_echo, count=2))
    lines = erlang.lines(server.port, "--early", "1000", "--send", "5000", "--n", "2",
                         "--tickets", "manual", "--versions", "1.3")
    hcs = server.join()
    accepted = limit > 0
    assert [(h.resumed, h.early_data_accepted) for h in hcs] == [(False, False),
                                                                 (True, accepted)]
    assert offered == [False, True]
    status = "accepted" if accepted else "rejected"
    assert [(line["early_sent"], line.get("early_data")) for line in lines] == [
        (0, None), (1000, status)]
    assert lines[1]["early_echoed"] is accepted
    assert all(line["sent_sha256"] == line["received_sha256"] for line in lines)


def test_erlang_client_session_id_is_not_resumed_without_ems(erlang: Erlang, peers: Peers,
                                                             pki: PKI) -> None:
    """Erlang's TLS 1.2 client would offer its last session's ID again (reuse_sessions),
    but OTP 25 has no extended master secret, and tlskit's server makes no resumable
    session without it (RFC 7627 5.3): its ServerHello carries an empty session ID, so
    Erlang has none to offer, and both connections are full handshakes on both sides'
    word."""
    hellos: list[tuple[str, bytes, bool]] = []
    config = pki.server_config(versions=["TLSv1.2"], tracer=hello_tracer(hellos))
    server = peers.thread(tlskit_server(config, handshake_and_echo, count=2))
    lines = erlang.lines(server.port, "--n", "2", "--send", "100", "--reuse",
                         "--versions", "1.2")
    hcs = server.join()
    assert [line["resumed"] for line in lines] == [h.resumed for h in hcs] == [False, False]
    assert hellos == [("client_hello", b"", False), ("server_hello", b"", False)] * 2


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_erlang_client_gets_the_max_fragment_length_it_asks_for(
        erlang: Erlang, peers: Peers, pki: PKI, version: str) -> None:
    """Erlang asks for 512-byte records with max_fragment_length (RFC 6066 4) and no
    record_size_limit. tlskit's server grants it and keeps every record to 512 bytes,
    its first flight included; OTP 25 holds a server to the length it asked for (with
    record_overflow), so a 5000-byte echo each way shows both kept to it. (Before tlskit
    granted the extension, OTP aborted the handshake: it enforces the length even when
    the server does not take it up, where RFC 6066 4 applies one only once negotiated.)"""
    asked: list[bool] = []
    limits: list[int] = []

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if step == "client_hello":
            asked.append(ExtensionType.max_fragment_length in fields["message"].extensions)

    def body(pump: Pump) -> HandshakeComplete:
        pump.handshake()
        limits.append(pump.conn.max_fragment)
        return handshake_and_echo(pump)

    config = pki.server_config(versions=[version], tracer=tracer)
    server = peers.thread(tlskit_server(config, body))
    (line,) = erlang.lines(server.port, "--max-fragment", "512", "--send", "5000")
    (hc,) = server.join()
    assert line["version"] == hc.version == version
    assert asked == [True] and limits == [512]


def test_alpn_erlang_client_to_tlskit_server(erlang: Erlang, peers: Peers,
                                             pki: PKI) -> None:
    helpers.alpn_peer_client_to_tlskit_server(peers, pki, lambda port: erlang.lines(
        port, "--alpn", "http/1.1,h2", "--send", "10"))


@pytest.mark.parametrize(("version", "kind"), VERSION_KINDS)
def test_erlang_client_certificate_to_tlskit_server(erlang: Erlang, peers: Peers, pki: PKI,
                                                    version: str, kind: str) -> None:
    """tlskit's server requires and verifies Erlang's client certificate (each key
    type)."""
    issued, files = pki.client_cert(f"erlang-{kind}", kind)
    server = peers.thread(tlskit_server(
        pki.server_config_requiring_a_client(versions=[version]),
        handshake_and_echo))
    (line,) = erlang.lines(server.port, "--cert", str(files.fullchain),
                           "--key", str(files.key), "--send", "100")
    (hc,) = server.join()
    assert leaf_sha256(hc.peer_certificates) == leaf_sha256(issued.chain)
    assert line["version"] == hc.version == version


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tlskit_server_refuses_erlang_client_without_certificate(
        erlang: Erlang, peers: Peers, pki: PKI, version: str) -> None:
    """An Erlang client with no certificate for a tlskit server that wants one: the
    alert tlskit sends for it reaches Erlang (in TLS 1.3 the client finishes first, so
    ssl:connect returned and the alert ends its recv)."""
    server = peers.thread(tlskit_server(
        pki.server_config_requiring_a_client(versions=[version]), Pump.handshake_error))
    out = erlang.client(server.port, "--send", "10", status=1)
    alert = helpers.no_client_certificate_alert(version)
    assert helpers.refused_with(server) == alert
    assert any(line.startswith(f"ERROR {{tls_alert,{{{alert},") for line in out), out


def test_tlskit_server_key_update_to_erlang_client(erlang: Erlang, peers: Peers,
                                                   pki: PKI) -> None:
    """tlskit's server sends a KeyUpdate with update_requested right after the handshake:
    Erlang reads the echo under the new key and answers with its own KeyUpdate."""
    server = peers.thread(tlskit_server(pki.server_config(), helpers.key_update_then_echo))
    (line,) = erlang.lines(server.port, "--send", "100000", "--rounds", "2")
    assert server.join() == [[False]]
    assert line["sent_sha256"] == line["received_sha256"]


def test_erlang_client_key_update_to_tlskit_server(erlang: Erlang, peers: Peers,
                                                   pki: PKI) -> None:
    """ssl:update_keys(read_write) between Erlang's two rounds: tlskit's server takes the
    new key, reports the request and answers; the second round comes back intact."""

    def echo_and_key_updates(pump: Pump) -> list[bool]:
        echo_until_close(pump)
        return [ku.peer_requested_update for ku in pump.key_updates_received()]

    server = peers.thread(tlskit_server(pki.server_config(), echo_and_key_updates))
    (line,) = erlang.lines(server.port, "--send", "100000", "--rounds", "2", "--key-update")
    assert server.join() == [[True]]
    assert line["sent_sha256"] == line["received_sha256"]


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_large_echo_erlang_client_to_tlskit_server(erlang: Erlang, peers: Peers, pki: PKI,
                                                   version: str) -> None:
    """4 MiB each way, checked by hash on Erlang's side and by count on tlskit's; Erlang
    closes first (ssl:close/2) and tlskit's server sees a clean close_notify."""
    server = peers.thread(tlskit_server(pki.server_config(versions=[version]),
                                        helpers.echo_and_close_event))
    (line,) = erlang.lines(server.port, "--send", str(BIG))
    digest = hashlib.sha256(helpers.client_pattern(BIG)).hexdigest()
    assert line["sent_sha256"] == line["received_sha256"] == digest
    assert line["closed"] == "ok"
    assert server.join() == [(BIG, ConnectionClosed(None))]


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tlskit_server_closes_first_to_erlang(erlang: Erlang, peers: Peers, pki: PKI,
                                              version: str) -> None:
    """tlskit sends data, then close_notify at once; Erlang reads to the close_notify
    ({ssl_closed, Socket} in active mode) and answers with its own, which tlskit reports
    as a clean close. (The peer reads in active mode: OTP 25's passive ssl:recv misses a
    close_notify that arrives while no recv is waiting, as this one does right behind the
    data, from tlskit as from OpenSSL's server through the ssl module, and reports the
    close only when the TCP stream ends, never answering it.)"""
    data = helpers.client_pattern(300_000)

    def send_and_close(pump: Pump) -> ConnectionClosed:
        pump.handshake()
        return pump.send_and_close(data)

    server = peers.thread(tlskit_server(pki.server_config(versions=[version]),
                                        send_and_close))
    (line,) = erlang.lines(server.port, "--send", "0")
    assert (line["received"], line["received_sha256"]) == (
        len(data), hashlib.sha256(data).hexdigest())
    assert server.join() == [ConnectionClosed(None)]


@pytest.fixture(scope="module")
def stranger_files(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    """A client certificate from an unrelated CA, on disk."""
    issued = LocalCA.create(directory=None).issue_client("stranger")
    return CertFiles.write(issued, tmp_path_factory.mktemp("stranger-client"))


def test_erlang_client_rejects_untrusted_tlskit_server(peers: Peers, pki: PKI,
                                                       stranger_root: Path) -> None:
    """Erlang (a standalone client, its own VM) trusts another root: public_key finds no
    path and ssl sends unknown_ca, which tlskit's server reports."""
    server = peers.thread(tlskit_server(pki.server_config(), Pump.handshake_error))
    out = run_standalone("client", "--port", str(server.port), "--ca", str(stranger_root),
                         status=1)
    assert "ERROR {tls_alert,{unknown_ca," in out
    (err,) = server.join()
    assert isinstance(err, AlertReceived) and err.alert == AlertDescription.unknown_ca


def test_tlskit_server_rejects_untrusted_erlang_certificate(
        erlang: Erlang, peers: Peers, pki: PKI, stranger_files: CertFiles) -> None:
    """Erlang's client certificate comes from a CA tlskit's server does not trust:
    unknown_issuer, sent as unknown_ca, which Erlang reports (in TLS 1.3 from its recv,
    its handshake having completed first). (The server names no CA here: see below.)"""
    server = peers.thread(tlskit_server(
        pki.server_config_requiring_a_client(send_client_ca_names=False),
        Pump.handshake_error))
    out = erlang.client(server.port, "--cert", str(stranger_files.fullchain), "--key",
                        str(stranger_files.key), status=1)
    (err,) = server.join()
    assert isinstance(err, CertificateVerificationError)
    assert err.reason == Reason.unknown_issuer and err.alert == AlertDescription.unknown_ca
    assert any(line.startswith("ERROR {tls_alert,{unknown_ca,") for line in out), out


def test_erlang_holds_back_a_certificate_the_named_ca_did_not_issue(
        erlang: Erlang, peers: Peers, pki: PKI, stranger_files: CertFiles) -> None:
    """tlskit's server names its client CA (certificate_authorities): Erlang's ssl reads
    it and, holding no certificate that CA issued, sends none; certificate_required."""
    server = peers.thread(tlskit_server(
        pki.server_config_requiring_a_client(), Pump.handshake_error))
    out = erlang.client(server.port, "--cert", str(stranger_files.fullchain), "--key",
                        str(stranger_files.key), status=1)
    (err,) = server.join()
    assert isinstance(err, CertificateRequired)
    assert any(line.startswith("ERROR {tls_alert,{certificate_required,") for line in out), out


def test_erlang_client_rejects_tlskit_server_with_wrong_name(
        erlang: Erlang, peers: Peers, pki: PKI) -> None:
    """Erlang expects another name than the certificate's: ssl's reason is
    {bad_cert,hostname_check_failed}, sent as handshake_failure (tlskit, OpenSSL and
    rustls send bad_certificate; RFC 8446 6.2 names no alert for this, so both are
    within it), and tlskit reports the alert."""
    server = peers.thread(tlskit_server(pki.server_config(), Pump.handshake_error))
    out = erlang.client(server.port, "--name", "not-localhost.example", status=1)
    (err,) = server.join()
    assert any(line.startswith("ERROR {tls_alert,{handshake_failure,")
               and "{bad_cert,hostname_check_failed}" in line for line in out), out
    assert isinstance(err, AlertReceived) and err.alert == AlertDescription.handshake_failure


@pytest.mark.parametrize(("ours", "theirs", "alert"), [
    ({"cipher_suites": ["TLS_AES_128_GCM_SHA256"]},
     ("--suites", "TLS_AES_256_GCM_SHA384", "--versions", "1.3"), "handshake_failure"),
    ({"groups": ["secp384r1"]}, ("--groups", "x25519,secp256r1", "--versions", "1.3"),
     "handshake_failure"),
    ({"versions": ["TLSv1.3"]}, ("--versions", "1.2"), "protocol_version"),
    ({"versions": ["TLSv1.2"]}, ("--versions", "1.3"), "protocol_version"),
    ({"alpn_protocols": ["h2"]}, ("--alpn", "http/1.1"), "no_application_protocol"),
    ({"versions": ["TLSv1.2"]}, ("--groups", "secp384r1", "--versions", "1.2"),
     "handshake_failure"),
], ids=["suite", "group", "version-1.2-only", "version-1.3-only", "alpn",
        "certificate-curve"])
def test_erlang_client_and_tlskit_server_with_nothing_in_common(
        erlang: Erlang, peers: Peers, pki: PKI, ours: dict[str, Any],
        theirs: tuple[str, ...], alert: str) -> None:
    """tlskit's server refuses the ClientHello with the alert the RFCs ask for, and
    Erlang reports receiving it. The last case is TLS 1.2 with a P-256 ECDSA certificate
    and an Erlang client listing secp384r1 alone: RFC 8422 5.1 has the server respect
    that list for its certificate's curve too. A tlskit server offering TLS 1.2 only to
    a TLS 1.3-only client sends protocol_version (RFC 8446 4.2.1; it used to start a TLS
    1.3 handshake and fail it with handshake_failure for want of TLS 1.3 suites)."""
    server = peers.thread(tlskit_server(pki.server_config(**ours), Pump.handshake_error))
    out = erlang.client(server.port, *theirs, status=1)
    assert helpers.refused_with(server) == alert
    assert any(line.startswith(f"ERROR {{tls_alert,{{{alert},") for line in out), out


def test_erlang_tls12_client_with_x25519_alone_sends_an_empty_list(
        erlang: Erlang, peers: Peers, pki: PKI) -> None:
    """OTP 25 has no X25519 in TLS 1.2: told to use it alone there (eccs), Erlang's
    client sends an empty supported_groups (elliptic_curves) extension, which RFC 8422
    5.1.1 does not allow (named_curve_list<2..2^16-1>): tlskit refuses it as malformed,
    with decode_error, and Erlang reports the alert."""
    server = peers.thread(tlskit_server(pki.server_config("rsa2048"), Pump.handshake_error))
    out = erlang.client(server.port, "--groups", "x25519", "--versions", "1.2", status=1)
    (err,) = server.join()
    assert isinstance(err, TLSError) and err.alert == AlertDescription.decode_error
    assert "supported_groups" in str(err)
    assert any(line.startswith("ERROR {tls_alert,{decode_error,") for line in out), out


def test_tlskit_tls12_server_with_ed25519_to_erlang(erlang: Erlang, peers: Peers,
                                                    pki: PKI) -> None:
    """Erlang's TLS 1.2 client offers no Ed25519 signature (OTP 25 has it in TLS 1.3
    only): a tlskit server holding just an Ed25519 certificate has nothing to sign its
    ServerKeyExchange with and refuses with handshake_failure, which Erlang reports."""
    server = peers.thread(tlskit_server(pki.server_config("ed25519"), Pump.handshake_error))
    out = erlang.client(server.port, "--versions", "1.2", status=1)
    (err,) = server.join()
    assert isinstance(err, TLSError) and err.alert == AlertDescription.handshake_failure
    assert any(line.startswith("ERROR {tls_alert,{handshake_failure,") for line in out), out
