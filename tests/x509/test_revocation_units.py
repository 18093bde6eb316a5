"""Offline pieces: the cache, the fuzz harness, hostile CRL bytes."""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlskit._ocsp_der import algorithm_identifier, successful_response
from tlskit._ocsp_der import tlv as _tlv
from tlskit.x509 import crl as crl_module
from tlskit.x509 import revocation
from tlskit.x509.errors import CertificateVerificationError, Reason
from tlskit.x509.revocation import (
    EvidenceError,
    RevocationCache,
    RevocationStatus,
    build_ocsp_request,
    load_crl,
)

FUZZ_FILE = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_ocsp.py"
T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
GOOD = RevocationStatus("good", "ocsp", "test")


def _fuzz_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_ocsp", FUZZ_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fuzz_ocsp", module)
    spec.loader.exec_module(module)
    return module


FUZZ = _fuzz_module()


# --------------------------------------------------------------------------- cache


def test_cache_entry_only_inside_its_window() -> None:
    cache = RevocationCache()
    cache.put("k", GOOD, T0, T0 + dt.timedelta(hours=1))
    assert cache.get("k", T0 + dt.timedelta(minutes=30)) is GOOD
    assert cache.get("k", T0 - dt.timedelta(hours=1)) is None  # before thisUpdate: not used
    assert cache.get("k", T0 + dt.timedelta(minutes=64)) is GOOD  # within clock skew
    assert cache.get("k", T0 + dt.timedelta(hours=2)) is None  # expired: evicted
    assert len(cache) == 0


def test_cache_is_bounded_lru() -> None:
    cache = RevocationCache(max_entries=2)
    end = T0 + dt.timedelta(days=1)
    cache.put("a", GOOD, T0, end)
    cache.put("b", GOOD, T0, end)
    assert cache.get("a", T0) is GOOD  # "a" is now the most recently used
    cache.put("c", GOOD, T0, end)
    assert len(cache) == 2
    assert cache.get("b", T0) is None
    assert cache.get("a", T0) is GOOD and cache.get("c", T0) is GOOD
    cache.clear()
    assert len(cache) == 0


def test_cache_rejects_silly_bound() -> None:
    with pytest.raises(ValueError):
        RevocationCache(max_entries=0)


def test_naive_datetimes_are_utc() -> None:
    cache = RevocationCache()
    cache.put("k", GOOD, T0.replace(tzinfo=None), T0 + dt.timedelta(hours=1))
    assert cache.get("k", (T0 + dt.timedelta(minutes=1)).replace(tzinfo=None)) is GOOD


# --------------------------------------------------------------------------- OCSP request


def test_request_has_sha1_cert_id_and_nonce() -> None:
    der = build_ocsp_request(FUZZ.LEAF, FUZZ.ISSUER, b"\x42" * 32)
    request = ocsp.load_der_ocsp_request(der)
    assert isinstance(request.hash_algorithm, hashes.SHA1)
    assert request.serial_number == FUZZ.LEAF.serial_number
    nonce = request.extensions.get_extension_for_class(x509.OCSPNonce)
    assert nonce.value.nonce == b"\x42" * 32 and not nonce.critical


# --------------------------------------------------------------------------- fuzzing


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fuzz_harness_standalone_run() -> None:
    """A few thousand mutants of valid responses; only documented errors may escape."""
    assert FUZZ.run(iterations=3000, seed=20240601) == 3000 + len(FUZZ.seed_corpus())


def test_fuzz_seeds_are_valid_responses() -> None:
    """The corpus must start deep inside the validator, not at the first parse error."""
    good, issuer_signed, with_nonce, revoked, unknown, unsuccessful = FUZZ.seed_corpus()
    for staple in (good, issuer_signed, with_nonce):
        status = FUZZ.validate_stapled_response(staple, FUZZ.LEAF, FUZZ.ISSUER, FUZZ.AT)
        assert status.status == "good"
    for staple, reason in (
        (revoked, Reason.revoked),
        (unknown, Reason.revocation_unknown),
        (unsuccessful, Reason.revocation_unknown),
    ):
        with pytest.raises(CertificateVerificationError) as caught:
            FUZZ.validate_stapled_response(staple, FUZZ.LEAF, FUZZ.ISSUER, FUZZ.AT)
        assert caught.value.reason is reason


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    FUZZ.TestOneInput(data)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_hostile_crl_bytes_only_raise_evidence_error() -> None:
    """Mutated CRLs through the same parse-trust-lookup path the checker uses."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(FUZZ.ISSUER.subject)
        .last_update(FUZZ.AT - dt.timedelta(hours=1))
        .next_update(FUZZ.AT + dt.timedelta(days=1))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(FUZZ.LEAF.serial_number)
            .revocation_date(FUZZ.AT - dt.timedelta(days=1))
            .build()
        )
        .add_extension(x509.CRLNumber(1), critical=False)
    )
    seed = builder.sign(FUZZ._CA_KEY, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    rng = random.Random(7)
    for _ in range(2000):
        data = FUZZ.mutate(rng, [seed])
        try:
            with revocation._malformed():
                crl = load_crl(data)
                revocation._trust_crl(crl, FUZZ.ISSUER, FUZZ.AT)
                revocation._crl_status(crl, FUZZ.LEAF, "fuzzed CRL")
        except EvidenceError:
            pass


@pytest.mark.parametrize("cut", [1, 20, 60])
def test_unreadable_crls_and_ocsp_responses_are_told_in_words(cut: int) -> None:
    """What cryptography cannot read is reported as what is wrong and where, through
    `describe_parse_error`, not as its parser's debug text (``ParseError { kind: ...``),
    which used to reach the revocation notes of a verification error."""
    fuzz = _fuzz_module()
    crl = (x509.CertificateRevocationListBuilder().issuer_name(fuzz.ISSUER.subject)
           .last_update(fuzz.AT - dt.timedelta(hours=1))
           .next_update(fuzz.AT + dt.timedelta(days=1))
           .sign(fuzz._CA_KEY, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
    staple = fuzz.seed_corpus()[0]
    for data, call in ((crl, load_crl), (staple, lambda d: revocation.evaluate_ocsp_response(
            d, fuzz.LEAF, fuzz.ISSUER, fuzz.AT))):
        broken = data[:2] + data[2 + cut:]  # the outer length now overruns the rest
        with pytest.raises(EvidenceError) as info:
            call(broken)
        text = str(info.value)
        assert "not valid DER" in text and "ParseError" not in text, text


# --------------------------------------------------------------------------- hand-made OCSP DER


def _gtime(moment: dt.datetime) -> bytes:
    return _tlv(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode())


def _single(cert: x509.Certificate, issuer: x509.Certificate, extensions: bytes) -> bytes:
    """A "good" SingleResponse with a SHA-1 CertID, and ``extensions`` as singleExtensions."""
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    sha1 = _tlv(0x30, _tlv(0x06, bytes.fromhex("2b0e03021a")) + b"\x05\x00")
    serial = cert.serial_number.to_bytes((cert.serial_number.bit_length() + 8) // 8, "big")
    cert_id = _tlv(0x30, sha1 + _tlv(0x04, request.issuer_name_hash)
                   + _tlv(0x04, request.issuer_key_hash) + _tlv(0x02, serial))
    tail = _tlv(0xA0, _gtime(T0 + dt.timedelta(days=1)))
    if extensions:
        tail += _tlv(0xA1, _tlv(0x30, extensions))
    return _tlv(0x30, cert_id + b"\x80\x00" + _gtime(T0 - dt.timedelta(hours=1)) + tail)


def _two_answer_response(issuer_key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate,
                         singles: list[bytes]) -> bytes:
    """An issuer-signed OCSPResponse carrying several SingleResponses, which cryptography's
    builder cannot make (wrapped as the CA's responder does)."""
    key_hash = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
    tbs = _tlv(0x30, _tlv(0xA2, _tlv(0x04, key_hash)) + _gtime(T0)
               + _tlv(0x30, b"".join(singles)))
    signature = issuer_key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    ecdsa_sha256 = algorithm_identifier("1.2.840.10045.4.3.2", False)
    return successful_response(tbs, ecdsa_sha256, signature, [])


def _small_pki() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, list[x509.Certificate]]:
    key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Units CA")])

    def make(name: x509.Name, serial: int) -> x509.Certificate:
        return (x509.CertificateBuilder().subject_name(name).issuer_name(ca_name)
                .public_key(key.public_key()).serial_number(serial)
                .not_valid_before(T0 - dt.timedelta(days=1))
                .not_valid_after(T0 + dt.timedelta(days=30)).sign(key, hashes.SHA256()))

    leaves = [make(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, f"leaf {n}")]), n)
              for n in (0x1001, 0x1002)]
    return key, make(ca_name, 1), leaves


def test_critical_single_extension_in_a_multi_answer_response() -> None:
    """RFC 6960 4.4 / RFC 5280 4.2: a critical singleExtension we do not understand voids the
    answer about our certificate also when the response carries several SingleResponses
    (cryptography only exposes singleExtensions for one); other answers' extensions and
    non-critical ones do not matter."""
    key, issuer, (first, second) = _small_pki()
    odd = _tlv(0x06, bytes.fromhex("2b0601040183b203030a"))  # 1.3.6.1.4.1.55555.3.10
    critical = _tlv(0x30, odd + b"\x01\x01\xff" + _tlv(0x04, b"\x05\x00"))
    plain = _tlv(0x30, odd + _tlv(0x04, b"\x05\x00"))
    der = _two_answer_response(key, issuer, [_single(first, issuer, plain),
                                             _single(second, issuer, plain + critical)])
    assert revocation.evaluate_ocsp_response(der, first, issuer, T0).status == "good"
    with pytest.raises(EvidenceError) as caught:
        revocation.evaluate_ocsp_response(der, second, issuer, T0)
    assert str(caught.value) == "has an unsupported critical extension 1.3.6.1.4.1.55555.3.10"


class _CountingCrl:
    """A CRL that counts how often its entries are walked (everything else is the CRL's)."""

    def __init__(self, crl: x509.CertificateRevocationList) -> None:
        self._crl, self.walks = crl, 0

    def __iter__(self) -> Iterator[x509.RevokedCertificate]:
        self.walks += 1
        return iter(self._crl)

    def __getattr__(self, name: str) -> object:
        return getattr(self._crl, name)


def test_a_crl_found_clean_is_not_walked_again() -> None:
    """A configured CRL is vetted on every validation: its entries (RFC 5280 5.3) are
    walked the first time only, while a CRL with a bad entry is refused every time."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "walk CA")])
    at = dt.datetime.now(dt.UTC)
    clean = _CountingCrl(
        x509.CertificateRevocationListBuilder().issuer_name(name).last_update(at)
        .next_update(at + dt.timedelta(days=1))
        .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(7)
                                 .revocation_date(at).build())
        .sign(key, hashes.SHA256()))
    for _ in range(3):
        crl_module._check_entry_extensions(clean)  # type: ignore[arg-type]
    assert clean.walks == 1
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.4"), b"\x05\x00")
    entry = (x509.RevokedCertificateBuilder().serial_number(9).revocation_date(at)
             .add_extension(odd, critical=True).build())
    bad = _CountingCrl(
        x509.CertificateRevocationListBuilder().issuer_name(name).last_update(at)
        .next_update(at + dt.timedelta(days=1)).add_revoked_certificate(entry)
        .sign(key, hashes.SHA256()))
    for _ in range(2):
        with pytest.raises(EvidenceError, match="unsupported critical entry extension"):
            crl_module._check_entry_extensions(bad)  # type: ignore[arg-type]
    assert bad.walks == 2
