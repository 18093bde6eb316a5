"""tlskit: a readable, fast TLS 1.3 stack that shows its work.

The sans-I/O core: create a `ClientConnection` or `ServerConnection`, feed it bytes with
`receive_data`, send what `data_to_send` returns, and react to the events.
"""

import logging

from .config import CertifiedKey, ClientConfig, ServerConfig, load_pem_chain, load_pem_private_key
from .connection import ClientConnection, Connection, ServerConnection
from .enums import AlertDescription, CipherSuite, NamedGroup, SignatureScheme
from .errors import AlertReceived, TLSError, UsageError
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

__version__ = "0.1.0"

logging.getLogger("tlskit").addHandler(logging.NullHandler())

__all__ = [
    "AlertDescription",
    "AlertReceived",
    "CertifiedKey",
    "CipherSuite",
    "ClientCertificateReceived",
    "ClientConfig",
    "ClientConnection",
    "Connection",
    "ConnectionClosed",
    "DataReceived",
    "EarlyDataReceived",
    "Event",
    "HandshakeComplete",
    "KeyUpdated",
    "NamedGroup",
    "ServerConfig",
    "ServerConnection",
    "SessionTicketReceived",
    "SignatureScheme",
    "TLSError",
    "UsageError",
    "load_pem_chain",
    "load_pem_private_key",
]


def __getattr__(name: str) -> object:
    # The I/O layer is imported on first use so the sans-I/O core stays light.
    if name in ("connect", "TLSSocket", "TLSServer", "wrap_server_socket"):
        from . import io as _io
        return getattr(_io, name)
    if name == "aio":
        from . import aio as _aio
        return _aio
    raise AttributeError(name)
