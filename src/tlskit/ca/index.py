"""What a CA directory holds besides its certificates: ``index.json`` (every certificate
the intermediate issued, and every revocation) and the two private keys, read back and
checked against their certificates."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .files import PrivateKey
from .model import INDEX_VERSION, CAError, Kind, Revocation, format_serial


@dataclass
class Record:
    """What the index keeps about one issued certificate."""

    kind: Kind
    names: list[str]
    not_after: dt.datetime
    revocation: Revocation | None = None


def _record_to_json(record: Record) -> dict[str, Any]:
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


def _moment(text: str) -> dt.datetime:
    """A time as `dump_index` writes it: with its UTC offset, and one a CRL can carry
    (revocations are sorted together and signed into CRLs)."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.year < 1950:
        raise ValueError(f"{text!r} is not a time with a UTC offset from 1950 on")
    return moment


def _record_from_json(serial: int, data: dict[str, Any]) -> Record:
    if not 0 < serial < 1 << 159:  # RFC 5280 4.1.2.2: positive, at most 20 octets
        raise ValueError(f"serial {serial:#x} is not a certificate serial number")
    revoked = data.get("revoked")
    revocation = None
    if revoked:
        revocation = Revocation(
            serial_number=serial,
            reason=x509.ReasonFlags(revoked["reason"]),
            revoked_at=_moment(revoked["at"]),
        )
    return Record(
        kind=data["kind"],
        names=list(data.get("names", [])),
        not_after=_moment(data["not_after"]),
        revocation=revocation,
    )


def dump_index(records: dict[int, Record], crl_number: int) -> bytes:
    doc = {
        "version": INDEX_VERSION,
        "crl_number": crl_number,
        "certificates": {format_serial(s): _record_to_json(r) for s, r in records.items()},
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def load_index(path: Path) -> tuple[dict[int, Record], int]:
    """The records and the last CRL number; an absent index is an empty one."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        records = {
            int(key, 16): _record_from_json(int(key, 16), value)
            for key, value in doc.get("certificates", {}).items()
        }
        return records, int(doc.get("crl_number", 0))
    except FileNotFoundError:
        return {}, 0
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError,
            RecursionError) as exc:  # Infinity as a number; arrays nested past the stack
        raise CAError(f"corrupt CA index {path}: {exc}") from exc


def load_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise CAError(f"{path}: unsupported key type {type(key).__name__}")
    return key


def check_pair(cert: x509.Certificate, key: PrivateKey, key_path: Path) -> None:
    """Catch a key file swapped for another CA's before it signs anything unverifiable."""
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if cert.public_key().public_bytes(*fmt) != key.public_key().public_bytes(*fmt):
        raise CAError(f"{key_path} does not match its certificate")
