"""`tlskit verify`: validate a certificate chain and explain every check.

The tree is drawn from the trust anchor down to the leaf, the way authority flows; each
certificate lists its checks with a verdict. ``--json`` prints the same facts as one JSON
object (chain leaf first). Exit status: 0 valid, 1 invalid, 2 unreadable input (a usage error).

``--lint`` adds the CA/Browser Forum issuance-profile findings (`tlskit.x509.lint`) as
warnings; they never change the verdict or the exit status.

Revocation is only checked when asked (``--crl FILE`` soft-fail against the given CRLs,
``--ocsp`` hard-fail online). Without those flags the verdict says "revocation not checked"
next to "valid", and so does every certificate below the anchor: a revoked certificate must
never look fully valid. With them, each certificate shows its revocation status.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from ..x509 import Report, TrustStore, Verifier
from ..x509.errors import TO_TRUST_ANCHORS
from ..x509.lint import Finding
from ..x509.muststaple import shows_must_staple
from ..x509.parsed import describe_parse_error, pem_labels

NOT_CHECKED = "not checked"
HOW_TO_CHECK = "pass --ocsp to check online, or --crl FILE"




class InputError(Exception):
    """Bad input, already phrased for the user (the dispatcher prints it as one line)."""

    exit_code = 2  # a usage error (tlskit.cli.conventions)


def run(args: argparse.Namespace) -> int:
    certs = leaf_first(load_certificates(Path(args.cert), "CERT"), args.cert)
    leaf, intermediates = certs[0], certs[1:]
    for extra in args.chain:
        intermediates += load_certificates(Path(extra), "--chain")
    store = _store(args.cafile)
    at = _moment(args.at)
    verifier = _verifier(store, args)
    report = verifier.explain(
        leaf,
        intermediates,
        server_name=args.host,
        at=at,
        usage="client" if args.client else "server",
    )
    policy = revocation_policy(args)
    findings = report.findings if args.lint else None  # on the chain it built
    if args.json:
        doc = report_to_json(report, policy)
        if findings is not None:
            doc["lint"] = [_finding_json(f) for f in findings]
        print(json.dumps(doc, indent=2))
    else:
        render(report, args.host, policy)
        if findings is not None:
            render_lint(findings)
        if report.error is not None and report.error.reason.value == "unknown_issuer":
            print(UNKNOWN_ISSUER_HINT)
    return 0 if report.valid else 1


def with_flag_hint(text: str, flag: str = "--cafile FILE") -> str:
    """A library message in the command's terms: where it says to add a certificate to
    the trust anchors, the flag that does that."""
    return text.replace(TO_TRUST_ANCHORS, f"{TO_TRUST_ANCHORS} ({flag})", 1)


UNKNOWN_ISSUER_HINT = ("hint: --cafile FILE trusts the issuing CA; --chain FILE adds an "
                       "intermediate certificate missing from CERT")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def leaf_first(certs: list[x509.Certificate], path: str) -> list[x509.Certificate]:
    """A bundle whose one end-entity certificate is not first (CA certificates first, as
    some downloads and hand-made bundles have it) validates that certificate, with a note
    on stderr; otherwise the file's order stands (the first certificate is the leaf)."""
    if not _is_ca(certs[0]):
        return certs
    leaves = [i for i, cert in enumerate(certs) if not _is_ca(cert)]
    if len(leaves) != 1:
        return certs
    i = leaves[0]
    name = certs[i].subject.rfc4514_string() or "(empty subject)"
    print(f"tlskit verify: note: {path}: the end-entity certificate ({name}) is number "
          f"{i + 1}, not the first; validating it, the others as intermediates",
          file=sys.stderr)
    return [certs[i], *certs[:i], *certs[i + 1:]]


def revocation_policy(args: argparse.Namespace) -> str:
    """What was asked of revocation, in the words the output uses."""
    if args.ocsp:
        return "hard-fail, online: OCSP then CRL distribution points" + (
            ", and the given CRLs" if args.crl else "")
    if args.crl:
        return "soft-fail, the given CRLs only"
    return NOT_CHECKED


def _store(cafile: str | None) -> TrustStore:
    """The trust anchors: the system's, or those of --cafile: a PEM bundle or a DER file
    (as CERT may be), or a directory of them (like openssl's -CApath)."""
    if not cafile:
        return TrustStore.default()
    return TrustStore(load_anchors(cafile))


def load_anchors(cafile: str, what: str = "--cafile") -> list[x509.Certificate]:
    """The certificates of a --cafile (or serve's --client-ca, named by ``what``): a PEM
    bundle, a DER file, or a directory of them (key files in it passed over). InputError
    says what is wrong."""
    path = Path(cafile).expanduser()
    if not path.is_dir():
        return load_certificates(path, what)
    certs = [cert for entry in sorted(path.iterdir()) if entry.is_file()
             and entry.suffix.lower() in CA_SUFFIXES
             and "PRIVATE KEY" not in " ".join(pem_labels(_read(entry, what)))
             for cert in load_certificates(entry, what)]
    if not certs:
        raise InputError(f"{what} {cafile} is a directory without certificate files "
                         f"({', '.join(CA_SUFFIXES)}); give a CA file or such a directory")
    return certs


CA_SUFFIXES = (".pem", ".crt", ".cer", ".der")


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise InputError(f"--at {text!r} is not an ISO 8601 time; "
                         "write e.g. 2026-01-31T12:00:00Z") from None


def _verifier(store: TrustStore, args: argparse.Namespace) -> Verifier:
    """--ocsp: hard-fail with online checks; --crl alone: soft-fail against the given CRLs."""
    crls = [crl for path in args.crl for crl in load_crls(Path(path), "--crl")]
    if args.ocsp:
        return Verifier(store, revocation="hard-fail", crls=crls)
    if crls:
        return Verifier(store, revocation="soft-fail", crls=crls, fetch_crls=False, ocsp=False)
    return Verifier(store)


# -- input -------------------------------------------------------------------------------


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


def load_certificates(path: Path, what: str = "certificate file") -> list[x509.Certificate]:
    """Every certificate in a PEM file, or the one in a DER file."""
    data = _read(path, what)
    blocks = pem_labels(data)
    if blocks and "CERTIFICATE" not in blocks:
        raise InputError(f"{what} {path} holds no certificate, only PEM "
                         f"{', '.join(dict.fromkeys(blocks))}; give a certificate file "
                         "(BEGIN CERTIFICATE), e.g. one written by `tlskit ca issue`")
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except (ValueError, x509.InvalidVersion) as exc:  # the latter: a version not 1 to 3
        raise InputError(f"{what} {path} is not a PEM or DER certificate "
                         f"({describe_parse_error(exc)}); "
                         "give a certificate file, e.g. one written by `tlskit ca issue`"
                         ) from exc
    if not certs:
        raise InputError(f"no certificate in {what} {path}")
    return certs


def load_crls(path: Path, what: str = "CRL file") -> list[x509.CertificateRevocationList]:
    """One or more PEM CRLs, or a single DER CRL."""
    data = _read(path, what)
    try:
        if b"-----BEGIN" not in data:
            return [x509.load_der_x509_crl(data)]
        end = b"-----END X509 CRL-----"
        blocks = [b + end for b in data.split(end) if b"-----BEGIN X509 CRL-----" in b]
        if not blocks:
            raise ValueError("no X509 CRL block")
        return [x509.load_pem_x509_crl(block[block.index(b"-----BEGIN"):]) for block in blocks]
    except (ValueError, x509.InvalidVersion) as exc:  # the latter: a version not 1 or 2
        raise InputError(f"{what} {path} is not a PEM or DER CRL "
                         f"({describe_parse_error(exc)}); "
                         "give a CRL file, e.g. one written by `tlskit ca crl`") from exc


def parse_time(text: str) -> datetime:
    """ISO 8601; a trailing Z and a missing zone both mean UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# -- output ------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _is_anchor(report: Report, cert: x509.Certificate) -> bool:
    return any(c.check == "trust anchor" and c.ok for c in report.checks_for(cert))


def revocation_status(report: Report, cert: x509.Certificate, policy: str) -> str:
    """One word (or two) for a certificate's revocation: good, revoked, unknown, not checked,
    or n/a for a trust anchor (nobody above it could revoke it)."""
    if _is_anchor(report, cert):
        return "n/a (trust anchor)"
    rows = [c for c in report.checks_for(cert) if c.check == "revocation"]
    if not rows:
        if policy == NOT_CHECKED:
            return NOT_CHECKED
        return f"{NOT_CHECKED} (validation stopped before it)"
    row = rows[-1]
    error = report.error
    if not row.ok:
        if error is not None and error.certificate == cert:
            return "revoked" if error.reason.value == "revoked" else "unknown"
        return "unknown"
    word = row.detail.split(" ", 1)[0].strip(":,()").lower()
    if word in ("good", "revoked", "unknown"):
        return word
    return NOT_CHECKED if row.detail.startswith(NOT_CHECKED) else "checked"


def _cert_json(report: Report, cert: x509.Certificate, policy: str) -> dict[str, Any]:
    checks = report.checks_for(cert)
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:x}",
        "not_before": _iso(cert.not_valid_before_utc),
        "not_after": _iso(cert.not_valid_after_utc),
        "revocation": revocation_status(report, cert, policy),
        "must_staple": shows_must_staple(cert),
        "checks": [{"check": c.check, "ok": c.ok, "detail": c.detail} for c in checks],
    }


def report_to_json(report: Report, policy: str = NOT_CHECKED) -> dict[str, Any]:
    """``revocation`` says what was asked (``not checked`` without --crl/--ocsp); each
    certificate's ``revocation`` says what was found."""
    return {
        "valid": report.valid,
        "reason": report.error.reason.value if report.error else None,
        "message": str(report.error) if report.error else None,
        "revocation": policy,
        "chain": [_cert_json(report, cert, policy) for cert in report.chain],
    }


def _revocation_summary(report: Report, policy: str) -> str:
    """"not revoked" only when every certificate below the anchor was found good."""
    below = [c for c in report.chain if not _is_anchor(report, c)]
    found = {c: revocation_status(report, c, policy) for c in below}
    if all(status == "good" for status in found.values()):
        return f"not revoked (checked {policy})"
    each = ", ".join(f"{_short_name(c)}: {status}" for c, status in found.items())
    return f"revocation checked {policy}: {each}"


def _short_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string() or "(empty subject)"


def _finding_json(finding: Finding) -> dict[str, str]:
    return {"rule": finding.rule, "role": finding.role, "message": finding.message,
            "certificate": finding.certificate.subject.rfc4514_string()}


def render_lint(findings: list[Finding]) -> None:
    """The CA/B profile findings, one warning line each."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(file=sys.stdout, highlight=False,
                      width=None if sys.stdout.isatty() else 240)
    if not findings:
        console.print("[green]✔ lint:[/] no departure from the CA/B Forum profile")
        return
    console.print(f"[yellow]⚠ lint:[/] {len(findings)} departure(s) from the CA/B Forum "
                  "issuance profile (not enforced when validating):")
    for f in findings:
        console.print(f"  [yellow]⚠[/] [bold]{f.rule}[/]: {escape(f.message)}")


def render(report: Report, host: str | None, policy: str = NOT_CHECKED) -> None:
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
            child.add(f"{mark} {escape(check.check)}: {escape(with_flag_hint(check.detail))}")
        if policy == NOT_CHECKED and not _is_anchor(report, cert):
            child.add(f"[yellow]?[/] revocation: {NOT_CHECKED} ({HOW_TO_CHECK})")
        if shows_must_staple(cert):
            child.add("[cyan]![/] must-staple (RFC 7633): its server must staple an OCSP "
                      "response; Firefox refuses it without one")
        node = child
    if tree is not None:
        console.print(tree)
    if report.error is None:
        target = f" for {escape(host)}" if host else ""
        if policy == NOT_CHECKED:
            console.print(f"[bold green]✔ valid[/]{target}, [bold yellow]revocation "
                          f"{NOT_CHECKED}[/] ({HOW_TO_CHECK})")
        else:
            console.print(f"[bold green]✔ valid[/]{target}, "
                          f"{escape(_revocation_summary(report, policy))}")
    else:
        console.print(f"[bold red]✘ invalid ({report.error.reason.value})[/]: "
                      f"{escape(with_flag_hint(str(report.error)))}")
