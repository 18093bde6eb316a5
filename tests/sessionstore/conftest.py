"""A real `redis-server` on 127.0.0.1 (OS-picked port, no persistence), stopped after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..support.peers import PeerProcess
from ..support.ports import PortTaken, start_on_free_port

READY = rb"Ready to accept connections|Address already in use"


class RedisServer:
    """One redis-server process; `stop` and `start` again keep its port (and lose its data,
    as a restarted cache without persistence does). redis cannot listen on port 0, so the
    first start takes a free port and tries another if someone took it first."""

    def __init__(self) -> None:
        self.port = 0
        self.proc: PeerProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.port:
            self._start_on(self.port)  # a restart keeps its port
        else:
            self.port = start_on_free_port(self._start_on)

    def _start_on(self, port: int) -> int:
        self.proc = PeerProcess(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no"])
        if b"Address already in use" in self.proc.wait_for(READY).group(0):
            self.stop()
            raise PortTaken(port)
        return port

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
        self.proc = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
