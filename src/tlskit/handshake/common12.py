"""What the TLS 1.2 client and server share: key derivation, Finished, the CCS switch.

TLS 1.2 is offered for peers that cannot speak 1.3, restricted to ECDHE with AEAD
suites (RSA key transport only when a config opts in: no forward secrecy) and no
renegotiation; the extended master secret (RFC 7627) is preferred, and only
sessions made with it resume (session IDs or RFC 5077 tickets, abbreviated handshake).
A TLS 1.2 handshake takes over from the TLS 1.3 one after the first hello (see
`Handover12`); it shares the state-machine engine with 1.3 (`Handshake`), not the 1.3
handshake itself.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from .. import crypto, prf12
from ..crypto import Suite12
from ..enums import HandshakeType
from ..enums import ProtocolVersion as PV
from ..errors import (
    DecodeError,
    DecryptError,
    HandshakeFailure,
    UnexpectedMessage,
    UsageError,
)
from ..wire import messages as m
from ..wire import messages12 as m12
from .common import Handshake, Output, Transcript

_HT = HandshakeType
DECODERS12: dict[int, Any] = {
    _HT.client_hello: m.ClientHello, _HT.server_hello: m.ServerHello,
    _HT.certificate: m12.Certificate12, _HT.server_key_exchange: m12.ServerKeyExchangeECDHE,
    _HT.certificate_request: m12.CertificateRequest12,
    _HT.server_hello_done: m12.ServerHelloDone,
    _HT.client_key_exchange: m12.ClientKeyExchangeECDHE,
    _HT.certificate_verify: m12.CertificateVerify12, _HT.finished: m.Finished,
    _HT.certificate_status: m12.CertificateStatus, _HT.hello_request: m12.HelloRequest,
    _HT.new_session_ticket: m12.NewSessionTicket12,
}
_CKE = int(_HT.client_key_exchange)
# The body decoder of each type whose form never depends on the suite, for `_received`
# to call directly; ClientKeyExchange (ECDHE or RSA key transport) and the types TLS 1.2
# does not have go through `Handshake12.decode_message`.
BODY_DECODERS12: dict[int, Any] = {t: cls.decode for t, cls in DECODERS12.items() if t != _CKE}
# RFC 7250 3: once RawPublicKey is negotiated for the peer's certificate, its Certificate
# is one SubjectPublicKeyInfo, not a list (the side sets these as its own `decoders`).
RAW_KEY_DECODERS12: dict[int, Any] = {**BODY_DECODERS12,
                                      _HT.certificate: m12.RawKeyCertificate12.decode}
# `hooked_types` of a side that keeps no messages: `before_transcript` is never called.
_NO_HOOK: frozenset[int] = frozenset()
# Renegotiation requests (a HelloRequest to a client, a ClientHello to a server after the
# handshake) each refused with a warning no_renegotiation; past this many, a peer that
# keeps asking is ended with unexpected_message (each request costs us a decode).
MAX_REFUSED_RENEGOTIATIONS = 16


@dataclass(slots=True)
class Handover12:
    """What the TLS 1.3 handshake passes on when the peer turns out to speak TLS 1.2."""

    config: Any
    out: Output
    transcript: Transcript
    client_random: bytes = b""
    server_name: str | None = None
    offered: Collection[int] = frozenset()  # client: the extensions we offered
    hello: Any = None  # server: the ClientHelloView already decoded
    session: Any = None  # client: the TLS 1.2 `Session` our ClientHello offered
    session_id: bytes = b""  # client: the legacy_session_id our ClientHello carried
    ech_rejected: bool = False  # client: ECH was offered (a TLS 1.2 server rejects it)


class Handshake12(Handshake):
    """The 1.2 key block, the change_cipher_spec that switches the read side, Finished
    and the exporter."""

    protocol = PV.TLSv1_2
    not_in_transcript = frozenset({_HT.hello_request})
    decoders = BODY_DECODERS12
    # Slots for what the TLS 1.2 classes add to `Handshake`'s attributes (also in each
    # subclass): CPython 3.11 keeps at most 30 attributes of an object in its fast
    # shared-key layout, and a handshake object with all of them in its __dict__ (about
    # 40) costs about four times as much to build.
    __slots__ = ("_keep", "_master_prf", "ems", "first_finished", "master_secret", "messages",
                 "pending_read", "resumed", "server_name", "server_random", "suite12")

    def __init__(self, handover: Handover12, state: Any) -> None:
        super().__init__(handover.config, handover.out, handover.transcript, state)
        self.client_random = handover.client_random
        self.server_name = handover.server_name
        self.server_random = b""
        self.master_secret = b""
        self._master_prf: prf12.KeyedPrf | None = None  # the PRF under master_secret
        self.suite12: Suite12 | None = None
        self.pending_read: tuple[bytes, bytes] | None = None
        self.ems = True  # RFC 7627 negotiated (set from the hellos)
        self.first_finished: bytes | None = None  # its verify_data: tls-unique (RFC 5929)
        self.resumed = False
        # 1.2 CertificateVerify signs the messages themselves, not their hash: kept
        # whenever one may be signed or checked here (`keeps_messages`).
        self._keep = self.keeps_messages(handover.config)
        self.messages = bytearray(b"".join(handover.transcript._pending) if self._keep else b"")
        if not self._keep:  # `before_transcript` would do nothing: not called at all
            self.hooked_types = _NO_HOOK

    def keeps_messages(self, config: Any) -> bool:
        """Whether this side may sign or check a CertificateVerify."""
        return True

    def take_over(self, msg_type: int, msg: Any, raw: bytes) -> None:
        """The hello the TLS 1.3 handshake read, answered: the version is settled, and
        every later record must carry 0x0303 (RFC 5246 6.2.1; a client's first records
        may still say 0x0301, and this one is read)."""
        super().take_over(msg_type, msg, raw)
        self.out.expect_tls12()

    def send(self, raw: bytes, *, transcript: bool = True) -> None:
        """`Handshake.send`, also keeping the messages for CertificateVerify (one call
        per message, not two: a pair sends seven)."""
        if transcript:
            if self._keep:
                self.messages += raw
            self.transcript.update(raw)
        self._flight.append(raw)

    def before_transcript(self, msg_type: int, raw: bytes) -> None:
        # Only the handshake itself is signed by CertificateVerify (called only if kept).
        if self.state is not self.CONNECTED:
            self.messages += raw

    def decode_message(self, msg_type: int, body: memoryview) -> Any:
        if msg_type == _CKE and self.rsa_kx:
            return m12.ClientKeyExchangeRSA.decode(body)  # its form depends on the suite
        decoder = DECODERS12.get(msg_type)
        if decoder is None:
            raise UnexpectedMessage(f"handshake message type {msg_type} is not TLS 1.2")
        return decoder.decode(body)

    @property
    def rsa_kx(self) -> bool:
        """The negotiated suite uses RSA key transport (RFC 5246 7.4.7.1), not ECDHE."""
        return self.suite12 is not None and self.suite12.kx == "RSA"

    # -- keys ---------------------------------------------------------------------------

    def derive_master(self, premaster: bytes) -> bytes:
        """RFC 7627 4: bind the master secret to the transcript through ClientKeyExchange
        (or, for a peer without the extension, RFC 5246 8.1's master secret). Returns
        that session hash (empty without the extension): the client's Finished covers the
        same messages when no CertificateVerify follows."""
        suite = self.suite12
        assert suite is not None
        if self.ems:
            session_hash = self.transcript.digest()
            master = prf12.extended_master_secret(suite.hash_name, premaster, session_hash)
        else:
            session_hash = b""
            master = prf12.classic_master_secret(
                suite.hash_name, premaster, self.client_random, self.server_random)
        self._set_master(master)
        return session_hash

    def _set_master(self, master_secret: bytes) -> None:
        assert self.suite12 is not None
        self.master_secret = master_secret
        self._master_prf = prf12.KeyedPrf(self.suite12.hash_name, master_secret)
        self.keylog("CLIENT_RANDOM", master_secret)

    def refuse_without_ems(self, peer: str) -> None:
        """`require_extended_master_secret`: refuse a peer that does not negotiate it."""
        if self.config.require_extended_master_secret:
            raise HandshakeFailure(
                f"the {peer} does not support the extended master secret (RFC 7627), and "
                "this config sets require_extended_master_secret=True; set it to False to "
                "accept such peers (their sessions are then never resumed)")

    def use_resumed_master(self, master_secret: bytes) -> None:
        """An abbreviated handshake (RFC 5246 7.3): the session's master secret, new keys."""
        self._set_master(master_secret)

    def key_block(self) -> tuple[bytes, bytes, bytes, bytes]:
        suite, keyed = self.suite12, self._master_prf
        assert suite is not None and keyed is not None
        k, iv = suite.key_length, suite.iv_length
        block = keyed.expand(b"key expansion" + self.server_random + self.client_random,
                             2 * k + 2 * iv)
        return block[:k], block[k:2 * k], block[2 * k:2 * k + iv], block[2 * k + iv:]

    def install_write12(self, key: bytes, iv: bytes) -> None:
        assert self.suite12 is not None
        self.send_ccs()
        self.out.install_write12(self.suite12, key, iv)

    def receive_ccs(self, payload: bytes) -> None:
        """RFC 5246 7.1: the peer's CCS switches our read side, right before Finished."""
        if payload != b"\x01":
            raise UnexpectedMessage("change_cipher_spec must carry the single byte 1")
        nxt = self.CCS_NEXT.get(self.state)
        if nxt is None or self.pending_read is None:
            raise UnexpectedMessage(f"change_cipher_spec is not expected in "
                                    f"{self.describe_state()}")
        self.require_message_boundary()
        assert self.suite12 is not None
        key, iv = self.pending_read
        self.out.install_read12(self.suite12, key, iv)
        self.pending_read = None
        self.state = nxt
        if self.config.tracer is not None:
            self.trace_peer_ccs()

    def finished_data(self, is_client: bool, transcript_hash: bytes) -> bytes:
        assert self._master_prf is not None
        verify_data = self._master_prf.finished(is_client, transcript_hash)
        if self.first_finished is None:
            self.first_finished = verify_data
        return verify_data

    def check_finished12(self, msg: m.Finished, is_client: bool) -> None:
        if len(msg.verify_data) != 12:
            raise DecodeError("TLS 1.2 Finished must be 12 bytes")
        assert self._master_prf is not None
        expected = self._master_prf.finished(is_client, self.hash_before)
        if not hmac.compare_digest(msg.verify_data, expected):
            raise DecryptError("Finished verify_data does not match the transcript")
        if self.first_finished is None:
            self.first_finished = expected

    def tls_unique(self) -> bytes | None:
        """RFC 5929 3: the first Finished of the handshake (the client's in a full one, the
        server's in an abbreviated one). Only with the extended master secret: without it
        two connections can be made to share it (the triple handshake, RFC 7627 1)."""
        return self.first_finished if self.complete and self.ems else None

    def export(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """RFC 5705 keying material exporter."""
        assert self.suite12 is not None
        seed = self.client_random + self.server_random
        if context is not None:
            seed += len(context).to_bytes(2, "big") + context
        assert self._master_prf is not None
        return self._master_prf(label, seed, length)

    def send_key_update(self, request: bool) -> None:
        raise UsageError("KeyUpdate does not exist in TLS 1.2")


def key_transport_problem(cert: x509.Certificate) -> str | None:
    """Why a premaster secret cannot be encrypted to `cert`'s key (None if it can):
    RSA key transport needs an rsaEncryption key (RFC 5246 7.4.2; an RSASSA-PSS key is
    for signatures only), and a certificate that restricts its key's usage must allow
    keyEncipherment (RFC 5280 4.2.1.3)."""
    oid = cert.public_key_algorithm_oid.dotted_string
    if oid != crypto.RSA_ENCRYPTION_OID:
        return f"its key is not an RSA encryption key ({oid})"
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if not usage.key_encipherment:
        return "its KeyUsage does not allow keyEncipherment"
    return None
