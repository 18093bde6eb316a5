"""`LocalCA`: a root and an intermediate that issue, revoke and answer for leaves, kept in
memory or in a directory (see the package's documentation)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from . import build
from .files import PrivateKey, dir_lock, pem_cert, pem_key, write_file
from .index import Record, check_pair, dump_index, load_index, load_key
from .model import (
    BACKDATE,
    INDEX,
    INTERMEDIATE_CERT,
    INTERMEDIATE_CRL_PATH,
    INTERMEDIATE_DAYS,
    INTERMEDIATE_KEY,
    LOCAL_NAMES,
    LOCK,
    ROOT_CERT,
    ROOT_CRL_PATH,
    ROOT_DAYS,
    ROOT_KEY,
    CAError,
    Clock,
    Issued,
    KeyType,
    Kind,
    Revocation,
    Status,
    aware,
    default_directory,
    format_serial,
    parse_reason,
    utc_now,
)
from .ocsp import OCSPAnswers
from .responder import OCSPResponder

if TYPE_CHECKING:
    from ..config import ClientConfig, ServerConfig


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
        self.clock: Clock = clock or utc_now
        self._lock = threading.RLock()
        self._records: dict[int, Record] = {}
        self._crl_number = 0
        self._index_stamp: tuple[int, int, int] | None = None
        self._ocsp = OCSPAnswers(
            ((intermediate, intermediate_key), (root, root_key)), self._snapshot, self._now)

    def __repr__(self) -> str:
        where = str(self.directory) if self.directory else "in memory"
        return f"<LocalCA {self.root.subject.rfc4514_string()} ({where})>"

    @property
    def url(self) -> str | None:
        """The responder URL the intermediate names (see `create`), or None."""
        return build.ocsp_url_of(self.intermediate)

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
        base = build.check_url(url).rstrip("/") if url else None
        clock = clock or utc_now
        now = aware(clock())
        tag = secrets.token_hex(3)  # two CAs with the same name still get distinct subjects
        org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, name[:64])
        root_name = x509.Name([org, build.cn(f"{name[:44]} root {tag}")])
        inter_name = x509.Name([org, build.cn(f"{name[:36]} intermediate {tag}")])
        root_key, inter_key = kind.generate(), kind.generate()
        root_not_after = now + dt.timedelta(days=ROOT_DAYS)
        root = build.ca_certificate(
            subject=root_name,
            issuer=root_name,
            key=root_key,
            signer=root_key,
            not_before=now - BACKDATE,
            not_after=root_not_after,
            path_length=None,
            issuer_ski=None,
        )
        intermediate = build.ca_certificate(
            subject=inter_name,
            issuer=root_name,
            key=inter_key,
            signer=root_key,
            not_before=now - BACKDATE,
            not_after=min(now + dt.timedelta(days=INTERMEDIATE_DAYS), root_not_after),
            path_length=0,
            issuer_ski=build.ski(root),
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
            root_key = load_key(path / ROOT_KEY)
            inter_key = load_key(path / INTERMEDIATE_KEY)
        except (OSError, ValueError) as exc:
            raise CAError(f"cannot read the CA in {path}: {exc}") from exc
        check_pair(root, root_key, path / ROOT_KEY)
        check_pair(inter, inter_key, path / INTERMEDIATE_KEY)
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
        with dir_lock(path / LOCK):
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
        with self._lock, dir_lock(path / LOCK):
            if (path / ROOT_CERT).exists() and not overwrite:
                raise CAError(f"a CA already exists in {path}")
            write_file(path / INDEX, dump_index({}, 0), 0o644)
            write_file(path / ROOT_KEY, pem_key(self.root_key), 0o600)
            write_file(path / INTERMEDIATE_KEY, pem_key(self.intermediate_key), 0o600)
            write_file(path / INTERMEDIATE_CERT, pem_cert(self.intermediate), 0o644)
            write_file(path / ROOT_CERT, pem_cert(self.root), 0o644)  # last: marks "done"
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
            self._records, self._crl_number = load_index(self.directory / INDEX)
            self._index_stamp = stamp

    @contextlib.contextmanager
    def _updating(self) -> Iterator[None]:
        """Read-modify-write of the index under both the thread and the directory lock."""
        with self._lock:
            if self.directory is None:
                yield
                return
            with dir_lock(self.directory / LOCK):
                self._index_stamp = None  # force a reload: we must modify the latest state
                self._refresh()
                yield
                write_file(
                    self.directory / INDEX, dump_index(self._records, self._crl_number), 0o644
                )
                self._refresh()

    def _now(self) -> dt.datetime:
        return aware(self.clock())

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
        must_staple: bool = False,
    ) -> Issued:
        """A serverAuth leaf for host names and IP addresses (the first one is also the CN).

        Valid from an hour ago for ``days``, or exactly from ``not_before`` to ``not_after``
        (either may be in the past or the future: an expired or not-yet-valid certificate
        for tests). ``ocsp_url``/``crl_url`` default to the CA's own (see `create`); pass
        ``""`` to leave them out. ``must_staple`` adds OCSP Must-Staple (RFC 7633's TLS
        Feature status_request): Firefox then refuses the server unless it staples a
        valid OCSP response (it needs an OCSP URL to fetch one from)."""
        window = self._validity(days, not_before, not_after)
        return self._issue("server", names, key_type, window, ocsp_url, crl_url, must_staple)

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
        start = aware(not_before) if not_before is not None else now - BACKDATE
        end = aware(not_after) if not_after is not None else now + dt.timedelta(days=days)
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
        check = build.check_url
        return (check(ocsp_url) if ocsp_url else "", check(crl_url) if crl_url else "")

    def _issue(
        self,
        kind: Kind,
        names: Sequence[str] | str,
        key_type: KeyType | str,
        window: tuple[dt.datetime, dt.datetime],
        ocsp_url: str | None,
        crl_url: str | None,
        must_staple: bool = False,
    ) -> Issued:
        names = [n.strip() for n in ([names] if isinstance(names, str) else names)]
        if not names or not all(names):
            raise CAError("a certificate needs at least one non-empty name")
        general_names = list(dict.fromkeys(build.general_name(n, kind) for n in names))
        common_name = build.name_text(general_names[0])
        key = KeyType.parse(key_type).generate()
        urls = self._default_urls(ocsp_url, crl_url)
        if must_staple and not urls[0]:
            raise CAError("a must-staple certificate needs an OCSP URL for its server to "
                          "fetch staples from: give ocsp_url (--ocsp-url) or a CA URL")
        with self._updating():
            serial = build.new_serial(lambda s: s in self._records)
            cert = build.leaf_certificate(kind, common_name, general_names, key, serial, window,
                                          urls, (self.intermediate, self.intermediate_key),
                                          must_staple)
            self._records[serial] = Record(kind=kind, names=names, not_after=window[1])
        return Issued(certificate=cert, private_key=key, chain=[cert, self.intermediate])

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
        return build.crl(issuer, key, number, (now, now + dt.timedelta(days=days)), revoked)

    # ----------------------------------------------------------- OCSP

    def ocsp_response(self, request_der: bytes) -> bytes:
        """Answer a DER OCSPRequest, about one certificate or several, with a DER
        OCSPResponse signed by the CA that issued them: the intermediate for leaves, the
        root for the intermediate."""
        return self._ocsp.answer(request_der)[0]

    def answer_ocsp(self, request_der: bytes) -> tuple[bytes, str]:
        """`ocsp_response` and a one-line summary of the answer, for a responder's log."""
        return self._ocsp.answer(request_der)

    def _snapshot(self) -> dict[int, Record]:
        """The index as it is now on disk (another process may have revoked since)."""
        with self._lock:
            self._refresh()
            return dict(self._records)

    def serve_ocsp(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log: Callable[[str], None] | None = None,
    ) -> OCSPResponder:
        """Start an HTTP OCSP responder on a background thread (port 0: the OS picks).

        It answers OCSP by POST and GET (GET answers carry RFC 5019 cache headers valid
        until their nextUpdate) and serves the intermediate's and the root's CRLs at
        `INTERMEDIATE_CRL_PATH` and `ROOT_CRL_PATH`; each CRL is signed once and served
        again until a revocation changes it or half its validity has passed."""
        return OCSPResponder(self, host, port, log=log)

    # ----------------------------------------------------------- export

    def export_root_pem(self) -> bytes:
        """The root certificate as PEM: what clients trust (``tlskit ca export-root``)."""
        return pem_cert(self.root)

    # ----------------------------------------------------------- test-suite helpers

    def client_config(self, identity: Issued | None = None, **overrides: Any) -> ClientConfig:
        """A `ClientConfig` trusting this CA's root (and only it), presenting ``identity``
        (a client leaf from `issue_client`) when given. ``overrides`` are passed on, e.g.
        ``alpn_protocols=["h2"]``; they win over what this method sets."""
        from ..config import CertifiedKey, ClientConfig

        options: dict[str, Any] = {"trust_anchors": [self.root]}
        if identity is not None:
            options["certificate"] = CertifiedKey(list(identity.chain), identity.private_key)
        return ClientConfig(**{**options, **overrides})

    def server_config(self, leaf: Issued | None = None, **overrides: Any) -> ServerConfig:
        """A `ServerConfig` serving ``leaf`` with its intermediate (by default a new leaf
        for localhost, 127.0.0.1 and ::1). With ``client_auth="optional"`` or
        ``"required"`` among the overrides, client certificates from this CA are trusted."""
        from ..config import ServerConfig

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
