"""Layer 1 of path validation: what a certificate says, parsed once.

`analyze` turns a certificate into a `CertInfo`: the DER split once by the reader in `der`,
every extension parsed once (read from the DER by `derext` when it can, else by
cryptography, then filled in by the extension readers below), every path-independent defect
(malformed encoding, unknown critical extension, weak key, weak signature algorithm, profile
violations) found once. Infos are cached by DER (see `verify`), so a validator that sees the
same intermediates on every handshake parses them once; what a CertInfo means in a role is
decided by `checks`. The profile behind these judgements is described in `tlskit.x509.path`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from ..crypto import key_family
from . import derext, names
from .der import (
    _EMPTY_NAME,
    _NAMED_CURVE_SPKI,
    CertificateDER,
    _name_problem,
    _serial_problem,
    _spki_problem,
    common_names_of,
    split_certificate,
)
from .errors import describe
from .parsed import der_of, describe_parse_error

if TYPE_CHECKING:
    from .checks import Outcome

Role = Literal["leaf", "intermediate", "anchor", "leaf-anchor"]

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
# x509.Version.v3 as a module constant: reading an Enum member off its class costs more
# than a global (~60 ns in 3.11), and every analysis and leaf check asks it.
V3 = x509.Version.v3

# CertInfo._dns_label before `CertInfo.dns_label` is first asked.
_NOT_YET: Any = object()

# Encoded names already found well formed: issuer names repeat on every leaf of a CA.
_WELL_FORMED_NAMES: set[bytes] = set()


@dataclass(slots=True, eq=False)
class CertInfo:
    """Everything the checks need from one certificate. Fields are None when absent.
    Treated as immutable once built (it is shared through the cache)."""

    cert: x509.Certificate
    der: bytes  # the certificate's DER: what caches key it by (see `fingerprint`)
    subject_der: bytes  # the Name TLVs, as encoded: what path building chains on
    issuer_der: bytes
    self_issued: bool
    loop_key: tuple[bytes, bytes]  # (subject, SubjectPublicKeyInfo) TLVs: no pair twice on a path
    not_before: datetime
    not_after: datetime
    public_key: CertificatePublicKeyTypes | None
    key_desc: str
    # What the analysis knows before reading the extensions, in the order `_analyze`
    # passes it (by position: one store each instead of a default and then the value).
    tbs: bytes = b""
    signature_algorithm: bytes = b""  # the signatureAlgorithm's DER (see ALGORITHM_IDS)
    serial: bytes | None = None  # the serialNumber INTEGER's contents (see serial_problem)
    weak_key: str | None = None
    empty_subject: bool = False
    _fingerprint: bytes | None = None  # see fingerprint
    version: x509.Version | None = None
    malformed: str | None = None  # a structural defect: fails in every role
    unparseable: bool = False  # not even the dates could be read
    # Issuance rules (RFC 5280 section 4 MUSTs on CAs, CA/B BRs) that validation does not
    # enforce: reported by `lint`, enforced by the "cabf" profile. Path-independent ones
    # only; the role-dependent ones are decided in `lint`.
    lint_notes: tuple[str, ...] = ()
    unhandled_critical: tuple[str, ...] = ()
    weak_signature: str | None = None
    ca: bool | None = None
    path_len: int | None = None
    bc_critical: bool = False
    key_usage: x509.KeyUsage | None = None
    eku: frozenset[x509.ObjectIdentifier] | None = None
    eku_critical: bool = False
    name_constraints: x509.NameConstraints | None = None
    san: tuple[x509.GeneralName, ...] | None = None
    san_critical: bool = False
    dns_names: tuple[str, ...] = ()  # the SAN's dNSName values, in order
    ip_addresses: tuple[names.IPAddress, ...] = ()  # its iPAddress values that are addresses
    ski: bytes | None = None
    aki: bytes | None = None
    aki_present: bool = False
    aki_names_issuer: bool = False  # authorityCertIssuer or authorityCertSerialNumber
    _key_id: bytes | None = None  # see key_id
    _dns_label: Any = _NOT_YET  # see dns_label
    # crypto.key_family of public_key, filled in by the first signature check this
    # certificate's key makes (`signatures.SignatureCache.check`): asked of issuers only.
    _key_family: str | None = None
    _description: str | None = None
    _subject: x509.Name | None = None
    _issuer: x509.Name | None = None
    _common_names: list[str] | None = None
    # Timeless check verdicts by (role, usage, require_digital_signature, profile,
    # curated store, handles must-staple); see cert_failure.
    verdicts: dict[tuple[str, str, bool, str, bool, bool], Outcome | None] = field(
        default_factory=dict)

    @property
    def subject(self) -> x509.Name:
        """The parsed subject, on first use: chaining compares the encoded names, so only
        name constraints, messages and the rare fallback lookup need the objects."""
        if self._subject is None:
            self._subject = _parsed_name(self.cert, "subject")
        return self._subject

    @property
    def issuer(self) -> x509.Name:
        if self._issuer is None:
            self._issuer = _parsed_name(self.cert, "issuer")
        return self._issuer

    @property
    def dns_label(self) -> str | None:
        """The name messages call a leaf by: its first SAN dNSName, else its first
        iPAddress (None when it has neither, or its extensions could not all be read).
        Found when a message is worded: a valid leaf is never named."""
        label = self._dns_label
        if label is _NOT_YET:
            label = self._dns_label = _first_dns(self.san)
        return cast(str | None, label)

    @property
    def serial_problem(self) -> str | None:
        """What RFC 5280 4.1.2.2 finds wrong with the serial number: a lint note for every
        role but trust anchors, so judged when `lint` asks, not for every new leaf."""
        return None if self.serial is None else _serial_problem(self.serial)

    @property
    def fingerprint(self) -> bytes:
        """SHA-256 of the DER, on first use: the caches and the trust store look
        certificates up by their DER, so a leaf seen once is never hashed whole."""
        if self._fingerprint is None:
            self._fingerprint = hashlib.sha256(self.der).digest()
        return self._fingerprint

    @property
    def key_id(self) -> bytes:
        """SHA-256 of the SubjectPublicKeyInfo: what a signature really depends on. Asked
        of issuers only (signature cache keys), so computed on first use: a new leaf is
        rarely anyone's issuer."""
        if self._key_id is None:
            self._key_id = hashlib.sha256(self.loop_key[1]).digest()  # (subject, SPKI)
        return self._key_id

    @property
    def common_names(self) -> list[str]:
        if self._common_names is None:
            self._common_names = common_names_of(self.subject_der)
        return self._common_names

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
        return list(self.dns_names)

    @property
    def san_ips(self) -> list[names.IPAddress]:
        return list(self.ip_addresses)

    def common_name_problem(self) -> str | None:
        """CA/B BR 7.1.4.3: a subject CN of a TLS server certificate is a character for
        character copy of a SAN dNSName, or the canonical text (RFC 5952 for IPv6) of a SAN
        iPAddress. Only a CN that names a host is held to this: one that a legacy client
        could take for the server's identity (see `names.names_a_host`)."""
        if self.san is None or not self.common_names:
            return None
        allowed = set(self.dns_names)
        allowed.update(str(ip) for ip in self.ip_addresses)
        for cn in self.common_names:
            if cn not in allowed and names.names_a_host(cn):
                return (f"has subject CN {cn!r}, which is not one of its subjectAltName "
                        f"entries (CA/B BR 7.1.4.3)")
        return None


def _parsed_name(cert: x509.Certificate, which: str) -> x509.Name:
    """cert.subject or cert.issuer. Analysis already refused a name the parser rejects
    (see `_structure_problem`), so the fallback is only a guard for direct CertInfo use."""
    try:
        return getattr(cert, which)  # type: ignore[no-any-return]
    except Exception:  # cryptography raises ValueError, and KeyError for odd string tags
        return x509.Name([])


def oid_name(oid: x509.ObjectIdentifier) -> str:
    """The OID's short name when cryptography knows one, else its dotted form."""
    known = getattr(oid, "_name", "Unknown OID")
    return oid.dotted_string if known == "Unknown OID" else str(known)


_EC_DESCRIPTIONS: dict[str, tuple[str, str | None]] = {}
# The usual encodings of P-256, P-384 and P-521 keys by length (see `der._NAMED_CURVE_SPKI`),
# with their words: a key that loaded from such an encoding is on the curve it names.
_NAMED_CURVE_KEYS: dict[int, tuple[bytes, tuple[str, str | None]]] = {
    length: (header, (f"EC {curve}", None)) for (length, header), curve in zip(
        sorted(_NAMED_CURVE_SPKI.items()), ("secp256r1", "secp384r1", "secp521r1"),
        strict=True)
}


# `_rsa_description` by modulus size: the words are the same for every key of a size.
_RSA_DESCRIPTIONS: dict[int, tuple[str, str | None]] = {}


def _rsa_description(bits: int) -> tuple[str, str | None]:
    desc = f"RSA {bits} bits"
    if bits < MIN_RSA_BITS:
        return desc, f"{desc} (minimum is {MIN_RSA_BITS})"
    if bits % 8:
        return desc, f"{desc} (the modulus size must be a multiple of 8)"
    return desc, None


def _key_description(
    key: CertificatePublicKeyTypes, spki: bytes | None = None
) -> tuple[str, str | None]:
    """(words for the key, weakness or None): RSA below 2048 bits or with a modulus that
    is not a whole number of octets, curves other than the three NIST curves TLS 1.3 signs
    with, EC keys whose ``spki`` (when given) does not name its curve, and DSA are refused
    (CA/B BR 6.1.5, 7.1.3.1.2). Raises DERError for an EC ``spki`` it cannot read."""
    if spki is not None:
        named = _NAMED_CURVE_KEYS.get(len(spki))
        if named is not None and spki.startswith(named[0]):
            return named[1]  # the encoding names the curve, and is one `_spki_problem` passes
    family = key_family(key)
    if family == "ec":
        curve = cast(ec.EllipticCurvePublicKey, key).curve.name
        known = _EC_DESCRIPTIONS.get(curve)
        if known is None:
            desc = f"EC {curve}"
            known = (desc, None) if curve in _ACCEPTED_CURVES else (
                desc, f"{desc} (only P-256, P-384 and P-521 are accepted)")
            _EC_DESCRIPTIONS[curve] = known  # one per curve cryptography can load
        if spki is not None:
            return known[0], _spki_problem(spki) or known[1]
        return known
    if family == "rsa":
        any_key: Any = key  # an RSA key (no `cast` call here)
        bits: int = any_key.key_size
        known = _RSA_DESCRIPTIONS.get(bits)
        if known is None:
            known = _rsa_description(bits)
            if len(_RSA_DESCRIPTIONS) < 64:  # a few sizes are in use; bounded all the same
                _RSA_DESCRIPTIONS[bits] = known
        return known
    if family == "ed25519":
        return "Ed25519", None
    if family == "ed448":
        return "Ed448", None
    name = type(key).__name__
    return name, f"{name} keys are not accepted"


# The DER of the accepted algorithms' usual AlgorithmIdentifiers (RSA with its NULL
# parameters): nearly every certificate's, recognised without asking the parser for the
# OID (`_signature_weakness` decides every other encoding; `signatures` picks the
# verification parameters by them too).
ALGORITHM_IDS: dict[bytes, x509.ObjectIdentifier] = {
    bytes.fromhex(encoding): oid for encoding, oid in (
        ("300d06092a864886f70d01010b0500", SignatureAlgorithmOID.RSA_WITH_SHA256),
        ("300d06092a864886f70d01010c0500", SignatureAlgorithmOID.RSA_WITH_SHA384),
        ("300d06092a864886f70d01010d0500", SignatureAlgorithmOID.RSA_WITH_SHA512),
        ("300a06082a8648ce3d040302", SignatureAlgorithmOID.ECDSA_WITH_SHA256),
        ("300a06082a8648ce3d040303", SignatureAlgorithmOID.ECDSA_WITH_SHA384),
        ("300a06082a8648ce3d040304", SignatureAlgorithmOID.ECDSA_WITH_SHA512),
        ("300506032b6570", SignatureAlgorithmOID.ED25519),
        ("300506032b6571", SignatureAlgorithmOID.ED448),
    )
}
_ACCEPTED_ALGORITHM_IDS = frozenset(ALGORITHM_IDS)


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


def _first_dns(san: tuple[x509.GeneralName, ...] | None) -> str | None:
    for gn in san or ():
        if isinstance(gn, x509.DNSName):
            return gn.value
    for gn in san or ():
        if isinstance(gn, x509.IPAddress):
            return str(gn.value)
    return None


# Extension readers: (info, parsed value, critical) -> a structural defect or None. Typed
# loosely on purpose: the dispatch table guarantees the value's type, and isinstance
# asserts on every extension of every certificate cost more than they catch.


def _bc(info: CertInfo, value: Any, critical: bool) -> str | None:
    info.ca, info.path_len, info.bc_critical = value.ca, value.path_length, critical
    return None


def _ku(info: CertInfo, value: Any, critical: bool) -> str | None:
    info.key_usage = value
    return None


def _eku(info: CertInfo, value: Any, critical: bool) -> str | None:
    info.eku, info.eku_critical = frozenset(value), critical
    return None


def _san(info: CertInfo, value: Any, critical: bool) -> str | None:
    info.san = san = tuple(value)
    info.san_critical = critical
    dns: list[str] = []
    ips: list[names.IPAddress] = []
    for n in san:
        kind = type(n)
        if kind is x509.DNSName:
            dns.append(n.value)
        elif kind is x509.IPAddress and isinstance(n.value, _ADDRESS_TYPES):
            ips.append(n.value)
    info.dns_names, info.ip_addresses = tuple(dns), tuple(ips)
    return None


# An iPAddress holds an address, or (in name constraints only) a network.
_ADDRESS_TYPES = (ipaddress.IPv4Address, ipaddress.IPv6Address)


def _note(info: CertInfo, note: str) -> None:
    info.lint_notes = (*info.lint_notes, note)


def _nc(info: CertInfo, value: Any, critical: bool) -> str | None:
    """A non-critical nameConstraints is still obeyed (CA/B BR 7.1.2.10.8 lets CAs issue
    it so; browsers, Go and pyca enforce it): the RFC 5280 MUST is an issuance rule."""
    info.name_constraints = value
    if not critical:
        _note(info, "has a nameConstraints extension that is not marked critical "
                    "(RFC 5280 4.2.1.10)")
    return None


def _critical_key_id(what: str, clause: str) -> str:
    """A critical key identifier is a defect in every role, trust anchors included: RFC
    5280 forbids it, OpenSSL reports it as an unhandled critical extension and pyca as an
    incorrect criticality, wherever the certificate sits in the path."""
    return (f"its {what} is marked critical, which RFC 5280 {clause} forbids and OpenSSL "
            f"and pyca refuse too; the CA must reissue it with a non-critical {what}")


def _ski(info: CertInfo, value: Any, critical: bool) -> str | None:
    info.ski = value.digest
    if critical:
        return _critical_key_id("subjectKeyIdentifier", "4.2.1.2")
    return None


def _aki(info: CertInfo, value: Any, critical: bool) -> str | None:
    info.aki_present = True
    if critical:
        return _critical_key_id("authorityKeyIdentifier", "4.2.1.1")
    if value.key_identifier is None:
        _note(info, "has an authorityKeyIdentifier without keyIdentifier (RFC 5280 4.2.1.1)")
        return None
    info.aki = value.key_identifier
    info.aki_names_issuer = bool(value.authority_cert_issuer) or (
        value.authority_cert_serial_number is not None)
    return None


def _must_be_critical(what: str, clause: str) -> Callable[[CertInfo, Any, bool], str | None]:
    def check(info: CertInfo, value: Any, critical: bool) -> str | None:
        if not critical:
            _note(info, f"has a {what} extension that is not marked critical "
                        f"(RFC 5280 {clause})")
        return None
    return check


def _recognised(info: CertInfo, value: Any, critical: bool) -> str | None:
    return None  # understood (so it may be critical), not processed


# Dispatch by OID: one dict lookup per extension; the keys are exactly KNOWN_EXTENSIONS.
_EXTENSION_FIELDS: dict[x509.ObjectIdentifier, Callable[[CertInfo, Any, bool], str | None]] = {
    ExtensionOID.BASIC_CONSTRAINTS: _bc,
    ExtensionOID.KEY_USAGE: _ku,
    ExtensionOID.EXTENDED_KEY_USAGE: _eku,
    ExtensionOID.NAME_CONSTRAINTS: _nc,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME: _san,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER: _ski,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: _aki,
    ExtensionOID.POLICY_CONSTRAINTS: _must_be_critical("policyConstraints", "4.2.1.11"),
    ExtensionOID.INHIBIT_ANY_POLICY: _must_be_critical("inhibitAnyPolicy", "4.2.1.14"),
    ExtensionOID.CERTIFICATE_POLICIES: _recognised,
    ExtensionOID.POLICY_MAPPINGS: _recognised,
}
assert set(_EXTENSION_FIELDS) == KNOWN_EXTENSIONS


def _parsed_extensions(extensions: x509.Extensions) -> Iterator[derext.Extension]:
    """(OID, critical, value) of each extension as cryptography parsed it. Raises whatever
    the parser raises for an extension it cannot decode, and ValueError for one of ours it
    could not parse."""
    for ext in extensions:
        oid = ext.oid
        if oid not in _EXTENSION_FIELDS:
            yield oid, ext.critical, None
            continue
        value = ext.value
        if type(value) is x509.UnrecognizedExtension:
            raise ValueError(f"extension {oid.dotted_string} could not be parsed")
        yield oid, ext.critical, value


def _read_extensions(info: CertInfo, extensions: Iterable[derext.Extension]) -> str | None:
    """Fill ``info`` from the extensions (from `_parsed_extensions`, or from
    `derext.read_extensions`, which reads the same values from the DER); the first
    structural defect, or None."""
    critical_unknown: list[str] | None = None  # (rare: no list for every certificate)
    defect: str | None = None
    handler_of = _EXTENSION_FIELDS.get
    for oid, critical, value in extensions:
        handler = handler_of(oid)
        if handler is None:
            if critical:
                if critical_unknown is None:
                    critical_unknown = []
                critical_unknown.append(oid_name(oid))
            continue
        problem = handler(info, value, critical)
        if problem is not None and defect is None:
            defect = problem
    if critical_unknown:
        info.unhandled_critical = tuple(critical_unknown)
    return defect


def _structure_problem(info: CertInfo, der: CertificateDER) -> str | None:
    """RFC 5280 rules that hold for a certificate in any role (the extension-level ones
    were found while reading the extensions)."""
    if der.tbs_signature != der.signature_algorithm:
        return ("signatureAlgorithm differs from the signature field of the "
                "tbsCertificate (RFC 5280 4.1.1.2)")
    if info.issuer_der == _EMPTY_NAME:
        return "issuer name is empty (RFC 5280 4.1.2.4)"
    # The issuer's and then the subject's name, unless found well formed before (issuer
    # names repeat on every leaf of a CA; a new leaf brings a new subject).
    if info.issuer_der not in _WELL_FORMED_NAMES:
        problem = _name_problem_of(info, "issuer", info.issuer_der)
        if problem:
            return problem
    if info.subject_der not in _WELL_FORMED_NAMES:
        problem = _name_problem_of(info, "subject", info.subject_der)
        if problem:
            return problem
    if info.version is not V3 and len(info.cert.extensions) > 0:
        return "has extensions but is not version 3 (RFC 5280 4.1.2.1)"
    if info.san is not None and not info.san:
        return "subjectAltName extension is empty (RFC 5280 4.2.1.6)"
    if info.empty_subject and info.san is not None and not info.san_critical:
        return ("subject is empty but the subjectAltName extension is not critical "
                "(RFC 5280 4.2.1.6)")
    if info.name_constraints is not None:
        if info.ca is not True:
            return "has nameConstraints but is not a CA certificate (RFC 5280 4.2.1.10)"
        problem = _constraints_problem(info.name_constraints)
        if problem:
            return problem
    if not info.aki_present and not info.self_issued and info.version is V3:
        _note(info, "has no authorityKeyIdentifier, which a CA must put in every "
                    "certificate but a self-signed one (RFC 5280 4.2.1.1)")
    return None


def _name_problem_of(info: CertInfo, label: str, encoded: bytes) -> str | None:
    """What is wrong with the certificate's ``label`` name (``encoded``): not well formed,
    or not parsed by cryptography; a good one is filed in `_WELL_FORMED_NAMES`."""
    problem, plain = _name_problem(encoded)
    if problem:
        return f"{label} name {problem} (RFC 5280 4.1.2.4)"
    if not plain:  # (a plain name parses: the walk proved it; see der._name_problem)
        try:  # a name must also parse: messages and name constraints read it parsed
            getattr(info.cert, label)
        except Exception as exc:  # ValueError, and KeyError for an unknown string tag
            return (f"{label} name cannot be parsed: {describe_parse_error(exc)} "
                    "(RFC 5280 4.1.2.4)")
    if len(_WELL_FORMED_NAMES) >= 4096:
        _WELL_FORMED_NAMES.clear()
    _WELL_FORMED_NAMES.add(encoded)
    return None


def _constraints_problem(nc: x509.NameConstraints) -> str | None:
    """Subtrees that are not well formed for their name form (RFC 5280 4.2.1.10)."""
    for subtree in [*(nc.permitted_subtrees or ()), *(nc.excluded_subtrees or ())]:
        if isinstance(subtree, x509.DNSName):
            if subtree.value and not names.valid_dns_constraint(subtree.value):
                return f"nameConstraints has a malformed dNSName subtree {subtree.value!r}"
        elif isinstance(subtree, x509.RFC822Name):
            if not names.valid_email_constraint(subtree.value):
                return f"nameConstraints has a malformed rfc822Name subtree {subtree.value!r}"
        elif isinstance(subtree, x509.IPAddress) and not isinstance(
            subtree.value, ipaddress.IPv4Network | ipaddress.IPv6Network
        ):
            return f"nameConstraints has an iPAddress subtree without a mask: {subtree.value}"
    return None


def analyze(cert: x509.Certificate) -> CertInfo:
    """Parse and pre-judge one certificate. Never raises: defects become fields."""
    try:
        der_bytes = der_of(cert)
    except Exception as exc:  # a certificate cryptography cannot even re-encode
        return _unparseable(cert, exc)
    return analyze_der(cert, der_bytes)


def analyze_der(
    cert: x509.Certificate, der_bytes: bytes, fingerprint: bytes | None = None
) -> CertInfo:
    """`analyze` for a caller that already has the DER (and maybe its SHA-256, else
    computed when asked for). Never raises."""
    try:
        der = split_certificate(der_bytes)
        if der.serial[:1] and (der.serial[0] & 0x80 or not any(der.serial)):
            # cryptography warns about a non-positive serial whenever it parses the rest
            # of such a certificate; several real roots have serial 0, and the verdict is
            # ours to give, so the warning is dropped (only for these certificates: the
            # warnings machinery is too slow for every handshake).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return _analyze(cert, der_bytes, der, fingerprint=fingerprint)
        return _analyze(cert, der_bytes, der, fingerprint=fingerprint)
    except Exception as exc:  # a parser surprise anywhere means the certificate is malformed
        return _unparseable(cert, exc)


def _unparseable(cert: x509.Certificate, exc: Exception) -> CertInfo:
    """A CertInfo that fails the first check, for a certificate we could not even read."""
    der = cert.public_bytes(serialization.Encoding.DER)
    fingerprint = hashlib.sha256(der).digest()
    epoch = datetime.fromtimestamp(0, UTC)
    return CertInfo(
        cert=cert, der=der, _fingerprint=fingerprint, subject_der=fingerprint, issuer_der=b"",
        self_issued=False, loop_key=(fingerprint, fingerprint), _key_id=fingerprint,
        not_before=epoch, not_after=epoch, public_key=None,
        key_desc="unknown key", unparseable=True,
        malformed=f"cannot be parsed: {describe_parse_error(exc)}",
        _description=f"(unparseable certificate, SHA-256 {fingerprint.hex()[:16]}...)",
        _subject=x509.Name([]), _issuer=x509.Name([]),
    )


def _analyze(
    cert: x509.Certificate, der_bytes: bytes, der: CertificateDER, fast: bool = True,
    fingerprint: bytes | None = None,
) -> CertInfo:
    """`analyze` on the split DER; ``fast`` lets `derext` read the extensions it can
    (tests turn it off to compare with cryptography's reading)."""
    key: CertificatePublicKeyTypes | None = None
    key_desc, weak_key, key_problem = "unknown key", None, None
    try:
        key = cert.public_key()
        key_desc, weak_key = _key_description(key, der.spki)
    except UnsupportedAlgorithm:
        weak_key = "the public key algorithm is not supported"
    except ValueError as exc:
        key_problem = f"the public key cannot be parsed: {describe_parse_error(exc)}"
    # By position, what is known so far (a call with sixteen keywords costs more than the
    # rest of building the CertInfo); the extension readers fill in the rest.
    info = CertInfo(
        cert,
        der_bytes,  # der
        der.subject,  # subject_der
        der.issuer,  # issuer_der
        der.subject == der.issuer,  # self_issued
        (der.subject, der.spki),  # loop_key
        cert.not_valid_before_utc,  # not_before
        cert.not_valid_after_utc,  # not_after
        key,  # public_key
        key_desc,
        der.tbs,
        der.signature_algorithm,
        der.serial,
        weak_key,
        der.subject == _EMPTY_NAME,  # empty_subject
        fingerprint,  # _fingerprint
    )
    if der.signature_algorithm not in _ACCEPTED_ALGORITHM_IDS:
        info.weak_signature = _signature_weakness(cert)
    try:
        info.version = cert.version
    except x509.InvalidVersion as exc:
        info.malformed = f"invalid version: {exc}"
        return info
    quick = derext.read_extensions(der.extensions) if (
        fast and info.version is V3) else None
    try:
        defect = _read_extensions(info, quick if quick is not None
                                  else _parsed_extensions(cert.extensions))
    except Exception as exc:  # any parser complaint about an extension is "malformed"
        info.malformed = f"an extension cannot be parsed: {describe_parse_error(exc)}"
        info._dns_label = None  # not named by the SAN read before the failure
        return info
    info.malformed = _structure_problem(info, der) or defect or key_problem
    return info
