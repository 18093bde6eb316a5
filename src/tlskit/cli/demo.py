"""`tlskit demo`: a real TLS 1.3 handshake on loopback, explained step by step.

A throwaway CA (root + intermediate, in memory: no state directory is touched) issues a
certificate for localhost; a tlskit server runs on 127.0.0.1 in a thread, a tlskit client
connects to it, and everything both tracers report is gathered into five steps:

1. the client asks the server to identify itself (ClientHello)
2. the server sends its certificate chain and public key (ServerHello ... CertificateVerify)
3. the client checks the chain against its trusted CAs
4. both sides agree a symmetric session key (and it never crosses the wire)
5. Finished messages confirm it, and application data flows encrypted

Then it connects again and shows that the second session has different keys. Every value
shown is from this run. ``--json`` prints the same structure; ``--diagram`` draws session 1.
"""

from __future__ import annotations

import argparse
import json
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from ..ca import Issued, LocalCA
from ..config import ClientConfig, ServerConfig
from ..connection import ClientConnection, ServerConnection
from ..crypto import SUITES
from ..events import HandshakeComplete
from ..io.blocking import RECV_SIZE, TLSSocket
from ..io.tap import tap_socket
from ..keyschedule import traffic_keys
from . import diagram
from .render import make_console, render_demo, short_value
from .trace import (
    ExplainingVerifier,
    Recorder,
    Wire,
    cert_info,
    quiet_library_logs,
    report_checks,
    split_records,
)

IO_TIMEOUT = 10.0
ALPN = "http/1.1"
SERVER_NAME = "localhost"




def run(args: argparse.Namespace) -> int:
    quiet_library_logs()
    result = run_demo()
    sessions = result.pop("_sessions")
    if args.diagram:
        first = sessions[0]
        items = diagram.items_from_steps(first.client.steps, first.app_arrows)
        write_diagram(args.diagram, items, "tlskit demo: TLS 1.3 handshake", result)
    emit(args, result, render_demo)
    ok = result["different_keys"] and all(
        s["secret_not_on_wire"] and s["all_checks_ok"] for s in result["sessions"])
    return 0 if ok else 1


def write_diagram(path: str, items: list[diagram.Item], title: str,
                  result: dict[str, Any]) -> None:
    """The SVG sequence diagram; its path goes into the result."""
    written = diagram.write_svg(path, items, title=title, client_label="tlskit client",
                                server_label=f"tlskit server {result['server']}")
    result["diagram"] = str(written)


def emit(args: argparse.Namespace, result: dict[str, Any],
         render: Callable[[Any, Any], None]) -> None:
    """One JSON object (``--json``, values whole), or the rendered story (long values
    shortened unless ``--full``)."""
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        render(result if args.full else shorten(result), make_console())


# --------------------------------------------------------------------------- display

def shorten(value: Any) -> Any:
    """A copy of the demo's result with every long hex value shortened, for the terminal
    (``--full`` and ``--json`` keep them whole)."""
    if isinstance(value, str):
        return short_value(value)
    if isinstance(value, dict):
        return {k: shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shorten(v) for v in value]
    return value


# --------------------------------------------------------------------------- the server


@dataclass
class _ServerSide:
    recorder: Recorder
    done: threading.Event = field(default_factory=threading.Event)
    complete: HandshakeComplete | None = None
    client_offer: dict[str, Any] = field(default_factory=dict)
    received: bytes = b""
    reply: bytes = b""
    reply_record: bytes = b""
    error: BaseException | None = None


class _DemoServer:
    """A tlskit server on 127.0.0.1 that answers one connection per queued session."""

    def __init__(self, issued: Issued, staple: bytes | None, **config: Any) -> None:
        self.issued = issued
        self.staple = staple
        self.config = config  # more ServerConfig fields (`tlskit demo --classic`)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(IO_TIMEOUT)
        self.address = self.listener.getsockname()[:2]
        self.sessions: queue.Queue[_ServerSide | None] = queue.Queue()
        self.thread = threading.Thread(target=self._serve, name="tlskit-demo-server",
                                       daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            side = self.sessions.get()
            if side is None:
                return
            try:
                sock, _ = self.listener.accept()
            except OSError as exc:
                side.error = exc
                side.done.set()
                continue
            try:
                self._handle(sock, side)
            except BaseException as exc:
                side.error = exc
            finally:
                side.done.set()

    def _handle(self, sock: socket.socket, side: _ServerSide) -> None:
        sock.settimeout(IO_TIMEOUT)
        rec = side.recorder
        config = ServerConfig(certificate_chain=self.issued.chain,
                              private_key=self.issued.private_key, alpn_protocols=[ALPN],
                              ocsp_response=self.staple, tracer=rec.tracer, keylog=rec.keylog,
                              **self.config)
        conn = ServerConnection(config)
        wire = Wire()
        with TLSSocket(tap_socket(sock, wire.tap("server")), conn, server_side=True,
                       handshake_timeout=IO_TIMEOUT) as tls:
            tls.do_handshake()
            side.complete = conn.handshake_complete
            side.client_offer = dict(conn.client_offer)
            side.received = tls.recv(RECV_SIZE)
            side.reply = (f"hello client, I read {len(side.received)} bytes from you "
                          "and nobody else could").encode()
            side.reply_record = _send(tls, wire, side.reply, "server->client")
            while tls.recv(RECV_SIZE):  # until the client's close_notify
                pass

    def close(self) -> None:
        self.sessions.put(None)
        self.listener.close()
        self.thread.join(IO_TIMEOUT)


def _send(tls: TLSSocket, wire: Wire, data: bytes, direction: str) -> bytes:
    """Send ``data``; returns the record bytes that went on the wire for it."""
    mark = wire.mark()
    tls.sendall(data)
    return wire.sent_since(mark, direction)


def _ocsp_staple(ca: LocalCA, issued: Issued) -> bytes | None:
    """A real OCSP response for the leaf, signed by the intermediate, for the server to
    staple; None if it cannot be made (the demo goes on without stapling)."""
    try:
        request = ocsp.OCSPRequestBuilder().add_certificate(
            issued.certificate, ca.intermediate, hashes.SHA256()).build()
        return ca.ocsp_response(request.public_bytes(serialization.Encoding.DER))
    except Exception:
        return None


def _verifier(ca: LocalCA) -> ExplainingVerifier:
    from ..x509 import TrustStore, Verifier
    try:
        inner = Verifier(TrustStore([ca.root]), revocation="soft-fail", crls=[ca.crl()],
                         fetch_crls=False, ocsp=False)
    except TypeError:  # an older Verifier without these options
        inner = Verifier(TrustStore([ca.root]))
    return ExplainingVerifier(inner)


# --------------------------------------------------------------------------- one session


@dataclass
class _Session:
    number: int
    client: Recorder
    server: _ServerSide
    wire: Wire
    verifier: ExplainingVerifier
    complete: HandshakeComplete
    handshake_ms: float
    request: bytes
    request_record: bytes
    request_t_ms: float
    reply: bytes
    reply_t_ms: float
    app_arrows: list[tuple[str, str, float | None]] = field(default_factory=list)


def _run_session(number: int, server: _DemoServer, ca: LocalCA,
                 **client_config: Any) -> _Session:
    """One connection: handshake, a request, the reply, close; both sides recorded.
    ``client_config`` adds ClientConfig fields (`tlskit demo --classic`)."""
    t0 = time.perf_counter()
    client_rec = Recorder("client", t0)
    server_side = _ServerSide(Recorder("server", t0))
    wire = Wire(t0)
    server.sessions.put(server_side)
    verifier = _verifier(ca)
    config = ClientConfig(verifier=verifier, alpn_protocols=[ALPN], ocsp_stapling=True,
                          tracer=client_rec.tracer, keylog=client_rec.keylog, **client_config)
    sock = socket.create_connection(server.address, timeout=IO_TIMEOUT)
    try:
        conn = ClientConnection(config, server_name=SERVER_NAME)
        tapped = tap_socket(sock, wire.tap("client"))
        with TLSSocket(tapped, conn, server_side=False, handshake_timeout=IO_TIMEOUT,
                       server_hostname=SERVER_NAME) as tls:
            tls.do_handshake()
            complete = conn.handshake_complete
            assert complete is not None
            handshake_ms = client_rec.now_ms()
            request = f"hello server, this is session {number} speaking".encode()
            request_t = client_rec.now_ms()
            request_record = _send(tls, wire, request, "client->server")
            reply = tls.recv(RECV_SIZE)
            reply_t = client_rec.now_ms()
            # The wire shows our close_notify, not what the server may still be sending.
            tap = wire.tap("client")
            tapped.tap = lambda outgoing, data: tap(True, data) if outgoing else None
    finally:
        sock.close()
    if not server_side.done.wait(IO_TIMEOUT):
        raise TimeoutError("the demo server did not finish the session")
    if server_side.error is not None:
        raise RuntimeError(f"the demo server failed: {server_side.error}") from server_side.error
    arrows: list[tuple[str, str, float | None]] = [
        ("client", f"{len(request)} bytes of plaintext in a {len(request_record)}-byte "
                   "record", request_t),
        ("server", f"{len(reply)} bytes of plaintext in a {len(server_side.reply_record)}"
                   "-byte record", reply_t),
    ]
    return _Session(number, client_rec, server_side, wire, verifier, complete, handshake_ms,
                    request, request_record, request_t, reply, reply_t, arrows)


# --------------------------------------------------------------------------- the steps


def _row(label: str, value: Any) -> dict[str, Any]:
    return {"label": label, "value": value}


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": bool(ok), "detail": detail}


def _span(*steps: Any) -> tuple[float, float]:
    times = [s.t_ms for s in steps if s is not None]
    return (min(times), max(times)) if times else (0.0, 0.0)


def _name(value: IntEnum | None) -> str | None:
    return value.name if value is not None else None


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _step1(s: _Session) -> dict[str, Any]:
    hello = s.client.find("client_hello")
    assert hello is not None
    f = hello.fields
    offer = s.server.client_offer
    t, t_end = _span(hello, s.server.recorder.find("client_hello"))
    shares = f.get("key_shares", {})
    return {
        "number": 1,
        "title": "The client asks the server to identify itself",
        "summary": "The ClientHello lists what the client can do and already carries its "
                   "half of the key exchange (a fresh public key share), so the whole "
                   "handshake needs one round trip.",
        "messages": ["ClientHello"],
        "t_ms": t, "t_end_ms": t_end,
        "rows": [
            _row("ClientHello size", f"{hello.size} bytes, sent in the clear"),
            _row("client random", f.get("random")),
            _row("offered cipher suites", f.get("cipher_suites")),
            _row("offered groups", f.get("groups")),
            *[_row(f"key share ({g}), public", v) for g, v in shares.items()],
            _row("signature schemes", f.get("signature_schemes")),
            _row("SNI (server name)", f.get("server_name")),
            _row("ALPN", f.get("alpn")),
            _row("extensions", f.get("extensions")),
        ],
        "checks": [
            _check("server parsed the offer", offer.get("groups") == f.get("groups"),
                   f"the server saw groups {offer.get('groups')} and suites "
                   f"{offer.get('cipher_suites')}"),
        ],
        "data": {"client_hello": f, "server_view": offer},
    }


def _step2(s: _Session) -> dict[str, Any]:
    c = s.client
    sh, ee = c.find("server_hello"), c.find("encrypted_extensions")
    cert, cv = c.find("certificate"), c.find("certificate_verify")
    assert sh is not None and cert is not None and cv is not None
    chain = cert.fields.get("chain", [])
    t, t_end = _span(s.server.recorder.find("server_hello"), sh, ee, cert, cv)
    leaf = chain[0] if chain else {}
    return {
        "number": 2,
        "title": "The server sends its certificate chain and public key",
        "summary": "ServerHello picks the suite and group and carries the server's key "
                   "share; from EncryptedExtensions on, everything is encrypted under the "
                   "handshake keys. The server then sends its chain and signs the "
                   "transcript with the certificate's private key (CertificateVerify), "
                   "proving it holds that key.",
        "messages": ["ServerHello", "EncryptedExtensions", "Certificate", "CertificateVerify"],
        "t_ms": t, "t_end_ms": t_end,
        "rows": [
            _row("chosen cipher suite", sh.fields.get("cipher_suite")),
            _row("chosen group", sh.fields.get("group")),
            _row("server key share, public", sh.fields.get("server_share")),
            _row("server random", sh.fields.get("random")),
            _row("ALPN (EncryptedExtensions)", ee.fields.get("alpn") if ee else None),
            _row("certificates in chain", len(chain)),
            _row("leaf public key", leaf.get("public_key")),
            _row("stapled OCSP response", cert.fields.get("ocsp_response") or "none"),
            _row("CertificateVerify scheme", cv.fields.get("scheme")),
            _row("CertificateVerify signature", cv.fields.get("signature")),
        ],
        "chain": chain,
        "checks": [
            _check("CertificateVerify signature", True,
                   f"the client verified the {cv.fields.get('scheme')} signature over the "
                   "transcript with the leaf's public key"),
        ],
        "data": {"server_hello": sh.fields, "certificate": cert.fields,
                 "certificate_verify": cv.fields},
    }


def _category(check: dict[str, Any]) -> str | None:
    name = check["name"]
    if name == "signature":
        return "signatures"
    if name == "validity":
        return "expiry"
    if name == "revocation":
        return "revocation"
    if name == "hostname":
        return "name"
    if name == "trust anchor":
        return "trusted root"
    return None


def _step3(s: _Session) -> dict[str, Any]:
    c = s.client
    verified = c.find("certificate_verified")
    rejected = c.find("certificate_rejected")
    event = verified or rejected
    detailed = report_checks(s.verifier.report)
    summary: dict[str, list[dict[str, Any]]] = {}
    for check in detailed:
        cat = _category(check)
        if cat is not None:
            summary.setdefault(cat, []).append(check)
    checks = []
    for cat in ("signatures", "expiry", "revocation", "name", "trusted root"):
        found = summary.get(cat)
        if not found:
            missing = cat == "revocation"
            checks.append({"name": cat, "ok": None if missing else False,
                           "detail": "not checked by this verifier" if missing
                           else "no such check in the report"})
            continue
        ok: bool | None = all(x["ok"] for x in found)
        if ok and all(x["detail"].startswith("not checked") for x in found):
            ok = None  # passed only because nothing was checked: say so, not a tick
        detail = "; ".join(f"{x['certificate']}: {x['detail']}" for x in found)
        checks.append({"name": cat, "ok": ok, "detail": detail})
    checks.append(_check("verdict", verified is not None,
                         "chain accepted" if verified is not None else
                         f"chain rejected: {rejected.fields.get('error') if rejected else '?'}"))
    anchor_chain = verified.fields.get("chain", []) if verified else []
    return {
        "number": 3,
        "title": "The client checks the chain against its trusted CAs",
        "summary": "The client builds a path from the leaf through the intermediate to a "
                   "root it trusts, then checks every signature, every validity period, "
                   "revocation and that the certificate names the host it asked for.",
        "messages": [],
        "t_ms": event.t_ms if event else 0.0, "t_end_ms": event.t_ms if event else 0.0,
        "rows": [
            _row("server name checked", verified.fields.get("server_name") if verified
                 else None),
            _row("checked at", verified.fields.get("at") if verified else None),
            _row("validated path", [x.get("common_name") for x in anchor_chain]),
        ],
        "checks": checks,
        "data": {"all_checks": detailed,
                 "event": event.to_dict() if event else None},
    }


def _key_material(s: _Session) -> dict[str, dict[str, bytes | None]]:
    c, srv = s.client, s.server.recorder
    return {
        "shared_secret": {"client": c.value("server_hello", "shared_secret"),
                          "server": srv.value("server_hello", "shared_secret")},
        "client_handshake_traffic_secret": {
            "client": c.value("server_hello", "client_handshake_traffic_secret"),
            "server": srv.value("server_hello", "client_handshake_traffic_secret")},
        "server_handshake_traffic_secret": {
            "client": c.value("server_hello", "server_handshake_traffic_secret"),
            "server": srv.value("server_hello", "server_handshake_traffic_secret")},
        "client_application_traffic_secret": {
            "client": c.value("server_finished", "client_application_traffic_secret"),
            "server": srv.keys.get("CLIENT_TRAFFIC_SECRET_0")},
        "server_application_traffic_secret": {
            "client": c.value("server_finished", "server_application_traffic_secret"),
            "server": srv.keys.get("SERVER_TRAFFIC_SECRET_0")},
    }


def _record_keys(s: _Session) -> dict[str, bytes]:
    """The AEAD keys and IVs derived from the application traffic secrets."""
    suite = next((x for x in SUITES.values() if x.code == s.complete.cipher_suite), None)
    out: dict[str, bytes] = {}
    if suite is None:
        return out
    for label in ("client_application_traffic_secret", "server_application_traffic_secret"):
        secret = _key_material(s)[label]["client"]
        if secret:
            keys = traffic_keys(suite, secret)
            side = label.split("_", 1)[0]
            out[f"{side}_write_key"] = keys.key
            out[f"{side}_write_iv"] = keys.iv
    return out


def _step4(s: _Session) -> dict[str, Any]:
    c, srv = s.client, s.server.recorder
    sh, ssh = c.find("server_hello"), srv.find("server_hello")
    assert sh is not None and ssh is not None
    group = sh.values.get("group")
    client_share = (c.value("client_hello", "shares") or {}).get(group)
    server_share = sh.values.get("server_share")
    material = _key_material(s)
    checks = []
    for name, sides in material.items():
        same = sides["client"] is not None and sides["client"] == sides["server"]
        checks.append(_check(f"same {name.replace('_', ' ')}", same,
                             "client and server computed the same value independently"
                             if same else "the two sides disagree"))
    secrets: dict[str, bytes] = {k: v["client"] for k, v in material.items()
                                 if v["client"] is not None}
    secrets.update({k: v for k, v in c.keys.items() if k == "EXPORTER_SECRET"})
    secrets.update(_record_keys(s))
    hidden = {name: not s.wire.contains(value) for name, value in secrets.items()}
    not_on_wire = all(hidden.values()) and bool(hidden)
    sent = s.wire.total("client->server")
    received = s.wire.total("server->client")
    checks.append(_check(
        "secret not on the wire", not_on_wire,
        f"searched all {sent + received} bytes exchanged ({sent} client\u2192server, "
        f"{received} server\u2192client) for {len(hidden)} secret values "
        f"({', '.join(hidden)}): " + ("none of them appears" if not_on_wire else
                                      "FOUND: " + ", ".join(k for k, v in hidden.items()
                                                            if not v))))
    shares_public = (client_share is not None and server_share is not None
                     and s.wire.contains(client_share) and s.wire.contains(server_share))
    checks.append(_check("public shares are on the wire", shares_public,
                         "both key shares travel in the clear: that is safe, only the "
                         "private halves (never sent) can compute the shared secret"))
    shared = material["shared_secret"]["client"]
    t, t_end = _span(ssh, sh, c.find("server_finished"))  # to the application secrets
    return {
        "number": 4,
        "title": "Both sides agree a symmetric session key",
        "summary": f"Each side combines its own private key with the other's public share "
                   f"({group} Diffie-Hellman). Both arrive at the same shared secret without "
                   "ever sending it; HKDF turns it (with the transcript hash) into the "
                   "handshake and application traffic secrets and the AES keys.",
        "messages": ["ClientHello key_share", "ServerHello key_share"],
        "t_ms": t, "t_end_ms": t_end,
        "rows": [
            _row("group", group),
            _row("client public share", _hex(client_share)),
            _row("server public share", _hex(server_share)),
            _row("shared secret (client)", _hex(shared)),
            _row("shared secret (server)", _hex(material["shared_secret"]["server"])),
            _row("client handshake traffic secret",
                 _hex(material["client_handshake_traffic_secret"]["client"])),
            _row("server handshake traffic secret",
                 _hex(material["server_handshake_traffic_secret"]["client"])),
            _row("client application traffic secret",
                 _hex(material["client_application_traffic_secret"]["client"])),
            _row("server application traffic secret",
                 _hex(material["server_application_traffic_secret"]["client"])),
        ],
        "checks": checks,
        "data": {
            "group": group,
            "client_share": _hex(client_share),
            "server_share": _hex(server_share),
            "secrets": {k: {"client": _hex(v["client"]), "server": _hex(v["server"])}
                        for k, v in material.items()},
            "secret_not_on_wire": not_on_wire,
            "searched": {k: v for k, v in hidden.items()},
            "wire_bytes": {"client_to_server": sent, "server_to_client": received},
        },
    }


def _step5(s: _Session) -> dict[str, Any]:
    c, srv = s.client, s.server.recorder
    sfin, cfin = c.find("server_finished"), c.find("client_finished")
    srv_sfin, srv_cfin = srv.find("server_finished"), srv.find("client_finished")
    assert sfin is not None and cfin is not None
    records = split_records(s.request_record)
    ciphertext = records[0]["bytes"] if records else s.request_record
    length = int.from_bytes(ciphertext[3:5], "big")
    padding = length - len(s.request) - 1 - 16
    layout = f"{len(s.request)} data + 1 content type + 16 AEAD tag" + (
        f" + {padding} padding" if padding else "")
    checks = [
        _check("server Finished verified by the client", sfin is not None and srv_sfin is not None
               and sfin.fields.get("verify_data") == srv_sfin.fields.get("verify_data"),
               "the HMAC over the whole transcript under the server's handshake key matches"),
        _check("client Finished verified by the server", srv_cfin is not None
               and srv_cfin.fields.get("verify_data") == cfin.fields.get("verify_data"),
               "the server recomputed the client's HMAC: no message was altered"),
        _check("server decrypted the message", s.server.received == s.request,
               f"the server read {s.server.received!r}"),
        _check("plaintext not on the wire", not s.wire.contains(s.request)
               and not s.wire.contains(s.reply),
               "neither message appears in the bytes exchanged"),
        _check("client decrypted the reply", s.reply == s.server.reply,
               f"the client read {s.reply!r}"),
    ]
    t, t_end = _span(sfin, srv_cfin)
    return {
        "number": 5,
        "title": "Finished messages confirm the keys; application data flows encrypted",
        "summary": "Each side sends an HMAC of the whole transcript under its handshake "
                   "key: a tampered or mismatched handshake fails here. Then both switch "
                   "to the application traffic keys, and every byte of data is sealed "
                   "with AEAD in records of type application_data (23).",
        "messages": ["Finished (server)", "Finished (client)", "ApplicationData"],
        "t_ms": t, "t_end_ms": max(t_end, s.reply_t_ms),
        "rows": [
            _row("server Finished verify_data", sfin.fields.get("verify_data")),
            _row("client Finished verify_data", cfin.fields.get("verify_data")),
            _row("plaintext", s.request.decode("utf-8", "replace")),
            _row("plaintext hex", s.request.hex()),
            _row("on the wire (record hex)", ciphertext.hex()),
            _row("record", f"type {ciphertext[0]} (application_data), version "
                           f"0x{ciphertext[1:3].hex()}, length {length} = {layout}"),
            _row("reply (decrypted)", s.reply.decode("utf-8", "replace")),
        ],
        "checks": checks,
        "data": {
            "plaintext": s.request.decode("utf-8", "replace"),
            "plaintext_hex": s.request.hex(),
            "ciphertext_record_hex": ciphertext.hex(),
            "reply": s.reply.decode("utf-8", "replace"),
            "reply_record_hex": s.server.reply_record.hex(),
        },
    }


def _session_json(s: _Session) -> dict[str, Any]:
    steps = [_step1(s), _step2(s), _step3(s), _step4(s), _step5(s)]
    material = _key_material(s)
    hc = s.complete
    wire_records = []
    for chunk in s.wire.chunks:
        for rec in split_records(chunk.data):
            wire_records.append({"t_ms": chunk.t_ms, "direction": chunk.direction,
                                 "content_type": rec["content_type"], "length": rec["length"]})
    return {
        "session": s.number,
        "version": hc.version,
        "cipher_suite": hc.cipher_suite.name,
        "group": _name(hc.group),
        "signature_scheme": _name(hc.signature_scheme),
        "alpn": hc.alpn_protocol,
        "server_name": hc.server_name,
        "handshake_ms": s.handshake_ms,
        "shared_secret": _hex(material["shared_secret"]["client"]),
        "client_handshake_traffic_secret":
            _hex(material["client_handshake_traffic_secret"]["client"]),
        "server_handshake_traffic_secret":
            _hex(material["server_handshake_traffic_secret"]["client"]),
        "client_application_traffic_secret":
            _hex(material["client_application_traffic_secret"]["client"]),
        "server_application_traffic_secret":
            _hex(material["server_application_traffic_secret"]["client"]),
        "secret_not_on_wire": steps[3]["data"]["secret_not_on_wire"],
        "all_checks_ok": all(c["ok"] is not False for st in steps for c in st["checks"]),
        "peer_certificates": [cert_info(x) for x in hc.peer_certificates],
        "steps": steps,
        "trace": {"client": s.client.to_list(), "server": s.server.recorder.to_list()},
        "wire": {"client_to_server_bytes": s.wire.total("client->server"),
                 "server_to_client_bytes": s.wire.total("server->client"),
                 "records": wire_records},
    }


_COMPARED = ("shared_secret", "client_handshake_traffic_secret",
             "server_handshake_traffic_secret", "client_application_traffic_secret",
             "server_application_traffic_secret")


def run_demo() -> dict[str, Any]:
    """Run the two sessions; the JSON-able result (plus ``_sessions``, the raw objects)."""
    ca = LocalCA.create(None, name="tlskit demo CA")
    issued = ca.issue_server([SERVER_NAME, "127.0.0.1"], days=1)
    server = _DemoServer(issued, _ocsp_staple(ca, issued))
    try:
        sessions = [_run_session(n, server, ca) for n in (1, 2)]
    finally:
        server.close()
    out = [_session_json(s) for s in sessions]
    comparison = []
    for key in _COMPARED:
        a, b = out[0][key], out[1][key]
        comparison.append({"name": key, "session_1": a, "session_2": b,
                           "different": a is not None and b is not None and a != b})
    shares = [s["steps"][3]["data"]["client_share"] for s in out]
    comparison.append({"name": "client public share", "session_1": shares[0],
                       "session_2": shares[1], "different": shares[0] != shares[1]})
    host, port = server.address
    return {
        "server": f"{host}:{port}",
        "ca": {"root": ca.root.subject.rfc4514_string(),
               "intermediate": ca.intermediate.subject.rfc4514_string(),
               "stored": "in memory only"},
        "sessions": out,
        "comparison": comparison,
        "different_keys": all(row["different"] for row in comparison),
        "_sessions": sessions,
    }
