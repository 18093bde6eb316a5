"""Post-handshake client authentication in memory (RFC 8446 4.6.2)."""

from __future__ import annotations

from typing import Any

import pytest

from tlskit import (
    CertifiedKey,
    ClientCertificateReceived,
    ClientConnection,
    DataReceived,
    ServerConnection,
    UsageError,
)
from tlskit.enums import ExtensionType as E
from tlskit.wire import messages as m

from ..support.pki import client_config, other_pki, pki, server_config
from ..support.pump import pump


def client_cert(p: Any = None) -> CertifiedKey:
    p = p or pki()
    return CertifiedKey(p.client.chain, p.client.private_key)


def pha_pair(client_kw: dict[str, Any] | None = None,
             server_kw: dict[str, Any] | None = None
             ) -> tuple[ClientConnection, ServerConnection]:
    c = ClientConnection(client_config(**({"certificate": client_cert()}
                                           | (client_kw or {}))), "localhost")
    s = ServerConnection(server_config(**({"client_trust_anchors": [pki().ca.root]}
                                          | (server_kw or {}))))
    pump(c, s)
    assert c.handshake_complete and s.handshake_complete
    return c, s


def test_offered_only_with_a_certificate_or_when_asked() -> None:
    def offers(**kw: Any) -> bool:
        c = ClientConnection(client_config(**kw), "localhost")
        ch = m.ClientHello.decode(memoryview(c.data_to_send())[9:])
        return E.post_handshake_auth in ch.extensions
    assert not offers()
    assert offers(certificate=client_cert())
    assert not offers(certificate=client_cert(), post_handshake_auth=False)
    assert offers(post_handshake_auth=True)


def test_server_requests_and_gets_the_verified_chain() -> None:
    c, s = pha_pair()
    assert s.handshake_complete.peer_certificates == []
    s.request_client_certificate()
    events = pump(s, c)
    got = [e for e in events if isinstance(e, ClientCertificateReceived)]
    assert len(got) == 1 and got[0].peer_certificates[0] == pki().client.chain[0]
    # The connection carries on both ways; a second request works too (new context).
    c.send_data(b"ping")
    assert s.receive_data(c.data_to_send()) == [DataReceived(b"ping")]
    s.request_client_certificate()
    assert [type(e) for e in pump(s, c)] == [ClientCertificateReceived]


def test_after_key_updates_the_finished_uses_the_current_secret() -> None:
    c, s = pha_pair()
    c.update_keys(request_peer_update=True)
    pump(c, s)
    c.update_keys(request_peer_update=False)
    pump(c, s)
    s.request_client_certificate()
    assert [type(e) for e in pump(s, c)] == [ClientCertificateReceived]


def test_client_without_certificate_declines_with_an_empty_certificate() -> None:
    c, s = pha_pair(client_kw={"certificate": None, "post_handshake_auth": True})
    s.request_client_certificate()
    assert pump(s, c) == [ClientCertificateReceived([])]


def test_request_needs_the_offer_and_trust_anchors() -> None:
    _, s = pha_pair(client_kw={"post_handshake_auth": False})
    with pytest.raises(UsageError, match="post_handshake_auth"):
        s.request_client_certificate()
    _, s = pha_pair(server_kw={"client_trust_anchors": None})
    with pytest.raises(UsageError, match="client_trust_anchors"):
        s.request_client_certificate()
    _c, s = pha_pair()
    s.request_client_certificate()
    with pytest.raises(UsageError, match="one request at a time"):
        s.request_client_certificate()


def test_request_before_the_handshake_is_a_usage_error() -> None:
    s = ServerConnection(server_config(client_trust_anchors=[pki().ca.root]))
    with pytest.raises(UsageError):
        s.request_client_certificate()


def test_untrusted_client_certificate_ends_the_connection() -> None:
    from tlskit import TLSError
    # (No CA names sent: a client holding none issued under them would send nothing.)
    c, s = pha_pair(client_kw={"certificate": client_cert(other_pki())},
                    server_kw={"send_client_ca_names": False})
    s.request_client_certificate()
    c.receive_data(s.data_to_send())
    with pytest.raises(TLSError) as info:
        s.receive_data(c.data_to_send())
    assert info.value.alert.name in ("unknown_ca", "bad_certificate")


def test_data_flows_while_the_request_is_outstanding() -> None:
    c, s = pha_pair()
    s.request_client_certificate()
    s.send_data(b"still here")
    request = s.data_to_send()
    c.send_data(b"crossing")
    assert s.receive_data(c.data_to_send()) == [DataReceived(b"crossing")]
    events = c.receive_data(request)
    assert events == [DataReceived(b"still here")]
    assert [type(e) for e in s.receive_data(c.data_to_send())] == [ClientCertificateReceived]


def test_mutual_auth_in_the_handshake_and_again_after() -> None:
    c, s = pha_pair(server_kw={"client_auth": "required"})
    assert s.handshake_complete.peer_certificates
    s.request_client_certificate()
    assert [type(e) for e in pump(s, c)] == [ClientCertificateReceived]
