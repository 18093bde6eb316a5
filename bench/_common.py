"""Shared helpers for the bench scripts: a throwaway PKI, connected in-memory pairs for
tlskit and for the stdlib `ssl` module, batch timing and output formatting.

Nothing here asserts on time; the scripts only measure and print.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import platform
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import __version__ as cryptography_version
from cryptography import x509
from cryptography.hazmat.backends.openssl.backend import backend as _crypto_backend
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import Certificate

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.ca import LocalCA

KiB = 1024
MiB = 1024 * 1024
RECORD = 16 * KiB
HOSTNAME = "localhost"

# IANA name -> the name OpenSSL's `Ciphersuites` directive and SSLObject.cipher() use.
SUITES = {
    "TLS_AES_128_GCM_SHA256": "AES-128-GCM",
    "TLS_CHACHA20_POLY1305_SHA256": "ChaCha20-Poly1305",
}


# ---------------------------------------------------------------------------- environment

def versions() -> str:
    return (f"python {platform.python_version()} ({sys.implementation.name}), "
            f"cryptography {cryptography_version} [{_crypto_backend.openssl_version_text()}], "
            f"ssl [{ssl.OPENSSL_VERSION}], {os.cpu_count()} CPU(s), {platform.machine()}, "
            f"load average {os.getloadavg()[0]:.2f}")


# ---------------------------------------------------------------------------- PKI

@dataclass
class PKI:
    """Root -> intermediate -> ECDSA P-256 leaf for `HOSTNAME`, plus PEM files on disk."""

    root: Certificate
    chain: list[Certificate]  # leaf, intermediate
    key: object
    directory: Path
    root_pem: Path
    chain_pem: Path
    key_pem: Path


def make_pki(directory: str | Path | None = None) -> PKI:
    ca = LocalCA.create(directory=None)
    issued = ca.issue_server([HOSTNAME], key_type="ec256")
    d = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="tlskit-bench-"))
    root_pem = d / "root.pem"
    root_pem.write_bytes(ca.root.public_bytes(serialization.Encoding.PEM))
    chain_pem, key_pem = issued.write(d, cert_path=d / "chain.pem", key_path=d / "key.pem")
    return PKI(ca.root, list(issued.chain), issued.private_key, d, root_pem, chain_pem, key_pem)


def load_pki(directory: str | Path) -> PKI:
    """The PKI a parent process wrote (for worker subprocesses)."""
    d = Path(directory)
    root = x509.load_pem_x509_certificate((d / "root.pem").read_bytes())
    chain = x509.load_pem_x509_certificates((d / "chain.pem").read_bytes())
    key = serialization.load_pem_private_key((d / "key.pem").read_bytes(), None)
    return PKI(root, chain, key, d, d / "root.pem", d / "chain.pem", d / "key.pem")


# ---------------------------------------------------------------------------- tlskit

def server_ticket_default() -> int:
    """How many session tickets tlskit's server sends by default (0 before tickets existed)."""
    field = {f.name: f for f in dataclasses.fields(ServerConfig)}.get("session_tickets")
    return int(field.default) if field is not None else 0  # type: ignore[arg-type]


def tlskit_configs(pki: PKI, suite: str | None = None,
                   tickets: int | None = None) -> tuple[ClientConfig, ServerConfig]:
    """Built once and reused across connections, as an application would. ``tickets``
    sets the server's session_tickets (None: tlskit's default)."""
    suites = [suite] if suite else None
    client = ClientConfig(trust_anchors=[pki.root], groups=["x25519"], cipher_suites=suites)
    extra: dict[str, Any] = {} if tickets is None else {"session_tickets": tickets}
    server = ServerConfig(certificate_chain=pki.chain, private_key=pki.key, groups=["x25519"],
                          cipher_suites=suites, **extra)
    return client, server


def tlskit_handshake(client_cfg: ClientConfig, server_cfg: ServerConfig,
                     server_name: str = HOSTNAME) -> tuple[ClientConnection, ServerConnection]:
    """One full handshake in memory; returns both connected ends."""
    client = ClientConnection(client_cfg, server_name=server_name)
    server = ServerConnection(server_cfg)
    while client.handshake_complete is None or server.handshake_complete is None:
        data = client.data_to_send()
        moved = bool(data)
        if data:
            server.receive_data(data)
        data = server.data_to_send()
        if data:
            moved = True
            client.receive_data(data)
        if not moved:
            raise RuntimeError("tlskit handshake stalled")
    data = server.data_to_send()  # anything sent after the handshake (session tickets)
    if data:
        client.receive_data(data)
    return client, server


def tlskit_transfer(client: ClientConnection, server: ServerConnection, total: int,
                    chunk: bytes) -> int:
    """Send `total` bytes client -> server one 16 KiB record at a time; bytes received."""
    send, take, receive = client.send_data, client.data_to_send, server.receive_data
    received = 0
    for _ in range(total // len(chunk)):
        send(chunk)
        for event in receive(take()):
            received += len(event.data)  # type: ignore[attr-defined]  # DataReceived
    return received


def tlskit_transfer_into(client: ClientConnection, server: ServerConnection, total: int,
                         chunk: bytes) -> int:
    """`tlskit_transfer` through the zero-copy calls: the client seals each record
    into one reused buffer (`send_data_into`), the server decrypts it from there into
    another (`receive_data_into`), both passed as memoryviews, as a caller reusing its
    buffers keeps them; bytes received."""
    wire_view = memoryview(bytearray(client.send_buffer_size(len(chunk))))
    plain = memoryview(bytearray(RECORD + 1))
    send, receive = client.send_data_into, server.receive_data_into
    received = 0
    for _ in range(total // len(chunk)):
        got, events = receive(wire_view[:send(chunk, wire_view)], plain)
        received += got
        if events:
            raise RuntimeError(f"unexpected events {events}")
    return received


# ---------------------------------------------------------------------------- stdlib ssl

def ssl_contexts(pki: PKI, num_tickets: int | None = None
                 ) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """TLS 1.3 only, hostname checked, chain verified; groups and suites left to OpenSSL
    (or to OPENSSL_CONF). ``num_tickets`` None keeps OpenSSL's default (2)."""
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.minimum_version = client.maximum_version = ssl.TLSVersion.TLSv1_3
    client.check_hostname = True
    client.verify_mode = ssl.CERT_REQUIRED
    client.load_verify_locations(cafile=str(pki.root_pem))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.minimum_version = server.maximum_version = ssl.TLSVersion.TLSv1_3
    server.load_cert_chain(str(pki.chain_pem), str(pki.key_pem))
    if num_tickets is not None:
        server.num_tickets = num_tickets
    return client, server


@dataclass
class SSLEnd:
    obj: ssl.SSLObject
    incoming: ssl.MemoryBIO
    outgoing: ssl.MemoryBIO


def ssl_step(end: SSLEnd) -> bool:
    """One `do_handshake()` call: True when the handshake is complete."""
    try:
        end.obj.do_handshake()
        return True
    except ssl.SSLWantReadError:
        return False


def ssl_handshake(client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext,
                  server_name: str = HOSTNAME) -> tuple[SSLEnd, SSLEnd]:
    """One full handshake over MemoryBIOs; returns both connected ends."""
    ci, co, si, so = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = SSLEnd(client_ctx.wrap_bio(ci, co, server_side=False,
                                        server_hostname=server_name), ci, co)
    server = SSLEnd(server_ctx.wrap_bio(si, so, server_side=True), si, so)
    client_done = server_done = False
    for _ in range(16):  # a TLS 1.3 handshake needs two round trips; 16 is generous
        if not client_done:
            client_done = ssl_step(client)
        data = co.read()
        if data:
            si.write(data)
        if not server_done:
            server_done = ssl_step(server)
        data = so.read()
        if data:
            ci.write(data)
        if client_done and server_done:
            break
    else:
        raise RuntimeError("ssl handshake stalled")
    if ci.pending:  # session tickets: let the client process them, as tlskit's does
        with contextlib.suppress(ssl.SSLWantReadError):
            client.obj.read(1)
    return client, server


def ssl_transfer(client: SSLEnd, server: SSLEnd, total: int, chunk: bytes,
                 into: bool = False) -> int:
    """Send `total` bytes client -> server one 16 KiB record at a time; bytes received.
    `into` reads into one preallocated buffer (`SSLObject.read(n, buffer)`), the stdlib's
    counterpart of tlskit's zero-copy read: no result object per record."""
    write, pull, push, read = (client.obj.write, client.outgoing.read, server.incoming.write,
                               server.obj.read)
    size = len(chunk)
    buffer = bytearray(RECORD) if into else None
    received = 0
    for _ in range(total // size):
        write(chunk)
        push(pull())
        got = 0
        while got < size:
            try:  # (`read` returns an int when given a buffer)
                got += read(RECORD, buffer) if into else len(read(RECORD))  # type: ignore[operator]
            except ssl.SSLWantReadError:
                break
        received += got
    return received


# ---------------------------------------------------------------------------- timing

CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
clock: Callable[[], float] = time.process_time


def set_clock(name: str) -> None:
    """"cpu" (process CPU time: the default, robust on a shared machine, since every
    contender here is single-threaded and never waits) or "wall"."""
    global clock
    clock = CLOCKS[name]


def time_batch(fn: Callable[[], object], n: int) -> float:
    """Seconds per call of `fn`, over `n` calls (gc collected first, left enabled)."""
    gc.collect()
    start = clock()
    for _ in range(n):
        fn()
    return (clock() - start) / n


def time_batch_each(fn: Callable[[Any], object], items: list[Any]) -> float:
    """Seconds per call of `fn(item)` over `items` (gc collected first, left enabled)."""
    gc.collect()
    start = clock()
    for item in items:
        fn(item)
    return (clock() - start) / len(items)


def interleaved(runs: dict[str, Callable[[], float]], batches: int) -> dict[str, list[float]]:
    """Run each named batch function in turn, `batches` times, so slow drifts of the
    machine hit every contender alike. Each function returns one measurement."""
    results: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(batches):
        for name, fn in runs.items():
            results[name].append(fn())
    return results


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def spread(values: list[float]) -> str:
    """min..max relative to the median, e.g. '-3%/+8%'."""
    m = median(values)
    return f"-{(1 - min(values) / m) * 100:.0f}%/+{(max(values) / m - 1) * 100:.0f}%"


def mbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"
