"""The SVG sequence diagram, drawn from the steps a real (in-memory) handshake traced."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from tlskit import CertifiedKey, ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.ca import LocalCA
from tlskit.cli.diagram import Arrow, Band, Note, items_from_steps, render_svg, write_svg
from tlskit.cli.trace import Recorder, Step

from .helpers import HANDSHAKE_MESSAGES

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    return LocalCA.create(None)


def handshake(ca: LocalCA, client: dict[str, Any] | None = None,
              server: dict[str, Any] | None = None) -> Recorder:
    """Run a loopback handshake in memory; the client's recorder."""
    issued = ca.issue_server(["localhost"])
    rec = Recorder("client")
    c = ClientConnection(ClientConfig(trust_anchors=[ca.root], tracer=rec.tracer,
                                      **(client or {})), server_name="localhost")
    s = ServerConnection(ServerConfig(certificate_chain=issued.chain,
                                      private_key=issued.private_key, **(server or {})))
    for _ in range(6):
        data = c.data_to_send()
        if data:
            s.receive_data(data)
        data = s.data_to_send()
        if data:
            c.receive_data(data)
    assert c.handshake_complete is not None and s.handshake_complete is not None
    return rec


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]


def test_every_message_is_drawn(ca: LocalCA, tmp_path: Any) -> None:
    rec = handshake(ca, client={"alpn_protocols": ["http/1.1"]},
                    server={"alpn_protocols": ["http/1.1"]})
    path = write_svg(tmp_path / "hs.svg", items_from_steps(rec.steps), title="test")
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    labels = texts(path.read_text())
    names = [t.split(" (")[0] for t in labels]
    for name in HANDSHAKE_MESSAGES:
        assert name in names, name
    assert names.count("Finished") == 2
    joined = "\n".join(labels)
    # key fields on the arrows
    assert "suites: TLS_AES_128_GCM_SHA256" in joined
    assert "suite: TLS_AES_128_GCM_SHA256, group: X25519MLKEM768" in joined
    assert "subject: CN=localhost" in joined
    assert "scheme: ecdsa_secp256r1_sha256" in joined
    assert "ALPN: http/1.1" in joined
    assert "certificate chain verified" in joined


def test_key_change_bands_are_in_place(ca: LocalCA) -> None:
    items = items_from_steps(handshake(ca).steps)
    kinds = [(type(i).__name__, getattr(i, "name", getattr(i, "label", ""))) for i in items]
    bands = [n for n, (kind, _) in enumerate(kinds) if kind == "Band"]
    assert len(bands) == 2
    server_hello = kinds.index(("Arrow", "ServerHello"))
    assert bands[0] == server_hello + 1
    assert "handshake" in items[bands[0]].label  # type: ignore[union-attr]
    finished = [n for n, k in enumerate(kinds) if k == ("Arrow", "Finished")]
    assert bands[1] == finished[-1] + 1
    assert "application" in items[bands[1]].label  # type: ignore[union-attr]
    # everything between the bands is encrypted but the compatibility ChangeCipherSpec
    # records (RFC 8446 D.4, sent in the clear); the hellos are not
    arrows = [i for i in items if isinstance(i, Arrow)]
    assert not arrows[0].encrypted and not arrows[1].encrypted
    ccs = [a for a in arrows if a.name == "ChangeCipherSpec"]
    assert sorted(a.sender for a in ccs) == ["client", "server"]
    assert not any(a.encrypted for a in ccs)
    assert all(a.encrypted for a in arrows[2:] if a.name != "ChangeCipherSpec")


def test_hello_retry_and_client_certificate(ca: LocalCA) -> None:
    alice = ca.issue_client("alice")
    rec = handshake(
        ca,
        client={"groups": ["secp256r1", "x25519"], "key_share_groups": ["secp256r1"],
                "certificate": CertifiedKey(alice.chain, alice.private_key)},
        server={"groups": ["x25519", "secp256r1"], "client_auth": "required",
                "client_trust_anchors": [ca.root]})
    items = items_from_steps(rec.steps)
    client_arrows = [i.name for i in items if isinstance(i, Arrow) and i.sender == "client"]
    assert client_arrows == ["ClientHello", "ChangeCipherSpec", "ClientHello", "Certificate",
                             "CertificateVerify", "Finished"]
    svg = render_svg(items)
    joined = "\n".join(texts(svg))
    assert "HelloRetryRequest" in joined and "asks for group: x25519" in joined
    assert "CertificateRequest" in joined
    assert "subject: CN=alice" in joined


def test_labels_are_escaped() -> None:
    evil = 'CN=<script>alert("x")</script> & co'
    step = Step("certificate", "client", 1.0, "Certificate", "server",
                {"chain": [{"subject": evil, "issuer": "]]><x/>"}]})
    items = [*items_from_steps([step]), Note("client", "a < b & c > d", False),
             Band("<band>")]
    svg = render_svg(items, title="<title> & more", server_label='"srv" <1>')
    root = ET.fromstring(svg)  # well-formed despite the markup in every label
    assert not list(root.iter(f"{SVG}script"))
    joined = "\n".join(texts(svg))
    assert "subject: " + evil in joined
    assert "a < b & c > d" in joined and "<band>" in joined
    assert '"srv" <1>' in joined
    assert "<script>" not in svg


def test_long_labels_are_shortened() -> None:
    step = Step("client_hello", "client", 0.5, "ClientHello", "client",
                {"cipher_suites": ["TLS_" + "X" * 200], "groups": ["g"] * 50,
                 "key_shares": {}})
    svg = render_svg(items_from_steps([step]))
    ET.fromstring(svg)
    details = [t for t in texts(svg) if t.startswith(("suites:", "groups:"))]
    assert len(details) == 2
    assert all(len(t) <= 70 for t in details)
    assert details[0].endswith("\u2026") and "+46 more" in details[1]


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_a_raw_public_key_is_named_as_such(version: str) -> None:
    """RFC 7250: the certificate step names the type and the key's SHA-256, not a chain."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from tlskit import RawPublicKey
    key = RawPublicKey(ec.generate_private_key(ec.SECP256R1()))
    rec = Recorder("client")
    c = ClientConnection(ClientConfig(pinned_server_keys=[key.spki], tracer=rec.tracer,
                                      versions=[version]), server_name="localhost")
    s = ServerConnection(ServerConfig(raw_public_key=key, versions=[version]))
    for _ in range(6):
        for a, b in ((c, s), (s, c)):
            data = a.data_to_send()
            if data:
                b.receive_data(data)
    assert c.handshake_complete is not None
    step = rec.find("certificate")
    assert step is not None
    assert step.fields["certificate_type"] == "RawPublicKey"
    assert step.fields["raw_public_key"] == f"SHA-256 {key.fingerprint}"
    [arrow] = [i for i in items_from_steps(rec.steps) if isinstance(i, Arrow)
               and i.name == "Certificate"]
    [detail] = arrow.details  # (cut to the diagram's label width)
    assert detail.startswith(f"raw public key, SHA-256 {key.fingerprint[:32]}")
