"""ECH GREASE (RFC 9849 6.2, ``ClientConfig.ech_grease``): the extension's shape, the
same one after a retry, servers with and without ECH, and the syntax checks a GREASE
client still makes (decode_error), in memory."""

from __future__ import annotations

from typing import Any

import pytest

from tlskit import ClientConnection, ServerConnection
from tlskit.enums import AlertDescription as AD
from tlskit.errors import TLSError
from tlskit.events import HandshakeComplete
from tlskit.wire import ech

from ..support.ech import ECH_EXT, EchKey, parse_hello
from ..support.pki import client_config, server_config
from ..support.pump import exchange
from ..support.records import HS, record, split_records
from .test_ech_client import (
    _hrr,
    assert_malformed_retry_configs_are_decode_error,
)

NAME = "localhost"


def grease_client(**kw: Any) -> ClientConnection:
    return ClientConnection(client_config(ech_grease=True, **kw), server_name=NAME)


def _hellos(flight: bytes) -> list[bytes]:
    return [r[5:] for r in split_records(flight) if r[0] == HS]


def _ech_ext(hello: bytes) -> bytes:
    return dict(parse_hello(hello[4:])[0]["exts"])[ECH_EXT]


def done(events: list[Any]) -> HandshakeComplete:
    (hc,) = [e for e in events if isinstance(e, HandshakeComplete)]
    return hc


def test_grease_looks_like_an_outer_extension() -> None:
    (hello,) = _hellos(grease_client().data_to_send())
    offer = ech.decode_client_hello_ext(_ech_ext(hello))
    assert offer is not None and offer.cipher_suite == ech.CipherSuite(1, 1)
    assert len(offer.enc) == 32 and len(offer.payload) in (144, 176, 208, 240)
    assert b"localhost" in hello  # GREASE hides nothing: the real name is the SNI


def test_grease_payload_sizes_are_those_of_a_padded_inner_hello() -> None:
    """6.1.3 pads EncodedClientHelloInner to a multiple of 32, so a real payload is 16
    (the AEAD tag) more than one; GREASE's must be too, or its length tells it apart."""
    sizes = set()
    for _ in range(64):
        offer = ech.decode_client_hello_ext(_ech_ext(_hellos(
            grease_client().data_to_send())[0]))
        assert offer is not None
        sizes.add(len(offer.payload))
    assert all((n - 16) % 32 == 0 for n in sizes) and len(sizes) > 1


def test_off_by_default_and_never_beside_a_real_config() -> None:
    (plain,) = _hellos(ClientConnection(client_config(), server_name=NAME).data_to_send())
    assert ECH_EXT not in dict(parse_hello(plain[4:])[0]["exts"])
    key = EchKey.make()
    both = ClientConnection(client_config(ech_grease=True, ech_config_list=key.config_list),
                            server_name=NAME)
    (hello,) = _hellos(both.data_to_send())
    assert b"localhost" not in hello  # the real config wins


@pytest.mark.parametrize("with_keys", [False, True], ids=["plain-server", "ech-server"])
def test_completes_and_ignores_retry_configs(with_keys: bool) -> None:
    """A server with ECH keys cannot open GREASE and sends retry_configs; the GREASE
    client checks them and goes on (6.2), reporting no ECH."""
    key = EchKey.make()
    pairs = [(key.config.encode(), key.private_key.private_bytes_raw())] if with_keys else []
    client_events, server_events = exchange(grease_client(),
                                            ServerConnection(server_config(ech_keys=pairs)))
    assert not done(client_events).ech_accepted and not done(server_events).ech_accepted


def test_the_same_extension_after_a_retry() -> None:
    client = grease_client(groups=["x25519", "secp256r1"])
    server = ServerConnection(server_config(groups=["secp256r1"]))
    first = client.data_to_send()
    server.receive_data(first)
    client.receive_data(server.data_to_send())
    second = client.data_to_send()
    assert _ech_ext(_hellos(first)[0]) == _ech_ext(_hellos(second)[0])
    server.receive_data(second)
    client_events, _ = exchange(client, server)
    assert done(client_events).version == "TLSv1.3"


@pytest.mark.parametrize("body", [bytes(7), bytes(9)])
def test_hrr_confirmation_is_still_checked(body: bytes) -> None:
    client = grease_client()
    (hello,) = _hellos(client.data_to_send())
    with pytest.raises(TLSError) as info:
        client.receive_data(record(HS, _hrr(hello, [(ECH_EXT, body)])))
    assert info.value.alert == AD.decode_error


def test_an_hrr_confirmation_of_the_right_length_is_ignored() -> None:
    client = grease_client(groups=["x25519", "secp256r1"])
    (hello,) = _hellos(client.data_to_send())
    client.receive_data(record(HS, _hrr(hello, [(ECH_EXT, bytes(8))])))
    assert _hellos(client.data_to_send())  # the second hello went out


def test_malformed_retry_configs_are_decode_error() -> None:
    assert_malformed_retry_configs_are_decode_error(grease_client())
