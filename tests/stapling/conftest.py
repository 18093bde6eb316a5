"""Fixtures for the OCSP stapling tests (issue 3).

One `tlskit.ca.LocalCA` hierarchy per session, written to disk so that openssl can read it,
with a staple of every kind the tests need, and real peers on 127.0.0.1: ``openssl s_server
-status_file``, ``openssl s_client -status`` and an ``openssl ocsp`` responder. Every peer runs
in its own session and its whole process group is killed at teardown (`PeerProcess.stop`).
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlskit import ServerConfig
from tlskit.ca import Issued, LocalCA
from tlskit.x509 import TrustStore, Verifier
from tlskit.x509.revocation import build_ocsp_request

from ..support.peers import PeerProcess, peers_fixture, require_binary
from ..support.peers import Peers as BasePeers
from ..support.ports import refused_port, reserve_port
from ..support.pump import Pump, ServerThread, tlskit_server
from ..x509.revocation_pki import IndexEntry, wait_for_port

UTC = dt.UTC
# tlskit's version names -> the openssl flag that pins the same version.
OPENSSL_VERSION_FLAG = {"TLSv1.3": "-tls1_3", "TLSv1.2": "-tls1_2"}
VERSIONS = ("TLSv1.3", "TLSv1.2")


def now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def der(obj: Any) -> bytes:
    return bytes(obj.public_bytes(serialization.Encoding.DER))


def this_update(der_response: bytes) -> dt.datetime:
    return ocsp.load_der_ocsp_response(der_response).this_update_utc


def cert_status(der_response: bytes) -> str:
    return ocsp.load_der_ocsp_response(der_response).certificate_status.name.lower()


# --------------------------------------------------------------------------- the PKI


def localhost_leaf_with(ca: LocalCA, extension: x509.ExtensionType,
                        critical: bool = False) -> Issued:
    """A one-day localhost server leaf under ``ca``'s intermediate carrying ``extension``
    (e.g. a TLS Feature no `LocalCA` option makes: critical, or not parseable)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = now() - dt.timedelta(hours=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.intermediate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(extension, critical=critical)
        .sign(ca.intermediate_key, hashes.SHA256()))
    return Issued(certificate=cert, private_key=key, chain=[cert, ca.intermediate])


@dataclass
class Leaf:
    """A server leaf issued by the LocalCA intermediate, and its files for openssl."""

    issued: Issued
    cert_pem: Path   # the leaf alone (s_server -cert)
    chain_pem: Path  # the intermediate (s_server -cert_chain)
    key_pem: Path

    @property
    def cert(self) -> x509.Certificate:
        return self.issued.certificate


class StaplePKI:
    """root -> intermediate (a `LocalCA`) -> localhost leaves, plus:

    * a delegated OCSP responder certificate (id-kp-OCSPSigning) for ``openssl ocsp``;
    * an ``openssl ca``-style index of the leaves, for ``openssl ocsp -index``;
    * a rogue `LocalCA` whose keys must never be able to vouch for our leaves;
    * a CRL from the root saying the intermediate is not revoked, so that a hard-fail
      verifier has an answer for the intermediate and the leaf's staple alone decides;
    * staples of every kind, as DER bytes and as files.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = LocalCA.create(directory=directory / "ca")
        self.root = self.ca.root
        self.intermediate = self.ca.intermediate
        self.root_pem = directory / "ca" / "root.pem"
        self.intermediate_pem = directory / "ca" / "intermediate.pem"
        self.rogue = LocalCA.create(name="rogue CA")
        # The openssl responder's port and a port nobody listens on, fixed before issuing
        # the leaves that name them in their AIA extension.
        self.responder_port = reserve_port()
        self.dead_port = refused_port()
        self.leaves: dict[str, Leaf] = {}
        self.revoked_at: dict[str, dt.datetime] = {}
        for name, ocsp_url in (("good", None), ("other", None), ("revoked", None),
                               ("aia", self.responder_url), ("aia-revoked", self.responder_url),
                               ("aia-dead", f"http://127.0.0.1:{self.dead_port}")):
            issued = self.ca.issue_server(["localhost", "127.0.0.1"], ocsp_url=ocsp_url)
            self.leaves[name] = self._write(name, issued)
        for name in ("revoked", "aia-revoked"):
            revocation = self.ca.revoke(self.leaves[name].cert, "keyCompromise")
            self.revoked_at[name] = revocation.revoked_at
        self.responder_cert, self.responder_key = self._delegated_responder()
        self.index_path = self._write_index()
        self.root_crl = self._root_crl()
        self.staples = self._make_staples()
        self.staple_dir = directory / "staples"
        self.staple_dir.mkdir()
        for kind, data in self.staples.items():
            (self.staple_dir / f"{kind}.der").write_bytes(data)

    @property
    def responder_url(self) -> str:
        return f"http://127.0.0.1:{self.responder_port}"

    def staple_file(self, kind: str) -> Path:
        return self.staple_dir / f"{kind}.der"

    def _write(self, name: str, issued: Issued) -> Leaf:
        out = self.directory / name
        out.mkdir()
        cert_pem, chain_pem, key_pem = out / "leaf.pem", out / "chain.pem", out / "key.pem"
        issued.write(out, cert_path=out / "fullchain.pem", key_path=key_pem)
        cert_pem.write_bytes(pem(issued.certificate))
        chain_pem.write_bytes(pem(self.intermediate))
        return Leaf(issued, cert_pem, chain_pem, key_pem)

    def local_ca_staple(self, leaf: x509.Certificate) -> bytes:
        """What the LocalCA responder answers for ``leaf`` (nonce-less, as a stapler asks)."""
        return self.ca.ocsp_response(build_ocsp_request(leaf, self.intermediate, None))

    def openssl_staple(self, leaf: Leaf, out: Path) -> bytes:
        """``openssl ocsp -index ... -respout``: the delegated responder signs in-process."""
        subprocess.run(
            [require_binary("openssl"), "ocsp", "-index", str(self.index_path),
             "-rsigner", str(self.directory / "responder.pem"),
             "-rkey", str(self.directory / "responder-key.pem"),
             "-CA", str(self.intermediate_pem), "-issuer", str(self.intermediate_pem),
             "-cert", str(leaf.cert_pem), "-no_nonce", "-ndays", "1", "-respout", str(out)],
            check=True, capture_output=True, timeout=30)
        return out.read_bytes()

    def _delegated_responder(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        start = now() - dt.timedelta(hours=1)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                        "stapling test OCSP responder")]))
            .issuer_name(self.intermediate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]),
                           critical=False)
            .sign(self.ca.intermediate_key, hashes.SHA256())
        )
        (self.directory / "responder.pem").write_bytes(pem(cert))
        (self.directory / "responder-key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        return cert, key

    def _write_index(self) -> Path:
        """index.txt in the format of ``openssl ca``, which ``openssl ocsp -index`` reads."""
        index = self.directory / "index"
        index.mkdir()
        lines = [IndexEntry(leaf.cert, self.revoked_at.get(name),
                            "keyCompromise" if name in self.revoked_at else None).line()
                 for name, leaf in self.leaves.items()]
        (index / "index.txt").write_text("".join(line + "\n" for line in lines))
        (index / "index.txt.attr").write_text("unique_subject = no\n")
        return index / "index.txt"

    def _root_crl(self) -> x509.CertificateRevocationList:
        start = now() - dt.timedelta(minutes=1)
        return (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.root.subject)
            .last_update(start)
            .next_update(start + dt.timedelta(days=1))
            .add_extension(x509.CRLNumber(1), critical=False)  # RFC 5280 5.2.3
            .sign(self.ca.root_key, hashes.SHA256())
        )

    def crafted(self, leaf: x509.Certificate, *, status: ocsp.OCSPCertStatus,
                 signer: x509.Certificate, key: Any, start: dt.datetime,
                 end: dt.datetime) -> bytes:
        """A response about ``leaf`` (CertID under our intermediate) with a chosen status,
        window and signer; ``signer`` is named as responder and included in the response."""
        revoked = status == ocsp.OCSPCertStatus.REVOKED
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response(cert=leaf, issuer=self.intermediate, algorithm=hashes.SHA1(),
                          cert_status=status, this_update=start, next_update=end,
                          revocation_time=start if revoked else None,
                          revocation_reason=x509.ReasonFlags.key_compromise if revoked else None)
            .responder_id(ocsp.OCSPResponderEncoding.HASH, signer)
            .certificates([signer])
        )
        return der(builder.sign(key, hashes.SHA256()))

    def _make_staples(self) -> dict[str, bytes]:
        good, revoked = self.leaves["good"], self.leaves["revoked"]
        t0 = now() - dt.timedelta(minutes=1)
        rogue = (self.rogue.intermediate, self.rogue.intermediate_key)
        staples = {
            "good": self.local_ca_staple(good.cert),
            "revoked": self.local_ca_staple(revoked.cert),
            "revoked-openssl": self.openssl_staple(revoked, self.directory / "revoked-o.der"),
            # About another certificate: authentic, fresh, "good", but for "other".
            "other-cert": self.local_ca_staple(self.leaves["other"].cert),
            # About our leaf, but signed by a CA that has no say over it.
            "foreign-signer": self.crafted(good.cert, status=ocsp.OCSPCertStatus.GOOD,
                                            signer=rogue[0], key=rogue[1], start=t0,
                                            end=t0 + dt.timedelta(days=1)),
            "foreign-revoked": self.crafted(good.cert, status=ocsp.OCSPCertStatus.REVOKED,
                                             signer=rogue[0], key=rogue[1], start=t0,
                                             end=t0 + dt.timedelta(days=1)),
            # Authentic and about our leaf, but its window closed two days ago.
            "stale": self.crafted(good.cert, status=ocsp.OCSPCertStatus.GOOD,
                                   signer=self.intermediate, key=self.ca.intermediate_key,
                                   start=t0 - dt.timedelta(days=3),
                                   end=t0 - dt.timedelta(days=2)),
        }
        staples["bad-signature"] = _corrupt_signature(staples["good"])
        return staples

    def verifier(self, policy: str) -> Verifier:
        """A verifier with the given revocation policy; the root's CRL answers for the
        intermediate, so under hard-fail only the leaf's revocation status is in question."""
        return Verifier(TrustStore([self.root]), revocation=policy,  # type: ignore[arg-type]
                        crls=[self.root_crl])

    def server_config(self, leaf: str = "good", **kw: Any) -> ServerConfig:
        issued = self.leaves[leaf].issued
        return ServerConfig(certificate_chain=issued.chain, private_key=issued.private_key,
                            **kw)


def _corrupt_signature(response_der: bytes) -> bytes:
    """The same response with one byte of the ECDSA signature's r changed: still well-formed
    DER naming the real issuer as signer, but the signature is not the issuer's."""
    signature = ocsp.load_der_ocsp_response(response_der).signature
    at = response_der.rindex(signature) + 8  # SEQUENCE, len, INTEGER, len, then r's bytes
    forged = bytearray(response_der)
    forged[at] ^= 0x01
    return bytes(forged)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> StaplePKI:
    return StaplePKI(tmp_path_factory.mktemp("stapling-pki"))


# --------------------------------------------------------------------------- peers


class Peers(BasePeers):
    """The stapling peers: openssl pinned to a version, tlskit server threads."""

    def start(self, argv: Sequence[Any], **kw: Any) -> PeerProcess:
        kw.setdefault("unbuffered", True)
        return super().start(argv, **kw)

    def s_server(self, leaf: Leaf, version: str, staple: Path | None = None,
                 ) -> tuple[PeerProcess, int]:
        """``openssl s_server`` on 127.0.0.1:0 pinned to ``version``; with ``staple`` it
        staples that file (-status_file) and logs each status callback on stderr."""
        argv: list[str | Path] = [
            OPENSSL_VERSION_FLAG[version], "-cert", leaf.cert_pem, "-cert_chain",
            leaf.chain_pem, "-key", leaf.key_pem]
        if staple is not None:
            argv += ["-status_file", staple, "-status_verbose"]
        return self.openssl_s_server(*argv)

    def s_client(self, pki: StaplePKI, port: int, version: str, *args: str) -> PeerProcess:
        """``openssl s_client -status`` verifying "localhost" against the test root."""
        return self.start(["openssl", "s_client", OPENSSL_VERSION_FLAG[version], "-status",
                           "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                           "-verify_hostname", "localhost", "-CAfile", pki.root_pem,
                           "-verify_return_error", *args])

    def server(self, config: ServerConfig, body: Callable[[Pump], Any]) -> ServerThread:
        return self.thread(tlskit_server(config, body))


peers = peers_fixture(Peers)


@dataclass
class OpensslResponder:
    """``openssl ocsp`` answering from the PKI's index, signing with the delegated responder.
    It logs "Received request, 1st line: ..." on stderr for every request it reads."""

    process: PeerProcess
    url: str

    def post_count(self) -> int:
        return len(re.findall(r"Received request, 1st line: POST ", self.process.stderr))

    def wait_post_count(self, expected: int) -> None:
        """The log line is written before the answer, but read by another thread: wait."""
        self.process.wait_until(lambda: self.post_count() == expected,
                                f"{expected} OCSP POST(s) logged by openssl ocsp")
        assert self.post_count() == expected


@pytest.fixture(scope="module")
def openssl_responder(pki: StaplePKI) -> Iterator[OpensslResponder]:
    """Started on the port the AIA leaves name (found by binding 0, then released). Ready
    once it answers a real HTTP request: openssl ocsp 3.0 wedges on a bare connect, and
    without -ignore_err it exits on the probe's malformed request."""
    peers = Peers()
    try:
        proc = peers.start([
            "openssl", "ocsp", "-index", pki.index_path, "-port", str(pki.responder_port),
            "-CA", pki.intermediate_pem, "-rsigner", pki.directory / "responder.pem",
            "-rkey", pki.directory / "responder-key.pem", "-ndays", "1", "-ignore_err"])
        wait_for_port(pki.responder_port, proc.proc, None)
        yield OpensslResponder(proc, pki.responder_url)
    finally:
        peers.close()


class Clock:
    """An injected UTC clock: real time plus an offset the test moves forward."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.fixed = start
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        base = self.fixed if self.fixed is not None else dt.datetime.now(UTC)
        return base + self.offset

    def advance(self, **kw: float) -> None:
        self.offset += dt.timedelta(**kw)

    def timestamp(self) -> float:
        """For `ClientConfig.clock`, which wants time.time()-style floats."""
        return self().timestamp()
