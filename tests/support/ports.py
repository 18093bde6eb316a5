"""Ports chosen by the OS, with no bind race.

Never "bind port 0, close, hand the number to a server": another process may take the
port in between. Instead a server binds port 0 itself and we read the port back (from
the listening socket, from its output, or from /proc with `listening_port`); a server
that cannot bind 0 gets a port from `start_on_free_port`, which retries when the port
was taken before the server bound it, or from `reserve_port` when the port must be known
before the server starts (a responder URL written into certificates); a port where
nothing listens comes from `refused_port`, which keeps the port bound (and not
listening) while the process lives.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

HOST = "127.0.0.1"
TIMEOUT = 20.0  # generous per-operation deadline; a healthy step takes milliseconds

T = TypeVar("T")
_held: list[socket.socket] = []


def listening_port(pid: int, *, timeout: float = TIMEOUT) -> int:
    """The TCP port process ``pid`` listens on, read from /proc (for servers such as
    gnutls-serv that accept port 0 but never say which port they got). IPv6 listeners
    count too: bssl-tool's server binds a dual-stack [::] socket, reached at 127.0.0.1."""
    deadline = time.monotonic() + timeout
    while True:
        inodes = set()
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
            lines = _socket_table(pid, "tcp") + _socket_table(pid, "tcp6")
        except FileNotFoundError:
            raise AssertionError(f"process {pid} is gone") from None
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A = LISTEN
                return int(cols[1].split(":")[1], 16)
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} is not listening on any TCP port")
        time.sleep(0.01)


def _socket_table(pid: int, table: str) -> list[str]:
    """The rows of /proc/PID/net/TABLE; none when the kernel has no such table (tcp6
    without IPv6)."""
    path = Path(f"/proc/{pid}/net/{table}")
    if table != "tcp" and not path.exists():
        return []
    return path.read_text().splitlines()[1:]


def refused_port() -> int:
    """A 127.0.0.1 port that refuses connections for as long as this process runs: it
    stays bound (so nobody else can listen on it) but never listens."""
    sock = socket.socket()
    sock.bind((HOST, 0))
    _held.append(sock)
    return int(sock.getsockname()[1])


class PortTaken(Exception):
    """Raised by a `start_on_free_port` starter whose server found its port taken."""


def start_on_free_port(start: Callable[[int], T], *, attempts: int = 20) -> T:
    """``start(port)`` on a port the OS just called free, for servers that cannot bind
    port 0 (redis-server, a CA responder whose URL goes into certificates first). If
    another process took the port first, ``start`` raises `PortTaken` (after cleaning
    up) and we try another port."""
    for _ in range(attempts):
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        with contextlib.suppress(PortTaken):
            return start(port)
    raise AssertionError(f"no free port after {attempts} attempts")


def reserve_port() -> int:
    """A port the OS will not hand out again for a while, for a server that must be
    named before it starts and binds with SO_REUSEADDR (Python's socketserver, openssl,
    redis do). The port is left in TIME_WAIT by a connection we open and close on it:
    the kernel skips TIME_WAIT ports when it picks ephemeral ports, while a server with
    SO_REUSEADDR may bind it."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, 0))
        listener.listen(1)
        port = int(listener.getsockname()[1])
        with socket.create_connection((HOST, port)) as client:
            accepted, _ = listener.accept()
            with accepted:  # the accepting side closes first: its end goes to TIME_WAIT
                pass
            client.recv(1)
    return port
