"""Differential test against cryptography's Rust verifier (`cryptography.x509.verification`,
pyca): a cross-check only, our verdict never depends on it.

A seeded generator builds a few thousand chains, each the baseline (a valid root ->
intermediate(s) -> leaf chain) with a few knobs turned: key types and hashes, validity,
keyUsage/EKU combinations (leaf and CA), basicConstraints and path lengths, name
constraints (DNS and IP, permitted and excluded, critical or not, on the root or the
intermediate), SAN shapes, key identifiers, trust anchors with encoding quirks,
cross-signed intermediates, and the reference name. Keys are generated once per (type,
role) and certificates are cached by the knobs that shape them, so the corpus costs a few
seconds.

Both validators judge every chain with the default policy (tlskit) and
``PolicyBuilder().build_server_verifier`` (pyca). Every disagreement must be explained by
an entry of `DISAGREEMENTS`: which side accepts, the clause that decides, and a predicate
on the knobs that says when it applies. In particular tlskit never accepts a chain pyca
rejects without such a written reason; and every entry must still happen in the corpus.
"""

from __future__ import annotations

import ipaddress
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.x509 import verification as cv
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from tlskit.x509 import CertificateVerificationError, TrustStore, Verifier

from . import pki
from .pki import DAY, NOW

HOST = "www.example.com"
ODD_EXTENSION = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.7"), b"\x05\x00")
CORPUS_SIZE = 3000
SEED = 5280

# The first value of each knob is the baseline (a valid chain); a case turns a few.
KNOBS: dict[str, list[Any]] = {
    "kind": ["ec256", "ec384", "ed25519", "rsa2048", "rsa1024", "secp256k1"],
    "hash": [None, "sha384", "sha512", "pss"],
    "leaf_time": ["ok", "expired", "future"],
    "inter_time": ["ok", "expired", "future"],
    "root_time": ["ok", "expired", "future"],
    "leaf_eku": ["server", "client", "none", "any", "server+client", "server+any",
                 "server+codesign", "critical"],
    "leaf_ku": ["default", "none", "key_encipherment", "cert_sign", "ds+ke"],
    "leaf_bc": ["absent", "ca_false", "ca_true"],
    "leaf_aki": [True, False],
    "inter_ca": ["yes", "no", "absent"],
    "inter_bc_critical": [True, False],
    "inter_ku": ["default", "none", "no_cert_sign"],
    "inter_eku": ["none", "server", "client", "any", "server+client"],
    "inter_pathlen": [None, 0, 1],
    "root_pathlen": [None, 0, 1, 2],
    "depth": [1, 0, 2, 3],
    "nc": ["none", "permit_ok", "permit_bad", "exclude_hit", "exclude_other", "permit_ip_ok",
           "permit_ip_bad", "exclude_ip", "permit_parent"],
    "nc_on": ["inter", "root"],
    "nc_critical": [True, False],
    "san": ["host", "wildcard", "other", "none", "ip", "critical", "host+other"],
    "cn": ["host", "other", "absent"],
    "critical_ext": [False, True],
    "key_ids": [True, False],
    "root_quirk": ["none", "bc_noncritical", "no_ski", "aki_mismatch", "eku_server",
                   "eku_client", "ku_no_cert_sign", "no_ku", "ski_critical", "aki_critical"],
    "cross": ["none", "only_cross_root", "both_roots", "expired_cross"],
    "host": [HOST, "WWW.Example.COM.", "other.example.com", "192.0.2.1", "a.www.example.com"],
}


@dataclass
class Case:
    knobs: dict[str, Any]
    leaf: x509.Certificate
    intermediates: list[x509.Certificate]
    roots: list[x509.Certificate]
    server_name: str = HOST
    at: datetime = NOW

    def turned(self) -> dict[str, Any]:
        return {k: v for k, v in self.knobs.items() if k in KNOBS and v != KNOBS[k][0]}


def _validity(choice: str) -> dict[str, Any]:
    if choice == "expired":
        return {"not_before": NOW - 100 * DAY, "not_after": NOW - DAY}
    if choice == "future":
        return {"not_before": NOW + DAY, "not_after": NOW + 100 * DAY}
    return {}


_KU: dict[str, Any] = {
    "default": pki.DEFAULT, "none": None, "key_encipherment": {"key_encipherment": True},
    "cert_sign": {"key_cert_sign": True, "digital_signature": True},
    "no_cert_sign": {"digital_signature": True, "crl_sign": True},
    "ds+ke": {"digital_signature": True, "key_encipherment": True},
}
_EKU: dict[str, list[ObjectIdentifier] | None] = {
    "server": [pki.SERVER_AUTH], "client": [pki.CLIENT_AUTH], "none": None,
    "any": [pki.ANY_EKU], "server+client": [pki.SERVER_AUTH, pki.CLIENT_AUTH],
    "server+any": [pki.SERVER_AUTH, pki.ANY_EKU],
    "server+codesign": [pki.SERVER_AUTH, ExtendedKeyUsageOID.CODE_SIGNING],
}
_SANS: dict[str, list[str] | None] = {
    "host": [HOST], "wildcard": ["*.example.com"], "other": ["www.example.net"],
    "none": None, "ip": [HOST, "192.0.2.1"], "critical": [HOST],
    "host+other": ["www.example.net", HOST],
}
_NC: dict[str, tuple[list[str] | None, list[str] | None]] = {
    "none": (None, None), "permit_ok": (["example.com"], None),
    "permit_bad": (["example.net"], None), "exclude_hit": (None, [HOST]),
    "exclude_other": (None, ["secret.example.com"]),
    "permit_ip_ok": (["example.com", "ip:192.0.2.0/24"], None),
    "permit_ip_bad": (["example.com", "ip:10.0.0.0/8"], None),
    "exclude_ip": (None, ["ip:192.0.2.0/24"]),
    "permit_parent": (["com"], None),
}


def _hash_kw(knobs: dict[str, Any], signer_kind: str) -> dict[str, Any]:
    h = knobs["hash"]
    if h == "pss":
        return {"pss": True} if signer_kind.startswith("rsa") else {}
    return {"hash_name": h}


def _nc_kw(knobs: dict[str, Any], where: str) -> dict[str, Any]:
    permitted, excluded = _NC[knobs["nc"]]
    if knobs["nc_on"] != where or (permitted is None and excluded is None):
        return {}
    if knobs["nc_critical"]:
        return {"permitted": permitted, "excluded": excluded}
    nc = x509.NameConstraints(
        [pki.general_name(s) for s in permitted] if permitted is not None else None,
        [pki.general_name(s) for s in excluded] if excluded is not None else None)
    return {"extra": [(nc, False)]}


def _kinds(knobs: dict[str, Any]) -> dict[str, str]:
    """Only one certificate (``weak_at``) gets a weak key type; the rest stay strong so
    the weak key is the only thing under test."""
    kind = knobs["kind"]
    weak = kind in ("rsa1024", "secp256k1")
    return {p: (kind if (not weak or p == knobs["weak_at"]) else "ec256")
            for p in ("root", "inter", "leaf")}


_ROOT_KNOBS = ("kind", "weak_at", "hash", "root_time", "root_pathlen", "key_ids",
               "root_quirk", "nc", "nc_on", "nc_critical")


@cache
def _root(frozen: tuple[Any, ...], label: str = "A") -> pki.Issued:
    knobs = dict(zip(_ROOT_KNOBS, frozen, strict=True))
    kind = _kinds(knobs)["root"]
    quirk = knobs["root_quirk"]
    kw: dict[str, Any] = {"key_kind": kind, "slot": f"root{label}-{kind}",
                          "path_len": knobs["root_pathlen"], "key_ids": knobs["key_ids"]}
    kw.update(_validity(knobs["root_time"]))
    kw.update(_hash_kw(knobs, kind))
    extra = list(_nc_kw(knobs, "root").pop("extra", []))
    kw.update({k: v for k, v in _nc_kw(knobs, "root").items() if k != "extra"})
    if quirk == "bc_noncritical":
        kw["bc_critical"] = False
    elif quirk == "no_ski":
        kw["key_ids"] = False
    elif quirk == "aki_mismatch":
        extra.append((x509.AuthorityKeyIdentifier(b"\x01" * 20, None, None), False))
    elif quirk in ("eku_server", "eku_client"):
        kw["eku"] = [pki.SERVER_AUTH if quirk == "eku_server" else pki.CLIENT_AUTH]
    elif quirk in ("ski_critical", "aki_critical"):
        kw["key_ids"] = False
        public = pki.key(kind, f"root{label}-{kind}").public_key()
        extra.append((x509.SubjectKeyIdentifier.from_public_key(public),
                      quirk == "ski_critical"))
        extra.append((x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                      quirk == "aki_critical"))
    elif quirk == "ku_no_cert_sign":
        kw["ku"] = {"digital_signature": True, "crl_sign": True}
    elif quirk == "no_ku":
        kw["ku"] = None
    return pki.root(f"Diff Root {label} {abs(hash(frozen)) % 10**8}", extra=extra, **kw)


_INTER_KNOBS = ("inter_ca", "inter_bc_critical", "inter_ku", "inter_eku", "inter_pathlen",
                "inter_time", "depth", "cross")


@cache
def _inters(root_frozen: tuple[Any, ...], frozen: tuple[Any, ...]) -> tuple[pki.Issued, ...]:
    """The intermediates, top first; the last one issues the leaf and carries the knobs."""
    knobs = dict(zip(_ROOT_KNOBS, root_frozen, strict=True))
    knobs.update(zip(_INTER_KNOBS, frozen, strict=True))
    kind = _kinds(knobs)["inter"]
    parent = _root(root_frozen)
    tag = abs(hash((root_frozen, frozen))) % 10**8
    out: list[pki.Issued] = []
    for level in range(knobs["depth"]):
        last = level == knobs["depth"] - 1
        kw: dict[str, Any] = {"key_kind": kind, "slot": f"inter{level}-{kind}",
                              "key_ids": knobs["key_ids"]}
        kw.update(_hash_kw(knobs, _kinds(knobs)["root"] if level == 0 else kind))
        if last:
            ku = _KU[knobs["inter_ku"]]
            kw.update(ca={"yes": True, "no": False, "absent": None}[knobs["inter_ca"]],
                      ku=pki.CA_KU if ku is pki.DEFAULT else ku, eku=_EKU[knobs["inter_eku"]],
                      path_len=knobs["inter_pathlen"] if knobs["inter_ca"] == "yes" else None,
                      bc_critical=knobs["inter_bc_critical"], **_validity(knobs["inter_time"]))
            kw.update(_nc_kw(knobs, "inter"))
        parent = pki.intermediate(f"Diff Inter {tag}.{level}", parent, **kw)
        out.append(parent)
    return tuple(out)


@cache
def _other_root(kind: str) -> pki.Issued:
    return pki.root(f"Diff Other Root {kind}", key_kind=kind, slot=f"rootB-{kind}")


def _cross(case_knobs: dict[str, Any], top: pki.Issued) -> list[x509.Certificate]:
    """``top`` (the first intermediate) re-issued by another root: same name and key."""
    other = _other_root("ec256")
    validity = _validity("expired") if case_knobs["cross"] == "expired_cross" else {}
    return [pki.cross_sign(top, other, key_ids=case_knobs["key_ids"], **validity).cert]


def _leaf(knobs: dict[str, Any], issuer: pki.Issued, n: int) -> x509.Certificate:
    kind = _kinds(knobs)["leaf"]
    eku_choice = knobs["leaf_eku"]
    extra: list[tuple[x509.ExtensionType, bool]] = []
    eku = _EKU.get(eku_choice)
    if eku_choice == "critical":
        extra.append((x509.ExtendedKeyUsage([pki.SERVER_AUTH]), True))
    sans = _SANS[knobs["san"]]
    if knobs["san"] == "critical":
        extra.append((x509.SubjectAlternativeName([x509.DNSName(HOST)]), True))
        sans = None
    if knobs["critical_ext"]:
        extra.append((ODD_EXTENSION, True))
    if not knobs["leaf_aki"] and knobs["key_ids"]:
        extra.append((x509.SubjectKeyIdentifier.from_public_key(
            pki.key(kind, f"leaf-{kind}").public_key()), False))
    ku = _KU[knobs["leaf_ku"]]
    cn = {"host": HOST, "other": "cn.example.org", "absent": None}[knobs["cn"]]
    subject = pki.name(cn) if cn else x509.Name([x509.NameAttribute(
        x509.oid.NameOID.ORGANIZATION_NAME, "Diff Leaf")])
    return pki.make(
        HOST, issuer, key_kind=kind, slot=f"leaf-{kind}", subject=subject,
        ca={"absent": None, "ca_false": False, "ca_true": True}[knobs["leaf_bc"]],
        ku=pki.LEAF_KU if ku is pki.DEFAULT else ku, eku=eku, sans=sans,
        key_ids=knobs["key_ids"] and knobs["leaf_aki"], extra=extra, serial=n + 1,
        **_validity(knobs["leaf_time"]), **_hash_kw(knobs, _kinds(knobs)["inter"]),
    ).cert


def make_case(n: int, rng: random.Random) -> Case:
    knobs = {k: v[0] for k, v in KNOBS.items()}
    for knob in rng.sample(sorted(KNOBS), rng.choice([0, 1, 1, 2, 2, 2, 3, 3, 4])):
        knobs[knob] = rng.choice(KNOBS[knob][1:])
    if knobs["kind"].startswith("rsa") and rng.random() < 0.7:
        knobs["kind"] = "ec256"  # RSA signing is slow: keep it to a sample
    knobs["weak_at"] = rng.choice(["leaf", "inter", "root"])
    root_frozen = tuple(knobs[k] for k in _ROOT_KNOBS)
    inters = list(_inters(root_frozen, tuple(knobs[k] for k in _INTER_KNOBS)))
    root = _root(root_frozen)
    leaf = _leaf(knobs, inters[-1] if inters else root, n)
    sent = [i.cert for i in reversed(inters)]
    roots = [root.cert]
    if knobs["cross"] != "none" and inters:
        sent += _cross(knobs, inters[0])
        if knobs["cross"] in ("only_cross_root", "expired_cross"):
            roots = [_other_root("ec256").cert]
        else:
            roots.append(_other_root("ec256").cert)
    return Case(knobs, leaf, sent, roots, server_name=knobs["host"])


@cache
def corpus(size: int = CORPUS_SIZE, seed: int = SEED) -> tuple[Case, ...]:
    rng = random.Random(seed)
    return tuple(make_case(n, rng) for n in range(size))


def ours(case: Case) -> str | None:
    """None when valid, else the reason code."""
    try:
        Verifier(TrustStore(case.roots)).verify(
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
        verifier = (cv.PolicyBuilder().store(cv.Store(case.roots)).time(case.at)
                    .build_server_verifier(subject))
        verifier.verify(case.leaf, case.intermediates)
    except cv.VerificationError as exc:
        return str(exc)
    except ValueError as exc:  # e.g. a reference name its policy refuses
        return f"ValueError: {exc}"
    return None


Predicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Disagreement:
    """``accepter`` accepts, the other side rejects; ``when`` says which chains the entry
    is about, and ``evidence`` pins the rejection to it: words in the other validator's
    error when tlskit accepts, tlskit's reason code when the other accepts. Both must
    match."""

    accepter: str  # "tlskit" or the other validator ("pyca", "go")
    clause: str
    when: Predicate
    evidence: str


def _normalized(pyca_error: str) -> str:
    """pyca's error in one wording: cryptography 51 writes "keyUsage (2.5.29.15): ..."
    where earlier versions wrote "2.5.29.15: ..."."""
    return re.sub(r"\w+ \((\d+(?:\.\d+)+)\): ", r"\1: ", pyca_error)


def _is(knob: str, *values: Any) -> Predicate:
    return lambda k: k[knob] in values


def _all(*predicates: Predicate) -> Predicate:
    return lambda k: all(p(k) for p in predicates)


def _weak_leaf_key(k: dict[str, Any]) -> bool:
    return k["kind"] in ("rsa1024", "secp256k1") and k["weak_at"] == "leaf"


# Every place the two validators differ. tlskit-accepts entries are where pyca enforces an
# issuance rule (CA/B BRs, RFC 5280 section 4 MUSTs on CAs) that the default policy leaves
# to the lint; pyca-accepts entries are where tlskit is stricter for a cited clause.
DISAGREEMENTS: dict[str, Disagreement] = {
    "ed25519": Disagreement("tlskit", (
        "RFC 8410 3 / RFC 8446 4.2.3: Ed25519 is a valid certificate signature; pyca's "
        "policy follows the CA/B BR 7.1.3.2 list (RSA and ECDSA only)."),
        _is("kind", "ed25519"),
        "Forbidden public key algorithm"),
    "ca-without-key-usage": Disagreement("tlskit", (
        "RFC 5280 4.2.1.3 / 6.1.4 (n): a CA without keyUsage is unrestricted; pyca enforces "
        "CA/B BR 7.1.2.10.7 (keyUsage required on CAs), which the lint reports."),
        lambda k: (k["inter_ku"] == "none" and k["depth"] > 0) or k["root_quirk"] == "no_ku",
        "2.5.29.15: Certificate is missing required extension"),
    "trailing-dot": Disagreement("tlskit", (
        "RFC 1034 3.1 / RFC 6125 6.2.1: a trailing dot names the same absolute domain; pyca "
        "refuses it as a reference identifier."),
        _is("host", "WWW.Example.COM."),
        "invalid domain name"),
    "leaf-without-aki": Disagreement("tlskit", (
        "RFC 5280 4.2.1.1 puts the authorityKeyIdentifier MUST on conforming CAs; path "
        "validation (RFC 5280 6) never reads it, and OpenSSL, Go, webpki and browsers "
        "accept a leaf without it. pyca requires it; the lint reports it."),
        lambda k: not k["leaf_aki"] or not k["key_ids"],
        "2.5.29.35: Certificate is missing required extension"),
    "leaf-eku-critical": Disagreement("tlskit", (
        "RFC 5280 4.2.1.12: the EKU 'MAY be either critical or non-critical'; pyca applies "
        "CA/B BR 7.1.2.7.6 (non-critical), which the lint reports."),
        _is("leaf_eku", "critical"),
        "2.5.29.37: Certificate extension has incorrect criticality"),
    "leaf-san-critical": Disagreement("tlskit", (
        "RFC 5280 4.2.1.6 only says CAs SHOULD mark the SAN non-critical beside a subject "
        "(trustme's leaves mark it critical); pyca applies CA/B BR 7.1.2.7.12, which the "
        "lint reports."),
        _is("san", "critical"),
        "subjectAltName MUST NOT be critical"),
    "ca-basic-constraints-not-critical": Disagreement("tlskit", (
        "RFC 5280 4.2.1.9 tells the CA to mark basicConstraints critical; path validation "
        "(6.1.4 (k)) reads only cA, and OpenSSL (without -x509_strict), Go and the "
        "browsers accept a non-critical one. pyca applies the issuance rule, which the "
        "lint reports and profile \"cabf\" enforces."),
        lambda k: not k["inter_bc_critical"] and k["depth"] > 0,
        "2.5.29.19: Certificate extension has incorrect criticality"),
    "anchor-encoding": Disagreement("tlskit", (
        "RFC 5280 6.1.1 (d): a trust anchor is input to path validation; the criticality "
        "of the user's root's basicConstraints is not judged, as OpenSSL (without "
        "-x509_strict) and Go take anchors. pyca checks it; the lint reports it. (A "
        "critical key identifier is refused in every role, anchors included, as by pyca "
        "and OpenSSL.)"),
        _is("root_quirk", "bc_noncritical"),
        "Certificate extension has incorrect criticality"),
    "weak-leaf-key": Disagreement("pyca", (
        "CA/B BR 6.1.5 and RFC 8446 4.2.3: tlskit accepts RSA keys of 2048 bits and more and "
        "only the P-256/P-384/P-521 curves in every certificate (Reason.weak_key); pyca "
        "judges only the keys it verifies signatures with, so a weak leaf key passes there."),
        _weak_leaf_key,
        "weak_key"),
    "leaf-key-encipherment": Disagreement("pyca", (
        "RFC 8446 4.4.2.4: TLS 1.3 authenticates the server by a signature, so a keyUsage "
        "without digitalSignature cannot serve a TLS 1.3 handshake (RFC 5280 4.2.1.3); pyca "
        "also admits keyEncipherment for TLS 1.2 RSA key exchange."),
        _is("leaf_ku", "key_encipherment"),
        "key_usage"),
}


def explanation(case: Case, our: str | None, their: str | None,
                table: dict[str, Disagreement] | None = None,
                oracle: str = "pyca") -> str | None:
    """The name of the entry of ``table`` (default `DISAGREEMENTS`) that explains why
    tlskit's verdict and ``oracle``'s differ, or None."""
    accepter = "tlskit" if our is None else oracle
    rejection = their if our is None else our
    assert rejection is not None
    for name, entry in (DISAGREEMENTS if table is None else table).items():
        if (entry.accepter == accepter and entry.when(case.knobs)
                and entry.evidence in _normalized(rejection)):
            return name
    return None


Verdicts = tuple[tuple[Case, str | None, str | None], ...]


def unexplained(results: Verdicts, table: dict[str, Disagreement], oracle: str) -> list[str]:
    """The cases where tlskit and ``oracle`` differ and no entry of ``table`` says why."""
    return [f"ours={our!r} {oracle}={their!r} turned={case.turned()}"
            for case, our, their in results
            if (our is None) != (their is None)
            and explanation(case, our, their, table, oracle) is None]


def explained(results: Verdicts, table: dict[str, Disagreement], oracle: str) -> Counter[str]:
    """How many disagreements each entry of ``table`` explains."""
    return Counter(name for case, our, their in results if (our is None) != (their is None)
                   if (name := explanation(case, our, their, table, oracle)) is not None)


@cache
def verdicts() -> Verdicts:
    return tuple((case, ours(case), theirs(case)) for case in corpus())


def test_corpus_is_varied() -> None:
    results = verdicts()
    assert len(results) == CORPUS_SIZE
    ours_valid = sum(our is None for _, our, _ in results)
    assert CORPUS_SIZE // 10 < ours_valid < CORPUS_SIZE * 9 // 10
    reasons = Counter(our for _, our, _ in results if our)
    assert len(reasons) >= 10, reasons
    turned = Counter(k for case, _, _ in results for k in case.turned())
    assert set(turned) >= set(KNOBS) - {"nc_on", "nc_critical"}, turned


def test_agrees_with_pyca_except_where_written_down() -> None:
    """Every disagreement has a written reason; tlskit never accepts what pyca rejects
    without one."""
    left = unexplained(verdicts(), DISAGREEMENTS, "pyca")
    assert not left, f"{len(left)} unexplained:\n" + "\n".join(left[:20])


def test_every_written_disagreement_happens() -> None:
    """Keep the list honest: each entry explains at least one case of the corpus."""
    seen = explained(verdicts(), DISAGREEMENTS, "pyca")
    assert set(DISAGREEMENTS) <= set(seen), set(DISAGREEMENTS) - set(seen)


def test_cabf_profile_is_never_more_lenient_than_the_default() -> None:
    """The "cabf" profile only adds failures to the default policy."""
    for case, our, _ in verdicts()[:600]:
        if our is None:
            continue
        try:
            Verifier(TrustStore(case.roots), profile="cabf").verify(
                case.leaf, case.intermediates, server_name=case.server_name, at=case.at)
        except CertificateVerificationError:
            continue
        raise AssertionError(f"cabf accepted what the default rejects: {case.turned()}")
