"""Server-side OCSP stapling (RFC 6066 section 8, RFC 8446 section 4.4.2.1).

`OcspStapler` keeps one current OCSP response for a server certificate, taken from a file an
operator's cron job refreshes, or fetched from the responder named in the certificate. The TLS
engine calls `OcspStapler.current` every time it builds a Certificate message, so that call:

* is cheap in the common case (no I/O until the response is half-way through its validity);
* never raises: a failed refresh keeps the previous response while it is still valid, and
  after that staples nothing (a missing staple is better than a stale one, which clients reject);
* retries a failed refresh at most once per ``retry_interval``, so a dead responder does not
  stall every handshake by its timeout.

Only responses that pass the same checks a client makes (`evaluate_ocsp_response`: authentic,
about this certificate, current) are stapled. "revoked" responses are stapled too: hiding them
would not make the certificate less revoked. "unknown" responses are not stapled (useless).
Requests carry no nonce: the response is shared by every client, and responders that serve
pre-signed answers (most of them, RFC 5019) would not echo one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from . import http
from .evidence import CLOCK_SKEW, EvidenceError, _utc
from .ocsp import (
    OcspEvidence,
    _post_ocsp_request,
    _responder_urls,
    build_ocsp_request,
    evaluate_ocsp_response,
    validate_stapled_response,
)

__all__ = ["OcspStapler", "validate_stapled_response"]


def _system_clock() -> datetime:
    return datetime.now(UTC)


class OcspStapler:
    """Holds the OCSP response to staple for ``leaf`` (issued by ``issuer``).

    Give ``response_file`` to read a DER response from disk (re-read when a refresh is due);
    otherwise the response is fetched from ``url`` or, by default, from the first http://
    OCSP responder in the leaf's AIA extension. ``clock`` returns the current aware UTC time
    (tests inject one). ``last_error`` says why the latest refresh attempt failed, for logs.
    """

    def __init__(
        self,
        leaf: x509.Certificate,
        issuer: x509.Certificate,
        *,
        response_file: str | os.PathLike[str] | None = None,
        url: str | None = None,
        clock: Callable[[], datetime] = _system_clock,
        timeout: float = 5.0,
        retry_interval: timedelta = timedelta(minutes=1),
        max_response_bytes: int = http.MAX_RESPONSE_BYTES,
        background: bool = True,
    ) -> None:
        self.leaf = leaf
        self.issuer = issuer
        self.response_file = Path(response_file) if response_file is not None else None
        self.url = url if url is not None or self.response_file else _aia_responder(leaf)
        self.clock = clock
        self.timeout = timeout
        self.retry_interval = retry_interval
        self.max_response_bytes = max_response_bytes
        self.last_error: str | None = None
        self._der: bytes | None = None
        self._evidence: OcspEvidence | None = None
        self._next_attempt: datetime | None = None
        self._lock = threading.Lock()
        # With `background`, a due refresh runs in its own thread and current() answers
        # at once with what it holds: a handshake never waits on a slow responder.
        self.background = background
        self._worker: threading.Thread | None = None

    def current(self) -> bytes | None:
        """The DER response to staple now, or None. Refreshes when due; never raises."""
        now = _utc(self.clock())
        with self._lock:
            if self._refresh_due(now) and self._may_attempt(now):
                if self.background:
                    self._start_worker(now)
                else:
                    self._attempt(now)
            if self._evidence is not None and not _usable_at(self._evidence, now):
                self._der = self._evidence = None
            return self._der

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background refresh in progress (for tests and graceful startup)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _start_worker(self, now: datetime) -> None:
        if self._worker is not None and self._worker.is_alive():
            return
        self._next_attempt = now + self.retry_interval  # one attempt per interval

        def work() -> None:
            fetched = self._fetch(now)  # without the lock: current() answers meanwhile
            with self._lock:
                self._adopt(fetched)

        self._worker = threading.Thread(target=work, name="tlskit-ocsp-stapler", daemon=True)
        self._worker.start()

    def refresh(self) -> bool:
        """Try to load a newer response now, ignoring schedules; True if one was adopted."""
        with self._lock:
            return self._attempt(_utc(self.clock()))

    def _refresh_due(self, now: datetime) -> bool:
        """Due when we have nothing, or the response is past half its validity window."""
        if self._evidence is None:
            return True
        start, end = self._evidence.this_update, self._evidence.valid_until
        return now >= start + (end - start) / 2

    def _may_attempt(self, now: datetime) -> bool:
        return self._next_attempt is None or now >= self._next_attempt

    def _attempt(self, now: datetime) -> bool:
        """Load a candidate and adopt it if it is valid and newer than what we hold."""
        self._next_attempt = now + self.retry_interval
        return self._adopt(self._fetch(now))

    def _fetch(self, now: datetime) -> tuple[bytes, OcspEvidence] | str:
        """A candidate response with its evaluation, or why there is none. It touches no
        state, so the background refresh runs it without holding the lock."""
        try:
            der = self._load()
            return der, evaluate_ocsp_response(der, self.leaf, self.issuer, now)
        except (EvidenceError, http.HttpError, OSError) as exc:
            return f"{self._source_label()} {exc}"

    def _adopt(self, fetched: tuple[bytes, OcspEvidence] | str) -> bool:
        """Take a fetched response if it is usable and newer (the lock held); True if so."""
        if isinstance(fetched, str):
            self.last_error = fetched
            return False
        der, evidence = fetched
        if evidence.status == "unknown":
            self.last_error = f"{self._source_label()} says the certificate is unknown"
            return False
        if self._evidence is not None and evidence.this_update <= self._evidence.this_update:
            self.last_error = f"{self._source_label()} has no newer response yet"
            return False
        self._der, self._evidence, self.last_error = der, evidence, None
        self._next_attempt = None
        return True

    def _load(self) -> bytes:
        if self.response_file is not None:
            return _read_capped(self.response_file, self.max_response_bytes)
        if self.url is None:
            raise EvidenceError("is missing: the certificate names no http:// OCSP responder")
        request = build_ocsp_request(self.leaf, self.issuer, nonce=None)
        return _post_ocsp_request(self.url, request, self.timeout, self.max_response_bytes)

    def _source_label(self) -> str:
        if self.response_file is not None:
            return f"OCSP response file {self.response_file}"
        return f"OCSP responder {self.url}" if self.url else "OCSP responder"


def _usable_at(evidence: OcspEvidence, now: datetime) -> bool:
    """Staple only what a client with a slightly fast or slow clock would still accept."""
    return evidence.this_update <= now + CLOCK_SKEW and now <= evidence.valid_until


def _read_capped(path: Path, limit: int) -> bytes:
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise EvidenceError(f"is larger than {limit} bytes")
    return data


def _aia_responder(leaf: x509.Certificate) -> str | None:
    """The first http:// OCSP responder URL in the leaf's AIA extension, if any."""
    try:
        urls = _responder_urls(leaf)
    except ValueError:
        return None
    return next((url for url in urls if url.lower().startswith("http://")), None)
