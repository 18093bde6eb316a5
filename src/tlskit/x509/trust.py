"""Trust anchors: the certificates a path may end at.

A trust store is only a set of certificates indexed for path building: by subject name
(the RFC 5280 name chaining rule) and by exact DER (to recognise an anchor that a peer
sends along, or a leaf that is itself trusted).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import ssl
import threading
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.utils import CryptographyDeprecationWarning

_SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, BSDs
)


def _fingerprint(cert: x509.Certificate) -> bytes:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Drop cryptography's deprecation warnings: system bundles carry roots with quirks it
    has long tolerated (several real roots have serial number 0) and it warns about them
    when parsing. Other warnings still show."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
        yield


def load_pem_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, skipping blocks that do not parse.

    System bundles occasionally carry a certificate that a strict parser rejects; one bad
    entry must not take the whole store down, so blocks are parsed one by one."""
    with _quiet():
        # Old roots with e.g. a zero serial trigger deprecation warnings; they are still
        # loaded (and judged by the validator if ever used), but need not spam stderr.
        return _load_pem_tolerant(data)


def _load_pem_tolerant(data: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except (ValueError, x509.InvalidVersion):
        pass
    certs: list[x509.Certificate] = []
    marker = b"-----END CERTIFICATE-----"
    for chunk in data.split(marker):
        start = chunk.find(b"-----BEGIN CERTIFICATE-----")
        if start < 0:
            continue
        try:
            certs.append(x509.load_pem_x509_certificate(chunk[start:] + marker))
        except (ValueError, x509.InvalidVersion):  # the latter: a version not 1 to 3
            continue
    return certs


class TrustStore:
    """An immutable set of trust anchors."""

    _default: TrustStore | None = None
    _default_lock = threading.Lock()

    def __init__(
        self, certificates: Iterable[x509.Certificate] = (), *, curated: bool = False
    ) -> None:
        """``curated`` marks a root program's bundle (the platform's, certifi's): its roots
        have been vetted by people, so the issuance rules `Verifier.lint` and the "cabf"
        profile hold anchors to (critical basicConstraints, a subjectKeyIdentifier, a bare
        authorityKeyIdentifier, no extendedKeyUsage) are not held against them. Eight of
        the roots Debian ships predate those rules. Validation itself (validity, key
        strength, cA and keyCertSign, constraints) applies to every anchor alike."""
        self.curated = curated
        # Analyses of anchors (`certinfo.CertInfo`), filled by the Verifiers that use this
        # store: anchors outlive verifiers, so a new Verifier need not parse them again.
        self.analyses: dict[x509.Certificate, Any] = {}
        self._certs: list[x509.Certificate] = []
        self._by_subject: dict[x509.Name, list[x509.Certificate]] = {}
        self._by_subject_der: dict[bytes, list[x509.Certificate]] = {}
        self._fingerprints: set[bytes] = set()
        self._ders: set[bytes] = set()  # a leaf is looked up by DER: no hash per handshake
        with _quiet():
            for cert in certificates:
                der = cert.public_bytes(serialization.Encoding.DER)
                fp = hashlib.sha256(der).digest()
                if fp in self._fingerprints:
                    continue
                self._fingerprints.add(fp)
                self._ders.add(der)
                self._certs.append(cert)
                self._by_subject.setdefault(cert.subject, []).append(cert)
                self._by_subject_der.setdefault(cert.subject.public_bytes(), []).append(cert)

    @classmethod
    def from_pem(cls, data: bytes) -> TrustStore:
        return cls(load_pem_certificates(data))

    @classmethod
    def from_pem_file(cls, path: str | os.PathLike[str]) -> TrustStore:
        """Load a CA file (PEM, any number of certificates). A file without a single
        certificate is almost certainly a mistake, so it raises rather than trusting nothing."""
        certs = load_pem_certificates(Path(path).read_bytes())
        if not certs:
            raise ValueError(f"no certificates found in {os.fspath(path)}")
        return cls(certs)

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> TrustStore:
        """Load every ``*.pem``/``*.crt`` file of an OpenSSL-style CA directory."""
        certs: list[x509.Certificate] = []
        for entry in sorted(Path(path).iterdir()):
            if entry.is_file() and entry.suffix in (".pem", ".crt", ".0"):
                try:
                    certs.extend(load_pem_certificates(entry.read_bytes()))
                except OSError:
                    continue
        return cls(certs)

    @classmethod
    def default(cls) -> TrustStore:
        """The platform's CA bundle, or certifi's where the platform has none.

        Loaded once per process: parsing ~150 roots on every handshake would be waste."""
        with cls._default_lock:
            if cls._default is None:
                with _quiet():
                    cls._default = cls._load_default()
            return cls._default

    @classmethod
    def _load_default(cls) -> TrustStore:
        paths = ssl.get_default_verify_paths()
        candidates = [p for p in (paths.cafile, paths.openssl_cafile) if p]
        candidates.extend(_SYSTEM_BUNDLES)
        for candidate in candidates:
            if os.path.isfile(candidate):
                store = cls(load_pem_certificates(Path(candidate).read_bytes()), curated=True)
                if len(store):
                    return store
        if paths.capath and os.path.isdir(paths.capath):
            store = cls(cls.from_directory(paths.capath), curated=True)
            if len(store):
                return store
        import certifi

        return cls(load_pem_certificates(Path(certifi.where()).read_bytes()), curated=True)

    def issuers_named(self, name: x509.Name | bytes) -> list[x509.Certificate]:
        """Anchors whose subject is ``name`` (candidates to have issued a certificate):
        a parsed Name compares as RFC 5280 names do, encoded DER bytes compare exactly
        (the fast path a validator takes first)."""
        if isinstance(name, bytes):
            return self._by_subject_der.get(name, [])
        return self._by_subject.get(name, [])

    def contains_fingerprint(self, fingerprint: bytes) -> bool:
        """Is a certificate with this SHA-256 fingerprint (of its DER) an anchor?"""
        return fingerprint in self._fingerprints

    def contains_der(self, der: bytes) -> bool:
        """Is a certificate with exactly this DER an anchor?"""
        return der in self._ders

    def __contains__(self, cert: object) -> bool:
        return isinstance(cert, x509.Certificate) and _fingerprint(cert) in self._fingerprints

    def __len__(self) -> int:
        return len(self._certs)

    def __iter__(self) -> Iterator[x509.Certificate]:
        return iter(self._certs)

    def __repr__(self) -> str:
        kind = "curated " if self.curated else ""
        return f"<{kind}TrustStore with {len(self)} anchors>"
