"""External pre-shared keys for TLS 1.3 (RFC 8446 2.2, 4.2.11; RFC 9257 guidance).

An `ExternalPsk` is an identity, a secret and the hash the two sides agreed on (RFC 8446
4.2.11: a key without one is SHA-256). A client offers them in
`ClientConfig.external_psks`; a server finds them by identity through
`ServerConfig.external_psks` (a list, or a lookup callable for servers with many devices).
The binders use the "ext binder" key (7.1), so an external key and a resumption key can
never stand in for each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from . import crypto

# RFC 9257 6 and RFC 8446 E.7: an external PSK needs at least 128 bits of entropy;
# a low-entropy one (a password) falls to an offline dictionary attack on the binder.
MIN_SECRET_BYTES = 16
HASHES = ("sha256", "sha384")
# A server asks its lookup about at most this many identities per ClientHello: the
# identities are the client's to choose (a 64 KB hello holds over a thousand), the lookup
# may be a database query. GnuTLS looks up one external identity per hello; OpenSSL
# asks its callback about every identity (see docs/psk.md).
MAX_PSK_LOOKUPS = 16
# ... so a client offers at most this many (with a ticket in front, all are looked up).
MAX_OFFERED = 8

PskLookup = Callable[[bytes], "ExternalPsk | None"]


@dataclass(frozen=True, slots=True)
class ExternalPsk:
    """One externally provisioned TLS 1.3 key: ``identity`` as sent on the wire,
    ``secret`` (never shown in the repr) and its ``hash`` ("sha256", the RFC 8446
    default, or "sha384"), which limits it to the suites of that hash."""

    identity: bytes
    secret: bytes = field(repr=False)
    hash: Literal["sha256", "sha384"] = "sha256"

    def __post_init__(self) -> None:
        for name in ("identity", "secret"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"ExternalPsk.{name} takes bytes, not str (encode it, or "
                                f"bytes.fromhex for a hex key)")
            if not isinstance(value, bytes | bytearray):
                raise TypeError(f"ExternalPsk.{name} takes bytes, not {type(value).__name__}")
            object.__setattr__(self, name, bytes(value))
        if not 0 < len(self.identity) < 1 << 16:
            raise ValueError("an external PSK identity must be 1..65535 bytes (RFC 8446 4.2.11)")
        if len(self.secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"an external PSK secret must be at least {MIN_SECRET_BYTES} bytes of "
                f"random (128 bits, RFC 9257 6): a shorter or guessable one falls to an "
                f"offline guessing attack on the binder; got {len(self.secret)}")
        if self.hash not in HASHES:
            raise ValueError(f"ExternalPsk.hash must be 'sha256' or 'sha384', not {self.hash!r}")


def fingerprint(psk: ExternalPsk) -> bytes:
    """16 bytes naming the key (hash and secret) in the tickets of the sessions it
    authenticated, so that a session outlives neither its key's removal nor a new secret
    for its identity. One-way: a ticket does not carry the secret."""
    return hashlib.sha256(b"tlskit external psk\0" + psk.hash.encode() + b"\0"
                          + psk.secret).digest()[:16]


def checked_answer(answer: object) -> ExternalPsk | None:
    """A lookup's answer, which must be an `ExternalPsk` or None (anything else is a bug
    in the lookup: TypeError, which the connection reports as internal_error)."""
    if answer is None or isinstance(answer, ExternalPsk):
        return answer
    raise TypeError(f"external_psks lookup returned {type(answer).__name__}, not "
                    "ExternalPsk or None")


def suites_for(psk: ExternalPsk, suites: Sequence[int]) -> list[int]:
    """The TLS 1.3 suites among ``suites`` this key may be used with (its hash)."""
    return [s for s in suites if crypto.SUITES[s].hash_name == psk.hash]


def check_client_psks(psks: Sequence[ExternalPsk], suites: Sequence[int],
                      versions: Sequence[str]) -> tuple[ExternalPsk, ...]:
    """`ClientConfig.external_psks`, checked: TLS 1.3 on, unique identities, and a
    configured suite of each key's hash."""
    out = tuple(psks)
    if not out:
        return out
    _check_tls13(versions)
    seen: set[bytes] = set()
    for psk in out:
        if not isinstance(psk, ExternalPsk):
            raise TypeError(f"external_psks takes tlskit.ExternalPsk values, not "
                            f"{type(psk).__name__}")
        if psk.identity in seen:
            raise ValueError(f"external PSK identity {psk.identity!r} is listed twice")
        seen.add(psk.identity)
        _check_suite(psk, suites)
    return out


def server_lookup(psks: Sequence[ExternalPsk] | PskLookup, suites: Sequence[int],
                  versions: Sequence[str]) -> PskLookup | None:
    """`ServerConfig.external_psks` as one lookup (None: no external PSKs). A list is
    checked now; a callable's answers are checked per handshake (see the server)."""
    if callable(psks):
        _check_tls13(versions)
        return psks
    table: dict[bytes, ExternalPsk] = {}
    for psk in check_client_psks(psks, suites, versions):
        table[psk.identity] = psk
    return table.get if table else None


def _check_tls13(versions: Sequence[str]) -> None:
    if "TLSv1.3" not in versions:
        raise ValueError("external PSKs need TLS 1.3: tlskit has no TLS 1.2 PSK suites "
                         "(RFC 4279); enable TLSv1.3 and its cipher suites")


def _check_suite(psk: ExternalPsk, suites: Sequence[int]) -> None:
    if not suites_for(psk, suites):
        raise ValueError(f"external PSK {psk.identity!r} is a {psk.hash} key, but no "
                         f"configured TLS 1.3 cipher suite uses {psk.hash} (RFC 8446 "
                         f"4.2.11: a PSK is used only with suites of its hash)")


__all__ = ["ExternalPsk", "PskLookup"]
