"""Entry point: `tlskit <command>`. Each command lives in its own module with
``add_arguments(parser)`` and ``run(args) -> int``. Only the module of the command being
run is imported (and none for `tlskit --help` or `--version`), so a command's dependencies
cost nothing to the others and help stays instant.

Conventions shared by every command (see `tlskit.cli.conventions`): exit status 0 ok,
1 verification or handshake failure, 2 usage; errors are one line on stderr, and under
``--json`` also a JSON error object on stdout; an examples section in every ``--help``.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
import textwrap
import warnings
from typing import NoReturn

from . import options
from .conventions import (
    EXIT_CODES_HELP,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    report_error,
)

COMMANDS = {
    "demo": "walk through a real handshake on loopback, step by step",
    "connect": "connect to a TLS server and show the handshake",
    "serve": "run a TLS server that shows each visitor its own handshake",
    "verify": "validate a certificate chain and explain every check",
    "ca": "a small local certificate authority",
}

def _module_name(args: argparse.Namespace) -> str:
    """The module that runs the parsed command: `demo --classic` is a story of its own."""
    if args._command == "demo" and getattr(args, "classic", False):
        return "classic"
    return str(args._command)


# Examples shown at the end of each --help, keyed by the command path.
EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "": [("tlskit demo", "watch a real handshake on loopback, explained step by step"),
         ("tlskit connect example.com", "connect, verify and summarise"),
         ("tlskit serve", "serve the 'your handshake' page on https://127.0.0.1:8443/"),
         ("tlskit COMMAND --help", "the options and examples of one command")],
    "demo": [("tlskit demo", "explain both sessions, long values shortened"),
             ("tlskit demo --full", "the same with every value in full"),
             ("tlskit demo --json > demo.json", "everything as one JSON object"),
             ("tlskit demo --diagram handshake.svg", "also draw the first handshake"),
             ("tlskit demo --classic", "RSA key transport, decrypted after the fact with "
              "the server's key; ECDHE beside it")],
    "connect": [("tlskit connect example.com", "TLS 1.3 or 1.2 to port 443, verified against "
                 "the system store"),
                ("tlskit connect localhost:8443 --cafile root.pem --trace",
                 "trust a local root; show every handshake message"),
                ("tlskit connect example.com --json | jq .cipher_suite",
                 "JSON (also on failure: an object with an 'error' key)"),
                ("tlskit connect example.com --groups X25519MLKEM768 --tls1.3",
                 "force the post-quantum hybrid group"),
                ("tlskit connect device.local:5684 --pin-key server-pub.pem",
                 "RFC 7250: the server is authenticated by this raw public key alone, "
                 "no certificate"),
                ("tlskit connect mail.example:587 --starttls smtp",
                 "EHLO and STARTTLS first, as openssl s_client -starttls (also imap, pop3, "
                 "ftp, postgres, xmpp)")],
    "serve": [("tlskit serve", "https://127.0.0.1:8443/ with a certificate from the local CA"),
              ("tlskit serve --port 0 --cert site.pem --key site-key.pem",
               "any free port (printed on the first line), your certificate"),
              ("curl --cacert root.pem https://localhost:8443/json",
               "the page's data as JSON (root.pem: from tlskit ca export-root)"),
              ("tlskit serve --echo --alpn ''", "echo bytes back instead of HTTP"),
              ("tlskit serve --port 2525 --starttls smtp",
               "an SMTP greeting and STARTTLS before the handshake, for openssl s_client "
               "-starttls smtp, smtplib and other mail clients"),
              ("tlskit serve --client-ca root.pem --client-auth optional",
               "ask for a client certificate; let clients without one in"),
              ("tlskit serve --ech public.example --ech-config-list-out ech.bin",
               "Encrypted Client Hello, its key kept across runs; connect "
               "--ech-config-list ech.bin"),
              ("tlskit serve --echo --key key.pem --raw-key --pin-client-key device-pub.pem",
               "RFC 7250 raw public keys both ways, no certificate; connect --pin-key "
               "key.pem --raw-key device-key.pem")],
    "verify": [("tlskit verify site.pem --host example.com", "validate against the system "
                "store and explain every check"),
               ("tlskit verify leaf.pem --chain inter.pem --cafile root.pem --json",
                "a private PKI, as JSON"),
               ("tlskit verify leaf.pem --at 2030-01-01T00:00:00Z", "as of another date")],
    "ca": [("tlskit ca init", "create a root and an intermediate in the state directory"),
           ("tlskit ca issue localhost 127.0.0.1", "a server certificate (localhost.pem)"),
           ("tlskit ca install --dry-run", "show how the root would be trusted locally"),
           ("tlskit ca export-root > root.pem", "the root, for other trust stores")],
    "ca init": [("tlskit ca init", "in the default state directory"),
                ("tlskit ca init --dir ./myca --key-type rsa2048", "elsewhere, RSA keys")],
    "ca issue": [("tlskit ca issue localhost 127.0.0.1 ::1", "one certificate, three names"),
                 ("tlskit ca issue alice --client --out certs/", "a client certificate"),
                 ("tlskit ca issue example.test --days 7 --ocsp-url http://127.0.0.1:8888/",
                  "short-lived, with an OCSP responder")],
    "ca revoke": [("tlskit ca revoke localhost.pem", "revoke by certificate file"),
                  ("tlskit ca revoke 0x1f --reason superseded", "by serial number")],
    "ca crl": [("tlskit ca crl --out ca.crl", "write a fresh CRL"),
               ("tlskit ca crl | openssl crl -noout -text", "inspect it")],
    "ca ocsp": [("tlskit ca ocsp --port 8888", "answer OCSP requests until Ctrl-C")],
    "ca export-root": [("tlskit ca export-root > root.pem", "the root certificate (PEM)"),
                       ("curl --cacert root.pem https://localhost:8443/",
                        "then trust it where needed")],
    "ca install": [("tlskit ca install --dry-run", "what would change, changing nothing"),
                   ("tlskit ca install", "trust the root in the system store and in "
                    "Chromium's and Firefox's NSS databases"),
                   ("tlskit ca install --nssdb ~/.pki/nssdb --no-system",
                    "only one NSS database")],
    "ca uninstall": [("tlskit ca uninstall --dry-run", "what would be removed"),
                     ("tlskit ca uninstall", "remove the root from every store it was "
                      "added to")],
}


class UsageError(Exception):
    """A command line argparse could not make sense of (exit status 2)."""

    def __init__(self, prog: str, message: str, usage: str) -> None:
        super().__init__(message)
        self.prog = prog
        self.usage = usage


class Formatter(argparse.HelpFormatter):
    """Descriptions wrapped to the terminal (COLUMNS), the examples epilog kept as laid out."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """argparse with our conventions: examples and exit codes in every help, and usage
    errors raised (so ``--json`` callers get a JSON error object too)."""

    def __init__(self, *args: object, examples_key: str | None = None,
                 **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        if examples_key is not None:
            kwargs.setdefault("epilog", epilog(examples_key))
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message, self.format_usage())


def epilog(key: str) -> str:
    """The examples section for the command ``key`` (its parent's when it has none)."""
    while key not in EXAMPLES:
        key = key.rpartition(" ")[0]
    rows = EXAMPLES[key]
    lines = ["examples:"]
    for command, what in rows:
        lines.append(f"  {command}")
        lines.append(textwrap.fill(what, 78, initial_indent=" " * 6,
                                   subsequent_indent=" " * 6))
    return "\n".join(lines) + "\n\n" + textwrap.fill(EXIT_CODES_HELP, 78)


def _version() -> str:
    from .. import __version__
    return f"tlskit {__version__}"


def _command_in(argv: list[str]) -> str | None:
    """The command named in ``argv`` (the first word that is not an option)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def _add_examples(parser: argparse.ArgumentParser, key: str) -> None:
    """Give every nested subcommand parser (``ca issue`` ...) its examples and usage errors."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                child_key = f"{key} {name}"
                child.formatter_class = Formatter
                if not child.epilog:
                    child.epilog = epilog(child_key)
                child.__class__ = Parser  # usage errors raise, like the top level's
                _add_examples(child, child_key)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the command named in ``argv`` gets its module imported and its
    options added (all of them when ``argv`` is None, e.g. for documentation)."""
    parser = Parser(prog="tlskit", description="TLS 1.3 and 1.2 that show their work.",
                    examples_key="")
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    wanted = None if argv is None else _command_in(argv)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, examples_key=name)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks on errors")
        if argv is not None and name != wanted:
            continue
        light = getattr(options, f"{name}_arguments", None)
        if light is not None:  # options known without importing the command
            light(p)
            p.set_defaults(_command=name)
        else:
            try:
                module = importlib.import_module(f"tlskit.cli.{name}")
            except ImportError as exc:  # a command whose optional dependency is missing
                if exc.name != f"tlskit.cli.{name}":
                    raise
                continue
            module.add_arguments(p)
            p.set_defaults(_command=name, _module=module)
        _add_examples(p, name)
    return parser


def _command_parser(parser: argparse.ArgumentParser,
                    argv: list[str]) -> argparse.ArgumentParser | None:
    """The parser of the deepest (sub)command named in ``argv`` (``tlskit ca issue``),
    or None when its first word names none."""
    found = None
    current = parser
    for word in (w for w in argv if not w.startswith("-")):
        subs = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or word not in subs[0].choices:
            break
        current = found = subs[0].choices[word]
    return found


def _is_usage_oserror(exc: BaseException) -> bool:
    """A file named on the command line that does not exist or is not a file."""
    return isinstance(exc, OSError) and exc.filename is not None and exc.errno in (
        errno.ENOENT, errno.EISDIR, errno.ENOTDIR)


def _quiet_cryptography_warnings() -> None:
    """cryptography's deprecation warnings (a certificate with serial number 0, as some
    roots in system bundles have) speak to the author of the code that parsed, and print
    a line of tlskit's source: noise to someone running a command, whose verifier report
    names such defects itself. ``--debug`` keeps them."""
    from cryptography.utils import CryptographyDeprecationWarning

    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)


def main(argv: list[str] | None = None) -> int:
    """Run one command; Ctrl-C at any moment (while a command's module is still being
    imported, too) ends it with exit status 130 and no traceback."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        usage, prog, command = exc.usage, exc.prog, _command_in(argv)
        if prog == "tlskit" and command in COMMANDS and str(exc).startswith("unrecognized"):
            # argparse reports these at the top level: show the command's usage instead
            # (where the options it does take are), as its other errors do
            found = _command_parser(parser, argv)
            prog = found.prog if found is not None else f"tlskit {command}"
            usage = found.format_usage() if found is not None else usage
        sys.stderr.write(usage)
        return report_error(None, f"{prog}: error", exc, EXIT_USAGE, argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    prog = f"tlskit {args.command}"
    try:
        module = getattr(args, "_module", None) or importlib.import_module(
            f"tlskit.cli.{_module_name(args)}")  # imported only now that the options parsed
        if not getattr(args, "debug", False):
            _quiet_cryptography_warnings()
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except UsageError as exc:  # a nested parser used after parse_args (rare)
        return report_error(args, f"{exc.prog}: error", exc, EXIT_USAGE)
    except Exception as exc:  # the one place that turns any failure into one clear line
        if getattr(args, "debug", False):
            raise
        code = getattr(exc, "exit_code", None)  # a command's own classification
        if not isinstance(code, int):
            code = EXIT_USAGE if _is_usage_oserror(exc) else EXIT_FAILURE
        return report_error(args, f"{prog}: error", exc, code)


if __name__ == "__main__":
    sys.exit(main())
