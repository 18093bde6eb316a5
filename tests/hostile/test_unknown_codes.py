"""A peer's lists of codes tlskit does not know: a ClientHello may list ~32,000 unknown
cipher suites, groups or signature schemes, and what a server builds from them for the
application (`ClientHelloInfo`, from `tlskit.Acceptor` and for a
``certificate_resolver``) must stay within a small multiple of the bytes they took on the
wire, per connection. An unknown code made an enum pseudo-member (a new object of ~300
bytes for two bytes of hello, `_OpenEnum._missing_`): the info was 150 times the hello.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from tlskit import (
    Acceptor,
    CertifiedKey,
    ClientConfig,
    ClientConnection,
    ClientHelloInfo,
    ServerConnection,
    enums,
)
from tlskit.enums import CipherSuite, ExtensionType, NamedGroup, SignatureScheme

from ..support.ech import build_hello, parse_hello
from ..support.pki import pki, server_config
from ..support.records import HS, record

# 32,000 codes none of the three enums knows.
UNKNOWN = [c for c in range(0x1000, 0x10000) if all(
    c not in e._value2member_map_ for e in (CipherSuite, NamedGroup, SignatureScheme))][:32000]
# What an info and the hello beside it may hold per byte of hello. The info holds a
# tuple slot per code (8 bytes: 4x) and each unknown code as the int it was decoded to
# (~32 bytes: 16x), and no enum pseudo-member. Before: ~171x. (The parsed hello, ~18x,
# is no longer kept beside it: test_retained_memory.py.)
BOUND = 30


def _hostile_hello(where: str, listed: list[int] = UNKNOWN) -> bytes:
    """A real client's hello with 32,000 unknown codes (or ``listed``) put in front of
    its own ``where`` list, as 16 KiB handshake records."""
    flight = ClientConnection(ClientConfig(), "a.test").data_to_send()
    fields, _ = parse_hello(flight[5:][4:])
    codes = b"".join(c.to_bytes(2, "big") for c in listed)
    if where == "suites":
        fields["suites"] = codes + fields["suites"]
    else:
        etype = {"groups": ExtensionType.supported_groups,
                 "schemes": ExtensionType.signature_algorithms}[where]
        exts = []
        for t, data in fields["exts"]:
            if t == etype:
                data = (len(data) - 2 + len(codes)).to_bytes(2, "big") + codes + data[2:]
            exts.append((t, data))
        fields["exts"] = exts
    hello = build_hello(fields)
    return b"".join(record(HS, hello[i:i + (1 << 14)]) for i in range(0, len(hello), 1 << 14))


def _held_after(feed: Any) -> tuple[int, Any]:
    """The bytes still allocated after ``feed()`` (its result kept alive), and that result."""
    feed()  # (warms the caches: the bound is about one connection's share)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = feed()
        return tracemalloc.get_traced_memory()[0] - base, kept
    finally:
        tracemalloc.stop()


FIELDS = {"suites": ("cipher_suites", CipherSuite), "groups": ("supported_groups", NamedGroup),
          "schemes": ("signature_schemes", SignatureScheme)}


def _check_info(info: ClientHelloInfo, where: str) -> None:
    name, enum = FIELDS[where]
    codes = getattr(info, name)
    assert list(codes[:len(UNKNOWN)]) == UNKNOWN
    assert all(type(c) is int for c in codes[:len(UNKNOWN)])  # unknown: plain ints
    assert all(type(c) is enum for c in codes[len(UNKNOWN):])  # known: the members
    assert codes[len(UNKNOWN):], "the client's own codes follow"


@pytest.mark.parametrize("where", list(FIELDS))
def test_acceptor_info_of_32000_unknown_codes_is_bounded(where: str) -> None:
    wire = _hostile_hello(where)

    def feed() -> tuple[Acceptor, ClientHelloInfo | None]:
        acceptor = Acceptor()
        return acceptor, acceptor.receive_data(wire)
    held, (_, info) = _held_after(feed)
    assert held < BOUND * len(wire), (held, len(wire), held / len(wire))
    assert info is not None
    _check_info(info, where)


@pytest.mark.parametrize("where", list(FIELDS))
def test_resolver_info_of_32000_unknown_codes_is_bounded(where: str) -> None:
    wire = _hostile_hello(where)
    seen: list[ClientHelloInfo] = []
    issued = pki().server
    key = CertifiedKey(issued.chain, issued.private_key)

    def resolve(info: ClientHelloInfo) -> CertifiedKey:
        seen.append(info)
        return key
    cfg = server_config(certificate_resolver=resolve)

    def feed() -> ServerConnection:
        seen.clear()
        conn = ServerConnection(cfg)
        conn.receive_data(wire)
        assert conn.data_to_send()  # (the handshake goes on: a ServerHello)
        return conn
    held, _ = _held_after(feed)
    assert held < BOUND * len(wire), (held, len(wire), held / len(wire))
    [info] = seen
    _check_info(info, where)


def test_an_unknown_code_is_still_named_by_its_enum() -> None:
    wire = _hostile_hello("suites")
    info = Acceptor().receive_data(wire)
    assert info is not None
    assert CipherSuite(info.cipher_suites[0]).name == "UNKNOWN_0x1000"
    assert CipherSuite.TLS_AES_128_GCM_SHA256 in info.cipher_suites


def test_client_offer_names_unknown_codes_without_enum_members(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`client_offer` (logs, `tlskit serve`'s page) names every code; an unknown one
    went through the enum's pseudo-member (`_OpenEnum._missing_`: ~300 bytes and ~2 us
    each, 72 ms for the hostile hello, 30 handshakes' worth). Counted, not timed: naming
    the hostile hello's 32,000 unknown suites makes no pseudo-member (before: one each)."""
    conn = ServerConnection(server_config())
    conn.receive_data(_hostile_hello("suites"))
    made: list[int] = []
    original = enums._OpenEnum._missing_.__func__  # type: ignore[attr-defined]

    def counting(cls: type, value: object) -> object:
        made.append(1)
        return original(cls, value)
    monkeypatch.setattr(enums._OpenEnum, "_missing_", classmethod(counting))
    assert CipherSuite(0x1001).name == "UNKNOWN_0x1001" and made == [1]  # (the count works)
    made.clear()
    names = conn.client_offer["cipher_suites"]
    assert len(names) > len(UNKNOWN)  # type: ignore[arg-type]
    assert made == []
    offer = ServerConnection(server_config())
    offer.receive_data(_hostile_hello("suites"))
    names = offer.client_offer["cipher_suites"]
    assert names[0] == "UNKNOWN_0x1000" == CipherSuite(0x1000).name  # type: ignore[index]
    assert "TLS_AES_128_GCM_SHA256" in names  # type: ignore[operator]
