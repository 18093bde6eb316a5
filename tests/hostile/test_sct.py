"""A hostile server's signed_certificate_timestamp (RFC 6962 3.3) against the tlskit
client, exact alerts, TLS 1.3 (in a CertificateEntry, RFC 8446 4.4.2.1) and TLS 1.2 (in
ServerHello): unsolicited, malformed, or in a message where it has no place. The server
is a real tlskit server whose messages are rewritten before its own transcript."""

from __future__ import annotations

from typing import Any

import pytest

from tlskit.enums import ExtensionType as E
from tlskit.enums import HandshakeType as HT
from tlskit.wire import messages as m

from ..support.ct import SigningLog, sct_list
from ..support.pki import pki
from .helpers import AD
from .helpers12 import expect_alert12
from .test_client_handshake import against, replace
from .test_tls12 import server_hello_case

SCT = SigningLog().sct(pki().server.chain[0])
# RFC 6962 3.3: sct_list<1..2^16-1> of SerializedSCT<1..2^16-1>, nothing after it.
MALFORMED = {
    "empty-body": b"",
    "empty-list": b"\x00\x00",
    "empty-sct": b"\x00\x02\x00\x00",
    "list-overruns": b"\x00\x05\x00\x01a",
    "sct-overruns": b"\x00\x03\x00\x05a",
    "trailing-bytes": sct_list(b"a") + b"\x00",
    "odd-leftover-in-list": b"\x00\x04\x00\x01ab",
}
ASKING = {"request_scts": True}


def with_sct_on(entry: int, body: bytes) -> Any:
    def rewrite(raw: bytes) -> bytes:
        cert = m.Certificate.decode(memoryview(raw)[4:])
        cert.entries[entry].extensions[E.signed_certificate_timestamp] = body
        return cert.encode()
    return replace(HT.certificate, rewrite)


# --- TLS 1.3 -----------------------------------------------------------------------------

@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
@pytest.mark.parametrize("entry", [0, 1], ids=["leaf", "issuer"])
def test_malformed_list_in_certificate_entry_is_decode_error(entry: int, body: bytes) -> None:
    _, _, exc = against(with_sct_on(entry, body), AD.decode_error, client_kw=ASKING)
    assert "sct" in str(exc).lower() or "signed_certificate_timestamp" in str(exc), exc


@pytest.mark.parametrize("entry", [0, 1], ids=["leaf", "issuer"])
def test_wellformed_unsolicited_list_in_certificate_entry_is_unsupported_extension(
        entry: int) -> None:
    # RFC 6962 3.3.1: SCTs only to a client that asked; RFC 8446 4.2: unsupported_extension.
    _, _, exc = against(with_sct_on(entry, sct_list(SCT)), AD.unsupported_extension)
    assert "signed_certificate_timestamp" in str(exc)


def test_scts_in_encrypted_extensions_are_illegal_parameter() -> None:
    # RFC 8446 4.4.2.1 / RFC 6962 3.3: in TLS 1.3 they ride on the CertificateEntry.
    def ee(raw: bytes) -> bytes:
        msg = m.EncryptedExtensions.decode(memoryview(raw)[4:])
        msg.extensions[E.signed_certificate_timestamp] = sct_list(SCT)
        return msg.encode()
    against(replace(HT.encrypted_extensions, ee), AD.illegal_parameter, client_kw=ASKING)


# --- TLS 1.2 -----------------------------------------------------------------------------

def _set_sct(body: bytes) -> Any:
    return lambda sh: sh.extensions.__setitem__(E.signed_certificate_timestamp, body)


def test_tls12_unsolicited_scts_in_server_hello_are_unsupported_extension() -> None:
    run = server_hello_case(_set_sct(sct_list(SCT)), {})
    expect_alert12(run.client, run.server_flight, AD.unsupported_extension)


@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
def test_tls12_malformed_list_in_server_hello_is_decode_error(body: bytes) -> None:
    run = server_hello_case(_set_sct(body), dict(ASKING))
    expect_alert12(run.client, run.server_flight, AD.decode_error)
