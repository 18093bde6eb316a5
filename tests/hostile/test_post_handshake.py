"""KeyUpdate and other post-handshake traffic from a hostile or merely busy peer."""

from __future__ import annotations

import pytest

from tlskit import ConnectionClosed, DataReceived, KeyUpdated, record
from tlskit.record import MAX_KEY_UPDATES
from tlskit.wire import messages as m

from ..support.records import HS, split_records
from .helpers import AD, connected_pair, expect_alert, forge, forge_content

AD_TYPE = 23  # application_data, as a TLS 1.3 inner content type


@pytest.mark.parametrize("value", [2, 3, 0xFF])
def test_key_update_with_unknown_request_is_illegal_parameter(value):
    c, s = connected_pair()
    expect_alert(c, forge_content(s, HS, b"\x18\x00\x00\x01" + bytes((value,))),
                 AD.illegal_parameter, peer=s)
    c, s = connected_pair()
    expect_alert(s, forge_content(c, HS, b"\x18\x00\x00\x01" + bytes((value,))),
                 AD.illegal_parameter, peer=c)


@pytest.mark.parametrize("msg", [b"\x18\x00\x00\x00", b"\x18\x00\x00\x02\x00\x00"],
                         ids=["empty", "two-bytes"])
def test_key_update_of_wrong_length_is_decode_error(msg):
    c, s = connected_pair()
    expect_alert(s, forge_content(c, HS, msg), AD.decode_error, peer=c)


def test_key_update_round_trip():
    c, s = connected_pair()
    c.update_keys(request_peer_update=True)
    events = s.receive_data(c.data_to_send())
    assert events == [KeyUpdated(True)]
    assert c.receive_data(s.data_to_send()) == [KeyUpdated(False)]
    c.send_data(b"after")
    s.send_data(b"both")
    assert s.receive_data(c.data_to_send()) == [DataReceived(b"after")]
    assert c.receive_data(s.data_to_send()) == [DataReceived(b"both")]


def test_record_under_the_old_key_after_key_update_is_bad_record_mac():
    c, s = connected_pair()
    old_key = c.flow.snapshot()           # the client's key (from the key log) before the update
    c.update_keys(request_peer_update=False)
    assert s.receive_data(c.data_to_send()) == [KeyUpdated(False)]
    stale = old_key.seal_inner(b"old\x17")
    assert stale[:5] == b"\x17\x03\x03\x00\x14"
    expect_alert(s, stale, AD.bad_record_mac, peer=c)


def test_key_update_request_after_our_close_notify_is_read_but_not_answered():
    # RFC 8446 6.1: nothing follows our close_notify; 4.6.3 asks for the answer only
    # before our next application data, which never comes. The read side moves on.
    c, s = connected_pair(server_kw={"close_reply": False})   # s keeps sending (6.1)
    c.close()
    assert s.receive_data(c.data_to_send())[-1] == ConnectionClosed(None)
    s.update_keys(request_peer_update=True)
    assert c.receive_data(s.data_to_send()) == [KeyUpdated(True)]
    assert c.data_to_send() == b""
    s.send_data(b"still read")
    assert c.receive_data(s.data_to_send()) == [DataReceived(b"still read")]


def test_many_key_updates_in_one_record():
    c, s = connected_pair()
    batch = m.KeyUpdate(0).encode()
    # Each KeyUpdate changes the key: only one may end a record (5.1).
    expect_alert(s, forge_content(c, HS, batch * 2), AD.unexpected_message)


def key_updates(sender, count: int, between: bytes = b"") -> bytes:
    """`count` KeyUpdates from `sender`, one per record, with the TLS 1.3 inner plaintext
    `between` forged after each one (under the key it installed)."""
    out = b""
    for _ in range(count):
        sender.update_keys(request_peer_update=False)
        out += sender.data_to_send()
        if between:
            out += forge(sender, between)
    return out


def test_key_updates_one_per_record_up_to_the_cap_then_data():
    # 32 in a row are read (BoringSSL's kMaxKeyUpdates and rustls allow as many); data
    # then starts the count again, so another 32 are read.
    c, s = connected_pair()
    assert s.receive_data(key_updates(c, MAX_KEY_UPDATES)) == [KeyUpdated(False)] * 32
    c.send_data(b"x")
    assert s.receive_data(c.data_to_send()) == [DataReceived(b"x")]
    assert s.receive_data(key_updates(c, MAX_KEY_UPDATES)) == [KeyUpdated(False)] * 32
    c.send_data(b"y")
    assert s.receive_data(c.data_to_send()) == [DataReceived(b"y")]


@pytest.mark.parametrize("side", ["client", "server"])
def test_one_key_update_past_the_cap_is_unexpected_message(side):
    c, s = connected_pair()
    sender, receiver = (c, s) if side == "client" else (s, c)
    assert MAX_KEY_UPDATES == 32
    assert receiver.receive_data(key_updates(sender, 32)) == [KeyUpdated(False)] * 32
    exc = expect_alert(receiver, key_updates(sender, 1), AD.unexpected_message, peer=sender)
    assert "KeyUpdates" in str(exc)


def test_key_updates_past_the_cap_fail_in_one_call_too():
    c, s = connected_pair()
    expect_alert(s, key_updates(c, MAX_KEY_UPDATES + 1), AD.unexpected_message, peer=c)


def test_empty_records_between_key_updates_do_not_restart_the_count():
    # An empty record is no application data (BoringSSL counts on through them too).
    c, s = connected_pair()
    flood = key_updates(c, MAX_KEY_UPDATES, between=bytes((AD_TYPE,)))
    assert s.receive_data(flood) == [KeyUpdated(False)] * MAX_KEY_UPDATES
    expect_alert(s, key_updates(c, 1), AD.unexpected_message, peer=c)


@pytest.mark.parametrize("between", [b"x\x17", b"x\x17\x00\x00", b"\x01\x5a\x15",
                                     m.NewSessionTicket(7200, 1, b"\x00", b"ticket",
                                                        m.Extensions()).encode() + b"\x16"],
                         ids=["data", "padded-data", "user-canceled-warning", "ticket"])
def test_a_record_with_content_between_key_updates_restarts_the_count(between):
    # Data restarts it (BoringSSL, rustls), and so does anything else with content (a
    # ticket restarts BoringSSL's too); only the server sends tickets.
    c, s = connected_pair()
    flood = key_updates(s, MAX_KEY_UPDATES) + forge(s, between) + key_updates(s, MAX_KEY_UPDATES)
    assert c.receive_data(flood).count(KeyUpdated(False)) == 2 * MAX_KEY_UPDATES
    s.send_data(b"still open")
    assert c.receive_data(s.data_to_send()) == [DataReceived(b"still open")]


def test_automatic_key_updates_never_trip_the_peers_cap(monkeypatch):
    # RFC 8446 5.5: tlskit rekeys before a record once a key has sealed its share; each
    # KeyUpdate goes right before data, so the peer never sees two in a row. (The limit
    # lowered to one record per key: a KeyUpdate before every record but the first.)
    monkeypatch.setattr(record, "KEY_UPDATE_AFTER_RECORDS", 1)
    c, s = connected_pair()
    events = []
    for i in range(3 * MAX_KEY_UPDATES):
        c.send_data(b"%d" % i)
        events += s.receive_data(c.data_to_send())
    assert events.count(KeyUpdated(False)) == 3 * MAX_KEY_UPDATES - 1
    assert [e.data for e in events if isinstance(e, DataReceived)] == \
        [b"%d" % i for i in range(3 * MAX_KEY_UPDATES)]


def test_a_silent_peer_asked_again_and_again_answers_once():
    # 4.6.3: a peer with nothing to send answers the first request only, so the side that
    # keeps asking (with data between its requests) never gets a run of answers.
    c, s = connected_pair()
    wire = b""
    for i in range(2 * MAX_KEY_UPDATES):
        s.update_keys(request_peer_update=True)
        s.send_data(b"%d" % i)
        wire += s.data_to_send()
    assert c.receive_data(wire).count(KeyUpdated(True)) == 2 * MAX_KEY_UPDATES
    assert s.receive_data(c.data_to_send()) == [KeyUpdated(False)]


def test_peer_request_is_answered_after_we_requested_one_ourselves():
    c, s = connected_pair()
    c.update_keys(request_peer_update=True)       # c asks s to update
    s.receive_data(c.data_to_send())              # s answers with update_not_requested
    assert c.receive_data(s.data_to_send()) == [KeyUpdated(False)]
    # Later, s asks c to update: c MUST answer with a KeyUpdate of its own.
    s.update_keys(request_peer_update=True)
    assert c.receive_data(s.data_to_send()) == [KeyUpdated(True)]
    answer = c.data_to_send()
    assert answer, "client did not answer the peer's update_requested"
    assert s.receive_data(answer) == [KeyUpdated(False)]


def test_peer_request_is_answered_once_we_have_sent_data():
    c, s = connected_pair()
    c.update_keys(request_peer_update=True)
    s.receive_data(c.data_to_send())
    assert c.receive_data(s.data_to_send()) == [KeyUpdated(False)]
    c.send_data(b"under the new key")
    assert s.receive_data(c.data_to_send()) == [DataReceived(b"under the new key")]
    s.update_keys(request_peer_update=True)
    assert c.receive_data(s.data_to_send()) == [KeyUpdated(True)]
    assert s.receive_data(c.data_to_send()) == [KeyUpdated(False)]


def test_two_requests_while_silent_get_one_answer():
    c, s = connected_pair()
    s.update_keys(request_peer_update=True)
    s.update_keys(request_peer_update=True)
    assert c.receive_data(s.data_to_send()) == [KeyUpdated(True), KeyUpdated(True)]
    assert s.receive_data(c.data_to_send()) == [KeyUpdated(False)]


def test_simultaneous_key_update_requests_converge():
    c, s = connected_pair()
    c.update_keys(request_peer_update=True)
    s.update_keys(request_peer_update=True)
    from_c, from_s = c.data_to_send(), s.data_to_send()
    assert s.receive_data(from_c) == [KeyUpdated(True)]
    assert c.receive_data(from_s) == [KeyUpdated(True)]
    # Each already sent an update since the request: no further answer is needed (4.6.3).
    for a, b in ((c, s), (s, c)):
        data = a.data_to_send()
        if data:
            b.receive_data(data)
    c.send_data(b"ping")
    assert s.receive_data(c.data_to_send()) == [DataReceived(b"ping")]
    s.send_data(b"pong")
    assert c.receive_data(s.data_to_send()) == [DataReceived(b"pong")]


def test_new_session_tickets_after_handshake_are_delivered():
    c, s = connected_pair()
    # The tlskit server sent its tickets with the handshake's last flight; pump again.
    data = s.data_to_send()
    if data:
        assert len(split_records(data)) >= 1
        c.receive_data(data)
    s.send_data(b"ok")
    assert c.receive_data(s.data_to_send()) == [DataReceived(b"ok")]


# --- post-handshake client authentication (RFC 8446 4.6.2) --------------------------------

def _cr(context: bytes = b"ctx", *, sigalgs: bool = True) -> bytes:
    from tlskit.enums import ExtensionType as E
    from tlskit.wire import extensions as ext
    exts = m.Extensions()
    if sigalgs:
        exts[E.signature_algorithms] = ext.encode_u16_list([0x0403, 0x0804])
    return m.CertificateRequest(context, exts).encode()


def _pha_pair(**client_kw):
    from tlskit import CertifiedKey

    from ..support.pki import pki
    kw = {"certificate": CertifiedKey(pki().client.chain, pki().client.private_key)}
    return connected_pair(kw | client_kw, {"client_trust_anchors": [pki().ca.root]})


def test_certificate_request_without_the_offer_is_unexpected_message():
    c, s = connected_pair()
    expect_alert(c, forge_content(s, HS, _cr()), AD.unexpected_message, peer=s)


def test_post_handshake_certificate_request_with_empty_context_is_illegal_parameter():
    c, s = _pha_pair()
    expect_alert(c, forge_content(s, HS, _cr(b"")), AD.illegal_parameter, peer=s)


def test_certificate_request_context_repeated_is_illegal_parameter():
    c, s = _pha_pair()
    c.receive_data(forge_content(s, HS, _cr(b"same")))
    c.data_to_send()  # its answer (not read by s: the alert is checked under c's own key)
    expect_alert(c, forge_content(s, HS, _cr(b"same")), AD.illegal_parameter)


def test_post_handshake_certificate_request_without_signature_algorithms_is_missing_extension():
    c, s = _pha_pair()
    expect_alert(c, forge_content(s, HS, _cr(sigalgs=False)), AD.missing_extension, peer=s)


def test_post_handshake_certificate_request_with_a_misplaced_extension_is_illegal_parameter():
    # RFC 8446 4.2: key_share is recognised and not defined for CertificateRequest.
    from tlskit.enums import ExtensionType as E
    cr = m.CertificateRequest.decode(memoryview(_cr())[4:])
    cr.extensions[E.key_share] = b""
    c, s = _pha_pair()
    expect_alert(c, forge_content(s, HS, cr.encode()), AD.illegal_parameter, peer=s)


def test_post_handshake_certificate_request_with_an_unknown_extension_is_answered():
    # 4.3.2: clients MUST ignore unrecognized extensions.
    cr = m.CertificateRequest.decode(memoryview(_cr())[4:])
    cr.extensions[0x1A1A] = b"grease"
    c, s = _pha_pair()
    c.receive_data(forge_content(s, HS, cr.encode()))
    assert c.data_to_send()  # Certificate, CertificateVerify, Finished


def test_post_handshake_certificate_request_after_our_close_notify_is_not_answered():
    # RFC 8446 6.1: no Certificate, CertificateVerify or Finished after our close_notify.
    c, s = _pha_pair()
    c.close()
    c.data_to_send()
    assert c.receive_data(forge_content(s, HS, _cr())) == []
    assert c.data_to_send() == b""


def test_truncated_certificate_request_is_decode_error():
    c, s = _pha_pair()
    expect_alert(c, forge_content(s, HS, b"\x0d\x00\x00\x03\x02ab"), AD.decode_error, peer=s)


def test_client_certificate_without_a_request_is_unexpected_message():
    c, s = _pha_pair()
    expect_alert(s, forge_content(c, HS, m.Certificate(b"", []).encode()),
                 AD.unexpected_message, peer=c)


def test_client_certificate_with_another_context_is_illegal_parameter():
    c, s = _pha_pair()
    s.request_client_certificate()
    s.data_to_send()
    expect_alert(s, forge_content(c, HS, m.Certificate(b"not the request", []).encode()),
                 AD.illegal_parameter)


def _answer_through(hook_type, change):
    from .helpers import hook_sends, on_type
    c, s = _pha_pair()
    s.request_client_certificate()
    hook_sends(c, on_type(hook_type, change))
    c.receive_data(s.data_to_send())
    return c, s, c.data_to_send()


def test_post_handshake_certificate_verify_with_a_bad_signature_is_decrypt_error():
    def corrupt(raw):
        return raw[:-1] + bytes((raw[-1] ^ 1,))
    c, s, answer = _answer_through(m.HandshakeType.certificate_verify, corrupt)
    expect_alert(s, answer, AD.decrypt_error, peer=c)


def test_post_handshake_finished_that_does_not_verify_is_decrypt_error():
    def corrupt(raw):
        return raw[:-1] + bytes((raw[-1] ^ 1,))
    c, s, answer = _answer_through(m.HandshakeType.finished, corrupt)
    expect_alert(s, answer, AD.decrypt_error, peer=c)


def test_post_handshake_certificate_entry_extension_is_unsupported_extension():
    # 4.4.2: the entries answer the CertificateRequest, which asked for no extension.
    def add(raw):
        cert = m.Certificate.decode(memoryview(raw)[4:])
        cert.entries[0].extensions[5] = b"\x01\x00\x00\x01\x00"  # status_request
        return cert.encode()
    c, s, answer = _answer_through(m.HandshakeType.certificate, add)
    expect_alert(s, answer, AD.unsupported_extension, peer=c)


def test_post_handshake_certificate_verify_without_a_certificate_is_unexpected_message():
    """An empty Certificate (declined) must be followed by Finished, not CertificateVerify."""
    c, s = _pha_pair()
    s.request_client_certificate()
    assert s.data_to_send()
    (seen,) = s.flow.last   # the CertificateRequest's record, opened from the key log
    assert (seen.ctype, seen.protected, seen.content[0]) == (HS, True, 13)
    cr = m.CertificateRequest.decode(seen.content[4:])
    data = forge_content(c, HS, m.Certificate(cr.request_context, []).encode()
                         + m.CertificateVerify(0x0403, b"x" * 64).encode())
    expect_alert(s, data, AD.unexpected_message)


def test_nonempty_post_handshake_auth_in_client_hello_is_decode_error():
    from tlskit.enums import ExtensionType as E

    from .helpers import make_client, make_server, on_type

    def nonempty(raw):
        ch = m.ClientHello.decode(memoryview(raw)[4:])
        ch.extensions[E.post_handshake_auth] = b"\x00"
        return ch.encode()
    c = make_client(hook=on_type(m.HandshakeType.client_hello, nonempty, once=True))
    expect_alert(make_server(), c.data_to_send(), AD.decode_error)


def test_post_handshake_compressed_certificate_is_unexpected_message():
    # RFC 8879 4: the server's post-handshake CertificateRequest offers no compression,
    # so the client's answer compressed (its certificate, or a zlib bomb) is refused
    # before anything is decompressed.
    import zlib

    from tlskit.wire import certcompress

    def compress(raw):
        return certcompress.compress(certcompress.ZLIB, bytes(raw[4:])).encode()
    c, s, answer = _answer_through(m.HandshakeType.certificate, compress)
    expect_alert(s, answer, AD.unexpected_message, peer=c)
    c, s = _pha_pair()
    s.request_client_certificate()
    s.data_to_send()
    bomb = m.CompressedCertificate(certcompress.ZLIB, 60_000, zlib.compress(bytes(1 << 22)))
    expect_alert(s, forge_content(c, HS, bomb.encode()), AD.unexpected_message)
