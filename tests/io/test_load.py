"""Load that a real server sees, bounded in count and time, on 127.0.0.1 only:
1,000 connections held open at once, and 10,000 handshakes without one error.

No timing assertions: these check that nothing fails and nothing is left behind.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os
import resource
import ssl
from typing import Any

import pytest

import tlskit.aio
from tlskit import ClientConfig, ServerConfig

from .conftest import PKI

HELD = 1000
HANDSHAKES = 10_000


def rss_kib() -> int:
    """Resident memory once garbage is collected and glibc has handed freed heap pages
    back (RSS otherwise keeps what was freed, and would say nothing about leaks)."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft >= needed, f"the test needs {needed} file descriptors, the limit is {soft}"


def client_context(pki: PKI) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.root_pem))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


@pytest.mark.timeout(600)  # a loaded 2-core machine: generous, never a timing check
def test_thousand_held_connections_then_back_to_baseline(server_config: ServerConfig,
                                                         pki: PKI) -> None:
    raise_fd_limit(2 * HELD + 200)
    errors: list[dict[str, Any]] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hi")
        await writer.drain()
        await reader.read()  # until the client closes
        writer.close()

    async def connect_all(port: int, n: int, cfg: ClientConfig) -> list[Any]:
        sem = asyncio.Semaphore(64)

        async def one() -> Any:
            async with sem:
                reader, writer = await tlskit.aio.open_connection(
                    "127.0.0.1", port, cfg, server_name="localhost")
                assert await reader.readexactly(2) == b"hi"
                return writer

        return list(await asyncio.gather(*(one() for _ in range(n))))

    async def close_all(writers: list[Any]) -> None:
        for w in writers:
            w.close()
        await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)

    async def main() -> tuple[int, int, int, int, int]:  # fds, fds after, base, held, after
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
        server = await tlskit.aio.start_server(hold, "127.0.0.1", 0, server_config)
        port = server.sockets[0].getsockname()[1]
        cfg = ClientConfig(trust_anchors=[pki.ca.root], session_cache=None)
        # The first round measures what a held connection costs and lets the allocators
        # reach the size this load needs; a leak shows as growth over the second round.
        start = rss_kib()
        writers = await connect_all(port, HELD, cfg)
        held = rss_kib() - start
        await close_all(writers)
        del writers
        await asyncio.sleep(0.1)
        fds, base = open_fds(), rss_kib()
        await close_all(await connect_all(port, HELD, cfg))
        deadline = loop.time() + 20
        while open_fds() > fds and loop.time() < deadline:
            await asyncio.sleep(0.05)
        after_fds, after = open_fds(), rss_kib()
        server.close()
        await server.wait_closed()
        return fds, after_fds, base, held, after

    fds, after_fds, base, held, after = asyncio.run(main())
    assert errors == []
    assert after_fds <= fds, "sockets left open after every client closed"
    # Both ends are tlskit in this process: the per-connection figure (both ends) is for
    # information; the check is that closing gives the memory back.
    print(f"held {HELD}: {held / HELD:.1f} KiB RSS per connection (both ends)")
    # A leak keeps what a round held (about `held`); allocator noise stays well below.
    assert after - base < max(0.25 * held, 8 * 1024), (base, held, after)


@pytest.mark.timeout(600)
def test_ten_thousand_handshakes_without_an_error(server_config: ServerConfig,
                                                  pki: PKI) -> None:
    errors: list[dict[str, Any]] = []
    served = [0]

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"ok")
        served[0] += 1
        writer.close()

    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
        server = await tlskit.aio.start_server(answer, "127.0.0.1", 0, server_config)
        port = server.sockets[0].getsockname()[1]
        ctx = client_context(pki)
        sem = asyncio.Semaphore(32)

        async def one() -> Any:
            async with sem:
                try:
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", port, ssl=ctx, server_hostname="localhost")
                    got = await reader.read()
                    writer.close()
                    return got
                except (OSError, ssl.SSLError) as exc:
                    return exc

        results = await asyncio.gather(*(one() for _ in range(HANDSHAKES)))
        server.close()
        await server.wait_closed()
        return results

    results = asyncio.run(main())
    failures = [r for r in results if r != b"ok"]
    assert failures == [], f"{len(failures)} failed, e.g. {failures[:3]}"
    assert served[0] == HANDSHAKES
    assert errors == []
