"""The server side of a TLS 1.3 handshake alone, in memory: tlskit's `ServerConnection`
against an `ssl` server `SSLObject`, each answering a stdlib `ssl` client and a tlskit
client. Only the server's calls are timed (receiving the ClientHello through writing
its flight, then the client's Finished through the answer, the tickets and
close_notify); the client's steps run between them, untimed, as a real client's do.

Why the two clients: a server's code and tables (the P-256 base-point table behind
every ECDSA signature, for one) are warm in the CPU's caches only if the client's steps
in between did not evict them. The stdlib client runs on the same libcrypto as the
`ssl` server, so the two share that code; tlskit's server uses cryptography's own
OpenSSL, which the tlskit client shares. Each server is fastest next to the client that
shares its library, so neither client alone is a neutral load: `bench_servers.py` adds
a Go client for that reason.

    python bench/bench_server_engine.py [--quick] [--handshakes N] [--batches N]
"""

from __future__ import annotations

import argparse
import gc
import ssl
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection

SUITE = "TLS_AES_256_GCM_SHA384"  # what OpenSSL's server picks; tlskit's pinned to it
ANSWER = b"ok"


class StdlibClient:
    """A stdlib `ssl` client in memory: `hello()`, then `finish(flight)`, `read(data)`."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.end = c.SSLEnd(ctx.wrap_bio(incoming, outgoing, server_hostname=c.HOSTNAME),
                            incoming, outgoing)

    def hello(self) -> bytes:
        c.ssl_step(self.end)
        return self.end.outgoing.read()

    def finish(self, flight: bytes) -> bytes:
        self.end.incoming.write(flight)
        c.ssl_step(self.end)
        return self.end.outgoing.read()

    def read(self, data: bytes) -> bytes:
        self.end.incoming.write(data)
        return self.end.obj.read(16)


class TlskitClient:
    """The same steps for a tlskit `ClientConnection`."""

    def __init__(self, config: ClientConfig) -> None:
        self.conn = ClientConnection(config, server_name=c.HOSTNAME)

    def hello(self) -> bytes:
        return self.conn.data_to_send()

    def finish(self, flight: bytes) -> bytes:
        self.conn.receive_data(flight)
        return self.conn.data_to_send()

    def read(self, data: bytes) -> bytes:
        events = self.conn.receive_data(data)
        return b"".join(getattr(e, "data", b"") for e in events)


def tlskit_server(config: ServerConfig, client: Any) -> float:
    """Seconds spent in tlskit's server calls for one handshake with `client`."""
    clock = c.clock
    hello = client.hello()
    start = clock()
    server = ServerConnection(config)
    server.receive_data(hello)
    flight = server.data_to_send()
    spent = clock() - start
    finished = client.finish(flight)
    start = clock()
    server.receive_data(finished)
    server.send_data(ANSWER)
    server.close()
    tail = server.data_to_send()
    spent += clock() - start
    if client.read(tail) != ANSWER:
        raise RuntimeError("the tlskit server's answer did not arrive")
    return spent


def ssl_server(ctx: ssl.SSLContext, client: Any) -> float:
    """Seconds spent in the `ssl` server's calls for one handshake with `client`."""
    clock = c.clock
    hello = client.hello()
    start = clock()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = ctx.wrap_bio(incoming, outgoing, server_side=True)
    incoming.write(hello)
    try:  # noqa: SIM105 (timed: no context manager's cost on the ssl side)
        server.do_handshake()
    except ssl.SSLWantReadError:
        pass
    flight = outgoing.read()
    spent = clock() - start
    finished = client.finish(flight)
    start = clock()
    incoming.write(finished)
    server.do_handshake()
    server.write(ANSWER)
    try:  # noqa: SIM105 (timed, as above)
        server.unwrap()  # close_notify (the client's is not waited for)
    except ssl.SSLWantReadError:
        pass
    tail = outgoing.read()
    spent += clock() - start
    if client.read(tail) != ANSWER:
        raise RuntimeError("the ssl server's answer did not arrive")
    return spent


def batch(server: Callable[[Any], float], make_client: Callable[[], Any], n: int) -> float:
    """Seconds of server calls per handshake over `n` new clients (gc collected first)."""
    clients = [make_client() for _ in range(n)]
    gc.collect()
    return sum(map(server, clients)) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handshakes", type=int, default=300, help="per batch")
    parser.add_argument("--batches", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.handshakes, args.batches = 20, 2
    pki = c.make_pki()
    client_ctx, server_ctx = c.ssl_contexts(pki, num_tickets=2)
    server_config = ServerConfig(certificate_chain=pki.chain, private_key=pki.key,
                                 versions=["TLSv1.3"], session_tickets=2,
                                 cipher_suites=[SUITE])
    client_config = ClientConfig(trust_anchors=[pki.root])
    clients: dict[str, Callable[[], Any]] = {
        "stdlib ssl client": lambda: StdlibClient(client_ctx),
        "tlskit client": lambda: TlskitClient(client_config),
    }
    print(c.versions())
    print(f"server side of a TLS 1.3 handshake (ECDSA P-256 chain, X25519, {SUITE}, 2 "
          f"tickets), {args.batches} interleaved batches of {args.handshakes}; CPU time")
    runs: dict[str, Callable[[], float]] = {}
    for name, make in clients.items():
        runs[f"tlskit server, {name}"] = partial(
            batch, partial(tlskit_server, server_config), make, args.handshakes)
        runs[f"ssl server, {name}"] = partial(
            batch, partial(ssl_server, server_ctx), make, args.handshakes)
    for run in runs.values():  # warm up
        run()
    results = c.interleaved(runs, args.batches)
    for name, values in results.items():
        print(f"{name:32s} {c.median(values) * 1e6:7.1f} us per handshake "
              f"(spread {c.spread(values)})")
    for name in clients:
        mine = c.median(results[f"tlskit server, {name}"])
        theirs = c.median(results[f"ssl server, {name}"])
        print(f"ratio server engine, {name} tlskit/ssl (time): {mine / theirs:.2f}x")


if __name__ == "__main__":
    main()
