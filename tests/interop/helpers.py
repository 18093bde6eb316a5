"""Plumbing for the interop tests: a blocking socket pump for tlskit connections, peer
processes (openssl, gnutls, curl) with their output captured, and one-shot server threads.

Nothing here imitates a peer: every peer is a real TLS implementation (an external binary
or CPython's `ssl`, i.e. OpenSSL) reached over a real TCP socket on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tlskit import (
    AlertDescription,
    AlertReceived,
    ClientConfig,
    ClientConnection,
    Connection,
    ConnectionClosed,
    DataReceived,
    Event,
    HandshakeComplete,
    KeyUpdated,
    ServerConfig,
    ServerConnection,
    TLSError,
)

HOST = "127.0.0.1"
TIMEOUT = 20.0  # generous per-operation deadline; a healthy step takes milliseconds

# Our names -> what each peer calls the same thing.
GROUPS = ("x25519", "secp256r1", "secp384r1")
SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
CERT_TYPES = ("ec256", "ec384", "rsa2048", "ed25519")
OPENSSL_GROUP = {"x25519": "X25519", "secp256r1": "P-256", "secp384r1": "P-384"}
# How `openssl s_client` reports the key exchange ("Server Temp Key: ...").
OPENSSL_TEMP_KEY = {"x25519": "X25519", "secp256r1": "ECDH, prime256v1",
                    "secp384r1": "ECDH, secp384r1"}
GNUTLS_GROUP = {"x25519": "GROUP-X25519", "secp256r1": "GROUP-SECP256R1",
                "secp384r1": "GROUP-SECP384R1"}
GNUTLS_SUITE = {"TLS_AES_128_GCM_SHA256": "AES-128-GCM",
                "TLS_AES_256_GCM_SHA384": "AES-256-GCM",
                "TLS_CHACHA20_POLY1305_SHA256": "CHACHA20-POLY1305"}
# The CertificateVerify scheme a leaf of each key type must produce in TLS 1.3.
SCHEME_FOR_CERT = {"ec256": "ecdsa_secp256r1_sha256", "ec384": "ecdsa_secp384r1_sha384",
                   "rsa2048": "rsa_pss_rsae_sha256", "ed25519": "ed25519"}


def covering_rows() -> list[tuple[str, str, str]]:
    """(group, suite, cert type) rows in which every pair of values from two different
    factors appears at least once: 12 rows instead of the 36 of the full product.

    Row (c, s) takes group (c + s) mod 3. For a fixed suite, c = 0..3 walks all three groups;
    for a fixed cert type, s = 0..2 does; suite x cert is the full product. Twelve is also
    the minimum, since suite x cert alone has 12 combinations."""
    rows = []
    for c, cert in enumerate(CERT_TYPES):
        for s, suite in enumerate(SUITES):
            rows.append((GROUPS[(c + s) % 3], suite, cert))
    return rows


def row_id(row: Sequence[str]) -> str:
    return "-".join(x.replace("TLS_", "").replace("_SHA256", "").replace("_SHA384", "")
                    for x in row)


# --------------------------------------------------------------------------- binaries


def require_binary(name: str) -> str:
    """The path of a peer binary. A missing one is a failure, not a skip: CI installs
    them with .ci/install-test-deps.sh, and a silently skipped interop suite proves nothing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (run .ci/install-test-deps.sh)", pytrace=False)
    return path


# --------------------------------------------------------------------------- the pump


class PeerClosedError(ConnectionError):
    """The TCP connection ended before what we were waiting for happened."""


class Pump:
    """Drives one tlskit connection over a connected socket.

    Output the connection queues is kept in ``self._out`` and written whenever the socket
    can take it, while input is read in the same loop, so a peer that echoes while we are
    still sending (both directions full) can never deadlock us. Every event is kept in
    ``events`` in order; application data accumulates in ``data``.
    """

    def __init__(self, conn: Connection, sock: socket.socket, *, timeout: float = TIMEOUT):
        self.conn = conn
        self.sock = sock
        self.timeout = timeout
        sock.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(sock, selectors.EVENT_READ)
        self._out = bytearray()
        self.events: list[Event] = []
        self.data = bytearray()
        self.eof = False
        self.closed_event: ConnectionClosed | None = None
        self.error: TLSError | None = None

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def connect(cls, config: ClientConfig, port: int, *, server_name: str = "localhost",
                host: str = HOST, **kw: Any) -> Pump:
        """Connect to host:port; ``kw`` goes to `ClientConnection` (e.g. ``session``)."""
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(ClientConnection(config, server_name=server_name, **kw), sock)

    @classmethod
    def accept(cls, config: ServerConfig, sock: socket.socket) -> Pump:
        return cls(ServerConnection(config), sock)

    # -- the loop -------------------------------------------------------------------------

    def _collect_output(self) -> None:
        out = self.conn.data_to_send()
        if out:
            self._out += out

    def _step(self, timeout: float) -> None:
        self._collect_output()
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._out else 0)
        self._sel.modify(self.sock, want)
        for _key, mask in self._sel.select(timeout):
            if mask & selectors.EVENT_WRITE and self._out:
                try:
                    sent = self.sock.send(self._out[:1 << 18])
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except (BrokenPipeError, ConnectionResetError):
                    sent = len(self._out)  # the peer is gone: nothing more can be written
                    self.eof = True
                del self._out[:sent]
            if mask & selectors.EVENT_READ and not self.eof:
                try:
                    chunk = self.sock.recv(1 << 18)
                except (BlockingIOError, InterruptedError):
                    continue
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    self.eof = True  # later steps only write what is still queued
                    continue
                self._feed(chunk)

    def _feed(self, chunk: bytes) -> None:
        try:
            events = self.conn.receive_data(chunk)
        except TLSError as exc:
            self.error = exc
            self._collect_output()  # the alert tlskit queued: let the peer see why
            self._flush_best_effort()
            raise
        for ev in events:
            self.events.append(ev)
            if isinstance(ev, DataReceived):
                self.data += ev.data
            elif isinstance(ev, ConnectionClosed):
                self.closed_event = ev
                if ev.alert is not None:  # the peer aborted: the pump stops with an error
                    self.error = AlertReceived(ev.alert)
                    raise self.error

    def _flush_best_effort(self) -> None:
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(2.0)
            self.sock.sendall(self._out)
            self._out.clear()
        except OSError:
            pass
        finally:
            self.sock.setblocking(False)

    def run_until(self, done: Callable[[], Any], what: str, *,
                  timeout: float | None = None) -> Any:
        """Loop until ``done()`` is truthy (and all queued output is written)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            self._collect_output()
            result = done()
            if result and not self._out:
                return result
            if self.eof and not result:
                raise PeerClosedError(f"peer closed the TCP connection while waiting for {what}"
                                      f" (events so far: {self._event_names()})")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timed out waiting for {what} "
                                   f"(events so far: {self._event_names()})")
            self._step(min(left, 0.5))

    def _event_names(self) -> list[str]:
        return [type(e).__name__ for e in self.events]

    # -- operations -----------------------------------------------------------------------

    def handshake(self) -> HandshakeComplete:
        hc: HandshakeComplete = self.run_until(lambda: self.conn.handshake_complete,
                                               "the handshake")
        return hc

    def send(self, data: bytes) -> None:
        """Queue application data and wait until the socket has taken all of it."""
        self.conn.send_data(data)
        self.run_until(lambda: True, "the send to drain")

    def recv_exactly(self, n: int, *, timeout: float | None = None) -> bytes:
        self.run_until(lambda: len(self.data) >= n, f"{n} bytes of application data "
                       f"(have {len(self.data)})", timeout=timeout)
        out = bytes(self.data[:n])
        del self.data[:n]
        return out

    def recv_until(self, marker: bytes, *, timeout: float | None = None) -> bytes:
        """Application data up to and including ``marker``."""
        self.run_until(lambda: marker in self.data, f"{marker!r} in the data",
                       timeout=timeout)
        end = self.data.index(marker) + len(marker)
        out = bytes(self.data[:end])
        del self.data[:end]
        return out

    def echo_roundtrip(self, payload: bytes, *, chunk: int = 1 << 16) -> bytes:
        """Send ``payload`` and read back as many bytes (the peer echoes). Sending and
        reading are interleaved by the loop, so neither direction can fill up and stall."""
        for start in range(0, len(payload), chunk):
            self.conn.send_data(payload[start:start + chunk])
            self._collect_output()
            self._step(0)
        return self.recv_exactly(len(payload))

    def key_update(self, request_peer_update: bool = True) -> None:
        self.conn.update_keys(request_peer_update=request_peer_update)
        self.run_until(lambda: True, "the KeyUpdate to be written")

    def key_updates_received(self) -> list[KeyUpdated]:
        return [e for e in self.events if isinstance(e, KeyUpdated)]

    def wait_key_updated(self, count: int = 1) -> None:
        self.run_until(lambda: len(self.key_updates_received()) >= count,
                       f"{count} KeyUpdated event(s)")

    def close(self) -> None:
        """Send close_notify and wait until it is written."""
        self.conn.close()
        self.run_until(lambda: True, "close_notify to be written")

    def wait_closed(self, *, timeout: float | None = None) -> ConnectionClosed:
        """Read until the peer's close_notify (or fatal alert) arrives."""
        ev: ConnectionClosed = self.run_until(lambda: self.closed_event,
                                              "the peer's close_notify", timeout=timeout)
        return ev

    def read_to_eof(self, *, timeout: float | None = None) -> bytes:
        """Read until the TCP connection ends; returns all application data."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out waiting for the peer to close")
            self._step(min(left, 0.5))
        out = bytes(self.data)
        self.data.clear()
        return out

    def dispose(self) -> None:
        self._sel.close()
        self.sock.close()


# --------------------------------------------------------------------------- processes


class PeerProcess:
    """An external TLS peer with stdin piped and stdout/stderr captured by reader threads.

    It runs in its own session so `stop` can kill its whole process group. `wait_for`
    searches the captured output, failing early (with the output) if the process exits."""

    def __init__(self, argv: Sequence[str], *, cwd: str | os.PathLike[str] | None = None,
                 env: dict[str, str] | None = None, unbuffered: bool = False) -> None:
        argv = [require_binary(argv[0]), *argv[1:]]
        self.argv = list(argv)
        if unbuffered:
            # openssl writes its -trace/-msg output through a stdio FILE, block-buffered on
            # a pipe, while it writes received data with write(2): without this the trace
            # lags behind the data and cannot be read "after the peer processed X".
            argv = [require_binary("stdbuf"), "-o0", "-e0", *argv]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=cwd, env=env,
                                     start_new_session=True)
        self._buf = {"stdout": bytearray(), "stderr": bytearray()}
        self._cond = threading.Condition()
        self._open = 2
        self._threads = [threading.Thread(target=self._reader, args=(name, stream), daemon=True)
                         for name, stream in (("stdout", self.proc.stdout),
                                              ("stderr", self.proc.stderr))]
        for t in self._threads:
            t.start()

    def _reader(self, name: str, stream: Any) -> None:
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    self._open -= 1
                    self._cond.notify_all()
                    return
                self._buf[name] += chunk
                self._cond.notify_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stdout(self) -> str:
        with self._cond:
            return self._buf["stdout"].decode(errors="replace")

    @property
    def stderr(self) -> str:
        with self._cond:
            return self._buf["stderr"].decode(errors="replace")

    @property
    def stdout_bytes(self) -> bytes:
        with self._cond:
            return bytes(self._buf["stdout"])

    def text_since(self, mark: int, stream: str = "stdout") -> str:
        with self._cond:
            return self._buf[stream][mark:].decode(errors="replace")

    def mark(self, stream: str = "stdout") -> int:
        with self._cond:
            return len(self._buf[stream])

    def describe(self) -> str:
        return (f"$ {' '.join(self.argv)}\n(exit status {self.proc.poll()})\n"
                f"--- stdout (tail) ---\n{self.stdout[-4000:]}\n"
                f"--- stderr (tail) ---\n{self.stderr[-4000:]}")

    def wait_for(self, pattern: str | bytes, *, stream: str = "stdout", since: int = 0,
                 timeout: float = TIMEOUT) -> re.Match[bytes]:
        """The first match of ``pattern`` (a regex) in the output from offset ``since``."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = rx.search(self._buf[stream], since)
                if found:
                    return found
                if self._open == 0:  # both pipes closed: the process is gone
                    raise AssertionError(f"{self.argv[0]} ended before printing "
                                         f"{rx.pattern!r}\n{self.describe()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{rx.pattern!r} not seen\n{self.describe()}")
                self._cond.wait(min(left, 0.5))

    def wait_until(self, check: Callable[[], Any], what: str, *,
                   timeout: float = TIMEOUT) -> Any:
        """Wait until ``check()`` (which may read the output) is truthy; re-checked on
        every chunk of output and when the process ends."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            with self._cond:
                if self._open == 0:
                    result = check()
                    if result:
                        return result
                    raise AssertionError(f"{self.argv[0]} ended before {what}\n"
                                         f"{self.describe()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{what}: not seen\n{self.describe()}")
                self._cond.wait(min(left, 0.2))

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def write_in_background(self, data: bytes, *, close: bool = False) -> threading.Thread:
        """Feed stdin from a thread (a pipe holds 64 KiB; the peer may need us to read its
        output before it takes more input)."""

        def feed() -> None:
            with contextlib.suppress(OSError):
                self.write(data)
                if close:
                    self.close_stdin()

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        return thread

    def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def wait(self, timeout: float = TIMEOUT) -> int:
        """Wait for the process to exit and its output to be fully read."""
        rc = self.proc.wait(timeout)
        for t in self._threads:
            t.join(timeout)
        return rc

    def stop(self) -> None:
        """Kill the process group (TERM, then KILL) and reap it."""
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.close_stdin()
        for t in self._threads:
            t.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def listening_port(pid: int, *, timeout: float = TIMEOUT) -> int:
    """The IPv4 TCP port process ``pid`` listens on, read from /proc (for servers such as
    gnutls-serv that accept port 0 but never say which port they got)."""
    deadline = time.monotonic() + timeout
    while True:
        inodes = set()
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
            lines = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
        except FileNotFoundError:
            raise AssertionError(f"process {pid} is gone") from None
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A = LISTEN
                return int(cols[1].split(":")[1], 16)
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} is not listening on any IPv4 TCP port")
        time.sleep(0.01)


# --------------------------------------------------------------------------- server threads


@dataclass
class ServerThread:
    """Listens on 127.0.0.1 (port chosen by the OS) and hands each accepted socket to
    ``handler`` in a thread; `join` returns the handlers' results or re-raises the first
    exception, so a failure inside the server fails the test with its real traceback."""

    handler: Callable[[socket.socket], Any]
    count: int = 1
    results: list[Any] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.listener = socket.create_server((HOST, 0))
        self.listener.settimeout(TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for _ in range(self.count):
                sock, _addr = self.listener.accept()
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with sock:
                    self.results.append(self.handler(sock))
        except BaseException as exc:  # re-raised by join()
            self.errors.append(exc)
        finally:
            self.listener.close()

    def join(self, timeout: float = TIMEOUT) -> list[Any]:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise TimeoutError("server thread did not finish")
        if self.errors:
            raise self.errors[0]
        return self.results

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.close()


def tlskit_server(config: ServerConfig, body: Callable[[Pump], Any], *,
                  count: int = 1) -> ServerThread:
    """A tlskit server thread: each connection gets a `Pump` and ``body(pump)`` runs on it."""

    def handle(sock: socket.socket) -> Any:
        pump = Pump.accept(config, sock)
        try:
            return body(pump)
        finally:
            pump.dispose()

    return ServerThread(handle, count=count)


# --------------------------------------------------------------------------- openssl -trace

HRR_RANDOM_HEX = "CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C"
_RECORD_START = re.compile(r"^(Sent|Received) Record$", re.M)
_HS_MESSAGE = re.compile(r"^ {4}(\w+), Length=\d+$", re.M)
_ALERT = re.compile(r"description=([\w ]+?)\((\d+)\)")
_KEY_UPDATE = re.compile(r"^ +(update_requested|update_not_requested) \(\d\)$", re.M)


@dataclass
class TraceRecord:
    """One record as `openssl s_server/s_client -trace` prints it."""

    direction: str          # "Sent" or "Received"
    content_type: str       # outer type: Handshake, ApplicationData, Alert, ChangeCipherSpec
    inner_type: str | None  # TLS 1.3 inner type of a protected record
    messages: list[str]     # handshake messages, e.g. ["KeyUpdate(update_requested)"]
    text: str

    def summary(self) -> list[str]:
        if self.messages:
            return [f"{self.direction} {m}" for m in self.messages]
        kind = self.inner_type or self.content_type
        alert = _ALERT.search(self.text)
        if alert:
            name = alert.group(1)
            if name == "unknown":  # openssl 3.0's table lacks the TLS 1.3 additions
                name = AlertDescription(int(alert.group(2))).name.replace("_", " ")
            return [f"{self.direction} Alert({name})"]
        return [f"{self.direction} {kind}"]


def _random_hex(block: str) -> str:
    """The 32-byte Random of a Hello, which openssl prints in two parts."""
    found = re.search(r"gmt_unix_time=0x([0-9A-Fa-f]+)\s+random_bytes \(len=28\): "
                      r"([0-9A-Fa-f]+)", block)
    return (found.group(1) + found.group(2)).upper() if found else ""


def parse_openssl_trace(text: str) -> list[TraceRecord]:
    """Split openssl's -trace output into records, in the order they were sent/received."""
    starts = list(_RECORD_START.finditer(text))
    records = []
    for i, start in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        block = text[start.start():end]
        outer = re.search(r"Content Type = (\w+)", block)
        inner = re.search(r"Inner Content Type = (\w+)", block)
        messages = []
        for found in _HS_MESSAGE.finditer(block):
            name = found.group(1)
            if name == "ServerHello" and _random_hex(block) == HRR_RANDOM_HEX:
                name = "HelloRetryRequest"
            elif name == "KeyUpdate":
                ku = _KEY_UPDATE.search(block, found.end())
                name = f"KeyUpdate({ku.group(1) if ku else '?'})"
            messages.append(name)
        records.append(TraceRecord(start.group(1), outer.group(1) if outer else "?",
                                   inner.group(1) if inner else None, messages, block))
    return records


def trace_summary(text: str) -> list[str]:
    """The trace as a flat list like ["Received ClientHello", "Sent ServerHello", ...,
    "Received KeyUpdate(update_requested)", "Sent Alert(close notify)"]."""
    return [line for record in parse_openssl_trace(text) for line in record.summary()]


def trace_field(text: str, message: str, pattern: str, *, direction: str | None = None) -> str:
    """A field inside the first ``message`` block of the trace (optionally only in "Sent"
    or "Received" records), e.g. the NamedGroup of the ServerHello or the Signature
    Algorithm of the CertificateVerify."""
    for record in parse_openssl_trace(text):
        if direction is not None and record.direction != direction:
            continue
        for found in _HS_MESSAGE.finditer(record.text):
            if found.group(1) == message:
                value = re.search(pattern, record.text[found.end():])
                if value:
                    return value.group(1)
    raise AssertionError(f"no {message} with {pattern!r} in the trace:\n{text[-3000:]}")


def echo_until_close(pump: Pump) -> int:
    """Server body: echo every byte until the peer's close_notify (answered by tlskit
    itself); returns the number of bytes echoed."""
    pump.handshake()
    echoed = 0
    while pump.closed_event is None:
        pump.run_until(lambda: pump.data or pump.closed_event, "data or close_notify")
        if pump.data and pump.closed_event is None:
            chunk = bytes(pump.data)
            pump.data.clear()
            pump.conn.send_data(chunk)
            echoed += len(chunk)
    pump.run_until(lambda: True, "the answering close_notify to be written")
    return echoed
