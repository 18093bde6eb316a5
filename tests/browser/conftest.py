"""Plumbing for the browser tests: a test PKI on disk, `tlskit serve` in a subprocess on an
OS-chosen port, NSS databases that trust the test root, and browser processes that always
die with their whole process group.

Nothing here imitates a browser: every client is Debian's chromium (BoringSSL) or
firefox-esr (NSS), run headless against 127.0.0.1. A missing browser or certutil fails the
test: .ci/install-test-deps.sh installs them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tlskit.ca import LocalCA

BROWSER_TIMEOUT = 60.0  # a healthy headless page load takes about a second
INSTALL_HINT = "run .ci/install-test-deps.sh (installs chromium, firefox-esr, libnss3-tools)"

# What `tlskit serve` logs when a connection goes wrong (see Server._handle); a healthy
# browser visit must produce none of them.
SERVER_ERRORS = re.compile(
    r"handshake failed|TLS error|closed by the client|closed the connection during the "
    r"handshake|timed out|connection error|internal error|accept failed|Traceback")


def need(binary: str) -> str:
    """The path of ``binary``; a missing one is a failure, not a skip (CI installs it)."""
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} is not installed: {INSTALL_HINT}")
    return path


@dataclass
class Leaf:
    cert: Path  # leaf + intermediate, what --cert takes
    key: Path
    spki_sha256: str  # base64 SHA-256 of the leaf's SubjectPublicKeyInfo (Chromium's pin)

    @property
    def serve_args(self) -> tuple[str, ...]:
        """`tlskit serve`'s options for serving this certificate and key."""
        return ("--cert", str(self.cert), "--key", str(self.key))


class PKI:
    """root -> intermediate -> localhost/127.0.0.1 leaves (EC P-256 and RSA-2048)."""

    def __init__(self, directory: Path) -> None:
        ca = LocalCA.create(directory=directory / "ca")
        self.root = directory / "ca" / "root.pem"
        assert self.root.is_file()
        self.leaves: dict[str, Leaf] = {}
        for kind in ("ec256", "rsa2048"):
            issued = ca.issue_server(["localhost", "127.0.0.1"], key_type=kind)
            cert, key = issued.write(cert_path=directory / f"{kind}.pem",
                                     key_path=directory / f"{kind}-key.pem")
            spki = issued.certificate.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            self.leaves[kind] = Leaf(Path(cert), Path(key),
                                     base64.b64encode(hashlib.sha256(spki).digest()).decode())


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return PKI(tmp_path_factory.mktemp("browser-pki"))


def isolated_env(home: Path) -> dict[str, str]:
    """The environment with HOME and the XDG directories inside ``home``, so no browser
    sees the invoking user's NSS database, profile or caches."""
    env = dict(os.environ)
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                 "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        env.pop(name, None)
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["TLSKIT_STATE_DIR"] = str(home / "tlskit-state")
    return env


# --------------------------------------------------------------------------- tlskit serve


class Serve:
    """A running `tlskit serve` in its own session; the port comes from its first stdout
    line, and stderr (one line per connection event) is collected as it arrives."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tlskit", "serve", "--port", "0", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env, start_new_session=True)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._last_line = time.monotonic()
        threading.Thread(target=self._pump, daemon=True).start()
        self.first_line = self.proc.stdout.readline()
        found = re.fullmatch(r"listening on https://127\.0\.0\.1:(\d+)/\n", self.first_line)
        if not found:
            self.kill()
            pytest.fail(f"tlskit serve did not start: {self.first_line!r} {self.log()}")
        self.port = int(found.group(1))
        self.url = f"https://localhost:{self.port}/"
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # drain

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._last_line = time.monotonic()
                self._changed.notify_all()

    def log(self) -> str:
        with self._changed:
            return "\n".join(self._lines)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first log line matching ``pattern``, waiting up to ``timeout`` for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self._lines:
                    found = re.search(pattern, line)
                    if found:
                        return found
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"tlskit serve never logged {pattern!r}:\n{self.log()}")
                self._changed.wait(left)

    def settle(self, quiet: float = 0.5, timeout: float = 5.0) -> str:
        """The log once no line arrived for ``quiet`` seconds (connection threads finish
        after the browser has gone)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._changed:
                if time.monotonic() - self._last_line >= quiet:
                    break
            time.sleep(0.1)
        return self.log()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        finally:
            self.kill()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


ServeFactory = Callable[..., Serve]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeFactory]:
    started: list[Serve] = []

    def start(*args: str) -> Serve:
        server = Serve(list(args), isolated_env(tmp_path / "serve-home"))
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            code = server.stop()
            assert code == 0, f"tlskit serve exited {code}:\n{server.log()}"
            assert "Traceback" not in server.log(), server.log()


def assert_clean(log: str) -> None:
    """No connection in ``log`` went wrong."""
    bad = [line for line in log.splitlines() if SERVER_ERRORS.search(line)]
    assert not bad, "tlskit serve logged errors:\n" + "\n".join(bad) + f"\n---\n{log}"


# --------------------------------------------------------------------------- browsers


@dataclass
class BrowserRun:
    returncode: int | None  # None: killed after the timeout
    stdout: str
    stderr: str

    def tail(self, n: int = 40) -> str:
        """The last lines of stderr without the D-Bus noise of a machine with no bus."""
        lines = [line for line in self.stderr.splitlines() if "dbus" not in line.lower()]
        return "\n".join(lines[-n:])


class Browser:
    """One browser process in its own session; the whole group is killed at the end, so
    no renderer, zygote or content process outlives the test."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, errors="replace",
                                     env=env, cwd=cwd, start_new_session=True)

    def wait(self, timeout: float = BROWSER_TIMEOUT) -> BrowserRun:
        try:
            out, err = self.proc.communicate(timeout=timeout)
            code: int | None = self.proc.returncode
        except subprocess.TimeoutExpired:
            self.kill()
            out, err = self.proc.communicate()
            code = None
        finally:
            self.kill()
        return BrowserRun(code, out, err)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture
def browsers() -> Iterator[list[Browser]]:
    started: list[Browser] = []
    try:
        yield started
    finally:
        for browser in started:
            browser.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                browser.proc.communicate(timeout=10)


# --------------------------------------------------------------------------- the page


@dataclass
class Item:
    """One entry of an offered list as the browser rendered it."""

    name: str
    classes: set[str]
    note: str  # the code point, the key share length, why a suite is weak


@dataclass
class Page:
    """What `tlskit serve`'s handshake page says, read from the browser's DOM: the
    negotiated table, the offered lists, the verdict, the fingerprints, the chain and the
    diagram."""

    negotiated: dict[str, str]
    items: dict[str, list[Item]]
    counts: dict[str, int]
    verdict: dict[str, tuple[str, str]]  # check id -> (class, title)
    fingerprints: dict[str, str]
    chain: list[str]
    diagram: str | None
    dom: str

    @property
    def offered(self) -> dict[str, list[str]]:
        return {k: [i.name for i in v] for k, v in self.items.items()}

    @classmethod
    def parse(cls, dom: str) -> Page:
        assert "<h1>Your TLS handshake</h1>" in dom, f"not the tlskit page:\n{dom[:2000]}"
        u = html.unescape
        negotiated = {u(k): u(v) for k, v in re.findall(
            r"<tr><th>(.*?)</th><td><code>(.*?)</code></td></tr>", dom)}
        items: dict[str, list[Item]] = {}
        counts: dict[str, int] = {}
        for title, count, body in re.findall(
                r'<div class="box" id="offer-\w+"><h3>(.*?) <small>\((\d+)\)</small></h3>'
                r"(.*?)</div>", dom):
            counts[u(title)] = int(count)
            items[u(title)] = [
                Item(u(name), set(klass.split()), u(note)) for klass, name, note in re.findall(
                    r'<li(?: class="([^"]*)")?><code>(.*?)</code>(?: <small>(.*?)</small>)?'
                    r"</li>", body)]
        verdict = {check: (klass, u(title)) for klass, check, title in re.findall(
            r'<li class="(\w+)" data-check="(\w+)"><b>(.*?)</b>', dom)}
        fingerprints = dict(re.findall(r'<code id="(ja[34])">(.*?)</code>', dom))
        chain_html = re.search(r'<ol id="chain">(.*?)</ol>', dom)
        chain = [u(x) for x in re.findall(r"<li><b>(.*?)</b>", chain_html.group(1))] \
            if chain_html else []
        diagram = re.search(r'<img id="diagram" src="([^"]+)"', dom)
        for key in ("Your address", "Protocol version", "Cipher suite", "Key exchange group",
                    "Server signature scheme", "SNI (server name you asked for)",
                    "ALPN protocol", "User agent", "Resumed", "HelloRetryRequest"):
            assert key in negotiated, (key, negotiated)
        for key in ("Versions", "Cipher suites", "Groups", "Key shares sent",
                    "Signature schemes", "ALPN protocols", "Extensions"):
            assert key in items, (key, sorted(items))
        return cls(negotiated, items, counts, verdict, fingerprints, chain,
                   diagram.group(1) if diagram else None, dom)

    def check(self) -> None:
        """What every browser's page must show: every code point named (GREASE as GREASE),
        all of each list shown, the negotiated values highlighted in the offered lists, the
        seven verdict lines, both fingerprints, the chain and the diagram."""
        for title, entries in self.items.items():
            assert len(entries) == self.counts[title], (title, entries)
            for item in entries:
                assert item.name, (title, item)
                assert not item.name.startswith(("unassigned", "UNKNOWN")), (title, item)
                assert item.name.startswith("GREASE") == ("grease" in item.classes), item
        chosen = {t: [i.name for i in v if "chosen" in i.classes] for t, v in self.items.items()}
        assert chosen["Cipher suites"] == [self.suite], chosen
        assert chosen["Versions"] == [self.version], chosen
        assert chosen["Groups"] == [self.group], chosen
        if self.version == "TLSv1.3" and self.negotiated["HelloRetryRequest"] == "no":
            assert chosen["Key shares sent"] == [self.group], chosen
        assert chosen["ALPN protocols"] == [self.negotiated["ALPN protocol"]], chosen
        assert chosen["Signature schemes"] == [self.scheme], chosen
        assert set(self.verdict) == {"post_quantum", "forward_secrecy", "weak_suites",
                                     "resumption", "ech", "hello_retry", "version"}
        assert all(k in ("ok", "bad", "info") for k, _ in self.verdict.values())
        assert self.verdict["forward_secrecy"][0] == "ok"
        assert re.fullmatch(r"t1[23]d\d{4}h[12]_[0-9a-f]{12}_[0-9a-f]{12}",
                            self.fingerprints.get("ja4", "")), self.fingerprints
        assert re.fullmatch(r"[0-9a-f]{32}", self.fingerprints.get("ja3", ""))
        if self.negotiated["Resumed"] == "no":
            assert self.chain[0] == "localhost" and len(self.chain) == 2, self.chain
        assert self.diagram and re.fullmatch(r"/diagram/[\w-]+\.svg", self.diagram)

    @property
    def address(self) -> str:
        return self.negotiated["Your address"]

    @property
    def version(self) -> str:
        return self.negotiated["Protocol version"]

    @property
    def suite(self) -> str:
        return self.negotiated["Cipher suite"]

    @property
    def group(self) -> str:
        return self.negotiated["Key exchange group"]

    @property
    def scheme(self) -> str:
        return self.negotiated["Server signature scheme"]


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots are kept (``$TLSKIT_TEST_ARTIFACTS`` if set, else a temporary
    directory named in the test's output)."""
    wanted = os.environ.get("TLSKIT_TEST_ARTIFACTS")
    path = Path(wanted) if wanted else tmp_path_factory.mktemp("artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 800 and height >= 600, (width, height)
    assert len(data) > 20_000, "a blank screenshot compresses to almost nothing"
