"""Session resumption (RFC 8446 2.2, 4.6.1; TLS 1.2: RFC 5246 7.3, RFC 5077): what each
side remembers.

The client keeps a `Session` per ticket (the PSK derived from the ticket nonce, the
suite, the peer's chain; for TLS 1.2 the master secret, with a ticket or a session ID);
the server keeps nothing but keys: its ticket is the session state sealed with AES-GCM
under the session store's current ticket key (`tlskit.sessionstore`), and a TLS 1.2
session ID names the same sealed state in the store's session-ID cache.

A resumed connection skips certificate validation, so a session is bound to how its peer
was authenticated and is never used where a full handshake would have been refused:

* Client: a session remembers the server's chain, its stapled OCSP response and whether
  validation passed. One whose validation failed (``verify_mode="report"``) is never
  cached or offered. Before offering a session, the client asks its own verifier to
  accept the remembered chain for the name it is dialling now (RFC 8446 4.6.1: the new
  SNI must be valid for the original certificate); a client that does not check host
  names offers a session only to the server name it was made with.
* Server: a ticket seals the client's certificate chain (if it sent one) and the
  config's *session context*, a digest of its client-authentication policy and trust
  (like OpenSSL's session-ID context). A ticket resumes only under the same context and
  only if its client chain still validates; otherwise the handshake is a full one. A
  session an external PSK authenticated carries that PSK's identity and a fingerprint of
  its key instead, and resumes only while the server's lookup still has that key.
* TLS 1.2 follows the same rules, and a session made without the extended master secret
  is never made resumable, nor resumed by a hello without it (RFC 7627 5.3).
"""

from __future__ import annotations

import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .crypto import SUITES, SUITES12, Suite, Suite12
from .sessionstore import KEY_ID_LENGTH, GuardedStore

MAX_TICKET_LIFETIME = 604800  # 7 days, 4.6.1
CONTEXT_LENGTH = 32  # a SHA-256 session context


@dataclass(slots=True)
class Session:
    """A resumable session as the client stores it (secrets stay out of its repr)."""

    ticket: bytes = field(repr=False)
    psk: bytes = field(repr=False)
    suite: Suite
    age_add: int = field(repr=False)
    lifetime: int
    received_at: float
    server_name: str | None
    alpn_protocol: str | None = None
    peer_certificates: list[x509.Certificate] = field(default_factory=list)
    group: str | None = None
    # How the server was authenticated in the handshake that made this session.
    authenticated: bool = False      # its chain validated (no verification_error)
    hostname_checked: bool = False   # ... for `server_name`
    ocsp_response: bytes | None = field(default=None, repr=False)
    # 0-RTT (4.2.10): the ticket's max_early_data_size; 0 = no early data on this ticket.
    max_early_data: int = 0
    # TLS 1.2 (RFC 5246 7.3, RFC 5077): `psk` holds the master secret, `suite` is a
    # `Suite12`; `ticket` is empty when the server only gave a session ID.
    tls12: bool = False
    session_id: bytes = field(default=b"", repr=False)
    # A QUIC session (RFC 9001 4.6) keeps the server's transport parameters, which
    # 0-RTT on it must respect (RFC 9000 7.4.1); None for TLS over TCP. Either kind is
    # resumed only by its own protocol (their tickets carry other 0-RTT limits, state).
    quic_transport_parameters: bytes | None = field(default=None, repr=False)
    # RFC 7250: the server's raw public key (DER SubjectPublicKeyInfo) when it was
    # authenticated by a pin instead of a certificate; resumed only while still pinned.
    peer_raw_public_key: bytes | None = field(default=None, repr=False)
    # RFC 6962 3.3.1: the SCTs the server delivered in the full handshake, which a
    # resumption keeps (the server sends none then).
    signed_certificate_timestamps: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def quic(self) -> bool:
        """From a QUIC connection: offered only by QUIC clients (and the others only by
        TLS-over-TCP ones)."""
        return self.quic_transport_parameters is not None

    def valid_at(self, now: float) -> bool:
        """Still usable at ``now``: within the ticket's lifetime, and never past seven
        days whatever the server said (RFC 8446 4.6.1)."""
        return now < self.received_at + min(self.lifetime, MAX_TICKET_LIFETIME)

    def obfuscated_age(self, now: float) -> int:
        """The ticket's age in milliseconds plus ticket_age_add, modulo 2^32, as the
        pre_shared_key identity carries it (RFC 8446 4.2.11.1)."""
        age_ms = max(0, int((now - self.received_at) * 1000))
        return (age_ms + self.age_add) & 0xFFFFFFFF


# Tickets kept per server name and kind (RFC 8446 C.4: one per connection attempt; a
# few spare ones cover parallel connections).
TICKETS_PER_NAME = 4


@dataclass(slots=True)
class _Shelf:
    """One server name's sessions, newest last: QUIC and TLS apart, since neither is
    ever offered in place of the other and one kind's traffic must not evict the other."""

    tls: list[Session] = field(default_factory=list)
    quic: list[Session] = field(default_factory=list)

    def newest_first(self) -> list[tuple[list[Session], Session]]:
        """Every session with its bucket, the most recently received first."""
        both = [(self.tls, s) for s in self.tls] + [(self.quic, s) for s in self.quic]
        both.sort(key=lambda pair: pair[1].received_at)  # stable: ties stay in order
        both.reverse()
        return both


class SessionCache:
    """A small thread-safe LRU of sessions keyed by server name; each ticket used once.
    ``capacity`` counts server names; each keeps its newest four TLS and, apart, its
    newest four QUIC sessions, so a cache shared by both loses neither to the other."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._items: OrderedDict[str, _Shelf] = OrderedDict()

    def put(self, session: Session) -> None:
        """File a ticket under its server name and kind, keeping the newest four."""
        key = session.server_name or ""
        with self._lock:
            shelf = self._items.get(key)
            if shelf is None:
                shelf = self._items[key] = _Shelf()
            bucket = shelf.quic if session.quic else shelf.tls
            bucket.append(session)
            del bucket[:-TICKETS_PER_NAME]
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def take(self, server_name: str | None, now: float,
             accept: Callable[[Session], bool] | None = None) -> Session | None:
        """The newest valid session for this server that `accept` approves, removed
        (tickets are single-use). Expired sessions are dropped; ones `accept` refuses
        stay, since a cache may be shared by configs that trust differently (and by QUIC
        and TLS clients, each accepting only its own kind)."""
        with self._lock:
            shelf = self._items.get(server_name or "")
            if shelf is None:
                return None
            for bucket, session in shelf.newest_first():
                if not session.valid_at(now):
                    _remove(bucket, session)
                elif accept is None or accept(session):
                    _remove(bucket, session)
                    return session
        return None


def _remove(bucket: list[Session], session: Session) -> None:
    """Drop this very session (by identity: two sessions may compare equal)."""
    for i, held in enumerate(bucket):
        if held is session:
            del bucket[i]
            return


# --- server side: sealed ticket state -----------------------------------------------------

_STATE = struct.Struct(">BBHQI")  # format version, flags, suite, issued at (ms), lifetime
_VERSION = 3
_AAD = b"tlskit ticket v3"
_TLS12, _EMS, _EXTERNAL, _EARLY_CONTEXT, _RAW_KEY, _END_POINT = 1, 2, 4, 8, 16, 32  # flags
_NONCE = 12
_EARLY = struct.Struct(">II")  # max_early_data, age_add


@dataclass(slots=True)
class TicketState:
    """What a ticket (or a TLS 1.2 session-ID cache entry) seals. For TLS 1.2, `psk` is
    the master secret and `suite` a `Suite12`."""

    suite: Suite | Suite12
    psk: bytes = field(repr=False)
    issued_ms: int
    lifetime: int
    alpn_protocol: str | None
    server_name: str | None
    context: bytes = bytes(CONTEXT_LENGTH)      # the issuing config's session context
    client_chain: list[bytes] = field(default_factory=list)  # DER, leaf first; [] = none
    # 0-RTT (4.2.10, 8.3): the limit this ticket allows (0: none) and its age_add, to
    # compare the client's view of the ticket's age with ours.
    max_early_data: int = 0
    age_add: int = field(default=0, repr=False)
    tls12: bool = False
    extended_master_secret: bool = True  # TLS 1.2: only such sessions ever resume
    # RFC 8446 2.2, 4.6.1: a session an external PSK authenticated inherits that identity;
    # the fingerprint (`tlskit.psk.fingerprint`) tells whether the key is still the same.
    external_identity: bytes | None = None
    external_fingerprint: bytes = field(default=b"", repr=False)
    # QUIC (RFC 9001 4.6.2): a digest of what the issuing server's 0-RTT depended on
    # (`QuicServerConnection`'s early_data_context); b"" when none was given.
    early_data_context: bytes = b""
    # RFC 7250: `client_chain` holds the client's raw public key (one SPKI), not a chain.
    client_raw_key: bool = False
    # RFC 5929 4.1: the tls-server-end-point of the certificate this session was made
    # with (a hash, 28 to 64 bytes, not the certificate), which a resumed connection
    # binds to whatever the server serves now; b"": none (a raw key, a PSK, a signature
    # algorithm RFC 5929 gives no hash); None: not recorded (a state sealed by a tlskit
    # from before it was, `handshake.common.resumed_end_point`).
    server_end_point: bytes | None = None


class TicketSealer:
    """Seals ticket state with AES-256-GCM under the store's current ticket key (the key
    id goes first in the ticket); opens with any key the ring still accepts. A ticket
    that fails to open, or a store that does not answer, just means a full handshake."""

    def __init__(self, store: GuardedStore, clock: Callable[[], float]) -> None:
        self._store, self._clock = store, clock
        # One AES-GCM context per ticket key in the ring (making one costs more than
        # sealing a ticket); a rotated-out key's context goes with the next rotation.
        self._aeads: dict[bytes, AESGCM] = {}

    def _aead(self, key: bytes) -> AESGCM:
        aead = self._aeads.get(key)
        if aead is None:
            if len(self._aeads) >= 8:
                self._aeads.clear()
            aead = self._aeads[key] = AESGCM(key)
        return aead

    def seal(self, state: TicketState, nonce: bytes) -> bytes | None:
        """One state (a TLS 1.2 session's, one per full handshake): `seal_many`'s
        sealing without its lists."""
        keys = self._store.ticket_keys(self._clock())
        if keys is None:
            return None
        key_id = keys.current_id
        return key_id + nonce + self._aead(keys.current).encrypt(
            nonce, encode_state(state), _AAD + key_id)

    def seal_many(self, bodies: list[bytes], nonces: list[bytes]) -> list[bytes] | None:
        """`seal` for the encoded states of one connection's tickets (`encode_state`),
        each with its nonce: one look-up of the store's ticket key for all of them."""
        keys = self._store.ticket_keys(self._clock())
        if keys is None:
            return None
        key_id, encrypt = keys.current_id, self._aead(keys.current).encrypt
        aad = _AAD + key_id
        return [key_id + nonce + encrypt(nonce, body, aad)
                for body, nonce in zip(bodies, nonces, strict=True)]

    def open(self, ticket: bytes) -> TicketState | None:
        """The sealed state, or None for anything we did not seal (or an old format)."""
        if len(ticket) < KEY_ID_LENGTH + _NONCE + 16 + _STATE.size:
            return None
        keys = self._store.ticket_keys(self._clock())
        key_id = ticket[:KEY_ID_LENGTH]
        key = None if keys is None else keys.accepted.get(key_id)
        if key is None:
            return None
        nonce = ticket[KEY_ID_LENGTH:KEY_ID_LENGTH + _NONCE]
        try:
            plain = self._aead(key).decrypt(nonce, ticket[KEY_ID_LENGTH + _NONCE:],
                                            _AAD + key_id)
        except InvalidTag:
            return None
        return decode_state(plain)


def encode_state(state: TicketState) -> bytes:
    """The fixed header, then psk, ALPN, server name and context each after its length
    (1, 1, 2, 1 bytes), the client chain (a count, then each DER after a 3-byte
    length), the 0-RTT fields, for an external PSK's session its identity and key
    fingerprint (2 and 1 bytes of length), then (each behind its flag and a 1-byte
    length) the QUIC early_data_context and the server's tls-server-end-point (empty:
    none; no flag: not recorded): one join (a server encodes one per session). A state
    without the last (sealed before it was recorded) still opens; a server that does not
    know its flag refuses the ticket (its reader ends before the state does), which
    means a full handshake."""
    flags = (_TLS12 if state.tls12 else 0) | (_EMS if state.extended_master_secret else 0)
    external = state.external_identity
    if external is not None:
        flags |= _EXTERNAL
    if state.early_data_context:
        flags |= _EARLY_CONTEXT
    if state.client_raw_key:
        flags |= _RAW_KEY
    end_point = state.server_end_point
    if end_point is not None:
        flags |= _END_POINT
    psk, context, chain = state.psk, state.context, state.client_chain
    alpn = (state.alpn_protocol or "").encode()
    sni = (state.server_name or "").encode()
    parts = [_STATE.pack(_VERSION, flags, state.suite.code, state.issued_ms, state.lifetime),
             len(psk).to_bytes(1, "big"), psk, len(alpn).to_bytes(1, "big"), alpn,
             len(sni).to_bytes(2, "big"), sni, len(context).to_bytes(1, "big"), context,
             len(chain).to_bytes(1, "big")]
    for der in chain:
        parts += (len(der).to_bytes(3, "big"), der)
    parts.append(_EARLY.pack(state.max_early_data, state.age_add))
    if external is not None:
        fingerprint = state.external_fingerprint
        parts += (len(external).to_bytes(2, "big"), external,
                  len(fingerprint).to_bytes(1, "big"), fingerprint)
    if state.early_data_context:
        parts += (len(state.early_data_context).to_bytes(1, "big"), state.early_data_context)
    if end_point is not None:
        parts += (len(end_point).to_bytes(1, "big"), end_point)
    return b"".join(parts)


def decode_state(plain: bytes) -> TicketState | None:
    """Reads back `encode_state`; None for anything it did not write. The AEAD tag
    vouches only for the key: a plaintext sealed under a shared ticket key by another
    writer may be malformed, and a malformed one must mean a full handshake."""
    if len(plain) < _STATE.size:
        return None
    version, flags, suite_code, issued_ms, lifetime = _STATE.unpack_from(plain)
    tls12 = bool(flags & _TLS12)
    suite = (SUITES12 if tls12 else SUITES).get(suite_code)
    if version != _VERSION or suite is None:
        return None
    reader = _Reader(plain, _STATE.size)
    try:
        psk = reader.take(1)
        alpn = reader.take(1).decode()
        sni = reader.take(2).decode()
        context = reader.take(1)
        chain = [reader.take(3) for _ in range(reader.take_count())]
        max_early, age_add = _EARLY.unpack_from(plain, reader.pos)
        reader.pos += _EARLY.size
        external, fingerprint = None, b""
        if flags & _EXTERNAL:
            external, fingerprint = reader.take(2), reader.take(1)
        early_context = reader.take(1) if flags & _EARLY_CONTEXT else b""
        end_point = reader.take(1) if flags & _END_POINT else None
    except (_Malformed, UnicodeDecodeError, struct.error):
        return None
    if reader.pos != len(plain) or (flags & _EARLY_CONTEXT and not early_context):
        return None  # (an early_data_context is never written empty)
    return TicketState(suite, psk, issued_ms, lifetime, alpn or None, sni or None,
                       context, chain, max_early_data=max_early, age_add=age_add,
                       tls12=tls12, extended_master_secret=bool(flags & _EMS),
                       external_identity=external, external_fingerprint=fingerprint,
                       early_data_context=early_context,
                       client_raw_key=bool(flags & _RAW_KEY) and len(chain) == 1,
                       server_end_point=end_point)


class _Malformed(Exception):
    """A length or count runs past the end of the state."""


class _Reader:
    """Reads back what `seal` wrote; raises `_Malformed` past the end."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def take(self, width: int) -> bytes:
        start = self.pos + width
        if start > len(self.data):
            raise _Malformed
        n = int.from_bytes(self.data[self.pos:start], "big")
        self.pos = start + n
        if self.pos > len(self.data):
            raise _Malformed
        return self.data[start:self.pos]

    def take_count(self) -> int:
        if self.pos >= len(self.data):
            raise _Malformed
        self.pos += 1
        return self.data[self.pos - 1]
