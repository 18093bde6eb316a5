"""Server side: run ``sni_callback`` on the ClientHello before a connection is made.

OpenSSL calls the SNI callback while it reads the ClientHello, and the callback may switch
the connection to another context (other certificates) or refuse it with an alert. tlskit
picks the server config when the `ServerConnection` is created, so the adapters collect
the ClientHello's bytes first, read the server name here, run the callback, and only then
create the connection and feed it those bytes.
"""

from __future__ import annotations

import logging
from typing import Any

from ..acceptor import Acceptor, alert_record, sent_server_name
from ..config import MAX_CLIENT_HELLO
from ..connection import ServerConnection
from ..enums import AlertDescription
from ..errors import TLSError

__all__ = ["HelloBuffer", "alert_record", "start_server_connection"]

log = logging.getLogger("tlskit.compat")
MAX_HELLO = MAX_CLIENT_HELLO


class HelloBuffer:
    """Bytes received until the ClientHello is complete, read by a `tlskit.Acceptor`
    (the server's own record layer and hello decoder); the engine is then fed ``data``."""

    def __init__(self) -> None:
        self.data = bytearray()
        self._acceptor = Acceptor()
        self._done = False
        self._name: str | None = None

    def add(self, data: bytes) -> bool:
        """Append; True once the ClientHello (or something that is not one) is complete."""
        self.data += data
        if not self._done:
            try:
                info = self._acceptor.receive_data(data)
            except TLSError:
                self._done = True  # not a ClientHello: the engine answers with its alert
            else:
                if info is not None:
                    self._done, self._name = True, sent_server_name(self._acceptor)
        return self._done

    def complete(self) -> bool:
        return self._done

    def server_name(self) -> str | None:
        return self._name


def start_server_connection(owner: Any, hello: HelloBuffer | None) -> ServerConnection:
    """Run the owner's context's ``sni_callback`` (if any), then make the connection from
    the context the owner has afterwards (the callback may have replaced it).

    Raises `TLSError` with the callback's alert when it refuses the connection."""
    ctx = owner.context
    callback = ctx.sni_callback
    if callback is not None and hello is not None:
        name = hello.server_name()
        try:
            result = callback(owner, name, ctx)
        except Exception as exc:
            log.exception("sni_callback raised")
            raise TLSError(f"sni_callback raised {type(exc).__name__}: {exc}",
                           AlertDescription.handshake_failure) from exc
        if result is not None:
            raise TLSError(f"sni_callback refused server name {name!r}",
                           AlertDescription(int(result)))
    return ServerConnection(owner.context.tlskit_server_config)
