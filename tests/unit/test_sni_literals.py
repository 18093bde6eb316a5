"""RFC 6066 3: a client dialling an IP literal sends no server_name; one dialling a host
name sends it in its ASCII form. (The literal test has a fast path for host names: it
must give the same answer as parsing the address. The SNI form is the verifier's parsed
server name, canonicalized once per name: it must give what the separate IP-literal test
and SNI canonicalization gave, and refuse the same names with the same words.)"""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.ca import LocalCA
from tlskit.enums import ExtensionType
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m
from tlskit.x509 import names

from ..support.pump import exchange
from ..support.records import messages_of


def _server_name_sent(dialled: str) -> str | None:
    client = ClientConnection(ClientConfig(check_hostname=False), server_name=dialled)
    (hello,) = messages_of(client.data_to_send())
    exts = m.ClientHello.decode(memoryview(hello)[4:]).extensions
    body = exts.get(ExtensionType.server_name)
    return None if body is None else ext.decode_client_server_name(body)


@pytest.mark.parametrize("literal", ["127.0.0.1", "10.1.2.3", "::1", "[::1]",
                                     "2001:db8::8:800:200c:417a", "::ffff:192.0.2.1",
                                     "fe80::1%eth0"])
def test_an_ip_literal_is_not_sent(literal: str) -> None:
    assert _server_name_sent(literal) is None


@pytest.mark.parametrize(("dialled", "sent"), [
    ("localhost", "localhost"), ("n7.bench.test", "n7.bench.test"),
    ("Example.COM.", "example.com"), ("bücher.example", "xn--bcher-kva.example"),
    ("1.2.3.example", "1.2.3.example"), ("0x7f.example", "0x7f.example"),
    # its canonical form: lower case, no trailing dot, A-labels
    ("EXAMPLE.com", "example.com"), ("example.com.", "example.com"),
    ("Bücher.Example.", "xn--bcher-kva.example"), ("faß.de", "xn--fa-hia.de"),
    ("XN--BCHER-KVA.example", "xn--bcher-kva.example"), ("under_score.test", "under_score.test"),
])
def test_a_host_name_is_sent_in_its_canonical_ascii_form(dialled: str, sent: str) -> None:
    assert _server_name_sent(dialled) == sent


@pytest.mark.parametrize("bad", ["exa mple.com", "*.example.com", "a..b", "1.2.3.4.",
                                 "xn--zz.example", "a.123", "[example.com]", "fe80::1%"])
def test_a_name_that_is_no_host_name_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a valid host name"):
        _server_name_sent(bad)


def _reference(dialled: str) -> str | None:
    """What the client sent before the SNI form shared the verifier's parse: an IP
    literal (brackets stripped, any zone id) sends nothing, anything else is sent as
    `canonical_dns_name` gives it, or refused with its words."""
    text = dialled.strip("[]")
    try:
        ipaddress.ip_address(text)
        return None
    except ValueError:
        pass
    try:
        return names.canonical_dns_name(dialled)
    except names.InvalidHostname as exc:
        raise ValueError(f"server_name {dialled!r} is not a valid host name: {exc}") from None


# (the last two: a fullwidth full stop and digit one, which UTS 46 maps to ASCII)
_PIECES = ["a", "B", "0", "9", "-", "_", ".", ":", "[", "]", "%", "ü", "ß", "xn--", "0x",
           "::1", "127.0.0.1", "fe80::", "eth0", " ", "*", "\uff0e", "\uff11"]


@given(st.one_of(
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8).map("".join),
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
    st.from_regex(r"[a-zA-Z0-9]{1,8}(\.[a-zA-Z0-9-]{1,8}){0,3}\.?", fullmatch=True),
))
def test_the_sni_form_agrees_with_the_separate_steps(dialled: str) -> None:
    try:
        expected: str | ValueError | None = _reference(dialled)
    except ValueError as exc:
        expected = exc
    if isinstance(expected, ValueError):
        with pytest.raises(ValueError) as raised:
            _server_name_sent(dialled)
        assert str(raised.value) == str(expected)
    else:
        assert _server_name_sent(dialled) == expected


_fresh = itertools.count()


def test_a_new_name_is_canonicalized_once_for_sni_and_the_certificate(
        ca: LocalCA, monkeypatch: pytest.MonkeyPatch) -> None:
    """The verifier's host-name check reads the form the SNI was made from."""
    host = f"once{next(_fresh)}.Canonical.Example."
    issued = ca.issue_server([host.lower().rstrip(".")])
    calls: list[str] = []
    real = names.canonical_dns_name

    def counting(name: str) -> str:
        calls.append(name)
        return real(name)

    monkeypatch.setattr(names, "canonical_dns_name", counting)
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root]), server_name=host)
    server = ServerConnection(ServerConfig(certificate_chain=issued.chain,
                                           private_key=issued.private_key))
    exchange(client, server)
    assert client.handshake_complete is not None and server.handshake_complete is not None
    assert server.handshake_complete.server_name == host.lower().rstrip(".")
    assert calls == [host]


def test_the_extension_body_holds_names_up_to_its_length_prefix() -> None:
    longest = "a" * (0xFFFF - 3)
    assert ext.decode_server_name(ext.encode_server_name(longest)) == longest
    for n in (0xFFFF - 2, 0x10000, 70000):
        with pytest.raises(ValueError, match="too long"):
            ext.encode_server_name("a" * n)
