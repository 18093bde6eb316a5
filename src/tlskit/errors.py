"""The tlskit error tree. Every protocol error knows the alert it sends to the peer."""

from __future__ import annotations

from .enums import AlertDescription as AD


class TLSError(Exception):
    """Base of every tlskit failure; ``alert`` is what was (or will be) sent to the peer."""

    default_alert: AD = AD.internal_error

    def __init__(self, message: str = "", alert: AD | None = None) -> None:
        self.alert: AD = alert if alert is not None else self.default_alert
        super().__init__(message or self.alert.name)

    @property
    def description(self) -> str:
        return self.alert.name


class DecodeError(TLSError):
    default_alert = AD.decode_error


class IllegalParameter(TLSError):
    default_alert = AD.illegal_parameter


class UnexpectedMessage(TLSError):
    default_alert = AD.unexpected_message


class BadRecordMac(TLSError):
    default_alert = AD.bad_record_mac


class RecordOverflow(TLSError):
    default_alert = AD.record_overflow


class HandshakeFailure(TLSError):
    default_alert = AD.handshake_failure


class ProtocolVersionError(TLSError):
    default_alert = AD.protocol_version


class MissingExtension(TLSError):
    default_alert = AD.missing_extension


class UnsupportedExtension(TLSError):
    default_alert = AD.unsupported_extension


class DecryptError(TLSError):
    default_alert = AD.decrypt_error


class NoApplicationProtocol(TLSError):
    default_alert = AD.no_application_protocol


class UnrecognizedName(TLSError):
    default_alert = AD.unrecognized_name


class CertificateRequired(TLSError):
    default_alert = AD.certificate_required


class UnsupportedCertificate(TLSError):
    default_alert = AD.unsupported_certificate


class InappropriateFallback(TLSError):
    default_alert = AD.inappropriate_fallback


class InternalError(TLSError):
    default_alert = AD.internal_error


class BadCertificate(TLSError):
    """The peer's certificate failed verification; the alert depends on the reason."""

    default_alert = AD.bad_certificate


class AlertReceived(TLSError):
    """The peer ended the connection with a fatal alert; nothing is sent back.

    `receive_data` reports the alert as ``ConnectionClosed(alert)``; calls after that
    raise this error.
    """

    def __init__(self, alert: AD) -> None:
        super().__init__(f"peer sent alert {alert.name} ({int(alert)})", alert)


class ConnectionClosedError(TLSError):
    """The connection is closed and cannot carry more data."""

    default_alert = AD.close_notify


class UsageError(ValueError):
    """Local misuse of the API (sending before the handshake, after close). Sends nothing."""
