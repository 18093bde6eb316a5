"""Certificate path building and the RFC 5280 section 6 checks.

The module has three layers, each usable on its own:

1. `analyze` turns a certificate into a `CertInfo`: the DER split once by a small reader
   of our own, every extension parsed once, every path-independent defect (malformed
   encoding, unknown critical extension, weak key, weak signature algorithm, profile
   violations) found once. Infos are cached by DER, so a validator that sees the same
   intermediates on every handshake parses them once.
2. Check functions decide; `cert_failure` asks them for the first failure (fast, no
   words for checks that pass), `cert_checks`/`link_check`/`path_checks` yield an
   `Outcome` for every check for ``explain``. Both ask the very same decision functions,
   so the report can never disagree with the verdict.
3. `PathBuilder` searches depth first from the leaf towards any trust anchor, pruning a
   branch as soon as a certificate on it fails, backtracking to alternatives (cross-signs,
   re-issued intermediates), and keeping the most relevant failure for the error.

Decisions (each one is a place where RFC 5280 leaves room or the Web PKI is stricter). The
profile is the intersection of RFC 5280 and the CA/Browser Forum Baseline Requirements:
when either says a certificate is invalid, it is rejected.

* Trust anchors are certificates. Their own self-signature is never checked, but their
  validity period, key strength, structure (critical basicConstraints with cA, a
  subjectKeyIdentifier, no extendedKeyUsage, an authorityKeyIdentifier that is only a
  keyIdentifier equal to the subjectKeyIdentifier), keyUsage, pathLenConstraint and
  nameConstraints are enforced (RFC 5937 style), since a root that says it is not a CA
  or has expired should not be trusted to vouch for anything. A v1 anchor (no extensions
  at all) is still accepted as a CA; its serial number is not judged (real roots have
  serial 0). In a curated store (`TrustStore.curated`: a root program's bundle) the
  encoding rules in parentheses are not held against the anchors, whose age they
  postdate; everything else still is.
* A leaf whose exact DER is in the trust store is accepted as a one-certificate path
  (RFC 5280 6.1 allows the target to be a trust anchor); all leaf checks still apply.
* Structure (RFC 5280 4.1, 4.2): the outer signatureAlgorithm must equal the TBS
  signature field byte for byte; an extension may appear once; AKI and SKI must not be
  critical; every certificate but a self-issued one carries an AKI keyIdentifier; CA
  certificates carry an SKI, a critical basicConstraints and a non-empty subject; an
  empty subject needs a critical SAN and a SAN is never empty; nameConstraints,
  policyConstraints and inhibitAnyPolicy must be critical, and nameConstraints appear
  only in CA certificates, with well-formed subtrees.
* End-entity (CA/B BR 7.1.2.7): v3 only; basicConstraints cA must be false and keyUsage
  must not assert keyCertSign (a CA certificate is never a leaf); a TLS server
  certificate lists id-kp-serverAuth in a non-critical extendedKeyUsage without
  anyExtendedKeyUsage, code signing, e-mail protection, time stamping, OCSP signing or
  the CT precertificate purpose; a critical SAN goes with an empty subject only; a
  subject CN that names a host repeats a SAN entry exactly (CA/B BR 7.1.4.3, checked
  with the server name). A SAN dNSName that is not a well-formed host or ``*.`` wildcard
  name never matches anything.
* Names chain by their encoding (byte equality, as most validators do); only when no
  candidate matches that way are parsed names compared (RFC 5280 7.1 equivalence, e.g.
  the same name in another string type). Validity is compared at one-second granularity.
* Name constraints cover dNSName, iPAddress, rfc822Name, uniformResourceIdentifier and
  directoryName. A constraint on any other name form rejects a certificate below it that
  carries that form (RFC 5280 4.2.1.10: "process the constraint or reject"). A name that
  is not even well-formed for its form (a dNSName with an empty label, an iPAddress that
  is a range, an rfc822Name with two '@') is outside every constraint on that form. The
  subject CN of the leaf is checked as a dNSName only when it looks like one and there
  is no SAN.
* Certificate policies are recognised (so a critical policy extension is not "unknown")
  but not processed: the user-initial-policy-set is any-policy and explicit policy is not
  required, as in every browser.
* Path length counts non-self-issued intermediates (RFC 5280 6.1.4 (l)); ``max_depth``
  bounds the number of intermediates between leaf and anchor.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import warnings
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
# CA/B BR 7.1.2.7.10: purposes a TLS server certificate must not also serve.
_PRECERTIFICATE_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.4")
_FORBIDDEN_SERVER_EKUS = {
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    _PRECERTIFICATE_SIGNING: "precertificateSigning",
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
            if len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


# ---------------------------------------------------------------------------------------
# A tiny DER reader: just enough to split a certificate into the pieces we need without
# asking cryptography to re-encode them (tbs_certificate_bytes, public_bytes of the key
# and of names each serialize anew), and to see the fields the parser normalizes away
# (the TBS signature AlgorithmIdentifier, the raw serial number).


class DERError(ValueError):
    """The bytes are not the DER this reader expects."""


def read_tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element starting at ``pos``. Only what a
    certificate uses: low tag numbers and definite lengths of at most four octets."""
    if pos + 2 > end:
        raise DERError("truncated element")
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise DERError("bad length")
        length = int.from_bytes(buf[pos:pos + count], "big")
        pos += count
    if tag & 0x1F == 0x1F:
        raise DERError("high tag numbers are not used in certificates")
    if pos + length > end:
        raise DERError("element runs past its container")
    return tag, pos, pos + length


@dataclass(slots=True)
class CertificateDER:
    """The raw pieces of a certificate: whole TLVs, except ``serial`` (INTEGER contents)."""

    tbs: bytes
    tbs_signature: bytes  # tbsCertificate.signature AlgorithmIdentifier
    signature_algorithm: bytes  # Certificate.signatureAlgorithm
    serial: bytes
    issuer: bytes
    subject: bytes
    spki: bytes


def split_certificate(der: bytes) -> CertificateDER:
    """Split a DER certificate (RFC 5280 4.1) into its raw pieces; raises DERError."""
    tag, start, end = read_tlv(der, 0, len(der))
    if tag != 0x30 or end != len(der):
        raise DERError("not a single SEQUENCE")
    tag, tbs_body, tbs_end = read_tlv(der, start, end)  # the TBS TLV starts at `start`
    if tag != 0x30:
        raise DERError("tbsCertificate is not a SEQUENCE")
    tag, _, alg_end = read_tlv(der, tbs_end, end)
    if tag != 0x30:
        raise DERError("signatureAlgorithm is not a SEQUENCE")
    pos = tbs_body
    tag, _, after = read_tlv(der, pos, tbs_end)
    if tag == 0xA0:  # [0] EXPLICIT version
        pos = after
        tag, _, after = read_tlv(der, pos, tbs_end)
    if tag != 0x02:
        raise DERError("serialNumber is not an INTEGER")
    _, serial_body, _ = read_tlv(der, pos, tbs_end)
    serial = der[serial_body:after]
    pos = after
    fields: list[bytes] = []
    for _ in range(5):  # signature, issuer, validity, subject, subjectPublicKeyInfo
        tag, _, after = read_tlv(der, pos, tbs_end)
        if tag != 0x30:
            raise DERError("tbsCertificate field is not a SEQUENCE")
        fields.append(der[pos:after])
        pos = after
    return CertificateDER(
        tbs=der[start:tbs_end], tbs_signature=fields[0], signature_algorithm=der[tbs_end:alg_end],
        serial=serial, issuer=fields[1], subject=fields[3], spki=fields[4],
    )


_EMPTY_NAME = b"\x30\x00"
_COMMON_NAME_OID = b"\x55\x04\x03"  # 2.5.4.3
_STRING_CODECS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1",
                  0x1E: "utf-16-be", 0x1C: "utf-32-be"}


def common_names_of(name_der: bytes) -> list[str]:
    """The commonName values of an encoded Name, decoded (undecodable values are kept as
    replacement text, so they still count as present and compare unequal to anything)."""
    out: list[str] = []
    try:
        _, pos, end = read_tlv(name_der, 0, len(name_der))
        while pos < end:
            _, rdn, pos = read_tlv(name_der, pos, end)
            while rdn < pos:
                _, attr, rdn = read_tlv(name_der, rdn, pos)
                tag, oid, oid_end = read_tlv(name_der, attr, rdn)
                if name_der[oid:oid_end] != _COMMON_NAME_OID:
                    continue
                tag, value, value_end = read_tlv(name_der, oid_end, rdn)
                codec = _STRING_CODECS.get(tag, "latin-1")
                out.append(name_der[value:value_end].decode(codec, errors="replace"))
    except DERError:
        out.append("\ufffd")
    return out


_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")  # id-ecPublicKey


def _spki_problem(spki: bytes) -> str | None:
    """An EC key must name its curve (CA/B BR 7.1.3.1.2): explicit parameters describe a
    curve the relying party would have to trust on the certificate's word."""
    _, body, end = read_tlv(spki, 0, len(spki))
    tag, alg_body, alg_end = read_tlv(spki, body, end)
    tag, oid_body, oid_end = read_tlv(spki, alg_body, alg_end)
    if tag != 0x06 or spki[oid_body:oid_end] != _EC_PUBLIC_KEY:
        return None
    if oid_end >= alg_end or spki[oid_end] != 0x06:
        return "EC key with explicit curve parameters (a named curve is required)"
    return None


def _name_problem(name: bytes) -> str | None:
    """Is an encoded Name well formed (RFC 5280 4.1.2.4: a SEQUENCE of non-empty SETs of
    type-and-value SEQUENCEs, strings that decode)? Checked here because the parsed names
    are only built when needed."""
    try:
        tag, pos, end = read_tlv(name, 0, len(name))
        if tag != 0x30 or end != len(name):
            return "is not a SEQUENCE"
        while pos < end:
            tag, rdn, pos = read_tlv(name, pos, end)
            if tag != 0x31 or rdn == pos:
                return "has an empty or mistagged RelativeDistinguishedName"
            while rdn < pos:
                tag, attr, rdn = read_tlv(name, rdn, pos)
                if tag != 0x30:
                    return "has a mistagged attribute"
                tag, oid, oid_end = read_tlv(name, attr, rdn)
                if tag != 0x06 or oid == oid_end or name[oid_end - 1] & 0x80:
                    return "has a malformed attribute type"
                tag, value, value_end = read_tlv(name, oid_end, rdn)
                if value_end != rdn:
                    return "has trailing data in an attribute"
                raw = name[value:value_end]
                if tag == 0x0C:
                    raw.decode("utf-8")
                elif tag == 0x13 or tag == 0x16:  # PrintableString, IA5String
                    raw.decode("ascii")
                elif (tag == 0x1E and len(raw) % 2) or (tag == 0x1C and len(raw) % 4):
                    return "has a BMPString or UniversalString of a broken length"
    except (DERError, UnicodeDecodeError):
        return "cannot be parsed"
    return None


# Encoded names already found well formed: issuer names repeat on every leaf of a CA.
_WELL_FORMED_NAMES: set[bytes] = set()


def _serial_problem(raw: bytes) -> str | None:
    """RFC 5280 4.1.2.2 on the encoded INTEGER: positive, at most 20 octets."""
    if not raw:
        return "serial number is empty (RFC 5280 4.1.2.2)"
    if raw[0] & 0x80 or not any(raw):
        return "serial number is not positive (RFC 5280 4.1.2.2)"
    if len(raw) > 20:
        return "serial number is longer than 20 octets (RFC 5280 4.1.2.2)"
    return None


# ---------------------------------------------------------------------------------------
# Layer 1: what a certificate says, parsed once.


@dataclass(slots=True, eq=False)
class CertInfo:
    """Everything the checks need from one certificate. Fields are None when absent.
    Treated as immutable once built (it is shared through the cache)."""

    cert: x509.Certificate
    fingerprint: bytes
    subject_der: bytes  # the Name TLVs, as encoded: what path building chains on
    issuer_der: bytes
    self_issued: bool
    loop_key: tuple[bytes, bytes]
    key_id: bytes  # SHA-256 of the SubjectPublicKeyInfo: what a signature really depends on
    dns_label: str | None
    not_before: datetime
    not_after: datetime
    public_key: CertificatePublicKeyTypes | None
    key_desc: str
    tbs: bytes = b""
    version: x509.Version | None = None
    malformed: str | None = None  # a structural defect: fails in every role
    serial_problem: str | None = None  # judged for every role but trust anchors
    unhandled_critical: tuple[str, ...] = ()
    weak_key: str | None = None
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
    empty_subject: bool = False
    ski: bytes | None = None
    aki: bytes | None = None
    aki_present: bool = False
    aki_names_issuer: bool = False  # authorityCertIssuer or authorityCertSerialNumber
    _description: str | None = None
    _subject: x509.Name | None = None
    _issuer: x509.Name | None = None
    _common_names: list[str] | None = None
    # Timeless check verdicts by (role, usage, require_digital_signature); see cert_failure.
    verdicts: dict[tuple[str, str, bool], Outcome | None] = field(default_factory=dict)

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
    (see `_names_problem`), so the fallback is only a guard for direct CertInfo use."""
    try:
        return getattr(cert, which)  # type: ignore[no-any-return]
    except ValueError:
        return x509.Name([])


def oid_name(oid: x509.ObjectIdentifier) -> str:
    """The OID's short name when cryptography knows one, else its dotted form."""
    known = getattr(oid, "_name", "Unknown OID")
    return oid.dotted_string if known == "Unknown OID" else str(known)


def _key_description(key: CertificatePublicKeyTypes) -> tuple[str, str | None]:
    """(words for the key, weakness or None): RSA below 2048 bits or with a modulus that
    is not a whole number of octets, curves other than the three NIST curves TLS 1.3 signs
    with, and DSA are refused (CA/B BR 6.1.5)."""
    if isinstance(key, rsa.RSAPublicKey):
        bits = key.key_size
        desc = f"RSA {bits} bits"
        if bits < MIN_RSA_BITS:
            return desc, f"{desc} (minimum is {MIN_RSA_BITS})"
        if bits % 8:
            return desc, f"{desc} (the modulus size must be a multiple of 8)"
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
    info.dns_names = tuple(n.value for n in san if type(n) is x509.DNSName)
    info.ip_addresses = tuple(
        n.value for n in san if type(n) is x509.IPAddress
        and isinstance(n.value, ipaddress.IPv4Address | ipaddress.IPv6Address))
    return None


def _nc(info: CertInfo, value: Any, critical: bool) -> str | None:
    info.name_constraints = value
    return None if critical else "nameConstraints is not marked critical (RFC 5280 4.2.1.10)"


def _ski(info: CertInfo, value: Any, critical: bool) -> str | None:
    info.ski = value.digest
    return "subjectKeyIdentifier is marked critical (RFC 5280 4.2.1.2)" if critical else None


def _aki(info: CertInfo, value: Any, critical: bool) -> str | None:
    info.aki_present = True
    if critical:
        return "authorityKeyIdentifier is marked critical (RFC 5280 4.2.1.1)"
    if value.key_identifier is None:
        return "authorityKeyIdentifier has no keyIdentifier (RFC 5280 4.2.1.1)"
    info.aki = value.key_identifier
    info.aki_names_issuer = bool(value.authority_cert_issuer) or (
        value.authority_cert_serial_number is not None)
    return None


def _must_be_critical(what: str, clause: str) -> Callable[[CertInfo, Any, bool], str | None]:
    def check(info: CertInfo, value: Any, critical: bool) -> str | None:
        return None if critical else f"{what} is not marked critical (RFC 5280 {clause})"
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


def _read_extensions(info: CertInfo, extensions: x509.Extensions) -> str | None:
    """Fill ``info`` from the extensions; the first structural defect, or None. Raises
    whatever the parser raises for an extension it cannot decode."""
    critical_unknown: list[str] = []
    defect: str | None = None
    for ext in extensions:
        oid = ext.oid
        handler = _EXTENSION_FIELDS.get(oid)
        if handler is None:
            if ext.critical:
                critical_unknown.append(oid_name(oid))
            continue
        value = ext.value
        if type(value) is x509.UnrecognizedExtension:
            raise ValueError(f"extension {oid.dotted_string} could not be parsed")
        problem = handler(info, value, ext.critical)
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
    for label, encoded in (("issuer", info.issuer_der), ("subject", info.subject_der)):
        if encoded in _WELL_FORMED_NAMES:
            continue
        problem = _name_problem(encoded)
        if problem:
            return f"{label} name {problem} (RFC 5280 4.1.2.4)"
        if len(_WELL_FORMED_NAMES) >= 4096:
            _WELL_FORMED_NAMES.clear()
        _WELL_FORMED_NAMES.add(encoded)
    if info.version is not x509.Version.v3 and len(info.cert.extensions) > 0:
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
    if not info.aki_present and not info.self_issued and info.version is x509.Version.v3:
        return ("has no authorityKeyIdentifier, which every certificate but a self-signed "
                "one must carry (RFC 5280 4.2.1.1)")
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
        der_bytes = cert.public_bytes(serialization.Encoding.DER)
        der = split_certificate(der_bytes)
        if der.serial[:1] and (der.serial[0] & 0x80 or not any(der.serial)):
            # cryptography warns about a non-positive serial whenever it parses the rest
            # of such a certificate; several real roots have serial 0, and the verdict is
            # ours to give, so the warning is dropped (only for these certificates: the
            # warnings machinery is too slow for every handshake).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return _analyze(cert, der_bytes, der)
        return _analyze(cert, der_bytes, der)
    except Exception as exc:  # a parser surprise anywhere means the certificate is malformed
        return _unparseable(cert, exc)


def _unparseable(cert: x509.Certificate, exc: Exception) -> CertInfo:
    """A CertInfo that fails the first check, for a certificate we could not even read."""
    der = cert.public_bytes(serialization.Encoding.DER)
    fingerprint = hashlib.sha256(der).digest()
    epoch = datetime.fromtimestamp(0, UTC)
    return CertInfo(
        cert=cert, fingerprint=fingerprint, subject_der=fingerprint, issuer_der=b"",
        self_issued=False, loop_key=(fingerprint, fingerprint), key_id=fingerprint,
        dns_label=None, not_before=epoch, not_after=epoch, public_key=None,
        key_desc="unknown key", malformed=f"cannot be parsed: {exc}",
        _description=f"(unparseable certificate, SHA-256 {fingerprint.hex()[:16]}...)",
        _subject=x509.Name([]), _issuer=x509.Name([]),
    )


def _analyze(cert: x509.Certificate, der_bytes: bytes, der: CertificateDER) -> CertInfo:
    fingerprint = hashlib.sha256(der_bytes).digest()
    key: CertificatePublicKeyTypes | None = None
    key_desc, weak_key, key_problem = "unknown key", None, None
    try:
        key = cert.public_key()
        key_desc, weak_key = _key_description(key)
        if isinstance(key, ec.EllipticCurvePublicKey):
            weak_key = _spki_problem(der.spki) or weak_key
    except UnsupportedAlgorithm:
        weak_key = "the public key algorithm is not supported"
    except ValueError as exc:
        key_problem = f"the public key cannot be parsed: {exc}"
    info = CertInfo(
        cert=cert,
        fingerprint=fingerprint,
        subject_der=der.subject,
        issuer_der=der.issuer,
        self_issued=der.subject == der.issuer,
        loop_key=(der.subject, der.spki),
        key_id=hashlib.sha256(der.spki).digest(),
        dns_label=None,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        public_key=key,
        key_desc=key_desc,
        tbs=der.tbs,
        serial_problem=_serial_problem(der.serial),
        weak_key=weak_key,
        weak_signature=_signature_weakness(cert),
        empty_subject=der.subject == _EMPTY_NAME,
    )
    try:
        info.version = cert.version
    except x509.InvalidVersion as exc:
        info.malformed = f"invalid version: {exc}"
        return info
    try:
        defect = _read_extensions(info, cert.extensions)
    except Exception as exc:  # any parser complaint about an extension is "malformed"
        info.malformed = f"an extension cannot be parsed: {exc}"
        return info
    info.malformed = _structure_problem(info, der) or defect or key_problem
    info.dns_label = _first_dns(info.san)
    return info


# ---------------------------------------------------------------------------------------
# Signatures


def verify_signature(
    issuer_key: CertificatePublicKeyTypes | None, cert: x509.Certificate, tbs: bytes = b""
) -> str | None:
    """Check ``cert``'s signature with ``issuer_key``: None when it verifies, else why not.
    ``tbs`` is the certificate's tbsCertificate DER when the caller already has it.

    The padding (PKCS#1 v1.5 or PSS with its exact salt length and MGF) and hash come from
    the certificate's own signatureAlgorithm; a key of the wrong type never verifies."""
    if issuer_key is None:
        return "the issuer's public key cannot be used"
    known = _FIXED_PARAMETERS.get(cert.signature_algorithm_oid)
    try:
        params, algorithm = known if known is not None else (
            cert.signature_algorithm_parameters, cert.signature_hash_algorithm)
    except Exception as exc:  # unsupported algorithm or unparseable parameters
        return f"the signature algorithm cannot be used: {exc}"
    data, signature = tbs or cert.tbs_certificate_bytes, cert.signature
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


# Algorithms whose parameters are fixed by the OID (RFC 4055 / RFC 5758): no need to ask the
# parser for fresh objects on every certificate. RSA-PSS carries its own parameters.
_FIXED_PARAMETERS: dict[x509.ObjectIdentifier, tuple[object, hashes.HashAlgorithm]] = {
    SignatureAlgorithmOID.RSA_WITH_SHA256: (padding.PKCS1v15(), hashes.SHA256()),
    SignatureAlgorithmOID.RSA_WITH_SHA384: (padding.PKCS1v15(), hashes.SHA384()),
    SignatureAlgorithmOID.RSA_WITH_SHA512: (padding.PKCS1v15(), hashes.SHA512()),
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: (ec.ECDSA(hashes.SHA256()), hashes.SHA256()),
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: (ec.ECDSA(hashes.SHA384()), hashes.SHA384()),
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: (ec.ECDSA(hashes.SHA512()), hashes.SHA512()),
}


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
        verdict = verify_signature(issuer.public_key, subject.cert, subject.tbs)
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
    curated_anchors: bool = False  # the store is a root program's: see TrustStore.curated


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


# Each timeless check is a decision function, returning (reason, detail) on failure and
# None on success, paired with the words for a pass (asked for only by reports). The fast
# path (`cert_failure`) and the report (`cert_checks`) run the same decision functions.

Verdict = tuple[Reason, str]
Decide = Callable[[CertInfo, Role, "Context"], "Verdict | None"]
Words = Callable[[CertInfo, Role, "Context"], str]


def _is_leaf(role: Role) -> bool:
    return role == "leaf" or role == "leaf-anchor"


def _well_formed(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    if info.malformed:
        return Reason.malformed, f"is malformed: {info.malformed}"
    if info.serial_problem and role != "anchor":
        return Reason.malformed, f"is malformed: {info.serial_problem}"
    return None


def _critical_extensions(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    if info.unhandled_critical:
        return (Reason.unhandled_critical_extension,
                f"has an unhandled critical extension: {', '.join(info.unhandled_critical)}")
    return None


def _public_key(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    if info.weak_key:
        return Reason.weak_key, f"has a weak key: {info.weak_key}"
    return None


def _signature_algorithm(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    if info.weak_signature and role != "anchor" and role != "leaf-anchor":
        return Reason.weak_signature, f"is signed with a weak algorithm: {info.weak_signature}"
    return None


def _leaf_profile(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    """CA/B BR 7.1.1 and 7.1.2.7: a v3 end-entity certificate that is not a CA; for a TLS
    server, a critical SAN only with an empty subject (RFC 5280 4.2.1.6 otherwise)."""
    if info.version is not x509.Version.v3:
        return (Reason.malformed,
                "is malformed: it is not an X.509 v3 certificate (CA/B BR 7.1.1)")
    if info.ca:
        return (Reason.key_usage, "is a CA certificate (basicConstraints cA is true) but is "
                "used as an end-entity certificate (CA/B BR 7.1.2.7.8)")
    if ctx.usage == "server" and info.san_critical and not info.empty_subject:
        return (Reason.malformed, "is malformed: its subjectAltName is critical although the "
                "subject is not empty (CA/B BR 7.1.2.7.12)")
    return None


def _leaf_key_usage_ok(info: CertInfo, require_digital_signature: bool) -> bool:
    """TLS 1.3 authenticates only by signature, so digitalSignature is required; for TLS 1.2
    an RSA key may instead allow keyEncipherment (RFC 5246 7.4.2)."""
    ku = info.key_usage
    assert ku is not None
    if ku.digital_signature:
        return True
    return (not require_digital_signature and isinstance(info.public_key, rsa.RSAPublicKey)
            and ku.key_encipherment)


def _leaf_key_usage(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    ku = info.key_usage
    if ku is None:
        return None
    if ku.key_cert_sign:
        return (Reason.key_usage, "has a keyUsage extension that asserts keyCertSign, which an "
                "end-entity certificate must not (RFC 5280 4.2.1.9, CA/B BR 7.1.2.7.11)")
    if not _leaf_key_usage_ok(info, ctx.require_digital_signature):
        return (Reason.key_usage,
                "has a keyUsage extension that does not allow digitalSignature")
    return None


def _leaf_key_usage_words(info: CertInfo, role: Role, ctx: Context) -> str:
    if info.key_usage is None:
        return "no keyUsage extension (any usage)"
    return "allows signing the handshake"


def _eku_names(eku: frozenset[x509.ObjectIdentifier]) -> str:
    return ", ".join(sorted(oid_name(o) for o in eku)) or "(empty)"


def _leaf_eku(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    """A TLS server certificate (CA/B BR 7.1.2.7.10): a non-critical EKU that lists
    serverAuth and no purpose the BRs forbid. A client certificate (RFC 5280 4.2.1.12):
    no EKU, or one that lists clientAuth or anyExtendedKeyUsage."""
    wanted = _USAGE_OIDS[ctx.usage]
    eku = info.eku
    if ctx.usage == "client":
        if eku is None or wanted in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
            return None
        return (Reason.extended_key_usage,
                f"does not permit {wanted._name} (extendedKeyUsage: {_eku_names(eku)})")
    if eku is None:
        return (Reason.extended_key_usage, "has no extendedKeyUsage extension; a TLS server "
                "certificate must list serverAuth (CA/B BR 7.1.2.7.10)")
    if wanted not in eku:
        return (Reason.extended_key_usage,
                f"does not permit {wanted._name} (extendedKeyUsage: {_eku_names(eku)})")
    forbidden = sorted(name for oid, name in _FORBIDDEN_SERVER_EKUS.items() if oid in eku)
    if forbidden:
        return (Reason.extended_key_usage, f"has an extendedKeyUsage that also allows "
                f"{', '.join(forbidden)}, which a TLS server certificate must not "
                f"(CA/B BR 7.1.2.7.10)")
    if info.eku_critical:
        return (Reason.extended_key_usage, "has a critical extendedKeyUsage extension, which "
                "a TLS server certificate must not (CA/B BR 7.1.2.7.6)")
    return None


def _eku_words(info: CertInfo, role: Role, ctx: Context) -> str:
    if info.eku is None:
        return "no extendedKeyUsage extension (any usage)"
    return f"permits {_USAGE_OIDS[ctx.usage]._name}"


def _ca_basic_constraints(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    """RFC 5280 6.1.4 (k): an issuer must assert cA. A v1 trust anchor without extensions
    is grandfathered; a v1 intermediate is never a CA."""
    if info.version is not x509.Version.v3:
        if role == "anchor":
            return None
        return (Reason.not_a_ca, "is not a CA (an X.509 v1 certificate cannot be one) but is "
                "used as an issuer")
    if not info.ca:
        why = "basicConstraints is absent" if info.ca is None else "basicConstraints cA is false"
        return Reason.not_a_ca, f"is not a CA ({why}) but is used as an issuer"
    if not info.bc_critical and not (role == "anchor" and ctx.curated_anchors):
        return (Reason.malformed, "is malformed: a CA certificate must mark basicConstraints "
                "critical (RFC 5280 4.2.1.9)")
    return None


def _ca_basic_constraints_words(info: CertInfo, role: Role, ctx: Context) -> str:
    if info.ca is None:
        return "v1 trust anchor (no extensions)"
    limit = "" if info.path_len is None else f", pathLenConstraint {info.path_len}"
    return f"CA{limit}"


def _ca_profile(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    """RFC 5280 4.1.2.6 / 4.2.1.2 for CA certificates, and CA/B BR 7.1.2.1 for roots."""
    if info.version is not x509.Version.v3 or (role == "anchor" and ctx.curated_anchors):
        return None
    if info.empty_subject:
        return (Reason.malformed, "is malformed: a CA certificate must have a non-empty "
                "subject (RFC 5280 4.1.2.6)")
    if info.ski is None:
        return (Reason.malformed, "is malformed: a CA certificate must carry a "
                "subjectKeyIdentifier (RFC 5280 4.2.1.2)")
    if role == "anchor" and info.self_issued and info.aki_present:
        if info.aki_names_issuer:
            return (Reason.malformed, "is malformed: the authorityKeyIdentifier of a root "
                    "must hold only a keyIdentifier (CA/B BR 7.1.2.1.3)")
        if info.aki != info.ski:
            return (Reason.malformed, "is malformed: the authorityKeyIdentifier of a root "
                    "must equal its subjectKeyIdentifier (CA/B BR 7.1.2.1.3)")
    return None


def _ca_key_usage(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    if info.key_usage is None or info.key_usage.key_cert_sign:
        return None
    return (Reason.key_usage,
            "has a keyUsage extension without keyCertSign but is used as an issuer")


def _ca_key_usage_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return "no keyUsage extension" if info.key_usage is None else "keyCertSign"


def _ca_eku(info: CertInfo, role: Role, ctx: Context) -> Verdict | None:
    """A root carries no EKU (CA/B BR 7.1.2.1.2); on a subordinate CA an EKU restricts what
    it may issue, so it must list the usage or anyExtendedKeyUsage (CA/B BR 7.1.2.2)."""
    eku = info.eku
    if eku is None:
        return None
    if role == "anchor" and info.self_issued and not ctx.curated_anchors:
        return (Reason.extended_key_usage, "is a root with an extendedKeyUsage extension, "
                "which a root must not carry (CA/B BR 7.1.2.1.2)")
    wanted = _USAGE_OIDS[ctx.usage]
    if wanted in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
        return None
    return (Reason.extended_key_usage,
            f"does not permit {wanted._name} (extendedKeyUsage: {_eku_names(eku)})")


def _well_formed_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return "v3 structure and extensions parse"


def _critical_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return "all critical extensions understood"


def _key_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return info.key_desc


def _signature_algorithm_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return oid_name(info.cert.signature_algorithm_oid)


def _leaf_profile_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return "v3 end-entity certificate"


def _ca_profile_words(info: CertInfo, role: Role, ctx: Context) -> str:
    return "subject and key identifiers present"


Check = tuple[str, Decide, Words]

_COMMON_CHECKS: tuple[Check, ...] = (
    ("critical extensions", _critical_extensions, _critical_words),
    ("public key", _public_key, _key_words),
)
_SIGNED_CHECKS: tuple[Check, ...] = (
    ("signature algorithm", _signature_algorithm, _signature_algorithm_words),
)
_LEAF_CHECKS: tuple[Check, ...] = (
    ("end-entity profile", _leaf_profile, _leaf_profile_words),
    ("key usage", _leaf_key_usage, _leaf_key_usage_words),
    ("extended key usage", _leaf_eku, _eku_words),
)
_CA_CHECKS: tuple[Check, ...] = (
    ("basic constraints", _ca_basic_constraints, _ca_basic_constraints_words),
    ("CA profile", _ca_profile, _ca_profile_words),
    ("key usage", _ca_key_usage, _ca_key_usage_words),
    ("extended key usage", _ca_eku, _eku_words),
)
_WELL_FORMED: Check = ("well-formed", _well_formed, _well_formed_words)
_CHECKS_BY_ROLE: dict[str, tuple[Check, ...]] = {
    "leaf": _COMMON_CHECKS + _SIGNED_CHECKS + _LEAF_CHECKS,
    "leaf-anchor": _COMMON_CHECKS + _LEAF_CHECKS,
    "intermediate": _COMMON_CHECKS + _SIGNED_CHECKS + _CA_CHECKS,
    "anchor": _COMMON_CHECKS + _CA_CHECKS,
}


def _timeless_checks(info: CertInfo, role: Role, ctx: Context) -> Iterator[Outcome]:
    """The checks whose verdict never changes for a certificate in a role: all but validity.
    A malformed certificate gets no further checks."""
    name, decide, words = _WELL_FORMED
    failure = decide(info, role, ctx)
    if failure is not None:
        yield _bad(info, name, failure[0], failure[1], role)
        return
    yield _ok(info, name, words(info, role, ctx), role)
    for name, decide, words in _CHECKS_BY_ROLE[role]:
        failure = decide(info, role, ctx)
        if failure is None:
            yield _ok(info, name, words(info, role, ctx), role)
        else:
            yield _bad(info, name, failure[0], failure[1], role)


def _timeless_failure(info: CertInfo, role: Role, ctx: Context) -> Outcome | None:
    """The first failure of `_timeless_checks`, without wording the checks that pass."""
    failure = _well_formed(info, role, ctx)
    if failure is not None:
        return _bad(info, _WELL_FORMED[0], failure[0], failure[1], role)
    for check in _CHECKS_BY_ROLE[role]:
        failure = check[1](info, role, ctx)
        if failure is not None:
            return _bad(info, check[0], failure[0], failure[1], role)
    return None


def cert_checks(info: CertInfo, role: Role, ctx: Context) -> Iterator[Outcome]:
    """Every check on one certificate that does not depend on the rest of the path; the
    validity period comes last, as in `cert_failure`."""
    malformed = False
    for outcome in _timeless_checks(info, role, ctx):
        malformed = malformed or (outcome.check == "well-formed" and not outcome.ok)
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
        verdict = _timeless_failure(info, role, ctx)
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
        return _ok(subject, "signature", f"verified with the key of {issuer.description}"
                   if ctx.collect else "verified", role)
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
    if not info.empty_subject and len(info.subject) == 0:
        # The parser refused a subject our structural check let through: it cannot be
        # shown to be inside any subtree, so it is reported under every form that names
        # can take in a subject.
        return [*out, ("directory", None), ("email", None), ("dns", None)]
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


def _well_formed_name(form: str, value: object) -> bool:
    """Is the name well formed for its form? One that is not cannot be shown to be inside
    or outside a subtree, so it breaks any constraint on its form."""
    if value is None:
        return False
    if form == "dns":
        return names.valid_dns_san(str(value))
    if form == "email":
        return names.valid_mailbox(str(value))
    if form == "ip":
        return isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address)
    return True


def _constrains(nc: x509.NameConstraints, form: str) -> bool:
    return any(_FORMS.get(type(s), type(s).__name__) == form
               for s in [*(nc.permitted_subtrees or ()), *(nc.excluded_subtrees or ())])


def _name_violation(
    form: str, value: object, nc: x509.NameConstraints
) -> tuple[str, x509.GeneralName | None] | None:
    """(why, subtree) if the name breaks the constraints, else None."""
    if not _well_formed_name(form, value) and _constrains(nc, form):
        return "is not well formed for its name form, under constraints on that form", None
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


def path_failure(path: list[CertInfo]) -> Outcome | None:
    """The first failure of `path_checks`, skipping the wording of path lengths that hold
    (the common case: a pathLenConstraint 0 intermediate over a leaf)."""
    for j in range(len(path) - 1, 0, -1):
        ca = path[j]
        if ca.path_len is not None and _below(path, j) > ca.path_len:
            return _check_path_length(path, j)
        if ca.name_constraints is not None:
            problem = first_failure(_check_name_constraints(path, j))
            if problem is not None:
                return problem
    return None


def _below(path: list[CertInfo], j: int) -> int:
    """Non-self-issued intermediates below path[j] (RFC 5280 6.1.4 (l))."""
    return sum(1 for i in range(j - 1, 0, -1) if not path[i].self_issued)


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
        anchors_named: Callable[[x509.Name | bytes], list[CertInfo]],
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.anchors_named = anchors_named
        self.pool: dict[bytes, list[CertInfo]] = {}
        seen: set[bytes] = set()
        for info in intermediates:
            if info.fingerprint in seen or store.contains_fingerprint(info.fingerprint):
                continue  # duplicates and anchors sent along add nothing
            seen.add(info.fingerprint)
            self.pool.setdefault(info.subject_der, []).append(info)
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
        """Anchors, then intermediates, whose subject is the child's issuer. Names are
        compared as encoded; only when that finds nothing are they compared as parsed
        names (RFC 5280 7.1: the same name in another string type still chains)."""
        anchors = self.anchors_named(child.issuer_der)
        pool = self.pool.get(child.issuer_der, [])
        if not anchors and not pool:
            anchors = self.anchors_named(child.issuer)
            pool = [p for infos in self.pool.values() for p in infos
                    if p.subject == child.issuer]
        if len(anchors) + len(pool) == 1:
            return [(anchors[0], True)] if anchors else [(pool[0], False)]
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
            problem = path_failure(new_path)
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
