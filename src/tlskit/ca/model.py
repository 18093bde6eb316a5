"""What a local CA deals in: its errors, key types, issued leaves and revocations, the
names of its files and its default lifetimes."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .files import PrivateKey, pem_cert, pem_key, write_file

Clock = Callable[[], dt.datetime]
"""What a `LocalCA` reads the time from (an aware UTC datetime), for tests."""
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
ROOT_CRL_PATH = "/crl/root.crl"
"""Under the CA's URL: the root's CRL (what the root revoked: the intermediate), as DER."""
INTERMEDIATE_CRL_PATH = "/crl/intermediate.crl"
"""Under the CA's URL: the intermediate's CRL (the leaves it revoked), as DER."""
DEFAULT_URL = "http://127.0.0.1:8888"
"""Where `tlskit ca ocsp` listens by default, and so what new CAs' certificates name."""
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
"""The names of the default leaf of the test helpers (`LocalCA.server_config`...)."""


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


@dataclass(frozen=True)
class Issued:
    """A freshly issued leaf: its certificate, its key, and the chain a server sends."""

    certificate: x509.Certificate
    private_key: PrivateKey
    chain: list[x509.Certificate] = field(default_factory=list)  # [leaf, intermediate]

    @property
    def serial_number(self) -> int:
        """The leaf's serial, as `LocalCA.revoke` and ``tlskit ca revoke`` take it."""
        return self.certificate.serial_number

    def cert_pem(self) -> bytes:
        """Leaf then intermediate, the order a TLS server presents them in."""
        return b"".join(pem_cert(c) for c in self.chain)

    def key_pem(self) -> bytes:
        """Unencrypted PKCS#8: what every TLS server and `openssl` read without prompting."""
        return pem_key(self.private_key)

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
        write_file(cert_out, self.cert_pem(), 0o644)
        write_file(key_out, self.key_pem(), 0o600)
        return cert_out, key_out


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(when: dt.datetime) -> dt.datetime:
    """Certificates carry UTC to the second; a naive datetime would be silently local time."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("the CA clock must return timezone-aware datetimes")
    return when.astimezone(dt.UTC).replace(microsecond=0)


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
