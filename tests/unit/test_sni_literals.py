"""RFC 6066 3: a client dialling an IP literal sends no server_name; one dialling a host
name sends it in its ASCII form. (The literal test has a fast path for host names: it
must give the same answer as parsing the address.)"""

from __future__ import annotations

import pytest

from tlskit import ClientConfig, ClientConnection
from tlskit.enums import ExtensionType
from tlskit.wire import extensions as ext
from tlskit.wire import messages as m

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
])
def test_a_host_name_is_sent_in_ascii(dialled: str, sent: str) -> None:
    assert _server_name_sent(dialled) == sent
