"""The client CA names a tlskit server sends (RFC 8446 4.2.4, RFC 5246 7.4.4), read from
the CertificateRequest the client's tracer is handed: by default the subjects of
client_trust_anchors, in every CertificateRequest (post-handshake ones too); none when
switched off, without anchors, or when they would not fit a 64 KiB message."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tlskit import CertifiedKey, ClientConnection, ServerConnection
from tlskit.enums import ExtensionType as E
from tlskit.wire import extensions as ext

from ..support.pki import AcceptAll, client_config, other_pki, pki, server_config
from ..support.pump import pump


def _der(name: x509.Name) -> bytes:
    return name.public_bytes()


class Requests:
    """A client tracer keeping the CA names of each CertificateRequest (None: none sent)."""

    def __init__(self) -> None:
        self.names: list[list[bytes] | None] = []
        self.sizes: list[int] = []

    def __call__(self, step: str, fields: dict[str, Any]) -> None:
        if step != "certificate_request":
            return
        msg, raw = fields["message"], fields.get("raw") or b""
        self.sizes.append(len(raw))
        if hasattr(msg, "authorities"):  # TLS 1.2
            self.names.append(list(msg.authorities) or None)
        elif E.certificate_authorities in msg.extensions:
            self.names.append(ext.decode_ca_names(msg.extensions[E.certificate_authorities]))
        else:
            self.names.append(None)


def _handshake(version: str, **server_kw: Any) -> Requests:
    seen = Requests()
    alice = pki().client
    c = ClientConnection(client_config(tracer=seen, versions=[version],
                                       certificate=CertifiedKey(alice.chain,
                                                                alice.private_key)),
                         "localhost")
    server_kw.setdefault("client_auth", "required")
    s = ServerConnection(server_config(**server_kw))
    pump(c, s)
    assert c.handshake_complete is not None and s.handshake_complete is not None
    return seen


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_the_anchors_subjects_are_named_in_order_once_each(version: str) -> None:
    roots = [pki().ca.root, other_pki().ca.root, pki().ca.root]
    seen = _handshake(version, client_trust_anchors=roots)
    assert seen.names == [[_der(pki().ca.root.subject), _der(other_pki().ca.root.subject)]]


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_switched_off_or_without_anchors_no_names_are_sent(version: str) -> None:
    assert _handshake(version, client_trust_anchors=[pki().ca.root],
                      send_client_ca_names=False).names == [None]
    # A custom verifier alone names nothing (it has no subjects to give).
    assert _handshake(version, client_verifier=AcceptAll()).names == [None]


def test_a_post_handshake_request_names_them_too() -> None:
    seen = Requests()
    alice = pki().client
    c = ClientConnection(client_config(tracer=seen, certificate=CertifiedKey(
        alice.chain, alice.private_key)), "localhost")
    s = ServerConnection(server_config(client_trust_anchors=[pki().ca.root]))
    pump(c, s)
    s.request_client_certificate()
    pump(s, c)
    assert seen.names == [[_der(pki().ca.root.subject)]]


@cache
def _big_roots(count: int) -> list[x509.Certificate]:
    """Self-signed CA certificates with ~5 KB subjects (70 organizational units)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    roots = []
    for i in range(count):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"big root {i}"),
                          *(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                                               f"{j:02d}" + "u" * 60) for j in range(70))])
        roots.append(x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(key.public_key()).serial_number(i + 1)
                     .not_valid_before(now - dt.timedelta(days=1))
                     .not_valid_after(now + dt.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                     .sign(key, hashes.SHA256()))
    return roots


def _names_length(roots: list[x509.Certificate]) -> int:
    return sum(2 + len(_der(r.subject)) for r in roots)


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_a_list_that_fits_is_sent_whole_under_64_kib(version: str) -> None:
    roots = [pki().ca.root, *_big_roots(12)]
    assert 60_000 < _names_length(roots) <= ext.MAX_CA_NAMES_LENGTH
    seen = _handshake(version, client_trust_anchors=roots)
    [names] = seen.names
    assert names == [_der(r.subject) for r in roots]
    assert seen.sizes[0] <= 65536  # (Go's clients refuse larger handshake messages)


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_a_list_too_long_for_the_message_is_not_sent(version: str) -> None:
    roots = [pki().ca.root, *_big_roots(13)]
    assert _names_length(roots) > ext.MAX_CA_NAMES_LENGTH
    seen = _handshake(version, client_trust_anchors=roots)
    assert seen.names == [None]  # (not a cut list: the client chooses freely, and did)

