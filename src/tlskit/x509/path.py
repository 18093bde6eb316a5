"""Certificate path building and the RFC 5280 section 6 checks.

The module has three layers, each usable on its own:

1. `analyze` turns a certificate into a `CertInfo`: every extension parsed once, every
   path-independent defect (malformed encoding, unknown critical extension, weak key,
   weak signature algorithm) found once. Infos are cached by DER, so a validator that
   sees the same intermediates on every handshake parses them once.
2. Check generators (`cert_checks`, `link_check`, `path_checks`) yield `Outcome`s. The
   validator stops at the first failure; ``explain`` drains them all for the report. One
   code path decides both, so the report can never disagree with the verdict.
3. `PathBuilder` searches depth first from the leaf towards any trust anchor, pruning a
   branch as soon as a certificate on it fails, backtracking to alternatives (cross-signs,
   re-issued intermediates), and keeping the most relevant failure for the error.

Decisions (each one is a place where RFC 5280 leaves room or the Web PKI is stricter):

* Trust anchors are certificates. Their own self-signature is never checked, but their
  validity period, key strength, basicConstraints (if present), keyUsage, EKU,
  pathLenConstraint and nameConstraints are enforced (RFC 5937 style), since a root that
  says it is not a CA or has expired should not be trusted to vouch for anything.
* A leaf whose exact DER is in the trust store is accepted as a one-certificate path
  (RFC 5280 6.1 allows the target to be a trust anchor); all leaf checks still apply.
* Name constraints cover dNSName, iPAddress, rfc822Name, uniformResourceIdentifier and
  directoryName. A constraint on any other name form rejects a certificate below it that
  carries that form (RFC 5280 4.2.1.10: "process the constraint or reject"). The subject
  CN of the leaf is checked as a dNSName only when it looks like one and there is no SAN.
* Certificate policies are recognised (so a critical policy extension is not "unknown")
  but not processed: the user-initial-policy-set is any-policy and explicit policy is not
  required, as in every browser.
* Path length counts non-self-issued intermediates (RFC 5280 6.1.4 (l)); ``max_depth``
  bounds the number of intermediates between leaf and anchor.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import (
    ExtendedKeyUsageOID,
    ExtensionOID,
    NameOID,
    SignatureAlgorithmOID,
)

from . import names
from .errors import Reason, describe
from .trust import TrustStore

Role = Literal["leaf", "intermediate", "anchor", "leaf-anchor"]
Usage = Literal["server", "client"]

# Extensions we understand well enough to accept when marked critical.
KNOWN_EXTENSIONS = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.POLICY_CONSTRAINTS,
        ExtensionOID.POLICY_MAPPINGS,
        ExtensionOID.INHIBIT_ANY_POLICY,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    }
)

_ACCEPTED_SIGNATURES = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
        SignatureAlgorithmOID.ED25519,
        SignatureAlgorithmOID.ED448,
    }
)
_PSS_HASHES = frozenset({"sha256", "sha384", "sha512"})
_ACCEPTED_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
MIN_RSA_BITS = 2048

_USAGE_OIDS = {
    "server": ExtendedKeyUsageOID.SERVER_AUTH,
    "client": ExtendedKeyUsageOID.CLIENT_AUTH,
}

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """A small thread-safe LRU map; caches here must not grow without bound on hostile input."""

    def __init__(self, maxsize: int) -> None:
        self._data: OrderedDict[K, V] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


# ---------------------------------------------------------------------------------------
# Layer 1: what a certificate says, parsed once.


@dataclass(slots=True, eq=False)
class CertInfo:
    """Everything the checks need from one certificate. Fields are None when absent.
    Treated as immutable once built (it is shared through the cache)."""

    cert: x509.Certificate
    fingerprint: bytes
    subject: x509.Name
    issuer: x509.Name
    self_issued: bool
    loop_key: tuple[bytes, bytes]
    key_id: bytes  # SHA-256 of the SubjectPublicKeyInfo: what a signature really depends on
    dns_label: str | None
    not_before: datetime
    not_after: datetime
    public_key: CertificatePublicKeyTypes | None
    key_desc: str
    malformed: str | None = None
    unhandled_critical: tuple[str, ...] = ()
    weak_key: str | None = None
    weak_signature: str | None = None
    ca: bool | None = None
    path_len: int | None = None
    key_usage: x509.KeyUsage | None = None
    eku: frozenset[x509.ObjectIdentifier] | None = None
    name_constraints: x509.NameConstraints | None = None
    san: tuple[x509.GeneralName, ...] | None = None
    ski: bytes | None = None
    aki: bytes | None = None
    _description: str | None = None
    # Timeless check verdicts by (role, usage, require_digital_signature); see cert_failure.
    verdicts: dict[tuple[str, str, bool], Outcome | None] = field(default_factory=dict)

    @property
    def description(self) -> str:
        """describe(cert), computed on first use: only messages and reports need it."""
        if self._description is None:
            self._description = describe(self.cert)
        return self._description

    def label(self, role: Role) -> str:
        """How a message names this certificate: the leaf by its host name when it has one
        (that is what the user typed), CAs by subject, issuer and serial."""
        if role in ("leaf", "leaf-anchor") and self.dns_label:
            return f"certificate for {self.dns_label}"
        if role in ("leaf", "leaf-anchor"):
            return f"certificate {self.description}"
        if role == "anchor":
            return f"trust anchor {self.description}"
        return f"intermediate certificate {self.description}"

    @property
    def san_dns(self) -> list[str]:
        return [n.value for n in self.san or () if isinstance(n, x509.DNSName)]

    @property
    def san_ips(self) -> list[names.IPAddress]:
        out: list[names.IPAddress] = []
        for n in self.san or ():
            if isinstance(n, x509.IPAddress) and isinstance(
                n.value, ipaddress.IPv4Address | ipaddress.IPv6Address
            ):
                out.append(n.value)
        return out


def oid_name(oid: x509.ObjectIdentifier) -> str:
    """The OID's short name when cryptography knows one, else its dotted form."""
    known = getattr(oid, "_name", "Unknown OID")
    return oid.dotted_string if known == "Unknown OID" else str(known)


def _key_description(key: CertificatePublicKeyTypes) -> tuple[str, str | None]:
    """(words for the key, weakness or None): RSA below 2048 bits, curves other than the
    three NIST curves TLS 1.3 signs with, and DSA are refused (CA/B BR 6.1.5)."""
    if isinstance(key, rsa.RSAPublicKey):
        desc = f"RSA {key.key_size} bits"
        if key.key_size < MIN_RSA_BITS:
            return desc, f"{desc} (minimum is {MIN_RSA_BITS})"
        return desc, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        desc = f"EC {key.curve.name}"
        if key.curve.name not in _ACCEPTED_CURVES:
            return desc, f"{desc} (only P-256, P-384 and P-521 are accepted)"
        return desc, None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", None
    name = type(key).__name__
    return name, f"{name} keys are not accepted"


def _signature_weakness(cert: x509.Certificate) -> str | None:
    """Only SHA-2 RSA/ECDSA, RSA-PSS with SHA-2, Ed25519 and Ed448 are accepted; SHA-1, MD5,
    DSA, SHA-224 and anything unknown are refused (CA/B BR 7.1.3.2)."""
    oid = cert.signature_algorithm_oid
    if oid in _ACCEPTED_SIGNATURES:
        return None
    if oid == SignatureAlgorithmOID.RSASSA_PSS:
        try:
            algorithm = cert.signature_hash_algorithm
        except Exception:  # unsupported or unparseable PSS parameters
            algorithm = None
        if algorithm is not None and algorithm.name in _PSS_HASHES:
            return None
        return "RSA-PSS with a hash other than SHA-256/384/512"
    return f"{oid_name(oid)} is not an accepted signature algorithm"


def _basic_fields(cert: x509.Certificate) -> str | None:
    """Structural rules of RFC 5280 4.1 that the parser leaves to us."""
    try:
        version = cert.version
    except x509.InvalidVersion as exc:
        return f"invalid version: {exc}"
    serial = cert.serial_number
    if serial <= 0:
        return "serial number is not positive (RFC 5280 4.1.2.2)"
    if serial.bit_length() > 159:
        return "serial number is longer than 20 octets (RFC 5280 4.1.2.2)"
    if len(cert.issuer) == 0:
        return "issuer name is empty (RFC 5280 4.1.2.4)"
    if version != x509.Version.v3 and len(cert.extensions) > 0:
        return "has extensions but is not version 3 (RFC 5280 4.1.2.1)"
    return None


def _first_dns(cert: x509.Certificate, san: tuple[x509.GeneralName, ...] | None) -> str | None:
    for gn in san or ():
        if isinstance(gn, x509.DNSName):
            return gn.value
    for gn in san or ():
        if isinstance(gn, x509.IPAddress):
            return str(gn.value)
    return None


def _bc(value: x509.ExtensionType, out: dict[str, object]) -> None:
    assert isinstance(value, x509.BasicConstraints)
    out["ca"], out["path_len"] = value.ca, value.path_length


def _field(name: str, convert: Callable[[Any], object] = lambda v: v) -> Callable[
    [x509.ExtensionType, dict[str, object]], None
]:
    def store(value: x509.ExtensionType, out: dict[str, object]) -> None:
        out[name] = convert(value)
    return store


# Dispatch by OID: one dict lookup per extension instead of a chain of isinstance checks.
_EXTENSION_FIELDS: dict[x509.ObjectIdentifier, Callable[[x509.ExtensionType, dict[str, object]],
                                                         None]] = {
    ExtensionOID.BASIC_CONSTRAINTS: _bc,
    ExtensionOID.KEY_USAGE: _field("key_usage"),
    ExtensionOID.EXTENDED_KEY_USAGE: _field("eku", frozenset),
    ExtensionOID.NAME_CONSTRAINTS: _field("name_constraints"),
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME: _field("san", tuple),
    ExtensionOID.SUBJECT_KEY_IDENTIFIER: _field("ski", lambda v: v.digest),
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: _field("aki", lambda v: v.key_identifier),
}


def _parse_extensions(cert: x509.Certificate) -> dict[str, object]:
    """The fields CertInfo needs from extensions; raises whatever the parser raises."""
    out: dict[str, object] = {}
    critical: list[str] = []
    for ext in cert.extensions:
        oid = ext.oid
        known = oid in KNOWN_EXTENSIONS
        if ext.critical and not known:
            critical.append(oid_name(oid))
        if not known:
            continue
        value = ext.value
        if isinstance(value, x509.UnrecognizedExtension):
            raise ValueError(f"extension {oid.dotted_string} could not be parsed")
        handler = _EXTENSION_FIELDS.get(oid)
        if handler is not None:
            handler(value, out)
    out["unhandled_critical"] = tuple(critical)
    return out


def analyze(cert: x509.Certificate) -> CertInfo:
    """Parse and pre-judge one certificate. Never raises: defects become fields."""
    try:
        return _analyze(cert)
    except Exception as exc:  # a parser surprise anywhere means the certificate is malformed
        return _unparseable(cert, exc)


def _unparseable(cert: x509.Certificate, exc: Exception) -> CertInfo:
    """A CertInfo that fails the first check, for a certificate we could not even read."""
    der = cert.public_bytes(serialization.Encoding.DER)
    fingerprint = _sha256(der)
    epoch = datetime.fromtimestamp(0, UTC)
    return CertInfo(
        cert=cert, fingerprint=fingerprint, subject=x509.Name([]), issuer=x509.Name([]),
        self_issued=False, loop_key=(fingerprint, fingerprint), key_id=fingerprint,
        dns_label=None, not_before=epoch, not_after=epoch, public_key=None,
        key_desc="unknown key", malformed=f"cannot be parsed: {exc}",
        _description=f"(unparseable certificate, SHA-256 {fingerprint.hex()[:16]}...)",
    )


def _analyze(cert: x509.Certificate) -> CertInfo:
    fingerprint = cert.fingerprint(hashes.SHA256())
    subject, issuer = cert.subject, cert.issuer
    malformed = _basic_fields_safe(cert)
    fields: dict[str, object] = {}
    if malformed is None:
        try:
            fields = _parse_extensions(cert)
        except Exception as exc:  # any parser complaint about an extension is "malformed"
            malformed = f"an extension cannot be parsed: {exc}"
    key: CertificatePublicKeyTypes | None = None
    key_desc, weak_key = "unknown key", None
    try:
        key = cert.public_key()
        key_desc, weak_key = _key_description(key)
    except UnsupportedAlgorithm:
        weak_key = "the public key algorithm is not supported"
    except ValueError as exc:
        malformed = malformed or f"the public key cannot be parsed: {exc}"
    spki = fingerprint
    if key is not None:
        spki = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    san = fields.get("san")
    return CertInfo(
        cert=cert,
        fingerprint=fingerprint,
        subject=subject,
        issuer=issuer,
        self_issued=subject == issuer,
        loop_key=(subject.public_bytes(), spki),
        key_id=_sha256(spki),
        dns_label=_first_dns(cert, san),  # type: ignore[arg-type]
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        public_key=key,
        key_desc=key_desc,
        malformed=malformed,
        weak_key=weak_key,
        weak_signature=_signature_weakness(cert),
        **fields,  # type: ignore[arg-type]
    )


def _sha256(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize()


def _basic_fields_safe(cert: x509.Certificate) -> str | None:
    try:
        return _basic_fields(cert)
    except Exception as exc:  # e.g. extensions that fail to parse while being counted
        return f"cannot be parsed: {exc}"


# ---------------------------------------------------------------------------------------
# Signatures


def verify_signature(issuer_key: CertificatePublicKeyTypes | None, cert: x509.Certificate) -> (
    str | None
):
    """Check ``cert``'s signature with ``issuer_key``: None when it verifies, else why not.

    The padding (PKCS#1 v1.5 or PSS with its exact salt length and MGF) and hash come from
    the certificate's own signatureAlgorithm; a key of the wrong type never verifies."""
    if issuer_key is None:
        return "the issuer's public key cannot be used"
    try:
        params = cert.signature_algorithm_parameters
        algorithm = cert.signature_hash_algorithm
    except Exception as exc:  # unsupported algorithm or unparseable parameters
        return f"the signature algorithm cannot be used: {exc}"
    data, signature = cert.tbs_certificate_bytes, cert.signature
    try:
        if isinstance(issuer_key, rsa.RSAPublicKey):
            if not isinstance(params, padding.PSS | padding.PKCS1v15) or algorithm is None:
                return "the issuer has an RSA key but the signature is not an RSA signature"
            issuer_key.verify(signature, data, params, algorithm)
        elif isinstance(issuer_key, ec.EllipticCurvePublicKey):
            if not isinstance(params, ec.ECDSA):
                return "the issuer has an EC key but the signature is not ECDSA"
            issuer_key.verify(signature, data, params)
        elif isinstance(issuer_key, ed25519.Ed25519PublicKey):
            if cert.signature_algorithm_oid != SignatureAlgorithmOID.ED25519:
                return "the issuer has an Ed25519 key but the signature is not Ed25519"
            issuer_key.verify(signature, data)
        elif isinstance(issuer_key, ed448.Ed448PublicKey):
            if cert.signature_algorithm_oid != SignatureAlgorithmOID.ED448:
                return "the issuer has an Ed448 key but the signature is not Ed448"
            issuer_key.verify(signature, data)
        else:
            return f"cannot verify with a {type(issuer_key).__name__}"
    except InvalidSignature:
        return "the signature does not verify"
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return f"the signature cannot be checked: {exc}"
    return None


@dataclass
class Stats:
    """Counters, cumulative per Verifier: tests bound work with them, benches report them."""

    signature_checks: int = 0  # signatures evaluated (cache hits included)
    signature_verifications: int = 0  # actual public-key operations
    candidates: int = 0  # issuer candidates expanded during path building
    budget_exhausted: int = 0


class SignatureCache:
    """Remembers verdicts by (issuer key hash, subject DER hash). A verdict depends only on
    the issuer's public key and the subject's bytes, so it holds forever for the pair, and
    certificates that share a key (cross-signs, re-issues) share entries."""

    def __init__(self, maxsize: int = 4096) -> None:
        self._cache: LRUCache[tuple[bytes, bytes], tuple[str | None]] = LRUCache(maxsize)

    def check(self, subject: CertInfo, issuer: CertInfo, stats: Stats) -> str | None:
        key = (issuer.key_id, subject.fingerprint)
        stats.signature_checks += 1
        hit = self._cache.get(key)
        if hit is not None:
            return hit[0]
        stats.signature_verifications += 1
        verdict = verify_signature(issuer.public_key, subject.cert)
        self._cache.put(key, (verdict,))
        return verdict

    def __len__(self) -> int:
        return len(self._cache)


# ---------------------------------------------------------------------------------------
# Layer 2: checks


@dataclass(slots=True)
class Outcome:
    """One check on one certificate. ``detail`` on a failure is a predicate that reads after
    the certificate's label: "<certificate for x> expired on ..."."""

    info: CertInfo
    check: str
    ok: bool
    detail: str
    reason: Reason | None = None
    role: Role = "leaf"

    @property
    def message(self) -> str:
        return f"{self.info.label(self.role)} {self.detail}"


@dataclass
class Context:
    """Parameters of one validation."""

    at: datetime
    usage: Usage = "server"
    max_depth: int = 8
    require_digital_signature: bool = True
    signatures: SignatureCache = field(default_factory=SignatureCache)
    stats: Stats = field(default_factory=Stats)
    max_signature_checks: int = 128
    max_candidates: int = 1024
    collect: bool = False  # building a report: spend time on the wording of passed checks


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _ok(info: CertInfo, check: str, detail: str, role: Role) -> Outcome:
    return Outcome(info, check, True, detail, None, role)


def _bad(info: CertInfo, check: str, reason: Reason, detail: str, role: Role) -> Outcome:
    return Outcome(info, check, False, detail, reason, role)


def _check_validity(info: CertInfo, ctx: Context, role: Role) -> Outcome:
    if ctx.at > info.not_after:
        detail = f"expired on {_fmt(info.not_after)}; now is {_fmt(ctx.at)}"
        return _bad(info, "validity", Reason.expired, detail, role)
    if ctx.at < info.not_before:
        detail = f"is not valid before {_fmt(info.not_before)}; now is {_fmt(ctx.at)}"
        return _bad(info, "validity", Reason.not_yet_valid, detail, role)
    span = f"valid from {_fmt(info.not_before)} to {_fmt(info.not_after)}" if ctx.collect else ""
    return _ok(info, "validity", span, role)


def _check_ca(info: CertInfo, role: Role) -> Outcome:
    """RFC 5280 6.1.4 (k): an issuer must assert cA. A v1 trust anchor without the extension
    is grandfathered; anything else without it is not a CA."""
    if info.ca:
        limit = "" if info.path_len is None else f", pathLenConstraint {info.path_len}"
        return _ok(info, "basic constraints", f"CA{limit}", role)
    if info.ca is None and role == "anchor" and info.cert.version != x509.Version.v3:
        return _ok(info, "basic constraints", "v1 trust anchor (no extensions)", role)
    why = "basicConstraints is absent" if info.ca is None else "basicConstraints cA is false"
    return _bad(info, "basic constraints", Reason.not_a_ca,
                f"is not a CA ({why}) but is used as an issuer", role)


def _check_ca_key_usage(info: CertInfo, role: Role) -> Outcome:
    if info.key_usage is None:
        return _ok(info, "key usage", "no keyUsage extension", role)
    if info.key_usage.key_cert_sign:
        return _ok(info, "key usage", "keyCertSign", role)
    return _bad(info, "key usage", Reason.key_usage,
                "has a keyUsage extension without keyCertSign but is used as an issuer", role)


def _leaf_key_usage_ok(info: CertInfo, require_digital_signature: bool) -> bool:
    """TLS 1.3 authenticates only by signature, so digitalSignature is required; for TLS 1.2
    an RSA key may instead allow keyEncipherment (RFC 5246 7.4.2)."""
    ku = info.key_usage
    assert ku is not None
    if ku.digital_signature:
        return True
    return (not require_digital_signature and isinstance(info.public_key, rsa.RSAPublicKey)
            and ku.key_encipherment)


def _check_leaf_key_usage(info: CertInfo, ctx: Context, role: Role) -> Outcome:
    if info.key_usage is None:
        return _ok(info, "key usage", "no keyUsage extension (any usage)", role)
    if _leaf_key_usage_ok(info, ctx.require_digital_signature):
        return _ok(info, "key usage", "allows signing the handshake", role)
    return _bad(info, "key usage", Reason.key_usage,
                "has a keyUsage extension that does not allow digitalSignature", role)


def _eku_names(eku: frozenset[x509.ObjectIdentifier]) -> str:
    return ", ".join(sorted(oid_name(o) for o in eku)) or "(empty)"


def _check_eku(info: CertInfo, ctx: Context, role: Role) -> Outcome:
    """Absent EKU allows any usage; present, it must list the usage or anyExtendedKeyUsage.
    Applied to CAs too (CA/B BR 7.1.2.2: an EKU on a CA restricts what it may issue)."""
    wanted = _USAGE_OIDS[ctx.usage]
    if info.eku is None:
        return _ok(info, "extended key usage", "no extendedKeyUsage extension (any usage)", role)
    if wanted in info.eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in info.eku:
        return _ok(info, "extended key usage", f"permits {wanted._name}", role)
    return _bad(info, "extended key usage", Reason.extended_key_usage,
                f"does not permit {wanted._name} (extendedKeyUsage: {_eku_names(info.eku)})", role)


def _static_checks(info: CertInfo, role: Role) -> Iterator[Outcome]:
    """Path-independent defects; a malformed certificate gets no further checks."""
    if info.malformed:
        yield _bad(info, "well-formed", Reason.malformed, f"is malformed: {info.malformed}", role)
        return
    yield _ok(info, "well-formed", "v3 structure and extensions parse", role)
    if info.unhandled_critical:
        names_ = ", ".join(info.unhandled_critical)
        yield _bad(info, "critical extensions", Reason.unhandled_critical_extension,
                   f"has an unhandled critical extension: {names_}", role)
    else:
        yield _ok(info, "critical extensions", "all critical extensions understood", role)
    if info.weak_key:
        yield _bad(info, "public key", Reason.weak_key, f"has a weak key: {info.weak_key}", role)
    else:
        yield _ok(info, "public key", info.key_desc, role)
    if role not in ("anchor", "leaf-anchor"):
        if info.weak_signature:
            yield _bad(info, "signature algorithm", Reason.weak_signature,
                       f"is signed with a weak algorithm: {info.weak_signature}", role)
        else:
            alg = info.cert.signature_algorithm_oid
            yield _ok(info, "signature algorithm", oid_name(alg), role)


def _timeless_checks(info: CertInfo, role: Role, ctx: Context) -> Iterator[Outcome]:
    """The checks whose verdict never changes for a certificate in a role: all but validity."""
    malformed = False
    for outcome in _static_checks(info, role):
        malformed = malformed or outcome.reason is Reason.malformed
        yield outcome
    if malformed:
        return
    if role in ("leaf", "leaf-anchor"):
        yield _check_leaf_key_usage(info, ctx, role)
    else:
        yield _check_ca(info, role)
        yield _check_ca_key_usage(info, role)
    yield _check_eku(info, ctx, role)


def cert_checks(info: CertInfo, role: Role, ctx: Context) -> Iterator[Outcome]:
    """Every check on one certificate that does not depend on the rest of the path; the
    validity period comes last, as in `cert_failure`."""
    malformed = False
    for outcome in _timeless_checks(info, role, ctx):
        malformed = malformed or outcome.reason is Reason.malformed
        yield outcome
    if not malformed:
        yield _check_validity(info, ctx, role)


_UNKNOWN = Outcome.__new__(Outcome)  # sentinel: "not computed yet" in CertInfo.verdicts


def cert_failure(info: CertInfo, role: Role, ctx: Context) -> Outcome | None:
    """The first failure of `cert_checks`, fast: the timeless verdict is computed once per
    (certificate, role, usage) and kept on the CertInfo; only the dates are compared anew."""
    key = (role, ctx.usage, ctx.require_digital_signature)
    verdict = info.verdicts.get(key, _UNKNOWN)
    if verdict is _UNKNOWN:
        verdict = first_failure(_timeless_checks(info, role, ctx))
        info.verdicts[key] = verdict
    if verdict is not None:
        return verdict
    if info.not_before <= ctx.at <= info.not_after:
        return None
    return _check_validity(info, ctx, role)


def link_check(subject: CertInfo, issuer: CertInfo, role: Role, ctx: Context) -> Outcome:
    """Is ``subject`` signed by ``issuer``? (``role`` is the subject's.)"""
    problem = ctx.signatures.check(subject, issuer, ctx.stats)
    if problem is None:
        return _ok(subject, "signature", f"verified with the key of {issuer.description}", role)
    return _bad(subject, "signature", Reason.bad_signature,
                f"has a signature that {issuer.description} did not make: {problem}", role)


def first_failure(outcomes: Iterator[Outcome]) -> Outcome | None:
    for outcome in outcomes:
        if not outcome.ok:
            return outcome
    return None


def role_at(index: int, path_length: int, anchored: bool) -> Role:
    if index == 0:
        return "leaf-anchor" if anchored and path_length == 1 else "leaf"
    if anchored and index == path_length - 1:
        return "anchor"
    return "intermediate"


def _check_path_length(path: list[CertInfo], j: int) -> Outcome:
    """RFC 5280 6.1.4 (l)/(m): at most pathLenConstraint non-self-issued intermediates may
    follow this CA. The culprit is the first intermediate beyond the limit."""
    ca = path[j]
    role = role_at(j, len(path), True)
    assert ca.path_len is not None
    below = [i for i in range(j - 1, 0, -1) if not path[i].self_issued]
    if len(below) <= ca.path_len:
        return _ok(ca, "path length", f"{len(below)} CA(s) below, limit {ca.path_len}", role)
    culprit = path[below[ca.path_len]]
    detail = (f"exceeds the pathLenConstraint {ca.path_len} of {ca.description} "
              f"({len(below)} intermediate CA(s) below it)")
    return _bad(culprit, "path length", Reason.path_length_exceeded, detail,
                role_at(below[ca.path_len], len(path), True))


def _names_of(info: CertInfo, is_leaf: bool) -> list[tuple[str, object]]:
    """(form, value) pairs subject to name constraints: SAN entries, the subject DN, subject
    emailAddress attributes, and for a leaf without SAN a DNS-looking CN (CA/B practice)."""
    out: list[tuple[str, object]] = []
    for gn in info.san or ():
        out.append((_FORMS.get(type(gn), type(gn).__name__), gn.value))
    if len(info.subject) > 0:
        out.append(("directory", info.subject))
    for attr in info.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS):
        out.append(("email", str(attr.value)))
    if is_leaf and info.san is None:
        for attr in info.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
            value = str(attr.value)
            if _looks_like_dns(value):
                out.append(("dns", value))
    return out


_FORMS: dict[type, str] = {
    x509.DNSName: "dns",
    x509.IPAddress: "ip",
    x509.RFC822Name: "email",
    x509.UniformResourceIdentifier: "uri",
    x509.DirectoryName: "directory",
}


def _looks_like_dns(value: str) -> bool:
    try:
        names.canonical_dns_name(value.removeprefix("*."))
    except names.InvalidHostname:
        return False
    return "." in value


def _in_subtree(form: str, value: object, subtree: x509.GeneralName, excluded: bool) -> bool:
    """Is (form, value) inside ``subtree``? Forms differ -> False (the subtree says nothing)."""
    if _FORMS.get(type(subtree), type(subtree).__name__) != form:
        return False
    base = subtree.value
    if form == "dns":
        test = names.dns_subtree_intersects if excluded else names.dns_in_subtree
        return test(str(value), str(base))
    if form == "ip":
        if not isinstance(base, ipaddress.IPv4Network | ipaddress.IPv6Network):
            return False
        return isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address) and (
            names.ip_in_subtree(value, base))
    if form == "email":
        return names.email_in_subtree(str(value), str(base))
    if form == "uri":
        return names.uri_in_subtree(str(value), str(base))
    if form == "directory":
        return isinstance(value, x509.Name) and isinstance(base, x509.Name) and (
            names.directory_in_subtree(value, base))
    return bool(value == base)


def _show(form: str, value: object) -> str:
    if isinstance(value, x509.Name):
        return f"{form}:{value.rfc4514_string()}"
    return f"{form}:{value}"


def _name_violation(
    form: str, value: object, nc: x509.NameConstraints
) -> tuple[str, x509.GeneralName | None] | None:
    """(why, subtree) if the name breaks the constraints, else None."""
    for subtree in nc.excluded_subtrees or ():
        if _in_subtree(form, value, subtree, excluded=True):
            return "is inside an excluded subtree", subtree
    permitted = [
        s for s in nc.permitted_subtrees or ()
        if _FORMS.get(type(s), type(s).__name__) == form
    ]
    if permitted and not any(_in_subtree(form, value, s, excluded=False) for s in permitted):
        return "is outside every permitted subtree", None
    if form not in _FORMS.values() and (permitted or any(
        _FORMS.get(type(s), type(s).__name__) == form for s in nc.excluded_subtrees or ()
    )):
        return "has a name form that is constrained but not supported", None
    return None


def _check_name_constraints(path: list[CertInfo], j: int) -> Iterator[Outcome]:
    """RFC 5280 6.1.3 (b)/(c): the constraints of path[j] bind every certificate below it,
    except self-issued intermediates."""
    ca = path[j]
    nc = ca.name_constraints
    assert nc is not None
    for i in range(j - 1, -1, -1):
        below = path[i]
        if i > 0 and below.self_issued:
            continue
        for form, value in _names_of(below, is_leaf=i == 0):
            verdict = _name_violation(form, value, nc)
            if verdict is None:
                continue
            why, subtree = verdict
            where = f" {subtree.value}" if subtree is not None else ""
            detail = (f"has name {_show(form, value)} that {why}{where} of the name "
                      f"constraints of {ca.description}")
            yield _bad(below, "name constraints", Reason.name_constraints_violated, detail,
                       role_at(i, len(path), True))
            return
    yield _ok(ca, "name constraints", "every name below is within the constraints",
              role_at(j, len(path), True))


def path_checks(path: list[CertInfo]) -> Iterator[Outcome]:
    """Checks that need the whole anchored path: path length and name constraints."""
    for j in range(len(path) - 1, 0, -1):
        ca = path[j]
        if ca.path_len is not None:
            yield _check_path_length(path, j)
        if ca.name_constraints is not None:
            yield from _check_name_constraints(path, j)


# ---------------------------------------------------------------------------------------
# Layer 3: path building


@dataclass
class Failure:
    """A failed attempt: the outcome and the path it happened on (last element included)."""

    outcome: Outcome
    path: list[CertInfo]
    anchored: bool = False  # the path's last certificate is a trust anchor

    @property
    def rank(self) -> tuple[int, int]:
        """Relevance: a concrete defect beats a signature mismatch (usually a same-name
        decoy), which beats running out of depth, which beats finding no issuer at all;
        among equals, the attempt that got further wins."""
        order = {Reason.unknown_issuer: 0, Reason.path_too_long: 1, Reason.bad_signature: 2}
        reason = self.outcome.reason
        assert reason is not None
        return order.get(reason, 3), len(self.path)


class _BudgetExhausted(Exception):
    pass


@dataclass
class BuildResult:
    path: list[CertInfo] | None
    failure: Failure | None


class PathBuilder:
    """Depth-first search from the leaf to a trust anchor, with backtracking.

    Bounded three ways: a certificate (by subject and key) appears at most once on a path,
    a path has at most ``max_depth`` intermediates, and the whole search may evaluate at
    most ``max_signature_checks`` signatures and ``max_candidates`` candidates. Within
    those bounds it finds a valid path whenever one exists."""

    def __init__(
        self,
        ctx: Context,
        store: TrustStore,
        intermediates: list[CertInfo],
        anchors_named: Callable[[x509.Name], list[CertInfo]],
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.anchors_named = anchors_named
        self.pool: dict[x509.Name, list[CertInfo]] = {}
        seen: set[bytes] = set()
        for info in intermediates:
            if info.fingerprint in seen or store.contains_fingerprint(info.fingerprint):
                continue  # duplicates and anchors sent along add nothing
            seen.add(info.fingerprint)
            self.pool.setdefault(info.subject, []).append(info)
        self.best: Failure | None = None
        # Budgets count this search only: the shared Stats move with other threads' work.
        self.signature_checks = 0
        self.candidates = 0

    def _note(self, outcome: Outcome, path: list[CertInfo], anchored: bool = False) -> None:
        failure = Failure(outcome, path, anchored)
        if self.best is None or failure.rank > self.best.rank:
            self.best = failure

    def _ordered(self, child: CertInfo, options: list[CertInfo]) -> list[CertInfo]:
        """Try likely issuers first: key identifiers agree, then currently valid."""
        def key(info: CertInfo) -> tuple[bool, bool]:
            aki_mismatch = bool(child.aki and info.ski and child.aki != info.ski)
            current = info.not_before <= self.ctx.at <= info.not_after
            return aki_mismatch, not current
        return sorted(options, key=key)

    def _candidates(self, child: CertInfo) -> list[tuple[CertInfo, bool]]:
        anchors = self.anchors_named(child.issuer)
        pool = self.pool.get(child.issuer, [])
        return [(a, True) for a in self._ordered(child, anchors)] + [
            (p, False) for p in self._ordered(child, pool)
        ]

    def _spend(self) -> None:
        self.candidates += 1
        self.ctx.stats.candidates += 1
        if (self.signature_checks >= self.ctx.max_signature_checks
                or self.candidates > self.ctx.max_candidates):
            raise _BudgetExhausted

    def build(self, leaf: CertInfo) -> BuildResult:
        try:
            path = self._extend([leaf], {leaf.loop_key}, 0)
        except _BudgetExhausted:
            self.ctx.stats.budget_exhausted += 1
            path = None
            if self.best is None or self.best.rank[0] == 0:
                detail = (f"has no valid path to a trust anchor within the search budget "
                          f"({self.ctx.max_signature_checks} signatures, "
                          f"{self.ctx.max_candidates} candidates)")
                self._note(_bad(leaf, "issuer", Reason.unknown_issuer, detail, "leaf"), [leaf])
        return BuildResult(path, None if path else self.best)

    def _extend(
        self, path: list[CertInfo], on_path: set[tuple[bytes, bytes]], intermediates: int
    ) -> list[CertInfo] | None:
        child = path[-1]
        child_role: Role = "leaf" if len(path) == 1 else "intermediate"
        candidates = self._candidates(child)
        if not candidates:
            self._note(_unknown_issuer(child, child_role), path)
            return None
        for candidate, is_anchor in candidates:
            if candidate.loop_key in on_path:
                continue
            self._spend()
            found = self._try(path, candidate, is_anchor, on_path, intermediates)
            if found is not None:
                return found
        if self.best is None:
            self._note(_unknown_issuer(child, child_role), path)
        return None

    def _try(
        self,
        path: list[CertInfo],
        candidate: CertInfo,
        is_anchor: bool,
        on_path: set[tuple[bytes, bytes]],
        intermediates: int,
    ) -> list[CertInfo] | None:
        child_role: Role = "leaf" if len(path) == 1 else "intermediate"
        new_path = [*path, candidate]
        self.signature_checks += 1
        link = link_check(path[-1], candidate, child_role, self.ctx)
        if not link.ok:
            self._note(link, new_path, is_anchor)
            return None
        role: Role = "anchor" if is_anchor else "intermediate"
        problem = cert_failure(candidate, role, self.ctx)
        if problem is not None:
            self._note(problem, new_path, is_anchor)
            return None
        if is_anchor:
            problem = first_failure(path_checks(new_path))
            if problem is not None:
                self._note(problem, new_path, True)
                return None
            return new_path
        if intermediates + 1 > self.ctx.max_depth:
            detail = (f"would be intermediate number {intermediates + 1}, beyond the maximum "
                      f"path depth of {self.ctx.max_depth}")
            self._note(_bad(candidate, "path depth", Reason.path_too_long, detail, role),
                       new_path)
            return None
        return self._extend(new_path, on_path | {candidate.loop_key}, intermediates + 1)


def _unknown_issuer(info: CertInfo, role: Role) -> Outcome:
    issuer = info.issuer.rfc4514_string() or "(empty)"
    return _bad(info, "issuer", Reason.unknown_issuer,
                f"was issued by '{issuer}', which is neither a trust anchor nor a usable "
                f"intermediate that was provided", role)
