"""The "your handshake" page of `tlskit serve` and its /json, fetched by real clients (curl,
`openssl s_client`, gnutls-cli, Python's ssl), plus JA3/JA4 against values worked out by
hand from fixed ClientHellos, and the one-record bound for a huge ClientHello."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
import ssl
import struct
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit.cli import codepoints as cp
from tlskit.cli import page
from tlskit.fingerprint import (
    client_hellos,
    ja3,
    ja3_string,
    ja4,
    ja4_raw,
    parse_client_hello,
)

from .test_serve import PKI, Serve, s_client
from .test_serve import pki as pki  # the fixtures
from .test_serve import serve as serve

for tool in ("curl", "gnutls-cli", "openssl"):
    assert shutil.which(tool), f"{tool} is required (bash .ci/install-test-deps.sh)"


# --------------------------------------------------------------------------- building hellos


def u16(v: int) -> bytes:
    return struct.pack(">H", v)


def vec(data: bytes, n: int) -> bytes:
    return len(data).to_bytes(n, "big") + data


def u16s(values: list[int], n: int = 2) -> bytes:
    return vec(b"".join(u16(v) for v in values), n)


def client_hello(ciphers: list[int], extensions: list[tuple[int, bytes]],
                 version: int = 0x0303) -> bytes:
    body = (u16(version) + bytes(32) + vec(bytes(32), 1) + u16s(ciphers) + vec(b"\0", 1)
            + vec(b"".join(u16(t) + vec(b, 2) for t, b in extensions), 2))
    return b"\x01" + len(body).to_bytes(3, "big") + body


SIGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]
CHROME_EXTENSIONS = {
    0x002D: vec(b"\x01", 1),
    0x0033: vec(u16(0x0A0A) + vec(b"\0", 2) + u16(0x11EC) + vec(bytes(1216), 2)
                + u16(0x001D) + vec(bytes(32), 2), 2),
    0x0010: vec(vec(b"h2", 1) + vec(b"http/1.1", 1), 2),
    0xFE0D: b"\x00\x00\x01\x00\x01\x23" + vec(bytes(32), 2) + vec(bytes(144), 2),
    0x0017: b"",
    0x44CD: vec(vec(b"h2", 1), 2),
    0x0000: vec(b"\0" + vec(b"example.com", 2), 2),
    0x000B: vec(b"\0", 1),
    0x000A: u16s([0x0A0A, 0x11EC, 0x001D, 0x0017, 0x0018]),
    0x002B: u16s([0x3A3A, 0x0304, 0x0303], 1),
    0xFF01: b"\0",
    0x0023: b"",
    0x0012: b"",
    0x0005: b"\x01\x00\x00\x00\x00",
    0x000D: u16s(SIGS),
    0x001B: vec(u16(2), 1),
}
CHROME_ORDER = [0x002D, 0x0033, 0x0010, 0xFE0D, 0x0017, 0x44CD, 0x0000, 0x000B, 0x000A,
                0x002B, 0xFF01, 0x0023, 0x0012, 0x0005, 0x000D, 0x001B]
CHROME_SUITES = [0x2A2A, 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9,
                 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035]


def chrome_hello() -> bytes:
    """A ClientHello with the values of a published Chrome 143 capture (its JA3/JA4 are
    public), GREASE in the suites, extensions, groups and versions."""
    return client_hello(CHROME_SUITES, [(0x1A1A, b"")]
                        + [(t, CHROME_EXTENSIONS[t]) for t in CHROME_ORDER]
                        + [(0x4A4A, b"\0")])


def test_ja3_ja4_of_a_published_chrome_hello() -> None:
    hello = parse_client_hello(chrome_hello())
    assert hello is not None
    # JA3 by hand: version 771; suites, extensions (in order) and groups in decimal without
    # GREASE; point formats "0".
    expected = ("771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-"
                "47-53,45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0")
    assert ja3_string(hello) == expected
    assert ja3(hello) == hashlib.md5(expected.encode()).hexdigest()
    assert ja3(hello) == "98487aa16281980e7d1120d399efb6a4"  # as published for it
    # JA4 by hand: t, 13 (supported_versions), d (SNI), 15 suites, 16 extensions, h2.
    raw = ("t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,"
           "cca8,cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_"
           "0403,0804,0401,0503,0805,0501,0806,0601")
    assert ja4_raw(hello) == raw
    _, b, c = raw.split("_", 2)
    assert ja4(hello) == ("t13d1516h2_" + hashlib.sha256(b.encode()).hexdigest()[:12] + "_"
                          + hashlib.sha256(c.encode()).hexdigest()[:12])
    assert ja4(hello) == "t13d1516h2_8daaf6152771_d8a2da3f94cd"  # as published


def test_ja3_ja4_of_a_tls12_hello_without_sni_alpn_or_signatures() -> None:
    hello = parse_client_hello(client_hello(
        [0xC02F, 0x009C, 0x00FF, 0x5A5A],
        [(0x000A, u16s([0x0017])), (0x000B, vec(b"\0\x01", 1)), (0x0017, b"")]))
    assert hello is not None
    assert ja3_string(hello) == "771,49199-156-255,10-11-23,23,0-1"
    # no supported_versions: the legacy version; no SNI: "i"; no ALPN: "00"; no
    # signature algorithms: the extension list alone, without "_".
    assert ja4_raw(hello) == "t12i030300_009c,00ff,c02f_000a,000b,0017"
    assert ja4(hello) == ("t12i030300_" + hashlib.sha256(b"009c,00ff,c02f").hexdigest()[:12]
                          + "_" + hashlib.sha256(b"000a,000b,0017").hexdigest()[:12])


@pytest.mark.parametrize("alpn, expected", [(b"http/1.1", "h1"), (b"h2", "h2"),
                                            (b"x", "xx"), (b"\x00\xff", "0f"),
                                            (b"h2\xff", "6f")])
def test_ja4_alpn_characters(alpn: bytes, expected: str) -> None:
    hello = parse_client_hello(client_hello(
        [0x1301], [(0x0010, vec(vec(alpn, 1), 2))], version=0x0303))
    assert hello is not None
    assert ja4(hello)[8:10] == expected  # "t12i0101" + 2 characters


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_parsers_never_raise(data: bytes) -> None:
    parse_client_hello(data)
    for hello in client_hellos(b"\x16\x03\x01" + len(data).to_bytes(2, "big") + data):
        ja3(hello)
        ja4(hello)


@given(st.lists(st.integers(0, 0xFFFF), max_size=40),
       st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=20)), max_size=20))
@settings(max_examples=200, deadline=None)
def test_a_split_hello_reassembles(ciphers: list[int], exts: list[tuple[int, bytes]]) -> None:
    """A ClientHello split over several handshake records (with a CCS in between, as
    middlebox-compatible clients send) parses the same as in one piece."""
    message = client_hello(ciphers, exts)
    one = parse_client_hello(message)
    records = b"".join(b"\x16\x03\x01" + vec(message[i:i + 7], 2)
                       for i in range(0, len(message), 7))
    assert one is not None
    parsed = client_hellos(b"\x14\x03\x03\x00\x01\x01" + records + b"\x17\x03\x03\x00\x00")
    assert len(parsed) == 1
    assert parsed[0].cipher_suites == one.cipher_suites == ciphers
    assert parsed[0].extensions == one.extensions == exts


def test_every_interesting_codepoint_is_named() -> None:
    assert cp.name("cipher_suite", 0x2A2A).name == "GREASE (0x2a2a)"
    assert cp.name("extension", 0xFAFA).grease
    assert cp.name("group", 0x0A0A).grease
    for code, expected in [(0x0904, "mldsa44"), (0x0905, "mldsa65"), (0x0906, "mldsa87")]:
        assert cp.name("signature_scheme", code).name == expected
    assert cp.name("extension", 0xFE0D).name == "encrypted_client_hello"
    assert "ALPS" in cp.name("extension", 0x4469).name
    assert "ALPS" in cp.name("extension", 0x44CD).name
    assert cp.name("extension", 0xCA34).name == "trust_anchors (draft)"
    assert cp.name("group", 0x11EC).name == "X25519MLKEM768"
    assert cp.name("cipher_suite", 0x000A).name == "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
    unknown = cp.name("extension", 0x7777)
    assert not unknown.known and unknown.name == "unassigned (0x7777)"
    assert cp.suite_is_broken(0x000A) and not cp.suite_is_broken(0x009C)
    assert cp.suite_weakness(0x009C) == cp.NO_FORWARD_SECRECY
    assert cp.suite_weakness(0x1301) is None and cp.suite_weakness(0xC02F) is None


# --------------------------------------------------------------------------- the page offline


def visit(hello: bytes, **kwargs: Any) -> page.Visit:
    parsed = parse_client_hello(hello)
    assert parsed is not None
    values: dict[str, Any] = dict(
        address="127.0.0.1:1", user_agent="test", version="TLSv1.3",
        cipher_suite="TLS_AES_128_GCM_SHA256", group="X25519MLKEM768",
        signature_scheme="ecdsa_secp256r1_sha256", alpn="h2", server_name="example.com",
        resumed=False, hellos=[parsed], diagram_url="/diagram/x.svg")
    values.update(kwargs)
    return page.Visit(**values)


def test_chosen_entries_and_verdict() -> None:
    data = page.describe(visit(chrome_hello()))
    offer = data["offer"]
    chosen = {k: [i["name"] for i in offer[k]["items"] if i.get("chosen")]
              for k in ("versions", "cipher_suites", "groups", "key_shares",
                        "signature_schemes", "alpn")}
    assert chosen == {"versions": ["TLSv1.3"], "cipher_suites": ["TLS_AES_128_GCM_SHA256"],
                      "groups": ["X25519MLKEM768"], "key_shares": ["X25519MLKEM768"],
                      "signature_schemes": ["ecdsa_secp256r1_sha256"], "alpn": ["h2"]}
    assert offer["key_shares"]["items"][1] == {"code": "0x11ec", "name": "X25519MLKEM768",
                                               "length": 1216, "chosen": True}
    assert offer["cipher_suites"]["items"][0] == {"code": "0x2a2a", "name": "GREASE (0x2a2a)",
                                                  "grease": True}
    verdict = {c["id"]: c["ok"] for c in data["verdict"]}
    assert verdict == {"post_quantum": True, "forward_secrecy": True, "weak_suites": True,
                       "resumption": None, "ech": True, "hello_retry": True, "version": True}
    classic = page.describe(visit(chrome_hello(), group="x25519"))
    pq = next(c for c in classic["verdict"] if c["id"] == "post_quantum")
    assert pq["ok"] is None and "X25519MLKEM768" in pq["detail"]


def test_weak_offer_and_old_versions_are_called_out() -> None:
    hello = client_hello([0x000A, 0x0005, 0xC02F],
                         [(0x002B, u16s([0x0304, 0x0303, 0x0302, 0x0301], 1))])
    data = page.describe(visit(hello, group="x25519"))
    checks = {c["id"]: c for c in data["verdict"]}
    assert checks["weak_suites"]["ok"] is False
    assert "TLS_RSA_WITH_3DES_EDE_CBC_SHA" in checks["weak_suites"]["detail"]
    assert "Sweet32" in checks["weak_suites"]["detail"]
    assert checks["version"]["ok"] is False and "TLSv1.1" in checks["version"]["detail"]
    assert checks["post_quantum"]["ok"] is False
    assert checks["ech"]["ok"] is None


def test_each_verdict_question_answers_every_case() -> None:
    """The branches the two hellos above do not reach: a TLS 1.2 connection with a static
    key exchange from a client offering legacy (not broken) suites and a ticket that was
    not taken, and a TLS 1.3 one that needed a HelloRetryRequest."""
    legacy = client_hello([0x009C, 0xC013, 0xC02F], [(0x0029, b"")])  # pre_shared_key
    tls12 = {c["id"]: c for c in page.verdict(visit(
        legacy, version="TLSv1.2", cipher_suite="TLS_RSA_WITH_AES_128_GCM_SHA256",
        group=None))}
    assert tls12["forward_secrecy"]["ok"] is False
    assert "static" in tls12["forward_secrecy"]["detail"]
    assert tls12["weak_suites"]["ok"] is True
    assert "1 without forward secrecy" in tls12["weak_suites"]["detail"]
    assert "1 in CBC mode" in tls12["weak_suites"]["detail"]
    assert tls12["resumption"]["title"] == "Session resumption: ticket not accepted"
    assert tls12["hello_retry"]["title"] == "HelloRetryRequest: not in TLS 1.2"
    assert tls12["version"]["ok"] is None and "still safe" in tls12["version"]["detail"]
    retried = {c["id"]: c for c in page.verdict(visit(
        chrome_hello(), hrr_group="secp384r1", tickets_sent=2))}
    assert retried["hello_retry"]["ok"] is None and "secp384r1" in retried["hello_retry"][
        "detail"]
    assert retried["resumption"]["detail"].startswith("this server sent your client 2 tickets")
    assert [c["id"] for c in page.verdict(visit(chrome_hello()))] == [
        "post_quantum", "forward_secrecy", "weak_suites", "resumption", "ech", "hello_retry",
        "version"]


def test_a_huge_hello_still_fits_one_record() -> None:
    suites = list(range(0x0001, 0x0001 + 3000))
    exts = [(0x0010, vec(b"".join(vec(f"proto-{i:04d}".encode() * 5, 1) for i in range(600)),
                         2)),
            (0x000A, u16s(list(range(1, 2000)))), (0x000D, u16s(list(range(0x0100, 0x0900))))]
    exts += [(0x6000 + i, b"") for i in range(1500)]
    v = visit(client_hello(suites, exts), alpn=None)
    body = page.render_html(v)
    assert len(body) <= page.PAGE_LIMIT
    text = body.decode()
    assert "Your TLS handshake" in text and text.rstrip().endswith("</html>")
    assert re.search(r"\d+ more not shown", text)
    assert 'data-check="post_quantum"' in text
    # /json is not bound by a record, but its lists are capped too, and say so
    data = page.describe(v)
    assert data["offer"]["cipher_suites"]["count"] == 3000
    assert data["offer"]["cipher_suites"]["omitted"] == 3000 - page.JSON_LIST_CAP


# --------------------------------------------------------------------------- real clients


def curl(port: int, root: Path, *paths: str, extra: tuple[str, ...] = ()) -> list[bytes]:
    """GET each path in one curl run (it resumes the session on the later connections);
    the bodies, in order."""
    argv = ["curl", "-sS", "--fail", "--cacert", str(root), "--resolve",
            f"localhost:{port}:127.0.0.1", *extra]
    for i, path in enumerate(paths):
        argv += [f"https://localhost:{port}{path}", "-o", "-", "-w", f"\n--END{i}--\n"]
    proc = subprocess.run(argv, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    bodies = re.split(rb"\n--END\d+--\n", proc.stdout)
    return bodies[:len(paths)]


def fetch_json(port: int, root: Path) -> dict[str, Any]:
    return dict(json.loads(curl(port, root, "/json")[0]))


def names_of(lst: dict[str, Any]) -> list[str]:
    return [i["name"] for i in lst["items"]]


def assert_all_named(offer: dict[str, Any]) -> None:
    """No offered code point is unnamed: GREASE is labelled, everything else known."""
    for key in ("versions", "cipher_suites", "groups", "key_shares", "signature_schemes",
                "extensions"):
        for item in offer[key]["items"]:
            assert not item.get("unassigned"), (key, item)
            assert not item["name"].startswith("UNKNOWN"), (key, item)
            if item.get("grease"):
                assert item["name"].startswith("GREASE"), item


def assert_consistent(data: dict[str, Any]) -> None:
    """The chosen entries are the negotiated values, and the fingerprints match the offer."""
    n, offer = data["negotiated"], data["offer"]
    chosen = [i["name"] for i in offer["cipher_suites"]["items"] if i.get("chosen")]
    assert chosen == [n["cipher_suite"]]
    if n["group"]:
        assert [i["name"] for i in offer["groups"]["items"] if i.get("chosen")] == [n["group"]]
    fp = data["fingerprints"]
    assert re.fullmatch(r"[0-9a-f]{32}", fp["ja3"]) and fp["ja3"] == hashlib.md5(
        fp["ja3_string"].encode()).hexdigest()
    assert re.fullmatch(r"t1[23][di]\d{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}", fp["ja4"])
    suites = [int(i["code"], 16) for i in offer["cipher_suites"]["items"] if not i.get("grease")]
    assert fp["ja3_string"].split(",")[1] == "-".join(str(s) for s in suites)


def test_curl_json_resumption_and_diagram(serve: Callable[..., Serve], pki: PKI) -> None:
    server = serve("--cert", str(pki.cert), "--key", str(pki.key))
    first, second, html_page = curl(server.port, pki.root, "/json", "/json", "/")
    one, two = json.loads(first), json.loads(second)
    for data in (one, two):
        assert_all_named(data["offer"])
        assert_consistent(data)
        assert data["client"]["user_agent"].startswith("curl/")
        assert data["negotiated"]["version"] == "TLSv1.3"
    assert one["negotiated"]["resumed"] is False and two["negotiated"]["resumed"] is True
    check = {c["id"]: c for c in two["verdict"]}
    assert check["resumption"]["ok"] is True
    assert two["certificate_chain"] == {"sent": False, "certificates": []}
    assert {c["id"]: c for c in one["verdict"]}["resumption"]["detail"].startswith(
        "this server sent your client 2 tickets")
    chain = one["certificate_chain"]["certificates"]
    assert chain[0]["common_name"] == "localhost" and len(chain) == 2
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                      pki.cert.read_text(), re.S)
    assert [c["sha256"] for c in chain] == [
        hashlib.sha256(ssl.PEM_cert_to_DER_cert(p)).hexdigest() for p in pems]
    # the resuming hello adds pre_shared_key (so its JA3 differs); suites stay the same
    assert "pre_shared_key" in names_of(two["offer"]["extensions"])
    assert "pre_shared_key" not in names_of(one["offer"]["extensions"])
    assert one["fingerprints"]["ja4"].split("_")[1] == two["fingerprints"]["ja4"].split(
        "_")[1]
    # the page: one record, the same data
    text = html_page.decode()
    assert len(html_page) <= page.PAGE_LIMIT
    assert f'<code id="ja4">{two["fingerprints"]["ja4"]}</code>' in text  # resumed too
    assert 'class="chosen"><code>TLS_AES_128_GCM_SHA256</code>' in text
    # the diagram of the first connection, fetched on another connection
    svg = curl(server.port, pki.root, one["diagram"])[0]
    root = ET.fromstring(svg)
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for message in ("ClientHello", "ServerHello", "EncryptedExtensions", "Certificate",
                    "CertificateVerify", "Finished", "NewSessionTicket"):
        assert message in texts, texts
    resumed_svg = curl(server.port, pki.root, two["diagram"])[0]
    assert b"CertificateVerify" not in resumed_svg  # resumption: no certificate, no proof
    gone = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                           "--cacert", str(pki.root), "--resolve",
                           f"localhost:{server.port}:127.0.0.1",
                           f"https://localhost:{server.port}/diagram/nope.svg"],
                          capture_output=True, text=True, timeout=30)
    assert gone.stdout == "404"


def test_hello_retry_request_is_shown(serve: Callable[..., Serve], pki: PKI) -> None:
    """curl (OpenSSL) sends an x25519 share; a server that takes only secp384r1 must ask
    again, and the page says so, with both offers."""
    server = serve("--cert", str(pki.cert), "--key", str(pki.key), "--groups", "secp384r1")
    data = fetch_json(server.port, pki.root)
    assert data["hello_retry_request"] == {"happened": True, "requested_group": "secp384r1"}
    assert names_of(data["offer"]["key_shares"]) == ["x25519"]
    assert names_of(data["second_offer"]["key_shares"]) == ["secp384r1"]
    assert {c["id"]: c["ok"] for c in data["verdict"]}["hello_retry"] is None
    assert_consistent(data)
    text = curl(server.port, pki.root, "/")[0].decode()
    assert 'id="hrr"' in text
    assert re.search(r'id="hrr">A HelloRetryRequest asked your client for a secp384r1 key '
                     r"share\. Its second ClientHello \(\d+ bytes\) sent: secp384r1\.", text)
    svg = curl(server.port, pki.root, data["diagram"])[0]
    assert b"HelloRetryRequest" in svg and svg.count(b">ClientHello<") == 2


@pytest.mark.parametrize("flag, version", [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_openssl_offer(serve: Callable[..., Serve], pki: PKI, flag: str, version: str) -> None:
    server = serve("--cert", str(pki.cert), "--key", str(pki.key))
    proc = s_client(server.port, pki.root, flag,
                    data="GET /json HTTP/1.0\r\nHost: localhost\r\n\r\n")
    assert proc.returncode == 0, proc.stderr
    data, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("\n{") + 1:])
    assert data["negotiated"]["version"] == version
    assert data["fingerprints"]["ja4"].startswith("t12d" if version == "TLSv1.2" else "t13d")
    assert_all_named(data["offer"])
    assert_consistent(data)
    assert {c["id"]: c["ok"] for c in data["verdict"]}["forward_secrecy"] is True


def test_gnutls_offer_is_named(serve: Callable[..., Serve], pki: PKI) -> None:
    """gnutls-cli's stdin stays open until the answer is in (at EOF it sends close_notify
    at once, a half-close this test is not about)."""
    server = serve("--cert", str(pki.cert), "--key", str(pki.key))
    proc = subprocess.Popen(
        ["gnutls-cli", "--x509cafile", str(pki.root), "--port", str(server.port),
         "localhost"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(b"GET /json HTTP/1.0\r\nHost: localhost\r\n\r\n")
        proc.stdin.flush()
        out = proc.stdout.read()  # until the server closes after its answer
    finally:
        proc.kill()
        proc.wait(10)
    text = out.decode()
    start = text.find("\n{")
    assert start >= 0, text
    data = json.loads(text[start + 1:text.rindex("}") + 1])
    assert_all_named(data["offer"])
    assert_consistent(data)


@pytest.fixture
def huge_alpn_client(pki: PKI) -> Iterator[Callable[[int, str], bytes]]:
    def fetch(port: int, path: str) -> bytes:
        ctx = ssl.create_default_context(cafile=str(pki.root))
        # ~55 KB of ALPN names: a ClientHello of four records
        ctx.set_alpn_protocols([f"x-{i:03d}-" + "a" * 200 for i in range(250)] + ["http/1.1"])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "http/1.1"
            tls.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
            chunks = []
            while data := tls.recv(65536):
                chunks.append(data)
            return b"".join(chunks)

    yield fetch


def test_huge_client_hello_gets_a_one_record_page(serve: Callable[..., Serve], pki: PKI,
                                                  huge_alpn_client: Callable[[int, str], bytes]
                                                  ) -> None:
    server = serve("--cert", str(pki.cert), "--key", str(pki.key))
    response = huge_alpn_client(server.port, "/")
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert len(response) <= 16384, len(response)  # headers and page in one record
    text = response.decode()
    cut = re.search(r'id="offer-alpn">.*?<p class="omitted">(\d+) more not shown', text)
    assert cut and int(cut.group(1)) > 200, text
    data = json.loads(huge_alpn_client(server.port, "/json").split(b"\r\n\r\n", 1)[1])
    assert data["offer"]["size"] > 50_000
    assert data["offer"]["alpn"]["count"] == 251
    assert data["negotiated"]["alpn"] == "http/1.1"


def test_page_and_json_say_the_same() -> None:
    """Every offered entry of /json is on the page, in the same order and marked the same
    way; the verdict lines too."""
    v = visit(chrome_hello())
    data = page.describe(v)
    text = page.render_html(v).decode()
    for key in ("versions", "cipher_suites", "groups", "key_shares", "signature_schemes",
                "alpn", "extensions"):
        box = re.search(rf'<div class="box" id="offer-{key}">(.*?)</div>', text)
        assert box, key
        shown = re.findall(r'<li(?: class="([^"]*)")?><code>(.*?)</code>', box.group(1))
        expected = [(" ".join(c for c in ("chosen", "grease") if i.get(c)), i["name"])
                    for i in data["offer"][key]["items"]]
        assert shown == expected, key
    for check in data["verdict"]:
        assert f'data-check="{check["id"]}"><b>{check["title"]}</b>' in text


def test_an_unparseable_hello_still_gets_a_page() -> None:
    """Should the bytes on the wire not parse (they always do for a completed handshake),
    the page still says what was negotiated, without offer or fingerprints."""
    v = visit(chrome_hello(), hellos=[])
    data = page.describe(v)
    assert data["offer"] is None and data["fingerprints"] is None
    text = page.render_html(v).decode()
    assert "<h1>Your TLS handshake</h1>" in text and 'id="ja4"' not in text
    assert "<code>TLS_AES_128_GCM_SHA256</code>" in text
