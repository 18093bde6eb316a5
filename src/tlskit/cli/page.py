"""The "your handshake" page of `tlskit serve`: what a visitor's client offered, what was
chosen, a short verdict, JA3/JA4 fingerprints, the chain the server sent, whether a
HelloRetryRequest happened and a sequence diagram of this very handshake.

`describe` gathers it all into one JSON-able dict (served as ``/json``); `render_html`
draws the same dict as a page that always fits in one TLS record (16 KiB), however large
the ClientHello was: the offered lists are cut shorter until it fits, and say so.

The offer is parsed from the bytes the client sent (`tlskit.fingerprint`), so every code
point is shown as it arrived, named from the IANA registries (`codepoints`), GREASE
labelled as GREASE, for TLS 1.3 and 1.2 alike.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from ..fingerprint import Hello, ja3, ja3_string, ja4, ja4_raw
from . import codepoints as cp

RECORD_LIMIT = 16384           # one TLSPlaintext record
HEADER_ALLOWANCE = 384         # the HTTP response head sent with the page
PAGE_LIMIT = RECORD_LIMIT - HEADER_ALLOWANCE
LIST_CAPS = (64, 32, 16, 8, 4, 0)  # tried in turn until the page fits
JSON_LIST_CAP = 256

PQ_NAMES = {cp.GROUPS[g] for g in cp.PQ_GROUPS}


@dataclass
class Visit:
    """Everything known about one connection when its page is asked for."""

    address: str
    user_agent: str | None
    version: str
    cipher_suite: str
    group: str | None
    signature_scheme: str | None
    alpn: str | None
    server_name: str | None
    resumed: bool
    hellos: list[Hello]
    chain: list[x509.Certificate] = field(default_factory=list)
    client_certificate: str | None = None
    hrr_group: str | None = None
    tickets_sent: int = 0
    diagram_url: str | None = None
    # The ECH public name when this server has an ECH key (`serve --ech`), else None;
    # then whether this connection's ClientHello was decrypted with it.
    ech_public_name: str | None = None
    ech_accepted: bool = False


# --------------------------------------------------------------------------- the data


def _code_of(registry: dict[int, str], name: str | None) -> int | None:
    if name is None:
        return None
    return next((code for code, known in registry.items() if known == name), None)


def _entries(registry: str, codes: Sequence[int], chosen: int | None = None,
             cap: int = JSON_LIST_CAP) -> dict[str, Any]:
    """A list of offered code points, named, with the chosen one marked; at most ``cap``
    entries (the rest counted in ``omitted``)."""
    items = []
    for code in codes[:cap]:
        entry = cp.name(registry, code).to_dict()
        if chosen is not None and code == chosen:
            entry["chosen"] = True
        if registry == "cipher_suite":
            weak = cp.suite_weakness(code)
            if weak:
                entry["weak" if cp.suite_is_broken(code) else "legacy"] = weak
        items.append(entry)
    return {"count": len(codes), "items": items, "omitted": max(0, len(codes) - cap)}


def _offer(hello: Hello, v: Visit, cap: int = JSON_LIST_CAP) -> dict[str, Any]:
    version_code = _code_of(cp.VERSIONS, v.version)
    versions = hello.supported_versions or [hello.legacy_version]
    alpn = hello.alpn
    shares = hello.key_shares
    group_code = _code_of(cp.GROUPS, v.group)
    return {
        "size": hello.size,
        "legacy_version": cp.name("version", hello.legacy_version).to_dict(),
        "server_name": hello.server_name,
        "versions": _entries("version", versions, version_code, cap),
        "cipher_suites": _entries("cipher_suite", hello.cipher_suites,
                                  _code_of(cp.CIPHER_SUITES, v.cipher_suite), cap),
        "groups": _entries("group", hello.groups, group_code, cap),
        "key_shares": {
            "count": len(shares),
            "items": [{**cp.name("group", g).to_dict(), "length": n,
                       **({"chosen": True} if g == group_code else {})}
                      for g, n in shares[:cap]],
            "omitted": max(0, len(shares) - cap)},
        "signature_schemes": _entries("signature_scheme", hello.signature_algorithms,
                                      _code_of(cp.SIGNATURE_SCHEMES, v.signature_scheme), cap),
        "extensions": _entries("extension", hello.extension_types, None, cap),
        "alpn": {"count": len(alpn),
                 "items": [{"name": p.decode("ascii", "replace"),
                            **({"chosen": True} if v.alpn and p == v.alpn.encode() else {}),
                            **({"grease": True} if _alpn_grease(p) else {})}
                           for p in alpn[:cap]],
                 "omitted": max(0, len(alpn) - cap)},
    }


def _alpn_grease(value: bytes) -> bool:
    """RFC 8701 reserves ALPN values of two bytes 0x?A0x?A, as for the other registries."""
    return len(value) == 2 and cp.is_grease(int.from_bytes(value, "big"))


def _cert(cert: x509.Certificate) -> dict[str, Any]:
    from .trace import cert_info

    info = cert_info(cert)
    return {k: info[k] for k in ("common_name", "subject", "issuer", "not_before",
                                 "not_after", "public_key", "signature_algorithm", "names",
                                 "sha256")}


def _check(key: str, ok: bool | None, title: str, detail: str) -> dict[str, Any]:
    return {"id": key, "ok": ok, "title": title, "detail": detail}


def verdict(v: Visit) -> list[dict[str, Any]]:
    """The short verdict: one line per question, each with its reason."""
    hello = v.hellos[0] if v.hellos else None
    return [question(v, hello) for question in _QUESTIONS]


def _post_quantum(v: Visit, hello: Hello | None) -> dict[str, Any]:
    offered_groups = [cp.name("group", g).name for g in (hello.groups if hello else [])]
    offered_pq = [g for g in offered_groups if g in PQ_NAMES]
    if v.group in PQ_NAMES:
        return _check("post_quantum", True, "Post-quantum key exchange: yes",
                      f"{v.group} mixes a classical and a post-quantum (ML-KEM) key "
                      "exchange: traffic recorded today stays secret even against a "
                      "future quantum computer.")
    if offered_pq:
        return _check("post_quantum", None, "Post-quantum key exchange: offered, "
                      "not used", f"your client offers {', '.join(offered_pq)}, but "
                      f"this server preferred {v.group}.")
    return _check("post_quantum", False, "Post-quantum key exchange: no",
                  "your client offers no post-quantum group (such as "
                  "X25519MLKEM768): traffic recorded today could be decrypted by "
                  "a quantum computer later.")


def _forward_secrecy(v: Visit, hello: Hello | None) -> dict[str, Any]:
    fs = v.version == "TLSv1.3" or "_ECDHE_" in v.cipher_suite or "_DHE_" in v.cipher_suite
    return _check(
        "forward_secrecy", fs, f"Forward secrecy: {'yes' if fs else 'no'}",
        f"the keys come from a fresh {v.group or 'ephemeral'} exchange, so stealing the "
        "server's private key later cannot decrypt this connection." if fs else
        "the key exchange is static: whoever gets the server's key can decrypt it.")


def _weak_suites(v: Visit, hello: Hello | None) -> dict[str, Any]:
    suites = hello.cipher_suites if hello else []
    broken = [s for s in suites if cp.suite_is_broken(s)]
    if broken:
        names = ", ".join(f"{cp.CIPHER_SUITES[s]} ({cp.suite_weakness(s)})" for s in broken[:3])
        more = f" and {len(broken) - 3} more" if len(broken) > 3 else ""
        return _check("weak_suites", False, f"Weak cipher suites offered: "
                      f"{len(broken)}", f"{names}{more}. A server that picks one of "
                      "these gives an attackable connection; modern clients no longer "
                      "offer them.")
    static = [s for s in suites if cp.suite_weakness(s) == cp.NO_FORWARD_SECRECY]
    cbc = [s for s in suites if cp.suite_is_cbc(s)]
    legacy = []
    if static:
        legacy.append(f"{len(static)} without forward secrecy (static RSA key exchange)")
    if cbc:
        legacy.append(f"{len(cbc)} in CBC mode")
    detail = "no NULL, export, anonymous, RC4, DES/3DES or MD5 suites."
    if legacy:
        detail += (" Legacy suites kept for old servers: " + " and ".join(legacy)
                   + "; a server only picks them when it has nothing better.")
    return _check("weak_suites", True, "Weak cipher suites offered: none", detail)


def _resumption(v: Visit, hello: Hello | None) -> dict[str, Any]:
    if v.resumed:
        return _check("resumption", True, "Session resumption: this connection "
                      "was resumed", "your client presented a ticket from an "
                      "earlier connection and the server accepted it: no certificate "
                      "was sent, and a fresh key exchange still gave new keys.")
    if hello is not None and hello.ext(41) is not None:  # pre_shared_key
        return _check("resumption", None, "Session resumption: ticket not accepted",
                      "your client offered a ticket, but not one this server can use "
                      "(from another server or run, or expired): full handshake.")
    tickets = (f"this server sent your client {v.tickets_sent} ticket"
               f"{'s' if v.tickets_sent != 1 else ''}" if v.tickets_sent
               else "no ticket was sent on this connection")
    return _check("resumption", None, "Session resumption: full handshake",
                  f"{tickets}; load the page again to see whether the next "
                  "connection resumes.")


def _ech(v: Visit, hello: Hello | None) -> dict[str, Any]:
    ech = hello is not None and hello.ext(0xFE0D) is not None
    if v.ech_accepted:
        return _check(
            "ech", True, "Encrypted Client Hello: accepted",
            f"your client encrypted its ClientHello to this server's ECH key: only the "
            f"public name {v.ech_public_name} went in the clear, not the name you asked "
            f"for ({v.server_name}), nor your ALPN or other inner extensions' values.")
    if v.ech_public_name is not None:
        return _check(
            "ech", None if ech else False,
            f"Encrypted Client Hello: {'offered, not for this key' if ech else 'not used'}",
            ("your client sent encrypted_client_hello, but not sealed to this server's "
             "key (GREASE, a decoy that keeps the extension usable)" if ech else
             "this server publishes an ECH key (public name "
             f"{v.ech_public_name}) and your client did not use it") +
            "; the name you asked for went in the clear.")
    return _check(
        "ech", True if ech else None,
        f"Encrypted Client Hello: {'offered' if ech else 'not offered'}",
        "your client sent encrypted_client_hello (0xfe0d). This server publishes no ECH key, "
        "so it was GREASE (a decoy that keeps the extension usable) or meant for another "
        "server; the name you asked for went in the clear." if ech else
        "the server name (SNI) you asked for travels in the clear.")


def _hello_retry(v: Visit, hello: Hello | None) -> dict[str, Any]:
    if v.version != "TLSv1.3":
        return _check("hello_retry", None, "HelloRetryRequest: not in TLS 1.2",
                      "a TLS 1.2 handshake always takes two round trips; TLS 1.3 "
                      "needs one when the client's key share guess is right.")
    if v.hrr_group:
        return _check("hello_retry", None, "HelloRetryRequest: yes",
                      f"no key share your client sent was for a group this server "
                      f"accepts, so it asked for {v.hrr_group}: one extra round trip.")
    return _check("hello_retry", True, "HelloRetryRequest: no",
                  "the key share your client guessed was accepted: one round "
                  "trip.")


def _version(v: Visit, hello: Hello | None) -> dict[str, Any]:
    old = [x for x in (hello.supported_versions if hello else []) if 0x0300 <= x < 0x0303]
    if v.version == "TLSv1.3" and not old:
        return _check("version", True, "Protocol: TLS 1.3", "the current version; "
                      "your client offers nothing older than TLS 1.2.")
    return _check(
        "version", False if old else None, f"Protocol: {v.version}",
        ("your client still offers " + ", ".join(cp.VERSIONS[x] for x in old)
         + ", deprecated by RFC 8996.") if old else
        "TLS 1.2 is still safe with these suites; TLS 1.3 is faster and hides more.")


# The questions in the order the page asks them.
_QUESTIONS: tuple[Callable[[Visit, Hello | None], dict[str, Any]], ...] = (
    _post_quantum, _forward_secrecy, _weak_suites, _resumption, _ech, _hello_retry,
    _version,
)


def describe(v: Visit, cap: int = JSON_LIST_CAP) -> dict[str, Any]:
    """The page's data, as served by ``/json``."""
    hello = v.hellos[0] if v.hellos else None
    data: dict[str, Any] = {
        "client": {"address": v.address, "user_agent": v.user_agent},
        "negotiated": {"version": v.version, "cipher_suite": v.cipher_suite,
                       "group": v.group, "signature_scheme": v.signature_scheme,
                       "alpn": v.alpn, "server_name": v.server_name, "resumed": v.resumed,
                       "client_certificate": v.client_certificate},
        "hello_retry_request": {"happened": v.hrr_group is not None,
                                "requested_group": v.hrr_group},
        "verdict": verdict(v),
        "fingerprints": ({"ja3": ja3(hello), "ja3_string": ja3_string(hello),
                          "ja4": ja4(hello), "ja4_r": ja4_raw(hello)} if hello else None),
        "offer": _offer(hello, v, cap) if hello else None,
        "second_offer": _offer(v.hellos[1], v, cap) if len(v.hellos) > 1 else None,
        "certificate_chain": {
            "sent": not v.resumed,
            "certificates": [] if v.resumed else [_cert(c) for c in v.chain]},
        "tickets_sent": v.tickets_sent,
        "diagram": v.diagram_url,
    }
    return data


def to_json(v: Visit) -> bytes:
    return (json.dumps(describe(v), indent=2) + "\n").encode()


# --------------------------------------------------------------------------- the page

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:1.5rem auto;max-width:62rem;padding:0 1rem;
color:#1d1d1f}
h1{margin:.2rem 0}h2{margin:1.4rem 0 .5rem;font-size:1.15rem}
table{border-collapse:collapse}th,td{text-align:left;padding:.2rem 1rem .2rem 0;
border-bottom:1px solid #ddd;vertical-align:top}
#verdict{list-style:none;padding:0}#verdict li{margin:.3rem 0;padding:.3rem .6rem;
border-left:4px solid #8c959f;background:#f6f8fa}
#verdict li.ok{border-color:#1a7f37}#verdict li.bad{border-color:#cf222e}
#verdict b{display:block}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(19rem,1fr));gap:.8rem}
.box{background:#f6f8fa;border-radius:6px;padding:.4rem .8rem}.box h3{margin:.2rem 0}
.box ol{padding-left:1.6rem;margin:.2rem 0}li small{color:#6e7781}
li.chosen{background:#dafbe1;font-weight:600}li.grease{color:#8c959f;font-style:italic}
li.weak code{color:#cf222e}code{font-size:.9em;overflow-wrap:anywhere}
#diagram{max-width:100%;border:1px solid #ddd}
"""

_OFFER_BOXES = (("versions", "Versions"), ("cipher_suites", "Cipher suites"),
                ("groups", "Groups"), ("key_shares", "Key shares sent"),
                ("signature_schemes", "Signature schemes"), ("alpn", "ALPN protocols"),
                ("extensions", "Extensions"))


def _li(entry: dict[str, Any]) -> str:
    e = html.escape
    classes = [c for c in ("chosen", "grease") if entry.get(c)]
    if entry.get("weak"):
        classes.append("weak")
    cls = f' class="{" ".join(classes)}"' if classes else ""
    extra = []
    if "code" in entry:
        extra.append(entry["code"])
    if "length" in entry:
        extra.append(f"{entry['length']} bytes")
    if entry.get("weak") or entry.get("legacy"):
        extra.append(entry.get("weak") or entry["legacy"])
    small = f" <small>{e(', '.join(extra))}</small>" if extra else ""
    return f"<li{cls}><code>{e(str(entry['name']))}</code>{small}</li>"


def _box(key: str, title: str, lst: dict[str, Any]) -> str:
    items = "".join(_li(x) for x in lst["items"])
    body = f"<ol>{items}</ol>" if items else ("<p><em>none</em></p>" if not lst["count"]
                                              else "")
    cut = (f'<p class="omitted">{lst["omitted"]} more not shown (see /json)</p>'
           if lst["omitted"] else "")
    return (f'<div class="box" id="offer-{key}"><h3>{html.escape(title)} '
            f'<small>({lst["count"]})</small></h3>{body}{cut}</div>')


def _rows(data: dict[str, Any]) -> str:
    n = data["negotiated"]
    c = data["client"]
    rows = [("Your address", c["address"]), ("Protocol version", n["version"]),
            ("Cipher suite", n["cipher_suite"]), ("Key exchange group", n["group"] or "-"),
            ("Server signature scheme", n["signature_scheme"] or "-"),
            ("SNI (server name you asked for)", n["server_name"] or "(none sent)"),
            ("ALPN protocol", n["alpn"] or "(none)"),
            ("Resumed", "yes" if n["resumed"] else "no"),
            ("HelloRetryRequest", data["hello_retry_request"]["requested_group"] or "no"),
            ("Client certificate", n["client_certificate"] or "(none)"),
            ("User agent", (c["user_agent"] or "-")[:200])]
    return "".join(f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(str(v))}</code>"
                   "</td></tr>" for k, v in rows)


def _verdict_html(checks: list[dict[str, Any]]) -> str:
    e = html.escape
    out = []
    for check in checks:
        cls = {True: "ok", False: "bad", None: "info"}[check["ok"]]
        out.append(f'<li class="{cls}" data-check="{e(check["id"])}"><b>{e(check["title"])}'
                   f"</b>{e(check['detail'])}</li>")
    return "".join(out)


def _chain_html(chain: dict[str, Any]) -> str:
    e = html.escape
    if not chain["sent"]:
        return "<p>None: a resumed connection skips the certificate.</p>"
    items = []
    for depth, cert in enumerate(chain["certificates"]):
        role = "leaf" if depth == 0 else "intermediate"
        items.append(f"<li><b>{e(cert['common_name'])}</b> <small>({role})</small><br>"
                     f"issued by {e(cert['issuer'])}; {e(cert['public_key'])}; valid "
                     f"{e(cert['not_before'])} to {e(cert['not_after'])}<br>"
                     f"<small>SHA-256 <code>{e(cert['sha256'])}</code></small></li>")
    return f'<ol id="chain">{"".join(items)}</ol>'


def _html(data: dict[str, Any]) -> str:
    e = html.escape
    fp = data["fingerprints"]
    fps = ""
    if fp:
        fps = (f'<dl id="fingerprints"><dt>JA4</dt><dd><code id="ja4">{e(fp["ja4"])}</code>'
               f'</dd><dt>JA3</dt><dd><code id="ja3">{e(fp["ja3"])}</code></dd></dl>')
    boxes = ""
    offer = data["offer"]
    if offer:
        boxes = "".join(_box(k, t, offer[k]) for k, t in _OFFER_BOXES)
        boxes = (f"<p>{offer['size']} bytes; <span class=\"legend\">highlighted: chosen; "
                 "grey: GREASE (RFC 8701 decoys); red: weak</span></p>"
                 f'<div class="grid">{boxes}</div>')
    hrr = ""
    if data["hello_retry_request"]["happened"]:
        second = data["second_offer"]
        again = ""
        if second:
            shares = ", ".join(i["name"] for i in second["key_shares"]["items"])
            again = f" Its second ClientHello ({second['size']} bytes) sent: {e(shares)}."
        hrr = (f"<p id=\"hrr\">A HelloRetryRequest asked your client for a "
               f"{e(str(data['hello_retry_request']['requested_group']))} key share.{again} "
               "The lists below are from the first ClientHello.</p>")
    diagram = ""
    if data["diagram"]:
        diagram = (f'<h2>This handshake, message by message</h2><img id="diagram" '
                   f'src="{e(data["diagram"])}" alt="sequence diagram of this handshake">')
    bad = sum(1 for c in data["verdict"] if c["ok"] is False)
    summary = ("Looks good." if not bad else
               f"{bad} thing{'s' if bad > 1 else ''} to look at.")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>Your TLS handshake - tlskit</title><style>{_CSS}</style></head><body>"
            "<h1>Your TLS handshake</h1>"
            "<p>Served by <code>tlskit serve</code> over the connection your client just made"
            " (<a href=\"/json\">as JSON</a>).</p>"
            f'<h2>Verdict</h2><p id="summary">{summary}</p><ul id="verdict">'
            f"{_verdict_html(data['verdict'])}</ul>"
            f"<h2>Negotiated</h2><table id=\"negotiated\">{_rows(data)}</table>"
            f"<h2>Fingerprints</h2>{fps}"
            f"<h2>What your client offered</h2>{hrr}{boxes}"
            f"<h2>Certificate chain the server sent</h2>{_chain_html(data['certificate_chain'])}"
            f"{diagram}</body></html>\n")


def render_html(v: Visit, limit: int = PAGE_LIMIT) -> bytes:
    """The page, at most ``limit`` bytes: the offered lists are cut shorter (largest
    first) until it fits."""
    page = b""
    for cap in LIST_CAPS:
        page = _html(describe(v, cap)).encode()
        if len(page) <= limit:
            return page
    return page[:limit]  # unreachable in practice: with empty lists the page is ~6 KiB
