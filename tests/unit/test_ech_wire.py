"""The ECH codec (tlskit.wire.ech) and config selection (tlskit.handshake.ech):
strict decoding with decode_error, round trips, and which configs a client skips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tlskit.enums import AlertDescription as AD
from tlskit.errors import DecodeError, IllegalParameter, TLSError
from tlskit.handshake.ech import choose_config, parse_config_list, valid_public_name
from tlskit.handshake.ech_server import decode_inner
from tlskit.wire import ech
from tlskit.wire import messages as m

X25519 = 0x0020
KEY = bytes(range(32))
AES128 = ech.CipherSuite(1, 1)


def config(config_id: int = 1, *, kem: int = X25519, key: bytes = KEY,
           suites: tuple[ech.CipherSuite, ...] = (AES128,), name: bytes = b"public.example",
           exts: tuple[ech.ConfigExtension, ...] = ()) -> ech.ECHConfig:
    return ech.ECHConfig.build(config_id, kem, key, list(suites), name, 64, list(exts))


# A list `bssl-tool generate-ech -public-name public.example -config-id 1` wrote.
BSSL_LIST = bytes.fromhex(
    "0045fe0d00410100200020a3cf23e1c8423f8ea68de98062835fe63bf18dcf722d8fb12397cfc727d266"
    "6100080001000100010003000e7075626c69632e6578616d706c650000")


def test_bssl_generated_list_decodes() -> None:
    (c,) = ech.decode_config_list(BSSL_LIST)
    assert (c.version, c.config_id, c.kem_id, c.public_name) == (
        0xFE0D, 1, X25519, b"public.example")
    assert c.cipher_suites == (ech.CipherSuite(1, 1), ech.CipherSuite(1, 3))
    assert c.maximum_name_length == 0 and c.extensions == ()
    assert ech.encode_config_list([c]) == BSSL_LIST
    assert parse_config_list(BSSL_LIST) == (c, AES128)


def test_round_trip_with_unknown_version_kept() -> None:
    other = ech.ECHConfig(0xFE0C, b"anything at all")
    data = ech.encode_config_list([other, config(2)])
    decoded = ech.decode_config_list(data)
    assert decoded == [other, config(2)]
    assert choose_config(decoded) == (config(2), AES128)


@pytest.mark.parametrize("data, why", [
    (b"", "empty"),
    (b"\x00\x00", "an empty list (ECHConfigList<4..>)"),
    (BSSL_LIST[:-1], "truncated"),
    (BSSL_LIST + b"\x00", "trailing bytes after the list"),
    (b"\x00\x04\xfe\x0d\x00\x00", "0xfe0d contents empty"),
    (b"\x00\x04\xfe\x0c\x00\x05", "an unknown version's length past the list"),
])
def test_malformed_lists_are_decode_error(data: bytes, why: str) -> None:
    with pytest.raises(DecodeError) as info:
        ech.decode_config_list(data)
    assert info.value.alert == AD.decode_error, why


def _contents(*, suites: bytes = b"\x00\x04\x00\x01\x00\x01", name: bytes = b"\x01a",
              exts: bytes = b"\x00\x00", tail: bytes = b"") -> bytes:
    body = b"\x01\x00\x20\x00\x20" + KEY + suites + b"\x00" + name + exts + tail
    return ech.encode_config_list([ech.ECHConfig(0xFFFF, body)]).replace(
        b"\xff\xff", b"\xfe\x0d", 1)


@pytest.mark.parametrize("data", [
    _contents(suites=b"\x00\x00"),  # cipher_suites<4..>
    _contents(suites=b"\x00\x06\x00\x01\x00\x01\x00\x01"),  # not a multiple of 4
    _contents(name=b"\x00"),  # public_name<1..255>
    _contents(exts=b"\x00\x08\x00\x01\x00\x00\x00\x01\x00\x00"),  # a type twice
    _contents(tail=b"\x00"),  # bytes after the extensions
], ids=["no-suites", "odd-suites", "empty-name", "duplicate-extension", "trailing"])
def test_malformed_contents_are_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        ech.decode_config_list(data)
    assert ech.decode_config_list(_contents())  # (the unmutated one decodes)


@pytest.mark.parametrize("skipped", [
    config(kem=0x0010),  # P-256: not implemented
    config(suites=(ech.CipherSuite(1, 0xFFFF), ech.CipherSuite(9, 1))),  # export-only, kdf 9
    config(exts=(ech.ConfigExtension(0x8001, b""),)),  # a mandatory extension
    config(name=b"192.168.0.1"),  # the last label all digits
    config(name=b"a..b"),
    config(name=b".example"),
    config(name=b"0x7f"),
    config(key=bytes(31)),
], ids=["kem", "suites", "mandatory-ext", "ipv4-name", "empty-label", "leading-dot",
        "hex-label", "short-key"])
def test_unusable_configs_are_skipped(skipped: ech.ECHConfig) -> None:
    assert choose_config([skipped]) is None
    assert choose_config([skipped, config(9)]) == (config(9), AES128)
    with pytest.raises(ValueError, match="no ECH config tlskit can use"):
        parse_config_list(ech.encode_config_list([skipped]))


def test_optional_unknown_extension_is_fine_and_suite_order_is_the_configs() -> None:
    chacha = ech.CipherSuite(1, 3)
    c = config(suites=(ech.CipherSuite(1, 0xFFFF), chacha, AES128),
               exts=(ech.ConfigExtension(0x0001, b"x"),))
    assert choose_config([c]) == (c, chacha)


def test_parse_config_list_names_the_problem() -> None:
    with pytest.raises(ValueError, match="not an ECHConfigList"):
        parse_config_list(b"\x00")


def test_public_name_rules() -> None:
    assert valid_public_name(b"public.example") and valid_public_name(b"a-b.c1")
    assert valid_public_name(b"example.0x1g")  # not hex: a name
    for bad in (b"", b"a.", b"exa mple", b"\xc3\xa9.example", b"a" * 64, b"10.0.0.1"):
        assert not valid_public_name(bad), bad
    # RFC 5890 2.3.1: an LDH label neither starts nor ends with a hyphen
    for bad in (b"-public.example", b"public-.example", b"public.-example"):
        assert not valid_public_name(bad), bad


def test_client_hello_extension() -> None:
    outer = ech.OuterHello(AES128, 7, b"e" * 32, b"p" * 40)
    assert ech.decode_client_hello_ext(outer.encode()) == outer
    assert ech.decode_client_hello_ext(ech.INNER_BODY) is None
    retry = ech.OuterHello(AES128, 7, b"", b"p")  # the HRR answer has no enc
    assert ech.decode_client_hello_ext(retry.encode()) == retry
    with pytest.raises(IllegalParameter):
        ech.decode_client_hello_ext(b"\x02")
    with pytest.raises(DecodeError):
        ech.decode_client_hello_ext(ech.INNER_BODY + b"\x00")
    with pytest.raises(DecodeError):  # payload<1..>
        ech.decode_client_hello_ext(ech.OuterHello(AES128, 7, b"", b"").encode())


def test_outer_extensions_and_confirmation() -> None:
    assert ech.decode_outer_extensions(ech.encode_outer_extensions([10, 51])) == [10, 51]
    for bad in (b"\x00", b"\x01\x00", b"\x03\x00\x0a\x00", b"\x02\x00\x0a\x00"):
        with pytest.raises(DecodeError):
            ech.decode_outer_extensions(bad)
    with pytest.raises(ValueError):
        ech.encode_outer_extensions([])
    assert ech.decode_hrr_confirmation(bytes(8)) == bytes(8)
    for bad in (bytes(7), bytes(9)):
        with pytest.raises(DecodeError):
            ech.decode_hrr_confirmation(bad)
    with pytest.raises(DecodeError):
        ech.decode_retry_configs(b"\x00\x00")


# --- properties ---------------------------------------------------------------------------

_SUITE = st.builds(ech.CipherSuite, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
_EXT = st.builds(ech.ConfigExtension, st.integers(0, 0xFFFF), st.binary(max_size=8))
_CONFIG = st.builds(
    ech.ECHConfig.build, st.integers(0, 255), st.integers(0, 0xFFFF),
    st.binary(min_size=1, max_size=40), st.lists(_SUITE, min_size=1, max_size=4),
    st.binary(min_size=1, max_size=40), st.integers(0, 255),
    st.lists(_EXT, max_size=3, unique_by=lambda e: e.type))


@given(st.lists(_CONFIG, min_size=1, max_size=3))
def test_any_config_list_round_trips(configs: list[ech.ECHConfig]) -> None:
    data = ech.encode_config_list(configs)
    assert ech.decode_config_list(data) == configs
    chosen = choose_config(configs)
    if chosen is not None:
        assert chosen[0] in configs and chosen[1] in chosen[0].cipher_suites


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_are_decode_error(data: bytes) -> None:
    for decode in (ech.decode_config_list, ech.decode_outer_extensions,
                   ech.decode_hrr_confirmation, ech.decode_client_hello_ext):
        try:
            decode(data)
        except TLSError as exc:
            assert exc.alert in (AD.decode_error, AD.illegal_parameter), exc


@given(st.lists(_CONFIG, min_size=1, max_size=2), st.data())
def test_a_corrupted_list_decodes_or_is_decode_error(configs: list[ech.ECHConfig],
                                                     data: st.DataObject) -> None:
    raw = bytearray(ech.encode_config_list(configs))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    for candidate in (bytes(raw), bytes(raw[:cut])):
        try:
            decoded = ech.decode_config_list(candidate)
        except DecodeError:
            continue
        assert ech.encode_config_list(decoded) == candidate


# --- the server's EncodedClientHelloInner reader ------------------------------------------

def _outer() -> m.ClientHello:
    return m.ClientHello(bytes(32), b"s" * 32, [0x1301], m.Extensions({
        10: b"\x00\x02\x00\x1d", 51: b"\x00\x24\x00\x1d\x00\x20" + bytes(32)}))


def _encoded_inner(refs: list[int], padding: int) -> bytes:
    exts = m.Extensions({43: b"\x02\x03\x04", 0xFE0D: ech.INNER_BODY})
    if refs:
        exts[0xFD00] = ech.encode_outer_extensions(refs)
    return m.ClientHello(bytes(range(32)), b"", [0x1301], exts).encode()[4:] + bytes(padding)


@given(st.sampled_from([[], [10], [51], [10, 51]]), st.integers(0, 40))
def test_inner_hello_expands_from_the_outer(refs: list[int], padding: int) -> None:
    inner = decode_inner(_encoded_inner(refs, padding), _outer())
    assert inner.session_id == b"s" * 32
    assert [t for t in inner.extensions if t in (10, 51)] == refs
    assert all(inner.extensions[t] == _outer().extensions[t] for t in refs)


@given(st.binary(max_size=200))
def test_any_inner_hello_bytes_decode_or_are_refused(data: bytes) -> None:
    try:
        decode_inner(data, _outer())
    except TLSError as exc:
        assert exc.alert in (AD.decode_error, AD.illegal_parameter), exc


@given(st.data())
def test_a_corrupted_inner_hello_decodes_or_is_refused(data: st.DataObject) -> None:
    raw = bytearray(_encoded_inner([10, 51], 8))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] = data.draw(st.integers(0, 255))
    try:
        decode_inner(bytes(raw), _outer())
    except TLSError as exc:
        assert exc.alert in (AD.decode_error, AD.illegal_parameter), exc
