"""x509-limbo testcases, rebuilt: one function per upstream id (see build.py)."""

from __future__ import annotations

import ipaddress
import warnings
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID

from .. import pki
from .build import (
    ANY_EKU,
    CA_KU,
    CLIENT_AUTH,
    ECDSA_SHA384,
    OTHERNAME_OID,
    PRECERT_OID,
    SERVER_AUTH,
    UNKNOWN_OID,
    Case,
    Pair,
    der,
    ec_key,
    intermediate,
    issue,
    ku,
    leaf,
    name,
    nc,
    raw,
    raw_dns,
    raw_email,
    raw_ip,
    raw_nc,
    raw_san,
    rebuild,
    root,
    san,
    simple,
    slow_key,
    testcase,
    with_outer_algorithm,
)

F, S = "FAILURE", "SUCCESS"
UNKNOWN_CRITICAL = (x509.UnrecognizedExtension(UNKNOWN_OID, b""), True)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- pathlen ------------------------------------------------------------------------------

for _n in (0, 1, 2):
    def _ee_under_pathlen(n: int = _n) -> Case:
        r = root()
        i = intermediate(r, n)
        return simple(r, leaf(i), [i])
    testcase(f"pathlen::ee-with-intermediate-pathlen-{_n}", S)(_ee_under_pathlen)

    def _client_ee_under_pathlen(n: int = _n) -> Case:
        r = root()
        i = intermediate(r, n)
        lf = leaf(i, eku=(x509.ExtendedKeyUsage([CLIENT_AUTH]), False))
        return simple(r, lf, [i], kind="CLIENT", peer_name=None)
    testcase(f"ee-pathlen::ee-with-intermediate-pathlen-{_n}", S)(_client_ee_under_pathlen)


@testcase("pathlen::validation-ignores-pathlen-in-leaf", S)
def _() -> Case:
    r = root()
    i1 = intermediate(r, 0)
    i2 = intermediate(i1, 0)
    return simple(r, i2, [i1])


@testcase("pathlen::intermediate-violates-pathlen-0", F)
def _() -> Case:
    r = root()
    i1 = intermediate(r, 0)
    i2 = intermediate(i1, 0)
    return simple(r, leaf(i2), [i1, i2])


@testcase("pathlen::intermediate-pathlen-may-increase", S)
def _() -> Case:
    r = root()
    i1 = intermediate(r, 1)
    i2 = intermediate(i1, 2)
    return simple(r, leaf(i2), [i1, i2])


@testcase("pathlen::intermediate-pathlen-too-long", F)
def _() -> Case:
    r = root()
    i1 = intermediate(r, 1)
    i2 = intermediate(i1, 0)
    i3 = intermediate(i2, 0)
    return simple(r, leaf(i3), [i1, i2, i3])


@testcase("pathlen::self-issued-certs-pathlen", S)
def _() -> Case:
    r = root()
    i1 = intermediate(r, 1)
    i2 = intermediate(i1, 1, subject=i1.cert.subject)
    i3 = intermediate(i2, 0)
    return simple(r, leaf(i3), [i1, i2, i3])


@testcase("pathlen::max-chain-depth-0", S, max_depth=0)
def _() -> Case:
    r = root()
    return simple(r, leaf(r))


@testcase("pathlen::max-chain-depth-0-exhausted", F, max_depth=0)
def _() -> Case:
    r = root()
    i = intermediate(r)
    return simple(r, leaf(i), [i])


@testcase("pathlen::max-chain-depth-1", S, max_depth=1)
def _() -> Case:
    r = root()
    i = intermediate(r)
    return simple(r, leaf(i), [i])


@testcase("pathlen::max-chain-depth-1-exhausted", F, max_depth=1)
def _() -> Case:
    r = root()
    i1 = intermediate(r)
    i2 = intermediate(i1)
    return simple(r, leaf(i2), [i1, i2])


# -- rfc5280 (top level) --------------------------------------------------------------------


@testcase("rfc5280::ee-empty-issuer", F)
def _() -> Case:
    r = root()
    lf = leaf(r, issuer_name=x509.Name([]), subject=name("CN=empty-issuer"))
    return simple(r, lf)


@testcase("rfc5280::ca-empty-subject", F)
def _() -> Case:
    r = root(subject=x509.Name([]))
    return simple(r, leaf(r))


@testcase("rfc5280::unknown-critical-extension-ee", F)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, extra=[UNKNOWN_CRITICAL]))


@testcase("rfc5280::unknown-critical-extension-root", F)
def _() -> Case:
    r = root(extra=[UNKNOWN_CRITICAL])
    return simple(r, leaf(r))


@testcase("rfc5280::unknown-critical-extension-intermediate", F)
def _() -> Case:
    r = root()
    i = intermediate(r, 0, extra=[UNKNOWN_CRITICAL])
    return simple(r, leaf(i), [i])


@testcase("rfc5280::chain-untrusted-root", F)
def _() -> Case:
    r = root()
    i = intermediate(r, 0)
    unrelated = root(issuer_name=name("CN=x509-limbo-unrelated-root"))
    return simple(unrelated, leaf(i), [r, i])


@testcase("rfc5280::intermediate-ca-without-ca-bit", F)
def _() -> Case:
    r = root()
    i = intermediate(r, bc=(x509.BasicConstraints(False, None), True))
    return simple(r, leaf(i), [i])


@testcase("rfc5280::intermediate-ca-missing-basic-constraints", F)
def _() -> Case:
    r = root()
    i = intermediate(r, bc=None)
    return simple(r, leaf(i), [i])


@testcase("rfc5280::root-missing-basic-constraints", F)
def _() -> Case:
    r = root(bc=None)
    return simple(r, leaf(r))


@testcase("rfc5280::root-non-critical-basic-constraints", F)
def _() -> Case:
    r = root(bc=(x509.BasicConstraints(True, None), False))
    return simple(r, leaf(r))


@testcase("rfc5280::root-inconsistent-ca-extensions", F)
def _() -> Case:
    r = root(key_usage=(ku(), False))
    return simple(r, leaf(r))


@testcase("rfc5280::ica-ku-keycertsign", F)
def _() -> Case:
    r = root()
    i = intermediate(r, 0, key_usage=(ku(), False))
    return simple(r, leaf(i), [i])


@testcase("rfc5280::leaf-ku-keycertsign", F)
def _() -> Case:
    r = root()
    lf = leaf(r, bc=(x509.BasicConstraints(False, None), True),
              key_usage=(ku(digital_signature=True, key_cert_sign=True), False))
    return simple(r, lf)


_AIA = x509.AuthorityInformationAccess(
    [x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS,
                            x509.DNSName("example.com"))])


@testcase("rfc5280::ee-aia", S)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, extra=[(_AIA, False)]))


@testcase("rfc5280::ee-critical-aia-invalid", F)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, extra=[(_AIA, True)]))


@testcase("rfc5280::duplicate-extensions", F)
def _() -> Case:
    r = root()
    dup = (san("example.com"), False)
    return simple(r, leaf(r, alt=None, unchecked=[dup, dup]))


@testcase("rfc5280::no-keyusage", S)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, key_usage=None))


@testcase("rfc5280::no-basicconstraints", S)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, bc=None))


@testcase("rfc5280::mismatching-signature-algorithm-rebuilt", F)
def _() -> Case:
    r = root()
    return simple(r, with_outer_algorithm(leaf(r), ECDSA_SHA384))


@testcase("rfc5280::ca-as-leaf", S)
def _() -> Case:
    r = root()
    ica = intermediate(r, alt=(san("ca.example.com"), False))
    return simple(r, ica, peer_name=("DNS", "ca.example.com"))


@testcase("rfc5280::ca-as-leaf-wrong-san", F)
def _() -> Case:
    r = root()
    ica = intermediate(r, alt=(san("ca.example.com"), False))
    return simple(r, ica, peer_name=("DNS", "some-other-ca.example.com"))


@testcase("rfc5280::root-and-intermediate-swapped", S)
def _() -> Case:
    r = root()
    ica = intermediate(r)
    return simple(ica, leaf(ica), [r])


# -- rfc5280::aki / ski ---------------------------------------------------------------------


@testcase("rfc5280::aki::critical-aki", F)
def _() -> Case:
    key = ec_key()
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
    r = root(key=key, aki=(aki, True))
    return simple(r, leaf(r))


@testcase("rfc5280::aki::leaf-missing-aki", F)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, aki=None))


@testcase("rfc5280::aki::intermediate-missing-aki", F)
def _() -> Case:
    r = root()
    i = intermediate(r, 0, aki=None)
    return simple(r, leaf(i), [i])


@testcase("rfc5280::aki::self-signed-root-missing-aki", S)
def _() -> Case:
    r = root(aki=None)
    return simple(r, leaf(r))


@testcase("rfc5280::aki::cross-signed-root-missing-aki", F, features=["pedantic-rfc5280"])
def _() -> Case:
    xsigner = root()
    r = intermediate(xsigner, 0, aki=None)
    return simple(r, leaf(r))


@testcase("rfc5280::ski::critical-ski", F)
def _() -> Case:
    key = ec_key()
    r = root(key=key, ski=(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), True))
    return simple(r, leaf(r))


@testcase("rfc5280::ski::root-missing-ski", F)
def _() -> Case:
    r = root(ski=None)
    return simple(r, leaf(r))


@testcase("rfc5280::ski::intermediate-missing-ski", F)
def _() -> Case:
    r = root()
    i = intermediate(r, ski=None)
    return simple(r, leaf(i), [i])


# -- rfc5280::san / serial / eku / pc / validity ---------------------------------------------


@testcase("rfc5280::san::malformed", F)
def _() -> Case:
    r = root()
    bad = raw(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"example.com")
    return simple(r, leaf(r, alt=None, extra=[(bad, False)]))


@testcase("rfc5280::san::noncritical-with-empty-subject", F)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, subject=x509.Name([]), alt=(san("example.com"), False)))


def _serial_case(value: int) -> Case:
    r = root()
    with warnings.catch_warnings():  # cryptography complains about the serial it parses
        warnings.simplefilter("ignore")
        lf = rebuild(leaf(r), r, lambda items: [items[0], pki.der_integer(value), *items[2:]])
    return simple(r, lf)


@testcase("rfc5280::serial::too-long", F, features=["pedantic-serial-number"])
def _() -> Case:
    return _serial_case(int.from_bytes(b"\x7f" + b"\x5a" * 21, "big"))


@testcase("rfc5280::serial::zero", F, features=["pedantic-serial-number"])
def _() -> Case:
    return _serial_case(0)


@testcase("rfc5280::serial::negative", F, features=["pedantic-serial-number"])
def _() -> Case:
    return _serial_case(-12345)


@testcase("rfc5280::eku::ee-wrong-eku", F)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, eku=(x509.ExtendedKeyUsage([CLIENT_AUTH]), False)))


@testcase("rfc5280::eku::ee-without-eku", S)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, eku=None))


@testcase("rfc5280::pc::ica-noncritical-pc", F, features=["has-policy-constraints"])
def _() -> Case:
    r = root()
    pc = x509.PolicyConstraints(require_explicit_policy=3, inhibit_policy_mapping=None)
    i = intermediate(r, extra=[(pc, False)])
    return simple(r, leaf(i), [i])


def _dated(expired: str) -> Case:
    spans = {"root": ("2016", "2026"), "intermediate": ("2016", "2026"), "leaf": ("2018", "2023")}
    spans[expired] = (spans[expired][0], "2020" if expired != "leaf" else "2021")

    def when(part: str) -> dict[str, datetime]:
        a, b = spans[part]
        return {"not_before": t(f"{a}-01-01T00:00:00+00:00"),
                "not_after": t(f"{b}-01-01T00:00:00+00:00")}
    r = root(**when("root"))
    i = intermediate(r, **when("intermediate"))
    return simple(r, leaf(i, **when("leaf")), [i], at=t("2022-01-01T00:00:00+00:00"))


for _part in ("root", "intermediate", "leaf"):
    testcase(f"rfc5280::validity::expired-{_part}", F)(lambda p=_part: _dated(p))


def _window(at_offset: timedelta, nb: str, expected_at: str) -> Case:
    nbt, nat = t(nb), t("2024-04-01T00:00:00+00:00")
    r = root(not_before=nbt, not_after=nat)
    i = intermediate(r, not_before=nbt, not_after=nat)
    lf = leaf(i, not_before=nbt, not_after=nat)
    base = nbt if expected_at == "nb" else nat
    return simple(r, lf, [i], at=base + at_offset)


testcase("rfc5280::validity::notbefore-exact", S)(
    lambda: _window(timedelta(0), "2024-03-01T00:00:00+00:00", "nb"))
testcase("rfc5280::validity::notbefore-fractional", F)(
    lambda: _window(timedelta(milliseconds=-1), "2024-03-01T00:00:01+00:00", "nb"))
testcase("rfc5280::validity::notafter-exact", S)(
    lambda: _window(timedelta(0), "2024-03-01T00:00:00+00:00", "na"))
testcase("rfc5280::validity::notafter-fractional", S)(
    lambda: _window(timedelta(milliseconds=5), "2024-03-01T00:00:00+00:00", "na"))


# -- rfc5280::nc ------------------------------------------------------------------------------

DNS = x509.DNSName


def _ip(text: str) -> x509.IPAddress:
    return x509.IPAddress(ipaddress.ip_network(text) if "/" in text
                          else ipaddress.ip_address(text))


def _nc_root_leaf(constraints: x509.NameConstraints, alt: x509.SubjectAlternativeName,
                  critical: bool = True, **kw: object) -> Case:
    r = root(constraints=(constraints, critical))
    subject = kw.pop("subject", None)
    lf = leaf(r, alt=(alt, False), **({"subject": subject} if subject is not None else {}))
    return simple(r, lf, **kw)  # type: ignore[arg-type]


testcase("rfc5280::nc::permitted-dns-mismatch", F)(
    lambda: _nc_root_leaf(nc([DNS("example.com")]), san("not-example.com")))
testcase("rfc5280::nc::permitted-dns-match", S)(
    lambda: _nc_root_leaf(nc([DNS("example.com")]), san("example.com")))
testcase("rfc5280::nc::permitted-dns-match-noncritical", F,
         features=["rfc5280-incompatible-with-webpki"])(
    lambda: _nc_root_leaf(nc([DNS("example.com")]), san("example.com"), critical=False))
testcase("webpki::nc::permitted-dns-match-noncritical", S)(
    lambda: _nc_root_leaf(nc([DNS("example.com")]), san("example.com"), critical=False))
testcase("rfc5280::nc::permitted-dns-match-more", S)(
    lambda: _nc_root_leaf(nc([DNS("example.com")]), san("foo.bar.example.com"),
                          peer_name=("DNS", "foo.bar.example.com")))
testcase("rfc5280::nc::excluded-dns-match-second", F)(
    lambda: _nc_root_leaf(nc(None, [DNS("not-allowed.example.com")]),
                          san("example.com", "not-allowed.example.com")))
testcase("rfc5280::nc::permitted-ip-mismatch", F)(
    lambda: _nc_root_leaf(nc([_ip("192.0.2.0/24")]), san("192.0.3.1"),
                          peer_name=("IP", "192.0.3.1")))
testcase("rfc5280::nc::excluded-ipv4-match", F)(
    lambda: _nc_root_leaf(nc(None, [_ip("192.0.2.0/24")]), san("192.0.2.1"),
                          peer_name=("IP", "192.0.2.1")))
testcase("rfc5280::nc::excluded-ipv6-match", F)(
    lambda: _nc_root_leaf(nc(None, [_ip("::1/128")]), san("::1"), peer_name=("IP", "::1")))
testcase("rfc5280::nc::permitted-ipv4-match", S)(
    lambda: _nc_root_leaf(nc([_ip("192.0.2.0/24")]), san("192.0.2.1"),
                          peer_name=("IP", "192.0.2.1")))
testcase("rfc5280::nc::permitted-ipv6-match", S)(
    lambda: _nc_root_leaf(nc([_ip("::1/128")]), san("::1"), peer_name=("IP", "::1")))
testcase("rfc5280::nc::permitted-different-constraint-type", S)(
    lambda: _nc_root_leaf(nc([_ip("192.0.2.0/24")]), san("example.com")))
testcase("rfc5280::nc::excluded-different-constraint-type", S)(
    lambda: _nc_root_leaf(nc(None, [_ip("192.0.2.0/24")]), san("example.com")))
testcase("rfc5280::nc::excluded-match-permitted-and-excluded", F)(
    lambda: _nc_root_leaf(nc([DNS("example.com")], [DNS("example.com")]), san("example.com")))


def _dn(text: str) -> x509.DirectoryName:
    return x509.DirectoryName(name(text))


def _dn_case(constraints: x509.NameConstraints, subject: str, alt_dn: str) -> Case:
    return _nc_root_leaf(constraints, san(_dn(alt_dn)), subject=name(subject),
                         features=["name-constraint-dn"])


testcase("rfc5280::nc::permitted-dn-mismatch", F)(
    lambda: _dn_case(nc([_dn("CN=foo")]), "CN=not-foo", "CN=not-foo"))
testcase("rfc5280::nc::excluded-dn-match", F)(
    lambda: _dn_case(nc(None, [_dn("CN=foo")]), "CN=foo", "CN=foo"))
testcase("rfc5280::nc::permitted-dn-match", S)(
    lambda: _dn_case(nc([_dn("CN=foo")]), "CN=foo", "CN=foo"))
testcase("rfc5280::nc::permitted-dn-match-subject-san-mismatch", F)(
    lambda: _dn_case(nc([_dn("CN=foo")]), "CN=not-foo", "CN=foo"))
testcase("rfc5280::nc::excluded-dn-match-sub-mismatch", F)(
    lambda: _dn_case(nc(None, [_dn("CN=foo")]), "CN=foo", "CN=not-foo"))


@testcase("rfc5280::nc::permitted-self-issued", S)
def _() -> Case:
    nx = name("CN=not-example.com")
    r = root(issuer_name=nx, subject=nx, alt=(san("not-example.com"), False),
             constraints=(nc([DNS("example.com")]), True))
    i = intermediate(r, issuer_name=nx, subject=nx, alt=(san("not-example.com"), False))
    return simple(r, leaf(i), [i])


@testcase("rfc5280::nc::excluded-self-issued-leaf", F)
def _() -> Case:
    nx = name("CN=not-example.com")
    r = root(constraints=(nc([DNS("example.com")]), True))
    i = intermediate(r, subject=nx, alt=(san("not-example.com"), False))
    lf = leaf(i, issuer_name=nx, subject=nx, alt=(san("not-example.com"), False))
    return simple(r, lf, [i], peer_name=("DNS", "not-example.com"))


def _bad_constraint(permitted: bytes, alt: x509.SubjectAlternativeName,
                    peer: tuple[str, str], **kw: object) -> Case:
    r = root(constraints=(raw_nc([permitted]), True))
    lf = leaf(r, alt=(alt, False), **kw)  # type: ignore[arg-type]
    return simple(r, lf, peer_name=peer)


testcase("rfc5280::nc::invalid-dnsname-wildcard", F)(
    lambda: _bad_constraint(raw_dns("*.example.com"), san("foo.example.com"),
                            ("DNS", "foo.example.com")))
testcase("rfc5280::nc::invalid-dnsname-leading-period", F)(
    lambda: _bad_constraint(raw_dns(".example.com"), san("foo.example.com"),
                            ("DNS", "foo.example.com")))
testcase("rfc5280::nc::invalid-ipv4-address", F)(
    lambda: _bad_constraint(raw_ip(bytes([127, 0, 0, 1])), san("127.0.0.1"),
                            ("IP", "127.0.0.1")))
testcase("rfc5280::nc::invalid-ipv6-address", F)(
    lambda: _bad_constraint(raw_ip(ipaddress.ip_address("::1").packed), san("::1"),
                            ("IP", "::1")))


@testcase("rfc5280::nc::invalid-email-address", F)
def _() -> Case:
    r = root(constraints=(raw_nc([raw_email("invalid@invalid@example.com")]), True))
    lf = leaf(r, alt=(san(x509.RFC822Name("example@example.com")), False),
              eku=(x509.ExtendedKeyUsage([CLIENT_AUTH]), False))
    return simple(r, lf, kind="CLIENT", peer_name=None)


@testcase("rfc5280::nc::not-allowed-in-ee-noncritical", F)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, extra=[(nc([DNS("example.com")]), False)]))


@testcase("rfc5280::nc::not-allowed-in-ee-critical", F)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, extra=[(nc([DNS("example.com")]), True)]))


_PERMIT_EXCLUDE = nc([DNS("permitted.example.com")], [DNS("forbidden.example.com")])


@testcase("rfc5280::nc::intermediate-with-san-rejected-by-intermediate-nc", F)
def _() -> Case:
    r = root()
    i1 = intermediate(r, constraints=(_PERMIT_EXCLUDE, True))
    i2 = intermediate(i1, alt=(san("forbidden.example.com"), False))
    lf = leaf(i2, alt=(san("permitted.example.com"), False),
              subject=name("CN=permitted.example.com"))
    return simple(r, lf, [i1, i2], peer_name=("DNS", "permitted.example.com"))


@testcase("rfc5280::nc::intermediate-with-san-rejected-by-root-nc", F)
def _() -> Case:
    r = root(constraints=(_PERMIT_EXCLUDE, True))
    i1 = intermediate(r)
    i2 = intermediate(i1, alt=(san("forbidden.example.com"), False))
    lf = leaf(i2, alt=(san("permitted.example.com"), False))
    return simple(r, lf, [i1, i2], peer_name=("DNS", "permitted.example.com"))


def _narrowing(first: list[str], second: list[str]) -> Case:
    r = root()
    i1 = intermediate(r, constraints=(nc([DNS(d) for d in first]), True))
    i2 = intermediate(i1, constraints=(nc([DNS(d) for d in second]), True))
    lf = leaf(i2, alt=(san("foo.example.com"), False), subject=name("CN=foo.example.com"))
    return simple(r, lf, [i1, i2], peer_name=("DNS", "foo.example.com"))


testcase("rfc5280::nc::restrictive-permits-in-intermediates-narrows", F)(
    lambda: _narrowing(["foo.example.com", "bar.example.com"], ["bar.example.com"]))
testcase("rfc5280::nc::restrictive-permits-in-intermediates-widens", F)(
    lambda: _narrowing(["bar.example.com"], ["foo.example.com", "bar.example.com"]))


@testcase("rfc5280::nc::nc-permits-invalid-dns-san", F)
def _() -> Case:
    r = root()
    i = intermediate(r, constraints=(nc([DNS("example.com")]), True))
    lf = leaf(i, alt=(san(DNS(".example.com"), DNS("foo.example.com")), False),
              subject=name("CN=foo.example.com"))
    return simple(r, lf, [i], peer_name=("DNS", "foo.example.com"))


@testcase("rfc5280::nc::nc-permits-invalid-ip-san", F)
def _() -> Case:
    r = root()
    i = intermediate(r, constraints=(nc([_ip("192.0.2.0/24")]), True))
    lf = leaf(i, alt=(san(_ip("192.0.2.0/24"), _ip("192.0.2.1")), False))
    return simple(r, lf, [i], peer_name=("IP", "192.0.2.1"))


@testcase("rfc5280::nc::nc-permits-invalid-email-san", F)
def _() -> Case:
    r = root()
    i = intermediate(r, constraints=(nc([x509.RFC822Name("example.com")]), True))
    alt = raw_san(raw_email("good@example.com"), raw_email("alsogood@example.com"),
                  raw_email("invalid@address@example.com"))
    lf = leaf(i, alt=None, extra=[(alt, False)],
              eku=(x509.ExtendedKeyUsage([CLIENT_AUTH]), False))
    return simple(r, lf, [i], kind="CLIENT", peer_name=None)


@testcase("rfc5280::nc::nc-forbids-alternate-chain-ica", S)
def _() -> Case:
    discarded, trusted = root(alt=None), root(alt=None)
    ica_a = intermediate(trusted, constraints=(_PERMIT_EXCLUDE, True), alt=None)
    key = ec_key()
    an = name("CN=an-intermediate")
    ica_b1 = intermediate(discarded, key=key, subject=an,
                          alt=(san("forbidden.example.com"), False))
    ica_b2 = intermediate(ica_a, key=key, subject=an, alt=None)
    lf = leaf(ica_b1, subject=name("CN=permitted.example.com"),
              alt=(san("permitted.example.com"), False))
    return simple(trusted, lf, [ica_a, ica_b1, ica_b2],
                  peer_name=("DNS", "permitted.example.com"))


@testcase("rfc5280::nc::nc-forbids-same-chain-ica", S)
def _() -> Case:
    root_a, root_b = root(alt=None), root(alt=None)
    ica_a = intermediate(root_a, constraints=(nc(None, [DNS("forbidden.example.com")]), True),
                         alt=None)
    key = ec_key()
    an = name("CN=an-intermediate")
    ica_b1 = intermediate(ica_a, key=key, subject=an, alt=(san("forbidden.example.com"), False))
    ica_b2 = intermediate(root_b, key=key, subject=an,
                          alt=(san("unconstrained-ica.example.com"), False))
    lf = leaf(ica_b1, subject=name("CN=unconstrained.example.com"),
              alt=(san("unconstrained.example.com"), False))
    return simple([root_a, root_b], lf, [ica_a, ica_b1, ica_b2],
                  peer_name=("DNS", "unconstrained.example.com"))


def _email_case(constraint: str) -> Case:
    r = root()
    i = intermediate(r, constraints=(nc([x509.RFC822Name(constraint)]), True), alt=None)
    lf = leaf(i, alt=(san(x509.RFC822Name("foo@example.com")), False),
              eku=(x509.ExtendedKeyUsage([CLIENT_AUTH]), False))
    return simple(r, lf, [i], kind="CLIENT", peer_name=None)


testcase("rfc5280::nc::nc-permits-email-exact", S)(lambda: _email_case("foo@example.com"))
testcase("rfc5280::nc::nc-permits-email-domain", S)(lambda: _email_case("example.com"))


def _othername(in_san: bool) -> Case:
    other = x509.OtherName(OTHERNAME_OID, b"\x05\x00")
    r = root()
    i = intermediate(r, constraints=(nc([DNS("example.com")], [other]), True), alt=None)
    names = [DNS("example.com"), other] if in_san else [DNS("example.com")]
    lf = leaf(i, alt=(x509.SubjectAlternativeName(names), False))
    return simple(r, lf, [i])


testcase("rfc5280::nc::nc-forbids-othername", F)(lambda: _othername(True))
testcase("rfc5280::nc::nc-forbids-othername-noop", S)(lambda: _othername(False))


@testcase("rfc5280::nc::excluded-dns-match", F)
def _() -> Case:
    r = root()
    i = intermediate(r, constraints=(nc(None, [DNS("example.com")]), True))
    return simple(r, leaf(i), [i])


# -- webpki ---------------------------------------------------------------------------------


@testcase("webpki::malformed-aia", F)
def _() -> Case:
    r = root()
    bad = raw(x509.oid.ExtensionOID.AUTHORITY_INFORMATION_ACCESS, b"malformed")
    return simple(r, leaf(r, extra=[(bad, False)]))


def _key_case(kind: str, where: str) -> Case:
    key = slow_key(kind)
    if where == "root":
        r = root(key=key)
        return simple(r, leaf(r))
    r = root()
    return simple(r, leaf(r, key=key))


for _kind, _label in (("p192", "p192"), ("dsa", "dsa"), ("rsa1024", "weak-rsa"),
                      ("rsa2052", "rsa-not-divisable-by-8")):
    testcase(f"webpki::forbidden-{_label}-root", F)(lambda k=_kind: _key_case(k, "root"))
    testcase(f"webpki::forbidden-{_label}-leaf", F,
             features=["pedantic-webpki-subscriber-key"])(lambda k=_kind: _key_case(k, "leaf"))


@testcase("webpki::v1-cert", F)
def _() -> Case:
    r = root()
    lf = rebuild(leaf(r), r, lambda items: [i for i in items[1:] if i[0] != 0xA3])
    assert lf.cert.version == x509.Version.v1
    return simple(r, lf)


@testcase("webpki::ee-basicconstraints-ca", F)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, bc=(x509.BasicConstraints(True, None), True)))


@testcase("webpki::ca-as-leaf", F)
def _() -> Case:
    r = root()
    ica = intermediate(r, alt=(san("ca.example.com"), False))
    return simple(r, ica, peer_name=("DNS", "ca.example.com"))


def _san_case(pattern: str | x509.UnrecognizedExtension, host: str, **kw: object) -> Case:
    r = root()
    if isinstance(pattern, str):
        lf = leaf(r, alt=(san(DNS(pattern)), False), **kw)  # type: ignore[arg-type]
    else:
        lf = leaf(r, alt=None, extra=[(pattern, False)], **kw)  # type: ignore[arg-type]
    return simple(r, lf, peer_name=("DNS", host))


def _no_san() -> Case:
    r = root()
    return simple(r, leaf(r, subject=name("CN=example.com"), alt=None))


def _san_critical_with_subject() -> Case:
    r = root()
    return simple(r, leaf(r, subject=name("CN=something-else"), alt=(san("example.com"), True)))


_SAN_CASES = [
    ("exact-san", "example.com", "example.com", S),
    ("mismatch-domain-san", "example.com", "example2.com", F),
    ("mismatch-subdomain-san", "abc.example.com", "def.example.com", F),
    ("mismatch-subdomain-apex-san", "example.com", "abc.example.com", F),
    ("mismatch-apex-subdomain-san", "abc.example.com", "example.com", F),
    ("public-suffix-wildcard-san", "*.com", "example.com", F),
    ("leftmost-wildcard-san", "*.example.com", "foo.example.com", S),
    ("wildcard-embedded-leftmost-san", "ba*.example.com", "baz.example.com", F),
    ("wildcard-not-in-leftmost-san", "foo.*.example.com", "foo.bar.example.com", F),
    ("wildcard-match-across-labels-san", "*.example.com", "foo.bar.example.com", F),
    ("wildcard-embedded-ulabel-san", "xn--*-1b3c148a.example.com",
     "xn--bliss-1b3c148a.example.com", F),
]
for _ns in ("webpki::", "webpki::san::"):
    for _id, _pattern, _host, _expected in _SAN_CASES:
        _name = _id if _ns == "webpki::" else _id.replace("exact-san", "exact-dns-san")
        testcase(f"{_ns}{_name}", _expected)(lambda p=_pattern, h=_host: _san_case(p, h))
    testcase(f"{_ns}unicode-emoji-san", F)(lambda: _san_case(
        raw_san(raw_dns("\N{FACE WITH STUCK-OUT TONGUE AND WINKING EYE}.example.com")),
        "xn--628h.example.com"))
    testcase(f"{_ns}no-san", F)(_no_san)
    testcase(f"{_ns}san-critical-with-nonempty-subject", F)(_san_critical_with_subject)


@testcase("webpki::san::exact-localhost-ip-san", S)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, alt=(san("127.0.0.1"), False)), peer_name=("IP", "127.0.0.1"))


def _eku_case(eku: list[x509.ObjectIdentifier] | None, critical: bool = False) -> Case:
    r = root()
    value = (x509.ExtendedKeyUsage(eku), critical) if eku is not None else None
    return simple(r, leaf(r, eku=value), features=["pedantic-webpki-eku"])


testcase("webpki::eku::ee-anyeku", F)(lambda: _eku_case([SERVER_AUTH, ANY_EKU]))
testcase("webpki::eku-contains-anyeku", F)(lambda: _eku_case([SERVER_AUTH, ANY_EKU]))
testcase("webpki::eku::ee-critical-eku", F)(lambda: _eku_case([SERVER_AUTH], critical=True))
testcase("webpki::eku::ee-without-eku", F)(lambda: _eku_case(None))
testcase("webpki::eku::ee-clientauth-only", F)(lambda: _eku_case([CLIENT_AUTH]))
testcase("webpki::eku::ee-precertificate-only", F)(lambda: _eku_case([PRECERT_OID]))
testcase("webpki::eku::ee-precertificate-with-serverauth", F)(
    lambda: _eku_case([SERVER_AUTH, PRECERT_OID]))
testcase("webpki::eku::ee-serverauth-with-additional", S)(
    lambda: _eku_case([SERVER_AUTH, CLIENT_AUTH]))
_EKUS = x509.oid.ExtendedKeyUsageOID
for _label, _oid in (("codesigning", _EKUS.CODE_SIGNING),
                     ("emailprotection", _EKUS.EMAIL_PROTECTION),
                     ("timestamping", _EKUS.TIME_STAMPING), ("ocspsigning", _EKUS.OCSP_SIGNING)):
    testcase(f"webpki::eku::ee-{_label}-with-serverauth", F)(
        lambda o=_oid: _eku_case([SERVER_AUTH, o]))


def _root_eku() -> Case:
    r = root(extra=[(x509.ExtendedKeyUsage([SERVER_AUTH]), False)])
    return simple(r, leaf(r), features=["pedantic-webpki-eku"])


testcase("webpki::eku::root-has-eku", F)(_root_eku)
testcase("webpki::root-with-extkeyusage", F)(_root_eku)


@testcase("webpki::ku::ee-rsa-without-any-usages", F)
def _() -> Case:
    r = root()
    return simple(r, leaf(r, key=slow_key("rsa2048"), key_usage=(ku(), True)))


def _root_aki(body: bytes | None, key: ec.EllipticCurvePrivateKey | None = None) -> Case:
    key = key or ec_key()
    aki = raw(ExtensionOID.AUTHORITY_KEY_IDENTIFIER, der(0x30, body or b""))
    r = root(key=key, aki=(aki, False))
    return simple(r, leaf(r))


def _keyid(key: ec.EllipticCurvePrivateKey) -> bytes:
    return der(0x80, x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest)


_MYCN = der(0xA1, der(0xA4, name("CN=myCN").public_bytes()))


def _with_key(build: object) -> Case:
    key = ec_key()
    return build(key)  # type: ignore[operator, no-any-return]


testcase("webpki::aki::root-with-aki-missing-keyidentifier", F)(lambda: _root_aki(None))
testcase("webpki::aki::root-with-aki-authoritycertissuer", F)(
    lambda: _with_key(lambda k: _root_aki(_keyid(k) + _MYCN, k)))
testcase("webpki::aki::root-with-aki-authoritycertserialnumber", F)(
    lambda: _with_key(lambda k: _root_aki(_keyid(k) + der(0x82, b"\x04\xd2"), k)))
testcase("webpki::aki::root-with-aki-all-fields", F)(
    lambda: _with_key(lambda k: _root_aki(_keyid(k) + _MYCN + der(0x82, b"\x04\xd2"), k)))
testcase("webpki::aki::root-with-aki-ski-mismatch", F)(
    lambda: _root_aki(_keyid(ec_key())))


def _cn_case(cn: str, alt: x509.SubjectAlternativeName, peer: tuple[str, str]) -> Case:
    r = root()
    lf = leaf(r, subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]),
              alt=(alt, False))
    return simple(r, lf, peer_name=peer)


for _label, _cn, _alt, _peer in (
    ("ipv4-hex-mismatch", "0xC0A80101", "192.168.1.1", ("IP", "192.168.1.1")),
    ("ipv4-leading-zeros-mismatch", "192.168.001.001", "192.168.1.1", ("IP", "192.168.1.1")),
    ("ipv6-uppercase-mismatch", "2001:DB8::8A2E:370:7334", "2001:db8::8a2e:370:7334",
     ("IP", "2001:db8::8a2e:370:7334")),
    ("ipv6-uncompressed-mismatch", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1",
     ("IP", "2001:db8::1")),
    ("ipv6-non-rfc5952-mismatch", "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1",
     ("IP", "2001:db8::1:0:0:1")),
    ("punycode-not-in-san", "xn--nxasmq6b.com", "xn--n3h.com", ("DNS", "xn--n3h.com")),
    ("utf8-vs-punycode-mismatch", "test-\u6e2c\u8a66.com", "xn--test--wg5h0h.com",
     ("DNS", "xn--test--wg5h0h.com")),
    ("case-mismatch", "Example.COM", "example.com", ("DNS", "example.com")),
):
    testcase(f"webpki::cn::cabf-cn-{_label}", F)(
        lambda c=_cn, a=_alt, p=_peer: _cn_case(c, san(a), p))
testcase("webpki::cn::cabf-cn-not-in-san", F)(lambda: _cn_case(
    "notinsan.example.com", san("valid.example.com", "another.example.com"),
    ("DNS", "valid.example.com")))


def _nc_structure(body: bytes) -> Case:
    r = root()
    i = intermediate(r, constraints=(raw(ExtensionOID.NAME_CONSTRAINTS, body), True))
    return simple(r, leaf(i), [i])


testcase("webpki::nc::intermediate-permitted-excluded-subtrees-both-null", F)(
    lambda: _nc_structure(der(0x30, b"")))
testcase("webpki::nc::intermediate-permitted-excluded-subtrees-both-empty-sequences", F)(
    lambda: _nc_structure(der(0x30, der(0xA0, b"") + der(0xA1, b""))))


# -- pathological, cve, invalid -------------------------------------------------------------


@testcase("pathological::multiple-chains-expired-intermediate", S)
def _() -> Case:
    r = root()
    r2 = root(issuer_name=name("CN=x509-limbo-root-2"))
    expired = intermediate(r2, 1, subject=r.cert.subject, key=r.key,
                           not_after=t("1988-11-25T00:00:00+00:00"))
    return simple([r, r2], leaf(r), [expired])


def _ca(subject: str, issuer: Pair | None, key: ec.EllipticCurvePrivateKey,
        issuer_name: str | None = None, with_ku: bool = True) -> Pair:
    """A bare CA certificate (basicConstraints, keyUsage, AKI, SKI), as in the cycle and
    CVE graphs upstream, where the builder's defaults would get in the way."""
    signer = issuer or Pair(None, key)  # type: ignore[arg-type]
    exts = [
        (x509.BasicConstraints(True, None), True),
        (CA_KU, False) if with_ku else None,
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.key.public_key()), False),
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
    ]
    iname = name(issuer_name) if issuer_name else (issuer.cert.subject if issuer else None)
    pair = issue(name(subject), issuer, key=key, issuer_name=iname, exts=exts)
    return pair


def _signed_by_key(subject: str, issuer_name: str, key: ec.EllipticCurvePrivateKey,
                   signer: ec.EllipticCurvePrivateKey, with_ku: bool = True) -> Pair:
    return _ca(subject, Pair(None, signer), key, issuer_name, with_ku)  # type: ignore[arg-type]


def _cycle(same_logical: bool, max_depth: int | None = None) -> Case:
    r = root()
    k1, k2 = ec_key(), ec_key()
    if same_logical:
        n1 = n2 = "CN=intermediate-cycle-same-logical-ca"
    else:
        n1, n2 = "CN=intermediate-cycle-distinct-ca1", "CN=intermediate-cycle-distinct-ca2"
    ica1 = _signed_by_key(n1, n2, k1, k2, with_ku=not same_logical)
    ica2 = _signed_by_key(n2, n1, k2, k1, with_ku=not same_logical)
    return simple(r, leaf(ica1), [ica1, ica2], max_depth=max_depth)


testcase("pathological::intermediate-cycle-distinct-cas", F)(lambda: _cycle(False))
testcase("pathological::intermediate-cycle-distinct-cas-max-depth", F)(
    lambda: _cycle(False, 255))
testcase("pathological::intermediate-cycle-same-logical-ca", F)(lambda: _cycle(True))


@testcase("cve::cve-2024-0567", S)
def _() -> Case:
    ra = root(subject=name("CN=Root A"), issuer_name=name("CN=Root A"))
    ka, kb, kc = ra.key, ec_key(), ec_key()
    kids = {n: ec_key() for n in ("A1", "B1", "C1")}
    a1 = _signed_by_key("CN=Intermediate A1", "CN=Root A", kids["A1"], ka)
    graph = [
        a1,
        _signed_by_key("CN=Root A", "CN=Root B", ka, kb),
        _signed_by_key("CN=Root A", "CN=Root C", ka, kc),
        _signed_by_key("CN=Intermediate B1", "CN=Root B", kids["B1"], kb),
        _signed_by_key("CN=Root B", "CN=Root A", kb, ka),
        _signed_by_key("CN=Root B", "CN=Root C", kb, kc),
        _signed_by_key("CN=Intermediate C1", "CN=Root C", kids["C1"], kc),
        _signed_by_key("CN=Root C", "CN=Root A", kc, ka),
        _signed_by_key("CN=Root C", "CN=Root B", kc, kb),
    ]
    lf = leaf(a1, subject=None, alt=(san("cve-2024-0567.example.com"), True))
    return simple(ra, lf, graph, peer_name=("DNS", "cve-2024-0567.example.com"))


def _cve_2025_61727(constraints: x509.NameConstraints, host: str) -> Case:
    r = root()
    i = intermediate(r, constraints=(constraints, True), alt=None)
    lf = leaf(i, alt=(san("*.example.com"), False), subject=name("CN=*.example.com"))
    return simple(r, lf, [i], peer_name=("DNS", host))


testcase("cve::cve-2025-61727", F)(lambda: _cve_2025_61727(
    nc([DNS("example.com")], [DNS("bar.example.com")]), "bar.example.com"))
testcase("cve::cve-2025-61727-nc-permits-variant", F)(lambda: _cve_2025_61727(
    nc([DNS("foo.example.com")]), "foo.example.com"))


_BROKEN_RSA_SPKI = bytes.fromhex("3012300d06092a864886f70d0101010500030100")


@testcase("invalid::invalid-issuer-key", F)
def _() -> Case:
    r1, r2 = root(), root()
    i = intermediate(r2)
    broken = rebuild(i, r2, lambda items: [*items[:6], _BROKEN_RSA_SPKI, *items[7:]])
    lf = leaf(broken, issuer_name=i.cert.subject)
    return simple(r1, lf, [broken])
