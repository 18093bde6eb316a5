"""`ServerConfig.certificate_resolver` against tlskit's client in memory: what the resolver
sees (the inner name with ECH), when it is asked (once per full handshake, through a
HelloRetryRequest, not on resumption, TLS 1.3 and 1.2), and every way it can fail, each
with its exact alert on both sides."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlskit import (
    Acceptor,
    AlertReceived,
    CertifiedKey,
    ClientConnection,
    ClientHelloInfo,
    ConnectionClosed,
    HandshakeFailure,
    IllegalParameter,
    InternalError,
    ServerConfig,
    ServerConnection,
    SessionTicketReceived,
    TLSError,
    UnrecognizedName,
)
from tlskit.enums import AlertDescription as AD
from tlskit.enums import CipherSuite, NamedGroup, SignatureScheme
from tlskit.wire import messages as m

from ..support.ech import EchKey
from ..support.pki import client_config, pki, server_config
from ..support.pump import completed, exchange
from ..support.records import HS, record

VERSIONS = ["TLSv1.3", "TLSv1.2"]


@cache
def leaf(name: str, key_type: str = "ec256") -> CertifiedKey:
    issued = pki().ca.issue_server([name], key_type=key_type)
    return CertifiedKey(issued.chain, issued.private_key)


def subject(events: list[Any]) -> str:
    return str(completed(events).peer_certificates[0].subject.rfc4514_string())


def client(name: str | None = "a.test", **kw: Any) -> ClientConnection:
    if name is None:
        kw.setdefault("check_hostname", False)
    return ClientConnection(client_config(**kw), server_name=name)


class Recorder:
    """A resolver that keeps what it was shown and answers with ``answer(info)``."""

    def __init__(self, answer: Callable[[ClientHelloInfo], Any]) -> None:
        self.answer = answer
        self.seen: list[ClientHelloInfo] = []

    def __call__(self, info: ClientHelloInfo) -> Any:
        self.seen.append(info)
        return self.answer(info)


def by_name(info: ClientHelloInfo) -> CertifiedKey | None:
    return leaf(info.server_name) if info.server_name in ("a.test", "b.test") else None


def refused(client_conn: ClientConnection, server: ServerConnection) -> tuple[TLSError, AD]:
    """The server's error on the ClientHello, and the alert the client received."""
    with pytest.raises(TLSError) as info:
        server.receive_data(client_conn.data_to_send())
    events = client_conn.receive_data(server.data_to_send())
    [closed] = [e for e in events if isinstance(e, ConnectionClosed)]
    assert closed.alert is not None
    return info.value, closed.alert


@pytest.mark.parametrize("version", VERSIONS)
def test_the_resolver_chooses_by_name_with_no_certificate_configured(version: str) -> None:
    resolver = Recorder(by_name)
    config = ServerConfig(certificate_resolver=resolver)  # no certificate_chain at all
    for name in ("a.test", "b.test"):
        events, _ = exchange(client(name, versions=[version]), ServerConnection(config))
        assert subject(events) == f"CN={name}"
    info = resolver.seen[-1]
    assert [i.server_name for i in resolver.seen] == ["a.test", "b.test"]
    assert info.supported_versions[0] == version and not info.ech_accepted
    assert NamedGroup.x25519 in info.supported_groups
    assert SignatureScheme.ecdsa_secp256r1_sha256 in info.signature_schemes
    assert info.supports(leaf("b.test")) and info.supports(leaf("b.test", "rsa2048"))


@pytest.mark.parametrize("version", VERSIONS)
def test_the_name_is_lower_cased_as_certificate_selection_compares_it(version: str) -> None:
    """DNS names are case-insensitive (RFC 4343), and other clients send the name as
    typed (tlskit's own lower-cases it): a resolver keyed by lower-case names (a dict, as
    in the guide) serves "B.Test" b.test's certificate, as configured certificates are
    chosen; the Acceptor's info says the same."""
    hello = client("b.test", versions=[version]).data_to_send()
    assert hello.count(b"b.test") == 1
    hello = hello.replace(b"b.test", b"B.Test")  # (no PSK binder covers it)
    resolver = Recorder(by_name)
    server = ServerConnection(ServerConfig(certificate_resolver=resolver))
    server.receive_data(hello)  # (no UnrecognizedName: b.test's leaf was found)
    assert [i.server_name for i in resolver.seen] == ["b.test"]
    acceptor = Acceptor()
    info = acceptor.receive_data(hello)
    assert info is not None and info.server_name == "b.test"


@pytest.mark.parametrize("version", VERSIONS)
def test_none_falls_back_to_the_configured_certificates(version: str) -> None:
    config = server_config(certificate_resolver=lambda info: None)
    events, _ = exchange(client("localhost", versions=[version]), ServerConnection(config))
    assert subject(events) == "CN=localhost"


def test_asked_once_through_a_hello_retry_request() -> None:
    resolver = Recorder(by_name)
    config = ServerConfig(certificate_resolver=resolver, groups=["secp256r1"])
    events, _ = exchange(client(groups=["x25519", "secp256r1"]), ServerConnection(config))
    assert completed(events).group is NamedGroup.secp256r1  # (the retry happened)
    assert subject(events) == "CN=a.test" and len(resolver.seen) == 1
    assert resolver.seen[0].key_share_groups == (NamedGroup.x25519,)


def test_a_second_hello_may_not_change_the_name_the_first_was_answered_for() -> None:
    """The retry reuses the first hello's certificate (4.1.2: the second hello repeats
    the first): one naming another site is refused, not served a.test's chain."""
    resolver = Recorder(by_name)
    server = ServerConnection(ServerConfig(certificate_resolver=resolver,
                                           groups=["secp256r1"]))
    hello = client(groups=["x25519", "secp256r1"])
    server.receive_data(hello.data_to_send())
    hello.receive_data(server.data_to_send())  # the HelloRetryRequest
    second = hello.data_to_send()
    assert second.count(b"a.test") == 1
    with pytest.raises(IllegalParameter, match="changed extensions"):
        server.receive_data(second.replace(b"a.test", b"b.test"))
    assert [i.server_name for i in resolver.seen] == ["a.test"]


@pytest.mark.parametrize("version", VERSIONS)
def test_not_asked_when_a_session_resumes(version: str) -> None:
    resolver = Recorder(by_name)
    config = ServerConfig(certificate_resolver=resolver, session_tickets=1)
    cfg = client_config(versions=[version], legacy_session_ticket=True)
    events, _ = exchange(ClientConnection(cfg, server_name="a.test"), ServerConnection(config))
    [ticket] = [e for e in events if isinstance(e, SessionTicketReceived)]
    assert ticket.session is not None
    again = ClientConnection(cfg, server_name="a.test", session=ticket.session)
    events, _ = exchange(again, ServerConnection(config))
    assert completed(events).resumed and len(resolver.seen) == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_a_resolver_that_raises_ends_the_handshake_with_internal_error(version: str) -> None:
    def broken(info: ClientHelloInfo) -> CertifiedKey:
        raise KeyError("database down")

    server = ServerConnection(server_config(certificate_resolver=broken))
    error, alert = refused(client(versions=[version]), server)
    assert type(error) is InternalError and alert is AD.internal_error
    assert str(error) == "certificate_resolver raised KeyError: 'database down'"
    assert isinstance(error.__cause__, KeyError)


def test_a_resolver_may_refuse_with_its_own_alert() -> None:
    def refuse(info: ClientHelloInfo) -> CertifiedKey:
        raise UnrecognizedName(f"no site {info.server_name}")

    error, alert = refused(client(), ServerConnection(server_config(certificate_resolver=refuse)))
    assert type(error) is UnrecognizedName and alert is AD.unrecognized_name
    assert str(error) == "no site a.test"


def test_a_peer_alert_leaking_from_another_connection_is_an_internal_error() -> None:
    """A resolver whose own tlskit connection (to a key store, say) failed with
    AlertReceived: the client sent no alert, so it gets internal_error rather than no
    alert at all, and the server reports an InternalError caused by it, not
    AlertReceived as though the client had alerted."""
    leaked = AlertReceived(AD.decrypt_error)

    def resolve(info: ClientHelloInfo) -> CertifiedKey:
        raise leaked

    error, alert = refused(client(), ServerConnection(server_config(certificate_resolver=resolve)))
    assert type(error) is InternalError and alert is AD.internal_error
    assert error.__cause__ is leaked


def test_a_resolver_returning_something_else_is_an_internal_error() -> None:
    config = server_config(certificate_resolver=lambda info: pki().server)  # an Issued
    error, alert = refused(client(), ServerConnection(config))
    assert type(error) is InternalError and alert is AD.internal_error
    assert "returned a Issued, not a tlskit.CertifiedKey or None" in str(error)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("name", "error_type", "expected"), [
    ("c.test", UnrecognizedName, AD.unrecognized_name),
    (None, HandshakeFailure, AD.handshake_failure)])
def test_none_without_a_configured_certificate(version: str, name: str | None,
                                               error_type: type, expected: AD) -> None:
    config = ServerConfig(certificate_resolver=by_name)
    error, alert = refused(client(name, versions=[version]), ServerConnection(config))
    assert type(error) is error_type and error.alert is alert is expected
    assert "certificate_resolver has no certificate for" in str(error)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_resolved_certificate_the_client_cannot_verify_fails_as_a_configured_one(
        version: str) -> None:
    """The client accepts RSA-PSS signatures only: the resolver's ECDSA leaf fails exactly
    as the same leaf configured does."""
    schemes = ["rsa_pss_rsae_sha256"]
    resolved = ServerConfig(certificate_resolver=lambda info: leaf("a.test"))
    configured = ServerConfig(certificates=[leaf("a.test")])
    results = [refused(client(versions=[version], signature_schemes=schemes),
                       ServerConnection(config)) for config in (resolved, configured)]
    (error, alert), (plain_error, plain_alert) = results
    assert type(error) is type(plain_error) is HandshakeFailure
    assert alert is plain_alert is AD.handshake_failure
    assert str(error) == str(plain_error)


def test_with_ech_the_resolver_sees_the_inner_name() -> None:
    key = EchKey.make(public_name=b"public.test")
    resolver = Recorder(lambda info: leaf(info.server_name or "none"))
    pairs = [(key.config.encode(), key.private_key.private_bytes_raw())]
    config = ServerConfig(certificate_resolver=resolver, ech_keys=pairs)
    hidden = ClientConnection(client_config(ech_config_list=key.config_list),
                              server_name="a.test")
    events, _ = exchange(hidden, ServerConnection(config))
    assert completed(events).ech_accepted and subject(events) == "CN=a.test"
    [info] = resolver.seen
    assert info.server_name == "a.test" and info.ech_accepted


def test_with_ech_rejected_the_resolver_sees_the_public_name() -> None:
    """A config this server has no key for: it answers the outer hello, whose name is the
    public one (and the client then gives up with EchRejected)."""
    offered, held = EchKey.make(public_name=b"public.test"), EchKey.make()
    resolver = Recorder(lambda info: leaf(info.server_name or "none"))
    config = ServerConfig(certificate_resolver=resolver, ech_keys=[
        (held.config.encode(), held.private_key.private_bytes_raw())])
    hidden = ClientConnection(client_config(ech_config_list=offered.config_list),
                              server_name="a.test")
    with pytest.raises(TLSError):
        exchange(hidden, ServerConnection(config))
    [info] = resolver.seen
    assert info.server_name == "public.test" and not info.ech_accepted


def test_an_extension_the_handshake_ignores_stays_ignored_with_a_resolver() -> None:
    """A TLS 1.2 hello whose key_share (a TLS 1.3 extension that TLS 1.2 never reads)
    does not parse: a server with a resolver answers it as one without does, the
    info leaving out what it could not read."""
    flight = client("a.test", versions=["TLSv1.2"]).data_to_send()
    ch = m.ClientHello.decode(flight[9:])
    ch.extensions[51] = b"\x00\x00junk"
    hello = record(HS, ch.encode())
    resolver = Recorder(lambda info: None)
    for config in (server_config(), server_config(certificate_resolver=resolver)):
        server = ServerConnection(config)
        server.receive_data(hello)
        assert server.data_to_send()[:1] == bytes([HS])
    [info] = resolver.seen
    assert info.key_share_groups == () and info.server_name == "a.test"


def test_a_resolver_must_be_callable() -> None:
    with pytest.raises(TypeError, match="certificate_resolver must be a callable"):
        ServerConfig(certificate_resolver=leaf("a.test"))  # type: ignore[arg-type]


def test_supports_follows_the_clients_schemes_and_curves() -> None:
    only_pss = ClientHelloInfo("a.test", signature_schemes=(SignatureScheme.rsa_pss_rsae_sha256,),
                               supported_versions=("TLSv1.3",))
    assert only_pss.supports(leaf("a.test", "rsa2048"))
    assert not only_pss.supports(leaf("a.test"))
    p384_only = ClientHelloInfo("a.test", supported_groups=(NamedGroup.secp384r1,),
                                signature_schemes=(SignatureScheme.ecdsa_secp256r1_sha256,),
                                supported_versions=("TLSv1.2",), cipher_suites=(
                                    CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,))
    assert not p384_only.supports(leaf("a.test"))  # RFC 8422 5.1: a P-256 key
    assert p384_only.supports(leaf("a.test", "ec384"))  # (1.2 schemes name no curve)
    assert ClientHelloInfo(None).supports(leaf("a.test")) is False  # nothing offered


SCHEMES = ["ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384", "ecdsa_secp521r1_sha512",
           "ed25519", "rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384", "rsa_pkcs1_sha256",
           "rsa_pkcs1_sha384"]
SUITES12 = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
GROUPS = ["x25519", "secp256r1", "secp384r1"]


def supports_then_shakes(ck: CertifiedKey, server: dict[str, Any],
                         **client: Any) -> tuple[bool, bool]:
    """What ``info.supports(ck)`` said in the resolver, and whether the handshake that
    served ``ck`` then completed."""
    said: list[bool] = []

    def resolver(info: ClientHelloInfo) -> CertifiedKey:
        said.append(info.supports(ck))
        return ck

    config = ServerConfig(certificate_resolver=resolver, groups=GROUPS, **server)
    hello = ClientConnection(client_config(groups=client.pop("groups", GROUPS), **client),
                             server_name="a.test")
    with contextlib.suppress(HandshakeFailure):
        exchange(hello, ServerConnection(config))
    [supported] = said
    return supported, hello.handshake_complete is not None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key_type=st.sampled_from(["ec256", "ec384", "rsa2048", "ed25519"]),
       schemes=st.lists(st.sampled_from(SCHEMES), min_size=1, unique=True),
       versions=st.sampled_from([["TLSv1.3"], ["TLSv1.2"], ["TLSv1.3", "TLSv1.2"]]),
       groups=st.lists(st.sampled_from(GROUPS), min_size=1, unique=True),
       suites12=st.lists(st.sampled_from(SUITES12), min_size=1, unique=True),
       server_versions=st.sampled_from([None, ["TLSv1.2"]]))
def test_supports_agrees_with_the_handshake(key_type: str, schemes: list[str],
                                            versions: list[str], groups: list[str],
                                            suites12: list[str],
                                            server_versions: list[str] | None) -> None:
    """Go's SupportsCertificate promise: True exactly when serving the key completes the
    handshake (the client's schemes, its curves, its TLS 1.2 suites, in the version the
    server speaks with it)."""
    if server_versions is not None and "TLSv1.2" not in versions:
        server_versions = None  # (no version in common: the resolver is never asked)
    server = {} if server_versions is None else {"versions": server_versions}
    said, shook = supports_then_shakes(
        leaf("a.test", key_type), server, signature_schemes=schemes, versions=versions,
        groups=groups, cipher_suites=["TLS_AES_128_GCM_SHA256", *suites12])
    assert said == shook


def test_supports_judges_the_version_the_server_speaks() -> None:
    """A client offering both versions but only PKCS#1 RSA signatures (none of them TLS 1.3
    handshake schemes): a TLS 1.3 server cannot serve it an RSA key, a TLS 1.2 one can,
    and the resolver's info says which version it is asked for."""
    rsa = leaf("a.test", "rsa2048")
    client = {"signature_schemes": ["rsa_pkcs1_sha256"], "versions": ["TLSv1.3", "TLSv1.2"]}
    assert supports_then_shakes(rsa, {}, **client) == (False, False)
    assert supports_then_shakes(rsa, {"versions": ["TLSv1.2"]}, **client) == (True, True)
    seen = Recorder(lambda info: rsa)
    exchange(ClientConnection(client_config(**client), server_name="a.test"),
             ServerConnection(ServerConfig(certificate_resolver=seen, versions=["TLSv1.2"])))
    assert [info.version for info in seen.seen] == ["TLSv1.2"]
