"""How messages and logs name a socket address: one rule for every adapter and the CLI."""

from __future__ import annotations

from typing import Any

__all__ = ["address_label", "host_port"]


def host_port(host: str, port: int) -> str:
    """HOST:PORT as people type it back: an IPv6 address in brackets (RFC 3986 3.2.2)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def address_label(addr: Any, unnamed: str = "peer") -> str:
    """A socket address (``getpeername()`` / ``peername``) for a message: host:port, a
    Unix socket's path, or ``unnamed`` (a socketpair's end has no name)."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        return host_port(str(addr[0]), addr[1])
    if isinstance(addr, bytes):
        addr = addr.decode(errors="replace")
    return str(addr) if addr else unnamed
