"""Events a connection reports from `receive_data` (h11/h2 style)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509

from .enums import AlertDescription, CipherSuite, NamedGroup, SignatureScheme
from .session import Session


@dataclass(slots=True)
class Event:
    """Base of everything `receive_data` returns."""


@dataclass(slots=True)
class HandshakeComplete(Event):
    """Both Finished messages checked; application data may flow.

    ``version`` is "TLSv1.3" or "TLSv1.2"; the algorithms are the exported enums, whose
    ``.name`` is the IANA name (``hc.group.name == "x25519"``). ``group`` is None for a
    resumption without (EC)DHE, ``signature_scheme`` for a resumption (no signature).
    """

    version: str
    cipher_suite: CipherSuite
    group: NamedGroup | None
    signature_scheme: SignatureScheme | None
    alpn_protocol: str | None
    peer_certificates: list[x509.Certificate] = field(default_factory=list)
    resumed: bool = False
    server_name: str | None = None
    ocsp_response: bytes | None = None


@dataclass(slots=True)
class DataReceived(Event):
    """Application data from the peer, decrypted and authenticated."""

    data: bytes


@dataclass(slots=True)
class ConnectionClosed(Event):
    """The peer closed: ``alert`` is None for a clean close_notify, else the fatal alert."""

    alert: AlertDescription | None = None


@dataclass(slots=True)
class KeyUpdated(Event):
    """The peer moved to new traffic keys (and we answered if it asked us to)."""

    peer_requested_update: bool


@dataclass(slots=True)
class SessionTicketReceived(Event):
    """A ticket to resume with: pass ``session`` to a later `ClientConnection`."""

    lifetime: int
    ticket: bytes
    session: Session | None = None
