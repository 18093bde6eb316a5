"""The trace vocabulary: every step the engine reports to ``config.tracer``.

``tracer(step, fields)`` is called with a `TraceStep` (a `str`, so plain string
comparisons keep working) and a dict of real values. `STEPS` says, for each step, which
handshake message it is (its RFC name and who sends it) or that it is a local event, and
for which protocol versions the engine emits it. The CLI renders traces from this table;
it owns no list of its own.

Both sides trace what they send and what they receive, so one side's trace alone shows
the whole exchange: for TLS 1.3 the hellos, the encrypted flight, the compatibility
ChangeCipherSpec records (RFC 8446 D.4) and the post-handshake messages; for TLS 1.2
(RFC 5246 7.3) also ServerKeyExchange, ServerHelloDone, ClientKeyExchange and the
ChangeCipherSpec that switches each direction to the negotiated keys.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

__all__ = ["STEPS", "StepInfo", "TraceStep", "message_of"]

Sender = Literal["client", "server", "self", "peer"]


class TraceStep(enum.StrEnum):
    """The name of a step a ``tracer`` receives (a `str`: ``step == "client_hello"`` works)."""

    CLIENT_HELLO = "client_hello"
    HELLO_RETRY_REQUEST = "hello_retry_request"
    SERVER_HELLO = "server_hello"
    ENCRYPTED_EXTENSIONS = "encrypted_extensions"
    CERTIFICATE_REQUEST = "certificate_request"
    CERTIFICATE = "certificate"
    COMPRESSED_CERTIFICATE = "compressed_certificate"
    CERTIFICATE_STATUS = "certificate_status"
    SERVER_KEY_EXCHANGE = "server_key_exchange"
    SERVER_HELLO_DONE = "server_hello_done"
    CERTIFICATE_VERIFIED = "certificate_verified"
    CERTIFICATE_REJECTED = "certificate_rejected"
    CERTIFICATE_VERIFY = "certificate_verify"
    CLIENT_CERTIFICATE = "client_certificate"
    CLIENT_CERTIFICATE_VERIFY = "client_certificate_verify"
    CLIENT_KEY_EXCHANGE = "client_key_exchange"
    CLIENT_CHANGE_CIPHER_SPEC = "client_change_cipher_spec"
    SERVER_CHANGE_CIPHER_SPEC = "server_change_cipher_spec"
    SERVER_FINISHED = "server_finished"
    CLIENT_FINISHED = "client_finished"
    NEW_SESSION_TICKET = "new_session_ticket"
    PSK_ACCEPTED = "psk_accepted"
    PSK_DECLINED = "psk_declined"
    KEY_UPDATE_SENT = "key_update_sent"
    KEY_UPDATE_RECEIVED = "key_update_received"


@dataclass(frozen=True, slots=True)
class StepInfo:
    """What a step is: a message (``message``, ``sender``) or a local event (both None).

    ``sender`` "self"/"peer" is relative to the side whose tracer saw the step."""

    message: str | None
    sender: Sender | None
    versions: frozenset[str]


_BOTH = frozenset({"TLSv1.3", "TLSv1.2"})
_13 = frozenset({"TLSv1.3"})
_12 = frozenset({"TLSv1.2"})
_S = TraceStep

STEPS: dict[TraceStep, StepInfo] = {
    _S.CLIENT_HELLO: StepInfo("ClientHello", "client", _BOTH),
    _S.HELLO_RETRY_REQUEST: StepInfo("HelloRetryRequest", "server", _13),
    _S.SERVER_HELLO: StepInfo("ServerHello", "server", _BOTH),
    _S.ENCRYPTED_EXTENSIONS: StepInfo("EncryptedExtensions", "server", _13),
    _S.CERTIFICATE_REQUEST: StepInfo("CertificateRequest", "server", _BOTH),
    _S.CERTIFICATE: StepInfo("Certificate", "server", _BOTH),
    _S.COMPRESSED_CERTIFICATE: StepInfo(None, None, _13),  # how the Certificate travelled
    _S.CERTIFICATE_STATUS: StepInfo("CertificateStatus", "server", _12),
    _S.SERVER_KEY_EXCHANGE: StepInfo("ServerKeyExchange", "server", _12),
    _S.SERVER_HELLO_DONE: StepInfo("ServerHelloDone", "server", _12),
    _S.CERTIFICATE_VERIFIED: StepInfo(None, None, _BOTH),
    _S.CERTIFICATE_REJECTED: StepInfo(None, None, _BOTH),
    _S.CERTIFICATE_VERIFY: StepInfo("CertificateVerify", "server", _13),
    _S.CLIENT_CERTIFICATE: StepInfo("Certificate", "client", _BOTH),
    _S.CLIENT_CERTIFICATE_VERIFY: StepInfo("CertificateVerify", "client", _BOTH),
    _S.CLIENT_KEY_EXCHANGE: StepInfo("ClientKeyExchange", "client", _12),
    _S.CLIENT_CHANGE_CIPHER_SPEC: StepInfo("ChangeCipherSpec", "client", _BOTH),
    _S.SERVER_CHANGE_CIPHER_SPEC: StepInfo("ChangeCipherSpec", "server", _BOTH),
    _S.SERVER_FINISHED: StepInfo("Finished", "server", _BOTH),
    _S.CLIENT_FINISHED: StepInfo("Finished", "client", _BOTH),
    _S.NEW_SESSION_TICKET: StepInfo("NewSessionTicket", "server", _BOTH),
    _S.PSK_ACCEPTED: StepInfo(None, None, _BOTH),
    _S.PSK_DECLINED: StepInfo(None, None, _BOTH),
    _S.KEY_UPDATE_SENT: StepInfo("KeyUpdate", "self", _13),
    _S.KEY_UPDATE_RECEIVED: StepInfo("KeyUpdate", "peer", _13),
}
"""Every `TraceStep` and what it is; the CLI draws traces from this table."""


def message_of(step: str, side: str) -> tuple[str | None, str | None]:
    """(message name, sender "client"/"server") of a step seen by `side`'s tracer;
    (None, None) for a local event or a step this vocabulary does not know."""
    info = STEPS.get(step)  # type: ignore[call-overload]
    if info is None or info.message is None:
        return None, None
    sender: str | None = info.sender
    if sender == "self":
        sender = side
    elif sender == "peer":
        sender = "server" if side == "client" else "client"
    return info.message, sender
