"""max_fragment_length (RFC 6066 4) with OpenSSL, which implements it on both sides (and
has no record_size_limit): `s_client -maxfraglen` asks a tlskit server for small records,
and a tlskit client with `max_fragment_length` asks `s_server`. OpenSSL enforces the
granted length on what it receives (a longer record is a record_overflow), so a whole
conversation of more than one fragment each way shows both sides keep to it;
-tlsextdebug shows the extension was granted."""

from __future__ import annotations

import pytest

from ..support.pump import Pump, echo_until_close, tlskit_server
from .conftest import PKI, Peers
from .helpers import both_ways_with_s_server

pytestmark = pytest.mark.interop

GRANTED = 'TLS server extension "max fragment length" (id=1), len=1'
VERSIONS = {"TLSv1.3": "-tls1_3", "TLSv1.2": "-tls1_2"}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("size", [512, 4096])
def test_s_client_asks_a_tlskit_server(peers: Peers, pki: PKI, version: str,
                                       size: int) -> None:
    limits: list[int] = []

    def body(pump: Pump) -> int:
        pump.handshake()
        limits.append(pump.conn.max_fragment)
        pump.send(b"d" * 9000 + b"\n")
        return echo_until_close(pump)

    server = peers.thread(tlskit_server(pki.server_config("rsa2048").replace(
        versions=[version]), body))
    client = peers.start([
        "openssl", "s_client", VERSIONS[version], "-connect", f"127.0.0.1:{server.port}",
        "-servername", "localhost", "-verify_hostname", "localhost", "-CAfile", pki.root_pem,
        "-verify_return_error", "-maxfraglen", str(size), "-tlsextdebug"])
    client.wait_for(b"d" * 9000 + b"\n")
    client.write(b"u" * 6000 + b"\n")
    client.wait_for(b"u" * 6000 + b"\n")
    client.close_stdin()
    assert server.join() == [6001]
    assert client.wait() == 0, client.describe()
    assert limits == [size]
    assert GRANTED in client.text_since(0), client.describe()


@pytest.mark.parametrize("version", VERSIONS)
def test_tlskit_client_asks_s_server(peers: Peers, pki: PKI, version: str) -> None:
    files = pki.files["ec256"]
    proc, port = peers.openssl_s_server(VERSIONS[version], "-cert", files.leaf, "-cert_chain",
                                        files.chain, "-key", files.key, "-tlsextdebug")
    config = pki.client_config().replace(versions=[version], max_fragment_length=512,
                                         record_size_limit=None)
    hc, pump = both_ways_with_s_server(config, port, proc)
    assert hc.version == version
    assert pump.conn.max_fragment == 512  # granted: s_server echoed it
    assert 'TLS client extension "max fragment length" (id=1), len=1' in proc.text_since(0)
