"""lighttpd in the foreground as a TLS server with one of its TLS modules (mod_wolfssl:
wolfSSL; mod_mbedtls: mbedTLS), each session with its own directory and minimal config.

lighttpd serves a small file and a CGI script that prints the TLS parameters lighttpd
puts in a CGI environment (HTTPS, SSL_PROTOCOL, SSL_CIPHER): the server's own view of the
handshake, fetched over the connection it describes. Its error log holds what the module
says about a failed handshake.

lighttpd cannot bind port 0 (it takes 443 instead), so it starts on a port the OS just
called free and is retried when another process took that port first
(`start_on_free_port`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tlskit import ClientConfig, HandshakeComplete

from ..support.peers import PeerProcess
from ..support.ports import TIMEOUT, PortTaken, listening_port, start_on_free_port
from ..support.pump import Pump
from .conftest import Peers

PAGE = b"hello from lighttpd\n"
# The CGI: what the TLS module told lighttpd about this connection.
TLS_SCRIPT = """printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'https=%s protocol=%s cipher=%s\\n' "$HTTPS" "$SSL_PROTOCOL" "$SSL_CIPHER"
"""
CONF = """server.modules += ("{module}", "mod_cgi")
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{log}"
cgi.assign = (".sh" => "/bin/sh")
ssl.engine = "enable"
ssl.pemfile = "{cert}"
ssl.privkey = "{key}"
"""
_TLS_LINE = re.compile(rb"https=(\w+) protocol=(\S+) cipher=(\S+)")
MODULE_FILES = {"mod_wolfssl": Path("/usr/lib/lighttpd/mod_wolfssl.so"),
                "mod_mbedtls": Path("/usr/lib/lighttpd/mod_mbedtls.so")}


@dataclass
class Lighttpd:
    proc: PeerProcess
    port: int
    directory: Path

    @property
    def error_log(self) -> str:
        log = self.directory / "error.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def wait_logged(self, pattern: str) -> re.Match[str]:
        """The first match of ``pattern`` in the error log (lighttpd writes it as the
        connection ends, which may be just after our side saw the end)."""
        found: re.Match[str] = self.proc.wait_until(
            lambda: re.search(pattern, self.error_log), f"{pattern!r} in the error log",
            timeout=TIMEOUT)
        return found


def start_lighttpd(peers: Peers, directory: Path, module: str, cert: Path, key: Path,
                   conf_cmd: dict[str, str] | None = None) -> Lighttpd:
    """lighttpd with ``module`` serving ``cert`` (a full chain) on 127.0.0.1; ``conf_cmd``
    becomes ``ssl.openssl.ssl-conf-cmd`` (MinProtocol, MaxProtocol, CipherString...)."""
    assert MODULE_FILES[module].exists(), \
        f"{MODULE_FILES[module]} is missing (run .ci/install-test-deps.sh)"
    root = directory / "www"
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.txt").write_bytes(PAGE)
    (root / "tls.sh").write_text(TLS_SCRIPT)
    extra = ""
    if conf_cmd:
        pairs = ", ".join(f'"{k}" => "{v}"' for k, v in conf_cmd.items())
        extra = f"ssl.openssl.ssl-conf-cmd = ({pairs})\n"

    def start(port: int) -> Lighttpd:
        conf = directory / "lighttpd.conf"
        conf.write_text(CONF.format(module=module, root=root, port=port, cert=cert, key=key,
                                    log=directory / "error.log") + extra)
        proc = peers.start(["lighttpd", "-D", "-f", conf])

        def bound() -> bool:
            try:
                return listening_port(proc.pid, timeout=0) == port
            except TimeoutError:
                return False

        try:
            proc.wait_until(bound, f"lighttpd listening on port {port}")
        except AssertionError:
            proc.wait()  # and its output read to the end
            if "Address already in use" in proc.stderr:
                raise PortTaken from None
            raise
        return Lighttpd(proc, port, directory)

    return start_on_free_port(start)


def get(pump: Pump, path: str) -> tuple[bytes, bytes]:
    """``GET path`` over an established connection (Connection: close): the response
    head and body, read until lighttpd closes."""
    pump.send(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    head, _, body = pump.read_to_eof().partition(b"\r\n\r\n")
    return head, body


def server_view(body: bytes) -> tuple[str, str]:
    """(protocol, cipher) as the TLS module reported them to lighttpd's CGI."""
    found = _TLS_LINE.search(body)
    assert found and found.group(1) == b"on", body
    return found.group(2).decode(), found.group(3).decode()


def fetch_tls_view(config: ClientConfig, port: int) -> tuple[HandshakeComplete, tuple[str, str]]:
    """Handshake, GET the CGI that prints the TLS module's view (protocol, cipher),
    read until lighttpd closes."""
    pump = Pump.connect(config, port)
    try:
        hc = pump.handshake()
        head, body = get(pump, "/tls.sh")
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert pump.closed_event is not None and pump.closed_event.alert is None
    finally:
        pump.dispose()
    return hc, server_view(body)
