"""`SSLContext`: the `ssl.SSLContext` API with tlskit doing the TLS.

Every setting is stored here and turned into a `ClientConfig`/`ServerConfig` when a
connection is made (the configs are rebuilt only after a setting changes). What tlskit
cannot honour raises `UnsupportedSetting` when it is set.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import ssl
import sys
import threading
import weakref
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from .. import crypto
from ..config import CertifiedKey, ClientConfig, ServerConfig
from ..keylog import KeyLogFile
from ..psk import ExternalPsk
from ..verifier import CertificateVerifier, Usage
from ..x509 import TrustStore, Verifier
from ..x509.parsed import describe_parse_error
from ..x509.trust import _quiet, load_pem_certificates
from .ciphers import TLS12, cipher_dicts, parse_cipher_string
from .errors import UnsupportedSetting
from .session import SSLSession

if TYPE_CHECKING:
    from .bio import SSLObject
    from .sock import SSLSocket

__all__ = ["SSLContext", "SSLSession", "create_default_context"]

_V12, _V13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
_O = ssl.Options
# Options that are true of tlskit anyway, or that it honours (see _versions, _options_ok).
_HONOURED = (_O.OP_ALL | _O.OP_NO_SSLv2 | _O.OP_NO_SSLv3 | _O.OP_NO_TLSv1 | _O.OP_NO_TLSv1_1
             | _O.OP_NO_TLSv1_2 | _O.OP_NO_TLSv1_3 | _O.OP_NO_COMPRESSION
             | _O.OP_CIPHER_SERVER_PREFERENCE | _O.OP_SINGLE_DH_USE | _O.OP_SINGLE_ECDH_USE
             | _O.OP_ENABLE_MIDDLEBOX_COMPAT | _O.OP_NO_TICKET | _O.OP_NO_RENEGOTIATION
             | getattr(_O, "OP_IGNORE_UNEXPECTED_EOF", 0) | getattr(_O, "OP_ENABLE_KTLS", 0))
_VF = ssl.VerifyFlags
_VERIFY_FLAGS_OK = (_VF.VERIFY_DEFAULT | _VF.VERIFY_X509_TRUSTED_FIRST | _VF.VERIFY_X509_STRICT
                    | getattr(_VF, "VERIFY_X509_PARTIAL_CHAIN", 0)
                    | _VF.VERIFY_CRL_CHECK_LEAF | _VF.VERIFY_CRL_CHECK_CHAIN)
_CURVES = {"prime256v1": "secp256r1", "secp256r1": "secp256r1", "secp384r1": "secp384r1",
           "secp521r1": "secp521r1", "x25519": "x25519", "x448": "x448",
           "p-256": "secp256r1", "p-384": "secp384r1", "p-521": "secp521r1"}


def _version_rank(v: ssl.TLSVersion, low: bool) -> int:
    if v == ssl.TLSVersion.MINIMUM_SUPPORTED:
        return 0
    if v == ssl.TLSVersion.MAXIMUM_SUPPORTED:
        return 0xFFFF
    return int(v)




def _split_der(data: bytes) -> list[bytes]:
    """Concatenated DER certificates (``cadata`` as bytes) split at SEQUENCE boundaries."""
    out, pos = [], 0
    while pos < len(data):
        if data[pos] != 0x30 or pos + 2 > len(data):
            raise ssl.SSLError(1, "[X509: NOT_A_CERTIFICATE] cadata is not DER certificates")
        first = data[pos + 1]
        if first < 0x80:
            length, head = first, 2
        else:
            n = first & 0x7F
            if not 0 < n <= 4:
                raise ssl.SSLError(1, "[X509: BAD_LENGTH] cadata has a bad DER length")
            length, head = int.from_bytes(data[pos + 2:pos + 2 + n], "big"), 2 + n
        out.append(data[pos:pos + head + length])
        pos += head + length
    return out


def _der_certificates(cadata: bytes) -> list[x509.Certificate]:
    """``cadata`` bytes as certificates; one that does not parse is the ssl module's
    SSLError, not cryptography's ValueError."""
    try:
        return [x509.load_der_x509_certificate(d) for d in _split_der(cadata)]
    except (ValueError, x509.InvalidVersion) as exc:
        raise ssl.SSLError(1, "[X509: NOT_A_CERTIFICATE] cadata holds a certificate that "
                              f"does not parse: {describe_parse_error(exc)}") from None


def _read_key(pem: bytes, password: Any) -> Any:
    if callable(password):
        password = password()
    secret: bytes | None
    if isinstance(password, str):
        secret = password.encode()
    elif isinstance(password, (bytes, bytearray)):
        secret = bytes(password)
    elif password is None:
        secret = None
    else:
        raise TypeError("password should be a string, bytes or a callable returning one")
    try:
        return serialization.load_pem_private_key(pem, secret)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ssl.SSLError(1, f"[SSL: PEM_LIB] cannot load the private key: {exc}") from None


def _private_key_block(data: bytes) -> bytes | None:
    start = data.find(b"-----BEGIN ")
    while start >= 0:
        line_end = data.find(b"\n", start)
        if b"PRIVATE KEY-----" in data[start:line_end]:
            end_marker = data.find(b"-----END ", start)
            end = data.find(b"-----", end_marker + 9)
            return data[start:end + 5]
        start = data.find(b"-----BEGIN ", start + 1)
    return None


def _new_items(held: list[Any], found: list[Any]) -> list[Any]:
    """The certificates (or CRLs) of ``found`` not in ``held`` nor earlier in ``found``,
    compared by their DER (CRL objects are not hashable)."""
    der = serialization.Encoding.DER
    seen = {item.public_bytes(der) for item in held}
    out = []
    for item in found:
        key = item.public_bytes(der)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _copied(value: Any) -> Any:
    """A setting's value for a copied context: its own lists and dicts, the same items."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def _same_certified(a: CertifiedKey, b: CertifiedKey) -> bool:
    """The same chain with the same private key (compared by its public half)."""
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return (a.cert_der == b.cert_der and type(a.private_key) is type(b.private_key)
            and a.private_key.public_key().public_bytes(*raw)
            == b.private_key.public_key().public_bytes(*raw))


class _LeafCRLVerifier:
    """``VERIFY_CRL_CHECK_LEAF``: the whole path as usual, then the leaf (only) must be
    shown unrevoked by a loaded CRL from its issuer."""

    def __init__(self, verifier: Verifier, crls: list[x509.CertificateRevocationList]) -> None:
        from ..x509.revocation import RevocationChecker
        self.verifier = verifier
        self.checker = RevocationChecker("hard-fail", crls, fetch_crls=False, ocsp=False)

    def verify(self, leaf: x509.Certificate, intermediates: list[x509.Certificate],
               server_name: str | None = None, at: datetime | None = None,
               usage: Usage = "server", ocsp_response: bytes | None = None,
               ) -> list[x509.Certificate]:
        chain = self.verifier.verify(leaf, intermediates, server_name, at, usage, ocsp_response)
        if len(chain) > 1:
            self.checker.check(chain[0], chain[1], at or datetime.now(UTC), ocsp_response)
        return chain


PskClientCallback = Callable[[str | None], tuple[str | None, bytes]]
PskServerCallback = Callable[[str | None], bytes]


def _client_psks(callback: PskClientCallback) -> list[ExternalPsk]:
    """What ssl's client callback says to offer (nothing for an empty key)."""
    identity, psk = callback(None)
    if not psk:
        return []
    return [ExternalPsk((identity or "").encode("utf-8"), bytes(psk))]


def _psk_lookup(callback: PskServerCallback) -> Callable[[bytes], ExternalPsk | None]:
    """ssl's server callback as a `ServerConfig.external_psks` lookup: identities that
    are not UTF-8, and empty keys, are unknown."""
    def lookup(identity: bytes) -> ExternalPsk | None:
        try:
            name = identity.decode("utf-8")
        except UnicodeDecodeError:
            return None
        psk = callback(name)
        return ExternalPsk(identity, bytes(psk)) if psk else None
    return lookup


class SSLContext(ssl.SSLContext):
    """A drop-in `ssl.SSLContext` (``PROTOCOL_TLS_CLIENT`` or ``PROTOCOL_TLS_SERVER``)
    whose sockets and objects are tlskit connections."""

    def __new__(cls, protocol: int | None = None, *args: Any, **kwargs: Any) -> SSLContext:
        if protocol not in (ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS_SERVER):
            raise UnsupportedSetting(
                "tlskit.compat.SSLContext takes ssl.PROTOCOL_TLS_CLIENT or "
                f"ssl.PROTOCOL_TLS_SERVER, not {protocol!r}")
        return super().__new__(cls, protocol)  # type: ignore[no-any-return]

    def __init__(self, protocol: int | None = None) -> None:
        client = protocol == ssl.PROTOCOL_TLS_CLIENT
        self._lock = threading.RLock()
        self._client = client
        self._check_hostname = client
        self._verify_mode = ssl.CERT_REQUIRED if client else ssl.CERT_NONE
        self._min = ssl.TLSVersion.TLSv1_2
        self._max = ssl.TLSVersion.MAXIMUM_SUPPORTED
        self._options = super().options  # what ssl starts with
        self._verify_flags = _VF.VERIFY_X509_TRUSTED_FIRST
        self._alpn: list[str] = []
        self._suites12: list[int] | None = None
        self._groups: list[str] | None = None
        self._keylog_filename: str | None = None
        self._keylog: KeyLogFile | None = None
        self._sni_callback: Callable[..., int | None] | None = None
        self._psk_client_callback: PskClientCallback | None = None
        self._psk_server_callback: PskServerCallback | None = None
        self._num_tickets = 2
        self._pha = False
        self._anchors: list[x509.Certificate] = []
        self._system_anchors = False
        self._crls: list[x509.CertificateRevocationList] = []
        self._certs: list[CertifiedKey] = []
        self._overrides: dict[str, Any] = {}
        self._config: ClientConfig | ServerConfig | None = None
        self._verifier: CertificateVerifier | None = None
        self._stats = dict.fromkeys(
            ("number", "connect", "connect_good", "connect_renegotiate", "accept",
             "accept_good", "accept_renegotiate", "hits", "misses", "timeouts",
             "cache_full"), 0)

    # -- change tracking ----------------------------------------------------------------

    def _same(self, unchanged: bool, *fields: str) -> bool:
        """True when a setting repeats the current value and `tlskit_configure` said nothing
        about its fields: nothing to do. urllib3 (so requests) sets verify_mode, ALPN, its
        CA file and client certificate again on every new connection; rebuilding the config
        each time would throw away the verifier and what it caches."""
        return unchanged and not any(f in self._overrides for f in fields)

    def _changed(self, *fields: str, trust: bool = False) -> None:
        """A setting changed: later connections get a rebuilt config. An ssl-level setting
        replaces what `tlskit_configure` said about the same config fields."""
        with self._lock:
            for f in fields:
                self._overrides.pop(f, None)
            self._config = None
            if trust:
                self._verifier = None

    # -- verification -----------------------------------------------------------------------

    @property  # type: ignore[override]
    def check_hostname(self) -> bool:
        return self._check_hostname

    @check_hostname.setter
    def check_hostname(self, value: bool) -> None:
        value = bool(value)
        if self._same(value == self._check_hostname, "check_hostname", "verify_mode"):
            return
        if value and self._verify_mode == ssl.CERT_NONE:
            self._verify_mode = ssl.CERT_REQUIRED  # what ssl does too
        self._check_hostname = value
        self._changed("check_hostname", "verify_mode")

    @property  # type: ignore[override]
    def verify_mode(self) -> ssl.VerifyMode:
        return ssl.VerifyMode(self._verify_mode)

    @verify_mode.setter
    def verify_mode(self, value: int) -> None:
        mode = ssl.VerifyMode(value)
        if mode == ssl.CERT_NONE and self._check_hostname:
            raise ValueError("Cannot set verify_mode to CERT_NONE when check_hostname "
                             "is enabled.")
        if self._same(mode == self._verify_mode, "verify_mode", "client_auth", "client_verifier"):
            return
        self._verify_mode = mode
        self._changed("verify_mode", "client_auth", "client_verifier")

    @property  # type: ignore[override]
    def verify_flags(self) -> ssl.VerifyFlags:
        return ssl.VerifyFlags(self._verify_flags)

    @verify_flags.setter
    def verify_flags(self, value: int) -> None:
        extra = ssl.VerifyFlags(value) & ~_VERIFY_FLAGS_OK
        if extra:
            raise UnsupportedSetting(f"verify_flags: tlskit does not implement {extra!r}")
        self._verify_flags = ssl.VerifyFlags(value)
        self._changed("verifier", "client_verifier", trust=True)

    @property  # type: ignore[override]
    def hostname_checks_common_name(self) -> bool:
        return False

    @hostname_checks_common_name.setter
    def hostname_checks_common_name(self, value: bool) -> None:
        if value:
            raise UnsupportedSetting(
                "hostname_checks_common_name: tlskit matches names in subjectAltName only "
                "(RFC 6125); the common name is never used")

    def load_verify_locations(self, cafile: Any = None, capath: Any = None,
                              cadata: Any = None) -> None:
        if cafile is None and capath is None and cadata is None:
            raise TypeError("cafile, capath and cadata cannot be all omitted")
        certs: list[x509.Certificate] = []
        crls: list[x509.CertificateRevocationList] = []
        if cafile is not None:
            data = Path(cafile).read_bytes()
            certs += load_pem_certificates(data)
            crls += self._pem_crls(data)
            if not certs and not crls:
                raise ssl.SSLError(1, f"[X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate "
                                      f"or crl found in {os.fspath(cafile)}")
        if capath is not None:
            certs += list(TrustStore.from_directory(capath))
        if cadata is not None:
            if isinstance(cadata, str):
                found = load_pem_certificates(cadata.encode())
                if not found:
                    raise ssl.SSLError(1, "[X509: NO_CERTIFICATE_OR_CRL_FOUND] no "
                                          "certificate found in cadata")
                certs += found
            else:
                certs += _der_certificates(bytes(cadata))
        with self._lock:
            # As OpenSSL's store: a certificate or CRL already loaded is not added again, and
            # loading only those changes nothing (urllib3 loads requests' CA file into the
            # context for every new connection).
            certs = _new_items(self._anchors, certs)
            crls = _new_items(self._crls, crls)
            if not certs and not crls:
                return
            self._anchors += certs
            self._crls += crls
        self._changed("verifier", "trust_anchors", "client_verifier", "client_trust_anchors",
                      trust=True)

    @staticmethod
    def _pem_crls(data: bytes) -> list[x509.CertificateRevocationList]:
        """The CRLs of a CA file; one that does not parse is the ssl module's SSLError."""
        out = []
        for block in data.split(b"-----END X509 CRL-----")[:-1]:
            start = block.find(b"-----BEGIN X509 CRL-----")
            if start >= 0:
                try:
                    out.append(x509.load_pem_x509_crl(block[start:] + b"-----END X509 CRL-----"))
                except (ValueError, x509.InvalidVersion) as exc:
                    raise ssl.SSLError(1, f"[X509: CRL_LOAD_ERROR] a CRL that does not parse: "
                                          f"{describe_parse_error(exc)}") from None
        return out

    def load_default_certs(self, purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH) -> None:
        if not isinstance(purpose, ssl._ASN1Object):
            raise TypeError(purpose)
        self.set_default_verify_paths()

    def set_default_verify_paths(self) -> None:
        """Trust the platform's CA bundle (the same one `tlskit.ClientConfig()` uses)."""
        self._system_anchors = True
        self._changed("verifier", "trust_anchors", "client_verifier", "client_trust_anchors",
                      trust=True)

    def _trust_store(self) -> TrustStore:
        if not self._system_anchors:
            return TrustStore(self._anchors)
        system = TrustStore.default()
        if not self._anchors:
            return system
        return TrustStore([*system, *self._anchors], curated=True)

    def _get_verifier(self) -> CertificateVerifier:
        with self._lock:
            if self._verifier is None:
                # Like OpenSSL: CRL checks use the CRLs loaded here, nothing is fetched, and a
                # certificate without a CRL from its issuer fails.
                full = _VF.VERIFY_CRL_CHECK_CHAIN
                chain = (self._verify_flags & full) == full
                verifier = Verifier(self._trust_store(),
                                    revocation="hard-fail" if chain else "off",
                                    crls=self._crls, fetch_crls=False, ocsp=False)
                if not chain and self._verify_flags & _VF.VERIFY_CRL_CHECK_LEAF:
                    self._verifier = _LeafCRLVerifier(verifier, self._crls)
                else:
                    self._verifier = verifier
            return self._verifier

    def get_ca_certs(self, binary_form: bool = False) -> list[Any]:
        from ..io.info import peercert_dict
        certs = list(self._trust_store())
        if binary_form:
            return [c.public_bytes(serialization.Encoding.DER) for c in certs]
        with _quiet():  # a few system roots have serial number 0
            return [peercert_dict(c) for c in certs]

    def cert_store_stats(self) -> dict[str, int]:
        certs = list(self._trust_store())
        cas = 0
        with _quiet():
            for c in certs:
                with contextlib.suppress(x509.ExtensionNotFound):
                    cas += c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        return {"x509": len(certs), "crl": len(self._crls), "x509_ca": cas}

    # -- own certificate ----------------------------------------------------------------

    def load_cert_chain(self, certfile: Any, keyfile: Any = None,
                        password: Any = None) -> None:
        cert_data = Path(certfile).read_bytes()
        chain = load_pem_certificates(cert_data)
        if not chain:
            raise ssl.SSLError(1, f"[SSL: PEM_LIB] no certificate in {os.fspath(certfile)}")
        key_data = Path(keyfile).read_bytes() if keyfile is not None else cert_data
        block = _private_key_block(key_data)
        if block is None:
            raise ssl.SSLError(1, "[SSL: PEM_LIB] no private key in "
                                  f"{os.fspath(keyfile if keyfile is not None else certfile)}")
        key = _read_key(block, password)
        raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        try:
            public = chain[0].public_key().public_bytes(*raw)
        except (ValueError, UnsupportedAlgorithm) as exc:  # a point off the curve, say
            raise ssl.SSLError(1, f"[SSL: PEM_LIB] the certificate's public key cannot be "
                                  f"read: {exc}") from None
        if public != key.public_key().public_bytes(*raw):
            raise ssl.SSLError(1, "[X509: KEY_VALUES_MISMATCH] the private key does not "
                                  "match the certificate")
        certified = CertifiedKey(chain, key)
        with self._lock:
            # The last one loaded again (urllib3 loads requests' cert=... for every
            # connection); an earlier one moves to the end, as it did.
            if self._same(bool(self._certs) and _same_certified(self._certs[-1], certified),
                          "certificate", "certificates", "certificate_chain", "private_key"):
                return
            # One chain per key type, as OpenSSL keeps one per type (RSA, EC, Ed25519...).
            self._certs = [c for c in self._certs
                           if type(c.private_key) is not type(key)] + [certified]
        self._changed("certificate", "certificates", "certificate_chain", "private_key")

    # -- protocol -----------------------------------------------------------------------

    @property  # type: ignore[override]
    def minimum_version(self) -> ssl.TLSVersion:
        return self._min

    @minimum_version.setter
    def minimum_version(self, value: ssl.TLSVersion) -> None:
        self._set_versions(ssl.TLSVersion(value), self._max, self._options)

    @property  # type: ignore[override]
    def maximum_version(self) -> ssl.TLSVersion:
        return self._max

    @maximum_version.setter
    def maximum_version(self, value: ssl.TLSVersion) -> None:
        self._set_versions(self._min, ssl.TLSVersion(value), self._options)

    @property  # type: ignore[override]
    def options(self) -> ssl.Options:
        return ssl.Options(self._options)

    @options.setter
    def options(self, value: int) -> None:
        value = ssl.Options(value)
        extra = value & ~_HONOURED
        if extra:
            raise UnsupportedSetting(f"options: tlskit cannot honour {ssl.Options(extra)!r}")
        self._set_versions(self._min, self._max, value)

    def _set_versions(self, low: ssl.TLSVersion, high: ssl.TLSVersion, options: int) -> None:
        versions = self._versions(low, high, options)
        if not versions:
            raise UnsupportedSetting(
                "no TLS version left: tlskit speaks TLS 1.2 and 1.3, and the minimum/maximum "
                "versions and OP_NO_TLSv1_* options exclude both")
        self._min, self._max, self._options = low, high, ssl.Options(options)
        self._changed("versions", "middlebox_compat", "session_tickets")

    @staticmethod
    def _versions(low: ssl.TLSVersion, high: ssl.TLSVersion, options: int) -> list[str]:
        out = []
        for v, name, flag in ((_V13, "TLSv1.3", _O.OP_NO_TLSv1_3),
                              (_V12, "TLSv1.2", _O.OP_NO_TLSv1_2)):
            if (_version_rank(low, True) <= int(v) <= _version_rank(high, False)
                    and not options & flag):
                out.append(name)
        return out

    @property
    def ignore_unexpected_eof(self) -> bool:
        return bool(self._options & getattr(_O, "OP_IGNORE_UNEXPECTED_EOF", 0))

    def set_ciphers(self, cipherlist: str) -> None:
        codes = parse_cipher_string(cipherlist)
        self._suites12 = codes
        self._changed("cipher_suites")

    def get_ciphers(self) -> list[Any]:  # type: ignore[override]
        versions = self._versions(self._min, self._max, self._options)
        codes: list[int] = [int(c) for c in crypto.DEFAULT_SUITES] if "TLSv1.3" in versions \
            else []
        if "TLSv1.2" in versions:
            codes += self._suites12 if self._suites12 is not None else [c.code for c in TLS12]
        return cipher_dicts(codes)

    def set_ecdh_curve(self, name: str) -> None:
        group = _CURVES.get(str(name).lower())
        if group is None:
            raise UnsupportedSetting(f"set_ecdh_curve: tlskit has no curve {name!r} "
                                     f"(it has {', '.join(sorted(set(_CURVES.values())))})")
        self._groups = [group]
        self._changed("groups", "key_share_groups")

    def load_dh_params(self, path: str) -> None:
        raise UnsupportedSetting("load_dh_params: tlskit does not do finite-field DHE in "
                                 "TLS 1.2 (it uses ECDHE, and the RFC 7919 groups in TLS 1.3)")

    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None:
        protos = list(alpn_protocols)
        for p in protos:
            b = bytes(p, "ascii")  # (TypeError for bytes, as in ssl)
            if not 0 < len(b) < 256:
                raise ssl.SSLError("ALPN protocols must be 1 to 255 in length")
        if self._same(protos == self._alpn, "alpn_protocols"):
            return
        self._alpn = protos
        self._changed("alpn_protocols")

    def set_npn_protocols(self, npn_protocols: Iterable[str]) -> None:
        raise UnsupportedSetting("NPN was replaced by ALPN (RFC 7301): use "
                                 "set_alpn_protocols()")

    # -- keys, tickets, callbacks ---------------------------------------------------------

    @property  # type: ignore[override]
    def keylog_filename(self) -> str | None:
        return self._keylog_filename

    @keylog_filename.setter
    def keylog_filename(self, path: str | os.PathLike[str] | None) -> None:
        if self._keylog is not None:
            self._keylog.close()  # (a connection still using it reopens it for its next line)
        if path is None:
            self._keylog_filename, self._keylog = None, None
        else:
            name = os.fspath(path)
            # Fail now (as ssl does) if the file cannot be opened for appending.
            fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.close(fd)
            keylog = KeyLogFile(name)
            weakref.finalize(self, keylog.close)  # as ssl: closed with the context, quietly
            self._keylog_filename, self._keylog = name, keylog
        self._changed("keylog")

    @property  # type: ignore[override]
    def post_handshake_auth(self) -> bool:
        return self._pha

    @post_handshake_auth.setter
    def post_handshake_auth(self, value: bool) -> None:
        """RFC 8446 4.6.2, as ssl does it: a client offers post_handshake_auth; a server
        with CERT_OPTIONAL/REQUIRED asks for the certificate only when the application
        calls `verify_client_post_handshake()`, not in the handshake."""
        self._pha = bool(value)
        self._changed("post_handshake_auth", "client_auth")

    @property  # type: ignore[override]
    def num_tickets(self) -> int:
        return self._num_tickets

    @num_tickets.setter
    def num_tickets(self, value: int) -> None:
        if self._client:
            raise ValueError("SSLContext is not a server context.")
        if not isinstance(value, int) or value < 0:
            raise ValueError("value must be non-negative")
        self._num_tickets = value
        self._changed("session_tickets")

    @property  # type: ignore[override]
    def sni_callback(self) -> Callable[..., int | None] | None:
        return self._sni_callback

    @sni_callback.setter
    def sni_callback(self, callback: Callable[..., int | None] | None) -> None:
        if self._client:
            raise ValueError("sni_callback cannot be set on TLS_CLIENT context")
        if callback is not None and not callable(callback):
            raise TypeError("not a callable object")
        self._sni_callback = callback

    def set_servername_callback(self, server_name_callback: Any) -> None:
        self.sni_callback = server_name_callback

    # -- external PSKs (Python 3.13's ssl) ----------------------------------------------

    def set_psk_client_callback(self, callback: PskClientCallback | None) -> None:
        """Python 3.13: ``callback(hint) -> (identity, psk)``, asked for each connection
        (hint is None: TLS 1.3 has none); an empty psk offers none. The key is a
        tlskit `ExternalPsk` (SHA-256, TLS 1.3, at least 16 bytes)."""
        if not self._client:
            raise ValueError("Cannot add PSK client callback to a PROTOCOL_TLS_SERVER context")
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")
        self._psk_client_callback = callback

    def set_psk_server_callback(self, callback: PskServerCallback | None,
                                identity_hint: str | None = None) -> None:
        """Python 3.13: ``callback(identity) -> psk`` (b"": unknown), asked with each
        identity a client offers. ``identity_hint`` is TLS 1.2's, which tlskit does not
        do PSKs for: accepted and not sent (TLS 1.3 has no hint). A server with this
        callback needs no certificate."""
        if self._client:
            raise ValueError("Cannot add PSK server callback to a PROTOCOL_TLS_CLIENT context")
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")
        if identity_hint is not None and not isinstance(identity_hint, str):
            raise TypeError("identity_hint must be a str or None")
        self._psk_server_callback = callback
        self._changed("external_psks")

    def session_stats(self) -> dict[str, int]:
        return dict(self._stats)

    def _count(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._stats[k] += 1

    # -- the tlskit configs -----------------------------------------------------------------

    def _common_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "versions": self._versions(self._min, self._max, self._options),
            "alpn_protocols": list(self._alpn),
            "keylog": self._keylog,
            # As OpenSSL: the peer's close_notify is not answered by itself (a TLS 1.3
            # half-close leaves this side sending); ours goes out with unwrap(),
            # shutdown() or close(), for SSLObject and SSLSocket alike.
            "close_reply": False,
        }
        if self._suites12 is not None:
            fields["cipher_suites"] = [*crypto.DEFAULT_SUITES, *self._suites12]
        if self._groups is not None:
            fields["groups"] = list(self._groups)
        return fields

    def _client_fields(self) -> dict[str, Any]:
        return {
            **self._common_fields(),
            "verifier": self._get_verifier(),
            "verify_mode": "report" if self._verify_mode == ssl.CERT_NONE else "required",
            "check_hostname": self._check_hostname,
            "certificate": self._certs[-1] if self._certs else None,
            "middlebox_compat": bool(self._options & _O.OP_ENABLE_MIDDLEBOX_COMPAT),
            "post_handshake_auth": self._pha,
        }

    def _server_fields(self) -> dict[str, Any]:
        auth = {ssl.CERT_NONE: "none", ssl.CERT_OPTIONAL: "optional",
                ssl.CERT_REQUIRED: "required"}[self._verify_mode]
        fields = {
            **self._common_fields(),
            "certificates": list(reversed(self._certs)),
            # With post_handshake_auth the certificate is asked for later (ssl's rule).
            "client_auth": "none" if self._pha else auth,
            "session_tickets": 0 if self._options & _O.OP_NO_TICKET else self._num_tickets,
        }
        if auth != "none":
            fields["client_verifier"] = self._get_verifier()
        if self._psk_server_callback is not None:
            fields["external_psks"] = _psk_lookup(self._psk_server_callback)
        return fields

    def _build(self) -> ClientConfig | ServerConfig:
        with self._lock:
            if self._config is None:
                if self._client:
                    self._config = ClientConfig(**{**self._client_fields(), **self._overrides})
                else:
                    if not self._certs and "certificates" not in self._overrides \
                            and "certificate_chain" not in self._overrides \
                            and self._psk_server_callback is None:
                        raise ssl.SSLError(1, "[SSL: NO_CERTIFICATE_SET] a server context "
                                              "needs load_cert_chain() before use")
                    self._config = ServerConfig(**{**self._server_fields(), **self._overrides})
            return self._config

    @property
    def tlskit_client_config(self) -> ClientConfig:
        """The `tlskit.ClientConfig` this context's client connections use."""
        if not self._client:
            raise ValueError("this is a PROTOCOL_TLS_SERVER context: see tlskit_server_config")
        cfg = self._build()
        assert isinstance(cfg, ClientConfig)
        if self._psk_client_callback is not None:  # asked per connection, as ssl does
            cfg = cfg.replace(external_psks=_client_psks(self._psk_client_callback))
        return cfg

    @property
    def tlskit_server_config(self) -> ServerConfig:
        """The `tlskit.ServerConfig` this context's server connections use."""
        if self._client:
            raise ValueError("this is a PROTOCOL_TLS_CLIENT context: see tlskit_client_config")
        cfg = self._build()
        assert isinstance(cfg, ServerConfig)
        return cfg

    def tlskit_configure(self, **fields: Any) -> None:
        """Set `ClientConfig`/`ServerConfig` fields ssl has no words for (groups such as
        X25519MLKEM768, ``tracer``, ``ocsp_stapling``, a revocation-checking ``verifier``...).
        Validated now; a later ssl-level setting of the same field wins."""
        kind = ClientConfig if self._client else ServerConfig
        known = {f.name for f in dataclasses.fields(kind) if f.init}
        unknown = set(fields) - known
        if unknown:
            raise TypeError(f"{kind.__name__} has no field(s) {sorted(unknown)}")
        with self._lock:
            merged = {**self._overrides, **fields}
            base = self._client_fields() if self._client else self._server_fields()
            if self._client or self._certs or "certificates" in merged \
                    or "certificate_chain" in merged:
                kind(**{**base, **merged})  # validate now, not at the first connection
            self._overrides = merged
            self._config = None

    def tlskit_unverified_copy(self) -> SSLContext:
        """A client context with this one's settings that checks neither the certificate
        nor the host name (what requests' ``verify=False`` asks for), leaving this one
        as it is. Later changes to either context do not reach the other."""
        if not self._client:
            raise ValueError("only a PROTOCOL_TLS_CLIENT context has an unverified copy")
        twin = SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        with self._lock:
            for name, value in vars(self).items():
                if name not in ("_lock", "_config", "_verifier", "_stats"):
                    setattr(twin, name, _copied(value))
        twin.check_hostname = False
        twin.verify_mode = ssl.CERT_NONE
        return twin

    # -- making connections ------------------------------------------------------------------

    def _check_side(self, server_side: bool, server_hostname: str | None) -> None:
        if server_side and self._client:
            raise ssl.SSLError(1, "[SSL] Cannot create a server socket with a "
                                  "PROTOCOL_TLS_CLIENT context")
        if not server_side and not self._client:
            raise ssl.SSLError(1, "[SSL] Cannot create a client socket with a "
                                  "PROTOCOL_TLS_SERVER context")
        if server_side and server_hostname:
            raise ValueError("server_hostname can only be specified in client mode")
        if not server_side and self._check_hostname and not server_hostname:
            raise ValueError("check_hostname requires server_hostname")

    def wrap_socket(self, sock: socket.socket, server_side: bool = False,  # type: ignore[override]
                    do_handshake_on_connect: bool = True, suppress_ragged_eofs: bool = True,
                    server_hostname: str | bytes | None = None,
                    session: SSLSession | None = None) -> SSLSocket:
        from .sock import SSLSocket
        name = server_hostname.decode() if isinstance(server_hostname, bytes) \
            else server_hostname
        self._check_side(server_side, name)
        if session is not None and server_side:
            raise ValueError("session is only valid for client sockets")
        return SSLSocket.create(sock, self, server_side=server_side, server_hostname=name,
                                do_handshake_on_connect=do_handshake_on_connect,
                                suppress_ragged_eofs=suppress_ragged_eofs, session=session)

    def wrap_bio(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,  # type: ignore[override]
                 server_side: bool = False, server_hostname: str | bytes | None = None,
                 session: SSLSession | None = None) -> SSLObject:
        from .bio import SSLObject
        name = server_hostname.decode() if isinstance(server_hostname, bytes) \
            else server_hostname
        self._check_side(server_side, name)
        return SSLObject(incoming, outgoing, self, server_side=server_side,
                         server_hostname=name, session=session)

    def __repr__(self) -> str:
        side = "client" if self._client else "server"
        return f"<tlskit.compat.SSLContext {side}>"


def create_default_context(purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH, *,
                           cafile: str | os.PathLike[str] | None = None,
                           capath: str | os.PathLike[str] | None = None,
                           cadata: str | bytes | None = None) -> SSLContext:
    """Like `ssl.create_default_context`: a client context (for ``SERVER_AUTH``) checking
    certificates and host names against the system trust store, or a server context."""
    if not isinstance(purpose, ssl._ASN1Object):
        raise TypeError(purpose)
    if purpose == ssl.Purpose.SERVER_AUTH:
        ctx = SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    elif purpose == ssl.Purpose.CLIENT_AUTH:
        ctx = SSLContext(ssl.PROTOCOL_TLS_SERVER)
    else:
        raise ValueError(purpose)
    if sys.version_info >= (3, 13):  # what ssl.create_default_context adds since 3.13
        ctx.verify_flags |= _VF.VERIFY_X509_PARTIAL_CHAIN | _VF.VERIFY_X509_STRICT
    if cafile or capath or cadata:
        ctx.load_verify_locations(cafile, capath, cadata)
    elif ctx.verify_mode != ssl.CERT_NONE:
        ctx.load_default_certs(purpose)
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog and not sys.flags.ignore_environment:
        ctx.keylog_filename = keylog
    return ctx
