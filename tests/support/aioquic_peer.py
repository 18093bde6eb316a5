"""An aioquic `tls.Context` (client or server) as a QUIC-TLS peer, over stdin/stdout.

Run with `.venv-aioquic/bin/python` (aioquic lives in a venv of its own, made by
.ci/install-test-deps.sh); tests/interop/test_quic_aioquic.py drives it. One JSON object
per line both ways:

    in:  {"level": 0..3, "data": HEX}       handshake bytes received at that level
    out: {"type": "data", "level": L, "data": HEX}            bytes to send at level L
         {"type": "secret", "direction": "read"|"write", "level": L, "suite": N,
          "secret": HEX}                                       update_traffic_key_cb
         {"type": "transport_parameters", "data": HEX}        the peer's
         {"type": "alpn", "protocol": P}                      once negotiated
         {"type": "ticket", ...}                              a ticket received (client)
         {"type": "state", "state": NAME, "resumed": B,
          "early_data_accepted": B}                           after each step
         {"type": "error", "alert": N, "message": TEXT}       an aioquic Alert (then exit)
         {"type": "idle"}                                     the step is done

A client writes its ClientHello (and an idle line) at once. Tickets: the client saves
each one to --save-ticket and offers --ticket; the server keeps those it issues in
--ticket-store and resumes from them.

The role `protect` is aioquic's packet protection instead (aioquic.quic.crypto and
.packet), one JSON object per line:

    in:  {"suite": N, "secret": HEX, "version": V, "key_updates": K, "header": HEX,
          "payload": HEX, "pn": P}     a packet protected under `secret` after K updates
    out: {"packet": HEX}
    in:  {"odcid": HEX, "retry": HEX, "version": V}     a Retry packet without its tag
    out: {"tag": HEX}
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

from aioquic import tls
from aioquic.buffer import Buffer

QUIC_TRANSPORT_PARAMETERS = 0x39


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def ticket_to_json(t: tls.SessionTicket) -> dict[str, Any]:
    return {"age_add": t.age_add, "cipher_suite": int(t.cipher_suite),
            "not_valid_after": t.not_valid_after.isoformat(),
            "not_valid_before": t.not_valid_before.isoformat(),
            "resumption_secret": t.resumption_secret.hex(), "server_name": t.server_name,
            "ticket": t.ticket.hex(), "max_early_data_size": t.max_early_data_size,
            "other_extensions": [[k, v.hex()] for k, v in t.other_extensions]}


def ticket_from_json(d: dict[str, Any]) -> tls.SessionTicket:
    return tls.SessionTicket(
        age_add=d["age_add"], cipher_suite=tls.CipherSuite(d["cipher_suite"]),
        not_valid_after=datetime.datetime.fromisoformat(d["not_valid_after"]),
        not_valid_before=datetime.datetime.fromisoformat(d["not_valid_before"]),
        resumption_secret=bytes.fromhex(d["resumption_secret"]),
        server_name=d["server_name"], ticket=bytes.fromhex(d["ticket"]),
        max_early_data_size=d["max_early_data_size"],
        other_extensions=[(k, bytes.fromhex(v)) for k, v in d["other_extensions"]])


def build(args: argparse.Namespace) -> tls.Context:
    ctx = tls.Context(is_client=args.role == "client", alpn_protocols=args.alpn or None,
                      cafile=args.cafile, server_name=args.server_name,
                      max_early_data=args.max_early_data)
    if args.groups:
        ctx._supported_groups = [tls.Group[g.upper()] for g in args.groups]
    if args.tls12_only:
        ctx._supported_versions = [0x0303]
    if args.session_id is not None:
        ctx.legacy_session_id = bytes.fromhex(args.session_id)
    if args.cert:
        chain = tls.load_pem_x509_certificates(Path(args.cert).read_bytes())
        ctx.certificate, ctx.certificate_chain = chain[0], chain[1:]
        ctx.certificate_private_key = tls.load_pem_private_key(Path(args.key).read_bytes())
    if args.transport_parameters is not None:
        ctx.handshake_extensions = [(QUIC_TRANSPORT_PARAMETERS,
                                     bytes.fromhex(args.transport_parameters))]
    ctx._request_client_certificate = args.request_client_certificate

    def key_cb(direction: tls.Direction, epoch: tls.Epoch, suite: tls.CipherSuite,
               secret: bytes) -> None:
        emit({"type": "secret", "level": epoch.value, "suite": int(suite),
              "direction": "write" if direction == tls.Direction.ENCRYPT else "read",
              "secret": secret.hex()})

    ctx.update_traffic_key_cb = key_cb
    if args.role == "client":
        if args.ticket:
            ctx.session_ticket = ticket_from_json(json.loads(Path(args.ticket).read_text()))
        if args.save_ticket:
            def save(t: tls.SessionTicket) -> None:
                Path(args.save_ticket).write_text(json.dumps(ticket_to_json(t)))
                emit({"type": "ticket", **ticket_to_json(t)})
            ctx.new_session_ticket_cb = save
    elif args.ticket_store:
        store = Path(args.ticket_store)

        def issued(t: tls.SessionTicket) -> None:
            known = json.loads(store.read_text()) if store.exists() else []
            store.write_text(json.dumps([*known, ticket_to_json(t)]))

        def fetch(label: bytes) -> tls.SessionTicket | None:
            known = json.loads(store.read_text()) if store.exists() else []
            found = [d for d in known if d["ticket"] == label.hex()]
            return ticket_from_json(found[0]) if found else None

        ctx.new_session_ticket_cb = issued
        ctx.get_session_ticket_cb = fetch
    return ctx


def step(ctx: tls.Context, data: bytes, reported: dict[str, Any]) -> None:
    buffers = {epoch: Buffer(capacity=1 << 16) for epoch in tls.Epoch}
    ctx.handle_message(data, buffers)
    for epoch, buf in buffers.items():
        if buf.data:
            emit({"type": "data", "level": epoch.value, "data": buf.data.hex()})
    for t, body in ctx.received_extensions or []:
        if t == QUIC_TRANSPORT_PARAMETERS and "tp" not in reported:
            reported["tp"] = True
            emit({"type": "transport_parameters", "data": body.hex()})
    if ctx.alpn_negotiated is not None and "alpn" not in reported:
        reported["alpn"] = True
        emit({"type": "alpn", "protocol": ctx.alpn_negotiated})
    emit({"type": "state", "state": ctx.state.name, "resumed": ctx.session_resumed,
          "early_data_accepted": ctx.early_data_accepted})


def protect(request: dict[str, Any]) -> dict[str, str]:
    """What aioquic makes of one `protect` request (see the module docstring)."""
    from aioquic.quic.crypto import CryptoContext, next_key_phase
    from aioquic.quic.packet import get_retry_integrity_tag
    if "retry" in request:
        return {"tag": get_retry_integrity_tag(bytes.fromhex(request["retry"]),
                                               bytes.fromhex(request["odcid"]),
                                               request["version"]).hex()}
    crypto = CryptoContext()
    crypto.setup(cipher_suite=tls.CipherSuite(request["suite"]),
                 secret=bytes.fromhex(request["secret"]), version=request["version"])
    for _ in range(request["key_updates"]):
        crypto = next_key_phase(crypto)
    packet = crypto.encrypt_packet(bytes.fromhex(request["header"]),
                                   bytes.fromhex(request["payload"]), request["pn"])
    return {"packet": packet.hex()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=("client", "server", "protect"))
    p.add_argument("--cafile")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--alpn", action="append")
    p.add_argument("--server-name")
    p.add_argument("--transport-parameters", help="hex; absent: none sent")
    p.add_argument("--groups", nargs="*")
    p.add_argument("--tls12-only", action="store_true")
    p.add_argument("--session-id", help="hex legacy_session_id (client)")
    p.add_argument("--request-client-certificate", action="store_true")
    p.add_argument("--max-early-data", type=int)
    p.add_argument("--ticket", help="client: resume with the ticket in this file")
    p.add_argument("--save-ticket", help="client: save the tickets received here")
    p.add_argument("--ticket-store", help="server: issue and resume tickets from here")
    args = p.parse_args()
    if args.role == "protect":
        for line in sys.stdin:
            emit(protect(json.loads(line)))
        return
    ctx = build(args)
    reported: dict[str, Any] = {}
    try:
        if args.role == "client":
            step(ctx, b"", reported)
        emit({"type": "idle"})
        for line in sys.stdin:
            chunk = json.loads(line)
            step(ctx, bytes.fromhex(chunk["data"]), reported)
            emit({"type": "idle"})
    except tls.Alert as exc:
        emit({"type": "error", "alert": int(exc.description), "message": str(exc)})
        emit({"type": "idle"})


if __name__ == "__main__":
    main()
