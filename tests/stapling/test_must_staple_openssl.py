"""OCSP Must-Staple (RFC 7633) between the tlskit client and ``openssl s_server``.

The must-staple leaf is made twice: by `tlskit.ca.LocalCA` (``must_staple=True``) and by
OpenSSL itself (``openssl req -addext tlsfeature=status_request``, signed by the same
intermediate with ``openssl x509 -req -copy_extensions copy``). s_server serves each with
and without ``-status_file``; the tlskit client connects with ``enforce_must_staple`` off
(it connects either way, as OpenSSL's and Go's clients do) and on (no staple: refused with
bad_certificate_status_response, which s_server reads as alert 113).
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from tlskit import AlertDescription, ClientConfig, ServerConfig
from tlskit.ca import Issued
from tlskit.x509.errors import Reason
from tlskit.x509.muststaple import must_staple

from ..support.peers import PeerProcess, require_binary
from .conftest import VERSIONS, Leaf, Peers, StaplePKI, localhost_leaf_with, now, pem
from .test_client_vs_s_server import connect, rejected

pytestmark = pytest.mark.interop

MAKERS = ["localca", "openssl"]


def _openssl_leaf(pki: StaplePKI, out: Path) -> Leaf:
    """A must-staple localhost leaf made by the openssl command line, under our intermediate."""
    openssl = require_binary("openssl")
    out.mkdir()
    key, csr, cert = out / "key.pem", out / "leaf.csr", out / "leaf.pem"
    subprocess.run(
        [openssl, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost",
         "-addext", "extendedKeyUsage=serverAuth",
         "-addext", "keyUsage=critical,digitalSignature",
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-addext", "tlsfeature=status_request"],
        check=True, capture_output=True, timeout=30)
    subprocess.run(
        [openssl, "x509", "-req", "-in", str(csr), "-CA", str(pki.intermediate_pem), "-CAkey",
         str(pki.directory / "ca" / "intermediate-key.pem"), "-copy_extensions", "copy",
         "-days", "2", "-out", str(cert)],
        check=True, capture_output=True, timeout=30)
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    private_key = serialization.load_pem_private_key(key.read_bytes(), None)
    chain = out / "chain.pem"
    chain.write_bytes(pem(pki.intermediate))
    issued = Issued(certificate=certificate, private_key=private_key,  # type: ignore[arg-type]
                    chain=[certificate, pki.intermediate])
    return Leaf(issued, cert, chain, key)


def _localca_leaf(pki: StaplePKI, out: Path) -> Leaf:
    out.mkdir()
    issued = pki.ca.issue_server(["localhost"], ocsp_url="http://127.0.0.1:9",
                                 must_staple=True)
    cert, chain, key = out / "leaf.pem", out / "chain.pem", out / "key.pem"
    issued.write(out, cert_path=out / "fullchain.pem", key_path=key)
    cert.write_bytes(pem(issued.certificate))
    chain.write_bytes(pem(pki.intermediate))
    return Leaf(issued, cert, chain, key)


class MustStapleLeaves:
    def __init__(self, pki: StaplePKI, base: Path) -> None:
        self.leaves = {"localca": _localca_leaf(pki, base / "localca"),
                       "openssl": _openssl_leaf(pki, base / "openssl")}
        self.staples: dict[str, Path] = {}
        for maker, leaf in self.leaves.items():
            t0 = now() - dt.timedelta(minutes=1)
            data = pki.crafted(leaf.cert, status=ocsp.OCSPCertStatus.GOOD,
                               signer=pki.intermediate, key=pki.ca.intermediate_key, start=t0,
                               end=t0 + dt.timedelta(days=1))
            self.staples[maker] = base / f"{maker}.der"
            self.staples[maker].write_bytes(data)


@pytest.fixture(scope="module")
def strict(pki: StaplePKI, tmp_path_factory: pytest.TempPathFactory) -> MustStapleLeaves:
    return MustStapleLeaves(pki, tmp_path_factory.mktemp("must-staple"))


ServerKey = tuple[str, bool, str]  # (maker, stapling?, version)


class Servers(dict[ServerKey, tuple[PeerProcess, int]]):
    """s_server per (maker, stapling?, version), started on first use."""

    def __init__(self, strict: MustStapleLeaves, peers: Peers) -> None:
        super().__init__()
        self.strict, self.peers = strict, peers

    def __missing__(self, key: ServerKey) -> tuple[PeerProcess, int]:
        maker, stapled, version = key
        staple = self.strict.staples[maker] if stapled else None
        started = self.peers.s_server(self.strict.leaves[maker], version, staple)
        self[key] = started
        return started


@pytest.fixture(scope="module")
def servers(strict: MustStapleLeaves) -> Iterator[Servers]:
    peers = Peers()
    try:
        yield Servers(strict, peers)
    finally:
        peers.close()


def client(pki: StaplePKI, version: str, **kw: object) -> ClientConfig:
    return ClientConfig(trust_anchors=[pki.root], versions=[version], **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("maker", MAKERS)
def test_both_makers_write_must_staple(strict: MustStapleLeaves, maker: str) -> None:
    assert must_staple(strict.leaves[maker].cert)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("maker", MAKERS)
def test_no_staple_refused_when_enforced(pki: StaplePKI, servers: Servers, maker: str,
                                         version: str) -> None:
    proc, port = servers[(maker, False, version)]
    error = rejected(client(pki, version, enforce_must_staple=True), proc, port)
    assert error.reason is Reason.tls_feature_missing
    assert error.alert is AlertDescription.bad_certificate_status_response
    assert "stapled no OCSP response" in str(error)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("maker", MAKERS)
def test_no_staple_accepted_by_default(pki: StaplePKI, servers: Servers, maker: str,
                                       version: str) -> None:
    _proc, port = servers[(maker, False, version)]
    hc = connect(client(pki, version, ocsp_stapling=True), port)
    assert hc.ocsp_response is None


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("maker", MAKERS)
@pytest.mark.parametrize("enforce", [True, False])
def test_staple_accepted(pki: StaplePKI, strict: MustStapleLeaves, servers: Servers, maker: str,
                         version: str, enforce: bool) -> None:
    proc, port = servers[(maker, True, version)]
    mark = proc.mark("stderr")
    config = client(pki, version, enforce_must_staple=True) if enforce else \
        client(pki, version, ocsp_stapling=True)
    hc = connect(config, port)
    assert hc.ocsp_response == strict.staples[maker].read_bytes()
    proc.wait_for("cert_status: ocsp response sent:", stream="stderr", since=mark)


EMPTY_FEATURES = b"\x30\x00"  # (cryptography refuses it with a TypeError, not a ValueError)


def _malformed_leaf(pki: StaplePKI, out: Path, body: bytes = b"\x04\x01\x05",
                    critical: bool = False) -> Leaf:
    """A localhost leaf whose TLS Feature extension is ``body``: by default an OCTET STRING,
    not a SEQUENCE OF INTEGER (tlskit's own ServerConfig cannot load it, s_server serves
    it)."""
    out.mkdir()
    issued = localhost_leaf_with(pki.ca, x509.UnrecognizedExtension(
        x509.ObjectIdentifier("1.3.6.1.5.5.7.1.24"), body), critical)
    cert, key = issued.certificate, issued.private_key
    paths = out / "leaf.pem", out / "chain.pem", out / "key.pem"
    paths[0].write_bytes(pem(cert))
    paths[1].write_bytes(pem(pki.intermediate))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return Leaf(issued, *paths)


@pytest.mark.parametrize("body", [b"\x04\x01\x05", EMPTY_FEATURES], ids=["octets", "empty"])
@pytest.mark.parametrize("enforce", [True, False])
def test_malformed_tls_feature_is_bad_certificate(pki: StaplePKI, tmp_path: Path,
                                                  enforce: bool, body: bytes) -> None:
    """Malformed, whether or not must-staple is enforced: bad_certificate, as any
    extension that does not parse."""
    peers = Peers()
    try:
        proc, port = peers.s_server(_malformed_leaf(pki, tmp_path / "bad", body), "TLSv1.3")
        error = rejected(client(pki, "TLSv1.3", enforce_must_staple=enforce), proc, port)
        assert error.reason is Reason.malformed
        assert error.alert is AlertDescription.bad_certificate
    finally:
        peers.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_openssl_client_ignores_must_staple(pki: StaplePKI, strict: MustStapleLeaves,
                                            version: str) -> None:
    """The other way round: a tlskit server serves a must-staple leaf without a staple
    (the library does not refuse to, as nginx and OpenSSL do not), and ``openssl s_client
    -status -verify_return_error`` connects: OpenSSL does not enforce must-staple."""
    from .test_server_vs_s_client import NO_STAPLE, s_client_run
    issued = strict.leaves["localca"].issued
    config = ServerConfig(certificate_chain=issued.chain, private_key=issued.private_key,
                          versions=[version])
    peers = Peers()
    try:
        hc, out = s_client_run(peers, pki, config, version)
    finally:
        peers.close()
    assert hc.peer_certificates == [] and NO_STAPLE in out


def test_connect_insecure_shows_an_empty_tls_feature(pki: StaplePKI, tmp_path: Path) -> None:
    """``tlskit connect --insecure`` against a leaf whose TLS Feature is an empty list (which
    cryptography refuses with a TypeError on any read of the extensions): the chain is
    shown, the leaf not must-staple, the failed check named; no crash."""
    import json
    import subprocess
    import sys
    peers = Peers()
    try:
        _, port = peers.s_server(_malformed_leaf(pki, tmp_path / "empty", EMPTY_FEATURES),
                                 "TLSv1.3")
        for extra in ([], ["--must-staple"]):
            proc = subprocess.run(
                [sys.executable, "-m", "tlskit", "connect", f"127.0.0.1:{port}", "--insecure",
                 "--json", "--cafile", str(pki.root_pem), *extra],
                capture_output=True, text=True, timeout=60)
            assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout
            summary = json.loads(proc.stdout)
            assert summary["peer_certificates"][0]["subject"] == "CN=localhost"
            failed = [c for c in summary["verification"]["checks"] if not c["ok"]]
            assert failed[0]["name"] == "well-formed", failed  # (then hostname: no SAN reads)
            assert "must-staple" not in summary["verification"]["ocsp_staple"]
    finally:
        peers.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_critical_must_staple_from_s_server(pki: StaplePKI, tmp_path: Path,
                                            version: str) -> None:
    """A critical TLS Feature (status_request) served by s_server with -status_file: an
    enforcing client connects; one that does not enforce it refuses the unhandled
    critical extension (unsupported_certificate)."""
    leaf = _malformed_leaf(pki, tmp_path / "critical", b"\x30\x03\x02\x01\x05", critical=True)
    t0 = now() - dt.timedelta(minutes=1)
    staple = tmp_path / "critical.der"
    staple.write_bytes(pki.crafted(leaf.cert, status=ocsp.OCSPCertStatus.GOOD,
                                   signer=pki.intermediate, key=pki.ca.intermediate_key,
                                   start=t0, end=t0 + dt.timedelta(days=1)))
    peers = Peers()
    try:
        proc, port = peers.s_server(leaf, version, staple)
        hc = connect(client(pki, version, enforce_must_staple=True), port)
        assert hc.ocsp_response == staple.read_bytes()
        error = rejected(client(pki, version), proc, port)
        assert error.reason is Reason.unhandled_critical_extension
        assert error.alert is AlertDescription.unsupported_certificate
    finally:
        peers.close()
