"""Host names the way browsers and curl read them: UTS 46 + IDNA 2008, exact labels."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tlskit.x509.names import (
    InvalidHostname,
    canonical_dns_name,
    dns_name_matches,
    parse_server_name,
)


@pytest.mark.parametrize(("name", "a_label"), [
    ("faß.de", "xn--fa-hia.de"),          # IDNA 2003 would say fass.de
    ("Bücher.example", "xn--bcher-kva.example"),
    ("example\u3002com", "example.com"),   # ideographic full stop maps to a dot
])
def test_u_labels_map_as_idna_2008(name: str, a_label: str) -> None:
    assert parse_server_name(name) == a_label


def test_fass_de_pattern_does_not_match_sharp_s_name() -> None:
    assert not dns_name_matches("fass.de", "faß.de")
    assert dns_name_matches("xn--fa-hia.de", "faß.de")


@pytest.mark.parametrize("name", ["bank.com\n", "bank.com\n.", "a\n.bank.com"])
def test_trailing_newline_is_not_a_host_name(name: str) -> None:
    with pytest.raises(InvalidHostname):
        canonical_dns_name(name)


@pytest.mark.parametrize("pattern", ["bank.com\n", "*.bank.com\n", "bank\n.com"])
def test_san_with_newline_matches_nothing(pattern: str) -> None:
    assert not dns_name_matches(pattern, "bank.com")
    assert not dns_name_matches(pattern, "a.bank.com")


def test_disallowed_u_label_is_refused() -> None:
    with pytest.raises(InvalidHostname):
        parse_server_name("☃.example")  # a symbol: IDNA 2003 allowed it, 2008 does not


_LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)


@given(st.lists(_LABEL, min_size=2, max_size=4), st.sampled_from(["\n", "\r", " ", "\t"]))
def test_whitespace_suffix_never_valid(labels: list[str], suffix: str) -> None:
    name = ".".join(labels)
    assert canonical_dns_name(name) == name
    with pytest.raises(InvalidHostname):
        canonical_dns_name(name + suffix)
    assert not dns_name_matches(name + suffix, name)
