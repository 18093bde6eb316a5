"""`tlskit connect` asks for a stapled OCSP response by default and checks it (soft-fail):
against `openssl s_server -status_file` and `tlskit serve --ocsp-response`, each stapling a
response signed by the `LocalCA` intermediate for a revoked, then a good, certificate."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from tests.cli.test_connect import SServer, one_error_line, tlskit
from tlskit.ca import Issued, LocalCA

from ..support.tlskit_cli import ServeProcess


class Staples:
    """A CA, a revoked and a good leaf for localhost, and a DER OCSP response for each."""

    def __init__(self, base: Path) -> None:
        self.ca = LocalCA.create(base / "ca")
        self.root = base / "ca" / "root.pem"
        self.intermediate = base / "ca" / "intermediate.pem"
        self.revoked = self._leaf(base, "revoked")
        self.good = self._leaf(base, "good")
        self.ca.revoke(self.revoked[0], reason="keyCompromise")
        self.revoked_response = self._response(base / "revoked.der", self.revoked[0])
        self.good_response = self._response(base / "good.der", self.good[0])
        self.openssl_revoked_response = self._openssl_response(base, self.revoked[0])

    def _leaf(self, base: Path, stem: str) -> tuple[Issued, Path, Path]:
        issued = self.ca.issue_server(["localhost", "127.0.0.1"])
        cert, key = issued.write(cert_path=base / f"{stem}.pem", key_path=base / f"{stem}-key.pem")
        return issued, cert, key

    def _response(self, path: Path, issued: Issued) -> Path:
        request = ocsp.OCSPRequestBuilder().add_certificate(
            issued.certificate, self.ca.intermediate, hashes.SHA1()).build()
        path.write_bytes(self.ca.ocsp_response(request.public_bytes(serialization.Encoding.DER)))
        return path

    def _openssl_response(self, base: Path, issued: Issued) -> Path:
        """The same verdict signed by `openssl ocsp` acting as the responder (its own
        encoder, from an index.txt in the `openssl ca` format)."""
        serial = f"{issued.serial_number:X}"
        serial = "0" * (len(serial) % 2) + serial
        index = base / "index.txt"
        index.write_text(f"R\t300101000000Z\t260101000000Z,keyCompromise\t{serial}\t"
                         "unknown\t/CN=localhost\n")
        leaf = base / "openssl-leaf.pem"
        leaf.write_bytes(issued.certificate.public_bytes(serialization.Encoding.PEM))
        key = base / "intermediate-key.pem"
        key.write_bytes(self.ca.intermediate_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        out = base / "openssl-revoked.der"
        done = subprocess.run(
            ["openssl", "ocsp", "-index", str(index), "-rsigner", str(self.intermediate),
             "-rkey", str(key), "-CA", str(self.intermediate), "-issuer",
             str(self.intermediate), "-cert", str(leaf), "-respout", str(out), "-ndays", "1"],
            capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0 and out.is_file(), done.stderr
        return out


@pytest.fixture(scope="module")
def staples(tmp_path_factory: pytest.TempPathFactory) -> Staples:
    return Staples(tmp_path_factory.mktemp("staples"))


def s_server(staples: Staples, leaf: tuple[Issued, Path, Path], status_file: Path,
             tls: str) -> SServer:
    _, cert, key = leaf
    return SServer("-cert", str(cert), "-key", str(key), "-cert_chain",
                   str(staples.intermediate), "-status_file", str(status_file), tls=tls)


class TlskitServe(ServeProcess):
    """`tlskit serve --ocsp-response FILE` on an OS-chosen port, stopped by close()."""

    def __init__(self, cert: Path, key: Path, response: Path, state: Path) -> None:
        super().__init__("--cert", str(cert), "--key", str(key), "--ocsp-response",
                         str(response), state=state)


@pytest.fixture
def tlskit_serve(tmp_path: Path) -> Iterator[list[TlskitServe]]:
    started: list[TlskitServe] = []
    yield started
    for server in started:
        server.close()


@pytest.mark.parametrize("signer", ["tlskit ca", "openssl ocsp"])
@pytest.mark.parametrize("tls", ["-tls1_3", "-tls1_2"])
def test_revoked_staple_from_s_server_is_refused(staples: Staples, tls: str,
                                                 signer: str) -> None:
    response = (staples.revoked_response if signer == "tlskit ca"
                else staples.openssl_revoked_response)
    server = s_server(staples, staples.revoked, response, tls)
    try:
        proc = tlskit(f"localhost:{server.port}", "--cafile", str(staples.root))
        line = one_error_line(proc)
        assert line.startswith("tlskit connect: certificate revoked, refusing the connection: ")
        assert "keyCompromise" in line and "stapled OCSP response" in line
        assert proc.returncode == 1 and proc.stdout == ""
        # Without the request the server staples nothing and the certificate looks fine:
        # the check above is what refused it.
        data = json.loads(tlskit(f"localhost:{server.port}", "--cafile", str(staples.root),
                                 "--json", "--no-ocsp-stapling").stdout)
        assert data["verification"]["ok"] is True
        assert data["verification"]["ocsp_staple"].startswith("not requested")
    finally:
        server.close()


def test_good_staple_is_reported(staples: Staples) -> None:
    server = s_server(staples, staples.good, staples.good_response, "-tls1_3")
    try:
        proc = tlskit(f"localhost:{server.port}", "--cafile", str(staples.root), "--json")
        assert proc.returncode == 0, proc.stderr
        staple = json.loads(proc.stdout)["verification"]["ocsp_staple"]
        assert staple.startswith("good"), staple
        human = tlskit(f"localhost:{server.port}", "--cafile", str(staples.root))
        assert human.returncode == 0, human.stderr
        assert re.search(r"OCSP staple\s+good", human.stdout), human.stdout
    finally:
        server.close()


def test_no_staple_is_fine(staples: Staples) -> None:
    _, cert, key = staples.good
    server = SServer("-cert", str(cert), "-key", str(key), "-cert_chain",
                     str(staples.intermediate))
    try:
        proc = tlskit(f"localhost:{server.port}", "--cafile", str(staples.root), "--json")
        assert proc.returncode == 0, proc.stderr
        staple = json.loads(proc.stdout)["verification"]["ocsp_staple"]
        assert staple.startswith("none") and "revocation not checked" in staple
    finally:
        server.close()


def test_revoked_staple_from_tlskit_serve_is_refused(
    staples: Staples, tlskit_serve: list[TlskitServe], tmp_path: Path
) -> None:
    _, cert, key = staples.revoked
    server = TlskitServe(cert, key, staples.revoked_response, tmp_path / "state")
    tlskit_serve.append(server)
    for version in ("--tls1.3", "--tls1.2"):
        line = one_error_line(tlskit(f"localhost:{server.port}", "--cafile",
                                     str(staples.root), version))
        assert "certificate revoked, refusing the connection" in line
        assert "keyCompromise" in line
    proc = tlskit(f"localhost:{server.port}", "--cafile", str(staples.root), "--insecure",
                  "--json")
    assert proc.returncode == 0, proc.stderr
    verification = json.loads(proc.stdout)["verification"]
    assert verification["ok"] is False and verification["code"] == "revoked"
