"""Servers under load on loopback: tlskit's blocking `TLSServer` against a stdlib
`socketserver.ThreadingTCPServer` + `ssl`, and `tlskit.aio.start_server` against
`asyncio.start_server(ssl=...)`, each answering the same stdlib `ssl` clients.

The clients run in a separate process (so they do not share the server's GIL), open a
connection, complete a TLS 1.3 handshake, read a 2-byte answer and close -- a fixed
number per batch, a few at a time. Printed: handshakes per second (medians of batches),
the server's CPU time per handshake, and tlskit / stdlib ratios. Bounded in count and
time; loopback only. Nothing asserts on time.

    python bench/bench_servers.py [--handshakes N] [--batches N] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import socket
import socketserver
import ssl
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PKI, load_pki, make_pki, versions

import tlskit.aio
from tlskit import ServerConfig
from tlskit.io import TLSServer

ANSWER = b"ok"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------------- client process

def _client_batches(directory: str, port: int, handshakes: int, batches: int,
                    concurrency: int, out: Any) -> None:
    pki = load_pki(directory)
    ctx = ssl.create_default_context(cafile=str(pki.root_pem))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3

    def one(_: int) -> bool:
        with (socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
              ctx.wrap_socket(raw, server_hostname="localhost") as tls):
            return tls.recv(16) == ANSWER

    rates = []
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(concurrency * 4)))  # warm up
        for _ in range(batches):
            start = time.perf_counter()
            ok = sum(pool.map(one, range(handshakes)))
            rates.append(ok / (time.perf_counter() - start))
            if ok != handshakes:
                out.send(("error", f"{handshakes - ok} handshakes failed"))
                return
    out.send(("ok", rates))


def drive(pki: PKI, port: int, args: argparse.Namespace) -> tuple[list[float], float]:
    """Run the client process against `port`; returns (handshakes/s per batch, server
    CPU seconds per handshake)."""
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(
        target=_client_batches,
        args=(str(pki.directory), port, args.handshakes, args.batches, args.concurrency, child))
    before = cpu()
    proc.start()
    status, payload = parent.recv()
    proc.join(60)
    used = cpu() - before
    if status != "ok":
        raise SystemExit(f"client process: {payload}")
    total = args.handshakes * args.batches + args.concurrency * 4
    return payload, used / total


# ---------------------------------------------------------------------- servers

class Answer(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(ANSWER)


class StdlibTLSServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = socket.SOMAXCONN

    def __init__(self, address: Any, handler: Any, ctx: ssl.SSLContext) -> None:
        self.ctx = ctx
        super().__init__(address, handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (OSError, ssl.SSLError):
            return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def stdlib_context(pki: PKI) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(pki.chain_pem, pki.key_pem)
    return ctx


def tlskit_config(pki: PKI) -> ServerConfig:
    return ServerConfig(certificate_chain=pki.chain, private_key=pki.key,
                        versions=["TLSv1.3"])


def run_threaded(make: Callable[[], socketserver.TCPServer], pki: PKI,
                 args: argparse.Namespace) -> tuple[list[float], float]:
    server = make()
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True)
    t.start()
    try:
        return drive(pki, server.server_address[1], args)
    finally:
        server.shutdown()
        server.server_close()


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(ANSWER)
    await writer.drain()
    writer.close()


def run_asyncio(start: Callable[[], Any], pki: PKI,
                args: argparse.Namespace) -> tuple[list[float], float]:
    async def main() -> tuple[list[float], float]:
        server = await start()
        port = server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, drive, pki, port, args)
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(main())


def report(name: str, mine: tuple[list[float], float], theirs: tuple[list[float], float]
           ) -> None:
    m_rate, t_rate = statistics.median(mine[0]), statistics.median(theirs[0])
    print(f"{name:<28} tlskit {m_rate:7.0f} hs/s ({mine[1] * 1e3:.2f} ms CPU/hs)   "
          f"stdlib {t_rate:7.0f} hs/s ({theirs[1] * 1e3:.2f} ms CPU/hs)   "
          f"ratio {m_rate / t_rate:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handshakes", type=int, default=400, help="per batch")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--only", choices=["blocking", "asyncio"])
    args = parser.parse_args()
    print(versions())
    pki = make_pki()
    if args.only in (None, "blocking"):
        mine = run_threaded(lambda: TLSServer(("127.0.0.1", 0), Answer, tlskit_config(pki)),
                            pki, args)
        theirs = run_threaded(lambda: StdlibTLSServer(("127.0.0.1", 0), Answer,
                                                      stdlib_context(pki)), pki, args)
        report("blocking threaded server", mine, theirs)
    if args.only in (None, "asyncio"):
        mine = run_asyncio(lambda: tlskit.aio.start_server(
            _answer, "127.0.0.1", 0, tlskit_config(pki)), pki, args)
        theirs = run_asyncio(lambda: asyncio.start_server(
            _answer, "127.0.0.1", 0, ssl=stdlib_context(pki)), pki, args)
        report("asyncio server", mine, theirs)


if __name__ == "__main__":
    main()
