"""Hostname matching (RFC 6125 / 9525) and name-constraint rules."""

from __future__ import annotations

import ipaddress
import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tlskit.x509 import CertificateVerificationError, Reason, TrustStore, Verifier, names
from tlskit.x509.names import (
    InvalidHostname,
    dns_in_subtree,
    dns_name_matches,
    dns_subtree_intersects,
    match_hostname,
    parse_server_name,
)

from . import pki
from .pki import NOW

# (SAN dNSName pattern, server name, expected)
DNS_TABLE = [
    ("example.com", "example.com", True),
    ("example.com", "EXAMPLE.COM", True),
    ("EXAMPLE.com", "example.COM", True),
    ("example.com", "example.com.", True),
    ("example.com.", "example.com", True),
    ("example.com", "www.example.com", False),
    ("www.example.com", "example.com", False),
    ("example.com", "example.org", False),
    ("example.com", "badexample.com", False),
    ("*.example.com", "a.example.com", True),
    ("*.example.com", "A.EXAMPLE.COM", True),
    ("*.example.com", "a.example.com.", True),
    ("*.example.com", "example.com", False),
    ("*.example.com", "a.b.example.com", False),
    ("*.example.com", ".example.com", False),
    ("*.example.com", "aexample.com", False),
    ("*.com", "example.com", False),
    ("*", "localhost", False),
    ("*.", "example", False),
    ("f*.example.com", "foo.example.com", False),
    ("*o.example.com", "foo.example.com", False),
    ("f*o.example.com", "foo.example.com", False),
    ("a.*.example.com", "a.b.example.com", False),
    ("*.*.example.com", "a.b.example.com", False),
    ("**.example.com", "a.example.com", False),
    ("*.co.uk", "example.co.uk", True),
    ("xn--bcher-kva.example", "bücher.example", True),
    ("xn--bcher-kva.example", "BÜCHER.example", True),
    ("xn--bcher-kva.example", "xn--bcher-kva.example", True),
    ("*.xn--bcher-kva.example", "www.bücher.example", True),
    ("bücher.example", "bücher.example", False),  # a U-label SAN is not a valid IA5String
    ("1.2.3.4", "1.2.3.4", False),  # IP literals only match iPAddress SANs
    ("*.2.3.4", "1.2.3.4", False),
    ("::1", "::1", False),
    ("example.com", "", False),
    ("", "example.com", False),
    ("example..com", "example..com", False),
    ("exa mple.com", "exa mple.com", False),
    ("*.example.com", "*.example.com", False),  # a server name is never a pattern
    ("my_host.example.com", "my_host.example.com", True),
    ("xn--zzzz-.example", "xn--zzzz-.example", False),  # A-label that does not round-trip
    ("a" * 63 + ".example", "a" * 63 + ".example", True),
    ("a" * 64 + ".example", "a" * 64 + ".example", False),
    ("example.123", "example.123", False),  # numeric TLD: would be read as an address
]


@pytest.mark.parametrize(("pattern", "host", "expected"), DNS_TABLE)
def test_dns_name_matches_table(pattern: str, host: str, expected: bool) -> None:
    assert dns_name_matches(pattern, host) is expected


def test_table_is_big_enough() -> None:
    assert len(DNS_TABLE) >= 30


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.root("Names Root")


@pytest.mark.parametrize(
    ("sans", "server_name", "expected"),
    [
        (["127.0.0.1"], "127.0.0.1", True),
        (["127.0.0.1"], "127.0.0.2", False),
        (["::1"], "::1", True),
        (["::1"], "0:0:0:0:0:0:0:1", True),
        (["::1"], "[::1]", True),
        (["2001:db8::1"], "2001:DB8:0::1", True),
        (["::ffff:127.0.0.1"], "127.0.0.1", False),  # families are not mixed
        (["127.0.0.1"], "localhost", False),
        (["localhost", "10.0.0.1"], "10.0.0.1", True),
        (["www.example.com"], "www.example.com", True),
        (["*.example.com"], "10.0.0.1", False),
        (["a.example", "b.example"], "b.example", True),
        (None, "cn.example", False),  # no SAN at all: the CN is not consulted
    ],
)
def test_match_hostname_ip_and_dns(
    ca: pki.Issued, sans: list[str] | None, server_name: str, expected: bool
) -> None:
    cert = pki.leaf("cn.example", ca, sans=sans).cert
    assert match_hostname(cert, server_name) is expected


def test_no_common_name_fallback_by_default(ca: pki.Issued) -> None:
    cert = pki.make("legacy.example", ca, sans=None).cert
    assert not match_hostname(cert, "legacy.example")
    assert match_hostname(cert, "legacy.example", cn_fallback=True)
    with_san = pki.make("legacy.example", ca, sans=["other.example"]).cert
    assert not match_hostname(with_san, "legacy.example", cn_fallback=True)


def test_parse_server_name() -> None:
    assert parse_server_name("Example.COM.") == "example.com"
    assert parse_server_name("bücher.example") == "xn--bcher-kva.example"
    assert parse_server_name("[::1]") == ipaddress.ip_address("::1")
    for bad in ["", ".", "a..b", "-a.example", "a-.example", "*.example.com", "fe80::1%eth0",
                "a/b.example", "example.123"]:
        with pytest.raises(InvalidHostname):
            parse_server_name(bad)


def test_invalid_server_name_is_a_hostname_mismatch(ca: pki.Issued) -> None:
    leaf = pki.leaf("ok.example", ca)
    with pytest.raises(CertificateVerificationError) as err:
        Verifier(TrustStore([ca.cert])).verify(leaf.cert, [], server_name="a..b", at=NOW)
    assert err.value.reason is Reason.hostname_mismatch


# -- hypothesis properties -----------------------------------------------------------

label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12).filter(
    lambda s: not s.isdigit()
)
hostnames = st.lists(label, min_size=2, max_size=5).map(".".join)


def _random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c for c, f in zip(text, flips))


@st.composite
def case_variants(draw: st.DrawFn) -> tuple[str, str]:
    host = draw(hostnames)
    return host, _random_case(draw, host)


@given(case_variants())
def test_exact_names_match_themselves_case_insensitively(pair: tuple[str, str]) -> None:
    host, variant = pair
    assert dns_name_matches(host, variant)
    assert dns_name_matches(variant, host)
    assert dns_name_matches(host + ".", variant)


@given(hostnames, label)
def test_wildcard_matches_exactly_one_label(parent: str, extra: str) -> None:
    pattern = "*." + parent
    ok = len(parent.split(".")) >= 2
    assert dns_name_matches(pattern, f"{extra}.{parent}") is ok
    assert not dns_name_matches(pattern, parent)  # never the bare parent
    assert not dns_name_matches(pattern, f"{extra}.{extra}.{parent}")  # never across a dot


@given(st.ip_addresses(), st.lists(hostnames, max_size=3))
def test_ip_literals_never_match_dns_sans(ip: ipaddress._BaseAddress, extra: list[str]) -> None:
    text = str(ip)
    for pattern in [text, "*." + text, *extra, "*.in-addr.arpa"]:
        assert not dns_name_matches(pattern, text)


@given(st.text(max_size=40), st.text(max_size=40))
@settings(max_examples=300)
def test_matching_never_raises(pattern: str, host: str) -> None:
    assert dns_name_matches(pattern, host) in (True, False)


@given(hostnames, hostnames)
def test_different_names_do_not_match(a: str, b: str) -> None:
    assert dns_name_matches(a, b) is (a == b)


# -- name constraint subtrees --------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "constraint", "inside"),
    [
        ("example.com", "example.com", True),
        ("www.example.com", "example.com", True),
        ("a.b.example.com", "example.com", True),
        ("badexample.com", "example.com", False),
        ("example.com", ".example.com", False),
        ("www.example.com", ".example.com", True),
        ("WWW.Example.COM", "example.com", True),
        ("anything", "", True),
        ("*.example.com", "example.com", True),
    ],
)
def test_dns_subtree(name: str, constraint: str, inside: bool) -> None:
    assert dns_in_subtree(name, constraint) is inside


def test_wildcard_san_intersects_excluded_child() -> None:
    assert dns_subtree_intersects("*.example.com", "secret.example.com")
    assert not dns_subtree_intersects("*.example.com", "a.secret.example.com")
    assert not dns_subtree_intersects("*.example.com", "other.com")


NC_CASES = [
    # (permitted, excluded, leaf SANs, ok)
    (["example.com"], None, ["a.example.com"], True),
    (["example.com"], None, ["a.example.net"], False),
    (["example.com"], None, ["a.example.com", "a.example.net"], False),
    (None, ["secret.example.com"], ["www.example.com"], True),
    (None, ["secret.example.com"], ["x.secret.example.com"], False),
    (None, ["secret.example.com"], ["*.example.com"], False),  # wildcard covers it
    (["example.com"], ["secret.example.com"], ["secret.example.com"], False),
    (["ip:10.0.0.0/8"], None, ["10.1.2.3"], True),
    (["ip:10.0.0.0/8"], None, ["11.1.2.3"], False),
    (["ip:10.0.0.0/8"], None, ["a.example.com"], True),  # DNS is unconstrained here
    (None, ["ip:192.168.0.0/16"], ["192.168.1.1"], False),
    (["ip:2001:db8::/32"], None, ["2001:db8::5"], True),
    (["ip:2001:db8::/32"], None, ["2001:db9::5"], False),
    (["ip:0.0.0.0/0"], None, ["::1"], False),  # other family: outside
    (["email:example.com"], None, ["email:a@example.com"], True),
    (["email:example.com"], None, ["email:a@example.net"], False),
    (["uri:.example.com"], None, ["uri:https://a.example.com/x"], True),
    (["uri:.example.com"], None, ["uri:https://example.org/"], False),
    (["dn:Names Root"], None, ["a.example.com"], False),  # leaf subject CN=... not under it
]


@pytest.mark.parametrize(("permitted", "excluded", "sans", "ok"), NC_CASES)
def test_name_constraints_table(
    permitted: list[str] | None, excluded: list[str] | None, sans: list[str], ok: bool
) -> None:
    r = pki.root("NC Table Root")
    inter = pki.intermediate("NC Table CA", r, permitted=permitted, excluded=excluded)
    lf = pki.make("leaf.example", inter, sans=sans, eku=[pki.SERVER_AUTH])
    v = Verifier(TrustStore([r.cert]))
    if ok:
        assert v.verify(lf.cert, [inter.cert], at=NOW)
    else:
        with pytest.raises(CertificateVerificationError) as err:
            v.verify(lf.cert, [inter.cert], at=NOW)
        assert err.value.reason is Reason.name_constraints_violated
        assert err.value.certificate == lf.cert


def test_name_constraints_apply_to_common_name_without_san() -> None:
    r = pki.root("NC CN Root", permitted=["example.com"])
    server = [pki.SERVER_AUTH]
    good = pki.make("host.example.com", r, sans=None, eku=server)
    bad = pki.make("host.example.net", r, sans=None, eku=server)
    not_dns = pki.make("Just A Name", r, sans=None, eku=server)
    v = Verifier(TrustStore([r.cert]))
    assert v.verify(good.cert, [], at=NOW)
    assert v.verify(not_dns.cert, [], at=NOW)
    with pytest.raises(CertificateVerificationError) as err:
        v.verify(bad.cert, [], at=NOW)
    assert err.value.reason is Reason.name_constraints_violated


def test_name_constraints_bind_sub_cas_too() -> None:
    r = pki.root("NC Deep Root", permitted=["example.com"])
    sub = pki.intermediate("NC Sub", r, sans=["ca.example.net"])
    lf = pki.leaf("www.example.com", sub)
    with pytest.raises(CertificateVerificationError) as err:
        Verifier(TrustStore([r.cert])).verify(lf.cert, [sub.cert], at=NOW)
    assert err.value.reason is Reason.name_constraints_violated
    assert err.value.certificate == sub.cert


def test_directory_name_constraint() -> None:
    r = pki.root("DN Root", permitted=["dn:Allowed"])
    server = [pki.SERVER_AUTH]
    good = pki.make("x", r, subject=pki.name("Allowed"), sans=["a.example"], eku=server)
    bad = pki.make("y", r, subject=pki.name("Other"), sans=["a.example"], eku=server)
    v = Verifier(TrustStore([r.cert]))
    assert v.verify(good.cert, [], at=NOW)
    with pytest.raises(CertificateVerificationError):
        v.verify(bad.cert, [], at=NOW)


def _matches_label_by_label(patterns: tuple[str, ...], target: str) -> bool:
    """`match_names` on a DNS server name without its shortcut for an equal dNSName."""
    for pattern in patterns:
        labels = names._canonical_pattern(pattern)
        if labels is not None and names._dns_matches_canonical(labels, target):
            return True
    return False


def _targets() -> list[tuple[str, str]]:
    out = []
    for pattern, host, _ in DNS_TABLE:
        try:
            target = parse_server_name(host)
        except InvalidHostname:
            continue
        if isinstance(target, str):
            out.append((pattern, target))
    return out


@pytest.mark.parametrize(("pattern", "target"), _targets())
def test_an_equal_dns_name_shortcut_agrees_with_the_label_match(
        pattern: str, target: str) -> None:
    for patterns in ((pattern,), (pattern, target), (target.upper(), pattern)):
        assert names.match_names(patterns, (), target) == _matches_label_by_label(
            patterns, target)


@given(st.lists(case_variants(), min_size=1, max_size=3), hostnames)
def test_match_names_is_the_label_match(pairs: list[tuple[str, str]], host: str) -> None:
    target = parse_server_name(host)
    assert isinstance(target, str)
    patterns = (*(variant for pair in pairs for variant in pair), host)
    for end in range(len(patterns) + 1):
        assert names.match_names(patterns[:end], (), target) == _matches_label_by_label(
            patterns[:end], target)


@given(st.lists(st.sampled_from(["a", "Z", "0", "9", "-", "_", ".", "xn--", "xn--bcher-kva",
                                 "*", " ", "ü", "\u00df", "\uff0e", "1", "a" * 63, "\n"]),
                max_size=12).map("".join))
def test_the_one_match_path_gives_the_label_by_label_answer(name: str) -> None:
    """`canonical_dns_name` recognises a plain ASCII name by one match: every name gets
    the answer, or the refusal with its words, that the label-by-label path gives."""
    try:
        expected: str | Exception = names._canonical_by_label(name)
    except names.InvalidHostname as exc:
        expected = exc
    if isinstance(expected, Exception):
        with pytest.raises(names.InvalidHostname) as raised:
            names.canonical_dns_name(name)
        assert str(raised.value) == str(expected)
    else:
        assert names.canonical_dns_name(name) == expected


@given(st.lists(st.sampled_from(["a", "9", "_", "-", ".", "a" * 61, "b" * 62, "-" * 2, "A",
                                 "*"]), max_size=10).map("".join))
@example("-a")
@example("a-")
@example("a.-b")
@example("a" * 64)
def test_the_one_match_pattern_is_the_label_pattern_joined_by_dots(name: str) -> None:
    """`_ASCII_NAME` accepts exactly the names whose dot-separated labels each match
    `_LABEL` (labels of up to 63 characters and more). The examples: a possessive form
    of the pattern matched "-a" on Python 3.11.2."""
    expected = all(names._LABEL.fullmatch(label) for label in name.split("."))
    assert bool(names._ASCII_NAME.fullmatch(name)) is expected


@pytest.mark.parametrize("name", ["a." * 126 + "b", "a" * 64 + ".example", "a.1",
                                  "a" * 63 + ".example.", "N1.LOCALHOST."])
def test_lengths_and_numbers_at_the_one_match_path(name: str) -> None:
    try:
        expected: str | None = names._canonical_by_label(name)
    except names.InvalidHostname:
        expected = None
    if expected is None:
        with pytest.raises(names.InvalidHostname):
            names.canonical_dns_name(name)
    else:
        assert names.canonical_dns_name(name) == expected


@pytest.mark.parametrize("name", ["b.\ufeff", "b.\ufeff.", "a.\u00ad.example", "b\u3002\u200b"])
def test_a_label_idna_maps_to_nothing_is_an_empty_label(name: str) -> None:
    """U+FEFF, a soft hyphen or a zero-width space alone make a label that UTS 46 maps
    to nothing: refused, with or without a trailing dot. Before, ``b.\\ufeff`` was host
    ``b`` and ``b.\\ufeff.`` was refused (the hostname fuzzer's find)."""
    with pytest.raises(InvalidHostname, match="only characters that IDNA ignores"):
        names.canonical_dns_name(name)
    assert not names.dns_name_matches("b", name)


def test_ignored_characters_inside_a_label_still_vanish() -> None:
    assert names.canonical_dns_name("\ufeffb.example") == "b.example"
    assert names.canonical_dns_name("a\u00adb.example.") == "ab.example"
