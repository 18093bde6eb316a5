"""A small certificate authority for local development and for tests.

`LocalCA` makes a root and an intermediate, issues server and client leaves from the
intermediate, revokes them, and answers for them with a CRL and an OCSP responder. It
exists so that tests and local servers can use a real chain (root -> intermediate -> leaf)
instead of a lone self-signed certificate, which exercises none of the path-building,
revocation or OCSP code.

On disk a CA is one directory::

    root.pem  root-key.pem  intermediate.pem  intermediate-key.pem  index.json

``index.json`` records every certificate the intermediate issued and every revocation, so
the CRL and the OCSP responder can tell "good" from "unknown", and so a revocation made by
one process (``tlskit ca revoke``) is seen by another (a running ``tlskit ca ocsp``).

Revocation for the whole chain: a CA created with ``url=`` (``tlskit ca init`` uses
``http://127.0.0.1:8888`` unless told otherwise) names that URL in its intermediate and its
leaves. `serve_ocsp` (``tlskit ca ocsp``) answers there for both: the intermediate signs the
status of the leaves, the root the status of the intermediate, any number of certificates
per request; ``<url>/crl/intermediate.crl`` and ``<url>/crl/root.crl`` serve the two CRLs.
So hard-fail checking (``tlskit verify --ocsp``) passes on every certificate of the chain.

For test suites (in the spirit of trustme)::

    ca = LocalCA.create()                                   # in memory, nothing on disk
    server = ca.server_config()                             # a localhost leaf + chain
    client = ca.client_config(alpn_protocols=["h2"])        # trusts the root only
    expired = ca.issue_server(["localhost"], not_before=past, not_after=yesterday)
    server = ca.server_config(expired)                      # ...for the failure paths
    mtls = ca.server_config(client_auth="required")         # trusts this CA's clients
    client = ca.client_config(ca.issue_client("alice"))     # presents alice's cert
    ctx = ca.client_ssl_context()                           # stdlib ssl, hostname checks on
    ctx = ca.server_ssl_context(leaf, require_client_cert=True)
    ca.configure_trust(any_ssl_context); leaf.configure_cert(any_ssl_context)

The ``context_class`` parameter of the two context helpers makes another kind of
`ssl.SSLContext`: ``ca.client_ssl_context(context_class=tlskit.compat.SSLContext)`` gives
tlskit's drop-in context (where that module is installed), set up the same way.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import secrets
import socket
import socketserver
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from . import _ocsp_der
from .x509.names import valid_dns_san

if TYPE_CHECKING:
    from .config import ClientConfig, ServerConfig

try:  # POSIX advisory locks keep two `tlskit ca` processes from losing each other's writes
    import fcntl
except ImportError:  # pragma: no cover - Windows: in-process locking only
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CAError",
    "Clock",
    "Issued",
    "KeyType",
    "LocalCA",
    "OCSPResponder",
    "PrivateKey",
    "Revocation",
    "default_directory",
    "format_serial",
    "parse_reason",
]

Clock = Callable[[], dt.datetime]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
Kind = Literal["server", "client"]
Status = Literal["good", "revoked", "unknown"]

ROOT_CERT = "root.pem"
ROOT_KEY = "root-key.pem"
INTERMEDIATE_CERT = "intermediate.pem"
INTERMEDIATE_KEY = "intermediate-key.pem"
INDEX = "index.json"
LOCK = ".lock"

ROOT_DAYS = 3650
INTERMEDIATE_DAYS = 1825
BACKDATE = dt.timedelta(hours=1)  # tolerate a peer whose clock is a little behind ours
OCSP_VALIDITY = dt.timedelta(days=1)
MAX_OCSP_REQUEST = 64 * 1024
INDEX_VERSION = 1
ROOT_CRL_PATH = "/crl/root.crl"  # under the CA's URL: what the root revoked (as DER)
INTERMEDIATE_CRL_PATH = "/crl/intermediate.crl"  # what the intermediate revoked
DEFAULT_URL = "http://127.0.0.1:8888"  # where `tlskit ca ocsp` listens by default
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")  # the default leaf of the test helpers


class CAError(Exception):
    """A CA operation that cannot be done as asked (missing CA, unknown serial...)."""


class KeyType(StrEnum):
    """Key algorithms a CA or a leaf can use; the values are what the CLI accepts."""

    EC256 = "ec256"
    EC384 = "ec384"
    RSA2048 = "rsa2048"
    ED25519 = "ed25519"

    def generate(self) -> PrivateKey:
        """A fresh private key; nothing is cached, so no two certificates share a key."""
        if self is KeyType.EC256:
            return ec.generate_private_key(ec.SECP256R1())
        if self is KeyType.EC384:
            return ec.generate_private_key(ec.SECP384R1())
        if self is KeyType.RSA2048:
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return ed25519.Ed25519PrivateKey.generate()

    @classmethod
    def parse(cls, value: KeyType | str) -> KeyType:
        """Like ``KeyType(value)`` but with an error that lists the choices."""
        try:
            return cls(str(value).lower())
        except ValueError:
            choices = ", ".join(k.value for k in cls)
            raise CAError(f"unknown key type {value!r} (one of: {choices})") from None


@dataclass(frozen=True)
class Revocation:
    """One revoked certificate, as the CRL and the OCSP responder report it."""

    serial_number: int
    reason: x509.ReasonFlags
    revoked_at: dt.datetime


@dataclass
class _Record:
    """What the index keeps about one issued certificate."""

    kind: Kind
    names: list[str]
    not_after: dt.datetime
    revocation: Revocation | None = None


@dataclass(frozen=True)
class Issued:
    """A freshly issued leaf: its certificate, its key, and the chain a server sends."""

    certificate: x509.Certificate
    private_key: PrivateKey
    chain: list[x509.Certificate] = field(default_factory=list)  # [leaf, intermediate]

    @property
    def serial_number(self) -> int:
        return self.certificate.serial_number

    def cert_pem(self) -> bytes:
        """Leaf then intermediate, the order a TLS server presents them in."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def key_pem(self) -> bytes:
        """Unencrypted PKCS#8: what every TLS server and `openssl` read without prompting."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def configure_cert(self, context: Any) -> None:
        """Load this chain and key into an `ssl.SSLContext`-like ``context``. Its
        ``load_cert_chain`` reads only files, so they exist for the duration of the call,
        in a private temporary directory."""
        with tempfile.TemporaryDirectory(prefix="tlskit-ca-") as directory:
            cert_path, key_path = self.write(directory)
            context.load_cert_chain(str(cert_path), str(key_path))

    def write(
        self,
        target: str | os.PathLike[str] | None = None,
        *,
        cert_path: str | os.PathLike[str] | None = None,
        key_path: str | os.PathLike[str] | None = None,
    ) -> tuple[Path, Path]:
        """Write ``cert.pem`` and ``key.pem`` into directory ``target``, or to the two paths
        given. The key file is created with mode 0600. Returns (cert path, key path)."""
        if target is not None:
            directory = Path(target)
            directory.mkdir(parents=True, exist_ok=True)
            cert_path = cert_path if cert_path is not None else directory / "cert.pem"
            key_path = key_path if key_path is not None else directory / "key.pem"
        if cert_path is None or key_path is None:
            raise TypeError("write() needs a directory or both cert_path and key_path")
        cert_out, key_out = Path(cert_path), Path(key_path)
        _write_file(cert_out, self.cert_pem(), 0o644)
        _write_file(key_out, self.key_pem(), 0o600)
        return cert_out, key_out


# --------------------------------------------------------------------------- helpers


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def default_directory() -> Path:
    """Where `LocalCA.default()` keeps its CA: ``<state dir>/tlskit/ca``, the state dir being
    ``$TLSKIT_STATE_DIR``, else ``$XDG_STATE_HOME``, else ``~/.local/state``."""
    base = os.environ.get("TLSKIT_STATE_DIR") or os.environ.get("XDG_STATE_HOME")
    # The XDG spec says a relative XDG_STATE_HOME is invalid and must be ignored.
    if not base or not Path(base).expanduser().is_absolute():
        base = str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "tlskit" / "ca"


def format_serial(serial: int) -> str:
    """The form the CLI prints and `parse` accepts back: ``0x`` + lowercase hex."""
    return f"0x{serial:x}"


_REASONS: dict[str, x509.ReasonFlags] = {}
for _flag in x509.ReasonFlags:
    if _flag is not x509.ReasonFlags.remove_from_crl:  # only meaningful in delta CRLs
        _REASONS[_flag.value.lower()] = _flag
        _REASONS[_flag.name.replace("_", "").lower()] = _flag


def parse_reason(reason: str | x509.ReasonFlags) -> x509.ReasonFlags:
    """Accept ``keyCompromise``, ``key_compromise``, ``key-compromise`` or the enum itself."""
    if isinstance(reason, x509.ReasonFlags):
        return reason
    flag = _REASONS.get(reason.replace("-", "").replace("_", "").lower())
    if flag is None:
        choices = ", ".join(f.value for f in x509.ReasonFlags if f.value.lower() in _REASONS)
        raise CAError(f"unknown revocation reason {reason!r} (one of: {choices})")
    return flag


def _aware(when: dt.datetime) -> dt.datetime:
    """Certificates carry UTC to the second; a naive datetime would be silently local time."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("the CA clock must return timezone-aware datetimes")
    return when.astimezone(dt.UTC).replace(microsecond=0)


def _sign_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    """The digest to pair with the signing key: Ed25519 takes none, P-384 gets SHA-384."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _new_serial(taken: Callable[[int], bool]) -> int:
    """A random positive serial of 16 octets (127 random bits: the BRs ask for at least 64
    from a CSPRNG, and a shorter random number may lose leading octets), never reusing
    one the index already holds."""
    while True:
        serial = secrets.randbits(127) | (1 << 120)  # never shorter than 16 octets
        if not taken(serial):
            return serial


def _cn(text: str) -> x509.NameAttribute:
    return x509.NameAttribute(NameOID.COMMON_NAME, text[:64])  # ub-common-name is 64


def _to_alabel(label: str) -> str:
    """IDNA-encode one U-label with UTS 46 + IDNA 2008, as clients will look it up."""
    import idna
    return str(idna.encode(label, uts46=True).decode("ascii"))


def _dns_name(name: str) -> str:
    """Lowercase A-label form of a host name; a leading ``*`` label is kept as a wildcard."""
    labels = name.rstrip(".").split(".")
    if any(not label or label.strip() != label or " " in label for label in labels):
        raise CAError(f"invalid host name {name!r}")
    try:
        encoded = [label.lower() if label.isascii() else _to_alabel(label) for label in labels]
    except (UnicodeError, ValueError) as exc:
        raise CAError(f"cannot IDNA-encode {name!r}: {exc}") from exc
    result = ".".join(encoded)
    # A name no client would match is a certificate that cannot work: say why now.
    if encoded[-1].isdigit():
        raise CAError(f"{name!r} is not a valid IP address, and a host name cannot end in "
                      "a numeric label")
    if not valid_dns_san(result):
        if "*" in result:
            raise CAError(f"invalid wildcard name {name!r}: a wildcard must be the whole "
                          "leftmost label, followed by at least two labels "
                          "(e.g. *.example.com)")
        raise CAError(f"invalid host name {name!r}: labels are letters, digits, hyphens "
                      "(not first or last) and underscores, at most 63 characters each")
    return result


def _general_name(name: str, kind: Kind) -> x509.GeneralName:
    """IP literals become iPAddress, a client's ``user@host`` an rfc822Name, the rest dNSName."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        pass
    if kind == "client" and "@" in name:
        return x509.RFC822Name(name)
    return x509.DNSName(_dns_name(name))


def _write_file(path: Path, data: bytes, mode: int) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a key or index, and
    create the file with ``mode`` from the start so a key is never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)  # os.open's mode is filtered by the umask
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _dir_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on the CA directory shared by every process that uses it."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The contents of the subjectPublicKey BIT STRING, which an OCSP CertID's key hash is
    computed over (RFC 6960 4.1.1)."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raise CAError(f"unsupported CA key type {type(key).__name__}")


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def _ca_certificate(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    key: PrivateKey,
    signer: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    path_length: int | None,
    issuer_ski: x509.SubjectKeyIdentifier | None,
    ocsp_url: str | None = None,
    crl_url: str | None = None,
) -> x509.Certificate:
    """A CA certificate. digitalSignature is set besides keyCertSign/cRLSign because the
    intermediate signs OCSP responses itself."""
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(_new_serial(lambda _: False))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if issuer_ski is not None:
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski)
        builder = builder.add_extension(aki, critical=False)
    builder = _with_revocation_urls(builder, ocsp_url, crl_url)
    return builder.sign(signer, _sign_hash(signer))


def _with_revocation_urls(
    builder: x509.CertificateBuilder, ocsp_url: str | None, crl_url: str | None
) -> x509.CertificateBuilder:
    """Add the AIA OCSP responder and the CRL distribution point, when there are any."""
    if ocsp_url:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    if crl_url:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return builder


def _ocsp_url_of(cert: x509.Certificate) -> str | None:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for access in aia:
        if access.access_method == AuthorityInformationAccessOID.OCSP:
            return str(access.access_location.value)
    return None


def _check_url(url: str) -> str:
    """``url`` itself, if it is an http:// URL with a host; CAError otherwise."""
    try:
        parsed = urllib.parse.urlsplit(url)
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
        ok = parsed.scheme == "http" and bool(parsed.hostname)
    except ValueError:  # e.g. a port that is not a number
        ok = False
    if not ok:
        raise CAError(
            f"{url!r} is not an http:// URL (relying parties fetch OCSP and CRLs over plain "
            "HTTP, RFC 6960 A.1 / RFC 5280 4.2.1.13), e.g. http://127.0.0.1:8888"
        )
    return url


def _ski(cert: x509.Certificate) -> x509.SubjectKeyIdentifier:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value


def _leaf_key_usage(key: PrivateKey) -> x509.KeyUsage:
    """RSA keys may be used for RSA key transport (TLS 1.2 and older), hence keyEncipherment."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=isinstance(key, rsa.RSAPrivateKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


# --------------------------------------------------------------------------- index


def _record_to_json(record: _Record) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": record.kind,
        "names": record.names,
        "not_after": record.not_after.isoformat(),
        "revoked": None,
    }
    if record.revocation is not None:
        out["revoked"] = {
            "at": record.revocation.revoked_at.isoformat(),
            "reason": record.revocation.reason.value,
        }
    return out


def _record_from_json(serial: int, data: dict[str, Any]) -> _Record:
    revoked = data.get("revoked")
    revocation = None
    if revoked:
        revocation = Revocation(
            serial_number=serial,
            reason=x509.ReasonFlags(revoked["reason"]),
            revoked_at=dt.datetime.fromisoformat(revoked["at"]),
        )
    return _Record(
        kind=data["kind"],
        names=list(data.get("names", [])),
        not_after=dt.datetime.fromisoformat(data["not_after"]),
        revocation=revocation,
    )


def _dump_index(records: dict[int, _Record], crl_number: int) -> bytes:
    doc = {
        "version": INDEX_VERSION,
        "crl_number": crl_number,
        "certificates": {format_serial(s): _record_to_json(r) for s, r in records.items()},
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _load_index(path: Path) -> tuple[dict[int, _Record], int]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        records = {
            int(key, 16): _record_from_json(int(key, 16), value)
            for key, value in doc.get("certificates", {}).items()
        }
        return records, int(doc.get("crl_number", 0))
    except FileNotFoundError:
        return {}, 0
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CAError(f"corrupt CA index {path}: {exc}") from exc


# --------------------------------------------------------------------------- the CA


class LocalCA:
    """A root and an intermediate, with the intermediate doing all the day-to-day signing.

    Build one with `create`, `load` or `default`; the constructor takes the parts as-is.
    """

    def __init__(
        self,
        root: x509.Certificate,
        root_key: PrivateKey,
        intermediate: x509.Certificate,
        intermediate_key: PrivateKey,
        *,
        directory: Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.root = root
        self.root_key = root_key
        self.intermediate = intermediate
        self.intermediate_key = intermediate_key
        self.directory = directory
        self.clock: Clock = clock or _utc_now
        self._lock = threading.RLock()
        self._records: dict[int, _Record] = {}
        self._crl_number = 0
        self._index_stamp: tuple[int, int, int] | None = None
        self._issuer_hashes: dict[tuple[int, str], tuple[bytes, bytes]] = {}

    def __repr__(self) -> str:
        where = str(self.directory) if self.directory else "in memory"
        return f"<LocalCA {self.root.subject.rfc4514_string()} ({where})>"

    @property
    def url(self) -> str | None:
        """The responder URL the intermediate names (see `create`), or None."""
        return _ocsp_url_of(self.intermediate)

    # ----------------------------------------------------------- construction

    @classmethod
    def create(
        cls,
        directory: str | os.PathLike[str] | None = None,
        *,
        key_type: KeyType | str = KeyType.EC256,
        clock: Clock | None = None,
        name: str = "tlskit local CA",
        overwrite: bool = False,
        url: str | None = None,
    ) -> LocalCA:
        """Make a new root and intermediate; write them to ``directory`` unless it is None.

        ``url`` is where this CA's responder will run (`serve_ocsp`, ``tlskit ca ocsp``):
        the intermediate then names it as its OCSP responder and ``<url>/crl/root.crl`` as
        its CRL distribution point, and leaves get ``<url>`` and ``<url>/crl/intermediate.crl``
        by default, so hard-fail revocation checking works on the whole chain.

        Refuses to replace an existing CA unless ``overwrite`` is set, because every
        certificate it issued would stop validating."""
        kind = KeyType.parse(key_type)
        base = _check_url(url).rstrip("/") if url else None
        clock = clock or _utc_now
        now = _aware(clock())
        tag = secrets.token_hex(3)  # two CAs with the same name still get distinct subjects
        org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, name[:64])
        root_name = x509.Name([org, _cn(f"{name[:44]} root {tag}")])
        inter_name = x509.Name([org, _cn(f"{name[:36]} intermediate {tag}")])
        root_key, inter_key = kind.generate(), kind.generate()
        root_not_after = now + dt.timedelta(days=ROOT_DAYS)
        root = _ca_certificate(
            subject=root_name,
            issuer=root_name,
            key=root_key,
            signer=root_key,
            not_before=now - BACKDATE,
            not_after=root_not_after,
            path_length=None,
            issuer_ski=None,
        )
        intermediate = _ca_certificate(
            subject=inter_name,
            issuer=root_name,
            key=inter_key,
            signer=root_key,
            not_before=now - BACKDATE,
            not_after=min(now + dt.timedelta(days=INTERMEDIATE_DAYS), root_not_after),
            path_length=0,
            issuer_ski=_ski(root),
            ocsp_url=base,
            crl_url=f"{base}{ROOT_CRL_PATH}" if base else None,
        )
        path = Path(directory).expanduser() if directory is not None else None
        ca = cls(root, root_key, intermediate, inter_key, directory=path, clock=clock)
        if path is not None:
            ca._save_new(overwrite=overwrite)
        return ca

    @classmethod
    def load(cls, directory: str | os.PathLike[str], *, clock: Clock | None = None) -> LocalCA:
        """Open the CA kept in ``directory``, checking that its four files belong together."""
        path = Path(directory).expanduser()
        if not (path / ROOT_CERT).is_file():
            raise CAError(f"no CA in {path} (create one with `tlskit ca init`)")
        try:
            root = x509.load_pem_x509_certificate((path / ROOT_CERT).read_bytes())
            inter = x509.load_pem_x509_certificate((path / INTERMEDIATE_CERT).read_bytes())
            root_key = _load_key(path / ROOT_KEY)
            inter_key = _load_key(path / INTERMEDIATE_KEY)
        except (OSError, ValueError) as exc:
            raise CAError(f"cannot read the CA in {path}: {exc}") from exc
        _check_pair(root, root_key, path / ROOT_KEY)
        _check_pair(inter, inter_key, path / INTERMEDIATE_KEY)
        try:
            inter.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise CAError(f"{path / INTERMEDIATE_CERT} was not issued by the root") from exc
        ca = cls(root, root_key, inter, inter_key, directory=path, clock=clock)
        with ca._lock:
            ca._refresh()
        return ca

    @classmethod
    def default(
        cls,
        *,
        clock: Clock | None = None,
        key_type: KeyType | str = KeyType.EC256,
        url: str | None = None,
    ) -> LocalCA:
        """The user's own CA in `default_directory()`, created the first time it is asked for.

        Creation happens under the directory lock so two processes racing to create it end
        up sharing one CA rather than each overwriting the other's."""
        path = default_directory()
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _dir_lock(path):
            exists = (path / ROOT_CERT).is_file()
        if exists:
            return cls.load(path, clock=clock)
        try:
            return cls.create(path, key_type=key_type, clock=clock, url=url)
        except CAError:
            return cls.load(path, clock=clock)  # another process won the race

    def _save_new(self, *, overwrite: bool) -> None:
        assert self.directory is not None
        path = self.directory
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock, _dir_lock(path):
            if (path / ROOT_CERT).exists() and not overwrite:
                raise CAError(f"a CA already exists in {path}")
            _write_file(path / INDEX, _dump_index({}, 0), 0o644)
            _write_file(path / ROOT_KEY, _pem_key(self.root_key), 0o600)
            _write_file(path / INTERMEDIATE_KEY, _pem_key(self.intermediate_key), 0o600)
            _write_file(path / INTERMEDIATE_CERT, _pem_cert(self.intermediate), 0o644)
            _write_file(path / ROOT_CERT, _pem_cert(self.root), 0o644)  # last: marks "done"
            self._refresh()

    # ----------------------------------------------------------- index access

    def _refresh(self) -> None:
        """Reload the index if another process (or another LocalCA) has rewritten it."""
        if self.directory is None:
            return
        try:
            st = (self.directory / INDEX).stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp != self._index_stamp or stamp is None:
            self._records, self._crl_number = _load_index(self.directory / INDEX)
            self._index_stamp = stamp

    @contextlib.contextmanager
    def _updating(self) -> Iterator[None]:
        """Read-modify-write of the index under both the thread and the directory lock."""
        with self._lock:
            if self.directory is None:
                yield
                return
            with _dir_lock(self.directory):
                self._index_stamp = None  # force a reload: we must modify the latest state
                self._refresh()
                yield
                _write_file(
                    self.directory / INDEX, _dump_index(self._records, self._crl_number), 0o644
                )
                self._refresh()

    def _now(self) -> dt.datetime:
        return _aware(self.clock())

    # ----------------------------------------------------------- issuing

    def issue_server(
        self,
        names: Sequence[str] | str,
        *,
        key_type: KeyType | str = KeyType.EC256,
        days: int = 30,
        ocsp_url: str | None = None,
        crl_url: str | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> Issued:
        """A serverAuth leaf for host names and IP addresses (the first one is also the CN).

        Valid from an hour ago for ``days``, or exactly from ``not_before`` to ``not_after``
        (either may be in the past or the future: an expired or not-yet-valid certificate
        for tests). ``ocsp_url``/``crl_url`` default to the CA's own (see `create`); pass
        ``""`` to leave them out."""
        window = self._validity(days, not_before, not_after)
        return self._issue("server", names, key_type, window, ocsp_url, crl_url)

    def issue_client(
        self,
        name: str,
        *,
        key_type: KeyType | str = KeyType.EC256,
        days: int = 30,
        ocsp_url: str | None = None,
        crl_url: str | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> Issued:
        """A clientAuth leaf whose CN (and SAN) is ``name``: a user, an e-mail or a host.
        The other parameters are those of `issue_server`."""
        window = self._validity(days, not_before, not_after)
        return self._issue("client", [name], key_type, window, ocsp_url, crl_url)

    def _validity(
        self, days: int, not_before: dt.datetime | None, not_after: dt.datetime | None
    ) -> tuple[dt.datetime, dt.datetime]:
        now = self._now()
        if not_after is None and days <= 0:
            raise CAError("days must be positive")
        for given in (not_before, not_after):
            if given is not None and (given.tzinfo is None or given.utcoffset() is None):
                raise CAError("not_before and not_after must be timezone-aware datetimes, "
                              "e.g. datetime.now(datetime.UTC) - timedelta(days=1)")
        start = _aware(not_before) if not_before is not None else now - BACKDATE
        end = _aware(not_after) if not_after is not None else now + dt.timedelta(days=days)
        if end <= start:
            raise CAError("not_after must come after not_before")
        if end > self.intermediate.not_valid_after_utc:
            raise CAError(
                f"a certificate valid until {end:%Y-%m-%d} would outlive the intermediate "
                f"(valid until {self.intermediate.not_valid_after_utc:%Y-%m-%d})"
            )
        return start, end

    def _default_urls(self, ocsp_url: str | None, crl_url: str | None) -> tuple[str, str]:
        """None: the CA's own URL (if it has one); "": none."""
        base = self.url
        if ocsp_url is None:
            ocsp_url = base or ""
        if crl_url is None:
            crl_url = f"{base}{INTERMEDIATE_CRL_PATH}" if base else ""
        return (_check_url(ocsp_url) if ocsp_url else "", _check_url(crl_url) if crl_url else "")

    def _issue(
        self,
        kind: Kind,
        names: Sequence[str] | str,
        key_type: KeyType | str,
        window: tuple[dt.datetime, dt.datetime],
        ocsp_url: str | None,
        crl_url: str | None,
    ) -> Issued:
        names = [n.strip() for n in ([names] if isinstance(names, str) else names)]
        if not names or not all(names):
            raise CAError("a certificate needs at least one non-empty name")
        general_names = list(dict.fromkeys(_general_name(n, kind) for n in names))
        key = KeyType.parse(key_type).generate()
        urls = self._default_urls(ocsp_url, crl_url)
        with self._updating():
            serial = _new_serial(lambda s: s in self._records)
            cert = self._build_leaf(kind, names[0], general_names, key, serial, window, urls)
            self._records[serial] = _Record(kind=kind, names=names, not_after=window[1])
        return Issued(certificate=cert, private_key=key, chain=[cert, self.intermediate])

    def _build_leaf(
        self,
        kind: Kind,
        common_name: str,
        general_names: list[x509.GeneralName],
        key: PrivateKey,
        serial: int,
        window: tuple[dt.datetime, dt.datetime],
        urls: tuple[str, str],
    ) -> x509.Certificate:
        # A CN longer than 64 characters is not allowed; then the subject is empty and
        # RFC 5280 4.2.1.6 requires the SAN extension to be critical.
        subject = x509.Name([_cn(common_name)]) if len(common_name) <= 64 else x509.Name([])
        server = kind == "server"
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        public = key.public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.intermediate.subject)
            .public_key(public)
            .serial_number(serial)
            .not_valid_before(window[0])
            .not_valid_after(window[1])
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_leaf_key_usage(key), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName(general_names), critical=not subject)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                    _ski(self.intermediate)
                ),
                critical=False,
            )
        )
        builder = _with_revocation_urls(builder, *urls)
        return builder.sign(self.intermediate_key, _sign_hash(self.intermediate_key))

    # ----------------------------------------------------------- revocation

    def _serial_of(self, serial_or_cert: int | x509.Certificate | Issued) -> int:
        if isinstance(serial_or_cert, Issued):
            serial_or_cert = serial_or_cert.certificate
        if isinstance(serial_or_cert, x509.Certificate):
            if serial_or_cert.issuer != self.intermediate.subject:
                raise CAError("that certificate was not issued by this CA's intermediate")
            return serial_or_cert.serial_number
        if isinstance(serial_or_cert, bool) or not isinstance(serial_or_cert, int):
            raise TypeError("revoke() takes a serial number, an x509.Certificate or an Issued")
        return serial_or_cert

    def revoke(
        self,
        serial_or_cert: int | x509.Certificate | Issued,
        reason: str | x509.ReasonFlags = "keyCompromise",
    ) -> Revocation:
        """Mark a certificate this CA issued as revoked, persistently.

        Revoking twice keeps the first revocation (its date is what relying parties saw)."""
        flag = parse_reason(reason)
        serial = self._serial_of(serial_or_cert)
        with self._updating():
            record = self._records.get(serial)
            if record is None:
                raise CAError(f"serial {format_serial(serial)} was not issued by this CA")
            if record.revocation is None:
                record.revocation = Revocation(serial, flag, self._now())
            return record.revocation

    def status(self, serial: int) -> Status:
        """``good``, ``revoked``, or ``unknown`` (never issued by this intermediate)."""
        with self._lock:
            self._refresh()
            record = self._records.get(serial)
        if record is None:
            return "unknown"
        return "revoked" if record.revocation else "good"

    def revocations(self) -> list[Revocation]:
        """Every revocation, oldest first."""
        with self._lock:
            self._refresh()
            found = [r.revocation for r in self._records.values() if r.revocation]
        return sorted(found, key=lambda r: (r.revoked_at, r.serial_number))

    def crl(self, days: int = 7) -> x509.CertificateRevocationList:
        """A full CRL for the intermediate's certificates, signed by the intermediate.

        Each call takes the next CRL number (persisted), as RFC 5280 5.2.3 requires."""
        if days <= 0:
            raise CAError("days must be positive")
        with self._updating():
            number = self._next_crl_number()
            revoked = [r.revocation for r in self._records.values() if r.revocation]
        return self._sign_crl(self.intermediate, self.intermediate_key, number, days, revoked)

    def root_crl(self, days: int = 7) -> x509.CertificateRevocationList:
        """The root's CRL, about the certificates the root issued: the intermediate, which
        is never revoked (to retire it, make a new CA). Relying parties that check every
        certificate of the chain (hard-fail) need it, or the root's OCSP answer."""
        if days <= 0:
            raise CAError("days must be positive")
        with self._updating():
            number = self._next_crl_number()
        return self._sign_crl(self.root, self.root_key, number, days, [])

    def _next_crl_number(self) -> int:
        """One counter for both CRL issuers: still increasing for each (RFC 5280 5.2.3)."""
        self._crl_number += 1
        return self._crl_number

    def _sign_crl(
        self,
        issuer: x509.Certificate,
        key: PrivateKey,
        number: int,
        days: int,
        revoked: list[Revocation],
    ) -> x509.CertificateRevocationList:
        now = self._now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(days=days))
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(_ski(issuer)),
                critical=False,
            )
            .add_extension(x509.CRLNumber(number), critical=False)
        )
        for rev in sorted(revoked, key=lambda r: r.serial_number):
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(rev.serial_number)
                .revocation_date(rev.revoked_at)
            )
            if rev.reason is not x509.ReasonFlags.unspecified:  # RFC 5280 5.3.1: omit it
                entry = entry.add_extension(x509.CRLReason(rev.reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return builder.sign(key, _sign_hash(key))

    # ----------------------------------------------------------- OCSP

    def _issuers(self) -> list[tuple[x509.Certificate, PrivateKey]]:
        """Who signs what: the intermediate answers for the leaves, the root for the
        intermediate (each CA signs the status of what it issued, RFC 6960 2.6)."""
        return [(self.intermediate, self.intermediate_key), (self.root, self.root_key)]

    def _hashes_for(
        self, cert: x509.Certificate, algorithm: hashes.HashAlgorithm
    ) -> tuple[bytes, bytes]:
        """(issuerNameHash, issuerKeyHash) of CA certificate ``cert`` under ``algorithm``."""
        key = (cert.serial_number, algorithm.name)
        cached = self._issuer_hashes.get(key)
        if cached is None:
            cached = (
                _digest(algorithm, cert.subject.public_bytes()),
                _digest(algorithm, _public_key_bits(cert)),
            )
            self._issuer_hashes[key] = cached
        return cached

    def _issuer_of(self, cert_id: _ocsp_der.CertID) -> int | None:
        """Index into `_issuers` of the CA a CertID names, or None."""
        algorithm = _CERT_ID_HASHES.get(cert_id.hash_oid)
        if algorithm is None:
            return None
        wanted = (cert_id.issuer_name_hash, cert_id.issuer_key_hash)
        for i, (cert, _) in enumerate(self._issuers()):
            if self._hashes_for(cert, algorithm) == wanted:
                return i
        return None

    def _single_status(
        self, issuer: int | None, serial: int, records: dict[int, _Record]
    ) -> tuple[Status, Revocation | None]:
        if issuer == 0:  # the intermediate's own leaves, from the index
            record = records.get(serial)
            if record is None:
                return "unknown", None
            return ("revoked", record.revocation) if record.revocation else ("good", None)
        if issuer == 1 and serial == self.intermediate.serial_number:
            return "good", None  # the root issued one intermediate, never revoked
        return "unknown", None

    def ocsp_response(self, request_der: bytes) -> bytes:
        """Answer a DER OCSPRequest, about one certificate or several, with a DER
        OCSPResponse signed by the CA that issued them: the intermediate for leaves, the
        root for the intermediate."""
        return self._answer_ocsp(request_der)[0]

    def _answer_ocsp(self, request_der: bytes) -> tuple[bytes, str]:
        """The response and a one-line summary of it, for the responder's log.

        One response has one signer, so one request must be about one issuer's
        certificates: a request mixing the root's and the intermediate's is answered
        ``unauthorized`` (ask twice), as is one naming no issuer this CA knows."""
        try:
            request = _ocsp_der.parse_request(request_der)
        except _ocsp_der.OcspDERError as exc:
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST), f"malformed: {exc}"
        issuers = [self._issuer_of(cert_id) for cert_id in request.cert_ids]
        known = {i for i in issuers if i is not None}
        labels = ", ".join(format_serial(c.serial_number) for c in request.cert_ids)
        label = f"serial{'s' if len(request.cert_ids) > 1 else ''} {labels}"
        if len(known) != 1:
            why = "issuer not this CA" if not known else "root and intermediate mixed"
            return (_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED),
                    f"{label}: unauthorized ({why})")
        signer_cert, signer_key = self._issuers()[known.pop()]
        with self._lock:
            self._refresh()
            records = dict(self._records)
        now = self._now()
        answers, words = [], []
        for cert_id, issuer in zip(request.cert_ids, issuers, strict=True):
            status, revocation = self._single_status(issuer, cert_id.serial_number, records)
            reason = None
            if revocation and revocation.reason is not x509.ReasonFlags.unspecified:
                reason = _REASON_CODES[revocation.reason]
            answers.append(_ocsp_der.SingleResponse(
                cert_id, status, now, now + OCSP_VALIDITY,
                revocation.revoked_at if revocation else None, reason))
            words.append(status)
        tbs = _ocsp_der.response_data(
            _digest(hashes.SHA1(), _public_key_bits(signer_cert)), now, answers,
            request.nonce_extension)
        algorithm, signature = _sign(signer_key, tbs)
        body = _ocsp_der.successful_response(
            tbs, algorithm, signature, [signer_cert.public_bytes(serialization.Encoding.DER)])
        return body, f"{label}: {', '.join(words)}"

    def serve_ocsp(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log: Callable[[str], None] | None = None,
    ) -> OCSPResponder:
        """Start an HTTP OCSP responder on a background thread (port 0: the OS picks)."""
        return OCSPResponder(self, host, port, log=log)

    # ----------------------------------------------------------- export

    def export_root_pem(self) -> bytes:
        return _pem_cert(self.root)

    # ----------------------------------------------------------- test-suite helpers

    def client_config(self, identity: Issued | None = None, **overrides: Any) -> ClientConfig:
        """A `ClientConfig` trusting this CA's root (and only it), presenting ``identity``
        (a client leaf from `issue_client`) when given. ``overrides`` are passed on, e.g.
        ``alpn_protocols=["h2"]``; they win over what this method sets."""
        from .config import CertifiedKey, ClientConfig

        options: dict[str, Any] = {"trust_anchors": [self.root]}
        if identity is not None:
            options["certificate"] = CertifiedKey(list(identity.chain), identity.private_key)
        return ClientConfig(**{**options, **overrides})

    def server_config(self, leaf: Issued | None = None, **overrides: Any) -> ServerConfig:
        """A `ServerConfig` serving ``leaf`` with its intermediate (by default a new leaf
        for localhost, 127.0.0.1 and ::1). With ``client_auth="optional"`` or
        ``"required"`` among the overrides, client certificates from this CA are trusted."""
        from .config import ServerConfig

        leaf = leaf if leaf is not None else self.issue_server(LOCAL_NAMES)
        options: dict[str, Any] = {
            "certificate_chain": list(leaf.chain),
            "private_key": leaf.private_key,
        }
        if overrides.get("client_auth", "none") != "none" and "client_verifier" not in overrides:
            options["client_trust_anchors"] = [self.root]
        return ServerConfig(**{**options, **overrides})

    def configure_trust(self, context: Any) -> None:
        """Make an `ssl.SSLContext`-like ``context`` trust this CA's root."""
        context.load_verify_locations(cadata=self.export_root_pem().decode("ascii"))

    def client_ssl_context(
        self,
        identity: Issued | None = None,
        *,
        context_class: Callable[[int], ssl.SSLContext] = ssl.SSLContext,
    ) -> ssl.SSLContext:
        """A stdlib `ssl.SSLContext` verifying servers against this CA, with hostname
        checking on, presenting ``identity`` when given. ``context_class`` makes another
        kind of context with the same API, e.g. ``tlskit.compat.SSLContext``."""
        context = context_class(ssl.PROTOCOL_TLS_CLIENT)
        self.configure_trust(context)
        if identity is not None:
            identity.configure_cert(context)
        return context

    def server_ssl_context(
        self,
        leaf: Issued | None = None,
        *,
        require_client_cert: bool = False,
        context_class: Callable[[int], ssl.SSLContext] = ssl.SSLContext,
    ) -> ssl.SSLContext:
        """A server context (stdlib `ssl`, or ``context_class``) serving ``leaf`` (by
        default a new localhost leaf); with ``require_client_cert``, clients must present a
        certificate from this CA."""
        context = context_class(ssl.PROTOCOL_TLS_SERVER)
        (leaf if leaf is not None else self.issue_server(LOCAL_NAMES)).configure_cert(context)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            self.configure_trust(context)
        return context


def _load_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise CAError(f"{path}: unsupported key type {type(key).__name__}")
    return key


def _check_pair(cert: x509.Certificate, key: PrivateKey, key_path: Path) -> None:
    """Catch a key file swapped for another CA's before it signs anything unverifiable."""
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if cert.public_key().public_bytes(*fmt) != key.public_key().public_bytes(*fmt):
        raise CAError(f"{key_path} does not match its certificate")


# RFC 5280 4.1.1.2 / RFC 8017 A.2.4 / RFC 5758 3.2 / RFC 8410 3; the hash of a CertID
_CERT_ID_HASHES: dict[str, hashes.HashAlgorithm] = {
    "1.3.14.3.2.26": hashes.SHA1(),
    "2.16.840.1.101.3.4.2.4": hashes.SHA224(),
    "2.16.840.1.101.3.4.2.1": hashes.SHA256(),
    "2.16.840.1.101.3.4.2.2": hashes.SHA384(),
    "2.16.840.1.101.3.4.2.3": hashes.SHA512(),
}
_REASON_CODES: dict[x509.ReasonFlags, int] = {
    x509.ReasonFlags.unspecified: 0,
    x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6,
    x509.ReasonFlags.remove_from_crl: 8,
    x509.ReasonFlags.privilege_withdrawn: 9,
    x509.ReasonFlags.aa_compromise: 10,
}


def _sign(key: PrivateKey, data: bytes) -> tuple[bytes, bytes]:
    """(AlgorithmIdentifier DER, signature) over ``data`` with the CA key, hashed as
    `_sign_hash` says (the same choice as for the CA's certificates and CRLs)."""
    digest = _sign_hash(key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return _ocsp_der.algorithm_identifier("1.3.101.112", False), key.sign(data)
    assert digest is not None
    sha384 = isinstance(digest, hashes.SHA384)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        oid = "1.2.840.10045.4.3.3" if sha384 else "1.2.840.10045.4.3.2"
        return _ocsp_der.algorithm_identifier(oid, False), key.sign(data, ec.ECDSA(digest))
    oid = "1.2.840.113549.1.1.12" if sha384 else "1.2.840.113549.1.1.11"
    signature = key.sign(data, padding.PKCS1v15(), digest)
    return _ocsp_der.algorithm_identifier(oid, True), signature


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


# --------------------------------------------------------------------------- HTTP responder


class _OCSPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, host: str, port: int, ca: LocalCA, log: Callable[[str], None] | None
    ) -> None:
        # address_family is read by TCPServer.__init__ when it creates the socket.
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.ca = ca
        self.log = log
        super().__init__((host, port), _OCSPHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup that can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])


class _OCSPHandler(BaseHTTPRequestHandler):
    """RFC 6960 appendix A: POST the DER request, or GET /<url-encoded base64 of it>."""

    server: _OCSPServer
    protocol_version = "HTTP/1.0"
    server_version = "tlskit-ocsp"
    timeout = 10  # seconds; a client that stalls mid-request must not pin a thread forever

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.send_error(411, "Content-Length required")
            return
        if length < 0 or length > MAX_OCSP_REQUEST:
            self.send_error(413, "OCSP request too large")
            return
        self._answer(self.rfile.read(length))

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if len(path) > MAX_OCSP_REQUEST * 2:
            self.send_error(414, "OCSP request too large")
            return
        if path.endswith((ROOT_CRL_PATH, INTERMEDIATE_CRL_PATH)):
            self._send_crl(path)
            return
        self._answer(_decode_get_path(path))

    def _send_crl(self, path: str) -> None:
        """A fresh DER CRL (RFC 5280 4.2.1.13: what an http:// distribution point serves)."""
        ca = self.server.ca
        which = "root" if path.endswith(ROOT_CRL_PATH) else "intermediate"
        try:
            crl = ca.root_crl() if which == "root" else ca.crl()
        except Exception as exc:  # e.g. an unreadable index: say so, keep serving
            self.send_error(500, f"cannot make the CRL: {exc}")
            return
        body = crl.public_bytes(serialization.Encoding.DER)
        self._send(body, "application/pkix-crl")
        if self.server.log is not None:
            self.server.log(f"{self.client_address[0]} GET {which} CRL ({len(crl)} revoked)")

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, der: bytes) -> None:
        try:
            body, summary = self.server.ca._answer_ocsp(der)
        except Exception as exc:  # a responder must answer, not drop the connection
            body = _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
            summary = f"internal error: {exc}"
        self._send(body, "application/ocsp-response")
        if self.server.log is not None:
            self.server.log(f"{self.client_address[0]} {self.command} {summary}")

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr line; `log` gets a better one."""


def _decode_get_path(path: str) -> bytes:
    """The DER request in a GET path. The whole path is tried first (base64 may hold an
    unescaped "/"), then its last segment, for certificates whose OCSP URL has a path of
    its own; the first that parses as an OCSP request wins. Undecodable input gives b"",
    answered as malformedRequest (RFC 6960 A.1)."""
    candidates = (path.lstrip("/"), path.rsplit("/", 1)[-1])
    decoded: list[bytes] = []
    for candidate in map(urllib.parse.unquote, candidates):
        try:
            der = base64.b64decode(candidate + "=" * (-len(candidate) % 4), validate=True)
        except ValueError:
            continue
        try:
            _ocsp_der.parse_request(der)
        except _ocsp_der.OcspDERError:
            decoded.append(der)
            continue
        return der
    return decoded[0] if decoded else b""


class OCSPResponder:
    """A running OCSP responder; stop it with `close()` or by leaving a ``with`` block."""

    def __init__(
        self,
        ca: LocalCA,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self._server = _OCSPServer(host, port, ca, log)
        self.host = host
        self.port: int = self._server.server_port
        self._closed = False
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"tlskit-ocsp-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> OCSPResponder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<OCSPResponder {self.url}{' closed' if self._closed else ''}>"
