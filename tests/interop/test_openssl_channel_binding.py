"""Channel bindings against `openssl`: RFC 9266 tls-exporter is OpenSSL's exporter with
the label "EXPORTER-Channel-Binding" and 32 bytes (`-keymatexport`, printed by s_client
and s_server), both ways, in TLS 1.3. In TLS 1.2 (with the extended master secret,
OpenSSL 3's default) the CLI exports with no context, not RFC 9266's zero-length one,
so there only tls-server-end-point is compared (tests/interop/test_gnutls12.py checks
the 1.2 tls-exporter against GnuTLS's own binding). tls-server-end-point is the SHA-256
of the leaf's DER (the test CA signs with ECDSA-SHA256), computed here with hashlib."""

from __future__ import annotations

import hashlib
import re
import socket

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tlskit.io import TLSSocket, connect

from ..support.pump import ServerThread
from .conftest import PKI, Peers

EXPORT = ["-keymatexport", "EXPORTER-Channel-Binding", "-keymatexportlen", "32"]
VERSIONS = pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"], ids=["tls13", "tls12"])


def _keying_material(text: str) -> bytes:
    """The value OpenSSL printed under "Keying material exporter:"."""
    block = text[text.index("Keying material exporter:"):]
    assert "Label: 'EXPORTER-Channel-Binding'" in block and "Length: 32 bytes" in block
    found = re.search(r"Keying material: ([0-9A-Fa-f]+)", block)
    assert found is not None, block
    return bytes.fromhex(found.group(1))


def _leaf_hash(pki: PKI) -> bytes:
    return hashlib.sha256(pki.issued["ec256"].certificate.public_bytes(Encoding.DER)).digest()


@VERSIONS
def test_s_client_exporter_matches_tlskit_server(peers: Peers, pki: PKI, version: str) -> None:
    from tlskit import ServerConnection

    def handle(sock: socket.socket) -> dict[str, object]:
        tls = TLSSocket(sock, ServerConnection(pki.server_config()), server_side=True,
                        handshake_timeout=30)
        try:
            tls.do_handshake()
            return {"version": tls.version(),
                    "exporter": tls.channel_binding("tls-exporter"),
                    "end-point": tls.channel_binding("tls-server-end-point")}
        finally:
            tls.close()

    server = peers.thread(ServerThread(handle))
    client = peers.openssl_client(pki, server.port, *EXPORT, "-ign_eof", version=version)
    client.close_stdin()
    assert client.wait() == 0, client.describe()
    [got] = server.join()
    assert got["version"] == ("TLSv1.3" if version == "-tls1_3" else "TLSv1.2")
    if version == "-tls1_3":  # (in 1.2 the CLI's value has no context: see above)
        assert got["exporter"] == _keying_material(client.stdout)
    assert got["end-point"] == _leaf_hash(pki)


@VERSIONS
def test_tlskit_client_exporter_matches_s_server(peers: Peers, pki: PKI, version: str) -> None:
    proc, port = peers.openssl_server(pki, "ec256", *EXPORT, version=version)
    with connect("127.0.0.1", port, pki.client_config(), server_name="localhost",
                 timeout=30) as tls:
        exporter = tls.channel_binding("tls-exporter")
        end_point = tls.channel_binding("tls-server-end-point")
        tls.sendall(b"done\n")
        proc.wait_for("done")
    if version == "-tls1_3":
        assert exporter == _keying_material(proc.stdout)
    assert end_point == _leaf_hash(pki)
