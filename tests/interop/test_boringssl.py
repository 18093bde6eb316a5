"""tlskit against BoringSSL (Chrome's and Android's TLS stack) through its command-line
tool, both ways: Debian's `bssl-tool` (package android-boringssl, installed by
.ci/install-test-deps.sh). BoringSSL shares no handshake code with OpenSSL and is strict
about what it receives.

How the tool reports a connection: both sides print "Connected." and then one
"  Name: value" line per property (Version, Resumed session, Cipher, ECDHE curve,
Signature algorithm, ALPN protocol, OCSP staple, Early data, Cert subject...) on stderr.
The server runs with -www, which answers a GET with those same lines, so tlskit's client
reads BoringSSL's view of the connection from the page; the client's lines are read from
its stderr. Each test compares them with tlskit's `HandshakeComplete`.

What the tool does that other peers do not, and the tests take into account:

- its server binds port 0 when asked (-accept 0) but never says which port it got, on a
  dual-stack [::] socket: `listening_port` reads the port back from /proc (no bind race);
- neither side ever sends close_notify: the client half-closes TCP when its stdin ends
  and exits on the server's close_notify, the -www server frees the connection after its
  answer. So tlskit's side reads to the end of the TCP stream, and the tests keep the
  client's stdin open (a closed stdin would half-close TCP before a 0-RTT handshake has
  sent its Finished);
- the client's -root-certs checks the chain but not the host name (the tool sets no name
  to verify), so a wrong name is tested from tlskit's client only;
- the server has no ALPN option, and -require-any-client-cert accepts any certificate;
- BoringSSL leaves Ed25519 out of the signature algorithms it verifies by default, so
  its client does not accept an Ed25519 server certificate and its server does not ask
  for an Ed25519 client certificate (its server still signs with Ed25519 when asked);
  tests below show both ends of that.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tlskit import (
    AlertDescription,
    AlertReceived,
    CertificateVerificationError,
    ClientConfig,
    ClientConnection,
    EarlyDataReceived,
    EchRejected,
    HandshakeComplete,
    KeyUpdated,
    SessionTicketReceived,
    TLSError,
)
from tlskit.ca import LocalCA
from tlskit.io.blocking import TruncatedConnection, connect
from tlskit.session import Session, SessionCache
from tlskit.x509.errors import Reason
from tlskit.x509.ocsp import build_ocsp_request

from ..support.peers import PeerProcess, require_binary
from ..support.ports import TIMEOUT, listening_port
from ..support.pump import PeerClosedError, Pump, ServerThread, tlskit_server
from .conftest import PKI, Peers
from .helpers import SCHEME_FOR_CERT, SUITES

pytestmark = pytest.mark.interop

BSSL = "bssl-tool"
REQUEST = b"GET / HTTP/1.0\r\n\r\n"
LINE = b"hello from bssl\n"
EARLY = "early hello\n"
# BoringSSL's names for the groups ("ECDHE curve: ..." and -curves).
BSSL_GROUP = {"x25519": "X25519", "secp256r1": "P-256", "secp384r1": "P-384",
              "secp521r1": "P-521"}
FIELD = re.compile(r"^  ([A-Za-z ]+): ?(.*)$", re.M)
ECH_OUTER = 0xFE0D  # encrypted_client_hello (draft-ietf-tls-esni-13 and later)


def is_grease(value: int) -> bool:
    """RFC 8701's reserved values: 0x0A0A, 0x1A1A, ... 0xFAFA."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def connections(output: str) -> list[dict[str, str]]:
    """The properties bssl printed for each connection, in order."""
    blocks = output.split("Connected.\n")[1:]
    return [dict(FIELD.findall(block.split("\n\n")[0])) for block in blocks]


class Recorder:
    """A tlskit tracer keeping every step it sees (to check what a peer really sent)."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, step: str, fields: dict[str, Any]) -> None:
        self.steps.append((str(step), fields))

    def names(self) -> list[str]:
        return [step for step, _ in self.steps]

    def first(self, step: str, after: int = 0) -> dict[str, Any]:
        """The fields of the first ``step`` (of the one after ``after`` others)."""
        return [fields for name, fields in self.steps if name == step][after]


# ------------------------------------------------------------------ the bssl processes

def bssl_server(peers: Peers, pki: PKI, kind: str = "ec256", *args: str,
                www: bool = True) -> tuple[PeerProcess, int]:
    """`bssl-tool server` with ``kind``'s chain on the port the OS picks (read back from
    /proc: the tool does not print it)."""
    files = pki.files[kind]
    proc = peers.start([BSSL, "server", "-accept", "0", "-key", files.key, "-cert",
                        files.fullchain, *(["-www"] if www else []), *args])
    return proc, listening_port(proc.pid)


def bssl_client(peers: Peers, pki: PKI, port: int, *args: Any, line: bytes | None = LINE,
                status: int = 0, root: Path | None = None, name: str = "localhost",
                ) -> tuple[PeerProcess, list[dict[str, str]]]:
    """`bssl-tool client` to 127.0.0.1:port asking for ``name``, verifying against
    ``root`` (the test root by default), run to its end, which must be ``status``; it
    sends ``line`` and keeps stdin open (see the module docstring). Returns the process
    and what it printed for each connection."""
    proc = peers.start([BSSL, "client", "-connect", f"127.0.0.1:{port}", "-server-name",
                        name, "-root-certs", root or pki.root_pem, *args])
    if line is not None:
        with contextlib.suppress(OSError):  # a client that already failed took no input
            proc.write(line)
    assert proc.wait() == status, proc.describe()
    return proc, connections(proc.stderr)


# ------------------------------------------------------------------ tlskit's sides

def fetch_page(config: ClientConfig, port: int,
               **kw: Any) -> tuple[HandshakeComplete, dict[str, str], list[Session]]:
    """tlskit's client against a -www server: the handshake, one GET (as 0-RTT data when
    ``early_data`` is given), the page to the end of the stream. Returns the outcome,
    BoringSSL's view of the connection (the page) and the sessions tlskit received."""
    pump = Pump.connect(config, port, **kw)
    try:
        hc = pump.handshake()
        if not kw.get("early_data"):
            pump.send(REQUEST)
        page = pump.read_to_eof()
        sessions = [e.session for e in pump.events
                    if isinstance(e, SessionTicketReceived) and e.session is not None]
    finally:
        pump.dispose()
    assert page.startswith(b"HTTP/1.0 200 OK"), page
    (view,) = connections("Connected.\n" + page.decode().split("\r\n\r\n", 1)[1])
    return hc, view, sessions


def answer_line(pump: Pump) -> tuple[HandshakeComplete, bytes]:
    """Server body: the handshake, then one line answered with "you sent ..." (or the
    end of the stream: bssl's -test-resumption drops its first connection once it has a
    ticket). Returns the outcome and the 0-RTT data received."""
    hc = pump.handshake()
    pump.run_until(lambda: b"\n" in pump.data or pump.eof, "a line or the end")
    if b"\n" in pump.data:
        pump.send(b"you sent " + pump.recv_until(b"\n"))
        pump.close()
    pump.read_to_eof()
    early = b"".join(e.data for e in pump.events if isinstance(e, EarlyDataReceived))
    return hc, early


def served(pki: PKI, peers: Peers, kind: str = "ec256", count: int = 1,
           **kw: Any) -> ServerThread:
    """A tlskit server thread answering ``count`` connections with `answer_line`."""
    server: ServerThread = peers.thread(tlskit_server(pki.server_config(kind, **kw),
                                                      answer_line, count=count))
    return server


def same_view(hc: HandshakeComplete, bssl: dict[str, str]) -> None:
    """What both sides must agree on, whichever side printed ``bssl``."""
    assert bssl["Version"] == hc.version
    assert bssl["Cipher"] == hc.cipher_suite.name
    assert bssl["Resumed session"] == ("yes" if hc.resumed else "no")
    assert bssl["ALPN protocol"] == (hc.alpn_protocol or "")
    if hc.group is not None:
        assert bssl["ECDHE curve"] == BSSL_GROUP[hc.group.name]


# ------------------------------------------------------------------ tlskit client, bssl server

@pytest.mark.parametrize("kind", ["ec256", "rsa2048", "ed25519"])
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tlskit_client_to_bssl_server(peers: Peers, pki: PKI, kind: str,
                                      version: str) -> None:
    """BoringSSL serves each chain (its server signs with Ed25519 when the client offers
    it); both sides report the same version, suite, group, and the name tlskit sent."""
    _, port = bssl_server(peers, pki, kind)
    hc, view, _ = fetch_page(pki.client_config(versions=[version]), port)
    same_view(hc, view)
    assert hc.version == version and view["Client sent SNI"] == "localhost"
    assert hc.signature_scheme is not None
    if version == "TLSv1.3":
        assert hc.signature_scheme.name == SCHEME_FOR_CERT[kind]
    assert [c.subject for c in hc.peer_certificates] == [
        c.subject for c in pki.issued[kind].chain]


@pytest.mark.parametrize("suite", SUITES)
def test_tlskit_client_suites_with_bssl_server(peers: Peers, pki: PKI, suite: str) -> None:
    """BoringSSL has no switch for its TLS 1.3 suites: tlskit offering one forces it."""
    _, port = bssl_server(peers, pki)
    hc, view, _ = fetch_page(pki.client_config(cipher_suites=[suite]), port)
    assert view["Cipher"] == hc.cipher_suite.name == suite


@pytest.mark.parametrize("group", ["secp384r1", "secp521r1"])
def test_bssl_server_with_one_group_gets_a_retry(peers: Peers, pki: PKI, group: str) -> None:
    """BoringSSL accepts only ``group``; tlskit's client lists it without a key share
    (its shares are for X25519MLKEM768 and x25519), so BoringSSL sends a
    HelloRetryRequest, which tlskit answers with that group."""
    _, port = bssl_server(peers, pki, "ec256", "-curves", BSSL_GROUP[group])
    recorder = Recorder()
    config = pki.client_config(groups=["X25519MLKEM768", "x25519", group], tracer=recorder)
    hc, view, _ = fetch_page(config, port)
    assert recorder.first("hello_retry_request")["group"] == group
    assert hc.group is not None and hc.group.name == group
    assert view["ECDHE curve"] == BSSL_GROUP[group]


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tlskit_client_gets_bssl_staple(peers: Peers, pki: PKI, version: str) -> None:
    """An OCSP response from tlskit's CA, stapled by BoringSSL (-ocsp-response; in the
    leaf's CertificateEntry in TLS 1.3, a CertificateStatus in TLS 1.2): tlskit's client
    receives it byte for byte and its verifier accepts it."""
    leaf = pki.issued["ec256"]
    staple = pki.ca.ocsp_response(build_ocsp_request(leaf.chain[0], leaf.chain[1], None))
    path = pki.directory / "bssl-staple.der"
    path.write_bytes(staple)
    _, port = bssl_server(peers, pki, "ec256", "-loop", "-ocsp-response", str(path))
    hc, _, _ = fetch_page(pki.client_config(versions=[version], ocsp_stapling=True), port)
    assert hc.ocsp_response == staple
    unasked, _, _ = fetch_page(pki.client_config(versions=[version]), port)
    assert unasked.ocsp_response is None  # BoringSSL staples only when asked


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tlskit_client_resumes_with_bssl_server(peers: Peers, pki: PKI, version: str) -> None:
    """BoringSSL's tickets (TLS 1.3 NewSessionTicket; RFC 5077 with the extended master
    secret in TLS 1.2): tlskit's second connection resumes and BoringSSL says so."""
    _, port = bssl_server(peers, pki, "ec256", "-loop")
    config = pki.client_config(versions=[version], session_cache=SessionCache())
    first, view1, _ = fetch_page(config, port)
    second, view2, _ = fetch_page(config, port)
    assert [first.resumed, second.resumed] == [False, True]
    same_view(first, view1)
    same_view(second, view2)


def test_tlskit_client_early_data_to_bssl_server(peers: Peers, pki: PKI) -> None:
    """0-RTT: BoringSSL's ticket allows early data (-early-data); tlskit's second
    connection sends the GET as early data and BoringSSL answers it ("Early data: yes")."""
    _, port = bssl_server(peers, pki, "ec256", "-loop", "-early-data")
    config = pki.client_config()
    _, _, sessions = fetch_page(config, port)
    assert sessions[0].max_early_data > 0
    hc, view, _ = fetch_page(config, port, session=sessions[0], early_data=REQUEST)
    assert hc.resumed and hc.early_data_accepted
    assert view["Early data"] == "yes" and view["Resumed session"] == "yes"


def test_tlskit_client_early_data_declined_by_another_bssl_server(
        peers: Peers, pki: PKI) -> None:
    """A ticket from one BoringSSL server offered to another (its own ticket keys): the
    second cannot resume, so it declines the 0-RTT data; tlskit completes a full
    handshake, reports early data not accepted, and sends the request again."""
    _, first_port = bssl_server(peers, pki, "ec256", "-early-data")
    _, other_port = bssl_server(peers, pki, "ec256", "-early-data")
    config = pki.client_config()
    _, _, sessions = fetch_page(config, first_port)
    pump = Pump.connect(config, other_port, session=sessions[0], early_data=REQUEST)
    try:
        assert isinstance(pump.conn, ClientConnection) and pump.conn.early_data_sent
        hc = pump.handshake()
        pump.send(REQUEST)
        page = pump.read_to_eof().decode()
    finally:
        pump.dispose()
    assert not hc.resumed and not hc.early_data_accepted
    assert "Resumed session: no" in page and "Early data: no" in page


def test_tlskit_client_early_data_declined_by_a_bssl_retry(peers: Peers, pki: PKI) -> None:
    """BoringSSL accepts only P-384, for which tlskit's resuming hello carries no share:
    its HelloRetryRequest rules out the 0-RTT data (RFC 8446 4.2.10), so tlskit resumes
    without it and sends the request again after the handshake."""
    _, port = bssl_server(peers, pki, "ec256", "-loop", "-early-data", "-curves", "P-384")
    recorder = Recorder()
    config = pki.client_config(tracer=recorder)
    _, _, sessions = fetch_page(config, port)
    pump = Pump.connect(config, port, session=sessions[0], early_data=REQUEST)
    try:
        hc = pump.handshake()
        pump.send(REQUEST)
        page = pump.read_to_eof().decode()
    finally:
        pump.dispose()
    assert recorder.names().count("hello_retry_request") == 2  # both connections
    assert hc.resumed and not hc.early_data_accepted
    assert "Resumed session: yes" in page and "Early data: no" in page


def test_bssl_server_issues_no_ticket_for_psk_ke_only(peers: Peers, pki: PKI) -> None:
    """BoringSSL implements only psk_dhe_ke resumption: to a client offering psk_ke alone
    (RFC 8446 4.2.9) it sends no ticket, so tlskit's second connection is a full one."""
    _, port = bssl_server(peers, pki, "ec256", "-loop")
    config = pki.client_config(psk_modes=["psk_ke"], session_cache=SessionCache())
    first, _, sessions = fetch_page(config, port)
    second, view, _ = fetch_page(config, port)
    assert sessions == [] and not first.resumed and not second.resumed
    assert view["Resumed session"] == "no"


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
@pytest.mark.parametrize("kind", ["ec256", "rsa2048"])
def test_tlskit_client_certificate_to_bssl_server(peers: Peers, pki: PKI, kind: str,
                                                  version: str) -> None:
    """-require-any-client-cert: BoringSSL asks for a certificate and reports the one
    tlskit sent and the scheme of its CertificateVerify."""
    issued, _ = pki.client_cert(f"bssl-{kind}-client", kind)
    _, port = bssl_server(peers, pki, "ec256", "-require-any-client-cert")
    config = pki.client_config(issued, versions=[version])
    hc, view, _ = fetch_page(config, port)
    same_view(hc, view)
    assert view["Cert subject"] == f"CN = bssl-{kind}-client"
    scheme = {"ec256": "ecdsa_secp256r1_sha256" if version == "TLSv1.3" else "ecdsa_sha256",
              "rsa2048": "rsa_pss_rsae_sha256"}[kind]
    assert view["Signature algorithm"] == scheme


@pytest.mark.parametrize(("version", "alert", "words"), [
    ("TLSv1.3", AlertDescription.certificate_required, "PEER_DID_NOT_RETURN_A_CERTIFICATE"),
    ("TLSv1.2", AlertDescription.handshake_failure, "PEER_DID_NOT_RETURN_A_CERTIFICATE"),
])
def test_tlskit_client_without_certificate_refused_by_bssl(
        peers: Peers, pki: PKI, version: str, alert: AlertDescription, words: str) -> None:
    """No certificate where BoringSSL requires one: its alert (certificate_required in
    TLS 1.3, RFC 8446 4.4.2.4; handshake_failure in TLS 1.2) ends tlskit's connection,
    reported as that alert."""
    proc, port = bssl_server(peers, pki, "ec256", "-require-any-client-cert")
    with pytest.raises(AlertReceived) as err:
        fetch_page(pki.client_config(versions=[version]), port)
    assert err.value.alert == alert
    proc.wait_for(f"Error while connecting: {words}", stream="stderr")


def test_tlskit_client_ed25519_certificate_not_asked_for_by_bssl(peers: Peers,
                                                                 pki: PKI) -> None:
    """BoringSSL's CertificateRequest lists no Ed25519 (off by default in BoringSSL), so
    tlskit's client, whose only certificate is Ed25519, answers with an empty
    Certificate (RFC 8446 4.4.2: it has none matching) and BoringSSL refuses it."""
    issued, _ = pki.client_cert("bssl-ed25519-client", "ed25519")
    proc, port = bssl_server(peers, pki, "ec256", "-require-any-client-cert")
    recorder = Recorder()
    config = pki.client_config(issued, tracer=recorder)
    with pytest.raises(AlertReceived) as err:
        fetch_page(config, port)
    assert err.value.alert == AlertDescription.certificate_required
    assert recorder.first("client_certificate")["chain"] == []
    proc.wait_for("PEER_DID_NOT_RETURN_A_CERTIFICATE", stream="stderr")


def test_tlskit_client_alpn_to_bssl_server(peers: Peers, pki: PKI) -> None:
    """The tool's server has no ALPN option, so BoringSSL ignores tlskit's offer: no
    protocol on either side (tlskit does not insist: RFC 7301 3.2)."""
    _, port = bssl_server(peers, pki)
    hc, view, _ = fetch_page(pki.client_config(alpn_protocols=["h2", "http/1.1"]), port)
    assert hc.alpn_protocol is None and view["ALPN protocol"] == ""


def test_key_update_with_bssl_server(peers: Peers, pki: PKI) -> None:
    """tlskit's KeyUpdate asking for one back: BoringSSL installs the new key (the next
    line still decrypts) and answers with its own, which tlskit reports."""
    proc, port = bssl_server(peers, pki, www=False)
    pump = Pump.connect(pki.client_config(), port)
    try:
        pump.handshake()
        pump.send(b"before\n")
        proc.wait_for("before")
        pump.key_update(request_peer_update=True)
        pump.send(b"after\n")
        proc.wait_for("after")
        proc.write(b"from bssl\n")
        assert pump.recv_until(b"\n") == b"from bssl\n"
        assert pump.key_updates_received() == [KeyUpdated(peer_requested_update=False)]
        pump.close()
        assert pump.read_to_eof() == b""
    finally:
        pump.dispose()
    assert proc.wait() == 0, proc.describe()


def test_bulk_data_both_ways_with_bssl_server(peers: Peers, pki: PKI) -> None:
    """200 KB each way: tlskit's full 16 KiB records into BoringSSL (which reads them 512
    bytes at a time), BoringSSL's 512-byte records (one per stdin read) into tlskit."""
    proc, port = bssl_server(peers, pki, www=False)
    up = bytes(range(256)) * 800
    down = bytes(reversed(range(256))) * 800
    pump = Pump.connect(pki.client_config(), port)
    try:
        pump.handshake()
        pump.send(up)
        proc.wait_until(lambda: len(proc.stdout_bytes) >= len(up), "the upload")
        proc.write_in_background(down)
        assert pump.recv_exactly(len(down)) == down
        pump.close()
        pump.read_to_eof()
    finally:
        pump.dispose()
    assert proc.wait() == 0, proc.describe()
    assert proc.stdout_bytes == up


@pytest.mark.parametrize("suppress", [True, False], ids=["ragged-ok", "strict"])
def test_blocking_socket_reads_bssl_page_without_close_notify(peers: Peers, pki: PKI,
                                                              suppress: bool) -> None:
    """tlskit's blocking socket against BoringSSL, which ends the page with a TCP close
    and no close_notify: by default (as `ssl`) that reads as end of stream with
    `truncated` set; with suppress_ragged_eofs=False it is a TruncatedConnection."""
    _, port = bssl_server(peers, pki)
    tls = connect("127.0.0.1", port, pki.client_config(), server_name="localhost",
                  timeout=TIMEOUT, suppress_ragged_eofs=suppress)
    chunks: list[bytes] = []
    ended: TruncatedConnection | None = None
    with tls:
        tls.sendall(REQUEST)
        try:
            while chunk := tls.recv():
                chunks.append(chunk)
        except TruncatedConnection as exc:
            ended = exc
        truncated = tls.truncated
    page = b"".join(chunks)
    assert page.startswith(b"HTTP/1.0 200 OK") and b"Version: TLSv1.3" in page
    if suppress:
        assert truncated and ended is None
    else:
        assert ended is not None and "without close_notify" in str(ended)


def test_tlskit_client_rejects_bssl_server_for_wrong_name(peers: Peers, pki: PKI) -> None:
    """tlskit checks the name it sent against BoringSSL's certificate: its error names the
    check, and BoringSSL reports the bad_certificate alert tlskit sent."""
    proc, port = bssl_server(peers, pki)
    with pytest.raises(CertificateVerificationError) as err:
        fetch_page(pki.client_config(), port, server_name="not-localhost.example")
    assert err.value.reason == Reason.hostname_mismatch
    assert err.value.alert == AlertDescription.bad_certificate
    assert "not valid for not-localhost.example" in str(err.value)
    proc.wait_for("Error while connecting: SSLV3_ALERT_BAD_CERTIFICATE", stream="stderr")


def test_tlskit_tls13_client_vs_bssl_tls12_server(peers: Peers, pki: PKI) -> None:
    """BoringSSL limited to TLS 1.2, tlskit to TLS 1.3: BoringSSL refuses with
    protocol_version, which tlskit reports."""
    proc, port = bssl_server(peers, pki, "ec256", "-max-version", "tls1.2")
    with pytest.raises(AlertReceived) as err:
        fetch_page(pki.client_config(versions=["TLSv1.3"]), port)
    assert err.value.alert == AlertDescription.protocol_version
    proc.wait_for("Error while connecting: UNSUPPORTED_PROTOCOL", stream="stderr")


# ------------------------------------------------------------------ ECH: tlskit client, bssl server

def generate_ech(directory: Path, public_name: str, config_id: int) -> dict[str, Path]:
    """`bssl-tool generate-ech`: an ECHConfigList (as a DNS HTTPS record carries it),
    the one ECHConfig and its private key, for the server's -ech-config / -ech-key."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {name: directory / name for name in ("list", "config", "key")}
    made = subprocess.run([require_binary(BSSL), "generate-ech", "-out-ech-config-list",
                           files["list"], "-out-ech-config", files["config"],
                           "-out-private-key", files["key"], "-public-name", public_name,
                           "-config-id", str(config_id)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    return files


def bssl_ech_server(peers: Peers, pki: PKI, ech: dict[str, Path],
                    *args: str) -> tuple[PeerProcess, int]:
    return bssl_server(peers, pki, "ec256", "-ech-key", str(ech["key"]), "-ech-config",
                       str(ech["config"]), *args)


def ech_config(pki: PKI, ech: dict[str, Path], **kw: Any) -> ClientConfig:
    return pki.client_config(ech_config_list=ech["list"].read_bytes(), **kw)


def test_tlskit_ech_accepted_by_bssl_server(peers: Peers, pki: PKI, tmp_path: Path) -> None:
    """tlskit's ClientHelloOuter names public.example (a name the certificate does not
    have); BoringSSL decrypts the inner hello, sees "localhost" as SNI, and reports
    ECH; tlskit reports it on HandshakeComplete and verified the certificate for the
    real name."""
    ech = generate_ech(tmp_path / "ech", "public.example", 1)
    _, port = bssl_ech_server(peers, pki, ech)
    recorder = Recorder()
    hc, view, _ = fetch_page(ech_config(pki, ech, tracer=recorder, alpn_protocols=["h2"]),
                             port)
    assert hc.ech_accepted and hc.server_name == "localhost"
    assert view["Encrypted ClientHello"] == "yes" and view["Client sent SNI"] == "localhost"
    hello = recorder.first("client_hello")
    assert hello["ech"] == "offered" and hello["ech_public_name"] == "public.example"
    assert b"localhost" not in hello["raw"]  # the real name never went in the clear
    assert recorder.first("server_hello")["ech"] == "accepted"
    same_view(hc, view)


@pytest.mark.parametrize("stale", [False, True], ids=["accepted", "stale-config"])
def test_tlskit_ech_through_a_bssl_retry_request(peers: Peers, pki: PKI, tmp_path: Path,
                                                 stale: bool) -> None:
    """BoringSSL takes P-256 alone; tlskit's shares are for x25519: a HelloRetryRequest.
    With the right config its ECH confirmation accepts, and the second inner hello is
    sealed with the same HPKE context; with a stale one it rejects, and the retry
    configs come in EncryptedExtensions as without the retry."""
    ech = generate_ech(tmp_path / "ech", "public.example", 1)
    offered = generate_ech(tmp_path / "old", "localhost", 2) if stale else ech
    _, port = bssl_ech_server(peers, pki, ech, "-curves", "P-256")
    recorder = Recorder()
    config = ech_config(pki, offered, tracer=recorder, groups=["x25519", "secp256r1"])
    if stale:
        with pytest.raises(EchRejected) as err:
            fetch_page(config, port)
        assert err.value.retry_configs == ech["list"].read_bytes()
        assert "hello_retry_request" in recorder.names()
        return
    hc, view, _ = fetch_page(config, port)
    assert "hello_retry_request" in recorder.names()
    assert len([s for s in recorder.names() if s == "client_hello"]) == 2
    assert hc.ech_accepted and view["Encrypted ClientHello"] == "yes"
    assert hc.group is not None and hc.group.name == "secp256r1"


def test_tlskit_ech_stale_config_rejected_then_retried(peers: Peers, pki: PKI,
                                                       tmp_path: Path) -> None:
    """A config the server no longer has (public name "localhost", which the
    certificate covers): BoringSSL completes with the outer hello and sends its
    configs as retry_configs; tlskit checks the certificate for the public name, sends
    ech_required (BoringSSL reports that alert), raises EchRejected with them, and a
    new connection with those configs is accepted."""
    current = generate_ech(tmp_path / "current", "public.example", 1)
    stale = generate_ech(tmp_path / "stale", "localhost", 2)
    proc, port = bssl_ech_server(peers, pki, current, "-loop")
    with pytest.raises(EchRejected) as err:
        fetch_page(ech_config(pki, stale), port, server_name="secret.example")
    exc = err.value
    assert exc.alert == AlertDescription.ech_required and exc.public_name == "localhost"
    assert exc.retry_configs == current["list"].read_bytes()
    assert "retry_configs" in str(exc)
    proc.wait_for("TLSV1_ALERT_ECH_REQUIRED", stream="stderr")
    retry = pki.client_config(ech_config_list=exc.retry_configs)
    hc, view, _ = fetch_page(retry, port)
    assert hc.ech_accepted and view["Encrypted ClientHello"] == "yes"


def test_tlskit_ech_rejected_with_a_public_name_the_certificate_lacks(
        peers: Peers, pki: PKI, tmp_path: Path) -> None:
    """RFC 9849 6.1.6: the rejection must be authenticated for the public name; the
    certificate is not valid for stale.example, so the connection fails as any wrong
    name would (bad_certificate, which BoringSSL reports), without retry configs."""
    current = generate_ech(tmp_path / "current", "public.example", 1)
    stale = generate_ech(tmp_path / "stale", "stale.example", 2)
    proc, port = bssl_ech_server(peers, pki, current)
    with pytest.raises(CertificateVerificationError) as err:
        fetch_page(ech_config(pki, stale), port)
    assert err.value.alert == AlertDescription.bad_certificate
    assert "stale.example" in str(err.value)
    proc.wait_for("SSLV3_ALERT_BAD_CERTIFICATE", stream="stderr")


def test_tlskit_ech_grease_to_bssl_ech_server(peers: Peers, pki: PKI,
                                             tmp_path: Path) -> None:
    """ClientConfig(ech_grease=True): BoringSSL cannot open the GREASE extension, answers
    the (only) hello with its retry configs, which tlskit checks and ignores (RFC 9849
    6.2): a normal connection, no ECH on either side."""
    ech = generate_ech(tmp_path / "ech", "public.example", 1)
    _, port = bssl_ech_server(peers, pki, ech)
    recorder = Recorder()
    hc, view, _ = fetch_page(pki.client_config(ech_grease=True, tracer=recorder), port)
    assert ECH_OUTER in recorder.first("client_hello")["message"].extensions
    assert ECH_OUTER in recorder.first("encrypted_extensions")["message"].extensions
    assert not hc.ech_accepted and view["Encrypted ClientHello"] == "no"
    assert view["Client sent SNI"] == "localhost"


def test_tlskit_ech_to_a_tls12_bssl_server_is_a_rejection(peers: Peers, pki: PKI,
                                                          tmp_path: Path) -> None:
    """ECH does not exist in TLS 1.2: BoringSSL limited to it completes a TLS 1.2
    handshake with the outer hello (public name "localhost"), and tlskit ends it with
    ech_required, sending no application data."""
    ech = generate_ech(tmp_path / "ech", "localhost", 1)
    proc, port = bssl_server(peers, pki, "ec256", "-max-version", "tls1.2")
    with pytest.raises(EchRejected) as err:
        fetch_page(ech_config(pki, ech), port, server_name="secret.example")
    assert err.value.retry_configs is None and "TLS 1.2" in str(err.value)
    proc.wait_for("TLSV1_ALERT_ECH_REQUIRED", stream="stderr")


# ------------------------------------------------------------------ bssl client, tlskit server

@pytest.mark.parametrize(("kind", "version"), [
    ("ec256", "tls1.3"), ("ec384", "tls1.3"), ("rsa2048", "tls1.3"),
    ("ec256", "tls1.2"), ("rsa2048", "tls1.2")])
def test_bssl_client_to_tlskit_server(peers: Peers, pki: PKI, kind: str, version: str) -> None:
    """BoringSSL verifies tlskit's chain and gets its line answered; both sides report the
    same version, suite, group and CertificateVerify scheme."""
    server = served(pki, peers, kind)
    proc, (view,) = bssl_client(peers, pki, server.port, "-max-version", version)
    ((hc, _),) = server.join()
    same_view(hc, view)
    assert hc.version == {"tls1.3": "TLSv1.3", "tls1.2": "TLSv1.2"}[version]
    assert proc.stdout == "you sent " + LINE.decode()
    assert hc.signature_scheme is not None
    if hc.version == "TLSv1.3":
        assert view["Signature algorithm"] == hc.signature_scheme.name == SCHEME_FOR_CERT[kind]


@pytest.mark.parametrize("flags", [("-grease",), ("-permute-extensions",), ("-ech-grease",),
                                   ("-grease", "-permute-extensions", "-ech-grease")],
                         ids=lambda f: "+".join(x.strip("-") for x in f))
@pytest.mark.parametrize("version", ["tls1.3", "tls1.2"])
def test_bssl_client_grease_and_permuted_hello(peers: Peers, pki: PKI, flags: tuple[str, ...],
                                               version: str) -> None:
    """Chrome's ClientHello habits: GREASE values in the suites, groups, key shares,
    signature algorithms, versions and extensions (RFC 8701), extensions in a random
    order, and an encrypted_client_hello extension tlskit cannot decrypt (ECH GREASE).
    tlskit ignores what it does not know (RFC 8701 3.1, 8446 4.1.2) and completes. The
    tracer shows what the hello really carried: GREASE suites and extensions, the ECH
    extension (TLS 1.3 only), its extensions in another order than a plain hello's."""
    recorder = Recorder()
    server = served(pki, peers, tracer=recorder)
    _, (view,) = bssl_client(peers, pki, server.port, *flags, "-max-version", version)
    ((hc, _),) = server.join()
    same_view(hc, view)
    hello = recorder.first("client_hello")["message"]
    if "-grease" in flags:
        assert any(is_grease(s) for s in hello.cipher_suites)
        assert any(is_grease(int(e)) for e in hello.extensions)
    if "-ech-grease" in flags and version == "tls1.3":
        assert ECH_OUTER in hello.extensions
    if "-permute-extensions" in flags:  # not the order of BoringSSL's usual hello
        plain_server = served(pki, peers, tracer=recorder)
        bssl_client(peers, pki, plain_server.port, "-max-version", version)
        plain_server.join()
        usual = recorder.first("client_hello", after=1)["message"]
        assert [e for e in hello.extensions if e in usual.extensions] != list(usual.extensions)
        assert set(hello.extensions) >= set(usual.extensions)


@pytest.mark.parametrize("cookie", [False, True], ids=["no-cookie", "cookie"])
def test_bssl_client_grease_through_a_retry(peers: Peers, pki: PKI, cookie: bool) -> None:
    """BoringSSL offers P-384 (with its share) and P-256, which tlskit prefers: tlskit
    asks for P-256 (HelloRetryRequest, with a cookie BoringSSL must echo or without) and
    accepts the second hello, whose GREASE, extension order and ECH GREASE must stay
    those of the first (RFC 8446 4.1.2)."""
    recorder = Recorder()
    server = served(pki, peers, tracer=recorder, send_hrr_cookie=cookie)
    _, (view,) = bssl_client(peers, pki, server.port, "-curves", "P-384:P-256", "-grease",
                             "-permute-extensions", "-ech-grease")
    ((hc, _),) = server.join()
    assert "hello_retry_request" in recorder.names()
    assert hc.group is not None and hc.group.name == "secp256r1"
    same_view(hc, view)


def test_bssl_client_real_ech_refused_by_tlskit_server(peers: Peers, pki: PKI,
                                                      tmp_path: Path) -> None:
    """A real ECH offer (an ECHConfigList from `bssl-tool generate-ech`, as Chrome gets
    from a DNS HTTPS record) to tlskit's server, which implements no ECH: tlskit
    completes with the outer hello (public name "localhost"), as the ECH draft asks of
    servers without it, and BoringSSL, having no retry configs, aborts with ECH_REJECTED
    and the ech_required alert. tlskit's server names that alert and explains it."""
    ech = {name: tmp_path / name for name in ("ech.list", "ech.config", "ech.key")}
    made = subprocess.run([require_binary(BSSL), "generate-ech", "-out-ech-config-list",
                           ech["ech.list"], "-out-ech-config", ech["ech.config"],
                           "-out-private-key", ech["ech.key"], "-public-name", "localhost",
                           "-config-id", "7"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert made.returncode == 0, made.stderr
    recorder = Recorder()
    server = peers.thread(tlskit_server(pki.server_config(tracer=recorder), _aborted))
    proc, _ = bssl_client(peers, pki, server.port, "-ech-config-list", ech["ech.list"],
                          status=1)
    (err,) = server.join()
    assert ECH_OUTER in recorder.first("client_hello")["message"].extensions
    assert isinstance(err, AlertReceived) and err.alert == AlertDescription.ech_required
    assert "offered Encrypted Client Hello" in str(err)
    assert "Error while connecting: ECH_REJECTED" in proc.stderr


def _ech_keys(ech: dict[str, Path]) -> list[tuple[bytes, bytes]]:
    """`generate_ech`'s files as ServerConfig.ech_keys takes them."""
    return [(ech["config"].read_bytes(), ech["key"].read_bytes())]


@pytest.mark.parametrize("retry", [False, True], ids=["direct", "hello-retry"])
def test_bssl_client_ech_accepted_by_tlskit_server(peers: Peers, pki: PKI, tmp_path: Path,
                                                   retry: bool) -> None:
    """BoringSSL's client encrypts its ClientHello to tlskit's server (public name
    public.example, which the certificate lacks: only the inner name localhost can be
    verified); tlskit decrypts it and both report ECH. With BoringSSL offering P-384
    first and tlskit asking for P-256, the HelloRetryRequest carries the acceptance."""
    ech = generate_ech(tmp_path / "ech", "public.example", 4)
    recorder = Recorder()
    server = served(pki, peers, ech_keys=_ech_keys(ech), tracer=recorder)
    curves = ["-curves", "P-384:P-256"] if retry else []
    _, (view,) = bssl_client(peers, pki, server.port, "-ech-config-list", ech["list"],
                             *curves)
    ((hc, _),) = server.join()
    assert hc.ech_accepted and hc.server_name == "localhost"
    assert view.get("Encrypted ClientHello") == "yes"
    assert ("hello_retry_request" in recorder.names()) == retry
    same_view(hc, view)


def test_bssl_client_resumes_inside_ech_with_tlskit_server(peers: Peers, pki: PKI,
                                                          tmp_path: Path) -> None:
    """-test-resumption with ECH: BoringSSL offers its ticket in the inner hello, so
    tlskit checks the PSK binder over ClientHelloInner; both connections are accepted,
    the second resumed."""
    ech = generate_ech(tmp_path / "ech", "public.example", 5)
    server = served(pki, peers, count=2, ech_keys=_ech_keys(ech))
    _, views = bssl_client(peers, pki, server.port, "-test-resumption", "-ech-config-list",
                           ech["list"])
    results = [hc for hc, _ in server.join()]
    assert [hc.resumed for hc in results] == [False, True]
    assert all(hc.ech_accepted for hc in results)
    assert [v["Resumed session"] for v in views] == ["no", "yes"]


@pytest.mark.parametrize("with_keys", [False, True], ids=["no-ech-server", "other-keys"])
def test_bssl_client_rejected_ech_through_a_tlskit_retry(peers: Peers, pki: PKI,
                                                         tmp_path: Path,
                                                         with_keys: bool) -> None:
    """A config tlskit's server cannot open, and a HelloRetryRequest (BoringSSL offers
    P-384 first): BoringSSL's second hello carries a new encrypted_client_hello (an
    empty enc, a new payload), which RFC 9849 6.1.5 allows to change; the handshake
    completes with the outer hellos and BoringSSL ends it with ech_required."""
    stale = generate_ech(tmp_path / "stale", "localhost", 2)
    keys = _ech_keys(generate_ech(tmp_path / "current", "public.example", 1)) \
        if with_keys else ()
    recorder = Recorder()
    server = peers.thread(tlskit_server(
        pki.server_config(ech_keys=keys, tracer=recorder), _aborted))
    proc, _ = bssl_client(peers, pki, server.port, "-ech-config-list", stale["list"],
                          "-curves", "P-384:P-256", status=1)
    (err,) = server.join()
    assert "hello_retry_request" in recorder.names()
    assert isinstance(err, AlertReceived) and err.alert == AlertDescription.ech_required
    assert "ECH_REJECTED" in proc.stderr


def test_bssl_client_stale_ech_config_gets_tlskit_retry_configs(peers: Peers, pki: PKI,
                                                                tmp_path: Path) -> None:
    """A config tlskit's server does not hold (public name localhost): it answers the
    outer hello with its own configs as retry_configs; BoringSSL authenticates
    localhost and aborts with ECH_REJECTED and ech_required, as it does when it has
    retry configs to hand to its application."""
    current = generate_ech(tmp_path / "current", "public.example", 1)
    stale = generate_ech(tmp_path / "stale", "localhost", 2)
    recorder = Recorder()
    server = peers.thread(tlskit_server(
        pki.server_config(ech_keys=_ech_keys(current), tracer=recorder), _aborted))
    proc, _ = bssl_client(peers, pki, server.port, "-ech-config-list", stale["list"],
                          status=1)
    (err,) = server.join()
    assert isinstance(err, AlertReceived) and err.alert == AlertDescription.ech_required
    ee = recorder.first("encrypted_extensions")["message"]
    assert ee.extensions[ECH_OUTER] == current["list"].read_bytes()
    assert "ECH_REJECTED" in proc.stderr


def _aborted(pump: Pump) -> TLSError:
    """Server body: the error the connection ends with, the handshake completed or not
    (BoringSSL sends its Finished before ech_required: the alert may arrive after)."""
    try:
        pump.handshake()
        pump.wait_closed()
    except TLSError as exc:
        return exc
    raise AssertionError("the client closed without an alert")


def test_bssl_client_alpn_to_tlskit_server(peers: Peers, pki: PKI) -> None:
    """tlskit's server picks its own first protocol among BoringSSL's."""
    server = served(pki, peers, alpn_protocols=["h2", "http/1.1"])
    _, (view,) = bssl_client(peers, pki, server.port, "-alpn-protos", "http/1.1,h2")
    ((hc, _),) = server.join()
    assert view["ALPN protocol"] == hc.alpn_protocol == "h2"


def test_bssl_client_false_start_to_tlskit_server(peers: Peers, pki: PKI) -> None:
    """TLS 1.2 False Start (RFC 7918), which BoringSSL does only with ALPN negotiated:
    its application data may follow its Finished before tlskit's Finished arrived, and
    tlskit's server takes it."""
    server = served(pki, peers, versions=["TLSv1.2"], alpn_protocols=["h2"])
    proc, (view,) = bssl_client(peers, pki, server.port, "-false-start", "-alpn-protos",
                                "h2")
    ((hc, _),) = server.join()
    same_view(hc, view)
    assert hc.alpn_protocol == "h2" and proc.stdout == "you sent " + LINE.decode()


def test_bssl_client_alpn_without_overlap(peers: Peers, pki: PKI) -> None:
    """No protocol in common: tlskit's server refuses with no_application_protocol
    (RFC 7301 3.2) and BoringSSL reports that alert."""
    server = peers.thread(tlskit_server(pki.server_config(alpn_protocols=["h2"]),
                                        Pump.handshake_error))
    proc, _ = bssl_client(peers, pki, server.port, "-alpn-protos", "http/1.1", status=1)
    (err,) = server.join()
    assert err.alert == AlertDescription.no_application_protocol
    assert "http/1.1" in str(err)
    assert "TLSV1_ALERT_NO_APPLICATION_PROTOCOL" in proc.stderr


@pytest.mark.parametrize(("flags", "tickets"), [
    (("-max-version", "tls1.3"), 2), (("-max-version", "tls1.2"), 2),
    (("-max-version", "tls1.2"), 0), (("-grease", "-permute-extensions", "-ech-grease"), 2)],
    ids=["tls1.3", "tls1.2-ticket", "tls1.2-session-id", "grease"])
def test_bssl_client_resumes_with_tlskit_server(peers: Peers, pki: PKI,
                                                flags: tuple[str, ...], tickets: int) -> None:
    """-test-resumption: BoringSSL connects, waits for a session (tlskit's ticket, or in
    TLS 1.2 without tickets its session ID), drops the connection, and offers the session
    on a second one, which both sides report resumed."""
    server = served(pki, peers, count=2, session_tickets=tickets)
    proc, views = bssl_client(peers, pki, server.port, "-test-resumption", *flags)
    results = [hc for hc, _ in server.join()]
    assert [hc.resumed for hc in results] == [False, True]
    assert [v["Resumed session"] for v in views] == ["no", "yes"]
    for hc, view in zip(results, views, strict=True):
        same_view(hc, view)
    assert proc.stdout == "you sent " + LINE.decode()


def test_bssl_client_early_data_to_tlskit_server(peers: Peers, pki: PKI) -> None:
    """0-RTT from BoringSSL: tlskit's ticket allows early data, BoringSSL's second
    connection sends its -early-data as 0-RTT, tlskit takes it before the handshake
    completes and answers it."""
    server = served(pki, peers, count=2, max_early_data_size=16384,
                    alpn_protocols=["h2"])
    proc, views = bssl_client(peers, pki, server.port, "-test-resumption", "-alpn-protos",
                              "h2", "-early-data", EARLY, line=None)
    (first, _), (second, early) = server.join()
    assert not first.early_data_accepted
    assert second.resumed and second.early_data_accepted and early == EARLY.encode()
    assert views[1]["Early data"] == "yes" and views[1]["ALPN protocol"] == "h2"
    assert proc.stdout == "you sent " + EARLY


def test_bssl_client_early_data_refused_after_a_retry(peers: Peers, pki: PKI) -> None:
    """0-RTT cannot survive a HelloRetryRequest (RFC 8446 4.2.10): when tlskit asks for
    P-256 instead of BoringSSL's P-384 share, it skips the early data. BoringSSL's tool
    does not retry without it (that takes SSL_reset_early_data_reject, which it never
    calls): it stops with EARLY_DATA_REJECTED, and tlskit's server sees the TCP
    connection end while waiting for the second ClientHello."""
    recorder = Recorder()
    server = peers.thread(tlskit_server(
        pki.server_config(max_early_data_size=16384, tracer=recorder), _answer_or_dropped,
        count=2))
    proc, views = bssl_client(peers, pki, server.port, "-curves", "P-384:P-256",
                              "-test-resumption", "-early-data", EARLY, line=None, status=1)
    (first, _), dropped = server.join()
    assert "Error while reading: unexpected error: EARLY_DATA_REJECTED" in proc.stderr
    assert [v["Resumed session"] for v in views] == ["no", "yes"]  # printed before the end
    assert not first.resumed
    assert recorder.names().count("hello_retry_request") == 2  # P-256 both times
    assert isinstance(dropped, PeerClosedError) and "the handshake" in str(dropped)


def _answer_or_dropped(pump: Pump) -> tuple[HandshakeComplete, bytes] | PeerClosedError:
    """`answer_line`, or the error of a connection the client dropped mid-handshake."""
    try:
        return answer_line(pump)
    except PeerClosedError as exc:
        return exc


@pytest.mark.parametrize("version", ["tls1.3", "tls1.2"])
def test_bssl_client_gets_tlskit_staple(peers: Peers, pki: PKI, version: str) -> None:
    """tlskit staples its configured OCSP response when BoringSSL asks (-ocsp-stapling),
    and only then: BoringSSL refuses a staple it did not ask for."""
    leaf = pki.issued["ec256"]
    staple = pki.ca.ocsp_response(build_ocsp_request(leaf.chain[0], leaf.chain[1], None))
    server = served(pki, peers, count=2, ocsp_response=staple)
    _, (asked,) = bssl_client(peers, pki, server.port, "-ocsp-stapling", "-max-version",
                              version)
    _, (unasked,) = bssl_client(peers, pki, server.port, "-max-version", version)
    server.join()
    assert (asked["OCSP staple"], unasked["OCSP staple"]) == ("yes", "no")


@pytest.mark.parametrize("kind", ["ec256", "rsa2048", "ed25519"])
@pytest.mark.parametrize("version", ["tls1.3", "tls1.2"])
def test_bssl_client_certificate_to_tlskit_server(peers: Peers, pki: PKI, kind: str,
                                                  version: str) -> None:
    """tlskit's server requires and verifies BoringSSL's certificate (Ed25519 included:
    tlskit asks for it, and BoringSSL signs with what it is asked for)."""
    issued, files = pki.client_cert(f"bssl-side-{kind}", kind)
    server = served(pki, peers, client_auth="required", client_trust_anchors=[pki.root])
    bssl_client(peers, pki, server.port, "-key", files.key, "-cert", files.fullchain,
                "-max-version", version)
    ((hc, _),) = server.join()
    assert [c.subject for c in hc.peer_certificates] == [c.subject for c in issued.chain]


@pytest.mark.parametrize(("version", "alert", "words"), [
    ("tls1.3", AlertDescription.certificate_required, "TLSV1_ALERT_CERTIFICATE_REQUIRED"),
    ("tls1.2", AlertDescription.handshake_failure, "SSLV3_ALERT_HANDSHAKE_FAILURE"),
])
def test_bssl_client_without_certificate_refused_by_tlskit(
        peers: Peers, pki: PKI, version: str, alert: AlertDescription, words: str) -> None:
    """tlskit's server requires a certificate BoringSSL does not have: its error says so
    and BoringSSL reports tlskit's alert (in TLS 1.3 after its own Finished, on read)."""
    server = peers.thread(tlskit_server(
        pki.server_config_requiring_a_client(), Pump.handshake_error))
    proc, _ = bssl_client(peers, pki, server.port, "-max-version", version, status=1)
    (err,) = server.join()
    assert isinstance(err, TLSError) and err.alert == alert
    assert "sent no certificate" in str(err)
    assert words in proc.stderr


def test_bssl_tool_client_does_not_check_the_name(peers: Peers, pki: PKI) -> None:
    """Why a wrong name is tested from tlskit's client only: bssl-tool's client verifies
    the chain but sets no host name to check, so it accepts tlskit's localhost
    certificate for "wrong.example" (tlskit's server, with one certificate, serves it
    whatever the SNI, as mainstream servers do, and reports the name it was asked)."""
    server = served(pki, peers)
    proc, _ = bssl_client(peers, pki, server.port, name="wrong.example")
    ((hc, _),) = server.join()
    assert hc.server_name == "wrong.example"
    assert proc.stdout == "you sent " + LINE.decode()


def test_bssl_client_rejects_an_unknown_root(peers: Peers, pki: PKI) -> None:
    """BoringSSL trusting another root cannot build a path to it: it aborts with
    CERTIFICATE_VERIFY_FAILED and the unknown_ca alert, which tlskit's server reports."""
    LocalCA.create(directory=pki.directory / "bssl-other-ca")
    server = peers.thread(tlskit_server(pki.server_config(), Pump.handshake_error))
    proc, _ = bssl_client(peers, pki, server.port, status=1,
                          root=pki.directory / "bssl-other-ca" / "root.pem")
    (err,) = server.join()
    assert isinstance(err, AlertReceived) and err.alert == AlertDescription.unknown_ca
    assert "Error while connecting: CERTIFICATE_VERIFY_FAILED" in proc.stderr


def test_tlskit_ed25519_server_vs_bssl_client(peers: Peers, pki: PKI) -> None:
    """BoringSSL offers no Ed25519 by default: tlskit's server, holding only an Ed25519
    certificate, cannot sign anything it accepts and says so (handshake_failure), naming
    what BoringSSL accepts and what the certificate signs with."""
    server = peers.thread(tlskit_server(pki.server_config("ed25519"), Pump.handshake_error))
    proc, _ = bssl_client(peers, pki, server.port, status=1)
    (err,) = server.join()
    assert err.alert == AlertDescription.handshake_failure
    said = str(err)
    assert said.startswith("no certificate can be signed with a TLS 1.3 scheme the client "
                           "accepts (it accepts ecdsa_secp256r1_sha256, ")
    assert "ed25519" not in said.split(";")[0]
    assert said.endswith("; our certificates sign with ed25519)")
    assert "SSLV3_ALERT_HANDSHAKE_FAILURE" in proc.stderr


def test_bssl_tls12_client_with_sha1_signatures_only(peers: Peers, pki: PKI) -> None:
    """BoringSSL limited to rsa_pkcs1_sha1 (-sigalgs) in TLS 1.2, which tlskit never signs
    with: the ECDHE_RSA suites fit, the signature does not, and tlskit's error says so
    (it used to blame the cipher suites), then names the RSA key transport opt-in that
    BoringSSL's offer would also allow."""
    server = peers.thread(tlskit_server(pki.server_config("rsa2048"), Pump.handshake_error))
    proc, _ = bssl_client(peers, pki, server.port, "-max-version", "tls1.2", "-sigalgs",
                          "rsa_pkcs1_sha1", status=1)
    (err,) = server.join()
    assert err.alert == AlertDescription.handshake_failure
    assert str(err).startswith(
        "no certificate can be signed with a TLS 1.2 scheme the client accepts (it accepts "
        "rsa_pkcs1_sha1; our certificates sign with rsa_pss_rsae_sha256, ")
    assert "legacy_rsa_key_exchange=True" in str(err)
    assert "SSLV3_ALERT_HANDSHAKE_FAILURE" in proc.stderr


def test_bssl_client_fallback_scsv_refused(peers: Peers, pki: PKI) -> None:
    """-fallback-scsv with TLS 1.2 at most: tlskit speaks TLS 1.3, so the fallback is a
    downgrade (RFC 7507): inappropriate_fallback, reported by BoringSSL."""
    server = peers.thread(tlskit_server(pki.server_config(), Pump.handshake_error))
    proc, _ = bssl_client(peers, pki, server.port, "-fallback-scsv", "-max-version",
                          "tls1.2", status=1)
    (err,) = server.join()
    assert err.alert == AlertDescription.inappropriate_fallback
    assert "TLSV1_ALERT_INAPPROPRIATE_FALLBACK" in proc.stderr


def test_bssl_tls12_client_vs_tlskit_tls13_server(peers: Peers, pki: PKI) -> None:
    server = peers.thread(tlskit_server(pki.server_config(versions=["TLSv1.3"]),
                                        Pump.handshake_error))
    proc, _ = bssl_client(peers, pki, server.port, "-max-version", "tls1.2", status=1)
    (err,) = server.join()
    assert err.alert == AlertDescription.protocol_version
    assert "TLSV1_ALERT_PROTOCOL_VERSION" in proc.stderr
