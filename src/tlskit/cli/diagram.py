"""An SVG sequence diagram of a handshake, drawn from the recorded trace (no dependencies).

Two lanes (client, server), one arrow per handshake message labelled with its key fields,
notes for local checks (the certificate chain verdict), and a shaded band where the
traffic keys change: handshake keys after ServerHello, application keys after the Finished
messages. Every piece of text goes through `xml.sax.saxutils.escape`/`quoteattr`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from .trace import Step

__all__ = ["Arrow", "Band", "Note", "items_from_steps", "render_svg", "write_svg"]

WIDTH = 820
CLIENT_X = 170
SERVER_X = 690
TOP = 86
LINE = 15
MAX_LABEL = 70


@dataclass
class Arrow:
    sender: str                     # "client" or "server"
    name: str
    details: list[str] = field(default_factory=list)
    t_ms: float | None = None
    encrypted: bool = False


@dataclass
class Band:
    label: str


@dataclass
class Note:
    side: str
    text: str
    ok: bool = True
    t_ms: float | None = None


Item = Arrow | Band | Note


def _short(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _list(values: Any, limit: int = 4) -> str:
    if not isinstance(values, list | tuple):
        return str(values)
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" +{len(values) - limit} more" if len(values) > limit else "")


_CCS_NOTE = "switches to the negotiated keys (TLS 1.2) / compatibility only (TLS 1.3)"
_CCS_STEPS = ("client_change_cipher_spec", "server_change_cipher_spec")


def _share(whose: str, share: Any) -> list[str]:
    if not isinstance(share, str):
        return []
    return [f"{whose} key share: {share[:24]}\u2026 ({len(share) // 2} bytes)"]


def _details(step: Step) -> list[str]:
    f = step.fields
    name = step.step
    out: list[str] = []
    if name == "client_hello":
        out.append(f"suites: {_list(f.get('cipher_suites', []), 3)}")
        groups = f.get("groups", [])
        shares = list(f.get("key_shares", {}) or {})
        out.append(f"groups: {_list(groups)}; key share: {_list(shares)}")
        extra = []
        if f.get("server_name"):
            extra.append(f"SNI: {f['server_name']}")
        if f.get("alpn"):
            extra.append(f"ALPN: {_list(f['alpn'])}")
        if extra:
            out.append(", ".join(extra))
        if f.get("ech") == "offered":  # RFC 9849: the SNI above is the public name
            out.append(f"ECH: inner hello encrypted (real SNI: {f.get('inner_server_name')})")
    elif name == "hello_retry_request":
        out.append(f"suite: {f.get('cipher_suite')}; asks for group: {f.get('group')}")
    elif name == "server_hello":
        if f.get("version") == "TLSv1.2" or f.get("group") is None:
            out.append(f"suite: {f.get('cipher_suite')}; version: {f.get('version')}")
        else:
            out.append(f"suite: {f.get('cipher_suite')}, group: {f.get('group')}")
            out += _share("server", f.get("server_share"))
        if f.get("ech"):
            out.append(f"ECH {f['ech']}")
    elif name == "server_key_exchange":
        out.append(f"group: {f.get('group')}; signed with {f.get('scheme')}")
        out += _share("server", f.get("server_share"))
    elif name == "client_key_exchange":
        enc = f.get("encrypted_premaster")
        if isinstance(enc, str):  # RSA key transport (TLS 1.2)
            out.append(f"premaster, RSA-encrypted: {enc[:16]}\u2026 ({len(enc) // 2} bytes)")
        out += _share("client", f.get("client_share"))
    elif name == "certificate_status":
        out.append(f"OCSP response: {f.get('ocsp_response')}")
    elif name in ("client_change_cipher_spec", "server_change_cipher_spec"):
        out.append(_CCS_NOTE)
    elif name == "encrypted_extensions":
        exts = f.get("extensions") or []
        out.append(f"ALPN: {f.get('alpn') or 'none'}; extensions: {_list(exts) or 'none'}")
    elif name == "certificate_request":
        out.append(f"schemes: {_list(f.get('signature_schemes', []), 3)}")
    elif name in ("certificate", "client_certificate"):
        chain = f.get("chain") or []
        if f.get("certificate_type") == "RawPublicKey":  # RFC 7250: a key, no chain
            out.append(f"raw public key, {f.get('raw_public_key')}")
        elif chain:
            leaf = chain[0]
            out.append(f"subject: {leaf.get('subject')}")
            out.append(f"issuer: {leaf.get('issuer')}" + (
                f" (+{len(chain) - 1} more in chain)" if len(chain) > 1 else ""))
        else:
            out.append("(no certificate)")
    elif name in ("certificate_verify", "client_certificate_verify"):
        out.append(f"scheme: {f.get('scheme')}")
    elif name in ("server_finished", "client_finished"):
        vd = f.get("verify_data")
        if isinstance(vd, str):
            out.append(f"verify_data: {vd[:32]}\u2026")
    elif name == "new_session_ticket":
        out.append(f"lifetime {f.get('lifetime')} s, ticket {f.get('ticket_length')} bytes")
    elif name in ("key_update_sent", "key_update_received"):
        out.append(f"update_requested: {f.get('update_requested')}")
    return [_short(d) for d in out]


def items_from_steps(steps: Sequence[Step],
                     application_data: Sequence[tuple[str, str, float | None]] = ()) -> list[Item]:
    """Diagram items from one side's trace (the client's, usually), then any application
    data as ``(sender, label, t_ms)``.

    TLS 1.3 encrypts both directions from the ServerHello on (one band) and switches to
    application keys after the Finished messages (a second band); its ChangeCipherSpec
    records are compatibility padding, sent in the clear. TLS 1.2 encrypts each direction
    from that side's ChangeCipherSpec on, so only the two Finished messages (and what
    follows) are drawn encrypted."""
    version = next((s.fields.get("version") for s in steps if s.step == "server_hello"
                    and s.fields.get("version")), "TLSv1.3")
    tls12 = version == "TLSv1.2"
    items: list[Item] = []
    encrypted = {"client": False, "server": False}
    app_band = False
    for step in steps:
        if step.step == "certificate_verified":
            items.append(Note("client", "certificate chain verified", True, step.t_ms))
            continue
        if step.step == "certificate_rejected":
            reason = step.fields.get("reason") or step.fields.get("error") or "failed"
            items.append(Note("client", _short(f"certificate rejected: {reason}", 40),
                              False, step.t_ms))
            continue
        if step.message is None or step.sender is None:
            continue
        sealed = encrypted.get(step.sender, False)
        if step.step == "new_session_ticket" and not app_band and not tls12:
            items.append(Band("key change: application traffic keys"))
            app_band = True
        ccs = step.step in _CCS_STEPS
        items.append(Arrow(step.sender, step.message, _details(step), step.t_ms,
                           sealed and not ccs))
        if step.step == "server_hello" and not tls12:
            items.append(Band("key change: handshake traffic keys "
                              "(the handshake messages below are encrypted)"))
            encrypted = {"client": True, "server": True}
        if ccs and tls12:
            items.append(Band(f"key change: the {step.sender}'s records are encrypted "
                              "from here"))
            encrypted[step.sender] = True
        if step.step == "client_finished" and not app_band and not tls12:
            items.append(Band("key change: application traffic keys"))
            app_band = True
    if application_data and not app_band and not tls12 and encrypted["client"]:
        items.append(Band("key change: application traffic keys"))
    extra = [Arrow(sender, "ApplicationData", [_short(label)], t_ms, True)
             for sender, label, t_ms in application_data]
    # After the last band, arrows are in time order (tickets and data interleave).
    last_band = max((i for i, it in enumerate(items) if isinstance(it, Band)), default=-1)
    tail = items[last_band + 1:] + extra
    tail.sort(key=_time)
    return items[:last_band + 1] + tail


def _time(item: Item) -> float:
    t = getattr(item, "t_ms", None)
    return float(t) if t is not None else 0.0


def _text(x: float, y: float, content: str, *, size: int = 12, anchor: str = "middle",
          weight: str = "normal", fill: str = "#1d1d1f", family: str = "sans-serif") -> str:
    return (f'<text x="{x:.0f}" y="{y:.0f}" font-family={quoteattr(family)} '
            f'font-size="{size}" font-weight="{weight}" fill="{fill}" '
            f'text-anchor="{anchor}">{escape(content)}</text>')


def render_svg(items: Sequence[Item], *, title: str = "TLS 1.3 handshake",
               client_label: str = "client", server_label: str = "server") -> str:
    """A complete, standalone SVG document."""
    rows: list[str] = []
    y = TOP
    for item in items:
        if isinstance(item, Band):
            y += 6
            rows.append(f'<rect x="40" y="{y}" width="{WIDTH - 80}" height="22" rx="4" '
                        'fill="#fff4c2" stroke="#e0b800" stroke-dasharray="4 3"/>')
            rows.append(_text(WIDTH / 2, y + 15, item.label, size=12,
                              weight="bold", fill="#6b5400"))
            y += 34
        elif isinstance(item, Note):
            x = CLIENT_X if item.side == "client" else SERVER_X
            colour = "#1a7f37" if item.ok else "#cf222e"
            mark = "\u2714 " if item.ok else "\u2718 "
            w = min(300, 16 + 7 * len(item.text))
            rows.append(f'<rect x="{x - w / 2:.0f}" y="{y}" width="{w}" height="24" rx="4" '
                        f'fill="#ffffff" stroke="{colour}"/>')
            rows.append(_text(x, y + 16, mark + item.text, size=11, fill=colour))
            if item.t_ms is not None:
                rows.append(_text(12, y + 16, f"{item.t_ms:.1f} ms", size=10, anchor="start",
                                  fill="#6e7781", family="monospace"))
            y += 34
        else:
            x1, x2 = (CLIENT_X, SERVER_X) if item.sender == "client" else (SERVER_X, CLIENT_X)
            colour = "#0969da" if item.sender == "client" else "#8250df"
            name = item.name + (" (encrypted)" if item.encrypted else "")
            rows.append(_text((x1 + x2) / 2, y + 14, name, size=13, weight="bold", fill=colour))
            ay = y + 22
            marker = "arrow-c" if item.sender == "client" else "arrow-s"
            dash = ' stroke-dasharray="6 3"' if item.encrypted else ""
            rows.append(f'<line x1="{x1}" y1="{ay}" x2="{x2}" y2="{ay}" stroke="{colour}" '
                        f'stroke-width="2"{dash} marker-end="url(#{marker})"/>')
            if item.t_ms is not None:
                rows.append(_text(12, ay + 4, f"{item.t_ms:.1f} ms", size=10, anchor="start",
                                  fill="#6e7781", family="monospace"))
            ty = ay + 16
            for detail in item.details:
                rows.append(_text((x1 + x2) / 2, ty, detail, size=11, fill="#424a53",
                                  family="monospace"))
                ty += LINE
            y = ty + 8
    rows.append(_text(WIDTH / 2, y + 14, "solid arrow: sent in the clear; dashed arrow: "
                      "encrypted (record type application_data)", size=10, fill="#6e7781"))
    height = y + 40
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img">',
        f"<title>{escape(title)}</title>",
        "<defs>",
        '<marker id="arrow-c" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#0969da"/></marker>',
        '<marker id="arrow-s" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#8250df"/></marker>',
        "</defs>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        _text(WIDTH / 2, 24, title, size=16, weight="bold"),
    ]
    for x, label, colour in ((CLIENT_X, client_label, "#0969da"),
                             (SERVER_X, server_label, "#8250df")):
        head.append(f'<rect x="{x - 125}" y="38" width="250" height="30" rx="6" '
                    f'fill="#f6f8fa" stroke="{colour}" stroke-width="1.5"/>')
        head.append(_text(x, 58, _short(label, 32), size=13, weight="bold", fill=colour))
        head.append(f'<line x1="{x}" y1="68" x2="{x}" y2="{height - 16}" stroke="#afb8c1" '
                    'stroke-width="1" stroke-dasharray="3 4"/>')
    return "\n".join([*head, *rows, "</svg>"]) + "\n"


class DiagramError(Exception):
    """The SVG could not be written; the message says where and why (one line)."""

    exit_code = 2  # the path given on the command line is unusable: a usage error


def write_svg(path: str | Path, items: Sequence[Item], **kwargs: Any) -> Path:
    out = Path(path).expanduser()
    try:
        out.write_text(render_svg(items, **kwargs), encoding="utf-8")
    except OSError as exc:
        raise DiagramError(f"cannot write the diagram to {out}: {exc.strerror or exc}; "
                           "pick another path") from exc
    return out
