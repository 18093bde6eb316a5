"""`tlskit ca`: a small local certificate authority (see `tlskit.ca`).

Every subcommand works on one CA directory: ``--dir`` or, without it, the user's default
CA (``$TLSKIT_STATE_DIR``/``$XDG_STATE_HOME``/``~/.local/state`` + ``/tlskit/ca``). Only
``init`` and ``issue`` create the default CA; the others need one to exist, since an empty
CRL or an OCSP responder for a CA nobody trusts is never what was meant.

Failures are raised as exceptions: the dispatcher turns them into one line on stderr.
Exit status: 0 done; 1 refused or failed (e.g. ``issue`` would overwrite an existing
certificate or key file and ``--force`` was not given, or ``init`` would replace a CA); 2 a
usage error on the command line.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import urllib.parse
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ..ca import (
    DEFAULT_URL,
    INTERMEDIATE_CRL_PATH,
    ROOT_CRL_PATH,
    CAError,
    KeyType,
    LocalCA,
    default_directory,
    format_serial,
)
from . import options
from .conventions import EXIT_USAGE, listen_error, write_line

KEY_TYPES = [k.value for k in KeyType]


class CAUsageError(CAError):
    """Options that cannot go together: exit status 2, as other usage errors."""

    exit_code = EXIT_USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="ca_command", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("init", help="create a root and an intermediate")
    _dir_option(p)
    p.add_argument("--key-type", default="ec256", choices=KEY_TYPES, help="default: ec256")
    p.add_argument("--force", action="store_true", help="replace an existing CA")
    _url_options(p)
    p.set_defaults(_ca_run=_init)

    p = sub.add_parser("issue", help="issue a server (or client) certificate")
    p.add_argument("names", nargs="+", metavar="NAME", help="host name, IP address or user")
    p.add_argument("--client", action="store_true", help="a clientAuth certificate for NAME")
    p.add_argument("--key-type", default="ec256", choices=KEY_TYPES, help="default: ec256")
    p.add_argument("--days", type=options.positive_days, default=30,
                   help="validity in days (default: 30)")
    p.add_argument("--out", metavar="DIR", help="where to write the files (default: .)")
    p.add_argument("--ocsp-url", metavar="URL",
                   help="OCSP responder URL to put in the cert (default: the CA's URL; "
                        "'' for none)")
    p.add_argument("--crl-url", metavar="URL",
                   help="CRL distribution point to put in the cert (default: the CA's "
                        "URL + /crl/intermediate.crl; '' for none)")
    p.add_argument("--must-staple", action="store_true",
                   help="add OCSP Must-Staple (RFC 7633 TLS Feature): Firefox refuses the "
                        "server unless it staples a valid OCSP response (tlskit serve "
                        "--ocsp-response FILE)")
    p.add_argument("--force", action="store_true",
                   help="overwrite NAME.pem / NAME-key.pem if they already exist")
    _dir_option(p)
    p.set_defaults(_ca_run=_issue)

    p = sub.add_parser("revoke", help="revoke a certificate by serial number or file")
    p.add_argument(
        "target",
        metavar="SERIAL_OR_CERTFILE",
        help="a PEM/DER certificate file, or a serial: 0x<hex>, AA:BB:.. or decimal",
    )
    p.add_argument("--reason", default="keyCompromise", help="default: keyCompromise")
    _dir_option(p)
    p.set_defaults(_ca_run=_revoke)

    p = sub.add_parser("crl", help="write a signed CRL (PEM)")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("--root", action="store_true",
                   help="the root's CRL (about the intermediate) instead of the "
                        "intermediate's (about the leaves)")
    p.add_argument("--days", type=options.positive_days, default=7,
                   help="until nextUpdate (default: 7)")
    _dir_option(p)
    p.set_defaults(_ca_run=_crl)

    p = sub.add_parser("ocsp", help="run the OCSP responder and CRL server until Ctrl-C")
    p.add_argument("--host", help="default: the host of the CA's URL (the address its "
                                   "certificates send relying parties to), else 127.0.0.1")
    p.add_argument("--port", type=options.port_number,
                   help="default: the port of the CA's URL, else 8888 (0: any free port)")
    _dir_option(p)
    p.set_defaults(_ca_run=_ocsp)

    p = sub.add_parser("export-root", help="print the root certificate (PEM) for trust stores")
    _dir_option(p)
    p.set_defaults(_ca_run=_export_root)

    from .trust_install import add_parsers as add_install_parsers
    add_install_parsers(sub, _dir_option)  # `ca install` / `ca uninstall`


def _url_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--url", metavar="URL", default=DEFAULT_URL,
                       help="where `tlskit ca ocsp` will answer: the intermediate and the "
                            "leaves name it as OCSP responder and CRL distribution point "
                            f"(default: {DEFAULT_URL}, the responder's default address)")
    group.add_argument("--no-url", dest="url", action="store_const", const=None,
                       help="put no revocation URLs in the certificates")


def run(args: argparse.Namespace) -> int:
    try:
        return int(args._ca_run(args))
    except OSError as exc:
        if exc.filename is None:
            raise
        raise CAError(f"cannot use {exc.filename}: {exc.strerror or exc}; check the path "
                      "and its permissions") from exc


def _dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", metavar="DIR", help="CA directory (default: the state dir)")


def _ca_dir(args: argparse.Namespace) -> Path:
    return Path(args.dir).expanduser() if args.dir else default_directory()


def _open(args: argparse.Namespace) -> LocalCA:
    """The CA named by --dir, or the default one, which must already exist."""
    return LocalCA.load(_ca_dir(args))


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def file_stem(name: str) -> str:
    """A safe file name for a certificate name: ``*.example.com`` -> ``_wildcard.example.com``
    (the `*` would be a shell glob), and ``::1`` -> ``__1``."""
    stem = name.replace("*", "_wildcard")
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", stem).lstrip(".") or "cert"


def parse_serial(text: str) -> int:
    """``0x1f``, ``1F:2A`` (openssl's form) or hex with letters; bare digits are decimal."""
    raw = text.strip().lower()
    try:
        if raw.startswith("0x"):
            return int(raw[2:], 16)
        if ":" in raw:
            return int(raw.replace(":", ""), 16)
        if raw.isdigit():
            return int(raw, 10)
        return int(raw, 16)
    except ValueError:
        raise CAError(f"{text!r} is neither a certificate file nor a serial number") from None


def _revocation_target(text: str) -> int | x509.Certificate:
    """``revoke``'s argument: a certificate file (read as `tlskit verify` reads one: a
    key file given by mistake is named as such), else a serial number; a missing file
    or a directory is said to be one, not called a bad serial."""
    path = Path(text).expanduser()
    if path.is_file():
        from .verify import load_certificates

        return load_certificates(path, "SERIAL_OR_CERTFILE")[0]  # the first one: the leaf
    if path.is_dir():
        raise CAError(f"{text} is a directory; give a certificate file or a serial number")
    if os.sep in text or path.suffix.lower() in (".pem", ".crt", ".cer", ".der"):
        raise CAError(f"{text}: no such file; give a certificate file or a serial number")
    return parse_serial(text)


# --------------------------------------------------------------------------- subcommands


def _init(args: argparse.Namespace) -> int:
    directory = _ca_dir(args)
    if (directory / "root.pem").exists() and not args.force:
        raise CAError(
            f"a CA already exists in {directory}; --force replaces it "
            "(every certificate it issued stops validating)"
        )
    ca = LocalCA.create(directory, key_type=args.key_type, overwrite=args.force, url=args.url)
    dir_hint = f" --dir {args.dir}" if args.dir else ""
    print(f"Created a local CA in {directory}")
    print(f"  root:          {directory / 'root.pem'}  ({_common_name(ca.root)})")
    print(f"  intermediate:  {directory / 'intermediate.pem'}  ({_common_name(ca.intermediate)})")
    print(f"  root SHA-256:  {_fingerprint(ca.root)}")
    if ca.url:
        print(f"  revocation:    OCSP and CRLs at {ca.url} (run `tlskit ca ocsp{dir_hint}`)")
    print(f"Trust it with:   tlskit ca export-root{dir_hint} > tlskit-root.pem")
    return 0


def _issue(args: argparse.Namespace) -> int:
    out = Path(args.out).expanduser() if args.out else Path()
    stem = file_stem(args.names[0])
    cert_path, key_path = out / f"{stem}.pem", out / f"{stem}-key.pem"
    if not args.force:
        _refuse_overwrite(cert_path, key_path)
    out.mkdir(parents=True, exist_ok=True)  # fail before issuing, not after
    if args.dir:
        ca = LocalCA.load(args.dir)
    else:
        fresh = not (default_directory() / "root.pem").exists()
        ca = LocalCA.default(url=DEFAULT_URL)
        if fresh:
            print(f"Created a local CA in {ca.directory}; trust its root with:")
            print("  tlskit ca export-root > tlskit-root.pem")
    options = {
        "key_type": args.key_type,
        "days": args.days,
        "ocsp_url": args.ocsp_url,
        "crl_url": args.crl_url,
    }
    if args.client:
        if len(args.names) != 1:
            raise CAError("--client takes exactly one NAME")
        if args.must_staple:
            raise CAUsageError("--must-staple is for server certificates (servers staple "
                               "OCSP responses), not with --client")
        issued = ca.issue_client(args.names[0], **options)
    else:
        if args.must_staple and not (ca.url if args.ocsp_url is None else args.ocsp_url):
            # RFC 7633: the server fetches its staples from the leaf's OCSP responder
            where = "--ocsp-url ''" if args.ocsp_url == "" else \
                f"the CA in {ca.directory} (made with --no-url)"
            raise CAUsageError(
                f"--must-staple needs an OCSP responder URL in the certificate, where its "
                f"server fetches staples, and {where} gives none: add --ocsp-url URL "
                f"(e.g. {DEFAULT_URL}, where tlskit ca ocsp answers)")
        issued = ca.issue_server(args.names, must_staple=args.must_staple, **options)
    issued.write(cert_path=cert_path, key_path=key_path)
    kind = "client" if args.client else "server"
    print(f"Issued a {kind} certificate for {', '.join(args.names)}")
    print(f"  serial:       {format_serial(issued.serial_number)}")
    print(f"  certificate:  {cert_path}  (leaf + intermediate)")
    print(f"  key:          {key_path}")
    print(f"  expires:      {issued.certificate.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC")
    if args.must_staple:
        print("  must-staple:  yes (serve it with a stapled OCSP response: tlskit serve "
              "--ocsp-response FILE)")
    return 0


def _refuse_overwrite(*paths: Path) -> None:
    """Checked before anything is issued, so a refusal leaves no orphan in the index."""
    taken = [str(p) for p in paths if p.exists()]
    if taken:
        raise CAError(
            f"{' and '.join(taken)} already exist{'s' if len(taken) == 1 else ''}; "
            "pass --force to overwrite, or choose another directory with --out"
        )


def _revoke(args: argparse.Namespace) -> int:
    ca = _open(args)
    target = _revocation_target(args.target)
    serial = target.serial_number if isinstance(target, x509.Certificate) else target
    was_revoked = ca.status(serial) == "revoked"
    revocation = ca.revoke(target, args.reason)
    when = f"{revocation.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
    if was_revoked:
        print(
            f"Serial {format_serial(serial)} was already revoked at {when} "
            f"({revocation.reason.value})"
        )
    else:
        print(f"Revoked serial {format_serial(serial)} ({revocation.reason.value}) at {when}")
    return 0


def _crl(args: argparse.Namespace) -> int:
    ca = _open(args)
    crl = ca.root_crl(days=args.days) if args.root else ca.crl(days=args.days)
    pem = crl.public_bytes(serialization.Encoding.PEM)
    if not args.out:
        sys.stdout.write(pem.decode("ascii"))
        return 0
    out = Path(args.out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pem)
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    print(
        f"Wrote CRL #{number} ({len(crl)} revoked) to {out}, next update "
        f"{crl.next_update_utc:%Y-%m-%d %H:%M:%S} UTC"
    )
    return 0


def _ocsp(args: argparse.Namespace) -> int:
    ca = _open(args)
    host, port, from_url = _listen_address(args, ca.url)
    try:
        responder = ca.serve_ocsp(host, port, log=log_line)
    except OSError as exc:
        where = f" (taken from this CA's URL {ca.url}; --host and --port choose another)" \
            if from_url else ""
        raise CAError(listen_error(host, port, exc) + where) from exc
    try:
        _announce(ca, responder.url)
        wait_for_interrupt()
    except KeyboardInterrupt:
        write_line("Stopped.")  # (stdout may be a pipe nobody reads any more)
    finally:
        responder.close()
    return 0


def _announce(ca: LocalCA, url: str) -> None:
    """The startup lines in one write: a Ctrl-C while they are printed (an unbuffered
    stdout, ``python -u``, wrote each print's text and newline apart) then stops the
    responder before or after them, never between a line and its newline."""
    lines = [f"OCSP responder for {_common_name(ca.intermediate)} and "
             f"{_common_name(ca.root)} at {url}",
             f"CRLs at {url}{INTERMEDIATE_CRL_PATH} and {url}{ROOT_CRL_PATH}"]
    if ca.url is None:
        lines.append("This CA's certificates name no responder; new ones can with: "
                     f"tlskit ca issue NAME --ocsp-url {url}")
    elif ca.url != url:
        lines.append(f"Note: this CA's certificates point at {ca.url}, not at this address")
    lines.append("Ctrl-C to stop.")
    write_line("\n".join(lines))


def log_line(line: str) -> None:
    """One responder log line, written whole (the responder's threads log concurrently),
    and quietly nowhere once nobody reads stdout: the responder goes on answering."""
    write_line(line)


def _listen_address(args: argparse.Namespace, url: str | None) -> tuple[str, int, bool]:
    """--host and --port, else where the CA's certificates send relying parties (a CA
    made with ``--url http://127.0.0.1:18888`` answers there), else 127.0.0.1:8888; and
    whether the CA's URL chose any of it."""
    where = urllib.parse.urlsplit(url) if url else None
    if where is None:
        return args.host or "127.0.0.1", 8888 if args.port is None else args.port, False
    host = args.host or where.hostname or "127.0.0.1"
    port = (where.port or 80) if args.port is None else args.port
    return host, port, args.host is None or args.port is None


def wait_for_interrupt() -> None:
    """Block until Ctrl-C (KeyboardInterrupt); short waits keep the main thread able to
    take the signal on every platform. A seam for tests, which cannot press Ctrl-C."""
    stop = threading.Event()
    while not stop.wait(0.5):
        pass


def _export_root(args: argparse.Namespace) -> int:
    sys.stdout.write(_open(args).export_root_pem().decode("ascii"))
    return 0
