"""The TLS 1.3 key schedule (RFC 8446 7) against every value RFC 8448 prints."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from hypothesis import given
from hypothesis import strategies as st

from tlskit import crypto
from tlskit.crypto import SUITES
from tlskit.enums import CipherSuite, HandshakeType
from tlskit.handshake.common import Handshake13, Transcript
from tlskit.keyschedule import (
    EarlySecret,
    HandshakeSecret,
    MasterSecret,
    export_keying_material,
    finished_key,
    finished_verify_data,
    hkdf_expand_label,
    hkdf_extract,
    key_and_iv,
    next_traffic_secret,
    resumption_psk,
    traffic_keys,
)
from tlskit.wire import messages as m

# The RFC 8448 traces, kept in the repo; provenance in tests/vectors/README.md.
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc8448.json"
DATA = json.loads(VECTORS.read_text())
TRACES = DATA["traces"]
SUITE = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
FULL = ["simple_1rtt", "hello_retry_request", "client_authentication", "compatibility_mode"]


def h(v: str) -> bytes:
    return bytes.fromhex(v)


def sha256(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


# --- primitives -----------------------------------------------------------------------

def test_hkdf_expand_label_matches_an_independent_hkdf():
    secret = bytes(range(48))
    for hash_name, alg in (("sha256", hashes.SHA256()), ("sha384", hashes.SHA384())):
        for length in (1, 12, 16, 32, 48, 64, 100, 255):
            label, context = b"tls13 " + b"exporter", b"\x01\x02"
            info = (length.to_bytes(2, "big") + bytes((len(label),)) + label
                    + bytes((len(context),)) + context)
            want = HKDFExpand(alg, length, info).derive(secret)
            assert hkdf_expand_label(hash_name, secret, b"exporter", context, length) == want


def test_hkdf_extract_is_hmac_of_salt():
    assert hkdf_extract("sha256", b"salt", b"ikm") == hmac.digest(b"salt", b"ikm", "sha256")


# --- the full handshakes (RFC 8448 3, 5, 6, 7) --------------------------------------

def transcript_hashes(t: dict[str, Any], name: str) -> dict[str, bytes]:
    """The transcript hashes, rebuilt from the messages (and checked against the RFC)."""
    if name == "hello_retry_request":
        ch1 = h(t["client_hello_1"])
        head = m.frame(HandshakeType.message_hash, sha256(ch1)) + h(t["hello_retry_request"]) \
            + h(t["client_hello_2"])
    else:
        head = h(t["client_hello"])
    to_sh = head + h(t["server_hello"])
    to_sf = to_sh + h(t["encrypted_extensions"]) + h(t.get("certificate_request", "")) \
        + h(t["server_certificate"]) + h(t["server_certificate_verify"]) \
        + h(t["server_finished"])
    to_cf = to_sf + h(t.get("client_certificate", "")) \
        + h(t.get("client_certificate_verify", "")) + h(t["client_finished"])
    out = {"sh": sha256(to_sh), "sf": sha256(to_sf), "cf": sha256(to_cf),
           "before_sf": sha256(to_sf[:-len(h(t["server_finished"]))]),
           "before_cf": sha256(to_cf[:-len(h(t["client_finished"]))])}
    assert out["sh"] == h(t["transcript_hash_ch_to_sh"])
    assert out["sf"] == h(t["transcript_hash_ch_to_server_finished"])
    assert out["cf"] == h(t["transcript_hash_ch_to_client_finished"])
    return out


@pytest.mark.parametrize("name", FULL)
def test_full_handshake_key_schedule(name):
    t = TRACES[name]
    th = transcript_hashes(t, name)
    early = EarlySecret.start(SUITE)
    assert early.secret == h(t["early_secret"])
    assert early._derived() == h(t["derived_secret_for_handshake"])
    hs = early.handshake(h(t["ecdhe_shared_secret"]))
    assert hs.secret == h(t["handshake_secret"])
    c_hs, s_hs = hs.client_traffic(th["sh"]), hs.server_traffic(th["sh"])
    assert c_hs == h(t["client_handshake_traffic_secret"])
    assert s_hs == h(t["server_handshake_traffic_secret"])
    for side, secret in (("client", c_hs), ("server", s_hs)):
        keys = traffic_keys(SUITE, secret)
        assert keys.key == h(t[f"{side}_handshake_key"])
        assert keys.iv == h(t[f"{side}_handshake_iv"])
        assert finished_key(SUITE, secret) == h(t[f"{side}_finished_key"])
    assert finished_verify_data(SUITE, s_hs, th["before_sf"]) == \
        h(t["server_finished_verify_data"]) == h(t["server_finished"])[4:]
    assert finished_verify_data(SUITE, c_hs, th["before_cf"]) == \
        h(t["client_finished_verify_data"]) == h(t["client_finished"])[4:]
    assert hs._derived() == h(t["derived_secret_for_master"])
    master = hs.master()
    assert master.secret == h(t["master_secret"])
    c_ap, s_ap = master.client_traffic(th["sf"]), master.server_traffic(th["sf"])
    assert c_ap == h(t["client_application_traffic_secret_0"])
    assert s_ap == h(t["server_application_traffic_secret_0"])
    assert master.exporter(th["sf"]) == h(t["exporter_master_secret"])
    assert master.resumption(th["cf"]) == h(t["resumption_master_secret"])
    for side, secret in (("client", c_ap), ("server", s_ap)):
        keys = traffic_keys(SUITE, secret)
        assert keys.key == h(t[f"{side}_application_key"])
        assert keys.iv == h(t[f"{side}_application_iv"])


def test_transcript_class_restarts_after_hello_retry_request():
    t = TRACES["hello_retry_request"]
    tr = Transcript()
    tr.update(h(t["client_hello_1"]))          # hash not chosen yet: buffered
    tr.restart_after_hrr("sha256")
    for name in ("hello_retry_request", "client_hello_2", "server_hello"):
        tr.update(h(t[name]))
    assert tr.digest() == h(t["transcript_hash_ch_to_sh"])


def test_resumption_psk_from_the_ticket_nonce():
    t = TRACES["simple_1rtt"]
    psk = resumption_psk(SUITE, h(t["resumption_master_secret"]), h(t["ticket_nonce"]))
    assert psk == h(t["resumption_psk"]) == h(TRACES["resumed_0rtt"]["psk"])


# --- resumption and 0-RTT (RFC 8448 4) -------------------------------------------------

def test_resumed_psk_binder_and_early_secrets():
    t = TRACES["resumed_0rtt"]
    prefix = h(t["client_hello_prefix"])
    assert sha256(prefix) == h(t["transcript_hash_truncated_ch"])
    early = EarlySecret.start(SUITE, h(t["psk"]))
    assert early.secret == h(t["early_secret"])
    binder_key = early.binder_key(external=False)
    assert binder_key == h(t["binder_key"])
    assert finished_key(SUITE, binder_key) == h(t["binder_finished_key"])
    binder = hmac.digest(finished_key(SUITE, binder_key), sha256(prefix), "sha256")
    assert binder == h(t["psk_binder"])
    # The engine's own binder routine, over an empty transcript before the hello.
    assert Handshake13.psk_binder(SUITE, h(t["psk"]), Transcript(), prefix) == binder
    # The binder closes the real ClientHello.
    ch = h(t["client_hello"])
    assert ch.startswith(prefix) and ch.endswith(binder)
    assert sha256(ch) == h(t["transcript_hash_ch"])
    cets = early.client_early_traffic_secret(sha256(ch))
    assert cets == h(t["client_early_traffic_secret"])
    assert early.derive(b"e exp master", sha256(ch)) == h(t["early_exporter_master_secret"])
    keys = traffic_keys(SUITE, cets)
    assert keys.key == h(t["client_early_key"]) and keys.iv == h(t["client_early_iv"])


def test_resumed_handshake_key_schedule():
    t = TRACES["resumed_0rtt"]
    early = EarlySecret.start(SUITE, h(t["psk"]))
    assert early._derived() == h(t["derived_secret_for_handshake"])
    hs = early.handshake(h(t["ecdhe_shared_secret"]))
    assert hs.secret == h(t["handshake_secret"])
    th_sh = sha256(h(t["client_hello"]), h(t["server_hello"]))
    assert th_sh == h(t["transcript_hash_ch_to_sh"])
    c_hs, s_hs = hs.client_traffic(th_sh), hs.server_traffic(th_sh)
    assert c_hs == h(t["client_handshake_traffic_secret"])
    assert s_hs == h(t["server_handshake_traffic_secret"])
    to_sf = h(t["client_hello"]) + h(t["server_hello"]) + h(t["encrypted_extensions"])
    assert finished_verify_data(SUITE, s_hs, sha256(to_sf)) == h(t["server_finished_verify_data"])
    to_sf += h(t["server_finished"])
    assert sha256(to_sf) == h(t["transcript_hash_ch_to_server_finished"])
    to_cf = to_sf + h(t["end_of_early_data"])
    assert finished_verify_data(SUITE, c_hs, sha256(to_cf)) == h(t["client_finished_verify_data"])
    to_cf += h(t["client_finished"])
    assert sha256(to_cf) == h(t["transcript_hash_ch_to_client_finished"])
    master = hs.master()
    assert master.secret == h(t["master_secret"])
    assert master.client_traffic(sha256(to_sf)) == h(t["client_application_traffic_secret_0"])
    assert master.server_traffic(sha256(to_sf)) == h(t["server_application_traffic_secret_0"])
    assert master.exporter(sha256(to_sf)) == h(t["exporter_master_secret"])
    assert master.resumption(sha256(to_cf)) == h(t["resumption_master_secret"])


def test_external_binder_label_differs():
    early = EarlySecret.start(SUITE, bytes(32))
    assert early.binder_key(external=True) != early.binder_key(external=False)
    assert early.binder_key(external=True) == hkdf_expand_label(
        "sha256", early.secret, b"ext binder", sha256(), 32)


# --- after the handshake ---------------------------------------------------------------

def test_next_traffic_secret_is_traffic_upd():
    secret = h(TRACES["simple_1rtt"]["client_application_traffic_secret_0"])
    assert next_traffic_secret(SUITE, secret) == hkdf_expand_label(
        "sha256", secret, b"traffic upd", b"", 32)
    assert next_traffic_secret(SUITE, next_traffic_secret(SUITE, secret)) != \
        next_traffic_secret(SUITE, secret)


def test_exporter_matches_rfc_8446_7_5():
    exp = h(TRACES["simple_1rtt"]["exporter_master_secret"])
    for label, context, length in ((b"EXPORTER-Channel-Binding", b"", 32),
                                   (b"label", b"context", 100), (b"x", b"\x00" * 70, 1)):
        derived = hkdf_expand_label("sha256", exp, label, sha256(), 32)
        want = hkdf_expand_label("sha256", derived, b"exporter", sha256(context), length)
        assert export_keying_material(SUITE, exp, label, context, length) == want


def test_sha384_suite_lengths():
    suite = SUITES[CipherSuite.TLS_AES_256_GCM_SHA384]
    early = EarlySecret.start(suite)
    assert len(early.secret) == 48
    hs = early.handshake(bytes(32))
    keys = traffic_keys(suite, hs.client_traffic(bytes(48)))
    assert len(keys.key) == 32 and len(keys.iv) == 12
    assert len(hs.master().exporter(bytes(48))) == 48


def _reference_expand_label(suite: Any, secret: bytes, label: bytes, context: bytes,
                            length: int) -> bytes:
    """HKDF-Expand-Label built from cryptography's HKDFExpand, independently of tlskit."""
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes((len(full),)) + full + bytes((len(context),)) \
        + context
    return HKDFExpand(suite.hash_alg(), length, info).derive(secret)


@pytest.mark.parametrize("code", list(SUITES))
def test_precomputed_labels_match_hkdf_expand_label_for_every_suite(code):
    suite = SUITES[code]
    secret = bytes(range(suite.hash_length))
    n = suite.hash_length
    keys = traffic_keys(suite, secret)
    assert keys.key == _reference_expand_label(suite, secret, b"key", b"", suite.key_length)
    assert keys.iv == _reference_expand_label(suite, secret, b"iv", b"", 12)
    assert next_traffic_secret(suite, secret) == \
        _reference_expand_label(suite, secret, b"traffic upd", b"", n)
    assert finished_key(suite, secret) == \
        _reference_expand_label(suite, secret, b"finished", b"", n)
    empty = hashlib.new(suite.hash_name).digest()
    early = EarlySecret.start(suite)
    assert early.secret == hmac.digest(bytes(n), bytes(n), suite.hash_name)
    derived = _reference_expand_label(suite, early.secret, b"derived", empty, n)
    shared = b"\x42" * 32
    assert early.handshake(shared).secret == hmac.digest(derived, shared, suite.hash_name)
    psk_early = EarlySecret.start(suite, b"\x07" * n)  # a PSK: nothing constant to reuse
    derived = _reference_expand_label(suite, psk_early.secret, b"derived", empty, n)
    assert psk_early.handshake(shared).secret == hmac.digest(derived, shared, suite.hash_name)
    assert psk_early.binder_key() == \
        _reference_expand_label(suite, psk_early.secret, b"res binder", empty, n)
    # Longer than one hash block: the general expansion with counters 1, 2, ...
    assert hkdf_expand_label(suite.hash_name, secret, b"long", b"ctx", 3 * n + 5) == \
        _reference_expand_label(suite, secret, b"long", b"ctx", 3 * n + 5)


@given(st.sampled_from(["sha256", "sha384"]), st.binary(max_size=200), st.binary(max_size=300))
def test_hmac_digest_is_hmac(hash_name: str, key: bytes, msg: bytes) -> None:
    """The key schedule's HMAC (through an OpenSSL HMAC object) is RFC 2104's, as the
    stdlib computes it, for keys shorter and longer than the block."""
    assert crypto.hmac_digest(key, msg, hash_name) == hmac.new(key, msg, hash_name).digest()


@given(st.sampled_from(sorted(SUITES)), st.binary(min_size=32, max_size=48),
       st.binary(min_size=32, max_size=48), st.binary(min_size=0, max_size=64))
def test_inline_derivations_match_hkdf_expand_label(code: int, secret: bytes, context: bytes,
                                                    shared: bytes) -> None:
    """Derive-Secret, the master secret, key/iv and Finished call OpenSSL's HMAC inline
    (no helper frames): each equals HKDF-Expand-Label / HKDF-Extract built independently
    from cryptography's HKDF and the stdlib's hmac, for any secret and context."""
    suite = SUITES[code]
    n, hn = suite.hash_length, suite.hash_name
    empty = hashlib.new(hn).digest()
    stage = EarlySecret(suite, secret)
    for label in (b"c hs traffic", b"s ap traffic", b"exp master", b"res master"):
        assert stage.derive(label, context) == \
            _reference_expand_label(suite, secret, label, context, n)
    hs = stage.handshake(shared)
    derived = _reference_expand_label(suite, secret, b"derived", empty, n)
    assert hs.secret == hmac.new(derived, shared, hn).digest()
    master = hs.master()
    derived = _reference_expand_label(suite, hs.secret, b"derived", empty, n)
    assert master.secret == hmac.new(derived, bytes(n), hn).digest()
    named = [(HandshakeSecret(suite, secret).client_traffic, b"c hs traffic"),
             (HandshakeSecret(suite, secret).server_traffic, b"s hs traffic"),
             (MasterSecret(suite, secret).client_traffic, b"c ap traffic"),
             (MasterSecret(suite, secret).server_traffic, b"s ap traffic"),
             (MasterSecret(suite, secret).exporter, b"exp master"),
             (MasterSecret(suite, secret).resumption, b"res master"),
             (stage.client_early_traffic_secret, b"c e traffic")]
    for method, label in named:  # each its own Derive-Secret, not a wrapper of derive()
        assert method(context) == _reference_expand_label(suite, secret, label, context, n)
    keys = traffic_keys(suite, secret)
    assert keys.key == _reference_expand_label(suite, secret, b"key", b"", suite.key_length)
    assert keys.iv == _reference_expand_label(suite, secret, b"iv", b"", 12)
    fkey = _reference_expand_label(suite, secret, b"finished", b"", n)
    assert finished_verify_data(suite, secret, context) == hmac.new(fkey, context, hn).digest()


def test_transcript_binds_the_hash_objects_own_methods() -> None:
    """Once started, update/digest are the hash object's (no Python frame), and every
    path that replaces the hash object (start, HelloRetryRequest restart, copy) rebinds
    them, so a copy never writes into the original."""
    tr = Transcript()
    tr.update(b"ch1")
    with pytest.raises(AttributeError):
        tr.digest()  # nothing to hash with before the suite is known
    tr.start("sha256")
    assert tr.digest == tr._hash.digest and tr.update == tr._hash.update
    tr.update(b"sh")
    assert tr.digest() == sha256(b"ch1", b"sh")
    twin = tr.copy()
    twin.update(b"more")
    assert tr.digest() == sha256(b"ch1", b"sh")
    assert twin.digest() == sha256(b"ch1", b"sh", b"more")
    assert tr.digest_with(b"x") == sha256(b"ch1", b"sh", b"x") == tr.hash_with("sha256", b"x")
    tr.restart_after_hrr("sha384")
    first = hashlib.sha256(b"ch1sh").digest()
    want = hashlib.sha384(m.frame(HandshakeType.message_hash, first)).digest()
    assert tr.digest() == want and tr.digest == tr._hash.digest
    tr.update(b"hrr")
    assert tr.digest() == hashlib.sha384(m.frame(HandshakeType.message_hash, first)
                                         + b"hrr").digest()


@pytest.mark.parametrize(("name", "psk"), [(n, None) for n in FULL] + [("resumed_0rtt", "psk")])
def test_grouped_derivations_match_rfc_8448(name: str, psk: str | None) -> None:
    """What the handshakes call (`HandshakeSecret.from_shared`, `traffic`,
    `MasterSecret.application`) gives RFC 8448's secrets, with and without a PSK."""
    t = TRACES[name]
    hs = HandshakeSecret.from_shared(SUITE, h(t["ecdhe_shared_secret"]),
                                     None if psk is None else h(t[psk]))
    assert hs.secret == h(t["handshake_secret"])
    th_sh = h(t["transcript_hash_ch_to_sh"])
    assert hs.traffic(th_sh) == (h(t["client_handshake_traffic_secret"]),
                                 h(t["server_handshake_traffic_secret"]))
    th_sf = h(t["transcript_hash_ch_to_server_finished"])
    assert hs.master().application(th_sf) == (h(t["client_application_traffic_secret_0"]),
                                              h(t["server_application_traffic_secret_0"]),
                                              h(t["exporter_master_secret"]))


@given(st.sampled_from(sorted(SUITES)), st.binary(min_size=32, max_size=48),
       st.binary(min_size=32, max_size=48), st.binary(min_size=0, max_size=64),
       st.one_of(st.none(), st.binary(min_size=1, max_size=48)))
def test_grouped_derivations_are_the_single_ones(code: int, secret: bytes, context: bytes,
                                                 shared: bytes, psk: bytes | None) -> None:
    suite = SUITES[code]
    hs = HandshakeSecret(suite, secret)
    assert hs.traffic(context) == (hs.client_traffic(context), hs.server_traffic(context))
    master = MasterSecret(suite, secret)
    assert master.application(context) == (master.client_traffic(context),
                                            master.server_traffic(context),
                                            master.exporter(context))
    assert HandshakeSecret.from_shared(suite, shared, psk).secret == \
        EarlySecret.start(suite, psk).handshake(shared).secret


@given(st.sampled_from(sorted(SUITES)), st.binary(min_size=32, max_size=48),
       st.binary(min_size=0, max_size=64), st.binary(min_size=0, max_size=64))
def test_a_stage_keys_one_hmac_and_every_derivation_copies_it(code: int, secret: bytes,
                                                              first: bytes,
                                                              second: bytes) -> None:
    """A stage keys one HMAC object with its secret and each Derive-Secret works on a copy:
    derivations in any order, repeated, give each label's reference value (none of them
    feeds into the keyed object), and key/iv of one secret are the reference pair."""
    suite = SUITES[code]
    n = suite.hash_length

    def ref(label: bytes, context: bytes) -> bytes:
        return _reference_expand_label(suite, secret, label, context, n)

    master = MasterSecret(suite, secret)
    apps = master.application(first)
    assert apps == (ref(b"c ap traffic", first), ref(b"s ap traffic", first),
                    ref(b"exp master", first))
    assert master.resumption(second) == ref(b"res master", second)
    assert master.application(first) == apps
    assert master.exporter(second) == ref(b"exp master", second)
    hs = HandshakeSecret(suite, secret)
    assert hs.traffic(first) == (ref(b"c hs traffic", first), ref(b"s hs traffic", first))
    one = hs.master().secret
    assert hs.traffic(second) == (ref(b"c hs traffic", second), ref(b"s hs traffic", second))
    assert hs.master().secret == one
    assert key_and_iv(suite, secret) == (
        _reference_expand_label(suite, secret, b"key", b"", suite.key_length),
        _reference_expand_label(suite, secret, b"iv", b"", 12))


@pytest.mark.parametrize("code", list(SUITES))
def test_per_hash_tables_give_the_reference_derivations(code: int) -> None:
    """The per-hash table (`_INFOS`) and the key/iv table serve a context of the hash's
    length; another length takes the general prefixes: both give HKDF-Expand-Label."""
    suite = SUITES[code]
    n, hn = suite.hash_length, suite.hash_name
    secret = bytes(range(1, n + 1))
    empty = hashlib.new(hn).digest()
    for context in (bytes(range(n)), b"short", bytes(n + 3)):
        def ref(label: bytes, ctx: bytes = context) -> bytes:
            return _reference_expand_label(suite, secret, label, ctx, n)
        assert HandshakeSecret(suite, secret).traffic(context) == \
            (ref(b"c hs traffic"), ref(b"s hs traffic"))
        assert MasterSecret(suite, secret).application(context) == \
            (ref(b"c ap traffic"), ref(b"s ap traffic"), ref(b"exp master"))
        fkey = ref(b"finished", b"")
        assert finished_verify_data(suite, secret, context) == \
            hmac.new(fkey, context, hn).digest()
    derived = _reference_expand_label(suite, secret, b"derived", empty, n)
    assert HandshakeSecret(suite, secret).master().secret == \
        hmac.new(derived, bytes(n), hn).digest()
    zero_early = hmac.new(bytes(n), bytes(n), hn).digest()
    zero_derived = _reference_expand_label(suite, zero_early, b"derived", empty, n)
    assert HandshakeSecret.from_shared(suite, b"\x42" * 32).secret == \
        hmac.new(zero_derived, b"\x42" * 32, hn).digest()
    assert key_and_iv(suite, secret) == (
        _reference_expand_label(suite, secret, b"key", b"", suite.key_length),
        _reference_expand_label(suite, secret, b"iv", b"", 12))
