#!/usr/bin/env python3
"""Fuzz CRL reading and revocation by CRL: whatever CRL bytes a server or a file hands
over, the verifier answers with a verdict, never a crash.

With atheris installed:   python fuzz/fuzz_crl.py -max_total_time=60 CORPUS_DIR
Without it (standalone):  python fuzz/fuzz_crl.py [ITERATIONS] [SEED]

An input is one selector byte and DER. An even selector takes the DER as a whole CRL
(so mutations mostly break its signature, and the reading and signature checks are
exercised); an odd one takes it as a tbsCertList, which the harness signs with the
issuing CA's key, so a mutated list gets past the signature into the checks of its
extensions, entries, dates and scope. The seeds are CRLs of every shape tlskit judges:
empty, the leaf revoked (with reasons, an invalidity date, a hold then its removal),
issuingDistributionPoint scopes, a critical delta-CRL indicator, an unknown critical
entry extension, expired, and issued by another name. Contract:
- `load_crl` returns a CRL or raises `EvidenceError`;
- `Verifier.verify` with hard-fail revocation answered by that CRL returns the chain or
  raises `CertificateVerificationError`; `explain` reaches the same verdict, for the
  same reason.
"""

from __future__ import annotations

import sys
import warnings
from datetime import timedelta
from functools import cache

from _harness import der_with_selector, main
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fuzz_x509 import _CA_KEY, _ROOT_KEY, AT, HOST, chain, crl_by

from tlskit._ocsp_der import tlv
from tlskit.x509 import CertificateVerificationError, TrustStore, Verifier
from tlskit.x509.revocation import EvidenceError, load_crl

# AlgorithmIdentifier of ecdsa-with-SHA256 (RFC 5758 3.2: no parameters).
_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")


def signed(tbs: bytes) -> bytes:
    """A CRL around `tbs` with a genuine signature by the leaf's issuing CA."""
    signature = _CA_KEY.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return tlv(0x30, tbs + _ECDSA_SHA256 + tlv(0x03, b"\x00" + signature))


def _revoked(serial: int, *extensions: tuple[x509.ExtensionType, bool]
             ) -> x509.RevokedCertificate:
    builder = (x509.RevokedCertificateBuilder().serial_number(serial)
               .revocation_date(AT - timedelta(days=2)))
    for value, critical in extensions:
        builder = builder.add_extension(value, critical)
    return builder.build()


def _crl(*revoked: x509.RevokedCertificate, issuer: x509.Name | None = None,
         extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
         next_update: timedelta = timedelta(days=6)) -> x509.CertificateRevocationList:
    _, ca, _ = chain()
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer or ca.subject)
               .last_update(AT - timedelta(days=1)).next_update(AT + next_update)
               .add_extension(x509.CRLNumber(len(revoked) + 1), False))
    for entry in revoked:
        builder = builder.add_revoked_certificate(entry)
    for value, critical in extensions:
        builder = builder.add_extension(value, critical)
    return builder.sign(_CA_KEY, hashes.SHA256())


@cache
def crls() -> list[x509.CertificateRevocationList]:
    leaf = chain()[2]
    serial = leaf.serial_number
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(_CA_KEY.public_key())
    reason = x509.CRLReason(x509.ReasonFlags.key_compromise)
    return [
        _crl(),
        _crl(_revoked(0xBAD), extensions=((aki, False),)),
        _crl(_revoked(serial, (reason, False),
                      (x509.InvalidityDate((AT - timedelta(days=3)).replace(tzinfo=None)),
                       False))),
        _crl(_revoked(serial, (x509.CRLReason(x509.ReasonFlags.remove_from_crl), False))),
        _crl(_revoked(serial, (x509.CRLReason(x509.ReasonFlags.certificate_hold), False))),
        _crl(_revoked(serial), extensions=((x509.IssuingDistributionPoint(
            full_name=[x509.UniformResourceIdentifier("http://crl.fuzz.example/ca.crl")],
            relative_name=None, only_contains_user_certs=True, only_contains_ca_certs=False,
            only_some_reasons=None, indirect_crl=False, only_contains_attribute_certs=False),
            True),)),
        _crl(_revoked(serial), extensions=((x509.DeltaCRLIndicator(6), True),)),
        _crl(_revoked(serial, (x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00"), True))),
        _crl(_revoked(0xBAD), next_update=timedelta(days=-1)),
        _crl(issuer=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Someone Else")])),
    ]


@cache
def seeds() -> list[bytes]:
    out = []
    for crl in crls():
        out.append(b"\x00" + crl.public_bytes(Encoding.DER))
        out.append(b"\x01" + crl.tbs_certlist_bytes)
    return out


@cache
def _store() -> TrustStore:
    return TrustStore([chain()[0]])


@cache
def _root_crl() -> x509.CertificateRevocationList:
    """The root's genuine CRL, for the intermediate (hard-fail asks about it too)."""
    return crl_by(chain()[0], _ROOT_KEY)


def _check_verdicts(crl: x509.CertificateRevocationList) -> None:
    _, ca, leaf = chain()
    verifier = Verifier(_store(), revocation="hard-fail", crls=[crl, _root_crl()],
                        fetch_crls=False, ocsp=False)
    try:
        verifier.verify(leaf, [ca], server_name=HOST, at=AT)
        reason = None
    except CertificateVerificationError as exc:
        reason = exc.reason
    report = verifier.explain(leaf, [ca], server_name=HOST, at=AT)
    assert (report.error.reason if report.error else None) == reason, (reason, report)


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    der = signed(data[1:]) if data[0] & 1 else data[1:]
    with warnings.catch_warnings():  # cryptography warns about odd serials, on purpose
        warnings.simplefilter("ignore")
        try:
            crl = load_crl(der)
        except EvidenceError:  # a CRL that does not parse: revocation unavailable
            return
        _check_verdicts(crl)


random_input = der_with_selector(seeds)


if __name__ == "__main__":
    sys.exit(main(sys.argv, TestOneInput, random_input, default_iterations=5_000))
