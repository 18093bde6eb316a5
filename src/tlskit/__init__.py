"""tlskit: a readable, fast TLS 1.3 and 1.2 stack that shows its work.

The sans-I/O core: create a `ClientConnection` or `ServerConnection`, feed it bytes with
`receive_data`, send what `data_to_send` returns, and react to the events.

Every exported name is imported on first use (the core, the blocking I/O layer, `tlskit.aio`
and the validator's error), so ``import tlskit`` loads no `cryptography` and `tlskit --help`
stays instant.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers
    from . import aio as aio
    from .acceptor import Acceptor
    from .certselect import CertificateRequestInfo
    from .config import (
        CertificateValidityWarning,
        CertifiedKey,
        ClientConfig,
        EchKey,
        RawPublicKey,
        ServerConfig,
        generate_ech_key,
        load_pem_chain,
        load_pem_private_key,
        parse_cipher_suite,
        parse_group,
        parse_signature_scheme,
    )
    from .connection import ClientConnection, Connection, ServerConnection
    from .enums import AlertDescription, CipherSuite, NamedGroup, SignatureScheme
    from .errors import (
        AlertReceived,
        BadCertificate,
        BadRecordMac,
        CertificateRequired,
        ConnectionClosedError,
        DecodeError,
        DecryptError,
        EchRejected,
        HandshakeFailure,
        IllegalParameter,
        InappropriateFallback,
        InternalError,
        MissingExtension,
        NoApplicationProtocol,
        ProtocolVersionError,
        RecordOverflow,
        TLSError,
        UnexpectedMessage,
        UnrecognizedName,
        UnsupportedCertificate,
        UnsupportedExtension,
        UsageError,
    )
    from .events import (
        ClientCertificateReceived,
        ConnectionClosed,
        DataReceived,
        EarlyDataReceived,
        Event,
        HandshakeComplete,
        KeyUpdated,
        SessionTicketReceived,
    )
    from .helloinfo import ClientHelloInfo
    from .io import (
        StartTLSError,
        TLSListener,
        TLSServer,
        TLSSocket,
        TruncatedConnection,
        connect,
        starttls,
        starttls_accept,
        wrap_server_socket,
    )
    from .psk import ExternalPsk
    from .quic import (
        EarlyDataRejected,
        EncryptionLevel,
        QuicClientConnection,
        QuicConnection,
        QuicProtocolViolation,
        QuicServerConnection,
        QuicTransportParameterError,
        SecretInstalled,
        TransportParametersReceived,
    )
    from .session import Session, SessionCache
    from .verifier import CertificateVerifier
    from .x509 import CertificateVerificationError

__version__ = "0.1.0"

logging.getLogger("tlskit").addHandler(logging.NullHandler())

# name -> the module that defines it, imported when the name is first used: even the
# sans-I/O core, so that `import tlskit` (and with it `tlskit --help`, whose entry point
# lives in this package) costs no `cryptography` import.
_LAZY = {
    "CertificateValidityWarning": "tlskit.config",
    "CertifiedKey": "tlskit.config",
    "ClientConfig": "tlskit.config",
    "ServerConfig": "tlskit.config",
    "EchKey": "tlskit.config",
    "RawPublicKey": "tlskit.config",
    "generate_ech_key": "tlskit.config",
    "load_pem_chain": "tlskit.config",
    "load_pem_private_key": "tlskit.config",
    "parse_cipher_suite": "tlskit.config",
    "parse_group": "tlskit.config",
    "parse_signature_scheme": "tlskit.config",
    "Acceptor": "tlskit.acceptor",
    "CertificateRequestInfo": "tlskit.certselect",
    "ClientHelloInfo": "tlskit.helloinfo",
    "ClientConnection": "tlskit.connection",
    "Connection": "tlskit.connection",
    "ServerConnection": "tlskit.connection",
    "AlertDescription": "tlskit.enums",
    "CipherSuite": "tlskit.enums",
    "NamedGroup": "tlskit.enums",
    "SignatureScheme": "tlskit.enums",
    "AlertReceived": "tlskit.errors",
    "BadCertificate": "tlskit.errors",
    "BadRecordMac": "tlskit.errors",
    "CertificateRequired": "tlskit.errors",
    "ConnectionClosedError": "tlskit.errors",
    "DecodeError": "tlskit.errors",
    "DecryptError": "tlskit.errors",
    "EchRejected": "tlskit.errors",
    "HandshakeFailure": "tlskit.errors",
    "IllegalParameter": "tlskit.errors",
    "InappropriateFallback": "tlskit.errors",
    "InternalError": "tlskit.errors",
    "MissingExtension": "tlskit.errors",
    "NoApplicationProtocol": "tlskit.errors",
    "ProtocolVersionError": "tlskit.errors",
    "RecordOverflow": "tlskit.errors",
    "TLSError": "tlskit.errors",
    "UnexpectedMessage": "tlskit.errors",
    "UnrecognizedName": "tlskit.errors",
    "UnsupportedCertificate": "tlskit.errors",
    "UnsupportedExtension": "tlskit.errors",
    "UsageError": "tlskit.errors",
    "ClientCertificateReceived": "tlskit.events",
    "ConnectionClosed": "tlskit.events",
    "EarlyDataReceived": "tlskit.events",
    "DataReceived": "tlskit.events",
    "Event": "tlskit.events",
    "HandshakeComplete": "tlskit.events",
    "KeyUpdated": "tlskit.events",
    "SessionTicketReceived": "tlskit.events",
    "ExternalPsk": "tlskit.psk",
    "EarlyDataRejected": "tlskit.quic",
    "EncryptionLevel": "tlskit.quic",
    "QuicClientConnection": "tlskit.quic",
    "QuicConnection": "tlskit.quic",
    "QuicProtocolViolation": "tlskit.quic",
    "QuicServerConnection": "tlskit.quic",
    "QuicTransportParameterError": "tlskit.quic",
    "SecretInstalled": "tlskit.quic",
    "TransportParametersReceived": "tlskit.quic",
    "Session": "tlskit.session",
    "SessionCache": "tlskit.session",
    "CertificateVerifier": "tlskit.verifier",
    "connect": "tlskit.io",
    "TLSListener": "tlskit.io",
    "TLSServer": "tlskit.io",
    "TLSSocket": "tlskit.io",
    "TruncatedConnection": "tlskit.io",
    "wrap_server_socket": "tlskit.io",
    "StartTLSError": "tlskit.io",
    "starttls": "tlskit.io",
    "starttls_accept": "tlskit.io",
    "CertificateVerificationError": "tlskit.x509",
}
_SUBMODULES = ("aio", "io", "x509")

__all__ = [
    "Acceptor",
    "AlertDescription",
    "AlertReceived",
    "BadCertificate",
    "BadRecordMac",
    "CertificateRequestInfo",
    "CertificateRequired",
    "CertificateValidityWarning",
    "CertificateVerificationError",
    "CertificateVerifier",
    "CertifiedKey",
    "CipherSuite",
    "ClientCertificateReceived",
    "ClientConfig",
    "ClientConnection",
    "ClientHelloInfo",
    "Connection",
    "ConnectionClosed",
    "ConnectionClosedError",
    "DataReceived",
    "DecodeError",
    "DecryptError",
    "EarlyDataReceived",
    "EarlyDataRejected",
    "EchKey",
    "EchRejected",
    "EncryptionLevel",
    "Event",
    "ExternalPsk",
    "HandshakeComplete",
    "HandshakeFailure",
    "IllegalParameter",
    "InappropriateFallback",
    "InternalError",
    "KeyUpdated",
    "MissingExtension",
    "NamedGroup",
    "NoApplicationProtocol",
    "ProtocolVersionError",
    "QuicClientConnection",
    "QuicConnection",
    "QuicProtocolViolation",
    "QuicServerConnection",
    "QuicTransportParameterError",
    "RawPublicKey",
    "RecordOverflow",
    "SecretInstalled",
    "ServerConfig",
    "ServerConnection",
    "Session",
    "SessionCache",
    "SessionTicketReceived",
    "SignatureScheme",
    "StartTLSError",
    "TLSError",
    "TLSListener",
    "TLSServer",
    "TLSSocket",
    "TransportParametersReceived",
    "TruncatedConnection",
    "UnexpectedMessage",
    "UnrecognizedName",
    "UnsupportedCertificate",
    "UnsupportedExtension",
    "UsageError",
    "connect",
    "generate_ech_key",
    "load_pem_chain",
    "load_pem_private_key",
    "parse_cipher_suite",
    "parse_group",
    "parse_signature_scheme",
    "starttls",
    "starttls_accept",
    "wrap_server_socket",
]


def __getattr__(name: str) -> object:
    # importlib rather than ``from . import x``: the latter looks the name up on this
    # package first, which re-enters this function without end.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES})
