"""Servers under load on loopback: tlskit's blocking `TLSServer` against a stdlib
`socketserver.ThreadingTCPServer` + `ssl`, and `tlskit.aio.start_server` against
`asyncio.start_server(ssl=...)`, each answering the same clients.

Each server runs alone in its own process (spawned, so no shared GIL and no shared
state). Two loads make the connections, each the same for both servers of a pair: a pool
of stdlib `ssl` client threads in this process, and Go's crypto/tls (`goload/main.go`,
built when `go` is installed), a client that shares no TLS code with either server. Each
connection completes a TLS 1.3 handshake, reads a 2-byte answer and closes, a fixed
number per batch, a few at a time. Batches alternate between the two servers of a pair,
so drifts of a shared machine hit both alike. Printed: handshakes per second (median of
batches and best batch), each server process's CPU time per handshake, and tlskit /
stdlib ratios. Bounded in count and time; loopback only. Nothing asserts on time.

Why two loads: the stdlib clients run on the same libcrypto (and libssl) as the stdlib
servers, so on a shared machine the stdlib server finds its code and tables warm in the
caches the processes share, where tlskit's server (cryptography's own OpenSSL) competes
with them; the Go client favours neither. See bench/README.md.

Threads: `TLSServer` reuses its connection threads (a worker that finished a connection
waits a second for the next one); the stdlib side is what a stdlib user writes, a new
thread per connection. ``--stdlib-workers`` gives the stdlib server the same reusable
workers (tlskit's `WorkerPool`), to compare the TLS work alone.

    python bench/bench_servers.py [--quick] [--handshakes N] [--batches N] [--concurrency N]
                                  [--stdlib-workers] [--load stdlib|go|both]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import resource
import shutil
import socket
import socketserver
import ssl
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PKI, load_pki, make_pki, versions

import tlskit.aio
from tlskit import ServerConfig
from tlskit.io import TLSServer
from tlskit.io.server import listen_backlog

ANSWER = b"ok"
KINDS = ("tlskit-blocking", "stdlib-blocking", "tlskit-asyncio", "stdlib-asyncio")


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def usage() -> tuple[float, int]:
    """This process's CPU seconds and context switches (voluntary and forced) so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_nvcsw + r.ru_nivcsw


# ---------------------------------------------------------------------- servers

class Answer(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(ANSWER)


class StdlibTLSServer(socketserver.ThreadingTCPServer):
    """What a stdlib user writes: a thread per connection, the handshake in that thread
    (as TLSServer does), handshake failures ignored."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: Any, handler: Any, ctx: ssl.SSLContext,
                 workers: bool = False) -> None:
        self.ctx = ctx
        self.request_queue_size = listen_backlog()  # the same backlog as TLSServer's
        self.workers = None
        if workers:  # as TLSServer's (imported here: the script also runs on older trees)
            from tlskit.io.workers import WorkerPool
            self.workers = WorkerPool(1.0)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.workers is None:
            super().process_request(request, client_address)
        else:
            self.workers.submit(self.process_request_thread, request, client_address)

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


def stdlib_context(pki: PKI, tickets: int) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(pki.chain_pem, pki.key_pem)
    ctx.num_tickets = tickets
    return ctx


# What an OpenSSL server picks from a stdlib client's offer (its first preference); tlskit
# prefers AES-128-GCM, so it is pinned here: both servers run the same key schedule hash
# and record cipher (the bench prints what each negotiated).
SUITE = "TLS_AES_256_GCM_SHA384"


def tlskit_config(pki: PKI, tickets: int) -> ServerConfig:
    return ServerConfig(certificate_chain=pki.chain, private_key=pki.key,
                        versions=["TLSv1.3"], session_tickets=tickets, cipher_suites=[SUITE])


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(ANSWER)
    await writer.drain()
    writer.close()


def _threaded_server(kind: str, pki: PKI, tickets: int, workers: bool
                     ) -> socketserver.TCPServer:
    if kind == "tlskit-blocking":
        return TLSServer(("127.0.0.1", 0), Answer, tlskit_config(pki, tickets))
    return StdlibTLSServer(("127.0.0.1", 0), Answer, stdlib_context(pki, tickets), workers)


def _serve_threaded(kind: str, pki: PKI, tickets: int, workers: bool, control: Any) -> None:
    server = _threaded_server(kind, pki, tickets, workers)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5},
                         daemon=True)
    t.start()
    control.send(server.server_address[1])
    while control.recv() == "usage":
        control.send(usage())
    server.shutdown()
    server.server_close()


async def _serve_asyncio(kind: str, pki: PKI, tickets: int, control: Any) -> None:
    if kind == "tlskit-asyncio":
        server = await tlskit.aio.start_server(_answer, "127.0.0.1", 0,
                                               tlskit_config(pki, tickets))
    else:
        server = await asyncio.start_server(_answer, "127.0.0.1", 0,
                                            ssl=stdlib_context(pki, tickets),
                                            backlog=listen_backlog())
    loop = asyncio.get_running_loop()
    control.send(server.sockets[0].getsockname()[1])
    while await loop.run_in_executor(None, control.recv) == "usage":
        control.send(usage())
    server.close()
    await server.wait_closed()


def _server_process(kind: str, directory: str, tickets: int, workers: bool,
                    control: Any) -> None:
    pki = load_pki(directory)
    if kind.endswith("-asyncio"):
        asyncio.run(_serve_asyncio(kind, pki, tickets, control))
    else:
        _serve_threaded(kind, pki, tickets, workers, control)


@dataclass
class Contender:
    """A server in its own process, and what its batches measured."""

    kind: str
    proc: Any
    control: Any
    port: int
    rates: list[float] = field(default_factory=list)
    cpu_per_hs: list[float] = field(default_factory=list)
    switches_per_hs: list[float] = field(default_factory=list)
    suites: set[str] = field(default_factory=set)

    def usage(self) -> tuple[float, int]:
        self.control.send("usage")
        return self.control.recv()  # type: ignore[no-any-return]

    def clear(self) -> None:
        self.rates.clear()
        self.cpu_per_hs.clear()
        self.switches_per_hs.clear()

    def stop(self) -> None:
        self.control.send("stop")
        self.proc.join(30)


def start(kind: str, pki: PKI, tickets: int, workers: bool = False) -> Contender:
    ctx = mp.get_context("spawn")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=_server_process,
                       args=(kind, str(pki.directory), tickets, workers, theirs), daemon=True)
    proc.start()
    return Contender(kind, proc, mine, int(mine.recv()))


# ---------------------------------------------------------------------- load

class Load:
    """The stdlib clients: the same context, threads and checks for every server."""

    name = "stdlib ssl client threads"

    def __init__(self, pki: PKI, concurrency: int) -> None:
        self.ctx = ssl.create_default_context(cafile=str(pki.root_pem))
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.pool = ThreadPoolExecutor(concurrency)
        self.concurrency = concurrency

    def one(self, port: int) -> str:
        """One connection: the negotiated cipher suite, or "" if the answer was wrong."""
        with (socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
              self.ctx.wrap_socket(raw, server_hostname="localhost") as tls):
            ok = tls.recv(16) == ANSWER  # the session tickets are read on the way
            suite = tls.cipher()
            return suite[0] if ok and suite else ""

    def run(self, port: int, handshakes: int) -> tuple[float, int, set[str]]:
        """(handshakes per second, failures, suites negotiated) for one batch."""
        start = time.perf_counter()
        suites = list(self.pool.map(self.one, [port] * handshakes))
        elapsed = time.perf_counter() - start
        return handshakes / elapsed, suites.count(""), set(filter(None, suites))

    def batch(self, c: Contender, handshakes: int) -> None:
        cpu_before, switches_before = c.usage()
        rate, failed, suites = self.run(c.port, handshakes)
        cpu_after, switches_after = c.usage()
        if failed:
            raise SystemExit(f"{c.kind}: {failed} of {handshakes} handshakes failed")
        c.suites.update(suites)
        c.rates.append(rate)
        c.cpu_per_hs.append((cpu_after - cpu_before) / handshakes)
        c.switches_per_hs.append((switches_after - switches_before) / handshakes)

    def compare(self, pair: tuple[Contender, Contender], args: argparse.Namespace) -> None:
        for c in pair:
            self.batch(c, self.concurrency * 4)  # warm up (not counted)
            c.clear()
        for i in range(args.batches):
            for c in (pair if i % 2 == 0 else pair[::-1]):  # alternate who goes first
                self.batch(c, args.handshakes)

    def close(self) -> None:
        self.pool.shutdown()


class GoLoad(Load):
    """The same connections made by Go's crypto/tls (`goload/main.go`, built here): a
    client that shares no code with either server. The stdlib clients run on the same
    libcrypto as asyncio + `ssl`'s server, so that server finds its code and tables
    warm in the caches the processes share, and tlskit's (cryptography's own OpenSSL)
    does not: in memory, one `ssl` server handshake costs ~240 us after a stdlib client's
    step and ~290 us after a tlskit client's (see bench/README.md)."""

    name = "Go crypto/tls client goroutines"

    def __init__(self, pki: PKI, concurrency: int, binary: Path) -> None:
        self.root_pem = pki.root_pem
        self.binary = binary
        self.concurrency = concurrency

    @classmethod
    def build(cls, pki: PKI, concurrency: int) -> GoLoad | None:
        """None (and why, printed) when no `go` toolchain is installed or it fails."""
        go = shutil.which("go")
        if go is None:
            print("no Go toolchain: the Go-client lines are left out")
            return None
        binary = pki.directory / "goload"
        source = Path(__file__).resolve().parent / "goload" / "main.go"
        built = subprocess.run([go, "build", "-o", str(binary), str(source)],
                               capture_output=True, text=True, cwd=pki.directory)
        if built.returncode != 0:
            print(f"go build failed, the Go-client lines are left out: {built.stderr.strip()}")
            return None
        return cls(pki, concurrency, binary)

    def run(self, port: int, handshakes: int) -> tuple[float, int, set[str]]:
        done = subprocess.run([str(self.binary), str(port), str(handshakes),
                               str(self.concurrency), str(self.root_pem)],
                              capture_output=True, text=True, check=True, timeout=600)
        answer = json.loads(done.stdout)
        if answer["failed"]:
            print(f"goload: {answer['error']}", file=sys.stderr)
        return float(answer["rate"]), int(answer["failed"]), set(answer["suites"])

    def close(self) -> None:
        pass


def run_pair(kinds: tuple[str, str], pki: PKI, load: Load, args: argparse.Namespace
             ) -> tuple[Contender, Contender]:
    mine = start(kinds[0], pki, args.tickets)
    theirs = start(kinds[1], pki, args.tickets, args.stdlib_workers)
    try:
        load.compare((mine, theirs), args)
    finally:
        mine.stop()
        theirs.stop()
    return mine, theirs


def report(name: str, mine: Contender, theirs: Contender, target: str) -> None:
    m_rate, t_rate = statistics.median(mine.rates), statistics.median(theirs.rates)
    m_cpu, t_cpu = statistics.median(mine.cpu_per_hs), statistics.median(theirs.cpu_per_hs)
    m_cs, t_cs = statistics.median(mine.switches_per_hs), statistics.median(theirs.switches_per_hs)
    print(f"{name} server: tlskit {m_rate:.0f} hs/s, stdlib {t_rate:.0f} hs/s; server CPU per "
          f"handshake: tlskit {m_cpu * 1e3:.2f} ms, stdlib {t_cpu * 1e3:.2f} ms; context "
          f"switches per handshake: tlskit {m_cs:.1f}, stdlib {t_cs:.1f}")
    print(f"ratio {name} server handshakes tlskit/ssl (hs/s): {m_rate / t_rate:.2f}x "
          f"(best batches {max(mine.rates) / max(theirs.rates):.2f}x; target {target})")
    print(f"ratio {name} server CPU per handshake tlskit/ssl (time): {m_cpu / t_cpu:.2f}x")
    if mine.suites != theirs.suites:
        print(f"WARNING: unequal work, cipher suites tlskit {sorted(mine.suites)}, "
              f"stdlib {sorted(theirs.suites)}")


# ---------------------------------------------------------------------- held connections

def _hold_connections(directory: str, port: int, count: int, out: Any, release: Any) -> None:
    """Client process: open `count` TLS connections, report, keep them until told."""
    pki = load_pki(directory)
    ctx = ssl.create_default_context(cafile=str(pki.root_pem))
    held = []
    for _ in range(count):
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        tls = ctx.wrap_socket(raw, server_hostname="localhost")
        tls.recv(16)
        held.append(tls)
    out.send(len(held))
    release.recv()
    for tls in held:
        tls.close()


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def held_rss(start_server: Callable[[], Any], pki: PKI, count: int) -> float:
    """KiB of server RSS per held connection (the clients live in another process)."""
    async def main() -> float:
        server = await start_server()
        port = server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        ctx = mp.get_context("spawn")
        ready, child = ctx.Pipe()
        go, release = ctx.Pipe()
        await asyncio.sleep(0.2)
        before = rss_kib()
        proc = ctx.Process(target=_hold_connections,
                           args=(str(pki.directory), port, count, child, release))
        proc.start()
        await loop.run_in_executor(None, ready.recv)
        await asyncio.sleep(0.5)
        during = rss_kib()
        go.send(True)
        await loop.run_in_executor(None, proc.join, 60)
        server.close()
        await server.wait_closed()
        return (during - before) / count

    return asyncio.run(main())


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(ANSWER)
    await writer.drain()
    await reader.read()
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handshakes", type=int, default=400, help="per batch")
    parser.add_argument("--batches", type=int, default=5, help="per server")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="clients at a time (threads or goroutines)")
    parser.add_argument("--tickets", type=int, default=2,
                        help="session tickets each server sends (OpenSSL's default is 2)")
    parser.add_argument("--only", choices=["blocking", "asyncio", "held"])
    parser.add_argument("--stdlib-workers", action="store_true",
                        help="the stdlib blocking server reuses threads as TLSServer does")
    parser.add_argument("--held", type=int, default=500, help="connections held at once")
    parser.add_argument("--load", choices=["stdlib", "go", "both"], default="both",
                        help="who makes the connections: stdlib ssl client threads, Go's "
                             "crypto/tls (built from goload/main.go; needs `go`), or both "
                             "(default)")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.handshakes, args.batches, args.held = 40, 2, 50
    print(versions())
    print(f"{args.concurrency} clients at a time, {args.batches} batches of {args.handshakes} "
          f"handshakes per server, {args.tickets} session tickets from both servers; stdlib "
          f"blocking server: {'reused' if args.stdlib_workers else 'a new'} thread per "
          f"connection (TLSServer: reused); both servers: {SUITE}")
    pki = make_pki()
    loads: list[tuple[str, Load]] = []
    if args.load in ("stdlib", "both"):
        loads.append(("", Load(pki, args.concurrency)))
    if args.load in ("go", "both"):
        go = GoLoad.build(pki, args.concurrency)
        if go is not None:
            loads.append((" (Go clients)", go))
    try:
        for suffix, load in loads:
            print(f"load: {load.name} ({args.concurrency} at a time)")
            if args.only in (None, "blocking"):
                report("blocking" + suffix,
                       *run_pair(("tlskit-blocking", "stdlib-blocking"), pki, load, args),
                       ">= 0.8x")
            if args.only in (None, "asyncio"):
                report("asyncio" + suffix,
                       *run_pair(("tlskit-asyncio", "stdlib-asyncio"), pki, load, args),
                       ">= 1.0x")
    finally:
        for _, load in loads:
            load.close()
    if args.only in (None, "held"):
        mine_kib = held_rss(lambda: tlskit.aio.start_server(
            _hold, "127.0.0.1", 0, tlskit_config(pki, args.tickets)), pki, args.held)
        theirs_kib = held_rss(lambda: asyncio.start_server(
            _hold, "127.0.0.1", 0, ssl=stdlib_context(pki, args.tickets)), pki, args.held)
        print(f"asyncio server, RSS per held connection ({args.held} connections): "
              f"tlskit {mine_kib:.1f} KiB, stdlib {theirs_kib:.1f} KiB")
        print(f"ratio asyncio server memory per held connection tlskit/ssl (RSS): "
              f"{mine_kib / theirs_kib:.2f}x (target <= 0.2x)")


if __name__ == "__main__":
    main()
