"""The local CA's responder for the whole chain: several certificates per OCSP request
(asked by the real `openssl ocsp` with two -cert), the root answering for the intermediate,
CRLs served over HTTP, and the CA's URLs in the intermediate and the leaves, so that
hard-fail revocation checking by tlskit's own validator passes on its chains."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import select
import shutil
import socket
import struct
import subprocess
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit import _ocsp_der
from tlskit.ca import CAError, KeyType, LocalCA
from tlskit.ca.model import INDEX
from tlskit.ca.responder import _OCSPHandler
from tlskit.x509 import CertificateVerificationError, Reason, TrustStore, Verifier
from tlskit.x509.ocsp import evaluate_ocsp_response

from ..support.ports import reserve_port

OPENSSL = shutil.which("openssl")
assert OPENSSL is not None, "the openssl binary is required (bash .ci/install-test-deps.sh)"
CURL = shutil.which("curl")
assert CURL is not None, "the curl binary is required (bash .ci/install-test-deps.sh)"


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(pem(cert))
    return path


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *map(str, args)], capture_output=True, text=True,
                          timeout=30, check=False)


class Chain:
    """A CA on disk whose certificates name a responder on 127.0.0.1, and two leaves."""

    def __init__(self, base: Path, key_type: str = "ec256") -> None:
        self.port = reserve_port()
        self.ca = LocalCA.create(base / "ca", key_type=key_type,
                                 url=f"http://127.0.0.1:{self.port}")
        self.good = self.ca.issue_server(["good.test"], key_type=key_type)
        self.bad = self.ca.issue_server(["bad.test"], key_type=key_type)
        self.ca.revoke(self.bad, reason="keyCompromise")
        self.root = write(base / "root.pem", self.ca.root)
        self.inter = write(base / "intermediate.pem", self.ca.intermediate)
        self.good_pem = write(base / "good.pem", self.good.certificate)
        self.bad_pem = write(base / "bad.pem", self.bad.certificate)


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    return Chain(tmp_path)


# --------------------------------------------------------------------------- openssl ocsp


@pytest.mark.parametrize("key_type", [k.value for k in KeyType])
def test_openssl_ocsp_with_two_certs(tmp_path: Path, key_type: str) -> None:
    """Before: `internalerror (2)`. Now one signed answer per certificate, in order,
    with the nonce echoed, for every CA key type (each signs the response its own way)."""
    pki = Chain(tmp_path, key_type)
    with pki.ca.serve_ocsp(port=pki.port) as responder:
        result = openssl("ocsp", "-issuer", pki.inter, "-cert", pki.good_pem,
                         "-cert", pki.bad_pem, "-serial", "0x1234", "-url", responder.url,
                         "-CAfile", pki.root, "-resp_text")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Response verify OK" in output
    assert f"{pki.good_pem}: good" in output
    assert f"{pki.bad_pem}: revoked" in output
    assert "0x1234: unknown" in output
    assert "Reason: keyCompromise" in output
    assert "OCSP Nonce" in output and "no nonce" not in output.lower()
    assert output.index(f"{pki.good_pem}: good") < output.index(f"{pki.bad_pem}: revoked")


def test_root_answers_for_the_intermediate(chain: Chain) -> None:
    with chain.ca.serve_ocsp(port=chain.port) as responder:
        result = openssl("ocsp", "-issuer", chain.root, "-cert", chain.inter,
                         "-url", responder.url, "-CAfile", chain.root)
        mixed = openssl("ocsp", "-issuer", chain.root, "-cert", chain.inter,
                        "-issuer", chain.inter, "-cert", chain.good_pem,
                        "-url", responder.url, "-CAfile", chain.root)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Response verify OK" in output and f"{chain.inter}: good" in output
    # One response has one signer: certificates of two issuers need two requests.
    assert "Responder Error: unauthorized (6)" in mixed.stdout + mixed.stderr


def test_multi_certificate_request_by_get(chain: Chain, tmp_path: Path) -> None:
    """RFC 6960 A.1 GET, also under a path prefix, for a two-certificate request."""
    request = tmp_path / "req.der"
    made = openssl("ocsp", "-issuer", chain.inter, "-cert", chain.good_pem,
                   "-cert", chain.bad_pem, "-reqout", request)
    assert made.returncode == 0, made.stderr
    encoded = urllib.parse.quote(base64.b64encode(request.read_bytes()).decode(), safe="")
    with chain.ca.serve_ocsp(port=chain.port) as responder:
        for path in (encoded, f"ocsp/{encoded}"):
            with urllib.request.urlopen(f"{responder.url}/{path}", timeout=10) as reply:
                response = ocsp.load_der_ocsp_response(reply.read())
            assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
            statuses = [single.certificate_status for single in response.responses]
            assert statuses == [ocsp.OCSPCertStatus.GOOD, ocsp.OCSPCertStatus.REVOKED]


def curl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert CURL is not None
    return subprocess.run([CURL, "-sS", "--max-time", "20", *map(str, args)],
                          capture_output=True, text=True, timeout=30, check=False)


def headers_of(dump: str) -> dict[str, str]:
    """The header lines curl -D wrote, by lowercase name."""
    lines = [line.split(":", 1) for line in dump.splitlines()[1:] if ":" in line]
    return {name.strip().lower(): value.strip() for name, value in lines}


def test_get_answers_carry_rfc5019_cache_headers(chain: Chain, tmp_path: Path) -> None:
    """RFC 5019 6.2: before, a GET answer had no Expires, Last-Modified, ETag or
    Cache-Control, so no HTTP cache could keep it; POST answers (never cached) and error
    answers (no validity) still carry none."""
    request = tmp_path / "req.der"
    made = openssl("ocsp", "-issuer", chain.inter, "-cert", chain.good_pem, "-no_nonce",
                   "-reqout", request)
    assert made.returncode == 0, made.stderr
    encoded = urllib.parse.quote(base64.b64encode(request.read_bytes()).decode(), safe="")
    body, dump = tmp_path / "resp.der", tmp_path / "headers.txt"
    with chain.ca.serve_ocsp(port=chain.port) as responder:
        got = curl("-D", dump, "-o", body, f"{responder.url}/{encoded}")
        assert got.returncode == 0, got.stderr
        get_headers = headers_of(dump.read_text())
        posted = curl("-D", dump, "-o", tmp_path / "post.der", "--data-binary", f"@{request}",
                      "-H", "Content-Type: application/ocsp-request", responder.url)
        assert posted.returncode == 0, posted.stderr
        post_headers = headers_of(dump.read_text())
        curl("-D", dump, "-o", tmp_path / "bad.der", f"{responder.url}/AAAA")
        error_headers = headers_of(dump.read_text())
    checked = openssl("ocsp", "-respin", body, "-issuer", chain.inter, "-cert", chain.good_pem,
                      "-CAfile", chain.root, "-resp_text")
    assert "Response verify OK" in checked.stdout + checked.stderr
    response = ocsp.load_der_ocsp_response(body.read_bytes())
    assert get_headers["expires"] == email.utils.format_datetime(
        response.next_update_utc, usegmt=True)
    assert get_headers["last-modified"] == email.utils.format_datetime(
        response.produced_at_utc, usegmt=True)
    max_age = int((response.next_update_utc - response.produced_at_utc).total_seconds())
    assert get_headers["cache-control"] == (
        f"max-age={max_age}, public, no-transform, must-revalidate")
    assert get_headers["etag"].startswith('"') and get_headers["etag"].endswith('"')
    cache = {"expires", "last-modified", "etag", "cache-control"}
    assert not cache & post_headers.keys() and not cache & error_headers.keys()


def test_get_accepts_the_url_safe_base64_alphabet(chain: Chain, tmp_path: Path) -> None:
    """Before: a request in base64url (``-``/``_``, no padding) was malformedRequest."""
    request = tmp_path / "req.der"
    body = tmp_path / "resp.der"
    for _ in range(50):  # a request whose base64 has a "+" or a "/" to translate
        made = openssl("ocsp", "-issuer", chain.inter, "-cert", chain.good_pem,
                       "-reqout", request)
        assert made.returncode == 0, made.stderr
        standard = base64.b64encode(request.read_bytes()).decode()
        if "+" in standard or "/" in standard:
            break
    urlsafe = base64.urlsafe_b64encode(request.read_bytes()).decode().rstrip("=")
    assert "-" in urlsafe or "_" in urlsafe
    with chain.ca.serve_ocsp(port=chain.port) as responder:
        got = curl("-o", body, f"{responder.url}/{urlsafe}")
    assert got.returncode == 0, got.stderr
    checked = openssl("ocsp", "-reqin", request, "-respin", body, "-CAfile", chain.root,
                      "-resp_text")  # -reqin: the nonce is checked too
    output = checked.stdout + checked.stderr
    assert "Response verify OK" in output and "Cert Status: good" in output, output


def test_get_with_a_path_prefix_and_an_unescaped_slash(chain: Chain, tmp_path: Path) -> None:
    """Before: under a path prefix (a CA URL like http://host/ocsp), a request whose base64
    held an unescaped "/" was malformedRequest: only the whole path and the last segment
    were tried, and the slash splits the request across two segments."""
    request = tmp_path / "req.der"
    for _ in range(50):  # a request whose base64 has a "/" (the nonce makes each differ)
        made = openssl("ocsp", "-issuer", chain.inter, "-cert", chain.good_pem,
                       "-reqout", request)
        assert made.returncode == 0, made.stderr
        encoded = base64.b64encode(request.read_bytes()).decode()
        if "/" in encoded:
            break
    assert "/" in encoded
    body = tmp_path / "resp.der"
    with chain.ca.serve_ocsp(port=chain.port) as responder:
        got = curl("--path-as-is", "-o", body,
                   f"{responder.url}/ocsp/v1/{encoded}")
    assert got.returncode == 0, got.stderr
    checked = openssl("ocsp", "-reqin", request, "-respin", body, "-CAfile", chain.root,
                      "-resp_text")
    output = checked.stdout + checked.stderr
    assert "Response verify OK" in output and "Cert Status: good" in output, output


def test_a_client_resetting_mid_request_costs_one_log_line(
    chain: Chain, capfd: pytest.CaptureFixture[str]
) -> None:
    """Before: each client that reset its connection mid-body printed a traceback on the
    responder's stderr (any network client could flood the terminal of `tlskit ca ocsp`)."""
    lines: list[str] = []
    with chain.ca.serve_ocsp(port=chain.port, log=lines.append) as responder:
        client = socket.create_connection(("127.0.0.1", responder.port))
        client.sendall(b"POST / HTTP/1.0\r\nContent-Length: 100\r\n\r\n\x30\x62")
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # linger 0: a reset, the server's read fails
        for _ in range(200):  # the handler thread logs it; wait for it, boundedly
            if lines:
                break
            threading.Event().wait(0.05)
    assert lines == ["127.0.0.1 went away mid-request"]
    assert "Traceback" not in capfd.readouterr().err


def test_a_client_dribbling_its_request_is_cut_off(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A byte every 0.1 s never trips the 10 s read timeout; before, such a client held
    its thread for as long as it kept dribbling. Now the connection has a deadline (made
    short here), after which the server closes it without answering."""
    monkeypatch.setattr(_OCSPHandler, "deadline", 1.0, raising=False)
    lines: list[str] = []
    with chain.ca.serve_ocsp(port=chain.port, log=lines.append) as responder:
        client = socket.create_connection(("127.0.0.1", responder.port))
        client.sendall(b"POST / HTTP/1.0\r\nContent-Length: 1000\r\n\r\n")
        closed = False
        for _ in range(150):  # up to 15 s of dribbling, far past the deadline
            readable, _w, _x = select.select([client], [], [], 0.1)
            if readable and client.recv(100) == b"":
                closed = True
                break
            try:
                client.sendall(b"\x30")
            except OSError:
                closed = True
                break
        client.close()
        for _ in range(100):
            if lines:
                break
            threading.Event().wait(0.05)
    assert closed
    assert lines and "POST cut short" in lines[0]


class _TimerFiringOnCancel:
    """A deadline timer that fires just as the handler cancels it: the race
    `threading.Timer.cancel` loses when the function has already started."""

    def __init__(self, interval: float, function: Any) -> None:
        self.function = function
        self.daemon = False

    def start(self) -> None:
        pass

    def cancel(self) -> None:
        self.function()


def test_a_deadline_firing_as_the_request_ends_leaves_the_socket_alone(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a deadline that fired as the handler finished shut the socket down after
    the request was served, when the server was about to close it (and its fd could be
    reused by the next connection). A cut now reaches the socket only while serving."""
    shut: list[int] = []

    class Connection:
        def shutdown(self, how: int) -> None:
            shut.append(how)

    monkeypatch.setattr(threading, "Timer", _TimerFiringOnCancel)
    monkeypatch.setattr(BaseHTTPRequestHandler, "handle", lambda self: None)
    handler = _OCSPHandler.__new__(_OCSPHandler)
    handler.connection = Connection()  # type: ignore[assignment]
    handler.handle()
    assert shut == []
    handler._served = False  # while serving, the deadline still cuts
    handler._cut()
    assert shut == [socket.SHUT_RDWR]


def test_tlskit_reads_each_answer_of_a_multi_response(chain: Chain, tmp_path: Path) -> None:
    """openssl writes the two-certificate request; tlskit's own OCSP evaluator finds the
    answer about each certificate in the one response."""
    request = tmp_path / "req.der"
    made = openssl("ocsp", "-issuer", chain.inter, "-cert", chain.good_pem,
                   "-cert", chain.bad_pem, "-reqout", request, "-no_nonce")
    assert made.returncode == 0, made.stderr
    der = chain.ca.ocsp_response(request.read_bytes())
    now = dt.datetime.now(dt.UTC)
    inter = chain.ca.intermediate
    assert evaluate_ocsp_response(der, chain.good.certificate, inter, now).status == "good"
    bad = evaluate_ocsp_response(der, chain.bad.certificate, inter, now)
    assert bad.status == "revoked" and bad.reason == "keyCompromise"


def test_request_with_unknown_hash_or_issuer_is_unauthorized(chain: Chain) -> None:
    req = ocsp.OCSPRequestBuilder().add_certificate(
        chain.good.certificate, chain.ca.intermediate, hashes.SHA1()).build()
    der = req.public_bytes(serialization.Encoding.DER)
    sha1_oid = _ocsp_der.encode_oid("1.3.14.3.2.26")
    md5_oid = _ocsp_der.encode_oid("1.2.840.113549.2.5")
    assert sha1_oid in der and len(sha1_oid) != len(md5_oid)
    sm3_like = _ocsp_der.encode_oid("1.3.14.3.2.99")  # same length, a hash nobody uses
    answer = ocsp.load_der_ocsp_response(chain.ca.ocsp_response(der.replace(sha1_oid, sm3_like)))
    assert answer.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_a_foreign_issuer_beside_a_known_one_is_unauthorized(
    chain: Chain, tmp_path: Path
) -> None:
    """Before: the foreign CertID got "unknown", signed by the intermediate, which speaks
    for no other issuer; now the whole request is unauthorized, as when asked alone."""
    other = LocalCA.create()
    foreign = write(tmp_path / "foreign.pem", other.intermediate)
    with chain.ca.serve_ocsp(port=chain.port) as responder:
        mixed = openssl("ocsp", "-issuer", chain.inter, "-cert", chain.good_pem,
                        "-issuer", foreign, "-serial", "0x1234",
                        "-url", responder.url, "-CAfile", chain.root)
    output = mixed.stdout + mixed.stderr
    assert "Responder Error: unauthorized (6)" in output, output


# --------------------------------------------------------------------------- request decoding


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parse_request_never_raises_anything_else(data: bytes) -> None:
    with contextlib.suppress(_ocsp_der.OcspDERError):
        request = _ocsp_der.parse_request(data)
        assert request.cert_ids


@pytest.fixture(scope="module")
def fuzz_target() -> tuple[LocalCA, bytes]:
    """An in-memory CA and a real request (SHA-256 CertID, with a nonce) to mangle."""
    ca = LocalCA.create(None)
    issued = ca.issue_server(["fuzz.test"])
    request = (ocsp.OCSPRequestBuilder()
               .add_certificate(issued.certificate, ca.intermediate, hashes.SHA256())
               .add_extension(x509.OCSPNonce(b"0123456789abcdef"), critical=False)
               .build())
    return ca, request.public_bytes(serialization.Encoding.DER)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mangled_requests_get_a_response(
    fuzz_target: tuple[LocalCA, bytes], data: st.DataObject
) -> None:
    """Any byte flipped or cut in a real request: the answer is still an OCSPResponse
    (malformedRequest, unauthorized, or a signed answer), never an exception."""
    ca, original = fuzz_target
    der = bytearray(original)
    position = data.draw(st.integers(0, len(der) - 1))
    if data.draw(st.booleans()):
        der[position] ^= data.draw(st.integers(1, 255))
    else:
        del der[position:]
    response = ocsp.load_der_ocsp_response(ca.ocsp_response(bytes(der)))
    assert response.response_status in (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
        ocsp.OCSPResponseStatus.UNAUTHORIZED,
        ocsp.OCSPResponseStatus.SUCCESSFUL,
    )


def test_der_round_trip_of_oids_and_lengths() -> None:
    for dotted in ("1.3.6.1.5.5.7.48.1.2", "2.16.840.1.101.3.4.2.1", "1.2.840.113549.1.1.11"):
        encoded = _ocsp_der.encode_oid(dotted)
        assert _ocsp_der.decode_oid(encoded[2:]) == dotted
        assert x509.ObjectIdentifier(dotted).dotted_string == dotted
    long = _ocsp_der.tlv(0x04, b"x" * 300)
    assert long[:4] == b"\x04\x82\x01\x2c"


# --------------------------------------------------------------------------- URLs and CRLs


def _urls(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        ocsp_urls = [str(a.access_location.value) for a in aia]
    except x509.ExtensionNotFound:
        ocsp_urls = []
    try:
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        crl_urls = [str(n.value) for p in cdp for n in p.full_name or []]
    except x509.ExtensionNotFound:
        crl_urls = []
    return ocsp_urls, crl_urls


def test_intermediate_and_leaves_name_the_ca_url(chain: Chain) -> None:
    base = f"http://127.0.0.1:{chain.port}"
    assert chain.ca.url == base
    assert _urls(chain.ca.intermediate) == ([base], [f"{base}/crl/root.crl"])
    assert _urls(chain.good.certificate) == ([base], [f"{base}/crl/intermediate.crl"])
    plain = chain.ca.issue_server(["plain.test"], ocsp_url="", crl_url="")
    assert _urls(plain.certificate) == ([], [])
    other = chain.ca.issue_client("alice", ocsp_url="http://ocsp.test", crl_url="")
    assert _urls(other.certificate) == (["http://ocsp.test"], [])
    reloaded = LocalCA.load(chain.ca.directory)  # type: ignore[arg-type]
    assert reloaded.url == base
    without = LocalCA.create(None)
    assert without.url is None and _urls(without.intermediate) == ([], [])
    assert _urls(without.issue_server(["x.test"]).certificate) == ([], [])
    with pytest.raises(CAError, match="not an http:// URL"):
        LocalCA.create(None, url="ftp://127.0.0.1/")


def test_crls_are_served_over_http(chain: Chain) -> None:
    lines: list[str] = []
    with chain.ca.serve_ocsp(port=chain.port, log=lines.append) as responder:
        crls = {}
        for which in ("root", "intermediate"):
            with urllib.request.urlopen(f"{responder.url}/crl/{which}.crl", timeout=10) as r:
                assert r.headers["Content-Type"] == "application/pkix-crl"
                crls[which] = x509.load_der_x509_crl(r.read())
    root_crl, inter_crl = crls["root"], crls["intermediate"]
    assert root_crl.issuer == chain.ca.root.subject and len(root_crl) == 0
    assert root_crl.is_signature_valid(chain.ca.root.public_key())
    assert inter_crl.is_signature_valid(chain.ca.intermediate.public_key())
    assert [r.serial_number for r in inter_crl] == [chain.bad.serial_number]

    def number(crl: x509.CertificateRevocationList) -> int:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    assert number(inter_crl) > number(root_crl)
    assert any("root CRL" in line for line in lines)


def test_a_crl_is_served_again_until_it_changes_or_ages(tmp_path: Path) -> None:
    """Before: every GET signed a new CRL, taking the next CRL number and rewriting the
    CA's index (a disk write per fetch, by anyone who can reach the URL). Now the same CRL
    is served until a revocation changes it or half its 7 days have passed."""
    now = [dt.datetime(2026, 12, 1, tzinfo=dt.UTC)]
    port = reserve_port()
    ca = LocalCA.create(tmp_path / "ca", url=f"http://127.0.0.1:{port}", clock=lambda: now[0])
    leaf = ca.issue_server(["a.test"])
    index = tmp_path / "ca" / INDEX

    def fetch(which: str) -> x509.CertificateRevocationList:
        with urllib.request.urlopen(f"{responder.url}/crl/{which}.crl", timeout=10) as r:
            return x509.load_der_x509_crl(r.read())

    def number(crl: x509.CertificateRevocationList) -> int:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    with ca.serve_ocsp(port=port) as responder:
        first, root_first = fetch("intermediate"), fetch("root")
        written = index.stat().st_mtime_ns
        assert [number(fetch("intermediate")) for _ in range(3)] == [number(first)] * 3
        assert number(fetch("root")) == number(root_first)
        assert index.stat().st_mtime_ns == written  # nothing signed, nothing written
        ca.revoke(leaf)
        revoked = fetch("intermediate")
        assert number(revoked) > number(first)
        assert [r.serial_number for r in revoked] == [leaf.certificate.serial_number]
        now[0] += dt.timedelta(days=3, hours=12)  # half of the 7 days
        assert number(fetch("intermediate")) > number(revoked)
        assert number(fetch("root")) > number(root_first)


@pytest.mark.parametrize("source", ["ocsp", "crl"])
def test_hard_fail_on_the_whole_chain(chain: Chain, source: str) -> None:
    """tlskit's validator, hard-fail, fetching from the URLs in the certificates alone:
    the intermediate's status comes from the root (OCSP or CRL), the leaves' from the
    intermediate. Without the root's answer this failed as revocation_unknown."""
    options = {"ocsp": source == "ocsp", "fetch_crls": source == "crl"}
    verifier = Verifier(TrustStore([chain.ca.root]), revocation="hard-fail", **options)
    with chain.ca.serve_ocsp(port=chain.port):
        report = verifier.explain(chain.good.certificate, [chain.ca.intermediate],
                                  server_name="good.test")
        with pytest.raises(CertificateVerificationError) as revoked:
            verifier.verify(chain.bad.certificate, [chain.ca.intermediate],
                            server_name="bad.test")
    assert report.valid, report.error
    rows = {c.certificate: c.detail for c in report.checks if c.check == "revocation"}
    assert rows[chain.good.certificate].startswith(f"good (source: {source}")
    assert rows[chain.ca.intermediate].startswith(f"good (source: {source}")
    assert revoked.value.reason == Reason.revoked
    # The responder is gone: hard-fail now refuses what it cannot check.
    offline = Verifier(TrustStore([chain.ca.root]), revocation="hard-fail", **options)
    with pytest.raises(CertificateVerificationError) as unknown:
        offline.verify(chain.good.certificate, [chain.ca.intermediate], server_name="good.test")
    assert unknown.value.reason == Reason.revocation_unknown

