"""TLS 1.3 for QUIC (RFC 9001): the handshake without records, sans-I/O.

QUIC carries the handshake messages in CRYPTO frames, one stream of them per encryption
level, and protects its packets itself with keys from the TLS traffic secrets. So a QUIC
connection here runs tlskit's own TLS 1.3 state machines (`ClientHandshake13`,
`ServerHandshake13`, through small subclasses for what RFC 9001 adds) behind a second
`Output`: handshake bytes are queued per level instead of sealed into records, and each
installed traffic secret is reported as an event for the QUIC stack to derive its
packet keys from (`packet_keys`, `next_secret`, `initial_secrets` below).

    conn = QuicClientConnection(config, "example.com", transport_parameters=b"...")
    conn.data_to_send()                      # [(EncryptionLevel.INITIAL, ClientHello)]
    events = conn.receive_data(level, data)  # CRYPTO frame data received at `level`
    # SecretInstalled(level, "read"/"write", cipher_suite, secret),
    # TransportParametersReceived(data), HandshakeComplete, SessionTicketReceived,
    # EarlyDataRejected (a client's 0-RTT declined)

What differs from TLS over TCP: TLS 1.3 only; no middlebox compatibility mode (an empty
legacy_session_id, no change_cipher_spec); quic_transport_parameters in the ClientHello
and EncryptedExtensions, required from the peer; ALPN required; no KeyUpdate (QUIC
updates keys itself, "quic ku"); no EndOfEarlyData. 0-RTT (4.6): tickets allow it with
max_early_data_size 0xffffffff; the 0-RTT secrets are reported at the EARLY level and
the QUIC stack sends and reads the early data itself. A failure raises the usual
`TLSError` (nothing is sent: the QUIC stack closes with `exc.quic_error_code`, 0x100 +
alert, RFC 9001 4.8).

What a stack gets besides, as from Go's QUICConn or rustls' quic module: a server may
make its transport parameters from the client's (a callable) and send tickets when it
chooses (`QuicServerConnection.send_session_ticket`); a client resumes from
`ClientConfig.session_cache` (QUIC sessions only, with the server's transport parameters
remembered) and learns of declined 0-RTT at once (`EarlyDataRejected`); and
`header_protection_mask` and `retry_integrity_tag` finish the packet-level derivations.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn

from .config import ClientConfig, ServerConfig, require_config
from .crypto import SUITES, Suite
from .enums import CipherSuite, ExtensionType, HandshakeType
from .errors import (
    DecodeError,
    IllegalParameter,
    InternalError,
    MissingExtension,
    NoApplicationProtocol,
    TLSError,
    UnexpectedMessage,
    UsageError,
)
from .events import Event, HandshakeComplete
from .handshake.client13 import ClientHandshake13
from .handshake.hello import ClientHelloView
from .handshake.server13 import ServerHandshake13
from .handshake.server13 import State as _ServerState
from .keyschedule import hkdf_expand_label, hkdf_extract
from .session import Session
from .wire import messages as m
from .wire.extensions import QUIC_TRANSPORT_PARAMETERS

__all__ = [
    "QUIC_V1",
    "QUIC_V2",
    "EarlyDataRejected",
    "EncryptionLevel",
    "PacketKeys",
    "ParametersChooser",
    "QuicClientConnection",
    "QuicConnection",
    "QuicProtocolViolation",
    "QuicServerConnection",
    "QuicTransportParameterError",
    "SecretInstalled",
    "TransportParametersReceived",
    "error_code",
    "header_protection_mask",
    "initial_secrets",
    "next_secret",
    "packet_keys",
    "retry_integrity_tag",
]

# RFC 9001 4.6.1: the only early_data limit a QUIC ticket may carry.
QUIC_MAX_EARLY_DATA = 0xFFFFFFFF
# The versions whose packet keys are derived here, with each one's Initial salt (RFC 9001
# 5.2; RFC 9369 3.3.1) and the prefix of its HKDF labels ("quic key", "quicv2 key", ...).
QUIC_V1 = 0x00000001
"""QUIC version 1 (RFC 9000): the default of the key helpers' ``version``."""
QUIC_V2 = 0x6B3343CF
"""QUIC version 2 (RFC 9369): its own Initial salt and "quicv2 " labels."""
INITIAL_SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
INITIAL_SALT_V2 = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")
_VERSIONS = {QUIC_V1: (INITIAL_SALT_V1, b"quic "), QUIC_V2: (INITIAL_SALT_V2, b"quicv2 ")}
# Each version's fixed AES-128-GCM key and nonce for Retry integrity (RFC 9001 5.8;
# RFC 9369 3.3.3).
_RETRY_KEYS = {
    QUIC_V1: (bytes.fromhex("be0c690b9f66575a1d766b54e368c84e"),
              bytes.fromhex("461599d35d632bf2239825bb")),
    QUIC_V2: (bytes.fromhex("8fb4b01b56ac48e260fbcbcead7ccc92"),
              bytes.fromhex("d86969bc2d7c6d9990efb04a")),
}
PROTOCOL_VIOLATION = 0x0A  # RFC 9000 20.1
TRANSPORT_PARAMETER_ERROR = 0x08  # RFC 9000 20.1


class EncryptionLevel(enum.IntEnum):
    """QUIC's encryption levels (RFC 9001 2.1), in the order a handshake reaches them."""

    INITIAL = 0
    EARLY = 1  # 0-RTT: secrets only; CRYPTO frames never travel at this level
    HANDSHAKE = 2
    APPLICATION = 3  # 1-RTT


_LEVELS = frozenset(int(lvl) for lvl in EncryptionLevel)
_NEXT_LEVEL = {EncryptionLevel.INITIAL: EncryptionLevel.HANDSHAKE,
               EncryptionLevel.HANDSHAKE: EncryptionLevel.APPLICATION}


@dataclass(slots=True)
class SecretInstalled(Event):
    """A traffic secret for one level and direction (``"read"`` or ``"write"``): derive
    the packet protection keys with `packet_keys(cipher_suite, secret)`."""

    level: EncryptionLevel
    direction: str
    cipher_suite: CipherSuite
    secret: bytes


@dataclass(slots=True)
class TransportParametersReceived(Event):
    """The peer's quic_transport_parameters (RFC 9000 18), opaque to TLS."""

    data: bytes


@dataclass(slots=True)
class EarlyDataRejected(Event):
    """The client's 0-RTT was declined (RFC 9001 4.6.2): by a HelloRetryRequest, or by
    EncryptedExtensions without early_data. Reported as soon as the client knows, before
    the 1-RTT secrets (as Go's QUICRejectedEarlyData): drop the 0-RTT keys, stop
    sending 0-RTT packets, reset what the 0-RTT data assumed (streams, the
    application's state) and send it again at 1-RTT. ``HandshakeComplete.
    early_data_accepted`` says the same once the handshake is done."""


class QuicProtocolViolation(IllegalParameter):
    """What RFC 9001 calls a PROTOCOL_VIOLATION (a ClientHello asking for middlebox
    compatibility mode, a ticket's early_data limit other than 0xffffffff, handshake
    data given at the EARLY level, i.e. a CRYPTO frame in a 0-RTT packet): the QUIC
    error code is PROTOCOL_VIOLATION (0x0a), the alert illegal_parameter (as Go sends
    for the first two; QUIC sends no alert, only the code)."""

    @property
    def quic_error_code(self) -> int:
        return PROTOCOL_VIOLATION


ParametersChooser = Callable[[bytes], bytes]
"""A server's ``transport_parameters`` made per client: given the client's encoded
transport parameters, returns the server's."""


class QuicTransportParameterError(IllegalParameter):
    """A server's ``transport_parameters`` callable refused the client's parameters
    (it raised): the QUIC error code is TRANSPORT_PARAMETER_ERROR (0x08, RFC 9000 7.4,
    20.1: parameters badly formatted, of an invalid value or otherwise in error), the
    alert illegal_parameter; ``__cause__`` is what the callable raised."""

    @property
    def quic_error_code(self) -> int:
        return TRANSPORT_PARAMETER_ERROR


# -- packet protection keys (RFC 9001 5) ---------------------------------------------------

class PacketKeys(NamedTuple):
    """AEAD key, IV and header protection key for one level and direction."""

    key: bytes
    iv: bytes
    hp: bytes


def _suite(cipher_suite: int | Suite) -> Suite:
    """The TLS 1.3 suite named (ValueError, as for a bad version, for any other code)."""
    if isinstance(cipher_suite, Suite):
        return cipher_suite
    found = SUITES.get(cipher_suite)
    if found is None:
        raise ValueError(f"cipher suite {cipher_suite!r} is not a TLS 1.3 suite tlskit "
                         "derives QUIC keys for")
    return found


def _version(version: int) -> tuple[bytes, bytes]:
    found = _VERSIONS.get(version)
    if found is None:
        raise ValueError(f"QUIC version {version:#010x} is not one tlskit derives keys for "
                         "(QUIC_V1, QUIC_V2)")
    return found


def packet_keys(cipher_suite: int | Suite, secret: bytes,
                version: int = QUIC_V1) -> PacketKeys:
    """5.1: "quic key", "quic iv" and "quic hp" from a traffic secret, with the suite's
    hash (the header protection key is as long as the AEAD key); QUIC_V2's labels are
    "quicv2 key" and so on (RFC 9369 3.3.2)."""
    suite = _suite(cipher_suite)
    h = suite.hash_name
    prefix = _version(version)[1]
    return PacketKeys(hkdf_expand_label(h, secret, prefix + b"key", b"", suite.key_length),
                      hkdf_expand_label(h, secret, prefix + b"iv", b"", 12),
                      hkdf_expand_label(h, secret, prefix + b"hp", b"", suite.key_length))


def next_secret(cipher_suite: int | Suite, secret: bytes, version: int = QUIC_V1) -> bytes:
    """6.1: the secret of the next key phase ("quic ku"; "quicv2 ku"); the hp key does
    not change."""
    suite = _suite(cipher_suite)
    label = _version(version)[1] + b"ku"
    return hkdf_expand_label(suite.hash_name, secret, label, b"", suite.hash_length)


def header_protection_mask(cipher_suite: int | Suite, hp_key: bytes, sample: bytes) -> bytes:
    """5.4: the 5-byte mask for a packet's first byte and packet number, from the 16-byte
    ciphertext sample and the hp key of `packet_keys`: AES-ECB of the sample for the
    AES suites (5.4.3); for ChaCha20 (5.4.4) the keystream at the counter and nonce the
    sample holds (its first 4 bytes, little-endian, then 12). The hp key must be the
    suite's key length: AES would take a 16-byte key for an AES-256 suite and give
    another mask than the peer's."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    if len(sample) != 16:
        raise ValueError(f"the header protection sample is 16 bytes, not {len(sample)}")
    suite = _suite(cipher_suite)
    if len(hp_key) != suite.key_length:
        raise ValueError(f"the header protection key of {suite.name} is {suite.key_length} "
                         f"bytes, not {len(hp_key)}")
    if suite.code == CipherSuite.TLS_CHACHA20_POLY1305_SHA256:
        cipher = Cipher(algorithms.ChaCha20(hp_key, sample), mode=None)
        return cipher.encryptor().update(bytes(5))
    return Cipher(algorithms.AES(hp_key), modes.ECB()).encryptor().update(sample)[:5]


def retry_integrity_tag(original_destination_cid: bytes, retry_packet: bytes,
                        version: int = QUIC_V1) -> bytes:
    """5.8: the 16-byte Retry Integrity Tag for a Retry packet (`retry_packet`, all of
    it but the tag) answering a client whose first Destination Connection ID was
    `original_destination_cid`. A server appends it; a client compares it to the
    packet's last 16 bytes with `hmac.compare_digest` and drops the packet if they
    differ."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    _version(version)
    if len(original_destination_cid) > 20:  # RFC 9000 17.2: one length byte, at most 20
        raise ValueError("a connection ID is at most 20 bytes")
    key, nonce = _RETRY_KEYS[version]
    pseudo = bytes((len(original_destination_cid),)) + original_destination_cid + retry_packet
    return AESGCM(key).encrypt(nonce, b"", pseudo)


def initial_secrets(destination_cid: bytes, version: int = QUIC_V1) -> tuple[bytes, bytes]:
    """5.2: the client's and server's Initial secrets from the client's first Destination
    Connection ID and the version's salt (protect them with TLS_AES_128_GCM_SHA256's
    `packet_keys`, for the same version)."""
    salt = _version(version)[0]
    initial = hkdf_extract("sha256", salt, destination_cid)
    return (hkdf_expand_label("sha256", initial, b"client in", b"", 32),
            hkdf_expand_label("sha256", initial, b"server in", b"", 32))


# -- the Output a QUIC connection gives its handshake -------------------------------------

class QuicOutput:
    """`handshake.common.Output` for QUIC: handshake bytes are queued by the current write
    level, each installed secret moves that direction to the next level and is reported.
    What only records have (CCS, alerts, TLS 1.2 keys, KeyUpdate, record limits) is never
    asked for by the QUIC handshakes; if it were, that is a bug (internal_error)."""

    __slots__ = ("_events", "early_read", "early_write", "outgoing", "read_level",
                 "write_level")

    def __init__(self, events: list[Event]) -> None:
        self._events = events
        self.read_level = EncryptionLevel.INITIAL
        self.write_level = EncryptionLevel.INITIAL
        self.outgoing: list[tuple[EncryptionLevel, bytes]] = []
        # The next secret installed that way is the 0-RTT one (set by the handshake
        # subclasses): reported at the EARLY level, where no handshake data goes.
        self.early_read = False
        self.early_write = False

    def send_handshake(self, data: bytes) -> None:
        self.outgoing.append((self.write_level, data))

    def install_read(self, suite: Suite, secret: bytes) -> None:
        if self.early_read:
            self.early_read = False
            level = EncryptionLevel.EARLY
        else:
            level = self.read_level = _NEXT_LEVEL[self.read_level]
        self._events.append(SecretInstalled(level, "read", suite.code, secret))

    def install_write(self, suite: Suite, secret: bytes) -> None:
        if self.early_write:
            self.early_write = False
            level = EncryptionLevel.EARLY
        else:
            level = self.write_level = _NEXT_LEVEL[self.write_level]
        self._events.append(SecretInstalled(level, "write", suite.code, secret))

    def clear_write(self) -> None:
        """The 0-RTT write key is dropped (a HelloRetryRequest): handshake data stayed
        at the Initial level; the stack learns from `EarlyDataRejected`."""

    def send_application_data(self, data: bytes) -> None:
        """QUIC sends 0-RTT data itself: the handshake has none to send (b"")."""
        if data:
            self._not_in_quic()

    def emit(self, event: Event) -> None:
        self._events.append(event)

    def written_under_current_key(self) -> bool:
        return False

    # What QUIC handles itself, or what has no place in it:
    def set_record_limits(self, send: int | None = None, receive: int | None = None) -> None:
        """No records: nothing to limit."""

    def skip_early_data(self, limit: int) -> None:
        """Declined 0-RTT packets are QUIC's to drop."""

    def set_hello_record_version(self, version: int) -> None:
        """No record header."""

    def _not_in_quic(self, *args: Any) -> None:
        raise InternalError("a QUIC handshake asked for a record-layer action")

    send_change_cipher_spec = send_warning = next_read_generation = _not_in_quic
    next_write_generation = install_read12 = install_write12 = expect_tls12 = _not_in_quic


# -- the RFC 9001 additions to the TLS 1.3 handshakes ------------------------------------

class QuicClientHandshake(ClientHandshake13):
    """The TLS 1.3 client plus 8.1 (ALPN required), 8.2 (transport parameters) and 4.6
    (0-RTT without EndOfEarlyData)."""

    out: QuicOutput
    quic = True

    def __init__(self, config: ClientConfig, out: QuicOutput, server_name: str | None,
                 session: Session | None, transport_parameters: bytes,
                 early_data: bool) -> None:
        super().__init__(config, out, server_name, session)  # type: ignore[arg-type]
        self.local_parameters = transport_parameters
        # 4.6.1: 0-RTT on a ticket that allows it (0xffffffff); the stack sends the data.
        self.early_data_sent = early_data and self.session is not None \
            and not self.session.tls12 and self.session.max_early_data == QUIC_MAX_EARLY_DATA

    def _send_early_data(self) -> None:
        self.out.early_write = True  # the early traffic secret, reported at EARLY
        super()._send_early_data()

    def _hello_extensions(self) -> m.Extensions:
        exts = super()._hello_extensions()
        exts[QUIC_TRANSPORT_PARAMETERS] = self.local_parameters
        self.offer.extensions.add(QUIC_TRANSPORT_PARAMETERS)
        return exts

    def on_server_hello(self, sh: m.ServerHello, raw: bytes) -> Any:
        if QUIC_TRANSPORT_PARAMETERS in sh.extensions:
            # 8.2: it belongs in ClientHello and EncryptedExtensions only; recognised and
            # misplaced is illegal_parameter (RFC 8446 4.2), not unsupported_extension.
            what = "HelloRetryRequest" if sh.is_hello_retry_request else "ServerHello"
            raise IllegalParameter(f"quic_transport_parameters is not allowed in {what} "
                                   "(RFC 9001 8.2: EncryptedExtensions carries it)")
        nxt = super().on_server_hello(sh, raw)
        if sh.is_hello_retry_request and self.early_data_sent:  # a retry declines 0-RTT
            self.out.emit(EarlyDataRejected())
        return nxt

    def on_encrypted_extensions(self, ee: m.EncryptedExtensions, raw: bytes) -> Any:
        # The extension TLS does not know is taken out (it is in the transcript already);
        # the TLS checks then run on the rest.
        params = ee.extensions.pop(QUIC_TRANSPORT_PARAMETERS, None)
        if params is None:
            raise MissingExtension("EncryptedExtensions lacks quic_transport_parameters "
                                   "(RFC 9001 8.2)")
        nxt = super().on_encrypted_extensions(ee, raw)
        if self._early_write_pending:  # accepted: no EndOfEarlyData in QUIC (8.3), so the
            self._early_write_pending = False  # handshake key is for our Finished now
            self.set_write(self._client_hs_secret)
        if self.alpn is None:
            raise NoApplicationProtocol("the server selected no ALPN protocol, which QUIC "
                                        "requires (RFC 9001 8.1)")
        self.peer_transport_parameters = params  # (kept with the tickets' sessions)
        self.out.emit(TransportParametersReceived(params))
        if self.early_data_sent and not self.early_data_accepted \
                and not self.offer.retried:  # (after a retry: reported with it)
            self.out.emit(EarlyDataRejected())
        return nxt

    def on_new_session_ticket(self, nst: m.NewSessionTicket, raw: bytes) -> Any:
        body = nst.extensions.get(ExtensionType.early_data)
        if body is not None and body != QUIC_MAX_EARLY_DATA.to_bytes(4, "big"):
            # 4.6.1: a QUIC ticket allows 0-RTT with the limit 0xffffffff or not at all.
            raise QuicProtocolViolation("NewSessionTicket early_data limit is not "
                                        "0xffffffff (RFC 9001 4.6.1)")
        return super().on_new_session_ticket(nst, raw)


class QuicServerHandshake(ServerHandshake13):
    """The TLS 1.3 server plus 8.1 (ALPN required), 8.2 (transport parameters) and 8.4
    (no middlebox compatibility mode)."""

    out: QuicOutput

    def __init__(self, config: ServerConfig, out: QuicOutput,
                 transport_parameters: bytes | ParametersChooser,
                 early_data_context: bytes, automatic_tickets: bool) -> None:
        super().__init__(config, out)  # type: ignore[arg-type]
        # Tickets: the config's count when the handshake ends, or only when asked
        # (`send_session_ticket`, shared with TLS: `ServerHandshake13`).
        self.automatic_tickets = automatic_tickets
        # Ours, or the application's callable that makes them from the client's (called
        # once, just before EncryptedExtensions: `_send_encrypted_extensions`).
        self.choose_parameters: ParametersChooser | None = None
        if callable(transport_parameters):
            self.choose_parameters = transport_parameters
        else:
            self.quic_transport_parameters = transport_parameters
        # 4.6.2: what 0-RTT depends on besides TLS (the transport parameters it limits,
        # the application's settings), as a digest sealed into our tickets; 0-RTT on a
        # ticket is taken only when the ticket's is the same.
        self.early_data_context = hashlib.sha256(
            b"tlskit quic 0-RTT\0" + early_data_context).digest()

    def _accept_early_data(self, *, retry: bool) -> bool:
        ticket = self._ticket
        if ticket is not None and not hmac.compare_digest(ticket.early_data_context,
                                                          self.early_data_context):
            accepted = False  # (declined before the replay cache spends the ticket's 0-RTT)
        else:
            accepted = super()._accept_early_data(retry=retry)
        self.out.early_read = accepted  # the next read secret is the 0-RTT one
        return accepted

    def _respond(self, offer: ClientHelloView, client_share: bytes | None) -> Any:
        nxt = super()._respond(offer, client_share)
        if nxt is _WAIT_END_OF_EARLY_DATA:
            # 8.3: no EndOfEarlyData in QUIC: 0-RTT packets go on at their own level
            # while the client's handshake data comes at the Handshake level.
            self.set_read(self._client_hs)
            return _WAIT_FINISHED
        return nxt

    def _check_shape(self, offer: ClientHelloView) -> None:
        super()._check_shape(offer)
        if offer.hello.session_id:
            # 8.4: SHOULD be a PROTOCOL_VIOLATION; the alert is illegal_parameter, as Go's
            # QUIC server sends for it (it also keeps such a hello from drawing a CCS).
            raise QuicProtocolViolation("ClientHello has a legacy_session_id: middlebox "
                                        "compatibility mode is not used in QUIC (RFC 9001 "
                                        "8.4)")
        params = offer.extensions.get(QUIC_TRANSPORT_PARAMETERS)
        if params is None:
            raise MissingExtension("ClientHello lacks quic_transport_parameters "
                                   "(RFC 9001 8.2)")
        if offer.alpn is None:
            raise NoApplicationProtocol("the ClientHello offers no ALPN protocol, which "
                                        "QUIC requires (RFC 9001 8.1)")
        if not self.hrr_sent:  # (a second hello repeats the first's, 4.1.2)
            self.out.emit(TransportParametersReceived(params))

    def _send_encrypted_extensions(self, offer: ClientHelloView) -> None:
        choose = self.choose_parameters
        if choose is not None:
            self.choose_parameters = None
            self.quic_transport_parameters = _chosen_parameters(
                choose, offer.extensions[QUIC_TRANSPORT_PARAMETERS])
        super()._send_encrypted_extensions(offer)


def _chosen_parameters(choose: ParametersChooser, client_parameters: bytes) -> bytes:
    """What the server's callable makes of the client's parameters. A `TLSError` it
    raises ends the handshake as it is; anything else it raises is its refusal of the
    client's parameters (TRANSPORT_PARAMETER_ERROR); a result that is not bytes, or too
    long for the extension, is the application's bug (internal_error, from the TypeError
    or ValueError `_transport_parameters` raises)."""
    try:
        chosen = choose(client_parameters)
    except TLSError:
        raise
    except Exception as exc:
        raise QuicTransportParameterError(
            "the transport_parameters callable refused the client's transport parameters: "
            f"{type(exc).__name__}: {exc}") from exc
    try:
        return _transport_parameters(chosen)
    except TypeError as exc:
        raise InternalError(f"the transport_parameters callable returned "
                            f"{type(chosen).__name__}, not bytes (the server's encoded "
                            "transport parameters)") from exc
    except ValueError as exc:
        raise InternalError(f"the transport_parameters callable returned {exc}") from exc



# -- the connections ---------------------------------------------------------------------

# What the peer may send at each level (RFC 9001 4.1.3, 4): anything else there is
# unexpected_message before the state machine sees it. KeyUpdate (6), EndOfEarlyData
# (8.3) and post-handshake authentication (4.4) never appear; nor does a CCS, which QUIC
# cannot carry (its bytes would read as a Finished at the Initial level).
_HT = HandshakeType
_WAIT_END_OF_EARLY_DATA = _ServerState.WAIT_END_OF_EARLY_DATA
_WAIT_FINISHED = _ServerState.WAIT_FINISHED
_FROM_SERVER: dict[EncryptionLevel, frozenset[int]] = {
    EncryptionLevel.INITIAL: frozenset({_HT.server_hello}),
    EncryptionLevel.HANDSHAKE: frozenset({
        _HT.encrypted_extensions, _HT.certificate_request, _HT.certificate,
        _HT.compressed_certificate, _HT.certificate_verify, _HT.finished}),
    EncryptionLevel.APPLICATION: frozenset({_HT.new_session_ticket}),
}
_FROM_CLIENT: dict[EncryptionLevel, frozenset[int]] = {
    EncryptionLevel.INITIAL: frozenset({_HT.client_hello}),
    EncryptionLevel.HANDSHAKE: frozenset({
        _HT.certificate, _HT.compressed_certificate, _HT.certificate_verify,
        _HT.finished}),
    EncryptionLevel.APPLICATION: frozenset(),
}
_NEVER: dict[int, str] = {_HT.key_update: "KeyUpdate is not used in QUIC (RFC 9001 6)",
          _HT.end_of_early_data: "EndOfEarlyData is not used in QUIC (RFC 9001 8.3)"}

# The QUIC variant of each config (TLS 1.3 only, no compatibility mode, no record size
# limit, tickets allowing 0-RTT with 0xffffffff or not at all), made once per config.
_VARIANTS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _quic_config(config: Any) -> Any:
    variant = _VARIANTS.get(config)
    if variant is None:
        if "TLSv1.3" not in config._versions:
            raise UsageError("QUIC needs TLS 1.3 (RFC 9001 4.2): the config does not enable it")
        if not config.alpn_protocols:
            raise UsageError("QUIC needs ALPN (RFC 9001 8.1): set alpn_protocols")
        changes: dict[str, Any] = {"versions": ("TLSv1.3",), "record_size_limit": None}
        if isinstance(config, ClientConfig):
            changes.update(middlebox_compat=False, post_handshake_auth=False)
        else:
            changes.update(max_early_data_size=QUIC_MAX_EARLY_DATA
                           if config.max_early_data_size > 0 else 0)
        variant = config.replace(**changes)
        if isinstance(config, ServerConfig):
            # A ticket remembers its protocol: a TLS ticket carries no QUIC state (its
            # 0-RTT limit counts TLS bytes, no transport parameters were remembered with
            # it, RFC 9001 4.6.1-4.6.2) and a QUIC one allows 0xffffffff bytes; so the two
            # never resume each other, even under a shared session_store or ticket_key.
            variant._set("_session_context", hashlib.sha256(
                b"tlskit quic\0" + config._session_context).digest())
        _VARIANTS[config] = variant
    return variant


def _transport_parameters(value: Any) -> bytes:
    """The encoded parameters as bytes (`bytes(5)` would quietly make five zero bytes),
    no longer than the extension that carries them may be (RFC 8446 4.2: 2^16-1)."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError("transport_parameters takes your encoded QUIC transport parameters "
                        f"(RFC 9000 18) as bytes, not {type(value).__name__}")
    data = bytes(value)
    if len(data) > 0xFFFF:
        raise ValueError(f"{len(data)} bytes of transport parameters, more than the "
                         "quic_transport_parameters extension holds (65535)")
    return data


class QuicConnection:
    """Shared machinery; use `QuicClientConnection` or `QuicServerConnection`."""

    _hs: QuicClientHandshake | QuicServerHandshake
    _expected: dict[EncryptionLevel, frozenset[int]]

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._out = QuicOutput(self._events)
        self._buf = bytearray()  # an incomplete message at the current read level
        self._error: TLSError | None = None
        self.handshake_complete: HandshakeComplete | None = None
        self.peer_transport_parameters: bytes | None = None

    def receive_data(self, level: EncryptionLevel | int, data: bytes) -> list[Event]:
        """Handshake bytes from CRYPTO frames at `level`, in order; returns the events
        they complete. Raises `TLSError` (then every later call raises it too)."""
        if self._error is not None:
            self._raise_failure()
        if level not in _LEVELS:  # the caller's mistake, not the peer's: nothing fails
            raise UsageError(f"receive_data: level {level!r} is not an EncryptionLevel "
                             "(INITIAL, HANDSHAKE or APPLICATION carry CRYPTO frames)")
        try:
            self._receive(EncryptionLevel(level), bytes(data))
        except TLSError as exc:
            self._fail(exc)
            raise
        except Exception as exc:  # a bug, reported as internal_error
            err = InternalError(f"internal error: {type(exc).__name__}: {exc}")
            self._fail(err)
            raise err from exc
        events = self._events[:]
        self._events.clear()
        for ev in events:
            if isinstance(ev, HandshakeComplete):
                self.handshake_complete = ev
            elif isinstance(ev, TransportParametersReceived):
                self.peer_transport_parameters = ev.data
        return events

    def take_events(self) -> list[Event]:
        """Events not yet returned: a client's 0-RTT write secret, reported when it is
        created (otherwise they lead the next `receive_data`'s events)."""
        events = self._events[:]
        self._events.clear()
        return events

    def _receive(self, level: EncryptionLevel, data: bytes) -> None:
        out = self._out
        if level is EncryptionLevel.EARLY:
            # RFC 9001 8.3, RFC 9000 12.4-12.5: a CRYPTO frame in a 0-RTT packet is a
            # PROTOCOL_VIOLATION. Handshake bytes at this level can only have come so,
            # and this call is where a stack that hands them on learns what to close with.
            raise QuicProtocolViolation("handshake data (a CRYPTO frame) in a 0-RTT "
                                        "packet: none may travel at the EARLY level "
                                        "(RFC 9001 8.3)")
        if level is not out.read_level:
            raise UnexpectedMessage(f"handshake data at the {level.name} level while "
                                    f"reading at {out.read_level.name} (RFC 9001 4.1.3)")
        buf = self._buf
        buf += data
        limit = self._hs.config.max_handshake_message
        while buf:
            msg_type = buf[0]
            if msg_type not in self._expected.get(level, ()):
                why = _NEVER.get(msg_type)
                name = _HT(msg_type).name
                raise UnexpectedMessage(why or f"{name} is not expected at the "
                                        f"{level.name} level (RFC 9001 4)")
            if len(buf) < 4:
                return
            length = int.from_bytes(buf[1:4], "big")
            if length > limit:
                raise DecodeError(f"handshake message of {length} bytes at the "
                                  f"{level.name} level exceeds the {limit}-byte limit")
            if len(buf) < 4 + length:
                return
            message = bytes(buf[:4 + length])
            del buf[:4 + length]
            self._hs.receive_record(message)
            if out.read_level is not level:
                if buf:  # 4.1.3: the level is done; nothing may follow its last message
                    raise UnexpectedMessage(f"handshake data left at the {level.name} "
                                            "level after its keys changed")
                return

    def _raise_failure(self) -> NoReturn:
        """The failure again, with the traceback it first had (`TLSError.raise_again`)."""
        assert self._error is not None
        self._error.raise_again()

    def _fail(self, exc: TLSError) -> None:
        self._error = exc
        self._events.clear()
        self._buf.clear()
        self._out.outgoing.clear()  # 4.8: no alert is sent; QUIC closes with the code

    def data_to_send(self) -> list[tuple[EncryptionLevel, bytes]]:
        """Handshake bytes to send in CRYPTO frames, by level, in order (one entry per
        run of one level); empty when nothing is pending."""
        pending = self._out.outgoing
        if not pending:
            return []
        merged: list[tuple[EncryptionLevel, bytes]] = []
        for level, data in pending:
            if merged and merged[-1][0] is level:
                merged[-1] = (level, merged[-1][1] + data)
            else:
                merged.append((level, data))
        pending.clear()
        return merged

    # -- information ---------------------------------------------------------------------

    @property
    def read_level(self) -> EncryptionLevel:
        """The level the handshake reads at now (data elsewhere is an error)."""
        return self._out.read_level

    @property
    def write_level(self) -> EncryptionLevel:
        return self._out.write_level

    @property
    def negotiated_suite(self) -> Suite | None:
        return self._hs.suite

    @property
    def alpn_protocol(self) -> str | None:
        return self._hs.alpn

    def export_keying_material(self, label: bytes, context: bytes, length: int) -> bytes:
        """RFC 8446 7.5 exporter, once the handshake is complete."""
        if not self._hs.complete:
            raise UsageError("exporters need a completed handshake")
        return self._hs.export(label, context, length)


class QuicClientConnection(QuicConnection):
    """A QUIC client's TLS (RFC 9001): the ClientHello waits in `data_to_send()` as soon
    as it is created. ``transport_parameters``: our encoded QUIC transport parameters;
    ``session``: a `Session` from an earlier `SessionTicketReceived` to resume (or, with
    none, the newest QUIC session ``config.session_cache`` holds for the name; TLS
    sessions are never offered). ``early_data``: offer 0-RTT when the session's ticket
    allows it (`early_data_offered` says whether it was; the 0-RTT write secret is then
    in `take_events()`, and `remembered_transport_parameters` the server's limits it
    must keep to); the stack sends the early data itself. A declined 0-RTT is reported
    by `EarlyDataRejected` as soon as it is known (send the data again at the 1-RTT
    level), and `HandshakeComplete.early_data_accepted` says the same at the end."""

    _hs: QuicClientHandshake

    def __init__(self, config: ClientConfig, server_name: str | None, *,
                 transport_parameters: bytes, session: Session | None = None,
                 early_data: bool = False) -> None:
        super().__init__()
        require_config(config, ClientConfig, "QuicClientConnection")
        if server_name is None and config.check_hostname and config.verify_mode == "required" \
                and not config.external_psks:  # (as ClientConnection: the handshake then
            # refuses a certificate it cannot check, `refuse_unnamed_certificate`)
            raise UsageError("server_name is required to check the server's certificate; "
                             "pass ClientConfig(check_hostname=False) to skip the name check")
        if server_name == "":
            raise UsageError("server_name is empty: give the host name being dialled, or None")
        self.config = _quic_config(config)
        self._expected = _FROM_SERVER
        self._hs = hs = QuicClientHandshake(self.config, self._out, server_name, session,
                                            _transport_parameters(transport_parameters),
                                            early_data)
        try:
            hs.start()
        except TLSError as exc:
            self._fail(exc)
            raise

    @property
    def early_data_offered(self) -> bool:
        """Whether the ClientHello offered 0-RTT (see the class docstring)."""
        return self._hs.early_data_sent

    @property
    def offered_session(self) -> Session | None:
        """The session the ClientHello offers (the one given, or the one taken from the
        session cache), None if none: what 0-RTT was set up under (its
        ``alpn_protocol``, ``quic_transport_parameters``), and the key to whatever the
        application kept for it (HTTP/3's SETTINGS, RFC 9114 7.2.4.2)."""
        return self._hs.session

    @property
    def remembered_transport_parameters(self) -> bytes | None:
        """The server's transport parameters from the connection that issued the
        session this client offers (given or from the session cache), None when it
        offers none: the limits its 0-RTT data must keep to (RFC 9000 7.4.1), known
        before the server's own arrive (rustls' quic_transport_parameters, the same)."""
        session = self._hs.session
        return None if session is None else session.quic_transport_parameters


class QuicServerConnection(QuicConnection):
    """A QUIC server's TLS (RFC 9001): waits for the ClientHello at the Initial level.
    ``transport_parameters``: our encoded QUIC transport parameters (sent in
    EncryptedExtensions), or a callable that makes them from the client's (as Go's
    QUICTransportParametersRequired: to echo or check connection IDs, or set limits
    per client): called once, with the client's encoded parameters, after any
    HelloRetryRequest and the 0-RTT decision, just before EncryptedExtensions. What it
    raises ends the handshake: a `TLSError` as it is, anything else as a
    `QuicTransportParameterError` (TRANSPORT_PARAMETER_ERROR, 0x08); a result that is
    not bytes is an `InternalError` (0x150) caused by a TypeError, and so is one longer
    than the extension holds (65535 bytes; given as bytes, that is a ValueError).

    0-RTT: with ``max_early_data_size`` > 0 in the config, tickets allow it (as
    0xffffffff, RFC 9001 4.6.1) and a resumption may accept it under TLS's rules
    (first ticket, suite and ALPN, age, the replay cache); the 0-RTT read secret is
    then reported at the EARLY level. ``early_data_context``: what else 0-RTT depends
    on (RFC 9001 4.6.2, RFC 9000 7.4.1: the transport parameters that limit it, such as
    initial_max_data and the stream limits, and the application's settings, such as
    HTTP/3's SETTINGS), encoded by the stack: its digest goes into this connection's
    tickets, and 0-RTT is declined on a ticket whose digest differs (resumption still
    goes ahead). Leave out per-connection values (connection IDs, the stateless reset
    token), or 0-RTT is never accepted.

    Tickets (with ``session_tickets`` > 0 in the config): ``automatic_tickets`` (the
    default, unless the config's ``automatic_tickets`` is False) sends the config's count
    when the handshake ends; False sends none until
    `send_session_ticket()` asks for one (as Go's QUIC server). Either way they are
    QUIC tickets: a TLS-over-TCP connection does not resume them, nor they it."""

    _hs: QuicServerHandshake

    def __init__(self, config: ServerConfig, *,
                 transport_parameters: bytes | ParametersChooser,
                 early_data_context: bytes = b"", automatic_tickets: bool = True) -> None:
        super().__init__()
        require_config(config, ServerConfig, "QuicServerConnection")
        self.config = _quic_config(config)
        self._expected = _FROM_CLIENT
        if not isinstance(early_data_context, (bytes, bytearray, memoryview)):
            raise TypeError("early_data_context takes bytes (what 0-RTT depends on, "
                            f"encoded), not {type(early_data_context).__name__}")
        if not callable(transport_parameters):
            transport_parameters = _transport_parameters(transport_parameters)
        self._hs = QuicServerHandshake(self.config, self._out, transport_parameters,
                                       bytes(early_data_context), automatic_tickets)

    def send_session_ticket(self, early_data: bool | None = None) -> bool:
        """Queue one NewSessionTicket at the 1-RTT level (`data_to_send()`), after the
        handshake (as Go's QUICConn.SendSessionTicket): for a stack that sends tickets
        when it chooses, e.g. once the handshake is confirmed, or with
        ``automatic_tickets=False`` only so. ``early_data``: whether the ticket allows
        0-RTT (its early_data 0xffffffff, RFC 9001 4.6.1); None (the default) as the
        config (``max_early_data_size`` > 0), True only if the config has 0-RTT on.
        Refused (`UsageError`) before the handshake completes, with
        ``session_tickets=0`` (the server would resume no ticket) and past 256 tickets
        on one connection; after a failure it raises that failure again. Returns
        whether a ticket was queued: False when the session store cannot be reached
        (as at the handshake's end, the connection goes on without one)."""
        if self._error is not None:
            self._raise_failure()
        return self._hs.send_session_ticket(early_data)


def error_code(exc: TLSError) -> int:
    """The QUIC error code to close with for a TLS failure (`TLSError.quic_error_code`)."""
    return exc.quic_error_code

