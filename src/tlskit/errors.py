"""The tlskit error tree. Every protocol error knows the alert it sends to the peer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from .enums import AlertDescription as AD


class TLSError(Exception):
    """Base of every tlskit failure; ``alert`` is what was (or will be) sent to the peer."""

    default_alert: AD = AD.internal_error

    def __init__(self, message: str = "", alert: AD | None = None) -> None:
        self.alert: AD = alert if alert is not None else self.default_alert
        super().__init__(message or self.alert.name)

    @property
    def description(self) -> str:
        """The alert's name (``bad_certificate``), as OpenSSL and Go print it."""
        return self.alert.name

    @property
    def quic_error_code(self) -> int:
        """The QUIC transport error code for this failure: CRYPTO_ERROR, 0x100 plus the
        alert (RFC 9001 4.8)."""
        return 0x100 + int(self.alert)

    def raise_again(self) -> NoReturn:
        """Raise this (sticky) failure again with the traceback of its first raise: a
        connection that failed answers every later call with the same exception, and
        re-raising one object appends the new frames to its traceback each time, which
        then keeps them (and their locals) alive for as long as calls keep coming."""
        first = self.__dict__.setdefault("_first_traceback", self.__traceback__)
        raise self.with_traceback(first)


class DecodeError(TLSError):
    """A message or record that does not parse: wrong lengths, truncation, trailing bytes."""

    default_alert = AD.decode_error


class NotTLSError(DecodeError):
    """Bytes where a record should start that are no TLS record: on the first one, the peer
    speaks something else on this port (plain HTTP, a banner). ``data``: what it sent;
    ``reason``: the record layer's words alone, without the hint `at_start` adds."""

    def __init__(self, message: str, data: bytes = b"") -> None:
        super().__init__(message)
        self.reason = message
        self.data = data

    def at_start(self) -> None:
        """These bytes came before the handshake settled anything: say what the peer seems
        to be instead (a plain HTTP server, a banner) and what to do, once."""
        self.args = (f"{self.reason}, so the peer does not speak TLS here: "
                     f"{_not_tls_words(self.data, None)}",)


def not_tls_hint(data: bytes, exc: BaseException) -> str:
    """What a peer that does not speak TLS sent instead, quoted when it is text (an HTTP
    status line or a banner tells what listens on the port); bytes that are not text
    quote the record layer's reason (``exc``'s, without the hint it may carry)."""
    return _not_tls_words(data, getattr(exc, "reason", None) or str(exc))


def _starttls_protocol(text: str) -> str | None:
    """The STARTTLS protocol whose plaintext greeting this is, if any."""
    if text.startswith(("220 ", "220-")):
        return "ftp" if "FTP" in text.upper() else "smtp"
    if text.upper().startswith("* OK"):
        return "imap"
    if text.startswith("+OK"):
        return "pop3"
    return None


def _not_tls_words(data: bytes, reason: str | None) -> str:
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    if not line or not all(32 <= b < 127 or b == 9 for b in line):
        said = f" ({reason})" if reason else ""
        return f"it sent bytes that are not a TLS record{said}; is this its TLS port?"
    text = line.decode("ascii")
    if text.startswith("CONNECT "):
        return (f"it sent a proxy request ({text!r}); it takes this TLS port for an HTTP "
                f"proxy")
    if text.startswith(("GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ")):
        return f"it sent a plain HTTP request ({text!r}); http:// was used for a TLS port"
    if text.startswith(("HTTP/", "<")):
        return (f"it answered in plain HTTP ({text!r}); use http://, or the port "
                f"that serves HTTPS")
    proto = _starttls_protocol(text)
    if proto is not None:
        return (f"it sent a plain-text {proto.upper()} greeting ({text!r}); this port "
                f"switches to TLS with STARTTLS: tlskit connect --starttls {proto} "
                f"(starttls=\"{proto}\" in tlskit.connect), or use its TLS port")
    return f"it sent plain text ({text!r}); is this its TLS port?"


class IllegalParameter(TLSError):
    """A well-formed message with a value the protocol forbids here."""

    default_alert = AD.illegal_parameter


class UnexpectedMessage(TLSError):
    """A message that is valid but not allowed in the current state."""

    default_alert = AD.unexpected_message


class BadRecordMac(TLSError):
    """A record that fails AEAD authentication: tampered, or the wrong keys."""

    default_alert = AD.bad_record_mac


class RecordOverflow(TLSError):
    """A record longer than the negotiated limit (RFC 8446 5.2, RFC 8449)."""

    default_alert = AD.record_overflow


class HandshakeFailure(TLSError):
    """No acceptable set of parameters: nothing in common to negotiate."""

    default_alert = AD.handshake_failure


class ProtocolVersionError(TLSError):
    """The peer offers or picks a version tlskit does not enable."""

    default_alert = AD.protocol_version


class MissingExtension(TLSError):
    """A TLS 1.3 message lacks an extension it requires."""

    default_alert = AD.missing_extension


class UnsupportedExtension(TLSError):
    """An extension the peer was not offered or may not send here."""

    default_alert = AD.unsupported_extension


class DecryptError(TLSError):
    """A signature or Finished value does not verify."""

    default_alert = AD.decrypt_error


class NoApplicationProtocol(TLSError):
    """ALPN: none of the client's protocols is one the server accepts."""

    default_alert = AD.no_application_protocol


class UnrecognizedName(TLSError):
    """SNI: the server has no certificate for the requested name."""

    default_alert = AD.unrecognized_name


class CertificateRequired(TLSError):
    """The server required a client certificate and got none."""

    default_alert = AD.certificate_required


class UnsupportedCertificate(TLSError):
    """A certificate of a key type or form tlskit cannot use."""

    default_alert = AD.unsupported_certificate


class InappropriateFallback(TLSError):
    """The client signalled a fallback (TLS_FALLBACK_SCSV) the server did not need."""

    default_alert = AD.inappropriate_fallback


class InternalError(TLSError):
    """A local failure unrelated to the peer (a bug, a failing callback)."""

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
        said = f"peer sent alert {alert.name} ({int(alert)})"
        hint = _ALERT_HINTS.get(alert)
        super().__init__(f"{said}: {hint}" if hint else said, alert)


# Alerts whose cause the receiver cannot see in its own handshake, and what to do, in
# words true for either side (a client's own alerts on a server's certificate, and a
# server's on a client's, read the same). The CLI words its own hints, with its flags.
_ALERT_HINTS: dict[AD, str] = {
    AD.handshake_failure: (
        "the peer found nothing it accepts in this side's offer: usually no cipher suite, "
        "group or signature scheme in common (compare the config's cipher_suites, groups "
        "and signature_schemes with the peer's; a TLS 1.2 server limited to RSA key "
        "transport needs legacy_rsa_key_exchange=True, and CBC suites are not "
        "implemented), or a TLS 1.2 server required a client certificate it did not get"),
    AD.protocol_version: (
        "the peer accepts none of the TLS versions this side enabled (the config's "
        "versions; tlskit implements TLS 1.3 and 1.2): a peer limited to TLS 1.1 or "
        "older cannot connect"),
    AD.no_application_protocol: (
        "the peer speaks none of the application protocols offered (ALPN, the config's "
        "alpn_protocols): offer one it speaks, or none"),
    AD.certificate_required: (
        "the server requires a client certificate: give ClientConfig a certificate "
        "(a CertifiedKey) issued by a CA the server trusts"),
    AD.unrecognized_name: (
        "the server has no certificate for the name sent in SNI (server_name): check "
        "the name"),
    AD.unknown_ca: (
        "the peer does not trust the CA that issued this side's certificate: it needs "
        "that CA's root among its trust anchors, and this side should send the whole "
        "chain (leaf and intermediates)"),
    AD.certificate_expired: (
        "the peer found a certificate of this side's chain expired or not yet valid: "
        "renew it, or check both clocks"),
    AD.certificate_revoked: "the peer found a certificate of this side's chain revoked",
    AD.bad_certificate: (
        "the peer rejected this side's certificate (its name, usage, signature or form); "
        "the peer's own error says which check"),
    AD.bad_certificate_status_response: (
        "the peer found the OCSP response stapled for this side's certificate missing or "
        "unacceptable (stale, about another certificate, badly signed): a must-staple "
        "certificate (RFC 7633) needs a current staple, e.g. from an OcspStapler"),
    AD.ech_required: (
        "the client offered Encrypted Client Hello and the server did not accept it: "
        "the client gave up after authenticating the server's public name; if the "
        "server sent retry configs, the client retries with them"),
}


class EchRejected(TLSError):
    """The server did not accept Encrypted Client Hello (RFC 9849 6.1.6).

    tlskit completed the handshake with the outer ClientHello, authenticated the server
    for the ECH config's ``public_name`` (not the real name), sent nothing else and
    aborted with ech_required. ``retry_configs`` is the ECHConfigList the server sent
    (None: it sent none, e.g. a TLS 1.2 server or one without ECH): retry on a new
    connection with ``config.replace(ech_config_list=exc.retry_configs)``. Without retry
    configs, connecting without ECH would send the real name in the clear: the
    application decides."""

    default_alert = AD.ech_required

    def __init__(self, public_name: str, retry_configs: bytes | None,
                 reason: str = "") -> None:
        self.public_name = public_name
        self.retry_configs = retry_configs
        why = f" ({reason})" if reason else ""
        advice = ("retry with the server's retry_configs (exc.retry_configs, "
                  "config.replace(ech_config_list=...))" if retry_configs else
                  "it sent no retry configs, so the ECH config is stale or the server "
                  "does not do ECH: fetch a fresh config (DNS HTTPS record)")
        super().__init__(f"the server rejected Encrypted Client Hello{why}; it was "
                         f"authenticated as {public_name!r}, no data was sent: {advice}")


class ConnectionClosedError(TLSError):
    """The connection is closed and cannot carry more data."""

    default_alert = AD.close_notify


class UsageError(ValueError):
    """Local misuse of the API (sending before the handshake, after close). Sends nothing."""


def call_hook(hook: Callable[[Any], Any], arg: Any, name: str) -> Any:
    """``hook(arg)`` for an application callable run inside a handshake (a certificate
    resolver of either side, a config chooser): a `TLSError` it raises ends the handshake
    with its own alert, anything else as an `InternalError` (internal_error, the alert Go
    sends for a failing GetCertificate) caused by it, so nothing but a `TLSError` leaves
    the connection. A `TLSError` that reports what a peer did (`AlertReceived`,
    `ConnectionClosedError`) cannot be this connection's peer's (the hook read nothing
    from it: it leaked from another connection it used), so it is an `InternalError`
    too: kept, this connection would report the other peer's alert as its own peer's
    and, sending no alert, leave its peer waiting."""
    try:
        return hook(arg)
    except (AlertReceived, ConnectionClosedError) as exc:
        raise InternalError(f"{name} raised {type(exc).__name__}: {exc} (from another "
                            "connection: this one's peer sent nothing)") from exc
    except TLSError:
        raise
    except Exception as exc:
        raise InternalError(f"{name} raised {type(exc).__name__}: {exc}") from exc
