"""Rebuild x509-limbo's testcases from their published ids and descriptions.

Every function below is one upstream testcase, named by its id, with its expected result.
The constructions follow the upstream descriptions and defaults (facts about the corpus:
a P-256 root with a critical basicConstraints, keyCertSign, a SAN and an SKI; EE certs
for example.com with serverAuth and digitalSignature; validity from 1970 to 2969); the
code that builds them is ours. Keys are fresh per run, so nothing here depends on
upstream bytes: `vendored.json` holds the upstream bytes we carry.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from .. import pki

EPOCH = datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
FAR = datetime(2969, 5, 3, 0, 0, 1, tzinfo=UTC)
SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
ANY_EKU = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE
UNKNOWN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.55738.666.1")
OTHERNAME_OID = x509.ObjectIdentifier("1.3.6.1.4.1.55738.666.3")
PRECERT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.4")

Key = Any  # any signing key cryptography's builder takes
Ext = tuple[x509.ExtensionType, bool]
DEFAULT: Any = object()


@dataclass
class Pair:
    cert: x509.Certificate
    key: Key


@dataclass
class Case:
    """One testcase: the corpus's fields, as objects. ``peer`` is None when the peer
    certificate cannot even be loaded (which counts as a rejection)."""

    id: str
    expected: str  # "SUCCESS" or "FAILURE"
    trusted: list[x509.Certificate]
    intermediates: list[x509.Certificate]
    peer: x509.Certificate | None
    peer_name: tuple[str, str] | None = ("DNS", "example.com")
    at: datetime | None = None
    kind: str = "SERVER"
    max_depth: int | None = None
    features: list[str] = field(default_factory=list)


def name(text: str) -> x509.Name:
    return x509.Name.from_rfc4514_string(text)


def ku(**flags: bool) -> x509.KeyUsage:
    """KeyUsage with exactly ``flags`` set."""
    return pki._key_usage(flags)


CA_KU = ku(key_cert_sign=True)
EE_KU = ku(digital_signature=True)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@cache
def slow_key(kind: str) -> Key:
    """Keys that are slow to make, shared by the cases that need one."""
    if kind.startswith("rsa"):
        return rsa.generate_private_key(65537, int(kind[3:]))
    if kind == "dsa":
        return dsa.generate_private_key(2048)
    if kind == "p192":
        return ec.generate_private_key(ec.SECP192R1())
    raise ValueError(kind)


def san(*names_: str | x509.GeneralName) -> x509.SubjectAlternativeName:
    out: list[x509.GeneralName] = []
    for n in names_:
        if isinstance(n, str):
            try:
                out.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                out.append(x509.DNSName(n))
        else:
            out.append(n)
    return x509.SubjectAlternativeName(out)


def nc(permitted: Sequence[x509.GeneralName] | None = None,
       excluded: Sequence[x509.GeneralName] | None = None) -> x509.NameConstraints:
    return x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=excluded)


def _hash_for(key: Key) -> hashes.HashAlgorithm | None:
    if isinstance(key, ed25519.Ed25519PrivateKey) or type(key).__name__.startswith("MLDSA"):
        return None
    return hashes.SHA256()


def _pick(value: Any, default: Ext | None) -> Ext | None:
    return default if value is DEFAULT else value


def issue(
    subject: x509.Name,
    issuer: Pair | None,
    *,
    key: Key | None = None,
    issuer_name: x509.Name | None = None,
    serial: int | None = None,
    not_before: datetime = EPOCH,
    not_after: datetime = FAR,
    exts: Sequence[Ext | None] = (),
    unchecked: Sequence[Ext] = (),
) -> Pair:
    """Sign one certificate; ``unchecked`` extensions skip the builder's duplicate check."""
    key = key if key is not None else ec_key()
    signer = issuer.key if issuer is not None else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name if issuer_name is not None
                     else issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for ext in exts:
        if ext is not None:
            builder = builder.add_extension(ext[0], ext[1])
    if unchecked:
        builder._extensions = [  # type: ignore[attr-defined]
            *builder._extensions,  # type: ignore[attr-defined]
            *(x509.Extension(value.oid, critical, value) for value, critical in unchecked),
        ]
    return Pair(builder.sign(signer, _hash_for(signer)), key)


def root(**options: Any) -> Pair:
    """A self-issued root (upstream defaults: critical cA, keyCertSign, SAN, SKI); takes
    `ca`'s options."""
    issuer_name = options.pop("issuer_name", None) or name("CN=x509-limbo-root")
    if options.get("subject") is None:
        options["subject"] = issuer_name
    options.setdefault("aki", None)
    return ca(None, None, issuer_name=issuer_name, **options)


def intermediate(parent: Pair, pathlen: int | None = None, **options: Any) -> Pair:
    """A CA under ``parent``; the default subject carries the parent's serial so that two
    intermediates never chain to each other by accident (as upstream). Takes `ca`'s
    options."""
    if options.get("subject") is None:
        options["subject"] = name(
            f"CN=x509-limbo-intermediate-pathlen-{pathlen},OU={parent.cert.serial_number}")
    return ca(parent, pathlen, **options)


def ca(
    parent: Pair | None,
    pathlen: int | None,
    *,
    subject: x509.Name,
    issuer_name: x509.Name | None = None,
    key: Key | None = None,
    bc: Any = DEFAULT,
    key_usage: Any = DEFAULT,
    alt: Any = DEFAULT,
    aki: Any = DEFAULT,
    ski: Any = DEFAULT,
    constraints: Any = None,
    extra: Sequence[Ext] = (),
    not_before: datetime = EPOCH,
    not_after: datetime = FAR,
) -> Pair:
    """A CA certificate under ``parent`` (self-issued when None): each extension takes
    upstream's default unless given (None leaves it out)."""
    key = key if key is not None else ec_key()
    default_aki = None if parent is None else (
        x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), False)
    exts = [
        _pick(bc, (x509.BasicConstraints(True, pathlen), True)),
        _pick(key_usage, (CA_KU, False)),
        _pick(alt, (san("example.com"), False)),
        _pick(aki, default_aki),
        _pick(ski, (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)),
        constraints,
        *extra,
    ]
    return issue(subject, parent, key=key, issuer_name=issuer_name, exts=exts,
                 not_before=not_before, not_after=not_after)


def leaf(
    parent: Pair,
    *,
    subject: x509.Name | None = DEFAULT,
    issuer_name: x509.Name | None = None,
    key: Key | None = None,
    serial: int | None = None,
    bc: Any = None,
    key_usage: Any = DEFAULT,
    eku: Any = DEFAULT,
    alt: Any = DEFAULT,
    aki: Any = DEFAULT,
    extra: Sequence[Ext] = (),
    unchecked: Sequence[Ext] = (),
    not_before: datetime = EPOCH,
    not_after: datetime = FAR,
) -> Pair:
    """An end-entity certificate for example.com (upstream defaults: SKI, AKI,
    digitalSignature, serverAuth, SAN example.com, no basicConstraints)."""
    key = key if key is not None else ec_key()
    subject = name("CN=example.com") if subject is DEFAULT else (subject or x509.Name([]))
    exts = [
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        bc,
        _pick(aki, (x509.AuthorityKeyIdentifier.from_issuer_public_key(
            parent.key.public_key()), False)),
        _pick(key_usage, (EE_KU, False)),
        _pick(eku, (x509.ExtendedKeyUsage([SERVER_AUTH]), False)),
        _pick(alt, (san("example.com"), False)),
        *extra,
    ]
    return issue(subject, parent, key=key, issuer_name=issuer_name, serial=serial, exts=exts,
                 unchecked=unchecked, not_before=not_before, not_after=not_after)


# ---------------------------------------------------------------------------------------
# Raw DER for encodings cryptography's builder refuses to produce.


def der(tag: int, body: bytes) -> bytes:
    return pki._der(tag, body)


def raw(oid: x509.ObjectIdentifier, body: bytes) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(oid, body)


def raw_dns(value: str) -> bytes:
    return der(0x82, value.encode("utf-8"))


def raw_email(value: str) -> bytes:
    return der(0x81, value.encode("utf-8"))


def raw_ip(value: bytes) -> bytes:
    return der(0x87, value)


def raw_san(*general_names: bytes) -> x509.UnrecognizedExtension:
    return raw(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, der(0x30, b"".join(general_names)))


def raw_nc(permitted: Sequence[bytes] | None, excluded: Sequence[bytes] | None = None
           ) -> x509.UnrecognizedExtension:
    body = b""
    if permitted is not None:
        body += der(0xA0, b"".join(der(0x30, g) for g in permitted))
    if excluded is not None:
        body += der(0xA1, b"".join(der(0x30, g) for g in excluded))
    return raw(ExtensionOID.NAME_CONSTRAINTS, der(0x30, body))


def rebuild(pair: Pair, issuer: Pair, edit: Callable[[list[bytes]], list[bytes]]) -> Pair:
    """Edit the TBS elements of an EC-issued certificate and re-sign it (see pki.rebuild)."""
    return Pair(pki.rebuild(pki.Issued(pair.cert, pair.key), pki.Issued(issuer.cert, issuer.key),
                            edit), pair.key)


def with_outer_algorithm(pair: Pair, algorithm: bytes) -> x509.Certificate:
    """The same certificate with another outer signatureAlgorithm (the TBS and signature
    untouched): RFC 5280 4.1.1.2 says the two must be equal."""
    items = pki.der_elements(pki.der_body(pair.cert.public_bytes(serialization.Encoding.DER)))
    return x509.load_der_x509_certificate(der(0x30, items[0] + algorithm + items[2]))


ECDSA_SHA384 = bytes.fromhex("300a06082a8648ce3d040303")


# ---------------------------------------------------------------------------------------
# The catalogue.

CASES: dict[str, Callable[[], Case]] = {}


def testcase(case_id: str, expected: str, **meta: Any) -> Callable[
    [Callable[[], Case]], Callable[[], Case]
]:
    def register(fn: Callable[[], Case]) -> Callable[[], Case]:
        def make() -> Case:
            case = fn()
            case.id, case.expected = case_id, expected
            for k, v in meta.items():
                setattr(case, k, v)
            return case
        CASES[case_id] = make
        return fn
    return register


def simple(trusted: Pair | Sequence[Pair], peer: Pair | x509.Certificate | None,
           intermediates: Sequence[Pair] = (), **kw: Any) -> Case:
    anchors = [trusted] if isinstance(trusted, Pair) else list(trusted)
    cert = peer.cert if isinstance(peer, Pair) else peer
    return Case("", "", [a.cert for a in anchors], [i.cert for i in intermediates], cert, **kw)


def _register_all() -> None:
    from . import catalogue  # noqa: F401  (importing registers every case)


def build_all() -> list[Case]:
    _register_all()
    return [make() for make in CASES.values()]
