"""A server's configuration is checked when it is built (issue 12): a key that is not
the certificate's is refused with a message that says so, an expired or not-yet-valid
certificate draws a warning, and the default server accepts every group tlskit has."""

from __future__ import annotations

import warnings

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.config import CertificateValidityWarning, CertifiedKey
from tlskit.crypto import IMPLEMENTED_GROUPS, SERVER_DEFAULT_GROUPS

from ..support.pki import pki
from ..support.pump import pump


def test_key_of_another_certificate_is_refused() -> None:
    leaf = pki().server
    with pytest.raises(ValueError, match="does not belong to the certificate 'CN=localhost'"):
        ServerConfig(certificate_chain=leaf.chain,
                     private_key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ValueError, match="its public key differs"):
        CertifiedKey(leaf.chain, pki().client.private_key)


def test_matching_key_is_accepted_without_warning() -> None:
    leaf = pki().server
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key)


@pytest.mark.parametrize(("offset", "words"), [(+400 * 86400, "expired on"),
                                               (-400 * 86400, "is not valid before")])
def test_certificate_outside_its_validity_warns(offset: float, words: str) -> None:
    leaf = pki().server
    at = leaf.chain[0].not_valid_after_utc.timestamp() if offset > 0 else \
        leaf.chain[0].not_valid_before_utc.timestamp()
    with pytest.warns(CertificateValidityWarning, match=words):
        ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                     clock=lambda: at + offset)


def test_default_server_groups_are_every_implemented_group() -> None:
    assert set(SERVER_DEFAULT_GROUPS) == set(IMPLEMENTED_GROUPS)
    leaf = pki().server
    server_groups = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key)
    assert server_groups._groups == list(SERVER_DEFAULT_GROUPS)
    assert len(ClientConfig()._groups) < len(SERVER_DEFAULT_GROUPS)  # clients offer few


@pytest.mark.parametrize("group", ["secp521r1", "x448", "ffdhe2048", "ffdhe3072"])
def test_client_offering_one_rarer_group_gets_served(group: str) -> None:
    leaf = pki().server
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain,
                                           private_key=leaf.private_key))
    client = ClientConnection(ClientConfig(trust_anchors=[pki().ca.root], groups=[group]),
                              server_name="localhost")
    pump(client, server)
    assert client.handshake_complete is not None
    assert client.handshake_complete.group.name == group
