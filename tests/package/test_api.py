"""The public API as a user types against it: exports, and events carrying the enums."""

from __future__ import annotations

import pytest

import tlskit
from tlskit import (
    CipherSuite,
    ClientConfig,
    ClientConnection,
    HandshakeComplete,
    NamedGroup,
    ServerConfig,
    ServerConnection,
    SignatureScheme,
)
from tlskit.ca import LocalCA


def test_handshake_complete_carries_the_exported_enums() -> None:
    ca = LocalCA.create(None)
    issued = ca.issue_server(["localhost"])
    server = ServerConnection(ServerConfig(certificate_chain=issued.chain,
                                           private_key=issued.private_key))
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], groups=["x25519"],
                                           cipher_suites=["TLS_AES_256_GCM_SHA384"]),
                              server_name="localhost")
    server.receive_data(client.data_to_send())
    [hc] = client.receive_data(server.data_to_send())
    assert isinstance(hc, HandshakeComplete)
    assert hc.group is NamedGroup.x25519 and hc.group.name == "x25519"
    assert hc.cipher_suite is CipherSuite.TLS_AES_256_GCM_SHA384
    assert hc.cipher_suite.name == "TLS_AES_256_GCM_SHA384"
    assert hc.signature_scheme is SignatureScheme.ecdsa_secp256r1_sha256
    assert hc.version == "TLSv1.3"


def test_what_users_type_their_code_with_is_exported() -> None:
    for name in ("Session", "SessionCache", "CertificateVerifier", "TLSError",
                 "AlertReceived", "UsageError", "DecodeError", "HandshakeFailure",
                 "BadCertificate", "ConnectionClosedError", "CertificateVerificationError",
                 "TruncatedConnection", "TLSSocket", "connect", "parse_group"):
        assert name in tlskit.__all__ and name in dir(tlskit), name
        assert getattr(tlskit, name) is not None
    assert tlskit.CertificateVerificationError is tlskit.x509.CertificateVerificationError
    assert issubclass(tlskit.CertificateVerificationError, tlskit.TLSError)
    assert issubclass(tlskit.TruncatedConnection, tlskit.ConnectionClosedError)
    assert tlskit.aio.open_connection is tlskit.aio.__dict__["open_connection"]


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        tlskit.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
