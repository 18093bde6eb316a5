"""`tlskit verify`: validate a certificate chain and explain every check.

The tree is drawn from the trust anchor down to the leaf, the way authority flows; each
certificate lists its checks with a verdict. ``--json`` prints the same facts as one JSON
object (chain leaf first). Exit status: 0 valid, 1 invalid or unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from ..x509 import Check, Report, TrustStore, Verifier


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cert", metavar="CERT",
                        help="leaf certificate (PEM or DER); a PEM file may also hold the "
                             "intermediates after the leaf")
    parser.add_argument("--chain", metavar="FILE", action="append", default=[],
                        help="more intermediates (PEM), in any order; repeatable")
    parser.add_argument("--cafile", metavar="FILE",
                        help="trust anchors (PEM); default: the system store")
    parser.add_argument("--host", metavar="NAME",
                        help="check the certificate is valid for this host name or IP")
    parser.add_argument("--at", metavar="ISO-TIME",
                        help="validate at this moment, e.g. 2026-01-31T12:00:00Z "
                             "(default: now; no zone means UTC)")
    parser.add_argument("--client", action="store_true",
                        help="check for TLS client authentication instead of server")
    parser.add_argument("--crl", metavar="FILE", action="append", default=[],
                        help="a CRL (PEM or DER) to check revocation against; repeatable "
                             "(alone: soft-fail, only the given CRLs)")
    parser.add_argument("--ocsp", action="store_true",
                        help="check revocation online (OCSP, then CRL distribution points); "
                             "an unknown status fails (hard-fail)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    certs = load_certificates(Path(args.cert))
    leaf, intermediates = certs[0], certs[1:]
    for extra in args.chain:
        intermediates += load_certificates(Path(extra))
    store = TrustStore.from_pem_file(args.cafile) if args.cafile else TrustStore.default()
    verifier = _verifier(store, args)
    report = verifier.explain(
        leaf,
        intermediates,
        server_name=args.host,
        at=parse_time(args.at) if args.at else None,
        usage="client" if args.client else "server",
    )
    if args.json:
        print(json.dumps(report_to_json(report), indent=2))
    else:
        render(report, args.host)
    return 0 if report.valid else 1


def _verifier(store: TrustStore, args: argparse.Namespace) -> Verifier:
    """--ocsp: hard-fail with online checks; --crl alone: soft-fail against the given CRLs."""
    crls = [crl for path in args.crl for crl in load_crls(Path(path))]
    if args.ocsp:
        return Verifier(store, revocation="hard-fail", crls=crls)
    if crls:
        return Verifier(store, revocation="soft-fail", crls=crls, fetch_crls=False, ocsp=False)
    return Verifier(store)


# -- input -------------------------------------------------------------------------------


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file, or the one in a DER file."""
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        certs = x509.load_pem_x509_certificates(data)
    else:
        certs = [x509.load_der_x509_certificate(data)]
    if not certs:
        raise ValueError(f"no certificate in {path}")
    return certs


def load_crls(path: Path) -> list[x509.CertificateRevocationList]:
    """One or more PEM CRLs, or a single DER CRL."""
    data = path.read_bytes()
    if b"-----BEGIN" not in data:
        return [x509.load_der_x509_crl(data)]
    end = b"-----END X509 CRL-----"
    blocks = [b + end for b in data.split(end) if b"-----BEGIN X509 CRL-----" in b]
    if not blocks:
        raise ValueError(f"no CRL in {path}")
    return [x509.load_pem_x509_crl(block[block.index(b"-----BEGIN"):]) for block in blocks]


def parse_time(text: str) -> datetime:
    """ISO 8601; a trailing Z and a missing zone both mean UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# -- output ------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _cert_json(cert: x509.Certificate, checks: list[Check]) -> dict[str, Any]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:x}",
        "not_before": _iso(cert.not_valid_before_utc),
        "not_after": _iso(cert.not_valid_after_utc),
        "checks": [{"check": c.check, "ok": c.ok, "detail": c.detail} for c in checks],
    }


def report_to_json(report: Report) -> dict[str, Any]:
    return {
        "valid": report.valid,
        "reason": report.error.reason.value if report.error else None,
        "message": str(report.error) if report.error else None,
        "chain": [_cert_json(cert, report.checks_for(cert)) for cert in report.chain],
    }


def render(report: Report, host: str | None) -> None:
    """The chain as a rich Tree, anchor at the top, then the verdict."""
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    from .conventions import no_color, terminal_width

    # COLUMNS when set; on a terminal, its width; into a pipe or file, never crop a line.
    console = Console(file=sys.stdout, highlight=False, width=terminal_width(sys.stdout, 240),
                      no_color=no_color())
    tree: Tree | None = None
    node: Tree | None = None
    for cert in reversed(report.chain):
        label = (f"[bold]{escape(cert.subject.rfc4514_string() or '(empty subject)')}[/]"
                 f"  [dim]serial {cert.serial_number:x}, "
                 f"{cert.not_valid_before_utc:%Y-%m-%d} .. {cert.not_valid_after_utc:%Y-%m-%d}[/]")
        child = Tree(label) if node is None else node.add(label)
        tree = tree or child
        for check in report.checks_for(cert):
            mark = "[green]✔[/]" if check.ok else "[red]✘[/]"
            child.add(f"{mark} {escape(check.check)}: {escape(check.detail)}")
        node = child
    if tree is not None:
        console.print(tree)
    if report.error is None:
        target = f" for {escape(host)}" if host else ""
        console.print(f"[bold green]✔ valid[/]{target}")
    else:
        console.print(f"[bold red]✘ invalid ({report.error.reason.value})[/]: "
                      f"{escape(str(report.error))}")
