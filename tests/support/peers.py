"""Real external peers (openssl, gnutls, curl, nginx, redis...) as processes: started
in their own session with output captured, readiness detected from their output or
their listening socket (never a fixed sleep), and stopped with their process group."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from .ports import TIMEOUT, listening_port


def require_binary(name: str) -> str:
    """The path of a peer binary. A missing one is a failure, not a skip: CI installs
    them with .ci/install-test-deps.sh, and a silently skipped interop suite proves nothing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (run .ci/install-test-deps.sh)", pytrace=False)
    return path


def require_postgres(name: str) -> str:
    """A PostgreSQL server program (postgres, initdb): on PATH, or where Debian keeps it,
    /usr/lib/postgresql/N/bin (newest N), which no PATH of a clean `env -i` run names."""
    found = shutil.which(name)
    if found is not None:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if not candidates:
        pytest.fail(f"{name} is not installed (run .ci/install-test-deps.sh: it installs "
                    "postgresql)", pytrace=False)
    return str(candidates[-1])


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

        def found() -> re.Match[bytes] | None:
            with self._cond:
                return rx.search(self._buf[stream], since)

        match: re.Match[bytes] = self.wait_until(found, f"printing {rx.pattern!r}",
                                                 timeout=timeout)
        return match

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


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill a peer started with start_new_session=True, with everything it spawned."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    _close_pipes(proc)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a peer started without its own session: TERM, then KILL after ``timeout``;
    reap it and close its pipes."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _close_pipes(proc)


class Peers:
    """Starts peer processes and server threads for one test; all of them are stopped
    at teardown (use the `peers_fixture` a conftest makes from a subclass)."""

    def __init__(self) -> None:
        self.processes: list[PeerProcess] = []
        self.threads: list[Any] = []   # anything with close(): `pump.ServerThread`

    def start(self, argv: Sequence[Any], **kw: Any) -> PeerProcess:
        """A peer process; openssl gets unbuffered output (its -trace/-msg lines)."""
        kw.setdefault("unbuffered", str(argv[0]) == "openssl")
        proc = PeerProcess([str(a) for a in argv], **kw)
        self.processes.append(proc)
        return proc

    def thread(self, server: Any) -> Any:
        self.threads.append(server)
        return server

    def openssl_s_server(self, *args: Any, cwd: Any = None) -> tuple[PeerProcess, int]:
        """`openssl s_server` on 127.0.0.1:0 (the OS picks the port). The port is read from
        the ACCEPT line it prints, or from /proc with -quiet (which silences that line)."""
        proc = self.start(["openssl", "s_server", "-accept", "127.0.0.1:0", *args], cwd=cwd)
        if "-quiet" in args:
            return proc, listening_port(proc.pid)
        found = proc.wait_for(rb"ACCEPT [^\n]*:(\d+)\r?\n")
        return proc, int(found.group(1))

    def gnutls_serv(self, *args: Any) -> tuple[PeerProcess, int]:
        """`gnutls-serv -p 0`; it does not print the port it got, so it is read from /proc
        once the process listens. (gnutls-serv listens on every address; tests connect to
        127.0.0.1.)"""
        proc = self.start(["gnutls-serv", "-p", "0", *args])
        return proc, listening_port(proc.pid)

    def close(self) -> None:
        for proc in self.processes:
            proc.stop()
        for server in self.threads:
            server.close()

    def __enter__(self: P) -> P:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


P = TypeVar("P", bound=Peers)


def peers_fixture(cls: type[P]) -> Any:
    """A function-scoped ``peers`` fixture yielding a fresh ``cls()``, closed after the
    test; assign it in a conftest: ``peers = peers_fixture(MyPeers)``."""

    @pytest.fixture
    def peers() -> Iterator[P]:
        with cls() as p:
            yield p

    return peers
