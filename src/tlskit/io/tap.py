"""A TCP socket that reports every byte it carries: `tap_socket`.

Give a `TLSSocket` (or `TLSServer.wrap_accepted`) a tapped socket to watch the records
on the wire as they are sent and received, in order and with the real segmentation:
the CLI draws its traces and the `tlskit serve` page from it. The TLS socket does not
know it is watched; what it reads and writes is unchanged.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

__all__ = ["Tap", "TappedSocket", "tap_socket"]

Tap = Callable[[bool, bytes], None]
"""``tap(outgoing, data)``: ``outgoing`` is True for bytes sent, False for bytes received."""


class TappedSocket(socket.socket):
    """A `socket.socket` calling ``self.tap`` with each chunk it sends or receives (set
    ``tap`` to None to stop watching)."""

    tap: Tap | None = None

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        if data and self.tap is not None:
            self.tap(False, data)
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        got = super().recv_into(buffer, nbytes, flags)
        if got and self.tap is not None:
            with memoryview(buffer) as view:
                self.tap(False, bytes(view.cast("B")[:got]))
        return got

    def send(self, data: Any, flags: int = 0) -> int:
        sent = super().send(data, flags)
        if sent and self.tap is not None:
            with memoryview(data) as view:
                self.tap(True, bytes(view.cast("B")[:sent]))
        return sent

    def sendall(self, data: Any, flags: int = 0) -> None:
        super().sendall(data, flags)
        if self.tap is not None:
            self.tap(True, bytes(data))


def tap_socket(sock: socket.socket, tap: Tap | None,
               cls: type[TappedSocket] = TappedSocket) -> TappedSocket:
    """``sock`` (connected; it is detached and must not be used again) as a
    `TappedSocket` (or subclass ``cls``) reporting to ``tap``, with the same timeout."""
    timeout = sock.gettimeout()
    tapped = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
    tapped.settimeout(timeout)
    tapped.tap = tap
    return tapped
