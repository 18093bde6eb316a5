"""The ClientHello view: each extension is decoded once per hello, however many checks
read it, on the server's TLS 1.3 path, its HelloRetryRequest path and its hand-over to
TLS 1.2; and a malformed extension still fails with decode_error."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tlskit import ClientConnection, ServerConnection
from tlskit.enums import AlertDescription
from tlskit.enums import ExtensionType as E
from tlskit.errors import DecodeError
from tlskit.handshake.hello import ClientHelloView
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m

from ..support.pki import client_config, server_config

DECODERS = ("decode_versions_client", "decode_key_share_client", "decode_u16_list",
            "decode_alpn", "decode_client_server_name", "decode_record_size_limit",
            "decode_psk_modes", "decode_pre_shared_key_client", "decode_cookie",
            "decode_version_server", "decode_key_share_server", "decode_key_share_hrr")


class Calls(Counter[str]):
    """How often each extension decoder ran while the server was reading (the client's
    own decoding of the server's messages is not counted); decode_u16_list per `what`."""

    server_reading = False
    client_reading = False


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    counter = Calls()

    def counting(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def decode(*args: Any) -> Any:
            key = name if name != "decode_u16_list" else f"{name}:{args[1]}"
            if counter.server_reading:
                counter[key] += 1
            if counter.client_reading:
                counter[f"client {key}"] += 1
            return original(*args)
        return decode

    for name in DECODERS:
        monkeypatch.setattr(ext, name, counting(name, getattr(ext, name)))
    yield counter


def _handshake(calls: Calls, client_kw: dict[str, Any],
               server_kw: dict[str, Any]) -> ServerConnection:
    c = ClientConnection(client_config(**client_kw), "localhost")
    s = ServerConnection(server_config(**server_kw))
    for _ in range(6):
        data = c.data_to_send()
        if data:
            calls.server_reading = True
            s.receive_data(data)
            calls.server_reading = False
        data = s.data_to_send()
        if data:
            calls.client_reading = True
            c.receive_data(data)
            calls.client_reading = False
    assert c.handshake_complete is not None and s.handshake_complete is not None
    return s


def _server_side(calls: Calls, hellos: int) -> None:
    assert calls["decode_versions_client"] == hellos  # was 3 per ClientHello
    assert calls["decode_key_share_client"] == hellos
    assert calls["decode_u16_list:signature_algorithms"] == hellos  # was 2
    assert calls["decode_u16_list:supported_groups"] == hellos
    assert calls["decode_alpn"] == hellos  # was 2
    assert calls["decode_client_server_name"] == hellos


def test_tls13_full_handshake_decodes_each_extension_once(calls: Calls) -> None:
    _handshake(calls, {"alpn_protocols": ["h2"]}, {"alpn_protocols": ["h2"]})
    _server_side(calls, hellos=1)


def test_hello_retry_decodes_each_hello_once(calls: Calls) -> None:
    _handshake(calls, {"groups": ["x25519", "secp256r1"], "alpn_protocols": ["h2"]},
               {"groups": ["secp256r1"], "alpn_protocols": ["h2"], "send_hrr_cookie": True})
    _server_side(calls, hellos=2)
    assert calls["decode_cookie"] == 1  # only the second hello carries one


def test_hand_over_to_tls12_reuses_the_view(calls: Calls) -> None:
    s = _handshake(calls, {"versions": ["TLSv1.2"], "alpn_protocols": ["h2"]},
                   {"alpn_protocols": ["h2"]})
    assert s.version == "TLSv1.2"
    assert calls["decode_u16_list:signature_algorithms"] == 1
    assert calls["decode_u16_list:supported_groups"] == 1
    assert calls["decode_alpn"] == 1


def test_fields_are_typed_and_absent_ones_are_none() -> None:
    c = ClientConnection(client_config(alpn_protocols=["h2", "http/1.1"]), "localhost")
    record = c.data_to_send()
    view = ClientHelloView(m.ClientHello.decode(memoryview(record)[9:]))
    assert view.versions == [0x0304, 0x0303]
    assert view.alpn == ["h2", "http/1.1"]
    assert view.server_name == "localhost"
    assert view.shares is not None and view.shares[0][0] == view.groups[0]  # type: ignore[index]
    assert view.cookie is None and view.psk is None
    assert view.describe()["alpn"] == ["h2", "http/1.1"]


def test_a_malformed_extension_fails_when_read_with_decode_error() -> None:
    hello = m.ClientHello(bytes(32), b"", [0x1301], m.Extensions({
        E.supported_versions: b"\x03\x03\x04", E.signature_algorithms: b"\x00\x02\x04"}))
    view = ClientHelloView(hello)
    assert view.has(E.supported_versions)
    for read in (lambda: view.versions, lambda: view.schemes):
        with pytest.raises(DecodeError) as info:
            read()
        assert info.value.alert == AlertDescription.decode_error


def test_the_client_decodes_each_server_hello_extension_once(calls: Calls) -> None:
    from tlskit import CertifiedKey

    from ..support.pki import pki
    leaf = pki().client
    _handshake(calls, {"groups": ["x25519", "secp256r1"],
                       "certificate": CertifiedKey(leaf.chain, leaf.private_key)},
               {"groups": ["secp256r1"], "client_auth": "required", "send_hrr_cookie": True,
                "client_trust_anchors": [pki().ca.root]})
    assert calls["client decode_version_server"] == 2  # HelloRetryRequest, ServerHello
    assert calls["client decode_key_share_hrr"] == 1
    assert calls["client decode_key_share_server"] == 1
    assert calls["client decode_cookie"] == 1
