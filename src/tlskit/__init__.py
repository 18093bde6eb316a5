"""tlskit: a readable, fast TLS 1.3 stack that shows its work.

The sans-I/O core: create a `ClientConnection` or `ServerConnection`, feed it bytes with
`receive_data`, send what `data_to_send` returns, and react to the events.

The blocking I/O layer (`connect`, `TLSSocket`, `TLSServer`, ...), `tlskit.aio` and the
certificate validator's error are imported on first use, so ``import tlskit`` stays light.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from .config import (
    CertifiedKey,
    ClientConfig,
    ServerConfig,
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
    ConnectionClosed,
    DataReceived,
    Event,
    HandshakeComplete,
    KeyUpdated,
    SessionTicketReceived,
)
from .session import Session, SessionCache
from .verifier import CertificateVerifier

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers
    from . import aio as aio
    from .io import (
        TLSListener,
        TLSServer,
        TLSSocket,
        TruncatedConnection,
        connect,
        wrap_server_socket,
    )
    from .x509 import CertificateVerificationError

__version__ = "0.1.0"

logging.getLogger("tlskit").addHandler(logging.NullHandler())

# name -> the module that defines it, imported when the name is first used.
_LAZY = {
    "connect": "tlskit.io",
    "TLSListener": "tlskit.io",
    "TLSServer": "tlskit.io",
    "TLSSocket": "tlskit.io",
    "TruncatedConnection": "tlskit.io",
    "wrap_server_socket": "tlskit.io",
    "CertificateVerificationError": "tlskit.x509",
}
_SUBMODULES = ("aio", "io", "x509")

__all__ = [
    "AlertDescription",
    "AlertReceived",
    "BadCertificate",
    "BadRecordMac",
    "CertificateRequired",
    "CertificateVerificationError",
    "CertificateVerifier",
    "CertifiedKey",
    "CipherSuite",
    "ClientConfig",
    "ClientConnection",
    "Connection",
    "ConnectionClosed",
    "ConnectionClosedError",
    "DataReceived",
    "DecodeError",
    "DecryptError",
    "Event",
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
    "RecordOverflow",
    "ServerConfig",
    "ServerConnection",
    "Session",
    "SessionCache",
    "SessionTicketReceived",
    "SignatureScheme",
    "TLSError",
    "TLSListener",
    "TLSServer",
    "TLSSocket",
    "TruncatedConnection",
    "UnexpectedMessage",
    "UnrecognizedName",
    "UnsupportedCertificate",
    "UnsupportedExtension",
    "UsageError",
    "connect",
    "load_pem_chain",
    "load_pem_private_key",
    "parse_cipher_suite",
    "parse_group",
    "parse_signature_scheme",
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
