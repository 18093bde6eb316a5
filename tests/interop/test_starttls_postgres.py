"""`tlskit connect --starttls postgres` and `tlskit.connect(starttls="postgres")` against a
real PostgreSQL server (ssl = on, the test PKI's leaf), run as the postgres user on
127.0.0.1."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import tlskit

from ..support.peers import require_postgres
from ..support.ports import PortTaken, listening_port, start_on_free_port
from ..support.tlskit_cli import connect_starttls_json
from .conftest import PKI

pytestmark = pytest.mark.interop


def _as_postgres() -> dict[str, int]:
    """subprocess's user/group for the postgres account (initdb and postgres refuse root)."""
    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid}


@pytest.fixture(scope="module")
def postgres(pki: PKI) -> Iterator[int]:
    """A PostgreSQL cluster in a fresh directory (the postgres user cannot enter pytest's
    root-only tmp_path), ssl = on with the PKI's ec256 leaf; yields its port."""
    binary = require_postgres("postgres")
    initdb = require_postgres("initdb")
    base = Path(tempfile.mkdtemp(prefix="tlskit-pg-"))
    ids = _as_postgres()
    os.chown(base, ids["user"], ids["group"])
    data = base / "data"
    subprocess.run([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True, timeout=120, **ids)
    files = pki.files["ec256"]
    for src, name in ((files.fullchain, "server.crt"), (files.key, "server.key")):
        shutil.copyfile(src, data / name)
        os.chown(data / name, ids["user"], ids["group"])
        os.chmod(data / name, 0o600)

    def start(port: int) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [binary, "-D", str(data), "-c", f"port={port}", "-c", "listen_addresses=127.0.0.1",
             "-c", f"unix_socket_directories={base}", "-c", "ssl=on"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            **ids)
        try:
            listening_port(proc.pid)
        except AssertionError:
            proc.kill()
            err = proc.communicate(timeout=30)[1].decode(errors="replace")
            if "could not bind" in err or "Address already in use" in err:
                raise PortTaken from None
            raise AssertionError(err) from None
        return proc

    proc = start_on_free_port(start)
    try:
        yield listening_port(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(base, ignore_errors=True)


def test_tlskit_connect_starttls_postgres(postgres: int, pki: PKI) -> None:
    summary = connect_starttls_json(postgres, "postgres", pki.root_pem)
    assert summary["starttls"] == "postgres"
    assert summary["verification"]["ok"] is True
    assert summary["version"] == "TLSv1.3"


def test_library_starttls_postgres_then_startup_over_tls(postgres: int, pki: PKI) -> None:
    """After the handshake the PostgreSQL session goes on over TLS: a StartupMessage
    gets AuthenticationOk (trust) from the real server."""
    startup = b"\x00\x03\x00\x00user\x00postgres\x00database\x00postgres\x00\x00"
    with tlskit.connect("127.0.0.1", postgres, pki.client_config(), server_name="localhost",
                        starttls="postgres", timeout=30) as tls:
        tls.sendall((len(startup) + 4).to_bytes(4, "big") + startup)
        answer = tls.recv(9)
    assert answer[:1] == b"R" and answer[5:9] == b"\x00\x00\x00\x00"  # AuthenticationOk


def test_psql_without_ssl_is_told_why() -> None:
    """psql with sslmode=disable against starttls_accept: an ErrorResponse (as a server with
    hostssl-only pg_hba.conf), so psql says why instead of "server closed the connection
    unexpectedly"."""
    import socket
    import threading

    psql = require_postgres("psql")
    errors: list[Exception] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                try:
                    tlskit.starttls_accept(conn, "postgres", timeout=20)
                except tlskit.StartTLSError as exc:
                    errors.append(exc)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        run = subprocess.run([psql, f"host=127.0.0.1 port={port} sslmode=disable user=x "
                                    "dbname=x", "-c", "select 1"],
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PGCONNECT_TIMEOUT": "20"})
        thread.join(20)
    assert run.returncode == 2
    assert ("FATAL:  tlskit serve takes encrypted connections only: connect with "
            "sslmode=require") in run.stderr
    assert len(errors) == 1
    assert "startup packet without SSLRequest" in str(errors[0])
