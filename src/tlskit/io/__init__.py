"""Blocking I/O for tlskit: client sockets, a TLS listener and a socketserver.

    sock = tlskit.connect("example.com", 443)           # handshake done
    listener = tlskit.wrap_server_socket(listening_socket, server_config)
    server = tlskit.TLSServer(("127.0.0.1", 8443), Handler, server_config)
    sock = tlskit.connect("mail.example", 587, starttls="smtp")  # EHLO, STARTTLS, TLS

The asyncio counterpart is `tlskit.aio`.
"""

from .blocking import TLSSocket, TruncatedConnection, connect, peercert_dict
from .preamble import STARTTLS_PROTOCOLS, StartTLSError, starttls, starttls_accept
from .server import TLSListener, TLSServer, listen_backlog, wrap_server_socket

__all__ = [
    "STARTTLS_PROTOCOLS",
    "StartTLSError",
    "TLSListener",
    "TLSServer",
    "TLSSocket",
    "TruncatedConnection",
    "connect",
    "listen_backlog",
    "peercert_dict",
    "starttls",
    "starttls_accept",
    "wrap_server_socket",
]
