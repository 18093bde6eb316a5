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
    # 0-RTT: whether the server took the client's early data (False when none was sent).
    early_data_accepted: bool = False
    # Encrypted Client Hello (RFC 9849) was accepted: the real server name and the rest
    # of the hello went encrypted (client: a rejection raises EchRejected instead;
    # server: it decrypted the inner hello with one of its ech_keys).
    ech_accepted: bool = False
    # The identity of the external PSK (RFC 8446 2.2) that authenticated the peer, in
    # place of a certificate (None: no external PSK; ``peer_certificates`` is then
    # empty and ``signature_scheme`` None when set).
    external_psk_identity: bytes | None = None
    # RFC 7250: the peer's raw public key (DER SubjectPublicKeyInfo) when it presented
    # one instead of a certificate, checked against the pins (``peer_certificates`` is
    # then empty); None otherwise.
    peer_raw_public_key: bytes | None = None
    # RFC 6962 3.3: the serialized SCTs the server delivered in TLS for its certificate
    # (client side, when ``request_scts`` asked for them; a resumption keeps the
    # original ones). Empty otherwise; SCTs embedded in the certificate are not here.
    signed_certificate_timestamps: tuple[bytes, ...] = ()


@dataclass(slots=True)
class DataReceived(Event):
    """Application data from the peer, decrypted and authenticated."""

    data: bytes


@dataclass(slots=True)
class EarlyDataReceived(DataReceived):
    """Server side: 0-RTT data, before the handshake completes. It may be a replay
    (RFC 8446 8): act on it only if doing so twice is harmless."""


@dataclass(slots=True)
class ClientCertificateReceived(Event):
    """Server side: the client answered a post-handshake CertificateRequest (RFC 8446
    4.6.2); ``peer_certificates`` is its verified chain, empty if it declined."""

    peer_certificates: list[x509.Certificate] = field(default_factory=list)
    # RFC 7250: the client's pinned raw public key, when raw keys were negotiated for
    # its certificate in the handshake (``peer_certificates`` is then empty).
    peer_raw_public_key: bytes | None = None


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
