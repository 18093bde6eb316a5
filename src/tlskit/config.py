"""Client and server configuration: dataclasses validated once at construction, then
immutable (``cfg.replace(groups=[...])`` makes a changed, re-validated copy).

Algorithm lists take IANA names in any case ("x25519", "P-256", "TLS_AES_128_GCM_SHA256",
"ecdsa_secp256r1_sha256"), read by `tlskit.iana` like the CLI's flags, or code points; they
are stored as tuples of the enums. Randomness, time, key logging and tracing are injected
here so the engine itself stays deterministic and free of I/O.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from . import crypto
from .channelbinding import tls_server_end_point
from .enums import (
    CertificateType,
    CipherSuite,
    ExtensionType,
    NamedGroup,
    ProtocolVersion,
    PskKeyExchangeMode,
    SignatureScheme,
)
from .errors import UsageError
from .iana import parse_cipher_suite, parse_group, parse_signature_scheme
from .psk import MAX_OFFERED, ExternalPsk, PskLookup, check_client_psks, server_lookup
from .session import MAX_TICKET_LIFETIME, SessionCache, TicketSealer
from .sessionstore import GuardedStore, MemoryStore, SessionStore
from .verifier import CertificateVerifier

if TYPE_CHECKING:
    from .certselect import CertificateRequestInfo
from .x509.der import (
    RSASSA_PSS,
    DERError,
    PssParams,
    read_tlv,
    spki_algorithm_oid,
    spki_pss_params,
    split_certificate,
)
from .x509.parsed import describe_parse_error, pem_labels

if TYPE_CHECKING:
    from .helloinfo import ClientHelloInfo
    from .x509.ct import CTPolicy

KeyLogCallback = Callable[[str, bytes, bytes], None]  # label, client_random, secret
Tracer = Callable[[str, dict[str, Any]], None]          # step name, fields
# ServerConfig.certificate_resolver: the ClientHello's info -> the certificate, or None.
CertificateResolver = Callable[["ClientHelloInfo"], "CertifiedKey | None"]

__all__ = [
    "CertificateResolver",
    "CertifiedKey",
    "ClientConfig",
    "EchKey",
    "KeyLogCallback",
    "RawPublicKey",
    "ServerConfig",
    "Tracer",
    "generate_ech_key",
    "load_pem_chain",
    "load_pem_private_key",
    "parse_cipher_suite",
    "parse_group",
    "parse_signature_scheme",
]

E = TypeVar("E", NamedGroup, CipherSuite, SignatureScheme)
C = TypeVar("C", bound="_Common")

# The largest ClientHello its syntax allows (RFC 5246 7.4.1.2, RFC 8446 4.1.2): version 2,
# random 32, session_id 1+32, cipher_suites 2+65534, compression 1+255, extensions 2+65535.
# The default handshake message limit, so that no well-formed ClientHello is refused (it is
# OpenSSL's CLIENT_HELLO_MAX_LENGTH too); 2^17 refused the largest ones.
MAX_CLIENT_HELLO = 131396


def _parsed(values: Sequence[str | int] | None, parse: Callable[[str | int], E],
            what: str) -> tuple[E, ...] | None:
    """The configured list read by the shared IANA parser (None: the default)."""
    if values is None:
        return None
    if isinstance(values, str | bytes):
        raise TypeError(f"{what}s must be a list of names, not one string")
    out = tuple(parse(v) for v in values)
    if not out:
        raise ValueError(f"at least one {what} is required")
    return out


def _codes(values: tuple[IntEnum, ...] | None, default: Sequence[int],
           implemented: Sequence[int] | None, what: str) -> list[int]:
    if values is None:
        return list(default)
    for code in values:
        if implemented is not None and code not in implemented:
            if code.name.endswith("_SCSV"):
                raise ValueError(f"{code.name} is a signalling value, not a {what} to "
                                 "configure: tlskit sends what RFC 5746 asks for by itself")
            raise ValueError(f"{what} {code.name} is not supported by tlskit")
    return [int(code) for code in values]


def _tuple(values: Sequence[Any] | None) -> tuple[Any, ...] | None:
    return None if values is None else tuple(values)


def _certificates(values: Sequence[Any] | None, name: str) -> tuple[x509.Certificate, ...] | None:
    """``values`` as a tuple of certificates, or a TypeError that says how to load them: a
    file name (or PEM bytes) where certificate objects belong would otherwise only fail in
    the middle of a handshake."""
    if values is None:
        return None
    if isinstance(values, str | bytes | Path):
        values = [values]
    certs = tuple(values)
    for cert in certs:
        if not isinstance(cert, x509.Certificate):
            hint = (f" (load a PEM file with tlskit.load_pem_chain({str(cert)!r}))"
                    if isinstance(cert, str | Path) else
                    " (parse PEM bytes with cryptography.x509.load_pem_x509_certificates)"
                    if isinstance(cert, bytes) else "")
            raise TypeError(f"{name} takes cryptography x509.Certificate objects, not "
                            f"{type(cert).__name__}{hint}")
    return certs


_HOW_TO_BUILD = {
    "ServerConfig": "ServerConfig(certificate_chain=[leaf, ...], private_key=key), or "
                    "ServerConfig(certificates=[CertifiedKey.from_files('cert.pem', "
                    "'key.pem')])",
    "ClientConfig": "ClientConfig() for the system's trust store, or "
                    "ClientConfig(trust_anchors=tlskit.load_pem_chain('ca.pem'))",
}


def require_config(config: object, kind: type, user: str) -> None:
    """A TypeError, naming how to build the right config, for anything else passed where
    a config belongs (None, the other side's config, a path): found at once, not as an
    AttributeError from inside the handshake."""
    if not isinstance(config, kind):
        raise TypeError(f"{user} needs a {kind.__name__}, not {type(config).__name__}: "
                        f"build one with {_HOW_TO_BUILD[kind.__name__]}")


def _refuse_assignment(self: object, name: str, value: object) -> None:
    raise dataclasses.FrozenInstanceError(
        f"{type(self).__name__} is immutable once built (it was validated then): make a "
        f"changed copy with config.replace({name}=...) instead of assigning to .{name}")


def _refuse_deletion(self: object, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"{type(self).__name__} is immutable once built")


def load_pem_chain(path: str | Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file, in file order (leaf first for a server chain).
    ValueError names the file and says what is wrong with it."""
    data = Path(path).read_bytes()
    _expect_pem(data, path, "CERTIFICATE", "certificate")
    try:
        return x509.load_pem_x509_certificates(data)
    except (ValueError, x509.InvalidVersion) as exc:  # the latter: a version not 1 to 3
        raise ValueError(f"{os.fspath(path)} holds no readable PEM certificate: "
                         f"{describe_parse_error(exc)}") from exc


def _expect_pem(data: bytes, path: str | Path, label: str, what: str) -> None:
    """A file of well-formed PEM blocks none of which is a ``label`` (a key given for a
    certificate, or the other way round) is named as such: the parser's own message says
    only that no block of the kind it wanted was found."""
    labels = pem_labels(data)
    if labels and not any(found == label or found.endswith(" " + label) for found in labels):
        raise ValueError(f"{os.fspath(path)} holds no {what}, only PEM "
                         f"{', '.join(dict.fromkeys(labels))} (certificate and key files "
                         f"swapped?)")


def load_pem_private_key(path: str | Path, password: bytes | None = None) -> Any:
    """The private key in a PEM file (encrypted ones need ``password``). ValueError and
    TypeError (a password missing or not needed) name the file."""
    data = Path(path).read_bytes()
    _expect_pem(data, path, "PRIVATE KEY", "private key")
    try:
        return serialization.load_pem_private_key(data, password)
    except ValueError as exc:
        raise ValueError(f"{os.fspath(path)}: {describe_parse_error(exc)}") from exc
    except UnsupportedAlgorithm as exc:  # a curve or key type cryptography lacks
        raise ValueError(f"{os.fspath(path)}: an unsupported key: {exc}") from exc
    except TypeError as exc:
        raise TypeError(f"{os.fspath(path)}: {exc}") from exc


class CertificateValidityWarning(UserWarning):
    """A configured server certificate is expired or not yet valid."""


def _subject(cert: x509.Certificate) -> str:
    """The subject for a message; cryptography cannot read every name (KeyError for an
    unknown string type, ValueError), and a message must not fail on one."""
    try:
        return cert.subject.rfc4514_string()
    except Exception:
        return "(a subject cryptography cannot read)"


def _names(der: bytes) -> tuple[bytes, bytes] | None:
    """(subject, issuer) as encoded: cryptography cannot read every name a certificate
    may carry, and serving a certificate does not need to (its peer judges the names)."""
    try:
        pieces = split_certificate(der)
    except DERError:
        return None
    return pieces.subject, pieces.issuer


def _subject_ders(certificates: Sequence[x509.Certificate] | None) -> list[bytes]:
    """The subjects of ``certificates`` as encoded in them, once each, in order; none
    when they add up to more than the vector may carry (see ``MAX_CA_NAMES_LENGTH``)."""
    from .wire.extensions import MAX_CA_NAMES_LENGTH
    subjects: dict[bytes, None] = {}
    for cert in certificates or ():
        names = _names(cert.public_bytes(serialization.Encoding.DER))
        if names is not None:
            subjects[names[0]] = None
    if sum(2 + len(s) for s in subjects) > MAX_CA_NAMES_LENGTH:
        return []
    return list(subjects)


def _check_key_matches(leaf: x509.Certificate, private_key: Any) -> None:
    """Refuse a key that is not the certificate's: every client would otherwise fail
    the CertificateVerify (decrypt_error) and the logs would blame the clients."""
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    try:
        ours = private_key.public_key().public_bytes(der, spki)
        theirs = leaf.public_key().public_bytes(der, spki)
    except (AttributeError, TypeError, ValueError):
        return  # a key type cryptography cannot compare: the handshake will tell
    if ours != theirs:
        raise ValueError(
            f"the private key does not belong to the certificate "
            f"{_subject(leaf)!r}: its public key differs (pass the key "
            "file made with this certificate)")


@dataclass(slots=True)
class CertifiedKey:
    """A certificate chain (leaf first) and the private key of its leaf.

    ``ocsp_response`` is stapled to clients that ask (a DER response, or a callable
    returning the current one); ``scts`` are serialized Certificate Transparency SCTs
    (RFC 6962 3.2) for the leaf, sent to clients that ask (TLS 1.3: on the leaf's
    CertificateEntry; TLS 1.2: in ServerHello)."""

    chain: list[x509.Certificate]
    private_key: Any
    ocsp_response: bytes | Callable[[], bytes | None] | None = None
    # RFC 6962 3.3: serialized SCTs for the leaf, sent to clients that ask for them.
    scts: Sequence[bytes] = ()

    def __post_init__(self) -> None:
        if not self.chain:
            raise ValueError("a certificate chain needs at least the leaf")
        self.scts, self._sct_list = _sct_list(self.scts)
        if self._sct_list is not None and isinstance(self.ocsp_response, bytes | bytearray):
            _check_leaf_entry_fits(bytes(self.ocsp_response), self._sct_list)
        self.chain = list(_certificates(self.chain, "a certificate chain") or ())
        self.cert_der = [c.public_bytes(serialization.Encoding.DER) for c in self.chain]
        oid = self.chain[0].public_key_algorithm_oid.dotted_string
        pss = None if oid != crypto.RSASSA_PSS_OID else _pss_params(
            split_certificate(self.cert_der[0]).spki, "the leaf certificate's key")
        self.schemes = crypto.schemes_for_key(self.private_key, oid, pss)
        self.schemes12 = crypto.schemes_for_key12(self.private_key, oid, pss)
        # TLS 1.2 suite choice, per handshake: the suite family the key serves and its curve.
        self.auth12 = crypto.key_auth_kind(self.private_key)
        self.curve12 = crypto.ec_key_group(self.private_key)
        if not self.schemes:
            raise ValueError(_no_scheme(pss, "the leaf certificate's key"))
        _check_key_matches(self.chain[0], self.private_key)
        self._dns_names = self._read_dns_names()
        names = [_names(der) for der in self.cert_der]
        # The chain's issuers, to match a CertificateRequest's certificate_authorities.
        self.issuer_ders = frozenset(n[1] for n in names if n is not None)
        # 4.2.3: the schemes of the signatures the chain carries (the anchor's own aside).
        self.chain_signatures = [crypto.certificate_signature_schemes(c)
                                 for c, n in zip(self.chain, names, strict=True)
                                 if n is None or n[0] != n[1]]
        self._end_point = _end_point(self.chain[0])

    cert_der: list[bytes] = field(init=False, default_factory=list)
    schemes: list[SignatureScheme] = field(init=False, default_factory=list)
    schemes12: list[SignatureScheme] = field(init=False, default_factory=list, repr=False)
    auth12: str = field(init=False, default="", repr=False)
    curve12: int | None = field(init=False, default=None, repr=False)
    _dns_names: list[str] = field(init=False, default_factory=list, repr=False)
    chain_signatures: list[set[int]] = field(init=False, default_factory=list, repr=False)
    issuer_ders: frozenset[bytes] = field(init=False, default=frozenset(), repr=False)
    # Compressed Certificate messages by (algorithm, stapled, SCTs sent), each with the
    # staple it carries: built once, sent many times (server13._compressed_once).
    _compressed: dict[tuple[int, bool, bool], tuple[bytes | None, bytes]] = field(
        init=False, default_factory=dict, repr=False)
    # The Certificate messages (TLS 1.3 without a staple, TLS 1.2): the same for every client.
    _certificate13: bytes = field(init=False, default=b"", repr=False)
    _certificate12: bytes = field(init=False, default=b"", repr=False)
    # The SignedCertificateTimestampList body of `scts` (None: no SCTs to send).
    _sct_list: bytes | None = field(init=False, default=None, repr=False)
    # RFC 5929 4.1's tls-server-end-point of the leaf (b"": undefined for its signature
    # algorithm), sealed into the sessions this key serves: a resumed connection binds
    # to the certificate of its original handshake, whatever the config serves now.
    _end_point: bytes = field(init=False, default=b"", repr=False)

    @classmethod
    def from_files(cls, cert_file: str | Path, key_file: str | Path,
                   chain_file: str | Path | None = None) -> CertifiedKey:
        """Load a PEM chain (leaf first; more certificates may follow it, or come from
        ``chain_file``) and its unencrypted PEM private key."""
        chain = load_pem_chain(cert_file)
        if chain_file:
            chain += load_pem_chain(chain_file)
        return cls(chain, load_pem_private_key(key_file))

    def dns_names(self) -> list[str]:
        """The leaf's DNS SANs, lower-cased (read once: servers ask on every handshake)."""
        return self._dns_names

    def _read_dns_names(self) -> list[str]:
        leaf = self.chain[0]
        try:
            san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return []
        except (ValueError, TypeError) as exc:  # cryptography parses every extension on
            # first access (TypeError: an empty TLS Feature list, RFC 7633)
            raise ValueError(
                f"the leaf certificate {_subject(leaf)!r} has extensions that do not parse "
                f"({exc}): clients that read them refuse it (tlskit with bad_certificate); "
                "reissue the certificate with well-formed extensions") from None
        return [n.lower() for n in san.value.get_values_for_type(x509.DNSName)]


# The served SignedCertificateTimestampList shares an extensions block of at most 65535
# bytes (RFC 5246 7.4.1.2 ServerHello, RFC 8446 4.4.2 CertificateEntry) with the server's
# other extensions: in a ServerHello they take under 400 bytes, so 1 KiB is kept free.
MAX_SERVED_SCT_LIST = 0xFFFF - 1024


def _sct_list(scts: Sequence[bytes]) -> tuple[tuple[bytes, ...], bytes | None]:
    """The SCTs as a tuple and their SignedCertificateTimestampList body, encoded once
    (RFC 6962 3.3: none empty), small enough to fit in a ServerHello or CertificateEntry
    next to the other extensions (`MAX_SERVED_SCT_LIST`)."""
    if isinstance(scts, bytes | bytearray):
        raise TypeError("scts takes a list of serialized SCTs, not one bytes object")
    items = tuple(bytes(s) for s in scts)
    if not items:
        return (), None
    from .wire.sct import encode_sct_list
    body = encode_sct_list(items)
    if len(body) > MAX_SERVED_SCT_LIST:
        raise ValueError(f"the SCTs make a {len(body)}-byte signed_certificate_timestamp "
                         f"extension; a server sends at most {MAX_SERVED_SCT_LIST} (the "
                         "ServerHello or the leaf's CertificateEntry holds 65535 bytes of "
                         "extensions in all): serve fewer SCTs")
    return items, body


def leaf_entry_overflow(staple: bytes | None, sct_list: bytes | None) -> str | None:
    """Why the leaf's TLS 1.3 CertificateEntry cannot carry this OCSP staple and SCT list
    (RFC 8446 4.4.2: its extensions<0..2^16-1>), or None when they fit."""
    size = (8 + len(staple) if staple else 0) + (4 + len(sct_list) if sct_list else 0)
    if size <= 0xFFFF:
        return None
    return (f"the OCSP staple ({len(staple or b'')} bytes) and the SCT list "
            f"({len(sct_list or b'')} bytes) make {size} bytes of CertificateEntry "
            "extensions, over the 65535 TLS 1.3 allows (RFC 8446 4.4.2): staple a smaller "
            "OCSP response or serve fewer SCTs")


def _check_leaf_entry_fits(staple: bytes, sct_list: bytes) -> None:
    problem = leaf_entry_overflow(staple, sct_list)
    if problem is not None:
        raise ValueError(problem)


def _pss_params(spki: bytes, what: str) -> PssParams | None:
    """The RFC 4055 parameters an RSASSA-PSS key's SPKI restricts it with (None: none).
    One reading for certificates and raw keys, on both sides (`x509.der`)."""
    try:
        return spki_pss_params(spki)
    except DERError as exc:
        raise ValueError(f"{what} is an RSASSA-PSS key whose parameters do not parse "
                         f"({exc}; RFC 4055 3.1)") from None


def _no_scheme(pss: PssParams | None, what: str) -> str:
    """Why a key signs no TLS handshake: its type, or its RSASSA-PSS parameters."""
    if pss is None:
        return "the private key's type cannot sign TLS 1.3 handshakes"
    # The reason against the scheme of the key's own hash (else the first): the others
    # only add "and it is not that hash".
    own = next((code for code in crypto.PSS_PSS_SCHEMES
                if crypto.SCHEMES[code].hash_name == pss.hash), crypto.PSS_PSS_SCHEMES[0])
    return (f"{what} is an RSASSA-PSS key whose parameters allow no TLS signature scheme "
            f"({crypto.pss_problem(pss, own)}; each rsa_pss_pss_* scheme hashes the "
            "message and MGF1 with one of SHA-256/384/512 and a salt of its length, RFC "
            f"8446 4.2.3, RFC 4055 3.1); {_pss_remedy(pss)}")


def _pss_remedy(pss: PssParams) -> str:
    """What makes an RSASSA-PSS key that TLS can use, for a key whose parameters fit no
    scheme (OpenSSL 3.0's ``rsa_pss_keygen_md`` alone leaves MGF1 at SHA-1)."""
    size = {"sha256": 32, "sha384": 48, "sha512": 64}.get(pss.hash)
    name = pss.hash if size is not None else "sha256"
    options = (f"openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_pss_keygen_md:{name} "
               f"-pkeyopt rsa_pss_keygen_mgf1_md:{name}")
    if size is not None and pss.mgf1_hash == pss.hash and pss.salt_length > size:
        options += f" -pkeyopt rsa_pss_keygen_saltlen:{size}"
    return (f"a key TLS can use has one hash for both and a salt no longer than it ({options}; "
            f"certtool --key-type rsa-pss --hash {name}), or no parameters")


def pss_spki_from_pem(data: bytes, private_key: Any) -> bytes:
    """An unencrypted PKCS #8 PEM private key of type RSASSA-PSS (what ``openssl genpkey
    -algorithm RSA-PSS`` and GnuTLS's ``certtool --key-type rsa-pss`` write): its public
    key as the SPKI such a key has, under the same AlgorithmIdentifier (its RFC 4055
    parameters included), which `cryptography` drops (it writes every RSA key as
    rsaEncryption). b"" for any other key or form."""
    import base64
    import binascii
    begin, end = b"-----BEGIN PRIVATE KEY-----", b"-----END PRIVATE KEY-----"
    start = data.find(begin)
    stop = data.find(end, start + 1)
    if start < 0 or stop < 0:
        return b""
    try:
        der = base64.b64decode(b"".join(data[start + len(begin):stop].split()), validate=True)
        _, pos, stop = read_tlv(der, 0, len(der))  # PrivateKeyInfo (RFC 5208 5)
        _, _, pos = read_tlv(der, pos, stop)  # version
        _, alg_body, alg_end = read_tlv(der, pos, stop)  # privateKeyAlgorithm
        tag, oid, oid_end = read_tlv(der, alg_body, alg_end)
    except (DERError, binascii.Error, ValueError):
        return b""
    if tag != 0x06 or der[oid:oid_end] != RSASSA_PSS:
        return b""
    rsa_spki = spki_der(private_key.public_key(), "RawPublicKey")
    _, body, _ = read_tlv(rsa_spki, 0, len(rsa_spki))
    _, _, bits_start = read_tlv(rsa_spki, body, len(rsa_spki))  # (past rsaEncryption)
    inner = der[pos:alg_end] + rsa_spki[bits_start:]
    from ._ocsp_der import tlv
    return tlv(0x30, inner)  # (a SEQUENCE)


def _end_point(leaf: x509.Certificate) -> bytes:
    """The leaf's tls-server-end-point, b"" where RFC 5929 defines none (EdDSA...)."""
    try:
        return tls_server_end_point(leaf)
    except UsageError:
        return b""


def spki_der(key: Any, what: str) -> bytes:
    """A public key as its DER SubjectPublicKeyInfo (RFC 7250 3's ASN.1_subjectPublicKeyInfo):
    a `cryptography` public key, or the DER bytes themselves (checked: they must parse as
    a key `cryptography` can use)."""
    if isinstance(key, bytes | bytearray | memoryview):
        der = bytes(key)
        try:
            public = serialization.load_der_public_key(der)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ValueError(f"{what}: not a DER SubjectPublicKeyInfo of a usable key "
                             f"({describe_parse_error(exc)}); pass "
                             "key.public_bytes(Encoding.DER, "
                             "PublicFormat.SubjectPublicKeyInfo) or the key itself") from None
        _check_signing_key(public, what)
        if spki_algorithm_oid(der) == RSASSA_PSS:  # RFC 4055: parameters that parse and
            pss = _pss_params(der, what)           # allow a TLS scheme (RFC 8446 4.2.3)
            if pss is not None and all(crypto.pss_problem(pss, code) is not None
                                       for code in crypto.PSS_PSS_SCHEMES):
                raise ValueError(_no_scheme(pss, what))
        return der
    try:
        der = bytes(key.public_bytes(serialization.Encoding.DER,
                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    except (AttributeError, TypeError, ValueError):
        raise TypeError(f"{what} takes public keys (cryptography objects) or their DER "
                        f"SubjectPublicKeyInfo bytes, not {type(key).__name__}") from None
    _check_signing_key(key, what)
    return der


# The keys a TLS handshake signature can come from (RFC 8446 4.2.3): what a raw public
# key (RFC 7250) must be to authenticate anyone.
SIGNING_KEY_TYPES = "ECDSA P-256, P-384 or P-521, Ed25519, Ed448 or RSA"
_SIGNING_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})


def _check_signing_key(public: Any, what: str) -> None:
    """A raw key that no TLS signature scheme uses (X25519, X448, DH, DSA, an EC key on
    a curve without a TLS 1.3 scheme such as secp256k1) could never authenticate: refused
    here rather than failing every handshake."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    if isinstance(public, rsa.RSAPublicKey | ed25519.Ed25519PublicKey
                  | ed448.Ed448PublicKey):
        return
    if isinstance(public, ec.EllipticCurvePublicKey):
        if public.curve.name in _SIGNING_CURVES:
            return
        kind = f"EC {public.curve.name}"
    else:
        kind = type(public).__name__.removesuffix("PublicKey").lstrip("_")
    raise ValueError(f"{what}: the key type {kind} cannot sign TLS handshakes, so it "
                     f"could never authenticate; use an {SIGNING_KEY_TYPES} key")


def spki_fingerprint(spki: bytes) -> str:
    """SHA-256 of a SubjectPublicKeyInfo, hex: how errors and logs name a raw key (the
    form DANE's 3 1 1 records and ``openssl pkey -pubout -outform DER | sha256sum``
    give)."""
    return hashlib.sha256(spki).hexdigest()


def _pins(keys: Sequence[Any], what: str) -> frozenset[bytes]:
    if isinstance(keys, bytes | bytearray) or not isinstance(keys, Sequence | set | frozenset):
        raise TypeError(f"{what} takes a list of public keys or SPKI DER bytes")
    return frozenset(spki_der(k, f"each of {what}") for k in keys)


_RSA_OID = "1.2.840.113549.1.1.1"
_RPK, _X509 = CertificateType.RawPublicKey, CertificateType.X509  # RFC 7250 3


def _same_key_spki(spki: object, own: bytes) -> bytes:
    """``RawPublicKey(key, spki=...)``: DER SPKI bytes of the private key's own public
    key, for a form `cryptography` does not write (an RSASSA-PSS key, RFC 4055)."""
    if not isinstance(spki, bytes | bytearray):
        raise TypeError(f"RawPublicKey's spki takes DER bytes, not {type(spki).__name__}")
    der = spki_der(bytes(spki), "RawPublicKey's spki")
    if serialization.load_der_public_key(der).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != own:
        raise ValueError("RawPublicKey's spki is not the public key of its private_key")
    return der


def _checked_raw_key(rpk: object) -> RawPublicKey | None:
    """``raw_public_key`` (client or server config): a `RawPublicKey` or None."""
    if rpk is not None and not isinstance(rpk, RawPublicKey):
        raise TypeError(f"raw_public_key must be a tlskit.RawPublicKey, not "
                        f"{type(rpk).__name__}")
    return rpk


@dataclass(slots=True)
class RawPublicKey:
    """A private key presented without a certificate (RFC 7250 raw public key): the
    peer pins its public key (``pinned_server_keys`` / ``pinned_client_keys``) instead
    of validating a chain. `spki` is the DER SubjectPublicKeyInfo sent in the
    Certificate message; the handshakes serve it where they would serve a `CertifiedKey`
    (it has the same signing attributes), with an empty `chain`.

    ``spki`` (optional) gives those bytes for a key `cryptography` writes otherwise: an
    RSASSA-PSS key (RFC 4055, what ``openssl genpkey -algorithm RSA-PSS`` and GnuTLS's
    ``certtool --key-type rsa-pss`` make) is written as rsaEncryption, so pass its own
    SPKI (``openssl pkey -pubout -outform DER``); it must hold ``private_key``'s public
    key. Its RSASSA-PSS parameters, if any, then restrict the key to the rsa_pss_pss_*
    scheme they allow (ValueError when they allow none). `from_file` does this for an
    unencrypted PKCS #8 RSASSA-PSS key file."""

    private_key: Any
    spki: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        try:
            public = self.private_key.public_key()
        except AttributeError:
            raise TypeError("RawPublicKey takes a private key (cryptography object), not "
                            f"{type(self.private_key).__name__}") from None
        own = spki_der(public, "RawPublicKey")
        self.spki = own if not self.spki else _same_key_spki(self.spki, own)
        self.cert_der = [self.spki]
        oid, pss = _RSA_OID, None
        if self.spki is not own and spki_algorithm_oid(self.spki) == RSASSA_PSS:
            oid, pss = crypto.RSASSA_PSS_OID, _pss_params(self.spki, "the raw public key")
        self.schemes = crypto.schemes_for_key(self.private_key, oid, pss)
        self.schemes12 = crypto.schemes_for_key12(self.private_key, oid, pss)
        self.auth12 = crypto.key_auth_kind(self.private_key)
        self.curve12 = crypto.ec_key_group(self.private_key)
        if not self.schemes:
            raise ValueError(_no_scheme(pss, "the raw public key"))

    cert_der: list[bytes] = field(init=False, default_factory=list, repr=False)
    schemes: list[SignatureScheme] = field(init=False, default_factory=list)
    schemes12: list[SignatureScheme] = field(init=False, default_factory=list, repr=False)
    auth12: str = field(init=False, default="", repr=False)
    curve12: int | None = field(init=False, default=None, repr=False)
    # What the handshakes read of a `CertifiedKey`, constant here: no chain, no staple.
    chain: list[x509.Certificate] = field(init=False, default_factory=list, repr=False)
    chain_signatures: list[set[int]] = field(init=False, default_factory=list, repr=False)
    issuer_ders: frozenset[bytes] = field(init=False, default=frozenset(), repr=False)
    ocsp_response: None = field(init=False, default=None, repr=False)
    scts: tuple[bytes, ...] = field(init=False, default=(), repr=False)
    _sct_list: None = field(init=False, default=None, repr=False)
    _compressed: dict[tuple[int, bool, bool], tuple[bytes | None, bytes]] = field(
        init=False, default_factory=dict, repr=False)
    _certificate13: bytes = field(init=False, default=b"", repr=False)
    _certificate12: bytes = field(init=False, default=b"", repr=False)
    _end_point: bytes = field(init=False, default=b"", repr=False)  # (no certificate)

    @classmethod
    def from_file(cls, key_file: str | Path, password: bytes | None = None) -> RawPublicKey:
        """Load an unencrypted (or ``password``-protected) PEM private key. An
        unencrypted RSASSA-PSS key keeps its SPKI (`pss_spki_from_pem`), parameters
        and all: it signs only as they allow, and its peer pins that SPKI."""
        key = load_pem_private_key(key_file, password)
        return cls(key, pss_spki_from_pem(Path(key_file).read_bytes(), key))

    @property
    def fingerprint(self) -> str:
        """SHA-256 of `spki`, hex (what a peer's pin list names)."""
        return spki_fingerprint(self.spki)

    def public_pem(self) -> bytes:
        """The public key as PEM (``-----BEGIN PUBLIC KEY-----``), for the peer's pins
        (GnuTLS's --rawpkfile reads this form)."""
        import base64
        body = base64.encodebytes(self.spki).replace(b"\n", b"")  # (`spki`: an RSASSA-PSS
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]  # key's too, RFC 4055)
        return b"\n".join([b"-----BEGIN PUBLIC KEY-----", *lines,
                           b"-----END PUBLIC KEY-----", b""])

    def dns_names(self) -> list[str]:
        return []


@dataclass(frozen=True, eq=False)
class _Common:
    groups: Sequence[str | int] | None = None
    cipher_suites: Sequence[str | int] | None = None
    # Handshake signature schemes (default: all implemented). A client offers these, in
    # this order; a server signs only with these (its key's own order) and lists them in
    # its CertificateRequest.
    signature_schemes: Sequence[str | int] | None = None
    alpn_protocols: Sequence[str] = ()
    record_size_limit: int | None = 16385
    rng: Callable[[int], bytes] = os.urandom
    clock: Callable[[], float] = time.time
    keylog: KeyLogCallback | None = None
    tracer: Tracer | None = None
    max_handshake_message: int = MAX_CLIENT_HELLO
    versions: Sequence[str] = ("TLSv1.3", "TLSv1.2")
    # Answer the peer's close_notify at once. False allows a TLS 1.3 half-close: keep
    # sending after the peer closed its side, then call close() yourself (RFC 8446 6.1).
    close_reply: bool = True
    # RFC 8879, TLS 1.3: what a client accepts / a server sends, in preference order
    # (the server's order decides). Servers compress only when configured, e.g.
    # ("brotli", "zlib"): brotli is all Chromium accepts. A name whose package is
    # missing is a ValueError naming the extra to install.
    certificate_compression: Sequence[str] = ()
    # TLS 1.2 (RFC 7627): the extended master secret is always offered and preferred.
    # A peer without it still gets a full handshake (as OpenSSL, Go and browsers do),
    # but its session is never resumed (RFC 7627 5.3); True refuses such peers, which
    # also refuses old stacks and some test tools.
    require_extended_master_secret: bool = False
    # TLS 1.2 RSA key transport (TLS_RSA_WITH_AES_128_GCM_SHA256 / _256_GCM_SHA384): the
    # client encrypts the premaster secret to the server's certificate key. Off by
    # default: whoever obtains that key later decrypts every recorded session (no forward
    # secrecy). True adds those suites after the ECDHE ones (a server still prefers ECDHE)
    # or allows naming them in cipher_suites; a server also needs an RSA certificate whose
    # key usage allows keyEncipherment. The server side is not a padding oracle.
    legacy_rsa_key_exchange: bool = False

    # Derived by validation, read by the engine.
    _versions: list[str] = field(init=False, repr=False)
    _groups: list[int] = field(init=False, repr=False)
    _suites: list[int] = field(init=False, repr=False)
    _suites12: list[int] = field(init=False, repr=False)
    _schemes: list[int] = field(init=False, repr=False)
    _cert_compression: list[int] = field(init=False, repr=False)

    def replace(self: C, **changes: Any) -> C:
        """A copy with `changes` applied, validated like a new config."""
        return dataclasses.replace(self, **changes)

    def _set(self, name: str, value: Any) -> None:
        """Derived state is set once, during validation (or by a lazy getter)."""
        object.__setattr__(self, name, value)

    def _refuse_rsa_kx_without_opt_in(self, suites: list[int]) -> None:
        """Naming an RSA key transport suite is not enough: the trade-off is opted into
        by name, so it shows in a code review."""
        named = [CipherSuite(s).name for s in suites if s in crypto.RSA_KX_SUITES12]
        if named and not self.legacy_rsa_key_exchange:
            raise ValueError(
                f"{', '.join(named)} use RSA key transport (no forward secrecy); set "
                "legacy_rsa_key_exchange=True to enable them")

    def _default_groups(self) -> list[NamedGroup]:
        """A client offers few groups; a server accepts more (see ServerConfig)."""
        return list(crypto.DEFAULT_GROUPS)

    def _validate_common(self) -> None:
        groups = _parsed(self.groups, parse_group, "group")
        cipher_suites = _parsed(self.cipher_suites, parse_cipher_suite, "cipher suite")
        schemes = _parsed(self.signature_schemes, parse_signature_scheme, "signature scheme")
        self._set("groups", groups)
        self._set("cipher_suites", cipher_suites)
        self._set("signature_schemes", schemes)
        for name in ("alpn_protocols", "versions", "certificate_compression"):
            if isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a list, not one string")
            self._set(name, tuple(getattr(self, name)))
        versions = [v for v in ("TLSv1.3", "TLSv1.2") if v in self.versions]
        unknown = set(self.versions) - {"TLSv1.3", "TLSv1.2"}
        if unknown or not versions:
            raise ValueError(f"versions must be TLSv1.3 and/or TLSv1.2, not {sorted(unknown)}")
        from .wire.certcompress import algorithm_code
        codes = [algorithm_code(a) for a in self.certificate_compression]
        if len(set(codes)) != len(codes):  # BoringSSL refuses a repeat: decode_error
            twice = next(a for i, a in enumerate(self.certificate_compression)
                         if a in self.certificate_compression[:i])
            raise ValueError(f"certificate_compression lists {twice!r} twice: name each "
                             "algorithm once (BoringSSL servers refuse a ClientHello "
                             "that repeats one)")
        self._set("_cert_compression", codes)
        self._set("_groups", _codes(groups, self._default_groups(),
                                    crypto.IMPLEMENTED_GROUPS, "group"))
        both = [*crypto.DEFAULT_SUITES, *crypto.DEFAULT_SUITES12]
        if self.legacy_rsa_key_exchange:
            both += crypto.RSA_KX_SUITES12
        all_suites = _codes(cipher_suites, both, [*crypto.SUITES, *crypto.SUITES12],
                            "cipher suite")
        self._refuse_rsa_kx_without_opt_in(all_suites)
        suites = [s for s in all_suites if s in crypto.SUITES] if "TLSv1.3" in versions else []
        suites12 = ([s for s in all_suites if s in crypto.SUITES12]
                    if "TLSv1.2" in versions else [])
        if not suites and not suites12:
            raise ValueError("no cipher suite for the enabled versions")
        self._set("_suites", suites)
        self._set("_suites12", suites12)
        # A version with no suite configured is not offered at all (e.g. only TLS 1.3
        # suite names given: the ClientHello then offers TLS 1.3 alone).
        self._set("_versions", [v for v in versions
                                if (suites if v == "TLSv1.3" else suites12)])
        default_schemes = list(crypto.HANDSHAKE_SCHEMES)
        if "TLSv1.2" in self._versions:
            default_schemes += crypto.TLS12_EXTRA_SCHEMES
        self._set("_schemes", _codes(schemes, default_schemes, None,
                                     "signature scheme"))
        for p in self.alpn_protocols:
            if not 0 < len(p.encode()) < 256:
                raise ValueError(f"ALPN protocol {p!r} must be 1..255 bytes")
        if self.record_size_limit is not None and not 64 <= self.record_size_limit <= 16385:
            raise ValueError("record_size_limit must be within 64..16385")
        _check_size(self.max_handshake_message, "max_handshake_message")


def _check_size(value: object, name: str) -> None:
    """A byte bound must be a whole number of at least one: anything else failed only
    when the first peer arrived, as an internal_error (what `tlskit.Acceptor` checks too)."""
    if type(value) is not int:  # (bool is no size either)
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")


@dataclass(frozen=True, eq=False)
class ClientConfig(_Common):
    """What a client offers and how it checks the server.

    ``trust_anchors`` builds the default `tlskit.x509.Verifier`; pass ``verifier`` to plug
    in another `CertificateVerifier`. ``verify_mode="report"`` completes the handshake
    and reports a verification failure in `HandshakeComplete` instead of aborting (for
    diagnostics only).

    Immutable once built: ``config.replace(field=value)`` returns a validated copy.

    :param trust_anchors: the roots to trust (default: the system store).
    :param verifier: a `CertificateVerifier` to use instead of one built from them.
    :param verify_mode: "required" (default) or "report" (diagnostics only).
    :param check_hostname: check the certificate against the server name (default True).
    :param key_share_groups: the groups sent key shares for, each one in ``groups``
        (default: the first group, plus x25519 when that is X25519MLKEM768).
    :param certificate: a `CertifiedKey` to present when a server asks for one (the
        first of ``certificates``, in effect).
    :param certificates: `CertifiedKey` objects to choose from when a server asks (after
        ``certificate``): the first whose key can sign with a scheme the server offers
        and, when the server names CAs (certificate_authorities), whose chain has a
        certificate issued by one of them; none (an empty Certificate) when none fits.
        A client with a single certificate (either field) sends it whatever CAs are
        named, as OpenSSL, rustls and curl do: the server decides.
    :param certificate_resolver: ``resolver(info) -> CertifiedKey | None``, called with
        a `tlskit.CertificateRequestInfo` for each CertificateRequest instead of the
        rule above. None sends an empty Certificate; so does a key that can sign with
        none of the server's schemes. A resolver may raise a `tlskit.TLSError` to end
        the handshake with that error's alert (e.g. `tlskit.HandshakeFailure`); any
        other exception becomes a `tlskit.InternalError` (internal_error), as a server's
        resolver does.
    :param middlebox_compat: RFC 8446 D.4 compatibility mode (default True).
    :param ocsp_stapling: ask for a stapled OCSP response and check it (default False).
    :param enforce_must_staple: honour OCSP Must-Staple (RFC 7633): when the server's leaf
        has a TLS Feature extension listing status_request, the handshake needs a valid
        OCSP response stapled for it, else it fails with bad_certificate_status_response
        (`CertificateVerificationError`, reason ``tls_feature_missing``), as Firefox
        does. The client then asks for a staple whatever ``ocsp_stapling`` says (the
        field is left as given), and its verifier handles a critical must-staple TLS
        Feature (a ``verifier`` of your own: `tlskit.x509.Verifier` with
        ``handles_must_staple=True``). Default False, as OpenSSL, Go and Chrome.
    :param request_scts: ask for the server's Certificate Transparency SCTs (RFC 6962
        3.3: an empty signed_certificate_timestamp extension); those received are in
        ``HandshakeComplete.signed_certificate_timestamps`` (default False).
    :param ct_policy: a `tlskit.x509.ct.CTPolicy`: after the chain validates, the leaf
        needs that many valid SCTs (from TLS, embedded in it, or in the OCSP staple
        when ``ocsp_stapling`` asks for one) from distinct known logs, else the
        handshake fails with bad_certificate (`CTPolicyError`). The client then asks
        for SCTs whatever ``request_scts`` says (the field itself is left as given, so
        ``replace(ct_policy=None)`` stops asking) (default None: SCTs are not checked).
    :param legacy_session_ticket: TLS 1.2: ask for an RFC 5077 ticket (also asked for
        whenever ``session_cache`` is set).
    :param signature_schemes_cert: schemes accepted in certificates, sent as
        signature_algorithms_cert (default: not sent, ``signature_schemes`` applies).
    :param session_cache: a `tlskit.SessionCache`: sessions are stored in it and offered
        again to the same server name automatically.
    :param psk_modes: resumption key exchange offered (default ``("psk_dhe_ke",)``;
        "psk_ke", without forward secrecy, only when listed).
    :param post_handshake_auth: offer TLS 1.3 post-handshake authentication (None, the
        default: when a certificate or a ``certificate_resolver`` is set).
    :param max_fragment_length: ask for RFC 6066 records of at most 512, 1024, 2048 or
        4096 bytes (default None: not asked).
    :param ech_config_list: an ECHConfigList (RFC 9849 4, the bytes of a DNS HTTPS
        record's ``ech`` parameter) to send the ClientHello encrypted: the real server
        name then never goes in the clear (default None: no ECH). Needs TLS 1.3; a list
        with no usable config is a ValueError. With it, no session is resumed and no
        early data sent. A server that does not accept ECH ends the handshake in
        `tlskit.EchRejected`, carrying its retry configs.
    :param ech_grease: without ``ech_config_list``, send a GREASE encrypted_client_hello
        (RFC 9849 6.2: random, the shape of a real one), as Chrome does, so that ECH
        stays deployable through middleboxes (default False: ~250 bytes more per
        ClientHello, and no privacy gain for the connection itself). Needs TLS 1.3 in
        ``versions``.
    :param external_psks: `tlskit.ExternalPsk` keys to offer (TLS 1.3, RFC 8446 2.2), in
        preference order after a resumption ticket; key exchange per ``psk_modes``. A
        server that accepts one is authenticated by it (no certificate); one that takes
        none is checked by its certificate as usual. No early data with them; at most 8
        (`tlskit.psk.MAX_OFFERED`).
    :param pinned_server_keys: RFC 7250 raw public keys to accept from the server:
        `cryptography` public keys or their DER SubjectPublicKeyInfo bytes. With pins the
        client offers RawPublicKey in server_certificate_type, and X.509 after it only
        when ``trust_anchors`` or ``verifier`` is also given (a pinning client never falls
        back to the system store). The key received must equal a pin byte for byte
        (else bad_certificate naming its SHA-256, also with ``verify_mode="report"``);
        no host name is checked against it (a raw key names nobody: the pin is the
        identity). Pin an RSASSA-PSS key by its SPKI bytes (a key object is written as
        rsaEncryption). Default: none.
    :param raw_public_key: a `tlskit.RawPublicKey` to present when a server asks for
        a client certificate and accepts raw public keys (client_certificate_type;
        offered before X.509 when a certificate is configured too). Default None.

    Fields both configs share:

    :param groups: key exchange groups in preference order (IANA names in any case, the
        CLI's spellings such as ``p-256``, or code points). Default: a client offers
        X25519MLKEM768, x25519, secp256r1, secp384r1; a server accepts those, then
        secp521r1, x448 and the FFDHE groups.
    :param cipher_suites: TLS 1.3 and TLS 1.2 suites in preference order (default: the
        AES-GCM and ChaCha20-Poly1305 ones; RSA key transport only with
        ``legacy_rsa_key_exchange``). A version with no suite listed is not enabled.
    :param signature_schemes: handshake signature schemes (default: all implemented); a
        server signs with these and asks client certificates for them.
    :param alpn_protocols: ALPN protocols in preference order (default: none sent).
    :param record_size_limit: RFC 8449 limit announced to the peer (64..16385; None: not
        sent).
    :param rng: ``rng(n)`` returns n random bytes (injectable for reproducible tests).
    :param clock: ``clock()`` returns Unix time in seconds (injectable likewise).
    :param keylog: ``keylog(label, client_random, secret)``, e.g. `tlskit.keylog.KeyLogFile`.
    :param tracer: ``tracer(step, fields)`` for every step (`tlskit.trace.TraceStep`).
    :param max_handshake_message: the largest handshake message accepted, in bytes.
    :param versions: "TLSv1.3" and/or "TLSv1.2" (default both).
    :param close_reply: answer the peer's close_notify at once (default); False allows a
        TLS 1.3 half-close (keep sending, then call ``close()``).
    :param certificate_compression: RFC 8879 algorithms: "zlib", "brotli" (needs
        ``tlskit[brotli]``), "zstd" (``tlskit[zstd]``). Client default ``("zlib",)``
        whatever is installed, so the ClientHello does not change with the environment;
        server default none: compresses only when configured.
    :param require_extended_master_secret: TLS 1.2: refuse peers without RFC 7627's
        extended master secret (default False: a full handshake, never resumed).
    :param legacy_rsa_key_exchange: TLS 1.2 RSA key transport suites, which have no
        forward secrecy (default False: neither offered, accepted nor configurable).
    """

    trust_anchors: Sequence[x509.Certificate] | None = None
    verifier: CertificateVerifier | None = None
    verify_mode: Literal["required", "report"] = "required"
    check_hostname: bool = True
    # The groups to send key shares for (each one in `groups`); they go out in `groups`
    # order, whatever the order here (RFC 8446 4.2.8). None: the first group (with
    # x25519 beside a leading X25519MLKEM768).
    key_share_groups: Sequence[str | int] | None = None
    certificate: CertifiedKey | None = None
    # Client certificate selection (see `tlskit.certselect`): more certificates to choose
    # from, after ``certificate``, and a resolver that chooses instead.
    certificates: Sequence[CertifiedKey] = ()
    certificate_resolver: Callable[[CertificateRequestInfo], CertifiedKey | None] | None = None
    middlebox_compat: bool = True
    ocsp_stapling: bool = False
    # RFC 7633: a must-staple leaf needs a valid staple (off by default, as OpenSSL, Go and
    # Chrome; Firefox enforces it). Asks for a staple too (_asks_ocsp).
    enforce_must_staple: bool = False
    # RFC 6962 3.3: ask for SCTs; with a policy, check them (off by default, so today's
    # ClientHello is unchanged).
    request_scts: bool = False
    ct_policy: CTPolicy | None = None
    # TLS 1.2 (RFC 5077): ask for a ticket. Also asked for whenever a session_cache is set
    # and TLS 1.2 is enabled; a held TLS 1.2 session is offered by ticket or session ID.
    legacy_session_ticket: bool = False
    signature_schemes_cert: Sequence[str | int] | None = None
    session_cache: SessionCache | None = None
    certificate_compression: Sequence[str] = ("zlib",)
    # Resumption key exchange modes offered (4.2.9). "psk_ke" (a resumption without a new
    # (EC)DHE exchange: no forward secrecy for that connection) only when listed.
    psk_modes: Sequence[str] = ("psk_dhe_ke",)
    # RFC 8446 4.6.2: offer post_handshake_auth. None: offer it when a certificate (or a
    # certificate_resolver) is set.
    post_handshake_auth: bool | None = None
    # RFC 6066 4: ask the server to send records of at most 512, 1024, 2048 or 4096
    # plaintext bytes (for peers without record_size_limit, such as OpenSSL; a server
    # that has record_size_limit uses that instead, RFC 8449 5).
    max_fragment_length: int | None = None
    # RFC 9849: Encrypted Client Hello with the first usable config of this list.
    ech_config_list: bytes | None = None
    # RFC 9849 6.2: a GREASE ECH extension when no config is set (TLS 1.3 only).
    ech_grease: bool = False
    # RFC 8446 2.2: external PSKs offered in this order (after a resumption ticket, if
    # any); a server that takes one authenticates by it instead of a certificate.
    external_psks: Sequence[ExternalPsk] = ()
    pinned_server_keys: Sequence[Any] = ()
    raw_public_key: RawPublicKey | None = None

    _share_groups: list[int] = field(init=False, repr=False)
    _server_pins: frozenset[bytes] = field(init=False, repr=False)
    _server_cert_types: list[int] | None = field(init=False, repr=False)
    _client_cert_types: list[int] | None = field(init=False, repr=False)
    _rpk_offer: bool = field(init=False, repr=False)  # either RFC 7250 extension is sent
    _cert_schemes: list[int] | None = field(init=False, repr=False)
    _verifier: CertificateVerifier | None = field(init=False, repr=False)
    _psk_modes: list[int] = field(init=False, repr=False)
    _asks_scts: bool = field(init=False, repr=False)  # request_scts, or a ct_policy needs them
    _asks_ocsp: bool = field(init=False, repr=False)  # ocsp_stapling, or enforce_must_staple
    _pha: bool = field(init=False, repr=False)
    _client_certs: tuple[CertifiedKey, ...] = field(init=False, repr=False)
    _hello_bodies: dict[int, bytes] = field(init=False, repr=False)
    _ech: Any = field(init=False, repr=False)  # (ECHConfig, CipherSuite) or None

    def __post_init__(self) -> None:
        self._validate_common()
        self._set("trust_anchors", _certificates(self.trust_anchors, "trust_anchors"))
        self._set("_ech", self._ech_choice())
        share_groups = _parsed(self.key_share_groups, parse_group, "key share group")
        self._set("key_share_groups", share_groups)
        self._set("signature_schemes_cert", _parsed(
            self.signature_schemes_cert, parse_signature_scheme, "certificate signature scheme"))
        # By default one share for the first group, plus x25519 when the first is the
        # hybrid: servers without ML-KEM then need no HelloRetryRequest.
        default_shares = self._groups[:1]
        if default_shares == [NamedGroup.X25519MLKEM768] and NamedGroup.x25519 in self._groups:
            default_shares = [NamedGroup.X25519MLKEM768, NamedGroup.x25519]
        shares = _codes(share_groups, default_shares, crypto.IMPLEMENTED_GROUPS,
                        "key share group")
        for g in shares:
            if g not in self._groups:
                raise ValueError(f"key share group {NamedGroup(g).name} is not in groups")
        # RFC 8446 4.2.8: the shares appear in supported_groups' order, whatever order
        # key_share_groups names them in.
        self._set("_share_groups", [g for g in dict.fromkeys(self._groups) if g in shares])
        self._set("_cert_schemes", None if self.signature_schemes_cert is None
                  else [int(s) for s in self.signature_schemes_cert])
        self._set("_verifier", self.verifier)
        modes = {"psk_dhe_ke": PskKeyExchangeMode.psk_dhe_ke,
                 "psk_ke": PskKeyExchangeMode.psk_ke}
        if isinstance(self.psk_modes, str):
            raise TypeError("psk_modes must be a list, not one string")
        self._set("psk_modes", tuple(self.psk_modes))
        unknown_modes = [m for m in self.psk_modes if m not in modes]
        if unknown_modes or not self.psk_modes:
            raise ValueError(f"psk_modes must be psk_dhe_ke and/or psk_ke, not {unknown_modes}")
        self._set("_psk_modes", [int(modes[m]) for m in dict.fromkeys(self.psk_modes)])
        self._set_client_certificates()
        self._set_raw_public_keys()
        self._set("_pha", self.has_client_certificate() if self.post_handshake_auth is None
                  else self.post_handshake_auth)
        self._set("external_psks", check_client_psks(self.external_psks, self._suites,
                                                     self._versions))
        if len(self.external_psks) > MAX_OFFERED:
            raise ValueError(f"external_psks offers at most {MAX_OFFERED} keys, not "
                             f"{len(self.external_psks)} (servers look up only so many "
                             f"identities of a ClientHello: tlskit 16, GnuTLS one)")
        if self.external_psks and self._ech is not None:
            raise ValueError("external_psks cannot go with ech_config_list: tlskit sends "
                             "no PSK in an ECH ClientHello (as no resumption ticket either)")
        if self.max_fragment_length not in (None, 512, 1024, 2048, 4096):
            raise ValueError("max_fragment_length must be 512, 1024, 2048 or 4096 "
                             f"(RFC 6066 4), not {self.max_fragment_length!r}")
        if self._versions == ["TLSv1.2"] and not any(g in crypto.GROUPS12 for g in self._groups):
            self._without_ecdhe()
        if self.ct_policy is not None:
            from .x509.ct import CTPolicy
            if not isinstance(self.ct_policy, CTPolicy):
                raise TypeError("ct_policy takes a tlskit.x509.ct.CTPolicy, not "
                                f"{type(self.ct_policy).__name__}")
        # Derived, not written back into request_scts: replace(ct_policy=None) must stop
        # asking unless the caller asked for SCTs too.
        self._set("_asks_scts", self.request_scts or self.ct_policy is not None)
        # A staple must-staple may require is one it must ask for (derived, as above).
        self._set("_asks_ocsp", self.ocsp_stapling or self.enforce_must_staple)
        self._set("_hello_bodies", self._encode_hello_bodies())

    def _set_client_certificates(self) -> None:
        """``certificate`` then ``certificates``: the candidates, in preference order."""
        _check_certified(self.certificate, "certificate")
        if isinstance(self.certificates, CertifiedKey):
            raise TypeError("certificates takes a list of CertifiedKey, not one (or use "
                            "certificate=)")
        self._set("certificates", tuple(self.certificates))
        for item in self.certificates:
            _check_certified(item, "each of certificates")
        if self.certificate_resolver is not None and not callable(self.certificate_resolver):
            raise TypeError("certificate_resolver must be a callable taking a "
                            "CertificateRequestInfo")
        first = () if self.certificate is None else (self.certificate,)
        self._set("_client_certs", (*first, *self.certificates))

    def _set_raw_public_keys(self) -> None:
        """RFC 7250: with pins the client offers RawPublicKey for the server, and X.509
        after it only where it was also told how to check certificates (trust_anchors or
        a verifier): a pinning client that names no roots must not fall back to the
        system store's web PKI. ``raw_public_key`` offers RawPublicKey for our own
        certificate, before X.509 when a certificate is configured too."""
        self._set("pinned_server_keys", tuple(self.pinned_server_keys))
        pins = _pins(self.pinned_server_keys, "pinned_server_keys")
        self._set("_server_pins", pins)
        server_types = None
        if pins:
            server_types = [_RPK] + ([_X509] if self.trust_anchors is not None
                                     or self.verifier is not None else [])
        self._set("_server_cert_types", server_types)
        rpk = _checked_raw_key(self.raw_public_key)
        client_types = None
        if rpk is not None:
            client_types = [_RPK] + ([_X509] if self.has_client_certificate() else [])
        self._set("_client_cert_types", client_types)
        self._set("_rpk_offer", server_types is not None or client_types is not None)

    def has_client_certificate(self) -> bool:
        """A certificate to present may exist: one is configured, or a resolver is."""
        return bool(self._client_certs) or self.certificate_resolver is not None

    def _ech_choice(self) -> Any:
        """The ECH config and HPKE suite to use, chosen once (None: no ECH)."""
        data = self.ech_config_list
        if self.ech_grease and "TLSv1.3" not in self._versions:
            raise ValueError("ech_grease needs TLS 1.3 (RFC 9849 6.2: a TLS 1.2 ClientHello "
                             "has no encrypted_client_hello to GREASE): add \"TLSv1.3\" to "
                             "versions or drop ech_grease")
        if data is None:
            return None
        if not isinstance(data, bytes | bytearray):
            raise TypeError("ech_config_list takes the ECHConfigList's bytes, not "
                            f"{type(data).__name__} (decode base64 first)")
        if "TLSv1.3" not in self._versions:
            raise ValueError("ech_config_list needs TLS 1.3 (RFC 9849: ECH does not exist "
                             "in TLS 1.2): add \"TLSv1.3\" to versions or drop "
                             "ech_config_list")
        from .handshake.ech import parse_config_list
        self._set("ech_config_list", bytes(data))
        return parse_config_list(bytes(data))

    def _without_ecdhe(self) -> None:
        """TLS 1.2 only, and no group its ECDHE can use: offer the RSA key transport suites
        alone, without supported_groups (RFC 8422 5.1: it is for ECC suites; an empty one
        is a ClientHello servers reject as malformed), or refuse a config left with none."""
        rsa_kx = [s for s in self._suites12 if s in crypto.RSA_KX_SUITES12]
        if not rsa_kx:
            raise ValueError(
                "no group usable with TLS 1.2, whose key exchange is ECDHE here: name one of "
                + ", ".join(NamedGroup(g).name for g in crypto.GROUPS12)
                + " (the others are for TLS 1.3)")
        self._set("_suites12", rsa_kx)

    def _encode_hello_bodies(self) -> dict[int, bytes]:
        """The ClientHello extension bodies that only depend on this config, encoded once
        (each connection adds its server name, key shares, session and cookie)."""
        from .wire import certcompress
        from .wire import extensions as ext
        tls13, tls12 = "TLSv1.3" in self._versions, "TLSv1.2" in self._versions
        versions: list[int] = [v for v, on in ((ProtocolVersion.TLSv1_3, tls13),
                                               (ProtocolVersion.TLSv1_2, tls12)) if on]
        E = ExtensionType
        groups = self._groups if tls13 else [g for g in self._groups if g in crypto.GROUPS12]
        bodies: dict[int, bytes] = {
            E.supported_versions: ext.encode_versions_client(versions),
            E.signature_algorithms: ext.encode_u16_list(self._schemes),
            E.psk_key_exchange_modes: ext.encode_psk_modes(self._psk_modes),
            E.status_request: ext.encode_status_request_ocsp(),
        }
        if groups:  # none: TLS 1.2 with RSA key transport alone (see _without_ecdhe)
            bodies[E.supported_groups] = ext.encode_u16_list(groups)
        if self._cert_schemes is not None:
            bodies[E.signature_algorithms_cert] = ext.encode_u16_list(self._cert_schemes)
        if self.record_size_limit is not None:
            bodies[E.record_size_limit] = ext.encode_record_size_limit(self.record_size_limit)
        if self.max_fragment_length is not None:
            bodies[E.max_fragment_length] = ext.encode_max_fragment_length(
                self.max_fragment_length)
        if self.alpn_protocols:
            bodies[E.application_layer_protocol_negotiation] = ext.encode_alpn(
                list(self.alpn_protocols))
        if self._cert_compression:
            bodies[E.compress_certificate] = certcompress.encode_extension(
                self._cert_compression)
        if self._server_cert_types is not None:  # RFC 7250 4.1
            bodies[E.server_certificate_type] = ext.encode_cert_types(self._server_cert_types)
        if self._client_cert_types is not None:
            bodies[E.client_certificate_type] = ext.encode_cert_types(self._client_cert_types)
        return bodies

    def get_verifier(self) -> CertificateVerifier:
        """The verifier, built lazily from the trust anchors (or the system store)."""
        if self._verifier is None:  # racing threads may build two; one is kept, both work
            from .x509 import TrustStore, Verifier
            store = (TrustStore(list(self.trust_anchors)) if self.trust_anchors is not None
                     else TrustStore.default())
            # RFC 7633: an enforcing client handles a critical must-staple TLS Feature.
            self._set("_verifier", Verifier(store,
                                            handles_must_staple=self.enforce_must_staple))
        assert self._verifier is not None
        return self._verifier


@dataclass(frozen=True, eq=False)
class ServerConfig(_Common):
    """What a server accepts and the certificates it presents.

    ``certificate_chain``/``private_key`` is the default certificate; ``certificates`` adds
    more, chosen by SNI (a name in the leaf's SAN) and the client's signature schemes.

    Immutable once built: ``config.replace(field=value)`` returns a validated copy.

    :param certificate_chain: the default certificate chain, leaf first.
    :param private_key: the leaf's private key (refused if it does not match).
    :param certificates: more `CertifiedKey` objects, chosen by SNI.
    :param client_auth: "none" (default), "optional" or "required".
    :param client_verifier: what checks client certificates (default: one built from
        ``client_trust_anchors``).
    :param client_trust_anchors: the roots client certificates must chain to.
    :param ocsp_response: a DER OCSP response to staple, or a callable returning the
        current one (or None).
    :param scts: serialized SCTs (RFC 6962 3.2) for ``certificate_chain``'s leaf, sent to
        clients that ask for them (TLS 1.3: in the leaf's CertificateEntry; TLS 1.2: in
        ServerHello). Each `CertifiedKey` of ``certificates`` has its own ``scts``.
    :param send_supported_groups: list our groups in EncryptedExtensions (default False).
    :param cookie_key: the HMAC key for HelloRetryRequest cookies (default: random).
    :param hrr_cookie: ``hrr_cookie(transcript_hash) -> cookie`` of your own (implies
        ``send_hrr_cookie``).
    :param send_hrr_cookie: put a cookie in HelloRetryRequest (default False).
    :param session_tickets: tickets sent after each handshake (default 2; 0: none, and
        no ticket is resumed).
    :param automatic_tickets: False sends no ticket when the handshake ends: only
        ``ServerConnection.send_session_ticket()`` does (``session_tickets`` must still
        be > 0: it turns resumption on). A TLS 1.2 handshake then leaves no session to
        resume, neither ticket nor session ID: TLS 1.2 gives them only in the
        handshake, before the application could decide. Default True.
    :param ticket_lifetime: ticket lifetime in seconds (default 7200).
    :param ticket_key: one fixed ticket key (default: the session store's rotating ones).
    :param session_context: who this server accepts, sealed into tickets (default:
        derived from ``client_auth`` and the client trust anchors).
    :param session_store: a `tlskit.sessionstore.SessionStore` for ticket keys, TLS 1.2
        session IDs and replay tokens (default: this process's memory).
    :param session_ids: TLS 1.2: give clients that ask for no ticket a session ID
        (default True).
    :param max_early_data_size: 0-RTT bytes a ticket allows (default 0: off).
    :param replay_cache: an object with ``check_replay(token, ttl)`` (default: the
        session store's, else in-process).
    :param accept_early_data: ``accept_early_data(chunk) -> bool``: False holds a 0-RTT
        chunk back until the handshake completes.
    :param allow_psk_ke: resume without (EC)DHE when a client offers only psk_ke
        (default False).
    :param ech_keys: Encrypted Client Hello (RFC 9849): ``(ech_config, private_key)``
        pairs, each one ECHConfig (as `bssl-tool generate-ech -out-ech-config` writes
        it) and its raw 32-byte X25519 private key (``-out-private-key``). A client's
        inner ClientHello is decrypted with the config it names; one that does not
        decrypt gets the handshake with its outer hello and these configs as
        retry_configs (default: none, no ECH).
    :param external_psks: TLS 1.3 external PSKs (RFC 8446 2.2): a list of
        `tlskit.ExternalPsk`, or a callable ``lookup(identity: bytes) -> ExternalPsk |
        None`` for servers with many clients (default: none). A client whose binder
        verifies with one is authenticated by it: no Certificate, no CertificateRequest.
        With no certificate configured the server is PSK-only (TLS 1.3 alone; a client
        whose PSK matches none fails with handshake_failure; no ``ech_keys``). psk_ke
        only with ``allow_psk_ke``; no early data with external PSKs. The lookup is asked
        about at most 16 identities per ClientHello (`tlskit.psk.MAX_PSK_LOOKUPS`), and
        again, with the identity a session's ticket carries, before that session resumes.
    :param certificate_resolver: ``resolver(info: tlskit.ClientHelloInfo) -> CertifiedKey |
        None``, Go's ``GetCertificate``: called once per full handshake (TLS 1.3 and 1.2;
        not when a session or external PSK is resumed), after Encrypted Client Hello was
        decrypted, so ``info.server_name`` is the real name. A `CertifiedKey` is served
        (a client with no signature scheme for it fails as with a configured one:
        handshake_failure); None falls back to the configured certificates, and with none
        configured ends the handshake (unrecognized_name when the client sent a name,
        else handshake_failure). A resolver may raise a `tlskit.TLSError` to end the
        handshake with that error's alert (e.g. `tlskit.UnrecognizedName`); any other
        exception becomes an `tlskit.InternalError` (internal_error, as Go sends). With a
        resolver no certificate needs configuring (default None).
    :param send_client_ca_names: name the subjects of ``client_trust_anchors`` in every
        CertificateRequest (RFC 8446 4.2.4's certificate_authorities, RFC 5246 7.4.4's
        list), as Go sends its ClientCAs and OpenSSL its client CA list, so that a client
        holding several certificates presents one of theirs (default True). Nothing is
        sent without ``client_trust_anchors``, nor when the names add up to more than
        ``MAX_CA_NAMES_LENGTH`` bytes (63 KiB: a longer list would not
        fit the message); a client then chooses by key type alone.
    :param raw_public_key: a `tlskit.RawPublicKey` served (RFC 7250) to clients that
        list RawPublicKey in server_certificate_type before any type we lack; with a
        certificate too, whichever of the two the client prefers. Signatures are made as
        with a certificate. A client that accepts no type we have gets
        unsupported_certificate (RFC 7250 4.2). Default None.
    :param pinned_client_keys: RFC 7250 raw public keys accepted from clients
        (`cryptography` public keys or DER SubjectPublicKeyInfo bytes): with
        ``client_auth`` on, a client offering RawPublicKey in client_certificate_type is
        asked for one and must present a pinned key (bad_certificate otherwise); they are
        enough for ``client_auth`` without ``client_trust_anchors``. Default: none.

    Fields both configs share, as a server reads them (`ClientConfig` has the client's
    side of each):

    :param groups: groups accepted, in the server's preference order (default: the
        client's four, then secp521r1, x448 and the FFDHE groups).
    :param cipher_suites: suites accepted, in the server's preference order (default as
        the client's; a version with no suite listed is not enabled).
    :param signature_schemes: what the server signs with, and asks client certificates
        for (default: all implemented).
    :param alpn_protocols: protocols accepted, in the server's preference order (default:
        none; the extension is then ignored).
    :param record_size_limit: the RFC 8449 limit announced (64..16385; None: not sent).
    :param rng: ``rng(n)`` returns n random bytes.
    :param clock: ``clock()`` returns Unix time in seconds (ticket ages, certificate times).
    :param keylog: ``keylog(label, client_random, secret)``.
    :param tracer: ``tracer(step, fields)`` for every step.
    :param max_handshake_message: the largest handshake message accepted, in bytes.
    :param versions: "TLSv1.3" and/or "TLSv1.2" (default both).
    :param close_reply: answer close_notify at once (default), or allow a TLS 1.3
        half-close.
    :param certificate_compression: RFC 8879 algorithms to compress the chain with, in
        preference order, when the client offers one (default none): "zlib", "brotli"
        (``tlskit[brotli]``; the only one Chromium accepts), "zstd" (``tlskit[zstd]``).
    :param require_extended_master_secret: TLS 1.2: refuse clients without RFC 7627's
        extended master secret (default False: a full handshake, never resumed).
    :param legacy_rsa_key_exchange: accept TLS 1.2 RSA key transport suites (no forward
        secrecy; default False).
    """

    certificate_chain: Sequence[x509.Certificate] | None = None
    private_key: Any = None
    certificates: Sequence[CertifiedKey] = ()
    client_auth: Literal["none", "optional", "required"] = "none"
    client_verifier: CertificateVerifier | None = None
    client_trust_anchors: Sequence[x509.Certificate] | None = None
    ocsp_response: bytes | Callable[[], bytes | None] | None = None
    scts: Sequence[bytes] = ()
    send_supported_groups: bool = False
    cookie_key: bytes | None = field(default=None, repr=False)
    hrr_cookie: Callable[[bytes], bytes] | None = None
    # Send a cookie in HelloRetryRequest (RFC 8446 4.2.2), for deployments that check
    # return routability in front of the server; implied by hrr_cookie.
    send_hrr_cookie: bool = False
    session_tickets: int = 2
    # False: no tickets when the handshake ends, only those send_session_ticket() asks
    # for (e.g. once the application has authenticated the user).
    automatic_tickets: bool = True
    ticket_lifetime: int = 7200
    ticket_key: bytes | None = field(default=None, repr=False)
    # Names who this server accepts, for tickets (like OpenSSL's session-ID context): a
    # ticket resumes only under the context it was issued in. Default: derived from
    # client_auth and client_trust_anchors, or unique to this config when a custom
    # client_verifier is given (set it to share tickets across such configs).
    session_context: bytes | None = None
    # Where tickets keys, TLS 1.2 session IDs and 0-RTT replay tokens live (see
    # `tlskit.sessionstore`); default: this process's memory (with `ticket_key`, if
    # given, as the one ticket key). Share one store among servers to resume across them.
    session_store: SessionStore | None = None
    # TLS 1.2: give clients that ask for no ticket a session ID to resume with.
    session_ids: bool = True
    # 0-RTT (RFC 8446 4.2.10, 8), off by default. With a limit > 0 tickets allow that many
    # bytes of early data; a ticket carries early data once (``replay_cache``, in-process
    # unless another `ReplayCache` such as a shared session store is given) and only
    # within EARLY_DATA_AGE_WINDOW_MS (10 s) of its expected age. ``accept_early_data``
    # sees each chunk: False holds it back until the handshake completes (delivered then
    # as plain `DataReceived`, so a replayed flight, which never completes, delivers
    # nothing).
    max_early_data_size: int = 0
    replay_cache: Any = None  # default: the session_store when one is given
    accept_early_data: Callable[[bytes], bool] | None = None
    # Resume with psk_ke (no (EC)DHE) when a client offers only that: saves the key
    # exchange, but that connection has no forward secrecy (a leaked ticket key reveals it).
    allow_psk_ke: bool = False
    # RFC 9849: the ECH configs this server decrypts ClientHellos for, with their keys.
    ech_keys: Sequence[tuple[bytes, bytes]] = field(default=(), repr=False)
    # RFC 8446 2.2: external PSKs, a list or lookup(identity) -> ExternalPsk | None.
    external_psks: Sequence[ExternalPsk] | PskLookup = ()
    # Chooses the certificate from the ClientHello (once per full handshake, both
    # versions); None from it: the configured certificates.
    certificate_resolver: CertificateResolver | None = None
    # RFC 8446 4.2.4, RFC 5246 7.4.4: name the client_trust_anchors' subjects in each
    # CertificateRequest, so clients holding several certificates pick one they issued.
    send_client_ca_names: bool = True
    raw_public_key: RawPublicKey | None = None
    pinned_client_keys: Sequence[Any] = ()

    _certs: list[CertifiedKey] = field(init=False, repr=False)
    _client_pins: frozenset[bytes] = field(init=False, repr=False)
    _rpk: bool = field(init=False, repr=False)  # a raw key served or client keys pinned
    _ca_names: list[bytes] = field(init=False, repr=False)  # DER subjects, to send
    _ca_names_ext: bytes = field(init=False, repr=False)  # TLS 1.3's extension body
    _psk_lookup: PskLookup | None = field(init=False, repr=False)
    _ech_keys: Any = field(init=False, repr=False)  # a handshake.ech_server.EchKeys or None
    _client_verifier: CertificateVerifier | None = field(init=False, repr=False)
    _cookie_key: bytes | None = field(init=False, repr=False)
    _sealer: TicketSealer | None = field(init=False, repr=False)
    _store: GuardedStore = field(init=False, repr=False)
    _replay_cache: Any = field(init=False, repr=False)
    _session_context: bytes = field(init=False, repr=False)
    _lazy_lock: threading.Lock = field(init=False, repr=False)  # for the lazy getters

    def __post_init__(self) -> None:
        self._validate_common()
        self._set("ech_keys", tuple(self.ech_keys))
        self._set("_ech_keys", None)
        if self.ech_keys:
            if "TLSv1.3" not in self._versions:
                raise ValueError("ech_keys need TLS 1.3 (RFC 9849)")
            from .handshake.ech_server import EchKeys
            self._set("_ech_keys", EchKeys.load(self.ech_keys))
        for name in ("certificate_chain", "client_trust_anchors"):
            self._set(name, _certificates(getattr(self, name), name))
        self._set("certificates", tuple(self.certificates))
        for item in self.certificates:
            _check_certified(item, "each of certificates")
        if not 0 <= self.max_early_data_size <= 0xFFFFFFFF:
            raise ValueError("max_early_data_size must be within 0..2**32-1")
        if self.replay_cache is not None and not callable(
                getattr(self.replay_cache, "check_replay", None)):
            raise ValueError("replay_cache needs a check_replay(token, ttl) method")
        certs = list(self.certificates)
        if self.scts and not self.certificate_chain:
            raise ValueError("scts are for certificate_chain's leaf: give certificate_chain "
                             "too, or set scts on each CertifiedKey of certificates")
        if self.certificate_chain:
            certs.insert(0, CertifiedKey(list(self.certificate_chain), self.private_key,
                                         self.ocsp_response, self.scts))
        self._set("_certs", certs)
        _checked_raw_key(self.raw_public_key)
        self._set("pinned_client_keys", tuple(self.pinned_client_keys))
        self._set("_client_pins", _pins(self.pinned_client_keys, "pinned_client_keys"))
        self._set("_rpk", self.raw_public_key is not None or bool(self._client_pins))
        self._set_external_psks()
        client_verifier = self.client_verifier
        if client_verifier is None and (self.client_trust_anchors is not None or (
                self.client_auth != "none" and not self._client_pins)):
            # (client_trust_anchors alone: for post-handshake client authentication)
            if self.client_trust_anchors is None:
                raise ValueError("client_auth needs client_trust_anchors or client_verifier "
                                 "(or pinned_client_keys for raw public keys)")
            from .x509 import TrustStore, Verifier
            client_verifier = Verifier(TrustStore(list(self.client_trust_anchors)))
        self._set("_client_verifier", client_verifier)
        self._set_ca_names()
        self._set("_session_context",
                  self._derive_session_context(self.client_verifier is not None))
        self._set("_cookie_key", self.cookie_key)
        self._set("_sealer", None)
        self._set("_store", GuardedStore(self.session_store or MemoryStore(
            fixed_key=self.ticket_key, rng=self.rng, clock=self.clock)))
        self._set("_replay_cache", self.replay_cache)
        self._set("_lazy_lock", threading.Lock())  # configs are shared by server threads
        if not 0 < self.ticket_lifetime <= MAX_TICKET_LIFETIME:
            raise ValueError("ticket_lifetime must be within 1..604800 seconds")
        if not 0 <= self.session_tickets <= 256:  # 4.6.1: one-byte nonces, unique per connection
            raise ValueError("session_tickets must be within 0..256")
        if not isinstance(self.automatic_tickets, bool):
            raise TypeError("automatic_tickets takes True or False, not "
                            f"{type(self.automatic_tickets).__name__}")
        self._warn_on_validity()

    def _set_external_psks(self) -> None:
        """The PSK lookup; a server without a certificate is PSK-only, so TLS 1.3 alone
        (tlskit's TLS 1.2 needs a certificate)."""
        if not callable(self.external_psks):
            self._set("external_psks", tuple(self.external_psks))
        lookup = server_lookup(self.external_psks, self._suites, self._versions)
        self._set("_psk_lookup", lookup)
        if self.certificate_resolver is not None and not callable(self.certificate_resolver):
            raise TypeError("certificate_resolver must be a callable taking a "
                            "tlskit.ClientHelloInfo, not "
                            f"{type(self.certificate_resolver).__name__}")
        if self._certs or self.certificate_resolver is not None \
                or self.raw_public_key is not None:
            return  # (a resolver serves certificates: both versions, ECH's public name too)
        if lookup is None:
            raise ValueError("a server needs at least one certificate and key (or a "
                             "certificate_resolver, or external_psks for a PSK-only "
                             "TLS 1.3 server)")
        if self.ech_keys:
            raise ValueError("ech_keys need a certificate for their public name: a server "
                             "that cannot decrypt a ClientHello answers its outer hello as "
                             "the public name, with the retry configs (RFC 9849 6.1.6, "
                             "7.1); a PSK-only server cannot")
        self._set("_versions", ["TLSv1.3"])
        self._set("_suites12", [])

    def _set_ca_names(self) -> None:
        """The CA names CertificateRequests carry, encoded once (none when switched off,
        without client_trust_anchors, or too many to send: see
        `tlskit.wire.extensions.MAX_CA_NAMES_LENGTH`)."""
        from .wire.extensions import encode_ca_names
        names = _subject_ders(self.client_trust_anchors) if self.send_client_ca_names else []
        self._set("_ca_names", names)
        self._set("_ca_names_ext", encode_ca_names(names) if names else b"")

    def _default_groups(self) -> list[NamedGroup]:
        """Every group tlskit implements, fast and common ones first: a client that
        offers only P-521, x448 or an RFC 7919 FFDHE group is still served."""
        return list(crypto.SERVER_DEFAULT_GROUPS)

    def _warn_on_validity(self) -> None:
        """A certificate outside its validity period fails every client: say so now."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        for ck in self._certs:
            leaf = ck.chain[0]
            when = None
            if leaf.not_valid_after_utc < now:
                when = f"expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
            elif leaf.not_valid_before_utc > now:
                when = f"is not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
            if when:
                warnings.warn(CertificateValidityWarning(
                    f"the server certificate {_subject(leaf)!r} {when}; "
                    "clients will refuse it"), stacklevel=4)

    def get_client_verifier(self) -> CertificateVerifier | None:
        """What checks client certificates: ``client_verifier``, else one built from
        ``client_trust_anchors`` (None when client_auth is "none" and neither is set)."""
        return self._client_verifier

    def _derive_session_context(self, custom_verifier: bool) -> bytes:
        """The digest sealed into tickets: policy, then who vouches for clients."""
        h = hashlib.sha256(b"tlskit session context\0" + self.client_auth.encode() + b"\0")
        if self.session_context is not None:
            h.update(b"app\0" + self.session_context)
        elif self.client_auth != "none":
            if custom_verifier:
                h.update(b"verifier\0" + os.urandom(32))  # unique: no other config matches
            for der in sorted(c.public_bytes(serialization.Encoding.DER)
                              for c in self.client_trust_anchors or ()):
                h.update(hashlib.sha256(der).digest())
            if self._client_pins:  # RFC 7250: the client keys this server accepts
                h.update(b"pins\0")
                for spki in sorted(self._client_pins):
                    h.update(hashlib.sha256(spki).digest())
        return h.digest()

    def get_ticket_sealer(self) -> TicketSealer:
        """Seals resumption tickets under the store's ticket-key ring."""
        if self._sealer is None:
            with self._lazy_lock:
                if self._sealer is None:
                    self._set("_sealer", TicketSealer(self._store, self.clock))
        assert self._sealer is not None
        return self._sealer

    def get_session_store(self) -> GuardedStore:
        """The session store, guarded: its failures degrade to full handshakes."""
        return self._store

    def get_replay_cache(self) -> Any:
        """The 0-RTT replay cache: ``replay_cache``, else the shared ``session_store``
        (replays are then refused across the fleet; an unreachable store refuses 0-RTT),
        else an in-process `MemoryReplayCache`."""
        if self._replay_cache is None:
            with self._lazy_lock:
                if self._replay_cache is None:
                    from .replay import MemoryReplayCache
                    self._set("_replay_cache", self._store if self.session_store is not None
                              else MemoryReplayCache())
        return self._replay_cache

    def get_cookie_key(self) -> bytes:
        """The HMAC key for HelloRetryRequest cookies, drawn from the rng on first use."""
        if self._cookie_key is None:
            with self._lazy_lock:
                if self._cookie_key is None:
                    self._set("_cookie_key", self.rng(32))
        assert self._cookie_key is not None
        return self._cookie_key


for _cls in (ClientConfig, ServerConfig):
    # Frozen dataclasses already refuse assignment; say what to do instead.
    setattr(_cls, "__setattr__", _refuse_assignment)  # noqa: B010
    setattr(_cls, "__delattr__", _refuse_deletion)  # noqa: B010


# --- Encrypted Client Hello keys (RFC 9849) ----------------------------------------------

# HKDF-SHA256 with AES-128-GCM, then with ChaCha20-Poly1305: what `bssl-tool generate-ech`
# offers, so clients with or without AES hardware find a suite.
DEFAULT_ECH_SUITES: tuple[tuple[int, int], ...] = ((0x0001, 0x0001), (0x0001, 0x0003))


@dataclass(frozen=True)
class EchKey:
    """One ECH key pair and its config, as `generate_ech_key` makes them or
    `EchKey.load` reads them: give ``config_list`` to clients (a DNS HTTPS record's
    ``ech``, `ClientConfig.ech_config_list`) and ``pair`` to the server."""

    config: bytes = field(repr=False)  # one ECHConfig, what ServerConfig.ech_keys takes
    private_key: bytes = field(repr=False)  # its raw 32-byte X25519 private key
    config_list: bytes = field(default=b"", repr=False)  # this config alone, to publish
    config_id: int = 0
    public_name: str = ""

    @property
    def pair(self) -> tuple[bytes, bytes]:
        """``(config, private_key)``: one entry of `ServerConfig.ech_keys`."""
        return self.config, self.private_key

    @classmethod
    def load(cls, config: bytes, private_key: bytes) -> EchKey:
        """A config and key made elsewhere (`bssl-tool generate-ech`'s ``-out-ech-config``
        and ``-out-private-key`` files' bytes), checked as `ServerConfig` checks them:
        ValueError when the config is not one ECHConfig or the key is not its own."""
        from .handshake.ech_server import EchKeys

        keys = EchKeys.load([(config, private_key)])
        parsed = keys.keys[0].config
        return cls(bytes(config), bytes(private_key), keys.retry_configs, parsed.config_id,
                   parsed.public_name.decode("ascii", "replace"))


def generate_ech_key(public_name: str, config_id: int | None = None, *,
                     max_name_length: int = 0,
                     suites: Sequence[tuple[int, int]] = DEFAULT_ECH_SUITES) -> EchKey:
    """A fresh X25519 ECH key and its config (version 0xfe0d) naming ``public_name``, the
    name clients send in the clear and check the certificate against when the server
    cannot decrypt. ``config_id`` is random when None (clients name it so the server
    finds the key); ``max_name_length`` is the longest real name to hide (0: let clients
    pad as they see fit); ``suites`` the HPKE (KDF, AEAD) ids offered. ValueError for a
    public name that is not a DNS name (an IP address, say) or a value out of range."""
    import secrets

    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from . import hpke
    from .wire import ech

    name = _ech_public_name(public_name)
    if config_id is None:
        config_id = secrets.randbelow(256)
    if not 0 <= config_id <= 255:
        raise ValueError(f"config_id must be within 0..255, not {config_id}")
    if not 0 <= max_name_length <= 255:
        raise ValueError(f"max_name_length must be within 0..255, not {max_name_length}")
    cipher_suites = [ech.CipherSuite(int(kdf), int(aead)) for kdf, aead in suites]
    kem = hpke.KemId.DHKEM_X25519_HKDF_SHA256
    unsupported = [f"({s.kdf_id:#06x}, {s.aead_id:#06x})" for s in cipher_suites
                   if not hpke.supported(kem, s.kdf_id, s.aead_id)]
    if not cipher_suites or unsupported:
        raise ValueError("suites must be (KDF, AEAD) pairs of HKDF-SHA256/384/512 (1-3) and "
                         "AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305 (1-3); not "
                         + (", ".join(unsupported) or "none"))
    key = X25519PrivateKey.generate()
    config = ech.ECHConfig.build(config_id, kem, key.public_key().public_bytes_raw(),
                                 cipher_suites, name.encode("ascii"), max_name_length)
    return EchKey(config.encode(), key.private_bytes_raw(), ech.encode_config_list([config]),
                  config_id, name)


def _ech_public_name(public_name: str) -> str:
    """RFC 9849 4: the public name is a DNS name (LDH labels), never an IP address:
    clients skip configs whose name is not, so a bad one would silently disable ECH."""
    import ipaddress

    from .handshake.ech import valid_public_name

    if not isinstance(public_name, str):
        raise TypeError(f"public_name must be a str, not {type(public_name).__name__}")
    try:
        ipaddress.ip_address(public_name.strip("[]"))
    except ValueError:
        pass
    else:
        raise ValueError(f"the ECH public name must be a DNS name, not an IP address "
                         f"({public_name}): clients check the certificate against it by "
                         f"name (RFC 9849 4)")
    name = public_name.lower()
    if len(name) > 255 or not valid_public_name(name.encode("ascii", "replace")):
        raise ValueError(f"the ECH public name {public_name!r} is not a DNS name (dot-"
                         "separated labels of letters, digits and hyphens, 1-63 "
                         "characters each, the last not all digits; no trailing dot)")
    return name


def _check_certified(value: object, what: str) -> None:
    """A chain and key must arrive as a `CertifiedKey`: anything else (the local CA's
    `Issued`, a tuple) would only fail in the middle of a handshake, as internal_error."""
    if value is not None and not isinstance(value, CertifiedKey):
        raise TypeError(
            f"{what} must be a tlskit.CertifiedKey, not {type(value).__name__}: "
            "CertifiedKey(chain, private_key) or CertifiedKey.from_files(cert, key)")
