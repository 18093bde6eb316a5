"""Socket level, on 127.0.0.1: tlskit's `TLSSocket` against `ssl.SSLSocket`, and
`tlskit.aio` streams against asyncio streams over `ssl`: handshakes per second and MB/s.

    python bench/bench_socket.py            # full run (bounded: about 30 s)
    python bench/bench_socket.py --quick    # smoke run (a few seconds)
    python bench/bench_socket.py --seconds S --rounds N

The blocking server runs in a subprocess (as a remote peer would: no shared GIL); the
asyncio server runs in the client's event loop, so those figures are the work of a
client and a server together. Wall time: the socket calls and the kernel's loopback
count as they do in an application. TLS 1.3, X25519, the leaf ECDSA P-256 chain of
`_common.make_pki`, session tickets off, the client verifying the chain and host name.
Throughput: the server sends, the client reads with `recv_into` into a 64 KiB buffer
(blocking; tlskit decrypts records straight into it) or `StreamReader.read` (asyncio).
Contenders alternate in rounds of a fixed duration; the median round is reported.
Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

import tlskit
import tlskit.aio
from tlskit import ClientConfig, ServerConfig
from tlskit.io import wrap_server_socket

BUF = 1 << 16


def configs(pki: c.PKI) -> dict[str, Any]:
    client = ClientConfig(trust_anchors=[pki.root], groups=["x25519"],
                          cipher_suites=["TLS_AES_128_GCM_SHA256"], versions=["TLSv1.3"])
    server = ServerConfig(certificate_chain=pki.chain, private_key=pki.key, groups=["x25519"],
                          cipher_suites=["TLS_AES_128_GCM_SHA256"], versions=["TLSv1.3"],
                          session_tickets=0)
    cctx, sctx = c.ssl_contexts(pki, num_tickets=0)
    return {"tlskit": (client, server), "ssl": (cctx, sctx)}


# ---------------------------------------------------------------------------- blocking

class BlockingServer:
    """Accepts connections in a thread; each one shakes hands, then sends `payload`
    bytes if the client's first byte asks for them ("B"), else closes."""

    def __init__(self, kind: str, server_cfg: Any, payload: int) -> None:
        self.kind = kind
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.payload = payload
        self.chunk = os.urandom(BUF)
        self.wrapped: Any = (wrap_server_socket(self.listener, server_cfg) if kind == "tlskit"
                             else server_cfg)
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def _accept(self) -> Any:
        if self.kind == "tlskit":
            sock, _ = self.wrapped.accept()
            sock.do_handshake()
            return sock
        raw, _ = self.listener.accept()
        return self.wrapped.wrap_socket(raw, server_side=True)

    def serve(self) -> None:
        while True:
            try:
                sock = self._accept()
            except OSError:
                return  # the listener was closed
            try:
                if sock.recv(1) == b"B":
                    left = self.payload
                    while left > 0:
                        sock.sendall(self.chunk[:min(left, BUF)])
                        left -= BUF
                    sock.recv(1)  # the client's close
            except OSError:
                pass
            finally:
                sock.close()


class ServerProcess:
    """A `BlockingServer` in a subprocess of this script, so the server's work does not
    compete with the client for one GIL (as with a real remote peer)."""

    def __init__(self, kind: str, pki_dir: str, payload: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, "--pki", pki_dir,
             "--payload", str(payload)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # the server exits when its stdin closes
        self.proc.wait(10)


def serve_main(kind: str, pki_dir: str, payload: int) -> int:
    cfgs = configs(c.load_pki(pki_dir))[kind]
    server = BlockingServer(kind, cfgs[1], payload)
    server.thread.start()
    print(server.port, flush=True)
    sys.stdin.read()
    return 0


def blocking_client(kind: str, client_cfg: Any, port: int) -> Any:
    if kind == "tlskit":
        return tlskit.connect("127.0.0.1", port, client_cfg, server_name=c.HOSTNAME, timeout=10)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return client_cfg.wrap_socket(raw, server_hostname=c.HOSTNAME)


def blocking_handshakes(kind: str, cfgs: Any, seconds: float, pki_dir: str) -> float:
    """Handshakes per second (the server in a subprocess)."""
    server = ServerProcess(kind, pki_dir, 0)
    try:
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            sock = blocking_client(kind, cfgs[0], server.port)
            sock.sendall(b"H")
            sock.close()
            n += 1
        return n / (time.perf_counter() - start)
    finally:
        server.close()


def blocking_throughput(kind: str, cfgs: Any, nbytes: int, pki_dir: str) -> float:
    """MB/s for `nbytes` server -> client over one connection (the server in a
    subprocess)."""
    server = ServerProcess(kind, pki_dir, nbytes)
    try:
        sock = blocking_client(kind, cfgs[0], server.port)
        buf = bytearray(BUF)
        sock.sendall(b"B")
        got = 0
        start = time.perf_counter()
        while got < nbytes:
            k = sock.recv_into(buf)
            if not k:
                raise RuntimeError(f"{kind}: EOF after {got} of {nbytes} bytes")
            got += k
        took = time.perf_counter() - start
        sock.sendall(b"x")
        sock.close()
        return c.mbps(nbytes, took)
    finally:
        server.close()


# ---------------------------------------------------------------------------- asyncio

async def _aio_server(kind: str, server_cfg: Any, payload: int) -> asyncio.Server:
    chunk = os.urandom(BUF)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if await reader.read(1) == b"B":
                left = payload
                while left > 0:
                    writer.write(chunk[:min(left, BUF)])
                    await writer.drain()
                    left -= BUF
                await reader.read(1)
        except (OSError, tlskit.TLSError, ssl.SSLError):
            pass
        finally:
            writer.close()

    if kind == "tlskit":
        return await tlskit.aio.start_server(handle, "127.0.0.1", 0, server_cfg)
    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_cfg)


async def _aio_client(kind: str, client_cfg: Any, port: int
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if kind == "tlskit":
        return await tlskit.aio.open_connection("127.0.0.1", port, client_cfg,
                                                server_name=c.HOSTNAME)
    return await asyncio.open_connection("127.0.0.1", port, ssl=client_cfg,
                                         server_hostname=c.HOSTNAME)


async def _aio_handshakes(kind: str, cfgs: Any, seconds: float) -> float:
    server = await _aio_server(kind, cfgs[1], 0)
    port = server.sockets[0].getsockname()[1]
    try:
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            _, writer = await _aio_client(kind, cfgs[0], port)
            writer.write(b"H")
            writer.close()
            with _quiet():
                await writer.wait_closed()
            n += 1
        return n / (time.perf_counter() - start)
    finally:
        server.close()


async def _aio_throughput(kind: str, cfgs: Any, nbytes: int) -> float:
    server = await _aio_server(kind, cfgs[1], nbytes)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await _aio_client(kind, cfgs[0], port)
        writer.write(b"B")
        got = 0
        start = time.perf_counter()
        while got < nbytes:
            data = await reader.read(BUF)
            if not data:
                raise RuntimeError(f"{kind} aio: EOF after {got} of {nbytes} bytes")
            got += len(data)
        took = time.perf_counter() - start
        writer.write(b"x")
        writer.close()
        with _quiet():
            await writer.wait_closed()
        return c.mbps(nbytes, took)
    finally:
        server.close()


class _quiet:
    """Closing races (the peer closed first) are not what is measured."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        return kind is not None and issubclass(kind, (OSError, tlskit.TLSError, ssl.SSLError))


def aio_handshakes(kind: str, cfgs: Any, seconds: float) -> float:
    return asyncio.run(_aio_handshakes(kind, cfgs, seconds))


def aio_throughput(kind: str, cfgs: Any, nbytes: int) -> float:
    return asyncio.run(_aio_throughput(kind, cfgs, nbytes))


# ---------------------------------------------------------------------------- main

def run(label: str, unit: str, fn: Callable[[str], float], rounds: int) -> None:
    res: dict[str, list[float]] = {"tlskit": [], "ssl": []}
    for _ in range(rounds):
        for kind in res:
            res[kind].append(fn(kind))
    med = {k: c.median(v) for k, v in res.items()}
    print(f"  {label:<34} tlskit {med['tlskit']:8.1f} {unit} ({c.spread(res['tlskit'])}) | "
          f"ssl {med['ssl']:8.1f} {unit} ({c.spread(res['ssl'])})")
    print(f"ratio socket {label} tlskit/ssl ({unit}): {med['tlskit'] / med['ssl']:.2f}x")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="reduced smoke run")
    ap.add_argument("--seconds", type=float, help="seconds per handshake round")
    ap.add_argument("--mib", type=int, help="MiB per throughput round")
    ap.add_argument("--rounds", type=int, help="rounds per contender")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--pki", help=argparse.SUPPRESS)
    ap.add_argument("--payload", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        return serve_main(args.serve, args.pki, args.payload)
    quick = args.quick
    seconds = args.seconds or (0.3 if quick else 1.5)
    nbytes = (args.mib or (8 if quick else 64)) * c.MiB
    rounds = args.rounds or (2 if quick else 5)
    print(f"tlskit socket bench ({'quick' if quick else 'full'}, wall clock, loopback): "
          f"{c.versions()}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tlskit-bench-") as tmp:
        cfgs = configs(c.make_pki(tmp))
        print(f"== {rounds} alternating rounds; handshakes: {seconds:g} s per round; "
              f"throughput: {nbytes // c.MiB} MiB server -> client per round ==")
        run("blocking handshakes", "hs/s",
            lambda k: blocking_handshakes(k, cfgs[k], seconds, tmp), rounds)
        run("blocking throughput", "MB/s",
            lambda k: blocking_throughput(k, cfgs[k], nbytes, tmp), rounds)
        run("asyncio handshakes", "hs/s",
            lambda k: aio_handshakes(k, cfgs[k], seconds), rounds)
        run("asyncio throughput", "MB/s",
            lambda k: aio_throughput(k, cfgs[k], nbytes), rounds)
    print(f"(took {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
