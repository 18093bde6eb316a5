"""Hostile peers around RFC 7250 raw public keys, TLS 1.3 and TLS 1.2: malformed
certificate type extensions, a type that was not offered, a RawPublicKey Certificate
with two entries or a garbage SubjectPublicKeyInfo, each with its exact alert."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tlskit import ClientConfig, RawPublicKey, ServerConfig
from tlskit.enums import ExtensionType as E
from tlskit.enums import HandshakeType as HT
from tlskit.handshake.client12 import ClientHandshake12
from tlskit.handshake.server12 import ServerHandshake12
from tlskit.wire import messages as m
from tlskit.wire import messages12 as m12

from ..support.pki import CLASSIC_GROUPS, client_config, pki, server_config
from .helpers import AD, edit, expect_alert, make_client, make_server, on_type
from .helpers12 import (
    Run12,
    client12,
    edit_client_hello,
    edit_server_hello,
    expect_alert12,
    on_msg,
    rewriting,
)
from .helpers12 import server12 as server12_endpoint

KEY = RawPublicKey(ec.generate_private_key(ec.SECP256R1()))
CLIENT_KEY = RawPublicKey(ec.generate_private_key(ec.SECP256R1()))
GARBAGE_SPKI = b"\x30\x0a\x30\x05\x06\x03\x2b\x65\x70\x03\x01\x00"  # Ed25519 OID, no key


def pinning_client(**kw: Any) -> ClientConfig:
    kw.setdefault("pinned_server_keys", [KEY.spki])
    kw.setdefault("groups", CLASSIC_GROUPS)
    return ClientConfig(**kw)


def raw_server(**kw: Any) -> ServerConfig:
    kw.setdefault("raw_public_key", KEY)
    kw.setdefault("groups", CLASSIC_GROUPS)
    return ServerConfig(**kw)


def set_ext(msg_cls: Any, etype: int, body: bytes | None) -> Any:
    def fn(msg: Any) -> None:
        if body is None:
            msg.extensions.pop(etype, None)
        else:
            msg.extensions[etype] = body
    return edit(msg_cls, fn)


# --- TLS 1.3: the server reads the ClientHello's lists ----------------------------------

@pytest.mark.parametrize("body", [b"", b"\x00", b"\x02\x02", b"\x01\x02\x00"],
                         ids=["empty", "empty-list", "short", "trailing"])
@pytest.mark.parametrize("etype", [E.server_certificate_type, E.client_certificate_type])
def test_malformed_client_hello_list_is_decode_error(etype: int, body: bytes) -> None:
    c = make_client(client_config(), hook=on_type(HT.client_hello,
                                                  set_ext(m.ClientHello, etype, body)))
    s = make_server(server_config(raw_public_key=KEY, client_auth="optional",
                                  client_trust_anchors=[pki().ca.root]))
    expect_alert(s, c.data_to_send(), AD.decode_error)


def test_client_hello_listing_no_type_the_server_has() -> None:
    c = make_client(client_config(), hook=on_type(HT.client_hello, set_ext(
        m.ClientHello, E.server_certificate_type, b"\x02\x01\x03")))  # OpenPGP, 3: unknown
    s = make_server(server_config())
    expect_alert(s, c.data_to_send(), AD.unsupported_certificate)


# --- TLS 1.3: the client reads EncryptedExtensions and the Certificate -------------------

def against(server_hook: Any, alert: AD, *, client: ClientConfig | None = None,
            server: ServerConfig | None = None) -> None:
    c = make_client(client or pinning_client())
    s = make_server(server or raw_server(), hook=server_hook)
    s.receive_data(c.data_to_send())
    expect_alert(c, s.data_to_send(), alert)


@pytest.mark.parametrize("body", [b"", b"\x02\x02", b"\x01\x02"], ids=["empty", "two", "list"])
def test_malformed_server_answer_is_decode_error(body: bytes) -> None:
    against(on_type(HT.encrypted_extensions, set_ext(
        m.EncryptedExtensions, E.server_certificate_type, body)), AD.decode_error)


def test_server_choosing_a_type_not_offered_is_illegal_parameter() -> None:
    # We offered RawPublicKey alone; the server says X.509.
    against(on_type(HT.encrypted_extensions, set_ext(
        m.EncryptedExtensions, E.server_certificate_type, b"\x00")), AD.illegal_parameter)


def test_server_answer_dropped_means_x509_which_we_cannot_check() -> None:
    against(on_type(HT.encrypted_extensions, set_ext(
        m.EncryptedExtensions, E.server_certificate_type, None)), AD.unsupported_certificate)


def test_unsolicited_server_certificate_type_is_unsupported_extension() -> None:
    against(on_type(HT.encrypted_extensions, set_ext(
        m.EncryptedExtensions, E.server_certificate_type, b"\x02")),
        AD.unsupported_extension, client=client_config(), server=server_config())


def test_client_certificate_type_not_offered_is_illegal_parameter() -> None:
    client = pinning_client(raw_public_key=CLIENT_KEY)  # offers RawPublicKey alone
    server = raw_server(client_auth="required", pinned_client_keys=[CLIENT_KEY.spki])
    against(on_type(HT.encrypted_extensions, set_ext(
        m.EncryptedExtensions, E.client_certificate_type, b"\x00")),
        AD.illegal_parameter, client=client, server=server)


def test_client_certificate_type_answer_without_a_request_is_taken() -> None:
    """RFC 7250 4.2 has a TLS 1.2 server leave client_certificate_type out when it sends
    no CertificateRequest; in TLS 1.3 GnuTLS answers it in EncryptedExtensions whether or
    not it asks (a post-handshake request may follow), and neither GnuTLS's nor OpenSSL's
    client checks for a request. tlskit takes the answer too: it only says which form our
    certificate would take if one is asked for, and none is asked for here."""
    from tlskit.handshake.server13 import ServerHandshake13

    from ..support.pump import pump
    from .helpers import sender_side
    c = make_client(pinning_client(raw_public_key=CLIENT_KEY))
    s = make_server(raw_server())  # client_auth="none": no answer of its own
    answer = set_ext(m.EncryptedExtensions, E.client_certificate_type, b"\x02")
    sent: list[bytes] = []
    with sender_side(ServerHandshake13, on_type(HT.encrypted_extensions,
                                                lambda raw: sent.append(answer(raw))
                                                or sent[-1])):
        s.receive_data(c.data_to_send())
    assert len(sent) == 1 and E.client_certificate_type in m.EncryptedExtensions.decode(
        memoryview(sent[0])[4:]).extensions
    pump(c, s)
    assert c.handshake_complete is not None and s.handshake_complete is not None
    assert s.handshake_complete.peer_raw_public_key is None


def certificate_entries(blobs: list[bytes]) -> Any:
    return edit(m.Certificate, lambda cert: setattr(
        cert, "entries", [m.CertificateEntry(b) for b in blobs]))


@pytest.mark.parametrize("blobs", [[KEY.spki, KEY.spki], [GARBAGE_SPKI], [b"\x05\x00"],
                                   [KEY.spki + b"\x00"]],
                         ids=["two-entries", "garbage-spki", "not-spki", "trailing-byte"])
def test_bad_raw_key_certificate_is_bad_certificate(blobs: list[bytes]) -> None:
    against(on_type(HT.certificate, certificate_entries(blobs)), AD.bad_certificate)



def test_unpinned_key_is_refused_before_it_is_parsed() -> None:
    """The peer's SPKI is compared with the pins first: an unpinned key is never handed
    to `cryptography` (here a DSA key, whose parsing warns that DSA is deprecated: a
    warning any peer could raise in the application's log; before: it did)."""
    import warnings

    from cryptography.hazmat.primitives.asymmetric import dsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dsa_spki = dsa.generate_private_key(1024).public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        against(on_type(HT.certificate, certificate_entries([dsa_spki])), AD.bad_certificate)
    assert [str(w.message) for w in seen] == []

def test_server_raw_key_with_a_certificate_entry_extension() -> None:
    def add_status(cert: m.Certificate) -> None:
        cert.entries[0].extensions[E.status_request] = b"\x01\x00\x00\x01\x00"
    against(on_type(HT.certificate, edit(m.Certificate, add_status)),
            AD.unsupported_extension)


def test_client_raw_key_two_entries_is_bad_certificate() -> None:
    client = pinning_client(raw_public_key=CLIENT_KEY)
    c = make_client(client, hook=on_type(HT.certificate,
                                         certificate_entries([CLIENT_KEY.spki] * 2)))
    s = make_server(raw_server(client_auth="required", pinned_client_keys=[CLIENT_KEY.spki]))
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    expect_alert(s, c.data_to_send(), AD.bad_certificate)


# --- TLS 1.2 ------------------------------------------------------------------------------

def run_raw12(client_kw: dict[str, Any] | None = None,
              server_kw: dict[str, Any] | None = None) -> Run12:
    ckw = {"pinned_server_keys": [KEY.spki], "trust_anchors": None} | (client_kw or {})
    skw = {"raw_public_key": KEY, "certificate_chain": None,
           "private_key": None} | (server_kw or {})
    return Run12(client12(**ckw), server12_endpoint(**skw))


@pytest.mark.parametrize("body", [b"", b"\x02\x02", b"\x01\x02"], ids=["empty", "two", "list"])
def test_tls12_malformed_server_answer_is_decode_error(body: bytes) -> None:
    run = run_raw12()
    with rewriting(ServerHandshake12, edit_server_hello(
            lambda sh: sh.extensions.__setitem__(E.server_certificate_type, body))):
        run.to_server_flight()
    expect_alert12(run.client, run.server_flight, AD.decode_error)


def test_tls12_type_not_offered_is_illegal_parameter() -> None:
    run = run_raw12()
    with rewriting(ServerHandshake12, edit_server_hello(
            lambda sh: sh.extensions.__setitem__(E.server_certificate_type, b"\x00"))):
        run.to_server_flight()
    expect_alert12(run.client, run.server_flight, AD.illegal_parameter)


def test_tls12_unsolicited_type_is_unsupported_extension() -> None:
    run = Run12(client12(), server12_endpoint())
    with rewriting(ServerHandshake12, edit_server_hello(
            lambda sh: sh.extensions.__setitem__(E.server_certificate_type, b"\x02"))):
        run.to_server_flight()
    expect_alert12(run.client, run.server_flight, AD.unsupported_extension)


@pytest.mark.parametrize(("body", "alert"), [
    (b"\x00\x00\x05" + KEY.spki, AD.decode_error),  # length does not fill the body
    (b"\x00\x00\x00", AD.decode_error),  # an empty key from a server
    (len(GARBAGE_SPKI).to_bytes(3, "big") + GARBAGE_SPKI, AD.bad_certificate),
    # The X.509 list form (one entry holding the key) is not RFC 7250's TLS 1.2 form.
    (m12.Certificate12([KEY.spki]).encode()[4:], AD.bad_certificate),
], ids=["short-length", "empty", "garbage-spki", "list-form"])
def test_tls12_bad_raw_key_certificate(body: bytes, alert: AD) -> None:
    run = run_raw12()
    with rewriting(ServerHandshake12, on_msg(HT.certificate,
                                             lambda hs, raw: m.frame(HT.certificate, body))):
        run.to_server_flight()
    expect_alert12(run.client, run.server_flight, alert)


@pytest.mark.parametrize("body", [b"", b"\x00", b"\x02\x02"], ids=["empty", "empty-list", "short"])
def test_tls12_server_reads_a_malformed_list_as_decode_error(body: bytes) -> None:
    client = client12()
    hello = edit_client_hello(lambda ch: ch.extensions.__setitem__(
        E.server_certificate_type, body))(client.data_to_send())
    expect_alert12(server12_endpoint(raw_public_key=KEY), hello, AD.decode_error)


def test_tls12_server_with_no_type_in_common_is_unsupported_certificate() -> None:
    client = client12(pinned_server_keys=[KEY.spki], trust_anchors=None)
    expect_alert12(server12_endpoint(), client.data_to_send(), AD.unsupported_certificate)


@pytest.mark.parametrize(("body", "alert"), [
    (len(GARBAGE_SPKI).to_bytes(3, "big") + GARBAGE_SPKI, AD.bad_certificate),
    (b"\x00\x00\x07" + CLIENT_KEY.spki, AD.decode_error),
    (len(KEY.spki).to_bytes(3, "big") + KEY.spki, AD.bad_certificate),  # not pinned
], ids=["garbage-spki", "short-length", "unpinned"])
def test_tls12_bad_client_raw_key(body: bytes, alert: AD) -> None:
    run = run_raw12({"raw_public_key": CLIENT_KEY},
                    {"client_auth": "required", "pinned_client_keys": [CLIENT_KEY.spki]})
    run.to_server_flight()
    with rewriting(ClientHandshake12, on_msg(HT.certificate,
                                             lambda hs, raw: m.frame(HT.certificate, body))):
        run.client.receive_data(run.server_flight)
    expect_alert12(run.server, run.client.data_to_send(), alert)


# --- TLS 1.3: a HelloRetryRequest between a declined and an accepted PSK ----------------

def _garble_first_identity(ch: m.ClientHello) -> None:
    """The first PSK identity (a ticket) with one byte changed: the server cannot open
    it, so it declines the PSK (before any binder is checked)."""
    body = bytearray(ch.extensions[E.pre_shared_key])
    body[4] ^= 0xFF  # identities<7..2^16-1>, then the first identity<1..2^16-1>
    ch.extensions[E.pre_shared_key] = bytes(body)


def test_retry_that_resumes_forgets_the_first_hellos_certificate_types() -> None:
    """A client whose first ClientHello's ticket is declined (a full handshake would
    follow: the server works out the RFC 7250 types, RawPublicKey for the client's
    key) and whose second, after the HelloRetryRequest, resumes: the resumed handshake
    answers no certificate type, and a post-handshake request takes the client's
    certificate as X.509 (before: the first hello's answers were sent and kept, and the
    request read the certificate as a raw key: bad_certificate)."""
    from tlskit import CertifiedKey, ClientCertificateReceived, SessionCache

    from ..support.pump import pump
    groups = ["x25519", "secp256r1"]
    scfg = raw_server(ticket_key=bytes(32), groups=groups, client_auth="optional",
                      pinned_client_keys=[CLIENT_KEY.spki],
                      client_trust_anchors=[pki().ca.root])
    cache = SessionCache()
    pump(make_client(pinning_client(session_cache=cache)), make_server(scfg))
    seen: list[m.EncryptedExtensions] = []

    def tracer(step: str, fields: dict[str, Any]) -> None:
        if step == "encrypted_extensions":
            seen.append(fields["message"])

    leaf = CertifiedKey(pki().client.chain, pki().client.private_key)
    c = make_client(pinning_client(session_cache=cache, raw_public_key=CLIENT_KEY,
                                   certificate=leaf, post_handshake_auth=True,
                                   groups=groups, key_share_groups=["secp256r1"],
                                   tracer=tracer),
                    hook=on_type(HT.client_hello, edit(m.ClientHello, _garble_first_identity),
                                 once=True))
    s = make_server(scfg)
    pump(c, s)
    assert c.handshake_complete is not None and c.handshake_complete.resumed
    assert s.handshake_complete is not None and s.handshake_complete.resumed
    [ee] = seen
    assert E.server_certificate_type not in ee.extensions
    assert E.client_certificate_type not in ee.extensions
    s.request_client_certificate()
    [got] = [e for e in pump(s, c) if isinstance(e, ClientCertificateReceived)]
    assert got.peer_raw_public_key is None
    assert got.peer_certificates[0] == pki().client.chain[0]


@pytest.mark.parametrize("versions", [["TLSv1.3"], ["TLSv1.2"]], ids=["tls13", "tls12"])
def test_certificate_the_client_cannot_verify_gives_way_to_the_raw_key(
        versions: list[str]) -> None:
    """A client preferring X.509 to RawPublicKey (its list edited to X.509, RawPublicKey:
    tlskit's own client puts the raw key first), accepting no Ed25519 signature, and a
    server whose certificate is Ed25519 and whose raw key is P-256: the certificate
    cannot serve this client, the raw key can, so the raw key is served (before:
    handshake_failure)."""
    from ..support.pump import pump
    c = make_client(client_config(pinned_server_keys=[KEY.spki], versions=versions,
                                  signature_schemes=["ecdsa_secp256r1_sha256",
                                                     "rsa_pss_rsae_sha256"]),
                    hook=on_type(HT.client_hello, set_ext(
                        m.ClientHello, E.server_certificate_type, b"\x02\x00\x02"), once=True))
    s = make_server(server_config(ed25519=True, raw_public_key=KEY, versions=versions))
    pump(c, s)
    hc = c.handshake_complete
    assert hc is not None and hc.version == versions[0]
    assert hc.peer_raw_public_key == KEY.spki and hc.peer_certificates == []
