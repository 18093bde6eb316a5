"""Validations per second of a 3-certificate ECDSA P-256 chain: tlskit vs cryptography.

    python bench/bench_verify.py [--runs 9] [--seconds 0.5] [--clock cpu|wall]

Each run counts how many validations complete in a fixed time slice; the median of the
runs is reported. The slices of the contenders are interleaved, and time is process CPU
time by default (``--clock wall`` for wall-clock time), so that other work on a shared
machine moves every contender alike instead of whichever happened to be running.

Three tlskit figures are printed: the steady state a long-lived client
sees (warm: one shared Verifier, so its signature cache answers repeat chains); a shared
Verifier fed a different leaf under the same intermediate every time (warm, one real
signature check per validation, like a client visiting many sites of one CA); and a cold
Verifier per validation (every signature really checked, only the trust store's analysis
of its roots is reused), for an honest comparison with cryptography's verifier, which
keeps no cache. A fourth pair of lines repeats the new-leaf figure, for both verifiers,
with leaves shaped like a public CA's (authorityInfoAccess, certificatePolicies with a
CPS, cRLDistributionPoints and a list of two SCTs beside the usual extensions): the
extensions a real leaf carries, which the bench leaves otherwise lack. Chains are
re-parsed from DER on every validation in both, as a TLS handshake would. Ratios are
printed as time per validation, tlskit over cryptography: below 1.0x tlskit is faster.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import struct
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import verification as cv
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
    NameOID,
)

from tlskit.x509 import TrustStore, Verifier

HOST = "bench.example.com"
PUBLIC_TLSKIT = "tlskit (new public-CA-shaped leaf each time)"
PUBLIC_THEIRS = "cryptography (public-CA-shaped leaf each time)"
NOW = datetime.now(UTC)


def _u16(body: bytes) -> bytes:
    return struct.pack(">H", len(body)) + body


def _sct_list() -> x509.UnrecognizedExtension:
    """Two SCTs (random log IDs and ECDSA signatures) as a log would return them: the
    OCTET STRING holding the TLS vector that is the extension's value (RFC 6962 3.3)."""
    scts = b"".join(_u16(b"\x00" + os.urandom(32) + struct.pack(">Q", int(NOW.timestamp()) * 1000)
                         + _u16(b"") + b"\x04\x03" + _u16(b"\x30" + os.urandom(70)))
                    for _ in range(2))
    body = _u16(scts)
    return x509.UnrecognizedExtension(ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS,
                                      b"\x04\x81" + bytes([len(body)]) + body)


def _public_extensions() -> list[x509.ExtensionType]:
    """What a public CA adds to a leaf, in its usual shape."""
    uri = x509.UniformResourceIdentifier
    return [
        x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP, uri("http://o.example")),
            x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                   uri("http://i.example/int.der"))]),
        x509.CertificatePolicies([
            x509.PolicyInformation(x509.ObjectIdentifier("2.23.140.1.2.1"), None),
            x509.PolicyInformation(x509.ObjectIdentifier("1.3.6.1.4.1.44947.1.1.1"),
                                   ["http://cps.example/"])]),
        x509.CRLDistributionPoints([x509.DistributionPoint(
            [uri("http://crl.example/int.crl")], None, None, None)]),
        _sct_list(),
    ]


def _issue(
    cn: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    ca: bool,
    public: bool = False,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer_cert, signer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_cert.subject if signer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca, 0 if ca and issuer else None), True)
        .add_extension(x509.KeyUsage(not ca, False, False, False, False, ca, ca, False, False),
                       True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), False)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
    for extension in _public_extensions() if public else ():
        builder = builder.add_extension(extension, False)
    return builder.sign(signer_key, hashes.SHA256())


def make_chain(
    extra_leaves: int = 0, public_leaves: int = 0,
) -> tuple[x509.Certificate, bytes, bytes, list[bytes], list[bytes]]:
    """(root, leaf DER, intermediate DER, more leaf DERs under the same intermediate, and
    leaf DERs shaped like a public CA's under it)."""
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    root = _issue("Bench Root", keys[0], None, True)
    inter = _issue("Bench Intermediate", keys[1], (root, keys[0]), True)
    der = serialization.Encoding.DER
    leaves = [_issue(HOST, keys[2], (inter, keys[1]), False).public_bytes(der)
              for _ in range(1 + extra_leaves)]
    public = [_issue(HOST, keys[2], (inter, keys[1]), False, True).public_bytes(der)
              for _ in range(public_leaves)]
    return root, leaves[0], inter.public_bytes(der), leaves[1:], public


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Validations per second over one time slice."""
    count, start = 0, clock()
    deadline = start + seconds
    while True:
        fn()
        count += 1
        now = clock()
        if now >= deadline:
            return count / (now - start)


def median_rates(
    fns: dict[str, Callable[[], object]], runs: int, seconds: float
) -> dict[str, float]:
    """Median rate of each function, the runs interleaved (A B C, A B C, ...) so that a
    change in machine load hits every contender alike."""
    for fn in fns.values():
        fn()  # warm up (and fill caches where there are any)
    samples: dict[str, list[float]] = {label: [] for label in fns}
    for _ in range(runs):
        for label, fn in fns.items():
            samples[label].append(rate(fn, seconds))
    return {label: statistics.median(values) for label, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]

    root, leaf_der, inter_der, fresh_leaves, public_leaves = make_chain(500, 500)
    load = x509.load_der_x509_certificate
    store = TrustStore([root])
    shared = Verifier(store)

    def tlskit_cached() -> object:
        return shared.verify(load(leaf_der), [load(inter_der)], server_name=HOST)

    rotation = itertools.cycle(fresh_leaves)
    # A small cache keeps the intermediate's entries (used every time) but has long
    # forgotten a leaf by the time the 500-leaf rotation comes back to it.
    small = Verifier(store, cache_size=16)

    def tlskit_new_leaf() -> object:
        return small.verify(load(next(rotation)), [load(inter_der)], server_name=HOST)

    def tlskit_cold() -> object:
        return Verifier(store).verify(load(leaf_der), [load(inter_der)], server_name=HOST)

    theirs = (cv.PolicyBuilder().store(cv.Store([root])).time(NOW)
              .build_server_verifier(x509.DNSName(HOST)))

    def cryptography_verify() -> object:
        return theirs.verify(load(leaf_der), [load(inter_der)])

    public_rotation = itertools.cycle(public_leaves)
    public_small = Verifier(store, cache_size=16)

    def tlskit_new_public_leaf() -> object:
        return public_small.verify(load(next(public_rotation)), [load(inter_der)],
                                   server_name=HOST)

    their_rotation = itertools.cycle(public_leaves)

    def cryptography_public_leaf() -> object:
        return theirs.verify(load(next(their_rotation)), [load(inter_der)])

    results = median_rates({
        "tlskit (shared Verifier, signature cache)": tlskit_cached,
        "tlskit (shared Verifier, a new leaf each time)": tlskit_new_leaf,
        "tlskit (cold Verifier each time)": tlskit_cold,
        "cryptography.x509.verification": cryptography_verify,
        PUBLIC_TLSKIT: tlskit_new_public_leaf,
        PUBLIC_THEIRS: cryptography_public_leaf,
    }, args.runs, args.seconds)
    base = results["cryptography.x509.verification"]
    print(f"3-certificate ECDSA P-256 chain, median of {args.runs} runs of {args.seconds}s "
          f"({args.clock} clock, load average {os.getloadavg()[0]:.2f})")
    print(f"  {'':48s} {'validations/s':>13s} {'us each':>8s} {'time vs cryptography':>21s}")
    for label, value in results.items():
        print(f"  {label:48s} {value:13.0f} {1e6 / value:8.1f} {base / value:20.2f}x")
    for label, key in (("warm, cached chain", "tlskit (shared Verifier, signature cache)"),
                       ("warm, a new leaf each time", "tlskit (shared Verifier, a new leaf "
                                                      "each time)"),
                       ("cold Verifier", "tlskit (cold Verifier each time)")):
        print(f"time tlskit/cryptography ({label}): {base / results[key]:.2f}x "
              f"(lower is faster; the goal for a new leaf is <= 1.0x)")
    print(f"time tlskit/cryptography (warm, a new public-CA-shaped leaf each time): "
          f"{results[PUBLIC_THEIRS] / results[PUBLIC_TLSKIT]:.2f}x (both verifying the "
          f"public-shaped leaves)")


if __name__ == "__main__":
    main()
