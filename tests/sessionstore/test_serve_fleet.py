"""Two `tlskit serve --session-store redis://...` processes behind an imaginary load
balancer: `openssl s_client` makes a session on one and resumes it on the other."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ..cli.test_serve import PKI, Serve, pki, s_client, serve  # noqa: F401 (fixtures)
from ..support.ports import refused_port
from .conftest import RedisServer


@pytest.mark.parametrize("args", [
    pytest.param(["-tls1_2"], id="tls12-ticket"),
    pytest.param(["-tls1_2", "-no_ticket"], id="tls12-session-id"),
    pytest.param(["-tls1_3"], id="tls13-ticket"),
])
def test_s_client_resumes_on_the_other_server(serve: Callable[..., Serve],  # noqa: F811
                                              pki: PKI, redis_server: RedisServer,  # noqa: F811
                                              tmp_path: Path, args: list[str]) -> None:
    common = ["--cert", str(pki.cert), "--key", str(pki.key),
              "--session-store", redis_server.url]
    one, two = serve(*common), serve(*common)
    sess = tmp_path / "session.pem"
    first = s_client(one.port, pki.root, *args, "-sess_out", str(sess))
    assert first.returncode == 0, first.stderr
    assert "New, TLSv1." in first.stdout
    second = s_client(two.port, pki.root, *args, "-sess_in", str(sess))
    assert second.returncode == 0, second.stderr
    assert "Reused, TLSv1." in second.stdout, second.stdout
    assert "HTTP/1.1 200 OK" in second.stdout
    # The server logs each handshake (written before it answered s_client; a reader
    # thread collects it, so give that thread its turn).
    deadline = time.monotonic() + 10
    while not any(line.rstrip().endswith(" resumed") for line in two.stderr_lines):
        assert time.monotonic() < deadline, two.stderr_lines
        time.sleep(0.01)  # a poll interval


def test_serve_rejects_an_unknown_store(serve: Callable[..., Serve],  # noqa: F811
                                        pki: PKI) -> None:  # noqa: F811
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "tlskit", "serve", "--port", "0",
                           "--cert", str(pki.cert), "--key", str(pki.key),
                           "--session-store", "memcached://x"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2  # a usage error (the CLI's exit codes)
    assert proc.stderr.strip() == ("tlskit serve: --session-store memcached://x: unknown "
                                   "session store 'memcached://x': use memory: or "
                                   "redis://host:port/db")


@pytest.mark.parametrize(("url", "reason"), [
    ("redis://127.0.0.1:{refused}/0", "cannot use it: Error 111 connecting to 127.0.0.1:"),
    ("redis://user:secret@127.0.0.1:{refused}/0", "cannot use it: Error 111 connecting"),
    ("unix:///nonexistent/redis.sock", "cannot use it: Error 2 connecting to "
                                       "/nonexistent/redis.sock"),
    ("redis://127.0.0.1:{refused}/zero", "database 'zero' is not a number"),
    ("redis://[::1/0", "Invalid IPv6 URL"),  # was "error: Invalid IPv6 URL", exit 1
    ("redis://user:secret@[::1/0", "Invalid IPv6 URL"),
])
def test_serve_checks_the_store_before_listening(pki: PKI, url: str,  # noqa: F811
                                                 reason: str) -> None:
    """An unreachable or misspelt store is one line and exit 2 at start, before the
    'listening on' line, not an outage logged at the first handshake; a password in the
    URL is not printed."""
    import subprocess
    import sys

    url = url.format(refused=refused_port())
    proc = subprocess.run([sys.executable, "-m", "tlskit", "serve", "--port", "0",
                           "--cert", str(pki.cert), "--key", str(pki.key),
                           "--session-store", url],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    shown = url.replace(":secret@", ":***@")
    line = proc.stderr.strip()
    assert "\n" not in line and "secret" not in line
    assert line.startswith(f"tlskit serve: --session-store {shown}: "), line
    assert reason in line
