"""Certificate Transparency files for the command line: CT log keys (``connect
--ct-log``), SCT files (``serve --sct``), and the SCTs a server gave, in words.

Every loader raises ValueError with one line naming the file and what to do."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ..errors import DecodeError
from ..wire.sct import decode_sct
from ..x509.ct import CTLog, SCTCheck, SCTStatus, check_scts

# An SCT is at most 65535 bytes (RFC 6962 3.3) and a log key far less: reading stops
# there, so a wrong path (a device, a pipe, a huge file) is an error, not a hang.
_MAX_FILE = 0xFFFF


def _read(option: str, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_FILE + 1)
    except OSError as exc:
        raise ValueError(f"{option} {path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > _MAX_FILE:
        raise ValueError(f"{option} {path}: over {_MAX_FILE} bytes, larger than any SCT or "
                         "CT log key: give the right file")
    return data


def load_ct_log(option: str, path: str) -> CTLog:
    """A CT log's public key: PEM ("BEGIN PUBLIC KEY") or DER SubjectPublicKeyInfo, named
    after the file."""
    data = _read(option, path)
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # (cryptography's own text is a paragraph about encodings; ours says what to give)
        raise ValueError(_not_a_log_key(option, path, "no public key could be read from it")
                         ) from None
    try:
        return CTLog(key, Path(path).stem)
    except (ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(_not_a_log_key(option, path, reason)) from None


def _not_a_log_key(option: str, path: str, reason: str) -> str:
    return (f"{option} {path}: not a CT log public key ({reason}); give the log's key as "
            "PEM 'BEGIN PUBLIC KEY' or DER SubjectPublicKeyInfo, ECDSA P-256 or RSA")


def load_sct_file(option: str, path: str) -> bytes:
    """One serialized v1 SCT (RFC 6962 3.2), as binary (the .sct files CT submission
    tools write), checked to parse."""
    data = _read(option, path)
    try:
        decode_sct(data)
    except DecodeError as exc:
        raise ValueError(f"{option} {path}: not a serialized SCT ({exc}); give one binary "
                         "SCT v1 per file, as a CT log's add-chain answer encodes it") from None
    return data


def _when(ms: int) -> str:
    try:
        moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return f"{ms} ms"
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sct_summary(logs: Sequence[CTLog], chain: Sequence[x509.Certificate],
                tls_scts: Sequence[bytes], now: float,
                ocsp_response: bytes | None = None) -> list[dict[str, Any]]:
    """Each SCT for the leaf (from TLS, its OCSP staple, and embedded in it) as a dict for
    the summary:
    where it came from, the log (ID and, when known, name), the time, and the outcome
    ("not checked" without logs)."""
    if not chain:
        return []
    checks = check_scts(logs, chain[0], chain[1] if len(chain) > 1 else None, tls_scts,
                        int(now * 1000), ocsp_response)
    return [_row(c, bool(logs)) for c in checks]


def _row(check: SCTCheck, with_logs: bool) -> dict[str, Any]:
    sct = check.sct
    status = str(check.status)
    if not with_logs and check.status is SCTStatus.unknown_log:
        status = "not checked (no --ct-log)"
    return {
        "source": check.source,
        "log_id": None if sct is None else base64.b64encode(sct.log_id).decode(),
        "log": None if check.log is None else check.log.label(),
        "timestamp": None if sct is None else _when(sct.timestamp),
        "status": status,
        "verified": check.status is SCTStatus.valid,
    }
