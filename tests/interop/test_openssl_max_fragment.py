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
from .helpers import both_ways_with_s_client, both_ways_with_s_server

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
    client = peers.openssl_client(pki, server.port, "-maxfraglen", str(size), "-tlsextdebug",
                                  version=VERSIONS[version])
    both_ways_with_s_client(client, server, 9000, 6000)
    assert limits == [size]
    assert GRANTED in client.text_since(0), client.describe()


@pytest.mark.parametrize("version", VERSIONS)
def test_tlskit_client_asks_s_server(peers: Peers, pki: PKI, version: str) -> None:
    proc, port = peers.openssl_server(pki, "ec256", "-tlsextdebug", version=VERSIONS[version])
    config = pki.client_config().replace(versions=[version], max_fragment_length=512,
                                         record_size_limit=None)
    hc, pump = both_ways_with_s_server(config, port, proc)
    assert hc.version == version
    assert pump.conn.max_fragment == 512  # granted: s_server echoed it
    assert 'TLS client extension "max fragment length" (id=1), len=1' in proc.text_since(0)
