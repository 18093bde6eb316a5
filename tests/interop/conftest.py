"""Fixtures for the interop tests: one test PKI per session, peer processes that are
always killed at teardown, and openssl/gnutls servers on OS-chosen ports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tlskit import CertifiedKey, ClientConfig, ServerConfig
from tlskit.ca import Issued, LocalCA

from ..support.peers import PeerProcess, peers_fixture
from ..support.peers import Peers as BasePeers
from ..support.pki import CertFiles
from .helpers import CERT_TYPES


class PKI:
    """root -> intermediate -> one localhost/127.0.0.1 leaf per key type, on disk too."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = LocalCA.create(directory=directory / "ca")
        self.root: x509.Certificate = self.ca.root
        self.root_pem = directory / "ca" / "root.pem"
        self.issued: dict[str, Issued] = {}
        self.files: dict[str, CertFiles] = {}
        for kind in CERT_TYPES:
            issued = self.ca.issue_server(["localhost", "127.0.0.1"], key_type=kind)
            self.issued[kind] = issued
            self.files[kind] = CertFiles.write(issued, directory / kind)
        self.clients: dict[str, tuple[Issued, CertFiles]] = {}

    def client_cert(self, name: str, kind: str = "ec256") -> tuple[Issued, CertFiles]:
        """A clientAuth leaf for ``name`` (issued once per session)."""
        if name not in self.clients:
            issued = self.ca.issue_client(name, key_type=kind)
            files = CertFiles.write(issued, self.directory / f"client-{name}")
            self.clients[name] = (issued, files)
        return self.clients[name]

    def server_config(self, kind: str = "ec256", **kw: Any) -> ServerConfig:
        issued = self.issued[kind]
        return ServerConfig(certificate_chain=issued.chain, private_key=issued.private_key, **kw)

    def server_config_requiring_a_client(self, kind: str = "ec256", **kw: Any) -> ServerConfig:
        """A server config that requires a client certificate from the test root."""
        return self.server_config(kind, client_auth="required", client_trust_anchors=[self.root],
                                  **kw)

    def client_config(self, identity: Issued | None = None, **kw: Any) -> ClientConfig:
        """Trusting the test root; presenting ``identity`` (a `client_cert` leaf) if given."""
        if identity is not None:
            kw["certificate"] = CertifiedKey(identity.chain, identity.private_key)
        return ClientConfig(trust_anchors=[self.root], **kw)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return PKI(tmp_path_factory.mktemp("interop-pki"))


class Peers(BasePeers):
    """The interop peers, with the session PKI's files as their certificates."""

    def openssl_server(self, pki: PKI, kind: str, *args: str, cwd: Path | None = None,
                       version: str = "-tls1_3") -> tuple[PeerProcess, int]:
        """`openssl s_server -tls1_3` (or ``version``) on an OS-chosen port with ``kind``'s
        chain."""
        files = pki.files[kind]
        return self.openssl_s_server(version, "-cert", files.leaf, "-cert_chain",
                                     files.chain, "-key", files.key, *args, cwd=cwd)

    def openssl_client(self, pki: PKI, port: int, *args: str,
                       version: str = "-tls1_3") -> PeerProcess:
        """`openssl s_client -tls1_3` (or ``version``) to 127.0.0.1:port, verifying
        "localhost" against the test root and aborting on any verification error."""
        return self.start(["openssl", "s_client", version, "-connect", f"127.0.0.1:{port}",
                           "-servername", "localhost", "-verify_hostname", "localhost",
                           "-CAfile", pki.root_pem, "-verify_return_error", *args])

    def gnutls_server(self, pki: PKI, kind: str, *args: str) -> tuple[PeerProcess, int]:
        files = pki.files[kind]
        return self.gnutls_serv("--x509certfile", files.fullchain, "--x509keyfile", files.key,
                                *args)


peers = peers_fixture(Peers)


@pytest.fixture(scope="session")
def stranger_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root of an unrelated CA, as a PEM file."""
    path = tmp_path_factory.mktemp("stranger") / "root.pem"
    path.write_bytes(LocalCA.create(directory=None).export_root_pem())
    return path


def openssl_field(output: str, pattern: str) -> str:
    """One field of openssl's human-readable output, e.g. r"Cipher is (\\S+)"."""
    found = re.search(pattern, output)
    assert found, f"{pattern!r} not in openssl output:\n{output[-3000:]}"
    return found.group(1)
