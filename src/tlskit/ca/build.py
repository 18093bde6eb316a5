"""Certificates and CRLs as the local CA makes them: names encoded as clients look them
up, random 16-octet serials, the key usages each role needs, revocation URLs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import urllib.parse
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from ..x509.names import valid_dns_san
from .files import PrivateKey
from .model import CAError, Kind, Revocation


def sign_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    """The digest to pair with the signing key: Ed25519 takes none, P-384 gets SHA-384."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def new_serial(taken: Callable[[int], bool]) -> int:
    """A random positive serial of 16 octets (127 random bits: the BRs ask for at least 64
    from a CSPRNG, and a shorter random number may lose leading octets), never reusing
    one the index already holds."""
    while True:
        serial = secrets.randbits(127) | (1 << 120)  # never shorter than 16 octets
        if not taken(serial):
            return serial


def cn(text: str) -> x509.NameAttribute:
    return x509.NameAttribute(NameOID.COMMON_NAME, text[:64])  # ub-common-name is 64


def _to_alabel(label: str) -> str:
    """IDNA-encode one U-label with UTS 46 + IDNA 2008, as clients will look it up."""
    import idna
    return str(idna.encode(label, uts46=True).decode("ascii"))


def dns_name(name: str) -> str:
    """Lowercase A-label form of a host name; a leading ``*`` label is kept as a wildcard."""
    labels = name.rstrip(".").split(".")
    if any(not label or label.strip() != label or " " in label for label in labels):
        raise CAError(f"invalid host name {name!r}")
    try:
        encoded = [label.lower() if label.isascii() else _to_alabel(label) for label in labels]
    except (UnicodeError, ValueError) as exc:
        raise CAError(f"cannot IDNA-encode {name!r}: {exc}") from exc
    result = ".".join(encoded)
    # A name no client would match is a certificate that cannot work: say why now.
    if encoded[-1].isdigit():
        raise CAError(f"{name!r} is not a valid IP address, and a host name cannot end in "
                      "a numeric label")
    if not valid_dns_san(result):
        if "*" in result:
            raise CAError(f"invalid wildcard name {name!r}: a wildcard must be the whole "
                          "leftmost label, followed by at least two labels "
                          "(e.g. *.example.com)")
        raise CAError(f"invalid host name {name!r}: labels are letters, digits, hyphens "
                      "(not first or last) and underscores, at most 63 characters each")
    return result


def general_name(name: str, kind: Kind) -> x509.GeneralName:
    """IP literals become iPAddress, a client's ``user@host`` an rfc822Name, the rest dNSName."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        pass
    if kind == "client" and "@" in name:
        return x509.RFC822Name(name)
    return x509.DNSName(dns_name(name))


def name_text(name: x509.GeneralName) -> str:
    """The subject CN for a SAN entry: a character-for-character copy of the dNSName (the
    A-label, lowercase form) or the canonical text of the iPAddress (CA/B BR 7.1.4.3), not
    the name as typed (``Bücher.Example.``, ``0:0::1``), which no SAN entry would match."""
    return str(name.value)


def _key_usage(*, leaf_key: PrivateKey | None) -> x509.KeyUsage:
    """A CA's (``leaf_key`` None) signs certificates, CRLs and, for the intermediate, OCSP
    responses (hence digitalSignature too). A leaf's signs handshakes; an RSA leaf may also
    be used for RSA key transport (TLS 1.2 and older), hence keyEncipherment."""
    ca = leaf_key is None
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=isinstance(leaf_key, rsa.RSAPrivateKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def ski(cert: x509.Certificate) -> x509.SubjectKeyIdentifier:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value


def _aki(issuer_ski: x509.SubjectKeyIdentifier) -> x509.AuthorityKeyIdentifier:
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski)


def ca_certificate(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    key: PrivateKey,
    signer: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    path_length: int | None,
    issuer_ski: x509.SubjectKeyIdentifier | None,
    ocsp_url: str | None = None,
    crl_url: str | None = None,
) -> x509.Certificate:
    """A CA certificate: the root (self-signed, ``issuer_ski`` None) or the intermediate."""
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(new_serial(lambda _: False))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(leaf_key=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if issuer_ski is not None:
        builder = builder.add_extension(_aki(issuer_ski), critical=False)
    builder = _with_revocation_urls(builder, ocsp_url, crl_url)
    return builder.sign(signer, sign_hash(signer))


def leaf_certificate(
    kind: Kind,
    common_name: str,
    general_names: list[x509.GeneralName],
    key: PrivateKey,
    serial: int,
    window: tuple[dt.datetime, dt.datetime],
    urls: tuple[str, str],
    issuer: tuple[x509.Certificate, PrivateKey],
    must_staple: bool = False,
) -> x509.Certificate:
    """A serverAuth or clientAuth leaf signed by ``issuer`` (certificate, key), valid for
    ``window``, naming the (OCSP, CRL) ``urls`` that are not empty; ``must_staple`` adds
    the TLS Feature extension asking for OCSP stapling (RFC 7633)."""
    # A CN longer than 64 characters is not allowed; then the subject is empty and
    # RFC 5280 4.2.1.6 requires the SAN extension to be critical.
    subject = x509.Name([cn(common_name)]) if len(common_name) <= 64 else x509.Name([])
    usage = ExtendedKeyUsageOID.SERVER_AUTH if kind == "server" else \
        ExtendedKeyUsageOID.CLIENT_AUTH
    issuer_cert, issuer_key = issuer
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(window[0])
        .not_valid_after(window[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(leaf_key=key), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(general_names), critical=not subject)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(_aki(ski(issuer_cert)), critical=False)
    )
    builder = _with_revocation_urls(builder, *urls)
    if must_staple:  # RFC 7633: TLS Feature status_request; not critical, as CAs issue it
        builder = builder.add_extension(
            x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False)
    return builder.sign(issuer_key, sign_hash(issuer_key))


def _with_revocation_urls(
    builder: x509.CertificateBuilder, ocsp_url: str | None, crl_url: str | None
) -> x509.CertificateBuilder:
    """Add the AIA OCSP responder and the CRL distribution point, when there are any."""
    if ocsp_url:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    if crl_url:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return builder


def crl(
    issuer: x509.Certificate,
    key: PrivateKey,
    number: int,
    window: tuple[dt.datetime, dt.datetime],
    revoked: list[Revocation],
) -> x509.CertificateRevocationList:
    """A full CRL numbered ``number``, from ``window[0]`` (thisUpdate) to ``window[1]``."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(window[0])
        .next_update(window[1])
        .add_extension(_aki(ski(issuer)), critical=False)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for rev in sorted(revoked, key=lambda r: r.serial_number):
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(rev.serial_number)
            .revocation_date(rev.revoked_at)
        )
        if rev.reason is not x509.ReasonFlags.unspecified:  # RFC 5280 5.3.1: omit it
            entry = entry.add_extension(x509.CRLReason(rev.reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(key, sign_hash(key))


def ocsp_url_of(cert: x509.Certificate) -> str | None:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for access in aia:
        if access.access_method == AuthorityInformationAccessOID.OCSP:
            return str(access.access_location.value)
    return None


def check_url(url: str) -> str:
    """``url`` itself, if it is an http:// URL with a host and a valid port; CAError
    otherwise, saying which."""
    try:
        parsed = urllib.parse.urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket: not about the port
        raise CAError(f"{url!r} is not a URL ({exc}), e.g. http://127.0.0.1:8888") from None
    try:
        port = parsed.port  # ValueError for a port that is not a number or out of range
    except ValueError:
        port = 0
    if port == 0:
        raise CAError(
            f"{url!r} has no valid port: give one within 1-65535, e.g. http://127.0.0.1:8888"
        )
    ok = parsed.scheme == "http" and bool(parsed.hostname)
    if not ok:
        raise CAError(
            f"{url!r} is not an http:// URL (relying parties fetch OCSP and CRLs over plain "
            "HTTP, RFC 6960 A.1 / RFC 5280 4.2.1.13), e.g. http://127.0.0.1:8888"
        )
    return url
