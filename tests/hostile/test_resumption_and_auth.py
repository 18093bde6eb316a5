"""Hostile peers around PSK resumption (RFC 8446 4.2.11) and CertificateRequest (4.3.2)."""

from __future__ import annotations

import pytest

from tlskit import CertifiedKey, ServerConfig
from tlskit.enums import ExtensionType as E
from tlskit.enums import HandshakeType as HT
from tlskit.session import SessionCache
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m

from ..support.pki import client_config, pki, server_config
from ..support.pump import pump
from .helpers import (
    AD,
    edit,
    expect_alert,
    extend_body,
    make_client,
    make_server,
    on_type,
    sender_side,
    truncate_body,
)


@pytest.fixture
def resumable():
    """A server config with a fixed ticket key and a client cache holding its tickets."""
    scfg = server_config(ticket_key=bytes(32))
    cache = SessionCache()
    c = make_client(client_config(session_cache=cache))
    s = make_server(scfg)
    pump(c, s)
    assert c.handshake_complete and not c.handshake_complete.resumed
    return scfg, cache


def resume(scfg: ServerConfig, cache, server_hook=None, client_hook=None):
    c = make_client(client_config(session_cache=cache), hook=client_hook)
    s = make_server(scfg, hook=server_hook)
    return c, s


def test_resumption_works(resumable):
    scfg, cache = resumable
    c, s = resume(scfg, cache)
    pump(c, s)
    assert c.handshake_complete.resumed and s.handshake_complete.resumed


@pytest.mark.parametrize("selected", [1, 2, 0xFFFF])
def test_server_selecting_unoffered_identity_is_illegal_parameter(resumable, selected):
    scfg, cache = resumable
    c, s = resume(scfg, cache, server_hook=on_type(HT.server_hello, edit(
        m.ServerHello, lambda sh: sh.extensions.__setitem__(
            E.pre_shared_key, selected.to_bytes(2, "big")))))
    s.receive_data(c.data_to_send())
    expect_alert(c, s.data_to_send(), AD.illegal_parameter)


def test_resumed_server_hello_with_other_hash_suite_is_illegal_parameter(resumable):
    scfg, cache = resumable
    c, s = resume(scfg, cache, server_hook=on_type(HT.server_hello, edit(
        m.ServerHello, lambda sh: setattr(sh, "cipher_suite", 0x1302))))
    s.receive_data(c.data_to_send())
    expect_alert(c, s.data_to_send(), AD.illegal_parameter)


def test_certificate_in_a_resumed_handshake_is_unexpected_message(resumable):
    scfg, cache = resumable
    leaf = pki().server

    def add_certificate(raw):
        if raw[0] == HT.encrypted_extensions:
            cert = m.Certificate(b"", [m.CertificateEntry(d) for d in
                                       CertifiedKey(leaf.chain, leaf.private_key).cert_der])
            return [raw, cert.encode()]
        return raw
    c, s = resume(scfg, cache, server_hook=add_certificate)
    s.receive_data(c.data_to_send())
    expect_alert(c, s.data_to_send(), AD.unexpected_message)


def test_compressed_certificate_in_a_resumed_handshake_is_unexpected_message(resumable):
    # RFC 8879 4 puts CompressedCertificate where a Certificate goes: a resumed handshake
    # has none, whatever the client offered.
    from tlskit.wire import certcompress
    scfg, cache = resumable
    leaf = pki().server

    def add_compressed(raw):
        if raw[0] == HT.encrypted_extensions:
            cert = m.Certificate(b"", [m.CertificateEntry(d) for d in
                                       CertifiedKey(leaf.chain, leaf.private_key).cert_der])
            return [raw, certcompress.compress(certcompress.ZLIB, cert.encode()[4:]).encode()]
        return raw
    c, s = resume(scfg, cache, server_hook=add_compressed)
    s.receive_data(c.data_to_send())
    expect_alert(c, s.data_to_send(), AD.unexpected_message)


def test_tampered_binder_is_decrypt_error(resumable):
    scfg, cache = resumable

    def flip_binder(raw):
        if raw[0] != HT.client_hello:
            return raw
        return raw[:-1] + bytes((raw[-1] ^ 1,))
    c, s = resume(scfg, cache, client_hook=flip_binder)
    expect_alert(s, c.data_to_send(), AD.decrypt_error)


def test_binder_of_wrong_length_is_decrypt_error(resumable):
    scfg, cache = resumable

    def long_binder(ch):
        ids, binders = ext.decode_pre_shared_key_client(ch.extensions[E.pre_shared_key])
        ch.extensions[E.pre_shared_key] = ext.encode_pre_shared_key_client(
            ids, [binders[0] + b"\x00"])
    hook = on_type(HT.client_hello, edit(m.ClientHello, long_binder))
    c, s = resume(scfg, cache, client_hook=hook)
    expect_alert(s, c.data_to_send(), AD.decrypt_error)


def test_resumption_without_psk_dhe_ke_falls_back_to_full_handshake(resumable):
    scfg, cache = resumable

    def psk_ke_only(ch):
        ch.extensions[E.psk_key_exchange_modes] = ext.encode_psk_modes([0])
    hook = on_type(HT.client_hello, edit(m.ClientHello, psk_ke_only))
    c, s = resume(scfg, cache, client_hook=hook)
    pump(c, s)
    assert c.handshake_complete and not c.handshake_complete.resumed


# --- CertificateRequest seen by the client ------------------------------------------------

def auth_server(hook):
    return make_server(server_config(client_auth="optional",
                                     client_trust_anchors=[pki().ca.root]), hook=hook)


def against_cr(fn, alert, **kw):
    c = make_client()
    s = auth_server(on_type(HT.certificate_request, fn))
    s.receive_data(c.data_to_send())
    expect_alert(c, s.data_to_send(), alert, **kw)


def test_certificate_request_with_context_is_illegal_parameter():
    against_cr(edit(m.CertificateRequest, lambda cr: setattr(cr, "request_context", b"\x01")),
               AD.illegal_parameter)


def test_certificate_request_without_signature_algorithms_is_missing_extension():
    against_cr(edit(m.CertificateRequest, lambda cr: cr.extensions.pop(E.signature_algorithms)),
               AD.missing_extension)


@pytest.mark.parametrize("fn", [truncate_body(1), extend_body(b"\x00")], ids=["cut", "extra"])
def test_certificate_request_bad_lengths_are_decode_error(fn):
    against_cr(fn, AD.decode_error)


def test_certificate_request_with_bad_signature_algorithms_is_decode_error():
    against_cr(edit(m.CertificateRequest, lambda cr: cr.extensions.__setitem__(
        E.signature_algorithms, b"\x00\x03\x04\x03\x00")), AD.decode_error,
        leading=1)
    # Parsed on arrival; the compatibility CCS is already out (it precedes the client's
    # first protected record) and the alert goes under the client handshake key.


def test_certificate_request_grease_is_ignored():
    def grease(cr):
        schemes = ext.decode_u16_list(cr.extensions[E.signature_algorithms], "s")
        cr.extensions[E.signature_algorithms] = ext.encode_u16_list([0x0A0A, *schemes])
        cr.extensions[0x1A1A] = b"grease"
    # Rewritten before the server adds it to its transcript (its CertificateVerify and
    # Finished cover the GREASE), so the handshake can complete.
    from tlskit.handshake.server13 import ServerHandshake13
    c = make_client()
    s = auth_server(None)
    sent: list[bytes] = []   # what the client got, as the MITM saw it
    s.message_hooks.append(lambda raw: sent.append(raw) or raw)
    with sender_side(ServerHandshake13, on_type(HT.certificate_request,
                                                edit(m.CertificateRequest, grease))):
        s.receive_data(c.data_to_send())
    pump(c, s)
    assert c.handshake_complete and s.handshake_complete
    (cr,) = [raw for raw in sent if raw[0] == HT.certificate_request]
    assert 0x1A1A in m.CertificateRequest.decode(memoryview(cr)[4:]).extensions


@pytest.mark.parametrize("etype", [E.key_share, E.supported_versions, E.early_data,
                                   E.server_name, E.post_handshake_auth, E.cookie])
def test_certificate_request_with_an_extension_defined_elsewhere_is_illegal_parameter(etype):
    # RFC 8446 4.2: an extension we recognise, in a message it is not defined for, is
    # illegal_parameter (only unknown ones are ignored in a CertificateRequest, 4.3.2).
    against_cr(edit(m.CertificateRequest, lambda cr: cr.extensions.__setitem__(etype, b"")),
               AD.illegal_parameter)


@pytest.mark.parametrize("body", [
    b"\x00\x00",                          # no name (4.2.4: at least one)
    b"\x00\x02\x00\x00",                  # an empty DistinguishedName
    b"\x00\x04\x00\x02\x04\x00",          # not a SEQUENCE
    b"\x00\x06\x00\x04\x30\x02\x31\x00",  # an empty RelativeDistinguishedName
    b"\x00\x04\x00\x02\x30\x00\x00",      # trailing bytes
], ids=["no-name", "empty-name", "not-sequence", "empty-rdn", "trailing"])
def test_certificate_request_with_malformed_ca_names_is_decode_error(body):
    # 4.2.4: the client reads the names strictly, holding a certificate or not.
    against_cr(edit(m.CertificateRequest,
                    lambda cr: cr.extensions.__setitem__(E.certificate_authorities, body)),
               AD.decode_error)


def test_certificate_request_with_every_extension_defined_for_it_completes():
    # 4.2's CR column (and RFC 8879 3's compress_certificate): all accepted together,
    # each with a well-formed body (4.4.2.1 and RFC 6962 3.3.1: the two requests are empty).
    bodies = {E.status_request: b"", E.signed_certificate_timestamp: b"",
              E.certificate_authorities: b"\x00\x04\x00\x02\x30\x00",  # one empty Name
              E.oid_filters: b"\x00\x00",                          # no filters
              E.signature_algorithms_cert: b"\x00\x02\x04\x03",   # ecdsa_secp256r1_sha256
              E.compress_certificate: b"\x02\x00\x01"}              # zlib

    def every(cr):
        cr.extensions.update(bodies)
    from tlskit.handshake.server13 import ServerHandshake13
    c = make_client()
    s = auth_server(None)
    with sender_side(ServerHandshake13, on_type(HT.certificate_request,
                                                edit(m.CertificateRequest, every))):
        s.receive_data(c.data_to_send())
    pump(c, s)
    assert c.handshake_complete and s.handshake_complete


@pytest.mark.parametrize("msg_type,fn", [
    (HT.certificate, truncate_body(1)), (HT.certificate, extend_body(b"\x00")),
    (HT.certificate_verify, truncate_body(1)), (HT.certificate_verify, extend_body(b"\x00")),
], ids=["cert-cut", "cert-extra", "cv-cut", "cv-extra"])
def test_client_certificate_messages_bad_lengths_are_decode_error(msg_type, fn):
    leaf = pki().client
    c = make_client(client_config(certificate=CertifiedKey(leaf.chain, leaf.private_key)),
                    hook=on_type(msg_type, fn))
    s = make_server(server_config(client_auth="required",
                                  client_trust_anchors=[pki().ca.root]))
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    expect_alert(s, c.data_to_send(), AD.decode_error, peer=c)


def _drop_psk(ch: m.ClientHello) -> None:
    del ch.extensions[E.pre_shared_key]


# The client's retried ClientHello without its PSK (as when the ticket expires or the
# session store fails between the two hellos); its own transcript has this hello.
_without_psk = edit(m.ClientHello, _drop_psk)


def test_second_client_hello_that_no_longer_resumes_keeps_the_retry_suite():
    """4.1.4: the ServerHello after a HelloRetryRequest has the HelloRetryRequest's suite.
    The first hello resumes a TLS_AES_256_GCM_SHA384 ticket, which picks that suite
    over the server's preferred TLS_AES_128_GCM_SHA256; the retried hello carries no PSK
    (as when the ticket expires or the session store fails between the two hellos), so
    the server falls back to a full handshake, under the suite it already named."""
    from tlskit.handshake.client13 import ClientHandshake13

    from ..support.records import split_records

    suites = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"]
    scfg = server_config(ticket_key=bytes(32), cipher_suites=suites,
                         groups=["x25519", "secp256r1"])
    cache = SessionCache()
    pump(make_client(client_config(session_cache=cache, cipher_suites=suites[1:])),
         make_server(scfg))
    c = make_client(client_config(session_cache=cache, cipher_suites=suites,
                                  groups=["x25519", "secp256r1"],
                                  key_share_groups=["secp256r1"]))
    s = make_server(scfg)
    s.receive_data(c.data_to_send())
    hrr = s.data_to_send()
    first = split_records(hrr)[0]
    assert m.ServerHello.decode(memoryview(first)[9:]).cipher_suite == 0x1302

    with sender_side(ClientHandshake13, on_type(HT.client_hello, _without_psk)):
        c.receive_data(hrr)   # the client's own transcript has the hello without the PSK
    pump(c, s)
    for side in (c, s):
        assert side.handshake_complete.cipher_suite == 0x1302
        assert not side.handshake_complete.resumed


def test_client_identity_of_a_ticket_not_resumed_after_a_retry_is_not_reported():
    """A ticket the first hello resumed, with the client's certificate in it, that the
    retried hello no longer offers: the full handshake that follows reports only the
    certificate the client sends then (here none, client_auth="optional")."""
    from tlskit.handshake.client13 import ClientHandshake13

    scfg = server_config(ticket_key=bytes(32), groups=["x25519", "secp256r1"],
                         client_auth="optional", client_trust_anchors=[pki().ca.root])
    cache = SessionCache()
    leaf = CertifiedKey(pki().client.chain, pki().client.private_key)
    first = make_server(scfg)
    pump(make_client(client_config(session_cache=cache, certificate=leaf)), first)
    assert first.handshake_complete.peer_certificates
    c = make_client(client_config(session_cache=cache, groups=["x25519", "secp256r1"],
                                  key_share_groups=["secp256r1"]))
    s = make_server(scfg)
    s.receive_data(c.data_to_send())

    with sender_side(ClientHandshake13, on_type(HT.client_hello, _without_psk)):
        c.receive_data(s.data_to_send())   # the HelloRetryRequest
    pump(c, s)
    assert not s.handshake_complete.resumed
    assert s.handshake_complete.peer_certificates == []


@pytest.mark.parametrize("payload", ["compressed", "bomb"])
def test_client_compressed_certificate_is_unexpected_message(payload):
    # RFC 8879 4: a CompressedCertificate only answers a compress_certificate offer, and
    # tlskit's CertificateRequest makes none: the server never decompresses a client's
    # chain, a bomb included.
    import zlib

    from tlskit.wire import certcompress

    def compress(raw: bytes) -> bytes:
        if payload == "bomb":
            return m.CompressedCertificate(certcompress.ZLIB, 60_000,
                                           zlib.compress(bytes(1 << 22), 9)).encode()
        return certcompress.compress(certcompress.ZLIB, raw[4:]).encode()

    leaf = pki().client
    c = make_client(client_config(certificate=CertifiedKey(leaf.chain, leaf.private_key)),
                    hook=on_type(HT.certificate, compress))
    s = make_server(server_config(client_auth="required",
                                  client_trust_anchors=[pki().ca.root],
                                  certificate_compression=("zlib",)))
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    expect_alert(s, c.data_to_send(), AD.unexpected_message, peer=c)
