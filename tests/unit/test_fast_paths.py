"""The handshake's one-step readers and once-per-process work give the same answers as the
general paths, and share nothing that would skip a check.

Extension blocks and the fixed-shape extensions are read in one step when well formed and
through `Reader` otherwise; parsed certificates are shared by DER (`tlskit.x509.parsed`)
but every handshake still validates the chain; negotiated values are named through
`_OpenEnum.of`; ClientHello extension bodies are encoded once per `ClientConfig`.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit import AlertDescription, ClientConnection, ServerConnection, TLSError
from tlskit.enums import CipherSuite, ExtensionType, NamedGroup, SignatureScheme
from tlskit.errors import DecodeError, IllegalParameter
from tlskit.handshake.common import parse_chain
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m
from tlskit.wire.codec import Reader, Writer
from tlskit.x509 import parsed

from ..support.pki import client_config, pki, server_config
from ..support.pump import pump

SETTINGS = settings(max_examples=300, deadline=None)


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    """A decoder's result, or the error it raised (type and message)."""
    try:
        return "ok", fn(*args)
    except (DecodeError, IllegalParameter) as exc:
        return type(exc).__name__, str(exc)


# --- extension blocks -------------------------------------------------------------------

def _block(items: list[tuple[int, bytes]]) -> bytes:
    body = b"".join(struct.pack(">HH", t, len(b)) + b for t, b in items)
    return struct.pack(">H", len(body)) + body


def _both(data: bytes) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """(one-step decode, checked decode) of an extensions block, with what is left."""
    def read(decode: Any) -> Any:
        r = Reader(data)
        exts = decode(r, "ClientHello")
        return list(exts.items()), r.remaining
    def checked(r: Reader, what: str) -> m.Extensions:
        return m.Extensions.decode_block(r.vec16(what=f"{what} extensions"), what)
    return (_outcome(read, m.Extensions.decode), _outcome(read, checked))


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40)), max_size=12),
       st.binary(max_size=4))
def test_well_formed_blocks_read_alike(items: list[tuple[int, bytes]], tail: bytes) -> None:
    fast, checked = _both(_block(items) + tail)
    assert fast == checked
    unique = len({t for t, _ in items}) == len(items)
    assert (fast[0] == "ok") == unique  # a repeated type is illegal_parameter (4.2)


@SETTINGS
@given(st.binary(min_size=1, max_size=80))
def test_malformed_blocks_fail_alike(data: bytes) -> None:
    fast, checked = _both(data)
    assert fast == checked


def test_a_duplicate_extension_names_itself() -> None:
    fast, _ = _both(_block([(0, b""), (43, b"\x02\x03\x04"), (43, b"")]))
    assert fast == ("IllegalParameter", "ClientHello: duplicate extension supported_versions")


def test_extensions_encode_like_the_writer_did() -> None:
    exts = m.Extensions({0: b"abc", 43: b"\x02\x03\x04", 0xFFFF: b""})
    w = Writer()
    exts.encode(w)
    assert bytes(w.buf) == _block(list(exts.items()))
    too_long = m.Extensions({1: bytes(0xFFF0), 2: bytes(0x20)})
    with pytest.raises(ValueError, match="2-byte length"):
        too_long.encode(Writer())


# --- fixed-shape extensions: the one-step read against a Reader-only reference ---------

def _ref_u16_list(body: bytes, what: str) -> list[int]:
    r = Reader(body)
    out = r.u16_list(2, what)
    r.end(f"{what} extension")
    return out


def _ref_versions(body: bytes) -> list[int]:
    r = Reader(body)
    out = r.u16_list8(2, "supported_versions")
    r.end("supported_versions extension")
    return out


def _ref_key_share_server(body: bytes) -> tuple[int, bytes]:
    r = Reader(body)
    group, key = r.u16(), r.bytes16(1, "key_exchange")
    r.end("key_share extension")
    return group, key


def _ref_u16(what: str) -> Any:
    def read(body: bytes) -> int:
        r = Reader(body)
        value = r.u16()
        r.end(f"{what} extension")
        if what == "record_size_limit" and value < 64:
            raise IllegalParameter(f"record_size_limit {value} is below the minimum of 64")
        return value
    return read


def _ref_server_name(body: bytes) -> str | None:
    r = Reader(body)
    names = r.vec16(1, "server_name_list")
    r.end("server_name extension")
    host = None
    while names.remaining:
        kind, value = names.u8(), names.bytes16(1, "HostName")
        if kind == 0:
            if host is not None:
                raise IllegalParameter("server_name: more than one host_name")
            try:
                host = value.decode("ascii")
            except UnicodeDecodeError:
                raise IllegalParameter("server_name: host_name is not ASCII") from None
            if host.endswith(".") or not host.isprintable():
                raise IllegalParameter("server_name: malformed host_name (a trailing dot "
                                       "or a control character)")
    return host


PAIRS = [
    (lambda b: ext.decode_u16_list(b, "supported_groups"),
     lambda b: _ref_u16_list(b, "supported_groups")),
    (ext.decode_versions_client, _ref_versions),
    (ext.decode_key_share_server, _ref_key_share_server),
    (ext.decode_version_server, _ref_u16("supported_versions")),
    (ext.decode_record_size_limit, _ref_u16("record_size_limit")),
    (ext.decode_server_name, _ref_server_name),
]


def _shaped(data: bytes, prefix: int) -> bytes:
    """`data` behind a correct length prefix (most random inputs are then well formed)."""
    return len(data).to_bytes(prefix, "big") + data


@SETTINGS
@given(st.integers(0, len(PAIRS) - 1), st.binary(min_size=1, max_size=24),
       st.sampled_from(["raw", "vec8", "vec16", "sni"]))
def test_fixed_shape_readers_match_the_reader(index: int, data: bytes, shape: str) -> None:
    body = {"raw": data, "vec8": _shaped(data, 1), "vec16": _shaped(data, 2),
            "sni": _shaped(b"\x00" + _shaped(data, 2), 2)}[shape]
    fast, reference = PAIRS[index]
    assert _outcome(fast, body) == _outcome(reference, body)


# --- parsed certificates are shared; validation is not ----------------------------------

def test_the_same_der_gives_the_same_certificate_and_its_bytes() -> None:
    der = pki().server.chain[0].public_bytes(Encoding.DER)
    first, again = parsed.load_der(bytes(der)), parsed.load_der(bytes(der))
    assert first is again
    assert parsed.load_der(memoryview(bytearray(der))) is first  # any buffer, same key
    assert parsed.der_of(first) == der
    other = x509.load_der_x509_certificate(der)
    assert other is not first and parsed.der_of(other) == der  # encoded when not seen


def test_the_parsed_certificates_kept_are_the_recently_used_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the bound the least recently used certificate goes, not all of them: a client
    meeting one server again among many others keeps its parsed leaf."""
    monkeypatch.setattr(parsed, "MAX_ENTRIES", 4)
    monkeypatch.setattr(parsed, "_BY_DER", {})
    monkeypatch.setattr(parsed, "_DER_BY_ID", {})
    ders = [_self_signed(f"n{i}.example") for i in range(6)]
    first = parsed.load_der(ders[0])
    for der in ders[1:4]:
        parsed.load_der(der)
    assert parsed.load_der(ders[0]) is first  # used again: now the most recent
    second = parsed.load_der(ders[1])
    parsed.load_der(ders[4])  # full: the least recently used (ders[2]) goes
    parsed.load_der(ders[5])  # and then ders[3]
    assert parsed.load_der(ders[0]) is first and parsed.load_der(ders[1]) is second
    assert len(parsed._BY_DER) == 4 and ders[2] not in parsed._BY_DER
    assert parsed.der_of(first) == ders[0]
    assert all(id(cert) in parsed._DER_BY_ID for cert in parsed._BY_DER.values())


def _self_signed(host: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(Encoding.DER)


def test_an_unparseable_certificate_is_still_bad_certificate() -> None:
    with pytest.raises(TLSError) as info:
        parse_chain([b"\x30\x03\x02\x01\x00"], "server")
    assert info.value.alert == AlertDescription.bad_certificate


def test_a_shared_certificate_is_validated_on_every_handshake() -> None:
    """The second handshake gets the already-parsed leaf, and still finds it expired."""
    leaf = pki().server.chain[0]
    now = [leaf.not_valid_before_utc.timestamp() + 60]
    ccfg = client_config(clock=lambda: now[0])
    scfg = server_config()
    c, s = ClientConnection(ccfg, "localhost"), ServerConnection(scfg)
    pump(c, s)
    assert c.handshake_complete is not None
    now[0] = leaf.not_valid_after_utc.timestamp() + 60
    c, s = ClientConnection(ccfg, "localhost"), ServerConnection(scfg)
    with pytest.raises(TLSError) as info:
        pump(c, s)
    assert info.value.alert == AlertDescription.certificate_expired
    assert c.handshake_complete is None


def test_the_validation_moment_is_the_clocks_second() -> None:
    """The chain is validated at the clock's time rounded down to the second (certificate
    times have no finer granularity), and the trace says so."""
    leaf = pki().server.chain[0]
    second = int(leaf.not_valid_before_utc.timestamp()) + 60
    steps: list[dict[str, Any]] = []
    ccfg = client_config(clock=lambda: second + 0.75,
                         tracer=lambda step, f: steps.append({"step": step, **f}))
    c, s = ClientConnection(ccfg, "localhost"), ServerConnection(server_config())
    pump(c, s)
    assert c.handshake_complete is not None
    [verified] = [f for f in steps if f["step"] == "certificate_verified"]
    assert verified["at"] == datetime.fromtimestamp(second, UTC)
    assert verified["at"].microsecond == 0


# --- enum naming and the ClientHello bodies ---------------------------------------------

@pytest.mark.parametrize("enum", [CipherSuite, NamedGroup, SignatureScheme, ExtensionType])
def test_of_is_the_enum_call(enum: Any) -> None:
    for member in enum:
        assert enum.of(int(member)) is member is enum(int(member))
    unknown = enum.of(0xFAFA)
    assert unknown == 0xFAFA and unknown.name == enum(0xFAFA).name == "UNKNOWN_0xfafa"


def test_hello_bodies_follow_the_config() -> None:
    def hello(**kw: Any) -> m.ClientHello:
        record = ClientConnection(client_config(**kw), "localhost").data_to_send()
        return m.ClientHello.decode(memoryview(record)[9:])
    plain = hello()
    assert ext.decode_u16_list(plain.extensions[ExtensionType.supported_groups],
                               "supported_groups") == [0x001D, 0x0017, 0x0018]
    tuned = hello(groups=["secp256r1"], alpn_protocols=["h2"], versions=["TLSv1.3"],
                  record_size_limit=None)
    exts = tuned.extensions
    assert ext.decode_u16_list(exts[ExtensionType.supported_groups],
                               "supported_groups") == [0x0017]
    assert ext.decode_versions_client(exts[ExtensionType.supported_versions]) == [0x0304]
    assert ext.decode_alpn(exts[ExtensionType.application_layer_protocol_negotiation]) == ["h2"]
    assert ExtensionType.record_size_limit not in exts
    assert ExtensionType.application_layer_protocol_negotiation not in plain.extensions


# --- the extension checks' set shortcut ---------------------------------------------------
# (The client keeps the post-handshake transcript only when post_handshake_auth was
# offered: tests/unit/test_post_handshake_auth.py needs it, and
# tests/hostile/test_client_handshake.py's CertificateRequest without the offer must
# still be unexpected_message, not an internal error, without it.)

def _check_extensions_by_loop(exts: m.Extensions, allowed: frozenset[int],
                              offered: set[int], what: str) -> None:
    """RFC 8446 4.2 as the loop states it, type by type in wire order."""
    from tlskit.errors import UnsupportedExtension
    from tlskit.handshake.common import RECOGNISED
    for etype in exts:
        if etype not in allowed:
            if etype in RECOGNISED:
                raise IllegalParameter(f"{ExtensionType(etype).name} is not allowed in {what}")
            raise UnsupportedExtension(f"unrequested extension {etype} in {what}")
        if etype not in offered:
            raise UnsupportedExtension(
                f"{what} carries {ExtensionType(etype).name}, which was not offered")


_SOME_TYPES = st.sampled_from([0, 5, 10, 16, 41, 43, 44, 45, 51, 0x1234, 0xFF01, 0xFAFA])


@SETTINGS
@given(st.lists(_SOME_TYPES, unique=True, max_size=6), st.frozensets(_SOME_TYPES),
       st.sets(_SOME_TYPES))
def test_check_extensions_set_shortcut_answers_as_the_loop(
        types: list[int], allowed: frozenset[int], offered: set[int]) -> None:
    """The all-allowed-and-offered shortcut passes exactly what the loop passes, and
    anything else still gets the loop's error for the first bad type."""
    from tlskit.errors import UnsupportedExtension
    from tlskit.handshake.common import check_extensions
    exts = m.Extensions({t: b"" for t in types})

    def outcome(fn: Any) -> tuple[str, str]:
        try:
            fn(exts, allowed, offered, "ServerHello")
        except (IllegalParameter, UnsupportedExtension) as exc:
            return type(exc).__name__, str(exc)
        return "ok", ""
    assert outcome(check_extensions) == outcome(_check_extensions_by_loop)


def _struct_messages() -> list[type]:
    from tlskit.wire import messages12  # noqa: F401  (its Structs register as subclasses)
    from tlskit.wire.layout import Struct
    found, todo = [], list(Struct.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return found


@pytest.mark.parametrize("cls", _struct_messages(), ids=lambda c: c.__name__)
def test_struct_field_tables_follow_the_layout(cls: Any) -> None:
    """`Struct.decode`/`encode` loop over (name, reader/writer) pairs taken from LAYOUT
    once per class: the same fields, in wire order, as the layout declares."""
    import dataclasses
    assert tuple((f.name, f.read) for f in cls.LAYOUT) == cls._READERS
    assert tuple((f.name, f.write) for f in cls.LAYOUT) == cls._WRITERS
    assert {name for name, _ in cls._READERS} <= {f.name for f in dataclasses.fields(cls)}
