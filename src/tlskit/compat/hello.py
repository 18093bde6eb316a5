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

from ..config import MAX_CLIENT_HELLO
from ..connection import ServerConnection
from ..enums import AlertDescription, ContentType, ExtensionType, HandshakeType
from ..errors import TLSError
from ..wire.extensions import decode_server_name
from ..wire.messages import ClientHello

__all__ = ["HelloBuffer", "start_server_connection"]

log = logging.getLogger("tlskit.compat")
MAX_HELLO = MAX_CLIENT_HELLO


class HelloBuffer:
    """Bytes received until the ClientHello is complete."""

    def __init__(self) -> None:
        self.data = bytearray()

    def add(self, data: bytes) -> bool:
        """Append; True once the ClientHello (or something that is not one) is complete."""
        self.data += data
        return self.complete()

    def complete(self) -> bool:
        buf, pos, hs = self.data, 0, bytearray()
        while pos + 5 <= len(buf):
            if buf[pos] != ContentType.handshake:
                return True  # not a ClientHello: let the engine answer with its alert
            length = int.from_bytes(buf[pos + 3:pos + 5], "big")
            if pos + 5 + length > len(buf):
                break
            hs += buf[pos + 5:pos + 5 + length]
            pos += 5 + length
            if len(hs) >= 4:
                need = int.from_bytes(hs[1:4], "big")
                if hs[0] != HandshakeType.client_hello or need > MAX_HELLO:
                    return True
                if len(hs) >= 4 + need:
                    return True
        return len(buf) > MAX_HELLO + 1024

    def server_name(self) -> str | None:
        buf, pos, hs = self.data, 0, bytearray()
        while pos + 5 <= len(buf) and buf[pos] == ContentType.handshake:
            length = int.from_bytes(buf[pos + 3:pos + 5], "big")
            hs += buf[pos + 5:pos + 5 + length]
            pos += 5 + length
        if len(hs) < 4 or hs[0] != HandshakeType.client_hello:
            return None
        try:
            hello = ClientHello.decode(bytes(hs[4:4 + int.from_bytes(hs[1:4], "big")]))
            body = hello.extensions.get(ExtensionType.server_name)
            return decode_server_name(body) if body is not None else None
        except TLSError:
            return None  # the engine will find the same fault and send the alert


def alert_record(alert: int) -> bytes:
    return bytes((ContentType.alert, 3, 3, 0, 2, 2, alert))


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
