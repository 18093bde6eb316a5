"""What the TLS 1.2 client and server share: key derivation, Finished, the CCS switch.

TLS 1.2 is offered for peers that cannot speak 1.3, restricted to ECDHE with AEAD
suites, the extended master secret (RFC 7627) and no renegotiation.
"""

from __future__ import annotations

import hmac
from typing import Any

from .. import prf12
from ..crypto import Suite12
from ..enums import HandshakeType
from ..errors import DecodeError, DecryptError, UnexpectedMessage
from ..wire import messages as m
from ..wire import messages12 as m12
from .common import Handshake13

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

DOWNGRADE_TLS12 = b"DOWNGRD\x01"
DOWNGRADE_TLS11 = b"DOWNGRD\x00"


class Handshake12(Handshake13):
    """Reuses the reassembly, transcript and tracing of the 1.3 base; adds the 1.2 key
    block and the change_cipher_spec that switches the read side."""

    version = "TLSv1.2"
    not_in_transcript = frozenset({_HT.hello_request})

    def __init__(self, prev: Handshake13) -> None:
        super().__init__(prev.config, prev.records, prev.events)
        self.transcript = prev.transcript
        self.client_random = prev.client_random
        self.server_random = b""
        self.master_secret = b""
        self.suite12: Suite12 | None = None
        self.pending_read: tuple[bytes, bytes] | None = None
        self.messages = bytearray()  # 1.2 CertificateVerify signs the messages themselves

    def send(self, raw: bytes, *, transcript: bool = True) -> None:
        if transcript:
            self.messages += raw
        super().send(raw, transcript=transcript)

    def _received(self, raw: bytes) -> None:
        if not self.complete:  # only the handshake itself is signed by CertificateVerify
            self.messages += raw
        super()._received(raw)

    def decode_message(self, msg_type: int, body: memoryview) -> Any:
        decoder = DECODERS12.get(msg_type)
        if decoder is None:
            raise UnexpectedMessage(f"handshake message type {msg_type} is not TLS 1.2")
        return decoder.decode(body)

    # -- keys ---------------------------------------------------------------------------

    def derive_master(self, premaster: bytes) -> None:
        """RFC 7627 4: bind the master secret to the transcript through ClientKeyExchange."""
        suite = self.suite12
        assert suite is not None
        self.master_secret = prf12.extended_master_secret(
            suite.hash_name, premaster, self.transcript.digest())
        self.keylog("CLIENT_RANDOM", self.master_secret)

    def key_block(self) -> tuple[bytes, bytes, bytes, bytes]:
        suite = self.suite12
        assert suite is not None
        k, iv = suite.key_length, suite.iv_length
        block = prf12.key_block(suite.hash_name, self.master_secret, self.client_random,
                                self.server_random, 2 * k + 2 * iv)
        return block[:k], block[k:2 * k], block[2 * k:2 * k + iv], block[2 * k + iv:]

    def install_write12(self, key: bytes, iv: bytes) -> None:
        assert self.suite12 is not None
        self.flush()
        self.records.write_unprotected(20, b"\x01")
        self.records.set_write_key12(self.suite12, key, iv)

    def receive_ccs(self, payload: bytes) -> None:
        """RFC 5246 7.1: the peer's CCS switches our read side, right before Finished."""
        if payload != b"\x01":
            raise UnexpectedMessage("change_cipher_spec must carry the single byte 1")
        if self.pending_read is None:
            raise UnexpectedMessage("change_cipher_spec when no key change is due")
        self.require_message_boundary()
        assert self.suite12 is not None
        key, iv = self.pending_read
        self.records.set_read_key12(self.suite12, key, iv)
        self.pending_read = None
        self.on_ccs()

    def on_ccs(self) -> None:
        """What the side expects once the peer's CCS switched the read keys."""
        self.expect = {_HT.finished: self.on_finished}
        self.state = "waiting for Finished"

    def on_finished(self, fin: m.Finished, raw: bytes) -> None:
        raise UnexpectedMessage("Finished before the handshake reached it")

    def finished_data(self, is_client: bool, transcript_hash: bytes) -> bytes:
        assert self.suite12 is not None
        return prf12.finished(self.suite12.hash_name, self.master_secret, is_client,
                              transcript_hash)

    def check_finished12(self, msg: m.Finished, is_client: bool) -> None:
        expected = self.finished_data(is_client, self.hash_before)
        if len(msg.verify_data) != 12:
            raise DecodeError("TLS 1.2 Finished must be 12 bytes")
        if not hmac.compare_digest(msg.verify_data, expected):
            raise DecryptError("Finished verify_data does not match the transcript")

    def export(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """RFC 5705 keying material exporter."""
        assert self.suite12 is not None
        seed = self.client_random + self.server_random
        if context is not None:
            seed += len(context).to_bytes(2, "big") + context
        return prf12.prf(self.suite12.hash_name, self.master_secret, label, seed, length)

    def send_key_update(self, request: bool) -> None:
        from ..errors import UsageError
        raise UsageError("KeyUpdate does not exist in TLS 1.2")

