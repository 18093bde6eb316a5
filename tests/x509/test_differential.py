"""Differential test against cryptography's Rust verifier (a cross-check only: our verdict
never depends on it).

A seeded generator varies every knob of a three- or four-certificate chain; both
validators judge each chain. Every disagreement must be one of the documented ones
below, each decided by a named clause where the two validators take different,
defensible positions.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509 import verification as cv
from cryptography.x509.oid import ObjectIdentifier

from tlskit.x509 import CertificateVerificationError, TrustStore, Verifier

from . import pki
from .pki import DAY, NOW

HOST = "www.example.com"
ODD_EXTENSION = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.7"), b"\x05\x00")


@dataclass
class Case:
    knobs: dict[str, Any]
    leaf: x509.Certificate
    intermediates: list[x509.Certificate]
    root: x509.Certificate
    server_name: str = HOST
    at: datetime = NOW
    notes: list[str] = field(default_factory=list)


# The first value of each knob is the baseline (a valid chain); a case changes a few.
KNOBS: dict[str, list[Any]] = {
    "kind": ["ec256", "ec384", "rsa2048", "ed25519", "rsa1024", "secp256k1"],
    "hash": [None, "sha384", "sha512", "pss"],
    "leaf_time": ["ok", "expired", "future"],
    "inter_time": ["ok", "expired", "future"],
    "root_time": ["ok", "expired"],
    "leaf_eku": ["server", "client", "none", "any", "server+client"],
    "leaf_ku": ["default", "none", "key_encipherment", "cert_sign"],
    "leaf_bc": ["absent", "ca_false", "ca_true"],
    "inter_ca": ["yes", "no", "absent"],
    "inter_ku": ["default", "none", "no_cert_sign"],
    "inter_eku": ["none", "server", "client", "any"],
    "root_pathlen": [None, 0, 1],
    "depth": [1, 2, 3],
    "nc": ["none", "permit_ok", "permit_bad", "exclude_hit", "exclude_wild"],
    "san": ["host", "wildcard", "other", "none", "ip"],
    "critical": [False, True],
    "key_ids": [True, False],
    "host": [HOST, "WWW.Example.COM.", "other.example.com", "192.0.2.1"],
}


def _validity(choice: str) -> dict[str, datetime]:
    if choice == "expired":
        return {"not_before": NOW - 100 * DAY, "not_after": NOW - DAY}
    if choice == "future":
        return {"not_before": NOW + DAY, "not_after": NOW + 100 * DAY}
    return {}


def _hash_kw(knobs: dict[str, Any], signer_kind: str) -> dict[str, Any]:
    h = knobs["hash"]
    if h == "pss":
        return {"pss": True} if signer_kind.startswith("rsa") else {}
    return {"hash_name": h}


_KU = {
    "default": pki.DEFAULT, "none": None, "key_encipherment": {"key_encipherment": True},
    "cert_sign": {"key_cert_sign": True}, "no_cert_sign": {"digital_signature": True,
                                                           "crl_sign": True},
}
_EKU = {
    "server": [pki.SERVER_AUTH], "client": [pki.CLIENT_AUTH], "none": None,
    "any": [pki.ANY_EKU], "server+client": [pki.SERVER_AUTH, pki.CLIENT_AUTH],
}


def _sans(choice: str) -> list[str] | None:
    return {"host": [HOST], "wildcard": ["*.example.com"], "other": ["www.example.net"],
            "none": None, "ip": [HOST, "192.0.2.1"]}[choice]


def _nc(choice: str) -> dict[str, Any]:
    return {
        "none": {}, "permit_ok": {"permitted": ["example.com"]},
        "permit_bad": {"permitted": ["example.net"]},
        "exclude_hit": {"excluded": [HOST]},
        "exclude_wild": {"excluded": ["secret.example.com"]},
    }[choice]


def make_case(n: int, rng: random.Random) -> Case:
    knobs = {k: v[0] for k, v in KNOBS.items()}
    for knob in rng.sample(sorted(KNOBS), rng.choice([0, 1, 1, 1, 2, 2, 3])):
        knobs[knob] = rng.choice(KNOBS[knob][1:])
    kind = knobs["kind"]
    # Only the weakest link varies the key type; the rest stay strong so the chain is
    # otherwise valid and the weak key is the only thing under test.
    weak_at = rng.choice(["leaf", "inter", "root"])
    knobs["weak_at"] = weak_at
    kinds = {p: (kind if (kind not in ("rsa1024", "secp256k1") or p == weak_at) else "ec256")
             for p in ("root", "inter", "leaf")}
    tag = f"d{n}"
    root = pki.root(f"Diff Root {tag}", key_kind=kinds["root"], slot=f"root-{kinds['root']}",
                    path_len=knobs["root_pathlen"], key_ids=knobs["key_ids"],
                    **_validity(knobs["root_time"]), **_hash_kw(knobs, kinds["root"]))
    inter_ca = {"yes": True, "no": False, "absent": None}[knobs["inter_ca"]]
    inter_ku = _KU[knobs["inter_ku"]]
    if inter_ku is pki.DEFAULT:
        inter_ku = pki.CA_KU
    parent = root
    inters: list[pki.Issued] = []
    for level in range(knobs["depth"]):
        last = level == knobs["depth"] - 1
        inter = pki.make(
            f"Diff Inter {tag}.{level}", parent, key_kind=kinds["inter"],
            slot=f"inter{level}-{kinds['inter']}", ca=inter_ca if last else True,
            ku=inter_ku if last else pki.CA_KU, eku=_EKU[knobs["inter_eku"]] if last else None,
            key_ids=knobs["key_ids"], **(_validity(knobs["inter_time"]) if last else {}),
            **(_nc(knobs["nc"]) if last else {}), **_hash_kw(knobs, kinds["root"]),
        )
        inters.append(inter)
        parent = inter
    leaf_bc = {"absent": None, "ca_false": False, "ca_true": True}[knobs["leaf_bc"]]
    leaf_ku = _KU[knobs["leaf_ku"]]
    if leaf_ku is pki.DEFAULT:
        leaf_ku = pki.LEAF_KU
    leaf = pki.make(
        HOST, parent, key_kind=kinds["leaf"], slot=f"leaf-{kinds['leaf']}", ca=leaf_bc,
        ku=leaf_ku, eku=_EKU[knobs["leaf_eku"]], sans=_sans(knobs["san"]),
        key_ids=knobs["key_ids"], extra=[(ODD_EXTENSION, True)] if knobs["critical"] else [],
        **_validity(knobs["leaf_time"]), **_hash_kw(knobs, kinds["inter"]),
    )
    return Case(knobs, leaf.cert, [i.cert for i in reversed(inters)], root.cert,
                server_name=knobs["host"])


def corpus(size: int = 100, seed: int = 5280) -> list[Case]:
    rng = random.Random(seed)
    return [make_case(n, rng) for n in range(size)]


def ours(case: Case) -> str | None:
    """None when valid, else the reason code."""
    try:
        Verifier(TrustStore([case.root])).verify(
            case.leaf, case.intermediates, server_name=case.server_name, at=case.at)
    except CertificateVerificationError as exc:
        return exc.reason.value
    return None


def theirs(case: Case) -> str | None:
    """None when cryptography accepts the chain, else its error text."""
    subject: x509.DNSName | x509.IPAddress
    try:
        subject = x509.IPAddress(ipaddress.ip_address(case.server_name))
    except ValueError:
        subject = x509.DNSName(case.server_name)
    try:
        verifier = (
            cv.PolicyBuilder()
            .store(cv.Store([case.root]))
            .time(case.at)
            .build_server_verifier(subject)
        )
        verifier.verify(case.leaf, case.intermediates)
    except cv.VerificationError as exc:
        return str(exc)
    except ValueError as exc:  # e.g. keys or algorithms its policy refuses to load
        return f"ValueError: {exc}"
    return None


# (knob, value) -> (who accepts, the clause that decides). A disagreement is documented
# when one of the knobs the case changed from the baseline is listed with the right side.
DISAGREEMENTS: dict[tuple[str, Any], tuple[str, str]] = {
    ("kind", "ed25519"): ("tlskit", (
        "RFC 8410 3 / RFC 8446 4.2.3 make Ed25519 a valid certificate signature; the CA/B "
        "BR 7.1.3.2 algorithm list cryptography enforces has only RSA and ECDSA.")),
    ("inter_ku", "none"): ("tlskit", (
        "RFC 5280 4.2.1.3 / 6.1.4 (n): a CA without keyUsage is unrestricted; CA/B BR "
        "7.1.2.10.7 requires the extension on CA certificates.")),
    ("inter_eku", "any"): ("tlskit", (
        "RFC 5280 4.2.1.12: anyExtendedKeyUsage permits every purpose; CA/B BR 7.1.2.10.6 "
        "forbids it on subordinate CAs.")),
    ("host", "WWW.Example.COM."): ("tlskit", (
        "RFC 1034 3.1 / RFC 6125 7.2: a trailing dot names the same absolute domain; "
        "cryptography rejects it as a reference identifier.")),
    ("san", "wildcard"): ("cryptography", (
        "CA/B BR 7.1.4.3: the subject CN of a TLS server certificate must repeat one of its "
        "SAN entries character for character; the corpus leaf has CN www.example.com and "
        "only the SAN *.example.com. cryptography does not read the CN.")),
    ("kind", "rsa1024"): ("cryptography", (
        "CA/B BR 6.1.5: every certificate's RSA modulus must be at least 2048 bits; "
        "cryptography only checks the keys it verifies signatures with, so a weak leaf "
        "key passes there. We refuse it (Reason.weak_key).")),
    ("leaf_ku", "key_encipherment"): ("cryptography", (
        "RFC 8446 4.4.2.4: TLS 1.3 authenticates the server by a signature, so a keyUsage "
        "without digitalSignature is unusable (RFC 5280 4.2.1.3); cryptography's profile "
        "also admits keyEncipherment for TLS 1.2 RSA key exchange.")),
}


def documented_disagreement(case: Case, our: str | None, their: str | None) -> str | None:
    """The clause that explains why the verdicts differ, or None if unexplained."""
    accepter = "tlskit" if our is None else "cryptography"
    changed = [(k, v) for k, v in case.knobs.items() if k in KNOBS and v != KNOBS[k][0]]
    for knob in changed:
        entry = DISAGREEMENTS.get(knob)
        if entry and entry[0] == accepter:
            return entry[1]
    return None


CORPUS = corpus()


def test_corpus_is_varied() -> None:
    verdicts = [ours(c) for c in CORPUS]
    assert len(CORPUS) == 100
    assert sum(v is None for v in verdicts) >= 10
    assert len({v for v in verdicts if v}) >= 8


@pytest.mark.parametrize("index", range(len(CORPUS)))
def test_agrees_with_cryptography(index: int) -> None:
    case = CORPUS[index]
    our, their = ours(case), theirs(case)
    if (our is None) == (their is None):
        return
    clause = documented_disagreement(case, our, their)
    assert clause, f"unexplained disagreement: ours={our!r} theirs={their!r} {case.knobs}"


def test_documented_disagreements_do_happen() -> None:
    """Keep the list honest: each documented family shows up in the corpus."""
    seen = {
        documented_disagreement(c, ours(c), theirs(c)) for c in CORPUS
        if (ours(c) is None) != (theirs(c) is None)
    }
    seen.discard(None)
    assert len(seen) >= 3
