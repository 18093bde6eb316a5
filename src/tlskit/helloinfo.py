"""What a server knows of a client when it chooses its certificate or its config.

`ClientHelloInfo` is built from the ClientHello the handshake answers (the inner one when
Encrypted Client Hello was accepted) for `ServerConfig.certificate_resolver`, and from the
first ClientHello by `tlskit.Acceptor`. It is Go's ``tls.ClientHelloInfo``, rustls'
``ClientHello``: the offer by the same enums the rest of the API uses, nothing to decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .enums import CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme

if TYPE_CHECKING:
    from .config import CertifiedKey
    from .handshake.hello import ClientHelloView

__all__ = ["ClientHelloInfo"]


@dataclass(frozen=True, slots=True)
class ClientHelloInfo:
    """The client's offer, as a server chooses by it.

    Algorithms are the exported enums in the client's order (``.name`` is the IANA name;
    values tlskit does not know, GREASE among them, appear as ``UNKNOWN_0x....``
    members); versions are spelled as ``HandshakeComplete.version`` is ("TLSv1.3";
    an unknown one as its code point, "0x7a7a").
    A list is empty when the client left its extension out.

    :param server_name: the SNI name as the client sent it, None when it sent none. With
        Encrypted Client Hello accepted, the inner (real) name.
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
    """

    server_name: str | None
    alpn_protocols: tuple[str, ...] = ()
    cipher_suites: tuple[CipherSuite, ...] = ()
    supported_groups: tuple[NamedGroup, ...] = ()
    key_share_groups: tuple[NamedGroup, ...] = ()
    signature_schemes: tuple[SignatureScheme, ...] = ()
    supported_versions: tuple[str, ...] = ()
    extensions: tuple[int, ...] = ()
    ech_accepted: bool = False

    def supports(self, certified: CertifiedKey) -> bool:
        """Whether this client can verify a handshake signed with ``certified``'s key, as
        Go's ``SupportsCertificate``: in TLS 1.3 a signature scheme of the key the client
        accepts; in TLS 1.2 one too, and for an ECDSA key its curve among the client's
        groups. It does not look at names (a resolver chose by name already), nor at the
        server's own ``signature_schemes`` limit."""
        offered = set(self.signature_schemes)
        if "TLSv1.3" in self.supported_versions and not offered.isdisjoint(certified.schemes):
            return True
        if "TLSv1.2" not in self.supported_versions:
            return False
        curve = certified.curve12
        groups = self.supported_groups or (NamedGroup.secp256r1,)  # RFC 8422 4
        return (curve is None or curve in groups) and not offered.isdisjoint(
            certified.schemes12)


def client_hello_info(offer: ClientHelloView, server_name: str | None,
                      ech_accepted: bool = False) -> ClientHelloInfo:
    """The info for one hello's view. Decoding an extension may raise its DecodeError,
    as the handshake raises when it reads that extension."""
    # (decoded in the order the TLS 1.3 server reads them, so the first fault is its)
    versions = tuple(_version_name(v) for v in offer.offered_versions)
    groups = tuple(map(NamedGroup.of, offer.groups or ()))
    shares = tuple(NamedGroup.of(g) for g, _ in offer.shares or ())
    schemes = tuple(map(SignatureScheme.of, offer.schemes or ()))
    return ClientHelloInfo(
        server_name, tuple(offer.alpn or ()),
        tuple(map(CipherSuite.of, offer.hello.cipher_suites)), groups, shares, schemes,
        versions, tuple(offer.extensions), ech_accepted)


def _version_name(code: int) -> str:
    """"TLSv1.3" for a version tlskit knows; an unknown one (GREASE) by its code point."""
    known = ProtocolVersion._value2member_map_.get(code)
    return known.label if isinstance(known, ProtocolVersion) else f"0x{code:04x}"
