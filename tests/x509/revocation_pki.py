"""A throwaway PKI plus real revocation servers on 127.0.0.1 for the revocation tests.

Nothing here is mocked: OCSP answers come from ``openssl ocsp`` processes reading an
``openssl ca`` index file written by `CaDatabase`, CRLs come from ``openssl ca -gencrl`` (or from
``cryptography`` when a test needs a CRL openssl will not produce), and the HTTP side is a real
``http.server`` listening on a port the OS picked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlskit.x509.errors import CertificateVerificationError, Reason, describe

from ..support.ports import reserve_port

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
UTC = dt.UTC


def now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def new_key(kind: str = "ec") -> PrivateKey:
    """EC keys are fast to make; one RSA key (the intermediate) exercises the RSA paths,
    Ed25519 and Ed448 ones the EdDSA signatures (RFC 8410)."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "ed448":
        return ed448.Ed448PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class Issued:
    """A certificate, its key, and where both were written for openssl."""

    cert: x509.Certificate
    key: PrivateKey
    cert_path: Path
    key_path: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlskit revocation tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass
class CertSpec:
    """What to put in a test certificate; defaults make an end-entity TLS server cert."""

    common_name: str
    ca: bool = False
    ocsp_urls: tuple[str, ...] = ()
    crl_urls: tuple[str, ...] = ()
    eku: tuple[x509.ObjectIdentifier, ...] | None = (ExtendedKeyUsageOID.SERVER_AUTH,)
    key_usage: x509.KeyUsage | None = None
    subject: x509.Name | None = None
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    serial: int | None = None


def _ku(*, sign: bool = True, cert_sign: bool = False, crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


CA_KEY_USAGE = _ku(sign=True, cert_sign=True, crl_sign=True)
CA_KEY_USAGE_NO_CRL = _ku(sign=True, cert_sign=True, crl_sign=False)
LEAF_KEY_USAGE = _ku()


def build_cert(spec: CertSpec, key: PrivateKey, issuer: Issued | None) -> x509.Certificate:
    """Sign ``spec`` with ``issuer`` (or self-sign when ``issuer`` is None)."""
    subject = spec.subject or _name(spec.common_name)
    start = spec.not_before or now() - dt.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(spec.serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(spec.not_after or now() + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=spec.ca, path_length=None), critical=True)
        .add_extension(
            spec.key_usage or (CA_KEY_USAGE if spec.ca else LEAF_KEY_USAGE), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    signer_key = issuer.key if issuer else key
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False
        )
    if spec.eku and not spec.ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(spec.eku)), critical=False)
    builder = _add_revocation_pointers(builder, spec)
    return builder.sign(signer_key, hashes.SHA256())


def _add_revocation_pointers(
    builder: x509.CertificateBuilder, spec: CertSpec
) -> x509.CertificateBuilder:
    if spec.ocsp_urls:
        access = [
            x509.AccessDescription(
                x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url)
            )
            for url in spec.ocsp_urls
        ]
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), False)
    if spec.crl_urls:
        points = [
            x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)
            for url in spec.crl_urls
        ]
        builder = builder.add_extension(x509.CRLDistributionPoints(points), False)
    return builder


def save(directory: Path, stem: str, cert: x509.Certificate, key: PrivateKey) -> Issued:
    cert_path = directory / f"{stem}.pem"
    key_path = directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Issued(cert, key, cert_path, key_path)


def issue(directory: Path, stem: str, spec: CertSpec, issuer: Issued | None, kind: str = "ec"):
    """Make a key, a certificate for it, and write both: the common case in one call."""
    key = new_key(kind)
    return save(directory, stem, build_cert(spec, key, issuer), key)


# --------------------------------------------------------------------------- openssl ca files


def _openssl_time(when: dt.datetime) -> str:
    """The index.txt time format: UTCTime before 2050, GeneralizedTime from 2050 on."""
    when = when.astimezone(UTC)
    return when.strftime("%y%m%d%H%M%SZ" if when.year < 2050 else "%Y%m%d%H%M%SZ")


@dataclass
class IndexEntry:
    cert: x509.Certificate
    revoked_at: dt.datetime | None = None
    reason: str | None = None  # openssl spelling, e.g. "keyCompromise"

    def line(self) -> str:
        status = "R" if self.revoked_at else "V"
        revoked = ""
        if self.revoked_at:
            revoked = _openssl_time(self.revoked_at)
            if self.reason:
                revoked += f",{self.reason}"
        serial = f"{self.cert.serial_number:X}"
        if len(serial) % 2:
            serial = "0" + serial
        subject = "/" + "/".join(
            f"{attr.rfc4514_attribute_name}={attr.value}" for attr in self.cert.subject
        )
        expiry = _openssl_time(self.cert.not_valid_after_utc)
        return "\t".join([status, expiry, revoked, serial, "unknown", subject])


_CA_CONFIG = """\
[ ca ]
default_ca = CA_default

[ CA_default ]
dir = {dir}
database = $dir/index.txt
serial = $dir/serial
crlnumber = $dir/crlnumber
new_certs_dir = $dir
certificate = {cert}
private_key = {key}
default_md = sha256
default_crl_days = 1
unique_subject = no
crl_extensions = crl_ext

[ crl_ext ]
authorityKeyIdentifier = keyid:always
"""


class CaDatabase:
    """The files ``openssl ca`` and ``openssl ocsp -index`` read, for one issuing CA."""

    def __init__(self, directory: Path, ca: Issued) -> None:
        self.directory = directory
        self.ca = ca
        self.entries: list[IndexEntry] = []
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def index_path(self) -> Path:
        return self.directory / "index.txt"

    @property
    def config_path(self) -> Path:
        return self.directory / "openssl.cnf"

    def add(
        self,
        cert: x509.Certificate,
        revoked_at: dt.datetime | None = None,
        reason: str | None = None,
    ) -> None:
        self.entries.append(IndexEntry(cert, revoked_at, reason))

    def write(self) -> None:
        self.index_path.write_text("".join(entry.line() + "\n" for entry in self.entries))
        (self.directory / "index.txt.attr").write_text("unique_subject = no\n")
        (self.directory / "serial").write_text("1000\n")
        (self.directory / "crlnumber").write_text("01\n")
        self.config_path.write_text(
            _CA_CONFIG.format(dir=self.directory, cert=self.ca.cert_path, key=self.ca.key_path)
        )

    def gencrl(self, out: Path, *, hours: int | None = None) -> x509.CertificateRevocationList:
        """Run ``openssl ca -gencrl``; the PEM lands at ``out`` and is returned parsed."""
        command = [
            "openssl",
            "ca",
            "-gencrl",
            "-batch",
            "-config",
            str(self.config_path),
            "-out",
            str(out),
        ]
        if hours is not None:
            command += ["-crlhours", str(hours)]
        subprocess.run(command, check=True, capture_output=True, timeout=30)
        return x509.load_pem_x509_crl(out.read_bytes())


def build_crl(
    issuer_name: x509.Name,
    signing_key: PrivateKey,
    revoked: Iterable[tuple[int, dt.datetime, x509.ReasonFlags | None]] = (),
    *,
    this_update: dt.datetime | None = None,
    next_update: dt.datetime | None = None,
    extensions: Iterable[tuple[x509.ExtensionType, bool]] = (),
    crl_number: int | None = 1,
) -> x509.CertificateRevocationList:
    """A CRL built with cryptography for the edge cases ``openssl ca`` will not produce.
    It carries a non-critical cRLNumber (RFC 5280 5.2.3) unless ``crl_number`` is None."""
    start = this_update or now() - dt.timedelta(minutes=1)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_name)
        .last_update(start)
        .next_update(next_update or start + dt.timedelta(days=1))
    )
    for serial, when, reason in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    if crl_number is not None:
        builder = builder.add_extension(x509.CRLNumber(crl_number), critical=False)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signing_key, hashes.SHA256())


def without_next_update(
    crl: x509.CertificateRevocationList, signing_key: PrivateKey
) -> x509.CertificateRevocationList:
    """``crl`` with its nextUpdate taken out of the TBSCertList and signed again with
    ``signing_key`` (which signed it, with SHA-256): cryptography's builder requires a
    nextUpdate, and ``openssl ca -gencrl`` always writes one."""
    from .pki import _der, der_body, der_elements

    outer = der_elements(der_body(crl.public_bytes(serialization.Encoding.DER)))
    items = der_elements(der_body(outer[0]))
    # version, signature, issuer, thisUpdate, nextUpdate, [revokedCertificates], [0] extensions
    assert items[4][0] in (0x17, 0x18), "the CRL must have a nextUpdate to remove"
    tbs = _der(0x30, b"".join(items[:4] + items[5:]))
    signature = _sign(signing_key, tbs)
    der = _der(0x30, tbs + outer[1] + _der(0x03, b"\x00" + signature))
    stripped = x509.load_der_x509_crl(der)
    assert stripped.next_update_utc is None
    return stripped


def _sign(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def build_ocsp_response(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    signer: Issued,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    this_update: dt.datetime | None = None,
    next_update: dt.datetime | None = None,
    revoked_at: dt.datetime | None = None,
    reason: x509.ReasonFlags | None = None,
    nonce: bytes | None = None,
    include_signer: bool = True,
) -> bytes:
    """A DER OCSP response made with cryptography, for staples with chosen timestamps."""
    start = this_update or now() - dt.timedelta(minutes=1)
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=cert,
            issuer=issuer,
            algorithm=hashes.SHA1(),
            cert_status=status,
            this_update=start,
            next_update=next_update,
            revocation_time=revoked_at,
            revocation_reason=reason,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, signer.cert)
    )
    if include_signer and signer.cert != issuer:
        builder = builder.certificates([signer.cert])
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    eddsa = isinstance(signer.key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
    response = builder.sign(signer.key, None if eddsa else hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)


# --------------------------------------------------------------------------- sockets, servers


def wait_for_port(
    port: int, process: subprocess.Popen[bytes] | None, log: Path | None, timeout: float = 15.0
) -> None:
    """Poll-connect until something answers HTTP on ``port``; fail fast if ``process`` died.

    The probe sends a complete request and reads the answer: ``openssl ocsp`` 3.0 wedges for
    good when a client connects and closes without sending anything, so a bare connect()
    probe would hang every later test.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            detail = log.read_text(errors="replace") if log else ""
            raise RuntimeError(f"responder exited with {process.returncode}: {detail}")
        if _answers_http(port):
            return
        time.sleep(0.02)  # poll interval between connect attempts, not a readiness guess
    raise RuntimeError(f"nothing answering on 127.0.0.1:{port} after {timeout} s")


def _answers_http(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while sock.recv(4096):
                pass
        return True
    except OSError:
        return False


@dataclass
class OcspResponder:
    """One ``openssl ocsp`` responder process answering from an index file."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def start_ocsp_responder(
    database: CaDatabase,
    port: int,
    signer: Issued,
    *,
    extra: Iterable[str] = ("-ndays", "1"),
) -> OcspResponder:
    """Start ``openssl ocsp`` on ``port`` and return once it accepts connections."""
    log = database.directory / f"ocsp-{port}.log"
    command = [
        "openssl",
        "ocsp",
        "-index",
        str(database.index_path),
        "-port",
        str(port),
        "-CA",
        str(database.ca.cert_path),
        "-rsigner",
        str(signer.cert_path),
        "-rkey",
        str(signer.key_path),
        "-ignore_err",
        *extra,
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    responder = OcspResponder(port, process, log)
    try:
        wait_for_port(port, process, log)
    except BaseException:
        responder.stop()
        raise
    return responder


# A route answers (method, path, body) with (status, content type, body).
Handler = Callable[[str, bytes], tuple[int, str, bytes]]


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/octet-stream"
    handler: Handler | None = None
    location: str | None = None  # sent as a Location header (redirects)

    def answer(self, method: str, request_body: bytes) -> tuple[int, str, bytes]:
        if self.handler is not None:
            return self.handler(method, request_body)
        return self.status, self.content_type, self.body


@dataclass
class FixtureHttpServer:
    """A real HTTP server on 127.0.0.1:<os port>; tests edit ``routes`` and read ``hits``."""

    routes: dict[str, Route] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> FixtureHttpServer:
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request_body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                owner.hits[path] += 1
                route = owner.routes.get(path)
                status, ctype, body = (
                    route.answer(self.command, request_body)
                    if route
                    else (404, "text/plain", b"no such route\n")
                )
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if route is not None and route.location is not None:
                    self.send_header("Location", route.location)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def forward_to(url: str) -> Handler:
    """A route that relays an OCSP POST to a real responder, so the hop can be counted."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def relay(method: str, body: bytes) -> tuple[int, str, bytes]:
        request = urllib.request.Request(
            url,
            data=body,
            method=method,
            headers={"Content-Type": "application/ocsp-request"},
        )
        with opener.open(request, timeout=10) as answer:
            return answer.status, "application/ocsp-response", answer.read()

    return relay


# --------------------------------------------------------------------------- the lab


@dataclass
class Lab:
    """Root -> intermediate -> leaves, responders and an HTTP server, all on 127.0.0.1."""

    directory: Path
    root: Issued
    intermediate: Issued
    database: CaDatabase
    http: FixtureHttpServer
    signers: dict[str, Issued] = field(default_factory=dict)
    leaves: dict[str, Issued] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    responders: dict[str, OcspResponder] = field(default_factory=dict)

    def port(self, name: str) -> int:
        """A port reserved by name; responders are started on it later by `start_responder`."""
        if name not in self.ports:
            self.ports[name] = reserve_port()
        return self.ports[name]

    def ocsp_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def leaf(
        self,
        name: str,
        *,
        ocsp: str | tuple[str, ...] | None = None,
        crl: str | tuple[str, ...] | None = None,
        revoked_at: dt.datetime | None = None,
        reason: str | None = None,
        in_index: bool = True,
        issuer: Issued | None = None,
    ) -> Issued:
        """Issue a leaf (under the intermediate by default) and record it in the CA database."""
        spec = CertSpec(f"{name}.test", ocsp_urls=_urls(ocsp), crl_urls=_urls(crl))
        issued = issue(self.directory, f"leaf-{name}", spec, issuer or self.intermediate)
        if in_index:
            self.database.add(issued.cert, revoked_at, reason)
        self.leaves[name] = issued
        return issued

    def start_responder(self, name: str, signer: Issued, *extra: str) -> OcspResponder:
        args = tuple(extra) or ("-ndays", "1")
        responder = start_ocsp_responder(self.database, self.port(name), signer, extra=args)
        self.responders[name] = responder
        return responder

    def close(self) -> None:
        for responder in self.responders.values():
            with contextlib.suppress(Exception):
                responder.stop()
        self.http.stop()


def _urls(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def make_lab(directory: Path) -> Lab:
    """The CA hierarchy and an HTTP server; callers add leaves, then write and start."""
    directory.mkdir(parents=True, exist_ok=True)
    root = issue(directory, "root", CertSpec("Test Root CA", ca=True), None)
    intermediate = issue(
        directory, "intermediate", CertSpec("Test Intermediate CA", ca=True), root, kind="rsa"
    )
    lab = Lab(
        directory=directory,
        root=root,
        intermediate=intermediate,
        database=CaDatabase(directory / "ca", intermediate),
        http=FixtureHttpServer().start(),
    )
    lab.signers["delegated"] = issue(
        directory,
        "ocsp-delegated",
        CertSpec("Test OCSP Responder", eku=(ExtendedKeyUsageOID.OCSP_SIGNING,)),
        intermediate,
    )
    return lab


@contextlib.contextmanager
def open_lab(directory: Path) -> Iterator[Lab]:
    """`make_lab`, closed again (responders and HTTP server stopped) however the block ends."""
    lab = make_lab(directory)
    try:
        yield lab
    finally:
        lab.close()


def add_status_leaves(lab: Lab, revoked_at: dt.datetime) -> None:
    """The three answers the main responder gives: good, revoked (key compromise), unknown."""
    main = lab.ocsp_url("main")
    lab.leaf("good", ocsp=main)
    lab.leaf("revoked", ocsp=main, revoked_at=revoked_at, reason="keyCompromise")
    lab.leaf("unknown", ocsp=main, in_index=False)


def add_relay_leaf(lab: Lab) -> Issued:
    """A leaf whose OCSP URL is the lab's HTTP server, which forwards to the main responder
    and counts the requests (``lab.http.hits["/relay"]``)."""
    lab.http.routes["/relay"] = Route(handler=forward_to(lab.ocsp_url("main")))
    return lab.leaf("relay", ocsp=lab.http.url("/relay"))


def add_foreign_signer(lab: Lab) -> Issued:
    """An OCSP-signing certificate from an unrelated CA: right EKU, wrong issuer."""
    foreign_ca = issue(lab.directory, "foreign-ca", CertSpec("Foreign CA", ca=True), None)
    lab.signers["foreign"] = issue(
        lab.directory,
        "foreign-responder",
        CertSpec("Foreign OCSP Responder", eku=(ExtendedKeyUsageOID.OCSP_SIGNING,)),
        foreign_ca,
    )
    return lab.signers["foreign"]


def assert_rejects(
    check: Callable[[], object], cert: x509.Certificate, reason: Reason, *fragments: str
) -> str:
    """`check` must fail for `reason`, blaming `cert` and naming it and each fragment."""
    with pytest.raises(CertificateVerificationError) as caught:
        check()
    message = str(caught.value)
    assert caught.value.reason is reason
    assert caught.value.certificate == cert
    assert describe(cert) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)
