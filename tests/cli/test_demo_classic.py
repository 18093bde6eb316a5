"""`tlskit demo --classic`: TLS 1.2 RSA key transport on loopback, its recording decrypted
afterwards with the server's private key alone, and the default ECDHE handshake beside it,
where the same key recovers nothing. Run as a subprocess (JSON, text, SVG), and
`classic.recover` checked in process against recordings whose contents the test knows."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.ca import LocalCA
from tlskit.cli.classic import recover

from .helpers import demo, demo_json_and_diagram

RSA_SUITE = "TLS_RSA_WITH_AES_128_GCM_SHA256"


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    return demo_json_and_diagram(tmp_path_factory.mktemp("classic"), "--classic")


def _row(step: dict[str, Any], label: str) -> Any:
    return next(r["value"] for r in step["rows"] if r["label"] == label)


def test_the_classic_session_is_rsa_key_transport(result: tuple[dict[str, Any], Path]) -> None:
    data, _ = result
    rsa = data["rsa_session"]
    assert (rsa["version"], rsa["cipher_suite"], rsa["group"]) == ("TLSv1.2", RSA_SUITE, None)
    assert data["server_key"] == "RSA 2048 bits"
    assert [s["number"] for s in data["steps"]] == [1, 2, 3, 4, 5]
    assert data["ok"] is True
    assert all(c["ok"] for s in data["steps"] for c in s["checks"])


def test_the_story_premaster_encrypted_and_decrypted(result: tuple[dict[str, Any], Path]) -> None:
    data, _ = result
    made, sent, decrypted = data["steps"][:3]
    premaster = bytes.fromhex(_row(made, "premaster secret"))
    assert len(premaster) == 48 and premaster[:2] == b"\x03\x03"
    assert len(bytes.fromhex(_row(sent, "ciphertext on the wire"))) == 256
    assert bytes.fromhex(_row(decrypted, "premaster (server)")) == premaster


def test_the_recording_is_decrypted_with_the_key_alone(
        result: tuple[dict[str, Any], Path]) -> None:
    data, _ = result
    later, rsa = data["after_the_fact"], data["rsa_session"]
    assert later["recovered"] is True
    assert later["client_data"] == rsa["request"] and later["server_data"] == rsa["reply"]
    assert later["records_opened"] == later["records_total"] >= 4  # 2 Finished, 2 data
    assert later["premaster"] == _row(data["steps"][0], "premaster secret")
    assert later["master_secret"] == _row(data["steps"][2], "master secret")


def test_the_same_key_recovers_nothing_from_ecdhe(result: tuple[dict[str, Any], Path]) -> None:
    data, _ = result
    attempt, ecdhe = data["ecdhe_attempt"], data["ecdhe_session"]
    assert ecdhe["version"] == "TLSv1.3" and ecdhe["group"]
    assert attempt["recovered"] is False and attempt["records_opened"] == 0
    assert attempt["records_total"] > 0 and attempt["premaster"] is None
    assert attempt["client_data"] == "" and attempt["server_data"] == ""
    assert any("no" in a and "ClientKeyExchange" in a for a in attempt["attempts"])


def test_the_diagram_draws_the_rsa_steps(result: tuple[dict[str, Any], Path]) -> None:
    data, svg = result
    assert data["diagram"] == str(svg)
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "ClientKeyExchange" in texts and "ServerHelloDone" in texts
    assert any(t.startswith("premaster, RSA-encrypted:") for t in texts)
    assert any("private key decrypts premaster" in t for t in texts)
    later, attempt = data["after_the_fact"], data["ecdhe_attempt"]
    assert any(f"RSA: {later['records_opened']}/{later['records_total']}" in t for t in texts)
    assert any(f"ECDHE: 0/{attempt['records_total']}" in t for t in texts)


def test_text_output_tells_the_cost(tmp_path: Path) -> None:
    proc = demo(tmp_path, "--classic")
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "TLS_RSA_WITH_AES_128_GCM_SHA256" in out
    assert "no forward secrecy" in out and "forward secrecy)" in out
    assert "legacy_rsa_key_exchange=True" in out


# --- recover(), in process -------------------------------------------------------------------

def _recorded(suite: str | None, *, ems: bool = True) -> tuple[Any, bytes, bytes, bytes, bytes]:
    """A loopback session whose bytes are recorded: (server key, c->s, s->c, data both ways)."""
    ca = LocalCA.create(None)
    leaf = _leaf(ca)
    opt = {"legacy_rsa_key_exchange": True}
    kw: dict[str, Any] = {"versions": ["TLSv1.2"], "cipher_suites": [suite]} if suite else {}
    client = ClientConnection(ClientConfig(trust_anchors=[ca.root], **opt, **kw), "localhost")
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain,
                                           private_key=leaf.private_key, **opt))
    c2s = s2c = b""
    for _ in range(4):
        out = client.data_to_send()
        c2s += out
        server.receive_data(out)
        back = server.data_to_send()
        s2c += back
        client.receive_data(back)
    ping, pong = b"recorded request", b"recorded answer"
    client.send_data(ping)
    out = client.data_to_send()
    c2s += out
    server.receive_data(out)
    server.send_data(pong)
    s2c += server.data_to_send()
    return leaf.private_key, c2s, s2c, ping, pong


def _leaf(ca: LocalCA) -> Any:
    return ca.issue_server(["localhost"], key_type="rsa2048")


@pytest.mark.parametrize("suite", [RSA_SUITE, "TLS_RSA_WITH_AES_256_GCM_SHA384"])
def test_recover_reads_a_recorded_rsa_session(suite: str) -> None:
    key, c2s, s2c, ping, pong = _recorded(suite)
    got = recover(c2s, s2c, key)
    assert got.recovered and (got.client_data, got.server_data) == (ping, pong)
    assert got.records_opened == got.records_total == 4


def test_recover_needs_the_right_key() -> None:
    _, c2s, s2c, _, _ = _recorded(RSA_SUITE)
    other = _leaf(LocalCA.create(None)).private_key
    got = recover(c2s, s2c, other)
    assert not got.recovered and got.client_data == got.server_data == b""


def test_recover_gets_nothing_from_tls13_ecdhe() -> None:
    key, c2s, s2c, _, _ = _recorded(None)
    got = recover(c2s, s2c, key)
    assert not got.recovered and got.records_total > 0 and got.premaster is None
