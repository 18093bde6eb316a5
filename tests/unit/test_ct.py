"""Certificate Transparency SCTs (RFC 6962 3.3) between a tlskit client and server in
memory, TLS 1.3 and 1.2: asked for only on request, sent only when asked, exposed on
HandshakeComplete and kept by resumed sessions; the optional `CTPolicy` with SCTs signed
by a test log (tests/support/ct.py) over the certificate and over the precertificate."""

from __future__ import annotations

from typing import Any

import pytest

from tlskit import (
    AlertDescription,
    ClientConnection,
    HandshakeComplete,
    ServerConnection,
    SessionCache,
    TLSError,
)
from tlskit.config import MAX_SERVED_SCT_LIST, CertifiedKey
from tlskit.enums import ExtensionType as E
from tlskit.wire import messages as m
from tlskit.wire.sct import decode_sct, decode_sct_list, encode_sct_list
from tlskit.x509.ct import (
    MAX_ATTEMPTS_PER_LOG,
    CTLog,
    CTPolicy,
    CTPolicyError,
    SCTStatus,
    check_scts,
    stapled_scts,
)

from ..support.ct import SigningLog, now_ms, staple_with_scts, with_embedded_scts
from ..support.pki import client_config, pki, server_config
from ..support.pump import pump

VERSIONS = ["TLSv1.3", "TLSv1.2"]
LOG = SigningLog("test log A")
LOG_B = SigningLog("test log B")
RSA_LOG = SigningLog("test RSA log", rsa=True)


def leaf_sct(log: SigningLog = LOG, **kw: Any) -> bytes:
    return log.sct(pki().server.chain[0], **kw)


def connect(client_kw: dict[str, Any], server_kw: dict[str, Any], version: str,
            server_cfg: Any = None, **conn_kw: Any) -> ClientConnection:
    client = ClientConnection(client_config(versions=[version], **client_kw),
                              server_name="localhost", **conn_kw)
    server = ServerConnection(server_cfg or server_config(versions=[version], **server_kw))
    pump(client, server)
    return client


def complete(client: ClientConnection) -> HandshakeComplete:
    hc = client.handshake_complete
    assert hc is not None
    return hc


def failure(client_kw: dict[str, Any], server_kw: dict[str, Any], version: str) -> TLSError:
    with pytest.raises(TLSError) as caught:
        connect(client_kw, server_kw, version)
    return caught.value


def hello_extensions(config_kw: dict[str, Any]) -> m.Extensions:
    client = ClientConnection(client_config(**config_kw), server_name="localhost")
    return m.ClientHello.decode(memoryview(client.data_to_send())[9:]).extensions


# --- the exchange ------------------------------------------------------------------------

def test_client_asks_only_with_request_scts() -> None:
    assert E.signed_certificate_timestamp not in hello_extensions({})
    exts = hello_extensions({"request_scts": True})
    assert exts[E.signed_certificate_timestamp] == b""  # RFC 6962 3.3.1: empty
    policy = CTPolicy([LOG.ct_log()])
    assert E.signed_certificate_timestamp in hello_extensions({"ct_policy": policy})


def test_dropping_the_policy_stops_asking() -> None:
    """The policy implies the request without writing it into ``request_scts``: a copy
    made without the policy asks only if the caller asked for SCTs themselves."""
    with_policy = client_config(ct_policy=CTPolicy([LOG.ct_log()]))
    assert with_policy.request_scts is False
    without = with_policy.replace(ct_policy=None)
    client = ClientConnection(without, server_name="localhost")
    hello = m.ClientHello.decode(memoryview(client.data_to_send())[9:])
    assert E.signed_certificate_timestamp not in hello.extensions
    asked = with_policy.replace(ct_policy=None, request_scts=True)
    client = ClientConnection(asked, server_name="localhost")
    hello = m.ClientHello.decode(memoryview(client.data_to_send())[9:])
    assert E.signed_certificate_timestamp in hello.extensions


@pytest.mark.parametrize("version", VERSIONS)
def test_requested_scts_arrive_exactly(version: str) -> None:
    scts = [leaf_sct(), leaf_sct(LOG_B)]
    hc = complete(connect({"request_scts": True}, {"scts": scts}, version))
    assert hc.signed_certificate_timestamps == tuple(scts)


@pytest.mark.parametrize("version", VERSIONS)
def test_server_sends_none_to_a_client_that_did_not_ask(version: str) -> None:
    # An SCT the client did not ask for would be unsupported_extension: it completes.
    hc = complete(connect({}, {"scts": [leaf_sct()]}, version))
    assert hc.signed_certificate_timestamps == ()


@pytest.mark.parametrize("version", VERSIONS)
def test_no_scts_configured_sends_none(version: str) -> None:
    hc = complete(connect({"request_scts": True}, {}, version))
    assert hc.signed_certificate_timestamps == ()


@pytest.mark.parametrize("version", VERSIONS)
def test_per_certificate_scts_follow_the_chosen_certificate(version: str) -> None:
    other_leaf = pki().ca.issue_server(["other.test"])
    ec_sct, other_sct = leaf_sct(), LOG.sct(other_leaf.chain[0])
    cfg = server_config(versions=[version], certificates=[
        CertifiedKey(other_leaf.chain, other_leaf.private_key, scts=[other_sct])], scts=[ec_sct])
    client = ClientConnection(client_config(versions=[version], request_scts=True),
                              server_name="other.test")
    pump(client, ServerConnection(cfg))
    assert complete(client).signed_certificate_timestamps == (other_sct,)


@pytest.mark.parametrize("version", VERSIONS)
def test_compressed_certificate_carries_the_scts(version: str) -> None:
    sct = leaf_sct()
    hc = complete(connect({"request_scts": True}, {"scts": [sct],
                                                   "certificate_compression": ["zlib"]}, version))
    assert hc.signed_certificate_timestamps == (sct,)


@pytest.mark.parametrize("version", VERSIONS)
def test_resumption_keeps_the_original_scts(version: str) -> None:
    sct = leaf_sct()
    cache = SessionCache()
    cfg = server_config(versions=[version], scts=[sct])
    first = connect({"request_scts": True, "session_cache": cache}, {}, version, cfg)
    assert complete(first).signed_certificate_timestamps == (sct,)
    again = connect({"request_scts": True, "session_cache": cache}, {}, version, cfg)
    hc = complete(again)
    assert hc.resumed
    assert hc.signed_certificate_timestamps == (sct,)


# --- configuration -------------------------------------------------------------------------

def test_server_refuses_bad_sct_lists() -> None:
    leaf = pki().server
    with pytest.raises(ValueError, match=r"1\.\.65535"):
        CertifiedKey(leaf.chain, leaf.private_key, scts=[b""])
    with pytest.raises(TypeError, match="list of serialized SCTs"):
        CertifiedKey(leaf.chain, leaf.private_key, scts=b"\x00" * 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 65535"):
        CertifiedKey(leaf.chain, leaf.private_key, scts=[b"x" * 40000, b"y" * 40000])


def test_policy_configuration_checks() -> None:
    with pytest.raises(ValueError, match="more distinct logs"):
        CTPolicy([LOG.ct_log()], min_scts=2)
    with pytest.raises(ValueError, match="at least 1"):
        CTPolicy([LOG.ct_log()], min_scts=0)
    with pytest.raises(TypeError, match="CTLog"):
        CTPolicy([LOG.spki])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="CTPolicy"):
        client_config(ct_policy=[LOG.ct_log()])


def test_log_id_is_the_sha256_of_the_spki() -> None:
    import hashlib
    assert CTLog(LOG.spki).log_id == hashlib.sha256(LOG.spki).digest()
    assert CTLog(LOG.key.public_key()).log_id == LOG.log_id
    with pytest.raises(ValueError, match="not a DER SubjectPublicKeyInfo"):
        CTLog(b"\x30\x00", "broken")


# --- the policy ------------------------------------------------------------------------------

def policy(*logs: SigningLog, n: int = 1) -> CTPolicy:
    return CTPolicy([log.ct_log() for log in logs], min_scts=n)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("log", [LOG, RSA_LOG], ids=["ecdsa-log", "rsa-log"])
def test_policy_accepts_a_valid_tls_sct(version: str, log: SigningLog) -> None:
    sct = leaf_sct(log)
    hc = complete(connect({"ct_policy": policy(log)}, {"scts": [sct]}, version))
    assert hc.signed_certificate_timestamps == (sct,)


@pytest.mark.parametrize("version", VERSIONS)
def test_policy_accepts_embedded_scts(version: str) -> None:
    leaf = pki().server
    cert = with_embedded_scts(leaf, pki().ca.intermediate_key, [LOG, LOG_B])
    cfg = server_config(versions=[version], certificate_chain=[cert, leaf.chain[1]])
    hc = complete(connect({"ct_policy": policy(LOG, LOG_B, n=2)}, {}, version, cfg))
    assert hc.signed_certificate_timestamps == ()  # (embedded ones are in the certificate)


def expect_policy_failure(client_kw: dict[str, Any], server_kw: dict[str, Any],
                          version: str, *words: str) -> CTPolicyError:
    exc = failure(client_kw, server_kw, version)
    assert isinstance(exc, CTPolicyError), exc
    assert exc.alert == AlertDescription.bad_certificate
    text = str(exc)
    assert "'CN=localhost'" in text and "the CT policy requires" in text, text
    for word in words:
        assert word in text, text
    return exc


@pytest.mark.parametrize("version", VERSIONS)
def test_policy_without_any_sct_fails(version: str) -> None:
    exc = expect_policy_failure({"ct_policy": policy(LOG)}, {}, version,
                                "0 known log(s)", "none received")
    assert exc.checks == []


@pytest.mark.parametrize("version", VERSIONS)
def test_policy_rejects_an_sct_from_an_unknown_log(version: str) -> None:
    exc = expect_policy_failure({"ct_policy": policy(LOG)}, {"scts": [leaf_sct(LOG_B)]},
                                version, "unknown log", LOG_B.log_id.hex()[:16])
    assert [c.status for c in exc.checks] == [SCTStatus.unknown_log]


@pytest.mark.parametrize("version", VERSIONS)
def test_policy_rejects_a_future_timestamp(version: str) -> None:
    sct = leaf_sct(timestamp=now_ms() + 3_600_000)
    exc = expect_policy_failure({"ct_policy": policy(LOG)}, {"scts": [sct]}, version,
                                "timestamp in the future")
    assert [c.status for c in exc.checks] == [SCTStatus.future_timestamp]


@pytest.mark.parametrize("version", VERSIONS)
def test_policy_rejects_a_bad_signature(version: str) -> None:
    # Signed over another certificate: the signature does not cover this leaf.
    sct = LOG.sct(pki().server_ed.chain[0])
    exc = expect_policy_failure({"ct_policy": policy(LOG)}, {"scts": [sct]}, version,
                                "invalid signature", "test log A")
    assert [c.status for c in exc.checks] == [SCTStatus.invalid_signature]


@pytest.mark.parametrize("version", VERSIONS)
def test_policy_counts_distinct_logs(version: str) -> None:
    twice = [leaf_sct(), leaf_sct()]
    expect_policy_failure({"ct_policy": policy(LOG, LOG_B, n=2)}, {"scts": twice}, version,
                          "1 known log(s) (test log A)", "requires 2")
    both = [leaf_sct(), leaf_sct(LOG_B)]
    complete(connect({"ct_policy": policy(LOG, LOG_B, n=2)}, {"scts": both}, version))


@pytest.mark.parametrize("version", VERSIONS)
def test_policy_rejects_a_malformed_sct_in_a_wellformed_list(version: str) -> None:
    exc = expect_policy_failure({"ct_policy": policy(LOG)}, {"scts": [b"\x00junk"]},
                                version, "malformed")
    assert exc.checks[0].sct is None


@pytest.mark.parametrize("version", VERSIONS)
def test_policy_in_report_mode_completes_and_reports(version: str) -> None:
    client = connect({"ct_policy": policy(LOG), "verify_mode": "report"}, {}, version)
    assert isinstance(client.verification_error, CTPolicyError)


def test_policy_uses_the_injected_clock() -> None:
    sct = leaf_sct(timestamp=now_ms() + 3_600_000)
    late = now_ms() / 1000 + 7200
    hc = complete(connect({"ct_policy": policy(LOG), "clock": lambda: late},
                          {"scts": [sct]}, "TLSv1.3"))
    assert hc.signed_certificate_timestamps == (sct,)


def test_resumption_is_not_offered_when_the_policy_no_longer_holds() -> None:
    cache = SessionCache()
    cfg = server_config(versions=["TLSv1.3"], scts=[leaf_sct()])
    complete(connect({"request_scts": True, "session_cache": cache}, {}, "TLSv1.3", cfg))
    with pytest.raises(CTPolicyError):  # a full handshake, checked, not a resumption
        connect({"ct_policy": policy(LOG_B), "session_cache": cache}, {}, "TLSv1.3", cfg)


def test_check_scts_reports_embedded_ones_without_an_issuer_as_unknown() -> None:
    leaf = pki().server
    cert = with_embedded_scts(leaf, pki().ca.intermediate_key, [LOG])
    checks = check_scts([LOG.ct_log()], cert, None, (), now_ms())
    assert [(c.source, c.status) for c in checks] == [("certificate", SCTStatus.unknown_log)]
    checks = check_scts([LOG.ct_log()], cert, leaf.chain[1], (), now_ms())
    assert [(c.source, c.status) for c in checks] == [("certificate", SCTStatus.valid)]


# --- the wire codec ------------------------------------------------------------------------

def test_sct_decodes_to_its_fields() -> None:
    ts = now_ms()
    raw = LOG.sct(pki().server.chain[0], timestamp=ts, extensions=b"ext")
    sct = decode_sct(raw)
    assert (sct.version, sct.log_id, sct.timestamp, sct.extensions) == (0, LOG.log_id, ts,
                                                                        b"ext")
    assert (sct.hash_algorithm, sct.signature_algorithm) == (4, 3)
    assert sct.encode() == raw


def test_sct_list_roundtrip_and_framing() -> None:
    assert encode_sct_list([b"a", b"bc"]) == b"\x00\x07\x00\x01a\x00\x02bc"
    assert decode_sct_list(b"\x00\x07\x00\x01a\x00\x02bc") == (b"a", b"bc")
    with pytest.raises(ValueError):
        encode_sct_list([])


# --- sizes the server can carry ------------------------------------------------------------

def _scts_of_list_size(size: int) -> list[bytes]:
    """SCTs whose SignedCertificateTimestampList (with its own length) is ``size`` bytes."""
    return [b"\x00" * (size - 4)]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_largest_servable_sct_list_fits_every_message(version: str) -> None:
    # ServerHello (TLS 1.2) or the leaf's CertificateEntry (TLS 1.3) holds 65535 bytes of
    # extensions: the largest list a config takes is sent, with ALPN and the rest beside it.
    scts = _scts_of_list_size(MAX_SERVED_SCT_LIST)
    hc = complete(connect({"request_scts": True, "alpn_protocols": ["x" * 255]},
                          {"scts": scts, "alpn_protocols": ["x" * 255]}, version))
    assert hc.signed_certificate_timestamps == tuple(scts)


@pytest.mark.parametrize("size", [MAX_SERVED_SCT_LIST + 1, 0xFFFF, 0xFFFF + 2])
def test_sct_lists_no_message_can_carry_are_refused_at_configuration(size: int) -> None:
    # (0xFFFF + 2: a list RFC 6962 3.3 allows, which no extension_data<0..2^16-1> holds)
    leaf = pki().server
    with pytest.raises(ValueError, match="serve fewer SCTs"):
        CertifiedKey(leaf.chain, leaf.private_key, scts=_scts_of_list_size(size))
    with pytest.raises(ValueError, match="serve fewer SCTs"):
        server_config(scts=_scts_of_list_size(size))


def test_a_staple_and_scts_too_large_together_are_refused_at_configuration() -> None:
    leaf = pki().server
    scts = _scts_of_list_size(40000)
    CertifiedKey(leaf.chain, leaf.private_key, ocsp_response=b"s" * 25000, scts=scts)
    with pytest.raises(ValueError, match="CertificateEntry extensions"):
        CertifiedKey(leaf.chain, leaf.private_key, ocsp_response=b"s" * 26000, scts=scts)


def test_a_refreshed_staple_too_large_beside_the_scts_is_a_clear_server_error() -> None:
    # A callable's staple is only known at handshake time: a one-line internal_error.
    cfg = server_config(versions=["TLSv1.3"], scts=_scts_of_list_size(40000),
                        ocsp_response=lambda: b"s" * 26000)
    client = ClientConnection(client_config(versions=["TLSv1.3"], request_scts=True,
                                            ocsp_stapling=True), server_name="localhost")
    server = ServerConnection(cfg)
    with pytest.raises(TLSError) as caught:
        pump(client, server)
    assert caught.value.alert == AlertDescription.internal_error
    assert "CertificateEntry extensions" in str(caught.value), caught.value


# --- hostile SCT lists: bounded work, unknown versions ignored ------------------------------

def test_many_sct_from_a_known_log_cost_a_bounded_number_of_verifications() -> None:
    # 64 KiB of SCTs naming a known log with bad signatures: two are verified, the rest
    # are reported unchecked (a log counts once, so they could not change the outcome).
    bad = bytearray(leaf_sct())
    bad[-1] ^= 1
    scts = [bytes(bad)] * (0xFFFF // (len(bad) + 2))
    checks = check_scts([LOG.ct_log()], pki().server.chain[0], None, scts, now_ms())
    statuses = [c.status for c in checks]
    assert statuses[:MAX_ATTEMPTS_PER_LOG] == [SCTStatus.invalid_signature] * 2
    assert set(statuses[MAX_ATTEMPTS_PER_LOG:]) == {SCTStatus.not_checked}
    assert len(checks) == len(scts) > 500


def test_a_log_that_vouched_has_its_other_scts_skipped() -> None:
    leaf = pki().server
    cert = with_embedded_scts(leaf, pki().ca.intermediate_key, [LOG])
    sct = LOG.sct(cert)
    checks = check_scts([LOG.ct_log()], cert, leaf.chain[1], [sct, sct], now_ms())
    assert [(c.source, c.status) for c in checks] == [
        ("tls", SCTStatus.valid), ("tls", SCTStatus.duplicate),
        ("certificate", SCTStatus.duplicate)]


@pytest.mark.parametrize("version", VERSIONS)
def test_an_sct_of_an_unknown_version_is_ignored(version: str) -> None:
    # RFC 6962 3.3: a client ignores versions it does not know (OpenSSL: "unknown
    # version"); a v1 SCT beside it still satisfies the policy.
    future = b"\x01" + leaf_sct()[1:]
    hc = complete(connect({"ct_policy": policy(LOG)}, {"scts": [future, leaf_sct()]},
                          version))
    assert len(hc.signed_certificate_timestamps) == 2
    checks = check_scts([LOG.ct_log()], pki().server.chain[0], None, [future, b"\x02"],
                        now_ms())
    assert [c.status for c in checks] == [SCTStatus.unknown_version] * 2
    assert [c.status for c in check_scts([], pki().server.chain[0], None, [b""], now_ms())] \
        == [SCTStatus.malformed]


def test_policy_counts_a_log_given_twice_once() -> None:
    with pytest.raises(ValueError, match="than the 1 given"):
        CTPolicy([LOG.ct_log(), LOG.ct_log()], min_scts=2)


# --- SCTs in a stapled OCSP response (RFC 6962 3.3) ------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_policy_accepts_scts_in_the_ocsp_staple(version: str) -> None:
    # OpenSSL (SCT_SOURCE_OCSP_STAPLED_RESPONSE) and Chrome count them: over the leaf's
    # x509_entry, in the answer's singleExtensions.
    staple = staple_with_scts(pki().server, pki().ca.intermediate_key, [leaf_sct()])
    hc = complete(connect({"ct_policy": policy(LOG), "ocsp_stapling": True},
                          {"ocsp_response": staple}, version))
    assert hc.ocsp_response == staple and hc.signed_certificate_timestamps == ()
    checks = check_scts([LOG.ct_log()], pki().server.chain[0], None, (), now_ms(), staple)
    assert [(c.source, c.status) for c in checks] == [("ocsp", SCTStatus.valid)]


def test_stapled_scts_over_another_certificate_do_not_count() -> None:
    staple = staple_with_scts(pki().server, pki().ca.intermediate_key,
                              [LOG.sct(pki().server_ed.chain[0])])
    checks = check_scts([LOG.ct_log()], pki().server.chain[0], None, (), now_ms(), staple)
    assert [c.status for c in checks] == [SCTStatus.invalid_signature]
    assert stapled_scts(b"\x30\x03\x0a\x01\x01") == stapled_scts(b"junk") == ()


@pytest.mark.parametrize("version", VERSIONS)
def test_resumption_rechecks_the_stapled_scts(version: str) -> None:
    staple = staple_with_scts(pki().server, pki().ca.intermediate_key, [leaf_sct()])
    cache = SessionCache()
    cfg = server_config(versions=[version], ocsp_response=staple)
    kw = {"ct_policy": policy(LOG), "ocsp_stapling": True, "session_cache": cache}
    assert not complete(connect(kw, {}, version, cfg)).resumed
    assert complete(connect(kw, {}, version, cfg)).resumed


@pytest.mark.parametrize("version", VERSIONS)
def test_a_policy_failure_over_hundreds_of_scts_stays_one_short_line(version: str) -> None:
    one = leaf_sct(LOG_B)
    scts = [one] * ((MAX_SERVED_SCT_LIST - 2) // (len(one) + 2))
    exc = expect_policy_failure({"ct_policy": policy(LOG)}, {"scts": scts}, version,
                                f"and {len(scts) - 8} more")
    assert len(str(exc)) < 1500 and "\n" not in str(exc)
    assert len(exc.checks) == len(scts)
