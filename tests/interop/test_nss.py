"""tlskit against NSS (Firefox's TLS library) through its test tools, both ways:
`selfserv` as the server, `tstclnt` as the client (Debian's libnss3-tools, installed by
.ci/install-test-deps.sh for certutil). NSS shares no code with OpenSSL, GnuTLS or Go,
and implements the RFC 7919 finite-field groups in TLS 1.3, which the other peers do not.

The tools take their keys and trust from an NSS database, built once per session from
the interop PKI (the root trusted for servers and clients, one identity per key type and
a client identity, imported as PKCS#12). Both tools print what they negotiated with -v;
the tests compare that with tlskit's `HandshakeComplete`.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12

from tlskit import AlertDescription, AlertReceived, HandshakeComplete

from ..support.nss import nss_db as nss_db_at
from ..support.peers import PeerProcess, require_binary
from ..support.ports import PortTaken, start_on_free_port
from ..support.pump import Pump, tlskit_server
from .conftest import PKI, Peers

pytestmark = pytest.mark.interop

KINDS = ("ec256", "rsa2048")
# NSS's names for the groups (tstclnt/selfserv -I) and the key size it prints for each.
NSS_GROUP = {"x25519": ("x25519", 255), "secp256r1": ("P256", 256),
             "secp384r1": ("P384", 384), "secp521r1": ("P521", 521),
             "ffdhe2048": ("FF2048", 2048), "ffdhe3072": ("FF3072", 3072)}
NEGOTIATED = re.compile(rb"SSL version 3\.(\d) using (\d+)-bit (\S+)")
KEY_EXCHANGE = re.compile(rb"Key Exchange: (\d+)-bit")
REQUEST = b"GET / HTTP/1.0\r\n\r\n"
_LISTENING = re.compile("About to call accept|PR_Bind returned error")


@dataclass
class NSSDB:
    """NSS databases with the interop PKI: the root trusted in each, and one identity per
    database (NSS names certificates by subject, and every leaf here is CN=localhost):
    one per server key type and "client" for tstclnt's client certificate."""

    directory: Path

    def arg(self, identity: str) -> str:
        return f"sql:{self.directory / identity}"


def _tool(*argv: str | Path) -> None:
    run = subprocess.run([require_binary(str(argv[0])), *map(str, argv[1:])],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.fixture(scope="session")
def nss_db(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> NSSDB:
    db = NSSDB(tmp_path_factory.mktemp("nssdb"))
    identities = {kind: pki.issued[kind] for kind in KINDS}
    identities["client"] = pki.client_cert("nss-client")[0]
    for name, issued in identities.items():
        # C: a CA trusted to issue server certificates; T: client certificates.
        nss_db_at(db.directory / name, pki.root_pem, trust="CT,C,C")
        p12 = db.directory / f"{name}.p12"
        p12.write_bytes(pkcs12.serialize_key_and_certificates(
            name.encode(), issued.private_key,  # type: ignore[arg-type]
            issued.chain[0], issued.chain[1:], NoEncryption()))
        _tool("pk12util", "-i", p12, "-d", db.arg(name), "-W", "")
    return db


def selfserv(peers: Peers, db: NSSDB, kind: str, *args: str) -> tuple[PeerProcess, int]:
    """`selfserv` (it cannot bind port 0) on a free port; ready when it says it accepts."""

    def start(port: int) -> tuple[PeerProcess, int]:
        proc = peers.start(["selfserv", "-d", db.arg(kind), "-n", kind, "-p", str(port), "-v",
                            *args])
        said = proc.wait_until(lambda: _LISTENING.search(proc.stderr + proc.stdout),
                               "listening or failing to bind")
        if said.group(0) != "About to call accept":
            proc.stop()
            raise PortTaken
        return proc, port

    return start_on_free_port(start)


def tstclnt(db: NSSDB, port: int, *args: str, request: Path) -> subprocess.CompletedProcess[bytes]:
    """One `tstclnt` run that sends ``request`` (-A: it exits when the server closes)."""
    return subprocess.run(
        [require_binary("tstclnt"), "-h", "127.0.0.1", "-p", str(port), "-a", "localhost",
         "-d", db.arg("client"), "-v", "-A", str(request), *args],
        capture_output=True, timeout=60, check=False)


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    path = tmp_path / "request.txt"
    path.write_bytes(REQUEST)
    return path


def negotiated(output: bytes) -> tuple[str, int, str]:
    """(version, key bits, cipher) from NSS's "SSL version 3.x using N-bit C" line."""
    found = NEGOTIATED.search(output)
    assert found, output.decode(errors="replace")[-3000:]
    minor, bits, cipher = found.groups()
    return {b"4": "TLSv1.3", b"3": "TLSv1.2"}[minor], int(bits), cipher.decode()


def answer_and_close(pump: Pump) -> HandshakeComplete:
    """Server body: the handshake, one answer to the request, close_notify."""
    hc = pump.handshake()
    request = pump.recv_until(b"\r\n\r\n")
    pump.send_and_close(b"HTTP/1.0 200 OK\r\n\r\nyou sent " + request)
    return hc


def fetch(pump: Pump) -> bytes:
    pump.send(REQUEST)
    return pump.read_to_eof()


# ---------------------------------------------------------------- tlskit client, selfserv

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tlskit_client_to_selfserv(peers: Peers, pki: PKI, nss_db: NSSDB, kind: str,
                                   version: str) -> None:
    """NSS serves the chain and echoes the request in its page; both sides report the
    same version and cipher."""
    proc, port = selfserv(peers, nss_db, kind)
    pump = Pump.connect(pki.client_config(versions=[version]), port)
    try:
        hc = pump.handshake()
        page = fetch(pump)
    finally:
        pump.dispose()
    assert page.startswith(b"HTTP/1.0 200 OK") and REQUEST in page
    assert hc.version == version
    nss_version, bits, cipher = negotiated(proc.wait_for(NEGOTIATED.pattern,
                                                         stream="stderr").group(0))
    assert nss_version == version
    assert (bits, cipher) == (128, "AES-GCM") and "AES_128_GCM" in hc.cipher_suite.name


@pytest.mark.parametrize("group", ["ffdhe2048", "secp521r1"])
def test_selfserv_with_one_group_gets_a_retry(peers: Peers, pki: PKI, nss_db: NSSDB,
                                              group: str) -> None:
    """NSS accepts only ``group``; tlskit offers it without a key share (its default
    share is x25519) and answers NSS's HelloRetryRequest with it."""
    proc, port = selfserv(peers, nss_db, "ec256", "-I", NSS_GROUP[group][0])
    pump = Pump.connect(pki.client_config(groups=["x25519", group]), port)
    try:
        hc = pump.handshake()
        assert REQUEST in fetch(pump)
    finally:
        pump.dispose()
    assert hc.group is not None and hc.group.name == group
    found = proc.wait_for(KEY_EXCHANGE.pattern, stream="stderr")
    assert int(found.group(1)) == NSS_GROUP[group][1]


def test_selfserv_requires_tlskit_client_certificate(peers: Peers, pki: PKI,
                                                     nss_db: NSSDB) -> None:
    """selfserv -r -r requests and requires a client certificate on the first handshake."""
    issued, _ = pki.client_cert("nss-client")
    _, port = selfserv(peers, nss_db, "ec256", "-r", "-r")
    config = pki.client_config(issued)
    pump = Pump.connect(config, port)
    try:
        pump.handshake()
        assert REQUEST in fetch(pump)
    finally:
        pump.dispose()
    refused = Pump.connect(pki.client_config(), port)
    try:
        with pytest.raises(AlertReceived) as err:
            refused.handshake()
            fetch(refused)
    finally:
        refused.dispose()
    assert err.value.alert in (AlertDescription.certificate_required,
                               AlertDescription.bad_certificate)


# ---------------------------------------------------------------- tstclnt, tlskit server

@pytest.mark.parametrize("group", list(NSS_GROUP))
def test_tstclnt_with_one_group(peers: Peers, pki: PKI, nss_db: NSSDB, request_file: Path,
                                group: str) -> None:
    """NSS offering a single group (with its key share): tlskit's server accepts every
    group it implements, the RFC 7919 finite-field groups included, without a retry."""
    server = peers.thread(tlskit_server(pki.server_config(), answer_and_close))
    run = tstclnt(nss_db, server.port, "-V", "tls1.3:tls1.3", "-I", NSS_GROUP[group][0],
                  request=request_file)
    (hc,) = server.join()
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-3000:]
    assert b"you sent " + REQUEST in run.stdout
    assert hc.group is not None and hc.group.name == group
    found = KEY_EXCHANGE.search(run.stderr)
    assert found and int(found.group(1)) == NSS_GROUP[group][1]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tstclnt_to_tlskit_server(peers: Peers, pki: PKI, nss_db: NSSDB, request_file: Path,
                                  kind: str, version: str) -> None:
    """NSS verifies tlskit's chain against the database's trust and gets the answer."""
    server = peers.thread(tlskit_server(pki.server_config(kind), answer_and_close))
    nss = "tls1.3" if version == "TLSv1.3" else "tls1.2"
    run = tstclnt(nss_db, server.port, "-V", f"{nss}:{nss}", request=request_file)
    (hc,) = server.join()
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-3000:]
    assert b"you sent " + REQUEST in run.stdout
    assert negotiated(run.stderr)[0] == hc.version == version


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_tstclnt_resumes_with_tlskit_server(peers: Peers, pki: PKI, nss_db: NSSDB,
                                            request_file: Path, version: str) -> None:
    """tstclnt -L 2 reconnects with its session cache: the second handshake resumes (TLS
    1.3 ticket; TLS 1.2 with NSS's extended master secret, -G) and both sides say so."""
    server = peers.thread(tlskit_server(pki.server_config(), answer_and_close, count=2))
    nss = "tls1.3" if version == "TLSv1.3" else "tls1.2"
    run = tstclnt(nss_db, server.port, "-V", f"{nss}:{nss}", "-G", "-u", "-L", "2",
                  request=request_file)
    results = server.join()
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-3000:]
    assert [hc.resumed for hc in results] == [False, True]
    assert all(hc.version == version for hc in results)


def test_tstclnt_sends_early_data_to_tlskit_server(peers: Peers, pki: PKI, nss_db: NSSDB,
                                                   request_file: Path) -> None:
    """0-RTT from NSS: the first connection gets a ticket allowing early data, the second
    sends the request as early data (-Z) and tlskit takes it."""
    server = peers.thread(tlskit_server(pki.server_config(max_early_data_size=16384),
                                        answer_and_close, count=2))
    run = tstclnt(nss_db, server.port, "-V", "tls1.3:tls1.3", "-Z", "-L", "2",
                  request=request_file)
    results = server.join()
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-3000:]
    assert [(hc.resumed, hc.early_data_accepted) for hc in results] == [
        (False, False), (True, True)]


def test_tstclnt_client_certificate_to_tlskit_server(peers: Peers, pki: PKI, nss_db: NSSDB,
                                                     request_file: Path) -> None:
    server = peers.thread(tlskit_server(
        pki.server_config_requiring_a_client(), answer_and_close))
    run = tstclnt(nss_db, server.port, "-n", "client", request=request_file)
    (hc,) = server.join()
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-3000:]
    assert hc.peer_certificates[0].subject.rfc4514_string().endswith("nss-client")


def test_tstclnt_rejects_a_name_mismatch(peers: Peers, pki: PKI, nss_db: NSSDB,
                                         request_file: Path) -> None:
    """NSS checks the name it sent against tlskit's certificate and refuses a mismatch
    (SSL_ERROR_BAD_CERT_DOMAIN); tlskit's server reports NSS's alert."""
    server = peers.thread(tlskit_server(pki.server_config(), Pump.handshake_error))
    run = subprocess.run(
        [require_binary("tstclnt"), "-h", "127.0.0.1", "-p", str(server.port), "-a",
         "not-localhost.example", "-d", nss_db.arg("client"), "-A", str(request_file)],
        capture_output=True, timeout=60, check=False)
    (err,) = server.join()
    assert run.returncode != 0
    assert b"SSL_ERROR_BAD_CERT_DOMAIN" in run.stderr
    assert isinstance(err, AlertReceived)
    assert err.alert == AlertDescription.bad_certificate
