"""The shortcuts a new leaf takes through validation give the checked path's answers.

`Verifier.analyze` finds a certificate by identity first and by fingerprint second; a
named-curve key skips the element-by-element reading of its SubjectPublicKeyInfo; the
validation time is truncated without `datetime.replace`. Each is compared here with the
reading it shortcuts, on real certificates (the system roots), on the shapes that take
the shortcut and on mutations of them, so a shortcut that answered differently fails."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from tlskit.x509 import CertificateVerificationError, TrustStore, Verifier, certinfo
from tlskit.x509.checks import Context
from tlskit.x509.der import (
    _NAMED_CURVE_SPKI,
    DERError,
    _serial_problem,
    _spki_problem,
    _spki_problem_read,
    split_certificate,
)
from tlskit.x509.lru import LRUCache
from tlskit.x509.verify import _utc

from . import pki
from .analysis import analysis_fields


@cache
def _corpus() -> tuple[x509.Certificate, ...]:
    """The system's roots (real-world encodings of every age) and a fresh chain."""
    chain = pki.simple_chain("fast.example")
    rsa_root = pki.root("Fast RSA Root", key_kind="rsa2048")
    rsa_leaf = pki.leaf("rsa.fast.example", rsa_root, key_kind="rsa2048")
    return (*TrustStore._load_default(), chain.root.cert, chain.inter.cert, chain.leaf.cert,
            rsa_root.cert, rsa_leaf.cert)


# -- Verifier.analyze: identity, then fingerprint ---------------------------------------


def test_analyze_by_identity_and_by_fingerprint_give_the_analysis_of_the_certificate() -> None:
    chain = pki.simple_chain("cache.example")
    v = Verifier(TrustStore([chain.root.cert]))
    der = chain.leaf.cert.public_bytes(Encoding.DER)
    first = x509.load_der_x509_certificate(der)
    info = v.analyze(first)
    assert analysis_fields(info) == analysis_fields(certinfo.analyze(first))
    assert info.fingerprint == hashlib.sha256(der).digest()
    assert v.analyze(first) is info  # the same object: found by identity
    twin = x509.load_der_x509_certificate(der)
    assert v.analyze(twin) is info  # an equal object: found by fingerprint
    other = v.analyze(chain.inter.cert)
    assert other is not info and other.cert is chain.inter.cert


def test_an_identity_entry_for_another_object_is_not_taken() -> None:
    """An id() seen before may belong to another object now: the entry's certificate
    must be the very object asked about, or the fingerprint decides."""
    chain = pki.simple_chain("ids.example")
    v = Verifier(TrustStore([chain.root.cert]))
    stale = v.analyze(chain.inter.cert)
    v._infos.put(id(chain.leaf.cert), stale)  # as if the id had been reused
    info = v.analyze(chain.leaf.cert)
    assert info is not stale and info.cert is chain.leaf.cert
    assert analysis_fields(info) == analysis_fields(certinfo.analyze(chain.leaf.cert))


def test_a_validation_after_the_cache_fills_still_checks_everything() -> None:
    """Two entries per certificate: a full cache evicts, and a leaf analysed again
    (after eviction) is judged the same way (here: its host name still mismatches)."""
    chain = pki.simple_chain("evict.example")
    v = Verifier(TrustStore([chain.root.cert]), cache_size=2)
    for _ in range(3):
        assert v.verify(chain.leaf.cert, chain.intermediates, server_name="evict.example",
                        at=pki.NOW)
        with pytest.raises(CertificateVerificationError,
                           match=r"is not valid for other\.example"):
            v.verify(chain.leaf.cert, chain.intermediates, server_name="other.example",
                     at=pki.NOW)
        v.analyze(pki.leaf("filler.example", chain.inter).cert)
    assert len(v._infos) <= 4


@given(st.lists(st.tuples(st.sampled_from(["put", "put_all", "get"]),
                          st.lists(st.integers(0, 9), min_size=1, max_size=3),
                          st.integers(0, 99)), max_size=60),
       st.integers(1, 6))
def test_put_all_is_one_put_per_key(
    operations: list[tuple[str, list[int], int]], size: int
) -> None:
    """`LRUCache.put_all` (one lock for an analysis's two keys) leaves the cache as a
    put per key would: the same entries, in the same order, the same evictions."""
    together: LRUCache[int, int] = LRUCache(size)
    apart: LRUCache[int, int] = LRUCache(size)
    for op, keys, value in operations:
        if op == "get":
            assert together.get(keys[0]) == apart.get(keys[0])
        elif op == "put":
            together.put(keys[0], value)
            apart.put(keys[0], value)
        else:
            together.put_all(tuple(keys), value)
            for key in keys:
                apart.put(key, value)
        assert list(together._data.items()) == list(apart._data.items())

def test_analyze_der_is_analyze_on_real_certificates() -> None:
    for cert in _corpus():
        der = cert.public_bytes(Encoding.DER)
        fast = certinfo.analyze_der(cert, der, hashlib.sha256(der).digest())
        assert analysis_fields(fast) == analysis_fields(certinfo.analyze(cert))


def test_analysis_fields_are_what_cryptography_reads() -> None:
    """The analysis builds its CertInfo by position (cheaper than keywords): each field
    holds what cryptography itself says of the certificate, so no two are swapped."""
    spki_format = (Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    for cert in _corpus():
        der = cert.public_bytes(Encoding.DER)
        info = certinfo.analyze_der(cert, der, hashlib.sha256(der).digest())
        subject, issuer = cert.subject.public_bytes(), cert.issuer.public_bytes()
        assert info.cert is cert and info.fingerprint == hashlib.sha256(der).digest()
        assert (info.subject_der, info.issuer_der) == (subject, issuer)
        assert info.self_issued == (subject == issuer)
        assert info.empty_subject == (len(cert.subject) == 0)
        assert info.loop_key == (subject, cert.public_key().public_bytes(*spki_format))
        assert (info.not_before, info.not_after) == (
            cert.not_valid_before_utc, cert.not_valid_after_utc)
        assert info.public_key == cert.public_key()
        assert info.key_desc == certinfo._key_description(cert.public_key())[0]
        assert info.tbs == cert.tbs_certificate_bytes
        assert info.weak_signature == certinfo._signature_weakness(cert)


def test_a_validation_context_carries_the_verifiers_settings() -> None:
    """`Verifier._context` builds the Context by position: with every setting distinct
    from its default and from the others, each lands in its own field."""
    store = TrustStore([pki.simple_chain("ctx.example").root.cert])
    v = Verifier(store, max_depth=3, require_digital_signature=False,
                 max_signature_checks=11, max_candidates=22, profile="cabf",
                 max_name_checks=44)
    at = datetime(2030, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    ctx = v._context(at, "client", True)
    assert ctx == Context(
        at=at.replace(microsecond=0), usage="client", max_depth=3,
        require_digital_signature=False, signatures=v._signatures, stats=v.stats,
        max_signature_checks=11, max_candidates=22, collect=True,
        curated_anchors=store.curated, profile="cabf", max_name_checks=44)
    assert ctx.signatures is v._signatures and ctx.stats is v.stats

# -- the named-curve key shortcut --------------------------------------------------------


def _outcomes(spki: bytes) -> tuple[object, object]:
    """(the shortcut's answer, the element-by-element reading's), an error as its text."""
    answers: list[object] = []
    for judge in (_spki_problem, _spki_problem_read):
        try:
            answers.append(judge(spki))
        except DERError as exc:
            answers.append(("DERError", str(exc)))
    return answers[0], answers[1]


@cache
def _named_spkis() -> tuple[bytes, ...]:
    return tuple(
        ec.generate_private_key(curve).public_key().public_bytes(
            Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        for curve in (ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()))


def test_named_curve_keys_take_the_shortcut_and_need_nothing() -> None:
    for spki in _named_spkis():
        header = _NAMED_CURVE_SPKI[len(spki)]
        assert spki.startswith(header)
        assert _spki_problem(spki) is None and _spki_problem_read(spki) is None


def test_key_shortcut_agrees_on_real_certificates() -> None:
    for cert in _corpus():
        spki = split_certificate(cert.public_bytes(Encoding.DER)).spki
        shortcut, reading = _outcomes(spki)
        assert shortcut == reading


def test_explicit_curve_parameters_are_still_refused() -> None:
    """The same length as a P-256 key, but parameters instead of the curve's name."""
    spki = bytearray(_named_spkis()[0])
    spki[13] = 0x30  # the curve OID's tag becomes a SEQUENCE (explicit parameters)
    assert _spki_problem(bytes(spki)) == (
        "EC key with explicit curve parameters (a named curve is required)")


@given(st.data())
def test_key_shortcut_agrees_on_mutated_keys(data: st.DataObject) -> None:
    spki = bytearray(data.draw(st.sampled_from(_named_spkis())))
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, 30))
        spki[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        spki = spki[:data.draw(st.integers(0, len(spki)))]
    shortcut, reading = _outcomes(bytes(spki))
    assert shortcut == reading


# -- the validation time ---------------------------------------------------------------


def _reference_utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(microsecond=0)


@given(st.datetimes(min_value=datetime(1950, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=-7)),
                                               ZoneInfo("UTC"), ZoneInfo("Europe/Paris")])))
def test_validation_time_is_the_moment_in_utc_to_the_second(at: datetime) -> None:
    got = _utc(at)
    expected = _reference_utc(at)
    assert got == expected and got.tzinfo is UTC and got.microsecond == 0
    assert (got.year, got.month, got.day, got.hour, got.minute, got.second) == (
        expected.year, expected.month, expected.day, expected.hour, expected.minute,
        expected.second)


_CONTEXT_VERIFIER = Verifier(TrustStore([]))


@given(st.datetimes(min_value=datetime(1950, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=-7)),
                                               ZoneInfo("UTC"), ZoneInfo("Europe/Paris")])))
def test_a_validation_runs_at_the_moment_in_utc_to_the_second(at: datetime) -> None:
    """`Verifier._context` takes a moment already in UTC to the second as it is (what the
    handshake passes) and converts any other as `_utc` does."""
    got = _CONTEXT_VERIFIER._context(at, "server").at
    assert got == _reference_utc(at) and got.tzinfo is UTC and got.microsecond == 0
    if at.tzinfo is UTC and not at.microsecond:
        assert got is at


def test_validation_time_defaults_to_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    got = _utc(None)
    assert before <= got <= datetime.now(UTC) and got.microsecond == 0


# -- fields computed on first use ------------------------------------------------------


def test_key_id_is_the_hash_of_the_key_on_first_use() -> None:
    for cert in _corpus():
        der = cert.public_bytes(Encoding.DER)
        info = certinfo.analyze(cert)
        assert info.key_id == hashlib.sha256(split_certificate(der).spki).digest()
        assert info.key_id is info.key_id  # kept once computed


def test_signature_cache_is_keyed_by_the_issuer_key() -> None:
    """Two issuers with one key share verdicts; another key does not (the lazy key_id
    must be the key's, not something per certificate)."""
    root = pki.root("Shared Key Root", slot="shared")
    twin = pki.root("Shared Key Root", slot="shared", serial=99)
    other = pki.root("Shared Key Root", slot="other")
    leaf = pki.leaf("shared.example", root)
    v = Verifier(TrustStore([root.cert]))
    infos = [v.analyze(c) for c in (root.cert, twin.cert, other.cert, leaf.cert)]
    assert infos[0].key_id == infos[1].key_id != infos[2].key_id
    stats = v.stats
    assert v._signatures.check(infos[3], infos[0], stats) is None
    assert v._signatures.check(infos[3], infos[1], stats) is None
    assert stats.signature_verifications == 1
    assert v._signatures.check(infos[3], infos[2], stats) == "the signature does not verify"
    assert stats.signature_verifications == 2


def test_an_issuers_key_family_is_found_once_and_is_the_keys() -> None:
    """The signature cache asks `key_family` of an issuer's key once and keeps it on the
    issuer's analysis; a verdict with the family given is the verdict without it, for a
    key of every family, matching or not the signature's algorithm."""
    from tlskit.crypto import key_family
    from tlskit.x509 import signatures

    roots = [pki.root(f"Family Root {kind}", key_kind=kind)
             for kind in ("ec256", "rsa2048", "ed25519")]
    for root in roots:
        leaf = pki.leaf(f"family.{root.cert.serial_number}.example", root)
        v = Verifier(TrustStore([root.cert]))
        issuer, child = v.analyze(root.cert), v.analyze(leaf.cert)
        assert issuer._key_family is None
        assert v._signatures.check(child, issuer, v.stats) is None
        assert issuer._key_family == key_family(root.cert.public_key())
        for other in roots:
            key = other.cert.public_key()
            assert signatures.verify_signature(
                key, leaf.cert, child.tbs, child.signature_algorithm, key_family(key)
            ) == signatures.verify_signature(key, leaf.cert)


def test_lint_only_facts_are_found_when_asked_and_are_what_they_were() -> None:
    """A leaf's label and serial-number verdict are read only by messages and `lint`:
    a valid leaf's validation leaves them unasked, and asked they are what the analysis
    used to store (the first SAN name; RFC 5280 4.1.2.2 on the encoded serial)."""
    chain = pki.simple_chain("lazy.example")
    v = Verifier(TrustStore([chain.root.cert]))
    v.verify(chain.leaf.cert, chain.intermediates, server_name="lazy.example", at=pki.NOW)
    info = v.analyze(chain.leaf.cert)
    assert info._dns_label is certinfo._NOT_YET
    for cert in _corpus():
        info = certinfo.analyze(cert)
        assert info.dns_label == certinfo._first_dns(info.san)
        der = cert.public_bytes(Encoding.DER)
        assert info.serial_problem == _serial_problem(split_certificate(der).serial)


def test_a_leaf_whose_extensions_fail_after_its_san_is_not_named_by_it() -> None:
    """An extension cryptography leaves unparsed, after the subjectAltName: the leaf is
    malformed and its message names it by subject, as when the label was stored."""
    root = pki.root("Unnamed Root")
    mappings = x509.UnrecognizedExtension(x509.oid.ExtensionOID.POLICY_MAPPINGS, b"\x30\x00")
    leaf = pki.leaf("unnamed.example", root, extra=[(mappings, False)])
    info = certinfo.analyze(leaf.cert)
    assert info.malformed and info.dns_names == ("unnamed.example",)
    assert info.dns_label is None
    with pytest.raises(CertificateVerificationError) as caught:
        Verifier(TrustStore([root.cert])).verify(leaf.cert, [], "unnamed.example", pki.NOW)
    assert str(caught.value).startswith("certificate 'CN=unnamed.example' (issuer")


def test_unreadable_certificate_keeps_its_fingerprint_as_key_id() -> None:
    info = certinfo._unparseable(pki.simple_chain("u.example").leaf.cert, ValueError("x"))
    assert info.key_id == info.fingerprint and info.unparseable


def test_ec_key_words_are_the_same_from_the_curve_table() -> None:
    """EC key descriptions are kept per curve: the first and the second certificate on
    a curve read the same, accepted or weak."""
    root = pki.root("Curve Root")
    for kind, words, weakness in (
        ("ec256", "EC secp256r1", None),
        ("ec384", "EC secp384r1", None),
        ("ec521", "EC secp521r1", None),
        ("secp256k1", "EC secp256k1",
         "EC secp256k1 (only P-256, P-384 and P-521 are accepted)"),
    ):
        for n in range(2):
            info = certinfo.analyze(pki.leaf(f"k{n}.{kind}.example", root, key_kind=kind,
                                             slot=f"{kind}-{n}").cert)
            assert (info.key_desc, info.weak_key) == (words, weakness)


# -- caches keyed by DER: no SHA-256 of a new leaf --------------------------------------


def test_a_new_leaf_is_validated_without_hashing_it_whole() -> None:
    """The analysis cache, the signature cache and the trust store find a leaf by its
    DER; its SHA-256 is computed only when asked for, and is the DER's."""
    chain = pki.simple_chain("nohash.example")
    v = Verifier(TrustStore([chain.root.cert]))
    v.verify(chain.leaf.cert, chain.intermediates, server_name="nohash.example", at=pki.NOW)
    info = v.analyze(chain.leaf.cert)
    assert info._fingerprint is None
    der = chain.leaf.cert.public_bytes(Encoding.DER)
    assert info.der == der and info.fingerprint == hashlib.sha256(der).digest()


def test_a_twin_with_another_signature_is_not_taken_for_the_verified_leaf() -> None:
    """The same tbsCertificate with another signature is another signature cache key:
    the verdict for the real leaf does not carry over to the tampered one."""
    root = pki.root("Twin Signature Root")
    good = pki.leaf("twin.example", root).cert
    v = Verifier(TrustStore([root.cert]))
    assert v.verify(good, [], server_name="twin.example", at=pki.NOW)[0] is good
    with pytest.raises(CertificateVerificationError, match="did not make"):
        v.verify(pki.tamper_signature(good), [], server_name="twin.example", at=pki.NOW)


def test_trust_store_finds_anchors_by_der_as_by_fingerprint() -> None:
    store = TrustStore(_corpus()[:-1])
    for cert in _corpus():
        der = cert.public_bytes(Encoding.DER)
        assert store.contains_der(der) == store.contains_fingerprint(
            hashlib.sha256(der).digest()) == (cert is not _corpus()[-1])


@pytest.mark.parametrize(("key_kind", "hash_name", "pss", "shortcut"), [
    ("rsa2048", "sha256", False, True), ("rsa2048", "sha384", False, True),
    ("rsa2048", "sha512", False, True), ("ec256", "sha256", False, True),
    ("ec256", "sha384", False, True), ("ec256", "sha512", False, True),
    ("ed25519", None, False, True), ("rsa2048", "sha256", True, False),
    ("rsa2048", "sha224", False, False), ("ec256", "sha224", False, False),
])
def test_signature_algorithm_shortcut_is_the_oid_verdict(
        key_kind: str, hash_name: str | None, pss: bool, shortcut: bool) -> None:
    """The accepted algorithms are recognised by their encoding; PSS and the refused
    ones are decided by the OID as before, and both ways agree."""
    issuer = pki.root(f"Alg Root {key_kind}", key_kind=key_kind)
    cert = pki.leaf("alg.example", issuer, hash_name=hash_name, pss=pss).cert
    der = cert.public_bytes(Encoding.DER)
    pieces = split_certificate(der)
    assert (pieces.signature_algorithm in certinfo._ACCEPTED_ALGORITHM_IDS) is shortcut
    info = certinfo.analyze(cert)
    assert info.weak_signature == certinfo._signature_weakness(cert)
    assert (info.weak_signature is None) is (hash_name != "sha224")
    # The verification parameters found by the encoding are the OID's.
    from tlskit.x509 import signatures

    by_encoding = signatures._FIXED_BY_ENCODING.get(info.signature_algorithm)
    assert by_encoding is None or by_encoding is signatures._FIXED_PARAMETERS.get(
        cert.signature_algorithm_oid)
    key = issuer.cert.public_key()
    assert signatures.verify_signature(key, cert, info.tbs, info.signature_algorithm) is None
    assert signatures.verify_signature(key, cert) is None


def test_lru_reads_without_the_lock_stay_consistent_under_threads() -> None:
    """`LRUCache.get` takes no lock: with threads switching as often as the interpreter
    allows, reads racing puts and evictions return the stored value or None, never raise,
    and the size bound holds."""
    import sys
    import threading

    cache: LRUCache[int, int] = LRUCache(8)
    errors: list[BaseException] = []
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def work(seed: int) -> None:
        try:
            for i in range(4000):
                key = (i * 7 + seed) % 24
                if i % 3:
                    value = cache.get(key)
                    assert value is None or value == key * 10
                else:
                    cache.put(key, key * 10)
                assert len(cache) <= 9  # a put may hold one extra for an instant
        except BaseException as exc:  # reported below, from the main thread
            errors.append(exc)

    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    assert len(cache) <= 8


# -- the leaf's timeless checks in one function -------------------------------------------

_KEY_USAGES = [None, *(x509.KeyUsage(ds, False, ke, False, False, kcs, False, False, False)
                       for ds in (False, True) for ke in (False, True) for kcs in (False, True))]
_EKUS = [None, frozenset(), frozenset({pki.SERVER_AUTH}), frozenset({pki.CLIENT_AUTH}),
         frozenset({pki.ANY_EKU}), frozenset({pki.SERVER_AUTH, pki.CLIENT_AUTH})]


@cache
def _plain_leaves() -> tuple[certinfo.CertInfo, ...]:
    root = pki.root("Leaf Checks Root")
    return tuple(certinfo.analyze(pki.leaf(f"{kind}.checks.example", root, key_kind=kind).cert)
                 for kind in ("ec256", "rsa2048"))


# One defect at a time (each clause of `_leaf_passes` alone), or none.
_DEFECTS: list[dict[str, object]] = [
    {}, {"malformed": "broken"}, {"unhandled_critical": ("1.2.3.4",)}, {"weak_key": "weak"},
    {"weak_signature": "weak"}, {"version": x509.Version.v1}, {"ca": True}, {"ca": None},
]


def test_leaf_checks_in_one_function_give_the_checks_verdict() -> None:
    """`_leaf_passes` only ever says "passes" when every check would pass: the verdict
    `cert_failure` gives with it is the verdict of asking each check, for each defect on
    its own and every keyUsage, extendedKeyUsage, usage, digitalSignature policy and key
    type."""
    from itertools import product

    from tlskit.x509 import checks

    for base, defect, ku, eku, usage, rds in product(
            _plain_leaves(), _DEFECTS, _KEY_USAGES, _EKUS, ("server", "client"),
            (True, False)):
        info = dataclasses.replace(base, key_usage=ku, eku=eku, verdicts={},
                                   **defect)  # type: ignore[arg-type]
        ctx = Context(pki.NOW, usage, require_digital_signature=rds)  # type: ignore[arg-type]
        full = checks._first_timeless_failure(info, "leaf", ctx)
        assert checks.cert_failure(info, "leaf", ctx) == full
        assert not checks._leaf_passes(info, ctx) or full is None


def test_the_usual_leaf_is_judged_in_one_function() -> None:
    from tlskit.x509 import checks

    for info in _plain_leaves():
        assert checks._leaf_passes(info, Context(pki.NOW))


def test_rsa_key_words_are_the_same_remembered_or_not() -> None:
    """`_key_description` keeps the words for an RSA key by modulus size: a second key of
    the size gets what the first got, and each size its own words and weakness."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    expected = {
        1024: ("RSA 1024 bits", "RSA 1024 bits (minimum is 2048)"),
        2048: ("RSA 2048 bits", None),
        2052: ("RSA 2052 bits", "RSA 2052 bits (the modulus size must be a multiple of 8)"),
    }
    certinfo._RSA_DESCRIPTIONS.clear()
    for bits, words in expected.items():
        for _ in range(2):
            key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
            assert certinfo._key_description(key) == words
            assert certinfo._rsa_description(bits) == words
        assert certinfo._RSA_DESCRIPTIONS[bits] == words
