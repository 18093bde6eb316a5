"""server_name in a ClientHello, after tlsfuzzer's test-invalid-server-name-extension.py.

RFC 6066 3 makes HostName a DNS name in ASCII; a byte that no DNS name holds (NUL, the
other C0 controls, DEL, anything past ASCII) is a wrong value in a well-formed vector,
so the server refuses it with illegal_parameter, in TLS 1.3 and 1.2 alike. Control
characters matter beyond the RFC: the name ends up in logs and on `tlskit serve`'s page,
where an ESC would start a terminal escape sequence.
"""

from __future__ import annotations

import pytest

from tlskit.errors import IllegalParameter
from tlskit.wire import extensions as ext

from .peer import E_SERVER_NAME, Peer, hello, hello12, sanity

AD_ILLEGAL = 47


def sni(name: bytes) -> bytes:
    """A server_name body with one host_name, built by hand (the encoder refuses these)."""
    entry = b"\x00" + len(name).to_bytes(2, "big") + name
    return len(entry).to_bytes(2, "big") + entry


BAD_NAMES = {
    "NUL": b"localhos\x00t",
    "BEL": b"localhos\x07t",
    "ANSI color escape": b"localhost\x1b[31mBAD\x1b[0;37m",
    "newline": b"local\nhost",
    "DEL": b"localhos\x7ft",
    "UTF-8": b"localhos\xc4\x85t",
}


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
@pytest.mark.parametrize("version", ["tls13", "tls12"])
def test_host_name_with_non_dns_bytes_is_illegal_parameter(name, version):
    h = (hello if version == "tls13" else hello12)(extra=[(E_SERVER_NAME, sni(name))])
    peer = Peer()
    peer.send_hello(h)
    peer.expect_alert(AD_ILLEGAL)


def test_plain_host_name_is_accepted():
    sanity(Peer(), hello(extra=[(E_SERVER_NAME, sni(b"localhost"))]))


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_decoder_names_the_check(name):
    with pytest.raises(IllegalParameter,
                       match=r"server_name: (malformed host_name|host_name is not ASCII)"):
        ext.decode_client_server_name(sni(name))
