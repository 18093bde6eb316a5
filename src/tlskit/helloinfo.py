"""What a server knows of a client when it chooses its certificate or its config.

`ClientHelloInfo` is built from the ClientHello the handshake answers (the inner one when
Encrypted Client Hello was accepted) for `ServerConfig.certificate_resolver`, and from the
first ClientHello by `tlskit.Acceptor`. It is Go's ``tls.ClientHelloInfo``, rustls'
``ClientHello``: the offer by the same enums the rest of the API uses (a code tlskit
does not know stays an int), nothing to decode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, TypeVar

from .enums import CertificateType, CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme
from .enums import ExtensionType as _ExtensionType
from .errors import TLSError

if TYPE_CHECKING:
    from .config import CertifiedKey, RawPublicKey
    from .handshake.hello import ClientHelloView

__all__ = ["ClientHelloInfo"]

_E = TypeVar("_E", bound=IntEnum)


@dataclass(frozen=True, slots=True)
class ClientHelloInfo:
    """The client's offer, as a server chooses by it.

    Algorithms are in the client's order, each the exported enum's member when tlskit
    knows the code (``.name`` is the IANA name) and the plain ``int`` when it does not
    (GREASE among them), as `CertificateRequestInfo.signature_schemes` has them: an
    unknown member would be a new object per code, so a hello listing 32,000 unknown
    suites would make an info of ~11 MB; ``member == code`` either way, and
    ``CipherSuite(code).name`` names any code (``UNKNOWN_0x....``). Versions are
    spelled as ``HandshakeComplete.version`` is ("TLSv1.3"; an unknown one as its code
    point, "0x7a7a").
    A list is empty when the client left its extension out.

    :param server_name: the SNI name the client sent, lower-cased (DNS names are
        case-insensitive: a lookup by it needs no folding, as rustls has it;
        ``HandshakeComplete.server_name`` keeps the client's spelling), None when it sent
        none. With Encrypted Client Hello accepted, the inner (real) name.
    :param alpn_protocols: the ALPN protocols offered, in the client's order.
    :param cipher_suites: the cipher suites offered.
    :param supported_groups: the key exchange groups offered (supported_groups).
    :param key_share_groups: the groups the client sent TLS 1.3 key shares for.
    :param signature_schemes: the handshake signature schemes it accepts
        (signature_algorithms).
    :param supported_versions: the versions offered: supported_versions, else the
        legacy_version of a TLS 1.2 (or older) client.
    :param extensions: the extension code points, in the order they came (as Go's
        ``ClientHelloInfo.Extensions``, for fingerprinting).
    :param ech_accepted: the server decrypted an Encrypted Client Hello, so
        ``server_name`` and the rest are the inner hello's (always False from
        `tlskit.Acceptor`, which sees the outer hello: the keys are in the config it
        hands the connection).
    :param version: the version the handshake speaks, when the server has chosen it:
        "TLSv1.3" or "TLSv1.2" for a ``certificate_resolver``; None for `tlskit.Acceptor`
        and the config choosers, whose config has still to choose.
    :param server_certificate_types: RFC 7250 server_certificate_type, the forms the
        client takes the server's key in, its preferred first (`CertificateType` members:
        ``X509``, ``RawPublicKey``); empty when it sent none, which means X.509 only.
    :param client_certificate_types: RFC 7250 client_certificate_type, the forms the
        client can present its own key in; empty when it sent none (X.509 only).
    """

    server_name: str | None
    alpn_protocols: tuple[str, ...] = ()
    cipher_suites: tuple[CipherSuite | int, ...] = ()
    supported_groups: tuple[NamedGroup | int, ...] = ()
    key_share_groups: tuple[NamedGroup | int, ...] = ()
    signature_schemes: tuple[SignatureScheme | int, ...] = ()
    supported_versions: tuple[str, ...] = ()
    extensions: tuple[int, ...] = ()
    ech_accepted: bool = False
    version: str | None = None
    server_certificate_types: tuple[CertificateType | int, ...] = ()
    client_certificate_types: tuple[CertificateType | int, ...] = ()

    def supports(self, certified: CertifiedKey | RawPublicKey) -> bool:
        """Whether a handshake serving ``certified`` completes with this client, as Go's
        ``SupportsCertificate``, judged in ``version`` (when None, the best version the
        client offers: a server speaking both answers TLS 1.3 with TLS 1.3). In TLS 1.3:
        a signature scheme of the key the client accepts. In TLS 1.2: one too, an ECDHE
        suite of the key's kind (ECDSA, which carries EdDSA, or RSA) among the client's
        suites and an elliptic-curve group in common, and for an ECDSA key its curve
        among the client's groups (RSA key transport, off by default, is not counted).
        It does not look at names (a resolver chose by name already), nor at the
        server's own limits (``signature_schemes``, ``groups``, ``cipher_suites``).
        ``certified`` may be a `tlskit.RawPublicKey` (a config chooser weighing a config
        with ``raw_public_key``): it needs RawPublicKey in ``server_certificate_types``;
        a certificate needs X.509 there, or no such list (RFC 7250 4.2)."""
        types = self.server_certificate_types
        if not certified.chain:  # a RawPublicKey (a CertifiedKey always has a leaf)
            if CertificateType.RawPublicKey not in types:
                return False
        elif types and CertificateType.X509 not in types:
            return False
        version = self.version or next(
            (v for v in ("TLSv1.3", "TLSv1.2") if v in self.supported_versions), None)
        offered = set(self.signature_schemes)
        if version == "TLSv1.3":
            return not offered.isdisjoint(certified.schemes)
        return version == "TLSv1.2" and not offered.isdisjoint(certified.schemes12) \
            and self._suits12(certified)

    def _suits12(self, certified: CertifiedKey | RawPublicKey) -> bool:
        """TLS 1.2's other conditions: an ECDHE suite and group, the key's curve (RFC 8422
        4, 5.1: a client without supported_groups is taken to support P-256)."""
        from .crypto import GROUPS12, SUITES12
        groups = self.supported_groups or (NamedGroup.secp256r1,)
        curve = certified.curve12
        suites = (SUITES12.get(code) for code in self.cipher_suites)
        return ((curve is None or curve in groups) and any(g in GROUPS12 for g in groups)
                and any(s is not None and s.kx == "ECDHE" and s.auth == certified.auth12
                        for s in suites))


def client_hello_info(offer: ClientHelloView, server_name: str | None,
                      ech_accepted: bool = False, version: str | None = None
                      ) -> ClientHelloInfo:
    """The info for one hello's view. An extension that does not decode is shown as
    absent, never raised: whether (and when) it is a fault is the handshake's to say
    where it reads it (a TLS 1.2 server never reads key_share), so a resolver or an
    `Acceptor` changes no outcome."""
    versions = _read(offer, "offered_versions") or [offer.hello.legacy_version]
    return ClientHelloInfo(
        server_name and server_name.lower(), tuple(_read(offer, "alpn") or ()),
        _known(CipherSuite, offer.hello.cipher_suites),
        _known(NamedGroup, _read(offer, "groups") or ()),
        _known(NamedGroup, [g for g, _ in _read(offer, "shares") or ()]),
        _known(SignatureScheme, _read(offer, "schemes") or ()),
        tuple(map(_version_name, versions)), tuple(offer.extensions), ech_accepted, version,
        _cert_types(offer, _ExtensionType.server_certificate_type),
        _cert_types(offer, _ExtensionType.client_certificate_type))


def _cert_types(offer: ClientHelloView, etype: int) -> tuple[CertificateType | int, ...]:
    """An RFC 7250 list, as `_known` codes; empty when absent or malformed (the
    handshake that reads it says why)."""
    from .wire.extensions import decode_cert_types
    body = offer.extensions.get(etype)
    if body is None:
        return ()
    try:
        return _known(CertificateType, decode_cert_types(body, "certificate types"))
    except TLSError:
        return ()


def offered_server_name(offer: ClientHelloView) -> str | None:
    """The hello's SNI name for an info made before any handshake read it: None when it
    does not decode (the connection then says why)."""
    name: str | None = _read(offer, "server_name")
    return name


def _read(offer: ClientHelloView, field: str) -> Any:
    """``offer.field``, or None when its extension does not decode."""
    try:
        return getattr(offer, field)
    except TLSError:
        return None


def _known(cls: type[_E], codes: Sequence[int]) -> tuple[_E | int, ...]:
    """Each code as its member of ``cls`` when tlskit knows it, else the int itself: an
    unknown member would be a new object of ~300 bytes per code (`_OpenEnum._missing_`),
    150 times the two bytes a hostile hello spends on it."""
    get = cls._value2member_map_.get
    return tuple(map(get, codes, codes))  # type: ignore[arg-type]


def _version_name(code: int) -> str:
    """"TLSv1.3" for a version tlskit knows; an unknown one (GREASE) by its code point."""
    known = ProtocolVersion._value2member_map_.get(code)
    return known.label if isinstance(known, ProtocolVersion) else f"0x{code:04x}"
