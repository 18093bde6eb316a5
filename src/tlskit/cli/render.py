"""Terminal rendering with rich: demo steps, handshake traces, connection summaries and the
certificate chain as a tree.

Everything here renders the structured data built by `tlskit.cli.trace` (and the demo and
connect commands on top of it); nothing is computed here. Colour is used only when the
output is a terminal (rich's own detection, which also honours NO_COLOR)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from .trace import Step

__all__ = [
    "OK",
    "cert_tree",
    "make_console",
    "render_checks",
    "render_connect",
    "render_demo",
    "render_trace",
    "short_hex",
]

OK = "[green]\u2714[/green]"
FAIL = "[red]\u2718[/red]"


def make_console(file: IO[str] | None = None) -> Console:
    """A console on stdout (or ``file``): ``COLUMNS`` wide when set, else the terminal's
    width, else 110 (wide enough for hex in a pipe); no colour under ``NO_COLOR``."""
    from .conventions import no_color, terminal_width

    stream = file if file is not None else sys.stdout
    return Console(file=stream, highlight=False, width=terminal_width(stream, 110),
                   emoji=False, no_color=no_color())


def short_hex(value: str | bytes | None, limit: int = 64) -> str:
    if value is None:
        return "-"
    text = value.hex() if isinstance(value, bytes | bytearray) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\u2026 ({len(text) // 2} bytes)"


SHORTEN_OVER = 24   # bytes: longer hex values are shown by their ends and length
HEAD_BYTES, TAIL_BYTES = 6, 3
_HEX = frozenset("0123456789abcdef")


def short_value(text: str) -> str:
    """``9f86d081884c…b0f00a (1216 bytes)`` for a long hex string; anything else as is.
    An ML-KEM-768 hybrid share is 1,216 bytes: in full it is 30 lines of an 80-column
    terminal, and nobody compares more than its ends by eye."""
    if len(text) <= 2 * SHORTEN_OVER or len(text) % 2 or not _HEX.issuperset(text):
        return text
    return (f"{text[:2 * HEAD_BYTES]}\u2026{text[-2 * TAIL_BYTES:]} "
            f"({len(text) // 2:,} bytes)")


def _mark(ok: bool | None) -> str:
    if ok is None:
        return "[yellow]-[/yellow]"
    return OK if ok else FAIL


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {short_hex(v, 24) if isinstance(v, str) else v}"
                         for k, v in value.items()) or "(none)"
    if value is None:
        return "-"
    return str(value)


# --------------------------------------------------------------------------- certificates


def cert_tree(chain: Sequence[Mapping[str, Any]], *, title: str = "certificate chain",
              verified: bool | None = None, anchored: bool = False) -> Tree:
    """A chain given leaf first, drawn as a tree with the issuer at the top and the leaf at
    the bottom; each node shows subject, issuer, validity, key and names. ``anchored``: the
    last certificate is the trust anchor the chain was validated against."""
    label = escape(title) if verified is None else f"{escape(title)}  {_mark(verified)}"
    tree = Tree(label)
    nodes = list(chain)
    parent = tree
    last = len(nodes) - 1
    for depth, info in enumerate(reversed(nodes)):
        index = last - depth
        if index == 0:
            role = "leaf"
        elif index == last and anchored:
            role = "trust anchor"
        elif info.get("subject") == info.get("issuer"):
            role = "self-issued"
        else:
            role = "intermediate"
        node = parent.add(f"[bold]{escape(str(info.get('common_name', '?')))}[/bold]"
                          f"  [dim]({role})[/dim]")
        node.add(f"subject   {escape(str(info.get('subject')))}")
        node.add(f"issuer    {escape(str(info.get('issuer')))}")
        node.add(f"valid     {info.get('not_before')}  \u2192  {info.get('not_after')}")
        node.add(f"key       {escape(str(info.get('public_key')))}, signed with "
                 f"{escape(str(info.get('signature_algorithm')))}")
        if info.get("names"):
            node.add(f"names     {escape(', '.join(info['names']))}")
        if info.get("must_staple"):
            node.add("features  must-staple (RFC 7633: the server must staple an OCSP "
                     "response)")
        parent = node
    return tree


def render_checks(checks: Iterable[Mapping[str, Any]]) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column()
    for check in checks:
        table.add_row(_mark(check.get("ok")), f"[bold]{escape(str(check.get('name')))}[/bold]",
                      escape(str(check.get("detail", ""))))
    return table


def _rows(rows: Iterable[Mapping[str, Any]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="cyan", no_wrap=True)
    table.add_column(overflow="fold")
    for row in rows:
        table.add_row(escape(str(row["label"])), escape(_value(row.get("value"))))
    return table


# --------------------------------------------------------------------------- trace


def render_trace(steps: Sequence[Step], console: Console, *, show_secrets: bool = False) -> None:
    """Each handshake message (and local event) with its fields, in order."""
    for step in steps:
        if step.message is not None:
            arrow = "\u2192" if step.sender == "client" else "\u2190"
            size = f"  [dim]{step.size} bytes[/dim]" if step.size else ""
            head = (f"[dim]{step.t_ms:8.2f} ms[/dim]  {arrow} [bold]{step.message}[/bold]"
                    f"  [dim]({step.sender})[/dim]{size}")
        else:
            ok = step.step != "certificate_rejected"
            head = (f"[dim]{step.t_ms:8.2f} ms[/dim]  {_mark(ok)} "
                    f"[bold]{step.step.replace('_', ' ')}[/bold]")
        console.print(head)
        fields = dict(step.fields)
        if show_secrets:
            fields.update(step.secrets)
        table = Table.grid(padding=(0, 2))
        table.add_column(style="cyan", no_wrap=True)
        table.add_column(overflow="fold")
        for key, value in fields.items():
            if key == "chain" and isinstance(value, list):
                value = [c.get("subject") if isinstance(c, dict) else c for c in value]
            if isinstance(value, str) and len(value) > 96 and all(
                    ch in "0123456789abcdef" for ch in value):
                value = short_hex(value, 64)
            table.add_row(f"    {escape(key)}", escape(_value(value)))
        console.print(table)


# --------------------------------------------------------------------------- connect


def _sct_lines(scts: Sequence[Mapping[str, Any]]) -> str:
    """One line per SCT: where from, which log, when, and what became of it."""
    if not scts:
        return "none (the server sent no SCT, and its certificate embeds none)"
    lines = []
    for s in scts:
        if s.get("log_id") is None:
            lines.append(f"{s['source']}: {s['status']}")
            continue
        log = f"log {s['log_id']}" + (f" ({s['log']})" if s.get("log") else "")
        lines.append(f"{s['source']}: {log}, {s.get('timestamp')}: {s['status']}")
    return "\n".join(lines)


def render_connect(summary: Mapping[str, Any], console: Console) -> None:
    """The human summary of `tlskit connect`."""
    from ..io.address import host_port  # (tlskit.io loads cryptography: not for --help)
    verification = summary.get("verification", {})
    ok = verification.get("ok")
    head = Table.grid(padding=(0, 2))
    head.add_column(style="cyan", no_wrap=True)
    head.add_column(overflow="fold")
    head.add_row("connected to", escape(host_port(summary["host"], summary["port"])
                                        + f" ({summary.get('address', '?')})"))
    if summary.get("starttls"):
        proto = summary["starttls"]
        chosen = (f" (port {summary['port']}: {proto}'s port, as HOST gave none)"
                  if summary.get("port_chosen") else "")
        head.add_row("STARTTLS", escape(f"{proto}: switched to TLS after the plain-text "
                                        f"exchange{chosen}"))
    head.add_row("server name", escape(str(summary.get("server_name") or "(none sent)")))
    head.add_row("version", escape(str(summary.get("version"))))
    head.add_row("cipher suite", escape(str(summary.get("cipher_suite"))))
    kx, signature = summary.get("group"), summary.get("signature_scheme")
    if kx is None and str(summary.get("cipher_suite")).startswith("TLS_RSA_WITH_"):
        kx = "RSA key transport (no forward secrecy)"
        signature = "none (the server proves its key by decrypting the premaster)"
    if summary.get("external_psk") is not None:
        signature = "none (authenticated by external PSK)"
    head.add_row("key exchange", escape(str(kx)))
    head.add_row("signature", escape(str(signature)))
    head.add_row("ALPN", escape(str(summary.get("alpn") or "(none)")))
    ech = summary.get("ech")
    if ech:
        head.add_row("ECH", f"{OK} accepted: the server name went encrypted; "
                            f"{escape(str(ech.get('public_name')))} was sent in the clear")
    limit = summary.get("record_limit")
    if limit is not None and limit < 16384:  # only worth a line when the peers agreed one
        head.add_row("record limit", f"{limit} bytes of plaintext per record")
    compression = summary.get("certificate_compression")
    if compression:  # RFC 8879: whether --compress-cert took effect
        head.add_row("certificate", escape(f"sent compressed with {compression['algorithm']}: "
                                           f"{compression['compressed']} bytes for "
                                           f"{compression['uncompressed']}"))
    if summary.get("client_certificate"):
        head.add_row("client certificate", escape(str(summary["client_certificate"])))
    if summary.get("client_raw_public_key"):  # RFC 7250: ours, named as the server pins it
        head.add_row("client raw key", "sent, SHA-256 of SPKI "
                     + escape(str(summary["client_raw_public_key"])))
    timings = summary.get("timings", {})
    if timings:
        head.add_row("timings", f"TCP {timings.get('connect_ms', 0):.1f} ms, handshake "
                                f"{timings.get('handshake_ms', 0):.1f} ms")
    if ok:
        head.add_row("verification", f"{OK} {escape(str(verification.get('detail') or 'ok'))}")
    else:
        head.add_row("verification", f"{FAIL} [red]{escape(str(verification.get('reason')))}"
                                     "[/red] [yellow](continuing: --insecure)[/yellow]")
    if verification.get("ocsp_staple"):
        head.add_row("OCSP staple", escape(str(verification["ocsp_staple"])))
    scts = summary.get("scts")
    if scts is not None:
        head.add_row("SCTs", escape(_sct_lines(scts)))
    console.print(Panel(head, title="[bold]TLS connection[/bold]", expand=False))
    path = verification.get("path") or []
    chain = summary.get("peer_certificates_full") or []
    if ok and path:
        console.print(cert_tree(path, title="validated certificate path", verified=True,
                                anchored=True))
    elif chain:
        console.print(cert_tree(chain, title="certificate chain as sent by the server",
                                verified=ok))
    checks = verification.get("checks") or []
    failed = [c for c in checks if not c.get("ok")]
    if failed:
        console.print(render_checks(failed))


# --------------------------------------------------------------------------- demo


def _step_panel(step: Mapping[str, Any]) -> Panel:
    parts: list[Any] = []
    if step.get("summary"):
        parts.append(Text(step["summary"], style="italic"))
    if step.get("rows"):
        parts.append(_rows(step["rows"]))
    if step.get("chain"):
        parts.append(cert_tree(step["chain"], title="chain sent by the server"))
    if step.get("checks"):
        parts.append(Text("checks:", style="bold"))
        parts.append(render_checks(step["checks"]))
    when = f"{step['t_ms']:.1f}\u2013{step['t_end_ms']:.1f} ms"
    messages = ", ".join(step.get("messages", []))
    title = (f"[bold]Step {step['number']}[/bold]  {escape(step['title'])}"
             f"  [dim]{when}[/dim]")
    subtitle = f"[dim]{escape(messages)}[/dim]" if messages else None
    return Panel(Group(*parts), title=title, title_align="left", subtitle=subtitle,
                 subtitle_align="right")


def _compared(value: str | None) -> str:
    return "-" if value is None else escape(short_value(value))


def render_demo(result: Mapping[str, Any], console: Console) -> None:
    sessions = result["sessions"]
    first = sessions[0]
    console.print(f"[bold]tlskit demo[/bold]: a real TLS 1.3 handshake between a tlskit client "
                  f"and a tlskit server on {escape(result['server'])}, with a throwaway CA "
                  f"({escape(result['ca']['root'])}).")
    console.print()
    console.print(f"[bold underline]Session 1[/bold underline]  handshake took "
                  f"{first['handshake_ms']:.1f} ms")
    for step in first["steps"]:
        console.print(_step_panel(step))
    console.print()
    console.print("[bold underline]Session 2[/bold underline]  the client connects again")
    table = Table(show_header=True, header_style="bold")
    table.add_column("value")
    table.add_column("session 1", overflow="fold")
    table.add_column("session 2", overflow="fold")
    table.add_column("different")
    for row in result["comparison"]:
        # (values the terminal view already shortened pass through short_value as is;
        # --full ones are shortened here: the table only shows that they differ)
        table.add_row(escape(row["name"]), _compared(row["session_1"]),
                      _compared(row["session_2"]), _mark(row["different"]))
    console.print(table)
    second = sessions[1]
    all_checks = [c for s in second["steps"] for c in s.get("checks", [])]
    passed = sum(1 for c in all_checks if c.get("ok"))
    console.print(f"Session 2 ran the same five steps ({passed}/{len(all_checks)} checks "
                  f"passed, handshake {second['handshake_ms']:.1f} ms).")
    if result["different_keys"]:
        console.print(f"{OK} [bold]every session gets fresh keys[/bold]: new key shares give a "
                      "new shared secret, so recording one session's traffic reveals nothing "
                      "about another's (forward secrecy).")
    else:
        console.print(f"{FAIL} [bold red]the two sessions share key material[/bold red]")
    if result.get("diagram"):
        console.print(f"sequence diagram of session 1 written to {escape(result['diagram'])}")


def render_classic(result: Mapping[str, Any], console: Console) -> None:
    """`tlskit demo --classic`: the RSA key transport story, its cost, ECDHE beside it."""
    rsa, ecdhe = result["rsa_session"], result["ecdhe_session"]
    console.print(f"[bold]tlskit demo --classic[/bold]: the handshake most explanations of "
                  f"SSL describe, for real: {escape(rsa['version'])} "
                  f"{escape(rsa['cipher_suite'])} between a tlskit client and a tlskit "
                  f"server on {escape(result['server'])} ({escape(result['server_key'])} "
                  "certificate key).")
    console.print()
    for step in result["steps"]:
        console.print(_step_panel(step))
    later, attempt = result["after_the_fact"], result["ecdhe_attempt"]
    console.print(f"{FAIL} [bold]RSA key transport[/bold]: the private key alone opened "
                  f"{later['records_opened']} of {later['records_total']} recorded records "
                  "(no forward secrecy).")
    console.print(f"{OK} [bold]ECDHE[/bold] ({escape(ecdhe['cipher_suite'])}, "
                  f"{escape(str(ecdhe['group']))}): the same key opened "
                  f"{attempt['records_opened']} of {attempt['records_total']} (forward "
                  "secrecy). This is why tlskit speaks RSA key transport only with "
                  "legacy_rsa_key_exchange=True.")
    if result.get("diagram"):
        console.print(f"sequence diagram written to {escape(result['diagram'])}")
