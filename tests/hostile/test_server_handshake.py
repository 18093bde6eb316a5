"""A hostile client against the tlskit server (RFC 8446 section 4), exact alerts."""

from __future__ import annotations

import os

import pytest

from tlskit import TLSError
from tlskit.enums import ExtensionType as E
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m

from ..support.mitm import frame_messages
from ..support.pki import client_config, other_pki, pki, server_config
from ..support.pump import pump
from ..support.records import HS, plain_alert, record, split_records
from .helpers import (
    AD,
    assert_peer_alert,
    connected_pair,
    edit,
    expect_alert,
    extend_body,
    forge_content,
    make_client,
    make_server,
    on_type,
    recorded_flights,
    replay_server,
    truncate_body,
)

GREASE = [0x0A0A, 0x1A1A, 0x2A2A, 0x3A3A, 0xFAFA]


def hello() -> m.ClientHello:
    """The recorded ClientHello as a dataclass (a fresh copy each time)."""
    raw = recorded_flights().messages["client_hello"]
    return m.ClientHello.decode(memoryview(raw)[4:])


def ext_block(pairs: list[tuple[int, bytes]]) -> bytes:
    body = b"".join(t.to_bytes(2, "big") + len(b).to_bytes(2, "big") + b for t, b in pairs)
    return len(body).to_bytes(2, "big") + body


def hello_with_raw_extensions(pairs: list[tuple[int, bytes]]) -> bytes:
    """A ClientHello message whose extension block is exactly `pairs` (duplicates too)."""
    ch = hello()
    ch.extensions = m.Extensions()
    raw = ch.encode()
    return m.frame(m.HandshakeType.client_hello, raw[4:-2] + ext_block(pairs))


def ch_record(msg: m.ClientHello | bytes) -> bytes:
    raw = msg if isinstance(msg, bytes) else msg.encode()
    return record(HS, raw, 0x0301)


def send_hello(edit_fn, alert, **server_kw):
    ch = hello()
    edit_fn(ch)
    s = make_server(server_config(**server_kw)) if server_kw else replay_server()
    return expect_alert(s, ch_record(ch), alert)


# --- ClientHello contents ---------------------------------------------------------------

@pytest.mark.parametrize("missing", [E.key_share, E.supported_groups, E.signature_algorithms])
def test_client_hello_without_mandatory_extension_is_missing_extension(missing):
    send_hello(lambda ch: ch.extensions.pop(missing), AD.missing_extension)


def test_client_hello_with_only_tls12_is_protocol_version():
    # Against a TLS 1.3-only server (with TLS 1.2 enabled it is a TLS 1.2 handshake).
    send_hello(lambda ch: ch.extensions.pop(E.supported_versions), AD.protocol_version,
               versions=["TLSv1.3"])
    send_hello(lambda ch: ch.extensions.__setitem__(
        E.supported_versions, ext.encode_versions_client([0x0303, 0x0302])), AD.protocol_version,
        versions=["TLSv1.3"])


def test_legacy_client_hello_without_extensions_is_protocol_version():
    ch = hello()
    ch.extensions = m.Extensions()
    raw = ch.encode()[:-2]   # no extensions block at all: a TLS 1.0-style hello
    s = make_server(server_config(versions=["TLSv1.3"]))
    expect_alert(s, ch_record(m.frame(1, raw[4:])), AD.protocol_version)


@pytest.mark.parametrize("suites", [[0x1305], [0xC02F, 0x009C], [0x0A0A]])
def test_no_common_cipher_suite_is_handshake_failure(suites):
    send_hello(lambda ch: setattr(ch, "cipher_suites", suites), AD.handshake_failure)


def test_no_common_group_is_handshake_failure():
    def only_p521(ch):
        ch.extensions[E.supported_groups] = ext.encode_u16_list([0x0019])
        ch.extensions[E.key_share] = ext.encode_key_share_client([(0x0019, b"\x04" + bytes(132))])
    send_hello(only_p521, AD.handshake_failure)


def test_no_common_signature_scheme_is_handshake_failure():
    send_hello(lambda ch: ch.extensions.__setitem__(
        E.signature_algorithms, ext.encode_u16_list([0x0401, 0x0201])), AD.handshake_failure)


def test_alpn_without_overlap_is_no_application_protocol():
    send_hello(lambda ch: ch.extensions.__setitem__(
        E.application_layer_protocol_negotiation, ext.encode_alpn(["http/1.1", "spdy/3"])),
        AD.no_application_protocol, alpn_protocols=["h2"])


def test_duplicate_extension_is_illegal_parameter():
    ch = hello()
    pairs = list(ch.extensions.items())
    for dup in (E.supported_groups, E.key_share, E.server_name):
        s = replay_server()
        expect_alert(s, ch_record(hello_with_raw_extensions([*pairs, (dup, dict(pairs)[dup])])),
                     AD.illegal_parameter)
    s = replay_server()   # an unknown type twice is just as illegal
    expect_alert(s, ch_record(hello_with_raw_extensions([(0x1234, b""), *pairs, (0x1234, b"")])),
                 AD.illegal_parameter)


@pytest.mark.parametrize("methods", [b"\x01", b"\x00\x01", b"\x01\x00"])
def test_compression_other_than_null_is_illegal_parameter(methods):
    send_hello(lambda ch: setattr(ch, "compression_methods", methods), AD.illegal_parameter)


def test_key_share_for_group_not_in_supported_groups_is_illegal_parameter():
    send_hello(lambda ch: ch.extensions.__setitem__(
        E.supported_groups, ext.encode_u16_list([0x0017])), AD.illegal_parameter)


def test_two_key_shares_for_one_group_is_illegal_parameter():
    share = bytes(range(1, 33))
    send_hello(lambda ch: ch.extensions.__setitem__(
        E.key_share, ext.encode_key_share_client([(0x001D, share), (0x001D, share)])),
        AD.illegal_parameter)


@pytest.mark.parametrize("share", [bytes(32), b"\x01" + bytes(31)],
                         ids=["zero", "small-order"])
def test_x25519_share_giving_zero_secret_is_illegal_parameter(share):
    # RFC 8446 7.4.2 / RFC 7748 6.1: an all-zero shared secret must be rejected.
    send_hello(lambda ch: ch.extensions.__setitem__(
        E.key_share, ext.encode_key_share_client([(0x001D, share)])), AD.illegal_parameter)


@pytest.mark.parametrize("n", [31, 33, 1])
def test_x25519_share_of_wrong_length_is_illegal_parameter(n):
    send_hello(lambda ch: ch.extensions.__setitem__(
        E.key_share, ext.encode_key_share_client([(0x001D, bytes(range(n)))])),
        AD.illegal_parameter)


def _p256_share_off_curve() -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.X962, PublicFormat.UncompressedPoint)
    return point[:-1] + bytes((point[-1] ^ 1,))


@pytest.mark.parametrize("share", [
    _p256_share_off_curve(),
    b"\x04" + bytes(64),
    b"\x02" + bytes(range(32)),                 # compressed form: not allowed in TLS 1.3
    b"\x04" + bytes(range(64))[:-1],            # short
], ids=["off-curve", "zero", "compressed", "short"])
def test_p256_share_not_on_curve_is_illegal_parameter(share):
    def p256(ch):
        ch.extensions[E.supported_groups] = ext.encode_u16_list([0x0017])
        ch.extensions[E.key_share] = ext.encode_key_share_client([(0x0017, share)])
    send_hello(p256, AD.illegal_parameter)


@pytest.mark.parametrize("limit", [0, 1, 63])
def test_record_size_limit_below_64_is_illegal_parameter(limit):
    ch = hello()
    ch.extensions[E.record_size_limit] = limit.to_bytes(2, "big")
    s = replay_server()
    # Checked with the rest of the ClientHello, before any ServerHello: a plaintext alert.
    exc = expect_alert(s, ch_record(ch), AD.illegal_parameter)
    assert "record_size_limit" in str(exc)


def test_pre_shared_key_not_last_is_illegal_parameter():
    ids = [(b"ticket", 0)]
    psk = ext.encode_pre_shared_key_client(ids, [bytes(32)])

    def psk_first(ch):
        rest = dict(ch.extensions)
        ch.extensions = m.Extensions({E.pre_shared_key: psk, **rest})
    send_hello(psk_first, AD.illegal_parameter)


def psk_hello_without(missing):
    """An edit: the hello offers a PSK (a ticket we never sealed) and lacks `missing`."""
    psk = ext.encode_pre_shared_key_client([(b"ticket", 0)], [bytes(32)])

    def edit(ch):
        ch.extensions.pop(missing)
        ch.extensions[E.pre_shared_key] = psk
    return edit


@pytest.mark.parametrize("server_kw", [{}, {"ed25519": True, "session_tickets": 0}],
                         ids=["tickets-on", "tickets-off"])
def test_psk_without_key_exchange_modes_is_missing_extension(server_kw):
    # 4.2.9 / 9.2: a MUST on the hello itself, whether or not this server resumes.
    send_hello(psk_hello_without(E.psk_key_exchange_modes), AD.missing_extension,
               **server_kw)


def test_psk_hello_with_supported_groups_but_no_key_share_is_missing_extension():
    # 9.2: supported_groups requires key_share, also in a hello that offers a PSK (only
    # one without either may be PSK-only, which tlskit declines with handshake_failure).
    send_hello(psk_hello_without(E.key_share), AD.missing_extension)


@pytest.mark.parametrize("last", [False, True], ids=["first", "last"])
def test_oid_filters_in_client_hello_is_illegal_parameter(last):
    # 4.2: oid_filters belongs in a CertificateRequest only; a recognised extension in a
    # message it is not specified for is illegal_parameter.
    def add(ch):
        rest = dict(ch.extensions)
        ch.extensions = m.Extensions({**rest, E.oid_filters: b"\x00\x00"} if last
                                     else {E.oid_filters: b"\x00\x00", **rest})
    send_hello(add, AD.illegal_parameter)


def test_psk_identity_and_binder_counts_differ_is_illegal_parameter():
    psk = ext.encode_pre_shared_key_client([(b"a", 0), (b"b", 0)], [bytes(32)])
    send_hello(lambda ch: ch.extensions.__setitem__(E.pre_shared_key, psk),
               AD.illegal_parameter)


def test_unknown_ticket_means_full_handshake():
    # A ticket the server cannot open is ignored (4.2.11), whatever its binder says.
    c = make_client()
    s = make_server()
    raw = c.data_to_send()
    ch = m.ClientHello.decode(memoryview(raw)[9:])
    ch.extensions[E.pre_shared_key] = ext.encode_pre_shared_key_client(
        [(bytes(80), 1)], [bytes(32)])
    s.receive_data(ch_record(ch))
    out = s.data_to_send()
    assert out.startswith(b"\x16\x03\x03")
    # no PSK selected: the ServerHello has no pre_shared_key, a Certificate follows
    sh = m.ServerHello.decode(memoryview(split_records(out)[0])[9:])
    assert E.pre_shared_key not in sh.extensions
    protected = b"".join(seen.content for seen in s.flow.last if seen.protected)
    assert m.HandshakeType.certificate in [msg[0] for msg in frame_messages(protected)[0]]


# --- ClientHello framing ----------------------------------------------------------------

@pytest.mark.parametrize("fn", [truncate_body(1), truncate_body(3), extend_body(b"\x00"),
                                extend_body(b"\x00\x00\x00\x00")],
                         ids=["cut1", "cut3", "extra1", "extra-empty-ext"])
def test_client_hello_bad_lengths_are_decode_error(fn):
    raw = fn(recorded_flights().messages["client_hello"])
    expect_alert(replay_server(), ch_record(raw), AD.decode_error)


def _patched_hello(offset: int, value: bytes) -> bytes:
    raw = bytearray(recorded_flights().messages["client_hello"])
    raw[offset:offset + len(value)] = value
    return bytes(raw)


@pytest.mark.parametrize("offset,value", [
    (38, b"\x21"),            # legacy_session_id length 33 (> 32)
    (38, b"\xff"),            # session id runs past the message
    (39 + 32, b"\x00\x00"),   # empty cipher_suites
    (39 + 32, b"\x00\x07"),   # odd cipher_suites length
    (39 + 32, b"\xff\xff"),   # cipher_suites past the end
], ids=["sid33", "sid-overrun", "no-suites", "odd-suites", "suites-overrun"])
def test_client_hello_inner_lengths_are_decode_error(offset, value):
    raw = _patched_hello(offset, value)
    expect_alert(replay_server(), ch_record(raw), AD.decode_error)


def test_client_hello_extension_length_overrun_is_decode_error():
    ch = hello()
    pairs = list(ch.extensions.items())
    body = ext_block(pairs)
    bad = body[:-len(pairs[-1][1]) - 2] + (len(pairs[-1][1]) + 5).to_bytes(2, "big") \
        + pairs[-1][1]
    ch.extensions = m.Extensions()
    raw = ch.encode()
    expect_alert(replay_server(), ch_record(m.frame(1, raw[4:-2] + bad)), AD.decode_error)


@pytest.mark.parametrize("etype,body", [
    (E.supported_groups, b"\x00\x03\x00\x1d\x00"),
    (E.supported_groups, b"\x00\x00"),
    (E.key_share, b"\x00\x04\x00\x1d\x00\x00"),
    (E.supported_versions, b"\x03\x03\x04\x03"),
    (E.signature_algorithms, b"\x00\x02\x04"),
    (E.server_name, b"\x00\x05\x00\x00\x09ab"),
    (E.application_layer_protocol_negotiation, b"\x00\x02\x00\x00"),
], ids=lambda v: v.hex() if isinstance(v, bytes) else E(v).name)
def test_malformed_extension_bodies_are_decode_error(etype, body):
    send_hello(lambda ch: ch.extensions.__setitem__(etype, body), AD.decode_error,
               **({"alpn_protocols": ["h2"]}
                  if etype == E.application_layer_protocol_negotiation else {}))


@pytest.mark.parametrize("etype,body", [
    (E.psk_key_exchange_modes, b"\x00"),            # ke_modes<1..255> empty
    (E.psk_key_exchange_modes, b"\x05\x01"),        # runs past the body
    (E.cookie, b""),                                # cookie<1..2^16-1> missing
    (E.cookie, b"\x00\x05ab"),
    (E.status_request, b"\x01\x00"),                # responder_id_list cut short
], ids=lambda v: v.hex() if isinstance(v, bytes) else E(v).name)
def test_malformed_bodies_this_hello_does_not_use_are_decode_error(etype, body):
    # 6: a message that does not parse is decode_error, also where the answer to this
    # hello would not read the extension (no pre_shared_key, no retry, no staple).
    send_hello(lambda ch: ch.extensions.__setitem__(etype, body), AD.decode_error)


# --- order -----------------------------------------------------------------------------

@pytest.mark.parametrize("msg", [
    m.Finished(bytes(32)).encode(),
    m.KeyUpdate(0).encode(),
    b"\x02\x00\x00\x00",                          # ServerHello (type only matters)
    b"\x0b\x00\x00\x04\x00\x00\x00\x00",          # Certificate
    b"\x63\x00\x00\x00",                          # unknown type 99
    b"\xfe\x00\x00\x00",                          # message_hash is never sent
    b"\x00\x00\x00\x00",                          # hello_request
], ids=["finished", "key_update", "server_hello", "certificate", "type99",
        "message_hash", "hello_request"])
def test_anything_but_client_hello_first_is_unexpected_message(msg):
    expect_alert(replay_server(), record(HS, msg), AD.unexpected_message)


def test_two_client_hellos_in_one_record_is_unexpected_message():
    raw = recorded_flights().messages["client_hello"]
    s = replay_server()
    # The second hello is not even reached: the first one changes keys mid-record.
    # ServerHello and the compatibility CCS are out before the leftover is noticed; the
    # alert then goes out under the server's handshake key.
    expect_alert(s, record(HS, raw + raw), AD.unexpected_message, leading=2)


def test_client_hello_after_handshake_is_unexpected_message():
    c, s = connected_pair()
    raw = recorded_flights().messages["client_hello"]
    expect_alert(s, forge_content(c, HS, raw), AD.unexpected_message, peer=c)


@pytest.mark.parametrize("msg", [
    b"\x08\x00\x00\x02\x00\x00",   # EncryptedExtensions from a client
    b"\x0f\x00\x00\x04\x04\x03\x00\x00",  # CertificateVerify with no Certificate
    b"\x04\x00\x00\x00",           # NewSessionTicket
    b"\x18\x00\x00\x01\x00",       # KeyUpdate before Finished
], ids=["ee", "cv", "nst", "key_update"])
def test_wrong_client_second_flight_is_unexpected_message(msg):
    from .test_record_layer import c_hs, server_after_client_hello
    s = server_after_client_hello()
    expect_alert(s, c_hs(msg + bytes((HS,))), AD.unexpected_message)


# --- Finished ---------------------------------------------------------------------------

def _client_finished_hook(fn):
    return on_type(m.HandshakeType.finished, fn)


def test_bad_client_finished_is_decrypt_error():
    c = make_client(hook=_client_finished_hook(
        lambda raw: raw[:-1] + bytes((raw[-1] ^ 1,))))
    s = make_server()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    expect_alert(s, c.data_to_send(), AD.decrypt_error, peer=c)


@pytest.mark.parametrize("fn", [truncate_body(1), extend_body(b"\x00"), truncate_body(32)],
                         ids=["31", "33", "empty"])
def test_client_finished_of_wrong_length_is_decode_error(fn):
    c = make_client(hook=_client_finished_hook(fn))
    s = make_server()
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    expect_alert(s, c.data_to_send(), AD.decode_error, peer=c)


# --- HelloRetryRequest and the second ClientHello ---------------------------------------

def hrr_pair(hook=None, *, server_kw=None, **client_kw):
    """Client offers x25519+P-256 with an x25519 share; server only takes P-256 -> HRR."""
    client_kw.setdefault("groups", ["x25519", "secp256r1"])
    c = make_client(client_config(**client_kw), hook=hook)
    s = make_server(server_config(groups=["secp256r1"], **(server_kw or {})))
    s.receive_data(c.data_to_send())
    hrr = s.data_to_send()
    assert split_records(hrr)[0][5] == 2 and m.HRR_RANDOM in hrr
    return c, s, hrr


def second_hello(fn, *, client_kw=None, **server_kw):
    """Run the HRR exchange with `fn` applied to the client's second ClientHello."""
    count = [0]

    def hook(raw):
        if raw[0] == 1:
            count[0] += 1
            if count[0] == 2:
                return edit(m.ClientHello, fn)(raw)
        return raw
    c, s, hrr = hrr_pair(hook, server_kw=server_kw, **(client_kw or {}))
    c.receive_data(hrr)
    return c, s, c.data_to_send()


def test_hrr_round_trip_completes():
    c, s, hrr = hrr_pair()
    c.receive_data(hrr)
    pump(c, s)
    assert c.handshake_complete.group.name == "secp256r1"


def test_malformed_record_size_limit_is_decode_error():
    ch = hello()
    ch.extensions[E.record_size_limit] = b"\x40"
    expect_alert(replay_server(), ch_record(ch), AD.decode_error)


def test_second_client_hello_without_cookie_is_illegal_parameter():
    _c, s, data = second_hello(lambda ch: ch.extensions.pop(E.cookie), send_hrr_cookie=True)
    expect_alert(s, data, AD.illegal_parameter)


def test_second_client_hello_with_altered_cookie_is_illegal_parameter():
    def alter(ch):
        cookie = ext.decode_cookie(ch.extensions[E.cookie])
        ch.extensions[E.cookie] = ext.encode_cookie(cookie[:-1] + bytes((cookie[-1] ^ 1,)))
    _c, s, data = second_hello(alter, send_hrr_cookie=True)
    expect_alert(s, data, AD.illegal_parameter)


def test_second_client_hello_with_unsolicited_cookie_is_illegal_parameter():
    def add(ch):
        ch.extensions[E.cookie] = ext.encode_cookie(b"made up")
    _c, s, data = second_hello(add)
    expect_alert(s, data, AD.illegal_parameter)


@pytest.mark.parametrize("grease", [False, True], ids=["added", "removed"])
def test_second_client_hello_adding_or_dropping_ech_is_illegal_parameter(grease):
    """RFC 9849 6.1.5 lets encrypted_client_hello's body change in the second hello (a
    new payload, no enc), so even a server without ECH lets it differ; RFC 8446 4.1.2
    still forbids adding or removing it."""
    from tlskit.handshake.ech import grease_extension

    def change(ch):
        if grease:
            ch.extensions.pop(E.encrypted_client_hello)
        else:
            ch.extensions[E.encrypted_client_hello] = grease_extension(os.urandom)
    _c, s, data = second_hello(change, client_kw={"ech_grease": grease})
    expect_alert(s, data, AD.illegal_parameter)


@pytest.mark.parametrize("configured", [False, True])
def test_hello_retry_request_carries_a_cookie_only_when_configured(configured):
    _c, _s, hrr = hrr_pair(server_kw={"send_hrr_cookie": True} if configured else None)
    server_hello = m.ServerHello.decode(split_records(hrr)[0][5 + 4:])
    assert (E.cookie in server_hello.extensions) == configured


def _x25519_share():
    from cryptography.hazmat.primitives.asymmetric import x25519
    return x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()


@pytest.mark.parametrize("shares", [
    lambda: [(0x001D, _x25519_share())],                          # not the requested group
    lambda: [(0x0017, _p256()), (0x001D, _x25519_share())],       # an extra share
    lambda: [],                                                   # no share
], ids=["other-group", "two-shares", "empty"])
def test_second_client_hello_with_changed_share_is_illegal_parameter(shares):
    value = shares()
    _c, s, data = second_hello(lambda ch: ch.extensions.__setitem__(
        E.key_share, ext.encode_key_share_client(value)))
    expect_alert(s, data, AD.illegal_parameter)


def _p256():
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.X962, PublicFormat.UncompressedPoint)


def test_second_client_hello_without_key_share_is_missing_extension():
    _c, s, data = second_hello(lambda ch: ch.extensions.pop(E.key_share))
    expect_alert(s, data, AD.missing_extension)


@pytest.mark.parametrize("change,named", [
    (lambda ch: setattr(ch, "random", bytes(32)), "changed random"),
    (lambda ch: setattr(ch, "session_id", bytes(32)), "changed legacy_session_id"),
    (lambda ch: setattr(ch, "cipher_suites", list(reversed(ch.cipher_suites))),
     "cipher suites"),
    (lambda ch: ch.extensions.__setitem__(E.early_data, b""), "early_data"),
    (lambda ch: setattr(ch, "legacy_version", 0x0302), "changed legacy_version"),
    (lambda ch: ch.extensions.__setitem__(E.pre_shared_key, ext.encode_pre_shared_key_client(
        [(b"ticket", 0)], [bytes(32)])), "adds a pre_shared_key"),
], ids=["random", "session_id", "suites", "early_data", "legacy_version", "adds-psk"])
def test_second_client_hello_changing_fixed_fields_is_illegal_parameter(change, named):
    # 4.1.2; the error names what changed.
    _c, s, data = second_hello(change)
    assert named in str(expect_alert(s, data, AD.illegal_parameter))


def test_third_client_hello_is_unexpected_message():
    c, s, hrr = hrr_pair()
    c.receive_data(hrr)
    ch2 = c.data_to_send()
    s.receive_data(ch2)
    s.data_to_send()
    recs = split_records(ch2)
    hello_rec = next(r for r in recs if r[0] == HS)
    # The server now reads with handshake keys: a plaintext ClientHello is refused.
    expect_alert(s, hello_rec, AD.unexpected_message)


# --- client authentication ---------------------------------------------------------------

def auth_pair(hook=None, client_leaf=None, **server_kw):
    server_kw.setdefault("client_auth", "required")
    server_kw.setdefault("client_trust_anchors", [pki().ca.root])
    from tlskit import CertifiedKey
    leaf = client_leaf if client_leaf is not None else pki().client
    cert = CertifiedKey(leaf.chain, leaf.private_key) if leaf else None
    c = make_client(client_config(certificate=cert), hook=hook)
    s = make_server(server_config(**server_kw))
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    return c, s, c.data_to_send()


def test_client_auth_round_trip():
    _c, s, data = auth_pair()
    events = s.receive_data(data)
    assert events[0].peer_certificates[0] == pki().client.certificate


def test_required_client_certificate_missing_is_certificate_required():
    c, s, data = auth_pair(client_leaf=False)
    expect_alert(s, data, AD.certificate_required, peer=c)


def test_client_certificate_from_unknown_ca_is_unknown_ca():
    # (No CA names sent: the client would otherwise hold back a certificate not
    # issued under one.)
    c, s, data = auth_pair(client_leaf=other_pki().client, send_client_ca_names=False)
    expect_alert(s, data, AD.unknown_ca, peer=c)


def test_bad_client_certificate_verify_is_decrypt_error():
    def flip(raw):
        return raw[:-3] + bytes((raw[-3] ^ 0x40,)) + raw[-2:]
    c, s, data = auth_pair(hook=on_type(m.HandshakeType.certificate_verify, flip))
    expect_alert(s, data, AD.decrypt_error, peer=c)


@pytest.mark.parametrize("scheme", [0x0401, 0x0201, 0x0804, 0x1234])
def test_client_certificate_verify_with_unoffered_scheme_is_illegal_parameter(scheme):
    def swap(raw):
        cv = m.CertificateVerify.decode(memoryview(raw)[4:])
        return m.CertificateVerify(scheme, cv.signature).encode()
    c, s, data = auth_pair(hook=on_type(m.HandshakeType.certificate_verify, swap))
    expect_alert(s, data, AD.illegal_parameter, peer=c)


def test_client_certificate_with_context_is_illegal_parameter():
    def ctx(raw):
        cert = m.Certificate.decode(memoryview(raw)[4:])
        cert.request_context = b"\x01"
        return cert.encode()
    c, s, data = auth_pair(hook=on_type(m.HandshakeType.certificate, ctx))
    expect_alert(s, data, AD.illegal_parameter, peer=c)


def entry_extension(etype, body):
    """A hook giving the first CertificateEntry of a Certificate one more extension."""
    def add(raw):
        cert = m.Certificate.decode(memoryview(raw)[4:])
        cert.entries[0].extensions[etype] = body
        return cert.encode()
    return on_type(m.HandshakeType.certificate, add)


@pytest.mark.parametrize("etype,body,alert", [
    (E.status_request, b"\x01\x00\x00\x01\x00", AD.unsupported_extension),  # not requested
    (E.signed_certificate_timestamp, b"\x00\x01\x00", AD.unsupported_extension),
    (0x1234, b"", AD.unsupported_extension),                                   # unknown
    (E.key_share, b"\x00\x1d\x00\x01\x00", AD.illegal_parameter),           # misplaced
], ids=["status_request", "sct", "unknown", "key_share"])
def test_client_certificate_entry_extension_not_requested_is_rejected(etype, body, alert):
    # 4.4.2: a client's entry extensions must answer the CertificateRequest's, and ours
    # asks for none; 4.2 names the alert (checked at the Certificate, before its
    # CertificateVerify, which this MITM edit would break anyway).
    c, s, data = auth_pair(hook=entry_extension(etype, body))
    expect_alert(s, data, alert, peer=c)


def test_client_finished_without_certificate_when_required_is_unexpected_message():
    # Drop Certificate and CertificateVerify: Finished arrives where Certificate belongs.
    def drop(raw):
        return None if raw[0] in (11, 15) else raw
    c, s, data = auth_pair(hook=drop)
    expect_alert(s, data, AD.unexpected_message, peer=c)


# --- GREASE (RFC 8701) -------------------------------------------------------------------

def grease_hello(raw: bytes) -> bytes:
    if raw[0] != 1:
        return raw
    ch = m.ClientHello.decode(memoryview(raw)[4:])
    ch.cipher_suites = [GREASE[0], *ch.cipher_suites, GREASE[1]]
    exts = ch.extensions
    groups = ext.decode_u16_list(exts[E.supported_groups], "g")
    exts[E.supported_groups] = ext.encode_u16_list([GREASE[2], *groups])
    shares = ext.decode_key_share_client(exts[E.key_share])
    exts[E.key_share] = ext.encode_key_share_client([(GREASE[2], b"\x00"), *shares])
    versions = ext.decode_versions_client(exts[E.supported_versions])
    exts[E.supported_versions] = ext.encode_versions_client([GREASE[3], *versions])
    schemes = ext.decode_u16_list(exts[E.signature_algorithms], "s")
    exts[E.signature_algorithms] = ext.encode_u16_list([GREASE[4], *schemes])
    exts[E.psk_key_exchange_modes] = bytes((2, 0x0B, 1))
    alpn = exts.get(E.application_layer_protocol_negotiation)
    if alpn is not None:
        exts[E.application_layer_protocol_negotiation] = ext.encode_alpn(
            ["\x0a\x0a", *ext.decode_alpn(alpn)])
    new = m.Extensions({GREASE[0]: b""})
    new.update(exts)
    new[GREASE[1]] = b"\x00"
    ch.extensions = new
    return ch.encode()


def test_grease_in_client_hello_is_ignored():
    c = make_client(client_config(alpn_protocols=["h2"]), hook=grease_hello)
    s = make_server(server_config(alpn_protocols=["h2"]))
    pump(c, s)
    assert c.handshake_complete is not None and s.handshake_complete is not None
    offer = s.client_offer
    assert "UNKNOWN_0x0a0a" in offer["cipher_suites"]
    assert s.handshake_complete.alpn_protocol == "h2"


def test_grease_only_key_share_leads_to_hello_retry():
    def only_grease_share(raw):
        raw = grease_hello(raw)
        if raw[0] != 1:
            return raw
        ch = m.ClientHello.decode(memoryview(raw)[4:])
        shares = ext.decode_key_share_client(ch.extensions[E.key_share])
        if len(shares) > 1:
            ch.extensions[E.key_share] = ext.encode_key_share_client(shares[:1])
        return ch.encode()
    c = make_client(hook=only_grease_share)
    s = make_server()
    s.receive_data(c.data_to_send())
    assert m.HRR_RANDOM in s.data_to_send()


# --- alerts from the client during the server's flight --------------------------------

def test_server_understands_client_alert_sent_during_its_flight():
    c = make_client(client_config(trust_anchors=[other_pki().ca.root]))
    s = make_server()
    s.receive_data(c.data_to_send())
    with pytest.raises(TLSError) as info:
        c.receive_data(s.data_to_send())
    assert info.value.alert == AD.unknown_ca
    assert_peer_alert(s, c.data_to_send(), AD.unknown_ca)


def test_plaintext_alert_before_server_hello_is_received():
    s = replay_server()
    assert_peer_alert(s, plain_alert(AD.protocol_version), AD.protocol_version)


# --- TLS 1.2 fallback (now enabled by default) ---------------------------------------

def test_server_negotiating_tls12_sets_the_downgrade_sentinel():
    # RFC 8446 4.1.3: a TLS 1.3 server that negotiates TLS 1.2 ends its random with
    # DOWNGRD\x01, so a TLS 1.3 client behind an attacker stripping supported_versions
    # notices.
    c = make_client(client_config(versions=["TLSv1.2"]))
    s = make_server()
    s.receive_data(c.data_to_send())
    sh = split_records(s.data_to_send())[0]
    assert sh[5] == 2
    assert sh[5 + 4 + 2:5 + 4 + 2 + 32].endswith(b"DOWNGRD\x01")


def test_stripped_supported_versions_is_caught_by_the_sentinel():
    # An attacker removes supported_versions from a 1.3+1.2 client's hello: the server
    # answers with TLS 1.2 and the sentinel; the client refuses with illegal_parameter.
    c = make_client(hook=on_type(1, edit(m.ClientHello, lambda ch: ch.extensions.pop(
        E.supported_versions)), once=True))
    s = make_server()
    s.receive_data(c.data_to_send())
    expect_alert(c, s.data_to_send(), AD.illegal_parameter)
