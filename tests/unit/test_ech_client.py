"""tlskit's ECH client (RFC 9849 6.1) in memory: accepted by a test client-facing server
(tests/support/ech.py), rejected by tlskit's own server (which has no ECH), and each
failure path with its alert. BoringSSL checks the same against a real implementation
(tests/interop/test_boringssl.py)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tlskit import ClientConnection, ServerConnection
from tlskit.enums import AlertDescription as AD
from tlskit.errors import EchRejected, TLSError
from tlskit.events import ConnectionClosed, HandshakeComplete
from tlskit.session import SessionCache
from tlskit.wire import ech

from ..support.ech import ECH_EXT, EchKey, accepting_server, confirmation, open_outer, parse_hello
from ..support.pki import client_config, server_config
from ..support.pump import exchange
from ..support.records import APPDATA, HS, KeyLog, Keys, record, split_records

NAME = "localhost"  # the test leaf's one name


def ech_client(key: EchKey, server_name: str = NAME, **kw: Any) -> ClientConnection:
    return ClientConnection(client_config(ech_config_list=key.config_list, **kw),
                            server_name=server_name)


def _hello(flight: bytes) -> bytes:
    (rec,) = [r for r in split_records(flight) if r[0] == HS]
    return rec[5:]


def test_accepted_inner_hello_carries_the_real_name_outer_the_public_one() -> None:
    key = EchKey.make()
    client = ech_client(key, alpn_protocols=["h2"])
    flight = client.data_to_send()
    outer, _ = parse_hello(_hello(flight)[4:])
    exts = dict(outer["exts"])
    assert b"public.example" in exts[0] and b"localhost" not in _hello(flight)
    assert 16 in exts  # (ALPN goes in both, as BoringSSL's client does)
    server, opened = accepting_server(flight, key, {"alpn_protocols": ["h2"]})
    inner, _ = parse_hello(opened.inner[4:])
    inner_exts = dict(inner["exts"])
    assert b"localhost" in inner_exts[0] and inner_exts[ECH_EXT] == ech.INNER_BODY
    assert inner_exts[43] == b"\x02\x03\x04"  # supported_versions: TLS 1.3 alone
    assert inner_exts[16] == exts[16] == b"\x00\x03\x02h2"  # ALPN: the same in both
    assert inner_exts[51] == exts[51]  # key_share: compressed, expanded from the outer
    assert inner["random"] != outer["random"] and inner["sid"] == outer["sid"]
    assert opened.encoded_length % 32 == 0 and opened.padding  # 6.1.3
    client_events = client.receive_data(server._ech_flight)  # type: ignore[attr-defined]
    more_client, server_events = exchange(client, server)
    done = [e for e in client_events + more_client if isinstance(e, HandshakeComplete)]
    assert len(done) == 1 and done[0].ech_accepted and done[0].alpn_protocol == "h2"
    assert done[0].server_name == NAME
    assert any(isinstance(e, HandshakeComplete) for e in server_events)


def test_padding_hides_the_name_length_up_to_maximum_name_length() -> None:
    key = EchKey.make(max_name=64)
    sizes = set()
    for name in ("a.localhost", "a-much-longer-name.example.localhost"):
        client = ClientConnection(client_config(ech_config_list=key.config_list),
                                  server_name=name)
        opened = open_outer(_hello(client.data_to_send()), key)
        sizes.add(opened.encoded_length)
    assert len(sizes) == 1


def test_outer_hello_is_padded_as_a_plain_or_grease_one_is() -> None:
    """RFC 7685: a hello of 256..511 bytes is padded to 512, as tlskit does for a plain
    or GREASE hello; an unpadded ECH outer hello stood out by its size (and met the
    middleboxes the padding is for). The padding is inside the AAD: still accepted."""
    key = EchKey.make(max_name=0)
    client = ech_client(key, server_name="a.localhost")
    flight = client.data_to_send()
    hello = _hello(flight)
    assert len(hello) == 512 and 21 in dict(parse_hello(hello[4:])[0]["exts"])
    grease = ClientConnection(client_config(ech_grease=True), server_name="a.localhost")
    assert len(_hello(grease.data_to_send())) >= 512
    assert open_outer(hello, key).inner


def test_rejected_by_a_server_without_ech_authenticates_the_public_name() -> None:
    """tlskit's server ignores ECH and answers the outer hello; the certificate is
    checked for the public name ("localhost" here), ech_required goes out, nothing else."""
    key = EchKey.make(public_name=b"localhost")
    client = ech_client(key, server_name="secret.example")
    server = ServerConnection(server_config())
    with pytest.raises(EchRejected) as info:
        exchange(client, server)
    err = info.value
    assert err.alert == AD.ech_required and err.retry_configs is None
    assert err.public_name == "localhost" and "no retry configs" in str(err)
    assert server.receive_data(client.data_to_send()) == [ConnectionClosed(AD.ech_required)]


def test_rejection_with_a_public_name_the_certificate_lacks_is_a_certificate_error() -> None:
    """6.1.6: without authentication of the public name, no retry configs: the
    verification failure itself ends the connection (not ech_required)."""
    key = EchKey.make(public_name=b"public.example")
    client = ech_client(key)
    with pytest.raises(TLSError) as info:
        exchange(client, ServerConnection(server_config()))
    assert not isinstance(info.value, EchRejected)
    assert info.value.alert == AD.bad_certificate


@pytest.mark.parametrize("versions", [["TLSv1.3"], ["TLSv1.2"]], ids=["tls13", "tls12"])
def test_public_name_is_checked_even_with_check_hostname_off(versions: list[str]) -> None:
    """check_hostname=False is about the real name; after a rejection the retry configs
    are only as good as the public name's authentication (RFC 9849 6.1.6), so a
    certificate without it is bad_certificate, not EchRejected (as Go checks it even
    with InsecureSkipVerify)."""
    server_kw = {"versions": versions}
    client = ech_client(EchKey.make(public_name=b"public.example"), check_hostname=False)
    with pytest.raises(TLSError) as info:
        exchange(client, ServerConnection(server_config(**server_kw)))
    assert not isinstance(info.value, EchRejected)
    assert info.value.alert == AD.bad_certificate
    client = ech_client(EchKey.make(public_name=b"localhost"), server_name="x.example",
                        check_hostname=False)
    with pytest.raises(EchRejected):
        exchange(client, ServerConnection(server_config(**server_kw)))


def _accepted_flight(key: EchKey, client: ClientConnection, **kw: Any
                     ) -> tuple[ServerConnection, bytes]:
    server, _ = accepting_server(client.data_to_send(), key, **kw)
    return server, server._ech_flight  # type: ignore[attr-defined]


def test_a_wrong_confirmation_is_a_rejection() -> None:
    key = EchKey.make(public_name=b"localhost")
    client = ech_client(key)
    _, flight = _accepted_flight(key, client,
                                      confirm=lambda c: bytes(b ^ 1 for b in c))
    # The server answered the inner hello; the client, seeing no acceptance, keys the
    # handshake from the outer transcript, so the server's records do not open.
    with pytest.raises(TLSError) as info:
        client.receive_data(flight)
    assert info.value.alert == AD.bad_record_mac


def _hs(msg_type: int, body: bytes) -> bytes:
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def _hrr(client_hello: bytes, extra: list[tuple[int, bytes]]) -> bytes:
    fields, _ = parse_hello(client_hello[4:])
    exts = [(43, b"\x03\x04"), (51, b"\x00\x17"), *extra]  # TLS 1.3, retry with P-256
    block = b"".join(t.to_bytes(2, "big") + len(d).to_bytes(2, "big") + d for t, d in exts)
    body = (b"\x03\x03" + HRR_RANDOM + bytes((len(fields["sid"]),)) + fields["sid"]
            + b"\x13\x01\x00" + len(block).to_bytes(2, "big") + block)
    return _hs(2, body)


def _hrr_confirmation(inner: bytes, hrr: bytes) -> bytes:
    message_hash = _hs(254, hashlib.sha256(inner).digest())
    zeroed = hrr[:-8] + bytes(8)  # (the ECH extension is last in `_hrr`)
    return confirmation(inner[6:38], message_hash + zeroed, b"hrr ech accept confirmation")


@pytest.mark.parametrize("body, alert", [(bytes(7), AD.decode_error),
                                         (bytes(9), AD.decode_error)])
def test_hrr_confirmation_of_the_wrong_length(body: bytes, alert: AD) -> None:
    key = EchKey.make()
    client = ech_client(key)
    hello = _hello(client.data_to_send())
    with pytest.raises(TLSError) as info:
        client.receive_data(record(HS, _hrr(hello, [(ECH_EXT, body)])))
    assert info.value.alert == alert


def test_hrr_confirmation_without_ech_offered_is_unsupported_extension() -> None:
    client = ClientConnection(client_config(), server_name=NAME)
    hello = _hello(client.data_to_send())
    with pytest.raises(TLSError) as info:
        client.receive_data(record(HS, _hrr(hello, [(ECH_EXT, bytes(8))])))
    assert info.value.alert == AD.unsupported_extension


def _second_hello_after_hrr(key: EchKey, accept: bool) -> tuple[ClientConnection, Any]:
    """The client's answer to an HRR asking for P-256, whose ECH confirmation is right
    (``accept``) or zeros; returns the client, the second outer hello's record, the
    first opened inner hello and the HRR."""
    client = ech_client(key, groups=["x25519", "secp256r1"])
    hello = _hello(client.data_to_send())
    opened = open_outer(hello, key)
    hrr = _hrr(hello, [(ECH_EXT, bytes(8))])
    if accept:
        hrr = hrr[:-8] + _hrr_confirmation(opened.inner, hrr)
    client.receive_data(record(HS, hrr))
    (second,) = [r for r in split_records(client.data_to_send()) if r[0] == HS]
    return client, (second, opened, hrr)


def test_after_an_accepting_hrr_the_second_inner_hello_uses_the_same_context() -> None:
    key = EchKey.make()
    _, (second, opened, _) = _second_hello_after_hrr(key, accept=True)
    again = open_outer(second[5:], key, opened.context)  # seq 1 opens; enc is empty
    fields, _ = parse_hello(again.inner[4:])
    assert b"localhost" in dict(fields["exts"])[0]
    assert fields["random"] == opened.inner[6:38]  # the same inner random (4.1.2)


def _server_hello(session_id: bytes, tail: bytes = bytes(8)) -> bytes:
    p256 = b"\x04" + bytes(64)  # (never used: the ECH check comes before the exchange)
    exts = [(43, b"\x03\x04"), (51, b"\x00\x17" + len(p256).to_bytes(2, "big") + p256)]
    block = b"".join(t.to_bytes(2, "big") + len(d).to_bytes(2, "big") + d for t, d in exts)
    body = (b"\x03\x03" + bytes(24) + tail + bytes((len(session_id),)) + session_id
            + b"\x13\x01\x00" + len(block).to_bytes(2, "big") + block)
    return _hs(2, body)


@pytest.mark.parametrize("hrr_accepts", [True, False], ids=["hrr-accepts", "hrr-rejects"])
def test_server_hello_disagreeing_with_the_hrr_is_illegal_parameter(hrr_accepts: bool) -> None:
    """6.1.5: a ServerHello rejecting what the HRR accepted, or confirming what it
    rejected, ends the handshake with illegal_parameter."""
    key = EchKey.make()
    client, (second, opened, hrr) = _second_hello_after_hrr(key, accept=hrr_accepts)
    again = open_outer(second[5:], key, opened.context)
    sid = parse_hello(second[5:][4:])[0]["sid"]
    sh = _server_hello(sid)
    if not hrr_accepts:  # the ServerHello confirms over the inner transcript
        transcript = (_hs(254, hashlib.sha256(opened.inner).digest()) + hrr + again.inner
                      + sh)
        sh = _server_hello(sid, confirmation(opened.inner[6:38], transcript,
                                             b"ech accept confirmation"))
    with pytest.raises(TLSError) as info:
        client.receive_data(record(HS, sh))
    assert info.value.alert == AD.illegal_parameter
    assert "HelloRetryRequest" in str(info.value)


def _with_ee_extension(flight: bytes, log: KeyLog, body: bytes) -> bytes:
    """The server's flight with an encrypted_client_hello extension added to its
    EncryptedExtensions, re-protected under the server's handshake key (from its key
    log); the transcript no longer matches, but the client checks EE first."""
    records = split_records(flight)
    suite = int.from_bytes(records[0][5 + 4 + 2 + 32 + 1 + records[0][5 + 38]:][:2], "big")
    at = next(i for i, r in enumerate(records) if r[0] == APPDATA)
    secret = log.secret("SERVER_HANDSHAKE_TRAFFIC_SECRET")
    plain = Keys(suite, secret).open(records[at])
    content, ctype = plain.rstrip(b"\x00")[:-1], plain.rstrip(b"\x00")[-1]
    n = int.from_bytes(content[1:4], "big")
    ee, rest = content[4:4 + n], content[4 + n:]
    block = ee[2:] + ECH_EXT.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body
    new_ee = _hs(8, len(block).to_bytes(2, "big") + block)
    sealed = Keys(suite, secret).seal_content(ctype, new_ee + rest)
    return b"".join(records[:at]) + sealed + b"".join(records[at + 1:])


def test_retry_configs_after_acceptance_are_unsupported_extension() -> None:
    """6.1.4: EncryptedExtensions carries retry_configs only with a rejection."""
    key = EchKey.make()
    client = ech_client(key)
    log = KeyLog()
    _, flight = _accepted_flight(key, client, server_kw={"keylog": log})
    with pytest.raises(TLSError) as info:
        client.receive_data(_with_ee_extension(flight, log, key.config_list))
    assert info.value.alert == AD.unsupported_extension


def test_malformed_retry_configs_are_decode_error() -> None:
    key = EchKey.make(public_name=b"localhost")
    assert_malformed_retry_configs_are_decode_error(ech_client(key))


def assert_malformed_retry_configs_are_decode_error(client: ClientConnection) -> None:
    """EncryptedExtensions carrying a truncated ECHConfigList as retry_configs."""
    log = KeyLog()
    server = ServerConnection(server_config(keylog=log))
    server.receive_data(client.data_to_send())
    flight = server.data_to_send()
    with pytest.raises(TLSError) as info:
        client.receive_data(_with_ee_extension(flight, log, b"\x00\x05\xfe\x0d"))
    assert info.value.alert == AD.decode_error


def test_no_session_or_early_data_is_offered_with_ech() -> None:
    """RFC 9849 6.1: tlskit offers no ticket with ECH (neither hello has pre_shared_key)."""
    key = EchKey.make(public_name=b"localhost")
    cache = SessionCache()
    plain = ClientConnection(client_config(session_cache=cache), server_name=NAME)
    exchange(plain, ServerConnection(server_config()))
    again = ClientConnection(client_config(session_cache=cache), server_name=NAME)
    assert 41 in dict(parse_hello(_hello(again.data_to_send())[4:])[0]["exts"])
    client = ClientConnection(client_config(session_cache=cache,
                                            ech_config_list=key.config_list),
                              server_name=NAME)
    hello = _hello(client.data_to_send())
    assert 41 not in dict(parse_hello(hello[4:])[0]["exts"])
    assert 41 not in dict(parse_hello(open_outer(hello, key).inner[4:])[0]["exts"])


def test_config_checks() -> None:
    with pytest.raises(ValueError, match=r"needs TLS 1\.3"):
        client_config(ech_config_list=EchKey.make().config_list, versions=["TLSv1.2"])
    with pytest.raises(ValueError, match="not an ECHConfigList"):
        client_config(ech_config_list=b"\x00\x01")
    with pytest.raises(TypeError, match="base64"):
        client_config(ech_config_list="AEX+DQ==")


def test_a_config_with_a_low_order_key_is_skipped() -> None:
    """A config whose X25519 key has low order cannot be encapsulated to (RFC 9180
    7.1.4): the client skips it (or refuses the list) at configuration, instead of a
    ValueError from cryptography at connect time."""
    low = bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
    good = EchKey.make(config_id=2)
    bad = ech.ECHConfig.build(1, 0x20, low, [ech.CipherSuite(1, 1)], b"public.example")
    with pytest.raises(ValueError, match="no ECH config tlskit can use"):
        client_config(ech_config_list=ech.encode_config_list([bad]))
    client = ClientConnection(client_config(
        ech_config_list=ech.encode_config_list([bad, good.config])), server_name=NAME)
    assert open_outer(_hello(client.data_to_send()), good).inner


def test_tls12_server_is_a_rejection() -> None:
    """6.1.6: a server choosing TLS 1.2 rejects ECH: the TLS 1.2 handshake completes
    against the public name, then ech_required (no retry configs in TLS 1.2)."""
    key = EchKey.make(public_name=b"localhost")
    client = ech_client(key, server_name="secret.example")
    server = ServerConnection(server_config(versions=["TLSv1.2"]))
    with pytest.raises(EchRejected) as info:
        exchange(client, server)
    assert info.value.retry_configs is None and "TLS 1.2" in str(info.value)
    assert server.receive_data(client.data_to_send()) == [ConnectionClosed(AD.ech_required)]


def test_an_unusable_list_says_why_each_config_was_skipped() -> None:
    """The ValueError names each config's problem (it said "versions seen: 0xfe0d" for
    a config of the right version with an IP address as public name)."""
    good = EchKey.make(config_id=7)
    ip_named = ech.ECHConfig.build(7, 0x20, good.config.public_key,
                                   [ech.CipherSuite(1, 1)], b"192.0.2.1")
    other_kem = ech.ECHConfig.build(8, 0x10, good.config.public_key,
                                    [ech.CipherSuite(1, 1)], b"public.example")
    with pytest.raises(ValueError) as raised:
        client_config(ech_config_list=ech.encode_config_list([ip_named, other_kem]))
    assert str(raised.value).endswith(
        ": config 7 has public_name '192.0.2.1', not a DNS name; config 8 uses KEM 0x0010")
