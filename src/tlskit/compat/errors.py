"""tlskit failures as the `ssl` exceptions the libraries above already catch.

A certificate that fails verification becomes `ssl.SSLCertVerificationError` whose
``verify_message`` is tlskit's explanation (which certificate, which check) and whose
``verify_code`` is the nearest OpenSSL ``X509_V_ERR_*`` number, so code written against
``ssl`` (requests, httpx, aiohttp, urllib3...) reports it as it always did. Every other
TLS failure becomes an `ssl.SSLError` subclass with the OpenSSL-style ``reason``.
"""

from __future__ import annotations

import ssl

from ..enums import AlertDescription as AD
from ..errors import AlertReceived, NotTLSError, TLSError, UsageError, not_tls_hint
from ..io.blocking import TruncatedConnection
from ..x509.errors import CertificateVerificationError, Reason

__all__ = ["UnsupportedSetting", "to_ssl_error"]


class UnsupportedSetting(ValueError):
    """An `ssl.SSLContext` setting tlskit cannot honour. Raised when it is set, so a
    context never silently does less (or less safely) than its settings say."""


# The X509_V_ERR_* code OpenSSL reports for the same failure (x509_vfy.h).
_VERIFY_CODES: dict[Reason, int] = {
    Reason.expired: 10,                       # CERT_HAS_EXPIRED
    Reason.not_yet_valid: 9,                  # CERT_NOT_YET_VALID
    Reason.unknown_issuer: 20,                # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    Reason.self_signed: 18,                   # DEPTH_ZERO_SELF_SIGNED_CERT
    Reason.bad_signature: 7,                  # CERT_SIGNATURE_FAILURE
    Reason.not_a_ca: 24,                      # INVALID_CA
    Reason.path_length_exceeded: 25,          # PATH_LENGTH_EXCEEDED
    Reason.name_constraints_violated: 47,     # PERMITTED_VIOLATION
    Reason.key_usage: 26,                     # INVALID_PURPOSE
    Reason.extended_key_usage: 26,            # INVALID_PURPOSE
    Reason.hostname_mismatch: 62,             # HOSTNAME_MISMATCH
    Reason.unhandled_critical_extension: 34,  # UNHANDLED_CRITICAL_EXTENSION
    Reason.revoked: 23,                       # CERT_REVOKED
    Reason.revocation_unknown: 3,             # UNABLE_TO_GET_CRL
    Reason.weak_key: 66,                      # EE_KEY_TOO_SMALL
    Reason.weak_signature: 68,                # CA_MD_TOO_WEAK
    Reason.malformed: 1,                      # UNSPECIFIED
    Reason.path_too_long: 22,                 # CERT_CHAIN_TOO_LONG
    Reason.no_certificate: 1,                 # UNSPECIFIED
}


def verification_error(exc: CertificateVerificationError) -> ssl.SSLCertVerificationError:
    message = str(exc)
    err = ssl.SSLCertVerificationError(
        1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}")
    err.library = "SSL"
    err.reason = "CERTIFICATE_VERIFY_FAILED"
    err.verify_code = _VERIFY_CODES.get(exc.reason, 1)
    err.verify_message = message
    return err


# OpenSSL's reason names for a received alert that do not follow the SSLV3_ALERT_* /
# TLSV1_ALERT_* pattern below (the TLS 1.3 alerts, and some without "ALERT_").
_ALERT_REASONS: dict[AD, str] = {
    AD.certificate_required: "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    AD.missing_extension: "TLSV13_ALERT_MISSING_EXTENSION",
    AD.user_canceled: "TLSV1_ALERT_USER_CANCELLED",
    AD.unsupported_extension: "TLSV1_UNSUPPORTED_EXTENSION",
    AD.unrecognized_name: "TLSV1_UNRECOGNIZED_NAME",
    AD.bad_certificate_status_response: "TLSV1_BAD_CERTIFICATE_STATUS_RESPONSE",
}


def _alert_reason(alert: AD) -> str:
    # OpenSSL's names: SSLV3_ALERT_* for the SSL 3 alerts, TLSV1_ALERT_* for most others.
    if alert in _ALERT_REASONS:
        return _ALERT_REASONS[alert]
    ssl3 = {AD.unexpected_message, AD.bad_record_mac, AD.handshake_failure,
            AD.bad_certificate, AD.unsupported_certificate, AD.certificate_revoked,
            AD.certificate_expired, AD.certificate_unknown, AD.illegal_parameter,
            AD.close_notify}
    prefix = "SSLV3_ALERT_" if alert in ssl3 else "TLSV1_ALERT_"
    return prefix + alert.name.upper()


def _make(cls: type[ssl.SSLError], errno: int, reason: str, text: str) -> ssl.SSLError:
    # A plain int, as _ssl's: the enum member would show as <SSLErrorNumber...: 1> in the
    # repr that requests and urllib3 put in their messages.
    err = cls(int(errno), f"[SSL: {reason}] {text}")
    err.library = "SSL"
    err.reason = reason
    return err


def eof_error(text: str) -> ssl.SSLError:
    return _make(ssl.SSLEOFError, ssl.SSL_ERROR_EOF, "UNEXPECTED_EOF_WHILE_READING",
                 f"EOF occurred in violation of protocol: {text}")


def zero_return_error(text: str = "the TLS connection has been closed") -> ssl.SSLError:
    return _make(ssl.SSLZeroReturnError, ssl.SSL_ERROR_ZERO_RETURN, "ZERO_RETURN", text)


def shutdown_error(in_init: bool) -> ssl.SSLError:
    """`ssl`'s error for unwrap() before the handshake (``in_init``) or for writing after
    this side's close_notify."""
    if in_init:
        return _make(ssl.SSLError, ssl.SSL_ERROR_SSL, "SHUTDOWN_WHILE_IN_INIT",
                     "shutdown while in init")
    return _make(ssl.SSLError, ssl.SSL_ERROR_SSL, "PROTOCOL_IS_SHUTDOWN",
                 "protocol is shutdown: this side sent close_notify (unwrap)")


def want_read() -> ssl.SSLError:
    return _make(ssl.SSLWantReadError, ssl.SSL_ERROR_WANT_READ, "WANT_READ",
                 "The operation did not complete (read)")


def _not_tls_reason(data: bytes) -> tuple[str, str]:
    """OpenSSL's reason for a first record that is not TLS: a server names the plain HTTP
    requests it recognises (by their first five bytes, as OpenSSL does)."""
    if data[:5] == b"CONNE":
        return "HTTPS_PROXY_REQUEST", "https proxy request"
    if data[:4] in (b"GET ", b"PUT ") or data[:5] in (b"POST ", b"HEAD "):
        return "HTTP_REQUEST", "http request"
    return "WRONG_VERSION_NUMBER", "wrong version number"


def to_ssl_error(exc: BaseException) -> BaseException:
    """The `ssl` exception for a tlskit one; anything else is returned unchanged."""
    if isinstance(exc, CertificateVerificationError):
        return verification_error(exc)
    if isinstance(exc, TruncatedConnection):
        return eof_error(str(exc))
    if isinstance(exc, NotTLSError):
        # OpenSSL's reason for it (https:// to a plain HTTP port, say), with what was sent.
        reason, words = _not_tls_reason(exc.data)
        return _make(ssl.SSLError, ssl.SSL_ERROR_SSL, reason,
                     f"{words}: {not_tls_hint(exc.data, exc)}")
    if isinstance(exc, AlertReceived):
        return _make(ssl.SSLError, ssl.SSL_ERROR_SSL, _alert_reason(exc.alert), str(exc))
    if isinstance(exc, TLSError):
        return _make(ssl.SSLError, ssl.SSL_ERROR_SSL, exc.alert.name.upper(), str(exc))
    if isinstance(exc, UsageError) and "closed" in str(exc):
        return zero_return_error(str(exc))
    return exc
