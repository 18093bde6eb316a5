#!/usr/bin/env python3
"""Fuzz certificate reading and path validation: whatever certificate bytes a peer sends,
the verifier answers with a verdict, never a crash.

With atheris installed:   python fuzz/fuzz_x509.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_x509.py [ITERATIONS] [SEED]

An input is one selector byte and a DER certificate: an even selector puts the
certificate in the leaf's place (the chain's intermediate stays genuine), an odd one in
the intermediate's (under a genuine leaf). The seeds are a small chain whose certificates
carry the extensions tlskit reads itself (SAN, key usage, EKU, basic and name
constraints, key identifiers, AIA, CRL distribution points, policies). Contract:
- tlskit's one-pass DER splitter gives the checked reader's pieces or declines;
- a certificate cryptography parses is analysed without raising, and the fast DER
  reading of its extensions gives the analysis cryptography's reading gives;
- `Verifier.verify` returns the chain or raises `CertificateVerificationError`, under the
  default profile and under cabf with hard-fail revocation from a CRL; `explain` never
  raises and reaches the same verdict, for the same reason.
"""

from __future__ import annotations

import ipaddress
import sys
import warnings
from datetime import UTC, datetime, timedelta
from functools import cache

from _harness import der_with_selector, main
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from tests.x509.analysis import analysis_fields

from tlskit.x509 import CertificateVerificationError, TrustStore, Verifier, certinfo
from tlskit.x509.der import DERError, _split_checked, _split_common, split_certificate

AT = datetime(2030, 6, 1, tzinfo=UTC)
HOST = "leaf.fuzz.example"
CRL_URL = "http://crl.fuzz.example/ca.crl"


def _key(scalar: int) -> ec.EllipticCurvePrivateKey:
    """Deterministic keys, so a crashing input reproduces in any run."""
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlskit fuzz"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


_ROOT_KEY, _CA_KEY, _LEAF_KEY = _key(0x5EED), _key(0xCA), _key(0x1EAF)


def _builder(subject: str, issuer: str, key: ec.EllipticCurvePrivateKey,
             issuer_key: ec.EllipticCurvePrivateKey, serial: int) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(AT - timedelta(days=30)).not_valid_after(AT + timedelta(days=30))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_key.public_key()), False))


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(False, False, False, False, False, True, True, False, False)


@cache
def chain() -> tuple[x509.Certificate, x509.Certificate, x509.Certificate]:
    """(root, intermediate, leaf): each extension tlskit reads, in its common form."""
    root = (_builder("Fuzz Root", "Fuzz Root", _ROOT_KEY, _ROOT_KEY, 1)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(_ca_usage(), True)
            .sign(_ROOT_KEY, hashes.SHA256()))
    ca = (_builder("Fuzz CA", "Fuzz Root", _CA_KEY, _ROOT_KEY, 2)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
          .add_extension(_ca_usage(), True)
          .add_extension(x509.NameConstraints(
              permitted_subtrees=[x509.DNSName("fuzz.example"),
                                  x509.IPAddress(ipaddress.ip_network("10.0.0.0/8"))],
              excluded_subtrees=[x509.DNSName("deep.bad.fuzz.example")]), True)
          .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                ExtendedKeyUsageOID.CLIENT_AUTH]), False)
          .sign(_ROOT_KEY, hashes.SHA256()))
    leaf = (_builder(HOST, "Fuzz CA", _LEAF_KEY, _CA_KEY, 0x1EAF)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName(HOST), x509.DNSName("*.fuzz.example"),
                x509.IPAddress(ipaddress.ip_address("10.1.2.3"))]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                         False, False), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier("http://ocsp.fuzz.example"))]), False)
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(CRL_URL)], None, None, None)]), False)
            .add_extension(x509.CertificatePolicies([x509.PolicyInformation(
                x509.ObjectIdentifier("2.23.140.1.2.1"), None)]), False)
            .sign(_CA_KEY, hashes.SHA256()))
    return root, ca, leaf


def crl_by(issuer: x509.Certificate, key: ec.EllipticCurvePrivateKey,
           revoked: int = 0xBAD) -> x509.CertificateRevocationList:
    """A current CRL from `issuer` listing one serial (none of the chain's)."""
    return (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject)
            .last_update(AT - timedelta(days=1)).next_update(AT + timedelta(days=6))
            .add_extension(x509.CRLNumber(1), False)
            .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(revoked)
                                     .revocation_date(AT - timedelta(days=2)).build())
            .sign(key, hashes.SHA256()))


@cache
def verifiers() -> tuple[Verifier, Verifier]:
    """The default policy, and cabf with hard-fail revocation answered by CRLs (the
    root's for the intermediate, the intermediate's for the leaf): the seed chain passes
    both, so mutations start from a verdict of success."""
    root, ca, _ = chain()
    store = TrustStore([root])
    return (Verifier(store),
            Verifier(store, revocation="hard-fail", crls=[crl_by(ca, _CA_KEY),
                                                          crl_by(root, _ROOT_KEY)],
                     fetch_crls=False, ocsp=False, profile="cabf"))


@cache
def seeds() -> list[bytes]:
    _, ca, leaf = chain()
    return [b"\x00" + leaf.public_bytes(Encoding.DER), b"\x01" + ca.public_bytes(Encoding.DER)]


def _check_split(der: bytes) -> None:
    """The one-pass reader gives the checked reader's answer whenever it answers."""
    try:
        expected: object = _split_checked(der)
    except DERError as exc:
        expected = ("DERError", str(exc))
    fast = _split_common(der)
    assert fast is None or fast == expected, der
    try:
        got: object = split_certificate(der)
    except DERError as exc:
        got = ("DERError", str(exc))
    assert got == expected, der


def _check_analysis(cert: x509.Certificate, der: bytes) -> None:
    """Never raises; the fast extension reading agrees with cryptography's."""
    try:
        pieces = split_certificate(der)
    except DERError:
        return  # a certificate tlskit cannot split is analysed as unparseable (below)
    general = analysis_fields(certinfo._analyze(cert, der, pieces, fast=False))
    fast = analysis_fields(certinfo._analyze(cert, der, pieces, fast=True))
    assert fast == general, (der, fast, general)


def _check_verdicts(cert: x509.Certificate, odd: bool) -> None:
    _, ca, leaf = chain()
    leaf_cert, intermediates = (leaf, [cert]) if odd else (cert, [ca])
    for verifier in verifiers():
        try:
            verifier.verify(leaf_cert, intermediates, server_name=HOST, at=AT)
            reason = None
        except CertificateVerificationError as exc:
            reason = exc.reason
        report = verifier.explain(leaf_cert, intermediates, server_name=HOST, at=AT)
        assert (report.error.reason if report.error else None) == reason, (reason, report)


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    der = data[1:]
    _check_split(der)
    with warnings.catch_warnings():  # cryptography warns about odd serials, on purpose
        warnings.simplefilter("ignore")
        try:
            cert = x509.load_der_x509_certificate(der)
        except Exception:  # in a handshake: bad_certificate (handshake.common.parse_chain)
            return
        assert isinstance(certinfo.analyze(cert), certinfo.CertInfo)
        _check_analysis(cert, der)
        _check_verdicts(cert, bool(data[0] & 1))


random_input = der_with_selector(seeds)


if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input, default_iterations=5_000))
