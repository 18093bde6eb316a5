"""record_size_limit with a TLS 1.2 server (RFC 8449), after tlsfuzzer's
test-record-size-limit.py, whose TLS 1.2 probes found the server ignoring the extension:
a client's limit went unheeded and a malformed one unchecked, where the TLS 1.3 path
honours and checks both.

In TLS 1.2 the limit counts plaintext bytes (no content-type byte) and the protocol
maximum is 2^14, so the server announces min(its limit, 2^14) in ServerHello and keeps
its protected records within the client's limit.
"""

from __future__ import annotations

import pytest

from tlskit import ClientConnection, DataReceived, ServerConnection

from ..support.pump import pump
from ..support.records import split_records
from .peer import Peer, hello12, pki, server_config

E_RECORD_SIZE_LIMIT = 28
AD_ILLEGAL, AD_DECODE = 47, 50
AEAD_OVERHEAD12 = 8 + 16          # explicit nonce and tag of the AES-GCM suites


@pytest.mark.parametrize("body,alert", [
    (b"\x00\x3f", AD_ILLEGAL),     # 63: below the minimum of 64 (RFC 8449 4)
    (b"", AD_DECODE),              # no uint16
    (b"\x00\x40\x00", AD_DECODE),  # a uint16 and a trailing byte
], ids=["63", "empty", "padded"])
def test_malformed_limit_is_refused(body, alert):
    peer = Peer()
    peer.send_hello(hello12(extra=[(E_RECORD_SIZE_LIMIT, body)]))
    peer.expect_alert(alert)


@pytest.mark.parametrize("client_limit", [64, 2**14 + 1, 2**16 - 1])
def test_server_announces_its_tls12_limit(client_limit):
    peer = Peer()
    peer.send_hello(hello12(extra=[(E_RECORD_SIZE_LIMIT, client_limit.to_bytes(2, "big"))]))
    assert peer.error is None, peer.error
    sh = peer.server_hello()
    assert sh.extensions[E_RECORD_SIZE_LIMIT] == (2**14).to_bytes(2, "big")


def test_no_limit_announced_to_a_client_without_one():
    peer = Peer()
    peer.send_hello(hello12())
    assert E_RECORD_SIZE_LIMIT not in peer.server_hello().extensions


def test_server_keeps_its_records_within_the_client_limit():
    client = ClientConnection(pki().ca.client_config(versions=["TLSv1.2"],
                                                     record_size_limit=64),
                              server_name="localhost")
    server = ServerConnection(server_config())
    pump(client, server)
    assert client.handshake_complete and server.handshake_complete
    payload = bytes(range(256)) * 4
    server.send_data(payload)
    wire = server.data_to_send()
    app_records = [r for r in split_records(wire) if r[0] == 23]
    assert len(app_records) == -(-len(payload) // 64)
    assert all(len(r) - 5 <= 64 + AEAD_OVERHEAD12 for r in app_records)
    events = client.receive_data(wire)
    assert b"".join(e.data for e in events if isinstance(e, DataReceived)) == payload
