"""tlskit's ECH server (RFC 9849 7) against tlskit's client in memory: accepted, through
a HelloRetryRequest, rejected with retry configs that then work; and every malformed
inner hello with its alert (built by re-sealing what the client sent, with the test's
own HPKE sender: tests/support/ech.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tlskit import ClientConnection, ServerConnection, hpke
from tlskit.enums import AlertDescription as AD
from tlskit.errors import EchRejected, TLSError
from tlskit.events import HandshakeComplete
from tlskit.wire import ech

from ..support.ech import ECH_EXT, OUTER_EXTS, EchKey, build_hello, open_outer, parse_hello
from ..support.pki import client_config, server_config
from ..support.pump import exchange
from ..support.records import HS, record, split_records

NAME = "localhost"


def ech_server(*keys: EchKey, **kw: Any) -> ServerConnection:
    pairs = [(k.config.encode(), k.private_key.private_bytes_raw()) for k in keys]
    return ServerConnection(server_config(ech_keys=pairs, **kw))


def ech_client(key: EchKey, server_name: str = NAME, **kw: Any) -> ClientConnection:
    return ClientConnection(client_config(ech_config_list=key.config_list, **kw),
                            server_name=server_name)


def done(events: list[Any]) -> HandshakeComplete:
    (hc,) = [e for e in events if isinstance(e, HandshakeComplete)]
    return hc


def test_accepted() -> None:
    key = EchKey.make()
    client, server = ech_client(key, alpn_protocols=["h2"]), ech_server(
        key, alpn_protocols=["h2"])
    client_events, server_events = exchange(client, server)
    for hc in (done(client_events), done(server_events)):
        assert hc.ech_accepted and hc.server_name == NAME and hc.alpn_protocol == "h2"


@pytest.mark.parametrize("cookie", [False, True], ids=["no-cookie", "cookie"])
def test_accepted_through_a_hello_retry_request(cookie: bool) -> None:
    key = EchKey.make()
    client = ech_client(key, groups=["x25519", "secp256r1"])
    server = ech_server(key, groups=["secp256r1"], send_hrr_cookie=cookie)
    client_events, server_events = exchange(client, server)
    assert done(client_events).ech_accepted and done(server_events).ech_accepted
    assert done(server_events).group is not None
    assert done(server_events).group.name == "secp256r1"


def test_rejected_with_retry_configs_that_then_work() -> None:
    current = EchKey.make(public_name=b"localhost", config_id=1)
    other = EchKey.make(public_name=b"localhost", config_id=2)
    stale = EchKey.make(public_name=b"localhost", config_id=1)  # same id, another key
    for offered in (stale, EchKey.make(public_name=b"localhost", config_id=7)):
        client = ech_client(offered, server_name="secret.example")
        with pytest.raises(EchRejected) as info:
            exchange(client, ech_server(current, other))
        retry = info.value.retry_configs
        assert retry == ech.encode_config_list([current.config, other.config])
    client = ClientConnection(client_config(ech_config_list=retry), server_name=NAME)
    client_events, _ = exchange(client, ech_server(current, other))
    assert done(client_events).ech_accepted


def test_a_server_without_ech_keys_ignores_the_extension() -> None:
    key = EchKey.make(public_name=b"localhost")
    with pytest.raises(EchRejected) as info:
        exchange(ech_client(key), ServerConnection(server_config()))
    assert info.value.retry_configs is None


def test_a_plain_client_is_served_as_before() -> None:
    client_events, server_events = exchange(
        ClientConnection(client_config(), server_name=NAME), ech_server(EchKey.make()))
    assert not done(client_events).ech_accepted and not done(server_events).ech_accepted


# --- malformed inner hellos: the client's hello, opened, changed, sealed again ------------

def _hello(flight: bytes) -> bytes:
    (rec,) = [r for r in split_records(flight) if r[0] == HS]
    return rec[5:]


def _reseal(outer_raw: bytes, key: EchKey, change: Callable[[dict[str, Any]], bytes],
            *, ext_body: Callable[[ech.OuterHello], bytes] | None = None) -> bytes:
    """The outer hello with its inner hello replaced by ``change(encoded inner fields)``
    (the EncodedClientHelloInner bytes), sealed with a fresh HPKE context."""
    opened = open_outer(outer_raw, key)
    fields, _ = parse_hello(opened.inner[4:])
    fields["sid"] = b""
    outer, _ = parse_hello(outer_raw[4:])
    suite = ech.CipherSuite(1, 1)
    enc, ctx = hpke.setup_base_s(key.config.public_key, b"tls ech\x00" + key.config.encode(),
                                 1, 1)
    encoded = change(fields)
    body = ech.OuterHello(suite, key.config.config_id, enc, bytes(len(encoded) + 16))
    if ext_body is not None:
        body_bytes = ext_body(body)
    else:
        body_bytes = body.encode()
    outer["exts"] = [(t, body_bytes if t == ECH_EXT else d) for t, d in outer["exts"]]
    aad = build_hello(outer)[4:]
    sealed = ech.OuterHello(suite, key.config.config_id, enc, ctx.seal(aad, encoded))
    if ext_body is None:
        outer["exts"] = [(t, sealed.encode() if t == ECH_EXT else d) for t, d in outer["exts"]]
    return build_hello(outer)


def _encoded(fields: dict[str, Any], padding: bytes = bytes(16)) -> bytes:
    return build_hello(fields)[4:] + padding


def _with_exts(fields: dict[str, Any], edit: Callable[[list[tuple[int, bytes]]], Any]
               ) -> bytes:
    exts = list(fields["exts"])
    edit(exts)
    fields["exts"] = exts
    return _encoded(fields)


def _refused(key: EchKey, change: Callable[[dict[str, Any]], bytes], **kw: Any) -> TLSError:
    client = ech_client(key)
    hello = _reseal(_hello(client.data_to_send()), key, change, **kw)
    with pytest.raises(TLSError) as info:
        ech_server(key).receive_data(record(HS, hello, 0x0301))
    return info.value


def test_the_resealing_itself_is_accepted() -> None:
    """(The helper's own hello, unchanged, is accepted: the failures below are the
    changes'.)"""
    key = EchKey.make()
    client = ech_client(key)
    hello = _reseal(_hello(client.data_to_send()), key, _encoded)
    server = ech_server(key)
    server.receive_data(record(HS, hello, 0x0301))
    assert server.data_to_send()


def _drop(etype: int) -> Callable[[dict[str, Any]], bytes]:
    return lambda f: _with_exts(f, lambda e: e.__setitem__(
        slice(None), [(t, d) for t, d in e if t != etype]))


def _refs(body: bytes, drop: tuple[int, ...] = ()) -> Callable[[dict[str, Any]], bytes]:
    """The inner hello without ``drop``, and an ech_outer_extensions ``body`` last."""
    return lambda f: _with_exts(f, lambda e: e.__setitem__(
        slice(None), [(t, d) for t, d in e if t not in drop] + [(OUTER_EXTS, body)]))


def _replace(etype: int, body: bytes) -> Callable[[dict[str, Any]], bytes]:
    return lambda f: _with_exts(f, lambda e: e.__setitem__(
        slice(None), [(t, body if t == etype else d) for t, d in e]))


@pytest.mark.parametrize("change, alert", [
    (lambda f: _encoded(f, b"\x00" * 15 + b"\x01"), AD.illegal_parameter),  # padding
    (lambda f: _encoded({**f, "sid": b"\x01" * 32}), AD.illegal_parameter),  # a session id
    (_drop(ECH_EXT), AD.illegal_parameter),  # no inner marker
    (_replace(43, b"\x04\x03\x04\x03\x03"), AD.illegal_parameter),  # offers TLS 1.2
    (_refs(b"\x02\xfe\x0d"), AD.illegal_parameter),  # names ECH itself
    (_refs(b"\x02\x12\x34"), AD.illegal_parameter),  # not in the outer hello
    (_refs(b"\x04\x00\x33\x00\x0a", drop=(0x0a, 0x33)), AD.illegal_parameter),  # order
    (_refs(b"\x02\x00\x0a"), AD.illegal_parameter),  # supported_groups twice
    (_refs(b"\x03\x00\x0a\x00", drop=(0x0a,)), AD.decode_error),  # odd length
    (lambda f: b"\x03\x03" + bytes(10), AD.decode_error),  # not a ClientHello
], ids=["padding", "session-id", "no-inner-marker", "tls12", "names-ech", "missing-ref",
        "reordered", "duplicate", "odd-outer-extensions", "truncated"])
def test_malformed_inner_hello(change: Callable[[dict[str, Any]], bytes], alert: AD) -> None:
    assert _refused(EchKey.make(), change).alert == alert


def test_inner_marker_in_the_outer_hello_is_illegal_parameter() -> None:
    key = EchKey.make()
    err = _refused(key, _encoded, ext_body=lambda _: ech.INNER_BODY)
    assert err.alert == AD.illegal_parameter


def _after_retry(key: EchKey) -> tuple[ClientConnection, ServerConnection, bytes]:
    """Client and server after an accepted first hello and the HelloRetryRequest; the
    client's second flight, not yet delivered."""
    client = ech_client(key, groups=["x25519", "secp256r1"])
    server = ech_server(key, groups=["secp256r1"])
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    return client, server, client.data_to_send()


def _second_with(flight: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    records = split_records(flight)
    return b"".join(record(HS, edit(r[5:])) if r[0] == HS else r for r in records)


def _edit_ech(hello: bytes, new_body: Callable[[ech.OuterHello], bytes | None]) -> bytes:
    fields, _ = parse_hello(hello[4:])
    offer = ech.decode_client_hello_ext(dict(fields["exts"])[ECH_EXT])
    assert offer is not None
    body = new_body(offer)
    fields["exts"] = [(t, body if t == ECH_EXT else d) for t, d in fields["exts"]
                      if not (t == ECH_EXT and body is None)]
    return build_hello(fields)


@pytest.mark.parametrize("new_body, alert", [
    (lambda o: None, AD.missing_extension),
    (lambda o: ech.OuterHello(o.cipher_suite, o.config_id, b"e" * 32, o.payload).encode(),
     AD.illegal_parameter),  # enc again
    (lambda o: ech.OuterHello(o.cipher_suite, o.config_id + 1, b"", o.payload).encode(),
     AD.illegal_parameter),  # another config
    (lambda o: ech.OuterHello(o.cipher_suite, o.config_id, b"",
                              bytes(len(o.payload))).encode(), AD.decrypt_error),
], ids=["missing", "enc", "config-id", "does-not-open"])
def test_second_hello_after_an_accepted_first(
        new_body: Callable[[ech.OuterHello], bytes | None], alert: AD) -> None:
    _, server, flight = _after_retry(EchKey.make())
    with pytest.raises(TLSError) as info:
        server.receive_data(_second_with(flight, lambda h: _edit_ech(h, new_body)))
    assert info.value.alert == alert


def test_second_hello_unchanged_is_accepted() -> None:
    client, server, flight = _after_retry(EchKey.make())
    server.receive_data(flight)
    client_events, server_events = exchange(client, server)
    assert done(client_events).ech_accepted and done(server_events).ech_accepted


@pytest.mark.parametrize("pairs, words", [
    ([(b"\xfe\x0d\x00\x01\x00", bytes(32))], "not one ECHConfig"),
    ([("x", bytes(32), 3)], "pair"),
])
def test_config_checks(pairs: Any, words: str) -> None:
    with pytest.raises((ValueError, TypeError), match=words):
        server_config(ech_keys=pairs)


def test_config_key_must_match_and_tls13_is_needed() -> None:
    key, other = EchKey.make(), EchKey.make()
    with pytest.raises(ValueError, match="does not match"):
        server_config(ech_keys=[(key.config.encode(), other.private_key.private_bytes_raw())])
    with pytest.raises(ValueError, match="32 raw"):
        server_config(ech_keys=[(key.config.encode(), b"short")])
    with pytest.raises(ValueError, match=r"TLS 1\.3"):
        server_config(ech_keys=[(key.config.encode(), key.private_key.private_bytes_raw())],
                      versions=["TLSv1.2"])


@pytest.mark.parametrize("with_keys", [False, True], ids=["no-ech-server", "other-keys"])
def test_rejected_through_a_hello_retry_request(with_keys: bool) -> None:
    """tlskit's client seals its second inner hello again (an empty enc, a new payload:
    RFC 9849 6.1.5) even when the retry request did not accept ECH; the server must
    let that extension change between the hellos (RFC 8446 4.1.2 lists what may)."""
    offered = EchKey.make(public_name=b"localhost")
    server = ech_server(EchKey.make(), groups=["secp256r1"]) if with_keys else \
        ServerConnection(server_config(groups=["secp256r1"]))
    client = ech_client(offered, groups=["x25519", "secp256r1"])
    with pytest.raises(EchRejected):
        exchange(client, server)
