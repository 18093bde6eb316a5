"""What both TLS 1.3 handshakes share: message reassembly, the transcript, sending,
key installation, key logging and tracing.

The transcript hash is updated in exactly one place: `Handshake13._received` for what
arrives and `Handshake13.send` for what leaves, always over the raw message bytes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from cryptography import x509

from .. import crypto
from ..crypto import Suite
from ..enums import ContentType, ExtensionType, HandshakeType, KeyUpdateRequest
from ..errors import (
    BadCertificate,
    DecodeError,
    DecryptError,
    IllegalParameter,
    UnexpectedMessage,
    UnsupportedCertificate,
)
from ..events import Event, KeyUpdated
from ..keyschedule import EarlySecret, finished_key, next_traffic_secret, traffic_keys
from ..record import RecordLayer
from ..wire import messages as m

Handler = Callable[[Any, bytes], None]

# RFC 8446 4.4.3: the CertificateVerify signature covers 64 spaces, a context string,
# a zero byte and the transcript hash.
_CV_PAD = b"\x20" * 64
CV_SERVER = _CV_PAD + b"TLS 1.3, server CertificateVerify\x00"
CV_CLIENT = _CV_PAD + b"TLS 1.3, client CertificateVerify\x00"

# RFC 8446 4.2: which extensions may appear in which message (what we recognise).
_E = ExtensionType
ALLOWED_IN_EE = frozenset({
    _E.server_name, _E.max_fragment_length, _E.supported_groups, _E.use_srtp, _E.heartbeat,
    _E.application_layer_protocol_negotiation, _E.record_size_limit, _E.early_data,
    19, 20,  # client/server_certificate_type
})
ALLOWED_IN_SH = frozenset({_E.key_share, _E.supported_versions, _E.pre_shared_key})
ALLOWED_IN_HRR = frozenset({_E.key_share, _E.supported_versions, _E.cookie})
ALLOWED_IN_CERT_ENTRY = frozenset({_E.status_request, _E.signed_certificate_timestamp})
RECOGNISED = frozenset(int(e) for e in ExtensionType)
_SNAPSHOT_BEFORE = frozenset({HandshakeType.certificate_verify, HandshakeType.finished})
# ServerHello is added by the client itself: a HelloRetryRequest rewrites the transcript.
_NOT_IN_TRANSCRIPT = frozenset({HandshakeType.new_session_ticket, HandshakeType.key_update,
                                HandshakeType.server_hello})


def parse_chain(blobs: list[bytes], whose: str) -> list[x509.Certificate]:
    """DER certificates from a Certificate message; anything unparseable is bad_certificate
    (cryptography raises more than ValueError for odd encodings, e.g. InvalidVersion)."""
    chain = []
    for i, der in enumerate(blobs):
        try:
            chain.append(x509.load_der_x509_certificate(der))
        except Exception as exc:  # any parse failure means a bad certificate
            raise BadCertificate(f"{whose} certificate {i} does not parse: {exc}") from exc
    return chain


def public_key_of(cert: x509.Certificate) -> Any:
    """The certificate's key; a key type cryptography cannot use is unsupported_certificate."""
    try:
        return cert.public_key()
    except Exception as exc:  # UnsupportedAlgorithm, ValueError, ...
        raise UnsupportedCertificate(f"certificate key cannot be used: {exc}") from exc


class Transcript:
    """Running hash of the handshake; buffers messages until the hash is known."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._hash: Any = None

    def start(self, hash_name: str) -> None:
        self._hash = hashlib.new(hash_name)
        for raw in self._pending:
            self._hash.update(raw)
        self._pending = []

    def restart_after_hrr(self, hash_name: str) -> None:
        """4.4.1: ClientHello1 is replaced by message_hash(Hash(ClientHello1))."""
        first = hashlib.new(hash_name, b"".join(self._pending)).digest() \
            if self._hash is None else self._hash.digest()
        self._hash = hashlib.new(hash_name)
        self._pending = []
        self._hash.update(m.frame(HandshakeType.message_hash, first))

    def update(self, raw: bytes) -> None:
        if self._hash is None:
            self._pending.append(raw)
        else:
            self._hash.update(raw)

    def digest(self) -> bytes:
        return bytes(self._hash.digest())

    def hash_with(self, hash_name: str, extra: bytes) -> bytes:
        """Hash of the transcript so far plus `extra`, whether or not hashing has begun
        (PSK binders are computed before the cipher suite is agreed)."""
        if self._hash is None:
            return hashlib.new(hash_name, b"".join(self._pending) + extra).digest()
        return self.digest_with(extra)

    def digest_with(self, extra: bytes) -> bytes:
        h = self._hash.copy()
        h.update(extra)
        return bytes(h.digest())


class Handshake13:
    """Base of the client and server state machines.

    Subclasses set ``self.expect`` to a mapping of handshake type -> handler for the
    current state; anything else is an unexpected_message. Handlers get the decoded
    message and its raw bytes (already added to the transcript).
    """

    side = "client"
    version = "TLSv1.3"
    not_in_transcript = _NOT_IN_TRANSCRIPT

    def __init__(self, config: Any, records: RecordLayer, events: list[Event]) -> None:
        self.config = config
        self.records = records
        self.events = events
        self.transcript = Transcript()
        self.suite: Suite | None = None
        self.expect: dict[int, Handler] = {}
        self.state = "start"
        self.complete = False
        self._buf = bytearray()
        self._flight = bytearray()
        self.client_random = b""
        self.read_secret = b""
        self.write_secret = b""
        # True while our latest KeyUpdate answered a request and nothing went out since.
        self._last_update_answered = False
        self.ccs_seen = False
        self.hash_before = b""
        self.before_hello: Transcript | None = None
        self.successor: Handshake13 | None = None  # set when TLS 1.2 takes over
        self.exporter_master = b""
        self.resumption_master = b""

    # -- tracing and key logging -------------------------------------------------------

    def trace(self, step: str, **fields: Any) -> None:
        tracer = self.config.tracer
        if tracer is not None:
            tracer(step, fields)

    def keylog(self, label: str, secret: bytes) -> None:
        if self.config.keylog is not None:
            self.config.keylog(label, self.client_random, secret)

    # -- receiving ----------------------------------------------------------------------

    @property
    def partial_message(self) -> bool:
        return bool(self._buf)

    def receive_record(self, payload: bytes) -> None:
        """Reassemble handshake messages from one record's content and dispatch them."""
        buf = self._buf
        buf += payload
        limit = self.config.max_handshake_message
        while len(buf) >= 4:
            length = int.from_bytes(buf[1:4], "big")
            if length > limit:
                raise DecodeError(
                    f"handshake message of {length} bytes exceeds the {limit}-byte limit")
            if len(buf) < 4 + length:
                return
            raw = bytes(buf[:4 + length])
            del buf[:4 + length]
            self._received(raw)
            if self.successor is not None:  # the rest belongs to the TLS 1.2 handshake
                rest = bytes(buf)
                buf.clear()
                if rest:
                    self.successor.receive_record(rest)
                return

    def _received(self, raw: bytes) -> None:
        msg_type = raw[0]
        handler = self.expect.get(msg_type)
        if handler is None:
            raise UnexpectedMessage(
                f"{HandshakeType(msg_type).name} is not expected while {self.state}")
        msg = self.decode_message(msg_type, memoryview(raw)[4:])
        if msg_type == HandshakeType.client_hello:
            self.before_hello = Transcript.__new__(Transcript)
            self.before_hello._pending = list(self.transcript._pending)
            self.before_hello._hash = self.transcript._hash and self.transcript._hash.copy()
        if msg_type in _SNAPSHOT_BEFORE:
            # Signatures and MACs cover the transcript up to, not including, the message.
            self.hash_before = self.transcript.digest()
        if msg_type not in self.not_in_transcript:
            self.transcript.update(raw)
        handler(msg, raw)

    def decode_message(self, msg_type: int, body: memoryview) -> Any:
        return m.decode_message(msg_type, body)

    def require_message_boundary(self) -> None:
        """5.1: a key change must not fall inside a handshake message."""
        if self._buf:
            raise UnexpectedMessage("handshake data left over across a key change")

    def receive_ccs(self, payload: bytes) -> None:
        """5: one compatibility change_cipher_spec (0x01) is dropped during the handshake."""
        if self.complete or self.ccs_seen or payload != b"\x01":
            raise UnexpectedMessage("change_cipher_spec outside the handshake")
        if not self.ccs_allowed():
            raise UnexpectedMessage("change_cipher_spec before the ClientHello")
        self.ccs_seen = True

    def ccs_allowed(self) -> bool:
        return True

    # -- sending ------------------------------------------------------------------------

    def send(self, raw: bytes, *, transcript: bool = True) -> None:
        """Add one message to the current flight (flushed as few records as possible)."""
        if transcript:
            self.transcript.update(raw)
        self._flight += raw

    def flush(self) -> None:
        if self._flight:
            self.records.write(ContentType.handshake, self._flight)
            self._flight = bytearray()

    # -- keys ---------------------------------------------------------------------------

    def set_read(self, secret: bytes) -> None:
        assert self.suite is not None
        self.require_message_boundary()
        keys = traffic_keys(self.suite, secret)
        self.records.set_read_key(self.suite, keys.key, keys.iv)
        self.read_secret = secret

    def set_write(self, secret: bytes) -> None:
        assert self.suite is not None
        self.flush()
        keys = traffic_keys(self.suite, secret)
        self.records.set_write_key(self.suite, keys.key, keys.iv)
        self.write_secret = secret

    # -- Finished and CertificateVerify ------------------------------------------------

    def finished_for(self, base_key: bytes, transcript_hash: bytes) -> bytes:
        assert self.suite is not None
        return hmac.digest(finished_key(self.suite, base_key), transcript_hash,
                           self.suite.hash_name)

    def check_finished(self, msg: m.Finished, expected: bytes) -> None:
        if len(msg.verify_data) != len(expected):
            raise DecodeError("Finished has the wrong length")
        if not hmac.compare_digest(msg.verify_data, expected):
            raise DecryptError("Finished verify_data does not match the transcript")

    def check_certificate_verify(self, msg: m.CertificateVerify, leaf: Any,
                                 offered: list[int], context: bytes,
                                 transcript_hash: bytes) -> None:
        """4.4.3: the scheme must be one we offered, a TLS 1.3 scheme, and fit the key."""
        if msg.algorithm not in offered or msg.algorithm not in crypto.HANDSHAKE_SCHEMES:
            raise IllegalParameter(
                f"CertificateVerify uses scheme {msg.algorithm:#06x} that was not offered")
        crypto.verify(public_key_of(leaf), msg.algorithm, msg.signature,
                      context + transcript_hash,
                      key_oid=leaf.public_key_algorithm_oid.dotted_string)

    # -- post-handshake ----------------------------------------------------------------

    def post_handshake_key_update(self, msg: m.KeyUpdate, raw: bytes) -> None:
        """4.6.3: move our read side on; answer once if the peer asks."""
        assert self.suite is not None
        self.set_read(next_traffic_secret(self.suite, self.read_secret))
        requested = msg.request_update == KeyUpdateRequest.update_requested
        # 4.6.3: answer before our next record, but once only while we stay silent: a
        # KeyUpdate of ours with nothing sent under its key already answers.
        if requested and not (self._last_update_answered and self.records.write_sequence == 0):
            self.send_key_update(request=False)
            self._last_update_answered = True
        self.events.append(KeyUpdated(requested))
        self.trace("key_update_received", update_requested=requested)

    def send_key_update(self, request: bool) -> None:
        assert self.suite is not None
        value = (KeyUpdateRequest.update_requested if request
                 else KeyUpdateRequest.update_not_requested)
        self.send(m.KeyUpdate(value).encode(), transcript=False)
        self.flush()
        self.set_write(next_traffic_secret(self.suite, self.write_secret))
        self._last_update_answered = False
        self.trace("key_update_sent", update_requested=request)

    @staticmethod
    def psk_binder(suite: Suite, psk: bytes, before: Transcript, truncated_hello: bytes) -> bytes:
        """4.2.11.2: HMAC over the transcript up to the binders, keyed from the PSK."""
        early = EarlySecret.start(suite, psk)
        th = before.hash_with(suite.hash_name, truncated_hello)
        return hmac.digest(finished_key(suite, early.binder_key()), th, suite.hash_name)

    def check_extensions(self, exts: m.Extensions, allowed: frozenset[int], offered: set[int],
                         what: str) -> None:
        """4.2: recognised-but-misplaced -> illegal_parameter; unsolicited -> unsupported."""
        from ..errors import UnsupportedExtension
        for etype in exts:
            if etype not in allowed:
                if etype in RECOGNISED:
                    raise IllegalParameter(
                        f"{ExtensionType(etype).name} is not allowed in {what}")
                raise UnsupportedExtension(f"unrequested extension {etype} in {what}")
            if etype not in offered:
                raise UnsupportedExtension(
                    f"{what} carries {ExtensionType(etype).name}, which was not offered")
