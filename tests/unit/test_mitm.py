"""tests/support/mitm.py: the re-sealing man-in-the-middle the hostile tests forge through.

Without tampering it must be invisible: a handshake and data both ways complete through it
(TLS 1.3, TLS 1.3 with 0-RTT and a KeyUpdate, TLS 1.2 full and resumed), every protected
record is opened from key-log secrets alone and sealed again; an injected record shifts
the sequence numbers of everything the sender writes afterwards, which the MITM keeps in
step; and a record it changed is one the receiver accepts or refuses for its content.
"""

from __future__ import annotations

from typing import Any

import pytest

from tlskit import (
    AlertDescription,
    ClientConfig,
    ClientConnection,
    DataReceived,
    EarlyDataReceived,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
    SessionCache,
    TLSError,
)

from ..support.mitm import HRR_RANDOM, KEYS, Endpoint, Mitm, Seen, logging_keys
from ..support.pki import client_config, server_config
from ..support.pump import exchange
from ..support.records import APPDATA, HS

VERSIONS = {"TLSv1.3": ["TLSv1.3"], "TLSv1.2": ["TLSv1.2"]}


def pair(version: str, client_kw: dict[str, Any] | None = None,
         server_kw: dict[str, Any] | None = None, server_cfg: ServerConfig | None = None,
         early_data: bytes = b"") -> tuple[Endpoint, Endpoint]:
    ccfg: ClientConfig = client_config(versions=VERSIONS[version], **(client_kw or {}))
    scfg = server_cfg or server_config(**(server_kw or {}))
    return Mitm.pair(ClientConnection(logging_keys(ccfg), server_name="localhost",
                                      early_data=early_data),
                     ServerConnection(logging_keys(scfg)))


def talk(c: Endpoint, s: Endpoint) -> tuple[list[Any], list[Any]]:
    c_events, s_events = exchange(c, s)  # type: ignore[arg-type]
    assert any(isinstance(e, HandshakeComplete) for e in c_events)
    assert any(isinstance(e, HandshakeComplete) for e in s_events)
    return c_events, s_events


def data_both_ways(c: Endpoint, s: Endpoint, size: int = 40_000) -> None:
    up, down = bytes(range(256)) * (size // 256), b"reply" * 1000
    c.send_data(up)
    s.send_data(down)
    c_events, s_events = exchange(c, s)  # type: ignore[arg-type]
    assert b"".join(e.data for e in s_events if isinstance(e, DataReceived)) == up
    assert b"".join(e.data for e in c_events if isinstance(e, DataReceived)) == down


def opened(flow_last: list[Seen]) -> list[tuple[int, bool]]:
    return [(seen.ctype, seen.protected) for seen in flow_last]


@pytest.mark.parametrize("version", list(VERSIONS))
def test_untampered_handshake_and_data_pass_both_ways(version: str) -> None:
    c, s = pair(version)
    talk(c, s)
    assert c.version == s.version == version
    data_both_ways(c, s)
    # every record was opened (none forwarded unread) and re-sealed
    for side in (c, s):
        assert side.flow.last and all(seen.raw is None and seen.protected
                                      for seen in side.flow.last)
    c.close()
    exchange(c, s)  # type: ignore[arg-type]
    assert s.closed and c.closed


def test_key_updates_both_ways_stay_in_step() -> None:
    c, s = pair("TLSv1.3")
    talk(c, s)
    c.update_keys(request_peer_update=True)
    exchange(c, s)  # type: ignore[arg-type]
    assert c.flow.generation == 1 and s.flow.generation == 1
    data_both_ways(c, s, 2000)


@pytest.mark.parametrize("version", list(VERSIONS))
def test_resumed_sessions_pass(version: str) -> None:
    cache = SessionCache()
    scfg = server_config(**({"session_tickets": 2} if version == "TLSv1.2" else {}))
    first = pair(version, {"session_cache": cache, "legacy_session_ticket": True}
                 if version == "TLSv1.2" else {"session_cache": cache}, server_cfg=scfg)
    talk(*first)
    data_both_ways(*first, 100)
    second = pair(version, {"session_cache": cache, "legacy_session_ticket": True}
                  if version == "TLSv1.2" else {"session_cache": cache}, server_cfg=scfg)
    c_events, _ = talk(*second)
    assert next(e for e in c_events if isinstance(e, HandshakeComplete)).resumed
    data_both_ways(*second, 100)


def test_early_data_passes_when_accepted() -> None:
    cache = SessionCache()
    scfg = server_config(max_early_data_size=1 << 14)
    first = pair("TLSv1.3", {"session_cache": cache}, server_cfg=scfg)
    talk(*first)
    c, s = pair("TLSv1.3", {"session_cache": cache}, server_cfg=scfg,
                early_data=b"zero round trip")
    assert c.early_data_sent
    c_events, s_events = talk(c, s)
    assert [e.data for e in s_events if isinstance(e, EarlyDataReceived)] == [b"zero round trip"]
    assert next(e for e in c_events if isinstance(e, HandshakeComplete)).early_data_accepted
    data_both_ways(c, s, 1000)


@pytest.mark.parametrize("version", list(VERSIONS))
def test_an_injected_record_shifts_the_senders_later_records(version: str) -> None:
    c, s = pair(version)
    talk(c, s)
    assert s.receive_data(c.flow.inject(APPDATA, b"from the middle")) == [
        DataReceived(b"from the middle")]
    data_both_ways(c, s, 1000)   # the client's own records now carry sequence number + 1


@pytest.mark.parametrize("version", list(VERSIONS))
def test_a_changed_record_is_sealed_correctly(version: str) -> None:
    """The receiver accepts the content the MITM chose: the seal is right."""
    c, s = pair(version)
    talk(c, s)

    def shout(seen: Seen) -> Seen:
        return Seen(seen.ctype, seen.content.upper(), seen.protected, seen.padding)

    c.record_hooks.append(shout)
    c.send_data(b"quiet")
    assert s.receive_data(c.data_to_send()) == [DataReceived(b"QUIET")]


def test_a_changed_handshake_message_reaches_the_peer_protected() -> None:
    """A message hook rewrites a protected message (the server's EncryptedExtensions,
    given an extension the client never offered): the client refuses it for its content,
    not for its protection."""
    c, s = pair("TLSv1.3")

    def add_alpn(msg: bytes) -> bytes:
        if msg[0] != 8:
            return msg
        ext = (16).to_bytes(2, "big") + (5).to_bytes(2, "big") + b"\x00\x03\x02h2"
        exts = msg[6:] + ext
        body = len(exts).to_bytes(2, "big") + exts
        return bytes((8,)) + len(body).to_bytes(3, "big") + body

    s.message_hooks.append(add_alpn)
    s.receive_data(c.data_to_send())
    with pytest.raises(TLSError) as info:
        c.receive_data(s.data_to_send())
    assert info.value.alert == AlertDescription.unsupported_extension
    assert next(seen.ctype for seen in s.flow.last if seen.protected) == HS


def test_the_key_log_is_all_it_reads() -> None:
    """With the key log lines of this connection gone, protected records pass unread."""
    c, s = pair("TLSv1.3")
    s.receive_data(c.data_to_send())
    saved = dict(KEYS.lines)
    KEYS.lines.clear()
    try:
        out = s.data_to_send()
    finally:
        KEYS.lines.update(saved)
    assert any(seen.raw is not None for seen in s.flow.last)
    assert opened(s.flow.last)[0] == (HS, False)   # the ServerHello, plaintext
    assert out.startswith(b"\x16\x03\x03")


@pytest.mark.parametrize("version,suite", [
    ("TLSv1.3", "TLS_AES_256_GCM_SHA384"), ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256"),
    ("TLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    ("TLSv1.2", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256")])
def test_other_suites_pass(version: str, suite: str) -> None:
    c, s = pair(version, {"cipher_suites": [suite]})
    c_events, _ = talk(c, s)
    assert next(e for e in c_events if isinstance(e, HandshakeComplete)).cipher_suite.name \
        == suite
    data_both_ways(c, s, 3000)


def test_a_hello_retry_passes() -> None:
    # the client's one share is x25519, the server takes secp256r1 only: it asks again
    c, s = pair("TLSv1.3", {"groups": ["x25519", "secp256r1"]}, {"groups": ["secp256r1"]})
    hellos: list[bytes] = []

    def watch(raw: bytes) -> bytes:
        if raw[0] == 2:
            hellos.append(raw)
        return raw

    s.message_hooks.append(watch)
    c_events, _ = talk(c, s)
    assert [hello[6:38] == HRR_RANDOM for hello in hellos] == [True, False]
    assert next(e for e in c_events if isinstance(e, HandshakeComplete)).group.name \
        == "secp256r1"
    data_both_ways(c, s, 3000)
