"""tlskit: a readable, fast TLS 1.3 stack that shows its work.

The sans-I/O core: create a `ClientConnection` or `ServerConnection`, feed it bytes with
`receive_data`, send what `data_to_send` returns, and react to the events.
"""

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import (
        CertifiedKey,
        ClientConfig,
        ServerConfig,
        load_pem_chain,
        load_pem_private_key,
    )
    from .connection import ClientConnection, Connection, ServerConnection
    from .enums import AlertDescription, CipherSuite, NamedGroup, SignatureScheme
    from .errors import AlertReceived, TLSError, UsageError
    from .events import (
        ConnectionClosed,
        DataReceived,
        Event,
        HandshakeComplete,
        KeyUpdated,
        SessionTicketReceived,
    )

__version__ = "0.1.0"

logging.getLogger("tlskit").addHandler(logging.NullHandler())

# Public names and the module each lives in. They are imported on first use (PEP 562) so
# that `import tlskit` -- and with it `tlskit --help` -- does not load `cryptography`.
_LAZY = {
    "CertifiedKey": "config", "ClientConfig": "config", "ServerConfig": "config",
    "load_pem_chain": "config", "load_pem_private_key": "config",
    "ClientConnection": "connection", "Connection": "connection",
    "ServerConnection": "connection",
    "AlertDescription": "enums", "CipherSuite": "enums", "NamedGroup": "enums",
    "SignatureScheme": "enums",
    "AlertReceived": "errors", "TLSError": "errors", "UsageError": "errors",
    "ConnectionClosed": "events", "DataReceived": "events", "Event": "events",
    "HandshakeComplete": "events", "KeyUpdated": "events", "SessionTicketReceived": "events",
    "connect": "io", "TLSSocket": "io", "TLSServer": "io", "wrap_server_socket": "io",
}

__all__ = [
    "AlertDescription",
    "AlertReceived",
    "CertifiedKey",
    "CipherSuite",
    "ClientConfig",
    "ClientConnection",
    "Connection",
    "ConnectionClosed",
    "DataReceived",
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
    import importlib

    if name == "aio":
        return importlib.import_module(".aio", __name__)
    module = _LAZY.get(name)
    if module is None:
        # `import tlskit; tlskit.x509.Verifier` worked when everything was imported eagerly
        import importlib.util

        if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}"):
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'tlskit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"aio"})
