"""`tlskit.generate_ech_key` and `tlskit.EchKey`: the config decodes to what was asked,
the list round-trips, a tlskit client given the list and a tlskit server given the pair
complete with ECH accepted (in memory), `EchKey.load` reads `bssl-tool`-style bytes back
and refuses mismatched ones, and bad public names or values are ValueErrors."""

from __future__ import annotations

import pytest

import tlskit
from tlskit import ClientConnection, EchKey, ServerConnection, generate_ech_key
from tlskit.events import HandshakeComplete
from tlskit.handshake.ech import parse_config_list
from tlskit.wire import ech

from ..support.pki import client_config, server_config
from ..support.pump import exchange


def test_the_config_decodes_to_what_was_asked() -> None:
    key = generate_ech_key("Public.Example", 7, max_name_length=42)
    (config,) = ech.decode_config_list(key.config_list)
    assert config.encode() == key.config
    assert config.version == 0xFE0D and config.config_id == key.config_id == 7
    assert config.kem_id == 0x0020 and config.maximum_name_length == 42
    assert config.public_name == b"public.example" and key.public_name == "public.example"
    assert config.cipher_suites == (ech.CipherSuite(1, 1), ech.CipherSuite(1, 3))
    assert len(key.private_key) == 32 and key.pair == (key.config, key.private_key)
    assert ech.encode_config_list([config]) == key.config_list
    assert parse_config_list(key.config_list)[0] == config  # a client can use it
    assert key.private_key.hex() not in repr(key)


def test_config_ids_are_random_and_keys_fresh() -> None:
    keys = [generate_ech_key("public.example") for _ in range(16)]
    assert len({k.config_id for k in keys}) > 1
    assert len({k.private_key for k in keys}) == 16


def test_suites_can_be_chosen() -> None:
    key = generate_ech_key("public.example", 1, suites=[(3, 2)])
    (config,) = ech.decode_config_list(key.config_list)
    assert config.cipher_suites == (ech.CipherSuite(3, 2),)


@pytest.mark.parametrize("suites", [[(1, 1), (0x00FF, 1)], [(1, 0xFFFF)], []])
def test_unsupported_suites_are_refused(suites: list[tuple[int, int]]) -> None:
    with pytest.raises(ValueError, match="suites must be"):
        generate_ech_key("public.example", suites=suites)


def _complete(events: list[object]) -> HandshakeComplete:
    (hc,) = [e for e in events if isinstance(e, HandshakeComplete)]
    return hc


@pytest.mark.parametrize("suites", [None, [(1, 3)]], ids=["default", "chacha"])
def test_a_tlskit_client_and_server_accept_ech_with_it(
        suites: list[tuple[int, int]] | None) -> None:
    key = (generate_ech_key("public.example") if suites is None
           else generate_ech_key("public.example", suites=suites))
    client = ClientConnection(client_config(ech_config_list=key.config_list),
                              server_name="localhost")
    server = ServerConnection(server_config(ech_keys=[key.pair]))
    client_events, server_events = exchange(client, server)
    for hc in (_complete(client_events), _complete(server_events)):
        assert hc.ech_accepted and hc.server_name == "localhost"


def test_load_reads_a_config_and_key_back() -> None:
    made = generate_ech_key("public.example", 9)
    assert EchKey.load(made.config, made.private_key) == made


def test_load_refuses_a_key_that_is_not_the_configs() -> None:
    one, other = generate_ech_key("public.example"), generate_ech_key("public.example")
    with pytest.raises(ValueError, match="does not match the config's public key"):
        EchKey.load(one.config, other.private_key)
    with pytest.raises(ValueError, match="not one ECHConfig"):
        EchKey.load(b"garbage", one.private_key)


@pytest.mark.parametrize("name", ["127.0.0.1", "::1", "[::1]", "2001:db8::1"])
def test_an_ip_address_is_not_a_public_name(name: str) -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        generate_ech_key(name)


@pytest.mark.parametrize("name", [
    "", "a..b", "trailing.", "_x.example.com", "host.123", "10.0.0.300.1", "caf\u00e9.example",
    "x" * 64 + ".example"])
def test_a_public_name_that_is_no_dns_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="is not a DNS name"):
        generate_ech_key(name)


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(ValueError, match="config_id"):
        generate_ech_key("public.example", 256)
    with pytest.raises(ValueError, match="max_name_length"):
        generate_ech_key("public.example", max_name_length=256)
    with pytest.raises(TypeError, match="public_name must be a str"):
        generate_ech_key(b"public.example")  # type: ignore[arg-type]


def test_exported() -> None:
    assert tlskit.generate_ech_key is generate_ech_key and "EchKey" in tlskit.__all__
