"""The TLS 1.3 messages' one-step encoders and decoders equal the layout's checked ones.

ServerHello, EncryptedExtensions, CertificateVerify and Certificate (and the server's
ClientHello reader) are decoded in one pass when well formed and through
`checked_decode` otherwise; their `encode` builds the bytes in one step. Each pair is
compared here on generated messages, on every truncation and one-byte change of their
encodings, and on random bytes: same message or same error (type and text). The engine
cuts the messages of a record without copying them into the reassembly buffer; a key
change inside a record is still refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit.errors import DecodeError, IllegalParameter, UnexpectedMessage
from tlskit.handshake import server13
from tlskit.handshake.hello import decode_client_hello
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m
from tlskit.wire.codec import Writer
from tlskit.wire.layout import Struct

from .test_messages_roundtrip import MESSAGES

SETTINGS = settings(max_examples=150, deadline=None)

FAST = [m.ServerHello, m.EncryptedExtensions, m.CertificateVerify, m.Certificate]


def _outcome(fn: Any, body: bytes) -> tuple[str, Any]:
    try:
        return "ok", fn(memoryview(body))
    except (DecodeError, IllegalParameter) as exc:
        return type(exc).__name__, str(exc)


def _checked(cls: Any) -> Any:
    return cls.checked_decode


def _variants(body: bytes) -> list[bytes]:
    """The body, every truncation, a byte more, and a few one-byte changes."""
    out = [body, body + b"\x00", body + b"\x00\x00\x00\x00"]
    out += [body[:n] for n in range(len(body))]
    for at in range(0, len(body), max(1, len(body) // 12)):
        for value in (0, 1, 0xFF, body[at] ^ 0x80):
            out.append(body[:at] + bytes((value,)) + body[at + 1:])
    return out


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_one_step_decoders_answer_as_the_checked_ones(cls: Any) -> None:
    @SETTINGS
    @given(MESSAGES[cls])
    def check(msg: Any) -> None:
        body = msg.encode()[4:]
        assert cls.decode(memoryview(body)) == msg
        for variant in _variants(body):
            assert _outcome(cls.decode, variant) == _outcome(_checked(cls), variant)
    check()


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
@SETTINGS
@given(data=st.binary(max_size=120))
def test_one_step_decoders_on_random_bytes(cls: Any, data: bytes) -> None:
    assert _outcome(cls.decode, data) == _outcome(_checked(cls), data)


# Bodies built from honest lengths around values the grammar refuses (an empty
# cert_data, a session id over 32 bytes, a repeated extension, an absent block).
def _u(n: int, width: int) -> bytes:
    return n.to_bytes(width, "big")


def _vec(data: bytes, width: int) -> bytes:
    return _u(len(data), width) + data


_entries = st.lists(st.tuples(st.sampled_from([0, 5, 43, 51, 0xFFFF]), st.binary(max_size=6)),
                    max_size=4)
_session_ids = st.sampled_from([0, 1, 31, 32, 33, 34]).map(lambda n: bytes(range(n)))
_blocks = st.one_of(st.just(b""), _entries.map(
    lambda items: _vec(b"".join(_u(t, 2) + _vec(b, 2) for t, b in items), 2)))
_raw_bodies = {
    m.ServerHello: st.builds(
        lambda v, sid, tail, block: _u(v, 2) + bytes(32) + _vec(sid, 1) + tail + block,
        st.integers(0, 0xFFFF), _session_ids, st.binary(min_size=3, max_size=3),
        _blocks),
    m.EncryptedExtensions: _blocks,
    m.CertificateVerify: st.builds(lambda a, sig: _u(a, 2) + _vec(sig, 2),
                                   st.integers(0, 0xFFFF), st.binary(max_size=8)),
    m.Certificate: st.builds(
        lambda ctx, entries: _vec(ctx, 1) + _vec(b"".join(
            _vec(der, 3) + block for der, block in entries), 3),
        st.binary(max_size=3), st.lists(st.tuples(st.binary(max_size=4), _blocks), max_size=3)),
    m.ClientHello: st.builds(
        lambda sid, suites, comp, block: b"\x03\x03" + bytes(32) + _vec(sid, 1)
        + _vec(suites, 2) + _vec(comp, 1) + block,
        _session_ids, st.binary(max_size=5), st.binary(max_size=2), _blocks),
}


@pytest.mark.parametrize("cls", [*FAST, m.ClientHello], ids=lambda c: c.__name__)
def test_one_step_decoders_on_bodies_at_the_grammar_limits(cls: Any) -> None:
    fast = decode_client_hello if cls is m.ClientHello else cls.decode

    @settings(max_examples=400, deadline=None)
    @given(_raw_bodies[cls])
    def check(body: bytes) -> None:
        for variant in (body, body + b"\x00", body[:-1]):
            assert _outcome(fast, variant) == _outcome(_checked(cls), variant)
    check()


def test_client_hello_reader_answers_as_the_checked_one() -> None:
    @SETTINGS
    @given(MESSAGES[m.ClientHello])
    def check(msg: m.ClientHello) -> None:
        body = msg.encode()[4:]
        assert decode_client_hello(memoryview(body)) == msg
        for variant in _variants(body):
            assert (_outcome(decode_client_hello, variant)
                    == _outcome(m.ClientHello.checked_decode, variant))
    check()


@pytest.mark.parametrize("cls", [m.ClientHello, m.ServerHello, m.EncryptedExtensions,
                                 m.CertificateVerify], ids=lambda c: c.__name__)
def test_one_step_encoders_write_the_layout_bytes(cls: Any) -> None:
    @SETTINGS
    @given(MESSAGES[cls])
    def check(msg: Any) -> None:
        assert msg.encode() == Struct.checked_encode(msg)
    check()


@pytest.mark.parametrize("msg", [
    m.ServerHello(bytes(31), b"", 0x1301, m.Extensions()),          # short random
    m.ServerHello(bytes(33), b"\x01" * 32, 0x1301, m.Extensions({43: b"\x03\x04"})),
    m.CertificateVerify(0x0403, b""),                                # empty signature
    m.ClientHello(bytes(31), b"", [0x1301], m.Extensions()),
    m.ClientHello(bytes(32), b"", [], m.Extensions(), compression_methods=b""),
], ids=["short-random", "long-random", "empty-signature", "hello-short-random",
        "hello-empty-lists"])
def test_odd_messages_encode_as_the_layout_does(msg: Any) -> None:
    assert msg.encode() == Struct.checked_encode(msg)


@pytest.mark.parametrize("msg", [
    m.ServerHello(bytes(32), bytes(256), 0x1301, m.Extensions()),
    m.ServerHello(bytes(32), b"", 0x1301, m.Extensions(), compression_method=256),
    m.ServerHello(bytes(32), b"", 0x10000, m.Extensions()),
    m.CertificateVerify(0x10000, b"sig"),
    m.CertificateVerify(0x0403, bytes(0x10000)),
    m.EncryptedExtensions(m.Extensions({1: bytes(0xFFFF)})),
    m.ClientHello(bytes(32), bytes(256), [0x1301], m.Extensions()),
    m.ClientHello(bytes(32), b"", [0x10000], m.Extensions()),
    m.ClientHello(bytes(32), b"", [0x1301] * 0x8000, m.Extensions()),
    m.ClientHello(bytes(32), b"", [0x1301], m.Extensions(), compression_methods=bytes(256)),
    m.ClientHello(bytes(32), b"", [0x1301], m.Extensions(), legacy_version=-1),
], ids=["long-session-id", "compression-256", "suite-17-bits", "scheme-17-bits",
        "long-signature", "long-block", "hello-long-session-id", "hello-suite-17-bits",
        "hello-too-many-suites", "hello-long-compression", "hello-negative-version"])
def test_unencodable_messages_fail_as_the_layout_does(msg: Any) -> None:
    def outcome(fn: Any) -> tuple[str, str]:
        try:
            fn()
        except Exception as exc:  # the type is what is compared
            return type(exc).__name__, ""
        return "ok", ""
    assert outcome(msg.encode) == outcome(lambda: Struct.checked_encode(msg))
    assert outcome(msg.encode)[0] != "ok"


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_well_formed_messages_take_the_one_step_path(cls: Any, monkeypatch: Any) -> None:
    """What the tests above compare is really the one-step code: for a well-formed
    message the checked decoder is never called."""
    share = b"\x00\x1d\x00\x01\x09"
    msg = {m.ServerHello: m.ServerHello(bytes(32), b"\x07" * 32, 0x1301,
                                        m.Extensions({51: share, 43: b"\x03\x04"})),
           m.EncryptedExtensions: m.EncryptedExtensions(m.Extensions({0: b""})),
           m.CertificateVerify: m.CertificateVerify(0x0403, b"sig"),
           m.Certificate: m.Certificate(b"", [m.CertificateEntry(b"der", m.Extensions({5: b"x"})),
                                              m.CertificateEntry(b"der2")])}[cls]
    body = msg.encode()[4:]

    def refuse(*args: Any) -> None:
        raise AssertionError("the checked decoder was used")
    monkeypatch.setattr(cls, "checked_decode", refuse)
    assert cls.decode(memoryview(body)) == msg


def test_the_server_reads_client_hellos_with_its_one_step_reader() -> None:
    from tlskit.enums import HandshakeType
    assert server13.ServerHandshake13.decoders[HandshakeType.client_hello] is decode_client_hello
    for msg_type, cls in m.DECODERS.items():
        if msg_type != HandshakeType.client_hello:
            assert server13.ServerHandshake13.decoders[msg_type] == cls.decode


def test_unknown_types_are_still_unexpected_message() -> None:
    from tlskit.handshake.common import Handshake13
    with pytest.raises(UnexpectedMessage):
        Handshake13.decode_message(Handshake13.__new__(Handshake13), 99, memoryview(b""))


# --- cutting messages from records --------------------------------------------------------

def _handshake_with_chunks(monkeypatch: Any, size: int) -> tuple[Any, Any, list[Any]]:
    """A full TLS 1.3 handshake (with a ticket) whose handshake records reach the engine
    in pieces of `size` bytes: partly through the reassembly buffer, partly cut from
    the record."""
    from tlskit import ClientConnection, HandshakeComplete, ServerConnection
    from tlskit.handshake.common import Handshake

    from ..support.pki import client_config, server_config
    from ..support.pump import pump

    original = Handshake.receive_record

    def in_pieces(hs: Handshake, payload: bytes) -> None:
        for at in range(0, len(payload), size):
            original(hs, payload[at:at + size])
            if hs.successor is not None:
                return
    monkeypatch.setattr(Handshake, "receive_record", in_pieces)
    c = ClientConnection(client_config(), server_name="localhost")
    s = ServerConnection(server_config())
    events = pump(c, s)
    assert [e for e in events if isinstance(e, HandshakeComplete)]
    return c, s, events


@pytest.mark.parametrize("size", [1, 3, 4, 5, 37, 100, 1 << 20])
def test_messages_split_anywhere_give_the_same_handshake(monkeypatch: Any, size: int) -> None:
    from tlskit import DataReceived

    from ..support.pump import pump
    c, s, _ = _handshake_with_chunks(monkeypatch, size)
    assert c.handshake_complete is not None and s.handshake_complete is not None
    c.send_data(b"ping")
    assert [e.data for e in pump(c, s) if isinstance(e, DataReceived)] == [b"ping"]



# --- key_share bodies -------------------------------------------------------------------

def _writer_key_share_client(shares: list[tuple[int, bytes]]) -> bytes:
    """The key_share encoding through `Writer`, as the encoder was written before."""
    w = Writer()
    with w.prefixed(2):
        for group, key in shares:
            w.u16(group)
            w.bytes16(key)
    return bytes(w.buf)


_shares = st.lists(st.tuples(st.sampled_from([0, 0x1D, 0x17, 0x11EC, 0xFFFF]),
                             st.binary(max_size=5)), max_size=4)


@SETTINGS
@given(_shares)
def test_key_share_encoders_write_what_the_writer_wrote(shares: list[tuple[int, bytes]]) -> None:
    assert ext.encode_key_share_client(shares) == _writer_key_share_client(shares)
    for group, key in shares:
        w = Writer()
        w.u16(group)
        w.bytes16(key)
        assert ext.encode_key_share_server(group, key) == bytes(w.buf)


@settings(max_examples=400, deadline=None)
@given(_shares, st.binary(max_size=3))
def test_client_key_share_reader_answers_as_the_checked_one(
        shares: list[tuple[int, bytes]], tail: bytes) -> None:
    body = _writer_key_share_client(shares)
    for variant in (body, body + tail, body[:-1], tail + body, body[2:]):
        assert (_outcome(lambda b: ext.decode_key_share_client(bytes(b)), variant)
                == _outcome(lambda b: ext._decode_key_share_client(bytes(b)), variant))


@pytest.mark.parametrize("shares", [[(0x1D, bytes(70000))], [(0x10000, b"k")]],
                         ids=["long-key", "group-17-bits"])
def test_unencodable_key_shares_fail_as_the_writer_did(shares: list[tuple[int, bytes]]) -> None:
    with pytest.raises(Exception) as ours:
        ext.encode_key_share_client(shares)
    with pytest.raises(Exception) as writer:
        _writer_key_share_client(shares)
    assert type(ours.value) is type(writer.value)


def test_plain_member_namespaces_hold_the_enum_members_themselves() -> None:
    from tlskit.enums import ExtensionType
    from tlskit.handshake import client13
    from tlskit.handshake.common import members
    plain = members(ExtensionType)
    for name, member in ExtensionType.__members__.items():
        assert getattr(plain, name) is member
    assert server13._E.key_share is client13._E.key_share is ExtensionType.key_share
    assert not isinstance(plain, type(ExtensionType))  # an ordinary class: fast reads


def test_state_and_type_namespaces_are_plain_and_hold_the_members() -> None:
    from tlskit.enums import HandshakeType, ProtocolVersion, PskKeyExchangeMode
    from tlskit.handshake import client13
    for module in (client13, server13):
        for plain, enum_cls in ((module._S, module.State), (module._HT, HandshakeType)):
            assert not isinstance(plain, type(enum_cls))
            for name, member in enum_cls.__members__.items():
                assert getattr(plain, name) is member
    for module in (client13, server13):
        for name, member in ProtocolVersion.__members__.items():
            assert getattr(module._PV, name) is member
    assert server13._TLS13_BYTES == b"\x03\x04"
    assert client13._PSK_DHE_KE is PskKeyExchangeMode.psk_dhe_ke
    from tlskit.handshake import common
    assert common._CLIENT_HELLO is HandshakeType.client_hello
    assert common._TLS13 is ProtocolVersion.TLSv1_3


@SETTINGS
@given(st.integers(0, 0xFFFF))
def test_module_converters_answer_as_of(value: int) -> None:
    from tlskit.enums import CipherSuite, NamedGroup, SignatureScheme, group_of, scheme_of, suite_of
    for convert, enum_cls in ((group_of, NamedGroup), (scheme_of, SignatureScheme),
                              (suite_of, CipherSuite)):
        ours, theirs = convert(value), enum_cls.of(value)
        assert type(ours) is type(theirs) is enum_cls
        assert ours == theirs == value and ours.name == theirs.name == enum_cls(value).name
        if value in enum_cls._value2member_map_:
            assert ours is enum_cls(value)


def test_every_known_member_converts_to_itself() -> None:
    from tlskit.enums import CipherSuite, NamedGroup, SignatureScheme, group_of, scheme_of, suite_of
    for convert, enum_cls in ((group_of, NamedGroup), (scheme_of, SignatureScheme),
                              (suite_of, CipherSuite)):
        for member in enum_cls:
            assert convert(int(member)) is member
        assert convert(0xFAFA).name == "UNKNOWN_0xfafa"


@pytest.mark.parametrize("group", [29, 30])
def test_montgomery_shares_match_the_public_api(group: int) -> None:
    """The per-group table the shares use gives what cryptography's public classmethods
    give: same public value, same shared secret, same refusal of a small-order point."""
    from cryptography.hazmat.primitives.asymmetric import x448, x25519

    from tlskit import crypto
    from tlskit.errors import IllegalParameter
    size, private_cls, public_cls = ((32, x25519.X25519PrivateKey, x25519.X25519PublicKey)
                                     if group == 29 else
                                     (56, x448.X448PrivateKey, x448.X448PublicKey))
    member, table_size, make_private, make_public = crypto._MONTGOMERY[group]
    assert member is crypto.NamedGroup(group) and table_size == size
    assert make_private == private_cls.from_private_bytes  # the public API, chosen once
    assert make_public == public_cls.from_public_bytes
    seeds = [bytes([i + 1]) * size for i in range(2)]
    ours = [crypto._MontgomeryShare(group, lambda n, s=s: s) for s in seeds]
    keys = [private_cls.from_private_bytes(s) for s in seeds]
    for share, key in zip(ours, keys, strict=True):
        assert isinstance(share._key, private_cls)
        assert share.public == key.public_key().public_bytes_raw()
    assert ours[0].exchange(ours[1].public) == keys[0].exchange(keys[1].public_key())
    with pytest.raises(IllegalParameter, match="low-order point: the shared secret"):
        ours[0].exchange(bytes(size))  # the all-zero point: an all-zero secret (RFC 7748 6)
    with pytest.raises(IllegalParameter, match=f"is not {size} bytes"):
        ours[0].exchange(bytes(size - 1))


def test_rfc7748_x25519_vector_through_a_share() -> None:
    """RFC 7748 6.1: Alice's private key and Bob's public key give the shared K."""
    from tlskit import crypto
    alice = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    bob_public = bytes.fromhex(
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    share = crypto.new_key_share(29, lambda n: alice)
    assert share.group is crypto.NamedGroup.x25519
    assert share.public == bytes.fromhex(
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    assert share.exchange(bob_public) == bytes.fromhex(
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
