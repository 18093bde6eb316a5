"""Session resumption with tickets (RFC 8446 2.2, 4.6.1): what each side remembers.

The client keeps a `Session` per ticket (the PSK derived from the ticket nonce, the
suite, the peer's chain); the server keeps nothing: its ticket is the session state
sealed with AES-GCM under a key only the server knows.
"""

from __future__ import annotations

import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .crypto import SUITES, Suite

MAX_TICKET_LIFETIME = 604800  # 7 days, 4.6.1


@dataclass(slots=True)
class Session:
    """A resumable session as the client stores it."""

    ticket: bytes
    psk: bytes
    suite: Suite
    age_add: int
    lifetime: int
    received_at: float
    server_name: str | None
    alpn_protocol: str | None = None
    peer_certificates: list[x509.Certificate] = field(default_factory=list)
    group: str | None = None

    def valid_at(self, now: float) -> bool:
        return now < self.received_at + min(self.lifetime, MAX_TICKET_LIFETIME)

    def obfuscated_age(self, now: float) -> int:
        age_ms = max(0, int((now - self.received_at) * 1000))
        return (age_ms + self.age_add) & 0xFFFFFFFF


class SessionCache:
    """A small thread-safe LRU of sessions keyed by server name; each ticket used once."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._items: OrderedDict[str, list[Session]] = OrderedDict()

    def put(self, session: Session) -> None:
        key = session.server_name or ""
        with self._lock:
            bucket = self._items.setdefault(key, [])
            bucket.append(session)
            del bucket[:-4]  # keep the newest few tickets per server
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def take(self, server_name: str | None, now: float) -> Session | None:
        """The newest valid session for this server, removed (tickets are single-use)."""
        with self._lock:
            bucket = self._items.get(server_name or "", [])
            while bucket:
                session = bucket.pop()
                if session.valid_at(now):
                    return session
        return None


# --- server side: sealed ticket state -----------------------------------------------------

_STATE = struct.Struct(">BHQI")  # format version, suite, issued at (ms), lifetime


@dataclass(slots=True)
class TicketState:
    suite: Suite
    psk: bytes
    issued_ms: int
    lifetime: int
    alpn_protocol: str | None
    server_name: str | None


class TicketSealer:
    """Seals ticket state with AES-256-GCM; a ticket that fails to open is just ignored."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("ticket key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, state: TicketState, nonce: bytes) -> bytes:
        alpn = (state.alpn_protocol or "").encode()
        sni = (state.server_name or "").encode()
        plain = (_STATE.pack(1, state.suite.code, state.issued_ms, state.lifetime)
                 + bytes((len(state.psk),)) + state.psk + bytes((len(alpn),)) + alpn
                 + len(sni).to_bytes(2, "big") + sni)
        return nonce + self._aead.encrypt(nonce, plain, b"tlskit ticket")

    def open(self, ticket: bytes) -> TicketState | None:
        if len(ticket) < 12 + 16 + _STATE.size:
            return None
        try:
            plain = self._aead.decrypt(ticket[:12], ticket[12:], b"tlskit ticket")
        except InvalidTag:
            return None
        version, suite_code, issued_ms, lifetime = _STATE.unpack_from(plain)
        suite = SUITES.get(suite_code)
        if version != 1 or suite is None:
            return None
        pos = _STATE.size
        psk_len = plain[pos]
        psk = plain[pos + 1:pos + 1 + psk_len]
        pos += 1 + psk_len
        alpn_len = plain[pos]
        alpn = plain[pos + 1:pos + 1 + alpn_len].decode()
        pos += 1 + alpn_len
        sni_len = int.from_bytes(plain[pos:pos + 2], "big")
        sni = plain[pos + 2:pos + 2 + sni_len].decode()
        return TicketState(suite, psk, issued_ms, lifetime, alpn or None, sni or None)
