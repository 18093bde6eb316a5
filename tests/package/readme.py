"""The README's code blocks, and a lab to run them verbatim on 127.0.0.1.

The README talks to example.com:443, trusts the system store and names a few objects it
does not define (``root_cert``, ``leaf``, ...). The lab supplies exactly those: a local CA
whose root is the "system" store (SSL_CERT_FILE), a tlskit HTTPS server holding a
certificate for example.com and localhost (with an OCSP responder), the routes
example.com:443 -> that server, and the certificate objects as plain variables.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tlskit import ServerConfig
from tlskit.ca import LocalCA
from tlskit.io import TLSServer

from ..support.ct import SigningLog
from ..support.pump import serving

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BODY = b"hello from the README lab\n"


# Pages whose code runs as tests, like the README's. (compat.md's and http-clients.md's
# blocks run against nginx in tests/compat/test_docs.py; uvicorn.md's needs an app module
# and uvicorn's port, and tests/compat covers serving uvicorn with a tlskit context;
# ech.md's run against `tlskit serve --ech` in tests/cli/test_ech_doc.py.)
DOC_PAGES = [ROOT / "docs" / name for name in ("index.md", "debug.md", "certificates.md")]


@dataclass
class Block:
    lang: str
    code: str
    path: Path
    line: int  # where it starts, for failure messages

    @property
    def label(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(lang: str, path: Path = README) -> list[Block]:
    """The fenced code blocks of one language, in order."""
    found = []
    text = path.read_text()
    for match in re.finditer(r"^```(\w+)\n(.*?)^```$", text, re.S | re.M):
        if match.group(1) == lang:
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(lang, match.group(2), path, line))
    return found


# What the README's Python needs from outside itself, at run time and for mypy.
RUNTIME_FIXTURES = '''\
from datetime import UTC as _UTC, datetime as _datetime, timedelta as _timedelta
from pathlib import Path as _Path
from cryptography import x509 as _x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key as _load_key
_lab = _Path({lab!r})
root_cert = _x509.load_pem_x509_certificate((_lab / "root.pem").read_bytes())
leaf, intermediate = _x509.load_pem_x509_certificates((_lab / "cert.pem").read_bytes())
intermediates = [intermediate]
key = _load_key((_lab / "k.pem").read_bytes(), None)
t0 = _datetime.now(_UTC) - _timedelta(days=30)  # a validity period in the past
t1 = t0 + _timedelta(days=1)
'''

TYPED_FIXTURES = '''\
from datetime import datetime
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
root_cert: x509.Certificate
leaf: x509.Certificate
intermediate: x509.Certificate
intermediates: list[x509.Certificate]
key: PrivateKeyTypes
t0: datetime
t1: datetime
'''

# Loaded by every Python process the lab starts (PYTHONPATH): routes the README's host
# names to the lab server and lets `tlskit serve` and `tlskit ca ocsp` take any free port
# instead of 8443 and 8888.
SITECUSTOMIZE = '''\
import json as _json, os as _os, socket as _socket
_routes = _json.loads(_os.environ.get("README_LAB_ROUTES", "{}"))
_binds = _json.loads(_os.environ.get("README_LAB_BINDS", "{}"))
_getaddrinfo, _bind = _socket.getaddrinfo, _socket.socket.bind

def _routed(host, port, *args, **kwargs):
    target = _routes.get(f"{host}:{port}")
    if target is not None:
        host, port = "127.0.0.1", target
    return _getaddrinfo(host, port, *args, **kwargs)

def _bound(self, address):
    if isinstance(address, tuple) and str(address[1]) in _binds:
        address = (address[0], _binds[str(address[1])], *address[2:])
    return _bind(self, address)

_socket.getaddrinfo = _routed
_socket.socket.bind = _bound
'''


class _Page(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection, closed after the reply

    def do_GET(self) -> None:
        # One write, so one record: the README's single recv() sees the whole answer.
        self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY))
        self.server.requests.append(self.path)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Lab:
    directory: Path
    port: int
    ca: LocalCA
    requests: list[str] = field(default_factory=list)

    def env(self, state: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(self.directory / "site"), env.get("PYTHONPATH")) if p)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
        env["SSL_CERT_FILE"] = str(self.directory / "root.pem")  # the "system" store
        env["README_LAB_ROUTES"] = json.dumps({"example.com:443": self.port,
                                               "localhost:8443": self.port})
        env["README_LAB_BINDS"] = json.dumps({"8443": 0, "8888": 0})
        env["TLSKIT_STATE_DIR"] = str(state or self.directory / "state")
        env.pop("SSLKEYLOGFILE", None)
        env.pop("NO_COLOR", None)
        return env


def start_lab(directory: Path) -> Iterator[Lab]:
    ca = LocalCA.create(None)
    pem = serialization.Encoding.PEM
    with ca.serve_ocsp() as responder:
        issued = ca.issue_server(["example.com", "localhost", "127.0.0.1"],
                                 ocsp_url=responder.url)
        # The "system" store holds the issuing CA too: `tlskit verify --ocsp` then needs
        # revocation answers for the leaf alone, which the CA's OCSP responder gives.
        (directory / "root.pem").write_bytes(ca.export_root_pem()
                                             + ca.intermediate.public_bytes(pem))
        chain_pem = b"".join(c.public_bytes(pem) for c in issued.chain)
        for name in ("cert.pem", "c.pem", "chain.pem"):
            (directory / name).write_bytes(chain_pem)
        (directory / "k.pem").write_bytes(issued.private_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        log = SigningLog("lab log")  # docs/certificates.md: an SCT for cert.pem's leaf
        (directory / "cert.sct").write_bytes(log.sct(issued.certificate))
        (directory / "ct-log.pem").write_bytes(log.key.public_key().public_bytes(
            pem, serialization.PublicFormat.SubjectPublicKeyInfo))
        (directory / "site").mkdir()
        (directory / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
        server = TLSServer(("127.0.0.1", 0), _Page, ServerConfig(
            certificate_chain=issued.chain, private_key=issued.private_key))
        lab = Lab(directory, server.server_address[1], ca)
        server.requests = lab.requests  # type: ignore[attr-defined]
        with serving(server):
            yield lab
