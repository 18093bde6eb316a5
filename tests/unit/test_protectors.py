"""The per-direction record protectors: established connections are freed by reference
counting alone, keys come from traffic secrets held by the record layer (KeyUpdate derives
the next generation there), TLS 1.2 nonces, and the zero-copy `open_app_into`."""

from __future__ import annotations

import dataclasses
import gc
import struct
import weakref
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from tlskit import (
    ClientConfig,
    ClientConnection,
    DataReceived,
    KeyUpdated,
    ServerConfig,
    ServerConnection,
)
from tlskit.ca import LocalCA
from tlskit.crypto import SUITES, SUITES12
from tlskit.enums import CipherSuite
from tlskit.errors import UnexpectedMessage
from tlskit.keyschedule import next_traffic_secret, traffic_keys
from tlskit.record import FORGED, HELD, Opener12, Opener13, RecordLayer, Sealer12, Sealer13

from ..support.records import split_records

SUITE = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
SECRET = bytes(range(32))


@pytest.fixture(scope="module")
def configs() -> dict[str, tuple[ClientConfig, ServerConfig]]:
    """Built once, as an application would (configs hold caches that may form cycles)."""
    ca = LocalCA.create(directory=None)
    issued = ca.issue_server(["localhost"])
    server = ServerConfig(certificate_chain=issued.chain, private_key=issued.private_key)
    return {v: (ClientConfig(trust_anchors=[ca.root], versions=[v]), server)
            for v in ("TLSv1.3", "TLSv1.2")}


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def connected(client_cfg: ClientConfig, server_cfg: ServerConfig
              ) -> tuple[ClientConnection, ServerConnection]:
    client = ClientConnection(client_cfg, server_name="localhost")
    server = ServerConnection(server_cfg)
    for _ in range(8):
        server.receive_data(client.data_to_send())
        client.receive_data(server.data_to_send())
    assert client.handshake_complete and server.handshake_complete
    return client, server


def exchange(client: ClientConnection, server: ServerConnection) -> None:
    """Data both ways over the bulk paths and the general path (several records)."""
    for i in range(3):
        client.send_data(b"ping %d" % i)
        assert server.receive_data(client.data_to_send()) == [DataReceived(b"ping %d" % i)]
        server.send_data(bytes(20000))
        assert b"".join(e.data for e in client.receive_data(server.data_to_send())) \
            == bytes(20000)  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_established_connection_is_freed_by_reference_counting_alone(configs, version, no_gc):
    client, server = connected(*configs[version])
    assert client.version == version
    exchange(client, server)
    if version == "TLSv1.3":
        client.update_keys()
        assert server.receive_data(client.data_to_send()) == [KeyUpdated(True)]
        client.receive_data(server.data_to_send())
    refs = [weakref.ref(client), weakref.ref(server)]
    del client, server
    assert [r() for r in refs] == [None, None]  # no garbage collector needed


def test_record_layer_with_keys_is_freed_by_reference_counting_alone(no_gc):
    w, r = RecordLayer(), RecordLayer()
    w.install_write(SUITE, SECRET)
    r.install_read(SUITE, SECRET)
    w.write(23, bytes(40000))
    assert w.sealer is not None and w.sealer.send_app(b"bulk")
    w.write(23, b"padded", padding=10)  # the bulk path holds this for the general path
    data = w.take_output()
    assert r.opener is not None
    contents, used = r.opener.open_app(data)
    assert b"".join(contents) == bytes(40000) + b"bulk" and used == len(data)
    assert r.opener.opened == b"padded\x17" + bytes(10)  # opened once, held
    r.feed(data[used:])
    assert r.next_record() == (23, b"padded") and r.opener.opened is None
    w.update_write()
    r.update_read()
    refs = [weakref.ref(w), weakref.ref(r)]
    del w, r
    assert [x() for x in refs] == [None, None]


def test_record_layer_derives_keys_from_the_secret_it_holds():
    w, r = RecordLayer(), RecordLayer()
    w.install_write(SUITE, SECRET)
    r.install_read(SUITE, SECRET)
    assert w.write_secret == r.read_secret == SECRET
    keys = traffic_keys(SUITE, SECRET)
    w.write(23, b"hello")
    rec = w.take_output()
    assert AESGCM(keys.key).decrypt(keys.iv, rec[5:], rec[:5]) == b"hello\x17"
    r.feed(rec)
    assert r.next_record() == (23, b"hello")


def test_key_update_derives_the_next_generation_in_the_record_layer():
    w, r = RecordLayer(), RecordLayer()
    w.install_write(SUITE, SECRET)
    r.install_read(SUITE, SECRET)
    w.write(23, b"one")
    r.feed(w.take_output())
    assert r.next_record() == (23, b"one")
    nxt = next_traffic_secret(SUITE, SECRET)
    assert w.update_write() == nxt == w.write_secret
    assert r.update_read() == nxt == r.read_secret
    assert w.write_sequence == 0
    w.write(23, b"two")
    rec = w.take_output()
    keys = traffic_keys(SUITE, nxt)  # sequence numbers restart at 0 under the new key
    assert AESGCM(keys.key).decrypt(keys.iv, rec[5:], rec[:5]) == b"two\x17"
    r.feed(rec)
    assert r.next_record() == (23, b"two")


def test_limits_carry_over_to_later_keys():
    layer = RecordLayer()
    layer.send_limit = 100
    layer.receive_limit = 200
    layer.install_write(SUITE, SECRET)
    layer.install_read(SUITE, SECRET)
    assert layer.sealer is not None and layer.sealer.limit == 100
    assert layer.opener is not None and layer.opener.limit == 200
    layer.update_write()
    layer.update_read()
    assert layer.sealer.limit == 100 and layer.opener.limit == 200
    layer.write(23, bytes(250))
    sizes = [len(r) for r in split_records(layer.take_output())]
    assert sizes == [5 + 101 + 16] * 2 + [5 + 51 + 16]


def test_key_update_needs_tls13_keys():
    layer = RecordLayer()
    with pytest.raises(UnexpectedMessage):
        layer.update_write()
    layer.install_read12(SUITES12[CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256],
                         bytes(16), bytes(4))
    with pytest.raises(UnexpectedMessage):
        layer.update_read()


def test_rekey_is_due_after_the_configured_number_of_records():
    layer = RecordLayer()
    layer.install_write(SUITE, SECRET)
    layer.rekey_after = 2
    assert layer.sealer is not None
    assert layer.sealer.send_app(b"a") and layer.sealer.send_app(b"b")
    assert layer.rekey_due and not layer.sealer.send_app(b"c")  # the caller rekeys first


# --- TLS 1.2 (RFC 5288 3, RFC 7905 2) ----------------------------------------------------

def sealed12(sealer: Sealer12, seq: int, ctype: int, plain: bytes) -> list[bytes]:
    """What ``sealer`` writes for one record at sequence ``seq``: header, explicit nonce,
    ciphertext and tag."""
    sealer.seq = seq
    out: list[bytes] = []
    sealer.out = out
    sealer.seal(ctype, plain)
    return out


def test_tls12_gcm_nonce_is_salt_and_explicit_sequence_number():
    suite = SUITES12[CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
    salt = b"\x01\x02\x03\x04"
    header, explicit, body = sealed12(Sealer12(suite, bytes(16), salt), 7, 23, b"data")
    assert explicit == (7).to_bytes(8, "big")
    aad = struct.pack(">QBHH", 7, 23, 0x0303, 4)
    assert AESGCM(bytes(16)).decrypt(salt + explicit, body, aad) == b"data"
    assert header == struct.pack(">BHH", 23, 0x0303, 8 + 4 + 16)
    opener = Opener12(suite, bytes(16), salt)
    opener.seq = 7
    opener.check(len(explicit + body))
    assert opener.finish(23, opener.open(header, explicit + body)) == (23, b"data")


def test_tls12_chacha_nonce_is_iv_xor_sequence_number():
    suite = SUITES12[CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]
    iv = bytes(range(12))
    _, explicit, body = sealed12(Sealer12(suite, bytes(32), iv), 5, 21, b"\x01\x00")
    assert explicit == b""
    nonce = bytes(a ^ b for a, b in zip(iv, (5).to_bytes(12, "big"), strict=True))
    aad = struct.pack(">QBHH", 5, 21, 0x0303, 2)
    assert ChaCha20Poly1305(bytes(32)).decrypt(nonce, body, aad) == b"\x01\x00"


# --- the zero-copy read path ---------------------------------------------------------------

def sealed(inner: bytes, seq: int = 0) -> bytes:
    keys = traffic_keys(SUITE, SECRET)
    nonce = (int.from_bytes(keys.iv, "big") ^ seq).to_bytes(12, "big")
    header = struct.pack(">BHH", 23, 0x0303, len(inner) + 16)
    return header + AESGCM(keys.key).encrypt(nonce, inner, header)


def test_open_app_into_decrypts_into_the_callers_buffer():
    opener = Opener13.from_secret(SUITE, SECRET)
    buf = bytearray(100)
    assert opener.open_app_into(sealed(b"payload\x17"), memoryview(buf)) == 7
    assert buf[:7] == b"payload" and opener.seq == 1
    assert opener.open_app_into(sealed(b"second\x17", 1), memoryview(buf)) == 6
    assert buf[:6] == b"second" and opener.seq == 2


@pytest.mark.parametrize("inner", [
    b"hs\x16",           # a handshake message: the general path interprets it
    b"padded\x17\x00",   # padding: the general path strips it
])
def test_open_app_into_holds_other_records_for_the_general_path(inner):
    """Opened once: consumed, its plaintext held (a copy), nothing left in `buf`."""
    opener = Opener13.from_secret(SUITE, SECRET)
    buf = bytearray(100)
    assert opener.open_app_into(sealed(inner), memoryview(buf)) == HELD
    assert opener.seq == 1 and buf == bytearray(100) and opener.opened == inner


def test_open_app_into_leaves_a_record_the_buffer_cannot_hold_unopened():
    opener = Opener13.from_secret(SUITE, SECRET)
    buf = bytearray(8)
    assert opener.open_app_into(sealed(b"too long\x17"), memoryview(buf)) == -1
    assert opener.seq == 0 and buf == bytearray(8) and opener.opened is None


def test_open_app_into_leaves_no_unauthentic_plaintext():
    opener = Opener13.from_secret(SUITE, SECRET)
    rec = bytearray(sealed(b"secret message\x17"))
    rec[-1] ^= 1  # the tag fails; the AEAD has already written the plaintext
    buf = bytearray(64)
    assert opener.open_app_into(bytes(rec), memoryview(buf)) == HELD  # for its alert
    assert buf == bytearray(64) and opener.seq == 0 and opener.opened == FORGED


def test_bulk_send_matches_the_general_path():
    bulk, general = Sealer13.from_secret(SUITE, SECRET), Sealer13.from_secret(SUITE, SECRET)
    assert bulk.send_app(b"same bytes")
    general.seal(23, b"same bytes")
    assert b"".join(bulk.out) == b"".join(general.out)  # the same record on the wire
    assert not bulk.send_app(b"") and not bulk.send_app(bytes(bulk.limit + 1))


def test_cipher_contexts_are_made_at_the_first_record(configs):
    """Keys that never protect a record cost no AEAD context (about 2.3 KiB each)."""
    client_cfg, server_cfg = configs["TLSv1.3"]
    client, server = connected(client_cfg, dataclasses.replace(server_cfg, session_tickets=0))
    for conn in (client, server):
        assert conn._records.sealer is not None and conn._records.opener is not None
    # No tickets were sent: the client has not read, nor the server written, yet.
    assert client._records.opener._aead is None  # type: ignore[union-attr]
    client.send_data(b"first")
    assert client._records.sealer._aead is not None  # type: ignore[union-attr]
    assert server._records.opener._aead is None  # type: ignore[union-attr]
    assert server.receive_data(client.data_to_send()) == [DataReceived(b"first")]
    assert server._records.opener._aead is not None  # type: ignore[union-attr]
    assert server._records.opener._key == b""  # the raw key is dropped once used
