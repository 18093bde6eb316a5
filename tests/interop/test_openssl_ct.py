"""Certificate Transparency SCTs (RFC 6962 3.3) between tlskit and `openssl` 3.0, TLS 1.3
and 1.2, with a test CT log (an ECDSA P-256 key generated here, tests/support/ct.py):

- tlskit serves SCTs signed over its leaf (x509_entry); ``s_client -ct -ctlogfile``
  validates them with the log in OpenSSL's CT log list file, reports an SCT from a log
  it does not list as an unknown log and one whose signature does not cover the leaf as
  invalid;
- ``s_server -serverinfo`` sends SCTs from a SERVERINFOV2 file (context: ClientHello,
  TLS 1.2 ServerHello, TLS 1.3 Certificate); the tlskit client receives the exact bytes
  and its `CTPolicy` verifies them (or refuses them, bad_certificate, for a log it does
  not know). A version 1 SERVERINFO block is TLS 1.2 only: over TLS 1.3 s_server sends
  nothing, and the policy fails for want of SCTs;
- SCTs embedded in a tlskit server's certificate (precert_entry): ``s_client -ct``
  validates them as tlskit's policy does;
- SCTs in a stapled OCSP response's singleExtensions: ``s_client -ct`` validates those in
  a tlskit server's staple, and the tlskit client's policy counts those in the staple
  ``s_server -status_file`` sends.
"""

from __future__ import annotations

import base64
import re
import struct
import time
from pathlib import Path

import pytest

from tlskit import AlertDescription, ConnectionClosed, ServerConfig
from tlskit.x509.ct import CTPolicy, CTPolicyError

from ..support.ct import SigningLog, sct_list, staple_with_scts, with_embedded_scts
from ..support.pump import Pump, tlskit_server
from .conftest import PKI, Peers

pytestmark = pytest.mark.interop

VERSIONS = {"TLSv1.3": "-tls1_3", "TLSv1.2": "-tls1_2"}
LOG = SigningLog("tlskit interop CT log")
OTHER_LOG = SigningLog("a log openssl does not list")
# OpenSSL's SSL_EXT_* contexts for a SERVERINFOV2 block (ssl.h): the extension answers
# the ClientHello's, in the TLS 1.2 ServerHello or the TLS 1.3 Certificate.
EXT_CLIENT_HELLO, EXT_TLS1_2_SERVER_HELLO, EXT_TLS1_3_CERTIFICATE = 0x80, 0x100, 0x1000


def leaf_sct(pki: PKI, log: SigningLog = LOG) -> bytes:
    return log.sct(pki.issued["ec256"].chain[0])


def serverinfo_file(path: Path, scts: list[bytes], *, v2: bool = True) -> Path:
    """s_server's -serverinfo PEM: the extension type 18 and its data, after a context
    word in a SERVERINFOV2 block (SSL_CTX_use_serverinfo_file)."""
    body = sct_list(*scts)
    data = struct.pack(">HH", 18, len(body)) + body
    label = "SERVERINFO FOR tlskit-test"
    if v2:
        context = EXT_CLIENT_HELLO | EXT_TLS1_2_SERVER_HELLO | EXT_TLS1_3_CERTIFICATE
        data = struct.pack(">I", context) + data
        label = "SERVERINFOV2 FOR tlskit-test"
    b64 = base64.encodebytes(data).decode()
    path.write_text(f"-----BEGIN {label}-----\n{b64}-----END {label}-----\n")
    return path


# --- tlskit server -> s_client -ct ------------------------------------------------------------

def s_client_scts(peers: Peers, pki: PKI, version: str, scts: list[bytes],
                  log_file: Path, *, exit_code: int = 0,
                  config: ServerConfig | None = None) -> str:
    """s_client -ct against a tlskit server holding ``scts`` (or serving ``config``);
    its output. (s_client exits 1 when an SCT's signature failed, though the handshake
    went on.)"""

    def body(pump: Pump) -> ConnectionClosed:
        hc = pump.handshake()
        assert hc.version == version
        return pump.wait_closed()

    config = config or pki.server_config(scts=scts)
    server = peers.thread(tlskit_server(config, body))
    client = peers.openssl_client(pki, server.port, "-ct", "-ctlogfile", str(log_file),
                                  version=VERSIONS[version])
    client.wait_for(rb"SCT validation status: [^\n]*\n[\s\S]*?\n---")
    client.close_stdin()
    assert client.wait() == exit_code, client.describe()
    server.join()
    out = client.stdout
    assert "Verification: OK" in out, out
    return out


def statuses(out: str) -> list[str]:
    return re.findall(r"SCT validation status: ([^\n]+)", out)


@pytest.mark.parametrize("version", VERSIONS)
def test_s_client_validates_tlskit_scts(peers: Peers, pki: PKI, version: str,
                                        tmp_path: Path) -> None:
    log_file = LOG.openssl_log_file(tmp_path / "ctlogs.cnf")
    out = s_client_scts(peers, pki, version, [leaf_sct(pki)], log_file)
    assert "SCTs present (1)" in out, out
    assert statuses(out) == ["valid"], out
    assert re.search(r"Log\s+: tlskit interop CT log", out), out


@pytest.mark.parametrize("version", VERSIONS)
def test_s_client_reports_an_sct_from_a_log_it_does_not_list(
        peers: Peers, pki: PKI, version: str, tmp_path: Path) -> None:
    # The same SCT, but the log file holds another key: its log ID is no log openssl has.
    log_file = OTHER_LOG.openssl_log_file(tmp_path / "ctlogs.cnf")
    out = s_client_scts(peers, pki, version, [leaf_sct(pki)], log_file)
    assert statuses(out) == ["unknown log"], out


@pytest.mark.parametrize("version", VERSIONS)
def test_s_client_finds_an_sct_over_another_certificate_invalid(
        peers: Peers, pki: PKI, version: str, tmp_path: Path) -> None:
    log_file = LOG.openssl_log_file(tmp_path / "ctlogs.cnf")
    wrong = LOG.sct(pki.issued["rsa2048"].chain[0])  # the log's key, not this leaf's entry
    out = s_client_scts(peers, pki, version, [wrong, leaf_sct(pki)], log_file, exit_code=1)
    assert sorted(statuses(out)) == ["invalid", "valid"], out
    peer = peers.processes[-1]
    assert "sct invalid signature" in peer.stderr, peer.describe()


# --- s_server -serverinfo -> tlskit client ------------------------------------------------------

def s_server_with(peers: Peers, pki: PKI, info: Path) -> int:
    """s_server (TLS 1.3 and 1.2) with the ec256 chain and ``info``; its port."""
    files = pki.files["ec256"]
    _, port = peers.openssl_s_server("-cert", files.leaf, "-cert_chain", files.chain,
                                     "-key", files.key, "-serverinfo", info)
    return port


@pytest.mark.parametrize("version", VERSIONS)
def test_tlskit_client_receives_and_verifies_s_server_scts(
        peers: Peers, pki: PKI, version: str, tmp_path: Path) -> None:
    scts = [leaf_sct(pki), leaf_sct(pki, OTHER_LOG)]
    port = s_server_with(peers, pki, serverinfo_file(tmp_path / "si.pem", scts))
    policy = CTPolicy([LOG.ct_log(), OTHER_LOG.ct_log()], min_scts=2)
    hc = Pump.handshake_once(pki.client_config(versions=[version], ct_policy=policy), port)
    assert hc.version == version
    assert hc.signed_certificate_timestamps == tuple(scts)


@pytest.mark.parametrize("version", VERSIONS)
def test_tlskit_client_refuses_s_server_scts_from_an_unknown_log(
        peers: Peers, pki: PKI, version: str, tmp_path: Path) -> None:
    port = s_server_with(peers, pki, serverinfo_file(tmp_path / "si.pem",
                                                     [leaf_sct(pki, OTHER_LOG)]))
    policy = CTPolicy([LOG.ct_log()])
    exc = Pump.failed_handshake(pki.client_config(versions=[version], ct_policy=policy), port)
    assert isinstance(exc, CTPolicyError), exc
    assert exc.alert == AlertDescription.bad_certificate
    assert "unknown log" in str(exc) and "requires 1" in str(exc)


def test_serverinfo_v1_is_tls12_only(peers: Peers, pki: PKI, tmp_path: Path) -> None:
    sct = leaf_sct(pki)
    port = s_server_with(peers, pki, serverinfo_file(tmp_path / "si.pem", [sct], v2=False))
    config = pki.client_config(versions=["TLSv1.2"], request_scts=True)
    assert Pump.handshake_once(config, port).signed_certificate_timestamps == (sct,)
    config13 = pki.client_config(versions=["TLSv1.3"], request_scts=True)
    assert Pump.handshake_once(config13, port).signed_certificate_timestamps == ()


# --- SCTs in the stapled OCSP response (RFC 6962 3.3), both ways -------------------------------

def staple(pki: PKI, scts: list[bytes]) -> bytes:
    return staple_with_scts(pki.issued["ec256"], pki.ca.intermediate_key, scts)


@pytest.mark.parametrize("version", VERSIONS)
def test_s_client_validates_scts_in_tlskit_staple(peers: Peers, pki: PKI, version: str,
                                                  tmp_path: Path) -> None:
    # s_client -ct asks for a staple too, and reads its SCTs (SCT_SOURCE_OCSP_STAPLED_
    # RESPONSE): a check, by OpenSSL, of how support/ct.py builds them.
    log_file = LOG.openssl_log_file(tmp_path / "ctlogs.cnf")

    config = pki.server_config(ocsp_response=staple(pki, [leaf_sct(pki)]))
    out = s_client_scts(peers, pki, version, [], log_file, config=config)
    assert "SCTs present (1)" in out, out
    assert statuses(out) == ["valid"], out


@pytest.mark.parametrize("version", VERSIONS)
def test_tlskit_client_counts_scts_in_s_server_staple(peers: Peers, pki: PKI, version: str,
                                                      tmp_path: Path) -> None:
    der = staple(pki, [leaf_sct(pki)])
    status = tmp_path / "ocsp.der"
    status.write_bytes(der)
    files = pki.files["ec256"]
    _, port = peers.openssl_s_server("-cert", files.leaf, "-cert_chain", files.chain,
                                     "-key", files.key, "-status_file", status)
    config = pki.client_config(versions=[version], ocsp_stapling=True,
                               ct_policy=CTPolicy([LOG.ct_log()]))
    hc = Pump.handshake_once(config, port)
    assert hc.ocsp_response == der and hc.signed_certificate_timestamps == ()


@pytest.mark.parametrize("version", VERSIONS)
def test_s_client_validates_scts_embedded_in_tlskit_certificate(
        peers: Peers, pki: PKI, version: str, tmp_path: Path) -> None:
    # The precert_entry (issuer key hash + TBSCertificate without the SCT extension) as
    # OpenSSL rebuilds it: the same certificate passes tlskit's policy (tests/unit).
    issued = pki.issued["ec256"]
    leaf = with_embedded_scts(issued, pki.ca.intermediate_key, [LOG])
    log_file = LOG.openssl_log_file(tmp_path / "ctlogs.cnf")

    config = ServerConfig(certificate_chain=[leaf, *issued.chain[1:]],
                          private_key=issued.private_key)
    out = s_client_scts(peers, pki, version, [], log_file, config=config)
    assert statuses(out) == ["valid"], out
    checks = CTPolicy([LOG.ct_log()]).enforce([leaf, *issued.chain[1:]], (), time.time())
    assert [(c.source, str(c.status)) for c in checks] == [("certificate", "valid")]
