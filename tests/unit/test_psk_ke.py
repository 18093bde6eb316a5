"""psk_ke-only resumption (RFC 8446 4.2.9): off by default on both sides; when the client
offers only psk_ke and the server allows it, the handshake has no (EC)DHE exchange."""

from __future__ import annotations

from typing import Any

import pytest

from tlskit import ClientConnection, ServerConnection, SessionTicketReceived
from tlskit.config import ClientConfig
from tlskit.enums import ExtensionType as E
from tlskit.wire import messages as m

from ..support.pki import client_config, server_config
from ..support.pump import handshake_keeping_hellos, pump


def resumed(client_kw: dict[str, Any], server_kw: dict[str, Any]) -> tuple[Any, Any, bytes]:
    scfg = server_config(ticket_key=bytes(32), **server_kw)
    events = pump(ClientConnection(client_config(), "localhost"), ServerConnection(scfg))
    session = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    c = ClientConnection(client_config(**client_kw), "localhost", session=session)
    s = ServerConnection(scfg)
    hello, flight = handshake_keeping_hellos(c, s)
    return c.handshake_complete, s.handshake_complete, hello + flight


def server_hello_extensions(data: bytes) -> m.Extensions:
    body = data[data.index(b"\x16\x03\x03", 5) + 5:]
    sh = m.ServerHello.decode(memoryview(body)[4:4 + int.from_bytes(body[1:4], "big")])
    return sh.extensions


def test_psk_ke_when_both_sides_allow_it() -> None:
    c_hc, s_hc, wire = resumed({"psk_modes": ["psk_ke"]}, {"allow_psk_ke": True})
    assert c_hc.resumed and s_hc.resumed
    assert c_hc.group is None and s_hc.group is None
    exts = server_hello_extensions(wire)
    assert E.pre_shared_key in exts and E.key_share not in exts


def test_server_refuses_psk_ke_by_default_with_a_full_handshake() -> None:
    c_hc, s_hc, wire = resumed({"psk_modes": ["psk_ke"]}, {})
    assert not c_hc.resumed and not s_hc.resumed
    assert c_hc.group.name == "x25519"
    assert E.pre_shared_key not in server_hello_extensions(wire)


@pytest.mark.parametrize("modes", [["psk_dhe_ke"], ["psk_ke", "psk_dhe_ke"]])
def test_server_prefers_psk_dhe_ke_when_offered(modes: list[str]) -> None:
    c_hc, s_hc, wire = resumed({"psk_modes": modes}, {"allow_psk_ke": True})
    assert c_hc.resumed and c_hc.group.name == "x25519" and s_hc.group.name == "x25519"
    assert E.key_share in server_hello_extensions(wire)


def test_client_offers_psk_ke_only_when_configured() -> None:
    def modes(cfg: ClientConfig) -> bytes:
        c = ClientConnection(cfg, "localhost")
        ch = m.ClientHello.decode(memoryview(c.data_to_send())[9:])
        return ch.extensions[E.psk_key_exchange_modes]
    assert modes(client_config()) == b"\x01\x01"
    assert modes(client_config(psk_modes=["psk_ke"])) == b"\x01\x00"
    assert modes(client_config(psk_modes=["psk_dhe_ke", "psk_ke"])) == b"\x02\x01\x00"
    with pytest.raises(ValueError, match="psk_modes"):
        client_config(psk_modes=["psk_x"])


def test_0rtt_over_psk_ke() -> None:
    scfg = server_config(allow_psk_ke=True, max_early_data_size=100)
    ccfg = client_config(psk_modes=["psk_ke"])
    events = pump(ClientConnection(ccfg, "localhost"), ServerConnection(scfg))
    session = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    c = ClientConnection(ccfg, "localhost", session=session, early_data=b"ping")
    s = ServerConnection(scfg)
    events = pump(c, s)
    assert [e.data for e in events if type(e).__name__ == "EarlyDataReceived"] == [b"ping"]
    assert c.handshake_complete.early_data_accepted and c.handshake_complete.group is None


# --- hostile ServerHellos for the psk modes offered ------------------------------------

def _against_client(client_kw: dict[str, Any], server_kw: dict[str, Any], edit: Any,
                    alert: Any) -> None:
    from ..hostile.helpers import expect_alert, hook_sends, on_type
    from ..support.mitm import client_endpoint, server_endpoint

    def rewrite(raw: bytes) -> bytes:
        sh = m.ServerHello.decode(memoryview(raw)[4:])
        edit(sh.extensions)
        return sh.encode()

    scfg = server_config(ticket_key=bytes(32), **server_kw)
    events = pump(ClientConnection(client_config(), "localhost"), ServerConnection(scfg))
    session = next(e.session for e in events if isinstance(e, SessionTicketReceived))
    c = client_endpoint(client_config(**client_kw), "localhost", session=session)
    s = server_endpoint(scfg)   # its ServerHello rewritten on the wire by the MITM
    hook_sends(s, on_type(m.HandshakeType.server_hello, rewrite))
    s.receive_data(c.data_to_send())
    expect_alert(c, s.data_to_send(), alert)


def test_key_share_on_a_psk_ke_only_resumption_is_illegal_parameter() -> None:
    from tlskit.enums import AlertDescription as AD
    from tlskit.wire import extensions as ext

    def add_share(exts: m.Extensions) -> None:
        psk = exts.pop(E.pre_shared_key)
        exts[E.key_share] = ext.encode_key_share_server(0x001D, bytes(32))
        exts[E.pre_shared_key] = psk
    _against_client({"psk_modes": ["psk_ke"]}, {"allow_psk_ke": True}, add_share,
                    AD.illegal_parameter)


def test_resumption_without_key_share_when_psk_ke_was_not_offered_is_illegal_parameter(
        ) -> None:
    # RFC 8446 4.2.11: a key_share our psk_key_exchange_modes require, missing beside the
    # selected PSK, is illegal_parameter (without a PSK it is missing_extension: the
    # hostile test_server_hello_without_key_share_is_missing_extension).
    from tlskit.enums import AlertDescription as AD
    _against_client({}, {}, lambda exts: exts.pop(E.key_share), AD.illegal_parameter)
