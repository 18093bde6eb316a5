"""Hostname matching (RFC 6125 / RFC 9525) and name-constraint subtree tests (RFC 5280 4.2.1.10).

Decisions, and why:

* Only subjectAltName dNSName and iPAddress entries identify a TLS server. The subject CN
  is not consulted (RFC 9525 section 6.1 forbids the fallback; CA/B certificates always
  carry SANs), unless a caller explicitly asks with ``cn_fallback=True``.
* Names are compared in A-label form, case-insensitively, with one trailing dot ignored.
  A U-label server name is converted as browsers and curl do: UTS 46 mapping
  (non-transitional) and IDNA 2008, via the `idna` package, so ``faß.de`` is
  ``xn--fa-hia.de`` and never the IDNA 2003 ``fass.de`` (another domain). An A-label
  that does not round-trip is rejected, so a hostile ``xn--`` label can never alias
  another name.
* A wildcard is honoured only as the entire leftmost label of a pattern with at least
  three labels: ``*.example.com`` matches ``a.example.com`` only. ``*.com``, ``f*.example.com``,
  ``a.*.example.com`` and ``*.*.example.com`` match nothing (RFC 9525 6.3, CA/B BR 7.1.2.7.12).
* An IP literal server name matches only iPAddress SANs, compared as parsed addresses (so
  ``::1`` and ``0:0::1`` are equal); a wildcard never matches an IP address, and an IP
  literal never matches a dNSName SAN even if the SAN spells the address.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

import idna
from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# fullmatch, never match with "$": "$" also matches before a trailing newline.
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MAX_NAME = 253


class InvalidHostname(ValueError):
    """The server name is neither a valid DNS name nor an IP literal."""


def may_be_ip_literal(text: str) -> bool:
    """False for what `ipaddress` cannot read as an address (no ':', and more than digits
    and dots): a host name is told apart without an exception raised and caught."""
    return ":" in text or text.replace(".", "").isdigit()


def parse_ip(text: str) -> IPAddress | None:
    """An IP literal (IPv6 optionally in brackets) or None. Zone ids are refused: they are
    local to a host and can never appear in a certificate."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "%" in text or not may_be_ip_literal(text):
        return None  # zone ids are refused
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _strip_dot(name: str) -> str:
    """Drop one trailing dot: ``example.com.`` is the same host as ``example.com``."""
    return name[:-1] if name.endswith(".") else name


def _check_a_label(label: str) -> None:
    """An ``xn--`` label must decode and re-encode to itself, or it could alias another name."""
    if not label.startswith("xn--"):
        return
    try:  # IDNA 2008 first; an A-label only IDNA 2003 allows (symbols) may still be exact
        again = idna.alabel(idna.ulabel(label)).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        try:
            again = label.encode("ascii").decode("idna").encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InvalidHostname(f"invalid A-label {label!r}") from exc
    if again.lower() != label:
        raise InvalidHostname(f"A-label {label!r} does not round-trip")


def _to_ascii(name: str) -> str:
    """Convert a U-label name to A-labels: UTS 46 (non-transitional) + IDNA 2008."""
    if name.isascii():
        return name.lower()
    try:
        _no_vanishing_label(name)
        mapped = idna.uts46_remap(name, std3_rules=False, transitional=False)
        return ".".join(label.lower() if label.isascii() else idna.alabel(label).decode("ascii")
                        for label in mapped.split("."))
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidHostname(f"{name!r} is not a valid internationalized name "
                              f"(IDNA 2008): {exc}") from exc


_UTS46_DOTS = re.compile("[.\u3002\uff0e\uff61]")  # the full stops UTS 46 maps to "."


def _no_vanishing_label(name: str) -> None:
    """A label UTS 46 maps to nothing (only ignored characters, such as U+FEFF or a soft
    hyphen) is an empty label: refused, or ``b.\ufeff`` would be host ``b`` while
    ``b.\ufeff.`` is ``b..``, and a trailing dot would change what a name is."""
    labels = _UTS46_DOTS.split(name)
    if labels[-1] == "":
        labels.pop()  # one trailing dot
    for label in labels:
        if label and not idna.uts46_remap(label, std3_rules=False, transitional=False):
            raise InvalidHostname(f"label {label!r} of {name!r} is only characters that "
                                  "IDNA ignores: an empty label")


# A whole lower-case ASCII name of `_LABEL`s, for `canonical_dns_name`'s one-match path.
# (No possessive quantifiers or atomic groups here: Python 3.11.2's `re`, Debian 12's,
# matches "-a" with a possessive label pattern behind a lookahead.)
_ASCII_NAME = re.compile(rf"(?:{_LABEL.pattern}\.)*{_LABEL.pattern}")


def canonical_dns_name(name: str) -> str:
    """The comparison form of a DNS host name: A-labels, lower case, no trailing dot.

    Raises InvalidHostname for anything that cannot be a host name (empty labels, a
    wildcard, characters outside letters/digits/hyphen/underscore, an all-numeric last
    label that a resolver would treat as an IPv4 address). An ASCII name with no A-label
    that passes is recognised by one match (a client meets a new one per new host);
    anything else, and every refusal, goes label by label (`_canonical_by_label`)."""
    if name.isascii():
        lowered = name.lower()
        if lowered.endswith("."):
            lowered = lowered[:-1]
        if len(lowered) <= _MAX_NAME and "xn--" not in lowered and _ASCII_NAME.fullmatch(
                lowered) and not lowered.rpartition(".")[2].isdigit():
            return lowered
    return _canonical_by_label(name)


def _canonical_by_label(name: str) -> str:
    """`canonical_dns_name` label by label, with the reason for a refusal."""
    if not name or name in (".",):
        raise InvalidHostname("empty host name")
    ascii_name = _strip_dot(_to_ascii(name))
    if len(ascii_name) > _MAX_NAME:
        raise InvalidHostname("host name longer than 253 characters")
    labels = ascii_name.split(".")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise InvalidHostname(f"invalid label {label!r} in host name {name!r}")
        _check_a_label(label)
    if labels[-1].isdigit():
        raise InvalidHostname(f"{name!r} looks like a numeric address, not a host name")
    return ascii_name


@functools.lru_cache(maxsize=1024)
def parse_server_name(server_name: str) -> str | IPAddress:
    """Classify a server name as an IP literal or a canonical DNS name (see module doc).
    Cached: a client connects to the same few names again and again."""
    ip = parse_ip(server_name)
    if ip is not None:
        return ip
    return canonical_dns_name(server_name)


@functools.lru_cache(maxsize=4096)
def _canonical_pattern(pattern: str) -> tuple[str, ...] | None:
    """Split a SAN dNSName into lower-case labels, or None if it is not a well-formed name
    and so can never match anything: every label letters, digits, hyphens (and, outside
    wildcard names, underscores), at most 63 octets, 253 in all; a wildcard only as the
    whole leftmost label of ``*.`` followed by a name of at least two LDH labels (CA/B BR
    "Wildcard Domain Name"). Spaces, empty labels, embedded or partial wildcards, and
    non-ASCII text make a pattern unusable. Cached: servers present the same names."""
    if not pattern or not pattern.isascii():
        return None
    name = _strip_dot(pattern.lower())
    if len(name) > _MAX_NAME:
        return None
    labels = tuple(name.split("."))
    if labels[0] == "*":
        if len(labels) < 3 or not all(_LDH_LABEL.fullmatch(label) for label in labels[1:]):
            return None
        return labels
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return labels


def _dns_matches_canonical(labels: tuple[str, ...], host: str) -> bool:
    """Match well-formed pattern labels against an already canonical host name."""
    if labels[0] != "*":
        return ".".join(labels) == host
    first, dot, rest = host.partition(".")
    return bool(first and dot) and rest == ".".join(labels[1:])


def valid_dns_san(name: str) -> bool:
    """Is ``name`` a well-formed SAN dNSName (a host name, or a ``*.`` wildcard name)?"""
    return _canonical_pattern(name) is not None


def valid_dns_constraint(value: str) -> bool:
    """Is ``value`` a well-formed dNSName name constraint? RFC 5280 4.2.1.10 gives a host
    name to which labels may be added on the left: no wildcard, no leading period."""
    labels = _canonical_pattern(value)
    return labels is not None and labels[0] != "*"


def valid_mailbox(value: str) -> bool:
    """An rfc822Name SAN: exactly one '@' between a non-empty local part and a host name."""
    local, at, host = value.rpartition("@")
    return bool(at and local and "@" not in local and valid_dns_constraint(host))


def valid_email_constraint(value: str) -> bool:
    """An rfc822Name constraint (RFC 5280 4.2.1.10): a mailbox, a host, or ``.domain``."""
    if "@" in value:
        return valid_mailbox(value)
    return valid_dns_constraint(value.removeprefix("."))


_LEGACY_IPV4_PART = re.compile(r"0x[0-9a-f]*|[0-9]+")


def names_a_host(text: str) -> bool:
    """Could a client that still reads the subject CN take ``text`` for a host? Any dotted
    name (ASCII or not), anything with a colon (IPv6 in any spelling), and the numeric
    IPv4 spellings inet_aton accepts (``0xC0A80101``, ``3232235777``, ``192.168.001.1``).
    A CN such as ``Example Server`` names no host, and no CN rule applies to it."""
    text = text.strip().lower()
    if not text or " " in text:
        return False
    if "." in text or ":" in text:
        return True
    return bool(_LEGACY_IPV4_PART.fullmatch(text))


def dns_name_matches(pattern: str, hostname: str) -> bool:
    """Does the SAN dNSName ``pattern`` identify ``hostname``? Pure; never raises.

    An IP literal ``hostname`` never matches (IPs only match iPAddress SANs), nor does an
    invalid host name."""
    if parse_ip(hostname) is not None:
        return False
    try:
        host = canonical_dns_name(hostname)
    except InvalidHostname:
        return False
    labels = _canonical_pattern(pattern)
    return labels is not None and _dns_matches_canonical(labels, host)


def _san_entries(cert: x509.Certificate) -> tuple[list[str], list[IPAddress]] | None:
    """(dNSNames, iPAddresses) of the SAN extension, or None when there is none."""
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return None
    san = ext.value
    assert isinstance(san, x509.SubjectAlternativeName)
    ips = [
        ip
        for ip in san.get_values_for_type(x509.IPAddress)
        if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
    ]
    return san.get_values_for_type(x509.DNSName), ips


def _common_names(cert: x509.Certificate) -> list[str]:
    return [
        str(attr.value)
        for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if isinstance(attr.value, str)
    ]


def match_names(
    dns_names: Sequence[str], ips: Sequence[IPAddress], server_name: str | IPAddress
) -> bool:
    """Match a parsed server name against SAN values (the hot path used by the Verifier).
    A dNSName equal to the canonical server name matches without being split: it passes
    every test `_canonical_pattern` makes (the server name passed them all), and the
    labels it would give join back to itself."""
    if type(server_name) is str and server_name in dns_names:
        return True
    if isinstance(server_name, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return server_name in ips
    for pattern in dns_names:
        labels = _canonical_pattern(pattern)
        if labels is not None and _dns_matches_canonical(labels, server_name):
            return True
    return False


def match_hostname(
    cert: x509.Certificate, server_name: str, *, cn_fallback: bool = False
) -> bool:
    """Is ``cert`` valid for ``server_name``? False for an invalid server name.

    ``cn_fallback`` consults the subject CN only when the certificate has no SAN at all
    (legacy behaviour, off by default per RFC 9525 6.1)."""
    try:
        target = parse_server_name(server_name)
    except InvalidHostname:
        return False
    entries = _san_entries(cert)
    if entries is None:
        if not cn_fallback or not isinstance(target, str):
            return False
        return match_names(_common_names(cert), [], target)
    return match_names(entries[0], entries[1], target)


# ---------------------------------------------------------------------------------------
# Name constraints (RFC 5280 4.2.1.10): is a name inside a subtree?


def dns_in_subtree(name: str, constraint: str) -> bool:
    """RFC 5280: a dNSName constraint covers the name itself and every name formed by adding
    labels on the left; a leading dot means subdomains only; the empty constraint covers
    everything. Comparison is label-wise, so ``example.com`` never covers ``badexample.com``.
    A wildcard SAN ``*.a.com`` is treated as the set of names it can match."""
    base = _strip_dot(constraint.lower())
    name = _strip_dot(name.lower())
    if not base:
        return True
    if base.startswith("."):
        return name.endswith(base) and len(name) > len(base)
    return name == base or name.endswith("." + base)


def dns_subtree_intersects(name: str, constraint: str) -> bool:
    """Could any host matched by SAN ``name`` lie in the subtree? Differs from
    `dns_in_subtree` only for wildcards: ``*.example.com`` can match ``a.example.com``, so
    an excluded subtree ``a.example.com`` must reject it."""
    if dns_in_subtree(name, constraint):
        return True
    if not name.startswith("*.") or constraint.startswith("."):
        return False
    parent = _strip_dot(name[2:].lower())
    base = _strip_dot(constraint.lower()).lstrip(".")
    if not base.endswith("." + parent):
        return False
    return "." not in base[: -len(parent) - 1]


def ip_in_subtree(address: IPAddress, network: IPNetwork) -> bool:
    """An iPAddress SAN is inside a constraint when the families agree and it is in range."""
    return address.version == network.version and address in network


def email_in_subtree(mailbox: str, constraint: str) -> bool:
    """rfc822Name constraints: a full mailbox, a host (all mailboxes there) or ``.domain``."""
    if "@" in constraint:
        local_c, _, host_c = constraint.rpartition("@")
        local, _, host = mailbox.rpartition("@")
        return local == local_c and host.lower() == host_c.lower()
    host = mailbox.rpartition("@")[2].lower()
    if constraint.startswith("."):
        return host.endswith(constraint.lower())
    return host == constraint.lower()


def uri_in_subtree(uri: str, constraint: str) -> bool:
    """uniformResourceIdentifier constraints apply to the host part; a URI without a host
    cannot be shown to be inside any subtree."""
    try:
        host = urlsplit(uri).hostname
    except ValueError:
        return False
    if not host:
        return False
    if constraint.startswith("."):
        return host.lower().endswith(constraint.lower())
    return host.lower() == constraint.lower()


def _rdn_key(rdn: x509.RelativeDistinguishedName) -> frozenset[tuple[str, str]]:
    """Compare RDNs ignoring case and surrounding/duplicate spaces (a practical subset of
    the RFC 5280 7.1 / RFC 4518 caseIgnoreMatch preparation)."""
    return frozenset(
        (attr.oid.dotted_string, " ".join(str(attr.value).split()).casefold()) for attr in rdn
    )


def directory_in_subtree(name: x509.Name, constraint: x509.Name) -> bool:
    """A directoryName is inside a subtree when the constraint's RDNs are a prefix of it."""
    name_rdns = name.rdns
    base_rdns = constraint.rdns
    if len(base_rdns) > len(name_rdns):
        return False
    return all(_rdn_key(a) == _rdn_key(b) for a, b in zip(base_rdns, name_rdns))
