"""The TLS scanners administrators point at their servers -- testssl.sh, sslscan and sslyze --
run against tlskit's defaults on 127.0.0.1, each read from its machine-readable output.

Three servers, started once for the module:

- ``serve``: `tlskit serve` with an ECDSA (P-256) leaf and an OCSP staple from the test CA;
  it answers HTTP, so testssl.sh also checks the HTTP side (headers, BREACH);
- ``dual``: `tlskit.io.TLSServer` with a default `ServerConfig` holding an ECDSA and an RSA
  certificate (each with its staple), chosen per handshake;
- ``rsa_kx``: `tlskit serve --legacy-rsa-kx` with an RSA leaf, the one opt-in that brings RSA
  key transport, so the ROBOT padding-oracle check has something to probe.

testssl.sh is the slow one (about 30 s for -p -s -f -P -S -h -U here, the file about 35 s
on two cores): both of its scans start in the background as soon as the servers are up,
and the sslscan and sslyze tests (a few seconds) run meanwhile.

Found by these scans and fixed: `tlskit serve` sent no Date header (testssl.sh,
test_testssl_http_side_of_tlskit_serve); the TLS 1.2 server flight in one record stalled
sslscan's group probe, and an ffdhe8192 handshake cost the server about a second (both
seen with sslscan: test_sslscan_defaults_with_two_certificates,
tests/unit/test_handshake_states.py, tests/unit/test_ffdhe_exponent.py). What the
scanners misread is written down in the test that reads it.

What tlskit is expected to show is taken from tlskit itself (`tlskit.crypto`'s default
suites and groups), and every weak category is checked by name. The default TLS 1.2 suites
are ECDHE with AES-GCM or ChaCha20-Poly1305 only: no scanner rates any of them weak (testssl
files them under "strong encryption (AEAD)", sslscan rates them "strong").
"""

from __future__ import annotations

import json
import re
import socketserver
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tlskit import ServerConfig, crypto
from tlskit.compat.ciphers import openssl_name
from tlskit.config import CertifiedKey
from tlskit.enums import CipherSuite, NamedGroup
from tlskit.io import TLSServer
from tlskit.x509.revocation import build_ocsp_request

from ..support.peers import PeerProcess, Peers
from .conftest import PKI

pytestmark = pytest.mark.interop

# sslyze lives in a virtual environment of its own (.ci/install-test-deps.sh makes it): it
# pins cryptography<47, which would hold back the cryptography the rest of the suite tests.
SSLYZE = Path(__file__).resolve().parents[2] / ".venv-sslyze" / "bin" / "sslyze"
SCAN_TIMEOUT = 300.0  # a whole scan; each handshake has its own short timeout
# testssl.sh checks whose "connect problem" WARN is its own race (test_testssl_server_defaults).
RACY = ("sessionresumption_ticket", "sessionresumption_ID")
WEAK_CATEGORIES = ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT",
                   "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE")
# testssl.sh -U: each vulnerability id and the start of its "not vulnerable" finding.
TESTSSL_NOT_VULNERABLE = {
    "heartbleed": "not vulnerable, no heartbeat extension",
    "CCS": "not vulnerable",
    "ticketbleed": "not vulnerable",
    "ROBOT": "not vulnerable, no RSA key transport cipher",
    "secure_renego": "supported",
    "secure_client_renego": "not vulnerable",
    "CRIME_TLS": "not vulnerable",
    "BREACH": "not vulnerable, no HTTP compression",
    "POODLE_SSL": "not vulnerable, no SSLv3",
    "fallback_SCSV": "no protocol below TLS 1.2 offered",
    "SWEET32": "not vulnerable",
    "FREAK": "not vulnerable",
    "DROWN": "not vulnerable on this host and port",
    "LOGJAM": "not vulnerable, no DH EXPORT ciphers",
    "BEAST": "not vulnerable, no SSL3 or TLS1",
    "LUCKY13": "not vulnerable",
    "RC4": "not vulnerable",
}


def default_suites(auth: str) -> list[str]:
    """tlskit's default TLS 1.3 suites and its default TLS 1.2 suites for a certificate
    of kind ``auth`` ("ECDSA" or "RSA"), by IANA name, in tlskit's preference order."""
    tls12 = [c for c in crypto.DEFAULT_SUITES12 if crypto.SUITES12[c].auth == auth]
    return [CipherSuite(c).name for c in (*crypto.DEFAULT_SUITES, *tls12)]


def default_ec_groups() -> set[str]:
    """The elliptic-curve groups a default server accepts (no hybrid, no FFDHE)."""
    return {NamedGroup(g).name for g in crypto.SERVER_DEFAULT_GROUPS
            if g in (*crypto.GROUPS12, NamedGroup.x448)}


# --------------------------------------------------------------------------- servers


class _Drain(socketserver.BaseRequestHandler):
    """Read until the scanner goes away: the scanners only shake hands."""

    def handle(self) -> None:
        while self.request.recv(65536):
            pass


@dataclass
class Servers:
    directory: Path
    root_pem: Path
    serve: int
    dual: int
    rsa_kx: int
    testssl: PendingScan       # serve: -p -s -f -P -S -h -U
    testssl_robot: PendingScan  # rsa_kx: ROBOT only


def _staple(pki: PKI, kind: str) -> bytes:
    """The test CA's OCSP answer for ``kind``'s leaf ("good"), as a stapler would fetch it."""
    leaf = pki.issued[kind].chain[0]
    return pki.ca.ocsp_response(build_ocsp_request(leaf, pki.ca.intermediate, None))


def _tlskit_serve(peers: Peers, pki: PKI, kind: str, *args: object) -> int:
    files = pki.files[kind]
    proc = peers.start([sys.executable, "-m", "tlskit", "serve", "--port", "0", "--cert",
                        files.fullchain, "--key", files.key, *args])
    return int(proc.wait_for(r"listening on https://127\.0\.0\.1:(\d+)/").group(1))


@dataclass
class PendingScan:
    """A testssl.sh scan running in the background and the JSON file it writes."""

    proc: PeerProcess
    out: Path

    @classmethod
    def start(cls, peers: Peers, port: int, root_pem: Path, out: Path,
              *checks: str) -> PendingScan:
        """testssl.sh with only the given check groups, no DNS lookups, the test root added
        to its trust stores, and short per-connection timeouts."""
        proc = peers.start(["testssl", "--quiet", "--warnings", "off", "--color", "0",
                            "--nodns", "none", "--add-ca", root_pem, "--connect-timeout",
                            "10", "--openssl-timeout", "10", *checks, "--jsonfile", out,
                            f"127.0.0.1:{port}"])
        return cls(proc, out)

    def findings(self) -> Findings:
        self.proc.wait(SCAN_TIMEOUT)
        assert self.out.exists(), self.proc.describe()
        rows = json.loads(self.out.read_text())
        problems = [row for row in rows if row["id"] == "scanProblem"
                    or (row["severity"] in ("FATAL", "WARN") and row["id"] not in RACY)]
        assert not problems, f"testssl.sh could not finish: {problems}\n{self.proc.describe()}"
        return Findings({row["id"]: row for row in rows})


@pytest.fixture(scope="module")
def servers(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    directory = tmp_path_factory.mktemp("scanners")
    staple = directory / "ec256.ocsp"
    staple.write_bytes(_staple(pki, "ec256"))
    config = ServerConfig(certificates=[
        CertifiedKey(list(pki.issued[k].chain), pki.issued[k].private_key, _staple(pki, k))
        for k in ("ec256", "rsa2048")])
    dual = TLSServer(("127.0.0.1", 0), _Drain, config)
    thread = threading.Thread(target=dual.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        with Peers() as peers:
            serve = _tlskit_serve(peers, pki, "ec256", "--ocsp-response", staple)
            rsa_kx = _tlskit_serve(peers, pki, "rsa2048", "--legacy-rsa-kx")
            testssl = PendingScan.start(peers, serve, pki.root_pem, directory / "testssl.json",
                                       "-p", "-s", "-f", "-P", "-S", "-h", "-U")
            robot = PendingScan.start(peers, rsa_kx, pki.root_pem, directory / "robot.json",
                                     "--robot")
            yield Servers(directory, pki.root_pem, serve, dual.server_address[1], rsa_kx,
                          testssl, robot)
    finally:
        dual.shutdown()
        dual.server_close()
        thread.join(10)


# --------------------------------------------------------------------------- sslscan


@dataclass
class Sslscan:
    root: ET.Element

    def protocols(self) -> dict[str, bool]:
        return {f"{p.get('type')}{p.get('version')}": p.get("enabled") == "1"
                for p in self.root.iter("protocol")}

    def ciphers(self, version: str) -> list[ET.Element]:
        return [c for c in self.root.iter("cipher") if c.get("sslversion") == version]


def sslscan(port: int, directory: Path, *args: str) -> Sslscan:
    out = directory / f"sslscan-{port}.xml"
    with Peers() as peers:
        proc = peers.start(["sslscan", "--no-colour", "--timeout=10", f"--xml={out}", *args,
                            f"127.0.0.1:{port}"])
        assert proc.wait(SCAN_TIMEOUT) == 0, proc.describe()
    test = ET.parse(out).getroot().find("ssltest")
    assert test is not None, out.read_text()
    return Sslscan(test)


def test_sslscan_defaults_with_two_certificates(servers: Servers) -> None:
    """The default config with an ECDSA and an RSA certificate: TLS 1.2 and 1.3 only, every
    default suite accepted for both certificates in the server's order (the 1.2 list
    interleaves ECDSA and RSA as tlskit's table does), over X25519; no renegotiation,
    no Heartbleed; every group a default server accepts, for TLS 1.3 and (the EC ones)
    TLS 1.2.

    sslscan's TLS 1.2 group probe reads the server's flight record by record: it stalled
    for its socket timeout (3 s) per group, and listed none, while tlskit packed that
    flight into one record (RFC 5246 allows it; OpenSSL, BoringSSL and GnuTLS write one
    record per message, and so does tlskit now). Its FFDHE probes also showed an
    ffdhe8192 handshake costing the server about a second (full-size exponents).

    sslscan rates the TLS 1.3 suites "acceptable" and the ECDHE ones "strong", as it does
    for `openssl s_server` (sslscan 2.0.7). It reports renegotiation "not supported",
    which is right: tlskit answers renegotiation_info (RFC 5746) but never renegotiates."""
    scan = sslscan(servers.dual, servers.directory)
    assert scan.protocols() == {"ssl2": False, "ssl3": False, "tls1.0": False,
                                "tls1.1": False, "tls1.2": True, "tls1.3": True}
    tls13 = scan.ciphers("TLSv1.3")
    assert [c.get("cipher") for c in tls13] == default_suites("ECDSA")[:3]
    assert {c.get("strength") for c in tls13} == {"acceptable"}
    tls12 = scan.ciphers("TLSv1.2")
    both = [CipherSuite(c).name for c in crypto.DEFAULT_SUITES12]
    assert [c.get("cipher") for c in tls12] == [openssl_name(CipherSuite[n]) for n in both]
    assert {c.get("strength") for c in tls12} == {"strong"}
    for version in (tls13, tls12):
        assert [c.get("status") for c in version] == ["preferred"] + ["accepted"] * (
            len(version) - 1)
        assert {c.get("curve") for c in version} == {"25519"}
    renegotiation = scan.root.find("renegotiation")
    assert renegotiation is not None and renegotiation.attrib == {"supported": "0",
                                                                  "secure": "0"}
    assert {h.get("sslversion"): h.get("vulnerable") for h in scan.root.iter("heartbleed")} \
        == {"TLSv1.3": "0", "TLSv1.2": "0"}
    groups = {(g.get("sslversion"), g.get("name", "").split()[0])
              for g in scan.root.iter("group")}
    accepted = [NamedGroup(g).name for g in crypto.SERVER_DEFAULT_GROUPS
                if g != NamedGroup.X25519MLKEM768]  # (sslscan does not probe the hybrid)
    assert groups == {("TLSv1.3", g) for g in accepted} | {
        ("TLSv1.2", NamedGroup(g).name) for g in crypto.GROUPS12}


def test_sslscan_rsa_key_transport_comes_last(servers: Servers) -> None:
    """With --legacy-rsa-kx the RSA key transport suites are accepted, but only after every
    ECDHE suite: a client that offers ECDHE gets forward secrecy."""
    scan = sslscan(servers.rsa_kx, servers.directory, "--no-groups", "--no-heartbleed")
    tls12 = [c.get("cipher") for c in scan.ciphers("TLSv1.2")]
    ecdhe = [openssl_name(CipherSuite[n]) for n in default_suites("RSA")[3:]]
    assert tls12 == [*ecdhe, "AES128-GCM-SHA256", "AES256-GCM-SHA384"]


# --------------------------------------------------------------------------- sslyze


@dataclass
class Sslyze:
    results: dict[str, Any]
    stdout: str

    def __getitem__(self, plugin: str) -> Any:
        entry = self.results[plugin]
        assert entry["status"] == "COMPLETED", (plugin, entry)
        return entry["result"]

    def accepted(self, plugin: str) -> set[str]:
        return {c["cipher_suite"]["name"] for c in self[plugin]["accepted_cipher_suites"]}

    def compliance_issues(self) -> dict[str, str]:
        """The "* check: why" lines of sslyze's check against a Mozilla profile."""
        section = self.stdout.split("COMPLIANCE AGAINST TLS CONFIGURATION", 1)[1]
        return dict(re.findall(r"^ +\* (\w+): (.+)$", section, re.M))


def sslyze(port: int, directory: Path, *args: str) -> tuple[Sslyze, int]:
    """sslyze's JSON result for 127.0.0.1:``port`` and its exit status (1: not compliant
    with the Mozilla profile asked for)."""
    if not SSLYZE.exists():
        pytest.fail(f"{SSLYZE} is missing (run .ci/install-test-deps.sh)", pytrace=False)
    out = directory / f"sslyze-{port}.json"
    with Peers() as peers:
        proc = peers.start([SSLYZE, f"--json_out={out}", *args, f"127.0.0.1:{port}"])
        code = proc.wait(SCAN_TIMEOUT)
        stdout = proc.stdout
    document = json.loads(out.read_text())
    [server] = document["server_scan_results"]
    assert server["connectivity_status"] == "COMPLETED", server
    return Sslyze(server["scan_result"], stdout), code


SSLYZE_ALL = ("--certinfo", "--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2",
              "--tlsv1_3", "--reneg", "--heartbleed", "--openssl_ccs", "--compression",
              "--fallback", "--ems", "--elliptic_curves", "--resum", "--early_data",
              "--robot")


@pytest.fixture(scope="module")
def sslyze_dual(servers: Servers) -> tuple[Sslyze, int]:
    return sslyze(servers.dual, servers.directory, *SSLYZE_ALL,
                  f"--certinfo_ca_file={servers.root_pem}", "--mozilla_config=intermediate")


def test_sslyze_versions_suites_and_vulnerabilities(sslyze_dual: tuple[Sslyze, int]) -> None:
    """Nothing below TLS 1.2; exactly the default suites for both certificates, each with an
    ephemeral ECDH key; TLS_FALLBACK_SCSV honoured (RFC 7507), secure renegotiation
    without client-initiated renegotiation, no compression, no Heartbleed, no CCS
    injection, no RSA key transport (ROBOT), the extended master secret, no 0-RTT."""
    scan, _ = sslyze_dual
    for plugin in ("ssl_2_0_cipher_suites", "ssl_3_0_cipher_suites", "tls_1_0_cipher_suites",
                   "tls_1_1_cipher_suites"):
        assert scan[plugin]["is_tls_version_supported"] is False, plugin
    assert scan.accepted("tls_1_3_cipher_suites") == set(default_suites("ECDSA")[:3])
    assert scan.accepted("tls_1_2_cipher_suites") == {
        CipherSuite(c).name for c in crypto.DEFAULT_SUITES12}
    for plugin in ("tls_1_3_cipher_suites", "tls_1_2_cipher_suites"):
        for accepted in scan[plugin]["accepted_cipher_suites"]:
            assert accepted["ephemeral_key"]["type_name"] == "ECDH", accepted
    assert scan["tls_fallback_scsv"] == {"supports_fallback_scsv": True}
    assert scan["session_renegotiation"] == {
        "supports_secure_renegotiation": True, "is_vulnerable_to_client_renegotiation_dos":
        False, "client_renegotiations_success_count": 0}
    assert scan["tls_compression"] == {"supports_compression": False}
    assert scan["heartbleed"] == {"is_vulnerable_to_heartbleed": False}
    assert scan["openssl_ccs_injection"] == {"is_vulnerable_to_ccs_injection": False}
    assert scan["robot"] == {"robot_result": "NOT_VULNERABLE_RSA_NOT_SUPPORTED"}
    assert scan["tls_extended_master_secret"] == {"supports_ems_extension": True}
    assert scan["tls_1_3_early_data"] == {"supports_early_data": False}


def test_sslyze_certificates_and_stapling(sslyze_dual: tuple[Sslyze, int]) -> None:
    """Both certificates are found (chosen by the client's suites and signature schemes),
    each chain in order without the root, trusted through the supplied root, each with
    its OCSP staple, which sslyze verifies too."""
    scan, _ = sslyze_dual
    deployments = scan["certificate_info"]["certificate_deployments"]
    assert sorted(d["received_certificate_chain"][0]["public_key"]["algorithm"]
                  for d in deployments) == ["ECPublicKey", "RSAPublicKey"]
    for d in deployments:
        assert len(d["received_certificate_chain"]) == 2
        assert d["received_chain_has_valid_order"] is True
        assert d["received_chain_contains_anchor_certificate"] is False
        trusted = {r["trust_store"]["name"] for r in d["path_validation_results"]
                   if r["was_validation_successful"]}
        assert trusted == {"Supplied CA file"}
        assert d["ocsp_response"]["response_status"] == "SUCCESSFUL", d["ocsp_response"]
        assert d["ocsp_response"]["certificate_status"] == "GOOD"
        assert d["ocsp_response_is_trusted"] is True


def test_sslyze_session_resumption(sslyze_dual: tuple[Sslyze, int]) -> None:
    """TLS 1.2 session IDs resume every time.

    Tickets: sslyze reports "not supported" although they resume. It takes a ticket,
    resumes with it, and counts the resumption only if the client's stored ticket is the
    same afterwards (sslyze/plugins/session_resumption/_resumption_with_ticket.py); it
    never looks at whether the session was resumed. tlskit renews the ticket in every
    resumed handshake (RFC 5077 3.3 allows it: same session and age, sealed under the
    current ticket key, so clients move along the key ring), which sslyze takes for a
    refusal. tests/interop/test_tls12.py and tests/hostile resume with tickets for real."""
    scan, _ = sslyze_dual
    resumption = scan["session_resumption"]
    assert resumption["session_id_resumption_result"] == "FULLY_SUPPORTED"
    assert resumption["session_id_successful_resumptions_count"] == \
        resumption["session_id_attempted_resumptions_count"] > 0
    assert resumption["tls_ticket_resumption_result"] == "NOT_SUPPORTED"


def test_sslyze_mozilla_intermediate_profile(sslyze_dual: tuple[Sslyze, int]) -> None:
    """Against Mozilla's "intermediate" profile the only issue is the curves: a default
    tlskit server also accepts P-521 and X448 when a client offers nothing else (as
    OpenSSL's defaults do), where the profile lists X25519, P-256 and P-384 only. Both are
    stronger than the listed ones; a client offering a listed curve never gets them
    (tlskit's order puts X25519 and P-256 first). A deployment that must pass this check
    sets ``groups``; the certificates, suites and versions pass it as they are."""
    scan, code = sslyze_dual
    assert {c["name"] for c in scan["elliptic_curves"]["supported_curves"]} == {
        "X25519", "X448", "secp256r1", "secp384r1", "secp521r1"}
    issues = scan.compliance_issues()
    assert list(issues) == ["tls_curves"], issues
    assert re.fullmatch(r"TLS curves \{'(secp521r1|X448)', '(secp521r1|X448)'\} are "
                        r"supported, but should be rejected\.", issues["tls_curves"])
    assert code == 1


def test_sslyze_robot_with_rsa_key_transport(servers: Servers) -> None:
    """With --legacy-rsa-kx on, ROBOT finds no Bleichenbacher oracle: every malformed
    premaster secret gets the same answer as a well-formed wrong one. The RSA suites are
    really accepted (else the check would have nothing to probe)."""
    scan, code = sslyze(servers.rsa_kx, servers.directory, "--robot", "--tlsv1_2")
    assert code == 0
    assert {"TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384"} <= \
        scan.accepted("tls_1_2_cipher_suites")
    assert scan["robot"] == {"robot_result": "NOT_VULNERABLE_NO_ORACLE"}


# --------------------------------------------------------------------------- testssl.sh


@dataclass
class Findings:
    """testssl.sh's JSON findings by id (its ids are unique for a one-certificate server)."""

    findings: dict[str, dict[str, Any]]

    def __getitem__(self, key: str) -> str:
        assert key in self.findings, f"testssl.sh reported no {key!r}"
        return str(self.findings[key]["finding"])

    def severity(self, key: str) -> str:
        return str(self.findings[key]["severity"])


@pytest.fixture(scope="module")
def testssl(servers: Servers) -> Findings:
    return servers.testssl.findings()


def _names(text: str) -> list[str]:
    return text.split()


def test_testssl_protocols_and_cipher_categories(testssl: Findings) -> None:
    """Only TLS 1.2 and 1.3; no NULL, anonymous, export, LOW (DES, RC2, RC4, 64-bit),
    3DES/IDEA or obsolete CBC suites; the AEAD category offered; forward secrecy with
    every suite, exactly tlskit's defaults for an ECDSA certificate, over the EC groups
    tlskit accepts and RFC 7919's FFDHE groups (TLS 1.3 only)."""
    for version in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert testssl[version] == "not offered", version
    assert testssl["TLS1_2"] == "offered"
    assert testssl["TLS1_3"] == "offered with final"
    for category in WEAK_CATEGORIES:
        assert testssl[category] == "not offered", category
    assert testssl["cipherlist_STRONG"] == "offered"
    assert testssl["PFS"] == "offered"
    assert sorted(_names(testssl["PFS_ciphers"])) == sorted(
        openssl_name(CipherSuite[name]) for name in default_suites("ECDSA"))
    openssl_curves = {"prime256v1": "secp256r1", "X25519": "x25519", "X448": "x448"}
    assert {openssl_curves.get(c, c) for c in _names(testssl["PFS_ECDHE_curves"])} \
        == default_ec_groups()
    assert _names(testssl["DH_groups"]) == [
        NamedGroup(g).name for g in crypto.SERVER_DEFAULT_GROUPS
        if NamedGroup(g).name.startswith("ffdhe")]


def test_testssl_server_cipher_order(testssl: Findings) -> None:
    """The server chooses, in tlskit's order (AES-128-GCM first), for both versions."""
    assert testssl["cipher_order"] == "server"
    assert testssl.severity("cipher_order") == "OK"
    order = [openssl_name(CipherSuite[n]) for n in default_suites("ECDSA")]
    assert _names(testssl["cipherorder_TLSv1_3"]) == order[:3]
    assert _names(testssl["cipherorder_TLSv1_2"]) == order[3:]
    assert testssl["protocol_negotiated"] == "Default protocol TLS1.3"
    assert testssl["cipher_negotiated"].startswith("TLS_AES_128_GCM_SHA256, 253 bit ECDH (X25519)")


def test_testssl_vulnerabilities(testssl: Findings) -> None:
    """Every check of -U comes back clean, each for the reason tlskit gives it: no heartbeat
    extension, no RSA key transport by default, RFC 5746 renegotiation_info but no
    renegotiation, no compression (TLS or HTTP), nothing below TLS 1.2 to fall back to or to
    attack with POODLE/BEAST, no 64-bit block, export, DH-export or RC4 suites."""
    for key, finding in TESTSSL_NOT_VULNERABLE.items():
        assert testssl[key].startswith(finding), (key, testssl[key])
        assert testssl.severity(key) == "OK", key


def test_testssl_server_defaults(testssl: Findings) -> None:
    """The chain (sent without the root) verifies against the test root; the staple is sent;
    tickets carry tlskit's lifetime hint; TLS 1.2 session IDs are handed out; the server
    random carries no clock.

    Not read: testssl.sh's "Session Resumption" line. It runs ``openssl s_client -sess_out``
    with stdin at EOF, and s_client closes the connection as soon as its handshake is done:
    TLS 1.3 tickets, which a server sends after the client's Finished, arrive before that
    close or not, so the saved session is empty about half of the time -- against
    `openssl s_server` too (4 of 20 saved there, 9 of 20 against tlskit). sslyze checks
    TLS 1.2 resumption below."""
    assert testssl["cert_chain_of_trust"] == "passed."
    assert testssl["certs_countServer"] == "2"  # leaf and intermediate
    assert testssl["certs_list_ordering_problem"] == "no"
    assert testssl["cert_trust"] == "Ok via SAN"
    assert testssl["cert_keySize"] == "EC 256 bits"
    assert testssl["OCSP_stapling"] == "offered"
    assert testssl["cert_ocspRevoked"] == "not revoked"  # read from the staple
    assert testssl["TLS_session_ticket"] == "valid for 7200 seconds only (<daily)"
    assert testssl["SSL_sessionID_support"] == "yes"
    assert testssl["TLS_timestamp"] == "random"
    extensions = testssl["TLS_extensions"]
    for name in ("renegotiation info/#65281", "extended master secret/#23",
                 "session ticket/#35", "supported versions/#43", "key share/#51"):
        assert f"'{name}'" in extensions, (name, extensions)
    assert "heartbeat" not in extensions


def test_testssl_http_side_of_tlskit_serve(testssl: Findings) -> None:
    """`tlskit serve`'s answer carries a Date (RFC 9110 6.6.1: an origin server with a clock
    must send one; testssl.sh reads the server's clock from it) and no cookie.

    Left alone on purpose: HSTS (testssl.sh rates its absence LOW). `tlskit serve` is a
    local diagnostic server on localhost; an HSTS header would pin HTTPS to every port of
    "localhost" in the visitor's browser for as long as max-age says."""
    skew = re.fullmatch(r"([+-]?\d+) seconds from localtime", testssl["HTTP_clock_skew"])
    assert skew, testssl["HTTP_clock_skew"]
    assert abs(int(skew.group(1))) < 300  # the current time, not a fixed or zero date
    assert testssl["HTTP_status_code"].startswith("200 OK")
    assert testssl["cookie_count"].startswith("0 ")
    assert testssl["HSTS"] == "not offered"


def test_testssl_robot_with_rsa_key_transport(servers: Servers) -> None:
    """testssl.sh's own ROBOT probe against --legacy-rsa-kx (sslyze's is above): no oracle."""
    robot = servers.testssl_robot.findings()
    assert robot["ROBOT"] == "not vulnerable"
    assert robot.severity("ROBOT") == "OK"
